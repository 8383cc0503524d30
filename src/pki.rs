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

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams,
    RsaKeySize, SanType, SerialNumber, SignatureAlgorithm,
};
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521, OID_PKCS1_RSAENCRYPTION,
    OID_PKCS1_RSASSAPSS, OID_SIG_ED448, OID_SIG_ED25519,
};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::revocation_list::CertificateRevocationList;
use x509_parser::x509::{SubjectPublicKeyInfo, X509Name};

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

/// Validity of generated leaf certificates (from one hour ago).
const LEAF_VALIDITY: Duration = Duration::days(30);
/// Validity of generated CA certificates (from one hour ago).
const CA_VALIDITY: Duration = Duration::days(3650);
/// Backdating of `notBefore`, to tolerate clock skew between hosts.
const BACKDATE: Duration = Duration::hours(1);
/// `nextUpdate` of generated CRLs, from now (`thisUpdate` is backdated by [`BACKDATE`]).
const CRL_VALIDITY: Duration = Duration::days(7);

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

/// Key algorithm of every key (CAs and leaves) of a generated PKI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyType {
    /// ECDSA on NIST P-256, signatures with SHA-256.
    #[default]
    #[value(name = "ecdsa-p256")]
    EcdsaP256,
    /// ECDSA on NIST P-384, signatures with SHA-384.
    #[value(name = "ecdsa-p384")]
    EcdsaP384,
    /// RSA 2048-bit, certificates signed with PKCS#1 v1.5 SHA-256.
    #[value(name = "rsa2048")]
    Rsa2048,
    /// RSA 3072-bit, certificates signed with PKCS#1 v1.5 SHA-256.
    #[value(name = "rsa3072")]
    Rsa3072,
    /// Ed25519.
    #[value(name = "ed25519")]
    Ed25519,
}

impl KeyType {
    /// Every key type, in CLI order.
    pub const ALL: [KeyType; 5] = [
        KeyType::EcdsaP256,
        KeyType::EcdsaP384,
        KeyType::Rsa2048,
        KeyType::Rsa3072,
        KeyType::Ed25519,
    ];

    /// The CLI/config name: `ecdsa-p256`, `ecdsa-p384`, `rsa2048`, `rsa3072` or `ed25519`.
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::EcdsaP384 => "ecdsa-p384",
            KeyType::Rsa2048 => "rsa2048",
            KeyType::Rsa3072 => "rsa3072",
            KeyType::Ed25519 => "ed25519",
        }
    }

    /// Human description, as in reports and [`cert_key_description`]:
    /// `ECDSA P-256`, `ECDSA P-384`, `RSA 2048`, `RSA 3072` or `Ed25519`.
    pub fn describe(&self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => "ECDSA P-256",
            KeyType::EcdsaP384 => "ECDSA P-384",
            KeyType::Rsa2048 => "RSA 2048",
            KeyType::Rsa3072 => "RSA 3072",
            KeyType::Ed25519 => "Ed25519",
        }
    }

    /// The key type of a certificate's public key, or `None` when it is none
    /// of the supported types (or the certificate cannot be parsed).
    pub fn of_certificate(cert: &CertificateDer<'_>) -> Option<KeyType> {
        let (_, x509) = X509Certificate::from_der(cert.as_ref()).ok()?;
        describe_spki(x509.public_key()).0
    }

    fn signature_algorithm(&self) -> &'static SignatureAlgorithm {
        match self {
            KeyType::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyType::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            KeyType::Rsa2048 | KeyType::Rsa3072 => &rcgen::PKCS_RSA_SHA256,
            KeyType::Ed25519 => &rcgen::PKCS_ED25519,
        }
    }

    /// A fresh private key of this type (PKCS#8), e.g. to check what a crypto backend can sign
    /// with.
    pub fn sample_key(&self) -> Result<PrivateKeyDer<'static>, PkiError> {
        Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            self.generate_key()?.serialize_der(),
        )))
    }

    pub(crate) fn generate_key(&self) -> Result<KeyPair, rcgen::Error> {
        match self {
            KeyType::Rsa2048 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048),
            KeyType::Rsa3072 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_3072),
            other => KeyPair::generate_for(other.signature_algorithm()),
        }
    }

    pub(crate) fn is_rsa(&self) -> bool {
        matches!(self, KeyType::Rsa2048 | KeyType::Rsa3072)
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyType {
    type Err = PkiError;

    /// Parses a CLI/config name (case-insensitive); the error lists the valid names.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyType::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| PkiError::UnknownKeyType(s.to_owned()))
    }
}

/// A negative case of the trust model: a certificate that differs from the
/// good `edge` certificate (`edge.example.test`, Enterprise CA, serverAuth and
/// clientAuth, 30-day validity, the PKI's key type) in one defect only.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum BadCert {
    /// `edge.example.test`, valid from 60 days ago until 30 days ago.
    Expired,
    /// `edge.example.test`, valid from in 30 days until in 60 days.
    NotYetValid,
    /// `edge.example.test`, listed in the Enterprise CA's CRL.
    Revoked,
    /// `www.example.test` (`WRONG_NAME_DNS`), a name nobody dials and not in the topology.
    WrongName,
    /// `edge.example.test` issued by the Rogue root CA (`ROGUE_CA_CN`), which no trust store holds.
    UntrustedCa,
    /// `rogue.example.test` (`ROGUE_DNS`), Enterprise CA, otherwise valid, but not a topology server.
    NotInTopology,
    /// `edge.example.test` issued by the Partner CA, which may only vouch for `partner.example.test`.
    PartnerClaimsEnterprise,
}

impl BadCert {
    /// Every negative case, in CLI order.
    pub const ALL: [BadCert; 7] = [
        BadCert::Expired,
        BadCert::NotYetValid,
        BadCert::Revoked,
        BadCert::WrongName,
        BadCert::UntrustedCa,
        BadCert::NotInTopology,
        BadCert::PartnerClaimsEnterprise,
    ];

    /// The CLI/config/file name: `expired`, `not-yet-valid`, `revoked`,
    /// `wrong-name`, `untrusted-ca`, `not-in-topology` or `partner-claims-enterprise`.
    pub fn as_str(&self) -> &'static str {
        match self {
            BadCert::Expired => "expired",
            BadCert::NotYetValid => "not-yet-valid",
            BadCert::Revoked => "revoked",
            BadCert::WrongName => "wrong-name",
            BadCert::UntrustedCa => "untrusted-ca",
            BadCert::NotInTopology => "not-in-topology",
            BadCert::PartnerClaimsEnterprise => "partner-claims-enterprise",
        }
    }

    /// One line describing the single defect, for reports.
    pub fn describe(&self) -> &'static str {
        match self {
            BadCert::Expired => "edge.example.test certificate whose validity ended 30 days ago",
            BadCert::NotYetValid => "edge.example.test certificate whose validity starts in 30 days",
            BadCert::Revoked => "edge.example.test certificate revoked in the Enterprise CA's CRL",
            BadCert::WrongName => {
                "certificate for www.example.test, a name that is neither dialled nor in the topology"
            }
            BadCert::UntrustedCa => "edge.example.test certificate issued by a rogue root CA that no one trusts",
            BadCert::NotInTopology => {
                "valid Enterprise certificate for rogue.example.test, a server not in the topology"
            }
            BadCert::PartnerClaimsEnterprise => {
                "edge.example.test certificate issued by the Partner CA, outside the partner's domain"
            }
        }
    }
}

impl fmt::Display for BadCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BadCert {
    type Err = PkiError;

    /// Parses a name (case-insensitive); the error lists the valid names.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BadCert::ALL
            .into_iter()
            .find(|b| b.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| PkiError::UnknownBadCert(s.to_owned()))
    }
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

const ENTERPRISE: &str = "Enterprise CA";
const PARTNER: &str = "Partner CA";
const ENTERPRISE_ISSUING: &str = "Enterprise issuing CA";
const PARTNER_ISSUING: &str = "Partner issuing CA";

impl Pki {
    /// Generates a fresh PKI: two trusted roots and four leaves, the rogue
    /// root and the [`BadCert`] leaves, the two CRLs and the default topology,
    /// every key of `key_type`.
    ///
    /// Keys are generated on parallel threads (RSA key generation is slow).
    pub fn generate(key_type: KeyType) -> Result<Pki, PkiError> {
        Pki::generate_with(key_type, false)
    }

