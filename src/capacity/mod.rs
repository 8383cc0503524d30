//! `sipbench capacity`: the highest open-loop rate at which the thresholds (p99, failure rate)
//! still hold, found by a search over short steps, each its own phase with its own histograms.
//!
//! The search ([`Search`]) is pure: it proposes a rate, is told the step's [`Verdict`], and
//! proposes the next, so tests drive it with a fake step function. It starts at the minimum
//! rate, probes upward by doubling until a step fails (or the maximum passes), then bisects
//! between the highest passing and the lowest failing rate until they are within the
//! precision. Then the failure that bounds the knee and the knee itself are each run once
//! more: a rate's verdict is the majority of its runs (the latest breaking a tie), so a
//! failure that does not recur (a stall of the machine) moves the search up again, and a knee
//! that passed once by luck moves it down. The search always ends within its step budget.
//!
//! A step is judged by [`judge`]: it passes when it keeps every threshold. One that breaks a
//! threshold while sending well below the rate asked, although the server answered what was
//! sent in time (the p99 from the actual send keeps the limit), was limited by the generator,
//! not the server: it is a [`Verdict::GeneratorLimited`], bounds the search like a failure and
//! is reported apart, never as a server failure.
//!
//! [`command`] owns the options and runs the steps; [`plot`] draws p99 against the offered
//! rate for the terminal.

pub mod command;

use serde::{Deserialize, Serialize};

use crate::plan::Workload;
use crate::results::PhaseResult;
use crate::threshold::{Metric, Threshold};

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every threshold held.
    Pass,
    /// A threshold broke: the target could not serve the rate.
    Fail,
    /// A threshold broke because the generator could not send at the rate: it sent well below
    /// it, and what it sent was answered in time. Bounds the search like a failure.
    GeneratorLimited,
}

impl Verdict {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::GeneratorLimited => "generator-limited",
        }
    }
}

/// Why a step was run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// The minimum rate, first.
    Minimum,
    /// Probing upward (doubling), or the maximum rate.
    Probe,
    /// Bisecting between the highest pass and the lowest failure.
    Bisect,
    /// The knee again, to confirm it.
    Confirm,
    /// The lowest failing rate (or the minimum) again: one stall can break a step.
    Recheck,
}

/// The search's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SearchConfig {
    /// First rate tried; when it fails there is no capacity.
    pub min_rate: f64,
    /// Highest rate tried.
    pub max_rate: f64,
    /// Stop when the highest pass and the lowest failure are closer than this fraction of the
    /// pass (0.05: 5 %).
    pub precision: f64,
    /// Most steps, confirmation included.
    pub max_steps: usize,
    /// Probe upward by doubling from the minimum (else try the maximum second and bisect).
    pub probe: bool,
}

/// Why the search ended where it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bound {
    /// The knee is within the precision of a rate that broke a threshold.
    Thresholds,
    /// The knee is within the precision of a rate the generator could not send: the target's
    /// capacity may be higher.
    Generator,
    /// The maximum rate kept the thresholds: the capacity is at least that.
    MaxRate,
    /// The step budget ran out before the precision was reached.
    Steps,
    /// Even the minimum rate broke a threshold (or the generator could not send it).
    None,
}

/// The search: propose with [`Search::next`], report with [`Search::record`].
///
/// Its state is the steps run; the bounds are derived from them. A rate's verdict is the
/// majority of its runs, the latest breaking a tie. The knee (`lo`) is the highest rate that
/// passed below the lowest rate that did not (`hi`), so a failure under the knee (noise) moves
/// the knee down, and a recheck that passes where a step failed moves the bound up.
#[derive(Debug, Clone)]
pub struct Search {
    config: SearchConfig,
    /// Every step so far: rate and verdict.
    history: Vec<(f64, Verdict)>,
}

impl Search {
    /// A search with `config` (rates and precision are taken as given: the command line
    /// checks them).
    pub fn new(config: SearchConfig) -> Search {
        Search {
            config,
            history: Vec::new(),
        }
    }

    /// The steps run so far.
    pub fn history(&self) -> &[(f64, Verdict)] {
        &self.history
    }

