//! `sipbench merge` on real runs: the merged percentiles are those of one histogram over the
//! union of the samples, counts add up, the file keeps to results/schema.json and `report` and
//! `diff` read it; runs of different plans are refused naming the field.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{TestServer, assert_valid, run_ok, sipbench};
use sipbench::plan::Mode;
use sipbench::results::RunResult;
use sipbench::stats::{Summary, decode_histogram};

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("sipbench runs")
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn merged_real_runs_equal_one_histogram_over_the_union() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (name, sessions) in [("a.json", 30), ("b.json", 50)] {
        let mut config = server.args(Mode::Tls, sessions);
        config.out = Some(dir.path().join(name));
        let report = sipbench::generator::run(&config).expect("run completes");
        assert_eq!(report.result.phases[0].sessions.ok, sessions);
        paths.push(report.path);
    }
    let all = dir.path().join("all.json");
    run_ok(sipbench().arg("merge").args(&paths).arg("-o").arg(&all));
    assert_valid(&read_json(&all));
    let merged = RunResult::read(&all).unwrap();
    let (a, b) = (RunResult::read(&paths[0]).unwrap(), RunResult::read(&paths[1]).unwrap());
    assert_eq!(merged.merged_from, Some(2));
    assert_eq!(merged.shards.len(), 2);
    assert_eq!(merged.shards[0].environment, a.environment);

    let (m, pa, pb) = (&merged.phases[0], &a.phases[0], &b.phases[0]);
    assert_eq!(m.sessions.ok, 80);
    assert_eq!(m.sessions.started, pa.sessions.started + pb.sessions.started);
    assert_eq!(m.plan.sessions, Some(80));
    for (method, t) in &m.transactions {
        assert_eq!(
            t.ok,
            pa.transactions[method].ok + pb.transactions[method].ok,
            "{method}"
        );
    }
    assert_eq!(m.bytes.out, pa.bytes.out + pb.bytes.out);
    assert_eq!(m.handshakes.full, pa.handshakes.full + pb.handshakes.full);
    assert!(!m.histograms.is_empty());
    for (metric, text) in &m.histograms {
        let mut union = decode_histogram(&pa.histograms[metric]).unwrap();
        union.add(decode_histogram(&pb.histograms[metric]).unwrap()).unwrap();
        let merged_hist = decode_histogram(text).unwrap();
        assert_eq!(merged_hist, union, "{metric}");
        let s = &m.latency_us[metric];
        assert_eq!(*s, Summary::of(&union), "{metric}");
        for q in [0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(
                merged_hist.value_at_quantile(q),
                union.value_at_quantile(q),
                "{metric} at {q}"
            );
        }
        assert_eq!(s.count, pa.latency_us[metric].count + pb.latency_us[metric].count);
    }

    // report and diff read the merged file.
    let out_dir = dir.path().join("report");
    run_ok(sipbench().arg("report").arg(&all).arg("--out-dir").arg(&out_dir));
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(
        html.contains("merged from") && html.contains("b.json"),
        "the report names the inputs"
    );
    run_ok(sipbench().arg("diff").arg(&paths[0]).arg(&all));
    drop(server);
}

#[test]
fn runs_of_different_plans_or_schemas_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let stored = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/default-20261129T091712Z.json");
    let base = read_json(&stored);
    let write = |name: &str, v: &serde_json::Value| {
        let p = dir.path().join(name);
        std::fs::write(&p, serde_json::to_string(v).unwrap()).unwrap();
        p
    };
    let a = write("a.json", &base);

    let mut mtls = base.clone();
    mtls["phases"][0]["plan"]["mode"] = "mtls".into();
    let b = write("b.json", &mtls);
    let out = run(sipbench()
        .arg("merge")
        .arg(&a)
        .arg(&b)
        .arg("-o")
        .arg(dir.path().join("x.json")));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("phases[0].plan.mode") && err.contains("b.json"), "{err}");

    let mut other = base.clone();
    other["schema"] = "sipbench-result/2".into();
    let c = write("c.json", &other);
    let out = run(sipbench()
        .arg("merge")
        .arg(&a)
        .arg(&c)
        .arg("-o")
        .arg(dir.path().join("x.json")));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("schema") && err.contains("c.json"), "{err}");
    assert!(!dir.path().join("x.json").exists());
}
