//! The JDBC drivers that DataGrip and DBeaver load, against the private TLS servers: the exact
//! JDBC URL and user that `setup datagrip` / `setup dbeaver` write, the token as password, full
//! certificate verification. pgjdbc and MariaDB Connector/J come from Debian
//! (`libpostgresql-jdbc-java`, `libmariadb-java`); tests/java/JdbcConnect.java hands them a URL and
//! properties the way a GUI does.
//!
//! What the GUIs do themselves (closed source or not a driver) is done here by the test, each
//! place said in a comment: DataGrip's AWS Toolkit plugin signing (stood in for by
//! `rdsiam-helper pg NAME`), DataGrip's and DBeaver's own `.pgpass` readers, DBeaver's mapping
//! of its SSL handler to driver properties.

use crate::common::servers::{Mariadb, Postgres, Setup};
use crate::common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const PGJDBC_JAR: &str = "/usr/share/java/postgresql.jar";
const MARIADB_JAR: &str = "/usr/share/java/mariadb-java-client.jar";
const CONNECT_JAVA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/java/JdbcConnect.java");

/// A file a test needs from a package; under CI=true a missing one fails, like `require_program`.
fn require_file(path: &str, package: &str) -> Option<()> {
    if Path::new(path).is_file() {
        return Some(());
    }
    let message = format!("{path} is missing; install it with: apt-get install {package}");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{message} (CI=true: a missing driver is a failure, not a skip)");
    }
    eprintln!("SKIPPED: {message}");
    None
}

/// Java and both drivers.
struct Jdbc {
    java: PathBuf,
}

fn jdbc() -> Option<Jdbc> {
    let java = require_program("java", "apt-get install default-jre-headless")?;
    require_file(PGJDBC_JAR, "libpostgresql-jdbc-java")?;
    require_file(MARIADB_JAR, "libmariadb-java")?;
    Some(Jdbc { java })
}

impl Jdbc {
    /// Connects with `url` and `properties` as given; `password` goes through stdin, never argv.
    /// `user.home` is the test's HOME, where pgjdbc looks for `.pgpass` and `.postgresql/`.
    fn connect(
        &self,
        home: &Home,
        url: &str,
        properties: &[(&str, &str)],
        password: Option<&str>,
    ) -> Run {
        let mut child = Command::new(&self.java)
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .arg(format!("-Duser.home={}", home.path().display()))
            // A short-lived JVM: skip the optimising compiler.
            .args(["-XX:TieredStopAtLevel=1", "-Xshare:auto", "-cp"])
            .arg(format!("{PGJDBC_JAR}:{MARIADB_JAR}"))
            .arg(CONNECT_JAVA)
            .arg(url)
            .args(properties.iter().map(|(k, v)| format!("{k}={v}")))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(password.unwrap_or_default().as_bytes())
            .unwrap();
        drop(stdin);
        // Run::from also checks that no driver message carries the token.
        Run::from(child.wait_with_output().unwrap())
    }
}

/// The driver got in as `jane` over TLS.
#[track_caller]
fn assert_connected(run: &Run, driver: &str) {
    run.ok();
    let fields: Vec<&str> = run.stdout.trim().split('\t').collect();
    assert_eq!(fields.len(), 3, "unexpected output: {}", run.stdout);
    assert!(fields[0].contains(driver), "driver: {}", fields[0]);
    assert!(
        fields[1] == "jane" || fields[1].starts_with("jane@"),
        "user: {}",
        fields[1]
    );
    assert_eq!(fields[2], "tls=yes");
}

/// The driver refused the server's certificate (not the password or anything else).
#[track_caller]
fn assert_refused_certificate(run: &Run) {
    assert_ne!(
        run.code, 0,
        "connected through a certificate the CA did not sign:\n{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("PKIX") || run.stderr.to_lowercase().contains("certificat"),
        "failed, but not on the certificate:\n{}",
        run.stderr
    );
}

impl Setup {
    /// `good` verifies with the CA that signed the server, `wrong` with one that did not.
    fn config(&self, engine: &str, port: u16, extra: &str) {
        let good = self.connection("good", engine, port, extra);
        let wrong = self.connection_with_ca("wrong", engine, port, &self.ca.other_ca_pem(), extra);
        self.home.config(format!("{good}\n{wrong}"));
    }

    fn run(&self, args: &[&str]) -> Run {
        let run = self.home.run(args);
        run.ok();
        run
    }
}

