//! `doctor`, the AWS-side commands (`connections discover`, `policy`, `sql-user`, `ca install`,
//! `profiles`) and `token --verify`, against fakes of STS, RDS and IAM on loopback and the
//! private PostgreSQL and MariaDB servers.

use crate::common;
use crate::common::fake_aws;

use crate::common::fake_aws::{
    AwsState, DsqlState, Endpoints, FakeAws, FakeCluster, FakeInstance, FakeProxy,
};
use crate::common::servers::{Mariadb, Postgres, TestCa};
use crate::common::{Home, Run, jane_with};
use std::sync::{Arc, Mutex};

const ACCOUNT: &str = "123456789012";
const ROLE: &str = "AWSReservedSSO_DBAccess_0123456789abcdef";
const INSTANCE_HOST: &str = "prod-db.abc123.us-east-1.rds.invalid";
const WRITER: &str = "aurora.cluster-abc123.us-east-1.rds.invalid";
const READER: &str = "aurora.cluster-ro-abc123.us-east-1.rds.invalid";
const CUSTOM: &str = "analytics.cluster-custom-abc123.us-east-1.rds.invalid";
const PROXY: &str = "app-proxy.proxy-abc123.us-east-1.rds.invalid";
const PROXY_READER: &str = "ro.endpoint.proxy-abc123.us-east-1.rds.invalid";

fn role_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/{ROLE}")
}

fn dbuser(resource_id: &str, user: &str) -> String {
    format!("arn:aws:rds-db:us-east-1:{ACCOUNT}:dbuser:{resource_id}/{user}")
}

/// An account with one instance, one Aurora cluster (writer, reader, custom endpoint) and a
/// proxy; `jane` is allowed on the instance only.
fn account() -> AwsState {
    AwsState {
        caller_arn: format!("arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/jane"),
        sts_error: None,
        instances: vec![
            FakeInstance {
                id: "prod-db".into(),
                engine: "postgres".into(),
                address: INSTANCE_HOST.into(),
                port: 5432,
                iam_auth: true,
                resource_id: "db-ABCDEFGHIJKLMNOP".into(),
                cluster: None,
            },
            FakeInstance {
                id: "aurora-1".into(),
                engine: "aurora-postgresql".into(),
                address: "aurora-1.abc123.us-east-1.rds.invalid".into(),
                port: 5432,
                iam_auth: true,
                resource_id: "db-AURORAINSTANCE1".into(),
                cluster: Some("aurora".into()),
            },
        ],
        clusters: vec![FakeCluster {
            id: "aurora".into(),
            engine: "aurora-postgresql".into(),
            writer: WRITER.into(),
            reader: READER.into(),
            custom: vec![CUSTOM.into()],
            port: 5432,
            iam_auth: true,
            resource_id: "cluster-QRSTUVWXYZ012345".into(),
        }],
        proxies: vec![FakeProxy {
            name: "app-proxy".into(),
            arn: format!("arn:aws:rds:us-east-1:{ACCOUNT}:db-proxy:prx-0123456789abcdef0"),
            engine_family: "POSTGRESQL".into(),
            endpoint: PROXY.into(),
            iam_auth: "REQUIRED".into(),
            extra_endpoints: vec![PROXY_READER.into()],
        }],
        role_arn: Some(role_arn()),
        allowed: vec![(
            role_arn(),
            dbuser("db-ABCDEFGHIJKLMNOP", "jane"),
            "jane".into(),
            "DbConnectByUsername".into(),
        )],
        allowed_dsql: Vec::new(),
        sts_secret: None,
        broken: Vec::new(),
    }
}

struct Aws {
    state: Arc<Mutex<AwsState>>,
    server: FakeAws,
    /// The Aurora DSQL control plane: no cluster unless a test adds some.
    dsql_state: Arc<Mutex<DsqlState>>,
    dsql: FakeAws,
    endpoints: Endpoints,
}

impl Aws {
    fn new(state: AwsState) -> Aws {
        let state = Arc::new(Mutex::new(state));
        let dsql_state = Arc::new(Mutex::new(DsqlState::default()));
        let server = fake_aws::aws_query(state.clone());
        let dsql = fake_aws::dsql(
            dsql_state.clone(),
            "us-east-1",
            common::ACCESS_KEY_ID,
            common::SECRET_ACCESS_KEY,
        );
        let endpoints = Endpoints::new()
            .with("STS", &server)
            .with("RDS", &server)
            .with("IAM", &server)
            .with("DSQL", &dsql);
        Aws {
            server,
            state,
            dsql,
            dsql_state,
            endpoints,
        }
    }

    fn run(&self, home: &Home, args: &[&str]) -> Run {
        self.run_with_stdin(home, args, "")
    }

    fn run_with_stdin(&self, home: &Home, args: &[&str], stdin: &str) -> Run {
        self.run_env(home, args, stdin, &[])
    }

    /// `run_with_stdin` with more environment variables (or some replaced, such as PATH).
    fn run_env(&self, home: &Home, args: &[&str], stdin: &str, env: &[(&str, String)]) -> Run {
        use std::io::Write;
        let mut cmd = home.cmd();
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        self.endpoints
            .apply(&mut cmd)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let run = Run::from(child.wait_with_output().unwrap());
        self.endpoints.assert_no_other_service_called();
        run
    }
}

/// The check named `check` in the section for `section`.
fn check<'a>(report: &'a serde_json::Value, section: &str, check: &str) -> &'a serde_json::Value {
    report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == section)
        .unwrap_or_else(|| panic!("no section {section} in {report:#}"))["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == check)
        .unwrap_or_else(|| panic!("no check {check} in {section}: {report:#}"))
}

