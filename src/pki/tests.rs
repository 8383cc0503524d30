//! End-to-end tests of the PKI: generate one per key type, inspect it, write it, load it back
//! and run TLS and MTLS handshakes with it.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, ClientConfig, ServerConfig, SupportedProtocolVersion};
use rustls_pki_types::{PrivatePkcs1KeyDer, PrivateSec1KeyDer, ServerName};
use time::{Duration, OffsetDateTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::describe::parse_cert;
use super::write::{key_pem, pem_encode};
use super::*;

const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn server_config(
    identity: &Identity,
    client_roots: Option<RootCertStore>,
    version: &'static SupportedProtocolVersion,
) -> Arc<ServerConfig> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[version])
        .expect("protocol version");
    let builder = match client_roots {
        Some(roots) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    Arc::new(
        builder
            .with_single_cert(identity.chain.clone(), identity.key.clone_key())
            .expect("server cert"),
    )
}

fn client_config(
    roots: RootCertStore,
    identity: Option<&Identity>,
    version: &'static SupportedProtocolVersion,
) -> Arc<ClientConfig> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[version])
        .expect("protocol version")
        .with_root_certificates(roots);
    Arc::new(match identity {
        Some(id) => builder
            .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
            .expect("client cert"),
        None => builder.with_no_client_auth(),
    })
}

struct Outcome {
    client: Result<(), std::io::Error>,
    /// The client certificates the server saw, or the server's error.
    server: Result<Option<Vec<CertificateDer<'static>>>, std::io::Error>,
    version: Option<rustls::ProtocolVersion>,
}

/// One TLS connection over 127.0.0.1 with a ping/pong exchange.
async fn handshake(server: Arc<ServerConfig>, client: Arc<ClientConfig>, name: &str) -> Outcome {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let server_task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let mut tls = tokio_rustls::TlsAcceptor::from(server).accept(tcp).await?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"ping");
        tls.write_all(b"pong").await?;
        tls.flush().await?;
        let peer = tls.get_ref().1.peer_certificates().map(|c| c.to_vec());
        tls.shutdown().await.ok();
        Ok::<_, std::io::Error>(peer)
    });
    let server_name = ServerName::try_from(name.to_owned()).expect("server name");
    let mut version = None;
    let client_result = tokio::time::timeout(TIMEOUT, async {
        let tcp = TcpStream::connect(addr).await?;
        let mut tls = tokio_rustls::TlsConnector::from(client)
            .connect(server_name, tcp)
            .await?;
        version = tls.get_ref().1.protocol_version();
        tls.write_all(b"ping").await?;
        tls.flush().await?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"pong");
        Ok::<_, std::io::Error>(())
    })
    .await
    .expect("client timed out");
    let server_result = tokio::time::timeout(TIMEOUT, server_task)
        .await
        .expect("server timed out")
        .expect("server task panicked");
    Outcome {
        client: client_result,
        server: server_result,
        version,
    }
}

fn tls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

fn assert_ok(outcome: &Outcome, what: &str, version: &'static SupportedProtocolVersion) {
    assert!(outcome.client.is_ok(), "{what}: client failed: {:?}", outcome.client);
    assert!(outcome.server.is_ok(), "{what}: server failed: {:?}", outcome.server);
    assert_eq!(outcome.version, Some(version.version), "{what}: protocol version");
}

