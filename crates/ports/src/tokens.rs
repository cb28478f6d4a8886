//! `TokenIssuer`: signs and verifies access tokens, and makes and hashes opaque refresh tokens.

use chrono::{DateTime, Utc};
use users_domain::{ObjectId, Role, UserId};

use crate::SessionId;

/// What an access token asserts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessClaims {
    pub user_id: UserId,
    pub object_id: ObjectId,
    pub session_id: SessionId,
    pub roles: Vec<Role>,
    /// When the password was entered for the token's session (`auth_time`); `None` in tokens that predate it.
    pub authenticated_at: Option<DateTime<Utc>>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Whom an access token is for: the user, their roles, and the session with when its password was entered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenSubject {
    pub user_id: UserId,
    pub object_id: ObjectId,
    pub session_id: SessionId,
    pub roles: Vec<Role>,
    pub authenticated_at: DateTime<Utc>,
}

/// A signed access token and when it stops working.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// A refresh token as handed to a client. Only its hash is ever stored; `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

/// The stored form of a refresh token.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RefreshTokenHash(pub String);

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token has expired")]
    Expired,
    #[error("token is invalid")]
    Invalid,
    #[error("token signing failed: {0}")]
    Unexpected(String),
}

#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait TokenIssuer: Send + Sync + 'static {
    /// Signs an access token for `claims` (its expiry is the issuer's policy, reported back).
    fn issue_access_token(&self, subject: &TokenSubject, now: DateTime<Utc>) -> Result<AccessToken, TokenError>;

    /// Checks signature and algorithm, and expiry as of `now` (the caller's clock), and returns what the token asserts.
    fn verify_access_token(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, TokenError>;

    /// A new unguessable refresh token, to start a session with.
    fn new_refresh_token(&self) -> RefreshToken;

    /// The token that replaces `used` when it is refreshed. The same `used` always gives the same successor, so two
    /// tabs refreshing one token together can both be handed the one successor; without the issuer's key it cannot
    /// be computed, so knowing an old token does not reveal its successor.
    fn successor_refresh_token(&self, used: &RefreshToken) -> RefreshToken;

    /// The one-way hash under which a refresh token is stored and looked up.
    fn hash_refresh_token(&self, token: &RefreshToken) -> RefreshTokenHash;

    /// The public keys that verify our access tokens, for other services; empty when tokens are signed with a
    /// shared secret, which is never published.
    fn published_keys(&self) -> Vec<PublishedKey>;
}

/// A public verification key, as a JSON Web Key of type OKP (RFC 8037): an Ed25519 key for `EdDSA` signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedKey {
    /// The `kid` that tokens signed with the matching private key carry in their header.
    pub key_id: String,
    /// The raw 32-byte public key, base64url without padding (the JWK's `x`).
    pub public_key: String,
}

impl RefreshToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}
