//! `PasswordHasher`: turns passwords into slow, salted hashes and checks them.

use users_domain::Password;

/// A stored password hash: the service's own are PHC strings (`$argon2id$v=19$m=…`); an imported account keeps the
/// hash of the system it came from (see [`PasswordHasher::check_hash`]) until its first sign-in replaces it. It never
/// leaves the service, and its `Debug` output does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn new(phc: impl Into<String>) -> Self {
        Self(phc.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hash of an account that has no password yet (one brought over without its hash): no password matches
    /// it, and no hasher is asked to try. Its owner sets one through a password reset.
    pub fn unusable() -> Self {
        Self(Self::UNUSABLE.to_owned())
    }

    pub fn is_unusable(&self) -> bool {
        self.0 == Self::UNUSABLE
    }

    /// As `/etc/shadow` marks a locked password: no hash scheme's output starts with it.
    const UNUSABLE: &str = "!";
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordHashError {
    /// The stored hash is not one this hasher understands.
    #[error("stored password hash is malformed")]
    MalformedHash,
    /// Every hashing thread is busy and the queue in front of them is full: the work was refused, not queued, so
    /// that a flood of sign-ins cannot hold memory and make every later caller wait.
    #[error("the password hashers are busy")]
    Busy,
    #[error("password hashing failed: {0}")]
    Unexpected(String),
}

#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait PasswordHasher: Send + Sync + 'static {
    /// Hashes with a fresh random salt.
    async fn hash(&self, password: &Password) -> Result<PasswordHash, PasswordHashError>;

    /// Whether `password` matches `hash`.
    async fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<bool, PasswordHashError>;

    /// Spends the time of a `verify` against a dummy hash of the same cost. Called for an unknown account, so the
    /// time a failed sign-in takes does not tell whether the account exists.
    async fn verify_dummy(&self, password: &Password) -> Result<(), PasswordHashError>;

    /// Whether `verify` can check passwords against `hash`: one of the hasher's own, or one made by another system
    /// in a form it accepts, with parameters it is willing to spend. `MalformedHash` otherwise. Cheap: nothing is
    /// hashed. Imports check each account's hash with it.
    fn check_hash(&self, hash: &PasswordHash) -> Result<(), PasswordHashError>;

    /// Whether a hash that a password has just verified against should be replaced by `hash(password)`: it is
    /// another system's, or the hasher's own with other parameters than those it hashes with now.
    fn needs_rehash(&self, hash: &PasswordHash) -> bool;
}
