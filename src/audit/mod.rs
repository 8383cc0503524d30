//! `sipbench audit`: the trust matrix, run over real sockets on both TLS stacks.
//!
//! Each cell offers one certificate ([`Case`]) in one [`Direction`] over one TLS version on one
//! TLS [`Stack`] and compares what happened with what the trust model says must happen:
//!
//! - [`Direction::Server`]: the server under test (the reference server on each stack, or a
//!   deployment with `--target`) is offered the certificate as an MTLS client certificate;
//! - [`Direction::Client`]: a rogue server (the reference server presenting the certificate)
//!   is dialed by sipbench's own client as a server-to-server (MTLS) peer, which must refuse
//!   every bad certificate (the man-in-the-middle view);
//! - [`Direction::ClientTls`]: the same rogue server dialed by sipbench's client to server TLS
//!   client (no client certificate, no topology: any valid certificate for the dialed name
//!   from a CA allowed to vouch for it is accepted, and nothing else);
//! - [`Direction::Load`]: a topology with a defect is loaded, as `serve` does on a reload.
//!
//! The cases are the PKI's good certificates, its negative cases ([`BadCert`], one honest
//! defect each) and the attacks of [`attack`] (certificates built by an adversary). A cell
//! passes when the connection is accepted (a SIP OPTIONS gets its 200) or refused as expected
//! and, where the refusing side is observable (sipbench's client, or the reference server's
//! counters), for the expected reason.

pub mod attack;
pub mod command;
pub mod mint;
pub mod probe;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls_pki_types::ServerName;
use serde::{Deserialize, Serialize};
use tokio_rustls::TlsConnector;

pub use attack::{Arsenal, Attack};

use crate::failure::FailureKind;
use crate::generator::session::{self, Endpoint};
use crate::pki::{self, BadCert, Identity, Pki};
use crate::plan::Resumption;
use crate::server::RunningServer;
use crate::tls::ossl::OsslConnector;
use crate::tls::{self, PeerKeyCache, Versions};
use crate::trust::Trust;
use crate::uac::SipClient;

/// A TLS stack of sipbench's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Stack {
    /// rustls with the aws-lc-rs provider (webpki validates paths).
    Rustls,
    /// The system OpenSSL (`X509_verify_cert` validates paths).
    Openssl,
}

impl Stack {
    /// Both stacks.
    pub const ALL: [Stack; 2] = [Stack::Rustls, Stack::Openssl];

    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stack::Rustls => "rustls",
            Stack::Openssl => "openssl",
        }
    }

    /// The backend that runs this stack.
    pub fn backend(self) -> tls::Backend {
        match self {
            Stack::Rustls => tls::Backend::AwsLcRs,
            Stack::Openssl => tls::Backend::OpenSsl,
        }
    }
}

/// One certificate of the matrix: a good one, a negative case or an attack.
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
    /// A certificate (or configuration) built to get past the trust model.
    #[serde(untagged)]
    Attack(Attack),
}

impl Case {
    /// The PKI's cases, good ones first.
    pub fn all() -> Vec<Case> {
        let mut v = vec![Case::GoodEdge, Case::GoodPartner];
        v.extend(BadCert::ALL.into_iter().map(Case::Bad));
        v
    }

