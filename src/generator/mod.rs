//! The load generator: runs the phases of a [`Plan`](crate::plan::PhasePlan) on a pool of
//! per-core runtimes and measures them.
//!
//! Each pool thread is one worker. A worker owns its share of the sessions and one
//! [`PhaseStats`] (its own histograms); the shares are merged when the phase ends.
//!
//! The phase clock: warm-up, then the measured window. Work that *starts* inside the window is
//! counted, including work that completes after the window closed (in-flight sessions are let
//! finish, bounded by their timeouts); the measured time runs from the window's start to the
//! last counted completion, so rates never divide by a time shorter than the work took.
//!
//! Open loop (`rate`): arrivals are scheduled at constant intervals; latency is measured from
//! each arrival's intended time (corrected for coordinated omission, as wrk2 does), with the
//! uncorrected histogram kept beside it.

pub mod command;
pub mod observe;
pub mod outcome;
pub mod session;
pub mod target;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};
use tokio::time::Instant as TokioInstant;

use crate::failure::FailureKind;
use crate::plan::{Load, PhasePlan, Txn, Workload};
use crate::pool::Pool;
use crate::stats::{PhaseStats, micros};
use crate::sys;
use crate::tls::PeerKeyCache;
use crate::uac::SipClient;
pub use outcome::PhaseOutcome;
use session::{Endpoint, Established};

/// A stop signal that tasks can poll cheaply and await.
#[derive(Debug)]
pub struct Stop {
    flag: AtomicBool,
    tx: watch::Sender<bool>,
}

impl Default for Stop {
    fn default() -> Self {
        Self::new()
    }
}

impl Stop {
    /// Not set.
    pub fn new() -> Self {
        Stop {
            flag: AtomicBool::new(false),
            tx: watch::channel(false).0,
        }
    }
    /// Sets it; every waiter wakes.
    pub fn set(&self) {
        self.flag.store(true, Ordering::Release);
        self.tx.send_replace(true);
    }
    /// Whether it is set.
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }
    /// Resolves once set.
    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|v| *v).await;
    }
}

/// What the workers recorded during one interval of a phase (about a second).
#[derive(Debug)]
pub struct Interval<'a> {
    /// The phase.
    pub plan: &'a PhasePlan,
    /// Start of the interval, from the start of the measured window.
    pub start: Duration,
    /// Its length.
    pub length: Duration,
    /// What was recorded during it (histograms and counters).
    pub stats: &'a PhaseStats,
    /// False for a look at the interval so far (progress only); true once it is closed
    /// (timeline and interval logs).
    pub complete: bool,
}

/// Takes the per-interval differences of the workers' growing stats.
struct Collector {
    prev: PhaseStats,
    at: Instant,
    timeline: Vec<crate::results::TimelinePoint>,
}

impl Collector {
    /// The workers' stats now, and what they recorded since the last closed interval; `None`
    /// when no time has passed.
    fn snapshot(&self, shards: &[Shared]) -> Option<(Instant, PhaseStats, PhaseStats)> {
        let now = Instant::now();
        if now <= self.at {
            return None;
        }
        let mut total = PhaseStats::new();
        for s in shards {
            // The lock is held for a merge (no clone); a worker waits microseconds at most.
            total.merge(&lock(s));
        }
        let delta = total.since(&self.prev);
        Some((now, total, delta))
    }

