//! aws-config glue for signing: credentials and the region for a connection, from the source
//! `aws_profiles::CredentialSource` decides. Runs only on a cache miss.

use crate::aws_profiles::{
    CredentialSource, ProfileKind, broken_profile_file, check_profile_files, profile_kind,
};
use crate::cache::{KeyRegion, Signer, SourceKey};
use crate::clock;
use crate::config::Connection;
use crate::config::SESSION_NAME_TEMPLATE;
use crate::error::{Error, Result};
use crate::report;
use crate::values::AwsProfile;
use aws_config::BehaviorVersion;
use aws_config::default_provider::region::DefaultRegionChain;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_sts::error::{ErrorMetadata, ProvideErrorMetadata, SdkError};
use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;
use aws_types::SdkConfig;
use aws_types::region::Region;
use std::time::SystemTime;

/// Who signs: the part of the cache key that tells credentials apart, from the same
/// `CredentialSource` that `resolve` signs with, so the two cannot disagree.
pub fn source_key(profile: Option<&str>) -> SourceKey {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let signer = match CredentialSource::of(profile) {
        CredentialSource::Profile(profile) => Signer::Profile(profile),
        CredentialSource::Environment { access_key_id } => Signer::AccessKey(access_key_id),
        CredentialSource::DefaultChain => {
            Signer::Profile(var("AWS_PROFILE").unwrap_or_else(|| "default".into()))
        }
    };
    // The same profile name in another set of files, or the non-profile sources the default
    // chain falls through to, are other identities.
    let mut settings = Vec::new();
    for name in ["AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"] {
        if let Some(value) = var(name) {
            settings.push((name, value));
        }
    }
    if profile.is_none() {
        for name in [
            "AWS_ROLE_ARN",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        ] {
            if let Some(value) = var(name) {
                settings.push((name, value));
            }
        }
    }
    SourceKey { signer, settings }
}

/// The region part of a cache key.
pub fn region_key(region: Option<&crate::values::Region>) -> KeyRegion {
    match region {
        Some(region) => KeyRegion::Given(region.clone()),
        None => {
            match std::env::var("AWS_REGION").or_else(|_| std::env::var("AWS_DEFAULT_REGION")) {
                Ok(region) if !region.is_empty() => KeyRegion::Environment(region),
                _ => KeyRegion::FromProfile,
            }
        }
    }
}

pub struct Resolved {
    pub credentials: Credentials,
    pub region: crate::values::Region,
    /// The calls beyond credentials (STS) need the same settings (endpoints, retries). Loaded
    /// already when the default chain supplied the credentials, else only once such a call is
    /// made: most misses make none.
    sdk_config: Option<SdkConfig>,
    runtime: tokio::runtime::Runtime,
    profile: Option<String>,
}

/// Credentials (and, when not given, the region) for `profile`, from aws-config's providers:
/// environment, shared files, credential_process, SSO / Identity Center, assume-role, web
/// identity, container and IMDS.
pub fn resolve(
    profile: Option<&AwsProfile>,
    region: Option<&crate::values::Region>,
) -> Result<Resolved> {
    let profile = profile.map(|p| p.as_str());
    check_profile_files()?;
    // A current-thread runtime: one request at a time is all we make, and it starts in
    // microseconds. It exists only on this (miss) path.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failure("cannot start the AWS client runtime").caused_by(e))?;
    let (sdk_config, credentials, region) = runtime.block_on(resolve_async(profile, region))?;
    Ok(Resolved {
        credentials,
        region,
        sdk_config,
        runtime,
        profile: profile.map(str::to_string),
    })
}

/// Where a profile's credentials come from, as far as the fix for them differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Sso,
    Process,
    Other,
}

impl Resolved {
    /// What kind of source the profile is (read only on the rare path that needs the fix).
    pub fn source(&self) -> Source {
        let Some(profile) = self.profile.as_deref() else {
            return Source::Other;
        };
        match self.runtime.block_on(profile_kind(profile)) {
            ProfileKind::Sso { .. } => Source::Sso,
            ProfileKind::Process => Source::Process,
            _ => Source::Other,
        }
    }

