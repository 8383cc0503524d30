//! Measurement state, pure and I/O-free.
//!
//! Every generator worker owns one [`PhaseStats`] per phase; nothing here is shared between
//! threads while a phase runs. At the end the workers' stats are merged with
//! [`PhaseStats::merge`] and summarised. Latencies are recorded in microseconds into
//! [`hdrhistogram::Histogram`]s with three significant figures.
//!
//! Failures are data: each failed session or transaction is counted under a [`FailureKind`],
//! never just logged.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

use crate::failure::FailureKind;

/// Highest latency the histograms track, in microseconds (one hour); larger values saturate.
pub const MAX_TRACKABLE_US: u64 = 3_600_000_000;
/// Significant figures kept by every histogram.
pub const SIGFIG: u8 = 3;

/// Creates an empty latency histogram (microseconds, 1 us .. 1 h, 3 significant figures).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_TRACKABLE_US, SIGFIG).expect("static histogram bounds are valid")
}

/// Converts a duration to whole microseconds, at least 1 (the histogram's lowest value).
pub fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).max(1)
}

/// What one handshake negotiated; tallied per phase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Negotiated {
    /// Protocol version, e.g. `TLSv1_3` (`none` for cleartext TCP).
    pub protocol: String,
    /// Cipher suite, e.g. `TLS13_AES_128_GCM_SHA256`.
    pub cipher_suite: String,
    /// Key exchange group, e.g. `X25519`.
    pub kx_group: String,
    /// The peer's end-entity certificate key, e.g. `ECDSA P-256`.
    pub peer_key: String,
    /// The kind of handshake.
    pub handshake: HandshakeKind,
    /// How a resumed handshake resumed, as the handshake showed it ([`ResumedBy::None`] for
    /// full handshakes and cleartext).
    pub resumed_by: ResumedBy,
}

impl Negotiated {
    /// Cleartext TCP: no handshake ([`crate::tls::cleartext`] names every field `none`).
    pub fn is_cleartext(&self) -> bool {
        self.handshake == HandshakeKind::None
    }
}

/// What kind of handshake a session had. The variants are in the order of their names, as the
/// tally in results lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum HandshakeKind {
    /// A full handshake (`full`).
    #[serde(rename = "full")]
    Full,
    /// A full handshake after a HelloRetryRequest (`full-hrr`; rustls only).
    #[serde(rename = "full-hrr")]
    FullHrr,
    /// No handshake: cleartext TCP (`none`).
    #[serde(rename = "none")]
    None,
    /// A resumed handshake (`resumed`).
    #[serde(rename = "resumed")]
    Resumed,
    /// A resumed handshake whose 0-RTT early data the server accepted (`resumed-0rtt`).
    #[serde(rename = "resumed-0rtt")]
    Resumed0Rtt,
    /// The stack did not say (`unknown`).
    #[serde(rename = "unknown")]
    Unknown,
}

/// The mechanism a resumed handshake used, read from the handshake (not from the resumption
/// mode asked for): a server that ignores or refuses tickets shows here as `session-id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
pub enum ResumedBy {
    /// Not resumed: a full handshake, or cleartext (`none`).
    #[serde(rename = "none")]
    #[default]
    None,
    /// TLS 1.2 resumption by session id from the server's cache (`session-id`).
    #[serde(rename = "session-id")]
    SessionId,
    /// TLS 1.2 resumption by an RFC 5077 session ticket (`ticket`).
    #[serde(rename = "ticket")]
    Ticket,
    /// TLS 1.3 resumption by pre-shared key from a NewSessionTicket (`tls13-psk`), stateless or
    /// an id into the server's cache: the client cannot tell which.
    #[serde(rename = "tls13-psk")]
    Tls13Psk,
    /// Resumed, but the stack does not say how (`unknown`).
    #[serde(rename = "unknown")]
    Unknown,
}

