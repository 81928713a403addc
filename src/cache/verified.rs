//! STS's verdict on a set of credentials (`token --verify`, `verify = true`): kept beside the
//! tokens so that STS is asked once per credential lifetime. No secret: who signs, a hash of
//! the whole credential (so another secret key under the same key id is not vouched for), and
//! until when STS accepted them.

use super::folder::{CLOCK_SKEW, Cache, read_private_json, stem, write_private_json};
use crate::clock;
use crate::report;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::SystemTime;

pub(super) const EXTENSION: &str = "verified";
/// 2: the record holds the credential's hash; a version 1 record (keyed by source alone) is
/// a miss.
const FORMAT_VERSION: u32 = 2;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    version: u32,
    source: String,
    credentials: String,
    verified_at: i64,
    valid_until: i64,
}

impl Cache {
    fn verified_path(&self, source: &str) -> PathBuf {
        self.dir()
            .join(format!("{}.{EXTENSION}", stem(&["verified", source])))
    }

    /// Until when STS accepted these credentials (`fingerprint`, see `credential_fingerprint`)
    /// of `source`, if that is still ahead of `now`.
    pub fn verified_until(
        &self,
        source: &str,
        fingerprint: &str,
        now: SystemTime,
    ) -> Option<SystemTime> {
        let path = self.verified_path(source);
        let record: Record = read_private_json(&path, 4096).ok().flatten()?;
        let now_s = clock::unix_seconds(now);
        let usable = record.version == FORMAT_VERSION
            && record.source == source
            && record.credentials == fingerprint
            && record.verified_at <= now_s + CLOCK_SKEW.as_secs() as i64
            && now_s < record.valid_until;
        usable.then(|| {
            report::verbose(format_args!(
                "credentials verified with STS until {} ({})",
                clock::rfc3339(clock::from_unix_seconds(record.valid_until)),
                path.display()
            ));
            clock::from_unix_seconds(record.valid_until)
        })
    }

    /// Keeps STS's acceptance of `source` until `valid_until`. Failing to write costs only
    /// the next call an STS request.
    pub fn keep_verified(
        &self,
        source: &str,
        fingerprint: &str,
        now: SystemTime,
        valid_until: SystemTime,
    ) {
        let path = self.verified_path(source);
        let record = Record {
            version: FORMAT_VERSION,
            source: source.to_string(),
            credentials: fingerprint.to_string(),
            verified_at: clock::unix_seconds(now),
            valid_until: clock::unix_seconds(valid_until),
        };
        if let Err(err) = write_private_json(self.dir(), &path, &record) {
            report::warn(format_args!(
                "cannot write {}: {}; the credentials will be checked again next time",
                path.display(),
                crate::error::describe_io(&err)
            ));
        }
    }
}

/// A hash of the whole credential: key id, secret key, session token and expiry, each
/// length-prefixed so that no two credentials run together into the same bytes. Enough to tell
/// credentials apart; nothing to recover a secret from.
pub fn credential_fingerprint(credentials: &aws_credential_types::Credentials) -> String {
    use sha2::{Digest, Sha256};
    let expiry = credentials
        .expiry()
        .map(|e| clock::unix_seconds(e).to_string())
        .unwrap_or_default();
    let mut hash = Sha256::new();
    for part in [
        credentials.access_key_id(),
        credentials.secret_access_key(),
        credentials.session_token().unwrap_or_default(),
        expiry.as_str(),
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}
