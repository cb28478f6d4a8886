//! Bringing users over from another system: one account at a time, as an import file lists them, each keeping the
//! hash of its password (a sign-in then replaces it with the service's own) or, without one, waiting for a reset.

use users_domain::{ClientDetails, Email, LoginIdentifier, PersonName, Profile, Role, User, Username};
use users_ports::{AuditKind, InsertUserError, NewUser, PasswordHash, PasswordHasher, UserRepository};

use crate::audit::by_nobody;
use crate::{Adapters, Unexpected, UserService};

/// An account as another system had it.
#[derive(Clone, Debug)]
pub struct ImportedUser {
    pub email: Email,
    pub username: Option<Username>,
    pub first_name: Option<PersonName>,
    pub last_name: Option<PersonName>,
    /// `user` when none are given.
    pub roles: Vec<Role>,
    /// Whether the other system had the address proven.
    pub email_verified: bool,
    /// The other system's hash of the password; without one, the user sets a password through a reset.
    pub password_hash: Option<PasswordHash>,
}

/// What importing one account did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Imported {
    Created(Box<User>),
    /// The address already has an account here (imported before, or signed up): it is left as it is.
    AlreadyThere,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportUserError {
    #[error(
        "password_hash is not a hash this service can check: Argon2 or scrypt (PHC), bcrypt ($2a$, $2b$, $2y$) or \
         PBKDF2-SHA256 (PHC, or Django's pbkdf2_sha256$), with a cost within bounds"
    )]
    UnsupportedHash,
    #[error("username is already taken")]
    UsernameTaken,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

crate::unexpected_from_port_errors!(ImportUserError);

impl<A: Adapters> UserService<A> {
    /// Creates the account `imported` describes, unless its address has one already; `user.imported` is recorded
    /// with it, done by nobody signed in (the command line).
    pub async fn import_user(&self, imported: ImportedUser) -> Result<Imported, ImportUserError> {
        let password_hash = match imported.password_hash {
            Some(hash) => {
                self.hasher.check_hash(&hash).map_err(|_| ImportUserError::UnsupportedHash)?;
                hash
            }
            None => PasswordHash::unusable(),
        };
        let now = self.now();
        let record = by_nobody(AuditKind::UserImported, now, &ClientDetails::default())
            .with("email", imported.email.as_ref())
            .with("with_password", !password_hash.is_unusable());
        let roles = if imported.roles.is_empty() { vec![Role::User] } else { imported.roles };
        let email = imported.email.clone();
        let new_user = NewUser {
            object_id: self.object_ids.next(now),
            username: imported.username,
            email: imported.email,
            password_hash,
            profile: Profile { first_name: imported.first_name, last_name: imported.last_name, ..Profile::default() },
            roles,
            email_verified: imported.email_verified,
            verification: None,
            audit: vec![record],
            created_at: now,
        };
        match self.users.insert(new_user).await {
            Ok(user) => Ok(Imported::Created(Box::new(user))),
            Err(InsertUserError::DuplicateEmail) => Ok(Imported::AlreadyThere),
            // The address may be taken too: a database names the first unique index the row breaks (PostgreSQL the
            // username's), and an address already here is skipped, whatever its username.
            Err(InsertUserError::DuplicateUsername) => {
                match self.users.find_credentials(&LoginIdentifier::Email(email)).await? {
                    Some(_) => Ok(Imported::AlreadyThere),
                    None => Err(ImportUserError::UsernameTaken),
                }
            }
            Err(InsertUserError::Unexpected(error)) => Err(error.into()),
        }
    }
}
