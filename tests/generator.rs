//! The generator against the reference server started on port 0: both modes succeed with
//! exact counts, and the trust failures the issue names come back with the right kind.

mod common;

use common::{TestServer, run_one};
use sipbench::generator::RunConfig;
use sipbench::generator::pace::Pacing;
use sipbench::pki::{KeyType, Pki, files};
use sipbench::plan::{Mode, Txn, Workload};
use sipbench::stats::decode_histogram;

/// Runs `args` (a bounded run of `n` sessions) and asserts that every session failed with `kind`.
fn assert_all_fail(args: &RunConfig, n: u64, kind: &str) {
    let (_, p) = run_one(args);
    assert_eq!(p.sessions.ok, 0, "{:?}", p.failures);
    assert_eq!(p.sessions.failed, n);
    assert_eq!(p.failures.get(kind), Some(&n), "expected {kind}: {:?}", p.failures);
}

#[test]
fn tls_sessions_succeed_with_exact_counts() {
    let srv = TestServer::start();
    let (report, p) = run_one(&srv.args(Mode::Tls, 40));
    assert_eq!(p.sessions.started, 40);
    assert_eq!(p.sessions.ok, 40, "failures: {:?}", p.failures);
    assert_eq!(p.sessions.failed, 0);
    assert!(p.failures.is_empty());
    assert_eq!(p.transactions["REGISTER"].ok, 40);
    assert_eq!(p.transactions["OPTIONS"].ok, 40);
    assert_eq!(p.latency_us["handshake.full"].count, 40);
    assert_eq!(p.latency_us["connect"].count, 40);
    let n = &p.negotiated;
    assert_eq!(n.len(), 1, "{n:?}");
    assert_eq!(n[0].protocol, "TLSv1_3");
    assert_eq!(n[0].peer_key, "ECDSA P-256");
    assert_eq!(n[0].handshake, "full");
    assert_eq!(n[0].count, 40);
    // The stored histogram is the one summarised.
    let h = decode_histogram(&p.histograms["sip.REGISTER"]).unwrap();
    assert_eq!(h.len(), 40);
    assert_eq!(h.value_at_quantile(0.5), p.latency_us["sip.REGISTER"].p50);
    assert!(p.rates.sessions_per_s > 0.0);
    assert!(report.result.complete);
    let stats = srv.stop();
    assert!(stats.handshakes_ok >= 40, "{stats:?}");
    assert_eq!(stats.requests, 80);
    assert_eq!(stats.responses_2xx, 80);
}

#[test]
fn mtls_sessions_succeed_and_tls12_negotiates() {
    let srv = TestServer::start();
    let mut args = srv.args(Mode::Mtls, 30);
    args.phase.transactions = Some(vec![Txn::Register, Txn::Invite]);
    let (_, p) = run_one(&args);
    assert_eq!(p.sessions.ok, 30, "failures: {:?}", p.failures);
    assert_eq!(p.transactions["INVITE"].ok, 30);
    assert_eq!(p.transactions["BYE"].ok, 30);

    args.phase.tls_versions = Some(sipbench::tls::Versions::Tls12);
    args.phase.transactions = Some(vec![Txn::Options]);
    let (_, p) = run_one(&args);
    assert_eq!(p.sessions.ok, 30, "failures: {:?}", p.failures);
    assert_eq!(p.negotiated[0].protocol, "TLSv1_2");
    assert!(
        p.negotiated[0].cipher_suite.starts_with("TLS_ECDHE_ECDSA_"),
        "{:?}",
        p.negotiated
    );
    let stats = srv.stop();
    assert!(stats.handshakes_ok >= 60);
}

#[test]
fn wrong_server_name_is_refused_by_the_client() {
    let srv = TestServer::start();
    let mut args = srv.args(Mode::Tls, 10);
    args.target.server_name = Some("other.example.test".into());
    assert_all_fail(&args, 10, "certificate:not-valid-for-name");
    assert_eq!(
        srv.counters().requests,
        0,
        "no SIP may flow to a server with the wrong name"
    );
}

#[test]
fn untrusted_server_ca_is_refused_by_the_client() {
    let srv = TestServer::start();
    for mode in [Mode::Tls, Mode::Mtls] {
        let mut args = srv.args(mode, 10);
        // The partner CA did not issue the server certificate.
        args.target.ca = Some(srv.file(files::PARTNER_CA));
        assert_all_fail(&args, 10, "certificate:unknown-issuer");
    }
    assert_eq!(srv.counters().requests, 0);
}

