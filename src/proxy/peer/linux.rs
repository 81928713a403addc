//! The owner of a loopback TCP connection on Linux, from the kernel's socket table:
//! `/proc/net/tcp` (or `tcp6`) has a line per socket with its local and remote address and the
//! uid that created it. The client's socket is the line whose local address is the peer's and
//! whose remote address is the proxy's side of the connection.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub fn tcp_owner(peer: SocketAddr, local: SocketAddr) -> Result<u32, String> {
    let table = match peer {
        SocketAddr::V4(_) => "/proc/net/tcp",
        SocketAddr::V6(_) => "/proc/net/tcp6",
    };
    let text = std::fs::read_to_string(table)
        .map_err(|e| format!("cannot read the kernel's socket table {table}: {e}"))?;
    owner_in(&text, peer, local).ok_or_else(|| {
        format!("no socket from {peer} to {local} in {table} (the client left, or runs in another network namespace)")
    })
}

/// The uid of the socket from `peer` to `local` in a table's text.
fn owner_in(text: &str, peer: SocketAddr, local: SocketAddr) -> Option<u32> {
    text.lines().skip(1).find_map(|line| {
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid ...
        let mut fields = line.split_whitespace().skip(1);
        let from = address(fields.next()?)?;
        let to = address(fields.next()?)?;
        let uid = fields.nth(4)?;
        (from == peer && to == local).then(|| uid.parse().ok())?
    })
}

/// `0100007F:1F90` (IPv4) or 32 hex digits and a port (IPv6). The kernel prints each 32-bit
/// word of the address as a number in the machine's byte order; the port as a plain number.
fn address(field: &str) -> Option<SocketAddr> {
    let (ip, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words: Vec<[u8; 4]> = (0..ip.len() / 8)
        .map(|i| u32::from_str_radix(ip.get(i * 8..i * 8 + 8)?, 16).ok())
        .collect::<Option<Vec<u32>>>()?
        .into_iter()
        .map(u32::to_ne_bytes)
        .collect();
    let ip = match words.as_slice() {
        [a] => IpAddr::V4(Ipv4Addr::from(*a)),
        [a, b, c, d] => {
            let mut bytes = [0u8; 16];
            for (i, word) in [a, b, c, d].into_iter().enumerate() {
                bytes[i * 4..i * 4 + 4].copy_from_slice(word);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Two lines of a real /proc/net/tcp (x86_64): the listener on 127.0.0.1:15432 and a psql
    // run as uid 65534 connected to it from port 43210.
    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:3C48 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:A8CA 0100007F:3C48 01 00000000:00000000 00:00000000 00000000 65534        0 2 1 0000000000000000 20 4 30 10 -1\n";

    #[test]
    fn the_client_socket_is_found_by_its_address_pair() {
        let peer: SocketAddr = "127.0.0.1:43210".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:15432".parse().unwrap();
        assert_eq!(owner_in(TABLE, peer, local), Some(65534));
        // The proxy's own side (reversed pair) and other ports are not the client.
        assert_eq!(owner_in(TABLE, local, peer), None);
        let elsewhere: SocketAddr = "127.0.0.1:43211".parse().unwrap();
        assert_eq!(owner_in(TABLE, elsewhere, local), None);
    }

    #[test]
    fn ipv6_addresses_are_four_words_in_machine_order() {
        // ::1 as the kernel prints it on a little-endian machine.
        let field = "00000000000000000000000001000000:1F90";
        if cfg!(target_endian = "little") {
            assert_eq!(address(field), Some("[::1]:8080".parse().unwrap()));
        }
    }

    #[test]
    fn a_real_connection_is_owned_by_this_process() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, peer) = listener.accept().unwrap();
        let uid = tcp_owner(peer, server.local_addr().unwrap()).unwrap();
        assert_eq!(uid, unsafe { libc::geteuid() });
        drop(client);
    }
}
