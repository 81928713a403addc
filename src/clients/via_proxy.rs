//! `setup CLIENT NAME --via-proxy`: the client points at `rdsiam-helper proxy` instead of the
//! database: host 127.0.0.1, the connection's `local_port`, no password, and no TLS on
//! loopback (the proxy does verify-full toward the server). Each client's own file plans its
//! proxy variant with the helpers here; the JDBC clients share theirs.

use crate::clients::{Destination, Merged, Plan, Request};
use crate::config::Connection;
use crate::error::{Error, Result};
use crate::local_password::LocalPassword;
use crate::secret::{Contents, Secret};
use crate::values::{Port, Wire};

pub const PROXY_HOST: &str = "127.0.0.1";

/// Where the proxy listens for this connection: its `local_port`, which the proxy reads too.
pub fn local_port(connection: &Connection, name: &str) -> Result<u16> {
    connection.local_port.map(Port::get).ok_or_else(|| {
        Error::usage(format!(
            "`{name}` has no local_port for the proxy to listen on"
        ))
        .hint(format!(
            "set `local_port = 15432` (a free port) in [connections.{name}] of the config file"
        ))
    })
}

/// The proxy's local password, when the connection names its file (`local_password_file`):
/// read, or written as the proxy would write it (0600), so setup and the proxy can run in
/// either order.
pub fn local_password(connection: &Connection) -> Result<Option<LocalPassword>> {
    let Some(path) = &connection.local_password_file else {
        return Ok(None);
    };
    Ok(Some(LocalPassword::load_or_create(path)?.0))
}

/// A plan whose text holds the local password: printed and written as a secret (0600).
pub fn secret_plan(mut plan: Plan<'_>) -> Plan<'_> {
    plan.print = plan.print.map(|print| match print {
        Contents::Plain(text) => Contents::Secret(Secret::new(text)),
        secret => secret,
    });
    for edit in &mut plan.edits {
        let merge = std::mem::replace(&mut edit.merge, Box::new(|_| unreachable!()));
        edit.merge = Box::new(move |existing| {
            let merged = merge(existing)?.into_iter().map(|merged| Merged {
                text: Contents::Secret(Secret::new(merged.text.expose().to_string())),
                notes: merged.notes,
            });
            Ok(merged.collect())
        });
    }
    plan
}

/// Where a GUI's password comes from when the proxy asks for one: the file, never its content.
pub fn password_note(connection: &Connection) -> Option<String> {
    connection.local_password_file.as_ref().map(|path| {
        format!(
            "the proxy asks for its local password: paste the first line of {} into the client's password field and save it",
            path.display()
        )
    })
}

pub fn start_note(request: &Request<'_>) -> String {
    format!(
        "start the proxy first (or as a service, see integrations/systemd and integrations/launchd): {}",
        request.command.line(&["proxy", request.name])
    )
}

pub fn print_only(client: &str) -> Error {
    Error::usage(format!(
        "--via-proxy prints {client}'s settings; there is no file to --write"
    ))
    .hint("run without --write and enter the printed fields")
}

/// libpq parameters for the proxy.
pub fn libpq_params(request: &Request<'_>, port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("host", PROXY_HOST.to_string()),
        ("port", port.to_string()),
        (
            "dbname",
            request.connection.database_or_default().to_string(),
        ),
        ("user", request.user.to_string()),
        ("sslmode", "disable".to_string()),
    ]
}

/// The JDBC URL of the proxy, with TLS off on loopback.
fn jdbc_url(connection: &Connection, port: u16) -> String {
    let database = connection.database_or_default();
    match connection.engine.wire() {
        Wire::Postgres => {
            format!("jdbc:postgresql://{PROXY_HOST}:{port}/{database}?sslmode=disable")
        }
        Wire::Mysql => format!("jdbc:mysql://{PROXY_HOST}:{port}/{database}?sslMode=DISABLED"),
    }
}

pub fn fields(request: &Request<'_>, port: u16, extra: &str) -> String {
    // The password itself is not printed: the person pastes it from the file.
    let password = match &request.connection.local_password_file {
        Some(path) => format!(
            "the proxy's local password: paste the first line of {} (save it in the client)",
            path.display()
        ),
        None => "(empty; the proxy signs in)".to_string(),
    };
    format!(
        "  Host:      {PROXY_HOST}\n  Port:      {port}\n  User:      {}\n  Password:  {password}\n  Database:  {}\n  SSL:       disable (loopback; the proxy verifies the server)\n{extra}",
        request.user,
        request.connection.database_or_default(),
    )
}

/// DataGrip and DBeaver: the JDBC URL and the fields.
pub fn jdbc_plan(request: &Request<'_>, client: &str) -> Result<Plan<'static>> {
    if *request.destination != Destination::Print {
        return Err(print_only(client));
    }
    let port = local_port(request.connection, request.name)?;
    let url = jdbc_url(request.connection, port);
    Ok(Plan {
        print: Some(format!(
            "{client}: a new data source through the proxy (authentication: user and an empty password, or \"No auth\"):\n{}",
            fields(request, port, &format!("  URL:       {url}\n"))
        )
        .into()),
        notes: vec![start_note(request)],
        ..Plan::default()
    })
}
