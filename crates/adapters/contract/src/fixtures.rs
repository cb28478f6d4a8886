//! Fixtures the contract's tests build their stores' contents from, also used by the stores' own tests.

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use users_domain::{
    AttemptOutcome, ClientDetails, ClientNetwork, Email, LockoutPolicy, LoginAttempt, LoginIdentifier, LoginThrottle,
    ObjectId, PersonName, Profile, ProfilePatch, ProfileUrl, Role, Suspension, SuspensionReason, User, UserAgent,
    UserId, Username,
};
use users_ports::{
    AuditActor, AuditKind, AuditRecord, Mail, MailContent, MailOutbox, MailedToken, NewOneTimeToken, NewSession,
    NewUser, OneTimeToken, OneTimeTokenHash, PageRequest, PasswordHash, QueuedMail, RefreshTokenHash, SessionKey,
    TokenPurpose, UpdateUserError, UserFilter, UserOrder, UserQuery, UserRepository, UserUpdate,
};

/// The current time at the precision a store keeps.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub fn seconds(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

pub fn password_hash() -> PasswordHash {
    PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo")
}

pub fn other_password_hash() -> PasswordHash {
    PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0$b3RoZXJoYXNo")
}

/// A distinct ObjectId for every distinct `n`.
pub fn object_id(n: u32) -> ObjectId {
    ObjectId::from_parts(1_750_000_000, [0xa1, 0xb2, 0xc3, 0xd4, 0xe5], n)
}

pub fn email(raw: &str) -> Email {
    Email::parse(raw).expect("valid email")
}

pub fn username(raw: &str) -> Username {
    Username::parse(raw).expect("valid username")
}

pub fn person_name(raw: &str) -> PersonName {
    PersonName::parse(raw).expect("valid name")
}

pub fn url(raw: &str) -> ProfileUrl {
    ProfileUrl::parse(raw).expect("valid url")
}

pub fn token(raw: &str) -> RefreshTokenHash {
    RefreshTokenHash(raw.to_owned())
}

/// Every profile field set.
pub fn full_profile() -> Profile {
    Profile {
        first_name: Some(person_name("Ada")),
        last_name: Some(person_name("Lovelace")),
        website: Some(url("https://ada.example")),
        facebook: Some(url("https://facebook.com/ada")),
        instagram: Some(url("https://instagram.com/ada")),
        linkedin: Some(url("https://linkedin.com/in/ada")),
        x: Some(url("https://x.com/ada")),
        youtube: Some(url("https://youtube.com/@ada")),
    }
}

/// A plain user (role `user`, no username, empty profile) created at `created_at`.
pub fn new_user(n: u32, address: &str, created_at: DateTime<Utc>) -> NewUser {
    NewUser {
        object_id: object_id(n),
        username: None,
        email: email(address),
        password_hash: password_hash(),
        profile: Profile::default(),
        roles: vec![Role::User],
        email_verified: false,
        verification: None,
        audit: vec![audit(AuditKind::UserRegistered, created_at)],
        created_at,
    }
}

pub fn new_admin(n: u32, address: &str, created_at: DateTime<Utc>) -> NewUser {
    NewUser { roles: vec![Role::Admin, Role::User], ..new_user(n, address, created_at) }
}

/// Replaces a user's roles and nothing else.
pub async fn set_roles<U: UserRepository>(
    users: &U,
    id: UserId,
    roles: &[Role],
    updated_at: DateTime<Utc>,
) -> Result<User, UpdateUserError> {
    users.update(id, UserUpdate { roles: Some(roles.to_vec()), ..touch(updated_at) }).await
}

/// An update that changes nothing but `updated_at`.
pub fn touch(updated_at: DateTime<Utc>) -> UserUpdate {
    UserUpdate {
        username: None,
        email: None,
        password_hash: None,
        profile: ProfilePatch::default(),
        roles: None,
        ends_sessions: None,
        email_verified: None,
        verification: None,
        notices: vec![],
        mail_interval: TimeDelta::seconds(60),
        audit: vec![audit(AuditKind::UserUpdated, updated_at)],
        updated_at,
    }
}

/// The stored form of the one-time token `text`.
pub fn one_time(text: &str) -> OneTimeTokenHash {
    OneTimeToken::new(text).hash()
}

/// The one-time token `text` of `purpose` for `address`, made at `created_at` and usable for `lifetime`, with the mail
/// that carries it to that address.
pub fn mailed_token(
    text: &str,
    purpose: TokenPurpose,
    address: &str,
    created_at: DateTime<Utc>,
    lifetime: TimeDelta,
) -> MailedToken {
    let token = OneTimeToken::new(text);
    let content = match purpose {
        TokenPurpose::VerifyEmail => MailContent::VerifyEmail { token: token.clone() },
        TokenPurpose::ResetPassword => MailContent::ResetPassword { token: token.clone() },
        TokenPurpose::MfaSignIn => panic!("a sign-in's token is handed to its client, never mailed: use mfa_token"),
    };
    MailedToken {
        token: NewOneTimeToken {
            hash: token.hash(),
            purpose,
            email: email(address),
            created_at,
            expires_at: created_at + lifetime,
        },
        mail: Mail { to: email(address), content },
    }
}

