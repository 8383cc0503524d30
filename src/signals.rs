//! Ctrl-C and SIGTERM.

use std::future::Future;

/// Installs the Ctrl-C (SIGINT) and SIGTERM handlers now, then returns a future that calls `f`
/// on the first of them. Must be called inside a tokio runtime.
pub fn on_interrupt(f: impl FnOnce()) -> impl Future<Output = ()> {
    let signal = wait();
    async move {
        signal.await;
        f();
    }
}

/// Installs the Ctrl-C (SIGINT) and SIGTERM handlers now (a signal that arrives after this call
/// returns is caught, even before the future is first polled) and returns a future that resolves
/// on the first of them. Must be called inside a tokio runtime.
pub fn wait() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()));
    async move {
        match handlers {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}
