//! The connections file: where it lives, what it may say, and the resolved `Connection`s.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// A token lives 15 minutes; a `refresh_before` at or above that could never be satisfied.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(900);
pub const DEFAULT_REFRESH_BEFORE: Duration = Duration::from_secs(300);
/// Names longer than any DNS name are a typo or an attack on the cache key, not a host.
const MAX_HOST_LEN: usize = 253;
/// `user = "{session_name}"`: sign for the caller's role session name, which Identity Center
/// sets to the user's user name, the same value `${aws:PrincipalTag/username}` carries.
pub const SESSION_NAME_TEMPLATE: &str = "{session_name}";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Mysql,
}

impl Engine {
    pub fn parse(text: &str) -> Option<Engine> {
        match text.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" | "aurora-postgresql" | "pg" => Some(Engine::Postgres),
            "mysql" | "mariadb" | "aurora-mysql" | "aurora" => Some(Engine::Mysql),
            _ => None,
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Engine::Postgres => 5432,
            Engine::Mysql => 3306,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
        }
    }
}

/// One database endpoint with everything needed to sign for it and to configure a client.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// `None` for an ad-hoc connection built from flags alone.
    pub name: Option<String>,
    pub engine: Engine,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub database: Option<String>,
    /// The region set by flag or config; the host name's region comes first (`signing_region`).
    pub region: Option<String>,
    pub aws_profile: Option<String>,
    pub ca_bundle: Option<PathBuf>,
    pub refresh_before: Duration,
    /// Where clients connect (an SSH/SSM port forward); the token stays signed for host:port.
    pub tunnel: Option<SocketAddr>,
    /// Whether an RDS endpoint name's region beats `region`. False only for the AWS CLI
    /// drop-in, which must sign for exactly the region the AWS CLI would.
    pub region_from_host: bool,
}

impl Connection {
    pub fn display_name(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => format!("{}@{}:{}", self.user, self.host, self.port),
        }
    }

    /// The region to sign for when it is known without AWS configuration: the endpoint's own,
    /// else the configured one; `None` means the AWS profile's region.
    pub fn signing_region(&self) -> Option<String> {
        match self.region_from_host {
            true => region_from_host(&self.host).or_else(|| self.region.clone()),
            false => self.region.clone(),
        }
    }

    /// `dial_host` as it goes into a URL: an IPv6 tunnel address in brackets.
    pub fn dial_host_for_url(&self) -> String {
        match self.tunnel {
            Some(SocketAddr::V6(tunnel)) => format!("[{}]", tunnel.ip()),
            _ => self.dial_host(),
        }
    }

    /// The address a client dials: the tunnel when there is one, else the endpoint itself.
    pub fn dial_host(&self) -> String {
        self.tunnel
            .map(|t| t.ip().to_string())
            .unwrap_or_else(|| self.host.clone())
    }

    /// Whether the database user is resolved from the caller's identity at signing time.
    pub fn user_is_session_name(&self) -> bool {
        self.user == SESSION_NAME_TEMPLATE
    }

    pub fn dial_port(&self) -> u16 {
        self.tunnel.map(|t| t.port()).unwrap_or(self.port)
    }

    /// The database a client opens when none is configured.
    pub fn database_or_default(&self) -> &str {
        match (&self.database, self.engine) {
            (Some(db), _) => db,
            (None, Engine::Postgres) => "postgres",
            (None, Engine::Mysql) => "",
        }
    }
}

/// Settings that `[defaults]` provides and each connection may override.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    aws_profile: Option<String>,
    region: Option<Spanned<String>>,
    ca_bundle: Option<String>,
    refresh_before: Option<Spanned<String>>,
    user: Option<Spanned<String>>,
    database: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnection {
    engine: Option<Spanned<String>>,
    host: Option<Spanned<String>>,
    port: Option<Spanned<i64>>,
    user: Option<Spanned<String>>,
    database: Option<String>,
    aws_profile: Option<String>,
    region: Option<Spanned<String>>,
    ca_bundle: Option<String>,
    refresh_before: Option<Spanned<String>>,
    tunnel: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    defaults: RawSettings,
    #[serde(default)]
    connections: BTreeMap<String, RawConnection>,
}

/// Fields given on the command line; each overrides the connection's own.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub region: Option<String>,
    pub aws_profile: Option<String>,
    pub engine: Option<Engine>,
}

#[derive(Debug)]
pub struct Config {
    pub path: PathBuf,
    /// False when the file does not exist: fine for ad-hoc use.
    pub exists: bool,
    pub connections: BTreeMap<String, Connection>,
    defaults: Defaults,
}

