//! `UserRepository`: where users, their credentials and their roles are kept.

use chrono::{DateTime, Utc};
use users_domain::{
    AccountStatus, AttemptOutcome, ClientDetails, ClientNetwork, Email, LockoutPolicy, LoginAttempt, LoginIdentifier,
    LoginThrottle, ObjectId, Profile, ProfilePatch, Role, SearchPrefix, Suspension, User, UserId, Username,
};

use crate::{AuditRecord, Mail, MailedToken, PasswordHash, SessionId, StoreError};

/// A user to be stored.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub object_id: ObjectId,
    pub username: Option<Username>,
    pub email: Email,
    pub password_hash: PasswordHash,
    pub profile: Profile,
    pub roles: Vec<Role>,
    pub email_verified: bool,
    /// A verification token stored, and its message queued, in the transaction that creates the user.
    pub verification: Option<MailedToken>,
    /// The events the creation records (`user.registered`, `user.created`, ...), about the new user.
    pub audit: Vec<AuditRecord>,
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
    /// Sessions ended in the same transaction, so that no sign-in made with the old password survives a new one.
    pub ends_sessions: Option<EndSessions>,
    pub email_verified: Option<bool>,
    /// A verification token stored, and its message queued, in the transaction of the update (for a new address).
    pub verification: Option<MailedToken>,
    /// Other messages queued in the transaction of the update (the notice to a replaced address).
    pub notices: Vec<Mail>,
    /// Neither `verification` nor `notices` go to an address that was sent a verification less than this long
    /// before `updated_at`: an account switching addresses back and forth cannot flood someone's mailbox.
    pub mail_interval: chrono::Duration,
    /// The events the update records, about the updated user.
    pub audit: Vec<AuditRecord>,
    pub updated_at: DateTime<Utc>,
}

/// Which of a user's sessions an update ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndSessions {
    All,
    AllBut(SessionId),
}

/// A user together with the hash their password must match, and their record of failed sign-ins.
#[derive(Clone, Debug)]
pub struct StoredCredentials {
    pub user: User,
    pub password_hash: PasswordHash,
    pub throttle: LoginThrottle,
}

/// A user signed in with a live session, and when that session expires (unless a refresh extends it): how long the
/// answer may be remembered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedIn {
    pub user: User,
    pub session_expires_at: DateTime<Utc>,
}

/// Which slice of a list: `limit` items after the first `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub offset: u64,
    pub limit: u32,
}

/// One slice of a list and the size of the whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: Total,
}

/// How many items a list holds: counted exactly, or known to be at least so many (counting further would cost more
/// than a page is worth).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Total {
    Exact(u64),
    AtLeast(u64),
}

impl Total {
    /// The count, exact or not.
    pub fn count(self) -> u64 {
        match self {
            Self::Exact(count) | Self::AtLeast(count) => count,
        }
    }

    pub fn is_exact(self) -> bool {
        matches!(self, Self::Exact(_))
    }
}

/// Which users a list holds, in which order, and which slice of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserQuery {
    pub filter: UserFilter,
    pub order: UserOrder,
    pub page: PageRequest,
    /// The matches of a filter are counted up to this many; past it the total is `Total::AtLeast(count_limit)`.
    /// (The whole population is always counted exactly: the stores keep that count.)
    pub count_limit: u64,
    /// The time the filter's status is judged at.
    pub now: DateTime<Utc>,
}

/// The conditions a listed user meets: every one given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// The start of the user's email address, username, first or last name, case aside.
    pub text: Option<SearchPrefix>,
    pub role: Option<Role>,
    /// The user's status at the query's `now` (a suspension that has run out is over).
    pub status: Option<AccountStatus>,
    pub verified: Option<bool>,
    /// Created strictly after this.
    pub created_after: Option<DateTime<Utc>>,
    /// Created strictly before this.
    pub created_before: Option<DateTime<Utc>>,
}

