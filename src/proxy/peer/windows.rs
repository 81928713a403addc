//! Windows tells no one which user owns a loopback TCP connection (its TCP table has the
//! process, and reading another user's process needs rights we lack), so the proxy does not
//! start without a local password or `--allow-any-local-user`.

use std::net::SocketAddr;

pub const UNCHECKABLE: Option<&str> =
    Some("Windows does not tell which user owns a loopback TCP connection");

pub fn tcp_owner(_peer: SocketAddr, _local: SocketAddr) -> Result<u32, String> {
    Err(UNCHECKABLE.unwrap_or_default().to_string())
}

/// Windows has no uid; no peer is ever a `Peer::Uid`, so this matches none.
pub fn own_uid() -> u32 {
    u32::MAX
}