fn attribute(e: &quick_xml::events::BytesStart<'_>, name: &str) -> Option<String> {
    let a = e.try_get_attribute(name).unwrap()?;
    Some(
        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .unwrap()
            .into_owned(),
    )
}

/// Every `(element, text)` and `(property name, value)` inside the `<data-source name="NAME">`
/// of a DataGrip project file.
fn data_source_fields(xml: &str, name: &str) -> Vec<(String, String)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut inside = false;
    let mut element = String::new();
    let mut text = String::new();
    let mut fields = Vec::new();
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) if e.name().0 == "data-source" => {
                inside = attribute(&e, "name").as_deref() == Some(name);
            }
            Event::End(e) if e.name().0 == "data-source" => inside = false,
            Event::Empty(e) if inside && e.name().0 == "property" => {
                fields.push((
                    attribute(&e, "name").unwrap(),
                    attribute(&e, "value").unwrap(),
                ));
            }
            Event::Start(e) if inside => {
                element = e.name().0.to_string();
                text.clear();
            }
            Event::Text(t) if inside => text.push_str(&t.xml10_content()),
            // quick-xml hands `&amp;` and the like over as events of their own.
            Event::GeneralRef(r) if inside => {
                let name = r.xml10_content();
                match r.resolve_char_ref().unwrap() {
                    Some(c) => text.push(c),
                    None => {
                        text.push_str(quick_xml::escape::resolve_predefined_entity(&name).unwrap())
                    }
                }
            }
            Event::End(_) if !element.is_empty() => {
                fields.push((std::mem::take(&mut element), std::mem::take(&mut text)));
            }
            Event::Eof => return fields,
            _ => {}
        }
    }
}

/// What `setup datagrip NAME --write` wrote into both project files.
struct DataGripSource {
    url: String,
    user: String,
    /// `jdbc-additional-properties`
    properties: Vec<(String, String)>,
    /// `ssl-config`
    ssl_mode: String,
    ca_cert: String,
}

fn datagrip_source(project: &Path, name: &str) -> DataGripSource {
    let read = |file: &str| {
        let xml = std::fs::read_to_string(project.join(".idea").join(file)).unwrap();
        data_source_fields(&xml, name)
    };
    let shared = read("dataSources.xml");
    let local = read("dataSources.local.xml");
    let field = |fields: &[(String, String)], key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {key} in data source {name}: {fields:?}"))
    };
    DataGripSource {
        url: field(&shared, "jdbc-url"),
        properties: shared
            .iter()
            .filter(|(k, _)| k.starts_with("AWS."))
            .cloned()
            .collect(),
        user: field(&local, "user-name"),
        ssl_mode: field(&local, "mode"),
        ca_cert: field(&local, "ca-cert"),
    }
}

/// The `wrong` connection's DataGrip data source (a CA that did not sign the server), given
/// `password`: pgjdbc must refuse the server's certificate.
fn refused_with_the_wrong_ca(
    jdbc: &Jdbc,
    setup: &Setup,
    extra: &[&str],
    password: &str,
) -> DataGripSource {
    let wrong = write_datagrip(setup, "wrong", extra);
    let run = jdbc.connect(
        &setup.home,
        &wrong.url,
        &[("user", &wrong.user)],
        Some(password),
    );
    assert_refused_certificate(&run);
    wrong
}

fn write_datagrip(setup: &Setup, name: &str, extra: &[&str]) -> DataGripSource {
    let project = setup.home.path().join("project");
    let mut args = vec!["setup", "datagrip", name, "--write"];
    let project_arg = project.display().to_string();
    args.push(&project_arg);
    args.extend(extra);
    setup.run(&args);
    datagrip_source(&project, name)
}

fn start_postgres(setup: &Setup) -> Option<(Jdbc, Postgres)> {
    let jdbc = jdbc()?;
    Some((jdbc, Postgres::start(&setup.ca)?))
}

