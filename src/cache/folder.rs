//! The cache folder itself: where it is, that it is ours and private, and the one way each
//! kind of file in it is read, written and named. Nothing here knows what a file holds.

use crate::error::{Error, Result};
use crate::platform::{files, privacy};
use crate::report;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A file signed or resolved "in the future" means the clock moved backwards; a little skew
/// is normal.
pub(super) const CLOCK_SKEW: Duration = Duration::from_secs(60);
/// A refresh resolves credentials (an SSO call, a credential_process) and signs: seconds at
/// worst. A lock held far longer belongs to a hung process; waiting forever would hang the GUI
/// client that called us.
const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(20);
pub const LOCK_WAIT_VARIABLE: &str = "RDSIAM_HELPER_LOCK_TIMEOUT";

/// The file stem for a key made of `parts`: 32 hex digits of a SHA-256 over the parts, each
/// ended by a NUL so that no two lists of parts run together. `Cache::clear` recognises
/// exactly these stems.
pub(super) fn stem(parts: &[&str]) -> String {
    let mut stem = Stem::default();
    for part in parts {
        stem.part(part);
    }
    stem.finish()
}

/// `stem`, fed part by part as each renders (no string is built for a typed part).
#[derive(Default)]
pub(super) struct Stem(Sha256);

impl Stem {
    pub(super) fn part(&mut self, part: &(impl std::fmt::Display + ?Sized)) {
        use std::fmt::Write as _;
        // Writing into a hash cannot fail.
        let _ = write!(self, "{part}");
        self.0.update([0]);
    }

    pub(super) fn finish(self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digest = self.0.finalize();
        let mut out = String::with_capacity(32);
        for b in digest.iter().take(16) {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        out
    }
}

impl std::fmt::Write for Stem {
    fn write_str(&mut self, piece: &str) -> std::fmt::Result {
        self.0.update(piece.as_bytes());
        Ok(())
    }
}

#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    /// False when the folder cannot be created (a read-only parent): tokens are then signed
    /// fresh each time, with a warning. A folder that exists but cannot be written is found
    /// out at the lock file or the write, with the same outcome.
    writable: bool,
}

/// `$RDSIAM_HELPER_CACHE_DIR`, else the platform's (`platform::paths::cache_dir`).
pub fn default_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("RDSIAM_HELPER_CACHE_DIR").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    crate::platform::paths::cache_dir().ok_or_else(|| {
        Error::failure("cannot find a cache folder (no HOME?)")
            .hint("set HOME, or RDSIAM_HELPER_CACHE_DIR")
    })
}

/// Whether `dir` is the folder RDSIAM_HELPER_CACHE_DIR names.
fn named_by_user(dir: &Path) -> bool {
    std::env::var_os("RDSIAM_HELPER_CACHE_DIR").is_some_and(|named| Path::new(&named) == dir)
}

impl Cache {
    /// Opens (creating it private if needed) the cache folder. A folder that others could
    /// write to is refused: someone could plant a token file there.
    pub fn open(dir: PathBuf) -> Result<Cache> {
        crate::files::require_home_for(&dir)?;
        if let Err(err) = privacy::create_dir(&dir) {
            report::warn(format_args!(
                "cannot create the cache folder {}: {}; signing without a cache",
                dir.display(),
                crate::error::describe_io(&err)
            ));
            return Ok(Cache {
                dir,
                writable: false,
            });
        }
        let meta =
            std::fs::metadata(&dir).map_err(|e| Error::io("read the cache folder", &dir, e))?;
        check_owner(&meta, &dir, "cache folder")?;
        if !meta.is_dir() {
            return Err(Error::failure(format!(
                "the cache folder {} is not a folder",
                dir.display()
            )));
        }
        // Our own folder, merely readable by others, is tightened rather than refused. A
        // folder the user named is theirs: used as it is (every file in it is private).
        privacy::check_dir(&dir, &meta, !named_by_user(&dir))?;
        // No write probe here: a hit needs none, and on a miss a folder that is read-only or
        // full shows itself at the lock file or the write, which then warn and sign anyway.
        Ok(Cache {
            dir,
            writable: true,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// False when the folder could not be created: nothing is cached, nothing locked.
    pub(super) fn is_writable(&self) -> bool {
        self.writable
    }

    /// The folder's files of one kind: a 32-hex-digit stem (`stem`) and `extension`.
    pub(super) fn files(&self, extension: &str) -> Result<Vec<PathBuf>> {
        let read = match std::fs::read_dir(&self.dir) {
            Ok(read) => read,
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(Error::io("list the cache folder", &self.dir, err)),
        };
        Ok(read
            .flatten()
            .map(|item| item.path())
            .filter(|path| is_kind(path, extension))
            .collect())
    }
}

pub(super) fn lock_wait() -> Duration {
    std::env::var(LOCK_WAIT_VARIABLE)
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_LOCK_WAIT)
}

/// One JSON file of the cache folder, read without following a symlink and only if it is
/// ours. `Ok(None)`: absent, or not something we wrote (it will be replaced); a symlink or
/// another user's file is an error.
pub(super) fn read_private_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    max_len: u64,
) -> Result<Option<T>> {
    let mut file = match files::open_no_follow(path) {
        Ok(file) => file,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
        Err(err) if is_symlink_error(&err) => return Err(symlink_error(path)),
        Err(err) => return Err(Error::io("read the cache file", path, err)),
    };
    let meta = file
        .metadata()
        .map_err(|e| Error::io("read the cache file", path, e))?;
    check_owner(&meta, path, "cache file")?;
    // A FIFO or device in place of the file would block or stream forever. Ours are 0600: a
    // file others could read or write was not written by us, so it is not trusted.
    if !meta.is_file() || meta.len() > max_len || !privacy::is_private_file(&meta, path) {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    if file.read_to_end(&mut bytes).is_err() {
        return Ok(None);
    }
    Ok(serde_json::from_slice(&bytes).ok())
}

/// Replaces `path` atomically: a 0600 temp file in `dir`, fsync, rename.
pub(super) fn write_private_json<T: Serialize>(
    dir: &Path,
    path: &Path,
    value: &T,
) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(value)?;
    bytes.push(b'\n');
    write_private(dir, path, &bytes)
}

/// The one private write of the folder: a 0600 temp file in `dir`, fsync, rename onto `path`.
pub(super) fn write_private(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // Private before any content is written.
    let mut temp = privacy::temp_file_in(dir, ".tmp-", privacy::Access::PRIVATE)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    // rename replaces a symlink or a foreign file at `path` itself, never what it points to.
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

pub(super) fn is_symlink_error(err: &std::io::Error) -> bool {
    files::is_link_error(err)
}

pub(super) fn symlink_error(path: &Path) -> Error {
    Error::failure(format!(
        "the cache file {} is a symbolic link; refusing to read through it",
        path.display()
    ))
    .hint(format!(
        "remove it (`rm {}`) and run the command again",
        path.display()
    ))
}

pub(super) fn check_owner(meta: &std::fs::Metadata, path: &Path, what: &str) -> Result<()> {
    privacy::check_owner(meta, path, what)
}

fn is_kind(path: &Path, extension: &str) -> bool {
    path.extension().is_some_and(|e| e == extension)
        && path
            .file_stem()
            .and_then(|s| s.to_str())
            .is_some_and(|s| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub(super) fn remove_if_present(path: &Path) -> Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(false),
        Err(err) => Err(Error::io("remove", path, err)),
    }
}
