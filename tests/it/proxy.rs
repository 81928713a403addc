//! `rdsiam-helper proxy` end to end: real clients (psql, pgbench, tokio-postgres, mariadb,
//! mysqladmin) connect to the proxy with no password; the proxy reaches the private TLS servers
//! of tests/it/common/servers.rs, whose only way in is the token as a password over TLS.

use crate::common;
use crate::common::config::Connection;
use crate::common::servers::{Mariadb, Postgres, TestCa};
use crate::common::{ACCESS_KEY_ID, Home, assert_no_secret};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A home with a connection `db` to the server on `server_port`, verified with `ca`, served by
/// the proxy on a local port of its own; the server's user `jane` has the token as password.
struct Proxied {
    home: Home,
    local_port: u16,
    token: String,
}

fn setup(engine: &str, server_port: u16, ca: &Path) -> Proxied {
    let home = Home::new();
    home.static_profile("db", ACCESS_KEY_ID);
    let local_port = free_port();
    home.config(
        Connection::jane("db", engine, "localhost", server_port, "db")
            .ca_bundle(ca)
            .key("local_port", u32::from(local_port)),
    );
    let verb = if engine == "postgres" { "pg" } else { "mysql" };
    let token = home.run(&[verb, "db"]).ok().token();
    Proxied {
        home,
        local_port,
        token,
    }
}

fn pg_setup(pg: &Postgres, ca: &Path) -> Proxied {
    let setup = setup("postgres", pg.port(), ca);
    pg.create_role("jane", &setup.token);
    pg.admin_psql("GRANT ALL ON SCHEMA public TO jane");
    setup
}

fn maria_setup(db: &Mariadb, ca: &Path) -> Proxied {
    let setup = setup("mysql", db.port(), ca);
    db.create_user("jane", &setup.token);
    db.admin_sql("CREATE DATABASE IF NOT EXISTS app");
    db.admin_sql("GRANT ALL ON app.* TO 'jane'@'%'");
    setup
}

/// The proxy as a child process, its stderr (the log) in a file.
struct Proxy {
    child: Child,
    log: PathBuf,
    token: String,
}

impl Proxy {
    fn start(setup: &Proxied, extra: &[&str]) -> Proxy {
        Proxy::start_with(setup, extra, &[])
    }

    fn start_with(setup: &Proxied, extra: &[&str], env: &[(&str, &str)]) -> Proxy {
        let log = setup.home.path().join(format!("proxy-{}.log", free_port()));
        let child = setup
            .home
            .cmd()
            .envs(env.iter().copied())
            .args(["proxy", "db"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut proxy = Proxy {
            child,
            log,
            token: setup.token.clone(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !proxy.log().contains("listening on") {
            if let Some(status) = proxy.child.try_wait().unwrap() {
                panic!("the proxy exited with {status}:\n{}", proxy.log());
            }
            assert!(
                Instant::now() < deadline,
                "the proxy did not start:\n{}",
                proxy.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        proxy
    }

    /// The log so far, checked for secrets every time it is read.
    fn log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        assert_no_secret("the proxy's log", &text, &[&self.token]);
        text
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill has no memory effects; the pid is our own child's.
        assert_eq!(unsafe { libc::kill(self.pid(), signal) }, 0);
    }

    fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .count()
    }

    /// Waits for the log to hold `needle` (log lines are written when a session ends).
    #[track_caller]
    fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in the proxy's log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(output: &Output) -> String {
    format!(
        "exit: {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// psql with nothing of the caller's environment but PATH: no PGPASSWORD, no .pgpass.
fn psql_command(pg: &Postgres, port: u16, user: &str, sql: &str) -> Command {
    let mut cmd = Command::new(pg.psql());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .args(["-X", "-A", "-t", "-w", "-d"])
        .arg(format!(
            "host=127.0.0.1 port={port} user={user} dbname=postgres sslmode=disable connect_timeout=10"
        ))
        .args(["-c", sql])
        .stdin(Stdio::null());
    cmd
}

fn psql(pg: &Postgres, port: u16, user: &str, sql: &str) -> Output {
    psql_command(pg, port, user, sql).output().unwrap()
}

#[track_caller]
fn psql_ok(pg: &Postgres, port: u16, sql: &str) -> String {
    let output = psql(pg, port, "jane", sql);
    assert!(
        output.status.success(),
        "{}\nserver log:\n{}",
        text(&output),
        pg.log()
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn rust_client(port: u16) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    Ok(rust_session(port).await?.0)
}

/// A tokio-postgres client and its connection task, which ends once the client is dropped
/// and the runtime has run it to the end (a test awaits it to know the socket is closed).
async fn rust_session(
    port: u16,
) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=jane dbname=postgres sslmode=disable"),
        tokio_postgres::NoTls,
    )
    .await?;
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok((client, task))
}

#[test]
fn postgres_clients_connect_through_the_proxy_with_no_password() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    let port = setup.local_port;

    // The server takes only TLS logins, so the row proves verified TLS and the token.
    let row = psql_ok(
        &pg,
        port,
        "select current_user, ssl from pg_stat_ssl where pid = pg_backend_pid()",
    );
    assert_eq!(row, "jane|t");

    let rt = runtime();
    let answer: String = rt.block_on(async {
        let client = rust_client(port).await.unwrap();
        client
            .query_one("select current_user::text", &[])
            .await
            .unwrap()
            .get(0)
    });
    assert_eq!(answer, "jane");

    let pgbench = common::require_program("pgbench", "apt-get install postgresql-client");
    if let Some(pgbench) = pgbench {
        let conninfo =
            format!("host=127.0.0.1 port={port} user=jane dbname=postgres sslmode=disable");
        for args in [vec!["-i", "-q"], vec!["-S", "-t", "50", "-c", "2"]] {
            let output = Command::new(&pgbench)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .args(&args)
                .args(["-d", &conninfo])
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "pgbench {args:?}: {}",
                text(&output)
            );
        }
    }

    let log = proxy.wait_for_log("client->server");
    assert!(log.contains("user=jane"), "{log}");
    assert!(log.contains("localhost:"), "{log}");
}

#[test]
fn postgres_scram_server_gets_the_token_by_scram() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    // Only SCRAM from now on: the password method, which sends the token as it is, is gone.
    pg.admin_psql(
        "DO $$ BEGIN EXECUTE format('COPY (SELECT %L) TO %L', \
         'hostssl all all 127.0.0.1/32 scram-sha-256', current_setting('hba_file')); END $$",
    );
    pg.admin_psql(&format!(
        "SET password_encryption = 'scram-sha-256'; ALTER ROLE jane PASSWORD '{}'",
        setup.token.replace('\'', "''")
    ));
    pg.admin_psql("SELECT pg_reload_conf()");
    let proxy = Proxy::start(&setup, &[]);
    let row = psql_ok(&pg, setup.local_port, "select current_user");
    assert_eq!(row, "jane");
    let method = pg.admin_psql(
        "select auth_method from pg_hba_file_rules where auth_method is not null limit 1",
    );
    assert_eq!(method, "scram-sha-256");
    drop(proxy);
}

#[test]
fn postgres_wrong_ca_fails_closed_and_the_proxy_keeps_serving() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.other_ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    for _ in 0..2 {
        let output = psql(&pg, setup.local_port, "jane", "select 1");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{}", text(&output));
        assert!(
            stderr.contains("rdsiam-helper proxy: TLS with localhost:")
                && stderr.contains("failed"),
            "{}",
            text(&output)
        );
    }
    let log = proxy.wait_for_log("TLS with");
    assert!(log.contains("verify-full"), "{log}");
    // No login reached the server: the token never left over an unverified connection.
    assert!(!pg.log().contains("authorized: user=jane"), "{}", pg.log());
}

#[test]
fn postgres_wrong_user_gets_an_error_response() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    let output = psql(&pg, setup.local_port, "bob", "select 1");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("this proxy signs in as user \"jane\"")
            && stderr.contains("not as \"bob\""),
        "{}",
        text(&output)
    );
    proxy.wait_for_log("user=bob");
    // And the next client, the right one, gets in.
    assert_eq!(
        psql_ok(&pg, setup.local_port, "select current_user"),
        "jane"
    );
}

/// psql through the proxy, in a 30-second `pg_sleep` the server is seen running; and when it
/// was started.
fn sleeping_psql(pg: &Postgres, port: u16) -> (std::process::Child, Instant) {
    let child = psql_command(pg, port, "jane", "select pg_sleep(30)")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    wait_until(|| {
        pg.admin_psql("select count(*) from pg_stat_activity where query = 'select pg_sleep(30)'")
            == "1"
    });
    (child, started)
}

#[test]
fn postgres_upstream_killed_mid_query_gives_an_error_and_the_next_connection_works() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    let (child, started) = sleeping_psql(&pg, setup.local_port);
    pg.admin_psql(
        "select pg_terminate_backend(pid) from pg_stat_activity where query = 'select pg_sleep(30)'",
    );
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success(), "{}", text(&output));
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("terminating connection"),
        "{}",
        text(&output)
    );
    assert_eq!(psql_ok(&pg, setup.local_port, "select 1"), "1");
    drop(proxy);
}

#[test]
fn postgres_two_hundred_connections_leave_no_open_descriptors() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    let rt = runtime();
    // One connection first: the runtime's and TLS's own descriptors are then in place.
    rt.block_on(one_query(setup.local_port));
    proxy.wait_for_log(": closed");
    let before = proxy.open_fds();
    rt.block_on(async {
        for _ in 0..200 {
            one_query(setup.local_port).await;
        }
    });
    let mut after = proxy.open_fds();
    let deadline = Instant::now() + Duration::from_secs(10);
    while after > before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        after = proxy.open_fds();
    }
    assert_eq!(after, before, "descriptors leaked:\n{}", proxy.log());
    let deadline = Instant::now() + Duration::from_secs(10);
    while proxy.log().matches(": closed").count() < 201 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = proxy.log();
    assert_eq!(log.matches("client->server").count(), 201, "{log}");
    assert_eq!(log.matches(": closed").count(), 201, "{log}");
}

/// A connection, a query, and the connection closed by the client.
async fn one_query(port: u16) {
    let (client, task) = rust_session(port).await.unwrap();
    client.simple_query("select 1").await.unwrap();
    drop(client);
    task.await.unwrap();
}

#[test]
fn postgres_pg_sleep_is_cancelled_from_psql() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    let (child, started) = sleeping_psql(&pg, setup.local_port);
    // psql sends a CancelRequest on SIGINT, with the key the proxy handed it.
    // SAFETY: kill has no memory effects; the pid is our own child's.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let output = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(15), "not cancelled");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("canceling statement due to user request"),
        "{}\nproxy log:\n{}",
        text(&output),
        proxy.log()
    );
    proxy.wait_for_log("cancel ");
}

