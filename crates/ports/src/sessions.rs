//! `SessionRepository`: sign-in sessions, each one refresh-token family, with tokens stored only as hashes.

use chrono::{DateTime, Utc};
use users_domain::{ClientDetails, UserId};

use crate::{AuditRecord, PasswordHash, RefreshTokenHash, StoreError};

/// The identity of a sign-in session (one refresh-token family). Access tokens carry it sealed; clients never see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionId(pub i64);

/// The public name of a session, the `id` clients see: 16 random bytes as 32 lowercase hex digits. Unlike
/// [`SessionId`], it tells nothing of how many sessions there are or when one began, and cannot be guessed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionKey(String);

impl SessionKey {
    const BYTES: usize = 16;

    /// A fresh key from the operating system's generator.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; Self::BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes.iter().map(|byte| format!("{byte:02x}")).collect()))
    }

    /// A key as a client or a store names it. Anything else than 32 lowercase hex digits names no session.
    pub fn parse(raw: &str) -> Option<Self> {
        let well_formed = raw.len() == Self::BYTES * 2 && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        well_formed.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSession {
    pub key: SessionKey,
    pub user_id: UserId,
    /// The device that signed in.
    pub client: ClientDetails,
    /// The hash the password was checked against: the session starts only if the user still has it, so a sign-in
    /// that checked a password being changed at that moment cannot outlive the change.
    pub password_hash: PasswordHash,
    /// A fresh hash of the same password that replaces `password_hash` with the session, in its transaction: the
    /// first sign-in of an imported account trades the other system's hash for the service's own.
    pub rehashed_password: Option<PasswordHash>,
    pub refresh_token_hash: RefreshTokenHash,
    /// Also the user's last sign-in, which the session's start sets.
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The sign-in it records (`user.signed_in`), written with the session.
    pub audit: AuditRecord,
}

/// A session as the refresh flow needs to judge it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionState {
    pub id: SessionId,
    pub user_id: UserId,
    /// When the password was last entered for this session (its sign-in): refreshes do not move it.
    pub authenticated_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked: bool,
}

impl SessionState {
    /// Whether the session may still be used at `now`: neither revoked nor expired.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        !self.revoked && self.expires_at > now
    }
}

/// A session as its owner (or an admin) is shown it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: SessionId,
    pub key: SessionKey,
    pub created_at: DateTime<Utc>,
    /// The sign-in, or the latest refresh: access tokens are checked without writing, so they do not move it.
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The device of the latest sign-in or refresh.
    pub client: ClientDetails,
}

/// What presenting a refresh token found. Each variant carries the session as it stood before the call. Of
/// concurrent calls with one token, exactly one gets `Rotated` or `SessionEnded`; the others get `Replayed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshTokenUse {
    /// The token was current and its session live (neither revoked nor expired at `now`): the token is now used
    /// up, the successor is the session's current token, and the session's expiry has moved.
    Rotated(SessionState),
    /// The token was current, and is now used up, but its session had been revoked or had expired: no successor
    /// was stored and the expiry did not move. The session is over; nothing is to be handed out.
    SessionEnded(SessionState),
    /// The token had been used before, at `used_at`: a second tab refreshing at the same moment, or someone
    /// replaying a stolen token. The caller tells them apart by how long ago the first use was. The session may
    /// have ended since.
    Replayed {
        session: SessionState,
        used_at: DateTime<Utc>,
        /// Whether the successor the caller derived is the one this session was given at that first use. It is
        /// not when the first use was answered by an instance that derives successors with another secret.
        successor_issued: bool,
    },
    /// No such token.
    Unknown,
}

#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait SessionRepository: Send + Sync + 'static {
    /// Starts a session whose current refresh token has the given hash; `None` when the user no longer exists (it
    /// was deleted while signing in), no longer has `password_hash` (the password was changed meanwhile) or is
    /// suspended at `created_at` (a suspension written while the password was checked).
    async fn create(&self, session: NewSession) -> Result<Option<SessionId>, StoreError>;

    /// One refresh, atomically: marks `used` as used and, when it was current and its session is live at `now`
    /// (not revoked, not expired), makes `successor` the session's current token and moves the session's expiry to
    /// `expires_at`, its last use to `now` and its device to `client` (`Rotated`); a revoked or expired session gets
    /// no new token (`SessionEnded`). Says what `used` was, with its session as it stood before. Two concurrent calls
    /// with one token never both rotate it.
    async fn rotate_refresh_token(
        &self,
        used: &RefreshTokenHash,
        successor: &RefreshTokenHash,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        client: &ClientDetails,
    ) -> Result<RefreshTokenUse, StoreError>;

    /// The user's sessions that are live at `now` (neither ended nor expired), most recently used first.
    async fn list_live(&self, user: UserId, now: DateTime<Utc>) -> Result<Vec<SessionRecord>, StoreError>;

    /// Ends the session named `key` if it is `user`'s and live at `now`; says which it ended, `None` when there was
    /// no such session (another user's is no such session). `audit` is recorded when a session ended.
    async fn revoke_by_key(
        &self,
        user: UserId,
        key: &SessionKey,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Option<SessionId>, StoreError>;

    /// The session a refresh token (current or already used) belongs to.
    async fn find_by_refresh_token(&self, hash: &RefreshTokenHash) -> Result<Option<SessionId>, StoreError>;

    /// Ends a session: its refresh tokens stop working and so do the access tokens that name it. `audit` is
    /// recorded about the session's user, if the session still exists.
    async fn revoke(&self, session: SessionId, now: DateTime<Utc>, audit: AuditRecord) -> Result<(), StoreError>;

    /// Deletes the sessions (with their refresh tokens) that ended or expired before `before`; returns how many.
    async fn purge_ended(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Ends every session of a user except `keep`, recording `audit` about the user.
    async fn revoke_all_of_user(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_32_hex_digits_and_reads_back() {
        let key = SessionKey::generate().unwrap();
        assert_eq!(SessionKey::parse(key.as_str()), Some(key.clone()));
        assert_ne!(SessionKey::generate().unwrap(), key);
    }

    #[test]
    fn only_32_lowercase_hex_digits_name_a_session() {
        assert!(SessionKey::parse("0123456789abcdef0123456789abcdef").is_some());
        for raw in ["", "42", "0123456789ABCDEF0123456789ABCDEF", "0123456789abcdef0123456789abcdeg", &"a".repeat(33)] {
            assert_eq!(SessionKey::parse(raw), None, "{raw}");
        }
    }
}