    /// The caller's ARN from STS GetCallerIdentity, signed with the credentials already
    /// resolved (no second SSO or credential_process round trip). The client is built from the
    /// loaded SdkConfig so AWS_ENDPOINT_URL_STS and the profile's endpoint settings apply.
    pub fn caller_arn(&self) -> Result<String> {
        let loaded = match &self.sdk_config {
            Some(config) => config.clone(),
            None => self
                .runtime
                .block_on(sdk_config(self.profile.as_deref(), &self.region)),
        };
        let config = loaded
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(self.credentials.clone()))
            .build();
        let client = aws_sdk_sts::Client::new(&config);
        let output = self
            .runtime
            .block_on(client.get_caller_identity().send())
            .map_err(|e| sts_error(&e, self.profile.as_deref()))?;
        output
            .arn()
            .map(str::to_string)
            .ok_or_else(|| Error::failure("AWS STS GetCallerIdentity returned no ARN"))
    }
}

/// The role session name (or IAM / federated user name) in a caller ARN:
/// `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION`, `arn:PARTITION:iam::ACCOUNT:user/PATH/NAME`,
/// `arn:PARTITION:sts::ACCOUNT:federated-user/NAME`. `None` for anything else (e.g. the root user).
pub fn session_name(arn: &str) -> Option<&str> {
    let mut fields = arn.splitn(6, ':');
    let (prefix, _partition, service, _region, _account, resource) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    if prefix != "arn" {
        return None;
    }
    let (kind, rest) = resource.split_once('/')?;
    let name = match (service, kind) {
        ("sts", "assumed-role") => rest.split_once('/')?.1,
        ("iam", "user") | ("sts", "federated-user") => rest.rsplit('/').next()?,
        _ => return None,
    };
    (!name.is_empty() && !name.contains('/')).then_some(name)
}

/// One line for a failed GetCallerIdentity: the service's error code, never the SDK's stack.
fn sts_error(err: &SdkError<GetCallerIdentityError>, profile: Option<&str>) -> Error {
    let what = format!("AWS STS GetCallerIdentity (for `{SESSION_NAME_TEMPLATE}`)");
    let fallback =
        format!("or set `user` to the database user instead of `{SESSION_NAME_TEMPLATE}`");
    match err {
        SdkError::ServiceError(service) => {
            let message = format!("{what} failed{}", sanitized_text(err));
            let refused = matches!(
                service.err().code(),
                Some("ExpiredToken" | "InvalidClientTokenId" | "SignatureDoesNotMatch")
            );
            match (refused, profile) {
                (true, Some(profile)) => Error::credentials(message).hint(format!(
                    "the AWS credentials were refused; renew them (for SSO, `aws sso login --profile {profile}`)"
                )),
                (true, None) => Error::credentials(message)
                    .hint("the AWS credentials were refused; renew them"),
                (false, _) => Error::failure(message).hint(fallback),
            }
        }
        SdkError::TimeoutError(_) => Error::failure(format!("{what} timed out")).hint(fallback),
        _ => Error::failure(format!("cannot reach {what}{}", sanitized_text(err)))
            .hint("check the network, a proxy, or AWS_ENDPOINT_URL_STS")
            .hint(fallback),
    }
}

async fn resolve_async(
    profile: Option<&str>,
    region: Option<&crate::values::Region>,
) -> Result<(Option<SdkConfig>, Credentials, crate::values::Region)> {
    let region = match region {
        Some(region) => region.clone(),
        None => profile_region(profile).await?,
    };
    let (provider, sdk_config) = match CredentialSource::of(profile) {
        // Its provider reads the profile files itself; a full SdkConfig would parse them again.
        CredentialSource::Profile(profile) => (profile_provider(&profile, &region), None),
        // What the default chain would take first, read directly, so a token from them builds
        // no HTTP client (or its trust store) it never uses.
        CredentialSource::Environment { .. } => (
            SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()),
            None,
        ),
        CredentialSource::DefaultChain => {
            let config = sdk_config(None, &region).await;
            let provider = config
                .credentials_provider()
                .ok_or_else(|| Error::failure("the AWS SDK configured no credential provider"))?;
            (provider, Some(config))
        }
    };
    report::verbose(format_args!(
        "resolving AWS credentials for {} (region {region})",
        describe(profile)
    ));
    let credentials = match provider.provide_credentials().await {
        Ok(credentials) => credentials,
        Err(err) => {
            if let Some(broken) = broken_profile_file().await {
                return Err(broken);
            }
            let kind = match profile {
                Some(profile) => profile_kind(profile).await,
                None => ProfileKind::Unknown,
            };
            return Err(credentials_error(profile, kind, &err));
        }
    };
    report::verbose(format_args!(
        "credentials for access key {}, {}",
        credentials.access_key_id(),
        match credentials.expiry() {
            Some(expiry) => format!("expiring {}", crate::clock::rfc3339(expiry)),
            None => "with no expiry".to_string(),
        }
    ));
    Ok((sdk_config, credentials, region))
}

