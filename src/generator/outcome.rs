//! What a phase measured ([`PhaseOutcome`]) and its conversion into the results file's records:
//! the phase's [`PhaseResult`] and the timeline's points. The results module holds the schema
//! only; the figures are derived here.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Interval;
use crate::plan::{Load, PhasePlan, Workload};
use crate::results::{
    Bulk, Bytes, Cpu, HandshakeCounts, Memory, MessageFigures, NegotiatedCount, PhaseResult, Rates, RejectionFigures,
    SessionCounts, StepFigures, StormFigures, TimelinePoint, TxnCounts,
};
use crate::stats::{PhaseStats, Summary, encode_histogram};

/// What a phase measured, merged over workers.
#[derive(Debug)]
pub struct PhaseOutcome {
    /// Merged stats.
    pub stats: PhaseStats,
    /// From the start of the measured window to the last counted completion.
    pub measured: Duration,
    /// Process CPU time (user, system) during the measured window and the drain after it.
    pub cpu: (Duration, Duration),
    /// Resident memory before sessions were opened (workload `hold`).
    pub rss_before: Option<u64>,
    /// Resident memory with every session open (workload `hold`).
    pub rss_held: Option<u64>,
    /// Sessions open at once at the peak (workloads that open their sessions before the clock
    /// starts; read with the memory figures of `hold`).
    pub held: u64,
    /// The phase was cut short by an interrupt.
    pub interrupted: bool,
    /// One point a second over the measured window.
    pub timeline: Vec<TimelinePoint>,
    /// Tasks that panicked (also counted as `panic` failures).
    pub panicked: u64,
    /// Phases with calls: the most calls in progress at once (warm-up included).
    pub concurrent_calls: Option<u64>,
    /// Wall-clock time the measured window opened, seconds since the Unix epoch.
    pub window_start_unix_s: Option<f64>,
}

