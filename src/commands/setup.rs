//! `setup CLIENT NAME [--write [PATH]]`: each client plans its set-up from the connection; this
//! driver gathers what the plan needs (the user, a token), then prints it or merges it into the
//! client's files, each under its folder's lock, with a `.bak`, everything else kept.

use crate::cli::{AuthMode, SetupArgs, SetupClient};
use crate::clients::{
    self, Destination, HelperCommand, Plan, Request, datagrip, dbeaver, mysql, pgadmin, pgpass,
    pgservice, tableplus,
};
use crate::commands::print;
use crate::config::{Config, Connection, Engine, Wire};
use crate::error::{Error, Result};
use crate::files::{self, Written};
use crate::issuer;

pub fn run(config: &Config, args: &SetupArgs) -> Result<i32> {
    let connection = config.get(&args.name)?;
    let destination = match &args.write {
        None => Destination::Print,
        Some(path) => Destination::Write(path.clone()),
    };
    let command = HelperCommand::new(&config.path)?;
    let name = args.name.as_str();
    let client = args.client;
    require_engine(connection, name, client, args.auth)?;
    if args.via_proxy {
        return via_proxy(connection, name, client, &destination, &command);
    }
    // A token is issued only where the plan needs one, or the `{session_name}` it resolves to.
    let issued = match needs_token(client, connection) {
        true => Some(issuer::issue(connection, true)?),
        false => None,
    };
    let user = match &issued {
        Some(issued) => issued.user.clone(),
        None => connection.user.clone(),
    };
    let request = Request {
        connection,
        name,
        user: &user,
        destination: &destination,
        command: &command,
    };
    let region;
    let mut plan = match client {
        SetupClient::Pgpass => {
            let issued = issued.as_ref().expect("pgpass issues a token");
            pgpass::plan(&request, &issued.token)?
        }
        SetupClient::Pgservice => pgservice::plan(&request)?,
        SetupClient::Tableplus => tableplus::plan(&request)?,
        SetupClient::Datagrip => {
            region = match issued.as_ref() {
                Some(issued) => issued.region.clone(),
                // A DSQL data source reads .pgpass and names no region.
                None => connection.signing_region().unwrap_or_default(),
            };
            datagrip::plan(&request, datagrip_auth(connection, args.auth)?, &region)?
        }
        SetupClient::Pgadmin => pgadmin::plan(&request)?,
        SetupClient::Dbeaver => dbeaver::plan(&request, dbeaver_auth(args.auth)?)?,
        SetupClient::Mysql => mysql::plan(&request)?,
    };
    if let Some(how) = ca_file_reader(client) {
        plan.notes.extend(clients::system_trust_note(
            connection,
            &ca_file(connection, how),
        ));
    }
    perform(plan)?;
    Ok(0)
}

/// `--via-proxy`: the client points at `rdsiam-helper proxy` on the local port, with no
/// password; a token is issued only to learn the `{session_name}` user.
fn via_proxy(
    connection: &Connection,
    name: &str,
    client: SetupClient,
    destination: &Destination,
    command: &HelperCommand,
) -> Result<i32> {
    use crate::clients::via_proxy;
    via_proxy::local_port(connection, name)?;
    let user = match connection.user_is_session_name() {
        true => issuer::issue(connection, true)?.user,
        false => connection.user.clone(),
    };
    let request = Request {
        connection,
        name,
        user: &user,
        destination,
        command,
    };
    let plan = match client {
        SetupClient::Pgpass => via_proxy::pgpass(&request)?,
        SetupClient::Pgservice => via_proxy::pgservice(&request)?,
        SetupClient::Mysql => via_proxy::mysql(&request)?,
        SetupClient::Tableplus => via_proxy::tableplus(&request)?,
        SetupClient::Datagrip => via_proxy::jdbc_client(&request, "DataGrip")?,
        SetupClient::Dbeaver => via_proxy::jdbc_client(&request, "DBeaver")?,
        SetupClient::Pgadmin => via_proxy::pgadmin(&request)?,
    };
    perform(plan)?;
    Ok(0)
}

/// Who reads the CA file a client's set-up names, for clients that take only a file (the
/// system store's `sslrootcert=system` is libpq 16's alone; pg_service.conf says its own).
fn ca_file_reader(client: SetupClient) -> Option<&'static str> {
    match client {
        SetupClient::Datagrip | SetupClient::Dbeaver => Some("pgjdbc"),
        SetupClient::Pgadmin => Some("pgAdmin's libpq"),
        SetupClient::Tableplus => Some("TablePlus"),
        SetupClient::Pgpass | SetupClient::Pgservice | SetupClient::Mysql => None,
    }
}

fn ca_file(connection: &Connection, reader: &str) -> String {
    format!(
        "the OS bundle file {}, which {reader} reads",
        clients::ca_bundle(connection).display()
    )
}

