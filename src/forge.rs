//! Certificates made on purpose to attack the trust model.
//!
//! [`Authority`] is a CA that can issue what a careful CA never would: subject alternative names
//! with raw, malformed entries ([`San::Raw`]), IP-only names, wildcards over another domain,
//! intermediates without the CA bit or outside their name constraints, expired or revoked
//! intermediates, and roots that copy another root's subject name and key identifier. The audit
//! ([`crate::audit`]) issues its attack cells with it, from the throwaway PKI's CAs or from a CA
//! the user supplies; the trust tests and the differential tests use it too.
//!
//! Everything here is built with rcgen; the malformed name entries are DER written by hand
//! ([`san_der`]) into a subjectAltName extension, since rcgen (rightly) refuses to encode them.

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, NameConstraints,
};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::FromDer;

use crate::pki::{self, Identity, KeyType, PkiError};

/// The subjectAltName extension's OID, 2.5.29.17.
const SAN_OID: [u64; 4] = [2, 5, 29, 17];

/// GeneralName tags (RFC 5280 4.2.1.6), as they appear in DER (context-specific, primitive).
pub mod tag {
    /// rfc822Name (IA5String).
    pub const RFC822: u8 = 0x81;
    /// dNSName (IA5String).
    pub const DNS: u8 = 0x82;
    /// uniformResourceIdentifier (IA5String).
    pub const URI: u8 = 0x86;
    /// iPAddress (OCTET STRING of 4 or 16 bytes).
    pub const IP: u8 = 0x87;
}

/// One subjectAltName entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    /// A dNSName, written as given (no checks: case, trailing dots and wildcards go through).
    Dns(String),
    /// An iPAddress.
    Ip(IpAddr),
    /// Any entry, as its tag byte and raw value bytes (e.g. an rfc822Name with a byte >= 0x80).
    Raw(u8, Vec<u8>),
}

/// The DER of a subjectAltName extension value: a SEQUENCE of the entries, each written as is.
pub fn san_der(names: &[San]) -> Vec<u8> {
    let mut body = Vec::new();
    for name in names {
        match name {
            San::Dns(d) => tlv(&mut body, tag::DNS, d.as_bytes()),
            San::Ip(IpAddr::V4(a)) => tlv(&mut body, tag::IP, &a.octets()),
            San::Ip(IpAddr::V6(a)) => tlv(&mut body, tag::IP, &a.octets()),
            San::Raw(t, v) => tlv(&mut body, *t, v),
        }
    }
    let mut out = Vec::with_capacity(body.len() + 4);
    tlv(&mut out, 0x30, &body);
    out
}

/// Appends one DER tag-length-value.
fn tlv(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
    out.push(tag);
    let n = value.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n <= 0xff {
        out.extend_from_slice(&[0x81, n as u8]);
    } else {
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(value);
}

/// How a CA certificate is made.
#[derive(Debug, Clone, Default)]
pub struct CaSpec {
    /// Without the CA bit: a leaf that is then used to sign (`basicConstraints cA=FALSE`).
    pub not_a_ca: bool,
    /// `notBefore` and `notAfter`; default: from an hour ago for ten years.
    pub validity: Option<(OffsetDateTime, OffsetDateTime)>,
    /// nameConstraints: the DNS subtrees permitted below it (empty: no constraints).
    pub permitted_dns: Vec<String>,
    /// The subject key identifier to claim (e.g. another CA's, for a same-named forgery).
    pub key_id: Option<Vec<u8>>,
    /// The subject name; default: `CN=<cn>, O=sipbench`.
    pub subject: Option<DistinguishedName>,
}

/// How a leaf certificate is made.
#[derive(Debug, Clone)]
pub struct LeafSpec {
    /// Subject common name.
    pub cn: String,
    /// The subjectAltName entries, written as given; empty: no subjectAltName extension.
    pub names: Vec<San>,
    /// `notBefore` and `notAfter`; default: from an hour ago for 30 days.
    pub validity: Option<(OffsetDateTime, OffsetDateTime)>,
}

impl LeafSpec {
    /// A leaf named `cn` with these subjectAltName entries, for serverAuth and clientAuth.
    pub fn new(cn: &str, names: Vec<San>) -> LeafSpec {
        LeafSpec {
            cn: cn.to_owned(),
            names,
            validity: None,
        }
    }

    /// A leaf whose only names are these DNS names (the first is also the common name).
    pub fn dns(names: &[&str]) -> LeafSpec {
        LeafSpec::new(
            names.first().copied().unwrap_or("sipbench attack"),
            names.iter().map(|n| San::Dns((*n).to_owned())).collect(),
        )
    }
}

/// A certificate authority that issues what the caller asks for.
pub struct Authority {
    /// Its certificate.
    pub cert: CertificateDer<'static>,
    /// What a peer sends after a leaf this authority issued: this certificate unless it is a
    /// root, then the intermediates above it (never the root).
    pub sends: Vec<CertificateDer<'static>>,
    /// Its private key (PKCS#8).
    pub key: PrivateKeyDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    key_type: KeyType,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("subject", &pki::summarize(&self.cert).map(|s| s.subject).ok())
            .field("sends", &self.sends.len())
            .finish_non_exhaustive()
    }
}

