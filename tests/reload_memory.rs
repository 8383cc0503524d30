//! Memory does not grow with repeated reloads: 100 reloads of certificates, CAs, CRLs and
//! topology from disk, with traffic between them, measured by the process's resident memory.
//! Its own test binary, so that no other test's allocations share the process.

mod common;

use std::time::Duration;

use common::TestServer;
use sipbench::audit;
use sipbench::pki::{self, files};
use sipbench::tls::{Backend, Versions};
use sipbench::trust::Trust;

#[test]
fn memory_does_not_grow_over_100_reloads() {
    let srv = TestServer::start();
    let server = srv.server.as_ref().unwrap();
    let provider = Backend::default().rustls_provider().expect("a rustls backend");
    let trust = Trust::for_pki(&srv.pki).unwrap().without_topology();
    let connector = audit::connector(
        audit::Stack::Rustls,
        &provider,
        &trust,
        Some(&srv.pki.edge),
        Versions::Tls13,
    )
    .unwrap();
    let mtls = srv.mtls_addr().parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let reload = |n: usize| {
        for _ in 0..n {
            let identity = pki::load_identity(&srv.file(files::SERVER), &srv.file(files::SERVER_KEY)).unwrap();
            let trust = Trust::load(&srv.file(files::TOPOLOGY)).unwrap();
            server.reload(identity, trust).unwrap();
            // A handshake under each configuration, so each one is really used.
            rt.block_on(audit::attempt(mtls, connector.clone(), "sip.example.test"))
                .unwrap();
        }
    };
    // Warm up allocator pools and caches first.
    reload(20);
    std::thread::sleep(Duration::from_millis(100));
    let before = sipbench::sys::rss_bytes().expect("RSS readable on Linux");
    reload(100);
    std::thread::sleep(Duration::from_millis(100));
    let after = sipbench::sys::rss_bytes().unwrap();
    let growth = after as i64 - before as i64;
    eprintln!(
        "RSS before 100 reloads {:.1} MiB, after {:.1} MiB, growth {:.1} KiB ({:.2} KiB per reload)",
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        growth as f64 / 1024.0,
        growth as f64 / 1024.0 / 100.0
    );
    // One reload's configuration (trust, verifiers, two rustls server configs) takes about
    // 36 KiB here: leaking every one would add about 3.5 MiB.
    assert!(growth < 1024 * 1024, "RSS grew {growth} bytes over 100 reloads");
    assert_eq!(srv.stop().reloads, 120);
}
