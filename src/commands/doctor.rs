//! `doctor [NAME] [--format json] [--token]`: the checklist, one line per check, and for each
//! warn or fail the exact fix. Exits 1 when any check fails.

use crate::aws_api::{Aws, Caller};
use crate::cli::{DoctorArgs, OutputFormat};
use crate::clients::HelperCommand;
use crate::commands::print;
use crate::config::{Config, Engine, Named};
use crate::doctor::{self, Check, CheckId, Section};
use crate::error::{Error, Result};
use std::io::Read as _;

pub fn run(config: &Config, args: &DoctorArgs) -> Result<i32> {
    let sections = if args.token {
        token(config, args.name.as_deref())?
    } else {
        checklist(config, args.name.as_deref())?
    };
    print(&match args.format {
        OutputFormat::Text => doctor::render_text(&sections),
        OutputFormat::Json => doctor::render_json(&sections),
    })?;
    Ok(if doctor::any_failed(&sections) { 1 } else { 0 })
}

fn checklist(config: &Config, name: Option<&str>) -> Result<Vec<Section>> {
    let connections: Vec<Named<'_>> = match name {
        Some(name) => vec![config.named(name)?],
        None => config.all_named().collect(),
    };
    let dsql: Vec<String> = connections
        .iter()
        .filter(|c| c.engine == Engine::Dsql)
        .map(|c| c.name.to_string())
        .collect();
    let mut sections = vec![Section {
        name: "this machine".to_string(),
        checks: vec![
            doctor::config::check(config),
            doctor::clock::check(),
            doctor::clients::libpq(&dsql),
            doctor::clients::mysql(),
        ],
    }];
    let command = HelperCommand::new(&config.path)?;
    sections.extend(connections.into_iter().map(|c| connection(c, &command)));
    Ok(sections)
}

/// One connection: offline checks first, then AWS, then the network and a real login.
fn connection(named: Named<'_>, command: &HelperCommand) -> Section {
    let connection = named.connection;
    let mut section = Section {
        name: named.name.to_string(),
        checks: Vec::new(),
    };
    section.checks.extend(doctor::config::engine(named));
    let (credentials, resolved) = doctor::credentials::check(connection);
    section.checks.push(credentials);
    section.checks.push(doctor::ca_bundle::check(connection));
    section.checks.extend(doctor::dsql::lifetime(named));
    section.checks.extend(doctor::tunnel::check(connection));
    match resolved.map(|r| Aws::from_resolved(&r, connection.aws_profile.as_ref())) {
        Some(Ok(aws)) => section.checks.extend(online(&aws, named, command)),
        Some(Err(err)) => section.checks.push(Check::from_error(
            CheckId::Caller,
            doctor::Status::Fail,
            err,
        )),
        None => section.checks.push(Check::skip(
            CheckId::Aws,
            "no AWS checks without credentials",
        )),
    }
    section.checks.extend(doctor::network::check(connection));
    let login = doctor::login::check(named, &section);
    section.checks.push(login);
    section
}

fn online(aws: &Aws, connection: Named<'_>, command: &HelperCommand) -> Vec<Check> {
    let mut checks = Vec::new();
    let (caller_check, caller) = doctor::caller::check(aws);
    checks.push(caller_check);
    if connection.engine == Engine::Dsql {
        checks.extend(dsql(aws, caller.as_ref(), connection, command));
        return checks;
    }
    let (rds_checks, resource) = doctor::resource::lookup(aws, &connection);
    checks.extend(rds_checks);
    let Some(resource) = resource else {
        return checks;
    };
    checks.push(doctor::resource::iam_auth(aws, &resource));
    if let Some(caller) = caller {
        checks.push(doctor::simulate::check(
            aws, &caller, &resource, connection, command,
        ));
    }
    checks
}

/// Aurora DSQL in place of the RDS lookup, which cannot find a DSQL cluster: the cluster and
/// its status, then the connect action on it.
fn dsql(
    aws: &Aws,
    caller: Option<&Caller>,
    connection: Named<'_>,
    command: &HelperCommand,
) -> Vec<Check> {
    let id = match doctor::dsql::cluster_id(&connection) {
        Ok(id) => id,
        Err(skipped) => return vec![skipped],
    };
    let mut checks = vec![doctor::dsql::cluster(aws, &id)];
    if let Some(caller) = caller {
        checks.push(doctor::simulate::check_dsql(
            aws, caller, connection, &id, command,
        ));
    }
    checks
}

/// `--token`: the token on stdin, decoded and compared with the connection (the named one,
/// or the only one).
fn token(config: &Config, name: Option<&str>) -> Result<Vec<Section>> {
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(
            Error::usage("--token reads the token from stdin, which is a terminal").hint(
                "pipe a token in: `rdsiam-helper token NAME | rdsiam-helper doctor NAME --token`",
            ),
        );
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin().lock().take(64 * 1024), &mut text)
        .map_err(|e| Error::failure("cannot read the token from stdin").caused_by(e))?;
    let decoded = doctor::token::decode(&text).map_err(|problem| {
        Error::usage(format!("stdin: {problem}"))
            .hint("pipe a token in: `rdsiam-helper token NAME | rdsiam-helper doctor NAME --token`")
    })?;
    let connection = match name {
        Some(name) => Some(config.named(name)?),
        None if config.connections.len() == 1 => config.all_named().next(),
        None => None,
    };
    let command = HelperCommand::new(&config.path)?;
    let mut checks = doctor::token::describe(&decoded);
    checks.extend(doctor::token::compare(&decoded, connection, &command));
    Ok(vec![Section {
        name: match connection {
            Some(c) => format!("token for {}", c.name),
            None => "token".to_string(),
        },
        checks,
    }])
}
