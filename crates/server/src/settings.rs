//! `Settings`: built-in defaults, then an optional TOML file, then `USERS__…` variables, then the plain variables
//! operators rely on (`DATABASE_URL`, `HOST`, `PORT`, `METRICS_ADDRESS`, `JWT_SECRET`, `JWT_ALGORITHM`,
//! `JWT_KEYS_DIR`, `JWT_SIGNING_KEY_ID`, `REFRESH_TOKEN_SECRET`, `TRUSTED_PROXIES`, `MAIL_SMTP_URL`).

use std::path::PathBuf;

use config::{Config, ConfigError, Environment, File};
use serde::Deserialize;

mod redaction;

pub use redaction::redact_url;

/// The embedded store, in a folder beside the working directory, so a first run needs no setup.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/users.db";

/// Where the settings file is looked for when `USERS_CONFIG` does not name one. It may be absent.
pub const DEFAULT_CONFIG_FILE: &str = "users.toml";

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub rate_limit: RateLimitSettings,
    pub mail: MailSettings,
    pub audit: AuditSettings,
}

/// How long the record of who did what is kept.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// Events older than this many days are pruned in the background (each instance looks every 10 minutes).
    pub retention_days: u32,
}

/// Where mail goes and what it looks like.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    /// The sender, `Name <address>` or an address.
    pub from: String,
    /// Where the links in mails point: the pages that finish each flow (`/reset-password`, `/verify-email`).
    /// Unset: this service's own address.
    pub link_base: Option<String>,
    /// The name mails and pages sign with.
    pub product_name: String,
    /// Unset: each message is written as an `.eml` file into `dir`. Set: `smtp://host:port` (plain, for local
    /// catchers), `smtp://user:pass@host:587?tls=required` (STARTTLS) or `smtps://user:pass@host:465` (TLS).
    pub smtp_url: Option<String>,
    pub dir: PathBuf,
    /// A folder of templates that replace the built-in ones, file by file.
    pub templates_dir: Option<PathBuf>,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("from", &self.from)
            .field("link_base", &self.link_base)
            .field("product_name", &self.product_name)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("dir", &self.dir)
            .field("templates_dir", &self.templates_dir)
            .finish()
    }
}

