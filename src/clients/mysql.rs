//! MySQL and MariaDB clients. The two differ: Oracle's `mysql` takes `--ssl-mode=VERIFY_IDENTITY`
//! and needs `--enable-cleartext-plugin` for IAM; the MariaDB client (Debian's `mysql`) rejects
//! `--ssl-mode` and verifies with `--ssl-verify-server-cert`. The token always travels in a
//! 0600 option file, never in argv where `ps` shows it.

use crate::clients::via_proxy::{self, PROXY_HOST};
use crate::clients::{AuthMode, Client, Plan, Request, ca_bundle, ini, require_wire};
use crate::config::{Connection, Dialing, Wire};
use crate::error::{Error, Result};
use crate::secret::{Contents, Secret};
use crate::token::Token;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Oracle,
    Mariadb,
}

/// Reads the flavour from `CLIENT --version` ("... Distrib 10.11.6-MariaDB ..." or "mysql  Ver 8.0").
/// `--no-defaults` (both flavours take it, first): the client reads the option files even for
/// `--version`, and would hang on a FIFO at ~/.my.cnf before we could refuse it.
pub fn detect(client: &Path) -> Result<Flavour> {
    let output = std::process::Command::new(client)
        .args(["--no-defaults", "--version"])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            Error::failure(format!("cannot run {} --version", client.display())).caused_by(e)
        })?;
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(if text.contains("MariaDB") {
        Flavour::Mariadb
    } else {
        Flavour::Oracle
    })
}

/// `mysql`, else `mariadb`, from PATH.
pub fn find_client() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["mysql", "mariadb"] {
        let name = format!("{name}{}", std::env::consts::EXE_SUFFIX);
        if let Some(found) = std::env::split_paths(&path)
            .map(|d| d.join(&name))
            .find(|p| p.is_file())
        {
            return Ok(found);
        }
    }
    Err(Error::failure("neither `mysql` nor `mariadb` is on PATH")
        .hint("install a client: `apt install mariadb-client`, `brew install mysql-client`, or use `rdsiam-helper exec NAME -- CLIENT`"))
}

/// `[client]`-group keys for `connection`. `flavour: None` gives `loose-` keys that both
/// flavours read (each ignores the other's). `host` is the endpoint or the tunnel; through a
/// tunnel the server's name cannot be checked, so only the CA is verified.
pub fn options(
    connection: &Connection,
    user: &str,
    flavour: Option<Flavour>,
) -> Vec<(&'static str, String)> {
    let mut pairs = vec![
        ("host", connection.dial_host()),
        ("port", connection.dial_port().to_string()),
        ("user", user.to_string()),
    ];
    // To these clients `localhost` means the Unix socket.
    pairs.push(("protocol", "TCP".to_string()));
    pairs.push(("ssl-ca", ca_bundle(connection).display().to_string()));
    let verification = connection.verification(Dialing::AddressOnly);
    let verify_identity = verification.is_full();
    let oracle_mode = verification.mysql_ssl_mode();
    match flavour {
        Some(Flavour::Oracle) => pairs.push(("ssl-mode", oracle_mode.to_string())),
        Some(Flavour::Mariadb) => {
            pairs.push(("ssl", "1".to_string()));
            if verify_identity {
                pairs.push(("ssl-verify-server-cert", "1".to_string()));
            }
        }
        None => {
            pairs.push(("loose-ssl-mode", oracle_mode.to_string()));
            if verify_identity {
                pairs.push(("loose-ssl-verify-server-cert", "1".to_string()));
            }
        }
    }
    pairs
}

/// The `[mysql]`-group keys: the database. Only the `mysql`/`mariadb` client takes it as an
/// option; in `[client]` it breaks mysqladmin, mysqlshow and mysqlimport ("unknown variable
/// 'database=...'") and makes mysqldump and mysqlcheck warn.
pub fn mysql_options(connection: &Connection) -> Vec<(&'static str, String)> {
    connection
        .database
        .iter()
        .map(|database| ("database", database.to_string()))
        .collect()
}

