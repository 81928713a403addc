//! TLS to the database: verify-full against the connection's CA bundle and the endpoint's own
//! name, also when the bytes go through a `tunnel` (the dial address is never what is verified).
//! A server without TLS, or with a certificate that does not verify, gets no token.

use crate::config::Connection;
use crate::error::{Error, Result};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

/// How long the server has for each step: TCP, TLS, and the login after it.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(15);
const CONNECT_TIMEOUT: Duration = UPSTREAM_TIMEOUT;

/// How a PostgreSQL session's TLS starts: `--sslnegotiation`, named as libpq names it. (MySQL
/// always upgrades after the server's greeting.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Negotiation {
    /// An SSLRequest first, then TLS (every PostgreSQL server)
    Postgres,
    /// TLS at once, with ALPN `postgresql` (PostgreSQL 17+, Aurora PostgreSQL express, DSQL)
    Direct,
}

/// A connection's TLS client set-up, built once per listener.
pub struct Upstream {
    connector: TlsConnector,
    server_name: ServerName<'static>,
    negotiation: Negotiation,
}

impl Upstream {
    pub fn new(connection: &Connection, negotiation: Negotiation) -> Result<Upstream> {
        let bundle = crate::clients::existing_ca_bundle(connection)?;
        let mut roots = RootCertStore::empty();
        let certificates = CertificateDer::pem_file_iter(&bundle).map_err(|e| {
            Error::failure(format!(
                "cannot read the CA bundle {}: {e}",
                bundle.display()
            ))
        })?;
        for certificate in certificates {
            let certificate = certificate.map_err(|e| {
                Error::failure(format!(
                    "the CA bundle {} is not PEM: {e}",
                    bundle.display()
                ))
            })?;
            roots.add(certificate).map_err(|e| {
                Error::failure(format!(
                    "the CA bundle {} holds a certificate that cannot be a trust anchor: {e}",
                    bundle.display()
                ))
            })?;
        }
        if roots.is_empty() {
            return Err(Error::failure(format!(
                "the CA bundle {} holds no certificate",
                bundle.display()
            ))
            .hint(format!("download it: {}", crate::clients::CA_BUNDLE_URL)));
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::failure("cannot set up TLS").caused_by(e))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        if negotiation == Negotiation::Direct {
            config.alpn_protocols = vec![b"postgresql".to_vec()];
        }
        let host = connection
            .host
            .trim_start_matches('[')
            .trim_end_matches(']');
        let server_name = ServerName::try_from(host.to_string()).map_err(|e| {
            Error::failure(format!(
                "`{host}` cannot be checked against a certificate: {e}"
            ))
        })?;
        Ok(Upstream {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
            negotiation,
        })
    }

    /// A TLS session over `tcp`, the certificate checked against the endpoint's name.
    pub async fn handshake(
        &self,
        tcp: TcpStream,
        shown: &str,
    ) -> std::result::Result<TlsStream<TcpStream>, String> {
        tokio::time::timeout(
            CONNECT_TIMEOUT,
            self.connector.connect(self.server_name.clone(), tcp),
        )
        .await
        .map_err(|_| format!("TLS with {shown} timed out"))?
        .map_err(|e| {
            let why = io_text(&e);
            match self.negotiation {
                // A server before PostgreSQL 17 reads the ClientHello as a startup packet of
                // an unknown protocol and closes, or answers an error that is not TLS.
                Negotiation::Direct if is_not_tls(&e) => format!(
                    "TLS with {shown} failed ({why}): the server may not support direct TLS (--sslnegotiation direct needs PostgreSQL 17 or later); leave --sslnegotiation out for other servers"
                ),
                _ => format!(
                    "TLS with {shown} failed (verify-full against the connection's CA bundle): {why}"
                ),
            }
        })
    }
}

/// A TCP connection to where the connection dials: its tunnel, else the endpoint.
pub async fn dial(connection: &Connection, shown: &str) -> std::result::Result<TcpStream, String> {
    let host = connection.dial_host();
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let tcp = tokio::time::timeout(
        CONNECT_TIMEOUT,
        TcpStream::connect((host.as_str(), connection.dial_port())),
    )
    .await
    .map_err(|_| format!("connecting to {shown} timed out"))?
    .map_err(|e| format!("cannot connect to {shown}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// A connection that ended, or bytes that are not TLS, where a TLS handshake was expected.
fn is_not_tls(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::InvalidData
            | std::io::ErrorKind::ConnectionReset
    )
}

/// An I/O error as a person reads it: rustls's "closed without close_notify" carries a link to
/// its own manual, which means nothing to a database user.
pub fn io_text(err: &std::io::Error) -> String {
    if err.kind() == std::io::ErrorKind::UnexpectedEof {
        return "the connection ended early".to_string();
    }
    let text = err.to_string();
    let cut = text.find(": http").or_else(|| text.find(" http"));
    match cut {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_messages_carry_no_documentation_links() {
        let eof = std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "peer closed connection without sending TLS close_notify: https://docs.rs/rustls/latest/rustls/manual/_03_howto/index.html#unexpected-eof",
        );
        assert_eq!(io_text(&eof), "the connection ended early");
        let other = std::io::Error::other("bad thing: https://docs.rs/x");
        assert_eq!(io_text(&other), "bad thing");
    }
}
