//! The proxy's log on stderr: one line per client connection when it ends (client, upstream,
//! user, duration, bytes each way, and why it failed), and a line per lifecycle event. Text by
//! default, one JSON object a line with --structured-logs. Never a token: the reasons come from
//! `Error` messages and server error texts, which carry names, not secrets.

use super::Target;
use serde_json::json;
use std::time::Instant;

pub struct Record {
    pub id: u64,
    connection: String,
    client: String,
    upstream: String,
    pub user: Option<String>,
    start: Instant,
    pub bytes_from_client: u64,
    pub bytes_to_client: u64,
    pub what: Option<&'static str>,
    /// How a session without an error ended: "closed", or "closed by the server".
    pub ending: &'static str,
    error: Option<String>,
    /// What the session is doing now, and so what an error would be counted as.
    pub stage: super::metrics::Failure,
}

impl Record {
    pub fn new(target: &Target, client: String) -> Record {
        let c = &target.connection;
        Record {
            id: 0,
            connection: target.name.to_string(),
            client,
            upstream: match c.tunnel {
                Some(tunnel) => format!("{}:{} via {tunnel}", c.host, c.port),
                None => format!("{}:{}", c.host, c.port),
            },
            user: None,
            start: Instant::now(),
            bytes_from_client: 0,
            bytes_to_client: 0,
            what: None,
            ending: "closed",
            error: None,
            stage: super::metrics::Failure::ClientProtocol,
        }
    }

    pub fn fail(&mut self, reason: impl Into<String>) {
        self.error = Some(reason.into());
    }

    /// Why it failed, for the metrics; None if it did not.
    pub fn failure(&self) -> Option<super::metrics::Failure> {
        self.error.as_ref().map(|_| self.stage)
    }

    pub fn emit(&self, structured: bool) {
        let duration_ms = super::elapsed_ms(self.start);
        let line = if structured {
            json!({
                "time": crate::clock::rfc3339(std::time::SystemTime::now()),
                "connection": self.connection,
                "id": self.id,
                "kind": self.what.unwrap_or("session"),
                "client": self.client,
                "upstream": self.upstream,
                "user": self.user,
                "duration_ms": duration_ms,
                "bytes_from_client": self.bytes_from_client,
                "bytes_to_client": self.bytes_to_client,
                "outcome": if self.error.is_some() { "error" } else { self.ending },
                "error": self.error,
            })
            .to_string()
        } else {
            let text = format!(
                "rdsiam-helper proxy: {}: {}{} -> {} user={} {}.{:03}s client->server {} B, server->client {} B: {}",
                self.connection,
                self.what.map(|w| format!("{w} ")).unwrap_or_default(),
                self.client,
                self.upstream,
                self.user.as_deref().unwrap_or("-"),
                duration_ms / 1000,
                duration_ms % 1000,
                self.bytes_from_client,
                self.bytes_to_client,
                self.error.as_deref().unwrap_or(self.ending),
            );
            escape_controls(&text)
        };
        write_line(line);
    }
}

/// One write per line, so lines from concurrent sessions never interleave and a session costs
/// one system call for its log (`eprintln!` writes the text and its newline apart); an error
/// writing the log (stderr closed, a full pipe's reader gone) is not a reason to drop a client,
/// where `eprintln!` would panic.
fn write_line(mut line: String) {
    use std::io::Write;
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// A lifecycle line: listening, shutting down, draining.
pub fn event(structured: bool, connection: &str, message: &str) {
    if structured {
        let mut object = json!({
            "time": crate::clock::rfc3339(std::time::SystemTime::now()),
            "event": message,
        });
        if !connection.is_empty() {
            object["connection"] = json!(connection);
        }
        write_line(object.to_string());
    } else if connection.is_empty() {
        write_line(format!("rdsiam-helper proxy: {}", escape_controls(message)));
    } else {
        write_line(format!(
            "rdsiam-helper proxy: {connection}: {}",
            escape_controls(message)
        ));
    }
}

/// A text log line holds what clients send (a user name, a server's message quoting it): a
/// newline or an escape sequence in it must not start a forged line or drive the terminal.
/// Control characters are written as Rust escapes (`\n`, `\u{1b}`); the JSON log escapes them
/// by itself.
fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            super::escape_controls("jane\nrdsiam-helper proxy: forged\u{1b}[2J ok é"),
            "jane\\nrdsiam-helper proxy: forged\\u{1b}[2J ok é"
        );
    }
}
