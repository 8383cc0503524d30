//! Reports from stored results files: `sipbench report` and `sipbench diff`.
//!
//! Everything here works from the JSON files `sipbench run` writes ([`RunResult`]); nothing is
//! measured. The histograms stored in each phase (HdrHistogram V2 + DEFLATE, microseconds) are
//! decoded and turned into:
//!
//! - **charts** ([`plot`]), as SVG and PNG, per phase only those that matter:
//!   - `latency`: the phase's main latency ([`main_metric`]: `session`, else the busiest
//!     `sip.<METHOD>`) by percentile, as HdrHistogram's plotter draws it (percentile on a 1/(1-p)
//!     axis that ends at the data's last percentile, latency on a log axis unless `--y-axis
//!     linear`). In an open-loop phase the latency corrected for coordinated omission (solid),
//!     the same as measured from the actual send (dashed) and the generator's lag (dotted) are
//!     overlaid;
//!   - `breakdown`: connect, handshakes, refusals and each SIP transaction by percentile, one
//!     line each;
//!   - `timeline`: rate (and rate offered), p50/p99 and failures second by second, on one time
//!     axis;
//!
//!   - `rate-latency`: with step rates or a ramp, latency and throughput against the rate
//!     offered;
//!
//!   with several runs also, per phase name, the runs' main latency and full handshake overlaid;
//!   for a `sipbench capacity` file, p99 and throughput against each step's rate with the limit
//!   and the knee, and the latency at the minimum, the knee and beyond, instead of charts per
//!   step; for a `sipbench compare` file ([`variants`]), the variants side by side with their
//!   spread over the rounds;
//! - **`.hgrm` files** ([`hgrm`]) of every metric: the percentile distribution text of
//!   HdrHistogram's `outputPercentileDistribution`, which HistogramLogAnalyzer and the online
//!   HdrHistogram plotter read;
//! - **`report.html`** ([`html`]): one self-contained page (inline SVG, no scripts, no external
//!   resources): a summary row per phase first, then with several runs what differed and the
//!   figures side by side, then each run's header and phases (charts, latency table, failures,
//!   counters).
//!
//! Layout of the output directory (default `<first file's stem>-report/` beside it):
//!
//! ```text
//! report.html
//! <run>/<phase>/latency|breakdown|timeline.svg|.png   charts (run = file stem)
//! <run>/<phase>/<metric>.hgrm                          every metric
//! compare/<phase>/latency|handshake.svg|.png           with several runs
//! <run>/capacity|steps.svg|.png                        a capacity search
//! <compare file>/rates|handshake|latency.svg|.png      a compare file
//! <compare file>/<variant>/<metric>.hgrm               its rounds added together
//! ```
//!
//! A file's kind is read from its `schema`: results (`sipbench-result/N`, from `run`,
//! `capacity` and `merge`) and compare files (`sipbench-compare/N`) are drawn; any other is
//! refused, naming what it is.
//!
//! `sipbench diff BASE NEW` ([`diff`]) compares two runs metric by metric; its noise rule is
//! documented there.

pub mod diff;
pub mod hgrm;
pub mod html;
pub mod plot;
pub mod variants;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use hdrhistogram::Histogram;

pub use self::diff::DiffArgs;
use self::plot::{Chart, Mark, RateLatency, RatePoint, Series, Stroke, YAxis};
pub use self::variants::LoadedCompare;
use crate::results::{PhaseResult, RunResult};
use crate::stats::decode_histogram;

/// Options of `sipbench report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Results files written by `sipbench run`, `capacity` or `merge` (with several, comparison
    /// charts overlay them), or compare files written by `sipbench compare`.
    #[arg(required = true, value_name = "RESULT.json")]
    pub files: Vec<PathBuf>,
    /// Directory to write the report into (created if missing). [default: STEM-report/ next to
    /// the first file, STEM its name without .json]
    #[arg(long, alias = "out", short_alias = 'o', value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Latency axis of the charts: log shows p50 and p99.99 alike; linear starts at 0.
    #[arg(long, value_enum, default_value_t = YAxis::Log, value_name = "SCALE")]
    pub y_axis: YAxis,
    /// Linear latency axis: the same as --y-axis linear.
    #[arg(long, conflicts_with = "y_axis")]
    pub linear: bool,
}

