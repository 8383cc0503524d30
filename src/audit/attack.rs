//! The audit's attack cells: certificates built on purpose to get past the trust model
//! ([`crate::forge`]), what each one tries, and what must happen to it.
//!
//! The throwaway PKI's own negative cases ([`crate::pki::BadCert`]) each differ from a good
//! certificate in one honest defect. The attacks here are what an adversary builds instead:
//! names a parser may skip, names in another CA's domain, forged roots, intermediates that are
//! not CAs or break their constraints, and the configuration mistakes a reload must refuse.
//!
//! [`Arsenal::build`] issues them from the PKI's CAs (the embedded audit), or from a CA the
//! user supplies against a deployment ([`Arsenal::from_ca`]). The intermediates it issues
//! (constrained, expired, revoked) join the trust as issuing CAs of the Enterprise CA with their
//! CRLs ([`Arsenal::trust`]), so that each is refused for its own defect and not merely for an
//! unknown revocation status.

use std::collections::BTreeMap;
use std::net::IpAddr;

use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::{Direction, Expect, Names, Stack};
use crate::forge::{Authority, CaSpec, LeafSpec, San, tag};
use crate::pki::{self, BadCert, CaName, Identity, Pki, PkiError};
use crate::trust::{Trust, TrustError, TrustedCa};

/// One attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Attack {
    /// The Partner CA signs `sip.example.test` beside an rfc822Name that is not IA5String.
    UnparseableRfc822,
    /// The same with a URI that is not IA5String.
    UnparseableUri,
    /// The same with a dNSName that is not ASCII.
    UnparseableDns,
    /// The same with an iPAddress of five bytes.
    UnparseableIp,
    /// The same with an otherName that does not decode.
    UnparseableOtherName,
    /// The same with a directoryName that is not a Name.
    UnparseableDirectoryName,
    /// The Partner CA vouches for 127.0.0.1 only.
    IpOnly,
    /// The Partner CA signs `*.example.test`.
    PartnerWildcard,
    /// The Partner CA signs its own edge's name plus `edge.example.test`.
    ExtraNameOutsideScope,
    /// The Partner CA signs its edge's name in upper case (must pass).
    CaseVariant,
    /// The Partner CA signs `EDGE.EXAMPLE.TEST`.
    CaseVariantOutsideScope,
    /// The Partner CA signs its edge's name with a trailing dot.
    TrailingDot,
    /// A root that copies the Enterprise CA's subject name and key identifier signs the edge.
    SameNamedRoot,
    /// The Enterprise CA's end-entity certificate (no CA bit) signs the edge.
    IntermediateNotCa,
    /// An issuing CA of the Enterprise CA constrained to `partner.example.test` signs the edge.
    IntermediateOutsideConstraints,
    /// An expired issuing CA of the Enterprise CA signs the edge.
    ExpiredIntermediate,
    /// A revoked issuing CA of the Enterprise CA signs the edge.
    RevokedIntermediate,
    /// A topology whose Enterprise CRL is the Partner CA's: refused when loaded.
    CrlWrongCa,
    /// A topology whose Enterprise CA file holds a leaf: refused when loaded.
    CaFileHoldsLeaf,
    /// 0-RTT resumption towards a server swapped for one not in the topology.
    ZeroRttNotInTopology,
}

impl Attack {
    /// Every attack.
    pub const ALL: [Attack; 20] = [
        Attack::UnparseableRfc822,
        Attack::UnparseableUri,
        Attack::UnparseableDns,
        Attack::UnparseableIp,
        Attack::UnparseableOtherName,
        Attack::UnparseableDirectoryName,
        Attack::IpOnly,
        Attack::PartnerWildcard,
        Attack::ExtraNameOutsideScope,
        Attack::CaseVariant,
        Attack::CaseVariantOutsideScope,
        Attack::TrailingDot,
        Attack::SameNamedRoot,
        Attack::IntermediateNotCa,
        Attack::IntermediateOutsideConstraints,
        Attack::ExpiredIntermediate,
        Attack::RevokedIntermediate,
        Attack::CrlWrongCa,
        Attack::CaFileHoldsLeaf,
        Attack::ZeroRttNotInTopology,
    ];

