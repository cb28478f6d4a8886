//! The built `users-server` run as an operator runs it: as a newcomer in an empty folder, with no configuration and
//! no database, then restarted, with the account and the tokens issued before the restart still good; its
//! `create-admin` command against an email someone registered first; and its logs at the most verbose level, which
//! must hold no secret.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
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

/// `users-server ARGS` in `folder`, with nothing from the test's environment standing in for the defaults.
fn users_server(folder: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_users-server"));
    command
        .args(args)
        .current_dir(folder)
        .env_remove("DATABASE_URL")
        .env_remove("JWT_SECRET")
        .env_remove("JWT_ALGORITHM")
        .env_remove("JWT_KEYS_DIR")
        .env_remove("JWT_SIGNING_KEY_ID")
        .env_remove("HOST")
        .env_remove("USERS_CONFIG")
        .env_remove("RUST_LOG")
        .env_remove("LOG_FORMAT");
    command
}

impl Server {
    async fn start(folder: &Path, port: u16) -> Self {
        Self::start_with(users_server(folder, &[]), port, Stdio::null()).await
    }

    /// Serves with `command` (from [`users_server`]) on `port`, its log lines going to `stderr`.
    async fn start_with(mut command: Command, port: u16, stderr: Stdio) -> Self {
        let child = command
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
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
    // its answer, and so must the next ones (it once took the whole worker down on SQLite, then the connection the
    // abandoned query still held). Sixteen at a time, so that many queries are cut off mid-way.
    let client = reqwest::Client::new();
    for _ in 0..25 {
        let refused = (0..16).map(|_| {
            client
                .put(format!("{}/users/current", server.base))
                .bearer_auth(&access_token)
                .header("content-type", "text/plain")
                .body("{}")
                .send()
        });
        for response in futures_util::future::join_all(refused).await {
            let response = response.expect("an answer, not a dropped connection");
            assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        }
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

/// A command's end: how it exited and what it printed.
struct Finished {
    success: bool,
    stdout: String,
    stderr: String,
}

/// What a command is given on standard input.
enum Stdin<'a> {
    /// This text, then the end of input.
    Text(&'a str),
    /// A pipe held open and never written: a command that reads it waits until the test gives up.
    Untouched,
}

/// Runs `command` to its end, within 60 s. Its output goes through files, which never fill up as pipes can.
fn run(mut command: Command, stdin: Stdin) -> Finished {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = |name: &str| std::env::temp_dir().join(format!("users-server-{}-{n}.{name}", std::process::id()));
    let (stdout_file, stderr_file) = (file("stdout"), file("stderr"));
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(&stdout_file).unwrap())
        .stderr(std::fs::File::create(&stderr_file).unwrap())
        .spawn()
        .expect("run users-server");
    let mut pipe = child.stdin.take().expect("a stdin pipe");
    let _held_open = match stdin {
        Stdin::Text(text) => {
            // A command that exits without reading may close its end first: that is no failure of the test's.
            let _ = pipe.write_all(text.as_bytes());
            drop(pipe);
            None
        }
        Stdin::Untouched => Some(pipe),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for users-server") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("users-server did not finish within 60 s: was it waiting for standard input?");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |path: &PathBuf| {
        let text = std::fs::read_to_string(path).unwrap();
        let _ = std::fs::remove_file(path);
        text
    };
    Finished { success: status.success(), stdout: read(&stdout_file), stderr: read(&stderr_file) }
}

/// An empty folder of the test's own under the system's temporary folder.
fn fresh_folder(name: &str) -> PathBuf {
    let folder = std::env::temp_dir().join(format!("users-server-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

const CLAIMED: &str = "admin@example.com";
const CLAIMANTS_PASSWORD: &str = "the claimant's own words";
const OPERATORS_PASSWORD: &str = "the operator's passphrase";

/// Signs `email` in with `password`, and says how the admin-only user list answers them.
async fn admin_list_status(base: &str, email: &str, password: &str) -> StatusCode {
    let (status, signed_in) = post(base, "/auth/login", json!({ "email": email, "password": password })).await;
    assert_eq!(status, StatusCode::OK, "{signed_in}");
    let token = signed_in["access_token"].as_str().unwrap();
    let client = reqwest::Client::new();
    client.get(format!("{base}/users/")).bearer_auth(token).send().await.expect("request").status()
}

/// A server on the embedded store in `folder`, where someone has registered the admin's email through the API.
async fn serve_with_the_email_claimed(folder: &Path) -> Server {
    let server = Server::start(folder, free_port()).await;
    let (status, body) =
        post(&server.base, "/auth/register", json!({ "email": CLAIMED, "password": CLAIMANTS_PASSWORD })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    server
}

#[tokio::test]
async fn given_an_email_someone_registered_when_create_admin_runs_then_it_fails_and_the_account_stays_a_user() {
    let folder = fresh_folder("claimed-email");
    let server = serve_with_the_email_claimed(&folder).await;

    let input = format!("{OPERATORS_PASSWORD}\n");
    let finished = run(users_server(&folder, &["create-admin", "--email", CLAIMED]), Stdin::Text(&input));

    assert!(!finished.success, "stdout: {}", finished.stdout);
    assert!(finished.stdout.is_empty(), "{}", finished.stdout);
    let expected = format!("{CLAIMED} already has an account in sqlite://data/users.db; it was left as it is");
    assert!(finished.stderr.contains(&expected), "{}", finished.stderr);
    assert!(finished.stderr.contains("--promote-existing"), "{}", finished.stderr);
    assert_eq!(admin_list_status(&server.base, CLAIMED, CLAIMANTS_PASSWORD).await, StatusCode::FORBIDDEN);
    let operator = json!({ "email": CLAIMED, "password": OPERATORS_PASSWORD });
    assert_eq!(post(&server.base, "/auth/login", operator).await.0, StatusCode::UNAUTHORIZED, "password unchanged");
    server.stop();
    std::fs::remove_dir_all(&folder).unwrap();
}

#[tokio::test]
async fn given_an_existing_account_when_create_admin_promotes_it_then_it_is_admin_with_its_own_password_and_no_input_read()
 {
    let folder = fresh_folder("promote-existing");
    let server = serve_with_the_email_claimed(&folder).await;

    let command = users_server(&folder, &["create-admin", "--email", CLAIMED, "--promote-existing"]);
    let finished = run(command, Stdin::Untouched);

    assert!(finished.success, "{}", finished.stderr);
    let expected = format!("made {CLAIMED} an admin (id ");
    assert!(finished.stdout.starts_with(&expected), "{}", finished.stdout);
    assert!(
        finished.stdout.contains(") in sqlite://data/users.db; their password is unchanged"),
        "{}",
        finished.stdout
    );
    assert_eq!(admin_list_status(&server.base, CLAIMED, CLAIMANTS_PASSWORD).await, StatusCode::OK);
    server.stop();
    std::fs::remove_dir_all(&folder).unwrap();
}

#[tokio::test]
async fn given_no_password_on_standard_input_when_create_admin_runs_then_it_says_so_and_creates_nothing() {
    let folder = fresh_folder("no-password");

    let finished = run(users_server(&folder, &["create-admin", "--email", CLAIMED]), Stdin::Text(""));

    assert!(!finished.success, "stdout: {}", finished.stdout);
    assert!(finished.stderr.contains("no password on standard input"), "{}", finished.stderr);
    // Had the first run made an account, this one would be refused for it.
    let input = format!("{OPERATORS_PASSWORD}\n");
    let finished = run(users_server(&folder, &["create-admin", "--email", CLAIMED]), Stdin::Text(&input));
    assert!(finished.success, "{}", finished.stderr);
    assert!(finished.stdout.starts_with(&format!("created admin {CLAIMED} (id ")), "{}", finished.stdout);
    assert!(finished.stdout.trim_end().ends_with(") in sqlite://data/users.db"), "{}", finished.stdout);
    let server = Server::start(&folder, free_port()).await;
    assert_eq!(admin_list_status(&server.base, CLAIMED, OPERATORS_PASSWORD).await, StatusCode::OK);
    server.stop();
    std::fs::remove_dir_all(&folder).unwrap();
}

// ---------------------------------------------------------------------------------------------------------------
// No secret in the logs

const ADMINS_PASSWORD: &str = "the operator's long phrase";
const FIRST_PASSWORD: &str = "my first long phrase";
const SECOND_PASSWORD: &str = "my second long phrase";
const WRONG_PASSWORD: &str = "a wrong guess at it";
const DATABASE_PASSWORD: &str = "Db-Pa55word-1n-the-URL";

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("request");
    (response.status(), response.json().await.unwrap_or(Value::Null))
}

fn token(body: &Value, name: &str) -> String {
    body[name].as_str().unwrap_or_else(|| panic!("{name} in {body}")).to_owned()
}

/// Signs up, fails a sign-in, signs in, refreshes, changes the password, signs out, and uses an admin route: every
/// path a password or a token takes. Returns the passwords and tokens it handled.
async fn handle_secrets(base: &str) -> Vec<String> {
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{base}{path}");
    let account = json!({ "email": "ada@example.com", "password": FIRST_PASSWORD, "username": "ada" });
    let (status, registered) = send(client.post(url("/auth/register")).json(&account)).await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    let wrong = json!({ "email": "ada@example.com", "password": WRONG_PASSWORD });
    assert_eq!(send(client.post(url("/auth/login")).json(&wrong)).await.0, StatusCode::UNAUTHORIZED);
    let login = json!({ "email": "ada@example.com", "password": FIRST_PASSWORD });
    let (status, signed_in) = send(client.post(url("/auth/login")).json(&login)).await;
    assert_eq!(status, StatusCode::OK, "{signed_in}");
    let refresh = json!({ "refresh_token": token(&signed_in, "refresh_token") });
    let (status, refreshed) = send(client.post(url("/auth/refresh")).json(&refresh)).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let access = token(&refreshed, "access_token");
    let change = json!({ "password": SECOND_PASSWORD, "current_password": FIRST_PASSWORD });
    let (status, changed) = send(client.put(url("/users/current")).bearer_auth(&access).json(&change)).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let logout = json!({ "refresh_token": token(&refreshed, "refresh_token") });
    assert_eq!(send(client.post(url("/auth/logout")).json(&logout)).await.0, StatusCode::NO_CONTENT);
    let admin = json!({ "email": CLAIMED, "password": ADMINS_PASSWORD });
    let (status, admin) = send(client.post(url("/auth/login")).json(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{admin}");
    let (status, listed) = send(client.get(url("/users/")).bearer_auth(token(&admin, "access_token"))).await;
    assert_eq!(status, StatusCode::OK, "{listed}");

    let mut secrets: Vec<String> =
        [ADMINS_PASSWORD, FIRST_PASSWORD, SECOND_PASSWORD, WRONG_PASSWORD].map(str::to_owned).into();
    for body in [&registered, &signed_in, &refreshed, &admin] {
        secrets.push(token(body, "access_token"));
        secrets.push(token(body, "refresh_token"));
    }
    secrets
}

#[derive(diesel::QueryableByName)]
struct StoredSecret {
    #[diesel(sql_type = diesel::sql_types::Text)]
    secret: String,
}

/// The password hashes and refresh-token hashes a store holds.
const STORED_SECRETS: &str =
    "SELECT password_hash AS secret FROM users UNION ALL SELECT token_hash AS secret FROM refresh_tokens";

/// Creates the admin, serves, and handles secrets, all logging at the most verbose level, on the store `database_url`
/// names (the embedded one in `folder` when `None`); then asserts that neither the logs nor the commands' output hold
/// any of them, nor the hashes that `stored_secrets` reads from the store afterwards, nor `hidden`.
async fn assert_no_secret_is_logged(
    folder: &Path,
    database_url: Option<&str>,
    store_shown: &str,
    hidden: &[&str],
    stored_secrets: impl AsyncFnOnce() -> Vec<String>,
) {
    let verbose = |args: &[&str]| {
        let mut command = users_server(folder, args);
        command.env("RUST_LOG", "trace");
        if let Some(url) = database_url {
            command.env("DATABASE_URL", url);
        }
        command
    };
    let input = format!("{ADMINS_PASSWORD}\n");
    let created = run(verbose(&["create-admin", "--email", CLAIMED]), Stdin::Text(&input));
    assert!(created.success, "{}", created.stderr);
    assert!(created.stdout.contains(&format!(") in {store_shown}\n")), "{}", created.stdout);

    let log_file = folder.join("server.log");
    let log = std::fs::File::create(&log_file).unwrap();
    let server = Server::start_with(verbose(&[]), free_port(), Stdio::from(log)).await;
    let mut secrets = handle_secrets(&server.base).await;
    server.stop();
    let served = std::fs::read_to_string(&log_file).unwrap();

    assert!(served.contains("TRACE") && served.contains("request finished"), "the logs were captured at trace");
    secrets.extend(stored_secrets().await);
    secrets.extend(["$argon2id$"].into_iter().chain(hidden.iter().copied()).map(str::to_owned));
    for (what, text) in [("server log", &served), ("create-admin output", &(created.stdout + &created.stderr))] {
        for secret in &secrets {
            // Also as a driver's debug output shows bound parameters: the bytes, in decimal.
            let bytes = secret.bytes().map(|byte| byte.to_string()).collect::<Vec<_>>().join(", ");
            if let Some(at) = text.find(secret.as_str()).or_else(|| text.find(&bytes)) {
                let line = text[..at].rsplit('\n').next().unwrap_or_default().to_owned() + &text[at..];
                panic!("the {what} holds {secret:?}: {}", line.lines().next().unwrap_or_default());
            }
        }
    }
}

#[tokio::test]
async fn at_the_most_verbose_level_no_secret_is_logged_on_postgres() {
    let Some(db) = users_postgres::testing::TestDatabase::create().await else { return };
    let folder = fresh_folder("secrets-postgres");
    // The local server trusts every connection, so any password is accepted; the query string is where it is
    // easiest to overlook, under a key the driver percent-decodes to `password` the more so.
    let separator = if db.url().contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}pass%77ord={DATABASE_PASSWORD}", db.url());
    let shown = format!("{}{separator}pass%77ord=***", db.url());

    let stored_secrets = async || {
        use diesel_async::RunQueryDsl;
        let rows: Vec<StoredSecret> = diesel::sql_query(STORED_SECRETS).load(&mut db.connect().await).await.unwrap();
        rows.into_iter().map(|row| row.secret).collect()
    };
    assert_no_secret_is_logged(&folder, Some(&url), &shown, &[DATABASE_PASSWORD], stored_secrets).await;
    std::fs::remove_dir_all(&folder).unwrap();
}

#[tokio::test]
async fn at_the_most_verbose_level_no_secret_is_logged_on_sqlite() {
    let folder = fresh_folder("secrets-sqlite");

    let database = folder.join("data/users.db");
    let stored_secrets = async || {
        use diesel::{Connection, RunQueryDsl, SqliteConnection};
        let mut connection = SqliteConnection::establish(database.to_str().unwrap()).unwrap();
        let rows: Vec<StoredSecret> = diesel::sql_query(STORED_SECRETS).load(&mut connection).unwrap();
        rows.into_iter().map(|row| row.secret).collect()
    };
    assert_no_secret_is_logged(&folder, None, "sqlite://data/users.db", &[], stored_secrets).await;
    std::fs::remove_dir_all(&folder).unwrap();
}

/// A start that must fail on a configuration mistake: it says what is wrong, naming `naming`, exactly once, and
/// leaves nothing behind (no database, no keys).
fn assert_refused_to_start(folder: &Path, command: Command, naming: &str) -> String {
    let finished = run(command, Stdin::Text(""));
    assert!(!finished.success, "started despite the mistake: {}", finished.stderr);
    assert!(finished.stderr.contains(naming), "{naming:?} is not named in: {}", finished.stderr);
    assert_eq!(finished.stderr.matches(naming).count(), 1, "said more than once: {}", finished.stderr);
    let left: Vec<_> = std::fs::read_dir(folder).unwrap().map(|entry| entry.unwrap().file_name()).collect();
    assert!(left.iter().all(|name| name.to_str().is_some_and(|name| name.ends_with(".toml"))), "{left:?}");
    finished.stderr
}

#[test]
fn given_configuration_mistakes_when_the_server_starts_then_each_is_an_error_naming_it() {
    let folder = fresh_folder("config-mistakes");
    std::fs::write(folder.join("typo.toml"), "[server]\nport = 8080\nworkerz = 4\n").unwrap();
    let serve_with = |args: &[&str], variables: &[(&str, &str)]| {
        let mut command = users_server(&folder, args);
        command.envs(variables.iter().copied());
        command
    };

    assert_refused_to_start(&folder, serve_with(&["--config", "absent.toml"], &[]), "absent.toml");
    assert_refused_to_start(&folder, serve_with(&[], &[("USERS_CONFIG", "also-absent.toml")]), "also-absent.toml");
    assert_refused_to_start(&folder, serve_with(&["--config", "typo.toml"], &[]), "`workerz`");
    let typo_in_variable = serve_with(&[], &[("USERS__AUTH__ACCES_TOKEN_TTL_SECS", "60")]);
    assert_refused_to_start(&folder, typo_in_variable, "`acces_token_ttl_secs`");
    let no_database_name = serve_with(&[], &[("DATABASE_URL", "postgres://app:s3cret@127.0.0.1:5432")]);
    let said = assert_refused_to_start(&folder, no_database_name, "names no database");
    assert!(!said.contains("s3cret"), "{said}");
    let said = assert_refused_to_start(&folder, serve_with(&[], &[("JWT_ALGORITHM", "RS256")]), "\"RS256\"");
    assert!(said.contains("\"EdDSA\" or \"HS256\""), "the allowed values are listed: {said}");
    let said = assert_refused_to_start(&folder, serve_with(&[], &[("LOG_FORMAT", "jsno")]), "\"jsno\"");
    assert!(said.contains("\"text\" or \"json\""), "the allowed values are listed: {said}");

    std::fs::remove_dir_all(&folder).unwrap();
}

/// Sends `signal` to the server's process.
fn signal(server: &Server, signal: &str) {
    let sent = Command::new("kill").arg(format!("-{signal}")).arg(server.child.id().to_string()).status().unwrap();
    assert!(sent.success());
}

#[tokio::test]
async fn given_a_request_under_way_when_ctrl_c_stops_the_server_then_the_request_is_answered_and_the_server_exits_cleanly()
 {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let folder = fresh_folder("sigint-drains");
    let port = free_port();
    let mut server = Server::start(&folder, port).await;
    let body = json!({ "email": "in-flight@example.com", "password": PASSWORD }).to_string();
    let (first_half, second_half) = body.split_at(body.len() / 2);
    let mut connection = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "POST /auth/register HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    connection.write_all(head.as_bytes()).await.unwrap();
    connection.write_all(first_half.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    signal(&server, "INT");
    tokio::time::sleep(Duration::from_millis(500)).await;
    connection.write_all(second_half.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(10), connection.read_to_string(&mut response))
        .await
        .expect("answered before the shutdown timeout")
        .expect("read the answer");

    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    let status = server.child.wait().unwrap();
    assert!(status.success(), "stopped cleanly: {status}");
    let restarted = Server::start(&folder, port).await;
    let signed_in = json!({ "email": "in-flight@example.com", "password": PASSWORD });
    assert_eq!(post(&restarted.base, "/auth/login", signed_in).await.0, StatusCode::OK, "the write was kept");
    restarted.stop();
    std::fs::remove_dir_all(&folder).unwrap();
}

#[tokio::test]
async fn the_server_raises_its_open_file_soft_limit_to_the_hard_limit() {
    let folder = fresh_folder("open-files");
    let port = free_port();
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("ulimit -Sn 256 && exec {}", env!("CARGO_BIN_EXE_users-server")))
        .current_dir(&folder)
        .env_remove("DATABASE_URL")
        .env_remove("USERS_CONFIG");
    let server = Server::start_with(command, port, Stdio::null()).await;

    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.child.id())).unwrap();
    let open_files = limits.lines().find(|line| line.starts_with("Max open files")).expect("the open-file limit");
    let numbers: Vec<&str> = open_files.split_whitespace().skip(3).take(2).collect();
    assert_eq!(numbers[0], numbers[1], "soft = hard: {open_files}");
    assert_ne!(numbers[0], "256", "{open_files}");
    server.stop();
    std::fs::remove_dir_all(&folder).unwrap();
}

#[tokio::test]
async fn healthcheck_exits_0_while_the_server_is_ready_and_1_once_it_is_gone() {
    let folder = fresh_folder("healthcheck");
    let port = free_port();
    let server = Server::start(&folder, port).await;
    let healthcheck = || {
        let mut command = users_server(&folder, &["healthcheck"]);
        command.env("PORT", port.to_string()).env("HOST", "0.0.0.0");
        command
    };

    let ready = run(healthcheck(), Stdin::Text(""));
    assert!(ready.success, "{}", ready.stderr);
    server.stop();
    let gone = run(healthcheck(), Stdin::Text(""));
    assert!(!gone.success);
    assert!(gone.stderr.contains(&format!("cannot ask 127.0.0.1:{port}")), "{}", gone.stderr);
    std::fs::remove_dir_all(&folder).unwrap();
}

/// A small tmpfs of the test's own, unmounted when dropped; `None` (said on stderr, which libtest does not capture)
/// where mounting is not allowed, except under `CI=true`, where that is a failure.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(folder: &Path, size: &str) -> Option<Self> {
        let path = folder.join("disk");
        std::fs::create_dir_all(&path).unwrap();
        let mut mount = Command::new("mount");
        mount.args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(&path);
        match mount.output() {
            Ok(output) if output.status.success() => Some(Self(path)),
            outcome => {
                users_postgres::testing::skip(&format!("cannot mount a tmpfs (needs root): {outcome:?}"));
                None
            }
        }
    }

    /// Writes a file until the disk is full; removing it frees the space.
    fn fill(&self) -> PathBuf {
        let filler = self.0.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        while file.write_all(&[0; 64 * 1024]).and_then(|()| file.sync_data()).is_ok() {}
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

async fn ready_status(base: &str) -> StatusCode {
    reqwest::get(format!("{base}/health/ready")).await.expect("request").status()
}

#[tokio::test]
async fn given_a_full_disk_under_sqlite_writes_answer_503_with_retry_after_and_the_service_is_not_ready_until_space_returns()
 {
    let folder = fresh_folder("full-disk");
    let Some(disk) = SmallDisk::mount(&folder, "2m") else { return };
    let port = free_port();
    let mut command = users_server(&folder, &[]);
    command.env("DATABASE_URL", format!("sqlite://{}/users.db", disk.0.display()));
    let server = Server::start_with(command, port, Stdio::null()).await;
    let register = |n: usize| {
        let body = json!({ "email": format!("user{n}@example.com"), "password": PASSWORD });
        reqwest::Client::new().post(format!("{}/auth/register", server.base)).json(&body).send()
    };
    let mut acknowledged = vec![];
    assert_eq!(register(0).await.unwrap().status(), StatusCode::CREATED);
    acknowledged.push(0);

    let filler = disk.fill();
    let mut refused = None;
    for n in 1..200 {
        let response = register(n).await.unwrap();
        match response.status() {
            StatusCode::CREATED => acknowledged.push(n),
            StatusCode::SERVICE_UNAVAILABLE => {
                refused = Some(response);
                break;
            }
            other => panic!("sign-up {n} on a full disk answered {other}: {}", response.text().await.unwrap()),
        }
    }

    let refused = refused.expect("a sign-up was refused once the disk was full");
    assert!(refused.headers().contains_key("retry-after"));
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/store-unavailable", "{problem}");
    assert_eq!(ready_status(&server.base).await, StatusCode::SERVICE_UNAVAILABLE, "not ready while refusing writes");

    std::fs::remove_file(filler).unwrap();
    let n = 1_000;
    assert_eq!(register(n).await.unwrap().status(), StatusCode::CREATED, "writes work once space is freed");
    acknowledged.push(n);
    let deadline = Instant::now() + Duration::from_secs(20);
    while ready_status(&server.base).await != StatusCode::OK {
        assert!(Instant::now() < deadline, "ready again once writes succeed");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for n in acknowledged {
        let signed_in = json!({ "email": format!("user{n}@example.com"), "password": PASSWORD });
        assert_eq!(post(&server.base, "/auth/login", signed_in).await.0, StatusCode::OK, "user{n} was kept");
    }
    server.stop();
    drop(disk);
    std::fs::remove_dir_all(&folder).unwrap();
}

/// Every metric in a scrape has its HELP text, and `expected` are all there.
fn assert_described(scrape: &str, expected: &[&str]) {
    let typed: Vec<&str> = scrape.lines().filter_map(|line| line.strip_prefix("# TYPE ")?.split(' ').next()).collect();
    for name in &typed {
        assert!(scrape.contains(&format!("# HELP {name} ")), "{name} has no HELP text:\n{scrape}");
    }
    for name in expected {
        assert!(
            scrape.lines().any(|line| line.starts_with(name)),
            "{name} is missing from the first scrape:\n{scrape}"
        );
    }
}

/// What a fresh server shows on its first scrape, before anything else was asked of it.
async fn first_scrape(database_url: Option<&str>, name: &str) -> String {
    let folder = fresh_folder(name);
    let port = free_port();
    let mut command = users_server(&folder, &[]);
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    // Started without the readiness wait, whose requests would be the first.
    let server = Server {
        child: command.env("PORT", port.to_string()).stderr(Stdio::null()).spawn().unwrap(),
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let scrape = loop {
        match reqwest::get(format!("{}/metrics", server.base)).await {
            Ok(response) => break response.text().await.unwrap(),
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(error) => panic!("no answer: {error}"),
        }
    };
    server.stop();
    std::fs::remove_dir_all(&folder).unwrap();
    scrape
}

const EVERY_STORE_METRICS: [&str; 7] = [
    "password_hash_in_flight",
    "password_hash_refused_total",
    "password_hash_skipped_total",
    "logins_total{outcome=\"invalid_credentials\"}",
    "auth_rate_limited_total",
    "password_work_limited_total",
    "db_pool_connections{",
];

#[tokio::test]
async fn every_metric_has_help_text_and_is_there_from_the_first_scrape_on_sqlite() {
    let scrape = first_scrape(None, "metrics-sqlite").await;

    assert_described(&scrape, &EVERY_STORE_METRICS);
    assert_described(&scrape, &["db_connections_abandoned_total{store=\"sqlite\"} 0"]);
}

#[tokio::test]
async fn every_metric_has_help_text_and_is_there_from_the_first_scrape_on_postgres() {
    let Some(db) = users_postgres::testing::TestDatabase::create().await else { return };

    let scrape = first_scrape(Some(db.url()), "metrics-postgres").await;

    assert_described(&scrape, &EVERY_STORE_METRICS);
    let change_feed = ["db_operation_timeouts_total", "store_change_notifications_up", "store_change_feed_lag_seconds"];
    assert_described(&scrape, &change_feed);
}
