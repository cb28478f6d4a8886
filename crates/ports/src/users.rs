//! `UserRepository`: where users, their credentials and their roles are kept.

use chrono::{DateTime, Utc};
use users_domain::{Email, LoginIdentifier, ObjectId, Profile, ProfilePatch, Role, User, UserId, Username};

use crate::{PasswordHash, SessionId, StoreError};

/// A user to be stored.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub object_id: ObjectId,
    pub username: Option<Username>,
    pub email: Email,
    pub password_hash: PasswordHash,
    pub profile: Profile,
    pub roles: Vec<Role>,
    pub created_at: DateTime<Utc>,
}

/// A partial update: `None` leaves a column as it is (see [`ProfilePatch`] for the clearable fields). Everything in
/// it is applied in one transaction, or nothing is.
#[derive(Clone, Debug)]
pub struct UserUpdate {
    pub username: Option<Option<Username>>,
    pub email: Option<Email>,
    pub password_hash: Option<PasswordHash>,
    pub profile: ProfilePatch,
    /// Replaces the user's roles when given.
    pub roles: Option<Vec<Role>>,
    pub updated_at: DateTime<Utc>,
}

/// A user together with the hash their password must match, and their record of failed sign-ins.
#[derive(Clone, Debug)]
pub struct StoredCredentials {
    pub user: User,
    pub password_hash: PasswordHash,
    pub throttle: LoginThrottle,
}

/// Consecutive failed sign-ins of an account, and until when it refuses more.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoginThrottle {
    pub failed_logins: u32,
    pub locked_until: Option<DateTime<Utc>>,
}

/// Which slice of the users, in id order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub offset: u64,
    pub limit: u32,
}

/// One slice of a list and the size of the whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum InsertUserError {
    #[error("email is already taken")]
    DuplicateEmail,
    #[error("username is already taken")]
    DuplicateUsername,
    #[error(transparent)]
    Unexpected(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateUserError {
    #[error("user not found")]
    NotFound,
    #[error("email is already taken")]
    DuplicateEmail,
    #[error("username is already taken")]
    DuplicateUsername,
    /// The update would take the admin role from the last admin.
    #[error("the last admin cannot be demoted")]
    LastAdmin,
    #[error(transparent)]
    Unexpected(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum DeleteUserError {
    #[error("user not found")]
    NotFound,
    #[error("the last admin cannot be removed")]
    LastAdmin,
    #[error(transparent)]
    Unexpected(#[from] StoreError),
}

/// Uniqueness of email and username (case-insensitive) and "at least one admin remains" are enforced here,
/// atomically, because only the store can decide them under concurrent requests.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait UserRepository: Send + Sync + 'static {
    async fn insert(&self, user: NewUser) -> Result<User, InsertUserError>;

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StoreError>;

    async fn find_by_object_id(&self, id: ObjectId) -> Result<Option<User>, StoreError>;

    /// Case-insensitive on the email or username.
    async fn find_credentials(&self, login: &LoginIdentifier) -> Result<Option<StoredCredentials>, StoreError>;

    /// The user, if `session` is theirs, not revoked and not expired at `now`: what an access token is checked
    /// against on every request, in one look-up.
    async fn find_signed_in(
        &self,
        id: UserId,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError>;

    /// Applies the update atomically; refuses to take `admin` from the last admin.
    async fn update(&self, id: UserId, update: UserUpdate) -> Result<User, UpdateUserError>;

    /// Counts one more failed sign-in, atomically (instances sharing the store share the count), and returns the
    /// new count.
    async fn record_failed_login(&self, id: UserId) -> Result<u32, StoreError>;

    /// Refuses sign-ins to the account until `until`.
    async fn lock_logins(&self, id: UserId, until: DateTime<Utc>) -> Result<(), StoreError>;

    /// Forgets the failed sign-ins after a successful one.
    async fn reset_failed_logins(&self, id: UserId) -> Result<(), StoreError>;

    /// Deletes the user with its roles and sessions; refuses to delete the last admin.
    async fn delete(&self, id: UserId) -> Result<(), DeleteUserError>;

    /// Users ordered by id.
    async fn list(&self, page: PageRequest) -> Result<Page<User>, StoreError>;

    /// The roles the store knows, by id.
    async fn list_roles(&self) -> Result<Vec<Role>, StoreError>;

    /// Whether the store can serve requests now (the readiness probe).
    async fn check_health(&self) -> Result<(), StoreError>;
}
