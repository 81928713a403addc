//! The ARNs an IAM policy names a database by, for `policy` and `doctor`'s simulation.

/// `arn:PARTITION:dsql:REGION:ACCOUNT:cluster/CLUSTER_ID`.
pub fn dsql_cluster_arn(region: &str, account: &str, cluster_id: &str) -> String {
    format!(
        "arn:{}:dsql:{region}:{account}:cluster/{cluster_id}",
        partition(region)
    )
}

/// `arn:PARTITION:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER`.
pub fn dbuser_arn(region: &str, account: &str, resource_id: &str, user: &str) -> String {
    format!(
        "arn:{}:rds-db:{region}:{account}:dbuser:{resource_id}/{user}",
        partition(region)
    )
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