#[test]
fn postgres_sigterm_drains_an_open_transaction_then_exits_zero() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    pg.admin_psql("CREATE TABLE public.drained (n int); GRANT ALL ON public.drained TO jane");
    let mut proxy = Proxy::start(&setup, &["--max-sigterm-delay", "20s"]);
    let rt = runtime();
    let port = setup.local_port;
    let (client, task) = rt.block_on(async {
        let (client, task) = rust_session(port).await.unwrap();
        client
            .batch_execute("begin; insert into drained values (1)")
            .await
            .unwrap();
        (client, task)
    });
    proxy.signal(libc::SIGTERM);
    proxy.wait_for_log("no longer accepting");
    // New clients are turned away while the open one finishes its transaction.
    assert!(rt.block_on(rust_client(port)).is_err());
    assert!(
        proxy.wait(Duration::from_millis(500)).is_none(),
        "exited before the drain"
    );
    rt.block_on(client.batch_execute("commit")).unwrap();
    drop(client);
    rt.block_on(task).unwrap();
    let status = proxy
        .wait(Duration::from_secs(10))
        .expect("the proxy exits once drained");
    assert_eq!(status.code(), Some(0), "{}", proxy.log());
    assert_eq!(pg.admin_psql("select count(*) from drained"), "1");
    assert!(proxy.log().contains("every connection closed"));
}

#[test]
fn sigterm_delay_bounds_the_drain() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let mut proxy = Proxy::start(&setup, &["--max-sigterm-delay", "1s"]);
    let rt = runtime();
    let _client = rt.block_on(rust_client(setup.local_port)).unwrap();
    let started = Instant::now();
    proxy.signal(libc::SIGTERM);
    let status = proxy
        .wait(Duration::from_secs(10))
        .expect("exits after the delay");
    assert_eq!(status.code(), Some(0));
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(
        proxy.log().contains("--max-sigterm-delay passed"),
        "{}",
        proxy.log()
    );
}

#[test]
fn health_check_readiness_and_quitquitquit() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let health = free_port();
    let address = format!("127.0.0.1:{health}");
    let mut proxy = Proxy::start(
        &setup,
        &[
            "--health-check",
            &address,
            "--quitquitquit",
            "--structured-logs",
        ],
    );
    // As a startup probe does: the health server is bound just after the listeners that the
    // log announces, so the first answer may take a moment.
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(10)
        && std::net::TcpStream::connect(("127.0.0.1", health))
            .map(|mut stream| {
                use std::io::{Read, Write};
                let _ = stream.write_all(b"GET /startup HTTP/1.0\r\n\r\n");
                let mut answer = String::new();
                let _ = stream.read_to_string(&mut answer);
                !answer.starts_with("HTTP/1.0 200") && !answer.starts_with("HTTP/1.1 200")
            })
            .unwrap_or(true)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    for path in ["/startup", "/liveness", "/readiness"] {
        assert_eq!(http(health, "GET", path).0, 200, "{path}");
    }
    assert_eq!(http(health, "GET", "/nothing").0, 404);
    assert_eq!(http(health, "POST", "/quitquitquit").0, 200);
    let status = proxy.wait(Duration::from_secs(10)).expect("quits");
    assert_eq!(status.code(), Some(0));
    for line in proxy.log().lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(value["time"].is_string(), "{line}");
    }
}

#[test]
fn quit_on_idle_exits_when_no_client_comes() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let mut proxy = Proxy::start(&setup, &["--quit-on-idle", "2s"]);
    assert_eq!(psql_ok(&pg, setup.local_port, "select 1"), "1");
    let status = proxy
        .wait(Duration::from_secs(10))
        .expect("quits when idle");
    assert_eq!(status.code(), Some(0));
    assert!(proxy.log().contains("--quit-on-idle"));
}

#[test]
fn max_connections_refuses_with_the_engines_error_and_serves_the_rest() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &["--max-connections", "1"]);
    let rt = runtime();
    let (first, task) = rt.block_on(rust_session(setup.local_port)).unwrap();
    let output = psql(&pg, setup.local_port, "jane", "select 1");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("too many connections"),
        "{}",
        text(&output)
    );
    drop(first);
    rt.block_on(task).unwrap();
    proxy.wait_for_log(": closed");
    assert_eq!(psql_ok(&pg, setup.local_port, "select 1"), "1");
    drop(proxy);
}

#[test]
fn unix_socket_for_psql_in_a_private_folder() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let dir = setup.home.path().join("sock");
    let dir_text = dir.display().to_string();
    let proxy = Proxy::start(&setup, &["--unix-socket", &dir_text]);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let output = Command::new(pg.psql())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args(["-X", "-A", "-t", "-w", "-h", &dir_text, "-p"])
        .arg(setup.local_port.to_string())
        .args(["-U", "jane", "-d", "postgres", "-c", "select current_user"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "jane",
        "{}",
        text(&output)
    );
    drop(proxy);
}

#[test]
fn listening_beyond_loopback_needs_the_flag_and_a_port_is_required() {
    let home = Home::new();
    home.config("[connections.db]\nhost = \"localhost\"\nuser = \"jane\"\n");
    home.run(&["proxy", "db", "--listen", "0.0.0.0:15432"])
        .code(2)
        .stderr_has("not a loopback address")
        .stderr_has("--allow-non-loopback");
    home.run(&["proxy", "db"])
        .code(2)
        .stderr_has("`db` has no local_port")
        .stderr_has("local_port = 15432");
    home.run(&["proxy", "db", "db", "--listen", "127.0.0.1:1"])
        .code(2)
        .stderr_has("--listen gives one address");
}

