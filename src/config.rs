//! The connections file: where it lives, what it may say, and the resolved `Connection`s.

use crate::error::{Error, Result};
use crate::report;
pub use crate::values::SESSION_NAME_TEMPLATE;

/// Where the AWS guide puts the RDS CA bundle, used when a connection names none.
pub const DEFAULT_CA_BUNDLE: &str = "~/.aws/rds/global-bundle.pem";
use crate::values::{
    AwsProfile, ConnectionName, Database, DbUser, FilePath, Host, Port, RefreshBefore, Region,
    SsoLogin, Tunnel,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

pub const DEFAULT_REFRESH_BEFORE: Duration = Duration::from_secs(300);

use crate::values::{DsqlAction, TokenLifetime};
pub use crate::values::{Engine, Wire};

/// A token's life when none is configured: RDS's fixed 15 minutes, DSQL's default.
pub const DEFAULT_TOKEN_LIFETIME: Duration = crate::values::TOKEN_LIFETIME;

pub use crate::tls_policy::{Dialing, TrustAnchors, Verification};
pub use crate::trust_store::system_bundle;

/// One database endpoint with everything needed to sign for it and to configure a client.
/// Serialisable so that a large config's connections can be kept resolved (`cache::connection`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
pub struct Connection {
    pub origin: Origin,
    pub engine: Engine,
    pub host: Host,
    pub port: Port,
    /// How long a token is signed for: 15 minutes for RDS, `token_lifetime` for DSQL.
    pub token_lifetime: Duration,
    /// DSQL's `dsql_action`, when it is set; see `dsql_action()`.
    pub dsql_action: Option<DsqlAction>,
    pub user: DbUser,
    pub database: Option<Database>,
    /// The region set by flag or by the connection itself; it beats the endpoint name's.
    pub region: Option<Region>,
    /// `[defaults] region`: after the endpoint name's region, before the profile's.
    pub default_region: Option<Region>,
    pub aws_profile: Option<AwsProfile>,
    pub ca_bundle: Option<PathBuf>,
    pub refresh_before: Duration,
    /// Where clients connect (an SSH/SSM port forward); the token stays signed for host:port.
    pub tunnel: Option<Tunnel>,
    /// Where `rdsiam-helper proxy` listens for this connection on 127.0.0.1.
    pub local_port: Option<Port>,
    /// The proxy's local password file (as `--local-password-file`), which
    /// `setup --via-proxy` writes into the client's password store.
    pub local_password_file: Option<PathBuf>,
    /// Whether an RDS endpoint name's region is used at all. False only for the AWS CLI
    /// drop-in, which must sign for exactly the region the AWS CLI would.
    pub region_from_host: bool,
    /// Whether a token command may open a browser to sign in again when the Identity Center
    /// session has expired.
    pub sso_login: SsoLogin,
    /// `verify = true`: check the credentials with STS once per credential lifetime before a
    /// token is printed (see `verify.rs`).
    pub verify: bool,
}

/// A connection of the config file with the name it has there: what a command that prints
/// commands for it works on, so the name is never missing.
#[derive(Debug, Clone, Copy)]
pub struct Named<'a> {
    pub name: &'a ConnectionName,
    pub connection: &'a Connection,
}

impl std::ops::Deref for Named<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.connection
    }
}

/// Where a connection came from: a table in the config file, which gives it the name that
/// files and printed commands refer to, or flags alone, which give it none.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
pub enum Origin {
    Named(ConnectionName),
    AdHoc,
}

impl Connection {
    /// The config's name for it, for what is keyed by name (kept connections, cache labels).
    pub fn name(&self) -> Option<&ConnectionName> {
        match &self.origin {
            Origin::Named(name) => Some(name),
            Origin::AdHoc => None,
        }
    }

    /// How messages refer to it: its name, or `user@host:port` for one given by flags.
    pub fn label(&self) -> String {
        match &self.origin {
            Origin::Named(name) => name.to_string(),
            Origin::AdHoc => format!("{}@{}:{}", self.user, self.host, self.port),
        }
    }

    /// The region to sign for when it is known without AWS configuration: the flag or the
    /// connection's own, else the endpoint name's, else `[defaults]`; `None` means the AWS
    /// profile's region.
    pub fn signing_region(&self) -> Option<Region> {
        if !self.region_from_host {
            return self.region.clone();
        }
        self.region
            .clone()
            .or_else(|| Region::of_endpoint(&self.host))
            .or_else(|| self.default_region.clone())
    }

    /// A region given explicitly that is not the endpoint name's: the server will refuse a
    /// token signed for it, so say so (once, where a token is issued).
    pub fn warn_if_region_contradicts_host(&self) {
        // The endpoint's name is parsed only when a region was chosen: this runs on every hit.
        let Some(chosen) = &self.region else {
            return;
        };
        let Some(named) = Region::of_endpoint(&self.host) else {
            return;
        };
        if *chosen != named && self.region_from_host {
            report::warn(format_args!(
                "signing for region {chosen}, but the endpoint {} is in {named}; the {} will refuse the token unless the region is right",
                self.host,
                self.server_noun()
            ));
        }
    }

