//! One module per database client: what to write and where, as pure functions over a
//! `Connection` (and a token where the client needs one). Commands do the I/O.

pub mod datagrip;
pub mod dbeaver;
pub mod ini;
pub mod launch;
pub mod libpq;
pub mod mysql;
pub mod pgadmin;
pub mod pgpass;
pub mod pgservice;
pub mod tableplus;
pub mod via_proxy;

use crate::config::{Connection, Dialing, TrustAnchors, Wire, system_bundle};
use crate::error::{Error, Result};
use crate::issuer::Issued;
use crate::secret::Contents;
use std::path::{Path, PathBuf};

/// Where the AWS guide puts the RDS CA bundle, used when a connection names none.
pub use crate::config::DEFAULT_CA_BUNDLE;
pub const CA_BUNDLE_URL: &str = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem";

/// Where the OS trust store usually is, for a client file written when this machine has none.
const USUAL_SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The CA file for clients that take a path (JDBC, pgAdmin, TablePlus, older libpq): the
/// connection's bundle, or for the system store the OS bundle file.
pub fn ca_bundle(connection: &Connection) -> PathBuf {
    match connection.trust_anchors() {
        TrustAnchors::Bundle(path) => path,
        TrustAnchors::System => system_bundle().unwrap_or_else(|| USUAL_SYSTEM_BUNDLE.into()),
    }
}

/// What a set-up says about the trust store when it is the system's (DSQL by default).
pub fn system_trust_note(connection: &Connection, how: &str) -> Option<String> {
    (connection.trust_anchors() == TrustAnchors::System).then(|| {
        format!(
            "TLS: the server is verified against the system trust store ({how}); Aurora DSQL's certificates are publicly trusted, so no RDS CA bundle is needed"
        )
    })
}

/// `system_trust_note` for a client that takes only a CA file (`reader`): the OS bundle file.
pub fn ca_file_note(connection: &Connection, reader: &str) -> Option<String> {
    system_trust_note(
        connection,
        &format!(
            "the OS bundle file {}, which {reader} reads",
            ca_bundle(connection).display()
        ),
    )
}

/// libpq's `sslrootcert`: the bundle file; for the system store `system` where libpq is 16 or
/// newer (`libpq_major`), else the OS bundle file, which every libpq reads.
pub fn libpq_root_cert(connection: &Connection, libpq_major: Option<u32>) -> String {
    match connection.trust_anchors() {
        TrustAnchors::System if libpq_major.is_some_and(|major| major >= 16) => {
            libpq::SYSTEM_ROOT_CERT.to_string()
        }
        _ => ca_bundle(connection).display().to_string(),
    }
}

/// The CA bundle, which must exist for a client to verify the server: TLS verification is
/// never silently dropped.
pub fn existing_ca_bundle(connection: &Connection) -> Result<PathBuf> {
    let path = ca_bundle(connection);
    if path.is_file() {
        return Ok(path);
    }
    if connection.trust_anchors() == TrustAnchors::System {
        return Err(Error::failure(
            "no system CA bundle found (SSL_CERT_FILE, /etc/ssl/certs/ca-certificates.crt, /etc/pki/tls/certs/ca-bundle.crt, /etc/ssl/cert.pem); clients need it to verify the server (sslmode verify-full)",
        )
        .hint("install the OS CA certificates (e.g. `apt install ca-certificates`)")
        .hint("or set `ca_bundle` for the connection to a file with the CAs that signed the server's certificate"));
    }
    Err(Error::failure(format!(
        "the CA bundle {} does not exist; clients need it to verify the server (sslmode verify-full)",
        path.display()
    ))
    .hint(format!("download it: curl -fsSLo {} {CA_BUNDLE_URL}", shell_quote(&path.display().to_string())))
    .hint("or set `ca_bundle` for the connection (or in [defaults]) to where it is"))
}

/// This binary as another program (a GUI, a timer) runs it: by absolute path, since GUI apps
/// have no shell PATH, and with `--config` when the connections file is not the one a process
/// with only HOME set would find. Every command the tool hands to another program comes from
/// here, shell-quoted.
#[derive(Debug, Clone)]
pub struct HelperCommand {
    exe: PathBuf,
    config: Option<PathBuf>,
}

impl HelperCommand {
    pub fn new(config_path: &Path) -> Result<HelperCommand> {
        let exe = invoked_path()?;
        let config = std::path::absolute(config_path)
            .map_err(|e| Error::io("find the absolute path of", config_path, e))?;
        let home_default = crate::platform::paths::config_base()
            .map(|base| base.join("rdsiam-helper").join("config.toml"));
        Ok(HelperCommand {
            exe,
            config: (home_default.as_deref() != Some(config.as_path())).then_some(config),
        })
    }

