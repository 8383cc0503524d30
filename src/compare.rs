//! `sipbench compare`: the same phase once per backend (or key exchange group, or key type), in
//! interleaved rounds (A B C A B C ...) so that drift on a shared machine hits every variant
//! alike, then per variant the median and spread over the rounds, the ratio to the first
//! variant, and the resident memory per idle session.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::{Deserialize, Serialize};

use crate::generator::command::RunArgs;
use crate::generator::{ProfileSource, RunConfig, run};
use crate::pki::KeyType;
use crate::plan::{PhaseSpec, Workload};
use crate::results::{PhaseResult, now_rfc3339};
use crate::tls::Backend;

/// Options of `sipbench compare`: the variants, then the phase as for `sipbench run`.
#[derive(Debug, Clone, Args)]
#[command(mut_arg("out", |a| a.help("Compare file. [default: results/compare-TIME.json]")))]
pub struct CompareArgs {
    /// Compare these backends (generator and embedded server both use each), e.g.
    /// aws-lc-rs,ring,graviola.
    #[arg(long, value_delimiter = ',', value_enum)]
    pub backends: Vec<Backend>,
    /// Compare these key exchange groups (pinned), e.g. X25519,secp256r1,X25519MLKEM768.
    #[arg(long, value_delimiter = ',')]
    pub kx_groups: Vec<String>,
    /// Compare these certificate key types (the embedded PKI's), e.g. ecdsa-p256,rsa2048.
    #[arg(long, value_delimiter = ',', value_enum)]
    pub key_types: Vec<KeyType>,
    /// Interleaved rounds.
    #[arg(long, default_value_t = 3, value_parser = |s: &str| crate::limits::ranged(s, 1..=1000))]
    pub rounds: usize,
    /// Idle sessions held per variant to measure resident memory per session (0: skip).
    #[arg(long, default_value_t = 2000, value_parser = |s: &str| crate::limits::ranged(s, 0..=crate::limits::MAX_COUNT))]
    pub memory_sessions: usize,
    /// Internal: measure only this variant's memory and print it (run in a child process).
    #[arg(long, hide = true)]
    pub memory_only: Option<usize>,
    /// The phase, and the generator's options, as for `sipbench run` (one phase; its --out
    /// names the compare file).
    #[command(flatten)]
    pub run: RunArgs,
}

impl CompareArgs {
    /// The comparison these options describe; memory is measured in child processes.
    pub fn into_config(self) -> CompareConfig {
        CompareConfig {
            backends: self.backends,
            kx_groups: self.kx_groups,
            key_types: self.key_types,
            rounds: self.rounds,
            memory_sessions: self.memory_sessions,
            isolate_memory: true,
            run: self.run.into_config(),
        }
    }
}

/// A comparison: exactly one of `backends`, `kx_groups` and `key_types` names the variants;
/// `run` is the one phase and the generator's settings, as for [`run`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompareConfig {
    /// Compare these backends (generator and embedded server both use each).
    pub backends: Vec<Backend>,
    /// Compare these key exchange groups (pinned).
    pub kx_groups: Vec<String>,
    /// Compare these certificate key types (the embedded PKI's).
    pub key_types: Vec<KeyType>,
    /// Interleaved rounds.
    pub rounds: usize,
    /// Idle sessions held per variant to measure resident memory per session (0: skip).
    pub memory_sessions: usize,
    /// Measure each variant's memory in a fresh child process (this process's command line
    /// with `--memory-only`), so that memory the earlier runs left to the allocator does not
    /// hide the variant's own. Only the `sipbench compare` command can; a library caller
    /// measures in its own process.
    pub isolate_memory: bool,
    /// The phase and the generator's settings (`out` names the compare file, default
    /// `results/compare-<time>.json`).
    pub run: RunConfig,
}

/// What varies between variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dimension {
    /// `--backends`.
    Backend,
    /// `--kx-groups`.
    KxGroup,
    /// `--key-types`.
    KeyType,
}

/// Median and spread of one figure over the rounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Median over the rounds.
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// (max - min) / median, in percent.
    pub spread_pct: f64,
}

