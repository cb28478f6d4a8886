//! The signed-in users this instance has read, remembered until a write says they changed: a write through this
//! store forgets them at once, a write anywhere else (another instance, an operator's SQL) through the database's
//! change notifications (`listener`). What is remembered is answered only while the listener's last proof that it
//! hears every change is younger than the allowed lag; a listener that stalls without closing (a frozen backend, a
//! black-holed path) so turns the cache into a read-through within that lag, not when it is finally given up.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use users_domain::{User, UserId};
use users_ports::SessionId;

/// How many sessions are remembered at most; past it, the memory starts over (as the token cache does).
pub(crate) const CAPACITY: usize = 10_000;

#[derive(Debug)]
pub(crate) struct SignedInCache {
    state: Mutex<State>,
    /// How old the last proof may be for remembered users to be answered.
    max_lag: Duration,
}

#[derive(Debug)]
struct State {
    /// Only while changes made elsewhere are being heard (on a connection that has proven it) is anything
    /// remembered.
    listening: bool,
    /// When the ping last proven to come back was sent: every change committed before then has been heard. Before
    /// the first proof, when the cache was made.
    proven: Instant,
    /// Counts the forgettings: an answer read before one of them may be stale, and is not remembered.
    generation: u64,
    sessions: HashMap<SessionId, Remembered>,
}

impl State {
    fn forget_all(&mut self) {
        self.generation += 1;
        self.sessions.clear();
    }
}

#[derive(Debug)]
struct Remembered {
    user: User,
    /// The session's expiry as read; a later refresh may have extended it, which only costs a read.
    session_expires_at: DateTime<Utc>,
}

/// Taken before a read from the database; the answer is remembered only if nothing was forgotten in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReadTicket(Option<u64>);

impl SignedInCache {
    pub(crate) fn new(max_lag: Duration) -> Self {
        let state = State { listening: false, proven: Instant::now(), generation: 0, sessions: HashMap::new() };
        Self { state: Mutex::new(state), max_lag }
    }

    /// The user signed in with `session`, if remembered, the session has not expired by `now`, and the listener's
    /// proof is recent enough that a change to them would have been heard.
    pub(crate) fn get(&self, id: UserId, session: SessionId, now: DateTime<Utc>) -> Option<User> {
        let state = self.lock();
        if !self.current(&state) {
            return None;
        }
        let remembered = state.sessions.get(&session)?;
        (remembered.user.id == id && remembered.session_expires_at > now).then(|| remembered.user.clone())
    }

    /// Taken before a read. A read made while the proof is too old may still be remembered: it is answered only
    /// once a newer proof shows that every change committed before it was heard (and so forgotten the user if one
    /// concerned them).
    pub(crate) fn ticket(&self) -> ReadTicket {
        let state = self.lock();
        ReadTicket(state.listening.then_some(state.generation))
    }

    /// Remembers what a read begun with `ticket` found, unless something was forgotten since the ticket was taken.
    pub(crate) fn remember(&self, ticket: ReadTicket, session: SessionId, user: &User, expires_at: DateTime<Utc>) {
        let mut state = self.lock();
        if !state.listening || ticket != ReadTicket(Some(state.generation)) {
            return;
        }
        if state.sessions.len() >= CAPACITY {
            state.sessions.clear();
        }
        state.sessions.insert(session, Remembered { user: user.clone(), session_expires_at: expires_at });
    }

    pub(crate) fn forget_user(&self, id: UserId) {
        let mut state = self.lock();
        state.generation += 1;
        state.sessions.retain(|_, remembered| remembered.user.id != id);
    }

    pub(crate) fn forget_session(&self, session: SessionId) {
        let mut state = self.lock();
        state.generation += 1;
        state.sessions.remove(&session);
    }

    pub(crate) fn forget_all(&self) {
        self.lock().forget_all();
    }

    /// Every change committed before `sent` has been heard: the listener's ping sent then came back after them.
    /// The first proof on a new connection also forgets everything: changes made while no connection listened
    /// were never heard.
    pub(crate) fn prove(&self, sent: Instant) {
        let mut state = self.lock();
        if !state.listening {
            state.forget_all();
            state.listening = true;
            state.proven = sent;
        }
        state.proven = state.proven.max(sent);
    }

    /// The listening connection is gone: changes made until another one listens will not be heard.
    pub(crate) fn lose(&self) {
        let mut state = self.lock();
        state.forget_all();
        state.listening = false;
    }

    /// Whether remembered users are answered now.
    pub(crate) fn is_listening(&self) -> bool {
        self.current(&self.lock())
    }

    /// How long ago the last proof's ping was sent (or, before any, the cache was made): how stale an answer from
    /// memory could be.
    pub(crate) fn lag(&self) -> Duration {
        self.lock().proven.elapsed()
    }

