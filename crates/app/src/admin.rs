//! Managing other users: listing, looking up and deleting them, and provisioning an admin from the command line.

use users_domain::{Email, LoginIdentifier, ObjectId, Password, Profile, Role, User};
use users_ports::{
    DeleteUserError as StoreDeleteError, InsertUserError, NewUser, Page, PageRequest, PasswordHasher, SetRolesError,
    UserRepository,
};

use crate::{Adapters, Administrator, Unexpected, UserService, unexpected_from_port_errors};

#[derive(Debug, thiserror::Error)]
pub enum ListUsersError {
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum GetUserError {
    #[error("user not found")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum DeleteUserError {
    #[error("user not found")]
    NotFound,
    #[error("the last admin cannot be deleted")]
    LastAdmin,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionAdminError {
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

/// What `provision_admin` did.
#[derive(Clone, Debug)]
pub enum ProvisionedAdmin {
    Created(User),
    /// An existing account was given the admin role; its password was left as it was.
    Promoted(User),
    AlreadyAdmin(User),
}

unexpected_from_port_errors!(ListUsersError, GetUserError, DeleteUserError, ProvisionAdminError);

impl<A: Adapters> UserService<A> {
    pub async fn list_users(&self, _admin: &Administrator, page: PageRequest) -> Result<Page<User>, ListUsersError> {
        Ok(self.users.list(page).await?)
    }

    pub async fn get_user(&self, _admin: &Administrator, id: ObjectId) -> Result<User, GetUserError> {
        self.users.find_by_object_id(id).await?.ok_or(GetUserError::NotFound)
    }

    /// Deletes a user with their sessions, so their access tokens stop working at once.
    pub async fn delete_user(&self, _admin: &Administrator, id: ObjectId) -> Result<(), DeleteUserError> {
        let user = self.users.find_by_object_id(id).await?.ok_or(DeleteUserError::NotFound)?;
        self.users.delete(user.id).await.map_err(|error| match error {
            StoreDeleteError::NotFound => DeleteUserError::NotFound,
            StoreDeleteError::LastAdmin => DeleteUserError::LastAdmin,
            StoreDeleteError::Unexpected(error) => error.into(),
        })
    }

    /// Makes sure an admin account exists for `email`: creates it with `password`, or gives an existing account
    /// the admin role. The operator's way in to a fresh installation.
    pub async fn provision_admin(
        &self,
        email: Email,
        password: Password,
    ) -> Result<ProvisionedAdmin, ProvisionAdminError> {
        if let Some(existing) = self.users.find_credentials(&LoginIdentifier::Email(email.clone())).await? {
            let user = existing.user;
            if user.is_admin() {
                return Ok(ProvisionedAdmin::AlreadyAdmin(user));
            }
            let mut roles = user.roles.clone();
            roles.push(Role::Admin);
            roles.sort();
            let promoted = self.users.set_roles(user.id, &roles, self.now()).await.map_err(|error| match error {
                SetRolesError::Unexpected(error) => error.into(),
                // Adding a role can't take the last admin's away; the user vanishing is a race worth reporting.
                other => ProvisionAdminError::Unexpected(Unexpected(Box::new(other))),
            })?;
            return Ok(ProvisionedAdmin::Promoted(promoted));
        }
        let password_hash = self.hasher.hash(&password).await?;
        let now = self.now();
        let new_admin = NewUser {
            object_id: self.object_ids.next(now),
            username: None,
            email,
            password_hash,
            profile: Profile::default(),
            roles: vec![Role::Admin, Role::User],
            created_at: now,
        };
        match self.users.insert(new_admin).await {
            Ok(user) => Ok(ProvisionedAdmin::Created(user)),
            Err(InsertUserError::Unexpected(error)) => Err(error.into()),
            // Someone registered the same email between our look-up and the insert.
            Err(race) => Err(ProvisionAdminError::Unexpected(Unexpected(Box::new(race)))),
        }
    }
}
