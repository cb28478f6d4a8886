//! The store contract (`users-store-contract`) run against SQLite, each test in a database file of its own.

use users_sqlite::testing::TestDatabase;
use users_sqlite::{SqliteSessionRepository, SqliteUserRepository};

async fn fresh_store() -> Option<(SqliteUserRepository, SqliteSessionRepository, TestDatabase)> {
    let db = TestDatabase::create().await;
    let store = db.store();
    Some((store.users(), store.sessions(), db))
}

users_store_contract::store_contract_tests!(fresh_store);
