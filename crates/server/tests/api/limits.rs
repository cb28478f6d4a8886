//! Per-address rate limits on `/auth/*`, and whose address a request is when proxies forward it.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// An app whose `/auth/*` allows each address `burst` requests at once, refilled at 6 a minute.
async fn limited_app(store: Store, burst: u32, trusted_proxies: &[&str]) -> Option<TestApp> {
    let proxies: Vec<String> = trusted_proxies.iter().map(|proxy| (*proxy).to_owned()).collect();
    spawn_app_with(store, move |settings| {
        settings.rate_limit.auth_per_minute = 6;
        settings.rate_limit.auth_burst = burst;
        settings.rate_limit.trusted_proxies = proxies;
    })
    .await
}

async fn login_from(app: &TestApp, forwarded_for: Option<&str>, email: &str, password: &str) -> reqwest::Response {
    let mut request = app.client.post(app.url("/auth/login")).json(&json!({ "email": email, "password": password }));
    if let Some(forwarded_for) = forwarded_for {
        request = request.header("x-forwarded-for", forwarded_for);
    }
    request.send().await.unwrap()
}

async fn assert_rate_limited(response: reqwest::Response) {
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry_after), "one request refills every 10 s: {retry_after}");
    let problem = assert_problem(response, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(problem["detail"].as_str().unwrap().contains("this address"), "{problem}");
}

async fn credential_stuffing_from_one_address_is_cut_off_while_the_rest_of_the_api_answers(store: Store) {
    let Some(app) = limited_app(store, 5, &[]).await else { return };
    let session = {
        let response = app.post("/auth/register", &json!({ "email": "ada@example.com", "password": PASSWORD })).await;
        let (status, body) = status_and_json(response).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Session::from_body(&body)
    };
    // Four guesses at four accounts spend the rest of the burst.
    for victim in 0..4 {
        let response = login_from(&app, None, &format!("victim{victim}@example.com"), "guess").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // Then even the right password is refused, before it is checked, and nothing is stored.
    let sessions_before = app.count("SELECT count(*) FROM sessions").await;
    assert_rate_limited(login_from(&app, None, "ada@example.com", PASSWORD).await).await;
    let refused = app.post("/auth/register", &json!({ "email": "eve@example.com", "password": PASSWORD })).await;
    assert_rate_limited(refused).await;
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, sessions_before);
    assert_eq!(app.count("SELECT count(*) FROM users WHERE email = 'eve@example.com'").await, 0);
    // Nor does spelling the path differently: the router decodes it, and so does the limit.
    let encoded =
        app.client.post(app.url("/%61uth/login")).json(&json!({ "email": "ada@example.com", "password": PASSWORD }));
    assert_rate_limited(encoded.send().await.unwrap()).await;
    // A forwarded-for header from an untrusted peer changes nothing.
    assert_rate_limited(login_from(&app, Some("203.0.113.77"), "ada@example.com", PASSWORD).await).await;

    // Only `/auth/*` is limited: the signed-in user and the probes are served as before.
    assert_eq!(app.get("/users/current", &session.access_token).await.status(), StatusCode::OK);
    assert_eq!(app.client.get(app.url("/health/live")).send().await.unwrap().status(), StatusCode::OK);
}
on_each_store!(credential_stuffing_from_one_address_is_cut_off_while_the_rest_of_the_api_answers);

async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget_and_cannot_forge_another(store: Store) {
    let Some(app) = limited_app(store, 2, &["127.0.0.1"]).await else { return };
    for _ in 0..2 {
        let response = login_from(&app, Some("203.0.113.1"), "nobody@example.com", "guess").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_rate_limited(login_from(&app, Some("203.0.113.1"), "nobody@example.com", "guess").await).await;
    // Writing another address to the left does not help: the proxy appended the real one on the right.
    let forged = login_from(&app, Some("198.51.100.200, 203.0.113.1"), "nobody@example.com", "guess").await;
    assert_rate_limited(forged).await;
    // Another client behind the same proxy is not held back.
    let other = login_from(&app, Some("203.0.113.2"), "nobody@example.com", "guess").await;
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
}
on_each_store!(behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget_and_cannot_forge_another);

async fn a_forwarded_entry_that_is_no_address_is_counted_on_its_own_never_as_the_proxy(store: Store) {
    let Some(app) = limited_app(store, 2, &["127.0.0.1"]).await else { return };
    for _ in 0..2 {
        let response = login_from(&app, Some("unknown"), "nobody@example.com", "guess").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_rate_limited(login_from(&app, Some("unknown"), "nobody@example.com", "guess").await).await;
    // The proxy's own budget is untouched by them.
    let own = login_from(&app, None, "nobody@example.com", "guess").await;
    assert_eq!(own.status(), StatusCode::UNAUTHORIZED);
    // An address the proxy wrote with a port is that address: with and without it, one budget.
    for forwarded in ["203.0.113.3:5678", "203.0.113.3:5679"] {
        let response = login_from(&app, Some(forwarded), "nobody@example.com", "guess").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_rate_limited(login_from(&app, Some("203.0.113.3"), "nobody@example.com", "guess").await).await;
}
on_each_store!(a_forwarded_entry_that_is_no_address_is_counted_on_its_own_never_as_the_proxy);
