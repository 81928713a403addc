//! Getting a token for a connection: the cache first, then credentials and signing under the
//! cache's lock. Everything the token commands, `exec`, `connect` and `refresh` share.

pub use crate::cache::Issued;
use crate::cache::{self, Cache, CacheKey, IdentityKey, Signed, SignedFor};
use crate::clock;
use crate::config::{Connection, Engine, SESSION_NAME_TEMPLATE};
use crate::credentials;
use crate::error::{Error, Result};
use crate::report;
use crate::token::{self, Endpoint, Token};
use crate::values::{DbUser, UserName};
use std::time::{Duration, SystemTime};

pub fn cache_key(connection: &Connection) -> CacheKey {
    CacheKey {
        host: connection.host.clone(),
        port: connection.port,
        user: connection.user.clone(),
        region: credentials::region_key(connection.signing_region().as_ref()),
        source: credentials::source_key(connection.aws_profile.as_deref()),
        signed_for: signed_for(connection),
    }
}

/// Where `issue` keeps this connection's token; None when there is no cache folder to find.
pub fn cache_file(connection: &Connection) -> Option<std::path::PathBuf> {
    let dir = cache::default_dir().ok()?;
    Some(cache::token_file(&dir, &cache_key(connection)))
}

/// What a token is signed for beyond the key's endpoint and user: DSQL's action and lifetime.
fn signed_for(connection: &Connection) -> SignedFor {
    match connection.engine {
        Engine::Dsql => SignedFor::Dsql {
            action: connection.dsql_action(),
            lifetime: connection.token_lifetime,
        },
        Engine::Postgres | Engine::Mysql => SignedFor::Rds,
    }
}

/// A token with at least `refresh_before` of life left: cached when possible.
pub fn issue(connection: &Connection, use_cache: bool) -> Result<Issued> {
    connection.warn_if_region_contradicts_host();
    connection.warn_if_engine_contradicts_host();
    let key = cache_key(connection);
    // Verifying needs the credentials themselves (the record vouches for their hash), so with
    // `verify` they are resolved on every call, and a miss signs with the ones checked.
    let verified = match connection.verify {
        true => Some(crate::verify::check(connection, &key, use_cache)?),
        false => None,
    };
    if !use_cache {
        return sign(connection, &key, None, verified).map(|signed| Issued::uncached(&key, signed));
    }
    let cache = Cache::open(cache::default_dir()?)?;
    if let Some(entry) = cache.fresh(&key, clock::now(), connection.refresh_before)? {
        return Ok(entry);
    }
    cache.refresh(
        &key,
        connection.name().map(|name| name.as_str()),
        clock::now,
        connection.refresh_before,
        || sign(connection, &key, Some(&cache), verified),
    )
}

/// Resolves credentials (unless `verify` already did) and signs a new token (the slow path:
/// aws-config, maybe network). `cache` also keeps the `{session_name}` between tokens; `None`
/// with --no-cache.
fn sign(
    connection: &Connection,
    key: &CacheKey,
    cache: Option<&Cache>,
    resolved: Option<credentials::Resolved>,
) -> Result<Signed> {
    let resolved = match resolved {
        Some(resolved) => resolved,
        None => credentials::resolve(
            connection.aws_profile.as_ref(),
            connection.signing_region().as_ref(),
        )?,
    };
    let now = clock::now();
    let expiry = resolved.credentials.expiry();
    credentials::check_not_expired(connection, expiry, || resolved.source())?;
    // The token entry records the name too, so a token hit needs neither STS nor this cache.
    let user = signing_user(connection, key, cache, &resolved)?;
    let token = sign_for(connection, &resolved, &user, now)?;
    let valid_until = valid_until(connection, now, expiry);
    report::verbose(format_args!(
        "signed a token for {user}@{}:{} in {}, valid until {}",
        connection.host,
        connection.port,
        resolved.region,
        clock::rfc3339(valid_until)
    ));
    Ok(Signed {
        token,
        user,
        region: resolved.region,
        at: now,
        valid_until,
        lifetime: connection.token_lifetime,
    })
}

/// A token signed with temporary credentials dies with them, even before its own lifetime.
fn valid_until(connection: &Connection, now: SystemTime, expiry: Option<SystemTime>) -> SystemTime {
    let lifetime: Duration = connection.token_lifetime;
    let valid_until = match expiry {
        Some(expiry) => expiry.min(now + lifetime),
        None => now + lifetime,
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
) -> Result<UserName> {
    if let DbUser::Named(name) = &connection.user {
        return Ok(name.clone());
    }
    // Keyed by who signs, not by the connection: all connections signed with the same
    // credentials share the name.
    let source = key.source.to_string();
    let identity = IdentityKey {
        source: &source,
        access_key_id: resolved.credentials.access_key_id(),
    };
    if let Some(cache) = cache
        && let Some(name) = cache.identity(&identity, clock::now())?
    {
        return Ok(name);
    }
    let name = session_name_from_sts(resolved)?;
    if let Some(cache) = cache {
        cache.keep_identity(
            &identity,
            &name,
            clock::now(),
            resolved.credentials.expiry(),
        );
    }
    Ok(name)
}

fn session_name_from_sts(resolved: &credentials::Resolved) -> Result<UserName> {
    let arn = resolved.caller_arn()?;
    let shown = arn.escape_debug();
    let name = credentials::session_name(&arn).ok_or_else(|| {
        Error::failure(format!(
            "the AWS caller {shown} has no role session or user name for `{SESSION_NAME_TEMPLATE}`"
        ))
        .hint("use an assumed role (e.g. an Identity Center permission set) or an IAM user, or set `user` to the database user")
    })?;
    let name = name.parse::<UserName>().map_err(|e| {
        Error::failure(format!(
            "the session name in {shown} cannot be the database user for `{SESSION_NAME_TEMPLATE}`: {e}"
        ))
    })?;
    report::verbose(format_args!(
        "`{SESSION_NAME_TEMPLATE}` is `{name}` (from STS GetCallerIdentity)"
    ));
    Ok(name)
}

/// The engine's token: RDS signs the user and port, DSQL the action and lifetime.
fn sign_for(
    connection: &Connection,
    resolved: &credentials::Resolved,
    user: &UserName,
    now: SystemTime,
) -> Result<Token> {
    let signed = match connection.engine {
        Engine::Postgres | Engine::Mysql => {
            let endpoint = Endpoint {
                host: &connection.host,
                port: connection.port.get(),
                user: user.as_str(),
                region: &resolved.region,
            };
            token::sign_token(&resolved.credentials, &endpoint, now)
        }
        Engine::Dsql => token::sign_dsql_token(
            &resolved.credentials,
            &connection.host,
            connection.dsql_action(),
            &resolved.region,
            connection.token_lifetime,
            now,
        ),
    };
    signed.map_err(|e| Error::failure("could not sign the token").caused_by(e))
}
