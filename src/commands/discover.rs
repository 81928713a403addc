//! `connections discover [--region R] [--add]` and `connections add NAME --from-instance ID |
//! --from-cluster ID`: the RDS side, asked of RDS, written as connections.

use crate::aws_api::{Aws, Resource};
use crate::cli::{AddConnection, DiscoverArgs};
use crate::commands::print;
use crate::config::{Config, Engine};
use crate::error::{Error, Result};
use crate::values::{AwsProfile, ConnectionName, DbUser, Host, Port, Region};
use std::path::Path;

/// Lists what RDS has with IAM authentication on; with `--add`, returns the connections to add
/// for those the config does not have yet (`connections` adds them).
pub fn run(explicit: Option<&Path>, args: &DiscoverArgs) -> Result<Vec<AddConnection>> {
    let config = Config::load(explicit)?;
    let profile = args.aws_profile.clone().map(String::from);
    let aws = Aws::connect(profile.as_deref(), args.region.as_ref().map(Region::as_str))?;
    let found = aws.iam_enabled()?;
    if found.is_empty() {
        eprintln!(
            "rdsiam-helper: no instance or cluster in {} has IAM database authentication on",
            aws.region
        );
        return Ok(Vec::new());
    }
    let mut out = String::new();
    for resource in &found {
        out.push_str(&format!(
            "{}\t{}\t{}\t{}:{}\n",
            resource.id,
            resource.kind_name(),
            resource.engine,
            resource.endpoint,
            resource.port
        ));
    }
    print(&out)?;
    if !args.add {
        return Ok(Vec::new());
    }
    let mut adds = Vec::new();
    for resource in &found {
        if config.connections.contains_key(resource.id.as_str()) {
            eprintln!(
                "rdsiam-helper: kept the existing connection `{}`",
                resource.id
            );
            continue;
        }
        adds.push(connection_for(
            resource,
            &aws.region,
            profile.as_deref(),
            args.user.clone(),
        )?);
    }
    Ok(adds)
}

/// `connections add NAME --from-instance ID | --from-cluster ID`: the connection to add, filled
/// in from RDS.
pub fn filled(add: &AddConnection) -> Result<AddConnection> {
    let profile = add.aws_profile.clone().map(String::from);
    let aws = Aws::connect(profile.as_deref(), add.region.as_ref().map(Region::as_str))?;
    let resource = match (&add.from_instance, &add.from_cluster) {
        (Some(id), _) => aws.instance(id)?,
        (None, Some(id)) => aws.cluster(id)?,
        (None, None) => {
            return Err(Error::usage(
                "give --host, --from-instance or --from-cluster",
            ));
        }
    };
    if !resource.iam_auth {
        crate::report::warn(format_args!(
            "IAM database authentication is off for {} `{}`; `rdsiam-helper doctor {}` gives the fix",
            resource.kind_name(),
            resource.id,
            add.name.as_str()
        ));
    }
    let mut filled = connection_for(&resource, &aws.region, profile.as_deref(), add.user.clone())?;
    // What was given on the command line wins over what RDS says.
    filled.name = add.name.clone();
    filled.port = add.port.or(filled.port);
    filled.engine = add.engine.or(filled.engine);
    filled.database = add.database.clone();
    filled.ca_bundle = add.ca_bundle.clone();
    filled.refresh_before = add.refresh_before.clone();
    filled.tunnel = add.tunnel;
    Ok(filled)
}

fn connection_for(
    resource: &Resource,
    region: &str,
    profile: Option<&str>,
    user: Option<DbUser>,
) -> Result<AddConnection> {
    let invalid = |what: &str, e: crate::values::ValueError| {
        Error::failure(format!(
            "RDS returned {what} this tool cannot use for `{}`: {e}",
            resource.id
        ))
    };
    let engine: Engine = resource
        .engine
        .parse()
        .map_err(|e| invalid("an engine", e))?;
    Ok(AddConnection {
        name: resource
            .id
            .parse::<ConnectionName>()
            .map_err(|e| invalid("a name", e))?,
        host: Some(
            resource
                .endpoint
                .parse::<Host>()
                .map_err(|e| invalid("an endpoint", e))?,
        ),
        from_instance: None,
        from_cluster: None,
        token_lifetime: None,
        dsql_action: None,
        engine: Some(engine),
        port: match resource.port {
            0 => None,
            port => Some(
                port.to_string()
                    .parse::<Port>()
                    .map_err(|e| invalid("a port", e))?,
            ),
        },
        // Identity Center users sign in as their database user: the session name is it.
        user: Some(match user {
            Some(user) => user,
            None => crate::values::SESSION_NAME_TEMPLATE
                .parse::<DbUser>()
                .map_err(|e| invalid("a user", e))?,
        }),
        database: None,
        region: Some(
            region
                .parse::<Region>()
                .map_err(|e| invalid("a region", e))?,
        ),
        aws_profile: profile
            .map(|p| p.parse::<AwsProfile>())
            .transpose()
            .map_err(|e| invalid("a profile", e))?,
        ca_bundle: None,
        refresh_before: None,
        tunnel: None,
    })
}
