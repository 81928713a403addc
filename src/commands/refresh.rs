//! `refresh NAME | --all`: rewrite the `.pgpass` lines this tool owns with fresh tokens. Run
//! every few minutes by the systemd timer / launchd agent in integrations/. The tokens are
//! issued first; the file is then merged through the set-up driver (`setup::perform`).

use crate::cli::RefreshArgs;
use crate::clients::{Edit, HelperCommand, Merged, Plan, pgpass};
use crate::commands::setup::{self, Telling};
use crate::config::{Config, Wire};
use crate::error::{Error, Result};
use crate::secret::{Contents, Secret};
use crate::{issuer, report};

pub fn run(config: &Config, args: &RefreshArgs) -> Result<i32> {
    let path = match &args.pgpass {
        Some(path) => path.clone(),
        None => pgpass::default_path()?,
    };
    // `.pgpass` is libpq's: a MySQL connection's clients ask for the token themselves.
    if let Some(name) = &args.name
        && let connection = config.get(name)?
        && connection.engine.wire() == Wire::Mysql
    {
        return Err(Error::usage(format!(
            "refresh keeps .pgpass tokens fresh; `{name}` is a mysql connection, which has none"
        ))
        .hint(format!(
            "MySQL clients get the token as they connect: `{}` (or `setup mysql {name}`)",
            HelperCommand::new(&config.path)?.password(connection, name)
        )));
    }
    let text = match crate::files::read_text(&path)? {
        Some(text) => text,
        None if args.all => {
            report::verbose(format_args!(
                "{} does not exist: nothing to refresh",
                path.display()
            ));
            return Ok(0);
        }
        None => {
            let name = args.name.as_ref().map_or("NAME", |name| name.as_str());
            return Err(
                Error::failure(format!("{} does not exist", path.display())).hint(format!(
                    "create the entry with `{}`",
                    setup_command(config, args, name)
                )),
            );
        }
    };
    pgpass::validate(&text, &path)?;
    let mut owned: Vec<String> = Vec::new();
    for name in pgpass::owned(&text) {
        if !owned.contains(&name) {
            owned.push(name);
        }
    }
    // A token line whose marker was deleted by hand is still read by libpq, and dies within
    // 15 minutes: the connection it belongs to is refreshed as if the marker were there.
    let unmarked: Vec<String> = config
        .connections
        .iter()
        .filter(|(name, c)| {
            !owned.iter().any(|o| o == name.as_str())
                && c.engine.wire() == Wire::Postgres
                && pgpass::has_unmarked_line(&text, c)
        })
        .map(|(name, _)| name.to_string())
        .collect();
    let names: Vec<String> = match args.name.as_ref().map(|n| n.to_string()) {
        Some(name) if owned.contains(&name) || unmarked.contains(&name) => vec![name],
        Some(name) => {
            return Err(Error::failure(format!(
                "{} has no line for `{name}` written by rdsiam-helper",
                path.display()
            ))
            .hint(format!(
                "add it with `{}`",
                setup_command(config, args, &name)
            )));
        }
        None => owned.iter().chain(&unmarked).cloned().collect(),
    };
    // Tokens are signed before the file is locked: a slow SSO or credential_process never
    // holds the lock, and the merge below works on the file as it is then, not on the copy
    // read above, so a `setup pgpass --write` in between is kept.
    let mut entries = Vec::new();
    let mut failures = Vec::new();
    for name in names {
        let Ok(connection) = config.get(&name) else {
            report::warn(format_args!(
                "`{name}` has a line in {} but is not in the config; left as it is",
                path.display()
            ));
            continue;
        };
        match issuer::issue(connection, true) {
            Ok(issued) => {
                let entry = pgpass::entry(&name, connection, &issued.user, &issued.token);
                entries.push((name, entry));
            }
            Err(err) => failures.push(err),
        }
    }
    // Through the set-up's driver, as one edit: the same lock, backup and privacy as `setup`.
    let merge = |current: &str| {
        pgpass::validate(current, &path)?;
        let mut notes = Vec::new();
        let mut merged = Secret::new(current.to_string());
        for (name, entry) in &entries {
            if unmarked.contains(name) {
                notes.push(format!(
                    "warning: {} had a token line for `{name}` without its `# rdsiam-helper: {name}` comment; replaced it and put the comment back",
                    path.display()
                ));
            }
            let placed = pgpass::merge_placed(merged.expose(), &path, name, entry);
            notes.extend(placed.notes);
            merged = match placed.text {
                Contents::Secret(text) => text,
                Contents::Plain(text) => Secret::new(text),
            };
        }
        Ok(Merged {
            text: Contents::Secret(merged),
            notes,
        })
    };
    let plan = Plan {
        edits: vec![Edit::new(path.clone(), merge)],
        ..Plan::default()
    };
    setup::perform(plan, Telling::OnlyVerbose)?;
    // Every connection was tried; report each failure, exit with the last one's code.
    match failures.pop() {
        Some(last) => Err(last.with_earlier(failures)),
        None => Ok(0),
    }
}

/// `setup pgpass NAME --write` for the file being refreshed, as a command that runs as printed:
/// this binary by path, with the config that was read (and the file, when it is not the usual).
fn setup_command(config: &Config, args: &RefreshArgs, name: &str) -> String {
    let file = args
        .pgpass
        .as_ref()
        .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
        .map(|p| p.display().to_string());
    let mut words = vec!["setup", "pgpass", name, "--write"];
    words.extend(file.as_deref());
    match HelperCommand::new(&config.path) {
        Ok(command) => command.line(&words),
        Err(_) => format!("rdsiam-helper {}", words.join(" ")),
    }
}