impl Authority {
    /// An existing CA from its certificate and key; `root` when it is a self-signed root (then it
    /// is not sent by peers), else it is sent after its leaves, followed by `above`.
    pub fn existing(
        cert: CertificateDer<'static>,
        key: PrivateKeyDer<'static>,
        key_type: KeyType,
        root: bool,
        above: Vec<CertificateDer<'static>>,
    ) -> Result<Authority, PkiError> {
        let issuer = pki::issuer_for(&cert, &key, key_type, "the attacking CA")?;
        let mut sends = if root { Vec::new() } else { vec![cert.clone()] };
        sends.extend(above);
        Ok(Authority {
            cert,
            sends,
            key,
            issuer,
            key_type,
        })
    }

    /// A new self-signed root.
    pub fn root(cn: &str, key_type: KeyType, spec: &CaSpec) -> Result<Authority, PkiError> {
        let key = key_type.generate_key()?;
        let params = ca_params(cn, spec)?;
        let cert = params.self_signed(&key)?.der().clone();
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok(Authority {
            cert,
            sends: Vec::new(),
            key: key_der,
            issuer: Issuer::new(params, key),
            key_type,
        })
    }

    /// A CA certificate issued by this one (an issuing CA, or with [`CaSpec::not_a_ca`] a leaf
    /// used as one).
    pub fn sub_ca(&self, cn: &str, spec: &CaSpec) -> Result<Authority, PkiError> {
        let key = self.key_type.generate_key()?;
        let mut params = ca_params(cn, spec)?;
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer)?.der().clone();
        let mut sends = vec![cert.clone()];
        sends.extend(self.sends.iter().cloned());
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok(Authority {
            cert,
            sends,
            key: key_der,
            issuer: Issuer::new(params, key),
            key_type: self.key_type,
        })
    }

    /// A leaf for serverAuth and clientAuth, with the chain a peer would send.
    pub fn leaf(&self, spec: &LeafSpec) -> Result<Identity, PkiError> {
        let key = self.key_type.generate_key()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = name(&spec.cn);
        if !spec.names.is_empty() {
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(&SAN_OID, san_der(&spec.names)));
        }
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if self.key_type.is_rsa() {
            params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        (params.not_before, params.not_after) = spec
            .validity
            .unwrap_or((now - Duration::hours(1), now + Duration::days(30)));
        params.serial_number = Some(pki::random_serial());
        let cert = params.signed_by(&key, &self.issuer)?.der().clone();
        let mut chain = vec![cert];
        chain.extend(self.sends.iter().cloned());
        Ok(Identity {
            chain,
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        })
    }

    /// A CRL of this authority listing `revoked` (each must name it as issuer), valid from an
    /// hour ago for `valid_for`.
    pub fn crl(
        &self,
        revoked: &[&CertificateDer<'_>],
        valid_for: Duration,
    ) -> Result<CertificateRevocationListDer<'static>, PkiError> {
        let now = OffsetDateTime::now_utc();
        pki::sign_crl(
            &self.issuer,
            &self.cert,
            "attacking CA",
            revoked,
            now - Duration::hours(1),
            now + valid_for,
            1,
        )
    }

    /// The subject key identifier this authority's certificate carries, if any.
    pub fn key_id(&self) -> Option<Vec<u8>> {
        let (_, x) = x509_parser::certificate::X509Certificate::from_der(self.cert.as_ref()).ok()?;
        match pki::key_id_method(&x) {
            KeyIdMethod::PreSpecified(id) => Some(id),
            _ => None,
        }
    }

    /// The subject name of this authority's certificate, for a same-named forgery.
    pub fn subject(&self) -> Result<DistinguishedName, PkiError> {
        let (_, x) =
            x509_parser::certificate::X509Certificate::from_der(self.cert.as_ref()).map_err(|e| PkiError::Parse {
                what: "the CA to copy".into(),
                reason: e.to_string(),
            })?;
        pki::dn_of(x.subject()).map_err(|reason| PkiError::Parse {
            what: "the CA to copy".into(),
            reason,
        })
    }
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, pki::ORGANIZATION);
    dn
}

