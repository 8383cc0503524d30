//! Workload `sessions`: each session connects, handshakes, runs the transactions and closes.
//!
//! Closed loop: `concurrency` slots each run sessions back to back. Open loop: each worker
//! starts sessions at its share of the rate, each its own task, at most `cap` in flight;
//! latency runs from each arrival's intended time. A phase with `bad_cert` spreads sessions
//! that present the bad certificate evenly at its share; their refusals are counted apart.

use std::future::Future;
use std::sync::Arc;
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
            };
            closed_loop(&ctx.stop, &ctx.budget, &clock, &mut slot).await;
        })
    }
}

/// Open loop: one arrival task per worker.
pub(super) struct Open {
    /// Arrivals per second on each worker.
    pub(super) rate: f64,
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
            let interval = Duration::from_secs_f64(1.0 / self.rate);
            // The workers' arrivals interleave evenly.
            let offset = interval.mul_f64(task.worker as f64 / self.workers as f64);
            let arrivals = Arrivals::new(clock.start + offset, interval);
            let (ctx, rec, worker) = (task.ctx, task.rec, task.worker);
            let session = |intended: Instant, measured: bool| {
                let (ctx, rec) = (ctx.clone(), rec.clone());
                async move {
                    let started = Instant::now();
                    let mut keys = PeerKeyCache::default();
                    let run = one_session(&ctx, worker, &mut keys).await;
                    if measured {
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
            _ = tokio::time::sleep_until(intended) => {}
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
}

impl Session for Slot {
    async fn run(&mut self, intended: Instant, measured: bool) {
        let run = one_session(&self.ctx, self.worker, &mut self.keys).await;
        if measured {
            run.record(&self.rec, &self.clock, intended, intended, Instant::now());
        }
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
    /// Its set-up and application bytes (out, in), when it connected.
    pub(super) conn: Option<(Established, (u64, u64))>,
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
    let bytes = (client.bytes_out, client.bytes_in);
    if est.early {
        // 0-RTT: the handshake finished under the first request; read what it negotiated.
        run.late = client.finish_early(keys);
    }
    client.close().await;
    run.conn = Some((est, bytes));
    run
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
        if let Some((est, (out, read))) = &self.conn {
            r.established(est).bytes(*out, *read);
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