    /// As [`Pki::generate`]; with `intermediate`, each organisation's root issues an issuing CA
    /// (path length 0) that issues its leaves, AD CS style: the leaf chains carry the issuing
    /// CA, the issuing CAs have CRLs of their own (the Enterprise issuing CA's revokes
    /// [`BadCert::Revoked`]) and the topology is [`INTERMEDIATE_TOPOLOGY`].
    pub fn generate_with(key_type: KeyType, intermediate: bool) -> Result<Pki, PkiError> {
        let [
            ent_key,
            par_key,
            rogue_key,
            server_key,
            edge_key,
            partner_key,
            client_key,
            bad_keys @ ..,
        ] = generate_keys::<{ 7 + BadCert::ALL.len() }>(key_type)?;
        let bad_keys: [KeyPair; BadCert::ALL.len()] = bad_keys;
        let now = OffsetDateTime::now_utc();

        let ent_params = ca_params(ENTERPRISE_CA_CN, now)?;
        let enterprise_ca = ent_params.self_signed(&ent_key)?.der().clone();
        let ent = Issuer::new(ent_params, ent_key);

        let par_params = ca_params(PARTNER_CA_CN, now)?;
        let partner_ca = par_params.self_signed(&par_key)?.der().clone();
        let par = Issuer::new(par_params, par_key);

        let rogue_params = ca_params(ROGUE_CA_CN, now)?;
        let rogue_ca = rogue_params.self_signed(&rogue_key)?.der().clone();
        let rogue = Issuer::new(rogue_params, rogue_key);

        let (mut enterprise_issuing, mut partner_issuing) = (None, None);
        if intermediate {
            let [ent_issuing_key, par_issuing_key] = generate_keys::<2>(key_type)?;
            let issuing = |cn: &str, key: KeyPair, root: &Issuer<'_, KeyPair>| -> Result<_, PkiError> {
                let mut params = ca_params(cn, now)?;
                params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
                params.use_authority_key_identifier_extension = true;
                let cert = params.signed_by(&key, root)?.der().clone();
                Ok((cert, Issuer::new(params, key)))
            };
            enterprise_issuing = Some(issuing(ENTERPRISE_ISSUING_CN, ent_issuing_key, &ent)?);
            partner_issuing = Some(issuing(PARTNER_ISSUING_CN, par_issuing_key, &par)?);
        }
        // Who issues each organisation's leaves, and what their chains carry after the leaf.
        let (ent_leaves, ent_chain) = match &enterprise_issuing {
            Some((cert, issuer)) => (issuer, Some(cert)),
            None => (&ent, None),
        };
        let (par_leaves, par_chain) = match &partner_issuing {
            Some((cert, issuer)) => (issuer, Some(cert)),
            None => (&par, None),
        };
        let chained = |mut id: Identity, extra: Option<&CertificateDer<'static>>| {
            id.chain.extend(extra.cloned());
            id
        };

        let localhost = [IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)];
        let server = issue(
            ent_leaves,
            server_key,
            key_type,
            &LeafSpec {
                cn: SERVER_DNS,
                dns: &[SERVER_DNS],
                ips: &localhost,
                server_auth: true,
                client_auth: false,
                validity: None,
            },
            now,
        )?;
        let server = chained(server, ent_chain);
        let edge = issue(
            ent_leaves,
            edge_key,
            key_type,
            &LeafSpec {
                cn: EDGE_DNS,
                dns: &[EDGE_DNS],
                ips: &[],
                server_auth: true,
                client_auth: true,
                validity: None,
            },
            now,
        )?;
        let edge = chained(edge, ent_chain);
        let partner = issue(
            par_leaves,
            partner_key,
            key_type,
            &LeafSpec {
                cn: PARTNER_DNS,
                dns: &[PARTNER_DNS],
                ips: &[],
                server_auth: true,
                client_auth: true,
                validity: None,
            },
            now,
        )?;
        let partner = chained(partner, par_chain);
        let client = issue(
            ent_leaves,
            client_key,
            key_type,
            &LeafSpec {
                cn: CLIENT_CN,
                dns: &[CLIENT_DNS],
                ips: &[],
                server_auth: false,
                client_auth: true,
                validity: None,
            },
            now,
        )?;
        let client = chained(client, ent_chain);

        let mut bad = BTreeMap::new();
        for (which, key) in BadCert::ALL.into_iter().zip(bad_keys) {
            let (issuer, name, validity) = match which {
                BadCert::Expired => (
                    ent_leaves,
                    EDGE_DNS,
                    Some((now - Duration::days(60), now - Duration::days(30))),
                ),
                BadCert::NotYetValid => (
                    ent_leaves,
                    EDGE_DNS,
                    Some((now + Duration::days(30), now + Duration::days(60))),
                ),
                BadCert::Revoked => (ent_leaves, EDGE_DNS, None),
                BadCert::WrongName => (ent_leaves, WRONG_NAME_DNS, None),
                BadCert::UntrustedCa => (&rogue, EDGE_DNS, None),
                BadCert::NotInTopology => (ent_leaves, ROGUE_DNS, None),
                BadCert::PartnerClaimsEnterprise => (par_leaves, EDGE_DNS, None),
            };
            let extra = match which {
                BadCert::UntrustedCa => None,
                BadCert::PartnerClaimsEnterprise => par_chain,
                _ => ent_chain,
            };
            let spec = LeafSpec {
                cn: name,
                dns: &[name],
                ips: &[],
                server_auth: true,
                client_auth: true,
                validity,
            };
            bad.insert(which, chained(issue(issuer, key, key_type, &spec, now)?, extra));
        }

        let (this_update, next_update) = (now - BACKDATE, now + CRL_VALIDITY);
        let revoked: Vec<&CertificateDer<'_>> = bad[&BadCert::Revoked].chain.iter().take(1).collect();
        // The CA that issued the revoked leaf lists it; a root above an issuing CA lists nothing.
        let (root_revoked, issuing_revoked) = match enterprise_issuing {
            Some(_) => (&[][..], &revoked[..]),
            None => (&revoked[..], &[][..]),
        };
        let enterprise_crl = sign_crl(
            &ent,
            &enterprise_ca,
            ENTERPRISE,
            root_revoked,
            this_update,
            next_update,
            1,
        )?;
        let partner_crl = sign_crl(&par, &partner_ca, PARTNER, &[], this_update, next_update, 1)?;
        let crl_of = |ca: Option<(CertificateDer<'static>, Issuer<'static, KeyPair>)>,
                      name: &'static str,
                      revoked: &[&CertificateDer<'_>]|
         -> Result<Option<IssuingCa>, PkiError> {
            let Some((cert, issuer)) = ca else { return Ok(None) };
            let crl = sign_crl(&issuer, &cert, name, revoked, this_update, next_update, 1)?;
            Ok(Some(IssuingCa {
                cert,
                crl,
                issuer: Some(issuer),
            }))
        };
        let enterprise_issuing = crl_of(enterprise_issuing, ENTERPRISE_ISSUING, issuing_revoked)?;
        let partner_issuing = crl_of(partner_issuing, PARTNER_ISSUING, &[])?;

        Ok(Pki {
            key_type,
            enterprise_ca,
            partner_ca,
            server,
            edge,
            partner,
            client,
            bad,
            rogue_ca,
            enterprise_crl,
            partner_crl,
            topology: if intermediate {
                INTERMEDIATE_TOPOLOGY
            } else {
                DEFAULT_TOPOLOGY
            }
            .to_owned(),
            enterprise_issuing,
            partner_issuing,
            enterprise_issuer: Some(ent),
            partner_issuer: Some(par),
        })
    }

    /// Writes every file of [`files`] into `dir` (created if needed): PEM
    /// certificates, keys and CRLs, the topology file, and the `bad/`
    /// directory with a certificate and key per [`BadCert`] and the rogue CA
    /// certificate (its key is not written).
    ///
    /// Private keys are written with mode 0600 on Unix. CA key files are
    /// written only when the CA keys are available (always for a generated
    /// PKI). Existing files are overwritten.
    pub fn write_to(&self, dir: &Path) -> Result<(), PkiError> {
        fs::create_dir_all(dir).map_err(|source| PkiError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let certs_pem = |certs: &[CertificateDer<'_>]| -> String {
            certs.iter().map(|c| pem_encode("CERTIFICATE", c.as_ref())).collect()
        };
        let write = |name: &str, contents: &str, secret: bool| write_file(&dir.join(name), contents.as_bytes(), secret);

        write(
            files::ENTERPRISE_CA,
            &certs_pem(std::slice::from_ref(&self.enterprise_ca)),
            false,
        )?;
        write(
            files::PARTNER_CA,
            &certs_pem(std::slice::from_ref(&self.partner_ca)),
            false,
        )?;
        write(
            files::CA_BUNDLE,
            &certs_pem(&[self.enterprise_ca.clone(), self.partner_ca.clone()]),
            false,
        )?;
        if let Some(issuer) = &self.enterprise_issuer {
            write(files::ENTERPRISE_CA_KEY, &issuer.key().serialize_pem(), true)?;
        }
        if let Some(issuer) = &self.partner_issuer {
            write(files::PARTNER_CA_KEY, &issuer.key().serialize_pem(), true)?;
        }
        for (identity, cert_name, key_name) in self.identities() {
            write(cert_name, &certs_pem(&identity.chain), false)?;
            write(key_name, &key_pem(&identity.key), true)?;
        }
        write_crl(&dir.join(files::ENTERPRISE_CRL), &self.enterprise_crl)?;
        write_crl(&dir.join(files::PARTNER_CRL), &self.partner_crl)?;
        for (issuing, cert, key, crl) in [
            (
                &self.enterprise_issuing,
                files::ENTERPRISE_ISSUING_CA,
                files::ENTERPRISE_ISSUING_CA_KEY,
                files::ENTERPRISE_ISSUING_CRL,
            ),
            (
                &self.partner_issuing,
                files::PARTNER_ISSUING_CA,
                files::PARTNER_ISSUING_CA_KEY,
                files::PARTNER_ISSUING_CRL,
            ),
        ] {
            if let Some(i) = issuing {
                write(cert, &certs_pem(std::slice::from_ref(&i.cert)), false)?;
                if let Some(issuer) = &i.issuer {
                    write(key, &issuer.key().serialize_pem(), true)?;
                }
                write_crl(&dir.join(crl), &i.crl)?;
            }
        }
        write(files::TOPOLOGY, &self.topology, false)?;

        let bad_dir = dir.join(files::BAD_DIR);
        fs::create_dir_all(&bad_dir).map_err(|source| PkiError::Io { path: bad_dir, source })?;
        write(files::ROGUE_CA, &certs_pem(std::slice::from_ref(&self.rogue_ca)), false)?;
        for (which, identity) in &self.bad {
            write(&bad_cert_file(*which), &certs_pem(&identity.chain), false)?;
            write(&bad_key_file(*which), &key_pem(&identity.key), true)?;
        }
        Ok(())
    }

    /// Reads a PKI directory written by [`Pki::write_to`].
    ///
    /// The key type is detected from the Enterprise CA certificate and every
    /// other certificate must have the same. Each leaf key must match its
    /// certificate. The CA key files are optional: without them the PKI loads
    /// but [`Pki::issue_leaf`] and [`Pki::crl`] fail. `ca-bundle.pem` is not
    /// read (it is derived from the two CA files).
    ///
    /// The CRLs, the topology file and the `bad/` files are required. Each
    /// CRL must name its CA as issuer (its signature is left to the
    /// verifier); the topology must be valid TOML. Nothing specific to rcgen
    /// is needed, so directories made with the openssl CLI load too.
    pub fn load(dir: &Path) -> Result<Pki, PkiError> {
        let ent_path = dir.join(files::ENTERPRISE_CA);
        let par_path = dir.join(files::PARTNER_CA);
        let enterprise_ca = first_cert(&ent_path)?;
        let partner_ca = first_cert(&par_path)?;
        let key_type = key_type_of(&enterprise_ca, &ent_path.display().to_string())?;

        let load = |cert: &str, key: &str| load_identity(&dir.join(cert), &dir.join(key));
        let server = load(files::SERVER, files::SERVER_KEY)?;
        let edge = load(files::EDGE, files::EDGE_KEY)?;
        let partner = load(files::PARTNER, files::PARTNER_KEY)?;
        let client = load(files::CLIENT, files::CLIENT_KEY)?;
        let rogue_path = dir.join(files::ROGUE_CA);
        let rogue_ca = first_cert(&rogue_path)?;
        let mut bad = BTreeMap::new();
        for which in BadCert::ALL {
            bad.insert(which, load(&bad_cert_file(which), &bad_key_file(which))?);
        }

        let enterprise_crl = load_ca_crl(&dir.join(files::ENTERPRISE_CRL), &enterprise_ca)?;
        let partner_crl = load_ca_crl(&dir.join(files::PARTNER_CRL), &partner_ca)?;
        let topology_path = dir.join(files::TOPOLOGY);
        let topology = String::from_utf8(read_file(&topology_path)?).map_err(|e| PkiError::Topology {
            path: topology_path.clone(),
            reason: e.to_string(),
        })?;
        topology.parse::<toml::Table>().map_err(|e| PkiError::Topology {
            path: topology_path.clone(),
            reason: e.to_string(),
        })?;

        let mut checks: Vec<(String, &CertificateDer<'static>)> = vec![
            (par_path.display().to_string(), &partner_ca),
            (rogue_path.display().to_string(), &rogue_ca),
        ];
        let named = [
            (&server, files::SERVER.to_owned()),
            (&edge, files::EDGE.to_owned()),
            (&partner, files::PARTNER.to_owned()),
            (&client, files::CLIENT.to_owned()),
        ]
        .into_iter()
        .chain(bad.iter().map(|(which, id)| (id, bad_cert_file(*which))));
        for (identity, cert_name) in named {
            for cert in &identity.chain {
                checks.push((dir.join(&cert_name).display().to_string(), cert));
            }
        }
        for (what, cert) in checks {
            let found = key_type_of(cert, &what)?;
            if found != key_type {
                return Err(PkiError::MixedKeyTypes {
                    what,
                    expected: key_type,
                    found,
                });
            }
        }

        let enterprise_issuer = load_issuer(&enterprise_ca, &ent_path, &dir.join(files::ENTERPRISE_CA_KEY), key_type)?;
        let partner_issuer = load_issuer(&partner_ca, &par_path, &dir.join(files::PARTNER_CA_KEY), key_type)?;
        let issuing = |cert: &str, crl: &str, key: &str| -> Result<Option<IssuingCa>, PkiError> {
            let cert_path = dir.join(cert);
            if !cert_path.exists() {
                return Ok(None);
            }
            let cert = first_cert(&cert_path)?;
            let found = key_type_of(&cert, &cert_path.display().to_string())?;
            if found != key_type {
                return Err(PkiError::MixedKeyTypes {
                    what: cert_path.display().to_string(),
                    expected: key_type,
                    found,
                });
            }
            let crl = load_ca_crl(&dir.join(crl), &cert)?;
            let issuer = load_issuer(&cert, &cert_path, &dir.join(key), key_type)?;
            Ok(Some(IssuingCa { cert, crl, issuer }))
        };
        let enterprise_issuing = issuing(
            files::ENTERPRISE_ISSUING_CA,
            files::ENTERPRISE_ISSUING_CRL,
            files::ENTERPRISE_ISSUING_CA_KEY,
        )?;
        let partner_issuing = issuing(
            files::PARTNER_ISSUING_CA,
            files::PARTNER_ISSUING_CRL,
            files::PARTNER_ISSUING_CA_KEY,
        )?;

        Ok(Pki {
            key_type,
            enterprise_ca,
            partner_ca,
            server,
            edge,
            partner,
            client,
            bad,
            rogue_ca,
            enterprise_crl,
            partner_crl,
            topology,
            enterprise_issuing,
            partner_issuing,
            enterprise_issuer,
            partner_issuer,
        })
    }

    /// The negative case `which`.
    ///
    /// # Panics
    ///
    /// If its entry was removed from the public [`Pki::bad`] map (a generated
    /// or loaded PKI has every entry).
    pub fn bad(&self, which: BadCert) -> &Identity {
        &self.bad[&which]
    }

    /// Signs a new CRL of the CA `ca` listing `revoked` (reason
    /// keyCompromise, revoked at `this_update`), with CRL number `number`.
    /// In an intermediate PKI the CRL is the organisation's issuing CA's,
    /// which issued its leaves.
    ///
    /// Each revoked certificate's serial is read from the certificate, which
    /// must have been issued by that CA ([`PkiError::NotIssuedBy`]). Fails
    /// with [`PkiError::NoIssuerKey`] when the CA key was not loaded.
    pub fn crl(
        &self,
        ca: CaName,
        revoked: &[&CertificateDer<'_>],
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
        number: u64,
    ) -> Result<CertificateRevocationListDer<'static>, PkiError> {
        let (issuer, cert, name) = match (ca, &self.enterprise_issuing, &self.partner_issuing) {
            (CaName::Enterprise, Some(i), _) => (&i.issuer, &i.cert, ENTERPRISE_ISSUING),
            (CaName::Partner, _, Some(i)) => (&i.issuer, &i.cert, PARTNER_ISSUING),
            (CaName::Enterprise, None, _) => (&self.enterprise_issuer, &self.enterprise_ca, ENTERPRISE),
            (CaName::Partner, _, None) => (&self.partner_issuer, &self.partner_ca, PARTNER),
        };
        let issuer = issuer.as_ref().ok_or(PkiError::NoIssuerKey { ca: name })?;
        sign_crl(issuer, cert, name, revoked, this_update, next_update, number)
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

    /// Issues an extra leaf from the Enterprise CA (for tests and later
    /// trust-model work), with a fresh key of the PKI's key type.
    ///
    /// `dns_names` become subjectAltName DNS entries, except those that parse
    /// as an IP address, which become IP entries. The subject CN is the first
    /// name (or `sipbench leaf`). The EKU extension lists serverAuth and/or
    /// clientAuth as requested, and is omitted when neither is requested.
    pub fn issue_leaf(&self, dns_names: &[&str], client_auth: bool, server_auth: bool) -> Result<Identity, PkiError> {
        let (issuer, issuer_cert, name) = match &self.enterprise_issuing {
            Some(i) => (&i.issuer, &i.cert, ENTERPRISE_ISSUING),
            None => (&self.enterprise_issuer, &self.enterprise_ca, ENTERPRISE),
        };
        let issuer = issuer.as_ref().ok_or(PkiError::NoIssuerKey { ca: name })?;
        let mut dns = Vec::new();
        let mut ips = Vec::new();
        for name in dns_names {
            match name.parse::<IpAddr>() {
                Ok(ip) => ips.push(ip),
                Err(_) => dns.push(*name),
            }
        }
        let key = self.key_type.generate_key()?;
        let spec = LeafSpec {
            cn: dns_names.first().copied().unwrap_or("sipbench leaf"),
            dns: &dns,
            ips: &ips,
            server_auth,
            client_auth,
            validity: None,
        };
        let mut identity = issue(issuer, key, self.key_type, &spec, OffsetDateTime::now_utc())?;
        check_issued_by(&identity, issuer_cert, name)?;
        if self.enterprise_issuing.is_some() {
            identity.chain.push(issuer_cert.clone());
        }
        Ok(identity)
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

    fn identities(&self) -> [(&Identity, &'static str, &'static str); 4] {
        [
            (&self.server, files::SERVER, files::SERVER_KEY),
            (&self.edge, files::EDGE, files::EDGE_KEY),
            (&self.partner, files::PARTNER, files::PARTNER_KEY),
            (&self.client, files::CLIENT, files::CLIENT_KEY),
        ]
    }
}

/// Loads a certificate chain (PEM, one or more `CERTIFICATE` blocks, leaf
/// first) and its private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC).
///
/// `cert_path` and `key_path` may be the same file. Every certificate must
/// parse as X.509, the key must be usable by rustls (aws-lc-rs) and, where
/// this can be checked, match the leaf certificate. Errors name the file.
pub fn load_identity(cert_path: &Path, key_path: &Path) -> Result<Identity, PkiError> {
    let chain = read_certs(cert_path)?;
    let key_pem = read_file(key_path)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        pem::Error::NoItemsFound => PkiError::NoKey {
            path: key_path.to_path_buf(),
        },
        source => PkiError::BadPem {
            path: key_path.to_path_buf(),
            source,
        },
    })?;
    check_key_matches(&chain[0], &key, cert_path, key_path)?;
    Ok(Identity { chain, key })
}

