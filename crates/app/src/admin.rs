//! Managing other users (listing, looking up, creating, replacing and deleting them, and their roles), and
//! provisioning an admin from the command line. Both HTTP dialects call these; only how they name a user differs.

use users_domain::{
    ClientDetails, Email, LoginIdentifier, ObjectId, Password, PasswordError, PersonName, ProfilePatch, Registration,
    Role, RoleSet, User, UserId,
};
use users_ports::{
    AuditKind, DeleteUserError as StoreDeleteError, InsertUserError, Page, PageRequest, UpdateUserError, UserFilter,
    UserOrder, UserQuery, UserRepository, UserUpdate,
};

use crate::audit::{by, by_nobody, role_names, update_records};
use crate::recovery::is_new_address;
use crate::{Adapters, Administrator, Unexpected, UserService, unexpected_from_port_errors};

/// How a request names a user: the Admin API by numeric id, the Profile API by ObjectId.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserRef {
    Id(UserId),
    ObjectId(ObjectId),
}

impl From<UserId> for UserRef {
    fn from(id: UserId) -> Self {
        Self::Id(id)
    }
}

impl From<ObjectId> for UserRef {
    fn from(id: ObjectId) -> Self {
        Self::ObjectId(id)
    }
}

/// A full replacement of a user's names and email, and optionally of their roles.
#[derive(Clone, Debug)]
pub struct UserReplacement {
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub email: Email,
    pub roles: Option<RoleSet>,
}

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
pub enum CreateUserError {
    #[error("email is already taken")]
    EmailTaken,
    #[error("password {0}")]
    WeakPassword(PasswordError),
    #[error("username is already taken")]
    UsernameTaken,
    /// The password hashers are busy: try again shortly.
    #[error("the service is busy")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum ReplaceUserError {
    #[error("user not found")]
    NotFound,
    #[error("email is already taken")]
    EmailTaken,
    #[error("the last admin cannot be demoted")]
    LastAdmin,
    /// An admin changing their own email here, with a session whose sign-in is not recent: the proof of presence
    /// `/users/current` asks for cannot be skipped through the admin routes.
    #[error("changing one's own email needs a recent sign-in")]
    ReauthenticationRequired,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum DeleteUserError {
    #[error("user not found")]
    NotFound,
    #[error("the last admin cannot be deleted")]
    LastAdmin,
    /// An admin deleting their own account here, with a session whose sign-in is not recent.
    #[error("deleting one's own account needs a recent sign-in")]
    ReauthenticationRequired,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum ClearLockoutError {
    #[error("user not found")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum ListRolesError {
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

/// What `provision_admin` may do with an account that already has the email.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExistingAccount {
    /// Leave it as it is and fail: whoever registered the email first (before the operator, perhaps to be made admin)
    /// is not to be trusted with the role.
    Refuse,
    /// Give it the admin role; it keeps its password.
    Promote,
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionAdminError {
    /// The email has an account and promoting it was not allowed, or it was registered while the admin was being made.
    #[error("an account with this email already exists")]
    ExistingAccount,
    /// The password for the new account could not be had; the cause is the operator's to read.
    #[error("{0}")]
    NoPassword(Box<dyn std::error::Error + Send + Sync>),
    #[error("password {0}")]
    WeakPassword(PasswordError),
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

unexpected_from_port_errors!(
    ListUsersError,
    GetUserError,
    CreateUserError,
    ReplaceUserError,
    DeleteUserError,
    ListRolesError,
    ClearLockoutError,
    ProvisionAdminError
);
crate::busy_from_hash_errors!(CreateUserError);

/// Run from the command line, where nothing else competes for the hashers: busy hashers are a fault there.
impl From<users_ports::PasswordHashError> for ProvisionAdminError {
    fn from(error: users_ports::PasswordHashError) -> Self {
        Self::Unexpected(error.into())
    }
}

/// How far the matches of a filtered list are counted: enough for the pages a person reads through (fifty of twenty),
/// few enough that the count of a broad filter over millions of users costs about as much as the page itself. At
/// 10,000 the count was most of the work of a filtered page on a million users: every first page of a search or a
/// role read 10,000 index entries or more (BENCHMARKS.md, issue 17).
pub const FILTERED_COUNT_LIMIT: u64 = 1_000;

impl<A: Adapters> UserService<A> {
    /// The users `filter` lets through, in `order`, a page of them. Their number is exact up to
    /// [`FILTERED_COUNT_LIMIT`], and past it for the whole population.
    pub async fn list_users(
        &self,
        _admin: &Administrator,
        filter: UserFilter,
        order: UserOrder,
        page: PageRequest,
    ) -> Result<Page<User>, ListUsersError> {
        let now = self.now();
        let query = UserQuery { filter, order, page, count_limit: FILTERED_COUNT_LIMIT, now };
        let mut page = self.users.list(&query).await?;
        page.items = page.items.into_iter().map(|user| user.as_of(now)).collect();
        Ok(page)
    }

    pub async fn get_user(&self, _admin: &Administrator, user: impl Into<UserRef>) -> Result<User, GetUserError> {
        let user = self.find(user.into()).await?.ok_or(GetUserError::NotFound)?;
        Ok(user.as_of(self.now()))
    }

    /// Creates an account with the given roles (`user` when none are given). Nobody is signed in by it. Unless the
    /// admin vouches for the address (`email_verified`), a verification link is mailed to it.
    pub async fn create_user(
        &self,
        admin: &Administrator,
        registration: Registration,
        roles: Option<RoleSet>,
        email_verified: bool,
    ) -> Result<User, CreateUserError> {
        let password = &registration.password;
        password
            .check_not_personal(&registration.email, registration.username.as_ref())
            .map_err(CreateUserError::WeakPassword)?;
        let roles = roles.map_or_else(|| vec![Role::User], Vec::from);
        let now = self.now();
        let verification = self.verification_for(&registration.email, email_verified, now)?;
        let created = by(admin.current(), AuditKind::UserCreated, now)
            .with("email", registration.email.as_ref())
            .with("roles", role_names(&roles))
            .with("email_verified", email_verified);
        let new_user = self.new_user(registration, roles, verification, vec![created], now).await?;
        self.users.insert(new_user).await.map_err(|error| match error {
            InsertUserError::DuplicateEmail => CreateUserError::EmailTaken,
            InsertUserError::DuplicateUsername => CreateUserError::UsernameTaken,
            InsertUserError::Unexpected(error) => error.into(),
        })
    }

    /// Replaces the user's names and email, and their roles when roles are given, all or nothing. Taking the
    /// admin role from the last admin is refused. A new address is unverified: it is mailed a verification link,
    /// and the former one a notice.
    pub async fn replace_user(
        &self,
        admin: &Administrator,
        id: UserId,
        replacement: UserReplacement,
    ) -> Result<User, ReplaceUserError> {
        let own = admin.current();
        if id == own.user.id && is_new_address(&own.user.email, &replacement.email) && !self.signed_in_recently(own) {
            return Err(ReplaceUserError::ReauthenticationRequired);
        }
        let now = self.now();
        let current = self.users.find_by_id(id).await?.ok_or(ReplaceUserError::NotFound)?;
        let address = self.address_change(&current.email, &replacement.email, now)?;
        let mut update = UserUpdate {
            username: None,
            email: Some(replacement.email),
            password_hash: None,
            profile: ProfilePatch {
                first_name: Some(Some(replacement.first_name)),
                last_name: Some(Some(replacement.last_name)),
                ..ProfilePatch::default()
            },
            roles: replacement.roles.map(Vec::from),
            ends_sessions: None,
            email_verified: address.email_verified,
            verification: address.verification,
            notices: address.notices,
            mail_interval: self.policy.email.mail_interval,
            audit: Vec::new(),
            updated_at: now,
        };
        update.audit = update_records(&current, &update, |kind| by(own, kind, now));
        let replaced = self.users.update(id, update).await.map_err(|error| match error {
            UpdateUserError::NotFound => ReplaceUserError::NotFound,
            UpdateUserError::DuplicateEmail => ReplaceUserError::EmailTaken,
            UpdateUserError::LastAdmin => ReplaceUserError::LastAdmin,
            UpdateUserError::Unexpected(error) => error.into(),
            // The username is not part of a replacement, so it cannot collide.
            UpdateUserError::DuplicateUsername => ReplaceUserError::Unexpected(Unexpected::fault(error)),
        })?;
        Ok(replaced.as_of(now))
    }

    /// Deletes a user with their sessions, so their access tokens stop working at once.
    pub async fn delete_user(&self, admin: &Administrator, user: impl Into<UserRef>) -> Result<(), DeleteUserError> {
        let id = match user.into() {
            UserRef::Id(id) => id,
            UserRef::ObjectId(id) => self.users.find_by_object_id(id).await?.ok_or(DeleteUserError::NotFound)?.id,
        };
        if id == admin.current().user.id && !self.signed_in_recently(admin.current()) {
            return Err(DeleteUserError::ReauthenticationRequired);
        }
        // The event names the user by its id (its subject); the store keeps it after the user is gone.
        let deleted = by(admin.current(), AuditKind::UserDeleted, self.now());
        self.users.delete(id, deleted).await.map_err(|error| match error {
            StoreDeleteError::NotFound => DeleteUserError::NotFound,
            StoreDeleteError::LastAdmin => DeleteUserError::LastAdmin,
            StoreDeleteError::Unexpected(error) => error.into(),
        })
    }

    /// Forgets the user's failed sign-ins and lifts every lock they caused, from every network: the way back for an
    /// owner whose account was locked from everywhere by guessing spread over many networks.
    pub async fn clear_lockout(&self, admin: &Administrator, id: UserId) -> Result<(), ClearLockoutError> {
        let unlocked = by(admin.current(), AuditKind::UserUnlocked, self.now());
        if self.users.clear_lockout(id, unlocked).await? { Ok(()) } else { Err(ClearLockoutError::NotFound) }
    }

    pub async fn list_roles(&self, _admin: &Administrator) -> Result<Vec<Role>, ListRolesError> {
        Ok(self.users.list_roles().await?)
    }

    /// Makes sure an admin account exists for `email`, the operator's way in to a fresh installation: creates it with
    /// the password `new_password` gives, or, if `existing` allows, gives the account that has the email the admin
    /// role. The password is asked for only when an account is to be created.
    pub async fn provision_admin<E>(
        &self,
        email: Email,
        existing: ExistingAccount,
        new_password: impl AsyncFnOnce() -> Result<Password, E>,
    ) -> Result<ProvisionedAdmin, ProvisionAdminError>
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if let Some(found) = self.users.find_credentials(&LoginIdentifier::Email(email.clone())).await? {
            return match existing {
                ExistingAccount::Refuse => Err(ProvisionAdminError::ExistingAccount),
                ExistingAccount::Promote => self.promote_to_admin(found.user).await,
            };
        }
        let password = new_password().await.map_err(|error| ProvisionAdminError::NoPassword(error.into()))?;
        password.check_not_personal(&email, None).map_err(ProvisionAdminError::WeakPassword)?;
        let registration = Registration { username: None, email, password, first_name: None, last_name: None };
        // The operator vouches for the address they typed: no verification.
        let now = self.now();
        let roles = vec![Role::Admin, Role::User];
        let created = by_nobody(AuditKind::UserCreated, now, &ClientDetails::default())
            .with("email", registration.email.as_ref())
            .with("roles", role_names(&roles))
            .with("email_verified", true)
            .with("via", "command line");
        let new_admin = self.new_user(registration, roles, None, vec![created], now).await?;
        match self.users.insert(new_admin).await {
            Ok(user) => Ok(ProvisionedAdmin::Created(user)),
            // Registered between the look-up and the insert: someone else's account, never promoted by a password
            // meant for a new one, whatever `existing` says.
            Err(InsertUserError::DuplicateEmail) => Err(ProvisionAdminError::ExistingAccount),
            Err(InsertUserError::Unexpected(error)) => Err(error.into()),
            Err(other @ InsertUserError::DuplicateUsername) => Err(Unexpected::fault(other).into()),
        }
    }

    /// Gives the account the admin role, its address vouched for by the operator who named it.
    async fn promote_to_admin(&self, user: User) -> Result<ProvisionedAdmin, ProvisionAdminError> {
        if user.is_admin() && user.email_verified {
            return Ok(ProvisionedAdmin::AlreadyAdmin(user));
        }
        let mut roles = user.roles.clone();
        if !user.is_admin() {
            roles.push(Role::Admin);
        }
        let now = self.now();
        let mut promotion = UserUpdate {
            username: None,
            email: None,
            password_hash: None,
            profile: ProfilePatch::default(),
            roles: Some(roles),
            ends_sessions: None,
            email_verified: Some(true),
            verification: None,
            notices: Vec::new(),
            mail_interval: self.policy.email.mail_interval,
            audit: Vec::new(),
            updated_at: now,
        };
        let operator = |kind| by_nobody(kind, now, &ClientDetails::default()).with("via", "command line");
        promotion.audit = update_records(&user, &promotion, operator);
        let promoted = self.users.update(user.id, promotion).await.map_err(|error| match error {
            UpdateUserError::Unexpected(error) => error.into(),
            // Adding a role can't demote anyone; the user vanishing is a race worth reporting.
            other => ProvisionAdminError::Unexpected(Unexpected::fault(other)),
        })?;
        Ok(if user.is_admin() {
            ProvisionedAdmin::AlreadyAdmin(promoted)
        } else {
            ProvisionedAdmin::Promoted(promoted)
        })
    }

    pub(crate) async fn find(&self, user: UserRef) -> Result<Option<User>, Unexpected> {
        Ok(match user {
            UserRef::Id(id) => self.users.find_by_id(id).await?,
            UserRef::ObjectId(id) => self.users.find_by_object_id(id).await?,
        })
    }
}
