//! `sipbench capacity`: the options, and the steps run against one target (the embedded server
//! by default, as `run`), each step its own phase of the results file.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;

use super::{CapacityResult, Knee, Purpose, Search, SearchConfig, StepSummary, Verdict, judge, latency_metrics, plot};
use crate::generator::command::RunArgs;
use crate::generator::{Bench, RunConfig, Stop, fd_warning};
use crate::plan::{PhasePlan, RateSpec};
use crate::pool::Pool;
use crate::results::{RunResult, SCHEMA, now_rfc3339};
use crate::sys::{self, Environment};
use crate::threshold::Threshold;
use crate::{exit, limits, printer, signals};

/// Exit statuses of `capacity`, for `--help`.
pub const HELP: &str = "Exit status: 0 a capacity was found (the knee); 1 even --min-rate broke the thresholds; \
2 usage or configuration error (nothing ran); 3 runtime error; 130 interrupted.";

/// Options of `sipbench capacity`: the search, then the phase and target as for `sipbench run`.
#[derive(Debug, Clone, Args)]
#[command(
    mut_arg("out", |a| a.help("Results file: every step as a phase, and the search under `capacity`. [default: results/capacity-TIME.json]")),
    mut_arg("rate", |a| a.hide(true)),
    mut_arg("ramp", |a| a.hide(true)),
    mut_arg("step", |a| a.hide(true)),
    mut_arg("concurrency", |a| a.hide(true)),
    mut_arg("duration", |a| a.hide(true)),
    mut_arg("sessions", |a| a.hide(true)),
    mut_arg("hlog", |a| a.hide(true)),
)]
pub struct CapacityArgs {
    /// First rate tried, per second (session starts for workload sessions, transactions for
    /// kept); when it breaks the thresholds there is no capacity (exit status 1).
    #[arg(long, default_value_t = 100.0, value_parser = limits::rate, help_heading = "Search")]
    pub min_rate: f64,
    /// Highest rate tried, per second.
    #[arg(long, default_value_t = 100_000.0, value_parser = limits::rate, help_heading = "Search")]
    pub max_rate: f64,
    /// Measured time of each step (each also has the phase's warm-up before it).
    #[arg(long, default_value = "5s", value_parser = limits::positive_run_duration, help_heading = "Search")]
    pub step_duration: Duration,
    /// Limit on the p99 latency, from each arrival's intended time (`session` for workload
    /// sessions, each `sip.METHOD` for kept).
    #[arg(long, default_value = "50ms", value_parser = limits::timeout, help_heading = "Search")]
    pub max_p99: Duration,
    /// Limit on the failure rate (failures over attempts): a fraction or a percentage.
    #[arg(long, default_value = "0.1%", value_parser = failure_rate, help_heading = "Search")]
    pub max_failure_rate: Threshold,
    /// Stop when the highest passing and the lowest failing rate are closer than this share
    /// of the passing one, e.g. 5% or 0.05.
    #[arg(long, default_value = "5%", value_parser = precision, help_heading = "Search")]
    pub precision: f64,
    /// Most steps, the rechecks included (the search stops there, reporting how far it got).
    #[arg(long, default_value_t = 24, value_parser = |s: &str| limits::ranged(s, 1..=500), help_heading = "Search")]
    pub max_steps: usize,
    /// Bisect between --min-rate and --max-rate at once, instead of doubling up from the
    /// minimum until a step fails.
    #[arg(long, help_heading = "Search")]
    pub no_probe: bool,

    /// The phase (one; the rate and duration are the search's) and the target, as for
    /// `sipbench run`.
    #[command(flatten)]
    pub run: RunArgs,
}

/// `--max-failure-rate`: `0.1%` or `0.001`, as a `failure_rate<=` threshold.
fn failure_rate(s: &str) -> Result<Threshold, String> {
    let t: Threshold = format!("failure_rate<={}", s.trim())
        .parse()
        .map_err(|e: crate::threshold::ThresholdError| e.problem)?;
    if t.limit > 1.0 {
        return Err("must be at most 100%".into());
    }
    Ok(t)
}

/// `--precision`: `5%` or `0.05`, more than 0 and less than 1.
fn precision(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let (n, scale) = match s.strip_suffix('%') {
        Some(pct) => (pct, 100.0),
        None => (s, 1.0),
    };
    let v = n
        .trim()
        .parse::<f64>()
        .map_err(|_| format!("`{s}` is not a number or a percentage"))?
        / scale;
    if v > 0.0 && v < 1.0 {
        Ok(v)
    } else {
        Err("must be more than 0 and less than 100%".into())
    }
}

/// What a capacity search wrote.
#[derive(Debug)]
pub struct CapacityReport {
    /// The results file's content.
    pub result: RunResult,
    /// Where it was written.
    pub path: PathBuf,
}