/// Writes a CRL as PEM (`X509 CRL`) to `path`, atomically: the CRL goes to a
/// temporary file in the same directory, which is then renamed over `path`,
/// so a reader (hot reload) never sees a partial file.
pub fn write_crl(path: &Path, crl: &CertificateRevocationListDer<'_>) -> Result<(), PkiError> {
    let name = path.file_name().ok_or_else(|| PkiError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "not a file name"),
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    write_file(&tmp, pem_encode("X509 CRL", crl.as_ref()).as_bytes(), false)?;
    fs::rename(&tmp, path).map_err(|source| {
        let _ = fs::remove_file(&tmp);
        PkiError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Loads the CRLs of a file: PEM (one or more `X509 CRL` blocks) or a
/// single DER CRL.
///
/// Every CRL must parse; a file without any CRL is an error naming the file.
pub fn load_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, PkiError> {
    crls_from(&read_file(path)?, path)
}

/// The CRLs of a file's contents `data` (PEM `X509 CRL` blocks, or one DER CRL), as
/// [`load_crls`] reads them; `path` names the file in errors.
pub fn crls_from(data: &[u8], path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, PkiError> {
    let mut crls = CertificateRevocationListDer::pem_slice_iter(data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| PkiError::BadPem {
            path: path.to_path_buf(),
            source,
        })?;
    if crls.is_empty() && data.first() == Some(&0x30) {
        // Not PEM: a DER CRL (a SEQUENCE).
        crls.push(CertificateRevocationListDer::from(data.to_vec()));
    }
    if crls.is_empty() {
        return Err(PkiError::NoCrl {
            path: path.to_path_buf(),
        });
    }
    for (i, crl) in crls.iter().enumerate() {
        parse_crl(crl, &format!("{} (CRL #{})", path.display(), i + 1))?;
    }
    Ok(crls)
}

/// Loads a PEM bundle of CA certificates (one or more `CERTIFICATE` blocks).
///
/// Every certificate must parse as X.509.
pub fn load_ca_bundle(path: &Path) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    read_certs(path)
}

/// The certificates of a file's contents `data` (PEM `CERTIFICATE` blocks, each parsing as
/// X.509), as [`load_ca_bundle`] reads them; `path` names the file in errors.
pub fn certs_from(data: &[u8], path: &Path) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let certs = CertificateDer::pem_slice_iter(data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| PkiError::BadPem {
            path: path.to_path_buf(),
            source,
        })?;
    if certs.is_empty() {
        return Err(PkiError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    for (i, cert) in certs.iter().enumerate() {
        parse_cert(cert, &format!("{} (certificate #{})", path.display(), i + 1))?;
    }
    Ok(certs)
}

/// Builds a rustls root store from CA certificates.
///
/// Fails if `certs` is empty or if any certificate is not a usable trust
/// anchor.
pub fn roots_from(certs: &[CertificateDer<'static>]) -> Result<RootCertStore, PkiError> {
    if certs.is_empty() {
        return Err(PkiError::Roots {
            reason: "no CA certificate given".to_owned(),
        });
    }
    let mut store = RootCertStore::empty();
    for (i, cert) in certs.iter().enumerate() {
        store.add(cert.clone()).map_err(|e| PkiError::Roots {
            reason: format!("certificate #{} ({}): {e}", i + 1, subject_or_placeholder(cert)),
        })?;
    }
    Ok(store)
}

/// Describes a certificate's public key for reports: `ECDSA P-256`,
/// `ECDSA P-384`, `ECDSA P-521`, `RSA 2048`, `RSA 3072` (any RSA size),
/// `RSA-PSS <bits>`, `Ed25519`, `Ed448`, or `unknown (<oid>)` (for an EC key
/// on another curve the curve OID). An unparseable certificate gives
/// `unknown (unparseable certificate)`.
pub fn cert_key_description(cert: &CertificateDer<'_>) -> String {
    match X509Certificate::from_der(cert.as_ref()) {
        Ok((_, x509)) => describe_spki(x509.public_key()).1,
        Err(_) => "unknown (unparseable certificate)".to_owned(),
    }
}

/// What reports and audits need to know about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    /// Subject name, RFC 4514 style (`CN=..., O=...`).
    pub subject: String,
    /// Issuer name, RFC 4514 style.
    pub issuer: String,
    /// subjectAltName DNS entries.
    pub dns_names: Vec<String>,
    /// subjectAltName IP address entries.
    pub ip_addresses: Vec<IpAddr>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// Public key, as given by [`cert_key_description`].
    pub key: String,
}

/// Summarizes a certificate (subject, issuer, SANs, validity, key).
pub fn summarize(cert: &CertificateDer<'_>) -> Result<CertSummary, PkiError> {
    let x509 = parse_cert(cert, "certificate")?;
    let mut dns_names = Vec::new();
    let mut ip_addresses = Vec::new();
    let san = x509.subject_alternative_name().map_err(|e| PkiError::Parse {
        what: "certificate".to_owned(),
        reason: format!("subjectAltName: {e}"),
    })?;
    if let Some(san) = san {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(dns) => dns_names.push((*dns).to_owned()),
                GeneralName::IPAddress(bytes) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                        ip_addresses.push(IpAddr::from(v4));
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                        ip_addresses.push(IpAddr::from(v6));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(CertSummary {
        subject: x509.subject().to_string(),
        issuer: x509.issuer().to_string(),
        dns_names,
        ip_addresses,
        not_before: x509.validity().not_before.to_datetime(),
        not_after: x509.validity().not_after.to_datetime(),
        key: describe_spki(x509.public_key()).1,
    })
}

// ---------------------------------------------------------------------------
// Generation helpers

struct LeafSpec<'a> {
    cn: &'a str,
    dns: &'a [&'a str],
    ips: &'a [IpAddr],
    server_auth: bool,
    client_auth: bool,
    /// `notBefore` and `notAfter`; `None` for the default (backdated, [`LEAF_VALIDITY`]).
    validity: Option<(OffsetDateTime, OffsetDateTime)>,
}

/// Generates `N` keys, in parallel threads where possible.
fn generate_keys<const N: usize>(key_type: KeyType) -> Result<[KeyPair; N], PkiError> {
    let results: Vec<Result<KeyPair, PkiError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..N)
            .map(|_| {
                std::thread::Builder::new()
                    .name("pki-keygen".to_owned())
                    .spawn_scoped(scope, move || key_type.generate_key())
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| match handle {
                Ok(h) => match h.join() {
                    Ok(result) => result.map_err(PkiError::from),
                    Err(_) => Err(PkiError::Generate(rcgen::Error::KeyGenerationUnavailable)),
                },
                // Could not spawn a thread: generate inline.
                Err(_) => key_type.generate_key().map_err(PkiError::from),
            })
            .collect()
    });
    let keys = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    keys.try_into()
        .map_err(|_| PkiError::Generate(rcgen::Error::KeyGenerationUnavailable))
}

pub(crate) fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    if provider.secure_random.fill(&mut bytes).is_err() {
        // Extremely unlikely; fall back to a time-based value (still unique per call site).
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
        bytes = nanos.to_be_bytes();
    }
    // Positive, non-zero, and 16 bytes long when DER-encoded.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, ORGANIZATION);
    dn
}

