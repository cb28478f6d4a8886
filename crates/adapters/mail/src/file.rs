//! `FileMailer`: each message as an RFC 5322 `.eml` file in a folder, for development and for a newcomer who has no
//! mail server yet (the link can be read from the file, or the file opened in a mail client).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use users_ports::{Mail, MailError, MailSender};

use crate::Composer;

/// Writes messages into `dir` as `{unix_millis}-{random}.eml`, so the files sort by the time they were written.
#[derive(Clone, Debug)]
pub struct FileMailer {
    dir: PathBuf,
    composer: Composer,
}

impl FileMailer {
    /// The folder is created when the first message is written, and again if it is removed meanwhile.
    pub fn new(dir: impl Into<PathBuf>, composer: Composer) -> Self {
        Self { dir: dir.into(), composer }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Names the transport for the startup log.
    pub fn describe(&self) -> String {
        format!("files in {}", self.dir.display())
    }
}

impl MailSender for FileMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let message = self.composer.compose(mail).map_err(|cause| MailError::Rejected(cause.into()))?;
        let bytes = message.formatted();
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || write_whole(&dir, &bytes))
            .await
            .map_err(|cause| MailError::Unavailable(cause.into()))?
            .map_err(|cause| MailError::Unavailable(cause.into()))
    }
}

/// Writes under a hidden temporary name, flushes to disk and renames: a reader sees the whole file or none, and a
/// message counted as sent survives a crash.
fn write_whole(dir: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    let random = getrandom::u64().map_err(std::io::Error::other)?;
    let name = format!("{millis:013}-{random:016x}.eml");
    let partial = dir.join(format!(".{name}.partial"));
    let written = std::fs::File::create_new(&partial).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&partial, dir.join(&name))) {
        Ok(()) => Ok(()),
        Err(cause) => {
            // Best effort: a leftover hidden `.partial` file is harmless, but it is clutter.
            let _ = std::fs::remove_file(&partial);
            Err(cause)
        }
    }
}
