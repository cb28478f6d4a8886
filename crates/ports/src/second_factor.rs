//! A second factor: the TOTP arithmetic (`OneTimePasswords`), the sealing of TOTP secrets at rest (`SecretSealer`),
//! and what the store keeps of them (`SecondFactorRepository`): each user's factor, pending until confirmed, with the
//! last time step a code was accepted in; their recovery codes, hashed; and the sign-ins waiting for a code.

use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};
use users_domain::{RecoveryCode, TotpCode, TotpStep, UserId};

use crate::{AuditRecord, NewOneTimeToken, NewSession, OneTimeTokenHash, SessionId, StoreError};

/// The shared secret of a TOTP factor, in clear: only the sealer, the code generator and the enrolment's answer see
/// it. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl TotpSecret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// A new secret with the two ways a user gives it to an authenticator app.
#[derive(Clone)]
pub struct NewTotpSecret {
    pub secret: TotpSecret,
    /// The secret as typed into an app by hand (base32).
    pub text: String,
    /// The `otpauth://totp/...` URI an app reads from a QR code.
    pub otpauth_uri: String,
}

/// Every field holds the secret: never printed.
impl std::fmt::Debug for NewTotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewTotpSecret(<redacted>)")
    }
}

/// A TOTP secret as the store keeps it: encrypted by a [`SecretSealer`], naming the key that sealed it. Opaque to the
/// core and to the store.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret(pub String);

impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedSecret(..)")
    }
}

/// A secret opened by a [`SecretSealer`], and whether a key other than the current one sealed it (it is sealed again
/// with the current key at its next use, so that an old key can be retired).
#[derive(Clone, Debug)]
pub struct OpenedSecret {
    pub secret: TotpSecret,
    pub sealed_with_old_key: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SecondFactorError {
    /// No key this instance has sealed it, or it was altered: a misconfiguration or a tampered row, never a client's
    /// doing.
    #[error("the TOTP secret cannot be opened: {0}")]
    Unreadable(String),
    #[error("the operating system's random source failed: {0}")]
    Random(String),
}

/// RFC 6238's arithmetic: new secrets and which time step, if any, a code belongs to.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait OneTimePasswords: Send + Sync + 'static {
    /// A fresh random secret for `account` (shown in the app beside the issuer's name).
    fn new_secret(&self, account: &str) -> Result<NewTotpSecret, SecondFactorError>;

    /// The latest step of [`TotpStep::window`] at `now` whose code `code` is, if any.
    fn matching_step(&self, secret: &TotpSecret, code: &TotpCode, now: DateTime<Utc>) -> Option<TotpStep>;
}

/// Encryption of TOTP secrets at rest: what a copy of the database alone cannot read.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait SecretSealer: Send + Sync + 'static {
    /// Sealed with the current key.
    fn seal(&self, secret: &TotpSecret) -> Result<SealedSecret, SecondFactorError>;

    /// Opened with whichever key sealed it, if this instance has that key.
    fn open(&self, sealed: &SealedSecret) -> Result<OpenedSecret, SecondFactorError>;
}

/// The stored form of a recovery code: the SHA-256 of its canonical form, hex. A code has 80 random bits, so a plain
/// hash is as hard to reverse as a slow one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecoveryCodeHash(pub String);

impl RecoveryCodeHash {
    pub fn of(code: &RecoveryCode) -> Self {
        let digest = Sha256::digest(code.canonical().as_bytes());
        Self(digest.iter().map(|byte| format!("{byte:02x}")).collect())
    }
}

/// A user's TOTP factor as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TotpFactor {
    pub secret: SealedSecret,
    /// Confirmed with a code: sign-ins ask for one. Until then the enrolment is pending and asks for nothing.
    pub enabled: bool,
    /// The step of the last code accepted: no code of it or of an earlier step is accepted again.
    pub last_used_step: Option<TotpStep>,
}

/// What starting an enrolment did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TotpEnrolment {
    /// The secret is stored, pending (replacing a pending one).
    Started,
    /// The user has a confirmed factor: nothing was written.
    AlreadyEnabled,
    /// No such user (deleted meanwhile): nothing was written.
    UnknownUser,
}

