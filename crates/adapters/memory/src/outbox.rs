//! `MailOutbox` in memory: queued mail by id, claimed with a lease and settled as the SQL stores do.

use chrono::{DateTime, Utc};
use users_ports::{MailId, MailOutbox, OutboxDepth, QueuedMail, StoreError};

use crate::MemoryStore;

#[derive(Clone, Debug)]
pub struct MemoryOutbox {
    store: MemoryStore,
}

impl MemoryOutbox {
    pub(crate) fn new(store: MemoryStore) -> Self {
        Self { store }
    }
}

impl MailOutbox for MemoryOutbox {
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<QueuedMail>, StoreError> {
        let mut state = self.store.lock();
        let due =
            state.outbox.iter_mut().filter(|(_, queued)| queued.failed_at.is_none() && queued.next_attempt_at <= now);
        let claimed = due
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|(id, queued)| {
                let claimed = QueuedMail {
                    id: MailId(*id),
                    mail: queued.mail.clone(),
                    queued_at: queued.queued_at,
                    attempts: queued.attempts,
                };
                queued.next_attempt_at = lease_until;
                queued.attempts += 1;
                claimed
            })
            .collect();
        Ok(claimed)
    }

    async fn settle_sent(&self, id: MailId) -> Result<(), StoreError> {
        self.store.lock().outbox.remove(&id.0);
        Ok(())
    }

    async fn settle_retry(&self, id: MailId, next_attempt_at: DateTime<Utc>) -> Result<(), StoreError> {
        if let Some(queued) = self.store.lock().outbox.get_mut(&id.0).filter(|queued| queued.failed_at.is_none()) {
            queued.next_attempt_at = next_attempt_at;
        }
        Ok(())
    }

    async fn settle_failed(&self, id: MailId, at: DateTime<Utc>) -> Result<(), StoreError> {
        if let Some(queued) = self.store.lock().outbox.get_mut(&id.0) {
            queued.failed_at.get_or_insert(at);
        }
        Ok(())
    }

    async fn depth(&self) -> Result<OutboxDepth, StoreError> {
        let state = self.store.lock();
        let failed = state.outbox.values().filter(|queued| queued.failed_at.is_some()).count();
        let queued = state.outbox.len() - failed;
        Ok(OutboxDepth {
            queued: u64::try_from(queued).unwrap_or(u64::MAX),
            failed: u64::try_from(failed).unwrap_or(u64::MAX),
        })
    }
}