#[test]
fn mtls_server_refuses_untrusted_forged_or_missing_client_certificates() {
    // The server trusts only the enterprise CA for MTLS clients.
    let srv = TestServer::start_with(|c| {
        c.trust = sipbench::trust::Trust::from_cas(&[c.trust.cas()[0].certs[0].clone()]).unwrap();
    });

    // A partner certificate: valid, but from a CA this server does not trust.
    let mut args = srv.args(Mode::Mtls, 8);
    args.target.cert = Some(srv.file(files::PARTNER));
    args.target.key = Some(srv.file(files::PARTNER_KEY));
    assert_all_fail(&args, 8, "tls-alert-received:unknown-ca");

    // A certificate from a rogue CA that copies the enterprise CA's name: the signature check fails.
    let rogue = Pki::generate(KeyType::EcdsaP256).unwrap();
    let rogue_dir = tempfile::tempdir().unwrap();
    rogue.write_to(rogue_dir.path()).unwrap();
    args.target.cert = Some(rogue_dir.path().join(files::EDGE));
    args.target.key = Some(rogue_dir.path().join(files::EDGE_KEY));
    assert_all_fail(&args, 8, "tls-alert-received:decrypt-error");

    // No client certificate at all on the MTLS listener.
    let mut args = srv.args(Mode::Tls, 8);
    args.target.tls_addr = Some(srv.mtls_addr());
    assert_all_fail(&args, 8, "tls-alert-received:certificate-required");

    let stats = srv.stop();
    assert_eq!(stats.requests, 0, "a refused peer must not get SIP through: {stats:?}");
    assert_eq!(stats.failures.get("certificate:unknown-issuer"), Some(&8), "{stats:?}");
    assert_eq!(stats.failures.get("certificate:bad-signature"), Some(&8), "{stats:?}");
}

#[test]
fn kept_sessions_run_transactions_and_open_loop_is_corrected() {
    let srv = TestServer::start();
    let mut args = srv.args(Mode::Tls, 1);
    args.phase.sessions = None;
    args.phase.concurrency = None;
    args.phase.workload = Some(Workload::Kept);
    args.phase.connections = Some(8);
    args.phase.transactions = Some(vec![Txn::Options]);
    args.phase.duration = Some(std::time::Duration::from_millis(500));
    let (_, p) = run_one(&args);
    assert_eq!(p.sessions.started, 8);
    assert_eq!(p.sessions.ok, 8, "{:?}", p.failures);
    assert!(p.transactions["OPTIONS"].ok > 100, "{:?}", p.transactions);
    assert_eq!(p.transactions["OPTIONS"].failed, 0);

    // Open loop: a fixed rate over kept sessions keeps both histograms.
    args.phase.rate = Some(400.0.into());
    let (_, p) = run_one(&args);
    let ok = p.transactions["OPTIONS"].ok;
    assert!(
        (100..=260).contains(&ok),
        "about 200 transactions in 0.5 s at 400/s, got {ok}"
    );
    let corrected = &p.latency_us["sip.OPTIONS"];
    let uncorrected = &p.latency_us["sip.OPTIONS.uncorrected"];
    assert_eq!(corrected.count, uncorrected.count);
    assert!(corrected.max >= uncorrected.max);
    // The generator's own lateness, one value per measured send, with either pacing; the
    // corrected latency is the uncorrected one plus it.
    for pacing in [Pacing::Timer, Pacing::Precise] {
        args.phase.pacing = Some(pacing);
        let (_, p) = run_one(&args);
        assert_eq!(p.plan.pacing, pacing);
        let lag = &p.latency_us["generator.lag"];
        assert_eq!(lag.count, p.latency_us["sip.OPTIONS"].count, "{pacing:?}");
        // (HdrHistogram keeps 3 significant digits: a 1% margin.)
        let bound = (p.latency_us["sip.OPTIONS.uncorrected"].max + lag.max) as f64 * 1.01 + 1.0;
        assert!(p.latency_us["sip.OPTIONS"].max as f64 <= bound, "{pacing:?}");
    }
    // A closed loop has no schedule to be late for.
    args.phase.rate = None;
    args.phase.concurrency = None;
    let (_, p) = run_one(&args);
    assert!(!p.latency_us.contains_key("generator.lag"), "{:?}", p.latency_us.keys());
    srv.stop();
}

#[test]
fn unreachable_target_counts_connect_refused() {
    // Bind then drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let srv = TestServer::start();
    let mut args = srv.args(Mode::Tcp, 5);
    args.target.tcp_addr = Some(format!("127.0.0.1:{port}"));
    assert_all_fail(&args, 5, "connect-refused");
    srv.stop();
}

