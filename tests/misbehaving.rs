//! The generator against servers that misbehave, each written here as a few lines over a raw
//! socket: one that stalls in the middle of the TLS handshake, sends garbage, sends a 100 KiB
//! response or an endless one, closes early, answers with a wrong CSeq or for another dialog,
//! or never answers. Every session fails, counted under the kind that says what happened, and
//! the generator neither hangs nor buffers without bound.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::{TestServer, run_one};
use sipbench::plan::{Mode, Txn};

/// What the fake server does with each request.
#[derive(Clone, Copy, Debug)]
enum Misbehaviour {
    /// Reads the TLS ClientHello and sends nothing.
    StallHandshake,
    /// Answers bytes that are not SIP.
    Garbage,
    /// Answers a well-formed response of 100 KiB (over the client's message limit).
    Huge,
    /// Sends header bytes without end (no blank line ever).
    Endless,
    /// Reads the request and closes.
    CloseEarly,
    /// Answers 200 with a CSeq number the client did not send.
    WrongCseq,
    /// Answers 200 with another Call-ID.
    WrongCallId,
    /// Reads the request and never answers.
    Silent,
}

/// The request's header lines, up to the blank line.
fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

fn header<'a>(head: &'a str, name: &str) -> &'a str {
    head.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')))
        .map(str::trim)
        .unwrap_or("")
}

fn response(call_id: &str, cseq: &str, extra: &str) -> String {
    format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP x;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@b>;tag=2\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\n{extra}Content-Length: 0\r\n\r\n"
    )
}

fn serve_one(mut s: TcpStream, how: Misbehaviour) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    if let Misbehaviour::StallHandshake = how {
        let mut hello = [0u8; 512];
        let _ = s.read(&mut hello);
        std::thread::sleep(Duration::from_secs(3));
        return;
    }
    let Some(head) = read_head(&mut s) else { return };
    let (call_id, cseq) = (header(&head, "Call-ID"), header(&head, "CSeq"));
    let out = match how {
        Misbehaviour::StallHandshake => unreachable!(),
        Misbehaviour::Garbage => b"\x16\x03\x01 this is not SIP at all\r\n\r\n".to_vec(),
        Misbehaviour::Huge => {
            response(call_id, cseq, &format!("X-Padding: {}\r\n", "a".repeat(100 * 1024))).into_bytes()
        }
        Misbehaviour::Endless => {
            // Header bytes until the client gives up and closes.
            let line = format!("SIP/2.0 200 OK\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\n");
            let _ = s.write_all(line.as_bytes());
            let filler = b"X-More: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(64);
            while s.write_all(&filler).is_ok() {}
            return;
        }
        Misbehaviour::CloseEarly => return,
        Misbehaviour::WrongCseq => {
            let n: u32 = cseq.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
            response(call_id, &format!("{} OPTIONS", n + 1000), "").into_bytes()
        }
        Misbehaviour::WrongCallId => response("someone-else@elsewhere", cseq, "").into_bytes(),
        Misbehaviour::Silent => {
            std::thread::sleep(Duration::from_secs(3));
            return;
        }
    };
    let _ = s.write_all(&out);
    // Keep the connection open until the client closes it.
    let mut sink = [0u8; 1024];
    while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
}

/// A listener on a port of its own, serving every connection the same wrong way.
fn start(how: Misbehaviour) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            std::thread::spawn(move || serve_one(s, how));
        }
    });
    addr
}

/// Runs three sessions of one OPTIONS each against a misbehaving server and returns the
/// failures by kind.
fn failures(srv: &TestServer, how: Misbehaviour) -> std::collections::BTreeMap<String, u64> {
    let addr = start(how);
    let mode = if matches!(how, Misbehaviour::StallHandshake) {
        Mode::Tls
    } else {
        Mode::Tcp
    };
    let mut args = srv.args(mode, 3);
    args.phase.transactions = Some(vec![Txn::Options]);
    args.phase.concurrency = Some(1);
    args.phase.sip_timeout = Some(Duration::from_millis(500));
    args.phase.handshake_timeout = Some(Duration::from_millis(500));
    args.target.tls_addr = Some(addr.clone());
    args.target.tcp_addr = Some(addr);
    args.out = Some(srv.dir.path().join(format!("misbehaving-{how:?}.json")));
    let (_, p) = run_one(&args);
    assert_eq!(p.sessions.ok, 0, "{how:?}: {:?}", p.failures);
    assert_eq!(p.sessions.failed, 3, "{how:?}: {:?}", p.failures);
    p.failures
}

#[test]
fn every_misbehaviour_is_counted_by_what_it_was() {
    let srv = TestServer::start();
    let cases = [
        (Misbehaviour::StallHandshake, "handshake-timeout"),
        (Misbehaviour::Garbage, "sip-protocol:"),
        (Misbehaviour::Huge, "sip-protocol:too-large"),
        (Misbehaviour::Endless, "sip-protocol:too-large"),
        (Misbehaviour::CloseEarly, "reset"),
        (Misbehaviour::WrongCseq, "sip-timeout"),
        (Misbehaviour::WrongCallId, "sip-timeout"),
        (Misbehaviour::Silent, "sip-timeout"),
    ];
    for (how, kind) in cases {
        let f = failures(&srv, how);
        let counted: u64 = f.iter().filter(|(k, _)| k.starts_with(kind)).map(|(_, v)| v).sum();
        assert_eq!(counted, 3, "{how:?}: expected 3 × {kind}, got {f:?}");
    }
    srv.stop();
}