/// DataGrip's default mode: the AWS Toolkit plugin signs the token itself for
/// `AWS.RdsSigningHost`/`Port` and the user name, and DataGrip hands the data source's URL, user
/// and additional properties to pgjdbc. The plugin is not here; `rdsiam-helper pg` signs the same
/// token (host, port, user, region, profile) in its place.
#[test]
fn datagrip_postgres_url_gets_pgjdbc_in_with_the_token_and_verify_full() {
    let setup = Setup::new();
    let Some((jdbc, pg)) = start_postgres(&setup) else {
        return;
    };
    setup.config("postgres", pg.port(), "database = \"postgres\"");
    let token = setup.token("pg", "good");
    pg.create_role("jane", &token);

    let source = write_datagrip(&setup, "good", &[]);
    assert!(source.url.contains("sslmode=verify-full"), "{}", source.url);
    assert_eq!(source.user, "jane");
    let host = source
        .properties
        .iter()
        .find(|(k, _)| k == "AWS.RdsSigningHost")
        .map(|(_, v)| v.as_str());
    assert_eq!(host, Some("localhost"));
    // The plugin's properties go to the driver too: pgjdbc must take them without complaint.
    let mut properties: Vec<(&str, &str)> = source
        .properties
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    properties.push(("user", &source.user));
    let run = jdbc.connect(&setup.home, &source.url, &properties, Some(&token));
    assert_connected(&run, "PostgreSQL JDBC Driver");

    // The same, but the connection's CA did not sign the server: pgjdbc must refuse it.
    let wrong = refused_with_the_wrong_ca(&jdbc, &setup, &[], &token);
    assert!(wrong.url.contains("sslrootcert="), "{}", wrong.url);
}

/// `(host, port, database)` of a `jdbc:postgresql://HOST:PORT/DB?...` URL.
fn url_parts(url: &str) -> (String, String, String) {
    let rest = url.strip_prefix("jdbc:postgresql://").unwrap();
    let rest = rest.split('?').next().unwrap();
    let (address, database) = rest.split_once('/').unwrap();
    let (host, port) = address.rsplit_once(':').unwrap();
    (host.to_string(), port.to_string(), database.to_string())
}

/// The password on the first `.pgpass` line that matches, read as libpq, DataGrip and DBeaver
/// read it: `*` matches anything, `\:` and `\\` are escapes.
fn pgpass_password(home: &Home, wanted: [&str; 4]) -> String {
    let text = std::fs::read_to_string(home.path().join(".pgpass")).unwrap();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut fields = vec![String::new()];
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => fields.last_mut().unwrap().extend(chars.next()),
                ':' => fields.push(String::new()),
                c => fields.last_mut().unwrap().push(c),
            }
        }
        if fields.len() == 5 && fields.iter().zip(wanted).all(|(f, w)| f == "*" || f == w) {
            return fields.pop().unwrap();
        }
    }
    panic!("no .pgpass line for {wanted:?}:\n(lines hidden: they hold tokens)");
}

/// DataGrip's `--auth pgpass`: DataGrip's own pgpass auth provider reads `~/.pgpass` (the line
/// for the data source's host, port, database and user) and hands the password to pgjdbc. That
/// reader is DataGrip's code, so the test reads the line `setup pgpass` wrote the same way.
/// pgjdbc (42.3 and later) also reads `~/.pgpass` itself when it is given no password; that is
/// checked too. The connection names no database: DataGrip must open `postgres`, as psql does.
#[test]
fn datagrip_pgpass_mode_gets_pgjdbc_in_with_the_pgpass_line_and_no_database_named() {
    let setup = Setup::new();
    let Some((jdbc, pg)) = start_postgres(&setup) else {
        return;
    };
    setup.config("postgres", pg.port(), "");
    pg.create_role("jane", &setup.token("pg", "good"));
    setup.run(&["setup", "pgpass", "good", "--write"]);

    let source = write_datagrip(&setup, "good", &["--auth", "pgpass"]);
    assert!(source.properties.is_empty(), "{:?}", source.properties);
    let (host, port, database) = url_parts(&source.url);
    assert_eq!(host, "localhost");
    let password = pgpass_password(&setup.home, [&host, &port, &database, &source.user]);
    let run = jdbc.connect(
        &setup.home,
        &source.url,
        &[("user", &source.user)],
        Some(&password),
    );
    assert_connected(&run, "PostgreSQL JDBC Driver");
    assert_eq!(database, "postgres");
    // pgjdbc finding the password in ~/.pgpass on its own
    let run = jdbc.connect(&setup.home, &source.url, &[("user", &source.user)], None);
    assert_connected(&run, "PostgreSQL JDBC Driver");

    refused_with_the_wrong_ca(&jdbc, &setup, &["--auth", "pgpass"], &password);
}

