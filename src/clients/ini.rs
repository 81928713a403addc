//! INI-style files (pg_service.conf, my.cnf): sections rendered and validated with rust-ini,
//! and merged by replacing only our own section's lines, so every other line and comment of
//! the user's file stays byte for byte.

use crate::clients::{Edit, Plan};
use crate::error::{Error, Result};
use ini::{EscapePolicy, Ini, LineSeparator, WriteOption};
use std::path::{Path, PathBuf};

/// The set-up of an INI-file client: the sections (`(name, text)`, in order) on stdout, or
/// merged into `file` one by one, under one lock.
pub fn plan<'a>(
    file: Option<PathBuf>,
    dialect: Dialect,
    sections: Vec<(String, String)>,
    notes: Vec<String>,
) -> Plan<'a> {
    let Some(path) = file else {
        let text: String = sections.into_iter().map(|(_, text)| text).collect();
        return Plan {
            print: Some(text.into()),
            notes,
            ..Plan::default()
        };
    };
    let at = path.clone();
    let merge = move |existing: &str| {
        let mut text = existing.to_string();
        for (name, section) in &sections {
            text = merge_section(&text, &at, dialect, name, section)?;
        }
        Ok(text.into())
    };
    Plan {
        edits: vec![Edit::new(path, merge)],
        notes,
        ..Plan::default()
    }
}

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

/// libpq and MySQL read a value as written: a quote or backslash in it is no syntax, so a
/// file holding `application_name=Bob's` is valid and must not be refused.
fn parse(text: &str) -> std::result::Result<Ini, ini::ParseError> {
    Ini::load_from_str_opt(
        text,
        ini::ParseOption {
            enabled_quote: false,
            enabled_escape: false,
            ..ini::ParseOption::default()
        },
    )
}

/// The mistakes a person makes in an INI file, with the line they are on: rust-ini reports a
/// missing `]` only where the file ends.
fn check_lines(text: &str) -> std::result::Result<(), (usize, String)> {
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') && !trimmed.contains(']') {
            return Err((
                index + 1,
                format!("the section header `{trimmed}` has no closing `]`"),
            ));
        }
        if trimmed.starts_with('=') {
            return Err((index + 1, format!("`{trimmed}` has no key before `=`")));
        }
    }
    Ok(())
}

/// rust-ini's other messages, in words (its EOF message prints Rust debug text).
fn in_words(msg: &str) -> String {
    if msg.contains("found EOF") {
        "the file ends in the middle of a section header or value".to_string()
    } else if msg.contains("missing key") {
        "a line has no key before `=`".to_string()
    } else {
        msg.trim_end_matches('.').to_string()
    }
}

