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

fn is_token_line(line: &str) -> bool {
    !line.starts_with('#') && count_separators(line) >= 4 && line.contains("X-Amz-Signature=")
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
    // The owned line follows the marker, if it is still there: a line whose password is a
    // token. A line of the user's that moved up under the marker (ours deleted by hand) stays.
    let next = lines.get(at + 1).filter(|l| is_token_line(l));
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
        let text = "# my own\nother:5432:*:bob:secret\n# rdsiam-helper: prod (x)\nold:5432:*:jane:X-Amz-Signature=OLD\nlast:1:*:u:p\n";
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
        // Our line deleted by hand: the user's line now under the marker is not taken for it.
        let text = "# rdsiam-helper: prod (x)\nmine:5432:*:bob:secret\n";
        let merged = merge(
            text,
            "prod",
            "# rdsiam-helper: prod (x)\nnew:5432:*:jane:NEW\n",
        );
        assert_eq!(
            merged,
            "# rdsiam-helper: prod (x)\nnew:5432:*:jane:NEW\nmine:5432:*:bob:secret\n"
        );
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
    use proptest::prelude::*;

    const TOKEN: &str =
        "h:5432/?Action=connect&DBUser=jane&X-Amz-Date=20260101T000000Z&X-Amz-Signature=ab";

    /// A line of someone's `.pgpass`, with what it stands for: `Some(name)` for a marker.
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
            1 => "# [^\n\r]{0,20}".prop_map(Line::Theirs),
            1 => Just(Line::Theirs(String::new())),
            2 => name().prop_map(Line::Marker),
            1 => name().prop_map(|n| Line::Ours(format!("{n}.example.com:5432:*:jane:{}", escape(TOKEN)))),
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

    fn entry_for(name: &str, token: &str) -> String {
        format!(
            "{MARKER} {name} (refreshed by `rdsiam-helper refresh`)\nnew.example.com:5432:*:jane:{}\n",
            escape(token)
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn fuzz_pgpass_never_panics_on_any_text(text in any::<String>(), name in name()) {
            let _ = validate(&text, Path::new("p"));
            let _ = owned(&text);
            let _ = merge(&text, &name, &entry_for(&name, TOKEN));
        }

        /// Merging into a valid file keeps every line of the user's, yields a valid file with
        /// our entry in it, and a second merge changes only our line.
        #[test]
        fn fuzz_pgpass_merge_keeps_other_entries(
            lines in prop::collection::vec(line(), 0..14),
            name in name(),
            no_final_newline in any::<bool>(),
        ) {
            let mut text = render(&lines);
            if no_final_newline {
                text.pop();
            }
            prop_assume!(validate(&text, Path::new("p")).is_ok());
            let merged = merge(&text, &name, &entry_for(&name, TOKEN));
            prop_assert!(validate(&merged, Path::new("p")).is_ok());
            let mut rest = merged.lines();
            for (i, line) in lines.iter().enumerate() {
                if let Line::Theirs(theirs) = line {
                    // An empty last line is no line once its newline is dropped.
                    if no_final_newline && i + 1 == lines.len() && theirs.is_empty() {
                        continue;
                    }
                    prop_assert!(
                        rest.any(|l| l == theirs),
                        "lost {:?} in\n{}", theirs, merged
                    );
                }
            }
            let ours = owned(&merged).iter().filter(|n| **n == name).count();
            let before = owned(&text).iter().filter(|n| **n == name).count();
            prop_assert_eq!(ours, before.max(1));
            prop_assert!(merged.contains(&escape(TOKEN)));
            let again = merge(&merged, &name, &entry_for(&name, "other-token"));
            prop_assert_eq!(again.lines().count(), merged.lines().count());
            prop_assert!(again.contains("other-token"));
        }
    }
}
