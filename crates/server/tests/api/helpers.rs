//! `spawn_app` and the small vocabulary the HTTP tests are written in, on either store.

use chrono::{DateTime, Duration, Utc};
use diesel::sql_types::BigInt;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use users_app::ExistingAccount;
use users_domain::Password;
use users_jwt::{JwtIssuer, RefreshSecret};
use users_ports::{TokenIssuer, TokenSubject};
use users_server::settings::{
    AuditSettings, AuthSettings, DatabaseSettings, MailSettings, RateLimitSettings, ServerSettings,
};
use users_server::{Application, Settings, create_admin};

pub const PASSWORD: &str = "correct horse battery";
pub const ADMIN_EMAIL: &str = "root@example.com";

/// Which store a test's application runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// The embedded default store, always there: a database file of the test's own.
    Sqlite,
    /// A database of the test's own on the PostgreSQL server of `DATABASE_URL`, when one answers.
    Postgres,
}

/// Makes one test on each store out of `async fn NAME(store: Store)`: the tests `NAME::sqlite` and `NAME::postgres`.
macro_rules! on_each_store {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name($crate::helpers::Store::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::$name($crate::helpers::Store::Postgres).await;
            }
        }
    )+};
}

/// For behaviour only PostgreSQL has (its change notifications, its triggers): the test `NAME::postgres_only` out of
/// `async fn NAME(store: Store)`.
macro_rules! on_postgres_only {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn postgres_only() {
                super::$name($crate::helpers::Store::Postgres).await;
            }
        }
    )+};
}

/// A test's own database on its store, removed when the test ends.
#[derive(Debug)]
pub enum TestDatabase {
    Sqlite(users_sqlite::testing::TestDatabase),
    Postgres(users_postgres::testing::TestDatabase),
}

impl TestDatabase {
    /// A new migrated database, or `None` when PostgreSQL is asked for and does not answer outside CI (the skip is
    /// announced on stderr).
    pub async fn create(store: Store) -> Option<Self> {
        Some(match store {
            Store::Sqlite => Self::Sqlite(users_sqlite::testing::TestDatabase::create().await),
            Store::Postgres => Self::Postgres(users_postgres::testing::TestDatabase::create().await?),
        })
    }

    pub fn store(&self) -> Store {
        match self {
            Self::Sqlite(_) => Store::Sqlite,
            Self::Postgres(_) => Store::Postgres,
        }
    }

    /// The `DATABASE_URL` that names it.
    pub fn url(&self) -> String {
        match self {
            Self::Sqlite(db) => format!("sqlite://{}", db.path().display()),
            Self::Postgres(db) => db.url().to_owned(),
        }
    }

    /// Runs `sql` on a connection of its own, beside the service's.
    async fn execute(&self, sql: &str) -> usize {
        match self {
            Self::Sqlite(db) => {
                use diesel::RunQueryDsl as _;
                let (path, sql) = (db.path().to_owned(), sql.to_owned());
                on_sqlite(path, move |connection| diesel::sql_query(sql).execute(connection)).await
            }
            Self::Postgres(db) => {
                use diesel_async::RunQueryDsl as _;
                diesel::sql_query(sql).execute(&mut db.connect().await).await.expect("SQL on the test database")
            }
        }
    }

    /// The one number `sql` computes, read on a connection of its own.
    async fn number(&self, sql: &str) -> i64 {
        let query = format!("({sql})");
        match self {
            Self::Sqlite(db) => {
                use diesel::RunQueryDsl as _;
                on_sqlite(db.path().to_owned(), move |connection| {
                    diesel::select(diesel::dsl::sql::<BigInt>(&query)).get_result(connection)
                })
                .await
            }
            Self::Postgres(db) => {
                use diesel_async::RunQueryDsl as _;
                let mut connection = db.connect().await;
                diesel::select(diesel::dsl::sql::<BigInt>(&query))
                    .get_result(&mut connection)
                    .await
                    .expect("SQL on the test database")
            }
        }
    }
}

