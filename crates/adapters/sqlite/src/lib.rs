//! The embedded SQLite backend of the store (`users-store`): a bundled SQLite file behind one writer connection and
//! read-only connections beside it, and the embedded migrations of `migrations/sqlite`. The default store: no server
//! to run.

#[cfg(feature = "testing")]
pub mod testing;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use diesel::sqlite::SqliteConnection;
use diesel::{Connection as _, ConnectionError};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};
use diesel_async::{AsyncConnection as _, SimpleAsyncConnection as _};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt as _;
use users_ports::StoreError;
use users_store::{CallPolicy, MigrationConnection, Pools, SqliteManager, Store};

type Pool = deadpool::managed::Pool<SqliteManager>;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../../migrations/sqlite");

/// Foreign keys (for the cascades) are off by default in SQLite and must be set on every connection; WAL lets readers
/// in other processes (a `create-admin` beside a running server) work alongside, and they wait for locks, not fail.
/// The wait is set first: a connection opened while an abandoned one still holds a lock waits for it too.
const CONNECTION_SETUP: &str = "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL;";

/// The readers' connections: [`CONNECTION_SETUP`]'s wait, and refusing to write, so that a write sent to a reader by
/// mistake fails loudly instead of slipping past the single writer. (WAL is the file's, set by the writer and the
/// migrations.)
const READER_SETUP: &str = "PRAGMA busy_timeout = 5000; PRAGMA query_only = ON;";

/// How long a migration waits for another instance's migrations (or any writer) to finish: longer than a request
/// would wait, since migrations may take a while.
const MIGRATION_WAIT: Duration = Duration::from_secs(60);

/// The store on the database file at `path` (created with its folder by [`run_migrations`]), with up to `readers`
/// read-only connections (at least one).
///
/// Every write goes through a single connection: SQLite allows one writer at a time anyway, and serialising every
/// write transaction is what makes the "last admin" and token-rotation rules hold without row locks. Reads that stand
/// alone (a token check, a sign-in's look-up, a list) have connections of their own, which WAL lets read beside the
/// writer, so they do not queue behind a storm of sign-ins. Each call runs to its end on a task of its own, so a
/// caller that goes away never leaves a connection half-used. The admin lists read `lists_at_once` at a time at most.
pub fn store(path: &Path, readers: usize, lists_at_once: usize) -> Result<Store, StoreError> {
    let url = path.to_str().ok_or_else(|| StoreError::new("the database path is not valid UTF-8"))?;
    describe_metrics();
    let writer = pool(url, CONNECTION_SETUP, 1)?;
    let readers = pool(url, READER_SETUP, readers.max(1))?;
    Ok(Store::new(Pools::sqlite(writer, readers, lists_at_once), CallPolicy { deadline: None, detached: true }))
}

/// A pool of up to `size` connections to the file at `url`, each set up with `setup` when opened.
fn pool(url: &str, setup: &'static str, size: usize) -> Result<Pool, StoreError> {
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(move |url| {
        let url = url.to_owned();
        async move {
            let mut connection = users_store::SqliteConnection::establish(&url).await?;
            connection.batch_execute(setup).await.map_err(ConnectionError::CouldntSetupConfiguration)?;
            Ok(connection)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::<users_store::SqliteConnection>::new_with_config(url, config);
    Pool::builder(SqliteManager(manager)).max_size(size).build().map_err(StoreError::new)
}

/// This store's metrics, described and at zero from the first scrape (the metrics recorder is installed first).
fn describe_metrics() {
    users_store::describe_pool_metrics();
    metrics::describe_counter!(
        "db_connections_abandoned_total",
        "Connections dropped because a cancelled query still held them (none expected: each store call runs to its end)"
    );
    metrics::counter!("db_connections_abandoned_total", "store" => "sqlite").absolute(0);
}

/// Creates the database file (mode 0600, in a folder created 0700) if needed, applies the migrations it has not seen
/// yet, and returns their names. Instances migrating one file at once take turns.
pub async fn run_migrations(path: &Path) -> Result<Vec<String>, StoreError> {
    let path: PathBuf = path.to_owned();
    tokio::task::spawn_blocking(move || {
        if let Some(folder) = path.parent().filter(|folder| !folder.as_os_str().is_empty()) {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(folder).map_err(StoreError::new)?;
        }
        let url = path.to_str().ok_or_else(|| StoreError::new("the database path is not valid UTF-8"))?;
        let mut connection = SqliteConnection::establish(url).map_err(StoreError::new)?;
        // The file holds password hashes: readable by the service's user only (SQLite gives its journal files the
        // same mode).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(StoreError::new)?;
        }
        set_up_for_migrations(&mut connection)?;
        // Instances started together take turns: the write lock, taken before looking for pending migrations, is
        // held until they are applied, so the next instance finds none left instead of creating the same tables.
        connection
            .immediate_transaction(|connection| {
                let applied: Vec<String> =
                    connection.run_pending_migrations(MIGRATIONS)?.iter().map(ToString::to_string).collect();
                users_store::complete_email_keys(MigrationConnection::from(connection))?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(applied)
            })
            .map_err(StoreError::new)
    })
    .await
    .map_err(StoreError::new)?
}

/// [`CONNECTION_SETUP`] for the migration connection, which then waits up to [`MIGRATION_WAIT`] for locks. Turning a
/// new file to WAL needs it alone, and SQLite refuses at once rather than waiting while another instance has it
/// open: that is retried until the same deadline.
fn set_up_for_migrations(connection: &mut SqliteConnection) -> Result<(), StoreError> {
    use diesel::connection::SimpleConnection as _;
    let deadline = Instant::now() + MIGRATION_WAIT;
    loop {
        match connection.batch_execute(CONNECTION_SETUP) {
            Ok(()) => break,
            Err(diesel::result::Error::DatabaseError(_, info))
                if info.message() == "database is locked" && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(error) => return Err(StoreError::new(error)),
        }
    }
    let wait = format!("PRAGMA busy_timeout = {};", MIGRATION_WAIT.as_millis());
    connection.batch_execute(&wait).map_err(StoreError::new)
}