    /// Stable name (kebab-case).
    pub fn as_str(self) -> &'static str {
        match self {
            Attack::UnparseableRfc822 => "unparseable-rfc822",
            Attack::UnparseableUri => "unparseable-uri",
            Attack::UnparseableDns => "unparseable-dns",
            Attack::UnparseableIp => "unparseable-ip",
            Attack::UnparseableOtherName => "unparseable-other-name",
            Attack::UnparseableDirectoryName => "unparseable-directory-name",
            Attack::IpOnly => "ip-only",
            Attack::PartnerWildcard => "partner-wildcard",
            Attack::ExtraNameOutsideScope => "extra-name-outside-scope",
            Attack::CaseVariant => "case-variant",
            Attack::CaseVariantOutsideScope => "case-variant-outside-scope",
            Attack::TrailingDot => "trailing-dot",
            Attack::SameNamedRoot => "same-named-root",
            Attack::IntermediateNotCa => "intermediate-not-ca",
            Attack::IntermediateOutsideConstraints => "intermediate-outside-constraints",
            Attack::ExpiredIntermediate => "expired-intermediate",
            Attack::RevokedIntermediate => "revoked-intermediate",
            Attack::CrlWrongCa => "crl-wrong-ca",
            Attack::CaFileHoldsLeaf => "ca-file-holds-leaf",
            Attack::ZeroRttNotInTopology => "zero-rtt-not-in-topology",
        }
    }

    /// How the attack is built and what it tries.
    pub fn describe(self) -> &'static str {
        match self {
            Attack::UnparseableRfc822 => {
                "Partner CA: sip.example.test beside an rfc822Name with byte 0xe9 (a parser that drops the extension sees no names to scope)"
            }
            Attack::UnparseableUri => "Partner CA: sip.example.test beside a URI with byte 0xff",
            Attack::UnparseableDns => "Partner CA: sip.example.test beside a dNSName that is not ASCII",
            Attack::UnparseableIp => "Partner CA: sip.example.test beside a 5-byte iPAddress",
            Attack::UnparseableOtherName => "Partner CA: sip.example.test beside an otherName that is not DER",
            Attack::UnparseableDirectoryName => {
                "Partner CA: sip.example.test beside a directoryName that is DER but not a Name"
            }
            Attack::IpOnly => "Partner CA: its only name is IP 127.0.0.1, dialled by address",
            Attack::PartnerWildcard => "Partner CA: *.example.test, over the Enterprise domain",
            Attack::ExtraNameOutsideScope => "Partner CA: sip.partner.example.test plus edge.example.test",
            Attack::CaseVariant => "Partner CA: SIP.PARTNER.EXAMPLE.TEST, its own name in upper case (accepted)",
            Attack::CaseVariantOutsideScope => "Partner CA: EDGE.EXAMPLE.TEST, the Enterprise edge in upper case",
            Attack::TrailingDot => "Partner CA: sip.partner.example.test. with a trailing dot",
            Attack::SameNamedRoot => {
                "a forged root with the Enterprise CA's subject and key identifier signs edge.example.test"
            }
            Attack::IntermediateNotCa => "an Enterprise end-entity certificate (cA=FALSE) signs edge.example.test",
            Attack::IntermediateOutsideConstraints => {
                "an Enterprise issuing CA permitted partner.example.test only signs edge.example.test"
            }
            Attack::ExpiredIntermediate => "an expired Enterprise issuing CA signs edge.example.test",
            Attack::RevokedIntermediate => "an Enterprise issuing CA revoked in the root's CRL signs edge.example.test",
            Attack::CrlWrongCa => "the Enterprise entry's CRL is the Partner CA's (loading must fail)",
            Attack::CaFileHoldsLeaf => "the Enterprise entry's CA file holds the edge's leaf (loading must fail)",
            Attack::ZeroRttNotInTopology => {
                "0-RTT to sip.partner.example.test after the address moved to an Enterprise-issued impostor not in the topology"
            }
        }
    }

    /// Whether the attack is a configuration loaded by the trust rather than a certificate
    /// presented in a handshake.
    pub fn at_load(self) -> bool {
        matches!(self, Attack::CrlWrongCa | Attack::CaFileHoldsLeaf)
    }

    /// Where the attack applies.
    pub fn applies(self, direction: Direction) -> bool {
        match self {
            a if a.at_load() => direction == Direction::Load,
            Attack::ZeroRttNotInTopology => direction == Direction::Client,
            _ => matches!(direction, Direction::Server | Direction::Client | Direction::ClientTls),
        }
    }

    /// The name sipbench's client dials when a rogue server presents the certificate.
    pub fn dialed_name(self, names: &Names) -> &str {
        match self {
            Attack::UnparseableRfc822
            | Attack::UnparseableUri
            | Attack::UnparseableDns
            | Attack::UnparseableIp
            | Attack::UnparseableOtherName
            | Attack::UnparseableDirectoryName => &names.server,
            Attack::IpOnly => "127.0.0.1",
            Attack::ExtraNameOutsideScope
            | Attack::CaseVariant
            | Attack::TrailingDot
            | Attack::ZeroRttNotInTopology => &names.partner,
            _ => &names.edge,
        }
    }

    /// What the trust model requires, on `stack`, in `direction`.
    pub fn expected(self, direction: Direction, stack: Option<Stack>) -> Expect {
        let reject = |r: &str| Expect::Reject(r.into());
        let client = matches!(direction, Direction::Client | Direction::ClientTls);
        match self {
            // OpenSSL decodes these kinds itself and, when one does not decode, will not use
            // the certificate at all (it reports no issuer for it) before the trust model sees it.
            Attack::UnparseableOtherName | Attack::UnparseableDirectoryName if stack == Some(Stack::Openssl) => {
                reject("unknown-issuer")
            }
            Attack::UnparseableOtherName | Attack::UnparseableDirectoryName => reject("unparseable-name"),
            Attack::UnparseableRfc822 | Attack::UnparseableUri | Attack::UnparseableDns | Attack::UnparseableIp => {
                reject("unparseable-name")
            }
            Attack::IpOnly => reject("ca-not-trusted-for-address"),
            Attack::PartnerWildcard | Attack::ExtraNameOutsideScope | Attack::CaseVariantOutsideScope => {
                reject("ca-not-trusted-for-name")
            }
            Attack::CaseVariant => Expect::Accept,
            // Neither stack matches a presented name with a trailing dot to the dialed name; a
            // server reading a client's names refuses it as unreadable.
            Attack::TrailingDot if client => reject("not-valid-for-name"),
            Attack::TrailingDot => reject("unparseable-name"),
            Attack::SameNamedRoot => reject("bad-signature"),
            Attack::IntermediateNotCa => reject("end-entity-used-as-ca"),
            Attack::IntermediateOutsideConstraints => reject("name-constraint-violation"),
            Attack::ExpiredIntermediate => reject("expired"),
            Attack::RevokedIntermediate => reject("revoked"),
            Attack::CrlWrongCa | Attack::CaFileHoldsLeaf => reject("refused-at-load"),
            Attack::ZeroRttNotInTopology => reject("not-in-topology"),
        }
    }
}

