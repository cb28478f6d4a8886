//! `TokenIssuer` on jsonwebtoken: access tokens (JWTs) signed with Ed25519 keys named by `kid` (the public halves
//! published as a JWKS) or with one shared HS256 secret, and opaque random refresh tokens stored only as SHA-256.

mod keys;
mod session_seal;

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use session_seal::SessionSeal;
use sha2::{Digest, Sha256};
use users_domain::{ObjectId, Role, UserId};
use users_ports::{
    AccessClaims, AccessToken, PublishedKey, RefreshToken, RefreshTokenHash, TokenError, TokenIssuer, TokenSubject,
};

pub use keys::{Ed25519KeyPair, Ed25519PublicKey, KeyError, KeyId};

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
    /// The session, sealed (see [`SessionSeal`]).
    sid: String,
    roles: Vec<Role>,
    /// When the password was entered for the session (OpenID Connect's `auth_time`); absent in older tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auth_time: Option<i64>,
    iss: String,
    iat: i64,
    exp: i64,
}

/// The secret successor refresh tokens are derived with, and the sessions access tokens name are sealed with. It is
/// its own secret, kept apart from the signing keys, so that every instance derives the same successor, and opens
/// the sessions another sealed, whichever key each signs with during a key rotation.
#[derive(Clone)]
pub struct RefreshSecret {
    /// Keys the derivation of successors.
    rotation: [u8; 32],
    /// Keys the session seal: derived from the material apart from `rotation`, so that no successor (whose input
    /// is text a client sends) can ever equal it.
    session_seal: [u8; 32],
}

impl RefreshSecret {
    /// At least [`MIN_SECRET_BYTES`] of key material (it is condensed to 32 bytes with a fixed purpose).
    pub fn new(material: &[u8]) -> Result<Self, JwtConfigError> {
        if material.len() < MIN_SECRET_BYTES {
            return Err(JwtConfigError::RefreshSecretTooShort);
        }
        let rotation = hmac_sha256(material, ROTATION_PURPOSE);
        Ok(Self { rotation, session_seal: hmac_sha256(material, SESSION_SEAL_PURPOSE) })
    }
}

impl std::fmt::Debug for RefreshSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshSecret(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JwtConfigError {
    #[error("the JWT secret must be at least {MIN_SECRET_BYTES} bytes long")]
    SecretTooShort,
    #[error("the refresh-token secret must be at least {MIN_SECRET_BYTES} bytes long")]
    RefreshSecretTooShort,
    #[error("the access-token lifetime must be positive")]
    NonPositiveTtl,
    #[error("two verification keys share the key id {0}")]
    DuplicateKeyId(KeyId),
    #[error("the signing key cannot be used: {0}")]
    UnusableKey(String),
}

/// Which keys a token may have been signed with. A token is checked only against the key its header names, and only
/// under that key's algorithm, so `alg: none`, HS256-with-a-public-key and unknown `kid`s all fail.
enum Verifiers {
    Secret(DecodingKey),
    ByKeyId(HashMap<String, DecodingKey>),
}

pub struct JwtIssuer {
    header: Header,
    encoding_key: EncodingKey,
    verifiers: Verifiers,
    validation: Validation,
    published: Vec<PublishedKey>,
    access_token_ttl: Duration,
    /// Keys the derivation of successor refresh tokens; never used to sign.
    refresh_secret: RefreshSecret,
    /// Seals the session each token names, under a key derived from the refresh secret's material.
    session_seal: SessionSeal,
    /// Tokens whose signature has been checked, with what they assert. A client presents the same access token for
    /// up to 15 minutes, and an Ed25519 verification costs tens of microseconds; only genuine tokens get in, and
    /// the cache is emptied when full, so an attacker cannot grow it.
    verified: Mutex<HashMap<Box<str>, AccessClaims>>,
}

/// How many verified tokens are remembered at most (a few MiB).
const VERIFIED_CAPACITY: usize = 10_000;

impl std::fmt::Debug for JwtIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtIssuer")
            .field("algorithm", &self.header.alg)
            .field("signing_key_id", &self.header.kid)
            .field("access_token_ttl", &self.access_token_ttl)
            .finish_non_exhaustive()
    }
}

fn validation(algorithm: Algorithm) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "sub"]);
    // `exp` is required but checked by `verify_access_token` against the caller's clock (the `Clock` port), not the
    // system's, so that a remembered token and a fresh one expire alike.
    validation.validate_exp = false;
    validation
}

