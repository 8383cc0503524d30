//! Criterion benchmarks of TLS 1.3 record protection at the rustls level, per rustls backend (the
//! OpenSSL backend, a separate TLS stack, is skipped), cipher suite (`TLS13_AES_128_GCM_SHA256`,
//! `TLS13_AES_256_GCM_SHA384`, `TLS13_CHACHA20_POLY1305_SHA256`) and plaintext size (1 KiB and 16 KiB; the client's `max_fragment_size` is the TLS maximum, so
//! each write is exactly one record). Throughput is plaintext bytes.
//!
//! * `records/seal/<backend>/<suite>/<size>`: `client.writer().write_all(payload)` then
//!   `client.write_tls` into a cleared `Vec`: copy into rustls, encrypt, frame, copy out.
//! * `records/open/<backend>/<suite>/<size>`: one record handed to `server.read_tls`, then
//!   `process_new_packets` and the plaintext read back with `server.reader()`.
//!
//! Both sides come from an in-memory TLS 1.3 handshake (no sockets) with the suite pinned on both
//! ends (asserted), done outside the timed loop. Records must be decrypted in sequence-number
//! order, so the open benchmark uses `iter_custom`: the client seals a batch of records (untimed),
//! then the server opening them is timed, batch after batch on the same connection pair.

use std::hint::black_box;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};
use rustls_pki_types::ServerName;
use sipbench::pki::{KeyType, Pki, SERVER_DNS};
use sipbench::tls::{self, Backend};

mod common;
use common::transfer;

const SUITES: [&str; 3] = [
    "TLS13_AES_128_GCM_SHA256",
    "TLS13_AES_256_GCM_SHA384",
    "TLS13_CHACHA20_POLY1305_SHA256",
];
const SIZES: [usize; 2] = [1024, 16 * 1024];
/// TLS 1.3 record overhead: 5-byte header, 1-byte inner content type, 16-byte AEAD tag.
const RECORD_OVERHEAD: usize = 5 + 1 + 16;
/// Sealed bytes per batch in the open benchmark.
const BATCH_BYTES: usize = 4 << 20;

/// Client and server configs with `suite` as the only cipher suite on both sides.
fn configs(backend: Backend, pki: &Pki, suite: &str) -> (Arc<ClientConfig>, Arc<ServerConfig>) {
    let provider: Arc<CryptoProvider> = tls::with_suite(&backend.rustls_provider().expect("a rustls backend"), suite)
        .unwrap_or_else(|e| panic!("{}: {e}", backend.as_str()));
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(pki.enterprise_roots()), provider.clone())
        .build()
        .expect("server verifier");
    let mut client = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_webpki_verifier(verifier)
        .with_no_client_auth();
    client.resumption = Resumption::disabled();
    // The TLS maximum (16 KiB of plaintext; rustls counts the 5-byte header): 16 KiB is one record.
    client.max_fragment_size = Some(16 * 1024 + 5);
    let server = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_no_client_auth()
        .with_single_cert(pki.server.chain.clone(), pki.server.key.clone_key())
        .expect("server identity");
    (Arc::new(client), Arc::new(server))
}

/// A connected pair, handshake (and session tickets) done, `suite` negotiated.
fn connect(
    client: &Arc<ClientConfig>,
    server: &Arc<ServerConfig>,
    suite: &str,
) -> (ClientConnection, ServerConnection) {
    let name = ServerName::try_from(SERVER_DNS).expect("valid DNS name");
    let mut c = ClientConnection::new(client.clone(), name).expect("client connection");
    let mut s = ServerConnection::new(server.clone()).expect("server connection");
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        let sent = transfer(&mut c, &mut s, &mut buf);
        let received = transfer(&mut s, &mut c, &mut buf);
        if sent == 0 && received == 0 {
            break;
        }
    }
    assert!(!c.is_handshaking() && !s.is_handshaking(), "handshake did not complete");
    for (side, negotiated) in [
        ("client", c.negotiated_cipher_suite()),
        ("server", s.negotiated_cipher_suite()),
    ] {
        let negotiated = negotiated.expect("negotiated suite").suite();
        assert_eq!(negotiated.as_str(), Some(suite), "{side} negotiated {negotiated:?}");
    }
    (c, s)
}

