//! Private PostgreSQL and MariaDB servers for integration tests: each on 127.0.0.1 with a port of
//! its own, TLS from a test CA, and password logins only, so that a token used as a password has
//! to cross a real client, a real TLS session and a real server's authentication intact.

use super::config::Connection;
use super::require_program;
use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Long enough for a loaded 2-core CI machine running several servers at once; a healthy start
/// takes about a second.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Another process may take a port between our probe and the server's bind; that is retried.
const PORT_ATTEMPTS: usize = 3;

const PG_INSTALL: &str = "apt-get install postgresql";
const PG_CLIENT_INSTALL: &str = "apt-get install postgresql-client";
const MARIADB_INSTALL: &str = "apt-get install mariadb-server";
const MARIADB_CLIENT_INSTALL: &str = "apt-get install mariadb-client";

const CA_PREFIX: &str = "rdsiam-ca-";
const PG_PREFIX: &str = "rdsiam-pg-";
const MARIADB_PREFIX: &str = "rdsiam-mariadb-";
const OWNER_FILE: &str = "owner.pid";

/// The superuser that initdb creates; it logs in like everyone else, with a password over TLS.
pub const PG_SUPERUSER: &str = "postgres";

/// An Aurora DSQL endpoint's name, also in the server certificate: the local PostgreSQL stands
/// in for a DSQL cluster reached through a tunnel.
pub const DSQL_HOST: &str = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws";

/// A CA, a server certificate it signed for localhost, 127.0.0.1 and `DSQL_HOST`, and a second
/// CA that signed nothing here, for the tests where verification must fail.
pub struct TestCa {
    dir: TempDir,
}

impl TestCa {
    pub fn new() -> TestCa {
        remove_orphans(CA_PREFIX, |_| ());
        let dir = instance_dir(CA_PREFIX);

        let (ca, ca_key) = certificate_authority("rdsiam-helper test CA");
        let (other_ca, _) = certificate_authority("rdsiam-helper unrelated test CA");

        let mut params = rcgen::CertificateParams::new(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            DSQL_HOST.to_string(),
        ])
        .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca_key).unwrap();

        fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        fs::write(dir.path().join("other-ca.pem"), other_ca.pem()).unwrap();
        fs::write(dir.path().join("server.crt"), cert.pem()).unwrap();
        write_private(&dir.path().join("server.key"), &key.serialize_pem());
        TestCa { dir }
    }

    pub fn ca_pem(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn other_ca_pem(&self) -> PathBuf {
        self.dir.path().join("other-ca.pem")
    }

    pub fn cert_pem(&self) -> PathBuf {
        self.dir.path().join("server.crt")
    }

    pub fn key_pem(&self) -> PathBuf {
        self.dir.path().join("server.key")
    }
}

impl Default for TestCa {
    fn default() -> TestCa {
        TestCa::new()
    }
}

fn certificate_authority(
    name: &str,
) -> (rcgen::Certificate, rcgen::Issuer<'static, rcgen::KeyPair>) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    // Distinct subjects, so that verifying against the wrong CA fails on the chain, not on a
    // lookup that happens to find a same-named issuer.
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert, rcgen::Issuer::new(params, key))
}

/// A PostgreSQL server of its own: hostssl with passwords is the only way in, even for the
/// superuser, so nothing a test proves can have come in over trust or plain TCP.
pub struct Postgres {
    dir: TempDir,
    data: PathBuf,
    log: PathBuf,
    ca: PathBuf,
    port: u16,
    pg_ctl: PathBuf,
    psql: PathBuf,
    /// PostgreSQL refuses to run as root, so as root its programs run as `postgres`.
    runuser: Option<PathBuf>,
    admin_password: String,
}