#[test]
fn doctor_finds_instances_clusters_by_reader_and_custom_endpoint_and_proxies() {
    let home = jane_with(&format!(
        "[connections.inst]\nhost = \"{INSTANCE_HOST}\"\n\
         [connections.writer]\nhost = \"{WRITER}\"\n\
         [connections.reader]\nhost = \"{READER}\"\n\
         [connections.custom]\nhost = \"{CUSTOM}\"\n\
         [connections.member]\nhost = \"aurora-1.abc123.us-east-1.rds.invalid\"\n\
         [connections.proxy]\nhost = \"{PROXY}\"\n\
         [connections.proxy-ro]\nhost = \"{PROXY_READER}\"\n\
         [connections.gone]\nhost = \"gone.abc123.us-east-1.rds.invalid\"\n"
    ));
    let aws = Aws::new(account());
    let run = aws.run(&home, &["doctor", "--format", "json"]);
    // `gone` has no resource, and .invalid names do not resolve: failures, so exit 1.
    run.code(1);
    let report = run.json();
    assert_eq!(report["ok"], false);
    let found = |section: &str| {
        check(&report, section, "rds")["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        found("inst").contains("instance `prod-db` (instance endpoint"),
        "{}",
        found("inst")
    );
    assert!(found("writer").contains("cluster `aurora` (writer endpoint"));
    assert!(found("reader").contains("cluster `aurora` (reader endpoint"));
    assert!(found("custom").contains("cluster `aurora` (custom endpoint"));
    assert!(found("member").contains("cluster `aurora` (instance endpoint"));
    assert!(found("proxy").contains("proxy `app-proxy` (proxy endpoint"));
    assert!(found("proxy").contains("prx-0123456789abcdef0"));
    assert!(found("proxy-ro").contains("proxy `app-proxy` (proxy endpoint (custom)"));
    assert_eq!(check(&report, "gone", "rds")["status"], "fail");
    assert!(
        check(&report, "gone", "rds")["fix"][0]
            .as_str()
            .unwrap()
            .contains("connections discover")
    );
    for section in ["inst", "reader", "proxy"] {
        assert_eq!(
            check(&report, section, "iam_auth")["status"],
            "ok",
            "{section}"
        );
        let caller = check(&report, section, "caller");
        assert_eq!(caller["status"], "ok");
        assert!(
            caller["message"]
                .as_str()
                .unwrap()
                .contains(&format!("assumed-role/{ROLE}/jane"))
        );
    }
}

#[test]
fn doctor_reports_iam_auth_off_with_the_modify_command_and_on_as_ok() {
    let home = jane_with(&format!(
        "[connections.inst]\nhost = \"{INSTANCE_HOST}\"\n[connections.reader]\nhost = \"{READER}\"\n"
    ));
    let mut state = account();
    state.instances[0].iam_auth = false;
    state.clusters[0].iam_auth = false;
    let aws = Aws::new(state);
    let run = aws.run(&home, &["doctor"]);
    run.code(1);
    assert!(
        run.stdout.contains(
            "FAIL  iam_auth     IAM database authentication is off for instance `prod-db`"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("fix: aws rds modify-db-instance --db-instance-identifier prod-db --apply-immediately --enable-iam-database-authentication"), "{}", run.stdout);
    assert!(run.stdout.contains("fix: aws rds modify-db-cluster --db-cluster-identifier aurora --apply-immediately --enable-iam-database-authentication"), "{}", run.stdout);

    aws.state.lock().unwrap().instances[0].iam_auth = true;
    let report = aws
        .run(&home, &["doctor", "inst", "--format", "json"])
        .json();
    let iam = check(&report, "inst", "iam_auth");
    assert_eq!(iam["status"], "ok");
    assert!(iam.get("fix").is_none());
}

#[test]
fn doctor_simulates_the_policy_for_the_sso_role_with_the_username_tag() {
    let home = jane_with(&format!(
        "[connections.jane]\nhost = \"{INSTANCE_HOST}\"\n\
         [connections.bob]\nhost = \"{INSTANCE_HOST}\"\nuser = \"bob\"\n\
         [connections.aurora]\nhost = \"{WRITER}\"\n"
    ));
    let aws = Aws::new(account());
    let report = aws
        .run(&home, &["doctor", "--format", "json"])
        .code(1)
        .json();
    let allowed = check(&report, "jane", "iam_policy");
    assert_eq!(allowed["status"], "ok", "{allowed}");
    let text = allowed["message"].as_str().unwrap();
    assert!(
        text.contains(&role_arn()),
        "the SSO session maps back to its role: {text}"
    );
    assert!(text.contains("allowed by DbConnectByUsername"), "{text}");
    for denied in ["bob", "aurora"] {
        let check = check(&report, denied, "iam_policy");
        assert_eq!(check["status"], "fail", "{check}");
        assert!(
            check["message"]
                .as_str()
                .unwrap()
                .contains("the permission set lacks it")
        );
        assert!(check["fix"][0].as_str().unwrap().contains(&format!(
            "rdsiam-helper policy {denied} --account {ACCOUNT}"
        )));
    }
    // What IAM was asked: the role, the dbuser ARN and the principal tag.
    let asked: Vec<String> = aws
        .server
        .requests()
        .iter()
        .filter(|r| r.body.contains("Action=SimulatePrincipalPolicy"))
        .map(|r| r.body.clone())
        .collect();
    assert_eq!(asked.len(), 3);
    let fields = fake_aws::form(&asked[0]);
    assert!(fields.contains(&(
        "ContextEntries.member.1.ContextKeyName".into(),
        "aws:PrincipalTag/username".into()
    )));
}

#[test]
fn doctor_token_decodes_offline_and_finds_a_wrong_region_and_a_tunnel_address() {
    let home = jane_with(&format!(
        "[connections.prod]\nhost = \"{INSTANCE_HOST}\"\ntunnel = \"127.0.0.1:15432\"\n"
    ));
    let aws = Aws::new(account());
    let signed = |host: &str, region: &str| {
        let run = aws.run(
            &home,
            &[
                "token",
                "--host",
                host,
                "--user",
                "jane",
                "--region",
                region,
                "--no-cache",
            ],
        );
        run.ok().token()
    };
    let good = signed(INSTANCE_HOST, "us-east-1");
    let run = aws.run_with_stdin(&home, &["doctor", "prod", "--token"], &good);
    run.ok();
    assert!(
        run.stdout.contains(&format!(
            "signed for jane@{INSTANCE_HOST}:5432 in us-east-1 by access key {}",
            common::ACCESS_KEY_ID
        )),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("X-Amz-Signature")
            && !run
                .stdout
                .contains(good.split("X-Amz-Signature=").nth(1).unwrap())
    );

    let run = aws.run_with_stdin(
        &home,
        &["doctor", "prod", "--token", "--format", "json"],
        &signed(INSTANCE_HOST, "eu-west-1"),
    );
    run.code(1);
    let report = run.json();
    assert_eq!(check(&report, "token for prod", "region")["status"], "fail");

    let run = aws.run_with_stdin(
        &home,
        &["doctor", "prod", "--token"],
        &signed("127.0.0.1", "us-east-1"),
    );
    run.code(1);
    assert!(
        run.stdout
            .contains("signed for the tunnel address 127.0.0.1, not the endpoint"),
        "{}",
        run.stdout
    );
    // Not a token at all: a usage error naming stdin.
    aws.run_with_stdin(&home, &["doctor", "--token"], "hello")
        .code(2)
        .stderr_has("stdin: not a token");
}

#[test]
fn token_verify_with_credentials_sts_calls_expired_exits_3_with_nothing_on_stdout() {
    let home = jane_with(&format!("[connections.prod]\nhost = \"{INSTANCE_HOST}\"\n"));
    let mut state = account();
    state.sts_error = Some("ExpiredToken".into());
    let aws = Aws::new(state);
    let run = aws.run(&home, &["token", "prod", "--verify"]);
    run.code(3)
        .stderr_has("ExpiredToken")
        .stderr_has("aws sso login --profile db");
    assert_eq!(run.stdout, "");
    // Without --verify the dead token is printed (what the check exists for)...
    aws.run(&home, &["token", "prod"]).ok();
    // ...and `verify = true` in the config checks even a cached token's credentials.
    home.config(format!(
        "[defaults]\naws_profile = \"db\"\nregion = \"us-east-1\"\nuser = \"jane\"\nverify = true\n[connections.prod]\nhost = \"{INSTANCE_HOST}\"\n"
    ));
    let run = aws.run(&home, &["pg", "prod"]);
    run.code(3);
    assert_eq!(run.stdout, "");
    // Accepted credentials are checked once per credential lifetime, not per token.
    aws.state.lock().unwrap().sts_error = None;
    aws.run(&home, &["pg", "prod"]).ok();
    aws.run(&home, &["pg", "prod"]).ok();
    let calls = aws
        .server
        .requests()
        .iter()
        .filter(|r| r.body.contains("GetCallerIdentity"))
        .count();
    assert_eq!(calls, 3, "two refusals, then one check for two tokens");
}

#[test]
fn connections_discover_lists_iam_enabled_resources_and_add_fills_the_config() {
    let home = jane_with("[connections.prod-db]\nhost = \"kept.example.com\"\n");
    let mut state = account();
    state.instances.push(FakeInstance {
        id: "legacy".into(),
        engine: "mysql".into(),
        address: "legacy.abc123.us-east-1.rds.invalid".into(),
        port: 3306,
        iam_auth: false,
        resource_id: "db-LEGACY".into(),
        cluster: None,
    });
    let aws = Aws::new(state);
    let run = aws.run(
        &home,
        &[
            "connections",
            "discover",
            "--aws-profile",
            "db",
            "--region",
            "us-east-1",
        ],
    );
    run.ok();
    assert!(
        run.stdout.contains(&format!(
            "aurora\tcluster\taurora-postgresql\t{WRITER}:5432"
        )),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(&format!(
        "prod-db\tinstance\tpostgres\t{INSTANCE_HOST}:5432"
    )));
    assert!(!run.stdout.contains("legacy"), "IAM auth off: not listed");
    assert!(
        !run.stdout.contains("aurora-1"),
        "a cluster's instance is the cluster"
    );
    // The fake RDS answers one item a page: every instance listed came by following `Marker`.
    let followed = aws
        .server
        .requests()
        .iter()
        .filter(|r| r.body.contains("Action=DescribeDBInstances") && r.body.contains("Marker="))
        .count();
    assert_eq!(followed, 2, "three instances, three pages");

    aws.run(
        &home,
        &[
            "connections",
            "discover",
            "--aws-profile",
            "db",
            "--region",
            "us-east-1",
            "--add",
        ],
    )
    .ok()
    .stderr_has("kept the existing connection `prod-db`");
    let show = home.run(&["connections", "show", "aurora"]);
    show.ok();
    for line in [
        format!("host = {WRITER}"),
        "engine = postgres".to_string(),
        "user = {session_name}".to_string(),
        "aws_profile = db".to_string(),
        "region = us-east-1".to_string(),
    ] {
        assert!(show.stdout.contains(&line), "{line}: {}", show.stdout);
    }
    assert!(
        home.run(&["connections", "show", "prod-db"])
            .stdout
            .contains("host = kept.example.com")
    );

    aws.run(
        &home,
        &[
            "connections",
            "add",
            "one",
            "--from-instance",
            "prod-db",
            "--aws-profile",
            "db",
            "--region",
            "us-east-1",
            "--user",
            "jane",
        ],
    )
    .ok();
    let show = home.run(&["connections", "show", "one"]);
    assert!(
        show.stdout.contains(&format!("host = {INSTANCE_HOST}"))
            && show.stdout.contains("user = jane"),
        "{}",
        show.stdout
    );
    aws.run(
        &home,
        &[
            "connections",
            "add",
            "nope",
            "--from-cluster",
            "missing",
            "--aws-profile",
            "db",
            "--region",
            "us-east-1",
        ],
    )
    .code(1)
    .stderr_has("no Aurora cluster `missing`");
}

#[test]
fn policy_is_json_with_the_looked_up_resource_id_or_the_given_one() {
    let home = jane_with(&format!("[connections.prod]\nhost = \"{READER}\"\n"));
    let aws = Aws::new(account());
    let run = aws.run(&home, &["policy", "prod", "--account", ACCOUNT]);
    run.ok();
    let policy: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(policy["Version"], "2012-10-17");
    assert_eq!(policy["Statement"][0]["Action"], "rds-db:connect");
    assert_eq!(
        policy["Statement"][0]["Resource"],
        dbuser("cluster-QRSTUVWXYZ012345", "${aws:PrincipalTag/username}")
    );
    let run = home.run(&[
        "policy",
        "prod",
        "--account",
        ACCOUNT,
        "--resource-id",
        "db-GIVEN",
        "--user-literal",
        "O'Brien",
    ]);
    let policy: serde_json::Value = serde_json::from_str(&run.ok().stdout).unwrap();
    assert_eq!(
        policy["Statement"][0]["Resource"],
        dbuser("db-GIVEN", "O'Brien")
    );
    home.run(&["policy", "prod", "--account", "12345"])
        .code(2)
        .stderr_has("--account: an AWS account id is 12 digits");
}

const AWKWARD: [&str; 4] = [
    "jane.doe@example.com",
    "O'Brien",
    "\"quoted\"",
    "back\\slash`tick",
];

#[test]
fn sql_user_statements_run_on_postgresql_for_awkward_names() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    pg.admin_psql("CREATE ROLE rds_iam");
    let home = Home::new();
    for name in AWKWARD {
        let sql = home
            .run(&["sql-user", name, "--engine", "postgres"])
            .ok()
            .stdout
            .clone();
        pg.admin_psql(&sql);
        let member = pg.admin_psql(&format!(
            "SELECT pg_has_role(r.rolname, 'rds_iam', 'member') FROM pg_roles r WHERE r.rolname = '{}'",
            name.replace('\'', "''")
        ));
        assert_eq!(member, "t", "{name}: {sql}");
    }
}

#[test]
fn sql_user_statements_run_on_mariadb_for_awkward_names() {
    let ca = TestCa::new();
    let Some(db) = Mariadb::start(&ca) else {
        return;
    };
    let home = Home::new();
    for name in AWKWARD {
        let sql = home
            .run(&["sql-user", name, "--engine", "mysql"])
            .ok()
            .stdout
            .clone();
        assert!(
            sql.contains("IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL"),
            "{sql}"
        );
        // MariaDB has no AWSAuthenticationPlugin; the quoting is what is tested.
        let sql = sql.replace("AWSAuthenticationPlugin AS 'RDS'", "mysql_native_password");
        db.admin_sql(&sql);
        let found = db.admin_sql(&format!(
            "SELECT ssl_type FROM mysql.user WHERE User = '{}' AND Host = '%'",
            name.replace('\\', "\\\\").replace('\'', "\\'")
        ));
        assert_eq!(found, "ANY", "{name}: {sql}");
    }
}

/// The RDS instance stands for the private PostgreSQL server: found by its endpoint name
/// (`localhost`), IAM auth on, the policy allowed.
fn postgres_account(port: u16) -> AwsState {
    let mut state = account();
    state.instances[0].address = "localhost".into();
    state.instances[0].port = port;
    state
}

#[test]
fn doctor_passes_on_the_private_postgresql_and_explains_a_refused_password() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let home = jane_with(&format!(
        "[connections.pg]\nhost = \"localhost\"\nport = {}\nca_bundle = \"{}\"\n",
        pg.port(),
        ca.ca_pem().display()
    ));
    let aws = Aws::new(postgres_account(pg.port()));
    // The server stands in for RDS: the token is the role's password.
    let token = aws.run(&home, &["pg", "pg"]).ok().token();
    pg.create_role("jane", &token);
    let run = aws.run(&home, &["doctor", "pg"]);
    let login = run
        .stdout
        .lines()
        .find(|l| l.contains("login"))
        .unwrap_or_default()
        .to_string();
    assert!(
        login.contains("ok    login        logged in as jane"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("FAIL"), "{}", run.stdout);
    run.ok();

    pg.set_password("jane", "not-the-token");
    let run = aws.run(&home, &["doctor", "pg", "--format", "json"]);
    run.code(1);
    let report = run.json();
    let login = check(&report, "pg", "login");
    let message = login["message"].as_str().unwrap();
    assert!(
        message.contains("password authentication failed for user \"jane\""),
        "{message}"
    );
    assert!(
        message.contains("the server checked a password, not an IAM token"),
        "{message}"
    );
    assert!(
        message.contains("IAM database authentication is off (checked: ok)"),
        "{message}"
    );
    assert!(
        login["fix"][0]
            .as_str()
            .unwrap()
            .contains("rdsiam-helper sql-user jane --engine postgres")
    );

    // A bundle of another CA: TLS verification fails before any password is sent.
    home.config(format!(
        "[defaults]\naws_profile = \"db\"\nregion = \"us-east-1\"\nuser = \"jane\"\n\
         [connections.pg]\nhost = \"localhost\"\nport = {}\nca_bundle = \"{}\"\n",
        pg.port(),
        ca.other_ca_pem().display()
    ));
    let report = aws
        .run(&home, &["doctor", "pg", "--format", "json"])
        .code(1)
        .json();
    let login = check(&report, "pg", "login");
    let message = login["message"].as_str().unwrap();
    assert!(message.contains("certificate verify failed"), "{message}");
    assert!(message.contains("not signed by the CA bundle"), "{message}");
    assert!(
        login["fix"][0]
            .as_str()
            .unwrap()
            .contains("rdsiam-helper ca install")
    );
}

/// A one-shot HTTP server on loopback that answers 200 with a `Content-Length` of `announced`,
/// sends `body` (which may be shorter: a broken download) and closes.
fn http_once(announced: usize, body: Vec<u8>) -> String {
    let head =
        format!("HTTP/1.1 200 OK\r\nContent-Length: {announced}\r\nConnection: close\r\n\r\n");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/global-bundle.pem",
        listener.local_addr().unwrap().port()
    );
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        if let Ok((mut stream, _)) = listener.accept() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    url
}

#[test]
fn ca_install_downloads_checks_and_replaces_atomically_keeping_the_old_on_a_broken_download() {
    let ca = TestCa::new();
    let pem = std::fs::read(ca.ca_pem()).unwrap();
    let home = Home::new();
    let target = home.path().join(".aws/rds/global-bundle.pem");
    let ok = http_once(pem.len(), pem.clone());
    home.run(&["ca", "install", "--url", &ok])
        .ok()
        .stderr_has("(1 certificates)");
    assert_eq!(std::fs::read(&target).unwrap(), pem);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
        0o644
    );

    // Half the bundle, then the connection drops: the old file stays.
    let half = pem[..pem.len() / 2].to_vec();
    let broken = http_once(pem.len(), half);
    home.run(&["ca", "install", "--url", &broken])
        .code(1)
        .stderr_has("was left as it was");
    assert_eq!(std::fs::read(&target).unwrap(), pem);
    // A whole answer that is not a bundle: refused too.
    let html = b"<html>maintenance</html>".to_vec();
    let not_pem = http_once(html.len(), html);
    home.run(&["ca", "install", "--url", &not_pem])
        .code(1)
        .stderr_has("is not a CA bundle");
    assert_eq!(std::fs::read(&target).unwrap(), pem);
    // Plain http anywhere but loopback is refused before any connection.
    home.run(&["ca", "install", "--url", "http://example.com/b.pem"])
        .code(2)
        .stderr_has("only downloaded over https");

    // doctor reads it: present, parses, nothing expiring within 90 days.
    home.config(format!(
        "[connections.x]\nhost = \"{INSTANCE_HOST}\"\nuser = \"jane\"\nca_bundle = \"{}\"\n",
        target.display()
    ));
    let run = home.run(&["doctor", "x", "--format", "json"]);
    assert_eq!(check(&run.json(), "x", "ca_bundle")["status"], "ok");
}

