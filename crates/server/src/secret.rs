//! Secrets kept in files (the HS256 signing secret, the refresh-token secret): taken from the settings, or generated
//! once and kept in a file so tokens outlive restarts.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::private_files;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read or write the secret file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("the secret file {0} is not valid base64")]
    Corrupt(String),
    #[error("the operating system's random source failed: {0}")]
    Random(getrandom::Error),
}

/// `configured` if given; otherwise the secret in `file`, creating it (mode 0600) with 64 random bytes if absent.
pub fn load_or_create(configured: Option<&str>, file: &Path) -> Result<Vec<u8>, SecretError> {
    if let Some(secret) = configured {
        return Ok(secret.as_bytes().to_vec());
    }
    let io = |source| SecretError::Io { path: file.display().to_string(), source };
    match std::fs::read_to_string(file) {
        Ok(encoded) => decode(file, &encoded),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = vec![0u8; 64];
            getrandom::fill(&mut secret).map_err(SecretError::Random)?;
            match private_files::create(file, &format!("{}\n", STANDARD.encode(&secret))) {
                Ok(()) => {
                    tracing::info!(file = %file.display(), "generated a new secret");
                    Ok(secret)
                }
                // Another instance starting on the same folder wrote it first: everyone uses that one.
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => written_by_another(file),
                Err(error) => Err(io(error)),
            }
        }
        Err(error) => Err(io(error)),
    }
}

fn decode(file: &Path, encoded: &str) -> Result<Vec<u8>, SecretError> {
    STANDARD.decode(encoded.trim()).map_err(|_| SecretError::Corrupt(file.display().to_string()))
}

/// The secret another process is writing into `file`: read once its line is complete (it writes one line at once,
/// right after creating the file).
fn written_by_another(file: &Path) -> Result<Vec<u8>, SecretError> {
    let io = |source| SecretError::Io { path: file.display().to_string(), source };
    for _ in 0..50 {
        let encoded = std::fs::read_to_string(file).map_err(io)?;
        if encoded.ends_with('\n') {
            return decode(file, &encoded);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(SecretError::Corrupt(file.display().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_secret_wins() {
        let file = std::env::temp_dir().join("users-secret-test-unused");
        assert_eq!(load_or_create(Some("configured"), &file).unwrap(), b"configured");
        assert!(!file.exists());
    }

    #[test]
    fn instances_starting_together_on_one_folder_share_one_generated_secret() {
        let folder = std::env::temp_dir().join(format!("users-secret-race-{}", std::process::id()));
        let file = folder.join("totp.secret");
        let starts: Vec<_> = (0..8)
            .map(|_| {
                let file = file.clone();
                std::thread::spawn(move || load_or_create(None, &file).unwrap())
            })
            .collect();
        let secrets: Vec<Vec<u8>> = starts.into_iter().map(|start| start.join().unwrap()).collect();
        assert!(secrets.iter().all(|secret| *secret == secrets[0]), "one secret for all");
        assert_eq!(load_or_create(None, &file).unwrap(), secrets[0]);
        std::fs::remove_dir_all(folder).unwrap();
    }

    #[test]
    fn a_generated_secret_is_kept_and_reused() {
        let folder = std::env::temp_dir().join(format!("users-secret-test-{}", std::process::id()));
        let file = folder.join("nested").join("jwt-secret");
        let first = load_or_create(None, &file).unwrap();
        let second = load_or_create(None, &file).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(first, second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::remove_dir_all(folder).unwrap();
    }
}
