//! Throwaway PKI for SIP over TLS and mutual TLS benchmarks.
//!
//! [`Pki::generate`] builds an enterprise SIP deployment in the Skype for
//! Business style trust model:
//!
//! * an **Enterprise CA** (self-signed root) issuing the `server` (SIP
//!   registrar/proxy), `edge` (server-to-server MTLS identity, serverAuth and
//!   clientAuth) and `client` (user certificate, clientAuth) certificates;
//! * a **Partner CA** (self-signed root of a federated organisation) issuing
//!   the `partner` MTLS identity (serverAuth and clientAuth).
//!
//! All keys of one PKI have the same [`KeyType`]. A PKI can be written to a
//! directory as PEM files (names in [`files`]) and read back with
//! [`Pki::load`]; user-supplied certificates and keys are loaded with
//! [`load_identity`] and [`load_ca_bundle`].
//!
//! For the negative cases of the trust model, the PKI also holds one
//! [`BadCert`] per defect (each differing from the good `edge` certificate in
//! one respect only), a **Rogue CA** that no trust store contains, a CRL per
//! trusted CA (the Enterprise CRL revokes [`BadCert::Revoked`]) and the
//! default topology file ([`DEFAULT_TOPOLOGY`]).
//!
//! Roots are trust anchors and are never sent by peers, so every generated
//! [`Identity::chain`] holds only the leaf certificate.
//!
//! # Map
//!
//! * this file: the names ([`ORGANIZATION`], the DNS names, [`files`]), the topology files
//!   ([`DEFAULT_TOPOLOGY`], [`INTERMEDIATE_TOPOLOGY`]), the errors ([`PkiError`]) and what a PKI
//!   is made of ([`Pki`] and its accessors, [`IssuingCa`], [`Identity`], [`CaName`]);
//! * `keys.rs`: [`KeyType`] and key generation;
//! * `generate.rs`: generating a PKI ([`Pki::generate`]) and issuing leaves ([`Pki::issue_leaf`]);
//! * `bad.rs`: the negative cases ([`BadCert`]) and how each is issued;
//! * `crl.rs`: revocation lists: signing ([`Pki::crl`]), writing ([`write_crl`]) and loading
//!   ([`load_crls`], [`crls_from`]);
//! * `load.rs`: reading a PKI directory ([`Pki::load`]) and user-supplied files
//!   ([`load_identity`], [`load_ca_bundle`], [`certs_from`], [`roots_from`]), and rcgen issuers
//!   for existing CA certificates ([`issuer_for`]);
//! * `write.rs`: writing a PKI directory ([`Pki::write_to`]) as PEM files;
//! * `describe.rs`: what a certificate is, for reports ([`summarize`], [`cert_key_description`]);
//! * `tests.rs`: end-to-end tests (generate, write, load back, handshake).

mod bad;
mod crl;
mod describe;
mod generate;
mod keys;
mod load;
#[cfg(test)]
mod tests;
mod write;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::PathBuf;

use rcgen::{Issuer, KeyPair};
use rustls::RootCertStore;
use rustls_pki_types::pem;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

use describe::{key_format_name, subject_or_placeholder};

pub use bad::BadCert;
pub(crate) use crl::sign_crl;
pub use crl::{crls_from, load_crls, write_crl};
pub use describe::{CertSummary, cert_key_description, summarize};
pub(crate) use generate::{key_id_method, random_serial};
pub use keys::KeyType;
pub(crate) use load::dn_of;
pub use load::{
    Layout, SYSTEM_BUNDLES, certs_from, issuer_for, load_ca_bundle, load_identity, roots_from, system_roots_file,
};