fn wait_until(mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A bare HTTP/1.0 request: the status code and the body.
fn http(port: u16, method: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: localhost\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// The mariadb client (or mysqladmin) with no password and no TLS toward the proxy.
fn maria_client(program: &Path, port: u16, user: &str, extra: &[&str]) -> Output {
    Command::new(program)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .arg("--no-defaults")
        .args([
            "--protocol=TCP",
            "--host=127.0.0.1",
            "--skip-ssl",
            "--connect-timeout=10",
        ])
        .arg(format!("--port={port}"))
        .arg(format!("--user={user}"))
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn mariadb_and_mysqladmin_connect_through_the_proxy_with_no_password() {
    let ca = TestCa::new();
    let Some(db) = Mariadb::start(&ca) else {
        return;
    };
    let setup = maria_setup(&db, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    let output = maria_client(
        db.client(),
        setup.local_port,
        "jane",
        &[
            "--batch",
            "--skip-column-names",
            "--database=app",
            "-e",
            "select current_user(), database(), (select variable_value <> '' from information_schema.session_status where variable_name = 'Ssl_cipher')",
        ],
    );
    assert!(
        output.status.success(),
        "{}\n{}",
        text(&output),
        proxy.log()
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "jane@%\tapp\t1"
    );

    let admin = common::require_program("mysqladmin", "apt-get install mariadb-client");
    if let Some(admin) = admin {
        let output = maria_client(&admin, setup.local_port, "jane", &["ping"]);
        assert!(output.status.success(), "{}", text(&output));
        assert!(String::from_utf8_lossy(&output.stdout).contains("is alive"));
    }
    proxy.wait_for_log("client->server");
}

#[test]
fn mariadb_failures_wrong_ca_wrong_user_killed_upstream() {
    let ca = TestCa::new();
    let Some(db) = Mariadb::start(&ca) else {
        return;
    };
    // A wrong user: MySQL's own access-denied error, and the proxy goes on.
    let setup = maria_setup(&db, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    let output = maria_client(db.client(), setup.local_port, "bob", &["-e", "select 1"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("ERROR 1045") && stderr.contains("signs in as user 'jane'"),
        "{}",
        text(&output)
    );

    // Killed mid-query: the client gets an error, the next one works.
    let child = Command::new(db.client())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args([
            "--no-defaults",
            "--protocol=TCP",
            "--host=127.0.0.1",
            "--skip-ssl",
            "--user=jane",
        ])
        .arg(format!("--port={}", setup.local_port))
        .args(["-e", "select sleep(30)"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(|| {
        db.admin_sql(
            "select count(*) from information_schema.processlist where info = 'select sleep(30)'",
        ) == "1"
    });
    let id = db
        .admin_sql("select id from information_schema.processlist where info = 'select sleep(30)'");
    db.admin_sql(&format!("KILL CONNECTION {id}"));
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success(), "{}", text(&output));
    let output = maria_client(db.client(), setup.local_port, "jane", &["-e", "select 1"]);
    assert!(output.status.success(), "{}", text(&output));
    drop(proxy);

    // The wrong CA: refused before the token is sent.
    let setup = maria_setup_again(&db, &ca.other_ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    let output = maria_client(db.client(), setup.local_port, "jane", &["-e", "select 1"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("TLS with localhost:"), "{}", text(&output));
    proxy.wait_for_log("verify-full");
}

/// A second home for a server whose user exists: the password becomes this home's token.
fn maria_setup_again(db: &Mariadb, ca: &Path) -> Proxied {
    let setup = setup("mysql", db.port(), ca);
    db.set_password("jane", &setup.token);
    setup
}

#[test]
fn setup_via_proxy_points_psql_at_the_proxy_with_no_password() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    let services = setup.home.path().join("pg_service.conf");
    let services_text = services.display().to_string();
    setup
        .home
        .run(&[
            "setup",
            "pgservice",
            "db",
            "--via-proxy",
            "--write",
            &services_text,
        ])
        .ok()
        .stderr_has("rdsiam-helper")
        .stderr_has("proxy db");
    let written = std::fs::read_to_string(&services).unwrap();
    assert!(
        written.contains(&format!("port={}", setup.local_port)),
        "{written}"
    );
    assert!(written.contains("sslmode=disable"), "{written}");
    let output = Command::new(pg.psql())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PGSERVICEFILE", &services)
        .args([
            "-X",
            "-A",
            "-t",
            "-w",
            "-d",
            "service=db",
            "-c",
            "select current_user",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "jane",
        "{}",
        text(&output)
    );
    proxy.wait_for_log("user=jane");
}

#[test]
fn setup_via_proxy_points_the_mariadb_client_at_the_proxy() {
    let ca = TestCa::new();
    let Some(db) = Mariadb::start(&ca) else {
        return;
    };
    let setup = maria_setup(&db, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    setup
        .home
        .run(&["setup", "mysql", "db", "--via-proxy", "--write"])
        .ok();
    let written = std::fs::read_to_string(setup.home.path().join(".my.cnf")).unwrap();
    assert!(!written.contains("password"), "{written}");
    let output = Command::new(db.client())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", setup.home.path())
        .args([
            "--defaults-group-suffix=_db",
            "--batch",
            "--skip-column-names",
        ])
        .args(["-e", "select current_user()"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "jane@%",
        "{}\n{written}",
        text(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("Warning"), "{stderr}\n{written}");
    proxy.wait_for_log("user=jane");
}

#[test]
fn setup_via_proxy_for_gui_clients_prints_loopback_without_tls_or_password() {
    let home = Home::new();
    home.config(
        "[connections.db]\nhost = \"db.abc.us-east-1.rds.amazonaws.com\"\nuser = \"jane\"\n\
         database = \"app\"\nlocal_port = 15432\n\n\
         [connections.noport]\nhost = \"db.abc.us-east-1.rds.amazonaws.com\"\nuser = \"jane\"\n",
    );
    for client in ["tableplus", "datagrip", "dbeaver", "pgadmin"] {
        let run = home.run(&["setup", client, "db", "--via-proxy"]);
        run.ok();
        assert!(run.stdout.contains("127.0.0.1"), "{client}: {}", run.stdout);
        assert!(run.stdout.contains("15432"), "{client}: {}", run.stdout);
        assert!(
            !run.stdout.contains("verify-full"),
            "{client}: {}",
            run.stdout
        );
        assert!(!run.stdout.contains(" pg db"), "{client}: {}", run.stdout);
        home.run(&["setup", client, "db", "--via-proxy", "--write"])
            .code(2)
            .stderr_has("no file to --write");
    }
    home.run(&["setup", "pgpass", "db", "--via-proxy"])
        .code(2)
        .stderr_has(".pgpass needs no line");
    home.run(&["setup", "pgservice", "noport", "--via-proxy"])
        .code(2)
        .stderr_has("has no local_port");
}

/// The proxy against direct TLS and against the field's middlebox, in one run, as Markdown
/// tables on stdout: `pgbench -S` and `pgbench -S -C` direct (TLS verify-full), through the
/// proxy, and through pgbouncer (session mode, TLS to the server, plain to the client), with
/// tps and each middlebox's CPU seconds per 10,000 queries from /proc/PID/stat; a MariaDB
/// select loop direct, through a plain TCP relay (socat: the floor for any middlebox) and
/// through the proxy, as µs per round trip; the proxy's memory at 100 idle connections; and
/// the load average. Runs alternate, so a slow moment of the shared machine hits every
/// candidate. `bench/proxy.sh` runs it on a release build; the README's table comes from it.
#[test]
#[ignore = "a benchmark: run by bench/proxy.sh"]
fn proxy_benchmark() {
    let env = |name: &str, default: u64| -> u64 {
        std::env::var(name)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let seconds = env("BENCH_SECONDS", 10);
    let rounds = env("BENCH_ROUNDS", 3);
    let load_before = load_average();
    let ca = TestCa::new();
    let mut out = String::new();
    if let Some(pg) = Postgres::start(&ca) {
        out.push_str(&postgres_bench(&pg, &ca, seconds, rounds));
    }
    // BENCH_ONLY=S or C: one of the pgbench runs, and no MariaDB.
    if std::env::var_os("BENCH_ONLY").is_none()
        && let Some(db) = Mariadb::start(&ca)
    {
        out.push_str(&mariadb_bench(&db, &ca, rounds));
    }
    println!("{out}");
    println!(
        "Load average (1, 5, 15 min) before: {load_before}; after: {}. {} rounds of {seconds} s, alternated; the median round is shown.",
        load_average(),
        rounds
    );
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// User + system CPU seconds a process (all its threads) has used so far.
fn cpu_seconds(pid: i32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = stat.rsplit_once(')').unwrap().1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of proc(5) (utime, stime), counted from the state (field 3).
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // SAFETY: sysconf has no memory effects.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

/// pgbouncer 1.18 as Debian ships it, run as the postgres account (it refuses root).
struct Pgbouncer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Pgbouncer {
    fn start(pg: &Postgres, ca: &TestCa, token: &str) -> Option<Pgbouncer> {
        let program = common::require_program("pgbouncer", "apt-get install pgbouncer")?;
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        std::fs::copy(ca.ca_pem(), dir.path().join("ca.pem")).unwrap();
        std::fs::write(dir.path().join("users.txt"), "\"jane\" \"\"\n").unwrap();
        std::fs::write(
            dir.path().join("pgbouncer.ini"),
            format!(
                "[databases]\npostgres = host=localhost port={} dbname=postgres user=jane password={token}\n\n\
                 [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = trust\nauth_file = {dir}/users.txt\npool_mode = session\n\
                 server_tls_sslmode = verify-full\nserver_tls_ca_file = {dir}/ca.pem\n\
                 max_client_conn = 200\ndefault_pool_size = 50\nlogfile = {dir}/pgbouncer.log\n",
                pg.port(),
                dir = dir.path().display()
            ),
        )
        .unwrap();
        let mut cmd = Command::new(&program);
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            let postgres = Command::new("id")
                .args(["-u", "postgres"])
                .output()
                .unwrap();
            let uid: u32 = String::from_utf8_lossy(&postgres.stdout)
                .trim()
                .parse()
                .unwrap();
            for entry in std::fs::read_dir(dir.path()).unwrap() {
                std::os::unix::fs::chown(entry.unwrap().path(), Some(uid), None).unwrap();
            }
            std::os::unix::fs::chown(dir.path(), Some(uid), None).unwrap();
            cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(&program);
        }
        let child = cmd
            .arg(dir.path().join("pgbouncer.ini"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_until(|| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        Some(Pgbouncer {
            child,
            port,
            _dir: dir,
        })
    }

    /// pgbouncer's own pid (runuser's child).
    fn pid(&self) -> i32 {
        let children =
            std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", self.child.id()))
                .unwrap_or_default();
        children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(self.child.id() as i32)
    }
}

impl Drop for Pgbouncer {
    fn drop(&mut self) {
        // SAFETY: kill has no memory effects; the pid is pgbouncer's, our grandchild.
        unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// One pgbench run's outcome: tps, transactions, and the middlebox's CPU seconds in it.
struct PgbenchRun {
    tps: f64,
    cpu_per_10k: Option<f64>,
}

fn postgres_bench(pg: &Postgres, ca: &TestCa, seconds: u64, rounds: u64) -> String {
    let setup = pg_setup(pg, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    let pgbench =
        common::require_program("pgbench", "apt-get install postgresql-client").expect("pgbench");
    let Some(bouncer) = Pgbouncer::start(pg, ca, &setup.token) else {
        return String::new();
    };
    let direct = format!(
        "host=localhost hostaddr=127.0.0.1 port={} user=jane dbname=postgres sslmode=verify-full sslrootcert={}",
        pg.port(),
        ca.ca_pem().display()
    );
    let plain =
        |port: u16| format!("host=127.0.0.1 port={port} user=jane dbname=postgres sslmode=disable");
    // Beside the default (one thread, server connections kept): two worker threads, and no
    // server connection reuse (a TLS connection and a login per client).
    let threads_port = free_port();
    let threads = Proxy::start_with(
        &setup,
        &["--listen", &format!("127.0.0.1:{threads_port}")],
        &[("RDSIAM_HELPER_PROXY_THREADS", "2")],
    );
    let fresh_port = free_port();
    let fresh = Proxy::start(
        &setup,
        &[
            "--listen",
            &format!("127.0.0.1:{fresh_port}"),
            "--no-server-reuse",
        ],
    );
    let candidates: [(&str, String, Option<i32>); 5] = [
        ("direct TLS", direct.clone(), None),
        (
            "rdsiam-helper proxy",
            plain(setup.local_port),
            Some(proxy.pid()),
        ),
        ("proxy, 2 threads", plain(threads_port), Some(threads.pid())),
        (
            "proxy, --no-server-reuse",
            plain(fresh_port),
            Some(fresh.pid()),
        ),
        ("pgbouncer 1.18", plain(bouncer.port), Some(bouncer.pid())),
    ];
    let run = |conninfo: &str, args: &[&str], pid: Option<i32>| -> PgbenchRun {
        let cpu_before = pid.map(cpu_seconds);
        let output = Command::new(&pgbench)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("PGPASSWORD", &setup.token)
            .args(args)
            .args(["-d", conninfo])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "pgbench {args:?}: {}",
            text(&output)
        );
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let transactions = number_after(&stdout, "number of transactions actually processed: ");
        PgbenchRun {
            tps: number_after(&stdout, "tps = "),
            cpu_per_10k: pid
                .map(|pid| (cpu_seconds(pid) - cpu_before.unwrap()) * 10_000.0 / transactions),
        }
    };
    let init = Command::new(&pgbench)
        .env("PGPASSWORD", &setup.token)
        .args(["-i", "-q", "-s", "1", "-d", &direct])
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", text(&init));
    let t = seconds.to_string();
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let modes: Vec<(&str, Vec<&str>)> = [
        (
            "`pgbench -S -c 4 -j 2`",
            vec!["-S", "-n", "-c", "4", "-j", "2", "-T", t.as_str()],
        ),
        (
            "`pgbench -S -C -c 2 -j 2` (a connection per query)",
            vec!["-S", "-n", "-C", "-c", "2", "-j", "2", "-T", t.as_str()],
        ),
    ]
    .into_iter()
    .filter(|(_, args)| match only.as_str() {
        "S" => !args.contains(&"-C"),
        "C" => args.contains(&"-C"),
        _ => true,
    })
    .collect();
    // results[mode][candidate] = runs
    let mut results: Vec<Vec<Vec<PgbenchRun>>> = (0..modes.len())
        .map(|_| (0..candidates.len()).map(|_| Vec::new()).collect())
        .collect();
    for _ in 0..rounds {
        for (m, (_, args)) in modes.iter().enumerate() {
            for (c, (_, conninfo, pid)) in candidates.iter().enumerate() {
                results[m][c].push(run(conninfo, args, *pid));
            }
        }
    }
    let mut out = String::from("| PostgreSQL |");
    for (name, _, _) in &candidates {
        out.push_str(&format!(" {name} |"));
    }
    out.push_str(&format!("\n|---{}|\n", "|---".repeat(candidates.len())));
    for (m, (label, _)) in modes.iter().enumerate() {
        let tps: Vec<f64> = results[m]
            .iter()
            .map(|runs| median(&mut runs.iter().map(|r| r.tps).collect::<Vec<_>>()))
            .collect();
        out.push_str(&format!("| {label}: tps | {:.0} |", tps[0]));
        for t in &tps[1..] {
            out.push_str(&format!(" {t:.0} ({:.2}x direct) |", t / tps[0]));
        }
        out.push('\n');
        let cpu: Vec<f64> = results[m][1..]
            .iter()
            .map(|runs| {
                median(
                    &mut runs
                        .iter()
                        .map(|r| r.cpu_per_10k.unwrap())
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        let bouncer_cpu = cpu[cpu.len() - 1];
        out.push_str(&format!("| {label}: CPU s per 10,000 queries | |"));
        for c in &cpu {
            out.push_str(&format!(" {c:.3} ({:.2}x pgbouncer) |", c / bouncer_cpu));
        }
        out.push('\n');
    }
    drop(threads);
    drop(fresh);
    drop(bouncer);
    drop(proxy);
    out
}

fn mariadb_bench(db: &Mariadb, ca: &TestCa, rounds: u64) -> String {
    let setup = maria_setup(db, &ca.ca_pem());
    db.admin_sql("SET GLOBAL max_connections = 200");
    let proxy = Proxy::start(&setup, &[]);
    let Some(socat) = common::require_program("socat", "apt-get install socat") else {
        return String::new();
    };
    let relay_port = free_port();
    let mut relay = Command::new(socat)
        .arg(format!(
            "TCP-LISTEN:{relay_port},bind=127.0.0.1,reuseaddr,fork"
        ))
        .arg(format!("TCP:127.0.0.1:{}", db.port()))
        .spawn()
        .unwrap();
    wait_until(|| std::net::TcpStream::connect(("127.0.0.1", relay_port)).is_ok());
    let tls_options = |name: &str, port: u16| {
        setup.home.write(
            name,
            &format!(
                "[client]\nhost=127.0.0.1\nport={port}\nuser=jane\npassword={}\nprotocol=TCP\nssl-ca={}\nssl-verify-server-cert\n",
                setup.token,
                ca.ca_pem().display()
            ),
        )
    };
    let direct = tls_options("direct.options", db.port());
    let relayed = tls_options("relayed.options", relay_port);
    let proxied = setup.home.write(
        "proxied.options",
        &format!(
            "[client]\nhost=127.0.0.1\nport={}\nuser=jane\nprotocol=TCP\nskip-ssl\n",
            setup.local_port
        ),
    );
    let client = |file: &Path| {
        let mut cmd = Command::new(db.client());
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .arg(format!("--defaults-file={}", file.display()))
            .args(["--batch", "--skip-column-names"]);
        cmd
    };
    let selects = 20_000;
    let script: String = "select 1;\n".repeat(selects);
    // µs per round trip over one connection; connection set-up is a few ms of the total.
    let round_trip_us = |file: &Path| {
        let started = Instant::now();
        let mut child = client(file)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success());
        started.elapsed().as_secs_f64() * 1e6 / selects as f64
    };
    let single_port = free_port();
    let single = Proxy::start_with(
        &setup,
        &["--listen", &format!("127.0.0.1:{single_port}")],
        &[("RDSIAM_HELPER_PROXY_THREADS", "2")],
    );
    let single_file = setup.home.write(
        "single.options",
        &format!(
            "[client]\nhost=127.0.0.1\nport={single_port}\nuser=jane\nprotocol=TCP\nskip-ssl\n"
        ),
    );
    let files = [&direct, &relayed, &proxied, &single_file];
    let pids = [None, None, Some(proxy.pid()), Some(single.pid())];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); files.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); files.len()];
    for _ in 0..rounds {
        for (i, file) in files.iter().enumerate() {
            let before = pids[i].map(cpu_seconds);
            times[i].push(round_trip_us(file));
            if let (Some(pid), Some(before)) = (pids[i], before) {
                cpu[i].push((cpu_seconds(pid) - before) * 10_000.0 / selects as f64);
            }
        }
    }
    let t: Vec<f64> = times.iter_mut().map(|v| median(v)).collect();
    let mut out = String::from(
        "\n| MariaDB, one connection, 20,000 × `select 1` | direct TLS | plain TCP relay (socat) | rdsiam-helper proxy | proxy, 2 threads |\n|---|---|---|---|---|\n",
    );
    out.push_str(&format!(
        "| µs per round trip (added over direct) | {:.1} | {:.1} ({:+.1}) | {:.1} ({:+.1}) | {:.1} ({:+.1}) |\n",
        t[0],
        t[1],
        t[1] - t[0],
        t[2],
        t[2] - t[0],
        t[3],
        t[3] - t[0]
    ));
    out.push_str(&format!(
        "| proxy CPU s per 10,000 queries | | | {:.3} | {:.3} |\n",
        median(&mut cpu[2]),
        median(&mut cpu[3])
    ));
    drop(single);
    // 100 idle clients: each mariadb waits on its open stdin, its session logged in.
    let rss_idle = rss_kb(proxy.pid());
    let mut idle: Vec<Child> = (0..100)
        .map(|_| {
            client(&proxied)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    wait_until(|| {
        db.admin_sql("select count(*) from information_schema.processlist where user = 'jane'")
            .parse::<usize>()
            .unwrap()
            >= 100
    });
    let rss_busy = rss_kb(proxy.pid());
    for child in &mut idle {
        drop(child.stdin.take());
        child.wait().unwrap();
    }
    out.push_str(&format!(
        "| proxy resident memory, no client → 100 idle connections (MB) | | | {:.1} → {:.1} | |\n",
        rss_idle as f64 / 1024.0,
        rss_busy as f64 / 1024.0
    ));
    let _ = relay.kill();
    let _ = relay.wait();
    drop(proxy);
    out
}

fn number_after(text: &str, label: &str) -> f64 {
    let rest = text
        .split(label)
        .nth(1)
        .unwrap_or_else(|| panic!("no {label:?} in:\n{text}"));
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

fn rss_kb(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn the_proxy_and_the_cli_sign_once_between_them() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let home = Home::new();
    let count = common::counting_process(&home, "sso", 3600, "0");
    let local_port = free_port();
    home.config(format!(
        "[connections.db]\nhost = \"localhost\"\nport = {}\nuser = \"jane\"\nregion = \"us-east-1\"\n\
         aws_profile = \"sso\"\nca_bundle = \"{}\"\nlocal_port = {local_port}\n",
        pg.port(),
        ca.ca_pem().display()
    ));
    let health = free_port();
    let address = format!("127.0.0.1:{health}");
    // The proxy signs first (readiness issues a token for every connection, a cache miss)...
    let setup = Proxied {
        home,
        local_port,
        token: String::new(),
    };
    let proxy = Proxy::start(&setup, &["--health-check", &address]);
    assert_eq!(http(health, "GET", "/readiness").0, 200);
    assert_eq!(common::runs(&count), 1);
    // ...and the CLI gets the same token from the shared cache.
    let token = setup.home.run(&["pg", "db"]).ok().token();
    assert_eq!(common::runs(&count), 1);
    pg.create_role("jane", &token);
    for _ in 0..3 {
        assert_eq!(psql_ok(&pg, local_port, "select current_user"), "jane");
    }
    assert_eq!(common::runs(&count), 1, "{}", proxy.log());
    let log = proxy.log();
    assert_no_secret("the proxy's log", &log, &[&token, "session-sso"]);
}

/// A client per connection (`pgbench -C`, a cron job) costs the proxy no cache file read while
/// its token is fresh; a `cache clear` under it is still seen, and the next client signs anew.
#[test]
fn the_proxy_reads_the_token_file_again_only_once_it_changed() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    // A clock that stands still: a token signed again is the same token, the role's password.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let home = Home::new();
    home.static_profile("db", ACCESS_KEY_ID);
    let local_port = free_port();
    home.config(
        Connection::jane("db", "postgres", "localhost", pg.port(), "db")
            .ca_bundle(&ca.ca_pem())
            .key("local_port", u32::from(local_port)),
    );
    let token = home.run_at(&now, &["pg", "db"]).ok().token();
    pg.create_role("jane", &token);
    let setup = Proxied {
        home,
        local_port,
        token,
    };
    let proxy = Proxy::start_with(
        &setup,
        &["--verbose", "--no-server-reuse"],
        &[(common::NOW_VARIABLE, now.as_str())],
    );
    let reads = || proxy.log().matches("cache hit").count();
    let signings = || proxy.log().matches("cache miss").count();
    assert_eq!(psql_ok(&pg, local_port, "select current_user"), "jane");
    let after_first = reads();
    for _ in 0..3 {
        assert_eq!(psql_ok(&pg, local_port, "select current_user"), "jane");
    }
    assert_eq!(reads(), after_first, "{}", proxy.log());
    assert_eq!(signings(), 0, "{}", proxy.log());

    setup.home.run(&["cache", "clear"]).ok();
    assert_eq!(psql_ok(&pg, local_port, "select current_user"), "jane");
    assert_eq!(signings(), 1, "{}", proxy.log());
}

#[test]
fn a_local_password_file_that_is_a_link_a_fifo_a_folder_or_not_text_is_named_as_such() {
    let ca = TestCa::new();
    let home = Home::new();
    home.config(format!(
        "[connections.db]\nhost = \"localhost\"\nuser = \"jane\"\nca_bundle = \"{}\"\nlocal_port = {}\n",
        ca.ca_pem().display(),
        free_port()
    ));
    let dir = home.path().join("pw");
    std::fs::create_dir(&dir).unwrap();
    let real = dir.join("real");
    std::fs::write(&real, "secret\n").unwrap();
    open_up(&real, 0o600);
    let link = dir.join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let fifo = dir.join("fifo");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success(), "mkfifo");
    let folder = dir.join("folder");
    std::fs::create_dir(&folder).unwrap();
    let binary = dir.join("binary");
    std::fs::write(&binary, b"\xff\xfe pass\n").unwrap();
    open_up(&binary, 0o600);
    for (path, message) in [
        (
            &link,
            "is a symbolic link; it must be a regular file of yours",
        ),
        (&fifo, "is a FIFO (named pipe), not a regular file"),
        (&folder, "is a folder, not a regular file"),
        (&binary, "is not UTF-8 text"),
    ] {
        home.run(&[
            "proxy",
            "db",
            "--local-password-file",
            path.to_str().unwrap(),
        ])
        .code(1)
        .stderr_has(message)
        .stderr_has(path.to_str().unwrap());
    }
    // Nothing was replaced or removed on the way.
    assert_eq!(std::fs::read_to_string(&real).unwrap(), "secret\n");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn the_proxy_refuses_to_start_without_a_ca_bundle() {
    let home = Home::new();
    home.config(format!(
        "[connections.db]\nhost = \"localhost\"\nuser = \"jane\"\nca_bundle = \"{}\"\nlocal_port = {}\n",
        home.path().join("absent.pem").display(),
        free_port()
    ));
    home.run(&["proxy", "db"]).code(1).stderr_has("CA bundle");
}

#[test]
fn readiness_fails_while_no_token_can_be_issued() {
    let ca = TestCa::new();
    let home = Home::new();
    let local_port = free_port();
    home.config(format!(
        "[connections.db]\nhost = \"localhost\"\nuser = \"jane\"\nregion = \"us-east-1\"\n\
         aws_profile = \"missing\"\nca_bundle = \"{}\"\nlocal_port = {local_port}\n",
        ca.ca_pem().display()
    ));
    let health = free_port();
    let address = format!("127.0.0.1:{health}");
    let setup = Proxied {
        home,
        local_port,
        token: String::new(),
    };
    let proxy = Proxy::start(&setup, &["--health-check", &address]);
    let (status, body) = http(health, "GET", "/readiness");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("db:"), "{body}");
    assert_eq!(http(health, "GET", "/liveness").0, 200);
    drop(proxy);
}

#[test]
fn mariadb_ctrl_c_kills_the_query_through_the_proxy() {
    let ca = TestCa::new();
    let Some(db) = Mariadb::start(&ca) else {
        return;
    };
    let setup = maria_setup(&db, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    // Interactive (stdin open) so that Ctrl-C kills the query rather than the client; the
    // client sends `KILL QUERY <id>` on a new connection, with the id the proxy's greeting
    // carried: the server's own.
    let mut child = Command::new(db.client())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .args([
            "--no-defaults",
            "--protocol=TCP",
            "--host=127.0.0.1",
            "--skip-ssl",
            "--user=jane",
        ])
        .arg(format!("--port={}", setup.local_port))
        .arg("--sigint-ignore=0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"select sleep(30);\n").unwrap();
    let started = Instant::now();
    wait_until(|| {
        db.admin_sql(
            "select count(*) from information_schema.processlist where info = 'select sleep(30)'",
        ) == "1"
    });
    // SAFETY: kill has no memory effects; the pid is our own child's.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    wait_until(|| {
        db.admin_sql(
            "select count(*) from information_schema.processlist where info = 'select sleep(30)'",
        ) == "0"
    });
    assert!(started.elapsed() < Duration::from_secs(15), "not killed");
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("query killed"),
        "{}\n{}",
        text(&output),
        proxy.log()
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("interrupted"),
        "{}",
        text(&output)
    );
    // The KILL came through the proxy, on a connection of its own.
    proxy.wait_for_log("client->server");
    let deadline = Instant::now() + Duration::from_secs(10);
    while proxy.log().matches("client->server").count() < 2 {
        assert!(Instant::now() < deadline, "{}", proxy.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!proxy.log().contains("broke"), "{}", proxy.log());
}

/// What the proxy sends first to a fake server: an SSLRequest, or with `--sslnegotiation
/// direct` a TLS ClientHello at once that offers ALPN `postgresql`.
fn first_bytes_to_server(negotiation: &str) -> Vec<u8> {
    use std::io::Read;
    let ca = TestCa::new();
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let setup = setup(
        "postgres",
        server.local_addr().unwrap().port(),
        &ca.ca_pem(),
    );
    let proxy = Proxy::start(&setup, &["--sslnegotiation", negotiation]);
    let port = setup.local_port;
    let client = std::thread::spawn(move || {
        let _ = std::process::Command::new("psql")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .args(["-X", "-w", "-d"])
            .arg(format!(
                "host=127.0.0.1 port={port} user=jane dbname=postgres sslmode=disable connect_timeout=5"
            ))
            .args(["-c", "select 1"])
            .output();
    });
    let (mut stream, _) = server.accept().unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut bytes = vec![0; 4096];
    let n = stream.read(&mut bytes).unwrap();
    bytes.truncate(n);
    drop(stream);
    client.join().unwrap();
    drop(proxy);
    bytes
}

#[test]
fn sslnegotiation_direct_starts_tls_at_once_with_alpn_postgresql() {
    if common::require_program("psql", "apt-get install postgresql-client").is_none() {
        return;
    }
    // The SSLRequest: length 8, code 80877103.
    assert_eq!(
        first_bytes_to_server("postgres")[..8],
        [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]
    );
    let hello = first_bytes_to_server("direct");
    assert_eq!(hello[0], 0x16, "a TLS handshake record");
    assert!(
        hello.windows(10).any(|w| w == b"postgresql"),
        "ALPN postgresql offered"
    );
}

#[test]
fn through_a_tunnel_tls_still_verifies_the_endpoints_name() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let tunnel = common::tcp_forward(pg.port());
    let config = std::fs::read_to_string(setup.home.config_path()).unwrap();
    setup
        .home
        .config(format!("{config}tunnel = \"127.0.0.1:{tunnel}\"\n"));
    let proxy = Proxy::start(&setup, &[]);
    assert_eq!(
        psql_ok(&pg, setup.local_port, "select current_user"),
        "jane"
    );
    proxy.wait_for_log(&format!("via 127.0.0.1:{tunnel}"));
    // A name the certificate does not carry fails closed, tunnel or not.
    let renamed = std::fs::read_to_string(setup.home.config_path())
        .unwrap()
        .replace("host = \"localhost\"", "host = \"db.example.com\"");
    setup.home.config(&renamed);
    drop(proxy);
    let proxy = Proxy::start(&setup, &[]);
    let output = psql(&pg, setup.local_port, "jane", "select 1");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("TLS with db.example.com"),
        "{}",
        text(&output)
    );
    drop(proxy);
}

// ---- Who gets in: the proxy's owner only, unless told otherwise ----

/// `program` run as the user `nobody` through runuser, with nothing of the caller's
/// environment but PATH. The tests run as root (as CI does), so nobody is another uid than the
/// proxy's; run as anyone else they are skipped (and fail under CI=true).
fn as_nobody(program: &Path) -> Option<Command> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "the access tests run a client as `nobody`, which needs root"
        );
        eprintln!("SKIPPED: the access tests run a client as `nobody`, which needs root");
        return None;
    }
    let runuser = common::require_program("runuser", "apt-get install util-linux")?;
    let mut cmd = Command::new(runuser);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .args(["-u", "nobody", "--"])
        .arg(program)
        .stdin(Stdio::null());
    Some(cmd)
}

fn psql_args(cmd: &mut Command, conninfo: &str, sql: &str) {
    cmd.args(["-X", "-A", "-t", "-w", "-d", conninfo, "-c", sql]);
}

fn tcp_conninfo(port: u16) -> String {
    format!(
        "host=127.0.0.1 port={port} user=jane dbname=postgres sslmode=disable connect_timeout=10"
    )
}

fn maria_args(cmd: &mut Command, port: u16, extra: &[&str]) {
    cmd.arg("--no-defaults")
        .args([
            "--protocol=TCP",
            "--host=127.0.0.1",
            "--skip-ssl",
            "--connect-timeout=10",
            "--user=jane",
        ])
        .arg(format!("--port={port}"))
        .args(extra);
}

const REFUSED_UID: &str =
    "connection refused: the client runs as uid 65534, not as uid 0, who runs the proxy";

#[test]
fn postgres_over_tcp_lets_in_only_the_proxys_owner() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let Some(mut nobody) = as_nobody(pg.psql()) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    psql_args(
        &mut nobody,
        &tcp_conninfo(setup.local_port),
        "select current_user",
    );
    let refused = nobody.output().unwrap();
    assert!(!refused.status.success(), "{}", text(&refused));
    // The proxy's own ErrorResponse, not a socket error or the server's refusal.
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!("rdsiam-helper proxy: {REFUSED_UID}")),
        "{}",
        text(&refused)
    );
    let log = proxy.wait_for_log(REFUSED_UID);
    assert!(log.contains("127.0.0.1:"), "{log}");
    // The owner (root, who runs the proxy) gets in.
    assert_eq!(
        psql_ok(&pg, setup.local_port, "select current_user"),
        "jane"
    );
    drop(proxy);
}

#[test]
fn mariadb_over_tcp_lets_in_only_the_proxys_owner() {
    let ca = TestCa::new();
    let Some(db) = Mariadb::start(&ca) else {
        return;
    };
    let Some(mut nobody) = as_nobody(db.client()) else {
        return;
    };
    let setup = maria_setup(&db, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    maria_args(
        &mut nobody,
        setup.local_port,
        &["-e", "select current_user()"],
    );
    let refused = nobody.output().unwrap();
    assert!(!refused.status.success(), "{}", text(&refused));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("ERROR 1045") && stderr.contains(REFUSED_UID),
        "{}",
        text(&refused)
    );
    proxy.wait_for_log(REFUSED_UID);
    let owner = maria_client(
        db.client(),
        setup.local_port,
        "jane",
        &["-N", "-e", "select 1"],
    );
    assert_eq!(
        String::from_utf8_lossy(&owner.stdout).trim(),
        "1",
        "{}",
        text(&owner)
    );
    drop(proxy);
}

/// A socket folder that `nobody` can reach: outside the test home (0700), opened up after
/// the proxy made it private, so the refusal below is the proxy's check, not the folder's.
fn reachable_socket_folder() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("rdsiam-sock-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::remove_dir(dir.path()).unwrap();
    dir
}

fn open_up(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn the_unix_socket_checks_its_peers_uid() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let Some(mut nobody) = as_nobody(pg.psql()) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let dir = reachable_socket_folder();
    let dir_text = dir.path().display().to_string();
    let proxy = Proxy::start(&setup, &["--unix-socket", &dir_text]);
    let socket = dir.path().join(format!(".s.PGSQL.{}", setup.local_port));
    open_up(dir.path(), 0o755);
    open_up(&socket, 0o777);
    let conninfo = format!(
        "host={dir_text} port={} user=jane dbname=postgres",
        setup.local_port
    );
    psql_args(&mut nobody, &conninfo, "select current_user");
    let refused = nobody.output().unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains(REFUSED_UID),
        "{}",
        text(&refused)
    );
    let log = proxy.wait_for_log(REFUSED_UID);
    assert!(log.contains("unix (uid 65534)"), "{log}");
    let mut owner = Command::new(pg.psql());
    owner
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    psql_args(&mut owner, &conninfo, "select current_user");
    let owner = owner.output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&owner.stdout).trim(),
        "jane",
        "{}",
        text(&owner)
    );
    drop(proxy);
}

#[test]
fn a_socket_folder_owned_by_another_user_is_refused() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    if as_nobody(pg.psql()).is_none() {
        return;
    }
    let setup = pg_setup(&pg, &ca.ca_pem());
    let dir = reachable_socket_folder();
    std::fs::create_dir(dir.path()).unwrap();
    open_up(dir.path(), 0o700);
    std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).unwrap();
    let dir_text = dir.path().display().to_string();
    setup
        .home
        .run(&["proxy", "db", "--unix-socket", &dir_text])
        .code(1)
        .stderr_has("is not a folder of yours (owner uid 65534)");
}

#[test]
fn the_local_password_lets_in_other_users_and_works_with_the_uid_check_off() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    if as_nobody(pg.psql()).is_none() {
        return;
    }
    let setup = pg_setup(&pg, &ca.ca_pem());
    let file = setup.home.path().join("proxy-password");
    let file_text = file.display().to_string();
    let nobody_psql = |password: Option<&str>| {
        let mut cmd = as_nobody(pg.psql()).unwrap();
        if let Some(password) = password {
            cmd.env("PGPASSWORD", password);
        }
        psql_args(
            &mut cmd,
            &tcp_conninfo(setup.local_port),
            "select current_user",
        );
        cmd.output().unwrap()
    };

    // The uid check on, and a password for those it does not let in.
    let proxy = Proxy::start(&setup, &["--local-password-file", &file_text]);
    assert!(
        proxy.log().contains("wrote a new local password"),
        "{}",
        proxy.log()
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let password = std::fs::read_to_string(&file).unwrap().trim().to_string();
    assert!(password.len() >= 32, "{password:?}");
    setup.home.forbid(&password);
    let shared = nobody_psql(Some(&password));
    assert_eq!(
        String::from_utf8_lossy(&shared.stdout).trim(),
        "jane",
        "{}",
        text(&shared)
    );
    let wrong = nobody_psql(Some("not-the-password"));
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("password authentication failed"),
        "{}",
        text(&wrong)
    );
    assert_eq!(psql_ok(&pg, setup.local_port, "select 1"), "1");
    assert!(!proxy.log().contains(&password));
    drop(proxy);

    // The uid check off: everyone, the owner too, gives the password (the same file, read).
    let proxy = Proxy::start(
        &setup,
        &[
            "--local-password-file",
            &file_text,
            "--allow-any-local-user",
        ],
    );
    assert!(
        proxy.log().contains("the uid check is off"),
        "{}",
        proxy.log()
    );
    let shared = nobody_psql(Some(&password));
    assert_eq!(
        String::from_utf8_lossy(&shared.stdout).trim(),
        "jane",
        "{}",
        text(&shared)
    );
    let owner_without = psql(&pg, setup.local_port, "jane", "select 1");
    assert!(
        String::from_utf8_lossy(&owner_without.stderr).contains("no password supplied"),
        "{}",
        text(&owner_without)
    );
    drop(proxy);

    // A password file others can read is refused.
    open_up(&file, 0o644);
    setup
        .home
        .run(&["proxy", "db", "--local-password-file", &file_text])
        .code(1)
        .stderr_has("must be yours and readable only by you");
}

#[test]
fn mariadb_local_password_with_the_uid_check_off() {
    let ca = TestCa::new();
    let Some(db) = Mariadb::start(&ca) else {
        return;
    };
    if as_nobody(db.client()).is_none() {
        return;
    }
    let setup = maria_setup(&db, &ca.ca_pem());
    let file = setup.home.path().join("proxy-password");
    let file_text = file.display().to_string();
    let proxy = Proxy::start(
        &setup,
        &[
            "--local-password-file",
            &file_text,
            "--allow-any-local-user",
        ],
    );
    let password = std::fs::read_to_string(&file).unwrap().trim().to_string();
    let nobody = |extra: &[&str]| {
        let mut cmd = as_nobody(db.client()).unwrap();
        maria_args(&mut cmd, setup.local_port, extra);
        cmd.output().unwrap()
    };
    let with = format!("--password={password}");
    let shared = nobody(&[&with, "-N", "-e", "select current_user()"]);
    assert!(
        String::from_utf8_lossy(&shared.stdout)
            .trim()
            .starts_with("jane@"),
        "{}",
        text(&shared)
    );
    let without = nobody(&["-e", "select 1"]);
    assert!(
        String::from_utf8_lossy(&without.stderr).contains("asks for its local password"),
        "{}",
        text(&without)
    );
    drop(proxy);
}

#[test]
fn other_machines_need_a_local_password_or_the_open_flag() {
    let home = Home::new();
    home.config("[connections.db]\nhost = \"localhost\"\nuser = \"jane\"\nlocal_port = 15999\n");
    home.run(&[
        "proxy",
        "db",
        "--listen",
        "0.0.0.0:15999",
        "--allow-non-loopback",
    ])
    .code(2)
    .stderr_has("--allow-non-loopback needs a way to tell who connects")
    .stderr_has("--local-password-file")
    .stderr_has("--allow-unauthenticated");
    home.run(&["proxy", "db", "--allow-unauthenticated"])
        .code(2)
        .stderr_has("--allow-non-loopback");
}

// ---- Defects found by an independent run, each through the binary ----

#[test]
fn mariadb_compression_is_negotiated_end_to_end() {
    let ca = TestCa::new();
    let Some(db) = Mariadb::start(&ca) else {
        return;
    };
    let setup = maria_setup(&db, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    // The client asks for compression; the server's own session status says it is on, and a
    // result far larger than a packet crosses compressed.
    let output = maria_client(
        db.client(),
        setup.local_port,
        "jane",
        &[
            "--compress",
            "-N",
            "-e",
            "show session status like 'Compression'; select length(repeat('x', 3000000))",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "Compression\tON\n3000000",
        "{}",
        text(&output)
    );
    // Without --compress, nothing changes.
    let plain = maria_client(
        db.client(),
        setup.local_port,
        "jane",
        &["-N", "-e", "show session status like 'Compression'"],
    );
    assert_eq!(
        String::from_utf8_lossy(&plain.stdout).trim(),
        "Compression\tOFF"
    );
    drop(proxy);
}

#[test]
fn a_cancel_request_at_max_connections_is_still_served() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &["--max-connections", "1"]);
    // The one slot is held by a psql running pg_sleep; its Ctrl-C is one more connection.
    let (child, started) = sleeping_psql(&pg, setup.local_port);
    // SAFETY: kill has no memory effects; the pid is our own child's.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let output = child.wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("canceling statement due to user request"),
        "{}\nproxy log:\n{}",
        text(&output),
        proxy.log()
    );
    assert!(started.elapsed() < Duration::from_secs(15), "not cancelled");
    let log = proxy.wait_for_log("cancel ");
    assert!(!log.contains("too many connections"), "{log}");
}

/// A PostgreSQL stand-in that takes the SSLRequest and TLS with the test certificate, reads
/// the startup message, then stalls (or closes without a TLS close_notify).
fn stalling_server(ca: &TestCa, close: bool) -> u16 {
    use std::io::{Read, Write};
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer> = CertificateDer::pem_file_iter(ca.cert_pem())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(ca.key_pem()).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = std::sync::Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        let mut request = [0u8; 8];
        tcp.read_exact(&mut request).unwrap();
        tcp.write_all(b"S").unwrap();
        let connection = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::StreamOwned::new(connection, tcp);
        let mut startup = [0u8; 64];
        let _ = tls.read(&mut startup);
        if close {
            let _ = tls.sock.shutdown(std::net::Shutdown::Both);
            return;
        }
        std::thread::sleep(Duration::from_secs(40));
    });
    port
}

#[test]
fn a_server_that_stalls_after_tls_is_given_up_on_after_15_s() {
    if common::require_program("psql", "apt-get install postgresql-client").is_none() {
        return;
    }
    let ca = TestCa::new();
    let setup = setup("postgres", stalling_server(&ca, false), &ca.ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    let started = Instant::now();
    let output = Command::new("psql")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args(["-X", "-w", "-d"])
        .arg(format!(
            "host=127.0.0.1 port={} user=jane dbname=postgres sslmode=disable",
            setup.local_port
        ))
        .args(["-c", "select 1"])
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("did not finish the login within 15 s"),
        "{}",
        text(&output)
    );
    assert!(
        took >= Duration::from_secs(14) && took < Duration::from_secs(25),
        "{took:?}"
    );
    drop(proxy);
}

#[test]
fn a_server_closing_without_close_notify_gets_no_documentation_link() {
    if common::require_program("psql", "apt-get install postgresql-client").is_none() {
        return;
    }
    let ca = TestCa::new();
    let setup = setup("postgres", stalling_server(&ca, true), &ca.ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    let output = Command::new("psql")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args(["-X", "-w", "-d"])
        .arg(format!(
            "host=127.0.0.1 port={} user=jane dbname=postgres sslmode=disable connect_timeout=10",
            setup.local_port
        ))
        .args(["-c", "select 1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the server closed the connection: the connection ended early"),
        "{}",
        text(&output)
    );
    let log = proxy.wait_for_log("the connection ended early");
    assert!(
        !stderr.contains("http") && !log.contains("docs.rs"),
        "{}\n{log}",
        text(&output)
    );
}

#[test]
fn direct_tls_to_a_server_before_17_says_it_may_not_support_it() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let version = pg.admin_psql("show server_version_num");
    if version.trim().parse::<u32>().unwrap() >= 170000 {
        eprintln!("SKIPPED: the test server is PostgreSQL 17 or later, which takes direct TLS");
        return;
    }
    let proxy = Proxy::start(&setup, &["--sslnegotiation", "direct"]);
    let output = psql(&pg, setup.local_port, "jane", "select 1");
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("the server may not support direct TLS (--sslnegotiation direct needs PostgreSQL 17 or later)"),
        "{}",
        text(&output)
    );
    drop(proxy);
}

#[test]
fn a_user_name_with_a_newline_cannot_forge_a_log_line() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    let forged = "rdsiam-helper proxy: db: 127.0.0.1:1 -> x user=jane 0.001s: closed";
    let output = psql(
        &pg,
        setup.local_port,
        &format!("'jane\n{forged}'"),
        "select 1",
    );
    assert!(!output.status.success(), "{}", text(&output));
    let log = proxy.wait_for_log("\\nrdsiam-helper proxy: db: 127.0.0.1:1");
    assert!(
        !log.lines().any(|line| line.starts_with(forged)),
        "a forged line:\n{log}"
    );
}

