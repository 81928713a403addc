//! The server harness, proved with the real clients: a token-shaped password gets through
//! verified TLS, and a wrong CA, a wrong password or no TLS at all each keep the client out, so a
//! test that later passes through these servers cannot pass by accident.

use crate::common::servers::{Mariadb, Postgres, TestCa};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Shaped like an RDS IAM token (about 1.1 KB, with `%`, `&`, `=`, `.`, `:`, `/` and `?`), so that
/// any client or server that would mangle, escape or cut one shows it here.
fn token_like(user: &str, salt: &str) -> String {
    let security_token: String = (0..24)
        .map(|i| format!("IQoJb3JpZ2luX2VjE{i:02}%2F%2B{salt}%3D%3D"))
        .collect();
    format!(
        "prod.cluster-abc123.us-east-1.rds.amazonaws.com:5432/?Action=connect&DBUser={user}\
         &X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=ASIAIOSFODNN7EXAMPLE%2F20260101%2Fus-east-1%2Frds-db%2Faws4_request\
         &X-Amz-Date=20260101T000000Z&X-Amz-Expires=900\
         &X-Amz-Security-Token={security_token}\
         &X-Amz-SignedHeaders=host\
         &X-Amz-Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    )
}

fn text(output: &Output) -> String {
    format!(
        "exit: {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[track_caller]
fn assert_fails_with(output: &Output, needle: &str, log: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains(needle),
        "expected a failure mentioning {needle:?}\n{}\nserver log:\n{log}",
        text(output)
    );
}

/// psql as a user would run it, with nothing of the caller's environment but PATH, so that no
/// PGSSLMODE, PGHOST or PGSSLROOTCERT can decide the outcome.
fn psql(pg: &Postgres, options: &str, password: &str) -> Output {
    let conninfo = format!(
        "host=localhost port={} dbname=postgres user=jane connect_timeout=10 {options}",
        pg.port()
    );
    Command::new(pg.psql())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PGPASSWORD", password)
        .args([
            "-X",
            "-A",
            "-t",
            "-d",
            &conninfo,
            "-c",
            "select current_user",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn postgres_takes_a_token_password_only_over_verified_tls() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let token = token_like("jane", "a");
    assert!(token.len() > 1000, "{}", token.len());
    pg.create_role("jane", &token);
    let verified = |root: &Path| {
        format!(
            "sslmode=verify-full sslrootcert='{}'",
            root.to_str().unwrap()
        )
    };

    let ok = psql(&pg, &verified(&ca.ca_pem()), &token);
    assert!(ok.status.success(), "{}\n{}", text(&ok), pg.log());
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "jane");

    assert_fails_with(
        &psql(&pg, &verified(&ca.other_ca_pem()), &token),
        "certificate verify failed",
        &pg.log(),
    );
    assert_fails_with(
        &psql(&pg, &verified(&ca.ca_pem()), &token_like("jane", "b")),
        "password authentication failed for user \"jane\"",
        &pg.log(),
    );
    // The server's refusal, not the client's: no hba line admits a connection without TLS.
    assert_fails_with(
        &psql(&pg, "sslmode=disable", &token),
        "no encryption",
        &pg.log(),
    );

    let renewed = token_like("jane", "c");
    pg.set_password("jane", &renewed);
    assert!(
        psql(&pg, &verified(&ca.ca_pem()), &renewed)
            .status
            .success()
    );
    assert_fails_with(
        &psql(&pg, &verified(&ca.ca_pem()), &token),
        "password authentication failed",
        &pg.log(),
    );
}

#[test]
fn postgres_admin_runs_sql_as_superuser_over_tls() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    assert_eq!(
        pg.admin_psql("select current_user, ssl from pg_stat_ssl where pid = pg_backend_pid()"),
        "postgres|t"
    );
    assert_eq!(pg.admin_psql("show listen_addresses"), "127.0.0.1");
    assert_eq!(pg.admin_psql("show port"), pg.port().to_string());
}

/// The mariadb (or mysql) client, as a user would run it: an option file holds everything, the
/// password included, as a helper would write one.
struct MariadbClient {
    dir: tempfile::TempDir,
}

impl MariadbClient {
    fn new() -> MariadbClient {
        MariadbClient {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn options(&self, name: &str, lines: &[String]) -> PathBuf {
        let path = self.dir.path().join(name);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .unwrap();
        writeln!(file, "[client]\n{}", lines.join("\n")).unwrap();
        path
    }

    fn run(&self, db: &Mariadb, options: &Path, extra: &[&str]) -> Output {
        Command::new(db.client())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            // Must come first: the client reads it only there.
            .arg(format!("--defaults-extra-file={}", options.display()))
            .args(extra)
            .args(["--batch", "--skip-column-names"])
            .args(["--execute", "select current_user()"])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

fn tcp_login(db: &Mariadb, password: &str) -> Vec<String> {
    vec![
        "user=jane".to_string(),
        // Quoted, so that a `#` or `;` in a password could not start a comment.
        format!("password=\"{password}\""),
        // 127.0.0.1, not localhost: to this client localhost means the unix socket.
        "host=127.0.0.1".to_string(),
        format!("port={}", db.port()),
        "protocol=TCP".to_string(),
        "connect-timeout=10".to_string(),
    ]
}

#[test]
fn mariadb_takes_a_token_password_only_over_verified_tls() {
    let ca = TestCa::new();
    let Some(db) = Mariadb::start(&ca) else {
        return;
    };
    let token = token_like("jane", "a");
    db.create_user("jane", &token);
    let client = MariadbClient::new();
    let verified = |name: &str, root: &Path, password: &str| {
        let mut lines = tcp_login(&db, password);
        lines.push(format!("ssl-ca={}", root.display()));
        lines.push("ssl-verify-server-cert".to_string());
        client.options(name, &lines)
    };

    let ok = client.run(&db, &verified("good.cnf", &ca.ca_pem(), &token), &[]);
    assert!(ok.status.success(), "{}\n{}", text(&ok), db.log());
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "jane@%");

    assert_fails_with(
        &client.run(
            &db,
            &verified("wrong-ca.cnf", &ca.other_ca_pem(), &token),
            &[],
        ),
        "TLS/SSL error",
        &db.log(),
    );

    assert_fails_with(
        &client.run(
            &db,
            &verified("wrong-password.cnf", &ca.ca_pem(), &token_like("jane", "b")),
            &[],
        ),
        "Access denied for user 'jane'",
        &db.log(),
    );

    // A file with ssl-ca and ssl-verify-server-cert keeps TLS on despite --skip-ssl, so this one
    // has no TLS options at all. The same file with --ssl gets in: REQUIRE SSL alone shuts the
    // plain connection out.
    let plain = client.options("plain.cnf", &tcp_login(&db, &token));
    assert_fails_with(
        &client.run(&db, &plain, &["--skip-ssl"]),
        "Access denied for user 'jane'",
        &db.log(),
    );
    let tls = client.run(&db, &plain, &["--ssl"]);
    assert!(tls.status.success(), "{}\n{}", text(&tls), db.log());

    let renewed = token_like("jane", "c");
    db.set_password("jane", &renewed);
    let ok = client.run(&db, &verified("renewed.cnf", &ca.ca_pem(), &renewed), &[]);
    assert!(ok.status.success(), "{}\n{}", text(&ok), db.log());
}

#[test]
fn mariadb_admin_runs_sql_as_root_and_tcp_has_no_root() {
    let ca = TestCa::new();
    let Some(db) = Mariadb::start(&ca) else {
        return;
    };
    assert_eq!(db.admin_sql("select current_user()"), "root@localhost");
    assert_eq!(db.admin_sql("select @@bind_address"), "127.0.0.1");
    assert_eq!(db.admin_sql("select @@port"), db.port().to_string());
    assert_eq!(
        db.admin_sql("select count(*) from mysql.user where user = 'root' and host <> 'localhost'"),
        "0"
    );
}
