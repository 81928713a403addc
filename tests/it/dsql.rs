//! Aurora DSQL through the binary: botocore's tokens byte for byte, the cache living each
//! token's own lifetime, the values a DSQL connection takes, and the private TLS PostgreSQL
//! standing in for a DSQL endpoint reached through a tunnel (its certificate names the DSQL
//! host), so psql gets in with a DSQL token through exec, .pgpass and connect.

use crate::common::servers::{DSQL_HOST, Postgres, TestCa};
use crate::common::*;
use serde_json::Value;
use std::process::Command;

/// The vectors' signing time, and the cluster in most of them (`DSQL_HOST`).
const SIGNED_AT: &str = "2026-11-25T12:00:00Z";

/// botocore's token for the named vector in tests/data/dsql_vectors.json.
fn vector(name: &str) -> String {
    let text = include_str!("../data/dsql_vectors.json");
    let vectors: Vec<Value> = serde_json::from_str(text).unwrap();
    let found = vectors.iter().find(|v| v["name"] == name).unwrap();
    assert!(found["session_token"].is_null(), "{name}: a static profile");
    found["token"].as_str().unwrap().to_string()
}

/// The AWS CLI drop-in asked for a token for the DSQL host: it signs an RDS token whatever the
/// host, as `aws rds generate-db-auth-token` does.
const DROP_IN_FOR_THE_DSQL_HOST: &[&str] = &[
    "rds",
    "generate-db-auth-token",
    "--hostname",
    DSQL_HOST,
    "--port",
    "5432",
    "--username",
    "admin",
    "--region",
    "us-east-1",
    "--profile",
    "p",
];
#[test]
fn tokens_are_botocores_for_both_actions_a_lifetime_and_a_bare_cluster_id() {
    let home = home_with(
        "p",
        "",
        &format!(
            "[connections.admin]\nhost = \"{DSQL_HOST}\"\nuser = \"admin\"\n\n\
         [connections.app]\nhost = \"{DSQL_HOST}\"\nuser = \"app_reader\"\n\n\
         [connections.forced]\nhost = \"{DSQL_HOST}\"\nuser = \"app_reader\"\ndsql_action = \"admin\"\n\n\
         [connections.hour]\nengine = \"dsql\"\nhost = \"abcdefghijklmnopqrstuvwxyz\"\nregion = \"us-east-1\"\n\
         user = \"admin\"\ntoken_lifetime = \"1h\"\n\n\
         [connections.eu]\nhost = \"s4abtwoqgjtpkqzkbtuyzcbxsu.dsql.eu-west-1.on.aws\"\nuser = \"admin\"\n"
        ),
    );
    for (name, vector_name) in [
        ("admin", "admin_basic"),
        ("app", "connect_basic"),
        ("forced", "admin_basic"),
        ("hour", "admin_lifetime_3600"),
        ("eu", "admin_eu_west_1"),
    ] {
        let token = home
            .run_at(SIGNED_AT, &["token", name, "--no-cache"])
            .ok()
            .token();
        assert_eq!(token, vector(vector_name), "connection {name}");
        // DSQL speaks PostgreSQL: the verb a GUI runs for the password serves it.
        let pg = home.run_at(SIGNED_AT, &["pg", name]).ok().token();
        assert_eq!(pg, vector(vector_name), "pg {name}");
    }
    let hour = home
        .run_at(SIGNED_AT, &["token", "hour", "--format", "json"])
        .ok()
        .json();
    assert_eq!(hour["host"], DSQL_HOST);
    assert_eq!(hour["port"], 5432);
    assert_eq!(hour["region"], "us-east-1");
    assert_eq!(hour["expires_at"], "2026-11-25T13:00:00Z");
    home.run_at(SIGNED_AT, &["mysql", "admin"])
        .code(2)
        .stderr_has("is a dsql connection, not mysql");
    // Ad hoc: the engine and the region come from the host's name.
    let ad_hoc = home
        .run_at(
            SIGNED_AT,
            &["token", "--host", DSQL_HOST, "--user", "jane", "--no-cache"],
        )
        .ok()
        .token();
    assert_eq!(ad_hoc, vector("connect_basic"));
    let bare = home
        .run_at(
            SIGNED_AT,
            &[
                "token",
                "--engine",
                "dsql",
                "--host",
                "abcdefghijklmnopqrstuvwxyz",
                "--region",
                "us-east-1",
                "--user",
                "admin",
                "--no-cache",
            ],
        )
        .ok()
        .token();
    assert_eq!(bare, vector("admin_basic"));
    home.run(&[
        "token", "--engine", "dsql", "--host", "abc", "--user", "admin",
    ])
    .code(2)
    .stderr_has("error: `abc` is a bare DSQL cluster id, and no region is set");
    // The AWS CLI drop-in signs an RDS token whatever the host, as `aws rds` does.
    let rds = home
        .run_at(SIGNED_AT, DROP_IN_FOR_THE_DSQL_HOST)
        .ok()
        .token();
    assert!(rds.contains("Action=connect&DBUser=admin"), "{rds}");
}