#[test]
fn startup_parameters_that_are_not_utf8_pass_byte_for_byte() {
    use std::os::unix::ffi::OsStrExt;
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    let output = psql_command(
        &pg,
        setup.local_port,
        "jane",
        "select encode(current_setting('rdsiam.tag')::bytea, 'hex')",
    )
    .env(
        "PGOPTIONS",
        std::ffi::OsStr::from_bytes(b"-c rdsiam.tag=caf\xe9"),
    )
    .output()
    .unwrap();
    // c a f, then the single byte 0xe9 (lossy UTF-8 would make it ef bf bd).
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "636166e9",
        "{}",
        text(&output)
    );
    drop(proxy);
}

#[test]
fn sessions_cut_at_shutdown_get_their_log_line() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let mut proxy = Proxy::start(&setup, &["--max-sigterm-delay", "1s"]);
    let rt = runtime();
    let (client, _task) = rt.block_on(rust_session(setup.local_port)).unwrap();
    rt.block_on(client.simple_query("select 1")).unwrap();
    proxy.signal(libc::SIGTERM);
    let status = proxy
        .wait(Duration::from_secs(10))
        .expect("the proxy exits");
    assert!(status.success(), "{status}");
    let log = proxy.log();
    let line = log
        .lines()
        .find(|l| l.contains("user=jane"))
        .unwrap_or_else(|| panic!("no line for the open session:\n{log}"));
    assert!(line.contains("cut at shutdown"), "{line}");
    assert!(
        !line.contains("client->server 0 B"),
        "bytes are counted: {line}"
    );
    drop(client);
}

