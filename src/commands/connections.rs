//! `connections list | show | add | remove`. Edits keep the file's comments and other entries.

use crate::cli::{AddConnection, ConnectionsCommand};
use crate::commands::{discover, print};
use crate::config::{self, Config, Connection};
use crate::error::{Error, Result};
use crate::files;
use crate::secret::Contents;
use crate::values::{DbUser, TokenLifetime};
use std::path::Path;
use toml_edit::{DocumentMut, Item, Table, value};

pub fn run(explicit: Option<&Path>, command: ConnectionsCommand) -> Result<i32> {
    match command {
        ConnectionsCommand::List => list(&Config::load(explicit)?),
        ConnectionsCommand::Show { name } => show(Config::load(explicit)?.get(&name)?),
        ConnectionsCommand::Add(add)
            if add.from_instance.is_some()
                || add.from_cluster.is_some()
                || add.from_dsql_cluster.is_some() =>
        {
            add_connection(explicit, &discover::filled(&add)?)
        }
        ConnectionsCommand::Add(add) => add_connection(explicit, &add),
        ConnectionsCommand::Discover(args) => {
            for add in discover::run(explicit, &args)? {
                add_connection(explicit, &add)?;
            }
            Ok(0)
        }
        ConnectionsCommand::Remove { name } => remove(explicit, &name),
    }
}

