//! The user-management domain: the `User` entity, its validated value objects, the inputs that change it and the
//! rules that hold whatever the store (which roles exist, when failed sign-ins lock an account, what a second
//! factor's codes are).
//!
//! Every value type here is built through a constructor that checks the rules of the service, so a value that
//! exists is valid ("parse, don't validate"). The crate does no I/O and knows nothing of HTTP, SQL or async runtimes,
//! which is what lets other services embed it alone.

mod client;
mod client_network;
mod email;
mod lockout;
mod object_id;
mod password;
mod person_name;
mod profile_url;
mod role;
mod search;
mod second_factor;
mod suspension;
mod user;
mod username;

pub use client::{ClientDetails, UserAgent};
pub use client_network::ClientNetwork;
pub use email::{Email, EmailError, EmailKey};
pub use lockout::{AttemptOutcome, FinishedAttempt, LockoutPolicy, LoginAttempt, LoginThrottle, NetworkThrottle};
pub use object_id::{ObjectId, ObjectIdError};
pub use password::{Password, PasswordError};
pub use person_name::{PersonName, PersonNameError};
pub use profile_url::{ProfileUrl, ProfileUrlError};
pub use role::{InvalidRoles, Role, RoleError, RoleSet};
pub use search::{AccountStatus, SearchPrefix, SearchPrefixError};
pub use second_factor::{
    RECOVERY_CODES, RecoveryCode, SecondFactorCode, TOTP_DIGITS, TOTP_PERIOD_SECS, TotpCode, TotpStep,
};
pub use suspension::{Suspension, SuspensionError, SuspensionReason, SuspensionReasonError};
pub use user::{LoginIdentifier, Profile, ProfileChanges, ProfilePatch, Registration, User, UserId};
pub use username::{Username, UsernameError};

/// Implements the conversions that every string-backed value type shares: `TryFrom<String>` through the validating
/// constructor (which serde's `try_from` uses), `AsRef<str>`, `Display` and `From<Self> for String`.
macro_rules! string_value {
    ($type:ident, $error:ident) => {
        impl TryFrom<String> for $type {
            type Error = $error;
            fn try_from(raw: String) -> Result<Self, Self::Error> {
                Self::parse(raw)
            }
        }

        impl AsRef<str> for $type {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$type> for String {
            fn from(value: $type) -> Self {
                value.0
            }
        }
    };
}
pub(crate) use string_value;