    /// What refuses a bad token: an Aurora DSQL cluster, or an RDS database server.
    fn server_noun(&self) -> &'static str {
        match self.engine {
            Engine::Dsql => "cluster",
            Engine::Postgres | Engine::Mysql => "server",
        }
    }

    /// The engine contradicts the endpoint's name: an RDS token for an Aurora DSQL endpoint,
    /// or a DSQL token for an RDS one. The server refuses it whatever else is right.
    pub fn engine_contradicts_host(&self) -> Option<String> {
        // Suffixes first, without allocating: this runs on every cache hit.
        let host = self.host.trim_end_matches('.');
        let ends_with = |suffix: &str| {
            host.len() >= suffix.len()
                && host.as_bytes()[host.len() - suffix.len()..]
                    .eq_ignore_ascii_case(suffix.as_bytes())
        };
        let dsql_host = ends_with(".on.aws") && Region::of_dsql_endpoint(host).is_some();
        let rds_host = ends_with(".rds.amazonaws.com") || ends_with(".rds.amazonaws.com.cn");
        match self.engine {
            Engine::Postgres | Engine::Mysql if dsql_host => Some(format!(
                "engine {} signs an RDS token, but {} is an Aurora DSQL endpoint: the cluster will refuse it",
                self.engine.as_str(),
                self.host
            )),
            Engine::Dsql if rds_host => Some(format!(
                "engine dsql signs an Aurora DSQL token, but {} is an RDS endpoint: the server will refuse it",
                self.host
            )),
            _ => None,
        }
    }

    /// `engine_contradicts_host`, said where a token is issued. Not for the AWS CLI drop-in,
    /// which signs an RDS token whatever the host, as `aws rds` does.
    pub fn warn_if_engine_contradicts_host(&self) {
        if let Some(problem) = self.engine_contradicts_host()
            && self.region_from_host
        {
            report::warn(format_args!("{problem}"));
        }
    }

    /// `dial_host` as it goes into a URL: an IPv6 tunnel address in brackets.
    pub fn dial_host_for_url(&self) -> String {
        match self.tunnel.map(Tunnel::addr) {
            Some(SocketAddr::V6(tunnel)) => format!("[{}]", tunnel.ip()),
            _ => self.dial_host(),
        }
    }

    /// The address a client dials: the tunnel when there is one, else the endpoint itself.
    pub fn dial_host(&self) -> String {
        self.tunnel
            .map(|t| t.addr().ip().to_string())
            .unwrap_or_else(|| self.host.to_string())
    }

    /// How far a client that dials this way verifies the server: through a tunnel, one that
    /// knows only the address it dials can check the CA only.
    pub fn verification(&self, dialing: Dialing) -> Verification {
        match (self.tunnel, dialing) {
            (Some(_), Dialing::AddressOnly) => Verification::CaOnly,
            _ => Verification::Full,
        }
    }

    /// Refuses a set-up that could not verify the server at all: Aurora DSQL's certificates
    /// come from public CAs, so the CA alone proves nothing, and DSQL refuses a client that
    /// does not send the endpoint's name (SNI), which a client dialling the tunnel cannot.
    pub fn require_verifiable(&self, dialing: Dialing, client: &str) -> Result<()> {
        if self.engine != Engine::Dsql || self.verification(dialing).is_full() {
            return Ok(());
        }
        Err(Error::usage(format!(
            "{client} would dial the tunnel {} and could neither send nor check the Aurora DSQL endpoint's name",
            self.dial_host()
        ))
        .hint("use `--via-proxy`: the proxy dials the tunnel and verifies the endpoint in full")
        .hint("or a libpq client (`setup pgservice`, `setup pgadmin`, `connect`), which dials the tunnel by hostaddr"))
    }

    /// Where clients find the CA certificates: `ca_bundle` when set, else the OS store for
    /// Aurora DSQL (public certificates), else the RDS global bundle.
    pub fn trust_anchors(&self) -> TrustAnchors {
        match (&self.ca_bundle, self.engine) {
            (Some(path), _) => TrustAnchors::Bundle(path.clone()),
            (None, Engine::Dsql) => TrustAnchors::System,
            (None, _) => TrustAnchors::Bundle(expand_home(Path::new(DEFAULT_CA_BUNDLE))),
        }
    }

    /// The DSQL token's action: `dsql_action` when set, else by the user (`admin` or not).
    pub fn dsql_action(&self) -> DsqlAction {
        self.dsql_action
            .unwrap_or_else(|| DsqlAction::for_user(self.user.as_str()))
    }

    pub fn dial_port(&self) -> u16 {
        self.tunnel.map_or(self.port.get(), |t| t.addr().port())
    }

    /// The database a client opens when none is configured.
    pub fn database_or_default(&self) -> &str {
        match (&self.database, self.engine) {
            (Some(db), _) => db.as_str(),
            (None, Engine::Postgres | Engine::Dsql) => "postgres",
            (None, Engine::Mysql) => "",
        }
    }
}

