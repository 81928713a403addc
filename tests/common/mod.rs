//! The test harness: a private HOME per test, config and AWS files written into it, the binary
//! run with a clean environment, and assertions on stdout, stderr, exit code and files.
#![allow(dead_code)]

pub mod servers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
pub const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
pub const HOST: &str = "prod.cluster-abc123.us-east-1.rds.amazonaws.com";

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rdsiam-helper"))
}

pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Home {
        Home {
            dir: tempfile::Builder::new()
                .prefix("rdsiam-test-")
                .tempdir()
                .unwrap(),
        }
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

    pub fn config(&self, text: &str) -> PathBuf {
        self.write(".config/rdsiam-helper/config.toml", text)
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

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.cmd().args(args).output().unwrap())
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
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
