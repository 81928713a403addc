//! Systems without a readable socket table (macOS, the BSDs): a TCP peer's owner is unknown,
//! so only a local password (`--local-password-file`) or `--allow-any-local-user` lets a TCP
//! client in; the Unix socket's peer is still checked.

/// The proxy's owner is checked here (for a TCP peer or a Unix socket's).
pub const UNCHECKABLE: Option<&str> = None;
pub use crate::platform::privacy::own_uid;

use std::net::SocketAddr;

pub fn tcp_owner(_peer: SocketAddr, _local: SocketAddr) -> Result<u32, String> {
    Err("this system does not tell who owns a TCP connection".to_string())
}