/// An option file: the `client` group (read by every client program) and, when there is a
/// database, the `mysql` group; `suffix` names the pair (`client_prod` / `mysql_prod`) for
/// `--defaults-group-suffix`.
pub fn option_file(
    suffix: &str,
    client: &[(&'static str, String)],
    connection: &Connection,
) -> String {
    let mut text = section(&format!("client{suffix}"), client);
    let mysql = mysql_options(connection);
    if !mysql.is_empty() {
        text.push_str(&section(&format!("mysql{suffix}"), &mysql));
    }
    text
}

/// An option file whose `[client]` group holds the token as the password, followed by `rest`
/// (more groups; a group may appear twice, and its keys add up). Built without a plain copy
/// of the token.
pub fn password_file(token: &Token, rest: &str) -> Secret {
    Secret::concat(&["[client]\npassword=", token.expose(), "\n", rest])
}

/// Arguments that cannot live in a shared option file: the MariaDB client knows
/// `enable-cleartext-plugin` as a no-value option and refuses `=1` even with `loose-`, while
/// Oracle's client needs it for IAM. It is no secret, so it goes on the command line.
pub fn client_args(flavour: Flavour) -> &'static [&'static str] {
    match flavour {
        Flavour::Oracle => &["--enable-cleartext-plugin"],
        Flavour::Mariadb => &[],
    }
}

/// The flavour of the client on PATH, if there is one.
pub fn installed_flavour() -> Option<Flavour> {
    find_client().ok().and_then(|client| detect(&client).ok())
}

pub fn section(group: &str, pairs: &[(&'static str, String)]) -> String {
    ini::render_section(group, pairs)
}

/// A connection key in one of the user's own option files, which a client reads after the
/// file this tool hands it, so it wins.
pub struct UserOverride {
    pub path: PathBuf,
    pub group: String,
    pub key: String,
}

impl UserOverride {
    /// What to say, for the command `what` (which sets the key itself).
    pub fn warning(&self, what: &str, fix: &str) -> String {
        format!(
            "{} sets `{}` in [{}], which overrides what `{what}` sets; {fix}",
            self.path.display(),
            self.key,
            self.group
        )
    }
}

/// Keys in the user's own option files (`~/.my.cnf` and what it includes) that a client reads
/// after `$MYSQL_HOME/my.cnf` or `--defaults-extra-file`, so they override what `exec` and
/// `connect` set (and could send the token elsewhere or in the clear).
pub fn user_overrides() -> Vec<UserOverride> {
    let Ok(path) = default_path() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    scan_option_file(&path, 0, &mut found);
    found
}

/// `!include`s nest; a loop of them must not hang `exec`.
const MAX_INCLUDE_DEPTH: usize = 4;

fn scan_option_file(path: &Path, depth: usize, warnings: &mut Vec<UserOverride>) {
    let Ok(Some(text)) = crate::files::read_text(path) else {
        return;
    };
    let mut group = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(included) = line.strip_prefix("!include ") {
            if depth < MAX_INCLUDE_DEPTH {
                scan_option_file(Path::new(included.trim()), depth + 1, warnings);
            }
        } else if let Some(dir) = line.strip_prefix("!includedir ") {
            let files = std::fs::read_dir(dir.trim())
                .into_iter()
                .flatten()
                .flatten();
            for file in files
                .map(|f| f.path())
                .filter(|p| p.extension().is_some_and(|e| e == "cnf"))
            {
                if depth < MAX_INCLUDE_DEPTH {
                    scan_option_file(&file, depth + 1, warnings);
                }
            }
        } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            group = name.trim().to_ascii_lowercase();
        } else if is_client_group(&group) {
            let key = normalised_key(line);
            if is_connection_key(&key) {
                warnings.push(UserOverride {
                    path: path.to_path_buf(),
                    group: group.clone(),
                    key,
                });
            }
        }
    }
}

/// Every group a client program may read: all but the servers' and this tool's own
/// `[client_NAME]` groups (read only with `--defaults-group-suffix`).
fn is_client_group(group: &str) -> bool {
    // `mysqld`, `mysqld-8.0`, `mysqld_safe` (but `mysqldump` is a client).
    let daemon = |name: &str| {
        group == name
            || group.starts_with(&format!("{name}-"))
            || group.starts_with(&format!("{name}_"))
    };
    let server = ["server", "mariadb", "galera", "embedded"].contains(&group)
        || daemon("mysqld")
        || daemon("mariadbd")
        || group.starts_with("mariadb-1");
    !(group.is_empty() || server || group.starts_with("client_"))
}

/// `loose_Skip_SSL = 1` and `ssl` are one option to the client: lower case, `_` as `-`,
/// without the prefixes that only change how it is applied.
fn normalised_key(line: &str) -> String {
    let mut key = line
        .split('=')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
        .replace('_', "-");
    for prefix in ["loose-", "skip-", "disable-", "enable-", "maximum-"] {
        if let Some(rest) = key.strip_prefix(prefix) {
            key = rest.to_string();
        }
    }
    key
}

fn is_connection_key(key: &str) -> bool {
    [
        "host",
        "port",
        "user",
        "password",
        "protocol",
        "socket",
        "pipe",
        "default-auth",
        "plugin-dir",
    ]
    .contains(&key)
        || key.starts_with("ssl")
        || key.starts_with("tls")
}

/// `~/.my.cnf`, which both clients read.
pub fn default_path() -> Result<PathBuf> {
    dirs::home_dir()
        .map(|h| h.join(".my.cnf"))
        .ok_or_else(|| Error::failure("cannot find the home directory for ~/.my.cnf"))
}

/// `setup mysql`: a `[client_NAME]` group for `~/.my.cnf` that both flavours read, and how to
/// connect with it.
pub struct Mysql;

impl Client for Mysql {
    fn accepts(&self, connection: &Connection, name: &str, _auth: Option<AuthMode>) -> Result<()> {
        require_wire(connection, name, Wire::Mysql, "the mysql option file", None)
    }

    fn plan<'a>(&self, request: &Request<'a>) -> Result<Plan<'a>> {
        plan(request)
    }

    fn via_proxy<'a>(&self, request: &Request<'a>) -> Result<Plan<'a>> {
        via_proxy_plan(request)
    }
}

