//! Time as the engine reads it: the phase clock, its hand-out to the tasks, and open-loop
//! arrival times.
//!
//! The engine reads time through [`tokio::time::Instant`]. In a run that is the monotonic
//! clock of [`std::time::Instant`], read the same way (tokio's `now` is std's unless a test
//! paused the clock); under a test runtime started paused it is virtual, so the workloads'
//! schedules, windows and corrections are tested with a fake clock, to the microsecond.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::shape::RateCurve;

/// The phase clock, fixed when the measured part begins: warm-up from `start`, then the
/// measured window from `window_start` to `window_end` (open-ended when the phase runs until
/// its session budget is spent).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    /// Start of the warm-up.
    pub(crate) start: Instant,
    /// Start of the measured window.
    pub(crate) window_start: Instant,
    /// End of the measured window (`None`: until the budget is spent).
    pub(crate) window_end: Option<Instant>,
}

impl Clock {
    /// The clock of a phase starting at `start` with `warmup` before a window of `duration`.
    pub(crate) fn new(start: Instant, warmup: Duration, duration: Option<Duration>) -> Clock {
        let window_start = start + warmup;
        Clock {
            start,
            window_start,
            window_end: duration.map(|d| window_start + d),
        }
    }

    /// Whether work started at `t` is counted: `t` is inside the window.
    pub(crate) fn measured(&self, t: Instant) -> bool {
        t >= self.window_start && self.window_end.is_none_or(|end| t < end)
    }

    /// Whether the window has closed at `t`: nothing starting then is begun.
    pub(crate) fn over(&self, t: Instant) -> bool {
        self.window_end.is_some_and(|end| t >= end)
    }

    /// `t` as an offset into the window (counted completions are noted this way).
    pub(crate) fn offset(&self, t: Instant) -> Duration {
        t.saturating_duration_since(self.window_start)
    }
}

/// Where the tasks wait for the phase clock: it starts once the sessions that must be open
/// first all are.
#[derive(Debug, Clone)]
pub(crate) struct Start(watch::Receiver<Option<Clock>>);

impl Start {
    /// A start and the sender that starts it.
    pub(crate) fn new() -> (watch::Sender<Option<Clock>>, Start) {
        let (tx, rx) = watch::channel(None);
        (tx, Start(rx))
    }

    /// The phase clock once started; `None` when the phase ended before it did.
    pub(crate) async fn clock(mut self) -> Option<Clock> {
        self.0.wait_for(|c| c.is_some()).await.ok().and_then(|c| *c)
    }
}

/// Open-loop arrival times: at a constant rate the k-th is intended at `first + k * interval`;
/// along a [`RateCurve`] (a ramp, steps) where the curve's integral reaches it. Either way the
/// time is fixed whatever became of the arrivals before. Latency is measured from these
/// intended times, so a stall shows in the figures instead of thinning the arrivals
/// (coordinated omission).
#[derive(Debug, Clone)]
pub(crate) struct Arrivals {
    first: Instant,
    spacing: Spacing,
    k: u32,
    /// How each arrival waits for its time.
    pacing: crate::generator::pace::Pacing,
}

#[derive(Debug, Clone)]
enum Spacing {
    /// Every `interval`.
    Even(Duration),
    /// This task's share of the curve's arrivals: its k-th is the curve's `(k + phase) * tasks`-th.
    Curve {
        curve: Arc<RateCurve>,
        tasks: f64,
        phase: f64,
    },
}

impl Arrivals {
    /// Arrivals every `interval`, the first at `first`.
    pub(crate) fn new(first: Instant, interval: Duration) -> Arrivals {
        Arrivals {
            first,
            spacing: Spacing::Even(interval),
            k: 0,
            pacing: Default::default(),
        }
    }

    /// One of `tasks` tasks' share of the arrivals of `curve` (whose time 0 is `origin`),
    /// interleaved: this task's k-th arrival is the curve's `(k + phase) * tasks`-th, `phase`
    /// in [0, 1).
    pub(crate) fn along(origin: Instant, curve: Arc<RateCurve>, tasks: usize, phase: f64) -> Arrivals {
        Arrivals {
            first: origin,
            spacing: Spacing::Curve {
                curve,
                tasks: tasks as f64,
                phase,
            },
            k: 0,
            pacing: Default::default(),
        }
    }