impl ResumedBy {
    /// Stable name, as in results.
    pub fn as_str(self) -> &'static str {
        match self {
            ResumedBy::None => "none",
            ResumedBy::SessionId => "session-id",
            ResumedBy::Ticket => "ticket",
            ResumedBy::Tls13Psk => "tls13-psk",
            ResumedBy::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ResumedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl HandshakeKind {
    /// Stable name, as in results.
    pub fn as_str(self) -> &'static str {
        match self {
            HandshakeKind::Full => "full",
            HandshakeKind::FullHrr => "full-hrr",
            HandshakeKind::None => "none",
            HandshakeKind::Resumed => "resumed",
            HandshakeKind::Resumed0Rtt => "resumed-0rtt",
            HandshakeKind::Unknown => "unknown",
        }
    }

    /// A resumed handshake, with or without early data.
    pub fn is_resumed(self) -> bool {
        matches!(self, HandshakeKind::Resumed | HandshakeKind::Resumed0Rtt)
    }
}

impl fmt::Display for HandshakeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One SIP method's transaction latency histograms.
#[derive(Debug, Clone)]
pub struct TxnStats {
    /// Latency from sending the request (open loop: from its intended send time) to the final response.
    pub latency: Histogram<u64>,
    /// Open loop only: latency from the actual send time, uncorrected for coordinated omission.
    pub uncorrected: Histogram<u64>,
    /// Transactions that ended with a final response < 400.
    pub ok: u64,
    /// Transactions that failed (any [`FailureKind`]).
    pub failed: u64,
}

impl TxnStats {
    fn new() -> Self {
        TxnStats {
            latency: new_histogram(),
            uncorrected: new_histogram(),
            ok: 0,
            failed: 0,
        }
    }
}

/// Everything one worker measured during one phase.
#[derive(Debug, Clone)]
pub struct PhaseStats {
    /// TCP connect latency.
    pub connect: Histogram<u64>,
    /// Full TLS handshake latency (after TCP connect, until the handshake completes).
    pub handshake_full: Histogram<u64>,
    /// Resumed TLS handshake latency.
    pub handshake_resumed: Histogram<u64>,
    /// Whole-session latency: connect + handshake + transactions (open loop: from the intended start).
    pub session: Histogram<u64>,
    /// Open loop only: whole-session latency from the actual start.
    pub session_uncorrected: Histogram<u64>,
    /// Open loop: how late each arrival left, from its intended time (the generator's own
    /// delay: pacing, and waits for a free slot), in microseconds: metric `generator.lag`.
    pub lag: Histogram<u64>,
    /// Per SIP method (`REGISTER`, `OPTIONS`, ...).
    pub sip: BTreeMap<String, TxnStats>,
    /// Sessions started inside the measured window.
    pub sessions_started: u64,
    /// Sessions that completed every step.
    pub sessions_ok: u64,
    /// Failed sessions and transactions by kind.
    pub failures: BTreeMap<FailureKind, u64>,
    /// Handshake outcomes by negotiated parameters.
    pub negotiated: BTreeMap<Negotiated, u64>,
    /// Application bytes written and read (SIP payload, not TLS overhead).
    pub bytes_out: u64,
    /// Application bytes read.
    pub bytes_in: u64,
    /// Bulk records written in the measured window (workload `records`).
    pub records: u64,
    /// Digest challenges (401/407) the sessions received.
    pub auth_challenges: u64,
    /// Requests sent again over UDP because their response was late (RFC 3261 timers A/E).
    pub retransmissions: u64,
    /// Monotonic offset (from the phase's measured start) of the last counted completion.
    pub last_completion: Duration,
    /// Sessions that presented a bad certificate (phase `bad_cert`); not in `sessions_started`
    /// unless accepted, which is a failure (`bad-cert-accepted`).
    pub bad_started: u64,
    /// Of those, refused as they must be.
    pub rejected: u64,
    /// How they were refused, as the generator saw it.
    pub rejections: BTreeMap<FailureKind, u64>,
    /// Time from the start of a bad session until its refusal was seen.
    pub rejection: Histogram<u64>,
}

impl Default for PhaseStats {
    fn default() -> Self {
        Self::new()
    }
}

impl PhaseStats {
    /// Empty stats.
    pub fn new() -> Self {
        PhaseStats {
            connect: new_histogram(),
            handshake_full: new_histogram(),
            handshake_resumed: new_histogram(),
            session: new_histogram(),
            session_uncorrected: new_histogram(),
            lag: new_histogram(),
            sip: BTreeMap::new(),
            sessions_started: 0,
            sessions_ok: 0,
            failures: BTreeMap::new(),
            negotiated: BTreeMap::new(),
            bytes_out: 0,
            bytes_in: 0,
            records: 0,
            auth_challenges: 0,
            retransmissions: 0,
            last_completion: Duration::ZERO,
            bad_started: 0,
            rejected: 0,
            rejections: BTreeMap::new(),
            rejection: new_histogram(),
        }
    }