#[test]
fn profiles_lists_sso_sessions_keys_and_the_connections_that_use_them() {
    let home = jane_with(&format!("[connections.prod]\nhost = \"{INSTANCE_HOST}\"\n"));
    home.aws_config("[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n[profile sso-db]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = DBAccess\nregion = us-east-1");
    home.write(
        ".aws/sso/cache/a.json",
        r#"{"startUrl":"https://corp.awsapps.com/start","region":"us-east-1","accessToken":"t","expiresAt":"2020-01-01T00:00:00Z"}"#,
    );
    let run = home.run(&["profiles"]);
    run.ok();
    assert!(
        run.stdout
            .contains("db\taccess keys\tno expiry\tconnections: prod"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("sso-db\tsso (session corp)\texpired 2020-01-01T00:00:00Z\tconnections: -"),
        "{}",
        run.stdout
    );
}

/// A self-signed CA certificate named `name` that expires on `year`-`month`-01.
fn ca_certificate(name: &str, year: i32, month: u8) -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(year, month, 1);
    let key = rcgen::KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().pem()
}

#[test]
fn doctor_names_the_ca_certificates_that_expire_within_90_days_and_a_broken_bundle() {
    let home = jane_with(&format!(
        "[connections.x]\nhost = \"{INSTANCE_HOST}\"\nca_bundle = \"~/bundle.pem\"\n"
    ));
    let bundle = format!(
        "{}{}",
        ca_certificate("Long Lived CA", 2035, 1),
        ca_certificate("Soon Expiring CA", 2030, 2)
    );
    home.write("bundle.pem", &bundle);
    let run = |now: &str| {
        Run::from(
            home.cmd_at(now)
                .args(["doctor", "x", "--format", "json"])
                .output()
                .unwrap(),
        )
    };
    let report = run("2029-12-15T00:00:00Z").json();
    let ca = check(&report, "x", "ca_bundle");
    assert_eq!(ca["status"], "warn", "{ca}");
    let message = ca["message"].as_str().unwrap();
    assert!(
        message.contains(
            "1 of 2 certificates expire within 90 days: CN=Soon Expiring CA (2030-02-01T00:00:00Z)"
        ),
        "{message}"
    );
    assert!(
        ca["fix"][0]
            .as_str()
            .unwrap()
            .contains("rdsiam-helper ca install --path")
    );
    assert_eq!(
        check(&run("2029-06-01T00:00:00Z").json(), "x", "ca_bundle")["status"],
        "ok"
    );

    home.write(
        "bundle.pem",
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    );
    let ca = check(&run("2029-06-01T00:00:00Z").json(), "x", "ca_bundle").clone();
    assert_eq!(ca["status"], "fail", "{ca}");
}

