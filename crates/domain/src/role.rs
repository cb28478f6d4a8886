//! `Role`: what a user may do. `admin` (id 1) and `user` (id 2) exist in every store from the first migration.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages other users.
    Admin,
    /// Manages its own profile.
    User,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    #[error("unknown role id {0}")]
    UnknownId(i64),
    #[error("unknown role name {0:?}")]
    UnknownName(String),
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Admin, Role::User];

    /// The role's id in the store and in the Admin API.
    pub fn id(self) -> i64 {
        match self {
            Role::Admin => 1,
            Role::User => 2,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }

    pub fn from_id(id: i64) -> Result<Self, RoleError> {
        Self::ALL.into_iter().find(|role| role.id() == id).ok_or(RoleError::UnknownId(id))
    }

    pub fn from_name(name: &str) -> Result<Self, RoleError> {
        Self::ALL.into_iter().find(|role| role.name() == name).ok_or_else(|| RoleError::UnknownName(name.to_owned()))
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_match_the_first_migration() {
        assert_eq!((Role::Admin.id(), Role::Admin.name()), (1, "admin"));
        assert_eq!((Role::User.id(), Role::User.name()), (2, "user"));
        assert_eq!(Role::from_id(1), Ok(Role::Admin));
        assert_eq!(Role::from_name("user"), Ok(Role::User));
    }

    #[test]
    fn rejects_unknown_ids_and_names() {
        assert_eq!(Role::from_id(0), Err(RoleError::UnknownId(0)));
        assert_eq!(Role::from_id(3), Err(RoleError::UnknownId(3)));
        assert!(Role::from_name("Admin").is_err());
        assert!(Role::from_name("root").is_err());
    }
}
