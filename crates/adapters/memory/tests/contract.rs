//! The store contract (`users-store-contract`) run against the in-memory store, each test on a store of its own.

use users_memory_store::{MemorySessions, MemoryStore, MemoryUsers};

async fn fresh_store() -> Option<(MemoryUsers, MemorySessions, ())> {
    let store = MemoryStore::new();
    Some((store.users(), store.sessions(), ()))
}

users_store_contract::store_contract_tests!(fresh_store);
