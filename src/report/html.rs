//! `report.html`: one self-contained page (inline CSS and SVG, no scripts, no external
//! resources). Every string taken from a results file is escaped.

use std::fmt::Write as _;

use serde_json::Value;

use super::{LoadedRun, Written, WrittenChart};
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
code{background:#f6f6f6;padding:0 3px}";

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
fn fields_table(out: &mut String, v: &Value) {
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

fn chart_block(out: &mut String, c: &WrittenChart, inline: bool) {
    let _ = write!(out, "<div class=\"chart\"><h4>{}</h4>", escape(&c.metric));
    if inline {
        out.push_str(inline_svg(&c.svg));
    }
    let _ = write!(
        out,
        "<div class=\"small\">files: <a href=\"{0}\">{0}</a> · <a href=\"{1}\">{1}</a>",
        escape(&c.svg_path),
        escape(&c.png_path)
    );
    if let Some(h) = &c.hgrm_path {
        let _ = write!(out, " · <a href=\"{0}\">{0}</a>", escape(h));
    }
    out.push_str("</div></div>\n");
}

/// The phase's main latency metric: `session`, else the busiest `sip.<METHOD>`.
fn main_metric(p: &crate::results::PhaseResult) -> Option<(&str, &crate::stats::Summary)> {
    if let Some(s) = p.latency_us.get("session") {
        return Some(("session", s));
    }
    p.latency_us
        .iter()
        .filter(|(k, _)| k.starts_with("sip.") && !k.ends_with(".uncorrected"))
        .max_by_key(|(_, s)| s.count)
        .map(|(k, s)| (k.as_str(), s))
}

/// The workload's own figure, beside its rate and latency.
fn own_figure(p: &crate::results::PhaseResult) -> String {
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

/// One row per phase of every run: what a reader looks for first. With several runs, what
/// differs between them besides the figures follows (as `sipbench diff` lists it).
fn summary(out: &mut String, runs: &[LoadedRun]) {
    out.push_str(
        "<h2>Summary</h2>\n<table class=\"summary\"><tr><th>run</th><th>phase</th><th>what</th><th>rate</th>\
         <th>latency</th><th>p50 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>failures</th><th>its own figure</th></tr>\n",
    );
    for run in runs {
        for p in &run.result.phases {
            let plan = &p.plan;
            let rate = if p.rates.transactions_per_s > 0.0 && p.rates.sessions_per_s == 0.0 {
                format!("{:.0} transactions/s", p.rates.transactions_per_s)
            } else if p.bulk.is_some() {
                format!("{:.0} records/s", p.bulk.as_ref().map_or(0.0, |b| b.records_per_s))
            } else {
                format!(
                    "{:.0} sessions/s, {:.0} transactions/s",
                    p.rates.sessions_per_s, p.rates.transactions_per_s
                )
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
            let cells = [
                run.label(),
                plan.name.clone(),
                format!("{} {}, {}", plan.mode.as_str(), plan.workload.as_str(), plan.load),
                rate,
                metric,
                p50,
                p99,
                p999,
                failures.to_string(),
                own_figure(p),
            ];
            out.push_str("<tr>");
            for c in cells {
                let _ = write!(out, "<td>{}</td>", escape(&c));
            }
            out.push_str("</tr>\n");
        }
    }
    out.push_str("</table>\n");
    if let [base, rest @ ..] = runs {
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
    if let Some(n) = r.merged_from {
        row(
            "merged from",
            format!("{n} files: histograms added, counters and rates summed (environments below)"),
        );
    }
    out.push_str("</table>\n<h3>Target</h3>\n");
    fields_table(out, &serde_json::to_value(&r.target).unwrap_or(Value::Null));
    out.push_str("<h3>Environment</h3>\n");
    fields_table(out, &serde_json::to_value(&r.environment).unwrap_or(Value::Null));
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

fn phase_section(out: &mut String, key: &str, p: &PhaseResult, charts: &[&WrittenChart], inline: bool) {
    let _ = writeln!(out, "<h3>Phase {}</h3>", escape(key));
    if p.interrupted {
        out.push_str("<p><strong>interrupted</strong>: the phase was cut short.</p>");
    }
    out.push_str("<details><summary>plan</summary>");
    fields_table(out, &serde_json::to_value(&p.plan).unwrap_or(Value::Null));
    out.push_str("</details>\n<table>");
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
    for c in charts {
        chart_block(out, c, inline);
    }
}

/// The whole page for `runs` and the charts written for them.
pub fn page(runs: &[LoadedRun], written: &Written) -> String {
    let mut out = String::new();
    let title = match runs {
        [one] => format!("sipbench report: {}", one.label()),
        _ => format!("sipbench report: {} runs", runs.len()),
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style>\
         </head><body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    out.push_str(
        "<p class=\"small\">Latency charts: latency in ms against percentile on a 1/(1-p) scale, as \
         HdrHistogram's plotter draws them. Latencies in tables are milliseconds. The <code>.hgrm</code> \
         files (values in ms) load into HistogramLogAnalyzer and the online HdrHistogram plotter.</p>\n",
    );
    summary(&mut out, runs);
    let several = runs.len() > 1;
    if several {
        out.push_str("<h2>Comparison</h2>\n<ul>");
        for r in runs {
            let _ = write!(
                out,
                "<li>{}: {}</li>",
                escape(&r.label()),
                escape(&r.path.display().to_string())
            );
        }
        out.push_str("</ul>\n");
        let mut last = None;
        for c in &written.compare {
            if last != Some(&c.phase) {
                let _ = writeln!(out, "<h3>Phase {}</h3>", escape(&c.phase));
                last = Some(&c.phase);
            }
            chart_block(&mut out, c, true);
        }
    }
    for (i, run) in runs.iter().enumerate() {
        header(&mut out, run);
        let charts = written.runs.get(i).map(Vec::as_slice).unwrap_or_default();
        for (phase, loaded) in run.result.phases.iter().zip(&run.phases) {
            let mine: Vec<&WrittenChart> = charts.iter().filter(|c| c.phase == loaded.key).collect();
            // With several runs the comparison charts are inline; per-run charts are linked.
            phase_section(&mut out, &loaded.key, phase, &mine, !several);
        }
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