    /// How often `rate` ran, and its verdict: the majority of its runs, the latest breaking a
    /// tie.
    fn verdict(&self, rate: f64) -> (usize, Verdict) {
        let runs: Vec<Verdict> = self
            .history
            .iter()
            .filter(|(r, _)| *r == rate)
            .map(|(_, v)| *v)
            .collect();
        let passes = runs.iter().filter(|v| **v == Verdict::Pass).count();
        let last = *runs.last().unwrap_or(&Verdict::Fail);
        let verdict = if passes * 2 > runs.len() {
            Verdict::Pass
        } else if passes * 2 < runs.len() {
            // The latest way it did not pass.
            *runs.iter().rev().find(|v| **v != Verdict::Pass).unwrap_or(&last)
        } else {
            last
        };
        (runs.len(), verdict)
    }

    /// The knee and the bound: the lowest rate that did not pass (`hi`, with how), and the
    /// highest rate below it that did (`lo`).
    fn bounds(&self) -> (Option<f64>, Option<(f64, Verdict)>) {
        let mut rates: Vec<f64> = self.history.iter().map(|(r, _)| *r).collect();
        rates.sort_by(f64::total_cmp);
        rates.dedup();
        let hi = rates
            .iter()
            .map(|&r| (r, self.verdict(r).1))
            .find(|(_, v)| *v != Verdict::Pass);
        let lo = rates
            .iter()
            .rev()
            .copied()
            .filter(|&r| hi.is_none_or(|(h, _)| r < h))
            .find(|&r| self.verdict(r).1 == Verdict::Pass);
        (lo, hi)
    }

    fn converged(&self, lo: f64, hi: Option<(f64, Verdict)>) -> bool {
        match hi {
            Some((hi, _)) => hi - lo <= self.config.precision * lo,
            None => lo >= self.config.max_rate,
        }
    }

    /// The next rate to run and why, or `None` when the search is over.
    pub fn next(&self) -> Option<(f64, Purpose)> {
        if self.history.len() >= self.config.max_steps {
            return None;
        }
        let c = &self.config;
        let (lo, hi) = self.bounds();
        let runs = |r: f64| self.verdict(r).0;
        match (lo, hi) {
            (None, None) => Some((c.min_rate, Purpose::Minimum)),
            // The minimum did not pass: once more, then there is no capacity.
            (None, Some((h, _))) => (runs(h) < 2).then_some((h, Purpose::Recheck)),
            (Some(lo), hi) if self.converged(lo, hi) => match hi {
                // The failure that bounds the knee, once more: a stall can break one step.
                Some((h, _)) if runs(h) < 2 => Some((h, Purpose::Recheck)),
                _ => (runs(lo) < 2).then_some((lo, Purpose::Confirm)),
            },
            (Some(lo), None) if c.probe => Some(((lo * 2.0).min(c.max_rate), Purpose::Probe)),
            (Some(_), None) => Some((c.max_rate, Purpose::Probe)),
            (Some(lo), Some((hi, _))) => Some((midpoint(lo, hi), Purpose::Bisect)),
        }
    }

    /// Records the verdict of the step run at `rate`.
    pub fn record(&mut self, rate: f64, verdict: Verdict) {
        self.history.push((rate, verdict));
    }

    /// The knee (the highest rate that kept the thresholds), whether it was confirmed (it ran
    /// twice), and what bounds it; `None` when even the minimum did not pass.
    pub fn knee(&self) -> (Option<f64>, bool, Bound) {
        let (lo, hi) = self.bounds();
        let Some(lo) = lo else {
            return (None, false, Bound::None);
        };
        let bound = if !self.converged(lo, hi) {
            Bound::Steps
        } else {
            match hi {
                None => Bound::MaxRate,
                Some((_, Verdict::GeneratorLimited)) => Bound::Generator,
                Some(_) => Bound::Thresholds,
            }
        };
        (Some(lo), self.verdict(lo).0 >= 2, bound)
    }
}

/// Halfway between `lo` and `hi`, rounded to a whole rate when that stays strictly between
/// them (rates read better whole).
fn midpoint(lo: f64, hi: f64) -> f64 {
    let mid = (lo + hi) / 2.0;
    let round = mid.round();
    if round > lo && round < hi { round } else { mid }
}