/// DataGrip's MySQL data source names MySQL Connector/J (`com.mysql.cj.jdbc.Driver`, whose
/// property `sslMode=VERIFY_IDENTITY` is in the URL), which Debian does not package. MariaDB
/// Connector/J, what DataGrip and DBeaver load for MariaDB, takes the same `jdbc:mysql:` URL,
/// user and token; but 2.7 (Debian's) knows no `sslMode` (3.x takes VERIFY_IDENTITY as an alias
/// of verify-full), so TLS comes from the data source's `ssl-config`, mapped to this driver's
/// properties: `ca-cert` is `serverSslCert`, and mode VERIFY_FULL keeps hostname verification on.
#[test]
fn datagrip_mysql_data_source_gets_mariadb_connector_j_in_with_the_token_and_verified_tls() {
    let setup = Setup::new();
    let Some(jdbc) = jdbc() else {
        return;
    };
    let Some(db) = Mariadb::start(&setup.ca) else {
        return;
    };
    setup.config("mysql", db.port(), "");
    let token = setup.token("mysql", "good");
    db.create_user("jane", &token);

    let connect = |source: &DataGripSource| {
        assert!(
            source.url.starts_with("jdbc:mysql://localhost:")
                && source.url.contains("sslMode=VERIFY_IDENTITY"),
            "{}",
            source.url
        );
        assert_eq!(source.ssl_mode, "VERIFY_FULL");
        let mut properties: Vec<(&str, &str)> = source
            .properties
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        properties.extend([
            ("user", source.user.as_str()),
            ("useSsl", "true"),
            ("serverSslCert", source.ca_cert.as_str()),
        ]);
        jdbc.connect(&setup.home, &source.url, &properties, Some(&token))
    };
    let run = connect(&write_datagrip(&setup, "good", &[]));
    assert_connected(&run, "MariaDB Connector/J");
    let run = connect(&write_datagrip(&setup, "wrong", &[]));
    assert_refused_certificate(&run);
}

/// What `setup dbeaver NAME --write` wrote: the connection's `configuration`.
fn dbeaver_configuration(setup: &Setup, name: &str, auth: &str) -> serde_json::Value {
    let path = setup.home.path().join("dbeaver/data-sources.json");
    let path_arg = path.display().to_string();
    setup.run(&[
        "setup", "dbeaver", name, "--write", &path_arg, "--auth", auth,
    ]);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    json["connections"][format!("postgres-jdbc-rdsiam-{name}")]["configuration"].clone()
}

