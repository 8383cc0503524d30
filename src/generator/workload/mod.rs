//! The workloads: what each task of a phase does, one type each behind one trait.
//!
//! The phase runner never asks which workload runs: it asks the [`Workload`] how many tasks
//! to spawn, whether they open their sessions before the phase clock starts, and whether to
//! read memory around that; then each task runs on its worker with a [`Task`] (the phase's
//! context, the worker's [`Recorder`], the clock once it starts). [`for_plan`] is the one
//! place that maps a plan's workload to its implementation.
//!
//! - [`sessions`]: whole sessions, closed loop and open loop, with the bad-certificate share;
//! - [`kept`]: kept sessions running transactions; [`hold`]: held idle, checked at the end;
//! - [`messages`]: pipelined SIP MESSAGEs; [`records`]: bulk TLS records;
//! - [`storm`]: every session cut at once, all reconnecting.
//!
//! The timing logic of each (loops, arrivals, budget, window) takes its connection through a
//! narrow seam ([`sessions::Session`], [`Transact`]), so that tests drive it with a fake
//! connection on a paused clock.

mod hold;
mod kept;
mod messages;
mod records;
mod sessions;
mod storm;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::Semaphore;

use super::Ctx;
use super::clock::Start;
use super::recorder::{Record, Recorder, Step};
use super::session::Established;
use crate::failure::FailureKind;
use crate::plan::{self, Load, PhasePlan, Txn};
use crate::tls::PeerKeyCache;
use crate::uac::SipClient;

/// What the tasks of one workload do; one implementation per workload.
pub(crate) trait Workload: Send + Sync {
    /// How many tasks the phase runs; task `i` runs on worker `i % workers`.
    fn tasks(&self) -> usize;

    /// Whether every task opens its session before the phase clock starts and reports to
    /// [`Task::opening`]: the runner starts the clock once all have.
    fn opens_first(&self) -> bool {
        false
    }

    /// Whether the runner reads resident memory before the sessions open and once they all
    /// are (workload `hold`).
    fn measures_memory(&self) -> bool {
        false
    }

    /// Runs one task until the phase stops.
    fn run(self: Arc<Self>, task: Task) -> BoxFuture<'static, ()>;
}

/// The workload of `plan`, for a pool of `workers`.
pub(crate) fn for_plan(plan: &PhasePlan, workers: usize) -> Arc<dyn Workload> {
    let n = plan.connections;
    match (plan.workload, plan.load) {
        (plan::Workload::Sessions, Load::Closed { concurrency }) => Arc::new(sessions::Closed {
            concurrency,
            watch: Default::default(),
        }),
        (plan::Workload::Sessions, Load::Open { rate }) => Arc::new(sessions::Open {
            rate: rate / workers as f64,
            curve: curve(plan),
            workers,
            cap: (plan.max_in_flight / workers).max(1),
        }),
        (plan::Workload::Kept, load) => Arc::new(kept::Kept {
            connections: n,
            rate: match load {
                Load::Open { rate } => Some(rate / n as f64),
                Load::Closed { .. } => None,
            },
            curve: curve(plan),
        }),
        (plan::Workload::Hold, _) => Arc::new(hold::Hold { connections: n }),
        (plan::Workload::Messages, _) => Arc::new(messages::Messages { connections: n }),
        (plan::Workload::Records, _) => Arc::new(records::Records::new(n)),
        (plan::Workload::Storm, _) => Arc::new(storm::Storm::new(n)),
    }
}

/// A ramp's or steps' arrival curve (time 0 is the start of the warm-up); `None` for a
/// constant rate.
fn curve(plan: &PhasePlan) -> Option<Arc<crate::shape::RateCurve>> {
    plan.shape.as_ref().map(|s| Arc::new(s.curve(plan.warmup)))
}

/// What one task gets from the runner.
pub(crate) struct Task {
    /// Which of the workload's tasks.
    pub(crate) index: usize,
    /// The worker it runs on.
    pub(crate) worker: usize,
    /// The phase.
    pub(crate) ctx: Arc<Ctx>,
    /// The worker's recorder.
    pub(crate) rec: Recorder,
    /// The phase clock, once it starts.
    pub(crate) start: Start,
    /// Where sessions opened before the clock report (workloads that open first).
    pub(crate) opening: Arc<Opening>,
}

/// Sessions that must be open before the phase clock starts report here, once each, opened or
/// not.
#[derive(Debug)]
pub(crate) struct Opening {
    reported: Semaphore,
    opened: AtomicU64,
}

impl Default for Opening {
    fn default() -> Self {
        Opening {
            reported: Semaphore::new(0),
            opened: AtomicU64::new(0),
        }
    }
}

impl Opening {
    /// A session is open.
    pub(crate) fn opened(&self) {
        self.opened.fetch_add(1, Ordering::Relaxed);
        self.reported.add_permits(1);
    }

    /// A session failed to open.
    pub(crate) fn failed(&self) {
        self.reported.add_permits(1);
    }

    /// Resolves once `n` sessions have reported.
    pub(crate) async fn all(&self, n: usize) {
        if let Ok(p) = self.reported.acquire_many(n as u32).await {
            p.forget();
        }
    }

    /// Sessions open.
    pub(crate) fn count(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }
}

/// One SIP transaction on a connection, its steps pushed to `steps`: the seam where the timing
/// logic meets the SIP client, and where tests put a fake connection.
pub(crate) trait Transact: Send {
    /// Runs `txn` (a call is two steps, INVITE and BYE); a step that fails ends it.
    fn transact(
        &mut self,
        txn: Txn,
        timeout: Duration,
        steps: &mut Vec<Step>,
    ) -> impl Future<Output = Result<(), FailureKind>> + Send;
}

impl Transact for SipClient {
    async fn transact(&mut self, txn: Txn, timeout: Duration, steps: &mut Vec<Step>) -> Result<(), FailureKind> {
        self.run(txn, timeout, &mut |m, d, r| steps.push((m, d, r))).await
    }
}

/// A session opened before the phase clock starts (workloads `kept`, `hold`, `messages`).
struct Held {
    client: SipClient,
    est: Established,
    keys: PeerKeyCache,
    id: u64,
}

impl Held {
    /// Opens the task's session and records it: started, and its set-up or its failure (which
    /// is also reported to the opening).
    async fn open(task: &Task) -> Option<Held> {
        let id = task.ctx.next_id();
        let mut keys = PeerKeyCache::default();
        match task.ctx.establish(task.worker, &mut keys).await {
            Ok((stream, est)) => {
                task.rec.record().started().established(&est);
                // The cache holds a copy of the peer's certificate; only a 0-RTT session reads
                // it again (for what its handshake negotiated), so a held session drops it.
                if !est.early {
                    keys = PeerKeyCache::default();
                }
                Some(Held {
                    client: task.ctx.client(stream, id),
                    est,
                    keys,
                    id,
                })
            }
            Err(kind) => {
                task.rec.record().started().fail(kind);
                task.opening.failed();
                None
            }
        }
    }

    /// 0-RTT: what the handshake negotiated, now that the first request has gone.
    fn finish_early(&mut self, r: &mut Record<'_>) {
        if self.est.early
            && let Some(n) = self.client.finish_early(&mut self.keys)
        {
            r.negotiated(&n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_opening_resolves_once_every_session_reported() {
        let opening = Arc::new(Opening::default());
        let waiter = tokio::spawn({
            let opening = opening.clone();
            async move { opening.all(3).await }
        });
        opening.opened();
        opening.failed();
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        opening.opened();
        waiter.await.unwrap();
        assert_eq!(opening.count(), 2);
    }
}
