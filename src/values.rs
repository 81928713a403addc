//! The values a user gives, on the command line or in the config file, each parsed once where
//! it enters. clap's `value_parser` and serde both go through `FromStr`, so a value means the
//! same and is refused for the same reason wherever it is written. Errors say what is wrong
//! with the value; the caller adds where it was given (a flag, or `file:line: key`).

use serde::de::{self, Deserialize, Deserializer};
use std::fmt;
use std::net::{Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

mod dsql;
pub use dsql::{DSQL_ADMIN, DsqlAction, MAX_DSQL_TOKEN_LIFETIME, TokenLifetime, dsql_cluster_id};

/// An RDS token lives 15 minutes, as does a DSQL one unless its `token_lifetime` says otherwise.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(900);
/// `user = "{session_name}"`: sign for the caller's role session name, which Identity Center
/// sets to the user's user name, the same value `${aws:PrincipalTag/username}` carries.
pub const SESSION_NAME_TEMPLATE: &str = "{session_name}";
/// Names longer than any DNS name are a typo or an attack on the cache key, not a host.
const MAX_HOST_LEN: usize = 253;
/// Far above any server's limit, far below the longest URL the signer takes (64 KiB).
const MAX_USER_LEN: usize = 1024;

/// Why a value was refused, in words for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError(String);

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValueError {}

fn refuse<T>(message: impl Into<String>) -> Result<T, ValueError> {
    Err(ValueError(message.into()))
}

/// The value as typed, with control characters made visible (`\n`, `\u{0}`) and nothing else
/// escaped: a message quotes what the user wrote, not a Rust literal of it.
fn shown(text: &str) -> String {
    text.chars()
        .map(|c| match c.is_control() {
            true => c.escape_default().to_string(),
            false => c.to_string(),
        })
        .collect()
}

/// Refuses the empty string and control characters, which no value here may hold.
fn plain_text(text: &str, what: &str) -> Result<(), ValueError> {
    if text.is_empty() {
        return refuse(format!("the {what} is empty"));
    }
    if text.chars().any(char::is_control) {
        return refuse(format!(
            "the {what} contains a control character (newline, NUL, ...)"
        ));
    }
    Ok(())
}

/// `Deserialize` through `FromStr` for a value the file writes as a string.
macro_rules! deserialize_from_str {
    ($($type:ty),*) => {$(
        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(de::Error::custom)
            }
        }
    )*};
}

deserialize_from_str!(
    Host,
    Region,
    DsqlAction,
    TokenLifetime,
    ConnectionName,
    AwsProfile,
    Tunnel,
    RefreshBefore,
    DbUser,
    UserName,
    Database,
    FilePath,
    Engine,
    SsoLogin
);

/// A validated text value reads as the text it holds (`&host` where a `&str` is wanted, `{host}`
/// in a message) and is written back as a string; it is only ever built by `FromStr`.
macro_rules! text_value {
    ($($type:ident),*) => {$(
        impl $type {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<$type> for String {
            fn from(value: $type) -> String {
                value.0
            }
        }

        impl std::ops::Deref for $type {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }

        impl serde::Serialize for $type {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
    )*};
}

text_value!(
    Host,
    Region,
    ConnectionName,
    AwsProfile,
    UserName,
    Database,
    FilePath,
    AccountId,
    ResourceId,
    Identifier
);

/// A database endpoint's name or address, as it is signed: a DNS name, an IPv4 address, or an
/// IPv6 address in brackets (`[::1]`, as the AWS CLI takes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host(String);

impl FromStr for Host {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<Host, ValueError> {
        if text.is_empty() {
            return refuse("the host is empty");
        }
        // A DNS name or an IPv4 address: nothing below can refuse it (a kept connection is
        // read back through here on every cache hit of a large config).
        let plain = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'-';
        if text.len() <= MAX_HOST_LEN && text.bytes().all(plain) {
            return Ok(Host(text.to_string()));
        }
        if text.len() > MAX_HOST_LEN {
            return refuse(format!(
                "the host is {} characters long; a DNS name has at most {MAX_HOST_LEN}",
                text.len()
            ));
        }
        if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            return match inner.parse::<Ipv6Addr>() {
                Ok(_) => Ok(Host(text.to_string())),
                Err(_) => refuse(format!(
                    "`{}` is not an IPv6 address in brackets",
                    shown(text)
                )),
            };
        }
        if text.parse::<Ipv6Addr>().is_ok() {
            return refuse(format!(
                "an IPv6 address goes in brackets, as in a URL: [{text}]"
            ));
        }
        if let Some(bad) = text.chars().find(|c| !c.is_ascii()) {
            return refuse(format!(
                "the host contains `{bad}`; a host name is ASCII (write an international name in its xn-- form)"
            ));
        }
        if let Some(bad) = text
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || "/:@?#[]".contains(*c))
        {
            let shown = bad.escape_default();
            return refuse(format!(
                "the host contains `{shown}`; give the bare endpoint name, without scheme or port"
            ));
        }
        Ok(Host(text.to_string()))
    }
}

