//! The negative cases minted from a CA the operator gives (`audit --issuer-cert --issuer-key`),
//! for a PKI that has none of sipbench's own `bad/` files: each is the edge certificate (the
//! edge's name, serverAuth and clientAuth, 30 days) with one defect, as [`BadCert`] describes,
//! under the names of [`Names`].

use std::collections::BTreeMap;

use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::FromDer as _;

use super::Names;
use crate::forge::{Authority, CaSpec, LeafSpec};
use crate::pki::{self, BadCert, Identity, KeyType, PkiError};
use crate::trust::{Trust, TrustError};

/// Negative cases minted from one issuer.
pub struct Minted {
    /// One certificate per case; `partner-claims-enterprise` only with a Partner CA key.
    pub bad: BTreeMap<BadCert, Identity>,
    /// The issuer's CRL listing the revoked case.
    pub crl: CertificateRevocationListDer<'static>,
    /// The issuer's certificate, to find its entry in a trust.
    pub issuer: CertificateDer<'static>,
    /// The throwaway root that issued the untrusted-ca case.
    pub rogue_ca: CertificateDer<'static>,
}

impl std::fmt::Debug for Minted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minted")
            .field("cases", &self.bad.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Mints the negative cases from `issuer` (a CA the target trusts for the edge's name), the
/// partner-claims-enterprise case from `partner` when given (a CA trusted for the partner's
/// domain only), and the untrusted-ca case from a throwaway root.
pub fn mint(issuer: &Authority, partner: Option<&Authority>, names: &Names) -> Result<Minted, PkiError> {
    let now = OffsetDateTime::now_utc();
    let edge = |validity| LeafSpec {
        validity,
        ..LeafSpec::dns(&[&names.edge])
    };
    let key_type = KeyType::of_certificate(&issuer.cert).unwrap_or_default();
    let rogue = Authority::root(pki::ROGUE_CA_CN, key_type, &CaSpec::default())?;
    let mut bad = BTreeMap::new();
    bad.insert(
        BadCert::Expired,
        issuer.leaf(&edge(Some((now - Duration::days(60), now - Duration::days(30)))))?,
    );
    bad.insert(
        BadCert::NotYetValid,
        issuer.leaf(&edge(Some((now + Duration::days(30), now + Duration::days(60)))))?,
    );
    let revoked = issuer.leaf(&edge(None))?;
    let crl = issuer.crl(&[&revoked.chain[0]], Duration::days(7))?;
    bad.insert(BadCert::Revoked, revoked);
    bad.insert(BadCert::WrongName, issuer.leaf(&LeafSpec::dns(&[&names.wrong_name]))?);
    bad.insert(BadCert::UntrustedCa, rogue.leaf(&edge(None))?);
    bad.insert(BadCert::NotInTopology, issuer.leaf(&LeafSpec::dns(&[&names.rogue]))?);
    if let Some(partner) = partner {
        bad.insert(BadCert::PartnerClaimsEnterprise, partner.leaf(&edge(None))?);
    }
    Ok(Minted {
        bad,
        crl,
        issuer: issuer.cert.clone(),
        rogue_ca: rogue.cert,
    })
}

impl Minted {
    /// `trust` with the issuer's CRL (listing the revoked case) in place of any other CRL the
    /// issuer signed, in the entry that holds the issuer; `trust` unchanged when no entry does.
    pub fn trust(&self, trust: &Trust) -> Result<Trust, TrustError> {
        let Some(entry) = trust.cas().iter().find(|c| c.certs.contains(&self.issuer)) else {
            return Ok(trust.clone());
        };
        let subject = |der: &[u8]| {
            x509_parser::certificate::X509Certificate::from_der(der)
                .map(|(_, x)| x.subject().as_raw().to_vec())
                .ok()
        };
        let issuer_name = subject(self.issuer.as_ref());
        let mut crls: Vec<_> = entry
            .crls
            .iter()
            .filter(|crl| {
                let signer = x509_parser::revocation_list::CertificateRevocationList::from_der(crl.as_ref())
                    .map(|(_, c)| c.issuer().as_raw().to_vec())
                    .ok();
                signer != issuer_name
            })
            .cloned()
            .collect();
        crls.push(self.crl.clone());
        trust.with_crls(&entry.name, crls)
    }
}
