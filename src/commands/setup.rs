//! `setup CLIENT NAME [--write [PATH]]`: the client plans its set-up from the connection; this
//! driver gathers what the plan needs (the user, a token), then prints it or merges it into the
//! client's files, each under its folder's lock, with a `.bak`, everything else kept.

use crate::cli::SetupArgs;
use crate::clients::{Destination, HelperCommand, Plan, Request, libpq, via_proxy};
use crate::commands::print;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::files::{self, Written};
use crate::values::DbUser;
use crate::{issuer, report};

pub fn run(config: &Config, args: &SetupArgs) -> Result<i32> {
    let connection = config.get(&args.name)?;
    let name = args.name.as_str();
    let client = args.client.client();
    if args.auth.is_some() && !client.takes_auth() {
        return Err(Error::usage(
            "--auth: this client has one way to the password; --auth is for DataGrip and DBeaver",
        ));
    }
    client.accepts(connection, name, args.auth)?;
    if args.via_proxy {
        via_proxy::local_port(connection, name)?;
    }
    // Through the proxy no token is needed, but a `{session_name}` user is still resolved.
    let wants_token = !args.via_proxy && client.needs_token(connection);
    let issued = match wants_token || connection.user == DbUser::SessionName {
        true => Some(issuer::issue(connection, true)?),
        false => None,
    };
    let user = match &issued {
        Some(issued) => issued.user.to_string(),
        None => connection.user.to_string(),
    };
    let request = Request {
        connection,
        name,
        user: &user,
        issued: issued.as_ref(),
        auth: args.auth,
        destination: &match &args.write {
            None => Destination::Print,
            Some(path) => Destination::Write(path.clone()),
        },
        command: &HelperCommand::new(&config.path)?,
        libpq_major: libpq::installed_major(),
    };
    let plan = match args.via_proxy {
        true => client.via_proxy(&request)?,
        false => client.plan(&request)?,
    };
    perform(plan, Telling::EachFile)?;
    Ok(0)
}

/// Whether `perform` says what it did to each file: `setup` does; `refresh`, run by a timer
/// every few minutes, says it only under --verbose.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Telling {
    EachFile,
    OnlyVerbose,
}

/// Prints the plan's text, merges its edits, then gives its notes.
pub fn perform(plan: Plan<'_>, telling: Telling) -> Result<()> {
    if let Some(text) = &plan.print {
        print(text.expose())?;
    }
    for edit in plan.edits {
        let mut notes = Vec::new();
        let merge = edit.merge;
        let written = files::update_together(&edit.paths, |existing| {
            let merged = merge(existing)?;
            Ok(merged
                .into_iter()
                .map(|merged| {
                    notes.extend(merged.notes);
                    merged.text
                })
                .collect())
        })?;
        for (path, written) in edit.paths.iter().zip(written) {
            let path = std::path::absolute(path).unwrap_or_else(|_| path.clone());
            let said = match written {
                Written::Unchanged => format!("{} is already up to date", path.display()),
                Written::Created => format!("wrote {}", path.display()),
                Written::Updated { backup } => format!(
                    "updated {} (previous version: {})",
                    path.display(),
                    backup.display()
                ),
            };
            match telling {
                Telling::EachFile => eprintln!("rdsiam-helper: {said}"),
                Telling::OnlyVerbose => report::verbose(format_args!("{said}")),
            }
        }
        for note in notes {
            eprintln!("rdsiam-helper: {note}");
        }
    }
    for note in plan.notes {
        eprintln!("rdsiam-helper: {note}");
    }
    Ok(())
}
