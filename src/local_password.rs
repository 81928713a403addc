//! The proxy's local password (`--local-password-file`): the secret a client gives the proxy
//! in place of the database's, kept in a private file. Below both its users: the proxy checks
//! it, and `setup --via-proxy` writes it where each client keeps passwords.

use crate::error::{Error, Result};
use crate::secret::Secret;
use std::path::{Path, PathBuf};

/// The secret a client gives as its password to the proxy (never to the database).
pub struct LocalPassword {
    pub path: PathBuf,
    secret: Secret,
}

/// 32 random characters: enough that it cannot be guessed, plain enough for any client's
/// password field and option file.
const LENGTH: usize = 32;

impl LocalPassword {
    #[cfg(test)]
    pub fn new(path: PathBuf, secret: Secret) -> LocalPassword {
        LocalPassword { path, secret }
    }

    /// The password, for the client's password store (`setup --via-proxy`).
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// Reads the file, or writes a new random password to it (0600) if there is none.
    /// Returns whether it was made now.
    pub fn load_or_create(path: &Path) -> Result<(LocalPassword, bool)> {
        match read_private(path)? {
            Some(secret) => Ok((
                LocalPassword {
                    path: path.to_path_buf(),
                    secret,
                },
                false,
            )),
            None => {
                let secret = generate();
                crate::files::replace(path, &crate::secret::Contents::Secret(secret.clone()))?;
                Ok((
                    LocalPassword {
                        path: path.to_path_buf(),
                        secret,
                    },
                    true,
                ))
            }
        }
    }
}

/// The file's first line, if the file exists. It must be a regular file of ours that nobody
/// else can read: anyone who reads it gets in as the database user. Each way it can be wrong is
/// named, since a link, a FIFO or a folder here is a mistake to fix, not a password.
fn read_private(path: &Path) -> Result<Option<Secret>> {
    use crate::platform::{files, privacy};
    use std::io::Read;
    let fix = || {
        format!(
            "{}, or remove it to have a new one written",
            privacy::make_private_hint(path)
        )
    };
    let file = match files::open_no_follow(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) if files::is_link_error(&err) => {
            return Err(Error::failure(format!(
                "the local password file {} is a symbolic link; it must be a regular file of yours",
                path.display()
            ))
            .hint("point --local-password-file at the file itself, or remove the link to have a new one written"));
        }
        Err(err) => return Err(Error::io("open the local password file", path, err)),
    };
    let meta = file
        .metadata()
        .map_err(|e| Error::io("read the local password file", path, e))?;
    if !meta.is_file() {
        return Err(Error::failure(format!(
            "the local password file {} is {}, not a regular file",
            path.display(),
            files::kind(&meta)
        ))
        .hint("point --local-password-file at a regular file, or at a path where none exists yet to have one written"));
    }
    if !privacy::owned_and_private(&meta, path) {
        return Err(Error::failure(format!(
            "the local password file {} must be yours and readable only by you ({})",
            path.display(),
            privacy::describe(&meta, path),
        ))
        .hint(fix()));
    }
    let mut bytes = Vec::new();
    file.take(4096)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read the local password file", path, e))?;
    let Ok(text) = String::from_utf8(bytes) else {
        return Err(Error::failure(format!(
            "the local password file {} is not UTF-8 text",
            path.display()
        ))
        .hint("remove it to have a new one written, or put a UTF-8 password on its first line"));
    };
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return Err(Error::failure(format!(
            "the local password file {} is empty",
            path.display()
        ))
        .hint("remove it to have a new one written, or put a password on its first line"));
    }
    Ok(Some(Secret::new(line.to_string())))
}

fn generate() -> Secret {
    use tokio_rustls::rustls::crypto::aws_lc_rs::default_provider;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = [0u8; LENGTH];
    default_provider()
        .secure_random
        .fill(&mut bytes)
        .expect("the system's random source");
    // 256 is not a multiple of the alphabet's length; the bias is harmless at 32 characters.
    Secret::new(
        bytes
            .iter()
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
            .collect(),
    )
}
