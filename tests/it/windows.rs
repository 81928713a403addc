//! The Windows build (`x86_64-pc-windows-gnu`) run under Wine against the same fakes and
//! servers as the Linux tests. Each test has a Wine prefix of its own (hard links to one
//! template made by `wineboot` once, so the profile folders are private), its own persistent
//! wineserver, and every Wine process a timeout. Build the .exe first:
//! `cargo build --target x86_64-pc-windows-gnu` (.ci/run does).
//!
//! What Wine cannot show: the msvc build, a real NTFS DACL (Wine keeps ACLs loosely), the
//! browser, Ctrl-C in a real console, and TablePlus or DataGrip for Windows.

use crate::common::{self, BotocoreVector};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A Wine process (wine's start included) that takes longer is hung.
const WINE_TIMEOUT: Duration = Duration::from_secs(120);

fn wine64() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).collect();
    // Debian's wine64 package keeps the loader out of PATH.
    dirs.push(PathBuf::from("/usr/lib/wine"));
    if let Some(found) = dirs.iter().map(|d| d.join("wine64")).find(|p| p.is_file()) {
        return Some(found);
    }
    common::require_program("wine64", "apt-get install wine64")
}

fn wineserver(wine: &Path) -> PathBuf {
    wine.with_file_name("wineserver")
}

/// The Windows .exe that `cargo build --target x86_64-pc-windows-gnu` made.
fn windows_exe() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let exe = target.join("x86_64-pc-windows-gnu/debug/rdsiam-helper.exe");
    assert!(
        exe.is_file(),
        "{} is missing: build it first with `cargo build --target x86_64-pc-windows-gnu` (and `rustup target add x86_64-pc-windows-gnu`, `apt-get install gcc-mingw-w64-x86-64`)",
        exe.display()
    );
    exe
}

/// Waits for `child` at most `limit`, killing it then.
fn wait_within(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    use std::io::Read;
    // Pipes are read on threads: a Wine service the process started may hold them open after
    // it exits, and a test must then fail, not wait on them for ever.
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::sync::mpsc::Receiver<Vec<u8>> {
        let (tx, rx) = std::sync::mpsc::channel();
        match pipe {
            Some(mut pipe) => {
                std::thread::spawn(move || {
                    let mut bytes = Vec::new();
                    let _ = pipe.read_to_end(&mut bytes);
                    let _ = tx.send(bytes);
                });
            }
            None => tx.send(Vec::new()).unwrap(),
        }
        rx
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let Some(status) = status else {
        kill_group(&mut child);
        let stderr = stderr
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_default();
        panic!(
            "a Wine process ran over {limit:?}; stderr: {}",
            String::from_utf8_lossy(&stderr)
        );
    };
    let rest = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_secs(10));
    let (Ok(stdout), Ok(stderr)) = (stdout.recv_timeout(rest), stderr.recv_timeout(rest)) else {
        kill_group(&mut child);
        panic!("a Wine process exited ({status}) but something it started still holds its output");
    };
    std::process::Output {
        status,
        stdout,
        stderr,
    }
}

/// Kills the process and, when it leads a process group (`Wine::cmd` makes it one), every
/// process it started there.
fn kill_group(child: &mut std::process::Child) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) takes any pid; a group that no longer exists is ESRCH, ignored.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Rust's std asks bcryptprimitives.dll's ProcessPrng for random bytes; Wine 8 has no such
/// DLL, so a one-function one (tests/windows/bcryptprimitives.c) goes beside the .exe.
fn prng_shim() -> PathBuf {
    static SHIM: OnceLock<PathBuf> = OnceLock::new();
    SHIM.get_or_init(|| {
        let gcc = common::require_program(
            "x86_64-w64-mingw32-gcc",
            "apt-get install gcc-mingw-w64-x86-64",
        )
        .expect("the MinGW compiler builds the ProcessPrng shim");
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bcryptprimitives.dll");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/windows/bcryptprimitives.c");
        let child = Command::new(gcc)
            .args(["-shared", "-O2", "-o"])
            .arg(&out)
            .arg(source)
            .arg("-ladvapi32")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = wait_within(child, Duration::from_secs(60));
        assert!(
            output.status.success(),
            "building the shim failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        out
    })
    .clone()
}

