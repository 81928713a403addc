//! MySQL and MariaDB clients. The two differ: Oracle's `mysql` takes `--ssl-mode=VERIFY_IDENTITY`
//! and needs `--enable-cleartext-plugin` for IAM; the MariaDB client (Debian's `mysql`) rejects
//! `--ssl-mode` and verifies with `--ssl-verify-server-cert`. The token always travels in a
//! 0600 option file, never in argv where `ps` shows it.

use crate::clients::{ca_bundle, ini};
use crate::config::Connection;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Oracle,
    Mariadb,
}

/// Reads the flavour from `CLIENT --version` ("... Distrib 10.11.6-MariaDB ..." or "mysql  Ver 8.0").
pub fn detect(client: &Path) -> Result<Flavour> {
    let output = std::process::Command::new(client)
        .arg("--version")
        .output()
        .map_err(|e| Error::failure(format!("cannot run {} --version: {e}", client.display())))?;
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
        if let Some(found) = std::env::split_paths(&path)
            .map(|d| d.join(name))
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
    password: Option<&str>,
    flavour: Option<Flavour>,
) -> Vec<(&'static str, String)> {
    let mut pairs = vec![
        ("host", connection.dial_host()),
        ("port", connection.dial_port().to_string()),
        ("user", user.to_string()),
    ];
    if let Some(password) = password {
        pairs.push(("password", password.to_string()));
    }
    // To these clients `localhost` means the Unix socket.
    pairs.push(("protocol", "TCP".to_string()));
    if let Some(database) = &connection.database {
        pairs.push(("database", database.clone()));
    }
    pairs.push(("ssl-ca", ca_bundle(connection).display().to_string()));
    let verify_identity = connection.tunnel.is_none();
    let oracle_mode = if verify_identity {
        "VERIFY_IDENTITY"
    } else {
        "VERIFY_CA"
    };
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

/// Keys in the user's own option file that a client reads after `$MYSQL_HOME/my.cnf`, so
/// they override what `exec` sets: each a warning naming the file, the group and the key.
pub fn overriding_user_options() -> Vec<String> {
    let Ok(path) = default_path() else {
        return Vec::new();
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Vec::new();
    };
    let mut group = String::new();
    let mut warnings = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            group = name.trim().to_string();
            continue;
        }
        if !matches!(
            group.as_str(),
            "client" | "client-server" | "client-mariadb"
        ) {
            continue;
        }
        let key = line
            .split('=')
            .next()
            .unwrap_or("")
            .trim()
            .trim_start_matches("loose-")
            .replace('_', "-");
        let connection_key = ["host", "port", "user", "password", "protocol", "socket"]
            .contains(&key.as_str())
            || key.starts_with("ssl")
            || key.starts_with("skip-ssl");
        if connection_key {
            warnings.push(format!(
                "{} sets `{key}` in [{group}], which overrides what `exec` sets; use `rdsiam-helper connect`, or move it to another group",
                path.display()
            ));
        }
    }
    warnings
}

/// `~/.my.cnf`, which both clients read.
pub fn default_path() -> Result<PathBuf> {
    dirs::home_dir()
        .map(|h| h.join(".my.cnf"))
        .ok_or_else(|| Error::failure("cannot find the home directory for ~/.my.cnf"))
}
