//! The private cache folder and every kind of file in it: tokens (`token`, keyed by `key`), `{session_name}`
//! names (`identity`), client option files (`client`) and the locks beside tokens. One owner:
//! other modules ask this one and never reach into the folder.

mod client;
mod connection;
mod folder;
mod identity;
mod key;
mod token;
mod verified;

pub use client::OptionFile;
pub use connection::stamp_if_large;
pub use folder::{Cache, default_dir};
pub use identity::IdentityKey;
pub use key::{CacheKey, KeyRegion, SignedFor, Signer, SourceKey};
pub use token::{Issued, Signed, token_file};
pub use verified::credential_fingerprint;

use crate::error::{Error, Result};
use std::path::Path;

impl Cache {
    /// Removes every entry signed for connection `name`, whatever environment made it (a GUI
    /// client's empty environment gives another key than the shell's).
    pub fn remove_connection(&self, name: &str) -> Result<usize> {
        let mut removed = 0;
        for (path, entry) in self.entries()? {
            if entry.connection.as_deref() == Some(name) {
                removed += usize::from(folder::remove_if_present(&path)?);
                folder::remove_if_present(&path.with_extension(token::LOCK_EXTENSION))?;
            }
        }
        Ok(removed)
    }

    /// Removes every file this tool keeps in the folder, nothing else; returns the token count.
    pub fn clear(&self) -> Result<usize> {
        let mut removed = 0;
        for path in self.files(token::EXTENSION)? {
            removed += usize::from(folder::remove_if_present(&path)?);
        }
        for kind in [
            token::LOCK_EXTENSION,
            identity::EXTENSION,
            connection::EXTENSION,
            verified::EXTENSION,
        ] {
            for path in self.files(kind)? {
                folder::remove_if_present(&path)?;
            }
        }
        let Ok(read) = std::fs::read_dir(self.dir()) else {
            return Ok(removed);
        };
        for path in read.flatten().map(|item| item.path()) {
            if is_leftover(&path, ".tmp-") {
                folder::remove_if_present(&path)?;
            } else if is_leftover(&path, client::PREFIX) || is_leftover(&path, "client-") {
                // An option file with a token, left by an `exec`/`connect` that was killed.
                std::fs::remove_dir_all(&path).map_err(|e| Error::io("remove", &path, e))?;
            }
        }
        Ok(removed)
    }
}

/// A temp file of an interrupted write, or a client's option-file folder.
fn is_leftover(path: &Path, prefix: &str) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(prefix))
}
