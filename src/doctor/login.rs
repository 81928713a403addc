//! A real login with a token, where the client is installed, and the server's answer mapped
//! to its likely causes, each with what the other checks found about it.

use super::{Check, CheckId, Section, Status};
use crate::clients::launch::{Client, Launch};
use crate::config::{Engine, Named};
use crate::issuer;
use crate::values::{DsqlAction, Wire};
use std::ffi::OsString;
use std::process::Stdio;

/// `checks`: this connection's checks so far, to say which causes are ruled in or out.
pub fn check(named: Named<'_>, checks: &Section) -> Check {
    let connection = named.connection;
    let unreachable = [CheckId::Dns, CheckId::Tcp, CheckId::Tunnel]
        .into_iter()
        .find(|&id| checks.status_of(id) == Some(Status::Fail));
    if let Some(name) = unreachable {
        return Check::skip(
            CheckId::Login,
            format!("no login tried: the server cannot be reached (see {name})"),
        );
    }
    // The client `connect` would run, with the same options: doctor tries what it does.
    let client = match Client::find(connection) {
        Ok(client) => client,
        Err(_) => {
            let missing = match connection.engine.wire() {
                Wire::Postgres => "psql is not installed; no login tried",
                Wire::Mysql => "neither mysql nor mariadb is installed; no login tried",
            };
            return Check::skip(CheckId::Login, missing);
        }
    };
    if let Client::Psql { .. } = client
        && program("psql").is_none()
    {
        return Check::skip(CheckId::Login, "psql is not installed; no login tried");
    }
    let issued = match issuer::issue(connection, true) {
        Ok(issued) => issued,
        Err(err) => return Check::from_error(CheckId::Login, Status::Fail, err),
    };
    let extra: Vec<OsString> = match client {
        Client::Psql { .. } => ["-X", "-q", "-A", "-t", "-c", "select 1"]
            .map(OsString::from)
            .into(),
        Client::Mysql { .. } => ["--connect-timeout=10", "-e", "select 1"]
            .map(OsString::from)
            .into(),
    };
    let Ok(mut launch) = client.command(connection, &issued, &extra) else {
        return Check::skip(CheckId::Login, "cannot write a private option file");
    };
    launch.command.env("PGCONNECT_TIMEOUT", "10");
    let output = run(launch);
    match output {
        Ok(None) => Check::ok(CheckId::Login, format!("logged in as {}", issued.user)),
        Ok(Some(answer)) => explain(&answer, named, &issued.user, checks),
        Err(err) => Check::skip(
            CheckId::Login,
            format!("the client could not be run: {err}"),
        ),
    }
}

fn program(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let name = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    std::env::split_paths(&path)
        .map(|d| d.join(&name))
        .find(|p| p.is_file())
}

/// `None` on success, else the server's (or client's) first line of complaint. The option
/// file lives until the client has exited.
fn run(mut launch: Launch) -> std::io::Result<Option<String>> {
    let output = launch
        .command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()?;
    if output.status.success() {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&output.stderr);
    let line: String = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("the client failed without a message")
        .chars()
        .take(300)
        .collect();
    // Clients do not echo the password; should one ever, its words are not repeated.
    if line.contains("X-Amz-") {
        return Ok(Some(
            "the client failed (its message quoted the token and is not shown)".to_string(),
        ));
    }
    Ok(Some(line))
}

/// What another check found about a cause, in a few words.
fn seen_in(checks: &Section, id: CheckId) -> &'static str {
    match checks.status_of(id) {
        Some(Status::Ok) => "checked: ok",
        Some(Status::Fail) => "checked: FAILED, see above",
        Some(Status::Warn) => "checked: warning, see above",
        _ => "not checked",
    }
}