#[test]
fn the_cache_serves_a_dsql_token_for_its_own_lifetime_and_keys_on_the_action() {
    let home = home_with(
        "p",
        "",
        &format!(
            "[connections.hour]\nhost = \"{DSQL_HOST}\"\nuser = \"admin\"\ntoken_lifetime = \"1h\"\n\n\
         [connections.short]\nhost = \"{DSQL_HOST}\"\nuser = \"admin\"\n"
        ),
    );
    let start = minutes_from_now(0);
    let first = home.run_at(start, &["pg", "hour"]).ok().token();
    // Past an RDS token's 15 minutes, within the hour less refresh_before (5m): served.
    let later = home.run_at(start + 20 * 60, &["pg", "hour"]).ok().token();
    assert_eq!(later, first, "signed anew before the hour was up");
    let listed = home
        .run_at(start + 20 * 60, &["cache", "list"])
        .ok()
        .stdout
        .clone();
    assert!(!listed.contains("X-Amz-Signature"), "{listed}");
    // Within refresh_before of the hour: signed anew.
    let renewed = home.run_at(start + 56 * 60, &["pg", "hour"]).ok().token();
    assert_ne!(renewed, first);
    assert!(renewed.contains("X-Amz-Expires=3600&"), "{renewed}");

    // The default 15 minutes, as for RDS, in a cache entry of its own (another lifetime).
    let short = home.run_at(start, &["pg", "short"]).ok().token();
    assert!(short.contains("X-Amz-Expires=900&"), "{short}");
    let short_later = home.run_at(start + 11 * 60, &["pg", "short"]).ok().token();
    assert_ne!(short_later, short, "a 15-minute token is stale after 10");
    // Another action for the same user and host is another token.
    let as_user = home
        .run_at(start + 11 * 60, &["token", "short", "--user", "jane"])
        .ok()
        .token();
    assert!(as_user.contains("Action=DbConnect&"), "{as_user}");
    let again = home.run_at(start + 11 * 60, &["pg", "short"]).ok().token();
    assert_eq!(again, short_later);
}

#[test]
fn dsql_values_are_inferred_expanded_and_refused_where_given() {
    let home = home_with(
        "p",
        "",
        "[connections.bare]\nengine = \"dsql\"\nhost = \"ABCDEFGHIJKLMNOPQRSTUVWXYZ\"\nregion = \"us-east-1\"\nuser = \"admin\"\n",
    );
    let show = home.run(&["connections", "show", "bare"]);
    show.ok();
    for line in [
        "engine = dsql",
        &format!("host = {DSQL_HOST}"),
        "port = 5432",
        "region = us-east-1",
        "dsql_action = admin",
        "token_lifetime = 15m",
    ] {
        assert!(show.stdout.contains(line), "{line}:\n{}", show.stdout);
    }

    let refused = [
        (
            "[connections.x]\nengine = \"dsql\"\nhost = \"abc123\"\nuser = \"admin\"\n",
            "is a bare DSQL cluster id, and no region is set",
        ),
        (
            "[connections.x]\nhost = \"db.abc.us-east-1.rds.amazonaws.com\"\nuser = \"a\"\ntoken_lifetime = \"1h\"\n",
            "only for engine = \"dsql\"",
        ),
        (
            &format!(
                "[connections.x]\nhost = \"{DSQL_HOST}\"\nuser = \"a\"\ntoken_lifetime = \"8d\"\n"
            ),
            "longer than the week (604800 s) Aurora DSQL accepts",
        ),
        (
            &format!(
                "[connections.x]\nhost = \"{DSQL_HOST}\"\nuser = \"a\"\ndsql_action = \"root\"\n"
            ),
            "unknown DSQL action `root`",
        ),
        (
            &format!(
                "[connections.x]\nhost = \"{DSQL_HOST}\"\nuser = \"a\"\ntoken_lifetime = \"2m\"\n"
            ),
            "is not longer than refresh_before",
        ),
    ];
    for (config, message) in refused {
        let home = home_with("p", "", config);
        home.run(&["token", "x"]).code(1).stderr_has(message);
    }

    // `connections add` infers the engine from the host and keeps the DSQL keys as typed.
    let home = home_with("p", "", "");
    home.run(&[
        "connections",
        "add",
        "c",
        "--host",
        DSQL_HOST,
        "--user",
        "admin",
        "--token-lifetime",
        "2h",
        "--dsql-action",
        "admin",
    ])
    .ok();
    let text = std::fs::read_to_string(home.config_path()).unwrap();
    assert!(
        text.contains("engine = \"dsql\"")
            && text.contains("token_lifetime = \"2h\"")
            && text.contains("dsql_action = \"admin\""),
        "{text}"
    );
    let token = home.run(&["pg", "c"]).ok().token();
    assert!(token.contains("X-Amz-Expires=7200&"), "{token}");
}

