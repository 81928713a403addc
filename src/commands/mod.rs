//! One file per subcommand, each a short function over the modules below it.

pub mod ca;
pub mod cache;
pub mod connect;
pub mod connections;
pub mod discover;
pub mod doctor;
pub mod exec;
pub mod login;
pub mod policy;
pub mod profiles;
pub mod proxy;
pub mod rds;
pub mod refresh;
pub mod setup;
pub mod sql_user;
pub mod token;

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::error::Result;
use crate::report;
use std::io::Write;
use std::path::Path;

/// Runs the command; the `i32` is the process exit code (a child's, for `exec` and `connect`).
pub fn run(cli: Cli) -> Result<i32> {
    // Set but empty counts as unset, like the other RDSIAM_HELPER_* variables.
    let from_env = std::env::var_os("RDSIAM_HELPER_CONFIG")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from);
    let config_path = cli.config.or(from_env);
    let config_path = config_path.as_deref();
    match cli.command {
        Command::Token(args) => token::token(&load(config_path)?, &args),
        Command::Pg(args) => {
            let connection = named(config_path, &args.name)?;
            token::for_engine(&connection, &args, crate::config::Engine::Postgres)
        }
        Command::Mysql(args) => {
            let connection = named(config_path, &args.name)?;
            token::for_engine(&connection, &args, crate::config::Engine::Mysql)
        }
        Command::Connections(command) => connections::run(config_path, command),
        Command::Cache(command) => cache::run(&load(config_path)?, command),
        Command::Completions { shell } => completions(shell),
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(crate::cli::command())
                .render(&mut page)
                .map_err(|e| {
                    crate::error::Error::failure("cannot render the man page").caused_by(e)
                })?;
            print(&String::from_utf8_lossy(&page))?;
            Ok(0)
        }
        Command::Exec(args) => exec::run(&load(config_path)?, &args),
        Command::Connect(args) => connect::run(&load(config_path)?, &args),
        Command::Setup(args) => setup::run(&load(config_path)?, &args),
        Command::Refresh(args) => refresh::run(&load(config_path)?, &args),
        Command::Proxy(args) => proxy::run(&load(config_path)?, &args),
        Command::Rds { args } => rds::run(&args),
        Command::Login(args) => login::run(&load(config_path)?, &args),
        Command::Doctor(args) => doctor::run(&load(config_path)?, &args),
        Command::Profiles => profiles::run(&load(config_path)?),
        Command::Ca(crate::cli::CaCommand::Install { url, path }) => {
            ca::install(url.as_deref(), path.as_deref())
        }
        Command::SqlUser(args) => sql_user::run(&args),
        Command::Policy(args) => policy::run(&load(config_path)?, &args),
    }
}

/// The shell's registration script: it calls this binary back (with `cli::COMPLETE_VAR` set)
/// for every completion, so connection names come from the config file as it is then.
fn completions(shell: clap_complete::Shell) -> Result<i32> {
    use clap_complete::Shell;
    use clap_complete::env::{Bash, Elvish, EnvCompleter, Fish, Powershell, Zsh};
    let completer: &dyn EnvCompleter = match shell {
        Shell::Bash => &Bash,
        Shell::Zsh => &Zsh,
        Shell::Fish => &Fish,
        Shell::Elvish => &Elvish,
        Shell::PowerShell => &Powershell,
        _ => {
            return Err(crate::error::Error::usage(format!(
                "no completion for {shell}"
            )));
        }
    };
    let name = "rdsiam-helper";
    let mut script = Vec::new();
    completer
        .write_registration(crate::cli::COMPLETE_VAR, name, name, name, &mut script)
        .map_err(|e| crate::error::Error::failure("cannot write the script").caused_by(e))?;
    print(&String::from_utf8_lossy(&script))?;
    Ok(0)
}

/// One named connection, for the token commands a GUI runs on every connect: from a large,
/// unchanged config, as resolved before (parsing hundreds of connections would cost a cache hit
/// most of its time), else by reading the file.
fn named(explicit: Option<&Path>, name: &str) -> Result<crate::config::Connection> {
    let path = crate::config::default_path(explicit)?;
    let Some(meta) = crate::cache::stamp_if_large(&path) else {
        return Ok(load(explicit)?.get(name)?.clone());
    };
    let cache = crate::cache::Cache::open(crate::cache::default_dir()?)?;
    if let Some(connection) = cache.resolved_connection(&path, &meta, name) {
        return Ok(connection);
    }
    let connection = load(explicit)?.get(name)?.clone();
    cache.keep_connection(&path, &meta, &connection);
    Ok(connection)
}

fn load(explicit: Option<&Path>) -> Result<Config> {
    let config = Config::load(explicit)?;
    report::verbose(format_args!(
        "config: {}{}",
        config.path.display(),
        if config.exists {
            ""
        } else {
            " (not present; ad-hoc use only)"
        }
    ));
    Ok(config)
}

/// Prints to stdout in one write. A closed pipe (`| head`) is not an error worth a message.
pub fn print(text: &str) -> Result<()> {
    write_stdout(|out| out.write_all(text.as_bytes()))
}

/// A token and a newline, written as they are: no copy of the token is made to print it.
pub fn print_token(token: &crate::token::Token) -> Result<()> {
    write_stdout(|out| {
        out.write_all(token.expose().as_bytes())?;
        out.write_all(b"\n")
    })
}

/// `value` as one line of JSON, serialised straight to stdout, so a token in it is not copied
/// into a buffer of ours first.
pub fn print_json(value: &impl serde::Serialize) -> Result<()> {
    write_stdout(|out| {
        serde_json::to_writer(&mut *out, value)?;
        out.write_all(b"\n")
    })
}

/// A reader that has gone (`| head`) is no error.
fn write_stdout(
    write: impl FnOnce(&mut std::io::StdoutLock<'static>) -> std::io::Result<()>,
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match write(&mut out).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(err) => Err(crate::error::Error::failure("cannot write to stdout").caused_by(err)),
    }
}
