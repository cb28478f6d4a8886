//! The use cases of the user-management service: sign-up, sign-in, token refresh and sign-out (`auth`), one's own
//! account (`account`), proof of an address and password recovery (`recovery`), the management of other users
//! (`admin`), where an account is signed in (`sessions`), stopping an account without deleting it (`suspension`),
//! the record of who did what (`audit`), bringing users over from another system (`import`), a second factor at
//! sign-in (`second_factor`), and the delivery of queued mail (`delivery`). They are methods of [`UserService`],
//! which is generic over the ports bundled in [`Adapters`], so the same rules serve every driving adapter.

mod account;
mod admin;
mod audit;
mod auth;
mod delivery;
mod import;
mod object_ids;
mod recovery;
mod second_factor;
mod sessions;
mod suspension;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use users_ports::{
    AuditLog, Clock, OneTimePasswords, OneTimeTokenRepository, PasswordHashError, PasswordHasher,
    SecondFactorRepository, SecretSealer, SessionRepository, StoreError, TokenError, TokenIssuer, UserRepository,
};

pub use account::{CurrentPassword, DeleteAccountError, Reauthentication, UpdateProfileError};
pub use admin::{
    ClearLockoutError, CreateUserError, DeleteUserError, ExistingAccount, FILTERED_COUNT_LIMIT, GetUserError,
    ListRolesError, ListUsersError, ProvisionAdminError, ProvisionedAdmin, ReplaceUserError, UserRef, UserReplacement,
};
pub use audit::{AuditFilter, AuditPage, ListActivityError, ListAuditEventsError};
pub use auth::{
    Administrator, AuthenticateError, CurrentUser, LoginError, LoginOutcome, LogoutError, NotAnAdmin, RefreshError,
    RegisterError, Registered, SecondFactorChallenge, SignIn, SignedIn, TokenPair,
};
pub use delivery::{DeliveryPass, MailDelivery, RetryPolicy};
pub use import::{ImportUserError, Imported, ImportedUser};
pub use object_ids::ObjectIdGenerator;
pub use recovery::{
    ConfirmEmailError, EmailPolicy, RequestPasswordResetError, RequestVerificationError, ResetPasswordError,
    SendPasswordResetError,
};
pub use second_factor::{
    ConfirmTotpError, DisableTotpError, EnrolTotpError, MFA_TOKEN_TTL, RemoveSecondFactorError, SecondFactorLoginError,
    TotpEnrolmentStarted,
};
pub use sessions::{
    EndOtherSessionsError, EndSessionError, ListSessionsError, ListUserSessionsError, SessionView,
    SignOutEverywhereError,
};
pub use suspension::{SuspendUserError, SuspensionRequest, UnsuspendUserError};
pub use users_domain::LockoutPolicy;
pub use users_ports::PublishedKey;

/// The adapters a [`UserService`] is built from, named once so that code generic over the service needs one type
/// parameter rather than five.
pub trait Adapters: Send + Sync + 'static {
    type Users: UserRepository;
    type Sessions: SessionRepository;
    type OneTimeTokens: OneTimeTokenRepository;
    type Audit: AuditLog;
    type Hasher: PasswordHasher;
    type Tokens: TokenIssuer;
    type Clock: Clock;
    type SecondFactors: SecondFactorRepository;
    type OneTimePasswords: OneTimePasswords;
    type Sealer: SecretSealer;
}

/// How long a sign-in lasts without being used, how failed sign-ins are throttled, and how recently a password must
/// have been entered for changes that take over the account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Lifetime of a refresh token; each rotation starts it again.
    pub refresh_token_ttl: Duration,
    /// How long after a refresh token's first use presenting it again is taken for a second tab refreshing at the
    /// same moment (it gets the same new pair) rather than for a replay (which ends the session).
    pub refresh_grace: Duration,
    pub lockout: LockoutPolicy,
    /// A session whose password was entered this recently may change the password or email, or delete the account,
    /// without typing the password again. Refreshes do not renew it.
    pub reauthentication: Duration,
    pub email: EmailPolicy,
    /// How long audit events are kept before [`UserService::purge_ended`] prunes them.
    pub audit_retention: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            refresh_token_ttl: Duration::days(30),
            refresh_grace: Duration::seconds(10),
            lockout: LockoutPolicy::default(),
            reauthentication: Duration::minutes(5),
            email: EmailPolicy::default(),
            audit_retention: Duration::days(365),
        }
    }
}

/// How long an ended session, or an idle network's sign-in count, is kept before [`UserService::purge_ended`]
/// deletes it: long enough to look into an incident, short enough that the tables do not grow with every sign-in.
pub const RETAINED_AFTER_END: Duration = Duration::days(1);

/// What [`UserService::purge_ended`] deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub sessions: u64,
    pub login_throttles: u64,
    pub one_time_tokens: u64,
    pub audit_events: u64,
}

/// The store's repositories a [`UserService`] is built from.
pub struct Store<A: Adapters> {
    pub users: A::Users,
    pub sessions: A::Sessions,
    pub one_time_tokens: A::OneTimeTokens,
    pub audit: A::Audit,
    pub second_factors: A::SecondFactors,
}

impl<A: Adapters> std::fmt::Debug for Store<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// Every use case of the service. Shared behind an `Arc` by the driving adapters.
pub struct UserService<A: Adapters> {
    users: A::Users,
    sessions: A::Sessions,
    one_time_tokens: A::OneTimeTokens,
    audit: A::Audit,
    second_factors: A::SecondFactors,
    hasher: A::Hasher,
    tokens: A::Tokens,
    totp: Totp<A>,
    clock: A::Clock,
    object_ids: ObjectIdGenerator,
    policy: SessionPolicy,
}

