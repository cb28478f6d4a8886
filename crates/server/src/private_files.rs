//! Files only this service's user may read (signing secrets and keys), in folders only it may enter.

use std::io::Write;
use std::path::Path;

/// Creates `folder` and its parents (mode 0700 where new) if missing.
pub fn create_folder(folder: &Path) -> std::io::Result<()> {
    if folder.as_os_str().is_empty() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(folder)
}

/// Writes `contents` to a new file (mode 0600), creating its folder; fails if the file exists, so a file another
/// process wrote first is never overwritten.
pub fn create(file: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(folder) = file.parent() {
        create_folder(folder)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(file)?.write_all(contents.as_bytes())
}
