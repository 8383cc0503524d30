//! Pure, I/O-free SIP codec: message parsing/encoding ([`message`]) and
//! stream framing for TCP/TLS ([`framer`]), digest authentication ([`digest`]).
//!
//! Bytes from a stream go through a [`Framer`], which cuts complete messages (and CRLF
//! keep-alives) off the front of a buffer; each message is then parsed without copying:
//!
//! ```
//! use bytes::BytesMut;
//! use sipbench::sip::{Frame, Framer, Message, Method, Response, Role, DEFAULT_MAX_MESSAGE_SIZE};
//!
//! let wire = "OPTIONS sip:uas@example.test SIP/2.0\r\n\
//!             Via: SIP/2.0/TLS 127.0.0.1:5062;branch=z9hG4bK1\r\n\
//!             Max-Forwards: 70\r\n\
//!             f: <sip:alice@example.test>;tag=a1\r\n\
//!             To: <sip:uas@example.test>\r\n\
//!             i: c1@example.test\r\n\
//!             CSeq: 7 OPTIONS\r\n\
//!             l: 0\r\n\r\n\r\n\r\n";
//! let mut buf = BytesMut::from(wire);
//! let mut framer = Framer::new(Role::Server, DEFAULT_MAX_MESSAGE_SIZE);
//! let Some(Frame::Message(bytes)) = framer.decode(&mut buf)? else { panic!("one message") };
//! assert_eq!(framer.decode(&mut buf)?, Some(Frame::Ping)); // the CRLF keep-alive behind it
//!
//! let msg = Message::parse(&bytes)?;
//! assert_eq!(msg.cseq(), Some((7, Method::Options)));
//! assert_eq!(msg.header("From"), Some("<sip:alice@example.test>;tag=a1")); // compact `f`
//! assert_eq!(msg.top_via_branch(), Some("z9hG4bK1"));
//!
//! let Message::Request(req) = &msg else { panic!("a request") };
//! let mut out = Vec::new();
//! Message::Response(Response::for_request(req, 200, "OK", "srv1")).encode(&mut out);
//! assert!(out.starts_with(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS 127.0.0.1:5062;branch=z9hG4bK1\r\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod digest;
pub mod framer;
pub mod message;

pub use framer::{DEFAULT_MAX_MESSAGE_SIZE, Frame, FrameError, Framer, Role, encode_ping, encode_pong};
pub(crate) use message::push_number;
pub use message::{Header, Message, Method, ParseError, Request, Response, ResponseHead, reason_phrase};
