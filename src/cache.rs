//! The token cache: one JSON file per key in a private folder. Readers take no lock (files are
//! replaced by an atomic rename); a refresh takes the key's lock, looks again, then signs once.
//! Pure file logic: the caller passes the clock.

use crate::clock;
use crate::error::{Error, Result};
use crate::report;
use crate::token::{TOKEN_EXPIRES_IN, Token};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

const FORMAT_VERSION: u32 = 1;
/// A refresh resolves credentials (an SSO call, a credential_process) and signs: seconds at
/// worst. A lock held far longer belongs to a hung process; waiting forever would hang the GUI
/// client that called us.
const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(20);
pub const LOCK_WAIT_VARIABLE: &str = "RDSIAM_HELPER_LOCK_TIMEOUT";
/// A token signed "in the future" means the clock moved backwards; a little skew is normal.
const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Everything that changes the token or who signs it. Two AWS profiles never share a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// The region, or `(profile)` when it comes from the AWS profile.
    pub region: String,
    /// `profile:NAME` or `env:ACCESS_KEY_ID`, plus what else selects the credentials.
    pub source: String,
}

impl CacheKey {
    pub fn file_stem(&self) -> String {
        let mut hash = Sha256::new();
        for part in [
            &self.host.to_ascii_lowercase(),
            &self.port.to_string(),
            &self.user,
            &self.region,
            &self.source,
        ] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        let digest = hash.finalize();
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }
}

/// One cache file. `valid_until` is `min(signed_at + 900 s, credential expiry)`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CachedToken {
    pub version: u32,
    pub connection: Option<String>,
    pub host: String,
    pub port: u16,
    /// The key's user (a `{session_name}` template stays a template here) ...
    pub user: String,
    /// ... and the user the token was signed for.
    pub signed_user: String,
    pub region: String,
    pub signed_region: String,
    pub source: String,
    pub signed_at: i64,
    pub valid_until: i64,
    #[serde(with = "token_serde")]
    pub token: Token,
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

impl CachedToken {
    pub fn new(key: &CacheKey, connection: Option<String>, signed: Signed) -> CachedToken {
        CachedToken {
            version: FORMAT_VERSION,
            connection,
            host: key.host.to_ascii_lowercase(),
            port: key.port,
            user: key.user.clone(),
            signed_user: signed.user,
            region: key.region.clone(),
            signed_region: signed.region,
            source: key.source.clone(),
            signed_at: clock::unix_seconds(signed.at),
            valid_until: clock::unix_seconds(signed.valid_until),
            token: signed.token,
        }
    }

    /// Served only while it keeps at least `refresh_before` of life, and never when the clock
    /// has moved back past its signing time.
    pub fn is_fresh(&self, now: SystemTime, refresh_before: Duration) -> bool {
        let now_s = clock::unix_seconds(now);
        self.signed_at <= now_s + CLOCK_SKEW.as_secs() as i64
            && now_s
                + refresh_before.as_secs() as i64
                + i64::from(refresh_before.subsec_nanos() > 0)
                < self.valid_until_secs()
    }

    /// RDS refuses a token 15 minutes after signing whatever a file claims, so an entry is
    /// never trusted beyond that.
    fn valid_until_secs(&self) -> i64 {
        self.valid_until.min(
            self.signed_at
                .saturating_add(TOKEN_EXPIRES_IN.as_secs() as i64),
        )
    }

    pub fn valid_until(&self) -> SystemTime {
        clock::from_unix_seconds(self.valid_until_secs())
    }

    fn matches(&self, key: &CacheKey) -> bool {
        self.version == FORMAT_VERSION
            && self.host == key.host.to_ascii_lowercase()
            && self.port == key.port
            && self.user == key.user
            && self.region == key.region
            && self.source == key.source
            && !self.token.expose().is_empty()
    }
}

