//! The registrar's bounds through a real socket: the flood of issue 12 (40 REGISTERs of 1,500
//! contacts each to one address of record) is refused past `max_contacts`, every response stays
//! within a size derived from `max_contacts`, and the records stay within their cap.

mod common;

use std::time::Duration;

use bytes::BytesMut;
use common::TestServer;
use sipbench::server::registrar::DEFAULT_MAX_CONTACTS;
use sipbench::sip::{DEFAULT_MAX_MESSAGE_SIZE, Frame, Framer, Message, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MAX_RECORDS: usize = 8;

/// A REGISTER for `user` listing `contacts` (their URIs), Call-ID and CSeq from `seq`.
fn register(user: &str, seq: u32, contacts: &[String]) -> Vec<u8> {
    let mut m = format!(
        "REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-r{seq}\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@example.test>;tag=r{seq}\r\nTo: <sip:{user}@example.test>\r\nCall-ID: reg-{user}\r\nCSeq: {seq} REGISTER\r\nExpires: 3600\r\n"
    );
    for c in contacts {
        m.push_str(&format!("Contact: <{c}>\r\n"));
    }
    m.push_str("Content-Length: 0\r\n\r\n");
    m.into_bytes()
}

fn contacts(from: usize, n: usize) -> Vec<String> {
    (from..from + n)
        .map(|i| format!("sip:f{i}@10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255))
        .collect()
}

/// A SIP client on one connection: sends a request, returns the response's size and message.
struct Client {
    s: TcpStream,
    framer: Framer,
    buf: BytesMut,
}

impl Client {
    async fn connect(addr: &str) -> Client {
        Client {
            s: TcpStream::connect(addr).await.unwrap(),
            framer: Framer::new(Role::Client, 16 * DEFAULT_MAX_MESSAGE_SIZE),
            buf: BytesMut::new(),
        }
    }

    async fn send(&mut self, request: &[u8]) -> (usize, Message<'static>) {
        assert!(request.len() < DEFAULT_MAX_MESSAGE_SIZE, "{} bytes", request.len());
        self.s.write_all(request).await.unwrap();
        loop {
            if let Some(Frame::Message(b)) = self.framer.decode(&mut self.buf).unwrap() {
                return (b.len(), Message::parse(&b).unwrap().into_owned());
            }
            let n = tokio::time::timeout(Duration::from_secs(10), self.s.read_buf(&mut self.buf))
                .await
                .expect("a response")
                .unwrap();
            assert!(n > 0, "server closed");
        }
    }
}

fn status(m: &Message<'_>) -> u16 {
    match m {
        Message::Response(r) => r.status,
        Message::Request(_) => panic!("expected a response"),
    }
}

#[test]
fn contact_flood_is_refused_and_responses_and_records_stay_bounded() {
    let srv = TestServer::start_with(|c| c.max_records = MAX_RECORDS);
    // The largest response the registrar may send: the echoed dialog headers, and one Contact
    // line (at most 80 bytes for these URIs and `;expires=3600`) per binding.
    let bound = 1024 + DEFAULT_MAX_CONTACTS * 80;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = Client::connect(&srv.tcp_addr()).await;
        let mut seq = 0;
        // The flood: 40 requests of 1,500 new contacts each, all refused.
        for round in 0..40 {
            seq += 1;
            let req = register("victim", seq, &contacts(round * 1500, 1500));
            let (len, resp) = c.send(&req).await;
            assert_eq!(status(&resp), 403, "round {round}");
            assert!(len <= bound, "round {round}: {len} bytes > {bound}");
            assert!(
                len * 20 < req.len(),
                "round {round}: {len} bytes for a {}-byte request",
                req.len()
            );
        }
        // Filling the address of record four contacts at a time: accepted up to the bound, each
        // 200 OK listing every binding, then refused.
        for round in 0..DEFAULT_MAX_CONTACTS / 4 {
            seq += 1;
            let (len, resp) = c
                .send(&register("victim", seq, &contacts(100_000 + round * 4, 4)))
                .await;
            assert_eq!(status(&resp), 200);
            assert_eq!(resp.header_values("Contact").count(), (round + 1) * 4);
            assert!(len <= bound, "{len} bytes > {bound}");
        }
        seq += 1;
        let (len, resp) = c.send(&register("victim", seq, &contacts(200_000, 4))).await;
        assert_eq!(status(&resp), 403);
        assert!(len <= bound);
        // Refreshing the bound contacts is still accepted, and a query lists exactly them.
        seq += 1;
        let (_, resp) = c.send(&register("victim", seq, &contacts(100_000, 4))).await;
        assert_eq!(status(&resp), 200);
        seq += 1;
        let (len, resp) = c.send(&register("victim", seq, &[])).await;
        assert_eq!(resp.header_values("Contact").count(), DEFAULT_MAX_CONTACTS);
        assert!(len <= bound);
        // New addresses of record past the records cap: 503 with Retry-After.
        let mut refused = 0;
        for u in 0..2 * MAX_RECORDS {
            seq += 1;
            let (_, resp) = c.send(&register(&format!("u{u}"), seq, &contacts(u, 1))).await;
            match status(&resp) {
                200 => {}
                503 => {
                    assert!(resp.header("Retry-After").is_some());
                    refused += 1;
                }
                s => panic!("user u{u}: {s}"),
            }
        }
        // One record is the victim's.
        assert_eq!(refused, MAX_RECORDS + 1);
        assert_eq!(srv.counters().registrar_records, MAX_RECORDS as u64);
    });
    let stats = srv.stop();
    assert!(stats.registrar_records <= MAX_RECORDS as u64, "{stats:?}");
    assert_eq!(stats.registrar_refused.get("too-many-contacts"), Some(&41), "{stats:?}");
    assert_eq!(
        stats.registrar_refused.get("records-full"),
        Some(&(MAX_RECORDS as u64 + 1))
    );
    assert_eq!(stats.responses_4xx, 41);
    assert_eq!(stats.responses_5xx, MAX_RECORDS as u64 + 1);
}

#[test]
fn expired_bindings_are_swept_without_being_touched() {
    let srv = TestServer::start_with(|c| c.max_expires = 1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = Client::connect(&srv.tcp_addr()).await;
        for u in 0..20 {
            let (_, resp) = c
                .send(&register(&format!("u{u}"), u + 1, &contacts(u as usize, 1)))
                .await;
            assert_eq!(status(&resp), 200);
            // Expires: 3600 asked, 1 s granted and said.
            assert!(resp.header("Contact").unwrap().ends_with(";expires=1"), "{resp:?}");
        }
        assert!(srv.counters().registrar_records > 0);
        // Nothing touches the records again: only the server's sweep can drop them. The
        // deadline is generous, not a measure (a full sweep pass takes 8 s).
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while srv.counters().registrar_records > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "never swept: {:?}",
                srv.counters()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    srv.stop();
}
