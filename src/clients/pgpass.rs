//! `.pgpass`: `host:port:database:user:password` lines. The lines this tool owns sit under a
//! marker comment naming the connection. A merge replaces them, and also drops any other token
//! line (a password holding `X-Amz-Signature=`) for the same endpoint and user: libpq takes the
//! first matching line, so a dead token left above a fresh one would keep being sent. A line
//! without a token is the user's own password and is never changed.

use crate::clients::via_proxy::{self, PROXY_HOST};
use crate::clients::{AuthMode, Client, Edit, Plan, Request, require_wire};
use crate::config::Connection;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::token::Token;
use crate::values::{DbUser, Wire};

use std::path::{Path, PathBuf};

const MARKER: &str = "# rdsiam-helper:";
/// The marker of a line for the proxy's local password (not a token: never refreshed).
const PROXY_MARKER: &str = "# rdsiam-helper proxy:";

/// In every IAM token and never in a password a person picks: what tells our lines apart.
const SIGNATURE: &str = "X-Amz-Signature=";

/// `$PGPASSFILE`, else the per-user password file where libpq looks.
pub fn default_path() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("PGPASSFILE").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    crate::platform::paths::pgpass().ok_or_else(|| {
        Error::failure(format!(
            "cannot find the home directory for {}",
            crate::platform::paths::PGPASS_SHOWN
        ))
    })
}

/// libpq splits on unescaped `:` and unescapes `\`; a token has `:` after the host.
pub fn escape(field: &str) -> String {
    escaped(field).concat()
}

/// `escape` as slices of `field` and escape sequences, for text built without a plain copy
/// of a secret field (`Secret::concat`).
fn escaped(field: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = field;
    while let Some(at) = rest.find([':', '\\']) {
        parts.push(&rest[..at]);
        parts.push(if rest[at..].starts_with(':') {
            "\\:"
        } else {
            "\\\\"
        });
        rest = &rest[at + 1..];
    }
    parts.push(rest);
    parts
}

/// The marker comment and the lines for `connection`. libpq before the "arbitrary-length
/// lines in .pgpass" fix read at most 320 bytes a line; tokens are longer, so the psql guide
/// names the fixed releases.
///
/// Clients match `.pgpass` on different hosts, always with the port they dial. libpq given
/// `host=<endpoint> hostaddr=<tunnel ip>` matches on the endpoint's name; JDBC clients
/// (DataGrip, DBeaver) know only the address they dial. With a tunnel both get a line, with the
/// same token, so one refresh keeps both fresh.
pub fn entry(name: &str, connection: &Connection, user: &str, token: &Token) -> Secret {
    let mut hosts = vec![connection.host.to_string()];
    if let Some(tunnel) = connection.tunnel {
        let ip = tunnel.ip().to_string();
        if ip != *connection.host {
            hosts.push(ip);
        }
    }
    let marker = format!("{MARKER} {name} (refreshed by `rdsiam-helper refresh`)\n");
    let logins: Vec<String> = hosts
        .iter()
        .map(|host| {
            format!(
                "{}:{}:*:{}:",
                escape(host),
                connection.dial_port(),
                escape(user)
            )
        })
        .collect();
    let password = escaped(token.expose());
    let mut parts = vec![marker.as_str()];
    for login in &logins {
        parts.push(login);
        parts.extend(&password);
        parts.push("\n");
    }
    Secret::concat(&parts)
}

/// `setup pgpass`: the entry printed, or merged into `.pgpass` (0600) above any line of the
/// user's that would match first.
pub struct Pgpass;

impl Client for Pgpass {
    fn accepts(&self, connection: &Connection, name: &str, _auth: Option<AuthMode>) -> Result<()> {
        require_wire(connection, name, Wire::Postgres, ".pgpass", None)
    }

    fn needs_token(&self, _connection: &Connection) -> bool {
        true
    }

    fn plan<'a>(&self, request: &Request<'a>) -> Result<Plan<'a>> {
        let issued = request
            .issued
            .ok_or_else(|| Error::failure("internal error: .pgpass is planned without a token"))?;
        plan(request, &issued.token)
    }

    fn via_proxy<'a>(&self, request: &Request<'a>) -> Result<Plan<'a>> {
        via_proxy_plan(request)
    }
}

