//! `doctor --token`: a token read from stdin, decoded offline (host, port, user, region,
//! signing time, expiry, session token or not) and compared with the connection. The signature
//! and the session token are never printed.

use super::{Check, CheckId};
use crate::clients::HelperCommand;
use crate::clock;
use crate::config::{Connection, Engine, Named};
use crate::values::{DbUser, DsqlAction};
use percent_encoding::percent_decode_str;
use std::time::{Duration, SystemTime};

#[derive(Debug)]
pub struct Decoded {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub access_key_id: String,
    pub region: String,
    pub signed_at: SystemTime,
    pub expires_at: SystemTime,
    /// `X-Amz-Expires`: how long it was signed for.
    pub expires_in: Duration,
    pub session_token: bool,
    /// An Aurora DSQL token's action. Such a token names neither a port nor a user (the port
    /// and user above are then 0 and empty).
    pub dsql_action: Option<DsqlAction>,
}

pub fn decode(text: &str) -> Result<Decoded, String> {
    let text = text.trim();
    let text = text.strip_prefix("https://").unwrap_or(text);
    let (authority, query) = text
        .split_once("/?")
        .ok_or("not a token: no `/?` after host:port")?;
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|p| p.split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| percent_decode_str(v).decode_utf8_lossy().into_owned())
    };
    // DSQL signs the bare host and the action alone; RDS host:port and the user.
    let dsql_action = match param("Action").as_deref() {
        Some("connect") => None,
        Some("DbConnect") => Some(DsqlAction::DbConnect),
        Some("DbConnectAdmin") => Some(DsqlAction::DbConnectAdmin),
        _ => {
            return Err(
                "not an IAM token: no Action=connect (RDS) or DbConnect/DbConnectAdmin (Aurora DSQL)"
                    .to_string(),
            );
        }
    };
    let (host, port, user) = match dsql_action {
        Some(_) => (authority, 0, String::new()),
        None => {
            let (host, port) = authority
                .rsplit_once(':')
                .ok_or("not a token: no port after the host")?;
            let port: u16 = port
                .parse()
                .map_err(|_| "not a token: the port is not a number")?;
            (host, port, param("DBUser").ok_or("no DBUser")?)
        }
    };
    let credential = param("X-Amz-Credential").ok_or("no X-Amz-Credential")?;
    let mut scope = credential.split('/');
    let access_key_id = scope.next().unwrap_or_default().to_string();
    let _date = scope.next();
    let region = scope
        .next()
        .ok_or("X-Amz-Credential has no region")?
        .to_string();
    let date = param("X-Amz-Date").ok_or("no X-Amz-Date")?;
    let signed_at = chrono::NaiveDateTime::parse_from_str(&date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| "X-Amz-Date is not a date")?
        .and_utc();
    let expires: u64 = param("X-Amz-Expires")
        .and_then(|v| v.parse().ok())
        .ok_or("no X-Amz-Expires")?;
    let signed_at = SystemTime::from(signed_at);
    Ok(Decoded {
        host: host.to_string(),
        port,
        user,
        access_key_id,
        region,
        signed_at,
        expires_at: signed_at + Duration::from_secs(expires),
        expires_in: Duration::from_secs(expires),
        session_token: param("X-Amz-Security-Token").is_some(),
        dsql_action,
    })
}

pub fn describe(token: &Decoded) -> Vec<Check> {
    let signed_for = match token.dsql_action {
        Some(action) => format!("Aurora DSQL {} on {}", action.as_str(), token.host),
        None => format!("{}@{}:{}", token.user, token.host, token.port),
    };
    vec![Check::ok(
        CheckId::Token,
        format!(
            "signed for {signed_for} in {} by access key {} at {}, expires {}, {}",
            token.region,
            token.access_key_id,
            clock::rfc3339(token.signed_at),
            clock::rfc3339(token.expires_at),
            if token.session_token {
                "with a session token (temporary credentials)"
            } else {
                "without a session token (long-term keys)"
            }
        ),
    )]
}

