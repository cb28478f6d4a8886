//! `SessionRepository`: sign-in sessions, each one refresh-token family, with tokens stored only as hashes.

use chrono::{DateTime, Utc};
use users_domain::UserId;

use crate::{PasswordHash, RefreshTokenHash, StoreError};

/// The identity of a sign-in session (one refresh-token family). Access tokens carry it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionId(pub i64);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSession {
    pub user_id: UserId,
    /// The hash the password was checked against: the session starts only if the user still has it, so a sign-in
    /// that checked a password being changed at that moment cannot outlive the change.
    pub password_hash: PasswordHash,
    pub refresh_token_hash: RefreshTokenHash,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
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
    /// was deleted while signing in) or no longer has `password_hash` (the password was changed meanwhile).
    async fn create(&self, session: NewSession) -> Result<Option<SessionId>, StoreError>;

    /// One refresh, atomically: marks `used` as used and, when it was current and its session is live at `now`
    /// (not revoked, not expired), makes `successor` the session's current token and moves the session's expiry to
    /// `expires_at` (`Rotated`); a revoked or expired session gets no new token (`SessionEnded`). Says what `used`
    /// was, with its session as it stood before. Two concurrent calls with one token never both rotate it.
    async fn rotate_refresh_token(
        &self,
        used: &RefreshTokenHash,
        successor: &RefreshTokenHash,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<RefreshTokenUse, StoreError>;

    /// The session a refresh token (current or already used) belongs to.
    async fn find_by_refresh_token(&self, hash: &RefreshTokenHash) -> Result<Option<SessionId>, StoreError>;

    /// Ends a session: its refresh tokens stop working and so do the access tokens that name it.
    async fn revoke(&self, session: SessionId, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Deletes the sessions (with their refresh tokens) that ended or expired before `before`; returns how many.
    async fn purge_ended(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Ends every session of a user except `keep`.
    async fn revoke_all_of_user(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}
