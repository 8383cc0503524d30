//! Stream framing: `Framer::decode` (server and client role, a small maximum message size and
//! the default) on a byte stream delivered in chunks cut where the input says.
//!
//! Input: byte 0 picks the role (bit 0: client) and the maximum message size (bits 1-2: the
//! default, 64, 256 or 1024 bytes); bytes 1-4 are the chunk lengths, used in turn (each byte + 1,
//! so 1 to 256 bytes); the rest is the stream.
//!
//! Must hold: no panic; the frames and the final error (or the bytes left waiting) are the same
//! as when the whole stream is decoded at once; no frame is larger than the maximum; and whenever
//! the framer asks for more bytes, what it holds is below the maximum (it cannot be made to
//! buffer without bound).
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sipbench::sip::{DEFAULT_MAX_MESSAGE_SIZE, Frame, FrameError, Framer, Message, Role};

const HEADER: usize = 5;

/// What decoding produced: the frames in order, then the error that stopped it, if any.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    frames: Vec<Frame>,
    error: Option<FrameError>,
    left: Vec<u8>,
}

/// Decodes everything `buf` holds; false once the framer has failed.
fn drain(framer: &mut Framer, buf: &mut BytesMut, out: &mut Outcome) -> bool {
    let max = framer.max_message_size();
    loop {
        match framer.decode(buf) {
            Ok(Some(frame)) => {
                if let Frame::Message(m) = &frame {
                    assert!(m.len() <= max, "a {}-byte frame over the {max}-byte limit", m.len());
                    let _ = Message::parse(m);
                }
                out.frames.push(frame);
            }
            Ok(None) => {
                assert!(
                    buf.len() < max.max(4),
                    "the framer waits for more with {} bytes held (limit {max})",
                    buf.len()
                );
                return true;
            }
            Err(e) => {
                out.error = Some(e);
                return false;
            }
        }
    }
}

fn decode(role: Role, max: usize, stream: &[u8], chunks: &[usize]) -> Outcome {
    let mut framer = Framer::new(role, max);
    let mut buf = BytesMut::new();
    let mut out = Outcome {
        frames: Vec::new(),
        error: None,
        left: Vec::new(),
    };
    let mut rest = stream;
    let mut i = 0;
    while !rest.is_empty() {
        let n = chunks[i % chunks.len()].min(rest.len());
        i += 1;
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        if !drain(&mut framer, &mut buf, &mut out) {
            return out;
        }
    }
    out.left = buf.to_vec();
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < HEADER {
        return;
    }
    let role = if data[0] & 1 == 0 { Role::Server } else { Role::Client };
    let max = [DEFAULT_MAX_MESSAGE_SIZE, 64, 256, 1024][usize::from((data[0] >> 1) & 3)];
    let chunks: Vec<usize> = data[1..HEADER].iter().map(|&b| usize::from(b) + 1).collect();
    let stream = &data[HEADER..];

    let whole = decode(role, max, stream, &[stream.len().max(1)]);
    let chunked = decode(role, max, stream, &chunks);
    assert_eq!(
        whole, chunked,
        "chunking {chunks:?} changed what the {role:?} framer (max {max}) decodes"
    );
    let bytes = byte_by_byte(role, max, stream);
    assert_eq!(
        whole, bytes,
        "byte-by-byte delivery changed what the {role:?} framer (max {max}) decodes"
    );
});

fn byte_by_byte(role: Role, max: usize, stream: &[u8]) -> Outcome {
    decode(role, max, stream, &[1])
}