/// The MySQL proxy's greeting, read off a raw TCP connection.
fn read_mysql_packet(stream: &mut std::net::TcpStream) -> Vec<u8> {
    use std::io::Read;
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).unwrap();
    let length = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
    let mut payload = vec![0; length];
    stream.read_exact(&mut payload).unwrap();
    payload
}

#[test]
fn an_unreadable_mysql_handshake_response_gets_an_err_packet() {
    use std::io::Write;
    let ca = TestCa::new();
    let Some(db) = Mariadb::start(&ca) else {
        return;
    };
    let setup = maria_setup(&db, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", setup.local_port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let greeting = read_mysql_packet(&mut stream);
    assert_eq!(greeting[0], 10, "protocol 10 greeting");
    // A packet of five bytes at sequence 1: no capabilities, no user, nothing MySQL.
    stream.write_all(&[5, 0, 0, 1, 1, 2, 3, 4, 5]).unwrap();
    let answer = read_mysql_packet(&mut stream);
    assert_eq!(answer[0], 0xFF, "an ERR packet: {answer:?}");
    assert_eq!(u16::from_le_bytes([answer[1], answer[2]]), 1043);
    assert!(
        String::from_utf8_lossy(&answer).contains("handshake response cannot be read"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    drop(proxy);
}

#[test]
fn silent_mysql_clients_hold_a_bounded_number_of_server_connections_briefly() {
    let ca = TestCa::new();
    let Some(db) = Mariadb::start(&ca) else {
        return;
    };
    let setup = maria_setup(&db, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    let threads = |db: &Mariadb| -> usize {
        db.admin_sql("select count(*) from information_schema.processlist")
            .trim()
            .parse()
            .unwrap()
    };
    let before = threads(&db);
    let started = Instant::now();
    let silent: Vec<std::net::TcpStream> = (0..40)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", setup.local_port)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let during = threads(&db) - before;
    assert!(
        during <= 16,
        "{during} server connections for 40 silent clients"
    );
    // Each is let go after 10 s in its handshake.
    let mut first = silent.into_iter().next().unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut rest = Vec::new();
    use std::io::Read;
    let _ = first.read_to_end(&mut rest);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(15),
        "{took:?}"
    );
    proxy.wait_for_log("the client sent no handshake response");
}

// ---- Metrics ----

/// The value of the series named exactly `series` (name and labels) in a scrape.
fn metric(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{scrape}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn metrics_count_real_sessions_failures_bytes_and_latencies() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let health = free_port();
    let proxy = Proxy::start(&setup, &["--health-check", &format!("127.0.0.1:{health}")]);
    let (status, before) = http(health, "GET", "/metrics");
    assert_eq!(status, 200, "{before}");
    let open = "rdsiam_helper_proxy_open_connections{connection=\"db\"}";
    assert_eq!(metric(&before, open), 0.0);
    for _ in 0..3 {
        assert_eq!(psql_ok(&pg, setup.local_port, "select 1"), "1");
    }
    let wrong = psql(&pg, setup.local_port, "mallory", "select 1");
    assert!(!wrong.status.success());
    // One session held open while scraping.
    let rt = runtime();
    let (client, task) = rt.block_on(rust_session(setup.local_port)).unwrap();
    rt.block_on(client.simple_query("select 1")).unwrap();
    let (_, during) = http(health, "GET", "/metrics");
    assert_eq!(metric(&during, open), 1.0, "{during}");
    drop(client);
    rt.block_on(task).unwrap();
    proxy.wait_for_log("user=jane");
    wait_until(|| metric(&http(health, "GET", "/metrics").1, open) == 0.0);
    let (_, after) = http(health, "GET", "/metrics");
    let by = |name: &str| {
        metric(
            &after,
            &format!("rdsiam_helper_proxy_{name}{{connection=\"db\"}}"),
        )
    };
    assert_eq!(by("connections_total"), 5.0, "{after}");
    assert_eq!(
        metric(
            &after,
            "rdsiam_helper_proxy_connection_failures_total{connection=\"db\",reason=\"refused_user\"}"
        ),
        1.0
    );
    // After the login each of the four sessions sent Query "select 1" (14 bytes) and
    // Terminate (5 bytes).
    assert_eq!(by("client_received_bytes_total"), 4.0 * 19.0, "{after}");
    assert!(
        by("client_sent_bytes_total") > by("client_received_bytes_total"),
        "{after}"
    );
    // A token for every session that got that far; a server connection for psql's first
    // session, kept for its next two, and one for tokio-postgres (other startup parameters).
    assert_eq!(by("token_issue_seconds_count"), 5.0, "{after}");
    assert_eq!(by("upstream_connect_seconds_count"), 2.0, "{after}");
    assert_eq!(by("server_connections_reused_total"), 2.0, "{after}");
    assert!(by("upstream_connect_seconds_sum") > 0.0);
    assert!(
        !after.contains("jane") && !after.contains("mallory"),
        "{after}"
    );
    drop(proxy);
}

// ---- Server connections kept between clients ----

/// psql through the proxy, each statement its own -c, quiet; the output's lines.
fn psql_each(pg: &Postgres, port: u16, conninfo: &str, statements: &[&str]) -> Vec<String> {
    let mut cmd = Command::new(pg.psql());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .args(["-X", "-q", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1", "-d"])
        .arg(format!(
            "host=127.0.0.1 port={port} user=jane sslmode=disable connect_timeout=10 {conninfo}"
        ))
        .stdin(Stdio::null());
    for statement in statements {
        cmd.args(["-c", statement]);
    }
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "{}\nserver log:\n{}",
        text(&output),
        pg.log()
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn backend_pid(pg: &Postgres, port: u16, conninfo: &str) -> String {
    psql_each(pg, port, conninfo, &["select pg_backend_pid()"])[0].clone()
}

/// Whether the server still runs this backend.
fn backend_alive(pg: &Postgres, pid: &str) -> bool {
    pg.admin_psql(&format!(
        "select count(*) from pg_stat_activity where pid = {pid}"
    )) == "1"
}

#[test]
fn postgres_server_connections_are_kept_for_the_next_client_and_reset() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let health = free_port();
    let proxy = Proxy::start(&setup, &["--health-check", &format!("127.0.0.1:{health}")]);
    let port = setup.local_port;
    let first = psql_each(
        &pg,
        port,
        "dbname=postgres",
        &[
            "set work_mem = '77MB'",
            "create temp table scratch (x int)",
            "prepare kept as select 1",
            "listen somewhere",
            "select pg_advisory_lock(42)",
            "select pg_backend_pid()",
        ],
    );
    let pid = first.last().unwrap().clone();
    proxy.wait_for_log("user=jane");
    let second = psql_each(
        &pg,
        port,
        "dbname=postgres",
        &[
            "select pg_backend_pid()",
            "show work_mem",
            "select count(*) from pg_prepared_statements",
            "select to_regclass('pg_temp.scratch') is null",
            "select count(*) from pg_listening_channels()",
            "select count(*) from pg_locks where locktype = 'advisory'",
        ],
    );
    assert_eq!(
        second,
        [pid.as_str(), "4MB", "0", "t", "0", "0"],
        "{}",
        proxy.log()
    );
    let log = proxy.wait_for_log("reused ");
    let scrape = http(health, "GET", "/metrics").1;
    let by = |name: &str| {
        metric(
            &scrape,
            &format!("rdsiam_helper_proxy_{name}{{connection=\"db\"}}"),
        )
    };
    assert_eq!(by("server_connections_reused_total"), 1.0, "{scrape}");
    assert_eq!(by("upstream_connect_seconds_count"), 1.0, "{scrape}");
    // The same startup packet from another client program: tokio-postgres sends other
    // parameters than psql, so it gets a connection of its own.
    let rt = runtime();
    let other: i32 = rt.block_on(async {
        let client = rust_client(port).await.unwrap();
        client
            .query_one("select pg_backend_pid()", &[])
            .await
            .unwrap()
            .get(0)
    });
    assert_ne!(other.to_string(), pid, "{log}");
    assert_ne!(backend_pid(&pg, port, "dbname=template1"), pid);
    assert_ne!(
        backend_pid(&pg, port, "dbname=postgres application_name=another"),
        pid
    );
    assert_eq!(backend_pid(&pg, port, "dbname=postgres"), pid);
}

/// A client that connects while the kept connection for its startup packet is still being
/// reset (its backend held here with SIGSTOP, so DISCARD ALL cannot be answered) is greeted at
/// once and served by that same backend the moment the reset ends; when the reset fails
/// instead (the backend terminated), it gets a FATAL error naming why, not a hang.
#[test]
fn postgres_a_client_arriving_during_the_reset_is_greeted_and_served_by_that_backend() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    let port = setup.local_port;
    let signal = |pid: i32, signal: i32| {
        // SAFETY: kill has no memory effects; the pid is a backend of the test's own server.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill {pid}");
    };
    let rt = runtime();
    rt.block_on(async {
        // Each phase has its own application_name, so no connection parked by another phase
        // matches its startup packet.
        let connect = |name: &'static str| async move {
            let conninfo = format!(
                "host=127.0.0.1 port={port} user=jane dbname=postgres sslmode=disable application_name={name}"
            );
            tokio_postgres::connect(&conninfo, tokio_postgres::NoTls).await
        };
        // A backend whose client has left, stopped before the proxy's DISCARD ALL reaches it.
        let held = |name: &'static str| async move {
            let (client, connection) = connect(name).await.unwrap();
            let task = tokio::spawn(connection);
            // A simple query's answer is read through its ReadyForQuery, so the backend is
            // idle when it stops (query_one may return before ReadyForQuery arrives).
            let answer = client.simple_query("select pg_backend_pid()").await.unwrap();
            let pid: i32 = answer
                .iter()
                .find_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0),
                    _ => None,
                })
                .unwrap()
                .parse()
                .unwrap();
            signal(pid, libc::SIGSTOP);
            drop(client);
            task.await.unwrap().unwrap();
            // The proxy reads the Terminate and writes DISCARD ALL to the stopped backend.
            tokio::time::sleep(Duration::from_millis(300)).await;
            pid
        };
        let pid = held("claimed").await;
        let greeted = tokio::time::timeout(Duration::from_secs(5), connect("claimed")).await;
        let (second, connection) = greeted.expect("the greeting waited for the reset").unwrap();
        tokio::spawn(connection);
        let query = tokio::spawn(async move {
            let pid: i32 = second
                .query_one("select pg_backend_pid()", &[])
                .await
                .unwrap()
                .get(0);
            pid
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !query.is_finished(),
            "a query ran on a stopped backend\n{}",
            proxy.log()
        );
        signal(pid, libc::SIGCONT);
        let served = tokio::time::timeout(Duration::from_secs(10), query)
            .await
            .expect("the query waited past the reset")
            .unwrap();
        assert_eq!(served, pid, "{}", proxy.log());

        // The reset fails: the stopped backend is terminated (SIGTERM acts once it runs on).
        let pid = held("failed").await;
        let (client, connection) =
            tokio::time::timeout(Duration::from_secs(5), connect("failed"))
                .await
                .expect("the greeting waited for the reset")
                .unwrap();
        signal(pid, libc::SIGTERM);
        signal(pid, libc::SIGCONT);
        let ended = tokio::time::timeout(Duration::from_secs(10), connection)
            .await
            .unwrap_or_else(|_| panic!("the client was left hanging\n{}", proxy.log()));
        let error = ended.expect_err("the session went on after a failed reset");
        assert!(
            format!("{error:?}").contains("failed its reset"),
            "{error:?}\n{}",
            proxy.log()
        );
        drop(client);
    });
    // The proxy serves on, with a new backend in place of the one that ended.
    assert!(
        psql_each(&pg, port, "dbname=postgres", &["select 1"]) == ["1"],
        "{}",
        proxy.log()
    );
}