/// The user's file with section `name` replaced by (or appended as) `section`.
pub fn merge_section(
    existing: &str,
    path: &Path,
    dialect: Dialect,
    name: &str,
    section: &str,
) -> Result<String> {
    let shown = for_validation(existing, dialect);
    if let Err(problem) = check_lines(&shown)
        .map(|()| parse(&shown))
        .and_then(|parsed| parsed.map(drop).map_err(|e| (e.line, in_words(&e.msg))))
    {
        let (line, what) = problem;
        return Err(Error::failure(format!(
            "{} is not a valid INI file: line {line}: {what}; it was left unchanged",
            path.display()
        ))
        .hint("fix or move the file, then run the command again"));
    }
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
    fn quotes_in_values_are_plain_characters() {
        let existing = "[other]\napplication_name=Bob's tool\noptions=\"-c x\n";
        let section = render_section("prod", &[("host", "h".into())]);
        for dialect in [Dialect::Libpq, Dialect::MySql] {
            let merged =
                merge_section(existing, Path::new("f"), dialect, "prod", &section).unwrap();
            assert!(merged.starts_with(existing));
        }
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

/// `cargo test fuzz`: the section merge against generated pg_service.conf and my.cnf files.
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    struct Section {
        name: String,
        lines: Vec<String>,
    }

    fn section_name() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec!["prod", "client_prod", "other", "mysql", "client"])
                .prop_map(str::to_string),
            "[a-z_][a-z0-9_.-]{0,10}",
        ]
    }

    fn body_line(dialect: Dialect) -> BoxedStrategy<String> {
        let pair = ("[a-z][a-z0-9_-]{0,10}", "[^\n\r\\[\\]=#;]{0,20}")
            .prop_map(|(k, v)| format!("{k}={v}"));
        let comment = "[#;][^\n\r]{0,20}";
        match dialect {
            Dialect::Libpq => {
                prop_oneof![4 => pair, 1 => comment, 1 => Just(String::new())].boxed()
            }
            Dialect::MySql => prop_oneof![
                4 => pair,
                1 => comment,
                1 => Just(String::new()),
                1 => "[a-z][a-z0-9-]{0,10}",
                1 => Just("!includedir /etc/mysql/conf.d/".to_string()),
            ]
            .boxed(),
        }
    }

    fn file(dialect: Dialect) -> impl Strategy<Value = (Vec<String>, Vec<Section>)> {
        let section = (
            section_name(),
            prop::collection::vec(body_line(dialect), 0..5),
        )
            .prop_map(|(name, lines)| Section { name, lines });
        (
            prop::collection::vec("#[^\n\r]{0,12}", 0..2),
            prop::collection::vec(section, 0..5),
        )
            .prop_filter("distinct section names", |(_, sections)| {
                let mut names: Vec<&str> = sections.iter().map(|s| s.name.as_str()).collect();
                names.sort();
                names.windows(2).all(|w| w[0] != w[1])
            })
    }

    fn render(preamble: &[String], sections: &[Section]) -> String {
        let mut out: String = preamble.iter().map(|l| format!("{l}\n")).collect();
        for section in sections {
            out.push_str(&format!("[{}]\n", section.name));
            for line in &section.lines {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    fn check_merge(
        dialect: Dialect,
        preamble: &[String],
        sections: &[Section],
        name: &str,
    ) -> Result<(), TestCaseError> {
        let text = render(preamble, sections);
        let ours = render_section(
            name,
            &[("host", "h.example.com".into()), ("port", "5432".into())],
        );
        let merged = merge_section(&text, Path::new("f"), dialect, name, &ours)
            .map_err(|e| TestCaseError::fail(format!("{}\n{text}", e.message)))?;
        // It re-parses, ours is there once with our values (read line by line, as libpq and
        // MySQL do: rust-ini would join a line ending in `\` with the next), every other line
        // survives in order.
        parse(&for_validation(&merged, dialect))
            .map_err(|e| TestCaseError::fail(format!("{e}\n{merged}")))?;
        let header = format!("[{name}]");
        let host = merged
            .lines()
            .skip_while(|l| l.trim() != header)
            .skip(1)
            .take_while(|l| !l.trim_start().starts_with('['))
            .find_map(|l| l.strip_prefix("host="));
        prop_assert_eq!(host, Some("h.example.com"));
        prop_assert_eq!(
            merged
                .lines()
                .filter(|l| l.trim() == format!("[{name}]"))
                .count(),
            1
        );
        let mut rest = merged.lines();
        for line in preamble {
            prop_assert!(rest.any(|l| l == line), "lost {:?}:\n{}", line, merged);
        }
        for section in sections.iter().filter(|s| s.name != name) {
            let header = format!("[{}]", section.name);
            let mut rest = merged.lines().skip_while(|l| *l != header);
            prop_assert!(rest.next().is_some(), "lost {}:\n{}", header, merged);
            for line in &section.lines {
                prop_assert!(
                    rest.any(|l| l == line),
                    "lost {:?} of {}:\n{}",
                    line,
                    header,
                    merged
                );
            }
        }
        let again = merge_section(&merged, Path::new("f"), dialect, name, &ours)
            .map_err(|e| TestCaseError::fail(e.message))?;
        prop_assert_eq!(again, merged, "a second merge changed the file");
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn fuzz_ini_merge_never_panics_on_any_text(text in any::<String>(), name in section_name()) {
            let ours = render_section(&name, &[("host", "h".into())]);
            for dialect in [Dialect::Libpq, Dialect::MySql] {
                let _ = merge_section(&text, Path::new("f"), dialect, &name, &ours);
            }
        }

        #[test]
        fn fuzz_ini_merge_keeps_other_sections_pg_service((preamble, sections) in file(Dialect::Libpq), name in section_name()) {
            check_merge(Dialect::Libpq, &preamble, &sections, &name)?;
        }

        #[test]
        fn fuzz_ini_merge_keeps_other_sections_my_cnf((preamble, sections) in file(Dialect::MySql), name in section_name()) {
            check_merge(Dialect::MySql, &preamble, &sections, &name)?;
        }
    }
}
