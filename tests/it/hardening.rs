//! Issue 10's defects, each through the binary the way its caller runs it: a GUI's password
//! command with only HOME set, two processes racing on one file, a second `setup --write`,
//! every MySQL client program, a read-only cache, a HOME that does not exist.

use crate::common::config::Connection;
use crate::common::servers::{Mariadb, Postgres, Setup, TestCa};
use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `jane`'s connection `name` with profile `p`, and `extra` lines.
fn connection(name: &str, engine: &str, host: &str, port: u16, extra: &str) -> String {
    Connection::jane(name, engine, host, port, "p")
        .lines(extra)
        .to_string()
}

/// Runs `command` as a GUI does: `/bin/sh -c` with nothing but HOME in the environment.
fn run_as_gui(home: &Home, command: &str) -> Run {
    Run::from(
        Command::new("env")
            .args(["-i", &format!("HOME={}", home.path().display())])
            .args(["/bin/sh", "-c", command])
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    )
}

/// The line after `label` in `text`, trimmed.
fn line_after<'a>(text: &'a str, label: &str) -> &'a str {
    let at = text
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in:\n{text}"));
    text[at + label.len()..].lines().next().unwrap().trim()
}

#[test]
fn every_command_printed_for_a_gui_finds_a_config_at_a_path_with_a_space() {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    let config = home.write(
        "my configs/db.toml",
        &format!(
            "{}{}",
            connection("prod", "postgres", HOST, 5432, ""),
            connection(
                "shop",
                "mysql",
                "shop.abc.us-east-1.rds.amazonaws.com",
                3306,
                ""
            )
        ),
    );
    let config = config.display().to_string();
    let expected_pg = home.run(&["--config", &config, "pg", "prod"]).ok().token();
    let expected_my = home
        .run(&["--config", &config, "mysql", "shop"])
        .ok()
        .token();

    let mut commands = Vec::new();
    // --config, and the environment variable, both lead to the same printed commands.
    let tableplus = home.run(&["--config", &config, "setup", "tableplus", "prod"]);
    commands.push((
        line_after(&tableplus.ok().stdout, "enter:\n").to_string(),
        &expected_pg,
    ));
    let from_env = Run::from(
        home.cmd()
            .env("RDSIAM_HELPER_CONFIG", &config)
            .args(["setup", "tableplus", "shop"])
            .output()
            .unwrap(),
    );
    commands.push((
        line_after(&from_env.ok().stdout, "enter:\n").to_string(),
        &expected_my,
    ));
    let pgadmin = home.run(&["--config", &config, "setup", "pgadmin", "prod"]);
    let json: serde_json::Value = serde_json::from_str(&pgadmin.ok().stdout).unwrap();
    let command = json["Servers"]["1"]["PasswordExecCommand"]
        .as_str()
        .unwrap();
    commands.push((command.to_string(), &expected_pg));
    let dbeaver = home.run(&[
        "--config", &config, "setup", "dbeaver", "prod", "--auth", "command",
    ]);
    let json: serde_json::Value = serde_json::from_str(&dbeaver.ok().stdout).unwrap();
    let command = json["connections"]["postgres-jdbc-rdsiam-prod"]["configuration"]
        ["auth-properties"]["passwordCommand"]
        .as_str()
        .unwrap();
    commands.push((command.to_string(), &expected_pg));
    let mysql = home.run(&["--config", &config, "setup", "mysql", "shop"]);
    let snippet = mysql.ok().stdout.clone();
    let by_hand = line_after(&snippet, "MYSQL_PWD=\"$(");
    let by_hand = by_hand.split(")\" mysql").next().unwrap();
    commands.push((by_hand.to_string(), &expected_my));

    for (command, expected) in commands {
        assert!(
            command.contains("'") && command.contains("--config"),
            "{command}"
        );
        let run = run_as_gui(&home, &command);
        assert_eq!(&run.ok().token(), expected, "{command}");
    }

    // The refresh command for the timer, as `setup pgpass --write` prints it.
    let pgpass = home.run(&["--config", &config, "setup", "pgpass", "prod", "--write"]);
    let timer = pgpass.ok().stderr.split("running `").nth(1).unwrap();
    let timer = timer.split('`').next().unwrap();
    assert!(timer.contains("--config"), "{timer}");
    run_as_gui(&home, timer).ok();
}