fn explain(answer: &str, connection: Named<'_>, user: &str, checks: &Section) -> Check {
    if connection.engine == Engine::Dsql
        && let Some(check) = explain_dsql(answer, connection, user, checks)
    {
        return check;
    }
    let lower = answer.to_ascii_lowercase();
    let seen = |id: CheckId| seen_in(checks, id);
    let engine = connection.engine.as_str();
    let sql_user = format!(
        "create the user as an administrator: `rdsiam-helper sql-user {user} --engine {engine}`"
    );
    let mut causes: Vec<String> = Vec::new();
    let mut fixes: Vec<String> = Vec::new();
    if lower.contains("pam authentication failed") || lower.contains("access denied") {
        causes.push(format!(
            "IAM database authentication off on the instance or cluster ({})",
            seen(CheckId::IamAuth)
        ));
        causes.push(format!(
            "no IAM policy allows rds-db:connect as `{user}` ({})",
            seen(CheckId::IamPolicy)
        ));
        causes.push("the user lacks the IAM grant (rds_iam / AWSAuthenticationPlugin) (not checkable from here)".to_string());
        causes.push(format!(
            "expired or revoked credentials signed the token ({})",
            seen(CheckId::Credentials)
        ));
        causes.push(format!(
            "the token names another host, port or region than the server's ({})",
            seen(CheckId::Rds)
        ));
        causes.push(format!(
            "the clock is off by more than 5 minutes ({})",
            seen(CheckId::Clock)
        ));
        fixes.push(sql_user);
    } else if lower.contains("password authentication failed") {
        causes.push(format!(
            "the server checked a password, not an IAM token: the user `{user}` is not set up for IAM (no rds_iam grant), or IAM database authentication is off ({}), or this is not an RDS server",
            seen(CheckId::IamAuth)
        ));
        fixes.push(sql_user);
    } else if lower.contains("no pg_hba.conf entry") {
        causes.push("the server accepts no connection from this address, user or without TLS (pg_hba); on RDS: the connection was not over TLS, or rds.force_ssl and the parameter group".to_string());
        fixes.push(
            "connect with sslmode=verify-full (what this tool sets); check the parameter group"
                .to_string(),
        );
    } else if lower.contains("certificate verify failed") || lower.contains("certificate") {
        causes.push(format!(
            "the server's certificate is not signed by the CA bundle, or the name differs ({})",
            seen(CheckId::CaBundle)
        ));
        fixes.push(
            "`rdsiam-helper ca install`; through a tunnel keep `host` the RDS endpoint".to_string(),
        );
    } else if lower.contains("ssl")
        && (lower.contains("required") || lower.contains("off") || lower.contains("not support"))
    {
        causes.push(
            "the server or client refused TLS; IAM tokens are only accepted over TLS".to_string(),
        );
        fixes.push(
            "connect with sslmode=verify-full / --ssl-verify-server-cert (what this tool sets)"
                .to_string(),
        );
    } else if lower.contains("does not exist") || lower.contains("unknown database") {
        causes.push(format!(
            "the user or database does not exist on the server (`{user}`, `{}`)",
            connection.database_or_default()
        ));
        fixes.push(sql_user);
    } else if lower.contains("timeout")
        || lower.contains("could not connect")
        || lower.contains("can't connect")
        || lower.contains("connection refused")
    {
        causes.push(format!(
            "the server cannot be reached ({})",
            seen(CheckId::Tcp)
        ));
        fixes.push("see the dns / tcp / tunnel checks".to_string());
    }
    let mut message = format!("the login failed: {answer}");
    if !causes.is_empty() {
        message.push_str(&format!("; likely causes: {}", causes.join("; ")));
    }
    let mut check = Check::fail(CheckId::Login, message);
    check.fix = fixes;
    check
}

