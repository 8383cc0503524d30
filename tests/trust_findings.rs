//! The six findings of issue 11, each reproduced over real loopback sockets on both TLS stacks
//! where they apply. Every certificate here is made on purpose by an attacker ([`sipbench::forge`]);
//! the trust comes from files, as a deployment's would.
//!
//! 1. A subjectAltName entry that is not valid IA5String must not hide the names next to it from
//!    the CA scope check.
//! 2. IP names are scoped too: a partner CA may not vouch for 127.0.0.1.
//! 3. Two trusted CAs with one subject name: each certificate is judged by the CA that verified
//!    it, and genuine certificates of either verify.
//! 4. 0-RTT does not skip the topology check: a server not in the topology behind the same
//!    address gets nothing.
//! 5. A peer refused for the topology gets no session ticket.
//! 6. CA files and CRLs are checked when loaded: a leaf in a CA file, or a CRL signed by another
//!    CA, is an error naming the file; every certificate of a CA file is trusted.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rustls::client::ClientSessionStore;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use sipbench::failure::FailureKind;
use sipbench::forge::{Authority, CaSpec, LeafSpec, San, tag};
use sipbench::generator::{RunConfig, TargetConfig, run};
use sipbench::pki::{self, BadCert, CaName, Identity, KeyType, Pki, files};
use sipbench::plan::{EarlyData, Mode, PhaseSpec, Resumption, Txn};
use sipbench::pool::Pool;
use sipbench::server::{self, ServerConfig};
use sipbench::tls::ossl::OsslConnector;
use sipbench::tls::{self, Backend, ServerResumption, Versions};
use sipbench::trust::Trust;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Which client stack dials.
#[derive(Debug, Clone, Copy)]
enum Stack {
    Rustls,
    OpenSsl,
}

const STACKS: [Stack; 2] = [Stack::Rustls, Stack::OpenSsl];

/// One of the PKI's two roots as an attacker's (or a careless CA's) authority.
fn authority(pki: &Pki, which: CaName) -> Authority {
    let (cert, issuer) = match which {
        CaName::Enterprise => (&pki.enterprise_ca, pki.enterprise_issuer()),
        CaName::Partner => (&pki.partner_ca, pki.partner_issuer()),
    };
    let key = issuer.expect("CA key").key().serialize_der();
    Authority::existing(
        cert.clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
        pki.key_type,
        true,
        Vec::new(),
    )
    .expect("authority")
}

fn partner(pki: &Pki) -> Authority {
    authority(pki, CaName::Partner)
}

fn enterprise(pki: &Pki) -> Authority {
    authority(pki, CaName::Enterprise)
}

/// A rogue TLS server presenting `identity` to whoever connects; it echoes one byte.
async fn rogue(identity: &Identity) -> SocketAddr {
    let provider = Backend::default().rustls_provider().expect("a rustls backend");
    let config = tls::server_config(
        Backend::default(),
        &provider,
        identity,
        None,
        Versions::Any,
        ServerResumption::default(),
    )
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut s) = acceptor.accept(tcp).await {
                    let mut b = [0u8; 1];
                    if s.read_exact(&mut b).await.is_ok() {
                        let _ = s.write_all(&b).await;
                        let _ = s.shutdown().await;
                    }
                }
            });
        }
    });
    addr
}

/// sipbench's client-to-server TLS client on `stack` dials `addr` as `name` and exchanges a byte.
async fn dial(stack: Stack, trust: &Trust, addr: SocketAddr, name: &str) -> Result<(), FailureKind> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut b = [7u8; 1];
    match stack {
        Stack::Rustls => {
            let provider = Backend::default().rustls_provider().expect("a rustls backend");
            let config = tls::client_config(
                &provider,
                trust.verifier(&provider).expect("verifier"),
                None,
                Versions::Tls13,
                Resumption::Off,
                1,
                None,
            )
            .unwrap();
            let name = ServerName::try_from(name.to_owned()).unwrap();
            let mut s = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|e| tls::classify_io(&e))?;
            s.write_all(&b).await.map_err(|e| tls::classify_io(&e))?;
            s.read_exact(&mut b).await.map_err(|e| tls::classify_io(&e))?;
        }
        Stack::OpenSsl => {
            let connector =
                OsslConnector::new(trust, None, Versions::Tls13, sipbench::tls::Resumption::Off, None, None).unwrap();
            let mut s = connector.connect(name, tcp).await?;
            s.write_all(&b).await.map_err(|e| tls::classify_io(&e))?;
            s.read_exact(&mut b).await.map_err(|e| tls::classify_io(&e))?;
        }
    }
    Ok(())
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn refused(reason: &str) -> Result<(), FailureKind> {
    Err(FailureKind::Certificate(reason.into()))
}

