//! The PostgreSQL store: `UserRepository` and `SessionRepository` on diesel-async with a deadpool connection pool,
//! signed-in users remembered until the database says they changed, and the embedded migrations of
//! `migrations/postgres`.

mod backend;
mod listener;
mod repositories;
mod signed_in;
// The queries are written once for both stores: these modules compile against this crate's `schema` and `backend`.
#[path = "../../shared/pool.rs"]
mod pool;
#[path = "../../shared/rows.rs"]
mod rows;
#[path = "../../shared/schema.rs"]
mod schema;
#[path = "../../shared/sessions.rs"]
mod sessions;
#[path = "../../shared/users.rs"]
mod users;

#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

use diesel::RunQueryDsl as _;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use users_ports::StoreError;

pub use crate::repositories::{PgSessionRepository, PgUserRepository};
use crate::signed_in::SignedInCache;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../../migrations/postgres");

/// A pool of connections to one PostgreSQL database, from which the repositories are made.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool<AsyncPgConnection>,
    signed_in: Arc<SignedInCache>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("pool", &self.pool.status()).finish_non_exhaustive()
    }
}

impl PgStore {
    /// Prepares a pool; connections are opened on first use. Within a Tokio runtime, also starts listening for the
    /// database's change notifications on a connection of its own; until that connection is up (and outside a
    /// runtime, always) signed-in users are read on every request.
    pub fn new(database_url: &str, max_connections: usize) -> Result<Self, StoreError> {
        let mut config = ManagerConfig::default();
        // A connection that died is noticed on its next query; pinging on every checkout would double the round trips.
        config.recycling_method = RecyclingMethod::Fast;
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
        let pool = Pool::builder(manager).max_size(max_connections).build().map_err(StoreError::new)?;
        let signed_in = Arc::new(SignedInCache::default());
        listener::start(database_url, &signed_in);
        Ok(Self { pool, signed_in })
    }

    /// Whether changes made elsewhere are being heard, so that signed-in users are remembered between requests.
    pub fn hears_changes(&self) -> bool {
        self.signed_in.is_listening()
    }

    pub fn users(&self) -> PgUserRepository {
        let pools = pool::Pools::single(self.pool.clone());
        PgUserRepository::new(users::DieselUserRepository::new(pools), Arc::clone(&self.signed_in))
    }

    pub fn sessions(&self) -> PgSessionRepository {
        let pools = pool::Pools::single(self.pool.clone());
        PgSessionRepository::new(sessions::DieselSessionRepository::new(pools), Arc::clone(&self.signed_in))
    }
}

/// The advisory lock that instances migrating one database take in turn (advisory locks are per database): the
/// bytes of "users-mg".
const MIGRATION_LOCK: i64 = 0x7573_6572_732d_6d67;

/// Applies the migrations that `database_url` has not seen yet, and returns their names.
///
/// Instances started together take turns: each holds an advisory lock while it looks for pending migrations and
/// applies them, so the next one finds none left instead of creating the same tables at the same time.
pub async fn run_migrations(database_url: &str) -> Result<Vec<String>, StoreError> {
    let database_url = database_url.to_owned();
    // diesel's migration harness is synchronous: run it on a blocking thread through the async connection wrapper.
    tokio::task::spawn_blocking(move || {
        let mut connection =
            <AsyncConnectionWrapper<AsyncPgConnection> as diesel::Connection>::establish(&database_url)
                .map_err(StoreError::new)?;
        lock_migrations(&mut connection)?;
        let applied = connection
            .run_pending_migrations(MIGRATIONS)
            .map(|applied| applied.iter().map(ToString::to_string).collect());
        // A session's advisory lock also ends with the session, should this fail: the connection is closed next.
        let unlocked =
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")).execute(&mut connection);
        let applied = applied.map_err(StoreError::new)?;
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