#[test]
fn doctor_sends_an_sso_profile_without_a_login_to_aws_sso_login() {
    let home = jane_with(&format!(
        "[connections.x]\nhost = \"{INSTANCE_HOST}\"\naws_profile = \"sso-db\"\n"
    ));
    home.aws_config("[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n[profile sso-db]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = DBAccess\nregion = us-east-1");
    let aws = Aws::new(account());
    let run = aws.run(&home, &["doctor", "x", "--format", "json"]);
    run.code(1);
    let report = run.json();
    let credentials = check(&report, "x", "credentials");
    assert_eq!(credentials["status"], "fail");
    assert!(
        credentials["fix"][0]
            .as_str()
            .unwrap()
            .contains("aws sso login --profile sso-db"),
        "{credentials}"
    );
    assert_eq!(check(&report, "x", "aws")["status"], "skip");
    assert_eq!(aws.server.hits(), 0, "no AWS call without credentials");
}

#[test]
fn doctor_logs_in_to_the_private_mariadb_and_explains_access_denied() {
    let ca = TestCa::new();
    let Some(db) = Mariadb::start(&ca) else {
        return;
    };
    let home = jane_with(&format!(
        "[connections.my]\nengine = \"mysql\"\nhost = \"localhost\"\nport = {}\nca_bundle = \"{}\"\n",
        db.port(),
        ca.ca_pem().display()
    ));
    let mut state = postgres_account(db.port());
    state.instances[0].engine = "mariadb".into();
    let aws = Aws::new(state);
    let token = aws.run(&home, &["mysql", "my"]).ok().token();
    db.create_user("jane", &token);
    let run = aws.run(&home, &["doctor", "my"]);
    assert!(
        run.stdout.contains("ok    login        logged in as jane"),
        "{}",
        run.stdout
    );
    run.ok();

    db.set_password("jane", "not-the-token");
    let report = aws
        .run(&home, &["doctor", "my", "--format", "json"])
        .code(1)
        .json();
    let login = check(&report, "my", "login");
    let message = login["message"].as_str().unwrap();
    assert!(
        message.contains("Access denied for user 'jane'"),
        "{message}"
    );
    assert!(
        message
            .contains("IAM database authentication off on the instance or cluster (checked: ok)"),
        "{message}"
    );
    assert!(
        message.contains("no IAM policy allows rds-db:connect as `jane` (checked: ok)"),
        "{message}"
    );
    assert!(
        login["fix"][0]
            .as_str()
            .unwrap()
            .contains("rdsiam-helper sql-user jane --engine mysql")
    );
}

// Aurora DSQL: the fake control plane (GetCluster, ListClusters) beside STS, RDS and IAM.

const DSQL_ID: &str = "s4abtwoqgjtpkqzkbtuyzcbxsu";
const DSQL_OTHER: &str = "iaabt2ydjohxwlwj6j6oaw5lna";

fn dsql_host(id: &str) -> String {
    format!("{id}.dsql.us-east-1.on.aws")
}

fn cluster_arn(id: &str) -> String {
    format!("arn:aws:dsql:us-east-1:{ACCOUNT}:cluster/{id}")
}

/// A DSQL connection named `name`, reached through a tunnel to a closed port: no check dials
/// AWS, and no login is tried.
fn dsql_connection(name: &str, user: &str, extra: &str) -> String {
    format!(
        "[connections.{name}]\nhost = \"{}\"\nuser = \"{user}\"\ntunnel = \"127.0.0.1:1\"\n{extra}",
        dsql_host(DSQL_ID)
    )
}

/// `doctor NAME --format json`, with nothing secret on stdout either.
fn doctor_json(aws: &Aws, home: &Home, name: &str) -> serde_json::Value {
    let run = aws.run(home, &["doctor", name, "--format", "json"]);
    common::assert_no_secret("doctor's stdout", &run.stdout, &[]);
    run.json()
}

