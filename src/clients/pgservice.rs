//! `pg_service.conf`: a `[NAME]` service with TLS verification, so `psql service=NAME` works
//! with the password from `.pgpass`.

use crate::clients::{ca_bundle, ini, libpq};
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

pub fn section(connection: &Connection, name: &str, user: &str) -> String {
    ini::render_section(
        name,
        &libpq::params(connection, user, &ca_bundle(connection)),
    )
}
