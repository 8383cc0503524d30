//! SIP over UDP, end to end on loopback.
//!
//! - The reference server's UDP listener, in both receive modes (quinn-udp batches and plain
//!   `recvfrom`), answers datagrams written by hand here (not by sipbench's codec): OPTIONS,
//!   an INVITE's 100/180/200 as three datagrams, a REGISTER; garbage and an oversized datagram
//!   are counted and the listener keeps answering.
//! - The generator runs `sessions` and `kept` phases in mode udp against it.
//! - Through a lossy relay that drops datagrams, the generator's retransmissions (timers A/E)
//!   carry every transaction through, and the results count them.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::TestServer;
use sipbench::plan::{Mode, Txn, Workload};
use sipbench::server::udp::UdpRecv;

/// A request as an independent client would write it.
fn request(method: &str, branch: &str, local: SocketAddr, body: &str) -> Vec<u8> {
    let cseq = if method == "REGISTER" { 7 } else { 1 };
    format!(
        "{method} sip:uas@example.test SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.test>;tag=a1\r\n\
         To: <sip:{to}@example.test>\r\n\
         Call-ID: {branch}@test\r\n\
         CSeq: {cseq} {method}\r\n\
         Contact: <sip:alice@{ip}:{port};transport=udp>\r\n\
         {ct}Content-Length: {len}\r\n\r\n{body}",
        to = if method == "REGISTER" { "alice" } else { "uas" },
        ip = local.ip(),
        port = local.port(),
        ct = if body.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\r\n"
        },
        len = body.len(),
    )
    .into_bytes()
}

fn recv(socket: &UdpSocket) -> Option<String> {
    let mut buf = vec![0u8; 65_536];
    match socket.recv(&mut buf) {
        Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => None,
        Err(e) => panic!("recv: {e}"),
    }
}

#[test]
fn the_udp_listener_answers_hand_written_datagrams_and_survives_garbage() {
    for mode in [UdpRecv::Batched, UdpRecv::Plain] {
        let srv = TestServer::start_with(|c| {
            c.udp_recv = mode;
            c.max_message_size = 8 * 1024;
        });
        let server: SocketAddr = srv.udp_addr().parse().unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.connect(server).unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let local = socket.local_addr().unwrap();

        socket.send(&request("OPTIONS", "opt1", local, "")).unwrap();
        let r = recv(&socket).expect("an answer to OPTIONS");
        assert!(r.starts_with("SIP/2.0 200 OK\r\n"), "{mode:?}: {r}");
        assert!(r.contains("branch=z9hG4bKopt1"), "the Via comes back: {r}");
        assert!(r.contains("CSeq: 1 OPTIONS"), "{r}");

        let sdp =
            "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
        socket.send(&request("INVITE", "inv1", local, sdp)).unwrap();
        let statuses: Vec<String> = (0..3)
            .map(|_| recv(&socket).expect("an INVITE response"))
            .map(|r| r.lines().next().unwrap().to_owned())
            .collect();
        assert_eq!(
            statuses,
            ["SIP/2.0 100 Trying", "SIP/2.0 180 Ringing", "SIP/2.0 200 OK"],
            "{mode:?}: one datagram per response"
        );

        socket.send(&request("REGISTER", "reg1", local, "")).unwrap();
        let r = recv(&socket).expect("an answer to REGISTER");
        assert!(r.starts_with("SIP/2.0 200 OK\r\n"), "{r}");
        assert!(r.contains(&format!("sip:alice@{}:{}", local.ip(), local.port())), "{r}");

        // Garbage, a request that does not parse, a keep-alive, an oversized datagram.
        socket.send(b"\x16\x03\x01\x02\x00garbage").unwrap();
        socket
            .send(b"OPTIONS sip:x SIP/2.0\r\nVia: nonsense\r\nCSeq: one\r\n\r\n")
            .unwrap();
        socket.send(b"\r\n\r\n").unwrap();
        socket.send(&vec![b'A'; 20_000]).unwrap();
        // Whatever came back for them (400 at most), the listener still answers.
        socket.send(&request("OPTIONS", "opt2", local, "")).unwrap();
        let mut answered = false;
        while let Some(r) = recv(&socket) {
            assert!(r.starts_with("SIP/2.0 "), "{r}");
            if r.contains("branch=z9hG4bKopt2") {
                answered = r.starts_with("SIP/2.0 200 OK");
                break;
            }
        }
        assert!(answered, "{mode:?}: OPTIONS answered after the garbage");
        let stats = srv.stop();
        assert_eq!(stats.requests, 4, "{mode:?}: {stats:?}");
        assert!(stats.malformed >= 2, "{mode:?}: {stats:?}");
        assert_eq!(stats.failures.get("sip-protocol:too-large"), Some(&1), "{stats:?}");
    }
}

