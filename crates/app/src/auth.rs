//! Sign-up, sign-in, refresh-token rotation, sign-out, and the check of an access token on each request.

use chrono::{DateTime, Duration, Utc};
use users_domain::{
    AttemptOutcome, ClientDetails, ClientNetwork, LoginAttempt, LoginIdentifier, Password, PasswordError, Profile,
    Registration, Role, User, UserId,
};
use users_ports::{
    AuditKind, AuditRecord, Clock, InsertUserError, MailedToken, NewSession, NewUser, OneTimeToken, PasswordHash,
    PasswordHashError, PasswordHasher, RefreshToken, RefreshTokenUse, SessionId, SessionKey, SessionRepository,
    StoreError, StoredCredentials, TokenError, TokenIssuer, TokenSubject, UserRepository,
};

use crate::audit::{by_nobody, by_owner};
use crate::{Adapters, Unexpected, UserService, busy_from_hash_errors, unexpected_from_port_errors};

/// How long a sign-in waits for the attempts ahead of it from its network (a burst of them, right or wrong) before
/// it is told to try again, and how often it looks.
const PATIENCE: Duration = Duration::seconds(10);
const FIRST_LOOK: Duration = Duration::milliseconds(10);
const LONGEST_PAUSE: Duration = Duration::milliseconds(250);

/// What a client holds after signing in: a short-lived access token and a refresh token to renew it.
#[derive(Clone, Debug)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: RefreshToken,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// A sign-in as the client sent it, parsed as far as it goes.
#[derive(Clone, Debug)]
pub enum SignIn {
    /// An identifier and a password that some account could have.
    Credentials { login: LoginIdentifier, password: Password },
    /// An identifier or a password that no account can have (a malformed email, a 3-character password): the use
    /// case refuses it like a wrong password.
    Impossible,
}

/// A user who has just signed in or up, with their tokens.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub user: User,
    pub tokens: TokenPair,
}

/// Where a right password leads: a session, or for an account with a second factor, the step that asks for a code.
#[derive(Clone, Debug)]
// Made once per sign-in and moved straight into its answer: a box would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum LoginOutcome {
    SignedIn(SignedIn),
    SecondFactorRequired(SecondFactorChallenge),
}

impl LoginOutcome {
    /// The session, if the password alone started one.
    pub fn into_signed_in(self) -> Option<SignedIn> {
        match self {
            Self::SignedIn(signed_in) => Some(signed_in),
            Self::SecondFactorRequired(_) => None,
        }
    }
}

/// A sign-in whose password was right, waiting for a code: the token the code is presented with, single use.
#[derive(Clone, Debug)]
pub struct SecondFactorChallenge {
    pub mfa_token: OneTimeToken,
    /// Seconds until the token expires.
    pub expires_in: i64,
}

/// What a sign-up made: an account signed in at once or, where addresses must be verified before a sign-in
/// ([`crate::EmailPolicy::require_verified_email`]), an account that waits for the link mailed to it.
#[derive(Clone, Debug)]
pub enum Registered {
    SignedIn(SignedIn),
    AwaitingVerification(User),
}

impl Registered {
    pub fn user(&self) -> &User {
        match self {
            Self::SignedIn(signed_in) => &signed_in.user,
            Self::AwaitingVerification(user) => user,
        }
    }

    /// The session the sign-up started, if it started one.
    pub fn into_signed_in(self) -> Option<SignedIn> {
        match self {
            Self::SignedIn(signed_in) => Some(signed_in),
            Self::AwaitingVerification(_) => None,
        }
    }
}

/// The user an access token belongs to, as stored now, the session the token was issued in, and the device the
/// request came from (what the audit log records of whatever they do).
#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub user: User,
    pub session: SessionId,
    /// When the password was entered for the session, as the token says (`None` in tokens that predate it).
    pub authenticated_at: Option<DateTime<Utc>>,
    pub client: ClientDetails,
}

