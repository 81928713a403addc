//! The basics, end to end through the binary: signing, config, exit codes and the cache.

use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

#[test]
fn binary_prints_botocore_tokens_byte_for_byte() {
    let vectors = botocore_vectors();
    let home = Home::new();
    for v in vectors {
        let mut cmd = home.cmd_at(&v.signed_at);
        cmd.env("AWS_ACCESS_KEY_ID", &v.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &v.secret_access_key)
            .args(["token", "--no-cache", "--host", &v.host, "--user", &v.user])
            .args(["--port", &v.port.to_string(), "--region", &v.region]);
        if let Some(session_token) = &v.session_token {
            cmd.env("AWS_SESSION_TOKEN", session_token);
        }
        let run = Run::from(cmd.output().unwrap());
        run.ok();
        assert_eq!(run.token(), v.token, "vector {}", v.name);
    }
}

#[test]
fn region_comes_from_flag_then_host_then_profile() {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    home.aws_config("[profile p]\nregion = ap-south-1");
    let region = |args: &[&str]| {
        let mut all = vec![
            "token",
            "--no-cache",
            "--format",
            "json",
            "--user",
            "u",
            "--aws-profile",
            "p",
        ];
        all.extend_from_slice(args);
        let run = home.run(&all);
        run.ok();
        let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        json["region"].as_str().unwrap().to_string()
    };
    assert_eq!(
        region(&["--host", "db.cluster-ro-x1.eu-west-3.rds.amazonaws.com"]),
        "eu-west-3"
    );
    assert_eq!(
        region(&["--host", "p.proxy-x1.ca-central-1.rds.amazonaws.com"]),
        "ca-central-1"
    );
    assert_eq!(
        region(&["--host", "db.internal", "--region", "us-west-2"]),
        "us-west-2"
    );
    assert_eq!(region(&["--host", "db.internal"]), "ap-south-1");
}

#[test]
fn json_output_has_the_documented_fields() {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    let run = home.run(&[
        "token",
        "--host",
        HOST,
        "--user",
        "jane",
        "--aws-profile",
        "p",
        "--format",
        "json",
    ]);
    run.ok();
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    for key in ["token", "expires_at", "host", "port", "user", "region"] {
        assert!(!json[key].is_null(), "missing {key}");
    }
    assert_eq!(json["port"], 5432);
    let expires =
        chrono::DateTime::parse_from_rfc3339(json["expires_at"].as_str().unwrap()).unwrap();
    let left = expires.timestamp() - chrono::Utc::now().timestamp();
    assert!(
        (880..=900).contains(&left),
        "a new token lives 15 minutes, got {left}s"
    );
}

