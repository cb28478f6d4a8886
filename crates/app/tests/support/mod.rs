//! Shared fixtures for the use-case tests: the mocked adapters, a fixed clock and sample values.
// Each test binary uses only part of this module.
#![allow(dead_code)]

pub mod in_memory;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use users_app::{
    Adapters, Administrator, CurrentPassword, CurrentUser, LoginError, LoginOutcome, Reauthentication, SessionPolicy,
    SignedIn, Store, Totp, UserService,
};
use users_domain::{
    AttemptOutcome, ClientDetails, ClientNetwork, Email, LockoutPolicy, LoginAttempt, LoginThrottle, ObjectId,
    Password, PersonName, Profile, Role, User, UserAgent, UserId, Username,
};
use users_ports::{
    AccessToken, MockAuditLog, MockClock, MockOneTimePasswords, MockOneTimeTokenRepository, MockPasswordHasher,
    MockSecondFactorRepository, MockSecretSealer, MockSessionRepository, MockTokenIssuer, MockUserRepository, NewUser,
    PasswordHash, RefreshToken, RefreshTokenHash, SessionId, StoreError, StoredCredentials, TokenSubject,
};

/// The adapters of a service under test: a mock for every port.
#[derive(Debug)]
pub struct Mocked;

impl Adapters for Mocked {
    type Users = MockUserRepository;
    type Sessions = MockSessionRepository;
    type OneTimeTokens = MockOneTimeTokenRepository;
    type Audit = MockAuditLog;
    type Hasher = MockPasswordHasher;
    type Tokens = MockTokenIssuer;
    type Clock = MockClock;
    type SecondFactors = MockSecondFactorRepository;
    type OneTimePasswords = MockOneTimePasswords;
    type Sealer = MockSecretSealer;
}

/// The mocks a test sets expectations on before turning them into a service.
pub struct Mocks {
    pub users: MockUserRepository,
    pub sessions: MockSessionRepository,
    pub one_time_tokens: MockOneTimeTokenRepository,
    pub audit: MockAuditLog,
    pub hasher: MockPasswordHasher,
    pub tokens: MockTokenIssuer,
    /// Reads [`now`]; expects no wait unless a test says so.
    pub clock: MockClock,
    pub second_factors: MockSecondFactorRepository,
    pub codes: MockOneTimePasswords,
    pub sealer: MockSecretSealer,
}

impl Mocks {
    /// Mocks that expect nothing, except that hashing a refresh token is a pure function ([`hash_of`]) that may be
    /// called any number of times, and that the clock always reads [`now`] (it is never asked to wait).
    pub fn new() -> Self {
        let mut tokens = MockTokenIssuer::new();
        tokens.expect_hash_refresh_token().returning(hash_of);
        // The service's own hashes: nothing to replace at sign-in (a test of imported hashes says otherwise).
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_needs_rehash().returning(|_| false);
        Self {
            users: MockUserRepository::new(),
            sessions: MockSessionRepository::new(),
            one_time_tokens: MockOneTimeTokenRepository::new(),
            audit: MockAuditLog::new(),
            hasher,
            tokens,
            clock: fixed_clock(),
            second_factors: MockSecondFactorRepository::new(),
            codes: MockOneTimePasswords::new(),
            sealer: MockSecretSealer::new(),
        }
    }

    /// The service over these mocks with the default session policy.
    pub fn service(self) -> UserService<Mocked> {
        self.service_with(SessionPolicy::default())
    }

    pub fn service_with(self, policy: SessionPolicy) -> UserService<Mocked> {
        let store = Store {
            users: self.users,
            sessions: self.sessions,
            one_time_tokens: self.one_time_tokens,
            audit: self.audit,
            second_factors: self.second_factors,
        };
        let totp = Totp { codes: self.codes, sealer: self.sealer };
        UserService::new(store, self.hasher, self.tokens, totp, self.clock, policy)
    }

