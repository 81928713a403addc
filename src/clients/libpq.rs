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

/// Removes what the caller's environment could use to override us: libpq applies a service
/// (PGSERVICE) before the PG* variables, and a PGHOSTADDR or TLS downgrade would dial elsewhere
/// or in the clear. Explicit conninfo wins anyway; `connect` clears them too so that both
/// paths reach the server the same way.
pub fn clear_overrides(command: &mut std::process::Command) {
    for variable in [
        "PGSERVICE",
        "PGHOSTADDR",
        "PGREQUIRESSL",
        "PGSSLNEGOTIATION",
    ] {
        command.env_remove(variable);
    }
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