    /// Closes the interval: a timeline point, and the observer's interval.
    fn collect(
        &mut self,
        plan: &PhasePlan,
        shards: &[Shared],
        window_start: Instant,
        on_interval: &mut (dyn FnMut(&Interval<'_>) + Send),
    ) {
        let Some((now, total, delta)) = self.snapshot(shards) else {
            return;
        };
        let interval = Interval {
            plan,
            start: self.at.saturating_duration_since(window_start),
            length: now - self.at,
            stats: &delta,
            complete: true,
        };
        self.timeline.push(interval.point());
        on_interval(&interval);
        self.prev = total;
        self.at = now;
    }

    /// The interval so far, without closing it: for the progress line.
    fn peek(
        &self,
        plan: &PhasePlan,
        shards: &[Shared],
        window_start: Instant,
        on_interval: &mut (dyn FnMut(&Interval<'_>) + Send),
    ) {
        let Some((now, _, delta)) = self.snapshot(shards) else {
            return;
        };
        on_interval(&Interval {
            plan,
            start: self.at.saturating_duration_since(window_start),
            length: now - self.at,
            stats: &delta,
            complete: false,
        });
    }
}

/// Shared, read-only context of one phase.
struct Ctx {
    plan: PhasePlan,
    endpoint: Endpoint,
    stop: Stop,
    /// Remaining measured-session budget (`i64::MAX` when unlimited).
    budget: AtomicI64,
    /// Session ids, unique within the run.
    ids: Arc<AtomicU64>,
}

impl Ctx {
    /// Connects (and handshakes) to the endpoint of `worker` with the phase's timeouts.
    async fn establish(
        &self,
        worker: usize,
        keys: &mut PeerKeyCache,
    ) -> Result<(session::Stream, Established), FailureKind> {
        self.establish_as(worker, false, keys).await
    }

    /// As [`Ctx::establish`], presenting the phase's bad certificate when `bad`.
    async fn establish_as(
        &self,
        worker: usize,
        bad: bool,
        keys: &mut PeerKeyCache,
    ) -> Result<(session::Stream, Established), FailureKind> {
        session::establish(
            &self.endpoint,
            worker,
            bad,
            self.plan.connect_timeout,
            self.plan.handshake_timeout,
            keys,
        )
        .await
    }

    fn take_budget(&self) -> bool {
        if self.budget.fetch_sub(1, Ordering::Relaxed) > 0 {
            true
        } else {
            self.stop.set();
            false
        }
    }
}

/// The phase clock, fixed when the measured part begins.
#[derive(Debug, Clone, Copy)]
struct Clock {
    start: Instant,
    window_start: Instant,
    window_end: Option<Instant>,
}

impl Clock {
    fn measured(&self, t: Instant) -> bool {
        t >= self.window_start && self.window_end.is_none_or(|end| t < end)
    }
    fn over(&self, t: Instant) -> bool {
        self.window_end.is_some_and(|end| t >= end)
    }
}

type Shared = Arc<Mutex<PhaseStats>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, PhaseStats> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs one phase against `endpoint` on `pool`. `interrupt` cuts it short (results so far are kept).
pub async fn run_phase(
    plan: &PhasePlan,
    endpoint: Endpoint,
    pool: &Pool,
    interrupt: &Stop,
    ids: Arc<AtomicU64>,
    on_interval: &mut (dyn FnMut(&Interval<'_>) + Send),
) -> PhaseOutcome {
    let ctx = Arc::new(Ctx {
        plan: plan.clone(),
        endpoint,
        stop: Stop::new(),
        budget: AtomicI64::new(plan.sessions.map(|s| s as i64).unwrap_or(i64::MAX)),
        ids,
    });
    let workers = pool.len();
    let shards: Vec<Shared> = (0..workers).map(|_| Arc::new(Mutex::new(PhaseStats::new()))).collect();
    let mut rss_before = None;
    let mut rss_held = None;
    let mut held = 0;

    // Kept and held sessions are opened first; the phase clock starts once they all are.
    let (clock_tx, clock_rx) = watch::channel::<Option<Clock>>(None);
    let ready = Arc::new(Semaphore::new(0));
    let check = Arc::new(Stop::new());
    let open_ok = Arc::new(AtomicU64::new(0));
    // Storm: sessions still to come back; the last one back ends the phase (through ctx.stop).
    let storm_left = Arc::new(AtomicU64::new(plan.connections as u64));
    let mut tasks = Vec::new();
    match (plan.workload, plan.load) {
        (Workload::Sessions, Load::Closed { concurrency }) => {
            for slot in 0..concurrency {
                let (ctx, shard, clock) = (ctx.clone(), shards[slot % workers].clone(), clock_rx.clone());
                tasks.push(pool.spawn_on(slot, closed_sessions(ctx, shard, clock, slot % workers)));
            }
        }
        (Workload::Sessions, Load::Open { rate }) => {
            for (w, shard) in shards.iter().enumerate() {
                let (ctx, shard, clock) = (ctx.clone(), shard.clone(), clock_rx.clone());
                let cap = (plan.max_in_flight / workers).max(1);
                tasks.push(pool.spawn_on(
                    w,
                    open_sessions(ctx, shard, clock, rate / workers as f64, w, workers, cap),
                ));
            }
        }
        (Workload::Records, _) => {
            let n = plan.connections;
            // One pattern buffer for the phase; each write takes the next slice of it.
            let data: Arc<[u8]> = crate::bulk::pattern(4 * WRITE_BATCH + 4096, 0x51b).into();
            for c in 0..n {
                let (ctx, shard, clock) = (ctx.clone(), shards[c % workers].clone(), clock_rx.clone());
                let (ready, open_ok, data) = (ready.clone(), open_ok.clone(), data.clone());
                tasks.push(pool.spawn_on(c, records_session(ctx, shard, clock, ready, open_ok, data, c % workers)));
            }
            tokio::select! {
                r = ready.acquire_many(n as u32) => { if let Ok(p) = r { p.forget(); } }
                _ = interrupt.wait() => ctx.stop.set(),
            }
        }
        (Workload::Storm, _) => {
            let n = plan.connections;
            for c in 0..n {
                let (ctx, shard, clock) = (ctx.clone(), shards[c % workers].clone(), clock_rx.clone());
                let (ready, left) = (ready.clone(), storm_left.clone());
                tasks.push(pool.spawn_on(c, storm_session(ctx, shard, clock, ready, left, c % workers)));
            }
            tokio::select! {
                r = ready.acquire_many(n as u32) => { if let Ok(p) = r { p.forget(); } }
                _ = interrupt.wait() => ctx.stop.set(),
            }
        }
        (Workload::Kept | Workload::Hold | Workload::Messages, load) => {
            rss_before = sys::rss_bytes();
            let n = plan.connections;
            for c in 0..n {
                let (ctx, shard, clock) = (ctx.clone(), shards[c % workers].clone(), clock_rx.clone());
                let (ready, check, open_ok) = (ready.clone(), check.clone(), open_ok.clone());
                let per_conn_rate = match load {
                    Load::Open { rate } => Some(rate / n as f64),
                    Load::Closed { .. } => None,
                };
                let phase = (c as f64 + 0.5) / n as f64;
                tasks.push(pool.spawn_on(
                    c,
                    kept_session(
                        ctx,
                        shard,
                        clock,
                        ready,
                        check,
                        open_ok,
                        per_conn_rate,
                        phase,
                        c % workers,
                    ),
                ));
            }
            // Every connection reports once, opened or failed.
            tokio::select! {
                r = ready.acquire_many(n as u32) => { if let Ok(p) = r { p.forget(); } }
                _ = interrupt.wait() => ctx.stop.set(),
            }
            held = open_ok.load(Ordering::Relaxed);
            if plan.workload == Workload::Hold {
                rss_held = sys::rss_bytes();
            }
        }
    }

    let start = Instant::now();
    let window_start = start + plan.warmup;
    let clock = Clock {
        start,
        window_start,
        window_end: plan.duration.map(|d| window_start + d),
    };
    let _ = clock_tx.send(Some(clock));

    // Warm-up, then the measured window; CPU is read at the window's edges.
    let cpu0 = tokio::select! {
        _ = tokio::time::sleep_until(TokioInstant::from_std(window_start)) => sys::cpu_times(),
        _ = interrupt.wait() => { ctx.stop.set(); sys::cpu_times() }
    };
    let mut interrupted = interrupt.is_set();
    // Once a second: what the workers recorded since the last look (a timeline point, and the
    // observer's interval for logs and progress).
    let mut collector = Collector {
        prev: PhaseStats::new(),
        at: window_start,
        timeline: Vec::new(),
    };
    if !interrupted {
        let end = async {
            match clock.window_end {
                Some(end) => tokio::time::sleep_until(TokioInstant::from_std(end)).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(end);
        // Four ticks a second: every fourth closes a one-second interval (timeline, logs); the
        // others only refresh the progress line with the second so far.
        let quarter = Duration::from_millis(250);
        let mut tick = tokio::time::interval_at(TokioInstant::from_std(window_start + quarter), quarter);
        let mut ticks: u64 = 0;
        loop {
            tokio::select! {
                _ = &mut end => break,
                _ = ctx.stop.wait() => break,
                _ = interrupt.wait() => {
                    interrupted = true;
                    break;
                }
                                _ = tick.tick() => {
                    ticks += 1;
                    if ticks % 4 == 0 {
                        collector.collect(plan, &shards, window_start, on_interval);
                    } else {
                        collector.peek(plan, &shards, window_start, on_interval);
                    }
                }
            }
        }
    }
    ctx.stop.set();
    check.set();
    for t in tasks {
        let _ = t.await;
    }
    let cpu1 = sys::cpu_times();
    // The last, partial interval (including sessions that finished after the window closed).
    collector.collect(plan, &shards, window_start, on_interval);

    let mut stats = PhaseStats::new();
    for s in &shards {
        stats.merge(&lock(s));
    }
    let measured = if stats.last_completion.is_zero() {
        plan.duration.unwrap_or(Duration::ZERO).min(window_start.elapsed())
    } else {
        stats.last_completion
    };
    PhaseOutcome {
        stats,
        measured,
        cpu: (cpu1.0.saturating_sub(cpu0.0), cpu1.1.saturating_sub(cpu0.1)),
        rss_before,
        rss_held,
        held,
        interrupted,
        timeline: collector.timeline,
    }
}

async fn wait_clock(mut rx: watch::Receiver<Option<Clock>>) -> Option<Clock> {
    rx.wait_for(|c| c.is_some()).await.ok().and_then(|c| *c)
}

/// Closed loop: one slot runs sessions back to back until the window closes or the budget is spent.
async fn closed_sessions(ctx: Arc<Ctx>, shard: Shared, clock: watch::Receiver<Option<Clock>>, worker: usize) {
    let Some(clock) = wait_clock(clock).await else { return };
    let mut keys = PeerKeyCache::default();
    while !ctx.stop.is_set() {
        let t0 = Instant::now();
        if clock.over(t0) {
            break;
        }
        let measured = clock.measured(t0);
        if measured && !ctx.take_budget() {
            break;
        }
        one_session(&ctx, &shard, &clock, &mut keys, worker, t0, t0, measured).await;
    }
}

/// Open loop: arrivals at a constant rate on this worker, each session its own task.
#[allow(clippy::too_many_arguments)]
async fn open_sessions(
    ctx: Arc<Ctx>,
    shard: Shared,
    clock: watch::Receiver<Option<Clock>>,
    rate: f64,
    worker: usize,
    workers: usize,
    cap: usize,
) {
    let Some(clock) = wait_clock(clock).await else { return };
    let interval = Duration::from_secs_f64(1.0 / rate);
    let offset = interval.mul_f64(worker as f64 / workers as f64);
    let in_flight = Arc::new(Semaphore::new(cap));
    let mut k: u32 = 0;
    loop {
        let intended = clock.start + offset + interval * k;
        if ctx.stop.is_set() || clock.over(intended) {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(TokioInstant::from_std(intended)) => {}
            _ = ctx.stop.wait() => break,
        }
        let permit = tokio::select! {
            p = in_flight.clone().acquire_owned() => p.expect("semaphore is never closed"),
            _ = ctx.stop.wait() => break,
        };
        let measured = clock.measured(intended);
        if measured && !ctx.take_budget() {
            break;
        }
        let (ctx, shard) = (ctx.clone(), shard.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let mut keys = PeerKeyCache::default();
            one_session(
                &ctx,
                &shard,
                &clock,
                &mut keys,
                worker,
                intended,
                Instant::now(),
                measured,
            )
            .await;
        });
        k = k.saturating_add(1);
    }
    // Let the sessions in flight finish (each is bounded by its timeouts).
    let _ = in_flight.acquire_many(cap as u32).await;
}

/// One whole session: connect, handshake, transactions, close. Records it when `measured`.
#[allow(clippy::too_many_arguments)]
async fn one_session(
    ctx: &Ctx,
    shard: &Shared,
    clock: &Clock,
    keys: &mut PeerKeyCache,
    worker: usize,
    intended: Instant,
    started: Instant,
    measured: bool,
) {
    let plan = &ctx.plan;
    let id = ctx.ids.fetch_add(1, Ordering::Relaxed);
    // Session k is bad when the running count of bad sessions steps up at k: exactly the share
    // over any run of sessions, spread evenly.
    let share = plan.bad_cert_share;
    let bad = plan.bad_cert.is_some() && ((id + 1) as f64 * share).floor() > (id as f64 * share).floor();
    let est = ctx.establish_as(worker, bad, keys).await;
    let mut txns: Vec<(&'static str, Duration, Result<u16, FailureKind>)> = Vec::new();
    let mut late = None;
    let result = match est {
        Err(kind) => Err((kind, None)),
        Ok((stream, est)) => {
            let mut client = SipClient::new(stream, ctx.endpoint.domain.clone(), id);
            let mut failure = None;
            for &txn in &plan.transactions {
                let r = client
                    .run(txn, plan.sip_timeout, &mut |m, d, r| txns.push((m, d, r)))
                    .await;
                if let Err(kind) = r {
                    failure = Some(kind);
                    break;
                }
            }
            let bytes = (client.bytes_out, client.bytes_in);
            if est.early {
                // 0-RTT: the handshake finished under the first request; read what it negotiated.
                late = client.finish_early(keys);
            }
            client.close().await;
            match failure {
                Some(kind) => Err((kind, Some((est, bytes)))),
                None => Ok((est, bytes)),
            }
        }
    };
    if !measured {
        return;
    }
    let done = Instant::now();
    let mut s = lock(shard);
    if bad {
        // A bad certificate must be refused: that is the expected outcome, counted apart, and
        // its handshake and transactions are not mixed into the good sessions' figures.
        s.bad_started += 1;
        match result {
            Ok(_) => {
                s.sessions_started += 1;
                s.fail(FailureKind::BadCertAccepted);
            }
            Err((kind, _)) => {
                s.rejected += 1;
                *s.rejections.entry(kind).or_insert(0) += 1;
                let _ = s.rejection.record(micros(done - intended));
            }
        }
        s.completed_at(done - clock.window_start);
        return;
    }
    s.sessions_started += 1;
    let est = match &result {
        Ok(e) => Some(e),
        Err((_, e)) => e.as_ref(),
    };
    if let Some((est, (out, inn))) = est {
        record_established(&mut s, est);
        s.bytes_out += out;
        s.bytes_in += inn;
    }
    if let Some(n) = &late {
        s.negotiated(n);
    }
    for (m, d, r) in &txns {
        record_txn(&mut s, m, *d, *d, r);
    }
    match result {
        Ok(_) => {
            s.sessions_ok += 1;
            let _ = s.session.record(micros(done - intended));
            let _ = s.session_uncorrected.record(micros(done - started));
        }
        Err((kind, _)) => s.fail(kind),
    }
    s.completed_at(done - clock.window_start);
}

/// Records connect time and, once known, the handshake. A 0-RTT handshake overlaps the first
/// request (its time is inside that transaction's) and its parameters are recorded after it.
fn record_established(s: &mut PhaseStats, est: &Established) {
    let _ = s.connect.record(micros(est.connect));
    if est.early {
        return;
    }
    if est.negotiated.protocol != "none" {
        let h = if est.resumed {
            &mut s.handshake_resumed
        } else {
            &mut s.handshake_full
        };
        let _ = h.record(micros(est.handshake));
    }
    s.negotiated(&est.negotiated);
}

fn record_txn(s: &mut PhaseStats, method: &str, corrected: Duration, actual: Duration, r: &Result<u16, FailureKind>) {
    let t = s.txn(method);
    match r {
        Ok(_) => {
            t.ok += 1;
            let _ = t.latency.record(micros(corrected));
            let _ = t.uncorrected.record(micros(actual));
        }
        Err(_) => t.failed += 1,
    }
}

/// One kept (or held) session: open, report, then loop transactions (kept) or wait (hold).
#[allow(clippy::too_many_arguments)]
async fn kept_session(
    ctx: Arc<Ctx>,
    shard: Shared,
    clock: watch::Receiver<Option<Clock>>,
    ready: Arc<Semaphore>,
    check: Arc<Stop>,
    open_ok: Arc<AtomicU64>,
    rate: Option<f64>,
    phase_frac: f64,
    worker: usize,
) {
    let plan = &ctx.plan;
    let id = ctx.ids.fetch_add(1, Ordering::Relaxed);
    let mut keys = PeerKeyCache::default();
    let opened = ctx.establish(worker, &mut keys).await;
    let (stream, est) = match opened {
        Ok(x) => x,
        Err(kind) => {
            {
                let mut s = lock(&shard);
                s.sessions_started += 1;
                s.fail(kind);
            }
            ready.add_permits(1);
            return;
        }
    };
    {
        let mut s = lock(&shard);
        s.sessions_started += 1;
        record_established(&mut s, &est);
    }
    let mut client = SipClient::new(stream, ctx.endpoint.domain.clone(), id);
    if plan.workload == Workload::Hold {
        // A held session registers once, as a real client would.
        let mut rec = Vec::new();
        let r = client
            .run(Txn::Register, plan.sip_timeout, &mut |m, d, r| rec.push((m, d, r)))
            .await;
        let failed = {
            let mut s = lock(&shard);
            for (m, d, r) in &rec {
                record_txn(&mut s, m, *d, *d, r);
            }
            match r {
                Err(kind) => {
                    s.fail(kind);
                    true
                }
                Ok(()) => false,
            }
        };
        if failed {
            ready.add_permits(1);
            return;
        }
    }
    open_ok.fetch_add(1, Ordering::Relaxed);
    ready.add_permits(1);
    let Some(clock) = wait_clock(clock).await else { return };

    if plan.workload == Workload::Hold {
        check.wait().await;
        let t = Instant::now();
        let r = client.transaction("OPTIONS", plan.sip_timeout).await;
        {
            let mut s = lock(&shard);
            record_txn(&mut s, "OPTIONS", t.elapsed(), t.elapsed(), &r);
            match r {
                Ok(_) => s.sessions_ok += 1,
                Err(kind) => s.fail(kind),
            }
            s.completed_at(Instant::now().saturating_duration_since(clock.window_start));
            if est.early
                && let Some(n) = client.finish_early(&mut keys)
            {
                s.negotiated(&n);
            }
        }
        client.close().await;
        return;
    }

    if plan.workload == Workload::Messages {
        let body: Arc<[u8]> = crate::bulk::pattern(plan.body_size, id)
            .iter()
            .map(|b| b'a' + b % 26)
            .collect();
        client.set_message_body(body);
        let mut more = || !ctx.stop.is_set() && !clock.over(Instant::now());
        let mut record = |sent: Instant, r: Result<u16, FailureKind>| {
            if clock.measured(sent) {
                let now = Instant::now();
                let mut s = lock(&shard);
                record_txn(&mut s, "MESSAGE", now - sent, now - sent, &r);
                if let Err(kind) = r {
                    s.fail(kind);
                }
                s.completed_at(now - clock.window_start);
            }
        };
        let r = client
            .pipeline(plan.window, plan.sip_timeout, &mut more, &mut record)
            .await;
        {
            let mut s = lock(&shard);
            s.bytes_out += client.bytes_out;
            s.bytes_in += client.bytes_in;
            match r {
                Ok(()) => s.sessions_ok += 1,
                Err(kind) => s.fail(kind),
            }
        }
        client.close().await;
        return;
    }

    let interval = rate.map(|r| Duration::from_secs_f64(1.0 / r));
    let mut k: u32 = 0;
    let mut failed = false;
    let mut rec = Vec::with_capacity(2);
    'outer: while !ctx.stop.is_set() {
        for &txn in &plan.transactions {
            // Open loop: the intended send time of this transaction.
            let intended = match interval {
                Some(iv) => {
                    let at = clock.start + iv.mul_f64(phase_frac) + iv * k;
                    k = k.saturating_add(1);
                    if clock.over(at) {
                        break 'outer;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep_until(TokioInstant::from_std(at)) => {}
                        _ = ctx.stop.wait() => break 'outer,
                    }
                    at
                }
                None => Instant::now(),
            };
            if clock.over(intended) {
                break 'outer;
            }
            let sent = Instant::now();
            let measured = clock.measured(intended);
            rec.clear();
            let r = client
                .run(txn, plan.sip_timeout, &mut |m, d, r| rec.push((m, d, r)))
                .await;
            if measured {
                let done = Instant::now();
                let mut s = lock(&shard);
                // The first step of a transaction carries the wait before it was sent.
                let mut lag = sent.saturating_duration_since(intended);
                for (m, d, r) in &rec {
                    record_txn(&mut s, m, *d + lag, *d, r);
                    lag = Duration::ZERO;
                }
                if let Err(kind) = &r {
                    s.fail(kind.clone());
                }
                s.completed_at(done - clock.window_start);
            }
            match r {
                // A SIP error status leaves the connection usable: counted, and the loop goes on.
                Ok(()) | Err(FailureKind::SipStatus(_)) => {}
                Err(_) => {
                    failed = true;
                    break 'outer;
                }
            }
        }
    }
    {
        let mut s = lock(&shard);
        s.bytes_out += client.bytes_out;
        s.bytes_in += client.bytes_in;
        if !failed {
            s.sessions_ok += 1;
        }
        if est.early
            && let Some(n) = client.finish_early(&mut keys)
        {
            s.negotiated(&n);
        }
    }
    client.close().await;
}

/// Bytes handed to the TLS stream per write in `records` phases.
const WRITE_BATCH: usize = 64 * 1024;

/// One bulk session: open, switch to streaming, write (and in echo mode read back) records of
/// `record_size` until the window closes, then check byte count and CRC-32 against the
/// server's trailer.
async fn records_session(
    ctx: Arc<Ctx>,
    shard: Shared,
    clock: watch::Receiver<Option<Clock>>,
    ready: Arc<Semaphore>,
    open_ok: Arc<AtomicU64>,
    data: Arc<[u8]>,
    worker: usize,
) {
    use crate::bulk::{BulkMode, TrailedStream};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let plan = &ctx.plan;
    let id = ctx.ids.fetch_add(1, Ordering::Relaxed);
    let mut keys = PeerKeyCache::default();
    let mode = match plan.direction {
        crate::plan::Direction::Up => BulkMode::Sink,
        crate::plan::Direction::Both => BulkMode::Echo,
    };
    // A stream pipelines: its two ends go on different cores, so the session connects to the
    // server thread beside its own worker's (with one listener, the same one).
    let peer = worker + 1;
    let opened = match ctx.establish(peer, &mut keys).await {
        Ok((stream, est)) => {
            lock(&shard).sessions_started += 1;
            record_established(&mut lock(&shard), &est);
            SipClient::new(stream, ctx.endpoint.domain.clone(), id)
                .into_bulk(mode, plan.sip_timeout)
                .await
        }
        Err(kind) => {
            lock(&shard).sessions_started += 1;
            Err(kind)
        }
    };
    let (stream, leftover) = match opened {
        Ok((stream, leftover, _)) => (stream, leftover),
        Err(kind) => {
            lock(&shard).fail(kind);
            ready.add_permits(1);
            return;
        }
    };
    open_ok.fetch_add(1, Ordering::Relaxed);
    ready.add_permits(1);
    let Some(clock) = wait_clock(clock).await else { return };

    let (mut rd, mut wr) = tokio::io::split(stream);
    // Writes carry several records (rustls cuts them at the record size): fewer system calls,
    // same records on the wire.
    let record = plan.record_size.max(1);
    let size = (WRITE_BATCH / record).max(1) * record;
    let writer = async {
        let mut sent_crc = crc32fast::Hasher::new();
        let (mut sent, mut measured_bytes, mut measured_records) = (0u64, 0u64, 0u64);
        let mut last = Duration::ZERO;
        let mut off = 0usize;
        let span = data.len() - size;
        loop {
            let now = Instant::now();
            if ctx.stop.is_set() || clock.over(now) {
                break;
            }
            let chunk = &data[off..off + size];
            off = (off + 4099) % span.max(1);
            if let Err(e) = wr.write_all(chunk).await {
                return Err(crate::tls::classify_io(&e));
            }
            sent_crc.update(chunk);
            sent += size as u64;
            if clock.measured(now) {
                measured_bytes += size as u64;
                measured_records += (size / record) as u64;
                last = now.saturating_duration_since(clock.window_start);
            }
        }
        // close_notify and FIN: the server then sends its trailer.
        let _ = wr.flush().await;
        let _ = wr.shutdown().await;
        Ok((sent, sent_crc.finalize(), measured_bytes, measured_records, last))
    };
    let reader = async {
        let mut stream = TrailedStream::new();
        stream.update(&leftover);
        let mut buf = vec![0u8; 64 * 1024];
        let mut measured_in = 0u64;
        loop {
            let n = match tokio::time::timeout(plan.sip_timeout.max(Duration::from_secs(5)), rd.read(&mut buf)).await {
                Err(_) => return Err(FailureKind::SipTimeout),
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => n,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Ok(Err(e)) => return Err(crate::tls::classify_io(&e)),
            };
            stream.update(&buf[..n]);
            if clock.measured(Instant::now()) {
                measured_in += n as u64;
            }
        }
        Ok((stream.finish(), measured_in))
    };
    let (w, r) = tokio::join!(writer, reader);
    let mut s = lock(&shard);
    let outcome = match (w, r) {
        (Err(kind), _) | (_, Err(kind)) => Err(kind),
        (Ok((sent, crc, bytes, records, last)), Ok((trailed, measured_in))) => {
            s.bytes_out += bytes;
            s.bytes_in += measured_in;
            s.records += records;
            s.completed_at(last);
            match trailed {
                None => Err(FailureKind::SipProtocol("bulk-no-trailer".into())),
                Some((echoed, echoed_crc, (server_bytes, server_crc))) => {
                    let echo_ok = mode == BulkMode::Sink || (echoed, echoed_crc) == (sent, crc);
                    if (server_bytes, server_crc) == (sent, crc) && echo_ok {
                        Ok(())
                    } else {
                        Err(FailureKind::SipProtocol("bulk-checksum-mismatch".into()))
                    }
                }
            }
        }
    };
    match outcome {
        Ok(()) => s.sessions_ok += 1,
        Err(kind) => s.fail(kind),
    }
}

/// One session of a reconnect storm: open and register, wait for the cut at the start of the
/// window, drop the connection without close_notify (as a failure would), then reconnect and
/// register at once, retrying until the window closes. `session` latency is the time from the
/// cut until this session was back; the reconnect's handshake goes into the handshake
/// histograms. The last session back stops the phase.
async fn storm_session(
    ctx: Arc<Ctx>,
    shard: Shared,
    clock: watch::Receiver<Option<Clock>>,
    ready: Arc<Semaphore>,
    left: Arc<AtomicU64>,
    worker: usize,
) {
    let plan = &ctx.plan;
    let mut keys = PeerKeyCache::default();
    let id = ctx.ids.fetch_add(1, Ordering::Relaxed);
    let finish = |ctx: &Ctx| {
        if left.fetch_sub(1, Ordering::AcqRel) == 1 {
            ctx.stop.set();
        }
    };
    let opened = ctx.establish(worker, &mut keys).await;
    let first = match opened {
        Ok((stream, _)) => {
            let mut client = SipClient::new(stream, ctx.endpoint.domain.clone(), id);
            client.transaction("REGISTER", plan.sip_timeout).await.map(|_| client)
        }
        Err(kind) => Err(kind),
    };
    let client = match first {
        Ok(c) => c,
        Err(kind) => {
            {
                let mut s = lock(&shard);
                s.sessions_started += 1;
                s.fail(kind);
            }
            ready.add_permits(1);
            finish(&ctx);
            return;
        }
    };
    ready.add_permits(1);
    let Some(clock) = wait_clock(clock).await else { return };
    tokio::time::sleep_until(TokioInstant::from_std(clock.window_start)).await;
    // The cut: every session drops its connection at the same instant.
    drop(client);
    let cut = clock.window_start;
    let mut failed_once = false;
    let recovered = loop {
        if clock.over(Instant::now()) || (ctx.stop.is_set() && left.load(Ordering::Acquire) > 0) {
            break false;
        }
        let attempt = ctx.establish(worker, &mut keys).await;
        let (stream, est) = match attempt {
            Ok(x) => x,
            Err(kind) => {
                lock(&shard).fail(kind);
                failed_once = true;
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let mut client = SipClient::new(stream, ctx.endpoint.domain.clone(), id);
        let t = Instant::now();
        let r = client.transaction("REGISTER", plan.sip_timeout).await;
        let now = Instant::now();
        let ok = r.is_ok();
        {
            let mut s = lock(&shard);
            record_established(&mut s, &est);
            record_txn(&mut s, "REGISTER", now - t, now - t, &r);
            match r {
                Ok(_) => {
                    let _ = s.session.record(micros(now - cut));
                    s.completed_at(now - cut);
                }
                Err(kind) => {
                    s.fail(kind);
                    failed_once = true;
                }
            }
        }
        client.close().await;
        if ok {
            break true;
        }
    };
    {
        let mut s = lock(&shard);
        s.sessions_started += 1;
        if recovered {
            s.sessions_ok += 1;
        } else if !failed_once {
            s.fail(FailureKind::Io("not-back-in-time".into()));
        }
    }
    finish(&ctx);
}
