//! The reference server's UDP listener: SIP over UDP, one datagram one message (RFC 3261 §18).
//!
//! A UDP server holds no connection, so there is nothing to cut off: each datagram is parsed,
//! answered to its source address (from the address it was sent to, for a socket bound to a
//! wildcard), and forgotten. The registrar and UAS are the ones the TCP and TLS listeners use
//! ([`super::uas`]); an INVITE's 100, 180 and 200 go out as three datagrams. A request sent
//! again by a client whose timer fired is answered again (the UAS is idempotent for what it
//! does: OPTIONS, REGISTER, MESSAGE, BYE), which is what a stateless proxy does.
//!
//! Receiving is batched with quinn-udp ([`UdpRecv::Batched`]): one `recvmmsg` takes up to
//! [`quinn_udp::BATCH_SIZE`] datagrams, and where the kernel has UDP GRO, same-size datagrams
//! from one source arrive coalesced in one buffer and are cut at their stride. [`UdpRecv::Plain`]
//! reads one datagram per `recvfrom`, to measure what batching is worth. Responses go out with
//! one `sendmsg` each (GSO would need same-size datagrams to one destination, which responses
//! to many clients are not).
//!
//! Hostile input is counted, never fatal: a datagram that does not parse is answered 400 when
//! it looks like a request (counted `malformed`), one over the message size limit is dropped
//! (counted `sip-protocol:too-large`), and empty or CRLF keep-alive datagrams are ignored.

use std::io::IoSliceMut;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::BytesMut;
use quinn_udp::{RecvMeta, Transmit, UdpSocketState};
use serde::{Deserialize, Serialize};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tracing::warn;

use super::{Shared, count_status, uas};
use crate::failure::FailureKind;
use crate::sip::{Frame, Framer, Message, Method, Role};

/// How the UDP listener reads datagrams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum UdpRecv {
    /// quinn-udp: `recvmmsg` batches, GRO where the kernel has it.
    #[default]
    Batched,
    /// One `recvfrom` a datagram (the baseline batching is measured against).
    Plain,
}

/// Room for one receive buffer: a GRO-coalesced batch is at most 64 KiB.
const RECV_BUF: usize = 64 * 1024;

/// Asked-for socket buffer sizes (the kernel caps them at `net.core.[rw]mem_max`): a burst of
/// requests waits in the receive buffer instead of being dropped.
const SOCKET_BUFFER: usize = 4 * 1024 * 1024;

/// Binds one UDP socket per thread as `binding` says (see the TCP listeners' `bind_listeners`).
pub(super) fn bind(addr: SocketAddr, n: usize, binding: super::Binding) -> std::io::Result<Vec<std::net::UdpSocket>> {
    use socket2::{Domain, Protocol, Socket, Type};
    let n = n.max(1);
    let mut out: Vec<std::net::UdpSocket> = Vec::with_capacity(n);
    let mut next = addr;
    for _ in 0..n {
        if binding == super::Binding::Shared
            && let Some(first) = out.first()
        {
            // Every thread's runtime registers a descriptor of the one socket; whichever is
            // woken first reads, the others find nothing (WouldBlock) and wait again.
            out.push(first.try_clone()?);
            continue;
        }
        let s = Socket::new(Domain::for_address(next), Type::DGRAM, Some(Protocol::UDP))?;
        s.set_reuse_address(true)?;
        s.set_reuse_port(binding == super::Binding::ReusePort)?;
        s.set_nonblocking(true)?;
        s.bind(&next.into())?;
        let u: std::net::UdpSocket = s.into();
        if binding == super::Binding::ReusePort {
            next = u.local_addr()?;
        }
        out.push(u);
    }
    Ok(out)
}