/// The driver properties DBeaver derives from its `postgre_ssl` handler, as its
/// `PostgreDataSource.initServerSSL` does (local files): `ssl=true`; `sslrootcert` from
/// `ssl.ca.cert` when `ssl.method` is set (from the legacy `sslRootCert` otherwise); `sslmode`
/// from `sslMode`.
fn dbeaver_ssl_properties(configuration: &serde_json::Value) -> Vec<(&'static str, String)> {
    let handler = &configuration["handlers"]["postgre_ssl"];
    assert_eq!(handler["enabled"], true, "{handler}");
    let property = |key: &str| {
        handler["properties"][key]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let root_cert = if property("ssl.method").is_empty() {
        property("sslRootCert")
    } else {
        property("ssl.ca.cert")
    };
    vec![
        ("ssl", "true".to_string()),
        ("sslrootcert", root_cert),
        ("sslmode", property("sslMode")),
    ]
}

/// DBeaver builds the JDBC URL from `host`/`port`/`database` (configurationType MANUAL), puts the
/// SSL handler's properties and the user beside it, and takes the password from its auth model:
/// `postgres_pgpass` is DBeaver's own `.pgpass` reader (AuthModelPgPass: the first line matching
/// the configured host, port, database and user), `shell_command` runs the command.
#[test]
fn dbeaver_connection_gets_pgjdbc_in_with_pgpass_or_the_command_and_verify_full() {
    let setup = Setup::new();
    let Some((jdbc, pg)) = start_postgres(&setup) else {
        return;
    };
    setup.config("postgres", pg.port(), "");
    pg.create_role("jane", &setup.token("pg", "good"));
    setup.run(&["setup", "pgpass", "good", "--write"]);

    let connect = |configuration: &serde_json::Value, password: &str| {
        let field = |key: &str| configuration[key].as_str().unwrap().to_string();
        let url = field("url");
        assert_eq!(
            url,
            format!(
                "jdbc:postgresql://{}:{}/{}",
                field("host"),
                field("port"),
                field("database")
            )
        );
        let ssl = dbeaver_ssl_properties(configuration);
        let user = field("user");
        let mut properties: Vec<(&str, &str)> = ssl.iter().map(|(k, v)| (*k, v.as_str())).collect();
        properties.push(("user", &user));
        jdbc.connect(&setup.home, &url, &properties, Some(password))
    };
    let pgpass_password = |configuration: &serde_json::Value| {
        let field = |key: &str| configuration[key].as_str().unwrap().to_string();
        pgpass_password(
            &setup.home,
            [
                &field("host"),
                &field("port"),
                &field("database"),
                &field("user"),
            ],
        )
    };

    let configuration = dbeaver_configuration(&setup, "good", "pgpass");
    assert_eq!(configuration["auth-model"], "postgres_pgpass");
    let run = connect(&configuration, &pgpass_password(&configuration));
    assert_connected(&run, "PostgreSQL JDBC Driver");

    // --auth command: the command runs as DBeaver runs it, with only HOME (and PATH) set.
    let configuration = dbeaver_configuration(&setup, "good", "command");
    assert_eq!(configuration["auth-model"], "shell_command");
    let command = configuration["auth-properties"]["passwordCommand"]
        .as_str()
        .unwrap();
    let output = Command::new("/bin/sh")
        .args(["-c", command])
        .env_clear()
        .env("HOME", setup.home.path())
        .output()
        .unwrap();
    let printed = Run::from(output);
    printed.ok();
    let run = connect(&configuration, &printed.token());
    assert_connected(&run, "PostgreSQL JDBC Driver");

    let configuration = dbeaver_configuration(&setup, "wrong", "pgpass");
    let run = connect(&configuration, &pgpass_password(&configuration));
    assert_refused_certificate(&run);
}

/// Through a tunnel the drivers dial the forward, where they cannot match the endpoint's name:
/// the URLs say verify-ca, so the CA is still checked (another CA is refused). The token stays
/// signed for the endpoint (`AWS.RdsSigningHost`), and in pgpass mode the GUIs find the
/// forward's own `.pgpass` line.
#[test]
fn through_a_tunnel_the_drivers_dial_the_forward_and_still_check_the_ca() {
    let setup = Setup::new();
    let Some((jdbc, pg)) = start_postgres(&setup) else {
        return;
    };
    let forward = tcp_forward(pg.port());
    setup.config(
        "postgres",
        pg.port(),
        &format!("tunnel = \"127.0.0.1:{forward}\""),
    );
    let token = setup.token("pg", "good");
    pg.create_role("jane", &token);
    setup.run(&["setup", "pgpass", "good", "--write"]);
    let dialled = (
        "127.0.0.1".to_string(),
        forward.to_string(),
        "postgres".to_string(),
    );

    // DataGrip, AWS Toolkit mode: the plugin's token for the endpoint
    let source = write_datagrip(&setup, "good", &[]);
    assert!(source.url.contains("sslmode=verify-ca"), "{}", source.url);
    assert_eq!(url_parts(&source.url), dialled);
    let run = jdbc.connect(
        &setup.home,
        &source.url,
        &[("user", &source.user)],
        Some(&token),
    );
    assert_connected(&run, "PostgreSQL JDBC Driver");

    // DataGrip, pgpass mode: the line for the address it dials
    let source = write_datagrip(&setup, "good", &["--auth", "pgpass"]);
    let password = pgpass_password(&setup.home, [&dialled.0, &dialled.1, &dialled.2, "jane"]);
    let run = jdbc.connect(
        &setup.home,
        &source.url,
        &[("user", &source.user)],
        Some(&password),
    );
    assert_connected(&run, "PostgreSQL JDBC Driver");

    // DBeaver, pgpass mode
    let configuration = dbeaver_configuration(&setup, "good", "pgpass");
    let url = configuration["url"].as_str().unwrap();
    assert_eq!(url_parts(url), dialled);
    let ssl = dbeaver_ssl_properties(&configuration);
    assert!(
        ssl.contains(&("sslmode", "verify-ca".to_string())),
        "{ssl:?}"
    );
    let mut properties: Vec<(&str, &str)> = ssl.iter().map(|(k, v)| (*k, v.as_str())).collect();
    properties.push(("user", "jane"));
    let run = jdbc.connect(&setup.home, url, &properties, Some(&password));
    assert_connected(&run, "PostgreSQL JDBC Driver");

    refused_with_the_wrong_ca(&jdbc, &setup, &["--auth", "pgpass"], &password);
}
