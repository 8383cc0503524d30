//! The messages workload: SIP MESSAGE with bodies of a chosen size, pipelined up to a window,
//! every response matched to its request; the server sees every message.

use std::time::Duration;

use sipbench::generator::{RunConfig, run};
use sipbench::plan::{Mode, PhaseSpec, Workload};

#[test]
fn pipelined_messages_are_all_answered_and_counted() {
    for (mode, window, body) in [(Mode::Tls, 1, 10), (Mode::Mtls, 16, 4000), (Mode::Tcp, 64, 200)] {
        let dir = tempfile::tempdir().unwrap();
        let args = RunConfig {
            phase: PhaseSpec {
                mode: Some(mode),
                workload: Some(Workload::Messages),
                connections: Some(4),
                window: Some(window),
                body_size: Some(body),
                warmup: Some(Duration::ZERO),
                duration: Some(Duration::from_millis(400)),
                ..Default::default()
            },
            workers: Some(2),
            out: Some(dir.path().join("r.json")),
            quiet: true,
            ..Default::default()
        };
        let report = run(&args).expect("run");
        let p = &report.result.phases[0];
        assert!(p.failures.is_empty(), "{mode:?}: {:?}", p.failures);
        assert_eq!(p.sessions.ok, 4);
        let ok = p.transactions["MESSAGE"].ok;
        assert!(ok > 100, "{mode:?}: {ok}");
        let m = p.messages.expect("message figures");
        assert_eq!((m.window, m.body_size), (window, body));
        assert!(m.messages_per_s > 0.0 && m.body_mb_per_s >= 0.0);
        // Every measured MESSAGE reached the server (it also saw none beyond those sent).
        let server = report.result.server.expect("embedded server");
        assert!(server.requests >= ok, "{mode:?}: server {} < {ok}", server.requests);
        assert!(p.bytes.out as usize >= ok as usize * body, "{mode:?}: bodies were sent");
    }
}

#[test]
fn window_and_body_size_limits_are_named() {
    for (args, field) in [
        (
            RunConfig {
                phase: PhaseSpec {
                    workload: Some(Workload::Messages),
                    window: Some(0),
                    ..Default::default()
                },
                ..Default::default()
            },
            "window",
        ),
        (
            RunConfig {
                phase: PhaseSpec {
                    workload: Some(Workload::Messages),
                    body_size: Some(70_000),
                    ..Default::default()
                },
                ..Default::default()
            },
            "body_size",
        ),
    ] {
        let e = args.plan().unwrap_err().to_string();
        assert!(e.contains(field), "{e}");
    }
}
