//! `PgChangeFeed`: hears the database's notifications of changed users, roles and sessions (sent by the triggers of
//! the `change_notifications` and `truncate_notifies` migrations, whoever made the change) on a connection of its
//! own, and tells its observer (the signed-in cache) the users they name, or everyone. Several times per allowed lag the listener
//! notifies itself and waits for its own notification to come back on the same connection: that proves the whole
//! path works and that every change committed before the ping was heard (a connection that died silently or
//! stalled, or a pooler in transaction mode that does not pass notifications on, fails the proof). The cache answers
//! from memory only while the last proof is recent; a ping that does not come back at all ends the connection.

use std::collections::VecDeque;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::pin::pin;
use std::sync::Weak;
use std::time::{Duration, Instant};

use diesel::ConnectionError;
use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use users_domain::UserId;
use users_ports::{ChangeFeed, ChangeObserver};

use crate::connect::Connector;

/// The channel the triggers notify, with the changed user's id as the payload, or [`EVERYONE`].
pub(crate) const CHANNEL: &str = "users_changed";
/// The payload of a change that may concern every user (a `TRUNCATE`, which names no rows).
const EVERYONE: &str = "*";
/// How the listening connection shows in `pg_stat_activity`.
pub(crate) const APPLICATION_NAME: &str = "users-change-listener";
/// The payload prefix of a listener's proof that notifications reach it; every listener sees every proof.
const PING: &str = "ping ";
/// Pings go out this many times per allowed lag, so that a proof younger than the lag is nearly always at hand.
const PINGS_PER_LAG: u32 = 3;
/// How long a ping may go unanswered before the connection is given up and another one opened, at least. The
/// cache stops answering from memory long before, once the lag is exceeded; this only decides when to reconnect.
const STALLED_AFTER: Duration = Duration::from_secs(2);
/// Pings awaited at once, at most; older ones are forgotten (a newer one proves more anyway).
const MAX_PENDING: usize = 16;
/// The wait before reconnecting doubles from the first to the last while the database stays out of reach.
const RECONNECT_AFTER: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(30));

/// What a notification on the channel says.
#[derive(Debug, PartialEq, Eq)]
enum Notice<'a> {
    UserChanged(UserId),
    EveryoneChanged,
    Ping(&'a str),
    /// Not ours to read: safest taken as "anything may have changed".
    Unknown,
}

impl<'a> Notice<'a> {
    fn parse(payload: &'a str) -> Self {
        if let Some(nonce) = payload.strip_prefix(PING) {
            return Self::Ping(nonce);
        }
        if payload == EVERYONE {
            return Self::EveryoneChanged;
        }
        payload.parse().map_or(Self::Unknown, |id| Self::UserChanged(UserId(id)))
    }
}

