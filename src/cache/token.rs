//! Tokens: one JSON file per key. Readers take no lock (files are replaced by an atomic
//! rename); a refresh takes the key's lock, looks again, then signs once. Pure file logic: the
//! caller passes the clock. The record on disk is this module's alone; callers get `Issued`.

use super::folder::{
    CLOCK_SKEW, Cache, LOCK_WAIT_VARIABLE, check_owner, is_symlink_error, lock_wait,
    read_private_json, remove_if_present, symlink_error, write_private_json,
};
use super::key::{CacheKey, renders_as};
use crate::clock;
use crate::error::{Error, Result};
use crate::report;
use crate::token::{TOKEN_EXPIRES_IN, Token};
use crate::values::{MAX_DSQL_TOKEN_LIFETIME, Region, UserName};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The extension of token files; `.lock` beside each is its refresh lock.
pub(super) const EXTENSION: &str = "json";
pub(super) const LOCK_EXTENSION: &str = "lock";

const FORMAT_VERSION: u32 = 1;

/// One cache file. `valid_until` is `min(signed_at + lifetime, credential expiry)`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    version: u32,
    connection: Option<String>,
    host: String,
    port: u16,
    /// The key's user (a `{session_name}` template stays a template here) ...
    user: String,
    /// ... and the user the token was signed for.
    signed_user: String,
    region: String,
    signed_region: String,
    source: String,
    signed_at: i64,
    valid_until: i64,
    /// `CacheKey::signed_for`; absent in RDS records.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    signed_for: String,
    /// The token's own lifetime in seconds (`X-Amz-Expires`); 900 in records written before
    /// DSQL, which had no other.
    #[serde(default = "rds_lifetime")]
    lifetime: u64,
    #[serde(with = "token_serde")]
    token: Token,
}

fn rds_lifetime() -> u64 {
    TOKEN_EXPIRES_IN.as_secs()
}

/// A token and what it was signed for: what the cache gives out.
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: Token,
    /// The database user signed for (`{session_name}` resolved).
    pub user: UserName,
    pub region: Region,
    pub valid_until: SystemTime,
}

impl From<Record> for Issued {
    fn from(record: Record) -> Issued {
        Issued {
            valid_until: record.valid_until(),
            token: record.token,
            user: UserName::stored(record.signed_user),
            region: Region::stored(record.signed_region),
        }
    }
}

impl Issued {
    /// Whether it has more than `refresh_before` of life left at `now`, as a cache hit must.
    pub fn is_fresh(&self, now: SystemTime, refresh_before: Duration) -> bool {
        now + refresh_before < self.valid_until
    }

    /// A token signed with --no-cache: never stored, served as signed.
    pub fn uncached(key: &CacheKey, signed: Signed) -> Issued {
        Record::new(key, None, signed).into()
    }
}

/// What `cache list` shows of an entry: everything but the token.
#[derive(Debug)]
pub struct Listed {
    pub connection: Option<String>,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub region: String,
    /// The credential source, e.g. `profile:prod`.
    pub source: String,
    pub signed_at: SystemTime,
    pub valid_until: SystemTime,
}

mod token_serde {
    use crate::token::Token;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(token: &Token, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(token.expose())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Token, D::Error> {
        String::deserialize(d).map(Token::new)
    }
}

impl Record {
    fn new(key: &CacheKey, connection: Option<String>, signed: Signed) -> Record {
        Record {
            version: FORMAT_VERSION,
            connection,
            host: key.host_text(),
            port: key.port.get(),
            user: key.user.to_string(),
            signed_user: signed.user.into(),
            region: key.region.to_string(),
            signed_region: signed.region.into(),
            source: key.source.to_string(),
            signed_at: clock::unix_seconds(signed.at),
            valid_until: clock::unix_seconds(signed.valid_until),
            signed_for: key.signed_for.to_string(),
            lifetime: signed.lifetime.as_secs(),
            token: signed.token,
        }
    }

    /// Served only while it keeps at least `refresh_before` of life, and never when the clock
    /// has moved back past its signing time.
    fn is_fresh(&self, now: SystemTime, refresh_before: Duration) -> bool {
        let now_s = clock::unix_seconds(now);
        self.signed_at <= now_s + CLOCK_SKEW.as_secs() as i64
            && now_s
                + refresh_before.as_secs() as i64
                + i64::from(refresh_before.subsec_nanos() > 0)
                < self.valid_until_secs()
    }