fn list(config: &Config) -> Result<i32> {
    if config.connections.is_empty() {
        eprintln!("rdsiam-helper: no connections in {}", config.path.display());
        return Ok(0);
    }
    let width = config
        .connections
        .keys()
        .map(|name| name.len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (name, c) in &config.connections {
        out.push_str(&format!(
            "{name:width$}  {:8}  {}@{}:{}{}\n",
            c.engine.as_str(),
            c.user,
            c.host,
            c.port,
            c.database
                .as_deref()
                .map(|d| format!("/{d}"))
                .unwrap_or_default()
        ));
    }
    print(&out)?;
    Ok(0)
}

fn show(c: &Connection) -> Result<i32> {
    let mut out = format!(
        "name = {}\nengine = {}\nhost = {}\nport = {}\nuser = {}\n",
        c.label(),
        c.engine.as_str(),
        c.host,
        c.port,
        c.user
    );
    let optional = [
        ("database", c.database.as_ref().map(|d| d.to_string())),
        ("region", c.signing_region().map(|r| r.to_string())),
        ("aws_profile", c.aws_profile.as_ref().map(|p| p.to_string())),
        (
            "ca_bundle",
            c.ca_bundle.as_ref().map(|p| p.display().to_string()),
        ),
        ("tunnel", c.tunnel.map(|t| t.to_string())),
        (
            "dsql_action",
            (c.engine == config::Engine::Dsql).then(|| c.dsql_action().keyword().to_string()),
        ),
        (
            "token_lifetime",
            (c.engine == config::Engine::Dsql)
                .then(|| humantime::format_duration(c.token_lifetime).to_string()),
        ),
    ];
    for (key, value) in optional {
        match value {
            Some(value) => out.push_str(&format!("{key} = {value}\n")),
            None if key == "region" => out.push_str("region = (from the AWS profile)\n"),
            None => {}
        }
    }
    out.push_str(&format!(
        "refresh_before = {}\n",
        humantime::format_duration(c.refresh_before)
    ));
    print(&out)?;
    Ok(0)
}

fn add_connection(explicit: Option<&Path>, add: &AddConnection) -> Result<i32> {
    let path = config::default_path(explicit)?;
    dsql_flags_fit(add)?;
    let table = connection_table(add);
    let mut replaced = false;
    let mut contradiction = None;
    files::update(&path, |existing| {
        let current = match existing.is_empty() {
            true => Config::empty(path.clone()),
            false => Config::parse(path.clone(), existing.trim_start_matches('\u{feff}'))?,
        };
        let stale = current.stale_when_signed(
            engine_of(add),
            add.refresh_before.as_ref().map(|r| r.get()),
            add.token_lifetime.as_ref().map(|t| t.get()),
        );
        if let Some(problem) = stale {
            return Err(Error::usage(format!(
                "connection `{}` not added: {problem}",
                add.name.as_str()
            ))
            .hint("give a shorter --refresh-before (or, for dsql, a longer --token-lifetime)"));
        }
        if add.user.is_none() && !current.has_default_user() {
            return Err(Error::usage(format!(
                "connection `{}` not added: no --user given, and {} sets no [defaults] user",
                add.name.as_str(),
                path.display()
            ))
            .hint("give the database user with --user (or {session_name})"));
        }
        edit_document(&path, existing, |document| {
            let connections = document
                .entry("connections")
                .or_insert_with(|| {
                    let mut t = Table::new();
                    t.set_implicit(true);
                    Item::Table(t)
                })
                .as_table_mut()
                .ok_or_else(|| {
                    Error::failure(format!("{}: `connections` is not a table", path.display()))
                })?;
            replaced = connections
                .insert(add.name.as_str(), Item::Table(table))
                .is_some();
            Ok(())
        })
        .and_then(|text| {
            // Every value was checked where it was given; reading the result the way every
            // other command will is the last guard before the file is replaced.
            let written = Config::parse(path.clone(), &text)?;
            contradiction = written
                .get(add.name.as_str())
                .ok()
                .and_then(|c| c.engine_contradicts_host());
            Ok(Contents::Plain(text))
        })
    })?;
    eprintln!(
        "rdsiam-helper: {} connection `{}` in {}",
        if replaced { "replaced" } else { "added" },
        add.name.as_str(),
        path.display()
    );
    if let Some(problem) = contradiction {
        crate::report::warn(format_args!("{problem}"));
    }
    Ok(0)
}

/// `--dsql-action` and `--token-lifetime` mean something for Aurora DSQL only; on another
/// engine they are a mistake on the command line, said as such before any file is read.
fn dsql_flags_fit(add: &AddConnection) -> Result<()> {
    let engine = engine_of(add);
    if engine == config::Engine::Dsql {
        return Ok(());
    }
    let flag = match (&add.dsql_action, &add.token_lifetime) {
        (Some(_), _) => "--dsql-action",
        (None, Some(_)) => "--token-lifetime",
        (None, None) => return Ok(()),
    };
    Err(Error::usage(format!(
        "{flag} is only for Aurora DSQL connections, and `{}` is {} (an RDS token always lives 15 minutes and its user alone says who connects)",
        add.name.as_str(),
        engine.as_str()
    ))
    .hint(format!(
        "leave out {flag}, or give a DSQL endpoint (CLUSTER_ID.dsql.REGION.on.aws) or --engine dsql"
    )))
}

/// The engine given, else the host's (dsql for a DSQL endpoint), else postgres.
fn engine_of(add: &AddConnection) -> config::Engine {
    add.engine
        .or_else(|| {
            add.host
                .as_ref()
                .map(|host| config::Engine::of_host(host.as_str()))
        })
        .unwrap_or(config::Engine::Postgres)
}

fn connection_table(add: &AddConnection) -> Table {
    let mut table = Table::new();
    let engine = engine_of(add);
    table["engine"] = value(engine.as_str());
    if let Some(host) = &add.host {
        table["host"] = value(host.as_str());
    }
    if let Some(port) = add.port {
        table["port"] = value(i64::from(port.get()));
    }
    // Every value was parsed by its type on the command line; they go in as given.
    let strings = [
        ("user", add.user.clone().map(DbUser::into_string)),
        ("database", add.database.clone().map(String::from)),
        ("region", add.region.clone().map(String::from)),
        ("aws_profile", add.aws_profile.clone().map(String::from)),
        (
            "ca_bundle",
            add.ca_bundle.as_ref().map(|p| p.as_str().to_string()),
        ),
        (
            "refresh_before",
            add.refresh_before.as_ref().map(|r| r.as_str().to_string()),
        ),
        ("tunnel", add.tunnel.map(|t| t.addr().to_string())),
        (
            "token_lifetime",
            add.token_lifetime
                .as_ref()
                .map(|t: &TokenLifetime| t.as_str().to_string()),
        ),
        (
            "dsql_action",
            add.dsql_action.map(|a| a.keyword().to_string()),
        ),
    ];
    for (key, text) in strings {
        if let Some(text) = text {
            table[key] = value(text);
        }
    }
    table
}

fn remove(explicit: Option<&Path>, name: &str) -> Result<i32> {
    let config = Config::load(explicit)?;
    config.get(name)?;
    files::update(&config.path, |existing| {
        edit_document(&config.path, existing, |document| {
            if let Some(connections) = document
                .get_mut("connections")
                .and_then(Item::as_table_like_mut)
            {
                connections.remove(name);
            }
            Ok(())
        })
        .map(Contents::Plain)
    })?;
    eprintln!(
        "rdsiam-helper: removed connection `{name}` from {}",
        config.path.display()
    );
    Ok(0)
}

/// `text` edited as a TOML document, keeping its comments, its byte-order mark and its line
/// endings (an editor on Windows writes CRLF; toml_edit writes new lines with LF).
fn edit_document(
    path: &Path,
    text: &str,
    edit: impl FnOnce(&mut DocumentMut) -> Result<()>,
) -> Result<String> {
    const BOM: char = '\u{feff}';
    let (bom, body) = match text.strip_prefix(BOM) {
        Some(body) => (true, body),
        None => (false, text),
    };
    let crlf = body.contains("\r\n");
    // Parse through the validating loader first so a broken file is reported, not rewritten.
    if !body.is_empty() {
        Config::parse(path.to_path_buf(), body)?;
    }
    let mut document = body
        .parse::<DocumentMut>()
        .map_err(|e| Error::failure(format!("{}: {}", path.display(), e.message())))?;
    edit(&mut document)?;
    let mut out = document.to_string();
    if crlf {
        out = out.replace("\r\n", "\n").replace('\n', "\r\n");
    }
    if bom {
        out.insert(0, BOM);
    }
    Ok(out)
}
