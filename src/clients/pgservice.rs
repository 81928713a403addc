//! `pg_service.conf`: a `[NAME]` service with TLS verification, so `psql service=NAME` works
//! with the password from `.pgpass`.

use crate::clients::{Edit, Plan, Request, ca_bundle, ini, libpq};
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

/// `setup pgservice`: the `[NAME]` service, printed or merged into `pg_service.conf`.
pub fn plan<'a>(request: &Request<'a>) -> Result<Plan<'a>> {
    let name = request.name;
    let text = section(request.connection, name, request.user);
    let pgpass = request.command.line(&["setup", "pgpass", name, "--write"]);
    let notes = vec![format!(
        "`psql service={name}` takes its password from ~/.pgpass: run `{pgpass}`"
    )];
    let Some(path) = request.destination.file(default_path)? else {
        return Ok(Plan {
            print: Some(text.clone().into()),
            notes,
            ..Plan::default()
        });
    };
    let edit_path = path.clone();
    Ok(Plan {
        edits: vec![Edit::new(path, move |existing| {
            ini::merge_section(existing, &edit_path, ini::Dialect::Libpq, name, &text)
                .map(Into::into)
        })],
        notes,
        ..Plan::default()
    })
}