fn plan<'a>(request: &Request<'a>, token: &Token) -> Result<Plan<'a>> {
    let name = request.name;
    let text = entry(name, request.connection, request.user, token);
    let Some(path) = request.destination.file(default_path)? else {
        return Ok(Plan {
            print: Some(text.into()),
            ..Plan::default()
        });
    };
    // The timer must refresh the file that was written, and a timer has neither this shell's
    // PGPASSFILE nor its working folder: any file but ~/.pgpass is named, absolute.
    let written = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
    let usual = dirs::home_dir().map(|home| home.join(".pgpass"));
    let refresh = match usual.as_ref() == Some(&written) {
        true => request.command.line(&["refresh", "--all"]),
        false => {
            let written = written.display().to_string();
            request
                .command
                .line(&["refresh", "--all", "--pgpass", &written])
        }
    };
    let edit_path = path.clone();
    Ok(Plan {
        edits: vec![Edit::new(path, move |existing| {
            validate(existing, &edit_path)?;
            Ok(merge_placed(existing, &edit_path, name, &text))
        })],
        notes: vec![format!(
            "the token there lasts {}; {}",
            humantime::format_duration(request.connection.token_lifetime),
            crate::platform::timer::refresh_note(&refresh)
        )],
        ..Plan::default()
    })
}

fn marker_name(line: &str) -> Option<&str> {
    let rest = line.strip_prefix(MARKER)?.trim_start();
    rest.split_whitespace().next()
}

/// Names of the connections whose lines this tool owns in `text`.
pub fn owned(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(marker_name)
        .map(str::to_string)
        .collect()
}

/// Refuses a file libpq would misread, naming the first bad line; nothing is written then.
pub fn validate(text: &str, path: &Path) -> Result<()> {
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if count_separators(line) < 4 {
            return Err(Error::failure(format!(
                "{}:{}: not a `host:port:database:user:password` line; the file was left unchanged",
                path.display(),
                number + 1
            ))
            .hint("fix or comment out that line (escape `:` and `\\` inside fields with `\\`), then run again"));
        }
    }
    Ok(())
}

fn is_token_line(line: &str) -> bool {
    !line.starts_with('#') && count_separators(line) >= 4 && line.contains(SIGNATURE)
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

fn count_separators(line: &str) -> usize {
    let mut count = 0;
    let mut escaped = false;
    for c in line.chars() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, ':') => count += 1,
            _ => {}
        }
    }
    count
}

/// The `host`, `port`, `database` and `user` fields of a password line, as written (escaped),
/// or `None` for a comment, a blank or a malformed line, which libpq never matches.
fn login_fields(line: &str) -> Option<[&str; 4]> {
    let line = line.trim_end_matches(['\n', '\r']);
    if line.starts_with('#') {
        return None;
    }
    let mut fields = [""; 4];
    let mut start = 0;
    let mut found = 0;
    let mut escaped = false;
    for (at, c) in line.char_indices() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, ':') => {
                fields[found] = &line[start..at];
                found += 1;
                start = at + 1;
                if found == 4 {
                    return Some(fields);
                }
            }
            _ => {}
        }
    }
    None
}

fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// Who a line logs in as, fields unescaped. A token is signed for host, port and user only, so
/// two token lines that agree on these hold tokens for the same login whatever the database.
#[derive(Debug, Clone, PartialEq)]
struct Login {
    host: String,
    port: String,
    database: String,
    user: String,
}

impl Login {
    fn of(line: &str) -> Option<Login> {
        let [host, port, database, user] = login_fields(line)?.map(unescape);
        Some(Login {
            host,
            port,
            database,
            user,
        })
    }

    fn same_signer(&self, other: &Login) -> bool {
        self.host == other.host && self.port == other.port && self.user == other.user
    }