/// The token `text` of a sign-in waiting for its second factor, for `address`, made at `created_at` and usable for
/// five minutes, as the service makes them.
pub fn mfa_token(text: &str, address: &str, created_at: DateTime<Utc>) -> NewOneTimeToken {
    NewOneTimeToken {
        hash: one_time(text),
        purpose: TokenPurpose::MfaSignIn,
        email: email(address),
        created_at,
        expires_at: created_at + TimeDelta::minutes(5),
    }
}

/// A distinct device for every distinct `n`: an address of 203.0.113.0/24 (kept for documentation) and a browser.
pub fn device(n: u8) -> ClientDetails {
    ClientDetails {
        ip: Some(format!("203.0.113.{n}").parse().expect("an IP address")),
        user_agent: UserAgent::from_header(&format!("Mozilla/5.0 (X11; Linux x86_64) Firefox/{n}.0")),
    }
}

/// A session of a user whose password hash is [`password_hash`] (as [`new_user`] makes them), with a key of its own,
/// signed in from [`device`] 1.
pub fn new_session(user: UserId, hash: &str, created_at: DateTime<Utc>, expires_at: DateTime<Utc>) -> NewSession {
    NewSession {
        key: SessionKey::generate().expect("OS random source"),
        client: device(1),
        user_id: user,
        password_hash: password_hash(),
        rehashed_password: None,
        refresh_token_hash: token(hash),
        created_at,
        expires_at,
        audit: audit(AuditKind::UserSignedIn, created_at),
    }
}

/// An event as a use case hands it to the store: of `kind`, at `at`, done by the account it is about, from [`device`]
/// 1, with no details.
pub fn audit(kind: AuditKind, at: DateTime<Utc>) -> AuditRecord {
    AuditRecord::new(kind, at, AuditActor::Subject, &device(1))
}

/// A suspension from `since`, until `until` (`None`: until lifted), for `reason`.
pub fn suspension(since: DateTime<Utc>, until: Option<DateTime<Utc>>, reason: Option<&str>) -> Suspension {
    let reason = reason.map(|reason| SuspensionReason::parse(reason).expect("valid reason"));
    Suspension { since, until, reason }
}

pub async fn insert_ok<U: UserRepository>(users: &U, user: NewUser) -> User {
    users.insert(user).await.expect("insert user")
}

/// `user` as a session started at `at` leaves it: signed in last then.
pub fn signed_in_at(user: User, at: DateTime<Utc>) -> User {
    User { last_sign_in_at: Some(at), ..user }
}

/// `limit` users after the first `offset`, in id order, every one of them counted.
pub fn in_id_order(offset: u64, limit: u32) -> UserQuery {
    UserQuery {
        filter: UserFilter::default(),
        order: UserOrder::default(),
        page: PageRequest { offset, limit },
        count_limit: 10_000,
        now: now(),
    }
}

/// The ids of the admins, in id order.
pub(crate) async fn admin_ids<U: UserRepository>(users: &U) -> Vec<UserId> {
    let page = users.list(&in_id_order(0, 1000)).await.expect("list users");
    page.items.into_iter().filter(User::is_admin).map(|user| user.id).collect()
}

/// How many users the store holds.
pub(crate) async fn total<U: UserRepository>(users: &U) -> u64 {
    users.list(&in_id_order(0, 0)).await.expect("list users").total.count()
}

/// The network of a client address.
pub(crate) fn network(address: &str) -> ClientNetwork {
    ClientNetwork::of(address.parse().expect("an IP address"))
}

/// A lockout policy small enough to reach in a test: three failures from a network, five from everywhere.
pub(crate) const LOCKOUT: LockoutPolicy =
    LockoutPolicy { threshold: 3, backstop: 5, first_wait: TimeDelta::seconds(60), max_wait: TimeDelta::seconds(600) };

/// One whole attempt: begun, and finished with `outcome` if it was allowed.
pub(crate) async fn attempt<U: UserRepository>(
    users: &U,
    id: UserId,
    from: &ClientNetwork,
    outcome: AttemptOutcome,
    at: DateTime<Utc>,
) -> LoginAttempt {
    let begun = users.begin_login_attempt(id, from, at, &LOCKOUT).await.expect("begin");
    if begun == LoginAttempt::Allowed {
        users.finish_login_attempt(id, from, outcome, at, &LOCKOUT, &device(1)).await.expect("finish");
    }
    begun
}

/// The account-wide sign-in counts of the user with this email.
pub(crate) async fn throttle_of<U: UserRepository>(users: &U, address: &str) -> LoginThrottle {
    let login = LoginIdentifier::Email(email(address));
    users.find_credentials(&login).await.expect("no fault").expect("found").throttle
}

/// Every mail due at `at`, claimed with a lease of a minute.
pub(crate) async fn claim_all<O: MailOutbox>(outbox: &O, at: DateTime<Utc>) -> Vec<QueuedMail> {
    outbox.claim_due(at, at + TimeDelta::seconds(60), 1000).await.expect("claim")
}
