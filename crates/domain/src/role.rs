//! `Role`: what a user may do, and `RoleSet`, the roles a request gives a user. `admin` (id 1) and `user` (id 2)
//! exist in every store from the first migration: the roles are fixed, so role ids are checked here, not against a
//! store.

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

/// The roles to give a user: at least one (a user without a role could do nothing, not even see its profile), each
/// once, in id order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleSet(Vec<Role>);

/// Role ids that do not name a usable set of roles.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRoles {
    /// Sorted, without duplicates.
    #[error("unknown role ids: {}", join(.0))]
    Unknown(Vec<i64>),
    #[error("at least one role is required")]
    Empty,
}

fn join(ids: &[i64]) -> String {
    ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

impl RoleSet {
    /// The roles `ids` name, a repeated id counting once; every unknown id is reported, not just the first.
    pub fn from_ids(ids: &[i64]) -> Result<Self, InvalidRoles> {
        let (mut roles, mut unknown) = (Vec::new(), Vec::new());
        for &id in ids {
            match Role::from_id(id) {
                Ok(role) => roles.push(role),
                Err(_) => unknown.push(id),
            }
        }
        if !unknown.is_empty() {
            unknown.sort_unstable();
            unknown.dedup();
            return Err(InvalidRoles::Unknown(unknown));
        }
        if roles.is_empty() {
            return Err(InvalidRoles::Empty);
        }
        roles.sort();
        roles.dedup();
        Ok(Self(roles))
    }

    pub fn as_slice(&self) -> &[Role] {
        &self.0
    }
}

impl From<RoleSet> for Vec<Role> {
    fn from(roles: RoleSet) -> Self {
        roles.0
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

    #[test]
    fn a_role_set_holds_each_named_role_once_in_id_order() {
        assert_eq!(RoleSet::from_ids(&[1, 2]).unwrap().as_slice(), [Role::Admin, Role::User]);
        assert_eq!(RoleSet::from_ids(&[2, 1, 2]).unwrap().as_slice(), [Role::Admin, Role::User]);
        assert_eq!(RoleSet::from_ids(&[1, 1, 1]).unwrap().as_slice(), [Role::Admin]);
        assert_eq!(Vec::from(RoleSet::from_ids(&[2]).unwrap()), [Role::User]);
    }

    #[test]
    fn a_role_set_reports_every_unknown_id_sorted_once_each() {
        let error = RoleSet::from_ids(&[3, 1, 0, 99, 3, -1]).unwrap_err();
        assert_eq!(error, InvalidRoles::Unknown(vec![-1, 0, 3, 99]));
        assert_eq!(error.to_string(), "unknown role ids: -1, 0, 3, 99");
    }

    #[test]
    fn a_role_set_is_never_empty() {
        assert_eq!(RoleSet::from_ids(&[]), Err(InvalidRoles::Empty));
        assert_eq!(InvalidRoles::Empty.to_string(), "at least one role is required");
    }
}
