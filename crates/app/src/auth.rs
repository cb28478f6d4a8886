//! Sign-up, sign-in, refresh-token rotation, sign-out, and the check of an access token on each request.

use chrono::{DateTime, Duration, Utc};
use users_domain::{LoginIdentifier, Password, PasswordError, Profile, Registration, Role, User};
use users_ports::{
    InsertUserError, LoginAttempt, NewSession, NewUser, PasswordHasher, RefreshToken, RefreshTokenUse, SessionId,
    SessionRepository, TokenError, TokenIssuer, UserRepository,
};

use crate::{Adapters, Unexpected, UserService, unexpected_from_port_errors};

/// What a client holds after signing in: a short-lived access token and a refresh token to renew it.
#[derive(Clone, Debug)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: RefreshToken,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// A user who has just signed in or up, with their tokens.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub user: User,
    pub tokens: TokenPair,
}

/// The user an access token belongs to, as stored now, and the session the token was issued in.
#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub user: User,
    pub session: SessionId,
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
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The same for an unknown account and a wrong password.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Too many failed sign-ins in a row: the account refuses sign-ins for this long.
    #[error("too many failed sign-ins; try again later")]
    Locked { retry_after: Duration },
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
    /// The token is well signed, but its session was revoked or its user deleted.
    #[error("the session of this access token has ended")]
    SessionEnded,
    #[error(transparent)]
    Unexpected(#[from] Unexpected),
}

unexpected_from_port_errors!(RegisterError, LoginError, RefreshError, LogoutError, AuthenticateError);

impl<A: Adapters> UserService<A> {
    /// Creates an account with the `user` role and signs it in.
    pub async fn register(&self, registration: Registration) -> Result<SignedIn, RegisterError> {
        let password = &registration.password;
        password
            .check_not_personal(&registration.email, registration.username.as_ref())
            .map_err(RegisterError::WeakPassword)?;
        let now = self.now();
        let new_user = self.new_user(registration, vec![Role::User], now).await?;
        let user = self.users.insert(new_user).await.map_err(|error| match error {
            InsertUserError::DuplicateEmail => RegisterError::EmailTaken,
            InsertUserError::DuplicateUsername => RegisterError::UsernameTaken,
            InsertUserError::Unexpected(error) => error.into(),
        })?;
        // Only a deletion within these milliseconds could make the session fail to start: a fault, not a refusal.
        let tokens =
            self.start_session(&user, now).await?.ok_or_else(|| Unexpected::from("registered user vanished"))?;
        Ok(SignedIn { user, tokens })
    }

    /// Checks the credentials and starts a new session. An unknown account costs the same hash verification as a
    /// wrong password and fails the same way.
    pub async fn login(&self, login: LoginIdentifier, password: Password) -> Result<SignedIn, LoginError> {
        let Some(credentials) = self.users.find_credentials(&login).await? else {
            self.hasher.verify_dummy(&password).await?;
            return Err(LoginError::InvalidCredentials);
        };
        let (id, now) = (credentials.user.id, self.now());
        // A locked account answers at once: no password hash is spent on an attack.
        let locked = |until: DateTime<Utc>| LoginError::Locked { retry_after: until - now };
        if let Some(until) = credentials.throttle.locked_until.filter(|until| *until > now) {
            return Err(locked(until));
        }
        // Counted as a failure before the password is checked, so that a burst of concurrent guesses cannot all be
        // checked before the lock is written.
        let attempt = match self.users.begin_login_attempt(id, now, &self.policy.lockout).await? {
            LoginAttempt::Locked { until } => return Err(locked(until)),
            LoginAttempt::Allowed { attempt } => attempt,
        };
        if !self.hasher.verify(&password, &credentials.password_hash).await? {
            if self.policy.lockout.wait_after(attempt).is_some() {
                tracing::warn!(user = id.0, failures = attempt, "sign-ins locked after repeated failures");
            }
            return Err(LoginError::InvalidCredentials);
        }
        self.users.reset_failed_logins(id).await?;
        // The account was deleted while its password was being checked.
        let tokens = self.start_session(&credentials.user, now).await?.ok_or(LoginError::InvalidCredentials)?;
        Ok(SignedIn { user: credentials.user, tokens })
    }

