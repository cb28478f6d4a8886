//! Connections from the store's pools (the writer's, and the readers' beside it), with the pools' usage recorded as
//! metrics. Shared by the PostgreSQL and SQLite adapters, each compiling it against its own `backend` module.

use std::sync::{Arc, OnceLock};

use metrics::Gauge;
use users_ports::StoreError;

use crate::backend::{Pool, PooledConnection, STORE};

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
        Self { pool, role, gauges: Arc::default() }
    }

    async fn checkout(&self) -> Result<PooledConnection, StoreError> {
        // No connection within the wait, or none could be opened: the database is out of reach for now.
        let connection = self.pool.get().await.map_err(StoreError::unavailable)?;
        // Pool usage as of each checkout: cheap, and current whenever the store is busy enough to matter.
        let status = self.pool.status();
        let [max, open, in_use, waiting] = self.gauges.get_or_init(|| {
            ["max", "open", "in_use", "waiting"].map(
                |state| metrics::gauge!("db_pool_connections", "store" => STORE, "pool" => self.role, "state" => state),
            )
        });
        max.set(status.max_size as f64);
        open.set(status.size as f64);
        in_use.set(status.size.saturating_sub(status.available) as f64);
        waiting.set(status.waiting as f64);
        Ok(connection)
    }
}

/// Where the repositories get their connections: every write, and every read inside a write's transaction, from the
/// writer pool; reads that stand alone from the readers. On PostgreSQL both are the one pool; SQLite keeps a single
/// writer connection (what makes the last-admin and token-rotation rules hold) and read-only connections beside it,
/// which WAL lets read while the writer writes.
#[derive(Clone)]
pub(crate) struct Pools {
    writer: Gauged,
    readers: Gauged,
}

// Each store builds its pools one way only.
#[allow(dead_code)]
impl Pools {
    /// One pool for reads and writes alike (its metrics labelled `pool="shared"`).
    pub(crate) fn single(pool: Pool) -> Self {
        let shared = Gauged::new(pool, "shared");
        Self { writer: shared.clone(), readers: shared }
    }

    /// Writes (and the reads of their transactions) on `writer`, reads that stand alone on `readers`.
    pub(crate) fn split(writer: Pool, readers: Pool) -> Self {
        Self { writer: Gauged::new(writer, "writer"), readers: Gauged::new(readers, "readers") }
    }

    /// A connection for a write, or for reads that must see a write's transaction.
    pub(crate) async fn writer(&self) -> Result<PooledConnection, StoreError> {
        self.writer.checkout().await
    }

    /// A connection for a read that stands alone: it sees every write acknowledged before it began.
    pub(crate) async fn reader(&self) -> Result<PooledConnection, StoreError> {
        self.readers.checkout().await
    }
}