/// Organisation (`O=`) of every generated subject name.
pub const ORGANIZATION: &str = "sipbench";
/// Common name of the generated Enterprise root CA.
pub const ENTERPRISE_CA_CN: &str = "sipbench Enterprise Root CA";
/// Common name of the generated Partner (federation) root CA.
pub const PARTNER_CA_CN: &str = "sipbench Partner Root CA";
/// Common name of the Enterprise issuing CA of an intermediate PKI ([`Pki::generate_with`]).
pub const ENTERPRISE_ISSUING_CN: &str = "sipbench Enterprise Issuing CA";
/// Common name of the Partner issuing CA of an intermediate PKI.
pub const PARTNER_ISSUING_CN: &str = "sipbench Partner Issuing CA";
/// DNS name of the generated SIP server certificate.
pub const SERVER_DNS: &str = "sip.example.test";
/// DNS name of the generated edge (server-to-server MTLS) certificate.
pub const EDGE_DNS: &str = "edge.example.test";
/// DNS name of the generated federated partner certificate.
pub const PARTNER_DNS: &str = "sip.partner.example.test";
/// Common name of the generated client certificate.
pub const CLIENT_CN: &str = "sipbench client";
/// DNS name (SAN) of the generated client certificate.
pub const CLIENT_DNS: &str = "client.example.test";
/// DNS name of [`BadCert::WrongName`]: not dialled by clients and not in the topology.
pub const WRONG_NAME_DNS: &str = "www.example.test";
/// DNS name of [`BadCert::NotInTopology`]: under the Enterprise domain but not a topology server.
pub const ROGUE_DNS: &str = "rogue.example.test";
/// Common name of the Rogue root CA that issues [`BadCert::UntrustedCa`] (in no trust store).
pub const ROGUE_CA_CN: &str = "sipbench Rogue Root CA";

/// The topology file written by [`Pki::write_to`] as [`files::TOPOLOGY`]: the
/// CAs this deployment trusts (with their CRLs and domains) and the servers it
/// trusts for server-to-server MTLS.
pub const DEFAULT_TOPOLOGY: &str = r#"# sipbench topology: the CAs this deployment trusts and the servers it trusts for
# server-to-server MTLS. Paths are relative to this file.

# "crl": every CA must have a CRL and certificates are checked against it; "off": no revocation check.
revocation = "crl"
# "enforce": a CRL past its nextUpdate fails verification; "ignore": it is still used.
crl_expiry = "ignore"

[[ca]]
name = "enterprise"
cert = "enterprise-ca.pem"
crl = "enterprise-ca.crl"
# Names this CA may vouch for: each domain and every name below it.
domains = ["example.test"]
# IP names it may vouch for (the server certificate carries 127.0.0.1 and ::1). A CA with
# domains and no addresses vouches for no IP name.
addresses = ["127.0.0.0/8", "::1/128"]

[[ca]]
name = "partner"
cert = "partner-ca.pem"
crl = "partner-ca.crl"
domains = ["partner.example.test"]

[[server]]
fqdn = "sip.example.test"
role = "front-end"
ca = "enterprise"

[[server]]
fqdn = "edge.example.test"
role = "edge"
ca = "enterprise"

[[server]]
fqdn = "sip.partner.example.test"
role = "partner-edge"
ca = "partner"
"#;

/// The topology file of an intermediate PKI ([`Pki::generate_with`]): each organisation's root
/// and its issuing CA are entries of their own with their own CRLs, and the trusted servers
/// name either (the front end its root, the edges their issuing CA).
pub const INTERMEDIATE_TOPOLOGY: &str = r#"# sipbench topology: the CAs this deployment trusts and the servers it trusts for
# server-to-server MTLS. Paths are relative to this file. Each organisation has a root CA and an
# issuing CA (AD CS style): leaves come from the issuing CA and peers send it with their leaf.

# "crl": every CA must have a CRL and certificates are checked against it; "off": no revocation check.
revocation = "crl"
# "enforce": a CRL past its nextUpdate fails verification; "ignore": it is still used.
crl_expiry = "ignore"

[[ca]]
name = "enterprise"
cert = "enterprise-ca.pem"
crl = "enterprise-ca.crl"
# Names this CA may vouch for: each domain and every name below it.
domains = ["example.test"]
# IP names it may vouch for (the server certificate carries 127.0.0.1 and ::1). A CA with
# domains and no addresses vouches for no IP name.
addresses = ["127.0.0.0/8", "::1/128"]

