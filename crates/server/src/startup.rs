//! Wiring: the store chosen by the database URL (PostgreSQL or the embedded SQLite) behind the signed-in cache, Argon2
//! and JWT adapters into the `UserService`, served by actix-web.

use std::net::{SocketAddr, TcpListener};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use chrono::Duration;
use tracing_actix_web::TracingLogger;
use users_app::{
    Adapters, EmailPolicy, ExistingAccount, LockoutPolicy, MailDelivery, ProvisionAdminError, ProvisionedAdmin, Purged,
    RetryPolicy, SessionPolicy, SystemClock, UserService,
};
use users_argon2::Argon2Hasher;
use users_domain::{Email, Password};
use users_http::{
    AuthRateLimiter, BodyDeadline, InvalidProxy, PasswordWorkLimiter, RateLimitPolicy, ReadyDeadline, RequestSpan,
    TrustedProxies, limit_auth_requests, limit_body_time, request_id_and_metrics,
};
use users_jwt::{JwtConfigError, JwtIssuer, RefreshSecret};
use users_mail::{Composer, TokenLifetimes, Transport};
use users_ports::{Mail, MailContent, MailSender as _, PasswordHashError, StoreError};
use users_postgres::PgChangeFeed;
use users_store::{CachedSessions, Store, StoreAuditLog, StoreOneTimeTokens, StoreSessions, StoreUsers};
use users_totp::{SealingKeys, TotpCodes};

use crate::import::ImportReport;
use crate::key_ring::{self, KeyRingError};
use crate::mail;
use crate::secret::{self, SecretError};
use crate::settings::{AuthSettings, JwtAlgorithm, Settings, redact_url};
use crate::telemetry;

/// The store as the service uses it, whichever database it runs on: signed-in users remembered while a change feed
/// proves it hears every change made elsewhere.
pub type CachedStore = CachedSessions<StoreUsers, StoreSessions, StoreOneTimeTokens, users_store::StoreSecondFactors>;

/// The production adapters.
#[derive(Debug)]
pub struct Production;