    /// Counts one failure of `kind`.
    pub fn fail(&mut self, kind: FailureKind) {
        *self.failures.entry(kind).or_insert(0) += 1;
    }

    /// Total failures of every kind.
    pub fn failed(&self) -> u64 {
        self.failures.values().sum()
    }

    /// Records a handshake's negotiated parameters.
    pub fn negotiated(&mut self, n: &Negotiated) {
        if let Some(c) = self.negotiated.get_mut(n) {
            *c += 1;
        } else {
            self.negotiated.insert(n.clone(), 1);
        }
    }

    /// The per-method transaction stats, created on first use.
    pub fn txn(&mut self, method: &str) -> &mut TxnStats {
        if !self.sip.contains_key(method) {
            self.sip.insert(method.to_owned(), TxnStats::new());
        }
        self.sip.get_mut(method).expect("inserted above")
    }

    /// Notes that something counted completed at `offset` from the measured start.
    pub fn completed_at(&mut self, offset: Duration) {
        if offset > self.last_completion {
            self.last_completion = offset;
        }
    }

    /// Adds `other` into `self` (histograms, counters, tallies).
    pub fn merge(&mut self, other: &PhaseStats) {
        add(&mut self.connect, &other.connect);
        add(&mut self.handshake_full, &other.handshake_full);
        add(&mut self.handshake_resumed, &other.handshake_resumed);
        add(&mut self.session, &other.session);
        add(&mut self.session_uncorrected, &other.session_uncorrected);
        add(&mut self.lag, &other.lag);
        for (m, t) in &other.sip {
            let mine = self.txn(m);
            add(&mut mine.latency, &t.latency);
            add(&mut mine.uncorrected, &t.uncorrected);
            mine.ok += t.ok;
            mine.failed += t.failed;
        }
        self.sessions_started += other.sessions_started;
        self.sessions_ok += other.sessions_ok;
        for (k, v) in &other.failures {
            *self.failures.entry(k.clone()).or_insert(0) += v;
        }
        for (k, v) in &other.negotiated {
            *self.negotiated.entry(k.clone()).or_insert(0) += v;
        }
        self.bytes_out += other.bytes_out;
        self.bytes_in += other.bytes_in;
        self.records += other.records;
        self.auth_challenges += other.auth_challenges;
        self.retransmissions += other.retransmissions;
        self.last_completion = self.last_completion.max(other.last_completion);
        self.bad_started += other.bad_started;
        self.rejected += other.rejected;
        for (k, v) in &other.rejections {
            *self.rejections.entry(k.clone()).or_insert(0) += v;
        }
        add(&mut self.rejection, &other.rejection);
    }

    /// Transactions that succeeded, all methods.
    pub fn transactions_ok(&self) -> u64 {
        self.sip.values().map(|t| t.ok).sum()
    }

    /// Every non-empty latency histogram with its metric name (`connect`, `handshake.full`,
    /// `handshake.resumed`, `session`, `sip.<METHOD>`; with `open_loop` also the
    /// `*.uncorrected` ones), the names used in results files and interval logs.
    pub fn metrics(&self, open_loop: bool) -> Vec<(String, &Histogram<u64>)> {
        let mut out = vec![
            ("connect".to_owned(), &self.connect),
            ("handshake.full".to_owned(), &self.handshake_full),
            ("handshake.resumed".to_owned(), &self.handshake_resumed),
            ("session".to_owned(), &self.session),
            ("rejection".to_owned(), &self.rejection),
        ];
        if open_loop {
            out.push(("session.uncorrected".to_owned(), &self.session_uncorrected));
            out.push(("generator.lag".to_owned(), &self.lag));
        }
        for (m, t) in &self.sip {
            out.push((format!("sip.{m}"), &t.latency));
            if open_loop {
                out.push((format!("sip.{m}.uncorrected"), &t.uncorrected));
            }
        }
        out.retain(|(_, h)| !h.is_empty());
        out
    }

