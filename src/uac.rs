//! The SIP user agent client: requests and transactions over one established connection.
//!
//! Used by the generator's workloads and by the audit. Requests are written into the
//! connection's reused output buffer; responses are read with [`Connection::read_frame`] and
//! matched to their request by CSeq.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::connection::{ConnError, Connection};
use crate::failure::FailureKind;
use crate::plan::Txn;
use crate::sip::{Frame, Message, Method, Role};
use crate::stats::Negotiated;
use crate::tls::PeerKeyCache;
use crate::tls::Stream;

/// A SIP user agent client on one [`Connection`], whose reused buffers keep transactions from
/// allocating.
pub struct SipClient {
    conn: Connection<Stream>,
    call_id: String,
    from_tag: String,
    user: String,
    local: String,
    transport: &'static str,
    domain: Arc<str>,
    cseq: u32,
    branch_seq: u64,
    message_body: Arc<[u8]>,
    /// Application bytes written.
    pub bytes_out: u64,
    /// Application bytes read.
    pub bytes_in: u64,
}

impl SipClient {
    /// Wraps an established stream. `id` makes Call-ID, tags and the user name unique per session;
    /// the socket's local address goes into Via and Contact.
    pub fn new(stream: Stream, domain: Arc<str>, id: u64) -> SipClient {
        let local = stream.local_addr().ok();
        let transport = if stream.secure() { "TLS" } else { "TCP" };
        SipClient {
            conn: Connection::new(stream, Role::Client, crate::sip::DEFAULT_MAX_MESSAGE_SIZE),
            call_id: format!("{id:x}-{:x}@sipbench", std::process::id()),
            from_tag: format!("t{id:x}"),
            user: format!("u{id}"),
            local: local.map(|a| a.to_string()).unwrap_or_else(|| "127.0.0.1:5060".into()),
            transport,
            domain,
            cseq: 0,
            branch_seq: 0,
            message_body: Arc::from(&b"sipbench says hello"[..]),
            bytes_out: 0,
            bytes_in: 0,
        }
    }

    /// Runs one transaction. `Txn::Invite` is a whole call; the INVITE and the BYE are reported
    /// separately through `record`, each with the method and its latency.
    pub async fn run(
        &mut self,
        txn: Txn,
        timeout: Duration,
        record: &mut impl FnMut(Method, Duration, Result<u16, FailureKind>),
    ) -> Result<(), FailureKind> {
        let method = match txn {
            Txn::Invite => {
                let t = Instant::now();
                let r = self.transaction(Method::Invite, timeout).await;
                record(Method::Invite, t.elapsed(), r.clone());
                r?;
                self.send_ack().await?;
                let t = Instant::now();
                let r = self.transaction(Method::Bye, timeout).await;
                record(Method::Bye, t.elapsed(), r.clone());
                return r.map(|_| ());
            }
            Txn::Register => Method::Register,
            Txn::Options => Method::Options,
            Txn::Message => Method::Message,
        };
        let t = Instant::now();
        let r = self.transaction_with(&method, "", timeout).await;
        record(method, t.elapsed(), r.clone());
        r.map(|_| ())
    }

    /// Sends one request and waits for its final response; returns the status (< 400) or the failure.
    pub async fn transaction(&mut self, method: Method, timeout: Duration) -> Result<u16, FailureKind> {
        self.transaction_with(&method, "", timeout).await
    }

    /// Asks the server to switch this connection to bulk streaming ([`crate::bulk`]) and, on
    /// its 200, hands back the stream with whatever bytes were read past the response.
    pub async fn into_bulk(
        mut self,
        mode: crate::bulk::BulkMode,
        timeout: Duration,
    ) -> Result<(Stream, BytesMut, u64), FailureKind> {
        let header = format!("{}: {}\r\n", crate::bulk::HEADER, mode.as_str());
        self.transaction_with(&Method::Options, &header, timeout).await?;
        let (stream, leftover) = self.conn.into_parts();
        Ok((stream, leftover, self.bytes_out))
    }