impl Adapters for Production {
    type Users = CachedStore;
    type Sessions = CachedStore;
    type OneTimeTokens = CachedStore;
    type Audit = StoreAuditLog;
    type Hasher = Argon2Hasher;
    type Tokens = JwtIssuer;
    type Clock = SystemClock;
    type SecondFactors = CachedStore;
    type OneTimePasswords = TotpCodes;
    type Sealer = SealingKeys;
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The URL as [`redact_url`] shows it.
    #[error("unsupported DATABASE_URL {0:?}: use postgres://… or sqlite://PATH")]
    UnsupportedDatabaseUrl(String),
    /// The URL as [`redact_url`] shows it.
    #[error(
        "DATABASE_URL {0:?} names no database: add one, as in postgres://HOST:5432/users (the server's own \
         `postgres` database is not for the service's tables)"
    )]
    NoDatabaseName(String),
    /// The store by its redacted URL, and what went wrong with anything that looks like its password masked.
    #[error("database {store}: {message}")]
    Database { store: String, message: String },
    #[error("secret: {0}")]
    Secret(#[from] SecretError),
    #[error("JWT signing keys: {0}")]
    Keys(#[from] KeyRingError),
    #[error("JWT settings: {0}")]
    Jwt(#[from] JwtConfigError),
    #[error("trusted proxies: {0}")]
    TrustedProxy(#[from] InvalidProxy),
    #[error("password hasher: {0}")]
    Hasher(#[from] PasswordHashError),
    #[error("TOTP settings: {0}")]
    Totp(String),
    #[error("cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
    #[error("invalid admin credentials: {0}")]
    InvalidAdmin(String),
    #[error("mail settings: {0}")]
    Mail(String),
    #[error("invalid recipient: {0}")]
    InvalidRecipient(String),
    #[error("cannot open {path}: {error}")]
    ImportFile { path: String, error: std::io::Error },
    /// Scrubbed of the database URL and password like [`StartupError::Database`]'s.
    #[error("import: {0}")]
    Import(String),
    /// The transport as `Transport::describe` shows it, without a password, and why it did not take the message.
    #[error("the message was not accepted by {transport}: {cause}")]
    MailNotSent { transport: String, cause: String },
    #[error(
        "{email} already has an account in {store}; it was left as it is. To make that account an admin (it keeps its \
         own password), run create-admin again with --promote-existing"
    )]
    ExistingAccount { email: String, store: String },
    /// The cause's message, scrubbed of the database URL and password like [`StartupError::Database`]'s.
    #[error("creating the admin failed: {0}")]
    Provision(String),
}

/// Which store a database URL names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreLocation {
    Postgres(String),
    /// `sqlite://PATH`: `sqlite://data/users.db` is relative, `sqlite:///var/lib/users.db` absolute.
    Sqlite(PathBuf),
}

impl StoreLocation {
    pub fn parse(url: &str) -> Result<Self, StartupError> {
        if let Some(rest) = url.strip_prefix("postgres://").or_else(|| url.strip_prefix("postgresql://")) {
            if !names_a_database(rest) {
                return Err(StartupError::NoDatabaseName(redact_url(url)));
            }
            return Ok(Self::Postgres(url.to_owned()));
        }
        match url.strip_prefix("sqlite://") {
            Some(path) if !path.is_empty() => Ok(Self::Sqlite(PathBuf::from(path))),
            _ => Err(StartupError::UnsupportedDatabaseUrl(redact_url(url))),
        }
    }
}

/// Whether a PostgreSQL URL after its scheme names a database, in its path or, as libpq also reads it, in a `dbname`
/// parameter. libpq would fall back to the user's name, and the server's default is `postgres`: neither is likely
/// the service's database.
fn names_a_database(after_scheme: &str) -> bool {
    let (location, query) = after_scheme.split_once('?').unwrap_or((after_scheme, ""));
    let path = location.split_once('/').map_or("", |(_, path)| path);
    !path.is_empty() || query.split('&').any(|pair| pair.strip_prefix("dbname=").is_some_and(|name| !name.is_empty()))
}

/// The store the database URL names, and the feed of the changes made to it elsewhere when it has one (without, the
/// signed-in cache never answers from memory: an embedded SQLite file is not shared by running instances).
fn open_store(settings: &Settings) -> Result<(Store, Option<PgChangeFeed>), StartupError> {
    let database = |error| database_error(settings, error);
    let options = settings.database.postgres_options();
    Ok(match StoreLocation::parse(&settings.database.url)? {
        StoreLocation::Postgres(url) => (
            users_postgres::store(&url, &options).map_err(database)?,
            Some(users_postgres::change_feed(&url, &options).map_err(database)?),
        ),
        StoreLocation::Sqlite(path) => (
            users_sqlite::store(&path, settings.database.max_connections, settings.database.lists_at_once)
                .map_err(database)?,
            None,
        ),
    })
}

/// `store` behind the signed-in cache, which answers from memory only while a followed feed proves itself.
fn cached(store: &Store, settings: &Settings) -> CachedStore {
    CachedSessions::new(
        store.users(),
        store.sessions(),
        store.one_time_tokens(),
        store.second_factors(),
        settings.database.change_feed_max_lag(),
    )
}

/// Applies pending migrations (creating the SQLite file and its folder if needed) and returns their names.
pub async fn migrate(settings: &Settings) -> Result<Vec<String>, StartupError> {
    let applied = match StoreLocation::parse(&settings.database.url)? {
        StoreLocation::Postgres(url) => {
            users_postgres::run_migrations_with(&url, &settings.database.postgres_options()).await
        }
        StoreLocation::Sqlite(path) => users_sqlite::run_migrations(&path).await,
    };
    applied.map_err(|error| database_error(settings, error))
}

/// Errors of the drivers name no password today; a future one that quotes the URL must not print it either.
fn database_error(settings: &Settings, error: StoreError) -> StartupError {
    let message = settings.database.scrub(&error.to_string());
    StartupError::Database { store: settings.database.redacted_url(), message }
}

/// The use cases over the store and the configured hasher and token issuer.
fn service(
    store: CachedStore,
    audit: StoreAuditLog,
    settings: &Settings,
) -> Result<UserService<Production>, StartupError> {
    let tokens = token_issuer(&settings.auth)?;
    let auth = &settings.auth;
    let lockout = LockoutPolicy {
        threshold: auth.lockout_threshold,
        backstop: auth.lockout_backstop,
        first_wait: Duration::seconds(auth.lockout_first_wait_secs),
        max_wait: Duration::seconds(auth.lockout_max_wait_secs),
    };
    let policy = SessionPolicy {
        refresh_token_ttl: Duration::days(auth.refresh_token_ttl_days),
        refresh_grace: Duration::seconds(auth.refresh_grace_secs),
        lockout,
        reauthentication: Duration::seconds(auth.reauthentication_secs),
        email: email_policy(settings),
        audit_retention: Duration::days(i64::from(settings.audit.retention_days)),
    };
    let hasher = Argon2Hasher::new(auth.password_hash_queue)?;
    let totp = totp(auth)?;
    let repositories = users_app::Store {
        users: store.clone(),
        sessions: store.clone(),
        one_time_tokens: store.clone(),
        second_factors: store,
        audit,
    };
    Ok(UserService::new(repositories, hasher, tokens, totp, SystemClock, policy))
}

/// The TOTP arithmetic under the configured issuer, and the sealing keys: the configured (or kept) secret and the
/// earlier ones.
fn totp(auth: &AuthSettings) -> Result<users_app::Totp<Production>, StartupError> {
    let codes = TotpCodes::new(auth.totp_issuer.clone()).map_err(|error| StartupError::Totp(error.to_string()))?;
    let current = match &auth.totp_secret {
        Some(configured) => sealing_secret("auth.totp_secret", configured)?,
        None => secret::load_or_create(None, &auth.totp_secret_path())?,
    };
    let previous =
        auth.totp_previous_secrets.iter().map(|configured| sealing_secret("auth.totp_previous_secrets", configured));
    let previous = previous.collect::<Result<Vec<_>, _>>()?;
    let sealer = SealingKeys::new(current, previous).map_err(|error| StartupError::Totp(error.to_string()))?;
    tracing::info!(key_id = %sealer.current_key_id(), previous = ?sealer.previous_key_ids(), "sealing TOTP secrets");
    Ok(users_app::Totp { codes, sealer })
}

/// A configured sealing secret: base64, the form `totp.secret` keeps a generated one in, so that the file's content
/// can be moved into the settings (to share it, or to retire it as a previous secret) as it is.
fn sealing_secret(setting: &str, configured: &str) -> Result<Vec<u8>, StartupError> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(configured.trim()).map_err(|_| {
        StartupError::Totp(format!(
            "{setting} must be base64 (as `openssl rand -base64 48` prints one), as totp.secret keeps it"
        ))
    })
}

