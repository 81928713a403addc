//! Privacy on Unix: modes (0700 folders, 0600 files) and the owner's uid.

use crate::error::{Error, Result};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

/// The mode a new file is created with, before any content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    mode: u32,
}

impl Access {
    pub const PRIVATE: Access = Access { mode: 0o600 };
}

/// A secret is written 0600 whatever the old mode was (group and other bits dropped); plain
/// text keeps the old file's mode (a new file gets 0644).
pub fn replacement_access(secret: bool, old: Option<&std::fs::Metadata>) -> Access {
    let old_mode = old.map(|m| m.permissions().mode() & 0o7777);
    let mode = match (secret, old_mode) {
        (true, Some(mode)) => mode & 0o700,
        (true, None) => 0o600,
        (false, Some(mode)) => mode,
        (false, None) => 0o644,
    };
    Access { mode }
}

pub fn temp_file_in(
    dir: &Path,
    prefix: &str,
    access: Access,
) -> std::io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(prefix)
        .permissions(std::fs::Permissions::from_mode(access.mode))
        .tempfile_in(dir)
}

pub fn temp_dir_in(base: &Path, prefix: &str) -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(base)
}

/// Creates `dir` (and its parents) 0700.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Readable by every user: a CA bundle that clients run by others (a service) may need.
pub fn make_public(path: &Path) -> std::io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
}

pub fn check_owner(meta: &std::fs::Metadata, path: &Path, what: &str) -> Result<()> {
    let me = own_uid();
    if meta.uid() != me {
        return Err(Error::failure(format!(
            "the {what} {} belongs to user id {}, not to you (uid {me}); refusing to use it",
            path.display(),
            meta.uid()
        ))
        .hint("point RDSIAM_HELPER_CACHE_DIR at a folder of your own"));
    }
    Ok(())
}

/// Nobody else may write in it (the owner is checked by `check_owner`). `tighten`: a folder
/// merely readable by others is made 0700 rather than refused.
pub fn check_dir(dir: &Path, meta: &std::fs::Metadata, tighten: bool) -> Result<()> {
    if meta.mode() & 0o022 != 0 {
        return Err(Error::failure(format!(
            "the cache folder {} is writable by other users (mode {:o}); refusing to use it",
            dir.display(),
            meta.mode() & 0o7777
        ))
        .hint(format!(
            "run `chmod 700 {}`, or set RDSIAM_HELPER_CACHE_DIR to a private folder",
            dir.display()
        )));
    }
    if tighten && meta.mode() & 0o077 != 0 {
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

/// Whether nobody but the owner may read or write the file (we write ours 0600).
pub fn is_private_file(meta: &std::fs::Metadata, _path: &Path) -> bool {
    meta.mode() & 0o077 == 0
}

/// The uid this process runs as.
pub fn own_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Ours and 0600 (or stricter).
pub fn owned_and_private(meta: &std::fs::Metadata, _path: &Path) -> bool {
    meta.uid() == own_uid() && meta.mode() & 0o077 == 0
}

/// Who may use the file, for an error: "it is mode 644, owner uid 1000".
pub fn describe(meta: &std::fs::Metadata, _path: &Path) -> String {
    format!(
        "it is mode {:o}, owner uid {}",
        meta.mode() & 0o777,
        meta.uid()
    )
}

/// How to make a file private, for a hint.
pub fn make_private_hint(path: &Path) -> String {
    format!("chmod 600 {} (and chown it to yourself)", path.display())
}
