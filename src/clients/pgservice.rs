//! `pg_service.conf`: a `[NAME]` service with TLS verification, so `psql service=NAME` works
//! with the password from `.pgpass`.

use crate::clients::{
    AuthMode, Client, Plan, Request, ini, libpq, libpq_root_cert, require_wire, system_trust_note,
    via_proxy,
};
use crate::config::{Connection, Wire};
use crate::error::{Error, Result};
use std::path::PathBuf;

/// `$PGSERVICEFILE`, else the per-user service file where libpq looks.
pub fn default_path() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("PGSERVICEFILE").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    crate::platform::paths::pg_service().ok_or_else(|| {
        Error::failure(format!(
            "cannot find the home directory for {}",
            crate::platform::paths::PG_SERVICE_SHOWN
        ))
    })
}

/// `libpq_major`: the libpq that will read the file, for the system trust store's spelling.
pub fn section(
    connection: &Connection,
    name: &str,
    user: &str,
    libpq_major: Option<u32>,
) -> String {
    let root_cert = libpq_root_cert(connection, libpq_major);
    ini::render_section(name, &libpq::params(connection, user, &root_cert))
}

/// `setup pgservice`: the `[NAME]` service, printed or merged into `pg_service.conf`.
pub struct Pgservice;

impl Client for Pgservice {
    fn accepts(&self, connection: &Connection, name: &str, _auth: Option<AuthMode>) -> Result<()> {
        require_wire(connection, name, Wire::Postgres, "pg_service.conf", None)
    }

    fn plan<'a>(&self, request: &Request<'a>) -> Result<Plan<'a>> {
        plan(request)
    }

    fn via_proxy<'a>(&self, request: &Request<'a>) -> Result<Plan<'a>> {
        via_proxy_plan(request)
    }
}

fn plan<'a>(request: &Request<'a>) -> Result<Plan<'a>> {
    let name = request.name;
    let libpq_major = request.libpq_major;
    let text = section(request.connection, name, request.user, libpq_major);
    let pgpass = request.command.line(&["setup", "pgpass", name, "--write"]);
    let mut notes = vec![format!(
        "`psql service={name}` takes its password from ~/.pgpass: run `{pgpass}`"
    )];
    let how = match libpq_major {
        Some(major) if major >= 16 => format!("sslrootcert=system, for the libpq {major} here"),
        Some(major) => {
            format!("the OS bundle file, since libpq {major} here predates sslrootcert=system")
        }
        None => "the OS bundle file, which every libpq reads".to_string(),
    };
    notes.extend(system_trust_note(request.connection, &how));
    service(request, text, notes)
}

/// The `[NAME]` service `text`, printed or merged into `pg_service.conf`.
fn service<'a>(request: &Request<'a>, text: String, notes: Vec<String>) -> Result<Plan<'a>> {
    let file = request.destination.file(default_path)?;
    let sections = vec![(request.name.to_string(), text)];
    Ok(ini::plan(file, ini::Dialect::Libpq, sections, notes))
}

/// `pg_service.conf`: the `[NAME]` service, pointed at the proxy.
fn via_proxy_plan<'a>(request: &Request<'a>) -> Result<Plan<'a>> {
    let port = via_proxy::local_port(request.connection, request.name)?;
    let name = request.name;
    let text = ini::render_section(name, &via_proxy::libpq_params(request, port));
    let notes = vec![
        match request.connection.local_password_file {
            Some(_) => format!(
                "`psql service={name}` now goes through the proxy; its local password goes in .pgpass: `setup pgpass {name} --via-proxy --write`"
            ),
            None => format!("`psql service={name}` now goes through the proxy, with no password"),
        },
        via_proxy::start_note(request),
    ];
    service(request, text, notes)
}