#[test]
fn f1_an_unparseable_name_entry_does_not_hide_the_names_beside_it_from_the_scope_check() {
    let pki = Pki::generate(KeyType::EcdsaP256).unwrap();
    let trust = Trust::for_pki(&pki).unwrap().without_topology();
    let partner = partner(&pki);
    rt().block_on(async {
        for (kind, entry) in [
            ("rfc822Name", San::Raw(tag::RFC822, b"sip\xe9@example.test".to_vec())),
            ("URI", San::Raw(tag::URI, b"sip:\xff@example.test".to_vec())),
            ("dNSName", San::Raw(tag::DNS, b"\xc3\xa9.example.test".to_vec())),
        ] {
            let leaf = partner
                .leaf(&LeafSpec::new(
                    "sip.example.test",
                    vec![San::Dns("sip.example.test".into()), entry],
                ))
                .unwrap();
            let addr = rogue(&leaf).await;
            for stack in STACKS {
                let got = dial(stack, &trust, addr, "sip.example.test").await;
                assert_eq!(got, refused("unparseable-name"), "{kind} on {stack:?}");
            }
        }
    });
}

#[test]
fn f2_ip_names_are_scoped_a_partner_ca_may_not_vouch_for_an_address() {
    let pki = Pki::generate(KeyType::EcdsaP256).unwrap();
    let trust = Trust::for_pki(&pki).unwrap().without_topology();
    let leaf = partner(&pki)
        .leaf(&LeafSpec::new("127.0.0.1", vec![San::Ip("127.0.0.1".parse().unwrap())]))
        .unwrap();
    rt().block_on(async {
        let addr = rogue(&leaf).await;
        for stack in STACKS {
            let got = dial(stack, &trust, addr, "127.0.0.1").await;
            assert_eq!(got, refused("ca-not-trusted-for-address"), "{stack:?}");
        }
        // The enterprise CA lists loopback for its servers: its server certificate passes.
        let addr = rogue(&pki.server).await;
        for stack in STACKS {
            assert_eq!(dial(stack, &trust, addr, "127.0.0.1").await, Ok(()), "{stack:?}");
        }
    });
}

