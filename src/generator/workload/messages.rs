//! Workload `messages`: `connections` sessions are opened before the clock starts and kept;
//! each sends SIP MESSAGE requests with `body_size`-byte bodies, up to `window` outstanding,
//! until the window closes: measures message rate and volume.

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::time::Instant;

use super::{Held, Task, Workload};
use crate::failure::FailureKind;
use crate::sip::Method;

/// Pipelined MESSAGE sessions.
pub(super) struct Messages {
    pub(super) connections: usize,
}

impl Workload for Messages {
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
            let (plan, stop, rec) = (&task.ctx.plan, &task.ctx.stop, &task.rec);
            let body: Arc<[u8]> = crate::bulk::pattern(plan.body_size, held.id)
                .iter()
                .map(|b| b'a' + b % 26)
                .collect();
            held.client.set_message_body(body);
            let mut more = || !stop.is_set() && !clock.over(Instant::now());
            let mut record = |sent: std::time::Instant, r: Result<u16, FailureKind>| {
                let sent = Instant::from_std(sent);
                if clock.measured(sent) {
                    let now = Instant::now();
                    let took = now.saturating_duration_since(sent);
                    let mut rec = rec.record();
                    rec.txn(&Method::Message, took, took, &r);
                    if let Err(kind) = r {
                        rec.fail(kind);
                    }
                    rec.completed_at(clock.offset(now));
                }
            };
            let r = held
                .client
                .pipeline(plan.window, plan.sip_timeout, &mut more, &mut record)
                .await;
            {
                let mut rec = rec.record();
                rec.bytes(held.client.bytes_out, held.client.bytes_in)
                    .challenges(held.client.challenges)
                    .retransmissions(held.client.retransmissions);
                match r {
                    Ok(()) => rec.ok(),
                    Err(kind) => rec.fail(kind),
                };
            }
            held.client.close().await;
        })
    }
}