impl PhaseOutcome {
    /// The phase record of the results file: what was measured under `plan`, as rates and
    /// summaries. `includes_server`: the CPU figures include the embedded server's.
    pub fn result(&self, plan: &PhasePlan, includes_server: bool) -> PhaseResult {
        let o = self;
        let s = &o.stats;
        let secs = o.measured.as_secs_f64();
        let per = |n: u64| if secs > 0.0 { round(n as f64 / secs) } else { 0.0 };
        // From the handshake-kind tally: 0-RTT handshakes have no latency of their own.
        let handshakes: u64 = s
            .negotiated
            .iter()
            .filter(|(n, _)| !n.is_cleartext())
            .map(|(_, c)| *c)
            .sum();
        let txns_ok = s.transactions_ok();
        let cpu_total = (o.cpu.0 + o.cpu.1).as_secs_f64();
        let per_unit = |n: u64| if n > 0 { round(cpu_total * 1e6 / n as f64) } else { 0.0 };
        let mut latency_us = BTreeMap::new();
        let mut histograms = BTreeMap::new();
        let open = matches!(plan.load, Load::Open { .. });
        for (name, h) in s.metrics(open) {
            latency_us.insert(name.clone(), Summary::of(h));
            histograms.insert(name, encode_histogram(h));
        }
        let memory = match (o.rss_before, o.rss_held) {
            (Some(before), Some(held)) => Some(Memory {
                rss_before_bytes: before,
                rss_held_bytes: held,
                sessions_held: o.held,
                per_session_bytes: held.saturating_sub(before).checked_div(o.held).unwrap_or(0),
            }),
            _ => None,
        };
        let negotiated: Vec<NegotiatedCount> = s
            .negotiated
            .iter()
            .map(|(n, c)| NegotiatedCount {
                protocol: n.protocol.clone(),
                cipher_suite: n.cipher_suite.clone(),
                kx_group: n.kx_group.clone(),
                peer_key: n.peer_key.clone(),
                handshake: n.handshake.to_string(),
                resumed_by: n.resumed_by.to_string(),
                count: *c,
            })
            .collect();
        let bulk = (plan.workload == Workload::Records).then(|| {
            let moved = (s.bytes_out + s.bytes_in) as f64;
            Bulk {
                record_size: plan.record_size,
                records: s.records,
                bytes_out: s.bytes_out,
                bytes_in: s.bytes_in,
                mb_per_s_out: per(s.bytes_out) / 1e6,
                mb_per_s_in: per(s.bytes_in) / 1e6,
                records_per_s: per(s.records),
                mb_per_s_per_session: round(per(s.bytes_out) / 1e6 / plan.connections.max(1) as f64),
                cpu_s_per_gb: if moved > 0.0 {
                    round(cpu_total / (moved / 1e9))
                } else {
                    0.0
                },
            }
        });
        let messages = (plan.workload == Workload::Messages).then(|| {
            let ok = s.sip.get("MESSAGE").map(|t| t.ok).unwrap_or(0);
            MessageFigures {
                body_size: plan.body_size,
                window: plan.window,
                messages_per_s: per(ok),
                body_mb_per_s: round(per(ok) * plan.body_size as f64 / 1e6),
            }
        });
        let storm = (plan.workload == Workload::Storm).then(|| StormFigures {
            sessions: s.sessions_started,
            back: s.sessions_ok,
            all_back_ms: (s.sessions_ok == s.sessions_started && !s.session.is_empty())
                .then(|| round(s.session.max() as f64 / 1000.0)),
        });
        let rejections = plan.bad_cert.map(|which| RejectionFigures {
            bad_cert: which.as_str().to_owned(),
            share: plan.bad_cert_share,
            sessions: s.bad_started,
            rejected: s.rejected,
            accepted: s.bad_started - s.rejected.min(s.bad_started),
            rejected_per_s: per(s.rejected),
            by_reason: s.rejections.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        });
        PhaseResult {
            rejections,
            thresholds: None,
            // Filled in by the runner when asked (`run --efficiency`).
            efficiency: None,
            servers: None,
            auth: (s.auth_challenges > 0).then_some(crate::results::AuthFigures {
                challenges: s.auth_challenges,
            }),
            calls: o.concurrent_calls.map(|max| {
                let get = |m: &str| s.sip.get(m).map_or((0, 0), |t| (t.ok, t.failed));
                let (invite_ok, invite_failed) = get("INVITE");
                let (bye_ok, bye_failed) = get("BYE");
                crate::results::CallFigures {
                    attempted: invite_ok + invite_failed,
                    completed: bye_ok,
                    failed: invite_failed + bye_failed,
                    calls_per_s: per(bye_ok),
                    concurrent_max: max,
                    hold_s: plan.call_hold.as_secs_f64(),
                }
            }),
            udp: (plan.mode == crate::plan::Mode::Udp).then_some(crate::results::UdpFigures {
                retransmissions: s.retransmissions,
            }),
            timeline: o.timeline.clone(),
            steps: plan
                .shape
                .as_ref()
                .filter(|shape| matches!(shape, crate::shape::RateShape::Steps { .. }))
                .map(|shape| step_figures(plan, shape, &o.timeline)),
            window_start_unix_s: o.window_start_unix_s,
            bulk,
            storm,
            messages,
            handshakes: handshake_counts(&negotiated),
            plan: plan.clone(),
            interrupted: o.interrupted,
            measured_s: round(secs),
            sessions: SessionCounts {
                started: s.sessions_started,
                ok: s.sessions_ok,
                failed: s.sessions_started - s.sessions_ok.min(s.sessions_started),
            },
            failures: s.failures.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            transactions: s
                .sip
                .iter()
                .map(|(m, t)| {
                    (
                        m.clone(),
                        TxnCounts {
                            ok: t.ok,
                            failed: t.failed,
                        },
                    )
                })
                .collect(),
            rates: Rates {
                sessions_per_s: per(s.sessions_ok),
                handshakes_per_s: per(handshakes),
                transactions_per_s: per(txns_ok),
            },
            latency_us,
            negotiated,
            cpu: Cpu {
                user_s: round(o.cpu.0.as_secs_f64()),
                system_s: round(o.cpu.1.as_secs_f64()),
                includes_server,
                per_session_us: per_unit(s.sessions_ok),
                per_transaction_us: per_unit(txns_ok),
            },
            memory,
            bytes: Bytes {
                out: s.bytes_out,
                r#in: s.bytes_in,
            },
            histograms,
        }
    }
}

