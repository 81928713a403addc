//! The RDS CA bundle: a PEM file of certificates. Parsed with x509-parser, for `doctor` (does it
//! parse, what expires soon) and `ca install` (is a download a real bundle).

use std::time::{Duration, SystemTime};

/// How far ahead `doctor` warns about an expiring certificate.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(90 * 24 * 3600);

#[derive(Debug)]
pub struct Certificate {
    pub subject: String,
    pub not_after: SystemTime,
}

/// Every certificate in `bytes`; an error names the first thing that is not a certificate.
pub fn parse(bytes: &[u8]) -> Result<Vec<Certificate>, String> {
    let mut certificates = Vec::new();
    for (index, block) in x509_parser::pem::Pem::iter_from_buffer(bytes).enumerate() {
        let block = block.map_err(|e| format!("PEM block {} is broken: {e}", index + 1))?;
        if block.label != "CERTIFICATE" {
            continue;
        }
        let cert = block
            .parse_x509()
            .map_err(|e| format!("certificate {} does not parse: {e}", index + 1))?;
        certificates.push(Certificate {
            subject: cert.subject().to_string(),
            not_after: crate::clock::from_unix_seconds(cert.validity().not_after.timestamp()),
        });
    }
    if certificates.is_empty() {
        return Err("it holds no PEM certificate".to_string());
    }
    Ok(certificates)
}

/// The certificates that expire before `now + EXPIRY_WARNING`.
pub fn expiring(certificates: &[Certificate], now: SystemTime) -> Vec<&Certificate> {
    certificates
        .iter()
        .filter(|c| c.not_after < now + EXPIRY_WARNING)
        .collect()
}