impl ReportArgs {
    /// The drawing options these flags ask for.
    pub fn options(&self) -> ReportOptions {
        ReportOptions {
            y_axis: if self.linear { YAxis::Linear } else { self.y_axis },
        }
    }
}

/// A results file with its histograms decoded.
#[derive(Debug, Clone)]
pub struct LoadedRun {
    /// Where it was read from.
    pub path: PathBuf,
    /// Short unique name: the file stem (suffixed `-2`, `-3`, ... when stems repeat).
    pub name: String,
    /// The file's contents.
    pub result: RunResult,
    /// One entry per phase, in file order.
    pub phases: Vec<LoadedPhase>,
}

/// A phase's key and decoded histograms.
#[derive(Debug, Clone)]
pub struct LoadedPhase {
    /// Phase name, suffixed `#2`, `#3`, ... when a name repeats in the file.
    pub key: String,
    /// Metric name to histogram (microseconds).
    pub histograms: BTreeMap<String, Histogram<u64>>,
}

impl LoadedRun {
    /// Reads `path` and decodes its histograms; errors name the file, phase and metric.
    pub fn read(path: &Path) -> Result<LoadedRun> {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Some(schema) = schema_of(&text)
            && !schema.starts_with("sipbench-result/")
        {
            bail!(
                "{}: {} (schema {schema:?}), not the results of a run: diff compares two files of sipbench run, \
                 capacity or merge; sipbench report draws this one",
                path.display(),
                kind_name(&schema)
            );
        }
        let result = RunResult::read(path)?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into());
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut phases = Vec::with_capacity(result.phases.len());
        for p in &result.phases {
            let n = seen.entry(p.plan.name.clone()).or_insert(0);
            *n += 1;
            let key = if *n == 1 {
                p.plan.name.clone()
            } else {
                format!("{}#{n}", p.plan.name)
            };
            let mut histograms = BTreeMap::new();
            for (metric, encoded) in &p.histograms {
                let h = decode_histogram(encoded)
                    .map_err(|e| anyhow::anyhow!("{}: phase {key:?}: histogram {metric:?}: {e}", path.display()))?;
                histograms.insert(metric.clone(), h);
            }
            phases.push(LoadedPhase { key, histograms });
        }
        Ok(LoadedRun {
            path: path.to_owned(),
            name: stem,
            result,
            phases,
        })
    }

    /// Legend text: the file stem, the profile and the git revision (12 characters).
    pub fn label(&self) -> String {
        let rev: String = self.result.environment.git_revision.chars().take(12).collect();
        format!("{} ({} @ {rev})", self.name, self.result.profile)
    }

    /// The phase with key `key`.
    pub fn phase(&self, key: &str) -> Option<(usize, &LoadedPhase)> {
        self.phases.iter().enumerate().find(|(_, p)| p.key == key)
    }
}

/// The `schema` field of a JSON document, if it has one.
pub fn schema_of(text: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Peek {
        schema: Option<String>,
    }
    serde_json::from_str::<Peek>(text).ok()?.schema
}

/// What a file of schema `schema` is, in words.
fn kind_name(schema: &str) -> &'static str {
    match schema.split('/').next().unwrap_or_default() {
        "sipbench-compare" => "a sipbench compare file",
        "sipbench-audit" => "a sipbench audit file",
        "sipbench-diff" => "the output of sipbench diff --json",
        "sipbench-result" => "a results file",
        _ => "not a sipbench file",
    }
}