#[test]
fn postgres_a_connection_left_in_a_transaction_or_mid_copy_is_closed_not_kept() {
    use std::io::{Read, Write};
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    let port = setup.local_port;
    let in_transaction = psql_each(
        &pg,
        port,
        "dbname=postgres",
        &["begin", "select pg_backend_pid()"],
    );
    let pid = in_transaction.last().unwrap().clone();
    wait_until(|| !backend_alive(&pg, &pid));
    assert_ne!(backend_pid(&pg, port, "dbname=postgres"), pid);

    // A client of its own that leaves in the middle of COPY FROM STDIN.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut body = 196608i32.to_be_bytes().to_vec();
    body.extend(b"user\0jane\0database\0postgres\0\0");
    let mut startup = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    startup.extend(body);
    stream.write_all(&startup).unwrap();
    let read_message = |stream: &mut std::net::TcpStream| {
        let mut header = [0u8; 5];
        stream.read_exact(&mut header).unwrap();
        let length = i32::from_be_bytes(header[1..5].try_into().unwrap()) as usize;
        let mut body = vec![0; length - 4];
        stream.read_exact(&mut body).unwrap();
        (header[0], body)
    };
    let mut copy_pid = 0;
    loop {
        let (kind, body) = read_message(&mut stream);
        if kind == b'K' {
            copy_pid = i32::from_be_bytes(body[..4].try_into().unwrap());
        }
        if kind == b'Z' {
            break;
        }
    }
    let query = |sql: &str| {
        let mut m = vec![b'Q'];
        m.extend(((sql.len() + 5) as i32).to_be_bytes());
        m.extend(sql.as_bytes());
        m.push(0);
        m
    };
    stream
        .write_all(&query("create temp table t (x int)"))
        .unwrap();
    while read_message(&mut stream).0 != b'Z' {}
    stream.write_all(&query("copy t from stdin")).unwrap();
    assert_eq!(read_message(&mut stream).0, b'G');
    stream.write_all(&[b'X', 0, 0, 0, 4]).unwrap();
    drop(stream);
    let copy_pid = copy_pid.to_string();
    wait_until(|| !backend_alive(&pg, &copy_pid));
    assert!(!proxy.log().contains("reused "), "{}", proxy.log());
}

