//! `sipbench report` and `sipbench diff` on results files written by short real runs: charts parse
//! and hold the expected series, PNGs decode and are not blank, `.hgrm` values agree with the
//! histograms, `diff` flags a made-up regression and only then exits 1.

mod common;
use common::{run_ok, sipbench};

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use sipbench::report::hgrm;
use sipbench::report::plot::{HEIGHT, WIDTH};
use sipbench::results::RunResult;
use sipbench::stats::decode_histogram;

/// Two stored runs shared by every test: a closed-loop and an open-loop TLS run.
struct Fixture {
    dir: PathBuf,
    closed: PathBuf,
    open: PathBuf,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let closed = dir.join("closed.json");
        let open = dir.join("open.json");
        let c = closed.to_str().unwrap();
        run_ok(sipbench().args([
            "run", "--mode", "tls", "-c", "2", "-d", "300ms", "--warmup", "0s", "-q", "-o", c,
        ]));
        let o = open.to_str().unwrap();
        run_ok(sipbench().args([
            "run", "--mode", "tls", "-r", "300", "-d", "300ms", "--warmup", "0s", "-q", "-o", o,
        ]));
        Fixture { dir, closed, open }
    })
}

fn fresh_dir(name: &str) -> PathBuf {
    let d = fixture().dir.join(name);
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Lines (polylines) drawn in a series colour, per colour, from an SVG the report wrote.
fn series_strokes(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("the SVG parses as XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.tag_name().name() == "polyline")
        .filter_map(|n| n.attribute("stroke").map(str::to_owned))
        .filter(|s| s.eq_ignore_ascii_case("#0072B2") || s.eq_ignore_ascii_case("#D55E00"))
        .collect()
}

fn decode_png(path: &Path) -> (png::OutputInfo, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    buf.truncate(info.buffer_size());
    (info, buf)
}

/// Text of every `<text>` element of an SVG.
fn svg_text(svg: &str) -> String {
    let doc = roxmltree::Document::parse(svg).expect("the SVG parses as XML");
    doc.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Tick labels of the x axis (percentiles) in a percentile chart's SVG, left to right.
fn percentile_ticks(svg: &str) -> Vec<String> {
    svg_text(svg)
        .lines()
        .map(str::trim)
        .filter(|l| l.ends_with('%') && l.len() < 10)
        .map(str::to_owned)
        .collect()
}

#[test]
fn report_of_one_run_writes_charts_hgrm_and_html() {
    let f = fixture();
    let out = fresh_dir("one");
    run_ok(sipbench().args(["report", f.closed.to_str().unwrap(), "--out-dir", out.to_str().unwrap()]));
    let result = RunResult::read(&f.closed).unwrap();
    let phase = &result.phases[0];
    assert!(phase.histograms.contains_key("handshake.full"));
    let pdir = out.join("closed").join(&phase.plan.name);
    // .hgrm for every metric: every row's value is the histogram's own value at that percentile.
    for (metric, encoded) in &phase.histograms {
        let h = decode_histogram(encoded).unwrap();
        let text = std::fs::read_to_string(pdir.join(format!("{metric}.hgrm"))).unwrap();
        check_hgrm(&text, &h, metric);
    }
    // Charts: the main latency (closed loop: one series), the breakdown (one line per other
    // metric), the timeline; not one chart per metric.
    let charts: Vec<String> = std::fs::read_dir(&pdir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".svg"))
        .collect();
    let mut sorted = charts.clone();
    sorted.sort();
    assert_eq!(sorted, ["breakdown.svg", "latency.svg", "timeline.svg"], "{charts:?}");
    let latency = std::fs::read_to_string(pdir.join("latency.svg")).unwrap();
    let strokes = series_strokes(&latency);
    assert!(
        !strokes.is_empty() && strokes.iter().all(|s| s.eq_ignore_ascii_case("#0072B2")),
        "closed loop: one series, {strokes:?}"
    );
    let text = svg_text(&latency);
    for label in ["Percentile", "Latency (ms, log scale)", "session"] {
        assert!(text.contains(label), "latency chart: no {label:?} in\n{text}");
    }
    assert!(!text.contains("corrected"), "closed loop: nothing to correct");
    // The x axis ends at the last percentile of the data, not a decade past it.
    let h = decode_histogram(&phase.histograms["session"]).unwrap();
    let last = hgrm::rows(&h)
        .iter()
        .filter(|r| r.quantile < 1.0)
        .map(|r| r.quantile)
        .fold(0.0, f64::max);
    let ticks = percentile_ticks(&latency);
    let end = ticks.last().unwrap().trim_end_matches('%').parse::<f64>().unwrap();
    assert!(
        end <= 100.0 * last + 1e-6 && end >= 100.0 * (1.0 - 10.0 * (1.0 - last)),
        "x axis ends at {end}%, the data at {}%: {ticks:?}",
        100.0 * last
    );
    let breakdown = svg_text(&std::fs::read_to_string(pdir.join("breakdown.svg")).unwrap());
    for m in phase.histograms.keys().filter(|m| *m != "session") {
        assert!(breakdown.contains(m.as_str()), "breakdown lacks {m}");
    }
    // PNG: decodes at the chart size, and is not blank (white, grey grid, text and the series).
    let (info, pixels) = decode_png(&pdir.join("latency.png"));
    assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let series_px = pixels.chunks(3).filter(|p| p == &[0, 114, 178]).count();
    let dark_px = pixels.chunks(3).filter(|p| p.iter().all(|&c| c < 80)).count();
    assert!(series_px > 100, "{series_px} series pixels");
    assert!(dark_px > 500, "{dark_px} dark (text) pixels");

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg").count(), 3, "the phase's three charts, inline");
    assert!(
        !html.contains("<script") && !html.contains("src=\"http"),
        "self-contained"
    );
    for needle in [
        &result.environment.cpu_model,
        &result.environment.git_revision,
        &result.environment.kernel,
        &phase.plan.name,
        "sessions/s",
        "p99.9",
        "Failures",
        "TLS13_",
        "handshake.full.hgrm",
        "id=\"summary\"",
    ] {
        assert!(html.contains(needle), "report.html lacks {needle:?}");
    }
    // The summary comes first: one row per phase with its rate, latency and failures.
    let summary = html.find("<h2>Summary</h2>").expect("a summary");
    assert!(
        summary < html.find("<h2>Run ").unwrap(),
        "summary before the run's details"
    );
    let table = &html[summary..html[summary..].find("</table>").unwrap() + summary];
    assert_eq!(table.matches("<tr><td>").count(), result.phases.len(), "{table}");
    assert!(
        table.contains(&format!("\">{}</a></td>", phase.plan.name)),
        "the phase, linked to its section: {table}"
    );
    assert!(table.contains("sessions/s"), "{table}");
}

/// Open loop: the corrected and the as-measured latency in one chart, labelled; `--linear`
/// draws the latency axis from 0.
#[test]
fn open_loop_overlays_corrected_and_measured_latency() {
    let f = fixture();
    for (name, extra, axis) in [
        ("open-log", &[][..], "Latency (ms, log scale)"),
        ("open-linear", &["--linear"][..], "Latency (ms)"),
        ("open-linear2", &["--y-axis", "linear"][..], "Latency (ms)"),
    ] {
        let out = fresh_dir(name);
        run_ok(
            sipbench()
                .args(["report", f.open.to_str().unwrap(), "--out-dir", out.to_str().unwrap()])
                .args(extra),
        );
        let result = RunResult::read(&f.open).unwrap();
        let pdir = out.join("open").join(&result.phases[0].plan.name);
        let svg = std::fs::read_to_string(pdir.join("latency.svg")).unwrap();
        let mut strokes = series_strokes(&svg);
        strokes.sort();
        strokes.dedup();
        assert_eq!(strokes.len(), 2, "{name}: two series, {strokes:?}");
        let text = svg_text(&svg);
        for label in [
            "session, corrected for coordinated omission",
            "session, as measured",
            "generator lag",
        ] {
            assert!(text.contains(label), "{name}: no {label:?} in\n{text}");
        }
        assert!(
            text.lines().any(|l| l.trim() == axis),
            "{name}: no axis {axis:?} in\n{text}"
        );
        assert!(!pdir.join("session.uncorrected.svg").exists(), "no chart of its own");
        assert!(pdir.join("session.uncorrected.hgrm").exists());
        let ticks: Vec<f64> = svg_text(&svg)
            .lines()
            .filter_map(|l| l.trim().parse::<f64>().ok())
            .collect();
        if extra.is_empty() {
            assert!(!ticks.contains(&0.0), "{name}: a log axis has no 0: {ticks:?}");
        } else {
            assert!(ticks.contains(&0.0), "{name}: a linear axis starts at 0: {ticks:?}");
        }
    }
    let both = sipbench()
        .args(["report", f.open.to_str().unwrap(), "--linear", "--y-axis", "log"])
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2), "--linear and --y-axis conflict");
}