#[test]
fn a_refresh_and_a_setup_racing_on_pgpass_lose_neither_line() {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    // `slow` signs through a credential_process that takes seconds: the window in which a
    // refresh used to hold a stale copy of the file.
    counting_process(&home, "slow", 3600, "2");
    home.config(format!(
        "{}{}",
        connection("prod", "postgres", HOST, 5432, "aws_profile = \"slow\"")
            .replace("aws_profile = \"p\"\n", ""),
        connection(
            "dev",
            "postgres",
            "dev.abc.us-east-1.rds.amazonaws.com",
            5432,
            ""
        )
    ));
    home.run(&["setup", "pgpass", "prod", "--write"]).ok();
    home.run(&["cache", "clear"]).ok();

    let refresh = home
        .cmd()
        .args(["refresh", "--all"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The refresh is now inside its slow credential_process; a setup completes meanwhile.
    std::thread::sleep(std::time::Duration::from_millis(700));
    home.run(&["setup", "pgpass", "dev", "--write"]).ok();
    let refresh = Run::from(refresh.wait_with_output().unwrap());
    refresh.ok();

    let text = std::fs::read_to_string(home.path().join(".pgpass")).unwrap();
    assert!(text.contains("# rdsiam-helper: prod"), "{text}");
    assert!(
        text.contains("# rdsiam-helper: dev"),
        "the setup that ran during the refresh was lost:\n{text}"
    );
}

#[test]
fn two_connections_add_racing_keep_both() {
    let home = Home::new();
    home.config("# my connections\n");
    let children: Vec<_> = (0..8)
        .map(|i| {
            home.cmd()
                .args([
                    "connections",
                    "add",
                    &format!("c{i}"),
                    "--host",
                    HOST,
                    "--user",
                    "jane",
                ])
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        Run::from(child.wait_with_output().unwrap()).ok();
    }
    let list = home.run(&["connections", "list"]);
    for i in 0..8 {
        assert!(
            list.ok().stdout.contains(&format!("c{i} ")),
            "c{i} lost:\n{}",
            list.stdout
        );
    }
}

#[test]
fn a_second_setup_write_changes_no_byte() {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    let ca = home.write("ca.pem", "not read by setup\n");
    let ca_line = format!("ca_bundle = \"{}\"", ca.display());
    home.config(format!(
        "{}{}",
        connection("prod", "postgres", HOST, 5432, &ca_line),
        connection(
            "shop",
            "mysql",
            "shop.abc.us-east-1.rds.amazonaws.com",
            3306,
            &ca_line
        )
    ));
    let project = home.path().join("project");
    // A team's existing DataGrip files, as DataGrip writes them.
    home.write(
        "project/.idea/dataSources.xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<project version=\"4\">\n  <component name=\"DataSourceManagerImpl\" format=\"xml\" multifile-model=\"true\">\n    <data-source source=\"LOCAL\" name=\"other\" uuid=\"1\">\n      <jdbc-url>jdbc:postgresql://o/db</jdbc-url>\n    </data-source>\n  </component>\n</project>\n",
    );
    let project = project.display().to_string();
    let servers = home.path().join("servers.json").display().to_string();
    let dbeaver = home.path().join("dbeaver.json").display().to_string();
    let runs: Vec<Vec<&str>> = vec![
        vec!["setup", "pgpass", "prod", "--write"],
        vec!["setup", "pgservice", "prod", "--write"],
        vec!["setup", "datagrip", "prod", "--write", &project],
        vec!["setup", "datagrip", "shop", "--write", &project],
        vec!["setup", "pgadmin", "prod", "--write", &servers],
        vec!["setup", "dbeaver", "prod", "--write", &dbeaver],
        vec!["setup", "mysql", "shop", "--write"],
    ];
    for args in &runs {
        home.run(args).ok();
    }
    let snapshot = || -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        let mut stack = vec![home.path().to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.starts_with(home.cache_dir()) {
                    continue;
                }
                if path.is_dir() {
                    stack.push(path);
                } else {
                    files.push((path.clone(), std::fs::read(&path).unwrap()));
                }
            }
        }
        files.sort();
        files
    };
    let first = snapshot();
    for args in &runs {
        let again = home.run(args);
        again.ok().stderr_has("already up to date");
        assert!(
            !again.stderr.contains("updated "),
            "{args:?}: {}",
            again.stderr
        );
    }
    let second = snapshot();
    for ((path, before), (_, after)) in first.iter().zip(&second) {
        assert_eq!(
            String::from_utf8_lossy(before),
            String::from_utf8_lossy(after),
            "{} changed on a second run",
            path.display()
        );
    }
    assert_eq!(first.len(), second.len());
}

#[test]
fn exec_on_mysql_works_with_every_client_program() {
    let ca = TestCa::new();
    let Some(db) = Mariadb::start(&ca) else {
        return;
    };
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    home.config(connection(
        "shop",
        "mysql",
        "localhost",
        db.port(),
        &format!(
            "database = \"shopdb\"\nca_bundle = \"{}\"",
            ca.ca_pem().display()
        ),
    ));
    let token = home.run(&["mysql", "shop"]).ok().token();
    db.create_user("jane", &token);
    db.admin_sql("CREATE DATABASE shopdb; GRANT ALL ON shopdb.* TO 'jane'@'%'; CREATE TABLE shopdb.t (i int)");
    let programs: Vec<(&str, Vec<&str>)> = vec![
        ("mariadb", vec!["-N", "-e", "select database()"]),
        ("mysqladmin", vec!["ping"]),
        ("mysqlshow", vec!["shopdb"]),
        ("mysqldump", vec!["--no-data", "shopdb"]),
        ("mysqlcheck", vec!["shopdb"]),
    ];
    for (program, args) in programs {
        let Some(path) = require_program(program, "apt-get install mariadb-client") else {
            return;
        };
        let path = path.display().to_string();
        let mut argv = vec!["exec", "shop", "--", path.as_str()];
        argv.extend(args);
        let run = home.run(&argv);
        run.ok();
        for bad in ["unknown variable", "error-prone", "Warning", "ERROR"] {
            assert!(!run.stderr.contains(bad), "{program}: {}", run.stderr);
        }
        if program == "mariadb" {
            assert_eq!(
                run.stdout.trim(),
                "shopdb",
                "the database reaches the client"
            );
        }
    }
}

/// A read-only bind mount: root ignores mode bits, a read-only mount it cannot.
struct ReadOnlyMount(PathBuf);

impl ReadOnlyMount {
    fn new(dir: &Path) -> Option<ReadOnlyMount> {
        let mount = |args: &[&str]| {
            Command::new("mount")
                .args(args)
                .status()
                .is_ok_and(|s| s.success())
        };
        let dir_text = dir.display().to_string();
        if !mount(&["--bind", &dir_text, &dir_text]) {
            let message = "a read-only bind mount needs root (mount --bind)";
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "{message}");
            eprintln!("SKIPPED: {message}");
            return None;
        }
        assert!(mount(&["-o", "remount,ro,bind", &dir_text]));
        Some(ReadOnlyMount(dir.to_path_buf()))
    }
}

