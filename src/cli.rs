//! The command line, as data. Nothing below `main.rs` sees clap; commands get these structs.

pub use crate::clients::{AuthMode, SetupClient};
use crate::config::Engine;
use crate::error::Error;
use crate::proxy::Negotiation;
use crate::values::{
    AccountId, AwsProfile, ConnectionName, Database, DbUser, DsqlAction, FilePath, Host,
    Identifier, Port, RefreshBefore, Region, ResourceId, TokenLifetime, Tunnel, UserName,
};
use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};
use std::ffi::OsString;
use std::path::PathBuf;

/// The variable that the completion scripts set to ask the binary for candidates.
pub const COMPLETE_VAR: &str = "RDSIAM_HELPER_COMPLETE";

#[derive(Debug, Parser)]
#[command(
    name = "rdsiam-helper",
    version,
    about = "Fast, cached AWS RDS / Aurora IAM auth tokens, and ready configuration for database clients",
    after_help = "Configuration: ~/.config/rdsiam-helper/config.toml (or $RDSIAM_HELPER_CONFIG).\nExit codes: 0 ok, 1 error, 2 usage, 3 AWS credentials missing or expired."
)]
pub struct Cli {
    /// Diagnostics on stderr: which config, which cache file, hit or miss, where credentials came from
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// The connections file (default: $RDSIAM_HELPER_CONFIG, else $XDG_CONFIG_HOME or ~/.config/rdsiam-helper/config.toml)
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a token for a configured connection or for --host/--user
    Token(TokenArgs),
    /// Print a token for a PostgreSQL connection (for PGPASSWORD and TablePlus)
    Pg(EngineTokenArgs),
    /// Print a token for a MySQL / MariaDB connection
    Mysql(EngineTokenArgs),
    /// Run a command with the connection's settings and a fresh token in its environment
    Exec(ExecArgs),
    /// Open psql or mysql on the connection, with TLS verification and the token
    Connect(ConnectArgs),
    /// Print (or --write) a client's configuration for a connection
    Setup(SetupArgs),
    /// Rewrite the .pgpass lines this tool owns with fresh tokens
    Refresh(RefreshArgs),
    /// List, show, add or remove connections in the config file
    #[command(subcommand)]
    Connections(ConnectionsCommand),
    /// List or clear cached tokens (never prints a token)
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Check the config, credentials, CA bundle, clients and the AWS side; say how to fix each problem
    Doctor(DoctorArgs),
    /// The AWS profiles the tool can use: SSO or not, expired or not, and which connection uses which
    Profiles,
    /// The RDS CA bundle
    #[command(subcommand)]
    Ca(CaCommand),
    /// Print the SQL that creates a database user for IAM authentication
    SqlUser(SqlUserArgs),
    /// Print the IAM policy that allows `rds-db:connect` to a connection's database
    Policy(PolicyArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions {
        /// The shell to complete in
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Sign in to AWS IAM Identity Center (SSO) for a connection's profile, as `aws sso login` does
    Login(LoginArgs),
    /// Print the man page (roff) on stdout
    #[command(hide = true)]
    Man,
    /// Serve connections on local ports: clients connect with no password, the proxy signs in
    Proxy(ProxyArgs),
    /// Drop-in for `aws rds generate-db-auth-token`, served from the cache
    #[command(disable_help_flag = true)]
    Rds {
        /// The AWS CLI's own arguments: generate-db-auth-token --hostname H --port P --username U ...
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// One connection (default: every configured connection)
    #[arg(add = connection_names())]
    pub name: Option<ConnectionName>,
    /// text: one line per check; json: the checks as data
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Decode a token read from stdin (offline) and compare it with the connection
    #[arg(long)]
    pub token: bool,
}

#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Download the RDS global CA bundle (HTTPS), check it, and replace the old one atomically
    Install {
        /// Where to download from (https; http only to a loopback address)
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// Where to write it (default: ~/.aws/rds/global-bundle.pem)
        #[arg(long, value_name = "PATH")]
        path: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct SqlUserArgs {
    /// The database user name (the Identity Center user name)
    pub user: UserName,
    /// The database engine
    #[arg(long, value_name = "postgres|mysql")]
    pub engine: Engine,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// A connection from the config file
    #[arg(add = connection_names())]
    pub name: ConnectionName,
    /// The AWS account id (12 digits) that owns the database
    #[arg(long, value_name = "ID")]
    pub account: AccountId,
    /// The DbiResourceId / DbClusterResourceId / proxy id (default: looked up through RDS)
    #[arg(long, value_name = "ID")]
    pub resource_id: Option<ResourceId>,
    /// A fixed database user instead of ${aws:PrincipalTag/username}
    #[arg(long, value_name = "USER")]
    pub user_literal: Option<UserName>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// A connection from the config file; flags override its fields
    #[arg(add = connection_names())]
    pub name: Option<ConnectionName>,
    /// The database endpoint to sign for (a DNS name, an IPv4 address or [IPv6])
    #[arg(long, value_name = "HOST")]
    pub host: Option<Host>,
    /// The database port (default: the engine's, 5432 or 3306)
    #[arg(long, value_name = "PORT")]
    pub port: Option<Port>,
    /// The database user, or {session_name} for the caller's AWS role session name
    #[arg(long, value_name = "USER")]
    pub user: Option<DbUser>,
    /// The AWS region to sign for (default: the connection's, the endpoint name's, [defaults], the profile's)
    #[arg(long, value_name = "REGION")]
    pub region: Option<Region>,
    /// The AWS profile whose credentials sign the token
    #[arg(long, value_name = "PROFILE")]
    pub aws_profile: Option<AwsProfile>,
    /// The database engine (default: dsql for a CLUSTER_ID.dsql.REGION.on.aws host, else postgres)
    #[arg(long, value_name = "postgres|mysql|dsql")]
    pub engine: Option<Engine>,
    /// Check the credentials with STS once per credential lifetime (as `verify = true` does)
    #[arg(long)]
    pub verify: bool,
    #[command(flatten)]
    pub output: TokenOutput,
}

#[derive(Debug, Args)]
pub struct EngineTokenArgs {
    /// A connection from the config file
    #[arg(add = connection_names())]
    pub name: ConnectionName,
    #[command(flatten)]
    pub output: TokenOutput,
}

#[derive(Debug, Args, Clone, Copy)]
pub struct TokenOutput {
    /// Sign a new token; neither read nor write the cache
    #[arg(long)]
    pub no_cache: bool,
    /// text: the token alone; json: the token with its endpoint, user, region and expiry
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// A connection from the config file
    #[arg(add = connection_names())]
    pub name: ConnectionName,
    /// The command and its arguments, after `--`
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// A connection from the config file
    #[arg(add = connection_names())]
    pub name: ConnectionName,
    /// Extra arguments for psql / mysql, after `--`
    #[arg(last = true, value_name = "CLIENT ARGS")]
    pub extra: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// The client to configure
    #[arg(value_enum)]
    pub client: SetupClient,
    /// A connection from the config file
    #[arg(add = connection_names())]
    pub name: ConnectionName,
    /// Merge into the client's file (its default place, or PATH) instead of printing
    #[arg(long, value_name = "PATH", num_args = 0..=1)]
    pub write: Option<Option<PathBuf>>,
    /// How DataGrip (default aws-toolkit) or DBeaver (default pgpass) gets the password
    #[arg(long, value_enum)]
    pub auth: Option<AuthMode>,
    /// Point the client at `rdsiam-helper proxy` on 127.0.0.1 and the connection's local_port:
    /// no password, no TLS on loopback
    #[arg(long, conflicts_with = "auth")]
    pub via_proxy: bool,
}

#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// The connections to serve, each on a listener of its own
    #[arg(required = true, add = connection_names())]
    pub names: Vec<ConnectionName>,
    /// Where to listen, for one connection (default: 127.0.0.1 and the connection's local_port)
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<std::net::SocketAddr>,
    /// Also serve PostgreSQL connections on DIR/.s.PGSQL.PORT (psql -h DIR); DIR is made 0700
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub unix_socket: Option<PathBuf>,
    /// Listen on an address other than loopback; needs --local-password-file (or
    /// --allow-unauthenticated)
    #[arg(long)]
    pub allow_non_loopback: bool,
    /// Let in a client that gives the password in PATH (written, 0600, if missing) when its
    /// user cannot be checked or is not yours
    #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub local_password_file: Option<PathBuf>,
    /// Let every local user in, not only the proxy's owner (each is logged in as the
    /// connection's user)
    #[arg(long)]
    pub allow_any_local_user: bool,
    /// With --allow-non-loopback and no local password: anyone who reaches the address gets in
    #[arg(long, requires = "allow_non_loopback")]
    pub allow_unauthenticated: bool,
    /// Refuse clients beyond this many open connections (default: no limit)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
    /// On SIGTERM or SIGINT, stop accepting and wait this long for open connections to end
    #[arg(long, value_name = "DURATION", default_value = "0s")]
    pub max_sigterm_delay: humantime::Duration,
    /// Serve /startup, /liveness, /readiness and /metrics (Prometheus) over HTTP on this address
    #[arg(long, value_name = "ADDR:PORT")]
    pub health_check: Option<std::net::SocketAddr>,
    /// Also accept POST /quitquitquit on the health-check address: shut down as on SIGTERM
    #[arg(long, requires = "health_check")]
    pub quitquitquit: bool,
    /// Shut down (exit 0) once no client has been connected for this long: for Jobs
    #[arg(long, value_name = "DURATION")]
    pub quit_on_idle: Option<humantime::Duration>,
    /// One JSON object per log line instead of text
    #[arg(long)]
    pub structured_logs: bool,
    /// How TLS to a PostgreSQL server starts
    #[arg(long, value_enum, default_value_t = Negotiation::Postgres)]
    pub sslnegotiation: Negotiation,
    /// PostgreSQL: close a server connection kept for the next client after this long unused
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub server_idle_timeout: humantime::Duration,
    /// PostgreSQL: open a server connection for every client, never keep one for the next
    #[arg(long, conflicts_with = "server_idle_timeout")]
    pub no_server_reuse: bool,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// A connection from the config file: sign in for its AWS profile
    #[arg(add = connection_names(), conflicts_with_all = ["aws_profile", "sso_session"])]
    pub name: Option<ConnectionName>,
    /// The AWS profile to sign in for (an sso_session or legacy sso_start_url profile)
    #[arg(long, value_name = "PROFILE", conflicts_with = "sso_session")]
    pub aws_profile: Option<AwsProfile>,
    /// The [sso-session NAME] in the AWS config to sign in to
    #[arg(long, value_name = "NAME")]
    pub sso_session: Option<AwsProfile>,
    /// Sign in with a code shown here and confirmed in any browser (the device authorization grant)
    #[arg(long)]
    pub use_device_code: bool,
    /// Print the sign-in URL on stderr instead of opening a browser
    #[arg(long)]
    pub no_browser: bool,
}

#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// One connection; or --all
    #[arg(required_unless_present = "all", conflicts_with = "all", add = connection_names())]
    pub name: Option<ConnectionName>,
    /// Every connection that has a line in .pgpass
    #[arg(long)]
    pub all: bool,
    /// The .pgpass file (default: $PGPASSFILE or ~/.pgpass)
    #[arg(long, value_name = "PATH")]
    pub pgpass: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ConnectionsCommand {
    /// Every configured connection, one line each
    List,
    /// One connection's settings, with defaults applied
    Show {
        /// A connection from the config file
        #[arg(add = connection_names())]
        name: ConnectionName,
    },
    /// Add (or replace) a connection, keeping the rest of the file and its comments
    Add(Box<AddConnection>),
    /// List the instances and clusters with IAM authentication on, and the Aurora DSQL clusters (--add: write them to the config)
    Discover(DiscoverArgs),
    /// Remove a connection
    Remove {
        /// A connection from the config file
        #[arg(add = connection_names())]
        name: ConnectionName,
    },
}

#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// The region to look in (default: the AWS profile's)
    #[arg(long)]
    pub region: Option<Region>,
    /// The AWS profile to look with (written to each connection with --add)
    #[arg(long)]
    pub aws_profile: Option<AwsProfile>,
    /// Add each one to the config (named by its identifier; existing names are kept)
    #[arg(long)]
    pub add: bool,
    /// The database user for connections added (default: {session_name})
    #[arg(long)]
    pub user: Option<DbUser>,
}

#[derive(Debug, Clone, Args)]
pub struct AddConnection {
    /// The connection's name: letters, digits, `-`, `_` and `.`
    pub name: ConnectionName,
    /// The database endpoint (a DNS name, an IPv4 address or [IPv6])
    #[arg(long, required_unless_present_any = ["from_instance", "from_cluster", "from_dsql_cluster"], conflicts_with_all = ["from_instance", "from_cluster", "from_dsql_cluster"])]
    pub host: Option<Host>,
    /// Take host, port, engine and region from this RDS instance (asks RDS)
    #[arg(long, value_name = "ID", conflicts_with_all = ["from_cluster", "from_dsql_cluster"])]
    pub from_instance: Option<Identifier>,
    /// Take host, port, engine and region from this Aurora cluster (asks RDS)
    #[arg(long, value_name = "ID", conflicts_with = "from_dsql_cluster")]
    pub from_cluster: Option<Identifier>,
    /// Take host and region from this Aurora DSQL cluster (asks DSQL; user admin unless --user)
    #[arg(long, value_name = "ID")]
    pub from_dsql_cluster: Option<Identifier>,
    /// The database engine (default: dsql for a CLUSTER_ID.dsql.REGION.on.aws host, else postgres)
    #[arg(long, value_name = "postgres|mysql|dsql")]
    pub engine: Option<Engine>,
    /// The database port (default: the engine's, 5432 or 3306)
    #[arg(long)]
    pub port: Option<Port>,
    /// The database user, or {session_name} for the caller's AWS role session name
    #[arg(long)]
    pub user: Option<DbUser>,
    /// The database clients open (default: postgres for PostgreSQL, none for MySQL)
    #[arg(long)]
    pub database: Option<Database>,
    /// The AWS region to sign for; beats the one in the endpoint's name
    #[arg(long)]
    pub region: Option<Region>,
    /// The AWS profile whose credentials sign the token
    #[arg(long)]
    pub aws_profile: Option<AwsProfile>,
    /// The CA certificates clients verify the server with (default: ~/.aws/rds/global-bundle.pem)
    #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub ca_bundle: Option<FilePath>,
    /// Sign a new token when the cached one has less than this left (default 5m; under 15m, or for DSQL under token_lifetime)
    #[arg(long, value_name = "DURATION")]
    pub refresh_before: Option<RefreshBefore>,
    /// Where clients connect instead (an SSH/SSM port forward), e.g. 127.0.0.1:15432
    #[arg(long, value_name = "IP:PORT")]
    pub tunnel: Option<Tunnel>,
    /// Aurora DSQL: how long tokens are signed for (default 15m; at most 1 week)
    #[arg(long, value_name = "DURATION")]
    pub token_lifetime: Option<TokenLifetime>,
    /// Aurora DSQL: `admin` (DbConnectAdmin) or `connect` (DbConnect); default: admin for the user admin
    #[arg(long, value_name = "connect|admin")]
    pub dsql_action: Option<DsqlAction>,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Cached tokens: connection, endpoint, signed and valid-until times (never the token)
    List,
    /// Remove one connection's cached token, or all of them
    Clear {
        /// A connection from the config file (default: every cached token)
        #[arg(add = connection_names())]
        name: Option<ConnectionName>,
    },
}

/// `[--config PATH] pg|mysql NAME`, exactly as the tool prints it for a GUI, which runs it on
/// every connect: read without building clap's whole command tree, which costs a cache hit
/// more than everything else it does. Anything else, or anything odd (a flag, a name that is
/// not one), is left to clap, so help, errors and every other form behave as before.
fn password_command(args: Vec<OsString>) -> Option<Cli> {
    let args: Vec<&str> = args.iter().map(|a| a.to_str()).collect::<Option<_>>()?;
    let (config, rest) = match args.as_slice() {
        ["--config", path, rest @ ..] if !path.is_empty() && !path.starts_with('-') => {
            (Some(PathBuf::from(path)), rest)
        }
        rest => (None, rest),
    };
    let [verb, name] = rest else {
        return None;
    };
    if name.starts_with('-') {
        return None;
    }
    let name = name.parse().ok()?;
    let args = EngineTokenArgs {
        name,
        output: TokenOutput {
            no_cache: false,
            format: OutputFormat::Text,
        },
    };
    let command = match *verb {
        "pg" => Command::Pg(args),
        "mysql" => Command::Mysql(args),
        _ => return None,
    };
    Some(Cli {
        verbose: false,
        config,
        command,
    })
}

/// The clap command, for completion and the man page.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// Completes connection names from the config file that the line being completed would read:
/// its `--config`, else RDSIAM_HELPER_CONFIG, else the default place. Runs only when completing.
fn connection_names() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        let explicit = config_on_the_line().or_else(|| {
            std::env::var_os("RDSIAM_HELPER_CONFIG")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        });
        let Ok(config) = crate::config::Config::load(explicit.as_deref()) else {
            return Vec::new();
        };
        let wire = wire_on_the_line();
        config
            .connections
            .iter()
            .filter(|(_, c)| wire.is_none_or(|wire| c.engine.wire() == wire))
            .map(|(name, c)| {
                let help = format!("{} {}@{}", c.engine.as_str(), c.user, c.host);
                CompletionCandidate::new(name.as_str()).help(Some(help.into()))
            })
            .collect()
    })
}

