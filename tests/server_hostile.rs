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
