//! Signing: a pure function of credentials, endpoint, user, region and time. No I/O.

use crate::secret::Secret;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::fmt;
use std::time::{Duration, SystemTime};

/// RDS accepts a token for 15 minutes after it was signed, whatever `X-Amz-Expires` says;
/// 900 is also what botocore and the AWS CLI put there.
pub const TOKEN_EXPIRES_IN: Duration = Duration::from_secs(900);

/// botocore's `percent_encode`: everything but RFC 3986 unreserved characters, UTF-8, upper hex.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An IAM auth token. It is a password: it has no `Display` (a stray `format!("{token}")` does
/// not compile, so neither a redaction nor the value can slip into a file or a message),
/// `Debug` prints a redaction, the memory is zeroed on drop, and the value leaves only through
/// `expose`, at the point where it is printed or written.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Secret);

impl Token {
    pub fn new(value: String) -> Token {
        Token(Secret::new(value))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(** redacted **)")
    }
}

/// What a token is signed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint<'a> {
    pub host: &'a str,
    pub port: u16,
    pub user: &'a str,
    pub region: &'a str,
}

#[derive(Debug)]
pub struct SignError(String);

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not sign the token: {}", self.0)
    }
}

/// The token botocore's `generate_db_auth_token` prints for the same inputs, byte for byte.
pub fn sign_token(
    credentials: &Credentials,
    endpoint: &Endpoint<'_>,
    at: SystemTime,
) -> Result<Token, SignError> {
    let user = utf8_percent_encode(endpoint.user, QUERY_VALUE).to_string();
    // botocore signs over the lower-cased host (its canonical request lower-cases it) but
    // prints the host as given; aws-sigv4 signs whatever it is handed.
    let signed_host = endpoint.host.to_ascii_lowercase();
    let url = format!(
        "https://{signed_host}:{}/?Action=connect&DBUser={user}",
        endpoint.port
    );

    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_EXPIRES_IN);
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(endpoint.region)
        .name("rds-db")
        .time(at)
        .settings(settings)
        .build()
        .map_err(|e| SignError(e.to_string()))?
        .into();
    // botocore hashes the empty body into the canonical request (not UNSIGNED-PAYLOAD).
    let request = SignableRequest::new("GET", url, std::iter::empty(), SignableBody::Bytes(&[]))
        .map_err(|e| SignError(e.to_string()))?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|e| SignError(e.to_string()))?
        .into_parts();

    let mut token = format!(
        "{}:{}/?Action=connect&DBUser={user}",
        endpoint.host, endpoint.port
    );
    // aws-sigv4 signs X-Amz-Security-Token like botocore but lists it after the signature;
    // botocore prints it just before. Emit the parameters in botocore's order.
    for name in [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Security-Token",
        "X-Amz-Signature",
    ] {
        if let Some((_, value)) = instructions.params().iter().find(|(n, _)| *n == name) {
            token.push('&');
            token.push_str(name);
            token.push('=');
            token.extend(utf8_percent_encode(value, QUERY_VALUE));
        }
    }
    if !token.contains("&X-Amz-Signature=") {
        return Err(SignError("the signer returned no signature".into()));
    }
    Ok(Token::new(token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Vector {
        name: String,
        host: String,
        port: u16,
        user: String,
        region: String,
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
        signed_at: String,
        token: String,
    }

    #[test]
    fn tokens_are_byte_identical_to_botocore() {
        let text = include_str!("../tests/data/botocore_vectors.json");
        let vectors: Vec<Vector> = serde_json::from_str(text).unwrap();
        assert!(vectors.len() >= 15);
        for v in vectors {
            let credentials = Credentials::new(
                v.access_key_id,
                v.secret_access_key,
                v.session_token,
                None,
                "test",
            );
            let at: SystemTime = chrono::DateTime::parse_from_rfc3339(&v.signed_at)
                .unwrap()
                .into();
            let endpoint = Endpoint {
                host: &v.host,
                port: v.port,
                user: &v.user,
                region: &v.region,
            };
            let token = sign_token(&credentials, &endpoint, at).unwrap();
            assert_eq!(token.expose(), v.token, "vector {}", v.name);
        }
    }

    #[test]
    fn token_never_shows_in_debug() {
        // There is no Display to test: `format!("{token}")` does not compile.
        let token = Token::new("secret-token-value".into());
        assert!(!format!("{token:?}").contains("secret-token-value"));
    }
}
