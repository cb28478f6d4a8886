//! A signed-in user's own account: changing the profile, email, username or password, and deleting it. The changes
//! that take over an account need proof that its owner is there, not merely a token of theirs.

use chrono::Duration;
use users_domain::{ClientNetwork, LoginIdentifier, Password, PasswordError, ProfileChanges, User};
use users_ports::{
    AuditKind, DeleteUserError as StoreDeleteError, EndSessions, PasswordHasher, UpdateUserError, UserRepository,
    UserUpdate,
};

use crate::audit::{by, update_records};
use crate::auth::PasswordCheckError;
use crate::recovery::{AddressChange, password_changed_notice};
use crate::{Adapters, CurrentUser, Unexpected, UserService, busy_from_hash_errors, unexpected_from_port_errors};

/// What a request offers as proof that the account's owner is present: the password typed again, if any, and the
/// network it comes from (a wrong password counts as a failed sign-in from there).
#[derive(Clone, Debug)]
pub struct Reauthentication {
    pub current_password: CurrentPassword,
    pub network: ClientNetwork,
}

/// The current password as a request gives it.
#[derive(Clone, Debug)]
pub enum CurrentPassword {
    NotGiven,
    Typed(Password),
    /// Text no account's password can be (too short, say): refused like a wrong password, without a hash.
    Impossible,
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateProfileError {
    #[error("email is already taken")]
    EmailTaken,
    #[error("password {0}")]
    WeakPassword(PasswordError),
    #[error("username is already taken")]
    UsernameTaken,
    /// The account was deleted while the request was under way.
    #[error("the account no longer exists")]
    AccountGone,
    /// A new password or email needs the current password, or a session whose password was entered recently; the
    /// request had neither, or a wrong current password.
    #[error("this change needs the current password")]
    ReauthenticationRequired,
    /// Too many wrong passwords in a row from this network (or from everywhere): refused for this long.
    #[error("too many failed sign-ins; try again later")]
    Locked { retry_after: Duration },
    /// The password hashers are busy: try again shortly.
    #[error("the service is busy")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum DeleteAccountError {
    #[error("the last admin cannot delete their account")]
    LastAdmin,
    /// As for [`UpdateProfileError::ReauthenticationRequired`].
    #[error("deleting the account needs the current password")]
    ReauthenticationRequired,
    #[error("too many failed sign-ins; try again later")]
    Locked { retry_after: Duration },
    #[error("the service is busy")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

unexpected_from_port_errors!(UpdateProfileError, DeleteAccountError);
busy_from_hash_errors!(UpdateProfileError, DeleteAccountError);

/// Why the owner's presence could not be confirmed.
pub(crate) enum PresenceError {
    NotProven,
    Check(PasswordCheckError),
}

/// Each use case that needs proof of presence words its failures in its own error enum, the same way.
macro_rules! presence_errors {
    ($($error:ty),+ $(,)?) => {$(
        impl From<PresenceError> for $error {
            fn from(error: PresenceError) -> Self {
                match error {
                    PresenceError::NotProven | PresenceError::Check(PasswordCheckError::Wrong) => {
                        Self::ReauthenticationRequired
                    }
                    PresenceError::Check(PasswordCheckError::Locked { retry_after }) => Self::Locked { retry_after },
                    PresenceError::Check(PasswordCheckError::Busy) => Self::Busy,
                    PresenceError::Check(PasswordCheckError::Unexpected(error)) => Self::Unexpected(error),
                }
            }
        }
    )+};
}

presence_errors!(UpdateProfileError, DeleteAccountError);
pub(crate) use presence_errors;

impl<A: Adapters> UserService<A> {
    /// Applies the changes the user asked for. A new password or email needs proof of presence (see
    /// [`Reauthentication`]); a new email is unverified until the link mailed to it is used, and the former address
    /// is told of the change. A new password ends every other session of the user in the same transaction, so
    /// whoever knew the old one is signed out everywhere but here.
    pub async fn update_profile(
        &self,
        current: &CurrentUser,
        changes: ProfileChanges,
        proof: Reauthentication,
    ) -> Result<User, UpdateProfileError> {
        if changes.takes_over_the_account() {
            self.confirm_presence(current, proof).await?;
        }
        let password_hash = match &changes.password {
            Some(password) => {
                // Checked against the names the account will have after this change.
                let email = changes.email.as_ref().unwrap_or(&current.user.email);
                let username = changes.username.as_ref().map_or(current.user.username.as_ref(), Option::as_ref);
                password.check_not_personal(email, username).map_err(UpdateProfileError::WeakPassword)?;
                Some(self.hasher.hash(password).await?)
            }
            None => None,
        };
        let ends_sessions = password_hash.is_some().then_some(EndSessions::AllBut(current.session));
        let now = self.now();
        let mut address = match &changes.email {
            Some(email) => self.address_change(&current.user.email, email, now)?,
            None => AddressChange::default(),
        };
        if password_hash.is_some() {
            address.notices.push(password_changed_notice(&current.user.email));
        }
        let mut update = UserUpdate {
            username: changes.username,
            email: changes.email,
            password_hash,
            profile: changes.profile,
            roles: None,
            ends_sessions,
            email_verified: address.email_verified,
            verification: address.verification,
            notices: address.notices,
            mail_interval: self.policy.email.mail_interval,
            audit: Vec::new(),
            updated_at: now,
        };
        update.audit = update_records(&current.user, &update, |kind| by(current, kind, now));
        self.users.update(current.user.id, update).await.map_err(|error| match error {
            UpdateUserError::NotFound => UpdateProfileError::AccountGone,
            UpdateUserError::DuplicateEmail => UpdateProfileError::EmailTaken,
            UpdateUserError::DuplicateUsername => UpdateProfileError::UsernameTaken,
            UpdateUserError::Unexpected(error) => error.into(),
            // This update leaves roles alone, so the store refusing a demotion is a fault.
            UpdateUserError::LastAdmin => UpdateProfileError::Unexpected(Unexpected::fault(error)),
        })
    }

    /// Deletes the user's account with its sessions, given proof of presence. Deleting an account that is already
    /// gone succeeds.
    pub async fn delete_account(
        &self,
        current: &CurrentUser,
        proof: Reauthentication,
    ) -> Result<(), DeleteAccountError> {
        self.confirm_presence(current, proof).await?;
        let now = self.now();
        let deleted = by(current, AuditKind::UserDeleted, now).with("email", current.user.email.as_ref());
        match self.users.delete(current.user.id, deleted).await {
            Ok(()) | Err(StoreDeleteError::NotFound) => Ok(()),
            Err(StoreDeleteError::LastAdmin) => Err(DeleteAccountError::LastAdmin),
            Err(StoreDeleteError::Unexpected(error)) => Err(error.into()),
        }
    }

    /// Whether the session's password was entered within the policy's window (sign-up or sign-in; not a refresh).
    pub(crate) fn signed_in_recently(&self, current: &CurrentUser) -> bool {
        current.authenticated_at.is_some_and(|at| self.now() - at <= self.policy.reauthentication)
    }

    /// The owner is there if they typed their password again (checked like a sign-in: throttled, and a wrong one
    /// counted) or if their session's password was entered within the policy's window. A token alone, stolen from a
    /// log or a browser, proves neither.
    pub(crate) async fn confirm_presence(
        &self,
        current: &CurrentUser,
        proof: Reauthentication,
    ) -> Result<(), PresenceError> {
        let now = self.now();
        let password = match proof.current_password {
            CurrentPassword::Typed(password) => password,
            CurrentPassword::Impossible => return Err(PresenceError::NotProven),
            CurrentPassword::NotGiven => {
                return if self.signed_in_recently(current) { Ok(()) } else { Err(PresenceError::NotProven) };
            }
        };
        let login = LoginIdentifier::Email(current.user.email.clone());
        let credentials = self
            .users
            .find_credentials(&login)
            .await
            .map_err(|error| PresenceError::Check(PasswordCheckError::Unexpected(error.into())))?;
        // Gone, or its email changed meanwhile: nothing to check the password against.
        let Some(credentials) = credentials.filter(|found| found.user.id == current.user.id) else {
            return Err(PresenceError::NotProven);
        };
        // With a second factor, a right password forgets none of the wrong codes before it (a guesser holding the
        // password and a token would otherwise clear them between guesses).
        let second_factor = credentials.user.mfa_enabled;
        let checked =
            self.check_password(&credentials, &password, &proof.network, &current.client, now, second_factor).await;
        checked.map_err(PresenceError::Check)
    }
}
