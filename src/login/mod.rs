//! Signing in to IAM Identity Center ourselves, as `aws sso login` does, so a GUI's password
//! command is not a dead end when the session expires. The result goes into the AWS CLI's own
//! SSO token cache: `aws`, every SDK and this tool then share one session.

mod browser;
mod oidc;
mod sso_cache;

use crate::config::Connection;
use crate::error::{Error, Kind, Result};
use crate::issuer::{self, Issued};
use crate::values::SsoLogin;
use crate::{clock, report};
use std::time::{Duration, Instant, SystemTime};

/// Seconds a sign-in may take; tests and slow approvers set it.
pub const TIMEOUT_VARIABLE: &str = "RDSIAM_HELPER_LOGIN_TIMEOUT";
/// `login` waits as long as a device code lives.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(600);
/// A GUI gives its password command 60 s (pgAdmin; DBeaver's default): the token must be
/// printed before that, retry included.
const GUI_TIMEOUT: Duration = Duration::from_secs(50);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    AuthorizationCode,
    DeviceCode,
}

impl Grant {
    fn as_str(self) -> &'static str {
        match self {
            Grant::AuthorizationCode => "authorization_code",
            Grant::DeviceCode => "device_code",
        }
    }
}

/// What to sign in to: an `sso-session`, or a legacy profile's start URL.
pub struct Target {
    profile: Option<String>,
    session: Option<String>,
    start_url: String,
    region: String,
    scopes: Vec<String>,
}

impl Target {
    /// The token cache's identifier: the session name, else the start URL (as aws-config reads).
    fn id(&self) -> &str {
        self.session.as_deref().unwrap_or(&self.start_url)
    }

    fn describe(&self) -> String {
        match (&self.profile, &self.session) {
            (Some(profile), Some(session)) => {
                format!("AWS profile `{profile}` (sso-session `{session}`)")
            }
            (Some(profile), None) => format!("AWS profile `{profile}`"),
            (None, Some(session)) => format!("sso-session `{session}`"),
            (None, None) => format!("start URL {}", self.start_url),
        }
    }

    fn login_command(&self) -> String {
        match (&self.profile, &self.session) {
            (Some(profile), _) => format!("rdsiam-helper login --aws-profile {profile}"),
            (None, Some(session)) => format!("rdsiam-helper login --sso-session {session}"),
            (None, None) => "rdsiam-helper login".to_string(),
        }
    }
}

/// `login`'s request, from the command line.
pub struct Request<'a> {
    pub profile: Option<&'a str>,
    pub session: Option<&'a str>,
    pub grant: Grant,
    pub open_browser: bool,
}

/// `login`: signs in and writes the token cache. Another process's sign-in, finished while we
/// waited for the lock, counts as ours.
pub fn login(request: &Request) -> Result<()> {
    let runtime = runtime()?;
    let target = runtime.block_on(load_target(request.profile, request.session))?;
    let until = Instant::now() + timeout(COMMAND_TIMEOUT);
    sign_in(
        &runtime,
        &target,
        request.grant,
        request.open_browser,
        until,
        None,
    )
}

/// A token for `pg`/`mysql`/`token`: with `sso_login = "browser"`, an Identity Center session
/// that has expired (and could not be refreshed) is signed in again through the browser,
/// once, and the token is asked for once more. `refresh`, timers and `proxy` never come here.
pub fn issue_signing_in(connection: &Connection, use_cache: bool) -> Result<Issued> {
    let err = match issuer::issue(connection, use_cache) {
        Err(err) if err.kind == Kind::SsoSignIn => err,
        other => return other,
    };
    let (SsoLogin::Browser, Some(profile)) = (connection.sso_login, &connection.aws_profile) else {
        return Err(err);
    };
    // Only a file written from now on is another process's sign-in for the same failure.
    let failed_at = SystemTime::now() - Duration::from_secs(2);
    let runtime = runtime()?;
    let target = runtime.block_on(load_target(Some(profile), None))?;
    let until = Instant::now() + timeout(GUI_TIMEOUT).min(GUI_TIMEOUT);
    report::warn(format_args!(
        "the AWS IAM Identity Center session for {} has expired; signing in through the browser (sso_login = \"browser\")",
        target.describe()
    ));
    sign_in(
        &runtime,
        &target,
        Grant::AuthorizationCode,
        true,
        until,
        Some(failed_at),
    )?;
    drop(runtime);
    issuer::issue(connection, use_cache)
}

