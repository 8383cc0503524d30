//! The enterprise trust model, enforced on both ends of a connection.
//!
//! A [`Trust`] is the set of CAs a deployment trusts, each with its CRLs and the domains it may
//! vouch for (federation: a partner's root is trusted for the partner's names only), plus the
//! topology of trusted servers. [`TrustVerifier`] is the rustls certificate verifier for both
//! roles built from it:
//!
//! 1. the CA that issued the chain is found by issuer name; none is `unknown-issuer`;
//! 2. webpki checks the chain to that CA alone, the validity period (at [`Trust::at`] when set,
//!    for auditing ahead of time), the key usage, revocation against that CA's CRLs, and for a
//!    server the dialed name;
//! 3. every DNS name in the certificate must be inside the CA's domains, or the certificate is
//!    refused as `ca-not-trusted-for-name`.
//!
//! The topology check comes after the handshake ([`Trust::check_topology`]): a server-to-server
//! peer whose certificate names no trusted server issued by the CA the topology requires is
//! refused as `not-in-topology`.
//!
//! OCSP is not implemented: a stapled response is neither sent nor checked.

pub mod topology;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, ServerName, UnixTime};
use x509_parser::prelude::FromDer;

use crate::pki::{self, PkiError};
pub use topology::{CrlExpiry, RevocationMode, ServerEntry, ServerRole, TopologyError, TopologyFile};

/// Why a certificate that webpki accepted is refused by the trust model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The certificate names a host outside the domains its CA may vouch for (federation).
    #[error("CA `{ca}` may not vouch for {name} (its domains: {domains})")]
    CaNotTrustedForName {
        /// The issuing CA.
        ca: String,
        /// The offending name.
        name: String,
        /// The CA's domains.
        domains: String,
    },
    /// A valid certificate whose names are not a trusted server of the topology (for the CA
    /// that issued it).
    #[error("{subject} (names: {names}) is not a trusted server in the topology")]
    NotInTopology {
        /// The certificate's subject.
        subject: String,
        /// Its DNS names.
        names: String,
    },
}

impl Refusal {
    /// The reason as counted: `ca-not-trusted-for-name` or `not-in-topology`.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::CaNotTrustedForName { .. } => "ca-not-trusted-for-name",
            Refusal::NotInTopology { .. } => "not-in-topology",
        }
    }

    fn into_rustls(self) -> rustls::Error {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(self))))
    }
}

/// Trust configuration that cannot be used; the message names the file or field.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The topology file is invalid.
    #[error("{path}: {source}")]
    Topology {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: TopologyError,
    },
    /// A file it names could not be read or parsed.
    #[error("{context}: {source}")]
    File {
        /// Which entry.
        context: String,
        /// The error, naming the file.
        #[source]
        source: PkiError,
    },
    /// A CA certificate or CRL was refused when building the verifiers.
    #[error("CA `{ca}`: {reason}")]
    Verifier {
        /// The CA.
        ca: String,
        /// What rustls reported.
        reason: String,
    },
    /// Anything else (reading the topology file itself, an empty trust store).
    #[error("{0}")]
    Other(String),
}

/// One trusted CA.
#[derive(Clone)]
pub struct TrustedCa {
    /// Its name in the topology.
    pub name: String,
    /// Its certificate (trust anchor).
    pub cert: CertificateDer<'static>,
    /// Its CRLs (empty when revocation checking is off).
    pub crls: Vec<CertificateRevocationListDer<'static>>,
    /// The domains it may vouch for (empty: any name).
    pub domains: Vec<String>,
    subject: Vec<u8>,
}

impl fmt::Debug for TrustedCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedCa")
            .field("name", &self.name)
            .field("crls", &self.crls.len())
            .field("domains", &self.domains)
            .finish()
    }
}

impl TrustedCa {
    /// A CA from its certificate; fails if the certificate does not parse.
    pub fn new(
        name: impl Into<String>,
        cert: CertificateDer<'static>,
        crls: Vec<CertificateRevocationListDer<'static>>,
        domains: Vec<String>,
    ) -> Result<TrustedCa, TrustError> {
        let name = name.into();
        let subject = match x509_parser::certificate::X509Certificate::from_der(cert.as_ref()) {
            Ok((_, x)) => x.subject().as_raw().to_vec(),
            Err(e) => {
                return Err(TrustError::Verifier {
                    ca: name,
                    reason: format!("certificate does not parse: {e}"),
                });
            }
        };
        Ok(TrustedCa {
            name,
            cert,
            crls,
            domains,
            subject,
        })
    }
}