    fn current(&self, state: &State) -> bool {
        state.listening && state.proven.elapsed() < self.max_lag
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every update leaves the state consistent, so a panic elsewhere while holding the lock left nothing half-done.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration as StdDuration;

    use chrono::{Duration, TimeZone};
    use users_domain::{Email, ObjectId, Profile, Role};

    use super::*;

    fn user(id: i64) -> User {
        let created = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
        User {
            id: UserId(id),
            object_id: "0123456789abcdef01234567".parse::<ObjectId>().unwrap(),
            username: None,
            email: Email::parse(format!("user{id}@example.com")).unwrap(),
            profile: Profile::default(),
            roles: vec![Role::User],
            created_at: created,
            updated_at: created,
        }
    }

    const MAX_LAG: StdDuration = StdDuration::from_secs(1);

    fn listening() -> SignedInCache {
        let cache = SignedInCache::new(MAX_LAG);
        cache.prove(Instant::now());
        cache
    }

    #[test]
    fn remembers_a_read_until_the_session_expires() {
        let (cache, now) = (listening(), Utc::now());
        cache.remember(cache.ticket(), SessionId(7), &user(1), now + Duration::seconds(10));
        assert_eq!(cache.get(UserId(1), SessionId(7), now), Some(user(1)));
        assert_eq!(cache.get(UserId(1), SessionId(7), now + Duration::seconds(10)), None);
    }

    #[test]
    fn answers_only_for_the_user_the_session_belongs_to() {
        let (cache, now) = (listening(), Utc::now());
        cache.remember(cache.ticket(), SessionId(7), &user(1), now + Duration::seconds(10));
        assert_eq!(cache.get(UserId(2), SessionId(7), now), None);
        assert_eq!(cache.get(UserId(1), SessionId(8), now), None);
    }

    #[test]
    fn remembers_nothing_while_not_listening() {
        let (cache, now) = (SignedInCache::new(MAX_LAG), Utc::now());
        cache.remember(cache.ticket(), SessionId(7), &user(1), now + Duration::seconds(10));
        assert_eq!(cache.get(UserId(1), SessionId(7), now), None);

        let cache = listening();
        cache.remember(cache.ticket(), SessionId(7), &user(1), now + Duration::seconds(10));
        cache.lose();
        assert_eq!(cache.get(UserId(1), SessionId(7), now), None, "hearing stopped: what was remembered may be stale");
    }

    #[test]
    fn forgets_a_users_sessions_and_a_single_session() {
        let (cache, now) = (listening(), Utc::now());
        let until = now + Duration::seconds(10);
        for (session, id) in [(1, 1), (2, 1), (3, 2)] {
            cache.remember(cache.ticket(), SessionId(session), &user(id), until);
        }
        cache.forget_user(UserId(1));
        assert_eq!(cache.get(UserId(1), SessionId(1), now), None);
        assert_eq!(cache.get(UserId(1), SessionId(2), now), None);
        assert_eq!(cache.get(UserId(2), SessionId(3), now), Some(user(2)));
        cache.forget_session(SessionId(3));
        assert_eq!(cache.get(UserId(2), SessionId(3), now), None);
    }

    #[test]
    fn a_read_that_raced_a_change_is_not_remembered() {
        let (cache, now) = (listening(), Utc::now());
        let ticket = cache.ticket();
        // The read is under way when another request changes the user: what it found may predate the change.
        cache.forget_user(UserId(9));
        cache.remember(ticket, SessionId(7), &user(1), now + Duration::seconds(10));
        assert_eq!(cache.get(UserId(1), SessionId(7), now), None);

        let ticket = cache.ticket();
        cache.lose();
        cache.prove(Instant::now());
        cache.remember(ticket, SessionId(7), &user(1), now + Duration::seconds(10));
        assert_eq!(cache.get(UserId(1), SessionId(7), now), None, "changes may have gone unheard in between");
    }

    #[test]
    fn answers_from_memory_only_while_the_last_proof_is_younger_than_the_lag() {
        let (cache, now) = (listening(), Utc::now());
        cache.remember(cache.ticket(), SessionId(7), &user(1), now + Duration::seconds(10));
        assert_eq!(cache.get(UserId(1), SessionId(7), now), Some(user(1)));

        // Given a listener whose last proof went out longer ago than the lag allows (it stalled since)...
        let cache = SignedInCache::new(MAX_LAG);
        let stale = Instant::now().checked_sub(MAX_LAG + StdDuration::from_millis(10)).expect("an uptime over 1 s");
        cache.prove(stale);
        cache.remember(cache.ticket(), SessionId(7), &user(1), now + Duration::seconds(10));
        // ...then nothing is answered from memory: a change since may be unheard.
        assert_eq!(cache.get(UserId(1), SessionId(7), now), None);
        assert!(!cache.is_listening());
        assert!(cache.lag() > MAX_LAG);
        // A fresh proof shows every change before it was heard (none forgot this user): memory is good again.
        cache.prove(Instant::now());
        assert_eq!(cache.get(UserId(1), SessionId(7), now), Some(user(1)));
        assert!(cache.lag() < MAX_LAG);
    }

    #[test]
    fn an_older_proof_arriving_late_does_not_make_the_cache_look_staler() {
        let cache = listening();
        let older = Instant::now().checked_sub(StdDuration::from_secs(5)).expect("an uptime over 5 s");
        cache.prove(older);
        assert!(cache.is_listening());
    }

    #[test]
    fn starts_over_when_full() {
        let (cache, now) = (listening(), Utc::now());
        let until = now + Duration::seconds(10);
        for session in 0..CAPACITY as i64 {
            cache.remember(cache.ticket(), SessionId(session), &user(1), until);
        }
        cache.remember(cache.ticket(), SessionId(-1), &user(1), until);
        assert_eq!(cache.get(UserId(1), SessionId(0), now), None);
        assert_eq!(cache.get(UserId(1), SessionId(-1), now), Some(user(1)));
    }
}
