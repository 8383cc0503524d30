//! What a deployment's TLS listener looks like: its certificate chain (issuer, names, expiry, key
//! type), the protocol versions and cipher suites it accepts, whether it asks for a client
//! certificate, and whether sipbench's trust accepts it.
//!
//! The probe records the chain with a verifier that checks the handshake signatures but not the
//! chain, so that an untrusted server can still be described; the verdict comes from the real
//! trust verifier run on the recorded chain afterwards. It is used for reporting only, never for
//! a session that carries SIP.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::ResolvesClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::pki;
use crate::tls::{self, Versions};
use crate::trust::Trust;

/// One certificate of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertInfo {
    /// Subject (RFC 4514).
    pub subject: String,
    /// Issuer (RFC 4514).
    pub issuer: String,
    /// subjectAltName DNS names.
    pub dns_names: Vec<String>,
    /// subjectAltName IP addresses.
    pub ip_addresses: Vec<String>,
    /// Start of validity (RFC 3339).
    pub not_before: String,
    /// End of validity (RFC 3339).
    pub not_after: String,
    /// Whole days from the evaluation time to the end of validity (negative: expired).
    pub days_left: i64,
    /// Public key, e.g. `ECDSA P-256`.
    pub key: String,
}

/// Whether the server accepted one protocol version or cipher suite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// Version (`TLSv1_3`) or suite (`TLS13_AES_128_GCM_SHA256`) name.
    pub name: String,
    /// The server picked it when it was the only one offered.
    pub accepted: bool,
}

/// The description of one listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Address probed.
    pub addr: String,
    /// Name sent as SNI and checked against the certificate.
    pub server_name: String,
    /// The chain the server presented, leaf first.
    pub chain: Vec<CertInfo>,
    /// `trusted`, or why sipbench's trust refuses the chain for this name.
    pub verdict: String,
    /// Protocol versions, each offered alone.
    pub versions: Vec<Offer>,
    /// Cipher suites this backend has, each offered alone.
    pub cipher_suites: Vec<Offer>,
    /// Key exchange group of the first successful handshake.
    pub kx_group: Option<String>,
    /// The server sent a CertificateRequest.
    pub requests_client_certificate: bool,
    /// The CA names it listed as acceptable for client certificates.
    pub client_ca_hints: Vec<String>,
}

#[derive(Debug, Default)]
struct Seen {
    chain: Option<Vec<CertificateDer<'static>>>,
    asked: bool,
    hints: Vec<String>,
}

#[derive(Debug)]
struct Recorder {
    seen: Arc<Mutex<Seen>>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).chain = Some(chain);
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[derive(Debug)]
struct AskedForCert(Arc<Mutex<Seen>>);

impl ResolvesClientCert for AskedForCert {
    fn resolve(&self, root_hint_subjects: &[&[u8]], _sigschemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.asked = true;
        seen.hints = root_hint_subjects
            .iter()
            .map(|dn| {
                use x509_parser::prelude::FromDer;
                x509_parser::x509::X509Name::from_der(dn)
                    .map_or_else(|_| "(unparseable)".to_owned(), |(_, n)| n.to_string())
            })
            .collect();
        None
    }
    fn has_certs(&self) -> bool {
        false
    }
}

