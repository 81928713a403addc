//! Client integrations end to end: private PostgreSQL and MariaDB servers with TLS whose user's
//! password is the token the tool prints, reached by the real psql and mariadb clients through
//! every path the tool sets up.

use crate::common::servers::{Mariadb, Postgres, Setup};
use crate::common::*;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

fn psql_as(home: &Home, conninfo: &str, password: Option<&str>) -> Run {
    let mut cmd = Command::new("psql");
    cmd.env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var_os("PATH").unwrap())
        .args(["-XtA", "-c", "select current_user", conninfo]);
    if let Some(password) = password {
        cmd.env("PGPASSWORD", password);
    }
    Run::from(cmd.output().unwrap())
}

fn start_postgres(setup: &Setup) -> Option<Postgres> {
    require_program("psql", "apt-get install postgresql-client")?;
    Postgres::start(&setup.ca)
}

#[test]
fn psql_connects_with_the_printed_token_and_verify_full() {
    let setup = Setup::new();
    let Some(pg) = start_postgres(&setup) else {
        return;
    };
    setup
        .home
        .config(setup.connection("prod", "postgres", pg.port(), "database = \"postgres\""));
    let token = setup.token("pg", "prod");
    pg.create_role("jane", &token);
    let conninfo = |ca: &Path| {
        format!(
            "host=localhost port={} dbname=postgres user=jane sslmode=verify-full sslrootcert={}",
            pg.port(),
            ca.display()
        )
    };
    // PGPASSWORD=$(rdsiam-helper pg prod) psql ..., as a shell runs it
    let script = format!(
        "PGPASSWORD=$('{}' pg prod) psql -XtA -c 'select current_user' '{}'",
        binary().display(),
        conninfo(&setup.ca.ca_pem())
    );
    let run = Run::from(
        Command::new("/bin/sh")
            .args(["-c", &script])
            .env_clear()
            .env("HOME", setup.home.path())
            .env("PATH", std::env::var_os("PATH").unwrap())
            .output()
            .unwrap(),
    );
    run.ok();
    assert_eq!(run.stdout.trim(), "jane");
    // the same token against a CA that did not sign the server's certificate must fail
    let wrong = psql_as(
        &setup.home,
        &conninfo(&setup.ca.other_ca_pem()),
        Some(&token),
    );
    assert_ne!(
        wrong.code, 0,
        "verify-full accepted a server signed by another CA"
    );
    // and a token that is not the password must fail (the server really checks it)
    let bad = psql_as(
        &setup.home,
        &conninfo(&setup.ca.ca_pem()),
        Some(&token.replace("X-Amz-Signature=", "X-Amz-Signature=0")),
    );
    assert_ne!(bad.code, 0);
}

