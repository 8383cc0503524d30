//! Every resumption mode really resumes, seen from both ends: the generator's handshake kinds
//! and the embedded server's counters. Resumed MTLS sessions still carry the client identity.
//! The mechanism recorded is the one the handshake used: against `openssl s_server`, which
//! issues tickets, the OpenSSL backend's `tls12-session-id` offers none and resumes by session id.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sipbench::generator::{RunConfig, run};
use sipbench::plan::{EarlyData, Mode, PhaseSpec, Resumption, Txn};
use sipbench::results::PhaseResult;
use sipbench::server::ServerStats;
use sipbench::stats::ResumedBy;
use sipbench::tls::{Backend, Versions, ossl};

const SESSIONS: u64 = 40;

fn resume(mode: Mode, resumption: Resumption, early: Option<EarlyData>) -> (PhaseResult, ServerStats) {
    resume_on(Backend::default(), mode, resumption, early)
}

fn resume_on(
    backend: Backend,
    mode: Mode,
    resumption: Resumption,
    early: Option<EarlyData>,
) -> (PhaseResult, ServerStats) {
    let dir = tempfile::tempdir().unwrap();
    let args = RunConfig {
        backend,
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
    // The default (rustls) backend: TLS 1.3 resumes by PSK; with session ids only no ticket is
    // offered; which TLS 1.2 mechanism rustls resumed with otherwise, it does not say.
    let by = match resumption {
        Resumption::Tls12SessionId => "session-id",
        Resumption::Tls12Tickets => "unknown",
        _ => "tls13-psk",
    };
    assert_eq!(h.resumed_by, [(by.to_owned(), SESSIONS)].into(), "{what}: {h:?}");
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

#[test]
fn openssl_backend_records_the_tls12_mechanism_the_handshake_used() {
    // The embedded server follows the mode: tickets for tls12-tickets, its cache otherwise.
    for (resumption, by) in [
        (Resumption::Tls12Tickets, "ticket"),
        (Resumption::Tls12SessionId, "session-id"),
        (Resumption::Tls13Tickets, "tls13-psk"),
    ] {
        let (p, _) = resume_on(Backend::OpenSsl, Mode::Tls, resumption, None);
        assert_eq!(p.sessions.ok, SESSIONS, "{resumption:?}: {:?}", p.failures);
        assert_eq!(
            p.handshakes.resumed_by,
            [(by.to_owned(), SESSIONS)].into(),
            "{resumption:?}: {:?}",
            p.handshakes
        );
        assert!(
            p.negotiated
                .iter()
                .all(|n| n.resumed_by == if n.handshake == "resumed" { by } else { "none" }),
            "{:?}",
            p.negotiated
        );
    }
}

/// `openssl s_server` (tickets on unless `-no_ticket`) tracing every handshake message to a
/// file; killed on drop.
struct SServer {
    child: std::process::Child,
    addr: String,
    trace: std::path::PathBuf,
}

impl SServer {
    fn start(dir: &Path, name: &str, extra: &[&str]) -> SServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let trace = dir.join(format!("{name}.trace"));
        let f = |n: &str| dir.join(n).to_str().unwrap().to_owned();
        let child = Command::new("openssl")
            .args(["s_server", "-accept", &addr, "-www", "-quiet", "-trace", "-msgfile"])
            .arg(&trace)
            .args(["-cert", &f(sipbench::pki::files::SERVER)])
            .args(["-key", &f(sipbench::pki::files::SERVER_KEY)])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "s_server did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        SServer { child, addr, trace }
    }

    /// The trace so far.
    fn trace(&self) -> String {
        std::fs::read_to_string(&self.trace).unwrap_or_default()
    }
}

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Three handshakes with one connector; how each resumed.
fn dial_three(connector: &ossl::OsslConnector, addr: &str) -> Vec<ResumedBy> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut seen = Vec::new();
        for _ in 0..3 {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut tls = tokio::time::timeout(Duration::from_secs(10), connector.connect("sip.example.test", tcp))
                .await
                .expect("handshake in time")
                .expect("handshake");
            seen.push(ossl::negotiated(tls.ssl()).resumed_by);
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut tls).await;
        }
        seen
    })
}

#[test]
fn openssl_backend_session_ids_offer_no_ticket_to_a_ticket_capable_s_server() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("skipped: no openssl command");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = sipbench::pki::Pki::generate(sipbench::pki::KeyType::EcdsaP256).unwrap();
    pki.write_to(dir.path()).unwrap();
    let trust = sipbench::trust::Trust::for_pki(&pki).unwrap().without_topology();
    let connector = |mode| ossl::OsslConnector::new(&trust, None, Versions::Any, mode, None, None).unwrap();
    let tickets_extension = "extension_type=session_ticket";

    // tls12-session-id: the ClientHello carries no SessionTicket extension, the server issues
    // no ticket, and every later handshake resumes from its cache by session id.
    let server = SServer::start(dir.path(), "session-id", &[]);
    let seen = dial_three(&connector(Resumption::Tls12SessionId), &server.addr);
    let trace = server.trace();
    assert_eq!(
        seen,
        [ResumedBy::None, ResumedBy::SessionId, ResumedBy::SessionId],
        "{trace}"
    );
    assert!(trace.contains("ClientHello"), "{trace}");
    assert!(!trace.contains(tickets_extension), "a ticket was offered:\n{trace}");
    assert!(!trace.contains("NewSessionTicket"), "{trace}");
    assert!(trace.contains("TLS 1.2") || trace.contains("TLSv1.2"), "{trace}");
    drop(server);

    // tls12-tickets against the same kind of server: the tickets are offered and used.
    let server = SServer::start(dir.path(), "tickets", &[]);
    let seen = dial_three(&connector(Resumption::Tls12Tickets), &server.addr);
    let trace = server.trace();
    assert_eq!(seen, [ResumedBy::None, ResumedBy::Ticket, ResumedBy::Ticket], "{trace}");
    assert!(trace.contains(tickets_extension), "{trace}");
    assert!(trace.contains("NewSessionTicket"), "{trace}");
    drop(server);

    // tls12-tickets against a server that refuses tickets: the mechanism recorded differs.
    let server = SServer::start(dir.path(), "no-ticket", &["-no_ticket"]);
    let seen = dial_three(&connector(Resumption::Tls12Tickets), &server.addr);
    assert_eq!(
        seen,
        [ResumedBy::None, ResumedBy::SessionId, ResumedBy::SessionId],
        "{}",
        server.trace()
    );
}