    /// What was recorded since `earlier`, a previous snapshot of the same (growing) stats:
    /// histograms and counters subtracted. Used for per-interval figures.
    pub fn since(&self, earlier: &PhaseStats) -> PhaseStats {
        fn sub(now: &Histogram<u64>, then: &Histogram<u64>) -> Histogram<u64> {
            let mut h = now.clone();
            // `then` is an earlier state of `now`: every count in it is also in `now`.
            let _ = h.subtract(then);
            h
        }
        let mut d = PhaseStats {
            connect: sub(&self.connect, &earlier.connect),
            handshake_full: sub(&self.handshake_full, &earlier.handshake_full),
            handshake_resumed: sub(&self.handshake_resumed, &earlier.handshake_resumed),
            session: sub(&self.session, &earlier.session),
            session_uncorrected: sub(&self.session_uncorrected, &earlier.session_uncorrected),
            lag: sub(&self.lag, &earlier.lag),
            sip: BTreeMap::new(),
            sessions_started: self.sessions_started - earlier.sessions_started.min(self.sessions_started),
            sessions_ok: self.sessions_ok - earlier.sessions_ok.min(self.sessions_ok),
            failures: BTreeMap::new(),
            // Filled below, as the failures.
            negotiated: BTreeMap::new(),
            bytes_out: self.bytes_out.saturating_sub(earlier.bytes_out),
            bytes_in: self.bytes_in.saturating_sub(earlier.bytes_in),
            records: self.records.saturating_sub(earlier.records),
            auth_challenges: self.auth_challenges.saturating_sub(earlier.auth_challenges),
            retransmissions: self.retransmissions.saturating_sub(earlier.retransmissions),
            last_completion: self.last_completion,
            bad_started: self.bad_started.saturating_sub(earlier.bad_started),
            rejected: self.rejected.saturating_sub(earlier.rejected),
            rejections: BTreeMap::new(),
            rejection: sub(&self.rejection, &earlier.rejection),
        };
        for (m, t) in &self.sip {
            let dt = match earlier.sip.get(m) {
                Some(e) => TxnStats {
                    latency: sub(&t.latency, &e.latency),
                    uncorrected: sub(&t.uncorrected, &e.uncorrected),
                    ok: t.ok.saturating_sub(e.ok),
                    failed: t.failed.saturating_sub(e.failed),
                },
                None => t.clone(),
            };
            d.sip.insert(m.clone(), dt);
        }
        for (k, v) in &self.rejections {
            let n = v.saturating_sub(earlier.rejections.get(k).copied().unwrap_or(0));
            if n > 0 {
                d.rejections.insert(k.clone(), n);
            }
        }
        for (k, v) in &self.failures {
            let n = v.saturating_sub(earlier.failures.get(k).copied().unwrap_or(0));
            if n > 0 {
                d.failures.insert(k.clone(), n);
            }
        }
        for (k, v) in &self.negotiated {
            let n = v.saturating_sub(earlier.negotiated.get(k).copied().unwrap_or(0));
            if n > 0 {
                d.negotiated.insert(k.clone(), n);
            }
        }
        d
    }
}

fn add(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    // Both histograms share the same bounds, so this cannot fail.
    into.add(from).expect("histograms with equal bounds merge");
}

/// Percentile summary of a histogram, in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of recorded values.
    pub count: u64,
    /// Smallest value.
    pub min: u64,
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub stdev: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p99_9: u64,
    /// Largest value.
    pub max: u64,
}