impl Drop for ReadOnlyMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn mysql_exec_and_connect_work_with_a_read_only_cache() {
    let setup = Setup::new();
    let Some(db) = Mariadb::start(&setup.ca) else {
        return;
    };
    let home = &setup.home;
    home.config(setup.connection("shop", "mysql", db.port(), ""));
    let token = home.run(&["mysql", "shop"]).ok().token();
    db.create_user("jane", &token);
    let Some(_mount) = ReadOnlyMount::new(&home.cache_dir()) else {
        return;
    };
    assert!(std::fs::write(home.cache_dir().join("probe"), "x").is_err());
    let client = db.client().display().to_string();
    let exec = home.run(&[
        "exec",
        "shop",
        "--",
        &client,
        "-N",
        "-e",
        "select current_user()",
    ]);
    assert_eq!(exec.ok().stdout.trim(), "jane@%", "{}", exec.stderr);
    let connect = home.run(&["connect", "shop", "--", "-N", "-e", "select current_user()"]);
    assert_eq!(connect.ok().stdout.trim(), "jane@%", "{}", connect.stderr);
}

#[test]
fn exec_exits_127_for_a_missing_program_and_126_for_one_not_executable() {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    let ca = home.write("ca.pem", "x\n");
    home.config(connection(
        "prod",
        "postgres",
        HOST,
        5432,
        &format!("ca_bundle = \"{}\"", ca.display()),
    ));
    home.run(&["exec", "prod", "--", "no-such-program-here"])
        .code(127)
        .stderr_has("command not found");
    let script = home.write("bin/not-executable", "#!/bin/sh\necho hi\n");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    home.run(&["exec", "prod", "--", &script.display().to_string()])
        .code(126)
        .stderr_has("permission denied");
}

