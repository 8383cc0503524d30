//! Reports from stored results files: `sipbench report` and `sipbench diff`.
//!
//! Everything here works from the JSON files `sipbench run` writes ([`RunResult`]); nothing is
//! measured. The histograms stored in each phase (HdrHistogram V2 + DEFLATE, microseconds) are
//! decoded and turned into:
//!
//! - **percentile-distribution charts** ([`plot`]), as HdrHistogram's plotter draws them: latency
//!   in ms against percentile on a 1/(1-p) log axis (0%, 90%, 99%, 99.9%, ...). One chart per
//!   metric per phase per run, as SVG and PNG; with several runs also one comparison chart per
//!   metric and phase name, one series per run;
//! - **`.hgrm` files** ([`hgrm`]): the percentile distribution text of HdrHistogram's
//!   `outputPercentileDistribution`, values in milliseconds, which HistogramLogAnalyzer and the
//!   online HdrHistogram plotter read;
//! - **`report.html`** ([`html`]): one self-contained page (inline SVG, no scripts, no external
//!   resources) with each run's header, per-phase summary tables, failure breakdown and charts.
//!
//! Layout of the output directory (default `<first file's stem>-report/` beside it):
//!
//! ```text
//! report.html
//! <run>/<phase>/<metric>.svg|.png|.hgrm     one set per run (run = file stem)
//! compare/<phase>/<metric>.svg|.png         with several runs
//! ```
//!
//! `sipbench diff BASE NEW` ([`diff`]) compares two runs metric by metric; its noise rule is
//! documented there.

pub mod diff;
pub mod hgrm;
pub mod html;
pub mod plot;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use hdrhistogram::Histogram;

pub use self::diff::DiffArgs;
use self::plot::{Chart, Series};
use crate::results::RunResult;
use crate::stats::decode_histogram;

/// Options of `sipbench report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Results files written by `sipbench run`. With several, comparison charts overlay them.
    #[arg(required = true, value_name = "RESULT.json")]
    pub files: Vec<PathBuf>,
    /// Directory to write the report into (created if missing). [default: STEM-report/ next to
    /// the first file, STEM its name without .json]
    #[arg(long, alias = "out", short_alias = 'o', value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
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

/// Reads every file, giving repeated stems distinct names.
pub fn load_all(paths: &[PathBuf]) -> Result<Vec<LoadedRun>> {
    let mut runs: Vec<LoadedRun> = Vec::with_capacity(paths.len());
    for path in paths {
        let mut run = LoadedRun::read(path)?;
        let base = sanitize(&run.name);
        let mut name = base.clone();
        let mut i = 1;
        while runs.iter().any(|r| r.name == name) || name == "compare" {
            i += 1;
            name = format!("{base}-{i}");
        }
        run.name = name;
        runs.push(run);
    }
    Ok(runs)
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
    /// Phase key.
    pub phase: String,
    /// Metric name.
    pub metric: String,
    /// The SVG text, for inlining.
    pub svg: String,
    /// Paths relative to the output directory.
    pub svg_path: String,
    /// PNG path, relative.
    pub png_path: String,
    /// `.hgrm` path, relative (per-run charts only).
    pub hgrm_path: Option<String>,
}

/// What [`write_report`] wrote.
#[derive(Debug, Clone, Default)]
pub struct Written {
    /// Per run (same order as the input), its charts.
    pub runs: Vec<Vec<WrittenChart>>,
    /// Comparison charts (several runs only).
    pub compare: Vec<WrittenChart>,
    /// Every file written, `report.html` last.
    pub files: Vec<PathBuf>,
}

