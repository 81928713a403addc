//! The `{session_name}` cache: the caller's name from STS GetCallerIdentity, kept next to the
//! tokens for as long as the credentials that asked live. Tokens last 15 minutes and each
//! connection has its own, but the name belongs to the credentials: without this, every refresh
//! and every other connection would ask STS again.
//!
//! The files follow the token cache's rules (0600 in the 0700 folder, never read through a
//! symlink or another user's file, atomic replace, a bad file is a miss) and hold no secret:
//! the name, two times, and the description of the credential source.

use super::folder::{CLOCK_SKEW, Cache, read_private_json, stem, write_private_json};
use crate::clock;
use crate::config::SESSION_NAME_TEMPLATE;
use crate::error::Result;
use crate::report;
use crate::values::UserName;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

const FORMAT_VERSION: u32 = 1;
/// `Cache::clear` removes 32-hex stems with the extensions it knows; this one is ours alone, so
/// a token lookup can never mistake a name for a token.
pub(super) const EXTENSION: &str = "identity";
/// Long-term keys never expire, yet the user behind a profile can change (edited
/// ~/.aws/credentials): an hour bounds how long an old name can be used.
const WITHOUT_EXPIRY: Duration = Duration::from_secs(3600);
/// The longest an AWS role session lasts. A credential_process can claim any expiry, and a file
/// from elsewhere any validity; neither keeps a name longer than this.
const LONGEST: Duration = Duration::from_secs(12 * 3600);

/// Whose name it is: the token cache key's credential source. Not the region: the same
/// credentials are the same caller in every region.
pub struct IdentityKey<'a> {
    pub source: &'a str,
    /// The credentials' access key id (not a secret): `aws sso login` as someone else under the
    /// same profile hands out other credentials, whose caller may have another name.
    pub access_key_id: &'a str,
}

impl IdentityKey<'_> {
    fn file_stem(&self) -> String {
        // The prefix keeps these stems apart from token keys made of the same strings.
        stem(&["identity", self.source])
    }

    fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.access_key_id.as_bytes());
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    pub fn path(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}.{EXTENSION}", self.file_stem()))
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    version: u32,
    source: String,
    /// A hash of the access key id: enough to tell credentials apart, nothing to look up.
    credentials: String,
    /// Typed, so a name no user could be (the template, control characters) is a miss.
    session_name: UserName,
    resolved_at: i64,
    valid_until: i64,
}

impl Entry {
    fn usable_for(&self, key: &IdentityKey<'_>, now: SystemTime) -> bool {
        let now = clock::unix_seconds(now);
        let valid_until = self
            .valid_until
            .min(self.resolved_at.saturating_add(LONGEST.as_secs() as i64));
        self.version == FORMAT_VERSION
            && self.source == key.source
            && self.credentials == key.fingerprint()
            && self.resolved_at <= now + CLOCK_SKEW.as_secs() as i64
            && now < valid_until
    }
}

/// The cached name for `key` if it is still valid at `now`. Anything unreadable, foreign or
/// expired is a miss; a symlink or another user's file is refused, as for tokens.
fn lookup(dir: &Path, key: &IdentityKey<'_>, now: SystemTime) -> Result<Option<UserName>> {
    let path = key.path(dir);
    let entry = match read(&path)? {
        Some(entry) if entry.usable_for(key, now) => entry,
        Some(_) => {
            report::verbose(format_args!(
                "`{SESSION_NAME_TEMPLATE}` cache {} is expired or not ours",
                path.display()
            ));
            return Ok(None);
        }
        None => return Ok(None),
    };
    report::verbose(format_args!(
        "`{SESSION_NAME_TEMPLATE}` is `{}` (cached in {} until {})",
        entry.session_name,
        path.display(),
        clock::rfc3339(clock::from_unix_seconds(entry.valid_until))
    ));
    Ok(Some(entry.session_name))
}

/// Keeps `name` until the credentials that resolved it expire. Failing to write costs only
/// the next miss an STS call, so it is a warning.
fn store(
    dir: &Path,
    key: &IdentityKey<'_>,
    name: &UserName,
    now: SystemTime,
    credentials_expiry: Option<SystemTime>,
) {
    let valid_until = match credentials_expiry {
        Some(expiry) => expiry.min(now + LONGEST),
        None => now + WITHOUT_EXPIRY,
    };
    if valid_until <= now {
        return;
    }
    let entry = Entry {
        version: FORMAT_VERSION,
        source: key.source.to_string(),
        credentials: key.fingerprint(),
        session_name: name.clone(),
        resolved_at: clock::unix_seconds(now),
        valid_until: clock::unix_seconds(valid_until),
    };
    let path = key.path(dir);
    match write_private_json(dir, &path, &entry) {
        Ok(()) => report::verbose(format_args!(
            "cached `{SESSION_NAME_TEMPLATE}` in {} until {}",
            path.display(),
            clock::rfc3339(valid_until)
        )),
        Err(err) => report::warn(format_args!(
            "cannot write the cache file {}: {}; `{SESSION_NAME_TEMPLATE}` was not cached",
            path.display(),
            crate::error::describe_io(&err)
        )),
    }
}

fn read(path: &Path) -> Result<Option<Entry>> {
    // Ours are a few hundred bytes.
    read_private_json(path, 4096)
}

