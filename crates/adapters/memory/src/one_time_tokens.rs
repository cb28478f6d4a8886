//! `OneTimeTokenRepository` in memory: single-use tokens by hash, each used up with the change it authorises.

use chrono::{DateTime, Duration, Utc};
use users_domain::{LoginThrottle, User, UserId};
use users_ports::{
    AuditRecord, EndSessions, Mail, MailedToken, OneTimeTokenHash, OneTimeTokenRepository, PasswordHash, StoreError,
    TokenIssue, TokenPurpose,
};

use crate::{MemoryStore, State};

#[derive(Clone, Debug)]
pub struct MemoryOneTimeTokens {
    store: MemoryStore,
}

impl MemoryOneTimeTokens {
    pub(crate) fn new(store: MemoryStore) -> Self {
        Self { store }
    }
}

impl State {
    /// The user a token of `purpose` acts on at `now`: unused, unexpired, and made for the address the user has now.
    pub(crate) fn token_user(
        &self,
        hash: &OneTimeTokenHash,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Option<UserId> {
        let token = self.one_time_tokens.get(hash)?;
        let stored = self.users.get(&token.user)?;
        let usable = token.purpose == purpose
            && token.used_at.is_none()
            && token.expires_at > now
            && stored.user.email.key() == token.email_key;
        usable.then_some(token.user)
    }

    /// Uses up a token [`State::token_user`] accepts; its user.
    pub(crate) fn use_up(
        &mut self,
        hash: &OneTimeTokenHash,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Option<UserId> {
        let user = self.token_user(hash, purpose, now)?;
        if let Some(token) = self.one_time_tokens.get_mut(hash) {
            token.used_at = Some(now);
        }
        Some(user)
    }

    /// Voids the user's unused tokens of `purposes`, as used at `at`.
    pub(crate) fn void_tokens_of(&mut self, user: UserId, purposes: &[TokenPurpose], at: DateTime<Utc>) {
        let voided = self
            .one_time_tokens
            .values_mut()
            .filter(|token| token.user == user && purposes.contains(&token.purpose) && token.used_at.is_none());
        for token in voided {
            token.used_at = Some(at);
        }
    }
}

impl OneTimeTokenRepository for MemoryOneTimeTokens {
    async fn issue_token(
        &self,
        user: UserId,
        token: MailedToken,
        min_interval: Duration,
        audit: Option<AuditRecord>,
    ) -> Result<TokenIssue, StoreError> {
        let mut state = self.store.lock();
        let new = &token.token;
        if state.users.get(&user).is_none_or(|stored| stored.user.email.key() != new.email.key()) {
            return Ok(TokenIssue::NotIssued);
        }
        let since = new.created_at - min_interval;
        let recent = state
            .one_time_tokens
            .values()
            .any(|stored| stored.user == user && stored.purpose == new.purpose && stored.created_at > since);
        if recent {
            return Ok(TokenIssue::TooSoon);
        }
        state.check_new_token(Some(&token))?;
        if new.purpose == TokenPurpose::ResetPassword {
            state.void_tokens_of(user, &[TokenPurpose::ResetPassword], new.created_at);
        }
        state.store_mailed(user, token);
        state.record(user, audit);
        Ok(TokenIssue::Queued)
    }

    async fn find_token_user(
        &self,
        token: &OneTimeTokenHash,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError> {
        let state = self.store.lock();
        let user = state.token_user(token, purpose, now);
        Ok(user.and_then(|id| state.users.get(&id)).map(|stored| stored.user.clone()))
    }

    async fn confirm_email(
        &self,
        token: &OneTimeTokenHash,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Option<User>, StoreError> {
        let mut state = self.store.lock();
        let Some(id) = state.use_up(token, TokenPurpose::VerifyEmail, now) else { return Ok(None) };
        let Some(stored) = state.users.get_mut(&id) else { return Ok(None) };
        stored.user.email_verified = true;
        stored.user.updated_at = now;
        let user = stored.user.clone();
        state.record(id, [audit]);
        Ok(Some(user))
    }

    async fn reset_password(
        &self,
        token: &OneTimeTokenHash,
        password_hash: PasswordHash,
        notice: &Mail,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Option<User>, StoreError> {
        let mut state = self.store.lock();
        let Some(id) = state.use_up(token, TokenPurpose::ResetPassword, now) else { return Ok(None) };
        let Some(stored) = state.users.get_mut(&id) else { return Ok(None) };
        stored.password_hash = password_hash;
        stored.throttle = LoginThrottle::default();
        // The mail reached the address: it is verified.
        stored.user.email_verified = true;
        stored.user.updated_at = now;
        let user = stored.user.clone();
        state.throttles.remove(&id);
        state.end_sessions(id, EndSessions::All, now);
        // A new password: no older link resets it, and no sign-in that checked the old one finishes.
        state.void_tokens_of(id, &TokenPurpose::VOIDED_BY_A_RESET, now);
        state.queue(notice.clone(), now);
        state.record(id, [audit]);
        Ok(Some(user))
    }

    async fn purge_tokens(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut state = self.store.lock();
        let count = state.one_time_tokens.len();
        state
            .one_time_tokens
            .retain(|_, token| token.expires_at >= before && token.used_at.is_none_or(|used_at| used_at >= before));
        Ok(u64::try_from(count - state.one_time_tokens.len()).unwrap_or(u64::MAX))
    }
}
