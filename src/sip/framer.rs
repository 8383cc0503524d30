//! Stream framing for SIP over TCP/TLS (RFC 3261 §18.3) with the RFC 5626
//! §3.5.1 CRLF keep-alive mechanism.
//!
//! The framer only finds message boundaries: it locates the blank line that
//! ends the header section and the Content-Length header, and hands out
//! complete messages as [`bytes::Bytes`].  Apply
//! [`Message::parse`](super::Message::parse) to them afterwards.

use bytes::{Buf, Bytes, BytesMut};

use super::message::{find_byte, find_crlf};

/// Default upper bound for one message (headers plus body), in bytes.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 * 1024;

/// One unit taken off a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete SIP message (start line, headers, blank line, body).
    Message(Bytes),
    /// A keep-alive ping, `CRLF CRLF` (received by a server).
    Ping,
    /// A keep-alive pong, a single `CRLF` (received by a client).
    Pong,
}

/// Which end of the connection the framer serves; it decides how leading
/// CRLFs are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Accepting side: `CRLF CRLF` is a ping; a lone CRLF before a start line
    /// is skipped (RFC 3261 §7.5).
    Server,
    /// Connecting side: each leading CRLF is a pong.
    Client,
}

/// Unrecoverable framing errors; the connection should be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The message is (or would become) larger than the configured limit.
    #[error("message exceeds the {limit}-byte limit")]
    TooLarge {
        /// The configured maximum message size.
        limit: usize,
    },
    /// A message on a stream transport has no Content-Length header.
    #[error("message on a stream transport has no Content-Length")]
    MissingContentLength,
    /// Content-Length is not a non-negative decimal number.
    #[error("malformed Content-Length")]
    BadContentLength,
    /// Content-Length appears more than once, so the framing is ambiguous.
    #[error("more than one Content-Length header")]
    DuplicateContentLength,
}

/// Splits a byte stream into SIP messages and keep-alives.
#[derive(Debug, Clone)]
pub struct Framer {
    role: Role,
    max: usize,
    /// Bytes of the buffer front already searched for the blank line.
    scanned: usize,
    /// Total length of the message at the buffer front, once its headers are known.
    pending: Option<usize>,
}

impl Framer {
    /// Creates a framer for `role` that rejects messages larger than
    /// `max_message_size` bytes.
    pub fn new(role: Role, max_message_size: usize) -> Framer {
        Framer {
            role,
            max: max_message_size,
            scanned: 0,
            pending: None,
        }
    }

    /// The configured maximum message size.
    pub fn max_message_size(&self) -> usize {
        self.max
    }

    /// Takes one frame off the front of `buf` (consuming its bytes) or
    /// returns `Ok(None)` when more bytes are needed.
    ///
    /// Call it with the same buffer each time, appending newly received
    /// bytes, until it returns `Ok(None)`.  After an error the stream cannot
    /// be resynchronised and should be closed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        loop {
            if let Some(total) = self.pending {
                if buf.len() < total {
                    return Ok(None);
                }
                self.pending = None;
                self.scanned = 0;
                return Ok(Some(Frame::Message(cut(buf, total))));
            }
            if buf.starts_with(b"\r\n") {
                match self.role {
                    Role::Client => {
                        buf.advance(2);
                        self.scanned = 0;
                        return Ok(Some(Frame::Pong));
                    }
                    Role::Server => match buf.get(2..4) {
                        Some(b"\r\n") => {
                            buf.advance(4);
                            self.scanned = 0;
                            return Ok(Some(Frame::Ping));
                        }
                        // "\r\n" or "\r\n\r": could still become a ping.
                        None if buf.get(2).is_none_or(|&b| b == b'\r') => return Ok(None),
                        // Stray CRLF before a start line.
                        _ => {
                            buf.advance(2);
                            self.scanned = 0;
                            continue;
                        }
                    },
                }
            }
            if buf.is_empty() {
                return Ok(None);
            }
            return self.decode_message(buf);
        }
    }

    fn decode_message(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        let limit = buf.len().min(self.max);
        let from = self.scanned.saturating_sub(3).min(limit);
        let window = buf.get(from..limit).unwrap_or_default();
        let Some(rel) = find_blank_line(window) else {
            if buf.len() >= self.max {
                return Err(FrameError::TooLarge { limit: self.max });
            }
            self.scanned = limit;
            return Ok(None);
        };
        let head_len = from + rel + 4;
        let head = buf.get(..head_len).unwrap_or_default();
        let body_len = content_length(head)?;
        let total = head_len
            .checked_add(body_len)
            .filter(|&t| t <= self.max)
            .ok_or(FrameError::TooLarge { limit: self.max })?;
        self.pending = Some(total);
        if buf.len() < total {
            return Ok(None);
        }
        self.pending = None;
        self.scanned = 0;
        Ok(Some(Frame::Message(cut(buf, total))))
    }
}

