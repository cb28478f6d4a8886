//! The two pages that finish the emailed flows in a browser, `/reset-password` and `/verify-email`, with their
//! script and style sheet (`/pages/account.js`, `/pages/account.css`), all built into the binary.
//!
//! They are not API operations, so they stay out of the route table and the OpenAPI document. Their links carry a
//! one-time token in the query string, so every answer here forbids caching and referrers; a strict
//! Content-Security-Policy lets the pages run only our own script, which talks only to our own API. The token is
//! spent only when the person submits (mail scanners open links), by the script, never on load.

use actix_web::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, HeaderValue, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use actix_web::{HttpResponse, web};
use users_domain::Password;

use crate::problem::Problem;

/// Only our own script, style sheet and API; no frames, forms or `<base>` pointing elsewhere.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
    form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const HTML: &str = "text/html; charset=utf-8";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// What the templates hold in place of values known only at startup.
const PRODUCT_NAME_SLOT: &str = "{{product_name}}";
const PASSWORD_MIN_CHARS_SLOT: &str = "{{password_min_chars}}";

/// Each page: its path and its template.
const PAGES: [(&str, &str); 2] = [
    ("/reset-password", include_str!("../pages/reset-password.html")),
    ("/verify-email", include_str!("../pages/verify-email.html")),
];

/// The files the pages load: their path, content type and text.
const ASSETS: [(&str, &str, &str); 2] = [
    ("/pages/account.js", JAVASCRIPT, include_str!("../pages/account.js")),
    ("/pages/account.css", CSS, include_str!("../pages/account.css")),
];

/// Registers the pages and their files, the pages naming `product_name` in their title and heading. Any other path
/// under `/pages/` is left to the app's 404.
pub(crate) fn configure(product_name: String) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        for (path, template) in PAGES {
            config.service(get_only(path, HTML, render(template, &product_name)));
        }
        for (path, content_type, text) in ASSETS {
            config.service(get_only(path, content_type, text));
        }
    }
}

/// A template with its placeholders filled: the product name escaped as HTML text, and the password rules the
/// service enforces, so that the hint and the browser's check cannot drift from them.
fn render(template: &str, product_name: &str) -> String {
    template
        .replace(PRODUCT_NAME_SLOT, &escape_html(product_name))
        .replace(PASSWORD_MIN_CHARS_SLOT, &Password::MIN_CHARS.to_string())
}

/// `text` safe to insert as HTML text or inside a quoted attribute.
fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// `GET path` answering `body` as `content_type`; any other method gets the API's 405.
fn get_only(path: &str, content_type: &'static str, body: impl Into<web::Bytes>) -> actix_web::Resource {
    let body = body.into();
    web::resource(path)
        .route(web::get().to(move || {
            let body = body.clone();
            async move { respond(content_type, body) }
        }))
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(Problem::method_not_allowed(HeaderValue::from_static("GET")))
        }))
}

fn respond(content_type: &'static str, body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((CONTENT_SECURITY_POLICY, PAGE_POLICY))
        // The address holds the token: no request from the page may carry it to anyone.
        .insert_header((REFERRER_POLICY, "no-referrer"))
        // A page with a token in its address, and the files that must match its version, are never kept.
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}

#[cfg(test)]
mod tests {
    use actix_web::App;
    use actix_web::dev::ServiceResponse;
    use actix_web::http::StatusCode;
    use actix_web::test::{TestRequest, call_service, init_service, read_body};

    use super::*;

    async fn get(path: &str) -> ServiceResponse {
        let app = init_service(App::new().configure(configure("Ada's <Shop> & Co".to_owned()))).await;
        call_service(&app, TestRequest::get().uri(path).to_request()).await
    }

    fn header<'a>(response: &'a ServiceResponse, name: &str) -> &'a str {
        response.headers().get(name).and_then(|value| value.to_str().ok()).unwrap_or_default()
    }

    #[actix_web::test]
    async fn given_a_link_when_its_page_is_opened_then_it_is_html_under_a_strict_policy_with_no_referrer() {
        for path in ["/reset-password?token=abc", "/verify-email?token=abc", "/reset-password"] {
            let response = get(path).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(header(&response, "content-type"), "text/html; charset=utf-8", "{path}");
            assert_eq!(header(&response, "content-security-policy"), PAGE_POLICY, "{path}");
            assert_eq!(header(&response, "referrer-policy"), "no-referrer", "{path}");
            assert_eq!(header(&response, "cache-control"), "no-store", "{path}");
            assert_eq!(header(&response, "x-content-type-options"), "nosniff", "{path}");
        }
    }

    #[actix_web::test]
    async fn the_script_and_the_style_sheet_are_served_with_their_types() {
        for (path, content_type) in [("/pages/account.js", JAVASCRIPT), ("/pages/account.css", CSS)] {
            let response = get(path).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(header(&response, "content-type"), content_type, "{path}");
            assert_eq!(header(&response, "x-content-type-options"), "nosniff", "{path}");
            assert!(!read_body(response).await.is_empty(), "{path}");
        }
    }

    #[actix_web::test]
    async fn an_unknown_file_under_pages_is_not_found() {
        for path in ["/pages/x", "/pages/", "/pages/account.js.map"] {
            assert_eq!(get(path).await.status(), StatusCode::NOT_FOUND, "{path}");
        }
    }

    #[actix_web::test]
    async fn another_method_on_a_page_is_refused_naming_get() {
        let app = init_service(App::new().configure(configure("users".to_owned()))).await;
        let response = call_service(&app, TestRequest::post().uri("/reset-password?token=abc").to_request()).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(header(&response, "allow"), "GET");
    }

    #[actix_web::test]
    async fn the_product_name_is_shown_as_text_never_as_markup() {
        let html = read_body(get("/verify-email").await).await;
        let html = std::str::from_utf8(&html).unwrap();
        assert!(html.contains("<title>Confirm your email address · Ada&#39;s &lt;Shop&gt; &amp; Co</title>"), "{html}");
        assert!(html.contains(r#"<p class="product">Ada&#39;s &lt;Shop&gt; &amp; Co</p>"#), "{html}");
        assert!(!html.contains("<Shop>"));
    }

    #[test]
    fn every_placeholder_is_filled_and_the_hint_states_the_services_minimum() {
        for (path, template) in PAGES {
            let html = render(template, "users");
            assert!(!html.contains("{{"), "{path} keeps a placeholder");
        }
        let reset = render(PAGES[0].1, "users");
        let minimum = Password::MIN_CHARS;
        assert!(reset.contains(&format!(r#"minlength="{minimum}""#)));
        assert!(reset.contains(&format!("At least {minimum} characters.")));
        assert!(reset.contains(r#"autocomplete="new-password""#));
    }

    #[test]
    fn the_pages_load_nothing_from_elsewhere_and_run_no_inline_script_or_style() {
        let texts = PAGES.iter().map(|(_, text)| *text).chain(ASSETS.iter().map(|(_, _, text)| *text));
        for text in texts {
            assert!(!text.contains("://"), "an absolute URL in:\n{text}");
        }
        for (path, html) in PAGES {
            assert!(!html.contains("<script>") && !html.contains("style="), "{path}: inline code the policy refuses");
            assert!(html.contains(r#"<script src="pages/account.js" defer></script>"#), "{path}");
            assert!(html.contains(r#"<link rel="stylesheet" href="pages/account.css">"#), "{path}");
        }
    }

    #[test]
    fn escaping_covers_every_character_that_can_leave_text_or_an_attribute() {
        assert_eq!(
            escape_html(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(escape_html("Café Ünïcode"), "Café Ünïcode");
    }
}