    /// The server refuses a token once the lifetime it was signed for has passed (15 minutes
    /// for RDS, at most a week for DSQL), whatever a file claims, so an entry is never trusted
    /// beyond that.
    fn valid_until_secs(&self) -> i64 {
        let lifetime = self.lifetime.min(MAX_DSQL_TOKEN_LIFETIME.as_secs());
        self.valid_until
            .min(self.signed_at.saturating_add(lifetime as i64))
    }

    fn valid_until(&self) -> SystemTime {
        clock::from_unix_seconds(self.valid_until_secs())
    }

    fn listed(self) -> Listed {
        Listed {
            valid_until: self.valid_until(),
            signed_at: clock::from_unix_seconds(self.signed_at),
            connection: self.connection,
            host: self.host,
            port: self.port,
            user: self.signed_user,
            region: self.signed_region,
            source: self.source,
        }
    }

    fn matches(&self, key: &CacheKey) -> bool {
        self.version == FORMAT_VERSION
            && self
                .host
                .bytes()
                .eq(key.host.bytes().map(|b| b.to_ascii_lowercase()))
            && self.port == key.port.get()
            && self.user == key.user.as_str()
            && renders_as(&key.region, &self.region)
            && renders_as(&key.source, &self.source)
            && renders_as(&key.signed_for, &self.signed_for)
            && !self.token.expose().is_empty()
    }
}

/// What a fresh signing produced, before it is keyed.
pub struct Signed {
    pub token: Token,
    pub user: UserName,
    pub region: Region,
    pub at: SystemTime,
    pub valid_until: SystemTime,
    /// What the token was signed to live (`X-Amz-Expires`).
    pub lifetime: Duration,
}

/// The file that holds `key`'s token in the cache folder `dir`.
pub fn token_file(dir: &Path, key: &CacheKey) -> PathBuf {
    dir.join(format!("{}.{EXTENSION}", key.file_stem()))
}

impl Cache {
    pub fn path_for(&self, key: &CacheKey) -> PathBuf {
        token_file(self.dir(), key)
    }

    fn lock_path(&self, key: &CacheKey) -> PathBuf {
        self.dir()
            .join(format!("{}.{LOCK_EXTENSION}", key.file_stem()))
    }

    /// The cached token for `key` if it is still fresh. Unreadable or foreign content is a
    /// miss (it will be replaced); a symlink or another user's file is an error.
    pub fn fresh(
        &self,
        key: &CacheKey,
        now: SystemTime,
        refresh_before: Duration,
    ) -> Result<Option<Issued>> {
        let path = self.path_for(key);
        let entry = read_entry(&path)?;
        match entry {
            Some(entry) if entry.matches(key) && entry.is_fresh(now, refresh_before) => {
                report::verbose(format_args!("cache hit: {}", path.display()));
                Ok(Some(entry.into()))
            }
            Some(entry) if entry.matches(key) => {
                report::verbose(format_args!(
                    "cache stale: {} (valid until {})",
                    path.display(),
                    clock::rfc3339(entry.valid_until())
                ));
                Ok(None)
            }
            Some(_) => {
                report::verbose(format_args!(
                    "cache file {} is for another key or version; replacing it",
                    path.display()
                ));
                Ok(None)
            }
            None => {
                report::verbose(format_args!("cache miss: {}", path.display()));
                Ok(None)
            }
        }
    }

    /// Signs a new token under the key's lock unless another process did so while we waited.
    /// `connection` labels the entry for `cache list` and `cache clear NAME`.
    pub fn refresh(
        &self,
        key: &CacheKey,
        connection: Option<&str>,
        now: impl Fn() -> SystemTime,
        refresh_before: Duration,
        sign: impl FnOnce() -> Result<Signed>,
    ) -> Result<Issued> {
        let record = |signed| Record::new(key, connection.map(str::to_string), signed);
        if !self.is_writable() {
            return sign().map(|signed| record(signed).into());
        }
        let lock_path = self.lock_path(key);
        let _lock = match self.lock(&lock_path)? {
            Some(lock) => lock,
            None => return sign().map(|signed| record(signed).into()),
        };
        // Looked at again under the lock: another process may have refreshed it meanwhile.
        if let Some(entry) = read_entry(&self.path_for(key))?
            .filter(|entry| entry.matches(key) && entry.is_fresh(now(), refresh_before))
        {
            report::verbose(format_args!(
                "another process refreshed {} while we waited",
                self.path_for(key).display()
            ));
            return Ok(entry.into());
        }
        let entry = record(sign()?);
        self.store(key, &entry);
        Ok(entry.into())
    }