/// The files `sipbench report` read: runs (`sipbench run`, `capacity`, `merge`) and compare
/// files, each in the order given, every one with a distinct name.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Results of runs.
    pub runs: Vec<LoadedRun>,
    /// Compare files.
    pub compares: Vec<LoadedCompare>,
}

/// Reads every file, by its kind (its `schema`), giving repeated stems distinct names.
pub fn load_inputs(paths: &[PathBuf]) -> Result<Inputs> {
    let mut inputs = Inputs::default();
    let mut names: Vec<String> = Vec::new();
    let mut unique = |stem: &str| {
        let base = sanitize(stem);
        let mut name = base.clone();
        let mut i = 1;
        while names.contains(&name) || name == "compare" {
            i += 1;
            name = format!("{base}-{i}");
        }
        names.push(name.clone());
        name
    };
    for path in paths {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        match schema_of(&text) {
            Some(s) if s.starts_with("sipbench-compare/") => {
                let mut c = LoadedCompare::parse(path, &text)?;
                c.name = unique(&c.name);
                inputs.compares.push(c);
            }
            Some(s) if !s.starts_with("sipbench-result/") => bail!(
                "{}: {} (schema {s:?}): sipbench report reads the files of sipbench run, capacity, merge and compare",
                path.display(),
                kind_name(&s)
            ),
            _ => {
                let mut run = LoadedRun::read(path)?;
                run.name = unique(&run.name);
                inputs.runs.push(run);
            }
        }
    }
    Ok(inputs)
}

/// Reads every file as a run, giving repeated stems distinct names.
pub fn load_all(paths: &[PathBuf]) -> Result<Vec<LoadedRun>> {
    let inputs = load_inputs(paths)?;
    if let Some(c) = inputs.compares.first() {
        bail!("{}: a compare file, not the results of a run", c.path.display());
    }
    Ok(inputs.runs)
}

/// A file-name-safe form of `s`: ASCII letters, digits, `.`, `-` and `_` kept, the rest `_`.
pub fn sanitize(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match out.as_str() {
        "" | "." | ".." => format!("_{out}"),
        _ => out,
    }
}

/// One chart written to disk, with what the HTML page needs of it.
#[derive(Debug, Clone)]
pub struct WrittenChart {
    /// Phase key (empty for a chart of the whole file).
    pub phase: String,
    /// The chart's name: `latency`, `breakdown`, `timeline`, `rate-latency`, ...
    pub metric: String,
    /// The SVG text, for inlining.
    pub svg: String,
    /// Paths relative to the output directory.
    pub svg_path: String,
    /// PNG path, relative.
    pub png_path: String,
    /// The `.hgrm` files of the metrics drawn, relative.
    pub hgrm: Vec<String>,
}

/// What [`write_report`] wrote.
#[derive(Debug, Clone, Default)]
pub struct Written {
    /// Per run (same order as the input), its charts.
    pub runs: Vec<Vec<WrittenChart>>,
    /// Comparison charts (several runs only).
    pub compare: Vec<WrittenChart>,
    /// Per compare file (same order as the input), its charts.
    pub compares: Vec<Vec<WrittenChart>>,
    /// Every file written, `report.html` last.
    pub files: Vec<PathBuf>,
}

/// How the charts are drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportOptions {
    /// The latency axis.
    pub y_axis: YAxis,
}

