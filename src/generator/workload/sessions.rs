//! Workload `sessions`: each session connects, handshakes, runs the transactions and closes.
//!
//! Closed loop: `concurrency` slots each run sessions back to back. Open loop: each worker
//! starts sessions at its share of the rate, each its own task, at most `cap` in flight;
//! latency runs from each arrival's intended time. A phase with `bad_cert` spreads sessions
//! that present the bad certificate evenly at its share; their refusals are counted apart.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::{Task, Transact, Workload};
use crate::failure::FailureKind;
use crate::generator::clock::{Arrivals, Clock};
use crate::generator::recorder::{Recorder, Step};
use crate::generator::session::Established;
use crate::generator::{Budget, Ctx, Stop};
use crate::stats::Negotiated;
use crate::tls::PeerKeyCache;

/// Closed loop: `concurrency` slots.
pub(super) struct Closed {
    pub(super) concurrency: usize,
    /// Whether any slot has connected lately.
    pub(super) watch: ConnectWatch,
}

impl Workload for Closed {
    fn tasks(&self) -> usize {
        self.concurrency
    }

    fn run(self: Arc<Self>, task: Task) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let Some(clock) = task.start.clock().await else { return };
            let ctx = task.ctx;
            let mut slot = Slot {
                ctx: ctx.clone(),
                rec: task.rec,
                clock,
                keys: PeerKeyCache::default(),
                worker: task.worker,
                backoff: Backoff::default(),
                workload: self.clone(),
            };
            closed_loop(&ctx.stop, &ctx.budget, &clock, &mut slot).await;
        })
    }
}

/// Open loop: one arrival task per worker.
pub(super) struct Open {
    /// Arrivals per second on each worker (constant rate).
    pub(super) rate: f64,
    /// A ramp or steps: the phase's arrivals, shared by the workers.
    pub(super) curve: Option<Arc<crate::shape::RateCurve>>,
    pub(super) workers: usize,
    /// Sessions in flight per worker.
    pub(super) cap: usize,
}

impl Workload for Open {
    fn tasks(&self) -> usize {
        self.workers
    }

    fn run(self: Arc<Self>, task: Task) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let Some(clock) = task.start.clock().await else { return };
            // The workers' arrivals interleave evenly.
            let phase = task.worker as f64 / self.workers as f64;
            let arrivals = match &self.curve {
                Some(curve) => Arrivals::along(clock.start, curve.clone(), self.workers, phase),
                None => {
                    let interval = Duration::from_secs_f64(1.0 / self.rate);
                    Arrivals::new(clock.start + interval.mul_f64(phase), interval)
                }
            }
            .paced(task.ctx.plan.pacing);
            let (ctx, rec, worker) = (task.ctx, task.rec, task.worker);
            let session = |intended: Instant, measured: bool| {
                let (ctx, rec) = (ctx.clone(), rec.clone());
                async move {
                    let started = Instant::now();
                    let mut keys = PeerKeyCache::default();
                    let run = one_session(&ctx, worker, &mut keys).await;
                    if measured {
                        // How late the session started: the pacing, and any wait for a slot.
                        rec.record().lag(started.saturating_duration_since(intended));
                        run.record(&rec, &clock, intended, started, Instant::now());
                    }
                }
            };
            open_loop(&ctx.stop, &ctx.budget, &clock, arrivals, self.cap, session).await;
        })
    }
}

/// Runs one session when the loop says so: the seam between the load models and the session.
pub(super) trait Session: Send {
    /// Runs a session intended to start at `intended` (closed loop: when it did start) and
    /// records it when `measured`.
    fn run(&mut self, intended: Instant, measured: bool) -> impl Future<Output = ()> + Send;
}

/// Closed loop: a slot runs sessions back to back until the window closes or the budget is
/// spent. Sessions started in the warm-up run but are not counted.
pub(super) async fn closed_loop(stop: &Stop, budget: &Budget, clock: &Clock, session: &mut impl Session) {
    while !stop.is_set() {
        let t0 = Instant::now();
        if clock.over(t0) {
            break;
        }
        let measured = clock.measured(t0);
        if measured && !budget.take(stop) {
            break;
        }
        session.run(t0, measured).await;
    }
}