/// A TCP port a client can dial: 1-65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port(u16);

impl Port {
    pub fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<i64> for Port {
    type Error = ValueError;

    fn try_from(number: i64) -> Result<Port, ValueError> {
        match u16::try_from(number) {
            Ok(port) if port != 0 => Ok(Port(port)),
            _ => refuse(format!("{number} is not a port (1-65535)")),
        }
    }
}

impl FromStr for Port {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<Port, ValueError> {
        match text.parse::<i64>() {
            Ok(number) => Port::try_from(number),
            Err(_) => refuse(format!("`{}` is not a port (1-65535)", shown(text))),
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl serde::Serialize for Port {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.0)
    }
}

/// The file writes a port as an integer.
impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = i64::deserialize(deserializer)?;
        Port::try_from(number).map_err(de::Error::custom)
    }
}

/// An AWS region name such as `us-east-1` or `us-gov-west-1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region(String);

impl Region {
    /// The region in an RDS endpoint: `NAME.ID.REGION.rds.amazonaws.com` for instances, Aurora
    /// cluster (`.cluster-`, `.cluster-ro-`, `.cluster-custom-`) and RDS Proxy (`.proxy-`)
    /// endpoints alike, and the `.amazonaws.com.cn` partition; and an Aurora DSQL cluster's
    /// `CLUSTER_ID.dsql.REGION.on.aws`.
    pub fn of_endpoint(host: &str) -> Option<Region> {
        if let Some(region) = Region::of_dsql_endpoint(host) {
            return Some(region);
        }
        let host = host.to_ascii_lowercase();
        let host = host.trim_end_matches('.');
        let rest = host
            .strip_suffix(".rds.amazonaws.com")
            .or_else(|| host.strip_suffix(".rds.amazonaws.com.cn"))?;
        rest.rsplit('.').next()?.parse().ok()
    }

    /// The region in an Aurora DSQL endpoint, `CLUSTER_ID.dsql.REGION.on.aws`.
    pub fn of_dsql_endpoint(host: &str) -> Option<Region> {
        let host = host.to_ascii_lowercase();
        let rest = host.trim_end_matches('.').strip_suffix(".on.aws")?;
        let (cluster, region) = rest.rsplit_once('.')?;
        let id = cluster.strip_suffix(".dsql")?;
        match !id.is_empty() && !id.contains('.') {
            true => region.parse().ok(),
            false => None,
        }
    }
}

impl Region {
    /// A region as this tool's own private cache stored it (see `UserName::stored`).
    pub fn stored(text: String) -> Region {
        Region(text)
    }
}

impl FromStr for Region {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<Region, ValueError> {
        let word = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        let ok = text.split('-').count() >= 3
            && text.split('-').all(word)
            && text
                .rsplit('-')
                .next()
                .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
        match ok {
            true => Ok(Region(text.to_string())),
            false if text.is_empty() => refuse("the region is empty; give one such as us-east-1"),
            false => refuse(format!(
                "`{}` is not an AWS region (e.g. us-east-1)",
                shown(text)
            )),
        }
    }
}

/// A connection's name. It goes into `.pgpass` marker comments, INI section headers and
/// command lines: letters, digits, `-`, `_` and `.` keep every one of them unambiguous.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConnectionName(String);

/// Connections are kept by name; looked up by the text a caller has.
impl std::borrow::Borrow<str> for ConnectionName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl FromStr for ConnectionName {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<ConnectionName, ValueError> {
        if text.is_empty() {
            return refuse("the connection name is empty");
        }
        if !text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return refuse(format!(
                "`{}` is not a usable connection name: use letters, digits, `-`, `_` and `.`",
                shown(text)
            ));
        }
        Ok(ConnectionName(text.to_string()))
    }
}

/// A profile name in the AWS config files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsProfile(String);