[[ca]]
name = "enterprise-issuing"
cert = "enterprise-issuing-ca.pem"
crl = "enterprise-issuing-ca.crl"
domains = ["example.test"]
addresses = ["127.0.0.0/8", "::1/128"]

[[ca]]
name = "partner"
cert = "partner-ca.pem"
crl = "partner-ca.crl"
domains = ["partner.example.test"]

[[ca]]
name = "partner-issuing"
cert = "partner-issuing-ca.pem"
crl = "partner-issuing-ca.crl"
domains = ["partner.example.test"]

[[server]]
fqdn = "sip.example.test"
role = "front-end"
ca = "enterprise"

[[server]]
fqdn = "edge.example.test"
role = "edge"
ca = "enterprise-issuing"

[[server]]
fqdn = "sip.partner.example.test"
role = "partner-edge"
ca = "partner-issuing"
"#;

/// File names inside a PKI directory (plain names, see [`Pki::write_to`]).
pub mod files {
    /// Enterprise root CA certificate.
    pub const ENTERPRISE_CA: &str = "enterprise-ca.pem";
    /// Enterprise root CA private key.
    pub const ENTERPRISE_CA_KEY: &str = "enterprise-ca.key";
    /// Partner (federation) root CA certificate.
    pub const PARTNER_CA: &str = "partner-ca.pem";
    /// Partner (federation) root CA private key.
    pub const PARTNER_CA_KEY: &str = "partner-ca.key";
    /// SIP server certificate chain.
    pub const SERVER: &str = "server.pem";
    /// SIP server private key.
    pub const SERVER_KEY: &str = "server.key";
    /// Edge (server-to-server MTLS) certificate chain.
    pub const EDGE: &str = "edge.pem";
    /// Edge private key.
    pub const EDGE_KEY: &str = "edge.key";
    /// Federated partner certificate chain.
    pub const PARTNER: &str = "partner.pem";
    /// Federated partner private key.
    pub const PARTNER_KEY: &str = "partner.key";
    /// Client certificate chain.
    pub const CLIENT: &str = "client.pem";
    /// Client private key.
    pub const CLIENT_KEY: &str = "client.key";
    /// Both root CA certificates (enterprise first, then partner).
    pub const CA_BUNDLE: &str = "ca-bundle.pem";
    /// Enterprise CA certificate revocation list (PEM `X509 CRL`).
    pub const ENTERPRISE_CRL: &str = "enterprise-ca.crl";
    /// Partner CA certificate revocation list (PEM `X509 CRL`).
    pub const PARTNER_CRL: &str = "partner-ca.crl";
    /// Enterprise issuing CA certificate (intermediate PKIs only).
    pub const ENTERPRISE_ISSUING_CA: &str = "enterprise-issuing-ca.pem";
    /// Enterprise issuing CA private key.
    pub const ENTERPRISE_ISSUING_CA_KEY: &str = "enterprise-issuing-ca.key";
    /// Enterprise issuing CA revocation list.
    pub const ENTERPRISE_ISSUING_CRL: &str = "enterprise-issuing-ca.crl";
    /// Partner issuing CA certificate (intermediate PKIs only).
    pub const PARTNER_ISSUING_CA: &str = "partner-issuing-ca.pem";
    /// Partner issuing CA private key.
    pub const PARTNER_ISSUING_CA_KEY: &str = "partner-issuing-ca.key";
    /// Partner issuing CA revocation list.
    pub const PARTNER_ISSUING_CRL: &str = "partner-issuing-ca.crl";
    /// The deployment topology (see [`DEFAULT_TOPOLOGY`](super::DEFAULT_TOPOLOGY)).
    pub const TOPOLOGY: &str = "topology.toml";
    /// Directory of the negative-case certificates ([`BadCert`](super::BadCert)).
    pub const BAD_DIR: &str = "bad";
    /// Rogue root CA certificate (issuer of [`BadCert::UntrustedCa`](super::BadCert::UntrustedCa)).
    pub const ROGUE_CA: &str = "bad/rogue-ca.pem";

    /// Certificate file of a negative case, relative to the PKI directory: `bad/<name>.pem`.
    pub fn bad_cert_file(which: super::BadCert) -> String {
        format!("{BAD_DIR}/{}.pem", which.as_str())
    }

