//! The database clients installed: libpq's version (old ones cut `.pgpass` lines at 320 bytes,
//! and a token is 800 to 2,000; before 14 they send no SNI, which Aurora DSQL needs), and which
//! mysql flavour (the flags differ).

use super::{Check, CheckId};
use crate::clients::mysql::{self, Flavour};
use std::process::Command;

/// "Teach libpq to handle arbitrary-length lines in .pgpass files" is in 13.0 and was
/// back-patched to these minor releases.
const PGPASS_FIXED: [(u32, u32); 5] = [(12, 5), (11, 10), (10, 15), (9, 6020), (9, 5024)];

/// Server Name Indication came to libpq in 14 (`sslsni`); Aurora DSQL needs it to route a
/// connection to its cluster, so an older libpq cannot reach one at all.
const SNI_SINCE: u32 = 14;

/// `dsql`: the Aurora DSQL connections being checked, which an old libpq cannot reach. The
/// version is psql's (`psql --version`), which is the libpq a client installation brings.
pub fn libpq(dsql: &[String]) -> Check {
    let Some(text) = version_of("psql") else {
        return Check::skip(
            CheckId::Libpq,
            "psql is not installed (PostgreSQL connections need it for `connect`)",
        )
        .fix("install it: `apt install postgresql-client` or `brew install libpq`");
    };
    let Some((major, minor)) = parse_pg_version(&text) else {
        return Check::warn(
            CheckId::Libpq,
            format!("cannot read the version in `{}`", text.trim()),
        );
    };
    if major < SNI_SINCE && !dsql.is_empty() {
        return Check::fail(
            CheckId::Libpq,
            format!(
                "{}: libpq before 14 sends no SNI (sslsni), which Aurora DSQL requires; {} cannot connect with it",
                text.trim(),
                dsql.join(", ")
            ),
        )
        .fix("install a PostgreSQL 14 or later client (16+ also takes sslrootcert=system): `apt install postgresql-client` from a current release or apt.postgresql.org, `dnf install postgresql16`, or `brew install libpq`");
    }
    if pgpass_lines_unbounded(major, minor) {
        Check::ok(
            CheckId::Libpq,
            format!("{} (long .pgpass lines are read whole)", text.trim()),
        )
    } else {
        Check::warn(
            CheckId::Libpq,
            format!("{}: this libpq reads at most 320 bytes of a .pgpass line; tokens are longer", text.trim()),
        )
        .fix("upgrade the PostgreSQL client (13+, or 12.5 / 11.10 / 10.15 and later minor releases), or use `rdsiam-helper connect` / PGPASSWORD instead of .pgpass")
    }
}

pub fn mysql() -> Check {
    let Ok(client) = mysql::find_client() else {
        return Check::skip(
            CheckId::Mysql,
            "neither mysql nor mariadb is installed (MySQL connections need one for `connect`)",
        )
        .fix("install one: `apt install mariadb-client` or `brew install mysql-client`");
    };
    let text = version_of(&client.display().to_string()).unwrap_or_default();
    let flavour = match mysql::detect(&client) {
        Ok(Flavour::Mariadb) => "MariaDB client (TLS flags: --ssl --ssl-verify-server-cert)",
        Ok(Flavour::Oracle) => {
            "Oracle MySQL client (--ssl-mode=VERIFY_IDENTITY, --enable-cleartext-plugin)"
        }
        Err(_) => "unknown flavour",
    };
    Check::ok(CheckId::Mysql, format!("{}: {flavour}", text.trim()))
}

fn version_of(program: &str) -> Option<String> {
    let output = Command::new(program).arg("--version").output().ok()?;
    output.status.success().then(|| {
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    })
}

/// "psql (PostgreSQL) 15.4 (Debian 15.4-1)" gives (15, 4); 9.x versions give (9, 6020) for 9.6.20.
fn parse_pg_version(text: &str) -> Option<(u32, u32)> {
    let word = text
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
    let mut parts = word
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty());
    let major: u32 = parts.next()?.parse().ok()?;
    let second: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    if major >= 10 {
        return Some((major, second));
    }
    let third: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some((major, second * 1000 + third))
}

fn pgpass_lines_unbounded(major: u32, minor: u32) -> bool {
    if major >= 13 {
        return true;
    }
    PGPASS_FIXED.iter().any(|&(m, fixed)| {
        m == major && minor >= fixed && (major >= 10 || minor / 1000 == fixed / 1000)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_versions_with_the_pgpass_fix() {
        let cases = [
            ("psql (PostgreSQL) 15.4 (Debian 15.4-1)", true),
            ("psql (PostgreSQL) 12.4", false),
            ("psql (PostgreSQL) 12.5", true),
            ("psql (PostgreSQL) 9.6.19", false),
            ("psql (PostgreSQL) 9.6.20", true),
            ("psql (PostgreSQL) 9.5.24", true),
            ("psql (PostgreSQL) 9.4.26", false),
        ];
        for (text, want) in cases {
            let (major, minor) = parse_pg_version(text).unwrap();
            assert_eq!(pgpass_lines_unbounded(major, minor), want, "{text}");
        }
    }
}
