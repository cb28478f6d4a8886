//! `SessionRepository` in memory: sign-in sessions, each one refresh-token family.

use std::cmp::Reverse;

use chrono::{DateTime, Utc};
use users_domain::{ClientDetails, UserId};
use users_ports::{
    AuditRecord, EndSessions, NewSession, RefreshTokenHash, RefreshTokenUse, SessionId, SessionKey, SessionRecord,
    SessionRepository, StoreError,
};

use crate::{MemoryStore, State, StoredSession, StoredToken};

#[derive(Clone, Debug)]
pub struct MemorySessions {
    store: MemoryStore,
}

impl MemorySessions {
    pub(crate) fn new(store: MemoryStore) -> Self {
        Self { store }
    }
}

impl State {
    /// Whether `new` may start: its user exists, still has the password hash the sign-in checked, and is not
    /// suspended at its start. A token or key already stored is an error, as the SQL stores' unique indexes make it.
    pub(crate) fn may_start_session(&self, new: &NewSession) -> Result<bool, StoreError> {
        let still_valid = self
            .users
            .get(&new.user_id)
            .is_some_and(|user| user.password_hash == new.password_hash && !user.user.is_suspended(new.created_at));
        if !still_valid {
            return Ok(false);
        }
        if self.refresh_tokens.contains_key(&new.refresh_token_hash) {
            return Err(StoreError::new("refresh token already stored"));
        }
        if self.sessions.values().any(|session| session.key == new.key) {
            return Err(StoreError::new("session key already stored"));
        }
        Ok(true)
    }

    /// Starts a session [`State::may_start_session`] allowed, with its first refresh token and its event; the user's
    /// last sign-in (and password hash, when rehashed) with it.
    pub(crate) fn start_session(&mut self, new: NewSession) -> SessionId {
        self.last_session_id += 1;
        let id = SessionId(self.last_session_id);
        let session = StoredSession {
            key: new.key,
            user_id: new.user_id,
            created_at: new.created_at,
            last_used_at: new.created_at,
            expires_at: new.expires_at,
            revoked_at: None,
            client: new.client,
        };
        self.sessions.insert(id, session);
        self.refresh_tokens.insert(new.refresh_token_hash, StoredToken { session: id, used_at: None });
        if let Some(signed_in) = self.users.get_mut(&new.user_id) {
            signed_in.user.last_sign_in_at = Some(new.created_at);
            if let Some(rehashed) = new.rehashed_password {
                signed_in.password_hash = rehashed;
            }
        }
        self.record(new.user_id, [new.audit]);
        id
    }
}

impl SessionRepository for MemorySessions {
    async fn create(&self, new: NewSession) -> Result<Option<SessionId>, StoreError> {
        let mut state = self.store.lock();
        if !state.may_start_session(&new)? {
            return Ok(None);
        }
        Ok(Some(state.start_session(new)))
    }

    async fn rotate_refresh_token(
        &self,
        used: &RefreshTokenHash,
        successor: &RefreshTokenHash,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        client: &ClientDetails,
    ) -> Result<RefreshTokenUse, StoreError> {
        let mut state = self.store.lock();
        let Some(token) = state.refresh_tokens.get(used) else { return Ok(RefreshTokenUse::Unknown) };
        let (id, used_at) = (token.session, token.used_at);
        let Some(before) = state.session_state(id) else { return Ok(RefreshTokenUse::Unknown) };
        if let Some(used_at) = used_at {
            let successor_issued = state.refresh_tokens.get(successor).is_some_and(|token| token.session == id);
            return Ok(RefreshTokenUse::Replayed { session: before, used_at, successor_issued });
        }
        let live = before.is_live(now);
        if live && state.refresh_tokens.contains_key(successor) {
            return Err(StoreError::new("refresh token already stored"));
        }
        state.refresh_tokens.insert(used.clone(), StoredToken { session: id, used_at: Some(now) });
        // A revoked or expired session has its token used up all the same, and gets no new one.
        if !live {
            return Ok(RefreshTokenUse::SessionEnded(before));
        }
        state.sessions.entry(id).and_modify(|session| {
            session.expires_at = expires_at;
            session.last_used_at = now;
            session.client = client.clone();
        });
        state.refresh_tokens.insert(successor.clone(), StoredToken { session: id, used_at: None });
        Ok(RefreshTokenUse::Rotated(before))
    }

    async fn list_live(&self, user: UserId, now: DateTime<Utc>) -> Result<Vec<SessionRecord>, StoreError> {
        let state = self.store.lock();
        let mut live: Vec<SessionRecord> = state
            .sessions
            .iter()
            .filter(|(_, session)| session.user_id == user && session.is_live(now))
            .map(|(id, session)| session.record(*id))
            .collect();
        live.sort_by_key(|record| Reverse((record.last_used_at, record.id.0)));
        Ok(live)
    }

    async fn revoke_by_key(
        &self,
        user: UserId,
        key: &SessionKey,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Option<SessionId>, StoreError> {
        let mut state = self.store.lock();
        let named = state
            .sessions
            .iter_mut()
            .find(|(_, session)| session.key == *key && session.user_id == user && session.is_live(now));
        let Some((id, session)) = named else { return Ok(None) };
        session.revoked_at = Some(now);
        let id = *id;
        state.record(user, [audit]);
        Ok(Some(id))
    }

    async fn find_by_refresh_token(&self, hash: &RefreshTokenHash) -> Result<Option<SessionId>, StoreError> {
        Ok(self.store.lock().refresh_tokens.get(hash).map(|token| token.session))
    }

    /// Recorded whenever the session exists, ended before or not, as the SQL stores do.
    async fn revoke(&self, session: SessionId, now: DateTime<Utc>, audit: AuditRecord) -> Result<(), StoreError> {
        let mut state = self.store.lock();
        if let Some(session) = state.sessions.get_mut(&session) {
            session.revoked_at.get_or_insert(now);
            let user = session.user_id;
            state.record(user, [audit]);
        }
        Ok(())
    }

    async fn purge_ended(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut state = self.store.lock();
        let count = state.sessions.len();
        state.sessions.retain(|_, session| {
            let ended = session.expires_at < before || session.revoked_at.is_some_and(|at| at < before);
            !ended
        });
        let purged = count - state.sessions.len();
        // Their refresh tokens go with them.
        state.forget_orphan_tokens();
        Ok(u64::try_from(purged).unwrap_or(u64::MAX))
    }

    async fn revoke_all_of_user(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        let ends = keep.map_or(EndSessions::All, EndSessions::AllBut);
        let mut state = self.store.lock();
        state.end_sessions(user, ends, now);
        state.record(user, [audit]);
        Ok(())
    }
}