/// HMAC-SHA256 of `message` under `key`. Used both to condense the refresh secret's material (with a fixed purpose
/// as the message, so the material serves nothing else twice) and to derive successors.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

const ROTATION_PURPOSE: &[u8] = b"users-service refresh-token successor v1";
const SESSION_SEAL_PURPOSE: &[u8] = b"users-service access-token session v1";

fn check_ttl(access_token_ttl: Duration) -> Result<(), JwtConfigError> {
    if access_token_ttl <= Duration::zero() {
        return Err(JwtConfigError::NonPositiveTtl);
    }
    Ok(())
}

impl JwtIssuer {
    /// Signs and verifies with HMAC-SHA256 under `secret`; only HS256 tokens are accepted. Nothing is published:
    /// whoever can verify such a token can also forge one.
    pub fn hs256(
        secret: &[u8],
        access_token_ttl: Duration,
        refresh_secret: RefreshSecret,
    ) -> Result<Self, JwtConfigError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(JwtConfigError::SecretTooShort);
        }
        check_ttl(access_token_ttl)?;
        Ok(Self {
            header: Header::new(Algorithm::HS256),
            encoding_key: EncodingKey::from_secret(secret),
            verifiers: Verifiers::Secret(DecodingKey::from_secret(secret)),
            validation: validation(Algorithm::HS256),
            published: Vec::new(),
            access_token_ttl,
            session_seal: SessionSeal::new(&refresh_secret.session_seal),
            refresh_secret,
            verified: Mutex::default(),
        })
    }

    /// Signs with `signing` (its id in every header) and accepts EdDSA tokens from it or from any of `also_trusted`:
    /// during a rotation the previous keys go there, so tokens they signed keep working until they expire.
    pub fn ed25519(
        signing: &Ed25519KeyPair,
        also_trusted: &[Ed25519PublicKey],
        access_token_ttl: Duration,
        refresh_secret: RefreshSecret,
    ) -> Result<Self, JwtConfigError> {
        check_ttl(access_token_ttl)?;
        let mut by_key_id = HashMap::new();
        let mut published = Vec::new();
        for public in std::iter::once(signing.public_key()).chain(also_trusted) {
            let decoding_key = DecodingKey::from_ed_components(&public.x())
                .map_err(|error| JwtConfigError::UnusableKey(error.to_string()))?;
            if by_key_id.insert(public.key_id().to_string(), decoding_key).is_some() {
                return Err(JwtConfigError::DuplicateKeyId(public.key_id().clone()));
            }
            published.push(PublishedKey { key_id: public.key_id().to_string(), public_key: public.x() });
        }
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(signing.key_id().to_string());
        let issuer = Self {
            header,
            encoding_key: EncodingKey::from_ed_der(&signing.pkcs8_der()),
            verifiers: Verifiers::ByKeyId(by_key_id),
            validation: validation(Algorithm::EdDSA),
            published,
            access_token_ttl,
            session_seal: SessionSeal::new(&refresh_secret.session_seal),
            refresh_secret,
            verified: Mutex::default(),
        };
        Ok(issuer)
    }

    /// Checks the token's header, signature, issuer and expiry, and reads its claims.
    fn verify_signed(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let key = self.verifier_for(&header).ok_or(TokenError::Invalid)?;
        let claims = jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?
            .claims;
        let user_id = UserId(claims.uid);
        Ok(AccessClaims {
            user_id,
            object_id: ObjectId::parse(&claims.sub).map_err(|_| TokenError::Invalid)?,
            session_id: self.session_seal.open(&claims.sid, user_id).ok_or(TokenError::Invalid)?,
            roles: claims.roles,
            authenticated_at: claims.auth_time.map(timestamp).transpose()?,
            issued_at: timestamp(claims.iat)?,
            expires_at: timestamp(claims.exp)?,
        })
    }

    /// The key that can check `header`'s token, if any: the header must name our algorithm, and a known `kid`.
    fn verifier_for(&self, header: &Header) -> Option<&DecodingKey> {
        if header.alg != self.header.alg {
            return None;
        }
        match &self.verifiers {
            Verifiers::Secret(key) => Some(key),
            Verifiers::ByKeyId(keys) => keys.get(header.kid.as_deref()?),
        }
    }
}

fn timestamp(seconds: i64) -> Result<DateTime<Utc>, TokenError> {
    DateTime::from_timestamp(seconds, 0).ok_or(TokenError::Invalid)
}