#[test]
fn a_cache_folder_the_user_names_is_used_as_it_is_or_refused_with_the_fix() {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    home.config(connection("prod", "postgres", HOST, 5432, ""));
    // Outside HOME, whose files are scanned for tokens when the test ends.
    let outside = tempfile::tempdir().unwrap();
    let shared = outside.path().join("team-cache");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = |dir: &Path| {
        Run::from(
            home.cmd()
                .env("RDSIAM_HELPER_CACHE_DIR", dir)
                .args(["pg", "prod"])
                .output()
                .unwrap(),
        )
    };
    run(&shared).ok();
    let mode = std::fs::metadata(&shared).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755, "a folder the user named is not chmod-ed");

    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    run(&shared)
        .code(1)
        .stderr_has("writable by other users")
        .stderr_has("chmod 700");
}

#[test]
fn a_home_that_does_not_exist_is_named_and_nothing_is_created() {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    let config = home.config(connection("prod", "postgres", HOST, 5432, ""));
    let missing = home.path().join("gone");
    let run = Run::from(
        home.cmd()
            .env("HOME", &missing)
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                home.path().join(".aws/credentials"),
            )
            .args(["--config", &config.display().to_string(), "pg", "prod"])
            .output()
            .unwrap(),
    );
    run.code(1).stderr_has("HOME").stderr_has("does not exist");
    assert!(
        !missing.exists(),
        "a folder was created under the missing HOME"
    );
}

#[test]
fn connections_add_keeps_crlf_line_endings_and_a_byte_order_mark() {
    let home = Home::new();
    let original = "\u{feff}# team file\r\n[defaults]\r\nregion = \"us-east-1\"\r\n";
    let path = home.config(original);
    home.run(&[
        "connections",
        "add",
        "prod",
        "--host",
        HOST,
        "--user",
        "jane",
    ])
    .ok();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(original), "{text:?}");
    assert!(text.contains("[connections.prod]\r\n"), "{text:?}");
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "a bare LF: {text:?}"
    );
    home.run(&["connections", "list"]).ok();
    home.run(&["connections", "remove", "prod"]).ok();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), original);
}

#[test]
fn psql_uses_our_line_above_a_catch_all_in_pgpass() {
    let setup = Setup::new();
    let Some(_psql) = require_program("psql", "apt-get install postgresql-client") else {
        return;
    };
    let Some(db) = Postgres::start(&setup.ca) else {
        return;
    };
    let (home, ca) = (&setup.home, &setup.ca);
    home.config(setup.connection("prod", "postgres", db.port(), ""));
    let token = home.run(&["pg", "prod"]).ok().token();
    db.create_role("jane", &token);
    let pgpass = home.write(".pgpass", "*:*:*:*:not-the-token\n");
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    home.run(&["setup", "pgpass", "prod", "--write"])
        .ok()
        .stderr_has("above line");
    let psql = Command::new("psql")
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var_os("PATH").unwrap())
        .args(["-XtA", "-w", "-c", "select current_user"])
        .arg(format!(
            "host=localhost port={} dbname=postgres user=jane sslmode=verify-full sslrootcert={}",
            db.port(),
            ca.ca_pem().display()
        ))
        .output()
        .unwrap();
    let psql = Run::from(psql);
    assert_eq!(psql.ok().stdout.trim(), "jane");
    assert!(
        std::fs::read_to_string(&pgpass)
            .unwrap()
            .ends_with("*:*:*:*:not-the-token\n")
    );
}

#[test]
fn connections_add_without_a_user_is_refused_unless_defaults_name_one() {
    let home = Home::new();
    let original = "# team file\n[defaults]\nregion = \"us-east-1\"\n";
    let path = home.config(original);
    home.run(&["connections", "add", "prod", "--host", HOST])
        .code(2)
        .stderr_has("no --user given");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), original);
    home.config(format!("{original}user = \"jane\"\n"));
    home.run(&["connections", "add", "prod", "--host", HOST])
        .ok();
    home.run(&["connections", "show", "prod"]).ok();
}

