//! The README's "Bad input" table as data: each case's input, exit code and message, shared
//! by the Linux test (reliability.rs) and the Windows build's under Wine (windows.rs), which
//! must give the same message and code.

/// One row of the bad-input table (README, "Bad input").
pub struct Bad {
    pub input: &'static str,
    pub config: Option<String>,
    pub args: Vec<String>,
    pub code: i32,
    pub message: &'static str,
}

fn bad(input: &'static str, args: &[&str], code: i32, message: &'static str) -> Bad {
    Bad {
        input,
        config: None,
        args: args.iter().map(|a| a.to_string()).collect(),
        code,
        message,
    }
}

fn bad_config(
    input: &'static str,
    config: impl Into<String>,
    code: i32,
    message: &'static str,
) -> Bad {
    Bad {
        input,
        config: Some(config.into()),
        args: vec!["pg".into(), "a".into()],
        code,
        message,
    }
}

/// Every case; a case with `config` runs with that config file, the others with none. The
/// profile `p` must exist with static credentials.
pub fn table() -> Vec<Bad> {
    let long_host = "a".repeat(254);
    let good = "[connections.a]\nhost = \"h.example.com\"\nuser = \"u\"\naws_profile = \"p\"\nca_bundle = \"/nonexistent/ca.pem\"\n";
    vec![
        bad(
            "empty host",
            &["token", "--host", "", "--user", "u"],
            2,
            "rdsiam-helper: error: --host: the host is empty",
        ),
        bad(
            "254-character host",
            &["token", "--host", &long_host, "--user", "u"],
            2,
            "rdsiam-helper: error: --host: the host is 254 characters long; a DNS name has at most 253",
        ),
        bad(
            "host with a scheme",
            &["token", "--host", "https://h", "--user", "u"],
            2,
            "rdsiam-helper: error: --host: the host contains `:`; give the bare endpoint name, without scheme or port",
        ),
        bad(
            "port 0",
            &["token", "--host", "h", "--user", "u", "--port", "0"],
            2,
            "rdsiam-helper: error: --port: 0 is not a port (1-65535)",
        ),
        bad(
            "port 70000",
            &["token", "--host", "h", "--user", "u", "--port", "70000"],
            2,
            "rdsiam-helper: error: --port: 70000 is not a port (1-65535)",
        ),
        bad(
            "port abc",
            &["token", "--host", "h", "--user", "u", "--port", "abc"],
            2,
            "rdsiam-helper: error: --port: `abc` is not a port (1-65535)",
        ),
        bad(
            "user with a newline",
            &["token", "--host", "h", "--user", "a\nb"],
            2,
            "rdsiam-helper: error: --user: the user contains a control character (newline, NUL, ...)",
        ),
        bad(
            "empty AWS profile",
            &["token", "--host", "h", "--user", "u", "--aws-profile", ""],
            2,
            "rdsiam-helper: error: --aws-profile: the AWS profile name is empty",
        ),
        bad(
            "empty region",
            &["token", "--host", "h", "--user", "u", "--region", ""],
            2,
            "rdsiam-helper: error: --region: the region is empty; give one such as us-east-1",
        ),
        bad(
            "empty database",
            &["connections", "add", "x", "--host", "h", "--database", ""],
            2,
            "rdsiam-helper: error: --database: the database name is empty",
        ),
        bad(
            "empty CA bundle",
            &["connections", "add", "x", "--host", "h", "--ca-bundle", ""],
            2,
            "rdsiam-helper: error: --ca-bundle: the path is empty",
        ),
        bad(
            "tunnel port 0",
            &[
                "connections",
                "add",
                "x",
                "--host",
                "h",
                "--tunnel",
                "127.0.0.1:0",
            ],
            2,
            "rdsiam-helper: error: --tunnel: `127.0.0.1:0` has port 0; give the port the forward listens on",
        ),
        bad(
            "tunnel to a name",
            &[
                "connections",
                "add",
                "x",
                "--host",
                "h",
                "--tunnel",
                "localhost:5432",
            ],
            2,
            "rdsiam-helper: error: --tunnel: `localhost:5432` is not an IP:PORT address (e.g. 127.0.0.1:15432, or [::1]:15432)",
        ),
        bad(
            "empty connection name",
            &["pg", ""],
            2,
            "rdsiam-helper: error: NAME: the connection name is empty",
        ),
        bad(
            "empty duration",
            &[
                "connections",
                "add",
                "x",
                "--host",
                "h",
                "--refresh-before",
                "",
            ],
            2,
            "rdsiam-helper: error: --refresh-before: the duration is empty; give one like 5m or 90s",
        ),
        bad(
            "unknown connection",
            &["pg", "nope"],
            1,
            "rdsiam-helper: error: no connection named `nope` in ",
        ),
        bad_config(
            "empty host in the config",
            "[connections.a]\nhost = \"\"\nuser = \"u\"\n",
            1,
            "config.toml:2: `connections.a.host`: the host is empty",
        ),
        bad_config(
            "254-character host in the config",
            format!("[connections.a]\nhost = \"{long_host}\"\nuser = \"u\"\n"),
            1,
            "config.toml:2: `connections.a.host`: the host is 254 characters long; a DNS name has at most 253",
        ),
        bad_config(
            "port = 0",
            "[connections.a]\nhost = \"h\"\nuser = \"u\"\nport = 0\n",
            1,
            "config.toml:4: `connections.a.port`: 0 is not a port (1-65535)",
        ),
        bad_config(
            "port = 70000",
            "[connections.a]\nhost = \"h\"\nuser = \"u\"\nport = 70000\n",
            1,
            "config.toml:4: `connections.a.port`: 70000 is not a port (1-65535)",
        ),
        bad_config(
            "port = \"abc\"",
            "[connections.a]\nhost = \"h\"\nuser = \"u\"\nport = \"abc\"\n",
            1,
            "config.toml:4: `connections.a.port`: invalid type: string \"abc\", expected an integer",
        ),
        bad_config(
            "user with a NUL",
            "[connections.a]\nhost = \"h\"\nuser = \"a\\u0000b\"\n",
            1,
            "config.toml:3: `connections.a.user`: the user contains a control character (newline, NUL, ...)",
        ),
        bad_config(
            "user with a newline in the config",
            "[connections.a]\nhost = \"h\"\nuser = \"a\\nb\"\n",
            1,
            "config.toml:3: `connections.a.user`: the user contains a control character (newline, NUL, ...)",
        ),
        bad_config(
            "tunnel port 0 in the config",
            "[connections.a]\nhost = \"h\"\nuser = \"u\"\ntunnel = \"127.0.0.1:0\"\n",
            1,
            "config.toml:4: `connections.a.tunnel`: `127.0.0.1:0` has port 0; give the port the forward listens on",
        ),
        bad_config(
            "empty aws_profile in the config",
            "[connections.a]\nhost = \"h\"\nuser = \"u\"\naws_profile = \"\"\n",
            1,
            "config.toml:4: `connections.a.aws_profile`: the AWS profile name is empty",
        ),
        bad_config(
            "empty database in [defaults]",
            "[defaults]\ndatabase = \"\"\n",
            1,
            "config.toml:2: `defaults.database`: the database name is empty",
        ),
        bad_config(
            "duplicate connection name",
            "[connections.a]\nhost = \"h\"\nuser = \"u\"\n\n[connections.a]\nhost = \"i\"\n",
            1,
            "config.toml:5: duplicate table `[connections.a]`: each table, and so each connection name, may appear once",
        ),
        bad_config(
            "duplicate key",
            "[connections.a]\nhost = \"h\"\nhost = \"i\"\n",
            1,
            "config.toml:3: duplicate key `host` in [connections.a]",
        ),
        bad_config(
            "connection name with a space",
            "[connections.\"a b\"]\nhost = \"h\"\nuser = \"u\"\n",
            1,
            "config.toml:1: `connections.\"a b\"`: `a b` is not a usable connection name: use letters, digits, `-`, `_` and `.`",
        ),
        bad_config(
            "unknown key",
            "[connections.a]\nhost = \"h\"\nuser = \"u\"\nhots = \"x\"\n",
            1,
            "config.toml:4: unknown key `hots` in [connections.a], expected one of `engine`, `host`, `port`",
        ),
        bad_config(
            "unknown key in [defaults]",
            "[defaults]\nprofile = \"p\"\n",
            1,
            "config.toml:2: unknown key `profile` in [defaults], expected one of `aws_profile`",
        ),
        bad_config(
            "not TOML",
            "this is not toml\n",
            1,
            "config.toml:1: not valid TOML: key with no value, expected `=`",
        ),
        bad_config(
            "a connection that is not a table",
            "[connections]\na = 1\n",
            1,
            "config.toml:2: `connections.a`: invalid type: integer `1`, expected a [connections.NAME] table",
        ),
        Bad {
            input: "missing CA bundle (connect)",
            config: Some(good.into()),
            args: vec!["connect".into(), "a".into()],
            code: 1,
            message: "rdsiam-helper: error: the CA bundle /nonexistent/ca.pem does not exist; clients need it to verify the server (sslmode verify-full)",
        },
        Bad {
            input: "missing CA bundle (exec)",
            config: Some(good.into()),
            args: vec!["exec".into(), "a".into(), "--".into(), "true".into()],
            code: 1,
            message: "rdsiam-helper: error: the CA bundle /nonexistent/ca.pem does not exist; clients need it to verify the server (sslmode verify-full)",
        },
        Bad {
            input: "missing config file",
            config: None,
            args: vec![
                "--config".into(),
                "/nonexistent/config.toml".into(),
                "pg".into(),
                "a".into(),
            ],
            code: 1,
            message: "rdsiam-helper: error: config file /nonexistent/config.toml does not exist",
        },
    ]
}
