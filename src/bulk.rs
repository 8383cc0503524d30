//! The bulk-record protocol, pure and I/O-free.
//!
//! A `records` phase measures how fast application data moves over an established TLS session.
//! The client asks the reference server to switch the connection to raw streaming with an
//! OPTIONS request carrying `X-Sipbench-Bulk: sink` (the server reads and discards) or
//! `X-Sipbench-Bulk: echo` (the server writes every byte back). After the 200, the client
//! streams; when it is done it closes its sending side, and the server answers with one
//! trailer line, `SIPBENCH-BULK <bytes> <crc32 hex>\r\n`, over everything it received, then
//! closes. The client checks byte count and CRC-32 against what it sent (and, in echo mode,
//! against what came back), so corrupted or lost bytes are a counted failure.

/// The header that asks for bulk mode.
pub const HEADER: &str = "X-Sipbench-Bulk";
/// Start of the trailer line.
pub const TRAILER_PREFIX: &[u8] = b"SIPBENCH-BULK ";
/// Longest possible trailer line (prefix, up to 20 digits, space, 8 hex digits, CRLF).
pub const TRAILER_MAX: usize = 14 + 20 + 1 + 8 + 2;

/// What the server does with the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkMode {
    /// Read and discard.
    Sink,
    /// Write every byte back.
    Echo,
}

impl BulkMode {
    /// Header value.
    pub fn as_str(self) -> &'static str {
        match self {
            BulkMode::Sink => "sink",
            BulkMode::Echo => "echo",
        }
    }

    /// Parses a header value.
    pub fn parse(value: &str) -> Option<BulkMode> {
        match value.trim() {
            v if v.eq_ignore_ascii_case("sink") => Some(BulkMode::Sink),
            v if v.eq_ignore_ascii_case("echo") => Some(BulkMode::Echo),
            _ => None,
        }
    }
}

/// The trailer line for `bytes` received with CRC-32 `crc`.
pub fn trailer(bytes: u64, crc: u32) -> String {
    format!("SIPBENCH-BULK {bytes} {crc:08x}\r\n")
}

/// Parses a trailer line (with or without its CRLF).
pub fn parse_trailer(line: &[u8]) -> Option<(u64, u32)> {
    let text = std::str::from_utf8(line.strip_prefix(TRAILER_PREFIX)?).ok()?;
    let mut parts = text.trim_end_matches(['\r', '\n']).split(' ');
    let bytes = parts.next()?.parse().ok()?;
    let crc = u32::from_str_radix(parts.next()?, 16).ok()?;
    parts.next().is_none().then_some((bytes, crc))
}

/// A deterministic pseudo-random pattern (xorshift64) of `len` bytes, so that streamed data is
/// not trivially compressible or constant.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Running CRC-32 and byte count of a stream whose last line is the trailer: everything but the
/// last [`TRAILER_MAX`] bytes is hashed as it arrives; at the end the held-back tail is split
/// into data and trailer.
#[derive(Debug, Default)]
pub struct TrailedStream {
    crc: crc32fast::Hasher,
    bytes: u64,
    tail: Vec<u8>,
}

impl TrailedStream {
    /// Empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds received bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.tail.extend_from_slice(data);
        if self.tail.len() > 2 * TRAILER_MAX {
            let keep_from = self.tail.len() - TRAILER_MAX;
            self.crc.update(&self.tail[..keep_from]);
            self.bytes += keep_from as u64;
            self.tail.drain(..keep_from);
        }
    }

    /// At end of stream: (data bytes, CRC-32 of the data, the trailer's byte count and CRC), or
    /// `None` when the stream did not end with a trailer line.
    pub fn finish(mut self) -> Option<(u64, u32, (u64, u32))> {
        let start = self
            .tail
            .windows(TRAILER_PREFIX.len())
            .rposition(|w| w == TRAILER_PREFIX)?;
        let trailer = parse_trailer(&self.tail[start..])?;
        self.crc.update(&self.tail[..start]);
        self.bytes += start as u64;
        Some((self.bytes, self.crc.finalize(), trailer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_round_trips() {
        let t = trailer(123_456_789, 0xdead_beef);
        assert!(t.len() <= TRAILER_MAX);
        assert_eq!(parse_trailer(t.as_bytes()), Some((123_456_789, 0xdead_beef)));
        assert_eq!(parse_trailer(b"SIPBENCH-BULK x 1\r\n"), None);
        assert_eq!(parse_trailer(b"SIPBENCH-BULK 1 2 3\r\n"), None);
        assert_eq!(trailer(u64::MAX, u32::MAX).len(), TRAILER_MAX);
    }

    #[test]
    fn trailed_stream_splits_data_from_trailer_in_any_chunking() {
        let data = pattern(100_000, 7);
        let crc = crc32fast::hash(&data);
        let mut wire = data.clone();
        wire.extend_from_slice(trailer(data.len() as u64, crc).as_bytes());
        for chunk in [1, 7, 45, 1000, 65536] {
            let mut s = TrailedStream::new();
            for c in wire.chunks(chunk) {
                s.update(c);
            }
            assert_eq!(
                s.finish(),
                Some((data.len() as u64, crc, (data.len() as u64, crc))),
                "chunk {chunk}"
            );
        }
        // Without a trailer: None.
        let mut s = TrailedStream::new();
        s.update(&data);
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn pattern_is_deterministic_and_varied() {
        assert_eq!(pattern(1000, 3), pattern(1000, 3));
        assert_ne!(pattern(1000, 3), pattern(1000, 4));
        let p = pattern(4096, 9);
        assert!(p.iter().collect::<std::collections::HashSet<_>>().len() > 200);
        assert_eq!(BulkMode::parse(" Echo "), Some(BulkMode::Echo));
        assert_eq!(BulkMode::parse("both"), None);
    }
}