impl Spread {
    fn of(values: &[f64]) -> Spread {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        if v.is_empty() {
            return Spread {
                median: 0.0,
                min: 0.0,
                max: 0.0,
                spread_pct: 0.0,
            };
        }
        let median = if v.len() % 2 == 1 {
            v[v.len() / 2]
        } else {
            (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
        };
        let (min, max) = (v[0], v[v.len() - 1]);
        Spread {
            median: round(median),
            min: round(min),
            max: round(max),
            spread_pct: if median > 0.0 {
                round((max - min) / median * 100.0)
            } else {
                0.0
            },
        }
    }
}

/// One variant's summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantSummary {
    /// The variant (`ring`, `X25519`, `rsa2048`, ...).
    pub variant: String,
    /// What its handshakes negotiated (the most frequent tuple): protocol, suite, group, peer key.
    pub negotiated: String,
    /// The phase's throughput: sessions per second (transactions per second for kept sessions).
    pub rate_per_s: Spread,
    /// Completed TLS handshakes per second.
    pub handshakes_per_s: Spread,
    /// Median over the rounds of each latency metric's p50 and p99, microseconds.
    pub latency_us: std::collections::BTreeMap<String, (f64, f64)>,
    /// Process CPU (generator and embedded server) per handshake, microseconds.
    pub cpu_per_handshake_us: Spread,
    /// This variant's median rate over the first variant's.
    pub ratio_to_first: f64,
    /// Resident bytes per idle established session (both ends), when measured.
    pub memory_per_session_bytes: Option<u64>,
    /// Failures over all rounds.
    pub failures: u64,
}

/// One run of one variant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Round {
    /// Round number, from 1.
    pub round: usize,
    /// The variant.
    pub variant: String,
    /// Its phase result.
    pub result: PhaseResult,
}

/// The `schema` of compare files (results/schema-compare.json).
pub const SCHEMA: &str = "sipbench-compare/1";

impl CompareResult {
    /// Reads a compare file: [`SCHEMA`] or a later minor version of it, whose fields this
    /// version does not know are ignored (its `schema` is then [`SCHEMA`]).
    pub fn read(path: &std::path::Path) -> Result<CompareResult> {
        let mut c: CompareResult = crate::results::read_versioned(path, SCHEMA)?;
        c.schema = SCHEMA.into();
        Ok(c)
    }
}

