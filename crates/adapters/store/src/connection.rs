//! The store's connections, whichever database they reach: each backend's connection type, [`Conn`] over them, and
//! [`on_backend!`], which compiles one query once for each backend.
//!
//! diesel's `MultiConnection` does this for its synchronous connections; diesel-async 0.9 has no equivalent yet
//! (diesel_async#295 prepares one). Until it does, this is ours: a query is written once, against the shared
//! `schema`, and each arm of the match below type-checks it against one backend, so a query that one database cannot
//! run does not compile.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use deadpool::managed::{Manager, Metrics, RecycleError, RecycleResult};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, PoolError};
use diesel_async::sync_connection_wrapper::{SpawnBlocking, SyncConnectionWrapper};
use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;

/// A connection to PostgreSQL.
pub type PgConnection = diesel_async::AsyncPgConnection;
/// A connection to an SQLite file, its blocking calls run on Tokio's blocking threads.
pub type SqliteConnection = SyncConnectionWrapper<diesel::SqliteConnection, DetachedBlocking>;

/// PostgreSQL's pool manager.
pub type PgManager = AsyncDieselConnectionManager<PgConnection>;

/// One connection of the store, borrowed for a query or a transaction.
#[allow(missing_debug_implementations)] // neither connection type implements `Debug`
pub enum Conn<'a> {
    Postgres(&'a mut PgConnection),
    Sqlite(&'a mut SqliteConnection),
}

/// Runs `$body` with `$c` bound to the backend's own connection: the body is compiled once per backend.
///
/// The future of a store call holds whichever arm runs, so it is as large as the larger arm. PostgreSQL's query
/// futures take kilobytes (SQLite's, a few hundred bytes: the work is on a blocking thread), and each call's future
/// is moved several times (into its task, through the decorators): PostgreSQL's arm is boxed, one allocation beside
/// a network round trip, so that an SQLite call does not carry and copy PostgreSQL's state.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::connection::Conn::Postgres($c) => Box::pin(async { $body }).await,
            $crate::connection::Conn::Sqlite($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// Lends a connection as a [`Conn`], for the queries written once for every backend.
pub trait AnyConnection {
    fn any(&mut self) -> Conn<'_>;
}

impl AnyConnection for PgConnection {
    fn any(&mut self) -> Conn<'_> {
        Conn::Postgres(self)
    }
}

impl AnyConnection for SqliteConnection {
    fn any(&mut self) -> Conn<'_> {
        Conn::Sqlite(self)
    }
}

impl AnyConnection for Conn<'_> {
    fn any(&mut self) -> Conn<'_> {
        match self {
            Conn::Postgres(c) => Conn::Postgres(c),
            Conn::Sqlite(c) => Conn::Sqlite(c),
        }
    }
}

/// Runs SQLite's blocking calls on tokio's blocking threads, and lets a call finish on its own when its caller goes
/// away (a request cancelled by a failed extractor or a client hanging up). diesel-async's default runner waits
/// for the call in `Drop` with `block_in_place`, which panics on actix's single-threaded worker runtimes. A
/// transaction abandoned that way leaves the connection marked broken, and the pool discards it.
#[derive(Debug)]
pub struct DetachedBlocking(tokio::runtime::Handle);

impl SpawnBlocking for DetachedBlocking {
    fn spawn_blocking<'a, R>(
        &mut self,
        task: impl FnOnce() -> R + Send + 'static,
    ) -> BoxFuture<'a, Result<R, Box<dyn std::error::Error + Send + Sync + 'static>>>
    where
        R: Send + 'static,
    {
        let running = self.0.spawn_blocking(task);
        async move { running.await.map_err(Into::into) }.boxed()
    }

    fn get_runtime() -> Self {
        // Connections are opened by the pool, inside the service's runtime.
        Self(tokio::runtime::Handle::current())
    }
}

/// SQLite's pool manager: diesel-async's, except for one case that should no longer arise. A query whose caller was
/// dropped mid-way went on in its blocking task, holding the connection's transaction state, after the pool got the
/// connection back; diesel-async's recycle check then panicked ("Cannot access shared transaction state"). Every
/// SQLite store call now runs to its end on a task of its own (`repositories`), so its connection comes back only
/// when it is done. Should one still come back held (an operation cut off by its runtime shutting down), it is
/// dropped and counted in `db_connections_abandoned_total`, and the pool opens a fresh one, rather than the panic
/// taking the worker down.
pub struct SqliteManager(pub AsyncDieselConnectionManager<SqliteConnection>);

impl std::fmt::Debug for SqliteManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteManager").finish_non_exhaustive()
    }
}

impl Manager for SqliteManager {
    type Type = SqliteConnection;
    type Error = PoolError;

    fn create(&self) -> impl Future<Output = Result<SqliteConnection, PoolError>> + Send {
        self.0.create()
    }

    fn recycle(
        &self,
        connection: &mut SqliteConnection,
        metrics: &Metrics,
    ) -> impl Future<Output = RecycleResult<PoolError>> + Send {
        AssertUnwindSafe(self.0.recycle(connection, metrics)).catch_unwind().map(|checked| {
            checked.unwrap_or_else(|_| {
                metrics::counter!("db_connections_abandoned_total", "store" => "sqlite").increment(1);
                Err(RecycleError::message("a cancelled query still holds the connection"))
            })
        })
    }
}
