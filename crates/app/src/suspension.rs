//! Stopping an account without deleting it: an admin suspends a user (for a while, or until lifted), which ends every
//! session at once and refuses sign-ins, refreshes and reset mail meanwhile; and lifts it again.

use chrono::{DateTime, Utc};
use users_domain::{Suspension, SuspensionError, SuspensionReason, User, UserId};
use users_ports::{AuditKind, SuspendUserError as StoreSuspendError, UserRepository};

use crate::audit::by;
use crate::{Adapters, Administrator, Unexpected, UserService, unexpected_from_port_errors};

/// What an admin asks for: until when (`None`: until lifted) and why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SuspensionRequest {
    pub until: Option<DateTime<Utc>>,
    pub reason: Option<SuspensionReason>,
}

#[derive(Debug, thiserror::Error)]
pub enum SuspendUserError {
    #[error("user not found")]
    NotFound,
    /// An admin cannot lock themselves out.
    #[error("admins cannot suspend themselves")]
    Oneself,
    /// No other admin would be left to lift it.
    #[error("the last active admin cannot be suspended")]
    LastActiveAdmin,
    #[error("until {0}")]
    InvalidEnd(SuspensionError),
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum UnsuspendUserError {
    #[error("user not found")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

unexpected_from_port_errors!(SuspendUserError, UnsuspendUserError);

impl<A: Adapters> UserService<A> {
    /// Suspends the user from now: every session of theirs ends at once, their unused reset links die, and until
    /// the suspension ends (or is lifted) a correct sign-in is refused as suspended and no reset mail is sent.
    /// Suspending an account already suspended replaces its end and reason.
    pub async fn suspend_user(
        &self,
        admin: &Administrator,
        id: UserId,
        request: SuspensionRequest,
    ) -> Result<User, SuspendUserError> {
        let now = self.now();
        let suspension =
            Suspension::starting(now, request.until, request.reason).map_err(SuspendUserError::InvalidEnd)?;
        if id == admin.current().user.id {
            return Err(SuspendUserError::Oneself);
        }
        let mut record = by(admin.current(), AuditKind::UserSuspended, now);
        if let Some(reason) = &suspension.reason {
            record = record.with("reason", reason.as_str());
        }
        if let Some(until) = suspension.until {
            record = record.with("until", until.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
        }
        let suspended = self.users.suspend(id, suspension, record).await.map_err(|error| match error {
            StoreSuspendError::NotFound => SuspendUserError::NotFound,
            StoreSuspendError::LastActiveAdmin => SuspendUserError::LastActiveAdmin,
            StoreSuspendError::Unexpected(error) => error.into(),
        })?;
        tracing::info!(user = id.0, admin = admin.current().user.id.0, "user suspended");
        Ok(suspended)
    }

    /// Lifts the user's suspension (doing nothing to an active account); they may sign in again.
    pub async fn unsuspend_user(&self, admin: &Administrator, id: UserId) -> Result<User, UnsuspendUserError> {
        let now = self.now();
        let lifted = by(admin.current(), AuditKind::UserUnsuspended, now);
        let user = self.users.unsuspend(id, now, lifted).await?.ok_or(UnsuspendUserError::NotFound)?;
        tracing::info!(user = id.0, admin = admin.current().user.id.0, "user suspension lifted");
        Ok(user.as_of(now))
    }
}
