//! Pure, I/O-free SIP codec: message parsing/encoding ([`message`]) and
//! stream framing for TCP/TLS ([`framer`]).

pub mod framer;
pub mod message;

pub use framer::{DEFAULT_MAX_MESSAGE_SIZE, Frame, FrameError, Framer, Role, encode_ping, encode_pong};
pub use message::{Header, Message, Method, ParseError, Request, Response, reason_phrase};
