//! `sipbench diff BASE NEW`: every metric present in both runs, per phase name, with a verdict.
//!
//! Compared, per phase name present in both files: the rates (sessions, handshakes and
//! transactions per second; higher is better), p50, p90, p99 and p99.9 of every latency metric in
//! both (lower is better), and CPU microseconds per session and per transaction (lower is better).
//! Figures that are zero in both runs are left out.
//!
//! **Noise rule.** A change is *within noise* when its size, relative to the base, is at most the
//! larger of the noise floor (`--noise`, default 5%) and the spread the two runs themselves imply:
//!
//! - a latency percentile: the 95% confidence interval of that percentile from each run's own
//!   histogram (distribution-free, from order statistics: the values at quantiles
//!   `p ± 1.96·sqrt(p(1-p)/n)` for `n` recorded values), as a half-width relative to the
//!   percentile, combined for the two runs as `sqrt(a² + b²)`. Few samples or a steep tail
//!   widen it;
//! - a rate: counting noise of the events behind it, `1.96/sqrt(count)` per run, combined the same
//!   way;
//! - CPU per unit: the runs record no spread for it, so the floor alone.
//!
//! Beyond that the verdict is *better* or *worse* by the metric's direction. Run-to-run variation
//! of the machine is not in a single file: raise `--noise` to what repeated runs show (the
//! project's VM varies by about ±15%, see results/README.md).
//!
//! With `--fail-on-regression PCT` the exit status is 1 when any metric is *worse* and changed by
//! more than PCT percent in the bad direction; otherwise 0.
//!
//! **What differed.** Before the figures, a diff lists what else differs between the runs, since
//! a change of figures is only a regression when the setup was the same: the environment
//! (machine, kernel, build, revision, crypto backends), the target, the key type, the worker
//! count, and for each phase compared, every field of its plan (mode, load, TLS settings, ...).
//! `--json` prints the same as one JSON document (rows, verdicts, differences, regressions).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, ensure};
use clap::Args;
use hdrhistogram::Histogram;

use super::LoadedRun;

/// Options of `sipbench diff`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Noise rule: a change is \"within noise\" when it is at most the larger of --noise and the \
spread the runs record: for a latency percentile, the 95% confidence interval of that percentile from each run's \
histogram (order statistics), combined for both runs; for a rate, the counting noise 1.96/sqrt(count); CPU per unit \
records no spread, so --noise alone. Lower latency and CPU are better; higher rates are better. Figures that \
are zero in both runs are left out. --fail-on-regression counts only metrics judged worse."
)]
pub struct DiffArgs {
    /// The reference results file.
    #[arg(value_name = "BASE.json")]
    pub base: PathBuf,
    /// The results file to judge against it.
    #[arg(value_name = "NEW.json")]
    pub new: PathBuf,
    /// Exit with status 1 when any metric is judged worse (beyond noise) by more than PCT percent.
    #[arg(long, value_name = "PCT", value_parser = crate::limits::percent)]
    pub fail_on_regression: Option<f64>,
    /// Noise floor in percent: smaller changes are never better or worse.
    #[arg(long, value_name = "PCT", value_parser = crate::limits::percent, default_value_t = 5.0)]
    pub noise: f64,
    /// Print the comparison as JSON (rows with verdicts, what differed, regressions) instead of
    /// the table.
    #[arg(long)]
    pub json: bool,
}

/// The `schema` of `diff --json` output (results/schema-diff.json).
pub const SCHEMA: &str = "sipbench-diff/1";

/// Which way is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Better {
    /// Lower is better (latency, CPU).
    Lower,
    /// Higher is better (rates).
    Higher,
}

/// A metric's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Changed beyond noise in the good direction.
    Better,
    /// Changed beyond noise in the bad direction.
    Worse,
    /// Changed by no more than the noise.
    WithinNoise,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::WithinNoise => "within noise",
        })
    }
}

/// One compared figure.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Row {
    /// Phase name.
    pub phase: String,
    /// What is compared, e.g. `sessions/s` or `handshake.full p99`.
    pub metric: String,
    /// Unit of `base` and `new` as shown.
    pub unit: &'static str,
    /// Base figure.
    pub base: f64,
    /// New figure.
    pub new: f64,
    /// Direction.
    pub better: Better,
    /// Noise threshold in percent.
    pub noise_pct: f64,
    /// Verdict.
    pub verdict: Verdict,
}

impl Row {
    /// new / base (infinite when base is 0 and new is not; 1 when both are 0).
    pub fn ratio(&self) -> f64 {
        if self.base == 0.0 {
            if self.new == 0.0 { 1.0 } else { f64::INFINITY }
        } else {
            self.new / self.base
        }
    }

