//! Where an account is signed in: its owner lists their sessions and ends one they do not recognise, or all but the
//! one in hand; an admin lists a user's sessions and signs them out everywhere.

use users_domain::UserId;
use users_ports::{AuditKind, SessionKey, SessionRecord, SessionRepository, UserRepository};

use crate::audit::by;
use crate::{Adapters, Administrator, CurrentUser, Unexpected, UserService, unexpected_from_port_errors};

/// A live session as shown to a person, and whether it is the one their request came with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionView {
    pub session: SessionRecord,
    pub current: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ListSessionsError {
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum EndSessionError {
    /// No live session of the caller's has this id: another user's session is no more found than a made-up one.
    #[error("no such session")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum EndOtherSessionsError {
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum ListUserSessionsError {
    #[error("user not found")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum SignOutEverywhereError {
    #[error("user not found")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

unexpected_from_port_errors!(
    ListSessionsError,
    EndSessionError,
    EndOtherSessionsError,
    ListUserSessionsError,
    SignOutEverywhereError
);

impl<A: Adapters> UserService<A> {
    /// The caller's live sessions, most recently used first, the one in hand marked.
    pub async fn list_sessions(&self, current: &CurrentUser) -> Result<Vec<SessionView>, ListSessionsError> {
        Ok(self.sessions_of(current.user.id, current).await?)
    }

    /// Ends one of the caller's sessions (the one in hand too: that is signing out); its access and refresh tokens
    /// stop working at once.
    pub async fn end_session(&self, current: &CurrentUser, key: &SessionKey) -> Result<(), EndSessionError> {
        let now = self.now();
        let revoked = by(current, AuditKind::SessionRevoked, now).with("session", key.as_str());
        let ended = self.sessions.revoke_by_key(current.user.id, key, now, revoked).await?;
        ended.map(|_| ()).ok_or(EndSessionError::NotFound)
    }

    /// Ends every session of the caller but the one in hand.
    pub async fn end_other_sessions(&self, current: &CurrentUser) -> Result<(), EndOtherSessionsError> {
        let now = self.now();
        let revoked = by(current, AuditKind::SessionRevoked, now).with("sessions", "others");
        Ok(self.sessions.revoke_all_of_user(current.user.id, Some(current.session), now, revoked).await?)
    }

    /// A user's live sessions, most recently used first; the admin's own session is marked when it is among them.
    pub async fn list_user_sessions(
        &self,
        admin: &Administrator,
        id: UserId,
    ) -> Result<Vec<SessionView>, ListUserSessionsError> {
        self.users.find_by_id(id).await?.ok_or(ListUserSessionsError::NotFound)?;
        Ok(self.sessions_of(id, admin.current()).await?)
    }

    /// Ends every session of the user, the admin's own included when they sign themselves out.
    pub async fn sign_out_everywhere(&self, admin: &Administrator, id: UserId) -> Result<(), SignOutEverywhereError> {
        self.users.find_by_id(id).await?.ok_or(SignOutEverywhereError::NotFound)?;
        let now = self.now();
        let revoked = by(admin.current(), AuditKind::SessionRevoked, now).with("sessions", "all");
        Ok(self.sessions.revoke_all_of_user(id, None, now, revoked).await?)
    }

    /// `id`'s live sessions, the one `viewer`'s request came with marked.
    async fn sessions_of(&self, id: UserId, viewer: &CurrentUser) -> Result<Vec<SessionView>, Unexpected> {
        let sessions = self.sessions.list_live(id, self.now()).await?;
        Ok(sessions.into_iter().map(|session| SessionView { current: session.id == viewer.session, session }).collect())
    }
}
