//! config.toml as the tests write it: a `[connections.NAME]` table built key by key, so each
//! test states the keys it is about and the rest are the usual ones.

use std::fmt::Write as _;
use std::path::Path;

/// One `[connections.NAME]` table; `as_ref()` is its TOML text, ready for `Home::config`.
pub struct Connection {
    text: String,
}

impl Connection {
    /// The table header alone.
    pub fn named(name: &str) -> Connection {
        Connection {
            text: format!("[connections.{name}]\n"),
        }
    }

    /// The connection most tests sign for: `engine` at `host:port` as `jane` in us-east-1,
    /// with the static-credential profile `profile`.
    pub fn jane(name: &str, engine: &str, host: &str, port: u16, profile: &str) -> Connection {
        Connection::named(name)
            .key("engine", engine)
            .key("host", host)
            .key("port", u32::from(port))
            .key("user", "jane")
            .key("region", "us-east-1")
            .key("aws_profile", profile)
    }

    /// `key = value`, the value written as TOML writes it (strings quoted and escaped).
    pub fn key(mut self, key: &str, value: impl Into<toml::Value>) -> Connection {
        writeln!(self.text, "{key} = {}", value.into()).unwrap();
        self
    }

    /// `ca_bundle = "PATH"`.
    pub fn ca_bundle(self, path: &Path) -> Connection {
        self.key("ca_bundle", path.display().to_string())
    }

    /// Lines the test writes itself (keys in an unusual form, or none when empty), ending the
    /// table with a blank line.
    pub fn lines(mut self, lines: &str) -> Connection {
        self.text.push_str(lines);
        self.text.push('\n');
        self
    }
}

impl AsRef<str> for Connection {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}
