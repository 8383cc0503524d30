//! Ctrl-C and SIGTERM.

/// Waits for Ctrl-C (SIGINT) or SIGTERM, then calls `f`.
pub async fn on_interrupt(f: impl FnOnce()) {
    wait().await;
    f();
}

/// Resolves on the first Ctrl-C (SIGINT) or SIGTERM.
pub async fn wait() {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
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