pub async fn sdk_config(profile: Option<&str>, region: &str) -> SdkConfig {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_string()));
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    loader.load().await
}

fn profile_provider(profile: &str, region: &str) -> SharedCredentialsProvider {
    let provider_config =
        ProviderConfig::default().with_region(Some(Region::new(region.to_string())));
    SharedCredentialsProvider::new(
        ProfileFileCredentialsProvider::builder()
            .configure(&provider_config)
            .profile_name(profile)
            .build(),
    )
}

async fn profile_region(profile: Option<&str>) -> Result<crate::values::Region> {
    let mut chain = DefaultRegionChain::builder();
    if let Some(profile) = profile {
        chain = chain.profile_name(profile);
    }
    match chain.build().region().await {
        // The profile's (or AWS_REGION's) value enters here: parsed like every other region.
        Some(region) => region
            .as_ref()
            .parse::<crate::values::Region>()
            .map_err(|e| {
                Error::failure(format!(
                    "the region `{}` that {} (or AWS_REGION) gives is not usable: {e}",
                    region.as_ref().escape_debug(),
                    describe(profile)
                ))
                .hint("fix `region` in ~/.aws/config or AWS_REGION, or give --region")
            }),
        None => Err(match broken_profile_file().await {
            Some(broken) => broken,
            None => Error::failure(format!("no AWS region is known for {}", describe(profile)))
                .hint("give --region (or `region` in the config, or AWS_REGION)")
                .hint(match profile {
                    Some(p) => format!("or run `aws configure set region REGION --profile {p}`"),
                    None => "or set AWS_REGION".to_string(),
                }),
        }),
    }
}

fn describe(profile: Option<&str>) -> String {
    match profile {
        Some(profile) => format!("AWS profile `{profile}`"),
        None => "the default AWS credential chain".to_string(),
    }
}

/// One line and the fix, never the SDK's stack of errors (nor anything a provider echoed).
fn credentials_error(profile: Option<&str>, kind: ProfileKind, err: &CredentialsError) -> Error {
    let summary = match err {
        CredentialsError::CredentialsNotLoaded(_) => "no AWS credentials were found",
        CredentialsError::ProviderTimedOut(_) => "the AWS credential provider timed out",
        CredentialsError::InvalidConfiguration(_) => "the AWS configuration is invalid",
        _ => "AWS credentials could not be loaded",
    };
    if is_process_failure(err) {
        let file = config_file_name();
        return match profile {
            Some(profile) => process_error(err, &format!("AWS profile `{profile}`")).hint(format!(
                "check `credential_process` in [profile {profile}] of {file} (or in its source_profile); run that command yourself to see it fail"
            )),
            None => process_error(err, "the default AWS credential chain").hint(format!(
                "check `credential_process` in the AWS_PROFILE profile of {file}; run that command yourself to see it fail"
            )),
        };
    }
    let cause = sanitized_text(err);
    let Some(profile) = profile else {
        return Error::credentials(format!("{summary} for the default AWS credential chain{cause}"))
            .hint("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or AWS_PROFILE")
            .hint("or name a profile: `aws_profile` in the config, or --aws-profile; for SSO run `aws sso login --profile NAME`");
    };
    match kind {
        ProfileKind::Sso { session } => match sso_login_reason(err) {
            Some(reason) => sso_login_error(profile, session.as_deref(), reason),
            None => Error::credentials(format!(
                "{summary} from AWS SSO (Identity Center) for profile `{profile}`{cause}"
            ))
            .hint("check the profile's sso_* settings and the network")
            .hint(format!("if the session expired, run `aws sso login --profile {profile}`")),
        },
        ProfileKind::Missing => Error::credentials(format!("the AWS profile `{profile}` does not exist{cause}"))
            .hint(format!("create it with `aws configure sso --profile {profile}` or `aws configure --profile {profile}`"))
            .hint("or fix `aws_profile` in the rdsiam-helper config (or AWS_CONFIG_FILE)"),
        ProfileKind::Present | ProfileKind::Process | ProfileKind::Unknown => match sso_login_reason(err) {
            // A profile that takes its credentials from an SSO profile (source_profile).
            Some(reason) => sso_login_error(profile, None, reason),
            None => Error::credentials(format!("{summary} for AWS profile `{profile}`{cause}"))
                .hint(format!("check the profile's settings with `aws sts get-caller-identity --profile {profile}`")),
        },
    }
}

fn is_process_failure(err: &CredentialsError) -> bool {
    std::iter::successors(Some(err as &dyn std::error::Error), |e| e.source())
        .any(|e| process_failure(&e.to_string()).is_some())
}

