//! Getting a token for a connection: the cache first, then credentials and signing under the
//! cache's lock. Everything the token commands, `exec`, `connect` and `refresh` share.

use crate::cache::{self, Cache, CacheKey, CachedToken, Signed};
use crate::clock;
use crate::config::{Connection, SESSION_NAME_TEMPLATE};
use crate::credentials;
use crate::error::{Error, Result};
use crate::identity_cache::{self, IdentityKey};
use crate::report;
use crate::token::{self, Endpoint, TOKEN_EXPIRES_IN, Token};
use std::time::SystemTime;

pub fn cache_key(connection: &Connection) -> CacheKey {
    CacheKey {
        host: connection.host.to_ascii_lowercase(),
        port: connection.port,
        user: connection.user.clone(),
        region: credentials::region_key(connection.signing_region().as_deref()),
        source: credentials::source_key(connection.aws_profile.as_deref()),
    }
}

/// A token and what it was signed for: what commands get, never the cache's own record.
#[derive(Debug)]
pub struct Issued {
    pub token: Token,
    /// The database user signed for (`{session_name}` resolved).
    pub user: String,
    pub region: String,
    pub valid_until: SystemTime,
}

impl From<CachedToken> for Issued {
    fn from(entry: CachedToken) -> Issued {
        Issued {
            valid_until: entry.valid_until(),
            token: entry.token,
            user: entry.signed_user,
            region: entry.signed_region,
        }
    }
}

/// A token with at least `refresh_before` of life left: cached when possible.
pub fn issue(connection: &Connection, use_cache: bool) -> Result<Issued> {
    connection.warn_if_region_contradicts_host();
    let key = cache_key(connection);
    if connection.verify {
        crate::verify::check(connection, &key)?;
    }
    if !use_cache {
        return sign(connection, &key, None).map(Issued::from);
    }
    let cache = Cache::open(cache::default_dir()?)?;
    if let Some(entry) = cache.fresh(&key, clock::now(), connection.refresh_before)? {
        return Ok(entry.into());
    }
    cache
        .refresh(&key, clock::now, connection.refresh_before, || {
            sign(connection, &key, Some(&cache))
        })
        .map(Issued::from)
}

/// Resolves credentials and signs a new token (the slow path: aws-config, maybe network).
/// `cache` also keeps the `{session_name}` between tokens; `None` with --no-cache.
fn sign(connection: &Connection, key: &CacheKey, cache: Option<&Cache>) -> Result<CachedToken> {
    let resolved = credentials::resolve(
        connection.aws_profile.as_deref(),
        connection.signing_region().as_deref(),
    )?;
    let now = clock::now();
    let expiry = resolved.credentials.expiry();
    check_not_expired(connection, expiry)?;
    // The token entry records the name too, so a token hit needs neither STS nor this cache.
    let user = signing_user(connection, key, cache, &resolved)?;
    let endpoint = Endpoint {
        host: &connection.host,
        port: connection.port,
        user: &user,
        region: &resolved.region,
    };
    let token = token::sign_token(&resolved.credentials, &endpoint, now)
        .map_err(|e| Error::failure(e.to_string()))?;
    let valid_until = valid_until(connection, now, expiry);
    report::verbose(format_args!(
        "signed a token for {user}@{}:{} in {}, valid until {}",
        connection.host,
        connection.port,
        resolved.region,
        clock::rfc3339(valid_until)
    ));
    Ok(CachedToken::new(
        key,
        connection.name.clone(),
        Signed {
            token,
            user,
            region: resolved.region,
            at: now,
            valid_until,
        },
    ))
}

fn check_not_expired(connection: &Connection, expiry: Option<SystemTime>) -> Result<()> {
    let Some(expiry) = expiry.filter(|e| *e <= SystemTime::now()) else {
        return Ok(());
    };
    Err(Error::credentials(format!(
        "the AWS credentials for {} expired at {}",
        connection.display_name(),
        clock::rfc3339(expiry)
    ))
    .hint(match &connection.aws_profile {
        Some(profile) => format!("renew them: `aws sso login --profile {profile}` for SSO, or fix the profile's credential source"),
        None => "renew AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN".to_string(),
    }))
}

/// A token signed with temporary credentials dies with them, even before 15 minutes.
fn valid_until(connection: &Connection, now: SystemTime, expiry: Option<SystemTime>) -> SystemTime {
    let valid_until = match expiry {
        Some(expiry) => expiry.min(now + TOKEN_EXPIRES_IN),
        None => now + TOKEN_EXPIRES_IN,
    };
    if valid_until < now + connection.refresh_before {
        report::warn(format_args!(
            "the AWS credentials expire at {}, sooner than refresh_before; renew them soon",
            clock::rfc3339(valid_until)
        ));
    }
    valid_until
}

/// The configured user, or for `{session_name}` the caller's role session name (Identity
/// Center: the user name): cached for the credentials' lifetime, else asked of STS.
fn signing_user(
    connection: &Connection,
    key: &CacheKey,
    cache: Option<&Cache>,
    resolved: &credentials::Resolved,
) -> Result<String> {
    if !connection.user_is_session_name() {
        return Ok(connection.user.clone());
    }
    // Keyed by who signs, not by the connection: all connections signed with the same
    // credentials share the name.
    let identity = IdentityKey {
        source: &key.source,
        access_key_id: resolved.credentials.access_key_id(),
    };
    // A folder that could not be created was reported by Cache::open; nothing to read or keep.
    let cache_dir = cache.map(Cache::dir).filter(|dir| dir.is_dir());
    if let Some(dir) = cache_dir
        && let Some(name) = identity_cache::lookup(dir, &identity, clock::now())?
    {
        return Ok(name);
    }
    let name = session_name_from_sts(resolved)?;
    if let Some(dir) = cache_dir {
        identity_cache::store(
            dir,
            &identity,
            &name,
            clock::now(),
            resolved.credentials.expiry(),
        );
    }
    Ok(name)
}

fn session_name_from_sts(resolved: &credentials::Resolved) -> Result<String> {
    let arn = resolved.caller_arn()?;
    let shown = arn.escape_debug();
    let name = credentials::session_name(&arn).ok_or_else(|| {
        Error::failure(format!(
            "the AWS caller {shown} has no role session or user name for `{SESSION_NAME_TEMPLATE}`"
        ))
        .hint("use an assumed role (e.g. an Identity Center permission set) or an IAM user, or set `user` to the database user")
    })?;
    let name = crate::values::DbUser::named(name).map_err(|e| {
        Error::failure(format!(
            "the session name in {shown} cannot be the database user for `{SESSION_NAME_TEMPLATE}`: {e}"
        ))
    })?;
    report::verbose(format_args!(
        "`{SESSION_NAME_TEMPLATE}` is `{name}` (from STS GetCallerIdentity)"
    ));
    Ok(name)
}