/// Settings that `[defaults]` provides and each connection may override. Each value is
/// parsed by its type as the file is read; a bad one is a TOML error with its span.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    aws_profile: Option<AwsProfile>,
    region: Option<Region>,
    /// For DSQL connections only. Spanned, as `refresh_before`: a connection whose two do not
    /// fit is refused at the line of the key.
    token_lifetime: Option<Spanned<TokenLifetime>>,
    ca_bundle: Option<FilePath>,
    refresh_before: Option<Spanned<RefreshBefore>>,
    user: Option<DbUser>,
    database: Option<Database>,
    sso_login: Option<SsoLogin>,
    verify: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnection {
    engine: Option<Engine>,
    host: Option<Host>,
    port: Option<Port>,
    token_lifetime: Option<Spanned<TokenLifetime>>,
    dsql_action: Option<DsqlAction>,
    user: Option<DbUser>,
    database: Option<Database>,
    aws_profile: Option<AwsProfile>,
    region: Option<Region>,
    ca_bundle: Option<FilePath>,
    refresh_before: Option<Spanned<RefreshBefore>>,
    tunnel: Option<Tunnel>,
    sso_login: Option<SsoLogin>,
    local_port: Option<Port>,
    local_password_file: Option<FilePath>,
    verify: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    defaults: RawSettings,
    #[serde(default)]
    connections: BTreeMap<ConnectionName, Spanned<RawConnection>>,
}

/// Fields given on the command line, parsed by clap; each overrides the connection's own.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub host: Option<Host>,
    pub port: Option<Port>,
    pub user: Option<DbUser>,
    pub region: Option<Region>,
    pub aws_profile: Option<AwsProfile>,
    pub engine: Option<Engine>,
}

#[derive(Debug)]
pub struct Config {
    pub path: PathBuf,
    /// False when the file does not exist: fine for ad-hoc use.
    pub exists: bool,
    pub connections: BTreeMap<ConnectionName, Connection>,
    defaults: Defaults,
}

/// `[defaults]`, each value parsed; `ca_bundle` with `~` expanded. The two durations keep the
/// line they are on, for an error about a connection they do not fit.
#[derive(Debug, Default)]
struct Defaults {
    aws_profile: Option<AwsProfile>,
    region: Option<Region>,
    token_lifetime: Option<Duration>,
    token_lifetime_line: Option<usize>,
    ca_bundle: Option<PathBuf>,
    refresh_before: Option<Duration>,
    refresh_before_line: Option<usize>,
    user: Option<DbUser>,
    database: Option<Database>,
    sso_login: Option<SsoLogin>,
    verify: Option<bool>,
}

impl Defaults {
    /// `[defaults] ca_bundle` is for RDS: it is usually the RDS global bundle, which does not
    /// hold the public CAs an Aurora DSQL endpoint's certificate comes from, so a DSQL
    /// connection takes only its own `ca_bundle`, else the system store.
    fn ca_bundle_for(&self, engine: Engine) -> Option<PathBuf> {
        match engine {
            Engine::Dsql => None,
            Engine::Postgres | Engine::Mysql => self.ca_bundle.clone(),
        }
    }
}

impl ConfigFile<'_> {
    fn defaults(&self, raw: RawSettings) -> Defaults {
        let line = |span: std::ops::Range<usize>| self.line_of(span.start);
        Defaults {
            aws_profile: raw.aws_profile,
            region: raw.region,
            token_lifetime: raw.token_lifetime.as_ref().map(|t| t.get_ref().get()),
            token_lifetime_line: raw.token_lifetime.map(|t| line(t.span())),
            ca_bundle: raw.ca_bundle.map(|p| expand_home(Path::new(p.as_str()))),
            refresh_before: raw.refresh_before.as_ref().map(|r| r.get_ref().get()),
            refresh_before_line: raw.refresh_before.map(|r| line(r.span())),
            user: raw.user,
            database: raw.database,
            sso_login: raw.sso_login,
            verify: raw.verify,
        }
    }
}

/// `$RDSIAM_HELPER_CONFIG` (given to us as `explicit`), else the XDG path, else
/// `~/.config/rdsiam-helper/config.toml`: the same place on macOS, as other CLI tools do.
pub fn default_path(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(expand_home(path));
    }
    if let Some(xdg) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(xdg).join("rdsiam-helper").join("config.toml"));
    }
    crate::platform::paths::config_base()
        .map(|dir| dir.join("rdsiam-helper").join("config.toml"))
        .ok_or_else(|| {
            Error::failure("cannot find the home directory to locate config.toml")
                .hint("set HOME, or point RDSIAM_HELPER_CONFIG at the file")
        })
}