fn section_checks(report: &serde_json::Value, section: &str) -> Vec<String> {
    report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == section)
        .unwrap()["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn doctor_asks_dsql_for_the_cluster_and_reports_each_status_not_found_and_access_denied() {
    let home = jane_with(&dsql_connection("ledger", "admin", ""));
    let aws = Aws::new(account());
    let set_cluster = |status: Option<&str>| {
        aws.dsql_state.lock().unwrap().clusters = status
            .map(|s| vec![(DSQL_ID.to_string(), s.to_string())])
            .unwrap_or_default();
    };
    set_cluster(Some("ACTIVE"));
    let report = doctor_json(&aws, &home, "ledger");
    let dsql = check(&report, "ledger", "dsql");
    assert_eq!(dsql["status"], "ok", "{dsql}");
    assert_eq!(
        dsql["message"],
        format!("cluster `{DSQL_ID}` in us-east-1 is ACTIVE")
    );
    // The RDS lookup cannot find a DSQL cluster: it does not run, nor does its IAM switch.
    let names = section_checks(&report, "ledger");
    for rds_only in ["rds", "iam_auth"] {
        assert!(!names.iter().any(|n| n == rds_only), "{names:?}");
    }
    // The system trust store, not the RDS bundle (and never `ca install` over it).
    let ca = check(&report, "ledger", "ca_bundle");
    assert_eq!(ca["status"], "ok", "{ca}");
    assert!(
        ca["message"]
            .as_str()
            .unwrap()
            .starts_with("the system trust store"),
        "{ca}"
    );
    // What DSQL was asked, signed for dsql in the connection's region (the fake refuses
    // anything else).
    let asked: Vec<_> = aws.dsql.requests();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].method, "GET");
    assert_eq!(asked[0].path(), format!("/cluster/{DSQL_ID}"));
    assert!(
        asked[0]
            .header("authorization")
            .unwrap()
            .contains(&format!("{}/", common::ACCESS_KEY_ID))
    );

    let wait = format!(
        "aws dsql wait cluster-active --identifier {DSQL_ID} --region us-east-1 --profile db"
    );
    for (status, verdict, said) in [
        ("IDLE", "warn", "a connection wakes it"),
        ("INACTIVE", "warn", "longer from INACTIVE"),
        ("CREATING", "warn", wait.as_str()),
        ("UPDATING", "warn", wait.as_str()),
        ("PENDING_SETUP", "fail", "peer"),
        (
            "DELETING",
            "fail",
            "aws dsql list-clusters --region us-east-1 --profile db",
        ),
        (
            "FAILED",
            "fail",
            "aws dsql create-cluster --region us-east-1",
        ),
        ("HIBERNATING", "warn", "a status this version does not know"),
    ] {
        set_cluster(Some(status));
        let report = doctor_json(&aws, &home, "ledger");
        let dsql = check(&report, "ledger", "dsql");
        assert_eq!(dsql["status"], verdict, "{status}: {dsql}");
        assert!(dsql["message"].as_str().unwrap().contains(status), "{dsql}");
        assert!(dsql.to_string().contains(said), "{status}: {dsql}");
    }

    set_cluster(None);
    let report = doctor_json(&aws, &home, "ledger");
    let dsql = check(&report, "ledger", "dsql");
    assert_eq!(dsql["status"], "fail", "{dsql}");
    assert_eq!(
        dsql["message"],
        format!("no Aurora DSQL cluster `{DSQL_ID}` in us-east-1")
    );
    assert!(
        dsql["fix"][0]
            .as_str()
            .unwrap()
            .contains("`aws dsql list-clusters --region us-east-1 --profile db`")
    );

    set_cluster(Some("ACTIVE"));
    aws.dsql_state.lock().unwrap().deny_get = true;
    let report = doctor_json(&aws, &home, "ledger");
    let dsql = check(&report, "ledger", "dsql");
    assert_eq!(
        dsql["status"], "warn",
        "access denied is no verdict: {dsql}"
    );
    assert!(
        dsql["message"]
            .as_str()
            .unwrap()
            .contains("AccessDeniedException"),
        "{dsql}"
    );
    assert!(
        dsql["fix"][0].as_str().unwrap().contains("dsql:GetCluster"),
        "{dsql}"
    );

    // The fake checks the signature itself: keys other than the profile's are refused.
    let other_keys = fake_aws::dsql(
        aws.dsql_state.clone(),
        "us-east-1",
        common::ACCESS_KEY_ID,
        "another/secret/key/than/the/profiles/one",
    );
    let mut cmd = home.cmd();
    cmd.env("AWS_ENDPOINT_URL_STS", aws.server.url())
        .env("AWS_ENDPOINT_URL_IAM", aws.server.url())
        .env("AWS_ENDPOINT_URL_DSQL", other_keys.url())
        .args(["doctor", "ledger", "--format", "json"]);
    let report = Run::from(cmd.output().unwrap()).json();
    let dsql = check(&report, "ledger", "dsql");
    assert!(
        dsql["message"]
            .as_str()
            .unwrap()
            .contains("InvalidSignatureException"),
        "{dsql}"
    );
}

#[test]
fn doctor_simulates_dsql_db_connect_and_db_connect_admin_on_the_cluster_arn() {
    let home = jane_with(&format!(
        "{}{}{}",
        dsql_connection("admin", "admin", ""),
        dsql_connection("app", "app_reader", ""),
        dsql_connection("forced", "app_reader", "dsql_action = \"admin\"\n"),
    ));
    let mut state = account();
    state.allowed_dsql = vec![(
        role_arn(),
        "dsql:DbConnectAdmin".into(),
        cluster_arn(DSQL_ID),
        "DsqlAdmins".into(),
    )];
    let aws = Aws::new(state);
    aws.dsql_state.lock().unwrap().clusters = vec![(DSQL_ID.into(), "ACTIVE".into())];
    let run = aws.run(&home, &["doctor", "--format", "json"]);
    common::assert_no_secret("doctor's stdout", &run.stdout, &[]);
    let report = run.json();
    for admin in ["admin", "forced"] {
        let policy = check(&report, admin, "iam_policy");
        assert_eq!(policy["status"], "ok", "{policy}");
        assert_eq!(
            policy["message"],
            format!(
                "{} may dsql:DbConnectAdmin to {}: allowed by DsqlAdmins",
                role_arn(),
                cluster_arn(DSQL_ID)
            )
        );
    }
    let denied = check(&report, "app", "iam_policy");
    assert_eq!(denied["status"], "fail", "{denied}");
    assert!(
        denied["message"].as_str().unwrap().contains(&format!(
            "may not dsql:DbConnect to {}",
            cluster_arn(DSQL_ID)
        )),
        "{denied}"
    );
    assert!(
        denied["fix"][0]
            .as_str()
            .unwrap()
            .contains(&format!("rdsiam-helper policy app --account {ACCOUNT}"))
    );
    // What IAM was asked: the role, the action the token carries, the cluster; no user tag.
    let asked: Vec<Vec<(String, String)>> = aws
        .server
        .requests()
        .iter()
        .filter(|r| r.body.contains("Action=SimulatePrincipalPolicy"))
        .map(|r| fake_aws::form(&r.body))
        .collect();
    let field = |fields: &[(String, String)], name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let mut actions: Vec<String> = asked
        .iter()
        .map(|f| field(f, "ActionNames.member.1").unwrap())
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "dsql:DbConnect",
            "dsql:DbConnectAdmin",
            "dsql:DbConnectAdmin"
        ]
    );
    for fields in &asked {
        assert_eq!(
            field(fields, "ResourceArns.member.1").as_deref(),
            Some(cluster_arn(DSQL_ID).as_str())
        );
        assert_eq!(
            field(fields, "PolicySourceArn").as_deref(),
            Some(role_arn().as_str())
        );
        assert!(field(fields, "ContextEntries.member.1.ContextKeyName").is_none());
    }

    // Allowed DbConnect as well: the custom role passes too.
    aws.state.lock().unwrap().allowed_dsql.push((
        role_arn(),
        "dsql:DbConnect".into(),
        cluster_arn(DSQL_ID),
        "DsqlReaders".into(),
    ));
    let report = doctor_json(&aws, &home, "app");
    let allowed = check(&report, "app", "iam_policy");
    assert_eq!(allowed["status"], "ok", "{allowed}");
    assert!(
        allowed["message"]
            .as_str()
            .unwrap()
            .ends_with("allowed by DsqlReaders")
    );
}

#[test]
fn doctor_warns_of_a_dsql_token_lifetime_past_the_session_hour() {
    let home = jane_with(&format!(
        "{}{}",
        dsql_connection("long", "admin", "token_lifetime = \"7200\"\n"),
        dsql_connection("short", "admin", "token_lifetime = \"900\"\n"),
    ));
    let aws = Aws::new(account());
    aws.dsql_state.lock().unwrap().clusters = vec![(DSQL_ID.into(), "ACTIVE".into())];
    let report = aws.run(&home, &["doctor", "--format", "json"]).json();
    let long = check(&report, "long", "lifetime");
    assert_eq!(long["status"], "warn", "{long}");
    assert!(
        long["message"]
            .as_str()
            .unwrap()
            .starts_with("tokens live 2h, longer than the 1h a DSQL session lasts"),
        "{long}"
    );
    assert_eq!(
        long["fix"][0],
        "lower `token_lifetime` for `long` to 1h or less (the default is 15m)"
    );
    assert!(
        long["fix"][1]
            .as_str()
            .unwrap()
            .contains("clients reconnect"),
        "{long}"
    );
    let short = check(&report, "short", "lifetime");
    assert_eq!(short["status"], "ok", "{short}");
    assert!(short.get("fix").is_none());
    // An RDS connection has no such check: its token always lives 15 minutes.
    let home = jane_with(&format!("[connections.inst]\nhost = \"{INSTANCE_HOST}\"\n"));
    let report = doctor_json(&aws, &home, "inst");
    assert!(!section_checks(&report, "inst").contains(&"lifetime".to_string()));
}

