//! Criterion benchmarks of complete TLS 1.3 handshakes, in memory: client and server run in one
//! thread and exchange their flights through a byte buffer (no sockets, no kernel), so the figures
//! are the CPU cost of one handshake for both sides together (key exchange, signing, certificate
//! verification, key schedule, session tickets).
//!
//! Benchmark ids are `handshake/<backend>/<key type>/<kind>`, with `<kind>`:
//!
//! * `tls13-full`: full handshake, server authenticated only; the client verifies the server
//!   name `sip.example.test` with a `WebPkiServerVerifier` over the Enterprise root.
//! * `mtls13-full`: the same plus client authentication: the client presents the `edge` identity
//!   and the server checks it with a `WebPkiClientVerifier` over the same root.
//! * `tls13-resumed` / `mtls13-resumed`: every iteration is a new connection that resumes from a
//!   ticket in the client's `ClientSessionMemoryCache` (stateless tickets from the backend's
//!   ticketer); no certificate is sent or verified, but the key exchange is still done (PSK-DHE).
//!
//! Each iteration includes creating both connections and the server's session tickets (two per
//! handshake, the rustls default), which are delivered to the client: in the full cases the client
//! has resumption disabled and drops them, in the resumed cases they refill its cache.
//!
//! Backends are the rustls crypto providers of `Backend::ALL` (the OpenSSL backend, a separate TLS
//! stack, is skipped). Every handshake uses TLS 1.3 and the backend's default cipher suites and key
//! exchange groups; what was negotiated is printed once per backend and key type. PKIs are generated once per key
//! type, on first use (RSA 3072 generation takes a while), outside the timed loops. Each
//! handshake asserts that it completed, and has the intended kind (full or resumed).

use std::collections::HashSet;
use std::hint::black_box;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use rustls::client::{ClientSessionMemoryCache, Resumption, WebPkiServerVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ClientConnection, HandshakeKind, ServerConfig, ServerConnection};
use rustls_pki_types::ServerName;
use sipbench::pki::{KeyType, Pki, SERVER_DNS};
use sipbench::tls::{self, Backend};

mod common;
use common::transfer;

/// Runs the handshake to completion, including the server's session tickets.
fn handshake(client: &mut ClientConnection, server: &mut ServerConnection, buf: &mut Vec<u8>) {
    loop {
        let sent = transfer(client, server, buf);
        let received = transfer(server, client, buf);
        if sent == 0 && received == 0 {
            break;
        }
    }
    assert!(
        !client.is_handshaking() && !server.is_handshaking(),
        "handshake did not complete"
    );
}

/// One connection pair, handshake done; asserts that both sides agree on the handshake kind.
fn connect(client: &Arc<ClientConfig>, server: &Arc<ServerConfig>, expect: HandshakeKind) -> ClientConnection {
    let name = ServerName::try_from(SERVER_DNS).expect("valid DNS name");
    let mut c = ClientConnection::new(client.clone(), name).expect("client connection");
    let mut s = ServerConnection::new(server.clone()).expect("server connection");
    let mut buf = Vec::with_capacity(16 * 1024);
    handshake(&mut c, &mut s, &mut buf);
    assert_eq!(c.handshake_kind(), Some(expect), "client: unexpected handshake kind");
    assert_eq!(s.handshake_kind(), Some(expect), "server: unexpected handshake kind");
    c
}

/// PKIs, one per key type, generated on first use.
struct Pkis([OnceLock<Pki>; KeyType::ALL.len()]);

impl Pkis {
    fn get(&self, key_type: KeyType) -> &Pki {
        let i = KeyType::ALL
            .iter()
            .position(|k| *k == key_type)
            .expect("known key type");
        self.0[i].get_or_init(|| Pki::generate(key_type).expect("PKI generation"))
    }
}

/// Client and server configs for one benchmark.
fn configs(backend: Backend, pki: &Pki, mtls: bool, resumed: bool) -> (Arc<ClientConfig>, Arc<ServerConfig>) {
    let provider = backend.rustls_provider().expect("a rustls backend");
    let roots = Arc::new(pki.enterprise_roots());
    let server_verifier = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
        .build()
        .expect("server verifier");
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_webpki_verifier(server_verifier);
    let mut client = if mtls {
        builder
            .with_client_auth_cert(pki.edge.chain.clone(), pki.edge.key.clone_key())
            .expect("client identity")
    } else {
        builder.with_no_client_auth()
    };
    client.resumption = if resumed {
        Resumption::store(Arc::new(ClientSessionMemoryCache::new(16)))
    } else {
        Resumption::disabled()
    };

    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3");
    let builder = if mtls {
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider)
            .build()
            .expect("client verifier");
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let mut server = builder
        .with_single_cert(pki.server.chain.clone(), pki.server.key.clone_key())
        .expect("server identity");
    server.ticketer = tls::rustls_stack::ticketer(backend).expect("ticketer");
    (Arc::new(client), Arc::new(server))
}

fn handshakes(c: &mut Criterion) {
    let pkis = Pkis(Default::default());
    let printed = Mutex::new(HashSet::new());
    // rustls providers only: the OpenSSL backend is a separate TLS stack (it has no rustls
    // provider), measured by scripts/openssl-speed.sh at the primitive level.
    for backend in Backend::ALL.into_iter().filter(|b| b.rustls_provider().is_some()) {
        for key_type in KeyType::ALL {
            let name = format!("handshake/{}/{}", backend.as_str(), key_type.as_str());
            let mut g = c.benchmark_group(&name);
            g.measurement_time(Duration::from_secs(2))
                .warm_up_time(Duration::from_millis(500))
                .sample_size(20);
            for (kind, mtls, resumed) in [
                ("tls13-full", false, false),
                ("mtls13-full", true, false),
                ("tls13-resumed", false, true),
                ("mtls13-resumed", true, true),
            ] {
                // Criterion calls this only when the id passes the command-line filter, so
                // PKIs of filtered-out key types are never generated.
                g.bench_function(kind, |b| {
                    let pki = pkis.get(key_type);
                    let provider = backend.rustls_provider().expect("a rustls backend");
                    // The edge (client) key has the same type as the server key.
                    tls::check_key_type(backend, &provider, key_type, Some(&pki.server.key))
                        .unwrap_or_else(|e| panic!("{name}/{kind}: {e}"));
                    let (client, server) = configs(backend, pki, mtls, resumed);
                    // Setup: a full handshake (which also fills the client's ticket cache when
                    // resuming), then, for the resumed cases, one that must resume.
                    let first = connect(&client, &server, HandshakeKind::Full);
                    if printed.lock().unwrap().insert(name.clone()) {
                        let suite = first.negotiated_cipher_suite().expect("suite").suite();
                        let group = first.negotiated_key_exchange_group().expect("kx group").name();
                        eprintln!("{name}: TLS 1.3, {suite:?}, {group:?}");
                    }
                    let expect = if resumed {
                        connect(&client, &server, HandshakeKind::Resumed);
                        HandshakeKind::Resumed
                    } else {
                        HandshakeKind::Full
                    };
                    b.iter(|| black_box(connect(&client, &server, expect)));
                });
            }
            g.finish();
        }
    }
}

/// Criterion's generated group function carries no docs.
#[allow(missing_docs)]
mod group {
    use super::*;
    criterion_group!(benches, handshakes);
}

criterion_main!(group::benches);