/// What in the token contradicts the connection, or has run out.
/// `command` prints the `token` command of a fix so that it runs as printed.
pub fn compare(
    token: &Decoded,
    connection: Option<Named<'_>>,
    command: &HelperCommand,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let now = clock::now();
    let fresh = match connection {
        Some(c) => command.line(&["token", c.name]),
        None => command.line(&["token", "NAME"]),
    };
    checks.push(if token.expires_at <= now {
        Check::fail(
            CheckId::Expiry,
            format!("expired at {}", clock::rfc3339(token.expires_at)),
        )
        .fix(format!("get a fresh one: `{fresh}`"))
    } else if token.signed_at > now + Duration::from_secs(300) {
        Check::fail(
            CheckId::Expiry,
            "signed in the future: the signing clock is ahead",
        )
        .fix("check the clock of the machine that signed it")
    } else {
        Check::ok(
            CheckId::Expiry,
            format!("valid until {}", clock::rfc3339(token.expires_at)),
        )
    });
    checks.push(lifetime(token));
    let Some(c) = connection else {
        return checks;
    };
    let tunnel_signed = c
        .tunnel
        .is_some_and(|t| t.ip().to_string() == token.host.trim_matches(['[', ']']));
    checks.push(if tunnel_signed {
        Check::fail(CheckId::Host, format!("signed for the tunnel address {}, not the endpoint {}", token.host, c.host))
            .fix("sign for the RDS endpoint (`host`); clients connect to the tunnel, the token names the endpoint")
    } else if !token.host.eq_ignore_ascii_case(&c.host) {
        Check::fail(CheckId::Host, format!("signed for {}, the connection's endpoint is {}", token.host, c.host))
            .fix(format!("use a token for this connection: `{fresh}`"))
    } else {
        Check::ok(CheckId::Host, format!("{} matches", token.host))
    });
    if let Some(action) = token.dsql_action {
        checks.extend(compare_dsql(action, &c, &fresh));
    } else {
        checks.extend(compare_rds(token, &c));
    }
    if let Some(region) = c.signing_region() {
        checks.push(if token.region != *region {
            Check::fail(
                CheckId::Region,
                format!(
                    "signed for {}, the connection is in {region}: the server refuses it",
                    token.region
                ),
            )
            .fix(format!(
                "sign for {region} (`region` in the config, or --region)"
            ))
        } else {
            Check::ok(CheckId::Region, format!("{} matches", token.region))
        });
    }
    checks
}

/// The longest `X-Amz-Expires` the server takes: a week for Aurora DSQL, 900 s for RDS (a
/// longer one is refused at login, as aws-sdk-java#2617 found, not served for longer).
fn lifetime(token: &Decoded) -> Check {
    let (server, max) = match token.dsql_action {
        Some(_) => ("Aurora DSQL", crate::values::MAX_DSQL_TOKEN_LIFETIME),
        None => ("RDS", crate::values::TOKEN_LIFETIME),
    };
    let seconds = token.expires_in.as_secs();
    if token.expires_in > max {
        Check::fail(
            CheckId::Lifetime,
            format!(
                "signed for {seconds} s (X-Amz-Expires), over the {} s {server} accepts: the server refuses it",
                max.as_secs()
            ),
        )
        .fix(match token.dsql_action {
            Some(_) => "sign it for a week or less (`token_lifetime`, at most 1w); `rdsiam-helper token NAME` does",
            None => "sign it for 900 s, as `rdsiam-helper token NAME` and `aws rds generate-db-auth-token` do",
        })
    } else {
        Check::ok(
            CheckId::Lifetime,
            format!(
                "signed for {seconds} s, within the {} s {server} accepts",
                max.as_secs()
            ),
        )
    }
}

/// A DSQL token names the action, which the connection's user decides (or `dsql_action`).
fn compare_dsql(action: DsqlAction, c: &Connection, fresh: &str) -> Vec<Check> {
    if c.engine != Engine::Dsql {
        return vec![
            Check::fail(
                CheckId::Action,
                format!(
                    "an Aurora DSQL token ({}), for a {} connection",
                    action.as_str(),
                    c.engine.as_str()
                ),
            )
            .fix(format!("use a token for this connection: `{fresh}`")),
        ];
    }
    let wanted = c.dsql_action();
    vec![if action != wanted {
        Check::fail(
            CheckId::Action,
            format!(
                "signed for {}, the connection (user `{}`) signs {}: the cluster refuses it",
                action.as_str(),
                c.user,
                wanted.as_str()
            ),
        )
        .fix("admin needs DbConnectAdmin, every other role DbConnect (`dsql_action` overrides)")
    } else {
        Check::ok(CheckId::Action, format!("{} matches", action.as_str()))
    }]
}

fn compare_rds(token: &Decoded, c: &Connection) -> Vec<Check> {
    let mut checks = Vec::new();
    checks.push(if token.port != c.port.get() {
        Check::fail(
            CheckId::Port,
            format!(
                "signed for port {}, the connection's is {}",
                token.port, c.port
            ),
        )
    } else {
        Check::ok(CheckId::Port, format!("{} matches", token.port))
    });
    if let DbUser::Named(user) = &c.user {
        checks.push(if token.user != user.as_str() {
            Check::fail(
                CheckId::User,
                format!(
                    "signed for user `{}`, the connection's is `{}`",
                    token.user, c.user
                ),
            )
        } else {
            Check::ok(CheckId::User, format!("`{}` matches", token.user))
        });
    }
    checks
}