/// One `wineboot` per machine (kept in the target folder, 25 s to make); each test hard-links
/// it into a prefix of its own.
fn template(wine: &Path) -> PathBuf {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wine-template");
            let done = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wine-template.done");
            if done.is_file() && dir.is_dir() {
                return dir;
            }
            let _ = std::fs::remove_dir_all(&dir);
            let child = Command::new(wine)
                .current_dir(env!("CARGO_TARGET_TMPDIR"))
                .args(["wineboot", "-i"])
                .env("WINEPREFIX", &dir)
                .env("WINEDEBUG", "-all")
                .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let output = wait_within(child, WINE_TIMEOUT);
            assert!(output.status.success(), "wineboot failed");
            // The template's server saves the registry as it exits; it must be gone before
            // its files are linked elsewhere.
            let stop = Command::new(wineserver(wine))
                .arg("-w")
                .env("WINEPREFIX", &dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            wait_within(stop, Duration::from_secs(60));
            std::fs::write(&done, "").unwrap();
            dir
        })
        .clone()
}

/// A private Wine prefix with the .exe in it, and a running wineserver.
pub struct Wine {
    wine: PathBuf,
    dir: tempfile::TempDir,
    prefix: PathBuf,
    exe: PathBuf,
}

impl Wine {
    pub fn new() -> Option<Wine> {
        Wine::with_exe(&windows_exe())
    }

    /// As `new`, running `built` (the release zip's .exe, say) instead of the debug build.
    pub fn with_exe(built: &Path) -> Option<Wine> {
        let wine = wine64()?;
        let template = template(&wine);
        let dir = tempfile::Builder::new()
            .prefix("rdsiam-wine-")
            .tempdir()
            .unwrap();
        let prefix = dir.path().join("prefix");
        let status = Command::new("cp")
            .arg("-al")
            .arg(&template)
            .arg(&prefix)
            .status()
            .unwrap();
        assert!(status.success(), "cp -al of the Wine template failed");
        // Wine rewrites its registry files: each prefix gets copies, not links.
        for reg in ["system.reg", "user.reg", "userdef.reg"] {
            let path = prefix.join(reg);
            let text = std::fs::read(&path).unwrap();
            std::fs::remove_file(&path).unwrap();
            std::fs::write(&path, text).unwrap();
        }
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let exe = bin.join("rdsiam-helper.exe");
        std::fs::copy(built, &exe).unwrap();
        std::fs::copy(prng_shim(), bin.join("bcryptprimitives.dll")).unwrap();
        // A persistent server: each wine process then starts in a fraction of a second.
        // It daemonizes, so its pipes are not ours to read.
        Command::new(wineserver(&wine))
            .arg("-p60")
            .env("WINEPREFIX", &prefix)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        Some(Wine {
            wine,
            dir,
            prefix,
            exe,
        })
    }

    /// The Windows user's profile folder (C:\users\NAME) as a Linux path.
    pub fn profile(&self) -> PathBuf {
        let users = self.prefix.join("drive_c/users");
        std::fs::read_dir(&users)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.file_name().is_some_and(|n| n != "Public") && p.is_dir())
            .expect("a user profile in the Wine prefix")
    }

    /// %APPDATA% as a Linux path.
    pub fn appdata(&self) -> PathBuf {
        self.profile().join("AppData/Roaming")
    }

    /// %LOCALAPPDATA% as a Linux path.
    pub fn local_appdata(&self) -> PathBuf {
        self.profile().join("AppData/Local")
    }

    /// Writes `text` to `relative` under the profile (e.g. `.aws/config`).
    pub fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.profile().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The config at %APPDATA%\rdsiam-helper\config.toml, where the Windows build looks.
    pub fn config(&self, text: impl std::fmt::Display) -> PathBuf {
        let path = self.appdata().join("rdsiam-helper/config.toml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text.to_string()).unwrap();
        path
    }

    /// `rdsiam-helper.exe` under Wine, with nothing of our environment but what Wine needs.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new(&self.wine);
        // The current folder is on the DLL search path: a private one, not the caller's.
        cmd.arg(&self.exe)
            .current_dir(self.dir.path())
            .env_clear()
            .env("WINEPREFIX", &self.prefix)
            .env("WINEDEBUG", "-all")
            // Wine turns argv into UTF-16 with the locale's charset: UTF-8, as a terminal's.
            .env("LANG", "C.UTF-8")
            .env("HOME", self.dir.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null());
        // Its own process group, so that a timeout kills what it started too.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd
    }

    /// Runs `cmd` to the end (within the timeout) and checks its stderr for secrets.
    #[track_caller]
    pub fn output(&self, mut cmd: Command) -> common::Run {
        let child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let run = common::Run::from(wait_within(child, WINE_TIMEOUT));
        common::assert_no_secret("stderr", &run.stderr, &[]);
        run
    }

    #[track_caller]
    pub fn run(&self, args: &[&str]) -> common::Run {
        let mut cmd = self.cmd();
        cmd.args(args);
        self.output(cmd)
    }
}

