//! The store: users, their roles, sessions, sign-in counts, one-time tokens, second factors, the mail outbox and the
//! audit log in SQL, written once for every database it runs on (PostgreSQL, the embedded SQLite) with what differs
//! between them in [`Dialect`]; the connection pools; and [`CachedSessions`], which remembers signed-in users over any
//! store.
//!
//! A backend's crate opens its pools ([`Pools::postgres`], [`Pools::sqlite`]), runs its migrations (finishing with
//! [`complete_email_keys`]) and makes a [`Store`] of them; the repositories are the same for every backend.
//!
//! Where a new table's queries go: its `table!` in `schema`, its rows beside `rows`, its queries in a module like
//! `users`, each run through [`connection::on_backend!`]; only a statement one database cannot share goes in
//! [`Dialect`].

mod audit;
mod cached;
pub mod connection;
mod dialect;
mod email_keys;
mod one_time_tokens;
mod outbox;
mod pool;
mod repositories;
mod rows;
pub mod schema;
mod second_factor;
mod sessions;
mod user_list;
mod users;
mod wrapped;

pub use crate::audit::AuditStatement;
pub use crate::cached::CachedSessions;
pub use crate::connection::{
    AnyConnection, Conn, DetachedBlocking, PgConnection, PgManager, SqliteConnection, SqliteManager,
};
pub use crate::dialect::{Backend, Dialect};
pub use crate::email_keys::{MigrationConnection, complete_email_keys};
pub use crate::pool::{Pools, default_lists_at_once, describe_metrics as describe_pool_metrics};
pub use crate::repositories::{
    CallPolicy, StoreAuditLog, StoreOneTimeTokens, StoreOutbox, StoreSecondFactors, StoreSessions, StoreUsers,
};
pub use crate::user_list::UserListStatement;

/// One database's pools, from which the repositories are made; how its calls run is its backend's choice.
#[derive(Clone, Debug)]
pub struct Store {
    pools: Pools,
    calls: CallPolicy,
}

impl Store {
    pub fn new(pools: Pools, calls: CallPolicy) -> Self {
        metrics::describe_counter!(
            "db_operation_timeouts_total",
            "Store calls given up after database.operation_timeout_ms (answered 503)"
        );
        if calls.deadline.is_some() {
            metrics::counter!("db_operation_timeouts_total", "store" => pools.backend().label()).absolute(0);
        }
        Self { pools, calls }
    }

    /// The database the store runs on.
    pub fn backend(&self) -> Backend {
        self.pools.backend()
    }

    pub fn users(&self) -> StoreUsers {
        StoreUsers::new(self.pools.clone(), self.calls)
    }

    pub fn sessions(&self) -> StoreSessions {
        StoreSessions::new(self.pools.clone(), self.calls)
    }

    pub fn one_time_tokens(&self) -> StoreOneTimeTokens {
        StoreOneTimeTokens::new(self.pools.clone(), self.calls)
    }

    pub fn second_factors(&self) -> StoreSecondFactors {
        StoreSecondFactors::new(self.pools.clone(), self.calls)
    }

    /// The mail outbox, for the delivery workers (the store's own writes queue the mail).
    pub fn outbox(&self) -> StoreOutbox {
        StoreOutbox::new(self.pools.clone(), self.calls)
    }

    /// The audit log, to read and prune (the store's own writes record the events).
    pub fn audit_log(&self) -> StoreAuditLog {
        StoreAuditLog::new(self.pools.clone(), self.calls)
    }
}
