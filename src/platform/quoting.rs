//! Quoting a word for the shell that will run a printed command: POSIX `sh` on Unix (GUI
//! password commands, systemd units), `cmd.exe` on Windows (pgAdmin's PasswordExecCommand,
//! schtasks, GUI password commands). Both rules are pure and tested on every platform.

/// `text` as one word for this platform's shell.
pub fn quote(text: &str) -> String {
    if cfg!(windows) {
        cmd(text)
    } else {
        posix(text)
    }
}

/// One word for `sh`: shlex's single quotes where needed.
pub fn posix(text: &str) -> String {
    shlex::try_quote(text)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| text.to_string())
}

/// One word for `cmd.exe` and the program's own argument parser (the MSVC rules that
/// CommandLineToArgvW and Rust's std follow): double quotes when the word has a space or a
/// character `cmd` treats specially, a `"` inside written `\"`, and the backslashes before a
/// quote doubled. Inside quotes `cmd` leaves `&|<>^()` alone; `%` would still expand, so it is
/// written `"^%"` outside the quotes.
pub fn cmd(text: &str) -> String {
    let plain = !text.is_empty()
        && !text
            .chars()
            .any(|c| c.is_whitespace() || "\"&|<>^()%!,;=".contains(c));
    if plain {
        return text.to_string();
    }
    let mut out = String::from("\"");
    let mut backslashes = 0;
    for c in text.chars() {
        match c {
            '\\' => {
                backslashes += 1;
                continue;
            }
            '"' => out.push_str(&"\\".repeat(backslashes * 2 + 1)),
            '%' => {
                out.push_str(&"\\".repeat(backslashes));
                out.push_str("\"^%\"");
                backslashes = 0;
                continue;
            }
            _ => out.push_str(&"\\".repeat(backslashes)),
        }
        backslashes = 0;
        out.push(c);
    }
    // Before the closing quote, backslashes are doubled so that they stay backslashes.
    out.push_str(&"\\".repeat(backslashes * 2));
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmd_quotes_paths_with_spaces_and_leaves_plain_words() {
        assert_eq!(
            cmd(r"C:\Program Files\rdsiam-helper\rdsiam-helper.exe"),
            r#""C:\Program Files\rdsiam-helper\rdsiam-helper.exe""#
        );
        assert_eq!(
            cmd(r"C:\Users\Jane Doe\AppData\Roaming\rdsiam-helper\config.toml"),
            r#""C:\Users\Jane Doe\AppData\Roaming\rdsiam-helper\config.toml""#
        );
        assert_eq!(
            cmd(r"C:\tools\rdsiam-helper.exe"),
            r"C:\tools\rdsiam-helper.exe"
        );
        assert_eq!(cmd("pg"), "pg");
        assert_eq!(cmd(""), r#""""#);
    }

    #[test]
    fn cmd_keeps_quotes_backslashes_and_percent_literal() {
        // A folder ending in a backslash: the closing quote must not be escaped.
        assert_eq!(cmd(r"C:\Jane Doe\"), r#""C:\Jane Doe\\""#);
        assert_eq!(cmd(r#"say "hi""#), r#""say \"hi\"""#);
        assert_eq!(cmd(r#"a\"b"#), r#""a\\\"b""#);
        assert_eq!(cmd("100%done"), r#""100"^%"done""#);
        assert_eq!(cmd("a&b"), r#""a&b""#);
    }

    #[test]
    fn posix_quotes_as_sh_reads_it() {
        assert_eq!(posix("/usr/bin/rdsiam-helper"), "/usr/bin/rdsiam-helper");
        assert_eq!(posix("/home/Jane Doe/x"), "'/home/Jane Doe/x'");
    }
}