    async fn transaction_with(&mut self, method: &Method, extra: &str, timeout: Duration) -> Result<u16, FailureKind> {
        self.cseq += 1;
        self.branch_seq += 1;
        self.conn.out().clear();
        self.write_request(method);
        if !extra.is_empty() {
            // Extra headers go just before the final User-Agent and Content-Length lines.
            let out = self.conn.out();
            let at = out.windows(12).rposition(|w| w == b"User-Agent: ").unwrap_or(out.len());
            out.splice(at..at, extra.bytes());
        }
        match tokio::time::timeout(timeout, self.exchange(method)).await {
            Err(_) => Err(FailureKind::SipTimeout),
            Ok(Ok(status)) if status >= 400 => Err(FailureKind::SipStatus(status)),
            Ok(r) => r,
        }
    }

    async fn exchange(&mut self, method: &Method) -> Result<u16, FailureKind> {
        self.bytes_out += self.conn.flush_out().await.map_err(failure)? as u64;
        let cseq = self.cseq;
        loop {
            let Some(frame) = self.conn.read_frame().await.map_err(failure)? else {
                return Err(FailureKind::Reset);
            };
            let Frame::Message(bytes) = frame else { continue };
            self.bytes_in += bytes.len() as u64;
            let msg = Message::parse(&bytes).map_err(|e| protocol(&format!("{e:?}")))?;
            let Message::Response(resp) = &msg else { continue };
            // Skip responses to something else (e.g. a late INVITE 200 retransmission, or a
            // response to another dialog, which a confused server may send).
            match msg.cseq() {
                Some((n, m)) if n == cseq && m == *method && msg.call_id() == Some(self.call_id.as_str()) => {}
                _ => continue,
            }
            if resp.status >= 200 {
                return Ok(resp.status);
            }
        }
    }

    async fn send_ack(&mut self) -> Result<(), FailureKind> {
        self.conn.out().clear();
        self.branch_seq += 1;
        self.write_request(&Method::Ack);
        self.bytes_out += self.conn.flush_out().await.map_err(failure)? as u64;
        Ok(())
    }

    /// Writes a request into the connection's output buffer (no allocation beyond the reused
    /// buffer).
    fn write_request(&mut self, method: &Method) {
        let message_body = self.message_body.clone();
        let body: &[u8] = match method {
            Method::Message => &message_body,
            Method::Invite => SDP_OFFER,
            _ => b"",
        };
        let cseq = self.cseq;
        let d = &*self.domain;
        let (uri_user, to_user) = if *method == Method::Register {
            ("", self.user.as_str())
        } else {
            ("uas@", "uas")
        };
        let o = self.conn.out();
        // write! into a Vec<u8> cannot fail.
        let _ = write!(
            o,
            "{method} sip:{uri_user}{d} SIP/2.0\r\nVia: SIP/2.0/{t} {l};branch=z9hG4bK{ft}.{b:x}\r\nMax-Forwards: 70\r\nFrom: <sip:{u}@{d}>;tag={ft}\r\nTo: <sip:{to_user}@{d}>\r\nCall-ID: {ci}\r\nCSeq: {cseq} {method}\r\nContact: <sip:{u}@{l};transport={tl}>\r\n",
            t = self.transport,
            l = self.local,
            b = self.branch_seq,
            u = self.user,
            ft = self.from_tag,
            ci = self.call_id,
            tl = if self.transport == "TLS" { "tls" } else { "tcp" },
        );
        match method {
            Method::Register => o.extend_from_slice(b"Expires: 3600\r\n"),
            Method::Message => o.extend_from_slice(b"Content-Type: text/plain\r\n"),
            Method::Invite => o.extend_from_slice(b"Content-Type: application/sdp\r\n"),
            _ => {}
        }
        let _ = write!(
            o,
            "User-Agent: sipbench/{}\r\nContent-Length: {}\r\n\r\n",
            env!("CARGO_PKG_VERSION"),
            body.len()
        );
        o.extend_from_slice(body);
    }

    /// After a 0-RTT session's first transaction: what the handshake negotiated, with the
    /// handshake kind `resumed-0rtt` when the server accepted the early data (else `resumed`
    /// or `full`, the request having been sent again after the handshake).
    pub fn finish_early(&self, keys: &mut PeerKeyCache) -> Option<Negotiated> {
        self.conn.get_ref().negotiated_late(keys)
    }

    /// Sets the body of MESSAGE requests.
    pub fn set_message_body(&mut self, body: Arc<[u8]>) {
        self.message_body = body;
    }