fn write_pem(path: &Path, certs: &[&CertificateDer<'_>]) {
    let pem: String = certs
        .iter()
        .map(|c| {
            let b64 = base64_lines(c.as_ref());
            format!("-----BEGIN CERTIFICATE-----\n{b64}-----END CERTIFICATE-----\n")
        })
        .collect();
    std::fs::write(path, pem).unwrap();
}

fn base64_lines(der: &[u8]) -> String {
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    text.as_bytes()
        .chunks(64)
        .map(|l| format!("{}\n", std::str::from_utf8(l).unwrap()))
        .collect()
}

/// A topology of two CAs (files `a.pem`/`a.crl` and `b.pem`/`b.crl` in `dir`) with their domains.
fn two_ca_topology(dir: &Path, a: (&str, &str), b: (&str, &str)) -> Trust {
    let text = format!(
        "revocation = \"crl\"\n\
         [[ca]]\nname = \"{}\"\ncert = \"a.pem\"\ncrl = \"a.crl\"\ndomains = [\"{}\"]\n\
         [[ca]]\nname = \"{}\"\ncert = \"b.pem\"\ncrl = \"b.crl\"\ndomains = [\"{}\"]\n",
        a.0, a.1, b.0, b.1
    );
    std::fs::write(dir.join("topology.toml"), text).unwrap();
    Trust::load(&dir.join("topology.toml")).expect("topology loads")
}

#[test]
fn f3_two_trusted_cas_with_one_subject_name_each_keep_their_own_scope() {
    let pki = Pki::generate(KeyType::EcdsaP256).unwrap();
    let enterprise = enterprise(&pki);
    // A second trusted root with the Enterprise CA's subject name (a renewed root with a new
    // key, or another organisation's CA that happens to share the name), scoped elsewhere.
    let twin = Authority::root(
        "twin",
        KeyType::EcdsaP256,
        &CaSpec {
            subject: Some(enterprise.subject().unwrap()),
            ..CaSpec::default()
        },
    )
    .unwrap();
    let twin_crl = twin.crl(&[], time::Duration::days(7)).unwrap();
    let twin_leaf = twin.leaf(&LeafSpec::dns(&["sip.example.test"])).unwrap();
    let twin_own = twin.leaf(&LeafSpec::dns(&["sip.twin.test"])).unwrap();
    let genuine = enterprise.leaf(&LeafSpec::dns(&["sip.example.test"])).unwrap();
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        for twin_first in [false, true] {
            let (a, b) = if twin_first {
                ((&twin.cert, &twin_crl), (&pki.enterprise_ca, &pki.enterprise_crl))
            } else {
                ((&pki.enterprise_ca, &pki.enterprise_crl), (&twin.cert, &twin_crl))
            };
            write_pem(&dir.path().join("a.pem"), &[a.0]);
            write_pem(&dir.path().join("b.pem"), &[b.0]);
            pki::write_crl(&dir.path().join("a.crl"), a.1).unwrap();
            pki::write_crl(&dir.path().join("b.crl"), b.1).unwrap();
            let (ent, tw) = (("enterprise", "example.test"), ("twin", "twin.test"));
            let trust = if twin_first {
                two_ca_topology(dir.path(), tw, ent)
            } else {
                two_ca_topology(dir.path(), ent, tw)
            }
            .without_topology();
            let order = if twin_first { "twin first" } else { "enterprise first" };
            for stack in STACKS {
                let addr = rogue(&twin_leaf).await;
                let got = dial(stack, &trust, addr, "sip.example.test").await;
                assert_eq!(got, refused("ca-not-trusted-for-name"), "{order}, {stack:?}");
                let addr = rogue(&genuine).await;
                let got = dial(stack, &trust, addr, "sip.example.test").await;
                assert_eq!(got, Ok(()), "{order}, genuine enterprise certificate on {stack:?}");
                let addr = rogue(&twin_own).await;
                let got = dial(stack, &trust, addr, "sip.twin.test").await;
                assert_eq!(got, Ok(()), "{order}, genuine twin certificate on {stack:?}");
            }
        }
    });
}

/// A TCP proxy that sends the first connection to `first` and every later one to `then`.
async fn switching_proxy(first: SocketAddr, then: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut n = 0usize;
        while let Ok((mut inbound, _)) = listener.accept().await {
            let to = if n == 0 { first } else { then };
            n += 1;
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    addr
}

#[test]
fn f4_zero_rtt_does_not_skip_the_topology_check() {
    let pki = Pki::generate(KeyType::EcdsaP256).unwrap();
    let dir = tempfile::tempdir().unwrap();
    pki.write_to(dir.path()).unwrap();
    let trust = Trust::for_pki(&pki).unwrap();
    // The trusted partner edge, with 0-RTT on; and a server with a valid certificate for the
    // same name from the Enterprise CA (whose domains cover partner.example.test), which the
    // topology does not list: sip.partner.example.test must come from the Partner CA.
    let impostor = enterprise(&pki).leaf(&LeafSpec::dns(&[pki::PARTNER_DNS])).unwrap();
    let pool = Pool::new(1, "f4").unwrap();
    let mut good = ServerConfig::loopback(pki.partner.clone(), trust.clone());
    good.resumption = ServerResumption {
        max_early_data: 16 * 1024,
        ..ServerResumption::default()
    };
    let good = server::start(&good, &pool).unwrap();
    let bad = server::start(&ServerConfig::loopback(impostor, trust), &pool).unwrap();
    let proxy = {
        let (a, b) = (good.addrs().mtls[0], bad.addrs().mtls[0]);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            rt().block_on(async move {
                tx.send(switching_proxy(a, b).await).unwrap();
                std::future::pending::<()>().await;
            })
        });
        rx.recv().unwrap()
    };
    let sessions = 9;
    let args = RunConfig {
        phase: PhaseSpec {
            mode: Some(Mode::Mtls),
            resumption: Some(Resumption::Tls13EarlyData),
            early_data: Some(EarlyData::Accept),
            sessions: Some(sessions),
            concurrency: Some(1),
            warmup: Some(Duration::ZERO),
            transactions: Some(vec![Txn::Options]),
            ..Default::default()
        },
        target: TargetConfig {
            tls_addr: Some(proxy.to_string()),
            mtls_addr: Some(proxy.to_string()),
            server_name: Some(pki::PARTNER_DNS.into()),
            topology: Some(dir.path().join(files::TOPOLOGY)),
            cert: Some(dir.path().join(files::EDGE)),
            key: Some(dir.path().join(files::EDGE_KEY)),
            ..Default::default()
        },
        workers: Some(1),
        out: Some(dir.path().join("r.json")),
        quiet: true,
        ..Default::default()
    };
    let report = run(&args).expect("run");
    let p = &report.result.phases[0];
    // The first session reached the trusted server; every later one was refused by name.
    assert_eq!(p.sessions.ok, 1, "{:?}", p.failures);
    assert_eq!(
        p.failures.get("not-in-topology"),
        Some(&(sessions - 1)),
        "{:?}",
        p.failures
    );
    let rt = rt();
    let impostor = rt.block_on(bad.shutdown(Duration::from_secs(1)));
    rt.block_on(good.shutdown(Duration::from_secs(1)));
    assert_eq!(impostor.requests, 0, "the impostor read requests: {impostor:?}");
    assert_eq!(impostor.early_data_accepted, 0);
}