/// The protocol the command being completed serves, when it serves one: `pg` and the
/// PostgreSQL set-ups (and `refresh`, which keeps `.pgpass`) offer PostgreSQL and DSQL
/// connections only, `mysql` and `setup mysql` MySQL ones.
fn wire_on_the_line() -> Option<crate::values::Wire> {
    use crate::values::Wire;
    let words: Vec<String> = std::env::args_os()
        .skip_while(|a| a != "--")
        .skip(2)
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    let mut positional = Vec::new();
    let mut words = words.iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "--config" => {
                words.next();
            }
            flag if flag.starts_with('-') => {}
            word => positional.push(word),
        }
    }
    match positional.as_slice() {
        ["pg", ..] | ["refresh", ..] => Some(Wire::Postgres),
        ["mysql", ..] | ["setup", "mysql", ..] => Some(Wire::Mysql),
        ["setup", "pgpass" | "pgservice" | "pgadmin" | "dbeaver", ..] => Some(Wire::Postgres),
        _ => None,
    }
}

/// While completing, this process runs as `rdsiam-helper -- WORDS...`: the `--config` among
/// the words typed so far.
fn config_on_the_line() -> Option<PathBuf> {
    let words: Vec<OsString> = std::env::args_os().skip_while(|a| a != "--").collect();
    let mut found = None;
    for (i, word) in words.iter().enumerate() {
        let text = word.to_string_lossy();
        if text == "--config" {
            found = words.get(i + 1).map(PathBuf::from);
        } else if let Some(path) = text.strip_prefix("--config=") {
            found = Some(PathBuf::from(path));
        }
    }
    found.filter(|p| !p.as_os_str().is_empty())
}

