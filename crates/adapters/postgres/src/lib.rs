//! The PostgreSQL backend of the store (`users-store`): connections (TLS, timeouts, keepalives) in a deadpool pool,
//! the embedded migrations of `migrations/postgres`, and the change feed that hears the database's notifications of
//! changed users (for `CachedSessions`).

mod connect;
mod listener;

#[cfg(feature = "testing")]
pub mod testing;

use std::time::Duration;

use diesel::RunQueryDsl as _;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt as _;
use users_ports::StoreError;
use users_store::{CallPolicy, MigrationConnection, Pools, Store};

use crate::connect::{ConnectOptions, Connector};
pub use crate::connect::{ConnectSetupError, SslMode};
pub use crate::listener::PgChangeFeed;

/// How the store uses its database: how many connections, how long anything may take, and how stale the
/// signed-in users it remembers may be.
#[derive(Clone, Debug)]
pub struct PgOptions {
    pub max_connections: usize,
    /// How many admin lists read at once (each takes a connection of the pool); more wait their turn.
    pub lists_at_once: usize,
    /// How long a request waits for a free connection when all are busy.
    pub pool_wait_timeout: Duration,
    /// How long opening a connection (TCP, TLS, authentication) may take.
    pub connect_timeout: Duration,
    /// How long the check of a pooled connection before its reuse may take.
    pub recycle_timeout: Duration,
    /// The server cancels a statement that runs longer; zero leaves the server's setting.
    pub statement_timeout: Duration,
    /// The longest one operation of a request (waiting for a connection, connecting, its queries) may take before
    /// the store answers "unavailable": a frozen network path reaches no server timeout, only this.
    pub operation_timeout: Duration,
    /// Idle time before TCP keepalive probes start; a peer silent for about twice as long is given up.
    pub tcp_keepalive: Duration,
    /// Signed-in users are answered from memory only while the change listener proved, at most this long ago,
    /// that it hears every change; past it they are read from the database until it proves itself again.
    pub change_feed_max_lag: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            lists_at_once: users_store::default_lists_at_once(),
            pool_wait_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(3),
            recycle_timeout: Duration::from_secs(1),
            statement_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(8),
            tcp_keepalive: Duration::from_secs(30),
            change_feed_max_lag: Duration::from_secs(1),
        }
    }
}

impl PgOptions {
    fn connect_options(&self, application_name: &'static str) -> ConnectOptions {
        ConnectOptions {
            connect_timeout: self.connect_timeout,
            tcp_keepalive: self.tcp_keepalive,
            statement_timeout: self.statement_timeout,
            application_name,
        }
    }
}

/// How the pool's connections show in `pg_stat_activity`, unless the URL names them.
const APPLICATION_NAME: &str = "users-server";

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../../migrations/postgres");

/// The store on the PostgreSQL database at `database_url`: a pool whose connections are opened on first use. A URL
/// that cannot work (an unknown `sslmode`, an unreadable `sslrootcert`) is an error here, before any connection is
/// tried. Starts no task: signed-in users are remembered only by a `CachedSessions` that follows [`change_feed`].
pub fn store(database_url: &str, options: &PgOptions) -> Result<Store, StoreError> {
    let connector =
        Connector::new(database_url, &options.connect_options(APPLICATION_NAME)).map_err(StoreError::new)?;
    users_store::describe_pool_metrics();
    let mut config = ManagerConfig::default();
    // A connection that died is noticed on its next query; pinging on every checkout would double the round trips.
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(move |_url| {
        let connector = connector.clone();
        async move { connector.connect().await }.boxed()
    });
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    let pool = Pool::builder(manager)
        .max_size(options.max_connections)
        // The timeouts need a runtime to measure them with.
        .runtime(::deadpool::Runtime::Tokio1)
        .wait_timeout(Some(options.pool_wait_timeout))
        .create_timeout(Some(options.connect_timeout))
        .recycle_timeout(Some(options.recycle_timeout))
        .build()
        .map_err(StoreError::new)?;
    let calls = CallPolicy { deadline: Some(options.operation_timeout), detached: false };
    Ok(Store::new(Pools::postgres(pool, options.lists_at_once), calls))
}

/// The database's notifications of changed users, heard on a connection of its own once followed (see
/// `CachedSessions::follow`), with proofs several times per `options.change_feed_max_lag` that it hears them all.
pub fn change_feed(database_url: &str, options: &PgOptions) -> Result<PgChangeFeed, StoreError> {
    let connector =
        Connector::new(database_url, &options.connect_options(APPLICATION_NAME)).map_err(StoreError::new)?;
    Ok(PgChangeFeed::new(connector.named(listener::APPLICATION_NAME), options.change_feed_max_lag))
}

/// The advisory lock that instances migrating one database take in turn (advisory locks are per database): the
/// bytes of "users-mg".
const MIGRATION_LOCK: i64 = 0x7573_6572_732d_6d67;

/// Applies the migrations that `database_url` has not seen yet, and returns their names; connects with the default
/// [`PgOptions`].
pub async fn run_migrations(database_url: &str) -> Result<Vec<String>, StoreError> {
    run_migrations_with(database_url, &PgOptions::default()).await
}

/// Applies the migrations that `database_url` has not seen yet, and returns their names. The connection is made as
/// the pool's are (TLS, connect timeout, keepalives), without the statement timeout: a migration may rightly take
/// long.
///
/// Instances started together take turns: each holds an advisory lock while it looks for pending migrations and
/// applies them, so the next one finds none left instead of creating the same tables at the same time.
pub async fn run_migrations_with(database_url: &str, options: &PgOptions) -> Result<Vec<String>, StoreError> {
    let connector = Connector::new(database_url, &options.connect_options("users-server-migrations"))
        .map_err(StoreError::new)?
        .without_statement_timeout();
    let connection = connector.connect().await.map_err(StoreError::new)?;
    // diesel's migration harness is synchronous: run it on a blocking thread through the async connection wrapper.
    tokio::task::spawn_blocking(move || {
        let mut connection = AsyncConnectionWrapper::<AsyncPgConnection>::from(connection);
        lock_migrations(&mut connection)?;
        let applied = connection
            .run_pending_migrations(MIGRATIONS)
            .map(|applied| applied.iter().map(ToString::to_string).collect::<Vec<_>>())
            .map_err(StoreError::new)
            .and_then(|applied| {
                users_store::complete_email_keys(MigrationConnection::from(&mut connection))
                    .map_err(StoreError::new)
                    .map(|()| applied)
            });
        // A session's advisory lock also ends with the session, should this fail: the connection is closed next.
        let unlocked =
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")).execute(&mut connection);
        let applied = applied?;
        unlocked.map_err(StoreError::new)?;
        Ok(applied)
    })
    .await
    .map_err(StoreError::new)?
}

/// Waits for [`MIGRATION_LOCK`], saying so when another instance holds it.
fn lock_migrations(connection: &mut AsyncConnectionWrapper<AsyncPgConnection>) -> Result<(), StoreError> {
    #[derive(diesel::QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    let attempt = format!("SELECT pg_try_advisory_lock({MIGRATION_LOCK}) AS locked");
    let Locked { locked } = diesel::sql_query(attempt).get_result(connection).map_err(StoreError::new)?;
    if !locked {
        tracing::info!("another instance is migrating the database; waiting for it to finish");
        diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
            .execute(connection)
            .map_err(StoreError::new)?;
    }
    Ok(())
}