/// Seals one record of `payload` into `wire` (cleared first).
fn seal(client: &mut ClientConnection, payload: &[u8], wire: &mut Vec<u8>) {
    wire.clear();
    client.writer().write_all(payload).expect("write plaintext");
    client.write_tls(wire).expect("write_tls to a Vec cannot fail");
}

/// Opens one record and reads its plaintext into `out` (exactly `out.len()` bytes).
fn open(server: &mut ServerConnection, mut record: &[u8], out: &mut [u8]) {
    while !record.is_empty() {
        server.read_tls(&mut record).expect("read_tls from a slice");
    }
    server.process_new_packets().expect("record rejected");
    server.reader().read_exact(out).expect("plaintext of the record");
}

fn records(c: &mut Criterion) {
    let pki = Pki::generate(KeyType::EcdsaP256).expect("PKI generation");
    for op in ["seal", "open"] {
        // rustls providers only: the OpenSSL backend is a separate TLS stack (it has no rustls
        // provider), measured by scripts/openssl-speed.sh at the primitive level.
        for backend in Backend::ALL.into_iter().filter(|b| b.rustls_provider().is_some()) {
            for suite in SUITES {
                let (client_config, server_config) = configs(backend, &pki, suite);
                let mut g = c.benchmark_group(format!("records/{op}/{}/{suite}", backend.as_str()));
                g.measurement_time(Duration::from_secs(2))
                    .warm_up_time(Duration::from_millis(500))
                    .sample_size(20);
                for size in SIZES {
                    let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
                    let record_len = size + RECORD_OVERHEAD;
                    g.throughput(Throughput::Bytes(size as u64));
                    let id = BenchmarkId::from_parameter(size);
                    if op == "seal" {
                        g.bench_function(id, |b| {
                            let (mut client, mut server) = connect(&client_config, &server_config, suite);
                            let mut wire = Vec::with_capacity(record_len);
                            // Setup check: one write is one record, and it opens to the payload.
                            seal(&mut client, &payload, &mut wire);
                            assert_eq!(wire.len(), record_len, "one write must be one record");
                            assert_eq!(wire[0], 0x17, "application data record");
                            let mut out = vec![0; size];
                            open(&mut server, &wire, &mut out);
                            assert_eq!(out, payload, "round trip");
                            b.iter(|| {
                                seal(&mut client, black_box(&payload), &mut wire);
                                black_box(wire.len())
                            });
                        });
                    } else {
                        g.bench_function(id, |b| {
                            b.iter_custom(|iters| {
                                let (mut client, mut server) = connect(&client_config, &server_config, suite);
                                let batch = (BATCH_BYTES / record_len).max(1) as u64;
                                let mut wire = Vec::with_capacity(batch as usize * record_len);
                                let mut record = Vec::with_capacity(record_len);
                                let mut out = vec![0; size];
                                let mut elapsed = Duration::ZERO;
                                let mut left = iters;
                                while left > 0 {
                                    let n = left.min(batch);
                                    wire.clear();
                                    for _ in 0..n {
                                        seal(&mut client, &payload, &mut record);
                                        wire.extend_from_slice(&record);
                                    }
                                    assert_eq!(wire.len(), n as usize * record_len, "one record per write");
                                    let start = Instant::now();
                                    for record in wire.chunks_exact(record_len) {
                                        open(&mut server, black_box(record), &mut out);
                                    }
                                    elapsed += start.elapsed();
                                    left -= n;
                                }
                                assert_eq!(out, payload, "round trip");
                                elapsed
                            })
                        });
                    }
                }
                g.finish();
            }
        }
    }
}

/// Criterion's generated group function carries no docs.
#[allow(missing_docs)]
mod group {
    use super::*;
    criterion_group!(benches, records);
}

criterion_main!(group::benches);
