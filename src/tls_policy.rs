//! How a client verifies the database server: the certificates it trusts and how far it checks
//! them. Decided once, on the connection (`Connection::verification`, `trust_anchors`), and
//! followed by every client set-up; the words each client uses for them live here too.

use std::path::PathBuf;

/// Where a client finds the certificates it verifies the server with: decided once, on the
/// connection, beside how far it verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustAnchors {
    /// A CA bundle file: the connection's `ca_bundle`, else the RDS global bundle.
    Bundle(PathBuf),
    /// The operating system's trust store: Aurora DSQL's certificates are publicly trusted.
    System,
}

/// How far a client can verify the server: decided once, on the connection, and followed by
/// every client set-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The CA and the endpoint's name (libpq `verify-full`, MySQL `VERIFY_IDENTITY`).
    Full,
    /// The CA only: the client dials a tunnel and has no way to check the endpoint's name.
    CaOnly,
}

impl Verification {
    pub fn is_full(self) -> bool {
        self == Verification::Full
    }

    /// libpq's and pgjdbc's `sslmode`.
    pub fn sslmode(self) -> &'static str {
        match self {
            Verification::Full => "verify-full",
            Verification::CaOnly => "verify-ca",
        }
    }

    /// Oracle MySQL's `--ssl-mode` and Connector/J's `sslMode`.
    pub fn mysql_ssl_mode(self) -> &'static str {
        match self {
            Verification::Full => "VERIFY_IDENTITY",
            Verification::CaOnly => "VERIFY_CA",
        }
    }

    /// DataGrip's own name for the mode, in its data source's `ssl-config`.
    pub fn datagrip_mode(self) -> &'static str {
        match self {
            Verification::Full => "VERIFY_FULL",
            Verification::CaOnly => "VERIFY_CA",
        }
    }
}

/// How a client reaches the server, which decides how far it can verify it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialing {
    /// libpq: `host` names the endpoint while `hostaddr` is dialled (the tunnel), so the name
    /// is sent (SNI) and checked whatever the address.
    NameAndAddress,
    /// Every other client: it sends and checks the name it dials.
    AddressOnly,
}
