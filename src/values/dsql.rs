//! The values only an Aurora DSQL connection takes: which token, and how long it lives.

use super::{Engine, Host, Region, ValueError, refuse, shown};
use std::str::FromStr;
use std::time::Duration;

/// What an Aurora DSQL token lets its bearer do: connect as a custom role, or as `admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsqlAction {
    /// `dsql:DbConnect`: any role but `admin`.
    DbConnect,
    /// `dsql:DbConnectAdmin`: the `admin` role.
    DbConnectAdmin,
}

impl DsqlAction {
    /// The `Action` the token is signed for, and the IAM action's name after `dsql:`.
    pub fn as_str(self) -> &'static str {
        match self {
            DsqlAction::DbConnect => "DbConnect",
            DsqlAction::DbConnectAdmin => "DbConnectAdmin",
        }
    }

    /// As the config file writes it.
    pub fn keyword(self) -> &'static str {
        match self {
            DsqlAction::DbConnect => "connect",
            DsqlAction::DbConnectAdmin => "admin",
        }
    }

    /// `admin` signs DbConnectAdmin, as AWS's DSQL connectors do; every other role DbConnect.
    pub fn for_user(user: &str) -> DsqlAction {
        match user {
            DSQL_ADMIN => DsqlAction::DbConnectAdmin,
            _ => DsqlAction::DbConnect,
        }
    }
}

/// Written as the config file writes it, so that it reads back through `FromStr` (a resolved
/// connection can be kept in the cache).
impl serde::Serialize for DsqlAction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.keyword())
    }
}

/// The one role of an Aurora DSQL cluster that needs `dsql:DbConnectAdmin`.
pub const DSQL_ADMIN: &str = "admin";

impl FromStr for DsqlAction {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<DsqlAction, ValueError> {
        match text.to_ascii_lowercase().as_str() {
            "connect" | "dbconnect" => Ok(DsqlAction::DbConnect),
            "admin" | "dbconnectadmin" => Ok(DsqlAction::DbConnectAdmin),
            _ => refuse(format!(
                "unknown DSQL action `{}` (connect for DbConnect, admin for DbConnectAdmin)",
                shown(text)
            )),
        }
    }
}

/// The cluster id in an Aurora DSQL endpoint, `CLUSTER_ID.dsql.REGION.on.aws`, lower-cased:
/// what GetCluster, IAM's `cluster/ID` resource and the policy name.
pub fn dsql_cluster_id(host: &str) -> Option<String> {
    super::Region::of_dsql_endpoint(host)?;
    host.split('.').next().map(str::to_ascii_lowercase)
}

/// The longest an Aurora DSQL token may be signed for: a week.
pub const MAX_DSQL_TOKEN_LIFETIME: Duration = Duration::from_secs(604_800);

/// How long a DSQL token is signed for (`X-Amz-Expires`): whole seconds, 1 s to a week.
/// The text is kept as given, for the file it is written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenLifetime(Duration, String);

impl TokenLifetime {
    pub fn get(&self) -> Duration {
        self.0
    }

    pub fn as_str(&self) -> &str {
        &self.1
    }
}

impl FromStr for TokenLifetime {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<TokenLifetime, ValueError> {
        if text.is_empty() {
            return refuse("the token lifetime is empty; give one like 15m or 1h");
        }
        let parsed = match text.bytes().all(|b| b.is_ascii_digit()) {
            true => text
                .parse()
                .map(Duration::from_secs)
                .map_err(|e| e.to_string()),
            false => humantime::parse_duration(text).map_err(|e| e.to_string()),
        };
        let duration = match parsed {
            Ok(duration) => duration,
            Err(err) => {
                return refuse(format!(
                    "`{}` is not a duration like 15m, 1h or 3600 ({err})",
                    shown(text)
                ));
            }
        };
        if duration.subsec_nanos() != 0 || duration.is_zero() {
            return refuse(format!(
                "`{text}` is not a whole number of seconds above zero"
            ));
        }
        if duration > MAX_DSQL_TOKEN_LIFETIME {
            return refuse(format!(
                "`{text}` is longer than the week (604800 s) Aurora DSQL accepts"
            ));
        }
        Ok(TokenLifetime(duration, text.to_string()))
    }
}

impl Host {
    /// The endpoint to sign for. For DSQL a bare cluster id (no dot) expands with the region to
    /// `CLUSTER_ID.dsql.REGION.on.aws`, as AWS's DSQL connectors do.
    pub fn expand_dsql(&self, engine: Engine, region: Option<&Region>) -> Result<Host, ValueError> {
        let bare = engine == Engine::Dsql && !self.contains(['.', '[', ':']);
        if !bare {
            return Ok(self.clone());
        }
        if !self.chars().all(|c| c.is_ascii_alphanumeric()) {
            return refuse(format!(
                "`{}` is neither a DSQL endpoint (CLUSTER_ID.dsql.REGION.on.aws) nor a cluster id (letters and digits)",
                shown(self)
            ));
        }
        match region {
            Some(region) => format!("{}.dsql.{region}.on.aws", self.to_ascii_lowercase()).parse(),
            None => refuse(format!(
                "`{self}` is a bare DSQL cluster id, and no region is set to expand it with; give the full endpoint CLUSTER_ID.dsql.REGION.on.aws, or a region"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsql_actions_read_back_as_written() {
        for action in [DsqlAction::DbConnect, DsqlAction::DbConnectAdmin] {
            let json = serde_json::to_string(&action).unwrap();
            assert_eq!(serde_json::from_str::<DsqlAction>(&json).unwrap(), action);
        }
    }

    #[test]
    fn cluster_ids_come_from_dsql_endpoints_only() {
        for (host, want) in [
            ("abc123.dsql.us-east-1.on.aws", Some("abc123")),
            ("ABC123.DSQL.EU-WEST-1.ON.AWS.", Some("abc123")),
            ("x.y.dsql.us-east-1.on.aws", None),
            ("db.abc.us-east-1.rds.amazonaws.com", None),
            ("localhost", None),
        ] {
            assert_eq!(dsql_cluster_id(host).as_deref(), want, "{host}");
        }
    }

    #[test]
    fn token_lifetimes_are_whole_seconds_up_to_a_week() {
        for (text, secs) in [("900", 900), ("1h", 3600), ("7days", 604_800), ("1s", 1)] {
            assert_eq!(text.parse::<TokenLifetime>().unwrap().get().as_secs(), secs);
        }
        for bad in ["", "0", "0s", "1.5s", "604801", "8d", "soon", "-5"] {
            assert!(bad.parse::<TokenLifetime>().is_err(), "{bad}");
        }
    }
}