#[test]
fn pgpass_and_pg_service_written_by_setup_let_psql_in_without_a_password() {
    let setup = Setup::new();
    let Some(pg) = start_postgres(&setup) else {
        return;
    };
    setup
        .home
        .config(setup.connection("prod", "postgres", pg.port(), "database = \"postgres\""));
    let original = "# my own passwords\nother.example.com:5432:*:bob:s3cr\\:et\n";
    let pgpass = setup.home.write(".pgpass", original);
    std::fs::set_permissions(&pgpass, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    setup.home.write(
        ".pg_service.conf",
        "# services\n[other]\nhost=other.example.com\n",
    );
    setup.home.run(&["setup", "pgpass", "prod", "--write"]).ok();
    setup
        .home
        .run(&["setup", "pgservice", "prod", "--write"])
        .ok();
    let token = setup.token("pg", "prod");
    pg.create_role("jane", &token);

    let text = std::fs::read_to_string(&pgpass).unwrap();
    assert!(text.starts_with(original), "other lines kept: {text}");
    assert!(text.contains(&format!("localhost:{}:*:jane:", pg.port())));
    assert_eq!(
        std::fs::read_to_string(setup.home.path().join(".pgpass.bak")).unwrap(),
        original
    );
    assert_eq!(
        std::fs::metadata(&pgpass).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let service = std::fs::read_to_string(setup.home.path().join(".pg_service.conf")).unwrap();
    assert!(service.starts_with("# services\n[other]\nhost=other.example.com\n"));
    assert!(service.contains("[prod]") && service.contains("sslmode=verify-full"));

    let run = psql_as(&setup.home, "service=prod", None);
    run.ok();
    assert_eq!(run.stdout.trim(), "jane");
}

use std::os::unix::fs::PermissionsExt;

#[test]
fn exec_connect_and_the_tableplus_command_reach_postgres() {
    let setup = Setup::new();
    let Some(pg) = start_postgres(&setup) else {
        return;
    };
    setup
        .home
        .config(setup.connection("prod", "postgres", pg.port(), "database = \"postgres\""));
    pg.create_role("jane", &setup.token("pg", "prod"));

    let exec = setup
        .home
        .run(&["exec", "prod", "--", "psql", "-XtAc", "select current_user"]);
    exec.ok();
    assert_eq!(exec.stdout.trim(), "jane");
    setup
        .home
        .run(&["exec", "prod", "--", "sh", "-c", "exit 7"])
        .code(7);
    // A service from the caller's environment is applied by libpq before PG* variables: it
    // must not redirect the token or turn TLS off.
    setup.home.write(
        ".pg_service.conf",
        "[evil]\nhost=wrong.invalid\nsslmode=disable\n",
    );
    let evil = Run::from(
        setup
            .home
            .cmd()
            .env("PGSERVICE", "evil")
            .args(["exec", "prod", "--", "psql", "-XtAc", "select current_user"])
            .output()
            .unwrap(),
    );
    evil.ok();
    assert_eq!(evil.stdout.trim(), "jane");

    let connect = setup
        .home
        .run(&["connect", "prod", "--", "-XtAc", "select current_user"]);
    connect.ok();
    assert_eq!(connect.stdout.trim(), "jane");

    // TablePlus runs the printed value with a shell and no environment but HOME.
    let instructions = setup.home.run(&["setup", "tableplus", "prod"]);
    instructions.ok();
    let command = instructions
        .stdout
        .lines()
        .skip_while(|l| !l.contains("Command Line"))
        .nth(1)
        .unwrap()
        .trim()
        .to_string();
    assert!(
        command.starts_with('/') && command.ends_with("pg prod"),
        "{command}"
    );
    let value = Run::from(
        Command::new("/usr/bin/env")
            .args([
                "-i",
                &format!("HOME={}", setup.home.path().display()),
                "/bin/sh",
                "-c",
                &command,
            ])
            .output()
            .unwrap(),
    );
    value.ok();
    let conninfo = format!(
        "host=localhost port={} dbname=postgres user=jane sslmode=verify-full sslrootcert={}",
        pg.port(),
        setup.ca.ca_pem().display()
    );
    let run = psql_as(&setup.home, &conninfo, Some(value.stdout.trim_end()));
    run.ok();
    assert_eq!(run.stdout.trim(), "jane");
}

#[test]
fn connect_refuses_a_server_the_ca_does_not_vouch_for() {
    let setup = Setup::new();
    let Some(pg) = start_postgres(&setup) else {
        return;
    };
    let text = setup
        .connection("prod", "postgres", pg.port(), "database = \"postgres\"")
        .replace(
            &setup.ca.ca_pem().display().to_string(),
            &setup.ca.other_ca_pem().display().to_string(),
        );
    setup.home.config(&text);
    pg.create_role("jane", &setup.token("pg", "prod"));
    let run = setup
        .home
        .run(&["connect", "prod", "--", "-XtAc", "select current_user"]);
    assert_ne!(run.code, 0);
    assert!(!run.stdout.contains("jane"));
    // a missing CA bundle is named, with the download command
    setup.home.config(text.replace(
        &setup.ca.other_ca_pem().display().to_string(),
        "/nonexistent/ca.pem",
    ));
    setup
        .home
        .run(&["connect", "prod"])
        .code(1)
        .stderr_has("/nonexistent/ca.pem does not exist")
        .stderr_has("curl");
}

#[test]
fn tunnel_dials_the_forward_while_tls_and_pgpass_use_the_endpoint_name() {
    let setup = Setup::new();
    let Some(pg) = start_postgres(&setup) else {
        return;
    };
    let forward = tcp_forward(pg.port());
    setup.home.config(setup.connection(
        "prod",
        "postgres",
        pg.port(),
        &format!("database = \"postgres\"\ntunnel = \"127.0.0.1:{forward}\""),
    ));
    pg.create_role("jane", &setup.token("pg", "prod"));
    setup.home.run(&["setup", "pgpass", "prod", "--write"]).ok();
    setup
        .home
        .run(&["setup", "pgservice", "prod", "--write"])
        .ok();
    let service = std::fs::read_to_string(setup.home.path().join(".pg_service.conf")).unwrap();
    assert!(
        service.contains("host=localhost")
            && service.contains("hostaddr=127.0.0.1")
            && service.contains(&format!("port={forward}"))
    );
    let run = psql_as(&setup.home, "service=prod", None);
    run.ok();
    assert_eq!(run.stdout.trim(), "jane");
    let exec = setup.home.run(&[
        "exec",
        "prod",
        "--",
        "psql",
        "-XtAc",
        "select inet_server_port()",
    ]);
    exec.ok();
    assert_eq!(
        exec.stdout.trim(),
        pg.port().to_string(),
        "reached the server through the forward"
    );
}

#[test]
fn refresh_rewrites_only_its_lines_and_psql_connects_after_the_old_token_expired() {
    let setup = Setup::new();
    let Some(pg) = start_postgres(&setup) else {
        return;
    };
    setup
        .home
        .config(setup.connection("prod", "postgres", pg.port(), "database = \"postgres\""));
    let pgpass = setup.home.write(".pgpass", "# keep\nother:1:*:bob:pw\n");
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    setup.home.run(&["setup", "pgpass", "prod", "--write"]).ok();
    let old = setup.token("pg", "prod");
    let before = std::fs::read_to_string(&pgpass).unwrap();

    // Sixteen minutes on: the old token is dead. The server now takes only a fresh one.
    let later = minutes_from_now(16);
    let refresh = setup.home.run_at(later, &["refresh", "--all"]);
    refresh.ok();
    let fresh = setup.home.run_at(later, &["pg", "prod"]).token();
    assert_ne!(fresh, old);
    pg.create_role("jane", &fresh);

    let after = std::fs::read_to_string(&pgpass).unwrap();
    assert!(after.starts_with("# keep\nother:1:*:bob:pw\n"));
    assert_eq!(after.lines().count(), before.lines().count());
    assert!(
        !after.contains(&old.replace(':', "\\:")) && after.contains(&fresh.replace(':', "\\:"))
    );
    let run = psql_as(
        &setup.home,
        &format!(
            "host=localhost port={} dbname=postgres user=jane sslmode=verify-full sslrootcert={}",
            pg.port(),
            setup.ca.ca_pem().display()
        ),
        None,
    );
    run.ok();
    assert_eq!(run.stdout.trim(), "jane");
}

fn start_mariadb(setup: &Setup) -> Option<Mariadb> {
    Mariadb::start(&setup.ca)
}

#[test]
fn mariadb_exec_connect_and_option_file_with_the_token_kept_out_of_ps() {
    let setup = Setup::new();
    let Some(db) = start_mariadb(&setup) else {
        return;
    };
    setup
        .home
        .config(setup.connection("shop", "mysql", db.port(), ""));
    let token = setup.token("mysql", "shop");
    db.create_user("jane", &token);

    let exec = setup.home.run(&[
        "exec",
        "shop",
        "--",
        &db.client().display().to_string(),
        "-N",
        "-e",
        "select current_user()",
    ]);
    exec.ok();
    assert_eq!(exec.stdout.trim(), "jane@%");

    let connect = setup
        .home
        .run(&["connect", "shop", "--", "-N", "-e", "select current_user()"]);
    connect.ok();
    assert_eq!(connect.stdout.trim(), "jane@%");

    // A ~/.my.cnf [client] group is read after our option file; it must not redirect the
    // token or turn TLS off for `connect`, and `exec` warns about it.
    setup.home.write(
        ".my.cnf",
        "[client]\nhost=wrong.invalid\nuser=root\nskip-ssl\n",
    );
    let hostile = setup
        .home
        .run(&["connect", "shop", "--", "-N", "-e", "select current_user()"]);
    hostile.ok();
    assert_eq!(hostile.stdout.trim(), "jane@%");
    let warned = setup.home.run(&["exec", "shop", "--", "true"]);
    warned.ok().stderr_has("sets `host` in [client]");
    // A password there is read after the token's file and sent instead: `connect` says so.
    setup
        .home
        .write(".my.cnf", "[client]\npassword=not-the-token\n");
    setup
        .home
        .run(&["connect", "shop", "--", "-N", "-e", "select 1"])
        .stderr_has("sets `password` in [client], which overrides what `connect` sets");

    // the option-file group written by setup, with the token in MYSQL_PWD (never in argv)
    setup
        .home
        .write(".my.cnf", "# mine\n[mysql]\nauto-rehash\n");
    setup.home.run(&["setup", "mysql", "shop", "--write"]).ok();
    let my_cnf = std::fs::read_to_string(setup.home.path().join(".my.cnf")).unwrap();
    assert!(
        my_cnf.starts_with("# mine\n[mysql]\nauto-rehash\n") && my_cnf.contains("[client_shop]")
    );
    let option_file = Run::from(
        Command::new(db.client())
            .env_clear()
            .env("HOME", setup.home.path())
            .env("MYSQL_PWD", &token)
            .args([
                "--defaults-group-suffix=_shop",
                "-N",
                "-e",
                "select current_user()",
            ])
            .output()
            .unwrap(),
    );
    option_file.ok();
    assert_eq!(option_file.stdout.trim(), "jane@%");
    // The group holds the keys of the client found, which warns about any `loose-` key it
    // does not know.
    assert!(
        !option_file.stderr.contains("Warning"),
        "{}",
        option_file.stderr
    );

    // While a client runs, no process's command line carries the token.
    let signature = token.split("X-Amz-Signature=").nth(1).unwrap().to_string();
    let mut child = setup
        .home
        .cmd()
        .args(["connect", "shop", "--", "-N", "-e", "select sleep(2)"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Sample until the client is seen running, so the scan cannot pass by looking too late.
    let started = std::time::Instant::now();
    let mut leaked = Vec::new();
    let mut seen = false;
    while !seen && started.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(50));
        // The client itself, not our own process (whose argv also has the query).
        seen = processes_with_in_cmdline("--defaults-extra-file=")
            .iter()
            .any(|cmdline| cmdline.contains("select sleep(2)"));
        leaked.extend(processes_with_in_cmdline(&signature));
    }
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{stderr}");
    assert!(seen, "the client never showed up in the process list");
    assert!(leaked.is_empty(), "token visible in ps: {leaked:?}");
    assert!(!stderr.contains(&signature));
}

#[test]
fn mariadb_refuses_a_wrong_ca() {
    let setup = Setup::new();
    let Some(db) = start_mariadb(&setup) else {
        return;
    };
    let text = setup.connection("shop", "mysql", db.port(), "").replace(
        &setup.ca.ca_pem().display().to_string(),
        &setup.ca.other_ca_pem().display().to_string(),
    );
    setup.home.config(&text);
    db.create_user("jane", &setup.token("mysql", "shop"));
    let run = setup
        .home
        .run(&["connect", "shop", "--", "-N", "-e", "select current_user()"]);
    assert_ne!(
        run.code, 0,
        "connected through a certificate the CA did not sign"
    );
}

fn processes_with_in_cmdline(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains(needle) {
                found.push(text);
            }
        }
    }
    found
}

