//! `.pgpass` as people really leave it: the marker comment deleted by hand, a blank line added,
//! their own password line above ours, a tunnel. Through the binary; libpq reads the first line
//! that matches, so each test checks that the only token line for the endpoint is the fresh one.

use crate::common::config::Connection;
use crate::common::servers::{Postgres, TestCa};
use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

/// Past the 15-minute life of a token signed now: every step of a test signs anew.
fn minutes_later(minutes: i64) -> i64 {
    minutes_from_now(minutes)
}

/// A HOME with a `prod` connection to `host:port` (and `extra` config lines).
fn prod_at(host: &str, port: u16, extra: &str) -> Home {
    let home = Home::with_profile("p");
    home.config(Connection::jane("prod", "postgres", host, port, "p").lines(extra));
    home
}

fn pgpass(home: &Home) -> PathBuf {
    home.path().join(".pgpass")
}

fn read(home: &Home) -> String {
    std::fs::read_to_string(pgpass(home)).unwrap()
}

/// The token lines libpq would consider for `host:port`, in file order.
fn token_lines(text: &str, host: &str, port: u16) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{host}:{port}:")) && l.contains("X-Amz-Signature="))
        .map(str::to_string)
        .collect()
}

fn escaped(token: &str) -> String {
    token.replace('\\', "\\\\").replace(':', "\\:")
}

fn without_marker(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("# rdsiam-helper:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn a_deleted_marker_leaves_one_token_line_and_it_is_the_fresh_one() {
    let home = prod_at(HOST, 5432, "");
    home.write(".pgpass", "# mine\nother:1:*:bob:pw\n");
    home.run(&["setup", "pgpass", "prod", "--write"]).ok();
    let old = home.run(&["pg", "prod"]).ok().token();

    for (step, minutes, args) in [
        ("refresh --all", 16, &["refresh", "--all"][..]),
        ("refresh prod", 32, &["refresh", "prod"][..]),
        (
            "setup --write",
            48,
            &["setup", "pgpass", "prod", "--write"][..],
        ),
    ] {
        let stripped = without_marker(&read(&home));
        std::fs::write(pgpass(&home), &stripped).unwrap();
        let now = minutes_later(minutes);
        home.run_at(now, args).ok();
        let fresh = home.run_at(now, &["pg", "prod"]).ok().token();
        assert_ne!(fresh, old, "{step}");
        let text = read(&home);
        let lines = token_lines(&text, HOST, 5432);
        assert_eq!(lines.len(), 1, "{step} left:\n{text}");
        assert!(lines[0].ends_with(&escaped(&fresh)), "{step}: not fresh");
        assert!(
            text.starts_with("# mine\nother:1:*:bob:pw\n"),
            "{step}:\n{text}"
        );
        assert_eq!(
            text.matches("# rdsiam-helper: prod ").count(),
            1,
            "{step}:\n{text}"
        );
    }
}

#[test]
fn a_blank_line_under_the_marker_does_not_grow_the_file() {
    let home = prod_at(HOST, 5432, "");
    home.run(&["setup", "pgpass", "prod", "--write"]).ok();
    let text = read(&home);
    let (marker, rest) = text.split_once('\n').unwrap();
    std::fs::write(pgpass(&home), format!("{marker}\n\n{rest}# end\n")).unwrap();

    let mut sizes = Vec::new();
    for minutes in [16, 32] {
        let now = minutes_later(minutes);
        home.run_at(now, &["refresh", "--all"]).ok();
        let fresh = home.run_at(now, &["pg", "prod"]).ok().token();
        let text = read(&home);
        let lines = token_lines(&text, HOST, 5432);
        assert_eq!(lines.len(), 1, "{text}");
        assert!(lines[0].ends_with(&escaped(&fresh)));
        assert!(
            text.contains("\n\n# end\n"),
            "the blank line and after kept:\n{text}"
        );
        sizes.push(text.lines().count());
    }
    assert_eq!(sizes, [4, 4]);
}

#[test]
fn our_lines_go_above_a_users_line_that_would_match_first_and_stay_there() {
    let home = prod_at(HOST, 5432, "");
    let users = "# mine\n*:*:*:jane:pw\nother:5432:*:bob:secret\n";
    home.write(".pgpass", users);
    let setup = home.run(&["setup", "pgpass", "prod", "--write"]);
    setup
        .ok()
        .stderr_has(&format!(
            "{}:2: put the lines for `prod` above line 4",
            pgpass(&home).display()
        ))
        .stderr_has("libpq uses the first matching line");
    assert!(!setup.stderr.contains(":pw"), "{}", setup.stderr);
    let text = read(&home);
    assert!(text.starts_with("# mine\n# rdsiam-helper: prod "), "{text}");
    // Every line of the user's is kept, byte for byte and in order.
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("# rdsiam-helper") && !l.contains("X-Amz-Signature"))
        .collect();
    assert_eq!(kept, users.lines().collect::<Vec<_>>());
    assert_eq!(token_lines(&text, HOST, 5432).len(), 1);

    // Once above, refresh rewrites the token where it is, and says nothing more.
    let refresh = home.run_at(minutes_later(16), &["refresh", "--all"]);
    assert!(
        !refresh.ok().stderr.contains("put the lines"),
        "{}",
        refresh.stderr
    );
    let after = read(&home);
    assert!(
        after.starts_with("# mine\n# rdsiam-helper: prod "),
        "{after}"
    );
    assert_ne!(after, text, "a fresh token was written");
    assert_eq!(after.lines().count(), text.lines().count());

    // A catch-all moved above ours later by hand is found by refresh too.
    let reordered = format!("*:*:*:*:x\n{after}");
    std::fs::write(pgpass(&home), &reordered).unwrap();
    home.run_at(minutes_later(32), &["refresh", "--all"])
        .ok()
        .stderr_has("put the lines for `prod` above line 3");
    assert!(read(&home).starts_with("# rdsiam-helper: prod "));
}