    /// Every case the matrix has: the PKI's, then the attacks.
    pub fn every() -> Vec<Case> {
        let mut v = Case::all();
        v.extend(Attack::ALL.into_iter().map(Case::Attack));
        v
    }

    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Case::GoodEdge => "good-edge",
            Case::GoodPartner => "good-partner",
            Case::Bad(b) => b.as_str(),
            Case::Attack(a) => a.as_str(),
        }
    }

    /// What the case is.
    pub fn describe(self) -> &'static str {
        match self {
            Case::GoodEdge => "the Enterprise edge's certificate",
            Case::GoodPartner => "the Partner edge's certificate",
            Case::Bad(b) => b.describe(),
            Case::Attack(a) => a.describe(),
        }
    }

    /// Whether the case applies in `direction`.
    pub fn applies(self, direction: Direction) -> bool {
        match self {
            Case::Attack(a) => a.applies(direction),
            _ => direction != Direction::Load,
        }
    }

    /// The certificate and key of this case.
    pub fn identity<'a>(self, pki: &'a Pki, arsenal: Option<&'a Arsenal>) -> Option<&'a Identity> {
        match self {
            Case::GoodEdge => Some(&pki.edge),
            Case::GoodPartner => Some(&pki.partner),
            Case::Bad(b) => pki.bad.get(&b),
            Case::Attack(a) => arsenal?.identity(a),
        }
    }

    /// The name sipbench's client dials when a rogue server presents this certificate.
    pub fn dialed_name(self, names: &Names) -> &str {
        match self {
            Case::GoodPartner => &names.partner,
            Case::Bad(BadCert::NotInTopology) => &names.rogue,
            Case::Attack(a) => a.dialed_name(names),
            _ => &names.edge,
        }
    }

    /// What the trust model requires in `direction` on `stack`.
    pub fn expected(self, direction: Direction, stack: Option<Stack>) -> Expect {
        let reject = |r: &'static str| Expect::Reject(r.into());
        match self {
            Case::GoodEdge | Case::GoodPartner => Expect::Accept,
            Case::Attack(a) => a.expected(direction, stack),
            Case::Bad(b) => match b {
                BadCert::Expired => reject("expired"),
                BadCert::NotYetValid => reject("not-valid-yet"),
                BadCert::Revoked => reject("revoked"),
                // A server-to-server peer is known by the name in its certificate: an
                // unexpected one is simply not a trusted server.
                BadCert::WrongName => match direction {
                    Direction::Server => reject("not-in-topology"),
                    _ => reject("not-valid-for-name"),
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

/// The names the audit dials and expects, by role. The built-in ones are the throwaway PKI's;
/// [`Names::of`] reads them from a PKI's certificates, and `audit --name ROLE=NAME` sets them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Names {
    /// The SIP service under test (`server`): the reference server's certificate carries it.
    pub server: String,
    /// The Enterprise edge (`edge`): the good edge certificate and the negative cases made
    /// like it carry it; sipbench's client dials it.
    pub edge: String,
    /// The federated partner's edge (`partner`).
    pub partner: String,
    /// A name of the Enterprise domain that is no topology server (`rogue`): the
    /// not-in-topology case carries it.
    pub rogue: String,
    /// A name nobody dials and no topology lists (`wrong-name`): the wrong-name case carries it.
    pub wrong_name: String,
}

impl Names {
    /// The roles, as `--name` takes them.
    pub const ROLES: [&'static str; 5] = ["server", "edge", "partner", "rogue", "wrong-name"];

    /// The throwaway PKI's names.
    pub fn builtin() -> Names {
        Names {
            server: pki::SERVER_DNS.into(),
            edge: pki::EDGE_DNS.into(),
            partner: pki::PARTNER_DNS.into(),
            rogue: pki::ROGUE_DNS.into(),
            wrong_name: pki::WRONG_NAME_DNS.into(),
        }
    }

    /// The names a PKI's certificates carry: the first DNS name of the server, edge and partner
    /// certificates and of the not-in-topology and wrong-name cases when it has them; otherwise
    /// `rogue.` and `www.` under the edge's domain; the built-in name where a certificate has
    /// no DNS name.
    pub fn of(pki: &Pki) -> Names {
        let first = |id: Option<&Identity>| {
            id.and_then(|id| id.leaf())
                .and_then(|c| pki::summarize(c).ok())
                .and_then(|s| s.dns_names.into_iter().next())
        };
        let builtin = Names::builtin();
        let edge = first(Some(&pki.edge)).unwrap_or(builtin.edge);
        let domain = Names::domain_of(&edge).to_owned();
        Names {
            server: first(Some(&pki.server)).unwrap_or(builtin.server),
            partner: first(Some(&pki.partner)).unwrap_or(builtin.partner),
            rogue: first(pki.bad.get(&BadCert::NotInTopology)).unwrap_or_else(|| format!("rogue.{domain}")),
            wrong_name: first(pki.bad.get(&BadCert::WrongName)).unwrap_or_else(|| format!("www.{domain}")),
            edge,
        }
    }

    /// Sets the name of `role` (one of [`Names::ROLES`]).
    pub fn set(&mut self, role: &str, name: &str) -> Result<(), String> {
        let slot = match role {
            "server" => &mut self.server,
            "edge" => &mut self.edge,
            "partner" => &mut self.partner,
            "rogue" => &mut self.rogue,
            "wrong-name" => &mut self.wrong_name,
            other => return Err(format!("no role `{other}` (have {})", Names::ROLES.join(", "))),
        };
        name.clone_into(slot);
        Ok(())
    }

    /// The domain a name is in: the name without its first label (`example.test` for
    /// `edge.example.test`); the name itself when it has one label.
    pub fn domain_of(name: &str) -> &str {
        name.split_once('.').map_or(name, |(_, rest)| rest)
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
    /// A topology with the defect is loaded.
    Load,
}

impl Direction {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Server => "server",
            Direction::Client => "client",
            Direction::ClientTls => "client-tls",
            Direction::Load => "load",
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
    /// TLS version (`1.2` or `1.3`); none for a load cell.
    pub tls: Option<Versions>,
    /// The stack that decided: the server's in direction `server` (none for a deployment),
    /// sipbench's client's otherwise; none for a load cell (both stacks load alike).
    pub stack: Option<Stack>,
    /// What the case is, and so why the outcome is expected.
    pub why: String,
    /// What the trust model requires.
    pub expected: Expect,
    /// What happened.
    pub observed: Expect,
    /// More on what happened (the refusal as the refusing side put it), when there is more.
    pub detail: Option<String>,
    /// Whether the reason could be seen (sipbench's own client, or the reference server's
    /// counters); when not, only accept versus reject is compared.
    pub reason_observable: bool,
    /// Observed matches expected.
    pub pass: bool,
}

impl Cell {
    fn new(case: Case, direction: Direction, tls: Option<Versions>, stack: Option<Stack>, observed: Outcome) -> Cell {
        let expected = case.expected(direction, stack);
        let pass = match (&expected, &observed.outcome) {
            (Expect::Accept, Expect::Accept) => true,
            (Expect::Reject(e), Expect::Reject(o)) => !observed.reason_observable || e == o,
            _ => false,
        };
        Cell {
            case,
            direction,
            tls,
            stack,
            why: case.describe().into(),
            expected,
            observed: observed.outcome,
            detail: observed.detail,
            reason_observable: observed.reason_observable,
            pass,
        }
    }
}

/// What one attempt came to.
struct Outcome {
    outcome: Expect,
    detail: Option<String>,
    reason_observable: bool,
}

impl Outcome {
    fn of(result: Result<(), FailureKind>) -> Outcome {
        match result {
            Ok(()) => Outcome {
                outcome: Expect::Accept,
                detail: None,
                reason_observable: true,
            },
            Err(kind) => Outcome {
                outcome: Expect::Reject(reason(&kind)),
                detail: Some(kind.to_string()),
                reason_observable: true,
            },
        }
    }
}

impl std::str::FromStr for Case {
    type Err = String;

    /// A case by its name (`good-edge`, `revoked`, `ip-only`, ...); the error lists them all.
    fn from_str(name: &str) -> Result<Case, String> {
        let every = Case::every();
        every.iter().copied().find(|c| c.as_str() == name).ok_or_else(|| {
            let names: Vec<&str> = every.iter().map(|c| c.as_str()).collect();
            format!("no case `{name}` (have {})", names.join(", "))
        })
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

/// Connect and handshake limits of one attempt.
fn limits() -> tls::Limits {
    tls::Limits {
        connect: STEP_TIMEOUT,
        handshake: STEP_TIMEOUT,
        local: None,
    }
}

/// A client connector on either stack.
#[derive(Clone)]
pub enum Connector {
    /// rustls.
    Rustls(TlsConnector),
    /// OpenSSL.
    Openssl(OsslConnector),
}

/// A client connector for one attempt on `stack`: no resumption, one TLS version.
pub fn connector(
    stack: Stack,
    provider: &Arc<CryptoProvider>,
    trust: &Trust,
    identity: Option<&Identity>,
    version: Versions,
) -> anyhow::Result<Connector> {
    Ok(match stack {
        Stack::Rustls => {
            let verifier = trust.verifier(provider)?;
            let config = tls::client_config(provider, verifier, identity, version, Resumption::Off, 1, None)?;
            Connector::Rustls(TlsConnector::from(config))
        }
        Stack::Openssl => Connector::Openssl(OsslConnector::new(
            trust,
            identity,
            version,
            tls::Resumption::Off,
            None,
            None,
        )?),
    })
}

/// Connects, handshakes (the connector's verifier applies the trust, topology included when it
/// has one), and sends one OPTIONS: `Ok` when it gets a 200.
pub async fn attempt(addr: SocketAddr, connector: impl Into<Connector>, name: &str) -> Result<(), FailureKind> {
    let server_name = ServerName::try_from(name.to_owned()).map_err(|_| FailureKind::InvalidServerName)?;
    let dialer = match connector.into() {
        Connector::Rustls(c) => tls::rustls_stack::dialer(c, server_name),
        Connector::Openssl(c) => tls::openssl_stack::dialer(c, name),
    };
    let ep = Endpoint::single(addr, dialer, name);
    let mut keys = PeerKeyCache::default();
    let (stream, est) = session::establish(&ep, 0, false, limits(), &mut keys).await?;
    let mut sip = SipClient::new(stream, ep.domain.clone(), 1);
    let status = sip.transaction(crate::sip::Method::Options, STEP_TIMEOUT).await;
    // A 0-RTT session's handshake completes under its first request.
    if est.early {
        sip.finish_early(&mut keys);
    }
    let status = status?;
    sip.close().await;
    match status {
        200..=299 => Ok(()),
        s => Err(FailureKind::SipStatus(s)),
    }
}

impl Connector {
    /// The rustls connector, if this is one.
    pub fn into_rustls(self) -> Option<TlsConnector> {
        match self {
            Connector::Rustls(c) => Some(c),
            Connector::Openssl(_) => None,
        }
    }
}

impl From<TlsConnector> for Connector {
    fn from(c: TlsConnector) -> Connector {
        Connector::Rustls(c)
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
    /// The reference server's stack.
    pub stack: Option<Stack>,
}

/// Offers `identity` (the certificate of `case`) to the server under test over MTLS.
pub async fn server_cell(
    sut: &ServerUnderTest<'_>,
    provider: &Arc<CryptoProvider>,
    case: Case,
    identity: &Identity,
    version: Versions,
) -> anyhow::Result<Cell> {
    // The server's decision is under test, at the server's time: this side trusts the server
    // at the real time, whatever `--at` says.
    let trust = sut.trust.without_topology().at(None);
    let connector = connector(Stack::Rustls, provider, &trust, Some(identity), version)?;
    let before = sut.reference.map(|s| s.counters().snapshot().failures);
    let result = attempt(sut.addr, connector, &sut.name).await;
    let mut observed = Outcome::of(result);
    if let Expect::Reject(_) = observed.outcome {
        // The reference server's own record says why it refused; it lands when its
        // connection task ends, just after the client saw the refusal.
        let mut why = None;
        if let (Some(server), Some(before)) = (sut.reference, &before) {
            for _ in 0..100 {
                let now = server.counters().snapshot().failures;
                why = now
                    .iter()
                    .find(|(k, v)| before.get(*k).copied().unwrap_or(0) < **v)
                    .map(|(k, _)| k.to_owned());
                if why.is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        if let Some(why) = why {
            observed.outcome = Expect::Reject(why.strip_prefix("certificate:").unwrap_or(&why).to_owned());
            observed.detail = Some(format!("server: {why}"));
        }
    }
    observed.reason_observable = sut.reference.is_some();
    Ok(Cell::new(case, Direction::Server, Some(version), sut.stack, observed))
}

/// Has the rogue server (which needs TLS and MTLS listeners) present `identity` (the
/// certificate of `case`) and dials it on `stack`: in direction [`Direction::Client`] as a
/// server-to-server peer that trusts `trust` with its topology and presents `me`; in
/// [`Direction::ClientTls`] as a TLS client that trusts `trust` without the topology and
/// presents nothing.
#[allow(clippy::too_many_arguments)]
pub async fn client_cell(
    rogue: &RunningServer,
    provider: &Arc<CryptoProvider>,
    pki: &Pki,
    trust: &Trust,
    me: &Identity,
    case: Case,
    identity: &Identity,
    version: Versions,
    direction: Direction,
    stack: Stack,
    names: &Names,
) -> anyhow::Result<Cell> {
    // The rogue server accepts anyone, so that only the client's decision counts.
    let anyone = Trust::from_cas(&[pki.enterprise_ca.clone(), pki.partner_ca.clone()])?;
    rogue.reload(identity.clone(), anyone)?;
    let (connector, addr) = match direction {
        Direction::Client => (
            connector(stack, provider, trust, Some(me), version)?,
            rogue.addrs().mtls[0],
        ),
        Direction::ClientTls => (
            connector(stack, provider, &trust.without_topology(), None, version)?,
            rogue.addrs().tls[0],
        ),
        other => anyhow::bail!("client_cell: direction {} is not a client's", other.as_str()),
    };
    let observed = Outcome::of(attempt(addr, connector, case.dialed_name(names)).await);
    Ok(Cell::new(case, direction, Some(version), Some(stack), observed))
}

/// Loads the PKI's topology with the defect of a load attack (`serve` does this on a reload):
/// the load must fail.
pub fn load_cell(pki: &Pki, attack: Attack) -> anyhow::Result<Cell> {
    let dir = tempfile::tempdir()?;
    pki.write_to(dir.path())?;
    let path = dir.path().join(pki::files::TOPOLOGY);
    let text = std::fs::read_to_string(&path)?;
    let (from, to) = match attack {
        Attack::CrlWrongCa => (
            format!("crl = \"{}\"", pki::files::ENTERPRISE_CRL),
            format!("crl = \"{}\"", pki::files::PARTNER_CRL),
        ),
        Attack::CaFileHoldsLeaf => (
            format!("cert = \"{}\"", pki::files::ENTERPRISE_CA),
            format!("cert = \"{}\"", pki::files::EDGE),
        ),
        other => anyhow::bail!("{} is not a load attack", other.as_str()),
    };
    anyhow::ensure!(text.contains(&from), "the PKI's topology has no `{from}`");
    std::fs::write(&path, text.replacen(&from, &to, 1))?;
    let observed = match Trust::load(&path) {
        Ok(_) => Outcome {
            outcome: Expect::Accept,
            detail: Some("the topology loaded".into()),
            reason_observable: true,
        },
        Err(e) => Outcome {
            outcome: Expect::Reject("refused-at-load".into()),
            detail: Some(e.to_string().replace(&dir.path().display().to_string(), "PKI")),
            reason_observable: true,
        },
    };
    Ok(Cell::new(Case::Attack(attack), Direction::Load, None, None, observed))
}

/// 0-RTT towards a server that is swapped for one not in the topology: sipbench's MTLS client
/// (rustls; OpenSSL does no 0-RTT) resumes with early data after a full handshake with the
/// trusted partner edge, but the address now leads to `impostor`, valid for the name and not a
/// trusted server. The impostor must be refused inside the handshake and read no request.
pub async fn zero_rtt_cell(
    pki: &Pki,
    trust: &Trust,
    impostor: &Identity,
    provider: &Arc<CryptoProvider>,
    pool: &crate::pool::Pool,
    names: &Names,
) -> anyhow::Result<Cell> {
    use crate::server::{self, ServerConfig};
    let mut good = ServerConfig::loopback(pki.partner.clone(), trust.clone());
    good.resumption.max_early_data = 16 * 1024;
    let good = server::start(&good, pool)?;
    let bad = server::start(&ServerConfig::loopback(impostor.clone(), trust.clone()), pool)?;
    let proxy = switching_proxy(good.addrs().mtls[0], bad.addrs().mtls[0]).await?;
    let verifier = trust.verifier(provider)?;
    let config = tls::client_config(
        provider,
        verifier,
        Some(&pki.edge),
        Versions::Tls13,
        Resumption::Tls13EarlyData,
        8,
        None,
    )?;
    let connector = TlsConnector::from(config).early_data(true);
    let first = attempt(proxy.addr, connector.clone(), &names.partner).await;
    let second = attempt(proxy.addr, connector, &names.partner).await;
    let read = bad.counters().snapshot().requests;
    proxy.task.abort();
    bad.shutdown(Duration::from_secs(1)).await;
    good.shutdown(Duration::from_secs(1)).await;
    let observed = match (first, second) {
        (Err(kind), _) => Outcome {
            outcome: Expect::Reject(reason(&kind)),
            detail: Some(format!("the trusted server refused the first session: {kind}")),
            reason_observable: true,
        },
        (Ok(()), second) => {
            let mut o = Outcome::of(second);
            if read > 0 {
                o.outcome = Expect::Accept;
                o.detail = Some(format!("the impostor read {read} requests"));
            }
            o
        }
    };
    Ok(Cell::new(
        Case::Attack(Attack::ZeroRttNotInTopology),
        Direction::Client,
        Some(Versions::Tls13),
        Some(Stack::Rustls),
        observed,
    ))
}

/// A TCP proxy that sends the first connection to one server and every later one to another.
struct Proxy {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

async fn switching_proxy(first: SocketAddr, then: SocketAddr) -> std::io::Result<Proxy> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let mut n = 0usize;
        while let Ok((mut inbound, _)) = listener.accept().await {
            let to = if n == 0 { first } else { then };
            n += 1;
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    Ok(Proxy { addr, task })
}