impl Drop for Wine {
    fn drop(&mut self) {
        if let Ok(child) = Command::new(wineserver(&self.wine))
            .arg("-k")
            .env("WINEPREFIX", &self.prefix)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            let mut child = child;
            let started = Instant::now();
            while child.try_wait().ok().flatten().is_none()
                && started.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn tokens_are_botocores_under_wine() {
    let Some(wine) = Wine::new() else { return };
    let vectors: Vec<BotocoreVector> = common::botocore_vectors();
    for v in vectors {
        let mut cmd = wine.cmd();
        cmd.env(common::NOW_VARIABLE, &v.signed_at)
            .env("AWS_ACCESS_KEY_ID", &v.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &v.secret_access_key)
            .args(["token", "--no-cache", "--host", &v.host, "--user", &v.user])
            .args(["--port", &v.port.to_string(), "--region", &v.region]);
        if let Some(session_token) = &v.session_token {
            cmd.env("AWS_SESSION_TOKEN", session_token);
        }
        let run = wine.output(cmd);
        run.ok();
        assert_eq!(run.token(), v.token, "vector {}", v.name);
    }
}

#[test]
fn dsql_tokens_are_botocores_under_wine_from_the_appdata_config() {
    let Some(wine) = Wine::new() else { return };
    let mut vectors: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("../data/dsql_vectors.json")).unwrap();
    // A bare `localhost` in a config is a cluster id (expanded to its endpoint): that vector
    // signs an ad hoc host, which tokens_are_botocores_under_wine's path already covers.
    vectors.retain(|v| v["name"] != "connect_localhost");
    let mut config = String::new();
    for v in &vectors {
        let action = match v["action"].as_str().unwrap() {
            "DbConnectAdmin" => "admin",
            _ => "connect",
        };
        config.push_str(&format!(
            "[connections.{}]\nengine = \"dsql\"\nhost = \"{}\"\nregion = \"{}\"\nuser = \"{}\"\ndsql_action = \"{action}\"\ntoken_lifetime = \"{}s\"\nrefresh_before = \"10s\"\n\n",
            v["name"].as_str().unwrap(),
            v["host"].as_str().unwrap(),
            v["region"].as_str().unwrap(),
            if action == "admin" { "admin" } else { "app_reader" },
            v["expires_in"].as_u64().unwrap(),
        ));
    }
    wine.config(&config);
    for v in &vectors {
        let name = v["name"].as_str().unwrap();
        let mut cmd = wine.cmd();
        cmd.env(common::NOW_VARIABLE, v["signed_at"].as_str().unwrap())
            .env("AWS_ACCESS_KEY_ID", v["access_key_id"].as_str().unwrap())
            .env(
                "AWS_SECRET_ACCESS_KEY",
                v["secret_access_key"].as_str().unwrap(),
            )
            .args(["token", name, "--no-cache"]);
        if let Some(session_token) = v["session_token"].as_str() {
            cmd.env("AWS_SESSION_TOKEN", session_token);
        }
        let run = wine.output(cmd);
        run.ok();
        assert_eq!(run.token(), v["token"].as_str().unwrap(), "vector {name}");
    }
}

#[test]
fn bad_input_gets_the_same_message_and_exit_code_under_wine() {
    let Some(wine) = Wine::new() else { return };
    wine.write(
        ".aws/credentials",
        &format!(
            "[p]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            common::ACCESS_KEY_ID,
            common::SECRET_ACCESS_KEY
        ),
    );
    let config = wine.appdata().join("rdsiam-helper/config.toml");
    for case in common::bad_input::table() {
        match &case.config {
            Some(text) => {
                wine.config(text);
            }
            None => {
                let _ = std::fs::remove_file(&config);
            }
        }
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let run = wine.run(&args);
        assert_eq!(
            (run.code, run.stdout.as_str()),
            (case.code, ""),
            "{}: {}",
            case.input,
            run.stderr
        );
        assert!(
            run.stderr.contains(case.message),
            "{}: expected {:?} in\n{}",
            case.input,
            case.message,
            run.stderr
        );
    }
}

/// Container credentials (the chain's HTTP source) from a fake on loopback that counts its
/// calls; `hang` holds each reply back while it is set.
fn credential_endpoint(
    hang: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> common::fake_aws::FakeAws {
    use std::sync::atomic::Ordering;
    common::fake_aws::FakeAws::start(move |_| {
        let started = Instant::now();
        while hang.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(20));
        }
        // A little slow, as a real credential source is: the 16 processes overlap.
        std::thread::sleep(Duration::from_millis(300));
        common::fake_aws::Reply::json(
            200,
            format!(
                r#"{{"AccessKeyId":"ASIAWINE","SecretAccessKey":"{}","Token":"session-wine","Expiration":"{}"}}"#,
                common::SECRET_ACCESS_KEY,
                common::rfc3339(common::minutes_from_now(60))
            ),
        )
    })
}

