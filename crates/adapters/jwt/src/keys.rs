//! Ed25519 signing keys and their public halves, named by a key id, in the PEM forms OpenSSL reads and writes
//! (`openssl genpkey -algorithm ed25519` makes a key this module reads; `openssl pkey -pubout` its public half).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::SigningKey;

/// The DER of an unencrypted PKCS#8 v1 Ed25519 private key is these 16 bytes and then the 32-byte seed (RFC 8410).
const PKCS8_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
/// The DER of an Ed25519 SubjectPublicKeyInfo is these 12 bytes and then the 32-byte public key (RFC 8410).
const SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
const PRIVATE_LABEL: &str = "PRIVATE KEY";
const PUBLIC_LABEL: &str = "PUBLIC KEY";

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("a key id is 1 to 64 letters, digits, '.', '_' or '-'")]
    InvalidKeyId,
    #[error("not a PEM-encoded unencrypted Ed25519 {0}")]
    NotEd25519(&'static str),
    #[error("the operating system's random source failed")]
    Random,
}

/// The `kid` of a key: short and plain, because it names a file and travels in every token header.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    pub fn parse(raw: &str) -> Result<Self, KeyError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if raw.is_empty() || raw.len() > 64 || !raw.chars().all(allowed) || raw.starts_with('.') {
            return Err(KeyError::InvalidKeyId);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An Ed25519 private key with its id. `Debug` shows the id and public key only.
#[derive(Clone)]
pub struct Ed25519KeyPair {
    key_id: KeyId,
    seed: [u8; 32],
    public: Ed25519PublicKey,
}

/// The public half of an Ed25519 key with its id: enough to verify, and to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ed25519PublicKey {
    key_id: KeyId,
    bytes: [u8; 32],
}

impl Ed25519KeyPair {
    /// A new key pair from the operating system's random source.
    pub fn generate(key_id: KeyId) -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|_| KeyError::Random)?;
        Ok(Self::from_seed(key_id, seed))
    }

    fn from_seed(key_id: KeyId, seed: [u8; 32]) -> Self {
        let bytes = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
        Self { public: Ed25519PublicKey { key_id: key_id.clone(), bytes }, key_id, seed }
    }

    /// Reads a `-----BEGIN PRIVATE KEY-----` PKCS#8 Ed25519 key.
    pub fn from_pem(key_id: KeyId, pem: &str) -> Result<Self, KeyError> {
        let error = || KeyError::NotEd25519("private key");
        let der = pem_body(pem, PRIVATE_LABEL).ok_or_else(error)?;
        let seed = der.strip_prefix(PKCS8_PREFIX.as_slice()).ok_or_else(error)?;
        Ok(Self::from_seed(key_id, seed.try_into().map_err(|_| error())?))
    }

    pub fn to_pem(&self) -> String {
        pem(PRIVATE_LABEL, &self.pkcs8_der())
    }

    /// What `jsonwebtoken` signs with.
    pub(crate) fn pkcs8_der(&self) -> Vec<u8> {
        [PKCS8_PREFIX.as_slice(), &self.seed].concat()
    }

    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    pub fn public_key(&self) -> &Ed25519PublicKey {
        &self.public
    }
}

impl std::fmt::Debug for Ed25519KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ed25519KeyPair").field("public", &self.public).finish_non_exhaustive()
    }
}

impl Ed25519PublicKey {
    /// Reads a `-----BEGIN PUBLIC KEY-----` SubjectPublicKeyInfo Ed25519 key.
    pub fn from_pem(key_id: KeyId, pem: &str) -> Result<Self, KeyError> {
        let error = || KeyError::NotEd25519("public key");
        let der = pem_body(pem, PUBLIC_LABEL).ok_or_else(error)?;
        let bytes = der.strip_prefix(SPKI_PREFIX.as_slice()).ok_or_else(error)?;
        Ok(Self { key_id, bytes: bytes.try_into().map_err(|_| error())? })
    }

    pub fn to_pem(&self) -> String {
        pem(PUBLIC_LABEL, &[SPKI_PREFIX.as_slice(), &self.bytes].concat())
    }

    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The key as a JWK's `x`: base64url without padding.
    pub fn x(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.bytes)
    }
}

/// The decoded body of the one PEM block labelled `label`, if `text` is exactly that.
fn pem_body(text: &str, label: &str) -> Option<Vec<u8>> {
    let body = text
        .trim()
        .strip_prefix(&format!("-----BEGIN {label}-----"))?
        .strip_suffix(&format!("-----END {label}-----"))?;
    let joined: String = body.split_whitespace().collect();
    STANDARD.decode(joined).ok()
}

fn pem(label: &str, der: &[u8]) -> String {
    let encoded = STANDARD.encode(der);
    let lines: Vec<&str> =
        encoded.as_bytes().chunks(64).map(|line| std::str::from_utf8(line).expect("base64 is ASCII")).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032 section 7.1, test 1: this seed has this public key.
    const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    /// The same key as `openssl pkey` prints it.
    const OPENSSL_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n";
    const OPENSSL_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----\n";

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
    }

    fn kid(raw: &str) -> KeyId {
        KeyId::parse(raw).unwrap()
    }

    #[test]
    fn reads_and_writes_the_openssl_forms() {
        let pair = Ed25519KeyPair::from_pem(kid("k1"), OPENSSL_PRIVATE).unwrap();
        assert_eq!(pair.seed.to_vec(), hex(SEED));
        assert_eq!(pair.public_key().bytes.to_vec(), hex(PUBLIC));
        assert_eq!(pair.to_pem(), OPENSSL_PRIVATE);
        assert_eq!(pair.public_key().to_pem(), OPENSSL_PUBLIC);
        assert_eq!(Ed25519PublicKey::from_pem(kid("k1"), OPENSSL_PUBLIC).unwrap(), *pair.public_key());
    }

    #[test]
    fn refuses_other_blocks_and_keys() {
        let private = KeyError::NotEd25519("private key");
        assert_eq!(Ed25519KeyPair::from_pem(kid("k"), OPENSSL_PUBLIC).unwrap_err(), private);
        assert_eq!(Ed25519KeyPair::from_pem(kid("k"), "").unwrap_err(), private);
        // An X25519 key: same length, another algorithm identifier (1.3.101.110).
        let x25519 = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VuBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----";
        assert_eq!(Ed25519KeyPair::from_pem(kid("k"), x25519).unwrap_err(), private);
        assert!(Ed25519PublicKey::from_pem(kid("k"), OPENSSL_PRIVATE).is_err());
    }

    #[test]
    fn generated_keys_differ_and_round_trip() {
        let (first, second) =
            (Ed25519KeyPair::generate(kid("a")).unwrap(), Ed25519KeyPair::generate(kid("b")).unwrap());
        assert_ne!(first.public_key().bytes, second.public_key().bytes);
        let reread = Ed25519KeyPair::from_pem(kid("a"), &first.to_pem()).unwrap();
        assert_eq!(reread.public_key(), first.public_key());
        assert!(!format!("{first:?}").contains(&STANDARD.encode(first.seed)));
    }

    #[test]
    fn key_ids_are_short_and_plain() {
        for good in ["2026-11-24.a1b2c3d4", "k", "primary_key"] {
            assert!(KeyId::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "../etc/passwd", "a/b", "key id", ".hidden", &"k".repeat(65)] {
            assert_eq!(KeyId::parse(bad), Err(KeyError::InvalidKeyId), "{bad}");
        }
    }
}
