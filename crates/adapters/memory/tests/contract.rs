//! The store contract (`users-store-contract`) run against the in-memory store, each test on a store of its own.

use users_memory_store::{MemoryOneTimeTokens, MemoryOutbox, MemorySessions, MemoryStore, MemoryUsers};

async fn fresh_store() -> Option<(MemoryUsers, MemorySessions, MemoryOneTimeTokens, MemoryOutbox, ())> {
    let store = MemoryStore::new();
    Some((store.users(), store.sessions(), store.one_time_tokens(), store.outbox(), ()))
}

users_store_contract::store_contract_tests!(fresh_store);
