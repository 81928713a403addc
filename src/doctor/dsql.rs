//! Aurora DSQL: the cluster behind the host exists and takes connections (GetCluster), and the
//! token lifetime against the hour a DSQL session lasts.

use super::{Check, CheckId, Status};
use crate::aws_api::{Aws, DsqlLookup, DsqlStatus};
use crate::config::{Connection, Engine, Named};
use std::time::Duration;

/// DSQL ends every session after an hour, whatever the token that opened it says.
pub const SESSION_LIMIT: Duration = Duration::from_secs(3600);

/// The cluster id, or the check that says why there is none to ask about.
pub fn cluster_id(connection: &Connection) -> Result<String, Check> {
    crate::values::dsql_cluster_id(&connection.host).ok_or_else(|| {
        Check::skip(
            CheckId::Dsql,
            format!(
                "{} is not CLUSTER_ID.dsql.REGION.on.aws, so the cluster is not known",
                connection.host
            ),
        )
    })
}

pub fn cluster(aws: &Aws, id: &str) -> Check {
    let region = &aws.region;
    let list = format!(
        "`{}` lists the clusters there",
        aws.cli("dsql list-clusters")
    );
    let cluster = match aws.dsql_cluster(id) {
        Ok(DsqlLookup::Found(cluster)) => cluster,
        Ok(DsqlLookup::NotFound) => {
            return Check::fail(
                CheckId::Dsql,
                format!("no Aurora DSQL cluster `{id}` in {region}"),
            )
            .fix(format!(
                "check `host` (CLUSTER_ID.dsql.REGION.on.aws) and the region; {list}"
            ));
        }
        Ok(DsqlLookup::Denied(err)) => {
            return Check::from_error(CheckId::Dsql, Status::Warn, err).fix(format!(
                "the cluster check needs dsql:GetCluster on arn:aws:dsql:{region}:ACCOUNT:cluster/{id}; connecting does not, so this says nothing about the connection"
            ));
        }
        Err(err) => return Check::from_error(CheckId::Dsql, Status::Fail, err),
    };
    let Some(status) = cluster.status else {
        return Check::warn(CheckId::Dsql, format!("cluster `{id}` has no status"));
    };
    let seen = format!("cluster `{id}` in {region} is {}", status.as_str());
    let wait = aws.cli(&format!("dsql wait cluster-active --identifier {id}"));
    let elsewhere = format!("point `host` at another cluster; {list}");
    match status {
        DsqlStatus::Active => Check::ok(CheckId::Dsql, seen),
        DsqlStatus::Idle | DsqlStatus::Inactive => Check::warn(
            CheckId::Dsql,
            format!("{seen}: scaled down for want of connections; a connection wakes it, and the first one is slow (longer from INACTIVE)"),
        )
        .fix("nothing to change: connect as usual, with a connect timeout that allows the wake-up"),
        DsqlStatus::Creating | DsqlStatus::Updating => Check::warn(
            CheckId::Dsql,
            format!("{seen}: connections may fail until it is ACTIVE"),
        )
        .fix(wait),
        DsqlStatus::PendingSetup => Check::fail(
            CheckId::Dsql,
            format!("{seen}: a multi-Region cluster waits for its peer, and takes no connections until peered"),
        )
        .fix(format!("create the peer cluster in the other Region and peer the two (Aurora DSQL guide, multi-Region clusters), then `{wait}`")),
        DsqlStatus::PendingDelete | DsqlStatus::Deleting | DsqlStatus::Deleted => {
            Check::fail(CheckId::Dsql, format!("{seen}: it is being deleted")).fix(elsewhere)
        }
        DsqlStatus::Failed => Check::fail(
            CheckId::Dsql,
            format!("{seen}: Aurora DSQL could not create it"),
        )
        .fix(format!("create a new cluster (`{}`) and point `host` at it", aws.cli("dsql create-cluster"))),
        DsqlStatus::Other(_) => Check::warn(
            CheckId::Dsql,
            format!("{seen}, a status this version does not know; connections work only when it is ACTIVE"),
        )
        .fix(wait),
    }
}

/// The token lifetime against the session limit: pure, from the connection alone. `None` for
/// RDS, whose tokens always live 15 minutes.
pub fn lifetime(connection: Named<'_>) -> Option<Check> {
    if connection.engine != Engine::Dsql {
        return None;
    }
    let lifetime = humantime::format_duration(connection.token_lifetime);
    let limit = humantime::format_duration(SESSION_LIMIT);
    let reconnect = format!(
        "DSQL ends every session after {limit} whatever the token says: clients reconnect (pools: a maximum connection lifetime under {limit})"
    );
    if connection.token_lifetime <= SESSION_LIMIT {
        return Some(Check::ok(
            CheckId::Lifetime,
            format!("tokens live {lifetime}; {reconnect}"),
        ));
    }
    Some(
        Check::warn(
            CheckId::Lifetime,
            format!(
                "tokens live {lifetime}, longer than the {limit} a DSQL session lasts: no session stays open longer for it, and a leaked token is usable for longer"
            ),
        )
        .fix(format!(
            "lower `token_lifetime` for `{}` to {limit} or less (the default is {})",
            connection.name,
            humantime::format_duration(crate::config::DEFAULT_TOKEN_LIFETIME)
        ))
        .fix(reconnect),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::PathBuf;

    fn connection(extra: &str) -> Config {
        let text = format!(
            "[connections.c]\nhost = \"abc.dsql.us-east-1.on.aws\"\nuser = \"admin\"\n{extra}"
        );
        Config::parse(PathBuf::from("config.toml"), &text).unwrap()
    }

    #[test]
    fn lifetimes_over_the_session_hour_warn_and_others_pass() {
        for (extra, status) in [
            ("", Status::Ok),
            ("token_lifetime = \"900\"\n", Status::Ok),
            ("token_lifetime = \"1h\"\n", Status::Ok),
            ("token_lifetime = \"3601\"\n", Status::Warn),
            ("token_lifetime = \"7200\"\n", Status::Warn),
            ("token_lifetime = \"7d\"\n", Status::Warn),
        ] {
            let check = lifetime(connection(extra).named("c").unwrap()).unwrap();
            assert_eq!(check.status, status, "{extra}: {check:?}");
            let said = format!("{} {}", check.message, check.fix.join(" "));
            assert!(said.contains("after 1h"), "{said}");
        }
        let long = lifetime(
            connection("token_lifetime = \"7200\"\n")
                .named("c")
                .unwrap(),
        )
        .unwrap();
        assert!(long.message.contains("tokens live 2h"), "{long:?}");
        assert!(long.fix[0].contains("lower `token_lifetime` for `c` to 1h or less"));
    }

    #[test]
    fn rds_connections_have_no_lifetime_check() {
        let text = "[connections.r]\nhost = \"db.abc.us-east-1.rds.amazonaws.com\"\nuser = \"u\"\n";
        let config = Config::parse(PathBuf::from("config.toml"), text).unwrap();
        assert!(lifetime(config.named("r").unwrap()).is_none());
    }
}
