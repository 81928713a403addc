//! `pg_service.conf`: a `[NAME]` service with TLS verification, so `psql service=NAME` works
//! with the password from `.pgpass`.

use crate::clients::{ca_bundle, ini};
use crate::config::Connection;
use crate::error::{Error, Result};
use std::path::PathBuf;

/// `$PGSERVICEFILE`, else `~/.pg_service.conf`, where libpq looks.
pub fn default_path() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("PGSERVICEFILE").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    dirs::home_dir()
        .map(|h| h.join(".pg_service.conf"))
        .ok_or_else(|| Error::failure("cannot find the home directory for ~/.pg_service.conf"))
}

/// With a tunnel, libpq dials `hostaddr` while TLS still verifies `host` (and `.pgpass` still
/// matches on it): nothing is lost.
pub fn section(connection: &Connection, name: &str, user: &str) -> String {
    let mut pairs = vec![("host", connection.host.clone())];
    if let Some(tunnel) = connection.tunnel {
        pairs.push(("hostaddr", tunnel.ip().to_string()));
    }
    pairs.extend([
        ("port", connection.dial_port().to_string()),
        ("dbname", connection.database_or_default().to_string()),
        ("user", user.to_string()),
        ("sslmode", "verify-full".to_string()),
        ("sslrootcert", ca_bundle(connection).display().to_string()),
    ]);
    ini::render_section(name, &pairs)
}
