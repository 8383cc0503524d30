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
    /// Open loop: transactions per second on each session.
    pub(super) rate: Option<f64>,
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
            let arrivals = self.rate.map(|rate| {
                let interval = Duration::from_secs_f64(1.0 / rate);
                let phase = (task.index as f64 + 0.5) / self.connections as f64;
                Arrivals::new(clock.start + interval.mul_f64(phase), interval)
            });
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
                r.bytes(held.client.bytes_out, held.client.bytes_in);
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
                        _ = tokio::time::sleep_until(at) => {}
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
                if let Err(kind) = &r {
                    record.fail(kind.clone());
                }
                record.completed_at(clock.offset(done));
            }
            match r {
                // A SIP error status leaves the connection usable: counted, and the loop goes on.
                Ok(()) | Err(FailureKind::SipStatus(_)) => {}
                Err(_) => return true,
            }
        }
    }
    false
}