impl Cache {
    /// The `{session_name}` cached for `key`, if still valid at `now`. A folder that could not
    /// be created (reported when the cache was opened) holds none.
    pub fn identity(&self, key: &IdentityKey<'_>, now: SystemTime) -> Result<Option<UserName>> {
        match self.dir().is_dir() {
            true => lookup(self.dir(), key, now),
            false => Ok(None),
        }
    }

    /// Keeps `name` for `key` until the credentials expire (see `store`).
    pub fn keep_identity(
        &self,
        key: &IdentityKey<'_>,
        name: &UserName,
        now: SystemTime,
        credentials_expiry: Option<SystemTime>,
    ) {
        if self.dir().is_dir() {
            store(self.dir(), key, name, now, credentials_expiry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> UserName {
        text.parse().unwrap()
    }
    use std::os::unix::fs::PermissionsExt;

    const KEY: IdentityKey<'static> = IdentityKey {
        source: "profile:dev",
        access_key_id: "ASIAJANE",
    };

    fn at(seconds: i64) -> SystemTime {
        clock::from_unix_seconds(seconds)
    }

    #[test]
    fn a_name_lives_as_long_as_the_credentials_that_resolved_it() {
        let dir = tempfile::tempdir().unwrap();
        store(
            dir.path(),
            &KEY,
            &name("jane.doe"),
            at(1000),
            Some(at(1600)),
        );
        let path = KEY.path(dir.path());
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            lookup(dir.path(), &KEY, at(1599)).unwrap().as_deref(),
            Some("jane.doe")
        );
        assert_eq!(lookup(dir.path(), &KEY, at(1600)).unwrap(), None);
        assert_eq!(
            lookup(dir.path(), &KEY, at(800)).unwrap(),
            None,
            "clock moved back"
        );
        let other = IdentityKey {
            source: "profile:prod",
            access_key_id: "ASIAJANE",
        };
        assert_eq!(lookup(dir.path(), &other, at(1100)).unwrap(), None);
        // `aws sso login` as someone else under the same profile: other credentials, a miss.
        let relogged = IdentityKey {
            source: "profile:dev",
            access_key_id: "ASIAJOHN",
        };
        assert_eq!(lookup(dir.path(), &relogged, at(1100)).unwrap(), None);
    }

    #[test]
    fn long_term_or_far_off_expiries_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        store(dir.path(), &KEY, &name("bob"), at(1000), None);
        assert!(lookup(dir.path(), &KEY, at(1000 + 3599)).unwrap().is_some());
        assert!(lookup(dir.path(), &KEY, at(1000 + 3600)).unwrap().is_none());
        store(
            dir.path(),
            &KEY,
            &name("bob"),
            at(1000),
            Some(at(1000 + 10 * 86400)),
        );
        assert!(
            lookup(dir.path(), &KEY, at(1000 + 12 * 3600 - 1))
                .unwrap()
                .is_some()
        );
        assert!(
            lookup(dir.path(), &KEY, at(1000 + 12 * 3600))
                .unwrap()
                .is_none()
        );
        store(dir.path(), &KEY, &name("gone"), at(1000), Some(at(900)));
        assert_eq!(
            lookup(dir.path(), &KEY, at(1000)).unwrap().as_deref(),
            Some("bob"),
            "expired credentials do not replace a name"
        );
    }

    #[test]
    fn corrupt_foreign_or_loose_files_are_misses_and_symlinks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = KEY.path(dir.path());
        let good = serde_json::json!({
            "version": 1, "source": "profile:dev", "credentials": KEY.fingerprint(),
            "session_name": "jane", "resolved_at": 1000, "valid_until": 2000,
        });
        for text in [
            String::new(),
            "{\"version\":1".to_string(),
            "\u{0}\u{1}binary".to_string(),
            good.to_string().replace("\"jane\"", "\"ja\\nne\""),
            good.to_string().replace("\"jane\"", "\"{session_name}\""),
            good.to_string().replace("}", ",\"extra\":1}"),
        ] {
            std::fs::write(&path, &text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            assert_eq!(lookup(dir.path(), &KEY, at(1500)).unwrap(), None, "{text}");
        }
        std::fs::write(&path, good.to_string()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(lookup(dir.path(), &KEY, at(1500)).unwrap(), None, "0644");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            lookup(dir.path(), &KEY, at(1500)).unwrap().as_deref(),
            Some("jane")
        );

        std::fs::remove_file(&path).unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, good.to_string()).unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = lookup(dir.path(), &KEY, at(1500)).unwrap_err();
        assert!(err.message.contains("symbolic link"), "{}", err.message);
        // A write replaces the link itself, never the file it points to.
        store(dir.path(), &KEY, &name("jane"), at(1500), Some(at(2000)));
        assert!(!std::fs::symlink_metadata(&path).unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), good.to_string());
    }

    #[test]
    fn stems_are_the_32_hex_digits_the_cache_folder_cleanup_recognises() {
        let stem = KEY.file_stem();
        assert_eq!(stem.len(), 32);
        assert!(stem.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(
            stem,
            IdentityKey {
                source: "profile:dev|AWS_CONFIG_FILE=/x",
                access_key_id: "ASIAJANE",
            }
            .file_stem()
        );
    }
}