/// Whose keys a `~/.my.cnf` group gets: the installed client's, since either flavour warns
/// about every `loose-` key it does not know (on each run); both flavours' when none is found.
fn file_flavour() -> (Option<Flavour>, &'static str) {
    match installed_flavour() {
        Some(Flavour::Mariadb) => (
            Some(Flavour::Mariadb),
            "keys for the MariaDB client found here",
        ),
        Some(Flavour::Oracle) => (
            Some(Flavour::Oracle),
            "keys for the MySQL client found here",
        ),
        None => (
            None,
            "no client found here, so loose- keys for both the MySQL and the MariaDB client; each warns about the other's",
        ),
    }
}

fn plan<'a>(request: &Request<'a>) -> Result<Plan<'a>> {
    let name = request.name;
    let (flavour, whose) = file_flavour();
    let options = options(request.connection, request.user, flavour);
    let text = option_file(&format!("_{name}"), &options, request.connection);
    let Some(path) = request.destination.file(default_path)? else {
        let connect = request.command.line(&["connect", name]);
        let password = request.command.password(request.connection, name);
        return Ok(Plan {
            print: Some(Contents::Plain(format!(
                "# For ~/.my.cnf ({whose}):\n{text}\n\
                 # Connect (the token is passed in a private option file, never on the command line):\n\
                 {connect}\n\n\
                 # Or by hand, with the group above; MYSQL_PWD keeps the token out of `ps`\n\
                 # (Oracle's mysql also needs --enable-cleartext-plugin; the MariaDB client does not):\n\
                 MYSQL_PWD=\"$({password})\" mysql --defaults-group-suffix=_{name}\n"
            ))),
            ..Plan::default()
        });
    };
    let sections = groups(name, &options, request.connection);
    Ok(ini::plan(
        Some(path),
        ini::Dialect::MySql,
        sections,
        Vec::new(),
    ))
}

