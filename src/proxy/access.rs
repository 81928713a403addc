//! Who the proxy lets in. Whoever passes is logged in to the database as the connection's
//! user, so by default only the proxy's owner is: the uid behind the client's socket must be
//! the proxy's own. A local password (`--local-password-file`) lets in a client whose owner
//! cannot be checked (macOS TCP, a remote client) or another user the owner shares it with;
//! `--allow-any-local-user` turns the uid check off.

use super::peer::{self, Peer};
use crate::error::{Error, Result};
use crate::secret::Secret;
use std::path::{Path, PathBuf};

/// The rule, fixed when the proxy starts.
pub struct Access {
    /// Off with --allow-any-local-user (or --allow-unauthenticated).
    pub check_owner: bool,
    pub password: Option<LocalPassword>,
    own_uid: u32,
}

/// What a connecting client must still do.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    In,
    /// Give the local password as its password to the proxy.
    NeedsPassword,
    Refused(String),
}

impl Access {
    pub fn new(check_owner: bool, password: Option<LocalPassword>) -> Access {
        Access {
            check_owner,
            password,
            own_uid: peer::own_uid(),
        }
    }

    pub fn judge(&self, peer: &Peer) -> Verdict {
        if self.check_owner && *peer == Peer::Uid(self.own_uid) {
            return Verdict::In;
        }
        if self.password.is_some() {
            return Verdict::NeedsPassword;
        }
        if !self.check_owner {
            return Verdict::In;
        }
        let who = match peer {
            Peer::Uid(uid) => format!(
                "the client runs as uid {uid}, not as uid {}, who runs the proxy",
                self.own_uid
            ),
            Peer::Unknown(why) => format!("the client's user cannot be checked: {why}"),
        };
        Verdict::Refused(format!(
            "connection refused: {who}; only the proxy's owner is let in (its owner can share it with --local-password-file, or allow every local user with --allow-any-local-user)"
        ))
    }

    /// Whether `given` is the local password.
    pub fn password_matches(&self, given: &[u8]) -> bool {
        self.password
            .as_ref()
            .is_some_and(|p| constant_time_eq(p.secret.expose().as_bytes(), given))
    }

    /// The local password, for a check that needs it (MySQL's scramble).
    pub fn password(&self) -> Option<&Secret> {
        self.password.as_ref().map(|p| &p.secret)
    }
}

/// A comparison whose time does not depend on where the first difference is.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The secret a client gives as its password to the proxy (never to the database).
pub struct LocalPassword {
    pub path: PathBuf,
    secret: Secret,
}

/// 32 random characters: enough that it cannot be guessed, plain enough for any client's
/// password field and option file.
const LENGTH: usize = 32;

impl LocalPassword {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with_password() -> Option<LocalPassword> {
        Some(LocalPassword {
            path: PathBuf::from("/x"),
            secret: Secret::new("s3cret".into()),
        })
    }

    #[test]
    fn only_the_owner_gets_in_by_default() {
        let access = Access::new(true, None);
        let own = peer::own_uid();
        assert_eq!(access.judge(&Peer::Uid(own)), Verdict::In);
        let other = access.judge(&Peer::Uid(own + 1));
        assert!(matches!(other, Verdict::Refused(ref m) if m.contains("not as uid")));
        let unknown = access.judge(&Peer::Unknown("why".into()));
        assert!(matches!(unknown, Verdict::Refused(ref m) if m.contains("cannot be checked: why")));
    }

    #[test]
    fn the_password_lets_in_whom_the_uid_check_does_not() {
        let own = peer::own_uid();
        let checked = Access::new(true, with_password());
        assert_eq!(checked.judge(&Peer::Uid(own)), Verdict::In);
        assert_eq!(checked.judge(&Peer::Uid(own + 1)), Verdict::NeedsPassword);
        let unchecked = Access::new(false, with_password());
        assert_eq!(unchecked.judge(&Peer::Uid(own)), Verdict::NeedsPassword);
        assert!(unchecked.password_matches(b"s3cret"));
        assert!(!unchecked.password_matches(b"s3cre"));
        assert!(!unchecked.password_matches(b""));
        assert_eq!(
            Access::new(false, None).judge(&Peer::Uid(own + 1)),
            Verdict::In
        );
    }
}