pub(crate) fn write_file(out: &Path, rel: &str, bytes: &[u8], files: &mut Vec<PathBuf>) -> Result<()> {
    let path = out.join(rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    files.push(path);
    Ok(())
}

/// Writes an SVG and a PNG as `stem.svg` and `stem.png`.
pub(crate) fn write_rendered(
    out: &Path,
    stem: &str,
    (svg, png): (String, Vec<u8>),
    phase: &str,
    name: &str,
    files: &mut Vec<PathBuf>,
) -> Result<WrittenChart> {
    let svg_path = format!("{stem}.svg");
    let png_path = format!("{stem}.png");
    write_file(out, &svg_path, svg.as_bytes(), files)?;
    write_file(out, &png_path, &png, files)?;
    Ok(WrittenChart {
        phase: phase.to_owned(),
        metric: name.to_owned(),
        svg,
        svg_path,
        png_path,
        hgrm: Vec::new(),
    })
}

/// Legend text of a latency corrected for coordinated omission (open loop).
pub const CORRECTED: &str = "corrected for coordinated omission";
/// Legend text of the same latency as measured, from the actual send.
pub const AS_MEASURED: &str = "as measured";

/// The phase's main latency metric: `session`, else the busiest `sip.<METHOD>`, else the
/// handshake.
pub fn main_metric(p: &PhaseResult) -> Option<&str> {
    if p.latency_us.contains_key("session") {
        return Some("session");
    }
    p.latency_us
        .iter()
        .filter(|(k, _)| k.starts_with("sip.") && !k.ends_with(".uncorrected"))
        .max_by_key(|(_, s)| s.count)
        .map(|(k, _)| k.as_str())
}

/// `metric` of `histograms` as one series, or, with its `.uncorrected` twin (open loop), two:
/// corrected solid in `colors.0`, as measured dashed in `colors.1`. `prefix` names the run.
pub(crate) fn latency_series(
    histograms: &BTreeMap<String, Histogram<u64>>,
    metric: &str,
    prefix: &str,
    colors: (usize, usize),
) -> Vec<Series> {
    let Some(h) = histograms.get(metric) else {
        return Vec::new();
    };
    let name = if prefix.is_empty() {
        metric.to_owned()
    } else {
        format!("{prefix}: {metric}")
    };
    match histograms.get(&format!("{metric}.uncorrected")) {
        Some(u) => vec![
            Series::from_rows(format!("{name}, {CORRECTED}"), &hgrm::rows(h)).color(colors.0),
            Series::from_rows(format!("{name}, {AS_MEASURED}"), &hgrm::rows(u))
                .color(colors.1)
                .stroke(Stroke::Dashed),
        ],
        None => vec![Series::from_rows(name, &hgrm::rows(h)).color(colors.0)],
    }
}

/// The metrics of a phase's breakdown chart: set-up first, then the transactions, then any
/// other (never the `.uncorrected` twins, the generator's lag or the main metric `session`).
fn breakdown_metrics<'a>(histograms: &'a BTreeMap<String, Histogram<u64>>, main: Option<&str>) -> Vec<&'a str> {
    let order = |m: &str| match m {
        "connect" => 0,
        "handshake.full" => 1,
        "handshake.resumed" => 2,
        "rejection" => 3,
        m if m.starts_with("sip.") => 4,
        _ => 5,
    };
    let mut out: Vec<&str> = histograms
        .keys()
        .map(String::as_str)
        .filter(|m| !m.ends_with(".uncorrected") && *m != "generator.lag")
        .filter(|m| Some(*m) != main || m.starts_with("sip."))
        .collect();
    out.sort_by_key(|m| order(m));
    out
}