/// Entry point for the binary: runs the search and maps its outcome to an exit status.
pub fn main(args: CapacityArgs) -> Result<ExitCode> {
    let (json, quiet) = (args.run.json, args.run.quiet || args.run.json);
    let report = capacity(&args)?;
    let summary = report
        .result
        .capacity
        .as_ref()
        .expect("a capacity file has its summary");
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.result).map_err(exit::runtime)?
        );
    } else if !quiet {
        print!("{}", conclusion(summary));
        println!("\nresults written to {}", report.path.display());
    }
    let panicked: u64 = report
        .result
        .phases
        .iter()
        .filter_map(|p| p.failures.get(&crate::failure::FailureKind::Panic.to_string()))
        .sum();
    Ok(ExitCode::from(if report.result.interrupted {
        exit::INTERRUPTED
    } else if panicked > 0 {
        eprintln!("error: {panicked} generator task(s) panicked (see the results file's warnings)");
        exit::RUNTIME
    } else if summary.knee.is_none() {
        exit::THRESHOLD
    } else {
        exit::SUCCESS
    }))
}

/// Checks the options, runs the search and writes the results file after every step.
pub fn capacity(args: &CapacityArgs) -> Result<CapacityReport> {
    let p = &args.run.phase;
    for (set, flag, why) in [
        (
            p.rate.is_some(),
            "--rate",
            "the search chooses each step's rate (--min-rate, --max-rate)",
        ),
        (
            p.ramp.is_some() || p.step.is_some(),
            "--ramp/--step",
            "each step holds one rate",
        ),
        (
            p.concurrency.is_some(),
            "--concurrency",
            "capacity runs open-loop steps",
        ),
        (p.duration.is_some(), "--duration", "each step runs --step-duration"),
        (p.sessions.is_some(), "--sessions", "each step runs --step-duration"),
        (args.run.hlog.is_some(), "--hlog", "not written by capacity"),
    ] {
        if set {
            bail!("{flag}: does not apply to capacity: {why}");
        }
    }
    if args.min_rate > args.max_rate {
        bail!("--min-rate: {} is above --max-rate {}", args.min_rate, args.max_rate);
    }
    let config = args.run.clone().into_config();
    let search = SearchConfig {
        min_rate: args.min_rate,
        max_rate: args.max_rate,
        precision: args.precision,
        max_steps: args.max_steps,
        probe: !args.no_probe,
    };
    // The phase at the minimum rate: it must lower, and be one phase.
    let first = step_plan(&config, args, &[], 0, args.min_rate)?;
    let mut thresholds: Vec<Threshold> = latency_metrics(first.workload, &first.transactions)
        .iter()
        .map(|m| {
            format!("{m}.p99<={}ms", args.max_p99.as_secs_f64() * 1e3)
                .parse::<Threshold>()
                .map_err(anyhow::Error::from)
        })
        .collect::<Result<_>>()?;
    thresholds.push(args.max_failure_rate.clone());
    let fd_limit = sys::raise_fd_limit();
    let crate::generator::Engine { pool, control, path } = crate::generator::Engine::new(&config, "capacity")?;
    let run = Steps {
        config: &config,
        args,
        search,
        thresholds,
        first,
        fd_limit,
        path: &path,
    };
    let outcome = control.block_on(run.run(&pool));
    drop(control);
    // Joining the worker threads happens here, outside any runtime.
    drop(pool);
    Ok(CapacityReport { result: outcome?, path })
}

/// The phase of step `index` at `rate`: the configured phase with the rate and the step
/// duration, held to `thresholds` besides its own.
fn step_plan(
    config: &RunConfig,
    args: &CapacityArgs,
    thresholds: &[Threshold],
    index: usize,
    rate: f64,
) -> Result<PhasePlan> {
    let mut config = config.clone();
    config.phase.rate = Some(RateSpec::Constant(rate));
    config.phase.duration = Some(args.step_duration);
    let (_, mut phases) = config.plan()?;
    if phases.len() != 1 {
        bail!(
            "--phase: capacity searches one phase; the profile has {}: name one with --phase",
            phases.len()
        );
    }
    let mut phase = phases.remove(0);
    phase.name = format!("step-{:02}-{}", index + 1, rate);
    phase.thresholds.extend(thresholds.iter().cloned());
    Ok(phase)
}

/// One search's state.
struct Steps<'a> {
    config: &'a RunConfig,
    args: &'a CapacityArgs,
    search: SearchConfig,
    thresholds: Vec<Threshold>,
    first: PhasePlan,
    fd_limit: sys::FdLimit,
    path: &'a std::path::Path,
}

