//! Workload `kept`: `connections` sessions are opened before the clock starts and kept; each
//! runs the transactions in a loop, one outstanding at a time: back to back (closed loop) or
//! at its share of the rate (open loop, latency from each transaction's intended time).

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::time::Instant;

use super::{Held, Task, Transact, Workload};
use crate::failure::FailureKind;
use crate::generator::Stop;
use crate::generator::clock::{Arrivals, Clock};
use crate::generator::recorder::Recorder;
use crate::plan::Txn;

/// Kept sessions.
pub(super) struct Kept {
    pub(super) connections: usize,
    /// Open loop: transactions per second on each session (constant rate).
    pub(super) rate: Option<f64>,
    /// A ramp or steps: the phase's transactions, shared by the sessions.
    pub(super) curve: Option<Arc<crate::shape::RateCurve>>,
}

impl Workload for Kept {
    fn tasks(&self) -> usize {
        self.connections
    }

    fn opens_first(&self) -> bool {
        true
    }

    fn run(self: Arc<Self>, task: Task) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let Some(mut held) = Held::open(&task).await else {
                return;
            };
            task.opening.opened();
            let Some(clock) = task.start.clock().await else { return };
            let plan = &task.ctx.plan;
            // Open loop: the sessions' arrivals interleave evenly.
            let phase = (task.index as f64 + 0.5) / self.connections as f64;
            let arrivals = match (&self.curve, self.rate) {
                (Some(curve), _) => Some(Arrivals::along(clock.start, curve.clone(), self.connections, phase)),
                (None, Some(rate)) => {
                    let interval = Duration::from_secs_f64(1.0 / rate);
                    Some(Arrivals::new(clock.start + interval.mul_f64(phase), interval))
                }
                (None, None) => None,
            }
            .map(|a| a.paced(plan.pacing));
            let failed = transact_loop(
                &task.ctx.stop,
                &clock,
                arrivals,
                &plan.transactions,
                plan.sip_timeout,
                &mut held.client,
                &task.rec,
            )
            .await;
            {
                let mut r = task.rec.record();
                r.bytes(held.client.bytes_out, held.client.bytes_in)
                    .challenges(held.client.challenges)
                    .retransmissions(held.client.retransmissions);
                if !failed {
                    r.ok();
                }
                held.finish_early(&mut r);
            }
            held.client.close().await;
        })
    }
}

