//! What operators rely on: request ids, Prometheus metrics, and 500s that can be traced to their log lines.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

async fn every_response_carries_a_request_id_kept_from_the_client_when_sane(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let generated = app.client.get(app.url("/health/live")).send().await.unwrap();
    let first = generated.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(first.len(), 32);
    let again = app.client.get(app.url("/health/live")).send().await.unwrap();
    assert_ne!(again.headers()["x-request-id"].to_str().unwrap(), first, "one id per request");

    let kept = app.client.get(app.url("/health/live")).header("x-request-id", "trace-abc.123").send().await.unwrap();
    assert_eq!(kept.headers()["x-request-id"], "trace-abc.123");
    let refused = app.client.get(app.url("/health/live")).header("x-request-id", "x".repeat(200)).send().await.unwrap();
    assert_eq!(refused.headers()["x-request-id"].len(), 32, "an oversized id is replaced");

    // Errors too, including those raised before a handler runs.
    let unauthorized = app.client.get(app.url("/users/current")).send().await.unwrap();
    assert!(unauthorized.headers().contains_key("x-request-id"));
    let not_found = app.client.get(app.url("/nowhere")).send().await.unwrap();
    assert!(not_found.headers().contains_key("x-request-id"));
}
on_each_store!(every_response_carries_a_request_id_kept_from_the_client_when_sane);

async fn a_500_names_its_request_id_and_leaks_nothing(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let session = app.register_user("ada@example.com").await;
    // Break the store behind the service's back: rotation now fails on a real fault.
    app.execute("DROP TABLE refresh_tokens").await;

    let response = app.post("/auth/refresh", &json!({ "refresh_token": session.refresh_token })).await;
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let problem = assert_problem(response, StatusCode::INTERNAL_SERVER_ERROR).await;
    assert_eq!(problem["request_id"], request_id.as_str());
    let text = problem.to_string();
    assert!(!text.contains("refresh_tokens") && !text.contains("relation"), "no internals: {text}");
}
on_each_store!(a_500_names_its_request_id_and_leaks_nothing);

async fn metrics_count_requests_by_route_and_status_and_watch_logins_hashes_and_the_pool(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let session = app.register_user("ada@example.com").await;
    app.get("/users/current", &session.access_token).await;
    app.login("ada@example.com", PASSWORD).await;
    app.login("ada@example.com", "wrong password").await;

    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = response.text().await.unwrap();
    for expected in [
        r#"http_requests_total{method="GET",route="/users/current",status="200"}"#,
        r#"http_requests_total{method="POST",route="/auth/register",status="201"}"#,
        r#"http_request_duration_seconds_bucket{method="GET",route="/users/current",status="200",le="#,
        r#"logins_total{outcome="success"}"#,
        r#"logins_total{outcome="invalid_credentials"}"#,
        r#"password_hash_seconds_bucket{operation="hash","#,
        r#"password_hash_queue_seconds_bucket{operation="verify","#,
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
    let pool = match store {
        Store::Sqlite => r#"db_pool_connections{store="sqlite",pool="readers",state="in_use"}"#,
        Store::Postgres => r#"db_pool_connections{store="postgres",pool="shared",state="in_use"}"#,
    };
    assert!(text.contains(pool), "missing {pool} in:\n{text}");
    assert!(!text.contains(session.id()), "paths are labelled by route template, never by id");
}
on_each_store!(metrics_count_requests_by_route_and_status_and_watch_logins_hashes_and_the_pool);

async fn with_a_metrics_address_metrics_are_served_there_and_the_api_port_does_not_offer_them(store: Store) {
    let Some(app) =
        spawn_app_with(store, |settings| settings.server.metrics_address = Some("127.0.0.1:0".into())).await
    else {
        return;
    };
    let metrics = format!("http://127.0.0.1:{}", app.metrics_port.expect("a metrics listener"));
    assert_eq!(app.client.get(app.url("/health/live")).send().await.unwrap().status(), StatusCode::OK);

    let response = app.client.get(format!("{metrics}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = response.text().await.unwrap();
    assert!(text.contains(r#"http_requests_total{method="GET",route="/health/live",status="200"}"#), "{text}");

    assert_problem(app.client.get(app.url("/metrics")).send().await.unwrap(), StatusCode::NOT_FOUND).await;
    let (_, document) = status_and_json(app.client.get(app.url("/openapi.json")).send().await.unwrap()).await;
    assert!(document["paths"].get("/metrics").is_none(), "the API's document must not offer /metrics");
    assert!(document["paths"].get("/health/live").is_some());
    // The metrics listener serves nothing else.
    let api_there = app.client.get(format!("{metrics}/health/live")).send().await.unwrap();
    assert_problem(api_there, StatusCode::NOT_FOUND).await;
}
on_each_store!(with_a_metrics_address_metrics_are_served_there_and_the_api_port_does_not_offer_them);

async fn responses_carry_protective_headers_and_no_server_version(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    for response in [
        app.client.get(app.url("/health/live")).send().await.unwrap(),
        app.client.get(app.url("/users/current")).send().await.unwrap(),
        app.client.get(app.url("/docs/")).send().await.unwrap(),
    ] {
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert_eq!(response.headers()["referrer-policy"], "no-referrer");
        assert!(!response.headers().contains_key("server"));
    }
}
on_each_store!(responses_carry_protective_headers_and_no_server_version);

async fn only_application_json_is_taken_as_json(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let body = json!({ "email": "ada@example.com", "password": PASSWORD }).to_string();
    for content_type in ["application/vnd.evil+json", "text/json", "application/json-patch+json"] {
        let request = app.client.post(app.url("/auth/register")).header("content-type", content_type);
        assert_problem(request.body(body.clone()).send().await.unwrap(), StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    }
    let with_charset =
        app.client.post(app.url("/auth/register")).header("content-type", "application/json; charset=utf-8");
    assert_eq!(with_charset.body(body).send().await.unwrap().status(), StatusCode::CREATED);
}
on_each_store!(only_application_json_is_taken_as_json);