    /// How much worse, in percent of the base (negative when better).
    pub fn worse_pct(&self) -> f64 {
        let change = (self.ratio() - 1.0) * 100.0;
        match self.better {
            Better::Lower => change,
            Better::Higher => -change,
        }
    }
}

/// Something besides the figures that differs between the two runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    /// What: `environment.backend`, `target.server_name`, `phase tls-sessions: plan.mode`, ...
    pub what: String,
    /// Its value in the base run (JSON text; `-` when absent).
    pub base: String,
    /// Its value in the new run.
    pub new: String,
}

/// The comparison of two runs.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Comparison {
    /// What differs besides the figures (empty: the same setup).
    pub differences: Vec<Difference>,
    /// Figures present in both.
    pub rows: Vec<Row>,
    /// Phase names only in the base run.
    pub only_base: Vec<String>,
    /// Phase names only in the new run.
    pub only_new: Vec<String>,
}

fn verdict(base: f64, new: f64, better: Better, noise_pct: f64) -> Verdict {
    let change_pct = if base == 0.0 {
        if new == 0.0 { 0.0 } else { f64::INFINITY * new.signum() }
    } else {
        (new - base) / base.abs() * 100.0
    };
    if change_pct.abs() <= noise_pct {
        return Verdict::WithinNoise;
    }
    match (better, change_pct > 0.0) {
        (Better::Lower, true) | (Better::Higher, false) => Verdict::Worse,
        _ => Verdict::Better,
    }
}

/// Relative half-width (fraction) of the 95% confidence interval of quantile `q` from `h`.
pub fn quantile_spread(h: &Histogram<u64>, q: f64) -> f64 {
    let n = h.len();
    if n == 0 {
        return 0.0;
    }
    let d = 1.96 * (q * (1.0 - q) / n as f64).sqrt();
    let v = h.value_at_quantile(q) as f64;
    if v <= 0.0 {
        return 0.0;
    }
    let lo = h.value_at_quantile((q - d).max(0.0)) as f64;
    let hi = h.value_at_quantile((q + d).min(1.0)) as f64;
    (hi - lo) / (2.0 * v)
}

fn combine(a: f64, b: f64) -> f64 {
    (a * a + b * b).sqrt()
}

/// The top-level fields of `a` and `b` (JSON objects) whose values differ, as `prefix.field`;
/// fields in `skip` are left out.
fn field_differences(prefix: &str, a: &serde_json::Value, b: &serde_json::Value, skip: &[&str]) -> Vec<Difference> {
    let empty = serde_json::Map::new();
    let (a, b) = (a.as_object().unwrap_or(&empty), b.as_object().unwrap_or(&empty));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let show = |v: Option<&serde_json::Value>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    keys.into_iter()
        .filter(|k| !skip.contains(&k.as_str()) && a.get(*k) != b.get(*k))
        .map(|k| Difference {
            what: format!("{prefix}.{k}"),
            base: show(a.get(k)),
            new: show(b.get(k)),
        })
        .collect()
}

/// What differs between the runs besides their figures: environment, target, key type,
/// workers, and the plan of every phase present in both.
pub fn differences(base: &LoadedRun, new: &LoadedRun) -> Vec<Difference> {
    let (b, n) = (&base.result, &new.result);
    // The open-files limit says how far the run could go, not how it ran.
    let mut out = field_differences(
        "environment",
        &json(&b.environment),
        &json(&n.environment),
        &["fd_limit"],
    );
    // The embedded server listens on ports the system picks: its addresses say nothing.
    let embedded = b.target.kind == "embedded" && n.target.kind == "embedded";
    let skip: &[&str] = if embedded {
        &["resolved", "tls", "mtls", "tcp", "udp"]
    } else {
        &["resolved"]
    };
    out.extend(field_differences("target", &json(&b.target), &json(&n.target), skip));
    for (what, bv, nv) in [
        ("key_type", json(&b.key_type), json(&n.key_type)),
        ("workers", json(&b.workers), json(&n.workers)),
        ("profile", json(&b.profile), json(&n.profile)),
    ] {
        if bv != nv {
            out.push(Difference {
                what: what.into(),
                base: bv.to_string(),
                new: nv.to_string(),
            });
        }
    }
    for bp in &b.phases {
        if let Some(np) = n.phases.iter().find(|p| p.plan.name == bp.plan.name) {
            let prefix = format!("phase {}: plan", bp.plan.name);
            out.extend(field_differences(&prefix, &json(&bp.plan), &json(&np.plan), &[]));
        }
    }
    out
}

