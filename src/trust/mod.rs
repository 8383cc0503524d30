//! The enterprise trust model, enforced on both ends of a connection and on both TLS stacks.
//!
//! A [`Trust`] is the set of CAs a deployment trusts, each ([`TrustedCa`], one `[[ca]]` of the
//! topology file) with its certificates (a root, issuing CAs, or both), its CRLs, the domains
//! and address ranges it may vouch for (federation: a partner's root is trusted for the
//! partner's names only), plus the topology of trusted servers.
//!
//! # What is checked, in order
//!
//! 1. **The chain**, by the TLS stack's own path validator (webpki for rustls, `X509_verify_cert`
//!    for OpenSSL): signatures up to a self-signed root of the trust, validity periods (at
//!    [`Trust::at`] when set), basic constraints and path lengths, name constraints, key
//!    usage, revocation of the leaf and of every issuing CA against the CRL of the CA that
//!    issued it, and for a server the dialed name (DNS or IP subject alternative names only).
//!    With rustls the CRLs and the root's own validity are checked here ([`TrustVerifier`]),
//!    on each candidate path, so that of two roots with one subject name the one whose key
//!    verifies the chain is the one whose CRL counts.
//! 2. **Which CAs vouch**: the CA certificates on the verified path, identified by subject name
//!    *and* public key, never by name alone.
//! 3. **The names**, read once and strictly ([`names`]): a certificate whose subjectAltName
//!    cannot be read completely is refused as `unparseable-name`.
//! 4. **The scope** of every CA entry on the path: each DNS name inside its `domains`
//!    (`ca-not-trusted-for-name`), each IP name inside its `addresses`
//!    (`ca-not-trusted-for-address`; a CA with domains and no addresses vouches for none).
//! 5. **The topology**, for server-to-server peers when the trust has one: some DNS name of the
//!    certificate is a trusted server whose `ca` is one of the CA entries on the path
//!    (`not-in-topology`). It runs inside the handshake, on both stacks and both roles, so a
//!    refused peer gets no session ticket and no application data is read or written.
//!
//! Steps 2 to 5 are [`Trust::authorize`], shared by both stacks.
//!
//! # What is checked when loading
//!
//! Every certificate of a CA file must be a CA (basicConstraints cA, keyCertSign when key usage
//! is present); an issuing CA must be signed by a CA of the trust; every CRL must be signed by a
//! CA of its entry (which must have cRLSign) and parse as a complete, direct CRL; with
//! revocation on, every CA certificate of an entry with CRLs has one. A file that fails is an
//! error naming it, and a reload that fails keeps the running configuration.
//!
//! OCSP is not implemented: a stapled response is neither sent nor checked.

pub mod names;
pub mod topology;
mod verifier;

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::{CertificateError, OtherError};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};
use x509_parser::prelude::FromDer;

pub use names::{CertNames, NameError};
pub use topology::{CrlExpiry, IpRange, RevocationMode, ServerEntry, ServerRole, TopologyError, TopologyFile};
pub use verifier::TrustVerifier;

use crate::pki::{self, PkiError};

/// Why a certificate that the path validator accepted is refused by the trust model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The certificate's names cannot be read completely.
    #[error("{subject}: the subjectAltName cannot be read ({reason})")]
    UnparseableName {
        /// The certificate's subject.
        subject: String,
        /// What is wrong.
        reason: String,
    },
    /// The certificate names a host outside the domains a CA on its path may vouch for.
    #[error("CA `{ca}` may not vouch for {name} (its domains: {domains})")]
    CaNotTrustedForName {
        /// The CA entry.
        ca: String,
        /// The offending name.
        name: String,
        /// The CA's domains.
        domains: String,
    },
    /// The certificate names an IP address outside the ranges a CA on its path may vouch for.
    #[error("CA `{ca}` may not vouch for address {address} (its addresses: {ranges})")]
    CaNotTrustedForAddress {
        /// The CA entry.
        ca: String,
        /// The offending address.
        address: IpAddr,
        /// The CA's address ranges.
        ranges: String,
    },
    /// A valid certificate whose names are not a trusted server of the topology issued under
    /// the CA the topology names for it.
    #[error("{subject} (names: {names}) is not a trusted server in the topology")]
    NotInTopology {
        /// The certificate's subject.
        subject: String,
        /// Its DNS names.
        names: String,
    },
}

