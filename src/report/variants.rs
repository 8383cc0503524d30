//! `sipbench report` on a `sipbench compare` file: the variants side by side with their spread
//! over the interleaved rounds.
//!
//! Charts (in `<name>/` of the output directory):
//!
//! - `rates`: per variant, a bar at the median rate over the rounds, a whisker from the lowest
//!   to the highest round and a dot per round; below, CPU per handshake the same way;
//! - `handshake`, `latency`: per variant, the full handshake's and the phase's main latency by
//!   percentile, from the rounds' histograms added together, one colour per variant;
//!
//! and per variant `<name>/<variant>/<metric>.hgrm` of those histograms. The page's section has
//! the numbers the file's summary holds (median, min-max and spread of the rate, ratio to the
//! first variant, handshake percentiles, CPU, memory per session, failures) and every round.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use hdrhistogram::Histogram;

use super::html::{escape, id_safe};
use super::plot::{self, Bar, BarPanel, Bars, Chart, Series};
use super::{ReportOptions, WrittenChart, hgrm, latency_series, main_metric, sanitize, write_file, write_rendered};
use crate::compare::{CompareResult, Round};
use crate::plan::Workload;
use crate::results::PhaseResult;

/// A compare file with each variant's histograms added over its rounds.
#[derive(Debug, Clone)]
pub struct LoadedCompare {
    /// Where it was read from.
    pub path: PathBuf,
    /// Short unique name: the file stem.
    pub name: String,
    /// The file's contents.
    pub result: CompareResult,
    /// Per variant (in the file's order): metric to the rounds' histograms added.
    pub merged: Vec<BTreeMap<String, Histogram<u64>>>,
}

impl LoadedCompare {
    /// Parses `text`, read from `path`, and adds up each variant's histograms.
    pub fn parse(path: &Path, text: &str) -> Result<LoadedCompare> {
        let result: CompareResult =
            serde_json::from_str(text).with_context(|| format!("parsing {} as a compare file", path.display()))?;
        let mut merged = Vec::with_capacity(result.variants.len());
        for v in &result.variants {
            let mut sum: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
            for r in result.rounds.iter().filter(|r| &r.variant == v) {
                for (metric, encoded) in &r.result.histograms {
                    let h = crate::stats::decode_histogram(encoded).map_err(|e| {
                        anyhow::anyhow!(
                            "{}: round {} of {v:?}: histogram {metric:?}: {e}",
                            path.display(),
                            r.round
                        )
                    })?;
                    match sum.get_mut(metric) {
                        Some(into) => into
                            .add(&h)
                            .map_err(|e| anyhow::anyhow!("{}: adding {metric:?} of {v:?}: {e:?}", path.display()))?,
                        None => {
                            sum.insert(metric.clone(), h);
                        }
                    }
                }
            }
            merged.push(sum);
        }
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "compare-file".into());
        Ok(LoadedCompare {
            path: path.to_owned(),
            name,
            result,
            merged,
        })
    }

    /// What varies, in words (`backends`, `key exchange groups`, `key types`).
    pub fn dimension(&self) -> &'static str {
        match self.result.dimension {
            crate::compare::Dimension::Backend => "backends",
            crate::compare::Dimension::KxGroup => "key exchange groups",
            crate::compare::Dimension::KeyType => "key types",
        }
    }

    /// The rounds of variant `v`, in the order run.
    pub fn rounds_of<'a>(&'a self, v: &'a str) -> impl Iterator<Item = &'a Round> + 'a {
        self.result.rounds.iter().filter(move |r| r.variant == v)
    }

    /// The phase every round ran (the first round's).
    pub fn phase(&self) -> Option<&PhaseResult> {
        self.result.rounds.first().map(|r| &r.result)
    }

    /// How many rounds each variant ran.
    pub fn round_count(&self) -> usize {
        self.result.rounds.len() / self.result.variants.len().max(1)
    }
}

/// The rate a compare file summarises: transactions per second for kept sessions and
/// messages, sessions per second otherwise.
pub fn rate(p: &PhaseResult) -> f64 {
    match p.plan.workload {
        Workload::Kept | Workload::Messages => p.rates.transactions_per_s,
        _ => p.rates.sessions_per_s,
    }
}

/// The unit of [`rate`].
pub fn rate_unit(p: &PhaseResult) -> &'static str {
    match p.plan.workload {
        Workload::Kept | Workload::Messages => "transactions/s",
        _ => "sessions/s",
    }
}

