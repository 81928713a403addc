//! The PostgreSQL session after the login, when server connections are kept for reuse: bytes
//! both ways as they come (one read, one write per chunk, as a plain copy does), while the
//! message headers are watched to know, when the client says Terminate, whether the server is
//! idle and in no transaction, so that its connection can serve the next client.

use super::framing::{Frames, Scanned, Step};
use super::log::Record;
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Large enough for a pgbench round trip or a COPY chunk in one read.
const BUFFER: usize = 16 * 1024;

/// How the relay ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The client said Terminate while the server was idle (ReadyForQuery 'I' answered every
    /// query and Sync it sent, no extended-protocol batch open, nothing half read): the
    /// Terminate was not forwarded, and the connection can be reset and kept.
    Idle,
    /// Anything else: the connection is closed.
    Closed,
}

/// What both directions know of the server: queries and Syncs not yet answered by a
/// ReadyForQuery, and the last transaction status. The two directions run in one task, so
/// relaxed atomics are only there to share them between two futures.
struct State {
    unanswered: AtomicI64,
    status: AtomicU8,
}

pub async fn relay<C, U>(
    client: &mut C,
    upstream: &mut U,
    record: &mut Record,
) -> Result<Ended, String>
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let state = State {
        unanswered: AtomicI64::new(0),
        status: AtomicU8::new(b'I'),
    };
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut server_read, mut server_write) = tokio::io::split(upstream);
    let mut from_server = Frames::default();
    let mut server_held = 0usize;
    let outcome = {
        let upward = client_to_server(
            &mut client_read,
            &mut server_write,
            &state,
            &mut record.bytes_from_client,
        );
        let downward = server_to_client(
            &mut server_read,
            &mut client_write,
            &state,
            &mut from_server,
            &mut server_held,
            &mut record.bytes_to_client,
        );
        tokio::select! {
            up = upward => up,
            down = downward => down.map(|()| Upward::ServerClosed),
        }
    };
    match outcome {
        Ok(Upward::Terminate { extended_open }) => {
            let idle = !extended_open
                && state.unanswered.load(Ordering::Relaxed) == 0
                && state.status.load(Ordering::Relaxed) == b'I'
                && !from_server.mid_message()
                && server_held == 0;
            Ok(if idle { Ended::Idle } else { Ended::Closed })
        }
        Ok(Upward::ClientClosed) => Ok(Ended::Closed),
        Ok(Upward::ServerClosed) => {
            record.ending = "closed by the server";
            Ok(Ended::Closed)
        }
        Err(Broken::Io(err)) if quiet_end(&err) => {
            record.ending = "closed (reset)";
            Ok(Ended::Closed)
        }
        Err(Broken::Io(err)) if err.kind() == std::io::ErrorKind::UnexpectedEof => {
            record.ending = "closed by the server";
            Ok(Ended::Closed)
        }
        Err(Broken::Io(err)) => Err(format!(
            "the connection broke: {}",
            super::tls::io_text(&err)
        )),
        Err(Broken::Protocol(reason)) => Err(reason),
    }
}

enum Upward {
    Terminate { extended_open: bool },
    ClientClosed,
    ServerClosed,
}

enum Broken {
    Io(std::io::Error),
    Protocol(String),
}

impl From<std::io::Error> for Broken {
    fn from(err: std::io::Error) -> Broken {
        Broken::Io(err)
    }
}

/// A peer that resets or goes away with bytes unread has ended its session, not broken it.
fn quiet_end(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
    )
}

async fn client_to_server<R, W>(
    client: &mut R,
    server: &mut W,
    state: &State,
    counted: &mut u64,
) -> Result<Upward, Broken>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut frames = Frames::default();
    let mut buf = vec![0u8; BUFFER];
    let mut held = 0;
    // Parse, Bind, Execute, Describe, Close or Flush since the last Sync: a batch the server
    // has not finished, which a reset must not land in the middle of.
    let mut extended_open = false;
    loop {
        let n = client.read(&mut buf[held..]).await?;
        if n == 0 {
            return Ok(Upward::ClientClosed);
        }
        *counted += n as u64;
        let filled = held + n;
        let scanned = frames
            .scan(&buf[..filled], |header| {
                match header.kind {
                    b'X' => return Step::Stop,
                    b'Q' | b'F' => {
                        state.unanswered.fetch_add(1, Ordering::Relaxed);
                    }
                    b'S' => {
                        state.unanswered.fetch_add(1, Ordering::Relaxed);
                        extended_open = false;
                    }
                    b'P' | b'B' | b'E' | b'D' | b'C' | b'H' => extended_open = true,
                    _ => {}
                }
                Step::Go
            })
            .map_err(Broken::Protocol)?;
        let (upto, terminated) = match scanned {
            Scanned::Upto(upto) => (upto, false),
            Scanned::Stopped(at) => (at, true),
        };
        if upto > 0 {
            server.write_all(&buf[..upto]).await?;
            server.flush().await?;
        }
        if terminated {
            return Ok(Upward::Terminate { extended_open });
        }
        buf.copy_within(upto..filled, 0);
        held = filled - upto;
    }
}

async fn server_to_client<R, W>(
    server: &mut R,
    client: &mut W,
    state: &State,
    frames: &mut Frames,
    held: &mut usize,
    counted: &mut u64,
) -> Result<(), Broken>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; BUFFER];
    loop {
        let n = server.read(&mut buf[*held..]).await?;
        if n == 0 {
            return Ok(());
        }
        let filled = *held + n;
        let scanned = frames
            .scan(&buf[..filled], |header| {
                if header.kind == b'Z' {
                    state.unanswered.fetch_sub(1, Ordering::Relaxed);
                    if let Some(status) = header.first_byte {
                        state.status.store(status, Ordering::Relaxed);
                    }
                }
                Step::Go
            })
            .map_err(Broken::Protocol)?;
        let Scanned::Upto(upto) = scanned else {
            unreachable!("this walk never stops")
        };
        // A header held back here is what the server sent last: it goes out with the rest of
        // its message on the next read, so the client still gets every byte.
        client.write_all(&buf[..upto]).await?;
        client.flush().await?;
        *counted += upto as u64;
        buf.copy_within(upto..filled, 0);
        *held = filled - upto;
    }
}