impl TokenIssuer for JwtIssuer {
    fn issue_access_token(&self, subject: &TokenSubject, now: DateTime<Utc>) -> Result<AccessToken, TokenError> {
        let expires_at = now + self.access_token_ttl;
        let claims = Claims {
            sub: subject.object_id.to_string(),
            uid: subject.user_id.0,
            sid: self.session_seal.seal(subject.session_id, subject.user_id),
            roles: subject.roles.clone(),
            auth_time: Some(subject.authenticated_at.timestamp()),
            iss: ISSUER.to_owned(),
            iat: now.timestamp(),
            // Rounded up to the whole second, so that a token lives at least its lifetime.
            exp: expires_at.timestamp() + i64::from(expires_at.timestamp_subsec_nanos() > 0),
        };
        let token = jsonwebtoken::encode(&self.header, &claims, &self.encoding_key)
            .map_err(|error| TokenError::Unexpected(error.to_string()))?;
        Ok(AccessToken { token, expires_at: timestamp(claims.exp)? })
    }

    fn verify_access_token(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, TokenError> {
        let cached = self.verified.lock().ok().and_then(|verified| verified.get(token).cloned());
        let claims = match cached {
            Some(claims) => claims,
            None => {
                let claims = self.verify_signed(token)?;
                if let Ok(mut verified) = self.verified.lock() {
                    if verified.len() >= VERIFIED_CAPACITY {
                        verified.clear();
                    }
                    verified.insert(token.into(), claims.clone());
                }
                claims
            }
        };
        // Expiry is judged here, for remembered and fresh tokens alike, by the caller's clock, to the second: no
        // leeway: instances keep their clocks in step, and a client refreshes on the 401.
        if claims.expires_at <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    fn new_refresh_token(&self) -> RefreshToken {
        let mut bytes = [0u8; 32];
        // Without the OS random source no token can be made safely; there is no sensible way on.
        getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
        RefreshToken::new(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// HMAC-SHA256 of the used token under the rotation key: deterministic, and unpredictable without the key.
    fn successor_refresh_token(&self, used: &RefreshToken) -> RefreshToken {
        RefreshToken::new(URL_SAFE_NO_PAD.encode(hmac_sha256(&self.refresh_secret.rotation, used.as_str().as_bytes())))
    }

    /// A plain SHA-256 suffices: the token has 256 bits of entropy, so there is nothing to brute-force.
    fn hash_refresh_token(&self, token: &RefreshToken) -> RefreshTokenHash {
        RefreshTokenHash(URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_str().as_bytes())))
    }

    fn published_keys(&self) -> Vec<PublishedKey> {
        self.published.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use users_ports::SessionId;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn refresh_secret() -> RefreshSecret {
        RefreshSecret::new(b"a refresh secret of at least 32 bytes").unwrap()
    }

    fn issuer() -> JwtIssuer {
        JwtIssuer::hs256(SECRET, Duration::minutes(15), refresh_secret()).unwrap()
    }

    fn subject(user: i64, session: i64, roles: &[Role], authenticated_at: DateTime<Utc>) -> TokenSubject {
        let object_id = ObjectId::parse("507f1f77bcf86cd799439011").unwrap();
        let roles = roles.to_vec();
        TokenSubject { user_id: UserId(user), object_id, session_id: SessionId(session), roles, authenticated_at }
    }

    fn issue(issuer: &JwtIssuer, now: DateTime<Utc>) -> AccessToken {
        issuer.issue_access_token(&subject(42, 7, &[Role::Admin, Role::User], now - Duration::minutes(3)), now).unwrap()
    }

    #[test]
    fn a_token_round_trips_its_claims() {
        let issuer = issuer();
        let now = Utc::now();
        let token = issue(&issuer, now);
        let claims = issuer.verify_access_token(&token.token, Utc::now()).unwrap();
        assert_eq!(claims.user_id, UserId(42));
        assert_eq!(claims.object_id.to_string(), "507f1f77bcf86cd799439011");
        assert_eq!(claims.session_id, SessionId(7));
        assert_eq!(claims.roles, vec![Role::Admin, Role::User]);
        assert_eq!(claims.authenticated_at.map(|at| at.timestamp()), Some((now - Duration::minutes(3)).timestamp()));
        let lifetime = claims.expires_at - now;
        assert!(lifetime >= Duration::minutes(15) && lifetime < Duration::minutes(15) + Duration::seconds(1));
        assert_eq!(token.expires_at, claims.expires_at);
    }

    #[test]
    fn a_token_names_its_session_without_the_stores_number() {
        // Given tokens of sessions 7 and 8 of one user...
        let issuer = issuer();
        let now = Utc::now();
        let [first, second] = [7, 8].map(|session| {
            let token = issuer.issue_access_token(&subject(42, session, &[], now), now).unwrap().token;
            claims_of(&token)["sid"].as_str().expect("sid is a string").to_owned()
        });
        // ...then neither shows its number, nor that they are neighbours, and each still names its session.
        for (sid, number) in [(&first, 7i64), (&second, 8)] {
            let sealed = URL_SAFE_NO_PAD.decode(sid).expect("base64url");
            assert_eq!(sealed.len(), 16);
            assert!(!sealed.windows(8).any(|window| window == number.to_be_bytes()), "{sid} shows {number}");
        }
        assert_ne!(first[..4], second[..4]);
        let token = issuer.issue_access_token(&subject(42, 8, &[], now), now).unwrap().token;
        assert_eq!(issuer.verify_access_token(&token, now).unwrap().session_id, SessionId(8));
    }

    #[test]
    fn a_genuine_signature_over_a_session_number_is_refused() {
        // Given a token signed with the service's own secret, naming its session by number as tokens once did
        let now = Utc::now().timestamp();
        let claims = serde_json::json!({
            "sub": "507f1f77bcf86cd799439011", "uid": 42, "sid": 7, "roles": [], "auth_time": now,
            "iss": ISSUER, "iat": now, "exp": now + 900,
        });
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SECRET));

        // Then it is not accepted: only a sealed session names one
        let verified = issuer().verify_access_token(&token.unwrap(), Utc::now());
        assert!(matches!(verified, Err(TokenError::Invalid)), "{verified:?}");
    }

    fn claims_of(token: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn a_token_expires_at_its_exp_to_the_second() {
        let issuer = issuer();
        let now = Utc::now();
        let token = issue(&issuer, now);
        assert!(issuer.verify_access_token(&token.token, token.expires_at - Duration::seconds(1)).is_ok());
        assert!(matches!(issuer.verify_access_token(&token.token, token.expires_at), Err(TokenError::Expired)));
    }

    #[test]
    fn expiry_is_judged_by_the_callers_clock_not_the_systems() {
        let remembering = issuer();
        // Given a token issued two hours ago by the caller's clock, its 15 minutes long past by the system's...
        let issued = Utc::now() - Duration::hours(2);
        let token = issue(&remembering, issued).token;
        // ...when the caller's clock says a minute has passed, then it is valid, and once 16 have, expired, whether
        // it is verified afresh or remembered.
        assert!(remembering.verify_access_token(&token, issued + Duration::minutes(1)).is_ok());
        assert!(matches!(
            remembering.verify_access_token(&token, issued + Duration::minutes(16)),
            Err(TokenError::Expired)
        ));
        let fresh = issuer(); // the same key, nothing remembered
        assert!(matches!(fresh.verify_access_token(&token, issued + Duration::minutes(16)), Err(TokenError::Expired)));
    }

    #[test]
    fn a_remembered_token_is_still_checked_for_expiry() {
        let issuer = issuer();
        let token = issue(&issuer, Utc::now());
        let claims = issuer.verify_access_token(&token.token, Utc::now()).unwrap();
        assert_eq!(issuer.verified.lock().unwrap().len(), 1, "remembered");
        // As if the 15 minutes had passed since it was remembered.
        let expired = AccessClaims { expires_at: Utc::now() - Duration::seconds(6), ..claims };
        issuer.verified.lock().unwrap().insert(token.token.as_str().into(), expired);
        assert!(matches!(issuer.verify_access_token(&token.token, Utc::now()), Err(TokenError::Expired)));
    }

    #[test]
    fn only_genuine_tokens_are_remembered_and_the_memory_is_bounded() {
        let issuer = issuer();
        assert!(issuer.verify_access_token("not a token", Utc::now()).is_err());
        let forged = issue(
            &JwtIssuer::hs256(b"another secret of at least 32 bytes!", Duration::minutes(15), refresh_secret())
                .unwrap(),
            Utc::now(),
        );
        assert!(issuer.verify_access_token(&forged.token, Utc::now()).is_err());
        assert!(issuer.verified.lock().unwrap().is_empty());
        let now = Utc::now();
        for user in 0..(VERIFIED_CAPACITY as i64 + 1) {
            let token = issuer.issue_access_token(&subject(user, 1, &[], now), now).unwrap();
            issuer.verify_access_token(&token.token, Utc::now()).unwrap();
        }
        assert!(issuer.verified.lock().unwrap().len() <= VERIFIED_CAPACITY);
    }

    #[test]
    fn an_expired_token_is_reported_as_expired() {
        let issuer = issuer();
        let token = issue(&issuer, Utc::now() - Duration::minutes(16));
        assert!(matches!(issuer.verify_access_token(&token.token, Utc::now()), Err(TokenError::Expired)));
    }

    #[test]
    fn a_token_signed_with_another_secret_is_invalid() {
        let other =
            JwtIssuer::hs256(b"another secret of at least 32 bytes!", Duration::minutes(15), refresh_secret()).unwrap();
        let token = issue(&other, Utc::now());
        assert!(matches!(issuer().verify_access_token(&token.token, Utc::now()), Err(TokenError::Invalid)));
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
        assert!(matches!(issuer.verify_access_token(&unsigned, Utc::now()), Err(TokenError::Invalid)));
        let tampered = format!("{}x", token);
        assert!(matches!(issuer.verify_access_token(&tampered, Utc::now()), Err(TokenError::Invalid)));
        assert!(matches!(issuer.verify_access_token("not a token", Utc::now()), Err(TokenError::Invalid)));
    }

    #[test]
    fn refuses_short_secrets_and_non_positive_lifetimes() {
        assert!(matches!(
            JwtIssuer::hs256(b"short", Duration::minutes(15), refresh_secret()),
            Err(JwtConfigError::SecretTooShort)
        ));
        assert!(matches!(
            JwtIssuer::hs256(SECRET, Duration::zero(), refresh_secret()),
            Err(JwtConfigError::NonPositiveTtl)
        ));
        assert!(matches!(RefreshSecret::new(b"short"), Err(JwtConfigError::RefreshSecretTooShort)));
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

    fn key_pair(kid: &str) -> Ed25519KeyPair {
        Ed25519KeyPair::generate(KeyId::parse(kid).unwrap()).unwrap()
    }

    fn ed25519(signing: &Ed25519KeyPair, also_trusted: &[&Ed25519KeyPair]) -> JwtIssuer {
        let trusted: Vec<Ed25519PublicKey> = also_trusted.iter().map(|pair| pair.public_key().clone()).collect();
        JwtIssuer::ed25519(signing, &trusted, Duration::minutes(15), refresh_secret()).unwrap()
    }

    /// `token` with its header replaced by `header` and its signature by `signature`.
    fn reassembled(token: &str, header: &str, signature: &str) -> String {
        let payload = token.split('.').nth(1).unwrap();
        format!("{}.{payload}.{signature}", URL_SAFE_NO_PAD.encode(header))
    }

    fn header_of(token: &str) -> serde_json::Value {
        let header = token.split('.').next().unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
    }

    #[test]
    fn eddsa_tokens_name_their_key_and_round_trip() {
        let current = key_pair("2026-11-24.a");
        let issuer = ed25519(&current, &[]);
        let token = issue(&issuer, Utc::now());
        let header = header_of(&token.token);
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["kid"], "2026-11-24.a");
        let claims = issuer.verify_access_token(&token.token, Utc::now()).unwrap();
        assert_eq!(claims.user_id, UserId(42));
        assert_eq!(claims.roles, vec![Role::Admin, Role::User]);
    }

    #[test]
    fn rotation_keeps_tokens_of_trusted_previous_keys_and_drops_removed_ones() {
        let (old, new) = (key_pair("old"), key_pair("new"));
        let before = issue(&ed25519(&old, &[]), Utc::now());
        let rotated = ed25519(&new, &[&old]);
        assert!(
            rotated.verify_access_token(&before.token, Utc::now()).is_ok(),
            "a token of the previous key still works"
        );
        let after = issue(&rotated, Utc::now());
        assert_eq!(header_of(&after.token)["kid"], "new");
        assert!(rotated.verify_access_token(&after.token, Utc::now()).is_ok());
        let published: Vec<String> = rotated.published_keys().into_iter().map(|key| key.key_id).collect();
        assert_eq!(published, ["new", "old"]);
        let retired = ed25519(&new, &[]);
        assert!(matches!(retired.verify_access_token(&before.token, Utc::now()), Err(TokenError::Invalid)));
        assert!(retired.verify_access_token(&after.token, Utc::now()).is_ok());
    }

    #[test]
    fn unknown_missing_or_borrowed_key_ids_are_refused() {
        let ours = key_pair("ours");
        let issuer = ed25519(&ours, &[]);
        let token = issue(&issuer, Utc::now()).token;
        let signature = token.split('.').nth(2).unwrap();
        let unknown = reassembled(&token, r#"{"alg":"EdDSA","typ":"JWT","kid":"other"}"#, signature);
        assert!(matches!(issuer.verify_access_token(&unknown, Utc::now()), Err(TokenError::Invalid)));
        let missing = reassembled(&token, r#"{"alg":"EdDSA","typ":"JWT"}"#, signature);
        assert!(matches!(issuer.verify_access_token(&missing, Utc::now()), Err(TokenError::Invalid)));
        // Another key's token that claims our kid: the signature does not check out under our key.
        let impostor = JwtIssuer::ed25519(
            &Ed25519KeyPair::generate(KeyId::parse("ours").unwrap()).unwrap(),
            &[],
            Duration::minutes(15),
            refresh_secret(),
        )
        .unwrap();
        let forged = issue(&impostor, Utc::now()).token;
        assert!(matches!(issuer.verify_access_token(&forged, Utc::now()), Err(TokenError::Invalid)));
    }

    #[test]
    fn alg_none_and_algorithm_confusion_are_refused() {
        let ours = key_pair("ours");
        let issuer = ed25519(&ours, &[]);
        let token = issue(&issuer, Utc::now()).token;
        let unsigned = reassembled(&token, r#"{"alg":"none","typ":"JWT","kid":"ours"}"#, "");
        assert!(matches!(issuer.verify_access_token(&unsigned, Utc::now()), Err(TokenError::Invalid)));
        // The classic confusion: HS256 keyed with the published public key, which an attacker knows. Tried with the
        // key both as raw bytes and as the JWK's text.
        let public = URL_SAFE_NO_PAD.decode(ours.public_key().x()).unwrap();
        for secret in [public.clone(), ours.public_key().x().into_bytes(), ours.public_key().to_pem().into_bytes()] {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some("ours".to_owned());
            let claims: Claims = jsonwebtoken::decode(
                &token,
                &DecodingKey::from_ed_components(&ours.public_key().x()).unwrap(),
                &validation(Algorithm::EdDSA),
            )
            .unwrap()
            .claims;
            let confused = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret)).unwrap();
            assert!(matches!(issuer.verify_access_token(&confused, Utc::now()), Err(TokenError::Invalid)));
        }
        // And the other way: an EdDSA-signed token offered to an HS256 issuer.
        assert!(matches!(self::issuer().verify_access_token(&token, Utc::now()), Err(TokenError::Invalid)));
    }

    #[test]
    fn a_successor_is_the_same_for_one_token_and_depends_on_the_refresh_secret_alone() {
        let ours = key_pair("ours");
        let issuer = ed25519(&ours, &[]);
        let used = issuer.new_refresh_token();
        let successor = issuer.successor_refresh_token(&used);
        assert_eq!(successor, issuer.successor_refresh_token(&used), "deterministic");
        assert_eq!(successor.as_str().len(), 43);
        assert_ne!(successor, used);
        assert_ne!(successor, issuer.successor_refresh_token(&issuer.new_refresh_token()));
        // Instances in the middle of a key rotation sign with different keys but share the refresh secret.
        let rotated = ed25519(&key_pair("next"), &[&ours]);
        assert_eq!(successor, rotated.successor_refresh_token(&used), "the signing key plays no part");
        assert_eq!(successor, self::issuer().successor_refresh_token(&used), "nor does the algorithm");
        let other_secret = RefreshSecret::new(b"another refresh secret, 32 bytes long").unwrap();
        let stranger = JwtIssuer::ed25519(&ours, &[], Duration::minutes(15), other_secret).unwrap();
        assert_ne!(successor, stranger.successor_refresh_token(&used), "unpredictable without the secret");
    }

    #[test]
    fn a_shared_secret_is_never_published_and_key_ids_are_unique() {
        assert!(issuer().published_keys().is_empty());
        let ours = key_pair("same");
        let twin = key_pair("same");
        let duplicate =
            JwtIssuer::ed25519(&ours, &[twin.public_key().clone()], Duration::minutes(15), refresh_secret());
        assert!(matches!(duplicate, Err(JwtConfigError::DuplicateKeyId(_))));
        let published = ed25519(&ours, &[]).published_keys();
        assert_eq!(published, [PublishedKey { key_id: "same".to_owned(), public_key: ours.public_key().x() }]);
    }
}