/// The local PostgreSQL as a DSQL cluster behind a tunnel: clients dial the forward, TLS
/// verifies the DSQL name (in the test certificate), the role's password is a DSQL token.
struct Stand {
    home: Home,
    ca: TestCa,
    pg: Postgres,
    forward: u16,
}

fn stand_in(ca_bundle: bool) -> Option<Stand> {
    require_program("psql", "apt-get install postgresql-client")?;
    let ca = TestCa::new();
    let pg = Postgres::start(&ca)?;
    let forward = tcp_forward(pg.port());
    let ca_line = match ca_bundle {
        true => format!("ca_bundle = \"{}\"\n", ca.ca_pem().display()),
        false => String::new(),
    };
    let home = home_with(
        "p",
        "",
        &format!(
            "[connections.dsql]\nhost = \"{DSQL_HOST}\"\nuser = \"admin\"\ntunnel = \"127.0.0.1:{forward}\"\n{ca_line}\n\
         [connections.direct]\nhost = \"{DSQL_HOST}\"\nuser = \"admin\"\n{ca_line}"
        ),
    );
    Some(Stand {
        home,
        ca,
        pg,
        forward,
    })
}

impl Stand {
    fn cmd_with_system_store(&self) -> Command {
        let mut cmd = self.home.cmd();
        // OpenSSL's default store, which libpq's `sslrootcert=system` reads, and so the
        // system store this tool uses for DSQL; the OS bundle cannot hold the test CA.
        cmd.env("SSL_CERT_FILE", self.ca.ca_pem());
        cmd
    }
}

#[test]
fn psql_gets_into_the_dsql_stand_in_through_exec_pgpass_connect_and_refresh() {
    let Some(stand) = stand_in(true) else {
        return;
    };
    let home = &stand.home;
    let token = home.run(&["pg", "dsql"]).ok().token();
    assert!(token.starts_with(&format!("{DSQL_HOST}/?Action=DbConnectAdmin&")));
    stand.pg.create_role("admin", &token);

    let exec = home.run(&[
        "exec",
        "dsql",
        "--",
        "psql",
        "-XtAc",
        "select current_user, current_database(), inet_server_port()",
    ]);
    exec.ok();
    assert_eq!(
        exec.stdout.trim(),
        format!("admin|postgres|{}", stand.pg.port())
    );
    let connect = home.run(&["connect", "dsql", "--", "-XtAc", "select current_user"]);
    connect.ok();
    assert_eq!(connect.stdout.trim(), "admin");

    // .pgpass and pg_service.conf: psql with no password of ours, TLS verified for the DSQL name.
    home.run(&["setup", "pgpass", "dsql", "--write"]).ok();
    home.run(&["setup", "pgservice", "dsql", "--write"]).ok();
    let psql = |home: &Home| {
        Run::from(
            Command::new("psql")
                .env_clear()
                .env("HOME", home.path())
                .env("PATH", std::env::var_os("PATH").unwrap())
                .args(["-XtAc", "select current_user", "service=dsql"])
                .output()
                .unwrap(),
        )
    };
    let run = psql(home);
    run.ok();
    assert_eq!(run.stdout.trim(), "admin");
    let service = std::fs::read_to_string(home.path().join(".pg_service.conf")).unwrap();
    assert!(
        service.contains(&format!("host={DSQL_HOST}"))
            && service.contains(&format!("port={}", stand.forward))
            && service.contains("sslmode=verify-full"),
        "{service}"
    );

    // Sixteen minutes on the 15-minute token is dead: refresh writes a new one that gets in.
    let later = minutes_from_now(16);
    home.run_at(later, &["refresh", "--all"]).ok();
    let fresh = home.run_at(later, &["pg", "dsql"]).ok().token();
    assert_ne!(fresh, token);
    stand.pg.set_password("admin", &fresh);
    let run = psql(home);
    run.ok();
    assert_eq!(run.stdout.trim(), "admin");
    let pgpass = std::fs::read_to_string(home.path().join(".pgpass")).unwrap();
    assert!(pgpass.contains(&fresh.replace(':', "\\:")), "not refreshed");
}

