//! Slow clients: a request whose body does not all arrive within `server.request_timeout_secs` is answered 408 and
//! its connection closed, while requests sent in time are served as usual.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

async fn app_with_one_second_to_send() -> Option<TestApp> {
    spawn_app_with(|settings| settings.server.request_timeout_secs = 1).await
}

/// A connection that sent the head of `POST /auth/login` announcing a 100-byte JSON body.
async fn login_head(app: &TestApp) -> TcpStream {
    let mut stream = TcpStream::connect(app.address.trim_start_matches("http://")).await.unwrap();
    let head =
        "POST /auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// Everything the server sends until it closes the connection: status, lower-cased head, body.
async fn read_until_closed(stream: &mut TcpStream) -> (u16, String, Value) {
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut received)).await;
    read.expect("the server closes the connection").expect("read");
    let text = String::from_utf8(received).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_body_trickling_in_past_the_request_timeout_gets_408_and_the_connection_closed() {
    let Some(app) = app_with_one_second_to_send().await else { return };
    let mut stream = login_head(&app).await;
    for byte in [b"{", b" ", b"\""] {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stream.write_all(byte).await.unwrap();
    }
    let (status, head, body) = read_until_closed(&mut stream).await;
    assert_eq!(status, 408, "{head}");
    assert!(head.contains("content-type: application/problem+json"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert_eq!(body["type"], "/problems/request-timeout", "{body}");
    assert_eq!(body["status"], 408);
}

#[tokio::test]
async fn requests_sent_in_time_are_served_as_usual() {
    let Some(app) = app_with_one_second_to_send().await else { return };
    app.register_user("ada@example.com").await;
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), StatusCode::OK);

    // A body in two parts, the second a moment later but well within the time, is read whole.
    let body = json!({ "email": "ada@example.com", "password": "wrong password" }).to_string();
    let body = format!("{body:<100}");
    let mut stream = login_head(&app).await;
    let (first, second) = body.split_at(40);
    stream.write_all(first.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(second.as_bytes()).await.unwrap();
    stream.write_all(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut received)).await.unwrap().unwrap();
    let text = String::from_utf8(received).unwrap();
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    assert!(text.contains("/problems/invalid-credentials"), "{text}");
    assert!(text.contains("HTTP/1.1 200"), "the connection carries the next request: {text}");
}