fn ca_params(cn: &str, now: OffsetDateTime) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = dn(cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    params.not_before = now - BACKDATE;
    params.not_after = now + CA_VALIDITY;
    params.serial_number = Some(random_serial());
    Ok(params)
}

fn issue(
    issuer: &Issuer<'_, KeyPair>,
    key: KeyPair,
    key_type: KeyType,
    spec: &LeafSpec<'_>,
    now: OffsetDateTime,
) -> Result<Identity, PkiError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = dn(spec.cn);
    for name in spec.dns {
        let ia5 = rcgen::string::Ia5String::try_from(*name).map_err(|e| PkiError::InvalidName {
            name: (*name).to_owned(),
            reason: e.to_string(),
        })?;
        if name.is_empty() {
            return Err(PkiError::InvalidName {
                name: String::new(),
                reason: "empty DNS name".to_owned(),
            });
        }
        params.subject_alt_names.push(SanType::DnsName(ia5));
    }
    for ip in spec.ips {
        params.subject_alt_names.push(SanType::IpAddress(*ip));
    }
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if key_type.is_rsa() {
        params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
    }
    if spec.server_auth {
        params.extended_key_usages.push(ExtendedKeyUsagePurpose::ServerAuth);
    }
    if spec.client_auth {
        params.extended_key_usages.push(ExtendedKeyUsagePurpose::ClientAuth);
    }
    params.use_authority_key_identifier_extension = true;
    (params.not_before, params.not_after) = spec.validity.unwrap_or((now - BACKDATE, now + LEAF_VALIDITY));
    params.serial_number = Some(random_serial());
    let cert = params.signed_by(&key, issuer)?;
    Ok(Identity {
        chain: vec![cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    })
}

