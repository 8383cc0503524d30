//! Criterion benchmarks for the SIP codec: parse, encode and stream framing.

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sipbench::sip::{Framer, Message, Role};

const REGISTER: &[u8] = b"REGISTER sip:registrar.example.com SIP/2.0\r\n\
Via: SIP/2.0/TLS 192.0.2.10:50612;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: \"Alice\" <sip:alice@example.com>\r\n\
From: \"Alice\" <sip:alice@example.com>;tag=456248\r\n\
Call-ID: 843817637684230@998sdasdh09\r\n\
CSeq: 1826 REGISTER\r\n\
Contact: <sip:alice@192.0.2.10:50612;transport=tls>;expires=3600;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\"\r\n\
Expires: 3600\r\n\
User-Agent: sipbench/0.1\r\n\
Content-Length: 0\r\n\
\r\n";

const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/TLS client.atlanta.example.com:5061;branch=z9hG4bK74bf9\r\n\
Max-Forwards: 70\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:alice@client.atlanta.example.com;transport=tls>\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, UPDATE, PRACK\r\n\
Supported: timer, 100rel\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 151\r\n\
\r\n\
v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 client.atlanta.example.com\r\n\
s=-\r\n\
c=IN IP4 192.0.2.101\r\n\
t=0 0\r\n\
m=audio 49172 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

const OPTIONS: &[u8] = b"OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/TLS client.atlanta.example.com:5061;branch=z9hG4bK74bf9\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: <sip:bob@biloxi.example.com>\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\
\r\n";

/// A typical keep-alive OPTIONS request as sent by the load generator (~350 bytes).
const OPTIONS_REQ: &[u8] = b"OPTIONS sip:sipbench@server.example.com:5061;transport=tls SIP/2.0\r\n\
Via: SIP/2.0/TLS 192.0.2.10:50612;branch=z9hG4bK-524287-1---5f3a9c1b2d4e6f70;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:sipbench@server.example.com:5061>\r\n\
From: <sip:client-0042@192.0.2.10:50612>;tag=8b3c2f1a\r\n\
Call-ID: 5f3a9c1b2d4e6f70-0042@192.0.2.10\r\n\
CSeq: 17 OPTIONS\r\n\
Accept: application/sdp\r\n\
User-Agent: sipbench/0.1\r\n\
Content-Length: 0\r\n\
\r\n";

/// The server's 200 OK answer to [`OPTIONS_REQ`] (parsed on the client side).
const OPTIONS_OK: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/TLS 192.0.2.10:50612;branch=z9hG4bK-524287-1---5f3a9c1b2d4e6f70;rport\r\n\
To: <sip:sipbench@server.example.com:5061>;tag=srv-1f2e3d\r\n\
From: <sip:client-0042@192.0.2.10:50612>;tag=8b3c2f1a\r\n\
Call-ID: 5f3a9c1b2d4e6f70-0042@192.0.2.10\r\n\
CSeq: 17 OPTIONS\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE\r\n\
Content-Length: 0\r\n\
\r\n";

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    for (name, msg) in [
        ("register", REGISTER),
        ("invite_sdp", INVITE),
        ("options", OPTIONS_REQ),
        ("options_200", OPTIONS_OK),
    ] {
        Message::parse(msg).expect("benchmark message must parse");
        g.throughput(Throughput::Bytes(msg.len() as u64));
        g.bench_function(name, |b| b.iter(|| Message::parse(black_box(msg)).unwrap()));
    }
    g.finish();
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    for (name, msg) in [("register", REGISTER), ("invite_sdp", INVITE)] {
        let parsed = Message::parse(msg).unwrap();
        let mut out = Vec::with_capacity(2048);
        g.throughput(Throughput::Bytes(msg.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                black_box(&parsed).encode(&mut out);
                black_box(out.len())
            })
        });
    }
    g.finish();
}

fn framer(c: &mut Criterion) {
    let mut g = c.benchmark_group("framer");
    let stream: Vec<u8> = OPTIONS.repeat(64);
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("pipelined_options_x64", |b| {
        b.iter(|| {
            let mut framer = Framer::new(Role::Server, 64 * 1024);
            let mut buf = BytesMut::from(black_box(&stream[..]));
            let mut n = 0;
            while let Some(f) = framer.decode(&mut buf).unwrap() {
                black_box(&f);
                n += 1;
            }
            assert_eq!(n, 64);
        })
    });
    g.finish();
}

/// Criterion's generated group function carries no docs.
#[allow(missing_docs)]
mod group {
    use super::*;
    criterion_group!(benches, parse, encode, framer);
}

criterion_main!(group::benches);
