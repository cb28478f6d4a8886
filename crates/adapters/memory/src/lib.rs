//! An in-memory store for tests, not for production: the `UserRepository` and `SessionRepository` ports on plain
//! collections behind one mutex, keeping every rule the ports state (it passes the store contract). Use cases can
//! run on it where mocks would only restate their implementation, and embedders can test against it without a
//! database. Nothing is persisted, nothing is bounded, and each call holds the one lock for the whole store, which
//! is also what makes each call atomic.

mod sessions;
mod users;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use users_domain::{ClientNetwork, LoginThrottle, NetworkThrottle, User, UserId};
use users_ports::{EndSessions, PasswordHash, RefreshTokenHash, SessionId, SessionState};

pub use sessions::MemorySessions;
pub use users::MemoryUsers;

/// One store: the repositories it hands out share its state, as those of one database do.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store, knowing the fixed roles and no user.
    pub fn new() -> Self {
        Self::default()
    }

    pub fn users(&self) -> MemoryUsers {
        MemoryUsers::new(self.clone())
    }

    pub fn sessions(&self) -> MemorySessions {
        MemorySessions::new(self.clone())
    }

    /// Every call mutates the state only after its last check, so a test that panicked elsewhere while holding the
    /// lock left nothing half-written: a poisoned lock is taken as it is.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Everything stored, kept as the SQL stores' tables are: rows by id, and what a deletion takes with it.
#[derive(Default)]
struct State {
    /// By id, which is also the order users are listed in.
    users: BTreeMap<UserId, StoredUser>,
    last_user_id: i64,
    sessions: HashMap<SessionId, StoredSession>,
    last_session_id: i64,
    /// Every refresh token a live session was given, current or used.
    refresh_tokens: HashMap<RefreshTokenHash, StoredToken>,
    /// The sign-in counts of each account, by the network they came from.
    throttles: HashMap<UserId, HashMap<ClientNetwork, NetworkThrottle>>,
}

#[derive(Clone)]
struct StoredUser {
    user: User,
    password_hash: PasswordHash,
    /// The account's failures from every network together, and its lock from everywhere.
    throttle: LoginThrottle,
}

struct StoredSession {
    user_id: UserId,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

struct StoredToken {
    session: SessionId,
    used_at: Option<DateTime<Utc>>,
}

impl State {
    /// The session as the refresh flow judges it.
    fn session_state(&self, id: SessionId) -> Option<SessionState> {
        let session = self.sessions.get(&id)?;
        Some(SessionState {
            id,
            user_id: session.user_id,
            // A session is made by a sign-in: its password was entered when it began.
            authenticated_at: session.created_at,
            expires_at: session.expires_at,
            revoked: session.revoked_at.is_some(),
        })
    }

    /// Ends the user's live sessions that `ends` names.
    fn end_sessions(&mut self, user: UserId, ends: EndSessions, now: DateTime<Utc>) {
        for (id, session) in &mut self.sessions {
            let kept = ends == EndSessions::AllBut(*id);
            if session.user_id == user && session.revoked_at.is_none() && !kept {
                session.revoked_at = Some(now);
            }
        }
    }

    /// Drops the refresh tokens whose session is gone, as the SQL stores' cascade does.
    fn forget_orphan_tokens(&mut self) {
        let sessions = &self.sessions;
        self.refresh_tokens.retain(|_, token| sessions.contains_key(&token.session));
    }
}
