//! INI-style files (pg_service.conf, my.cnf): sections rendered and validated with rust-ini,
//! and merged by replacing only our own section's lines, so every other line and comment of
//! the user's file stays byte for byte.

use crate::error::{Error, Result};
use ini::{EscapePolicy, Ini, LineSeparator, WriteOption};
use std::path::Path;

pub fn render_section(name: &str, pairs: &[(&str, String)]) -> String {
    let mut ini = Ini::new();
    let mut section = ini.with_section(Some(name));
    for (key, value) in pairs {
        section.set(*key, value.as_str());
    }
    let mut out = Vec::new();
    let option = WriteOption {
        // libpq and MySQL read values raw; an escape would become part of the value.
        escape_policy: EscapePolicy::Nothing,
        line_separator: LineSeparator::CR,
        kv_separator: "=",
    };
    ini.write_to_opt(&mut out, option)
        .expect("writing to memory cannot fail");
    String::from_utf8(out).expect("rendered from UTF-8 strings")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// pg_service.conf: `key=value` lines only.
    Libpq,
    /// my.cnf also has options without a value (`auto-rehash`) and `!include` directives.
    MySql,
}

/// What rust-ini is asked to validate: for MySQL, value-less options and directives are shown
/// to it as empty values (line numbers stay the same).
fn for_validation(text: &str, dialect: Dialect) -> std::borrow::Cow<'_, str> {
    if dialect == Dialect::Libpq {
        return text.into();
    }
    text.lines()
        .map(|line| {
            let trimmed = line.trim();
            let plain = !(trimmed.is_empty()
                || trimmed.starts_with(['#', ';', '['])
                || trimmed.contains('='));
            match (plain, trimmed.strip_prefix('!')) {
                (true, Some(directive)) => format!("{directive}="),
                (true, None) => format!("{trimmed}="),
                (false, _) => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        .into()
}

/// The user's file with section `name` replaced by (or appended as) `section`.
pub fn merge_section(
    existing: &str,
    path: &Path,
    dialect: Dialect,
    name: &str,
    section: &str,
) -> Result<String> {
    Ini::load_from_str_noescape(&for_validation(existing, dialect)).map_err(|e| {
        Error::failure(format!(
            "{} is not a valid INI file (line {}: {}); it was left unchanged",
            path.display(),
            e.line,
            e.msg
        ))
        .hint("fix or move the file, then run the command again")
    })?;
    let lines: Vec<&str> = existing.split_inclusive('\n').collect();
    let header = format!("[{name}]");
    let start = lines.iter().position(|l| l.trim() == header);
    let mut out = String::new();
    match start {
        Some(start) => {
            let end = lines[start + 1..]
                .iter()
                .position(|l| l.trim_start().starts_with('['))
                .map(|i| start + 1 + i)
                .unwrap_or(lines.len());
            out.extend(lines[..start].iter().copied());
            out.push_str(section);
            if end < lines.len() {
                out.push('\n');
            }
            out.extend(lines[end..].iter().copied());
        }
        None => {
            out.push_str(existing);
            if !existing.is_empty() && !existing.ends_with('\n') {
                out.push('\n');
            }
            if !existing.trim().is_empty() {
                out.push('\n');
            }
            out.push_str(section);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_its_own_section() {
        let existing =
            "# mine\n[other]\nhost=a\n\n[prod]\nhost=old\n# old comment\n\n[last]\nport=1\n";
        let section = render_section("prod", &[("host", "new".into()), ("port", "5432".into())]);
        let merged =
            merge_section(existing, Path::new("f"), Dialect::Libpq, "prod", &section).unwrap();
        assert_eq!(
            merged,
            "# mine\n[other]\nhost=a\n\n[prod]\nhost=new\nport=5432\n\n[last]\nport=1\n"
        );
        let appended = merge_section(
            "[other]\nhost=a",
            Path::new("f"),
            Dialect::Libpq,
            "new",
            &section,
        )
        .unwrap();
        assert!(appended.starts_with("[other]\nhost=a\n\n[prod]\n"));
    }

    #[test]
    fn mysql_files_may_have_bare_options_and_includes() {
        let existing = "[mysql]\nauto-rehash\n!includedir /etc/mysql/conf.d/\n";
        let section = render_section("client_x", &[("host", "h".into())]);
        assert!(
            merge_section(
                existing,
                Path::new("f"),
                Dialect::MySql,
                "client_x",
                &section
            )
            .is_ok()
        );
        assert!(
            merge_section(
                existing,
                Path::new("f"),
                Dialect::Libpq,
                "client_x",
                &section
            )
            .is_err()
        );
    }
}