#[test]
fn postgres_no_server_reuse_opens_a_connection_per_client() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &["--no-server-reuse"]);
    let first = backend_pid(&pg, setup.local_port, "dbname=postgres");
    let second = backend_pid(&pg, setup.local_port, "dbname=postgres");
    assert_ne!(first, second);
    assert!(!proxy.log().contains("reused "), "{}", proxy.log());
}

#[test]
fn postgres_kept_connections_close_after_the_idle_timeout_or_when_the_server_ends_them() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let health = free_port();
    let proxy = Proxy::start(
        &setup,
        &[
            "--server-idle-timeout",
            "1s",
            "--health-check",
            &format!("127.0.0.1:{health}"),
        ],
    );
    let parked = "rdsiam_helper_proxy_server_connections_parked{connection=\"db\"}";
    let pid = backend_pid(&pg, setup.local_port, "dbname=postgres");
    wait_until(|| metric(&http(health, "GET", "/metrics").1, parked) == 1.0);
    let started = Instant::now();
    wait_until(|| !backend_alive(&pg, &pid));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(metric(&http(health, "GET", "/metrics").1, parked), 0.0);
    drop(proxy);

    // A backend ended by the server while parked is not handed out.
    let proxy = Proxy::start(&setup, &[]);
    let pid = backend_pid(&pg, setup.local_port, "dbname=postgres");
    pg.admin_psql(&format!("select pg_terminate_backend({pid})"));
    wait_until(|| !backend_alive(&pg, &pid));
    assert_ne!(backend_pid(&pg, setup.local_port, "dbname=postgres"), pid);
    assert!(!proxy.log().contains("reused "), "{}", proxy.log());
}

