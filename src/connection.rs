//! One SIP connection: the socket, the read buffer with its [`Framer`], and the output buffer.
//!
//! The client ([`crate::uac::SipClient`], used by the generator and the audit) and the server
//! ([`crate::server`]) read SIP through this one type, as mini-redis's `Connection` reads its
//! frames over the pure `frame` module: [`crate::sip`] cuts frames out of bytes, this type
//! moves the bytes. It does not parse messages or decide what a failure means; callers map
//! [`ConnError`] to their own failure kinds.
//!
//! Reading: [`Connection::read_frame`] returns the next frame, reading only when none is
//! buffered. A peer that answers a batch at once is served by [`Connection::decode_buffered`],
//! which takes the frames already read without touching the socket, and by
//! [`Connection::read_more`], one read into the buffer (the server uses both so that it can
//! answer a whole batch with one write and re-arm its idle timer on any bytes).
//!
//! Writing: bytes are queued into [`Connection::out`] and [`Connection::flush_out`] sends them
//! with one write and one flush.
//!
//! Memory: an idle connection holds no buffer. Reads go through a scratch buffer on the stack
//! (alive only while a read is polled, not while it waits), and only the bytes that came are
//! kept; the read buffer grows with a message as it arrives (up to the maximum message size)
//! and is released once every frame in it has been cut out. The output buffer is released
//! once flushed. A held session therefore costs its socket and TLS state, not SIP buffers
//! sized for the largest message.

use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::failure::FailureKind;
use crate::sip::{Frame, FrameError, Framer, Role};

/// Why a connection could not produce a frame.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// The socket (or the TLS layer in it) failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The bytes do not frame as SIP; the stream cannot be resynchronised.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The peer closed its side in the middle of a frame.
    #[error("the peer closed the connection in the middle of a message ({buffered} bytes buffered)")]
    Truncated {
        /// Bytes of the unfinished frame that had arrived.
        buffered: usize,
    },
}

impl From<ConnError> for FailureKind {
    /// The failure a connection error counts as: I/O errors as the TLS stack or transport
    /// classifies them ([`crate::tls::classify_io`]), framing errors as `sip-protocol:<error>`,
    /// and a close in the middle of a message as a reset, like a close before any of it.
    fn from(e: ConnError) -> FailureKind {
        match e {
            ConnError::Io(e) => crate::tls::classify_io(&e),
            ConnError::Frame(e) => FailureKind::SipProtocol(crate::failure::variant_kebab(&format!("{e:?}"))),
            ConnError::Truncated { .. } => FailureKind::Reset,
        }
    }
}

/// Bytes one read takes at most: the size of the scratch buffer on the stack.
const READ_CHUNK: usize = 8 * 1024;

/// A SIP connection over any byte stream (TCP, rustls, OpenSSL, or an in-memory pipe in tests).
#[derive(Debug)]
pub struct Connection<S> {
    stream: S,
    /// Bytes read and not yet cut into frames; empty (no allocation) between messages.
    buffer: BytesMut,
    framer: Framer,
    /// Output queued for the next flush; no allocation when nothing is queued.
    out: Vec<u8>,
    /// What the output buffer starts at when something is queued: the size of a typical
    /// message of this side, so that encoding one does not grow the buffer step by step.
    out_start: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Wraps `stream`; frames are cut for `role` and messages over `max_message_size` bytes
    /// are a [`FrameError::TooLarge`]. No buffer is allocated until bytes come or go: the
    /// output buffer starts at the size of the messages this side writes (requests 2 KiB,
    /// responses 4 KiB) and grows when needed.
    pub fn new(stream: S, role: Role, max_message_size: usize) -> Connection<S> {
        let out_start = match role {
            Role::Client => 2 * 1024,
            Role::Server => 4 * 1024,
        };
        Connection {
            stream,
            buffer: BytesMut::new(),
            framer: Framer::new(role, max_message_size),
            out: Vec::new(),
            out_start,
        }
    }

    /// Puts `bytes` in front of anything read from the socket: they are the start of the
    /// stream (a server's TLS 0-RTT early data, which the TLS layer hands over apart).
    pub fn with_buffered(mut self, bytes: &[u8]) -> Connection<S> {
        self.buffer.extend_from_slice(bytes);
        self
    }

    /// The next frame: one already buffered, else read until one is complete. `Ok(None)` when
    /// the peer closed the connection cleanly, between frames.
    ///
    /// Cancel-safe: dropped while waiting for bytes, nothing read is lost, so it can sit in a
    /// `select!` or under a timeout.
    pub async fn read_frame(&mut self) -> Result<Option<Frame>, ConnError> {
        loop {
            if let Some(frame) = self.decode_buffered()? {
                return Ok(Some(frame));
            }
            if self.read_more().await? == 0 {
                return match self.buffer.len() {
                    0 => Ok(None),
                    buffered => Err(ConnError::Truncated { buffered }),
                };
            }
        }
    }