fn discover(aws: &Aws, home: &Home, extra: &[&str]) -> Run {
    let mut args = vec![
        "connections",
        "discover",
        "--aws-profile",
        "db",
        "--region",
        "us-east-1",
    ];
    args.extend(extra);
    aws.run(home, &args)
}

#[test]
fn connections_discover_lists_rds_and_dsql_together_and_add_writes_dsql_connections_once() {
    let home = jane_with("");
    let aws = Aws::new(account());
    aws.dsql_state.lock().unwrap().clusters = vec![
        (DSQL_ID.into(), "ACTIVE".into()),
        (DSQL_OTHER.into(), "IDLE".into()),
    ];
    let run = discover(&aws, &home, &[]);
    run.ok();
    assert!(
        run.stdout.contains(&format!(
            "prod-db\tinstance\tpostgres\t{INSTANCE_HOST}:5432\n"
        )),
        "{}",
        run.stdout
    );
    for id in [DSQL_ID, DSQL_OTHER] {
        assert!(
            run.stdout
                .contains(&format!("{id}\tcluster\tdsql\t{}:5432\n", dsql_host(id))),
            "{}",
            run.stdout
        );
    }
    // One cluster a page: the SDK's paginator followed nextToken.
    let listed: Vec<String> = aws.dsql.requests().iter().map(|r| r.url.clone()).collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed[1].contains("next-token=1"), "{listed:?}");

    discover(&aws, &home, &["--add"]).ok();
    let show = home.run(&["connections", "show", DSQL_ID]);
    for line in [
        "engine = dsql".to_string(),
        format!("host = {}", dsql_host(DSQL_ID)),
        "port = 5432".to_string(),
        "user = admin".to_string(),
        "region = us-east-1".to_string(),
        "aws_profile = db".to_string(),
        "dsql_action = admin".to_string(),
    ] {
        assert!(show.ok().stdout.contains(&line), "{line}: {}", show.stdout);
    }
    let text = std::fs::read_to_string(home.config_path()).unwrap();
    assert!(text.contains("engine = \"dsql\""), "{text}");
    // The added connection signs offline, with the profile's static keys: no AWS at all.
    let token = home.run(&["token", DSQL_OTHER, "--no-cache"]).ok().token();
    assert!(
        token.starts_with(&format!(
            "{}/?Action=DbConnectAdmin&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}%2F",
            dsql_host(DSQL_OTHER),
            common::ACCESS_KEY_ID
        )),
        "{token}"
    );
    // RDS ones were added alongside, as before.
    assert!(text.contains("[connections.aurora]"), "{text}");

    // A second --add changes nothing.
    let before = std::fs::read(home.config_path()).unwrap();
    discover(&aws, &home, &["--add"])
        .ok()
        .stderr_has(&format!("kept the existing connection `{DSQL_ID}`"));
    assert_eq!(std::fs::read(home.config_path()).unwrap(), before);

    // --user names another role for every connection added.
    let home = jane_with("");
    discover(&aws, &home, &["--add", "--user", "app_reader"]).ok();
    let show = home.run(&["connections", "show", DSQL_ID]);
    assert!(
        show.ok().stdout.contains("user = app_reader\n"),
        "{}",
        show.stdout
    );
    assert!(
        show.stdout.contains("dsql_action = connect"),
        "{}",
        show.stdout
    );
}

#[test]
fn connections_discover_lists_one_side_when_the_other_is_denied() {
    let home = jane_with("");
    let aws = Aws::new(account());
    aws.dsql_state.lock().unwrap().clusters = vec![(DSQL_ID.into(), "ACTIVE".into())];
    aws.dsql_state.lock().unwrap().deny_list = true;
    let run = discover(&aws, &home, &[]);
    run.ok()
        .stderr_has("AccessDeniedException")
        .stderr_has("; listing RDS only")
        .stderr_has("hint: the caller needs `dsql:ListClusters`");
    assert!(run.stdout.contains("prod-db\tinstance"), "{}", run.stdout);
    assert!(!run.stdout.contains(DSQL_ID));

    // RDS refuses, DSQL answers: the DSQL side is listed.
    aws.dsql_state.lock().unwrap().deny_list = false;
    let rds_denied = FakeAws::start(|request| {
        if request.body.contains("Action=DescribeDB") {
            return fake_aws::iam_error(
                403,
                "AccessDenied",
                "User is not authorized to perform: rds:DescribeDBClusters",
            );
        }
        fake_aws::caller_identity("arn:aws:iam::123456789012:user/jane")
    });
    let endpoints = Endpoints::new()
        .with("STS", &rds_denied)
        .with("RDS", &rds_denied)
        .with("DSQL", &aws.dsql);
    let mut cmd = home.cmd();
    endpoints.apply(&mut cmd).args([
        "connections",
        "discover",
        "--aws-profile",
        "db",
        "--region",
        "us-east-1",
    ]);
    let run = Run::from(cmd.output().unwrap());
    run.ok()
        .stderr_has("AccessDenied")
        .stderr_has("listing Aurora DSQL clusters only");
    assert_eq!(
        run.stdout,
        format!("{DSQL_ID}\tcluster\tdsql\t{}:5432\n", dsql_host(DSQL_ID))
    );
    endpoints.assert_no_other_service_called();

    // Both refused: the RDS error, exit 1.
    aws.dsql_state.lock().unwrap().deny_list = true;
    let run = Run::from(cmd.output().unwrap());
    run.code(1).stderr_has("AccessDenied");
}

#[test]
fn connections_add_from_a_dsql_cluster_and_the_dsql_policy() {
    let home = jane_with("");
    let aws = Aws::new(account());
    aws.dsql_state.lock().unwrap().clusters = vec![(DSQL_ID.into(), "ACTIVE".into())];
    aws.run(
        &home,
        &[
            "connections",
            "add",
            "ledger",
            "--from-dsql-cluster",
            DSQL_ID,
            "--aws-profile",
            "db",
            "--region",
            "us-east-1",
            "--token-lifetime",
            "1h",
        ],
    )
    .ok();
    let show = home.run(&["connections", "show", "ledger"]);
    for line in [
        "engine = dsql".to_string(),
        format!("host = {}", dsql_host(DSQL_ID)),
        "user = admin".to_string(),
        "token_lifetime = 1h".to_string(),
    ] {
        assert!(show.ok().stdout.contains(&line), "{line}: {}", show.stdout);
    }
    aws.run(
        &home,
        &[
            "connections",
            "add",
            "nope",
            "--from-dsql-cluster",
            DSQL_OTHER,
            "--aws-profile",
            "db",
            "--region",
            "us-east-1",
        ],
    )
    .code(1)
    .stderr_has(&format!(
        "no Aurora DSQL cluster `{DSQL_OTHER}` in us-east-1"
    ))
    .stderr_has("aws dsql list-clusters --region us-east-1 --profile db");

    // The policy names the cluster and the token's action, without asking AWS.
    let before = aws.dsql.hits() + aws.server.hits();
    let run = home.run(&["policy", "ledger", "--account", ACCOUNT]);
    let policy: serde_json::Value = serde_json::from_str(&run.ok().stdout).unwrap();
    assert_eq!(policy["Statement"][0]["Action"], "dsql:DbConnectAdmin");
    assert_eq!(policy["Statement"][0]["Resource"], cluster_arn(DSQL_ID));
    assert_eq!(aws.dsql.hits() + aws.server.hits(), before);
    home.run(&[
        "policy",
        "ledger",
        "--account",
        ACCOUNT,
        "--user-literal",
        "x",
    ])
    .code(2)
    .stderr_has("names no database user");
}