#[test]
fn postgres_a_query_on_a_kept_connection_is_cancelled_from_psql() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let proxy = Proxy::start(&setup, &[]);
    let pid = backend_pid(&pg, setup.local_port, "dbname=postgres");
    proxy.wait_for_log("user=jane");
    let (child, started) = sleeping_psql(&pg, setup.local_port);
    assert_eq!(
        pg.admin_psql("select pid from pg_stat_activity where query = 'select pg_sleep(30)'"),
        pid
    );
    // SAFETY: kill has no memory effects; the pid is our own child's.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let output = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(15), "not cancelled");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("canceling statement due to user request"),
        "{}\nproxy log:\n{}",
        text(&output),
        proxy.log()
    );
    proxy.wait_for_log("cancel ");
    proxy.wait_for_log("reused ");
}

#[test]
fn postgres_a_connection_per_query_stays_within_a_small_servers_slots() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let health = free_port();
    let proxy = Proxy::start(&setup, &["--health-check", &format!("127.0.0.1:{health}")]);
    let pgbench =
        common::require_program("pgbench", "apt-get install postgresql-client").expect("pgbench");
    let direct = format!(
        "host=localhost hostaddr=127.0.0.1 port={} user=jane dbname=postgres sslmode=verify-full sslrootcert={}",
        pg.port(),
        ca.ca_pem().display()
    );
    let init = Command::new(&pgbench)
        .env("PGPASSWORD", &setup.token)
        .args(["-i", "-q", "-s", "1", "-d", &direct])
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", text(&init));
    // The test server has 20 slots; 4 clients that each connect per query, for 3 s.
    let output = Command::new(&pgbench)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args(["-S", "-n", "-C", "-c", "4", "-j", "2", "-T", "3", "-d"])
        .arg(format!(
            "host=127.0.0.1 port={} user=jane dbname=postgres sslmode=disable",
            setup.local_port
        ))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        text(&output),
        proxy.log()
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let transactions = number_after(&stdout, "number of transactions actually processed: ");
    let scrape = http(health, "GET", "/metrics").1;
    let reused = metric(
        &scrape,
        "rdsiam_helper_proxy_server_connections_reused_total{connection=\"db\"}",
    );
    let opened = metric(
        &scrape,
        "rdsiam_helper_proxy_upstream_connect_seconds_count{connection=\"db\"}",
    );
    assert!(
        opened <= 8.0,
        "{opened} server connections for 4 clients\n{scrape}"
    );
    assert!(reused + opened >= transactions, "{stdout}\n{scrape}");
    let held: usize = pg
        .admin_psql("select count(*) from pg_stat_activity where usename = 'jane'")
        .parse()
        .unwrap();
    assert!(held <= 8, "{held} backends held");
}

// ---- setup --via-proxy with the proxy's local password ----

/// The connection names the proxy's local password file; returns its path.
fn with_local_password_file(setup: &Proxied) -> PathBuf {
    let file = setup.home.path().join("proxy-password");
    let config = setup.home.config_path();
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!("local_password_file = \"{}\"\n", file.display()));
    std::fs::write(&config, text).unwrap();
    file
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn setup_pgpass_via_proxy_writes_the_local_password_that_psql_logs_in_with() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let setup = pg_setup(&pg, &ca.ca_pem());
    let password_file = with_local_password_file(&setup);
    let pgpass = setup.home.path().join("pgpass");
    std::fs::write(&pgpass, "otherhost:5432:*:bob:secret\n").unwrap();
    std::fs::set_permissions(&pgpass, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let pgpass_text = pgpass.display().to_string();
    let write = [
        "setup",
        "pgpass",
        "db",
        "--via-proxy",
        "--write",
        &pgpass_text,
    ];
    let run = setup.home.run(&write);
    run.ok();
    let password = std::fs::read_to_string(&password_file).unwrap();
    let password = password.trim();
    assert!(!run.stdout.contains(password) && !run.stderr.contains(password));
    let written = std::fs::read_to_string(&pgpass).unwrap();
    assert!(
        written.contains(&format!(
            "127.0.0.1:{}:*:jane:{password}\n",
            setup.local_port
        )),
        "{written}"
    );
    assert!(
        written.contains("otherhost:5432:*:bob:secret\n"),
        "{written}"
    );
    assert_eq!(mode(&pgpass), 0o600);
    setup.home.run(&write).ok().stderr_has("already up to date");
    // `refresh --all` has no token line to rewrite there: the proxy's line stays as it is.
    setup
        .home
        .run(&["refresh", "--all", "--pgpass", &pgpass_text])
        .ok();
    assert_eq!(std::fs::read_to_string(&pgpass).unwrap(), written);

    // The uid check off: every client must give the local password (the config's file).
    let proxy = Proxy::start(&setup, &["--allow-any-local-user"]);
    let login = |pgpass: &Path| {
        psql_command(&pg, setup.local_port, "jane", "select current_user")
            .env("PGPASSFILE", pgpass)
            .output()
            .unwrap()
    };
    let output = login(&pgpass);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "jane",
        "{}\n{}",
        text(&output),
        proxy.log()
    );
    let without = login(Path::new("/nonexistent"));
    assert!(!without.status.success(), "{}", text(&without));
    assert!(!proxy.log().contains(password));
}

#[test]
fn setup_mysql_via_proxy_writes_the_local_password_that_mariadb_logs_in_with() {
    let ca = TestCa::new();
    let Some(db) = Mariadb::start(&ca) else {
        return;
    };
    let setup = maria_setup(&db, &ca.ca_pem());
    let password_file = with_local_password_file(&setup);
    let proxy = Proxy::start(&setup, &["--allow-any-local-user"]);
    let run = setup
        .home
        .run(&["setup", "mysql", "db", "--via-proxy", "--write"]);
    run.ok().stderr_has("local password");
    let password = std::fs::read_to_string(&password_file).unwrap();
    let password = password.trim();
    assert!(!run.stdout.contains(password) && !run.stderr.contains(password));
    let my_cnf = setup.home.path().join(".my.cnf");
    let written = std::fs::read_to_string(&my_cnf).unwrap();
    assert!(
        written.contains(&format!("password={password}")),
        "{written}"
    );
    assert_eq!(mode(&my_cnf), 0o600);
    setup
        .home
        .run(&["setup", "mysql", "db", "--via-proxy", "--write"])
        .ok()
        .stderr_has("already up to date");
    let output = Command::new(db.client())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", setup.home.path())
        .args([
            "--defaults-group-suffix=_db",
            "--batch",
            "--skip-column-names",
        ])
        .args(["-e", "select current_user()"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "jane@%",
        "{}\n{}",
        text(&output),
        proxy.log()
    );
    assert!(!proxy.log().contains(password));
}

#[test]
fn setup_mysql_via_proxy_quotes_a_local_password_that_option_files_would_cut() {
    let ca = TestCa::new();
    let Some(db) = Mariadb::start(&ca) else {
        return;
    };
    let setup = maria_setup(&db, &ca.ca_pem());
    let password_file = with_local_password_file(&setup);
    // A comment sign, quotes, a backslash and a space: each one cut or changed unquoted.
    let password = r#"pa ss#wo"rd'\x"#;
    std::fs::write(&password_file, format!("{password}\n")).unwrap();
    open_up(&password_file, 0o600);
    let proxy = Proxy::start(&setup, &["--allow-any-local-user"]);
    setup
        .home
        .run(&["setup", "mysql", "db", "--via-proxy", "--write"])
        .ok();
    let my_cnf = setup.home.path().join(".my.cnf");
    let written = std::fs::read_to_string(&my_cnf).unwrap();
    assert!(
        written.contains(r#"password="pa ss#wo\"rd'\\x""#),
        "{written}"
    );
    setup
        .home
        .run(&["setup", "mysql", "db", "--via-proxy", "--write"])
        .ok()
        .stderr_has("already up to date");
    assert_eq!(std::fs::read_to_string(&my_cnf).unwrap(), written);
    let output = Command::new(db.client())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", setup.home.path())
        .args([
            "--defaults-group-suffix=_db",
            "--batch",
            "--skip-column-names",
        ])
        .args(["-e", "select current_user()"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "jane@%",
        "{}\n{}",
        text(&output),
        proxy.log()
    );
}

#[test]
fn setup_gui_via_proxy_says_where_the_local_password_is_without_printing_it() {
    let home = Home::new();
    let file = home.path().join("proxy-password");
    home.config(format!(
        "[connections.db]\nhost = \"db.abc.us-east-1.rds.amazonaws.com\"\nuser = \"jane\"\n\
         local_port = 15432\nlocal_password_file = \"{}\"\n",
        file.display()
    ));
    for client in ["tableplus", "datagrip", "dbeaver", "pgadmin"] {
        let run = home.run(&["setup", client, "db", "--via-proxy"]);
        run.ok();
        let said = format!("{}{}", run.stdout, run.stderr);
        assert!(
            said.contains(&file.display().to_string()),
            "{client}: {said}"
        );
        if let Ok(password) = std::fs::read_to_string(&file) {
            assert!(!run.stdout.contains(password.trim()), "{client}");
        }
    }
}
