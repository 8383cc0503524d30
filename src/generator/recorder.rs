//! The one way workloads record what they measure.
//!
//! Each worker owns one shard of the phase's [`PhaseStats`] ([`Shards`]); its tasks write to it
//! through a [`Recorder`], in the recorder's words (a session started, a connection set up, a
//! transaction's steps, a refusal, bytes moved), so no workload touches the stats themselves.
//! A shard is locked only while something is recorded, and four times a second by the
//! collector for a merge: a [`Record`] holds the lock until it is dropped, so the figures of
//! one event land together, in one interval. Nothing here allocates per transaction.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::session::Established;
use crate::failure::FailureKind;
use crate::sip::Method;
use crate::stats::{Negotiated, PhaseStats, micros};

/// One step of a transaction as the SIP client reports it: the method, its latency and its
/// outcome (a call is two steps, INVITE and BYE).
pub(crate) type Step = (Method, Duration, Result<u16, FailureKind>);

/// The workers' shards of one phase's stats.
#[derive(Debug)]
pub(crate) struct Shards(Vec<Recorder>);

impl Shards {
    /// One empty shard per worker.
    pub(crate) fn new(workers: usize) -> Shards {
        Shards((0..workers.max(1)).map(|_| Recorder::default()).collect())
    }

    /// The recorder of worker `worker`'s shard.
    pub(crate) fn recorder(&self, worker: usize) -> Recorder {
        self.0[worker % self.0.len()].clone()
    }

    /// Every shard merged, as it stands now.
    pub(crate) fn merged(&self) -> PhaseStats {
        let mut total = PhaseStats::new();
        for r in &self.0 {
            // The lock is held for a merge (no clone); a worker waits microseconds at most.
            total.merge(&r.lock());
        }
        total
    }
}

/// Writes into one worker's shard; cloned into each of the worker's tasks.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recorder(Arc<Mutex<PhaseStats>>);

impl Recorder {
    /// Opens a record: what is noted through it lands together when it is dropped.
    pub(crate) fn record(&self) -> Record<'_> {
        Record(self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, PhaseStats> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One record into a shard (the shard stays locked until it is dropped). Every method returns
/// the record, so that one event reads as one line: `rec.record().started().fail(kind)`.
#[must_use = "a record notes nothing until a method is called"]
pub(crate) struct Record<'a>(MutexGuard<'a, PhaseStats>);

impl Record<'_> {
    /// A session started (in the measured window; kept sessions: opened).
    pub(crate) fn started(&mut self) -> &mut Self {
        self.0.sessions_started += 1;
        self
    }

    /// A session completed every step.
    pub(crate) fn ok(&mut self) -> &mut Self {
        self.0.sessions_ok += 1;
        self
    }

    /// A failure of `kind` (a session's, or a kept session's transaction's).
    pub(crate) fn fail(&mut self, kind: FailureKind) -> &mut Self {
        self.0.fail(kind);
        self
    }

    /// A connection set up: its connect time and, once known, its handshake (time by kind, and
    /// what it negotiated). A 0-RTT handshake overlaps the first request (its time is inside
    /// that transaction's); what it negotiated is noted after it, with [`Record::negotiated`].
    pub(crate) fn established(&mut self, est: &Established) -> &mut Self {
        let s = &mut *self.0;
        let _ = s.connect.record(micros(est.connect));
        if est.early {
            return self;
        }
        if est.secure {
            let h = if est.resumed {
                &mut s.handshake_resumed
            } else {
                &mut s.handshake_full
            };
            let _ = h.record(micros(est.handshake));
        }
        s.negotiated(&est.negotiated);
        self
    }

    /// What a 0-RTT handshake negotiated, read after the first request.
    pub(crate) fn negotiated(&mut self, n: &Negotiated) -> &mut Self {
        self.0.negotiated(n);
        self
    }