/// The first `len` bytes of `buf`, taken off it. A frame that is the whole buffer (the usual
/// case: one message per read) takes the buffer itself, which costs no allocation; a frame
/// followed by more bytes shares the buffer's allocation with what remains.
fn cut(buf: &mut BytesMut, len: usize) -> Bytes {
    if len == buf.len() {
        std::mem::take(buf).freeze()
    } else {
        buf.split_to(len).freeze()
    }
}

/// The offset of the first `CRLF CRLF` in `hay`.  Jumps from LF to LF, so
/// each header line costs one fast byte search.
fn find_blank_line(hay: &[u8]) -> Option<usize> {
    let mut i = 3;
    loop {
        let nl = i + find_byte(hay.get(i..)?, b'\n')?;
        if hay.get(nl - 3..nl) == Some(b"\r\n\r") {
            return Some(nl - 3);
        }
        i = nl + 1;
    }
}

/// Finds the Content-Length (or compact `l`) header in a header section and
/// parses its value, allowing folded whitespace.
fn content_length(head: &[u8]) -> Result<usize, FrameError> {
    let mut found: Option<usize> = None;
    // Skip the start line.
    let mut pos = match find_crlf(head, 0) {
        Some(p) => p + 2,
        None => return Err(FrameError::MissingContentLength),
    };
    while pos < head.len() {
        let Some(eol) = find_crlf(head, pos) else {
            break;
        };
        let line_start = pos;
        let line = head.get(pos..eol).unwrap_or_default();
        pos = eol + 2;
        // Only a name starting with `c` or `l` can match.  This also skips
        // empty lines and continuations (lines starting with SP/HTAB).
        if !matches!(line.first(), Some(b'c' | b'C' | b'l' | b'L')) {
            continue;
        }
        let Some(colon) = find_byte(line, b':') else {
            continue;
        };
        let name = trim(line.get(..colon).unwrap_or_default());
        if !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")) {
            continue;
        }
        if found.is_some() {
            return Err(FrameError::DuplicateContentLength);
        }
        // The value may continue on folded lines.
        let mut value_end = eol;
        while head.get(value_end + 2).is_some_and(|&b| b == b' ' || b == b'\t') {
            match find_crlf(head, value_end + 2) {
                Some(e) => value_end = e,
                None => break,
            }
        }
        pos = value_end + 2;
        let value = head.get(line_start + colon + 1..value_end);
        found = Some(parse_length(value.unwrap_or_default())?);
    }
    found.ok_or(FrameError::MissingContentLength)
}

/// Parses `LWS 1*DIGIT LWS`; very large values saturate (and then exceed any limit).
fn parse_length(v: &[u8]) -> Result<usize, FrameError> {
    let mut n: usize = 0;
    let mut seen_digit = false;
    let mut after_digits = false;
    for &b in v {
        match b {
            b'0'..=b'9' if !after_digits => {
                seen_digit = true;
                n = n.saturating_mul(10).saturating_add(usize::from(b - b'0'));
            }
            b' ' | b'\t' | b'\r' | b'\n' => {
                if seen_digit {
                    after_digits = true;
                }
            }
            _ => return Err(FrameError::BadContentLength),
        }
    }
    if seen_digit {
        Ok(n)
    } else {
        Err(FrameError::BadContentLength)
    }
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| b != b' ' && b != b'\t').unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or_default()
}

/// Appends a keep-alive ping (`CRLF CRLF`, sent by clients).
pub fn encode_ping(out: &mut Vec<u8>) {
    out.extend_from_slice(b"\r\n\r\n");
}