#[test]
fn a_large_configs_connection_is_kept_resolved_until_the_file_changes() {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    let mut text = String::from("[defaults]\naws_profile = \"p\"\nregion = \"us-east-1\"\n");
    for i in 0..1000 {
        text.push_str(&format!(
            "[connections.c{i}]\nhost = \"c{i}.abc.us-east-1.rds.amazonaws.com\"\nuser = \"jane\"\n"
        ));
    }
    let path = home.config(&text);
    let first = home.run(&["-v", "pg", "c500"]);
    assert!(
        first.ok().stdout.starts_with("c500.abc."),
        "{}",
        first.stdout
    );
    assert!(
        !first.stderr.contains("resolved earlier"),
        "{}",
        first.stderr
    );
    let second = home.run(&["-v", "pg", "c500"]);
    second
        .ok()
        .stderr_has("resolved earlier from the unchanged");
    assert_eq!(second.stdout, first.stdout);

    // Any edit is seen at once: the file's identity changed.
    std::fs::write(&path, text.replace("c500.abc.", "moved.abc.")).unwrap();
    let edited = home.run(&["-v", "pg", "c500"]);
    assert!(
        edited.ok().stdout.starts_with("moved.abc."),
        "{}",
        edited.stdout
    );
    assert!(
        !edited.stderr.contains("resolved earlier"),
        "{}",
        edited.stderr
    );
    // A connection removed from the file is gone, not served from what was kept.
    std::fs::write(
        &path,
        text.replace("[connections.c500]", "[connections.gone]"),
    )
    .unwrap();
    home.run(&["pg", "c500"])
        .code(1)
        .stderr_has("no connection named `c500`");

    home.run(&["cache", "clear"]).ok();
    let kept = std::fs::read_dir(home.cache_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "connection"))
        .count();
    assert_eq!(kept, 0, "cache clear removes kept connections");
}

#[test]
fn a_password_command_names_the_link_the_user_ran_not_the_versioned_file() {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    home.config(connection("prod", "postgres", HOST, 5432, ""));
    // Homebrew's layout: a stable link to a versioned folder that an upgrade removes.
    let cellar = home.path().join("Cellar/1.0/bin");
    std::fs::create_dir_all(&cellar).unwrap();
    std::fs::copy(binary(), cellar.join("rdsiam-helper")).unwrap();
    let bin = home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(cellar.join("rdsiam-helper"), bin.join("rdsiam-helper")).unwrap();
    for invoked in [
        bin.join("rdsiam-helper").display().to_string(),
        "rdsiam-helper".to_string(),
    ] {
        let out = Command::new("env")
            .args(["-i", &format!("HOME={}", home.path().display())])
            .arg(format!("PATH={}", bin.display()))
            .args([&invoked, "setup", "tableplus", "prod"])
            .output()
            .unwrap();
        let out = Run::from(out);
        let command = line_after(&out.ok().stdout, "enter:\n").to_string();
        assert!(
            command.starts_with(&bin.join("rdsiam-helper").display().to_string()),
            "{command}"
        );
        assert!(!command.contains("Cellar"), "{command}");
    }
}

#[test]
fn the_timer_command_names_the_pgpass_file_pgpassfile_chose() {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    home.config(connection("prod", "postgres", HOST, 5432, ""));
    let file = home.path().join("my files/pgpass");
    let run = Run::from(
        home.cmd()
            .env("PGPASSFILE", &file)
            .args(["setup", "pgpass", "prod", "--write"])
            .output()
            .unwrap(),
    );
    let timer = run
        .ok()
        .stderr
        .split("running `")
        .nth(1)
        .unwrap()
        .split('`')
        .next()
        .unwrap()
        .to_string();
    assert!(
        timer.contains("--pgpass") && timer.contains("my files/pgpass"),
        "{timer}"
    );
    // Run as a timer runs it: no PGPASSFILE, only HOME.
    std::fs::write(
        &file,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace("X-Amz-Date=", "X-Amz-Date=0"),
    )
    .unwrap();
    run_as_gui(&home, &timer).ok();
    assert!(
        !std::fs::read_to_string(&file)
            .unwrap()
            .contains("X-Amz-Date=0"),
        "the timer refreshed the file"
    );
}

#[test]
fn a_region_from_the_environment_or_profile_is_checked_like_any_other() {
    let home = Home::new();
    let run = Run::from(
        home.cmd()
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
            .env("AWS_REGION", "us east/1")
            .args(["token", "--host", "db.example.com", "--user", "u"])
            .output()
            .unwrap(),
    );
    run.code(1)
        .stderr_has("is not usable")
        .stderr_has("AWS_REGION");
    assert!(run.stdout.is_empty());
}