/// What one step measured, as the capacity summary lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepSummary {
    /// The phase of the results file that ran the step.
    pub phase: String,
    /// Why it ran.
    pub purpose: Purpose,
    /// The rate asked (offered), per second.
    pub rate: f64,
    /// Completions per second over the measured time (sessions for workload `sessions`,
    /// transactions for `kept`; successful and failed).
    pub achieved_per_s: f64,
    /// The latency metric held to the p99 limit (the worst of them when several).
    pub metric: String,
    /// Its median, microseconds, from each arrival's intended time.
    pub p50_us: u64,
    /// Its 99th percentile, microseconds, from each arrival's intended time.
    pub p99_us: u64,
    /// Its 99th percentile from the actual send time (uncorrected), microseconds.
    pub p99_uncorrected_us: u64,
    /// Unexpected failures over attempts.
    pub failure_rate: f64,
    /// How the step went.
    pub verdict: Verdict,
    /// The thresholds it broke.
    pub broken: Vec<String>,
}

/// The knee: the highest rate that kept the thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Knee {
    /// Offered rate, per second.
    pub rate: f64,
    /// Completions per second at it.
    pub achieved_per_s: f64,
    /// p99 at it, microseconds (its last run).
    pub p99_us: u64,
    /// It passed twice (the search confirms the knee it settles on).
    pub confirmed: bool,
}

/// The capacity search in a results file (`capacity`): its settings, each step and the knee.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityResult {
    /// The search's settings.
    pub search: SearchConfig,
    /// Measured time of each step.
    #[serde(with = "humantime_serde")]
    pub step_duration: std::time::Duration,
    /// The thresholds every step is held to.
    pub thresholds: Vec<String>,
    /// The steps in the order run (each is also a phase of the file).
    pub steps: Vec<StepSummary>,
    /// The highest rate that kept the thresholds; `null` when even the minimum did not.
    pub knee: Option<Knee>,
    /// What bounds the knee.
    pub bound: Bound,
}

/// The latency metrics a p99 limit applies to in a workload: `session` for whole sessions,
/// `sip.METHOD` per transaction for kept sessions.
pub fn latency_metrics(workload: Workload, transactions: &[crate::plan::Txn]) -> Vec<String> {
    match workload {
        Workload::Kept => transactions.iter().map(|t| format!("sip.{}", t.as_str())).collect(),
        _ => vec!["session".to_owned()],
    }
}

/// Fraction of the rate asked below which a step did not keep up: completions under 90 % of
/// the rate.
pub const KEPT_UP: f64 = 0.9;

/// Judges a step run at `rate`: its summary and verdict. `p99_limit_us` is the p99 limit the
/// step is held to (microseconds), which tells a generator that fell behind from a server
/// that did.
pub fn judge(phase: &PhaseResult, rate: f64, purpose: Purpose, p99_limit_us: Option<f64>) -> StepSummary {
    let plan = &phase.plan;
    let metrics = latency_metrics(plan.workload, &plan.transactions);
    // The worst p99 of the metrics held.
    let (metric, p50, p99) = metrics
        .iter()
        .filter_map(|m| phase.latency_us.get(m).map(|s| (m.clone(), s.p50, s.p99)))
        .max_by_key(|&(_, _, p99)| p99)
        .unwrap_or_else(|| (metrics[0].clone(), 0, 0));
    let uncorrected = phase
        .latency_us
        .get(&format!("{metric}.uncorrected"))
        .map_or(p99, |s| s.p99);
    let completed = match plan.workload {
        Workload::Sessions => phase.sessions.ok + phase.sessions.failed,
        _ => phase.transactions.values().map(|t| t.ok + t.failed).sum(),
    };
    let achieved = if phase.measured_s > 0.0 {
        completed as f64 / phase.measured_s
    } else {
        0.0
    };
    let failure_rate = Threshold {
        text: String::new(),
        metric: Metric::FailureRate,
        op: crate::threshold::Op::Le,
        limit: 0.0,
    }
    .observe(phase)
    .unwrap_or(0.0);
    let broken: Vec<String> = phase.broken_thresholds().map(|t| t.expression.clone()).collect();
    let behind = achieved < KEPT_UP * rate;
    let answered_in_time = p99_limit_us.is_some_and(|limit| (uncorrected as f64) <= limit);
    // Only latency thresholds broke (a failure is the server's, however late it was sent).
    let only_latency_broken = phase.broken_thresholds().all(|t| {
        plan.thresholds
            .iter()
            .any(|own| own.text == t.expression && matches!(own.metric, Metric::Latency { .. }))
    });
    let verdict = if broken.is_empty() {
        Verdict::Pass
    } else if behind && answered_in_time && only_latency_broken {
        Verdict::GeneratorLimited
    } else {
        Verdict::Fail
    };
    StepSummary {
        phase: plan.name.clone(),
        purpose,
        rate,
        achieved_per_s: (achieved * 100.0).round() / 100.0,
        metric,
        p50_us: p50,
        p99_us: p99,
        p99_uncorrected_us: uncorrected,
        failure_rate: (failure_rate * 1e6).round() / 1e6,
        verdict,
        broken,
    }
}