/// Runs `work` on a new connection to the SQLite file at `path`, off the test's runtime. It waits for the
/// service's writer like any other connection would.
async fn on_sqlite<T: Send + 'static>(
    path: std::path::PathBuf,
    work: impl FnOnce(&mut diesel::SqliteConnection) -> diesel::QueryResult<T> + Send + 'static,
) -> T {
    use diesel::Connection as _;
    use diesel::connection::SimpleConnection as _;
    tokio::task::spawn_blocking(move || {
        let mut connection =
            diesel::SqliteConnection::establish(path.to_str().expect("a UTF-8 path")).expect("open the test database");
        connection.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;").expect("pragmas");
        work(&mut connection).expect("SQL on the test database")
    })
    .await
    .expect("the SQL task")
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub settings: Settings,
    pub db: TestDatabase,
    /// The port `/metrics` is served on when `server.metrics_address` gives it a listener of its own.
    pub metrics_port: Option<u16>,
}

/// Starts the application on a free port over a new database on `store`, or `None` when that is PostgreSQL and it is
/// not reachable outside CI (the skip is announced on stderr). Tokens are signed with an Ed25519 key generated in a
/// folder of the test's own.
pub async fn spawn_app(store: Store) -> Option<TestApp> {
    spawn_app_with(store, |_| {}).await
}

/// `spawn_app` with settings changed by `adjust` first.
pub async fn spawn_app_with(store: Store, adjust: impl FnOnce(&mut Settings)) -> Option<TestApp> {
    let db = TestDatabase::create(store).await?;
    let suffix = random_suffix();
    let keys_dir = std::env::temp_dir().join(format!("users-test-keys-{suffix}"));
    let secrets_dir = std::env::temp_dir().join(format!("users-test-secrets-{suffix}"));
    let mut settings = Settings {
        server: ServerSettings {
            host: "127.0.0.1".into(),
            port: 0,
            workers: 1,
            shutdown_timeout_secs: 1,
            request_timeout_secs: 5,
            max_connections: 1_000,
            metrics_address: None,
        },
        database: DatabaseSettings { max_connections: 4, ..DatabaseSettings::with_url(db.url()) },
        auth: AuthSettings {
            jwt_algorithm: None,
            jwt_keys_dir: keys_dir,
            jwt_signing_key_id: None,
            jwt_secret: None,
            jwt_secret_file: secrets_dir.join("jwt-secret"),
            access_token_ttl_secs: 900,
            refresh_token_ttl_days: 30,
            refresh_grace_secs: 10,
            refresh_secret: None,
            refresh_secret_file: None,
            lockout_threshold: 10,
            lockout_backstop: 100,
            lockout_first_wait_secs: 60,
            lockout_max_wait_secs: 900,
            reauthentication_secs: 300,
            password_hash_queue: 64,
            require_verified_email: false,
            totp_issuer: "Users".into(),
            totp_secret: None,
            totp_secret_file: None,
            totp_previous_secrets: Vec::new(),
        },
        // Off: the tests of the limits turn them on; the rest send many requests from one address.
        rate_limit: RateLimitSettings {
            auth_per_minute: 0,
            auth_burst: 0,
            trusted_proxies: Vec::new(),
            password_work_per_minute: 0,
            password_work_burst: 0,
        },
        // Each message an `.eml` file in a folder of the test's own, read back as a mail client would.
        mail: MailSettings {
            from: "Users <no-reply@example.com>".into(),
            link_base: None,
            product_name: "Users".into(),
            smtp_url: None,
            dir: std::env::temp_dir().join(format!("users-test-mail-{suffix}")),
            templates_dir: None,
        },
        audit: AuditSettings { retention_days: 365 },
    };
    adjust(&mut settings);
    let application = Application::build(&settings).expect("build the application");
    let address = format!("http://127.0.0.1:{}", application.port());
    let metrics_port = application.metrics_port();
    tokio::spawn(application.run_until_stopped());
    Some(TestApp { address, client: reqwest::Client::new(), settings, db, metrics_port })
}

fn random_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.settings.auth.jwt_keys_dir);
        let _ = std::fs::remove_dir_all(&self.settings.mail.dir);
        if let Some(secrets) = self.settings.auth.jwt_secret_file.parent() {
            let _ = std::fs::remove_dir_all(secrets);
        }
    }
}

/// What a sign-up or sign-in returned.
#[derive(Clone, Debug)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub user: Value,
}

impl Session {
    pub fn from_body(body: &Value) -> Self {
        Self {
            access_token: body["access_token"].as_str().expect("access_token").to_owned(),
            refresh_token: body["refresh_token"].as_str().expect("refresh_token").to_owned(),
            user: body["user"].clone(),
        }
    }

