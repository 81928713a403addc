//! The owner of a loopback TCP connection on Linux, asked of the kernel through
//! NETLINK_SOCK_DIAG (what `ss` uses): one exact lookup of the client's socket, the one whose
//! local end is the peer's address and whose remote end is the proxy's, answered with the uid
//! that created it. An exact lookup costs the same however many sockets the machine has; reading
//! `/proc/net/tcp` would format every socket, TIME_WAIT ones included (tens of thousands after
//! a burst of short connections), for each client.

/// The proxy's owner is checked here (for a TCP peer or a Unix socket's).
pub const UNCHECKABLE: Option<&str> = None;
pub use crate::platform::privacy::own_uid;

use netlink_packet_core::{NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netlink_sys::{Socket, SocketAddr as NetlinkAddr};
use std::cell::RefCell;
use std::net::SocketAddr;

pub fn tcp_owner(peer: SocketAddr, local: SocketAddr) -> Result<u32, String> {
    // One socket per thread, kept: a client per query then costs a send and a receive, not a
    // new netlink socket each time. A socket that failed once is not trusted again.
    thread_local! {
        static KERNEL: RefCell<Option<Kernel>> = const { RefCell::new(None) };
    }
    KERNEL.with_borrow_mut(|kept| {
        let kernel = match kept {
            Some(kernel) => kernel,
            None => kept.insert(Kernel::open()?),
        };
        let answer = kernel.ask(peer, local);
        if matches!(answer, Err(Asked::Broken(_))) {
            *kept = None;
        }
        answer.map_err(|e| match e {
            Asked::Broken(text) | Asked::NoSocket(text) => text,
        })
    })
}

enum Asked {
    /// The netlink socket itself failed: the next lookup opens a new one.
    Broken(String),
    NoSocket(String),
}

struct Kernel {
    socket: Socket,
    sequence: u32,
    buffer: Vec<u8>,
}

impl Kernel {
    fn open() -> Result<Kernel, String> {
        let failed = |e: std::io::Error| format!("the kernel's socket table cannot be asked: {e}");
        let mut socket = Socket::new(NETLINK_SOCK_DIAG).map_err(failed)?;
        socket.bind_auto().map_err(failed)?;
        socket.connect(&NetlinkAddr::new(0, 0)).map_err(failed)?;
        Ok(Kernel {
            socket,
            sequence: 0,
            buffer: vec![0u8; 8192],
        })
    }

    fn ask(&mut self, peer: SocketAddr, local: SocketAddr) -> Result<u32, Asked> {
        let failed = |e: std::io::Error| {
            Asked::Broken(format!("the kernel's socket table cannot be asked: {e}"))
        };
        self.sequence = self.sequence.wrapping_add(1);
        let request = request(peer, local, self.sequence);
        self.socket.send(&request, 0).map_err(failed)?;
        let size = self
            .socket
            .recv(&mut &mut self.buffer[..], 0)
            .map_err(failed)?;
        let reply =
            NetlinkMessage::<SockDiagMessage>::deserialize(&self.buffer[..size]).map_err(|e| {
                Asked::Broken(format!(
                    "the kernel's socket table gave an unreadable answer: {e}"
                ))
            })?;
        // Each exact request has one answer; one for another request means the socket is out
        // of step, and it is not used again.
        if reply.header.sequence_number != self.sequence {
            return Err(Asked::Broken(
                "the kernel's socket table answered another question".to_string(),
            ));
        }
        match reply.payload {
            NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) => {
                Ok(response.header.uid)
            }
            _ => Err(Asked::NoSocket(format!(
                "the kernel knows no socket from {peer} to {local} (the client left, or runs in another network namespace)"
            ))),
        }
    }
}

/// An exact-match request (no dump) for the socket with local end `peer`, remote end `local`.
fn request(peer: SocketAddr, local: SocketAddr, sequence: u32) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST;
    header.sequence_number = sequence;
    let mut message = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family: if peer.is_ipv4() { AF_INET } else { AF_INET6 },
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::empty(),
            states: StateFlags::all(),
            socket_id: SocketId {
                source_port: peer.port(),
                destination_port: local.port(),
                source_address: peer.ip(),
                destination_address: local.ip(),
                interface_id: 0,
                // INET_DIAG_NOCOOKIE: match by addresses, not by a cookie from a dump.
                cookie: [0xff; 8],
            },
        })
        .into(),
    );
    message.finalize();
    let mut bytes = vec![0; message.buffer_len()];
    message.serialize(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_connection_is_owned_by_this_process_and_a_gone_one_by_nobody() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, peer) = listener.accept().unwrap();
        let local = server.local_addr().unwrap();
        // SAFETY: geteuid has no preconditions.
        assert_eq!(tcp_owner(peer, local), Ok(unsafe { libc::geteuid() }));
        // The reversed pair is the proxy's own socket, also ours; a made-up port is nobody's.
        let nowhere: SocketAddr = format!("127.0.0.1:{}", peer.port().wrapping_add(1))
            .parse()
            .unwrap();
        assert!(tcp_owner(nowhere, local).is_err());
        // The thread's netlink socket answers again after a miss, for many lookups.
        for _ in 0..100 {
            // SAFETY: geteuid has no preconditions.
            assert_eq!(tcp_owner(peer, local), Ok(unsafe { libc::geteuid() }));
        }
        drop(client);
    }

    #[test]
    fn ipv6_loopback_is_found_too() {
        let Ok(listener) = std::net::TcpListener::bind("[::1]:0") else {
            return; // no IPv6 on this machine
        };
        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, peer) = listener.accept().unwrap();
        // SAFETY: geteuid has no preconditions.
        let own = unsafe { libc::geteuid() };
        assert_eq!(tcp_owner(peer, server.local_addr().unwrap()), Ok(own));
    }
}