/// Prints the plan's text, merges its edits, then gives its notes.
fn perform(plan: Plan<'_>) -> Result<()> {
    if let Some(text) = &plan.print {
        print(text.expose())?;
    }
    for edit in plan.edits {
        let mut notes = Vec::new();
        let merge = edit.merge;
        let written = files::update(&edit.path, |existing| {
            let merged = merge(existing)?;
            notes = merged.notes;
            Ok(merged.text)
        })?;
        let path = std::path::absolute(&edit.path).unwrap_or_else(|_| edit.path.clone());
        let path = path.display();
        match written {
            Written::Unchanged => eprintln!("rdsiam-helper: {path} is already up to date"),
            Written::Created => eprintln!("rdsiam-helper: wrote {path}"),
            Written::Updated { backup } => eprintln!(
                "rdsiam-helper: updated {path} (previous version: {})",
                backup.display()
            ),
        }
        for note in notes {
            eprintln!("rdsiam-helper: {note}");
        }
    }
    for note in plan.notes {
        eprintln!("rdsiam-helper: {note}");
    }
    Ok(())
}

/// Whether the plan needs a token issued first: for `.pgpass` itself, for the user name that
/// `{session_name}` resolves to, and for DataGrip's signing region when only the AWS profile
/// knows it.
fn needs_token(client: SetupClient, connection: &Connection) -> bool {
    match client {
        SetupClient::Pgpass => true,
        SetupClient::Datagrip if connection.engine != Engine::Dsql => {
            connection.user_is_session_name() || connection.signing_region().is_none()
        }
        _ => connection.user_is_session_name(),
    }
}

/// The engines each client (and auth mode) serves, checked before anything is issued.
fn require_engine(
    connection: &Connection,
    name: &str,
    client: SetupClient,
    auth: Option<AuthMode>,
) -> Result<()> {
    let (wire, what, hint) = match client {
        SetupClient::Pgpass => (Wire::Postgres, ".pgpass", None),
        SetupClient::Pgservice => (Wire::Postgres, "pg_service.conf", None),
        SetupClient::Pgadmin => (Wire::Postgres, "pgAdmin", None),
        SetupClient::Dbeaver => (
            Wire::Postgres,
            "`setup dbeaver`",
            Some(
                "for MySQL in DBeaver, use the shell-command password model with the command from `rdsiam-helper setup tableplus NAME`",
            ),
        ),
        SetupClient::Mysql => (Wire::Mysql, "the mysql option file", None),
        SetupClient::Datagrip if auth == Some(AuthMode::Pgpass) => (
            Wire::Postgres,
            "DataGrip's pgpass mode",
            Some("use --auth aws-toolkit for MySQL (the AWS Toolkit plugin signs the token)"),
        ),
        SetupClient::Datagrip | SetupClient::Tableplus => return Ok(()),
    };
    if connection.engine.wire() == wire {
        return Ok(());
    }
    let (wanted, other) = match wire {
        Wire::Postgres => ("postgres (or dsql)", connection.engine.as_str()),
        Wire::Mysql => ("mysql", connection.engine.as_str()),
    };
    let err = Error::usage(format!(
        "{what} is for {wanted} connections; `{name}` is {other}"
    ));
    Err(match hint {
        Some(hint) => err.hint(hint),
        None => err,
    })
}

/// DataGrip's AWS Toolkit signs RDS tokens only: a DSQL connection gets its password from
/// `.pgpass` (the default there).
fn datagrip_auth(connection: &Connection, auth: Option<AuthMode>) -> Result<datagrip::Auth> {
    if connection.engine == Engine::Dsql {
        return match auth.unwrap_or(AuthMode::Pgpass) {
            AuthMode::Pgpass => Ok(datagrip::Auth::Pgpass),
            _ => Err(Error::usage(
                "for an Aurora DSQL connection DataGrip reads its password from ~/.pgpass",
            )
            .hint(
                "use --auth pgpass (the default for dsql); the AWS Toolkit signs RDS tokens only",
            )),
        };
    }
    match auth.unwrap_or(AuthMode::AwsToolkit) {
        AuthMode::AwsToolkit => Ok(datagrip::Auth::AwsToolkit),
        AuthMode::Pgpass => Ok(datagrip::Auth::Pgpass),
        AuthMode::Command => Err(Error::usage("DataGrip has no command password mode")
            .hint("use --auth aws-toolkit (the AWS Toolkit plugin) or --auth pgpass")),
    }
}

fn dbeaver_auth(auth: Option<AuthMode>) -> Result<dbeaver::Auth> {
    match auth.unwrap_or(AuthMode::Pgpass) {
        AuthMode::Pgpass => Ok(dbeaver::Auth::Pgpass),
        AuthMode::Command => Ok(dbeaver::Auth::ShellCommand),
        AuthMode::AwsToolkit => Err(Error::usage("DBeaver CE has no AWS IAM auth model")
            .hint("use --auth pgpass or --auth command")),
    }
}
