//! Wiring: PostgreSQL, Argon2 and JWT adapters into the `UserService`, served by actix-web.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use chrono::Duration;
use tracing_actix_web::TracingLogger;
use users_app::{Adapters, ProvisionAdminError, ProvisionedAdmin, SessionPolicy, SystemClock, UserService};
use users_argon2::Argon2Hasher;
use users_domain::{Email, Password};
use users_jwt::{JwtConfigError, JwtIssuer};
use users_ports::{PasswordHashError, StoreError};
use users_postgres::{PgSessionRepository, PgStore, PgUserRepository};

use crate::secret::{self, SecretError};
use crate::settings::Settings;

/// The production set of adapters.
#[derive(Debug)]
pub struct Production;

impl Adapters for Production {
    type Users = PgUserRepository;
    type Sessions = PgSessionRepository;
    type Hasher = Argon2Hasher;
    type Tokens = JwtIssuer;
    type Clock = SystemClock;
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("JWT secret: {0}")]
    Secret(#[from] SecretError),
    #[error("JWT settings: {0}")]
    Jwt(#[from] JwtConfigError),
    #[error("password hasher: {0}")]
    Hasher(#[from] PasswordHashError),
    #[error("cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
    #[error("invalid admin credentials: {0}")]
    InvalidAdmin(String),
    #[error("creating the admin failed: {0}")]
    Provision(#[from] ProvisionAdminError),
}

/// Applies pending migrations and returns their names.
pub async fn migrate(settings: &Settings) -> Result<Vec<String>, StartupError> {
    Ok(users_postgres::run_migrations(&settings.database.url).await?)
}

/// Builds the use cases on the production adapters.
pub fn build_service(settings: &Settings) -> Result<UserService<Production>, StartupError> {
    let store = PgStore::new(&settings.database.url, settings.database.max_connections)?;
    let secret = secret::load_or_create(settings.auth.jwt_secret.as_deref(), &settings.auth.jwt_secret_file)?;
    let tokens = JwtIssuer::hs256(&secret, Duration::seconds(settings.auth.access_token_ttl_secs))?;
    let policy = SessionPolicy { refresh_token_ttl: Duration::days(settings.auth.refresh_token_ttl_days) };
    Ok(UserService::new(store.users(), store.sessions(), Argon2Hasher::new()?, tokens, SystemClock, policy))
}

/// Creates the admin account for `email`, or gives an existing account the admin role.
pub async fn create_admin(
    settings: &Settings,
    email: &str,
    password: String,
) -> Result<ProvisionedAdmin, StartupError> {
    let email = Email::parse(email).map_err(|error| StartupError::InvalidAdmin(format!("email {error}")))?;
    let password =
        Password::parse(password).map_err(|error| StartupError::InvalidAdmin(format!("password {error}")))?;
    Ok(build_service(settings)?.provision_admin(email, password).await?)
}

/// A bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("port", &self.port).finish_non_exhaustive()
    }
}

impl Application {
    /// Binds the listening socket (port 0 picks a free one) and prepares the server; the caller runs it.
    pub fn build(settings: &Settings) -> Result<Self, StartupError> {
        let service = web::Data::from(Arc::new(build_service(settings)?));
        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let bind_error = |source| StartupError::Bind { address: address.clone(), source };
        let listener = TcpListener::bind(&address).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        let mut server = HttpServer::new(move || {
            App::new().wrap(TracingLogger::default()).configure(users_http::configure(service.clone()))
        })
        .shutdown_timeout(settings.server.shutdown_timeout_secs)
        .client_request_timeout(StdDuration::from_secs(10));
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        let server = server.listen(listener).map_err(bind_error)?.run();
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or SIGINT, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
