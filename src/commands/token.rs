//! `token`, `pg` and `mysql`: print a token, alone on stdout.

use crate::cli::{EngineTokenArgs, OutputFormat, TokenArgs, TokenOutput};
use crate::config::{Config, Connection, Engine, Overrides, Wire};
use crate::error::{Error, Result};
use crate::issuer;
use crate::{clock, commands, login};

pub fn token(config: &Config, args: &TokenArgs) -> Result<i32> {
    let overrides = Overrides {
        host: args.host.clone(),
        port: args.port,
        user: args.user.clone(),
        region: args.region.clone(),
        aws_profile: args.aws_profile.clone(),
        engine: args.engine,
    };
    let mut connection = config.resolve(args.name.as_deref(), &overrides)?;
    connection.verify |= args.verify;
    let entry = login::issue_signing_in(&connection, !args.output.no_cache)?;
    emit(&entry, &connection, args.output)
}

/// `pg NAME` / `mysql NAME`: the same token, refused for a connection of the other engine so
/// a GUI set up for one never silently gets a token meant for another.
pub fn for_engine(connection: &Connection, args: &EngineTokenArgs, engine: Engine) -> Result<i32> {
    // DSQL speaks PostgreSQL: `pg NAME` serves it.
    if connection.engine.wire() != engine.wire() {
        let other = match connection.engine.wire() {
            Wire::Postgres => "pg",
            Wire::Mysql => "mysql",
        };
        return Err(Error::usage(format!(
            "connection `{}` is a {} connection, not {}",
            args.name,
            connection.engine.as_str(),
            engine.as_str()
        ))
        .hint(format!("use `rdsiam-helper {other} {}`", args.name)));
    }
    let entry = login::issue_signing_in(connection, !args.output.no_cache)?;
    emit(&entry, connection, args.output)
}

fn emit(entry: &issuer::Issued, connection: &Connection, output: TokenOutput) -> Result<i32> {
    match output.format {
        OutputFormat::Text => commands::print_token(&entry.token)?,
        OutputFormat::Json => commands::print_json(&Json {
            token: entry.token.expose(),
            expires_at: clock::rfc3339(entry.valid_until),
            host: &connection.host,
            port: connection.port.get(),
            user: &entry.user,
            region: &entry.region,
        })?,
    }
    Ok(0)
}

/// `--format json`, in this order.
#[derive(serde::Serialize)]
struct Json<'a> {
    token: &'a str,
    expires_at: String,
    host: &'a str,
    port: u16,
    user: &'a str,
    region: &'a str,
}
