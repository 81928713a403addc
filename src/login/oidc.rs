//! The SSO-OIDC API through aws-sdk-ssooidc: RegisterClient, then either the authorization
//! code grant with PKCE (the AWS CLI's default) or the device authorization grant.

use super::browser::{self, Callback, Listener};
use super::sso_cache::{self, RegistrationFile};
use super::{Grant, Target};
use crate::clock;
use crate::error::{Error, Result};
use crate::report;
use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_ssooidc::Client;
use aws_sdk_ssooidc::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
use aws_sdk_ssooidc::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ssooidc::operation::create_token::{CreateTokenError, CreateTokenOutput};
use aws_types::region::Region;
use aws_types::service_config::ServiceConfigKey;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant, SystemTime};
use zeroize::Zeroizing;

/// What a successful CreateToken leaves: the access token and how to renew it.
pub struct NewToken {
    pub access_token: Zeroizing<String>,
    pub refresh_token: Option<Zeroizing<String>>,
    pub expires_at: SystemTime,
}

pub struct Oidc {
    client: Client,
    /// Where `/authorize` lives: the service's own endpoint (AWS_ENDPOINT_URL_SSO_OIDC honoured).
    endpoint: String,
}

impl Oidc {
    /// A client for `region`, with the profile's settings (endpoint_url, services, proxy CA).
    /// No call may outlive the sign-in's deadline (a GUI is waiting), nor take over 30 s.
    pub async fn connect(region: &str, profile: Option<&str>, until: Instant) -> Result<Oidc> {
        let left = until.saturating_duration_since(Instant::now());
        let timeouts = TimeoutConfig::builder()
            .operation_timeout(left.clamp(Duration::from_secs(1), Duration::from_secs(30)))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .timeout_config(timeouts)
            .no_credentials();
        if let Some(profile) = profile {
            loader = loader.profile_name(profile);
        }
        let sdk = loader.load().await;
        // The endpoint the client itself will use, found as the generated client finds it.
        let key = ServiceConfigKey::builder()
            .service_id("SSO OIDC")
            .env("AWS_ENDPOINT_URL")
            .profile("endpoint_url")
            .build()
            .map_err(|e| Error::failure("SSO OIDC endpoint").caused_by(e))?;
        let configured = sdk
            .service_config()
            .and_then(|c| c.load_config(key))
            .or_else(|| sdk.endpoint_url().map(str::to_string));
        let params = Params::builder()
            .region(region)
            .set_endpoint(configured)
            .build()
            .map_err(|e| Error::failure("SSO OIDC endpoint").caused_by(e))?;
        let endpoint = DefaultResolver::new()
            .resolve_endpoint(&params)
            .await
            .map_err(|e| {
                Error::failure(format!("no SSO OIDC endpoint for region {region}"))
                    .caused_by(e)
                    .hint("check sso_region in the AWS config")
            })?;
        Ok(Oidc {
            client: Client::new(&sdk),
            endpoint: endpoint.url().trim_end_matches('/').to_string(),
        })
    }

    /// A client registration for this start URL, region, scopes and grant: the one on disk
    /// while it is valid, else a new one (kept for next time).
    pub async fn registration(&self, target: &Target, grant: Grant) -> Result<RegistrationFile> {
        let key = serde_json::json!({
            "tool": "rdsiam-helper",
            "startUrl": target.start_url,
            "region": target.region,
            "scopes": target.scopes,
            "grant": grant.as_str(),
        })
        .to_string();
        if let Some(registration) = sso_cache::read_registration(&key) {
            report::verbose(format_args!("reusing the SSO OIDC client registration"));
            return Ok(registration);
        }
        let mut request = self
            .client
            .register_client()
            .client_name(format!(
                "rdsiam-helper-{}",
                clock::unix_seconds(clock::now())
            ))
            .client_type("public")
            .set_scopes((!target.scopes.is_empty()).then(|| target.scopes.clone()));
        request = match grant {
            Grant::AuthorizationCode => request
                .grant_types("authorization_code")
                // Loopback redirects may use any port (RFC 8252); the AWS CLI registers this.
                .redirect_uris("http://127.0.0.1/oauth/callback")
                .issuer_url(&target.start_url),
            Grant::DeviceCode => {
                request.grant_types("urn:ietf:params:oauth:grant-type:device_code")
            }
        };
        if target.session.is_some() {
            request = request.grant_types("refresh_token");
        }
        let output = request
            .send()
            .await
            .map_err(|e| call_failed("RegisterClient", &e))?;
        let (Some(client_id), Some(client_secret)) = (output.client_id, output.client_secret)
        else {
            return Err(Error::failure("SSO OIDC RegisterClient returned no client"));
        };
        let registration = RegistrationFile {
            client_id,
            client_secret: Zeroizing::new(client_secret),
            expires_at: clock::rfc3339(clock::from_unix_seconds(output.client_secret_expires_at)),
        };
        sso_cache::write_registration(&key, &registration)?;
        Ok(registration)
    }

