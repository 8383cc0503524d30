//! `report.html`: one self-contained page (inline CSS and SVG, no scripts, no external
//! resources). Every string taken from a results file is escaped.

use std::fmt::Write as _;

use serde_json::Value;

use super::{Inputs, LoadedRun, ReportOptions, Written, WrittenChart};
use crate::report::plot::YAxis;
use crate::results::PhaseResult;
use crate::stats::Summary;

/// Escapes `s` for HTML text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222;max-width:1100px}\
table{border-collapse:collapse;margin:.5em 0 1em}\
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}\
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f2f2f2}\
h2{border-bottom:2px solid #0072b2;padding-bottom:.2em;margin-top:2em}h3{margin-top:1.5em}\
.chart svg{max-width:100%;height:auto}.chart{margin:1em 0}.small{color:#666;font-size:90%}\
code{background:#f6f6f6;padding:0 3px}figure{margin:1em 0}figcaption{font-weight:bold;margin:.3em 0}\
nav ul{columns:3;padding-left:1.2em}.facts{display:flex;flex-wrap:wrap;gap:0 2em}tr.worse td,tr.fail td{background:#fde8e0}tr.better td,tr.pass td{background:#e3f4ec}\
tr.generator-limited td{background:#fdf3dc}.wide{overflow-x:auto}table.variants{font-size:90%}\
table.variants td,table.variants th{padding:2px 5px}td.nw{white-space:nowrap}";

/// A JSON value as short text (strings unquoted, `null` as `-`).
fn show(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(show).collect::<Vec<_>>().join(", "),
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| format!("{k}: {}", show(v)))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// A two-column table of a serializable value's fields.
pub(crate) fn fields_table(out: &mut String, v: &Value) {
    out.push_str("<table>");
    if let Value::Object(o) = v {
        for (k, v) in o {
            let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(&show(v)));
        }
    }
    out.push_str("</table>\n");
}

fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn inline_svg(svg: &str) -> &str {
    // Drop any XML declaration: it is not allowed inside HTML.
    svg.find("<svg").map_or(svg, |i| &svg[i..])
}

/// A chart's heading, by its name.
fn chart_heading(name: &str) -> &str {
    match name {
        "latency" => "Latency by percentile",
        "breakdown" => "Connection set-up and transactions by percentile",
        "timeline" => "Second by second",
        "handshake" => "Full handshake by percentile",
        "rate-latency" => "Latency and throughput against the rate offered",
        "capacity" => "Capacity search: latency and throughput against the rate offered",
        "steps" => "Latency at the minimum, at the knee and beyond it",
        "rates" => "Rate and CPU per variant",
        other => other,
    }
}

pub(crate) fn chart_block(out: &mut String, c: &WrittenChart, inline: bool) {
    let _ = write!(
        out,
        "<figure class=\"chart\" id=\"{}\"><figcaption>{}</figcaption>",
        escape(&chart_id(c)),
        escape(chart_heading(&c.metric))
    );
    if inline {
        out.push_str(inline_svg(&c.svg));
    }
    let _ = write!(
        out,
        "<div class=\"small\">files: <a href=\"{0}\">{0}</a> · <a href=\"{1}\">{1}</a>",
        escape(&c.svg_path),
        escape(&c.png_path)
    );
    for h in &c.hgrm {
        let _ = write!(out, " · <a href=\"{0}\">{0}</a>", escape(h));
    }
    out.push_str("</div></figure>\n");
}

/// A chart's element id: `chart-` and its SVG path without the extension, made id-safe.
fn chart_id(c: &WrittenChart) -> String {
    let stem = c.svg_path.strip_suffix(".svg").unwrap_or(&c.svg_path);
    format!("chart-{}", id_safe(stem))
}

/// `s` with every character but ASCII letters, digits, `-` and `_` replaced by `-`.
pub fn id_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The phase's main latency metric and its summary.
fn main_metric(p: &PhaseResult) -> Option<(&str, &Summary)> {
    let m = super::main_metric(p)?;
    p.latency_us.get_key_value(m).map(|(k, s)| (k.as_str(), s))
}

/// The workload's own figure, beside its rate and latency.
fn own_figure(p: &PhaseResult) -> String {
    let mut parts = Vec::new();
    if let Some(b) = &p.bulk {
        parts.push(format!("{:.1} MB/s out, {:.1} MB/s in", b.mb_per_s_out, b.mb_per_s_in));
    }
    if let Some(m) = &p.messages {
        parts.push(format!(
            "{:.0} MESSAGE/s, {:.1} MB/s of bodies",
            m.messages_per_s, m.body_mb_per_s
        ));
    }
    if let Some(s) = &p.storm {
        parts.push(match s.all_back_ms {
            Some(ms) => format!("{} of {} back in {ms:.0} ms", s.back, s.sessions),
            None => format!("{} of {} back (not all)", s.back, s.sessions),
        });
    }
    if let Some(r) = &p.rejections {
        parts.push(format!(
            "{}: {} of {} refused, {} accepted",
            r.bad_cert, r.rejected, r.sessions, r.accepted
        ));
    }
    if let Some(c) = &p.calls {
        parts.push(format!(
            "{:.1} calls/s, {} at most at once",
            c.calls_per_s, c.concurrent_max
        ));
    }
    if let Some(m) = &p.memory {
        parts.push(format!("{} KiB per session", m.per_session_bytes / 1024));
    }
    if let Some(l) = p.latency_us.get("generator.lag") {
        parts.push(format!("generator lag p99 {:.3} ms", l.p99 as f64 / 1000.0));
    }
    parts.join("; ")
}

/// One row per phase of every run: what a reader looks for first.
fn summary(out: &mut String, runs: &[LoadedRun]) {
    let several = runs.len() > 1;
    out.push_str("<section id=\"summary\"><h2>Summary</h2>\n<table class=\"summary\"><tr>");
    if several {
        out.push_str("<th>run</th>");
    }
    out.push_str(
        "<th>phase</th><th>what</th><th>rate</th><th>latency</th><th>p50 ms</th><th>p99 ms</th>\
         <th>p99.9 ms</th><th>failures</th><th>efficiency</th><th>its own figure</th></tr>\n",
    );
    for run in runs {
        for (i, p) in run.result.phases.iter().enumerate() {
            let plan = &p.plan;
            // The rate the workload is about: kept sessions carry transactions, held ones
            // nothing, records bytes.
            use crate::plan::Workload;
            let rate = match (plan.workload, &p.bulk) {
                (_, Some(b)) => format!("{:.0} records/s", b.records_per_s),
                (Workload::Kept | Workload::Messages, _) => {
                    format!("{:.0} transactions/s", p.rates.transactions_per_s)
                }
                (Workload::Hold, _) => format!("{} sessions held", p.sessions.ok),
                _ => format!(
                    "{:.0} sessions/s, {:.0} transactions/s",
                    p.rates.sessions_per_s, p.rates.transactions_per_s
                ),
            };
            let (metric, p50, p99, p999) = match main_metric(p) {
                Some((m, s)) => (
                    m.to_owned(),
                    format!("{:.3}", s.p50 as f64 / 1000.0),
                    format!("{:.3}", s.p99 as f64 / 1000.0),
                    format!("{:.3}", s.p99_9 as f64 / 1000.0),
                ),
                None => ("-".into(), "-".into(), "-".into(), "-".into()),
            };
            let failures: u64 = p.failures.values().sum();
            out.push_str("<tr>");
            if several {
                let _ = write!(out, "<td>{}</td>", escape(&run.label()));
            }
            let key = run.phases.get(i).map_or(plan.name.as_str(), |l| l.key.as_str());
            let _ = write!(
                out,
                "<td><a href=\"#{}\">{}</a></td>",
                escape(&phase_id(&run.name, key)),
                escape(key)
            );
            let text = [
                format!("{} {}, {}", plan.mode.as_str(), plan.workload.as_str(), plan.load),
                rate,
                metric,
            ];
            for c in text {
                let _ = write!(out, "<td>{}</td>", escape(&c));
            }
            // Against this machine's bare loop (`run --efficiency`), where measured.
            let efficiency = p.efficiency.as_ref().map_or("-".into(), |e| format!("{:.2}", e.ratio));
            for c in [p50, p99, p999, failures.to_string(), efficiency] {
                let _ = write!(out, "<td class=\"n\">{}</td>", escape(&c));
            }
            let _ = writeln!(out, "<td>{}</td></tr>", escape(&own_figure(p)));
        }
    }
    out.push_str("</table>\n</section>\n");
}

/// What differs between the runs besides the figures (as `sipbench diff` lists it), each run
/// against the first.
fn differences(out: &mut String, runs: &[LoadedRun]) {
    let [base, rest @ ..] = runs else { return };
    out.push_str("<section id=\"differences\"><h2>What differed</h2>\n");
    for other in rest {
        let d = crate::report::diff::differences(base, other);
        let _ = writeln!(
            out,
            "<h3>What differed: {} against {}</h3>",
            escape(&other.label()),
            escape(&base.label())
        );
        if d.is_empty() {
            out.push_str("<p>Nothing besides the figures: same machine, build, backends, target and plans.</p>\n");
            continue;
        }
        out.push_str("<table><tr><th>what</th><th>base</th><th>this run</th></tr>");
        for x in d {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&x.what),
                escape(&x.base),
                escape(&x.new)
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</section>\n");
}

/// Side by side: each run's headline figures against the first run's, with the ratio and
/// `sipbench diff`'s verdict (its noise rule, 5 % floor).
fn side_by_side(out: &mut String, runs: &[LoadedRun]) {
    let [base, rest @ ..] = runs else { return };
    for other in rest {
        let cmp = crate::report::diff::compare(base, other, 5.0);
        let _ = writeln!(
            out,
            "<h3>Figures: {} against {}</h3>",
            escape(&other.name),
            escape(&base.name)
        );
        out.push_str(
            "<table class=\"figures\"><tr><th>phase</th><th>figure</th><th>base</th><th>this run</th>\
             <th>ratio</th><th>noise</th><th>verdict</th></tr>",
        );
        for r in &cmp.rows {
            let main = base
                .phase(&r.phase)
                .and_then(|(i, _)| super::main_metric(&base.result.phases[i]));
            let headline = r.metric.ends_with("/s")
                || r.metric.starts_with("CPU per")
                || main.is_some_and(|m| {
                    r.metric
                        .strip_prefix(m)
                        .is_some_and(|q| [" p50", " p99", " p99.9"].contains(&q))
                })
                || r.metric == "handshake.full p99";
            if !headline {
                continue;
            }
            let unit = |v: f64| match r.unit {
                "ms" => format!("{v:.3} ms"),
                "/s" => format!("{v:.1}/s"),
                u => format!("{v:.1} {u}"),
            };
            let _ = write!(
                out,
                "<tr class=\"{}\"><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{:.3}</td><td class=\"n\">±{:.0}%</td><td>{}</td></tr>",
                escape(&r.verdict.to_string().replace(' ', "-")),
                escape(&r.phase),
                escape(&r.metric),
                unit(r.base),
                unit(r.new),
                r.ratio(),
                r.noise_pct,
                escape(&r.verdict.to_string())
            );
        }
        out.push_str("</table>\n");
        for (which, keys) in [
            ("only in the base run", &cmp.only_base),
            ("only in this run", &cmp.only_new),
        ] {
            if !keys.is_empty() {
                let _ = writeln!(out, "<p>Phases {which}: {}</p>", escape(&keys.join(", ")));
            }
        }
    }
}

fn header(out: &mut String, run: &LoadedRun) {
    let r = &run.result;
    let _ = writeln!(out, "<h2>Run {}</h2>", escape(&run.label()));
    out.push_str("<table>");
    let mut row = |k: &str, v: String| {
        let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(&v));
    };
    row("file", run.path.display().to_string());
    row("profile", r.profile.clone());
    row("started", r.started_at.clone());
    row("written", r.written_at.clone());
    row(
        "state",
        match (r.complete, r.interrupted) {
            (true, _) => "complete".into(),
            (false, true) => "interrupted".into(),
            (false, false) => "incomplete".into(),
        },
    );
    row("command", r.command.join(" "));
    row(
        "key type",
        r.key_type.clone().unwrap_or_else(|| "- (remote target)".into()),
    );
    row("generator workers", r.workers.to_string());
    if let Some(s) = r.shard {
        row("shard", format!("{} of {} (from 0)", s.index, s.count));
    }
    if let Some(at) = &r.start_at {
        row("start at", at.clone());
    }
    if let Some(c) = &r.clock {
        row("clock against the target", crate::printer::clock(c));
    }
    if let Some(n) = r.merged_from {
        row(
            "merged from",
            format!("{n} files: histograms added, counters and rates summed (environments below)"),
        );
    }
    out.push_str("</table>\n<div class=\"facts\"><div><h3>Target</h3>\n");
    fields_table(out, &serde_json::to_value(&r.target).unwrap_or(Value::Null));
    out.push_str("</div><div><h3>Environment</h3>\n");
    fields_table(out, &serde_json::to_value(&r.environment).unwrap_or(Value::Null));
    out.push_str("</div></div>\n");
    if r.environment.build_profile == "debug" {
        out.push_str("<p><strong>debug build</strong>: these are not benchmark figures.</p>\n");
    }
    for s in &r.shards {
        let _ = writeln!(
            out,
            "<h3>Input {}{}</h3>",
            escape(&s.path),
            s.offset_s
                .map(|o| format!(" (window opened {o:+.3} s after the earliest)"))
                .unwrap_or_default()
        );
        if let Some(c) = &s.clock {
            let _ = writeln!(out, "<p>{}</p>", escape(&crate::printer::clock(c)));
        }
        fields_table(out, &serde_json::to_value(&s.environment).unwrap_or(Value::Null));
    }
    if !r.warnings.is_empty() {
        out.push_str("<h3>Warnings</h3><ul>");
        for w in &r.warnings {
            let _ = write!(out, "<li>{}</li>", escape(w));
        }
        out.push_str("</ul>\n");
    }
}

fn latency_table(out: &mut String, p: &PhaseResult) {
    out.push_str(
        "<table><tr><th>latency (ms)</th><th>count</th><th>min</th><th>mean</th><th>p50</th><th>p90</th>\
         <th>p99</th><th>p99.9</th><th>max</th></tr>",
    );
    for (metric, s) in &p.latency_us {
        let Summary {
            count,
            min,
            mean,
            p50,
            p90,
            p99,
            p99_9,
            max,
            ..
        } = s;
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{count}</td><td class=\"n\">{}</td><td class=\"n\">{:.3}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td></tr>",
            escape(metric),
            ms(*min),
            mean / 1000.0,
            ms(*p50),
            ms(*p90),
            ms(*p99),
            ms(*p99_9),
            ms(*max)
        );
    }
    out.push_str("</table>\n");
}

/// The element id of a run's section.
pub fn run_id(run: &str) -> String {
    format!("run-{}", id_safe(run))
}

/// The element id of a phase's section.
pub fn phase_id(run: &str, key: &str) -> String {
    format!("phase-{}-{}", id_safe(run), id_safe(key))
}

fn phase_section(out: &mut String, run: &str, key: &str, p: &PhaseResult, charts: &[&WrittenChart], inline: bool) {
    let _ = writeln!(
        out,
        "<section class=\"phase\" id=\"{}\"><h3>Phase {}</h3>",
        escape(&phase_id(run, key)),
        escape(key)
    );
    let _ = writeln!(
        out,
        "<p>{} {}, {}</p>",
        escape(p.plan.mode.as_str()),
        escape(p.plan.workload.as_str()),
        escape(&p.plan.load.to_string())
    );
    if p.interrupted {
        out.push_str("<p><strong>interrupted</strong>: the phase was cut short.</p>");
    }
    for c in charts {
        chart_block(out, c, inline);
    }
    latency_table(out, p);
    out.push_str("<h4>Failures</h4>");
    if p.failures.is_empty() {
        out.push_str("<p>none</p>\n");
    } else {
        out.push_str("<table><tr><th>kind</th><th>count</th></tr>");
        for (k, v) in &p.failures {
            let _ = write!(out, "<tr><td>{}</td><td class=\"n\">{v}</td></tr>", escape(k));
        }
        out.push_str("</table>\n");
    }
    out.push_str("<h4>Counters</h4><table>");
    let mut row = |k: &str, v: String| {
        let _ = write!(
            out,
            "<tr><th>{}</th><td class=\"n\">{}</td></tr>",
            escape(k),
            escape(&v)
        );
    };
    row("measured (s)", format!("{:.3}", p.measured_s));
    row("sessions started", p.sessions.started.to_string());
    row("sessions ok", p.sessions.ok.to_string());
    row("sessions failed", p.sessions.failed.to_string());
    row("sessions/s", num(p.rates.sessions_per_s));
    row("handshakes/s", num(p.rates.handshakes_per_s));
    row("transactions/s", num(p.rates.transactions_per_s));
    row(
        "CPU user + system (s)",
        format!("{:.3} + {:.3}", p.cpu.user_s, p.cpu.system_s),
    );
    row("CPU per session (us)", num(p.cpu.per_session_us));
    row("CPU per transaction (us)", num(p.cpu.per_transaction_us));
    row(
        "CPU includes the server",
        if p.cpu.includes_server { "yes" } else { "no" }.into(),
    );
    row("SIP bytes out / in", format!("{} / {}", p.bytes.out, p.bytes.r#in));
    if let Some(m) = &p.memory {
        row("sessions held", m.sessions_held.to_string());
        row(
            "RSS before / held (bytes)",
            format!("{} / {}", m.rss_before_bytes, m.rss_held_bytes),
        );
        row("bytes per session", m.per_session_bytes.to_string());
    }
    out.push_str("</table>\n");
    if !p.transactions.is_empty() {
        out.push_str("<table><tr><th>transactions</th><th>ok</th><th>failed</th></tr>");
        for (m, t) in &p.transactions {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                escape(m),
                t.ok,
                t.failed
            );
        }
        out.push_str("</table>\n");
    }
    if !p.negotiated.is_empty() {
        out.push_str(
            "<table><tr><th>protocol</th><th>cipher suite</th><th>key exchange</th><th>peer key</th>\
             <th>handshake</th><th>count</th></tr>",
        );
        for n in &p.negotiated {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
                escape(&n.protocol),
                escape(&n.cipher_suite),
                escape(&n.kx_group),
                escape(&n.peer_key),
                escape(&n.handshake),
                n.count
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("<details><summary>plan</summary>");
    fields_table(out, &serde_json::to_value(&p.plan).unwrap_or(Value::Null));
    out.push_str("</details>\n</section>\n");
}

/// What the charts show, once at the top of the page.
fn legend_note(opts: ReportOptions) -> String {
    format!(
        "<p class=\"small\">Latency charts: percentile on a 1/(1-p) axis (90%, 99%, 99.9%, ...; it ends at the \
         last percentile the data reaches), as HdrHistogram's plotter draws them, against latency in ms on {} axis. \
         In open-loop phases the solid line is the latency <strong>{}</strong> (from each arrival's intended \
         start), the dashed one the same latency <strong>{}</strong> (from the actual send); the dotted grey \
         line is how late the generator sent. Latencies in tables are milliseconds. Every metric's \
         <code>.hgrm</code> file (values in ms) loads into HistogramLogAnalyzer and the online HdrHistogram \
         plotter.</p>\n",
        match opts.y_axis {
            YAxis::Log => "a logarithmic",
            YAxis::Linear => "a linear",
        },
        super::CORRECTED,
        super::AS_MEASURED
    )
}

/// The page's table of contents: `(id, text)` per top-level section.
fn contents(out: &mut String, items: &[(String, String)]) {
    out.push_str("<nav id=\"contents\"><ul>");
    for (id, text) in items {
        let _ = write!(out, "<li><a href=\"#{}\">{}</a></li>", escape(id), escape(text));
    }
    out.push_str("</ul></nav>\n");
}

/// The page's head and title.
pub fn head(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style>\
         </head><body>\n<h1>{}</h1>\n",
        escape(title),
        escape(title)
    );
}

/// The element id of a capacity search's section.
pub fn capacity_id(run: &str) -> String {
    format!("capacity-{}", id_safe(run))
}

/// A capacity search: the knee in words, the charts, and every step.
fn capacity_section(out: &mut String, run: &LoadedRun, charts: &[&WrittenChart], inline: bool) {
    let Some(cap) = &run.result.capacity else { return };
    let _ = writeln!(
        out,
        "<section class=\"capacity\" id=\"{}\"><h2>Capacity search: {}</h2>",
        escape(&capacity_id(&run.name)),
        escape(&run.name)
    );
    let conclusion = crate::capacity::command::conclusion(cap);
    let sentence = conclusion
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "<p><strong>{}</strong></p><p>Thresholds: {}. {} steps of {}, each its own phase below.</p>",
        escape(sentence.trim()),
        escape(&cap.thresholds.join(", ")),
        cap.steps.len(),
        escape(&humantime::format_duration(cap.step_duration).to_string())
    );
    for c in charts {
        chart_block(out, c, inline);
    }
    out.push_str(
        "<table class=\"steps\"><tr><th>step</th><th>why</th><th>rate offered /s</th><th>achieved /s</th>\
         <th>metric</th><th>p50 ms</th><th>p99 ms</th><th>p99 as measured ms</th><th>failure rate</th>\
         <th>verdict</th><th>broke</th></tr>\n",
    );
    for s in &cap.steps {
        let purpose = serde_json::to_value(s.purpose)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "<tr class=\"{}\"><td><a href=\"#{}\">{}</a></td><td>{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{:.1}</td><td>{}</td><td class=\"n\">{:.3}</td><td class=\"n\">{:.3}</td>\
             <td class=\"n\">{:.3}</td><td class=\"n\">{:.4}%</td><td>{}</td><td>{}</td></tr>",
            escape(s.verdict.as_str()),
            escape(&phase_id(&run.name, &s.phase)),
            escape(&s.phase),
            escape(&purpose),
            s.rate,
            s.achieved_per_s,
            escape(&s.metric),
            s.p50_us as f64 / 1000.0,
            s.p99_us as f64 / 1000.0,
            s.p99_uncorrected_us as f64 / 1000.0,
            s.failure_rate * 100.0,
            escape(s.verdict.as_str()),
            escape(&s.broken.join(", "))
        );
    }
    out.push_str("</table>\n</section>\n");
}

/// The whole page for `inputs` and the charts written for them.
pub fn page(inputs: &Inputs, written: &Written, opts: ReportOptions) -> String {
    let runs = &inputs.runs;
    let compares = &inputs.compares;
    let mut out = String::new();
    let title = match (runs.as_slice(), compares.as_slice()) {
        ([one], []) => format!("sipbench report: {}", one.label()),
        ([], [c]) => format!("sipbench report: {} compared ({})", c.dimension(), c.name),
        (_, []) => format!("sipbench report: {} runs", runs.len()),
        _ => format!("sipbench report: {} runs, {} compare files", runs.len(), compares.len()),
    };
    head(&mut out, &title);
    out.push_str(&legend_note(opts));
    let several = runs.len() > 1;
    let mut items = Vec::new();
    for r in runs.iter().filter(|r| r.result.capacity.is_some()) {
        items.push((capacity_id(&r.name), format!("Capacity search: {}", r.name)));
    }
    if !runs.is_empty() {
        items.push(("summary".to_owned(), "Summary".to_owned()));
    }
    for c in compares {
        items.push((
            super::variants::section_id(c),
            format!("Compare {}: {}", c.dimension(), c.name),
        ));
    }
    if several {
        items.push(("differences".into(), "What differed".into()));
        items.push(("comparison".into(), "Comparison".into()));
    }
    for r in runs {
        items.push((run_id(&r.name), format!("Run {}", r.name)));
        if r.result.capacity.is_none() {
            for p in &r.phases {
                items.push((phase_id(&r.name, &p.key), format!("{} · {}", r.name, p.key)));
            }
        }
    }
    contents(&mut out, &items);
    // A capacity search's answer first: the knee.
    for (run, charts) in runs.iter().zip(&written.runs) {
        let whole: Vec<&WrittenChart> = charts.iter().filter(|c| c.phase.is_empty()).collect();
        capacity_section(&mut out, run, &whole, true);
    }
    if !runs.is_empty() {
        summary(&mut out, runs);
    }
    for (c, charts) in compares.iter().zip(&written.compares) {
        super::variants::section(&mut out, c, charts);
    }
    if several {
        differences(&mut out, runs);
        out.push_str("<section id=\"comparison\"><h2>Comparison</h2>\n<ul>");
        for r in runs {
            let _ = write!(
                out,
                "<li>{}: {}</li>",
                escape(&r.label()),
                escape(&r.path.display().to_string())
            );
        }
        out.push_str("</ul>\n");
        side_by_side(&mut out, runs);
        let mut last = None;
        for c in &written.compare {
            if last != Some(&c.phase) {
                let _ = writeln!(out, "<h3>Phase {}</h3>", escape(&c.phase));
                last = Some(&c.phase);
            }
            chart_block(&mut out, c, true);
        }
        out.push_str("</section>\n");
    }
    for (i, run) in runs.iter().enumerate() {
        let _ = writeln!(out, "<section class=\"run\" id=\"{}\">", escape(&run_id(&run.name)));
        header(&mut out, run);
        let charts = written.runs.get(i).map(Vec::as_slice).unwrap_or_default();
        for (phase, loaded) in run.result.phases.iter().zip(&run.phases) {
            let mine: Vec<&WrittenChart> = charts.iter().filter(|c| c.phase == loaded.key).collect();
            // With several runs the comparison charts are inline; per-run charts are linked.
            phase_section(&mut out, &run.name, &loaded.key, phase, &mine, !several);
        }
        out.push_str("</section>\n");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn strips_xml_declaration() {
        assert_eq!(inline_svg("<?xml version=\"1.0\"?>\n<svg/>"), "<svg/>");
        assert_eq!(inline_svg("<svg></svg>"), "<svg></svg>");
    }

    #[test]
    fn shows_json_values() {
        let v = serde_json::json!({"a": null, "b": ["x", 2], "c": {"d": true}});
        assert_eq!(show(&v["a"]), "-");
        assert_eq!(show(&v["b"]), "x, 2");
        assert_eq!(show(&v["c"]), "d: true");
    }
}
