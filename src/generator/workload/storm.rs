//! Workload `storm`: a reconnect storm. `connections` sessions are opened (and registered)
//! before the clock starts, all cut at once when the window opens, dropped without
//! close_notify as a failure would drop them, and all reconnect and register again at once,
//! retrying until the window closes. `session` latency is the time from the cut until a
//! session was back; the reconnects' handshakes go into the handshake histograms. The last
//! session back stops the phase.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::time::Instant;

use super::{Task, Workload};
use crate::failure::FailureKind;
use crate::generator::Ctx;
use crate::sip::Method;
use crate::tls::PeerKeyCache;

/// A reconnect storm.
pub(super) struct Storm {
    connections: usize,
    /// Sessions still to come back; the last one back ends the phase.
    left: AtomicU64,
}

impl Storm {
    /// A storm of `connections` sessions.
    pub(super) fn new(connections: usize) -> Storm {
        Storm {
            connections,
            left: AtomicU64::new(connections as u64),
        }
    }

    /// A session is back or gave up; the last one stops the phase.
    fn finish(&self, ctx: &Ctx) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            ctx.stop.set();
        }
    }
}

impl Workload for Storm {
    fn tasks(&self) -> usize {
        self.connections
    }

    fn opens_first(&self) -> bool {
        true
    }

    fn run(self: Arc<Self>, task: Task) -> BoxFuture<'static, ()> {
        Box::pin(async move { self.session(task).await })
    }
}

impl Storm {
    /// One session of the storm.
    async fn session(&self, task: Task) {
        let (ctx, rec) = (&task.ctx, &task.rec);
        let timeout = ctx.plan.sip_timeout;
        let mut keys = PeerKeyCache::default();
        let id = ctx.next_id();
        let first = match ctx.establish(task.worker, &mut keys).await {
            Ok((stream, _)) => {
                let mut client = ctx.client(stream, id);
                client.transaction(Method::Register, timeout).await.map(|_| client)
            }
            Err(kind) => Err(kind),
        };
        let client = match first {
            Ok(c) => c,
            Err(kind) => {
                rec.record().started().fail(kind);
                task.opening.failed();
                self.finish(ctx);
                return;
            }
        };
        task.opening.opened();
        let Some(clock) = task.start.clock().await else { return };
        tokio::time::sleep_until(clock.window_start).await;
        // The cut: every session drops its connection at the same instant.
        drop(client);
        let cut = clock.window_start;
        let mut failed_once = false;
        let recovered = loop {
            if clock.over(Instant::now()) || (ctx.stop.is_set() && self.left.load(Ordering::Acquire) > 0) {
                break false;
            }
            let (stream, est) = match ctx.establish(task.worker, &mut keys).await {
                Ok(x) => x,
                Err(kind) => {
                    rec.record().fail(kind);
                    failed_once = true;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let mut client = ctx.client(stream, id);
            let t = Instant::now();
            let r = client.transaction(Method::Register, timeout).await;
            let now = Instant::now();
            let ok = r.is_ok();
            {
                let took = now.saturating_duration_since(t);
                let mut record = rec.record();
                record.established(&est).txn(&Method::Register, took, took, &r);
                match r {
                    Ok(_) => {
                        let back = now.saturating_duration_since(cut);
                        record.session(back, None).completed_at(back);
                    }
                    Err(kind) => {
                        record.fail(kind);
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
            let mut record = rec.record();
            record.started();
            if recovered {
                record.ok();
            } else if !failed_once {
                record.fail(FailureKind::NotBackInTime);
            }
        }
        self.finish(ctx);
    }
}
