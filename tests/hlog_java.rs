//! `--hlog` read by HdrHistogram's own Java tools (Debian's libhdrhistogram-java) with their
//! default flags: `HistogramLogProcessor -i FILE` must neither crash nor need
//! `-outputValueUnitRatio`, and its percentiles, printed in milliseconds, must be ours within
//! the histogram's precision. Skipped, saying why, without java or the jar.

use std::path::{Path, PathBuf};
use std::process::Command;

use sipbench::results::RunResult;
use sipbench::stats::decode_histogram;

/// Where Debian and the upstream jar put HdrHistogram.
const JARS: &[&str] = &[
    "/usr/share/java/hdrhistogram.jar",
    "/usr/share/java/HdrHistogram.jar",
    "/usr/share/maven-repo/org/hdrhistogram/HdrHistogram/debian/HdrHistogram-debian.jar",
];

/// Two phases with different headline metrics: the untagged histograms carry the first's
/// session latency, then the second's OPTIONS transaction latency.
const PROFILE: &str = r#"
name = "hlog"
[defaults]
warmup = "100ms"
duration = "1500ms"
[[phase]]
name = "handshakes"
mode = "tls"
concurrency = 4
[[phase]]
name = "kept"
mode = "tcp"
workload = "kept"
connections = 4
transactions = ["OPTIONS"]
"#;

fn java_and_jar() -> Option<PathBuf> {
    if Command::new("java").arg("-version").output().is_err() {
        eprintln!("skipped: no `java` (apt-get install default-jre-headless libhdrhistogram-java)");
        return None;
    }
    let jar = JARS.iter().map(PathBuf::from).find(|p| p.exists());
    if jar.is_none() {
        eprintln!("skipped: no HdrHistogram jar in {JARS:?} (apt-get install libhdrhistogram-java)");
    }
    jar
}

/// `HistogramLogProcessor ARGS`: its standard output.
fn processor(jar: &Path, dir: &Path, args: &[&str]) -> String {
    let o = Command::new("java")
        .arg("-cp")
        .arg(jar)
        .arg("org.HdrHistogram.HistogramLogProcessor")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() && !stderr.contains("Exception"),
        "HistogramLogProcessor {args:?}: {:?}\n{stderr}",
        o.status
    );
    String::from_utf8(o.stdout).unwrap()
}

/// `ms`, printed by the Java tool, is `us` microseconds within the precision of a three-figure
/// histogram (twice over: ours in microseconds, the log's in nanoseconds) and of its three decimals.
fn assert_close(what: &str, ms: f64, us: u64) {
    let want = us as f64 / 1000.0;
    assert!(
        (ms - want).abs() <= want / 500.0 + 0.0015,
        "{what}: HistogramLogProcessor printed {ms} ms, sipbench has {us} us"
    );
}

/// The numbers of the last `T:count ( 50% 90% 99% 99.9% 99.99% Max )` group of an interval
/// output (the whole log so far).
fn totals(intervals: &str) -> (u64, Vec<f64>) {
    let line = intervals
        .lines()
        .rfind(|l| l.contains(" T:"))
        .unwrap_or_else(|| panic!("no interval lines:\n{intervals}"));
    let total = &line[line.find(" T:").unwrap() + 3..];
    let (count, rest) = total.split_once(' ').unwrap();
    let values = rest
        .trim_matches(|c: char| c == '(' || c == ')' || c.is_whitespace())
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    (count.parse().unwrap(), values)
}

/// `#[Max     =      100.270, Total count    =          606]` and the mean line's figures.
fn footer(distribution: &str, key: &str) -> f64 {
    let line = distribution
        .lines()
        .find(|l| l.starts_with(&format!("#[{key}")))
        .unwrap_or_else(|| panic!("no {key} line:\n{distribution}"));
    let value = line.split('=').nth(1).unwrap().split(',').next().unwrap();
    value.trim().trim_end_matches(']').parse().unwrap()
}

#[test]
fn java_histogram_log_processor_reads_the_hlog_with_default_flags() {
    let Some(jar) = java_and_jar() else { return };
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("hlog.toml");
    std::fs::write(&profile, PROFILE).unwrap();
    let (out, hlog) = (dir.path().join("r.json"), dir.path().join("r.hlog"));
    let o = Command::new(env!("CARGO_BIN_EXE_sipbench"))
        .env("RUST_LOG", "warn")
        .args(["run", "-q", "--profile"])
        .arg(&profile)
        .arg("-o")
        .arg(&out)
        .arg("--hlog")
        .arg(&hlog)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = RunResult::read(&out).unwrap();
    let (hs, kept) = (&r.phases[0], &r.phases[1]);
    let histogram = |p: &sipbench::results::PhaseResult, m: &str| decode_histogram(&p.histograms[m]).unwrap();

    // Default flags: the untagged histograms, the run's headline latencies (the first phase's
    // sessions then the second's OPTIONS), printed in milliseconds.
    let mut headline = histogram(hs, "session");
    headline.add(histogram(kept, "sip.OPTIONS")).unwrap();
    let distribution = processor(&jar, dir.path(), &["-i", "r.hlog"]);
    assert_close("max", footer(&distribution, "Max"), headline.max());
    assert_close("mean", footer(&distribution, "Mean"), headline.mean().round() as u64);
    let count = distribution
        .lines()
        .find(|l| l.starts_with("#[Max"))
        .and_then(|l| l.rsplit('=').next())
        .map(|c| c.trim().trim_end_matches(']').parse::<u64>().unwrap());
    assert_eq!(count, Some(headline.len()), "{distribution}");

    // Per phase and metric with -tag, still in the default unit: the tool's percentiles (`-o`
    // writes interval lines ending with the total's 50%, 90%, 99%, 99.9%, 99.99% and max) are
    // the results file's figures and its histogram's.
    let percentiles = [50.0, 90.0, 99.0, 99.9, 99.99, 100.0];
    let tags = processor(&jar, dir.path(), &["-i", "r.hlog", "-listtags"]);
    let mut checked = 0;
    for p in [hs, kept] {
        for (metric, summary) in &p.latency_us {
            let tag = format!("{}/{metric}", p.plan.name);
            assert!(tags.contains(&tag), "{tag} not in -listtags:\n{tags}");
            let name = format!("{}.{metric}", p.plan.name);
            processor(&jar, dir.path(), &["-i", "r.hlog", "-tag", &tag, "-o", &name]);
            let (count, values) = totals(&std::fs::read_to_string(dir.path().join(&name)).unwrap());
            assert_eq!(count, summary.count, "{tag}");
            let h = histogram(p, metric);
            for (pct, ms) in percentiles.iter().zip(&values) {
                assert_close(&format!("{tag} p{pct}"), *ms, h.value_at_quantile(pct / 100.0));
            }
            let figures = [
                (0, summary.p50),
                (1, summary.p90),
                (2, summary.p99),
                (3, summary.p99_9),
                (5, summary.max),
            ];
            for (i, us) in figures {
                assert_close(
                    &format!("{tag} {}", ["p50", "p90", "p99", "p99.9", "", "max"][i]),
                    values[i],
                    us,
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 4, "{checked} metrics checked");
}
