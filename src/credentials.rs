//! aws-config glue: the only module that talks to the AWS SDK. Runs only on a cache miss.

use crate::error::{Error, Result};
use crate::report;
use aws_config::BehaviorVersion;
use aws_config::default_provider::region::DefaultRegionChain;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_types::os_shim_internal::{Env, Fs};
use aws_types::region::Region;
use std::borrow::Cow;

/// The region stand-in in a cache key when the AWS profile supplies the region. Reading the
/// profile to find it would cost the hot path its speed.
pub const PROFILE_REGION: &str = "(profile)";

/// Who signs: the part of the cache key that tells credentials apart, computed from the
/// environment alone (no AWS file is read on the hot path).
///
/// A profile named in the config or on the command line wins over AWS_ACCESS_KEY_ID, as
/// `aws --profile` does; with none named, the default chain's order applies.
pub fn source_key(profile: Option<&str>) -> String {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut key = match (profile, var("AWS_ACCESS_KEY_ID")) {
        (Some(profile), _) => format!("profile:{profile}"),
        (None, Some(access_key_id)) => format!("env:{access_key_id}"),
        (None, None) => format!(
            "profile:{}",
            var("AWS_PROFILE").unwrap_or_else(|| "default".into())
        ),
    };
    // The same profile name in another set of files, or the non-profile sources the default
    // chain falls through to, are other identities.
    for name in ["AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"] {
        if let Some(value) = var(name) {
            key.push_str(&format!("|{name}={value}"));
        }
    }
    if profile.is_none() {
        for name in [
            "AWS_ROLE_ARN",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        ] {
            if let Some(value) = var(name) {
                key.push_str(&format!("|{name}={value}"));
            }
        }
    }
    key
}

/// The region part of a cache key.
pub fn region_key(region: Option<&str>) -> String {
    match region {
        Some(region) => region.to_string(),
        None => {
            match std::env::var("AWS_REGION").or_else(|_| std::env::var("AWS_DEFAULT_REGION")) {
                Ok(region) if !region.is_empty() => region,
                _ => PROFILE_REGION.to_string(),
            }
        }
    }
}

pub struct Resolved {
    pub credentials: Credentials,
    pub region: String,
}

/// Credentials (and, when not given, the region) for `profile`, from aws-config's providers:
/// environment, shared files, credential_process, SSO / Identity Center, assume-role, web
/// identity, container and IMDS.
pub fn resolve(profile: Option<&str>, region: Option<&str>) -> Result<Resolved> {
    // A current-thread runtime: one request at a time is all we make, and it starts in
    // microseconds. It exists only on this (miss) path.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failure(format!("cannot start the AWS client runtime: {e}")))?;
    runtime.block_on(resolve_async(profile, region))
}

async fn resolve_async(profile: Option<&str>, region: Option<&str>) -> Result<Resolved> {
    let region = match region {
        Some(region) => region.to_string(),
        None => profile_region(profile).await?,
    };
    let provider = provider(profile, &region).await?;
    report::verbose(format_args!(
        "resolving AWS credentials for {} (region {region})",
        describe(profile)
    ));
    let credentials = match provider.provide_credentials().await {
        Ok(credentials) => credentials,
        Err(err) => {
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
    Ok(Resolved {
        credentials,
        region,
    })
}

async fn provider(profile: Option<&str>, region: &str) -> Result<SharedCredentialsProvider> {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_string()));
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    let config = loader.load().await;
    match profile {
        // An explicitly named profile beats AWS_ACCESS_KEY_ID, as with `aws --profile`.
        Some(profile) => {
            let provider_config =
                ProviderConfig::default().with_region(Some(Region::new(region.to_string())));
            Ok(SharedCredentialsProvider::new(
                ProfileFileCredentialsProvider::builder()
                    .configure(&provider_config)
                    .profile_name(profile)
                    .build(),
            ))
        }
        None => config
            .credentials_provider()
            .ok_or_else(|| Error::failure("the AWS SDK configured no credential provider")),
    }
}

async fn profile_region(profile: Option<&str>) -> Result<String> {
    let mut chain = DefaultRegionChain::builder();
    if let Some(profile) = profile {
        chain = chain.profile_name(profile);
    }
    match chain.build().region().await {
        Some(region) => Ok(region.to_string()),
        None => Err(Error::failure(format!("no AWS region is known for {}", describe(profile)))
            .hint("use an RDS endpoint host (NAME.ID.REGION.rds.amazonaws.com), set `region` in the config or --region")
            .hint(match profile {
                Some(p) => format!("or run `aws configure set region REGION --profile {p}`"),
                None => "or set AWS_REGION".to_string(),
            })),
    }
}

fn describe(profile: Option<&str>) -> String {
    match profile {
        Some(profile) => format!("AWS profile `{profile}`"),
        None => "the default AWS credential chain".to_string(),
    }
}

/// What kind of profile this is, for the hint that fixes it.
enum ProfileKind {
    Sso { session: Option<String> },
    Present,
    Missing,
    Unknown,
}

async fn profile_kind(profile: &str) -> ProfileKind {
    let profiles = aws_config::profile::load(
        &Fs::real(),
        &Env::real(),
        &aws_runtime::env_config::file::EnvConfigFiles::default(),
        Some(Cow::Owned(profile.to_string())),
    )
    .await;
    let Ok(profiles) = profiles else {
        return ProfileKind::Unknown;
    };
    let Some(section) = profiles.get_profile(profile) else {
        return ProfileKind::Missing;
    };
    if let Some(session) = section.get("sso_session") {
        ProfileKind::Sso {
            session: Some(session.to_string()),
        }
    } else if section.get("sso_start_url").is_some() {
        ProfileKind::Sso { session: None }
    } else {
        ProfileKind::Present
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
    let cause = sanitized_cause(err);
    let Some(profile) = profile else {
        return Error::credentials(format!("{summary} for the default AWS credential chain{cause}"))
            .hint("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or AWS_PROFILE")
            .hint("or name a profile: `aws_profile` in the config, or --aws-profile; for SSO run `aws sso login --profile NAME`");
    };
    match kind {
        ProfileKind::Sso { session } => {
            let mut error = Error::credentials(format!(
                "the AWS SSO (Identity Center) session for profile `{profile}` is missing or expired{cause}"
            ))
            .hint(format!("run `aws sso login --profile {profile}`"));
            if let Some(session) = session {
                error = error.hint(format!("or `aws sso login --sso-session {session}`"));
            }
            error
        }
        ProfileKind::Missing => Error::credentials(format!("the AWS profile `{profile}` does not exist{cause}"))
            .hint(format!("create it with `aws configure sso --profile {profile}` or `aws configure --profile {profile}`"))
            .hint("or fix `aws_profile` in the rdsiam-helper config (or AWS_CONFIG_FILE)"),
        ProfileKind::Present | ProfileKind::Unknown => {
            Error::credentials(format!("{summary} for AWS profile `{profile}`{cause}"))
                .hint(format!("check `aws sts get-caller-identity --profile {profile}`; for SSO profiles run `aws sso login --profile {profile}`"))
        }
    }
}

/// The innermost cause, when it is one of the SDK's own descriptions (no process output).
fn sanitized_cause(err: &CredentialsError) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(err);
    let mut last = None;
    while let Some(e) = source {
        last = Some(e.to_string());
        source = e.source();
    }
    match last {
        // One line, bounded, and only when it cannot be echoing what a credential_process printed.
        Some(text) if text.len() <= 200 && !text.contains('\n') && !text.contains('{') => {
            format!(" ({text})")
        }
        _ => String::new(),
    }
}