/// Open loop: a session at each of `arrivals` (each its own task, at most `cap` in flight)
/// until the window closes or the budget is spent; then waits for the sessions in flight
/// (each bounded by its timeouts). An arrival that finds `cap` in flight waits, and its
/// latency includes the wait. `session(intended, measured)` makes one session.
pub(super) async fn open_loop<F, S>(
    stop: &Stop,
    budget: &Budget,
    clock: &Clock,
    mut arrivals: Arrivals,
    cap: usize,
    mut session: F,
) where
    F: FnMut(Instant, bool) -> S,
    S: Future<Output = ()> + Send + 'static,
{
    let in_flight = Arc::new(Semaphore::new(cap));
    loop {
        let intended = arrivals.next();
        if stop.is_set() || clock.over(intended) {
            break;
        }
        tokio::select! {
            _ = arrivals.wait_until(intended) => {}
            _ = stop.wait() => break,
        }
        let permit = tokio::select! {
            p = in_flight.clone().acquire_owned() => p.expect("semaphore is never closed"),
            _ = stop.wait() => break,
        };
        let measured = clock.measured(intended);
        if measured && !budget.take(stop) {
            break;
        }
        let run = session(intended, measured);
        tokio::spawn(async move {
            let _permit = permit;
            run.await;
        });
    }
    // Let the sessions in flight finish (each is bounded by its timeouts).
    let _ = in_flight.acquire_many(cap as u32).await;
}

/// A closed-loop slot: its sessions share the worker's connector and one key cache.
struct Slot {
    ctx: Arc<Ctx>,
    rec: Recorder,
    clock: Clock,
    keys: PeerKeyCache,
    worker: usize,
    backoff: Backoff,
    workload: Arc<Closed>,
}

impl Session for Slot {
    async fn run(&mut self, intended: Instant, measured: bool) {
        let run = one_session(&self.ctx, self.worker, &mut self.keys).await;
        let unreachable = matches!(&run.result, Err(kind) if kind.is_connect());
        if measured {
            run.record(&self.rec, &self.clock, intended, intended, Instant::now());
        }
        if !unreachable {
            self.backoff.reset();
            self.workload.watch.connected();
            return;
        }
        // A target that refuses or does not answer is not hammered: the slot waits longer
        // after each connect failure in a row. When no slot has connected for a while, the
        // phase stops.
        let ctx = &self.ctx;
        if self.workload.watch.gives_up(ctx.plan.connect_timeout) {
            tracing::warn!(
                phase = %ctx.plan.name,
                "no connect to the target succeeded for {:?}: stopping the phase",
                self.workload.watch.window(ctx.plan.connect_timeout)
            );
            self.rec.record().fail(FailureKind::TargetDown);
            ctx.stop.set();
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(self.backoff.next()) => {}
            _ = ctx.stop.wait() => {}
        }
    }
}

/// Waits between connect attempts after failures in a row: 10 ms, doubling, at most 1 s.
#[derive(Debug, Default)]
pub(super) struct Backoff {
    failures: u32,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MOST: Duration = Duration::from_secs(1);

    /// The wait after one more failure.
    pub(super) fn next(&mut self) -> Duration {
        let wait = Self::FIRST
            .saturating_mul(1u32.checked_shl(self.failures).unwrap_or(u32::MAX))
            .min(Self::MOST);
        self.failures = self.failures.saturating_add(1);
        wait
    }

    /// A success: the next failure waits the shortest time again.
    pub(super) fn reset(&mut self) {
        self.failures = 0;
    }
}

/// Whether any of a phase's sessions has reached the target lately.
#[derive(Debug)]
pub(super) struct ConnectWatch {
    since: Instant,
    /// Milliseconds from `since` to the last connect that succeeded (0: none yet).
    last_ok_ms: AtomicU64,
    gave_up: AtomicBool,
}

impl Default for ConnectWatch {
    fn default() -> Self {
        ConnectWatch {
            since: Instant::now(),
            last_ok_ms: AtomicU64::new(0),
            gave_up: AtomicBool::new(false),
        }
    }
}

impl ConnectWatch {
    /// How long without a single connect before giving up: 5 s, or twice the connect
    /// timeout when that is longer (each attempt may take that long to fail).
    pub(super) fn window(&self, connect_timeout: Duration) -> Duration {
        Duration::from_secs(5).max(connect_timeout.saturating_mul(2))
    }

