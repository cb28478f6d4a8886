//! Connections from the store's pool, with the pool's usage recorded as metrics. Shared by the PostgreSQL and SQLite
//! adapters, each compiling it against its own `backend` module.

use std::sync::OnceLock;

use metrics::Gauge;
use users_ports::StoreError;

use crate::backend::{Pool, PooledConnection, STORE};

/// `db_pool_connections` by state: max, open, in use, waiting. Looked up in the metrics registry once, not on every
/// checkout (the first checkout happens after the server has installed its recorder).
fn pool_gauges() -> &'static [Gauge; 4] {
    static GAUGES: OnceLock<[Gauge; 4]> = OnceLock::new();
    GAUGES.get_or_init(|| {
        ["max", "open", "in_use", "waiting"]
            .map(|state| metrics::gauge!("db_pool_connections", "store" => STORE, "state" => state))
    })
}

pub(crate) async fn checkout(pool: &Pool) -> Result<PooledConnection, StoreError> {
    // No connection within the wait, or none could be opened: the database is out of reach for now.
    let connection = pool.get().await.map_err(StoreError::unavailable)?;
    // Pool usage as of each checkout: cheap, and current whenever the store is busy enough to matter.
    let status = pool.status();
    let [max, open, in_use, waiting] = pool_gauges();
    max.set(status.max_size as f64);
    open.set(status.size as f64);
    in_use.set(status.size.saturating_sub(status.available) as f64);
    waiting.set(status.waiting as f64);
    Ok(connection)
}
