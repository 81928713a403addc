//! `policy NAME --account ID [--resource-id ID] [--user-literal USER]`: the IAM policy that
//! allows `rds-db:connect` to the connection's database, as the guide writes it (ABAC on the
//! Identity Center user name by default). For an Aurora DSQL connection: `dsql:DbConnect` or
//! `dsql:DbConnectAdmin` (as the connection's token) on the cluster.

use crate::arn::{dbuser_arn, dsql_cluster_arn};
use crate::aws_api::Aws;
use crate::cli::PolicyArgs;
use crate::commands::print;
use crate::config::{Config, Connection, Engine};
use crate::error::{Error, Result};
use crate::values::{Region, ResourceId};

/// The attribute the guide maps from `${path:userName}` in Identity Center.
pub const PRINCIPAL_TAG_USER: &str = "${aws:PrincipalTag/username}";

pub fn run(config: &Config, args: &PolicyArgs) -> Result<i32> {
    let connection = config.get(&args.name)?;
    if connection.engine == Engine::Dsql {
        return dsql(connection, args);
    }
    let (region, resource_id) = match &args.resource_id {
        Some(id) => (region_of(connection)?, id.clone()),
        None => look_up(connection)?,
    };
    let user = match &args.user_literal {
        Some(user) => crate::arn::iam_literal(user),
        None => PRINCIPAL_TAG_USER.to_string(),
    };
    let arn = dbuser_arn(&region, &args.account, &resource_id, &user);
    let policy = document(&arn);
    print(&format!(
        "{}\n",
        serde_json::to_string_pretty(&policy).unwrap_or_default()
    ))?;
    Ok(0)
}

pub fn document(resource_arn: &str) -> serde_json::Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "RdsIamConnect",
            "Effect": "Allow",
            "Action": "rds-db:connect",
            "Resource": resource_arn,
        }]
    })
}

/// DSQL's IAM action names no database user: roles are mapped to IAM principals inside the
/// cluster (`AWS IAM GRANT`), so the policy names the cluster alone. Needs no AWS call.
fn dsql(connection: &Connection, args: &PolicyArgs) -> Result<i32> {
    if args.user_literal.is_some() {
        return Err(Error::usage(format!(
            "--user-literal: `{}` is an Aurora DSQL connection, whose IAM action names no database user",
            args.name
        ))
        .hint("map the role to the IAM principal inside the cluster, as admin: AWS IAM GRANT role TO 'arn:aws:iam::ACCOUNT:role/ROLE';"));
    }
    let id = match &args.resource_id {
        Some(id) if id.dsql_cluster().is_some() => id.dsql_cluster().unwrap_or_default(),
        Some(_) => {
            return Err(Error::usage(
                "--resource-id: for Aurora DSQL, the cluster id (letters and digits)",
            )
            .hint("`aws dsql list-clusters` lists them"));
        }
        None => crate::values::dsql_cluster_id(&connection.host).ok_or_else(|| {
            Error::usage(format!(
                "the host of `{}` is not CLUSTER_ID.dsql.REGION.on.aws, so the cluster is not known",
                args.name
            ))
            .hint("give the cluster id with --resource-id")
        })?,
    };
    let region = region_of(connection)?;
    let action = connection.dsql_action().as_str();
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": format!("Dsql{action}"),
            "Effect": "Allow",
            "Action": format!("dsql:{action}"),
            "Resource": dsql_cluster_arn(&region, &args.account, &id),
        }]
    });
    print(&format!(
        "{}\n",
        serde_json::to_string_pretty(&policy).unwrap_or_default()
    ))?;
    Ok(0)
}

fn region_of(connection: &Connection) -> Result<Region> {
    connection.signing_region().ok_or_else(|| {
        Error::usage(format!(
            "no region is known for `{}` without asking AWS",
            connection.label()
        ))
        .hint("set `region` for the connection, or leave out --resource-id so RDS is asked")
    })
}

/// The resource behind the connection's host, asked of RDS with the connection's profile.
fn look_up(connection: &Connection) -> Result<(Region, ResourceId)> {
    let aws = Aws::connect(
        connection.aws_profile.as_ref(),
        connection.signing_region().as_ref(),
    )?;
    let lookup = aws.find_by_endpoint(&connection.host)?;
    for warning in &lookup.warnings {
        crate::report::warn_error(warning);
    }
    match lookup.resource {
        Some(resource) => Ok((aws.region.clone(), resource.resource_id)),
        None => Err(Error::failure(format!(
            "no RDS instance, cluster or proxy in {} has the endpoint {}",
            aws.region, connection.host
        ))
        .hint("give --resource-id, or check the connection's host and region")),
    }
}
