//! `refresh NAME | --all`: rewrite the `.pgpass` lines this tool owns with fresh tokens, and
//! nothing else. Run every few minutes by the systemd timer / launchd agent in integrations/.

use crate::cli::RefreshArgs;
use crate::clients::pgpass;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::files::{self, Secrecy};
use crate::{issuer, report};

pub fn run(config: &Config, args: &RefreshArgs) -> Result<i32> {
    let path = match &args.pgpass {
        Some(path) => path.clone(),
        None => pgpass::default_path()?,
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && args.all => {
            report::verbose(format_args!(
                "{} does not exist: nothing to refresh",
                path.display()
            ));
            return Ok(0);
        }
        Err(err) => {
            return Err(Error::io("read", &path, err)
                .hint("create the entry with `rdsiam-helper setup pgpass NAME --write`"));
        }
    };
    pgpass::validate(&text, &path)?;
    let owned = pgpass::owned(&text);
    let names = match &args.name {
        Some(name) if owned.contains(name) => vec![name.clone()],
        Some(name) => {
            return Err(Error::failure(format!(
                "{} has no line for `{name}` written by rdsiam-helper",
                path.display()
            ))
            .hint(format!(
                "add it with `rdsiam-helper setup pgpass {name} --write`"
            )));
        }
        None => owned,
    };
    let mut merged = text.clone();
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
            Ok(entry) => {
                merged = pgpass::merge(
                    &merged,
                    &name,
                    &pgpass::entry(connection, &entry.signed_user, entry.token.expose()),
                )
            }
            Err(err) => failures.push(err),
        }
    }
    if merged != text {
        files::replace(&path, merged.as_bytes(), Secrecy::Secret)?;
        report::verbose(format_args!("refreshed {}", path.display()));
    }
    // Every connection was tried; report each failure, exit with the last one's code.
    let last = failures.pop();
    for err in failures {
        eprintln!("{err}");
    }
    match last {
        Some(err) => Err(err),
        None => Ok(0),
    }
}