impl Steps<'_> {
    async fn run(self, pool: &Pool) -> Result<RunResult> {
        let interrupt = Arc::new(Stop::new());
        let signal_task = tokio::spawn(signals::on_interrupt({
            let interrupt = interrupt.clone();
            move || interrupt.set()
        }));
        let bench = Bench::start(self.config, pool).await?;
        bench.check(&self.first)?;
        let mut top = self.first.clone();
        top.load = crate::plan::Load::Open {
            rate: self.search.max_rate,
        };
        let warnings = fd_warning(&[top], bench.embedded, self.fd_limit).into_iter().collect();
        let p99_limit_us = self.args.max_p99.as_secs_f64() * 1e6;
        let mut result = RunResult {
            schema: SCHEMA.into(),
            started_at: now_rfc3339(),
            written_at: now_rfc3339(),
            complete: false,
            interrupted: false,
            command: std::env::args().collect(),
            profile: "capacity".into(),
            target: bench.target.info.clone(),
            environment: Environment::capture(
                self.config.backend,
                bench.embedded.then_some(bench.server_backend),
                self.fd_limit,
            ),
            key_type: bench.key_type.clone(),
            workers: pool.len(),
            phases: Vec::new(),
            server: None,
            warnings,
            shard: None,
            start_at: None,
            merged_from: None,
            shards: Vec::new(),
            clock: None,
            capacity: Some(CapacityResult {
                search: self.search,
                step_duration: self.args.step_duration,
                thresholds: self.thresholds.iter().map(|t| t.text.clone()).collect(),
                steps: Vec::new(),
                knee: None,
                bound: super::Bound::None,
            }),
        };
        let quiet = self.config.quiet;
        if !quiet {
            print!("{}", printer::header(&result));
            println!(
                "\ncapacity of {} {} ({}), steps of {} at {} to {}/s; thresholds {}",
                self.first.mode.as_str(),
                self.first.workload.as_str(),
                match self.first.workload {
                    crate::plan::Workload::Kept => format!("{} kept sessions, transactions/s", self.first.connections),
                    _ => "session starts/s".to_owned(),
                },
                humantime::format_duration(self.args.step_duration),
                self.search.min_rate,
                self.search.max_rate,
                self.thresholds
                    .iter()
                    .map(|t| t.text.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            println!(
                "\n{:>4}  {:<9} {:>10} {:>10} {:>9} {:>9} {:>9} {:>8}  verdict",
                "step", "why", "rate/s", "achieved", "p50 ms", "p99 ms", "p99u ms", "fail %"
            );
        }
        let mut search = Search::new(self.search);
        let mut progress = crate::generator::observe::Progress::default();
        // From here on the search has started: an error is a runtime error (exit status 3).
        while let Some((rate, purpose)) = search.next() {
            if interrupt.is_set() {
                break;
            }
            let index = search.history().len();
            let phase = step_plan(self.config, self.args, &self.thresholds, index, rate)?;
            let mut observe = |i: &crate::generator::Interval<'_>| {
                if !quiet {
                    progress.show(i);
                }
            };
            // Each step's sessions are users u0, u1, ... again: REGISTER steps update the same
            // addresses of record instead of filling the registrar step after step (the
            // embedded one holds 100,000), so every step meets the same server state.
            let ids = Arc::new(crate::generator::SessionIds::default());
            let outcome = bench.run(&phase, pool, &interrupt, ids, &mut observe).await;
            progress.finish();
            let crate::generator::PhaseRun {
                result: pr,
                interrupted,
                panicked,
                ..
            } = outcome?;
            if panicked > 0 {
                let warning = format!(
                    "phase {}: {panicked} generator task(s) panicked (counted as `panic` failures; a bug in sipbench, see stderr)",
                    phase.name
                );
                eprintln!("warning: {warning}");
                result.warnings.push(warning);
            }
            result.interrupted |= interrupted;
            if interrupted {
                // A step cut short says nothing about the rate.
                result.phases.push(pr);
                break;
            }
            let step = judge(&pr, rate, purpose, Some(p99_limit_us));
            search.record(rate, step.verdict);
            if !quiet {
                println!("{}", step_line(index + 1, &step));
            }
            result.phases.push(pr);
            let summary = result.capacity.as_mut().expect("set above");
            summary.steps.push(step);
            conclude(summary, &search);
            result.written_at = now_rfc3339();
            if let Some(s) = &bench.server {
                result.server = Some(s.counters().snapshot());
            }
            result.write(self.path).map_err(exit::runtime)?;
        }
        result.server = bench.shutdown().await.or(result.server);
        result.interrupted |= interrupt.is_set();
        result.complete = !result.interrupted;
        result.written_at = now_rfc3339();
        result.write(self.path).map_err(exit::runtime)?;
        signal_task.abort();
        Ok(result)
    }
}

