//! `sipbench audit`: the trust matrix, run over real sockets.
//!
//! Each cell offers one certificate ([`Case`]) in one [`Direction`] over one TLS version and
//! compares what happened with what the trust model says must happen:
//!
//! - [`Direction::Server`]: the server under test (the reference server, or a deployment with
//!   `--target`) is offered the certificate as an MTLS client certificate;
//! - [`Direction::Client`]: a rogue server (the reference server presenting the certificate)
//!   is dialed by sipbench's own client as a server-to-server (MTLS) peer, which must refuse
//!   every bad certificate (the man-in-the-middle view);
//! - [`Direction::ClientTls`]: the same rogue server dialed by sipbench's client to server TLS
//!   client (no client certificate, no topology: any valid certificate for the dialed name
//!   from a CA allowed to vouch for it is accepted, and nothing else).
//!
//! A cell passes when the connection is accepted (a SIP OPTIONS gets its 200) or refused as
//! expected and, where the refusing side is observable (sipbench's client, or the reference
//! server's counters), for the expected reason.

pub mod command;
pub mod probe;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls_pki_types::ServerName;
use serde::{Deserialize, Serialize};
use tokio_rustls::TlsConnector;

use crate::generator::session::{self, Endpoint, SipClient};
use crate::pki::{self, BadCert, Identity, Pki};
use crate::plan::Resumption;
use crate::server::RunningServer;
use crate::stats::FailureKind;
use crate::tls::{self, PeerKeyCache, Versions};
use crate::trust::Trust;

/// One certificate of the matrix: a good one or a negative case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Case {
    /// The enterprise edge certificate (`edge.example.test`).
    GoodEdge,
    /// The federated partner's certificate (`sip.partner.example.test`, Partner CA).
    GoodPartner,
    /// A certificate with one defect.
    #[serde(untagged)]
    Bad(BadCert),
}

impl Case {
    /// Every case, good ones first.
    pub fn all() -> Vec<Case> {
        let mut v = vec![Case::GoodEdge, Case::GoodPartner];
        v.extend(BadCert::ALL.into_iter().map(Case::Bad));
        v
    }

    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Case::GoodEdge => "good-edge",
            Case::GoodPartner => "good-partner",
            Case::Bad(b) => b.as_str(),
        }
    }

    /// The certificate and key of this case in `pki`.
    pub fn identity(self, pki: &Pki) -> &Identity {
        match self {
            Case::GoodEdge => &pki.edge,
            Case::GoodPartner => &pki.partner,
            Case::Bad(b) => pki.bad(b),
        }
    }

    /// The name sipbench's client dials when a rogue server presents this certificate.
    pub fn dialed_name(self) -> &'static str {
        match self {
            Case::GoodPartner => pki::PARTNER_DNS,
            Case::Bad(BadCert::NotInTopology) => pki::ROGUE_DNS,
            _ => pki::EDGE_DNS,
        }
    }

    /// What the trust model requires in `direction`.
    pub fn expected(self, direction: Direction) -> Expect {
        let reject = |r: &'static str| Expect::Reject(r.into());
        match self {
            Case::GoodEdge | Case::GoodPartner => Expect::Accept,
            Case::Bad(b) => match b {
                BadCert::Expired => reject("expired"),
                BadCert::NotYetValid => reject("not-valid-yet"),
                BadCert::Revoked => reject("revoked"),
                // A server-to-server peer is known by the name in its certificate: an
                // unexpected one is simply not a trusted server.
                BadCert::WrongName => match direction {
                    Direction::Server => reject("not-in-topology"),
                    Direction::Client | Direction::ClientTls => reject("not-valid-for-name"),
                },
                BadCert::UntrustedCa => reject("unknown-issuer"),
                // The topology is about servers trusting servers; a TLS client dialing
                // rogue.example.test gets a valid certificate for that name.
                BadCert::NotInTopology if direction == Direction::ClientTls => Expect::Accept,
                BadCert::NotInTopology => reject("not-in-topology"),
                BadCert::PartnerClaimsEnterprise => reject("ca-not-trusted-for-name"),
            },
        }
    }
}

/// Which side is offered the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// The server under test gets it as an MTLS client certificate.
    Server,
    /// sipbench's server-to-server (MTLS) client gets it from a rogue server.
    Client,
    /// sipbench's client-to-server TLS client gets it from a rogue server.
    ClientTls,
}

impl Direction {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Server => "server",
            Direction::Client => "client",
            Direction::ClientTls => "client-tls",
        }
    }
}

/// An expected or observed outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "outcome", content = "reason")]
pub enum Expect {
    /// The session is set up and SIP goes through.
    Accept,
    /// The session is refused, for this reason.
    Reject(String),
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::Accept => f.write_str("accept"),
            Expect::Reject(r) => write!(f, "reject ({r})"),
        }
    }
}

/// One cell of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// The certificate.
    pub case: Case,
    /// Who was offered it.
    pub direction: Direction,
    /// TLS version (`1.2` or `1.3`).
    pub tls: Versions,
    /// What the trust model requires.
    pub expected: Expect,
    /// What happened.
    pub observed: Expect,
    /// Whether the reason could be seen (sipbench's own client, or the reference server's
    /// counters); when not, only accept versus reject is compared.
    pub reason_observable: bool,
    /// Observed matches expected.
    pub pass: bool,
}

impl Cell {
    fn new(case: Case, direction: Direction, tls: Versions, observed: Expect, reason_observable: bool) -> Cell {
        let expected = case.expected(direction);
        let pass = match (&expected, &observed) {
            (Expect::Accept, Expect::Accept) => true,
            (Expect::Reject(e), Expect::Reject(o)) => !reason_observable || e == o,
            _ => false,
        };
        Cell {
            case,
            direction,
            tls,
            expected,
            observed,
            reason_observable,
            pass,
        }
    }
}