pub fn expand_home(path: &Path) -> PathBuf {
    match path.strip_prefix("~") {
        Ok(rest) => dirs::home_dir()
            .map(|home| home.join(rest))
            .unwrap_or_else(|| path.into()),
        Err(_) => path.into(),
    }
}

impl Config {
    pub fn load(explicit: Option<&Path>) -> Result<Config> {
        let path = default_path(explicit)?;
        let text = match crate::files::read_text(&path)? {
            Some(text) => text,
            None if explicit.is_none() => return Ok(Config::empty(path)),
            None => {
                return Err(Error::failure(format!("config file {} does not exist", path.display()))
                    .hint("create it with `rdsiam-helper connections add`, or fix the path given (the option or RDSIAM_HELPER_CONFIG)"));
            }
        };
        Config::parse(path, &text)
    }

    pub fn empty(path: PathBuf) -> Config {
        Config {
            path,
            exists: false,
            connections: BTreeMap::new(),
            defaults: Defaults::default(),
        }
    }

    pub fn parse(path: PathBuf, text: &str) -> Result<Config> {
        let file = ConfigFile { path: &path, text };
        let raw: RawFile = toml::from_str(text).map_err(|err| file.toml_error(&err))?;
        let defaults = file.defaults(raw.defaults);
        let mut connections = BTreeMap::new();
        for (name, entry) in raw.connections {
            let connection = file.connection(&name, entry, &defaults)?;
            connections.insert(name, connection);
        }
        Ok(Config {
            path,
            exists: true,
            connections,
            defaults,
        })
    }

    /// The named connection with command-line overrides applied, or an ad-hoc one from the
    /// overrides alone.
    pub fn resolve(&self, name: Option<&str>, overrides: &Overrides) -> Result<Connection> {
        let mut connection = match name {
            Some(name) => self.get(name)?.clone(),
            None => self.ad_hoc(overrides)?,
        };
        if let Some(engine) = overrides.engine {
            if name.is_some() && engine != connection.engine {
                if overrides.port.is_none() {
                    connection.port = engine.default_port();
                }
                // Another kind of token: an RDS one lives 15 minutes, a DSQL one as [defaults]
                // says (the connection's own token_lifetime was for DSQL, or refused).
                connection.token_lifetime = lifetime(engine, None, self.defaults.token_lifetime);
            }
            connection.engine = engine;
        }
        if let Some(problem) = stale_when_signed(
            connection.engine,
            connection.refresh_before,
            connection.token_lifetime,
        ) {
            return Err(self.stale_when_signed_error(&connection, problem));
        }
        let o = overrides.clone();
        connection.host = o.host.unwrap_or(connection.host);
        connection.port = o.port.unwrap_or(connection.port);
        connection.user = o.user.unwrap_or(connection.user);
        connection.aws_profile = o.aws_profile.or(connection.aws_profile);
        connection.region = o.region.or(connection.region);
        // A bare cluster id given on the command line (or a DSQL engine on one) expands as in
        // the file; with no connection named, also with the environment's region, as the AWS
        // SDKs take it.
        let mut region = connection
            .region
            .clone()
            .or_else(|| connection.default_region.clone());
        if region.is_none()
            && connection.origin == Origin::AdHoc
            && connection.engine == Engine::Dsql
        {
            region = environment_region()?;
        }
        connection.host = connection
            .host
            .expand_dsql(connection.engine, region.as_ref())
            .map_err(|problem| {
                let path = self.path.display();
                Error::usage(problem.to_string()).hint(match &connection.origin {
                    Origin::AdHoc => format!(
                        "a region comes from the command line, [defaults] region in {path}, AWS_REGION or AWS_DEFAULT_REGION"
                    ),
                    Origin::Named(name) => format!(
                        "a region comes from the command line, or `region` of connection `{name}` or [defaults] in {path}"
                    ),
                })
            })?;
        Ok(connection)
    }

    fn ad_hoc(&self, overrides: &Overrides) -> Result<Connection> {
        let host = overrides.host.as_ref().ok_or_else(|| {
            Error::usage("no connection named and no host given")
                .hint("name a connection from the config file, or give the endpoint's host and the database user")
        })?;
        let user = overrides
            .user
            .clone()
            .or_else(|| self.defaults.user.clone())
            .ok_or_else(|| {
                Error::usage("no database user given")
                    .hint("give the database user to sign for (or set `user` in [defaults])")
            })?;
        let engine = overrides.engine.unwrap_or_else(|| Engine::of_host(host));
        // `resolve` expands a bare DSQL cluster id.
        Ok(Connection {
            origin: Origin::AdHoc,
            engine,
            host: host.clone(),
            port: overrides.port.unwrap_or(engine.default_port()),
            token_lifetime: lifetime(engine, None, self.defaults.token_lifetime),
            dsql_action: None,
            user,
            database: self.defaults.database.clone(),
            region: None,
            default_region: self.defaults.region.clone(),
            region_from_host: true,
            aws_profile: self.defaults.aws_profile.clone(),
            ca_bundle: self.defaults.ca_bundle_for(engine),
            refresh_before: self
                .defaults
                .refresh_before
                .unwrap_or(DEFAULT_REFRESH_BEFORE),
            tunnel: None,
            sso_login: self.defaults.sso_login.unwrap_or_default(),
            local_port: None,
            local_password_file: None,
            verify: self.defaults.verify.unwrap_or(false),
        })
    }

