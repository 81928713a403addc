//! The ARNs an IAM policy names a database by, for `policy` and `doctor`'s simulation.

use crate::values::{AccountId, Region, ResourceId};

/// `arn:PARTITION:dsql:REGION:ACCOUNT:cluster/CLUSTER_ID`.
pub fn dsql_cluster_arn(region: &Region, account: &AccountId, cluster_id: &str) -> String {
    format!(
        "arn:{}:dsql:{region}:{account}:cluster/{cluster_id}",
        partition(region)
    )
}

/// `arn:PARTITION:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER`.
///
/// `user` is IAM policy text: a literal (`iam_literal`) or a variable such as a principal tag.
pub fn dbuser_arn(
    region: &Region,
    account: &AccountId,
    resource_id: &ResourceId,
    user: &str,
) -> String {
    format!(
        "arn:{}:rds-db:{region}:{account}:dbuser:{resource_id}/{user}",
        partition(region)
    )
}

/// A literal user name as IAM reads it in a resource ARN: `*`, `?` and `$` are wildcards and
/// the start of a variable there, so each is written as IAM's escape (`${*}`, `${?}`, `${$}`).
pub fn iam_literal(user: &str) -> String {
    let mut out = String::with_capacity(user.len());
    for c in user.chars() {
        match c {
            '*' | '?' | '$' => {
                out.push_str("${");
                out.push(c);
                out.push('}');
            }
            _ => out.push(c),
        }
    }
    out
}

/// The partition a region belongs to.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn iam_wildcards_in_a_literal_user_are_escaped() {
        for (user, written) in [
            ("jane", "jane"),
            ("a*b", "a${*}b"),
            ("who?", "who${?}"),
            ("${aws:username}", "${$}{aws:username}"),
            ("$*?", "${$}${*}${?}"),
        ] {
            assert_eq!(super::iam_literal(user), written);
        }
    }
}