/// How the mailed tokens behave: the service's rules, and what its messages say of them.
fn email_policy(settings: &Settings) -> EmailPolicy {
    EmailPolicy { require_verified_email: settings.auth.require_verified_email, ..EmailPolicy::default() }
}

/// The refresh-token secret these settings name (configured, or kept in its file, generated there the first time):
/// successors are derived with it and access tokens seal their session with it.
pub fn refresh_secret(auth: &AuthSettings) -> Result<RefreshSecret, StartupError> {
    let material = secret::load_or_create(auth.refresh_secret.as_deref(), &auth.refresh_secret_path())?;
    Ok(RefreshSecret::new(&material)?)
}

/// Signs with the configured algorithm: Ed25519 keys from their folder, or the shared secret.
fn token_issuer(auth: &AuthSettings) -> Result<JwtIssuer, StartupError> {
    let ttl = Duration::seconds(auth.access_token_ttl_secs);
    let refresh_secret = refresh_secret(auth)?;
    Ok(match auth.algorithm() {
        JwtAlgorithm::EdDSA => {
            let ring = key_ring::load_or_create(&auth.jwt_keys_dir, auth.jwt_signing_key_id.as_deref())?;
            tracing::info!(
                signing_key_id = %ring.signing.key_id(),
                also_trusted = ring.also_trusted.len(),
                "signing access tokens with EdDSA"
            );
            JwtIssuer::ed25519(&ring.signing, &ring.also_trusted, ttl, refresh_secret)?
        }
        JwtAlgorithm::HS256 => {
            let secret = secret::load_or_create(auth.jwt_secret.as_deref(), &auth.jwt_secret_file)?;
            JwtIssuer::hs256(&secret, ttl, refresh_secret)?
        }
    })
}