impl Refusal {
    /// Every reason, in [`Refusal::reason`] spelling.
    pub const REASONS: [&'static str; 4] = [
        "unparseable-name",
        "ca-not-trusted-for-name",
        "ca-not-trusted-for-address",
        "not-in-topology",
    ];

    /// The reason as counted: `unparseable-name`, `ca-not-trusted-for-name`,
    /// `ca-not-trusted-for-address` or `not-in-topology`.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::UnparseableName { .. } => Self::REASONS[0],
            Refusal::CaNotTrustedForName { .. } => Self::REASONS[1],
            Refusal::CaNotTrustedForAddress { .. } => Self::REASONS[2],
            Refusal::NotInTopology { .. } => Self::REASONS[3],
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
    /// A CA certificate or CRL that cannot be used.
    #[error("CA `{ca}`: {reason}")]
    Ca {
        /// The CA entry.
        ca: String,
        /// What is wrong, naming the file and certificate.
        reason: String,
    },
    /// Anything else (reading the topology file itself, an empty trust store).
    #[error("{0}")]
    Other(String),
}

/// One trusted CA entry (`[[ca]]`): its certificates, CRLs and scope.
#[derive(Clone)]
pub struct TrustedCa {
    /// Its name in the topology.
    pub name: String,
    /// Its certificates: self-signed roots (trust anchors) and issuing CAs.
    pub certs: Vec<CertificateDer<'static>>,
    /// Its CRLs, each signed by one of `certs` (empty: no revocation checking for what its
    /// certificates issue).
    pub crls: Vec<CertificateRevocationListDer<'static>>,
    /// The domains it may vouch for (empty: any name).
    pub domains: Vec<String>,
    /// The IP ranges it may vouch for (empty: none when `domains` is set, else any).
    pub addresses: Vec<IpRange>,
    /// Where `certs` and each CRL came from, for messages.
    origin: Origin,
}

#[derive(Clone, Default)]
struct Origin {
    certs: Option<PathBuf>,
    crls: Vec<String>,
    /// The operating system's roots (`cert = "system"`).
    system: bool,
}

impl fmt::Debug for TrustedCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedCa")
            .field("name", &self.name)
            .field("certs", &self.certs.len())
            .field("crls", &self.crls.len())
            .field("domains", &self.domains)
            .field("addresses", &self.addresses)
            .finish()
    }
}

impl TrustedCa {
    /// A CA entry of these certificates, CRLs and domains, vouching for no IP name when it has
    /// domains. Checked when the [`Trust`] is built.
    pub fn new(
        name: impl Into<String>,
        certs: Vec<CertificateDer<'static>>,
        crls: Vec<CertificateRevocationListDer<'static>>,
        domains: Vec<String>,
    ) -> TrustedCa {
        TrustedCa {
            name: name.into(),
            crls,
            certs,
            domains,
            addresses: Vec::new(),
            origin: Origin::default(),
        }
    }

    /// The same entry vouching for these address ranges.
    pub fn with_addresses(mut self, addresses: Vec<IpRange>) -> TrustedCa {
        self.addresses = addresses;
        self
    }

    fn cert_origin(&self, i: usize) -> String {
        match &self.origin.certs {
            Some(p) => format!("{} certificate #{}", p.display(), i + 1),
            None => format!("certificate #{}", i + 1),
        }
    }

    fn crl_origin(&self, i: usize) -> String {
        self.origin
            .crls
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("CRL #{}", i + 1))
    }

    /// Whether this CA may vouch for `name` (DNS).
    fn vouches_for_name(&self, name: &str) -> bool {
        topology::in_domains(name, &self.domains)
    }

    /// Whether this CA may vouch for `ip`.
    fn vouches_for_address(&self, ip: &IpAddr) -> bool {
        if self.addresses.is_empty() {
            return self.domains.is_empty();
        }
        self.addresses.iter().any(|r| r.contains(ip))
    }
}