impl FromStr for AwsProfile {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<AwsProfile, ValueError> {
        plain_text(text, "AWS profile name")?;
        if text.trim() != text {
            return refuse(format!(
                "the AWS profile name `{text}` starts or ends with a space"
            ));
        }
        Ok(AwsProfile(text.to_string()))
    }
}

/// Where clients connect instead of the endpoint (an SSH/SSM port forward): an IP and a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tunnel(SocketAddr);

impl Tunnel {
    pub fn addr(self) -> SocketAddr {
        self.0
    }

    pub fn ip(self) -> std::net::IpAddr {
        self.0.ip()
    }

    pub fn port(self) -> u16 {
        self.0.port()
    }
}

impl fmt::Display for Tunnel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl serde::Serialize for Tunnel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl FromStr for Tunnel {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<Tunnel, ValueError> {
        let shown = shown(text);
        let Ok(addr) = text.parse::<SocketAddr>() else {
            return refuse(format!(
                "`{shown}` is not an IP:PORT address (e.g. 127.0.0.1:15432, or [::1]:15432)"
            ));
        };
        if addr.port() == 0 {
            return refuse(format!(
                "`{shown}` has port 0; give the port the forward listens on"
            ));
        }
        if addr.ip().is_unspecified() || addr.ip().is_multicast() {
            return refuse(format!(
                "`{shown}` is not an address a client can connect to; use the forward's address, e.g. 127.0.0.1"
            ));
        }
        Ok(Tunnel(addr))
    }
}

/// How long before a cached token's end a new one is signed: less than the longest token's
/// life (a DSQL token's week). Whether it leaves room in a given connection's tokens (15
/// minutes for RDS, `token_lifetime` for DSQL) is checked on the connection.
/// The text is kept as given, for the file it is written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshBefore(Duration, String);

impl RefreshBefore {
    pub fn get(&self) -> Duration {
        self.0
    }

    pub fn as_str(&self) -> &str {
        &self.1
    }
}

impl FromStr for RefreshBefore {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<RefreshBefore, ValueError> {
        if text.is_empty() {
            return refuse("the duration is empty; give one like 5m or 90s");
        }
        let duration = match humantime::parse_duration(text) {
            Ok(duration) => duration,
            Err(err) => {
                return refuse(format!(
                    "`{}` is not a duration like 5m or 90s ({err})",
                    shown(text)
                ));
            }
        };
        if duration >= MAX_DSQL_TOKEN_LIFETIME {
            return refuse(format!(
                "`{text}` is not shorter than a week, the longest a token lives (Aurora DSQL's token_lifetime; an RDS token lives 15 minutes)"
            ));
        }
        Ok(RefreshBefore(duration, text.to_string()))
    }
}

/// The database user to sign for: a name, or the caller's AWS role session name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbUser {
    Named(UserName),
    /// `{session_name}`: resolved from the caller's identity at signing time.
    SessionName,
}

impl DbUser {
    /// The user as the connection and the files keep it.
    pub fn into_string(self) -> String {
        match self {
            DbUser::Named(name) => name.into(),
            DbUser::SessionName => SESSION_NAME_TEMPLATE.to_string(),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            DbUser::Named(name) => name,
            DbUser::SessionName => SESSION_NAME_TEMPLATE,
        }
    }
}

/// As written in the config: the name, or `{session_name}`.
impl fmt::Display for DbUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl serde::Serialize for DbUser {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl FromStr for DbUser {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<DbUser, ValueError> {
        plain_text(text, "user")?;
        if text == SESSION_NAME_TEMPLATE {
            return Ok(DbUser::SessionName);
        }
        // A mistyped template would otherwise be signed for literally and fail only at login.
        if text.starts_with('{') && text.ends_with('}') {
            return refuse(format!(
                "unknown template `{text}`; the only template is `{SESSION_NAME_TEMPLATE}`"
            ));
        }
        // The token is a URL carrying the user; past this no URL can be signed, and no server
        // has such a user (PostgreSQL keeps 63 bytes of a name, MySQL 32 characters).
        if text.len() > MAX_USER_LEN {
            return refuse(format!(
                "the user name is {} bytes long; a database user name has at most {MAX_USER_LEN} here (PostgreSQL keeps 63 bytes, MySQL 32 characters)",
                text.len()
            ));
        }
        Ok(DbUser::Named(UserName(text.to_string())))
    }
}

/// A database user's name, as a token is signed for it and the server logs it in: never the
/// `{session_name}` template, which `DbUser` holds until signing resolves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    /// A name as this tool's own private cache stored it: parsed when it was signed for, and
    /// not again on the cache hit, which is the path every GUI password command takes.
    pub fn stored(text: String) -> UserName {
        UserName(text)
    }
}

