//! Connections from the store's pool, with the pool's usage recorded as metrics. Shared by the PostgreSQL and SQLite
//! adapters, each compiling it against its own `backend` module.

use diesel_async::pooled_connection::deadpool::Object;
use users_ports::StoreError;

use crate::backend::{Connection, Pool, STORE};

pub(crate) async fn checkout(pool: &Pool) -> Result<Object<Connection>, StoreError> {
    let connection = pool.get().await.map_err(StoreError::new)?;
    // Pool usage as of each checkout: cheap, and current whenever the store is busy enough to matter.
    let status = pool.status();
    let gauge = |state: &'static str, value: usize| {
        metrics::gauge!("db_pool_connections", "store" => STORE, "state" => state).set(value as f64);
    };
    gauge("max", status.max_size);
    gauge("open", status.size);
    gauge("in_use", status.size.saturating_sub(status.available));
    gauge("waiting", status.waiting);
    Ok(connection)
}