    /// Whether libpq, connecting as `self` to any database, could pick `line`: it compares
    /// host, port, database and user in that order, and a field that is exactly `*` matches
    /// anything. Ours say database `*`, so any database the line names is one it wins.
    fn matched_by(&self, line: &str) -> bool {
        let Some([host, port, _, user]) = login_fields(line) else {
            return false;
        };
        let matches = |field: &str, value: &str| field == "*" || unescape(field) == value;
        matches(host, &self.host) && matches(port, &self.port) && matches(user, &self.user)
    }
}

/// Marks which lines of `lines` belong to a marker: the marker itself, then the token lines
/// below it, blank lines in between allowed (a person tidying the file adds them).
fn marker_blocks<'a>(lines: &[&'a str]) -> Vec<Option<&'a str>> {
    let mut owner = None;
    lines
        .iter()
        .map(|line| {
            if let Some(name) = marker_name(line) {
                owner = Some(name);
            } else if !is_blank(line) && !is_token_line(line) {
                owner = None;
            }
            owner
        })
        .collect()
}

/// `text` with `name`'s marker and token lines replaced by `entry`, where the marker was (else
/// at the end), and every other token line for the same login as one of `entry`'s lines
/// dropped. Every other line stays as it was, in order.
pub fn merge(text: &str, name: &str, entry: &str) -> Secret {
    let logins: Vec<Login> = entry.lines().filter_map(Login::of).collect();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let owners = marker_blocks(&lines);
    let mut out: Vec<&str> = Vec::with_capacity(lines.len() + 2);
    let mut at = None;
    for (line, owner) in lines.iter().zip(owners) {
        if marker_name(line) == Some(name) {
            at.get_or_insert(out.len());
            continue;
        }
        if is_token_line(line) {
            let stale = Login::of(line).is_some_and(|l| logins.iter().any(|o| o.same_signer(&l)));
            if stale || owner == Some(name) {
                continue;
            }
        }
        out.push(line);
    }
    match at {
        // Every line the marker owned went with it, so what now follows the entry is a line of
        // someone else's: the next merge finds the same block, which makes it a fixed point.
        Some(at) => out.insert(at, entry),
        None => {
            if out.last().is_some_and(|line| !line.ends_with('\n')) {
                out.push("\n");
            }
            out.push(entry);
        }
    }
    Secret::concat(&out)
}

/// Whether `text` holds a token line for `connection`'s endpoint that no marker owns (its
/// marker deleted by hand). Such a line dies within 15 minutes and, being above anything
/// appended later, would keep being sent: `refresh --all` takes it over.
pub fn has_unmarked_line(text: &str, connection: &Connection) -> bool {
    let mut hosts = vec![connection.host.to_string()];
    hosts.extend(connection.tunnel.map(|t| t.ip().to_string()));
    let port = connection.dial_port().to_string();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    lines
        .iter()
        .zip(marker_blocks(&lines))
        .filter(|(line, owner)| owner.is_none() && is_token_line(line))
        .filter_map(|(line, _)| Login::of(line))
        .any(|login| {
            hosts.contains(&login.host)
                && login.port == port
                && match &connection.user {
                    DbUser::Named(user) => login.user == user.as_str(),
                    DbUser::SessionName => true,
                }
        })
}

/// A line of the user's that libpq reaches before one of `name`'s token lines and would use
/// instead (1-based line numbers).
#[derive(Debug, PartialEq)]
struct Shadow {
    line: usize,
    ours: usize,
    host: String,
    port: String,
    user: String,
}

/// The lines above `name`'s entry that libpq would pick first for one of its logins.
fn shadows(text: &str, name: &str) -> Vec<Shadow> {
    let lines: Vec<&str> = text.lines().collect();
    let Some(marker) = lines.iter().position(|l| marker_name(l) == Some(name)) else {
        return Vec::new();
    };
    let ours: Vec<(usize, Login)> = lines[marker + 1..]
        .iter()
        .enumerate()
        .take_while(|(_, l)| is_blank(l) || is_token_line(l))
        .filter_map(|(i, l)| Some((marker + 1 + i, Login::of(l)?)))
        .collect();
    lines[..marker]
        .iter()
        .enumerate()
        .filter_map(|(i, line)| {
            let (at, login) = ours.iter().find(|(_, login)| login.matched_by(line))?;
            Some(Shadow {
                line: i + 1,
                ours: at + 1,
                host: login.host.clone(),
                port: login.port.clone(),
                user: login.user.clone(),
            })
        })
        .collect()
}

