//! Requests that end while their query runs: a body refused (415, 400, 413) while the token check reads, a client
//! that hangs up. The store must finish each query and keep its connections, and answer the next requests.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// What `/metrics` says when a connection had to be thrown away because a cancelled query still held it.
/// The `db_connections_abandoned_total` of `store` in a scrape (0 when the series is not there).
pub fn abandoned_connections(metrics: &str, store: &str) -> u64 {
    let series = format!("db_connections_abandoned_total{{store=\"{store}\"}} ");
    metrics.lines().find_map(|line| line.strip_prefix(series.as_str())).map_or(0, |value| value.parse().unwrap())
}

/// Sends `rounds` bursts of requests that are refused or given up on while their token check's query runs.
async fn cancel_requests_mid_query(app: &TestApp, token: &str, rounds: usize) {
    for _ in 0..rounds {
        let refused = (0..8).map(|_| async {
            let response = app
                .client
                .put(app.url("/users/current"))
                .bearer_auth(token)
                .header("content-type", "text/plain")
                .body("{}")
                .send()
                .await
                .expect("an answer, not a dropped connection");
            assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        });
        // Clients that hang up as soon as the request is out: the server is mid-way through it.
        let given_up = (0..8).map(|_| async {
            let request = app.client.get(app.url("/users/current")).bearer_auth(token).send();
            let _ = tokio::time::timeout(Duration::from_micros(300), request).await;
        });
        futures_util::future::join(futures_util::future::join_all(refused), futures_util::future::join_all(given_up))
            .await;
    }
}

async fn requests_cancelled_mid_query_leave_the_store_answering_and_its_connections_kept(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let session = app.register_user("ada@example.com").await;

    cancel_requests_mid_query(&app, &session.access_token, 25).await;

    // Every request after them is answered, reads and writes alike, and the write is stored.
    for _ in 0..20 {
        assert_eq!(app.get("/users/current", &session.access_token).await.status(), StatusCode::OK);
    }
    let (status, body) =
        status_and_json(app.put("/users/current", &session.access_token, &json!({ "first_name": "Ada" })).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.count("SELECT count(*) FROM users WHERE first_name = 'Ada'").await, 1);
    // No cancelled query was left holding a connection the pool then had to throw away (in this test or any other
    // on this store in this process: the metrics are the process's).
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let label = match store {
        Store::Sqlite => "sqlite",
        Store::Postgres => "postgres",
    };
    assert_eq!(abandoned_connections(&metrics, label), 0, "connections were abandoned:\n{metrics}");
}
on_each_store!(requests_cancelled_mid_query_leave_the_store_answering_and_its_connections_kept);