/// The parsed command line, or a usage error (exit 2) for `main` to render in the tool's own
/// shape, so scripts and GUI logs see one format. Help and the version are printed by clap.
pub fn parse() -> Result<Cli, Error> {
    if let Some(cli) = password_command(std::env::args_os().skip(1).collect()) {
        return Ok(cli);
    }
    Cli::try_parse().map_err(|err| {
        use clap::error::ErrorKind;
        if matches!(
            err.kind(),
            ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        ) {
            err.exit();
        }
        let help = "run `rdsiam-helper --help` (or `rdsiam-helper COMMAND --help`)";
        if let Some(message) = invalid_value(&err) {
            return Error::usage(message).hint(help);
        }
        let rendered = err.render().to_string();
        // clap's message runs to the first blank line (a list of missing arguments follows
        // its first line): keep it, on one line.
        let message: Vec<&str> = rendered
            .lines()
            .take_while(|l| !l.trim().is_empty())
            .map(str::trim)
            .collect();
        let message = message.join(" ");
        let mut error = Error::usage(message.strip_prefix("error: ").unwrap_or(&message));
        // clap's "a similar argument exists" and the like.
        for tip in rendered
            .lines()
            .filter_map(|l| l.trim().strip_prefix("tip: "))
        {
            error = error.hint(tip);
        }
        if let Some(usage) = rendered.lines().find(|l| l.starts_with("Usage: ")) {
            error = error.hint(usage);
        }
        error.hint(help)
    })
}

