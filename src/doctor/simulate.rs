//! May the caller connect? Asked of IAM's policy simulator for the caller's role (an Identity
//! Center session's assumed role maps back to its role): `rds-db:connect` as the user, with the
//! `aws:PrincipalTag/username` context the guide's ABAC policy reads, or for Aurora DSQL
//! `dsql:DbConnect` / `dsql:DbConnectAdmin` on the cluster.

use super::{Check, CheckId, Status};
use crate::aws_api::{Aws, Caller, Resource};
use crate::clients::HelperCommand;
use crate::config::Named;
use crate::credentials;
use crate::values::DbUser;

/// The Identity Center attribute the guide maps from `${path:userName}`.
const TAG_KEY: &str = "username";

/// `command` prints the `policy` command of a fix so that it runs as printed.
pub fn check(
    aws: &Aws,
    caller: &Caller,
    resource: &Resource,
    connection: Named<'_>,
    command: &HelperCommand,
) -> Check {
    let user = match &connection.user {
        DbUser::Named(name) => name.to_string(),
        DbUser::SessionName => match credentials::session_name(&caller.arn) {
            Some(name) => name.to_string(),
            None => {
                return Check::skip(
                    CheckId::IamPolicy,
                    "the caller has no session name for `{session_name}`",
                );
            }
        },
    };
    let arn = crate::arn::dbuser_arn(&aws.region, &caller.account, &resource.resource_id, &user);
    let asked = Asked {
        action: "rds-db:connect",
        resource: &arn,
        principal_tag: Some((TAG_KEY, &user)),
    };
    simulate(aws, caller, connection, &asked, command)
}

/// Aurora DSQL: the action follows the token (`admin` signs DbConnectAdmin), the resource is
/// the cluster; the database role is mapped to IAM inside the cluster, so no user is asked.
pub fn check_dsql(
    aws: &Aws,
    caller: &Caller,
    connection: Named<'_>,
    cluster_id: &str,
    command: &HelperCommand,
) -> Check {
    let action = format!("dsql:{}", connection.dsql_action().as_str());
    let arn = crate::arn::dsql_cluster_arn(&aws.region, &caller.account, cluster_id);
    let asked = Asked {
        action: &action,
        resource: &arn,
        principal_tag: None,
    };
    simulate(aws, caller, connection, &asked, command)
}

/// One question for the simulator.
struct Asked<'a> {
    action: &'a str,
    resource: &'a str,
    principal_tag: Option<(&'a str, &'a str)>,
}

fn simulate(
    aws: &Aws,
    caller: &Caller,
    connection: Named<'_>,
    asked: &Asked,
    command: &HelperCommand,
) -> Check {
    let principal = if caller.arn.contains(":assumed-role/") {
        match aws.role_arn(caller) {
            Some(role) => role,
            None => {
                return Check::skip(
                    CheckId::IamPolicy,
                    format!("cannot tell the role of {}", caller.arn),
                );
            }
        }
    } else {
        caller.arn.clone()
    };
    let (action, arn) = (asked.action, asked.resource);
    let decision = match aws.simulate_connect(&principal, action, arn, asked.principal_tag) {
        Ok(decision) => decision,
        Err(err) => {
            let mut check = Check::from_error(CheckId::IamPolicy, Status::Warn, err);
            check.fix.push("the simulation needs iam:SimulatePrincipalPolicy (and iam:GetRole); ask an administrator to run `doctor`, or check the policy by hand".to_string());
            return check;
        }
    };
    let deciding = if decision.statements.is_empty() {
        String::new()
    } else {
        format!(" by {}", decision.statements.join(", "))
    };
    let name = connection.name.as_str();
    let policy_fix = format!(
        "attach the policy from `{}` to the permission set (or role) {principal}",
        command.line(&["policy", name, "--account", &caller.account])
    );
    match decision.decision.as_str() {
        "allowed" => Check::ok(
            CheckId::IamPolicy,
            format!("{principal} may {action} to {arn}: allowed{deciding}"),
        ),
        "explicitDeny" => Check::fail(
            CheckId::IamPolicy,
            format!("{principal} may not {action} to {arn}: explicitly denied{deciding}"),
        )
        .fix("remove or narrow the Deny statement named above"),
        _ => {
            let mut check = Check::fail(
                CheckId::IamPolicy,
                format!("{principal} may not {action} to {arn}: no statement allows it (the permission set lacks it)"),
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
