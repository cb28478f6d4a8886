//! The account pages as the service serves them, behind its middleware: the emailed links open them, so they must
//! answer as pages under their strict policy, and stay out of the API's document.

use reqwest::StatusCode;

use crate::helpers::*;

const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
    form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

#[tokio::test]
async fn given_an_emailed_link_when_it_is_opened_then_the_service_answers_its_page_under_a_strict_policy() {
    let Some(app) = spawn_app(Store::Sqlite).await else { return };
    for (path, heading) in [
        ("/reset-password?token=abc", "<h1>Choose a new password</h1>"),
        ("/verify-email?token=abc", "<h1>Confirm your email address</h1>"),
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], "text/html; charset=utf-8", "{path}");
        assert_eq!(headers["content-security-policy"], PAGE_POLICY, "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers.get_all("referrer-policy").iter().count(), 1, "{path}: one policy, not the app's too");
        assert!(response.text().await.unwrap().contains(heading), "{path}");
    }
}

#[tokio::test]
async fn the_pages_files_are_served_with_their_types_and_an_unknown_one_is_a_404_problem() {
    let Some(app) = spawn_app(Store::Sqlite).await else { return };
    for (path, content_type) in
        [("/pages/account.js", "text/javascript; charset=utf-8"), ("/pages/account.css", "text/css; charset=utf-8")]
    {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["content-type"], content_type, "{path}");
    }
    assert_problem(app.client.get(app.url("/pages/x")).send().await.unwrap(), StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn the_pages_are_not_api_operations() {
    let Some(app) = spawn_app(Store::Sqlite).await else { return };
    let (_, document) = status_and_json(app.client.get(app.url("/openapi.json")).send().await.unwrap()).await;
    let paths = document["paths"].as_object().expect("the document's paths");
    for page in ["/reset-password", "/verify-email", "/pages/account.js", "/pages/account.css"] {
        assert!(!paths.contains_key(page), "{page} is in the API's document");
    }
}

#[tokio::test]
async fn the_pages_name_the_configured_product_as_text() {
    let Some(app) = spawn_app_with(Store::Sqlite, |settings| settings.mail.product_name = "Ada's <Shop>".into()).await
    else {
        return;
    };
    let html = app.client.get(app.url("/verify-email?token=abc")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("<title>Confirm your email address · Ada&#39;s &lt;Shop&gt;</title>"), "{html}");
    assert!(html.contains(r#"<p class="product">Ada&#39;s &lt;Shop&gt;</p>"#), "{html}");
}
