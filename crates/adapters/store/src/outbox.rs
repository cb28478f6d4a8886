//! The mail outbox's queries: `MailOutbox` on diesel, for every backend, and the queueing of a message in the
//! transaction of the change that causes it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel_async::RunQueryDsl;
use users_ports::{Mail, MailId, MailOutbox, OutboxDepth, QueuedMail, StoreError};

use crate::connection::{AnyConnection as _, Conn, on_backend};
use crate::dialect::Dialect;
use crate::pool::Pools;
use crate::rows::NewMailRow;
use crate::schema::{Stamp, mail_outbox};

#[derive(Clone)]
pub(crate) struct OutboxQueries {
    pools: Pools,
}

impl std::fmt::Debug for OutboxQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxQueries").finish_non_exhaustive()
    }
}

impl OutboxQueries {
    pub(crate) fn new(pools: Pools) -> Self {
        Self { pools }
    }
}

/// Queues `mail`, due at once, as of `at`: run inside the transaction of the change that causes it, so that the
/// message is sent if and only if the change is made.
pub(crate) async fn queue(conn: Conn<'_>, mail: &Mail, at: DateTime<Utc>) -> Result<(), DieselError> {
    let insert = diesel::insert_into(mail_outbox::table).values(NewMailRow::new(mail, at));
    on_backend!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

/// A count as the port reports it; counts are never negative.
fn count(stored: i64) -> u64 {
    u64::try_from(stored).unwrap_or_default()
}

impl MailOutbox for OutboxQueries {
    /// A row that does not read back as a message (changed behind the service's back) is marked failed, so that it
    /// is not claimed again and again, and reported as a fault; the rest of its batch is claimed again when the
    /// lease ends.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<QueuedMail>, StoreError> {
        let mut conn = self.pools.writer().await?;
        let rows = on_backend!(conn.any(), |c| Dialect::claim_mail(c, now, lease_until, i64::from(limit)).await)
            .map_err(|error| self.pools.fault(error))?;
        let mut claimed = Vec::with_capacity(rows.len());
        let mut unreadable = None;
        for row in rows {
            let id = row.id();
            match row.into_queued() {
                Ok(queued) => claimed.push(queued),
                Err(error) => {
                    let give_up =
                        diesel::update(mail_outbox::table.find(id)).set(mail_outbox::failed_at.eq(Stamp(now)));
                    on_backend!(conn.any(), |c| give_up.execute(c).await).map_err(|error| self.pools.fault(error))?;
                    unreadable.get_or_insert(error);
                }
            }
        }
        if let Some(error) = unreadable {
            return Err(error);
        }
        // The statement returns its rows in no particular order.
        claimed.sort_by_key(|queued| queued.id.0);
        Ok(claimed)
    }

    async fn settle_sent(&self, id: MailId) -> Result<(), StoreError> {
        let mut conn = self.pools.writer().await?;
        // The token the message carried goes with it.
        let sent = diesel::delete(mail_outbox::table.find(id.0));
        on_backend!(conn.any(), |c| sent.execute(c).await).map_err(|error| self.pools.fault(error))?;
        Ok(())
    }

    async fn settle_retry(&self, id: MailId, next_attempt_at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = self.pools.writer().await?;
        let retry = diesel::update(mail_outbox::table.find(id.0).filter(mail_outbox::failed_at.is_null()))
            .set(mail_outbox::next_attempt_at.eq(Stamp(next_attempt_at)));
        on_backend!(conn.any(), |c| retry.execute(c).await).map_err(|error| self.pools.fault(error))?;
        Ok(())
    }

    async fn settle_failed(&self, id: MailId, at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = self.pools.writer().await?;
        let give_up = diesel::update(mail_outbox::table.find(id.0).filter(mail_outbox::failed_at.is_null()))
            .set((mail_outbox::failed_at.eq(Stamp(at)), mail_outbox::token.eq(None::<String>)));
        on_backend!(conn.any(), |c| give_up.execute(c).await).map_err(|error| self.pools.fault(error))?;
        Ok(())
    }

    async fn depth(&self) -> Result<OutboxDepth, StoreError> {
        let mut conn = self.pools.reader().await?;
        let queued = mail_outbox::table.filter(mail_outbox::failed_at.is_null()).count().single_value();
        let failed = mail_outbox::table.filter(mail_outbox::failed_at.is_not_null()).count().single_value();
        let (queued, failed): (Option<i64>, Option<i64>) =
            on_backend!(conn.any(), |c| diesel::select((queued, failed)).get_result(c).await)
                .map_err(|error| self.pools.fault(error))?;
        Ok(OutboxDepth { queued: count(queued.unwrap_or_default()), failed: count(failed.unwrap_or_default()) })
    }
}
