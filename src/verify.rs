//! `token --verify` and `verify = true`: expired or revoked credentials still sign a token,
//! which the server then refuses with nothing but "PAM authentication failed" (aws-cli #4613).
//! So before a token is printed, STS GetCallerIdentity checks the credentials, once per
//! credential lifetime: the verdict is kept in the cache folder beside the tokens.

use crate::aws_api::Aws;
use crate::cache::{self, CacheKey};
use crate::clock;
use crate::config::Connection;
use crate::credentials::{self, Resolved};
use crate::error::Result;
use crate::report;
use std::time::Duration;

/// Long-term keys never expire but can be revoked: they are asked about again after an hour.
const WITHOUT_EXPIRY: Duration = Duration::from_secs(3600);

/// The credentials, once STS has accepted them within their lifetime: the record kept in the
/// cache folder vouches for exactly these (their whole hash, not the key id alone), else STS is
/// asked now. With `use_record` false (`--no-cache`) STS is always asked. Refused or expired
/// credentials are exit 3, before anything reaches stdout. The credentials are returned so that
/// a token signed next uses the very ones that were checked.
pub fn check(connection: &Connection, key: &CacheKey, use_record: bool) -> Result<Resolved> {
    let resolved = credentials::resolve(
        connection.aws_profile.as_ref(),
        connection.signing_region().as_ref(),
    )?;
    let expiry = resolved.credentials.expiry();
    credentials::check_not_expired(connection, expiry, || resolved.source())?;
    let fingerprint = cache::credential_fingerprint(&resolved.credentials);
    // Opened as for tokens: a folder others can write to is refused before a record is read.
    let cache = match use_record {
        true => Some(cache::Cache::open(cache::default_dir()?)?),
        false => None,
    };
    let now = clock::now();
    let source = key.source.to_string();
    if let Some(cache) = &cache
        && cache.verified_until(&source, &fingerprint, now).is_some()
    {
        return Ok(resolved);
    }
    let aws = Aws::from_resolved(&resolved, connection.aws_profile.as_ref())?;
    let caller = aws.caller().map_err(|err| {
        err.within(format!(
            "verifying the credentials for {}",
            connection.label()
        ))
        .hint(renew_hint(connection))
    })?;
    report::verbose(format_args!(
        "STS accepted the credentials of {}",
        caller.arn
    ));
    let valid_until = expiry
        .unwrap_or(now + WITHOUT_EXPIRY)
        .min(now + WITHOUT_EXPIRY * 12);
    if let Some(cache) = &cache {
        cache.keep_verified(&source, &fingerprint, now, valid_until);
    }
    Ok(resolved)
}

fn renew_hint(connection: &Connection) -> String {
    match &connection.aws_profile {
        Some(profile) => format!(
            "renew the credentials of AWS profile `{profile}` (for SSO, `aws sso login --profile {profile}`)"
        ),
        None => "renew AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN".to_string(),
    }
}