/// The trusted CAs, the revocation policy, the topology and the evaluation time.
#[derive(Debug, Clone)]
pub struct Trust {
    cas: Vec<TrustedCa>,
    topology: Option<TopologyFile>,
    crl_expiry: CrlExpiry,
    at: Option<UnixTime>,
}

impl Trust {
    /// Trust built from a topology file's contents and its CAs (in the file's order, CRLs
    /// already read). With `revocation = "off"` the CRLs are dropped.
    pub fn new(file: &TopologyFile, cas: Vec<TrustedCa>) -> Trust {
        let cas = cas
            .into_iter()
            .map(|mut ca| {
                if file.revocation == RevocationMode::Off {
                    ca.crls.clear();
                }
                ca
            })
            .collect();
        Trust {
            cas,
            topology: Some(file.clone()),
            crl_expiry: file.crl_expiry,
            at: None,
        }
    }

    /// Reads a topology file and every certificate and CRL it names.
    pub fn load(path: &Path) -> Result<Trust, TrustError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| TrustError::Other(format!("reading topology {}: {e}", path.display())))?;
        let file = TopologyFile::parse(&text).map_err(|source| TrustError::Topology {
            path: path.to_owned(),
            source,
        })?;
        let file = file.resolve(path.parent().unwrap_or(Path::new(".")));
        let mut cas = Vec::new();
        for (i, entry) in file.ca.iter().enumerate() {
            let context = |what: &str| format!("{} ca[{i}] `{}` {what}", path.display(), entry.name);
            let certs = pki::load_ca_bundle(&entry.cert).map_err(|source| TrustError::File {
                context: context("cert"),
                source,
            })?;
            let crls = match (&entry.crl, file.revocation) {
                (Some(crl), RevocationMode::Crl) => pki::load_crls(crl).map_err(|source| TrustError::File {
                    context: context("crl"),
                    source,
                })?,
                _ => Vec::new(),
            };
            let cert = certs.into_iter().next().ok_or_else(|| {
                TrustError::Other(format!(
                    "{}: no certificate in {}",
                    context("cert"),
                    entry.cert.display()
                ))
            })?;
            cas.push(TrustedCa::new(entry.name.clone(), cert, crls, entry.domains.clone())?);
        }
        Ok(Trust::new(&file, cas))
    }

    /// The trust of a generated PKI with its default topology ([`pki::DEFAULT_TOPOLOGY`]): the
    /// Enterprise CA for `example.test`, the Partner CA for `partner.example.test`, both CRLs,
    /// and the front end, edge and partner edge as trusted servers.
    pub fn for_pki(pki: &pki::Pki) -> Result<Trust, TrustError> {
        Trust::for_pki_with(pki, RevocationMode::Crl)
    }

    /// As [`Trust::for_pki`], with revocation checking as given.
    pub fn for_pki_with(pki: &pki::Pki, revocation: RevocationMode) -> Result<Trust, TrustError> {
        let mut file = TopologyFile::parse(pki::DEFAULT_TOPOLOGY).map_err(|source| TrustError::Topology {
            path: "(built-in topology)".into(),
            source,
        })?;
        file.revocation = revocation;
        let mut cas = Vec::new();
        for entry in &file.ca {
            let (cert, crl) = match entry.name.as_str() {
                "enterprise" => (&pki.enterprise_ca, &pki.enterprise_crl),
                "partner" => (&pki.partner_ca, &pki.partner_crl),
                other => return Err(TrustError::Other(format!("built-in topology: unknown CA {other}"))),
            };
            cas.push(TrustedCa::new(
                entry.name.clone(),
                cert.clone(),
                vec![crl.clone()],
                entry.domains.clone(),
            )?);
        }
        Ok(Trust::new(&file, cas))
    }

    /// Plain trust in a CA bundle: any name, no revocation checking, no topology (what
    /// `--ca FILE` gives).
    pub fn from_cas(certs: &[CertificateDer<'static>]) -> Result<Trust, TrustError> {
        if certs.is_empty() {
            return Err(TrustError::Other("the CA bundle holds no certificate".into()));
        }
        let cas = certs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let name = pki::summarize(c).map_or_else(|_| format!("ca{i}"), |s| s.subject);
                TrustedCa::new(name, c.clone(), Vec::new(), Vec::new())
            })
            .collect::<Result<_, _>>()?;
        Ok(Trust {
            cas,
            topology: None,
            crl_expiry: CrlExpiry::Ignore,
            at: None,
        })
    }

    /// Evaluates validity (certificates and CRLs) at `at` instead of the current time.
    pub fn at(mut self, at: Option<UnixTime>) -> Trust {
        self.at = at;
        self
    }

    /// The evaluation time, when fixed.
    pub fn evaluation_time(&self) -> Option<UnixTime> {
        self.at
    }

    /// One line for reports: the CAs, whether CRLs are checked, the topology, the evaluation
    /// time, e.g. `2 CAs scoped to domains, CRLs checked, 3 trusted servers`.
    pub fn describe(&self) -> String {
        let scoped = self.cas.iter().any(|c| !c.domains.is_empty());
        let mut parts = vec![format!(
            "{} CA{}{}",
            self.cas.len(),
            if self.cas.len() == 1 { "" } else { "s" },
            if scoped { " scoped to domains" } else { "" }
        )];
        parts.push(if self.cas.iter().any(|c| !c.crls.is_empty()) {
            format!(
                "CRLs checked{}",
                if self.crl_expiry == CrlExpiry::Enforce {
                    " (expiry enforced)"
                } else {
                    ""
                }
            )
        } else {
            "no revocation checks".into()
        });
        if let Some(t) = &self.topology {
            parts.push(format!("{} trusted servers (MTLS)", t.server.len()));
        }
        if let Some(at) = self.at {
            parts.push(format!("validity at {}", format_time(at)));
        }
        parts.join(", ")
    }

    /// What happens to a CRL past its `nextUpdate`.
    pub fn crl_expiry(&self) -> CrlExpiry {
        self.crl_expiry
    }

    /// The CA scope rule: every DNS name of the chain's leaf must be inside the domains of the
    /// CA that issued the chain. A chain from no trusted CA passes here (the chain check refuses
    /// it).
    pub fn check_scope(&self, chain: &[CertificateDer<'_>]) -> Result<(), Refusal> {
        match (self.issuing_ca(chain), chain.first()) {
            (Some(ca), Some(leaf)) => Self::ca_scope(ca, leaf),
            _ => Ok(()),
        }
    }

    /// The CA scope rule for a leaf `ca` issued.
    fn ca_scope(ca: &TrustedCa, leaf: &CertificateDer<'_>) -> Result<(), Refusal> {
        if ca.domains.is_empty() {
            return Ok(());
        }
        let refuse = |name: String| Refusal::CaNotTrustedForName {
            ca: ca.name.clone(),
            name,
            domains: ca.domains.join(", "),
        };
        let facts = facts(leaf).ok_or_else(|| refuse("(unparseable certificate)".into()))?;
        match facts.dns_names.iter().find(|n| !topology::in_domains(n, &ca.domains)) {
            Some(name) => Err(refuse(name.clone())),
            None => Ok(()),
        }
    }

    /// The trusted CAs.
    pub fn cas(&self) -> &[TrustedCa] {
        &self.cas
    }

    /// The topology, when one is configured.
    pub fn topology(&self) -> Option<&TopologyFile> {
        self.topology.as_ref()
    }

    /// The same trust without the topology check (TLS client-to-server verification).
    pub fn without_topology(&self) -> Trust {
        Trust {
            topology: None,
            ..self.clone()
        }
    }

    /// All CA certificates as a root store.
    pub fn roots(&self) -> RootCertStore {
        let mut store = RootCertStore::empty();
        store.add_parsable_certificates(self.cas.iter().map(|c| c.cert.clone()));
        store
    }

    /// The trusted CA that issued `chain` (leaf first), by issuer name; the signature is
    /// checked by the verifier, not here.
    pub fn issuing_ca(&self, chain: &[CertificateDer<'_>]) -> Option<&TrustedCa> {
        chain.iter().find_map(|cert| {
            let facts = facts(cert)?;
            self.cas.iter().find(|ca| ca.subject == facts.issuer)
        })
    }

    /// The topology check for an authenticated server-to-server peer: `Ok(Some(entry))` for a
    /// trusted server, `Ok(None)` when no topology is configured.
    pub fn check_topology(&self, chain: &[CertificateDer<'_>]) -> Result<Option<&ServerEntry>, Refusal> {
        let Some(topology) = &self.topology else {
            return Ok(None);
        };
        let refuse = |subject: String, names: &[String]| Refusal::NotInTopology {
            subject,
            names: if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            },
        };
        let Some(leaf) = chain.first() else {
            return Err(refuse("(no certificate)".into(), &[]));
        };
        let summary = facts(leaf).ok_or_else(|| refuse("(unparseable certificate)".into(), &[]))?;
        let ca = self.issuing_ca(chain).map(|c| c.name.as_str()).unwrap_or("");
        summary
            .dns_names
            .iter()
            .find_map(|n| topology.server(n, ca))
            .map(Some)
            .ok_or_else(|| refuse(summary.subject.clone(), &summary.dns_names))
    }

    /// The rustls verifier for both roles.
    pub fn verifier(&self, provider: &Arc<CryptoProvider>) -> Result<Arc<TrustVerifier>, TrustError> {
        TrustVerifier::new(self, provider).map(Arc::new)
    }
}

/// What the trust checks need from a certificate.
#[derive(Debug)]
struct CertFacts {
    issuer: Vec<u8>,
    subject: String,
    dns_names: Vec<String>,
}

/// The facts of `cert`, parsed once per thread and certificate: a benchmark sees the same few
/// certificates on every handshake, and parsing one costs more than the rest of these checks.
fn facts(cert: &CertificateDer<'_>) -> Option<Arc<CertFacts>> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    thread_local! {
        static CACHE: RefCell<HashMap<Vec<u8>, Arc<CertFacts>>> = RefCell::new(HashMap::new());
    }
    if let Some(hit) = CACHE.with(|c| c.borrow().get(cert.as_ref()).cloned()) {
        return Some(hit);
    }
    let (_, x) = x509_parser::certificate::X509Certificate::from_der(cert.as_ref()).ok()?;
    let dns_names = match x.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                x509_parser::extensions::GeneralName::DNSName(d) => Some((*d).to_owned()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let facts = Arc::new(CertFacts {
        issuer: x.issuer().as_raw().to_vec(),
        subject: x.subject().to_string(),
        dns_names,
    });
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        // Bounded: a run with many distinct certificates starts the cache afresh.
        if c.len() >= 4096 {
            c.clear();
        }
        c.insert(cert.as_ref().to_vec(), facts.clone());
    });
    Some(facts)
}

