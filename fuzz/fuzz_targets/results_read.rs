//! Results files, as `sipbench report` and `sipbench diff` read them.
//!
//! An input starting with `{` is a results file: `serde_json::from_slice::<RunResult>`, then what
//! `LoadedRun::read` does after reading the file (decode every histogram, key repeated phase
//! names), then the pure report code on it: the `.hgrm` rows and text of each histogram, the
//! quantile spread `diff` uses, the run's label, and `diff::compare` of the run with itself,
//! rendered. Any other input is one serialized histogram (HdrHistogram V2, with or without
//! DEFLATE, as a results file holds it under base64), fed to `stats::decode_histogram` and the
//! same histogram code: base64 inside JSON is out of a mutator's reach.
//!
//! Errors are expected; panics are not. A run compared with itself has no worse and no better
//! rows.
#![no_main]

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine as _;
use hdrhistogram::Histogram;
use libfuzzer_sys::fuzz_target;
use sipbench::report::diff::{self, Verdict};
use sipbench::report::{LoadedPhase, LoadedRun, hgrm};
use sipbench::results::RunResult;
use sipbench::stats::decode_histogram;

fn histogram(h: &Histogram<u64>) {
    let rows = hgrm::rows(h);
    let _ = hgrm::percentile_distribution(h);
    for q in [0.5, 0.9, 0.99, 0.999] {
        let _ = diff::quantile_spread(h, q);
    }
    let _ = rows.len();
}

/// `LoadedRun::read` after the file is read and parsed.
fn load(result: RunResult) -> Option<LoadedRun> {
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
            histograms.insert(metric.clone(), decode_histogram(encoded).ok()?);
        }
        phases.push(LoadedPhase { key, histograms });
    }
    Some(LoadedRun {
        path: PathBuf::from("fuzz.json"),
        name: "fuzz".into(),
        result,
        phases,
    })
}

fuzz_target!(|data: &[u8]| {
    if data.first() != Some(&b'{') {
        let encoded = base64::engine::general_purpose::STANDARD.encode(data);
        if let Ok(h) = decode_histogram(&encoded) {
            histogram(&h);
        }
        return;
    }
    let Ok(result) = serde_json::from_slice::<RunResult>(data) else {
        return;
    };
    let Some(run) = load(result) else { return };
    for phase in &run.phases {
        for h in phase.histograms.values() {
            histogram(h);
        }
    }
    let _ = run.label();
    let cmp = diff::compare(&run, &run, 5.0);
    let changed = cmp.rows.iter().filter(|r| r.verdict != Verdict::WithinNoise).count();
    assert_eq!(changed, 0, "a run compared with itself has {changed} rows that changed");
    let _ = diff::render(&cmp, "base", "new");
    let _ = diff::regressions(&cmp, 5.0);
});
