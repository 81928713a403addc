//! The instance, cluster or proxy behind the connection's host, and whether it has IAM
//! database authentication on.

use super::{Check, Status};
use crate::aws_api::{Aws, Resource, ResourceKind};
use crate::config::Connection;

pub fn lookup(aws: &Aws, connection: &Connection) -> (Check, Option<Resource>) {
    match aws.find_by_endpoint(&connection.host) {
        Ok(Some(resource)) => (
            Check::ok(
                "rds",
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
        Ok(None) => (
            Check::fail(
                "rds",
                format!(
                    "no instance, cluster or proxy in {} has the endpoint {}",
                    aws.region, connection.host
                ),
            )
            .fix("check `host` (the RDS endpoint, not a tunnel address) and the region; `rdsiam-helper connections discover` lists them"),
            None,
        ),
        Err(err) => (Check::from_error("rds", Status::Fail, err), None),
    }
}

pub fn iam_auth(resource: &Resource) -> Check {
    if resource.iam_auth {
        return Check::ok(
            "iam_auth",
            format!(
                "IAM database authentication is on for {} `{}`",
                resource.kind_name(),
                resource.id
            ),
        );
    }
    let fix = match resource.kind {
        ResourceKind::Instance => format!(
            "aws rds modify-db-instance --db-instance-identifier {} --apply-immediately --enable-iam-database-authentication",
            resource.id
        ),
        ResourceKind::Cluster => format!(
            "aws rds modify-db-cluster --db-cluster-identifier {} --apply-immediately --enable-iam-database-authentication",
            resource.id
        ),
        ResourceKind::Proxy => format!(
            "aws rds modify-db-proxy --db-proxy-name {} --auth AuthScheme=SECRETS,SecretArn=SECRET_ARN,IAMAuth=REQUIRED",
            resource.id
        ),
    };
    Check::fail(
        "iam_auth",
        format!(
            "IAM database authentication is off for {} `{}`",
            resource.kind_name(),
            resource.id
        ),
    )
    .fix(fix)
}
