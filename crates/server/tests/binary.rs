//! The built `users-server` run as a newcomer runs it: in an empty folder, with no configuration and no database,
//! then restarted, with the account and the tokens issued before the restart still good.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

/// A running server process, stopped with SIGTERM (as an operator would) when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    async fn start(folder: &Path, port: u16) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_users-server"))
            .current_dir(folder)
            // Nothing from the test's environment may stand in for the defaults under test.
            .env_remove("DATABASE_URL")
            .env_remove("JWT_SECRET")
            .env_remove("JWT_ALGORITHM")
            .env_remove("JWT_KEYS_DIR")
            .env_remove("JWT_SIGNING_KEY_ID")
            .env_remove("HOST")
            .env_remove("USERS_CONFIG")
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start users-server");
        let server = Self { child, base: format!("http://127.0.0.1:{port}") };
        server.wait_until_ready().await;
        server
    }

    async fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(response) = reqwest::get(format!("{}/health/ready", self.base)).await
                && response.status() == StatusCode::OK
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("users-server did not become ready within 60 s");
    }

    fn stop(mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let status = self.child.wait().expect("wait for users-server");
        assert!(status.success(), "users-server should exit cleanly on SIGTERM, got {status}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("a free port").port()
}

async fn post(base: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new().post(format!("{base}{path}")).json(&body).send().await.expect("request");
    (response.status(), response.json().await.unwrap_or(Value::Null))
}

async fn current_user(base: &str, token: &str) -> StatusCode {
    let client = reqwest::Client::new();
    client.get(format!("{base}/users/current")).bearer_auth(token).send().await.expect("request").status()
}

#[tokio::test]
async fn a_first_run_needs_no_setup_and_users_and_tokens_survive_a_restart() {
    let folder = std::env::temp_dir().join(format!("users-server-first-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    let port = free_port();

    let server = Server::start(&folder, port).await;
    let account = json!({ "email": "newcomer@example.com", "password": PASSWORD, "username": "newcomer" });
    let (status, registered) = post(&server.base, "/auth/register", account).await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    let access_token = registered["access_token"].as_str().unwrap().to_owned();
    assert_eq!(current_user(&server.base, &access_token).await, StatusCode::OK);

    // A body refused while the token check's query is under way cancels that query: the request must still get
    // its answer (it once took the whole worker down on SQLite).
    let client = reqwest::Client::new();
    for _ in 0..20 {
        let response = client
            .put(format!("{}/users/current", server.base))
            .bearer_auth(&access_token)
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .await
            .expect("an answer, not a dropped connection");
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    assert_eq!(current_user(&server.base, &access_token).await, StatusCode::OK);
    server.stop();

    assert!(folder.join("data/users.db").is_file(), "the embedded store lives in ./data");
    let keys: Vec<_> = std::fs::read_dir(folder.join("data/jwt-keys"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "pem"))
        .collect();
    assert_eq!(keys.len(), 1, "one generated signing key is kept beside it: {keys:?}");
    let refresh_secret = folder.join("data/jwt-keys/refresh-token.secret");
    assert!(refresh_secret.is_file(), "and the refresh-token secret, which travels with the keys");
    assert!(!folder.join("data/jwt-secret").exists(), "no shared secret when keys sign");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &str| std::fs::metadata(folder.join(path)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("data"), 0o700, "the data folder is private");
        assert_eq!(mode("data/users.db"), 0o600, "password hashes are readable by the service only");
        assert_eq!(mode("data/jwt-keys"), 0o700);
        assert_eq!(std::fs::metadata(&keys[0]).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(&refresh_secret).unwrap().permissions().mode() & 0o777, 0o600);
    }

    let server = Server::start(&folder, port).await;
    let login = json!({ "email": "newcomer@example.com", "password": PASSWORD });
    let (status, signed_in) = post(&server.base, "/auth/login", login).await;
    assert_eq!(status, StatusCode::OK, "{signed_in}");
    assert_eq!(signed_in["user"]["id"], registered["user"]["id"]);
    assert_eq!(current_user(&server.base, &access_token).await, StatusCode::OK, "a token from before the restart");
    let refresh = json!({ "refresh_token": registered["refresh_token"] });
    assert_eq!(post(&server.base, "/auth/refresh", refresh).await.0, StatusCode::OK);
    server.stop();

    std::fs::remove_dir_all(&folder).unwrap();
}