#[test]
fn doctor_warns_of_an_engine_the_host_contradicts() {
    let rds_host = "prod.cluster-abc123.us-east-1.rds.amazonaws.com";
    let home = jane_with(&format!(
        "{}engine = \"postgres\"\n\
         [connections.dsql_on_rds]\nengine = \"dsql\"\nhost = \"{rds_host}\"\nuser = \"admin\"\ntunnel = \"127.0.0.1:1\"\n{}",
        dsql_connection("pg_on_dsql", "admin", ""),
        dsql_connection("fine", "admin", ""),
    ));
    let aws = Aws::new(account());
    aws.dsql_state.lock().unwrap().clusters = vec![(DSQL_ID.into(), "ACTIVE".into())];
    let report = aws.run(&home, &["doctor", "--format", "json"]).json();
    let pg = check(&report, "pg_on_dsql", "engine");
    assert_eq!(pg["status"], "warn", "{pg}");
    assert_eq!(
        pg["message"],
        format!(
            "engine postgres signs an RDS token, but {} is an Aurora DSQL endpoint: the cluster will refuse it",
            dsql_host(DSQL_ID)
        )
    );
    assert_eq!(
        pg["fix"][0],
        "set engine = \"dsql\" for `pg_on_dsql` (or remove `engine`: a DSQL host says it)"
    );
    let dsql = check(&report, "dsql_on_rds", "engine");
    assert_eq!(dsql["status"], "warn", "{dsql}");
    assert_eq!(
        dsql["message"],
        format!(
            "engine dsql signs an Aurora DSQL token, but {rds_host} is an RDS endpoint: the server will refuse it"
        )
    );
    assert!(
        dsql["fix"][0]
            .as_str()
            .unwrap()
            .starts_with("set `engine` for `dsql_on_rds` to the database's (postgres or mysql)"),
        "{dsql}"
    );
    assert!(!section_checks(&report, "fine").contains(&"engine".to_string()));
}

/// A folder holding a `psql` that says it is `version`, first on PATH.
fn psql_saying(home: &Home, version: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let psql = home.write(
        "fake-bin/psql",
        &format!("#!/bin/sh\necho 'psql (PostgreSQL) {version}'\n"),
    );
    std::fs::set_permissions(&psql, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    format!("{}:{path}", psql.parent().unwrap().display())
}

#[test]
fn doctor_fails_a_libpq_before_14_for_dsql_which_needs_sni() {
    let home = jane_with(&format!(
        "{}[connections.inst]\nhost = \"{INSTANCE_HOST}\"\ntunnel = \"127.0.0.1:1\"\n",
        dsql_connection("ledger", "admin", ""),
    ));
    let aws = Aws::new(account());
    aws.dsql_state.lock().unwrap().clusters = vec![(DSQL_ID.into(), "ACTIVE".into())];
    let libpq = |version: &str, args: &[&str]| {
        let path = psql_saying(&home, version);
        let run = aws.run_env(&home, args, "", &[("PATH", path)]);
        run.json()["sections"][0]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == "libpq")
            .unwrap()
            .clone()
    };
    let old = libpq("13.14", &["doctor", "--format", "json"]);
    assert_eq!(old["status"], "fail", "{old}");
    assert_eq!(
        old["message"],
        "psql (PostgreSQL) 13.14: libpq before 14 sends no SNI (sslsni), which Aurora DSQL requires; ledger cannot connect with it"
    );
    assert!(
        old["fix"][0]
            .as_str()
            .unwrap()
            .starts_with("install a PostgreSQL 14 or later client"),
        "{old}"
    );
    let named = libpq("9.6.24", &["doctor", "ledger", "--format", "json"]);
    assert_eq!(named["status"], "fail", "{named}");
    // The same libpq is fine for RDS, which needs no SNI (13 reads long .pgpass lines).
    let rds = libpq("13.14", &["doctor", "inst", "--format", "json"]);
    assert_eq!(rds["status"], "ok", "{rds}");
    let new = libpq("14.0", &["doctor", "--format", "json"]);
    assert_eq!(new["status"], "ok", "{new}");
}

#[test]
fn doctor_prints_the_policy_command_that_runs_as_printed_with_another_config() {
    let home = jane_with("");
    let config = home.write(
        "elsewhere/config.toml",
        &format!(
            "[defaults]\naws_profile = \"db\"\nregion = \"us-east-1\"\n{}[connections.inst]\nhost = \"{INSTANCE_HOST}\"\nuser = \"bob\"\ntunnel = \"127.0.0.1:1\"\n",
            dsql_connection("app", "app_reader", "")
        ),
    );
    let config = config.to_str().unwrap();
    let aws = Aws::new(account());
    aws.dsql_state.lock().unwrap().clusters = vec![(DSQL_ID.into(), "ACTIVE".into())];
    let report = aws
        .run(&home, &["--config", config, "doctor", "--format", "json"])
        .json();
    let binary = common::binary();
    let binary = binary.to_str().unwrap();
    for name in ["app", "inst"] {
        let policy = check(&report, name, "iam_policy");
        assert_eq!(policy["status"], "fail", "{policy}");
        let fix = policy["fix"][0].as_str().unwrap();
        let printed = format!("`{binary} --config {config} policy {name} --account {ACCOUNT}`");
        assert!(fix.contains(&printed), "{fix}");
        // As printed, it runs: the policy for that connection.
        let words: Vec<&str> = printed.trim_matches('`').split(' ').collect();
        let run = aws.run(&home, &words[1..]);
        run.ok();
        assert!(
            run.stdout.contains("\"Version\": \"2012-10-17\""),
            "{}",
            run.stdout
        );
    }
}

/// Through a tunnel the endpoint's name (often private) need not resolve here: doctor does not
/// fail on DNS, and logs in through the tunnel, checking the name in the certificate.
#[test]
fn doctor_logs_in_through_a_tunnel_when_the_endpoint_name_does_not_resolve() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let forward = common::tcp_forward(pg.port());
    // Named in the test certificate, and resolvable nowhere.
    let host = common::servers::DSQL_HOST;
    let home = jane_with(&format!(
        "[connections.ledger]\nhost = \"{host}\"\nuser = \"admin\"\ntunnel = \"127.0.0.1:{forward}\"\nca_bundle = \"{}\"\n",
        ca.ca_pem().display()
    ));
    let aws = Aws::new(account());
    aws.dsql_state.lock().unwrap().clusters = vec![(
        host.split('.').next().unwrap().to_string(),
        "ACTIVE".to_string(),
    )];
    let token = aws.run(&home, &["pg", "ledger"]).ok().token();
    pg.create_role("admin", &token);
    let report = doctor_json(&aws, &home, "ledger");
    let dns = check(&report, "ledger", "dns");
    assert_eq!(dns["status"], "skip", "{dns}");
    assert_eq!(check(&report, "ledger", "tunnel")["status"], "ok");
    let login = check(&report, "ledger", "login");
    assert_eq!(login["status"], "ok", "{login}");
    assert_eq!(login["message"], "logged in as admin");
}

// Issue 21: what a new user's AWS account can look like.

fn access_denied_xml(action: &str) -> String {
    format!(
        "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: {} is not authorized to perform: rds:{action}</Message></Error><RequestId>r</RequestId></ErrorResponse>",
        role_arn()
    )
}