/// `[client_NAME]` with the connection options, and `[mysql_NAME]` for the database when
/// there is one (see `mysql_options`), for `--defaults-group-suffix=_NAME`.
pub fn groups(
    name: &str,
    options: &[(&'static str, String)],
    connection: &Connection,
) -> Vec<(String, String)> {
    let client = format!("client_{name}");
    let mut groups = vec![(client.clone(), section(&client, options))];
    let database = mysql_options(connection);
    if !database.is_empty() {
        let mysql = format!("mysql_{name}");
        groups.push((mysql.clone(), section(&mysql, &database)));
    }
    groups
}

/// `~/.my.cnf`: `[client_NAME]` (and `[mysql_NAME]` for the database), pointed at the proxy.
/// TLS is off toward the proxy: `loose-` keys, since each flavour knows only its own way.
fn via_proxy_plan<'a>(request: &Request<'a>) -> Result<Plan<'a>> {
    let port = via_proxy::local_port(request.connection, request.name)?;
    let name = request.name;
    let mut options = vec![
        ("host", PROXY_HOST.to_string()),
        ("port", port.to_string()),
        ("user", request.user.to_string()),
        ("protocol", "TCP".to_string()),
    ];
    // TLS off toward the proxy on loopback, in the words of the client that will read it.
    options.extend(match file_flavour().0 {
        Some(Flavour::Oracle) => vec![("ssl-mode", "DISABLED".to_string())],
        Some(Flavour::Mariadb) => vec![("ssl", "0".to_string())],
        None => vec![
            ("loose-ssl-mode", "DISABLED".to_string()),
            ("loose-skip-ssl", "1".to_string()),
        ],
    });
    let password = via_proxy::local_password(request.connection)?;
    let said = match &password {
        Some(password) => {
            options.push(("password", option_value(password.secret().expose())));
            "the proxy's local password is in the group"
        }
        None => "no password",
    };
    let notes = vec![
        format!("connect with `mysql --defaults-group-suffix=_{name}` ({said})"),
        via_proxy::start_note(request),
    ];
    let file = request.destination.file(default_path)?;
    let sections = groups(name, &options, request.connection);
    let plan = ini::plan(file, ini::Dialect::MySql, sections, notes);
    Ok(match password {
        Some(_) => via_proxy::secret_plan(plan),
        None => plan,
    })
}

/// A value as an option file reads it back whole. MariaDB's and MySQL's readers end a value at
/// `#` (a comment), strip one pair of quotes and unescape backslashes, and trim spaces, so a
/// value holding any of these goes in double quotes with `\\` and `"` escaped.
fn option_value(value: &str) -> String {
    let plain =
        !value.is_empty() && value.trim() == value && !value.contains(['#', ';', '\'', '"', '\\']);
    if plain {
        return value.to_string();
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        if matches!(c, '\\' | '"') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    #[test]
    fn option_values_are_quoted_only_when_an_option_file_would_cut_them() {
        use super::option_value;
        assert_eq!(option_value("Xk3_-9aZ"), "Xk3_-9aZ");
        assert_eq!(option_value("pa ss"), "pa ss");
        assert_eq!(option_value(r#"pa ss#wo"rd\x"#), r#""pa ss#wo\"rd\\x""#);
        assert_eq!(option_value(" lead"), "\" lead\"");
        assert_eq!(option_value("it's;"), "\"it's;\"");
        assert_eq!(option_value(""), "\"\"");
    }

    use super::*;

    #[test]
    fn any_spelling_of_a_connection_option_in_a_client_group_is_found() {
        for line in [
            "host=evil",
            "loose_skip_ssl",
            "Loose-SSL = 0",
            "disable-ssl-verify-server-cert",
            "tls-version=TLSv1",
        ] {
            assert!(is_connection_key(&normalised_key(line)), "{line}");
        }
        for line in ["auto-rehash", "prompt=\\u@\\h> ", "pager=less"] {
            assert!(!is_connection_key(&normalised_key(line)), "{line}");
        }
        for group in [
            "client",
            "mysql",
            "mariadb-client",
            "mysqldump",
            "client-server",
        ] {
            assert!(is_client_group(group), "{group}");
        }
        for group in [
            "mysqld",
            "mariadb",
            "server",
            "client_prod",
            "mariadb-10.11",
        ] {
            assert!(!is_client_group(group), "{group}");
        }
    }
}
