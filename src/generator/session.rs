//! Opening a session: where a phase connects, and with which dialers.
//!
//! The dialers come from the phase's TLS stack or transport ([`crate::tls`]); this module never
//! asks which.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::failure::FailureKind;
use crate::tls::{Dialer, Limits, PeerKeyCache};
pub use crate::tls::{Established, Stream};

/// Where and how to connect.
#[derive(Clone)]
pub struct Endpoint {
    /// Server addresses; worker `w` connects to `addrs[w % len]` (the embedded server has one
    /// listener per thread, so each worker talks to the server thread on its own core).
    pub addrs: Vec<SocketAddr>,
    /// Dialers, one per worker (each with its own session cache).
    pub dialers: Vec<Arc<dyn Dialer>>,
    /// Dialers (one per worker) presenting a bad certificate, for the sessions that must be
    /// refused (phase `bad_cert`); empty otherwise.
    pub bad: Vec<Arc<dyn Dialer>>,
    /// Domain used in request URIs and From/To.
    pub domain: Arc<str>,
    /// The users sessions take (`--users`); `None`: user `u{id}`, no password.
    pub users: Option<Arc<crate::users::Users>>,
    /// How sessions take users.
    pub user_order: crate::users::UserOrder,
}

impl Endpoint {
    /// An endpoint at `addr` with one dialer.
    pub fn single(addr: SocketAddr, dialer: Arc<dyn Dialer>, domain: &str) -> Endpoint {
        Endpoint {
            addrs: vec![addr],
            dialers: vec![dialer],
            bad: Vec::new(),
            domain: domain.into(),
            users: None,
            user_order: crate::users::UserOrder::Sequential,
        }
    }
}

/// Opens a session for `worker`: connects and, with TLS, handshakes, presenting the bad
/// certificate when `bad` and the endpoint has one.
pub async fn establish(
    ep: &Endpoint,
    worker: usize,
    bad: bool,
    limits: Limits,
    keys: &mut PeerKeyCache,
) -> Result<(Stream, Established), FailureKind> {
    let list = if bad && !ep.bad.is_empty() {
        &ep.bad
    } else {
        &ep.dialers
    };
    let dialer = &list[worker % list.len()];
    dialer.dial(ep.addrs[worker % ep.addrs.len()], limits, keys).await
}