impl FromStr for UserName {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<UserName, ValueError> {
        match text.parse()? {
            DbUser::Named(name) => Ok(name),
            DbUser::SessionName => refuse(format!("`{text}` is the template, not a name")),
        }
    }
}

/// A database name: any text but empty or with control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database(String);

impl FromStr for Database {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<Database, ValueError> {
        plain_text(text, "database name")?;
        Ok(Database(text.to_string()))
    }
}

/// A 12-digit AWS account id, as IAM ARNs name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountId(String);

impl AccountId {
    /// The account as AWS reported it (STS GetCallerIdentity): the service's word, not a
    /// user's, so it is not refused here.
    pub fn reported(text: &str) -> AccountId {
        AccountId(text.to_string())
    }
}

impl FromStr for AccountId {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<AccountId, ValueError> {
        match text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) {
            true => Ok(AccountId(text.to_string())),
            false => refuse(
                "an AWS account id is 12 digits (`aws sts get-caller-identity --query Account` prints yours)",
            ),
        }
    }
}

/// What an IAM policy names a database by: an instance's DbiResourceId (`db-...`), an Aurora
/// cluster's DbClusterResourceId (`cluster-...`), an RDS Proxy's id (`prx-...`), or an Aurora
/// DSQL cluster's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceId(String);

impl ResourceId {
    /// The id as RDS reported it (a DbiResourceId, DbClusterResourceId or proxy id).
    pub fn reported(text: &str) -> ResourceId {
        ResourceId(text.to_string())
    }

    /// An Aurora DSQL cluster id: letters and digits only, as IAM writes it (lower case).
    pub fn dsql_cluster(&self) -> Option<String> {
        self.bytes()
            .all(|b| b.is_ascii_alphanumeric())
            .then(|| self.to_ascii_lowercase())
    }
}

impl FromStr for ResourceId {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<ResourceId, ValueError> {
        match !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            true => Ok(ResourceId(text.to_string())),
            false => refuse(
                "expected an id like db-ABCDEFGHIJKL, cluster-ABCDEFGHIJKL, prx-0123abcd or an Aurora DSQL cluster id: the DbiResourceId, DbClusterResourceId or proxy id, not the name",
            ),
        }
    }
}

/// The name AWS knows a database by: an RDS instance or cluster identifier, an Aurora DSQL
/// cluster id. Letters, digits and hyphens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier(String);

impl FromStr for Identifier {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<Identifier, ValueError> {
        let ok = !text.is_empty()
            && text.len() <= 255
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        match ok {
            true => Ok(Identifier(text.to_string())),
            false => refuse(format!(
                "`{}` is not an identifier (letters, digits and hyphens, as `aws rds describe-db-instances` or `aws dsql list-clusters` show them)",
                shown(text)
            )),
        }
    }
}

/// A file's path as given (`~/` is expanded where it is used): not empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePath(String);

impl FromStr for FilePath {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<FilePath, ValueError> {
        plain_text(text, "path")?;
        Ok(FilePath(text.to_string()))
    }
}

/// The database engine: what kind of token command, port and client a connection gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Mysql,
    /// Aurora DSQL: PostgreSQL's protocol and clients, its own token.
    Dsql,
}

/// The protocol a client speaks, which decides the client programs and files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    Postgres,
    Mysql,
}

impl Engine {
    pub fn default_port(self) -> Port {
        match self.wire() {
            Wire::Postgres => Port(5432),
            Wire::Mysql => Port(3306),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
            Engine::Dsql => "dsql",
        }
    }

    /// DSQL is PostgreSQL-compatible: psql, libpq files and pgjdbc serve it.
    pub fn wire(self) -> Wire {
        match self {
            Engine::Postgres | Engine::Dsql => Wire::Postgres,
            Engine::Mysql => Wire::Mysql,
        }
    }

    /// The engine when none is given: DSQL for a `CLUSTER_ID.dsql.REGION.on.aws` host, else
    /// PostgreSQL.
    pub fn of_host(host: &str) -> Engine {
        match Region::of_dsql_endpoint(host) {
            Some(_) => Engine::Dsql,
            None => Engine::Postgres,
        }
    }
}

