//! Shell completion, through real bash, zsh and fish: the script `completions SHELL` prints is
//! loaded the way the README says, and the shell asks the binary for candidates.

use crate::common::*;
use std::process::Command;

const CONFIG: &str = "[connections.prod]\nhost = \"h1\"\nuser = \"u\"\n\n[connections.staging-db]\nengine = \"mysql\"\nhost = \"h2\"\nuser = \"u\"\n";

/// Every place a connection name goes, as the words typed before it.
const NAME_SLOTS: &[&[&str]] = &[
    &["pg"],
    &["mysql"],
    &["token"],
    &["exec"],
    &["connect"],
    &["setup", "pgpass"],
    &["setup", "dbeaver"],
    &["refresh"],
    &["connections", "show"],
    &["connections", "remove"],
];

/// A shell with the test's HOME and the binary first on PATH, as a user's login shell has.
fn shell(home: &Home, program: &std::path::Path) -> Command {
    let bin_dir = binary().parent().unwrap().to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("HOME", home.path())
        .env("PATH", path)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::null());
    cmd
}

fn lines(cmd: &mut Command) -> Vec<String> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

fn script(home: &Home, shell: &str) -> std::path::PathBuf {
    let run = home.run(&["completions", shell]);
    run.ok();
    home.write(&format!("completion.{shell}"), &run.stdout)
}

/// The command line being completed, each word shell-quoted: the program, `words`, and the
/// word being typed (`current`).
fn quoted_line(words: &[&str], current: &str) -> Vec<String> {
    std::iter::once("rdsiam-helper")
        .chain(words.iter().copied())
        .chain([current])
        .map(|w| shlex::try_quote(w).unwrap().into_owned())
        .collect()
}

/// The candidates bash offers after `words` and a word being typed (`current`).
fn bash(home: &Home, bash: &std::path::Path, words: &[&str], current: &str) -> Vec<String> {
    let script = script(home, "bash");
    let quoted = quoted_line(words, current);
    let program = format!(
        "source {}\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_TYPE=9\n_clap_complete_rdsiam_helper rdsiam-helper {} {}\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        quoted.join(" "),
        quoted.len() - 1,
        quoted[quoted.len() - 1],
        quoted[quoted.len() - 2],
    );
    lines(shell(home, bash).args(["--noprofile", "--norc", "-c", &program]))
        .into_iter()
        .map(|l| l.trim_end().to_string())
        .collect()
}

/// zsh's completion widgets need a terminal; the script's own function is run with
/// `_describe` and `compdef` replaced by functions that print what zsh would be given.
fn zsh(home: &Home, zsh: &std::path::Path, words: &[&str], current: &str) -> Vec<String> {
    let script = script(home, "zsh");
    let quoted = quoted_line(words, current);
    let program = format!(
        "compdef() {{ :; }}\n_describe() {{ local name=${{@[-1]}}; print -rl -- ${{(P)name}}; }}\nsource {}\nwords=({})\nCURRENT={}\n_clap_dynamic_completer_rdsiam_helper\n",
        script.display(),
        quoted.join(" "),
        quoted.len(),
    );
    lines(shell(home, zsh).args(["-f", "-c", &program]))
        .into_iter()
        .map(|l| l.split(':').next().unwrap_or_default().to_string())
        .collect()
}

fn fish(home: &Home, fish: &std::path::Path, words: &[&str], current: &str) -> Vec<String> {
    let script = script(home, "fish");
    let mut line = String::from("rdsiam-helper ");
    for word in words {
        line.push_str(&shlex::try_quote(word).unwrap());
        line.push(' ');
    }
    line.push_str(current);
    let program = format!(
        "source {}; complete -C {}",
        script.display(),
        shlex::try_quote(&line).unwrap()
    );
    lines(shell(home, fish).args(["--no-config", "-c", &program]))
        .into_iter()
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .collect()
}