/// The handshake matrix of the brief, for one PKI and one protocol version.
async fn handshake_matrix(pki: &Pki, version: &'static SupportedProtocolVersion) {
    let v = format!("{} {:?}", pki.key_type, version.version);

    // (a) plain TLS to the SIP server, by DNS name and by IP address.
    let server = server_config(&pki.server, None, version);
    for name in [SERVER_DNS, "127.0.0.1", "::1"] {
        let out = handshake(server.clone(), client_config(pki.roots(), None, version), name).await;
        assert_ok(&out, &format!("{v}: server as {name}"), version);
        assert_eq!(out.server.as_ref().ok(), Some(&None), "{v}: no client cert expected");
    }

    // (b) MTLS: the edge server requires client certificates from both roots.
    let edge = server_config(&pki.edge, Some(pki.roots()), version);
    for (label, id) in [("edge", &pki.edge), ("partner", &pki.partner), ("client", &pki.client)] {
        let out = handshake(edge.clone(), client_config(pki.roots(), Some(id), version), EDGE_DNS).await;
        assert_ok(&out, &format!("{v}: MTLS with {label}"), version);
        let peer = out.server.as_ref().ok().cloned().flatten();
        assert_eq!(peer.as_deref(), Some(&id.chain[..]), "{v}: server saw the {label} cert");
    }
    // Partner as the MTLS server (federation, other direction).
    let partner = server_config(&pki.partner, Some(pki.roots()), version);
    let out = handshake(
        partner,
        client_config(pki.roots(), Some(&pki.edge), version),
        PARTNER_DNS,
    )
    .await;
    assert_ok(&out, &format!("{v}: edge to partner"), version);

    // An enterprise-only MTLS server rejects the federated partner.
    let strict = server_config(&pki.edge, Some(pki.enterprise_roots()), version);
    let out = handshake(
        strict,
        client_config(pki.roots(), Some(&pki.partner), version),
        EDGE_DNS,
    )
    .await;
    assert!(out.client.is_err(), "{v}: partner accepted without federation");
    let server_err = out.server.as_ref().err().and_then(tls_error);
    assert_eq!(
        server_err,
        Some(&rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)),
        "{v}: {:?}",
        out.server
    );

    // (c) wrong name.
    let out = handshake(
        server.clone(),
        client_config(pki.roots(), None, version),
        "other.example.test",
    )
    .await;
    let err = out.client.as_ref().err().and_then(tls_error);
    assert!(
        matches!(
            err,
            Some(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            ))
        ),
        "{v}: wrong name gave {:?}",
        out.client
    );

    // (d) a client trusting only the partner CA rejects the enterprise server.
    let partner_only = roots_from(std::slice::from_ref(&pki.partner_ca)).expect("partner roots");
    let out = handshake(server, client_config(partner_only, None, version), SERVER_DNS).await;
    let err = out.client.as_ref().err().and_then(tls_error);
    assert_eq!(
        err,
        Some(&rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)),
        "{v}: {:?}",
        out.client
    );
}

pub(super) fn serial(cert: &CertificateDer<'_>) -> Vec<u8> {
    parse_cert(cert, "test").expect("parse").raw_serial().to_vec()
}

fn all_certs(pki: &Pki) -> Vec<CertificateDer<'static>> {
    let mut certs = vec![pki.enterprise_ca.clone(), pki.partner_ca.clone(), pki.rogue_ca.clone()];
    for id in [&pki.server, &pki.edge, &pki.partner, &pki.client] {
        certs.extend(id.chain.iter().cloned());
    }
    for which in BadCert::ALL {
        certs.extend(pki.bad(which).chain.iter().cloned());
    }
    certs
}

/// Verifies `ee` as an MTLS client certificate against both trusted
/// roots and the given CRLs (webpki, as the server does).
pub(super) fn verify_client(
    pki: &Pki,
    crls: Vec<CertificateRevocationListDer<'static>>,
    ee: &CertificateDer<'_>,
) -> Result<(), rustls::Error> {
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(pki.roots()), provider())
        .with_crls(crls)
        .build()
        .expect("client verifier");
    verifier
        .verify_client_cert(ee, &[], rustls_pki_types::UnixTime::now())
        .map(|_| ())
}