/// `text` with `name`'s lines (its marker and token lines) moved just above the first line of
/// the user's that libpq would otherwise pick for one of its logins: libpq uses the first line
/// that matches, so a catch-all `*:*:*:*:secret`, or the user's own line for the same login,
/// above ours would send the wrong password. Every other line stays byte for byte, in order.
/// Returns the shadowing line, numbered as in the returned text, when something moved.
fn place(text: &Secret, name: &str) -> (Secret, Option<Shadow>) {
    let Some(first) = shadows(text.expose(), name).into_iter().next() else {
        return (text.clone(), None);
    };
    let text = text.expose();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let owners = marker_blocks(&lines);
    let ours = |i: usize| {
        owners[i] == Some(name) && (marker_name(lines[i]).is_some() || is_token_line(lines[i]))
    };
    let mut block: Vec<&str> = Vec::new();
    let mut moved = 0;
    for (i, line) in lines.iter().enumerate() {
        if ours(i) {
            block.push(line);
            if !line.ends_with('\n') {
                block.push("\n");
            }
            moved += 1;
        }
    }
    let mut out: Vec<&str> = Vec::with_capacity(lines.len() + block.len());
    for (i, line) in lines.iter().enumerate() {
        if i + 1 == first.line {
            out.extend(&block);
        }
        if !ours(i) {
            out.push(line);
        }
    }
    let shadow = Shadow {
        line: first.line + moved,
        ours: first.line,
        ..first
    };
    (Secret::concat(&out), Some(shadow))
}

/// The `.pgpass` merge for `setup pgpass --write` and `refresh`: `name`'s lines replaced by
/// `entry` and placed where libpq reaches them first, with a note of any move.
pub fn merge_placed(text: &str, path: &Path, name: &str, entry: &Secret) -> crate::clients::Merged {
    let (mut placed, moved) = place(&merge(text, name, entry.expose()), name);
    // Appending first put a newline after the user's unterminated last line; once our lines
    // moved above, that line is last again and keeps its bytes.
    if moved.is_some() && !text.is_empty() && !text.ends_with('\n') {
        placed.strip_final_newline();
    }
    let notes = moved
        .map(|shadow| {
            format!(
                "{}:{}: put the lines for `{name}` above line {}, a line of yours that matches host {} port {} user {} \
                 (libpq uses the first matching line); your lines are unchanged",
                path.display(),
                shadow.ours,
                shadow.line,
                shadow.host,
                shadow.port,
                shadow.user,
            )
        })
        .into_iter()
        .collect();
    crate::clients::Merged {
        text: placed.into(),
        notes,
    }
}

