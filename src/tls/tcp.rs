//! Cleartext TCP: the baseline transport, and the connect every TLS dialer starts with.
//!
//! Another transport (UDP, for instance) plugs in beside this one: a [`Dialer`] that opens its
//! socket and an [`Acceptor`] for the server side, both handing back a [`Stream`].

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::{Accepted, Acceptor, BoxFuture, Dialer, Established, Limits, PeerKeyCache, SessionIo, Stream};
use crate::failure::{FailureKind, kebab};

/// Connects to `addr` within `timeout`, from `local` when given (any port of it), with Nagle
/// off; returns the socket and the connect time.
pub async fn connect(
    addr: SocketAddr,
    local: Option<std::net::IpAddr>,
    timeout: Duration,
) -> Result<(TcpStream, Duration), FailureKind> {
    let t0 = Instant::now();
    let open = async {
        match local {
            None => TcpStream::connect(addr).await,
            Some(ip) => {
                let socket = if ip.is_ipv4() {
                    tokio::net::TcpSocket::new_v4()?
                } else {
                    tokio::net::TcpSocket::new_v6()?
                };
                socket.bind(SocketAddr::new(ip, 0))?;
                socket.connect(addr).await
            }
        }
    };
    let tcp = match tokio::time::timeout(timeout, open).await {
        Err(_) => return Err(FailureKind::ConnectTimeout),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => return Err(FailureKind::ConnectRefused),
        Ok(Err(e)) => return Err(FailureKind::ConnectError(kebab(&format!("{:?}", e.kind())))),
        Ok(Ok(s)) => s,
    };
    let _ = tcp.set_nodelay(true);
    Ok((tcp, t0.elapsed()))
}

/// Cleartext SIP over TCP: no handshake.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cleartext;

impl Dialer for Cleartext {
    fn dial<'a>(
        &'a self,
        addr: SocketAddr,
        limits: Limits,
        _keys: &'a mut PeerKeyCache,
    ) -> BoxFuture<'a, Result<(Stream, Established), FailureKind>> {
        Box::pin(async move {
            let (tcp, connect) = connect(addr, limits.local, limits.connect).await?;
            Ok((Box::new(tcp) as Stream, Established::cleartext(connect)))
        })
    }
}

impl Acceptor for Cleartext {
    fn accept(&self, tcp: TcpStream) -> BoxFuture<'_, Result<Accepted, FailureKind>> {
        Box::pin(async move {
            Ok(Accepted {
                stream: Box::new(tcp),
                secure: false,
                resumed: false,
                hello_retry: false,
                peer_identified: false,
                early_data: None,
            })
        })
    }
}

impl SessionIo for TcpStream {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpStream::local_addr(self)
    }

    fn secure(&self) -> bool {
        false
    }
}