impl Postgres {
    /// None (after saying what to install) when a program is missing, outside CI.
    pub fn start(ca: &TestCa) -> Option<Postgres> {
        let initdb = require_program("initdb", PG_INSTALL)?;
        let pg_ctl = require_program("pg_ctl", PG_INSTALL)?;
        // pg_ctl runs the `postgres` beside it; asked for here so that its absence reads plainly.
        require_program("postgres", PG_INSTALL)?;
        let psql = require_program("psql", PG_CLIENT_INSTALL)?;
        let as_root = is_root();
        let runuser = if as_root {
            Some(require_program("runuser", "apt-get install util-linux")?)
        } else {
            None
        };

        remove_orphans(PG_PREFIX, |dir| {
            let _ = pg_command(runuser.as_deref(), &pg_ctl, dir)
                .arg("stop")
                .arg("--pgdata")
                .arg(dir.join("run/data"))
                .args(["--mode=immediate", "--wait", "--silent"])
                .output();
        });
        let dir = instance_dir(PG_PREFIX);
        // Everything the server touches lives in `run`, owned by the user the server runs as.
        let run = dir.path().join("run");
        fs::create_dir(&run).unwrap();
        fs::set_permissions(&run, fs::Permissions::from_mode(0o700)).unwrap();
        let cert = run.join("server.crt");
        let key = run.join("server.key");
        let pwfile = run.join("pwfile");
        fs::copy(ca.cert_pem(), &cert).unwrap();
        write_private(&key, &fs::read_to_string(ca.key_pem()).unwrap());
        let admin_password = random_secret();
        write_private(&pwfile, &admin_password);
        fs::copy(ca.ca_pem(), dir.path().join("ca.pem")).unwrap();
        if as_root {
            // The server account must be able to reach its folder and must own its key (0600).
            fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
            let (uid, gid) = account_ids("postgres", PG_INSTALL);
            for path in [&run, &cert, &key, &pwfile] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
            }
        }

        let mut pg = Postgres {
            data: run.join("data"),
            log: run.join("server.log"),
            ca: dir.path().join("ca.pem"),
            dir,
            port: 0,
            pg_ctl,
            psql,
            runuser,
            admin_password,
        };

        let output = pg
            .server_command(&initdb)
            .arg("--pgdata")
            .arg(&pg.data)
            .args(["--username", PG_SUPERUSER, "--pwfile"])
            .arg(&pwfile)
            .args([
                "--encoding=UTF8",
                "--locale=C",
                "--auth=password",
                // A throwaway cluster: syncing it to disk only slows every test down.
                "--no-sync",
                "--no-instructions",
            ])
            .output()
            .unwrap();
        check(&output, "initdb");
        fs::remove_file(&pwfile).unwrap();

        // Rewriting the existing files keeps them owned by the server account.
        fs::write(
            pg.data.join("pg_hba.conf"),
            "hostssl all all 127.0.0.1/32 password\n",
        )
        .unwrap();
        let mut conf = fs::OpenOptions::new()
            .append(true)
            .open(pg.data.join("postgresql.conf"))
            .unwrap();
        write!(
            conf,
            "\n# rdsiam-helper test server\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = {}\n\
             ssl = on\n\
             ssl_cert_file = {}\n\
             ssl_key_file = {}\n\
             log_connections = on\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             max_connections = 20\n\
             shared_buffers = 16MB\n",
            conf_quote(&pg.data),
            conf_quote(&cert),
            conf_quote(&key),
        )
        .unwrap();
        drop(conf);

        for attempt in 1..=PORT_ATTEMPTS {
            pg.port = free_port();
            // pg_ctl appends: an earlier attempt's bind error must not decide this one's retry.
            // Truncated, not recreated, so that the file stays the server account's.
            let _ = fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&pg.log);
            let output = pg
                .server_command(&pg.pg_ctl)
                .arg("start")
                .arg("--pgdata")
                .arg(&pg.data)
                .arg("--log")
                .arg(&pg.log)
                .arg("--wait")
                .arg(format!("--timeout={}", STARTUP_TIMEOUT.as_secs()))
                .arg(format!("--options=-p {}", pg.port))
                .output()
                .unwrap();
            if output.status.success() {
                return Some(pg);
            }
            let log = fs::read_to_string(&pg.log).unwrap_or_default();
            if attempt < PORT_ATTEMPTS && log.contains("could not bind") {
                continue;
            }
            panic!(
                "PostgreSQL did not start on port {}\n{}\nserver log:\n{log}",
                pg.port,
                describe(&output),
            );
        }
        unreachable!()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The psql the harness found, for tests to connect with the same client.
    pub fn psql(&self) -> &Path {
        &self.psql
    }

    /// `CREATE ROLE` with LOGIN and this password, whatever characters either holds.
    pub fn create_role(&self, user: &str, password: &str) {
        self.admin_psql(&format!(
            "CREATE ROLE {} LOGIN PASSWORD {}",
            pg_ident(user),
            pg_literal(password)
        ));
    }

    pub fn set_password(&self, user: &str, password: &str) {
        self.admin_psql(&format!(
            "ALTER ROLE {} PASSWORD {}",
            pg_ident(user),
            pg_literal(password)
        ));
    }

    /// Runs SQL as the superuser over verified TLS; rows come back unaligned, `|`-separated,
    /// without headers. Panics with psql's output when the SQL fails.
    pub fn admin_psql(&self, sql: &str) -> String {
        let conninfo = format!(
            "host=localhost hostaddr=127.0.0.1 port={} dbname=postgres user={PG_SUPERUSER} \
             sslmode=verify-full sslrootcert='{}' connect_timeout=10",
            self.port,
            self.ca.display()
        );
        let output = Command::new(&self.psql)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("PGPASSWORD", &self.admin_password)
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(conninfo)
            // -c goes to the server as it is: psql interpolates no variables in it.
            .arg("-c")
            .arg(sql)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        if !output.status.success() {
            panic!(
                "psql as {PG_SUPERUSER} failed for {sql:?}\n{}\nserver log:\n{}",
                describe(&output),
                self.log()
            );
        }
        String::from_utf8_lossy(&output.stdout)
            .trim_end_matches('\n')
            .to_string()
    }

    /// The server's log so far, for a test's own failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn server_command(&self, program: &Path) -> Command {
        pg_command(self.runuser.as_deref(), program, self.dir.path())
    }
}