/// Serves one UDP socket until shutdown.
pub(super) async fn serve(
    socket: std::net::UdpSocket,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    recv: UdpRecv,
) {
    let socket = match UdpSocket::from_std(socket) {
        Ok(s) => s,
        Err(e) => return warn!("registering the UDP socket: {e}"),
    };
    // Sets what the kernel offers: GRO, the destination address of each datagram (so that a
    // wildcard socket answers from the address it was reached on), no fragmentation.
    let state = match UdpSocketState::new((&socket).into()) {
        Ok(s) => s,
        Err(e) => return warn!("setting up the UDP socket: {e}"),
    };
    let _ = state.set_recv_buffer_size((&socket).into(), SOCKET_BUFFER);
    let _ = state.set_send_buffer_size((&socket).into(), SOCKET_BUFFER);
    let batch = match recv {
        UdpRecv::Batched => quinn_udp::BATCH_SIZE,
        UdpRecv::Plain => 1,
    };
    let mut storage = vec![0u8; RECV_BUF * batch];
    let mut bufs: Vec<IoSliceMut<'_>> = storage.chunks_mut(RECV_BUF).map(IoSliceMut::new).collect();
    let mut metas = vec![RecvMeta::default(); batch];
    let mut answer = Answer {
        out: Vec::with_capacity(4 * 1024),
        tag: super::new_tag(&shared),
        framer: Framer::new(Role::Client, shared.max_message_size),
    };
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            r = socket.readable() => if let Err(e) = r {
                return warn!("UDP socket: {e}");
            },
        }
        let got = match recv {
            UdpRecv::Batched => socket.try_io(Interest::READABLE, || {
                state.recv((&socket).into(), &mut bufs, &mut metas)
            }),
            UdpRecv::Plain => socket.try_recv_from(&mut bufs[0]).map(|(len, addr)| {
                metas[0] = RecvMeta {
                    addr,
                    len,
                    stride: len,
                    ecn: None,
                    dst_ip: None,
                };
                1
            }),
        };
        let n = match got {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            // ICMP errors from earlier sends (a client gone) surface here; nothing to do.
            Err(_) => continue,
        };
        for (meta, buf) in metas.iter().zip(bufs.iter()).take(n) {
            let stride = meta.stride.max(1);
            for datagram in buf[..meta.len].chunks(stride) {
                if let Some(method) = answer.handle(datagram, &shared) {
                    answer.send(&socket, &state, recv, meta, method).await;
                }
            }
        }
    }
}

/// What one socket reuses from request to request.
struct Answer {
    out: Vec<u8>,
    tag: String,
    /// Cuts an INVITE's responses apart (one datagram each).
    framer: Framer,
}

impl Answer {
    /// Parses one datagram and queues its answer in `out`; returns the request's method when
    /// there is something to send.
    fn handle(&mut self, datagram: &[u8], shared: &Shared) -> Option<Method> {
        let c = &shared.counters;
        self.out.clear();
        if datagram.iter().all(|b| matches!(b, b'\r' | b'\n')) {
            return None;
        }
        if datagram.len() > shared.max_message_size {
            c.fail(&FailureKind::SipProtocol("too-large".into()));
            return None;
        }
        match Message::parse(datagram) {
            Ok(msg) => {
                let Message::Request(req) = &msg else { return None };
                c.requests.add(1);
                let method = req.method.clone();
                let outcome = super::with_date(|date| {
                    uas::handle_request(
                        &msg,
                        &shared.registrar,
                        shared.auth.as_deref(),
                        &self.tag,
                        (Instant::now(), date),
                        &mut self.out,
                    )
                });
                if let uas::Outcome::Answered(status) = outcome {
                    count_status(c, status);
                }
                Some(method)
            }
            Err(e) => {
                c.malformed.fetch_add(1, Ordering::Relaxed);
                let status = uas::answer_malformed(datagram, &e, &mut self.out)?;
                count_status(c, status);
                Some(Method::Other(String::new()))
            }
        }
    }

    /// Sends what [`Answer::handle`] queued to the datagram's source: one datagram, or one per
    /// response for an INVITE.
    async fn send(
        &mut self,
        socket: &UdpSocket,
        state: &UdpSocketState,
        recv: UdpRecv,
        meta: &RecvMeta,
        method: Method,
    ) {
        if self.out.is_empty() {
            return;
        }
        if method != Method::Invite {
            send_one(socket, state, recv, meta, &self.out).await;
            return;
        }
        let mut all = BytesMut::from(&self.out[..]);
        while let Ok(Some(Frame::Message(one))) = self.framer.decode(&mut all) {
            send_one(socket, state, recv, meta, &one).await;
        }
    }
}

/// Sends one datagram to `meta`'s source, from the address it reached (batched mode) or the
/// socket's (plain mode), waiting while the socket's send buffer is full.
async fn send_one(socket: &UdpSocket, state: &UdpSocketState, recv: UdpRecv, meta: &RecvMeta, contents: &[u8]) {
    if recv == UdpRecv::Plain {
        let _ = socket.send_to(contents, meta.addr).await;
        return;
    }
    let transmit = Transmit {
        destination: meta.addr,
        ecn: None,
        contents,
        segment_size: None,
        src_ip: meta.dst_ip,
    };
    loop {
        match socket.try_io(Interest::WRITABLE, || state.send(socket.into(), &transmit)) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if socket.writable().await.is_err() {
                    return;
                }
            }
            // quinn-udp logs and drops other send errors: UDP loses datagrams anyway.
            _ => return,
        }
    }
}