#[derive(Debug, Default)]
struct Defaults {
    aws_profile: Option<String>,
    region: Option<String>,
    ca_bundle: Option<PathBuf>,
    refresh_before: Option<Duration>,
    user: Option<String>,
    database: Option<String>,
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
    let base = if cfg!(windows) {
        dirs::config_dir()
    } else {
        dirs::home_dir().map(|home| home.join(".config"))
    };
    base.map(|dir| dir.join("rdsiam-helper").join("config.toml"))
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
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
                return Ok(Config::empty(path));
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::failure(format!("config file {} does not exist", path.display()))
                    .hint("create it with `rdsiam-helper connections add NAME --host ...`, or fix --config / RDSIAM_HELPER_CONFIG"));
            }
            Err(err) => return Err(Error::io("read config file", &path, err)),
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
        let defaults = Defaults {
            aws_profile: raw.defaults.aws_profile,
            region: raw
                .defaults
                .region
                .map(|r| file.region(r, "region"))
                .transpose()?,
            ca_bundle: raw.defaults.ca_bundle.map(|p| expand_home(Path::new(&p))),
            refresh_before: raw
                .defaults
                .refresh_before
                .map(|r| file.refresh_before(r))
                .transpose()?,
            user: raw.defaults.user.map(|u| file.user(u)).transpose()?,
            database: raw.defaults.database,
        };
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
            if name.is_some() && overrides.port.is_none() && engine != connection.engine {
                connection.port = engine.default_port();
            }
            connection.engine = engine;
        }
        if let Some(host) = &overrides.host {
            connection.host =
                validate_host(host).map_err(|e| Error::usage(format!("--host: {e}")))?;
        }
        if let Some(port) = overrides.port {
            connection.port = port;
        }
        if let Some(user) = &overrides.user {
            connection.user =
                validate_user(user).map_err(|e| Error::usage(format!("--user: {e}")))?;
        }
        if let Some(profile) = &overrides.aws_profile {
            connection.aws_profile = Some(profile.clone());
        }
        if let Some(region) = &overrides.region {
            if !is_region_name(region) {
                return Err(Error::usage(format!(
                    "--region: \"{region}\" is not an AWS region (e.g. us-east-1)"
                )));
            }
            connection.region = Some(region.clone());
        }
        Ok(connection)
    }

    fn ad_hoc(&self, overrides: &Overrides) -> Result<Connection> {
        let host = overrides.host.as_deref().ok_or_else(|| {
            Error::usage("no connection named and no --host given")
                .hint("run `rdsiam-helper token NAME` for a configured connection, or `token --host H --user U`")
        })?;
        let user = overrides
            .user
            .clone()
            .or_else(|| self.defaults.user.clone())
            .ok_or_else(|| {
                Error::usage("no --user given")
                    .hint("the database user to sign for, e.g. --user jane_doe")
            })?;
        let engine = overrides.engine.unwrap_or(Engine::Postgres);
        Ok(Connection {
            name: None,
            engine,
            host: validate_host(host).map_err(|e| Error::usage(format!("--host: {e}")))?,
            port: overrides.port.unwrap_or(engine.default_port()),
            user,
            database: self.defaults.database.clone(),
            region: self.defaults.region.clone(),
            region_from_host: true,
            aws_profile: self.defaults.aws_profile.clone(),
            ca_bundle: self.defaults.ca_bundle.clone(),
            refresh_before: self
                .defaults
                .refresh_before
                .unwrap_or(DEFAULT_REFRESH_BEFORE),
            tunnel: None,
        })
    }

    pub fn get(&self, name: &str) -> Result<&Connection> {
        self.connections.get(name).ok_or_else(|| self.unknown(name))
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
                "the file does not exist yet; add a connection with `rdsiam-helper connections add NAME --host H --user U`"
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
        let known: Vec<&str> = self.connections.keys().map(String::as_str).collect();
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
        Error::failure(format!(
            "{}:{}: `{key}`: {problem}",
            self.path.display(),
            self.line_of(offset)
        ))
    }

    fn toml_error(&self, err: &toml::de::Error) -> Error {
        let offset = err.span().map(|s| s.start).unwrap_or(0);
        let line = self.line_of(offset);
        let message = readable(err.message());
        let location = format!("{}:{line}", self.path.display());
        let hint = "the file is TOML; see the example in the README (rdsiam-helper --help)";
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
                Error::failure(format!("{location}: `{key}` in [{table}]: {message}"))
            }
            Some((key, None)) if key.starts_with('[') => {
                Error::failure(format!("{location}: {key}: {message}"))
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
        name: &str,
        raw: RawConnection,
        defaults: &Defaults,
    ) -> Result<Connection> {
        let key = |field: &str| format!("connections.{name}.{field}");
        // The table's own header; a bare `connections.NAME` search would also hit `NAME2`.
        // Searched only for an error: a search per connection made large files quadratic.
        let table_offset = || {
            self.text
                .find(&format!("[connections.{name}]"))
                .or_else(|| self.text.find(&format!("connections.{name}")))
                .or_else(|| self.text.find(name))
                .unwrap_or(0)
        };
        validate_connection_name(name)
            .map_err(|e| self.at(table_offset(), &format!("connections.{name:?}"), e))?;
        let engine = match raw.engine {
            Some(e) => Engine::parse(e.get_ref()).ok_or_else(|| {
                self.at(
                    e.span().start,
                    &key("engine"),
                    format!("unknown engine \"{}\"", e.get_ref()),
                )
            })?,
            None => Engine::Postgres,
        };
        let host = raw.host.ok_or_else(|| {
            self.at(
                table_offset(),
                &key("host"),
                "missing; every connection needs the database endpoint",
            )
        })?;
        let host_offset = host.span().start;
        let host =
            validate_host(host.get_ref()).map_err(|e| self.at(host_offset, &key("host"), e))?;
        let port = match raw.port {
            Some(port) => u16::try_from(*port.get_ref())
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| {
                    self.at(
                        port.span().start,
                        &key("port"),
                        format!("{} is not a port (1-65535)", port.get_ref()),
                    )
                })?,
            None => engine.default_port(),
        };
        let user = match raw.user {
            Some(user) => self.user(user).map_err(|e| prefixed(e, &key("user")))?,
            None => defaults.user.clone().ok_or_else(|| {
                self.at(
                    table_offset(),
                    &key("user"),
                    "missing; set the database user (or [defaults] user)",
                )
            })?,
        };
        let region = raw
            .region
            .map(|r| self.region(r, &key("region")))
            .transpose()?;
        let refresh_before = raw
            .refresh_before
            .map(|r| self.refresh_before(r))
            .transpose()?;
        let tunnel = raw
            .tunnel
            .map(|t| {
                t.get_ref().parse::<SocketAddr>().map_err(|_| {
                    self.at(
                        t.span().start,
                        &key("tunnel"),
                        format!(
                            "\"{}\" is not an IP:PORT address (e.g. \"127.0.0.1:15432\")",
                            t.get_ref()
                        ),
                    )
                })
            })
            .transpose()?;
        Ok(Connection {
            name: Some(name.to_string()),
            engine,
            region: region.or_else(|| defaults.region.clone()),
            region_from_host: true,
            host,
            port,
            user,
            database: raw.database.or_else(|| defaults.database.clone()),
            aws_profile: raw.aws_profile.or_else(|| defaults.aws_profile.clone()),
            ca_bundle: raw
                .ca_bundle
                .map(|p| expand_home(Path::new(&p)))
                .or_else(|| defaults.ca_bundle.clone()),
            refresh_before: refresh_before
                .or(defaults.refresh_before)
                .unwrap_or(DEFAULT_REFRESH_BEFORE),
            tunnel,
        })
    }

    fn user(&self, user: Spanned<String>) -> Result<String> {
        validate_user(user.get_ref()).map_err(|e| self.at(user.span().start, "user", e))
    }

    fn region(&self, region: Spanned<String>, key: &str) -> Result<String> {
        let text = region.get_ref();
        if is_region_name(text) {
            Ok(text.clone())
        } else {
            Err(self.at(
                region.span().start,
                key,
                format!("\"{text}\" is not an AWS region (e.g. us-east-1)"),
            ))
        }
    }

    fn refresh_before(&self, value: Spanned<String>) -> Result<Duration> {
        parse_refresh_before(value.get_ref())
            .map_err(|e| self.at(value.span().start, "refresh_before", e))
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

/// Connection names go into `.pgpass` marker comments, INI section headers and command lines:
/// letters, digits, `-`, `_` and `.` keep every one of them unambiguous.
pub fn validate_connection_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(format!(
            "{:?} is not a usable connection name: use letters, digits, `-`, `_` and `.`",
            name
        ));
    }
    Ok(())
}

