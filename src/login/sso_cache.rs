//! The AWS CLI's SSO token cache, `~/.aws/sso/cache/<sha1>.json`: the file `aws`, botocore and
//! aws-config read, so one sign-in serves them all. Also our client registrations, kept beside
//! them as the AWS CLI keeps its own, and the lock that lets one sign-in run at a time.

use crate::clock;
use crate::error::{Error, Result};
use crate::platform::{files, privacy};
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};
use zeroize::Zeroizing;

/// The token file's fields, named as botocore and aws-config read them.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenFile {
    pub start_url: String,
    pub region: String,
    pub access_token: Zeroizing<String>,
    pub expires_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Zeroizing<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Zeroizing<String>>,
}

/// A client registration (RegisterClient's answer), reused until it nears its expiry.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationFile {
    pub client_id: String,
    pub client_secret: Zeroizing<String>,
    pub expires_at: String,
}

pub fn dir() -> Result<PathBuf> {
    let home = dirs::home_dir().ok_or_else(|| {
        Error::failure("cannot find the home folder for the AWS SSO token cache").hint("set HOME")
    })?;
    Ok(home.join(".aws").join("sso").join("cache"))
}

/// `<sha1 of id>`: the session name for `sso-session` profiles, the start URL for legacy ones.
pub fn file_stem(id: &str) -> String {
    Sha1::digest(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn token_path(id: &str) -> Result<PathBuf> {
    Ok(dir()?.join(format!("{}.json", file_stem(id))))
}

/// The cached token, if there is a readable one.
pub fn read_token(id: &str) -> Option<TokenFile> {
    let text = Zeroizing::new(std::fs::read(token_path(id).ok()?).ok()?);
    serde_json::from_slice(&text).ok()
}

/// Whether the cached token for `id` still has `margin` of life and was written since `since`.
pub fn has_fresh_token(id: &str, margin: Duration, since: SystemTime) -> bool {
    let Ok(path) = token_path(id) else {
        return false;
    };
    let written = std::fs::metadata(&path).and_then(|m| m.modified());
    let Some(token) = read_token(id) else {
        return false;
    };
    let expires = clock::parse(&token.expires_at);
    written.is_ok_and(|w| w >= since) && expires.is_some_and(|e| e > clock::now() + margin)
}

pub fn write_token(id: &str, token: &TokenFile) -> Result<PathBuf> {
    let path = token_path(id)?;
    let json = Zeroizing::new(
        serde_json::to_vec_pretty(token)
            .map_err(|e| Error::failure("cannot encode the SSO token").caused_by(e))?,
    );
    write_private(&path, &json)?;
    Ok(path)
}

/// The registration file's name: what the registration was made for.
fn registration_path(key: &str) -> Result<PathBuf> {
    Ok(dir()?.join(format!("{}.json", file_stem(key))))
}

/// A registration that is valid for another 15 minutes at least, as the AWS CLI reuses them.
pub fn read_registration(key: &str) -> Option<RegistrationFile> {
    let text = Zeroizing::new(std::fs::read(registration_path(key).ok()?).ok()?);
    let registration: RegistrationFile = serde_json::from_slice(&text).ok()?;
    let expires = clock::parse(&registration.expires_at)?;
    (expires > clock::now() + Duration::from_secs(15 * 60)).then_some(registration)
}

pub fn write_registration(key: &str, registration: &RegistrationFile) -> Result<()> {
    let json = Zeroizing::new(
        serde_json::to_vec_pretty(registration)
            .map_err(|e| Error::failure("cannot encode the registration").caused_by(e))?,
    );
    write_private(&registration_path(key)?, &json)
}

/// A private folder, then a temp file created 0600 before any content, fsync, rename: a reader
/// sees the old file or the new one, never half of one, and no one else ever can read it.
fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::files::require_home_for(dir)?;
    privacy::create_dir(dir).map_err(|e| Error::io("create the folder", dir, e))?;
    let mut temp = privacy::temp_file_in(dir, ".rdsiam-helper-", privacy::Access::PRIVATE)
        .map_err(|e| Error::io("create a temporary file in", dir, e))?;
    temp.write_all(contents)
        .and_then(|_| temp.as_file().sync_all())
        .map_err(|e| Error::io("write", temp.path(), e))?;
    temp.persist(path)
        .map_err(|e| Error::io("replace", path, e.error))?;
    Ok(())
}

/// The sign-in lock for `id`: one sign-in (one browser window) at a time across processes.
/// Held until dropped. `Ok(None)` when the wait ran out. The `bool` says whether we waited.
pub fn lock(id: &str, until: Instant) -> Result<Option<(File, bool)>> {
    let dir = dir()?;
    crate::files::require_home_for(&dir)?;
    privacy::create_dir(&dir).map_err(|e| Error::io("create the folder", &dir, e))?;
    let path = dir.join(format!("rdsiam-helper-login-{}.lock", file_stem(id)));
    let file =
        files::open_lock_file(&path).map_err(|e| Error::io("open the sign-in lock", &path, e))?;
    let lock =
        |wait| crate::files::lock_within(&file, wait).map_err(|e| Error::io("lock", &path, e));
    if lock(Duration::ZERO)? {
        return Ok(Some((file, false)));
    }
    // Another process is signing in: wait for it, then look at what it left.
    match lock(until.saturating_duration_since(Instant::now()))? {
        true => Ok(Some((file, true))),
        false => Ok(None),
    }
}