#[test]
fn dsql_verifies_against_the_system_trust_store_by_default() {
    let Some(stand) = stand_in(false) else {
        return;
    };
    let home = &stand.home;
    stand
        .pg
        .create_role("admin", &home.run(&["pg", "dsql"]).ok().token());

    // With the test CA as the system store, psql gets in through connect and exec.
    let connect = Run::from(
        stand
            .cmd_with_system_store()
            .args(["connect", "dsql", "--", "-XtAc", "select current_user"])
            .output()
            .unwrap(),
    );
    connect.ok();
    assert_eq!(connect.stdout.trim(), "admin");
    let exec = Run::from(
        stand
            .cmd_with_system_store()
            .args([
                "exec",
                "dsql",
                "--",
                "sh",
                "-c",
                "echo \"$PGSSLROOTCERT\"; psql -XtAc 'select 1'",
            ])
            .output()
            .unwrap(),
    );
    exec.ok();
    assert_eq!(
        exec.stdout.trim(),
        format!("{}\n1", stand.ca.ca_pem().display())
    );

    // With the machine's own store the test server is refused: the default is the system's,
    // not a bundle of ours (nor the RDS global bundle, which does not exist here).
    let refused = home.run(&[
        "exec",
        "dsql",
        "--",
        "sh",
        "-c",
        "echo \"$PGSSLROOTCERT\"; psql -XtAc 'select 1'",
    ]);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    let rds_bundle = home.path().join(".aws/rds/global-bundle.pem");
    assert!(!refused.stdout.contains(&rds_bundle.display().to_string()));
    assert!(
        refused.stderr.contains("certificate verify failed"),
        "{}",
        refused.stderr
    );

    // Each set-up says where the CAs come from.
    let datagrip = home.run(&["setup", "datagrip", "direct"]);
    datagrip
        .ok()
        .stderr_has("verified against the system trust store");
    // pgjdbc verifies in full against the OS bundle.
    assert!(
        datagrip.stdout.contains("sslmode=verify-full"),
        "{}",
        datagrip.stdout
    );
    let ca_cert = datagrip
        .stdout
        .split("<ca-cert>")
        .nth(1)
        .and_then(|rest| rest.split("</ca-cert>").next())
        .unwrap();
    assert!(
        std::path::Path::new(ca_cert).is_file() && !ca_cert.contains("rds"),
        "{ca_cert}"
    );
    assert!(
        datagrip.stdout.contains("pgpass"),
        "DSQL's DataGrip password comes from .pgpass"
    );
    home.run(&["setup", "datagrip", "direct", "--auth", "aws-toolkit"])
        .code(2)
        .stderr_has("the AWS Toolkit signs RDS tokens only");
    home.run(&["setup", "pgservice", "dsql"])
        .ok()
        .stderr_has("verified against the system trust store");
    home.run(&["setup", "dbeaver", "direct"])
        .ok()
        .stderr_has("which pgjdbc reads");
    // libpq dials the tunnel by hostaddr and still checks the endpoint's name.
    let pgadmin = home.run(&["setup", "pgadmin", "dsql"]);
    pgadmin.ok().stderr_has("which pgAdmin's libpq reads");
    assert!(
        pgadmin
            .stdout
            .contains(&format!("\"sslrootcert\": \"{ca_cert}\""))
    );
    assert!(pgadmin.stdout.contains("\"sslmode\": \"verify-full\""));
    assert!(pgadmin.stdout.contains(" pg dsql\""), "{}", pgadmin.stdout);
    let tableplus = home.run(&["setup", "tableplus", "direct"]);
    tableplus.ok().stderr_has("which TablePlus reads");
    assert!(tableplus.stdout.contains(&format!("SSL CA:    {ca_cert}")));
    assert!(
        tableplus.stdout.contains(" pg direct\n"),
        "{}",
        tableplus.stdout
    );
    assert!(
        tableplus.stdout.contains("Database:  postgres\n"),
        "{}",
        tableplus.stdout
    );
    // A client that dials the tunnel by address could neither send DSQL the endpoint's name
    // (SNI) nor check it, and a public CA proves nothing: refused, pointing at the proxy.
    for client in ["datagrip", "dbeaver", "tableplus"] {
        home.run(&["setup", client, "dsql"])
            .code(2)
            .stderr_has("could neither send nor check the Aurora DSQL endpoint's name")
            .stderr_has("--via-proxy");
    }
    home.run(&["setup", "mysql", "dsql"])
        .code(2)
        .stderr_has("is for mysql connections; `dsql` is dsql");
}

