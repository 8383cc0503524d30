//! `sipbench compare`: interleaved rounds, per-variant medians and spread, ratio to the first
//! variant, memory per idle session, one JSON with every round.

mod common;

use std::time::Duration;

use sipbench::compare::{CompareConfig, Dimension, compare};
use sipbench::generator::RunConfig;
use sipbench::pki::KeyType;
use sipbench::plan::{Mode, PhaseSpec, Txn};
use sipbench::tls::Backend;

fn args(dir: &std::path::Path) -> CompareConfig {
    CompareConfig {
        backends: Vec::new(),
        kx_groups: Vec::new(),
        key_types: Vec::new(),
        rounds: 2,
        memory_sessions: 20,
        isolate_memory: false,
        run: RunConfig {
            phase: PhaseSpec {
                mode: Some(Mode::Mtls),
                sessions: Some(30),
                concurrency: Some(4),
                warmup: Some(Duration::ZERO),
                transactions: Some(vec![Txn::Options]),
                ..Default::default()
            },
            workers: Some(2),
            quiet: true,
            out: Some(dir.join("compare.json")),
            ..Default::default()
        },
    }
}

#[test]
fn backends_are_compared_in_interleaved_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = args(dir.path());
    a.backends = vec![Backend::AwsLcRs, Backend::Ring, Backend::Graviola];
    let (c, path) = compare(&a).unwrap();
    assert_eq!(c.dimension, Dimension::Backend);
    let order: Vec<(usize, &str)> = c.rounds.iter().map(|r| (r.round, r.variant.as_str())).collect();
    assert_eq!(
        order,
        [
            (1, "aws-lc-rs"),
            (1, "ring"),
            (1, "graviola"),
            (2, "aws-lc-rs"),
            (2, "ring"),
            (2, "graviola")
        ]
    );
    assert!(c.rounds.iter().all(|r| r.result.sessions.ok == 30));
    assert_eq!(c.summary.len(), 3);
    assert_eq!(c.summary[0].ratio_to_first, 1.0);
    for s in &c.summary {
        assert!(
            s.rate_per_s.median > 0.0 && s.rate_per_s.min <= s.rate_per_s.max,
            "{s:?}"
        );
        assert!(s.cpu_per_handshake_us.median > 0.0, "{s:?}");
        assert!(s.latency_us.contains_key("handshake.full"), "{s:?}");
        assert!(s.memory_per_session_bytes.is_some_and(|b| b > 1024), "{s:?}");
        assert_eq!(s.failures, 0);
    }
    // The file holds every round, and keeps to results/schema-compare.json.
    let text = std::fs::read_to_string(path).unwrap();
    common::assert_valid_against("schema-compare.json", &serde_json::from_str(&text).unwrap());
    let back: sipbench::compare::CompareResult = serde_json::from_str(&text).unwrap();
    assert_eq!(back.rounds.len(), 6);
    assert_eq!(back.schema, "sipbench-compare/1");
}

#[test]
fn groups_and_key_types_are_compared_and_reported_as_negotiated() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = args(dir.path());
    a.rounds = 1;
    a.memory_sessions = 0;
    a.kx_groups = vec!["X25519".into(), "secp384r1".into()];
    let (c, _) = compare(&a).unwrap();
    assert!(c.summary[0].negotiated.contains("X25519"), "{:?}", c.summary[0]);
    assert!(c.summary[1].negotiated.contains("secp384r1"), "{:?}", c.summary[1]);
    assert!(c.summary.iter().all(|s| s.memory_per_session_bytes.is_none()));

    let mut a = args(dir.path());
    a.rounds = 1;
    a.memory_sessions = 0;
    a.key_types = vec![KeyType::EcdsaP256, KeyType::Ed25519];
    let (c, path) = compare(&a).unwrap();
    assert!(c.summary[1].negotiated.contains("Ed25519"), "{:?}", c.summary[1]);
    let json = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    common::assert_valid_against("schema-compare.json", &json);

    // Exactly one dimension, and one phase.
    let mut a = args(dir.path());
    let e = compare(&a).unwrap_err().to_string();
    assert!(e.contains("exactly one of --backends"), "{e}");
    a.backends = vec![Backend::Ring];
    a.kx_groups = vec!["X25519".into()];
    assert!(compare(&a).is_err());
    a.kx_groups.clear();
    a.run.phase.mode = None;
    a.run.phase.sessions = None;
    a.run.phase.concurrency = None;
    a.run.phase.transactions = None;
    a.run.phase.warmup = None;
    // No phase flags and no profile: the default profile's three phases.
    let e = format!("{:#}", compare(&a).map(|_| ()).unwrap_err());
    assert!(e.contains("compare runs one phase"), "{e}");
}
