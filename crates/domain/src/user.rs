//! The `User` entity and the inputs that create or change one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AccountStatus, Email, ObjectId, Password, PersonName, ProfileUrl, Role, Suspension, Username};

/// The numeric identity of a user in the store; the Admin API names users by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub i64);

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A registered user as the core sees it. The password hash is deliberately not here: it travels only between the
/// store and the password hasher, so no code that shapes a response can reach it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub object_id: ObjectId,
    pub username: Option<Username>,
    pub email: Email,
    pub profile: Profile,
    /// Sorted, without duplicates.
    pub roles: Vec<Role>,
    /// Whether the user proved they receive mail at `email` (a verification link, a password reset), or an admin
    /// vouched for it. A new address is unverified until proven.
    pub email_verified: bool,
    /// Whether the user has a confirmed second factor: a right password alone does not sign them in.
    pub mfa_enabled: bool,
    /// Set while an admin has the account stopped (see [`User::is_suspended`]: one with an end lifts by itself).
    pub suspension: Option<Suspension>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the user last started a session with their password; `None` if never.
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.roles.contains(&Role::Admin)
    }

    /// The account's status at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> AccountStatus {
        if self.is_suspended(now) { AccountStatus::Suspended } else { AccountStatus::Active }
    }

    /// Whether the account is suspended at `now`: it may not sign in, and its tokens do not work.
    pub fn is_suspended(&self, now: DateTime<Utc>) -> bool {
        self.suspension.as_ref().is_some_and(|suspension| suspension.in_force(now))
    }

    /// The user as it stands at `now`: a suspension that has run out is no longer shown.
    #[must_use]
    pub fn as_of(mut self, now: DateTime<Utc>) -> Self {
        if !self.is_suspended(now) {
            self.suspension = None;
        }
        self
    }
}

/// The optional, self-described part of a user.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub first_name: Option<PersonName>,
    pub last_name: Option<PersonName>,
    pub website: Option<ProfileUrl>,
    pub facebook: Option<ProfileUrl>,
    pub instagram: Option<ProfileUrl>,
    pub linkedin: Option<ProfileUrl>,
    pub x: Option<ProfileUrl>,
    pub youtube: Option<ProfileUrl>,
}

/// What a person gives to sign up.
#[derive(Clone, Debug)]
pub struct Registration {
    pub username: Option<Username>,
    pub email: Email,
    pub password: Password,
    pub first_name: Option<PersonName>,
    pub last_name: Option<PersonName>,
}

/// How a person names their account when signing in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginIdentifier {
    Email(Email),
    Username(Username),
}

/// A partial update of one's own account: `None` keeps the stored value. Email and password can be replaced but
/// never cleared; the username and the profile fields can be cleared too.
#[derive(Clone, Debug, Default)]
pub struct ProfileChanges {
    pub username: Option<Option<Username>>,
    pub email: Option<Email>,
    pub password: Option<Password>,
    pub profile: ProfilePatch,
}

impl ProfileChanges {
    /// Whether these changes take over the account (a new password, or a new email that a recovery mail would go
    /// to), so that whoever asks must prove they are its owner, not merely the holder of a token.
    pub fn takes_over_the_account(&self) -> bool {
        self.password.is_some() || self.email.is_some()
    }
}

/// Changes to the optional profile fields. For each, `None` keeps the stored value, `Some(None)` clears it and
/// `Some(Some(v))` sets it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfilePatch {
    pub first_name: Option<Option<PersonName>>,
    pub last_name: Option<Option<PersonName>>,
    pub website: Option<Option<ProfileUrl>>,
    pub facebook: Option<Option<ProfileUrl>>,
    pub instagram: Option<Option<ProfileUrl>>,
    pub linkedin: Option<Option<ProfileUrl>>,
    pub x: Option<Option<ProfileUrl>>,
    pub youtube: Option<Option<ProfileUrl>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_is_a_role_not_a_flag() {
        let mut user = User {
            id: UserId(1),
            object_id: ObjectId::from_parts(0, [0; 5], 1),
            username: None,
            email: Email::parse("a@example.com").unwrap(),
            profile: Profile::default(),
            roles: vec![Role::User],
            email_verified: false,
            mfa_enabled: false,
            suspension: None,
            created_at: DateTime::UNIX_EPOCH,
            updated_at: DateTime::UNIX_EPOCH,
            last_sign_in_at: None,
        };
        assert!(!user.is_admin());
        user.roles = vec![Role::Admin, Role::User];
        assert!(user.is_admin());
    }
}
