//! Certificate revocation lists: signing ([`Pki::crl`], [`sign_crl`]), writing ([`write_crl`])
//! and loading ([`load_crls`], [`crls_from`]).

use std::fs;
use std::io;
use std::path::Path;

use rcgen::{CertificateRevocationListParams, Issuer, KeyPair, RevocationReason, RevokedCertParams, SerialNumber};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
use time::OffsetDateTime;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use super::describe::parse_cert;
use super::generate::{ENTERPRISE, ENTERPRISE_ISSUING, PARTNER, PARTNER_ISSUING, key_id_method};
use super::load::read_file;
use super::write::{pem_encode, write_file};
use super::{CaName, Pki, PkiError};

impl Pki {
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

/// Writes a CRL as PEM (`X509 CRL`) to `path`, atomically: the CRL goes to a
/// temporary file in the same directory, which is then renamed over `path`,
/// so a reader (hot reload) never sees a partial file.
pub fn write_crl(path: &Path, crl: &CertificateRevocationListDer<'_>) -> Result<(), PkiError> {
    if path.file_name().is_none() {
        return Err(PkiError::Io {
            path: path.to_path_buf(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a file name"),
        });
    }
    let tmp = crate::sys::temp_sibling(path);
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
pub(super) fn load_ca_crl(
    path: &Path,
    ca: &CertificateDer<'_>,
) -> Result<CertificateRevocationListDer<'static>, PkiError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::CertificateError;
    use time::Duration;

    use crate::pki::tests::{serial, verify_client};
    use crate::pki::{BadCert, KeyType};

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
}
