//! Writing a user's files: a `.bak` of the old one, a temp file with its final permissions set
//! before any content, fsync, and an atomic rename. Never a half-written file.

use crate::error::{Error, Result};
use crate::platform::{files, locking, privacy};
use crate::secret::{Contents, Secret};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A merge takes milliseconds; a writer holding the lock longer than this is hung.
const USER_FILE_LOCK_WAIT: Duration = Duration::from_secs(30);

/// What `update` did to the file.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    /// The merge changed nothing; the file was not touched.
    Unchanged,
    Created,
    Updated {
        backup: PathBuf,
    },
}

/// Read-modify-write of a user's file with an exclusive lock held from the read to the rename,
/// so two runs (a `setup --write` and a timer's `refresh`) never lose each other's lines. The
/// merge must be quick and must not sign: tokens are issued before, so a slow credential
/// source never holds the lock.
///
/// The lock is for the file's folder, not on the file (`locking::folder_lock` says where).
pub fn update(path: &Path, merge: impl FnOnce(&str) -> Result<Contents>) -> Result<Written> {
    let mut written = update_together(&[path.to_path_buf()], |texts| Ok(vec![merge(texts[0])?]))?;
    Ok(written.remove(0))
}

/// `update` for files whose new texts depend on one another (DataGrip's two `.idea` files name
/// the same data source): every folder is locked (in one order, so two runs cannot each hold
/// one), every file read, then `merge` sees all the old texts at once and returns the new
/// ones, in the same order. A file whose text is unchanged is not written.
pub fn update_together(
    paths: &[PathBuf],
    merge: impl FnOnce(&[&str]) -> Result<Vec<Contents>>,
) -> Result<Vec<Written>> {
    let paths = paths
        .iter()
        .map(|path| target(path))
        .collect::<Result<Vec<_>>>()?;
    let mut dirs: Vec<PathBuf> = paths.iter().map(|path| parent(path)).collect();
    dirs.sort();
    dirs.dedup();
    let mut _locks = Vec::new();
    for dir in &dirs {
        require_home_for(dir)?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create the folder", dir, e))?;
        let first = paths
            .iter()
            .find(|p| parent(p) == *dir)
            .expect("a file in each folder");
        _locks.push(lock_folder(dir, first)?);
    }
    // The old texts may hold tokens too: they are kept as secrets while they are in memory.
    let existing = paths
        .iter()
        .map(|path| read_or_empty(path).map(Secret::new))
        .collect::<Result<Vec<_>>>()?;
    let texts: Vec<&str> = existing.iter().map(Secret::expose).collect();
    let merged = merge(&texts)?;
    assert_eq!(merged.len(), paths.len(), "one new text per file");
    paths
        .iter()
        .zip(&existing)
        .zip(&merged)
        .map(|((path, old), new)| {
            if new.expose() == old.expose() && path.exists() {
                return Ok(Written::Unchanged);
            }
            Ok(match replace(path, new)? {
                Some(backup) => Written::Updated { backup },
                None => Written::Created,
            })
        })
        .collect()
}

/// Refuses to create `dir` under a HOME that does not exist (a service account, a typo in a
/// unit file): creating the home folder itself is not ours to do.
pub fn require_home_for(dir: &Path) -> Result<()> {
    let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) else {
        return Ok(());
    };
    let home = PathBuf::from(home);
    if dir.starts_with(&home) && !home.is_dir() {
        return Err(Error::failure(format!(
            "HOME is {}, which does not exist; not creating {} under it",
            home.display(),
            dir.display()
        ))
        .hint("set HOME to your home folder (or RDSIAM_HELPER_CACHE_DIR / the file's path to an existing place)"));
    }
    Ok(())
}

/// Where a write to `path` goes. A dotfile manager's symlink stays a symlink: the write goes
/// through to its target, also when the target does not exist yet (a dangling link), as long
/// as the target's folder does. A link is never replaced by a file.
fn target(path: &Path) -> Result<PathBuf> {
    if let Ok(real) = std::fs::canonicalize(path) {
        return Ok(real);
    }
    let mut current = path.to_path_buf();
    // As many links as the kernel follows (MAXSYMLINKS) before it calls it a loop.
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&current)
                    .map_err(|e| Error::io("read the link", &current, e))?;
                current = parent(&current).join(link);
            }
            _ if current == path => return Ok(current),
            _ if parent(&current).is_dir() => return Ok(current),
            _ => {
                return Err(Error::failure(format!(
                    "{} is a symbolic link to {}, whose folder does not exist; it was left unchanged",
                    path.display(),
                    current.display()
                ))
                .hint(format!(
                    "create {} (or remove the link), then run the command again",
                    parent(&current).display()
                )));
            }
        }
    }
    Err(Error::failure(format!(
        "{} is a loop of symbolic links; it was left unchanged",
        path.display()
    ))
    .hint("remove the link, then run the command again"))
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

pub use locking::lock_within;