/// Makes sure `email` has an admin account: creates it with the password `new_password` gives (asked only then), or,
/// when `existing` allows, gives the admin role to the account that already has the email.
pub async fn create_admin<E>(
    settings: &Settings,
    email: &str,
    existing: ExistingAccount,
    new_password: impl AsyncFnOnce() -> Result<Password, E>,
) -> Result<ProvisionedAdmin, StartupError>
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let email = Email::parse(email).map_err(|error| StartupError::InvalidAdmin(format!("email {error}")))?;
    // The change feed is left alone: a one-off command remembers nothing.
    let (store, _feed) = open_store(settings)?;
    let service = service(cached(&store, settings), store.audit_log(), settings)?;
    let provisioned = service.provision_admin(email.clone(), existing, new_password).await;
    provisioned.map_err(|error| match error {
        ProvisionAdminError::ExistingAccount => {
            StartupError::ExistingAccount { email: email.to_string(), store: settings.database.redacted_url() }
        }
        other => StartupError::Provision(settings.database.scrub(&other.to_string())),
    })
}

/// Brings the users `file` lists over into the store the settings name (see [`crate::import`]), telling `progress`
/// how far it is on a long file.
pub async fn import_users(
    settings: &Settings,
    file: &std::path::Path,
    progress: impl FnMut(&ImportReport),
) -> Result<ImportReport, StartupError> {
    let opened = std::fs::File::open(file)
        .map_err(|error| StartupError::ImportFile { path: file.display().to_string(), error })?;
    // The change feed is left alone: a one-off command remembers nothing.
    let (store, _feed) = open_store(settings)?;
    let service = service(cached(&store, settings), store.audit_log(), settings)?;
    let lines = std::io::BufReader::new(opened);
    crate::import::import_lines(lines, |user| service.import_user(user), progress)
        .await
        .map_err(|error| StartupError::Import(settings.database.scrub(&error.to_string())))
}

/// The transport `mail.*` names: SMTP when `mail.smtp_url` is set, otherwise `.eml` files in `mail.dir`. Links
/// point at `mail.link_base`, or else at this service's own address.
fn mail_transport(settings: &Settings, port: u16) -> Result<Transport, StartupError> {
    let mail = &settings.mail;
    let link_base = match &mail.link_base {
        Some(base) => base.clone(),
        None => own_address(&settings.server.host, port),
    };
    let link_base = url::Url::parse(&link_base)
        .map_err(|error| StartupError::Mail(format!("mail.link_base {link_base:?} is not a URL: {error}")))?;
    // The lifetimes the service gives the tokens, for the messages to state.
    let policy = email_policy(settings);
    let lifetime = |lifetime: Duration| lifetime.to_std().unwrap_or_default();
    let composer = Composer::new(users_mail::MailSettings {
        from: mail.from.clone(),
        link_base,
        product_name: mail.product_name.clone(),
        templates_dir: mail.templates_dir.clone(),
        lifetimes: TokenLifetimes {
            verify_email: lifetime(policy.verification_ttl),
            reset_password: lifetime(policy.reset_ttl),
        },
    })
    .map_err(|error| StartupError::Mail(error.to_string()))?;
    Transport::new(mail.smtp_url.as_deref(), mail.dir.clone(), composer)
        .map_err(|error| StartupError::Mail(error.to_string()))
}

/// Where this service answers, as a browser on this machine would reach it: a wildcard address is not one to
/// link to, so it becomes `localhost` (set `mail.link_base` to the public address instead).
fn own_address(host: &str, port: u16) -> String {
    let host = match host {
        "0.0.0.0" | "::" | "[::]" => "localhost",
        host if host.contains(':') && !host.starts_with('[') => return format!("http://[{host}]:{port}"),
        host => host,
    };
    format!("http://{host}:{port}")
}

/// Sends one test message to `to` through the configured transport; the transport as described, once it took it.
pub async fn send_test_mail(settings: &Settings, to: &str) -> Result<String, StartupError> {
    let to = Email::parse(to).map_err(|error| StartupError::InvalidRecipient(format!("{to:?}: {error}")))?;
    let transport = mail_transport(settings, settings.server.port)?;
    let described = transport.describe();
    let test = Mail { to, content: MailContent::Test };
    match transport.send(&test).await {
        Ok(()) => Ok(described),
        Err(error) => Err(StartupError::MailNotSent { transport: described, cause: error.to_string() }),
    }
}

