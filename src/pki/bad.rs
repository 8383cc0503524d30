//! The negative cases of the trust model: [`BadCert`], and how a PKI issues one certificate per
//! defect.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rcgen::{Issuer, KeyPair};
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};

use super::generate::{LeafSpec, issue};
use super::{EDGE_DNS, Identity, KeyType, PkiError, ROGUE_DNS, WRONG_NAME_DNS};

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
    /// `edge.example.test` issued by the Rogue root CA (`ROGUE_CA_CN`), which no
    /// trust store holds.
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

/// Issues the negative cases, one per [`BadCert`] (in [`BadCert::ALL`] order, each with its own
/// key from `keys`): the good `edge` certificate with its one defect. `enterprise` and `partner`
/// are who issues each organisation's leaves and what their chains carry after the leaf (its
/// issuing CA, in an intermediate PKI); `rogue` is the Rogue root CA.
pub(super) fn issue_bad_certs(
    keys: [KeyPair; BadCert::ALL.len()],
    key_type: KeyType,
    now: OffsetDateTime,
    enterprise: (&Issuer<'_, KeyPair>, Option<&CertificateDer<'static>>),
    partner: (&Issuer<'_, KeyPair>, Option<&CertificateDer<'static>>),
    rogue: &Issuer<'_, KeyPair>,
) -> Result<BTreeMap<BadCert, Identity>, PkiError> {
    let ((ent_leaves, ent_chain), (par_leaves, par_chain)) = (enterprise, partner);
    let mut bad = BTreeMap::new();
    for (which, key) in BadCert::ALL.into_iter().zip(keys) {
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
            BadCert::UntrustedCa => (rogue, EDGE_DNS, None),
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
        let mut identity = issue(issuer, key, key_type, &spec, now)?;
        identity.chain.extend(extra.cloned());
        bad.insert(which, identity);
    }
    Ok(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::certificate::X509Certificate;

    use crate::pki::describe::parse_cert;
    use crate::pki::generate::BACKDATE;
    use crate::pki::tests::serial;
    use crate::pki::{
        DEFAULT_TOPOLOGY, ENTERPRISE_CA_CN, ORGANIZATION, PARTNER_CA_CN, PARTNER_DNS, Pki, ROGUE_CA_CN, SERVER_DNS,
        bad_cert_file, bad_key_file, summarize,
    };

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
}