    /// Lets the clock be asked to wait `times`, without waiting; returns the waits asked for, in order.
    pub fn expect_sleeps(&mut self, times: impl Into<mockall::TimesRange>) -> Arc<Mutex<Vec<Duration>>> {
        let waits = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&waits);
        self.clock.expect_sleep().times(times).returning(move |duration| record.lock().unwrap().push(duration));
        waits
    }

    /// Expects exactly one new refresh token to be made, and returns `token`.
    pub fn expect_new_refresh_token(&mut self, token: &'static str) {
        self.tokens.expect_new_refresh_token().times(1).returning(move || RefreshToken::new(token));
    }

    /// Expects the successor of refresh token `used` to be asked for once, and returns `successor`.
    pub fn expect_successor(&mut self, used: &'static str, successor: &'static str) {
        self.tokens
            .expect_successor_refresh_token()
            .withf(move |token| token.as_str() == used)
            .times(1)
            .returning(move |_| RefreshToken::new(successor));
    }

    /// Expects exactly one access token to be signed at [`now`] for `user` in `session`, whose password was
    /// entered [`now`] (a new sign-in), and returns [`access_token`].
    pub fn expect_access_token(&mut self, user: &User, session: SessionId) {
        self.expect_access_token_at(user, session, now(), now());
    }

    /// Expects exactly one access token to be signed for `user` in `session`, whose password was entered at
    /// `authenticated_at`, as of `issued_at`, and returns one valid [`ACCESS_TTL_SECS`] from then.
    pub fn expect_access_token_at(
        &mut self,
        user: &User,
        session: SessionId,
        authenticated_at: DateTime<Utc>,
        issued_at: DateTime<Utc>,
    ) {
        let expected = TokenSubject {
            user_id: user.id,
            object_id: user.object_id,
            session_id: session,
            roles: user.roles.clone(),
            authenticated_at,
        };
        self.tokens
            .expect_issue_access_token()
            .withf(move |subject, at| *subject == expected && *at == issued_at)
            .times(1)
            .returning(move |_, _| {
                let expires_at = issued_at + Duration::seconds(ACCESS_TTL_SECS);
                Ok(AccessToken { expires_at, ..access_token() })
            });
    }
}

/// A sign-in the password alone finishes: the account has no second factor.
pub trait PasswordAlone {
    fn password_alone(self) -> Result<SignedIn, LoginError>;
}

impl PasswordAlone for Result<LoginOutcome, LoginError> {
    fn password_alone(self) -> Result<SignedIn, LoginError> {
        self.map(|outcome| outcome.into_signed_in().expect("signed in without a second factor"))
    }
}

/// The instant every test runs at.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_750_000_000, 0).expect("a valid timestamp")
}

/// A clock stopped at [`now`].
pub fn fixed_clock() -> MockClock {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(now());
    clock
}

/// Seconds the sample access token is valid for.
pub const ACCESS_TTL_SECS: i64 = 900;

/// The access token the mocked issuer signs: it expires [`ACCESS_TTL_SECS`] after [`now`].
pub fn access_token() -> AccessToken {
    AccessToken { token: "signed.access.token".into(), expires_at: now() + Duration::seconds(ACCESS_TTL_SECS) }
}

/// The mocked one-way hash of a refresh token.
pub fn hash_of(token: &RefreshToken) -> RefreshTokenHash {
    RefreshTokenHash(format!("hash:{}", token.as_str()))
}

/// The hash of the refresh token spelled `token`.
pub fn hash_of_str(token: &str) -> RefreshTokenHash {
    hash_of(&RefreshToken::new(token))
}

/// The session of the sample current user.
pub const SESSION: SessionId = SessionId(7);

pub fn email(raw: &str) -> Email {
    Email::parse(raw).expect("a valid email")
}

pub fn username(raw: &str) -> Username {
    Username::parse(raw).expect("a valid username")
}

pub fn password(raw: &str) -> Password {
    Password::parse(raw).expect("a valid password")
}

pub fn person_name(raw: &str) -> PersonName {
    PersonName::parse(raw).expect("a valid name")
}

/// A stored password hash.
pub fn stored_hash() -> PasswordHash {
    PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$c3RvcmVkaGFzaA")
}

/// The hash the mocked hasher makes of a new password.
pub fn new_hash() -> PasswordHash {
    PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaA")
}

pub fn object_id(counter: u32) -> ObjectId {
    ObjectId::from_parts(1_700_000_000, [1, 2, 3, 4, 5], counter)
}

/// A stored user with the given id and roles.
pub fn user(id: i64, roles: &[Role]) -> User {
    User {
        id: UserId(id),
        object_id: object_id(u32::try_from(id).expect("a small id")),
        username: Some(username(&format!("user{id}"))),
        email: email(&format!("user{id}@example.com")),
        profile: Profile::default(),
        roles: roles.to_vec(),
        email_verified: true,
        mfa_enabled: false,
        suspension: None,
        created_at: now() - Duration::days(10),
        updated_at: now() - Duration::days(1),
        last_sign_in_at: None,
    }
}