    /// One transaction step: latency `corrected` from its intended send time, `actual` from
    /// its real one (the same in a closed loop), counted by method and outcome.
    pub(crate) fn txn(
        &mut self,
        method: &Method,
        corrected: Duration,
        actual: Duration,
        r: &Result<u16, FailureKind>,
    ) -> &mut Self {
        let t = self.0.txn(method.as_str());
        match r {
            Ok(_) => {
                t.ok += 1;
                let _ = t.latency.record(micros(corrected));
                let _ = t.uncorrected.record(micros(actual));
            }
            Err(_) => t.failed += 1,
        }
        self
    }

    /// A transaction's steps, sent `lag` after their intended time: the first step carries
    /// the wait before it was sent.
    pub(crate) fn steps(&mut self, steps: &[Step], lag: Duration) -> &mut Self {
        let mut lag = lag;
        for (m, d, r) in steps {
            self.txn(m, *d + lag, *d, r);
            lag = Duration::ZERO;
        }
        self
    }

    /// An open-loop arrival left `lag` after its intended time (the generator's own delay).
    pub(crate) fn lag(&mut self, lag: Duration) -> &mut Self {
        let _ = self.0.lag.record(micros(lag));
        self
    }

    /// A whole session's latency: `corrected` from its intended start, and in the open loop
    /// `uncorrected` from its real start.
    pub(crate) fn session(&mut self, corrected: Duration, uncorrected: Option<Duration>) -> &mut Self {
        let _ = self.0.session.record(micros(corrected));
        if let Some(d) = uncorrected {
            let _ = self.0.session_uncorrected.record(micros(d));
        }
        self
    }

    /// A session that presented the bad certificate was refused, as it must be, `after` its
    /// start: counted apart from the good sessions, by how it was refused.
    pub(crate) fn rejected(&mut self, kind: FailureKind, after: Duration) -> &mut Self {
        let s = &mut *self.0;
        s.bad_started += 1;
        s.rejected += 1;
        *s.rejections.entry(kind).or_insert(0) += 1;
        let _ = s.rejection.record(micros(after));
        self
    }

    /// A session that presented the bad certificate was accepted: a started session that
    /// failed (`bad-cert-accepted`).
    pub(crate) fn bad_accepted(&mut self) -> &mut Self {
        self.0.bad_started += 1;
        self.started().fail(FailureKind::BadCertAccepted)
    }

    /// Application bytes written and read.
    pub(crate) fn bytes(&mut self, out: u64, read: u64) -> &mut Self {
        self.0.bytes_out += out;
        self.0.bytes_in += read;
        self
    }

    /// Digest challenges (401/407) the session answered or failed on.
    pub(crate) fn challenges(&mut self, n: u64) -> &mut Self {
        self.0.auth_challenges += n;
        self
    }

    /// Requests a UDP session sent again (timers A/E).
    pub(crate) fn retransmissions(&mut self, n: u64) -> &mut Self {
        self.0.retransmissions += n;
        self
    }

    /// Bulk records written.
    pub(crate) fn records(&mut self, n: u64) -> &mut Self {
        self.0.records += n;
        self
    }

