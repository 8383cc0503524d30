//! `sipbench merge`: adds up the results files of the shards of one run (`run --shard I/N`)
//! into one file that `report` and `diff` read like any other.
//!
//! [`merge`] is pure over [`RunResult`] values; [`main`] reads, merges and writes. The rules:
//!
//! - The runs must be of one plan: the same schema, profile, key type, crypto backends and, phase
//!   by phase (matched by index and name), the same plan except for what a shard splits: its
//!   load (concurrency or rate; the load model must agree), `connections` and `sessions`. Any
//!   other difference is a [`MergeError`] naming the field and the two files.
//! - Histograms are decoded and added (HdrHistogram's `add` is lossless: the merged histogram
//!   is the one a single process would have recorded over the union of the samples), then
//!   re-encoded; `latency_us` is recomputed from them, never averaged.
//! - Counters are summed: sessions, failures by kind, transactions, bytes, handshakes,
//!   rejections, digest challenges, calls, UDP retransmissions, connect attempts per server,
//!   the embedded servers' counters.
//! - Rates are the sum of the shards' rates: the shards ran at the same time, each rate over
//!   its own measured time; `measured_s` is the longest. Figures derived from rates and counts
//!   (CPU per session, resumption ratio, MB/s per session, memory per session) are derived
//!   again from the sums. `calls.concurrent_max` is the sum of each shard's most (an upper
//!   bound: the shards' peaks need not coincide).
//! - Timelines are aligned by wall clock (each phase records when its window opened): a point
//!   of a shard that opened `d` seconds after the earliest lands `d` seconds later, and points
//!   falling into the same second are summed. Their `p50_us`/`p99_us` are the highest of the
//!   shards' (a point keeps no histogram: an upper bound). Without wall-clock times they align
//!   by offset.
//! - Every input's environment, command line and start are kept in `shards`; the merged file's
//!   own `environment` is the first input's, `workers` the sum, `merged_from` the count.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use hdrhistogram::Histogram;
use thiserror::Error;

use crate::plan::{Load, PhasePlan};
use crate::results::{
    Bulk, CallFigures, Cpu, HandshakeCounts, MergedInput, MessageFigures, NegotiatedCount, PhaseResult, Rates,
    RejectionFigures, RunResult, StormFigures, TimelinePoint,
};
use crate::stats::{Summary, decode_histogram, encode_histogram};

/// Options of `sipbench merge`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// Results files of the shards of one run (at least one).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The merged results file.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub out: PathBuf,
}

/// A results file to merge, with the name it is reported by.
#[derive(Debug, Clone)]
pub struct Input {
    /// The file as named on the command line.
    pub path: String,
    /// Its contents.
    pub result: RunResult,
}

/// Why runs do not merge.
#[derive(Debug, Error, PartialEq)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("nothing to merge")]
    Empty,
    /// The runs differ in a field that must agree.
    #[error("{field} differs: {first_value} in {first} but {other_value} in {other}; only runs of one plan merge")]
    Differs {
        /// The field, as a path into the results file (`phases[1].plan.mode`).
        field: String,
        /// The first input.
        first: String,
        /// Its value.
        first_value: String,
        /// The input that differs.
        other: String,
        /// Its value.
        other_value: String,
    },
    /// A histogram does not decode or add.
    #[error("{file}: phases[{phase}].histograms.{metric}: {problem}")]
    Histogram {
        /// The file.
        file: String,
        /// Phase index.
        phase: usize,
        /// Metric name.
        metric: String,
        /// What is wrong.
        problem: String,
    },
}

