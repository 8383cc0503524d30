//! Reading certificates, keys and PKI directories ([`Pki::load`], [`load_identity`],
//! [`load_ca_bundle`], [`certs_from`], [`roots_from`]), and rebuilding an rcgen issuer from an
//! existing CA certificate and its key ([`issuer_for`]).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rcgen::{CertificateParams, DistinguishedName, DnType, DnValue, Issuer, KeyPair, KeyUsagePurpose};
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::x509::X509Name;

use super::crl::load_ca_crl;
use super::describe::{describe_spki, parse_cert, subject_or_placeholder};
use super::generate::key_id_method;
use super::{BadCert, Identity, IssuingCa, KeyType, Pki, PkiError, bad_cert_file, bad_key_file, files};

impl Pki {
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
        Pki::load_layout(&Layout::dir(dir))
    }

    /// Reads a PKI whose files are wherever `layout` says (see [`Layout`]), checked as
    /// [`Pki::load`] checks a directory. Without [`Layout::with_bad`] the negative cases and the
    /// Rogue CA are not read (the PKI then has none: [`Pki::bad`] is empty), and without a
    /// client certificate the edge's stands in for it.
    pub fn load_layout(layout: &Layout) -> Result<Pki, PkiError> {
        let at = |name: &str| layout.path(name);
        let ent_path = at(files::ENTERPRISE_CA);
        let par_path = at(files::PARTNER_CA);
        let enterprise_ca = first_cert(&ent_path)?;
        let partner_ca = first_cert(&par_path)?;
        let key_type = key_type_of(&enterprise_ca, &ent_path.display().to_string())?;

        let load = |cert: &str, key: &str| load_identity(&at(cert), &at(key));
        let server = load(files::SERVER, files::SERVER_KEY)?;
        let edge = load(files::EDGE, files::EDGE_KEY)?;
        let partner = load(files::PARTNER, files::PARTNER_KEY)?;
        let client = if layout.with_bad || layout.has(files::CLIENT) {
            load(files::CLIENT, files::CLIENT_KEY)?
        } else {
            edge.clone()
        };
        let rogue_path = at(files::ROGUE_CA);
        let mut bad = BTreeMap::new();
        let rogue_ca = if layout.with_bad {
            for which in BadCert::ALL {
                bad.insert(which, load(&bad_cert_file(which), &bad_key_file(which))?);
            }
            first_cert(&rogue_path)?
        } else {
            enterprise_ca.clone()
        };

        let enterprise_crl = load_ca_crl(&at(files::ENTERPRISE_CRL), &enterprise_ca)?;
        let partner_crl = load_ca_crl(&at(files::PARTNER_CRL), &partner_ca)?;
        let topology_path = at(files::TOPOLOGY);
        let topology = String::from_utf8(read_file(&topology_path)?).map_err(|e| PkiError::Topology {
            path: topology_path.clone(),
            reason: e.to_string(),
        })?;
        topology.parse::<toml::Table>().map_err(|e| PkiError::Topology {
            path: topology_path.clone(),
            reason: e.to_string(),
        })?;

        let mut checks: Vec<(String, &CertificateDer<'static>)> = vec![(par_path.display().to_string(), &partner_ca)];
        if layout.with_bad {
            checks.push((rogue_path.display().to_string(), &rogue_ca));
        }
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
                checks.push((at(&cert_name).display().to_string(), cert));
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

        let enterprise_issuer = load_issuer(&enterprise_ca, &ent_path, &at(files::ENTERPRISE_CA_KEY), key_type)?;
        let partner_issuer = load_issuer(&partner_ca, &par_path, &at(files::PARTNER_CA_KEY), key_type)?;
        let issuing = |cert: &str, crl: &str, key: &str| -> Result<Option<IssuingCa>, PkiError> {
            let cert_path = at(cert);
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
            let crl = load_ca_crl(&at(crl), &cert)?;
            let issuer = load_issuer(&cert, &cert_path, &at(key), key_type)?;
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
}

/// Where the files of a PKI are: a directory in the layout [`Pki::write_to`] writes, with any
/// file given elsewhere by the name it has in that layout ([`files`]), or no directory and every
/// file given. A file neither given nor in a directory is looked for under its layout name and
/// reported missing there.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// The PKI directory, if any.
    pub dir: Option<PathBuf>,
    /// Files given one by one, by their layout name (`edge.pem`, `enterprise-ca.crl`, ...).
    pub files: BTreeMap<String, PathBuf>,
    /// Whether the negative cases (`bad/`) and the Rogue CA are read.
    pub with_bad: bool,
}

impl Layout {
    /// A PKI directory as [`Pki::write_to`] writes it, negative cases included.
    pub fn dir(dir: &Path) -> Layout {
        Layout {
            dir: Some(dir.to_path_buf()),
            files: BTreeMap::new(),
            with_bad: true,
        }
    }

    /// Where the file of layout name `name` is.
    pub fn path(&self, name: &str) -> PathBuf {
        match (self.files.get(name), &self.dir) {
            (Some(path), _) => path.clone(),
            (None, Some(dir)) => dir.join(name),
            (None, None) => PathBuf::from(name),
        }
    }

    /// Whether the file of layout name `name` was given or exists in the directory.
    pub fn has(&self, name: &str) -> bool {
        self.files.contains_key(name) || self.dir.as_ref().is_some_and(|d| d.join(name).exists())
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

/// Loads a PEM bundle of CA certificates (one or more `CERTIFICATE` blocks).
///
/// Every certificate must parse as X.509.
pub fn load_ca_bundle(path: &Path) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    read_certs(path)
}

/// The operating system's CA bundle (`--ca system`, `cert = "system"` in a topology):
/// `SSL_CERT_FILE` when set, else the first of the usual places (Debian/Ubuntu, Fedora/RHEL,
/// openSUSE, Alpine and the BSDs). `None` when there is none.
pub fn system_roots_file() -> Option<std::path::PathBuf> {
    if let Some(f) = std::env::var_os("SSL_CERT_FILE") {
        return Some(f.into());
    }
    SYSTEM_BUNDLES
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file())
}

/// Where [`system_roots_file`] looks, in order, after `SSL_CERT_FILE`.
pub const SYSTEM_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

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

pub(super) fn read_file(path: &Path) -> Result<Vec<u8>, PkiError> {
    fs::read(path).map_err(|source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    certs_from(&read_file(path)?, path)
}

fn first_cert(path: &Path) -> Result<CertificateDer<'static>, PkiError> {
    let mut certs = read_certs(path)?;
    Ok(certs.swap_remove(0))
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
/// [`check_issued_by`](super::generate::check_issued_by).
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

#[cfg(test)]
mod tests {
    use super::*;
    use time::{Duration, OffsetDateTime};

    use crate::pki::write::{key_pem, pem_encode};
    use crate::pki::{CaName, DEFAULT_TOPOLOGY, ORGANIZATION, cert_key_description, summarize, write_crl};

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
}