/// What a fresh signing produced, before it is keyed.
pub struct Signed {
    pub token: Token,
    pub user: String,
    pub region: String,
    pub at: SystemTime,
    pub valid_until: SystemTime,
}

#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    /// False when the folder cannot be created (a read-only parent): tokens are then signed
    /// fresh each time, with a warning. A folder that exists but cannot be written is found
    /// out at the lock file or the write, with the same outcome.
    writable: bool,
}

/// `$RDSIAM_HELPER_CACHE_DIR`, else the platform cache folder + `rdsiam-helper`.
pub fn default_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("RDSIAM_HELPER_CACHE_DIR").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    dirs::cache_dir()
        .map(|d| d.join("rdsiam-helper"))
        .ok_or_else(|| {
            Error::failure("cannot find a cache folder (no HOME?)")
                .hint("set HOME, or RDSIAM_HELPER_CACHE_DIR")
        })
}

/// Whether `dir` is the folder RDSIAM_HELPER_CACHE_DIR names.
fn named_by_user(dir: &Path) -> bool {
    std::env::var_os("RDSIAM_HELPER_CACHE_DIR").is_some_and(|named| Path::new(&named) == dir)
}

impl Cache {
    /// Opens (creating it 0700 if needed) the cache folder. A folder that others could write to
    /// is refused: someone could plant a token file there.
    pub fn open(dir: PathBuf) -> Result<Cache> {
        crate::files::require_home_for(&dir)?;
        if let Err(err) = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
        {
            report::warn(format_args!(
                "cannot create the cache folder {}: {err}; signing without a cache",
                dir.display()
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
        if meta.mode() & 0o022 != 0 {
            return Err(Error::failure(format!(
                "the cache folder {} is writable by other users (mode {:o}); refusing to use it",
                dir.display(),
                meta.mode() & 0o777
            ))
            .hint(format!(
                "run `chmod 700 {}`, or set RDSIAM_HELPER_CACHE_DIR to a private folder",
                dir.display()
            )));
        }
        if meta.mode() & 0o077 != 0 && !named_by_user(&dir) {
            // Our own folder, merely readable by others: tighten it rather than refuse. A
            // folder the user named is theirs: used as it is (every file in it is 0600).
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        }
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

    pub fn path_for(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}.json", key.file_stem()))
    }

    fn lock_path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}.lock", key.file_stem()))
    }

    /// The cached token for `key` if it is still fresh. Unreadable or foreign content is a
    /// miss (it will be replaced); a symlink or another user's file is an error.
    pub fn fresh(
        &self,
        key: &CacheKey,
        now: SystemTime,
        refresh_before: Duration,
    ) -> Result<Option<CachedToken>> {
        let path = self.path_for(key);
        let entry = read_entry(&path)?;
        match entry {
            Some(entry) if entry.matches(key) && entry.is_fresh(now, refresh_before) => {
                report::verbose(format_args!("cache hit: {}", path.display()));
                Ok(Some(entry))
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
    pub fn refresh(
        &self,
        key: &CacheKey,
        now: impl Fn() -> SystemTime,
        refresh_before: Duration,
        sign: impl FnOnce() -> Result<CachedToken>,
    ) -> Result<CachedToken> {
        if !self.writable {
            return sign();
        }
        let lock_path = self.lock_path(key);
        let _lock = match self.lock(&lock_path)? {
            Some(lock) => lock,
            None => return sign(),
        };
        if let Some(entry) = self.fresh(key, now(), refresh_before)? {
            report::verbose(format_args!(
                "another process refreshed {} while we waited",
                self.path_for(key).display()
            ));
            return Ok(entry);
        }
        let entry = sign()?;
        self.store(key, &entry);
        Ok(entry)
    }

    /// The key's exclusive lock, waited on for a bounded time. `None` when no lock file can be
    /// made (a read-only folder): signing goes on without the cache.
    fn lock(&self, path: &Path) -> Result<Option<File>> {
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
        {
            Ok(file) => file,
            Err(err) if is_symlink_error(&err) => return Err(symlink_error(path)),
            Err(err) => {
                report::warn(format_args!(
                    "cannot create the lock file {}: {err}; signing without a cache",
                    path.display()
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
        let started = Instant::now();
        let mut pause = Duration::from_millis(2);
        loop {
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => return Ok(Some(file)),
                Err(fs4::TryLockError::WouldBlock) if started.elapsed() < wait => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(fs4::TryLockError::WouldBlock) => {
                    return Err(Error::failure(format!(
                        "another process has held the cache lock {} for over {}",
                        path.display(),
                        humantime::format_duration(wait)
                    ))
                    .hint("a hung rdsiam-helper (or its credential_process / SSO call) holds it; stop that process and retry")
                    .hint(format!("or bypass the cache once with --no-cache; set {LOCK_WAIT_VARIABLE}=SECONDS to wait longer")));
                }
                Err(fs4::TryLockError::Error(err)) => {
                    report::warn(format_args!(
                        "cannot lock {}: {err}; signing without a cache",
                        path.display()
                    ));
                    return Ok(None);
                }
            }
        }
    }

    /// Writes the entry atomically (0600 temp file, fsync, rename). A failure here (full disk)
    /// costs only the next call's speed, so it is a warning.
    fn store(&self, key: &CacheKey, entry: &CachedToken) {
        let path = self.path_for(key);
        if let Err(err) = write_atomically(&self.dir, &path, entry) {
            report::warn(format_args!(
                "cannot write the cache file {}: {err}; the token was not cached",
                path.display()
            ));
        } else {
            report::verbose(format_args!("cached the new token in {}", path.display()));
        }
    }

    /// Every entry in the folder, for `cache list`; unreadable files are skipped.
    pub fn entries(&self) -> Result<Vec<(PathBuf, CachedToken)>> {
        let mut entries = Vec::new();
        let read = match std::fs::read_dir(&self.dir) {
            Ok(read) => read,
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(entries),
            Err(err) => return Err(Error::io("list the cache folder", &self.dir, err)),
        };
        for item in read.flatten() {
            let path = item.path();
            if !is_cache_file(&path, "json") {
                continue;
            }
            if let Ok(Some(entry)) = read_entry(&path) {
                entries.push((path, entry));
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

    /// Removes every entry signed for connection `name`, whatever environment made it (a GUI
    /// client's empty environment gives another key than the shell's).
    pub fn remove_connection(&self, name: &str) -> Result<usize> {
        let mut removed = 0;
        for (path, entry) in self.entries()? {
            if entry.connection.as_deref() == Some(name) {
                removed += usize::from(remove_if_present(&path)?);
                remove_if_present(&path.with_extension("lock"))?;
            }
        }
        Ok(removed)
    }

    /// Removes every file this tool keeps in the folder, nothing else; returns the token count.
    pub fn clear(&self) -> Result<usize> {
        let mut removed = 0;
        let read = match std::fs::read_dir(&self.dir) {
            Ok(read) => read,
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(0),
            Err(err) => return Err(Error::io("list the cache folder", &self.dir, err)),
        };
        for item in read.flatten() {
            let path = item.path();
            if is_cache_file(&path, "json") {
                removed += usize::from(remove_if_present(&path)?);
            } else if is_cache_file(&path, "lock")
                || is_cache_file(&path, crate::identity_cache::EXTENSION)
                || is_leftover(&path, ".tmp-")
            {
                remove_if_present(&path)?;
            } else if is_leftover(&path, "rdsiam-helper-client-") || is_leftover(&path, "client-") {
                // An option file with a token, left by an `exec`/`connect` that was killed.
                std::fs::remove_dir_all(&path).map_err(|e| Error::io("remove", &path, e))?;
            }
        }
        Ok(removed)
    }
}

/// A temp file of an interrupted write, or a client's private folder (`child::private_dir`).
fn is_leftover(path: &Path, prefix: &str) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(prefix))
}

fn is_cache_file(path: &Path, extension: &str) -> bool {
    path.extension().is_some_and(|e| e == extension)
        && path
            .file_stem()
            .and_then(|s| s.to_str())
            .is_some_and(|s| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn remove_if_present(path: &Path) -> Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(false),
        Err(err) => Err(Error::io("remove", path, err)),
    }
}

fn lock_wait() -> Duration {
    std::env::var(LOCK_WAIT_VARIABLE)
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_LOCK_WAIT)
}

/// Reads one cache file without following a symlink. `Ok(None)`: absent or not a cache entry.
fn read_entry(path: &Path) -> Result<Option<CachedToken>> {
    read_private_json(path, 64 * 1024)
}

fn write_atomically(dir: &Path, path: &Path, entry: &CachedToken) -> std::io::Result<()> {
    write_private_json(dir, path, entry)
}

/// One JSON file of the cache folder, read without following a symlink and only if it is
/// ours. `Ok(None)`: absent, or not something we wrote (it will be replaced); a symlink or
/// another user's file is an error.
pub(crate) fn read_private_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    max_len: u64,
) -> Result<Option<T>> {
    let mut file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
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
    if !meta.is_file() || meta.len() > max_len || meta.mode() & 0o077 != 0 {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    if file.read_to_end(&mut bytes).is_err() {
        return Ok(None);
    }
    Ok(serde_json::from_slice(&bytes).ok())
}

/// Replaces `path` atomically: a 0600 temp file in `dir`, fsync, rename.
pub(crate) fn write_private_json<T: Serialize>(
    dir: &Path,
    path: &Path,
    value: &T,
) -> std::io::Result<()> {
    // tempfile creates the file 0600 before any content is written.
    let mut temp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    serde_json::to_writer(&mut temp, value)?;
    temp.write_all(b"\n")?;
    temp.as_file().sync_all()?;
    // rename replaces a symlink or a foreign file at `path` itself, never what it points to.
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn is_symlink_error(err: &std::io::Error) -> bool {
    err.raw_os_error() == Some(libc::ELOOP)
}

fn symlink_error(path: &Path) -> Error {
    Error::failure(format!(
        "the cache file {} is a symbolic link; refusing to read through it",
        path.display()
    ))
    .hint(format!(
        "remove it (`rm {}`) and run the command again",
        path.display()
    ))
}

fn check_owner(meta: &std::fs::Metadata, path: &Path, what: &str) -> Result<()> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(Error::failure(format!(
            "the {what} {} belongs to user id {}, not to you (uid {me}); refusing to use it",
            path.display(),
            meta.uid()
        ))
        .hint("point RDSIAM_HELPER_CACHE_DIR at a folder of your own"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CacheKey {
        CacheKey {
            host: "Db.Example.COM".into(),
            port: 5432,
            user: "jane".into(),
            region: "us-east-1".into(),
            source: "profile:a".into(),
        }
    }

    fn entry(key: &CacheKey, signed_at: i64, valid_until: i64) -> CachedToken {
        CachedToken::new(
            key,
            None,
            Signed {
                token: Token::new("tok".into()),
                user: key.user.clone(),
                region: key.region.clone(),
                at: clock::from_unix_seconds(signed_at),
                valid_until: clock::from_unix_seconds(valid_until),
            },
        )
    }

    #[test]
    fn keys_differ_by_profile_and_ignore_host_case() {
        let a = key();
        let b = CacheKey {
            source: "profile:b".into(),
            ..key()
        };
        let lower = CacheKey {
            host: "db.example.com".into(),
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
            port: 5433,
            ..key()
        }));
        assert!(!e.matches(&CacheKey {
            source: "env:AKID".into(),
            ..key()
        }));
    }
}