/// The config file the AWS CLI reads, as a user would type it.
fn config_file_name() -> String {
    match std::env::var("AWS_CONFIG_FILE") {
        Ok(path) if !path.is_empty() => path,
        _ => "~/.aws/config".to_string(),
    }
}

/// A failed credential_process, in its own words: aws-config carries the process's stderr in
/// its error (never its stdout, which is where credentials go), and the AWS CLI shows it too.
fn process_error(err: &CredentialsError, source: &str) -> Error {
    let chain = std::iter::successors(Some(err as &dyn std::error::Error), |e| e.source());
    let texts: Vec<String> = chain.map(|e| e.to_string()).collect();
    let summary = texts
        .iter()
        .find_map(|text| process_failure(text))
        .unwrap_or_else(|| "the credential_process failed".to_string());
    let said = texts.iter().find_map(|text| process_stderr(text));
    let mut message = format!("{summary}, for {source}");
    match said {
        Some(lines) if !lines.is_empty() => {
            message.push_str("; it said on stderr:");
            for line in lines {
                message.push_str("\n  | ");
                message.push_str(&line);
            }
        }
        Some(_) => message.push_str(" (it wrote nothing on stderr)"),
        // It exited with success: aws-config keeps no stderr then, and its stdout is secret.
        None => {}
    }
    Error::credentials(message)
}

/// The stderr that aws-config quotes after "Stderr: " when a process exits with a failure,
/// made safe for a terminal: no control characters (escape sequences), bounded in size.
fn process_stderr(text: &str) -> Option<Vec<String>> {
    const MAX_LINES: usize = 20;
    const MAX_LINE: usize = 300;
    let (_, stderr) = text.split_once("external process exited with code ")?;
    let (_, stderr) = stderr.split_once(". Stderr: ")?;
    let mut lines: Vec<String> = stderr
        .lines()
        .map(|line| {
            let clean = terminal_safe(line);
            let clean = clean.trim_end();
            match clean.char_indices().nth(MAX_LINE) {
                Some((cut, _)) => format!("{}...", &clean[..cut]),
                None => clean.to_string(),
            }
        })
        .filter(|line| !line.trim().is_empty())
        .collect();
    if lines.len() > MAX_LINES {
        let more = lines.len() - MAX_LINES;
        lines.truncate(MAX_LINES);
        lines.push(format!("({more} more lines)"));
    }
    Some(lines)
}