    pub fn id(&self) -> &str {
        self.user["id"].as_str().expect("user id")
    }

    /// What the access token says, read without checking it.
    pub fn claims(&self) -> Value {
        use base64::Engine as _;
        let payload = self.access_token.split('.').nth(1).expect("a JWT");
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url");
        serde_json::from_slice(&json).expect("JSON claims")
    }
}

/// A refresh-token secret for issuers the tests make themselves, of tokens this service does not accept.
pub fn refresh_secret() -> RefreshSecret {
    RefreshSecret::new(b"the tests' own refresh-token secret").expect("long enough")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.client.post(self.url(path)).json(body).send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.client.get(self.url(path)).bearer_auth(token).send().await.expect("request")
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> Response {
        self.client.put(self.url(path)).bearer_auth(token).json(body).send().await.expect("request")
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.client.delete(self.url(path)).bearer_auth(token).send().await.expect("request")
    }

    pub async fn register(&self, body: Value) -> Session {
        let response = self.post("/auth/register", &body).await;
        let (status, body) = status_and_json(response).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Session::from_body(&body)
    }

    /// Registers `email` with the standard test password.
    pub async fn register_user(&self, email: &str) -> Session {
        self.register(json!({ "email": email, "password": PASSWORD })).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post("/auth/login", &json!({ "email": email, "password": password })).await
    }

    /// Creates the admin through the same code as `users-server create-admin`, and signs it in.
    pub async fn admin(&self) -> Session {
        let password = async || Password::parse(PASSWORD);
        create_admin(&self.settings, ADMIN_EMAIL, ExistingAccount::Refuse, password).await.expect("create admin");
        let (status, body) = status_and_json(self.login(ADMIN_EMAIL, PASSWORD).await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        Session::from_body(&body)
    }

    /// Makes the account of `email` an admin, as `users-server create-admin --promote-existing` does.
    pub async fn promote(&self, email: &str) {
        let no_password = async || -> Result<Password, &'static str> { panic!("promoting asks for no password") };
        create_admin(&self.settings, email, ExistingAccount::Promote, no_password).await.expect("promote to admin");
    }

    /// A second instance of the service on the same database, as another process would be; its base URL.
    pub fn spawn_twin(&self) -> String {
        self.spawn_twin_with(&self.settings)
    }

    /// Another instance on the same database, with other settings (another signing key, say); its base URL.
    pub fn spawn_twin_with(&self, settings: &Settings) -> String {
        let application = Application::build(settings).expect("build the twin");
        let address = format!("http://127.0.0.1:{}", application.port());
        tokio::spawn(application.run_until_stopped());
        address
    }

    /// An access token for `session`'s user and session, signed with this instance's key as it would sign it, but
    /// saying the password was entered at `authenticated_at`: how a token looks minutes after its sign-in.
    pub fn token_authenticated_at(&self, session: &Session, authenticated_at: DateTime<Utc>) -> String {
        let issuer = self.issuer();
        let claims = issuer.verify_access_token(&session.access_token, Utc::now()).expect("the session's token");
        let subject = TokenSubject {
            user_id: claims.user_id,
            object_id: claims.object_id,
            session_id: claims.session_id,
            roles: claims.roles,
            authenticated_at,
        };
        issuer.issue_access_token(&subject, Utc::now()).expect("sign").token
    }

    /// An issuer of the access tokens this instance would issue: its signing key, and the refresh-token secret
    /// their sessions are sealed with.
    pub fn issuer(&self) -> JwtIssuer {
        JwtIssuer::ed25519(&self.signing_key(), &[], Duration::minutes(15), self.instance_refresh_secret()).unwrap()
    }

    /// The refresh-token secret this instance uses, read from its keys folder.
    pub fn instance_refresh_secret(&self) -> RefreshSecret {
        users_server::startup::refresh_secret(&self.settings.auth).expect("the instance's refresh-token secret")
    }

    /// The key pair this instance signs with, read from its keys folder.
    pub fn signing_key(&self) -> users_jwt::Ed25519KeyPair {
        users_server::key_ring::load_or_create(&self.settings.auth.jwt_keys_dir, None).expect("signing key").signing
    }

    pub async fn post_as(&self, path: &str, token: &str, body: &Value) -> Response {
        self.client.post(self.url(path)).bearer_auth(token).json(body).send().await.expect("request")
    }

    pub fn store(&self) -> Store {
        self.db.store()
    }

    /// Runs SQL straight on the database, to set up what would be slow through the API. Written to mean the same
    /// on both stores; [`TestApp::execute_per_store`] where the dialects differ.
    pub async fn execute(&self, sql: &str) {
        self.db.execute(sql).await;
    }

    /// Runs the SQL written for the test's store: `postgres` or `sqlite`.
    pub async fn execute_per_store(&self, postgres: &str, sqlite: &str) {
        self.db
            .execute(match self.store() {
                Store::Postgres => postgres,
                Store::Sqlite => sqlite,
            })
            .await;
    }

    /// A number computed by SQL straight from the database, behind the service's back (the same SQL on both stores:
    /// `CAST(x AS BIGINT)`, not `x::bigint`).
    pub async fn count(&self, sql: &str) -> i64 {
        self.db.number(sql).await
    }
}

/// A message the service sent, as a mail client shows it.
#[derive(Clone, Debug)]
pub struct ReceivedMail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl ReceivedMail {
    /// The `token` of the first link to `page` (`/reset-password`, `/verify-email`) in the text part.
    pub fn token(&self, page: &str) -> String {
        let marker = format!("{page}?token=");
        let start =
            self.text.find(&marker).unwrap_or_else(|| panic!("no {page} link in {:?}", self.text)) + marker.len();
        self.text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
    }
}

/// Every message in the mail folder `dir`, oldest first.
pub fn mails_in(dir: &std::path::Path) -> Vec<ReceivedMail> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut paths: Vec<_> = entries
        .map(|entry| entry.expect("a folder entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "eml"))
        .collect();
    paths.sort();
    paths.iter().map(|path| parse_mail(&std::fs::read(path).expect("a mail file"))).collect()
}

/// A message as RFC 5322 bytes, read as a mail client would (any transfer encoding).
pub fn parse_mail(raw: &[u8]) -> ReceivedMail {
    let message = mail_parser::MessageParser::default().parse(raw).expect("an RFC 5322 message");
    let to =
        message.to().and_then(|to| to.first()).and_then(|address| address.address()).expect("a recipient").to_owned();
    ReceivedMail {
        to,
        subject: message.subject().unwrap_or_default().to_owned(),
        text: message.body_text(0).expect("a text part").into_owned(),
        html: message.body_html(0).expect("an HTML part").into_owned(),
    }
}

impl TestApp {
    /// The messages delivered so far to `address`, oldest first.
    pub fn mails_to(&self, address: &str) -> Vec<ReceivedMail> {
        mails_in(&self.settings.mail.dir).into_iter().filter(|mail| mail.to.eq_ignore_ascii_case(address)).collect()
    }

    /// Waits (up to ten seconds) until `count` messages have been delivered to `address`, and returns them.
    pub async fn wait_for_mails(&self, address: &str, count: usize) -> Vec<ReceivedMail> {
        for _ in 0..100 {
            let mails = self.mails_to(address);
            if mails.len() >= count {
                return mails;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("{count} mail(s) to {address} expected, found {:?}", self.mails_to(address));
    }
}

pub async fn status_and_json(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON body") };
    (status, body)
}

/// Asserts a problem+json response of `status` and returns its body.
pub async fn assert_problem(response: Response, status: StatusCode) -> Value {
    let content_type = response.headers().get("content-type").map(|value| value.to_str().unwrap().to_owned());
    let (actual, body) = status_and_json(response).await;
    assert_eq!(actual, status, "{body}");
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    assert_eq!(body["status"], status.as_u16());
    assert!(body["type"].is_string() && body["title"].is_string() && body["detail"].is_string(), "{body}");
    body
}

/// Asserts a 401 that carries the bearer challenge.
pub async fn assert_unauthorized(response: Response) -> Value {
    let challenge = response.headers().get("www-authenticate").map(|value| value.to_str().unwrap().to_owned());
    assert!(challenge.is_some_and(|challenge| challenge.starts_with("Bearer")), "missing WWW-Authenticate: Bearer");
    assert_problem(response, StatusCode::UNAUTHORIZED).await
}

/// The `field` names of a validation problem's `errors`.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"].as_array().map_or_else(Vec::new, |errors| {
        errors.iter().map(|error| error["field"].as_str().unwrap_or_default().to_owned()).collect()
    })
}