#[test]
fn the_generator_runs_sessions_and_kept_phases_over_udp() {
    let srv = TestServer::start();
    let mut args = srv.args(Mode::Udp, 40);
    args.phase.transactions = Some(vec![Txn::Register, Txn::Options, Txn::Invite]);
    let (report, p) = common::run_one(&args);
    assert_eq!(p.sessions.ok, 40, "{:?}", p.failures);
    assert!(p.failures.is_empty(), "{:?}", p.failures);
    assert_eq!(report.result.target.udp, vec![srv.udp_addr()]);
    for m in ["sip.REGISTER", "sip.OPTIONS", "sip.INVITE", "sip.BYE"] {
        assert_eq!(p.latency_us[m].count, 40, "{m}: {:?}", p.latency_us.keys());
    }
    assert!(p.udp.is_some(), "mode udp reports its retransmissions");
    assert_eq!(p.negotiated[0].protocol, "none");

    let mut args = srv.args(Mode::Udp, 0);
    args.phase.sessions = None;
    args.phase.concurrency = None;
    args.phase.workload = Some(Workload::Kept);
    args.phase.connections = Some(16);
    args.phase.duration = Some(Duration::from_secs(2));
    args.phase.transactions = Some(vec![Txn::Options]);
    let (_, p) = common::run_one(&args);
    assert_eq!(p.sessions.ok, 16, "{:?}", p.failures);
    assert!(p.failures.is_empty(), "{:?}", p.failures);
    assert!(
        p.latency_us["sip.OPTIONS"].count > 100,
        "{:?}",
        p.latency_us["sip.OPTIONS"]
    );
    // The server saw them as UDP requests (no TCP or TLS connection was accepted).
    let stats = srv.stop();
    assert_eq!(stats.accepted, 0, "{stats:?}");
    assert!(stats.requests > 100);

    // Workloads that stream over one connection are refused, naming the field.
    let srv = TestServer::start();
    let mut args = srv.args(Mode::Udp, 4);
    args.phase.workload = Some(Workload::Records);
    let e = sipbench::generator::run(&args).unwrap_err();
    assert!(format!("{e:#}").contains("workload"), "{e:#}");
}

/// A relay between the generator and the server that drops every `drop_every`-th datagram from
/// the client (deterministically), forwarding everything else both ways.
fn lossy_relay(server: SocketAddr, drop_every: u64) -> (SocketAddr, Arc<AtomicU64>) {
    let front = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = front.local_addr().unwrap();
    let dropped = Arc::new(AtomicU64::new(0));
    let count = dropped.clone();
    std::thread::spawn(move || {
        // One upstream socket per client address, with a thread relaying its answers back.
        let mut upstream: std::collections::HashMap<SocketAddr, UdpSocket> = Default::default();
        let mut buf = vec![0u8; 65_536];
        let mut seen = 0u64;
        front.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        while let Ok((n, from)) = front.recv_from(&mut buf) {
            seen += 1;
            if seen % drop_every == 0 {
                count.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let up = upstream.entry(from).or_insert_with(|| {
                let s = UdpSocket::bind("127.0.0.1:0").unwrap();
                s.connect(server).unwrap();
                let back = s.try_clone().unwrap();
                let front = front.try_clone().unwrap();
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 65_536];
                    back.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                    while let Ok(n) = back.recv(&mut buf) {
                        let _ = front.send_to(&buf[..n], from);
                    }
                });
                s
            });
            let _ = up.send(&buf[..n]);
        }
    });
    (addr, dropped)
}

#[test]
fn lost_datagrams_are_retransmitted_and_counted() {
    let srv = TestServer::start();
    let (relay, dropped) = lossy_relay(srv.udp_addr().parse().unwrap(), 7);
    let mut args = srv.args(Mode::Udp, 24);
    args.phase.transactions = Some(vec![Txn::Register, Txn::Options, Txn::Options]);
    args.target.udp_addr = Some(relay.to_string());
    let (_, p) = common::run_one(&args);
    assert_eq!(p.sessions.ok, 24, "{:?}", p.failures);
    let dropped = dropped.load(Ordering::Relaxed);
    assert!(dropped >= 10, "the relay dropped {dropped}");
    let retransmitted = p.udp.expect("udp figures").retransmissions;
    // Every dropped request was sent again (a retransmission can itself be dropped, and
    // is then sent again too).
    assert!(
        retransmitted >= dropped,
        "{retransmitted} retransmissions for {dropped} drops"
    );
    // A lost request costs at least T1 (500 ms) in that transaction's latency.
    let worst = p.latency_us.values().map(|s| s.max).max().unwrap();
    assert!(worst >= 500_000, "max latency {worst} us");
}