/// Writes a phase's charts: its main latency (corrected and as measured overlaid, with the
/// generator's lag), the breakdown (set-up and transactions) and the timeline.
fn write_phase_charts(
    out: &Path,
    run: &LoadedRun,
    index: usize,
    opts: ReportOptions,
    files: &mut Vec<PathBuf>,
) -> Result<Vec<WrittenChart>> {
    let phase = &run.phases[index];
    let result = &run.result.phases[index];
    let dir = format!("{}/{}", run.name, sanitize(&phase.key));
    let hgrm_of = |m: &str| format!("{dir}/{}.hgrm", sanitize(m));
    let mut charts = Vec::new();
    let main = main_metric(result).filter(|m| phase.histograms.contains_key(*m));
    if let Some(main) = main {
        let mut series = latency_series(&phase.histograms, main, "", (0, 1));
        let mut hgrm = vec![hgrm_of(main)];
        if series.len() > 1 {
            hgrm.push(hgrm_of(&format!("{main}.uncorrected")));
        }
        if let Some(lag) = phase.histograms.get("generator.lag") {
            series.push(
                Series::from_rows("generator lag: sent behind schedule", &hgrm::rows(lag)).stroke(Stroke::Reference),
            );
            hgrm.push(hgrm_of("generator.lag"));
        }
        let chart = Chart {
            title: format!("{} · {} · {main} latency", run.name, phase.key),
            series,
            y_axis: opts.y_axis,
        };
        let mut c = write_rendered(
            out,
            &format!("{dir}/latency"),
            plot::chart(&chart)?,
            &phase.key,
            "latency",
            files,
        )?;
        c.hgrm = hgrm;
        charts.push(c);
    }
    if let Some(r) = rate_latency(run, index, opts) {
        charts.push(write_rendered(
            out,
            &format!("{dir}/rate-latency"),
            plot::rate_latency(&r)?,
            &phase.key,
            "rate-latency",
            files,
        )?);
    }
    let parts = breakdown_metrics(&phase.histograms, main);
    if !parts.is_empty() {
        let series = parts
            .iter()
            .enumerate()
            .map(|(i, m)| Series::from_rows(*m, &hgrm::rows(&phase.histograms[*m])).color(i))
            .collect();
        let chart = Chart {
            title: format!("{} · {} · set-up and transactions", run.name, phase.key),
            series,
            y_axis: opts.y_axis,
        };
        let mut c = write_rendered(
            out,
            &format!("{dir}/breakdown"),
            plot::chart(&chart)?,
            &phase.key,
            "breakdown",
            files,
        )?;
        c.hgrm = parts.iter().map(|m| hgrm_of(m)).collect();
        charts.push(c);
    }
    if let Some(t) = timeline(run, index, opts) {
        charts.push(write_rendered(
            out,
            &format!("{dir}/timeline"),
            plot::timeline(&t)?,
            &phase.key,
            "timeline",
            files,
        )?);
    }
    Ok(charts)
}

/// A phase's timeline (per-second rate and rate offered, failures, p50/p99), when it has one.
fn timeline(run: &LoadedRun, index: usize, opts: ReportOptions) -> Option<plot::Timeline> {
    let result = &run.result.phases[index];
    let tl = &result.timeline;
    if tl.is_empty() {
        return None;
    }
    let sessions = result.plan.workload == crate::plan::Workload::Sessions;
    // The last interval can be a few milliseconds of drain after the window: too short to plot
    // as a rate (it stays in the data). A phase shorter than a second keeps its one interval.
    let drain = |i: usize, t: &crate::results::TimelinePoint| i > 0 && i + 1 == tl.len() && t.length_s < 0.2;
    let end_s = tl
        .iter()
        .enumerate()
        .filter(|(i, t)| !drain(*i, t))
        .map(|(_, t)| t.t_s + t.length_s)
        .fold(0.0, f64::max);
    let points = tl
        .iter()
        .enumerate()
        .filter(|(i, t)| !drain(*i, t))
        .map(|(_, t)| {
            let secs = t.length_s.max(1e-3);
            let done = if sessions {
                t.sessions_ok
            } else {
                t.transactions_ok.max(t.sessions_ok)
            };
            plot::TimePoint {
                // Each point stands for its interval, so it is drawn at the interval's middle.
                t: t.t_s + t.length_s / 2.0,
                rate: done as f64 / secs,
                offered: t.offered_per_s,
                failures: t.failures as f64 / secs,
                p50: t.p50_us as f64 / 1000.0,
                p99: t.p99_us as f64 / 1000.0,
            }
        })
        .collect();
    Some(plot::Timeline {
        title: format!("{} · {} · timeline", run.name, run.phases[index].key),
        rate_label: if sessions {
            "sessions/s".into()
        } else {
            "transactions/s".into()
        },
        metric: tl
            .iter()
            .map(|t| t.metric.as_str())
            .find(|m| !m.is_empty())
            .unwrap_or("latency")
            .to_owned(),
        points,
        end_s,
        y_axis: opts.y_axis,
    })
}

