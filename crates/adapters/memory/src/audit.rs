//! `AuditLog` in memory: events by id, read newest first and pruned as the SQL stores do.

use chrono::{DateTime, Utc};
use users_ports::{AuditEvent, AuditLog, AuditQuery, StoreError};

use crate::MemoryStore;

#[derive(Clone, Debug)]
pub struct MemoryAuditLog {
    store: MemoryStore,
}

impl MemoryAuditLog {
    pub(crate) fn new(store: MemoryStore) -> Self {
        Self { store }
    }
}

impl AuditLog for MemoryAuditLog {
    async fn list_events(&self, query: AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let state = self.store.lock();
        let older = state.audit_events.range(..query.before.map_or(i64::MAX, |before| before.0));
        let named = older.rev().map(|(_, event)| event).filter(|event| {
            query.kind.is_none_or(|kind| event.kind == kind)
                && query.user.is_none_or(|user| event.subject == Some(user) || event.actor == Some(user))
        });
        Ok(named.take(usize::try_from(query.limit).unwrap_or(usize::MAX)).cloned().collect())
    }

    async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut state = self.store.lock();
        let count = state.audit_events.len();
        state.audit_events.retain(|_, event| event.at >= before);
        Ok(u64::try_from(count - state.audit_events.len()).unwrap_or(u64::MAX))
    }
}
