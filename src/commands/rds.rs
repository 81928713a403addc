//! `rds generate-db-auth-token ...`: the AWS CLI's own arguments, answered from the cache, so
//! tools that shell out to `aws` get caching by pointing at this binary. Argument errors keep
//! the AWS CLI v2's wording and exit code (252) for scripts that match on them.

use crate::config::{Config, Overrides};
use crate::error::Result;
use crate::{commands, issuer};
use std::path::PathBuf;

/// The AWS CLI's exit code for a parameter validation error.
const AWS_PARAM_ERROR: i32 = 252;

struct Request {
    hostname: Option<String>,
    port: Option<String>,
    username: Option<String>,
    region: Option<String>,
    profile: Option<String>,
}

pub fn run(args: &[String]) -> Result<i32> {
    let request = match parse(args) {
        Ok(request) => request,
        Err(message) => {
            eprintln!("\naws: [ERROR]: An error occurred (ParamValidation): {message}\n");
            return Ok(AWS_PARAM_ERROR);
        }
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
        eprintln!(
            "\naws: [ERROR]: An error occurred (ParamValidation): the following arguments are required: {}\n",
            missing.join(", ")
        );
        return Ok(AWS_PARAM_ERROR);
    }
    let port_text = request.port.unwrap_or_default();
    let port = match port_text.parse::<u16>() {
        Ok(port) if port > 0 => port,
        _ => {
            eprintln!(
                "\naws: [ERROR]: An error occurred (ParamValidation): argument --port: invalid int value: '{port_text}'\n"
            );
            return Ok(AWS_PARAM_ERROR);
        }
    };
    let overrides = Overrides {
        host: request.hostname,
        port: Some(port),
        user: request.username,
        region: request.region,
        aws_profile: None,
        engine: None,
    };
    // The AWS CLI knows nothing of our config: no [defaults], no profile of ours.
    let mut connection = Config::empty(PathBuf::new()).resolve(None, &overrides)?;
    // Its credentials: --profile, else its default chain.
    connection.aws_profile = request.profile;
    // Its region: --region, else AWS_REGION / the profile's; it never reads the host name.
    connection.region_from_host = false;
    let entry = issuer::issue(&connection, true)?;
    commands::print(&format!("{}\n", entry.token.expose()))?;
    Ok(0)
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
    let mut request = Request {
        hostname: None,
        port: None,
        username: None,
        region: None,
        profile: None,
    };
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
            // Global AWS CLI options that change nothing here.
            "--output" | "--color" | "--cli-read-timeout" | "--cli-connect-timeout" => {
                if inline.is_none() {
                    args.next();
                }
                continue;
            }
            "--no-cli-pager" | "--debug" | "--no-paginate" | "--no-verify-ssl" => continue,
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
