//! `SecretSealer` with XChaCha20-Poly1305: TOTP secrets encrypted at rest under a key derived (HKDF-SHA256) from the
//! configured sealing secret, with the previous secrets' keys kept for opening only, so that the secret can be
//! rotated without locking anyone out (a secret sealed with an old key is sealed again with the current one at its
//! next use).
//!
//! Sealed form: `v1.<key id>.<base64url(nonce || ciphertext)>`. The key id (eight hex digits of the SHA-256 of the
//! derived key) says which key opens it; it is the associated data, so a ciphertext moved under another key id does
//! not open. The nonce is 24 random bytes for each seal: XChaCha20's nonces are long enough to draw at random
//! without ever repeating in practice.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::{Digest as _, Sha256};
use users_ports::{OpenedSecret, SealedSecret, SecondFactorError, SecretSealer, TotpSecret};

/// The shortest sealing secret accepted: 256 bits, the key size, so the derivation adds no weakness of its own.
pub const MIN_SEALING_SECRET_BYTES: usize = 32;

/// HKDF's `info`: keys for this use only, even from a secret an operator also uses elsewhere; `v1` leaves room for a
/// derivation of another kind later.
const DERIVATION_INFO: &[u8] = b"users-service totp secret sealing v1";
const FORMAT: &str = "v1";
const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;
const TAG_BYTES: usize = 16;

/// A key derived from one sealing secret; only its id is ever shown.
#[derive(Clone)]
struct SealingKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.id)
    }
}

fn derive_key(secret: &[u8]) -> [u8; KEY_BYTES] {
    let mut key = [0; KEY_BYTES];
    // No salt: the secret is already uniformly random key material (RFC 5869 allows none), and a salt would have to
    // be configured alike on every instance anyway.
    Hkdf::<Sha256>::new(None, secret)
        .expand(DERIVATION_INFO, &mut key)
        .expect("32 bytes is well within HKDF-SHA256's output limit");
    key
}

/// The id of a derived key: of the key, not of the secret, so that the id is no fingerprint of the configured value.
fn key_id(key: &[u8; KEY_BYTES]) -> String {
    Sha256::digest(key).iter().take(4).map(|byte| format!("{byte:02x}")).collect()
}

/// The keys that seal and open TOTP secrets: the current one (sealing, and opening what it sealed) and previous ones
/// (opening only). `Debug` shows their ids, never key material.
#[derive(Clone)]
pub struct SealingKeys {
    current: SealingKey,
    previous: Vec<SealingKey>,
}

/// A sealing configuration that cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealingKeyError {
    #[error("the {which} TOTP sealing secret has {bytes} bytes; at least {MIN_SEALING_SECRET_BYTES} are needed")]
    TooShort { which: String, bytes: usize },
    /// Two different secrets whose keys have the same id (a one-in-four-billion chance): the id could not tell which
    /// key sealed a secret.
    #[error("two different TOTP sealing secrets have the same key id {0}; replace one of them")]
    KeyIdClash(String),
}

impl SealingKeys {
    /// Keys from the current sealing secret and the previous ones, most recent first (each at least
    /// [`MIN_SEALING_SECRET_BYTES`] bytes). A previous secret repeated, or equal to the current one, is ignored.
    pub fn new(
        current: impl AsRef<[u8]>,
        previous: impl IntoIterator<Item = impl AsRef<[u8]>>,
    ) -> Result<Self, SealingKeyError> {
        let mut derived: Vec<([u8; KEY_BYTES], String)> = Vec::new();
        let secrets = std::iter::once(("current".to_owned(), current.as_ref().to_vec())).chain(
            previous
                .into_iter()
                .enumerate()
                .map(|(at, secret)| (format!("previous #{}", at + 1), secret.as_ref().to_vec())),
        );
        for (which, secret) in secrets {
            if secret.len() < MIN_SEALING_SECRET_BYTES {
                return Err(SealingKeyError::TooShort { which, bytes: secret.len() });
            }
            let key = derive_key(&secret);
            let id = key_id(&key);
            match derived.iter().find(|(_, other)| *other == id) {
                Some((other, _)) if *other == key => continue,
                Some(_) => return Err(SealingKeyError::KeyIdClash(id)),
                None => derived.push((key, id)),
            }
        }
        let mut keys =
            derived.into_iter().map(|(key, id)| SealingKey { id, cipher: XChaCha20Poly1305::new(&key.into()) });
        let current = keys.next().expect("the current secret is always derived first");
        Ok(Self { current, previous: keys.collect() })
    }