    /// The same arrivals, waited for with `pacing`.
    pub(crate) fn paced(mut self, pacing: crate::generator::pace::Pacing) -> Arrivals {
        self.pacing = pacing;
        self
    }

    /// Waits until `at` (an arrival's intended time) as the pacing says.
    pub(crate) async fn wait_until(&self, at: Instant) {
        self.pacing.until(at).await;
    }

    /// The intended time of the next arrival.
    pub(crate) fn next(&mut self) -> Instant {
        let at = match &self.spacing {
            Spacing::Even(interval) => self.first + *interval * self.k,
            Spacing::Curve { curve, tasks, phase } => {
                let t = curve.time_of((f64::from(self.k) + phase) * tasks);
                // Past the longest run a far-off time is as good as never.
                self.first + Duration::try_from_secs_f64(t).unwrap_or(Duration::from_secs(u32::MAX.into()))
            }
        };
        self.k = self.k.saturating_add(1);
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_window_counts_what_starts_inside_it() {
        let t0 = Instant::now();
        let c = Clock::new(t0, ms(500), Some(ms(1000)));
        assert_eq!(c.window_start, t0 + ms(500));
        // Warm-up: not counted, not over.
        assert!(!c.measured(t0) && !c.over(t0));
        assert!(!c.measured(t0 + ms(499)));
        // The window is [start, end).
        assert!(c.measured(t0 + ms(500)));
        assert!(c.measured(t0 + ms(1499)));
        assert!(!c.measured(t0 + ms(1500)) && c.over(t0 + ms(1500)));
        assert_eq!(c.offset(t0 + ms(1700)), ms(1200));
        assert_eq!(c.offset(t0), Duration::ZERO);
        // Without a duration the window never closes (the budget ends the phase).
        let open = Clock::new(t0, Duration::ZERO, None);
        assert!(open.measured(t0 + Duration::from_secs(86_400)));
        assert!(!open.over(t0 + Duration::from_secs(86_400)));
    }

    #[test]
    fn arrivals_are_at_fixed_intervals_from_the_first() {
        let t0 = Instant::now();
        let mut a = Arrivals::new(t0 + ms(5), ms(10));
        let got: Vec<Duration> = (0..4).map(|_| a.next() - t0).collect();
        assert_eq!(got, [ms(5), ms(15), ms(25), ms(35)]);
    }

    #[test]
    fn tasks_share_a_curve_interleaved() {
        use crate::shape::Piece;
        let t0 = Instant::now();
        // 10/s for 1 s, then rising to 30/s over 1 s: arrivals at 0, 0.1, ..., 0.9, then closer.
        let curve = Arc::new(RateCurve::new(&[
            Piece {
                length: 1.0,
                from: 10.0,
                to: 10.0,
            },
            Piece {
                length: 1.0,
                from: 10.0,
                to: 30.0,
            },
        ]));
        let mut all: Vec<Duration> = (0..2)
            .flat_map(|w| {
                let mut a = Arrivals::along(t0, curve.clone(), 2, w as f64 / 2.0);
                (0..15).map(move |_| a.next() - t0).collect::<Vec<_>>()
            })
            .collect();
        all.sort();
        let one = |k: f64| Duration::from_secs_f64(curve.time_of(k));
        let expected: Vec<Duration> = (0..30).map(|k| one(k as f64)).collect();
        assert_eq!(all, expected);
        assert_eq!(all[5], ms(500));
        // 10 arrivals in the first second, 20 in the ramp's (10 + 10·t²), closer and closer.
        assert_eq!(all[10], Duration::from_secs(1));
        assert!(all[29] < Duration::from_secs(2));
        assert!(all[29] - all[28] < all[11] - all[10]);
    }

    #[tokio::test(start_paused = true)]
    async fn tasks_get_the_clock_once_it_starts() {
        let (tx, start) = Start::new();
        let waiter = tokio::spawn(start.clone().clock());
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        let c = Clock::new(Instant::now(), ms(1), None);
        tx.send(Some(c)).unwrap();
        assert_eq!(waiter.await.unwrap().unwrap().window_start, c.window_start);
        // A phase that ends before its clock starts lets its tasks go.
        let (tx, start) = Start::new();
        drop(tx);
        assert!(start.clock().await.is_none());
    }
}