/// A text plot of p99 (y, milliseconds) against the offered rate (x): `o` a step that passed,
/// `x` one that failed, `g` one the generator could not send; `-` the p99 limit, `|` the knee.
/// The y axis goes to twice the limit (or the highest p99 below that): a step far above it is
/// drawn on the top row, so one collapse does not flatten the rest.
pub fn plot(steps: &[StepSummary], p99_limit_us: Option<f64>, knee: Option<f64>) -> String {
    const W: usize = 60;
    const H: usize = 14;
    if steps.is_empty() {
        return String::new();
    }
    let x_max = steps.iter().map(|s| s.rate).fold(0.0, f64::max).max(1e-9);
    let highest = steps.iter().map(|s| s.p99_us as f64).fold(0.0, f64::max);
    let y_max = match p99_limit_us {
        Some(limit) => highest.min(limit * 2.0).max(limit * 1.25),
        None => highest,
    }
    .max(1.0);
    let off_scale = highest > y_max;
    let col = |x: f64| (((x / x_max) * (W - 1) as f64).round() as usize).min(W - 1);
    let row = |y: f64| (H - 1) - (((y.min(y_max) / y_max) * (H - 1) as f64).round() as usize).min(H - 1);
    let mut grid = vec![vec![' '; W]; H];
    if let Some(limit) = p99_limit_us {
        let r = row(limit);
        grid[r].iter_mut().for_each(|c| *c = '-');
    }
    if let Some(k) = knee {
        let c = col(k);
        for line in grid.iter_mut() {
            if line[c] == ' ' {
                line[c] = '|';
            }
        }
    }
    for s in steps {
        let mark = match s.verdict {
            Verdict::Pass => 'o',
            Verdict::Fail => 'x',
            Verdict::GeneratorLimited => 'g',
        };
        let (r, c) = (row(s.p99_us as f64), col(s.rate));
        // A failure drawn over a pass at the same place shows.
        if grid[r][c] != 'x' {
            grid[r][c] = mark;
        }
    }
    let mut out = String::new();
    for (i, line) in grid.iter().enumerate() {
        let label = match i {
            0 if off_scale => format!("{:>8.2}+", y_max / 1000.0),
            0 => format!("{:>9.2}", y_max / 1000.0),
            _ if i == H - 1 => format!("{:>9}", "0"),
            _ => " ".repeat(9),
        };
        out.push_str(&format!("{label} ┤{}\n", line.iter().collect::<String>().trim_end()));
    }
    out.push_str(&format!("{} └{}\n", " ".repeat(9), "─".repeat(W)));
    let right = format!("{x_max:.0}/s");
    out.push_str(&format!(
        "{}  0{}{right}\n",
        " ".repeat(9),
        " ".repeat(W.saturating_sub(1 + right.len()))
    ));
    out.push_str(&format!(
        "{}  p99 ms (y) against offered rate (x): o pass, x fail, g generator-limited, - p99 limit, | knee{}\n",
        " ".repeat(9),
        if off_scale {
            "; top row: at or above the top"
        } else {
            ""
        }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SearchConfig {
        SearchConfig {
            min_rate: 100.0,
            max_rate: 100_000.0,
            precision: 0.05,
            max_steps: 30,
            probe: true,
        }
    }

    /// Runs the search with `step` deciding each verdict; returns the rates asked.
    fn drive(search: &mut Search, mut step: impl FnMut(f64) -> Verdict) -> Vec<(f64, Purpose)> {
        let mut asked = Vec::new();
        while let Some((rate, purpose)) = search.next() {
            asked.push((rate, purpose));
            search.record(rate, step(rate));
            assert!(asked.len() <= 100, "the search does not end: {asked:?}");
        }
        asked
    }

    #[test]
    fn it_converges_on_a_known_knee_and_confirms_it() {
        for knee in [150.0, 1234.0, 7_777.0, 42_000.0] {
            let mut s = Search::new(config());
            let asked = drive(&mut s, |r| if r <= knee { Verdict::Pass } else { Verdict::Fail });
            let (found, confirmed, bound) = s.knee();
            let found = found.unwrap();
            assert!(
                found <= knee && found >= knee * 0.95,
                "knee {knee}: found {found}, {asked:?}"
            );
            assert!(confirmed && bound == Bound::Thresholds, "{knee}: {confirmed} {bound:?}");
            assert_eq!(asked[0], (100.0, Purpose::Minimum));
            // The failure above the knee and the knee, each run a second time, end it.
            let n = asked.len();
            assert_eq!(asked[n - 2].1, Purpose::Recheck);
            assert!(asked[n - 2].0 > knee && asked[n - 2].0 <= found * 1.05);
            assert_eq!(asked[n - 1], (found, Purpose::Confirm));
            // Doubling, then bisecting: a handful of steps.
            assert!(n <= 22, "{knee}: {n} steps");
        }
    }

    #[test]
    fn the_ends_of_the_range_are_reported_as_such() {
        // Even the minimum fails, twice: no capacity.
        let mut s = Search::new(config());
        assert_eq!(
            drive(&mut s, |_| Verdict::Fail),
            [(100.0, Purpose::Minimum), (100.0, Purpose::Recheck)]
        );
        assert_eq!(s.knee(), (None, false, Bound::None));
        // Everything passes: the capacity is at least the maximum.
        let mut s = Search::new(config());
        let asked = drive(&mut s, |_| Verdict::Pass);
        assert_eq!(s.knee(), (Some(100_000.0), true, Bound::MaxRate));
        assert!(asked.iter().all(|&(r, _)| r <= 100_000.0));
        // Without the probe: the minimum, the maximum, then bisection.
        let mut s = Search::new(SearchConfig {
            probe: false,
            ..config()
        });
        let asked = drive(&mut s, |r| if r <= 30_000.0 { Verdict::Pass } else { Verdict::Fail });
        assert_eq!(asked[1], (100_000.0, Purpose::Probe));
        assert_eq!(asked[2], (50_050.0, Purpose::Bisect));
        assert!(s.knee().0.unwrap() >= 28_500.0);
        // A generator that cannot keep up bounds the search and says so.
        let mut s = Search::new(config());
        drive(&mut s, |r| {
            if r <= 3_000.0 {
                Verdict::Pass
            } else {
                Verdict::GeneratorLimited
            }
        });
        assert_eq!(s.knee().2, Bound::Generator);
    }

    #[test]
    fn the_step_budget_ends_the_search() {
        let mut s = Search::new(SearchConfig {
            max_steps: 4,
            ..config()
        });
        let asked = drive(&mut s, |r| if r <= 5_000.0 { Verdict::Pass } else { Verdict::Fail });
        assert_eq!(asked.len(), 4);
        assert!(asked.iter().all(|&(_, p)| p != Purpose::Confirm));
        assert_eq!(s.knee(), (Some(800.0), false, Bound::Steps));
    }

    /// Verdicts near the knee flip at random: the search still ends, its knee passed every time
    /// it ran, and it lies near the true knee.
    #[test]
    fn noise_near_the_knee_is_handled_sanely() {
        let knee = 5_000.0;
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200 {
            let mut s = Search::new(config());
            drive(&mut s, |r| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let coin = (seed % 1000) as f64 / 1000.0;
                // Within 20 % of the knee, the verdict is a coin toss weighted by the distance.
                let p_pass = ((knee * 1.2 - r) / (knee * 0.4)).clamp(0.0, 1.0);
                if coin < p_pass { Verdict::Pass } else { Verdict::Fail }
            });
            let history = s.history().to_vec();
            let (found, _, _) = s.knee();
            // Every rate below the noise band passes: there is a knee, at most the band's top.
            let found = found.unwrap_or_else(|| panic!("no knee: {history:?}"));
            assert!(found >= 100.0 && found <= knee * 1.2, "{found}: {history:?}");
            // Its last run passed, and no rate under it failed more often than it passed.
            assert_eq!(
                history.iter().rev().find(|(r, _)| *r == found).unwrap().1,
                Verdict::Pass
            );
            assert!(
                history
                    .iter()
                    .all(|&(r, _)| r >= found || s.verdict(r).1 == Verdict::Pass),
                "{found}: {history:?}"
            );
            // The band is [4000, 6000): doubling from 100 reaches 3200, which always passes.
            assert!(found >= 3_200.0, "{found}: {history:?}");
            assert!(history.len() <= 30);
        }
    }

    /// One stall breaks a step far below the real knee: the recheck passes and the search
    /// goes on up (what a loaded machine does to a 10 ms p99 limit).
    #[test]
    fn a_failure_that_does_not_recur_moves_the_bound_up() {
        let mut s = Search::new(config());
        let mut stalled = false;
        let asked = drive(&mut s, |r| {
            if r == 1_600.0 && !stalled {
                stalled = true;
                return Verdict::Fail;
            }
            if r <= 20_000.0 { Verdict::Pass } else { Verdict::Fail }
        });
        assert!(asked.contains(&(1_600.0, Purpose::Recheck)), "{asked:?}");
        let (found, confirmed, bound) = s.knee();
        assert!(
            found.unwrap() >= 19_000.0 && confirmed && bound == Bound::Thresholds,
            "{asked:?}"
        );
    }

    #[test]
    fn a_failure_under_the_knee_moves_it_down() {
        let mut s = Search::new(config());
        s.record(100.0, Verdict::Pass);
        s.record(200.0, Verdict::Pass);
        s.record(400.0, Verdict::Pass);
        s.record(800.0, Verdict::Fail);
        assert_eq!(s.next(), Some((600.0, Purpose::Bisect)));
        // Noise: a failure under the knee the search held.
        s.record(300.0, Verdict::Fail);
        assert_eq!(s.knee().0, Some(200.0));
        assert_eq!(s.next(), Some((250.0, Purpose::Bisect)));
    }

    #[test]
    fn the_plot_marks_steps_limit_and_knee() {
        let step = |rate: f64, p99: u64, verdict| StepSummary {
            phase: String::new(),
            purpose: Purpose::Bisect,
            rate,
            achieved_per_s: rate,
            metric: "session".into(),
            p50_us: p99 / 2,
            p99_us: p99,
            p99_uncorrected_us: p99,
            failure_rate: 0.0,
            verdict,
            broken: Vec::new(),
        };
        let steps = [
            step(100.0, 1_000, Verdict::Pass),
            step(200.0, 2_000, Verdict::Pass),
            step(400.0, 900_000, Verdict::Fail),
            step(300.0, 80_000, Verdict::GeneratorLimited),
        ];
        let p = plot(&steps, Some(50_000.0), Some(200.0));
        assert!(
            p.contains('o') && p.contains('x') && p.contains('g') && p.contains('|'),
            "{p}"
        );
        assert!(p.lines().any(|l| l.contains("-----")), "{p}");
        assert!(p.contains("400/s"), "{p}");
        // The 900 ms failure is off the 0..100 ms scale of a 50 ms limit: on the top row.
        let top = p.lines().next().unwrap();
        assert!(top.trim_start().starts_with("100.00+") && top.contains('x'), "{p}");
        let g = p.lines().position(|l| l.contains('g')).unwrap();
        assert!(g > 0 && g < 4, "{p}");
        assert!(plot(&[], None, None).is_empty());
    }
}