    /// Trades a refresh token for a new pair. The presented token is used up. Presented again within the grace
    /// window, it gets the same new pair (two tabs refreshing together); later, it revokes the session, since one of
    /// the two presenters must have stolen it.
    pub async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenPair, RefreshError> {
        let now = self.now();
        let used = self.tokens.hash_refresh_token(refresh_token);
        // The successor is known before anything is stored, so the store rotates in one step.
        let successor = self.tokens.successor_refresh_token(refresh_token);
        let successor_hash = self.tokens.hash_refresh_token(&successor);
        let expires_at = now + self.policy.refresh_token_ttl;
        let rotation = self.sessions.rotate_refresh_token(&used, &successor_hash, now, expires_at).await?;
        let (session, issued_at) = match rotation {
            RefreshTokenUse::Fresh(session) => (session, now),
            RefreshTokenUse::Unknown => return Err(RefreshError::InvalidToken),
            RefreshTokenUse::Replayed { session, used_at } if now - used_at <= self.policy.refresh_grace => {
                // Sign as of the first use: the claims, hence the token, come out the same as the first answer's.
                (session, used_at)
            }
            RefreshTokenUse::Replayed { session, .. } => {
                self.sessions.revoke(session.id, now).await?;
                tracing::warn!(session = session.id.0, "refresh token replayed: session revoked");
                return Err(RefreshError::Reused);
            }
        };
        // A revoked or expired session got no successor.
        if session.revoked || session.expires_at <= now {
            return Err(RefreshError::InvalidToken);
        }
        let user = self.users.find_by_id(session.user_id).await?.ok_or(RefreshError::InvalidToken)?;
        // Should signing fail now, the successor is stored but unseen; a retry within the grace window is handed
        // the same pair, so the client is not logged out by our fault.
        Ok(self.token_pair(&user, session.id, successor, issued_at)?)
    }

    /// Ends the session the refresh token belongs to. Idempotent for a token of an already ended session.
    pub async fn logout(&self, refresh_token: &RefreshToken) -> Result<(), LogoutError> {
        let hash = self.tokens.hash_refresh_token(refresh_token);
        let session = self.sessions.find_by_refresh_token(&hash).await?.ok_or(LogoutError::InvalidToken)?;
        self.sessions.revoke(session, self.now()).await?;
        Ok(())
    }

    /// The user behind an access token, loaded fresh: a token of a deleted user or of a revoked session fails even
    /// before it expires, and role changes take effect at once.
    pub async fn authenticate(&self, access_token: &str) -> Result<CurrentUser, AuthenticateError> {
        let claims = self.tokens.verify_access_token(access_token).map_err(|error| match error {
            TokenError::Expired => AuthenticateError::ExpiredToken,
            TokenError::Invalid => AuthenticateError::InvalidToken,
            unexpected @ TokenError::Unexpected(_) => unexpected.into(),
        })?;
        let user = self
            .users
            .find_signed_in(claims.user_id, claims.session_id, self.now())
            .await?
            .ok_or(AuthenticateError::SessionEnded)?;
        Ok(CurrentUser { user, session: claims.session_id })
    }

    /// The user to store for a sign-up: its password hashed, a fresh public id, the given roles.
    pub(crate) async fn new_user(
        &self,
        registration: Registration,
        roles: Vec<Role>,
        now: DateTime<Utc>,
    ) -> Result<NewUser, Unexpected> {
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
            created_at: now,
        })
    }

    /// A new session and its tokens; `None` if the user no longer exists.
    async fn start_session(&self, user: &User, now: DateTime<Utc>) -> Result<Option<TokenPair>, Unexpected> {
        let refresh_token = self.tokens.new_refresh_token();
        let new_session = NewSession {
            user_id: user.id,
            refresh_token_hash: self.tokens.hash_refresh_token(&refresh_token),
            created_at: now,
            expires_at: now + self.policy.refresh_token_ttl,
        };
        let Some(session) = self.sessions.create(new_session).await? else { return Ok(None) };
        self.token_pair(user, session, refresh_token, now).map(Some)
    }

    fn token_pair(
        &self,
        user: &User,
        session: SessionId,
        refresh_token: RefreshToken,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, Unexpected> {
        let access = self.tokens.issue_access_token(user.id, user.object_id, session, &user.roles, now)?;
        // `exp` is in whole seconds while `now` is not: round up, so a 15-minute token says 900, not 899.
        let expires_in = (access.expires_at - now + Duration::milliseconds(999)).num_seconds();
        Ok(TokenPair { access_token: access.token, refresh_token, expires_in })
    }
}