/// How often ended sessions and idle sign-in counts are purged. Every instance purges; the work is idempotent.
const PURGE_EVERY: StdDuration = StdDuration::from_secs(10 * 60);

/// A bound, not yet running server, its housekeeping, and the metrics listener when `/metrics` has one of its own.
pub struct Application {
    port: u16,
    server: Server,
    housekeeping: tokio::task::JoinHandle<()>,
    mail_delivery: tokio::task::JoinHandle<()>,
    metrics: Option<(SocketAddr, Server)>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .field("metrics_address", &self.metrics_address())
            .finish_non_exhaustive()
    }
}

/// Binds `address` (port 0 picks a free one); returns the listener and the address it got.
fn bind(address: &str) -> Result<(TcpListener, SocketAddr), StartupError> {
    let bind_error = |source| StartupError::Bind { address: address.to_owned(), source };
    let listener = TcpListener::bind(address).map_err(bind_error)?;
    let bound = listener.local_addr().map_err(bind_error)?;
    Ok((listener, bound))
}

impl Application {
    /// Binds the listening sockets (port 0 picks a free one) and prepares the servers over the configured store; the
    /// caller runs them.
    pub fn build(settings: &Settings) -> Result<Self, StartupError> {
        // The recorder first: what the adapters register from here on (the store's gauges as it starts among them) is
        // kept, and shown from the first scrape.
        telemetry::metrics();
        users_argon2::describe_metrics();
        users_http::describe_metrics();
        mail::describe_metrics();
        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let bind_error = |source| StartupError::Bind { address: address.clone(), source };
        let (listener, bound) = bind(&address)?;
        let port = bound.port();
        let metrics_listener = settings.server.metrics_address.as_deref().map(bind).transpose()?;
        let limits = RequestLimits::from_settings(settings)?;
        let (store, feed) = open_store(settings)?;
        let transport = mail_transport(settings, port)?;
        tracing::info!(transport = %transport.describe(), "mail");
        let delivery = MailDelivery::new(store.outbox(), transport, SystemClock, RetryPolicy::default());
        let audit = store.audit_log();
        let store = cached(&store, settings);
        if let Some(feed) = feed {
            // Ends once the cache is gone with the service.
            tokio::spawn(store.follow(feed));
        }
        let service = Arc::new(service(store, audit, settings)?);
        let server = serve(Arc::clone(&service), limits, listener, settings);
        let housekeeping = tokio::spawn(keep_house(service));
        let mail_delivery = tokio::spawn(mail::deliver(delivery));
        let server = server.map_err(bind_error)?;
        // Started only once the API server is, so a failed start leaves no metrics server behind.
        let metrics = match metrics_listener {
            Some((listener, bound)) => {
                let server = serve_metrics(listener, settings)
                    .map_err(|source| StartupError::Bind { address: bound.to_string(), source })?;
                Some((bound, server))
            }
            None => None,
        };
        Ok(Self { port, server, housekeeping, mail_delivery, metrics })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where `/metrics` is served when it has a listener of its own (`server.metrics_address`); `None`: on the API's.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(address, _)| *address)
    }

    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_address().map(|address| address.port())
    }

    /// Serves until SIGTERM or SIGINT, then lets in-flight requests finish (SIGQUIT: stops at once). The metrics
    /// listener stops with the API.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        tokio::spawn(stop_on_signal(self.server.handle()));
        // Stopped with the API. A message being delivered at that moment is claimed again once its lease ends.
        let background = [self.housekeeping, self.mail_delivery];
        let stop_background = || background.iter().for_each(tokio::task::JoinHandle::abort);
        let Some((_, metrics)) = self.metrics else {
            let served = self.server.await;
            stop_background();
            return served;
        };
        let stop_metrics = metrics.handle();
        let api = async {
            let served = self.server.await;
            stop_background();
            stop_metrics.stop(true).await;
            served
        };
        let (api, metrics) = tokio::join!(api, metrics);
        api.and(metrics)
    }
}