/// `.pgpass`: a line for the proxy's address with its local password, when the connection
/// names the proxy's local password file; otherwise the proxy asks for no password.
fn via_proxy_plan(request: &Request<'_>) -> Result<Plan<'static>> {
    let port = via_proxy::local_port(request.connection, request.name)?;
    let Some(password) = via_proxy::local_password(request.connection)? else {
        return Err(Error::usage(
            "through the proxy no password is asked for, so .pgpass needs no line",
        )
        .hint(format!(
            "connect to host={PROXY_HOST} port={port} sslmode=disable, or run `setup pgservice {} --via-proxy`; with local_password_file set for the connection, this writes the proxy's password",
            request.name
        )));
    };
    let name = request.name;
    let marker = format!("{PROXY_MARKER} {name} ");
    let login = format!("{PROXY_HOST}:{port}:*:{}:", escape(request.user));
    let escaped_password = escaped(password.secret().expose());
    let header = format!(
        "{marker}(the proxy's local password, from {})\n",
        password.path.display()
    );
    let mut parts = vec![header.as_str(), login.as_str()];
    parts.extend(&escaped_password);
    parts.push("\n");
    let entry = Secret::concat(&parts);
    let notes = vec![via_proxy::start_note(request)];
    let Some(path) = request.destination.file(default_path)? else {
        return Ok(Plan {
            print: Some(entry.into()),
            notes,
            ..Plan::default()
        });
    };
    let edit_path = path.clone();
    Ok(Plan {
        edits: vec![Edit::new(path, move |existing| {
            validate(existing, &edit_path)?;
            Ok(crate::clients::Merged {
                text: merge_local_password(existing, &marker, &login, &entry).into(),
                notes: Vec::new(),
            })
        })],
        notes,
        ..Plan::default()
    })
}

/// `text` with the proxy's line for this login first (libpq takes the first line that
/// matches, and this one matches only the proxy's own address and port), replacing any earlier
/// line of ours or anyone's for the same login. Its marker is not `MARKER`, so `refresh`
/// never takes it for a token line to rewrite.
fn merge_local_password(text: &str, marker: &str, login: &str, entry: &Secret) -> Secret {
    let mut parts = vec![entry.expose()];
    parts.extend(
        text.split_inclusive('\n')
            .filter(|line| !line.starts_with(marker) && !line.starts_with(login)),
    );
    Secret::concat(&parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The merged text, for comparing with expected text.
    fn merge(text: &str, name: &str, entry: &str) -> String {
        super::merge(text, name, entry).expose().to_string()
    }
    use crate::config::Config;

    const PROD: &str = "# rdsiam-helper: prod (x)\n";

    fn parse_config(extra: &str) -> Config {
        Config::parse(
            PathBuf::from("config.toml"),
            &format!(
                "[connections.prod]\nengine = \"postgres\"\nhost = \"new\"\nport = 5432\nuser = \"jane\"\nregion = \"us-east-1\"\n{extra}"
            ),
        )
        .unwrap()
    }

    fn fresh() -> String {
        format!("{PROD}new:5432:*:jane:X-Amz-Signature=NEW\n")
    }

    #[test]
    fn escapes_colon_and_backslash() {
        assert_eq!(escape(r"a:b\c"), r"a\:b\\c");
        assert_eq!(
            count_separators(&format!("h:5432:*:u:{}", escape("x:y:z"))),
            4
        );
        assert_eq!(
            login_fields(r"a\:b:5432:d\\:u:p:w"),
            Some([r"a\:b", "5432", r"d\\", "u"])
        );
        assert_eq!(unescape(r"a\:b\\c"), r"a:b\c");
    }

    #[test]
    fn merge_replaces_only_the_owned_line() {
        let text = format!(
            "# my own\nother:5432:*:bob:secret\n{PROD}old:5432:*:jane:X-Amz-Signature=OLD\nlast:1:*:u:p\n"
        );
        let merged = merge(&text, "prod", &fresh());
        assert_eq!(
            merged,
            format!(
                "# my own\nother:5432:*:bob:secret\n{}last:1:*:u:p\n",
                fresh()
            )
        );
        assert_eq!(owned(&merged), vec!["prod"]);
        assert_eq!(merge(&merged, "prod", &fresh()), merged);
        let appended = merge("a:1:*:u:p", "dev", "# rdsiam-helper: dev\nx\n");
        assert_eq!(appended, "a:1:*:u:p\n# rdsiam-helper: dev\nx\n");
        // Our line deleted by hand: the user's line now under the marker is not taken for it.
        let text = format!("{PROD}mine:5432:*:bob:secret\n");
        assert_eq!(
            merge(&text, "prod", &fresh()),
            format!("{}mine:5432:*:bob:secret\n", fresh())
        );
    }

    #[test]
    fn a_token_line_whose_marker_was_deleted_is_replaced_not_left_above() {
        let text = "# mine\nnew:5432:*:jane:X-Amz-Signature=OLD\nmine:1:*:bob:pw\n";
        assert_eq!(
            merge(text, "prod", &fresh()),
            format!("# mine\nmine:1:*:bob:pw\n{}", fresh())
        );
        // The same login's token for one database, or under another connection's marker, is
        // as dead; another user's token and the user's own password for this login stay.
        let text = "new:5432:app:jane:X-Amz-Signature=OLD\n# rdsiam-helper: copy\nnew:5432:*:jane:X-Amz-Signature=OLD\nnew:5432:*:bob:X-Amz-Signature=BOB\nnew:5432:*:jane:pw\n";
        assert_eq!(
            merge(text, "prod", &fresh()),
            format!(
                "# rdsiam-helper: copy\nnew:5432:*:bob:X-Amz-Signature=BOB\nnew:5432:*:jane:pw\n{}",
                fresh()
            )
        );
    }

    #[test]
    fn a_blank_line_under_the_marker_does_not_orphan_the_old_line() {
        let text = format!("{PROD}\nold:5432:*:jane:X-Amz-Signature=OLD\n\n# next\n");
        let merged = merge(&text, "prod", &fresh());
        assert_eq!(merged, format!("{}\n\n# next\n", fresh()));
        assert_eq!(merge(&merged, "prod", &fresh()), merged);
        // A second copy of the marker (pasted twice) goes too: one entry, one marker.
        let text = format!(
            "{PROD}old:1:*:u:X-Amz-Signature=A\nmid:1:*:u:p\n{PROD}old:2:*:u:X-Amz-Signature=B\n"
        );
        assert_eq!(
            merge(&text, "prod", &fresh()),
            format!("{}mid:1:*:u:p\n", fresh())
        );
    }

    #[test]
    fn a_tunnel_gets_a_line_for_the_endpoint_name_and_one_for_the_address_dialled() {
        let config = parse_config("tunnel = \"127.0.0.1:15432\"\n");
        let text = entry(
            "prod",
            config.get("prod").unwrap(),
            "jane",
            &Token::new("t:X-Amz-Signature=1".into()),
        );
        assert_eq!(
            text.expose(),
            "# rdsiam-helper: prod (refreshed by `rdsiam-helper refresh`)\n\
             new:15432:*:jane:t\\:X-Amz-Signature=1\n\
             127.0.0.1:15432:*:jane:t\\:X-Amz-Signature=1\n"
        );
        let v6 = parse_config("tunnel = \"[::1]:15432\"\n");
        let text = entry(
            "prod",
            v6.get("prod").unwrap(),
            "jane",
            &Token::new("X-Amz-Signature=1".into()),
        );
        assert!(
            text.expose()
                .ends_with("\n\\:\\:1:15432:*:jane:X-Amz-Signature=1\n"),
            "{}",
            text.expose()
        );
        // Both lines replaced together, whichever order the old ones were in.
        let old = format!(
            "{PROD}127.0.0.1:15432:*:jane:X-Amz-Signature=0\nnew:15432:*:jane:X-Amz-Signature=0\nx:1:*:u:p\n"
        );
        let fresh = entry(
            "prod",
            config.get("prod").unwrap(),
            "jane",
            &Token::new("X-Amz-Signature=2".into()),
        );
        let fresh = fresh.expose();
        assert_eq!(merge(&old, "prod", fresh), format!("{fresh}x:1:*:u:p\n"));
    }

    #[test]
    fn unmarked_token_lines_are_found_for_their_connection_only() {
        let config = parse_config("tunnel = \"127.0.0.1:15432\"\n");
        let prod = config.get("prod").unwrap();
        assert!(has_unmarked_line(
            "x:1:*:u:p\n127.0.0.1:15432:*:jane:X-Amz-Signature=0\n",
            prod
        ));
        assert!(has_unmarked_line(
            "new:15432:*:jane:X-Amz-Signature=0\n",
            prod
        ));
        for text in [
            "# rdsiam-helper: other\n\nnew:15432:*:jane:X-Amz-Signature=0\n",
            "new:5432:*:jane:X-Amz-Signature=0\n",
            "new:15432:*:bob:X-Amz-Signature=0\n",
            "new:15432:*:jane:password\n",
        ] {
            assert!(!has_unmarked_line(text, prod), "{text}");
        }
    }

    #[test]
    fn lines_libpq_would_pick_before_ours_are_found() {
        let theirs = [
            ("*:*:*:jane:pw\n", true),
            ("new:5432:app:jane:pw\n", true),
            ("new:*:*:*:pw\n", true),
            ("n\\ew:5432:*:jane:pw\n", true),
            ("\\*:*:*:jane:pw\n", false),
            ("other:5432:*:jane:pw\n", false),
            ("new:5433:*:jane:pw\n", false),
            ("new:5432:*:bob:pw\n", false),
            ("#new:5432:*:jane:pw\n", false),
        ];
        for (line, shadows_ours) in theirs {
            let text = format!("{line}\n{}", fresh());
            let found = shadows(&text, "prod");
            match shadows_ours {
                true => assert_eq!(
                    found,
                    vec![Shadow {
                        line: 1,
                        ours: 4,
                        host: "new".into(),
                        port: "5432".into(),
                        user: "jane".into(),
                    }],
                    "{line}"
                ),
                false => assert!(found.is_empty(), "{line}"),
            }
            // Below ours, libpq never reaches it.
            assert!(shadows(&format!("{}{line}", fresh()), "prod").is_empty());
        }
    }

    #[test]
    fn validation_names_the_bad_line() {
        let err = validate("ok:1:*:u:p\nbroken line\n", Path::new("/h/.pgpass")).unwrap_err();
        assert!(err.message.contains("/h/.pgpass:2"));
        assert!(validate("# comment\n\nh:1:db:u:p\\:q\n", Path::new("p")).is_ok());
    }
}

/// `cargo test fuzz`: validate and merge against generated files.
#[cfg(test)]
mod fuzz {
    use super::*;

    /// The merged text, for comparing with expected text.
    fn merge(text: &str, name: &str, entry: &str) -> String {
        super::merge(text, name, entry).expose().to_string()
    }
    use proptest::prelude::*;

    const TOKEN: &str =
        "h:5432/?Action=connect&DBUser=jane&X-Amz-Date=20260101T000000Z&X-Amz-Signature=ab";
    const OTHER_TOKEN: &str = "h:5432/?Action=connect&X-Amz-Signature=cd";

    /// A line of someone's `.pgpass`: theirs (a password, a comment, a blank), a marker, or a
    /// token line for a host.
    #[derive(Debug, Clone)]
    enum Line {
        Theirs(String),
        Marker(String),
        Ours(String),
    }

    fn field() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9.*-]{1,12}",
            any::<String>().prop_map(|s| s.replace(['\n', '\r'], "")),
        ]
    }

    fn name() -> impl Strategy<Value = String> {
        prop::sample::select(vec!["prod", "dev", "prod-2", "x.y"]).prop_map(str::to_string)
    }

    /// Hosts and ports of the entries below, so that stale lines for them turn up.
    fn host() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "new.example.com:5432",
            "new.example.com:15432",
            "127.0.0.1:15432",
            "prod.example.com:5432",
            "dev.example.com:5432",
        ])
        .prop_map(str::to_string)
    }

    fn line() -> impl Strategy<Value = Line> {
        prop_oneof![
            4 => (field(), field(), field(), field(), field()).prop_map(|(h, p, d, u, w)| {
                Line::Theirs(format!(
                    "{}:{}:{}:{}:{}",
                    escape(&h),
                    escape(&p),
                    escape(&d),
                    escape(&u),
                    escape(&w)
                ))
            }),
            1 => (
                prop_oneof![host(), Just("*:*".to_string()), Just("*:5432".to_string())],
                prop::sample::select(vec!["*", "app"]),
                prop::sample::select(vec!["*", "jane"]),
            )
                .prop_map(|(h, d, u)| Line::Theirs(format!("{h}:{d}:{u}:pw"))),
            1 => "# [^\n\r]{0,20}".prop_map(Line::Theirs),
            1 => Just(Line::Theirs(String::new())),
            2 => name().prop_map(Line::Marker),
            2 => (host(), prop::sample::select(vec!["*", "app"]), prop::sample::select(vec!["jane", "bob"]))
                .prop_map(|(h, d, u)| Line::Ours(format!("{h}:{d}:{u}:{}", escape(TOKEN)))),
        ]
    }

    fn render(lines: &[Line]) -> String {
        lines
            .iter()
            .map(|l| match l {
                Line::Theirs(text) | Line::Ours(text) => format!("{text}\n"),
                Line::Marker(name) => {
                    format!("{MARKER} {name} (refreshed by `rdsiam-helper refresh`)\n")
                }
            })
            .collect()
    }

    /// What `entry` writes, with and without a tunnel.
    fn entry_for(name: &str, token: &str, tunnel: bool) -> String {
        let marker = format!("{MARKER} {name} (refreshed by `rdsiam-helper refresh`)\n");
        match tunnel {
            false => format!("{marker}new.example.com:5432:*:jane:{}\n", escape(token)),
            true => format!(
                "{marker}new.example.com:15432:*:jane:{0}\n127.0.0.1:15432:*:jane:{0}\n",
                escape(token)
            ),
        }
    }

    /// The lines a merge for `name` must leave exactly as they were: all but `name`'s markers
    /// and token lines.
    fn others<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
        text.split_inclusive('\n')
            .map(|l| l.strip_suffix('\n').unwrap_or(l))
            .filter(|l| !is_token_line(l) && marker_name(l) != Some(name))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn fuzz_pgpass_never_panics_on_any_text(text in any::<String>(), name in name(), tunnel in any::<bool>()) {
            let _ = validate(&text, Path::new("p"));
            let _ = owned(&text);
            let merged = merge(&text, &name, &entry_for(&name, TOKEN, tunnel));
            let _ = shadows(&text, &name);
            let _ = shadows(&merged, &name);
        }

        /// Merging into a valid file keeps every line that is not a token byte for byte and in
        /// order, leaves one marker for the name with the entry under it and no other token
        /// for the same login, and is a fixed point.
        #[test]
        fn fuzz_pgpass_merge_keeps_other_entries(
            lines in prop::collection::vec(line(), 0..14),
            name in name(),
            tunnel in any::<bool>(),
            no_final_newline in any::<bool>(),
        ) {
            let mut text = render(&lines);
            if no_final_newline {
                text.pop();
            }
            prop_assume!(validate(&text, Path::new("p")).is_ok());
            let entry = entry_for(&name, TOKEN, tunnel);
            let merged = merge(&text, &name, &entry);
            prop_assert!(validate(&merged, Path::new("p")).is_ok());
            prop_assert_eq!(others(&merged, &name), others(&text, &name), "in\n{}", merged);
            prop_assert_eq!(owned(&merged).iter().filter(|n| **n == name).count(), 1);
            prop_assert!(merged.contains(&entry));
            let logins: Vec<Login> = entry.lines().filter_map(Login::of).collect();
            for login in &logins {
                let tokens = merged
                    .lines()
                    .filter(|l| is_token_line(l))
                    .filter_map(Login::of)
                    .filter(|l| l.same_signer(login))
                    .count();
                prop_assert_eq!(tokens, 1, "{:?} in\n{}", login, merged);
            }
            // A token line for another login survives unless it sat in `name`'s block.
            let owners = marker_blocks(&text.split_inclusive('\n').collect::<Vec<_>>());
            for (line, owner) in text.split_inclusive('\n').zip(owners) {
                let Some(login) = Login::of(line).filter(|_| is_token_line(line)) else {
                    continue;
                };
                if owner != Some(name.as_str()) && !logins.iter().any(|o| o.same_signer(&login)) {
                    let line = line.strip_suffix('\n').unwrap_or(line);
                    prop_assert!(merged.lines().any(|l| l == line), "lost {:?} in\n{}", line, merged);
                }
            }
            prop_assert_eq!(&merge(&merged, &name, &entry), &merged);
            let again = merge(&merged, &name, &entry_for(&name, OTHER_TOKEN, tunnel));
            prop_assert_eq!(again.lines().count(), merged.lines().count());
            prop_assert!(again.contains(&entry_for(&name, OTHER_TOKEN, tunnel)) && !again.contains(&entry));
            // Every line reported as shadowing ours is above the entry and libpq matches it.
            let at = merged.lines().position(|l| marker_name(l) == Some(name.as_str())).unwrap();
            for shadow in shadows(&merged, &name) {
                prop_assert!(shadow.line <= at);
                let line = merged.lines().nth(shadow.line - 1).unwrap();
                prop_assert!(logins.iter().any(|o| o.matched_by(line)));
            }
        }
    }
}