/// Writes charts, `.hgrm` files and `report.html` for `inputs` into `out`.
pub fn write_report(inputs: &Inputs, out: &Path, opts: ReportOptions) -> Result<Written> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let runs = &inputs.runs;
    let mut written = Written::default();
    for c in &inputs.compares {
        let charts = variants::write_charts(c, out, opts, &mut written.files)?;
        written.compares.push(charts);
    }
    for run in runs {
        let mut charts = Vec::new();
        if run.result.capacity.is_some() {
            charts.extend(write_capacity_charts(out, run, opts, &mut written.files)?);
        }
        for (index, phase) in run.phases.iter().enumerate() {
            // Every metric's distribution as text, for HdrHistogram's own tools.
            for (metric, h) in &phase.histograms {
                let path = format!("{}/{}/{}.hgrm", run.name, sanitize(&phase.key), sanitize(metric));
                write_file(
                    out,
                    &path,
                    hgrm::percentile_distribution(h).as_bytes(),
                    &mut written.files,
                )?;
            }
            // A capacity search's steps are drawn together (above), not one by one.
            if run.result.capacity.is_none() {
                charts.extend(write_phase_charts(out, run, index, opts, &mut written.files)?);
            }
        }
        written.runs.push(charts);
    }
    if runs.len() > 1 {
        written.compare = write_comparison(runs, out, opts, &mut written.files)?;
    }
    let page = html::page(inputs, &written, opts);
    write_file(out, "report.html", page.as_bytes(), &mut written.files)?;
    Ok(written)
}

/// The p99 limit (ms) among threshold expressions, if one is set.
fn p99_limit_ms<'a>(thresholds: impl IntoIterator<Item = &'a str>) -> Option<f64> {
    thresholds.into_iter().find_map(|t| {
        let t: crate::threshold::Threshold = t.parse().ok()?;
        match &t.metric {
            crate::threshold::Metric::Latency { stat, .. } if stat == "p99" => Some(t.limit / 1000.0),
            _ => None,
        }
    })
}

