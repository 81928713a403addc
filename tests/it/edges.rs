//! What users do to their files (issue 21): FIFOs, devices, endless and huge files, dangling
//! links, broken INI and AWS files, read-only folders, absurd values. Each case through the
//! binary, as a GUI or a shell runs it.

use crate::common;
use crate::common::{HOST, Home, jane_with};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

fn home() -> Home {
    jane_with(&format!(
        "[connections.prod]\nhost = \"{HOST}\"\ndatabase = \"app\"\n\
         [connections.my]\nengine = \"mysql\"\nhost = \"my.cluster-abc123.us-east-1.rds.amazonaws.com\"\n"
    ))
}

/// Runs the binary with a deadline: a command that blocks on a FIFO fails the test, not hangs it.
#[track_caller]
fn run_within(home: &Home, args: &[&str]) -> common::Run {
    let mut child = home
        .cmd()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("`{}` hung", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    common::Run::from(child.wait_with_output().unwrap())
}

fn mkfifo(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn fifos_and_devices_are_refused_at_once_not_waited_on() {
    let cases: [(&str, &[&str]); 5] = [
        (".pgpass", &["setup", "pgpass", "prod", "--write"]),
        (
            ".pg_service.conf",
            &["setup", "pgservice", "prod", "--write"],
        ),
        (".my.cnf", &["setup", "mysql", "my", "--write"]),
        (".pgpass", &["refresh", "--all"]),
        (
            "servers.json",
            &["setup", "pgadmin", "prod", "--write", "servers.json"],
        ),
    ];
    for (file, args) in cases {
        let home = home();
        let fifo = home.path().join(file);
        mkfifo(&fifo);
        // The GUI's working folder is HOME: the relative `servers.json` lands there.
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        if let Some(last) = args.last_mut()
            && last == "servers.json"
        {
            *last = fifo.display().to_string();
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = run_within(&home, &args);
        run.code(1).stderr_has(&format!(
            "{} is a FIFO (named pipe), not a regular file",
            fifo.display()
        ));
        assert!(
            std::fs::symlink_metadata(&fifo)
                .unwrap()
                .file_type()
                .is_fifo_like(),
            "the FIFO was replaced"
        );
    }
    // The config itself, including one that never ends.
    let home = home();
    let fifo = home.path().join("config.fifo");
    mkfifo(&fifo);
    for (config, what) in [
        (fifo.display().to_string(), "a FIFO (named pipe)"),
        ("/dev/zero".to_string(), "a device"),
    ] {
        run_within(&home, &["--config", &config, "pg", "prod"])
            .code(1)
            .stderr_has(&format!("{config} is {what}, not a regular file"));
    }
}

trait FifoLike {
    fn is_fifo_like(&self) -> bool;
}

impl FifoLike for std::fs::FileType {
    fn is_fifo_like(&self) -> bool {
        std::os::unix::fs::FileTypeExt::is_fifo(self)
    }
}

#[test]
fn a_huge_config_or_client_file_is_refused_naming_its_size() {
    let home = home();
    let big = home.path().join("big.toml");
    let file = std::fs::File::create(&big).unwrap();
    // Sparse: 20 MiB that cost no disk.
    file.set_len(20 * 1024 * 1024).unwrap();
    run_within(&home, &["--config", big.to_str().unwrap(), "pg", "prod"])
        .code(1)
        .stderr_has("is 20.0 MiB long, over the 16.0 MiB");
    let pgpass = home.path().join(".pgpass");
    std::fs::File::create(&pgpass)
        .unwrap()
        .set_len(17 * 1024 * 1024)
        .unwrap();
    run_within(&home, &["setup", "pgpass", "prod", "--write"])
        .code(1)
        .stderr_has("is 17.0 MiB long");
    assert_eq!(std::fs::metadata(&pgpass).unwrap().len(), 17 * 1024 * 1024);
}

#[test]
fn a_dangling_link_is_written_through_never_replaced() {
    let home = home();
    let dotfiles = home.path().join("dotfiles");
    std::fs::create_dir(&dotfiles).unwrap();
    let link = home.path().join(".pgpass");
    std::os::unix::fs::symlink("dotfiles/pgpass", &link).unwrap();
    home.run(&["setup", "pgpass", "prod", "--write"]).ok();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let target = dotfiles.join("pgpass");
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(std::fs::read_to_string(&target).unwrap().contains(HOST));
    // Twice: nothing changes but the token, and the link stays.
    home.run(&["setup", "pgpass", "prod", "--write"]).ok();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // A link into a folder that does not exist is refused, and left as it is.
    let service = home.path().join(".pg_service.conf");
    std::os::unix::fs::symlink(home.path().join("gone/service.conf"), &service).unwrap();
    home.run(&["setup", "pgservice", "prod", "--write"])
        .code(1)
        .stderr_has("whose folder does not exist");
    assert!(
        std::fs::symlink_metadata(&service)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn broken_ini_files_are_described_in_words_with_their_line() {
    for (file, args) in [
        (
            ".pg_service.conf",
            ["setup", "pgservice", "prod", "--write"],
        ),
        (".my.cnf", ["setup", "mysql", "my", "--write"]),
    ] {
        let home = home();
        let path = home.write(file, "# mine\n[svc\nhost=x\n");
        let run = home.run(&args);
        run.code(1).stderr_has(&format!(
            "{} is not a valid INI file: line 2: the section header `[svc` has no closing `]`",
            path.display()
        ));
        assert!(!run.stderr.contains("Some("), "{}", run.stderr);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# mine\n[svc\nhost=x\n"
        );
    }
}

#[test]
fn a_broken_aws_config_is_named_with_its_file_and_line() {
    let token = [
        "token",
        "--host",
        HOST,
        "--user",
        "jane",
        "--aws-profile",
        "dev",
    ];
    let home = Home::new();
    let config = home.write(
        ".aws/config",
        "[default]\nregion = us-east-1\n[profile dev\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n",
    );
    for args in [&token[..], &["profiles"][..]] {
        home.run(args)
            .code(3)
            .stderr_has(&format!("{} on line 3", config.display()))
            .stderr_has("Profile definition must end with ']'")
            .stderr_has("fix that line");
    }
    // A byte that is not UTF-8: aws-config would pass over the whole file in silence.
    let home = Home::new();
    let mut bytes = b"[profile dev]\nregion = us-east-1\n".to_vec();
    bytes.extend(b"# caf\xe9\n");
    bytes.extend(b"aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = x\n");
    let config = home.path().join(".aws/config");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, bytes).unwrap();
    for args in [&token[..], &["profiles"][..]] {
        let run = home.run(args);
        run.code(3).stderr_has(&format!(
            "the AWS file {} is not UTF-8 text: line 3",
            config.display()
        ));
        assert!(!run.stderr.contains("does not exist"), "{}", run.stderr);
    }
}

#[test]
fn a_folder_that_cannot_be_written_says_so_in_words_with_a_hint() {
    let home = home();
    let folder = home.path().join("ro");
    std::fs::create_dir(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o555)).unwrap();
    let target = folder.join("pgpass");
    // As root the folder's mode is no obstacle: run as nobody then, with the cache elsewhere.
    let mut cmd = if unsafe_geteuid() == 0 {
        let Some(runuser) = common::require_program("runuser", "apt-get install util-linux") else {
            return;
        };
        std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        // runuser sets HOME to nobody's own; `env` puts the test's back.
        let mut cmd = std::process::Command::new(runuser);
        cmd.args(["-u", "nobody", "--", "env"])
            .arg(format!("HOME={}", home.path().display()))
            .arg("RDSIAM_HELPER_CACHE_DIR=/nonexistent/cache")
            .arg(format!("AWS_ACCESS_KEY_ID={}", common::ACCESS_KEY_ID))
            .arg(format!(
                "AWS_SECRET_ACCESS_KEY={}",
                common::SECRET_ACCESS_KEY
            ))
            .arg(common::binary());
        cmd.env_clear();
        cmd
    } else {
        home.cmd()
    };
    let output = cmd
        .args(["--config", home.config_path().to_str().unwrap()])
        .args([
            "setup",
            "pgpass",
            "prod",
            "--write",
            target.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let run = common::Run::from(output);
    run.code(1)
        .stderr_has(&format!("{}: permission denied", folder.display()))
        .stderr_has("hint: check who owns");
    assert!(!run.stderr.contains("os error"), "{}", run.stderr);
    assert!(!run.stderr.contains("at path"), "{}", run.stderr);
}

fn unsafe_geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

#[test]
fn a_user_name_too_long_to_sign_is_named_as_the_problem() {
    let home = home();
    let long = "a".repeat(70_000);
    home.run(&["token", "--host", HOST, "--user", &long])
        .code(2)
        .stderr_has("--user: the user name is 70000 bytes long");
    home.config(format!(
        "[connections.big]\nhost = \"{HOST}\"\nuser = \"{long}\"\n"
    ));
    home.run(&["pg", "big"])
        .code(1)
        .stderr_has("`connections.big.user`: the user name is 70000 bytes long");
}

#[test]
fn the_drop_ins_help_is_its_own() {
    let home = home();
    for args in [
        &["rds", "generate-db-auth-token", "--help"][..],
        &["rds", "generate-db-auth-token", "-h"][..],
        &["rds", "help"][..],
    ] {
        let run = home.run(args);
        run.ok();
        assert!(run.stdout.contains("--hostname HOST"), "{}", run.stdout);
        assert!(!run.stderr.contains("Unknown options"), "{}", run.stderr);
    }
}

#[test]
fn a_fifo_among_the_aws_files_is_refused_before_aws_config_waits_on_it() {
    for file in [".aws/config", ".aws/credentials"] {
        let home = Home::new();
        let fifo = home.path().join(file);
        mkfifo(&fifo);
        run_within(
            &home,
            &[
                "token",
                "--host",
                HOST,
                "--user",
                "jane",
                "--region",
                "us-east-1",
            ],
        )
        .code(1)
        .stderr_has(&format!("{} is a FIFO (named pipe)", fifo.display()));
    }
}
