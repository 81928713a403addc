//! `connections discover [--region R] [--add]` and `connections add NAME --from-instance ID |
//! --from-cluster ID | --from-dsql-cluster ID`: what RDS and Aurora DSQL have, written as
//! connections.

use crate::aws_api::{Aws, DsqlCluster, DsqlLookup, Resource};
use crate::cli::{AddConnection, DiscoverArgs};
use crate::commands::print;
use crate::config::{Config, Engine};
use crate::error::{Error, Result};
use crate::values::{AwsProfile, DbUser, Port};
use std::path::Path;

/// Lists what RDS has with IAM authentication on, and the Aurora DSQL clusters (always IAM);
/// with `--add`, returns the connections to add for those the config does not have yet
/// (`connections` adds them).
pub fn run(explicit: Option<&Path>, args: &DiscoverArgs) -> Result<Vec<AddConnection>> {
    let config = Config::load(explicit)?;
    let profile = args.aws_profile.as_ref();
    let aws = Aws::connect(profile, args.region.as_ref())?;
    // One side may be closed to the caller (no rds:Describe* or no dsql:ListClusters): the
    // other is still worth listing.
    let (found, clusters) = match (aws.iam_enabled(), aws.dsql_clusters()) {
        (Err(rds), Err(_)) => return Err(rds),
        (Ok(found), Ok(clusters)) => (found, clusters),
        (Err(mut rds), Ok(clusters)) => {
            rds.message.push_str("; listing Aurora DSQL clusters only");
            crate::report::warn_error(&rds);
            (Vec::new(), clusters)
        }
        (Ok(found), Err(mut dsql)) => {
            dsql.message.push_str("; listing RDS only");
            crate::report::warn_error(&dsql);
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
    // A name the config already has is kept as the user wrote it.
    let new = |id: &str| {
        let known = config.connections.contains_key(id);
        if known {
            eprintln!("rdsiam-helper: kept the existing connection `{id}`");
        }
        !known
    };
    let mut adds = Vec::new();
    for resource in found.iter().filter(|r| new(&r.id)) {
        adds.push(connection_for(
            resource,
            &aws.region,
            profile,
            args.user.clone(),
        )?);
    }
    for cluster in clusters.iter().filter(|c| new(&c.id)) {
        adds.push(connection_for_dsql(
            cluster,
            &aws.region,
            profile,
            args.user.clone(),
        )?);
    }
    Ok(adds)
}

/// `connections add NAME --from-instance ID | --from-cluster ID`: the connection to add, filled
/// in from RDS.
pub fn filled(add: &AddConnection) -> Result<AddConnection> {
    let profile = add.aws_profile.as_ref();
    let aws = Aws::connect(profile, add.region.as_ref())?;
    if let Some(id) = &add.from_dsql_cluster {
        return filled_dsql(add, &aws, id, profile);
    }
    // An Aurora member instance is connected to by its own endpoint, but its cluster decides
    // whether IAM authentication is on.
    let (resource, governing) = match (&add.from_instance, &add.from_cluster) {
        (Some(id), _) => aws.instance(id)?,
        (None, Some(id)) => (aws.cluster(id)?, None),
        (None, None) => {
            return Err(Error::usage(
                "give --host, --from-instance, --from-cluster or --from-dsql-cluster",
            ));
        }
    };
    let governing = governing.as_ref().unwrap_or(&resource);
    if !governing.iam_auth {
        crate::report::warn(format_args!(
            "IAM database authentication is off for {} `{}`; `rdsiam-helper doctor {}` gives the fix",
            governing.kind_name(),
            governing.id,
            add.name.as_str()
        ));
    }
    let mut filled = connection_for(&resource, &aws.region, profile, add.user.clone())?;
    // What was given on the command line wins over what RDS says.
    filled.name = add.name.clone();
    filled.port = add.port.or(filled.port);
    filled.engine = add.engine.or(filled.engine);
    filled.database = add.database.clone();
    filled.ca_bundle = add.ca_bundle.clone();
    filled.refresh_before = add.refresh_before.clone();
    filled.tunnel = add.tunnel;
    // Kept so that `connections add` refuses them for an RDS resource, not drops them.
    filled.dsql_action = add.dsql_action;
    filled.token_lifetime = add.token_lifetime.clone();
    Ok(filled)
}

/// `--from-dsql-cluster ID`: the cluster must exist; its endpoint is the host.
fn filled_dsql(
    add: &AddConnection,
    aws: &Aws,
    id: &str,
    profile: Option<&AwsProfile>,
) -> Result<AddConnection> {
    let cluster = match aws.dsql_cluster(id)? {
        DsqlLookup::Found(cluster) => cluster,
        DsqlLookup::NotFound => {
            return Err(
                Error::failure(format!("no Aurora DSQL cluster `{id}` in {}", aws.region)).hint(
                    format!(
                        "check the identifier and the region (--region); `{}` lists them",
                        aws.cli("dsql list-clusters")
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

/// An Aurora DSQL cluster as a connection to add: user `admin` unless one is given (the one
/// role every cluster has; an Identity Center session name is no DSQL role).
fn connection_for_dsql(
    cluster: &DsqlCluster,
    region: &str,
    profile: Option<&AwsProfile>,
    user: Option<DbUser>,
) -> Result<AddConnection> {
    let found = Found {
        service: "Aurora DSQL",
        id: &cluster.id,
        endpoint: &cluster.endpoint,
        engine: Engine::Dsql.as_str(),
        port: 0,
    };
    let admin = DbUser::Named(
        crate::values::DSQL_ADMIN
            .parse()
            .expect("DSQL's admin is a user name"),
    );
    found.connection(region, profile, user.unwrap_or(admin))
}

/// An RDS resource as a connection to add. Identity Center users sign in as their database
/// user, so the session name is the user unless one is given.
fn connection_for(
    resource: &Resource,
    region: &str,
    profile: Option<&AwsProfile>,
    user: Option<DbUser>,
) -> Result<AddConnection> {
    let found = Found {
        service: "RDS",
        id: &resource.id,
        endpoint: &resource.endpoint,
        engine: &resource.engine,
        port: resource.port,
    };
    found.connection(region, profile, user.unwrap_or(DbUser::SessionName))
}

/// A database as AWS describes it. Its values are parsed as anything the user types is, and
/// one this tool cannot use is named with the service that gave it.
struct Found<'a> {
    service: &'a str,
    id: &'a str,
    endpoint: &'a str,
    engine: &'a str,
    /// 0 when the service names none (the engine's default then).
    port: u16,
}

impl Found<'_> {
    fn connection(
        &self,
        region: &str,
        profile: Option<&AwsProfile>,
        user: DbUser,
    ) -> Result<AddConnection> {
        let invalid = |what: &str, e: crate::values::ValueError| {
            Error::failure(format!(
                "{} returned {what} this tool cannot use for `{}`: {e}",
                self.service, self.id
            ))
        };
        Ok(AddConnection {
            name: self.id.parse().map_err(|e| invalid("a name", e))?,
            host: Some(
                self.endpoint
                    .parse()
                    .map_err(|e| invalid("an endpoint", e))?,
            ),
            from_instance: None,
            from_cluster: None,
            from_dsql_cluster: None,
            token_lifetime: None,
            dsql_action: None,
            engine: Some(self.engine.parse().map_err(|e| invalid("an engine", e))?),
            port: match self.port {
                0 => None,
                port => Some(Port::try_from(i64::from(port)).map_err(|e| invalid("a port", e))?),
            },
            user: Some(user),
            database: None,
            region: Some(region.parse().map_err(|e| invalid("a region", e))?),
            aws_profile: profile.cloned(),
            ca_bundle: None,
            refresh_before: None,
            tunnel: None,
        })
    }
}