    /// A connection from the command line (or a named one given another engine) whose
    /// refresh_before leaves its tokens no life: for one from the command line the value is
    /// from [defaults], so the error names its line, as for a connection in the file.
    fn stale_when_signed_error(&self, connection: &Connection, problem: String) -> Error {
        let path = self.path.display();
        let name = match &connection.origin {
            Origin::Named(name) => {
                return Error::failure(format!(
                    "{path}: connection `{name}` as engine {}: {problem}",
                    connection.engine.as_str()
                ));
            }
            Origin::AdHoc => connection.label(),
        };
        let d = &self.defaults;
        let line = match (connection.engine, d.token_lifetime_line) {
            (Engine::Dsql, Some(line)) => Some(("token_lifetime", line)),
            _ => d.refresh_before_line.map(|line| ("refresh_before", line)),
        };
        match line {
            Some((key, line)) => at_line(
                &self.path,
                line,
                &format!("defaults.{key}"),
                format!("{problem} (for {name})"),
            ),
            None => Error::failure(format!("{path}: {problem} (for {name})")),
        }
    }

    /// Why a connection of `engine` with these values (its own where given, else
    /// `[defaults]`') would hold tokens that are stale when signed: for values checked before
    /// they are written.
    pub fn stale_when_signed(
        &self,
        engine: Engine,
        refresh_before: Option<Duration>,
        token_lifetime: Option<Duration>,
    ) -> Option<String> {
        let before = refresh_before
            .or(self.defaults.refresh_before)
            .unwrap_or(DEFAULT_REFRESH_BEFORE);
        let life = lifetime(engine, token_lifetime, self.defaults.token_lifetime);
        stale_when_signed(engine, before, life)
    }

    /// Whether `[defaults]` names a user, for a connection that names none.
    pub fn has_default_user(&self) -> bool {
        self.defaults.user.is_some()
    }

    pub fn get(&self, name: &str) -> Result<&Connection> {
        self.connections.get(name).ok_or_else(|| self.unknown(name))
    }

    /// The connection with its name, for what refers to it by name (printed commands).
    pub fn named(&self, name: &str) -> Result<Named<'_>> {
        self.connections
            .get_key_value(name)
            .map(|(name, connection)| Named { name, connection })
            .ok_or_else(|| self.unknown(name))
    }

    /// Every connection of the file, with its name, in name order.
    pub fn all_named(&self) -> impl Iterator<Item = Named<'_>> {
        self.connections
            .iter()
            .map(|(name, connection)| Named { name, connection })
    }

    fn unknown(&self, name: &str) -> Error {
        let mut err = Error::failure(format!(
            "no connection named `{name}` in {}",
            self.path.display()
        ));
        if self.connections.is_empty() {
            return err.hint(if self.exists {
                "the file has no [connections.NAME] tables yet; add one with `rdsiam-helper connections add`"
            } else {
                "the file does not exist yet; add a connection with `rdsiam-helper connections add` (see its help)"
            });
        }
        let closest = self
            .connections
            .keys()
            .map(|known| (strsim::damerau_levenshtein(name, known), known))
            .filter(|(distance, known)| *distance <= 2.max(known.len() / 3))
            .min();
        if let Some((_, known)) = closest {
            err = err.hint(format!("did you mean `{known}`?"));
        }
        let known: Vec<&str> = self.connections.keys().map(|k| k.as_str()).collect();
        err.hint(format!("known connections: {}", known.join(", ")))
    }
}

/// The file being parsed, for errors that name the file, line and key.
struct ConfigFile<'a> {
    path: &'a Path,
    text: &'a str,
}