fn prefixed(mut err: Error, key: &str) -> Error {
    err.message = err.message.replacen("`user`", &format!("`{key}`"), 1);
    err
}

pub fn parse_refresh_before(text: &str) -> std::result::Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|e| format!("\"{text}\" is not a duration like \"5m\" or \"90s\" ({e})"))?;
    if duration >= TOKEN_LIFETIME {
        return Err(format!(
            "\"{text}\" is not shorter than a token's 15-minute life"
        ));
    }
    Ok(duration)
}

pub fn validate_host(host: &str) -> std::result::Result<String, String> {
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    if host.len() > MAX_HOST_LEN {
        return Err(format!(
            "the host is {} characters long; a DNS name has at most {MAX_HOST_LEN}",
            host.len()
        ));
    }
    if let Some(bad) = host
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "/:@?#".contains(*c))
    {
        return Err(format!(
            "the host contains {bad:?}; give the bare endpoint name, without scheme or port"
        ));
    }
    Ok(host.to_string())
}

pub fn validate_user(user: &str) -> std::result::Result<String, String> {
    if user.is_empty() {
        return Err("the user is empty".into());
    }
    if user.chars().any(char::is_control) {
        return Err("the user contains a control character (newline, NUL, ...)".into());
    }
    // A mistyped template would otherwise be signed for literally and fail only at login.
    if user.starts_with('{') && user.ends_with('}') && user != SESSION_NAME_TEMPLATE {
        return Err(format!(
            "unknown template \"{user}\"; the only template is \"{SESSION_NAME_TEMPLATE}\""
        ));
    }
    Ok(user.to_string())
}