/// Parses `--at`: RFC 3339 (`2027-01-31T12:00:00Z`) or a date (`2027-01-31`, midnight UTC).
pub fn parse_at(s: &str) -> Result<UnixTime, String> {
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_owned()
    };
    let t = humantime::parse_rfc3339_weak(&full)
        .map_err(|e| format!("`{s}` is not a time (write 2027-01-31 or 2027-01-31T12:00:00Z): {e}"))?;
    let since = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| format!("`{s}` is before 1970"))?;
    Ok(UnixTime::since_unix_epoch(since))
}

/// Formats a [`UnixTime`] as RFC 3339.
pub fn format_time(t: UnixTime) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_secs(t.as_secs())).to_string()
}

/// The certificate verifier of the trust model, for servers (checking clients) and clients
/// (checking servers). See the module docs for the checks.
pub struct TrustVerifier {
    trust: Trust,
    servers: Vec<Arc<WebPkiServerVerifier>>,
    clients: Vec<Arc<dyn ClientCertVerifier>>,
    hints: Vec<DistinguishedName>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl fmt::Debug for TrustVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustVerifier").field("trust", &self.trust).finish()
    }
}

impl TrustVerifier {
    fn new(trust: &Trust, provider: &Arc<CryptoProvider>) -> Result<TrustVerifier, TrustError> {
        let mut servers = Vec::new();
        let mut clients = Vec::new();
        for ca in &trust.cas {
            let err = |e: &dyn fmt::Display| TrustError::Verifier {
                ca: ca.name.clone(),
                reason: e.to_string(),
            };
            let mut roots = RootCertStore::empty();
            roots.add(ca.cert.clone()).map_err(|e| err(&e))?;
            let roots = Arc::new(roots);
            let mut s = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
                .with_crls(ca.crls.iter().cloned());
            let mut c =
                WebPkiClientVerifier::builder_with_provider(roots, provider.clone()).with_crls(ca.crls.iter().cloned());
            if trust.crl_expiry == CrlExpiry::Enforce {
                s = s.enforce_revocation_expiration();
                c = c.enforce_revocation_expiration();
            }
            servers.push(s.build().map_err(|e| err(&e))?);
            clients.push(c.build().map_err(|e| err(&e))?);
        }
        Ok(TrustVerifier {
            hints: trust.roots().subjects(),
            trust: trust.clone(),
            servers,
            clients,
            algorithms: provider.signature_verification_algorithms,
        })
    }