/// Under the sign-in lock: skips the sign-in when another process has just done it, else
/// registers (or reuses the registration), runs the grant, and writes the token cache.
fn sign_in(
    runtime: &tokio::runtime::Runtime,
    target: &Target,
    grant: Grant,
    open_browser: bool,
    until: Instant,
    fresh_since: Option<SystemTime>,
) -> Result<()> {
    let asked_at = SystemTime::now();
    let Some((_lock, waited)) = sso_cache::lock(target.id(), until)? else {
        return Err(timed_out(target).hint("another sign-in held the lock all that time"));
    };
    // `login` itself counts only a sign-in that finished while it waited for the lock.
    let since = fresh_since.or(waited.then_some(asked_at));
    if let Some(since) = since
        && sso_cache::has_fresh_token(target.id(), Duration::from_secs(60), since)
    {
        report::verbose(format_args!(
            "another process signed in to {} meanwhile",
            target.describe()
        ));
        return Ok(());
    }
    let token = runtime.block_on(async {
        let oidc = oidc::Oidc::connect(&target.region, target.profile.as_deref(), until).await?;
        let registration = oidc.registration(target, grant).await?;
        let token = match grant {
            Grant::AuthorizationCode => {
                oidc.authorization_code(target, &registration, open_browser, until)
                    .await?
            }
            Grant::DeviceCode => {
                oidc.device_code(target, &registration, open_browser, until)
                    .await?
            }
        };
        Ok::<_, Error>((token, registration))
    })?;
    let (token, registration) = token;
    let file = sso_cache::TokenFile {
        start_url: target.start_url.clone(),
        region: target.region.clone(),
        access_token: token.access_token,
        expires_at: clock::rfc3339(token.expires_at),
        client_id: Some(registration.client_id),
        client_secret: Some(registration.client_secret),
        registration_expires_at: Some(registration.expires_at),
        refresh_token: token.refresh_token,
    };
    let path = sso_cache::write_token(target.id(), &file)?;
    eprintln!(
        "rdsiam-helper: signed in to AWS IAM Identity Center for {}; the session lasts until {} ({})",
        target.describe(),
        file.expires_at,
        path.display()
    );
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failure("cannot start the AWS client runtime").caused_by(e))
}

/// The wait: `RDSIAM_HELPER_LOGIN_TIMEOUT` seconds if set, else `default`.
fn timeout(default: Duration) -> Duration {
    std::env::var(TIMEOUT_VARIABLE)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map_or(default, Duration::from_secs)
}

fn denied(target: &Target, reason: &str) -> Error {
    Error::credentials(format!(
        "the sign-in to AWS IAM Identity Center for {} was denied ({reason})",
        target.describe()
    ))
    .hint(format!(
        "run `{}` and approve the request in the browser",
        target.login_command()
    ))
}

fn timed_out(target: &Target) -> Error {
    Error::credentials(format!(
        "the sign-in to AWS IAM Identity Center for {} was not completed in time",
        target.describe()
    ))
    .hint(format!(
        "run `{}` and approve the request in the browser (set {TIMEOUT_VARIABLE}=SECONDS to wait longer)",
        target.login_command()
    ))
}

/// The session (or legacy profile) settings, read through aws-config's own profile parser.
async fn load_target(profile: Option<&str>, session: Option<&str>) -> Result<Target> {
    let files = crate::aws_profiles::load(None).await.map_err(|e| {
        Error::failure("cannot read the AWS config files")
            .caused_by(e)
            .hint("fix ~/.aws/config (or AWS_CONFIG_FILE)")
    })?;
    let (profile, session) = match (profile, session) {
        (Some(name), _) => {
            let section = files.get_profile(name).ok_or_else(|| {
                Error::usage(format!("the AWS profile `{name}` does not exist")).hint(format!(
                    "create it with `aws configure sso --profile {name}`"
                ))
            })?;
            if let Some(session) = section.get("sso_session") {
                (Some(name), session)
            } else {
                return legacy_target(name, section);
            }
        }
        (None, Some(session)) => (None, session),
        (None, None) => {
            return Err(Error::usage("no AWS profile or sso-session to sign in to")
                .hint("name a connection, or give --aws-profile or --sso-session"));
        }
    };
    let section = files.sso_session(session).ok_or_else(|| {
        Error::usage(format!(
            "the sso-session `{session}` is not in the AWS config"
        ))
        .hint("add it with `aws configure sso-session`")
    })?;
    let setting = |key: &str| {
        section.get(key).map(str::to_string).ok_or_else(|| {
            Error::usage(format!("the sso-session `{session}` has no `{key}`"))
                .hint("add it with `aws configure sso-session`")
        })
    };
    let scopes = match section.get("sso_registration_scopes") {
        Some(scopes) => scopes
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        // What the AWS CLI asks for when none are configured.
        None => vec!["sso:account:access".to_string()],
    };
    Ok(Target {
        profile: profile.map(str::to_string),
        session: Some(session.to_string()),
        start_url: setting("sso_start_url")?,
        region: setting("sso_region")?,
        scopes,
    })
}

fn legacy_target(name: &str, section: &aws_config::profile::Profile) -> Result<Target> {
    let (Some(start_url), Some(region)) = (section.get("sso_start_url"), section.get("sso_region"))
    else {
        return Err(Error::usage(format!(
            "the AWS profile `{name}` is not an IAM Identity Center profile (it has no sso_session, nor sso_start_url and sso_region)"
        ))
        .hint(format!("set it up with `aws configure sso --profile {name}`")));
    };
    Ok(Target {
        profile: Some(name.to_string()),
        session: None,
        start_url: start_url.to_string(),
        region: region.to_string(),
        scopes: Vec::new(),
    })
}