#[test]
fn bad_config_names_file_line_and_key() {
    let home = Home::new();
    let cases = [
        (
            "[connections.a]\nhost = \"h\"\nuser = \"u\"\nhots = \"x\"\n",
            "config.toml:4",
            "hots",
        ),
        (
            "[connections.a]\nhost = \"h\"\nuser = \"u\"\nport = 70000\n",
            "config.toml:4",
            "70000 is not a port",
        ),
        (
            "[connections.a]\nhost = \"h\"\nuser = \"u\"\nport = \"abc\"\n",
            "config.toml:4",
            "`connections.a.port`",
        ),
        (
            "[connections.a]\nhost = \"h\"\nuser = \"u\"\nengine = \"oracle\"\n",
            "config.toml:4",
            "unknown engine",
        ),
        (
            "[connections.a]\nhost = \"h\"\nuser = \"u\"\n[connections.a]\nhost = \"i\"\n",
            "config.toml:4",
            "duplicate",
        ),
        ("this is not toml\n", "config.toml:1", "TOML"),
        (
            "[defaults]\nrefresh_before = \"20m\"\n[connections.a]\nhost = \"h\"\nuser = \"u\"\n",
            "config.toml:2",
            "`defaults.refresh_before`: an RDS token lives 15 minutes; refresh_before must be shorter",
        ),
        (
            "[defaults]\nrefresh_before = \"8d\"\n",
            "config.toml:2",
            "not shorter than a week",
        ),
        (
            "[connections.a]\nhost = \"\"\nuser = \"u\"\n",
            "config.toml:2",
            "host is empty",
        ),
        (
            "[connections.a]\nhost = \"h\"\nuser = \"a\\nb\"\n",
            "config.toml:3",
            "control character",
        ),
        (
            "[connections.a]\nuser = \"u\"\n",
            "config.toml:1",
            "connections.a.host",
        ),
    ];
    for (text, location, needle) in cases {
        home.config(text);
        let run = home.run(&["connections", "list"]);
        run.code(1).stderr_has(location).stderr_has(needle);
        assert!(
            run.stderr.starts_with("rdsiam-helper: error: "),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn exit_codes() {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    home.config(format!(
        "[connections.prod]\nhost = \"{HOST}\"\nuser = \"jane\"\naws_profile = \"p\"\n\n\
         [connections.shop]\nengine = \"mysql\"\nhost = \"{HOST}\"\nuser = \"jane\"\naws_profile = \"p\"\n\n\
         [connections.orphan]\nhost = \"{HOST}\"\nuser = \"jane\"\naws_profile = \"missing\"\n"
    ));
    home.run(&["pg", "prod"]).ok();
    home.run(&["mysql", "shop"]).ok();
    // 1: an unknown connection, listing the known ones and the closest
    home.run(&["pg", "prd"])
        .code(1)
        .stderr_has("did you mean `prod`")
        .stderr_has("orphan, prod, shop");
    // help and version are not errors
    assert!(
        home.run(&["--help"])
            .ok()
            .stdout
            .contains("Usage: rdsiam-helper")
    );
    assert!(
        home.run(&["--version"])
            .ok()
            .stdout
            .starts_with("rdsiam-helper ")
    );
    // 2: usage errors, including a connection of the other engine
    home.run(&["pg"]).code(2).stderr_has(
        "rdsiam-helper: error: the following required arguments were not provided: <NAME>",
    );
    home.run(&["token", "--host", HOST, "--user", "u", "--port", "0"])
        .code(2);
    home.run(&["token", "--host", HOST, "--user", "u", "--port", "70000"])
        .code(2);
    home.run(&["token", "--host", HOST, "--user", "u", "--port", "abc"])
        .code(2);
    home.run(&["mysql", "prod"])
        .code(2)
        .stderr_has("rdsiam-helper pg prod");
    home.run(&["pg", "shop"])
        .code(2)
        .stderr_has("rdsiam-helper mysql shop");
    // 3: credentials missing, with the fix
    home.run(&["pg", "orphan"])
        .code(3)
        .stderr_has("profile `missing` does not exist")
        .stderr_has("aws configure");
    home.run(&["token", "--host", HOST, "--user", "u"])
        .code(3)
        .stderr_has("AWS_ACCESS_KEY_ID");
}

#[test]
fn expired_credential_process_exits_3() {
    let home = Home::new();
    let script = home.write(
        "bin/expired.sh",
        &format!(
            "#!/bin/sh\nprintf '{{\"Version\":1,\"AccessKeyId\":\"{ACCESS_KEY_ID}\",\"SecretAccessKey\":\"x\",\"SessionToken\":\"t\",\"Expiration\":\"2020-01-01T00:00:00Z\"}}'\n"
        ),
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    home.aws_config(&format!(
        "[profile old]\ncredential_process = {}",
        script.display()
    ));
    let run = home.run(&[
        "token",
        "--host",
        HOST,
        "--user",
        "u",
        "--aws-profile",
        "old",
    ]);
    run.code(3);
    assert!(run.stdout.is_empty());
}

#[test]
fn second_call_is_a_cache_hit() {
    let home = Home::new();
    let count = counting_process(&home, "cp", 3600, "0");
    home.config(format!(
        "[connections.prod]\nhost = \"{HOST}\"\nuser = \"jane\"\naws_profile = \"cp\"\n"
    ));
    let first = home.run(&["pg", "prod"]);
    first.ok();
    let second = home.run(&["pg", "prod", "-v"]);
    second.ok().stderr_has("cache hit");
    assert_eq!(first.token(), second.token());
    assert_eq!(runs(&count), 1);
    // --no-cache signs anew
    home.run(&["pg", "prod", "--no-cache"]).ok();
    assert_eq!(runs(&count), 2);
}

#[test]
fn token_is_never_served_past_credential_expiry_minus_refresh_before() {
    let home = Home::new();
    // Credentials live 8 minutes; refresh_before is 5: a token is good for 3 minutes.
    let count = counting_process(&home, "short", 480, "0");
    home.config(format!(
        "[defaults]\nrefresh_before = \"5m\"\n[connections.prod]\nhost = \"{HOST}\"\nuser = \"jane\"\naws_profile = \"short\"\n"
    ));
    let start = chrono::Utc::now().timestamp();
    let at = |offset: i64| {
        let run = Run::from(
            home.cmd_at(start + offset)
                .args(["token", "prod", "--format", "json"])
                .output()
                .unwrap(),
        );
        run.ok();
        let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let expires = chrono::DateTime::parse_from_rfc3339(json["expires_at"].as_str().unwrap())
            .unwrap()
            .timestamp();
        (json["token"].as_str().unwrap().to_string(), expires)
    };
    let (first, expires) = at(0);
    assert_eq!(
        expires,
        start + 480,
        "validity is bounded by the credentials' expiry"
    );
    assert_eq!(
        at(170).0,
        first,
        "still 5m10s of life: served from the cache"
    );
    assert_eq!(runs(&count), 1);
    let (later, _) = at(181);
    assert_ne!(later, first, "under 5 minutes of life left: refreshed");
    assert_eq!(runs(&count), 2);
}

#[test]
fn thirty_two_cold_processes_sign_once() {
    let home = Home::new();
    let count = counting_process(&home, "herd", 3600, "0.5");
    home.config(format!(
        "[connections.prod]\nhost = \"{HOST}\"\nuser = \"jane\"\naws_profile = \"herd\"\n"
    ));
    let children: Vec<_> = (0..32)
        .map(|_| {
            home.cmd()
                .args(["pg", "prod"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let tokens: Vec<String> = children
        .into_iter()
        .map(|child| {
            let run = Run::from(child.wait_with_output().unwrap());
            run.ok();
            run.token()
        })
        .collect();
    assert_eq!(runs(&count), 1, "the credential process ran more than once");
    assert!(
        tokens
            .iter()
            .all(|t| *t == tokens[0] && t.contains("X-Amz-Security-Token=session-herd"))
    );
}

#[test]
fn cache_files_are_private_and_never_listed_with_the_token() {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    home.config(format!(
        "[connections.prod]\nhost = \"{HOST}\"\nuser = \"jane\"\naws_profile = \"p\"\n"
    ));
    let token = home.run(&["pg", "prod"]).ok().token();
    let dir = home.cache_dir();
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(
        files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "json"))
    );
    for file in &files {
        assert_eq!(
            std::fs::metadata(file).unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            file.display()
        );
    }
    let list = home.run(&["cache", "list"]);
    list.ok();
    assert!(list.stdout.contains("prod") && list.stdout.contains(HOST));
    assert!(!list.stdout.contains(&token) && !list.stdout.contains("X-Amz-Signature"));
    home.run(&["cache", "clear", "prod"]).ok();
    assert!(!files.iter().any(|f| f.exists()));
}

#[test]
fn corrupt_or_truncated_cache_files_are_replaced() {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    home.config(format!(
        "[connections.prod]\nhost = \"{HOST}\"\nuser = \"jane\"\naws_profile = \"p\"\n"
    ));
    home.run(&["pg", "prod"]).ok();
    let file = std::fs::read_dir(home.cache_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let good = std::fs::read(&file).unwrap();
    let bad: [&[u8]; 5] = [
        b"",
        &good[..good.len() / 2],
        b"\x00\xff\xfe binary",
        b"{\"token\": 42}",
        b"[1,2,3]",
    ];
    for content in bad {
        std::fs::write(&file, content).unwrap();
        let run = home.run(&["pg", "prod"]);
        run.ok();
        assert!(run.token().contains("X-Amz-Signature="));
        let replaced: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(replaced["token"].as_str().unwrap(), run.token());
    }
}

#[test]
fn two_profiles_with_the_same_host_and_user_get_different_tokens() {
    let home = Home::new();
    home.static_profile("a", "AKIAAAAAAAAAAEXAMPLE");
    home.static_profile("b", "AKIABBBBBBBBBEXAMPLE");
    home.config(format!(
        "[connections.one]\nhost = \"{HOST}\"\nuser = \"jane\"\naws_profile = \"a\"\n\
         [connections.two]\nhost = \"{HOST}\"\nuser = \"jane\"\naws_profile = \"b\"\n"
    ));
    let one = home.run(&["pg", "one"]).ok().token();
    let two = home.run(&["pg", "two"]).ok().token();
    assert!(one.contains("AKIAAAAAAAAAAEXAMPLE") && two.contains("AKIABBBBBBBBBEXAMPLE"));
    // and the cache serves each its own
    assert_eq!(home.run(&["pg", "one"]).ok().token(), one);
    assert_eq!(home.run(&["pg", "two"]).ok().token(), two);
}

#[test]
fn tableplus_runs_it_with_an_empty_environment() {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    home.config(format!(
        "[connections.prod]\nhost = \"{HOST}\"\nuser = \"jane\"\naws_profile = \"p\"\n"
    ));
    let output = std::process::Command::new("/usr/bin/env")
        .args(["-i", &format!("HOME={}", home.path().display())])
        .arg(binary())
        .args(["pg", "prod"])
        .output()
        .unwrap();
    let run = Run::from(output);
    run.ok();
    assert!(
        run.stdout
            .starts_with(&format!("{HOST}:5432/?Action=connect&DBUser=jane&"))
    );
    assert_eq!(run.stdout.lines().count(), 1);
    assert!(run.stderr.is_empty(), "stderr: {}", run.stderr);
}

#[test]
fn connections_add_keeps_comments_and_other_entries() {
    let home = Home::new();
    let original = "# my databases\n[defaults]\nregion = \"us-east-1\" # main region\n\n# staging is shared\n[connections.staging]\nhost = \"staging.example.com\"\nuser = \"jane\"\n";
    home.config(original);
    home.run(&[
        "connections",
        "add",
        "prod",
        "--host",
        HOST,
        "--user",
        "jane",
        "--database",
        "app",
    ])
    .ok();
    let text = std::fs::read_to_string(home.config_path()).unwrap();
    assert!(text.starts_with(original), "{text}");
    assert!(text.contains("[connections.prod]") && text.contains("database = \"app\""));
    let list = home.run(&["connections", "list"]);
    list.ok();
    assert!(list.stdout.contains("prod") && list.stdout.contains("staging"));
    let show = home.run(&["connections", "show", "prod"]);
    show.ok();
    assert!(show.stdout.contains("region = us-east-1"));
    home.run(&["connections", "remove", "staging"]).ok();
    let text = std::fs::read_to_string(home.config_path()).unwrap();
    assert!(text.contains("# my databases") && !text.contains("staging.example.com"));
    home.run(&[
        "connections",
        "add",
        "bad",
        "--host",
        "h",
        "--refresh-before",
        "1h",
    ])
    .code(2);
    assert_eq!(
        std::fs::read_to_string(home.config_path()).unwrap(),
        text,
        "a bad add leaves the file alone"
    );
}

#[test]
fn verbose_output_never_shows_secrets() {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    let run = home.run(&[
        "token",
        "-v",
        "--host",
        HOST,
        "--user",
        "jane",
        "--aws-profile",
        "p",
    ]);
    run.ok()
        .stderr_has("cache miss")
        .stderr_has("signed a token");
    assert!(!run.stderr.contains(SECRET_ACCESS_KEY));
    assert!(!run.stderr.contains(&run.token()));
    assert!(!run.stderr.contains("X-Amz-Signature"));
}

#[test]
fn cache_clear_name_removes_tokens_made_under_another_environment() {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    home.config(format!(
        "[connections.prod]\nhost = \"{HOST}\"\nuser = \"jane\"\naws_profile = \"p\"\n"
    ));
    home.run(&["pg", "prod"]).ok();
    // A GUI client's environment differs (here: another credentials file), so its key differs.
    let other = home.write(
        "other-credentials",
        &format!("[p]\naws_access_key_id = {ACCESS_KEY_ID}\naws_secret_access_key = {SECRET_ACCESS_KEY}\n"),
    );
    let run = Run::from(
        home.cmd()
            .env("AWS_SHARED_CREDENTIALS_FILE", &other)
            .args(["pg", "prod"])
            .output()
            .unwrap(),
    );
    run.ok();
    let tokens = || {
        std::fs::read_dir(home.cache_dir())
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .count()
    };
    assert_eq!(tokens(), 2);
    home.run(&["cache", "clear", "prod"])
        .ok()
        .stderr_has("removed 2 cached token(s)");
    assert_eq!(tokens(), 0);
}

/// Issue 10 item 7: flag > the connection's `region` > the endpoint name's > `[defaults]` >
/// the profile's; a region that contradicts the endpoint's name is signed but warned about.
#[test]
fn an_explicit_region_beats_the_endpoint_name_with_a_warning() {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    home.aws_config("[profile p]\nregion = ap-south-1");
    home.config(
        "[defaults]\naws_profile = \"p\"\nregion = \"sa-east-1\"\n\n\
         [connections.own]\nhost = \"db.cluster-x1.eu-west-3.rds.amazonaws.com\"\nuser = \"u\"\nregion = \"eu-west-3\"\n\n\
         [connections.other]\nhost = \"db.cluster-x1.eu-west-3.rds.amazonaws.com\"\nuser = \"u\"\nregion = \"us-west-2\"\n\n\
         [connections.named]\nhost = \"db.cluster-x1.eu-west-3.rds.amazonaws.com\"\nuser = \"u\"\n\n\
         [connections.plain]\nhost = \"db.internal\"\nuser = \"u\"\n",
    );
    let region = |args: &[&str]| {
        let mut all = vec!["token", "--no-cache", "--format", "json"];
        all.extend_from_slice(args);
        let run = home.run(&all);
        run.ok();
        let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        (json["region"].as_str().unwrap().to_string(), run.stderr)
    };
    let warning = "the endpoint db.cluster-x1.eu-west-3.rds.amazonaws.com is in eu-west-3";
    // the flag beats everything, and the endpoint's name is contradicted: a warning
    let (got, stderr) = region(&["named", "--region", "us-east-2"]);
    assert_eq!(got, "us-east-2");
    assert!(stderr.contains(warning), "{stderr}");
    // the connection's own region beats the endpoint's name, with the same warning
    let (got, stderr) = region(&["other"]);
    assert_eq!(got, "us-west-2");
    assert!(stderr.contains(warning), "{stderr}");
    // agreeing with the name: no warning
    let (got, stderr) = region(&["own"]);
    assert_eq!((got.as_str(), stderr.as_str()), ("eu-west-3", ""));
    // the endpoint's name beats [defaults]
    assert_eq!(region(&["named"]).0, "eu-west-3");
    // [defaults] beats the profile
    assert_eq!(region(&["plain"]).0, "sa-east-1");
    // and the profile's region is last
    let ad_hoc = region(&["--host", "db.internal", "--user", "u", "--aws-profile", "p"]);
    assert_eq!(
        ad_hoc.0, "sa-east-1",
        "an ad-hoc token still takes [defaults]"
    );
    home.config("");
    let ad_hoc = region(&["--host", "db.internal", "--user", "u", "--aws-profile", "p"]);
    assert_eq!(ad_hoc.0, "ap-south-1");
}

/// Issue 10 item 8: a bad value given to `connections add` writes nothing, to a new file or
/// to an existing one.
#[test]
fn connections_add_with_a_bad_value_writes_nothing() {
    let home = Home::new();
    let bad_values: &[&[&str]] = &[
        &["--aws-profile", ""],
        &["--database", ""],
        &["--ca-bundle", ""],
        &["--user", ""],
        &["--region", ""],
        &["--refresh-before", ""],
        &["--tunnel", "127.0.0.1:0"],
        &["--tunnel", "localhost:15432"],
        &["--tunnel", ""],
        &["--port", "0"],
    ];
    for existing in [
        None,
        Some("# mine\n[connections.a]\nhost = \"h\"\nuser = \"u\"\n"),
    ] {
        let _ = std::fs::remove_file(home.config_path());
        if let Some(text) = existing {
            home.config(text);
        }
        for flag in bad_values {
            let mut args = vec!["connections", "add", "x", "--host", "h"];
            args.extend_from_slice(flag);
            let run = home.run(&args);
            run.code(2)
                .stderr_has(&format!("rdsiam-helper: error: {}: ", flag[0]));
            let now = std::fs::read_to_string(home.config_path()).ok();
            assert_eq!(now.as_deref(), existing, "{flag:?} changed the config");
        }
    }
}

/// Issue 10 item 9: what people paste from AWS CLI commands is taken; what the AWS CLI
/// refuses is refused in its words.
#[test]
fn the_drop_in_takes_aws_cli_global_options_and_refuses_odd_hosts_clearly() {
    let home = Home::new();
    let drop_in = |extra: &[&str], host: &str| {
        let mut cmd = home.cmd_at("2026-11-25T12:00:00Z");
        cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
            .args(["rds", "generate-db-auth-token", "--hostname", host])
            .args([
                "--port",
                "5432",
                "--username",
                "jane_doe",
                "--region",
                "us-east-1",
            ])
            .args(extra);
        Run::from(cmd.output().unwrap())
    };
    let plain = drop_in(&[], HOST);
    plain.ok();
    let pasted = drop_in(
        &[
            "--endpoint-url",
            "https://rds.us-east-1.amazonaws.com",
            "--ca-bundle",
            "/etc/ssl/certs/ca-certificates.crt",
            "--no-verify-ssl",
            "--cli-read-timeout",
            "5",
            "--cli-connect-timeout=5",
            "--no-cli-pager",
            "--color",
            "off",
            "--query",
            "@",
            "--output",
            "text",
            "--debug",
        ],
        HOST,
    );
    assert_eq!(pasted.ok().stdout, plain.stdout, "{}", pasted.stderr);

    let vectors = botocore_vectors();
    let ipv6 = vectors
        .iter()
        .find(|v| v.name == "host_ipv6_loopback")
        .unwrap();
    assert_eq!(drop_in(&[], &ipv6.host).ok().token(), ipv6.token);

    let accented = drop_in(&[], "bücher.example.com");
    accented
        .code(252)
        .stderr_has("argument --hostname: the host contains `ü`; a host name is ASCII");
    assert!(!accented.stderr.contains("canonical request"));
    drop_in(&[], "::1")
        .code(252)
        .stderr_has("argument --hostname: an IPv6 address goes in brackets, as in a URL: [::1]");

    let mut nope = home.cmd();
    nope.args(["rds", "generate-db-auth-token", "--hostname", HOST])
        .args(["--port", "5432", "--username", "u", "--region", "us-east-1"])
        .args(["--profile", "nope"]);
    let nope = Run::from(nope.output().unwrap());
    nope.code(255)
        .stderr_has("The config profile (nope) could not be found");
}

/// Issue 10 item 14: every flag and argument in every `--help` says what it is for.
#[test]
fn every_flag_in_every_help_has_a_description() {
    let home = Home::new();
    let mut commands: Vec<Vec<String>> = vec![vec![]];
    let mut checked = 0;
    while let Some(path) = commands.pop() {
        // `help PATH` rather than `PATH --help`: the drop-in takes `--help` as its own.
        let mut args = vec!["help"];
        args.extend(path.iter().map(String::as_str));
        let run = home.run(&args);
        run.ok();
        let lines: Vec<&str> = run.stdout.lines().collect();
        let indent = |line: &str| line.len() - line.trim_start().len();
        let mut section = "";
        for (i, line) in lines.iter().enumerate() {
            if !line.is_empty() && !line.starts_with(' ') {
                section = if line.ends_with(':') { line } else { "" };
                continue;
            }
            let item = line.trim_start();
            // An item is indented 2 (or 6: a long flag without a short one); its text follows
            // on the line, or on the next lines indented 10 (`help` gives the long form).
            if item.is_empty() || indent(line) >= 10 {
                continue;
            }
            match section {
                "Commands:" => {
                    let name = item.split_whitespace().next().unwrap();
                    if name != "help" {
                        let mut sub = path.clone();
                        sub.push(name.to_string());
                        commands.push(sub);
                    }
                }
                "Options:" | "Arguments:" => {}
                _ => continue,
            }
            let same_line = item
                .split_once("  ")
                .is_some_and(|(_, text)| !text.trim().is_empty());
            let next_line = lines
                .get(i + 1)
                .is_some_and(|next| indent(next) >= 10 && !next.trim().is_empty());
            assert!(
                same_line || next_line,
                "`{}`: no description for `{item}`",
                args.join(" ")
            );
            checked += 1;
        }
    }
    assert!(checked > 60, "only {checked} help lines seen");
}

/// Issue 10 item 14: a man page, and no Rust debug text in config errors.
#[test]
fn a_man_page_is_generated_and_errors_carry_no_rust_debug_text() {
    let home = Home::new();
    let man = home.run(&["man"]);
    man.ok();
    assert!(
        man.stdout.starts_with(".ie \\n(.g .ds Aq"),
        "{}",
        &man.stdout[..80.min(man.stdout.len())]
    );
    assert!(man.stdout.contains(".TH rdsiam-helper 1"));
    assert!(man.stdout.contains("generate\\-db\\-auth\\-token") || man.stdout.contains("rds"));

    let broken = [
        "[connections.a\n",
        "[connections.a]\nhost = \"h\nuser = \"u\"\n",
        "[connections.\"a b\"]\nhost = \"h\"\nuser = \"u\"\n",
        "[connections.a]\nhost = 'h'\nuser = [1, \"u\"]\n",
        "x = [1\n",
        "[[connections]]\n",
        "[connections.a]\nhost = \"h\"\nuser = \"u\"\nport = 1.5\n",
        "[connections.a]\nhost = \"h\"\nuser = \"u\"\nrefresh_before = \"soon\"\n",
    ];
    for text in broken {
        home.config(text);
        let run = home.run(&["connections", "list"]);
        run.code(1);
        for debug in ["Some(", "None", "\\\"", "[\"", "Spanned", "Raw"] {
            assert!(!run.stderr.contains(debug), "{text:?}: {}", run.stderr);
        }
    }
}

#[test]
fn refresh_hints_print_a_setup_command_that_runs_as_printed() {
    let home = Home::new();
    home.static_profile("p", ACCESS_KEY_ID);
    let config = home.write(
        "elsewhere/config.toml",
        &format!("[defaults]\naws_profile = \"p\"\n[connections.prod]\nhost = \"{HOST}\"\nuser = \"jane\"\n"),
    );
    let config = config.to_str().unwrap();
    let binary = binary();
    let binary = binary.to_str().unwrap();
    let pgpass = home.write("other.pgpass", "");
    let pgpass = pgpass.to_str().unwrap();
    // No line for `prod` in that file: the hint writes one there, with this config.
    let run = home.run(&["--config", config, "refresh", "prod", "--pgpass", pgpass]);
    run.code(1).stderr_has(&format!(
        "hint: add it with `{binary} --config {config} setup pgpass prod --write {pgpass}`"
    ));
    // And it runs as printed: the line is written, then refreshed.
    let hint = run
        .stderr
        .lines()
        .find(|l| l.contains("hint: add it with"))
        .and_then(|l| l.split('`').nth(1))
        .unwrap()
        .to_string();
    let words: Vec<&str> = hint.split(' ').collect();
    let output = home.cmd().args(&words[1..]).output().unwrap();
    assert!(output.status.success(), "{hint}: {output:?}");
    home.run(&["--config", config, "refresh", "prod", "--pgpass", pgpass])
        .ok();
    // A missing file: the hint creates the entry for this connection in it.
    let missing = home.path().join("missing.pgpass");
    let missing = missing.to_str().unwrap();
    home.run(&["--config", config, "refresh", "prod", "--pgpass", missing])
        .code(1)
        .stderr_has(&format!(
            "hint: create the entry with `{binary} --config {config} setup pgpass prod --write {missing}`"
        ));
    // The default config and file: no --config, no path.
    home.config(format!(
        "[defaults]\naws_profile = \"p\"\n[connections.prod]\nhost = \"{HOST}\"\nuser = \"jane\"\n"
    ));
    home.write(".pgpass", "");
    home.run(&["refresh", "prod"]).code(1).stderr_has(&format!(
        "hint: add it with `{binary} setup pgpass prod --write`"
    ));
}