/// Every bad certificate fails webpki verification (with the PKI's CRLs)
/// for its intended reason; the good ones pass.
fn check_webpki_verdicts(pki: &Pki) {
    let kt = pki.key_type;
    let crls = || vec![pki.enterprise_crl.clone(), pki.partner_crl.clone()];
    for (label, id) in [("edge", &pki.edge), ("partner", &pki.partner), ("client", &pki.client)] {
        assert_eq!(verify_client(pki, crls(), &id.chain[0]), Ok(()), "{kt}: {label}");
    }
    // Defects that webpki itself does not see (names, topology, domains).
    for which in [
        BadCert::WrongName,
        BadCert::NotInTopology,
        BadCert::PartnerClaimsEnterprise,
    ] {
        assert_eq!(
            verify_client(pki, crls(), &pki.bad(which).chain[0]),
            Ok(()),
            "{kt}: {which}"
        );
    }
    let err = |which: BadCert| verify_client(pki, crls(), &pki.bad(which).chain[0]).expect_err(which.as_str());
    use rustls::Error::InvalidCertificate as Invalid;
    let e = err(BadCert::Revoked);
    assert!(matches!(e, Invalid(CertificateError::Revoked)), "{kt}: revoked: {e:?}");
    let e = err(BadCert::Expired);
    assert!(
        matches!(
            e,
            Invalid(CertificateError::Expired | CertificateError::ExpiredContext { .. })
        ),
        "{kt}: expired: {e:?}"
    );
    let e = err(BadCert::NotYetValid);
    assert!(
        matches!(
            e,
            Invalid(CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. })
        ),
        "{kt}: not yet valid: {e:?}"
    );
    let e = err(BadCert::UntrustedCa);
    assert!(
        matches!(e, Invalid(CertificateError::UnknownIssuer)),
        "{kt}: untrusted CA: {e:?}"
    );
    // Without CRLs the revoked certificate is accepted: the CRL is what rejects it.
    assert_eq!(
        verify_client(pki, Vec::new(), &pki.bad(BadCert::Revoked).chain[0]),
        Ok(())
    );
}

/// Generate, inspect, write, load back, compare, handshake. One PKI per call.
async fn full_check(key_type: KeyType, versions: &[&'static SupportedProtocolVersion]) -> Pki {
    let pki = Pki::generate(key_type).expect("generate");
    assert_eq!(pki.key_type, key_type);

    // Key types, descriptions and unique serials.
    let certs = all_certs(&pki);
    for cert in &certs {
        assert_eq!(KeyType::of_certificate(cert), Some(key_type));
        assert_eq!(cert_key_description(cert), key_type.describe());
    }
    let mut serials: Vec<_> = certs.iter().map(serial).collect();
    serials.sort();
    serials.dedup();
    assert_eq!(serials.len(), certs.len(), "serials must be unique");

    // Names, issuers and validity.
    let now = OffsetDateTime::now_utc();
    let ca = summarize(&pki.enterprise_ca).expect("summary");
    assert_eq!(ca.subject, format!("CN={ENTERPRISE_CA_CN}, O={ORGANIZATION}"));
    assert_eq!(ca.issuer, ca.subject);
    assert!(ca.not_after - now > Duration::days(3649));
    assert_eq!(
        summarize(&pki.partner_ca).expect("summary").subject,
        format!("CN={PARTNER_CA_CN}, O={ORGANIZATION}")
    );
    let server = summarize(&pki.server.chain[0]).expect("summary");
    assert_eq!(server.dns_names, vec![SERVER_DNS.to_owned()]);
    assert_eq!(
        server.ip_addresses,
        vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)]
    );
    assert_eq!(server.issuer, ca.subject);
    assert_eq!(server.key, key_type.describe());
    assert!(server.not_before < now - Duration::minutes(59));
    assert!(server.not_after > now + Duration::days(29));
    assert!(server.not_after < now + Duration::days(31));
    let partner = summarize(&pki.partner.chain[0]).expect("summary");
    assert_eq!(partner.issuer, format!("CN={PARTNER_CA_CN}, O={ORGANIZATION}"));
    let client = summarize(&pki.client.chain[0]).expect("summary");
    assert_eq!(client.subject, format!("CN={CLIENT_CN}, O={ORGANIZATION}"));
    assert_eq!(client.dns_names, vec![CLIENT_DNS.to_owned()]);
    for id in [&pki.server, &pki.edge, &pki.partner, &pki.client] {
        assert_eq!(id.chain.len(), 1, "chains hold only the leaf");
    }

    // Write, load back, compare DER.
    let dir = tempfile::tempdir().expect("tempdir");
    let pki_dir = dir.path().join("pki");
    pki.write_to(&pki_dir).expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for name in [
            files::ENTERPRISE_CA_KEY,
            files::PARTNER_CA_KEY,
            files::SERVER_KEY,
            files::EDGE_KEY,
            files::PARTNER_KEY,
            files::CLIENT_KEY,
        ]
        .into_iter()
        .map(str::to_owned)
        .chain(BadCert::ALL.map(bad_key_file))
        {
            let mode = fs::metadata(pki_dir.join(&name)).expect("stat").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }
    assert!(
        !pki_dir.join("bad/rogue-ca.key").exists(),
        "the rogue CA key is not written"
    );
    let loaded = Pki::load(&pki_dir).expect("load");
    assert_eq!(loaded.key_type, key_type);
    assert_eq!(all_certs(&loaded), certs);
    assert_eq!(loaded.enterprise_crl, pki.enterprise_crl);
    assert_eq!(loaded.partner_crl, pki.partner_crl);
    assert_eq!(loaded.topology, DEFAULT_TOPOLOGY);
    for which in BadCert::ALL {
        assert_eq!(pki.bad(which).key.secret_der(), loaded.bad(which).key.secret_der());
    }
    check_webpki_verdicts(&pki);
    check_webpki_verdicts(&loaded);
    for (a, b) in [
        (&pki.server, &loaded.server),
        (&pki.edge, &loaded.edge),
        (&pki.partner, &loaded.partner),
        (&pki.client, &loaded.client),
    ] {
        assert_eq!(a.key.secret_der(), b.key.secret_der());
    }
    for (a, b) in [
        (pki.enterprise_issuer(), loaded.enterprise_issuer()),
        (pki.partner_issuer(), loaded.partner_issuer()),
    ] {
        let (a, b) = (a.expect("issuer"), b.expect("loaded issuer"));
        assert_eq!(a.key().serialized_der(), b.key().serialized_der());
    }
    let bundle = load_ca_bundle(&pki_dir.join(files::CA_BUNDLE)).expect("bundle");
    assert_eq!(bundle, vec![pki.enterprise_ca.clone(), pki.partner_ca.clone()]);
    assert_eq!(roots_from(&bundle).expect("roots").len(), 2);

    // Handshakes.
    for version in versions {
        handshake_matrix(&pki, version).await;
    }

    // A leaf issued by the reloaded CA (issuer rebuilt from the PEM files) verifies.
    let extra = loaded
        .issue_leaf(&["extra.example.test", "127.0.0.2"], false, true)
        .expect("issue after load");
    let summary = summarize(&extra.chain[0]).expect("summary");
    assert_eq!(summary.dns_names, vec!["extra.example.test".to_owned()]);
    assert_eq!(summary.ip_addresses, vec!["127.0.0.2".parse::<IpAddr>().expect("ip")]);
    let out = handshake(
        server_config(&extra, None, versions[0]),
        client_config(pki.enterprise_roots(), None, versions[0]),
        "extra.example.test",
    )
    .await;
    assert_ok(&out, "leaf issued after load", versions[0]);
    pki
}

const BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

#[tokio::test]
async fn ecdsa_p256_tls13_and_tls12() {
    let pki = full_check(KeyType::EcdsaP256, BOTH).await;

    // Issued leaves honour the requested EKUs: a serverAuth-only leaf
    // cannot be used as an MTLS client certificate.
    let server_only = pki.issue_leaf(&["svc.example.test"], false, true).expect("issue");
    let edge = server_config(&pki.edge, Some(pki.roots()), &rustls::version::TLS13);
    let out = handshake(
        edge.clone(),
        client_config(pki.roots(), Some(&server_only), &rustls::version::TLS13),
        EDGE_DNS,
    )
    .await;
    assert!(out.server.is_err(), "serverAuth-only leaf accepted as client");
    let both = pki.issue_leaf(&["peer.example.test"], true, true).expect("issue");
    let out = handshake(
        edge,
        client_config(pki.roots(), Some(&both), &rustls::version::TLS13),
        EDGE_DNS,
    )
    .await;
    assert_ok(&out, "issued MTLS leaf", &rustls::version::TLS13);

    // SEC1 ("EC PRIVATE KEY") keys load too.
    let dir = tempfile::tempdir().expect("tempdir");
    let sec1 = PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(sec1_from_pkcs8(
        pki.server.key.secret_der(),
        &OID_EC_P256_DER,
    )));
    let cert_path = dir.path().join("c.pem");
    let key_path = dir.path().join("k.pem");
    fs::write(&cert_path, pem_encode("CERTIFICATE", &pki.server.chain[0])).expect("write");
    fs::write(&key_path, key_pem(&sec1)).expect("write");
    assert!(
        fs::read_to_string(&key_path)
            .expect("read")
            .starts_with("-----BEGIN EC PRIVATE KEY-----")
    );
    let id = load_identity(&cert_path, &key_path).expect("SEC1 key");
    assert!(matches!(id.key, PrivateKeyDer::Sec1(_)));
    let out = handshake(
        server_config(&id, None, &rustls::version::TLS13),
        client_config(pki.roots(), None, &rustls::version::TLS13),
        SERVER_DNS,
    )
    .await;
    assert_ok(&out, "SEC1 server key", &rustls::version::TLS13);
}