/// Process CPU (generator and embedded server) per TLS handshake, microseconds; `None` without
/// handshakes.
pub fn cpu_per_handshake(p: &PhaseResult) -> Option<f64> {
    let h = &p.handshakes;
    let n = h.full + h.full_hrr + h.resumed + h.resumed_0rtt;
    (n > 0).then(|| (p.cpu.user_s + p.cpu.system_s) * 1e6 / n as f64)
}

/// Writes the compare file's charts and `.hgrm` files.
pub fn write_charts(
    c: &LoadedCompare,
    out: &Path,
    opts: ReportOptions,
    files: &mut Vec<PathBuf>,
) -> Result<Vec<WrittenChart>> {
    let mut charts = Vec::new();
    let Some(first) = c.phase() else {
        return Ok(charts);
    };
    for (v, merged) in c.result.variants.iter().zip(&c.merged) {
        for (metric, h) in merged {
            let path = format!("{}/{}/{}.hgrm", c.name, sanitize(v), sanitize(metric));
            write_file(out, &path, hgrm::percentile_distribution(h).as_bytes(), files)?;
        }
    }
    let bars = |value: &dyn Fn(&PhaseResult) -> Option<f64>| -> Vec<Bar> {
        c.result
            .variants
            .iter()
            .map(|v| {
                let values: Vec<f64> = c.rounds_of(v).filter_map(|r| value(&r.result)).collect();
                let s = spread(&values);
                Bar {
                    label: v.clone(),
                    median: s.0,
                    min: s.1,
                    max: s.2,
                    values,
                }
            })
            .collect()
    };
    let mut panels = vec![BarPanel {
        y_desc: rate_unit(first).to_owned(),
        bars: bars(&|p| Some(rate(p))),
    }];
    let cpu = bars(&cpu_per_handshake);
    if cpu.iter().any(|b| !b.values.is_empty()) {
        panels.push(BarPanel {
            y_desc: "CPU µs per handshake".into(),
            bars: cpu,
        });
    }
    let chart = Bars {
        title: format!(
            "{}: {} over {} interleaved rounds (bar: median, whisker: min-max, dots: rounds)",
            c.name,
            c.dimension(),
            c.round_count()
        ),
        panels,
    };
    charts.push(write_rendered(
        out,
        &format!("{}/rates", c.name),
        plot::bars(&chart)?,
        "",
        "rates",
        files,
    )?);
    let main = main_metric(first).map(str::to_owned);
    let mut wanted = vec![("handshake", "handshake.full".to_owned())];
    if let Some(m) = main.filter(|m| m != "handshake.full") {
        wanted.push(("latency", m));
    }
    for (name, metric) in wanted {
        let series: Vec<Series> = c
            .result
            .variants
            .iter()
            .zip(&c.merged)
            .enumerate()
            .flat_map(|(i, (v, merged))| latency_series(merged, &metric, v, (i, i)))
            .collect();
        if series.is_empty() {
            continue;
        }
        let chart = Chart {
            title: format!("{} · {metric} latency per variant, all rounds", c.name),
            series,
            y_axis: opts.y_axis,
        };
        let mut w = write_rendered(
            out,
            &format!("{}/{name}", c.name),
            plot::chart(&chart)?,
            "",
            name,
            files,
        )?;
        w.hgrm = c
            .result
            .variants
            .iter()
            .zip(&c.merged)
            .filter(|(_, m)| m.contains_key(&metric))
            .map(|(v, _)| format!("{}/{}/{}.hgrm", c.name, sanitize(v), sanitize(&metric)))
            .collect();
        charts.push(w);
    }
    Ok(charts)
}

/// (median, min, max) of `values`; zeros when empty.
fn spread(values: &[f64]) -> (f64, f64, f64) {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (median, v[0], v[n - 1])
}

/// The element id of a compare file's section.
pub fn section_id(c: &LoadedCompare) -> String {
    format!("compare-{}", id_safe(&c.name))
}

