//! Opening a session: where a phase connects, and with which dialers.
//!
//! The dialers come from the phase's TLS stack or transport ([`crate::tls`]); this module never
//! asks which.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

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
    /// A deployment: sessions take `addrs` in turn (not by worker), and connects are counted
    /// per server.
    pub spread: Option<Arc<Spread>>,
    /// Source addresses sessions connect from, in turn (`--local-addr`); empty: the kernel's
    /// choice.
    pub local: Arc<LocalAddrs>,
}

/// Source addresses taken in turn.
#[derive(Debug, Default)]
pub struct LocalAddrs {
    addrs: Vec<std::net::IpAddr>,
    next: AtomicUsize,
}

impl LocalAddrs {
    /// Sessions connect from `addrs` in turn.
    pub fn new(addrs: Vec<std::net::IpAddr>) -> LocalAddrs {
        LocalAddrs {
            addrs,
            next: AtomicUsize::new(0),
        }
    }

    fn take(&self) -> Option<std::net::IpAddr> {
        (!self.addrs.is_empty()).then(|| self.addrs[self.next.fetch_add(1, Ordering::Relaxed) % self.addrs.len()])
    }
}

/// Sessions spread over a deployment's servers, with connects counted per server.
#[derive(Debug, Default)]
pub struct Spread {
    next: AtomicUsize,
    connects: Vec<(SocketAddr, AtomicU64)>,
}

impl Spread {
    /// Counters for each distinct address of `addrs`.
    pub fn new(addrs: &[SocketAddr]) -> Spread {
        let mut connects: Vec<(SocketAddr, AtomicU64)> = Vec::new();
        for a in addrs {
            if !connects.iter().any(|(b, _)| b == a) {
                connects.push((*a, AtomicU64::new(0)));
            }
        }
        Spread {
            next: AtomicUsize::new(0),
            connects,
        }
    }

    /// Connect attempts per server so far.
    pub fn counts(&self) -> std::collections::BTreeMap<String, u64> {
        self.connects
            .iter()
            .map(|(a, n)| (a.to_string(), n.load(Ordering::Relaxed)))
            .collect()
    }
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
            spread: None,
            local: Arc::default(),
        }
    }
}

/// Opens a session for `worker`: connects and, with TLS, handshakes, presenting the bad
/// certificate when `bad` and the endpoint has one.
pub async fn establish(
    ep: &Endpoint,
    worker: usize,
    bad: bool,
    mut limits: Limits,
    keys: &mut PeerKeyCache,
) -> Result<(Stream, Established), FailureKind> {
    if limits.local.is_none() {
        limits.local = ep.local.take();
    }
    let list = if bad && !ep.bad.is_empty() {
        &ep.bad
    } else {
        &ep.dialers
    };
    let dialer = &list[worker % list.len()];
    let addr = match &ep.spread {
        None => ep.addrs[worker % ep.addrs.len()],
        Some(s) => {
            let addr = ep.addrs[s.next.fetch_add(1, Ordering::Relaxed) % ep.addrs.len()];
            if let Some((_, n)) = s.connects.iter().find(|(a, _)| *a == addr) {
                n.fetch_add(1, Ordering::Relaxed);
            }
            addr
        }
    };
    dialer.dial(addr, limits, keys).await
}