/// Appends a keep-alive pong (`CRLF`, sent by servers in answer to a ping).
pub fn encode_pong(out: &mut Vec<u8>) {
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::strategies;
    use proptest::prelude::*;

    fn drain(framer: &mut Framer, buf: &mut BytesMut, out: &mut Vec<Frame>) -> Result<(), FrameError> {
        while let Some(f) = framer.decode(buf)? {
            out.push(f);
        }
        Ok(())
    }

    const OPTIONS: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nl: 3\r\n\r\nabc";

    #[test]
    fn server_keepalives() {
        let mut f = Framer::new(Role::Server, 1024);
        let mut buf = BytesMut::from(&b"\r\n"[..]);
        assert_eq!(f.decode(&mut buf), Ok(None));
        buf.extend_from_slice(b"\r");
        assert_eq!(f.decode(&mut buf), Ok(None));
        buf.extend_from_slice(b"\n");
        assert_eq!(f.decode(&mut buf), Ok(Some(Frame::Ping)));
        assert!(buf.is_empty());
        // Stray CRLF before a start line is skipped.
        buf.extend_from_slice(b"\r\n");
        buf.extend_from_slice(OPTIONS);
        assert_eq!(
            f.decode(&mut buf),
            Ok(Some(Frame::Message(Bytes::from_static(OPTIONS))))
        );
        assert_eq!(f.decode(&mut buf), Ok(None));
    }

    #[test]
    fn client_pongs() {
        let mut f = Framer::new(Role::Client, 1024);
        let mut buf = BytesMut::from(&b"\r\n\r\n"[..]);
        buf.extend_from_slice(OPTIONS);
        let mut out = Vec::new();
        drain(&mut f, &mut buf, &mut out).unwrap();
        assert_eq!(
            out,
            [Frame::Pong, Frame::Pong, Frame::Message(Bytes::from_static(OPTIONS))]
        );
    }

    #[test]
    fn errors() {
        let mut f = Framer::new(Role::Server, 64);
        let mut buf = BytesMut::from(&b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n"[..]);
        assert_eq!(f.decode(&mut buf), Err(FrameError::MissingContentLength));

        let mut f = Framer::new(Role::Server, 64);
        let mut buf = BytesMut::from(&b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n"[..]);
        assert_eq!(f.decode(&mut buf), Err(FrameError::BadContentLength));

        let mut f = Framer::new(Role::Server, 64);
        let mut buf = BytesMut::from(&b"OPTIONS sip:a@b SIP/2.0\r\nl: 1\r\nl: 1\r\n\r\nx"[..]);
        assert_eq!(f.decode(&mut buf), Err(FrameError::DuplicateContentLength));

        // Declared body would exceed the limit: rejected before it arrives.
        let mut f = Framer::new(Role::Server, 64);
        let mut buf = BytesMut::from(&b"OPTIONS sip:a@b SIP/2.0\r\nl: 40\r\n\r\n"[..]);
        assert_eq!(f.decode(&mut buf), Err(FrameError::TooLarge { limit: 64 }));

        // Headers not terminated within the limit.
        let mut f = Framer::new(Role::Server, 64);
        let mut buf = BytesMut::new();
        let mut res = Ok(None);
        for _ in 0..64 {
            buf.extend_from_slice(b"a");
            res = f.decode(&mut buf);
            if res.is_err() {
                break;
            }
        }
        assert_eq!(res, Err(FrameError::TooLarge { limit: 64 }));
        assert_eq!(buf.len(), 64, "never buffers beyond the limit");

        // Huge Content-Length saturates into TooLarge.
        let mut f = Framer::new(Role::Server, DEFAULT_MAX_MESSAGE_SIZE);
        let mut buf = BytesMut::from(&b"OPTIONS sip:a@b SIP/2.0\r\nl: 99999999999999999999999\r\n\r\n"[..]);
        assert!(matches!(f.decode(&mut buf), Err(FrameError::TooLarge { .. })));
        assert_eq!(f.max_message_size(), DEFAULT_MAX_MESSAGE_SIZE);
    }

    #[test]
    fn folded_content_length() {
        let msg = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length:\r\n 2\r\n\r\nhi";
        let mut f = Framer::new(Role::Server, 1024);
        let mut buf = BytesMut::from(&msg[..]);
        assert_eq!(f.decode(&mut buf), Ok(Some(Frame::Message(Bytes::from_static(msg)))));
    }

    #[test]
    fn keepalive_encoders() {
        let mut v = Vec::new();
        encode_ping(&mut v);
        encode_pong(&mut v);
        assert_eq!(v, b"\r\n\r\n\r\n");
    }

    #[derive(Debug, Clone)]
    enum Item {
        Msg(Vec<u8>),
        KeepAlive,
    }

    fn item() -> impl Strategy<Value = Item> {
        prop_oneof![
            3 => strategies::message().prop_map(|m| {
                let mut v = Vec::new();
                m.encode(&mut v);
                Item::Msg(v)
            }),
            1 => Just(Item::KeepAlive),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_splits_yield_original_frames(
            items in proptest::collection::vec(item(), 1..6),
            server in any::<bool>(),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let role = if server { Role::Server } else { Role::Client };
            let mut stream = Vec::new();
            let mut expected = Vec::new();
            for it in &items {
                match it {
                    Item::Msg(m) => {
                        stream.extend_from_slice(m);
                        expected.push(Frame::Message(Bytes::copy_from_slice(m)));
                    }
                    Item::KeepAlive if server => {
                        encode_ping(&mut stream);
                        expected.push(Frame::Ping);
                    }
                    Item::KeepAlive => {
                        encode_pong(&mut stream);
                        expected.push(Frame::Pong);
                    }
                }
            }
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
            points.push(stream.len());
            points.sort_unstable();
            let mut framer = Framer::new(role, DEFAULT_MAX_MESSAGE_SIZE);
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            let mut prev = 0;
            for p in points {
                buf.extend_from_slice(&stream[prev..p]);
                prev = p;
                drain(&mut framer, &mut buf, &mut got).unwrap();
            }
            prop_assert!(buf.is_empty());
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn decode_never_panics(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8),
            server in any::<bool>(),
            max in 0usize..256,
        ) {
            let role = if server { Role::Server } else { Role::Client };
            let mut framer = Framer::new(role, max);
            let mut buf = BytesMut::new();
            for c in chunks {
                buf.extend_from_slice(&c);
                let mut out = Vec::new();
                if drain(&mut framer, &mut buf, &mut out).is_err() {
                    break;
                }
                prop_assert!(buf.len() <= max.max(4));
                for f in out {
                    if let Frame::Message(b) = f {
                        let _ = crate::sip::Message::parse(&b);
                    }
                }
            }
        }
    }
}