    /// The id new seals carry (for the startup log: which key is in use).
    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    /// The ids of the keys kept for opening only.
    pub fn previous_key_ids(&self) -> Vec<&str> {
        self.previous.iter().map(|key| key.id.as_str()).collect()
    }
}

impl std::fmt::Debug for SealingKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealingKeys").field("current", &self.current).field("previous", &self.previous).finish()
    }
}

/// Text read from a row, as shown in an error: at most a key id's length, so a garbled row cannot fill the logs.
fn shown(text: &str) -> String {
    format!("{:?}", text.chars().take(16).collect::<String>())
}

fn unreadable(message: String) -> SecondFactorError {
    SecondFactorError::Unreadable(message)
}

impl SecretSealer for SealingKeys {
    fn seal(&self, secret: &TotpSecret) -> Result<SealedSecret, SecondFactorError> {
        let mut nonce = [0; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|error| SecondFactorError::Random(error.to_string()))?;
        let key = &self.current;
        let payload = Payload { msg: secret.as_bytes(), aad: key.id.as_bytes() };
        // Encryption fails only for a message beyond 256 GiB.
        let ciphertext = key
            .cipher
            .encrypt(&XNonce::from(nonce), payload)
            .map_err(|_| unreadable(format!("the secret cannot be sealed with key {}", key.id)))?;
        let mut sealed = Vec::with_capacity(NONCE_BYTES + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(SealedSecret(format!("{FORMAT}.{}.{}", key.id, URL_SAFE_NO_PAD.encode(sealed))))
    }

    fn open(&self, sealed: &SealedSecret) -> Result<OpenedSecret, SecondFactorError> {
        let mut parts = sealed.0.splitn(3, '.');
        let (Some(format), Some(id), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(unreadable(format!("not a sealed secret ({FORMAT}.<key id>.<data>)")));
        };
        if format != FORMAT {
            return Err(unreadable(format!("unknown sealing format {}", shown(format))));
        }
        let (key, old) = if id == self.current.id {
            (&self.current, false)
        } else {
            let Some(key) = self.previous.iter().find(|key| key.id == id) else {
                return Err(unreadable(format!(
                    "it was sealed with key {}, which is neither the current sealing secret's key nor a previous one's",
                    shown(id)
                )));
            };
            (key, true)
        };
        let data = URL_SAFE_NO_PAD
            .decode(data)
            .map_err(|_| unreadable(format!("the data sealed with key {} is not base64url", key.id)))?;
        let Some((nonce, ciphertext)) =
            data.split_first_chunk::<NONCE_BYTES>().filter(|(_, ciphertext)| ciphertext.len() >= TAG_BYTES)
        else {
            return Err(unreadable(format!("the data sealed with key {} is truncated", key.id)));
        };
        let secret =
            key.cipher.decrypt(&XNonce::from(*nonce), Payload { msg: ciphertext, aad: key.id.as_bytes() }).map_err(
                |_| unreadable(format!("the data sealed with key {} fails its authentication (altered)", key.id)),
            )?;
        Ok(OpenedSecret { secret: TotpSecret::new(secret), sealed_with_old_key: old })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CURRENT: &[u8; 32] = b"current sealing secret, 32 bytes";
    const OLD: &[u8; 40] = b"the previous sealing secret, of 40 bytes";
    const NONE: [&[u8]; 0] = [];

    fn totp_secret() -> TotpSecret {
        TotpSecret::new(b"12345678901234567890".to_vec())
    }

    fn keys() -> SealingKeys {
        SealingKeys::new(CURRENT, NONE).unwrap()
    }

    fn unreadable_message(result: Result<OpenedSecret, SecondFactorError>) -> String {
        match result {
            Err(SecondFactorError::Unreadable(message)) => message,
            other => panic!("expected Unreadable, got {other:?}"),
        }
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// The sealed text with its data decoded, changed by `change`, and encoded again.
    fn with_data_changed(sealed: &SealedSecret, change: impl FnOnce(&mut Vec<u8>)) -> SealedSecret {
        let (head, data) = sealed.0.rsplit_once('.').unwrap();
        let mut data = URL_SAFE_NO_PAD.decode(data).unwrap();
        change(&mut data);
        SealedSecret(format!("{head}.{}", URL_SAFE_NO_PAD.encode(data)))
    }

    #[test]
    fn given_a_secret_when_sealed_and_opened_then_it_is_the_same_secret_from_the_current_key() {
        let keys = keys();
        let sealed = keys.seal(&totp_secret()).unwrap();

        let parts: Vec<&str> = sealed.0.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], "v1");
        assert_eq!(parts[1], keys.current_key_id());
        assert_eq!(parts[1].len(), 8);
        assert!(parts[1].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(), NONCE_BYTES + 20 + TAG_BYTES);
        assert!(!sealed.0.contains("12345678901234567890"));

        let opened = keys.open(&sealed).unwrap();
        assert_eq!(opened.secret, totp_secret());
        assert!(!opened.sealed_with_old_key);
    }

    #[test]
    fn given_another_instance_with_the_same_secret_when_it_opens_then_it_reads_the_secret() {
        let sealed = keys().seal(&totp_secret()).unwrap();
        assert_eq!(keys().open(&sealed).unwrap().secret, totp_secret());
    }

    #[test]
    fn given_one_secret_sealed_twice_then_the_two_differ() {
        let keys = keys();
        let first = keys.seal(&totp_secret()).unwrap();
        let second = keys.seal(&totp_secret()).unwrap();
        assert_ne!(first, second);
        assert_eq!(keys.open(&first).unwrap().secret, keys.open(&second).unwrap().secret);
    }

    #[test]
    fn given_a_tampered_ciphertext_nonce_or_length_when_opened_then_it_is_unreadable() {
        let keys = keys();
        let sealed = keys.seal(&totp_secret()).unwrap();
        let tampered = [
            with_data_changed(&sealed, |data| data[NONCE_BYTES] ^= 1),
            with_data_changed(&sealed, |data| data[0] ^= 0x80),
            with_data_changed(&sealed, |data| *data.last_mut().unwrap() ^= 1),
            with_data_changed(&sealed, |data| data.truncate(NONCE_BYTES + TAG_BYTES - 1)),
            with_data_changed(&sealed, |data| data.push(0)),
        ];
        for sealed in tampered {
            let message = unreadable_message(keys.open(&sealed));
            assert!(message.contains(keys.current_key_id()), "{message}");
            assert!(!message.contains("1234567890"), "{message}");
        }
        let not_base64 = SealedSecret(format!("v1.{}.***", keys.current_key_id()));
        unreadable_message(keys.open(&not_base64));
    }

    #[test]
    fn given_a_tampered_key_id_when_opened_then_it_is_unreadable() {
        let keys = SealingKeys::new(CURRENT, [OLD]).unwrap();
        let sealed = keys.seal(&totp_secret()).unwrap();
        let old_id = keys.previous_key_ids()[0].to_owned();
        // Moved under the other key this instance has: that key's tag check fails.
        let moved = SealedSecret(sealed.0.replacen(keys.current_key_id(), &old_id, 1));
        let message = unreadable_message(keys.open(&moved));
        assert!(message.contains(&old_id), "{message}");
        // Moved under an id no key has.
        let unknown = SealedSecret(sealed.0.replacen(keys.current_key_id(), "00000000", 1));
        assert!(unreadable_message(keys.open(&unknown)).contains("00000000"));
    }

    #[test]
    fn given_a_secret_sealed_under_a_previous_key_when_opened_then_it_opens_and_says_so() {
        let before_rotation = SealingKeys::new(OLD, NONE).unwrap();
        let sealed = before_rotation.seal(&totp_secret()).unwrap();

        let after_rotation = SealingKeys::new(CURRENT, [OLD]).unwrap();
        let opened = after_rotation.open(&sealed).unwrap();
        assert_eq!(opened.secret, totp_secret());
        assert!(opened.sealed_with_old_key);

        let resealed = after_rotation.seal(&opened.secret).unwrap();
        assert!(resealed.0.starts_with(&format!("v1.{}.", after_rotation.current_key_id())));
        assert!(!after_rotation.open(&resealed).unwrap().sealed_with_old_key);
    }

    #[test]
    fn given_a_key_this_instance_does_not_have_when_opened_then_it_is_unreadable_naming_the_key() {
        let sealed = SealingKeys::new(OLD, NONE).unwrap().seal(&totp_secret()).unwrap();
        let old_id = SealingKeys::new(OLD, NONE).unwrap().current_key_id().to_owned();
        let message = unreadable_message(keys().open(&sealed));
        assert!(message.contains(&old_id), "{message}");
    }

    #[test]
    fn given_text_that_is_not_a_sealed_secret_when_opened_then_it_is_unreadable() {
        let keys = keys();
        let id = keys.current_key_id().to_owned();
        for text in ["", "garbage", "v1.only-two", &format!("v2.{id}.AAAA"), &format!("v1.{id}.")] {
            unreadable_message(keys.open(&SealedSecret(text.to_owned())));
        }
    }

    #[test]
    fn given_a_short_secret_then_the_keys_are_refused() {
        assert_eq!(
            SealingKeys::new(&CURRENT[..31], NONE).unwrap_err(),
            SealingKeyError::TooShort { which: "current".into(), bytes: 31 }
        );
        assert_eq!(
            SealingKeys::new(CURRENT, [&OLD[..], &b"short"[..]]).unwrap_err(),
            SealingKeyError::TooShort { which: "previous #2".into(), bytes: 5 }
        );
    }

    #[test]
    fn given_the_current_secret_among_the_previous_ones_then_it_is_listed_once() {
        let keys = SealingKeys::new(CURRENT, [&CURRENT[..], &OLD[..], &OLD[..]]).unwrap();
        assert_eq!(keys.previous_key_ids(), vec![SealingKeys::new(OLD, NONE).unwrap().current_key_id()]);
    }

    #[test]
    fn given_a_secret_then_the_key_id_is_of_the_derived_key_not_of_the_secret() {
        let derived = derive_key(CURRENT);
        assert_ne!(&derived, CURRENT);
        assert_eq!(keys().current_key_id(), &hex(&Sha256::digest(derived))[..8]);
        assert_ne!(keys().current_key_id(), &hex(&Sha256::digest(CURRENT))[..8]);
    }

    #[test]
    fn given_keys_when_debug_printed_then_only_their_ids_show() {
        let keys = SealingKeys::new(CURRENT, [OLD]).unwrap();
        let printed = format!("{keys:?} {keys:#?}");
        assert!(printed.contains(keys.current_key_id()), "{printed}");
        assert!(printed.contains(keys.previous_key_ids()[0]), "{printed}");
        for secret in [&CURRENT[..], &OLD[..]] {
            let key = derive_key(secret);
            for material in [String::from_utf8_lossy(secret).into_owned(), hex(secret), hex(&key), format!("{key:?}")] {
                assert!(!printed.contains(&material), "{printed}");
            }
            // Not even a fragment of the key's bytes as a list.
            assert!(!printed.contains(&format!("{}, {}", key[0], key[1])), "{printed}");
        }
    }
}
