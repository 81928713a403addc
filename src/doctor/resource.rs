//! The instance, cluster or proxy behind the connection's host, and whether it has IAM
//! database authentication on.

use super::{Check, CheckId, Status};
use crate::aws_api::{Aws, Resource, ResourceKind};
use crate::config::Connection;

/// The `rds` check, with a warning for each listing the caller could not make that might have
/// found the host (e.g. no `rds:DescribeDBProxyEndpoints`).
pub fn lookup(aws: &Aws, connection: &Connection) -> (Vec<Check>, Option<Resource>) {
    let lookup = match aws.find_by_endpoint(&connection.host) {
        Ok(lookup) => lookup,
        Err(err) => {
            return (
                vec![Check::from_error(CheckId::Rds, Status::Fail, err)],
                None,
            );
        }
    };
    let mut checks: Vec<Check> = lookup
        .warnings
        .into_iter()
        .map(|warning| Check::from_error(CheckId::Rds, Status::Warn, warning))
        .collect();
    let (check, resource) = found(aws, connection, lookup.resource);
    checks.push(check);
    (checks, resource)
}

fn found(
    aws: &Aws,
    connection: &Connection,
    resource: Option<Resource>,
) -> (Check, Option<Resource>) {
    match resource {
        Some(resource) => (
            Check::ok(
                CheckId::Rds,
                format!(
                    "{} `{}` ({}, {}, resource id {})",
                    resource.kind_name(),
                    resource.id,
                    resource.matched,
                    resource.engine,
                    resource.resource_id
                ),
            ),
            Some(resource),
        ),
        None => (
            Check::fail(
                CheckId::Rds,
                format!(
                    "no instance, cluster or proxy in {} has the endpoint {}",
                    aws.region, connection.host
                ),
            )
            .fix("check `host` (the RDS endpoint, not a tunnel address) and the region; `rdsiam-helper connections discover` lists them"),
            None,
        ),
    }
}

pub fn iam_auth(aws: &Aws, resource: &Resource) -> Check {
    if resource.iam_auth {
        return Check::ok(
            CheckId::IamAuth,
            format!(
                "IAM database authentication is on for {} `{}`",
                resource.kind_name(),
                resource.id
            ),
        );
    }
    let fix = match resource.kind {
        ResourceKind::Instance => aws.cli(&format!(
            "rds modify-db-instance --db-instance-identifier {} --apply-immediately --enable-iam-database-authentication",
            resource.id
        )),
        ResourceKind::Cluster => aws.cli(&format!(
            "rds modify-db-cluster --db-cluster-identifier {} --apply-immediately --enable-iam-database-authentication",
            resource.id
        )),
        ResourceKind::Proxy => aws.cli(&format!(
            "rds modify-db-proxy --db-proxy-name {} --auth AuthScheme=SECRETS,SecretArn=SECRET_ARN,IAMAuth=REQUIRED",
            resource.id
        )),
    };
    Check::fail(
        CheckId::IamAuth,
        format!(
            "IAM database authentication is off for {} `{}`",
            resource.kind_name(),
            resource.id
        ),
    )
    .fix(fix)
}
