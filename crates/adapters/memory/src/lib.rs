//! An in-memory store for tests, not for production: the `UserRepository`, `SessionRepository`,
//! `OneTimeTokenRepository`, `SecondFactorRepository`, `MailOutbox` and `AuditLog` ports on plain collections behind
//! one mutex, keeping every rule the ports state (it passes the store contract). Use cases can run on it where mocks
//! would only restate their implementation, and embedders can test against it without a database. Nothing is
//! persisted, nothing is bounded, and each call holds the one lock for the whole store, which is also what makes each
//! call atomic (a change and the events it records among it).

mod audit;
mod one_time_tokens;
mod outbox;
mod second_factor;
mod sessions;
mod users;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use users_domain::{ClientDetails, ClientNetwork, Email, EmailKey, LoginThrottle, NetworkThrottle, User, UserId};
use users_ports::{
    AuditEvent, AuditEventId, AuditRecord, EndSessions, Mail, MailedToken, OneTimeTokenHash, PasswordHash,
    RecoveryCodeHash, RefreshTokenHash, SessionId, SessionKey, SessionRecord, SessionState, StoreError, TokenPurpose,
};

pub use audit::MemoryAuditLog;
pub use one_time_tokens::MemoryOneTimeTokens;
pub use outbox::MemoryOutbox;
pub use second_factor::MemorySecondFactors;
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

    pub fn one_time_tokens(&self) -> MemoryOneTimeTokens {
        MemoryOneTimeTokens::new(self.clone())
    }

    pub fn second_factors(&self) -> MemorySecondFactors {
        MemorySecondFactors::new(self.clone())
    }

    pub fn outbox(&self) -> MemoryOutbox {
        MemoryOutbox::new(self.clone())
    }

    /// The audit log, to read and prune (the other repositories record the events with their changes).
    pub fn audit_log(&self) -> MemoryAuditLog {
        MemoryAuditLog::new(self.clone())
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
    one_time_tokens: HashMap<OneTimeTokenHash, StoredOneTimeToken>,
    /// Each user's TOTP factor, pending or confirmed.
    totp_factors: HashMap<UserId, second_factor::StoredFactor>,
    /// Each user's recovery codes, with when each was used.
    recovery_codes: HashMap<UserId, HashMap<RecoveryCodeHash, Option<DateTime<Utc>>>>,
    /// Mail waiting for delivery (or given up on), by id, which is also the order it is claimed in.
    outbox: BTreeMap<i64, StoredMail>,
    last_mail_id: i64,
    /// The audit log by id, which is also the order events happened in; ids are never given twice, also after pruning.
    audit_events: BTreeMap<i64, AuditEvent>,
    last_audit_id: i64,
}

#[derive(Clone)]
struct StoredUser {
    user: User,
    password_hash: PasswordHash,
    /// The account's failures from every network together, and its lock from everywhere.
    throttle: LoginThrottle,
}

struct StoredSession {
    key: SessionKey,
    user_id: UserId,
    created_at: DateTime<Utc>,
    last_used_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    client: ClientDetails,
}

impl StoredSession {
    /// Neither ended nor expired at `now`.
    fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }

    fn record(&self, id: SessionId) -> SessionRecord {
        SessionRecord {
            id,
            key: self.key.clone(),
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            expires_at: self.expires_at,
            client: self.client.clone(),
        }
    }
}

struct StoredToken {
    session: SessionId,
    used_at: Option<DateTime<Utc>>,
}

struct StoredOneTimeToken {
    user: UserId,
    purpose: TokenPurpose,
    /// The key of the address the token was made for: it works only while its user has that address.
    email_key: EmailKey,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
}

struct StoredMail {
    mail: Mail,
    queued_at: DateTime<Utc>,
    next_attempt_at: DateTime<Utc>,
    attempts: u32,
    failed_at: Option<DateTime<Utc>>,
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

    /// Marks the unused tokens of `user` used at `at`: all of them, or those made for another address than
    /// `keeping_address`.
    fn void_tokens(&mut self, user: UserId, keeping_address: Option<&EmailKey>, at: DateTime<Utc>) {
        let voided = |token: &StoredOneTimeToken| {
            token.user == user && token.used_at.is_none() && keeping_address.is_none_or(|key| token.email_key != *key)
        };
        self.one_time_tokens.values_mut().filter(|token| voided(token)).for_each(|token| token.used_at = Some(at));
    }

    /// Whether `address` was sent a verification (for any account) after `since`.
    fn verified_since(&self, address: &Email, since: DateTime<Utc>) -> bool {
        let key = address.key();
        self.one_time_tokens.values().any(|token| {
            token.purpose == TokenPurpose::VerifyEmail && token.email_key == key && token.created_at > since
        })
    }

    /// Queues `mail`, due at once, as of `at`.
    fn queue(&mut self, mail: Mail, at: DateTime<Utc>) {
        self.last_mail_id += 1;
        let queued = StoredMail { mail, queued_at: at, next_attempt_at: at, attempts: 0, failed_at: None };
        self.outbox.insert(self.last_mail_id, queued);
    }

    /// Refuses a token whose hash is already stored, as the SQL stores' primary key does.
    fn check_new_token(&self, mailed: Option<&MailedToken>) -> Result<(), StoreError> {
        match mailed {
            Some(mailed) if self.one_time_tokens.contains_key(&mailed.token.hash) => {
                Err(StoreError::new("one-time token already stored"))
            }
            _ => Ok(()),
        }
    }

    /// Stores the user's token and queues the mail that carries it (after [`State::check_new_token`]).
    fn store_mailed(&mut self, user: UserId, mailed: MailedToken) {
        let MailedToken { token, mail } = mailed;
        let stored = StoredOneTimeToken {
            user,
            purpose: token.purpose,
            email_key: token.email.key(),
            created_at: token.created_at,
            expires_at: token.expires_at,
            used_at: None,
        };
        self.one_time_tokens.insert(token.hash, stored);
        self.queue(mail, token.created_at);
    }

    /// Records events about the user `subject`, in the same call (so under the same lock) as the change they record.
    fn record(&mut self, subject: UserId, records: impl IntoIterator<Item = AuditRecord>) {
        for record in records {
            self.last_audit_id += 1;
            let event = AuditEvent {
                id: AuditEventId(self.last_audit_id),
                at: record.at,
                kind: record.kind,
                actor: record.actor_id(subject),
                subject: Some(subject),
                ip: record.client.ip,
                user_agent: record.client.user_agent,
                details: record.details,
            };
            self.audit_events.insert(self.last_audit_id, event);
        }
    }

    /// Drops the refresh tokens whose session is gone, as the SQL stores' cascade does.
    fn forget_orphan_tokens(&mut self) {
        let sessions = &self.sessions;
        self.refresh_tokens.retain(|_, token| sessions.contains_key(&token.session));
    }
}