/// `v` as JSON (`null` when it does not serialize).
fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// Compares every figure present in both runs; `floor_pct` is the noise floor in percent.
/// What else differs between them is listed first ([`differences`]).
pub fn compare(base: &LoadedRun, new: &LoadedRun, floor_pct: f64) -> Comparison {
    let mut cmp = Comparison {
        differences: differences(base, new),
        ..Comparison::default()
    };
    for (bi, bp) in base.phases.iter().enumerate() {
        let Some((ni, np)) = new.phase(&bp.key) else {
            cmp.only_base.push(bp.key.clone());
            continue;
        };
        let (b, n) = (&base.result.phases[bi], &new.result.phases[ni]);
        let mut push = |metric: String, unit, bv: f64, nv: f64, better, spread: f64| {
            if bv == 0.0 && nv == 0.0 {
                return;
            }
            let noise_pct = floor_pct.max(spread * 100.0);
            cmp.rows.push(Row {
                phase: bp.key.clone(),
                metric,
                unit,
                base: bv,
                new: nv,
                better,
                noise_pct,
                verdict: verdict(bv, nv, better, noise_pct),
            });
        };
        let count_noise = |rate: f64, secs: f64| {
            let count = rate * secs;
            if count >= 1.0 { 1.96 / count.sqrt() } else { 0.0 }
        };
        for (name, bv, nv) in [
            ("sessions/s", b.rates.sessions_per_s, n.rates.sessions_per_s),
            ("handshakes/s", b.rates.handshakes_per_s, n.rates.handshakes_per_s),
            ("transactions/s", b.rates.transactions_per_s, n.rates.transactions_per_s),
        ] {
            let spread = combine(count_noise(bv, b.measured_s), count_noise(nv, n.measured_s));
            push(name.into(), "/s", bv, nv, Better::Higher, spread);
        }
        for (metric, bs) in &b.latency_us {
            let Some(ns) = n.latency_us.get(metric) else { continue };
            for (label, q, bv, nv) in [
                ("p50", 0.5, bs.p50, ns.p50),
                ("p90", 0.9, bs.p90, ns.p90),
                ("p99", 0.99, bs.p99, ns.p99),
                ("p99.9", 0.999, bs.p99_9, ns.p99_9),
            ] {
                let spread =
                    |run: &super::LoadedPhase| run.histograms.get(metric).map_or(0.0, |h| quantile_spread(h, q));
                push(
                    format!("{metric} {label}"),
                    "ms",
                    bv as f64 / 1000.0,
                    nv as f64 / 1000.0,
                    Better::Lower,
                    combine(spread(bp), spread(np)),
                );
            }
        }
        push(
            "CPU per session".into(),
            "us",
            b.cpu.per_session_us,
            n.cpu.per_session_us,
            Better::Lower,
            0.0,
        );
        push(
            "CPU per transaction".into(),
            "us",
            b.cpu.per_transaction_us,
            n.cpu.per_transaction_us,
            Better::Lower,
            0.0,
        );
    }
    for np in &new.phases {
        if base.phase(&np.key).is_none() {
            cmp.only_new.push(np.key.clone());
        }
    }
    cmp
}

fn fmt_value(v: f64, unit: &str) -> String {
    match unit {
        "ms" => format!("{v:.3} ms"),
        "/s" => format!("{v:.1}/s"),
        _ => format!("{v:.1} {unit}"),
    }
}

