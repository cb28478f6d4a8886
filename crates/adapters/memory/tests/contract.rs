//! The store contract (`users-store-contract`) run against the in-memory store, each test on a store of its own.

use users_memory_store::{
    MemoryAuditLog, MemoryOneTimeTokens, MemoryOutbox, MemorySecondFactors, MemorySessions, MemoryStore, MemoryUsers,
};

type Repositories =
    (MemoryUsers, MemorySessions, MemoryOneTimeTokens, MemorySecondFactors, MemoryOutbox, MemoryAuditLog, ());

async fn fresh_store() -> Option<Repositories> {
    let store = MemoryStore::new();
    Some((
        store.users(),
        store.sessions(),
        store.one_time_tokens(),
        store.second_factors(),
        store.outbox(),
        store.audit_log(),
        (),
    ))
}

users_store_contract::store_contract_tests!(fresh_store);
