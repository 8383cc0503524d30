//! Exit statuses, as k6 and SIPp users expect, and the error kinds that choose them.
//!
//! | Status | Meaning                                                                  |
//! |--------|--------------------------------------------------------------------------|
//! | 0      | success: every phase ran and kept its thresholds                         |
//! | 1      | a phase broke a threshold (`run`), a regression (`diff`), a mismatch (`audit`) |
//! | 2      | usage or configuration error: a bad flag or profile, an unreadable file given on the command line; nothing ran |
//! | 3      | runtime error: the run or the server failed after it started (e.g. the results file could not be written), or a generator task panicked |
//! | 130    | interrupted (Ctrl-C or SIGTERM); the results so far are written          |
//!
//! An error is a configuration error unless it carries a [`RuntimeError`] in its chain: the
//! code that runs after the work has started wraps its errors with [`runtime`].

use std::process::ExitCode;

/// Every phase ran and kept its thresholds.
pub const SUCCESS: u8 = 0;
/// A phase broke a threshold.
pub const THRESHOLD: u8 = 1;
/// A usage or configuration error; nothing ran.
pub const USAGE: u8 = 2;
/// A runtime error after the work started.
pub const RUNTIME: u8 = 3;
/// Interrupted.
pub const INTERRUPTED: u8 = 130;

/// The exit statuses, for `--help`.
pub const HELP: &str = "Exit status: 0 success; 1 a phase broke a threshold; 2 usage or configuration error \
(nothing ran); 3 runtime error (the run failed after it started, or a generator task panicked); 130 interrupted.";

/// An error after the work started (exit status 3).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct RuntimeError(pub anyhow::Error);

/// A usage or configuration error (exit status 2): the default for an error without a kind.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ConfigError(pub anyhow::Error);

/// Marks `e` as a runtime error.
pub fn runtime(e: impl Into<anyhow::Error>) -> anyhow::Error {
    RuntimeError(e.into()).into()
}

/// Marks `e` as a configuration error.
pub fn config(e: impl Into<anyhow::Error>) -> anyhow::Error {
    ConfigError(e.into()).into()
}

/// The exit status of an error: the outermost kind in its chain, configuration when none.
pub fn status(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if cause.is::<RuntimeError>() {
            return RUNTIME;
        }
        if cause.is::<ConfigError>() {
            return USAGE;
        }
    }
    USAGE
}

/// The exit code of an error, printing it first.
pub fn report(e: &anyhow::Error) -> ExitCode {
    eprintln!("error: {e:#}");
    ExitCode::from(status(e))
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    use super::*;

    #[test]
    fn the_outermost_kind_decides_and_messages_keep_their_chain() {
        let plain = anyhow::anyhow!("bad flag");
        assert_eq!(status(&plain), USAGE);
        let inner: Result<(), _> = Err(runtime(anyhow::anyhow!("disk full").context("writing r.json")));
        let e = inner.context("phase a").unwrap_err();
        assert_eq!(status(&e), RUNTIME);
        assert_eq!(format!("{e:#}"), "phase a: writing r.json: disk full");
        assert_eq!(status(&config(anyhow::anyhow!("x"))), USAGE);
        assert_eq!(status(&runtime(config(anyhow::anyhow!("x")))), RUNTIME);
    }
}
