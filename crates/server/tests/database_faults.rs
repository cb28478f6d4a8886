//! The service in front of a database whose network path freezes (a TCP proxy that stops forwarding without closing
//! anything, as a black hole does): requests and the readiness probe answer 503 within their deadlines instead of
//! hanging, and everything works again once the path forwards again. Each test has a fresh PostgreSQL database.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use users_postgres::testing::{FreezableProxy, TestDatabase};
use users_server::{Application, Settings};

const PASSWORD: &str = "correct horse battery";
/// The deadlines these tests configure, and the slack allowed on top for a loaded machine.
const OPERATION_TIMEOUT: Duration = Duration::from_millis(1_000);
const READY_TIMEOUT: Duration = Duration::from_millis(500);
const SLACK: Duration = Duration::from_millis(700);

struct App {
    address: String,
    client: reqwest::Client,
    proxy: FreezableProxy,
    _db: TestDatabase,
}

/// The service over a fresh database reached through a proxy, with short database deadlines.
async fn spawn_behind_proxy() -> Option<App> {
    let db = TestDatabase::create().await?;
    let proxy = FreezableProxy::start(db.server_address().await).await;
    let mut settings = Settings::load(None).expect("settings");
    settings.server.host = "127.0.0.1".into();
    settings.server.port = 0;
    settings.server.workers = 1;
    settings.server.shutdown_timeout_secs = 1;
    settings.server.metrics_address = None;
    settings.auth.jwt_secret = Some("the database fault tests' own signing secret".into());
    settings.auth.refresh_secret = Some("the database fault tests' own refresh secret".into());
    settings.auth.totp_secret = Some("dGhlIGRhdGFiYXNlIGZhdWx0IHRlc3RzJyBvd24gVE9UUCBzZWFsaW5nIHNlY3JldA==".into());
    settings.rate_limit.auth_per_minute = 0;
    settings.rate_limit.password_work_per_minute = 0;
    let database = &mut settings.database;
    database.url = db.url_via(proxy.address());
    database.max_connections = 4;
    database.pool_wait_timeout_ms = 500;
    database.connect_timeout_ms = 500;
    database.recycle_timeout_ms = 300;
    database.statement_timeout_ms = 1_000;
    database.operation_timeout_ms = OPERATION_TIMEOUT.as_millis() as u64;
    database.ready_timeout_ms = READY_TIMEOUT.as_millis() as u64;
    let application = Application::build(&settings).expect("build the application");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    // A client that gives up long after the service should have answered: a hang shows as a failure, not a stall.
    let client = reqwest::Client::builder().timeout(Duration::from_secs(15)).build().unwrap();
    Some(App { address, client, proxy, _db: db })
}

impl App {
    async fn register(&self, email: &str) -> (StatusCode, Option<String>, Duration) {
        let started = Instant::now();
        let response = self
            .client
            .post(format!("{}/auth/register", self.address))
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .expect("an answer, not a hang");
        let retry_after = response.headers().get("retry-after").map(|value| value.to_str().unwrap().to_owned());
        (response.status(), retry_after, started.elapsed())
    }

    async fn ready(&self) -> (StatusCode, Duration) {
        let started = Instant::now();
        let response =
            self.client.get(format!("{}/health/ready", self.address)).send().await.expect("an answer, not a hang");
        (response.status(), started.elapsed())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_database_path_gets_503_within_the_deadlines_and_recovers_when_it_forwards_again() {
    let Some(app) = spawn_behind_proxy().await else { return };
    let (status, _, _) = app.register("before@example.com").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(app.ready().await.0, StatusCode::OK);

    // Given the path to the database stops forwarding, without closing anything...
    app.proxy.freeze();

    // ...then the readiness probe says so within its deadline...
    let (status, took) = app.ready().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(took < READY_TIMEOUT + SLACK, "/health/ready took {took:?}");

    // ...and requests, more at once than the pool has connections, answer 503 with Retry-After within theirs.
    let attempts = (0..8).map(|n| {
        let app = &app;
        async move { app.register(&format!("during{n}@example.com")).await }
    });
    for (status, retry_after, took) in futures_util::future::join_all(attempts).await {
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(retry_after.is_some(), "503 without Retry-After");
        assert!(took < OPERATION_TIMEOUT + SLACK, "a request took {took:?}");
    }

    // When the path forwards again, everything works again, without a restart.
    app.proxy.thaw();
    let recovered = Instant::now();
    loop {
        let (status, _, _) = app.register("after@example.com").await;
        if status == StatusCode::CREATED && app.ready().await.0 == StatusCode::OK {
            break;
        }
        assert!(recovered.elapsed() < Duration::from_secs(10), "still {status} 10 s after the path forwards again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_change_feed_lag_is_a_metric_from_the_first_scrape() {
    let Some(app) = spawn_behind_proxy().await else { return };

    let metrics = app.client.get(format!("{}/metrics", app.address)).send().await.unwrap().text().await.unwrap();

    assert!(metrics.contains("store_change_feed_lag_seconds"), "{metrics}");
}
