//! The test harness: a private HOME per test, config and AWS files written into it, the binary
//! run with a clean environment, and assertions on stdout, stderr, exit code and files.

pub mod bad_input;
pub mod config;
pub mod fake_aws;
pub mod servers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
pub const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
pub const HOST: &str = "prod.cluster-abc123.us-east-1.rds.amazonaws.com";
/// The binary's injected clock (debug builds only).
pub const NOW_VARIABLE: &str = "RDSIAM_HELPER_TEST_NOW";

/// One of botocore's tokens (tests/data/botocore_vectors.json, made by gen_botocore_vectors.py).
#[derive(serde::Deserialize)]
pub struct BotocoreVector {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub signed_at: String,
    pub token: String,
}

pub fn botocore_vectors() -> Vec<BotocoreVector> {
    serde_json::from_str(include_str!("../../data/botocore_vectors.json")).unwrap()
}

/// The wall clock in Unix seconds.
pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Unix seconds as RFC 3339, as the AWS SDKs write expiry times.
pub fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The SHA-1 hex digest that names an SSO cache file.
pub fn sha1_hex(text: &str) -> String {
    <sha1::Sha1 as sha1::Digest>::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Unix seconds `minutes` from now.
pub fn minutes_from_now(minutes: i64) -> i64 {
    chrono::Utc::now().timestamp() + minutes * 60
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rdsiam-helper"))
}

/// `[defaults]` lines that sign as `jane` in us-east-1.
pub const JANE_IN_US_EAST_1: &str = "region = \"us-east-1\"\nuser = \"jane\"\n";

/// A HOME whose static-credential profile `profile` is the config's default, with
/// `more_defaults` (`[defaults]` lines) and then `tables`.
pub fn home_with(profile: &str, more_defaults: &str, tables: &str) -> Home {
    let home = Home::with_profile(profile);
    home.config(format!(
        "[defaults]\naws_profile = \"{profile}\"\n{more_defaults}\n{tables}"
    ));
    home
}

/// The usual HOME: signing as `jane` in us-east-1 with the static-credential profile `db`, and
/// `tables`.
pub fn jane_with(tables: &str) -> Home {
    home_with("db", JANE_IN_US_EAST_1, tables)
}

pub struct Home {
    pub dir: tempfile::TempDir,
    /// Session tokens and other secrets no file outside the cache may hold (see `Drop`).
    forbidden: std::sync::Mutex<Vec<String>>,
}

impl Home {
    pub fn new() -> Home {
        Home {
            dir: tempfile::Builder::new()
                .prefix("rdsiam-test-")
                .tempdir()
                .unwrap(),
            forbidden: Default::default(),
        }
    }

    /// A secret (a session token, a planted token) that must never reach a file the tool
    /// writes outside the cache; checked when the `Home` is dropped.
    pub fn forbid(&self, secret: &str) {
        self.forbidden.lock().unwrap().push(secret.to_string());
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> PathBuf {
        self.path().join(".config/rdsiam-helper/config.toml")
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.path().join(".cache/rdsiam-helper")
    }

    pub fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn config(&self, text: impl AsRef<str>) -> PathBuf {
        self.write(".config/rdsiam-helper/config.toml", text.as_ref())
    }

    /// A HOME whose profile `profile` holds the example static credentials.
    pub fn with_profile(profile: &str) -> Home {
        let home = Home::new();
        home.static_profile(profile, ACCESS_KEY_ID);
        home
    }

    /// A profile with the AWS documentation's example static credentials.
    pub fn static_profile(&self, profile: &str, access_key_id: &str) {
        let path = self.path().join(".aws/credentials");
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str(&format!(
            "[{profile}]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {SECRET_ACCESS_KEY}\n"
        ));
        self.write(".aws/credentials", &text);
    }

    /// Appends a `[profile NAME]` section to ~/.aws/config.
    pub fn aws_config(&self, section: &str) {
        let path = self.path().join(".aws/config");
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str(section);
        text.push('\n');
        self.write(".aws/config", &text);
    }

    /// The binary with nothing of the caller's environment but PATH: what a GUI client gives it.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new(binary());
        cmd.env_clear()
            .env("HOME", self.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null());
        cmd
    }

    /// `cmd` with the binary's clock at `now` (Unix seconds or RFC 3339): a debug-build hook.
    pub fn cmd_at(&self, now: impl std::fmt::Display) -> Command {
        let mut cmd = self.cmd();
        cmd.env(NOW_VARIABLE, now.to_string());
        cmd
    }

    /// `run` with the binary's clock at `now`.
    #[track_caller]
    pub fn run_at(&self, now: impl std::fmt::Display, args: &[&str]) -> Run {
        let run = Run::from(self.cmd_at(now).args(args).output().unwrap());
        let forbidden = self.forbidden.lock().unwrap();
        let extra: Vec<&str> = forbidden.iter().map(String::as_str).collect();
        assert_no_secret("stderr", &run.stderr, &extra);
        run
    }

    #[track_caller]
    pub fn run(&self, args: &[&str]) -> Run {
        let run = Run::from(self.cmd().args(args).output().unwrap());
        let forbidden = self.forbidden.lock().unwrap();
        let extra: Vec<&str> = forbidden.iter().map(String::as_str).collect();
        assert_no_secret("stderr", &run.stderr, &extra);
        run
    }
}

/// Every test's HOME is scanned on the way out: a token or a key in a client file would be a
/// leak no individual test thought to look for.
impl Drop for Home {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let forbidden = self.forbidden.lock().unwrap();
        let extra: Vec<&str> = forbidden.iter().map(String::as_str).collect();
        assert_no_secrets_in_files(self.path(), &extra);
    }
}