#[test]
fn a_failed_proxy_endpoint_listing_is_a_warning_and_the_lookup_goes_on() {
    let home = jane_with(&format!(
        "[connections.proxy]\nhost = \"{PROXY}\"\n\
         [connections.proxy-ro]\nhost = \"{PROXY_READER}\"\n\
         [connections.gone]\nhost = \"gone.abc123.us-east-1.rds.invalid\"\n"
    ));
    for (status, body) in [
        (403, access_denied_xml("DescribeDBProxyEndpoints")),
        (500, String::new()),
    ] {
        let mut state = account();
        state.broken = vec![("DescribeDBProxyEndpoints".into(), status, body)];
        let aws = Aws::new(state);
        let report = aws.run(&home, &["doctor", "--format", "json"]).json();
        // The proxy's own endpoint is known from DescribeDBProxies alone.
        let proxy = check(&report, "proxy", "rds");
        assert_eq!(proxy["status"], "ok", "{proxy:#}");
        assert!(
            proxy["message"]
                .as_str()
                .unwrap()
                .contains("proxy `app-proxy`")
        );
        // A host found nowhere: a warning for what could not be looked at, then the miss.
        let checks = report["sections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "gone")
            .unwrap()["checks"]
            .as_array()
            .unwrap()
            .clone();
        let rds: Vec<_> = checks.iter().filter(|c| c["check"] == "rds").collect();
        assert_eq!(rds.len(), 2, "{checks:#?}");
        assert_eq!(rds[0]["status"], "warn", "{:#}", rds[0]);
        assert!(
            rds[0]["message"]
                .as_str()
                .unwrap()
                .contains("proxies' other endpoints could not be listed"),
            "{:#}",
            rds[0]
        );
        if status == 403 {
            assert!(
                rds[0]["fix"][0]
                    .as_str()
                    .unwrap()
                    .contains("`rds:DescribeDBProxyEndpoints`"),
                "{:#}",
                rds[0]
            );
        } else {
            assert!(rds[0]["fix"][0].as_str().unwrap().contains("not from AWS"));
        }
        assert_eq!(rds[1]["status"], "fail");
        // policy for the proxy needs no endpoint listing.
        aws.run(&home, &["policy", "proxy", "--account", ACCOUNT])
            .ok();
    }
}

#[test]
fn an_answer_that_is_no_aws_error_shows_its_status_and_first_line() {
    let home = jane_with(&format!("[connections.inst]\nhost = \"{INSTANCE_HOST}\"\n"));
    let mut state = account();
    state.broken = vec![(
        "DescribeDBInstances".into(),
        502,
        "\n<html><head><title>502 Bad Gateway</title></head>\n<body>corporate proxy</body></html>"
            .into(),
    )];
    let aws = Aws::new(state);
    let report = aws
        .run(&home, &["doctor", "inst", "--format", "json"])
        .json();
    let rds = check(&report, "inst", "rds");
    let message = rds["message"].as_str().unwrap();
    assert!(message.contains("HTTP 502"), "{message}");
    assert!(
        message.contains("<title>502 Bad Gateway</title>"),
        "{message}"
    );
    assert!(!message.contains("an error"), "{message}");
    let fixes = rds["fix"].to_string();
    assert!(!fixes.contains("needs"), "no permission guessed: {fixes}");
    // A 403 with no AWS error in it is a refusal of the credentials, as the AWS CLI takes it.
    let mut state = account();
    state.broken = vec![("GetCallerIdentity".into(), 403, String::new())];
    let aws = Aws::new(state);
    let run = aws.run(&home, &["token", "inst", "--verify"]);
    run.code(3)
        .stderr_has("HTTP 403 (empty body), not an AWS error")
        .stderr_has("renew the credentials");
    assert_eq!(run.stdout, "");
}

#[test]
fn every_printed_aws_fix_names_the_connections_region_and_profile() {
    let home = jane_with(&format!(
        "[connections.inst]\nhost = \"{INSTANCE_HOST}\"\n[connections.writer]\nhost = \"{WRITER}\"\n"
    ));
    let mut state = account();
    state.instances[0].iam_auth = false;
    state.clusters[0].iam_auth = false;
    let aws = Aws::new(state);
    // The shell says another region and profile: the fix must not depend on them.
    let run = aws.run_env(
        &home,
        &["doctor", "--format", "json"],
        "",
        &[
            ("AWS_REGION", "eu-west-1".into()),
            ("AWS_DEFAULT_REGION", "eu-west-1".into()),
        ],
    );
    let report = run.json();
    for (section, command) in [
        ("inst", "modify-db-instance"),
        ("writer", "modify-db-cluster"),
    ] {
        let fix = check(&report, section, "iam_auth")["fix"][0]
            .as_str()
            .unwrap()
            .to_string();
        assert!(fix.starts_with(&format!("aws rds {command} ")), "{fix}");
        assert!(fix.ends_with(" --region us-east-1 --profile db"), "{fix}");
    }
}

#[test]
fn verify_vouches_for_the_whole_credential_not_its_key_id() {
    let home = jane_with(&format!("[connections.prod]\nhost = \"{INSTANCE_HOST}\"\n"));
    let mut state = account();
    state.sts_secret = Some(common::SECRET_ACCESS_KEY.into());
    let aws = Aws::new(state);
    aws.run(&home, &["token", "prod", "--verify"]).ok();
    // The same access key id with a wrong secret key: STS refuses, whatever the record says.
    let credentials = home.path().join(".aws/credentials");
    let good = std::fs::read_to_string(&credentials).unwrap();
    std::fs::write(
        &credentials,
        good.replace(
            common::SECRET_ACCESS_KEY,
            "wrongSecretKeyEXAMPLE0000000000000000000",
        ),
    )
    .unwrap();
    for args in [
        &["token", "prod", "--verify", "--no-cache"][..],
        &["token", "prod", "--verify"][..],
    ] {
        let run = aws.run(&home, args);
        run.code(3).stderr_has("SignatureDoesNotMatch");
        assert_eq!(run.stdout, "", "{args:?}");
    }
    // The good key again: vouched for by the record, no new STS call...
    std::fs::write(&credentials, &good).unwrap();
    let sts_calls = || {
        aws.server
            .requests()
            .iter()
            .filter(|r| r.body.contains("GetCallerIdentity"))
            .count()
    };
    let before = sts_calls();
    aws.run(&home, &["token", "prod", "--verify"]).ok();
    assert_eq!(sts_calls(), before);
    // ...but --no-cache skips the record and asks STS.
    aws.run(&home, &["token", "prod", "--verify", "--no-cache"])
        .ok();
    assert_eq!(sts_calls(), before + 1);
    // No secret in the record.
    for entry in std::fs::read_dir(home.cache_dir()).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        assert!(
            !text.contains(common::SECRET_ACCESS_KEY),
            "{}",
            entry.path().display()
        );
    }
}

#[test]
fn an_aurora_member_instance_is_judged_by_its_clusters_iam_flag() {
    let add = [
        "connections",
        "add",
        "member",
        "--from-instance",
        "aurora-1",
        "--aws-profile",
        "db",
        "--region",
        "us-east-1",
    ];
    // (cluster's flag, member's own flag): the cluster's alone decides.
    for (cluster_on, member_on) in [(false, true), (true, false)] {
        let home = jane_with("");
        let mut state = account();
        state.clusters[0].iam_auth = cluster_on;
        state.instances[1].iam_auth = member_on;
        let run = Aws::new(state).run(&home, &add);
        run.ok();
        let warned = run
            .stderr
            .contains("IAM database authentication is off for cluster `aurora`");
        assert_eq!(warned, !cluster_on, "{}", run.stderr);
        assert!(!run.stderr.contains("for instance"), "{}", run.stderr);
    }
}

#[test]
fn dsql_only_flags_on_an_rds_connection_are_usage_errors() {
    let home = jane_with("");
    let aws = Aws::new(account());
    for flag in [["--dsql-action", "admin"], ["--token-lifetime", "1h"]] {
        let mut args = vec!["connections", "add", "x", "--host", INSTANCE_HOST];
        args.extend(flag);
        let run = aws.run(&home, &args);
        run.code(2)
            .stderr_has(&format!("{} is only for Aurora DSQL connections", flag[0]));
        assert!(!run.stderr.contains("config.toml:"), "{}", run.stderr);
        let mut args = vec![
            "connections",
            "add",
            "y",
            "--from-instance",
            "prod-db",
            "--aws-profile",
            "db",
            "--region",
            "us-east-1",
        ];
        args.extend(flag);
        aws.run(&home, &args).code(2);
    }
    assert!(
        !std::fs::read_to_string(home.config_path())
            .unwrap()
            .contains("[connections.")
    );
}

#[test]
fn policy_escapes_iam_wildcards_in_a_literal_user() {
    let home = jane_with(&format!("[connections.inst]\nhost = \"{INSTANCE_HOST}\"\n"));
    let aws = Aws::new(account());
    let run = aws.run(
        &home,
        &[
            "policy",
            "inst",
            "--account",
            ACCOUNT,
            "--user-literal",
            "a*b?$c",
        ],
    );
    run.ok();
    let policy = run.json();
    assert_eq!(
        policy["Statement"][0]["Resource"],
        dbuser("db-ABCDEFGHIJKLMNOP", "a${*}b${?}${$}c")
    );
}
