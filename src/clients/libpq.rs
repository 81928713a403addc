//! libpq connection parameters, the one source for `pg_service.conf`, `connect`'s conninfo and
//! `exec`'s PG* variables. With a tunnel, libpq dials `hostaddr` while TLS still verifies
//! `host` (and `.pgpass` still matches on it): nothing is lost.

use crate::config::Connection;
use std::path::Path;

pub fn params(
    connection: &Connection,
    user: &str,
    ca_bundle: &Path,
) -> Vec<(&'static str, String)> {
    let mut pairs = vec![("host", connection.host.clone())];
    if let Some(tunnel) = connection.tunnel {
        pairs.push(("hostaddr", tunnel.ip().to_string()));
    }
    pairs.extend([
        ("port", connection.dial_port().to_string()),
        ("dbname", connection.database_or_default().to_string()),
        ("user", user.to_string()),
        ("sslmode", "verify-full".to_string()),
        ("sslrootcert", ca_bundle.display().to_string()),
    ]);
    pairs
}

/// A conninfo string, each value quoted as libpq reads it.
pub fn conninfo(params: &[(&'static str, String)]) -> String {
    let quote = |value: &str| format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"));
    params
        .iter()
        .map(|(k, v)| format!("{k}={}", quote(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The environment variable libpq reads for each parameter.
pub fn variable(key: &str) -> &'static str {
    match key {
        "host" => "PGHOST",
        "hostaddr" => "PGHOSTADDR",
        "port" => "PGPORT",
        "dbname" => "PGDATABASE",
        "user" => "PGUSER",
        "sslmode" => "PGSSLMODE",
        "sslrootcert" => "PGSSLROOTCERT",
        other => unreachable!("no libpq variable for {other}"),
    }
}