impl Interval<'_> {
    /// This interval's point of the timeline (also what the progress line shows).
    pub fn point(&self) -> TimelinePoint {
        let i = self;
        let s = i.stats;
        let hist = match i.plan.workload {
            Workload::Sessions | Workload::Storm => Some(("session".to_owned(), &s.session)),
            Workload::Kept | Workload::Messages | Workload::Hold => s
                .sip
                .iter()
                .max_by_key(|(_, t)| t.latency.len())
                .map(|(m, t)| (format!("sip.{m}"), &t.latency)),
            Workload::Records => None,
        };
        let (metric, p50, p99) = match hist {
            Some((m, h)) if !h.is_empty() => (m, h.value_at_quantile(0.5), h.value_at_quantile(0.99)),
            Some((m, _)) => (m, 0, 0),
            None => (String::new(), 0, 0),
        };
        let offered_per_s = match (i.plan.load, &i.plan.shape) {
            (Load::Closed { .. }, _) => None,
            (Load::Open { rate }, None) => Some(rate),
            (Load::Open { .. }, Some(shape)) if !i.length.is_zero() => {
                let curve = shape.curve(i.plan.warmup);
                let t0 = (i.plan.warmup + i.start).as_secs_f64();
                let n = curve.count(t0 + i.length.as_secs_f64()) - curve.count(t0);
                Some(round(n / i.length.as_secs_f64()))
            }
            (Load::Open { .. }, Some(shape)) => Some(shape.first()),
        };
        TimelinePoint {
            offered_per_s,
            t_s: round(i.start.as_secs_f64()),
            length_s: round(i.length.as_secs_f64()),
            sessions_ok: s.sessions_ok,
            transactions_ok: s.transactions_ok(),
            failures: s.failed(),
            bytes_out: s.bytes_out,
            metric,
            p50_us: p50,
            p99_us: p99,
        }
    }
}

/// Each step's figures from the timeline's points that start inside it.
fn step_figures(plan: &PhasePlan, shape: &crate::shape::RateShape, timeline: &[TimelinePoint]) -> Vec<StepFigures> {
    let duration = plan
        .duration
        .unwrap_or_else(|| Duration::from_secs_f64(timeline.last().map_or(0.0, |p| p.t_s + p.length_s)));
    shape
        .steps(duration)
        .into_iter()
        .map(|(rate, start, length)| {
            let points: Vec<&TimelinePoint> = timeline
                .iter()
                .filter(|p| p.t_s >= start - 1e-6 && p.t_s < start + length - 1e-6)
                .collect();
            let sum = |f: fn(&TimelinePoint) -> u64| points.iter().map(|p| f(p)).sum::<u64>();
            let (sessions_ok, transactions_ok, failures) =
                (sum(|p| p.sessions_ok), sum(|p| p.transactions_ok), sum(|p| p.failures));
            let seconds: f64 = points.iter().map(|p| p.length_s).sum();
            let completed = match plan.workload {
                Workload::Sessions => sessions_ok,
                _ => transactions_ok,
            } + failures;
            StepFigures {
                rate,
                t_s: round(start),
                length_s: round(length),
                sessions_ok,
                transactions_ok,
                failures,
                achieved_per_s: if seconds > 0.0 {
                    round(completed as f64 / seconds)
                } else {
                    0.0
                },
                metric: points.first().map(|p| p.metric.clone()).unwrap_or_default(),
                worst_p99_us: points.iter().map(|p| p.p99_us).max().unwrap_or(0),
            }
        })
        .collect()
}

