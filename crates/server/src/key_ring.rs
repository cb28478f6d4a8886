//! The Ed25519 signing keys: one PEM file per key in a folder, named `<kid>.pem`. A private key (`PRIVATE KEY`) can
//! sign; a public one (`PUBLIC KEY`) only verifies, for a retired key whose tokens have not all expired yet. On a
//! first start with an empty folder a key pair is generated there.

use std::path::{Path, PathBuf};

use chrono::Utc;
use users_jwt::{Ed25519KeyPair, Ed25519PublicKey, KeyError, KeyId};

use crate::private_files;

#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    #[error("cannot read or write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Key { path: PathBuf, source: KeyError },
    #[error("the signing key {key_id:?} is not among the private keys in {folder}")]
    NoSuchSigningKey { key_id: String, folder: PathBuf },
    #[error("{0} holds public keys only: add a private key to sign with (users-server add-signing-key)")]
    NoPrivateKey(PathBuf),
    #[error("the operating system's random source failed")]
    Random,
}

/// The key that signs, and the other keys whose tokens are still accepted.
#[derive(Debug)]
pub struct KeyRing {
    pub signing: Ed25519KeyPair,
    pub also_trusted: Vec<Ed25519PublicKey>,
}

/// The keys in `folder`. `signing_key_id` names the key that signs; without it, the private key with the greatest
/// id does (generated ids start with their creation time, so that is the newest). An empty or missing folder gets a
/// new key pair, unless a signing key is named: that is a deployment mistake to report, not to paper over.
pub fn load_or_create(folder: &Path, signing_key_id: Option<&str>) -> Result<KeyRing, KeyRingError> {
    let (mut private, mut public) = read(folder)?;
    if private.is_empty() && public.is_empty() && signing_key_id.is_none() {
        let key_id = add_key(folder)?;
        tracing::info!(folder = %folder.display(), %key_id, "generated a new Ed25519 signing key");
        // Read again rather than use the new key alone: another process starting at the same moment may have
        // written one too, and then both must trust both.
        (private, public) = read(folder)?;
    }
    let position = match signing_key_id {
        Some(wanted) => private.iter().position(|key| key.key_id().as_str() == wanted),
        None => private.iter().enumerate().max_by_key(|(_, key)| key.key_id()).map(|(i, _)| i),
    };
    let Some(position) = position else {
        return Err(match signing_key_id {
            Some(key_id) => KeyRingError::NoSuchSigningKey { key_id: key_id.to_owned(), folder: folder.to_owned() },
            None => KeyRingError::NoPrivateKey(folder.to_owned()),
        });
    };
    let signing = private.remove(position);
    public.extend(private.iter().map(|key| key.public_key().clone()));
    public.sort_by(|a, b| a.key_id().cmp(b.key_id()));
    Ok(KeyRing { signing, also_trusted: public })
}

/// Generates a key pair into `folder` and returns its id: the UTC time of its making and a random suffix.
pub fn add_key(folder: &Path) -> Result<KeyId, KeyRingError> {
    let mut suffix = [0u8; 4];
    getrandom::fill(&mut suffix).map_err(|_| KeyRingError::Random)?;
    let suffix: String = suffix.iter().map(|byte| format!("{byte:02x}")).collect();
    let raw = format!("{}-{suffix}", Utc::now().format("%Y%m%dT%H%M%S%.6fZ"));
    let key_id = KeyId::parse(&raw).expect("a timestamp and hex digits make a valid key id");
    let pair = Ed25519KeyPair::generate(key_id.clone()).map_err(|_| KeyRingError::Random)?;
    let path = folder.join(format!("{key_id}.pem"));
    private_files::create(&path, &pair.to_pem()).map_err(io_error(&path))?;
    Ok(key_id)
}

type Keys = (Vec<Ed25519KeyPair>, Vec<Ed25519PublicKey>);

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> KeyRingError {
    let path = path.to_owned();
    move |source| KeyRingError::Io { path, source }
}

