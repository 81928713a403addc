//! TablePlus: the fields to type, and an import URL. TablePlus runs the "Command Line" password
//! itself, without the user's shell PATH or AWS variables (TablePlus #2531, #3116), so the
//! value is this binary's absolute path. Its URL cannot carry a CA file or a command password
//! (#3120, #3411): the output names the fields to set by hand.

use crate::clients::via_proxy::{self, PROXY_HOST};
use crate::clients::{
    AuthMode, Client, Destination, Plan, Request, ca_bundle, ca_file_note, tunnel_caveat,
};
use crate::config::{Connection, Dialing, Wire};
use crate::error::{Error, Result};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use std::path::Path;

/// The SSL dropdown position TablePlus stores in `tLSMode`. Undocumented; read off exported
/// connections (PostgreSQL: 5 verify-full, 4 verify-ca; MySQL: 4 verify-identity, 3 verify-ca).
fn tls_mode(connection: &Connection) -> u8 {
    match (
        connection.engine.wire(),
        connection.verification(Dialing::AddressOnly).is_full(),
    ) {
        (Wire::Postgres, true) => 5,
        (Wire::Postgres, false) => 4,
        (Wire::Mysql, true) => 4,
        (Wire::Mysql, false) => 3,
    }
}

fn environment(name: &str) -> (&'static str, &'static str) {
    let lower = name.to_ascii_lowercase();
    if lower.contains("prod") {
        ("production", "C0392B")
    } else if lower.contains("stag") {
        ("staging", "E67E22")
    } else {
        ("development", "27AE60")
    }
}

pub fn url(connection: &Connection, name: &str, user: &str) -> String {
    let scheme = match connection.engine.wire() {
        Wire::Postgres => "postgresql",
        Wire::Mysql => "mysql",
    };
    let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    let (environment, color) = environment(name);
    format!(
        "{scheme}://{}@{}:{}/{}?name={}&statusColor={color}&enviroment={environment}&tLSMode={}",
        enc(user),
        connection.dial_host_for_url(),
        connection.dial_port(),
        enc(connection.database_or_default()),
        enc(name),
        tls_mode(connection)
    )
}

/// What `setup tableplus NAME` prints.
pub fn instructions(
    connection: &Connection,
    name: &str,
    user: &str,
    command: &str,
    ca_bundle: &Path,
) -> String {
    let (kind, ssl) = match (
        connection.engine.wire(),
        connection.verification(Dialing::AddressOnly).is_full(),
    ) {
        (Wire::Postgres, true) => ("PostgreSQL", "VERIFY-FULL"),
        (Wire::Postgres, false) => ("PostgreSQL", "VERIFY-CA"),
        (Wire::Mysql, true) => ("MySQL (or MariaDB)", "VERIFY-IDENTITY"),
        (Wire::Mysql, false) => ("MySQL (or MariaDB)", "VERIFY-CA"),
    };
    let mut out = format!(
        "TablePlus: Create a new connection > {kind}, then fill in:\n\
         \x20 Name:      {name}\n\
         \x20 Host:      {}\n\
         \x20 Port:      {}\n\
         \x20 User:      {user}\n\
         \x20 Password:  choose \"Command Line (IAM Authentication)\" in the password menu, and enter:\n\
         \x20            {command}\n\
         \x20 Database:  {}\n\
         \x20 SSL mode:  {ssl}\n\
         \x20 SSL CA:    {}\n\n\
         Or import everything but the password command and the CA file:\n\
         \x20 open \"{}\"\n\
         then set those two fields by hand as above (TablePlus URLs cannot carry them),\n\
         and check that the SSL mode shows {ssl} (the URL's tLSMode is an undocumented menu position).\n\n\
         Note: TablePlus runs the command through a login shell and takes all of its stdout as the password;\n\
         a shell start-up file (~/.zshrc, ~/.bash_profile, ~/.profile) that prints anything corrupts it.\n",
        connection.dial_host(),
        connection.dial_port(),
        connection.database_or_default(),
        ca_bundle.display(),
        url(connection, name, user),
    );
    if let Some(caveat) = tunnel_caveat(connection) {
        out.push_str(&format!("\nTunnel: {caveat}.\n"));
    }
    out
}

/// `setup tableplus`: the fields to type and the import URL. TablePlus keeps connections in
/// its own store, so there is nothing to write.
pub struct Tableplus;

/// TablePlus speaks both protocols.
impl Client for Tableplus {
    fn accepts(
        &self,
        _connection: &Connection,
        _name: &str,
        _auth: Option<AuthMode>,
    ) -> Result<()> {
        Ok(())
    }

    fn plan<'a>(&self, request: &Request<'a>) -> Result<Plan<'a>> {
        request
            .connection
            .require_verifiable(Dialing::AddressOnly, "TablePlus")?;
        let mut plan = plan(request)?;
        plan.notes
            .extend(ca_file_note(request.connection, "TablePlus"));
        Ok(plan)
    }

    fn via_proxy<'a>(&self, request: &Request<'a>) -> Result<Plan<'a>> {
        via_proxy_plan(request)
    }
}

fn plan<'a>(request: &Request<'a>) -> Result<Plan<'a>> {
    if *request.destination != Destination::Print {
        return Err(Error::usage(
            "TablePlus keeps connections in its own store; there is no file to --write",
        )
        .hint("run without --write and follow the printed steps (or open the printed URL)"));
    }
    let command = request.command.password(request.connection, request.name);
    Ok(Plan {
        print: Some(
            instructions(
                request.connection,
                request.name,
                request.user,
                &command,
                &ca_bundle(request.connection),
            )
            .into(),
        ),
        ..Plan::default()
    })
}

/// TablePlus: the fields, and an import URL with TLS off.
fn via_proxy_plan(request: &Request<'_>) -> Result<Plan<'static>> {
    if *request.destination != Destination::Print {
        return Err(via_proxy::print_only("TablePlus"));
    }
    let port = via_proxy::local_port(request.connection, request.name)?;
    let scheme = match request.connection.engine.wire() {
        Wire::Postgres => "postgresql",
        Wire::Mysql => "mysql",
    };
    let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    let url = format!(
        "{scheme}://{}@{PROXY_HOST}:{port}/{}?name={}&tLSMode=0",
        enc(request.user),
        enc(request.connection.database_or_default()),
        enc(request.name),
    );
    Ok(Plan {
        print: Some(format!(
            "TablePlus: a new connection through the proxy:\n{}\nOr import it: open \"{url}\"\n",
            via_proxy::fields(request, port, "")
        )
        .into()),
        notes: vec![via_proxy::start_note(request)],
        ..Plan::default()
    })
}