/// Signs a CRL of `ca` (whose rcgen issuer is `issuer`) listing `revoked`.
pub(crate) fn sign_crl(
    issuer: &Issuer<'_, KeyPair>,
    ca: &CertificateDer<'_>,
    ca_name: &'static str,
    revoked: &[&CertificateDer<'_>],
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
    number: u64,
) -> Result<CertificateRevocationListDer<'static>, PkiError> {
    let ca_x509 = parse_cert(ca, ca_name)?;
    let mut revoked_certs = Vec::with_capacity(revoked.len());
    for (i, cert) in revoked.iter().enumerate() {
        let what = format!("revoked certificate #{}", i + 1);
        let x509 = parse_cert(cert, &what)?;
        if x509.issuer().as_raw() != ca_x509.subject().as_raw() {
            return Err(PkiError::NotIssuedBy {
                what: format!("{what} ({})", x509.subject()),
                ca: ca_name,
            });
        }
        revoked_certs.push(RevokedCertParams {
            serial_number: SerialNumber::from_slice(x509.raw_serial()),
            revocation_time: this_update,
            reason_code: Some(RevocationReason::KeyCompromise),
            invalidity_date: None,
        });
    }
    let params = CertificateRevocationListParams {
        this_update,
        next_update,
        crl_number: SerialNumber::from(number),
        issuing_distribution_point: None,
        revoked_certs,
        // The authorityKeyIdentifier must match the CA's subjectKeyIdentifier.
        key_identifier_method: key_id_method(&ca_x509),
    };
    Ok(params.signed_by(issuer)?.der().clone())
}

/// The key identifier of a CA certificate (its subjectKeyIdentifier, else SHA-256).
pub(crate) fn key_id_method(x509: &X509Certificate<'_>) -> KeyIdMethod {
    x509.iter_extensions()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(KeyIdMethod::PreSpecified(id.0.to_vec())),
            _ => None,
        })
        .unwrap_or(KeyIdMethod::Sha256)
}

/// Checks that a freshly issued leaf names the CA exactly as the CA names
/// itself (webpki matches names byte for byte).
fn check_issued_by(identity: &Identity, ca: &CertificateDer<'_>, ca_name: &'static str) -> Result<(), PkiError> {
    let ca_x509 = parse_cert(ca, ca_name)?;
    let leaf = identity.leaf().ok_or(PkiError::IssuerName {
        ca: ca_name,
        reason: "no certificate was issued".to_owned(),
    })?;
    let leaf_x509 = parse_cert(leaf, "issued certificate")?;
    if leaf_x509.issuer().as_raw() != ca_x509.subject().as_raw() {
        return Err(PkiError::IssuerName {
            ca: ca_name,
            reason: format!(
                "its subject name `{}` uses an encoding that cannot be reproduced",
                ca_x509.subject()
            ),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Loading helpers

fn read_file(path: &Path) -> Result<Vec<u8>, PkiError> {
    fs::read(path).map_err(|source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    certs_from(&read_file(path)?, path)
}

fn parse_crl<'a>(
    crl: &'a CertificateRevocationListDer<'_>,
    what: &str,
) -> Result<CertificateRevocationList<'a>, PkiError> {
    CertificateRevocationList::from_der(crl.as_ref())
        .map(|(_, crl)| crl)
        .map_err(|e| PkiError::Crl {
            what: what.to_owned(),
            reason: e.to_string(),
        })
}

/// Loads the (first) CRL of `path` and checks that `ca` issued it (by name).
fn load_ca_crl(path: &Path, ca: &CertificateDer<'_>) -> Result<CertificateRevocationListDer<'static>, PkiError> {
    let crl = load_crls(path)?.swap_remove(0);
    let what = path.display().to_string();
    let ca_x509 = parse_cert(ca, &what)?;
    let parsed = parse_crl(&crl, &what)?;
    if parsed.issuer().as_raw() != ca_x509.subject().as_raw() {
        return Err(PkiError::Crl {
            what,
            reason: format!("issued by `{}`, not by its CA `{}`", parsed.issuer(), ca_x509.subject()),
        });
    }
    Ok(crl)
}

fn first_cert(path: &Path) -> Result<CertificateDer<'static>, PkiError> {
    let mut certs = read_certs(path)?;
    Ok(certs.swap_remove(0))
}

fn parse_cert<'a>(cert: &'a CertificateDer<'_>, what: &str) -> Result<X509Certificate<'a>, PkiError> {
    X509Certificate::from_der(cert.as_ref())
        .map(|(_, x509)| x509)
        .map_err(|e| PkiError::Parse {
            what: what.to_owned(),
            reason: e.to_string(),
        })
}

fn key_type_of(cert: &CertificateDer<'_>, what: &str) -> Result<KeyType, PkiError> {
    let x509 = parse_cert(cert, what)?;
    match describe_spki(x509.public_key()) {
        (Some(key_type), _) => Ok(key_type),
        (None, description) => Err(PkiError::UnsupportedKeyType {
            what: what.to_owned(),
            description,
        }),
    }
}

fn provider() -> CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

/// Loads `key` with the aws-lc-rs key provider and checks it matches `cert`.
fn check_key_matches(
    cert: &CertificateDer<'_>,
    key: &PrivateKeyDer<'_>,
    cert_path: &Path,
    key_path: &Path,
) -> Result<(), PkiError> {
    let signing_key = provider()
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|e| PkiError::BadKey {
            path: key_path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let x509 = parse_cert(cert, &cert_path.display().to_string())?;
    // Keys whose public half rustls cannot derive are accepted unchecked.
    if let Some(spki) = signing_key.public_key()
        && spki.as_ref() != x509.public_key().raw
    {
        return Err(PkiError::KeyMismatch {
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
        });
    }
    Ok(())
}

/// Loads a CA key (if its file exists) and rebuilds the rcgen issuer.
fn load_issuer(
    ca: &CertificateDer<'static>,
    cert_path: &Path,
    key_path: &Path,
    key_type: KeyType,
) -> Result<Option<Issuer<'static, KeyPair>>, PkiError> {
    let data = match fs::read(key_path) {
        Ok(data) => data,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PkiError::Io {
                path: key_path.to_path_buf(),
                source,
            });
        }
    };
    let key = PrivateKeyDer::from_pem_slice(&data).map_err(|e| match e {
        pem::Error::NoItemsFound => PkiError::NoKey {
            path: key_path.to_path_buf(),
        },
        source => PkiError::BadPem {
            path: key_path.to_path_buf(),
            source,
        },
    })?;
    check_key_matches(ca, &key, cert_path, key_path)?;
    issuer_for(ca, &key, key_type, &cert_path.display().to_string())
        .map(Some)
        .map_err(|e| match e {
            PkiError::BadKey { reason, .. } => PkiError::BadKey {
                path: key_path.to_path_buf(),
                reason,
            },
            other => other,
        })
}

/// An rcgen issuer for the CA certificate `ca` and its private key `key` (of `key_type`), to
/// issue certificates and CRLs that name the CA exactly as it names itself. `what` names the
/// certificate in errors. The key is not checked against the certificate here.
pub fn issuer_for(
    ca: &CertificateDer<'_>,
    key: &PrivateKeyDer<'_>,
    key_type: KeyType,
    what: &str,
) -> Result<Issuer<'static, KeyPair>, PkiError> {
    let key_pair =
        KeyPair::from_der_and_sign_algo(key, key_type.signature_algorithm()).map_err(|e| PkiError::BadKey {
            path: PathBuf::from(what),
            reason: e.to_string(),
        })?;
    let x509 = parse_cert(ca, what)?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = dn_from_x509(x509.subject()).map_err(|reason| PkiError::Parse {
        what: what.to_owned(),
        reason,
    })?;
    params.key_identifier_method = key_id_method(&x509);
    params.key_usages = match x509.key_usage() {
        Ok(Some(ku)) => {
            let mut usages = Vec::new();
            if ku.value.digital_signature() {
                usages.push(KeyUsagePurpose::DigitalSignature);
            }
            if ku.value.key_cert_sign() {
                usages.push(KeyUsagePurpose::KeyCertSign);
            }
            if ku.value.crl_sign() {
                usages.push(KeyUsagePurpose::CrlSign);
            }
            usages
        }
        _ => vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign],
    };
    Ok(Issuer::new(params, key_pair))
}

/// An rcgen distinguished name equal to a parsed X.509 name (see [`dn_from_x509`]).
pub(crate) fn dn_of(name: &X509Name<'_>) -> Result<DistinguishedName, String> {
    dn_from_x509(name)
}

