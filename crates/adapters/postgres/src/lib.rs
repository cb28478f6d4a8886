//! The PostgreSQL store: `UserRepository` and `SessionRepository` on diesel-async with a deadpool connection pool,
//! and the embedded migrations of `migrations/postgres`.

mod backend;
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

use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use users_ports::StoreError;

/// The `SessionRepository` on PostgreSQL.
pub type PgSessionRepository = sessions::DieselSessionRepository;
/// The `UserRepository` on PostgreSQL.
pub type PgUserRepository = users::DieselUserRepository;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../../migrations/postgres");

/// A pool of connections to one PostgreSQL database, from which the repositories are made.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool<AsyncPgConnection>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("pool", &self.pool.status()).finish()
    }
}

impl PgStore {
    /// Prepares a pool; connections are opened on first use.
    pub fn new(database_url: &str, max_connections: usize) -> Result<Self, StoreError> {
        let mut config = ManagerConfig::default();
        // A connection that died is noticed on its next query; pinging on every checkout would double the round trips.
        config.recycling_method = RecyclingMethod::Fast;
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
        let pool = Pool::builder(manager).max_size(max_connections).build().map_err(StoreError::new)?;
        Ok(Self { pool })
    }

    pub fn users(&self) -> PgUserRepository {
        PgUserRepository::new(self.pool.clone())
    }

    pub fn sessions(&self) -> PgSessionRepository {
        PgSessionRepository::new(self.pool.clone())
    }
}

/// Applies the migrations that `database_url` has not seen yet, and returns their names.
pub async fn run_migrations(database_url: &str) -> Result<Vec<String>, StoreError> {
    let database_url = database_url.to_owned();
    // diesel's migration harness is synchronous: run it on a blocking thread through the async connection wrapper.
    tokio::task::spawn_blocking(move || {
        let mut connection =
            <AsyncConnectionWrapper<AsyncPgConnection> as diesel::Connection>::establish(&database_url)
                .map_err(StoreError::new)?;
        let applied = connection.run_pending_migrations(MIGRATIONS).map_err(StoreError)?;
        Ok(applied.iter().map(ToString::to_string).collect())
    })
    .await
    .map_err(StoreError::new)?
}