    /// The command line for `args`, ready for `sh -c` (on Windows, for `cmd.exe`).
    pub fn line(&self, args: &[&str]) -> String {
        let mut words = vec![shell_quote(&self.exe.display().to_string())];
        if let Some(config) = &self.config {
            words.push("--config".into());
            words.push(shell_quote(&config.display().to_string()));
        }
        words.extend(args.iter().map(|a| shell_quote(a)));
        words.join(" ")
    }

    /// `pg NAME` or `mysql NAME`: what a GUI runs for the password.
    pub fn password(&self, connection: &Connection, name: &str) -> String {
        let verb = match connection.engine.wire() {
            Wire::Postgres => "pg",
            Wire::Mysql => "mysql",
        };
        self.line(&[verb, name])
    }
}

/// `text` as one word for this platform's shell (`sh`, or `cmd.exe` on Windows).
pub fn shell_quote(text: &str) -> String {
    crate::platform::quoting::quote(text)
}

/// This program as the user reaches it: the path they ran, or found on PATH, when it leads to
/// this very binary. Not the resolved file: Homebrew, nix and asdf link a stable name to a
/// versioned folder that the next upgrade removes, with every GUI's password command in it.
fn invoked_path() -> Result<PathBuf> {
    let real = std::env::current_exe()
        .and_then(dunce::canonicalize)
        .map_err(|e| Error::failure("cannot find this program's own path").caused_by(e))?;
    let Some(arg0) = std::env::args_os().next().map(PathBuf::from) else {
        return Ok(real);
    };
    let candidates: Vec<PathBuf> = if arg0.components().count() > 1 {
        std::path::absolute(&arg0).into_iter().collect()
    } else {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .map(|dir| dir.join(&arg0))
            .collect()
    };
    Ok(candidates
        .into_iter()
        .find(|candidate| {
            candidate.is_absolute() && dunce::canonicalize(candidate).ok().as_ref() == Some(&real)
        })
        .unwrap_or(real))
}

/// What a client loses when it dials a tunnel and cannot verify the endpoint's name.
pub fn tunnel_caveat(connection: &Connection) -> Option<String> {
    let verification = connection.verification(Dialing::AddressOnly);
    connection.tunnel.filter(|_| !verification.is_full()).map(|tunnel| {
        format!(
            "this client connects to the tunnel {tunnel} and cannot check the server certificate against {}: \
             TLS is verified against the CA only (verify-ca), without hostname verification",
            connection.host
        )
    })
}

/// Where `setup` puts a client's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// On stdout, for the person to paste or import.
    Print,
    /// Merged into the client's file: its usual place, or the path given.
    Write(Option<PathBuf>),
}

impl Destination {
    /// The file to merge into, or `None` when printing.
    pub fn file(&self, default: impl FnOnce() -> Result<PathBuf>) -> Result<Option<PathBuf>> {
        match self {
            Destination::Print => Ok(None),
            Destination::Write(Some(path)) => Ok(Some(path.clone())),
            Destination::Write(None) => default().map(Some),
        }
    }
}

/// The clients `setup` configures. Each names its module's `Client`; adding a client is its
/// module and a line here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SetupClient {
    Pgpass,
    Pgservice,
    Tableplus,
    Datagrip,
    Pgadmin,
    Dbeaver,
    Mysql,
}

impl SetupClient {
    pub fn client(self) -> &'static dyn Client {
        match self {
            SetupClient::Pgpass => &pgpass::Pgpass,
            SetupClient::Pgservice => &pgservice::Pgservice,
            SetupClient::Tableplus => &tableplus::Tableplus,
            SetupClient::Datagrip => &datagrip::Datagrip,
            SetupClient::Pgadmin => &pgadmin::Pgadmin,
            SetupClient::Dbeaver => &dbeaver::Dbeaver,
            SetupClient::Mysql => &mysql::Mysql,
        }
    }
}

/// How a GUI that offers a choice gets the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// DataGrip: the AWS Toolkit plugin signs tokens itself (auth provider aws.rds.iam)
    AwsToolkit,
    /// DataGrip, DBeaver: the client reads ~/.pgpass, kept fresh by `refresh` (PostgreSQL)
    Pgpass,
    /// DBeaver 2026+: the client runs this tool for the password (shell_command model)
    Command,
}

/// One client's set-up, as pure functions from the request to a plan; `commands::setup`
/// gathers the request and performs the plan.
pub trait Client: Sync {
    /// Refuses, before anything is issued, a connection or auth mode the client cannot serve.
    fn accepts(&self, connection: &Connection, name: &str, auth: Option<AuthMode>) -> Result<()>;

    /// Whether `--auth` chooses how the client gets its password.
    fn takes_auth(&self) -> bool {
        false
    }

    /// Whether the plan needs a token issued first (a `{session_name}` user always does).
    fn needs_token(&self, _connection: &Connection) -> bool {
        false
    }

