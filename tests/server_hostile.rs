//! Hostile peers against the reference server: each is cut off and counted, and the server
//! keeps serving well-behaved clients afterwards.

mod common;

use std::time::Duration;

use common::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const OPTIONS: &str = "OPTIONS sip:uas@example.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-h1\r\nMax-Forwards: 70\r\nFrom: <sip:a@example.test>;tag=1\r\nTo: <sip:uas@example.test>\r\nCall-ID: hostile-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn hostile_server() -> TestServer {
    TestServer::start_with(|c| {
        c.handshake_timeout = Duration::from_millis(300);
        c.idle_timeout = Duration::from_secs(2);
        c.max_message_size = 4096;
        c.max_connections = 8;
    })
}

/// Reads until the peer closes or `limit` passes; returns what arrived.
async fn read_until_close(s: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(limit, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    (out, closed)
}

/// Sends one OPTIONS over cleartext TCP and returns the response text.
async fn options_ok(addr: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(OPTIONS.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn stalled_handshake_is_cut_off_and_counted() {
    let srv = hostile_server();
    rt().block_on(async {
        let mut s = TcpStream::connect(srv.tls_addr()).await.unwrap();
        // Say nothing: the server must hang up after its handshake timeout.
        let (_, closed) = read_until_close(&mut s, Duration::from_secs(3)).await;
        assert!(closed, "server kept a silent handshake open");
        assert!(options_ok(&srv.tcp_addr()).await.starts_with("SIP/2.0 200 OK"));
    });
    let stats = srv.stop();
    assert_eq!(stats.failures.get("handshake-timeout"), Some(&1), "{stats:?}");
}

#[test]
fn garbage_instead_of_tls_is_refused_and_counted() {
    let srv = hostile_server();
    rt().block_on(async {
        let mut s = TcpStream::connect(srv.tls_addr()).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let (_, closed) = read_until_close(&mut s, Duration::from_secs(3)).await;
        assert!(closed);
    });
    let stats = srv.stop();
    let tls_errors: u64 = stats
        .failures
        .iter()
        .filter(|(k, _)| k.starts_with("tls:"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(tls_errors, 1, "{stats:?}");
    assert_eq!(stats.handshakes_ok, 0);
}

#[test]
fn malformed_sip_gets_400_and_the_connection_lives_on() {
    let srv = hostile_server();
    rt().block_on(async {
        let mut s = TcpStream::connect(srv.tcp_addr()).await.unwrap();
        // CSeq method does not match the request method (RFC 4475 mismatch01).
        let bad = OPTIONS.replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE");
        s.write_all(bad.as_bytes()).await.unwrap();
        s.write_all(b"\r\n\r\n").await.unwrap();
        s.write_all(OPTIONS.as_bytes()).await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains("SIP/2.0 200 OK") {
            let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&got);
        assert!(
            text.starts_with("SIP/2.0 400 Bad Request\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-h1\r\n"),
            "{text}"
        );
        assert!(text.contains("Warning: 399 sipbench"), "{text}");
        // The CRLF ping was answered with a CRLF pong between the two responses.
        assert!(text.contains("Content-Length: 0\r\n\r\n\r\nSIP/2.0 200 OK"), "{text}");
    });
    let stats = srv.stop();
    assert_eq!(stats.malformed, 1);
    assert_eq!(stats.responses_4xx, 1);
    assert_eq!(stats.responses_2xx, 1);
}

#[test]
fn oversized_message_gets_513_and_is_cut_off() {
    let srv = hostile_server();
    rt().block_on(async {
        let mut s = TcpStream::connect(srv.tcp_addr()).await.unwrap();
        let mut msg = OPTIONS.replace("Content-Length: 0\r\n\r\n", "");
        while msg.len() < 6000 {
            msg.push_str(
                "X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
            );
        }
        // The peer may hang up before all of it is written.
        let _ = s.write_all(msg.as_bytes()).await;
        let (got, closed) = read_until_close(&mut s, Duration::from_secs(3)).await;
        assert!(closed);
        assert!(String::from_utf8_lossy(&got).starts_with("SIP/2.0 513 Message Too Large"));
        assert!(options_ok(&srv.tcp_addr()).await.starts_with("SIP/2.0 200 OK"));
    });
    let stats = srv.stop();
    assert_eq!(stats.failures.get("sip-protocol:too-large"), Some(&1), "{stats:?}");
}

#[test]
fn connection_flood_beyond_the_cap_is_refused_and_counted() {
    let srv = hostile_server();
    rt().block_on(async {
        let mut held = Vec::new();
        for _ in 0..20 {
            held.push(TcpStream::connect(srv.tcp_addr()).await.unwrap());
        }
        // Give the accept loops time to see them all.
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(held);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(options_ok(&srv.tcp_addr()).await.starts_with("SIP/2.0 200 OK"));
    });
    let stats = srv.stop();
    assert_eq!(stats.rejected_over_cap, 12, "{stats:?}");
}

#[test]
fn idle_connection_is_closed() {
    let srv = hostile_server();
    rt().block_on(async {
        let mut s = TcpStream::connect(srv.tcp_addr()).await.unwrap();
        let (_, closed) = read_until_close(&mut s, Duration::from_secs(5)).await;
        assert!(closed);
    });
    let stats = srv.stop();
    assert_eq!(stats.failures.get("io:idle-timeout"), Some(&1), "{stats:?}");
}

/// Polls the server's counters until `kind` has been counted once, for up to `limit`.
fn wait_for_failure(srv: &TestServer, kind: &str, limit: Duration) {
    let until = std::time::Instant::now() + limit;
    while !srv.counters().failures.contains_key(kind) && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn slowloris_is_cut_at_the_message_timeout_and_counted() {
    let srv = TestServer::start_with(|c| {
        c.idle_timeout = Duration::from_secs(30);
        c.message_timeout = Duration::from_secs(1);
    });
    rt().block_on(async {
        let mut s = TcpStream::connect(srv.tcp_addr()).await.unwrap();
        // One byte every 200 ms re-arms the idle timer but never finishes the message.
        let dripped = tokio::time::timeout(Duration::from_secs(20), async {
            for b in OPTIONS.as_bytes() {
                if s.write_all(&[*b]).await.is_err() {
                    return true;
                }
                let mut buf = [0u8; 64];
                match tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => return true,
                    _ => {}
                }
            }
            false
        })
        .await
        .expect("the server cut the connection");
        assert!(dripped, "the whole message went through");
        assert!(options_ok(&srv.tcp_addr()).await.starts_with("SIP/2.0 200 OK"));
    });
    let stats = srv.stop();
    assert_eq!(stats.failures.get("io:message-timeout"), Some(&1), "{stats:?}");
}

#[test]
fn whole_messages_sent_slowly_apart_are_not_cut() {
    let srv = TestServer::start_with(|c| c.message_timeout = Duration::from_millis(500));
    rt().block_on(async {
        let mut s = TcpStream::connect(srv.tcp_addr()).await.unwrap();
        // Pauses between messages are the idle timeout's business, not the message timeout's.
        for _ in 0..3 {
            s.write_all(OPTIONS.as_bytes()).await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 200 OK"));
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
    });
    let stats = srv.stop();
    assert!(stats.failures.is_empty(), "{stats:?}");
    assert_eq!(stats.responses_2xx, 3);
}

#[test]
fn a_peer_that_never_reads_is_cut_at_the_write_timeout_and_counted() {
    let srv = TestServer::start_with(|c| c.write_timeout = Duration::from_secs(1));
    let addr: std::net::SocketAddr = srv.tcp_addr().parse().unwrap();
    rt().block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut s = socket.connect(addr).await.unwrap();
        let batch = OPTIONS.repeat(100);
        // Send requests and never read the answers, until the server hangs up.
        let cut = tokio::time::timeout(Duration::from_secs(30), async {
            while s.write_all(batch.as_bytes()).await.is_ok() {}
        })
        .await;
        assert!(cut.is_ok(), "the server kept a peer that never reads");
    });
    wait_for_failure(&srv, "io:write-timeout", Duration::from_secs(5));
    let stats = srv.stop();
    assert_eq!(stats.failures.get("io:write-timeout"), Some(&1), "{stats:?}");
}

#[test]
fn connections_beyond_the_per_address_cap_are_refused_and_counted() {
    let srv = TestServer::start_with(|c| c.max_connections_per_address = 3);
    rt().block_on(async {
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(TcpStream::connect(srv.tcp_addr()).await.unwrap());
        }
        // The fourth from 127.0.0.1 is closed at once.
        let mut fourth = TcpStream::connect(srv.tcp_addr()).await.unwrap();
        let (_, closed) = read_until_close(&mut fourth, Duration::from_secs(5)).await;
        assert!(closed, "the fourth connection from one address was kept");
        // The three admitted are served.
        held[0].write_all(OPTIONS.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(2), held[0].read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 200 OK"));
        // Closing one gives its place back.
        drop(held.pop());
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(options_ok(&srv.tcp_addr()).await.starts_with("SIP/2.0 200 OK"));
    });
    let stats = srv.stop();
    assert_eq!(stats.failures.get("over-address-cap"), Some(&1), "{stats:?}");
    assert_eq!(stats.rejected_over_cap, 0);
}

#[test]
fn a_reset_between_messages_is_a_normal_close_and_mid_message_is_not() {
    let srv = TestServer::start();
    rt().block_on(async {
        // Answered, then reset (SO_LINGER 0), as SIPp closes.
        let mut s = TcpStream::connect(srv.tcp_addr()).await.unwrap();
        s.write_all(OPTIONS.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 200 OK"));
        socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO)).unwrap();
        drop(s);
        // Half a message, then reset.
        let mut s = TcpStream::connect(srv.tcp_addr()).await.unwrap();
        s.write_all(&OPTIONS.as_bytes()[..40]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO)).unwrap();
        drop(s);
    });
    wait_for_failure(&srv, "reset", Duration::from_secs(5));
    let stats = srv.stop();
    assert_eq!(stats.failures.get("reset"), Some(&1), "{stats:?}");
    assert_eq!(stats.failures.len(), 1, "{stats:?}");
    assert_eq!(stats.responses_2xx, 1);
}

/// A free port on loopback (bound and released; the tests below bind it again at once).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config_on(tcp: std::net::SocketAddr) -> sipbench::server::ServerConfig {
    let pki = sipbench::pki::Pki::generate(sipbench::pki::KeyType::EcdsaP256).unwrap();
    let trust = sipbench::trust::Trust::for_pki(&pki).unwrap();
    let mut c = sipbench::server::ServerConfig::loopback(pki.server.clone(), trust);
    c.tls_addr = None;
    c.mtls_addr = None;
    c.tcp_addr = Some(tcp);
    c
}

#[test]
fn a_port_in_use_is_an_error_naming_it() {
    let srv = TestServer::start();
    let taken: std::net::SocketAddr = srv.tcp_addr().parse().unwrap();
    let pool = sipbench::pool::Pool::new(2, "test-second").unwrap();
    let err = sipbench::server::start(&config_on(taken), &pool).unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains(&taken.to_string()), "{text}");
    assert!(text.contains("--tcp-addr"), "{text}");
    assert!(text.contains("--reuse-port"), "{text}");
    drop(pool);
    // The first server still answers alone.
    rt().block_on(async { assert!(options_ok(&srv.tcp_addr()).await.starts_with("SIP/2.0 200 OK")) });
    srv.stop();
}