/// An exclusive lock for writes in `dir`, released when the returned handle is dropped.
fn lock_folder(dir: &Path, path: &Path) -> Result<std::fs::File> {
    let folder = locking::folder_lock(dir).map_err(|e| Error::io("open the folder", dir, e))?;
    match lock_within(&folder, USER_FILE_LOCK_WAIT) {
        Ok(true) => Ok(folder),
        Ok(false) => Err(Error::failure(format!(
            "another process has been writing in {} for over {}; {} was left unchanged",
            dir.display(),
            humantime::format_duration(USER_FILE_LOCK_WAIT),
            path.display()
        ))
        .hint("a hung rdsiam-helper holds the folder's lock; stop it and run again")),
        Err(err) => Err(Error::io("lock the folder", dir, err)
            .hint(format!("{} was left unchanged", path.display()))),
    }
}

/// Replaces `path` with `contents`. Returns the backup's path when there was an old file. A
/// secret is written 0600 whatever the old mode was; plain text keeps the old file's mode (a
/// new file gets 0644).
pub fn replace(path: &Path, contents: &Contents) -> Result<Option<PathBuf>> {
    let path = target(path)?;
    let dir = parent(&path);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create the folder", &dir, e))?;
    let old = read_limited(&path)?;
    let access =
        privacy::replacement_access(contents.is_secret(), std::fs::metadata(&path).ok().as_ref());
    // The backup is written like the file itself: a `.bak` that is a symlink planted in a
    // cloned repository is replaced, never followed to overwrite what it points at.
    let backup = match old {
        Some(old) => {
            let backup = with_suffix(&path, ".bak");
            write_atomically(&dir, &backup, &old, access)?;
            Some(backup)
        }
        None => None,
    };
    write_atomically(&dir, &path, contents.expose().as_bytes(), access)?;
    Ok(backup)
}

/// A temp file in `dir` made with `access` before any content, fsync, rename onto `path`.
fn write_atomically(
    dir: &Path,
    path: &Path,
    contents: &[u8],
    access: privacy::Access,
) -> Result<()> {
    let mut temp = privacy::temp_file_in(dir, ".rdsiam-helper-", access)
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
    Ok(read_text(path)?.unwrap_or_default())
}

/// A user's UTF-8 text file, or `None` when it does not exist (`read_limited`'s rules).
pub fn read_text(path: &Path) -> Result<Option<String>> {
    let Some(bytes) = read_limited(path)? else {
        return Ok(None);
    };
    String::from_utf8(bytes).map(Some).map_err(|bad| {
        let line = first_non_utf8_line(bad.as_bytes()).unwrap_or(1);
        Error::failure(format!(
            "{} is not UTF-8 text: line {line} holds a byte that is not UTF-8; it was left unchanged",
            path.display()
        ))
    })
}

/// The line (from 1) of the first byte that is not UTF-8, if there is one.
pub fn first_non_utf8_line(bytes: &[u8]) -> Option<usize> {
    let bad = std::str::from_utf8(bytes).err()?;
    Some(
        bytes[..bad.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1,
    )
}

/// No config or client file of a person's is this long (a `.pgpass` line with a token is
/// about 2 KB); a longer one is a mistake, or a file that never ends.
pub const MAX_USER_FILE: u64 = 16 * 1024 * 1024;

/// The bytes of a user's file, or `None` when it does not exist. Opened without blocking and
/// refused unless it is a regular file: a FIFO would hang the command (and a GUI waiting for a
/// password with it), a device such as /dev/zero never ends. The read stops at
/// `MAX_USER_FILE` whatever the size said, for a file that grows while it is read.
pub fn read_limited(path: &Path) -> Result<Option<Vec<u8>>> {
    use std::io::Read;
    let file = match files::open_nonblocking(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(Error::io("read", path, err)),
    };
    let meta = file.metadata().map_err(|e| Error::io("read", path, e))?;
    if !meta.is_file() {
        return Err(Error::failure(format!(
            "{} is {}, not a regular file; refusing to read it",
            path.display(),
            files::kind(&meta)
        ))
        .hint("replace it with a regular file, or point the command at one"));
    }
    let too_long = |size: u64| {
        Error::failure(format!(
            "{} is {} long, over the {} a config or client file may be; it was left unchanged",
            path.display(),
            byte_size(size),
            byte_size(MAX_USER_FILE)
        ))
        .hint("check that it is the file you meant; trim it or point the command at another")
    };
    if meta.len() > MAX_USER_FILE {
        return Err(too_long(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_USER_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read", path, e))?;
    if bytes.len() as u64 > MAX_USER_FILE {
        return Err(too_long(bytes.len() as u64));
    }
    Ok(Some(bytes))
}

/// "2.5 MiB", "512 bytes".
fn byte_size(size: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if size >= MIB {
        format!("{:.1} MiB", size as f64 / MIB as f64)
    } else {
        format!("{size} bytes")
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