/// Rebuilds an rcgen distinguished name from a parsed X.509 name, keeping
/// attribute order and string types. Names rcgen cannot reproduce exactly
/// (multi-valued RDNs, repeated attribute types) are caught later by
/// [`check_issued_by`].
fn dn_from_x509(name: &X509Name<'_>) -> Result<DistinguishedName, String> {
    let mut dn = DistinguishedName::new();
    for rdn in name.iter() {
        for attr in rdn.iter() {
            let arcs: Vec<u64> = attr
                .attr_type()
                .iter()
                .ok_or_else(|| format!("unsupported name attribute {}", attr.attr_type()))?
                .collect();
            let ty = DnType::from_oid(&arcs);
            let value = attr.attr_value();
            let text = || {
                std::str::from_utf8(value.data)
                    .map(str::to_owned)
                    .map_err(|_| format!("name attribute {} is not valid text", attr.attr_type()))
            };
            let bad = |e: rcgen::Error| e.to_string();
            let dn_value = match value.tag() {
                Tag::PrintableString => DnValue::PrintableString(text()?.try_into().map_err(bad)?),
                Tag::Ia5String => DnValue::Ia5String(text()?.try_into().map_err(bad)?),
                Tag::Utf8String => DnValue::Utf8String(text()?),
                Tag::TeletexString => DnValue::TeletexString(text()?.try_into().map_err(bad)?),
                tag => {
                    return Err(format!(
                        "name attribute {} has unsupported string type {tag}",
                        attr.attr_type()
                    ));
                }
            };
            dn.push(ty, dn_value);
        }
    }
    Ok(dn)
}

/// Returns the supported key type (if any) and the report description.
fn describe_spki(spki: &SubjectPublicKeyInfo<'_>) -> (Option<KeyType>, String) {
    let alg = &spki.algorithm.algorithm;
    if *alg == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok());
        return match curve {
            Some(c) if c == OID_EC_P256 => (Some(KeyType::EcdsaP256), "ECDSA P-256".to_owned()),
            Some(c) if c == OID_NIST_EC_P384 => (Some(KeyType::EcdsaP384), "ECDSA P-384".to_owned()),
            Some(c) if c == OID_NIST_EC_P521 => (None, "ECDSA P-521".to_owned()),
            Some(c) => (None, format!("unknown ({c})")),
            None => (None, format!("unknown ({alg})")),
        };
    }
    if *alg == OID_PKCS1_RSAENCRYPTION || *alg == OID_PKCS1_RSASSAPSS {
        let modulus = match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => Some(rsa.modulus),
            // x509-parser only parses rsaEncryption keys; RSASSA-PSS keys have the same body.
            _ => x509_parser::public_key::RSAPublicKey::from_der(&spki.subject_public_key.data)
                .ok()
                .map(|(_, rsa)| rsa.modulus),
        };
        let Some(bits) = modulus.map(modulus_bits) else {
            return (None, format!("unknown ({alg})"));
        };
        if *alg == OID_PKCS1_RSASSAPSS {
            return (None, format!("RSA-PSS {bits}"));
        }
        let key_type = match bits {
            2048 => Some(KeyType::Rsa2048),
            3072 => Some(KeyType::Rsa3072),
            _ => None,
        };
        return (key_type, format!("RSA {bits}"));
    }
    if *alg == OID_SIG_ED25519 {
        return (Some(KeyType::Ed25519), "Ed25519".to_owned());
    }
    if *alg == OID_SIG_ED448 {
        return (None, "Ed448".to_owned());
    }
    (None, format!("unknown ({alg})"))
}

fn modulus_bits(modulus: &[u8]) -> usize {
    let trimmed = match modulus.iter().position(|b| *b != 0) {
        Some(i) => &modulus[i..],
        None => return 0,
    };
    trimmed.len() * 8 - trimmed[0].leading_zeros() as usize
}

fn subject_or_placeholder(cert: &CertificateDer<'_>) -> String {
    match X509Certificate::from_der(cert.as_ref()) {
        Ok((_, x509)) => x509.subject().to_string(),
        Err(_) => "<unparseable>".to_owned(),
    }
}

