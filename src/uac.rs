//! The SIP user agent client: requests and transactions over one established connection.
//!
//! Used by the generator's workloads and by the audit. Requests are written into a reused
//! buffer; responses are matched to their request by CSeq.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::failure::FailureKind;
use crate::plan::Txn;
use crate::sip::{Frame, Framer, Message, Role};
use crate::stats::Negotiated;
use crate::tls::Stream;
use crate::tls::{self, PeerKeyCache};

/// A SIP user agent client on one connection; owns its buffers so transactions do not allocate.
pub struct SipClient {
    stream: Stream,
    framer: Framer,
    buf: BytesMut,
    out: Vec<u8>,
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
            stream,
            framer: Framer::new(Role::Client, crate::sip::DEFAULT_MAX_MESSAGE_SIZE),
            buf: BytesMut::with_capacity(8 * 1024),
            out: Vec::with_capacity(2 * 1024),
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
        record: &mut impl FnMut(&'static str, Duration, Result<u16, FailureKind>),
    ) -> Result<(), FailureKind> {
        match txn {
            Txn::Invite => {
                let t = Instant::now();
                let r = self.transaction("INVITE", timeout).await;
                record("INVITE", t.elapsed(), r.clone());
                r?;
                self.send_ack().await?;
                let t = Instant::now();
                let r = self.transaction("BYE", timeout).await;
                record("BYE", t.elapsed(), r.clone());
                r.map(|_| ())
            }
            other => {
                let t = Instant::now();
                let r = self.transaction(other.as_str(), timeout).await;
                record(other.as_str(), t.elapsed(), r.clone());
                r.map(|_| ())
            }
        }
    }

    /// Sends one request and waits for its final response; returns the status (< 400) or the failure.
    pub async fn transaction(&mut self, method: &'static str, timeout: Duration) -> Result<u16, FailureKind> {
        self.transaction_with(method, "", timeout).await
    }

    /// Asks the server to switch this connection to bulk streaming ([`crate::bulk`]) and, on
    /// its 200, hands back the stream with whatever bytes were read past the response.
    pub async fn into_bulk(
        mut self,
        mode: crate::bulk::BulkMode,
        timeout: Duration,
    ) -> Result<(Stream, BytesMut, u64), FailureKind> {
        let header = format!("{}: {}\r\n", crate::bulk::HEADER, mode.as_str());
        self.transaction_with("OPTIONS", &header, timeout).await?;
        Ok((self.stream, self.buf, self.bytes_out))
    }

    async fn transaction_with(
        &mut self,
        method: &'static str,
        extra: &str,
        timeout: Duration,
    ) -> Result<u16, FailureKind> {
        self.cseq += 1;
        self.branch_seq += 1;
        self.out.clear();
        self.write_request(method);
        if !extra.is_empty() {
            // Extra headers go just before the final User-Agent and Content-Length lines.
            let at = self
                .out
                .windows(12)
                .rposition(|w| w == b"User-Agent: ")
                .unwrap_or(self.out.len());
            self.out.splice(at..at, extra.bytes());
        }
        match tokio::time::timeout(timeout, self.exchange(method)).await {
            Err(_) => Err(FailureKind::SipTimeout),
            Ok(Ok(status)) if status >= 400 => Err(FailureKind::SipStatus(status)),
            Ok(r) => r,
        }
    }

    async fn exchange(&mut self, method: &'static str) -> Result<u16, FailureKind> {
        self.stream
            .write_all(&self.out)
            .await
            .map_err(|e| tls::classify_io(&e))?;
        self.stream.flush().await.map_err(|e| tls::classify_io(&e))?;
        self.bytes_out += self.out.len() as u64;
        let cseq = self.cseq;
        loop {
            while let Some(frame) = self
                .framer
                .decode(&mut self.buf)
                .map_err(|e| protocol(&format!("{e:?}")))?
            {
                let Frame::Message(bytes) = frame else { continue };
                self.bytes_in += bytes.len() as u64;
                let msg = Message::parse(&bytes).map_err(|e| protocol(&format!("{e:?}")))?;
                let Message::Response(resp) = &msg else { continue };
                // Skip responses to something else (e.g. a late INVITE 200 retransmission).
                match msg.cseq() {
                    Some((n, m)) if n == cseq && m.as_str() == method => {}
                    _ => continue,
                }
                if resp.status >= 200 {
                    return Ok(resp.status);
                }
            }
            match self.stream.read_buf(&mut self.buf).await {
                Ok(0) => return Err(FailureKind::Reset),
                Ok(_) => {}
                Err(e) => return Err(tls::classify_io(&e)),
            }
        }
    }

    async fn send_ack(&mut self) -> Result<(), FailureKind> {
        self.out.clear();
        self.branch_seq += 1;
        self.write_request("ACK");
        self.stream
            .write_all(&self.out)
            .await
            .map_err(|e| tls::classify_io(&e))?;
        self.stream.flush().await.map_err(|e| tls::classify_io(&e))?;
        self.bytes_out += self.out.len() as u64;
        Ok(())
    }

