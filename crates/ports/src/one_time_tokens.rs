//! `OneTimeTokenRepository`: the single-use tokens mailed to prove control of an address or to reset a password,
//! stored only as hashes, each used up together with the change it authorises.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest as _, Sha256};
use users_domain::{Email, User, UserId};

use crate::{AuditRecord, Mail, PasswordHash, StoreError};

/// Random bytes in a token: 256 bits, beyond guessing.
const TOKEN_BYTES: usize = 32;

/// A one-time token as mailed to its user. Only its hash is stored; `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeToken(String);

/// The stored form of a one-time token: the SHA-256 of its text, hex. A token has 256 random bits, so a plain hash
/// is as hard to reverse as a slow one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OneTimeTokenHash(pub String);

impl OneTimeToken {
    /// A fresh token: 32 bytes from the operating system's generator, base64url without padding (43 characters).
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// A token as a client presents it (any text: an unknown one simply matches no hash).
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> OneTimeTokenHash {
        let digest = Sha256::digest(self.0.as_bytes());
        OneTimeTokenHash(digest.iter().map(|byte| format!("{byte:02x}")).collect())
    }
}

impl std::fmt::Debug for OneTimeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OneTimeToken(<redacted>)")
    }
}

/// What a one-time token lets its holder do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenPurpose {
    VerifyEmail,
    ResetPassword,
    /// A sign-in whose password was right, waiting for its second factor (never mailed: handed to the client).
    MfaSignIn,
}

impl TokenPurpose {
    /// The tokens a password reset or a suspension voids (see `OneTimeTokenRepository::reset_password` and
    /// `UserRepository::suspend`): mailed reset links, and sign-ins whose password was right and that wait for their
    /// second factor (the password they checked is no longer the account's, or the account may not sign in).
    pub const VOIDED_BY_A_RESET: [Self; 2] = [Self::ResetPassword, Self::MfaSignIn];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::MfaSignIn => "mfa_sign_in",
        }
    }
}

/// A token to store, for the user's address as it is when the token is made: a token mailed to an address the
/// account no longer has does nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOneTimeToken {
    pub hash: OneTimeTokenHash,
    pub purpose: TokenPurpose,
    pub email: Email,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A token and the message that carries it, stored together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailedToken {
    pub token: NewOneTimeToken,
    pub mail: Mail,
}

/// What asking for a token to be mailed did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenIssue {
    /// The token is stored and its message queued.
    Queued,
    /// A token of this purpose was made for the user less than the minimum interval ago: nothing was written.
    TooSoon,
    /// No such user (deleted meanwhile), or the user's address is no longer the token's: nothing was written.
    NotIssued,
}

#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait OneTimeTokenRepository: Send + Sync + 'static {
    /// Stores the token and queues its message in one transaction, unless the user was given a token of the same
    /// purpose within `min_interval` before its `created_at` (then nothing is written). A new reset token voids the
    /// user's older reset tokens. `audit`, if any, is recorded about the user when the token is stored.
    async fn issue_token(
        &self,
        user: UserId,
        token: MailedToken,
        min_interval: Duration,
        audit: Option<AuditRecord>,
    ) -> Result<TokenIssue, StoreError>;

    /// The user a token of `purpose` would act on at `now`: unused, unexpired, and made for the address the user
    /// has now. Nothing is used up.
    async fn find_token_user(
        &self,
        token: &OneTimeTokenHash,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError>;

    /// Uses up a verification token that [`find_token_user`](Self::find_token_user) would accept and marks the
    /// user's address verified, in one transaction with `audit` about the user. `None` when the token is not (or no
    /// longer) usable; then nothing changes.
    async fn confirm_email(
        &self,
        token: &OneTimeTokenHash,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Option<User>, StoreError>;

    /// Uses up a reset token that `find_token_user` would accept, in one transaction with its effects: the password
    /// replaced by `password_hash`, every session of the user ended, the sign-in failures and locks cleared, the
    /// address marked verified (the mail reached it), the user's other reset tokens and the sign-ins waiting for a
    /// second factor (`TokenPurpose::MfaSignIn`) voided, `notice` queued (the owner hears of the change), and `audit`
    /// recorded about the user. `None` when the token is not (or no longer) usable; then nothing changes.
    async fn reset_password(
        &self,
        token: &OneTimeTokenHash,
        password_hash: PasswordHash,
        notice: &Mail,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Option<User>, StoreError>;

    /// Deletes tokens that expired or were used before `before`.
    async fn purge_tokens(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_43_url_safe_characters_and_each_is_new() {
        let (first, second) = (OneTimeToken::generate().unwrap(), OneTimeToken::generate().unwrap());
        assert_eq!(first.as_str().len(), 43);
        assert!(first.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(first, second);
    }

    #[test]
    fn the_hash_is_the_sha256_of_the_text_in_hex() {
        let hash = OneTimeToken::new("abc").hash();
        assert_eq!(hash.0, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let token = OneTimeToken::new("secret-value");
        assert!(!format!("{token:?}").contains("secret"));
    }
}