#[test]
fn setup_write_merges_datagrip_pgadmin_and_dbeaver_files() {
    let setup = Setup::new();
    setup
        .home
        .config(setup.connection("prod", "postgres", 5432, "database = \"app\""));
    let project = setup.home.path().join("project");
    let shared = setup.home.write(
        "project/.idea/dataSources.xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<project version=\"4\">\n  <component name=\"DataSourceManagerImpl\" format=\"xml\" multifile-model=\"true\">\n    <!-- team database -->\n    <data-source source=\"LOCAL\" name=\"team &amp; co\" uuid=\"11111111-1111-4111-8111-111111111111\">\n      <driver-ref>postgresql</driver-ref>\n      <jdbc-url>jdbc:postgresql://team:5432/db</jdbc-url>\n    </data-source>\n  </component>\n</project>\n",
    );
    let before = std::fs::read_to_string(&shared).unwrap();
    setup.home.write(
        "project/.idea/dataSources.local.xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<project version=\"4\">\n  <component name=\"dataSourceStorageLocal\" created-in=\"DB-251.1\">\n    <data-source name=\"team &amp; co\" uuid=\"11111111-1111-4111-8111-111111111111\">\n      <user-name>teammate</user-name>\n    </data-source>\n  </component>\n</project>\n",
    );
    // A `.bak` planted as a symlink (a cloned repository can carry one) is replaced, never
    // followed to overwrite what it points at.
    let victim = setup.home.write("victim.txt", "precious\n");
    std::os::unix::fs::symlink(&victim, project.join(".idea/dataSources.xml.bak")).unwrap();
    setup
        .home
        .run(&[
            "setup",
            "datagrip",
            "prod",
            "--write",
            &project.display().to_string(),
        ])
        .ok();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let backup = std::fs::symlink_metadata(project.join(".idea/dataSources.xml.bak")).unwrap();
    assert!(!backup.file_type().is_symlink());
    let after = std::fs::read_to_string(&shared).unwrap();
    assert_well_formed(&after);
    assert!(after.contains("name=\"team &amp; co\"") && after.contains("<!-- team database -->"));
    assert!(
        after.contains("name=\"prod\"")
            && after.contains("AWS.RdsSigningHost")
            && after.contains("sslmode=verify-full")
    );
    assert_eq!(
        std::fs::read_to_string(project.join(".idea/dataSources.xml.bak")).unwrap(),
        before
    );
    let local = std::fs::read_to_string(project.join(".idea/dataSources.local.xml")).unwrap();
    assert_well_formed(&local);
    assert!(
        local.contains("<auth-provider>aws.rds.iam</auth-provider>")
            && local.contains("<mode>VERIFY_FULL</mode>")
    );
    assert!(
        local.contains("<user-name>teammate</user-name>")
            && local.contains("created-in=\"DB-251.1\"")
    );
    assert!(project.join(".idea/dataSources.local.xml.bak").exists());
    // running again replaces ours in place: still one data source named prod
    setup
        .home
        .run(&[
            "setup",
            "datagrip",
            "prod",
            "--write",
            &project.display().to_string(),
            "--auth",
            "pgpass",
        ])
        .ok();
    let again = std::fs::read_to_string(&shared).unwrap();
    assert_eq!(again.matches("name=\"prod\"").count(), 1);
    assert!(!again.contains("AWS.RdsSigningHost"));
    // a malformed file is refused and left as it is
    let broken = "<project version=\"4\"><component name=\"DataSourceManagerImpl\"></project>";
    std::fs::write(&shared, broken).unwrap();
    setup
        .home
        .run(&[
            "setup",
            "datagrip",
            "prod",
            "--write",
            &project.display().to_string(),
        ])
        .code(1)
        .stderr_has("not valid XML");
    assert_eq!(std::fs::read_to_string(&shared).unwrap(), broken);

    // pgAdmin servers.json
    let servers = setup.home.write("servers.json", "{\"Servers\": {\"1\": {\"Name\": \"keep\", \"Group\": \"Mine\", \"Host\": \"h\", \"Port\": 5432, \"MaintenanceDB\": \"postgres\", \"Username\": \"u\"}}}\n");
    setup
        .home
        .run(&[
            "setup",
            "pgadmin",
            "prod",
            "--write",
            &servers.display().to_string(),
        ])
        .ok();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&servers).unwrap()).unwrap();
    assert_eq!(json["Servers"]["1"]["Name"], "keep");
    let ours = &json["Servers"]["2"];
    assert_eq!(ours["ConnectionParameters"]["sslmode"], "verify-full");
    assert!(
        ours["PasswordExecCommand"]
            .as_str()
            .unwrap()
            .ends_with("pg prod")
    );
    assert_eq!(ours["PasswordExecExpiration"], 240);
    assert!(setup.home.path().join("servers.json.bak").exists());
    std::fs::write(&servers, "{not json").unwrap();
    setup
        .home
        .run(&[
            "setup",
            "pgadmin",
            "prod",
            "--write",
            &servers.display().to_string(),
        ])
        .code(1)
        .stderr_has("not a pgAdmin servers.json");
    assert_eq!(std::fs::read_to_string(&servers).unwrap(), "{not json");

    // DBeaver data-sources.json
    let sources = setup.home.write("dbeaver/data-sources.json", "{\n\t\"folders\": {},\n\t\"connections\": {\n\t\t\"postgres-jdbc-1\": {\"provider\": \"postgresql\", \"name\": \"mine\"}\n\t},\n\t\"connection-types\": {\"dev\": {}}\n}\n");
    setup
        .home
        .run(&[
            "setup",
            "dbeaver",
            "prod",
            "--write",
            &sources.display().to_string(),
        ])
        .ok();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sources).unwrap()).unwrap();
    assert_eq!(json["connections"]["postgres-jdbc-1"]["name"], "mine");
    let backup: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(setup.home.path().join("dbeaver/data-sources.json.bak")).unwrap(),
    )
    .unwrap();
    assert!(
        backup["connections"]
            .get("postgres-jdbc-rdsiam-prod")
            .is_none()
    );
    assert!(json["connection-types"].is_object());
    let ours = &json["connections"]["postgres-jdbc-rdsiam-prod"]["configuration"];
    assert_eq!(ours["auth-model"], "postgres_pgpass");
    assert_eq!(
        ours["handlers"]["postgre_ssl"]["properties"]["sslMode"],
        "verify-full"
    );
    assert_eq!(
        ours["handlers"]["postgre_ssl"]["properties"]["ssl.method"],
        "CERTIFICATES"
    );
    std::fs::write(&sources, "[]").unwrap();
    setup
        .home
        .run(&[
            "setup",
            "dbeaver",
            "prod",
            "--write",
            &sources.display().to_string(),
        ])
        .code(1);
    assert_eq!(std::fs::read_to_string(&sources).unwrap(), "[]");
}