fn ca_params(cn: &str, spec: &CaSpec) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = spec.subject.clone().unwrap_or_else(|| name(cn));
    let now = OffsetDateTime::now_utc();
    (params.not_before, params.not_after) = spec
        .validity
        .unwrap_or((now - Duration::hours(1), now + Duration::days(3650)));
    params.serial_number = Some(pki::random_serial());
    if spec.not_a_ca {
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        params.subject_alt_names = vec![rcgen::SanType::DnsName(
            rcgen::string::Ia5String::try_from("issuer.example.test").map_err(|e| PkiError::InvalidName {
                name: "issuer.example.test".into(),
                reason: e.to_string(),
            })?,
        )];
    } else {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
    }
    if !spec.permitted_dns.is_empty() {
        params.name_constraints = Some(NameConstraints {
            permitted_subtrees: spec
                .permitted_dns
                .iter()
                .map(|d| GeneralSubtree::DnsName(d.clone()))
                .collect(),
            excluded_subtrees: Vec::new(),
        });
    }
    if let Some(id) = &spec.key_id {
        params.key_identifier_method = KeyIdMethod::PreSpecified(id.clone());
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn san_der_writes_entries_as_given() {
        let der = san_der(&[
            San::Dns("a.test".into()),
            San::Ip("127.0.0.1".parse().unwrap()),
            San::Raw(tag::RFC822, vec![0xe9]),
        ]);
        assert_eq!(
            der,
            [
                0x30, 17, 0x82, 6, b'a', b'.', b't', b'e', b's', b't', 0x87, 4, 127, 0, 0, 1, 0x81, 1, 0xe9
            ]
        );
        let long = san_der(&[San::Raw(tag::URI, vec![b'x'; 300])]);
        assert_eq!(&long[..8], &[0x30, 0x82, 0x01, 0x30, 0x86, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn chains_carry_the_intermediates_but_not_the_root() {
        let root = Authority::root("forge root", KeyType::EcdsaP256, &CaSpec::default()).unwrap();
        let issuing = root.sub_ca("forge issuing", &CaSpec::default()).unwrap();
        let leaf = issuing.leaf(&LeafSpec::dns(&["edge.example.test"])).unwrap();
        assert_eq!(leaf.chain.len(), 2);
        assert_eq!(leaf.chain[1], issuing.cert);
        let s = pki::summarize(&leaf.chain[0]).unwrap();
        assert_eq!(s.dns_names, ["edge.example.test"]);
        assert!(s.issuer.contains("forge issuing"), "{}", s.issuer);
    }
}
