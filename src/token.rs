//! Signing: a pure function of credentials, endpoint, user, region and time. No I/O.

use crate::secret::Secret;
pub use crate::values::DsqlAction;
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

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SignError(String);

/// The token botocore's `generate_db_auth_token` prints for the same inputs, byte for byte.
pub fn sign_token(
    credentials: &Credentials,
    endpoint: &Endpoint<'_>,
    at: SystemTime,
) -> Result<Token, SignError> {
    let user = utf8_percent_encode(endpoint.user, QUERY_VALUE).to_string();
    let query = format!("Action=connect&DBUser={user}");
    let presign = Presign {
        host_and_port: &format!("{}:{}", endpoint.host, endpoint.port),
        query: &query,
        service: "rds-db",
        region: endpoint.region,
        expires_in: TOKEN_EXPIRES_IN,
    };
    presign.sign(credentials, at)
}

/// An Aurora DSQL cluster's token: what botocore's `generate_db_connect_auth_token` /
/// `generate_db_connect_admin_auth_token` print for the same inputs, byte for byte. No port
/// and no user are signed: the action alone says who may connect.
pub fn sign_dsql_token(
    credentials: &Credentials,
    host: &str,
    action: DsqlAction,
    region: &str,
    expires_in: Duration,
    at: SystemTime,
) -> Result<Token, SignError> {
    let query = format!("Action={}", action.as_str());
    let presign = Presign {
        host_and_port: host,
        query: &query,
        service: "dsql",
        region,
        expires_in,
    };
    presign.sign(credentials, at)
}

/// A SigV4 presigned `GET https://HOST/?QUERY`, printed without its scheme as botocore does.
struct Presign<'a> {
    /// As given; the signature covers it lower-cased.
    host_and_port: &'a str,
    /// The request's own parameters, already percent-encoded, in botocore's order.
    query: &'a str,
    service: &'a str,
    region: &'a str,
    expires_in: Duration,
}

impl Presign<'_> {
    fn sign(&self, credentials: &Credentials, at: SystemTime) -> Result<Token, SignError> {
        // botocore signs over the lower-cased host (its canonical request lower-cases it) but
        // prints the host as given; aws-sigv4 signs whatever it is handed.
        let signed_host = self.host_and_port.to_ascii_lowercase();
        let url = format!("https://{signed_host}/?{}", self.query);

        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(self.expires_in);
        let identity = credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(self.region)
            .name(self.service)
            .time(at)
            .settings(settings)
            .build()
            .map_err(|e| SignError(e.to_string()))?
            .into();
        // botocore hashes the empty body into the canonical request (not UNSIGNED-PAYLOAD).
        let request =
            SignableRequest::new("GET", url, std::iter::empty(), SignableBody::Bytes(&[]))
                .map_err(|e| SignError(e.to_string()))?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|e| SignError(e.to_string()))?
            .into_parts();

        let mut token = format!("{}/?{}", self.host_and_port, self.query);
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// Who signed a committed vector, and when: the same fields in both vector files.
    #[derive(Deserialize)]
    struct Signer {
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
        signed_at: String,
    }

    impl Signer {
        fn credentials(&self) -> Credentials {
            Credentials::new(
                &self.access_key_id,
                &self.secret_access_key,
                self.session_token.clone(),
                None,
                "test",
            )
        }

        fn at(&self) -> SystemTime {
            chrono::DateTime::parse_from_rfc3339(&self.signed_at)
                .unwrap()
                .into()
        }
    }

    #[derive(Deserialize)]
    struct Vector {
        name: String,
        host: String,
        port: u16,
        user: String,
        region: String,
        #[serde(flatten)]
        signer: Signer,
        token: String,
    }

    #[test]
    fn tokens_are_byte_identical_to_botocore() {
        let text = include_str!("../tests/data/botocore_vectors.json");
        let vectors: Vec<Vector> = serde_json::from_str(text).unwrap();
        assert!(vectors.len() >= 15);
        for v in vectors {
            let endpoint = Endpoint {
                host: &v.host,
                port: v.port,
                user: &v.user,
                region: &v.region,
            };
            let token = sign_token(&v.signer.credentials(), &endpoint, v.signer.at()).unwrap();
            assert_eq!(token.expose(), v.token, "vector {}", v.name);
        }
    }

    #[derive(Deserialize)]
    struct DsqlVector {
        name: String,
        host: String,
        action: String,
        region: String,
        expires_in: u64,
        #[serde(flatten)]
        signer: Signer,
        token: String,
    }

    #[test]
    fn dsql_tokens_are_byte_identical_to_botocore() {
        let text = include_str!("../tests/data/dsql_vectors.json");
        let vectors: Vec<DsqlVector> = serde_json::from_str(text).unwrap();
        assert!(vectors.len() >= 10);
        for v in vectors {
            let action = match v.action.as_str() {
                "DbConnect" => DsqlAction::DbConnect,
                "DbConnectAdmin" => DsqlAction::DbConnectAdmin,
                other => panic!("unknown action {other}"),
            };
            let lifetime = Duration::from_secs(v.expires_in);
            let (credentials, at) = (v.signer.credentials(), v.signer.at());
            let token =
                sign_dsql_token(&credentials, &v.host, action, &v.region, lifetime, at).unwrap();
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