/// A capacity search's charts: p99 (and p50, p99 as measured) and throughput against each
/// step's rate, with the limit and the knee; and the latency distribution at the minimum, at
/// the knee and at the lowest rate beyond it.
fn write_capacity_charts(
    out: &Path,
    run: &LoadedRun,
    opts: ReportOptions,
    files: &mut Vec<PathBuf>,
) -> Result<Vec<WrittenChart>> {
    let Some(cap) = &run.result.capacity else {
        return Ok(Vec::new());
    };
    use crate::capacity::Verdict;
    let metric = cap.steps.first().map_or("session".to_owned(), |s| s.metric.clone());
    let knee = cap.knee.as_ref().map(|k| k.rate);
    let chart = RateLatency {
        title: format!("{} · capacity search: {metric} against the rate offered", run.name),
        metric: metric.clone(),
        p99_label: "p99".into(),
        points: cap
            .steps
            .iter()
            .map(|s| RatePoint {
                offered: s.rate,
                achieved: s.achieved_per_s,
                p50: Some(s.p50_us as f64 / 1000.0),
                p99: s.p99_us as f64 / 1000.0,
                p99_measured: (s.p99_uncorrected_us != s.p99_us).then_some(s.p99_uncorrected_us as f64 / 1000.0),
                mark: match s.verdict {
                    Verdict::Pass => Mark::Pass,
                    Verdict::Fail => Mark::Fail,
                    Verdict::GeneratorLimited => Mark::GeneratorLimited,
                },
            })
            .collect(),
        p99_limit: p99_limit_ms(cap.thresholds.iter().map(String::as_str)),
        knee,
        y_axis: opts.y_axis,
    };
    let mut charts = vec![write_rendered(
        out,
        &format!("{}/capacity", run.name),
        plot::rate_latency(&chart)?,
        "",
        "capacity",
        files,
    )?];
    // The last run at the minimum, at the knee, and at the lowest rate above it that did not pass.
    let last_at = |rate: f64, pass: bool| {
        cap.steps
            .iter()
            .rev()
            .find(|s| s.rate == rate && (s.verdict == Verdict::Pass) == pass)
    };
    let mut picked = Vec::new();
    if let Some(first) = cap.steps.first() {
        picked.push((first, "minimum".to_owned()));
    }
    if let Some(k) = knee.and_then(|k| last_at(k, true)) {
        picked.push((k, "knee".to_owned()));
    }
    if let Some(beyond) = cap
        .steps
        .iter()
        .filter(|s| s.verdict != Verdict::Pass && knee.is_none_or(|k| s.rate > k))
        .map(|s| s.rate)
        .min_by(f64::total_cmp)
        .and_then(|rate| last_at(rate, false))
    {
        picked.push((beyond, format!("beyond the knee ({})", beyond.verdict.as_str())));
    }
    picked.dedup_by(|a, b| a.0.phase == b.0.phase);
    let mut series = Vec::new();
    let mut hgrm = Vec::new();
    for (i, (step, what)) in picked.iter().enumerate() {
        let Some(h) = run.phase(&step.phase).map(|(_, p)| &p.histograms) else {
            continue;
        };
        let Some(corrected) = h.get(&step.metric) else {
            continue;
        };
        let label = format!("{}/s, {what}", step.rate);
        series.push(Series::from_rows(label.clone(), &hgrm::rows(corrected)).color(i));
        if let Some(measured) = h.get(&format!("{}.uncorrected", step.metric)) {
            series.push(
                Series::from_rows(format!("{label}, {AS_MEASURED}"), &hgrm::rows(measured))
                    .color(i)
                    .stroke(Stroke::Dashed),
            );
        }
        hgrm.push(format!(
            "{}/{}/{}.hgrm",
            run.name,
            sanitize(&step.phase),
            sanitize(&step.metric)
        ));
    }
    if !series.is_empty() {
        let chart = Chart {
            title: format!("{} · {metric} at the minimum, the knee and beyond", run.name),
            series,
            y_axis: opts.y_axis,
        };
        let mut c = write_rendered(
            out,
            &format!("{}/steps", run.name),
            plot::chart(&chart)?,
            "",
            "steps",
            files,
        )?;
        c.hgrm = hgrm;
        charts.push(c);
    }
    Ok(charts)
}

/// A phase with step rates or a ramp: latency and throughput against the rate offered (per
/// step, its worst one-second p99; per second of a ramp, that second's figures).
fn rate_latency(run: &LoadedRun, index: usize, opts: ReportOptions) -> Option<RateLatency> {
    let p = &run.result.phases[index];
    let metric = p
        .timeline
        .iter()
        .map(|t| t.metric.as_str())
        .find(|m| !m.is_empty())
        .unwrap_or("latency")
        .to_owned();
    let (points, p99_label): (Vec<RatePoint>, &str) = if let Some(steps) = &p.steps {
        let points = steps
            .iter()
            .map(|s| RatePoint {
                offered: s.rate,
                achieved: s.achieved_per_s,
                p50: None,
                p99: s.worst_p99_us as f64 / 1000.0,
                p99_measured: None,
                mark: Mark::Plain,
            })
            .collect();
        (points, "worst one-second p99 of each step")
    } else if matches!(p.plan.shape, Some(crate::shape::RateShape::Ramp { .. })) {
        let sessions = p.plan.workload == crate::plan::Workload::Sessions;
        let points = p
            .timeline
            .iter()
            .filter(|t| t.length_s >= 0.2 && t.p99_us > 0)
            .filter_map(|t| {
                let done = if sessions { t.sessions_ok } else { t.transactions_ok };
                Some(RatePoint {
                    offered: t.offered_per_s?,
                    achieved: (done + t.failures) as f64 / t.length_s,
                    p50: Some(t.p50_us as f64 / 1000.0),
                    p99: t.p99_us as f64 / 1000.0,
                    p99_measured: None,
                    mark: Mark::Plain,
                })
            })
            .collect();
        (points, "p99 of each second")
    } else {
        return None;
    };
    if points.is_empty() {
        return None;
    }
    Some(RateLatency {
        title: format!(
            "{} · {} · {metric} against the rate offered",
            run.name, run.phases[index].key
        ),
        metric,
        p99_label: p99_label.into(),
        points,
        p99_limit: p99_limit_ms(p.plan.thresholds.iter().map(|t| t.text.as_str())),
        knee: None,
        y_axis: opts.y_axis,
    })
}