    /// The direct set-up: the client signs in to the database with a token.
    fn plan<'a>(&self, request: &Request<'a>) -> Result<Plan<'a>>;

    /// `--via-proxy`: the client signs in to `rdsiam-helper proxy`, with no password.
    fn via_proxy<'a>(&self, request: &Request<'a>) -> Result<Plan<'a>>;
}

/// Refuses a connection whose engine speaks another protocol than the client's.
pub fn require_wire(
    connection: &Connection,
    name: &str,
    wire: Wire,
    what: &str,
    hint: Option<&str>,
) -> Result<()> {
    if connection.engine.wire() == wire {
        return Ok(());
    }
    let wanted = match wire {
        Wire::Postgres => "postgres (or dsql)",
        Wire::Mysql => "mysql",
    };
    let err = Error::usage(format!(
        "{what} is for {wanted} connections; `{name}` is {}",
        connection.engine.as_str()
    ));
    Err(match hint {
        Some(hint) => err.hint(hint),
        None => err,
    })
}

/// What `setup CLIENT NAME` asks of a client, gathered by the driver (which issues a token
/// first where the user name or the token itself is needed).
pub struct Request<'a> {
    pub connection: &'a Connection,
    pub name: &'a str,
    /// The database user, with `{session_name}` resolved.
    pub user: &'a str,
    /// The token issued for the plan, where `needs_token` asked for one.
    pub issued: Option<&'a Issued>,
    pub auth: Option<AuthMode>,
    pub destination: &'a Destination,
    pub command: &'a HelperCommand,
    /// The major version of the libpq here (`psql --version`), probed by the driver so plans
    /// stay pure: libpq 16+ reads `sslrootcert=system`, older ones need the bundle file.
    pub libpq_major: Option<u32>,
}

/// A client's set-up, decided without touching a file; `commands::setup` performs it.
#[derive(Default)]
pub struct Plan<'a> {
    /// What goes to stdout.
    pub print: Option<Contents>,
    /// Files to merge into, in order, each under its folder's lock.
    pub edits: Vec<Edit<'a>>,
    /// Lines for stderr once the edits are done: next steps in the client, caveats.
    pub notes: Vec<String>,
}

/// One read-modify-write of a user's files: usually one file; several when their new texts
/// depend on one another, all read and written under their folders' locks.
pub struct Edit<'a> {
    pub paths: Vec<PathBuf>,
    /// The new texts from the old ones ("" for a file that does not exist), in `paths`' order;
    /// also what to say about the change.
    pub merge: MergeFn<'a>,
}

/// The new texts of files from their old texts.
pub type MergeFn<'a> = Box<dyn FnOnce(&[&str]) -> Result<Vec<Merged>> + 'a>;

impl<'a> Edit<'a> {
    pub fn new(path: PathBuf, merge: impl FnOnce(&str) -> Result<Merged> + 'a) -> Edit<'a> {
        Edit {
            paths: vec![path],
            merge: Box::new(move |texts| Ok(vec![merge(texts[0])?])),
        }
    }

    pub fn together(
        paths: Vec<PathBuf>,
        merge: impl FnOnce(&[&str]) -> Result<Vec<Merged>> + 'a,
    ) -> Edit<'a> {
        Edit {
            paths,
            merge: Box::new(merge),
        }
    }
}

/// A merge's result: the text, and notes about where things went.
pub struct Merged {
    /// A secret when the file holds a token: written 0600.
    pub text: Contents,
    pub notes: Vec<String>,
}

impl From<String> for Merged {
    fn from(text: String) -> Merged {
        Merged {
            text: Contents::Plain(text),
            notes: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn connection(extra: &str) -> Connection {
        let text = format!(
            "[connections.c]\nhost = \"abc.dsql.us-east-1.on.aws\"\nuser = \"admin\"\n{extra}"
        );
        let config = Config::parse("c.toml".into(), &text).unwrap();
        config.get("c").unwrap().clone()
    }

    #[test]
    fn libpq_16_names_the_system_store_and_older_libpq_a_file() {
        let dsql = connection("");
        assert_eq!(dsql.trust_anchors(), TrustAnchors::System);
        assert_eq!(libpq_root_cert(&dsql, Some(16)), "system");
        assert_eq!(libpq_root_cert(&dsql, Some(17)), "system");
        for older in [Some(15), None] {
            let file = libpq_root_cert(&dsql, older);
            assert_ne!(file, "system");
            assert_eq!(file, ca_bundle(&dsql).display().to_string());
        }
        // A CA bundle given is used as given, whatever the libpq.
        let own = connection("ca_bundle = \"/tmp/ca.pem\"\n");
        assert_eq!(libpq_root_cert(&own, Some(16)), "/tmp/ca.pem");
    }
}
