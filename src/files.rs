//! Writing a user's files: a `.bak` of the old one, a temp file with its final permissions set
//! before any content, fsync, and an atomic rename. Never a half-written file.

use crate::error::{Error, Result};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrecy {
    /// Keeps the old file's mode; a new file gets 0644.
    Plain,
    /// Holds a token: 0600 whatever the old mode was.
    Secret,
}

/// Replaces `path` with `contents`. Returns the backup's path when there was an old file.
pub fn replace(path: &Path, contents: &[u8], secrecy: Secrecy) -> Result<Option<PathBuf>> {
    // A dotfile manager's symlink to an existing file stays a symlink: write through to its
    // target. (A dangling link is replaced by the new file.)
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create the folder", &dir, e))?;
    let old = match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(Error::io("read", &path, err)),
    };
    let old_mode = std::fs::metadata(&path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777);
    let mode = match (secrecy, old_mode) {
        (Secrecy::Secret, Some(mode)) => mode & 0o700,
        (Secrecy::Secret, None) => 0o600,
        (Secrecy::Plain, Some(mode)) => mode,
        (Secrecy::Plain, None) => 0o644,
    };
    // The backup is written like the file itself: a `.bak` that is a symlink planted in a
    // cloned repository is replaced, never followed to overwrite what it points at.
    let backup = match old {
        Some(old) => {
            let backup = with_suffix(&path, ".bak");
            write_atomically(&dir, &backup, &old, mode)?;
            Some(backup)
        }
        None => None,
    };
    write_atomically(&dir, &path, contents, mode)?;
    Ok(backup)
}

/// A temp file in `dir` created with `mode` before any content, fsync, rename onto `path`.
fn write_atomically(dir: &Path, path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let mut temp = tempfile::Builder::new()
        .prefix(".rdsiam-helper-")
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .map_err(|e| Error::io("create a temporary file in", dir, e))?;
    temp.write_all(contents)
        .map_err(|e| Error::io("write", temp.path(), e))?;
    temp.as_file()
        .sync_all()
        .map_err(|e| Error::io("write", temp.path(), e))?;
    temp.persist(path)
        .map_err(|e| Error::io("replace", path, e.error))?;
    Ok(())
}

/// A user's text file, or "" when there is none yet. Anything but UTF-8 text is refused, so
/// a merge never rewrites a file it could not read whole.
pub fn read_or_empty(path: &Path) -> Result<String> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
            Error::failure(format!(
                "{} is not UTF-8 text; it was left unchanged",
                path.display()
            ))
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(err) => Err(Error::io("read", path, err)),
    }
}

pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}
