//! Systems without a readable socket table (macOS, the BSDs): a TCP peer's owner is unknown,
//! so only a local password (`--local-password-file`) or `--allow-any-local-user` lets a TCP
//! client in; the Unix socket's peer is still checked.

use std::net::SocketAddr;

pub fn tcp_owner(_peer: SocketAddr, _local: SocketAddr) -> Result<u32, String> {
    Err("this system does not tell who owns a TCP connection".to_string())
}
