//! The operating system's trust store, found as a file for the clients that take a path.

use std::path::PathBuf;

/// The OS trust store as one file, for clients that take a path (libpq before 16, JDBC):
/// `SSL_CERT_FILE` when set (OpenSSL's own override of its default store, which libpq's
/// `sslrootcert=system` reads too), else the first bundle the platform keeps.
pub fn system_bundle() -> Option<PathBuf> {
    const BUNDLES: &[&str] = &[
        "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Arch, Gentoo
        "/etc/pki/tls/certs/ca-bundle.crt",   // Fedora, RHEL, Amazon Linux
        "/etc/ssl/cert.pem",                  // macOS, Alpine, the BSDs
        "/etc/ssl/ca-bundle.pem",             // openSUSE
    ];
    let from_env = std::env::var_os("SSL_CERT_FILE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    from_env
        .into_iter()
        .chain(BUNDLES.iter().map(PathBuf::from))
        .find(|path| path.is_file())
}