/// Aurora DSQL's refusals have causes of their own: no IAM auth switch, no rds_iam, a cluster
/// that may not be ACTIVE, and custom roles mapped to IAM principals inside the cluster. `None`
/// leaves the answer to the general explanation (the network, a missing database).
fn explain_dsql(
    answer: &str,
    connection: Named<'_>,
    user: &str,
    checks: &Section,
) -> Option<Check> {
    let lower = answer.to_ascii_lowercase();
    let seen = |id: CheckId| seen_in(checks, id);
    let action = connection.dsql_action();
    let refused = [
        "access denied",
        "authentication failed",
        "unable to accept",
        "token",
        "signature",
        "expired",
    ]
    .iter()
    .any(|words| lower.contains(words));
    let (causes, fixes): (Vec<String>, Vec<String>) = if refused {
        let mut causes = vec![
            format!("the cluster is not ACTIVE ({})", seen(CheckId::Dsql)),
            format!(
                "no IAM policy allows dsql:{} on the cluster ({})",
                action.as_str(),
                seen(CheckId::IamPolicy)
            ),
        ];
        let mut fixes = vec![format!(
            "the IAM policy: `rdsiam-helper policy {} --account ACCOUNT`",
            connection.name
        )];
        if action == DsqlAction::DbConnect {
            causes.push(format!(
                "the role `{user}` does not exist or is not granted to the IAM principal (not checkable from here)"
            ));
            fixes.push(format!(
                "as admin in the cluster: CREATE ROLE {user} WITH LOGIN; AWS IAM GRANT {user} TO 'ROLE_ARN';"
            ));
        }
        causes.push(format!(
            "expired or revoked credentials signed the token ({})",
            seen(CheckId::Credentials)
        ));
        causes.push(format!(
            "the clock is off by more than 5 minutes ({})",
            seen(CheckId::Clock)
        ));
        (causes, fixes)
    } else if lower.contains("certificate") {
        (
            vec![format!(
                "the server's certificate is not signed by a CA in the trust store, or the name differs ({})",
                seen(CheckId::CaBundle)
            )],
            vec!["keep `host` the DSQL endpoint (also through a tunnel); Aurora DSQL's certificates are public, so the system trust store needs no RDS bundle".to_string()],
        )
    } else {
        return None;
    };
    let mut check = Check::fail(
        CheckId::Login,
        format!(
            "the login failed: {answer}; likely causes: {}",
            causes.join("; ")
        ),
    );
    check.fix = fixes;
    Some(check)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::PathBuf;

    fn connection(user: &str) -> Config {
        let text =
            format!("[connections.c]\nhost = \"abc.dsql.us-east-1.on.aws\"\nuser = \"{user}\"\n");
        Config::parse(PathBuf::from("config.toml"), &text).unwrap()
    }

    #[test]
    fn a_refused_dsql_login_names_dsql_causes_not_rds_ones() {
        let checks = Section {
            name: "c".to_string(),
            checks: vec![
                Check::ok(CheckId::Dsql, "ACTIVE"),
                Check::fail(CheckId::IamPolicy, "no"),
            ],
        };
        let answer = "FATAL:  unable to accept connection, access denied";
        let admin = explain(
            answer,
            connection("admin").named("c").unwrap(),
            "admin",
            &checks,
        );
        assert!(
            admin
                .message
                .contains("the cluster is not ACTIVE (checked: ok)")
                && admin.message.contains(
                    "no IAM policy allows dsql:DbConnectAdmin on the cluster (checked: FAILED, see above)"
                ),
            "{admin:?}"
        );
        let said = format!("{} {}", admin.message, admin.fix.join(" "));
        for rds in [
            "rds_iam",
            "rds-db:connect",
            "sql-user",
            "IAM database authentication off",
        ] {
            assert!(!said.contains(rds), "{rds}: {said}");
        }
        let app = explain(
            answer,
            connection("app").named("c").unwrap(),
            "app",
            &checks,
        );
        assert!(
            app.fix.iter().any(|f| f.contains("AWS IAM GRANT app TO")),
            "{app:?}"
        );
        // What DSQL has no word of its own for goes to the general explanation.
        let other = explain(
            "could not connect to server: Connection refused",
            connection("admin").named("c").unwrap(),
            "admin",
            &checks,
        );
        assert!(
            other.message.contains("the server cannot be reached"),
            "{other:?}"
        );
    }
}
