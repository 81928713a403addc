//! `login`: sign in to IAM Identity Center for a connection's profile, a profile, or an
//! sso-session, leaving the token where `aws` and every SDK find it.

use crate::cli::LoginArgs;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::login::{self, Grant};

pub fn run(config: &Config, args: &LoginArgs) -> Result<i32> {
    let connection_profile = match &args.name {
        Some(name) => {
            let connection = config.get(name)?;
            let profile = connection.aws_profile.clone().ok_or_else(|| {
                Error::usage(format!("connection `{name}` names no AWS profile to sign in for"))
                    .hint("set `aws_profile` for it (or in [defaults]), or give --aws-profile or --sso-session")
            })?;
            Some(profile)
        }
        None => None,
    };
    let profile = connection_profile.or_else(|| args.aws_profile.clone());
    let session = args.sso_session.clone().map(String::from);
    login::login(&login::Request {
        profile: profile.as_deref(),
        session: session.as_deref(),
        grant: if args.use_device_code {
            Grant::DeviceCode
        } else {
            Grant::AuthorizationCode
        },
        open_browser: !args.no_browser,
    })?;
    Ok(0)
}