/// A CA certificate of the trust, as the checks need it.
#[derive(Debug)]
struct CaCert {
    /// The [`TrustedCa`] it belongs to.
    entry: usize,
    der: CertificateDer<'static>,
    /// Subject name and subjectPublicKeyInfo, as DER contents (webpki's trust anchor form):
    /// the identity of the CA.
    subject: Vec<u8>,
    spki: Vec<u8>,
    /// The same as a webpki trust anchor (with its name constraints).
    anchor: rustls_pki_types::TrustAnchor<'static>,
    /// Its subject and issuer names as whole DER (for matching issuers and CRLs when loading).
    subject_der: Vec<u8>,
    issuer_der: Vec<u8>,
    /// Self-signed: a trust anchor.
    root: bool,
    not_before: UnixTime,
    not_after: UnixTime,
    /// The CRLs it signed.
    crls: Vec<Arc<Crl>>,
    /// Whether what it issues is checked for revocation (its entry has CRLs).
    revocation_checked: bool,
    /// Subject, for messages.
    label: String,
}

/// A CRL, parsed and with its signature checked when loaded.
#[derive(Debug)]
struct Crl {
    list: webpki::CertRevocationList<'static>,
    next_update: UnixTime,
}

/// The trusted CAs, the revocation policy, the topology and the evaluation time.
#[derive(Debug, Clone)]
pub struct Trust {
    cas: Vec<TrustedCa>,
    index: Arc<Vec<CaCert>>,
    topology: Option<TopologyFile>,
    crl_expiry: CrlExpiry,
    at: Option<UnixTime>,
}

impl Trust {
    /// Trust built from a topology file's contents and its CAs (in the file's order, CRLs
    /// already read). With `revocation = "off"` the CRLs are dropped. Fails when a certificate
    /// or CRL cannot be used (see the module docs).
    pub fn new(file: &TopologyFile, cas: Vec<TrustedCa>) -> Result<Trust, TrustError> {
        let cas = cas
            .into_iter()
            .map(|mut ca| {
                if file.revocation == RevocationMode::Off {
                    ca.crls.clear();
                    ca.origin.crls.clear();
                }
                ca
            })
            .collect();
        Trust::build(cas, Some(file.clone()), file.crl_expiry)
    }