/// The attack certificates of one audit, and the trust additions they need.
pub struct Arsenal {
    identities: BTreeMap<Attack, Identity>,
    /// The attack intermediates, as an extra CA entry under the Enterprise domain, with CRLs.
    intermediates: Option<TrustedCa>,
    /// The Enterprise root's CRL, re-signed to revoke the revoked intermediate too.
    enterprise_crl: Option<CertificateRevocationListDer<'static>>,
    /// The Enterprise root, to find its entry in the trust.
    enterprise_ca: Option<CertificateDer<'static>>,
}

impl std::fmt::Debug for Arsenal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arsenal")
            .field("attacks", &self.identities.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// An issuing CA's validity that ended a month ago.
fn expired() -> (OffsetDateTime, OffsetDateTime) {
    let now = OffsetDateTime::now_utc();
    (now - Duration::days(400), now - Duration::days(30))
}

/// One of the PKI's roots (`leaves`: the CA that issues the organisation's leaves, which is
/// its issuing CA in an intermediate PKI).
pub(crate) fn authority(pki: &Pki, which: CaName, leaves: bool) -> Result<Authority, PkiError> {
    let (root, root_issuer, issuing, name) = match which {
        CaName::Enterprise => (
            &pki.enterprise_ca,
            pki.enterprise_issuer(),
            &pki.enterprise_issuing,
            "Enterprise CA",
        ),
        CaName::Partner => (
            &pki.partner_ca,
            pki.partner_issuer(),
            &pki.partner_issuing,
            "Partner CA",
        ),
    };
    let (cert, issuer, is_root) = match issuing {
        Some(i) if leaves => (&i.cert, i.issuer(), false),
        _ => (root, root_issuer, true),
    };
    let issuer = issuer.ok_or(PkiError::NoIssuerKey { ca: name })?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(issuer.key().serialize_der()));
    Authority::existing(cert.clone(), key, pki.key_type, is_root, Vec::new())
}

