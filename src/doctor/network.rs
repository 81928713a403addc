//! DNS and TCP to the endpoint. Through a tunnel neither is needed here (clients dial the
//! tunnel; the endpoint's name, often private, resolves at the tunnel's far end).

use super::{Check, CheckId};
use crate::config::Connection;
use std::net::ToSocketAddrs;
use std::time::Duration;

pub fn check(connection: &Connection) -> Vec<Check> {
    if let Some(tunnel) = connection.tunnel {
        return vec![Check::skip(
            CheckId::Dns,
            format!(
                "clients dial the tunnel {tunnel}; {} need not resolve here",
                connection.host
            ),
        )];
    }
    let mut checks = Vec::new();
    let addresses: Vec<_> = match (connection.host.as_str(), connection.port.get())
        .to_socket_addrs()
    {
        Ok(found) => found.collect(),
        Err(err) => {
            checks.push(
                Check::fail(CheckId::Dns, format!("{}: {err}", connection.host))
                    .fix("check the host name; a private endpoint resolves only inside the VPC (use a VPN, or `tunnel`)"),
            );
            Vec::new()
        }
    };
    if !addresses.is_empty() {
        let shown: Vec<String> = addresses.iter().map(|a| a.ip().to_string()).collect();
        checks.push(Check::ok(
            CheckId::Dns,
            format!("{} -> {}", connection.host, shown.join(", ")),
        ));
    }
    let Some(address) = addresses.first() else {
        return checks;
    };
    checks.push(
        match std::net::TcpStream::connect_timeout(address, Duration::from_secs(3)) {
            Ok(_) => Check::ok(CheckId::Tcp, format!("{address} accepts connections")),
            Err(err) => Check::fail(CheckId::Tcp, format!("{address}: {err}")).fix(
                "the security group must allow this address on the port; a private instance needs a VPN or a `tunnel`",
            ),
        },
    );
    checks
}