    /// The authorization code grant with PKCE: the browser to `/authorize`, back to our
    /// listener with a code, then CreateToken with the verifier only we know.
    pub async fn authorization_code(
        &self,
        target: &Target,
        registration: &RegistrationFile,
        open_browser: bool,
        until: Instant,
    ) -> Result<NewToken> {
        let listener = Listener::bind()?;
        let verifier = Zeroizing::new(random_text(64)?);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let state = random_text(16)?;
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &registration.client_id)
            .append_pair("redirect_uri", &listener.redirect_uri)
            .append_pair("state", &state)
            .append_pair("code_challenge_method", "S256")
            .append_pair("scopes", &target.scopes.join(" "))
            .append_pair("code_challenge", &challenge)
            .finish();
        browser::open(
            &format!("{}/authorize?{query}", self.endpoint),
            open_browser,
        );
        let code = match listener.wait(&state, until)? {
            Some(Callback::Code(code)) => Zeroizing::new(code),
            Some(Callback::Refused(reason)) => return Err(super::denied(target, &reason)),
            None => return Err(super::timed_out(target)),
        };
        let output = self
            .client
            .create_token()
            .grant_type("authorization_code")
            .client_id(&registration.client_id)
            .client_secret(registration.client_secret.as_str())
            .code(code.as_str())
            .redirect_uri(&listener.redirect_uri)
            .code_verifier(verifier.as_str())
            .send()
            .await
            .map_err(|e| create_token_failed(target, &e))?;
        new_token(output)
    }

    /// The device authorization grant: the user confirms a code in any browser while we poll
    /// CreateToken at the interval the service asks for.
    pub async fn device_code(
        &self,
        target: &Target,
        registration: &RegistrationFile,
        open_browser: bool,
        until: Instant,
    ) -> Result<NewToken> {
        let start = self
            .client
            .start_device_authorization()
            .client_id(&registration.client_id)
            .client_secret(registration.client_secret.as_str())
            .start_url(&target.start_url)
            .send()
            .await
            .map_err(|e| call_failed("StartDeviceAuthorization", &e))?;
        let (Some(device_code), Some(user_code)) = (start.device_code(), start.user_code()) else {
            return Err(Error::failure(
                "SSO OIDC StartDeviceAuthorization returned no device code",
            ));
        };
        let url = start
            .verification_uri_complete()
            .or(start.verification_uri())
            .unwrap_or_default();
        eprintln!("rdsiam-helper: confirm that the browser shows the code {user_code}");
        browser::open(url, open_browser);
        let expires = Instant::now() + Duration::from_secs(start.expires_in().max(0) as u64);
        let until = until.min(expires);
        // RFC 8628: poll every `interval` seconds (5 when not given), 5 more on each slow_down.
        let mut interval = Duration::from_secs(match start.interval() {
            0 => 5,
            seconds => seconds.max(1) as u64,
        });
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(super::timed_out(target));
            }
            std::thread::sleep(interval.min(left));
            let result = self
                .client
                .create_token()
                .grant_type("urn:ietf:params:oauth:grant-type:device_code")
                .client_id(&registration.client_id)
                .client_secret(registration.client_secret.as_str())
                .device_code(device_code)
                .send()
                .await;
            match result {
                Ok(output) => return new_token(output),
                Err(err) => match err.as_service_error() {
                    Some(CreateTokenError::AuthorizationPendingException(_)) => {}
                    Some(CreateTokenError::SlowDownException(_)) => {
                        interval += Duration::from_secs(5);
                    }
                    _ => return Err(create_token_failed(target, &err)),
                },
            }
        }
    }
}

fn new_token(output: CreateTokenOutput) -> Result<NewToken> {
    let access_token = output
        .access_token
        .ok_or_else(|| Error::failure("SSO OIDC CreateToken returned no access token"))?;
    Ok(NewToken {
        access_token: Zeroizing::new(access_token),
        refresh_token: output.refresh_token.map(Zeroizing::new),
        expires_at: clock::now() + Duration::from_secs(output.expires_in.max(0) as u64),
    })
}

/// `n` random bytes as URL-safe base64: PKCE verifiers (RFC 7636 allows these characters)
/// and the `state`.
fn random_text(n: usize) -> Result<String> {
    let mut bytes = Zeroizing::new(vec![0u8; n]);
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::failure("no random numbers from the system").caused_by(e))?;
    Ok(URL_SAFE_NO_PAD.encode(&*bytes))
}

fn create_token_failed(target: &Target, err: &SdkError<CreateTokenError>) -> Error {
    match err.as_service_error() {
        Some(CreateTokenError::AccessDeniedException(_)) => super::denied(
            target,
            &service_text(err).unwrap_or_else(|| "access denied".into()),
        ),
        Some(CreateTokenError::ExpiredTokenException(_)) => super::timed_out(target),
        _ => call_failed("CreateToken", err),
    }
}

/// One line for a failed call: the service's error code and message, never the SDK's chain.
fn call_failed<E: ProvideErrorMetadata>(operation: &str, err: &SdkError<E>) -> Error {
    match service_text(err) {
        Some(text) => Error::credentials(format!("SSO OIDC {operation} failed ({text})")),
        None if matches!(err, SdkError::TimeoutError(_)) => {
            Error::failure(format!("SSO OIDC {operation} timed out"))
                .hint("check the network, a proxy, sso_region, or AWS_ENDPOINT_URL_SSO_OIDC")
        }
        None => Error::failure(format!("cannot reach SSO OIDC for {operation}"))
            .hint("check the network, a proxy, sso_region, or AWS_ENDPOINT_URL_SSO_OIDC"),
    }
}

fn service_text<E: ProvideErrorMetadata>(err: &SdkError<E>) -> Option<String> {
    let service = err.as_service_error()?;
    let text = match (service.code(), service.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        (None, _) => return None,
    };
    Some(browser::one_line(&text))
}
