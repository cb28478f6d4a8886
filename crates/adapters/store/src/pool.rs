//! Connections from the store's pools (the writer's, and the readers' beside it), with the pools' usage recorded as
//! metrics; the turns the admin lists take; and what the store last refused for being unavailable, for the readiness
//! check.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use diesel::result::Error as DieselError;
use metrics::Gauge;
use users_ports::StoreError;

use deadpool::managed::Object;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::connection::{AnyConnection, Conn, PgManager, SqliteManager};
use crate::dialect::Backend;

/// A pool of one backend's connections.
#[derive(Clone)]
enum Pool {
    Postgres(deadpool::managed::Pool<PgManager>),
    Sqlite(deadpool::managed::Pool<SqliteManager>),
}

impl Pool {
    fn status(&self) -> deadpool::managed::Status {
        match self {
            Self::Postgres(pool) => pool.status(),
            Self::Sqlite(pool) => pool.status(),
        }
    }

    fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// A connection checked out of a pool; back in the pool when dropped. One lives on the stack of each store call, so
/// the size of the larger variant costs nothing, where boxing it would allocate on every checkout.
#[allow(clippy::large_enum_variant)]
pub(crate) enum PooledConnection {
    Postgres(Object<PgManager>),
    Sqlite(Object<SqliteManager>),
}

impl AnyConnection for PooledConnection {
    fn any(&mut self) -> Conn<'_> {
        match self {
            Self::Postgres(connection) => Conn::Postgres(connection),
            Self::Sqlite(connection) => Conn::Sqlite(connection),
        }
    }
}

/// How long the store is reported not ready after it refused a write (a full disk, a read-only database). Such a
/// database still answers the readiness query, so the refusals themselves are what tell: an instance that refuses
/// writes leaves the load balancer's rotation for this long, then is tried again. Timeouts and lost connections are
/// not remembered: they say nothing of the next request, and the readiness query finds a database out of reach.
const REFUSAL_MEMORY: Duration = Duration::from_secs(10);

/// The last refused write: when, and why (for the readiness check's error, and so the logs).
#[derive(Default)]
struct Refusals(Mutex<Option<(Instant, String)>>);

impl Refusals {
    fn note(&self, error: &StoreError) {
        if let Ok(mut last) = self.0.lock() {
            *last = Some((Instant::now(), error.to_string()));
        }
    }

    /// The refusal noted within [`REFUSAL_MEMORY`], if any.
    fn recent(&self) -> Option<StoreError> {
        let last = self.0.lock().ok()?;
        let (at, cause) = last.as_ref().filter(|(at, _)| at.elapsed() < REFUSAL_MEMORY)?;
        let ago = at.elapsed().as_secs();
        Some(StoreError::unavailable(format!("the database refused a write {ago} s ago: {cause}")))
    }
}

/// One pool and its `db_pool_connections` gauges by state (max, open, in use, waiting), labelled with the pool's
/// role. Looked up in the metrics registry once, not on every checkout (the first checkout happens after the server
/// has installed its recorder).
#[derive(Clone)]
struct Gauged {
    pool: Pool,
    role: &'static str,
    gauges: Arc<OnceLock<[Gauge; 4]>>,
}

impl Gauged {
    fn new(pool: Pool, role: &'static str) -> Self {
        let gauged = Self { pool, role, gauges: Arc::default() };
        // At zero use, so that the pool shows from the first scrape, before its first checkout.
        gauged.record();
        gauged
    }

    async fn checkout(&self) -> Result<PooledConnection, StoreError> {
        // No connection within the wait, or none could be opened: the database is out of reach for now.
        let connection = match &self.pool {
            // Boxed for the reason `on_backend!` gives: PostgreSQL's checkout future is the larger by far.
            Pool::Postgres(pool) => {
                Box::pin(pool.get()).await.map(PooledConnection::Postgres).map_err(StoreError::unavailable)
            }
            Pool::Sqlite(pool) => pool.get().await.map(PooledConnection::Sqlite).map_err(StoreError::unavailable),
        }?;
        // Pool usage as of each checkout: cheap, and current whenever the store is busy enough to matter.
        self.record();
        Ok(connection)
    }

    fn record(&self) {
        let status = self.pool.status();
        let [max, open, in_use, waiting] = self.gauges.get_or_init(|| {
            ["max", "open", "in_use", "waiting"].map(
                |state| metrics::gauge!("db_pool_connections", "store" => self.pool.backend().label(), "pool" => self.role, "state" => state),
            )
        });
        max.set(status.max_size as f64);
        open.set(status.size as f64);
        in_use.set(status.size.saturating_sub(status.available) as f64);
        waiting.set(status.waiting as f64);
    }
}

/// Describes the pools' metric for `/metrics`; the store calls it before making its pools.
pub fn describe_metrics() {
    metrics::describe_gauge!(
        "db_pool_connections",
        "Database connections by store, pool (shared, writer, readers) and state (max, open, in_use, waiting)"
    );
}

/// Where the repositories get their connections: every write, and every read inside a write's transaction, from the
/// writer pool; reads that stand alone from the readers. On PostgreSQL both are the one pool; SQLite keeps a single
/// writer connection (what makes the last-admin and token-rotation rules hold) and read-only connections beside it,
/// which WAL lets read while the writer writes.
#[derive(Clone)]
pub struct Pools {
    writer: Gauged,
    readers: Gauged,
    lists: Lists,
    refusals: Arc<Refusals>,
}

