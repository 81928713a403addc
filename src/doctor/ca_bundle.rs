//! The CA bundle clients verify the server with: present, PEM, and which certificates expire
//! within 90 days.

use super::{Check, CheckId};
use crate::ca_bundle;
use crate::clients;
use crate::config::{Connection, TrustAnchors};

pub fn check(connection: &Connection) -> Check {
    if connection.trust_anchors() == TrustAnchors::System {
        return system_store(connection);
    }
    let path = clients::ca_bundle(connection);
    let install = format!(
        "`rdsiam-helper ca install --path {}`",
        clients::shell_quote(&path.display().to_string())
    );
    let bytes = match crate::files::read_limited(&path) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            return Check::fail(
                CheckId::CaBundle,
                format!("{} does not exist", path.display()),
            )
            .fix(install);
        }
        Err(err) => return Check::fail(CheckId::CaBundle, err.one_line()).fix(install),
    };
    let certificates = match ca_bundle::parse(&bytes) {
        Ok(certificates) => certificates,
        Err(problem) => {
            return Check::fail(CheckId::CaBundle, format!("{}: {problem}", path.display()))
                .fix(install);
        }
    };
    let expiring = ca_bundle::expiring(&certificates, crate::clock::now());
    if expiring.is_empty() {
        return Check::ok(
            CheckId::CaBundle,
            format!("{} ({} certificates)", path.display(), certificates.len()),
        );
    }
    let names: Vec<String> = expiring
        .iter()
        .map(|c| format!("{} ({})", c.subject, crate::clock::rfc3339(c.not_after)))
        .collect();
    Check::warn(
        CheckId::CaBundle,
        format!(
            "{}: {} of {} certificates expire within 90 days: {}",
            path.display(),
            expiring.len(),
            certificates.len(),
            names.join("; ")
        ),
    )
    .fix(install)
}

/// Aurora DSQL's default: the OS store, as one file for the clients that take a path. The OS
/// keeps it current, and `ca install` writes the RDS bundle, so neither expiry warnings nor
/// that fix apply.
fn system_store(connection: &Connection) -> Check {
    let path = clients::ca_bundle(connection);
    let fix = "install the operating system's CA certificates (e.g. the ca-certificates package), or set `ca_bundle`";
    let certificates = match crate::files::read_limited(&path) {
        Ok(Some(bytes)) => ca_bundle::parse(&bytes),
        Ok(None) => Err(format!("{} does not exist", path.display())),
        Err(err) => Err(err.one_line()),
    };
    match certificates {
        Ok(certificates) => Check::ok(
            CheckId::CaBundle,
            format!(
                "the system trust store, {} ({} certificates): Aurora DSQL's certificates are publicly trusted",
                path.display(),
                certificates.len()
            ),
        ),
        Err(problem) => Check::fail(
            CheckId::CaBundle,
            format!("the system trust store, {}: {problem}", path.display()),
        )
        .fix(fix),
    }
}