impl serde::Serialize for Engine {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl FromStr for Engine {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<Engine, ValueError> {
        match text.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" | "aurora-postgresql" | "pg" => Ok(Engine::Postgres),
            "mysql" | "mariadb" | "aurora-mysql" | "aurora" => Ok(Engine::Mysql),
            "dsql" | "aurora-dsql" => Ok(Engine::Dsql),
            _ => refuse(format!(
                "unknown engine `{}` (postgres, mysql, dsql; aliases: aurora-postgresql, aurora-mysql, mariadb, aurora-dsql)",
                shown(text)
            )),
        }
    }
}

/// `sso_login`: whether `pg`, `mysql` and `token` may sign in to Identity Center themselves
/// (opening the browser) when the session has expired, as a GUI's password command has no
/// terminal to run `aws sso login` in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SsoLogin {
    Browser,
    #[default]
    Never,
}

impl serde::Serialize for SsoLogin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            SsoLogin::Browser => "browser",
            SsoLogin::Never => "never",
        })
    }
}

impl FromStr for SsoLogin {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<SsoLogin, ValueError> {
        match text {
            "browser" => Ok(SsoLogin::Browser),
            "never" => Ok(SsoLogin::Never),
            _ => refuse(format!(
                "unknown sso_login `{}` (browser: sign in through the browser when the session has expired; never: the default)",
                shown(text)
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsql_hosts_give_their_region_and_the_engine() {
        let cases = [
            ("abc123.dsql.us-east-1.on.aws", Some("us-east-1")),
            ("ABC123.DSQL.EU-WEST-1.ON.AWS.", Some("eu-west-1")),
            ("x.y.dsql.us-east-1.on.aws", None),
            (".dsql.us-east-1.on.aws", None),
            ("abc.dsql.nowhere.on.aws", None),
            ("abc.other.us-east-1.on.aws", None),
            ("abc.dsql.us-east-1.on.aws.example.com", None),
        ];
        for (host, want) in cases {
            let got = Region::of_dsql_endpoint(host);
            assert_eq!(got.as_ref().map(Region::as_str), want, "{host}");
            let engine = Engine::of_host(host);
            assert_eq!(engine == Engine::Dsql, want.is_some(), "{host}");
        }
    }

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
            let got = Region::of_endpoint(host);
            assert_eq!(got.as_ref().map(Region::as_str), want, "{host}");
        }
    }

    #[test]
    fn refresh_before_must_leave_room_in_the_longest_token() {
        let parse = |t: &str| t.parse::<RefreshBefore>().map(|r| r.get());
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        // Longer than an RDS token: a DSQL connection's token_lifetime may leave room for it.
        assert_eq!(parse("50m"), Ok(Duration::from_secs(3000)));
        assert!(
            parse("1w")
                .unwrap_err()
                .0
                .contains("not shorter than a week")
        );
        assert!(parse("soon").unwrap_err().0.contains("not a duration"));
    }

    #[test]
    fn the_session_name_template_is_accepted_and_typos_are_not() {
        assert_eq!("{session_name}".parse(), Ok(DbUser::SessionName));
        let typo = "{session}".parse::<DbUser>().unwrap_err();
        assert!(typo.0.contains("unknown template"));
        assert!("jane.doe@example.com".parse::<DbUser>().is_ok());
    }

    #[test]
    fn engine_aliases() {
        for (text, engine) in [
            ("aurora-postgresql", Engine::Postgres),
            ("PostgreSQL", Engine::Postgres),
            ("mariadb", Engine::Mysql),
            ("aurora-mysql", Engine::Mysql),
        ] {
            assert_eq!(text.parse(), Ok(engine));
        }
        assert!("oracle".parse::<Engine>().is_err());
    }

    #[test]
    fn hosts_are_names_or_bracketed_addresses() {
        for good in ["db.example.com", "10.0.0.1", "[::1]", "[2001:db8::1]"] {
            assert!(good.parse::<Host>().is_ok(), "{good}");
        }
        for bad in [
            "",
            "::1",
            "[nope]",
            "bücher.example",
            "a b",
            "h:5432",
            "https://x",
        ] {
            assert!(bad.parse::<Host>().is_err(), "{bad}");
        }
    }

    #[test]
    fn tunnels_are_dialable_addresses() {
        assert!("127.0.0.1:15432".parse::<Tunnel>().is_ok());
        assert!("[::1]:15432".parse::<Tunnel>().is_ok());
        for bad in [
            "127.0.0.1:0",
            "localhost:1",
            "0.0.0.0:5432",
            "",
            "127.0.0.1",
        ] {
            assert!(bad.parse::<Tunnel>().is_err(), "{bad}");
        }
    }
}
