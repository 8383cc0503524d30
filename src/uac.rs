//! The SIP user agent client: requests and transactions over one established connection.
//!
//! Used by the generator's workloads and by the audit. Requests are written into the
//! connection's reused output buffer; responses are read with [`Connection::read_frame`] and
//! matched to their request by the top Via's branch, CSeq and Call-ID.
//!
//! Over UDP (a [`crate::tls::SessionIo::datagram`] stream) a transaction retransmits its
//! request as RFC 3261 §17.1 says: timer A (INVITE) doubles from [`T1`] without bound until a
//! provisional response arrives; timer E (other requests) doubles up to [`T2`], and stays at
//! [`T2`] once a provisional response has arrived; timers B and F end the transaction as a
//! SIP timeout after 64·T1 (or the caller's timeout, if shorter).

use std::io::Write as _;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::connection::{ConnError, Connection};
use crate::failure::{FailureKind, variant_kebab};
use crate::plan::{ExtraHeader, Txn};
use crate::sip::digest::{Challenge, DigestError};
use crate::sip::{Frame, Message, Method, ResponseHead, Role, push_number};
use crate::stats::Negotiated;
use crate::tls::PeerKeyCache;
use crate::tls::Stream;
use crate::users::User;

/// RFC 3261's round-trip estimate: the first retransmission interval over UDP.
pub const T1: Duration = Duration::from_millis(500);
/// RFC 3261's longest retransmission interval for non-INVITE requests.
pub const T2: Duration = Duration::from_secs(4);
/// Timers B and F: a UDP transaction without a final response by then has timed out.
pub const TIMER_B: Duration = Duration::from_secs(32);

/// Calls in progress across a phase's sessions, from INVITE sent to BYE answered (or failed):
/// SIPp's concurrent calls.
#[derive(Debug, Default)]
pub struct CallGauge {
    current: std::sync::atomic::AtomicU64,
    max: std::sync::atomic::AtomicU64,
}