    /// The next frame among the bytes already read, without touching the socket; `Ok(None)`
    /// when more bytes are needed.
    pub fn decode_buffered(&mut self) -> Result<Option<Frame>, FrameError> {
        let frame = self.framer.decode(&mut self.buffer);
        if self.buffer.is_empty() && self.buffer.capacity() > 0 {
            // Every byte read is framed: let the allocation go (with the last frame cut
            // from it) rather than hold it through the wait for the next message.
            self.buffer = BytesMut::new();
        }
        frame
    }

    /// Bytes read and not yet cut into a frame: the start of a message still arriving (0
    /// between messages).
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Reads once from the socket into the buffer and returns how many bytes came; 0 means
    /// the peer closed its side. Cancel-safe.
    pub async fn read_more(&mut self) -> std::io::Result<usize> {
        std::future::poll_fn(|cx| self.poll_read_more(cx)).await
    }

    /// One read through a scratch buffer that lives only while it is polled, so that a
    /// connection waiting for bytes holds no read buffer; what came is appended to the buffer.
    fn poll_read_more(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        let mut scratch = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut read = ReadBuf::uninit(&mut scratch);
        ready!(Pin::new(&mut self.stream).poll_read(cx, &mut read))?;
        let bytes = read.filled();
        self.buffer.extend_from_slice(bytes);
        Poll::Ready(Ok(bytes.len()))
    }

    /// The output buffer: bytes queued here go out with the next [`Connection::flush_out`].
    pub fn out(&mut self) -> &mut Vec<u8> {
        if self.out.capacity() == 0 {
            self.out.reserve(self.out_start);
        }
        &mut self.out
    }

    /// Writes and flushes the queued output, if any, and releases the queue's buffer; returns
    /// how many bytes were written. Nothing queued: no system call.
    pub async fn flush_out(&mut self) -> std::io::Result<usize> {
        if self.out.is_empty() {
            return Ok(0);
        }
        self.stream.write_all(&self.out).await?;
        self.stream.flush().await?;
        let n = self.out.len();
        self.out = Vec::new();
        Ok(n)
    }

    /// Writes `bytes` straight to the socket, past the output queue, without flushing.
    pub async fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Closes the writing side (TLS close_notify, then FIN).
    pub async fn shutdown(&mut self) -> std::io::Result<()> {
        self.stream.shutdown().await
    }

