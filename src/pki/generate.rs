//! Generating a PKI ([`Pki::generate`]): the CA certificates, the leaves and the CRLs; and
//! issuing extra leaves ([`Pki::issue_leaf`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod,
    KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;

use super::bad::issue_bad_certs;
use super::crl::sign_crl;
use super::describe::parse_cert;
use super::keys::generate_keys;
use super::{
    BadCert, CLIENT_CN, CLIENT_DNS, DEFAULT_TOPOLOGY, EDGE_DNS, ENTERPRISE_CA_CN, ENTERPRISE_ISSUING_CN,
    INTERMEDIATE_TOPOLOGY, Identity, IssuingCa, KeyType, ORGANIZATION, PARTNER_CA_CN, PARTNER_DNS, PARTNER_ISSUING_CN,
    Pki, PkiError, ROGUE_CA_CN, SERVER_DNS,
};

/// Validity of generated leaf certificates (from one hour ago).
const LEAF_VALIDITY: Duration = Duration::days(30);
/// Validity of generated CA certificates (from one hour ago).
const CA_VALIDITY: Duration = Duration::days(3650);
/// Backdating of `notBefore`, to tolerate clock skew between hosts.
pub(super) const BACKDATE: Duration = Duration::hours(1);
/// `nextUpdate` of generated CRLs, from now (`thisUpdate` is backdated by [`BACKDATE`]).
const CRL_VALIDITY: Duration = Duration::days(7);

pub(super) const ENTERPRISE: &str = "Enterprise CA";
pub(super) const PARTNER: &str = "Partner CA";
pub(super) const ENTERPRISE_ISSUING: &str = "Enterprise issuing CA";
pub(super) const PARTNER_ISSUING: &str = "Partner issuing CA";

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

        let bad = issue_bad_certs(
            bad_keys,
            key_type,
            now,
            (ent_leaves, ent_chain),
            (par_leaves, par_chain),
            &rogue,
        )?;

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
}

pub(super) struct LeafSpec<'a> {
    pub(super) cn: &'a str,
    pub(super) dns: &'a [&'a str],
    pub(super) ips: &'a [IpAddr],
    pub(super) server_auth: bool,
    pub(super) client_auth: bool,
    /// `notBefore` and `notAfter`; `None` for the default (backdated, [`LEAF_VALIDITY`]).
    pub(super) validity: Option<(OffsetDateTime, OffsetDateTime)>,
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

pub(super) fn issue(
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
pub(super) fn check_issued_by(
    identity: &Identity,
    ca: &CertificateDer<'_>,
    ca_name: &'static str,
) -> Result<(), PkiError> {
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
