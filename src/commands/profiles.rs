//! `profiles`: the AWS profiles the tool can use, what kind each is (SSO and its session,
//! keys, credential_process, assumed role), whether an SSO login has expired, and which
//! connections use it. Reads the AWS files and the SSO token cache; resolves no credentials.

use crate::aws_profiles;
use crate::clock;
use crate::commands::print;
use crate::config::Config;
use crate::error::{Error, Result};
use std::collections::BTreeMap;

pub fn run(config: &Config) -> Result<i32> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failure("cannot start the AWS client runtime").caused_by(e))?;
    let profiles = runtime.block_on(aws_profiles::load_all(
        "check ~/.aws/config and ~/.aws/credentials (or AWS_CONFIG_FILE)",
    ))?;
    let mut users: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (name, connection) in &config.connections {
        let profile = match &connection.aws_profile {
            Some(profile) => profile.to_string(),
            None => "(default chain)".to_string(),
        };
        users.entry(profile).or_default().push(name);
    }
    let mut names: Vec<&str> = profiles.profiles().collect();
    names.sort();
    let mut out = String::new();
    for name in &names {
        let Some(profile) = profiles.get_profile(name) else {
            continue;
        };
        let get = |key: &str| profile.get(key).map(str::to_string);
        let (kind, state) = if let Some(session) = get("sso_session") {
            let start_url = profiles
                .sso_session(&session)
                .and_then(|s| s.get("sso_start_url"))
                .map(str::to_string);
            (
                format!("sso (session {session})"),
                sso_state(start_url.as_deref()),
            )
        } else if let Some(start_url) = get("sso_start_url") {
            ("sso (legacy)".to_string(), sso_state(Some(&start_url)))
        } else if get("credential_process").is_some() {
            ("credential_process".to_string(), "-".to_string())
        } else if let Some(role) = get("role_arn") {
            (format!("assume role {role}"), "-".to_string())
        } else if get("aws_access_key_id").is_some() {
            ("access keys".to_string(), "no expiry".to_string())
        } else {
            ("settings only".to_string(), "-".to_string())
        };
        let used_by = users
            .remove(*name)
            .map(|c| c.join(", "))
            .unwrap_or_else(|| "-".to_string());
        out.push_str(&format!(
            "{name}\t{kind}\t{state}\tconnections: {used_by}\n"
        ));
    }
    for (profile, connections) in users {
        if profile != "(default chain)" {
            crate::report::warn(format_args!(
                "connection(s) {} use the AWS profile `{profile}`, which does not exist",
                connections.join(", ")
            ));
        } else {
            out.push_str(&format!(
                "(default chain)\t-\t-\tconnections: {}\n",
                connections.join(", ")
            ));
        }
    }
    if out.is_empty() {
        eprintln!("rdsiam-helper: no AWS profiles (configure one with `aws configure sso`)");
    }
    print(&out)?;
    Ok(0)
}

/// The SSO login for `start_url` from the AWS CLI's token cache: logged in until when, or
/// expired (and the command that renews it).
fn sso_state(start_url: Option<&str>) -> String {
    let Some(start_url) = start_url else {
        return "no sso_start_url".to_string();
    };
    let Some(home) = dirs::home_dir() else {
        return "unknown".to_string();
    };
    let Ok(entries) = std::fs::read_dir(home.join(".aws/sso/cache")) else {
        return "not logged in".to_string();
    };
    let latest = entries
        .flatten()
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .filter(|v| v["startUrl"] == start_url && v["accessToken"].is_string())
        .filter_map(|v| v["expiresAt"].as_str().and_then(clock::parse))
        .max();
    match latest {
        None => "not logged in".to_string(),
        Some(expiry) if expiry <= clock::now() => {
            format!("expired {}", clock::rfc3339(expiry))
        }
        Some(expiry) => format!("logged in until {}", clock::rfc3339(expiry)),
    }
}