/// A signed-in user who holds the `admin` role. Only [`CurrentUser::into_admin`] makes one, so a use case that takes
/// an `&Administrator` cannot be reached by anyone else.
#[derive(Clone, Debug)]
pub struct Administrator(CurrentUser);

#[derive(Debug, thiserror::Error)]
#[error("this action needs the admin role")]
pub struct NotAnAdmin;

impl CurrentUser {
    pub fn into_admin(self) -> Result<Administrator, NotAnAdmin> {
        if self.user.is_admin() { Ok(Administrator(self)) } else { Err(NotAnAdmin) }
    }
}

impl Administrator {
    pub fn current(&self) -> &CurrentUser {
        &self.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("email is already taken")]
    EmailTaken,
    #[error("password {0}")]
    WeakPassword(PasswordError),
    #[error("username is already taken")]
    UsernameTaken,
    /// The password hashers are busy: try again shortly.
    #[error("the service is busy")]
    Busy,
    /// The new account was deleted (by an admin) before its first session could start: it no longer exists.
    #[error("the new account was deleted as it was created")]
    DeletedAtOnce,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The same for an unknown account and a wrong password.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Too many failed sign-ins in a row from this network (or from everywhere): refused for this long.
    #[error("too many failed sign-ins; try again later")]
    Locked { retry_after: Duration },
    /// The password was right, but the policy wants a verified address and the account's is not.
    #[error("the account's email address is not verified")]
    EmailNotVerified,
    /// The password was right, but an admin has suspended the account.
    #[error("the account is suspended")]
    AccountSuspended,
    /// The password hashers are busy: try again shortly.
    #[error("the service is busy")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, expired or revoked.
    #[error("refresh token is invalid or expired")]
    InvalidToken,
    /// An already rotated token was presented again; its whole session has been revoked.
    #[error("refresh token was already used; the session has been revoked")]
    Reused,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    #[error("refresh token is invalid")]
    InvalidToken,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    #[error("access token is invalid")]
    InvalidToken,
    #[error("access token has expired")]
    ExpiredToken,
    /// The token is well signed, but its session was revoked, or its user deleted or suspended.
    #[error("the session of this access token has ended")]
    SessionEnded,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

unexpected_from_port_errors!(RegisterError, LoginError, RefreshError, LogoutError, AuthenticateError);
busy_from_hash_errors!(RegisterError, LoginError);

/// Why a password offered for an account was not accepted, before each use case words it its own way.
#[derive(Debug)]
pub(crate) enum PasswordCheckError {
    Wrong,
    Locked { retry_after: Duration },
    Busy,
    Unexpected(Unexpected),
}

impl From<StoreError> for PasswordCheckError {
    fn from(error: StoreError) -> Self {
        Self::Unexpected(error.into())
    }
}

impl From<PasswordHashError> for PasswordCheckError {
    fn from(error: PasswordHashError) -> Self {
        match error {
            PasswordHashError::Busy => Self::Busy,
            error => Self::Unexpected(error.into()),
        }
    }
}

impl From<PasswordCheckError> for LoginError {
    fn from(error: PasswordCheckError) -> Self {
        match error {
            PasswordCheckError::Wrong => Self::InvalidCredentials,
            PasswordCheckError::Locked { retry_after } => Self::Locked { retry_after },
            PasswordCheckError::Busy => Self::Busy,
            PasswordCheckError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}

impl<A: Adapters> UserService<A> {
    /// Creates an account with the `user` role, mails its address a verification link, and signs it in (unless the
    /// policy wants the address proven first: then no session starts before the link is used).
    pub async fn register(
        &self,
        registration: Registration,
        client: &ClientDetails,
    ) -> Result<Registered, RegisterError> {
        let password = &registration.password;
        password
            .check_not_personal(&registration.email, registration.username.as_ref())
            .map_err(RegisterError::WeakPassword)?;
        let now = self.now();
        // A sign-up's address is vouched for by nobody: it is mailed a link.
        let verification = self.verification_for(&registration.email, false, now)?;
        let signed_up = by_owner(AuditKind::UserRegistered, now, client).with("email", registration.email.as_ref());
        let new_user = self.new_user(registration, vec![Role::User], verification, vec![signed_up], now).await?;
        let password_hash = new_user.password_hash.clone();
        let user = self.users.insert(new_user).await.map_err(|error| match error {
            InsertUserError::DuplicateEmail => RegisterError::EmailTaken,
            InsertUserError::DuplicateUsername => RegisterError::UsernameTaken,
            InsertUserError::Unexpected(error) => error.into(),
        })?;
        if self.policy.email.require_verified_email {
            return Ok(Registered::AwaitingVerification(user));
        }
        // Only a deletion within these milliseconds makes the session fail to start: the client's to hear, not a
        // fault of the service's.
        let tokens =
            self.start_session(&user, &password_hash, None, client, now).await?.ok_or(RegisterError::DeletedAtOnce)?;
        Ok(Registered::SignedIn(SignedIn { user: User { last_sign_in_at: Some(now), ..user }, tokens }))
    }

    /// Checks the credentials and starts a new session, or for an account with a second factor, a sign-in waiting
    /// for its code (see [`Self::login_with_second_factor`]). An unknown account costs the same hash verification as
    /// a wrong password and fails the same way; credentials no account can have fail that way too. Failures are
    /// counted per account and client `network`. A suspended account is told so only after its password was right.
    pub async fn login(
        &self,
        sign_in: SignIn,
        network: &ClientNetwork,
        client: &ClientDetails,
    ) -> Result<LoginOutcome, LoginError> {
        let SignIn::Credentials { login, password } = sign_in else {
            // Neither looked up nor hashed: the client knows what it sent, so answering at once reveals nothing
            // about any account, and text that cannot match costs no hash. Nor is it counted against an account.
            return Err(LoginError::InvalidCredentials);
        };
        let Some(credentials) = self.users.find_credentials(&login).await? else {
            self.hasher.verify_dummy(&password).await?;
            return Err(LoginError::InvalidCredentials);
        };
        let now = self.now();
        let second_factor = credentials.user.mfa_enabled;
        self.check_password(&credentials, &password, network, client, now, second_factor).await?;
        // Only after the password: a suspension or an unverified address is no secret from the account's owner, but
        // it is from a guesser.
        if credentials.user.is_suspended(now) {
            return Err(LoginError::AccountSuspended);
        }
        if self.policy.email.require_verified_email && !credentials.user.email_verified {
            return Err(LoginError::EmailNotVerified);
        }
        if second_factor {
            // Deleted, or its address changed, since its credentials were read.
            let challenge = self.challenge(&credentials.user, now).await?.ok_or(LoginError::InvalidCredentials)?;
            return Ok(LoginOutcome::SecondFactorRequired(challenge));
        }
        let rehashed = self.rehash(&credentials.password_hash, &password).await;
        let started = self.start_session(&credentials.user, &credentials.password_hash, rehashed, client, now).await?;
        let Some(tokens) = started else {
            return Err(self.why_no_session_started(credentials.user.id).await?);
        };
        let user = User { last_sign_in_at: Some(now), ..credentials.user };
        Ok(LoginOutcome::SignedIn(SignedIn { user, tokens }))
    }

    /// Why a sign-in whose password was right started no session: as the password was being checked, an admin
    /// suspended the account (its owner may be told), or it was deleted or its password changed.
    async fn why_no_session_started(&self, id: UserId) -> Result<LoginError, LoginError> {
        Ok(match self.users.find_by_id(id).await? {
            Some(user) if user.is_suspended(self.now()) => LoginError::AccountSuspended,
            _ => LoginError::InvalidCredentials,
        })
    }

    /// A hash of the service's own for `password`, when `checked` (which it just matched) is another system's or
    /// has older parameters. Best effort: busy hashers leave the old hash for the next sign-in.
    async fn rehash(&self, checked: &PasswordHash, password: &Password) -> Option<PasswordHash> {
        if !self.hasher.needs_rehash(checked) {
            return None;
        }
        self.hasher
            .hash(password)
            .await
            .inspect_err(|error| tracing::warn!(%error, "a password hash was left to replace at a later sign-in"))
            .ok()
    }

    /// Whether `password` is the account's, throttled like a sign-in: refused without a hash while the account is
    /// locked for `network`, and counted (and recorded) as a failure from there, from `client`'s device, when wrong.
    /// When a `second_factor` is still to come, a right password does not forget the failures counted before it.
    pub(crate) async fn check_password(
        &self,
        credentials: &StoredCredentials,
        password: &Password,
        network: &ClientNetwork,
        client: &ClientDetails,
        now: DateTime<Utc>,
        second_factor: bool,
    ) -> Result<(), PasswordCheckError> {
        self.begin_attempt(credentials, network, now).await?;
        // An account without a password (brought over without one) spends the same time on a refusal.
        let verified = if credentials.password_hash.is_unusable() {
            self.hasher.verify_dummy(password).await.map(|()| false)
        } else {
            self.hasher.verify(password, &credentials.password_hash).await
        };
        let outcome = match verified {
            Ok(true) if second_factor => AttemptOutcome::AwaitingSecondFactor,
            Ok(true) => AttemptOutcome::Verified,
            Ok(false) => AttemptOutcome::Refused,
            Err(_) => AttemptOutcome::Abandoned,
        };
        self.end_attempt(credentials.user.id, network, outcome, client).await?;
        if verified? { Ok(()) } else { Err(PasswordCheckError::Wrong) }
    }

    /// Ends an attempt [`Self::begin_attempt`] allowed with its `outcome` (recorded from `client`'s device), noting
    /// in the log a lock it set.
    pub(crate) async fn end_attempt(
        &self,
        id: UserId,
        network: &ClientNetwork,
        outcome: AttemptOutcome,
        client: &ClientDetails,
    ) -> Result<(), StoreError> {
        let lockout = &self.policy.lockout;
        if let Some(until) = self.users.finish_login_attempt(id, network, outcome, self.now(), lockout, client).await? {
            tracing::warn!(user = id.0, %network, %until, "sign-ins locked after repeated failures");
        }
        Ok(())
    }

    /// Starts an attempt, waiting while the attempts under way from `network` fill its room (see
    /// `UserRepository::begin_login_attempt`); after [`PATIENCE`], refused for a second. An account locked from
    /// everywhere at `now` is refused at once, without a transaction.
    pub(crate) async fn begin_attempt(
        &self,
        credentials: &StoredCredentials,
        network: &ClientNetwork,
        now: DateTime<Utc>,
    ) -> Result<(), PasswordCheckError> {
        if let Some(until) = credentials.throttle.locked_until.filter(|until| *until > now) {
            return Err(PasswordCheckError::Locked { retry_after: until - now });
        }
        let (mut pause, mut waited) = (FIRST_LOOK, Duration::zero());
        loop {
            let now = self.now();
            match self.users.begin_login_attempt(credentials.user.id, network, now, &self.policy.lockout).await? {
                LoginAttempt::Allowed => return Ok(()),
                LoginAttempt::Locked { until } => return Err(PasswordCheckError::Locked { retry_after: until - now }),
                LoginAttempt::Busy if waited < PATIENCE => {
                    self.clock.sleep(pause).await;
                    waited += pause;
                    pause = (pause * 2).min(LONGEST_PAUSE);
                }
                LoginAttempt::Busy => return Err(PasswordCheckError::Locked { retry_after: Duration::seconds(1) }),
            }
        }
    }

    /// Trades a refresh token for a new pair. The presented token is used up. Presented again within the grace
    /// window, it gets the same new pair (two tabs refreshing together); later, it revokes the session, since one of
    /// the two presenters must have stolen it. The session's last use and device become this refresh's.
    pub async fn refresh(
        &self,
        refresh_token: &RefreshToken,
        client: &ClientDetails,
    ) -> Result<TokenPair, RefreshError> {
        let now = self.now();
        let used = self.tokens.hash_refresh_token(refresh_token);
        // The successor is known before anything is stored, so the store rotates in one step.
        let successor = self.tokens.successor_refresh_token(refresh_token);
        let successor_hash = self.tokens.hash_refresh_token(&successor);
        let expires_at = now + self.policy.refresh_token_ttl;
        let rotation = self.sessions.rotate_refresh_token(&used, &successor_hash, now, expires_at, client).await?;
        let (session, issued_at) = match rotation {
            RefreshTokenUse::Rotated(session) => (session, now),
            // The token is used up, but its session was over: no successor was stored.
            RefreshTokenUse::SessionEnded(_) | RefreshTokenUse::Unknown => return Err(RefreshError::InvalidToken),
            RefreshTokenUse::Replayed { session, used_at, successor_issued }
                if now - used_at <= self.policy.refresh_grace =>
            {
                // The session is over (it ended before the first use, which then stored no successor, or since).
                if !session.is_live(now) {
                    return Err(RefreshError::InvalidToken);
                }
                if !successor_issued {
                    // Handing out this successor would give the client a token its session never had.
                    tracing::error!(
                        session = session.id.0,
                        "a refresh token's successor differs between instances: give every instance the same \
                         refresh-token secret"
                    );
                    return Err(RefreshError::InvalidToken);
                }
                // Sign as of the first use: the claims, hence the token, come out the same as the first answer's.
                (session, used_at)
            }
            RefreshTokenUse::Replayed { session, .. } => {
                // Nobody is known to have done it: the replayer, or the owner whose token was stolen.
                let revoked = by_nobody(AuditKind::SessionRevoked, now, client).with("reason", "refresh_token_reused");
                self.sessions.revoke(session.id, now, revoked).await?;
                tracing::warn!(session = session.id.0, "refresh token replayed: session revoked");
                return Err(RefreshError::Reused);
            }
        };
        let user = self.users.find_by_id(session.user_id).await?.ok_or(RefreshError::InvalidToken)?;
        // A suspension ends every session; this one may have started as it was being written.
        if user.is_suspended(now) {
            return Err(RefreshError::InvalidToken);
        }
        // Should signing fail now, the successor is stored but unseen; a retry within the grace window is handed
        // the same pair, so the client is not logged out by our fault.
        Ok(self.token_pair(&user, session.id, session.authenticated_at, successor, issued_at)?)
    }

    /// Ends the session the refresh token belongs to. Idempotent for a token of an already ended session.
    pub async fn logout(&self, refresh_token: &RefreshToken, client: &ClientDetails) -> Result<(), LogoutError> {
        let hash = self.tokens.hash_refresh_token(refresh_token);
        let session = self.sessions.find_by_refresh_token(&hash).await?.ok_or(LogoutError::InvalidToken)?;
        let now = self.now();
        self.sessions.revoke(session, now, by_owner(AuditKind::UserSignedOut, now, client)).await?;
        Ok(())
    }

    /// The user behind an access token, loaded fresh: a token of a deleted or suspended user or of a revoked session
    /// fails even before it expires, and role changes take effect at once.
    pub async fn authenticate(
        &self,
        access_token: &str,
        client: &ClientDetails,
    ) -> Result<CurrentUser, AuthenticateError> {
        let now = self.now();
        let claims = self.tokens.verify_access_token(access_token, now).map_err(|error| match error {
            TokenError::Expired => AuthenticateError::ExpiredToken,
            TokenError::Invalid => AuthenticateError::InvalidToken,
            unexpected @ TokenError::Unexpected(_) => unexpected.into(),
        })?;
        let user = self
            .users
            .find_signed_in(claims.user_id, claims.session_id, now)
            .await?
            .filter(|user| !user.is_suspended(now))
            .ok_or(AuthenticateError::SessionEnded)?;
        Ok(CurrentUser {
            user,
            session: claims.session_id,
            authenticated_at: claims.authenticated_at,
            client: client.clone(),
        })
    }

    /// The user to store for a sign-up: its password hashed, a fresh public id, the given roles, the verification to
    /// mail with it (the address is unverified exactly when there is one), and the events its creation records.
    pub(crate) async fn new_user(
        &self,
        registration: Registration,
        roles: Vec<Role>,
        verification: Option<MailedToken>,
        audit: Vec<AuditRecord>,
        now: DateTime<Utc>,
    ) -> Result<NewUser, PasswordHashError> {
        Ok(NewUser {
            password_hash: self.hasher.hash(&registration.password).await?,
            object_id: self.object_ids.next(now),
            username: registration.username,
            email: registration.email,
            profile: Profile {
                first_name: registration.first_name,
                last_name: registration.last_name,
                ..Profile::default()
            },
            roles,
            email_verified: verification.is_none(),
            verification,
            audit,
            created_at: now,
        })
    }

    /// A new session on `client`'s device, its password entered `now` (and `checked` replaced by `rehashed`, if
    /// given), and its tokens; `None` if the user no longer exists or no longer has the password hash that was
    /// checked.
    async fn start_session(
        &self,
        user: &User,
        checked: &PasswordHash,
        rehashed: Option<PasswordHash>,
        client: &ClientDetails,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenPair>, Unexpected> {
        let (new_session, refresh_token) = self.new_session(user, checked, rehashed, client, now)?;
        let Some(session) = self.sessions.create(new_session).await? else { return Ok(None) };
        self.token_pair(user, session, now, refresh_token, now).map(Some)
    }

    /// The session a sign-in starts, with the refresh token whose hash it stores; its event is `user.signed_in`.
    pub(crate) fn new_session(
        &self,
        user: &User,
        checked: &PasswordHash,
        rehashed: Option<PasswordHash>,
        client: &ClientDetails,
        now: DateTime<Utc>,
    ) -> Result<(NewSession, RefreshToken), Unexpected> {
        let refresh_token = self.tokens.new_refresh_token();
        let key = SessionKey::generate().map_err(|error| Unexpected::fault(error.to_string()))?;
        let signed_in = by_owner(AuditKind::UserSignedIn, now, client).with("session", key.as_str());
        let new_session = NewSession {
            key,
            audit: signed_in,
            user_id: user.id,
            client: client.clone(),
            password_hash: checked.clone(),
            rehashed_password: rehashed,
            refresh_token_hash: self.tokens.hash_refresh_token(&refresh_token),
            created_at: now,
            expires_at: now + self.policy.refresh_token_ttl,
        };
        Ok((new_session, refresh_token))
    }

    pub(crate) fn token_pair(
        &self,
        user: &User,
        session: SessionId,
        authenticated_at: DateTime<Utc>,
        refresh_token: RefreshToken,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, Unexpected> {
        let subject = TokenSubject {
            user_id: user.id,
            object_id: user.object_id,
            session_id: session,
            roles: user.roles.clone(),
            authenticated_at,
        };
        let access = self.tokens.issue_access_token(&subject, now)?;
        // `exp` is in whole seconds, rounded up, while `now` is not: round down, so that a 15-minute token says 900,
        // and no token lives less than it says.
        let expires_in = (access.expires_at - now).num_seconds();
        Ok(TokenPair { access_token: access.token, refresh_token, expires_in })
    }
}
