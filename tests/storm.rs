//! Reconnect storm: every session is cut at once and comes back; with resumption the
//! reconnects resume, and the phase reports when the last one was back.

use std::time::Duration;

use sipbench::generator::{RunConfig, run};
use sipbench::plan::{Mode, PhaseSpec, Resumption, Workload};

fn storm(mode: Mode, resumption: Resumption) -> sipbench::results::PhaseResult {
    let dir = tempfile::tempdir().unwrap();
    let args = RunConfig {
        phase: PhaseSpec {
            mode: Some(mode),
            workload: Some(Workload::Storm),
            connections: Some(60),
            resumption: Some(resumption),
            session_cache: Some(256),
            warmup: Some(Duration::from_millis(50)),
            duration: Some(Duration::from_secs(10)),
            ..Default::default()
        },
        workers: Some(2),
        out: Some(dir.path().join("r.json")),
        quiet: true,
        ..Default::default()
    };
    run(&args).expect("run").result.phases[0].clone()
}

#[test]
fn every_session_comes_back_after_the_cut() {
    for (mode, resumption) in [
        (Mode::Tls, Resumption::Off),
        (Mode::Mtls, Resumption::Tls13Tickets),
        (Mode::Tls, Resumption::Tls12SessionId),
    ] {
        let p = storm(mode, resumption);
        let what = format!("{mode:?} {resumption:?}");
        assert!(p.failures.is_empty(), "{what}: {:?}", p.failures);
        let st = p.storm.expect("storm figures");
        assert_eq!((st.sessions, st.back), (60, 60), "{what}");
        let all_back = st.all_back_ms.expect("all came back");
        // The phase ended when the last session was back, not at the 10 s window end.
        assert!(p.measured_s < 5.0, "{what}: {}", p.measured_s);
        assert_eq!(p.latency_us["session"].count, 60);
        assert!((p.latency_us["session"].max as f64 / 1000.0 - all_back).abs() < 1.0);
        assert_eq!(p.transactions["REGISTER"].ok, 60);
        let h = p.handshakes;
        if resumption == Resumption::Off {
            assert_eq!((h.full, h.resumed), (60, 0), "{what}");
        } else {
            assert_eq!((h.full, h.resumed), (0, 60), "{what}: reconnects must resume");
        }
    }
}