impl std::fmt::Debug for Pools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pools")
            .field("backend", &self.backend())
            .field("writer", &self.writer.pool.status())
            .field("readers", &self.readers.pool.status())
            .field("lists_at_once", &self.lists.at_once)
            .finish_non_exhaustive()
    }
}

impl Pools {
    /// PostgreSQL's: one pool for reads and writes alike (its metrics labelled `pool="shared"`), of which the admin
    /// lists take at most `lists_at_once` connections at a time.
    pub fn postgres(pool: deadpool::managed::Pool<PgManager>, lists_at_once: usize) -> Self {
        let shared = Gauged::new(Pool::Postgres(pool), "shared");
        Self { writer: shared.clone(), readers: shared, lists: Lists::new(lists_at_once), refusals: Arc::default() }
    }

    /// SQLite's: writes (and the reads of their transactions) on `writer`, a pool of one connection; reads that
    /// stand alone on `readers`, which WAL lets read while the writer writes, and of which the admin lists take at
    /// most `lists_at_once` at a time.
    pub fn sqlite(
        writer: deadpool::managed::Pool<SqliteManager>,
        readers: deadpool::managed::Pool<SqliteManager>,
        lists_at_once: usize,
    ) -> Self {
        Self {
            writer: Gauged::new(Pool::Sqlite(writer), "writer"),
            readers: Gauged::new(Pool::Sqlite(readers), "readers"),
            lists: Lists::new(lists_at_once),
            refusals: Arc::default(),
        }
    }

    /// The database the pools reach.
    pub fn backend(&self) -> Backend {
        self.writer.pool.backend()
    }

    /// A connection for a write, or for reads that must see a write's transaction.
    pub(crate) async fn writer(&self) -> Result<PooledConnection, StoreError> {
        self.writer.checkout().await
    }

    /// The store's error for `error` (see [`crate::Dialect::fault`]), remembered when the database refused a write.
    pub(crate) fn fault(&self, error: DieselError) -> StoreError {
        let refused = self.backend().refuses_writes(&error);
        let fault = self.backend().fault(error);
        if refused {
            self.refusals.note(&fault);
        }
        fault
    }

    /// Whether the store refused a write a moment ago, said as the error it then gave.
    pub(crate) fn recent_refusal(&self) -> Result<(), StoreError> {
        self.refusals.recent().map_or(Ok(()), Err)
    }

    /// A connection for a read that stands alone: it sees every write acknowledged before it began.
    pub(crate) async fn reader(&self) -> Result<PooledConnection, StoreError> {
        self.readers.checkout().await
    }

    /// A reader for an admin list, once it is the list's turn (see [`Lists`]).
    pub(crate) async fn list_reader(&self) -> Result<ListConnection, StoreError> {
        let turn = self.lists.turn().await?;
        Ok(ListConnection { connection: self.reader().await?, _turn: turn })
    }
}

/// How many admin lists read at once, the others waiting their turn in order of arrival.
///
/// A list (a search, a filter, a deep page) is the costliest read there is, and wholly CPU-bound once its indexes are
/// in memory: it needs a core of the database's. More of them at once than the cores can run add no throughput; they
/// only move the queue from here, which serves in order, into the scheduler, which does not, and the slowest lists
/// wait longest (at 16 at once on two cores, the p99 of a list was six times its median; at 4, under twice: see
/// BENCHMARKS.md). Every other statement keeps the whole pool: short writes gain from company, since the commits of
/// connections committing together share a flush of the log.
#[derive(Clone)]
struct Lists {
    at_once: usize,
    turns: Arc<Semaphore>,
}

impl Lists {
    fn new(at_once: usize) -> Self {
        let at_once = at_once.max(1);
        Self { at_once, turns: Arc::new(Semaphore::new(at_once)) }
    }

    async fn turn(&self) -> Result<OwnedSemaphorePermit, StoreError> {
        // Never closed: a failure is a bug, said as the store being unavailable rather than a panic.
        Arc::clone(&self.turns).acquire_owned().await.map_err(StoreError::unavailable)
    }
}

/// The admin lists' turns unless configured: twice the cores of this machine, at least 2 (PostgreSQL's advice for
/// the connections of a database whose data fits in memory is about twice its cores).
pub fn default_lists_at_once() -> usize {
    std::thread::available_parallelism().map_or(2, |cores| cores.get().saturating_mul(2))
}

/// A reader checked out in a list's turn; both go back when dropped.
pub(crate) struct ListConnection {
    connection: PooledConnection,
    _turn: OwnedSemaphorePermit,
}

impl AnyConnection for ListConnection {
    fn any(&mut self) -> Conn<'_> {
        self.connection.any()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_list_past_the_turns_waits_until_one_ends_and_the_first_to_wait_goes_first() {
        // Given every turn taken
        let lists = Lists::new(1);
        let first = lists.turn().await.unwrap();

        // When two more lists ask, one after the other
        let (second, third) = (lists.clone(), lists.clone());
        let second = tokio::spawn(async move { second.turn().await.map(|_| Instant::now()) });
        tokio::task::yield_now().await;
        let third = tokio::spawn(async move { third.turn().await.map(|_| Instant::now()) });
        tokio::time::sleep(Duration::from_millis(20)).await;

        // Then neither reads while the first holds its turn; once it ends, both do, in the order they asked
        assert!(!second.is_finished() && !third.is_finished());
        drop(first);
        let (second, third) = (second.await.unwrap().unwrap(), third.await.unwrap().unwrap());
        assert!(second <= third);
    }

    #[test]
    fn no_configuration_leaves_the_lists_without_a_turn() {
        assert_eq!(Lists::new(0).at_once, 1);
        assert!(default_lists_at_once() >= 2);
    }
}
