//! `connections discover [--region R] [--add]` and `connections add NAME --from-instance ID |
//! --from-cluster ID | --from-dsql-cluster ID`: what RDS and Aurora DSQL have, written as
//! connections.

use crate::aws_api::{Aws, DsqlCluster, DsqlLookup, Resource};
use crate::cli::{AddConnection, DiscoverArgs};
use crate::commands::print;
use crate::config::{Config, Engine};
use crate::error::{Error, Result};
use crate::values::{AwsProfile, ConnectionName, DbUser, Host, Port, Region};
use std::path::Path;

/// Lists what RDS has with IAM authentication on, and the Aurora DSQL clusters (always IAM);
/// with `--add`, returns the connections to add for those the config does not have yet
/// (`connections` adds them).
pub fn run(explicit: Option<&Path>, args: &DiscoverArgs) -> Result<Vec<AddConnection>> {
    let config = Config::load(explicit)?;
    let profile = args.aws_profile.clone().map(AwsProfile::into_string);
    let aws = Aws::connect(profile.as_deref(), args.region.as_ref().map(Region::as_str))?;
    // One side may be closed to the caller (no rds:Describe* or no dsql:ListClusters): the
    // other is still worth listing.
    let (found, clusters) = match (aws.iam_enabled(), aws.dsql_clusters()) {
        (Err(rds), Err(_)) => return Err(rds),
        (Ok(found), Ok(clusters)) => (found, clusters),
        (Err(rds), Ok(clusters)) => {
            crate::report::warn(format_args!(
                "{rds}; listing Aurora DSQL clusters only (RDS needs rds:DescribeDBInstances and rds:DescribeDBClusters)"
            ));
            (Vec::new(), clusters)
        }
        (Ok(found), Err(dsql)) => {
            crate::report::warn(format_args!(
                "{dsql}; listing RDS only (Aurora DSQL needs dsql:ListClusters)"
            ));
            (found, Vec::new())
        }
    };
    if found.is_empty() && clusters.is_empty() {
        eprintln!(
            "rdsiam-helper: no instance or cluster in {} has IAM database authentication on, and there is no Aurora DSQL cluster",
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
    for cluster in &clusters {
        out.push_str(&format!(
            "{}\tcluster\tdsql\t{}:{}\n",
            cluster.id,
            cluster.endpoint,
            Engine::Dsql.default_port()
        ));
    }
    print(&out)?;
    if !args.add {
        return Ok(Vec::new());
    }
    let mut adds = Vec::new();
    for resource in &found {
        if config.connections.contains_key(&resource.id) {
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
    for cluster in &clusters {
        if config.connections.contains_key(&cluster.id) {
            eprintln!(
                "rdsiam-helper: kept the existing connection `{}`",
                cluster.id
            );
            continue;
        }
        adds.push(connection_for_dsql(
            cluster,
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
    let profile = add.aws_profile.clone().map(AwsProfile::into_string);
    let aws = Aws::connect(profile.as_deref(), add.region.as_ref().map(Region::as_str))?;
    if let Some(id) = &add.from_dsql_cluster {
        return filled_dsql(add, &aws, id, profile.as_deref());
    }
    let resource = match (&add.from_instance, &add.from_cluster) {
        (Some(id), _) => aws.instance(id)?,
        (None, Some(id)) => aws.cluster(id)?,
        (None, None) => {
            return Err(Error::usage(
                "give --host, --from-instance, --from-cluster or --from-dsql-cluster",
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

/// `--from-dsql-cluster ID`: the cluster must exist; its endpoint is the host.
fn filled_dsql(
    add: &AddConnection,
    aws: &Aws,
    id: &str,
    profile: Option<&str>,
) -> Result<AddConnection> {
    let cluster = match aws.dsql_cluster(id)? {
        DsqlLookup::Found(cluster) => cluster,
        DsqlLookup::NotFound => {
            return Err(
                Error::failure(format!("no Aurora DSQL cluster `{id}` in {}", aws.region)).hint(
                    format!(
                        "check the identifier and the region (--region); `aws dsql list-clusters --region {}` lists them",
                        aws.region
                    ),
                ),
            );
        }
        DsqlLookup::Denied(err) => {
            return Err(err.hint(format!(
                "GetCluster needs dsql:GetCluster; or add it by hand: `rdsiam-helper connections add {} --host {id}.dsql.{}.on.aws --user admin`",
                add.name.as_str(),
                aws.region
            )));
        }
    };
    let mut filled = connection_for_dsql(&cluster, &aws.region, profile, add.user.clone())?;
    // What was given on the command line wins over what DSQL says.
    filled.name = add.name.clone();
    filled.port = add.port;
    filled.database = add.database.clone();
    filled.ca_bundle = add.ca_bundle.clone();
    filled.refresh_before = add.refresh_before.clone();
    filled.tunnel = add.tunnel;
    filled.token_lifetime = add.token_lifetime.clone();
    filled.dsql_action = add.dsql_action;
    Ok(filled)
}

/// A DSQL cluster as a connection: its endpoint, `admin` unless another user is given (the
/// role every cluster has; an Identity Center session name is no DSQL role).
fn connection_for_dsql(
    cluster: &DsqlCluster,
    region: &str,
    profile: Option<&str>,
    user: Option<DbUser>,
) -> Result<AddConnection> {
    let invalid = |what: &str, e: crate::values::ValueError| {
        Error::failure(format!(
            "Aurora DSQL returned {what} this tool cannot use for `{}`: {e}",
            cluster.id
        ))
    };
    let user = match user {
        Some(user) => user,
        None => crate::values::DSQL_ADMIN
            .parse::<DbUser>()
            .map_err(|e| invalid("a user", e))?,
    };
    Ok(AddConnection {
        name: cluster
            .id
            .parse::<ConnectionName>()
            .map_err(|e| invalid("a name", e))?,
        host: Some(
            cluster
                .endpoint
                .parse::<Host>()
                .map_err(|e| invalid("an endpoint", e))?,
        ),
        from_instance: None,
        from_cluster: None,
        from_dsql_cluster: None,
        token_lifetime: None,
        dsql_action: None,
        engine: Some(Engine::Dsql),
        port: None,
        user: Some(user),
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
        from_dsql_cluster: None,
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