/// The compare file (`sipbench-compare/1`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompareResult {
    /// `sipbench-compare/1`.
    pub schema: String,
    /// When it started.
    pub started_at: String,
    /// What varies.
    pub dimension: Dimension,
    /// The variants, in order (the first is the reference for ratios).
    pub variants: Vec<String>,
    /// Generator backend (for key-type and group comparisons).
    pub backend: String,
    /// Every run, in the order run (interleaved).
    pub rounds: Vec<Round>,
    /// Per variant.
    pub summary: Vec<VariantSummary>,
    /// The environment of the first run.
    pub environment: crate::sys::Environment,
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn variants(args: &CompareConfig) -> Result<(Dimension, Vec<(String, RunConfig)>)> {
    let given = [
        !args.backends.is_empty(),
        !args.kx_groups.is_empty(),
        !args.key_types.is_empty(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        bail!("give exactly one of --backends, --kx-groups or --key-types");
    }
    let base = RunConfig {
        quiet: true,
        hlog: None,
        ..args.run.clone()
    };
    let out = if !args.backends.is_empty() {
        let v = args.backends.iter().map(|b| {
            let a = RunConfig {
                backend: *b,
                server_backend: Some(args.run.server_backend.unwrap_or(*b)),
                ..base.clone()
            };
            (b.as_str().to_owned(), a)
        });
        (Dimension::Backend, v.collect())
    } else if !args.kx_groups.is_empty() {
        let v = args.kx_groups.iter().map(|g| {
            let mut a = base.clone();
            a.phase.kx_group = Some(g.clone());
            (g.clone(), a)
        });
        (Dimension::KxGroup, v.collect())
    } else {
        let v = args.key_types.iter().map(|k| {
            let mut a = base.clone();
            a.target.key_type = *k;
            (k.as_str().to_owned(), a)
        });
        (Dimension::KeyType, v.collect())
    };
    if args.rounds == 0 {
        bail!("--rounds: must be > 0");
    }
    Ok(out)
}

fn rate(p: &PhaseResult) -> f64 {
    match p.plan.workload {
        Workload::Kept | Workload::Messages => p.rates.transactions_per_s,
        _ => p.rates.sessions_per_s,
    }
}

fn negotiated(p: &PhaseResult) -> String {
    p.negotiated
        .iter()
        .max_by_key(|n| n.count)
        .map(|n| format!("{} {} {} · {}", n.protocol, n.cipher_suite, n.kx_group, n.peer_key))
        .unwrap_or_else(|| "none".into())
}

/// Resident memory per idle session: `n` sessions held by the variant's backend.
fn memory(args: &RunConfig, n: usize, dir: &std::path::Path, name: &str) -> Result<Option<u64>> {
    if n == 0 {
        return Ok(None);
    }
    let a = RunConfig {
        profile: ProfileSource::Default,
        phases: Vec::new(),
        phase: PhaseSpec {
            workload: Some(Workload::Hold),
            connections: Some(n),
            concurrency: None,
            rate: None,
            sessions: None,
            duration: Some(Duration::from_secs(1)),
            warmup: Some(Duration::ZERO),
            bad_cert: None,
            bad_cert_share: None,
            ..args.phase.clone()
        },
        out: Some(dir.join(format!("memory-{name}.json"))),
        ..args.clone()
    };
    let report = run(&a).with_context(|| format!("holding {n} sessions with {name}"))?;
    Ok(report
        .result
        .phases
        .first()
        .and_then(|p| p.memory)
        .map(|m| m.per_session_bytes))
}

/// Runs this command line again with `--memory-only i`: a fresh process holds the variant's
/// sessions and prints the bytes per session.
fn memory_in_child(i: usize) -> Result<Option<u64>> {
    let exe = std::env::current_exe().context("finding the sipbench executable")?;
    let out = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .arg("--memory-only")
        .arg(i.to_string())
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running the memory measurement")?;
    if !out.status.success() {
        bail!("the memory measurement of variant {i} failed ({})", out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.trim().parse().ok())
}

/// Runs the comparison and writes the compare file.
pub fn compare(args: &CompareConfig) -> Result<(CompareResult, PathBuf)> {
    let (dimension, variants) = variants(args)?;
    // One phase only: the plan must lower to exactly one.
    let (_, phases) = variants[0].1.plan()?;
    if phases.len() != 1 {
        bail!(
            "compare runs one phase; this plan has {} (pick one with --phase, or give phase flags without --profile)",
            phases.len()
        );
    }
    let path = args.run.out.clone().unwrap_or_else(|| {
        let stamp = now_rfc3339().replace([':', '-'], "");
        PathBuf::from("results").join(format!("compare-{stamp}.json"))
    });
    let scratch = tempfile::tempdir().context("creating a scratch directory")?;
    let mut rounds = Vec::new();
    let mut environment = None;
    let started_at = now_rfc3339();
    for r in 1..=args.rounds {
        for (name, a) in &variants {
            let a = RunConfig {
                out: Some(scratch.path().join(format!("{r}-{name}.json"))),
                ..a.clone()
            };
            if !args.run.quiet {
                eprintln!("round {r}/{}: {name}...", args.rounds);
            }
            let report = run(&a).with_context(|| format!("round {r}, {name}"))?;
            environment.get_or_insert_with(|| report.result.environment.clone());
            if report.result.interrupted {
                bail!("interrupted in round {r} ({name})");
            }
            let result = report
                .result
                .phases
                .into_iter()
                .next()
                .context("the run had no phase")?;
            rounds.push(Round {
                round: r,
                variant: name.clone(),
                result,
            });
        }
    }
    let mut summary = Vec::new();
    for (name, a) in &variants {
        let mine: Vec<&PhaseResult> = rounds
            .iter()
            .filter(|r| &r.variant == name)
            .map(|r| &r.result)
            .collect();
        let of = |f: &dyn Fn(&PhaseResult) -> f64| Spread::of(&mine.iter().map(|p| f(p)).collect::<Vec<_>>());
        let mut latency_us = std::collections::BTreeMap::new();
        for metric in ["handshake.full", "handshake.resumed", "session"] {
            let p50: Vec<f64> = mine
                .iter()
                .filter_map(|p| p.latency_us.get(metric).map(|s| s.p50 as f64))
                .collect();
            let p99: Vec<f64> = mine
                .iter()
                .filter_map(|p| p.latency_us.get(metric).map(|s| s.p99 as f64))
                .collect();
            if !p50.is_empty() {
                latency_us.insert(metric.to_owned(), (Spread::of(&p50).median, Spread::of(&p99).median));
            }
        }
        let cpu = of(&|p| {
            let handshakes =
                p.handshakes.full + p.handshakes.full_hrr + p.handshakes.resumed + p.handshakes.resumed_0rtt;
            if handshakes == 0 {
                f64::NAN
            } else {
                (p.cpu.user_s + p.cpu.system_s) * 1e6 / handshakes as f64
            }
        });
        summary.push(VariantSummary {
            variant: name.clone(),
            negotiated: mine.first().map(|p| negotiated(p)).unwrap_or_default(),
            rate_per_s: of(&rate),
            handshakes_per_s: of(&|p| p.rates.handshakes_per_s),
            latency_us,
            cpu_per_handshake_us: cpu,
            ratio_to_first: 0.0,
            memory_per_session_bytes: if args.isolate_memory && args.memory_sessions > 0 {
                memory_in_child(summary.len())?
            } else {
                memory(a, args.memory_sessions, scratch.path(), name)?
            },
            failures: mine.iter().map(|p| p.failures.values().sum::<u64>()).sum(),
        });
    }
    let first = summary[0].rate_per_s.median;
    for s in &mut summary {
        s.ratio_to_first = if first > 0.0 {
            round(s.rate_per_s.median / first)
        } else {
            0.0
        };
    }
    let result = CompareResult {
        schema: SCHEMA.into(),
        started_at,
        dimension,
        variants: variants.iter().map(|(n, _)| n.clone()).collect(),
        backend: args.run.backend.as_str().into(),
        rounds,
        summary,
        environment: environment.context("no run")?,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, serde_json::to_string_pretty(&result)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok((result, path))
}

/// The summary as a table.
pub fn table(c: &CompareResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} rounds of {} variants, interleaved; medians, spread = (max-min)/median",
        c.rounds.len() / c.variants.len().max(1),
        c.variants.len()
    );
    let _ = writeln!(
        out,
        "{:<16} {:>11} {:>7} {:>7} {:>12} {:>12} {:>12} {:>10} {:>9}  negotiated",
        "variant", "rate/s", "spread", "ratio", "hs p50 us", "hs p99 us", "cpu/hs us", "mem/sess", "failures"
    );
    for s in &c.summary {
        let (p50, p99) = s.latency_us.get("handshake.full").copied().unwrap_or((0.0, 0.0));
        let _ = writeln!(
            out,
            "{:<16} {:>11.1} {:>6.1}% {:>7.3} {:>12.0} {:>12.0} {:>12.0} {:>10} {:>9}  {}",
            s.variant,
            s.rate_per_s.median,
            s.rate_per_s.spread_pct,
            s.ratio_to_first,
            p50,
            p99,
            s.cpu_per_handshake_us.median,
            s.memory_per_session_bytes
                .map(|b| format!("{:.1} KiB", b as f64 / 1024.0))
                .unwrap_or_else(|| "-".into()),
            s.failures,
            s.negotiated
        );
    }
    out
}

/// Entry point.
pub fn main(args: &CompareArgs) -> Result<ExitCode> {
    let (json, quiet) = (args.run.json, args.run.quiet);
    let memory_only = args.memory_only;
    let args = args.clone().into_config();
    if let Some(i) = memory_only {
        let (_, variants) = variants(&args)?;
        let (name, a) = variants.get(i).context("--memory-only: no such variant")?;
        let scratch = tempfile::tempdir().context("creating a scratch directory")?;
        match memory(a, args.memory_sessions, scratch.path(), name)? {
            Some(bytes) => println!("{bytes}"),
            None => println!("none"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (result, path) = compare(&args)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else if quiet {
        eprintln!("compare file written to {}", path.display());
    } else {
        print!("{}", table(&result));
        println!("\ncompare file written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_median_and_range() {
        let s = Spread::of(&[10.0, 30.0, 20.0]);
        assert_eq!((s.median, s.min, s.max, s.spread_pct), (20.0, 10.0, 30.0, 100.0));
        assert_eq!(Spread::of(&[1.0, 3.0]).median, 2.0);
        assert_eq!(Spread::of(&[f64::NAN]).median, 0.0);
    }
}