#[test]
fn pinned_cipher_suites_are_negotiated_and_reported() {
    let srv = TestServer::start();
    for (suite, versions) in [
        ("TLS13_AES_128_GCM_SHA256", sipbench::tls::Versions::Tls13),
        ("TLS13_AES_256_GCM_SHA384", sipbench::tls::Versions::Tls13),
        ("TLS13_CHACHA20_POLY1305_SHA256", sipbench::tls::Versions::Tls13),
        (
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            sipbench::tls::Versions::Tls12,
        ),
        (
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            sipbench::tls::Versions::Tls12,
        ),
        (
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            sipbench::tls::Versions::Tls12,
        ),
    ] {
        let mut args = srv.args(Mode::Mtls, 6);
        args.phase.cipher_suite = Some(suite.into());
        args.phase.tls_versions = Some(versions);
        let (_, p) = run_one(&args);
        assert_eq!(p.sessions.ok, 6, "{suite}: {:?}", p.failures);
        assert_eq!(p.negotiated.len(), 1, "{suite}: {:?}", p.negotiated);
        assert_eq!(p.negotiated[0].cipher_suite, suite);
        assert_eq!(p.plan.cipher_suite.as_deref(), Some(suite));
    }
    // A suite this backend does not have is an error naming the field, not a silent fallback.
    let mut args = srv.args(Mode::Tls, 1);
    args.phase.cipher_suite = Some("TLS_RSA_WITH_RC4_128_MD5".into());
    args.phase.tls_versions = Some(sipbench::tls::Versions::Tls12);
    let e = sipbench::generator::run(&args).unwrap_err().to_string();
    assert!(e.contains("cipher_suite") && e.contains("not offered"), "{e}");
}

#[test]
fn a_target_that_is_down_is_not_hammered_and_the_phase_stops_early() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let srv = TestServer::start();
    let mut args = srv.args(Mode::Tcp, 5);
    args.target.tcp_addr = Some(format!("127.0.0.1:{port}"));
    // A long phase with no session budget: only the target-down rule can end it early.
    args.phase.sessions = None;
    args.phase.duration = Some(std::time::Duration::from_secs(600));
    let (report, p) = run_one(&args);
    assert_eq!(p.sessions.ok, 0);
    assert_eq!(p.failures.get("target-down"), Some(&1), "{:?}", p.failures);
    // Four slots backing off from 10 ms to 1 s over the 5 s it takes to give up make a few
    // dozen attempts; without the backoff they made tens of thousands.
    let refused = p.failures["connect-refused"];
    assert!((4..200).contains(&refused), "{refused} connect attempts");
    assert!(p.measured_s < 600.0, "stopped early: {}", p.measured_s);
    assert!(report.result.complete);
    srv.stop();
}

/// `--local-addr`: kept sessions connect from three loopback addresses in turn, so a server
/// that holds at most 2 connections per source address takes all 6; from one address, 4 of
/// them are refused as `over-address-cap`.
#[test]
fn sessions_connect_from_each_local_address_in_turn() {
    let srv = TestServer::start_with(|c| c.max_connections_per_address = 2);
    let kept = |local: &str| {
        let mut args = srv.args(Mode::Tls, 0);
        args.phase.sessions = None;
        args.phase.concurrency = None;
        args.phase.workload = Some(Workload::Hold);
        args.phase.connections = Some(6);
        args.phase.duration = Some(std::time::Duration::from_millis(500));
        args.target.local_addrs = sipbench::limits::local_addrs(local).unwrap();
        args.out = Some(srv.file(&format!("hold-{local}.json")));
        run_one(&args).1
    };
    let p = kept("127.0.0.2-127.0.0.4");
    assert!(p.failures.is_empty(), "{:?}", p.failures);
    assert_eq!(p.handshakes.full, 6);
    let p = kept("127.0.0.5");
    assert_eq!(p.handshakes.full, 2, "{:?}", p.failures);
    assert!(!p.failures.is_empty());
    assert_eq!(srv.counters().failures.get("over-address-cap"), Some(&4));

    // The list's syntax.
    let l = sipbench::limits::local_addrs;
    assert_eq!(l("127.0.0.1-127.0.0.3,::1").unwrap().len(), 4);
    assert!(l("127.0.0.3-127.0.0.1").is_err());
    assert!(l("127.0.0.1-::1").is_err());
    assert!(l("10.0.0.0-10.255.255.255").is_err());
    assert!(l("").is_err());
}

