//! The store contract (`users-store-contract`) run against PostgreSQL, each test in a fresh database of its own, so
//! they run in parallel.
//!
//! The server is found through `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`); without one
//! the tests are skipped, except under `CI=true`, where that is a failure.

use users_postgres::testing::{CachedStore, TestDatabase};
use users_store::{StoreAuditLog, StoreOutbox};

type Repositories = (CachedStore, CachedStore, CachedStore, CachedStore, StoreOutbox, StoreAuditLog, TestDatabase);

/// The store as the server runs it on PostgreSQL: behind the signed-in cache, its change feed followed (the outbox and
/// the audit log beside it: the cache does not concern them).
async fn fresh_store() -> Option<Repositories> {
    let db = TestDatabase::create().await?;
    let (cached, store) = db.cached_store_over_store();
    Some((cached.clone(), cached.clone(), cached.clone(), cached, store.outbox(), store.audit_log(), db))
}

users_store_contract::store_contract_tests!(fresh_store);