/// The per-address limits on `/auth/*`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Requests per minute each client address may make to `/auth/*` once its burst is spent; 0 turns limits off.
    pub auth_per_minute: u32,
    /// Requests an address may make at once.
    pub auth_burst: u32,
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` is believed. Empty: the peer is the client.
    pub trusted_proxies: Vec<String>,
    /// Passwords hashed per minute for one signed-in user (new passwords, passwords typed again, users an admin
    /// creates) once its burst is spent; 0 turns this limit off.
    pub password_work_per_minute: u32,
    pub password_work_burst: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// Worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    pub shutdown_timeout_secs: u64,
    /// Seconds a client gets to send a request's headers before the connection is closed, and again its body before
    /// it is answered 408 and the connection closed (slow-client defence); 0 turns both off.
    pub request_timeout_secs: u64,
    /// Open connections each worker accepts at most; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// `host:port` to serve `/metrics` on instead of the API's port, so a public API port does not expose it.
    pub metrics_address: Option<String>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: usize,
    /// How many admin lists (searches, filters, pages of users) read at once; more wait their turn. Twice the cores
    /// by default: a list needs a core of the database's, and more at once only lengthen the slowest.
    pub lists_at_once: usize,
    /// Milliseconds a request waits for a free pooled connection when all are busy (PostgreSQL).
    pub pool_wait_timeout_ms: u64,
    /// Milliseconds opening a connection (TCP, TLS, authentication) may take (PostgreSQL).
    pub connect_timeout_ms: u64,
    /// Milliseconds the check of a pooled connection before its reuse may take (PostgreSQL).
    pub recycle_timeout_ms: u64,
    /// The server cancels a statement running longer (`statement_timeout`, set per connection); 0 leaves the
    /// server's own (PostgreSQL).
    pub statement_timeout_ms: u64,
    /// Milliseconds one operation of a request may wait on the database in all (a free connection, connecting, its
    /// queries) before the request answers 503: a frozen network path reaches no server-side timeout (PostgreSQL).
    pub operation_timeout_ms: u64,
    /// Seconds of silence before TCP keepalive probes start; a peer silent about twice as long is given up; 0 turns
    /// keepalives off (PostgreSQL).
    pub tcp_keepalive_secs: u64,
    /// Milliseconds `/health/ready` waits for the database before answering 503 (both stores).
    pub ready_timeout_ms: u64,
    /// Signed-in users are answered from memory only while the change listener has proven, at most this many
    /// milliseconds ago, that it hears every change made elsewhere; past it they are read from the database
    /// (PostgreSQL).
    pub change_feed_max_lag_ms: u64,
}

/// How access tokens are signed.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(try_from = "String")]
pub enum JwtAlgorithm {
    /// Ed25519 keys from `jwt_keys_dir`; their public halves are served at `/.well-known/jwks.json`.
    EdDSA,
    /// One shared secret (`jwt_secret`), for setups where every verifier may hold it.
    HS256,
}

impl TryFrom<String> for JwtAlgorithm {
    type Error = String;

    /// Spelled as in a JWT header; the error lists what is allowed, since serde's own names none for a string.
    fn try_from(name: String) -> Result<Self, String> {
        match name.as_str() {
            "EdDSA" => Ok(Self::EdDSA),
            "HS256" => Ok(Self::HS256),
            other => Err(format!("unknown JWT algorithm {other:?}: use \"EdDSA\" or \"HS256\"")),
        }
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Unset: HS256 when a `jwt_secret` is configured (as before keys existed), else EdDSA.
    pub jwt_algorithm: Option<JwtAlgorithm>,
    /// The EdDSA keys, one `<kid>.pem` each; generated on a first start when the folder is empty.
    pub jwt_keys_dir: PathBuf,
    /// The key that signs; unset: the private key with the greatest id (the newest generated one).
    pub jwt_signing_key_id: Option<String>,
    /// The HS256 signing secret. When empty, one is generated once and kept in `jwt_secret_file`.
    pub jwt_secret: Option<String>,
    pub jwt_secret_file: PathBuf,
    /// The secret successor refresh tokens are derived with, shared by every instance; unset: generated once and
    /// kept in `refresh_secret_file`.
    pub refresh_secret: Option<String>,
    /// Unset: `refresh-token.secret` beside the signing material (in `jwt_keys_dir` for EdDSA, beside
    /// `jwt_secret_file` for HS256), so it travels with what every instance already shares.
    pub refresh_secret_file: Option<PathBuf>,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_days: i64,
    /// Seconds after a refresh token's first use during which presenting it again returns the same new pair (two
    /// tabs refreshing together) instead of ending the session as a replay.
    pub refresh_grace_secs: i64,
    /// Failed sign-ins in a row after which an account refuses sign-ins for a while.
    pub lockout_threshold: u32,
    /// Failed sign-ins in a row from all networks together after which an account refuses sign-ins from everywhere
    /// for a while: the backstop against guessing spread over many networks.
    pub lockout_backstop: u32,
    /// The first refusal's length; each further failure doubles it.
    pub lockout_first_wait_secs: i64,
    pub lockout_max_wait_secs: i64,
    /// A session whose password was entered this many seconds ago or less may change the password or email, or
    /// delete the account, without `current_password`.
    pub reauthentication_secs: i64,
    /// Password hashes that may wait for a hashing thread; beyond them, requests get 503 at once.
    pub password_hash_queue: usize,
    /// A correct sign-in of an account whose address is not verified is refused (403 `email-not-verified`).
    pub require_verified_email: bool,
    /// The name authenticator apps show beside a user's TOTP entry.
    pub totp_issuer: String,
    /// The secret (32+ bytes) TOTP secrets are sealed with at rest, shared by every instance; unset: generated once
    /// and kept in `totp_secret_file`.
    pub totp_secret: Option<String>,
    /// Unset: `totp.secret` beside the refresh-token secret, so it travels with what every instance already shares.
    pub totp_secret_file: Option<PathBuf>,
    /// Earlier sealing secrets, still opened: after a rotation each TOTP secret is sealed again with the current one
    /// at its next use, and an old one can be dropped once none is left under it.
    pub totp_previous_secrets: Vec<String>,
}

impl Settings {
    /// Reads the layers in order; `config_file` overrides `USERS_CONFIG` and the default file name. A file that is
    /// named (by either) must exist; the default one may be absent. A key that no setting has, in the file or in a
    /// `USERS__` variable, is an error that names it: a typo must not leave a default silently in force.
    pub fn load(config_file: Option<PathBuf>) -> Result<Self, ConfigError> {
        let named = config_file.or_else(|| std::env::var_os("USERS_CONFIG").map(PathBuf::from));
        let required = named.is_some();
        let file = named.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE));
        let plain = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        Config::builder()
            .set_default("server.host", "127.0.0.1")?
            .set_default("server.port", 8080)?
            .set_default("server.workers", 0)?
            .set_default("server.shutdown_timeout_secs", 30)?
            .set_default("server.request_timeout_secs", 10)?
            .set_default("server.max_connections", 10_000)?
            .set_default("database.url", DEFAULT_DATABASE_URL)?
            .set_default("database.max_connections", 16)?
            .set_default("database.lists_at_once", users_store::default_lists_at_once() as u64)?
            .set_default("database.pool_wait_timeout_ms", 3_000)?
            .set_default("database.connect_timeout_ms", 3_000)?
            .set_default("database.recycle_timeout_ms", 1_000)?
            .set_default("database.statement_timeout_ms", 5_000)?
            .set_default("database.operation_timeout_ms", 8_000)?
            .set_default("database.tcp_keepalive_secs", 30)?
            .set_default("database.ready_timeout_ms", 2_000)?
            .set_default("database.change_feed_max_lag_ms", 1_000)?
            .set_default("auth.jwt_keys_dir", "data/jwt-keys")?
            .set_default("auth.jwt_secret_file", "data/jwt-secret")?
            .set_default("auth.access_token_ttl_secs", 15 * 60)?
            .set_default("auth.refresh_token_ttl_days", 30)?
            .set_default("auth.refresh_grace_secs", 10)?
            .set_default("auth.lockout_threshold", 10)?
            .set_default("auth.lockout_backstop", 100)?
            .set_default("auth.reauthentication_secs", 300)?
            .set_default("auth.password_hash_queue", 64)?
            .set_default("auth.lockout_first_wait_secs", 60)?
            .set_default("auth.lockout_max_wait_secs", 15 * 60)?
            .set_default("auth.require_verified_email", false)?
            .set_default("auth.totp_issuer", "Users")?
            .set_default("auth.totp_previous_secrets", Vec::<String>::new())?
            .set_default("mail.from", "Users <no-reply@localhost>")?
            .set_default("mail.product_name", "Users")?
            .set_default("mail.dir", "data/mail")?
            .set_default("audit.retention_days", 365)?
            .set_default("rate_limit.auth_per_minute", 30)?
            .set_default("rate_limit.auth_burst", 20)?
            .set_default("rate_limit.trusted_proxies", Vec::<String>::new())?
            .set_default("rate_limit.password_work_per_minute", 10)?
            .set_default("rate_limit.password_work_burst", 5)?
            .add_source(File::from(file).required(required))
            .add_source(Environment::with_prefix("USERS").prefix_separator("__").separator("__"))
            .set_override_option("database.url", plain("DATABASE_URL"))?
            .set_override_option("server.host", plain("HOST"))?
            .set_override_option("server.port", plain("PORT"))?
            .set_override_option("server.metrics_address", plain("METRICS_ADDRESS"))?
            .set_override_option("auth.jwt_secret", plain("JWT_SECRET"))?
            .set_override_option("auth.jwt_algorithm", plain("JWT_ALGORITHM"))?
            .set_override_option("auth.jwt_keys_dir", plain("JWT_KEYS_DIR"))?
            .set_override_option("auth.jwt_signing_key_id", plain("JWT_SIGNING_KEY_ID"))?
            .set_override_option("auth.refresh_secret", plain("REFRESH_TOKEN_SECRET"))?
            .set_override_option("auth.totp_secret", plain("TOTP_SECRET"))?
            .set_override_option(
                "auth.totp_previous_secrets",
                plain("TOTP_PREVIOUS_SECRETS").map(|list| comma_list(&list)),
            )?
            .set_override_option("rate_limit.trusted_proxies", plain("TRUSTED_PROXIES").map(|list| comma_list(&list)))?
            .set_override_option("mail.smtp_url", plain("MAIL_SMTP_URL"))?
            .build()?
            .try_deserialize()
    }
}

/// `"a, b,,c"` as `["a", "b", "c"]`.
fn comma_list(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|entry| !entry.is_empty()).map(str::to_owned).collect()
}

impl DatabaseSettings {
    /// The built-in defaults (those of [`Settings::load`]) for the database at `url`.
    pub fn with_url(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            lists_at_once: users_store::default_lists_at_once(),
            pool_wait_timeout_ms: 3_000,
            connect_timeout_ms: 3_000,
            recycle_timeout_ms: 1_000,
            statement_timeout_ms: 5_000,
            operation_timeout_ms: 8_000,
            tcp_keepalive_secs: 30,
            ready_timeout_ms: 2_000,
            change_feed_max_lag_ms: 1_000,
        }
    }

    /// The PostgreSQL store's options from these settings.
    pub fn postgres_options(&self) -> users_postgres::PgOptions {
        use std::time::Duration;
        users_postgres::PgOptions {
            max_connections: self.max_connections,
            lists_at_once: self.lists_at_once,
            pool_wait_timeout: Duration::from_millis(self.pool_wait_timeout_ms),
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            recycle_timeout: Duration::from_millis(self.recycle_timeout_ms),
            statement_timeout: Duration::from_millis(self.statement_timeout_ms),
            operation_timeout: Duration::from_millis(self.operation_timeout_ms),
            tcp_keepalive: Duration::from_secs(self.tcp_keepalive_secs),
            change_feed_max_lag: self.change_feed_max_lag(),
        }
    }

    /// How stale signed-in users answered from memory may be (`CachedSessions`, on any store).
    pub fn change_feed_max_lag(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.change_feed_max_lag_ms)
    }

    /// How long `/health/ready` waits for the database: the server's deadline, and what the healthcheck allows for.
    pub fn ready_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.ready_timeout_ms)
    }

    /// The URL with every password in it masked, for logs, messages and errors.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// `text` (an error's message, say) with the URL and every password in it masked.
    pub fn scrub(&self, text: &str) -> String {
        redaction::scrub(&self.url, text)
    }
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &self.redacted_url())
            .field("max_connections", &self.max_connections)
            .field("lists_at_once", &self.lists_at_once)
            .field("pool_wait_timeout_ms", &self.pool_wait_timeout_ms)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("recycle_timeout_ms", &self.recycle_timeout_ms)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .field("operation_timeout_ms", &self.operation_timeout_ms)
            .field("tcp_keepalive_secs", &self.tcp_keepalive_secs)
            .field("ready_timeout_ms", &self.ready_timeout_ms)
            .field("change_feed_max_lag_ms", &self.change_feed_max_lag_ms)
            .finish()
    }
}

impl AuthSettings {
    /// Where the refresh-token secret is kept when it is not configured.
    pub fn refresh_secret_path(&self) -> PathBuf {
        const NAME: &str = "refresh-token.secret";
        self.refresh_secret_file.clone().unwrap_or_else(|| match self.algorithm() {
            JwtAlgorithm::EdDSA => self.jwt_keys_dir.join(NAME),
            JwtAlgorithm::HS256 => self.jwt_secret_file.with_file_name(NAME),
        })
    }

    /// Where the TOTP sealing secret is kept when it is not configured.
    pub fn totp_secret_path(&self) -> PathBuf {
        self.totp_secret_file.clone().unwrap_or_else(|| self.refresh_secret_path().with_file_name("totp.secret"))
    }

    pub fn algorithm(&self) -> JwtAlgorithm {
        self.jwt_algorithm.unwrap_or(if self.jwt_secret.is_some() { JwtAlgorithm::HS256 } else { JwtAlgorithm::EdDSA })
    }
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("jwt_algorithm", &self.algorithm())
            .field("jwt_keys_dir", &self.jwt_keys_dir)
            .field("jwt_signing_key_id", &self.jwt_signing_key_id)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "<redacted>"))
            .field("jwt_secret_file", &self.jwt_secret_file)
            .field("refresh_secret", &self.refresh_secret.as_ref().map(|_| "<redacted>"))
            .field("refresh_secret_path", &self.refresh_secret_path())
            .field("access_token_ttl_secs", &self.access_token_ttl_secs)
            .field("refresh_token_ttl_days", &self.refresh_token_ttl_days)
            .field("lockout_threshold", &self.lockout_threshold)
            .field("lockout_backstop", &self.lockout_backstop)
            .field("reauthentication_secs", &self.reauthentication_secs)
            .field("password_hash_queue", &self.password_hash_queue)
            .field("require_verified_email", &self.require_verified_email)
            .field("totp_issuer", &self.totp_issuer)
            .field("totp_secret", &self.totp_secret.as_ref().map(|_| "<redacted>"))
            .field("totp_secret_path", &self.totp_secret_path())
            .field("totp_previous_secrets", &self.totp_previous_secrets.len())
            .finish_non_exhaustive()
    }
}