fn is_region_name(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

/// The region in an RDS endpoint: `NAME.ID.REGION.rds.amazonaws.com` for instances, Aurora
/// cluster (`.cluster-`, `.cluster-ro-`, `.cluster-custom-`) and RDS Proxy (`.proxy-`)
/// endpoints alike, and the `.amazonaws.com.cn` partition.
pub fn region_from_host(host: &str) -> Option<String> {
    let host = host.to_ascii_lowercase();
    let host = host.trim_end_matches('.');
    let rest = host
        .strip_suffix(".rds.amazonaws.com")
        .or_else(|| host.strip_suffix(".rds.amazonaws.com.cn"))?;
    let region = rest.rsplit('.').next()?;
    is_region_name(region).then(|| region.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_comes_from_every_rds_endpoint_kind() {
        let cases = [
            ("mydb.abc123.us-east-1.rds.amazonaws.com", Some("us-east-1")),
            (
                "prod.cluster-abc123.eu-west-1.rds.amazonaws.com",
                Some("eu-west-1"),
            ),
            (
                "prod.cluster-ro-abc123.ap-southeast-2.rds.amazonaws.com",
                Some("ap-southeast-2"),
            ),
            (
                "x.cluster-custom-abc.us-west-2.rds.amazonaws.com",
                Some("us-west-2"),
            ),
            (
                "myproxy.proxy-abc123.eu-central-1.rds.amazonaws.com",
                Some("eu-central-1"),
            ),
            (
                "PROD.Cluster-ABC.US-EAST-2.RDS.AMAZONAWS.COM",
                Some("us-east-2"),
            ),
            ("db.abc.cn-north-1.rds.amazonaws.com.cn", Some("cn-north-1")),
            (
                "db.abc.us-gov-west-1.rds.amazonaws.com",
                Some("us-gov-west-1"),
            ),
            ("localhost", None),
            ("db.example.com", None),
            ("rds.amazonaws.com", None),
            ("x.notaregion.rds.amazonaws.com", None),
        ];
        for (host, want) in cases {
            assert_eq!(region_from_host(host).as_deref(), want, "{host}");
        }
    }

    #[test]
    fn refresh_before_must_leave_room_in_fifteen_minutes() {
        assert_eq!(parse_refresh_before("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_refresh_before("90s"), Ok(Duration::from_secs(90)));
        assert!(
            parse_refresh_before("15m")
                .unwrap_err()
                .contains("15-minute")
        );
        assert!(
            parse_refresh_before("soon")
                .unwrap_err()
                .contains("not a duration")
        );
    }

    #[test]
    fn the_session_name_template_is_accepted_and_typos_are_not() {
        assert_eq!(
            validate_user("{session_name}").as_deref(),
            Ok("{session_name}")
        );
        assert!(
            validate_user("{session}")
                .unwrap_err()
                .contains("unknown template")
        );
        assert!(validate_user("jane.doe@example.com").is_ok());
    }

    #[test]
    fn engine_aliases() {
        for (text, engine) in [
            ("aurora-postgresql", Engine::Postgres),
            ("PostgreSQL", Engine::Postgres),
            ("mariadb", Engine::Mysql),
            ("aurora-mysql", Engine::Mysql),
        ] {
            assert_eq!(Engine::parse(text), Some(engine));
        }
        assert_eq!(Engine::parse("oracle"), None);
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
                    prop_assert!(validate_connection_name(name).is_ok());
                    prop_assert!(validate_host(&c.host).is_ok());
                    prop_assert!(validate_user(&c.user).is_ok());
                    prop_assert!(c.port != 0);
                    prop_assert!(c.refresh_before < TOKEN_LIFETIME);
                }
            }
            Err(err) => {
                prop_assert!(err.message.starts_with("c.toml:"), "{}", err.message);
                prop_assert!(!err.message.contains("Raw"), "{}", err.message);
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
        assert_eq!(config.connections["prod"].port, 5432);
    }
}