fn check_hgrm(text: &str, h: &hdrhistogram::Histogram<u64>, metric: &str) {
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("       Value     Percentile TotalCount 1/(1-Percentile)")
    );
    assert_eq!(lines.next(), Some(""));
    let mut rows = 0;
    let mut last_count = 0;
    for line in lines.by_ref() {
        if line.starts_with("#[") {
            assert!(line.starts_with("#[Mean    = "), "{line}");
            break;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        let value_ms: f64 = cols[0].parse().unwrap();
        let q: f64 = cols[1].parse().unwrap();
        let count: u64 = cols[2].parse().unwrap();
        assert!(count >= last_count && count <= h.len(), "{metric}: {line}");
        last_count = count;
        let value = (value_ms * 1000.0).round() as u64;
        // The text carries 12 decimals of the percentile, so accept the histogram's value anywhere
        // within that printing precision of it; at 0% HdrHistogram prints the first bucket's top.
        let expect: Vec<u64> = if q == 0.0 {
            vec![h.highest_equivalent(h.value_at_quantile(0.0))]
        } else {
            vec![
                h.value_at_quantile(q),
                h.value_at_quantile((q - 1e-9).max(0.0)),
                h.value_at_quantile((q + 1e-9).min(1.0)),
            ]
        };
        assert!(
            expect.contains(&value),
            "{metric}: row {line:?}: histogram says {expect:?}"
        );
        assert_eq!(cols.len(), if q < 1.0 { 4 } else { 3 }, "{metric}: {line}");
        rows += 1;
    }
    assert!(rows >= 2, "{metric}: {rows} rows");
    assert_eq!(last_count, h.len(), "{metric}: the last row holds every value");
    let max = format!(
        "#[Max     = {:12.3}, Total count    = {:12}]",
        h.max() as f64 / 1000.0,
        h.len()
    );
    assert_eq!(lines.next(), Some(max.as_str()));
    assert_eq!(
        lines.next(),
        Some(format!("#[Buckets = {:12}, SubBuckets     = {:12}]", h.buckets(), 2048).as_str())
    );
    assert_eq!(lines.next(), Some(hgrm::UNIT_LINE), "{metric}: the unit, last");
    assert_eq!(lines.next(), None);
    assert_eq!(hgrm::rows(h).len(), rows);
}

