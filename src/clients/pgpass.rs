//! `.pgpass`: `host:port:database:user:password` lines. The lines this tool owns sit under a
//! marker comment naming the connection, so `refresh` rewrites those and nothing else.

use crate::config::Connection;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

const MARKER: &str = "# rdsiam-helper:";

/// `$PGPASSFILE`, else `~/.pgpass`, where libpq looks.
pub fn default_path() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("PGPASSFILE").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    dirs::home_dir()
        .map(|h| h.join(".pgpass"))
        .ok_or_else(|| Error::failure("cannot find the home directory for ~/.pgpass"))
}

/// libpq splits on unescaped `:` and unescapes `\`; a token has `:` after the host.
pub fn escape(field: &str) -> String {
    field.replace('\\', "\\\\").replace(':', "\\:")
}

/// The marker comment and the line for `connection`. libpq matches `.pgpass` on `host` even
/// when a tunnel's `hostaddr` is dialled, and on the port actually dialled. Old libpq read at
/// most 320 bytes a line; tokens are longer, so `doctor` checks the installed libpq.
pub fn entry(connection: &Connection, user: &str, token: &str) -> String {
    let name = connection.name.as_deref().unwrap_or("ad-hoc");
    format!(
        "{MARKER} {name} (refreshed by `rdsiam-helper refresh`)\n{}:{}:*:{}:{}\n",
        escape(&connection.host),
        connection.dial_port(),
        escape(user),
        escape(token)
    )
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

/// `text` with `name`'s owned entry replaced by `entry` (or appended); other lines untouched.
pub fn merge(text: &str, name: &str, entry: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let Some(at) = lines.iter().position(|l| marker_name(l) == Some(name)) else {
        let mut out = text.to_string();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(entry);
        return out;
    };
    // The owned line is the first non-comment line after the marker, if it is still there.
    let next = lines
        .get(at + 1)
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty());
    let end = at + 1 + usize::from(next.is_some());
    let mut out: String = lines[..at].concat();
    out.push_str(entry);
    out.push_str(&lines[end..].concat());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_colon_and_backslash() {
        assert_eq!(escape(r"a:b\c"), r"a\:b\\c");
        assert_eq!(
            count_separators(&format!("h:5432:*:u:{}", escape("x:y:z"))),
            4
        );
    }

    #[test]
    fn merge_replaces_only_the_owned_line() {
        let text = "# my own\nother:5432:*:bob:secret\n# rdsiam-helper: prod (x)\nold:5432:*:jane:OLD\nlast:1:*:u:p\n";
        let merged = merge(
            text,
            "prod",
            "# rdsiam-helper: prod (x)\nnew:5432:*:jane:NEW\n",
        );
        assert_eq!(
            merged,
            "# my own\nother:5432:*:bob:secret\n# rdsiam-helper: prod (x)\nnew:5432:*:jane:NEW\nlast:1:*:u:p\n"
        );
        assert_eq!(owned(&merged), vec!["prod"]);
        let appended = merge("a:1:*:u:p", "dev", "# rdsiam-helper: dev\nx\n");
        assert_eq!(appended, "a:1:*:u:p\n# rdsiam-helper: dev\nx\n");
    }

    #[test]
    fn validation_names_the_bad_line() {
        let err = validate("ok:1:*:u:p\nbroken line\n", Path::new("/h/.pgpass")).unwrap_err();
        assert!(err.message.contains("/h/.pgpass:2"));
        assert!(validate("# comment\n\nh:1:db:u:p\\:q\n", Path::new("p")).is_ok());
    }
}