/// A value its type refused, as `--flag: what is wrong`: the type's words, not the value
/// echoed back (it may hold a newline or be empty).
fn invalid_value(err: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if err.kind() != ErrorKind::ValueValidation {
        return None;
    }
    let Some(ContextValue::String(arg)) = err.get(ContextKind::InvalidArg) else {
        return None;
    };
    let cause = std::error::Error::source(err)?;
    // "--port <PORT>" names the flag; a positional is shown as "<NAME>".
    let flag = match arg.split_once(' ') {
        Some((flag, _)) if flag.starts_with('-') => flag,
        _ => arg.trim_start_matches('<').trim_end_matches('>'),
    };
    Some(format!("{flag}: {cause}"))
}

#[cfg(test)]
mod password_command_tests {
    use super::*;

    fn fast(args: &[&str]) -> Option<String> {
        password_command(args.iter().map(OsString::from).collect()).map(|cli| format!("{cli:?}"))
    }

    fn clap(args: &[&str]) -> String {
        let argv = std::iter::once("rdsiam-helper").chain(args.iter().copied());
        format!("{:?}", Cli::try_parse_from(argv).unwrap())
    }

    #[test]
    fn the_gui_forms_read_as_clap_reads_them_and_nothing_else_is_taken() {
        for args in [
            &["pg", "prod"][..],
            &["mysql", "shop.eu-1"],
            &["--config", "/a b/c.toml", "pg", "prod"],
        ] {
            assert_eq!(fast(args).as_deref(), Some(clap(args).as_str()), "{args:?}");
        }
        for args in [
            &["pg", "-v"][..],
            &["pg", "--help"],
            &["pg", "prod", "--no-cache"],
            &["-v", "pg", "prod"],
            &["token", "prod"],
            &["pg", "bad name"],
            &["--config", "", "pg", "prod"],
            &["pg"],
        ] {
            assert_eq!(fast(args), None, "{args:?}");
        }
    }
}