#[test]
fn report_of_two_runs_overlays_them() {
    let f = fixture();
    let out = fresh_dir("two");
    run_ok(sipbench().args([
        "report",
        f.closed.to_str().unwrap(),
        f.open.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
    ]));
    let closed = RunResult::read(&f.closed).unwrap();
    let open = RunResult::read(&f.open).unwrap();
    let name = &closed.phases[0].plan.name;
    assert_eq!(name, &open.phases[0].plan.name, "both runs are built from flags");
    let compare = out.join("compare").join(name);
    // The session latency: the closed run's one series, the open run's corrected and as
    // measured, in the runs' colours; the full handshake: one series per run.
    for (chart, colours, series) in [("latency", 2, 3), ("handshake", 2, 2)] {
        let svg = std::fs::read_to_string(compare.join(format!("{chart}.svg"))).unwrap();
        let mut strokes = series_strokes(&svg);
        strokes.sort();
        strokes.dedup();
        assert_eq!(strokes.len(), colours, "{chart}: {strokes:?}");
        let text = svg_text(&svg);
        assert!(
            text.contains("closed: "),
            "{chart}: legend names the closed run:\n{text}"
        );
        assert!(text.contains("open: "), "{chart}: legend names the open run:\n{text}");
        assert_eq!(
            text.lines()
                .filter(|l| l.contains("closed: ") || l.contains("open: "))
                .count(),
            series,
            "{chart}:\n{text}"
        );
        let (info, _) = decode_png(&compare.join(format!("{chart}.png")));
        assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
    }
    assert!(out.join("closed").join(name).join("session.hgrm").exists());
    assert!(out.join("open").join(name).join("session.uncorrected.hgrm").exists());
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<h2>Comparison</h2>"));
    // Both runs in the summary, and what differed between them (the load model).
    assert!(html.contains("<h3>What differed: open ("), "{html}");
    assert!(html.contains(&format!("phase {name}: plan.load")), "the load differs");
    assert!(
        !html.contains("target.tls"),
        "the embedded server's ports differ from run to run: not a difference"
    );
    // Figures side by side, with ratios and verdicts.
    let figures = html
        .find("<h3>Figures: open against closed</h3>")
        .expect("figures side by side");
    let table = &html[figures..figures + html[figures..].find("</table>").unwrap()];
    for needle in ["sessions/s", "session p99", "CPU per session", "ratio"] {
        assert!(table.contains(needle), "{needle:?} not in\n{table}");
    }
}

