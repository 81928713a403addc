//! Option files for `exec` and `connect`: a token in a 0600 file, in a 0700 folder of its own,
//! removed with the folder when the client has exited. The cache folder is the first place
//! (private already); a read-only cache must not stop `exec`, so `$XDG_RUNTIME_DIR` (private,
//! in memory) and then a fresh 0700 folder in the temp dir follow.

use super::folder::{Cache, default_dir, write_private};
use crate::error::{Error, Result};
use crate::secret::Secret;
use std::path::{Path, PathBuf};

/// The prefix `Cache::clear` knows, to sweep folders left by a SIGKILLed run.
pub(super) const PREFIX: &str = "rdsiam-helper-client-";

pub struct OptionFile {
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl OptionFile {
    /// `name` (e.g. `my.cnf`) holding `contents`, in a new private folder.
    pub fn create(name: &str, contents: &Secret) -> Result<OptionFile> {
        let dir = private_dir()?;
        let path = dir.path().join(name);
        write_private(dir.path(), &path, contents.expose().as_bytes())
            .map_err(|e| Error::io("write", &path, e))?;
        Ok(OptionFile { dir, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder, for `MYSQL_HOME` / `MARIADB_HOME`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn private_dir() -> Result<tempfile::TempDir> {
    let mut tried = Vec::new();
    let cache = default_dir()
        .and_then(Cache::open)
        .ok()
        .filter(Cache::is_writable)
        .map(|cache| cache.dir().to_path_buf());
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from);
    for base in cache
        .into_iter()
        .chain(runtime)
        .chain([std::env::temp_dir()])
    {
        match crate::platform::privacy::temp_dir_in(&base, PREFIX) {
            Ok(dir) => return Ok(dir),
            Err(err) => tried.push(format!(
                "{}: {}",
                base.display(),
                crate::error::describe_io(&err)
            )),
        }
    }
    Err(Error::failure(format!(
        "could not create a private folder for the client's option file ({})",
        tried.join("; ")
    ))
    .hint("make the cache folder writable, or set XDG_RUNTIME_DIR or TMPDIR to a writable place"))
}