fn assert_well_formed(xml: &str) {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("not well-formed XML ({e}):\n{xml}"),
        }
    }
}

#[test]
fn malformed_pgpass_is_refused_and_left_untouched() {
    let setup = Setup::new();
    setup
        .home
        .config(setup.connection("prod", "postgres", 5432, ""));
    let broken = "good:1:*:u:p\nthis line is broken\n";
    let pgpass = setup.home.write(".pgpass", broken);
    setup
        .home
        .run(&["setup", "pgpass", "prod", "--write"])
        .code(1)
        .stderr_has(".pgpass:2");
    assert_eq!(std::fs::read_to_string(&pgpass).unwrap(), broken);
    assert!(!setup.home.path().join(".pgpass.bak").exists());
}

#[test]
fn setup_prints_clipboard_url_and_documents() {
    let setup = Setup::new();
    setup
        .home
        .config(setup.connection("prod", "postgres", 5432, "database = \"app\""));
    let clipboard = setup.home.run(&["setup", "datagrip", "prod"]);
    clipboard.ok();
    let lines: Vec<&str> = clipboard.stdout.lines().collect();
    assert_eq!(
        &lines[..3],
        ["#DataSourceSettings#", "#LocalDataSource: prod", "#BEGIN#"]
    );
    assert_eq!(lines[lines.len() - 1], "#END#");
    assert_well_formed(lines[3]);
    let tableplus = setup.home.run(&["setup", "tableplus", "prod"]);
    tableplus.ok();
    assert!(
        tableplus
            .stdout
            .contains("open \"postgresql://jane@localhost:5432/app?name=prod&")
    );
    assert!(
        tableplus.stdout.contains("enviroment=production") && tableplus.stdout.contains("tLSMode=")
    );
    assert!(tableplus.stdout.contains("start-up file"));
    setup
        .home
        .run(&["setup", "tableplus", "prod", "--write"])
        .code(2);
    setup.home.run(&["setup", "mysql", "prod"]).code(2);
}

