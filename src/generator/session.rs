//! Opening a session: TCP connect and the optional TLS handshake, each timed.
//!
//! Every step is timed separately and every failure comes back as a [`FailureKind`].

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::failure::FailureKind;
use crate::stats::Negotiated;
use crate::tls::{self, PeerKeyCache};

/// Where and how to connect.
#[derive(Clone)]
pub struct Endpoint {
    /// Server addresses; worker `w` connects to `addrs[w % len]` (the embedded server has one
    /// listener per thread, so each worker talks to the server thread on its own core).
    pub addrs: Vec<SocketAddr>,
    /// TLS connectors (one per worker, each with its own session cache) and the name to
    /// verify, or `None` for cleartext TCP.
    pub tls: Option<(Vec<TlsConnector>, ServerName<'static>)>,
    /// Domain used in request URIs and From/To.
    pub domain: Arc<str>,
    /// Connectors (one per worker) presenting a bad certificate, for the sessions that must be
    /// refused (phase `bad_cert`); empty otherwise.
    pub bad: Vec<TlsConnector>,
    /// Backend `openssl`: OpenSSL connectors (one per worker, each with its own session cache)
    /// and the name to verify, used instead of `tls`.
    pub ossl: Option<(Vec<crate::ossl::OsslConnector>, String)>,
    /// Backend `openssl`: the connectors presenting the bad certificate.
    pub bad_ossl: Vec<crate::ossl::OsslConnector>,
}

/// A connected stream, TLS or not.
pub enum Stream {
    /// Cleartext.
    Tcp(TcpStream),
    /// TLS over TCP (rustls).
    Tls(Box<TlsStream<TcpStream>>),
    /// TLS over TCP (OpenSSL).
    Ossl(Pin<Box<tokio_openssl::SslStream<TcpStream>>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Ossl(s) => s.as_mut().poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Ossl(s) => s.as_mut().poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Ossl(s) => s.as_mut().poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Ossl(s) => s.as_mut().poll_shutdown(cx),
        }
    }
}

/// Timings of connection set-up.
#[derive(Debug, Clone)]
pub struct Established {
    /// TCP connect time.
    pub connect: Duration,
    /// A TLS handshake ran (false for cleartext TCP).
    pub tls: bool,
    /// TLS handshake time (zero for TCP).
    pub handshake: Duration,
    /// What the handshake negotiated.
    pub negotiated: Negotiated,
    /// True for a resumed handshake.
    pub resumed: bool,
    /// 0-RTT: the handshake was still under way when the connector returned, so that the first
    /// request could go as early data; `handshake` and `negotiated` are not known yet (see
    /// [`crate::uac::SipClient::finish_early`]).
    pub early: bool,
}

/// Connects and, for TLS, handshakes.
pub async fn establish(
    ep: &Endpoint,
    worker: usize,
    bad: bool,
    connect_timeout: Duration,
    handshake_timeout: Duration,
    keys: &mut PeerKeyCache,
) -> Result<(Stream, Established), FailureKind> {
    let t0 = Instant::now();
    let tcp = match tokio::time::timeout(connect_timeout, TcpStream::connect(ep.addrs[worker % ep.addrs.len()])).await {
        Err(_) => return Err(FailureKind::ConnectTimeout),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Err(FailureKind::ConnectRefused),
        Ok(Err(e)) => {
            return Err(FailureKind::ConnectError(crate::failure::kebab(&format!(
                "{:?}",
                e.kind()
            ))));
        }
        Ok(Ok(s)) => s,
    };
    let _ = tcp.set_nodelay(true);
    let connect = t0.elapsed();
    if let Some((connectors, name)) = &ep.ossl {
        let connector = pick(connectors, &ep.bad_ossl, bad, worker);
        let t1 = Instant::now();
        let stream = match tokio::time::timeout(handshake_timeout, connector.connect(name, tcp)).await {
            Err(_) => return Err(FailureKind::HandshakeTimeout),
            Ok(r) => r?,
        };
        let handshake = t1.elapsed();
        let est = established(crate::ossl::negotiated(stream.ssl()), connect, handshake);
        return Ok((Stream::Ossl(Box::pin(stream)), est));
    }
    let Some((connectors, name)) = &ep.tls else {
        let est = Established {
            connect,
            tls: false,
            handshake: Duration::ZERO,
            negotiated: tls::cleartext(),
            resumed: false,
            early: false,
        };
        return Ok((Stream::Tcp(tcp), est));
    };
    let connector = pick(connectors, &ep.bad, bad, worker);
    let t1 = Instant::now();
    let stream = match tokio::time::timeout(handshake_timeout, connector.connect(name.clone(), tcp)).await {
        Err(_) => return Err(FailureKind::HandshakeTimeout),
        Ok(Err(e)) => return Err(tls::classify_io(&e)),
        Ok(Ok(s)) => s,
    };
    let handshake = t1.elapsed();
    let (_, conn) = stream.get_ref();
    if conn.is_handshaking() {
        // 0-RTT: the first write goes as early data; the handshake completes under it.
        let est = Established {
            connect,
            tls: true,
            handshake,
            negotiated: tls::cleartext(),
            resumed: true,
            early: true,
        };
        return Ok((Stream::Tls(Box::new(stream)), est));
    }
    let est = established(tls::negotiated(conn, keys), connect, handshake);
    Ok((Stream::Tls(Box::new(stream)), est))
}

/// Worker `worker`'s connector: from `bad` when the session presents the bad certificate and
/// there are such connectors.
fn pick<'a, C>(good: &'a [C], bad_ones: &'a [C], bad: bool, worker: usize) -> &'a C {
    let list = if bad && !bad_ones.is_empty() { bad_ones } else { good };
    &list[worker % list.len()]
}

/// The set-up's figures after a completed handshake, on either TLS stack. (The trust model,
/// the topology of a server-to-server peer included, ran inside the handshake.)
fn established(negotiated: Negotiated, connect: Duration, handshake: Duration) -> Established {
    Established {
        connect,
        tls: true,
        handshake,
        resumed: negotiated.handshake == "resumed",
        negotiated,
        early: false,
    }
}
