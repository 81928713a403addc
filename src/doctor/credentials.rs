//! Credentials resolve for the connection's profile, and when they expire.

use super::{Check, CheckId, Status};
use crate::clock;
use crate::config::Connection;
use crate::credentials::{self, Resolved};
use std::time::Duration;

/// Warn when less than a token's lifetime is left.
const SOON: Duration = Duration::from_secs(15 * 60);

pub fn check(connection: &Connection) -> (Check, Option<Resolved>) {
    let profile = connection.aws_profile.as_deref();
    let source = match profile {
        Some(p) => format!("profile `{p}`"),
        None => "the default credential chain".to_string(),
    };
    let region = connection.signing_region();
    let resolved = match credentials::resolve(connection.aws_profile.as_ref(), region.as_ref()) {
        Ok(resolved) => resolved,
        Err(err) => {
            return (
                Check::from_error(CheckId::Credentials, Status::Fail, err),
                None,
            );
        }
    };
    let now = crate::clock::now();
    let check = match resolved.credentials.expiry() {
        Some(expiry) if expiry <= now => Check::fail(
            CheckId::Credentials,
            format!("{source}: expired at {}", clock::rfc3339(expiry)),
        )
        .fix(renew(profile)),
        Some(expiry) if expiry < now + SOON => Check::warn(
            CheckId::Credentials,
            format!("{source}: expire soon, at {}", clock::rfc3339(expiry)),
        )
        .fix(renew(profile)),
        Some(expiry) => Check::ok(
            CheckId::Credentials,
            format!("{source}: valid until {}", clock::rfc3339(expiry)),
        ),
        None => Check::ok(
            CheckId::Credentials,
            format!("{source}: long-term keys (no expiry)"),
        ),
    };
    (check, Some(resolved))
}

fn renew(profile: Option<&str>) -> String {
    match profile {
        Some(p) => {
            format!("`aws sso login --profile {p}` (SSO), or renew the profile's credential source")
        }
        None => "renew AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN".to_string(),
    }
}