#[test]
fn with_a_tunnel_the_endpoint_name_and_the_tunnel_address_both_get_the_token() {
    let home = prod_at(HOST, 5432, "tunnel = \"127.0.0.1:15432\"");
    home.write(".pgpass", "# mine\n");
    home.run(&["setup", "pgpass", "prod", "--write"]).ok();
    let old = home.run(&["pg", "prod"]).ok().token();
    let text = read(&home);
    let endpoint = token_lines(&text, HOST, 15432);
    let tunnel = token_lines(&text, "127.0.0.1", 15432);
    assert_eq!((endpoint.len(), tunnel.len()), (1, 1), "{text}");
    assert!(endpoint[0].ends_with(&escaped(&old)) && tunnel[0].ends_with(&escaped(&old)));
    assert!(
        token_lines(&text, HOST, 5432).is_empty(),
        "signed for 5432, dialled on 15432"
    );

    let now = minutes_later(16);
    home.run_at(now, &["refresh", "--all"]).ok();
    let fresh = home.run_at(now, &["pg", "prod"]).ok().token();
    assert_ne!(fresh, old);
    let text = read(&home);
    let endpoint = token_lines(&text, HOST, 15432);
    let tunnel = token_lines(&text, "127.0.0.1", 15432);
    assert_eq!((endpoint.len(), tunnel.len()), (1, 1), "{text}");
    assert!(endpoint[0].ends_with(&escaped(&fresh)) && tunnel[0].ends_with(&escaped(&fresh)));
    assert_eq!(text.lines().count(), 4, "{text}");
}

#[test]
fn psql_gets_in_through_pgpass_after_the_marker_was_deleted_and_refresh_ran() {
    let ca = TestCa::new();
    let Some(pg) = Postgres::start(&ca) else {
        return;
    };
    let home = prod_at(
        "localhost",
        pg.port(),
        &format!(
            "database = \"postgres\"\nca_bundle = \"{}\"",
            ca.ca_pem().display()
        ),
    );
    home.write(".pgpass", "# mine\n");
    home.run(&["setup", "pgpass", "prod", "--write"]).ok();
    let old = home.run(&["pg", "prod"]).ok().token();
    pg.create_role("jane", &old);
    std::fs::write(pgpass(&home), without_marker(&read(&home))).unwrap();
    std::fs::set_permissions(pgpass(&home), std::fs::Permissions::from_mode(0o600)).unwrap();

    // Sixteen minutes on, the old token is dead: the server takes only the fresh one.
    let now = minutes_later(16);
    home.run_at(now, &["refresh", "--all"]).ok();
    let fresh = home.run_at(now, &["pg", "prod"]).ok().token();
    assert_ne!(fresh, old);
    pg.set_password("jane", &fresh);

    let run = Run::from(
        Command::new(pg.psql())
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .args(["-XtA", "-c", "select current_user"])
            .arg(format!(
                "host=localhost port={} dbname=postgres user=jane sslmode=verify-full sslrootcert={}",
                pg.port(),
                ca.ca_pem().display()
            ))
            .output()
            .unwrap(),
    );
    run.ok();
    assert_eq!(run.stdout.trim(), "jane");
}