/// The parser attacks: `name` beside one entry of each kind that cannot be read.
fn parser_attacks(ca: &Authority, name: &str) -> Result<Vec<(Attack, Identity)>, PkiError> {
    let entries: [(Attack, u8, &[u8]); 6] = [
        (Attack::UnparseableRfc822, tag::RFC822, b"sip\xe9@example.test"),
        (Attack::UnparseableUri, tag::URI, b"sip:\xff@example.test"),
        (Attack::UnparseableDns, tag::DNS, "é.example.test".as_bytes()),
        (Attack::UnparseableIp, tag::IP, &[127, 0, 0, 1, 1]),
        (Attack::UnparseableOtherName, 0xa0, b"junk"),
        (Attack::UnparseableDirectoryName, 0xa4, &[0x04, 0x00]),
    ];
    entries
        .iter()
        .map(|(attack, tag, bytes)| Ok((*attack, ca.leaf(&beside(name, *tag, bytes))?)))
        .collect()
}

/// The forgery and intermediate attacks on a leaf like `target` under `ca`, and the issuing
/// CAs they made.
struct ChainAttacks {
    attacks: Vec<(Attack, Identity)>,
    /// Permitted only `permitted` (nameConstraints).
    constrained: Authority,
    /// Expired a month ago.
    stale: Authority,
}

/// A root forged with `ca`'s subject and key identifier, an end-entity certificate of `ca` used
/// as a CA, an issuing CA permitted only `permitted`, and an expired one (named `prefix ...`),
/// each signing a leaf like `target`.
fn chain_attacks(ca: &Authority, target: &LeafSpec, permitted: &str, prefix: &str) -> Result<ChainAttacks, PkiError> {
    let forged = Authority::root(
        "forged",
        pki::KeyType::of_certificate(&ca.cert).unwrap_or_default(),
        &CaSpec {
            subject: Some(ca.subject()?),
            key_id: ca.key_id(),
            ..CaSpec::default()
        },
    )?;
    let not_ca = ca.sub_ca(
        &format!("{prefix} end entity"),
        &CaSpec {
            not_a_ca: true,
            ..CaSpec::default()
        },
    )?;
    let constrained = ca.sub_ca(
        &format!("{prefix} Constrained CA"),
        &CaSpec {
            permitted_dns: vec![permitted.into()],
            ..CaSpec::default()
        },
    )?;
    let stale = ca.sub_ca(
        &format!("{prefix} Expired CA"),
        &CaSpec {
            validity: Some(expired()),
            ..CaSpec::default()
        },
    )?;
    // Issued while the CA was valid, and still valid itself: only the CA has expired.
    let now = OffsetDateTime::now_utc();
    let under_stale = LeafSpec {
        validity: Some((now - Duration::days(60), now + Duration::days(30))),
        ..target.clone()
    };
    Ok(ChainAttacks {
        attacks: vec![
            (Attack::SameNamedRoot, forged.leaf(target)?),
            (Attack::IntermediateNotCa, not_ca.leaf(target)?),
            (Attack::IntermediateOutsideConstraints, constrained.leaf(target)?),
            (Attack::ExpiredIntermediate, stale.leaf(&under_stale)?),
        ],
        constrained,
        stale,
    })
}

/// `name` beside one malformed entry.
fn beside(name: &str, tag: u8, bytes: &[u8]) -> LeafSpec {
    LeafSpec::new(name, vec![San::Dns(name.into()), San::Raw(tag, bytes.to_vec())])
}

