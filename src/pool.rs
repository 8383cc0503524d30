//! A pool of single-threaded tokio runtimes, one OS thread each.
//!
//! sipbench runs one current-thread runtime per core rather than one work-stealing runtime:
//! each thread owns its share of generator sessions and server connections, with no
//! cross-thread wake-ups on the hot path. On this class of machine that layout measured
//! faster than a multi-threaded runtime and much faster than a server runtime beside a client
//! runtime. The embedded server and the generator share one pool.

use std::future::Future;
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// A fixed set of current-thread runtimes.
#[derive(Debug)]
pub struct Pool {
    handles: Vec<Handle>,
    stops: Vec<oneshot::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts `threads` runtime threads (at least one), named `{name}-{i}`.
    pub fn new(threads: usize, name: &str) -> Result<Pool> {
        let n = threads.max(1);
        let mut pool = Pool {
            handles: Vec::with_capacity(n),
            stops: Vec::with_capacity(n),
            threads: Vec::with_capacity(n),
        };
        for i in 0..n {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("building a tokio runtime")?;
            let (stop_tx, stop_rx) = oneshot::channel::<()>();
            pool.handles.push(rt.handle().clone());
            pool.stops.push(stop_tx);
            let thread = std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    // Drives every task spawned onto this runtime until the pool is dropped.
                    rt.block_on(async {
                        let _ = stop_rx.await;
                    });
                    rt.shutdown_timeout(std::time::Duration::from_millis(100));
                })
                .context("spawning a runtime thread")?;
            pool.threads.push(thread);
        }
        Ok(pool)
    }

    /// Number of runtime threads.
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// Always false: a pool has at least one thread.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    /// The runtime handles, one per thread.
    pub fn handles(&self) -> &[Handle] {
        &self.handles
    }

    /// Spawns `fut` on thread `i % len`.
    pub fn spawn_on<F>(&self, i: usize, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handles[i % self.handles.len()].spawn(fut)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The number of cores this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