/// What a second factor needs besides the store: the TOTP arithmetic, and the sealing of secrets at rest.
pub struct Totp<A: Adapters> {
    pub codes: A::OneTimePasswords,
    pub sealer: A::Sealer,
}

impl<A: Adapters> std::fmt::Debug for Totp<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Totp").finish_non_exhaustive()
    }
}

impl<A: Adapters> UserService<A> {
    pub fn new(
        store: Store<A>,
        hasher: A::Hasher,
        tokens: A::Tokens,
        totp: Totp<A>,
        clock: A::Clock,
        policy: SessionPolicy,
    ) -> Self {
        let Store { users, sessions, one_time_tokens, audit, second_factors } = store;
        let object_ids = ObjectIdGenerator::new();
        Self {
            users,
            sessions,
            one_time_tokens,
            audit,
            second_factors,
            hasher,
            tokens,
            totp,
            clock,
            object_ids,
            policy,
        }
    }

    /// Whether the service can do its work now: its store answers.
    pub async fn check_ready(&self) -> Result<(), Unexpected> {
        Ok(self.users.check_health().await?)
    }

    /// Deletes what no request can use any more: sessions (with their refresh tokens) that ended or expired
    /// [`RETAINED_AFTER_END`] ago, the sign-in counts of networks idle that long, and audit events older than
    /// [`SessionPolicy::audit_retention`].
    pub async fn purge_ended(&self) -> Result<Purged, Unexpected> {
        let now = self.now();
        let before = now - RETAINED_AFTER_END;
        let sessions = self.sessions.purge_ended(before).await?;
        let login_throttles = self.users.purge_login_throttles(before).await?;
        let one_time_tokens = self.one_time_tokens.purge_tokens(before).await?;
        let audit_events = self.audit.prune_events(now - self.policy.audit_retention).await?;
        Ok(Purged { sessions, login_throttles, one_time_tokens, audit_events })
    }

    /// The public keys other services verify our access tokens with (none when a shared secret signs them).
    pub fn published_keys(&self) -> Vec<PublishedKey> {
        self.tokens.published_keys()
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

impl<A: Adapters> std::fmt::Debug for UserService<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserService").field("policy", &self.policy).finish_non_exhaustive()
    }
}

/// The clock of the real world.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// Microseconds: the finest time every store keeps, so a timestamp reads the same whichever store holds it.
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration.to_std().unwrap_or_default()).await;
    }
}

/// A fault below the core (store, hasher, signer) that no client can fix. Its cause is kept for the logs.
#[derive(Debug)]
pub struct Unexpected {
    cause: Box<dyn std::error::Error + Send + Sync>,
    /// The store is out of reach or refuses writes for now ([`StoreError::is_unavailable`]): a retry may succeed.
    unavailable: bool,
}

/// Shown as its cause is, as `#[error(transparent)]` would: the chain of causes is printed once.
impl std::fmt::Display for Unexpected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.cause.fmt(f)
    }
}

impl std::error::Error for Unexpected {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause.source()
    }
}

impl Unexpected {
    pub(crate) fn fault(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self { cause: cause.into(), unavailable: false }
    }

    /// Whether the fault is the store being unavailable for now, which a client may retry, rather than a failure.
    pub fn is_unavailable(&self) -> bool {
        self.unavailable
    }
}

impl From<StoreError> for Unexpected {
    fn from(error: StoreError) -> Self {
        Self { unavailable: error.is_unavailable(), cause: Box::new(error) }
    }
}

impl From<PasswordHashError> for Unexpected {
    fn from(error: PasswordHashError) -> Self {
        Self::fault(error)
    }
}

impl From<&'static str> for Unexpected {
    fn from(message: &'static str) -> Self {
        Self::fault(message)
    }
}

impl From<TokenError> for Unexpected {
    fn from(error: TokenError) -> Self {
        Self::fault(error)
    }
}

impl From<users_ports::SecondFactorError> for Unexpected {
    fn from(error: users_ports::SecondFactorError) -> Self {
        Self::fault(error)
    }
}

/// Lets `?` turn any store or token fault into the `Unexpected` variant of a use case's error enum.
macro_rules! unexpected_from_port_errors {
    ($($error:ty),+ $(,)?) => {$(
        impl From<users_ports::StoreError> for $error {
            fn from(error: users_ports::StoreError) -> Self {
                Self::Unexpected(error.into())
            }
        }
        impl From<users_ports::TokenError> for $error {
            fn from(error: users_ports::TokenError) -> Self {
                Self::Unexpected(error.into())
            }
        }
    )+};
}
pub(crate) use unexpected_from_port_errors;

/// Lets `?` turn a hasher's answer into a use case's error: its `Busy` variant when the hashers refused the work
/// (the client may try again shortly), `Unexpected` for a fault.
macro_rules! busy_from_hash_errors {
    ($($error:ty),+ $(,)?) => {$(
        impl From<users_ports::PasswordHashError> for $error {
            fn from(error: users_ports::PasswordHashError) -> Self {
                match error {
                    users_ports::PasswordHashError::Busy => Self::Busy,
                    error => Self::Unexpected(error.into()),
                }
            }
        }
    )+};
}
pub(crate) use busy_from_hash_errors;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_reads_in_whole_microseconds() {
        let now = SystemClock.now();
        assert_eq!(now.timestamp_subsec_nanos() % 1_000, 0);
        assert!((Utc::now() - now).num_seconds().abs() < 5);
    }
}
