//! pgAdmin 4: a `servers.json` entry for `setup.py load-servers` or File > Import. pgAdmin runs
//! `PasswordExecCommand` with `sh -c`, strips stdout, and reuses the password for
//! `PasswordExecExpiration` seconds.

use crate::clients::via_proxy::{self, PROXY_HOST};
use crate::clients::{
    AuthMode, Client, Destination, Edit, Plan, Request, ca_bundle, ca_file_note, require_wire,
};
use crate::config::{Connection, Dialing, Wire};
use crate::error::{Error, Result};
use serde_json::{Map, Value, json};
use std::path::Path;
use std::time::Duration;

pub const GROUP: &str = "RDS IAM";

/// Shorter than `refresh_before`, so pgAdmin never reuses a token past the point where we would
/// have refreshed it.
pub fn expiration(refresh_before: Duration) -> u64 {
    let seconds = refresh_before.as_secs();
    seconds.saturating_sub(60).max(seconds / 2)
}

pub fn server(
    connection: &Connection,
    name: &str,
    user: &str,
    command: &str,
    ca_bundle: &Path,
) -> Value {
    let mut parameters = Map::new();
    let verification = connection.verification(Dialing::NameAndAddress);
    parameters.insert("sslmode".into(), json!(verification.sslmode()));
    parameters.insert("sslrootcert".into(), json!(ca_bundle.display().to_string()));
    // libpq's split: dial the tunnel, verify and match on the endpoint's name.
    if let Some(tunnel) = connection.tunnel {
        parameters.insert("hostaddr".into(), json!(tunnel.ip().to_string()));
    }
    json!({
        "Name": name,
        "Group": GROUP,
        "Host": connection.host,
        "Port": connection.dial_port(),
        "MaintenanceDB": connection.database_or_default(),
        "Username": user,
        "PasswordExecCommand": command,
        "PasswordExecExpiration": expiration(connection.refresh_before),
        "ConnectionParameters": Value::Object(parameters),
    })
}

/// The whole file for printing: `{"Servers": {"1": server}}`.
pub fn document(server: Value) -> String {
    pretty(&json!({ "Servers": { "1": server } }))
}

/// `text` with our server replacing the one of the same Name (else under the next free key).
pub fn merge(text: &str, path: &Path, server: Value) -> Result<String> {
    if text.trim().is_empty() {
        return Ok(document(server));
    }
    let refuse = |why: &str| {
        Error::failure(format!(
            "{} is not a pgAdmin servers.json ({why}); it was left unchanged",
            path.display()
        ))
        .hint("fix or move the file, then run again")
    };
    let mut root: Value = serde_json::from_str(text)
        .map_err(|e| refuse(&format!("invalid JSON at line {}: {e}", e.line())))?;
    let servers = root
        .as_object_mut()
        .ok_or_else(|| refuse("the top level is not an object"))?
        .entry("Servers")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| refuse("\"Servers\" is not an object"))?;
    let name = server["Name"].clone();
    let key = servers
        .iter()
        .find(|(_, s)| s["Name"] == name && s["Group"] == server["Group"])
        .map(|(k, _)| k.clone())
        .unwrap_or_else(|| {
            let next = servers
                .keys()
                .filter_map(|k| k.parse::<u64>().ok())
                .max()
                .unwrap_or(0)
                + 1;
            next.to_string()
        });
    servers.insert(key, server);
    Ok(pretty(&root))
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("a JSON value serialises");
    text.push('\n');
    text
}

/// `setup pgadmin`: a servers.json entry whose password command finds this connection.
pub struct Pgadmin;

impl Client for Pgadmin {
    fn accepts(&self, connection: &Connection, name: &str, _auth: Option<AuthMode>) -> Result<()> {
        require_wire(connection, name, Wire::Postgres, "pgAdmin", None)
    }

    fn plan<'a>(&self, request: &Request<'a>) -> Result<Plan<'a>> {
        let mut plan = plan(request)?;
        plan.notes
            .extend(ca_file_note(request.connection, "pgAdmin's libpq"));
        Ok(plan)
    }

    fn via_proxy<'a>(&self, request: &Request<'a>) -> Result<Plan<'a>> {
        via_proxy_plan(request)
    }
}

fn plan<'a>(request: &Request<'a>) -> Result<Plan<'a>> {
    let command = request.command.password(request.connection, request.name);
    let server = server(
        request.connection,
        request.name,
        request.user,
        &command,
        &ca_bundle(request.connection),
    );
    let notes = vec![
        "import in pgAdmin desktop with Tools > Import/Export Servers, or `python setup.py load-servers servers.json`;".to_string(),
        "in server mode pgAdmin drops PasswordExecCommand unless config_local.py sets ENABLE_SERVER_PASS_EXEC_CMD = True".to_string(),
    ];
    let Some(path) = request
        .destination
        .file(|| Ok(std::path::PathBuf::from("servers.json")))?
    else {
        return Ok(Plan {
            print: Some(document(server).into()),
            notes,
            ..Plan::default()
        });
    };
    let edit_path = path.clone();
    Ok(Plan {
        edits: vec![Edit::new(path, move |existing| {
            merge(existing, &edit_path, server).map(Into::into)
        })],
        notes,
        ..Plan::default()
    })
}

/// pgAdmin: a `servers.json` entry to import (`setup.py load-servers`), without a password
/// command.
fn via_proxy_plan(request: &Request<'_>) -> Result<Plan<'static>> {
    if *request.destination != Destination::Print {
        return Err(via_proxy::print_only("pgAdmin"));
    }
    let port = via_proxy::local_port(request.connection, request.name)?;
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
        notes: via_proxy::password_note(request.connection)
            .into_iter()
            .chain([via_proxy::start_note(request)])
            .collect(),
        ..Plan::default()
    })
}