impl ConfigFile<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }

    fn at(&self, offset: usize, key: &str, problem: impl std::fmt::Display) -> Error {
        at_line(self.path, self.line_of(offset), key, problem)
    }

    fn toml_error(&self, err: &toml::de::Error) -> Error {
        let offset = err.span().map(|s| s.start).unwrap_or(0);
        let line = self.line_of(offset);
        let message = readable(err.message());
        let location = format!("{}:{line}", self.path.display());
        let hint = "the file is TOML; see the example in the README";
        // Only on this error path: parsing again without our schema tells a file that is not
        // TOML at all from a TOML file with a wrong key or value.
        if self.text.parse::<toml::Table>().is_err() {
            if message == "duplicate key" {
                return Error::failure(match self.header_at(line) {
                    Some(table) => format!(
                        "{location}: duplicate table `[{table}]`: each table, and so each connection name, may appear once"
                    ),
                    None => match self.key_at(line) {
                        Some((key, Some(table))) => {
                            format!("{location}: duplicate key `{key}` in [{table}]")
                        }
                        Some((key, None)) => format!("{location}: duplicate key `{key}`"),
                        None => format!("{location}: duplicate key"),
                    },
                })
                .hint("remove or rename one of them");
            }
            return Error::failure(format!("{location}: not valid TOML: {message}")).hint(hint);
        }
        let error = match self.key_at(line) {
            // "unknown key `hots`, expected ...": the table goes right after the key it names.
            Some((key, Some(table))) if message.contains(&format!("`{key}`")) => {
                let named = format!("`{key}`");
                Error::failure(format!(
                    "{location}: {}",
                    message.replacen(&named, &format!("{named} in [{table}]"), 1)
                ))
            }
            Some((key, _)) if message.contains(&format!("`{key}`")) => {
                Error::failure(format!("{location}: {message}"))
            }
            Some((key, Some(table))) => {
                Error::failure(format!("{location}: `{table}.{key}`: {message}"))
            }
            Some((key, None)) if key.starts_with('[') => {
                let table = key.trim_start_matches('[').trim_end_matches(']');
                Error::failure(format!("{location}: `{table}`: {message}"))
            }
            Some((key, None)) => Error::failure(format!("{location}: `{key}`: {message}")),
            None => Error::failure(format!("{location}: {message}")),
        };
        error.hint(hint)
    }

    /// The table a `[header]` on `line` opens, if the line is one.
    fn header_at(&self, line: usize) -> Option<String> {
        table_header(self.text.lines().nth(line.checked_sub(1)?)?).map(str::to_string)
    }

    /// The key set on `line` and the table it is in, for errors that would otherwise name
    /// only the key; a `[table]` line gives `("[table]", None)`.
    fn key_at(&self, line: usize) -> Option<(String, Option<String>)> {
        if let Some(header) = self.header_at(line) {
            return Some((format!("[{header}]"), None));
        }
        let (key, _) = self
            .text
            .lines()
            .nth(line.checked_sub(1)?)?
            .split_once('=')?;
        let key = key.trim();
        if key.is_empty() || key.starts_with('#') {
            return None;
        }
        let table = self
            .text
            .lines()
            .take(line - 1)
            .filter_map(table_header)
            .last()
            .filter(|t| !t.is_empty());
        Some((key.to_string(), table.map(str::to_string)))
    }

    fn connection(
        &self,
        name: &ConnectionName,
        raw: Spanned<RawConnection>,
        defaults: &Defaults,
    ) -> Result<Connection> {
        let table_offset = raw.span().start;
        let raw = raw.into_inner();
        let missing = |field: &str, problem: &str| {
            self.at(
                table_offset,
                &format!("connections.{name}.{field}"),
                problem,
            )
        };
        let host = raw.host.ok_or_else(|| {
            missing(
                "host",
                "missing; every connection needs the database endpoint",
            )
        })?;
        let engine = raw.engine.unwrap_or_else(|| Engine::of_host(&host));
        let region = raw.region.as_ref().or(defaults.region.as_ref());
        let host = host.expand_dsql(engine, region).map_err(|problem| {
            missing(
                "host",
                &format!("{problem} (`region` in the connection or in [defaults])"),
            )
        })?;
        if engine != Engine::Dsql {
            let only_dsql = "only for engine = \"dsql\"; an RDS token always lives 15 minutes and its user alone says who connects";
            if let Some(own) = &raw.token_lifetime {
                let key = format!("connections.{name}.token_lifetime");
                return Err(self.at(own.span().start, &key, only_dsql));
            }
            if raw.dsql_action.is_some() {
                return Err(missing("dsql_action", only_dsql));
            }
        }
        let token_lifetime = lifetime(
            engine,
            raw.token_lifetime.as_ref().map(|t| t.get_ref().get()),
            defaults.token_lifetime,
        );
        let user = raw.user.or_else(|| defaults.user.clone()).ok_or_else(|| {
            missing(
                "user",
                "missing; set the database user (or [defaults] user)",
            )
        })?;
        let refresh_before = raw
            .refresh_before
            .as_ref()
            .map(|r| r.get_ref().get())
            .or(defaults.refresh_before)
            .unwrap_or(DEFAULT_REFRESH_BEFORE);
        if let Some(problem) = stale_when_signed(engine, refresh_before, token_lifetime) {
            // The key that is wrong: for RDS refresh_before (its tokens' life is fixed), for
            // DSQL token_lifetime when it is set; the connection's own before [defaults].
            let own = |key: &str, span: Option<std::ops::Range<usize>>| {
                span.map(|span| {
                    at_line(
                        self.path,
                        self.line_of(span.start),
                        &format!("connections.{name}.{key}"),
                        &problem,
                    )
                })
            };
            let shared = |key: &str, line: Option<usize>| {
                line.map(|line| {
                    at_line(
                        self.path,
                        line,
                        &format!("defaults.{key}"),
                        format!("{problem} (connection `{name}`)"),
                    )
                })
            };
            let own_lifetime = raw.token_lifetime.as_ref().map(|t| t.span());
            let own_refresh = raw.refresh_before.as_ref().map(|r| r.span());
            let candidates = match engine {
                Engine::Dsql => vec![
                    own("token_lifetime", own_lifetime),
                    own("refresh_before", own_refresh),
                    shared("token_lifetime", defaults.token_lifetime_line),
                    shared("refresh_before", defaults.refresh_before_line),
                ],
                Engine::Postgres | Engine::Mysql => vec![
                    own("refresh_before", own_refresh),
                    shared("refresh_before", defaults.refresh_before_line),
                ],
            };
            return Err(candidates
                .into_iter()
                .flatten()
                .next()
                .unwrap_or_else(|| missing("refresh_before", &problem)));
        }
        Ok(Connection {
            origin: Origin::Named(name.clone()),
            engine,
            host,
            port: raw.port.unwrap_or(engine.default_port()),
            token_lifetime,
            dsql_action: raw.dsql_action,
            user,
            database: raw.database.or_else(|| defaults.database.clone()),
            region: raw.region,
            default_region: defaults.region.clone(),
            region_from_host: true,
            aws_profile: raw.aws_profile.or_else(|| defaults.aws_profile.clone()),
            ca_bundle: raw
                .ca_bundle
                .map(|p| expand_home(Path::new(p.as_str())))
                .or_else(|| defaults.ca_bundle_for(engine)),
            refresh_before,
            tunnel: raw.tunnel,
            sso_login: raw.sso_login.or(defaults.sso_login).unwrap_or_default(),
            local_port: raw.local_port,
            local_password_file: raw
                .local_password_file
                .map(|p| expand_home(Path::new(p.as_str()))),
            verify: raw.verify.or(defaults.verify).unwrap_or(false),
        })
    }
}

