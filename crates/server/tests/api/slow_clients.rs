//! Slow clients: a request whose body does not all arrive within `server.request_timeout_secs` is answered 408 and
//! its connection closed, whatever the body's framing; a body answered before it is read closes its connection
//! rather than being waited for; requests sent in time are served as usual.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::helpers::*;

async fn app_with_one_second_to_send(store: Store) -> Option<TestApp> {
    spawn_app_with(store, |settings| settings.server.request_timeout_secs = 1).await
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
async fn read_until_closed(stream: &mut (impl AsyncRead + Unpin)) -> (u16, String, Value) {
    let text = String::from_utf8(received_until_closed(stream).await).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), serde_json::from_str(body).unwrap_or(Value::Null))
}

async fn a_body_trickling_in_past_the_request_timeout_gets_408_and_the_connection_closed(store: Store) {
    let Some(app) = app_with_one_second_to_send(store).await else { return };
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
on_each_store!(a_body_trickling_in_past_the_request_timeout_gets_408_and_the_connection_closed);

/// The bytes the server sends until it closes the connection (within 10 s), which a client still writing may see
/// as a reset once it has read them.
async fn received_until_closed(stream: &mut (impl AsyncRead + Unpin)) -> Vec<u8> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut received)).await;
    match read.expect("the server closes the connection") {
        Err(error) if error.kind() != std::io::ErrorKind::ConnectionReset => panic!("read: {error}"),
        _ => received,
    }
}

/// A connection that sent the head of `POST path` announcing a chunked JSON body, and the body's first byte, and
/// that sends one more byte of it every 200 ms until told to stop or the connection refuses it.
struct Trickle {
    reader: OwnedReadHalf,
    stop: oneshot::Sender<()>,
    writer: JoinHandle<OwnedWriteHalf>,
}

impl Trickle {
    async fn start(app: &TestApp, path: &str) -> Self {
        let stream = TcpStream::connect(app.address.trim_start_matches("http://")).await.unwrap();
        let (reader, mut writer) = stream.into_split();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\n\r\n1\r\n{{\r\n"
        );
        writer.write_all(head.as_bytes()).await.unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let writer = tokio::spawn(async move {
            let trickling = async {
                loop {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    if writer.write_all(b"1\r\n \r\n").await.is_err() {
                        break;
                    }
                }
            };
            tokio::select! { () = trickling => {}, _ = stopped => {} }
            writer
        });
        Self { reader, stop, writer }
    }

    /// Stops the trickle, ends the body and sends a request after it on the same connection; returns what the
    /// server sends then until it closes the connection.
    async fn end_and_send_another(mut self) -> Vec<u8> {
        let _ = self.stop.send(());
        let mut writer = self.writer.await.unwrap();
        let next = "0\r\n\r\nGET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        // The connection may already refuse it.
        let _ = writer.write_all(next.as_bytes()).await;
        received_until_closed(&mut self.reader).await
    }
}

async fn a_chunked_body_trickling_in_past_the_request_timeout_gets_408_and_the_connection_closed(store: Store) {
    let Some(app) = app_with_one_second_to_send(store).await else { return };
    let mut trickle = Trickle::start(&app, "/auth/login").await;

    let (status, head, body) = read_until_closed(&mut trickle.reader).await;
    assert_eq!(status, 408, "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert_eq!(body["type"], "/problems/request-timeout", "{body}");

    let after = trickle.end_and_send_another().await;
    assert!(after.is_empty(), "nothing more is served on the connection: {}", String::from_utf8_lossy(&after));
}
on_each_store!(a_chunked_body_trickling_in_past_the_request_timeout_gets_408_and_the_connection_closed);

async fn a_chunked_body_answered_before_it_is_read_is_not_waited_for(store: Store) {
    // The request timeout is long here: what closes the connection is the answer, not the deadline.
    let Some(app) = spawn_app_with(store, |settings| {
        settings.rate_limit.auth_per_minute = 1;
        settings.rate_limit.auth_burst = 1;
    })
    .await
    else {
        return;
    };
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    // Refused by the rate limit on /auth/*, and by the router, without a look at the body.
    for (path, expected) in [("/auth/login", 429), ("/health/live", 405)] {
        let mut trickle = Trickle::start(&app, path).await;
        let (status, head, _) = read_until_closed(&mut trickle.reader).await;
        assert_eq!(status, expected, "{path}: {head}");
        assert!(head.contains("connection: close"), "{path}: {head}");
        let after = trickle.end_and_send_another().await;
        assert!(after.is_empty(), "{path}: nothing more is served: {}", String::from_utf8_lossy(&after));
    }
}
on_each_store!(a_chunked_body_answered_before_it_is_read_is_not_waited_for);

async fn requests_sent_in_time_are_served_as_usual(store: Store) {
    let Some(app) = app_with_one_second_to_send(store).await else { return };
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
on_each_store!(requests_sent_in_time_are_served_as_usual);
