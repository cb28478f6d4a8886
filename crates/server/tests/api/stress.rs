//! The default store under a storm of requests that end badly: thousands refused while their token check's query
//! runs (415, 400, 413) and thousands given up by their clients mid-way, beside valid traffic. Every valid request
//! must get its right answer, and the store must hold exactly what was acknowledged.

use std::time::Duration;

use futures_util::StreamExt as _;
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::AsyncWriteExt as _;

use crate::helpers::*;

/// Requests refused, and requests given up, each.
const BAD_REQUESTS: usize = 2_000;
/// How many of them are under way at once.
const AT_ONCE: usize = 32;
/// Accounts that change their profile again and again while the storm goes on, and the changes each makes.
const EDITORS: usize = 4;
const EDITS: usize = 40;
/// Accounts registered during the storm.
const NEWCOMERS: usize = 8;

/// One request that is refused while the query of its token check runs, and must change nothing.
async fn refused(app: &TestApp, token: &str, kind: usize) {
    let request = app.client.put(app.url("/users/current")).bearer_auth(token);
    let (request, expected) = match kind % 3 {
        0 => (
            request.header("content-type", "text/plain").body(r#"{"first_name":"Refused"}"#),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        1 => (
            request.header("content-type", "application/json").body(r#"{"first_name":"Refused""#),
            StatusCode::BAD_REQUEST,
        ),
        _ => {
            let huge = json!({ "first_name": "Refused", "last_name": "x".repeat(20 * 1024) });
            (request.json(&huge), StatusCode::PAYLOAD_TOO_LARGE)
        }
    };
    let response = request.send().await.expect("an answer");
    assert_eq!(response.status(), expected);
}

/// One request whose client goes away before the answer: after a moment, or half-way through sending its body.
async fn given_up(app: &TestApp, token: &str, kind: usize) {
    match kind % 3 {
        0 => {
            let request = app.client.get(app.url("/users/current")).bearer_auth(token).send();
            let _ = tokio::time::timeout(Duration::from_micros(200 + (kind % 7) as u64 * 100), request).await;
        }
        1 => {
            let body = json!({ "first_name": "Cancelled" });
            let request = app.client.put(app.url("/users/current")).bearer_auth(token).json(&body).send();
            let _ = tokio::time::timeout(Duration::from_micros(300 + (kind % 5) as u64 * 200), request).await;
        }
        _ => {
            let mut stream = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://")).await.unwrap();
            let head = format!(
                "PUT /users/current HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"first_name\":"
            );
            let _ = stream.write_all(head.as_bytes()).await;
            tokio::time::sleep(Duration::from_millis(1)).await;
            // Dropped: the connection closes with the body unfinished.
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_refused_and_cancelled_requests_on_sqlite_leave_every_answer_and_every_write_right() {
    let Some(app) = spawn_app(Store::Sqlite).await else { return };
    let editors: Vec<Session> = futures_util::future::join_all((0..EDITORS).map(|n| {
        let app = &app;
        async move { app.register_user(&format!("editor{n}@example.com")).await }
    }))
    .await;
    // Its profile takes the given-up changes, which may or may not have been applied: no other check reads it.
    let target = app.register_user("target@example.com").await;

    let storm = async {
        let bad =
            futures_util::stream::iter(0..2 * BAD_REQUESTS)
                .map(|n| {
                    let (app, token) = (&app, target.access_token.as_str());
                    async move {
                        if n % 2 == 0 { refused(app, token, n / 2).await } else { given_up(app, token, n / 2).await }
                    }
                })
                .buffer_unordered(AT_ONCE);
        bad.collect::<Vec<()>>().await;
    };
    let edits = futures_util::future::join_all(editors.iter().enumerate().map(|(n, editor)| {
        let app = &app;
        async move {
            for edit in 0..EDITS {
                let name = format!("E{n}v{edit}");
                let (status, body) = status_and_json(
                    app.put("/users/current", &editor.access_token, &json!({ "first_name": name })).await,
                )
                .await;
                assert_eq!(status, StatusCode::OK, "{body}");
                assert_eq!(body["first_name"], name.as_str());
                let (status, body) = status_and_json(app.get("/users/current", &editor.access_token).await).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                assert_eq!(body["first_name"], name.as_str(), "a read after an acknowledged write sees it");
            }
        }
    }));
    let newcomers = futures_util::future::join_all(
        (0..NEWCOMERS).map(|n| app.register(json!({ "email": format!("new{n}@example.com"), "password": PASSWORD }))),
    );
    let ((), _, newcomers) = tokio::join!(storm, edits, newcomers);

    // Every valid request is still answered, with what was acknowledged.
    for (n, editor) in editors.iter().enumerate() {
        let (status, body) = status_and_json(app.get("/users/current", &editor.access_token).await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["first_name"], format!("E{n}v{}", EDITS - 1));
    }
    assert_eq!(app.get("/users/current", &target.access_token).await.status(), StatusCode::OK);
    let signed_in = app.login("new0@example.com", PASSWORD).await;
    assert_eq!(signed_in.status(), StatusCode::OK);

    // The store holds exactly that: the accounts and sessions acknowledged, and nothing a refused request carried.
    let accounts = (EDITORS + 1 + NEWCOMERS) as i64;
    assert_eq!(app.count("SELECT count(*) FROM users").await, accounts);
    assert_eq!(app.count("SELECT count(*) FROM user_roles").await, accounts, "each with its role");
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, accounts + 1, "one per sign-up, and the sign-in");
    for (n, newcomer) in newcomers.iter().enumerate() {
        let email = format!("new{n}@example.com");
        assert_eq!(newcomer.user["email"], email.as_str());
        assert_eq!(app.count(&format!("SELECT count(*) FROM users WHERE email = '{email}'")).await, 1);
    }
    for n in 0..EDITORS {
        let stored = format!("SELECT count(*) FROM users WHERE first_name = 'E{n}v{}'", EDITS - 1);
        assert_eq!(app.count(&stored).await, 1);
    }
    assert_eq!(app.count("SELECT count(*) FROM users WHERE first_name = 'Refused'").await, 0);
    // And no connection was thrown away for a query its request had abandoned.
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert_eq!(crate::cancelled::abandoned_connections(&metrics, "sqlite"), 0, "{metrics}");
}