/// A client session store that counts the TLS 1.3 tickets it is given.
#[derive(Debug)]
struct CountingStore {
    inner: rustls::client::ClientSessionMemoryCache,
    tickets: Arc<AtomicUsize>,
}

impl ClientSessionStore for CountingStore {
    fn set_kx_hint(&self, n: ServerName<'static>, g: rustls::NamedGroup) {
        self.inner.set_kx_hint(n, g)
    }
    fn kx_hint(&self, n: &ServerName<'_>) -> Option<rustls::NamedGroup> {
        self.inner.kx_hint(n)
    }
    fn set_tls12_session(&self, n: ServerName<'static>, v: rustls::client::Tls12ClientSessionValue) {
        self.inner.set_tls12_session(n, v)
    }
    fn tls12_session(&self, n: &ServerName<'_>) -> Option<rustls::client::Tls12ClientSessionValue> {
        self.inner.tls12_session(n)
    }
    fn remove_tls12_session(&self, n: &ServerName<'static>) {
        self.inner.remove_tls12_session(n)
    }
    fn insert_tls13_ticket(&self, n: ServerName<'static>, v: rustls::client::Tls13ClientSessionValue) {
        self.tickets.fetch_add(1, Ordering::Relaxed);
        self.inner.insert_tls13_ticket(n, v)
    }
    fn take_tls13_ticket(&self, n: &ServerName<'static>) -> Option<rustls::client::Tls13ClientSessionValue> {
        self.inner.take_tls13_ticket(n)
    }
}