#[test]
fn doctor_token_decodes_a_dsql_token_and_finds_the_wrong_action() {
    let home = home_with(
        "p",
        "",
        &format!(
            "[connections.admin]\nhost = \"{DSQL_HOST}\"\nuser = \"admin\"\n\n\
         [connections.app]\nhost = \"{DSQL_HOST}\"\nuser = \"app_reader\"\n"
        ),
    );
    let doctor = |name: &str, token: &str| {
        use std::io::Write;
        let mut child = home
            .cmd()
            .args(["doctor", name, "--token"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(token.as_bytes())
            .unwrap();
        let run = Run::from(child.wait_with_output().unwrap());
        assert_no_secret("doctor's stdout", &run.stdout, &[]);
        run
    };
    let admin = home.run(&["token", "admin"]).ok().token();
    let run = doctor("admin", &admin);
    run.ok();
    assert!(
        run.stdout.contains(&format!(
            "signed for Aurora DSQL DbConnectAdmin on {DSQL_HOST} in us-east-1 by access key {ACCESS_KEY_ID}"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("action       DbConnectAdmin matches"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("port"), "a DSQL token names no port");
    // A DbConnect token for the admin connection: the cluster would refuse it.
    let app = home.run(&["token", "app"]).ok().token();
    let run = doctor("admin", &app);
    run.code(1);
    assert!(
        run.stdout
            .contains("signed for DbConnect, the connection (user `admin`) signs DbConnectAdmin"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_engine_the_host_contradicts_is_warned_of_where_a_token_is_issued() {
    let home = home_with(
        "p",
        "",
        &format!(
            "[connections.pg_on_dsql]\nengine = \"postgres\"\nhost = \"{DSQL_HOST}\"\nuser = \"admin\"\n\n\
         [connections.dsql_on_rds]\nengine = \"dsql\"\nhost = \"{HOST}\"\nuser = \"admin\"\n\n\
         [connections.fine]\nhost = \"{DSQL_HOST}\"\nuser = \"admin\"\n"
        ),
    );
    let warned = "warning: engine postgres signs an RDS token, but abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws is an Aurora DSQL endpoint: the cluster will refuse it";
    let run = home.run_at(SIGNED_AT, &["token", "pg_on_dsql", "--no-cache"]);
    run.ok().stderr_has(warned);
    // The token is still the one asked for: an RDS token, signed for the host and port.
    assert!(run.token().contains(":5432/?Action=connect&DBUser=admin"));
    let ad_hoc = [
        "token", "--host", DSQL_HOST, "--user", "admin", "--engine", "mysql", "--port", "5432",
    ];
    home.run_at(SIGNED_AT, &ad_hoc)
        .ok()
        .stderr_has("warning: engine mysql signs an RDS token, but abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws is an Aurora DSQL endpoint");
    home.run_at(SIGNED_AT, &["pg", "dsql_on_rds"]).ok().stderr_has(&format!(
        "warning: engine dsql signs an Aurora DSQL token, but {HOST} is an RDS endpoint: the server will refuse it"
    ));
    home.run_at(
        SIGNED_AT,
        &[
            "token", "--host", HOST, "--engine", "dsql", "--user", "admin",
        ],
    )
    .ok()
    .stderr_has("is an RDS endpoint: the server will refuse it");
    // An engine the host agrees with, and the AWS CLI drop-in (an RDS token whatever the
    // host, as `aws rds` signs), say nothing.
    let fine = home.run_at(SIGNED_AT, &["token", "fine"]);
    assert!(!fine.ok().stderr.contains("warning"), "{}", fine.stderr);
    let drop_in = home.run_at(SIGNED_AT, DROP_IN_FOR_THE_DSQL_HOST);
    assert!(
        !drop_in.ok().stderr.contains("warning"),
        "{}",
        drop_in.stderr
    );

    // A region against the host's: the DSQL cluster refuses it, not "RDS".
    let other_region = home.run_at(SIGNED_AT, &["token", "fine", "--region", "eu-west-1"]);
    other_region.ok().stderr_has(&format!(
        "signing for region eu-west-1, but the endpoint {DSQL_HOST} is in us-east-1; the cluster will refuse the token"
    ));
    assert!(
        !other_region.stderr.contains("RDS"),
        "{}",
        other_region.stderr
    );
    home.run_at(
        SIGNED_AT,
        &[
            "token",
            "--host",
            HOST,
            "--user",
            "jane",
            "--region",
            "eu-west-1",
        ],
    )
    .ok()
    .stderr_has("is in us-east-1; the server will refuse the token");
}

/// `doctor NAME --token` with `token` on stdin.
fn doctor_token(home: &Home, name: &str, token: &str) -> Run {
    use std::io::Write;
    let mut child = home
        .cmd()
        .args(["doctor", name, "--token", "--format", "json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(token.as_bytes())
        .unwrap();
    let run = Run::from(child.wait_with_output().unwrap());
    assert_no_secret("doctor's stdout", &run.stdout, &[]);
    run
}

fn token_check(run: &Run, check: &str) -> Value {
    run.json()["sections"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == check)
        .unwrap_or_else(|| panic!("no {check}: {}", run.stdout))
        .clone()
}

#[test]
fn doctor_token_fails_a_lifetime_over_what_the_server_accepts() {
    let home = home_with(
        "p",
        "",
        &format!(
            "[connections.week]\nhost = \"{DSQL_HOST}\"\nuser = \"admin\"\ntoken_lifetime = \"1w\"\n\n\
         [connections.rds]\nhost = \"{HOST}\"\nuser = \"jane\"\n"
        ),
    );
    let week = home.run(&["token", "week"]).ok().token();
    assert!(week.contains("X-Amz-Expires=604800&"), "{week}");
    let run = doctor_token(&home, "week", &week);
    run.ok();
    let ok = token_check(&run, "lifetime");
    assert_eq!(ok["status"], "ok", "{ok}");
    assert_eq!(
        ok["message"],
        "signed for 604800 s, within the 604800 s Aurora DSQL accepts"
    );
    // A second more than a week: Aurora DSQL refuses it.
    let over = week.replace("X-Amz-Expires=604800&", "X-Amz-Expires=604801&");
    let run = doctor_token(&home, "week", &over);
    run.code(1);
    let fail = token_check(&run, "lifetime");
    assert_eq!(fail["status"], "fail", "{fail}");
    assert_eq!(
        fail["message"],
        "signed for 604801 s (X-Amz-Expires), over the 604800 s Aurora DSQL accepts: the server refuses it"
    );
    // RDS takes 900 s at most: a DSQL lifetime on an RDS token is refused.
    let rds = home.run(&["token", "rds"]).ok().token();
    let run = doctor_token(&home, "rds", &rds);
    run.ok();
    assert_eq!(token_check(&run, "lifetime")["status"], "ok");
    let hour = rds.replace("X-Amz-Expires=900&", "X-Amz-Expires=3600&");
    let run = doctor_token(&home, "rds", &hour);
    run.code(1);
    let fail = token_check(&run, "lifetime");
    assert_eq!(
        fail["message"],
        "signed for 3600 s (X-Amz-Expires), over the 900 s RDS accepts: the server refuses it"
    );
    assert!(
        fail["fix"][0]
            .as_str()
            .unwrap()
            .starts_with("sign it for 900 s"),
        "{fail}"
    );
}

#[test]
fn a_bare_cluster_id_given_ad_hoc_takes_the_environments_region_and_the_file_does_not() {
    let home = home_with(
        "p",
        "",
        "[connections.named]\nhost = \"db.example.com\"\nuser = \"admin\"\n",
    );
    let ad_hoc = |env: &[(&str, &str)], args: &[&str]| {
        let mut cmd = home.cmd_at(SIGNED_AT);
        cmd.envs(env.iter().copied()).args(args);
        Run::from(cmd.output().unwrap())
    };
    let bare = [
        "token",
        "--engine",
        "dsql",
        "--host",
        "abcdefghijklmnopqrstuvwxyz",
        "--user",
        "admin",
        "--no-cache",
    ];
    // AWS_REGION, else AWS_DEFAULT_REGION, as the AWS SDKs read them.
    for env in [
        &[("AWS_REGION", "us-east-1")][..],
        &[("AWS_DEFAULT_REGION", "us-east-1")],
        &[
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
        ],
    ] {
        let token = ad_hoc(env, &bare).ok().token();
        assert_eq!(token, vector("admin_basic"), "{env:?}");
    }
    // The command line's region beats the environment's.
    let mut flagged = bare.to_vec();
    flagged.extend(["--region", "us-east-1", "--format", "json"]);
    let run = ad_hoc(&[("AWS_REGION", "eu-west-1")], &flagged);
    assert_eq!(run.ok().json()["host"], DSQL_HOST);
    // None at all: the error lists where a region comes from.
    ad_hoc(&[], &bare)
        .code(2)
        .stderr_has("error: `abcdefghijklmnopqrstuvwxyz` is a bare DSQL cluster id, and no region is set to expand it with")
        .stderr_has("hint: a region comes from the command line, [defaults] region in ")
        .stderr_has(", AWS_REGION or AWS_DEFAULT_REGION");
    ad_hoc(&[("AWS_REGION", "moon")], &bare)
        .code(2)
        .stderr_has("error: AWS_REGION: `moon` is not an AWS region");
    // A connection in the file names its region itself: the environment's is not taken,
    // neither for a bare cluster id given on the command line to a named connection...
    let named = [
        "token",
        "named",
        "--engine",
        "dsql",
        "--host",
        "abcdefghijklmnopqrstuvwxyz",
    ];
    ad_hoc(&[("AWS_REGION", "us-east-1")], &named)
        .code(2)
        .stderr_has("is a bare DSQL cluster id, and no region is set")
        .stderr_has("hint: a region comes from the command line, or `region` of connection `named` or [defaults] in ");
    // ...nor for one in the file.
    home.config(
        "[connections.bare]\nengine = \"dsql\"\nhost = \"abcdefghijklmnopqrstuvwxyz\"\nuser = \"admin\"\n",
    );
    ad_hoc(&[("AWS_REGION", "us-east-1")], &["token", "bare"])
        .code(1)
        .stderr_has(
            "`connections.bare.host`: `abcdefghijklmnopqrstuvwxyz` is a bare DSQL cluster id",
        )
        .stderr_has("(`region` in the connection or in [defaults])");
}

#[test]
fn refresh_before_may_exceed_fifteen_minutes_where_the_dsql_lifetime_leaves_room() {
    let home = home_with(
        "p",
        "",
        &format!(
            "[connections.hour]\nhost = \"{DSQL_HOST}\"\nuser = \"admin\"\ntoken_lifetime = \"1h\"\nrefresh_before = \"20m\"\n"
        ),
    );
    let start = minutes_from_now(0);
    let first = home.run_at(start, &["pg", "hour"]).ok().token();
    assert!(first.contains("X-Amz-Expires=3600&"), "{first}");
    // Served while 20 minutes are left, signed anew after.
    let served = home.run_at(start + 39 * 60, &["pg", "hour"]).ok().token();
    assert_eq!(served, first);
    let renewed = home.run_at(start + 41 * 60, &["pg", "hour"]).ok().token();
    assert_ne!(renewed, first);

    // Each refusal names the line of the key that is wrong, not the table's header.
    let cases = [
        // RDS: its tokens live 15 minutes, so refresh_before is what is wrong.
        (
            format!("[connections.x]\nhost = \"{HOST}\"\nuser = \"a\"\nrefresh_before = \"20m\"\n"),
            "config.toml:4: `connections.x.refresh_before`: an RDS token lives 15 minutes; refresh_before must be shorter (it is 20m)",
        ),
        (
            format!(
                "[defaults]\nrefresh_before = \"15m\"\n\n[connections.x]\nhost = \"{HOST}\"\nuser = \"a\"\n"
            ),
            "config.toml:2: `defaults.refresh_before`: an RDS token lives 15 minutes; refresh_before must be shorter (it is 15m) (connection `x`)",
        ),
        // DSQL: token_lifetime when it is set, the connection's own before [defaults].
        (
            format!(
                "[connections.x]\nhost = \"{DSQL_HOST}\"\nuser = \"a\"\ntoken_lifetime = \"2m\"\n"
            ),
            "config.toml:4: `connections.x.token_lifetime`: token_lifetime 2m is not longer than refresh_before (5m)",
        ),
        (
            format!(
                "[defaults]\ntoken_lifetime = \"1h\"\n\n[connections.x]\nhost = \"{DSQL_HOST}\"\nuser = \"a\"\n\nrefresh_before = \"2h\"\n"
            ),
            "config.toml:8: `connections.x.refresh_before`: token_lifetime 1h is not longer than refresh_before (2h)",
        ),
        (
            format!(
                "[defaults]\nrefresh_before = \"20m\"\n\n[connections.x]\nhost = \"{DSQL_HOST}\"\nuser = \"a\"\n"
            ),
            "config.toml:2: `defaults.refresh_before`: token_lifetime 15m is not longer than refresh_before (20m): every token would be stale when signed; lengthen token_lifetime or shorten refresh_before (connection `x`)",
        ),
        (
            format!(
                "[defaults]\nrefresh_before = \"20m\"\ntoken_lifetime = \"10m\"\n\n[connections.x]\nhost = \"{DSQL_HOST}\"\nuser = \"a\"\n"
            ),
            "config.toml:3: `defaults.token_lifetime`: token_lifetime 10m is not longer than refresh_before (20m)",
        ),
    ];
    for (config, message) in cases {
        let home = Home::new();
        home.config(&config);
        home.run(&["token", "x"]).code(1).stderr_has(message);
    }

    // Ad hoc, [defaults] decides: a DSQL host with a lifetime that leaves room signs; an RDS
    // host is refused at the line of [defaults] refresh_before.
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    home.config(format!(
        "[defaults]\naws_profile = \"p\"\nrefresh_before = \"20m\"\ntoken_lifetime = \"1h\"\n\n\
         [connections.hour]\nhost = \"{DSQL_HOST}\"\nuser = \"admin\"\n"
    ));
    let dsql = home
        .run(&["token", "--host", DSQL_HOST, "--user", "admin"])
        .ok()
        .token();
    assert!(dsql.contains("X-Amz-Expires=3600&"), "{dsql}");
    home.run(&["token", "--host", HOST, "--user", "jane"])
        .code(1)
        .stderr_has(&format!(
            "config.toml:3: `defaults.refresh_before`: an RDS token lives 15 minutes; refresh_before must be shorter (it is 20m) (for jane@{HOST}:5432)"
        ));
    // A DSQL connection made to sign an RDS token gets the RDS token's life, and its
    // refresh_before no longer fits.
    home.run(&["token", "hour", "--engine", "postgres"])
        .code(1)
        .stderr_has("config.toml: connection `hour` as engine postgres: an RDS token lives 15 minutes; refresh_before must be shorter (it is 20m)");
}

#[test]
fn setup_pgpass_says_how_long_the_written_token_lasts() {
    let home = home_with(
        "p",
        "",
        &format!(
            "[connections.hour]\nhost = \"{DSQL_HOST}\"\nuser = \"admin\"\ntoken_lifetime = \"1h\"\n\n\
         [connections.short]\nhost = \"{DSQL_HOST}\"\nuser = \"app\"\n"
        ),
    );
    let pgpass = home.path().join(".pgpass");
    let pgpass = pgpass.to_str().unwrap();
    let hour = home.run(&["setup", "pgpass", "hour", "--write", pgpass]);
    hour.ok()
        .stderr_has("the token there lasts 1h; keep it fresh by running");
    assert!(!hour.stderr.contains("15 minutes"), "{}", hour.stderr);
    home.run(&["setup", "pgpass", "short", "--write", pgpass])
        .ok()
        .stderr_has("the token there lasts 15m; keep it fresh by running");
}

/// The proxy in front of the DSQL stand-in: psql connects to it with no password, and the
/// proxy signs in with a DSQL admin token over TLS verified against the DSQL name (the
/// certificate's), through the tunnel.
#[test]
fn psql_gets_into_the_dsql_stand_in_through_the_proxy() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let Some(stand) = stand_in(true) else {
        return;
    };
    let home = &stand.home;
    let token = home.run(&["pg", "dsql"]).ok().token();
    stand.pg.create_role("admin", &token);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = home.path().join("proxy.log");
    let mut proxy = home
        .cmd()
        .args(["proxy", "dsql", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !read_log().contains("listening on") {
        assert!(
            Instant::now() < deadline,
            "the proxy did not start:\n{}",
            read_log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = Command::new(stand.pg.psql())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args(["-X", "-A", "-t", "-w", "-d"])
        .arg(format!(
            "host=127.0.0.1 port={port} user=admin dbname=postgres sslmode=disable connect_timeout=10"
        ))
        .args(["-c", "select current_user, ssl from pg_stat_ssl where pid = pg_backend_pid()"])
        .output()
        .unwrap();
    // The session's log line is written once it has ended.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !read_log().contains("user=admin") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = proxy.kill();
    let _ = proxy.wait();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "admin|t",
        "{}\nproxy log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        read_log()
    );
    let log = read_log();
    assert!(
        log.contains(&format!(
            "-> {DSQL_HOST}:5432 via 127.0.0.1:{}",
            stand.forward
        )),
        "{log}"
    );
    assert_no_secret("the proxy's log", &log, &[&token]);
}