    /// Private key file of a negative case, relative to the PKI directory: `bad/<name>.key`.
    pub fn bad_key_file(which: super::BadCert) -> String {
        format!("{BAD_DIR}/{}.key", which.as_str())
    }
}

pub use files::{bad_cert_file, bad_key_file};

/// Errors of the PKI module. Every error about a file names the file.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file or directory could not be read, created or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// A PEM file holds no `CERTIFICATE` block.
    #[error("{path}: no certificate found (expected a PEM `BEGIN CERTIFICATE` block)")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// A PEM file holds no private key block.
    #[error(
        "{path}: no private key found (expected a PEM `BEGIN PRIVATE KEY`, \
         `BEGIN RSA PRIVATE KEY` or `BEGIN EC PRIVATE KEY` block)"
    )]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// A file is not valid PEM (bad base64, unterminated block, ...).
    #[error("{path}: malformed PEM: {source}")]
    BadPem {
        /// The file.
        path: PathBuf,
        /// What the PEM parser reported.
        #[source]
        source: pem::Error,
    },
    /// A certificate could not be parsed as X.509.
    #[error("{what}: cannot parse certificate: {reason}")]
    Parse {
        /// Which certificate (file and position, or a description).
        what: String,
        /// What the parser reported.
        reason: String,
    },
    /// A private key is not usable for TLS (unsupported algorithm or corrupt).
    #[error("{path}: unusable private key: {reason}")]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// Why it was rejected.
        reason: String,
    },
    /// A private key does not belong to the certificate it is paired with.
    #[error("{key_path}: private key does not match the certificate in {cert_path}")]
    KeyMismatch {
        /// The certificate file.
        cert_path: PathBuf,
        /// The key file.
        key_path: PathBuf,
    },
    /// A certificate has a key type that a generated PKI cannot have.
    #[error("{what}: unsupported key type {description}")]
    UnsupportedKeyType {
        /// Which certificate.
        what: String,
        /// Its key, as described by [`cert_key_description`].
        description: String,
    },
    /// The certificates of a PKI directory do not all use the same key type.
    #[error("{what}: key type {found} differs from the PKI key type {expected}")]
    MixedKeyTypes {
        /// Which certificate.
        what: String,
        /// The key type of the Enterprise CA.
        expected: KeyType,
        /// The key type found.
        found: KeyType,
    },
    /// A CA private key is needed but was not loaded.
    #[error("the {ca} private key is not available (its key file was absent when loading)")]
    NoIssuerKey {
        /// Which CA.
        ca: &'static str,
    },
    /// The CA subject name cannot be reproduced exactly in issued certificates.
    #[error("cannot issue from the {ca}: {reason}")]
    IssuerName {
        /// Which CA.
        ca: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// A name given for a certificate is not acceptable.
    #[error("invalid certificate name {name:?}: {reason}")]
    InvalidName {
        /// The offending name.
        name: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A root certificate store would be empty, or a root was rejected.
    #[error("invalid trust anchors: {reason}")]
    Roots {
        /// What went wrong.
        reason: String,
    },
    /// An unknown key type name was given.
    #[error("unknown key type {0:?} (valid: ecdsa-p256, ecdsa-p384, rsa2048, rsa3072, ed25519)")]
    UnknownKeyType(String),
    /// An unknown negative-case name was given.
    #[error(
        "unknown bad certificate {0:?} (valid: expired, not-yet-valid, revoked, wrong-name, untrusted-ca, \
         not-in-topology, partner-claims-enterprise)"
    )]
    UnknownBadCert(String),
    /// A file holds no certificate revocation list.
    #[error("{path}: no CRL found (expected a PEM `BEGIN X509 CRL` block or a DER CRL)")]
    NoCrl {
        /// The file.
        path: PathBuf,
    },
    /// A CRL could not be parsed, or does not belong to its CA.
    #[error("{what}: invalid CRL: {reason}")]
    Crl {
        /// Which CRL (file and position, or a description).
        what: String,
        /// What was wrong.
        reason: String,
    },
    /// A certificate to revoke was not issued by the CA signing the CRL.
    #[error("{what} was not issued by the {ca}, so its CRL cannot revoke it")]
    NotIssuedBy {
        /// Which certificate.
        what: String,
        /// Which CA.
        ca: &'static str,
    },
    /// The topology file is not valid TOML.
    #[error("{path}: invalid topology: {reason}")]
    Topology {
        /// The file.
        path: PathBuf,
        /// What the TOML parser reported.
        reason: String,
    },
    /// Key or certificate generation failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
}

