//! `rds generate-db-auth-token ...`: the AWS CLI's own arguments, answered from the cache, so
//! tools that shell out to `aws` get caching by pointing at this binary. Argument errors keep
//! the AWS CLI v2's wording and exit code (252) for scripts that match on them.

use crate::config::{Config, Engine, Overrides};
use crate::error::Result;
use crate::values::{AwsProfile, DbUser, Host, Port, Region};
use crate::{commands, issuer};
use std::path::PathBuf;
use std::str::FromStr;

/// The AWS CLI's exit code for a parameter validation error.
const AWS_PARAM_ERROR: i32 = 252;
/// The AWS CLI's exit code when the named profile is not in its files.
const AWS_PROFILE_NOT_FOUND: i32 = 255;

/// AWS CLI global options that take a value and do not change the token.
const GLOBAL_WITH_VALUE: &[&str] = &[
    "--endpoint-url",
    "--ca-bundle",
    "--cli-read-timeout",
    "--cli-connect-timeout",
    "--color",
    "--query",
    "--output",
];
/// AWS CLI global switches that do not change the token.
const GLOBAL_SWITCHES: &[&str] = &[
    "--no-verify-ssl",
    "--no-cli-pager",
    "--debug",
    "--no-paginate",
    "--no-sign-request",
    "--cli-auto-prompt",
    "--no-cli-auto-prompt",
];

#[derive(Default)]
struct Request {
    hostname: Option<String>,
    port: Option<String>,
    username: Option<String>,
    region: Option<String>,
    profile: Option<String>,
}

fn param_error(message: &str) -> i32 {
    eprintln!("\naws: [ERROR]: An error occurred (ParamValidation): {message}\n");
    AWS_PARAM_ERROR
}

/// The drop-in's own help: what it serves, and how it differs from the AWS CLI's.
const HELP: &str = "\
rdsiam-helper rds generate-db-auth-token: the AWS CLI's command, served from rdsiam-helper's cache

Usage: rdsiam-helper rds generate-db-auth-token --hostname HOST --port PORT --username USER
                                                [--region REGION] [--profile PROFILE]

Prints the same token as `aws rds generate-db-auth-token`, cached: tools that shell out to `aws`
get a token in about a millisecond when pointed at a wrapper that runs this.

Options:
  --hostname HOST      the database endpoint the token is signed for
  --port PORT          its port
  --username USER      the database user
  --region REGION      the region (default: AWS_REGION, else the profile's; never the host name)
  --profile PROFILE    the AWS CLI profile (default: the AWS default credential chain)
  -h, --help           this help

The AWS CLI's global options that do not change the token (--output, --query, --debug, ...)
are accepted and ignored. Argument errors keep the AWS CLI's wording and exit code (252).
";

pub fn run(args: &[String]) -> Result<i32> {
    let asks_help = args.first().is_some_and(|a| a == "help")
        || args.iter().any(|a| matches!(a.as_str(), "--help" | "-h"));
    if asks_help {
        commands::print(HELP)?;
        return Ok(0);
    }
    let request = match parse(args) {
        Ok(request) => request,
        Err(message) => return Ok(param_error(&message)),
    };
    let missing: Vec<&str> = [
        ("--hostname", &request.hostname),
        ("--port", &request.port),
        ("--username", &request.username),
    ]
    .iter()
    .filter(|(_, v)| v.is_none())
    .map(|(flag, _)| *flag)
    .collect();
    if !missing.is_empty() {
        return Ok(param_error(&format!(
            "the following arguments are required: {}",
            missing.join(", ")
        )));
    }
    let overrides = match overrides(&request) {
        Ok(overrides) => overrides,
        Err(message) => return Ok(param_error(&message)),
    };
    // The AWS CLI knows nothing of our config: no [defaults], no profile of ours.
    let mut connection = Config::empty(PathBuf::new()).resolve(None, &overrides)?;
    // Its credentials: --profile, else its default chain.
    connection.aws_profile = match request.profile.as_deref().map(str::parse).transpose() {
        Ok(profile) => profile,
        Err(problem) => return Ok(param_error(&format!("--profile: {problem}"))),
    };
    // Its region: --region, else AWS_REGION / the profile's; it never reads the host name.
    connection.region_from_host = false;
    let entry = match issuer::issue(&connection, true) {
        Ok(entry) => entry,
        // Only after a failure: a cached token was signed with a profile that existed.
        Err(err) => return missing_profile(request.profile.as_deref()).ok_or(err),
    };
    commands::print_token(&entry.token)?;
    Ok(0)
}

/// The request's values, each checked by its type; an error names the argument as the AWS CLI does.
fn overrides(request: &Request) -> Result<Overrides, String> {
    fn value<T: FromStr<Err = crate::values::ValueError>>(
        flag: &str,
        text: &Option<String>,
    ) -> Result<Option<T>, String> {
        text.as_deref()
            .map(|t| t.parse::<T>())
            .transpose()
            .map_err(|e| format!("argument {flag}: {e}"))
    }
    let port_text = request.port.as_deref().unwrap_or_default();
    let port = match port_text.parse::<u16>() {
        Ok(_) => value::<Port>("--port", &request.port)?,
        Err(_) => return Err(format!("argument --port: invalid int value: '{port_text}'")),
    };
    Ok(Overrides {
        host: value::<Host>("--hostname", &request.hostname)?,
        port,
        user: value::<DbUser>("--username", &request.username)?,
        region: value::<Region>("--region", &request.region)?,
        aws_profile: value::<AwsProfile>("--profile", &request.profile)?,
        // `rds generate-db-auth-token` signs an RDS token whatever the host's name.
        engine: Some(Engine::Postgres),
    })
}

/// The AWS CLI's answer when `--profile` names no profile in its files, read the way
/// aws-config reads them (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, `~`).
fn missing_profile(profile: Option<&str>) -> Option<i32> {
    let profile = profile?;
    let runtime = tokio::runtime::Builder::new_current_thread().build().ok()?;
    let files = runtime.block_on(crate::aws_profiles::load(None)).ok()?;
    if files.get_profile(profile).is_some() {
        return None;
    }
    eprintln!("\nThe config profile ({profile}) could not be found");
    Some(AWS_PROFILE_NOT_FOUND)
}

fn parse(args: &[String]) -> Result<Request, String> {
    let mut args = args.iter();
    match args.next().map(String::as_str) {
        Some("generate-db-auth-token") => {}
        Some(other) => {
            return Err(format!(
                "argument operation: Found invalid choice '{other}'"
            ));
        }
        None => return Err("the following arguments are required: operation".to_string()),
    }
    let mut request = Request::default();
    let mut unknown = Vec::new();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_string())),
            _ => (arg.as_str(), None),
        };
        let slot = match flag {
            "--hostname" => &mut request.hostname,
            "--port" => &mut request.port,
            "--username" => &mut request.username,
            "--region" => &mut request.region,
            "--profile" => &mut request.profile,
            _ if GLOBAL_WITH_VALUE.contains(&flag) => {
                if inline.is_none() && args.next().is_none() {
                    return Err(format!("argument {flag}: expected one argument"));
                }
                continue;
            }
            _ if GLOBAL_SWITCHES.contains(&flag) && inline.is_none() => continue,
            _ => {
                unknown.push(arg.clone());
                continue;
            }
        };
        let value = match inline {
            Some(value) => value,
            None => args
                .next()
                .cloned()
                .ok_or_else(|| format!("argument {flag}: expected one argument"))?,
        };
        *slot = Some(value);
    }
    if !unknown.is_empty() {
        return Err(format!("Unknown options: {}", unknown.join(",")));
    }
    Ok(request)
}