fn with_endpoint(wine: &Wine, endpoint: &common::fake_aws::FakeAws) -> Command {
    let mut cmd = wine.cmd();
    cmd.env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("{}/creds", endpoint.url()),
    )
    .args(["pg", "a"]);
    cmd
}

const ONE_CONNECTION: &str =
    "[connections.a]\nhost = \"db.example.com\"\nuser = \"jane\"\nregion = \"us-east-1\"\n";

#[test]
fn sixteen_cold_processes_under_wine_sign_once() {
    let Some(wine) = Wine::new() else { return };
    wine.config(ONE_CONNECTION);
    let endpoint = credential_endpoint(Default::default());
    let children: Vec<_> = (0..16)
        .map(|_| {
            with_endpoint(&wine, &endpoint)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let tokens: Vec<String> = children
        .into_iter()
        .map(|child| {
            let run = common::Run::from(wait_within(child, WINE_TIMEOUT));
            common::assert_no_secret("stderr", &run.stderr, &["session-wine"]);
            run.ok();
            run.token()
        })
        .collect();
    assert_eq!(endpoint.hits(), 1, "one process resolved the credentials");
    assert!(tokens.iter().all(|t| *t == tokens[0]), "one token for all");
    assert!(
        wine.local_appdata().join("rdsiam-helper/cache").is_dir(),
        "the cache is in %LOCALAPPDATA%"
    );
}

#[test]
fn a_process_killed_mid_refresh_under_wine_leaves_a_usable_cache() {
    use std::sync::atomic::Ordering;
    let Some(wine) = Wine::new() else { return };
    wine.config(ONE_CONNECTION);
    let hang = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let endpoint = credential_endpoint(hang.clone());
    let mut stuck = with_endpoint(&wine, &endpoint)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while endpoint.hits() == 0 {
        assert!(
            started.elapsed() < WINE_TIMEOUT,
            "the refresh never asked for credentials"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGKILL while it holds the refresh lock: Wine's server drops the lock with the process.
    stuck.kill().unwrap();
    stuck.wait().unwrap();
    hang.store(false, Ordering::SeqCst);
    let first = wine.output(with_endpoint(&wine, &endpoint));
    first.ok();
    let again = wine.output(with_endpoint(&wine, &endpoint));
    again.ok();
    assert_eq!(
        again.token(),
        first.token(),
        "the second run is a cache hit"
    );
    assert_eq!(endpoint.hits(), 2, "the killed refresh and one more");
}

#[test]
fn setup_merges_into_the_wine_profiles_libpq_files_and_a_second_run_changes_no_byte() {
    let Some(wine) = Wine::new() else { return };
    wine.write(
        ".aws/credentials",
        &format!(
            "[p]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            common::ACCESS_KEY_ID,
            common::SECRET_ACCESS_KEY
        ),
    );
    let ca = wine.write("ca.pem", "not checked by setup\n");
    wine.config(format!(
        "[connections.prod]\nhost = \"{}\"\nuser = \"jane\"\nregion = \"us-east-1\"\naws_profile = \"p\"\nca_bundle = '{}'\n",
        common::HOST,
        ca.display()
    ));
    let postgresql = wine.appdata().join("postgresql");
    std::fs::create_dir_all(&postgresql).unwrap();
    let pgpass = postgresql.join("pgpass.conf");
    let services = postgresql.join(".pg_service.conf");
    let own_pgpass = "# mine\nother.example.com:5432:*:bob:pw\n";
    let own_services = "# services\n[other]\nhost=other.example.com\n";
    std::fs::write(&pgpass, own_pgpass).unwrap();
    std::fs::write(&services, own_services).unwrap();
    let now = common::unix_now();
    let setup = |what: &str| {
        let mut cmd = wine.cmd();
        cmd.env(common::NOW_VARIABLE, now.to_string())
            .args(["setup", what, "prod", "--write"]);
        wine.output(cmd).ok();
    };
    setup("pgpass");
    setup("pgservice");
    let first = (
        std::fs::read(&pgpass).unwrap(),
        std::fs::read(&services).unwrap(),
    );
    let pgpass_text = String::from_utf8(first.0.clone()).unwrap();
    assert!(pgpass_text.starts_with(own_pgpass), "{pgpass_text}");
    assert!(
        pgpass_text.contains(&format!("{}:5432:*:jane:", common::HOST)),
        "{pgpass_text}"
    );
    let services_text = String::from_utf8(first.1.clone()).unwrap();
    assert!(services_text.starts_with(own_services), "{services_text}");
    assert!(services_text.contains("[prod]"), "{services_text}");
    setup("pgpass");
    setup("pgservice");
    assert_eq!(
        (
            std::fs::read(&pgpass).unwrap(),
            std::fs::read(&services).unwrap()
        ),
        first,
        "a second run changes no byte"
    );
}

#[test]
fn exec_returns_the_childs_exit_code_under_wine() {
    let Some(wine) = Wine::new() else { return };
    let ca = wine.write("ca.pem", "not read by cmd\n");
    wine.config(format!(
        "[connections.a]\nhost = \"db.example.com\"\nuser = \"jane\"\nregion = \"us-east-1\"\nca_bundle = '{}'\n",
        ca.display()
    ));
    for code in ["0", "3", "42"] {
        let mut cmd = wine.cmd();
        cmd.env("AWS_ACCESS_KEY_ID", common::ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", common::SECRET_ACCESS_KEY)
            .args(["exec", "a", "--", "cmd", "/c", &format!("exit {code}")]);
        let run = wine.output(cmd);
        assert_eq!(run.code.to_string(), code, "{}", run.stderr);
    }
    let mut missing = wine.cmd();
    missing
        .env("AWS_ACCESS_KEY_ID", common::ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", common::SECRET_ACCESS_KEY)
        .args(["exec", "a", "--", "no-such-program"]);
    wine.output(missing)
        .code(127)
        .stderr_has("cannot run `no-such-program`: command not found");
}

/// `rdsiam-helper.exe proxy db` under Wine for a connection to the private TLS server on
/// `server_port`, every client giving the local password (Windows cannot tell a client's
/// user). Returns the proxy, its local port, the local password and the token it signs.
struct WineProxy {
    child: std::process::Child,
    log: PathBuf,
    port: u16,
    password: String,
    token: String,
}

impl WineProxy {
    fn start(wine: &Wine, engine: &str, server_port: u16, ca: &Path) -> WineProxy {
        wine.write(
            ".aws/credentials",
            &format!(
                "[db]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                common::ACCESS_KEY_ID,
                common::SECRET_ACCESS_KEY
            ),
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        wine.config(
            common::config::Connection::jane("db", engine, "localhost", server_port, "db")
                .ca_bundle(ca)
                .key("local_port", u32::from(port)),
        );
        // One clock for the token given to the server and the one the proxy signs.
        let now = common::unix_now().to_string();
        let verb = if engine == "postgres" { "pg" } else { "mysql" };
        let mut token = wine.cmd();
        token.env(common::NOW_VARIABLE, &now).args([verb, "db"]);
        let token = wine.output(token).ok().token();
        let file = wine.dir.path().join("proxy-password");
        let log = wine.dir.path().join("proxy.log");
        let child = wine
            .cmd()
            .env(common::NOW_VARIABLE, &now)
            .args(["proxy", "db", "--local-password-file"])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut proxy = WineProxy {
            child,
            log,
            port,
            password: String::new(),
            token,
        };
        let started = Instant::now();
        while !proxy.log().contains("listening on") {
            if let Some(status) = proxy.child.try_wait().unwrap() {
                panic!("the proxy exited with {status}:\n{}", proxy.log());
            }
            assert!(
                started.elapsed() < WINE_TIMEOUT,
                "the proxy did not start:\n{}",
                proxy.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        proxy.password = std::fs::read_to_string(&file).unwrap().trim().to_string();
        proxy
    }

    fn log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        common::assert_no_secret("the proxy's log", &text, &[&self.token]);
        text
    }
}

impl Drop for WineProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client_output(mut cmd: Command) -> std::process::Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_within(child, Duration::from_secs(60))
}

#[test]
fn linux_psql_reaches_tls_postgres_through_the_wine_proxy() {
    let Some(wine) = Wine::new() else { return };
    let ca = common::servers::TestCa::new();
    let Some(pg) = common::servers::Postgres::start(&ca) else {
        return;
    };
    let proxy = WineProxy::start(&wine, "postgres", pg.port(), &ca.ca_pem());
    pg.create_role("jane", &proxy.token);
    let mut psql = Command::new(pg.psql());
    psql.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env("PGPASSWORD", &proxy.password)
        .args(["-X", "-A", "-t", "-w", "-d"])
        .arg(format!(
            "host=127.0.0.1 port={} user=jane dbname=postgres sslmode=disable connect_timeout=20",
            proxy.port
        ))
        .args([
            "-c",
            "select current_user, ssl from pg_stat_ssl where pid = pg_backend_pid()",
        ]);
    let output = client_output(psql);
    // The server takes only TLS logins: the row proves verified TLS and the token.
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "jane|t",
        "{}\nproxy log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        proxy.log()
    );
}

#[test]
fn linux_mariadb_reaches_tls_mariadb_through_the_wine_proxy() {
    let Some(wine) = Wine::new() else { return };
    let ca = common::servers::TestCa::new();
    let Some(db) = common::servers::Mariadb::start(&ca) else {
        return;
    };
    let proxy = WineProxy::start(&wine, "mysql", db.port(), &ca.ca_pem());
    db.create_user("jane", &proxy.token);
    let mut client = Command::new(db.client());
    client
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .arg("--no-defaults")
        .args([
            "--protocol=TCP",
            "--host=127.0.0.1",
            "--skip-ssl",
            "--connect-timeout=20",
            "--user=jane",
        ])
        .arg(format!("--port={}", proxy.port))
        .arg(format!("--password={}", proxy.password))
        .args(["-N", "-e", "select current_user()"]);
    let output = client_output(client);
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .starts_with("jane@"),
        "{}\nproxy log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        proxy.log()
    );
}

#[test]
fn the_wine_proxy_refuses_to_start_without_a_way_to_tell_its_clients() {
    let Some(wine) = Wine::new() else { return };
    wine.config(format!("{ONE_CONNECTION}local_port = 15999\n"));
    wine.run(&["proxy", "a"])
        .code(2)
        .stderr_has("the proxy cannot let in only its owner here: Windows does not tell which user owns a loopback TCP connection")
        .stderr_has("--local-password-file");
}

/// The Windows release zip that `.ci/run` builds (`cargo xtask dist --target
/// x86_64-pc-windows-gnu`), found through RDSIAM_HELPER_DIST as the Linux archives are.
#[test]
fn the_windows_release_zip_matches_its_sum_holds_its_documents_and_signs_botocores_vectors() {
    let Some(dist) = crate::release::release_input(
        "RDSIAM_HELPER_DIST",
        "cargo xtask dist --target x86_64-pc-windows-gnu --out target/dist",
    ) else {
        return;
    };
    let stem = format!(
        "rdsiam-helper-{}-x86_64-pc-windows-gnu",
        env!("CARGO_PKG_VERSION")
    );
    let zip = dist.join(format!("{stem}.zip"));
    let bytes = std::fs::read(&zip).unwrap_or_else(|e| panic!("{}: {e}", zip.display()));
    let digest: String = <sha2::Sha256 as sha2::Digest>::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    let line = format!("{digest}  {stem}.zip");
    assert!(
        sums.lines().any(|l| l == line),
        "{line} not in SHA256SUMS:\n{sums}"
    );

    let work = tempfile::tempdir().unwrap();
    let status = Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(&zip)
        .arg(work.path())
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "python3 -m zipfile -e {}", zip.display());
    let folder = work.path().join(&stem);
    for file in [
        "rdsiam-helper.exe",
        "README.md",
        "LICENSE-MIT",
        "LICENSE-APACHE",
        "doc/rdsiam-helper.1",
        "complete/rdsiam-helper.bash",
        "complete/_rdsiam-helper",
        "complete/rdsiam-helper.fish",
        "complete/_rdsiam-helper.ps1",
    ] {
        assert!(
            folder.join(file).is_file(),
            "{file} missing from {stem}.zip"
        );
    }

    // A release build ignores the test clock, and libfaketime under Wine hangs the services
    // Wine starts (their timeouts never come). So the .exe signs at the real time, and
    // botocore signs the same request at the second the token says it was signed.
    let Some(wine) = Wine::with_exe(&folder.join("rdsiam-helper.exe")) else {
        return;
    };
    let vectors = common::botocore_vectors();
    let mut signed = Vec::new();
    for v in &vectors {
        let mut cmd = wine.cmd();
        cmd.env("AWS_ACCESS_KEY_ID", &v.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &v.secret_access_key)
            .args(["token", "--no-cache", "--host", &v.host, "--user", &v.user])
            .args(["--port", &v.port.to_string(), "--region", &v.region]);
        if let Some(session_token) = &v.session_token {
            cmd.env("AWS_SESSION_TOKEN", session_token);
        }
        let run = wine.output(cmd);
        run.ok();
        let token = run.token();
        let date = common::signing_date(&token).to_string();
        signed.push((v, token, date));
    }
    let cases: Vec<_> = signed
        .iter()
        .map(|(v, _, date)| {
            let at = chrono::NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ")
                .unwrap_or_else(|e| panic!("X-Amz-Date {date:?}: {e}"));
            let drift = (chrono::Utc::now().naive_utc() - at).num_seconds().abs();
            assert!(drift < 600, "{}: signed at {at}, not now", v.name);
            let at = at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
            serde_json::json!([v.host, v.port, v.user, v.region, v.session_token, at])
        })
        .collect();
    let expected = botocore_tokens(&cases);
    for ((v, token, _), expected) in signed.iter().zip(&expected) {
        assert_eq!(token, expected, "release .exe against botocore: {}", v.name);
    }
}

/// botocore's tokens for `cases` (host, port, user, region, session token, signed at), signed
/// by tests/data/gen_botocore_vectors.py's own `make_token` with the vectors' credentials.
fn botocore_tokens(cases: &[serde_json::Value]) -> Vec<String> {
    use std::io::Write;
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let script = "import json, sys\n\
        import gen_botocore_vectors as g\n\
        print(json.dumps([g.make_token(*case) for case in json.load(sys.stdin)]))\n";
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .env("PYTHONPATH", &data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(cases).unwrap().as_bytes())
        .unwrap();
    let output = wait_within(child, Duration::from_secs(60));
    assert!(
        output.status.success(),
        "botocore (pip install botocore) did not sign: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}
