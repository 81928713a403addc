//! The config file: it parsed (or `doctor` would not have got here), and has connections.

use super::{Check, CheckId};
use crate::config::{Config, Engine, Named};

pub fn check(config: &Config) -> Check {
    if !config.exists {
        return Check::warn(
            CheckId::Config,
            format!("{} does not exist (ad-hoc use only)", config.path.display()),
        )
        .fix("add a connection: `rdsiam-helper connections add NAME --host HOST --user USER` or `rdsiam-helper connections discover --add`");
    }
    if config.connections.is_empty() {
        return Check::warn(
            CheckId::Config,
            format!("{} has no connections", config.path.display()),
        )
        .fix("add one: `rdsiam-helper connections add NAME --host HOST --user USER`");
    }
    Check::ok(
        CheckId::Config,
        format!(
            "{} ({} connection{})",
            config.path.display(),
            config.connections.len(),
            if config.connections.len() == 1 {
                ""
            } else {
                "s"
            }
        ),
    )
}

/// A connection whose engine the endpoint's name contradicts: the token it signs is the wrong
/// kind, and the server refuses it. Nothing to say when they agree.
pub fn engine(connection: Named<'_>) -> Option<Check> {
    let problem = connection.engine_contradicts_host()?;
    let name = connection.name;
    let fix = match connection.engine {
        Engine::Dsql => format!(
            "set `engine` for `{name}` to the database's (postgres or mysql), or point `host` at the DSQL cluster (CLUSTER_ID.dsql.REGION.on.aws)"
        ),
        Engine::Postgres | Engine::Mysql => {
            format!("set engine = \"dsql\" for `{name}` (or remove `engine`: a DSQL host says it)")
        }
    };
    Some(Check::warn(CheckId::Engine, problem).fix(fix))
}
