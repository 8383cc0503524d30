//! Every crypto backend on both ends: TLS, MTLS, resumption and a rejected certificate for each
//! backend, every cross-backend pair interoperating, key exchange groups and key types pinned
//! and reported as negotiated, and pins a backend cannot honour refused with an error.

use std::time::Duration;

use sipbench::generator::{RunConfig, run};
use sipbench::pki::{BadCert, KeyType};
use sipbench::plan::{Mode, PhaseSpec, Resumption, Txn};
use sipbench::results::PhaseResult;
use sipbench::tls::Backend;

fn args(backend: Backend, server: Backend, mode: Mode, sessions: u64) -> RunConfig {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("backends-{}", std::process::id()));
    RunConfig {
        phase: PhaseSpec {
            mode: Some(mode),
            sessions: Some(sessions),
            concurrency: Some(4),
            warmup: Some(Duration::ZERO),
            transactions: Some(vec![Txn::Options]),
            ..Default::default()
        },
        workers: Some(2),
        backend,
        server_backend: Some(server),
        out: Some(dir.join(format!(
            "{}-{}-{}.json",
            backend.as_str(),
            server.as_str(),
            mode.as_str()
        ))),
        quiet: true,
        ..Default::default()
    }
}

fn one(args: &RunConfig) -> PhaseResult {
    let report = run(args).expect("run completes");
    assert_eq!(report.result.environment.backend, args.backend.as_str());
    assert_eq!(
        report.result.environment.server_backend,
        args.server_backend.unwrap_or(args.backend).as_str()
    );
    report.result.phases[0].clone()
}

fn all_ok(p: &PhaseResult, n: u64) {
    assert_eq!(p.sessions.ok, n, "{:?}", p.failures);
    assert!(p.failures.is_empty(), "{:?}", p.failures);
}

/// TLS, MTLS, TLS 1.3 resumption (seen on both ends) and a revoked certificate, on one backend.
fn matrix(backend: Backend) {
    all_ok(&one(&args(backend, backend, Mode::Tls, 20)), 20);
    all_ok(&one(&args(backend, backend, Mode::Mtls, 20)), 20);

    let mut a = args(backend, backend, Mode::Mtls, 40);
    a.phase.resumption = Some(Resumption::Tls13Tickets);
    a.phase.concurrency = Some(1);
    let p = one(&a);
    all_ok(&p, 40);
    assert!(p.handshakes.resumption_ratio > 0.9, "{:?}", p.handshakes);

    let mut a = args(backend, backend, Mode::Mtls, 40);
    a.phase.bad_cert = Some(BadCert::Revoked);
    a.phase.bad_cert_share = Some(0.5);
    let p = one(&a);
    let r = p.rejections.clone().unwrap();
    assert_eq!((r.sessions, r.rejected, r.accepted), (20, 20, 0), "{r:?}");
    all_ok(&p, 20);
}

#[test]
fn aws_lc_rs_runs_the_matrix() {
    matrix(Backend::AwsLcRs);
}

#[test]
fn ring_runs_the_matrix() {
    matrix(Backend::Ring);
}

#[test]
fn graviola_runs_the_matrix() {
    matrix(Backend::Graviola);
}

#[test]
fn openssl_runs_the_matrix() {
    matrix(Backend::OpenSsl);
}

#[test]
fn every_cross_backend_pair_interoperates() {
    for client in Backend::ALL {
        for server in Backend::ALL {
            if client == server {
                continue;
            }
            let p = one(&args(client, server, Mode::Mtls, 8));
            all_ok(&p, 8);
            let mut a = args(client, server, Mode::Tls, 8);
            a.phase.tls_versions = Some(sipbench::tls::Versions::Tls12);
            all_ok(&one(&a), 8);
        }
    }
}

#[test]
fn key_exchange_groups_are_pinned_and_reported() {
    for backend in Backend::ALL {
        for group in ["X25519", "secp256r1", "secp384r1", "X25519MLKEM768"] {
            let mut a = args(backend, backend, Mode::Tls, 4);
            a.phase.kx_group = Some(group.into());
            match run(&a) {
                Ok(r) => {
                    let p = &r.result.phases[0];
                    all_ok(p, 4);
                    assert!(p.negotiated.iter().all(|n| n.kx_group == group), "{:?}", p.negotiated);
                }
                Err(e) => {
                    // Only a group the backend does not implement may be refused, and the
                    // error says so.
                    let e = format!("{e:#}");
                    assert!(e.contains(&format!("kx_group: {group} is not implemented by")), "{e}");
                    assert!(
                        group == "X25519MLKEM768" && matches!(backend, Backend::Ring | Backend::OpenSsl),
                        "{backend:?} {group}: {e}"
                    );
                }
            }
        }
    }
    let mut a = args(Backend::AwsLcRs, Backend::AwsLcRs, Mode::Tls, 4);
    a.phase.kx_group = Some("ffdhe2048".into());
    let e = format!("{:#}", run(&a).unwrap_err());
    assert!(
        e.contains("kx_group: ffdhe2048 is not implemented by aws-lc-rs (it has X25519"),
        "{e}"
    );
}

#[test]
fn key_types_are_pinned_and_reported_or_refused() {
    for key_type in [KeyType::EcdsaP384, KeyType::Rsa2048, KeyType::Ed25519] {
        for backend in Backend::ALL {
            let mut a = args(backend, backend, Mode::Mtls, 4);
            a.target.key_type = key_type;
            match run(&a) {
                Ok(r) => {
                    let p = &r.result.phases[0];
                    all_ok(p, 4);
                    assert_eq!(r.result.key_type.as_deref(), Some(key_type.as_str()));
                    assert!(
                        p.negotiated.iter().all(|n| n.peer_key == key_type.describe()),
                        "{:?}",
                        p.negotiated
                    );
                }
                Err(e) => {
                    let e = format!("{e:#}");
                    assert!(e.contains(&format!("backend {} cannot", backend.as_str())), "{e}");
                }
            }
        }
    }
}

/// A phase the stack cannot run is refused before the first phase runs: the OpenSSL stack has
/// no 0-RTT, so a profile whose second phase asks for it fails at once, naming that phase and
/// field, and no results file is written (before, the first phase ran and the second failed).
#[test]
fn a_phase_the_stack_cannot_run_fails_before_any_phase_runs() {
    let profile = sipbench::plan::Profile::parse(
        "name = \"two\"\n[defaults]\nwarmup = \"0s\"\nduration = \"5s\"\n\
         [[phase]]\nname = \"fine\"\nmode = \"tls\"\nconcurrency = 2\n\
         [[phase]]\nname = \"early\"\nmode = \"tls\"\nconcurrency = 2\nresumption = \"tls13-0rtt\"\n",
    )
    .unwrap();
    let mut config = args(Backend::OpenSsl, Backend::OpenSsl, Mode::Tls, 1);
    config.profile = sipbench::generator::ProfileSource::Profile(Box::new(profile));
    config.phase = PhaseSpec::default();
    let out = config.out.clone().unwrap().with_file_name("two-phases-openssl.json");
    let _ = std::fs::remove_file(&out);
    config.out = Some(out.clone());
    let e = run(&config).expect_err("the openssl stack has no 0-RTT");
    let e = format!("{e:#}");
    assert!(
        e.contains("phase \"early\"") && e.contains("resumption") && e.contains("tls13-0rtt"),
        "{e}"
    );
    // The results file is written after every phase: the first one did not run.
    assert!(!out.exists(), "no phase ran, so no results were written");
}
