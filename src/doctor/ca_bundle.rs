//! The CA bundle clients verify the server with: present, PEM, and which certificates expire
//! within 90 days.

use super::Check;
use crate::ca_bundle;
use crate::clients;
use crate::config::Connection;

pub fn check(connection: &Connection) -> Check {
    let path = clients::ca_bundle(connection);
    let install = format!(
        "`rdsiam-helper ca install --path {}`",
        clients::shell_quote(&path.display().to_string())
    );
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) => {
            return Check::fail("ca_bundle", format!("{}: {err}", path.display())).fix(install);
        }
    };
    let certificates = match ca_bundle::parse(&bytes) {
        Ok(certificates) => certificates,
        Err(problem) => {
            return Check::fail("ca_bundle", format!("{}: {problem}", path.display())).fix(install);
        }
    };
    let expiring = ca_bundle::expiring(&certificates, crate::clock::now());
    if expiring.is_empty() {
        return Check::ok(
            "ca_bundle",
            format!("{} ({} certificates)", path.display(), certificates.len()),
        );
    }
    let names: Vec<String> = expiring
        .iter()
        .map(|c| format!("{} ({})", c.subject, crate::clock::rfc3339(c.not_after)))
        .collect();
    Check::warn(
        "ca_bundle",
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