#[test]
fn expired_credentials_from_a_process_get_a_hint_for_a_process() {
    let home = Home::new();
    let script = home.write(
        "bin/expired.sh",
        &format!("#!/bin/sh\nprintf '{{\"Version\":1,\"AccessKeyId\":\"ASIAEXP\",\"SecretAccessKey\":\"{SECRET_ACCESS_KEY}\",\"SessionToken\":\"session-expired\",\"Expiration\":\"2000-01-01T00:00:00Z\"}}'\n"),
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    home.forbid("session-expired");
    home.aws_config(&format!(
        "[profile old]\ncredential_process = {}",
        script.display()
    ));
    home.config(
        connection("prod", "postgres", HOST, 5432, "")
            .replace("aws_profile = \"p\"", "aws_profile = \"old\""),
    );
    let run = home.run(&["pg", "prod"]);
    run.code(3)
        .stderr_has("credential_process of AWS profile `old`");
    assert!(!run.stderr.contains("sso login"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[test]
fn a_users_unterminated_last_pgpass_line_keeps_its_bytes() {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    home.config(connection("prod", "postgres", HOST, 5432, ""));
    let users = "*:*:*:*:secret\nlast:1:*:x:y";
    home.write(".pgpass", users);
    home.run(&["setup", "pgpass", "prod", "--write"])
        .ok()
        .stderr_has("above line");
    let text = std::fs::read_to_string(home.path().join(".pgpass")).unwrap();
    assert!(text.ends_with("*:*:*:*:secret\nlast:1:*:x:y"), "{text:?}");
}

/// Mistakes a user makes on the command line are refused where they enter, naming the flag,
/// and nothing is written.
#[test]
fn flag_mistakes_are_named_where_they_enter() {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    // A refresh_before no token can meet: refused before the file exists, exit 2.
    home.run(&[
        "connections",
        "add",
        "n",
        "--host",
        "db.example.com",
        "--user",
        "u",
        "--refresh-before",
        "14m59s",
        "--token-lifetime",
        "10m",
        "--engine",
        "dsql",
        "--region",
        "us-east-1",
    ])
    .code(2)
    .stderr_has("connection `n` not added: token_lifetime 10m is not longer than refresh_before")
    .stderr_has("--refresh-before");
    home.run(&[
        "connections",
        "add",
        "n",
        "--host",
        "db.example.com",
        "--user",
        "u",
        "--refresh-before",
        "15m",
    ])
    .code(2)
    .stderr_has("an RDS token lives 15 minutes");
    assert!(!home.config_path().exists());
    // An engine the endpoint's name contradicts is added, with the warning a token would give.
    home.run(&[
        "connections",
        "add",
        "x",
        "--engine",
        "mysql",
        "--user",
        "u",
        "--host",
        "abc.dsql.us-east-1.on.aws",
    ])
    .ok()
    .stderr_has("is an Aurora DSQL endpoint: the cluster will refuse it");
    // clap's own suggestions are kept as hints.
    home.run(&["token", "--hots", "h"])
        .code(2)
        .stderr_has("hint: a similar argument exists: '--host'");
    home.run(&["tokn"])
        .code(2)
        .stderr_has("hint: a similar subcommand exists: 'token'");
    // --auth is for the clients that offer a choice.
    home.config(connection("p", "postgres", HOST, 5432, ""));
    home.run(&["setup", "pgservice", "p", "--auth", "command"])
        .code(2)
        .stderr_has("--auth is for DataGrip and DBeaver");
}

/// `refresh` keeps .pgpass; for a MySQL connection it says where its token comes from.
#[test]
fn refresh_of_a_mysql_connection_points_at_the_mysql_command() {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    home.config(connection("shop", "mysql", HOST, 3306, ""));
    home.run(&["refresh", "shop"])
        .code(2)
        .stderr_has("`shop` is a mysql connection")
        .stderr_has(" mysql shop`");
}

/// `[defaults] ca_bundle` (the RDS bundle, in the README's example) is for RDS; a DSQL
/// connection verifies against the system store unless it names its own bundle.
#[test]
fn defaults_ca_bundle_does_not_apply_to_dsql() {
    let home = Home::new();
    home.config(
        "[defaults]\nca_bundle = \"/rds/bundle.pem\"\nuser = \"admin\"\n\n\
         [connections.rds]\nhost = \"db.abc.us-east-1.rds.amazonaws.com\"\n\n\
         [connections.ledger]\nhost = \"abc.dsql.us-east-1.on.aws\"\n\n\
         [connections.own]\nhost = \"abc.dsql.us-east-1.on.aws\"\nca_bundle = \"/own.pem\"\n",
    );
    let show = |name: &str| home.run(&["connections", "show", name]).ok().stdout.clone();
    assert!(
        show("rds").contains("ca_bundle = /rds/bundle.pem"),
        "{}",
        show("rds")
    );
    assert!(!show("ledger").contains("ca_bundle"), "{}", show("ledger"));
    assert!(
        show("own").contains("ca_bundle = /own.pem"),
        "{}",
        show("own")
    );
}