#[test]
fn reuse_port_shares_a_port_only_when_asked() {
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let pool = sipbench::pool::Pool::new(2, "test-reuse").unwrap();
    let mut c = config_on(addr);
    c.reuse_port = true;
    let first = sipbench::server::start(&c, &pool).unwrap();
    let second = sipbench::server::start(&c, &pool).expect("both asked for SO_REUSEPORT");
    assert_eq!(first.addrs().tcp, vec![addr]);
    assert_eq!(second.addrs().tcp, vec![addr]);
    c.reuse_port = false;
    assert!(sipbench::server::start(&c, &pool).is_err());
    let rt = rt();
    rt.block_on(first.shutdown(Duration::from_secs(1)));
    rt.block_on(second.shutdown(Duration::from_secs(1)));
}

#[test]
fn two_listeners_on_one_address_are_refused() {
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut c = config_on(addr);
    c.tls_addr = Some(addr);
    c.mtls_addr = Some(addr);
    c.tcp_addr = None;
    let pool = sipbench::pool::Pool::new(1, "test-same").unwrap();
    let text = format!("{:#}", sipbench::server::start(&c, &pool).unwrap_err());
    assert!(text.contains("--tls-addr") && text.contains("--mtls-addr"), "{text}");
    assert!(text.contains(&addr.to_string()), "{text}");
    // A wildcard address overlaps every address on its port.
    c.mtls_addr = Some(format!("0.0.0.0:{}", addr.port()).parse().unwrap());
    assert!(sipbench::server::start(&c, &pool).is_err());
}

#[test]
fn timeouts_too_long_for_the_clock_mean_never() {
    let srv = TestServer::start_with(|c| {
        c.idle_timeout = Duration::MAX;
        c.message_timeout = Duration::MAX;
        c.write_timeout = Duration::MAX;
    });
    rt().block_on(async {
        let mut s = TcpStream::connect(srv.tcp_addr()).await.unwrap();
        // Half a message first, so that the message deadline is armed too.
        s.write_all(&OPTIONS.as_bytes()[..40]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        s.write_all(&OPTIONS.as_bytes()[40..]).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 200 OK"));
    });
    let stats = srv.stop();
    assert!(stats.failures.is_empty(), "{stats:?}");
}
