//! A connection's `tunnel` (an SSH/SSM port forward) accepts TCP.

use super::{Check, CheckId};
use crate::config::Connection;
use std::time::Duration;

pub fn check(connection: &Connection) -> Option<Check> {
    let tunnel = connection.tunnel?;
    Some(
        match std::net::TcpStream::connect_timeout(&tunnel.addr(), Duration::from_secs(3)) {
            Ok(_) => Check::ok(CheckId::Tunnel, format!("{tunnel} accepts connections")),
            Err(err) => Check::fail(CheckId::Tunnel, format!("{tunnel}: {err}")).fix(format!(
                "start the port forward, e.g. `ssh -N -L {}:{}:{} BASTION` or `aws ssm start-session --document-name AWS-StartPortForwardingSessionToRemoteHost ...`",
                tunnel.port(),
                connection.host,
                connection.port
            )),
        },
    )
}
