//! `sipbench capacity` as a user drives it, against the embedded server on loopback: small
//! rates, 1 s steps, a few steps in all. The results file is checked against the schema and
//! the exit status against the outcome; speed is never asserted (the limits are set so that
//! any machine passes, or none can).

mod common;
use common::sipbench;

use std::path::Path;

fn assert_valid(json: &serde_json::Value) {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("results/schema.json")).unwrap();
    let schema = jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).expect("schema compiles");
    let errors: Vec<String> = schema
        .iter_errors(json)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "results file breaks results/schema.json:\n{}",
        errors.join("\n")
    );
}

/// Kept TCP sessions sending OPTIONS, steps of 1 s without warm-up, at most `steps` steps.
fn capacity(out: &Path, steps: &str, extra: &[&str]) -> std::process::Output {
    sipbench()
        .args([
            "capacity",
            "--mode",
            "tcp",
            "--workload",
            "kept",
            "--connections",
            "2",
            "--transactions",
            "OPTIONS",
            "--min-rate",
            "10",
            "--max-rate",
            "40",
            "--step-duration",
            "1s",
            "--warmup",
            "0s",
            "-w",
            "1",
            "--max-steps",
            steps,
            "-o",
        ])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn a_search_that_finds_a_knee_exits_0_and_writes_its_steps() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("capacity.json");
    // Limits no machine breaks at these rates: every step passes, the search doubles up to
    // the maximum (10, 20, 40) and stops at the step budget before confirming it.
    let o = capacity(&out, "3", &["--max-p99", "10s", "--max-failure-rate", "50%"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("knee: 40/s"), "{stdout}");
    assert!(stdout.contains("p99 ms (y) against offered rate (x)"), "{stdout}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_valid(&json);
    assert_eq!(json["profile"], "capacity");
    assert_eq!(json["complete"], true);
    let c = &json["capacity"];
    assert_eq!(c["thresholds"][0], "sip.OPTIONS.p99<=10000ms");
    let steps = c["steps"].as_array().unwrap();
    let rates: Vec<f64> = steps.iter().map(|s| s["rate"].as_f64().unwrap()).collect();
    assert_eq!(rates, [10.0, 20.0, 40.0]);
    assert!(steps.iter().all(|s| s["verdict"] == "pass"), "{steps:?}");
    assert_eq!(steps[0]["purpose"], "minimum");
    // Each step is a phase of its own, with its own histograms and thresholds.
    let phases = json["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 3);
    for (step, phase) in steps.iter().zip(phases) {
        assert_eq!(step["phase"], phase["plan"]["name"]);
        assert_eq!(phase["plan"]["load"]["rate"], step["rate"]);
        assert_eq!(phase["plan"]["duration"], "1s");
        assert!(phase["histograms"]["sip.OPTIONS"].is_string());
        assert!(
            phase["thresholds"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["passed"] == true)
        );
    }
    assert_eq!(c["knee"]["rate"], 40.0);
    assert_eq!(c["knee"]["confirmed"], false);
    assert_eq!(c["bound"], "max-rate");
}

#[test]
fn a_minimum_that_breaks_the_thresholds_exits_1_without_a_knee() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("capacity.json");
    // Nothing answers over TCP within a microsecond: the minimum fails, again when rechecked,
    // and the search ends.
    let o = capacity(&out, "3", &["--max-p99", "1us", "-q"]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_valid(&json);
    let c = &json["capacity"];
    let steps = c["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(
        (&steps[0]["purpose"], &steps[1]["purpose"]),
        (&"minimum".into(), &"recheck".into())
    );
    assert!(steps.iter().all(|s| s["verdict"] == "fail" && s["rate"] == 10.0));
    assert_eq!(c["steps"][0]["broken"][0], "sip.OPTIONS.p99<=0.001ms");
    assert!(c["knee"].is_null());
    assert_eq!(c["bound"], "none");
}

#[test]
fn usage_errors_exit_2_and_name_the_flag() {
    for (args, flag) in [
        (vec!["capacity", "--rate", "5"], "--rate"),
        (vec!["capacity", "--min-rate", "50", "--max-rate", "5"], "--min-rate"),
        (vec!["capacity", "--precision", "2"], "--precision"),
        (vec!["capacity", "--workload", "hold"], "rate"),
    ] {
        let o = sipbench().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(flag), "error for {args:?} does not name {flag:?}: {err}");
    }
}