    fn build(cas: Vec<TrustedCa>, topology: Option<TopologyFile>, crl_expiry: CrlExpiry) -> Result<Trust, TrustError> {
        if cas.is_empty() {
            return Err(TrustError::Other("the trust holds no CA".into()));
        }
        let index = index(&cas)?;
        Ok(Trust {
            cas,
            index: Arc::new(index),
            topology,
            crl_expiry,
            at: None,
        })
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
            let (cert_path, certs) = if entry.is_system() {
                let bundle = pki::system_roots_file().ok_or_else(|| {
                    TrustError::Other(format!(
                        "{}: cert = \"system\": no CA bundle at {} (set SSL_CERT_FILE)",
                        context("cert"),
                        pki::SYSTEM_BUNDLES.join(", ")
                    ))
                })?;
                let certs = pki::load_ca_bundle(&bundle).map_err(|source| TrustError::File {
                    context: context("cert (the system's roots)"),
                    source,
                })?;
                // A distribution's bundle lists some roots twice (re-issued): one anchor each.
                let certs = distinct_anchors(&certs).into_iter().flat_map(|(_, c)| c).collect();
                (bundle, certs)
            } else {
                let certs = pki::load_ca_bundle(&entry.cert).map_err(|source| TrustError::File {
                    context: context("cert"),
                    source,
                })?;
                (entry.cert.clone(), certs)
            };
            let mut crls = Vec::new();
            let mut crl_origins = Vec::new();
            if file.revocation == RevocationMode::Crl {
                for crl_path in &entry.crl {
                    let loaded = pki::load_crls(crl_path).map_err(|source| TrustError::File {
                        context: context("crl"),
                        source,
                    })?;
                    let n = loaded.len();
                    for (j, crl) in loaded.into_iter().enumerate() {
                        crls.push(crl);
                        crl_origins.push(if n == 1 {
                            crl_path.display().to_string()
                        } else {
                            format!("{} (CRL #{})", crl_path.display(), j + 1)
                        });
                    }
                }
            }
            let mut ca = TrustedCa::new(entry.name.clone(), certs, crls, entry.domains.clone())
                .with_addresses(entry.address_ranges());
            ca.origin = Origin {
                certs: Some(cert_path),
                crls: crl_origins,
                system: entry.is_system(),
            };
            cas.push(ca);
        }
        Trust::new(&file, cas)
    }

    /// The trust of a generated PKI with its topology ([`pki::DEFAULT_TOPOLOGY`], or
    /// [`pki::INTERMEDIATE_TOPOLOGY`] with issuing CAs): the Enterprise CA for `example.test`
    /// and loopback addresses, the Partner CA for `partner.example.test`, their CRLs, and the
    /// front end, edge and partner edge as trusted servers.
    pub fn for_pki(pki: &pki::Pki) -> Result<Trust, TrustError> {
        Trust::for_pki_with(pki, RevocationMode::Crl)
    }

    /// As [`Trust::for_pki`], with revocation checking as given.
    pub fn for_pki_with(pki: &pki::Pki, revocation: RevocationMode) -> Result<Trust, TrustError> {
        let mut file = TopologyFile::parse(&pki.topology).map_err(|source| TrustError::Topology {
            path: "(the PKI's topology)".into(),
            source,
        })?;
        file.revocation = revocation;
        let mut cas = Vec::new();
        for entry in &file.ca {
            let name = entry.cert.to_string_lossy();
            let cert = pki
                .ca_file(&name)
                .ok_or_else(|| TrustError::Other(format!("the PKI's topology: no CA file {name} in the PKI")))?;
            let mut crls = Vec::new();
            for path in &entry.crl {
                let name = path.to_string_lossy();
                crls.push(
                    pki.crl_file(&name)
                        .ok_or_else(|| TrustError::Other(format!("the PKI's topology: no CRL {name} in the PKI")))?
                        .clone(),
                );
            }
            cas.push(
                TrustedCa::new(entry.name.clone(), vec![cert.clone()], crls, entry.domains.clone())
                    .with_addresses(entry.address_ranges()),
            );
        }
        Trust::new(&file, cas)
    }

    /// Plain trust in a CA bundle: any name, no revocation checking, no topology (what
    /// `--ca FILE` gives). Every certificate is a CA entry of its own.
    pub fn from_cas(certs: &[CertificateDer<'static>]) -> Result<Trust, TrustError> {
        if certs.is_empty() {
            return Err(TrustError::Other("the CA bundle holds no certificate".into()));
        }
        let groups = distinct_anchors(certs);
        let cas = groups
            .into_iter()
            .map(|(name, certs)| TrustedCa::new(name, certs, Vec::new(), Vec::new()))
            .collect();
        Trust::build(cas, None, CrlExpiry::Ignore)
    }

    /// The same trust with one more CA entry (checked as when loading).
    pub fn with_ca(&self, ca: TrustedCa) -> Result<Trust, TrustError> {
        let mut cas = self.cas.clone();
        cas.push(ca);
        self.rebuilt(cas)
    }

    /// The same trust with the CRLs of entry `name` replaced (checked as when loading).
    pub fn with_crls(&self, name: &str, crls: Vec<CertificateRevocationListDer<'static>>) -> Result<Trust, TrustError> {
        let mut cas = self.cas.clone();
        let ca = cas
            .iter_mut()
            .find(|c| c.name == name)
            .ok_or_else(|| TrustError::Other(format!("no CA entry named `{name}`")))?;
        ca.crls = crls;
        ca.origin.crls.clear();
        self.rebuilt(cas)
    }

    fn rebuilt(&self, cas: Vec<TrustedCa>) -> Result<Trust, TrustError> {
        Ok(Trust {
            index: Arc::new(index(&cas)?),
            cas,
            ..self.clone()
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
        let issuing = self.index.iter().filter(|c| !c.root).count();
        let mut parts = vec![format!(
            "{} CA{}{}{}",
            self.cas.len(),
            if self.cas.len() == 1 { "" } else { "s" },
            if issuing > 0 {
                format!(" ({issuing} issuing)")
            } else {
                String::new()
            },
            if scoped { " scoped to domains" } else { "" }
        )];
        parts.push(if self.revocation_checked() {
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
        for ca in self.cas.iter().filter(|c| c.origin.system) {
            parts.push(format!(
                "`{}`: the system's {} roots, not revocation-checked",
                ca.name,
                ca.certs.len()
            ));
        }
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

    /// Whether any CA's issued certificates are checked against CRLs.
    pub fn revocation_checked(&self) -> bool {
        self.index.iter().any(|c| c.revocation_checked)
    }

    /// The trusted CA entries.
    pub fn cas(&self) -> &[TrustedCa] {
        &self.cas
    }

    /// Every CA certificate of the trust, with whether it is a self-signed root.
    pub fn ca_certificates(&self) -> impl Iterator<Item = (&CertificateDer<'static>, bool)> {
        self.index.iter().map(|c| (&c.der, c.root))
    }

    /// The CRLs of every entry.
    pub fn crls(&self) -> impl Iterator<Item = &CertificateRevocationListDer<'static>> {
        self.cas.iter().flat_map(|c| c.crls.iter())
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

    /// The rustls verifier for both roles.
    pub fn verifier(&self, provider: &Arc<rustls::crypto::CryptoProvider>) -> Result<Arc<TrustVerifier>, TrustError> {
        Ok(Arc::new(TrustVerifier::new(self, provider)))
    }

    /// The trust model's checks on a chain the TLS stack verified (steps 2 to 5 of the module
    /// docs): `chain` is the leaf, then the CA certificates of the verified path, in order.
    /// Certificates of the path that are not CAs of the trust (intermediates only the peer
    /// knew) vouch for nothing. `Ok(Some(entry))` for a trusted server of the topology,
    /// `Ok(None)` when no topology is configured.
    pub fn authorize(&self, chain: &[CertificateDer<'_>]) -> Result<Option<&ServerEntry>, Refusal> {
        let Some(leaf) = chain.first() else {
            return Err(Refusal::NotInTopology {
                subject: "(no certificate)".into(),
                names: "none".into(),
            });
        };
        let path: Vec<usize> = chain[1..].iter().filter_map(|c| self.find_cert(c)).collect();
        self.authorize_path(leaf, &path)
    }

    /// [`Trust::authorize`] on a path given as indices of CA certificates.
    fn authorize_path(&self, leaf: &CertificateDer<'_>, path: &[usize]) -> Result<Option<&ServerEntry>, Refusal> {
        let facts = facts(leaf);
        let names = facts.names.as_ref().map_err(|reason| Refusal::UnparseableName {
            subject: facts.subject.clone(),
            reason: reason.to_string(),
        })?;
        let mut entries: Vec<usize> = path.iter().map(|&i| self.index[i].entry).collect();
        entries.dedup();
        for &e in &entries {
            let ca = &self.cas[e];
            if let Some(name) = names.dns.iter().find(|n| !ca.vouches_for_name(n)) {
                return Err(Refusal::CaNotTrustedForName {
                    ca: ca.name.clone(),
                    name: name.clone(),
                    domains: ca.domains.join(", "),
                });
            }
            if let Some(ip) = names.ips.iter().find(|ip| !ca.vouches_for_address(ip)) {
                return Err(Refusal::CaNotTrustedForAddress {
                    ca: ca.name.clone(),
                    address: *ip,
                    ranges: if ca.addresses.is_empty() {
                        "none".into()
                    } else {
                        ca.addresses
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                });
            }
        }
        let Some(topology) = &self.topology else {
            return Ok(None);
        };
        topology
            .server
            .iter()
            .find(|s| {
                let fqdn = topology::normalize(&s.fqdn);
                names.dns.contains(&fqdn) && entries.iter().any(|&e| self.cas[e].name == s.ca)
            })
            .map(Some)
            .ok_or_else(|| Refusal::NotInTopology {
                subject: facts.subject.clone(),
                names: if names.dns.is_empty() {
                    "none".into()
                } else {
                    names.dns.join(", ")
                },
            })
    }

    /// The CA certificate with this subject and subjectPublicKeyInfo (both DER contents).
    fn find(&self, subject: &[u8], spki: &[u8]) -> Option<usize> {
        self.index.iter().position(|c| c.subject == subject && c.spki == spki)
    }

    /// Revocation of one certificate (its DER serial) issued by CA certificate `issuer` (`None`:
    /// an issuer the trust does not know), and the issuer's CRL expiry, at `time`.
    fn check_revocation(&self, serial: &[u8], issuer: Option<usize>, time: UnixTime) -> Result<(), webpki::Error> {
        let Some(issuer) = issuer else {
            return if self.revocation_checked() {
                Err(webpki::Error::UnknownRevocationStatus)
            } else {
                Ok(())
            };
        };
        let ca = &self.index[issuer];
        if !ca.revocation_checked {
            return Ok(());
        }
        if ca.crls.is_empty() {
            return Err(webpki::Error::UnknownRevocationStatus);
        }
        for crl in &ca.crls {
            if self.crl_expiry == CrlExpiry::Enforce && time >= crl.next_update {
                return Err(webpki::Error::CrlExpired {
                    time,
                    next_update: crl.next_update,
                });
            }
            if crl.list.find_serial(serial)?.is_some() {
                return Err(webpki::Error::CertRevoked);
            }
        }
        Ok(())
    }

    /// Whether CA certificate `i` is valid at `time`, as webpki reports it.
    fn check_validity(&self, i: usize, time: UnixTime) -> Result<(), webpki::Error> {
        let ca = &self.index[i];
        if time < ca.not_before {
            return Err(webpki::Error::CertNotValidYet {
                time,
                not_before: ca.not_before,
            });
        }
        if time > ca.not_after {
            return Err(webpki::Error::CertExpired {
                time,
                not_after: ca.not_after,
            });
        }
        Ok(())
    }

    /// Whether the CA certificate with this subject and key is known and has no CRL checking.
    pub(crate) fn unchecked_issuer(&self, cert: &CertificateDer<'_>) -> bool {
        self.find_cert(cert).is_some_and(|i| !self.index[i].revocation_checked)
    }

    /// The CA certificate of the trust that `cert` is (same subject and key), if any.
    fn find_cert(&self, cert: &CertificateDer<'_>) -> Option<usize> {
        let c = webpki::EndEntityCert::try_from(cert).ok()?;
        let spki = c.subject_public_key_info();
        self.find(c.subject(), der_contents(spki.as_ref())?)
    }
}

/// The contents of a DER SEQUENCE (the bytes after its tag and length).
fn der_contents(der: &[u8]) -> Option<&[u8]> {
    let (&first, rest) = der.get(1..)?.split_first()?;
    let (len, rest) = match first {
        n if n < 0x80 => (n as usize, rest),
        0x81 => (*rest.first()? as usize, &rest[1..]),
        0x82 => ((*rest.first()? as usize) << 8 | *rest.get(1)? as usize, rest.get(2..)?),
        _ => return None,
    };
    (der[0] == 0x30 && rest.len() == len).then_some(rest)
}

/// Builds the index of CA certificates, checking each certificate and CRL (module docs).
/// A CA bundle's certificates grouped by subject name (a bundle may hold one root name twice,
/// re-issued with another key or validity), in first-seen order. The same subject and key
/// twice (a root re-issued with a new validity) is one trust anchor: the certificate valid the
/// longest is kept.
fn distinct_anchors(certs: &[CertificateDer<'static>]) -> Vec<(String, Vec<CertificateDer<'static>>)> {
    let mut groups: Vec<(String, Vec<CertificateDer<'static>>)> = Vec::new();
    let mut seen: Vec<(String, Vec<u8>, i64, usize, usize)> = Vec::new();
    for (i, c) in certs.iter().enumerate() {
        let summary = pki::summarize(c).ok();
        let name = summary.as_ref().map_or_else(|| format!("ca{i}"), |s| s.subject.clone());
        let not_after = summary.as_ref().map_or(i64::MIN, |s| s.not_after.unix_timestamp());
        let spki = x509_parser::parse_x509_certificate(c)
            .map(|(_, x)| x.tbs_certificate.subject_pki.raw.to_vec())
            .unwrap_or_default();
        if let Some(prev) = seen
            .iter_mut()
            .find(|(n, k, ..)| *n == name && *k == spki && !spki.is_empty())
        {
            if not_after > prev.2 {
                groups[prev.3].1[prev.4] = c.clone();
                prev.2 = not_after;
            }
            continue;
        }
        let (g, j) = match groups.iter().position(|(n, _)| *n == name) {
            Some(g) => {
                groups[g].1.push(c.clone());
                (g, groups[g].1.len() - 1)
            }
            None => {
                groups.push((name.clone(), vec![c.clone()]));
                (groups.len() - 1, 0)
            }
        };
        seen.push((name, spki, not_after, g, j));
    }
    groups
}

fn index(cas: &[TrustedCa]) -> Result<Vec<CaCert>, TrustError> {
    let mut index = Vec::new();
    for (e, ca) in cas.iter().enumerate() {
        let err = |reason: String| TrustError::Ca {
            ca: ca.name.clone(),
            reason,
        };
        if ca.certs.is_empty() {
            return Err(err("no certificate".into()));
        }
        for (i, der) in ca.certs.iter().enumerate() {
            let what = ca.cert_origin(i);
            let (_, x) = x509_parser::certificate::X509Certificate::from_der(der.as_ref())
                .map_err(|e| err(format!("{what} does not parse: {e}")))?;
            let label = x.subject().to_string();
            let is_ca = matches!(x.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
            if !is_ca {
                return Err(err(format!(
                    "{what} (`{label}`) is not a CA (no basicConstraints cA=TRUE): a CA file holds CA certificates only"
                )));
            }
            if let Ok(Some(ku)) = x.key_usage()
                && !ku.value.key_cert_sign()
            {
                return Err(err(format!(
                    "{what} (`{label}`) is not a CA (its key usage lacks keyCertSign)"
                )));
            }
            let anchor = webpki::anchor_from_trusted_cert(der).map_err(|e| err(format!("{what}: {e:?}")))?;
            let time = |t: x509_parser::time::ASN1Time| {
                UnixTime::since_unix_epoch(Duration::from_secs(t.timestamp().max(0) as u64))
            };
            let root = x.subject().as_raw() == x.issuer().as_raw() && verify_signed_by(der, der).unwrap_or(false);
            index.push(CaCert {
                entry: e,
                der: der.clone(),
                subject: anchor.subject.as_ref().to_vec(),
                spki: anchor.subject_public_key_info.as_ref().to_vec(),
                anchor: anchor.to_owned(),
                subject_der: x.subject().as_raw().to_vec(),
                issuer_der: x.issuer().as_raw().to_vec(),
                root,
                not_before: time(x.validity().not_before),
                not_after: time(x.validity().not_after),
                crls: Vec::new(),
                revocation_checked: !ca.crls.is_empty(),
                label,
            });
        }
        let first = index.len() - ca.certs.len();
        for (j, crl_der) in ca.crls.iter().enumerate() {
            let what = ca.crl_origin(j);
            let list = webpki::OwnedCertRevocationList::from_der(crl_der.as_ref())
                .map_err(|e| err(format!("{what}: not a CRL sipbench can use: {e:?}")))?;
            let (_, parsed) = x509_parser::revocation_list::CertificateRevocationList::from_der(crl_der.as_ref())
                .map_err(|e| err(format!("{what} does not parse: {e}")))?;
            let signer = (first..index.len()).find(|&k| {
                parsed.issuer().as_raw() == index[k].subject_der.as_slice()
                    && verify_crl_signed_by(crl_der, &index[k].der).unwrap_or(false)
            });
            let Some(k) = signer else {
                let theirs: Vec<&str> = index[first..].iter().map(|c| c.label.as_str()).collect();
                return Err(err(format!(
                    "{what}: the CRL of `{}` is not signed by a certificate of this CA (its certificates: {})",
                    parsed.issuer(),
                    theirs.join("; ")
                )));
            };
            let (_, signer_x) = x509_parser::certificate::X509Certificate::from_der(index[k].der.as_ref())
                .map_err(|e| err(format!("{what}: {e}")))?;
            if let Ok(Some(ku)) = signer_x.key_usage()
                && !ku.value.crl_sign()
            {
                return Err(err(format!(
                    "{what}: its signer `{}` may not sign CRLs (key usage lacks cRLSign)",
                    index[k].label
                )));
            }
            let next_update = parsed
                .next_update()
                .map_or(UnixTime::since_unix_epoch(Duration::MAX), |t| {
                    UnixTime::since_unix_epoch(Duration::from_secs(t.timestamp().max(0) as u64))
                });
            index[k].crls.push(Arc::new(Crl {
                list: list.into(),
                next_update,
            }));
        }
        if !ca.crls.is_empty()
            && let Some(c) = index[first..].iter().find(|c| c.crls.is_empty())
        {
            return Err(err(format!(
                "`{}` has no CRL: with revocation checking on, every CA certificate of an entry needs its CRL",
                c.label
            )));
        }
    }
    // One CA certificate is one CA: in two entries, which entry's scope and topology counted
    // would depend on the order.
    for (i, c) in index.iter().enumerate() {
        if let Some(d) = index[..i].iter().find(|d| d.subject == c.subject && d.spki == c.spki) {
            let (first, second) = (&cas[d.entry].name, &cas[c.entry].name);
            return Err(TrustError::Ca {
                ca: second.clone(),
                reason: format!(
                    "`{}` is listed twice (also in CA `{first}`): a CA certificate belongs to one entry",
                    c.label
                ),
            });
        }
    }
    // Every issuing CA chains to a CA of the trust, by signature.
    for c in index.iter().filter(|c| !c.root) {
        let found = index
            .iter()
            .any(|p| p.subject_der == c.issuer_der && verify_signed_by(&c.der, &p.der).unwrap_or(false));
        if !found {
            let ca = &cas[c.entry];
            return Err(TrustError::Ca {
                ca: ca.name.clone(),
                reason: format!(
                    "`{}` is an issuing CA whose issuer is not in the trust: list its root CA (in this file or another [[ca]])",
                    c.label
                ),
            });
        }
    }
    Ok(index)
}

/// Whether `cert` carries a valid signature by `issuer`'s key (checked with OpenSSL, at load).
fn verify_signed_by(
    cert: &CertificateDer<'_>,
    issuer: &CertificateDer<'_>,
) -> Result<bool, openssl::error::ErrorStack> {
    let cert = openssl::x509::X509::from_der(cert.as_ref())?;
    let key = openssl::x509::X509::from_der(issuer.as_ref())?.public_key()?;
    cert.verify(&key)
}

/// Whether `crl` carries a valid signature by `issuer`'s key.
fn verify_crl_signed_by(
    crl: &CertificateRevocationListDer<'_>,
    issuer: &CertificateDer<'_>,
) -> Result<bool, openssl::error::ErrorStack> {
    let crl = openssl::x509::X509Crl::from_der(crl.as_ref())?;
    let key = openssl::x509::X509::from_der(issuer.as_ref())?.public_key()?;
    crl.verify(&key)
}

/// What the trust checks need from a certificate.
#[derive(Debug)]
struct CertFacts {
    subject: String,
    names: Result<CertNames, NameError>,
}

/// The facts of `cert`, parsed once per thread and certificate: a benchmark sees the same few
/// certificates on every handshake, and parsing one costs more than the rest of these checks.
fn facts(cert: &CertificateDer<'_>) -> Arc<CertFacts> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    thread_local! {
        static CACHE: RefCell<HashMap<Vec<u8>, Arc<CertFacts>>> = RefCell::new(HashMap::new());
    }
    if let Some(hit) = CACHE.with(|c| c.borrow().get(cert.as_ref()).cloned()) {
        return hit;
    }
    let subject = x509_parser::certificate::X509Certificate::from_der(cert.as_ref())
        .map(|(_, x)| x.subject().to_string())
        .unwrap_or_else(|_| "(unparseable certificate)".into());
    let facts = Arc::new(CertFacts {
        subject,
        names: CertNames::parse(cert.as_ref()),
    });
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        // Bounded: a run with many distinct certificates starts the cache afresh.
        if c.len() >= 4096 {
            c.clear();
        }
        c.insert(cert.as_ref().to_vec(), facts.clone());
    });
    facts
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

#[cfg(test)]
mod tests {
    use rustls::server::danger::ClientCertVerifier;

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
                    vec![pki.enterprise_ca.clone()],
                    vec![crl.clone()],
                    vec!["example.test".into()],
                ),
                TrustedCa::new(
                    "partner",
                    vec![pki.partner_ca.clone()],
                    vec![pki.partner_crl.clone()],
                    vec!["partner.example.test".into()],
                ),
            ]
        };
        assert_eq!(verify_edge(&Trust::new(&file, cas(&stale)).unwrap(), &pki), Ok(()));
        file.crl_expiry = CrlExpiry::Enforce;
        let err = verify_edge(&Trust::new(&file, cas(&stale)).unwrap(), &pki).unwrap_err();
        assert_eq!(tls_reason(&err), "expired-revocation-list");
        // The fresh CRL passes today, and fails when evaluated after its nextUpdate (7 days).
        let trust = Trust::new(&file, cas(&pki.enterprise_crl)).unwrap();
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
    fn a_ca_certificate_in_two_entries_is_refused() {
        let pki = Pki::generate(KeyType::EcdsaP256).unwrap();
        let file = TopologyFile::parse(pki::DEFAULT_TOPOLOGY).unwrap();
        let entry = |name: &str, crl: &CertificateRevocationListDer<'static>| {
            TrustedCa::new(name, vec![pki.enterprise_ca.clone()], vec![crl.clone()], Vec::new())
        };
        let err = Trust::new(
            &file,
            vec![
                entry("enterprise", &pki.enterprise_crl),
                entry("partner", &pki.enterprise_crl),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("CA `partner`") && err.contains("listed twice"), "{err}");
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
