//! `setup CLIENT NAME --via-proxy`: the client points at `rdsiam-helper proxy` instead of the
//! database: host 127.0.0.1, the connection's `local_port`, no password, and no TLS on
//! loopback (the proxy does verify-full toward the server). The direct set-ups' TLS and
//! password-command details do not apply, so each client's proxy variant is here, in one place.

use crate::clients::{Destination, Edit, Plan, Request, ini};
use crate::config::Connection;
use crate::error::{Error, Result};
use crate::values::{Port, Wire};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::json;

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

fn start_note(request: &Request<'_>) -> String {
    format!(
        "start the proxy first (or as a service, see integrations/systemd and integrations/launchd): {}",
        request.command.line(&["proxy", request.name])
    )
}

fn print_only(client: &str) -> Error {
    Error::usage(format!(
        "--via-proxy prints {client}'s settings; there is no file to --write"
    ))
    .hint("run without --write and enter the printed fields")
}

/// `.pgpass`: nothing, since the proxy asks for no password.
pub fn pgpass(request: &Request<'_>) -> Result<Plan<'static>> {
    let port = local_port(request.connection, request.name)?;
    Err(Error::usage(
        "through the proxy no password is asked for, so .pgpass needs no line",
    )
    .hint(format!(
        "connect to host={PROXY_HOST} port={port} sslmode=disable, or run `setup pgservice {} --via-proxy`",
        request.name
    )))
}

/// libpq parameters for the proxy.
fn libpq_params(request: &Request<'_>, port: u16) -> Vec<(&'static str, String)> {
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

/// `pg_service.conf`: the `[NAME]` service, pointed at the proxy.
pub fn pgservice<'a>(request: &Request<'a>) -> Result<Plan<'a>> {
    let port = local_port(request.connection, request.name)?;
    let name = request.name;
    let text = ini::render_section(name, &libpq_params(request, port));
    let notes = vec![
        format!("`psql service={name}` now goes through the proxy, with no password"),
        start_note(request),
    ];
    let Some(path) = request
        .destination
        .file(crate::clients::pgservice::default_path)?
    else {
        return Ok(Plan {
            print: Some(text.into()),
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

/// `~/.my.cnf`: `[client_NAME]` (and `[mysql_NAME]` for the database), pointed at the proxy.
/// TLS is off toward the proxy: `loose-` keys, since each flavour knows only its own way.
pub fn mysql<'a>(request: &Request<'a>) -> Result<Plan<'a>> {
    let port = local_port(request.connection, request.name)?;
    let name = request.name;
    let group = format!("client_{name}");
    let pairs = vec![
        ("host", PROXY_HOST.to_string()),
        ("port", port.to_string()),
        ("user", request.user.to_string()),
        ("protocol", "TCP".to_string()),
        ("loose-ssl-mode", "DISABLED".to_string()),
        ("loose-skip-ssl", "1".to_string()),
    ];
    let client = crate::clients::mysql::section(&group, &pairs);
    let mysql_group = format!("mysql_{name}");
    let database = crate::clients::mysql::mysql_options(request.connection);
    let mysql = crate::clients::mysql::section(&mysql_group, &database);
    let notes = vec![
        format!("connect with `mysql --defaults-group-suffix=_{name}` (no password)"),
        start_note(request),
    ];
    let Some(path) = request
        .destination
        .file(crate::clients::mysql::default_path)?
    else {
        let mut text = client;
        if !database.is_empty() {
            text.push_str(&mysql);
        }
        return Ok(Plan {
            print: Some(text.into()),
            notes,
            ..Plan::default()
        });
    };
    let edit_path = path.clone();
    Ok(Plan {
        edits: vec![Edit::new(path, move |existing| {
            let merged =
                ini::merge_section(existing, &edit_path, ini::Dialect::MySql, &group, &client)?;
            if database.is_empty() {
                return Ok(merged.into());
            }
            ini::merge_section(
                &merged,
                &edit_path,
                ini::Dialect::MySql,
                &mysql_group,
                &mysql,
            )
            .map(Into::into)
        })],
        notes,
        ..Plan::default()
    })
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

fn fields(request: &Request<'_>, port: u16, extra: &str) -> String {
    format!(
        "  Host:      {PROXY_HOST}\n  Port:      {port}\n  User:      {}\n  Password:  (empty; the proxy signs in)\n  Database:  {}\n  SSL:       disable (loopback; the proxy verifies the server)\n{extra}",
        request.user,
        request.connection.database.as_deref().unwrap_or(""),
    )
}

/// TablePlus: the fields, and an import URL with TLS off.
pub fn tableplus(request: &Request<'_>) -> Result<Plan<'static>> {
    if *request.destination != Destination::Print {
        return Err(print_only("TablePlus"));
    }
    let port = local_port(request.connection, request.name)?;
    let scheme = match request.connection.engine.wire() {
        Wire::Postgres => "postgresql",
        Wire::Mysql => "mysql",
    };
    let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    let url = format!(
        "{scheme}://{}@{PROXY_HOST}:{port}/{}?name={}&tLSMode=0",
        enc(request.user),
        enc(request.connection.database.as_deref().unwrap_or("")),
        enc(request.name),
    );
    Ok(Plan {
        print: Some(format!(
            "TablePlus: a new connection through the proxy:\n{}\nOr import it: open \"{url}\"\n",
            fields(request, port, "")
        )
        .into()),
        notes: vec![start_note(request)],
        ..Plan::default()
    })
}

/// DataGrip and DBeaver: the JDBC URL and the fields.
pub fn jdbc_client(request: &Request<'_>, client: &str) -> Result<Plan<'static>> {
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

/// pgAdmin: a `servers.json` entry to import (`setup.py load-servers`), without a password
/// command.
pub fn pgadmin(request: &Request<'_>) -> Result<Plan<'static>> {
    if *request.destination != Destination::Print {
        return Err(print_only("pgAdmin"));
    }
    let port = local_port(request.connection, request.name)?;
    let entry = json!({
        "Servers": {
            "1": {
                "Name": request.name,
                "Group": "rdsiam-helper proxy",
                "Host": PROXY_HOST,
                "Port": port,
                "MaintenanceDB": request.connection.database_or_default(),
                "Username": request.user,
                "ConnectionParameters": { "sslmode": "disable" },
            }
        }
    });
    let text = serde_json::to_string_pretty(&entry).expect("JSON") + "\n";
    Ok(Plan {
        print: Some(text.into()),
        notes: vec![start_note(request)],
        ..Plan::default()
    })
}