    /// The key's exclusive lock, waited on for a bounded time. `None` when no lock file can be
    /// made (a read-only folder): signing goes on without the cache.
    fn lock(&self, path: &Path) -> Result<Option<File>> {
        let file = match crate::platform::files::open_lock_file(path) {
            Ok(file) => file,
            Err(err) if is_symlink_error(&err) => return Err(symlink_error(path)),
            Err(err) => {
                report::warn(format_args!(
                    "cannot create the lock file {}: {}; signing without a cache",
                    path.display(),
                    crate::error::describe_io(&err)
                ));
                return Ok(None);
            }
        };
        check_owner(
            &file.metadata().map_err(|e| Error::io("read", path, e))?,
            path,
            "lock file",
        )?;
        let wait = lock_wait();
        match crate::files::lock_within(&file, wait) {
            Ok(true) => Ok(Some(file)),
            Ok(false) => Err(Error::failure(format!(
                "another process has held the cache lock {} for over {}",
                path.display(),
                humantime::format_duration(wait)
            ))
            .hint("a hung rdsiam-helper (or its credential_process / SSO call) holds it; stop that process and retry")
            .hint(format!("or bypass the cache once with --no-cache; set {LOCK_WAIT_VARIABLE}=SECONDS to wait longer"))),
            Err(err) => {
                report::warn(format_args!(
                    "cannot lock {}: {}; signing without a cache",
                    path.display(),
                    crate::error::describe_io(&err)
                ));
                Ok(None)
            }
        }
    }

    /// Writes the entry atomically (0600 temp file, fsync, rename). A failure here (full disk)
    /// costs only the next call's speed, so it is a warning.
    fn store(&self, key: &CacheKey, entry: &Record) {
        let path = self.path_for(key);
        if let Err(err) = write_private_json(self.dir(), &path, entry) {
            report::warn(format_args!(
                "cannot write the cache file {}: {}; the token was not cached",
                path.display(),
                crate::error::describe_io(&err)
            ));
        } else {
            report::verbose(format_args!("cached the new token in {}", path.display()));
        }
    }

    /// Every entry in the folder, for `cache list`; unreadable files are skipped.
    pub fn entries(&self) -> Result<Vec<(PathBuf, Listed)>> {
        let mut entries = Vec::new();
        for path in self.files(EXTENSION)? {
            if let Ok(Some(entry)) = read_entry(&path) {
                entries.push((path, entry.listed()));
            }
        }
        entries.sort_by(|a, b| (&a.1.connection, &a.1.host).cmp(&(&b.1.connection, &b.1.host)));
        Ok(entries)
    }