/// Stops the server on the first of SIGTERM, SIGINT (Ctrl-C) or SIGQUIT. actix's own handling stops at once on
/// SIGINT, dropping in-flight requests, some after their write: here SIGINT drains like SIGTERM, as an operator
/// pressing Ctrl-C expects, and only SIGQUIT does not wait.
async fn stop_on_signal(server: actix_web::dev::ServerHandle) {
    use tokio::signal::unix::{SignalKind, signal};
    let (terminate, interrupt, quit) =
        (signal(SignalKind::terminate()), signal(SignalKind::interrupt()), signal(SignalKind::quit()));
    let (Ok(mut terminate), Ok(mut interrupt), Ok(mut quit)) = (terminate, interrupt, quit) else {
        tracing::error!("cannot listen for stop signals; stop the server with SIGKILL");
        return;
    };
    let (name, graceful) = tokio::select! {
        _ = terminate.recv() => ("SIGTERM", true),
        _ = interrupt.recv() => ("SIGINT", true),
        _ = quit.recv() => ("SIGQUIT", false),
    };
    if graceful {
        tracing::info!("{name} received: finishing the requests under way, then stopping");
    } else {
        tracing::info!("{name} received: stopping now");
    }
    server.stop(graceful).await;
}

/// Purges what no request can use any more, now and then, for as long as the server runs.
async fn keep_house<A: Adapters>(service: Arc<UserService<A>>) {
    let mut ticks = tokio::time::interval(PURGE_EVERY);
    loop {
        ticks.tick().await;
        match service.purge_ended().await {
            Ok(Purged { sessions: 0, login_throttles: 0, one_time_tokens: 0, audit_events: 0 }) => {}
            Ok(Purged { sessions, login_throttles, one_time_tokens, audit_events }) => tracing::info!(
                sessions,
                login_throttles,
                one_time_tokens,
                audit_events,
                "purged ended sessions, idle sign-in counts, spent mailed tokens and audit events past retention"
            ),
            Err(error) => tracing::warn!(%error, "purging ended sessions failed; trying again later"),
        }
    }
}

/// Who a request comes from, and the limits on it, shared by every worker: per client address on `/auth/*`, and
/// per user on password work.
struct RequestLimits {
    /// Registered even with the limits off: every reader of a request's client (`ClientOrigin`) uses them.
    proxies: web::Data<TrustedProxies>,
    /// `None` when the limits on `/auth/*` are turned off.
    auth: Option<web::Data<AuthRateLimiter>>,
    /// Unlimited when turned off, but always there for the handlers that spend from it.
    password_work: web::Data<PasswordWorkLimiter>,
}

impl RequestLimits {
    fn from_settings(settings: &Settings) -> Result<Self, StartupError> {
        let limits = &settings.rate_limit;
        let policy = |per_minute, burst| {
            let (per_minute, burst) = (NonZeroU32::new(per_minute)?, NonZeroU32::new(burst)?);
            Some(RateLimitPolicy { per_minute, burst })
        };
        let auth = policy(limits.auth_per_minute, limits.auth_burst);
        match auth {
            Some(RateLimitPolicy { per_minute, burst }) => tracing::info!(
                per_minute,
                burst,
                trusted_proxies = ?limits.trusted_proxies,
                "per-address rate limit on /auth/*"
            ),
            None => tracing::warn!("no per-address rate limit on /auth/*"),
        }
        let password_work = policy(limits.password_work_per_minute, limits.password_work_burst);
        if password_work.is_none() {
            tracing::warn!("no per-user limit on password changes");
        }
        Ok(Self {
            proxies: web::Data::new(TrustedProxies::parse(&limits.trusted_proxies)?),
            auth: auth.map(|auth| web::Data::new(AuthRateLimiter::new(auth))),
            password_work: web::Data::new(PasswordWorkLimiter::new(password_work)),
        })
    }
}