fn key_format_name(key: &PrivateKeyDer<'_>) -> &'static str {
    match key {
        PrivateKeyDer::Pkcs1(_) => "PKCS#1 RSA key",
        PrivateKeyDer::Sec1(_) => "SEC1 EC key",
        PrivateKeyDer::Pkcs8(_) => "PKCS#8 key",
        _ => "private key",
    }
}

// ---------------------------------------------------------------------------
// Writing helpers

fn key_pem(key: &PrivateKeyDer<'_>) -> String {
    let label = match key {
        PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
        PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
        _ => "PRIVATE KEY",
    };
    pem_encode(label, key.secret_der())
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = Vec::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]);
            } else {
                b64.push(b'=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.chunks(64) {
        // The alphabet is ASCII, so this never fails.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn write_file(path: &Path, contents: &[u8], secret: bool) -> Result<(), PkiError> {
    use std::io::Write as _;
    let err = |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(err)?;
    #[cfg(unix)]
    if secret {
        // `mode` only applies when the file is created: tighten existing files too.
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    file.write_all(contents).map_err(err)?;
    file.sync_all().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use rustls::server::WebPkiClientVerifier;
    use rustls::{CertificateError, ClientConfig, ServerConfig, SupportedProtocolVersion};
    use rustls_pki_types::{PrivatePkcs1KeyDer, PrivateSec1KeyDer, ServerName};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

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

    fn serial(cert: &CertificateDer<'_>) -> Vec<u8> {
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
    fn verify_client(
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

    #[test]
    fn bad_cert_names() {
        use clap::ValueEnum as _;
        let expected = [
            "expired",
            "not-yet-valid",
            "revoked",
            "wrong-name",
            "untrusted-ca",
            "not-in-topology",
            "partner-claims-enterprise",
        ];
        assert_eq!(BadCert::value_variants(), &BadCert::ALL);
        for (which, name) in BadCert::ALL.into_iter().zip(expected) {
            assert_eq!(which.as_str(), name);
            assert_eq!(which.to_string(), name);
            assert!(!which.describe().is_empty() && !which.describe().contains('\n'));
            assert_eq!(name.parse::<BadCert>().expect("parse"), which);
            assert_eq!(name.to_uppercase().parse::<BadCert>().expect("parse"), which);
            assert_eq!(which.to_possible_value().expect("clap").get_name(), name);
            assert_eq!(serde_json::to_string(&which).expect("json"), format!("\"{name}\""));
            assert_eq!(bad_cert_file(which), format!("bad/{name}.pem"));
            assert_eq!(bad_key_file(which), format!("bad/{name}.key"));
        }
        let err = "bogus".parse::<BadCert>().expect_err("invalid").to_string();
        for name in expected {
            assert!(err.contains(name), "{err}");
        }
        assert!(err.contains("bogus"), "{err}");
        // The topology is valid TOML naming the three servers.
        let topology: toml::Table = DEFAULT_TOPOLOGY.parse().expect("toml");
        let servers = topology["server"].as_array().expect("servers");
        let fqdns: Vec<_> = servers.iter().map(|s| s["fqdn"].as_str().expect("fqdn")).collect();
        assert_eq!(fqdns, [SERVER_DNS, EDGE_DNS, PARTNER_DNS]);
        assert!(!DEFAULT_TOPOLOGY.contains(WRONG_NAME_DNS) && !DEFAULT_TOPOLOGY.contains(ROGUE_DNS));
    }

    /// Each bad certificate differs from the good edge certificate in its one defect only.
    #[test]
    fn bad_certs_have_one_defect() {
        let pki = Pki::generate(KeyType::EcdsaP256).expect("generate");
        let now = OffsetDateTime::now_utc();
        let edge_x509 = parse_cert(&pki.edge.chain[0], "edge").expect("edge");
        let edge = summarize(&pki.edge.chain[0]).expect("edge");
        let ent = format!("CN={ENTERPRISE_CA_CN}, O={ORGANIZATION}");
        let par = format!("CN={PARTNER_CA_CN}, O={ORGANIZATION}");
        let rogue = summarize(&pki.rogue_ca).expect("rogue");
        assert_eq!(rogue.subject, format!("CN={ROGUE_CA_CN}, O={ORGANIZATION}"));
        assert_eq!(rogue.issuer, rogue.subject);
        assert_eq!(KeyType::of_certificate(&pki.rogue_ca), Some(KeyType::EcdsaP256));
        assert!(
            !pki.roots()
                .roots
                .iter()
                .any(|r| r.subject.as_ref() == parse_cert(&pki.rogue_ca, "rogue").expect("rogue").subject().as_raw())
        );

        let near = |a: OffsetDateTime, b: OffsetDateTime| (a - b).abs() < Duration::minutes(5);
        let eku = |x: &X509Certificate<'_>| {
            let e = x.extended_key_usage().expect("eku").expect("eku present").value;
            (e.server_auth, e.client_auth, e.other.len())
        };
        assert_eq!(eku(&edge_x509), (true, true, 0));
        for which in BadCert::ALL {
            let id = pki.bad(which);
            assert_eq!(id.chain.len(), 1, "{which}");
            let cert = &id.chain[0];
            let s = summarize(cert).expect("summary");
            let x509 = parse_cert(cert, which.as_str()).expect("parse");
            assert_eq!(eku(&x509), eku(&edge_x509), "{which}: EKU");
            assert_eq!(s.key, edge.key, "{which}: key type");
            assert!(!x509.is_ca(), "{which}");
            assert_ne!(serial(cert), serial(&pki.edge.chain[0]), "{which}: own serial");
            assert_ne!(id.key.secret_der(), pki.edge.key.secret_der(), "{which}: own key");
            let (name, issuer, not_before, not_after) = match which {
                BadCert::Expired => (EDGE_DNS, &ent, now - Duration::days(60), now - Duration::days(30)),
                BadCert::NotYetValid => (EDGE_DNS, &ent, now + Duration::days(30), now + Duration::days(60)),
                BadCert::Revoked => (EDGE_DNS, &ent, edge.not_before, edge.not_after),
                BadCert::WrongName => (WRONG_NAME_DNS, &ent, edge.not_before, edge.not_after),
                BadCert::UntrustedCa => (EDGE_DNS, &rogue.subject, edge.not_before, edge.not_after),
                BadCert::NotInTopology => (ROGUE_DNS, &ent, edge.not_before, edge.not_after),
                BadCert::PartnerClaimsEnterprise => (EDGE_DNS, &par, edge.not_before, edge.not_after),
            };
            assert_eq!(s.subject, format!("CN={name}, O={ORGANIZATION}"), "{which}: subject");
            assert_eq!(s.dns_names, vec![name.to_owned()], "{which}: SAN");
            assert!(s.ip_addresses.is_empty(), "{which}: SAN IPs");
            assert_eq!(&s.issuer, issuer, "{which}: issuer");
            assert!(near(s.not_before, not_before), "{which}: notBefore {}", s.not_before);
            assert!(near(s.not_after, not_after), "{which}: notAfter {}", s.not_after);
            assert_eq!(
                s.not_after - s.not_before,
                edge.not_after - edge.not_before
                    + if matches!(which, BadCert::Expired | BadCert::NotYetValid) {
                        -BACKDATE
                    } else {
                        Duration::ZERO
                    },
                "{which}: span"
            );
        }
    }

    /// The generated CRLs: the Enterprise CRL lists exactly the revoked
    /// certificate, the Partner CRL nothing; `crl()` signs new ones.
    #[test]
    fn crls() {
        let pki = Pki::generate(KeyType::EcdsaP256).expect("generate");
        let now = OffsetDateTime::now_utc();
        let ent = parse_cert(&pki.enterprise_ca, "ent").expect("ent");
        let par = parse_cert(&pki.partner_ca, "par").expect("par");
        let ku = ent.key_usage().expect("ku").expect("ku present").value;
        assert!(ku.crl_sign() && ku.key_cert_sign() && ku.digital_signature());

        let crl = parse_crl(&pki.enterprise_crl, "enterprise").expect("parse");
        assert_eq!(crl.issuer().as_raw(), ent.subject().as_raw());
        let revoked: Vec<_> = crl.iter_revoked_certificates().collect();
        assert_eq!(revoked.len(), 1);
        assert_eq!(
            revoked[0].raw_serial(),
            serial(&pki.bad(BadCert::Revoked).chain[0]).as_slice()
        );
        let (_, reason) = revoked[0].reason_code().expect("reason");
        assert_eq!(reason, x509_parser::x509::ReasonCode::KeyCompromise);
        assert_eq!(crl.crl_number().map(|n| n.to_string()), Some("1".to_owned()));
        let this_update = crl.last_update().to_datetime();
        let next_update = crl.next_update().expect("nextUpdate").to_datetime();
        assert!((this_update - (now - Duration::hours(1))).abs() < Duration::minutes(5));
        assert!((next_update - (now + Duration::days(7))).abs() < Duration::minutes(5));
        let crl = parse_crl(&pki.partner_crl, "partner").expect("parse");
        assert_eq!(crl.issuer().as_raw(), par.subject().as_raw());
        assert_eq!(crl.iter_revoked_certificates().count(), 0);
        assert_eq!(crl.crl_number().map(|n| n.to_string()), Some("1".to_owned()));

        // Hot reload: revoke the good edge certificate with a new CRL.
        let (t0, t1) = (now - Duration::minutes(1), now + Duration::days(1));
        let edge = &pki.edge.chain[0];
        let revoked_cert = &pki.bad(BadCert::Revoked).chain[0];
        let new = pki
            .crl(CaName::Enterprise, &[edge, revoked_cert], t0, t1, 2)
            .expect("crl");
        let parsed = parse_crl(&new, "new").expect("parse");
        let serials: Vec<_> = parsed
            .iter_revoked_certificates()
            .map(|r| r.raw_serial().to_vec())
            .collect();
        assert_eq!(serials, vec![serial(edge), serial(revoked_cert)]);
        assert_eq!(parsed.crl_number().map(|n| n.to_string()), Some("2".to_owned()));
        let crls = vec![new.clone(), pki.partner_crl.clone()];
        assert!(matches!(
            verify_client(&pki, crls, edge),
            Err(rustls::Error::InvalidCertificate(CertificateError::Revoked))
        ));
        // Revoking the partner certificate with the Partner CA.
        let new_partner = pki
            .crl(CaName::Partner, &[&pki.partner.chain[0]], t0, t1, 2)
            .expect("crl");
        let crls = vec![pki.enterprise_crl.clone(), new_partner];
        assert!(matches!(
            verify_client(&pki, crls, &pki.partner.chain[0]),
            Err(rustls::Error::InvalidCertificate(CertificateError::Revoked))
        ));
        assert_eq!(
            verify_client(&pki, vec![pki.enterprise_crl.clone(), pki.partner_crl.clone()], edge),
            Ok(())
        );
        // A CA cannot revoke what it did not issue; nextUpdate must follow thisUpdate.
        assert!(matches!(
            pki.crl(CaName::Partner, &[edge], t0, t1, 2),
            Err(PkiError::NotIssuedBy { .. })
        ));
        assert!(matches!(
            pki.crl(CaName::Enterprise, &[], t1, t0, 2),
            Err(PkiError::Generate(_))
        ));

        // write_crl / load_crls: PEM (atomic), DER, and errors naming the file.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("enterprise-ca.crl");
        write_crl(&path, &pki.enterprise_crl).expect("write");
        write_crl(&path, &new).expect("overwrite");
        let text = fs::read_to_string(&path).expect("read");
        assert!(text.starts_with("-----BEGIN X509 CRL-----\n"), "{text}");
        assert_eq!(load_crls(&path).expect("load"), vec![new.clone()]);
        let entries: Vec<_> = fs::read_dir(dir.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(
            entries,
            vec![std::ffi::OsString::from("enterprise-ca.crl")],
            "no temporary file left"
        );
        let der = dir.path().join("crl.der");
        fs::write(&der, new.as_ref()).expect("write");
        assert_eq!(load_crls(&der).expect("load"), vec![new.clone()]);
        let both = dir.path().join("both.pem");
        fs::write(
            &both,
            format!(
                "{}{}",
                pem_encode("X509 CRL", &pki.enterprise_crl),
                pem_encode("X509 CRL", &pki.partner_crl)
            ),
        )
        .expect("write");
        assert_eq!(
            load_crls(&both).expect("load"),
            vec![pki.enterprise_crl.clone(), pki.partner_crl.clone()]
        );
        let empty = dir.path().join("empty.crl");
        fs::write(&empty, "nothing\n").expect("write");
        let e = load_crls(&empty).expect_err("empty");
        assert!(
            matches!(e, PkiError::NoCrl { .. }) && e.to_string().contains("empty.crl"),
            "{e}"
        );
        let junk = dir.path().join("junk.crl");
        fs::write(&junk, pem_encode("X509 CRL", b"\x30\x03\x02\x01\x00")).expect("write");
        let e = load_crls(&junk).expect_err("junk");
        assert!(
            matches!(e, PkiError::Crl { .. }) && e.to_string().contains("junk.crl"),
            "{e}"
        );
        let e = load_crls(&dir.path().join("missing.crl")).expect_err("missing");
        assert!(
            matches!(e, PkiError::Io { .. }) && e.to_string().contains("missing.crl"),
            "{e}"
        );
    }

    #[test]
    fn key_type_names() {
        use clap::ValueEnum as _;
        assert_eq!(KeyType::default(), KeyType::EcdsaP256);
        let expected = [
            ("ecdsa-p256", "ECDSA P-256"),
            ("ecdsa-p384", "ECDSA P-384"),
            ("rsa2048", "RSA 2048"),
            ("rsa3072", "RSA 3072"),
            ("ed25519", "Ed25519"),
        ];
        assert_eq!(KeyType::value_variants(), &KeyType::ALL);
        for (kt, (name, description)) in KeyType::ALL.into_iter().zip(expected) {
            assert_eq!(kt.as_str(), name);
            assert_eq!(kt.to_string(), name);
            assert_eq!(kt.describe(), description);
            assert_eq!(name.parse::<KeyType>().expect("parse"), kt);
            assert_eq!(name.to_uppercase().parse::<KeyType>().expect("parse"), kt);
            let value = kt.to_possible_value().expect("clap value");
            assert_eq!(value.get_name(), name);
            assert_eq!(<KeyType as clap::ValueEnum>::from_str(name, false).ok(), Some(kt));
        }
        let err = "rsa1024".parse::<KeyType>().expect_err("invalid").to_string();
        for (name, _) in expected {
            assert!(err.contains(name), "{err}");
        }
        assert!(err.contains("rsa1024"), "{err}");
    }

    /// Loading errors name the file and say what was wrong; nothing panics.
    #[test]
    fn load_errors() {
        let pki = Pki::generate(KeyType::EcdsaP256).expect("generate");
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let cert = d.join("cert.pem");
        let key = d.join("key.pem");
        let other_key = d.join("other.key");
        let empty = d.join("empty.pem");
        let garbage = d.join("garbage.pem");
        let notx509 = d.join("notx509.pem");
        let missing = d.join("missing.pem");
        fs::write(&cert, pem_encode("CERTIFICATE", &pki.server.chain[0])).expect("write");
        fs::write(&key, key_pem(&pki.server.key)).expect("write");
        fs::write(&other_key, key_pem(&pki.edge.key)).expect("write");
        fs::write(&empty, "nothing here\n").expect("write");
        fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        fs::write(&notx509, pem_encode("CERTIFICATE", b"not a certificate")).expect("write");

        let shows = |e: PkiError, path: &Path| {
            let msg = e.to_string();
            assert!(msg.contains(&path.display().to_string()), "{msg}");
            e
        };
        assert!(matches!(
            shows(load_identity(&missing, &key).expect_err("missing"), &missing),
            PkiError::Io { .. }
        ));
        assert!(matches!(
            shows(load_identity(&cert, &missing).expect_err("missing"), &missing),
            PkiError::Io { .. }
        ));
        assert!(matches!(
            shows(load_identity(&empty, &key).expect_err("no cert"), &empty),
            PkiError::NoCertificate { .. }
        ));
        assert!(matches!(
            shows(load_identity(&key, &key).expect_err("no cert"), &key),
            PkiError::NoCertificate { .. }
        ));
        assert!(matches!(
            shows(load_identity(&cert, &empty).expect_err("no key"), &empty),
            PkiError::NoKey { .. }
        ));
        assert!(matches!(
            shows(load_identity(&cert, &cert).expect_err("no key"), &cert),
            PkiError::NoKey { .. }
        ));
        assert!(matches!(
            shows(load_identity(&garbage, &key).expect_err("bad pem"), &garbage),
            PkiError::BadPem { .. }
        ));
        assert!(matches!(
            shows(load_identity(&notx509, &key).expect_err("bad der"), &notx509),
            PkiError::Parse { .. }
        ));
        assert!(matches!(
            shows(load_identity(&cert, &other_key).expect_err("mismatch"), &other_key),
            PkiError::KeyMismatch { .. }
        ));
        let bad_key = d.join("bad.key");
        fs::write(&bad_key, pem_encode("PRIVATE KEY", b"\x30\x03\x02\x01\x00")).expect("write");
        assert!(matches!(
            shows(load_identity(&cert, &bad_key).expect_err("bad key"), &bad_key),
            PkiError::BadKey { .. }
        ));
        assert!(matches!(
            load_ca_bundle(&empty).expect_err("empty"),
            PkiError::NoCertificate { .. }
        ));
        assert!(matches!(load_ca_bundle(d).expect_err("dir"), PkiError::Io { .. }));

        // Certificate and key in one file.
        let combined = d.join("combined.pem");
        fs::write(
            &combined,
            format!(
                "{}{}",
                key_pem(&pki.server.key),
                pem_encode("CERTIFICATE", &pki.server.chain[0])
            ),
        )
        .expect("write");
        let id = load_identity(&combined, &combined).expect("combined");
        assert_eq!(id.chain, pki.server.chain);

        // Roots.
        assert!(matches!(roots_from(&[]).expect_err("empty"), PkiError::Roots { .. }));
        assert!(roots_from(&[CertificateDer::from(b"junk".to_vec())]).is_err());
        assert_eq!(pki.roots().len(), 2);
        assert_eq!(pki.enterprise_roots().len(), 1);

        // Unparseable certificates.
        let junk = CertificateDer::from(vec![0x30, 0x00]);
        assert_eq!(cert_key_description(&junk), "unknown (unparseable certificate)");
        assert!(summarize(&junk).is_err());
        assert_eq!(KeyType::of_certificate(&junk), None);

        // A PKI directory without CA keys loads, but cannot issue.
        let pki_dir = d.join("pki");
        pki.write_to(&pki_dir).expect("write");
        // Writing twice (overwriting) works.
        pki.write_to(&pki_dir).expect("rewrite");
        fs::remove_file(pki_dir.join(files::ENTERPRISE_CA_KEY)).expect("rm");
        let loaded = Pki::load(&pki_dir).expect("load without CA key");
        assert!(loaded.partner_issuer().is_some());
        assert!(matches!(
            loaded.issue_leaf(&["x.example.test"], true, true),
            Err(PkiError::NoIssuerKey { .. })
        ));
        // Wrong CA key for the CA certificate.
        fs::copy(
            pki_dir.join(files::PARTNER_CA_KEY),
            pki_dir.join(files::ENTERPRISE_CA_KEY),
        )
        .expect("cp");
        assert!(matches!(
            Pki::load(&pki_dir).expect_err("mismatch"),
            PkiError::KeyMismatch { .. }
        ));
        fs::remove_file(pki_dir.join(files::ENTERPRISE_CA_KEY)).expect("rm");
        // Missing or wrong CRLs, topology and bad files.
        for name in [
            files::ENTERPRISE_CRL,
            files::PARTNER_CRL,
            files::TOPOLOGY,
            files::ROGUE_CA,
            &bad_cert_file(BadCert::Revoked),
            &bad_key_file(BadCert::PartnerClaimsEnterprise),
        ] {
            let path = pki_dir.join(name);
            let saved = fs::read(&path).expect("read");
            fs::remove_file(&path).expect("rm");
            let err = Pki::load(&pki_dir).expect_err(name);
            assert!(err.to_string().contains(name), "{err}");
            fs::write(&path, saved).expect("restore");
        }
        fs::write(pki_dir.join(files::TOPOLOGY), "revocation = \n").expect("write");
        let err = Pki::load(&pki_dir).expect_err("bad topology");
        assert!(
            matches!(err, PkiError::Topology { .. }) && err.to_string().contains(files::TOPOLOGY),
            "{err}"
        );
        fs::write(pki_dir.join(files::TOPOLOGY), DEFAULT_TOPOLOGY).expect("write");
        fs::copy(pki_dir.join(files::PARTNER_CRL), pki_dir.join(files::ENTERPRISE_CRL)).expect("cp");
        let err = Pki::load(&pki_dir).expect_err("swapped CRL");
        assert!(
            matches!(err, PkiError::Crl { .. }) && err.to_string().contains(files::ENTERPRISE_CRL),
            "{err}"
        );
        write_crl(&pki_dir.join(files::ENTERPRISE_CRL), &pki.enterprise_crl).expect("write");
        assert!(Pki::load(&pki_dir).is_ok());
        assert!(matches!(
            loaded.crl(
                CaName::Enterprise,
                &[],
                OffsetDateTime::now_utc(),
                OffsetDateTime::now_utc() + Duration::days(1),
                2
            ),
            Err(PkiError::NoIssuerKey { .. })
        ));
        // Missing leaf file.
        fs::remove_file(pki_dir.join(files::CLIENT)).expect("rm");
        let err = Pki::load(&pki_dir).expect_err("missing client");
        assert!(err.to_string().contains(files::CLIENT), "{err}");
        // Mixed key types.
        let ed = Pki::generate(KeyType::Ed25519).expect("generate");
        fs::write(
            pki_dir.join(files::CLIENT),
            pem_encode("CERTIFICATE", &ed.client.chain[0]),
        )
        .expect("write");
        fs::write(pki_dir.join(files::CLIENT_KEY), key_pem(&ed.client.key)).expect("write");
        assert!(matches!(
            Pki::load(&pki_dir).expect_err("mixed"),
            PkiError::MixedKeyTypes { .. }
        ));
        assert!(matches!(
            Pki::load(&d.join("nope")).expect_err("no dir"),
            PkiError::Io { .. }
        ));

        // Bad names for issue_leaf.
        assert!(matches!(
            pki.issue_leaf(&["bad\u{e9}.example.test"], true, true),
            Err(PkiError::InvalidName { .. })
        ));
        assert!(matches!(
            pki.issue_leaf(&[""], true, true),
            Err(PkiError::InvalidName { .. })
        ));
        let no_names = pki.issue_leaf(&[], true, false).expect("no names");
        assert_eq!(
            summarize(&no_names.chain[0]).expect("summary").subject,
            format!("CN=sipbench leaf, O={ORGANIZATION}")
        );

        // Debug output shows no key material.
        let debug = format!("{:?} {:?}", pki.server, pki);
        assert!(debug.contains("redacted"), "{debug}");
        let key_b64 = key_pem(&pki.server.key);
        let key_line = key_b64.lines().nth(1).expect("pem line");
        assert!(!debug.contains(key_line));
        assert!(!debug.contains(&format!("{:?}", pki.server.key.secret_der())));
    }

    #[test]
    fn pem_encoding_round_trips() {
        for len in 0..70usize {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 % 256) as u8).collect();
            let pem = pem_encode("CERTIFICATE", &data);
            if len == 0 {
                continue;
            }
            let back = CertificateDer::from_pem_slice(pem.as_bytes()).expect("decode");
            assert_eq!(back.as_ref(), &data[..], "len {len}");
        }
    }

    #[test]
    fn modulus_bit_counting() {
        assert_eq!(modulus_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(modulus_bits(&[0x01, 0xff]), 9);
        assert_eq!(modulus_bits(&[0x00, 0x00]), 0);
        assert_eq!(modulus_bits(&[]), 0);
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
}