/// Entry point of `sipbench merge`.
pub fn main(args: &MergeArgs) -> Result<ExitCode> {
    let inputs = args
        .files
        .iter()
        .map(|p| read_input(p))
        .collect::<Result<Vec<_>>>()
        .map_err(crate::exit::config)?;
    let mut merged = merge(&inputs).map_err(crate::exit::config)?;
    merged.command = std::env::args().collect();
    merged
        .write(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let sessions: u64 = merged.phases.iter().map(|p| p.sessions.started).sum();
    println!(
        "merged {} files ({} phases, {sessions} sessions started) into {}",
        inputs.len(),
        merged.phases.len(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Merges the results of the shards of one run (see the module docs for the rules).
pub fn merge(inputs: &[Input]) -> Result<RunResult, MergeError> {
    let first = inputs.first().ok_or(MergeError::Empty)?;
    let a = &first.result;
    for other in &inputs[1..] {
        check_run(first, other)?;
    }
    let earliest_window = |i: &Input| i.result.phases.first().and_then(|p| p.window_start_unix_s);
    let t0 = inputs
        .iter()
        .map(earliest_window)
        .collect::<Option<Vec<f64>>>()
        .and_then(|v| v.into_iter().reduce(f64::min));
    let shards = inputs
        .iter()
        .map(|i| MergedInput {
            path: i.path.clone(),
            started_at: i.result.started_at.clone(),
            command: i.result.command.clone(),
            environment: i.result.environment.clone(),
            shard: i.result.shard,
            offset_s: t0.zip(earliest_window(i)).map(|(t0, t)| round(t - t0)),
            clock: i.result.clock.clone(),
        })
        .collect();
    let mut phases = Vec::with_capacity(a.phases.len());
    for index in 0..a.phases.len() {
        phases.push(merge_phase(inputs, index)?);
    }
    let mut target = a.target.clone();
    for i in &inputs[1..] {
        let t = &i.result.target;
        for (into, from) in [
            (&mut target.tls, &t.tls),
            (&mut target.mtls, &t.mtls),
            (&mut target.tcp, &t.tcp),
            (&mut target.udp, &t.udp),
        ] {
            for addr in from {
                if !into.contains(addr) {
                    into.push(addr.clone());
                }
            }
        }
    }
    let server = inputs
        .iter()
        .map(|i| i.result.server.clone())
        .collect::<Option<Vec<_>>>()
        .map(|all| {
            let sum = all
                .iter()
                .map(|s| serde_json::to_value(s).expect("server counters serialize"))
                .reduce(|x, y| sum_json(&x, &y))
                .expect("at least one input");
            serde_json::from_value(sum).expect("summed server counters keep their shape")
        });
    let mut warnings: Vec<String> = inputs
        .iter()
        .flat_map(|i| i.result.warnings.iter().map(move |w| format!("{}: {w}", i.path)))
        .collect();
    if let Some(count) = a.shard.map(|s| s.count) {
        let missing: Vec<String> = (0..count)
            .filter(|i| !inputs.iter().any(|x| x.result.shard.is_some_and(|s| s.index == *i)))
            .map(|i| i.to_string())
            .collect();
        if !missing.is_empty() {
            warnings.push(format!(
                "merged {} of {count} shards: shard(s) {} missing",
                inputs.len(),
                missing.join(", ")
            ));
        }
    }
    warnings.extend(clock_disagreement(inputs));
    Ok(RunResult {
        schema: a.schema.clone(),
        started_at: inputs
            .iter()
            .map(|i| i.result.started_at.clone())
            .min()
            .expect("at least one input"),
        written_at: crate::results::now_rfc3339(),
        complete: inputs.iter().all(|i| i.result.complete),
        interrupted: inputs.iter().any(|i| i.result.interrupted),
        command: ["sipbench", "merge"]
            .into_iter()
            .map(String::from)
            .chain(inputs.iter().map(|i| i.path.clone()))
            .collect(),
        profile: a.profile.clone(),
        target,
        environment: a.environment.clone(),
        key_type: a.key_type.clone(),
        workers: inputs.iter().map(|i| i.result.workers).sum(),
        phases,
        server,
        warnings,
        shard: None,
        start_at: a.start_at.clone(),
        merged_from: Some(inputs.len()),
        shards,
        clock: None,
        // A capacity search is one process's bisection; its steps are phases, merged above.
        capacity: None,
    })
}

/// A warning when two inputs' clocks, as each measured against the target, certainly differ:
/// their bounds do not overlap, so their windows' wall-clock alignment is off by at least the
/// gap.
fn clock_disagreement(inputs: &[Input]) -> Option<String> {
    let measured: Vec<(&str, &crate::results::ClockOffset)> = inputs
        .iter()
        .filter_map(|i| Some((i.path.as_str(), i.result.clock.as_ref().filter(|c| c.samples > 0)?)))
        .collect();
    let lowest_high = measured.iter().min_by(|a, b| a.1.high_ms.total_cmp(&b.1.high_ms))?;
    let highest_low = measured.iter().max_by(|a, b| a.1.low_ms.total_cmp(&b.1.low_ms))?;
    let gap = highest_low.1.low_ms - lowest_high.1.high_ms;
    (gap > 0.0).then(|| {
        format!(
            "the shards' clocks differ: {} is at least {gap:.1} ms behind {} (each measured against the target); their phases did not start on one instant",
            highest_low.0, lowest_high.0
        )
    })
}

/// Fails when `other` is not a run of `first`'s plan.
fn check_run(first: &Input, other: &Input) -> Result<(), MergeError> {
    let (a, b) = (&first.result, &other.result);
    let differs = |field: &str, x: String, y: String| MergeError::Differs {
        field: field.to_owned(),
        first: first.path.clone(),
        first_value: x,
        other: other.path.clone(),
        other_value: y,
    };
    let same = |field: &str, x: &dyn std::fmt::Debug, y: &dyn std::fmt::Debug| {
        let (x, y) = (format!("{x:?}"), format!("{y:?}"));
        if x == y { Ok(()) } else { Err(differs(field, x, y)) }
    };
    same("schema", &a.schema, &b.schema)?;
    same("profile", &a.profile, &b.profile)?;
    same("target.kind", &a.target.kind, &b.target.kind)?;
    same("key_type", &a.key_type, &b.key_type)?;
    same("environment.backend", &a.environment.backend, &b.environment.backend)?;
    same(
        "environment.server_backend",
        &a.environment.server_backend,
        &b.environment.server_backend,
    )?;
    same("merged_from", &a.merged_from, &b.merged_from)?;
    same("shard.count", &a.shard.map(|s| s.count), &b.shard.map(|s| s.count))?;
    if let (Some(x), Some(y)) = (a.shard, b.shard) {
        if x.index == y.index {
            return Err(differs("shard.index", "the same shard".into(), format!("{}", y.index)));
        }
    }
    same("phases (count)", &a.phases.len(), &b.phases.len())?;
    for (i, (pa, pb)) in a.phases.iter().zip(&b.phases).enumerate() {
        let (x, y) = (plan_json(&pa.plan), plan_json(&pb.plan));
        let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
        for key in keys {
            let (vx, vy) = (x.get(key), y.get(key));
            if vx != vy {
                let show = |v: Option<&serde_json::Value>| v.map_or("absent".to_owned(), |v| v.to_string());
                return Err(differs(&format!("phases[{i}].plan.{key}"), show(vx), show(vy)));
            }
        }
    }
    Ok(())
}

/// A phase plan as JSON without the fields a shard splits (the load model stays).
fn plan_json(plan: &PhasePlan) -> serde_json::Map<String, serde_json::Value> {
    let mut v = match serde_json::to_value(plan).expect("plans serialize") {
        serde_json::Value::Object(m) => m,
        _ => unreachable!("a plan serializes as an object"),
    };
    v.remove("connections");
    v.remove("sessions");
    if let Some(serde_json::Value::Object(load)) = v.get_mut("load") {
        load.retain(|k, _| k == "model");
    }
    v
}

/// Adds two JSON values of one shape: numbers add, objects add key by key (a key of one only
/// is kept), anything else keeps the first.
fn sum_json(x: &serde_json::Value, y: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match (x, y) {
        (Value::Number(a), Value::Number(b)) => match (a.as_u64(), b.as_u64()) {
            (Some(a), Some(b)) => Value::from(a.saturating_add(b)),
            _ => Value::from(a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0)),
        },
        (Value::Object(a), Value::Object(b)) => {
            let mut out = a.clone();
            for (k, v) in b {
                let summed = match a.get(k) {
                    Some(av) => sum_json(av, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), summed);
            }
            Value::Object(out)
        }
        _ => x.clone(),
    }
}

fn add_maps(maps: impl Iterator<Item = BTreeMap<String, u64>>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for m in maps {
        for (k, v) in m {
            *out.entry(k).or_insert(0) += v;
        }
    }
    out
}

/// Merges phase `index` of every input (the inputs are checked to be of one plan).
fn merge_phase(inputs: &[Input], index: usize) -> Result<PhaseResult, MergeError> {
    let ps: Vec<&PhaseResult> = inputs.iter().map(|i| &i.result.phases[index]).collect();
    let a = ps[0];
    let sum = |f: &dyn Fn(&PhaseResult) -> u64| ps.iter().map(|p| f(p)).sum::<u64>();
    let fsum = |f: &dyn Fn(&PhaseResult) -> f64| round(ps.iter().map(|p| f(p)).sum::<f64>());

    let mut plan = a.plan.clone();
    plan.load = match a.plan.load {
        Load::Closed { .. } => Load::Closed {
            concurrency: ps
                .iter()
                .map(|p| match p.plan.load {
                    Load::Closed { concurrency } => concurrency,
                    Load::Open { .. } => 0,
                })
                .sum(),
        },
        Load::Open { .. } => Load::Open {
            rate: fsum(&|p| match p.plan.load {
                Load::Open { rate } => rate,
                Load::Closed { .. } => 0.0,
            }),
        },
    };
    plan.connections = ps.iter().map(|p| p.plan.connections).sum();
    plan.sessions = ps.iter().map(|p| p.plan.sessions).sum();

    // Histograms: decoded, added, re-encoded; the summaries come from the sums.
    let mut hists: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    for (input, p) in inputs.iter().zip(&ps) {
        for (metric, text) in &p.histograms {
            let bad = |problem: String| MergeError::Histogram {
                file: input.path.clone(),
                phase: index,
                metric: metric.clone(),
                problem,
            };
            let h = decode_histogram(text).map_err(bad)?;
            match hists.get_mut(metric) {
                Some(into) => into.add(&h).map_err(|e| bad(format!("{e:?}")))?,
                None => {
                    hists.insert(metric.clone(), h);
                }
            }
        }
    }
    let latency_us = hists.iter().map(|(m, h)| (m.clone(), Summary::of(h))).collect();
    let histograms = hists.iter().map(|(m, h)| (m.clone(), encode_histogram(h))).collect();

    let mut negotiated: Vec<NegotiatedCount> = Vec::new();
    for n in ps.iter().flat_map(|p| &p.negotiated) {
        match negotiated.iter_mut().find(|m| {
            NegotiatedCount {
                count: n.count,
                ..(*m).clone()
            } == *n
        }) {
            Some(m) => m.count += n.count,
            None => negotiated.push(n.clone()),
        }
    }
    let (full, full_hrr, resumed, resumed_0rtt) = (
        sum(&|p| p.handshakes.full),
        sum(&|p| p.handshakes.full_hrr),
        sum(&|p| p.handshakes.resumed),
        sum(&|p| p.handshakes.resumed_0rtt),
    );
    let all = full + full_hrr + resumed + resumed_0rtt;
    let handshakes = HandshakeCounts {
        full,
        full_hrr,
        resumed,
        resumed_0rtt,
        resumption_ratio: if all > 0 {
            round((resumed + resumed_0rtt) as f64 / all as f64)
        } else {
            0.0
        },
        resumed_by: add_maps(ps.iter().map(|p| p.handshakes.resumed_by.clone())),
    };

    let sessions = crate::results::SessionCounts {
        started: sum(&|p| p.sessions.started),
        ok: sum(&|p| p.sessions.ok),
        failed: sum(&|p| p.sessions.failed),
    };
    let mut transactions: BTreeMap<String, crate::results::TxnCounts> = BTreeMap::new();
    for (m, t) in ps.iter().flat_map(|p| &p.transactions) {
        let e = transactions
            .entry(m.clone())
            .or_insert(crate::results::TxnCounts { ok: 0, failed: 0 });
        e.ok += t.ok;
        e.failed += t.failed;
    }
    let txns_ok: u64 = transactions.values().map(|t| t.ok).sum();
    let (user_s, system_s) = (fsum(&|p| p.cpu.user_s), fsum(&|p| p.cpu.system_s));
    let cpu_us = (user_s + system_s) * 1e6;
    let per_unit = |n: u64| if n > 0 { round(cpu_us / n as f64) } else { 0.0 };
    let cpu = Cpu {
        user_s,
        system_s,
        includes_server: ps.iter().any(|p| p.cpu.includes_server),
        per_session_us: per_unit(sessions.ok),
        per_transaction_us: per_unit(txns_ok),
    };
    let memory = ps.iter().map(|p| p.memory).collect::<Option<Vec<_>>>().map(|all| {
        let before: u64 = all.iter().map(|m| m.rss_before_bytes).sum();
        let held: u64 = all.iter().map(|m| m.rss_held_bytes).sum();
        let sessions: u64 = all.iter().map(|m| m.sessions_held).sum();
        crate::results::Memory {
            rss_before_bytes: before,
            rss_held_bytes: held,
            sessions_held: sessions,
            per_session_bytes: held.saturating_sub(before).checked_div(sessions).unwrap_or(0),
        }
    });
    let bulk = ps.iter().map(|p| p.bulk).collect::<Option<Vec<_>>>().map(|all| {
        let s = |f: &dyn Fn(&Bulk) -> f64| round(all.iter().map(f).sum::<f64>());
        let (bytes_out, bytes_in) = (
            all.iter().map(|b| b.bytes_out).sum::<u64>(),
            all.iter().map(|b| b.bytes_in).sum::<u64>(),
        );
        let moved = (bytes_out + bytes_in) as f64;
        let mb_per_s_out = s(&|b| b.mb_per_s_out);
        Bulk {
            record_size: all[0].record_size,
            records: all.iter().map(|b| b.records).sum(),
            bytes_out,
            bytes_in,
            mb_per_s_out,
            mb_per_s_in: s(&|b| b.mb_per_s_in),
            records_per_s: s(&|b| b.records_per_s),
            mb_per_s_per_session: round(mb_per_s_out / plan.connections.max(1) as f64),
            cpu_s_per_gb: if moved > 0.0 {
                round((user_s + system_s) / (moved / 1e9))
            } else {
                0.0
            },
        }
    });
    let messages = ps
        .iter()
        .map(|p| p.messages)
        .collect::<Option<Vec<_>>>()
        .map(|all| MessageFigures {
            body_size: all[0].body_size,
            window: all[0].window,
            messages_per_s: round(all.iter().map(|m| m.messages_per_s).sum()),
            body_mb_per_s: round(all.iter().map(|m| m.body_mb_per_s).sum()),
        });
    let storm = ps
        .iter()
        .map(|p| p.storm)
        .collect::<Option<Vec<_>>>()
        .map(|all| StormFigures {
            sessions: all.iter().map(|s| s.sessions).sum(),
            back: all.iter().map(|s| s.back).sum(),
            all_back_ms: all
                .iter()
                .map(|s| s.all_back_ms)
                .collect::<Option<Vec<f64>>>()
                .and_then(|v| v.into_iter().reduce(f64::max)),
        });
    let rejections = ps
        .iter()
        .map(|p| p.rejections.clone())
        .collect::<Option<Vec<_>>>()
        .map(|all| RejectionFigures {
            bad_cert: all[0].bad_cert.clone(),
            share: all[0].share,
            sessions: all.iter().map(|r| r.sessions).sum(),
            rejected: all.iter().map(|r| r.rejected).sum(),
            accepted: all.iter().map(|r| r.accepted).sum(),
            rejected_per_s: round(all.iter().map(|r| r.rejected_per_s).sum()),
            by_reason: add_maps(all.iter().map(|r| r.by_reason.clone())),
        });
    let calls = ps.iter().filter_map(|p| p.calls).reduce(|x, y| CallFigures {
        attempted: x.attempted + y.attempted,
        completed: x.completed + y.completed,
        failed: x.failed + y.failed,
        calls_per_s: round(x.calls_per_s + y.calls_per_s),
        concurrent_max: x.concurrent_max + y.concurrent_max,
        hold_s: x.hold_s,
    });
    let auth = ps
        .iter()
        .filter_map(|p| p.auth)
        .reduce(|x, y| crate::results::AuthFigures {
            challenges: x.challenges + y.challenges,
        });
    let udp = ps
        .iter()
        .filter_map(|p| p.udp)
        .reduce(|x, y| crate::results::UdpFigures {
            retransmissions: x.retransmissions + y.retransmissions,
        });
    let servers = ps
        .iter()
        .any(|p| p.servers.is_some())
        .then(|| add_maps(ps.iter().filter_map(|p| p.servers.clone())));

    let starts: Option<Vec<f64>> = ps.iter().map(|p| p.window_start_unix_s).collect();
    let t0 = starts.as_ref().and_then(|s| s.iter().copied().reduce(f64::min));
    let offsets: Vec<f64> = match (&starts, t0) {
        (Some(s), Some(t0)) => s.iter().map(|t| t - t0).collect(),
        _ => vec![0.0; ps.len()],
    };
    let timeline = merge_timelines(ps.iter().map(|p| p.timeline.as_slice()).zip(offsets));

    let mut merged = PhaseResult {
        plan,
        interrupted: ps.iter().any(|p| p.interrupted),
        measured_s: ps.iter().map(|p| p.measured_s).fold(0.0, f64::max),
        sessions,
        failures: add_maps(ps.iter().map(|p| p.failures.clone())),
        transactions,
        rates: Rates {
            sessions_per_s: fsum(&|p| p.rates.sessions_per_s),
            handshakes_per_s: fsum(&|p| p.rates.handshakes_per_s),
            transactions_per_s: fsum(&|p| p.rates.transactions_per_s),
        },
        latency_us,
        negotiated,
        handshakes,
        cpu,
        memory,
        bulk,
        messages,
        storm,
        rejections,
        thresholds: None,
        auth,
        calls,
        // Each shard's is its own process's against its own machine: not added up.
        efficiency: None,
        udp,
        servers,
        steps: merge_steps(&ps),
        timeline,
        window_start_unix_s: t0,
        bytes: crate::results::Bytes {
            out: sum(&|p| p.bytes.out),
            r#in: sum(&|p| p.bytes.r#in),
        },
        histograms,
    };
    if ps.iter().any(|p| p.thresholds.is_some()) {
        merged.thresholds = Some(crate::threshold::evaluate(&merged.plan.thresholds, &merged));
    }
    Ok(merged)
}

/// Step figures of shards that ran the same steps: counts and rates added, the worst p99 the
/// highest of the shards' (an upper bound, as in the timeline). `None` unless every shard has
/// them, step for step.
fn merge_steps(ps: &[&PhaseResult]) -> Option<Vec<crate::results::StepFigures>> {
    let all: Vec<&Vec<crate::results::StepFigures>> = ps.iter().map(|p| p.steps.as_ref()).collect::<Option<_>>()?;
    let first = all.first()?;
    if all.iter().any(|s| s.len() != first.len()) {
        return None;
    }
    Some(
        (0..first.len())
            .map(|i| {
                let mut m = first[i].clone();
                for s in &all[1..] {
                    let o = &s[i];
                    m.rate += o.rate;
                    m.sessions_ok += o.sessions_ok;
                    m.transactions_ok += o.transactions_ok;
                    m.failures += o.failures;
                    m.achieved_per_s += o.achieved_per_s;
                    m.worst_p99_us = m.worst_p99_us.max(o.worst_p99_us);
                }
                m
            })
            .collect(),
    )
}

/// Sums timelines, each shifted by its offset in seconds, into one-second buckets.
fn merge_timelines<'a>(timelines: impl Iterator<Item = (&'a [TimelinePoint], f64)>) -> Vec<TimelinePoint> {
    let mut buckets: BTreeMap<u64, TimelinePoint> = BTreeMap::new();
    for (points, offset) in timelines {
        for p in points {
            let t = p.t_s + offset;
            let second = t.max(0.0).floor() as u64;
            let b = buckets.entry(second).or_insert_with(|| TimelinePoint {
                t_s: second as f64,
                length_s: 0.0,
                sessions_ok: 0,
                transactions_ok: 0,
                failures: 0,
                bytes_out: 0,
                metric: p.metric.clone(),
                p50_us: 0,
                p99_us: 0,
                offered_per_s: None,
            });
            b.length_s = b.length_s.max(round((t + p.length_s - second as f64).min(1.0)));
            b.sessions_ok += p.sessions_ok;
            b.transactions_ok += p.transactions_ok;
            b.failures += p.failures;
            b.bytes_out += p.bytes_out;
            if let Some(o) = p.offered_per_s {
                b.offered_per_s = Some(b.offered_per_s.unwrap_or(0.0) + o);
            }
            if b.metric.is_empty() {
                b.metric = p.metric.clone();
            }
            b.p50_us = b.p50_us.max(p.p50_us);
            b.p99_us = b.p99_us.max(p.p99_us);
        }
    }
    buckets.into_values().collect()
}

/// Rounds to three decimals, as every figure of the results file is.
fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Reads `path` for [`merge`].
pub fn read_input(path: &Path) -> Result<Input> {
    Ok(Input {
        path: path.display().to_string(),
        result: RunResult::read(path)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Mode;
    use crate::stats::new_histogram;

    /// A stored one-phase run, its histograms replaced by one `session` histogram of `values`.
    fn run(path: &str, values: std::ops::RangeInclusive<u64>) -> Input {
        let mut result: RunResult =
            serde_json::from_str(include_str!("../results/default-20261129T091712Z.json")).expect("stored run parses");
        let mut h = new_histogram();
        for v in values {
            h.record(v).unwrap();
        }
        let p = &mut result.phases[0];
        p.histograms = BTreeMap::from([("session".to_owned(), encode_histogram(&h))]);
        p.latency_us = BTreeMap::from([("session".to_owned(), Summary::of(&h))]);
        p.sessions.started = h.len();
        p.sessions.ok = h.len();
        p.sessions.failed = 0;
        p.failures = BTreeMap::from([("reset".to_owned(), 1)]);
        Input {
            path: path.into(),
            result,
        }
    }

    #[test]
    fn halves_merge_into_the_histogram_of_the_union() {
        let (a, b) = (run("a.json", 1..=500), run("b.json", 501..=1000));
        let merged = merge(&[a.clone(), b.clone()]).unwrap();
        let p = &merged.phases[0];
        let mut union = new_histogram();
        for v in 1..=1000 {
            union.record(v).unwrap();
        }
        assert_eq!(p.latency_us["session"], Summary::of(&union));
        assert_eq!(p.latency_us["session"].p50, 500);
        assert_eq!(p.latency_us["session"].count, 1000);
        assert_eq!(decode_histogram(&p.histograms["session"]).unwrap(), union);
        assert_eq!(p.sessions.started, 1000);
        assert_eq!(p.failures["reset"], 2);
        let pa = &a.result.phases[0];
        assert_eq!(
            p.rates.sessions_per_s,
            round(pa.rates.sessions_per_s + b.result.phases[0].rates.sessions_per_s)
        );
        assert_eq!(p.plan.load, Load::Closed { concurrency: 128 });
        assert_eq!(merged.merged_from, Some(2));
        assert_eq!(merged.shards.len(), 2);
        assert_eq!(merged.shards[1].path, "b.json");
        assert_eq!(merged.workers, 2 * a.result.workers);
        // The timelines add up second by second (both started together: no stored start).
        let points = |r: &RunResult| r.phases[0].timeline.iter().map(|t| t.sessions_ok).sum::<u64>();
        assert_eq!(points(&merged), 2 * points(&a.result));
    }

    #[test]
    fn timelines_align_by_wall_clock() {
        let (mut a, mut b) = (run("a.json", 1..=10), run("b.json", 1..=10));
        let template = a.result.phases[0].timeline[0].clone();
        let points: Vec<TimelinePoint> = (0..3)
            .map(|i| TimelinePoint {
                t_s: i as f64,
                length_s: 1.0,
                sessions_ok: 10 + i,
                p99_us: 100 * (i + 1),
                ..template.clone()
            })
            .collect();
        for (r, start) in [(&mut a, 1000.0), (&mut b, 1002.0)] {
            r.result.phases[0].timeline = points.clone();
            r.result.phases[0].window_start_unix_s = Some(start);
        }
        let merged = merge(&[a, b]).unwrap();
        let tm = &merged.phases[0].timeline;
        let ok: Vec<u64> = tm.iter().map(|p| p.sessions_ok).collect();
        assert_eq!(ok, [10, 11, 12 + 10, 11, 12]);
        let t: Vec<f64> = tm.iter().map(|p| p.t_s).collect();
        assert_eq!(t, [0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(tm[2].p99_us, 300);
        assert_eq!(merged.shards[1].offset_s, Some(2.0));
        assert_eq!(merged.phases[0].window_start_unix_s, Some(1000.0));
    }

    #[test]
    fn shards_whose_clock_bounds_do_not_overlap_are_named() {
        let clock = |low_ms: f64, high_ms: f64| crate::results::ClockOffset {
            against: "192.0.2.1:5061".into(),
            offset_ms: (low_ms + high_ms) / 2.0,
            low_ms,
            high_ms,
            samples: 9,
            probes: 9,
            note: None,
        };
        let (mut a, mut b, mut c) = (run("a.json", 1..=10), run("b.json", 1..=10), run("c.json", 1..=10));
        a.result.clock = Some(clock(-1.0, 1.0));
        b.result.clock = Some(clock(0.5, 2.0));
        let merged = merge(&[a.clone(), b.clone()]).unwrap();
        assert!(merged.warnings.is_empty(), "overlapping bounds: {:?}", merged.warnings);
        assert_eq!(merged.shards[1].clock, b.result.clock);
        c.result.clock = Some(clock(4.0, 6.0));
        let merged = merge(&[a, b, c]).unwrap();
        assert_eq!(merged.warnings.len(), 1, "{:?}", merged.warnings);
        let w = &merged.warnings[0];
        assert!(w.contains("c.json is at least 3.0 ms behind a.json"), "{w}");
    }

    #[test]
    fn runs_of_different_plans_or_schemas_are_refused_naming_the_field() {
        let a = run("a.json", 1..=10);
        let mut b = run("b.json", 1..=10);
        b.result.schema = "sipbench-result/2".into();
        let e = merge(&[a.clone(), b]).unwrap_err();
        assert!(
            matches!(&e, MergeError::Differs { field, .. } if field == "schema"),
            "{e}"
        );
        let text = e.to_string();
        assert!(text.contains("a.json") && text.contains("b.json"), "{text}");

        let mut b = run("b.json", 1..=10);
        b.result.phases[0].plan.mode = Mode::Mtls;
        let e = merge(&[a.clone(), b]).unwrap_err();
        assert!(
            matches!(&e, MergeError::Differs { field, .. } if field == "phases[0].plan.mode"),
            "{e}"
        );

        let mut b = run("b.json", 1..=10);
        b.result.phases[0].plan.load = Load::Open { rate: 10.0 };
        let e = merge(&[a.clone(), b]).unwrap_err();
        assert!(
            matches!(&e, MergeError::Differs { field, .. } if field == "phases[0].plan.load"),
            "{e}"
        );

        // What a shard splits may differ.
        let mut b = run("b.json", 1..=10);
        b.result.phases[0].plan.load = Load::Closed { concurrency: 3 };
        b.result.phases[0].plan.connections = 7;
        assert!(merge(&[a.clone(), b]).is_ok());
        assert_eq!(merge(&[]).unwrap_err(), MergeError::Empty);
    }

    #[test]
    fn server_counters_add_up() {
        let x = serde_json::json!({"a": 1, "m": {"k": 2}, "s": "x"});
        let y = serde_json::json!({"a": 2, "m": {"k": 3, "j": 1}, "s": "y"});
        assert_eq!(
            sum_json(&x, &y),
            serde_json::json!({"a": 3, "m": {"k": 5, "j": 1}, "s": "x"})
        );
    }
}
