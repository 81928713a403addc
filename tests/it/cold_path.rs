//! What the binary does not do: open a trust store for a token it signs offline, or parse a
//! large config in quadratic time. Timings themselves are measured in bench/run.sh; these tests
//! check what can be checked without a stopwatch, or with one far beyond any honest run.

use crate::common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The files the binary opened, from `strace -f -e trace=openat`, run as `Home::cmd` runs it.
fn opened_files(home: &Home, strace: &Path, args: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let log = home.path().join("strace.log");
    let mut traced = Command::new(strace);
    traced
        .args(["-f", "-qq", "-e", "trace=openat", "-o"])
        .arg(&log)
        .arg(binary())
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied());
    let run = Run::from(traced.output().unwrap());
    run.ok();
    assert!(run.stdout.contains("X-Amz-Signature="), "{}", run.stdout);
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::remove_file(&log).unwrap();
    text.lines()
        .filter_map(|line| line.split('"').nth(1))
        .map(str::to_string)
        .collect()
}

/// Where a TLS client looks for its trust store: OpenSSL's and the distributions' folders.
fn is_trust_store(path: &str) -> bool {
    [
        "/etc/ssl",
        "/etc/pki",
        "ca-certificates",
        "ca-bundle",
        "/usr/share/ca-certificates",
    ]
    .iter()
    .any(|needle| path.contains(needle))
        || path.ends_with(".pem")
        || path.ends_with(".crt")
}

#[test]
fn a_token_from_static_credentials_opens_no_trust_store() {
    let Some(strace) = require_program("strace", "apt-get install strace") else {
        return;
    };
    let home = Home::new();
    home.static_profile("static", ACCESS_KEY_ID);
    let from_env = [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
    ];
    let token = ["token", "--host", HOST, "--user", "jane", "--no-cache"];
    let profile = [&token[..], &["--aws-profile", "static"]].concat();
    for (what, args, env) in [
        ("environment credentials", &token[..], &from_env[..]),
        ("a static profile", &profile[..], &[][..]),
    ] {
        let opened = opened_files(&home, &strace, args, env);
        assert!(
            opened
                .iter()
                .any(|path| path.ends_with("rdsiam-helper/config.toml")),
            "{what}: the trace saw nothing: {opened:?}"
        );
        let stores: Vec<&String> = opened.iter().filter(|p| is_trust_store(p)).collect();
        assert!(
            stores.is_empty(),
            "{what}: a token signed offline opened {} trust-store files, e.g. {:?}",
            stores.len(),
            &stores[..stores.len().min(5)]
        );
    }
}

/// A config file of `count` connections, `db0` ... `db{count-1}`.
fn big_config(home: &Home, count: usize) {
    let mut text = String::from("[defaults]\naws_profile = \"static\"\n\n");
    for i in 0..count {
        text.push_str(&format!(
            "[connections.db{i}]\nhost = \"db{i}.cluster-abc123.us-east-1.rds.amazonaws.com\"\nuser = \"jane_doe\"\ndatabase = \"app\"\n\n"
        ));
    }
    home.config(&text);
}

/// CPU time (user + system) of the finished children of this test process: unlike wall time,
/// unaffected by other work on a shared machine.
fn children_cpu() -> Duration {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
        0
    );
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// Reading the config is linear in its size. Quadratic, each read of 20,000 connections cost
/// about 18 s of CPU; linear, a debug build takes about one second a read (`connections add`
/// reads the file twice). The bound is far from both.
#[test]
fn a_config_with_20000_connections_is_read_in_linear_time() {
    let home = Home::new();
    home.static_profile("static", ACCESS_KEY_ID);
    big_config(&home, 20_000);
    let before = children_cpu();
    home.run(&["pg", "db19999"]).ok();
    home.run(&[
        "connections",
        "add",
        "extra",
        "--host",
        HOST,
        "--user",
        "jane",
    ])
    .ok();
    let took = children_cpu() - before;
    assert!(
        took < Duration::from_secs(20),
        "a token and `connections add` on a 20,000-connection config took {took:?} of CPU"
    );
}