impl CallGauge {
    /// The most calls that were in progress at once.
    pub fn max(&self) -> u64 {
        self.max.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn enter(self: &Arc<Self>) -> CallSlot {
        use std::sync::atomic::Ordering::Relaxed;
        let n = self.current.fetch_add(1, Relaxed) + 1;
        self.max.fetch_max(n, Relaxed);
        CallSlot(self.clone())
    }
}

/// One call's place in a [`CallGauge`], given back when the call ends however it ends.
struct CallSlot(Arc<CallGauge>);

impl Drop for CallSlot {
    fn drop(&mut self) {
        self.0.current.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// What a phase adds to its requests and calls.
#[derive(Debug, Clone, Default)]
pub struct CallSettings {
    /// Extra header lines ([`crate::plan::PhasePlan::headers`]).
    pub headers: Arc<[ExtraHeader]>,
    /// How long a call is held between its ACK and its BYE.
    pub hold: Duration,
    /// Where calls in progress are counted.
    pub gauge: Option<Arc<CallGauge>>,
}

/// A SIP user agent client on one [`Connection`], whose reused buffers keep transactions from
/// allocating.
pub struct SipClient {
    conn: Connection<Stream>,
    /// The Call-ID of the transaction in progress (or of the call, for its ACK and BYE).
    call_id: String,
    /// The Call-ID of every REGISTER of the session (RFC 3261 §10.2: one per registrar).
    register_call_id: String,
    /// Makes the session's Call-IDs unique across runs and processes.
    call_id_salt: u64,
    id: u64,
    call_seq: u64,
    from_tag: String,
    user: String,
    local: String,
    /// The local IP address alone: the Contact host. Without the ephemeral port, every
    /// session of one user refreshes one binding instead of adding one (a registrar caps
    /// contacts per address of record).
    contact_host: String,
    transport: &'static str,
    domain: Arc<str>,
    cseq: u32,
    branch_seq: u64,
    message_body: Arc<[u8]>,
    display: Option<String>,
    /// Digest name and password, when the session's user has one.
    credentials: Option<(String, String)>,
    /// The last 401 challenge answered, reused (nonce count + 1) on later requests.
    www_auth: Option<AuthState>,
    /// The last 407 challenge answered.
    proxy_auth: Option<AuthState>,
    cnonce: String,
    /// Application bytes written.
    pub bytes_out: u64,
    /// Application bytes read.
    pub bytes_in: u64,
    /// Digest challenges (401 and 407) received.
    pub challenges: u64,
    /// Requests sent again because no response came in time (UDP only).
    pub retransmissions: u64,
    /// Over UDP: the request in flight, kept to be sent again.
    resend: Option<Vec<u8>>,
    calls: CallSettings,
    /// Whether final responses' `Date` headers are read into `date` (the clock probe's).
    read_date: bool,
    /// The `Date` of the last final response read with `read_date` (Unix seconds).
    date: Option<u64>,
    /// The SIP timeout's timer, made by the first transaction and re-armed by each one after
    /// ([`within`]), so that a transaction does not register and clear a timer of its own.
    sip_timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// A challenge being answered, and how many times its nonce was used.
struct AuthState {
    challenge: Challenge,
    nc: u32,
}

/// A final response as the transaction sees it.
enum Final {
    Status(u16),
    /// 401 or 407, with the challenge chosen from its headers.
    Challenge(u16, Result<Challenge, DigestError>),
}

/// Most challenges one transaction answers before giving up (a server that always says stale).
const MAX_CHALLENGES: u32 = 3;

impl SipClient {
    /// Wraps an established stream. `id` makes Call-ID, tags and the user name unique per session;
    /// the socket's local address goes into Via and Contact.
    pub fn new(stream: Stream, domain: Arc<str>, id: u64) -> SipClient {
        SipClient::with_user(stream, domain, id, None)
    }

    /// As [`SipClient::new`], as `user` (its name, display name, own domain, and the
    /// password it answers digest challenges with) instead of `u{id}`.
    pub fn with_user(stream: Stream, domain: Arc<str>, id: u64, user: Option<&User>) -> SipClient {
        let local = stream.local_addr().ok();
        let transport = match (stream.secure(), stream.datagram()) {
            (true, _) => "TLS",
            (false, true) => "UDP",
            (false, false) => "TCP",
        };
        let resend = stream.datagram().then(|| Vec::with_capacity(2 * 1024));
        SipClient {
            conn: Connection::new(stream, Role::Client, crate::sip::DEFAULT_MAX_MESSAGE_SIZE),
            call_id: String::new(),
            register_call_id: String::new(),
            call_id_salt: rand::random(),
            id,
            call_seq: 0,
            from_tag: format!("t{id:x}"),
            user: user.map_or_else(|| format!("u{id}"), |u| u.user.clone()),
            local: local.map(|a| a.to_string()).unwrap_or_else(|| "127.0.0.1:5060".into()),
            contact_host: local
                .map(|a| match a.ip() {
                    std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                    ip => ip.to_string(),
                })
                .unwrap_or_else(|| "127.0.0.1".into()),
            transport,
            domain: user.and_then(|u| u.domain.as_deref()).map_or(domain, Arc::from),
            cseq: 0,
            branch_seq: 0,
            message_body: Arc::from(&b"sipbench says hello"[..]),
            display: user.and_then(|u| u.display.clone()),
            credentials: user.and_then(|u| Some((u.auth_name().to_owned(), u.password.clone()?))),
            www_auth: None,
            proxy_auth: None,
            cnonce: format!("{:016x}", rand::random::<u64>()),
            bytes_out: 0,
            bytes_in: 0,
            challenges: 0,
            retransmissions: 0,
            resend,
            calls: CallSettings::default(),
            read_date: false,
            date: None,
            sip_timer: None,
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
                let _slot = self.calls.gauge.as_ref().map(CallGauge::enter);
                let t = Instant::now();
                let r = self.transaction(Method::Invite, timeout).await;
                record(Method::Invite, t.elapsed(), r.clone());
                r?;
                self.send_ack().await?;
                if !self.calls.hold.is_zero() {
                    tokio::time::sleep(self.calls.hold).await;
                }
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

    /// One transaction, answering digest challenges on the way: a 401 or 407 is answered with
    /// the user's credentials (a new CSeq, the same Call-ID), a stale nonce is answered again,
    /// and the nonce is reused (nonce count + 1) by later requests of the session. The timeout
    /// and the caller's latency cover the whole exchange, challenges included.
    async fn transaction_with(&mut self, method: &Method, extra: &str, timeout: Duration) -> Result<u16, FailureKind> {
        self.next_call_id(method);
        let mut timer = self.sip_timer.take();
        let run = async {
            // Per challenge kind (401, 407): whether this transaction already answered one.
            let mut answered = [false; 2];
            let mut challenges = 0;
            loop {
                self.cseq += 1;
                self.branch_seq += 1;
                self.conn.out().clear();
                let with_credentials = self.write_request(method);
                if !extra.is_empty() {
                    // Extra headers go just before the final User-Agent and Content-Length lines.
                    let out = self.conn.out();
                    let at = out.windows(12).rposition(|w| w == b"User-Agent: ").unwrap_or(out.len());
                    out.splice(at..at, extra.bytes());
                }
                match self.exchange(method).await? {
                    Final::Status(403) if with_credentials => return Err(FailureKind::AuthRejected),
                    Final::Status(status) if status >= 400 => return Err(FailureKind::SipStatus(status)),
                    Final::Status(status) => return Ok(status),
                    Final::Challenge(status, challenge) => {
                        self.challenges += 1;
                        challenges += 1;
                        if self.credentials.is_none() {
                            return Err(FailureKind::AuthNoCredentials);
                        }
                        let challenge =
                            challenge.map_err(|e| FailureKind::AuthUnsupported(variant_kebab(&format!("{e:?}"))))?;
                        let k = usize::from(status == 407);
                        if (answered[k] && !challenge.stale) || challenges > MAX_CHALLENGES {
                            return Err(FailureKind::AuthRejected);
                        }
                        answered[k] = true;
                        let slot = if status == 407 {
                            &mut self.proxy_auth
                        } else {
                            &mut self.www_auth
                        };
                        *slot = Some(AuthState { challenge, nc: 0 });
                    }
                }
            }
        };
        let r = within(&mut timer, timeout, run).await;
        self.sip_timer = timer;
        r
    }

    /// Picks the Call-ID of a new transaction: REGISTERs share the session's registration
    /// Call-ID; OPTIONS, MESSAGE and INVITE (each out of dialog, or a new call) get a new one;
    /// BYE and ACK stay in the call's. A retry after a challenge keeps its transaction's.
    fn next_call_id(&mut self, method: &Method) {
        match method {
            Method::Register => {
                if self.register_call_id.is_empty() {
                    self.register_call_id = format!("{:x}-{:016x}@sipbench", self.id, self.call_id_salt);
                }
                self.call_id.clone_from(&self.register_call_id);
            }
            Method::Bye | Method::Ack if !self.call_id.is_empty() => {}
            _ => {
                // `{id:x}.{call_seq:x}-{salt:016x}@sipbench`, digit by digit rather than with
                // the formatting machinery: one per OPTIONS of a kept session.
                self.call_seq += 1;
                let id = &mut self.call_id;
                id.clear();
                push_hex(id, self.id, 1);
                id.push('.');
                push_hex(id, self.call_seq, 1);
                id.push('-');
                push_hex(id, self.call_id_salt, 16);
                id.push_str("@sipbench");
            }
        }
    }

    async fn exchange(&mut self, method: &Method) -> Result<Final, FailureKind> {
        if let Some(resend) = &mut self.resend {
            resend.clear();
            resend.extend_from_slice(self.conn.out());
        }
        self.bytes_out += self.conn.flush_out().await.map_err(failure)? as u64;
        let cseq = self.cseq;
        let started = Instant::now();
        // Over UDP: the wait before the next retransmission (timer A or E), and whether a
        // provisional response has arrived (the transaction is proceeding).
        let mut interval = T1;
        let mut proceeding = false;
        loop {
            let frame = match &self.resend {
                None => self.conn.read_frame().await,
                Some(_) => match tokio::time::timeout(interval, self.conn.read_frame()).await {
                    Ok(frame) => frame,
                    Err(_) => {
                        if started.elapsed() >= TIMER_B {
                            return Err(FailureKind::SipTimeout);
                        }
                        let invite = *method == Method::Invite;
                        // A proceeding INVITE waits for its final response without resending.
                        if !(invite && proceeding) {
                            let resend = self.resend.as_deref().unwrap_or_default();
                            self.conn.write_all(resend).await.map_err(failure)?;
                            self.bytes_out += resend.len() as u64;
                            self.retransmissions += 1;
                        }
                        interval = match (invite, proceeding) {
                            (true, _) => interval * 2,
                            (false, false) => (interval * 2).min(T2),
                            (false, true) => T2,
                        };
                        continue;
                    }
                },
            };
            let Some(frame) = frame.map_err(failure)? else {
                return Err(FailureKind::Reset);
            };
            let Frame::Message(bytes) = frame else { continue };
            self.bytes_in += bytes.len() as u64;
            // Only the headers a transaction reads are looked at (a request is skipped).
            let Some(resp) = ResponseHead::read(&bytes).map_err(|e| protocol(&format!("{e:?}")))? else {
                continue;
            };
            // Skip responses to something else (a retransmitted response to an earlier
            // request, a late INVITE 200, or a response to another dialog, which a confused
            // server may send): RFC 3261 §17.1.3 matches by the top Via's branch and the CSeq
            // method; the CSeq number and Call-ID must match too.
            let ours = resp.top_via_branch().is_some_and(|b| self.is_our_branch(b));
            match resp.cseq() {
                Some((n, m)) if ours && n == cseq && m == *method && resp.call_id() == Some(self.call_id.as_str()) => {}
                _ => continue,
            }
            if resp.status < 200 {
                proceeding = true;
            }
            if resp.status == 401 || resp.status == 407 {
                let name = if resp.status == 401 {
                    "WWW-Authenticate"
                } else {
                    "Proxy-Authenticate"
                };
                // A challenge is read in full, for its authentication headers.
                let msg = Message::parse(&bytes).map_err(|e| protocol(&format!("{e:?}")))?;
                return Ok(Final::Challenge(resp.status, Challenge::pick(msg.header_values(name))));
            }
            if resp.status >= 200 {
                if self.read_date {
                    self.date = resp
                        .date()
                        .and_then(|d| httpdate::parse_http_date(d.trim()).ok())
                        .and_then(|t| t.duration_since(std::time::SystemTime::UNIX_EPOCH).ok())
                        .map(|d| d.as_secs());
                }
                return Ok(Final::Status(resp.status));
            }
        }
    }

    /// Whether `branch` is the one the request in flight carries (`z9hG4bK{from_tag}.{seq:x}`).
    fn is_our_branch(&self, branch: &str) -> bool {
        branch
            .strip_prefix("z9hG4bK")
            .and_then(|b| b.strip_prefix(self.from_tag.as_str()))
            .and_then(|b| b.strip_prefix('.'))
            .is_some_and(|seq| u64::from_str_radix(seq, 16) == Ok(self.branch_seq))
    }

    async fn send_ack(&mut self) -> Result<(), FailureKind> {
        self.conn.out().clear();
        self.branch_seq += 1;
        let _ = self.write_request(&Method::Ack);
        self.bytes_out += self.conn.flush_out().await.map_err(failure)? as u64;
        Ok(())
    }

    /// Writes a request into the connection's output buffer (no allocation beyond the reused
    /// buffer, but for digest credentials). Returns whether it carries credentials.
    fn write_request(&mut self, method: &Method) -> bool {
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
        // Digest credentials for the challenges this session answers (a new nonce count each).
        let mut credentials = Vec::new();
        if let Some((name, password)) = &self.credentials {
            let uri = format!("sip:{uri_user}{d}");
            for (header, state) in [
                ("Authorization", &mut self.www_auth),
                ("Proxy-Authorization", &mut self.proxy_auth),
            ] {
                if let Some(state) = state {
                    state.nc += 1;
                    let value = state
                        .challenge
                        .answer(name, password, method.as_str(), &uri, state.nc, &self.cnonce);
                    credentials.push((header, value));
                }
            }
        }
        let display = self.display.as_deref().map(|n| format!("\"{n}\" ")).unwrap_or_default();
        let to_display = if *method == Method::Register {
            display.as_str()
        } else {
            ""
        };
        let tl: &[u8] = match self.transport {
            "TLS" => b"tls",
            "UDP" => b"udp",
            _ => b"tcp",
        };
        let (m, d, u, ft) = (
            method.as_str().as_bytes(),
            d.as_bytes(),
            self.user.as_bytes(),
            self.from_tag.as_bytes(),
        );
        let o = self.conn.out();
        // Piece by piece rather than with write!: the formatting machinery was a tenth of the
        // client's own CPU per kept-session exchange.
        for part in [
            m,
            b" sip:",
            uri_user.as_bytes(),
            d,
            b" SIP/2.0\r\nVia: SIP/2.0/",
            self.transport.as_bytes(),
            b" ",
            self.local.as_bytes(),
            b";branch=z9hG4bK",
            ft,
            b".",
        ] {
            o.extend_from_slice(part);
        }
        push_number(o, self.branch_seq, 16);
        for part in [
            &b"\r\nMax-Forwards: 70\r\nFrom: "[..],
            display.as_bytes(),
            b"<sip:",
            u,
            b"@",
            d,
            b">;tag=",
            ft,
            b"\r\nTo: ",
            to_display.as_bytes(),
            b"<sip:",
            to_user.as_bytes(),
            b"@",
            d,
            b">\r\nCall-ID: ",
            self.call_id.as_bytes(),
            b"\r\nCSeq: ",
        ] {
            o.extend_from_slice(part);
        }
        push_number(o, cseq.into(), 10);
        for part in [
            &b" "[..],
            m,
            b"\r\nContact: <sip:",
            u,
            b"@",
            self.contact_host.as_bytes(),
            b";transport=",
            tl,
            b">\r\n",
        ] {
            o.extend_from_slice(part);
        }
        for (header, value) in &credentials {
            let _ = write!(o, "{header}: {value}\r\n");
        }
        for h in self.calls.headers.iter() {
            if h.method.as_deref().is_none_or(|m| m == method.as_str()) {
                o.extend_from_slice(h.line.as_bytes());
                o.extend_from_slice(b"\r\n");
            }
        }
        match method {
            Method::Register => o.extend_from_slice(b"Expires: 3600\r\n"),
            Method::Message => o.extend_from_slice(b"Content-Type: text/plain\r\n"),
            Method::Invite => o.extend_from_slice(b"Content-Type: application/sdp\r\n"),
            _ => {}
        }
        o.extend_from_slice(
            concat!(
                "User-Agent: sipbench/",
                env!("CARGO_PKG_VERSION"),
                "\r\nContent-Length: "
            )
            .as_bytes(),
        );
        push_number(o, body.len() as u64, 10);
        o.extend_from_slice(b"\r\n\r\n");
        o.extend_from_slice(body);
        !credentials.is_empty()
    }

    /// After a 0-RTT session's first transaction: what the handshake negotiated, with the
    /// handshake kind `resumed-0rtt` when the server accepted the early data (else `resumed`
    /// or `full`, the request having been sent again after the handshake).
    pub fn finish_early(&self, keys: &mut PeerKeyCache) -> Option<Negotiated> {
        self.conn.get_ref().negotiated_late(keys)
    }

    /// Sets the extra headers, call hold time and call gauge of the phase.
    pub fn set_calls(&mut self, calls: CallSettings) {
        self.calls = calls;
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
        self.next_call_id(&Method::Message);
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
                    let _ = self.write_request(&Method::Message);
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
        let Some(resp) = ResponseHead::read(&bytes).map_err(|e| protocol(&format!("{e:?}")))? else {
            return Ok(());
        };
        if resp.status < 200 {
            return Ok(());
        }
        let Some((n, _)) = resp.cseq() else { return Ok(()) };
        if resp.call_id() != Some(self.call_id.as_str()) {
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

    /// Sends an OPTIONS and returns the `Date` of its final response (Unix seconds; `None`
    /// when the response has none or it does not parse as an RFC 1123 date): how the clock
    /// probe ([`crate::generator::offset`]) reads the target's clock.
    pub async fn options_date(&mut self, timeout: Duration) -> Result<Option<u64>, FailureKind> {
        self.read_date = true;
        self.date = None;
        let r = self.transaction_with(&Method::Options, "", timeout).await;
        self.read_date = false;
        r.map(|_| self.date.take())
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

/// Runs `fut` for at most `timeout` (then it is a SIP timeout) on `timer`, which is made at
/// the first call and re-armed by each call after. Re-arming for a later deadline, as each
/// transaction's is, only moves the timer entry's expiry, without the timer driver's lock;
/// `tokio::time::timeout` registers a new entry and clears it per transaction.
async fn within<T>(
    timer: &mut Option<Pin<Box<tokio::time::Sleep>>>,
    timeout: Duration,
    fut: impl Future<Output = Result<T, FailureKind>>,
) -> Result<T, FailureKind> {
    let now = tokio::time::Instant::now();
    // As tokio's own timeout: a timeout too long to add to the clock is as good as never.
    let deadline = now
        .checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400));
    if let Some(t) = timer.as_mut() {
        t.as_mut().reset(deadline);
    }
    let sleep = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
    tokio::pin!(fut);
    tokio::select! {
        biased;
        r = &mut fut => r,
        () = sleep.as_mut() => Err(FailureKind::SipTimeout),
    }
}

/// Appends `n` in lowercase hexadecimal, at least `width` digits (zero-padded), as `{n:0width$x}`.
fn push_hex(s: &mut String, n: u64, width: u32) {
    let digits = (u64::BITS - n.leading_zeros()).div_ceil(4).max(width);
    for i in (0..digits).rev() {
        let nibble = n.checked_shr(4 * i).unwrap_or(0) & 0xf;
        s.push(char::from_digit(nibble as u32, 16).unwrap_or('0'));
    }
}

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

    const FOREIGN_VIA: &str = "SIP/2.0/TCP h;branch=z9hG4bK1";

    #[test]
    fn hex_numbers_are_written_as_the_format_string_wrote_them() {
        for n in [0, 1, 0xf, 0x10, 0xdead_beef, u64::MAX] {
            for width in [1, 16] {
                let mut s = String::from("x");
                push_hex(&mut s, n, width);
                assert_eq!(s, format!("x{n:0w$x}", w = width as usize));
            }
        }
    }

    #[tokio::test]
    async fn requests_are_written_as_the_format_string_wrote_them() {
        let (mut c, _peer) = pair().await;
        c.display = Some("Alice".into());
        for (method, cseq, branch, body_len) in [
            (Method::Register, 1, 0x1, 0),
            (Method::Options, 42, 0xdead_beef, 0),
            (Method::Message, u32::MAX, u64::MAX, 19),
        ] {
            c.cseq = cseq;
            c.branch_seq = branch;
            c.next_call_id(&method);
            if method != Method::Register {
                let expected = format!("{:x}.{:x}-{:016x}@sipbench", c.id, c.call_seq, c.call_id_salt);
                assert_eq!(c.call_id, expected);
            }
            c.conn.out().clear();
            c.write_request(&method);
            let (uri_user, to_user, to_display) = if method == Method::Register {
                ("", "u1", "\"Alice\" ")
            } else {
                ("uas@", "uas", "")
            };
            let extra = if method == Method::Register {
                "Expires: 3600\r\n"
            } else if method == Method::Message {
                "Content-Type: text/plain\r\n"
            } else {
                ""
            };
            let l = &c.local;
            let expected = format!(
                "{method} sip:{uri_user}example.test SIP/2.0\r\nVia: SIP/2.0/TCP {l};branch=z9hG4bKt1.{branch:x}\r\nMax-Forwards: 70\r\nFrom: \"Alice\" <sip:u1@example.test>;tag=t1\r\nTo: {to_display}<sip:{to_user}@example.test>\r\nCall-ID: {ci}\r\nCSeq: {cseq} {method}\r\nContact: <sip:u1@127.0.0.1;transport=tcp>\r\n{extra}User-Agent: sipbench/{v}\r\nContent-Length: {body_len}\r\n\r\n",
                ci = c.call_id,
                v = env!("CARGO_PKG_VERSION"),
            );
            let out = c.conn.out().clone();
            assert_eq!(String::from_utf8_lossy(&out[..out.len() - body_len]), expected);
        }
        let mut n = Vec::new();
        for (x, radix, text) in [
            (0, 10, "0"),
            (7, 16, "7"),
            (u64::MAX, 10, "18446744073709551615"),
            (u64::MAX, 16, "ffffffffffffffff"),
        ] {
            n.clear();
            push_number(&mut n, x, radix);
            assert_eq!(n, text.as_bytes());
        }
    }

    fn response_in(call_id: &str, status: u16, cseq: &str, extra: &str) -> Vec<u8> {
        response_via(FOREIGN_VIA, call_id, status, cseq, extra)
    }

    fn response_via(via: &str, call_id: &str, status: u16, cseq: &str, extra: &str) -> Vec<u8> {
        format!(
            "SIP/2.0 {status} X\r\nVia: {via}\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@b>\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\n{extra}Content-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    /// The next request the peer reads.
    struct Req {
        cseq: (u32, Method),
        call_id: String,
        authorization: Option<String>,
        /// The top Via, echoed in responses (the client matches them by its branch).
        via: String,
    }

    impl Req {
        /// A response to it.
        fn answer(&self, status: u16, extra: &str) -> Vec<u8> {
            response_via(
                &self.via,
                &self.call_id,
                status,
                &format!("{} {}", self.cseq.0, self.cseq.1),
                extra,
            )
        }
    }

    async fn request(peer: &mut Connection<TcpStream>) -> Req {
        let Some(Frame::Message(b)) = peer.read_frame().await.unwrap() else {
            panic!("a request")
        };
        let m = Message::parse(&b).unwrap();
        Req {
            cseq: m.cseq().unwrap(),
            call_id: m.call_id().unwrap().to_owned(),
            authorization: m.header("Authorization").map(str::to_owned),
            via: m.header("Via").unwrap().to_owned(),
        }
    }

    #[tokio::test]
    async fn a_transaction_skips_provisional_and_foreign_responses_and_reads_a_split_final_one() {
        let (mut client, mut peer) = pair().await;
        let server = tokio::spawn(async move {
            let r = request(&mut peer).await;
            assert_eq!(r.cseq, (1, Method::Options));
            let last = r.answer(200, "");
            let first = [
                r.answer(100, ""),
                response_in(&r.call_id, 200, "1 REGISTER", ""),
                response_in("another-dialog", 200, "1 OPTIONS", ""),
                // The right dialog and CSeq, another transaction's branch.
                response_in(&r.call_id, 200, "1 OPTIONS", ""),
                last[..20].to_vec(),
            ]
            .concat();
            peer.write_all(&first).await.unwrap();
            peer.flush_out().await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            peer.write_all(&last[20..]).await.unwrap();
            (peer, first.len() + last.len() - 20, r.call_id)
        });
        let status = client.transaction(Method::Options, Duration::from_secs(5)).await;
        assert_eq!(status, Ok(200));
        let (mut peer, answered, options_call_id) = server.await.unwrap();
        assert_eq!(client.bytes_in, answered as u64);

        // The server closes in the middle of the next response: a reset. The REGISTER is a new
        // transaction with a Call-ID of its own.
        let server = tokio::spawn(async move {
            let r = request(&mut peer).await;
            assert_eq!(r.cseq, (2, Method::Register));
            assert_ne!(r.call_id, options_call_id);
            peer.write_all(&r.answer(200, "")[..30]).await.unwrap();
            peer.shutdown().await.unwrap();
            peer
        });
        let status = client.transaction(Method::Register, Duration::from_secs(5)).await;
        assert_eq!(status, Err(FailureKind::Reset));
        drop(server.await.unwrap());
    }

    #[tokio::test]
    async fn out_of_dialog_requests_get_new_call_ids_and_registers_share_one() {
        let (mut client, mut peer) = pair().await;
        let server = tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..4 {
                let r = request(&mut peer).await;
                peer.write_all(&r.answer(200, "")).await.unwrap();
                ids.push((r.cseq.1, r.call_id));
            }
            ids
        });
        for m in [Method::Register, Method::Options, Method::Options, Method::Register] {
            assert_eq!(client.transaction(m, Duration::from_secs(5)).await, Ok(200));
        }
        let ids = server.await.unwrap();
        assert_eq!(ids[0].1, ids[3].1, "{ids:?}");
        assert_ne!(ids[1].1, ids[2].1, "{ids:?}");
        assert_ne!(ids[0].1, ids[1].1, "{ids:?}");
        // Unique across clients with the same session id (another run, another process).
        let (mut other, mut peer) = pair().await;
        let server = tokio::spawn(async move {
            let r = request(&mut peer).await;
            peer.write_all(&r.answer(200, "")).await.unwrap();
            r.call_id
        });
        assert_eq!(
            other.transaction(Method::Register, Duration::from_secs(5)).await,
            Ok(200)
        );
        assert_ne!(server.await.unwrap(), ids[0].1);
    }

    /// A 401 is answered with credentials (same Call-ID, next CSeq); the next REGISTER reuses
    /// the nonce with nonce count 2; a second 401 right after an answer is a rejection.
    #[tokio::test]
    async fn a_challenge_is_answered_and_its_nonce_reused() {
        use crate::sip::digest::Credentials;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let mut peer = Connection::new(server, Role::Server, crate::sip::DEFAULT_MAX_MESSAGE_SIZE);
        let users = crate::users::Users::parse("alice,secret\n").unwrap();
        let mut client = SipClient::with_user(Box::new(stream), "example.test".into(), 1, Some(&users.users[0]));
        let challenge = "WWW-Authenticate: Digest realm=\"r\", nonce=\"n1\", qop=\"auth\", algorithm=SHA-256\r\n";
        let server = tokio::spawn(async move {
            let first = request(&mut peer).await;
            assert_eq!(first.authorization, None);
            peer.write_all(&first.answer(401, challenge)).await.unwrap();
            let second = request(&mut peer).await;
            assert_eq!((second.cseq.0, &second.call_id), (first.cseq.0 + 1, &first.call_id));
            let c = Credentials::parse(second.authorization.as_deref().unwrap()).unwrap();
            assert!(c.verify("secret", "REGISTER"));
            assert_eq!(
                (c.username.as_str(), c.uri.as_str(), c.nc),
                ("alice", "sip:example.test", Some(1))
            );
            peer.write_all(&second.answer(200, "")).await.unwrap();
            // The next REGISTER carries credentials at once, nonce count 2.
            let third = request(&mut peer).await;
            let c = Credentials::parse(third.authorization.as_deref().unwrap()).unwrap();
            assert_eq!(c.nc, Some(2));
            assert!(c.verify("secret", "REGISTER"));
            peer.write_all(&third.answer(401, challenge)).await.unwrap();
            // Answered again, refused again: a rejection, not a loop.
            let fourth = request(&mut peer).await;
            peer.write_all(&fourth.answer(401, challenge)).await.unwrap();
            peer
        });
        let t = Duration::from_secs(5);
        assert_eq!(client.transaction(Method::Register, t).await, Ok(200));
        assert_eq!(
            client.transaction(Method::Register, t).await,
            Err(FailureKind::AuthRejected)
        );
        assert_eq!(client.challenges, 3);
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
            assert_eq!(first.iter().map(|c| c.cseq.0).collect::<Vec<_>>(), [1, 2, 3]);
            assert!(first.iter().all(|c| c.cseq.1 == Method::Message));
            let answers = [
                first[2].answer(200, ""),
                first[0].answer(180, ""),
                first[0].answer(200, ""),
                first[1].answer(202, ""),
            ];
            peer.write_all(&answers.concat()).await.unwrap();
            let r = request(&mut peer).await;
            assert_eq!(r.cseq, (4, Method::Message));
            peer.write_all(&r.answer(486, "")).await.unwrap();
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

    #[tokio::test]
    async fn extra_headers_go_on_their_requests_and_a_call_is_held_between_ack_and_bye() {
        let (mut client, mut peer) = pair().await;
        let gauge = Arc::new(CallGauge::default());
        client.set_calls(CallSettings {
            headers: vec![
                "X-Campaign: q4".parse().unwrap(),
                "INVITE=P-Asserted-Identity: <sip:alice@example.test>".parse().unwrap(),
            ]
            .into(),
            hold: Duration::from_millis(300),
            gauge: Some(gauge.clone()),
        });
        let server = tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..3 {
                let Some(Frame::Message(b)) = peer.read_frame().await.unwrap() else {
                    panic!("a request")
                };
                let at = Instant::now();
                let m = Message::parse(&b).unwrap();
                let method = m.cseq().unwrap().1;
                let headers = (
                    m.header("X-Campaign").map(str::to_owned),
                    m.header("P-Asserted-Identity").map(str::to_owned),
                );
                if matches!(method, Method::Invite | Method::Bye) {
                    let r = Req {
                        cseq: m.cseq().unwrap(),
                        call_id: m.call_id().unwrap().to_owned(),
                        authorization: None,
                        via: m.header("Via").unwrap().to_owned(),
                    };
                    peer.write_all(&r.answer(200, "")).await.unwrap();
                }
                seen.push((method, headers, at));
            }
            seen
        });
        let mut steps = Vec::new();
        let r = client
            .run(Txn::Invite, Duration::from_secs(5), &mut |m, _, r| steps.push((m, r)))
            .await;
        assert_eq!(r, Ok(()));
        assert_eq!(steps, [(Method::Invite, Ok(200)), (Method::Bye, Ok(200))]);
        let seen = server.await.unwrap();
        let q4 = Some("q4".to_owned());
        let pai = Some("<sip:alice@example.test>".to_owned());
        assert_eq!(seen[0].0, Method::Invite);
        assert_eq!(seen[0].1, (q4.clone(), pai));
        assert_eq!(seen[1].0, Method::Ack);
        assert_eq!(seen[1].1, (q4.clone(), None));
        assert_eq!(seen[2].0, Method::Bye);
        assert_eq!(seen[2].1, (q4, None));
        // The BYE waited for the hold time after the ACK.
        assert!(
            seen[2].2 - seen[1].2 >= Duration::from_millis(290),
            "{:?}",
            seen[2].2 - seen[1].2
        );
        assert_eq!(gauge.max(), 1);
        assert_eq!(gauge.current.load(std::sync::atomic::Ordering::Relaxed), 0);
    }

    /// A client on a connected UDP socket and the peer's socket.
    async fn udp_pair() -> (SipClient, tokio::net::UdpSocket) {
        let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (socket, _) = crate::tls::udp::connect(peer.local_addr().unwrap(), None, Duration::from_secs(1))
            .await
            .unwrap();
        let client = SipClient::new(
            Box::new(crate::tls::udp::UdpStream::new(socket)),
            "example.test".into(),
            1,
        );
        (client, peer)
    }

    /// The next datagram the UDP peer receives, parsed, with its arrival time and source.
    async fn udp_request(peer: &tokio::net::UdpSocket) -> (Req, Instant, std::net::SocketAddr, Vec<u8>) {
        let mut buf = vec![0u8; 65_536];
        let (n, from) = peer.recv_from(&mut buf).await.unwrap();
        let at = Instant::now();
        buf.truncate(n);
        let m = Message::parse(&buf).unwrap();
        let req = Req {
            cseq: m.cseq().unwrap(),
            call_id: m.call_id().unwrap().to_owned(),
            authorization: None,
            via: m.header("Via").unwrap().to_owned(),
        };
        (req, at, from, buf)
    }

    #[tokio::test]
    async fn over_udp_a_lost_request_is_sent_again_on_timer_e_and_matched_by_branch() {
        let (mut client, peer) = udp_pair().await;
        let server = tokio::spawn(async move {
            // Three copies are lost: the client sends at 0, T1, 3·T1 and 7·T1 (timer E
            // doubling: T1, 2·T1, 4·T1), every copy the same request.
            let (first, t0, from, bytes) = udp_request(&peer).await;
            assert!(first.via.starts_with("SIP/2.0/UDP 127.0.0.1:"), "{}", first.via);
            let mut times = vec![t0];
            for _ in 0..3 {
                let (r, at, _, again) = udp_request(&peer).await;
                assert_eq!(again, bytes, "a retransmission is the same datagram");
                assert_eq!(r.cseq, first.cseq);
                times.push(at);
            }
            // A response to another branch first (ignored), then the real one.
            let foreign = response_in(&first.call_id, 200, &format!("{} OPTIONS", first.cseq.0), "");
            peer.send_to(&foreign, from).await.unwrap();
            peer.send_to(&first.answer(200, ""), from).await.unwrap();
            times
        });
        let r = client.transaction(Method::Options, Duration::from_secs(10)).await;
        assert_eq!(r, Ok(200));
        assert_eq!(client.retransmissions, 3);
        assert_eq!(client.transport, "UDP");
        let times = server.await.unwrap();
        // Timer E: each wait at least the interval (T1, 2·T1, 4·T1); a correctness bound on the
        // schedule, not a speed figure.
        for (i, w) in times.windows(2).enumerate() {
            let waited = w[1] - w[0];
            let interval = T1 * (1 << i);
            assert!(
                waited >= interval.mul_f64(0.9),
                "retransmission {i} after {waited:?}, before {interval:?}"
            );
        }
    }

    #[tokio::test]
    async fn over_udp_a_proceeding_invite_is_not_sent_again_and_times_out() {
        let (mut client, peer) = udp_pair().await;
        let server = tokio::spawn(async move {
            let (r, _, from, _) = udp_request(&peer).await;
            assert_eq!(r.cseq.1, Method::Invite);
            peer.send_to(&r.answer(100, ""), from).await.unwrap();
            // Nothing else arrives for well over T1 + 2·T1.
            let mut buf = vec![0u8; 65_536];
            tokio::time::timeout(Duration::from_millis(2_000), peer.recv_from(&mut buf))
                .await
                .is_err()
        });
        let r = client.transaction(Method::Invite, Duration::from_millis(2_200)).await;
        assert_eq!(r, Err(FailureKind::SipTimeout));
        assert_eq!(client.retransmissions, 0);
        assert!(server.await.unwrap(), "the INVITE was sent again after its 100 Trying");
    }
}
