//! `token --verify` and `verify = true`: expired or revoked credentials still sign a token,
//! which the server then refuses with nothing but "PAM authentication failed" (aws-cli #4613).
//! So before a token is printed, STS GetCallerIdentity checks the credentials, once per
//! credential lifetime: the verdict is kept in the cache folder beside the tokens.

use crate::aws_api::Aws;
use crate::cache::{self, CacheKey};
use crate::clock;
use crate::config::Connection;
use crate::credentials;
use crate::error::{Error, Result};
use crate::report;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

const FORMAT_VERSION: u32 = 1;
pub const EXTENSION: &str = "verified";
/// Long-term keys never expire but can be revoked: they are asked about again after an hour.
const WITHOUT_EXPIRY: Duration = Duration::from_secs(3600);

/// No secret: who signs, and until when STS accepted them.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    version: u32,
    source: String,
    verified_at: i64,
    valid_until: i64,
}

/// Ok when STS accepted these credentials within their lifetime; else asks STS now. Refused
/// or expired credentials are exit 3, before anything reaches stdout.
pub fn check(connection: &Connection, key: &CacheKey) -> Result<()> {
    // Opened as for tokens: a folder others can write to is refused before a record is read.
    let cache = cache::Cache::open(cache::default_dir()?)?;
    let dir = cache.dir();
    let path = record_path(dir, &key.source);
    let now = clock::now();
    if let Some(record) = read(&path)?
        && record.version == FORMAT_VERSION
        && record.source == key.source
        && record.verified_at <= clock::unix_seconds(now) + 60
        && clock::unix_seconds(now) < record.valid_until
    {
        report::verbose(format_args!(
            "credentials verified with STS until {} ({})",
            clock::rfc3339(clock::from_unix_seconds(record.valid_until)),
            path.display()
        ));
        return Ok(());
    }
    let resolved = credentials::resolve(
        connection.aws_profile.as_deref(),
        connection.signing_region().as_deref(),
    )?;
    let expiry = resolved.credentials.expiry();
    if let Some(expiry) = expiry.filter(|e| *e <= now) {
        return Err(Error::credentials(format!(
            "the AWS credentials for {} expired at {}",
            connection.display_name(),
            clock::rfc3339(expiry)
        ))
        .hint(renew_hint(connection)));
    }
    let aws = Aws::from_resolved(&resolved, connection.aws_profile.as_deref())?;
    let caller = aws.caller().map_err(|err| {
        let Error { kind, message, .. } = err;
        Error {
            kind,
            message: format!(
                "verifying the credentials for {}: {message}",
                connection.display_name()
            ),
            hints: Vec::new(),
        }
        .hint(renew_hint(connection))
    })?;
    report::verbose(format_args!(
        "STS accepted the credentials of {}",
        caller.arn
    ));
    let valid_until = expiry
        .unwrap_or(now + WITHOUT_EXPIRY)
        .min(now + WITHOUT_EXPIRY * 12);
    store(dir, &path, &key.source, now, valid_until);
    Ok(())
}

fn renew_hint(connection: &Connection) -> String {
    match &connection.aws_profile {
        Some(profile) => format!(
            "renew them: `aws sso login --profile {profile}` for SSO, or fix the profile's credential source"
        ),
        None => "renew AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN".to_string(),
    }
}

fn record_path(dir: &Path, source: &str) -> PathBuf {
    let mut hash = Sha256::new();
    for part in ["verified", source] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let stem: String = hash
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    dir.join(format!("{stem}.{EXTENSION}"))
}

// The cache module's private-file helpers, used in this one place.
fn read(path: &Path) -> Result<Option<Record>> {
    cache::read_private_json(path, 4096)
}

fn store(dir: &Path, path: &Path, source: &str, now: SystemTime, valid_until: SystemTime) {
    let record = Record {
        version: FORMAT_VERSION,
        source: source.to_string(),
        verified_at: clock::unix_seconds(now),
        valid_until: clock::unix_seconds(valid_until),
    };
    if let Err(err) = cache::write_private_json(dir, path, &record) {
        report::warn(format_args!(
            "cannot write {}: {err}; the credentials will be checked again next time",
            path.display()
        ));
    }
}