/// Runs `txns` in a loop on `conn` until the phase stops or the window closes: back to back,
/// or each at the next of `arrivals`. Transactions intended inside the window are recorded,
/// latency from the intended time (the first step carries the wait before it was sent). A SIP
/// error status leaves the connection usable; any other failure ends the loop. Returns
/// whether the connection failed.
pub(super) async fn transact_loop(
    stop: &Stop,
    clock: &Clock,
    mut arrivals: Option<Arrivals>,
    txns: &[Txn],
    timeout: Duration,
    conn: &mut impl Transact,
    rec: &Recorder,
) -> bool {
    let mut steps = Vec::with_capacity(2);
    while !stop.is_set() {
        for &txn in txns {
            // Open loop: the intended send time of this transaction.
            let intended = match &mut arrivals {
                Some(a) => {
                    let at = a.next();
                    if clock.over(at) {
                        return false;
                    }
                    tokio::select! {
                        _ = a.wait_until(at) => {}
                        _ = stop.wait() => return false,
                    }
                    at
                }
                None => Instant::now(),
            };
            if clock.over(intended) {
                return false;
            }
            let sent = Instant::now();
            let measured = clock.measured(intended);
            steps.clear();
            let r = conn.transact(txn, timeout, &mut steps).await;
            if measured {
                let done = Instant::now();
                let mut record = rec.record();
                record.steps(&steps, sent.saturating_duration_since(intended));
                if arrivals.is_some() {
                    record.lag(sent.saturating_duration_since(intended));
                }
                if let Err(kind) = &r {
                    record.fail(kind.clone());
                }
                record.completed_at(clock.offset(done));
            }
            match r {
                // A SIP error status leaves the connection usable: counted, and the loop goes on.
                Ok(()) | Err(FailureKind::SipStatus(_)) => {}
                Err(kind) => {
                    // The session is lost for the whole phase: say why even when it broke in
                    // the warm-up (its transaction is not counted, the session's end is).
                    if !measured {
                        rec.record().fail(kind);
                    }
                    return true;
                }
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::recorder::{Shards, Step};
    use hdrhistogram::Histogram;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn count(h: &Histogram<u64>, d: Duration) -> u64 {
        let us = d.as_micros() as u64;
        h.count_between(h.lowest_equivalent(us), h.highest_equivalent(us))
    }

    /// A fake connection: transaction `i` takes `took(i)` and ends as `outcome(i)`.
    struct FakeConn {
        calls: usize,
        took: fn(usize) -> Duration,
        outcome: fn(usize) -> Result<u16, FailureKind>,
        sent: Vec<Duration>,
        t0: Instant,
    }

    impl FakeConn {
        fn new(took: fn(usize) -> Duration, outcome: fn(usize) -> Result<u16, FailureKind>) -> FakeConn {
            FakeConn {
                calls: 0,
                took,
                outcome,
                sent: Vec::new(),
                t0: Instant::now(),
            }
        }
    }

    impl Transact for FakeConn {
        async fn transact(&mut self, txn: Txn, _timeout: Duration, steps: &mut Vec<Step>) -> Result<(), FailureKind> {
            let i = self.calls;
            self.calls += 1;
            self.sent.push(Instant::now() - self.t0);
            let took = (self.took)(i);
            tokio::time::sleep(took).await;
            let r = (self.outcome)(i);
            steps.push((txn.method(), took, r.clone()));
            r.map(|_| ())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn open_loop_transactions_are_sent_on_schedule_and_a_stall_delays_the_next_ones_measurably() {
        let mut conn = FakeConn::new(|i| if i == 2 { ms(250) } else { ms(10) }, |_| Ok(200));
        let t0 = conn.t0;
        let clock = Clock::new(t0, Duration::ZERO, Some(ms(1000)));
        let shards = Shards::new(1);
        let rec = shards.recorder(0);
        let stop = Stop::new();
        // Ten a second, at the middle of each slot; the third stalls for 250 ms.
        let arrivals = Some(Arrivals::new(t0 + ms(50), ms(100)));
        let failed = transact_loop(&stop, &clock, arrivals, &[Txn::Options], ms(500), &mut conn, &rec).await;
        assert!(!failed);
        // Intended at 50, 150, ... 950 ms; the two behind the stall go as soon as it ends.
        let sent: Vec<u64> = conn.sent.iter().map(|d| d.as_millis() as u64).collect();
        assert_eq!(sent, [50, 150, 250, 500, 510, 550, 650, 750, 850, 950]);
        let s = shards.merged();
        let t = &s.sip["OPTIONS"];
        assert_eq!((t.ok, t.failed), (10, 0));
        // Corrected from the intended time: 500 - 350 + 10 and 510 - 450 + 10 ms.
        assert_eq!(count(&t.latency, ms(250)), 1);
        assert_eq!(count(&t.latency, ms(160)), 1);
        assert_eq!(count(&t.latency, ms(70)), 1);
        assert_eq!(count(&t.latency, ms(10)), 7);
        // Uncorrected: what each took once sent.
        assert_eq!(count(&t.uncorrected, ms(10)), 9);
        assert_eq!(count(&t.uncorrected, ms(250)), 1);
        assert_eq!(s.last_completion, ms(960));
    }

    #[tokio::test(start_paused = true)]
    async fn closed_loop_records_the_window_only_goes_on_after_a_sip_error_and_ends_on_a_broken_connection() {
        let mut conn = FakeConn::new(
            |_| ms(40),
            |i| match i {
                4 => Err(FailureKind::SipStatus(503)),
                6 => Err(FailureKind::Reset),
                _ => Ok(200),
            },
        );
        let clock = Clock::new(conn.t0, ms(100), Some(ms(300)));
        let shards = Shards::new(1);
        let rec = shards.recorder(0);
        let txns = [Txn::Register, Txn::Options];
        let failed = transact_loop(&Stop::new(), &clock, None, &txns, ms(500), &mut conn, &rec).await;
        // REGISTER 0 ms, OPTIONS 40, REGISTER 80 (warm-up); OPTIONS 120, REGISTER 160 (503),
        // OPTIONS 200, REGISTER 240 (reset: the end).
        assert!(failed);
        assert_eq!(conn.calls, 7);
        let s = shards.merged();
        assert_eq!((s.sip["OPTIONS"].ok, s.sip["OPTIONS"].failed), (2, 0));
        assert_eq!((s.sip["REGISTER"].ok, s.sip["REGISTER"].failed), (0, 2));
        assert_eq!(s.failures[&FailureKind::SipStatus(503)], 1);
        assert_eq!(s.failures[&FailureKind::Reset], 1);
        assert_eq!(count(&s.sip["OPTIONS"].latency, ms(40)), 2);
        assert_eq!(s.last_completion, ms(180));
    }

    #[tokio::test(start_paused = true)]
    async fn a_session_that_breaks_in_the_warm_up_says_why() {
        let mut conn = FakeConn::new(|_| ms(10), |i| if i == 2 { Err(FailureKind::Reset) } else { Ok(200) });
        let clock = Clock::new(conn.t0, ms(1000), Some(ms(1000)));
        let shards = Shards::new(1);
        let rec = shards.recorder(0);
        assert!(transact_loop(&Stop::new(), &clock, None, &[Txn::Options], ms(500), &mut conn, &rec).await);
        let s = shards.merged();
        // No transaction of the warm-up is counted, but the broken session is, by kind.
        assert!(!s.sip.contains_key("OPTIONS"));
        assert_eq!(s.failures[&FailureKind::Reset], 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_loop_ends_when_the_window_closes_or_the_phase_stops() {
        // Closed loop, 30 ms transactions, window 100 ms: started at 0, 30, 60, 90.
        let mut conn = FakeConn::new(|_| ms(30), |_| Ok(200));
        let clock = Clock::new(conn.t0, Duration::ZERO, Some(ms(100)));
        let shards = Shards::new(1);
        let rec = shards.recorder(0);
        let stop = Stop::new();
        assert!(!transact_loop(&stop, &clock, None, &[Txn::Options], ms(500), &mut conn, &rec).await);
        assert_eq!(conn.calls, 4);
        assert_eq!(shards.merged().last_completion, ms(120));

        // No window end: a stop ends it, even while it waits for the next arrival.
        let mut conn = FakeConn::new(|_| ms(1), |_| Ok(200));
        let clock = Clock::new(conn.t0, Duration::ZERO, None);
        let arrivals = Some(Arrivals::new(conn.t0, ms(1000)));
        let stopper = async {
            tokio::time::sleep(ms(2500)).await;
            stop.set();
        };
        let (failed, ()) = tokio::join!(
            transact_loop(&stop, &clock, arrivals, &[Txn::Options], ms(500), &mut conn, &rec),
            stopper
        );
        assert!(!failed);
        assert_eq!(conn.calls, 3);
    }
}