/// `--ca system`: the operating system's roots (Debian's ca-certificates here, which lists one
/// root twice under one subject and key, merged into one anchor) load, and a server whose
/// certificate comes from a private CA is refused as `certificate:unknown-issuer`.
#[test]
fn system_roots_load_and_refuse_a_private_ca() {
    if std::env::var_os("SSL_CERT_FILE").is_none()
        && ![
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/pki/tls/certs/ca-bundle.crt",
            "/etc/ssl/ca-bundle.pem",
            "/etc/ssl/cert.pem",
        ]
        .iter()
        .any(|p| std::path::Path::new(p).is_file())
    {
        eprintln!("SKIPPED: no system CA bundle (install ca-certificates)");
        return;
    }
    let srv = TestServer::start();
    let mut args = srv.args(Mode::Tls, 3);
    args.target.ca = Some("system".into());
    let (report, p) = run_one(&args);
    assert!(
        report.result.target.trust.contains("CAs"),
        "{}",
        report.result.target.trust
    );
    assert_eq!(
        p.failures.get("certificate:unknown-issuer"),
        Some(&3),
        "{:?}",
        p.failures
    );
}

/// `--efficiency`: the bare loop that matches each phase runs after it, with the phase's suite
/// and group, and the ratio is the phase's rate over the bare loop's; a phase without a
/// counterpart (open loop) gets none.
#[test]
fn efficiency_holds_each_phase_against_the_bare_loop_with_the_same_suite_and_group() {
    let dir = tempfile::tempdir().unwrap();
    for (mode, workload, suite, group) in [
        (Mode::Tls, Workload::Sessions, "TLS13_AES_128_GCM_SHA256", "secp256r1"),
        (
            Mode::Mtls,
            Workload::Sessions,
            "TLS13_CHACHA20_POLY1305_SHA256",
            "X25519",
        ),
        (Mode::Tls, Workload::Kept, "TLS13_AES_256_GCM_SHA384", "X25519"),
        (Mode::Tls, Workload::Records, "TLS13_AES_128_GCM_SHA256", "X25519"),
    ] {
        let mut config = RunConfig {
            efficiency: true,
            quiet: true,
            workers: Some(1),
            out: Some(dir.path().join("e.json")),
            ..Default::default()
        };
        config.phase.mode = Some(mode);
        config.phase.workload = Some(workload);
        config.phase.duration = Some(std::time::Duration::from_secs(1));
        config.phase.warmup = Some(std::time::Duration::ZERO);
        if workload == Workload::Records {
            config.phase.connections = Some(4);
            config.phase.record_size = Some(4096);
        } else if workload == Workload::Kept {
            config.phase.connections = Some(4);
        } else {
            config.phase.concurrency = Some(4);
        }
        config.phase.transactions = Some(vec![Txn::Options]);
        config.phase.cipher_suite = Some(suite.into());
        config.phase.kx_group = Some(group.into());
        let (report, p) = run_one(&config);
        common::assert_valid(&serde_json::to_value(&report.result).unwrap());
        let e = p.efficiency.expect("efficiency measured");
        let bare = match workload {
            Workload::Kept => "kept",
            Workload::Records => "records",
            _ => mode.as_str(),
        };
        let bare = if bare == "tls" { "full" } else { bare };
        assert_eq!(e.bare, bare);
        assert!(e.negotiated.contains(suite) && e.negotiated.contains(group), "{e:?}");
        assert_eq!(p.negotiated[0].cipher_suite, suite);
        assert!(e.bare_per_s > 0.0 && e.per_s > 0.0, "{e:?}");
        if workload == Workload::Records {
            // Written MB/s, against the phase's own figure; CPU per MB.
            let b = p.bulk.expect("bulk figures");
            assert_eq!(e.per_s, b.mb_per_s_out, "{e:?}");
            assert!(e.bare_cpu_us > 0.0 && e.cpu_us > 0.0, "{e:?}");
        }
        assert!((e.ratio - e.per_s / e.bare_per_s).abs() < 0.001, "{e:?}");
        assert_eq!((e.threads, e.sessions), (1, 4));
    }
    let mut open = RunConfig {
        efficiency: true,
        quiet: true,
        out: Some(dir.path().join("o.json")),
        ..Default::default()
    };
    open.phase.rate = Some(sipbench::shape::RateSpec::parse("50").unwrap());
    open.phase.sessions = Some(10);
    let (_, p) = run_one(&open);
    assert!(p.efficiency.is_none());
}
