//! The one place that reads the time for signing, caching and expiry, so tests can move it.
//! What is compared with the file system's own times (sign-in lock files) or logged (the proxy)
//! reads the wall clock itself.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Test hook: a fixed "now" (Unix seconds or RFC 3339) for signing and cache freshness. It
/// lets tests sign byte-identical tokens and jump past an expiry without sleeping.
pub const NOW_VARIABLE: &str = "RDSIAM_HELPER_TEST_NOW";

/// The test clock is honoured only in debug builds (what `cargo test` runs): a stray variable
/// must never make a release binary sign for the wrong time.
pub fn now() -> SystemTime {
    let injected = std::env::var(NOW_VARIABLE)
        .ok()
        .filter(|_| cfg!(debug_assertions));
    injected
        .and_then(|text| parse(&text))
        .unwrap_or_else(SystemTime::now)
}

pub fn parse(text: &str) -> Option<SystemTime> {
    if let Ok(seconds) = text.trim().parse::<u64>() {
        return Some(UNIX_EPOCH + Duration::from_secs(seconds));
    }
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(SystemTime::from)
}

pub fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

pub fn from_unix_seconds(seconds: i64) -> SystemTime {
    if seconds >= 0 {
        UNIX_EPOCH + Duration::from_secs(seconds as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs())
    }
}

pub fn rfc3339(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