/// A line with no control characters: colour codes (`ESC [ ... m`) dropped whole, tabs made
/// spaces, anything else that could move the cursor or retitle a terminal removed.
fn terminal_safe(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' if chars.peek() == Some(&'[') => {
                chars.next();
                // Parameters and intermediates, up to the final byte (@ to ~).
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn sso_login_error(profile: &str, session: Option<&str>, reason: &str) -> Error {
    let mut error = Error::sso_sign_in(format!(
        "the AWS SSO (Identity Center) session for profile `{profile}` {reason}"
    ))
    .hint(format!(
        "run `aws sso login --profile {profile}` or `rdsiam-helper login --aws-profile {profile}`"
    ));
    if let Some(session) = session {
        error = error.hint(format!("or `aws sso login --sso-session {session}`"));
    }
    error
}

/// Why a new `aws sso login` is the fix, if it is. aws-config's SSO error types are private,
/// so their messages are all there is to go on.
fn sso_login_reason(err: &CredentialsError) -> Option<&'static str> {
    let chain = std::iter::successors(Some(err as &dyn std::error::Error), |e| e.source());
    for error in chain {
        let text = error.to_string();
        if text == "the SSO token has expired and cannot be refreshed" {
            return Some("has expired");
        }
        if text == "failed to load the cached SSO token"
            || (text.starts_with("failed to read `") && text.contains("sso/cache/"))
        {
            return Some("has no usable cached token (not logged in yet?)");
        }
        if text.starts_with("UnauthorizedException") {
            return Some("was refused by the SSO portal (expired or signed out)");
        }
    }
    None
}

/// The service's error code and message if a service answered, else the innermost cause when
/// it is one of the SDK's own short descriptions. A credential_process is summarised by its
/// exit status here; only `process_error` shows its stderr, line by line and cleaned.
fn sanitized_text(err: &(dyn std::error::Error + 'static)) -> String {
    let chain: Vec<&dyn std::error::Error> =
        std::iter::successors(Some(err), |e| e.source()).collect();
    if let Some(summary) = chain.iter().find_map(|e| process_failure(&e.to_string())) {
        return format!(" ({summary})");
    }
    let service = chain.iter().find_map(|e| e.downcast_ref::<ErrorMetadata>());
    let text = match service {
        Some(meta) => match (meta.code(), meta.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_string(),
            _ => return String::new(),
        },
        None if chain.len() > 1 => chain[chain.len() - 1].to_string(),
        None => return String::new(),
    };
    // Should another provider ever quote a program's output, its own words end there.
    let lower = text.to_ascii_lowercase();
    let text = match ["stderr", "stdout"]
        .iter()
        .filter_map(|w| lower.find(w))
        .min()
    {
        Some(cut) => text[..cut].trim_end_matches([' ', '.', ':', ',', '(']),
        None => &text,
    };
    // One bounded line; braces would mean a Debug dump or a process's JSON.
    if !text.is_empty() && text.len() <= 200 && !text.contains(|c: char| c.is_control() || c == '{')
    {
        format!(" ({text})")
    } else {
        String::new()
    }
}

/// What aws-config's credential_process provider reported, in our words: the exit status, or
/// that its output was unusable, never the output itself. `None` for other providers' errors.
fn process_failure(text: &str) -> Option<String> {
    if !text.contains("external process") {
        return None;
    }
    if let Some((_, rest)) = text.split_once("exited with code ") {
        // std's ExitStatus display ("exit status: 3", "signal: 9 (SIGKILL)"), up to the
        // ". Stderr: " that follows it.
        let status = rest.split(". ").next().unwrap_or_default();
        let plain = status
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " :()".contains(c));
        if !plain || status.is_empty() || status.len() > 40 {
            return Some("the credential_process failed".to_string());
        }
        return Some(
            match (
                status.strip_prefix("exit status: "),
                status.strip_prefix("signal: "),
            ) {
                (Some(code), _) => format!("the credential_process exited with code {code}"),
                (_, Some(signal)) => {
                    format!("the credential_process was killed by signal {signal}")
                }
                _ => format!("the credential_process failed ({status})"),
            },
        );
    }
    if text.contains("could not parse response") || text.contains("could not decode output") {
        return Some("the credential_process printed no valid credentials".to_string());
    }
    Some("the credential_process could not be run".to_string())
}

/// Expired credentials still sign a token that the server refuses: refused here, with the fix
/// for the kind of source that handed them out.
pub fn check_not_expired(
    connection: &Connection,
    expiry: Option<SystemTime>,
    source: impl FnOnce() -> Source,
) -> Result<()> {
    let Some(expiry) = expiry.filter(|e| *e <= clock::now()) else {
        return Ok(());
    };
    Err(Error::credentials(format!(
        "the AWS credentials for {} expired at {}",
        connection.label(),
        clock::rfc3339(expiry)
    ))
    .hint(match (&connection.aws_profile, source()) {
        (Some(profile), Source::Sso) => format!(
            "sign in again: `aws sso login --profile {profile}` (or `rdsiam-helper login --aws-profile {profile}`)"
        ),
        (Some(profile), Source::Process) => format!(
            "the credential_process of AWS profile `{profile}` handed out expired credentials: check what it prints (`Expiration`)"
        ),
        (Some(profile), _) => format!("renew the credentials of AWS profile `{profile}` (~/.aws/credentials or its source)"),
        (None, _) => "renew AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN".to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::session_name;

    #[test]
    fn session_name_is_the_last_segment_of_a_caller_arn() {
        let cases = [
            (
                "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_DBAccess_abc/jane.doe",
                Some("jane.doe"),
            ),
            (
                "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_DBAccess_abc/jane@example.com",
                Some("jane@example.com"),
            ),
            (
                "arn:aws-us-gov:sts::123456789012:assumed-role/r/session",
                Some("session"),
            ),
            ("arn:aws:iam::123456789012:user/jane", Some("jane")),
            (
                "arn:aws:iam::123456789012:user/division/team/jane",
                Some("jane"),
            ),
            (
                "arn:aws-cn:sts::123456789012:federated-user/bob",
                Some("bob"),
            ),
            ("arn:aws:iam::123456789012:root", None),
            ("arn:aws:sts::123456789012:assumed-role/role-only", None),
            ("arn:aws:sts::123456789012:assumed-role/r/", None),
            ("arn:aws:iam::123456789012:role/r", None),
            ("arn:aws:iam::123456789012:user/", None),
            ("arn:aws:sts::123456789012:assumed-role/r/a/b", None),
            ("not an arn", None),
            ("", None),
        ];
        for (arn, want) in cases {
            assert_eq!(session_name(arn), want, "{arn}");
        }
    }
}
