//! Every resumption mode really resumes, seen from both ends: the generator's handshake kinds
//! and the embedded server's counters. Resumed MTLS sessions still carry the client identity.

use std::time::Duration;

use sipbench::generator::{RunConfig, run};
use sipbench::plan::{EarlyData, Mode, PhaseSpec, Resumption, Txn};
use sipbench::results::PhaseResult;
use sipbench::server::ServerStats;

const SESSIONS: u64 = 40;

fn resume(mode: Mode, resumption: Resumption, early: Option<EarlyData>) -> (PhaseResult, ServerStats) {
    let dir = tempfile::tempdir().unwrap();
    let args = RunConfig {
        phase: PhaseSpec {
            mode: Some(mode),
            resumption: Some(resumption),
            early_data: early,
            sessions: Some(SESSIONS),
            concurrency: Some(16),
            // The first handshake of each session slot is full; it happens in the warm-up.
            warmup: Some(Duration::from_millis(300)),
            transactions: Some(vec![Txn::Options]),
            ..Default::default()
        },
        workers: Some(2),
        out: Some(dir.path().join("r.json")),
        quiet: true,
        ..Default::default()
    };
    let report = run(&args).expect("run");
    let phase = report.result.phases[0].clone();
    (phase, report.result.server.expect("embedded server counters"))
}

fn assert_all_resumed(mode: Mode, resumption: Resumption) {
    let (p, server) = resume(mode, resumption, None);
    let what = format!("{mode:?} {resumption:?}");
    assert_eq!(p.sessions.ok, SESSIONS, "{what}: {:?}", p.failures);
    let h = p.handshakes;
    assert_eq!((h.full, h.resumed), (0, SESSIONS), "{what}: {h:?}");
    assert_eq!(h.resumption_ratio, 1.0);
    assert_eq!(p.latency_us["handshake.resumed"].count, SESSIONS);
    assert!(!p.latency_us.contains_key("handshake.full"), "{what}");
    let version = if resumption.version() == Some(sipbench::tls::Versions::Tls12) {
        "TLSv1_2"
    } else {
        "TLSv1_3"
    };
    assert!(
        p.negotiated.iter().all(|n| n.protocol == version),
        "{what}: {:?}",
        p.negotiated
    );
    // The server saw them resume too (warm-up sessions included in its counters).
    assert!(server.handshakes_resumed >= SESSIONS, "{what}: {server:?}");
    if mode == Mode::Mtls {
        assert!(server.mtls_resumed_with_identity >= SESSIONS, "{what}: {server:?}");
        assert_eq!(
            server.mtls_resumed_with_identity, server.handshakes_resumed,
            "{what}: {server:?}"
        );
    }
}

#[test]
fn tls13_stateless_tickets_resume() {
    assert_all_resumed(Mode::Tls, Resumption::Tls13Tickets);
    assert_all_resumed(Mode::Mtls, Resumption::Tls13Tickets);
}

#[test]
fn tls13_stateful_cache_resumes() {
    assert_all_resumed(Mode::Tls, Resumption::Tls13Stateful);
    assert_all_resumed(Mode::Mtls, Resumption::Tls13Stateful);
}

#[test]
fn tls12_session_ids_resume() {
    assert_all_resumed(Mode::Tls, Resumption::Tls12SessionId);
    assert_all_resumed(Mode::Mtls, Resumption::Tls12SessionId);
}

#[test]
fn tls12_tickets_resume() {
    assert_all_resumed(Mode::Tls, Resumption::Tls12Tickets);
    assert_all_resumed(Mode::Mtls, Resumption::Tls12Tickets);
}

#[test]
fn zero_rtt_accepted_carries_the_first_request_as_early_data() {
    for mode in [Mode::Tls, Mode::Mtls] {
        let (p, server) = resume(mode, Resumption::Tls13EarlyData, Some(EarlyData::Accept));
        assert_eq!(p.sessions.ok, SESSIONS, "{mode:?}: {:?}", p.failures);
        assert_eq!(p.handshakes.resumed_0rtt, SESSIONS, "{mode:?}: {:?}", p.handshakes);
        assert_eq!(p.transactions["OPTIONS"].ok, SESSIONS);
        assert!(server.early_data_accepted >= SESSIONS, "{mode:?}: {server:?}");
        assert!(server.early_data_bytes > 0);
        // The request sent as early data was answered: the server parsed it.
        assert!(server.requests >= SESSIONS);
    }
}

#[test]
fn zero_rtt_rejected_falls_back_and_is_counted() {
    let (p, server) = resume(Mode::Tls, Resumption::Tls13EarlyData, Some(EarlyData::Reject));
    assert_eq!(p.sessions.ok, SESSIONS, "{:?}", p.failures);
    // Resumed, but the early data was refused: the request went again after the handshake.
    assert_eq!(p.handshakes.resumed_0rtt, 0, "{:?}", p.handshakes);
    assert_eq!(p.handshakes.resumed, SESSIONS, "{:?}", p.handshakes);
    assert_eq!(server.early_data_accepted, 0);
    assert_eq!(p.transactions["OPTIONS"].ok, SESSIONS);
}

#[test]
fn resumption_off_means_full_handshakes_only() {
    let (p, server) = resume(Mode::Tls, Resumption::Off, None);
    assert_eq!(p.handshakes.full, SESSIONS);
    assert_eq!(p.handshakes.resumption_ratio, 0.0);
    assert_eq!(server.handshakes_resumed, 0);
}