    /// The socket, e.g. for its addresses or the TLS session.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// Ends SIP framing on this connection (a switch to bulk streaming): the socket and the
    /// bytes read past the last frame, which belong to what comes next.
    pub fn into_parts(self) -> (S, BytesMut) {
        (self.stream, self.buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::DEFAULT_MAX_MESSAGE_SIZE;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

    const OPTIONS: &[u8] = b"OPTIONS sip:uas@example.test SIP/2.0\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    const MESSAGE: &[u8] = b"MESSAGE sip:uas@example.test SIP/2.0\r\nCSeq: 2 MESSAGE\r\nContent-Length: 5\r\n\r\nhello";

    fn server() -> (Connection<DuplexStream>, DuplexStream) {
        let (a, b) = duplex(64 * 1024);
        (Connection::new(a, Role::Server, DEFAULT_MAX_MESSAGE_SIZE), b)
    }

    fn message(frame: Option<Frame>) -> Vec<u8> {
        match frame {
            Some(Frame::Message(b)) => b.to_vec(),
            other => panic!("expected a message, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_frame_split_across_reads_comes_out_whole() {
        let (mut conn, mut peer) = server();
        let (head, tail) = MESSAGE.split_at(30);
        peer.write_all(head).await.unwrap();
        assert_eq!(conn.read_more().await.unwrap(), 30);
        assert_eq!(conn.decode_buffered().unwrap(), None);
        // read_frame reads on until the frame is whole, over as many reads as it takes.
        let reader = tokio::spawn(async move {
            let f = conn.read_frame().await.unwrap();
            (conn, f)
        });
        for b in tail.chunks(7) {
            peer.write_all(b).await.unwrap();
            tokio::task::yield_now().await;
        }
        let (_, f) = reader.await.unwrap();
        assert_eq!(message(f), MESSAGE);
    }

    #[tokio::test]
    async fn a_message_larger_than_a_read_grows_the_buffer_which_is_released_after() {
        let (mut conn, mut peer) = server();
        let body = vec![b'x'; 3 * READ_CHUNK];
        let big = [
            format!(
                "MESSAGE sip:uas@example.test SIP/2.0\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
            &body,
        ]
        .concat();
        let writer = tokio::spawn(async move {
            peer.write_all(&big).await.unwrap();
            (peer, big)
        });
        let frame = message(conn.read_frame().await.unwrap());
        let (mut peer, big) = writer.await.unwrap();
        assert_eq!(frame, big);
        // Nothing left over: no buffer held while the connection waits.
        assert_eq!((conn.buffered(), conn.buffer.capacity()), (0, 0));
        // Output: allocated when queued, released once sent.
        conn.out()
            .extend_from_slice(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n");
        assert!(conn.out.capacity() >= 4 * 1024);
        conn.flush_out().await.unwrap();
        assert_eq!(conn.out.capacity(), 0);
        let mut got = [0u8; 37];
        peer.read_exact(&mut got).await.unwrap();
        // Two frames in one read: the first shares the buffer with the second's bytes.
        peer.write_all(&[OPTIONS, &OPTIONS[..10]].concat()).await.unwrap();
        assert_eq!(message(conn.read_frame().await.unwrap()), OPTIONS);
        assert_eq!(conn.buffered(), 10);
    }

    #[tokio::test]
    async fn several_frames_in_one_read_come_out_one_by_one() {
        let (mut conn, mut peer) = server();
        peer.write_all(&[OPTIONS, b"\r\n\r\n", MESSAGE].concat()).await.unwrap();
        assert_eq!(conn.read_more().await.unwrap(), OPTIONS.len() + 4 + MESSAGE.len());
        assert_eq!(message(conn.decode_buffered().unwrap()), OPTIONS);
        assert_eq!(conn.decode_buffered().unwrap(), Some(Frame::Ping));
        assert_eq!(message(conn.decode_buffered().unwrap()), MESSAGE);
        assert_eq!(conn.decode_buffered().unwrap(), None);
        // read_frame returns buffered frames before reading again.
        peer.write_all(&[OPTIONS, OPTIONS].concat()).await.unwrap();
        drop(peer);
        assert_eq!(message(conn.read_frame().await.unwrap()), OPTIONS);
        assert_eq!(message(conn.read_frame().await.unwrap()), OPTIONS);
        assert_eq!(conn.read_frame().await.unwrap(), None);
    }

    #[tokio::test]
    async fn eof_between_frames_is_clean_and_eof_mid_frame_is_not() {
        let (mut conn, mut peer) = server();
        peer.write_all(OPTIONS).await.unwrap();
        drop(peer);
        assert_eq!(message(conn.read_frame().await.unwrap()), OPTIONS);
        assert!(matches!(conn.read_frame().await, Ok(None)));

        let (mut conn, mut peer) = server();
        peer.write_all(&MESSAGE[..40]).await.unwrap();
        drop(peer);
        assert!(matches!(
            conn.read_frame().await,
            Err(ConnError::Truncated { buffered: 40 })
        ));
    }

    #[tokio::test]
    async fn a_client_reads_pongs_and_framing_errors_are_typed() {
        let (a, mut peer) = duplex(1024);
        let mut conn = Connection::new(a, Role::Client, 64);
        peer.write_all(b"\r\n").await.unwrap();
        assert_eq!(conn.read_frame().await.unwrap(), Some(Frame::Pong));
        peer.write_all(MESSAGE).await.unwrap();
        assert!(matches!(
            conn.read_frame().await,
            Err(ConnError::Frame(FrameError::TooLarge { limit: 64 }))
        ));
    }

    #[tokio::test]
    async fn preloaded_bytes_come_before_the_socket() {
        let (a, mut peer) = duplex(1024);
        let mut conn = Connection::new(a, Role::Server, DEFAULT_MAX_MESSAGE_SIZE).with_buffered(&OPTIONS[..20]);
        peer.write_all(&[&OPTIONS[20..], MESSAGE].concat()).await.unwrap();
        assert_eq!(message(conn.read_frame().await.unwrap()), OPTIONS);
        assert_eq!(message(conn.read_frame().await.unwrap()), MESSAGE);
        // A whole early frame is returned without reading: the peer has sent nothing more.
        let (a, _peer) = duplex(1024);
        let mut conn = Connection::new(a, Role::Server, DEFAULT_MAX_MESSAGE_SIZE).with_buffered(OPTIONS);
        assert_eq!(message(conn.read_frame().await.unwrap()), OPTIONS);
    }

    #[tokio::test]
    async fn into_parts_keeps_the_bytes_past_the_last_frame() {
        let (mut conn, mut peer) = server();
        peer.write_all(&[OPTIONS, b"raw bulk bytes"].concat()).await.unwrap();
        assert_eq!(message(conn.read_frame().await.unwrap()), OPTIONS);
        let (mut stream, leftover) = conn.into_parts();
        assert_eq!(&leftover[..], b"raw bulk bytes");
        peer.write_all(b" and more").await.unwrap();
        let mut more = [0u8; 9];
        stream.read_exact(&mut more).await.unwrap();
        assert_eq!(&more, b" and more");
    }

    #[tokio::test]
    async fn queued_output_goes_out_in_one_flush() {
        let (mut conn, mut peer) = server();
        assert_eq!(conn.flush_out().await.unwrap(), 0);
        conn.out().extend_from_slice(b"SIP/2.0 200 OK\r\n");
        crate::sip::encode_pong(conn.out());
        assert_eq!(conn.flush_out().await.unwrap(), 18);
        assert!(conn.out().is_empty());
        conn.write_all(b"x").await.unwrap();
        conn.shutdown().await.unwrap();
        let mut got = Vec::new();
        peer.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"SIP/2.0 200 OK\r\n\r\nx");
    }
}
