//! Who is on the other end of a client connection: the uid that owns the client's socket.
//! A Unix socket's peer is asked of the kernel (`SO_PEERCRED` on Linux, `getpeereid` on
//! macOS, through tokio); a loopback TCP peer is looked up in the kernel's socket table, which
//! only Linux answers (NETLINK_SOCK_DIAG, see `linux.rs`). Elsewhere a TCP peer's owner is
//! unknown.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as platform;
#[cfg(all(unix, not(target_os = "linux")))]
mod other;
#[cfg(all(unix, not(target_os = "linux")))]
use other as platform;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as platform;

pub use platform::{UNCHECKABLE, own_uid};

use std::net::SocketAddr;

/// The owner of the client's end, or why it cannot be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    Uid(u32),
    Unknown(String),
}

/// The owner of the TCP socket that connected from `peer` to our `local` address.
pub fn tcp(peer: SocketAddr, local: SocketAddr) -> Peer {
    if !peer.ip().to_canonical().is_loopback() {
        return Peer::Unknown(format!(
            "{} is not on this machine, so it has no local user",
            peer.ip()
        ));
    }
    match platform::tcp_owner(canonical(peer), canonical(local)) {
        Ok(uid) => Peer::Uid(uid),
        Err(why) => Peer::Unknown(why),
    }
}

/// An IPv4 client of a dual-stack listener shows as `::ffff:a.b.c.d`; its socket is IPv4.
fn canonical(address: SocketAddr) -> SocketAddr {
    SocketAddr::new(address.ip().to_canonical(), address.port())
}
