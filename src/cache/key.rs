//! The key a token is cached under: everything that changes the token or who signs it, as
//! types. One function renders each part as the files have always stored it (`file_stem`, and
//! the record's fields), so caches written before these types existed stay valid.

use super::folder::Stem;
use crate::values::{DbUser, DsqlAction, Host, Port, Region};
use std::fmt::{self, Display, Write as _};
use std::time::Duration;

/// Everything that changes the token or who signs it. Two AWS profiles never share a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    /// Matched without regard to case, as DNS does.
    pub host: Host,
    pub port: Port,
    pub user: DbUser,
    pub region: KeyRegion,
    pub source: SourceKey,
    pub signed_for: SignedFor,
}

/// The region part of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRegion {
    /// From the connection, a flag or the endpoint's name.
    Given(Region),
    /// `AWS_REGION` or `AWS_DEFAULT_REGION`, as set (checked only when signing).
    Environment(String),
    /// The AWS profile's region: reading the profile to find it would cost the hot path its
    /// speed, so the key names the profile's region by this stand-in.
    FromProfile,
}

/// Who signs: the credentials' identity (a profile name or an access key id) and the
/// environment settings that make the same name another identity (`AWS_CONFIG_FILE=...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceKey {
    pub signer: Signer,
    /// `(variable, value)`, in the order the key has always listed them.
    pub settings: Vec<(&'static str, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    Profile(String),
    /// AWS_ACCESS_KEY_ID: an id, not a secret.
    AccessKey(String),
}

/// What a token is signed for beyond the endpoint and user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedFor {
    Rds,
    /// DSQL's action and lifetime, so changing either signs anew.
    Dsql {
        action: DsqlAction,
        lifetime: Duration,
    },
}

impl CacheKey {
    /// The file name's stem: a hash of the parts as the strings they once were.
    pub fn file_stem(&self) -> String {
        let mut stem = Stem::default();
        stem.part(&*self.host_text());
        stem.part(&self.port);
        stem.part(&self.user);
        stem.part(&self.region);
        stem.part(&self.source);
        // RDS keys hash as they always have, so an upgrade keeps their cached tokens.
        if self.signed_for != SignedFor::Rds {
            stem.part(&self.signed_for);
        }
        stem.finish()
    }

    /// The host as a record stores it.
    pub(super) fn host_text(&self) -> String {
        self.host.to_ascii_lowercase()
    }
}

impl Display for KeyRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRegion::Given(region) => f.write_str(region),
            KeyRegion::Environment(region) => f.write_str(region),
            KeyRegion::FromProfile => f.write_str("(profile)"),
        }
    }
}

/// `profile:NAME` or `env:ACCESS_KEY_ID`, then `|VARIABLE=value` for each setting.
impl Display for SourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.signer {
            Signer::Profile(name) => write!(f, "profile:{name}")?,
            Signer::AccessKey(id) => write!(f, "env:{id}")?,
        }
        for (variable, value) in &self.settings {
            write!(f, "|{variable}={value}")?;
        }
        Ok(())
    }
}

/// Empty for RDS; `dsql:ACTION:SECONDS` for DSQL.
impl Display for SignedFor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignedFor::Rds => Ok(()),
            SignedFor::Dsql { action, lifetime } => {
                write!(f, "dsql:{}:{}", action.as_str(), lifetime.as_secs())
            }
        }
    }
}

/// Whether `value` renders as `text`, without building the string (the hot path compares a
/// record's fields with the key on every hit).
pub(super) fn renders_as(value: &impl Display, text: &str) -> bool {
    struct Rest<'a>(&'a str);
    impl fmt::Write for Rest<'_> {
        fn write_str(&mut self, piece: &str) -> fmt::Result {
            match self.0.strip_prefix(piece) {
                Some(rest) => {
                    self.0 = rest;
                    Ok(())
                }
                None => Err(fmt::Error),
            }
        }
    }
    let mut rest = Rest(text);
    write!(rest, "{value}").is_ok() && rest.0.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_render_as_the_files_store_them() {
        let source = SourceKey {
            signer: Signer::Profile("a".into()),
            settings: vec![("AWS_CONFIG_FILE", "/x/config".into())],
        };
        assert_eq!(source.to_string(), "profile:a|AWS_CONFIG_FILE=/x/config");
        let env = SourceKey {
            signer: Signer::AccessKey("AKID".into()),
            settings: Vec::new(),
        };
        assert_eq!(env.to_string(), "env:AKID");
        assert_eq!(KeyRegion::FromProfile.to_string(), "(profile)");
        let dsql = SignedFor::Dsql {
            action: DsqlAction::DbConnectAdmin,
            lifetime: Duration::from_secs(900),
        };
        assert_eq!(dsql.to_string(), "dsql:DbConnectAdmin:900");
        assert_eq!(SignedFor::Rds.to_string(), "");
    }

    #[test]
    fn renders_as_compares_the_whole_text() {
        let source = SourceKey {
            signer: Signer::Profile("ab".into()),
            settings: Vec::new(),
        };
        assert!(renders_as(&source, "profile:ab"));
        assert!(!renders_as(&source, "profile:a"));
        assert!(!renders_as(&source, "profile:abc"));
        assert!(renders_as(&SignedFor::Rds, ""));
    }
}