fn pg_command(runuser: Option<&Path>, program: &Path, cwd: &Path) -> Command {
    let mut cmd = match runuser {
        Some(runuser) => {
            let mut cmd = Command::new(runuser);
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        }
        None => Command::new(program),
    };
    // The caller's folder may be closed to the postgres account.
    cmd.current_dir(cwd).stdin(Stdio::null());
    cmd
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.port != 0 {
            let _ = self
                .server_command(&self.pg_ctl)
                .arg("stop")
                .arg("--pgdata")
                .arg(&self.data)
                .args(["--mode=immediate", "--wait", "--silent"])
                .output();
        }
    }
}

/// A MariaDB server of its own. The root account is reachable only through the server's private
/// unix socket; over TCP there are only the users a test creates.
///
/// The server is killed when the thread that started it ends, so keep it within one test rather
/// than sharing it from a static.
pub struct Mariadb {
    dir: TempDir,
    child: Option<Child>,
    port: u16,
    client: PathBuf,
    socket: PathBuf,
    log: PathBuf,
}

impl Mariadb {
    /// None (after saying what to install) when a program is missing, outside CI.
    pub fn start(ca: &TestCa) -> Option<Mariadb> {
        let mariadbd = require_program("mariadbd", MARIADB_INSTALL)?;
        let install_db = require_program("mariadb-install-db", MARIADB_INSTALL)?;
        // Older and other packagings name the client `mysql`.
        let client = match on_path("mariadb") {
            Some(client) => client,
            None => require_program("mysql", MARIADB_CLIENT_INSTALL)?,
        };
        let as_root = is_root();

        // Their servers died with their test processes (PR_SET_PDEATHSIG below).
        remove_orphans(MARIADB_PREFIX, |_| ());
        let dir = instance_dir(MARIADB_PREFIX);
        let path = |name: &str| dir.path().join(name);
        // Copies, so that the server does not depend on the TestCa outliving it.
        fs::copy(ca.ca_pem(), path("ca.pem")).unwrap();
        fs::copy(ca.cert_pem(), path("server.crt")).unwrap();
        write_private(
            &path("server.key"),
            &fs::read_to_string(ca.key_pem()).unwrap(),
        );
        // The installer also adds root@127.0.0.1, root@::1 and root@<hostname> without a
        // password; TCP must not let anyone in as root.
        fs::write(
            path("init.sql"),
            "DELETE FROM mysql.global_priv WHERE User = 'root' AND Host <> 'localhost';\n\
             DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost';\n",
        )
        .unwrap();

        // Small InnoDB files and no flushing: the install takes a fraction of the time.
        let innodb = [
            "--innodb-buffer-pool-size=16M",
            "--innodb-log-file-size=4M",
            "--innodb-doublewrite=0",
            "--innodb-flush-log-at-trx-commit=0",
        ];
        let mut install = Command::new(&install_db);
        // --no-defaults first: the machine's my.cnf must not move sockets, ports or the datadir.
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", path("data").display()))
            .args([
                // root without a password, reachable only over the private socket (init.sql):
                // this works for any OS user, where unix_socket auth would need a matching one.
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ])
            .arg(format!("--extra-file={}", path("init.sql").display()))
            // Concurrent bootstraps sharing /tmp collide on their temporary tables' names.
            .arg(format!("--tmpdir={}", dir.path().display()))
            .args(innodb)
            .current_dir(dir.path())
            .stdin(Stdio::null());
        if as_root {
            install.arg("--user=root");
        }
        check(&install.output().unwrap(), "mariadb-install-db");

        let mut db = Mariadb {
            child: None,
            port: 0,
            client,
            socket: path("mariadbd.sock"),
            log: path("mariadbd.log"),
            dir,
        };

        for attempt in 1..=PORT_ATTEMPTS {
            db.port = free_port();
            let _ = fs::remove_file(&db.log);
            let mut server = Command::new(&mariadbd);
            let path = |name: &str| db.dir.path().join(name);
            server
                .arg("--no-defaults")
                .arg(format!("--datadir={}", path("data").display()))
                .arg(format!("--socket={}", db.socket.display()))
                .arg(format!("--pid-file={}", path("mariadbd.pid").display()))
                .arg(format!("--log-error={}", db.log.display()))
                .arg(format!("--tmpdir={}", db.dir.path().display()))
                .arg("--bind-address=127.0.0.1")
                .arg(format!("--port={}", db.port))
                .arg("--skip-name-resolve")
                .arg(format!("--ssl-ca={}", path("ca.pem").display()))
                .arg(format!("--ssl-cert={}", path("server.crt").display()))
                .arg(format!("--ssl-key={}", path("server.key").display()))
                .arg("--max-connections=50")
                .args(innodb)
                .current_dir(db.dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if as_root {
                // mariadbd otherwise refuses root, and switching to `mysql` would need the
                // temp folder opened to that account.
                server.arg("--user=root");
            }
            // mariadbd ignores the SIGINT of a Ctrl-C, and a killed test runs no Drop: without
            // this, every interrupted run would leave servers behind.
            // SAFETY: prctl is async-signal-safe and touches only the child's own state.
            unsafe {
                server.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            db.child = Some(server.spawn().unwrap());
            match db.wait_until_ready() {
                Ok(()) => break,
                Err(why) => {
                    if let Some(mut child) = db.child.take() {
                        let _ = child.kill();
                        let _ = child.wait();
                    }
                    let log = fs::read_to_string(&db.log).unwrap_or_default();
                    if attempt < PORT_ATTEMPTS && log.contains("Address already in use") {
                        continue;
                    }
                    panic!(
                        "MariaDB did not start on port {}: {why}\nserver log:\n{log}",
                        db.port
                    );
                }
            }
        }

        // A certificate the server could not load leaves it running without TLS, which would
        // make every TLS test below fail for the wrong reason.
        let have_ssl = db.admin_sql("SELECT @@have_ssl");
        assert_eq!(
            have_ssl,
            "YES",
            "MariaDB started without TLS\nserver log:\n{}",
            db.log()
        );
        Some(db)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The mariadb (or mysql) client the harness found.
    pub fn client(&self) -> &Path {
        &self.client
    }

    /// `'user'@'%'` with this password, allowed in only over TLS.
    pub fn create_user(&self, user: &str, password: &str) {
        self.admin_sql(&format!(
            "CREATE USER {}@'%' IDENTIFIED BY {} REQUIRE SSL",
            my_literal(user),
            my_literal(password)
        ));
    }

    pub fn set_password(&self, user: &str, password: &str) {
        self.admin_sql(&format!(
            "ALTER USER {}@'%' IDENTIFIED BY {}",
            my_literal(user),
            my_literal(password)
        ));
    }

    /// Runs SQL as root over the private socket; rows come back tab-separated without headers.
    /// Panics with the client's output when the SQL fails.
    pub fn admin_sql(&self, sql: &str) -> String {
        let output = self.admin_command(sql).output().unwrap();
        if !output.status.success() {
            panic!(
                "MariaDB root SQL failed for {sql:?}\n{}\nserver log:\n{}",
                describe(&output),
                self.log()
            );
        }
        String::from_utf8_lossy(&output.stdout)
            .trim_end_matches('\n')
            .to_string()
    }

    /// The server's error log so far, for a test's own failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn admin_command(&self, sql: &str) -> Command {
        let mut cmd = Command::new(&self.client);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket.display()))
            .args([
                "--protocol=SOCKET",
                "--user=root",
                "--batch",
                "--skip-column-names",
                "--connect-timeout=10",
            ])
            .arg(format!("--execute={sql}"))
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        cmd
    }