#[tokio::test]
async fn ecdsa_p384_tls13_and_tls12() {
    full_check(KeyType::EcdsaP384, BOTH).await;
}

#[tokio::test]
async fn rsa2048_tls13_and_tls12() {
    let pki = full_check(KeyType::Rsa2048, BOTH).await;

    // PKCS#1 ("RSA PRIVATE KEY") keys load too.
    let dir = tempfile::tempdir().expect("tempdir");
    let pkcs1 = PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(
        pkcs8_inner(pki.server.key.secret_der()).expect("pkcs8").to_vec(),
    ));
    let cert_path = dir.path().join("c.pem");
    let key_path = dir.path().join("k.pem");
    fs::write(&cert_path, pem_encode("CERTIFICATE", &pki.server.chain[0])).expect("write");
    fs::write(&key_path, key_pem(&pkcs1)).expect("write");
    assert!(
        fs::read_to_string(&key_path)
            .expect("read")
            .starts_with("-----BEGIN RSA PRIVATE KEY-----")
    );
    let id = load_identity(&cert_path, &key_path).expect("PKCS#1 key");
    assert!(matches!(id.key, PrivateKeyDer::Pkcs1(_)));
    let out = handshake(
        server_config(&id, None, &rustls::version::TLS13),
        client_config(pki.roots(), None, &rustls::version::TLS13),
        SERVER_DNS,
    )
    .await;
    assert_ok(&out, "PKCS#1 server key", &rustls::version::TLS13);
}

#[tokio::test]
async fn rsa3072_tls13() {
    full_check(KeyType::Rsa3072, &[&rustls::version::TLS13]).await;
}

#[tokio::test]
async fn ed25519_tls13_and_tls12() {
    full_check(KeyType::Ed25519, BOTH).await;
}

// --- minimal DER helpers to derive PKCS#1 / SEC1 keys from PKCS#8 ---

/// DER of the prime256v1 OID (1.2.840.10045.3.1.7).
const OID_EC_P256_DER: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// One DER TLV: (tag, whole TLV, content, rest).
type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

/// Splits one DER TLV off `input`.
fn tlv(input: &[u8]) -> Option<Tlv<'_>> {
    let tag = *input.first()?;
    let first = *input.get(1)?;
    let (len, header) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        let bytes = input.get(2..2 + n)?;
        (bytes.iter().fold(0usize, |acc, b| acc << 8 | *b as usize), 2 + n)
    };
    let end = header.checked_add(len)?;
    Some((tag, input.get(..end)?, input.get(header..end)?, input.get(end..)?))
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}

/// The privateKey OCTET STRING content of a PKCS#8 PrivateKeyInfo.
fn pkcs8_inner(pkcs8: &[u8]) -> Option<&[u8]> {
    let (_, _, body, _) = tlv(pkcs8)?;
    let (_, _, _, rest) = tlv(body)?; // version
    let (_, _, _, rest) = tlv(rest)?; // algorithm
    let (tag, _, key, _) = tlv(rest)?;
    (tag == 0x04).then_some(key)
}

/// A SEC1 ECPrivateKey with explicit curve parameters from a PKCS#8 EC key.
fn sec1_from_pkcs8(pkcs8: &[u8], curve_oid: &[u8]) -> Vec<u8> {
    let inner = pkcs8_inner(pkcs8).expect("pkcs8");
    let (_, _, body, _) = tlv(inner).expect("ECPrivateKey");
    let (_, version, _, rest) = tlv(body).expect("version");
    let (_, private, _, mut rest) = tlv(rest).expect("privateKey");
    let mut content = [version, private].concat();
    content.extend(der(0xa0, curve_oid));
    while let Some((tag, whole, _, next)) = tlv(rest) {
        if tag == 0xa1 {
            content.extend_from_slice(whole);
        }
        rest = next;
    }
    der(0x30, &content)
}