/// `connections.prod` for a `[connections.prod]` (or `[[...]]`) line.
fn table_header(line: &str) -> Option<&str> {
    let line = line.split('#').next()?.trim();
    let inner = line.strip_prefix('[')?.strip_suffix(']')?;
    Some(inner.trim_start_matches('[').trim_end_matches(']').trim())
}

/// serde's wording, with our internal type names replaced by what the file calls them.
fn readable(message: &str) -> String {
    message
        .trim_end_matches('\n')
        .replace('\n', "; ")
        .replace("unknown field", "unknown key")
        .replace(
            "expected struct RawConnection",
            "expected a [connections.NAME] table",
        )
        .replace("expected struct RawSettings", "expected a table")
        .replace("expected struct RawFile", "expected a table")
        .replace("expected i64", "expected an integer")
        .replace("expected a map", "expected a table")
}

/// `file:line: `key`: problem`, the form of every error about a value in the file.
fn at_line(path: &Path, line: usize, key: &str, problem: impl std::fmt::Display) -> Error {
    Error::failure(format!("{}:{line}: `{key}`: {problem}", path.display()))
}

/// Why a cached token would be stale the moment it is signed (`refresh_before` not shorter
/// than the token's life), in the engine's terms; `None` when it leaves room.
fn stale_when_signed(
    engine: Engine,
    refresh_before: Duration,
    token_lifetime: Duration,
) -> Option<String> {
    if refresh_before < token_lifetime {
        return None;
    }
    Some(match engine {
        Engine::Dsql => format!(
            "token_lifetime {} is not longer than refresh_before ({}): every token would be stale when signed; lengthen token_lifetime or shorten refresh_before",
            humantime::format_duration(token_lifetime),
            humantime::format_duration(refresh_before)
        ),
        Engine::Postgres | Engine::Mysql => format!(
            "an RDS token lives 15 minutes; refresh_before must be shorter (it is {})",
            humantime::format_duration(refresh_before)
        ),
    })
}

/// `AWS_REGION`, else `AWS_DEFAULT_REGION`: the region the AWS SDKs take from the environment.
fn environment_region() -> Result<Option<Region>> {
    for variable in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        if let Some(text) = std::env::var_os(variable).filter(|v| !v.is_empty()) {
            let text = text.to_string_lossy();
            return text
                .parse()
                .map(Some)
                .map_err(|problem| Error::usage(format!("{variable}: {problem}")));
        }
    }
    Ok(None)
}

/// A DSQL token lives as configured (15 minutes by default); an RDS token 15 minutes.
fn lifetime(engine: Engine, own: Option<Duration>, default: Option<Duration>) -> Duration {
    match engine {
        Engine::Dsql => own.or(default).unwrap_or(DEFAULT_TOKEN_LIFETIME),
        Engine::Postgres | Engine::Mysql => DEFAULT_TOKEN_LIFETIME,
    }
}