impl Arsenal {
    /// Every attack certificate, issued from the PKI's roots (which need their keys), for the
    /// names of `names` (the Enterprise domain is the edge's, the Partner domain the partner's).
    pub fn build(pki: &Pki, names: &Names) -> Result<Arsenal, PkiError> {
        let (server, edge_name, partner_name) = (names.server.as_str(), names.edge.as_str(), names.partner.as_str());
        let enterprise_domain = Names::domain_of(edge_name);
        let partner_domain = Names::domain_of(partner_name);
        let enterprise = authority(pki, CaName::Enterprise, false)?;
        let partner = authority(pki, CaName::Partner, true)?;
        let mut identities = BTreeMap::new();
        let mut put = |a: Attack, id: Identity| {
            identities.insert(a, id);
        };
        for (attack, id) in parser_attacks(&partner, server)? {
            put(attack, id);
        }
        let localhost: IpAddr = "127.0.0.1".parse().expect("static address");
        put(
            Attack::IpOnly,
            partner.leaf(&LeafSpec::new("127.0.0.1", vec![San::Ip(localhost)]))?,
        );
        put(
            Attack::PartnerWildcard,
            partner.leaf(&LeafSpec::dns(&[&format!("*.{enterprise_domain}")]))?,
        );
        put(
            Attack::ExtraNameOutsideScope,
            partner.leaf(&LeafSpec::dns(&[partner_name, edge_name]))?,
        );
        put(
            Attack::CaseVariant,
            partner.leaf(&LeafSpec::dns(&[&partner_name.to_ascii_uppercase()]))?,
        );
        put(
            Attack::CaseVariantOutsideScope,
            partner.leaf(&LeafSpec::dns(&[&edge_name.to_ascii_uppercase()]))?,
        );
        put(
            Attack::TrailingDot,
            partner.leaf(&LeafSpec::dns(&[&format!("{partner_name}.")]))?,
        );
        let edge = LeafSpec::dns(&[edge_name]);
        let chain = chain_attacks(&enterprise, &edge, partner_domain, "sipbench Enterprise")?;
        for (attack, id) in chain.attacks {
            put(attack, id);
        }
        let (constrained, stale) = (chain.constrained, chain.stale);
        let revoked = enterprise.sub_ca("sipbench Enterprise Revoked CA", &CaSpec::default())?;
        put(Attack::RevokedIntermediate, revoked.leaf(&edge)?);
        // The impostor of the 0-RTT cell: the Enterprise CA may vouch for partner.example.test
        // (it is below example.test), but the topology wants the Partner CA for that server.
        put(
            Attack::ZeroRttNotInTopology,
            enterprise.leaf(&LeafSpec::dns(&[partner_name]))?,
        );

        // The Enterprise root's CRL, revoking the revoked intermediate beside what it revoked.
        let mut root_revoked: Vec<&CertificateDer<'_>> = vec![&revoked.cert];
        if pki.enterprise_issuing.is_none() {
            root_revoked.extend(pki.bad.get(&BadCert::Revoked).and_then(Identity::leaf));
        }
        let enterprise_crl = enterprise.crl(&root_revoked, Duration::days(7))?;
        let intermediates = [&constrained, &stale, &revoked];
        let crls = intermediates
            .iter()
            .map(|a| a.crl(&[], Duration::days(7)))
            .collect::<Result<Vec<_>, _>>()?;
        let entry = TrustedCa::new(
            "enterprise-attack-issuing",
            intermediates.iter().map(|a| a.cert.clone()).collect(),
            crls,
            vec![enterprise_domain.into()],
        );
        Ok(Arsenal {
            identities,
            intermediates: Some(entry),
            enterprise_crl: Some(enterprise_crl),
            enterprise_ca: Some(pki.enterprise_ca.clone()),
        })
    }

    /// The attacks a deployment can be given with only a CA it trusts (`ca`, its key and the
    /// intermediates above it) and `name`, a name the deployment accepts from that CA: the
    /// parser, forgery and intermediate attacks, each carrying `name`. Scope attacks need a CA
    /// whose scope sipbench knows, so they run in the embedded audit only.
    pub fn from_ca(ca: Authority, name: &str) -> Result<Arsenal, PkiError> {
        let mut identities: BTreeMap<Attack, Identity> = parser_attacks(&ca, name)?.into_iter().collect();
        identities.insert(Attack::TrailingDot, ca.leaf(&LeafSpec::dns(&[&format!("{name}.")]))?);
        let chain = chain_attacks(&ca, &LeafSpec::dns(&[name]), "invalid", "sipbench attack")?;
        identities.extend(chain.attacks);
        Ok(Arsenal {
            identities,
            intermediates: None,
            enterprise_crl: None,
            enterprise_ca: None,
        })
    }

    /// The attacks this arsenal has certificates (or a configuration) for.
    pub fn attacks(&self) -> Vec<Attack> {
        let mut v: Vec<Attack> = self.identities.keys().copied().collect();
        if self.intermediates.is_some() {
            v.extend([Attack::CrlWrongCa, Attack::CaFileHoldsLeaf]);
        }
        v
    }

    /// The certificate (and key) of an attack.
    pub fn identity(&self, attack: Attack) -> Option<&Identity> {
        self.identities.get(&attack)
    }

    /// `base` (the trust of the PKI this arsenal was built from) with the attack
    /// intermediates as issuing CAs of the Enterprise domain and the re-signed Enterprise CRL.
    pub fn trust(&self, base: &Trust) -> Result<Trust, TrustError> {
        let mut trust = base.clone();
        if let Some(crl) = &self.enterprise_crl {
            // The entry that holds the Enterprise root (`enterprise` in sipbench's topologies).
            let entry = self
                .enterprise_ca
                .as_ref()
                .and_then(|root| base.cas().iter().find(|c| c.certs.contains(root)))
                .map_or("enterprise", |c| c.name.as_str());
            trust = trust.with_crls(entry, vec![crl.clone()])?;
        }
        if let Some(entry) = &self.intermediates {
            trust = trust.with_ca(entry.clone())?;
        }
        Ok(trust)
    }
}