    /// A session reached the target.
    pub(super) fn connected(&self) {
        let ms = self.since.elapsed().as_millis() as u64;
        self.last_ok_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// After a connect failure: true, once, when no connect has succeeded for the window.
    pub(super) fn gives_up(&self, connect_timeout: Duration) -> bool {
        let now = self.since.elapsed();
        let last = Duration::from_millis(self.last_ok_ms.load(Ordering::Relaxed));
        now.saturating_sub(last) >= self.window(connect_timeout) && !self.gave_up.swap(true, Ordering::AcqRel)
    }
}

/// Whether session `id` presents the bad certificate at `share`: session k is bad when the
/// running count of bad sessions steps up at k, which is exactly the share over any run of
/// sessions, spread evenly.
pub(super) fn is_bad(id: u64, share: f64) -> bool {
    ((id + 1) as f64 * share).floor() > (id as f64 * share).floor()
}

/// What one session did, for the recorder.
#[derive(Debug)]
pub(super) struct SessionRun {
    /// It presented the bad certificate.
    pub(super) bad: bool,
    /// Every step succeeded, or the failure that ended it.
    pub(super) result: Result<(), FailureKind>,
    /// Its set-up, application bytes (out, in), digest challenges and UDP retransmissions, when it connected.
    pub(super) conn: Option<(Established, ClientCounts)>,
    /// 0-RTT: what the handshake negotiated, read after the first request.
    pub(super) late: Option<Negotiated>,
    /// Its transactions' steps.
    pub(super) steps: Vec<Step>,
}

/// One whole session: connect, handshake, transactions, close.
async fn one_session(ctx: &Ctx, worker: usize, keys: &mut PeerKeyCache) -> SessionRun {
    let plan = &ctx.plan;
    let id = ctx.next_id();
    let bad = plan.bad_cert.is_some() && is_bad(id, plan.bad_cert_share);
    let mut run = SessionRun {
        bad,
        result: Ok(()),
        conn: None,
        late: None,
        steps: Vec::new(),
    };
    let (stream, est) = match ctx.establish_as(worker, bad, keys).await {
        Ok(x) => x,
        Err(kind) => {
            run.result = Err(kind);
            return run;
        }
    };
    let mut client = ctx.client(stream, id);
    for &txn in &plan.transactions {
        if let Err(kind) = client.transact(txn, plan.sip_timeout, &mut run.steps).await {
            run.result = Err(kind);
            break;
        }
    }
    let counts = ClientCounts {
        bytes_out: client.bytes_out,
        bytes_in: client.bytes_in,
        challenges: client.challenges,
        retransmissions: client.retransmissions,
    };
    if est.early {
        // 0-RTT: the handshake finished under the first request; read what it negotiated.
        run.late = client.finish_early(keys);
    }
    client.close().await;
    run.conn = Some((est, counts));
    run
}

/// What a session's SIP client counted.
#[derive(Debug)]
pub(super) struct ClientCounts {
    bytes_out: u64,
    bytes_in: u64,
    challenges: u64,
    retransmissions: u64,
}

impl SessionRun {
    /// Records a measured session intended to start at `intended`, started at `started` and
    /// done at `done`.
    pub(super) fn record(self, rec: &Recorder, clock: &Clock, intended: Instant, started: Instant, done: Instant) {
        let mut r = rec.record();
        if self.bad {
            // A bad certificate must be refused: that is the expected outcome, counted apart, and
            // its handshake and transactions are not mixed into the good sessions' figures.
            match self.result {
                Ok(()) => r.bad_accepted(),
                Err(kind) => r.rejected(kind, done.saturating_duration_since(intended)),
            };
            r.completed_at(clock.offset(done));
            return;
        }
        r.started();
        if let Some((est, c)) = &self.conn {
            r.established(est)
                .bytes(c.bytes_out, c.bytes_in)
                .challenges(c.challenges)
                .retransmissions(c.retransmissions);
        }
        if let Some(n) = &self.late {
            r.negotiated(n);
        }
        r.steps(&self.steps, Duration::ZERO);
        match self.result {
            Ok(()) => r.ok().session(
                done.saturating_duration_since(intended),
                Some(done.saturating_duration_since(started)),
            ),
            Err(kind) => r.fail(kind),
        };
        r.completed_at(clock.offset(done));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::recorder::Shards;
    use crate::sip::Method;
    use hdrhistogram::Histogram;

    #[test]
    fn backoff_doubles_from_10_ms_to_at_most_1_s_and_resets() {
        let mut b = Backoff::default();
        let waits: Vec<u64> = (0..9).map(|_| b.next().as_millis() as u64).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        for _ in 0..100 {
            b.next();
        }
        assert_eq!(b.next(), ms(1000));
        b.reset();
        assert_eq!(b.next(), ms(10));
    }

    #[tokio::test(start_paused = true)]
    async fn the_watch_gives_up_once_when_nothing_connected_for_its_window() {
        let watch = ConnectWatch::default();
        let timeout = ms(1000);
        assert_eq!(watch.window(timeout), ms(5000));
        assert_eq!(watch.window(ms(4000)), ms(8000));
        tokio::time::sleep(ms(3000)).await;
        watch.connected();
        tokio::time::sleep(ms(4000)).await;
        assert!(!watch.gives_up(timeout), "a connect 4 s ago");
        tokio::time::sleep(ms(1000)).await;
        assert!(watch.gives_up(timeout));
        assert!(!watch.gives_up(timeout), "only once");
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// How many values of `h` are recorded as `d` (within the histogram's precision).
    fn count(h: &Histogram<u64>, d: Duration) -> u64 {
        let us = d.as_micros() as u64;
        h.count_between(h.lowest_equivalent(us), h.highest_equivalent(us))
    }

    /// A session that connected and completed, as the fake connection reports it.
    fn ok_run() -> SessionRun {
        SessionRun {
            bad: false,
            result: Ok(()),
            conn: None,
            late: None,
            steps: vec![(Method::Options, ms(1), Ok(200))],
        }
    }

    /// A slot whose sessions take `took` on a fake connection and record as the real one does.
    struct FakeSlot {
        rec: Recorder,
        clock: Clock,
        took: Duration,
        ran: u64,
    }

    impl Session for FakeSlot {
        async fn run(&mut self, intended: Instant, measured: bool) {
            self.ran += 1;
            tokio::time::sleep(self.took).await;
            if measured {
                ok_run().record(&self.rec, &self.clock, intended, intended, Instant::now());
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn closed_loop_counts_sessions_started_in_the_window_and_lets_the_last_finish() {
        let clock = Clock::new(Instant::now(), ms(1000), Some(ms(2000)));
        let (stop, budget) = (Stop::new(), Budget::new(None));
        let shards = Shards::new(1);
        let rec = shards.recorder(0);
        let mut slot = FakeSlot {
            rec: rec.clone(),
            clock,
            took: ms(400),
            ran: 0,
        };
        closed_loop(&stop, &budget, &clock, &mut slot).await;
        // Started at 0, 0.4 and 0.8 s (warm-up), then 1.2 ... 2.8 s (counted); 3.2 s is past
        // the window.
        assert_eq!(slot.ran, 8);
        let s = shards.merged();
        assert_eq!((s.sessions_started, s.sessions_ok), (5, 5));
        assert_eq!(count(&s.session, ms(400)), 5);
        // The last counted session ended 0.2 s after the window closed: measured time runs to it.
        assert_eq!(s.last_completion, ms(2200));
        assert!(!stop.is_set());
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_is_spent_exactly_across_slots_and_then_stops_the_phase() {
        let clock = Clock::new(Instant::now(), Duration::ZERO, None);
        let (stop, budget) = (Stop::new(), Budget::new(Some(10)));
        let shards = Shards::new(1);
        let rec = shards.recorder(0);
        let mut slots: Vec<FakeSlot> = [ms(30), ms(70), ms(110)]
            .into_iter()
            .map(|took| FakeSlot {
                rec: rec.clone(),
                clock,
                took,
                ran: 0,
            })
            .collect();
        let [a, b, c] = &mut slots[..] else { unreachable!() };
        tokio::join!(
            closed_loop(&stop, &budget, &clock, a),
            closed_loop(&stop, &budget, &clock, b),
            closed_loop(&stop, &budget, &clock, c),
        );
        assert!(stop.is_set());
        assert_eq!(slots.iter().map(|s| s.ran).sum::<u64>(), 10);
        assert_eq!(shards.merged().sessions_ok, 10);
    }

    #[tokio::test(start_paused = true)]
    async fn open_loop_arrivals_keep_their_schedule_and_a_stall_shows_in_the_corrected_latency() {
        let t0 = Instant::now();
        let clock = Clock::new(t0, Duration::ZERO, Some(ms(1000)));
        let (stop, budget) = (Stop::new(), Budget::new(None));
        let shards = Shards::new(1);
        let rec = shards.recorder(0);
        let starts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        // Ten arrivals a second, one session in flight at most; the first session stalls for
        // 250 ms, the others take 20 ms.
        let arrivals = Arrivals::new(t0, ms(100));
        let session = |intended: Instant, measured: bool| {
            let (rec, starts) = (rec.clone(), starts.clone());
            async move {
                let started = Instant::now();
                starts.lock().unwrap().push((intended - t0, started - t0));
                let took = if intended == t0 { ms(250) } else { ms(20) };
                tokio::time::sleep(took).await;
                if measured {
                    ok_run().record(&rec, &clock, intended, started, Instant::now());
                }
            }
        };
        open_loop(&stop, &budget, &clock, arrivals, 1, session).await;
        let starts = starts.lock().unwrap().clone();
        // Arrivals at k / rate; the two behind the stall start late, the rest on time.
        assert_eq!(starts.len(), 10);
        assert_eq!(
            &starts[..4],
            [
                (ms(0), ms(0)),
                (ms(100), ms(250)),
                (ms(200), ms(270)),
                (ms(300), ms(300))
            ]
        );
        assert!(starts[4..].iter().all(|(i, s)| i == s));
        let s = shards.merged();
        assert_eq!(s.sessions_ok, 10);
        // Corrected: from the intended start, the wait included (250 - 100 + 20, 270 - 200 + 20).
        assert_eq!(count(&s.session, ms(250)), 1);
        assert_eq!(count(&s.session, ms(170)), 1);
        assert_eq!(count(&s.session, ms(90)), 1);
        assert_eq!(count(&s.session, ms(20)), 7);
        // Uncorrected: from the real start.
        assert_eq!(count(&s.session_uncorrected, ms(20)), 9);
        assert_eq!(s.last_completion, ms(920));
    }

    #[tokio::test(start_paused = true)]
    async fn open_loop_stops_at_the_budget() {
        let t0 = Instant::now();
        let clock = Clock::new(t0, Duration::ZERO, None);
        let (stop, budget) = (Stop::new(), Budget::new(Some(7)));
        let shards = Shards::new(1);
        let rec = shards.recorder(0);
        let session = |intended: Instant, measured: bool| {
            let rec = rec.clone();
            async move {
                tokio::time::sleep(ms(5)).await;
                if measured {
                    ok_run().record(&rec, &clock, intended, intended, Instant::now());
                }
            }
        };
        open_loop(&stop, &budget, &clock, Arrivals::new(t0, ms(10)), 4, session).await;
        assert!(stop.is_set());
        assert_eq!(shards.merged().sessions_ok, 7);
    }

    #[test]
    fn bad_sessions_are_spread_evenly_at_exactly_their_share() {
        for (share, every) in [(0.25, 4), (0.5, 2), (0.1, 10), (1.0, 1)] {
            let bad: Vec<u64> = (0..100).filter(|&id| is_bad(id, share)).collect();
            assert_eq!(bad.len() as f64, 100.0 * share, "share {share}");
            assert!(bad.windows(2).all(|w| w[1] - w[0] == every), "share {share}: {bad:?}");
        }
        assert!(!(0..100).any(|id| is_bad(id, 0.0)));
        // A share that does not divide evenly: never two bad sessions closer than the share allows.
        let bad: Vec<u64> = (0..300).filter(|&id| is_bad(id, 1.0 / 3.0 + 0.01)).collect();
        assert_eq!(bad.len(), 103);
        assert!(bad.windows(2).all(|w| (2..=3).contains(&(w[1] - w[0]))));
    }

    #[test]
    fn a_bad_session_is_counted_apart_and_its_figures_stay_out_of_the_good_ones() {
        let t0 = Instant::now();
        let clock = Clock::new(t0, Duration::ZERO, None);
        let shards = Shards::new(1);
        let rec = shards.recorder(0);
        let refusal = FailureKind::TlsAlertReceived("certificate-revoked".into());
        let refused = SessionRun {
            bad: true,
            result: Err(refusal.clone()),
            ..ok_run()
        };
        refused.record(&rec, &clock, t0, t0, t0 + ms(3));
        let accepted = SessionRun { bad: true, ..ok_run() };
        accepted.record(&rec, &clock, t0, t0, t0 + ms(4));
        ok_run().record(&rec, &clock, t0, t0 + ms(1), t0 + ms(5));
        let s = shards.merged();
        assert_eq!((s.bad_started, s.rejected), (2, 1));
        assert_eq!(s.rejections[&refusal], 1);
        assert_eq!(count(&s.rejection, ms(3)), 1);
        // The accepted one is a failed session; only the good one's figures are recorded.
        assert_eq!((s.sessions_started, s.sessions_ok), (2, 1));
        assert_eq!(s.failures[&FailureKind::BadCertAccepted], 1);
        assert_eq!(s.sip["OPTIONS"].ok, 1);
        assert_eq!(s.session.len(), 1);
        assert_eq!(count(&s.session, ms(5)), 1);
        assert_eq!(count(&s.session_uncorrected, ms(4)), 1);
        assert_eq!(s.last_completion, ms(5));
    }
}
