//! The ports of the user-management core: what it needs from a store (with its audit log), a password hasher, a token
//! issuer, a mail transport, a clock and a second factor's arithmetic and sealing, as small traits. Adapters implement
//! them; the `mocks` feature provides `mockall` doubles for tests.
//!
//! The traits use native `async fn`. The core is generic over them (never `dyn`), and the futures are driven by
//! actix-web's per-thread runtimes, so no `Send` bound is imposed on callers.
#![allow(async_fn_in_trait)]

mod audit;
mod changes;
mod clock;
mod mail;
mod one_time_tokens;
mod passwords;
mod second_factor;
mod sessions;
mod tokens;
mod users;

pub use audit::{AuditActor, AuditEvent, AuditEventId, AuditKind, AuditLog, AuditQuery, AuditRecord, sign_in_records};
pub use changes::{ChangeFeed, ChangeObserver};
pub use clock::Clock;
pub use mail::{Mail, MailContent, MailError, MailId, MailKind, MailOutbox, MailSender, OutboxDepth, QueuedMail};
pub use one_time_tokens::{
    MailedToken, NewOneTimeToken, OneTimeToken, OneTimeTokenHash, OneTimeTokenRepository, TokenIssue, TokenPurpose,
};
pub use passwords::{PasswordHash, PasswordHashError, PasswordHasher};
pub use second_factor::{
    MfaSignIn, NewTotpSecret, OneTimePasswords, OpenedSecret, RecoveryCodeHash, SealedSecret, SecondFactorError,
    SecondFactorProof, SecondFactorRepository, SecretSealer, TotpEnrolment, TotpFactor, TotpRemoval, TotpSecret,
};
pub use sessions::{
    NewSession, RefreshTokenUse, SessionId, SessionKey, SessionRecord, SessionRepository, SessionState,
};
pub use tokens::{
    AccessClaims, AccessToken, PublishedKey, RefreshToken, RefreshTokenHash, TokenError, TokenIssuer, TokenSubject,
};
pub use users::{
    DeleteUserError, EndSessions, InsertUserError, NewUser, Page, PageRequest, SignedIn, StoredCredentials,
    SuspendUserError, Total, UpdateUserError, UserFilter, UserOrder, UserQuery, UserRepository, UserSortKey,
    UserUpdate,
};

#[cfg(feature = "mocks")]
pub use audit::MockAuditLog;
#[cfg(feature = "mocks")]
pub use clock::MockClock;
#[cfg(feature = "mocks")]
pub use mail::{MockMailOutbox, MockMailSender};
#[cfg(feature = "mocks")]
pub use one_time_tokens::MockOneTimeTokenRepository;
#[cfg(feature = "mocks")]
pub use passwords::MockPasswordHasher;
#[cfg(feature = "mocks")]
pub use second_factor::{MockOneTimePasswords, MockSecondFactorRepository, MockSecretSealer};
#[cfg(feature = "mocks")]
pub use sessions::MockSessionRepository;
#[cfg(feature = "mocks")]
pub use tokens::MockTokenIssuer;
#[cfg(feature = "mocks")]
pub use users::MockUserRepository;

/// A fault of a store that the caller cannot act on. It carries the cause for the logs; it is never shown to a client.
///
/// Some faults are the store being out of reach for now rather than broken ([`StoreError::unavailable`]): no
/// connection within the wait, a timed-out statement, a disk that is full, a database that refuses writes. A
/// client may retry those later, so they are told apart from the rest.
#[derive(Debug, thiserror::Error)]
#[error("store failure: {cause}")]
pub struct StoreError {
    #[source]
    cause: Box<dyn std::error::Error + Send + Sync>,
    unavailable: bool,
}

impl StoreError {
    /// A fault that retrying will not cure: a bug, a schema that does not match, data that breaks an assumption.
    pub fn new(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self { cause: cause.into(), unavailable: false }
    }

    /// The store cannot serve now (out of reach, too slow, out of space, read-only); the same request may succeed
    /// once it recovers.
    pub fn unavailable(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self { cause: cause.into(), unavailable: true }
    }

    pub fn is_unavailable(&self) -> bool {
        self.unavailable
    }
}
