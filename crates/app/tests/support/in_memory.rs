//! The service on the in-memory store, with a hasher, a token issuer and a clock simple enough to read at a glance:
//! for tests that follow a user through several use cases, where mocks would only restate the implementation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use users_app::{Adapters, SessionPolicy, Store, UserService};
use users_domain::Password;
use users_memory_store::{
    MemoryAuditLog, MemoryOneTimeTokens, MemorySecondFactors, MemorySessions, MemoryStore, MemoryUsers,
};
use users_ports::{
    AccessClaims, AccessToken, Clock, PasswordHash, PasswordHashError, PasswordHasher, PublishedKey, RefreshToken,
    RefreshTokenHash, TokenError, TokenIssuer, TokenSubject,
};
use users_totp::{SealingKeys, TotpCodes};

use super::{ACCESS_TTL_SECS, now};

/// The adapters of a service under test: the in-memory store and the fakes below.
#[derive(Debug)]
pub struct InMemory;

impl Adapters for InMemory {
    type Users = MemoryUsers;
    type Sessions = MemorySessions;
    type OneTimeTokens = MemoryOneTimeTokens;
    type Audit = MemoryAuditLog;
    type Hasher = PlainHasher;
    type Tokens = PlainTokens;
    type Clock = TestClock;
    type SecondFactors = MemorySecondFactors;
    type OneTimePasswords = TotpCodes;
    type Sealer = SealingKeys;
}

/// A service on a fresh, empty store, and the clock it reads (starting at [`now`]), for the test to move.
pub fn in_memory_service(policy: SessionPolicy) -> (UserService<InMemory>, TestClock) {
    let store = MemoryStore::new();
    let clock = TestClock::default();
    let tokens = PlainTokens { issued: Arc::default(), refresh_tokens: Arc::default() };
    let repositories = Store {
        users: store.users(),
        sessions: store.sessions(),
        one_time_tokens: store.one_time_tokens(),
        audit: store.audit_log(),
        second_factors: store.second_factors(),
    };
    let service = UserService::new(repositories, PlainHasher, tokens, totp(), clock.clone(), policy);
    (service, clock)
}

/// The real TOTP arithmetic, and sealing under a fixed test key.
pub fn totp() -> users_app::Totp<InMemory> {
    let codes = TotpCodes::new("Users").expect("a valid issuer");
    let sealer = SealingKeys::new([7u8; 32], Vec::<[u8; 32]>::new()).expect("a long enough key");
    users_app::Totp { codes, sealer }
}

/// A clock that stands still until the test moves it; a wait moves it too, at once.
#[derive(Clone, Debug)]
pub struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl Default for TestClock {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(now())))
    }
}

impl TestClock {
    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }

    async fn sleep(&self, duration: Duration) {
        self.advance(duration);
    }
}

/// Not a hash: the password marked as such, so that a test can see which password a hash is of. For tests only.
#[derive(Debug)]
pub struct PlainHasher;

fn plain(password: &Password) -> PasswordHash {
    PasswordHash::new(format!("plain:{}", password.expose()))
}

impl PasswordHasher for PlainHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, PasswordHashError> {
        Ok(plain(password))
    }

    async fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<bool, PasswordHashError> {
        let foreign = hash.as_str().strip_prefix("foreign:").is_some_and(|of| of == password.expose());
        Ok(foreign || plain(password) == *hash)
    }

    async fn verify_dummy(&self, _password: &Password) -> Result<(), PasswordHashError> {
        Ok(())
    }

    fn check_hash(&self, hash: &PasswordHash) -> Result<(), PasswordHashError> {
        if hash.as_str().starts_with("plain:") || hash.as_str().starts_with("foreign:") {
            Ok(())
        } else {
            Err(PasswordHashError::MalformedHash)
        }
    }

    /// `foreign:<password>` stands for another system's hash of the password.
    fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        hash.as_str().starts_with("foreign:")
    }
}

/// Access tokens name their user, session and time of issue, and the issuer remembers their claims (so the same
/// claims give the same token, as a signature would); refresh tokens are numbered, and a successor is its
/// predecessor with a `+`.
#[derive(Debug)]
pub struct PlainTokens {
    issued: Arc<Mutex<HashMap<String, AccessClaims>>>,
    refresh_tokens: Arc<AtomicU64>,
}

impl TokenIssuer for PlainTokens {
    fn issue_access_token(&self, subject: &TokenSubject, now: DateTime<Utc>) -> Result<AccessToken, TokenError> {
        let token = format!("access:{}:{}:{}", subject.user_id, subject.session_id.0, now.timestamp_micros());
        let expires_at = now + Duration::seconds(ACCESS_TTL_SECS);
        let claims = AccessClaims {
            user_id: subject.user_id,
            object_id: subject.object_id,
            session_id: subject.session_id,
            roles: subject.roles.clone(),
            authenticated_at: Some(subject.authenticated_at),
            issued_at: now,
            expires_at,
        };
        self.issued.lock().unwrap().insert(token.clone(), claims);
        Ok(AccessToken { token, expires_at })
    }

    fn verify_access_token(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, TokenError> {
        let claims = self.issued.lock().unwrap().get(token).cloned().ok_or(TokenError::Invalid)?;
        if claims.expires_at <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    fn new_refresh_token(&self) -> RefreshToken {
        RefreshToken::new(format!("refresh-{}", self.refresh_tokens.fetch_add(1, Ordering::Relaxed) + 1))
    }

    fn successor_refresh_token(&self, used: &RefreshToken) -> RefreshToken {
        RefreshToken::new(format!("{}+", used.as_str()))
    }

    fn hash_refresh_token(&self, token: &RefreshToken) -> RefreshTokenHash {
        RefreshTokenHash(format!("hash:{}", token.as_str()))
    }

    fn published_keys(&self) -> Vec<PublishedKey> {
        Vec::new()
    }
}