impl UserFilter {
    /// Whether the filter lets every user through.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The order of a list: by one key, ties (and users never signed in, who come first in ascending order and last in
/// descending) broken by id in the same direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserOrder {
    pub key: UserSortKey,
    pub descending: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UserSortKey {
    #[default]
    Id,
    /// The case-folded address (`Email::key`).
    Email,
    CreatedAt,
    /// Never signed in sorts before any time.
    LastSignInAt,
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

#[derive(Debug, thiserror::Error)]
pub enum SuspendUserError {
    #[error("user not found")]
    NotFound,
    /// The user is the only admin not suspended: no one would be left to lift it.
    #[error("the last active admin cannot be suspended")]
    LastActiveAdmin,
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

    /// The user, if `session` is theirs, not revoked and not expired at `now`, with when the session expires: what
    /// an access token is checked against on every request, in one look-up.
    async fn find_session(
        &self,
        id: UserId,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Option<SignedIn>, StoreError>;

    /// [`UserRepository::find_session`]'s user alone.
    async fn find_signed_in(
        &self,
        id: UserId,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError> {
        Ok(self.find_session(id, session, now).await?.map(|signed_in| signed_in.user))
    }

    /// Applies the update atomically, with the sessions it ends; refuses to take `admin` from the last admin. A new
    /// password voids every unused one-time token of the user, and a new address those made for another address (a
    /// link mailed before no longer works, even if the address comes back), before the update's own verification is
    /// stored.
    async fn update(&self, id: UserId, update: UserUpdate) -> Result<User, UpdateUserError>;

    /// Starts a sign-in attempt of the user from `network`, atomically (instances sharing the store share the
    /// counts), before its password is checked: `Locked` while the network or the whole account is locked at `now`;
    /// `Busy` while the attempts under way from that network and its failures in a row together reach the
    /// threshold, or those of every network and the account's failures reach the backstop; otherwise `Allowed`, and
    /// counted as under way. So concurrent guesses cannot all be checked, and
    /// concurrent correct sign-ins never lock anyone out. An unknown user is `Allowed`.
    async fn begin_login_attempt(
        &self,
        id: UserId,
        network: &ClientNetwork,
        now: DateTime<Utc>,
        lockout: &LockoutPolicy,
    ) -> Result<LoginAttempt, StoreError>;

    /// Ends an attempt that `begin_login_attempt` allowed, with its outcome; a refusal that reaches a threshold
    /// locks the network (or the account) as `lockout` says. Returns the lock this call set, if any. A refusal is
    /// recorded in the audit log as `user.sign_in_failed` from `client`, and a lock it sets as `user.locked` with
    /// `until` (and `network`, unless the whole account is locked), in the same transaction.
    async fn finish_login_attempt(
        &self,
        id: UserId,
        network: &ClientNetwork,
        outcome: AttemptOutcome,
        now: DateTime<Utc>,
        lockout: &LockoutPolicy,
        client: &ClientDetails,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Forgets every failed sign-in and lock of the user, from every network, recording `audit`; `false` (and
    /// nothing recorded) for an unknown user.
    async fn clear_lockout(&self, id: UserId, audit: AuditRecord) -> Result<bool, StoreError>;

    /// Forgets the sign-in counts of networks that have neither failed nor tried since `before`.
    async fn purge_login_throttles(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Suspends the user as `suspension` says (replacing a suspension in force), atomically with its effects: every
    /// session of the user ends at `suspension.since`, and every unused password-reset token and every sign-in
    /// waiting for its second factor is voided. Refuses to suspend an admin when no other admin is active (not
    /// suspended) at `suspension.since`. `audit` is recorded with it.
    async fn suspend(&self, id: UserId, suspension: Suspension, audit: AuditRecord) -> Result<User, SuspendUserError>;

    /// Lifts the user's suspension (in force, or run out), recording `audit`; a user with none is returned unchanged,
    /// with nothing recorded; `None` for an unknown user.
    async fn unsuspend(&self, id: UserId, now: DateTime<Utc>, audit: AuditRecord) -> Result<Option<User>, StoreError>;

    /// Deletes the user with its roles and sessions, recording `audit` (the user's events stay, naming its id);
    /// refuses to delete the last admin.
    async fn delete(&self, id: UserId, audit: AuditRecord) -> Result<(), DeleteUserError>;

    /// The users `query` selects, in its order, one page of them.
    async fn list(&self, query: &UserQuery) -> Result<Page<User>, StoreError>;

    /// The roles the store knows, by id.
    async fn list_roles(&self) -> Result<Vec<Role>, StoreError>;

    /// Whether the store can serve requests now (the readiness probe).
    async fn check_health(&self) -> Result<(), StoreError>;
}
