//! `TokenIssuer` on jsonwebtoken: HS256-signed access tokens (JWTs), and opaque random refresh tokens that are
//! stored only as their SHA-256.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use users_domain::{ObjectId, Role, UserId};
use users_ports::{AccessClaims, AccessToken, RefreshToken, RefreshTokenHash, SessionId, TokenError, TokenIssuer};

/// The `iss` of every token, checked on the way back in.
pub const ISSUER: &str = "users-service";
/// HS256 is only as strong as its key: shorter secrets are refused.
pub const MIN_SECRET_BYTES: usize = 32;

/// The claims as they travel: standard `sub`/`iat`/`exp`/`iss`, plus the numeric id, the session and the roles.
#[derive(Serialize, Deserialize)]
struct Claims {
    /// The user's public ObjectId.
    sub: String,
    uid: i64,
    sid: i64,
    roles: Vec<Role>,
    iss: String,
    iat: i64,
    exp: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum JwtConfigError {
    #[error("the JWT secret must be at least {MIN_SECRET_BYTES} bytes long")]
    SecretTooShort,
    #[error("the access-token lifetime must be positive")]
    NonPositiveTtl,
}

pub struct JwtIssuer {
    encoding_key: EncodingKey,
    decoding_key: DecodingKey,
    validation: Validation,
    access_token_ttl: Duration,
}

impl std::fmt::Debug for JwtIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtIssuer").field("access_token_ttl", &self.access_token_ttl).finish_non_exhaustive()
    }
}

impl JwtIssuer {
    /// Signs and verifies with HMAC-SHA256 under `secret`; only HS256 tokens are accepted, so `alg: none` and
    /// algorithm substitution fail.
    pub fn hs256(secret: &[u8], access_token_ttl: Duration) -> Result<Self, JwtConfigError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(JwtConfigError::SecretTooShort);
        }
        if access_token_ttl <= Duration::zero() {
            return Err(JwtConfigError::NonPositiveTtl);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "sub"]);
        validation.leeway = 5;
        Ok(Self {
            encoding_key: EncodingKey::from_secret(secret),
            decoding_key: DecodingKey::from_secret(secret),
            validation,
            access_token_ttl,
        })
    }
}

fn timestamp(seconds: i64) -> Result<DateTime<Utc>, TokenError> {
    DateTime::from_timestamp(seconds, 0).ok_or(TokenError::Invalid)
}

impl TokenIssuer for JwtIssuer {
    fn issue_access_token(
        &self,
        user_id: UserId,
        object_id: ObjectId,
        session_id: SessionId,
        roles: &[Role],
        now: DateTime<Utc>,
    ) -> Result<AccessToken, TokenError> {
        let expires_at = now + self.access_token_ttl;
        let claims = Claims {
            sub: object_id.to_string(),
            uid: user_id.0,
            sid: session_id.0,
            roles: roles.to_vec(),
            iss: ISSUER.to_owned(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding_key)
            .map_err(|error| TokenError::Unexpected(error.to_string()))?;
        Ok(AccessToken { token, expires_at: timestamp(claims.exp)? })
    }

    fn verify_access_token(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding_key, &self.validation)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?
            .claims;
        Ok(AccessClaims {
            user_id: UserId(claims.uid),
            object_id: ObjectId::parse(&claims.sub).map_err(|_| TokenError::Invalid)?,
            session_id: SessionId(claims.sid),
            roles: claims.roles,
            issued_at: timestamp(claims.iat)?,
            expires_at: timestamp(claims.exp)?,
        })
    }

    fn new_refresh_token(&self) -> RefreshToken {
        let mut bytes = [0u8; 32];
        // Without the OS random source no token can be made safely; there is no sensible way on.
        getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
        RefreshToken::new(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A plain SHA-256 suffices: the token has 256 bits of entropy, so there is nothing to brute-force.
    fn hash_refresh_token(&self, token: &RefreshToken) -> RefreshTokenHash {
        RefreshTokenHash(URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_str().as_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn issuer() -> JwtIssuer {
        JwtIssuer::hs256(SECRET, Duration::minutes(15)).unwrap()
    }

    fn issue(issuer: &JwtIssuer, now: DateTime<Utc>) -> AccessToken {
        let object_id = ObjectId::parse("507f1f77bcf86cd799439011").unwrap();
        issuer.issue_access_token(UserId(42), object_id, SessionId(7), &[Role::Admin, Role::User], now).unwrap()
    }

    #[test]
    fn a_token_round_trips_its_claims() {
        let issuer = issuer();
        let now = Utc::now();
        let token = issue(&issuer, now);
        let claims = issuer.verify_access_token(&token.token).unwrap();
        assert_eq!(claims.user_id, UserId(42));
        assert_eq!(claims.object_id.to_string(), "507f1f77bcf86cd799439011");
        assert_eq!(claims.session_id, SessionId(7));
        assert_eq!(claims.roles, vec![Role::Admin, Role::User]);
        assert_eq!(claims.expires_at.timestamp(), (now + Duration::minutes(15)).timestamp());
        assert_eq!(token.expires_at, claims.expires_at);
    }

    #[test]
    fn an_expired_token_is_reported_as_expired() {
        let issuer = issuer();
        let token = issue(&issuer, Utc::now() - Duration::minutes(16));
        assert!(matches!(issuer.verify_access_token(&token.token), Err(TokenError::Expired)));
    }

    #[test]
    fn a_token_signed_with_another_secret_is_invalid() {
        let other = JwtIssuer::hs256(b"another secret of at least 32 bytes!", Duration::minutes(15)).unwrap();
        let token = issue(&other, Utc::now());
        assert!(matches!(issuer().verify_access_token(&token.token), Err(TokenError::Invalid)));
    }

    #[test]
    fn a_tampered_or_unsigned_token_is_invalid() {
        let issuer = issuer();
        let token = issue(&issuer, Utc::now()).token;
        let mut parts: Vec<&str> = token.split('.').collect();
        // Same claims, "alg": "none", no signature.
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        parts[0] = &none_header;
        let unsigned = format!("{}.{}.", parts[0], parts[1]);
        assert!(matches!(issuer.verify_access_token(&unsigned), Err(TokenError::Invalid)));
        let tampered = format!("{}x", token);
        assert!(matches!(issuer.verify_access_token(&tampered), Err(TokenError::Invalid)));
        assert!(matches!(issuer.verify_access_token("not a token"), Err(TokenError::Invalid)));
    }

    #[test]
    fn refuses_short_secrets_and_non_positive_lifetimes() {
        assert!(matches!(JwtIssuer::hs256(b"short", Duration::minutes(15)), Err(JwtConfigError::SecretTooShort)));
        assert!(matches!(JwtIssuer::hs256(SECRET, Duration::zero()), Err(JwtConfigError::NonPositiveTtl)));
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed_deterministically() {
        let issuer = issuer();
        let (first, second) = (issuer.new_refresh_token(), issuer.new_refresh_token());
        assert_ne!(first, second);
        assert_eq!(first.as_str().len(), 43, "32 bytes in unpadded base64url");
        assert_eq!(issuer.hash_refresh_token(&first), issuer.hash_refresh_token(&first));
        assert_ne!(issuer.hash_refresh_token(&first), issuer.hash_refresh_token(&second));
        assert_ne!(issuer.hash_refresh_token(&first).0, first.as_str());
    }
}