/// Every `*.pem` in `folder` (none if it does not exist); other files are left alone.
fn read(folder: &Path) -> Result<Keys, KeyRingError> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(error) => return Err(io_error(folder)(error)),
    };
    let (mut private, mut public) = (Vec::new(), Vec::new());
    for entry in entries {
        let path = entry.map_err(io_error(folder))?.path();
        let Some(stem) = path.file_name().and_then(|name| name.to_str()?.strip_suffix(".pem")) else { continue };
        let key_error = |source| KeyRingError::Key { path: path.clone(), source };
        let key_id = KeyId::parse(stem).map_err(key_error)?;
        let pem = std::fs::read_to_string(&path).map_err(io_error(&path))?;
        if pem.contains("PUBLIC KEY") {
            public.push(Ed25519PublicKey::from_pem(key_id, &pem).map_err(key_error)?);
        } else {
            private.push(Ed25519KeyPair::from_pem(key_id, &pem).map_err(key_error)?);
        }
    }
    Ok((private, public))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> PathBuf {
        let folder = std::env::temp_dir().join(format!("users-keys-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        folder
    }

    fn ids(keys: &[Ed25519PublicKey]) -> Vec<&str> {
        keys.iter().map(|key| key.key_id().as_str()).collect()
    }

    #[test]
    fn a_first_start_generates_a_private_key_and_later_starts_reuse_it() {
        let folder = folder("first");
        let first = load_or_create(&folder, None).unwrap();
        let second = load_or_create(&folder, None).unwrap();
        assert_eq!(first.signing.public_key(), second.signing.public_key());
        assert!(second.also_trusted.is_empty());
        let file = folder.join(format!("{}.pem", first.signing.key_id()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(std::fs::metadata(&folder).unwrap().permissions().mode() & 0o777, 0o700);
        }
        std::fs::remove_dir_all(folder).unwrap();
    }

    #[test]
    fn the_newest_or_the_named_key_signs_and_the_others_verify() {
        let folder = folder("ring");
        let retired = Ed25519KeyPair::generate(KeyId::parse("20250101T000000Z-retired").unwrap()).unwrap();
        private_files::create(&folder.join("20250101T000000Z-retired.pem"), &retired.public_key().to_pem()).unwrap();
        let older = Ed25519KeyPair::generate(KeyId::parse("20260101T000000Z-older").unwrap()).unwrap();
        private_files::create(&folder.join("20260101T000000Z-older.pem"), &older.to_pem()).unwrap();
        std::fs::write(folder.join("README"), "not a key").unwrap();
        let newest = add_key(&folder).unwrap();

        let ring = load_or_create(&folder, None).unwrap();
        assert_eq!(ring.signing.key_id(), &newest);
        assert_eq!(ids(&ring.also_trusted), ["20250101T000000Z-retired", "20260101T000000Z-older"]);

        let pinned = load_or_create(&folder, Some("20260101T000000Z-older")).unwrap();
        assert_eq!(pinned.signing.key_id().as_str(), "20260101T000000Z-older");
        assert_eq!(ids(&pinned.also_trusted), ["20250101T000000Z-retired", newest.as_str()]);

        // A public key cannot sign, and a named key must exist.
        for missing in ["20250101T000000Z-retired", "nope"] {
            let error = load_or_create(&folder, Some(missing)).unwrap_err();
            assert!(matches!(error, KeyRingError::NoSuchSigningKey { .. }), "{missing}");
        }
        std::fs::remove_dir_all(folder).unwrap();
    }

    #[test]
    fn a_named_key_in_an_empty_folder_and_a_corrupt_key_are_errors() {
        let folder = folder("errors");
        assert!(matches!(load_or_create(&folder, Some("k")), Err(KeyRingError::NoSuchSigningKey { .. })));
        assert!(!folder.exists(), "nothing is generated when a key is named");
        private_files::create(&folder.join("k.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            .unwrap();
        assert!(matches!(load_or_create(&folder, None), Err(KeyRingError::Key { .. })));
        std::fs::remove_dir_all(folder).unwrap();
    }
}