    fn wait_until_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let child = self.child.as_mut().unwrap();
            if let Some(status) = child.try_wait().unwrap() {
                return Err(format!("mariadbd exited with {status}"));
            }
            // The socket appears before the server accepts logins, hence the query.
            if self.socket.exists()
                && self
                    .admin_command("SELECT 1")
                    .output()
                    .is_ok_and(|o| o.status.success())
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("not ready after {STARTUP_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Mariadb {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A killed or interrupted test run gets no Drop: its folders stay, and the PostgreSQL server,
/// which pg_ctl detaches from the test process, runs on for good. Each start therefore clears
/// away the instances of this kind whose test process is gone, found through the owner file that
/// every instance writes first; `stop` ends such an instance's server, if any.
fn remove_orphans(prefix: &str, stop: impl Fn(&Path)) {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for dir in entries.flatten().map(|entry| entry.path()) {
        let is_ours = dir
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with(prefix));
        if !is_ours {
            continue;
        }
        // No owner file: another process is still creating that instance.
        let Some(owner) = fs::read_to_string(dir.join(OWNER_FILE))
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new("/proc").join(owner.to_string()).exists() {
            continue;
        }
        stop(&dir);
        // The owner file goes last, so that a removal cut short is tried again next time.
        let mut complete = true;
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.file_name() != OWNER_FILE {
                let path = entry.path();
                complete &= fs::remove_dir_all(&path)
                    .or_else(|_| fs::remove_file(&path))
                    .is_ok();
            }
        }
        if complete {
            let _ = fs::remove_dir_all(&dir);
        }
    }
}