#[test]
fn f5_a_peer_refused_for_the_topology_gets_no_ticket() {
    let pki = Pki::generate(KeyType::EcdsaP256).unwrap();
    let trust = Trust::for_pki(&pki).unwrap();
    let provider = Backend::default().rustls_provider().expect("a rustls backend");
    let pool = Pool::new(1, "f5").unwrap();
    for server_backend in [Backend::AwsLcRs, Backend::OpenSsl] {
        for stateless in [false, true] {
            let mut config = ServerConfig::loopback(pki.server.clone(), trust.clone());
            config.backend = server_backend;
            config.resumption.stateless = stateless;
            let rt = rt();
            let server = server::start(&config, &pool).unwrap();
            let addr = server.addrs().mtls[0];
            let tickets = Arc::new(AtomicUsize::new(0));
            // A valid Enterprise certificate for rogue.example.test, which is not a trusted server.
            let base = tls::client_config(
                &provider,
                trust.without_topology().verifier(&provider).unwrap(),
                Some(pki.bad(BadCert::NotInTopology)),
                Versions::Tls13,
                Resumption::Tls13Tickets,
                8,
                None,
            )
            .unwrap();
            let mut config = (*base).clone();
            config.resumption = rustls::client::Resumption::store(Arc::new(CountingStore {
                inner: rustls::client::ClientSessionMemoryCache::new(8),
                tickets: tickets.clone(),
            }));
            let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
            let outcome = rt.block_on(async {
                let tcp = TcpStream::connect(addr).await.unwrap();
                let name = ServerName::try_from(pki::SERVER_DNS).unwrap();
                let mut s = connector.connect(name, tcp).await.map_err(|e| tls::classify_io(&e))?;
                s.write_all(b"OPTIONS").await.map_err(|e| tls::classify_io(&e))?;
                let mut buf = [0u8; 64];
                // Read whatever comes (tickets, then the refusal or the close).
                let r = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await;
                match r {
                    Ok(Ok(0)) | Err(_) => Err(FailureKind::Reset),
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(tls::classify_io(&e)),
                }
            });
            let what = format!("{server_backend:?} server, stateless tickets {stateless}");
            assert!(outcome.is_err(), "{what}: the refused peer got an answer");
            assert_eq!(
                tickets.load(Ordering::Relaxed),
                0,
                "{what}: tickets sent to a refused peer"
            );
            let stats = rt.block_on(server.shutdown(Duration::from_secs(1)));
            assert_eq!(stats.not_in_topology, 1, "{what}: {stats:?}");
            assert_eq!(stats.requests, 0, "{what}");
        }
    }
}

#[test]
fn f6_ca_files_and_crls_are_checked_when_loaded() {
    let pki = Pki::generate(KeyType::EcdsaP256).unwrap();
    let dir = tempfile::tempdir().unwrap();
    pki.write_to(dir.path()).unwrap();
    let topology = dir.path().join(files::TOPOLOGY);
    let text = std::fs::read_to_string(&topology).unwrap();
    let load_with = |from: &str, to: &str| {
        std::fs::write(&topology, text.replacen(from, to, 1)).unwrap();
        Trust::load(&topology).map(|_| ()).map_err(|e| e.to_string())
    };
    // A leaf certificate where a CA belongs.
    let err = load_with("cert = \"enterprise-ca.pem\"", "cert = \"edge.pem\"").unwrap_err();
    assert!(err.contains("edge.pem") && err.contains("not a CA"), "{err}");
    // A CRL signed by another CA.
    let err = load_with("crl = \"enterprise-ca.crl\"", "crl = \"partner-ca.crl\"").unwrap_err();
    assert!(err.contains("partner-ca.crl") && err.contains("not signed by"), "{err}");
    // Every certificate of a CA file is trusted: a second root in the enterprise file.
    let renewed = Authority::root("sipbench Enterprise Root CA 2", KeyType::EcdsaP256, &CaSpec::default()).unwrap();
    write_pem(&dir.path().join("both.pem"), &[&pki.enterprise_ca, &renewed.cert]);
    let both_crls = format!(
        "{}{}",
        std::fs::read_to_string(dir.path().join(files::ENTERPRISE_CRL)).unwrap(),
        pem_crl(&renewed.crl(&[], time::Duration::days(7)).unwrap())
    );
    std::fs::write(dir.path().join("both.crl"), both_crls).unwrap();
    std::fs::write(
        &topology,
        text.replacen("cert = \"enterprise-ca.pem\"", "cert = \"both.pem\"", 1)
            .replacen("crl = \"enterprise-ca.crl\"", "crl = \"both.crl\"", 1),
    )
    .unwrap();
    let trust = Trust::load(&topology)
        .expect("a CA file of two roots loads")
        .without_topology();
    let leaf = renewed.leaf(&LeafSpec::dns(&["sip.example.test"])).unwrap();
    rt().block_on(async {
        let addr = rogue(&leaf).await;
        for stack in STACKS {
            assert_eq!(
                dial(stack, &trust, addr, "sip.example.test").await,
                Ok(()),
                "second root of the file on {stack:?}"
            );
        }
    });
}

fn pem_crl(crl: &rustls_pki_types::CertificateRevocationListDer<'_>) -> String {
    format!(
        "-----BEGIN X509 CRL-----\n{}-----END X509 CRL-----\n",
        base64_lines(crl.as_ref())
    )
}
