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

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// How a PostgreSQL session's TLS starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Negotiation {
    /// SSLRequest, 'S', then TLS: every PostgreSQL server, and MySQL's own upgrade.
    Postgres,
    /// TLS from the first byte, ALPN `postgresql` (PostgreSQL 17+ `sslnegotiation=direct`).
    Direct,
}

/// A connection's TLS client set-up, built once per listener.
pub struct Upstream {
    connector: TlsConnector,
    server_name: ServerName<'static>,
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
            format!("TLS with {shown} failed (verify-full against the connection's CA bundle): {e}")
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