#[derive(Debug, thiserror::Error)]
enum Lost {
    #[error("cannot connect: {0}")]
    Connect(#[from] ConnectionError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error("the connection closed")]
    Closed,
    #[error("a notification of its own did not come back within {0:?}")]
    Unresponsive(Duration),
    #[error("the observer is gone")]
    Unneeded,
}

/// The PostgreSQL change feed: a connection of its own, opened when followed, that LISTENs and proves itself.
#[derive(Debug)]
pub struct PgChangeFeed {
    connector: Connector,
    max_lag: Duration,
}

impl PgChangeFeed {
    pub(crate) fn new(connector: Connector, max_lag: Duration) -> Self {
        Self { connector, max_lag }
    }
}

impl ChangeFeed for PgChangeFeed {
    fn follow(self, observer: Weak<dyn ChangeObserver>) -> impl Future<Output = ()> + Send {
        // Exists from the first scrape on, before the listener first connects.
        metrics::gauge!("store_change_notifications_up").set(0.0);
        listen(self.connector, self.max_lag, observer)
    }
}

async fn listen(connector: Connector, max_lag: Duration, observer: Weak<dyn ChangeObserver>) {
    let mut wait = RECONNECT_AFTER.0;
    metrics::describe_gauge!("store_change_notifications_up", "1 while the change listener hears every change");
    loop {
        let mut proven = false;
        let Err(error) = hear_changes(&connector, max_lag, &observer, &mut proven).await;
        if matches!(error, Lost::Unneeded) {
            return;
        }
        {
            let Some(observer) = observer.upgrade() else { return };
            observer.deaf();
        }
        // Listening had been proven: this is a new outage, so the first retry comes soon.
        if proven {
            wait = RECONNECT_AFTER.0;
        }
        metrics::gauge!("store_change_notifications_up").set(0.0);
        tracing::warn!(%error, retry_in = ?wait, "not hearing the database's change notifications; signed-in users are read every time");
        tokio::time::sleep(wait).await;
        if observer.strong_count() == 0 {
            return;
        }
        wait = (wait * 2).min(RECONNECT_AFTER.1);
    }
}

/// Listens until the connection is lost; only ever returns why.
async fn hear_changes(
    connector: &Connector,
    max_lag: Duration,
    observer: &Weak<dyn ChangeObserver>,
    proven: &mut bool,
) -> Result<std::convert::Infallible, Lost> {
    let stalled_after = STALLED_AFTER.max(max_lag * 2);
    let mut conn = connector.connect().await?;
    let listen = diesel::sql_query(format!("LISTEN {CHANNEL}")).execute(&mut conn);
    tokio::time::timeout(stalled_after, listen).await.map_err(|_| Lost::Unresponsive(stalled_after))??;
    // Nothing is remembered until the first ping comes back: a change made before then might not have been heard.
    let every = (max_lag / PINGS_PER_LAG).max(Duration::from_millis(10));
    let mut pending: VecDeque<(String, Instant)> = VecDeque::new();
    let mut next_ping = Instant::now();
    loop {
        if Instant::now() >= next_ping {
            if pending.front().is_some_and(|(_, sent)| sent.elapsed() > stalled_after) {
                return Err(Lost::Unresponsive(stalled_after));
            }
            pending.push_back(ping(&mut conn, stalled_after).await?);
            if pending.len() > MAX_PENDING {
                pending.pop_front();
            }
            next_ping = Instant::now() + every;
        }
        let wait = next_ping.saturating_duration_since(Instant::now());
        let next = {
            let mut notifications = pin!(conn.notifications_stream());
            tokio::time::timeout(wait, notifications.next()).await
        };
        let observer = observer.upgrade().ok_or(Lost::Unneeded)?;
        match next {
            Ok(Some(Ok(notification))) => match Notice::parse(&notification.payload) {
                Notice::UserChanged(id) => observer.user_changed(id),
                Notice::EveryoneChanged => observer.everything_changed(),
                Notice::Ping(nonce) => {
                    // Another listener's pings come by too; only ours prove anything about this connection.
                    if let Some(index) = pending.iter().position(|(sent, _)| sent == nonce) {
                        let sent = pending[index].1;
                        pending.drain(..=index);
                        observer.heard_everything_before(sent);
                        *proven = true;
                        metrics::gauge!("store_change_notifications_up").set(1.0);
                    }
                }
                Notice::Unknown => observer.everything_changed(),
            },
            Ok(Some(Err(error))) => return Err(error.into()),
            Ok(None) => return Err(Lost::Closed),
            Err(_time_to_ping) => {}
        }
    }
}

/// Notifies the channel with a nonce of this listener's, and says when.
async fn ping(conn: &mut AsyncPgConnection, stalled_after: Duration) -> Result<(String, Instant), Lost> {
    let nonce = format!("{:016x}", RandomState::new().hash_one(Instant::now()));
    let sent = Instant::now();
    let notify = diesel::sql_query("SELECT pg_notify($1, $2)")
        .bind::<Text, _>(CHANNEL)
        .bind::<Text, _>(format!("{PING}{nonce}"))
        .execute(conn);
    tokio::time::timeout(stalled_after, notify).await.map_err(|_| Lost::Unresponsive(stalled_after))??;
    Ok((nonce, sent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_changed_users_everyone_and_pings_and_nothing_else() {
        assert_eq!(Notice::parse("42"), Notice::UserChanged(UserId(42)));
        assert_eq!(Notice::parse("*"), Notice::EveryoneChanged);
        assert_eq!(Notice::parse("ping 00ff"), Notice::Ping("00ff"));
        for unknown in ["", "x42", "42 ", "ping", "9223372036854775808", "**", " *"] {
            assert_eq!(Notice::parse(unknown), Notice::Unknown, "{unknown:?}");
        }
    }
}
