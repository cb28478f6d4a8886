//! The store contract (`users-store-contract`) run against PostgreSQL, each test in a fresh database of its own, so
//! they run in parallel.
//!
//! The server is found through `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`); without one
//! the tests are skipped, except under `CI=true`, where that is a failure.

use users_postgres::testing::TestDatabase;
use users_postgres::{PgSessionRepository, PgUserRepository};

async fn fresh_store() -> Option<(PgUserRepository, PgSessionRepository, TestDatabase)> {
    let db = TestDatabase::create().await?;
    let store = db.store();
    Some((store.users(), store.sessions(), db))
}

users_store_contract::store_contract_tests!(fresh_store);