/// One of the two trusted CAs of a PKI (for [`Pki::crl`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaName {
    /// The Enterprise root CA.
    Enterprise,
    /// The Partner (federation) root CA.
    Partner,
}

/// A certificate chain (leaf first) and its private key, ready for rustls.
pub struct Identity {
    /// The certificate chain, leaf first. Roots are not included.
    pub chain: Vec<CertificateDer<'static>>,
    /// The private key of the leaf certificate.
    pub key: PrivateKeyDer<'static>,
}

impl Identity {
    /// The leaf (end-entity) certificate, if the chain is not empty.
    pub fn leaf(&self) -> Option<&CertificateDer<'static>> {
        self.chain.first()
    }
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subjects: Vec<String> = self
            .chain
            .iter()
            .map(|c| summarize(c).map_or_else(|_| "<unparseable>".to_owned(), |s| s.subject))
            .collect();
        f.debug_struct("Identity")
            .field("chain", &subjects)
            .field("key", &format_args!("<{} redacted>", key_format_name(&self.key)))
            .finish()
    }
}

/// A generated or loaded PKI.
pub struct Pki {
    /// Key type of every key of the PKI.
    pub key_type: KeyType,
    /// Enterprise root CA certificate (trust anchor).
    pub enterprise_ca: CertificateDer<'static>,
    /// Partner (federation) root CA certificate (trust anchor).
    pub partner_ca: CertificateDer<'static>,
    /// SIP server identity (`sip.example.test`, 127.0.0.1, ::1), serverAuth.
    pub server: Identity,
    /// Edge MTLS identity (`edge.example.test`), serverAuth + clientAuth.
    pub edge: Identity,
    /// Federated partner identity (`sip.partner.example.test`, Partner CA), serverAuth + clientAuth.
    pub partner: Identity,
    /// Client identity (`client.example.test`), clientAuth.
    pub client: Identity,
    /// The negative cases, one per [`BadCert`] (see also [`Pki::bad`]).
    pub bad: BTreeMap<BadCert, Identity>,
    /// Rogue root CA certificate, issuer of [`BadCert::UntrustedCa`]; in no trust store.
    pub rogue_ca: CertificateDer<'static>,
    /// CRL of the Enterprise CA (lists [`BadCert::Revoked`]).
    pub enterprise_crl: CertificateRevocationListDer<'static>,
    /// CRL of the Partner CA (empty).
    pub partner_crl: CertificateRevocationListDer<'static>,
    /// Text of the topology file ([`DEFAULT_TOPOLOGY`] or [`INTERMEDIATE_TOPOLOGY`] for a
    /// generated PKI).
    pub topology: String,
    /// The Enterprise issuing CA, in an intermediate PKI: it issues the enterprise leaves,
    /// whose chains then carry it.
    pub enterprise_issuing: Option<IssuingCa>,
    /// The Partner issuing CA, in an intermediate PKI.
    pub partner_issuing: Option<IssuingCa>,
    enterprise_issuer: Option<Issuer<'static, KeyPair>>,
    partner_issuer: Option<Issuer<'static, KeyPair>>,
}

/// An issuing CA (intermediate) of a PKI: issued by its organisation's root, it issues the
/// leaves.
pub struct IssuingCa {
    /// Its certificate.
    pub cert: CertificateDer<'static>,
    /// Its CRL (lists [`BadCert::Revoked`] for the Enterprise issuing CA).
    pub crl: CertificateRevocationListDer<'static>,
    issuer: Option<Issuer<'static, KeyPair>>,
}