    /// Something counted completed at `offset` from the start of the window (the measured
    /// time runs to the last of these).
    pub(crate) fn completed_at(&mut self, offset: Duration) -> &mut Self {
        self.0.completed_at(offset);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::HandshakeKind;

    fn est(tls: bool, resumed: bool, early: bool) -> Established {
        Established {
            connect: Duration::from_micros(100),
            secure: tls,
            handshake: Duration::from_micros(if tls { 900 } else { 0 }),
            negotiated: if tls {
                Negotiated {
                    protocol: "TLSv1_3".into(),
                    cipher_suite: "TLS13_AES_128_GCM_SHA256".into(),
                    kx_group: "X25519".into(),
                    peer_key: "ECDSA P-256".into(),
                    handshake: if resumed {
                        HandshakeKind::Resumed
                    } else {
                        HandshakeKind::Full
                    },
                    resumed_by: if resumed {
                        crate::stats::ResumedBy::Tls13Psk
                    } else {
                        crate::stats::ResumedBy::None
                    },
                }
            } else {
                crate::tls::cleartext()
            },
            resumed,
            early,
        }
    }

    #[test]
    fn handshakes_are_recorded_by_kind_and_cleartext_has_none() {
        let shards = Shards::new(1);
        let rec = shards.recorder(0);
        rec.record().established(&est(true, false, false));
        rec.record().established(&est(true, true, false));
        rec.record().established(&est(false, false, false));
        // 0-RTT: connect only; its parameters come after the first request.
        rec.record().established(&est(true, true, true));
        let s = shards.merged();
        assert_eq!(s.connect.len(), 4);
        assert_eq!(s.handshake_full.len(), 1);
        assert_eq!(s.handshake_resumed.len(), 1);
        assert_eq!(s.negotiated.values().sum::<u64>(), 3);
        assert_eq!(s.negotiated[&crate::tls::cleartext()], 1);
        rec.record().negotiated(&est(true, true, false).negotiated);
        assert_eq!(shards.merged().negotiated.values().sum::<u64>(), 4);
    }

    #[test]
    fn the_first_step_carries_the_lag_and_failures_count_apart() {
        let shards = Shards::new(1);
        let rec = shards.recorder(0);
        let ms = Duration::from_millis;
        let call: [Step; 2] = [(Method::Invite, ms(3), Ok(200)), (Method::Bye, ms(2), Ok(200))];
        rec.record().steps(&call, ms(40));
        rec.record()
            .steps(&[(Method::Options, ms(1), Err(FailureKind::SipStatus(503)))], ms(5))
            .fail(FailureKind::SipStatus(503));
        let s = shards.merged();
        let (invite, bye) = (&s.sip["INVITE"], &s.sip["BYE"]);
        assert_eq!(invite.latency.max(), invite.latency.highest_equivalent(43_000));
        assert_eq!(invite.uncorrected.max(), invite.uncorrected.highest_equivalent(3_000));
        assert_eq!(bye.latency.max(), bye.latency.highest_equivalent(2_000));
        assert_eq!((s.sip["OPTIONS"].ok, s.sip["OPTIONS"].failed), (0, 1));
        assert!(s.sip["OPTIONS"].latency.is_empty());
        assert_eq!(s.failures[&FailureKind::SipStatus(503)], 1);
        assert_eq!(s.transactions_ok(), 2);
    }

    #[test]
    fn refused_and_accepted_bad_sessions_count_apart_from_good_ones() {
        let shards = Shards::new(1);
        let rec = shards.recorder(0);
        let refusal = FailureKind::TlsAlertReceived("certificate-revoked".into());
        rec.record().rejected(refusal.clone(), Duration::from_millis(2));
        rec.record().rejected(refusal.clone(), Duration::from_millis(4));
        rec.record().bad_accepted();
        let s = shards.merged();
        assert_eq!((s.bad_started, s.rejected), (3, 2));
        assert_eq!(s.rejections[&refusal], 2);
        assert_eq!(s.rejection.len(), 2);
        // Only the accepted one is a (failed) session.
        assert_eq!((s.sessions_started, s.sessions_ok), (1, 0));
        assert_eq!(s.failures[&FailureKind::BadCertAccepted], 1);
    }

    #[test]
    fn shards_merge_per_worker_figures() {
        let shards = Shards::new(3);
        for w in 0..6 {
            let rec = shards.recorder(w);
            let mut r = rec.record();
            r.started()
                .ok()
                .session(Duration::from_millis(10 + w as u64), None)
                .bytes(100, 10)
                .completed_at(Duration::from_millis(100 * w as u64));
        }
        shards.recorder(4).record().records(7);
        let s = shards.merged();
        assert_eq!((s.sessions_started, s.sessions_ok), (6, 6));
        assert_eq!(s.session.len(), 6);
        assert!(s.session_uncorrected.is_empty());
        assert_eq!((s.bytes_out, s.bytes_in, s.records), (600, 60, 7));
        assert_eq!(s.last_completion, Duration::from_millis(500));
        // Worker 4 is worker 1's shard (three shards): the merge sees each record once.
        assert_eq!(shards.recorder(1).record().0.records, 7);
    }
}
