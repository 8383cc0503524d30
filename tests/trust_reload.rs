//! Hot reload of certificates, CAs, CRLs and topology: a run across reloads loses no session, a
//! session established before a reload keeps working after it, and a certificate revoked by a
//! new CRL is refused once the server has reloaded it. Also: a share of sessions presenting a
//! bad certificate under load is refused and never counted as a success.

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, run_one};
use sipbench::audit;
use sipbench::generator::session::{self, Endpoint};
use sipbench::pki::{self, BadCert, CaName, files};
use sipbench::plan::{Mode, Resumption, Txn, Workload};
use sipbench::sip::Method;
use sipbench::tls::{self, Backend, PeerKeyCache, Versions};
use sipbench::trust::Trust;
use sipbench::uac::SipClient;
use time::OffsetDateTime;

fn reload_from_disk(srv: &TestServer) {
    let identity = pki::load_identity(&srv.file(files::SERVER), &srv.file(files::SERVER_KEY)).unwrap();
    let trust = Trust::load(&srv.file(files::TOPOLOGY)).unwrap();
    srv.server.as_ref().unwrap().reload(identity, trust).unwrap();
}

#[test]
fn a_run_across_reloads_loses_no_session_and_a_newly_revoked_certificate_is_refused() {
    let srv = TestServer::start();
    let provider = Backend::default().rustls_provider().expect("a rustls backend");
    let client_trust = Trust::for_pki(&srv.pki).unwrap().without_topology();
    let mtls = srv.mtls_addr().parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // One MTLS session established before any reload, used after each.
    let connector = audit::connector(
        audit::Stack::Rustls,
        &provider,
        &client_trust,
        Some(&srv.pki.edge),
        Versions::Tls13,
    )
    .unwrap()
    .into_rustls()
    .unwrap();
    let mut held = rt.block_on(async {
        let dialer = tls::rustls_stack::dialer(connector.clone(), "sip.example.test".try_into().unwrap());
        let ep = Endpoint::single(mtls, dialer, "sip.example.test");
        let limits = tls::Limits {
            connect: Duration::from_secs(5),
            handshake: Duration::from_secs(5),
            local: None,
        };
        let (stream, _) = session::establish(&ep, 0, false, limits, &mut PeerKeyCache::default())
            .await
            .unwrap();
        let mut sip = SipClient::new(stream, ep.domain.clone(), 7);
        assert_eq!(
            sip.transaction(Method::Options, Duration::from_secs(5)).await.unwrap(),
            200
        );
        sip
    });

    // A closed-loop MTLS run of fresh sessions while the server reloads ten times a second.
    let mut args = srv.args(Mode::Mtls, 1);
    args.phase.sessions = None;
    args.phase.duration = Some(Duration::from_secs(2));
    args.phase.transactions = Some(vec![Txn::Options]);
    let (_, phase) = std::thread::scope(|s| {
        let run = s.spawn(|| run_one(&args));
        let end = Instant::now() + Duration::from_millis(2500);
        while Instant::now() < end && !run.is_finished() {
            reload_from_disk(&srv);
            std::thread::sleep(Duration::from_millis(100));
        }
        run.join().unwrap()
    });
    let reloads = srv.counters().reloads;
    assert!(reloads >= 10, "only {reloads} reloads during the run");
    assert!(phase.sessions.ok > 100, "{:?}", phase.sessions);
    assert_eq!(phase.sessions.failed, 0, "{:?}", phase.failures);
    rt.block_on(async {
        assert_eq!(
            held.transaction(Method::Options, Duration::from_secs(5)).await.unwrap(),
            200
        );
    });

    // Revoke the edge certificate in a new CRL and reload: new sessions with it are refused,
    // the session established before keeps working.
    let now = OffsetDateTime::now_utc();
    let crl = srv
        .pki
        .crl(
            CaName::Enterprise,
            &[
                srv.pki.bad(BadCert::Revoked).leaf().unwrap(),
                srv.pki.edge.leaf().unwrap(),
            ],
            now - time::Duration::minutes(1),
            now + time::Duration::days(7),
            2,
        )
        .unwrap();
    pki::write_crl(&srv.file(files::ENTERPRISE_CRL), &crl).unwrap();
    let attempt = || rt.block_on(audit::attempt(mtls, connector.clone(), "sip.example.test"));
    assert_eq!(attempt(), Ok(()), "still accepted before the reload");
    reload_from_disk(&srv);
    assert!(
        attempt().is_err(),
        "a revoked certificate must be refused after the reload"
    );
    rt.block_on(async {
        assert_eq!(
            held.transaction(Method::Options, Duration::from_secs(5)).await.unwrap(),
            200
        );
        held.close().await;
    });
    let stats = srv.stop();
    assert_eq!(stats.failures.get("certificate:revoked"), Some(&1), "{stats:?}");
}

#[test]
fn a_share_of_bad_certificates_under_load_is_refused_and_never_counted_as_success() {
    let srv = TestServer::start();
    for version in [Versions::Tls12, Versions::Tls13] {
        let mut args = srv.args(Mode::Mtls, 200);
        // Against the embedded server's topology and CRLs: the generator brings the PKI's
        // negative cases.
        args.target.pki = Some(srv.dir.path().to_owned());
        args.target.topology = Some(srv.file(files::TOPOLOGY));
        args.target.ca = None;
        args.phase.workload = Some(Workload::Sessions);
        args.phase.tls_versions = Some(version);
        args.phase.resumption = Some(Resumption::Off);
        args.phase.bad_cert = Some(BadCert::Revoked);
        args.phase.bad_cert_share = Some(0.25);
        args.phase.sessions = Some(200);
        let (_, phase) = run_one(&args);
        let r = phase.rejections.clone().expect("rejection figures");
        assert_eq!(r.accepted, 0, "{r:?}");
        assert_eq!(r.sessions, r.rejected, "{r:?}");
        // Session ids are run-wide, so the share holds to within one session.
        let all = r.sessions + phase.sessions.started;
        assert!(r.sessions.abs_diff(all / 4) <= 1, "{r:?} of {all}");
        assert_eq!(phase.sessions.failed, 0, "{:?}", phase.failures);
        assert!(phase.failures.is_empty(), "{:?}", phase.failures);
        assert!(phase.latency_us.contains_key("rejection"));
        let reason = match version {
            Versions::Tls12 => "tls-alert-received:certificate-revoked",
            _ => "tls-alert-received:certificate-revoked",
        };
        assert_eq!(r.by_reason.get(reason), Some(&r.rejected), "{r:?}");
    }
    let stats = srv.stop();
    assert!(
        stats.failures.get("certificate:revoked").copied().unwrap_or(0) >= 100,
        "{stats:?}"
    );
}
