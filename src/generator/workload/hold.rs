//! Workload `hold`: `connections` sessions are opened before the clock starts (one REGISTER
//! each, as a real client would) and held idle for the phase, then each is checked with an
//! OPTIONS: measures how many sessions can be held, and with the runner's memory readings
//! what each costs.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::time::Instant;

use super::{Held, Task, Transact, Workload};
use crate::plan::Txn;
use crate::sip::Method;

/// Held sessions.
pub(super) struct Hold {
    pub(super) connections: usize,
}

impl Workload for Hold {
    fn tasks(&self) -> usize {
        self.connections
    }

    fn opens_first(&self) -> bool {
        true
    }

    fn measures_memory(&self) -> bool {
        true
    }

    fn run(self: Arc<Self>, task: Task) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let Some(mut held) = Held::open(&task).await else {
                return;
            };
            let timeout = task.ctx.plan.sip_timeout;
            // A held session registers once, as a real client would.
            let mut steps = Vec::new();
            let registered = held.client.transact(Txn::Register, timeout, &mut steps).await;
            {
                let mut r = task.rec.record();
                r.steps(&steps, Duration::ZERO);
                if let Err(kind) = registered {
                    r.fail(kind);
                    drop(r);
                    task.opening.failed();
                    return;
                }
            }
            task.opening.opened();
            let Some(clock) = task.start.clock().await else { return };
            // Held until the phase ends, then checked.
            task.ctx.stop.wait().await;
            let t = Instant::now();
            let r = held.client.transaction(Method::Options, timeout).await;
            let took = t.elapsed();
            {
                let mut rec = task.rec.record();
                rec.txn(&Method::Options, took, took, &r);
                match r {
                    Ok(_) => rec.ok(),
                    Err(kind) => rec.fail(kind),
                };
                rec.completed_at(clock.offset(Instant::now()));
                rec.retransmissions(held.client.retransmissions);
                held.finish_early(&mut rec);
            }
            held.client.close().await;
        })
    }
}
