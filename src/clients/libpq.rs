//! libpq connection parameters, the one source for `pg_service.conf`, `connect`'s conninfo and
//! `exec`'s PG* variables. With a tunnel, libpq dials `hostaddr` while TLS still verifies
//! `host` (and `.pgpass` still matches on it): nothing is lost.

use crate::config::{Connection, Dialing};

/// libpq 16+'s `sslrootcert` for the OS trust store (OpenSSL's default paths).
pub const SYSTEM_ROOT_CERT: &str = "system";

/// `sslrootcert` is a CA file, or `system` (see `clients::libpq_root_cert`).
pub fn params(
    connection: &Connection,
    user: &str,
    sslrootcert: &str,
) -> Vec<(&'static str, String)> {
    let mut pairs = vec![("host", connection.host.to_string())];
    if let Some(tunnel) = connection.tunnel {
        pairs.push(("hostaddr", tunnel.ip().to_string()));
    }
    pairs.extend([
        ("port", connection.dial_port().to_string()),
        ("dbname", connection.database_or_default().to_string()),
        ("user", user.to_string()),
        (
            "sslmode",
            connection
                .verification(Dialing::NameAndAddress)
                .sslmode()
                .to_string(),
        ),
        ("sslrootcert", sslrootcert.to_string()),
    ]);
    pairs
}

/// The major version of the libpq that `psql` on PATH uses (`psql --version`), which is the
/// libpq a PostgreSQL client installation brings; `None` without psql.
pub fn installed_major() -> Option<u32> {
    let output = std::process::Command::new("psql")
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    major_of(&String::from_utf8_lossy(&output.stdout))
}

/// `psql (PostgreSQL) 16.4 (Debian ...)` -> 16.
fn major_of(version: &str) -> Option<u32> {
    let rest = version.split(')').nth(1)?.trim_start();
    let number = rest.split(|c: char| !c.is_ascii_digit()).next()?;
    number.parse().ok()
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

#[cfg(test)]
mod tests {
    #[test]
    fn psql_versions_give_the_major() {
        for (text, want) in [
            (
                "psql (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n",
                Some(15),
            ),
            ("psql (PostgreSQL) 16.4\n", Some(16)),
            ("psql (PostgreSQL) 17beta1\n", Some(17)),
            ("", None),
            ("psql: not a version\n", None),
        ] {
            assert_eq!(super::major_of(text), want, "{text}");
        }
    }
}