/// One handshake offering only `suite` (and its version): what the server showed.
async fn handshake(
    addr: SocketAddr,
    name: &ServerName<'static>,
    provider: &Arc<CryptoProvider>,
    suite: rustls::SupportedCipherSuite,
) -> anyhow::Result<(Seen, Option<String>)> {
    let provider = Arc::new(CryptoProvider {
        cipher_suites: vec![suite],
        ..(**provider).clone()
    });
    let version = match suite {
        rustls::SupportedCipherSuite::Tls13(_) => Versions::Tls13,
        rustls::SupportedCipherSuite::Tls12(_) => Versions::Tls12,
    };
    let seen = Arc::new(Mutex::new(Seen::default()));
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(crate::tls::rustls_stack::version_list(version))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Recorder {
            seen: seen.clone(),
            algorithms: provider.signature_verification_algorithms,
        }))
        .with_client_cert_resolver(Arc::new(AskedForCert(seen.clone())));
    let tcp = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr)).await??;
    let connected = tokio::time::timeout(
        Duration::from_secs(5),
        TlsConnector::from(Arc::new(config)).connect(name.clone(), tcp),
    )
    .await;
    let kx = match &connected {
        Ok(Ok(s)) => s
            .get_ref()
            .1
            .negotiated_key_exchange_group()
            .and_then(|g| g.name().as_str().map(str::to_owned)),
        _ => None,
    };
    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|p| p.into_inner()));
    Ok((seen, kx))
}

/// Probes the TLS listener at `addr` as `name`, judging its chain with `trust`.
pub async fn probe(
    addr: SocketAddr,
    name: &str,
    trust: &Trust,
    provider: &Arc<CryptoProvider>,
) -> anyhow::Result<Report> {
    let server_name = ServerName::try_from(name.to_owned())?;
    let mut report = Report {
        addr: addr.to_string(),
        server_name: name.to_owned(),
        chain: Vec::new(),
        verdict: "no certificate seen".into(),
        versions: Vec::new(),
        cipher_suites: Vec::new(),
        kx_group: None,
        requests_client_certificate: false,
        client_ca_hints: Vec::new(),
    };
    let mut chain = None;
    for suite in provider.cipher_suites.iter().copied() {
        let (seen, kx) = handshake(addr, &server_name, provider, suite).await?;
        let accepted = seen.chain.is_some();
        report.cipher_suites.push(Offer {
            name: suite.suite().as_str().unwrap_or("unknown").to_owned(),
            accepted,
        });
        let version = suite.version().version.as_str().unwrap_or("unknown").to_owned();
        match report.versions.iter_mut().find(|o| o.name == version) {
            Some(o) => o.accepted |= accepted,
            None => report.versions.push(Offer {
                name: version,
                accepted,
            }),
        }
        report.requests_client_certificate |= seen.asked;
        if seen.asked && report.client_ca_hints.is_empty() {
            report.client_ca_hints = seen.hints;
        }
        if report.kx_group.is_none() {
            report.kx_group = kx;
        }
        if chain.is_none() {
            chain = seen.chain;
        }
    }
    if let Some(chain) = chain {
        let now = trust.evaluation_time().unwrap_or_else(UnixTime::now);
        for cert in &chain {
            let s = pki::summarize(cert)?;
            let at = time::OffsetDateTime::from_unix_timestamp(now.as_secs() as i64)?;
            let rfc = |t: time::OffsetDateTime| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_else(|_| t.to_string())
            };
            report.chain.push(CertInfo {
                subject: s.subject,
                issuer: s.issuer,
                dns_names: s.dns_names,
                ip_addresses: s.ip_addresses.iter().map(|ip| ip.to_string()).collect(),
                not_before: rfc(s.not_before),
                not_after: rfc(s.not_after),
                days_left: (s.not_after - at).whole_days(),
                key: s.key,
            });
        }
        let tls_only = trust.without_topology().verifier(provider)?;
        let full = trust.verifier(provider)?;
        let now = UnixTime::now();
        report.verdict = match tls_only.verify_server(&chain[0], &chain[1..], &server_name, now) {
            Ok(_) => match full.verify_server(&chain[0], &chain[1..], &server_name, now) {
                Ok(Some(entry)) => format!("trusted ({} in the topology)", entry.role.as_str()),
                Ok(None) => "trusted".into(),
                Err(e) => format!(
                    "trusted for TLS; not a trusted server: {}",
                    crate::audit::reason(&tls::classify_tls(&e))
                ),
            },
            Err(e) => format!("refused: {}", crate::audit::reason(&tls::classify_tls(&e))),
        };
    }
    Ok(report)
}
