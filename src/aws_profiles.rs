//! The AWS profile files (`~/.aws/config`, `~/.aws/credentials`, or AWS_CONFIG_FILE /
//! AWS_SHARED_CREDENTIALS_FILE), as the AWS CLI and aws-config find them: checked before
//! aws-config reads them (a FIFO would hang it, a non-UTF-8 file it passes over), parsed by
//! aws-config's own parser for `profiles`, `login`, the `rds` drop-in and credential hints; and
//! which credential source a connection signs with, decided once for the provider and the
//! cache key alike (`CredentialSource`).

use crate::error::{Error, Result};
use aws_config::profile::ProfileSet;
use aws_types::os_shim_internal::{Env, Fs};
use std::borrow::Cow;

/// Where a connection's credentials come from. A profile named in the config or on the
/// command line wins over AWS_ACCESS_KEY_ID, as `aws --profile` does; with none named, the
/// default chain's order applies, whose first provider is the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    Profile(String),
    /// AWS_ACCESS_KEY_ID with its secret key, as aws-config's environment provider reads them.
    Environment {
        access_key_id: String,
    },
    /// The rest of the default chain: AWS_PROFILE (or `default`), web identity, containers,
    /// IMDS.
    DefaultChain,
}

impl CredentialSource {
    /// From the environment alone: no AWS file is read (this is on the cache's hot path).
    pub fn of(profile: Option<&str>) -> CredentialSource {
        let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        match profile {
            Some(profile) => CredentialSource::Profile(profile.to_string()),
            None => match (
                set("AWS_ACCESS_KEY_ID"),
                set("AWS_SECRET_ACCESS_KEY").or_else(|| set("SECRET_ACCESS_KEY")),
            ) {
                (Some(access_key_id), Some(_)) => CredentialSource::Environment { access_key_id },
                _ => CredentialSource::DefaultChain,
            },
        }
    }
}

/// Every profile and sso-session in the files, parsed by aws-config (`profile` names the one
/// whose absence is an error to aws-config; None reads them all).
pub async fn load(
    profile: Option<&str>,
) -> std::result::Result<ProfileSet, aws_config::profile::ProfileFileLoadError> {
    aws_config::profile::load(
        &Fs::real(),
        &Env::real(),
        &aws_runtime::env_config::file::EnvConfigFiles::default(),
        profile.map(|p| Cow::Owned(p.to_string())),
    )
    .await
}

/// `load` for a command that lists or follows profiles: a broken file is named with its line.
pub async fn load_all(fix: &str) -> Result<ProfileSet> {
    if let Some(broken) = broken_profile_file().await {
        return Err(broken);
    }
    load(None).await.map_err(|e| {
        Error::failure("cannot read the AWS config files")
            .caused_by(e)
            .hint(fix.to_string())
    })
}

/// The AWS config and credentials files, where the AWS CLI (and aws-config) look for them.
pub fn profile_files() -> Vec<std::path::PathBuf> {
    let home = dirs::home_dir().unwrap_or_default();
    [
        ("AWS_CONFIG_FILE", ".aws/config"),
        ("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials"),
    ]
    .into_iter()
    .map(|(variable, default)| match std::env::var_os(variable) {
        Some(path) if !path.is_empty() => crate::config::expand_home(std::path::Path::new(&path)),
        _ => home.join(default),
    })
    .collect()
}

/// Each AWS profile file that exists is a regular UTF-8 file, checked before aws-config reads
/// it: aws-config would wait forever on a FIFO (and a GUI with it), and pass over a file that is
/// not UTF-8 in silence, as if it were not there. Runs only where credentials are resolved.
pub fn check_profile_files() -> Result<()> {
    for path in profile_files() {
        let Some(bytes) = crate::files::read_limited(&path)? else {
            continue;
        };
        if let Some(line) = crate::files::first_non_utf8_line(&bytes) {
            return Err(Error::credentials(format!(
                "the AWS file {} is not UTF-8 text: line {line} holds a byte that is not UTF-8",
                path.display()
            ))
            .hint(
                "save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8`); the AWS CLI refuses it too",
            ));
        }
    }
    Ok(())
}

/// What is wrong with the AWS profile files, if anything: asked only once resolving
/// credentials or a region failed. aws-config reports a parse error from the credential
/// provider without the file or line, and passes over a file that is not UTF-8 as if it were
/// not there; the AWS CLI refuses both, and so do we, naming the file and line.
pub async fn broken_profile_file() -> Option<Error> {
    let fix = "fix that line (the AWS CLI refuses the file too), or point AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE at a good file";
    if let Err(err) = check_profile_files() {
        return Some(err);
    }
    let loaded = load(None).await;
    let err = loaded.err()?;
    // "could not parse profile file: error parsing PATH on line N:\n  MESSAGE", on one line.
    let text = std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
        .last()
        .map(|e| e.to_string())
        .unwrap_or_default();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(Error::credentials(format!("cannot read the AWS profile files: {text}")).hint(fix))
}

/// What kind of profile this is, for the hint that fixes it.
pub enum ProfileKind {
    Sso { session: Option<String> },
    Process,
    Present,
    Missing,
    Unknown,
}

pub async fn profile_kind(profile: &str) -> ProfileKind {
    let profiles = load(Some(profile)).await;
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
    } else if section.get("credential_process").is_some() {
        ProfileKind::Process
    } else {
        ProfileKind::Present
    }
}