fn serve<A: Adapters>(
    service: Arc<UserService<A>>,
    limits: RequestLimits,
    listener: TcpListener,
    settings: &Settings,
) -> std::io::Result<Server> {
    let service = web::Data::from(service);
    // Beside the API only when it has no listener of its own.
    let metrics = settings.server.metrics_address.is_none().then(telemetry::metrics);
    // The same time for the body as actix gives the head; 0 turns both off.
    let request_timeout = StdDuration::from_secs(settings.server.request_timeout_secs);
    let body_deadline = (!request_timeout.is_zero()).then_some(BodyDeadline(request_timeout));
    let ready_deadline = ReadyDeadline(settings.database.ready_timeout());
    let product_name = settings.mail.product_name.clone();
    let mut server = HttpServer::new(move || {
        let mut app =
            App::new().app_data(limits.proxies.clone()).app_data(limits.password_work.clone()).app_data(ready_deadline);
        if let Some(rate_limiter) = &limits.auth {
            app = app.app_data(rate_limiter.clone());
        }
        if let Some(deadline) = body_deadline {
            app = app.app_data(deadline);
        }
        // The body deadline wraps every middleware that may answer before the body is read (the rate limit), so
        // that such an answer closes the connection too instead of leaving actix to drain a chunked body for as
        // long as the client takes to send it; the 408 still gets the headers and the logging of the ones outside.
        app.wrap(from_fn(limit_auth_requests))
            .wrap(from_fn(limit_body_time))
            .wrap(users_http::security_headers())
            .wrap(TracingLogger::<RequestSpan>::new())
            .wrap(from_fn(request_id_and_metrics))
            .configure(users_http::configure(service.clone(), metrics.clone(), product_name.clone()))
    })
    .disable_signals() // see stop_on_signal
    .shutdown_timeout(settings.server.shutdown_timeout_secs)
    .client_request_timeout(request_timeout)
    .max_connections(settings.server.max_connections);
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    Ok(server.listen(listener)?.run())
}

/// `/metrics` alone on a listener of its own. It takes no signals: [`Application::run_until_stopped`] stops it when
/// the API server stops.
fn serve_metrics(listener: TcpListener, settings: &Settings) -> std::io::Result<Server> {
    let metrics = telemetry::metrics();
    let server = HttpServer::new(move || {
        App::new().wrap(users_http::security_headers()).configure(users_http::configure_metrics(metrics.clone()))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(settings.server.shutdown_timeout_secs)
    .client_request_timeout(StdDuration::from_secs(settings.server.request_timeout_secs));
    Ok(server.listen(listener)?.run())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_url_picks_the_store() {
        let postgres = "postgres://app:secret@db:5432/users";
        assert_eq!(StoreLocation::parse(postgres).unwrap(), StoreLocation::Postgres(postgres.to_owned()));
        assert!(matches!(StoreLocation::parse("postgresql://db/users").unwrap(), StoreLocation::Postgres(_)));
        assert_eq!(
            StoreLocation::parse("sqlite://data/users.db").unwrap(),
            StoreLocation::Sqlite("data/users.db".into())
        );
        assert_eq!(
            StoreLocation::parse("sqlite:///var/lib/u.db").unwrap(),
            StoreLocation::Sqlite("/var/lib/u.db".into())
        );
        for unsupported in ["sqlite://", "mysql://db/users", "users.db", ""] {
            assert!(matches!(StoreLocation::parse(unsupported), Err(StartupError::UnsupportedDatabaseUrl(_))));
        }
    }

    #[test]
    fn a_postgres_url_must_name_its_database() {
        for named in ["postgres://db/users", "postgresql://u:p@db:5432/users?sslmode=require", "postgres://db?dbname=u"]
        {
            assert!(matches!(StoreLocation::parse(named), Ok(StoreLocation::Postgres(_))), "{named}");
        }
        for nameless in ["postgres://db", "postgres://u:s3cret@db:5432/", "postgresql://db:5432?sslmode=require"] {
            let error = StoreLocation::parse(nameless).unwrap_err();
            assert!(matches!(error, StartupError::NoDatabaseName(_)), "{nameless}: {error}");
            assert!(!error.to_string().contains("s3cret"), "{error}");
        }
    }

    #[test]
    fn an_unsupported_database_url_is_quoted_without_its_passwords() {
        let error = StoreLocation::parse("mysql://app:s3cret@db/users?password=other").unwrap_err();
        let message = error.to_string();
        assert!(message.contains("mysql://app:***@db/users?password=***"), "{message}");
        assert!(!message.contains("s3cret") && !message.contains("other"), "{message}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_database_out_of_reach_is_named_without_its_passwords() {
        let mut settings = Settings::load(None).unwrap();
        settings.database.url = "postgres://app:s3cret@127.0.0.1:1/users?password=other".to_owned();

        let message = migrate(&settings).await.unwrap_err().to_string();

        assert!(message.starts_with("database postgres://app:***@127.0.0.1:1/users?password=***: "), "{message}");
        assert!(!message.contains("s3cret") && !message.contains("other"), "{message}");
    }
}