    /// Sends MESSAGE requests back to back with up to `window` outstanding, as long as `more()`
    /// says so, then waits for the outstanding ones. Requests that fit the window are written
    /// together. `record(sent_at, result)` is called once per request, when its final response
    /// arrives (matched by CSeq). A response later than `timeout` after the previous one (or
    /// after the last write) ends it with a SIP timeout.
    pub async fn pipeline(
        &mut self,
        window: usize,
        timeout: Duration,
        more: &mut impl FnMut() -> bool,
        record: &mut impl FnMut(Instant, Result<u16, FailureKind>),
    ) -> Result<(), FailureKind> {
        let mut outstanding: std::collections::VecDeque<(u32, Instant)> =
            std::collections::VecDeque::with_capacity(window);
        let mut sending = true;
        loop {
            if sending && outstanding.len() < window {
                self.conn.out().clear();
                let now = Instant::now();
                while outstanding.len() < window {
                    if !more() {
                        sending = false;
                        break;
                    }
                    self.cseq += 1;
                    self.branch_seq += 1;
                    self.write_request(&Method::Message);
                    outstanding.push_back((self.cseq, now));
                }
                // Nothing queued (the window was refilled by nothing): no write.
                self.bytes_out += self.conn.flush_out().await.map_err(failure)? as u64;
            }
            if outstanding.is_empty() {
                return Ok(());
            }
            // Wait for one frame, then take every frame that arrived with it before writing
            // again, so that the requests that refill the window go out together.
            let mut frame = match tokio::time::timeout(timeout, self.conn.read_frame()).await {
                Err(_) => return Err(FailureKind::SipTimeout),
                Ok(Ok(None)) => return Err(FailureKind::Reset),
                Ok(Ok(Some(frame))) => frame,
                Ok(Err(e)) => return Err(failure(e)),
            };
            loop {
                self.settle(frame, &mut outstanding, record)?;
                match self.conn.decode_buffered().map_err(failure)? {
                    Some(f) => frame = f,
                    None => break,
                }
            }
        }
    }

    /// A frame read by [`SipClient::pipeline`]: a final response settles its outstanding
    /// request, which is then recorded.
    fn settle(
        &mut self,
        frame: Frame,
        outstanding: &mut std::collections::VecDeque<(u32, Instant)>,
        record: &mut impl FnMut(Instant, Result<u16, FailureKind>),
    ) -> Result<(), FailureKind> {
        let Frame::Message(bytes) = frame else { return Ok(()) };
        self.bytes_in += bytes.len() as u64;
        let msg = Message::parse(&bytes).map_err(|e| protocol(&format!("{e:?}")))?;
        let Message::Response(resp) = &msg else { return Ok(()) };
        if resp.status < 200 {
            return Ok(());
        }
        let Some((n, _)) = msg.cseq() else { return Ok(()) };
        if msg.call_id() != Some(self.call_id.as_str()) {
            return Ok(());
        }
        if let Some(i) = outstanding.iter().position(|(c, _)| *c == n) {
            let (_, sent) = outstanding.remove(i).expect("index found above");
            let r = if resp.status >= 400 {
                Err(FailureKind::SipStatus(resp.status))
            } else {
                Ok(resp.status)
            };
            record(sent, r);
        }
        Ok(())
    }

    /// Sends a CRLF keep-alive ping and waits for the pong.
    pub async fn ping(&mut self, timeout: Duration) -> Result<(), FailureKind> {
        let fut = async {
            self.conn.out().clear();
            crate::sip::encode_ping(self.conn.out());
            self.conn.flush_out().await.map_err(failure)?;
            loop {
                match self.conn.read_frame().await.map_err(failure)? {
                    None => return Err(FailureKind::Reset),
                    Some(Frame::Pong) => return Ok(()),
                    Some(_) => {}
                }
            }
        };
        tokio::time::timeout(timeout, fut)
            .await
            .unwrap_or(Err(FailureKind::SipTimeout))
    }

    /// Sends TLS close_notify (or FIN) and drops the connection.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_millis(500), self.conn.shutdown()).await;
    }
}

const SDP_OFFER: &[u8] = b"v=0\r\no=sipbench 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

fn protocol(what: &str) -> FailureKind {
    FailureKind::SipProtocol(crate::failure::variant_kebab(what))
}