#[test]
fn default_out_dir_is_next_to_the_file() {
    let f = fixture();
    let copy = f.dir.join("defaults.json");
    std::fs::copy(&f.closed, &copy).unwrap();
    let _ = std::fs::remove_dir_all(f.dir.join("defaults-report"));
    run_ok(sipbench().args(["report", copy.to_str().unwrap()]));
    assert!(f.dir.join("defaults-report/report.html").exists());
}

fn diff(base: &Path, new: &Path, extra: &[&str]) -> Output {
    let mut c = sipbench();
    c.args(["diff", base.to_str().unwrap(), new.to_str().unwrap()])
        .args(extra);
    c.output().unwrap()
}

#[test]
fn diff_of_a_run_with_itself_finds_nothing_worse() {
    let f = fixture();
    let out = diff(&f.closed, &f.closed, &["--fail-on-regression", "0"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("0 worse, 0 better"), "{text}");
    for metric in ["sessions/s", "handshake.full p99", "session p99.9", "CPU per session"] {
        assert!(text.contains(metric), "no {metric:?} in\n{text}");
    }
    assert!(text.contains("within noise"));
    assert!(!text.contains("warning: the runs differ"), "{text}");
}

/// A diff says what else differs between the runs (backend, plan) before the figures, and
/// `--json` gives the same as a document with verdicts and regressions.
#[test]
fn diff_says_what_differed_and_speaks_json() {
    let f = fixture();
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&f.closed).unwrap()).unwrap();
    json["environment"]["backend"] = "openssl".into();
    json["phases"][0]["plan"]["resumption"] = "tls13-tickets".into();
    for summary in json["phases"][0]["latency_us"].as_object_mut().unwrap().values_mut() {
        summary["p50"] = (summary["p50"].as_u64().unwrap() * 10).into();
    }
    let other = f.dir.join("other-backend.json");
    std::fs::write(&other, serde_json::to_string_pretty(&json).unwrap()).unwrap();

    let out = diff(&f.closed, &other, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("warning: the runs differ"), "{text}");
    assert!(
        text.contains("environment.backend: \"aws-lc-rs\" -> \"openssl\""),
        "{text}"
    );
    let phase = json["phases"][0]["plan"]["name"].as_str().unwrap();
    assert!(
        text.contains(&format!("phase {phase}: plan.resumption: \"off\" -> \"tls13-tickets\"")),
        "{text}"
    );

    let out = diff(&f.closed, &other, &["--json", "--fail-on-regression", "10"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema"], "sipbench-diff/1");
    let whats: Vec<&str> = doc["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["what"].as_str().unwrap())
        .collect();
    assert!(whats.contains(&"environment.backend"), "{whats:?}");
    let rows = doc["rows"].as_array().unwrap();
    assert!(rows.iter().all(|r| r["verdict"].is_string() && r["ratio"].is_number()));
    // A p50 ten times higher is beyond any noise: a regression, and the exit status says so.
    let regressions = doc["regressions"].as_array().unwrap();
    assert_eq!(out.status.code(), Some(if regressions.is_empty() { 0 } else { 1 }));
    assert!(
        rows.iter()
            .any(|r| r["metric"].as_str().unwrap().ends_with(" p50") && r["verdict"] == "worse"),
        "{rows:?}"
    );
}

#[test]
fn diff_flags_a_made_up_regression() {
    let f = fixture();
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&f.closed).unwrap()).unwrap();
    for phase in json["phases"].as_array_mut().unwrap() {
        for summary in phase["latency_us"].as_object_mut().unwrap().values_mut() {
            summary["p50"] = (summary["p50"].as_u64().unwrap() * 2).into();
            summary["p99"] = (summary["p99"].as_u64().unwrap() * 2).into();
        }
        for rate in phase["rates"].as_object_mut().unwrap().values_mut() {
            *rate = (rate.as_f64().unwrap() / 2.0).into();
        }
    }
    let worse = f.dir.join("regressed.json");
    std::fs::write(&worse, serde_json::to_string_pretty(&json).unwrap()).unwrap();

    let out = diff(&f.closed, &worse, &["--fail-on-regression", "10"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| l.starts_with(&format!("{} ", json["phases"][0]["plan"]["name"].as_str().unwrap())))
        .map(|l| l.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect())
        .collect();
    assert!(rows.len() > 10, "{text}");
    for row in &rows {
        let (metric, noise, verdict) = (row[1], row[5], row[6]);
        let noise: f64 = noise.trim_start_matches('±').trim_end_matches('%').parse().unwrap();
        if metric.ends_with("/s") {
            assert_eq!(verdict, "worse", "{row:?}");
        } else if metric.ends_with(" p50") || metric.ends_with(" p99") {
            // A doubled percentile is flagged unless the run's own histogram says it is that
            // uncertain (few samples in a short run on a loaded machine: the rule in the diff
            // module docs).
            assert!(verdict == "worse" || noise >= 100.0, "{row:?}");
        } else {
            assert_eq!(verdict, "within noise", "untouched: {row:?}");
        }
    }
    assert!(text.contains("regressions worse than 10%"), "{text}");

    // Without the flag the table is the same but the exit status is 0; the other way round it is better.
    assert_eq!(diff(&f.closed, &worse, &[]).status.code(), Some(0));
    let back = diff(&worse, &f.closed, &["--fail-on-regression", "10"]);
    assert_eq!(back.status.code(), Some(0), "{}", String::from_utf8_lossy(&back.stdout));
    assert!(String::from_utf8_lossy(&back.stdout).contains(" better"));
}

#[test]
fn bad_files_are_clear_errors_naming_the_file() {
    let f = fixture();
    let not_json = f.dir.join("not-json.json");
    std::fs::write(&not_json, "this is not JSON").unwrap();
    let out = sipbench()
        .args(["report", not_json.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not-json.json") && !err.contains("panicked"), "{err}");

    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&f.closed).unwrap()).unwrap();
    json["phases"][0]["histograms"]["session"] = "AAAA not a histogram".into();
    let broken = f.dir.join("broken-histogram.json");
    std::fs::write(&broken, serde_json::to_string(&json).unwrap()).unwrap();
    let out = diff(&f.closed, &broken, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken-histogram.json") && err.contains("\"session\"") && !err.contains("panicked"),
        "{err}"
    );

    let missing = sipbench().args(["report", "/nonexistent/run.json"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/run.json"));
}

#[test]
fn timeline_chart_is_drawn_from_the_results_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("t.json");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_sipbench"))
        .args([
            "run", "--mode", "tls", "-c", "2", "-d", "2200ms", "--warmup", "0s", "-q", "-o",
        ])
        .arg(&run)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = dir.path().join("rep");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_sipbench"))
        .arg("report")
        .arg(&run)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let svg = std::fs::read_to_string(out.join("t/cli/timeline.svg")).expect("timeline chart written");
    let doc = roxmltree::Document::parse(&svg).expect("timeline SVG parses");
    let text: String = doc
        .descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect();
    for label in [
        "sessions/s",
        "failures/s (none)",
        "session p50",
        "session p99",
        "seconds into the measured window",
        "latency (ms, log)",
    ] {
        assert!(text.contains(label), "timeline lacks {label:?}");
    }
    // Three panels on one time axis: rate, latency and failures each have their own y axis,
    // the time axis is labelled once.
    assert_eq!(text.matches("seconds into the measured window").count(), 1);
    assert!(text.contains("per second"));
    let png = std::fs::read(out.join("t/cli/timeline.png")).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let reader = decoder.read_info().unwrap();
    assert_eq!(
        (reader.info().width, reader.info().height),
        (WIDTH, sipbench::report::plot::TIMELINE_HEIGHT)
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("timeline"));
}

fn committed(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `<rect>` bars of an SVG: (x, y, height, fill), bars only (filled in a palette colour, 0.75 opaque).
fn bars(svg: &str) -> Vec<(f64, f64, f64, String)> {
    let doc = roxmltree::Document::parse(svg).expect("the SVG parses");
    doc.descendants()
        .filter(|n| n.tag_name().name() == "rect" && n.attribute("opacity") == Some("0.75"))
        .map(|n| {
            let num = |a: &str| n.attribute(a).unwrap().parse::<f64>().unwrap();
            (
                num("x"),
                num("y"),
                num("height"),
                n.attribute("fill").unwrap().to_owned(),
            )
        })
        .collect()
}

/// `sipbench report` on a `sipbench compare` file (every committed one): a section with a row
/// per variant (the file's medians), bars at the medians with a dot per round, each variant's
/// handshake latency from all its rounds, and `.hgrm` files of the rounds added together.
#[test]
fn report_of_a_compare_file_draws_the_variants_side_by_side() {
    let files: Vec<PathBuf> = std::fs::read_dir(committed("results"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("compare-") && name.ends_with(".json")
        })
        .collect();
    assert!(files.len() >= 3, "{files:?}");
    for file in files {
        let c: sipbench::compare::CompareResult =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let out = fresh_dir(&stem);
        run_ok(sipbench().arg("report").arg(&file).arg("--out-dir").arg(&out));
        let dir = out.join(&stem);
        let html = std::fs::read_to_string(out.join("report.html")).unwrap();
        assert!(html.contains(&format!("id=\"compare-{stem}\"")), "{stem}: no section");
        assert!(!html.contains("id=\"summary\""), "{stem}: no run, so no run summary");
        let table = &html[html.find("<table class=\"variants\">").unwrap()..];
        let table = &table[..table.find("</table>").unwrap()];
        assert_eq!(table.matches("<tr><td>").count(), c.variants.len(), "{stem}: {table}");
        for s in &c.summary {
            assert!(
                table.contains(&format!("<tr><td>{}</td>", s.variant)),
                "{stem}: {}",
                s.variant
            );
            assert!(
                table.contains(&format!("{:.1}", s.rate_per_s.median)),
                "{stem}: {}",
                s.variant
            );
        }

        // Bars: one per variant and panel, heights in proportion to the medians of the rounds.
        let svg = std::fs::read_to_string(dir.join("rates.svg")).unwrap();
        let text = svg_text(&svg);
        for v in &c.variants {
            assert!(text.lines().any(|l| l.trim() == v), "{stem}: no {v} label");
        }
        let all = bars(&svg);
        let base = all.iter().map(|b| b.1 + b.2).fold(f64::INFINITY, f64::min);
        let rate_bars: Vec<_> = all.iter().filter(|b| (b.1 + b.2 - base).abs() < 1.5).collect();
        assert_eq!(rate_bars.len(), c.variants.len(), "{stem}: {all:?}");
        let tallest = c.summary.iter().map(|s| s.rate_per_s.median).fold(0.0, f64::max);
        let tallest_px = rate_bars.iter().map(|b| b.2).fold(0.0, f64::max);
        for (bar, s) in rate_bars.iter().zip(&c.summary) {
            let expect = s.rate_per_s.median / tallest * tallest_px;
            assert!(
                (bar.2 - expect).abs() <= 2.0,
                "{stem}: {}: {} px, expected {expect}",
                s.variant,
                bar.2
            );
        }
        let dots = roxmltree::Document::parse(&svg)
            .unwrap()
            .descendants()
            .filter(|n| n.tag_name().name() == "circle")
            .count();
        assert_eq!(dots, c.rounds.len() * 2, "{stem}: a dot per round in both panels");

        // Latency per variant, from every round.
        let svg = std::fs::read_to_string(dir.join("handshake.svg")).unwrap();
        let text = svg_text(&svg);
        for v in &c.variants {
            assert!(
                text.contains(&format!("{v}: handshake.full")),
                "{stem}: legend lacks {v}"
            );
            let hgrm = std::fs::read_to_string(dir.join(v).join("handshake.full.hgrm")).unwrap();
            let total: u64 = c
                .rounds
                .iter()
                .filter(|r| &r.variant == v)
                .map(|r| r.result.latency_us["handshake.full"].count)
                .sum();
            assert!(
                hgrm.contains(&format!("Total count    = {total:12}]")),
                "{stem}: {v}: the rounds' {total} handshakes"
            );
        }
        assert!(html.matches("<svg").count() >= 2, "{stem}: charts inline");
    }
}

/// A capacity search: its knee first, p99 and throughput against the rate offered with the
/// limit and the knee, every step in a table, and no chart per step.
#[test]
fn report_of_a_capacity_search_draws_the_knee() {
    let file = committed("results/capacity/tls-handshakes.json");
    let result = RunResult::read(&file).unwrap();
    let cap = result.capacity.as_ref().unwrap();
    let out = fresh_dir("capacity");
    run_ok(sipbench().arg("report").arg(&file).arg("--out-dir").arg(&out));
    let svg = std::fs::read_to_string(out.join("tls-handshakes/capacity.svg")).unwrap();
    let text = svg_text(&svg);
    let knee = cap.knee.as_ref().unwrap().rate;
    for label in [
        format!("knee {knee}/s"),
        "p99 limit 20 ms".into(),
        "session p99".into(),
        "step kept the thresholds".into(),
        "step broke a threshold".into(),
        "rate offered (arrivals/s)".into(),
    ] {
        assert!(text.contains(&label), "capacity chart lacks {label:?}:\n{text}");
    }
    // One marker per step, coloured by its verdict.
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let marker = |fill: &str| {
        doc.descendants()
            .filter(|n| n.tag_name().name() == "circle" && n.attribute("r") == Some("5"))
            .filter(|n| n.attribute("fill") == Some(fill))
            .count()
    };
    let passed = cap
        .steps
        .iter()
        .filter(|s| s.verdict == sipbench::capacity::Verdict::Pass)
        .count();
    // (and one more of each colour in the legend)
    assert_eq!(marker("#009E73"), passed + 1);
    assert_eq!(marker("#D55E00"), cap.steps.len() - passed + 1);
    let steps = svg_text(&std::fs::read_to_string(out.join("tls-handshakes/steps.svg")).unwrap());
    assert!(steps.contains(&format!("{knee}/s, knee")), "{steps}");
    assert!(steps.contains("100/s, minimum"), "{steps}");
    assert!(steps.contains("beyond the knee"), "{steps}");

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let section = html.find("id=\"capacity-tls-handshakes\"").expect("a capacity section");
    assert!(section < html.find("id=\"summary\"").unwrap(), "the knee first");
    assert!(html.contains(&format!("knee: {knee}/s")), "the knee in words");
    let table = &html[html.find("<table class=\"steps\">").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(table.matches("<tr class=").count(), cap.steps.len());
    // The steps have their .hgrm files but no charts of their own.
    let step = out.join("tls-handshakes").join(&cap.steps[0].phase);
    assert!(step.join("session.hgrm").exists());
    assert!(!step.join("latency.svg").exists());
}

/// A phase with step rates or a ramp gets latency and throughput against the rate offered; a
/// constant rate does not.
#[test]
fn steps_and_ramps_are_drawn_against_the_rate_offered() {
    let f = fixture();
    let mut files = Vec::new();
    for (name, rate, extra) in [
        ("steps", "50,100,150", &["--step", "1s"][..]),
        ("ramp", "50..150", &[][..]),
    ] {
        let path = f.dir.join(format!("{name}.json"));
        run_ok(
            sipbench()
                .args([
                    "run", "--mode", "tls", "-r", rate, "-d", "3s", "--warmup", "0s", "-q", "-o",
                ])
                .arg(&path)
                .args(extra),
        );
        files.push((name, path));
    }
    let out = fresh_dir("shapes");
    run_ok(
        sipbench()
            .arg("report")
            .args(files.iter().map(|f| &f.1))
            .arg(f.open.to_str().unwrap())
            .arg("--out-dir")
            .arg(&out),
    );
    for (name, label) in [
        ("steps", "worst one-second p99 of each step"),
        ("ramp", "p99 of each second"),
    ] {
        let svg = std::fs::read_to_string(out.join(name).join("cli/rate-latency.svg")).unwrap();
        let text = svg_text(&svg);
        assert!(text.contains(label), "{name}: {text}");
        assert!(
            text.contains("achieved") && text.contains("as offered"),
            "{name}: {text}"
        );
    }
    assert!(
        !out.join("open/cli/rate-latency.svg").exists(),
        "a constant rate has no such chart"
    );
}

/// Files that are not runs are named for what they are.
#[test]
fn other_kinds_of_file_are_named() {
    let out = sipbench()
        .arg("diff")
        .arg(committed("results/compare-key-types.json"))
        .arg(committed("results/default.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a sipbench compare file") && err.contains("sipbench report draws"),
        "{err}"
    );
    let out = sipbench()
        .arg("report")
        .arg(committed("results/audit.json"))
        .arg("--out-dir")
        .arg(fixture().dir.join("audit"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a sipbench audit file"), "{err}");
}

/// The summary's rate is the one the workload is about: transactions for kept sessions,
/// sessions held for `hold`, sessions for whole sessions.
#[test]
fn summary_shows_the_rate_the_workload_is_about() {
    let out = fresh_dir("workload-rates");
    run_ok(
        sipbench()
            .arg("report")
            .arg(committed("results/default.json"))
            .arg(committed("results/hold-5000.json"))
            .arg("--out-dir")
            .arg(&out),
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let summary = &html[html.find("<h2>Summary</h2>").unwrap()..];
    let summary = &summary[..summary.find("</table>").unwrap()];
    let row = |phase: &str| {
        let at = summary
            .find(&format!(">{phase}</a></td>"))
            .unwrap_or_else(|| panic!("no {phase} row"));
        let row = &summary[at..];
        row[..row.find("</tr>").unwrap()].to_owned()
    };
    let kept = row("sip-options-kept-tls");
    assert!(
        kept.contains(" transactions/s") && !kept.contains("sessions/s"),
        "{kept}"
    );
    let held = row("tls-hold-5000");
    assert!(held.contains("sessions held") && !held.contains("/s"), "{held}");
    let sessions = row("tls-full-handshake");
    assert!(sessions.contains("sessions/s"), "{sessions}");
}