/// The refusal reason a failure kind stands for: the certificate error kind, `not-in-topology`,
/// or the whole kind (e.g. an alert received from a peer).
pub fn reason(kind: &FailureKind) -> String {
    match kind {
        FailureKind::Certificate(r) => r.clone(),
        other => other.to_string(),
    }
}

/// Limits for one attempt.
const STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// A client connector for one attempt: no resumption, one TLS version.
pub fn connector(
    provider: &Arc<CryptoProvider>,
    trust: &Trust,
    identity: Option<&Identity>,
    version: Versions,
) -> anyhow::Result<TlsConnector> {
    let verifier = trust.verifier(provider)?;
    let config = tls::client_config(provider, verifier, identity, version, Resumption::Off, 1, None)?;
    Ok(TlsConnector::from(config))
}

/// Connects, handshakes (the connector's verifier applies the trust, topology included when it
/// has one), and sends one OPTIONS: `Ok` when it gets a 200.
pub async fn attempt(addr: SocketAddr, connector: TlsConnector, name: &str) -> Result<(), FailureKind> {
    let server_name = ServerName::try_from(name.to_owned()).map_err(|_| FailureKind::Tls("bad-server-name".into()))?;
    let ep = Endpoint {
        addrs: vec![addr],
        tls: Some((vec![connector], server_name)),
        domain: name.into(),
        bad: Vec::new(),
        ossl: None,
        bad_ossl: Vec::new(),
    };
    let mut keys = PeerKeyCache::default();
    let (stream, _) = session::establish(&ep, 0, false, STEP_TIMEOUT, STEP_TIMEOUT, &mut keys).await?;
    let mut sip = SipClient::new(stream, ep.domain.clone(), 1);
    let status = sip.transaction("OPTIONS", STEP_TIMEOUT).await?;
    sip.close().await;
    match status {
        200..=299 => Ok(()),
        s => Err(FailureKind::SipStatus(s)),
    }
}

/// Where the server-side cells go.
pub struct ServerUnderTest<'a> {
    /// Its MTLS listener.
    pub addr: SocketAddr,
    /// The name its certificate must carry.
    pub name: String,
    /// What sipbench's client trusts the server by.
    pub trust: Trust,
    /// The reference server, whose counters tell why it refused; `None` for a deployment.
    pub reference: Option<&'a RunningServer>,
}

/// Offers `case`'s certificate to the server under test over MTLS.
pub async fn server_cell(
    sut: &ServerUnderTest<'_>,
    provider: &Arc<CryptoProvider>,
    pki: &Pki,
    case: Case,
    version: Versions,
) -> anyhow::Result<Cell> {
    // The server's decision is under test, at the server's time: this side trusts the server
    // at the real time, whatever `--at` says.
    let connector = connector(
        provider,
        &sut.trust.without_topology().at(None),
        Some(case.identity(pki)),
        version,
    )?;
    let before = sut.reference.map(|s| s.counters().snapshot().failures);
    let result = attempt(sut.addr, connector, &sut.name).await;
    let observed = match result {
        Ok(()) => Expect::Accept,
        Err(kind) => {
            // The reference server's own record says why it refused; it lands when its
            // connection task ends, just after the client saw the refusal.
            let mut why = None;
            if let (Some(server), Some(before)) = (sut.reference, &before) {
                for _ in 0..100 {
                    let now = server.counters().snapshot().failures;
                    why = now
                        .iter()
                        .find(|(k, v)| before.get(*k).copied().unwrap_or(0) < **v)
                        .map(|(k, _)| k.strip_prefix("certificate:").unwrap_or(k).to_owned());
                    if why.is_some() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            Expect::Reject(why.unwrap_or_else(|| reason(&kind)))
        }
    };
    Ok(Cell::new(
        case,
        Direction::Server,
        version,
        observed,
        sut.reference.is_some(),
    ))
}

/// Has the rogue server (which needs TLS and MTLS listeners) present `case`'s certificate and
/// dials it: in direction [`Direction::Client`] as a server-to-server peer that trusts `trust`
/// with its topology and presents `me`; in [`Direction::ClientTls`] as a TLS client that
/// trusts `trust` without the topology and presents nothing.
#[allow(clippy::too_many_arguments)]
pub async fn client_cell(
    rogue: &RunningServer,
    provider: &Arc<CryptoProvider>,
    pki: &Pki,
    trust: &Trust,
    me: &Identity,
    case: Case,
    version: Versions,
    direction: Direction,
) -> anyhow::Result<Cell> {
    // The rogue server accepts anyone, so that only the client's decision counts.
    let anyone = Trust::from_cas(&[pki.enterprise_ca.clone(), pki.partner_ca.clone()])?;
    rogue.reload(case.identity(pki).clone(), anyone)?;
    let (connector, addr) = match direction {
        Direction::Server => anyhow::bail!("client_cell: direction server is server_cell's"),
        Direction::Client => (connector(provider, trust, Some(me), version)?, rogue.addrs().mtls[0]),
        Direction::ClientTls => (
            connector(provider, &trust.without_topology(), None, version)?,
            rogue.addrs().tls[0],
        ),
    };
    let observed = match attempt(addr, connector, case.dialed_name()).await {
        Ok(()) => Expect::Accept,
        Err(kind) => Expect::Reject(reason(&kind)),
    };
    Ok(Cell::new(case, direction, version, observed, true))
}