/// Sets the knee and its bound from the search so far.
fn conclude(summary: &mut CapacityResult, search: &Search) {
    let (knee, confirmed, bound) = search.knee();
    summary.bound = bound;
    summary.knee = knee.map(|rate| {
        let last = summary
            .steps
            .iter()
            .rev()
            .find(|s| s.rate == rate && s.verdict == Verdict::Pass)
            .expect("the knee is a step that passed");
        // Confirmed: it ran twice (and its verdict, the majority, is a pass).
        Knee {
            rate,
            achieved_per_s: last.achieved_per_s,
            p99_us: last.p99_us,
            confirmed,
        }
    });
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// One line of the step table.
pub fn step_line(n: usize, s: &StepSummary) -> String {
    let why = match s.purpose {
        Purpose::Minimum => "minimum",
        Purpose::Probe => "probe",
        Purpose::Bisect => "bisect",
        Purpose::Confirm => "confirm",
        Purpose::Recheck => "recheck",
    };
    let mut line = format!(
        "{n:>4}  {why:<9} {:>10.0} {:>10.1} {:>9.2} {:>9.2} {:>9.2} {:>8.3}  {}",
        s.rate,
        s.achieved_per_s,
        ms(s.p50_us),
        ms(s.p99_us),
        ms(s.p99_uncorrected_us),
        s.failure_rate * 100.0,
        s.verdict.as_str()
    );
    if !s.broken.is_empty() {
        line.push_str(&format!(" ({})", s.broken.join(", ")));
    }
    if s.verdict == Verdict::GeneratorLimited {
        line.push_str(" - sent below the rate, answered in time: more --workers, --connections or generators");
    }
    line
}

/// The knee in words, and the plot.
pub fn conclusion(c: &CapacityResult) -> String {
    let limit = c.thresholds.iter().find_map(|t| {
        t.parse::<Threshold>()
            .ok()
            .filter(|t| t.text.contains(".p99"))
            .map(|t| t.limit)
    });
    let mut out = String::from("\n");
    out.push_str(&plot(&c.steps, limit, c.knee.as_ref().map(|k| k.rate)));
    let bound = match c.bound {
        super::Bound::Thresholds => "the next rate up broke a threshold".to_owned(),
        super::Bound::Generator => {
            "the next rate up was limited by the generator, not the target: the capacity may be higher".to_owned()
        }
        super::Bound::MaxRate => format!(
            "--max-rate {} kept the thresholds: the capacity is at least that",
            c.search.max_rate
        ),
        super::Bound::Steps => format!(
            "--max-steps {} ran out before the precision ({}%) was reached",
            c.search.max_steps,
            c.search.precision * 100.0
        ),
        super::Bound::None => String::new(),
    };
    match &c.knee {
        Some(k) => out.push_str(&format!(
            "\nknee: {}/s ({:.1}/s achieved, p99 {:.2} ms{}); {bound}\n",
            k.rate,
            k.achieved_per_s,
            ms(k.p99_us),
            if k.confirmed { ", confirmed" } else { ", not confirmed" }
        )),
        None => out.push_str(&format!(
            "\nno capacity: even --min-rate {}/s broke the thresholds ({})\n",
            c.search.min_rate,
            c.thresholds.join(", ")
        )),
    }
    out
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cap {
        #[command(flatten)]
        args: CapacityArgs,
    }

    #[test]
    fn flags_parse_and_name_bad_values() {
        let a = Cap::try_parse_from(["capacity", "--max-failure-rate", "1%", "--precision", "10%"])
            .unwrap()
            .args;
        assert_eq!(a.max_failure_rate.limit, 0.01);
        assert_eq!(a.precision, 0.1);
        assert_eq!(a.max_p99, Duration::from_millis(50));
        assert_eq!(a.step_duration, Duration::from_secs(5));
        for (args, flag) in [
            (vec!["capacity", "--precision", "0"], "--precision"),
            (vec!["capacity", "--max-failure-rate", "x"], "--max-failure-rate"),
            (vec!["capacity", "--min-rate", "0"], "--min-rate"),
        ] {
            let e = Cap::try_parse_from(args.clone()).unwrap_err().to_string();
            assert!(e.contains(flag), "{args:?}: {e}");
        }
        // The search's own flags refuse the phase's rate and duration.
        let a = Cap::try_parse_from(["capacity", "--rate", "5"]).unwrap().args;
        assert!(capacity(&a).unwrap_err().to_string().contains("--rate"));
        let a = Cap::try_parse_from(["capacity", "--min-rate", "50", "--max-rate", "5"])
            .unwrap()
            .args;
        assert!(capacity(&a).unwrap_err().to_string().contains("--min-rate"));
    }
}
