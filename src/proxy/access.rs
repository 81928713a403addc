//! Who the proxy lets in. Whoever passes is logged in to the database as the connection's
//! user, so by default only the proxy's owner is: the uid behind the client's socket must be
//! the proxy's own. A local password (`--local-password-file`) lets in a client whose owner
//! cannot be checked (macOS TCP, a remote client) or another user the owner shares it with;
//! `--allow-any-local-user` turns the uid check off.

use super::peer::{self, Peer};
use crate::local_password::LocalPassword;
use crate::secret::Secret;

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
            .is_some_and(|p| constant_time_eq(p.secret().expose().as_bytes(), given))
    }

    /// The local password, for a check that needs it (MySQL's scramble).
    pub fn password(&self) -> Option<&Secret> {
        self.password.as_ref().map(|p| p.secret())
    }
}

/// A comparison whose time does not depend on where the first difference is.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_password() -> Option<LocalPassword> {
        Some(LocalPassword::new(
            std::path::PathBuf::from("/x"),
            Secret::new("s3cret".into()),
        ))
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