impl IssuingCa {
    /// The issuing CA as an rcgen issuer, or `None` when loaded without its key.
    pub fn issuer(&self) -> Option<&Issuer<'static, KeyPair>> {
        self.issuer.as_ref()
    }
}

impl fmt::Debug for IssuingCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuingCa")
            .field("cert", &subject_or_placeholder(&self.cert))
            .field("key", &self.issuer.is_some())
            .finish()
    }
}

impl fmt::Debug for Pki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pki")
            .field("key_type", &self.key_type)
            .field("enterprise_ca", &subject_or_placeholder(&self.enterprise_ca))
            .field("partner_ca", &subject_or_placeholder(&self.partner_ca))
            .field("server", &self.server)
            .field("edge", &self.edge)
            .field("partner", &self.partner)
            .field("client", &self.client)
            .field("bad", &self.bad)
            .field("rogue_ca", &subject_or_placeholder(&self.rogue_ca))
            .field(
                "enterprise_crl",
                &format_args!("<{} bytes>", self.enterprise_crl.as_ref().len()),
            )
            .field(
                "partner_crl",
                &format_args!("<{} bytes>", self.partner_crl.as_ref().len()),
            )
            .field("enterprise_issuing", &self.enterprise_issuing)
            .field("partner_issuing", &self.partner_issuing)
            .field("enterprise_ca_key", &self.enterprise_issuer.is_some())
            .field("partner_ca_key", &self.partner_issuer.is_some())
            .finish()
    }
}

impl Pki {
    /// The negative case `which`.
    ///
    /// # Panics
    ///
    /// If its entry was removed from the public [`Pki::bad`] map (a generated
    /// or loaded PKI has every entry).
    pub fn bad(&self, which: BadCert) -> &Identity {
        &self.bad[&which]
    }

    /// Trust anchors: the Enterprise and the Partner root (federated trust).
    ///
    /// Certificates that webpki rejects as trust anchors are skipped.
    pub fn roots(&self) -> RootCertStore {
        let mut store = RootCertStore::empty();
        store.add_parsable_certificates([self.enterprise_ca.clone(), self.partner_ca.clone()]);
        store
    }

    /// Trust anchors: the Enterprise root only (no federation).
    pub fn enterprise_roots(&self) -> RootCertStore {
        let mut store = RootCertStore::empty();
        store.add_parsable_certificates([self.enterprise_ca.clone()]);
        store
    }

    /// The Enterprise CA as an rcgen issuer (for issuing certificates or
    /// CRLs), or `None` when the PKI was loaded without its CA key.
    pub fn enterprise_issuer(&self) -> Option<&Issuer<'static, KeyPair>> {
        self.enterprise_issuer.as_ref()
    }

    /// The Partner CA as an rcgen issuer, or `None` when the PKI was loaded
    /// without its CA key.
    pub fn partner_issuer(&self) -> Option<&Issuer<'static, KeyPair>> {
        self.partner_issuer.as_ref()
    }

    /// The CA certificate a topology file of this PKI names by file name ([`files`]).
    pub fn ca_file(&self, name: &str) -> Option<&CertificateDer<'static>> {
        match name {
            files::ENTERPRISE_CA => Some(&self.enterprise_ca),
            files::PARTNER_CA => Some(&self.partner_ca),
            files::ENTERPRISE_ISSUING_CA => self.enterprise_issuing.as_ref().map(|i| &i.cert),
            files::PARTNER_ISSUING_CA => self.partner_issuing.as_ref().map(|i| &i.cert),
            _ => None,
        }
    }

    /// The CRL a topology file of this PKI names by file name ([`files`]).
    pub fn crl_file(&self, name: &str) -> Option<&CertificateRevocationListDer<'static>> {
        match name {
            files::ENTERPRISE_CRL => Some(&self.enterprise_crl),
            files::PARTNER_CRL => Some(&self.partner_crl),
            files::ENTERPRISE_ISSUING_CRL => self.enterprise_issuing.as_ref().map(|i| &i.crl),
            files::PARTNER_ISSUING_CRL => self.partner_issuing.as_ref().map(|i| &i.crl),
            _ => None,
        }
    }
}
