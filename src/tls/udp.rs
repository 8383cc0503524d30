//! SIP over UDP, the client side: a connected datagram socket behind the same [`Stream`] seam
//! as TCP and TLS, so the SIP client, its codec and the workloads run over it unchanged.
//!
//! Each write is one datagram (the client queues one request per write); each datagram read is
//! handed on whole, so the [`crate::sip::Framer`] cuts the same messages it cuts from TCP. What
//! UDP adds, retransmission (RFC 3261 timers A/E and B/F), is the transaction's business and
//! lives in [`crate::uac`]; the server side is [`crate::server`]'s UDP loop.
//!
//! Opening a "session" binds a socket (from `--local-addr` when given) and connects it to the
//! server, so the kernel drops datagrams from anyone else and ICMP port-unreachable comes back
//! as a refused connection on the next read.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UdpSocket;

use super::{BoxFuture, Dialer, Established, Limits, PeerKeyCache, SessionIo, Stream};
use crate::failure::{FailureKind, kebab};

/// Largest UDP payload (IPv4: 65,535 − 8 − 20); a datagram read never exceeds it.
pub const MAX_DATAGRAM: usize = 65_507;

/// A connected UDP socket read and written as a byte stream of whole datagrams.
#[derive(Debug)]
pub struct UdpStream {
    socket: UdpSocket,
    /// The last datagram received and how much of it was handed on: a datagram larger than the
    /// caller's buffer is handed on over several reads rather than cut.
    pending: Vec<u8>,
    taken: usize,
}

impl UdpStream {
    /// Wraps a socket already connected to its peer.
    pub fn new(socket: UdpSocket) -> UdpStream {
        UdpStream {
            socket,
            pending: Vec::new(),
            taken: 0,
        }
    }
}

impl AsyncRead for UdpStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.taken == this.pending.len() {
            // The common case: the whole datagram fits, and goes straight into the caller's buffer.
            if buf.remaining() >= MAX_DATAGRAM {
                return this.socket.poll_recv(cx, buf);
            }
            this.pending.resize(MAX_DATAGRAM, 0);
            let mut whole = ReadBuf::new(&mut this.pending);
            let polled = this.socket.poll_recv(cx, &mut whole);
            let n = whole.filled().len();
            // Nothing received (or an error): nothing pending either.
            this.pending
                .truncate(if matches!(polled, Poll::Ready(Ok(()))) { n } else { 0 });
            this.taken = 0;
            ready!(polled)?;
        }
        let n = buf.remaining().min(this.pending.len() - this.taken);
        buf.put_slice(&this.pending[this.taken..this.taken + n]);
        this.taken += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for UdpStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.socket.poll_send(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl SessionIo for UdpStream {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    fn secure(&self) -> bool {
        false
    }

    fn datagram(&self) -> bool {
        true
    }
}

/// Binds a UDP socket (on `local`, else the unspecified address of `addr`'s family, any port)
/// and connects it to `addr`; returns it with the time taken.
pub async fn connect(
    addr: SocketAddr,
    local: Option<IpAddr>,
    timeout: Duration,
) -> Result<(UdpSocket, Duration), FailureKind> {
    let t0 = Instant::now();
    let bind = local.unwrap_or(match addr {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    });
    let open = async {
        let socket = UdpSocket::bind(SocketAddr::new(bind, 0)).await?;
        socket.connect(addr).await?;
        Ok::<_, io::Error>(socket)
    };
    match tokio::time::timeout(timeout, open).await {
        Err(_) => Err(FailureKind::ConnectTimeout),
        Ok(Err(e)) => Err(FailureKind::ConnectError(kebab(&format!("{:?}", e.kind())))),
        Ok(Ok(s)) => Ok((s, t0.elapsed())),
    }
}

/// Cleartext SIP over UDP: a connected socket, no handshake.
#[derive(Debug, Clone, Copy, Default)]
pub struct Datagram;

impl Dialer for Datagram {
    fn dial<'a>(
        &'a self,
        addr: SocketAddr,
        limits: Limits,
        _keys: &'a mut PeerKeyCache,
    ) -> BoxFuture<'a, Result<(Stream, Established), FailureKind>> {
        Box::pin(async move {
            let (socket, connect) = connect(addr, limits.local, limits.connect).await?;
            Ok((
                Box::new(UdpStream::new(socket)) as Stream,
                Established::cleartext(connect),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn a_write_is_one_datagram_and_a_big_datagram_reads_whole_through_a_small_buffer() {
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (socket, _) = connect(peer.local_addr().unwrap(), None, Duration::from_secs(1))
            .await
            .unwrap();
        let mut s = UdpStream::new(socket);
        s.write_all(b"first").await.unwrap();
        s.write_all(b"second").await.unwrap();
        let mut buf = [0u8; 100];
        let (n, from) = peer.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"first");
        let (n, _) = peer.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"second");
        let big: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        peer.send_to(&big, from).await.unwrap();
        peer.send_to(b"next", from).await.unwrap();
        let mut got = vec![0u8; 3000];
        let mut small = [0u8; 1000];
        let mut at = 0;
        while at < 3000 {
            let n = s.read(&mut small).await.unwrap();
            got[at..at + n].copy_from_slice(&small[..n]);
            at += n;
        }
        assert_eq!(got, big);
        let n = s.read(&mut small).await.unwrap();
        assert_eq!(&small[..n], b"next");
    }
}