/// What a connection error means for the client: the one place I/O errors are classified.
fn failure(e: impl Into<ConnError>) -> FailureKind {
    FailureKind::from(e.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::{TcpListener, TcpStream};

    /// A client on a loopback connection and the server's end of it, read as SIP.
    async fn pair() -> (SipClient, Connection<TcpStream>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let peer = Connection::new(server, Role::Server, crate::sip::DEFAULT_MAX_MESSAGE_SIZE);
        (SipClient::new(Box::new(client), "example.test".into(), 1), peer)
    }

    /// A response in the dialog of the client `pair` makes (session id 1).
    fn response(status: u16, cseq: &str) -> Vec<u8> {
        response_in(&format!("1-{:x}@sipbench", std::process::id()), status, cseq)
    }

    fn response_in(call_id: &str, status: u16, cseq: &str) -> Vec<u8> {
        format!(
            "SIP/2.0 {status} X\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@b>\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    /// The next request the peer reads: its CSeq.
    async fn request(peer: &mut Connection<TcpStream>) -> (u32, Method) {
        let Some(Frame::Message(b)) = peer.read_frame().await.unwrap() else {
            panic!("a request")
        };
        Message::parse(&b).unwrap().cseq().unwrap()
    }

    #[tokio::test]
    async fn a_transaction_skips_provisional_and_foreign_responses_and_reads_a_split_final_one() {
        let (mut client, mut peer) = pair().await;
        let server = tokio::spawn(async move {
            assert_eq!(request(&mut peer).await, (1, Method::Options));
            let last = response(200, "1 OPTIONS");
            let first = [
                response(100, "1 OPTIONS"),
                response(200, "1 REGISTER"),
                response_in("another-dialog", 200, "1 OPTIONS"),
                last[..20].to_vec(),
            ]
            .concat();
            peer.write_all(&first).await.unwrap();
            peer.flush_out().await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            peer.write_all(&last[20..]).await.unwrap();
            peer
        });
        let status = client.transaction(Method::Options, Duration::from_secs(5)).await;
        assert_eq!(status, Ok(200));
        let mut peer = server.await.unwrap();
        let answered = response(100, "1 OPTIONS").len()
            + response(200, "1 REGISTER").len()
            + response_in("another-dialog", 200, "1 OPTIONS").len()
            + response(200, "1 OPTIONS").len();
        assert_eq!(client.bytes_in, answered as u64);

        // The server closes in the middle of the next response: a reset.
        let server = tokio::spawn(async move {
            assert_eq!(request(&mut peer).await, (2, Method::Register));
            peer.write_all(&response(200, "2 REGISTER")[..30]).await.unwrap();
            peer.shutdown().await.unwrap();
            peer
        });
        let status = client.transaction(Method::Register, Duration::from_secs(5)).await;
        assert_eq!(status, Err(FailureKind::Reset));
        drop(server.await.unwrap());
    }

    #[tokio::test]
    async fn a_pipeline_settles_responses_out_of_order_and_refills_its_window() {
        let (mut client, mut peer) = pair().await;
        let server = tokio::spawn(async move {
            let mut first = Vec::new();
            for _ in 0..3 {
                first.push(request(&mut peer).await);
            }
            assert_eq!(first.iter().map(|c| c.0).collect::<Vec<_>>(), [1, 2, 3]);
            assert!(first.iter().all(|c| c.1 == Method::Message));
            let answers = [
                response(200, "3 MESSAGE"),
                response(180, "1 MESSAGE"),
                response(200, "1 MESSAGE"),
                response(202, "2 MESSAGE"),
            ];
            peer.write_all(&answers.concat()).await.unwrap();
            assert_eq!(request(&mut peer).await, (4, Method::Message));
            peer.write_all(&response(486, "4 MESSAGE")).await.unwrap();
            peer
        });
        let mut left = 4;
        let mut more = || {
            left -= 1;
            left >= 0
        };
        let mut settled = Vec::new();
        let mut record = |_sent: Instant, r: Result<u16, FailureKind>| settled.push(r);
        let r = client.pipeline(3, Duration::from_secs(5), &mut more, &mut record).await;
        assert_eq!(r, Ok(()));
        assert_eq!(settled, [Ok(200), Ok(200), Ok(202), Err(FailureKind::SipStatus(486))]);
        drop(server.await.unwrap());
    }
}