/// Several runs: per phase name, the main latency of every run overlaid (corrected solid, as
/// measured dashed, one colour per run), and the full handshake's.
fn write_comparison(
    runs: &[LoadedRun],
    out: &Path,
    opts: ReportOptions,
    files: &mut Vec<PathBuf>,
) -> Result<Vec<WrittenChart>> {
    // Phase keys in first-seen order across the runs.
    let mut keys: Vec<&str> = Vec::new();
    for run in runs {
        for p in &run.phases {
            if !keys.contains(&p.key.as_str()) {
                keys.push(&p.key);
            }
        }
    }
    let mut charts = Vec::new();
    for key in keys {
        let Some(main) = runs
            .iter()
            .find_map(|r| r.phase(key).and_then(|(i, _)| main_metric(&r.result.phases[i])))
        else {
            continue;
        };
        let mut wanted = vec![("latency", main)];
        if main != "handshake.full" {
            wanted.push(("handshake", "handshake.full"));
        }
        for (name, metric) in wanted {
            let series: Vec<Series> = runs
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    r.phase(key)
                        .map(|(_, p)| latency_series(&p.histograms, metric, &r.name, (i, i)))
                })
                .flatten()
                .collect();
            if series.is_empty() {
                continue;
            }
            let chart = Chart {
                title: format!("{key} · {metric} latency, run by run"),
                series,
                y_axis: opts.y_axis,
            };
            let stem = format!("compare/{}/{name}", sanitize(key));
            charts.push(write_rendered(out, &stem, plot::chart(&chart)?, key, name, files)?);
        }
    }
    Ok(charts)
}

/// The default output directory: `<stem>-report/` beside `first`.
pub fn default_out_dir(first: &Path) -> PathBuf {
    let stem = first
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "results".into());
    first.with_file_name(format!("{stem}-report"))
}

/// `sipbench report`.
pub fn main(args: &ReportArgs) -> Result<ExitCode> {
    let inputs = load_inputs(&args.files)?;
    let out = args.out_dir.clone().unwrap_or_else(|| default_out_dir(&args.files[0]));
    let written = write_report(&inputs, &out, args.options())
        .with_context(|| format!("writing the report to {}", out.display()))?;
    println!(
        "wrote {} files to {}; open {}",
        written.files.len(),
        out.display(),
        out.join("report.html").display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_keeps_names_safe() {
        assert_eq!(sanitize("tls-full.handshake_1"), "tls-full.handshake_1");
        assert_eq!(sanitize("../etc/passwd"), ".._etc_passwd");
        assert_eq!(sanitize(".."), "_..");
        assert_eq!(sanitize(""), "_");
        assert_eq!(sanitize("a b/c"), "a_b_c");
    }

    #[test]
    fn default_out_dir_is_beside_the_file() {
        assert_eq!(
            default_out_dir(Path::new("results/default.json")),
            PathBuf::from("results/default-report")
        );
    }
}