    /// Removes the key's files; returns whether a token was there.
    pub fn remove(&self, key: &CacheKey) -> Result<bool> {
        let existed = remove_if_present(&self.path_for(key))?;
        remove_if_present(&self.lock_path(key))?;
        Ok(existed)
    }
}

/// Reads one cache file without following a symlink. `Ok(None)`: absent or not a cache entry.
fn read_entry(path: &Path) -> Result<Option<Record>> {
    read_private_json(path, 64 * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::folder::stem;
    use std::os::unix::fs::PermissionsExt;

    use crate::cache::key::{KeyRegion, SignedFor, Signer, SourceKey};
    use crate::values::DsqlAction;

    fn profile(name: &str) -> SourceKey {
        SourceKey {
            signer: Signer::Profile(name.into()),
            settings: Vec::new(),
        }
    }

    fn key() -> CacheKey {
        CacheKey {
            host: "Db.Example.COM".parse().unwrap(),
            port: "5432".parse().unwrap(),
            user: "jane".parse().unwrap(),
            region: KeyRegion::Given("us-east-1".parse().unwrap()),
            source: profile("a"),
            signed_for: SignedFor::Rds,
        }
    }

    fn entry(key: &CacheKey, signed_at: i64, valid_until: i64) -> Record {
        Record::new(
            key,
            None,
            Signed {
                token: Token::new("tok".into()),
                user: "jane".parse().unwrap(),
                region: "us-east-1".parse().unwrap(),
                at: clock::from_unix_seconds(signed_at),
                valid_until: clock::from_unix_seconds(valid_until),
                lifetime: TOKEN_EXPIRES_IN,
            },
        )
    }

    #[test]
    fn an_entry_lives_its_own_lifetime_and_never_past_a_week() {
        let mut e = entry(&key(), 1000, 10_000);
        e.lifetime = 3600;
        let five_min = Duration::from_secs(300);
        assert!(e.is_fresh(clock::from_unix_seconds(4299), five_min));
        assert!(!e.is_fresh(clock::from_unix_seconds(4300), five_min));
        assert_eq!(e.valid_until(), clock::from_unix_seconds(4600));
        e.lifetime = u64::MAX;
        e.valid_until = i64::MAX;
        assert_eq!(e.valid_until(), clock::from_unix_seconds(1000 + 604_800));
    }

    #[test]
    fn rds_keys_keep_their_file_and_dsql_keys_differ_by_action_and_lifetime() {
        // The stem of an RDS key before DSQL existed: an upgrade keeps the cached tokens.
        assert_eq!(
            key().file_stem(),
            stem(&["db.example.com", "5432", "jane", "us-east-1", "profile:a"])
        );
        let dsql = |action, secs| CacheKey {
            signed_for: SignedFor::Dsql {
                action,
                lifetime: Duration::from_secs(secs),
            },
            ..key()
        };
        // And a DSQL key's stem as it was when its part was the string `dsql:ACTION:SECONDS`.
        assert_eq!(
            dsql(DsqlAction::DbConnectAdmin, 900).file_stem(),
            stem(&[
                "db.example.com",
                "5432",
                "jane",
                "us-east-1",
                "profile:a",
                "dsql:DbConnectAdmin:900"
            ])
        );
        let stems = [
            key().file_stem(),
            dsql(DsqlAction::DbConnect, 900).file_stem(),
            dsql(DsqlAction::DbConnectAdmin, 900).file_stem(),
            dsql(DsqlAction::DbConnect, 3600).file_stem(),
        ];
        for (i, a) in stems.iter().enumerate() {
            for b in &stems[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert!(!entry(&key(), 1000, 1900).matches(&dsql(DsqlAction::DbConnect, 900)));
    }

    #[test]
    fn a_record_from_before_dsql_reads_with_rds_lifetime() {
        let mut json = serde_json::to_value(entry(&key(), 1000, 1900)).unwrap();
        let object = json.as_object_mut().unwrap();
        object.remove("lifetime");
        assert!(!object.contains_key("signed_for"));
        let record: Record = serde_json::from_value(json).unwrap();
        assert_eq!(record.lifetime, 900);
        assert!(record.matches(&key()));
    }

    #[test]
    fn keys_differ_by_profile_and_ignore_host_case() {
        let a = key();
        let b = CacheKey {
            source: profile("b"),
            ..key()
        };
        let lower = CacheKey {
            host: "db.example.com".parse().unwrap(),
            ..key()
        };
        assert_ne!(a.file_stem(), b.file_stem());
        assert_eq!(a.file_stem(), lower.file_stem());
        assert_eq!(a.file_stem().len(), 32);
    }

    #[test]
    fn an_entry_is_never_trusted_past_fifteen_minutes_whatever_it_claims() {
        let e = entry(&key(), 1000, 100_000);
        let five_min = Duration::from_secs(300);
        assert!(e.is_fresh(clock::from_unix_seconds(1599), five_min));
        assert!(!e.is_fresh(clock::from_unix_seconds(1700), five_min));
        assert_eq!(e.valid_until(), clock::from_unix_seconds(1900));
    }

    #[test]
    fn a_cache_file_others_could_read_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("entry.json");
        write_private_json(dir.path(), &path, &entry(&key(), 1000, 1900)).unwrap();
        assert!(read_entry(&path).unwrap().is_some());
        for mode in [0o644, 0o640, 0o606] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            assert!(read_entry(&path).unwrap().is_none(), "{mode:o}");
        }
    }

    #[test]
    fn freshness_keeps_refresh_before_and_rejects_a_clock_gone_back() {
        let e = entry(&key(), 1000, 1900);
        let five_min = Duration::from_secs(300);
        assert!(e.is_fresh(clock::from_unix_seconds(1000), five_min));
        assert!(e.is_fresh(clock::from_unix_seconds(1599), five_min));
        assert!(!e.is_fresh(clock::from_unix_seconds(1600), five_min));
        assert!(!e.is_fresh(clock::from_unix_seconds(5000), five_min));
        assert!(
            e.is_fresh(clock::from_unix_seconds(950), five_min),
            "small skew is tolerated"
        );
        assert!(
            !e.is_fresh(clock::from_unix_seconds(100), five_min),
            "clock moved back"
        );
    }

    #[test]
    fn an_entry_for_another_key_is_not_served() {
        let e = entry(&key(), 1000, 1900);
        assert!(e.matches(&key()));
        assert!(!e.matches(&CacheKey {
            port: "5433".parse().unwrap(),
            ..key()
        }));
        assert!(!e.matches(&CacheKey {
            source: SourceKey {
                signer: Signer::AccessKey("AKID".into()),
                settings: Vec::new(),
            },
            ..key()
        }));
        assert!(!e.matches(&CacheKey {
            region: KeyRegion::FromProfile,
            ..key()
        }));
    }
}