/// What removing a user's factor found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TotpRemoval {
    /// A confirmed factor, removed with its recovery codes; its removal is recorded.
    Enabled,
    /// An enrolment never confirmed, removed.
    Pending,
    /// Nothing to remove.
    Nothing,
}

/// The second factor a sign-in's second step presents, as the store uses it up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecondFactorProof {
    /// A code of this step, accepted only if the step is later than the last one used; the secret sealed again with
    /// the current key, when an old one sealed it.
    Totp { step: TotpStep, resealed: Option<SealedSecret> },
    /// A recovery code, accepted only if the user has it unused.
    RecoveryCode(RecoveryCodeHash),
}

/// What finishing a sign-in with a second factor did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MfaSignIn {
    /// The sign-in's token and the proof are used up, and the session started.
    Started(SessionId),
    /// The sign-in's token is unknown, used, expired or voided: nothing was written.
    TokenUnusable,
    /// The code's step was used already (a replay, here or on another instance), or the recovery code is used or
    /// unknown, or the factor is gone: nothing was written.
    ProofRefused,
    /// The user no longer has the password hash the session was to start with: nothing was written.
    NotStarted,
}

#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait SecondFactorRepository: Send + Sync + 'static {
    /// Stores `secret` as the user's pending TOTP factor (replacing a pending one), unless the user has a confirmed
    /// one.
    async fn start_totp_enrolment(
        &self,
        user: UserId,
        secret: SealedSecret,
        now: DateTime<Utc>,
    ) -> Result<TotpEnrolment, StoreError>;

    /// The user's TOTP factor, confirmed or pending.
    async fn find_totp(&self, user: UserId) -> Result<Option<TotpFactor>, StoreError>;

    /// Confirms the user's pending factor whose secret is `checked` (the one the code was checked against: a newer
    /// enrolment that replaced it meanwhile is not confirmed by a code of the old secret), atomically: the factor
    /// enabled (its secret replaced by `resealed`, if given), `step` remembered as the last used, the user's recovery
    /// codes replaced by `recovery_codes`, and `audit` recorded. `false` (nothing written) when the user has no
    /// pending factor with that secret.
    #[allow(clippy::too_many_arguments)]
    async fn enable_totp(
        &self,
        user: UserId,
        checked: &SealedSecret,
        step: TotpStep,
        resealed: Option<SealedSecret>,
        recovery_codes: Vec<RecoveryCodeHash>,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<bool, StoreError>;

    /// Removes the user's factor, pending or confirmed, with its recovery codes; `audit` is recorded only when a
    /// confirmed one was removed.
    async fn remove_totp(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<TotpRemoval, StoreError>;

    /// Stores the token of a sign-in that waits for its second factor (a one-time token of purpose
    /// `TokenPurpose::MfaSignIn`, for the user's address as it is now). `false` (nothing written) when the user is
    /// gone or has another address.
    async fn start_mfa_sign_in(&self, user: UserId, token: NewOneTimeToken) -> Result<bool, StoreError>;

    /// Finishes a sign-in with a second factor, atomically: the sign-in's token used up (it must be usable: unused,
    /// unexpired, for the user's address as it is, and the user the session's), the proof used up, and the session
    /// started as `SessionRepository::create` starts one (with its event). Any step refused writes nothing.
    async fn finish_mfa_sign_in(
        &self,
        token: &OneTimeTokenHash,
        proof: SecondFactorProof,
        session: NewSession,
    ) -> Result<MfaSignIn, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recovery_code_is_stored_as_the_sha256_of_its_canonical_form() {
        let code = RecoveryCode::parse("ABCD-efgh-ijkl-mnop").unwrap();
        // sha256("abcdefghijklmnop")
        assert_eq!(RecoveryCodeHash::of(&code).0, "f39dac6cbaba535e2c207cd0cd8f154974223c848f727f98b3564cea569b41cf");
    }

    #[test]
    fn secrets_are_never_printed() {
        let secret = TotpSecret::new(b"12345678901234567890".to_vec());
        assert!(!format!("{secret:?}").contains("123"));
        assert!(!format!("{:?}", SealedSecret("v1.key.sealed".into())).contains("sealed"));
    }
}