type Complete = fn(&Home, &std::path::Path, &[&str], &str) -> Vec<String>;

fn check_shell(name: &str, complete: Complete) {
    let Some(program) = require_program(name, &format!("apt-get install {name}")) else {
        return;
    };
    check_completions(name, &program, complete);
}

fn check_completions(name: &str, program: &std::path::Path, complete: Complete) {
    let program = program.to_path_buf();
    let home = Home::new();
    home.config(CONFIG);
    let has = |got: &[String], want: &str, what: &str| {
        assert!(
            got.iter().any(|c| c == want),
            "{name}: `{want}` not offered for {what}: {got:?}"
        );
    };
    let top = complete(&home, &program, &[], "");
    for sub in ["token", "pg", "setup", "connections", "completions"] {
        has(&top, sub, "the first word");
    }
    let flags = complete(&home, &program, &["token"], "--");
    for flag in ["--host", "--aws-profile", "--format"] {
        has(&flags, flag, "`token --`");
    }
    let clients = complete(&home, &program, &["setup"], "");
    for client in ["pgpass", "datagrip", "dbeaver", "mysql"] {
        has(&clients, client, "`setup`");
    }
    // `prod` is PostgreSQL, `staging-db` MySQL: a command for one protocol offers its own.
    for words in NAME_SLOTS {
        let got = complete(&home, &program, words, "");
        let what = format!("`{}`", words.join(" "));
        let postgres_only = matches!(
            words,
            ["pg"] | ["refresh"] | ["setup", "pgpass"] | ["setup", "dbeaver"]
        );
        let mysql_only = matches!(words, ["mysql"]);
        let offered = |connection: &str| got.iter().any(|c| c == connection);
        assert_eq!(offered("prod"), !mysql_only, "{name}: {what}: {got:?}");
        assert_eq!(
            offered("staging-db"),
            !postgres_only,
            "{name}: {what}: {got:?}"
        );
    }
    let prefixed = complete(&home, &program, &["mysql"], "st");
    assert_eq!(prefixed, ["staging-db"], "{name}: `mysql st`");
    // A `--config` typed on the line is the file the command will read.
    let other = home.write(
        "other config.toml",
        "[connections.elsewhere]\nhost = \"h\"\nuser = \"u\"\n",
    );
    let other = other.to_str().unwrap();
    let got = complete(&home, &program, &["--config", other, "pg"], "");
    has(&got, "elsewhere", "`--config PATH pg`");
    assert!(!got.contains(&"prod".to_string()), "{name}: {got:?}");
}

#[test]
fn bash_completes_subcommands_flags_clients_and_connection_names() {
    check_shell("bash", bash);
}

#[test]
fn zsh_completes_subcommands_flags_clients_and_connection_names() {
    check_shell("zsh", zsh);
}

#[test]
fn fish_completes_subcommands_flags_clients_and_connection_names() {
    check_shell("fish", fish);
}

/// No PowerShell here: the binary is called back as `completions powershell`'s script calls
/// it (`& rdsiam-helper -- <the line up to the cursor>`, with `''` for an empty last word, and
/// RDSIAM_HELPER_COMPLETE=powershell), and its answer split at tabs as the script splits it.
fn powershell(home: &Home, _: &std::path::Path, words: &[&str], current: &str) -> Vec<String> {
    let run = home.run(&["completions", "powershell"]);
    let script = &run.ok().stdout;
    assert!(
        script.contains("RDSIAM_HELPER_COMPLETE = \"powershell\""),
        "{script}"
    );
    assert!(script.contains("& rdsiam-helper -- $args"), "{script}");
    let out = lines(
        home.cmd()
            .env("RDSIAM_HELPER_COMPLETE", "powershell")
            .args(["--", "rdsiam-helper"])
            .args(words)
            .arg(current),
    );
    out.into_iter()
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn powershell_call_back_completes_subcommands_flags_clients_and_connection_names() {
    check_completions("powershell", &binary(), powershell);
}