impl Summary {
    /// Summarises `h`; all zero when it is empty.
    pub fn of(h: &Histogram<u64>) -> Summary {
        if h.is_empty() {
            return Summary {
                count: 0,
                min: 0,
                mean: 0.0,
                stdev: 0.0,
                p50: 0,
                p90: 0,
                p99: 0,
                p99_9: 0,
                max: 0,
            };
        }
        Summary {
            count: h.len(),
            min: h.min(),
            mean: round2(h.mean()),
            stdev: round2(h.stdev()),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p99_9: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Encodes a histogram as HdrHistogram V2 + DEFLATE, base64 (the form `HistogramLogReader` reads).
pub fn encode_histogram(h: &Histogram<u64>) -> String {
    use base64::Engine as _;
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .expect("serializing into a Vec cannot fail");
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// Decodes what [`encode_histogram`] wrote.
pub fn decode_histogram(s: &str) -> Result<Histogram<u64>, String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| format!("base64: {e}"))?;
    let h: Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("histogram: {e:?}"))?;
    // Counts summing past u64 (only a crafted file has them) overflow hdrhistogram's quantiles.
    h.iter_recorded()
        .try_fold(0u64, |sum, v| sum.checked_add(v.count_at_value()))
        .ok_or("histogram: counts sum past 2^64")?;
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_histograms_and_counters() {
        let mut a = PhaseStats::new();
        let mut b = PhaseStats::new();
        for v in 1..=100 {
            a.connect.record(v).unwrap();
            b.connect.record(v * 10).unwrap();
        }
        a.sessions_ok = 3;
        b.sessions_ok = 4;
        a.fail(FailureKind::SipStatus(503));
        b.fail(FailureKind::SipStatus(503));
        b.fail(FailureKind::Reset);
        b.txn("OPTIONS").ok = 7;
        b.txn("OPTIONS").latency.record(42).unwrap();
        a.completed_at(Duration::from_secs(2));
        b.completed_at(Duration::from_secs(3));
        a.merge(&b);
        assert_eq!(a.connect.len(), 200);
        assert_eq!(a.connect.max(), a.connect.highest_equivalent(1000));
        assert_eq!(a.sessions_ok, 7);
        assert_eq!(a.failures[&FailureKind::SipStatus(503)], 2);
        assert_eq!(a.failed(), 3);
        assert_eq!(a.transactions_ok(), 7);
        assert_eq!(a.sip["OPTIONS"].latency.len(), 1);
        assert_eq!(a.last_completion, Duration::from_secs(3));
    }

    #[test]
    fn since_subtracts_an_earlier_snapshot() {
        let mut s = PhaseStats::new();
        for v in 1..=100 {
            s.session.record(v).unwrap();
        }
        s.sessions_ok = 100;
        s.txn("OPTIONS").ok = 5;
        let full = Negotiated {
            protocol: "TLSv1_3".into(),
            cipher_suite: "TLS13_AES_128_GCM_SHA256".into(),
            kx_group: "X25519".into(),
            peer_key: "ECDSA P-256".into(),
            handshake: HandshakeKind::Full,
            resumed_by: ResumedBy::None,
        };
        s.negotiated(&full);
        let snap = s.clone();
        s.negotiated(&full);
        s.negotiated(&full);
        for v in 1000..1010 {
            s.session.record(v).unwrap();
        }
        s.sessions_ok = 110;
        s.txn("OPTIONS").ok = 9;
        s.txn("REGISTER").ok = 2;
        s.fail(FailureKind::Reset);
        let d = s.since(&snap);
        assert_eq!(d.session.len(), 10);
        assert_eq!(d.session.min(), 1000);
        assert_eq!(d.sessions_ok, 10);
        assert_eq!(d.sip["OPTIONS"].ok, 4);
        assert_eq!(d.sip["REGISTER"].ok, 2);
        assert_eq!(d.failures[&FailureKind::Reset], 1);
        assert_eq!(d.negotiated[&full], 2);
        assert_eq!(s.since(&s).session.len(), 0);
        assert!(s.since(&s).negotiated.is_empty());
    }

    #[test]
    fn summary_percentiles() {
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.record(v).unwrap();
        }
        let s = Summary::of(&h);
        assert_eq!(s.count, 1000);
        assert_eq!(s.min, 1);
        assert_eq!(s.p50, 500);
        assert_eq!(s.p90, 900);
        assert_eq!(s.p99, 990);
        assert_eq!(s.p99_9, 999);
        assert_eq!(s.max, 1000);
        assert_eq!(Summary::of(&new_histogram()).count, 0);
    }

    #[test]
    fn histogram_round_trips_through_base64() {
        let mut h = new_histogram();
        for v in [1u64, 7, 300, 12_345, 9_999_999] {
            h.record_n(v, v % 5 + 1).unwrap();
        }
        let back = decode_histogram(&encode_histogram(&h)).unwrap();
        assert_eq!(back.len(), h.len());
        assert_eq!(back.max(), h.max());
        assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
        assert!(decode_histogram("not base64!").is_err());
    }
}