/// The comparison as a text table.
pub fn render(cmp: &Comparison, base: &str, new: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "base: {base}\nnew:  {new}\n");
    if !cmp.differences.is_empty() {
        let _ = writeln!(
            out,
            "warning: the runs differ in more than their figures (a change below may come from these):"
        );
        for d in &cmp.differences {
            let _ = writeln!(out, "  {}: {} -> {}", d.what, d.base, d.new);
        }
        out.push('\n');
    }
    let headers = ["phase", "metric", "base", "new", "ratio", "noise", "verdict"];
    let cells: Vec<[String; 7]> = cmp
        .rows
        .iter()
        .map(|r| {
            [
                r.phase.clone(),
                r.metric.clone(),
                fmt_value(r.base, r.unit),
                fmt_value(r.new, r.unit),
                format!("{:.3}", r.ratio()),
                format!("±{:.1}%", r.noise_pct),
                r.verdict.to_string(),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |out: &mut String, row: &[&str]| {
        for (i, (c, w)) in row.iter().zip(widths).enumerate() {
            // Text columns left-aligned, figures right-aligned.
            if i < 2 || i == 6 {
                let _ = write!(out, "{c:<w$}  ");
            } else {
                let _ = write!(out, "{c:>w$}  ");
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    };
    line(&mut out, &headers);
    for row in &cells {
        line(&mut out, &row.each_ref().map(String::as_str));
    }
    let count = |v| cmp.rows.iter().filter(|r| r.verdict == v).count();
    let _ = writeln!(
        out,
        "\n{} worse, {} better, {} within noise",
        count(Verdict::Worse),
        count(Verdict::Better),
        count(Verdict::WithinNoise)
    );
    if !cmp.only_base.is_empty() {
        let _ = writeln!(out, "phases only in base: {}", cmp.only_base.join(", "));
    }
    if !cmp.only_new.is_empty() {
        let _ = writeln!(out, "phases only in new: {}", cmp.only_new.join(", "));
    }
    out
}

/// The rows worse by more than `pct` percent.
pub fn regressions(cmp: &Comparison, pct: f64) -> Vec<&Row> {
    cmp.rows
        .iter()
        .filter(|r| r.verdict == Verdict::Worse && r.worse_pct() > pct)
        .collect()
}

/// `sipbench diff`.
pub fn main(args: &DiffArgs) -> Result<ExitCode> {
    ensure!(
        args.noise.is_finite() && args.noise >= 0.0,
        "--noise must be a percentage >= 0"
    );
    if let Some(p) = args.fail_on_regression {
        ensure!(
            p.is_finite() && p >= 0.0,
            "--fail-on-regression must be a percentage >= 0"
        );
    }
    let base = LoadedRun::read(&args.base).context("reading the base run")?;
    let new = LoadedRun::read(&args.new).context("reading the new run")?;
    let cmp = compare(&base, &new, args.noise);
    let bad = args.fail_on_regression.map(|pct| regressions(&cmp, pct));
    if args.json {
        let doc = serde_json::json!({
            "schema": SCHEMA,
            "base": args.base,
            "new": args.new,
            "noise_floor_pct": args.noise,
            "differences": cmp.differences,
            "rows": cmp.rows.iter().map(|r| {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                v["ratio"] = serde_json::json!(r.ratio());
                v["worse_pct"] = serde_json::json!(r.worse_pct());
                v
            }).collect::<Vec<_>>(),
            "only_base": cmp.only_base,
            "only_new": cmp.only_new,
            "fail_on_regression_pct": args.fail_on_regression,
            "regressions": bad.as_ref().map(|b| b.iter().map(|r| format!("{} {}", r.phase, r.metric)).collect::<Vec<_>>()),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(if bad.is_some_and(|b| !b.is_empty()) {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    print!("{}", render(&cmp, &base.label(), &new.label()));
    if cmp.rows.is_empty() {
        println!("no phase name is present in both runs: nothing compared");
    }
    if let (Some(pct), Some(bad)) = (args.fail_on_regression, bad) {
        if !bad.is_empty() {
            println!("\nregressions worse than {pct}%:");
            for r in &bad {
                println!("  {} {}: {:+.1}% worse", r.phase, r.metric, r.worse_pct());
            }
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::new_histogram;

    #[test]
    fn verdicts_follow_direction_and_noise() {
        assert_eq!(verdict(100.0, 104.0, Better::Lower, 5.0), Verdict::WithinNoise);
        assert_eq!(verdict(100.0, 106.0, Better::Lower, 5.0), Verdict::Worse);
        assert_eq!(verdict(100.0, 94.0, Better::Lower, 5.0), Verdict::Better);
        assert_eq!(verdict(100.0, 94.0, Better::Higher, 5.0), Verdict::Worse);
        assert_eq!(verdict(100.0, 200.0, Better::Higher, 5.0), Verdict::Better);
        assert_eq!(verdict(0.0, 0.0, Better::Higher, 5.0), Verdict::WithinNoise);
        assert_eq!(verdict(0.0, 1.0, Better::Lower, 5.0), Verdict::Worse);
        assert_eq!(verdict(100.0, 120.0, Better::Lower, 25.0), Verdict::WithinNoise);
    }

    #[test]
    fn worse_pct_is_signed_by_direction() {
        let row = |base, new, better| Row {
            phase: "p".into(),
            metric: "m".into(),
            unit: "ms",
            base,
            new,
            better,
            noise_pct: 5.0,
            verdict: verdict(base, new, better, 5.0),
        };
        assert!((row(10.0, 20.0, Better::Lower).worse_pct() - 100.0).abs() < 1e-9);
        assert!((row(10.0, 5.0, Better::Higher).worse_pct() - 50.0).abs() < 1e-9);
        assert!(row(10.0, 5.0, Better::Lower).worse_pct() < 0.0);
    }

    #[test]
    fn spread_shrinks_with_samples() {
        let mut small = new_histogram();
        let mut large = new_histogram();
        for v in 1..=100u64 {
            small.record(v * 10).unwrap();
            large.record_n(v * 10, 100).unwrap();
        }
        let (s, l) = (quantile_spread(&small, 0.99), quantile_spread(&large, 0.99));
        assert!(s > l, "{s} > {l}");
        assert!(l < 0.05, "{l}");
        assert_eq!(quantile_spread(&new_histogram(), 0.5), 0.0);
    }
}