#[test]
fn the_aws_cli_drop_in_prints_the_same_token_and_mimics_its_errors() {
    let home = Home::new();
    let cmd = || {
        let mut cmd = home.cmd_at("2026-11-25T12:00:00Z");
        cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY);
        cmd
    };
    let mut core = cmd();
    let core = Run::from(
        core.args([
            "token",
            "--no-cache",
            "--host",
            HOST,
            "--port",
            "5432",
            "--user",
            "jane_doe",
            "--region",
            "us-east-1",
        ])
        .output()
        .unwrap(),
    );
    let mut drop_in = cmd();
    let drop_in = Run::from(
        drop_in
            .args([
                "rds",
                "generate-db-auth-token",
                "--hostname",
                HOST,
                "--port=5432",
                "--username",
                "jane_doe",
                "--region",
                "us-east-1",
                "--output",
                "text",
            ])
            .output()
            .unwrap(),
    );
    drop_in.ok();
    assert_eq!(drop_in.stdout, core.ok().stdout);
    // and it is botocore's token for these inputs
    let vectors: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("../data/botocore_vectors.json")).unwrap();
    let basic = vectors
        .iter()
        .find(|v| v["name"] == "postgres_basic")
        .unwrap();
    assert_eq!(
        (&basic["host"], &basic["user"], &basic["signed_at"]),
        (
            &HOST.into(),
            &"jane_doe".into(),
            &"2026-11-25T12:00:00Z".into()
        )
    );
    assert_eq!(drop_in.token(), basic["token"].as_str().unwrap());

    // Like the AWS CLI: --region wins over the host name's region, else AWS_REGION; our own
    // config's [defaults] (a profile that does not exist, another region) play no part.
    home.config("[defaults]\naws_profile = \"nonexistent\"\nregion = \"sa-east-1\"\n");
    let in_region = |region_flag: Option<&str>, env_region: Option<&str>| {
        let mut cmd = cmd();
        cmd.args([
            "rds",
            "generate-db-auth-token",
            "--hostname",
            HOST,
            "--port",
            "5432",
            "--username",
            "jane_doe",
        ]);
        if let Some(region) = region_flag {
            cmd.args(["--region", region]);
        }
        if let Some(region) = env_region {
            cmd.env("AWS_REGION", region);
        }
        Run::from(cmd.output().unwrap()).ok().token()
    };
    assert!(in_region(Some("eu-west-1"), None).contains("%2Feu-west-1%2Frds-db%2F"));
    assert!(in_region(None, Some("ap-south-1")).contains("%2Fap-south-1%2Frds-db%2F"));

    let missing = home.run(&["rds", "generate-db-auth-token", "--hostname", HOST]);
    missing
        .code(252)
        .stderr_has("the following arguments are required: --port, --username");
    home.run(&[
        "rds",
        "generate-db-auth-token",
        "--hostname",
        HOST,
        "--port",
        "5432",
        "--username",
        "u",
        "--foo",
    ])
    .code(252)
    .stderr_has("Unknown options: --foo");
    home.run(&[
        "rds",
        "generate-db-auth-token",
        "--hostname",
        HOST,
        "--port",
        "abc",
        "--username",
        "u",
    ])
    .code(252)
    .stderr_has("argument --port: invalid int value: 'abc'");
}