/// What no stderr and no file outside the cache (and `.pgpass`) may contain: the secret key,
/// and any token (each carries a signature, and its session token after this name).
pub const FORBIDDEN: [&str; 3] = [
    SECRET_ACCESS_KEY,
    "X-Amz-Signature=",
    "X-Amz-Security-Token=",
];

#[track_caller]
pub fn assert_no_secret(what: &str, text: &str, extra: &[&str]) {
    for needle in FORBIDDEN.iter().chain(extra) {
        assert!(
            needle.is_empty() || !text.contains(needle),
            "{what} contains a secret ({needle:?}):\n{text}"
        );
    }
}

/// The files the tool writes outside its cache, and their backups: every configuration-like
/// file (by extension) and every `.bak`. `.pgpass` (and its backup) hold tokens by design.
pub fn is_written_file(name: &str) -> bool {
    if name.starts_with(".pgpass") {
        return false;
    }
    let name = name.strip_suffix(".bak").unwrap_or(name);
    let extension = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    matches!(
        extension,
        "toml" | "conf" | "cnf" | "json" | "xml" | "plist" | "service" | "timer"
    )
}

/// Test fixtures, not the tool's output: the AWS files the tests write (keys by design) and
/// the token cache.
fn is_fixture_dir(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    matches!(name, ".aws" | "bin") || path.ends_with(".cache/rdsiam-helper")
}

/// Scans every such file under `root` for `FORBIDDEN` and `extra`;
/// returns how many files it read.
#[track_caller]
pub fn assert_no_secrets_in_files(root: &Path, extra: &[&str]) -> usize {
    let mut scanned = 0;
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if !is_fixture_dir(&path) {
                    pending.push(path);
                }
            } else if kind.is_file() && is_written_file(&entry.file_name().to_string_lossy()) {
                let text =
                    String::from_utf8_lossy(&std::fs::read(&path).unwrap_or_default()).into_owned();
                assert_no_secret(&path.display().to_string(), &text, extra);
                scanned += 1;
            }
        }
    }
    scanned
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    #[track_caller]
    fn from(output: Output) -> Run {
        let run = Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        // Messages, warnings and --verbose lines never carry a token or a key.
        assert_no_secret("stderr", &run.stderr, &[]);
        run
    }
}

impl Run {
    /// stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }

    #[track_caller]
    pub fn ok(&self) -> &Run {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, text: &str) -> &Run {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}:\n{}",
            self.stderr
        );
        self
    }

    pub fn token(&self) -> String {
        self.stdout.trim_end_matches('\n').to_string()
    }
}

/// A token's `X-Amz-Date`, to tell two signings apart.
pub fn signing_date(token: &str) -> &str {
    token
        .split("X-Amz-Date=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .unwrap()
}

/// Finds a program on PATH or in the usual server folders; under CI=true a missing one fails.
pub fn require_program(name: &str, install: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).collect();
    dirs.extend(["/usr/sbin", "/usr/local/sbin", "/usr/local/bin"].map(PathBuf::from));
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("bin")).collect();
        versions.sort();
        dirs.extend(versions.into_iter().rev());
    }
    if let Some(found) = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()) {
        return Some(found);
    }
    let message = format!("`{name}` is not installed; install it with: {install}");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{message} (CI=true: a missing server or client is a failure, not a skip)");
    }
    eprintln!("SKIPPED: {message}");
    None
}

/// A credential_process for `profile` that counts its runs and hands out session
/// credentials living `lifetime` seconds from the (injected) clock. While `<profile>.hang`
/// exists it writes its pid and hangs instead: a stuck SSO call or MFA prompt.
pub fn counting_process(home: &Home, profile: &str, lifetime: u64, delay: &str) -> PathBuf {
    let count = home.path().join(format!("{profile}.count"));
    let hang = home.path().join(format!("{profile}.hang"));
    let pid = home.path().join(format!("{profile}.pid"));
    let script = home.write(
        &format!("bin/{profile}.sh"),
        &format!(
            r#"#!/bin/sh
echo run >> "{count}"
if [ -e "{hang}" ]; then echo $$ > "{pid}.tmp"; mv "{pid}.tmp" "{pid}"; exec sleep 60; fi
sleep {delay}
now=${{RDSIAM_HELPER_TEST_NOW:-$(date +%s)}}
at=$((now + {lifetime}))
# GNU date takes -d @SECONDS, BSD (macOS) date -r SECONDS.
exp=$(date -u -d "@$at" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -r "$at" +%Y-%m-%dT%H:%M:%SZ)
printf '{{"Version":1,"AccessKeyId":"ASIAEXAMPLE{profile}","SecretAccessKey":"{SECRET_ACCESS_KEY}","SessionToken":"session-{profile}","Expiration":"%s"}}' "$exp"
"#,
            count = count.display(),
            hang = hang.display(),
            pid = pid.display(),
        ),
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    home.aws_config(&format!(
        "[profile {profile}]\ncredential_process = {}",
        script.display()
    ));
    home.forbid(&format!("session-{profile}"));
    count
}

pub fn runs(count: &Path) -> usize {
    std::fs::read_to_string(count)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// A loopback port forward, standing in for an SSH or SSM tunnel.
pub fn tcp_forward(target: u16) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let server = std::net::TcpStream::connect(("127.0.0.1", target)).unwrap();
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server, client),
            ] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            }
        }
    });
    port
}