/// Handshakes by kind, from the negotiated-parameters tally (its `handshake` names are the
/// schema's).
fn handshake_counts(negotiated: &[NegotiatedCount]) -> HandshakeCounts {
    let count = |kind: &str| {
        negotiated
            .iter()
            .filter(|n| n.handshake == kind)
            .map(|n| n.count)
            .sum::<u64>()
    };
    let (full, full_hrr, resumed, resumed_0rtt) = (
        count("full"),
        count("full-hrr"),
        count("resumed"),
        count("resumed-0rtt"),
    );
    let all = full + full_hrr + resumed + resumed_0rtt;
    let mut resumed_by = BTreeMap::new();
    for n in negotiated
        .iter()
        .filter(|n| n.handshake == "resumed" || n.handshake == "resumed-0rtt")
    {
        *resumed_by.entry(n.resumed_by.clone()).or_insert(0) += n.count;
    }
    let ratio = if all > 0 {
        round((resumed + resumed_0rtt) as f64 / all as f64)
    } else {
        0.0
    };
    HandshakeCounts {
        full,
        full_hrr,
        resumed,
        resumed_0rtt,
        resumption_ratio: ratio,
        resumed_by,
    }
}

/// Rounds to three decimals, as every figure of the results file is.
fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{HandshakeKind, Negotiated};

    fn negotiated(protocol: &str, handshake: HandshakeKind) -> Negotiated {
        Negotiated {
            protocol: protocol.into(),
            cipher_suite: "x".into(),
            kx_group: "x".into(),
            peer_key: "x".into(),
            resumed_by: if handshake.is_resumed() {
                crate::stats::ResumedBy::Tls13Psk
            } else {
                crate::stats::ResumedBy::None
            },
            handshake,
        }
    }

    #[test]
    fn rates_divide_by_the_measured_time_and_cleartext_is_no_handshake() {
        let plan = crate::generator::RunConfig::default().plan().unwrap().1.remove(0);
        let mut stats = PhaseStats::new();
        stats.sessions_started = 40;
        stats.sessions_ok = 30;
        stats.txn("OPTIONS").ok = 60;
        stats.negotiated.insert(negotiated("TLSv1_3", HandshakeKind::Full), 10);
        stats
            .negotiated
            .insert(negotiated("TLSv1_3", HandshakeKind::Resumed), 30);
        stats.negotiated.insert(crate::tls::cleartext(), 5);
        let o = PhaseOutcome {
            stats,
            measured: Duration::from_secs(2),
            cpu: (Duration::from_secs(1), Duration::from_millis(500)),
            rss_before: None,
            rss_held: None,
            held: 0,
            interrupted: false,
            timeline: Vec::new(),
            panicked: 0,
            concurrent_calls: None,
            window_start_unix_s: None,
        };
        let r = o.result(&plan, true);
        assert_eq!(r.measured_s, 2.0);
        assert_eq!((r.sessions.started, r.sessions.ok, r.sessions.failed), (40, 30, 10));
        assert_eq!(r.rates.sessions_per_s, 15.0);
        assert_eq!(r.rates.transactions_per_s, 30.0);
        assert_eq!(r.rates.handshakes_per_s, 20.0);
        assert_eq!((r.handshakes.full, r.handshakes.resumed), (10, 30));
        assert_eq!(r.handshakes.resumption_ratio, 0.75);
        assert_eq!(r.handshakes.resumed_by, BTreeMap::from([("tls13-psk".to_owned(), 30)]));
        assert_eq!(r.cpu.per_session_us, 50_000.0);
        assert!(r.memory.is_none() && r.bulk.is_none() && r.storm.is_none());
    }
}