/// The compare file's section of the page: what was compared, the numbers, the charts, every
/// round, and the environment.
pub fn section(out: &mut String, c: &LoadedCompare, charts: &[WrittenChart]) {
    let r = &c.result;
    let _ = writeln!(
        out,
        "<section class=\"compare\" id=\"{}\"><h2>Compare {}: {}</h2>",
        escape(&section_id(c)),
        escape(c.dimension()),
        escape(&r.variants.join(", "))
    );
    let phase = c.phase();
    let _ = writeln!(
        out,
        "<p>{} rounds of {} variants, interleaved (each round runs every variant in turn, so drift on the machine \
         hits them alike), from <code>{}</code>, started {}; generator backend {}. {} Medians over the rounds; \
         spread = (max - min) / median.</p>",
        c.round_count(),
        r.variants.len(),
        escape(&c.path.display().to_string()),
        escape(&r.started_at),
        escape(&r.backend),
        phase
            .map(|p| format!(
                "Phase {}: {} {}, {}.",
                escape(&p.plan.name),
                escape(p.plan.mode.as_str()),
                escape(p.plan.workload.as_str()),
                escape(&p.plan.load.to_string())
            ))
            .unwrap_or_default()
    );
    let unit = phase.map_or("sessions/s", rate_unit);
    // Handshakes/s repeats the rate when every session is one handshake: left out then.
    let handshakes_differ = r
        .summary
        .iter()
        .any(|s| (s.handshakes_per_s.median - s.rate_per_s.median).abs() > 0.05);
    let first = r.variants.first().map_or("", String::as_str);
    let mut headers = vec![
        format!("{unit} (median)"),
        "min–max".into(),
        "spread".into(),
        format!("ratio to {first}"),
    ];
    if handshakes_differ {
        headers.push("handshakes/s".into());
    }
    headers.extend(
        [
            "handshake p50 ms",
            "handshake p99 ms",
            "session p99 ms",
            "CPU µs per handshake",
            "memory per session",
            "failures",
        ]
        .map(String::from),
    );
    out.push_str("<div class=\"wide\"><table class=\"variants\"><tr><th>variant</th>");
    for h in &headers {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr>\n");
    for s in &r.summary {
        let ms = |metric: &str, p99: bool| {
            s.latency_us.get(metric).map_or("-".to_owned(), |(p50, p99v)| {
                format!("{:.3}", if p99 { p99v } else { p50 } / 1000.0)
            })
        };
        let mut cells = vec![
            format!("{:.1}", s.rate_per_s.median),
            format!("{:.1}–{:.1}", s.rate_per_s.min, s.rate_per_s.max),
            format!("{:.1}%", s.rate_per_s.spread_pct),
            format!("{:.3}", s.ratio_to_first),
        ];
        if handshakes_differ {
            cells.push(format!("{:.1}", s.handshakes_per_s.median));
        }
        cells.extend([
            ms("handshake.full", false),
            ms("handshake.full", true),
            ms("session", true),
            format!("{:.0}", s.cpu_per_handshake_us.median),
            s.memory_per_session_bytes
                .map_or("-".into(), |b| format!("{:.1} KiB", b as f64 / 1024.0)),
            s.failures.to_string(),
        ]);
        let _ = write!(out, "<tr><td>{}</td>", escape(&s.variant));
        for cell in cells {
            let _ = write!(out, "<td class=\"n nw\">{}</td>", escape(&cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table></div>\n<p class=\"small\">Negotiated (the most frequent): ");
    let negotiated: Vec<String> = r
        .summary
        .iter()
        .map(|s| format!("{}: {}", escape(&s.variant), escape(&s.negotiated)))
        .collect();
    out.push_str(&negotiated.join("; "));
    out.push_str("</p>\n");
    for chart in charts {
        super::html::chart_block(out, chart, true);
    }
    out.push_str(
        "<details><summary>every round</summary><table><tr><th>round</th><th>variant</th><th>rate</th>\
         <th>handshakes/s</th><th>handshake p99 ms</th><th>session p99 ms</th><th>CPU µs per handshake</th>\
         <th>failures</th></tr>",
    );
    for round in &r.rounds {
        let p = &round.result;
        let p99 = |m: &str| {
            p.latency_us
                .get(m)
                .map_or("-".to_owned(), |s| format!("{:.3}", s.p99 as f64 / 1000.0))
        };
        let _ = write!(
            out,
            "<tr><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{:.1}</td><td class=\"n\">{:.1}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            round.round,
            escape(&round.variant),
            rate(p),
            p.rates.handshakes_per_s,
            p99("handshake.full"),
            p99("session"),
            cpu_per_handshake(p).map_or("-".into(), |c| format!("{c:.0}")),
            p.failures.values().sum::<u64>()
        );
    }
    out.push_str("</table></details>\n<details><summary>environment (first round)</summary>");
    super::html::fields_table(out, &serde_json::to_value(&r.environment).unwrap_or_default());
    out.push_str("</details>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_median_min_max() {
        assert_eq!(spread(&[3.0, 1.0, 2.0]), (2.0, 1.0, 3.0));
        assert_eq!(spread(&[4.0, 1.0]), (2.5, 1.0, 4.0));
        assert_eq!(spread(&[]), (0.0, 0.0, 0.0));
    }
}