    /// Writes a request into `self.out` (no allocation beyond the reused buffer).
    fn write_request(&mut self, method: &'static str) {
        let message_body = self.message_body.clone();
        let body: &[u8] = match method {
            "MESSAGE" => &message_body,
            "INVITE" => SDP_OFFER,
            _ => b"",
        };
        let (cseq_method, cseq) = if method == "ACK" {
            ("ACK", self.cseq)
        } else {
            (method, self.cseq)
        };
        let d = &*self.domain;
        let (uri_user, to_user) = if method == "REGISTER" {
            ("", self.user.as_str())
        } else {
            ("uas@", "uas")
        };
        let o = &mut self.out;
        // write! into a Vec<u8> cannot fail.
        let _ = write!(
            o,
            "{method} sip:{uri_user}{d} SIP/2.0\r\nVia: SIP/2.0/{t} {l};branch=z9hG4bK{ft}.{b:x}\r\nMax-Forwards: 70\r\nFrom: <sip:{u}@{d}>;tag={ft}\r\nTo: <sip:{to_user}@{d}>\r\nCall-ID: {ci}\r\nCSeq: {cseq} {cseq_method}\r\nContact: <sip:{u}@{l};transport={tl}>\r\n",
            t = self.transport,
            l = self.local,
            b = self.branch_seq,
            u = self.user,
            ft = self.from_tag,
            ci = self.call_id,
            tl = if self.transport == "TLS" { "tls" } else { "tcp" },
        );
        match method {
            "REGISTER" => o.extend_from_slice(b"Expires: 3600\r\n"),
            "MESSAGE" => o.extend_from_slice(b"Content-Type: text/plain\r\n"),
            "INVITE" => o.extend_from_slice(b"Content-Type: application/sdp\r\n"),
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
        self.stream.negotiated_late(keys)
    }

    /// Sets the body of MESSAGE requests.
    pub fn set_message_body(&mut self, body: Arc<[u8]>) {
        self.message_body = body;
    }

    /// Sends MESSAGE requests back to back with up to `window` outstanding, as long as `more()`
    /// says so, then waits for the outstanding ones. Requests that fit the window are written
    /// together. `record(sent_at, result)` is called once per request, when its final response
    /// arrives (matched by CSeq). A response later than `timeout` after the last progress ends
    /// it with a SIP timeout.
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
                self.out.clear();
                let now = Instant::now();
                while outstanding.len() < window {
                    if !more() {
                        sending = false;
                        break;
                    }
                    self.cseq += 1;
                    self.branch_seq += 1;
                    self.write_request("MESSAGE");
                    outstanding.push_back((self.cseq, now));
                }
                if !self.out.is_empty() {
                    self.stream
                        .write_all(&self.out)
                        .await
                        .map_err(|e| tls::classify_io(&e))?;
                    self.stream.flush().await.map_err(|e| tls::classify_io(&e))?;
                    self.bytes_out += self.out.len() as u64;
                }
            }
            if outstanding.is_empty() {
                return Ok(());
            }
            let read = tokio::time::timeout(timeout, self.stream.read_buf(&mut self.buf)).await;
            match read {
                Err(_) => return Err(FailureKind::SipTimeout),
                Ok(Ok(0)) => return Err(FailureKind::Reset),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(tls::classify_io(&e)),
            }
            while let Some(frame) = self
                .framer
                .decode(&mut self.buf)
                .map_err(|e| protocol(&format!("{e:?}")))?
            {
                let Frame::Message(bytes) = frame else { continue };
                self.bytes_in += bytes.len() as u64;
                let msg = Message::parse(&bytes).map_err(|e| protocol(&format!("{e:?}")))?;
                let Message::Response(resp) = &msg else { continue };
                if resp.status < 200 {
                    continue;
                }
                let Some((n, _)) = msg.cseq() else { continue };
                if let Some(i) = outstanding.iter().position(|(c, _)| *c == n) {
                    let (_, sent) = outstanding.remove(i).expect("index found above");
                    let r = if resp.status >= 400 {
                        Err(FailureKind::SipStatus(resp.status))
                    } else {
                        Ok(resp.status)
                    };
                    record(sent, r);
                }
            }
        }
    }

    /// Sends a CRLF keep-alive ping and waits for the pong.
    pub async fn ping(&mut self, timeout: Duration) -> Result<(), FailureKind> {
        let fut = async {
            self.stream
                .write_all(b"\r\n\r\n")
                .await
                .map_err(|e| tls::classify_io(&e))?;
            self.stream.flush().await.map_err(|e| tls::classify_io(&e))?;
            loop {
                if let Some(f) = self
                    .framer
                    .decode(&mut self.buf)
                    .map_err(|e| protocol(&format!("{e:?}")))?
                {
                    if f == Frame::Pong {
                        return Ok(());
                    }
                    continue;
                }
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) => return Err(FailureKind::Reset),
                    Ok(_) => {}
                    Err(e) => return Err(tls::classify_io(&e)),
                }
            }
        };
        tokio::time::timeout(timeout, fut)
            .await
            .unwrap_or(Err(FailureKind::SipTimeout))
    }

    /// Sends TLS close_notify (or FIN) and drops the connection.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_millis(500), self.stream.shutdown()).await;
    }
}

const SDP_OFFER: &[u8] = b"v=0\r\no=sipbench 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

fn protocol(what: &str) -> FailureKind {
    FailureKind::SipProtocol(crate::failure::variant_kebab(what))
}
