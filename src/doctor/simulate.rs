//! May the caller `rds-db:connect` as the user? Asked of IAM's policy simulator for the
//! caller's role (an Identity Center session's assumed role maps back to its role), with the
//! `aws:PrincipalTag/username` context the guide's ABAC policy reads.

use super::{Check, Status};
use crate::aws_api::{Aws, Caller, Resource};
use crate::commands::policy;
use crate::config::Connection;
use crate::credentials;
use crate::values::DbUser;

/// The Identity Center attribute the guide maps from `${path:userName}`.
const TAG_KEY: &str = "username";

pub fn check(aws: &Aws, caller: &Caller, resource: &Resource, connection: &Connection) -> Check {
    let user = match &connection.user {
        DbUser::Named(name) => name.clone(),
        DbUser::SessionName => match credentials::session_name(&caller.arn) {
            Some(name) => name.to_string(),
            None => {
                return Check::skip(
                    "iam_policy",
                    "the caller has no session name for `{session_name}`",
                );
            }
        },
    };
    let principal = if caller.arn.contains(":assumed-role/") {
        match aws.role_arn(caller) {
            Some(role) => role,
            None => {
                return Check::skip(
                    "iam_policy",
                    format!("cannot tell the role of {}", caller.arn),
                );
            }
        }
    } else {
        caller.arn.clone()
    };
    let arn = policy::dbuser_arn(&aws.region, &caller.account, &resource.resource_id, &user);
    let decision = match aws.simulate_connect(&principal, &arn, TAG_KEY, &user) {
        Ok(decision) => decision,
        Err(err) => {
            let mut check = Check::from_error("iam_policy", Status::Warn, err);
            check.fix.push("the simulation needs iam:SimulatePrincipalPolicy (and iam:GetRole); ask an administrator to run `doctor`, or check the policy by hand".to_string());
            return check;
        }
    };
    let deciding = if decision.statements.is_empty() {
        String::new()
    } else {
        format!(" by {}", decision.statements.join(", "))
    };
    let policy_fix = format!(
        "attach the policy from `rdsiam-helper policy {} --account {}` to the permission set (or role) {principal}",
        connection.name().map_or("NAME", |name| name.as_str()),
        caller.account
    );
    match decision.decision.as_str() {
        "allowed" => Check::ok(
            "iam_policy",
            format!("{principal} may rds-db:connect to {arn}: allowed{deciding}"),
        ),
        "explicitDeny" => Check::fail(
            "iam_policy",
            format!("{principal} may not rds-db:connect to {arn}: explicitly denied{deciding}"),
        )
        .fix("remove or narrow the Deny statement named above"),
        _ => {
            let mut check = Check::fail(
                "iam_policy",
                format!("{principal} may not rds-db:connect to {arn}: no statement allows it (the permission set lacks it)"),
            )
            .fix(policy_fix);
            if !decision.missing_context.is_empty() {
                check = check.fix(format!(
                    "the policy reads context keys the simulation lacked: {}",
                    decision.missing_context.join(", ")
                ));
            }
            check
        }
    }
}