fn write_file(out: &Path, rel: &str, bytes: &[u8], files: &mut Vec<PathBuf>) -> Result<()> {
    let path = out.join(rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    files.push(path);
    Ok(())
}

fn write_chart(
    out: &Path,
    stem: &str,
    chart: &Chart,
    phase: &str,
    metric: &str,
    files: &mut Vec<PathBuf>,
) -> Result<WrittenChart> {
    let svg = plot::svg(chart)?;
    let png = plot::png(chart)?;
    let svg_path = format!("{stem}.svg");
    let png_path = format!("{stem}.png");
    write_file(out, &svg_path, svg.as_bytes(), files)?;
    write_file(out, &png_path, &png, files)?;
    Ok(WrittenChart {
        phase: phase.to_owned(),
        metric: metric.to_owned(),
        svg,
        svg_path,
        png_path,
        hgrm_path: None,
    })
}

/// Writes a phase's timeline chart (per-second rates, failures, p50/p99), when it has one.
fn write_timeline(
    out: &Path,
    run: &LoadedRun,
    phase: &LoadedPhase,
    files: &mut Vec<PathBuf>,
) -> Result<Option<WrittenChart>> {
    let Some((_, result)) = run
        .result
        .phases
        .iter()
        .enumerate()
        .find(|(i, _)| run.phases.get(*i).is_some_and(|p| p.key == phase.key))
    else {
        return Ok(None);
    };
    let tl = &result.timeline;
    if tl.is_empty() {
        return Ok(None);
    }
    let sessions = result.plan.workload == crate::plan::Workload::Sessions;
    // The last interval can be a few milliseconds of drain after the window: too short to plot
    // as a rate (it stays in the data).
    let points = tl
        .iter()
        .filter(|t| t.length_s >= 0.2)
        .map(|t| {
            let secs = t.length_s.max(1e-3);
            let done = if sessions {
                t.sessions_ok
            } else {
                t.transactions_ok.max(t.sessions_ok)
            };
            (
                t.t_s + t.length_s,
                done as f64 / secs,
                t.failures as f64 / secs,
                t.p50_us as f64 / 1000.0,
                t.p99_us as f64 / 1000.0,
            )
        })
        .collect();
    let chart = plot::Timeline {
        title: format!("{} · {} · timeline", run.name, phase.key),
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
    };
    let (svg, png) = plot::timeline(&chart)?;
    let stem = format!("{}/{}/timeline", run.name, sanitize(&phase.key));
    let (svg_path, png_path) = (format!("{stem}.svg"), format!("{stem}.png"));
    write_file(out, &svg_path, svg.as_bytes(), files)?;
    write_file(out, &png_path, &png, files)?;
    Ok(Some(WrittenChart {
        phase: phase.key.clone(),
        metric: "timeline".into(),
        svg,
        svg_path,
        png_path,
        hgrm_path: None,
    }))
}

/// Writes charts, `.hgrm` files and `report.html` for `runs` into `out`.
pub fn write_report(runs: &[LoadedRun], out: &Path) -> Result<Written> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut written = Written::default();
    for run in runs {
        let mut charts = Vec::new();
        for phase in &run.phases {
            for (metric, h) in &phase.histograms {
                let stem = format!("{}/{}/{}", run.name, sanitize(&phase.key), sanitize(metric));
                let rows = hgrm::rows(h);
                let chart = Chart {
                    title: format!("{} · {} · {metric}", run.name, phase.key),
                    series: vec![Series::from_rows(run.label(), &rows)],
                };
                let mut c = write_chart(out, &stem, &chart, &phase.key, metric, &mut written.files)?;
                let hgrm_path = format!("{stem}.hgrm");
                write_file(
                    out,
                    &hgrm_path,
                    hgrm::percentile_distribution(h).as_bytes(),
                    &mut written.files,
                )?;
                c.hgrm_path = Some(hgrm_path);
                charts.push(c);
            }
            if let Some(c) = write_timeline(out, run, phase, &mut written.files)? {
                charts.push(c);
            }
        }
        written.runs.push(charts);
    }
    if runs.len() > 1 {
        // Phase keys in first-seen order across the runs; metrics sorted.
        let mut keys: Vec<&str> = Vec::new();
        for run in runs {
            for p in &run.phases {
                if !keys.contains(&p.key.as_str()) {
                    keys.push(&p.key);
                }
            }
        }
        for key in keys {
            let metrics: BTreeSet<&String> = runs
                .iter()
                .filter_map(|r| r.phase(key))
                .flat_map(|(_, p)| p.histograms.keys())
                .collect();
            for metric in metrics {
                let series: Vec<Series> = runs
                    .iter()
                    .filter_map(|r| {
                        let h = r.phase(key)?.1.histograms.get(metric)?;
                        Some(Series::from_rows(r.label(), &hgrm::rows(h)))
                    })
                    .collect();
                let chart = Chart {
                    title: format!("{key} · {metric}"),
                    series,
                };
                let stem = format!("compare/{}/{}", sanitize(key), sanitize(metric));
                written
                    .compare
                    .push(write_chart(out, &stem, &chart, key, metric, &mut written.files)?);
            }
        }
    }
    let page = html::page(runs, &written);
    write_file(out, "report.html", page.as_bytes(), &mut written.files)?;
    Ok(written)
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
    let runs = load_all(&args.files)?;
    let out = args.out_dir.clone().unwrap_or_else(|| default_out_dir(&args.files[0]));
    let written = write_report(&runs, &out).with_context(|| format!("writing the report to {}", out.display()))?;
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