/// `cargo test fuzz`: the loader against generated files, well-formed or not.
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>().prop_map(|s| toml::Value::String(s).to_string()),
            "[a-zA-Z0-9.:/@{}_ -]{0,24}".prop_map(|s| format!("\"{s}\"")),
            any::<i64>().prop_map(|i| i.to_string()),
            (-2i64..70000).prop_map(|i| i.to_string()),
            any::<f64>().prop_map(|f| format!("{f:?}")),
            Just("true".to_string()),
            Just("[1, \"a\"]".to_string()),
            Just("{ a = 1 }".to_string()),
            Just("\"5m\"".to_string()),
            Just("\"15m\"".to_string()),
            Just("\"127.0.0.1:15432\"".to_string()),
            Just("\"{session_name}\"".to_string()),
            Just("\"db.abc.eu-west-1.rds.amazonaws.com\"".to_string()),
            Just("\"abc.dsql.eu-west-1.on.aws\"".to_string()),
            Just("\"dsql\"".to_string()),
            Just("\"admin\"".to_string()),
            Just("\"1h\"".to_string()),
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "engine",
                "host",
                "port",
                "user",
                "database",
                "aws_profile",
                "region",
                "ca_bundle",
                "refresh_before",
                "tunnel",
                "local_port",
                "local_password_file",
                "token_lifetime",
                "dsql_action",
            ])
            .prop_map(str::to_string),
            "[a-z_]{1,8}",
            any::<String>().prop_map(|s| format!("{s:?}")),
        ]
    }

    fn line() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => (key(), value()).prop_map(|(k, v)| format!("{k} = {v}")),
            1 => Just("[defaults]".to_string()),
            1 => Just("[connections]".to_string()),
            2 => "[a-zA-Z0-9_.-]{1,6}".prop_map(|n| format!("[connections.{n}]")),
            1 => any::<String>().prop_map(|n| format!("[connections.{n:?}]")),
            1 => Just("[[connections.x]]".to_string()),
            1 => Just("# comment".to_string()),
            1 => Just(String::new()),
            1 => any::<String>(),
        ]
    }

    const BASE: &str = "[defaults]\naws_profile = \"p\"\nregion = \"us-east-1\"\nrefresh_before = \"5m\"\n\n[connections.prod]\nengine = \"postgres\"\nhost = \"prod.cluster-abc.us-east-1.rds.amazonaws.com\"\nport = 5432\nuser = \"jane\"\ntunnel = \"127.0.0.1:15432\"\n";

    /// Whatever the text, the loader answers: a config whose every connection is usable, or
    /// an error that names the file and line.
    fn check(text: &str) -> Result<(), TestCaseError> {
        match Config::parse(PathBuf::from("c.toml"), text) {
            Ok(config) => {
                for (name, c) in &config.connections {
                    prop_assert!(name.parse::<ConnectionName>().is_ok());
                    prop_assert!(c.host.parse::<Host>().is_ok());
                    prop_assert_eq!(c.user.to_string().parse::<DbUser>(), Ok(c.user.clone()));
                    prop_assert!(c.port.get() != 0);
                    prop_assert!(
                        c.engine == Engine::Dsql
                            || c.refresh_before < crate::values::TOKEN_LIFETIME
                    );
                    prop_assert!(c.refresh_before < c.token_lifetime);
                    prop_assert!(
                        c.engine == Engine::Dsql || c.token_lifetime == DEFAULT_TOKEN_LIFETIME
                    );
                }
            }
            Err(err) => {
                prop_assert!(err.message.starts_with("c.toml:"), "{}", err.message);
                prop_assert!(!err.message.contains("Raw"), "{}", err.message);
                // No Rust debug text (`Some(..)`, `[\"..\"]`) reaches the person reading it.
                for debug in ["Some(", "None"] {
                    prop_assert!(!err.message.contains(debug), "{}", err.message);
                }
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn fuzz_config_parse_never_panics_on_any_text(text in any::<String>()) {
            check(&text)?;
        }

        #[test]
        fn fuzz_config_parse_never_panics_on_toml_like_files(
            lines in prop::collection::vec(line(), 0..16)
        ) {
            check(&lines.join("\n"))?;
        }

        #[test]
        fn fuzz_config_parse_never_panics_on_a_damaged_good_file(
            at in any::<prop::sample::Index>(),
            cut in 0usize..8,
            insert in any::<String>(),
        ) {
            let mut text = BASE.to_string();
            let mut start = at.index(text.len() + 1);
            while !text.is_char_boundary(start) {
                start -= 1;
            }
            let mut end = (start + cut).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.replace_range(start..end, &insert);
            check(&text)?;
        }
    }

    #[test]
    fn fuzz_base_file_is_valid() {
        let config = Config::parse(PathBuf::from("c.toml"), BASE).unwrap();
        assert_eq!(config.connections["prod"].port.get(), 5432);
    }
}
