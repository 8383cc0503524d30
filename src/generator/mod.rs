//! The load generator: runs the phases of a [`Plan`](crate::plan::PhasePlan) on a pool of
//! per-core runtimes and measures them.
//!
//! Each pool thread is one worker. A worker owns its share of the sessions and one
//! [`PhaseStats`] (its own histograms), written through its
//! recorder; the shares are merged once a second for the timeline and when the phase ends.
//!
//! The phase runner ([`run_phase`]) never asks which workload runs: each workload (one type
//! each under `workload/`, behind one trait) says how many tasks it needs, whether their
//! sessions must be open before the clock starts, and whether memory is read around that.
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
pub mod config;
pub mod observe;
pub mod offset;
pub mod outcome;
pub mod pace;
mod runner;
pub mod session;
pub mod target;

mod clock;
mod recorder;
mod workload;

pub use config::{ProfileSource, RunConfig, TargetConfig};
pub(crate) use runner::{Bench, Engine, PhaseRun, fd_warning};
pub use runner::{RunReport, run};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::failure::FailureKind;
use crate::plan::PhasePlan;
use crate::pool::Pool;
use crate::stats::PhaseStats;
use crate::sys;
use crate::tls::PeerKeyCache;
use crate::uac::SipClient;
use clock::{Clock, Start};
pub use outcome::PhaseOutcome;
use recorder::Shards;
use session::{Endpoint, Established};
use workload::{Opening, Task};

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
    fn snapshot(&self, shards: &Shards) -> Option<(Instant, PhaseStats, PhaseStats)> {
        let now = Instant::now();
        if now <= self.at {
            return None;
        }
        let total = shards.merged();
        let delta = total.since(&self.prev);
        Some((now, total, delta))
    }

    /// Closes the interval: a timeline point, and the observer's interval.
    fn collect(
        &mut self,
        plan: &PhasePlan,
        shards: &Shards,
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
        shards: &Shards,
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

/// The measured-session budget (`sessions`): each session started in the window takes one;
/// the first that finds none left stops the phase.
#[derive(Debug)]
struct Budget(AtomicI64);

impl Budget {
    /// `sessions` sessions; unlimited when `None`.
    fn new(sessions: Option<u64>) -> Budget {
        Budget(AtomicI64::new(sessions.map(|s| s as i64).unwrap_or(i64::MAX)))
    }

    /// Takes one session; when none is left, sets `stop` and says no.
    fn take(&self, stop: &Stop) -> bool {
        if self.0.fetch_sub(1, Ordering::Relaxed) > 0 {
            true
        } else {
            stop.set();
            false
        }
    }
}

/// The session ids of a run: shard `i` of `n` numbers its sessions `i`, `i + n`, ... (a whole
/// run, `0`, `1`, ...), so Call-IDs and user names never meet across shards.
#[derive(Debug, Default)]
pub struct SessionIds {
    /// Sessions numbered so far.
    next: AtomicU64,
    /// Whose ids.
    shard: crate::shard::Shard,
}

impl SessionIds {
    /// The ids of `shard`, from its first.
    pub fn new(shard: crate::shard::Shard) -> SessionIds {
        SessionIds {
            next: AtomicU64::new(0),
            shard,
        }
    }

    /// The id of the clock probe's session: one of the shard's, far past any a run reaches
    /// (so the phases' sessions keep their numbers, and with them their users).
    pub fn probe(&self) -> u64 {
        self.shard.session_id(1 << 40)
    }
}

/// Shared, read-only context of one phase.
struct Ctx {
    plan: PhasePlan,
    endpoint: Endpoint,
    /// Ends the phase: the window closed, the budget is spent, an interrupt, or a workload's
    /// own end (the last storm session back).
    stop: Stop,
    budget: Budget,
    /// Session ids, unique within the run (and across its shards).
    ids: Arc<SessionIds>,
    /// Extra headers, call hold time and the concurrent-calls gauge every client gets.
    calls: crate::uac::CallSettings,
}

impl Ctx {
    /// A fresh session id.
    fn next_id(&self) -> u64 {
        self.ids.shard.session_id(self.ids.next.fetch_add(1, Ordering::Relaxed))
    }

    /// Connects (and handshakes) to the endpoint of `worker` with the phase's timeouts.
    async fn establish(
        &self,
        worker: usize,
        keys: &mut PeerKeyCache,
    ) -> Result<(session::Stream, Established), FailureKind> {
        self.establish_as(worker, false, keys).await
    }

    /// As [`Ctx::establish`], presenting the phase's bad certificate when `bad`. Every
    /// connection of every workload is opened here.
    async fn establish_as(
        &self,
        worker: usize,
        bad: bool,
        keys: &mut PeerKeyCache,
    ) -> Result<(session::Stream, Established), FailureKind> {
        let limits = crate::tls::Limits {
            connect: self.plan.connect_timeout,
            handshake: self.plan.handshake_timeout,
            local: None,
        };
        session::establish(&self.endpoint, worker, bad, limits, keys).await
    }

    /// The SIP client of session `id` on an established stream.
    fn client(&self, stream: session::Stream, id: u64) -> SipClient {
        let user = self
            .endpoint
            .users
            .as_ref()
            .map(|u| u.pick(self.ids.shard.seq_of(id), self.endpoint.user_order));
        let mut client = SipClient::with_user(stream, self.endpoint.domain.clone(), id, user);
        client.set_calls(self.calls.clone());
        client
    }
}

/// Runs one phase against `endpoint` on `pool`. `interrupt` cuts it short (results so far are kept).
pub async fn run_phase(
    plan: &PhasePlan,
    endpoint: Endpoint,
    pool: &Pool,
    interrupt: &Stop,
    ids: Arc<SessionIds>,
    on_interval: &mut (dyn FnMut(&Interval<'_>) + Send),
) -> PhaseOutcome {
    let ctx = Arc::new(Ctx {
        plan: plan.clone(),
        endpoint,
        stop: Stop::new(),
        budget: Budget::new(plan.sessions),
        ids,
        calls: crate::uac::CallSettings {
            headers: plan.headers.clone().into(),
            hold: plan.call_hold,
            gauge: plan
                .transactions
                .contains(&crate::plan::Txn::Invite)
                .then(Default::default),
        },
    });
    let workers = pool.len();
    let shards = Shards::new(workers);
    let workload = workload::for_plan(plan, workers);
    let rss_before = if workload.measures_memory() {
        sys::release_free_memory();
        sys::rss_bytes()
    } else {
        None
    };
    let (clock_tx, start) = Start::new();
    let opening = Arc::new(Opening::default());
    let n = workload.tasks();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let task = Task {
                index: i,
                worker: i % workers,
                ctx: ctx.clone(),
                rec: shards.recorder(i % workers),
                start: start.clone(),
                opening: opening.clone(),
            };
            pool.spawn_on(i, workload.clone().run(task))
        })
        .collect();
    let (mut held, mut rss_held) = (0, None);
    if workload.opens_first() {
        // The workload's sessions open before the phase clock starts: it starts once every one
        // has reported, opened or failed.
        tokio::select! {
            _ = opening.all(n) => {}
            _ = interrupt.wait() => ctx.stop.set(),
        }
        held = opening.count();
        if workload.measures_memory() {
            rss_held = sys::rss_bytes();
        }
    }

    let clock = Clock::new(Instant::now(), plan.warmup, plan.duration);
    let window_start = clock.window_start;
    // The same instant on the wall clock, which `merge` aligns shards' timelines by.
    let window_start_unix_s = (std::time::SystemTime::now() + plan.warmup)
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0);
    let _ = clock_tx.send(Some(clock));

    // Warm-up, then the measured window; CPU is read at the window's edges.
    let cpu0 = tokio::select! {
        _ = tokio::time::sleep_until(window_start) => sys::cpu_times(),
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
                Some(end) => tokio::time::sleep_until(end).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(end);
        // Four ticks a second: every fourth closes a one-second interval (timeline, logs); the
        // others only refresh the progress line with the second so far.
        let quarter = Duration::from_millis(250);
        let mut tick = tokio::time::interval_at(window_start + quarter, quarter);
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
    let panicked = join(tasks).await;
    let cpu1 = sys::cpu_times();
    // The last, partial interval (including sessions that finished after the window closed).
    collector.collect(plan, &shards, window_start, on_interval);

    let mut stats = shards.merged();
    if panicked > 0 {
        *stats.failures.entry(crate::failure::FailureKind::Panic).or_default() += panicked;
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
        panicked,
        concurrent_calls: ctx.calls.gauge.as_ref().map(|g| g.max()),
        window_start_unix_s,
    }
}

/// Waits for every task; returns how many panicked (each is counted as a `panic` failure, the
/// phase's other tasks run on).
async fn join<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> u64 {
    let mut panicked = 0;
    for t in tasks {
        if let Err(e) = t.await
            && e.is_panic()
        {
            panicked += 1;
        }
    }
    panicked
}

#[cfg(test)]
mod join_tests {
    #[tokio::test]
    async fn a_panicked_task_is_counted() {
        let tasks = vec![
            tokio::spawn(async {}),
            tokio::spawn(async { panic!("a bug") }),
            tokio::spawn(async {}),
        ];
        assert_eq!(super::join(tasks).await, 1);
    }
}
