//! How an open-loop arrival waits for its intended time.
//!
//! tokio's timer has a 1 ms granularity and rounds a deadline up to its next tick, so a send
//! paced with `sleep_until` leaves 0 to 1 ms late (more when the worker is busy). In the
//! corrected latency, which runs from the intended time, that lateness reads as server latency.
//! [`Pacing::Precise`] sleeps until shortly before the deadline and yields in a loop for the
//! rest, so the send leaves within microseconds of it while other tasks of the worker keep
//! running; the price is the CPU of that last stretch (at most [`SPIN`] an arrival). Either
//! way the lateness of each send is measured (`generator.lag`), so what the generator added
//! is known.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// The stretch before a deadline that [`Pacing::Precise`] spends yielding instead of asleep:
/// a little over tokio's timer tick.
pub const SPIN: Duration = Duration::from_micros(1_200);

/// How open-loop arrivals wait for their intended time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Pacing {
    /// tokio's timer (1 ms ticks): sends leave up to about a millisecond late; no extra CPU.
    #[default]
    Timer,
    /// The timer until 1.2 ms before, then yield in a loop: sends leave within microseconds,
    /// for some CPU.
    Precise,
}

impl Pacing {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Pacing::Timer => "timer",
            Pacing::Precise => "precise",
        }
    }

    /// Waits until `at` (returns at once when it has passed).
    pub async fn until(self, at: Instant) {
        match self {
            Pacing::Timer => tokio::time::sleep_until(at).await,
            Pacing::Precise => {
                if let Some(early) = at.checked_sub(SPIN)
                    && Instant::now() < early
                {
                    tokio::time::sleep_until(early).await;
                }
                while Instant::now() < at {
                    tokio::task::yield_now().await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both never wake early; precise pacing wakes within a tick (a bound on its correctness
    /// with a wide margin for a loaded machine, not a speed figure: the figures are in
    /// results/README.md).
    #[tokio::test]
    async fn neither_wakes_early_and_precise_wakes_close() {
        for pacing in [Pacing::Timer, Pacing::Precise] {
            let mut late = Vec::new();
            for i in 0..20u64 {
                let at = Instant::now() + Duration::from_micros(1_500 + 137 * i);
                pacing.until(at).await;
                let now = Instant::now();
                assert!(now >= at, "{pacing:?} woke early");
                late.push(now - at);
            }
            late.sort();
            if pacing == Pacing::Precise {
                assert!(late[10] < Duration::from_millis(1), "{late:?}");
            }
        }
    }
}
