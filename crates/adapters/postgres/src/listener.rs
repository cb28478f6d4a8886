//! Hears the database's notifications of changed users, roles and sessions (sent by the triggers of the
//! `change_notifications` and `truncate_notifies` migrations, whoever made the change) on a connection of its own,
//! and has the signed-in cache forget the users they name, or everyone. Every few seconds the listener notifies itself
//! and waits for its own notification to come back: that proves the whole path works (a connection that died
//! silently, or a pooler in transaction mode that does not pass notifications on, fails the proof). Until the first
//! proof, and whenever one fails, the cache remembers nothing.

use std::hash::{BuildHasher, RandomState};
use std::pin::pin;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use diesel::ConnectionError;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use users_domain::UserId;

use crate::signed_in::SignedInCache;

/// The channel the triggers notify, with the changed user's id as the payload, or [`EVERYONE`].
pub(crate) const CHANNEL: &str = "users_changed";
/// The payload of a change that may concern every user (a `TRUNCATE`, which names no rows).
const EVERYONE: &str = "*";
/// How the listening connection shows in `pg_stat_activity`.
pub(crate) const APPLICATION_NAME: &str = "users-change-listener";
/// The payload prefix of a listener's proof that notifications reach it; every listener sees every proof.
const PING: &str = "ping ";
const HEARTBEAT: Duration = Duration::from_secs(5);
/// How long a listener's own notification may take to come back.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(2);
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
    #[error("a notification of its own did not come back within {HEARTBEAT_TIMEOUT:?}")]
    Unresponsive,
    #[error("the cache is gone")]
    Unneeded,
}

/// Starts listening on the current Tokio runtime, if there is one (without, the cache never remembers anything).
/// The task holds the cache weakly: it ends at its next heartbeat after the store and its repositories are gone.
pub(crate) fn start(database_url: &str, cache: &Arc<SignedInCache>) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(listen(database_url.to_owned(), Arc::downgrade(cache)));
    }
}

async fn listen(database_url: String, cache: Weak<SignedInCache>) {
    let mut wait = RECONNECT_AFTER.0;
    loop {
        let Err(error) = hear_changes(&database_url, &cache).await;
        let Some(cache) = cache.upgrade() else { return };
        // Listening had been proven: this is a new outage, so the first retry comes soon.
        if cache.is_listening() {
            wait = RECONNECT_AFTER.0;
        }
        cache.set_listening(false);
        metrics::gauge!("store_change_notifications_up").set(0.0);
        tracing::warn!(%error, retry_in = ?wait, "not hearing the database's change notifications; signed-in users are read every time");
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(RECONNECT_AFTER.1);
    }
}

/// Listens until the connection is lost; only ever returns why.
async fn hear_changes(database_url: &str, cache: &Weak<SignedInCache>) -> Result<std::convert::Infallible, Lost> {
    let mut conn = AsyncPgConnection::establish(database_url).await?;
    diesel::sql_query(format!("SET application_name = '{APPLICATION_NAME}'")).execute(&mut conn).await?;
    diesel::sql_query(format!("LISTEN {CHANNEL}")).execute(&mut conn).await?;
    // Nothing is remembered until the first ping comes back: a change made before then might not have been heard.
    let mut proven = false;
    let mut pending = Some(ping(&mut conn).await?);
    loop {
        let wait = pending.as_ref().map_or(HEARTBEAT, |(_, sent)| HEARTBEAT_TIMEOUT.saturating_sub(sent.elapsed()));
        let next = {
            let mut notifications = pin!(conn.notifications_stream());
            tokio::time::timeout(wait, notifications.next()).await
        };
        let cache = cache.upgrade().ok_or(Lost::Unneeded)?;
        match next {
            Ok(Some(Ok(notification))) => match Notice::parse(&notification.payload) {
                Notice::UserChanged(id) => cache.forget_user(id),
                Notice::EveryoneChanged => cache.forget_all(),
                Notice::Ping(nonce) if pending.as_ref().is_some_and(|(sent, _)| sent == nonce) => {
                    pending = None;
                    if !proven {
                        proven = true;
                        cache.set_listening(true);
                        metrics::gauge!("store_change_notifications_up").set(1.0);
                    }
                }
                Notice::Ping(_another_listeners) => {}
                Notice::Unknown => cache.forget_all(),
            },
            Ok(Some(Err(error))) => return Err(error.into()),
            Ok(None) => return Err(Lost::Closed),
            Err(_elapsed) if pending.is_some() => return Err(Lost::Unresponsive),
            Err(_quiet) => pending = Some(ping(&mut conn).await?),
        }
    }
}

/// Notifies the channel with a nonce of this listener's, and says when.
async fn ping(conn: &mut AsyncPgConnection) -> Result<(String, Instant), Lost> {
    let nonce = format!("{:016x}", RandomState::new().hash_one(Instant::now()));
    let sent = Instant::now();
    let notify = diesel::sql_query("SELECT pg_notify($1, $2)")
        .bind::<Text, _>(CHANNEL)
        .bind::<Text, _>(format!("{PING}{nonce}"))
        .execute(conn);
    tokio::time::timeout(HEARTBEAT_TIMEOUT, notify).await.map_err(|_| Lost::Unresponsive)??;
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