#[test]
fn an_ipv6_tunnel_is_bracketed_in_every_url() {
    let setup = Setup::new();
    setup.home.config(setup.connection(
        "prod",
        "postgres",
        5432,
        "database = \"app\"\ntunnel = \"[::1]:15432\"",
    ));
    let datagrip = setup.home.run(&["setup", "datagrip", "prod"]);
    datagrip.ok().stderr_has("verify-ca");
    assert!(
        datagrip
            .stdout
            .contains("jdbc:postgresql://[::1]:15432/app?sslmode=verify-ca")
    );
    let tableplus = setup.home.run(&["setup", "tableplus", "prod"]);
    assert!(
        tableplus
            .ok()
            .stdout
            .contains("postgresql://jane@[::1]:15432/app?")
    );
    let dbeaver = setup.home.run(&["setup", "dbeaver", "prod"]);
    assert!(
        dbeaver
            .ok()
            .stdout
            .contains("jdbc:postgresql://[::1]:15432/app")
    );
    // libpq takes the bare address as hostaddr, and verifies the endpoint's name
    let service = setup.home.run(&["setup", "pgservice", "prod"]);
    assert!(
        service
            .ok()
            .stdout
            .contains("host=localhost\nhostaddr=::1\nport=15432\n")
    );
}

#[test]
fn write_goes_through_a_symlinked_file_to_its_target() {
    let setup = Setup::new();
    setup
        .home
        .config(setup.connection("prod", "postgres", 5432, ""));
    // A dotfile manager keeps ~/.pg_service.conf as a link into its repository.
    let target = setup
        .home
        .write("dotfiles/pg_service.conf", "[other]\nhost=o\n");
    let link = setup.home.path().join(".pg_service.conf");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    setup
        .home
        .run(&["setup", "pgservice", "prod", "--write"])
        .ok();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(text.starts_with("[other]\nhost=o\n") && text.contains("[prod]"));
    assert!(
        setup
            .home
            .path()
            .join("dotfiles/pg_service.conf.bak")
            .exists()
    );
}

#[test]
fn exec_removes_its_token_file_when_the_terminal_hangs_up() {
    let setup = Setup::new();
    setup
        .home
        .config(setup.connection("shop", "mysql", 3306, ""));
    let private_dirs = || {
        std::fs::read_dir(setup.home.cache_dir())
            .map(|d| {
                d.flatten()
                    .filter(|e| {
                        e.file_name()
                            .to_string_lossy()
                            .starts_with("rdsiam-helper-client-")
                    })
                    .count()
            })
            .unwrap_or(0)
    };
    let mut child = setup
        .home
        .cmd()
        .args(["exec", "shop", "--", "sleep", "30"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while private_dirs() == 0 && started.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(private_dirs(), 1, "exec made its private folder");
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(128 + libc::SIGHUP),
        "the child's fate is reported"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(private_dirs(), 0, "the token file went with it");
}
