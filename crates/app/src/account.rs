//! A signed-in user's own account: changing the profile, email, username or password, and deleting it.

use users_domain::{PasswordError, ProfileChanges, User};
use users_ports::{
    DeleteUserError as StoreDeleteError, PasswordHasher, SessionRepository, UpdateUserError, UserRepository, UserUpdate,
};

use crate::{Adapters, CurrentUser, Unexpected, UserService, unexpected_from_port_errors};

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
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum DeleteAccountError {
    #[error("the last admin cannot delete their account")]
    LastAdmin,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

unexpected_from_port_errors!(UpdateProfileError, DeleteAccountError);

impl<A: Adapters> UserService<A> {
    /// Applies the changes the user asked for. A new password ends every other session of the user, so whoever
    /// knew the old one is signed out everywhere but here.
    pub async fn update_profile(
        &self,
        current: &CurrentUser,
        changes: ProfileChanges,
    ) -> Result<User, UpdateProfileError> {
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
        let password_changed = password_hash.is_some();
        let now = self.now();
        let update = UserUpdate {
            username: changes.username,
            email: changes.email,
            password_hash,
            profile: changes.profile,
            roles: None,
            updated_at: now,
        };
        let user = self.users.update(current.user.id, update).await.map_err(|error| match error {
            UpdateUserError::NotFound => UpdateProfileError::AccountGone,
            UpdateUserError::DuplicateEmail => UpdateProfileError::EmailTaken,
            UpdateUserError::DuplicateUsername => UpdateProfileError::UsernameTaken,
            UpdateUserError::Unexpected(error) => error.into(),
            // This update leaves roles alone, so the store refusing a demotion is a fault.
            UpdateUserError::LastAdmin => UpdateProfileError::Unexpected(Unexpected(Box::new(error))),
        })?;
        if password_changed {
            self.sessions.revoke_all_of_user(user.id, Some(current.session), now).await?;
        }
        Ok(user)
    }

    /// Deletes the user's account with its sessions. Deleting an account that is already gone succeeds.
    pub async fn delete_account(&self, current: &CurrentUser) -> Result<(), DeleteAccountError> {
        match self.users.delete(current.user.id).await {
            Ok(()) | Err(StoreDeleteError::NotFound) => Ok(()),
            Err(StoreDeleteError::LastAdmin) => Err(DeleteAccountError::LastAdmin),
            Err(StoreDeleteError::Unexpected(error)) => Err(error.into()),
        }
    }
}
