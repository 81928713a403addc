//! One module per database client: what to write and where, as pure functions over a
//! `Connection` (and a token where the client needs one). Commands do the I/O.

pub mod datagrip;
pub mod dbeaver;
pub mod ini;
pub mod libpq;
pub mod mysql;
pub mod pgadmin;
pub mod pgpass;
pub mod pgservice;
pub mod tableplus;

use crate::config::{Connection, Engine, expand_home};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Where the AWS guide puts the RDS CA bundle, used when a connection names none.
pub const DEFAULT_CA_BUNDLE: &str = "~/.aws/rds/global-bundle.pem";
pub const CA_BUNDLE_URL: &str = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem";

pub fn ca_bundle(connection: &Connection) -> PathBuf {
    connection
        .ca_bundle
        .clone()
        .unwrap_or_else(|| expand_home(Path::new(DEFAULT_CA_BUNDLE)))
}

/// The CA bundle, which must exist for a client to verify the server: TLS verification is
/// never silently dropped.
pub fn existing_ca_bundle(connection: &Connection) -> Result<PathBuf> {
    let path = ca_bundle(connection);
    if path.is_file() {
        return Ok(path);
    }
    Err(Error::failure(format!(
        "the CA bundle {} does not exist; clients need it to verify the server (sslmode verify-full)",
        path.display()
    ))
    .hint(format!("download it: curl -fsSLo {} {CA_BUNDLE_URL}", shell_quote(&path.display().to_string())))
    .hint("or set `ca_bundle` for the connection (or in [defaults]) to where it is"))
}

/// The command a GUI client runs for the password: this binary by absolute path (GUI apps
/// have no shell PATH), `pg NAME` or `mysql NAME`.
pub fn helper_command(connection: &Connection) -> Result<String> {
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| Error::failure(format!("cannot find this program's own path: {e}")))?;
    let name = connection
        .name
        .as_deref()
        .ok_or_else(|| Error::usage("a configured connection is needed"))?;
    let verb = match connection.engine {
        Engine::Postgres => "pg",
        Engine::Mysql => "mysql",
    };
    Ok(format!(
        "{} {verb} {}",
        shell_quote(&exe.display().to_string()),
        shell_quote(name)
    ))
}

pub fn shell_quote(text: &str) -> String {
    shlex::try_quote(text)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| text.to_string())
}

/// What a client loses when it dials a tunnel and cannot verify the endpoint's name.
pub fn tunnel_caveat(connection: &Connection) -> Option<String> {
    connection.tunnel.map(|tunnel| {
        format!(
            "this client connects to the tunnel {tunnel} and cannot check the server certificate against {}: \
             TLS is verified against the CA only (verify-ca), without hostname verification",
            connection.host
        )
    })
}