    /// The trust this verifier enforces.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    fn pick(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> Result<usize, rustls::Error> {
        let chain: Vec<CertificateDer<'_>> = std::iter::once(end_entity.clone())
            .chain(intermediates.iter().cloned())
            .collect();
        let ca = self
            .trust
            .issuing_ca(&chain)
            .ok_or(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer))?;
        Ok(self
            .trust
            .cas
            .iter()
            .position(|c| std::ptr::eq(c, ca))
            .expect("found in this list"))
    }

    /// The CA scope rule, for the CA [`TrustVerifier::pick`] found.
    fn scope(&self, ca: usize, end_entity: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        Trust::ca_scope(&self.trust.cas[ca], end_entity).map_err(Refusal::into_rustls)
    }

    fn now(&self, now: UnixTime) -> UnixTime {
        self.trust.at.unwrap_or(now)
    }
}

impl ServerCertVerifier for TrustVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let ca = self.pick(end_entity, intermediates)?;
        let ok = self.servers[ca].verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            self.now(now),
        )?;
        self.scope(ca, end_entity)?;
        Ok(ok)
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

impl ClientCertVerifier for TrustVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let ca = self.pick(end_entity, intermediates)?;
        let ok = self.clients[ca].verify_client_cert(end_entity, intermediates, self.now(now))?;
        self.scope(ca, end_entity)?;
        Ok(ok)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{BadCert, CaName, KeyType, Pki};

    fn verify_edge(trust: &Trust, pki: &Pki) -> Result<(), rustls::Error> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let v = trust.verifier(&provider).unwrap();
        let leaf = pki.edge.leaf().unwrap();
        ClientCertVerifier::verify_client_cert(&*v, leaf, &[], UnixTime::now()).map(|_| ())
    }

    #[test]
    fn crl_expiry_is_enforced_only_when_asked_and_at_moves_the_clock() {
        let pki = Pki::generate(KeyType::EcdsaP256).unwrap();
        let now = time::OffsetDateTime::now_utc();
        let stale = pki
            .crl(
                CaName::Enterprise,
                &[pki.bad(BadCert::Revoked).leaf().unwrap()],
                now - time::Duration::days(10),
                now - time::Duration::days(3),
                9,
            )
            .unwrap();
        let mut file = TopologyFile::parse(pki::DEFAULT_TOPOLOGY).unwrap();
        let cas = |crl: &CertificateRevocationListDer<'static>| {
            vec![
                TrustedCa::new(
                    "enterprise",
                    pki.enterprise_ca.clone(),
                    vec![crl.clone()],
                    vec!["example.test".into()],
                )
                .unwrap(),
                TrustedCa::new(
                    "partner",
                    pki.partner_ca.clone(),
                    vec![pki.partner_crl.clone()],
                    vec!["partner.example.test".into()],
                )
                .unwrap(),
            ]
        };
        assert_eq!(verify_edge(&Trust::new(&file, cas(&stale)), &pki), Ok(()));
        file.crl_expiry = CrlExpiry::Enforce;
        let err = verify_edge(&Trust::new(&file, cas(&stale)), &pki).unwrap_err();
        assert_eq!(tls_reason(&err), "expired-revocation-list");
        // The fresh CRL passes today, and fails when evaluated after its nextUpdate (7 days).
        let trust = Trust::new(&file, cas(&pki.enterprise_crl));
        assert_eq!(verify_edge(&trust, &pki), Ok(()));
        let later = parse_at(&format_time(UnixTime::since_unix_epoch(Duration::from_secs(
            (now + time::Duration::days(8)).unix_timestamp() as u64,
        ))))
        .unwrap();
        let err = verify_edge(&trust.at(Some(later)), &pki).unwrap_err();
        assert_eq!(tls_reason(&err), "expired-revocation-list");
    }

    fn tls_reason(e: &rustls::Error) -> String {
        crate::audit::reason(&crate::tls::classify_tls(e))
    }

    #[test]
    fn at_parses_dates_and_rfc3339_and_names_the_problem() {
        assert_eq!(parse_at("2027-01-31").unwrap().as_secs(), 1_801_353_600);
        assert_eq!(parse_at("2027-01-31T00:00:10Z").unwrap().as_secs(), 1_801_353_610);
        assert!(parse_at("tomorrow").unwrap_err().contains("`tomorrow` is not a time"));
        assert_eq!(format_time(parse_at("2027-01-31").unwrap()), "2027-01-31T00:00:00Z");
    }

    #[test]
    fn a_missing_crl_file_is_an_error_naming_the_ca() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::generate(KeyType::EcdsaP256).unwrap();
        pki.write_to(dir.path()).unwrap();
        std::fs::remove_file(dir.path().join(pki::files::PARTNER_CRL)).unwrap();
        let err = Trust::load(&dir.path().join(pki::files::TOPOLOGY))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ca[1] `partner` crl") && err.contains("partner-ca.crl"),
            "{err}"
        );
        assert!(
            Trust::load(&dir.path().join("nope.toml"))
                .unwrap_err()
                .to_string()
                .contains("nope.toml")
        );
    }
}