/// A user with only the `user` role.
pub fn plain_user() -> User {
    user(1, &[Role::User])
}

/// A user with the `admin` and `user` roles.
pub fn admin_user() -> User {
    user(2, &[Role::Admin, Role::User])
}

/// `user` signed in, in [`SESSION`], with the password entered a minute ago: recently enough to change the
/// password or email, or delete the account, without typing it again.
pub fn current(user: User) -> CurrentUser {
    signed_in_at(user, Some(now() - Duration::minutes(1)))
}

/// `user` in [`SESSION`], whose password was entered at `authenticated_at` (`None`: a token that predates it).
pub fn signed_in_at(user: User, authenticated_at: Option<DateTime<Utc>>) -> CurrentUser {
    CurrentUser { user, session: SESSION, authenticated_at, client: device() }
}

/// What the store holds for [`plain_user`]: [`stored_hash`], and no failed sign-in.
pub fn credentials() -> StoredCredentials {
    StoredCredentials { user: plain_user(), password_hash: stored_hash(), throttle: LoginThrottle::default() }
}

/// The store is asked once to start a sign-in attempt of user 1 from [`network`] at [`now`], under the default
/// lockout policy, and answers `outcome`.
pub fn expect_attempt(mocks: &mut Mocks, outcome: LoginAttempt) {
    mocks
        .users
        .expect_begin_login_attempt()
        .withf(|id, from, at, lockout| {
            *id == UserId(1) && *from == network() && *at == now() && *lockout == LockoutPolicy::default()
        })
        .times(1)
        .returning(move |_, _, _, _| Ok(outcome));
}

/// The store is told once, at [`now`] and under the default lockout policy, that the attempt of user 1 from
/// [`network`] ended with `outcome`, and answers `lock` (the lock that outcome set, if any).
pub fn expect_finished(mocks: &mut Mocks, outcome: AttemptOutcome, lock: Option<DateTime<Utc>>) {
    mocks
        .users
        .expect_finish_login_attempt()
        .withf(move |id, from, ended, at, lockout, _| {
            *id == UserId(1)
                && *from == network()
                && *ended == outcome
                && *at == now()
                && *lockout == LockoutPolicy::default()
        })
        .times(1)
        .returning(move |_, _, _, _, _, _| Ok(lock));
}

/// No sign-in attempt is started or finished.
pub fn expect_no_attempt(mocks: &mut Mocks) {
    mocks.users.expect_begin_login_attempt().never();
    mocks.users.expect_finish_login_attempt().never();
}

/// The network the sample client signs in from.
pub fn network() -> ClientNetwork {
    ClientNetwork::of("203.0.113.9".parse().expect("a valid address"))
}

/// The device the sample client uses.
pub fn device() -> ClientDetails {
    ClientDetails {
        ip: Some("203.0.113.9".parse().expect("a valid address")),
        user_agent: UserAgent::from_header("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"),
    }
}

/// Proof of presence from [`network`] with `current_password`.
pub fn proof(current_password: CurrentPassword) -> Reauthentication {
    Reauthentication { current_password, network: network() }
}

/// A request that does not type the current password again.
pub fn no_password() -> Reauthentication {
    proof(CurrentPassword::NotGiven)
}

pub fn administrator() -> Administrator {
    current(admin_user()).into_admin().expect("the admin user holds the admin role")
}

/// The user a store would return for `new`, with the numeric id `id`.
pub fn stored(new: NewUser, id: i64) -> User {
    User {
        id: UserId(id),
        object_id: new.object_id,
        username: new.username,
        email: new.email,
        profile: new.profile,
        roles: new.roles,
        email_verified: new.email_verified,
        mfa_enabled: false,
        suspension: None,
        created_at: new.created_at,
        updated_at: new.created_at,
        last_sign_in_at: None,
    }
}

/// The message a store failure carries, which an `Unexpected` error must keep.
pub const STORE_FAILURE: &str = "connection lost";

pub fn store_error() -> StoreError {
    StoreError::new(STORE_FAILURE)
}

/// The first four bytes of an ObjectId: its creation time in seconds.
pub fn object_id_seconds(id: ObjectId) -> u32 {
    let bytes = id.bytes();
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// [`now`] as ObjectId seconds.
pub fn now_seconds() -> u32 {
    u32::try_from(now().timestamp()).expect("now fits in 32 bits")
}
