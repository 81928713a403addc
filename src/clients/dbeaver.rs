//! DBeaver: a connection in the workspace's `data-sources.json`. CE has no IAM auth model: the
//! password comes from `~/.pgpass` (`postgres_pgpass`, kept fresh by `refresh`) or, in 2026
//! releases with the preference switched on, from a shell command (`shell_command`).

use crate::clients::{
    AuthMode, Client, Edit, Plan, Request, ca_bundle, ca_file_note, require_wire, tunnel_caveat,
    via_proxy,
};
use crate::config::{Connection, Dialing, Wire};
use crate::error::{Error, Result};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Pgpass,
    ShellCommand,
}

/// `workspace6/General/.dbeaver/data-sources.json` in DBeaver's data folder.
pub fn default_path() -> Result<PathBuf> {
    let data = if cfg!(target_os = "macos") {
        dirs::home_dir().map(|h| h.join("Library"))
    } else {
        dirs::data_dir()
    };
    data.map(|d| d.join("DBeaverData/workspace6/General/.dbeaver/data-sources.json"))
        .ok_or_else(|| {
            Error::failure("cannot find DBeaver's data folder; give the file with --write PATH")
        })
}

pub fn connection_id(name: &str) -> String {
    format!("postgres-jdbc-rdsiam-{name}")
}

pub fn entry(
    connection: &Connection,
    name: &str,
    user: &str,
    auth: Auth,
    command: &str,
    ca_bundle: &Path,
) -> Result<Value> {
    let database = connection.database_or_default();
    let mut configuration = json!({
        "host": connection.dial_host(),
        "port": connection.dial_port().to_string(),
        "database": database,
        "url": format!("jdbc:postgresql://{}:{}/{database}", connection.dial_host_for_url(), connection.dial_port()),
        "configurationType": "MANUAL",
        "type": if name.to_ascii_lowercase().contains("prod") { "prod" } else { "dev" },
        "user": user,
        "handlers": {
            "postgre_ssl": {
                "type": "CONFIG",
                "enabled": true,
                "save-password": false,
                // ssl.ca.cert is ignored unless ssl.method says CERTIFICATES.
                "properties": {
                    "ssl.method": "CERTIFICATES",
                    "ssl.ca.cert": ca_bundle.display().to_string(),
                    "sslMode": connection.verification(Dialing::AddressOnly).sslmode(),
                }
            }
        }
    });
    match auth {
        Auth::Pgpass => configuration["auth-model"] = json!("postgres_pgpass"),
        Auth::ShellCommand => {
            configuration["auth-model"] = json!("shell_command");
            configuration["auth-properties"] =
                json!({ "passwordCommand": command, "passwordCommandTimeoutMs": "60000" });
        }
    }
    Ok(json!({
        "provider": "postgresql",
        "driver": "postgres-jdbc",
        "name": name,
        "save-password": auth == Auth::ShellCommand,
        "configuration": configuration,
    }))
}

/// `text` with `connections.<id>` set to our entry; every other key kept in its order.
pub fn merge(text: &str, path: &Path, id: &str, entry: Value) -> Result<String> {
    let refuse = |why: &str| {
        Error::failure(format!("{} is not a DBeaver data-sources.json ({why}); it was left unchanged", path.display()))
            .hint("fix or move the file (close DBeaver first: it rewrites the file on exit), then run again")
    };
    let mut root: Value = if text.trim().is_empty() {
        json!({ "folders": {}, "connections": {} })
    } else {
        serde_json::from_str(text)
            .map_err(|e| refuse(&format!("invalid JSON at line {}: {e}", e.line())))?
    };
    let connections = root
        .as_object_mut()
        .ok_or_else(|| refuse("the top level is not an object"))?
        .entry("connections")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| refuse("\"connections\" is not an object"))?;
    connections.insert(id.to_string(), entry);
    // DBeaver writes the file tab-indented; keep its look for a readable diff.
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(&root, &mut serializer).expect("a JSON value serialises");
    out.push(b'\n');
    Ok(String::from_utf8(out).expect("JSON is UTF-8"))
}

/// `setup dbeaver`: a connection in `data-sources.json`, password from `.pgpass` or a command.
pub struct Dbeaver;

impl Client for Dbeaver {
    fn takes_auth(&self) -> bool {
        true
    }

    fn accepts(&self, connection: &Connection, name: &str, auth: Option<AuthMode>) -> Result<()> {
        require_wire(
            connection,
            name,
            Wire::Postgres,
            "`setup dbeaver`",
            Some(
                "for MySQL in DBeaver, use the shell-command password model with the command from `rdsiam-helper setup tableplus NAME`",
            ),
        )?;
        Auth::from_mode(auth).map(|_| ())
    }

    fn plan<'a>(&self, request: &Request<'a>) -> Result<Plan<'a>> {
        request
            .connection
            .require_verifiable(Dialing::AddressOnly, "DBeaver")?;
        let mut plan = plan(request, Auth::from_mode(request.auth)?)?;
        plan.notes
            .extend(ca_file_note(request.connection, "pgjdbc"));
        Ok(plan)
    }

    fn via_proxy<'a>(&self, request: &Request<'a>) -> Result<Plan<'a>> {
        via_proxy::jdbc_plan(request, "DBeaver")
    }
}

impl Auth {
    fn from_mode(auth: Option<AuthMode>) -> Result<Auth> {
        match auth.unwrap_or(AuthMode::Pgpass) {
            AuthMode::Pgpass => Ok(Auth::Pgpass),
            AuthMode::Command => Ok(Auth::ShellCommand),
            AuthMode::AwsToolkit => Err(Error::usage("DBeaver CE has no AWS IAM auth model")
                .hint("use --auth pgpass or --auth command")),
        }
    }
}

fn plan<'a>(request: &Request<'a>, auth: Auth) -> Result<Plan<'a>> {
    let name = request.name;
    let command = request.command.password(request.connection, name);
    let id = connection_id(name);
    let entry = entry(
        request.connection,
        name,
        request.user,
        auth,
        &command,
        &ca_bundle(request.connection),
    )?;
    let mut notes = Vec::new();
    let file = request.destination.file(default_path)?;
    if file.is_some() {
        notes.push("restart DBeaver (or File > Refresh) to see the connection".to_string());
    }
    notes.push(match auth {
        Auth::Pgpass => format!(
            "the password comes from ~/.pgpass: run `{}` and the refresh timer",
            request.command.line(&["setup", "pgpass", name, "--write"])
        ),
        Auth::ShellCommand => "the shell-command password model needs DBeaver 2026 with it enabled in Preferences; DBeaver asks you to approve the command once".to_string(),
    });
    notes.extend(tunnel_caveat(request.connection).map(|c| format!("note: {c}")));
    let Some(path) = file else {
        return Ok(Plan {
            print: Some(merge("", Path::new("data-sources.json"), &id, entry)?.into()),
            notes,
            ..Plan::default()
        });
    };
    let edit_path = path.clone();
    Ok(Plan {
        edits: vec![Edit::new(path, move |existing| {
            merge(existing, &edit_path, &id, entry).map(Into::into)
        })],
        notes,
        ..Plan::default()
    })
}