/// A temp folder for one instance, marked with this process as its owner for remove_orphans.
fn instance_dir(prefix: &str) -> TempDir {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    fs::write(dir.path().join(OWNER_FILE), std::process::id().to_string()).unwrap();
    dir
}

/// A port that nothing listens on at this moment.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

fn account_ids(user: &str, install: &str) -> (u32, u32) {
    let id = |flag: &str| {
        let output = Command::new("id").args([flag, user]).output().unwrap();
        assert!(
            output.status.success(),
            "running as root needs the `{user}` account to run the server; {install} creates it"
        );
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .unwrap()
    };
    (id("-u"), id("-g"))
}

/// Unpredictable enough for a password that only lives as long as one test.
fn random_secret() -> String {
    use std::hash::{BuildHasher, RandomState};
    let state = RandomState::new();
    format!(
        "{:016x}{:016x}",
        state.hash_one(std::process::id()),
        state.hash_one(Instant::now())
    )
}

fn write_private(path: &Path, text: &str) {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

fn check(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed\n{}",
        describe(output)
    );
}

/// An exit status and both outputs, for an assertion message.
pub fn describe(output: &Output) -> String {
    format!(
        "exit: {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn conf_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "''"))
}

/// standard_conforming_strings is on, so only the quote needs doubling.
fn pg_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn pg_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// MariaDB treats backslashes in literals as escapes unless NO_BACKSLASH_ESCAPES is set.
fn my_literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// A HOME with a static-credential profile `p` and a test CA, for connections to the private
/// servers.
pub struct Setup {
    pub home: super::Home,
    pub ca: TestCa,
}

impl Setup {
    pub fn new() -> Setup {
        let home = super::Home::new();
        home.static_profile("p", super::ACCESS_KEY_ID);
        Setup {
            home,
            ca: TestCa::new(),
        }
    }

    /// A connection to a private server: host `localhost`, which its certificate names,
    /// verified with the test CA.
    pub fn connection(&self, name: &str, engine: &str, port: u16, extra: &str) -> String {
        self.connection_with_ca(name, engine, port, &self.ca.ca_pem(), extra)
    }

    /// The same, verified with the CA file `ca`.
    pub fn connection_with_ca(
        &self,
        name: &str,
        engine: &str,
        port: u16,
        ca: &Path,
        extra: &str,
    ) -> String {
        Connection::jane(name, engine, "localhost", port, "p")
            .ca_bundle(ca)
            .lines(extra)
            .to_string()
    }

    pub fn token(&self, verb: &str, name: &str) -> String {
        self.home.run(&[verb, name]).ok().token()
    }
}
