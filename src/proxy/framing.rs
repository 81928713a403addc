//! Where PostgreSQL messages begin in a byte stream that arrives in chunks of any size. The
//! relay forwards the chunks as they are (no copy per message); this only walks their
//! headers, so the proxy knows when the client says Terminate and whether the server is idle,
//! which is what deciding to keep a server connection needs.

/// A message header: its type byte and, when the chunk holds it, the first byte of its body
/// (ReadyForQuery's transaction status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: u8,
    /// Where the message starts in the chunk.
    pub at: usize,
    pub first_byte: Option<u8>,
}

/// The walk's state between chunks: how much of the current message's body is still to come.
#[derive(Debug, Default)]
pub struct Frames {
    left: usize,
}

/// What the caller does after a header: go on, or stop before this message.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Go,
    Stop,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Scanned {
    /// Every byte up to here may be forwarded; the rest (under a whole header) is held back
    /// and comes again at the start of the next chunk.
    Upto(usize),
    /// The callback stopped before the message at this offset.
    Stopped(usize),
}

impl Frames {
    /// Inside a message whose end has not arrived yet.
    pub fn mid_message(&self) -> bool {
        self.left != 0
    }

    /// Walks `chunk`, calling `on_header` for each message that starts in it. A header cut
    /// by the chunk's end is held back (ReadyForQuery with its status byte), so the callback
    /// always sees a whole header and a Terminate is never half forwarded.
    pub fn scan(
        &mut self,
        chunk: &[u8],
        mut on_header: impl FnMut(Header) -> Step,
    ) -> Result<Scanned, String> {
        let mut at = self.left.min(chunk.len());
        self.left -= at;
        while at < chunk.len() {
            let rest = &chunk[at..];
            let needed = if rest[0] == b'Z' { 6 } else { 5 };
            if rest.len() < needed {
                return Ok(Scanned::Upto(at));
            }
            let length = i32::from_be_bytes(rest[1..5].try_into().expect("4 bytes"));
            if length < 4 {
                return Err(format!("a message of length {length}: not PostgreSQL"));
            }
            let header = Header {
                kind: rest[0],
                at,
                first_byte: rest.get(5).copied().filter(|_| length > 4),
            };
            if on_header(header) == Step::Stop {
                return Ok(Scanned::Stopped(at));
            }
            let total = 1 + length as usize;
            if total <= rest.len() {
                at += total;
            } else {
                self.left = total - rest.len();
                at = chunk.len();
            }
        }
        Ok(Scanned::Upto(chunk.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend(((body.len() + 4) as i32).to_be_bytes());
        m.extend(body);
        m
    }

    fn kinds(frames: &mut Frames, chunk: &[u8]) -> (Vec<(u8, Option<u8>)>, Scanned) {
        let mut seen = Vec::new();
        let scanned = frames
            .scan(chunk, |h| {
                // Only ReadyForQuery's first byte is held back for; others may be cut off.
                seen.push((h.kind, h.first_byte.filter(|_| h.kind == b'Z')));
                Step::Go
            })
            .unwrap();
        (seen, scanned)
    }

    #[test]
    fn messages_split_anywhere_are_each_seen_once() {
        let mut stream = message(b'T', &[7; 40]);
        stream.extend(message(b'D', &[1; 3000]));
        stream.extend(message(b'Z', b"I"));
        for cut in 0..stream.len() {
            let mut frames = Frames::default();
            let (mut seen, first) = kinds(&mut frames, &stream[..cut]);
            let Scanned::Upto(upto) = first else { panic!() };
            let (more, second) = kinds(&mut frames, &stream[upto..]);
            seen.extend(more);
            assert_eq!(
                seen,
                vec![(b'T', None), (b'D', None), (b'Z', Some(b'I'))],
                "cut at {cut}"
            );
            assert_eq!(second, Scanned::Upto(stream.len() - upto));
            assert!(!frames.mid_message());
        }
    }

    #[test]
    fn a_stop_names_where_the_message_starts() {
        let mut stream = message(b'Q', b"select 1\0");
        let terminate_at = stream.len();
        stream.extend(message(b'X', b""));
        let mut frames = Frames::default();
        let scanned = frames
            .scan(
                &stream,
                |h| if h.kind == b'X' { Step::Stop } else { Step::Go },
            )
            .unwrap();
        assert_eq!(scanned, Scanned::Stopped(terminate_at));
        // Half a Terminate is held back, never forwarded.
        let mut frames = Frames::default();
        assert_eq!(
            kinds(&mut frames, &stream[..terminate_at + 3]).1,
            Scanned::Upto(terminate_at)
        );
    }

    #[test]
    fn a_length_under_four_is_refused() {
        assert!(
            Frames::default()
                .scan(b"Q\0\0\0\x02", |_| Step::Go)
                .is_err()
        );
    }
}
