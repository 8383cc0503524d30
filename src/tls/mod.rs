//! The TLS stacks and transports, behind one interface.
//!
//! A session is opened by a [`Dialer`] and accepted by an [`Acceptor`]; what either hands back
//! is a [`Stream`] (bytes in and out, whatever is underneath) with what the handshake
//! negotiated. Each TLS stack implements [`Stack`], which builds both from the same settings
//! and says up front what it cannot do ([`Stack::check`]), so that a run refuses a phase its
//! stack cannot run before the first phase starts. The generator's workloads, the reference
//! server and the audit never ask which stack or transport they are on, as h2load's workers
//! never ask which protocol a session speaks.
//!
//! - [`rustls_stack`]: rustls with a crypto provider chosen per [`Backend`] (aws-lc-rs, ring,
//!   graviola), passed explicitly to every config builder; sipbench never installs or relies
//!   on a process-wide default provider.
//! - [`ossl`] and [`openssl_stack`]: the system OpenSSL through `openssl` and `tokio-openssl`.
//! - [`tcp`]: cleartext TCP, the baseline transport (and where a UDP transport goes beside it).
//!
//! [`Backend::stack`] is the one place that maps a backend to its stack.

pub mod openssl_stack;
pub mod ossl;
pub mod rustls_stack;
pub mod session_store;
pub mod tcp;
pub mod udp;

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::failure::{FailureKind, kebab};
use crate::pki::{self, Identity, KeyType};
use crate::stats::{HandshakeKind, Negotiated};
use crate::trust::Trust;

pub use rustls_stack::{
    SessionCache, check_key_type, classify_tls, client_config, negotiated, server_config, with_kx_group, with_suite,
};

/// The crypto backends this binary has: three rustls crypto providers and OpenSSL.
///
/// With the cargo feature `fips`, `aws-lc-rs` is aws-lc-rs in FIPS mode (the FIPS module is
/// linked instead of the ordinary one: one binary cannot have both, so a FIPS build reports
/// itself as `aws-lc-rs-fips`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// rustls with the aws-lc-rs provider (FIPS mode in a `fips` build).
    #[default]
    #[value(alias = "aws-lc-rs-fips")]
    #[serde(alias = "aws-lc-rs-fips")]
    AwsLcRs,
    /// rustls with the ring provider.
    Ring,
    /// rustls with the graviola provider (rustls-graviola).
    Graviola,
    /// OpenSSL (the system libssl, through the openssl and tokio-openssl crates) as a separate
    /// TLS stack.
    #[value(name = "openssl")]
    #[serde(rename = "openssl")]
    OpenSsl,
}

impl Backend {
    /// Every backend of this binary.
    pub const ALL: [Backend; 4] = [Backend::AwsLcRs, Backend::Ring, Backend::Graviola, Backend::OpenSsl];

    /// The TLS stack that runs this backend's sessions: the one place a backend is mapped to
    /// the code that runs it.
    pub fn stack(self) -> Arc<dyn Stack> {
        match self {
            Backend::AwsLcRs | Backend::Ring | Backend::Graviola => Arc::new(rustls_stack::RustlsStack::new(self)),
            Backend::OpenSsl => Arc::new(openssl_stack::OpensslStack),
        }
    }

    /// The rustls crypto provider of a rustls backend (its own default cipher suites and key
    /// exchange groups); `None` for OpenSSL, whose sessions never use one.
    pub fn rustls_provider(self) -> Option<Arc<rustls::crypto::CryptoProvider>> {
        rustls_stack::provider(self)
    }

    /// Stable name, as used on the command line and in results.
    pub fn as_str(self) -> &'static str {
        match self {
            #[cfg(not(feature = "fips"))]
            Backend::AwsLcRs => "aws-lc-rs",
            #[cfg(feature = "fips")]
            Backend::AwsLcRs => "aws-lc-rs-fips",
            Backend::Ring => "ring",
            Backend::Graviola => "graviola",
            Backend::OpenSsl => "openssl",
        }
    }

    /// The library (and version) behind the backend.
    pub fn library(self) -> String {
        match self {
            Backend::AwsLcRs => format!("aws-lc-rs {}", env!("SIPBENCH_AWS_LC_RS_VERSION")),
            Backend::Ring => format!("ring {}", env!("SIPBENCH_RING_VERSION")),
            Backend::Graviola => format!(
                "graviola {} (rustls-graviola {})",
                env!("SIPBENCH_GRAVIOLA_VERSION"),
                env!("SIPBENCH_RUSTLS_GRAVIOLA_VERSION")
            ),
            Backend::OpenSsl => format!(
                "{} (openssl crate {})",
                openssl::version::version(),
                env!("SIPBENCH_OPENSSL_CRATE_VERSION")
            ),
        }
    }
}

/// Which TLS protocol versions a config offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Versions {
    /// TLS 1.3 only.
    #[default]
    #[serde(rename = "1.3")]
    #[value(name = "1.3")]
    Tls13,
    /// TLS 1.2 only.
    #[serde(rename = "1.2")]
    #[value(name = "1.2")]
    Tls12,
    /// Both; TLS 1.3 preferred.
    #[serde(rename = "any")]
    #[value(name = "any")]
    Any,
}

impl Versions {
    /// Stable name (`1.3`, `1.2`, `any`).
    pub fn as_str(self) -> &'static str {
        match self {
            Versions::Tls13 => "1.3",
            Versions::Tls12 => "1.2",
            Versions::Any => "any",
        }
    }
}

/// TLS session resumption modes (client side; the server follows with [`ServerResumption`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Resumption {
    /// No resumption: every handshake is full.
    Off,
    /// TLS 1.3 resumption with stateless tickets (the server encrypts the session into the ticket).
    #[serde(rename = "tls13-tickets")]
    #[value(name = "tls13-tickets")]
    Tls13Tickets,
    /// TLS 1.3 resumption with a server-side session cache (the ticket is an id).
    #[serde(rename = "tls13-stateful")]
    #[value(name = "tls13-stateful")]
    Tls13Stateful,
    /// TLS 1.2 resumption by session id (server-side cache).
    #[serde(rename = "tls12-session-id")]
    #[value(name = "tls12-session-id")]
    Tls12SessionId,
    /// TLS 1.2 resumption by RFC 5077 ticket.
    #[serde(rename = "tls12-tickets")]
    #[value(name = "tls12-tickets")]
    Tls12Tickets,
    /// TLS 1.3 resumption with the first SIP request sent as 0-RTT early data.
    #[serde(rename = "tls13-0rtt")]
    #[value(name = "tls13-0rtt")]
    Tls13EarlyData,
}

impl Resumption {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Resumption::Off => "off",
            Resumption::Tls13Tickets => "tls13-tickets",
            Resumption::Tls13Stateful => "tls13-stateful",
            Resumption::Tls12SessionId => "tls12-session-id",
            Resumption::Tls12Tickets => "tls12-tickets",
            Resumption::Tls13EarlyData => "tls13-0rtt",
        }
    }

    /// The protocol version the mode needs, if any.
    pub fn version(self) -> Option<Versions> {
        match self {
            Resumption::Off => None,
            Resumption::Tls13Tickets | Resumption::Tls13Stateful | Resumption::Tls13EarlyData => Some(Versions::Tls13),
            Resumption::Tls12SessionId | Resumption::Tls12Tickets => Some(Versions::Tls12),
        }
    }

    /// What the server needs to serve this mode: stateless tickets for the ticket modes, its
    /// session cache of `cache` entries for the stateful ones, and for 0-RTT early data up to
    /// 16 KiB when `early_data` is accepted.
    pub fn server(self, cache: usize, ticket_lifetime: Duration, early_data: EarlyData) -> ServerResumption {
        let base = ServerResumption {
            cache,
            ticket_lifetime,
            ..Default::default()
        };
        match self {
            Resumption::Off => ServerResumption::default(),
            Resumption::Tls13Tickets | Resumption::Tls12Tickets => ServerResumption {
                stateless: true,
                ..base
            },
            Resumption::Tls13Stateful | Resumption::Tls12SessionId => base,
            Resumption::Tls13EarlyData => ServerResumption {
                max_early_data: if early_data == EarlyData::Accept { 16 * 1024 } else { 0 },
                ..base
            },
        }
    }
}

/// Whether a server accepts 0-RTT early data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum EarlyData {
    /// Accept early data (up to 16 KiB).
    Accept,
    /// Reject it: the client resends the request after the handshake.
    Reject,
}

/// How the server resumes sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerResumption {
    /// Issue stateless tickets (TLS 1.3 tickets and TLS 1.2 RFC 5077 tickets) instead of
    /// keeping sessions in a cache.
    pub stateless: bool,
    /// Session cache entries (stateful resumption: TLS 1.3 ids and TLS 1.2 session ids).
    pub cache: usize,
    /// Advertised ticket lifetime.
    pub ticket_lifetime: Duration,
    /// Largest 0-RTT early data accepted (0: rejected). Needs stateful resumption.
    pub max_early_data: u32,
}

impl Default for ServerResumption {
    /// rustls's defaults: a 256-entry session cache, no ticketer, no early data.
    fn default() -> Self {
        ServerResumption {
            stateless: false,
            cache: 256,
            ticket_lifetime: Duration::from_secs(2 * 3600),
            max_early_data: 0,
        }
    }
}

/// What a client offers and keeps: everything a dialer is built from besides the credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSettings {
    /// TLS versions offered.
    pub versions: Versions,
    /// Resumption mode.
    pub resumption: Resumption,
    /// Session cache entries (per dialer).
    pub session_cache: usize,
    /// Plaintext bytes per TLS record (`None`: the stack's default, 16 KiB).
    pub record_size: Option<usize>,
    /// The only cipher suite offered (rustls name), or the stack's defaults.
    pub cipher_suite: Option<String>,
    /// The only key exchange group offered, or the stack's defaults.
    pub kx_group: Option<String>,
}

impl Default for ClientSettings {
    /// TLS 1.3, no resumption, the stack's defaults otherwise.
    fn default() -> Self {
        ClientSettings {
            versions: Versions::Tls13,
            resumption: Resumption::Off,
            session_cache: 1,
            record_size: None,
            cipher_suite: None,
            kx_group: None,
        }
    }
}

/// Something a stack cannot do: the setting, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct Incapable {
    /// The setting, as named in profiles (`cipher_suite`, `resumption`, ...).
    pub field: &'static str,
    /// Why the stack cannot do it.
    pub problem: String,
}

/// A TLS stack: builds dialers and acceptors, and says what it cannot do before it is asked to.
pub trait Stack: Send + Sync + fmt::Debug {
    /// The backend it runs.
    fn backend(&self) -> Backend;

    /// Whether the stack can run a client with `settings`, and, given `key_type`, handshakes
    /// with certificates of that key type (signing with `signing_key` when given). Called for
    /// every phase of a run before the first one starts.
    fn check(
        &self,
        settings: &ClientSettings,
        key_type: Option<KeyType>,
        signing_key: Option<&PrivateKeyDer<'_>>,
    ) -> Result<(), Incapable>;

    /// A dialer verifying servers against `trust` for `server_name` (a DNS name or an IP
    /// address) and presenting `identity` when given (MTLS). Each dialer owns its session
    /// cache: build one per worker for per-worker caches.
    fn dialer(
        &self,
        trust: &Trust,
        identity: Option<&Identity>,
        server_name: &str,
        settings: &ClientSettings,
    ) -> anyhow::Result<Arc<dyn Dialer>>;

    /// An acceptor presenting `identity`; with `client_trust`, a client certificate that the
    /// trust accepts (topology included) is required (MTLS).
    fn acceptor(
        &self,
        identity: &Identity,
        client_trust: Option<&Trust>,
        versions: Versions,
        resumption: ServerResumption,
    ) -> anyhow::Result<Arc<dyn Acceptor>>;

    /// What the stack offers by default and can be pinned to (`sipbench backends`); `keys`
    /// are sample keys of every key type.
    fn describe(&self, keys: &[(KeyType, PrivateKeyDer<'static>)]) -> BackendInfo;
}

/// One stack's capabilities, as `sipbench backends` lists them.
#[derive(Debug, Clone, Serialize)]
pub struct BackendInfo {
    /// Name, as given to `--backend`.
    pub name: String,
    /// Library and version.
    pub library: String,
    /// Whether the provider runs in FIPS mode.
    pub fips: bool,
    /// Cipher suites offered by default, in preference order.
    pub cipher_suites: Vec<String>,
    /// Key exchange groups offered by default, in preference order.
    pub kx_groups: Vec<String>,
    /// Other groups it implements, which `--kx-group` can pin.
    pub kx_groups_on_request: Vec<String>,
    /// Certificate key types it can sign with and verify.
    pub key_types: Vec<String>,
    /// Key types it cannot use, with the reason.
    pub key_types_not_supported: Vec<String>,
}

/// A boxed future that can move between threads.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A session's byte stream, on any transport and TLS stack.
pub trait SessionIo: AsyncRead + AsyncWrite + Unpin + Send {
    /// The local socket address (for SIP Via and Contact).
    fn local_addr(&self) -> io::Result<SocketAddr>;

    /// Whether the bytes are protected by TLS (SIP transport `TLS`) or not (`TCP`).
    fn secure(&self) -> bool;

    /// Whether each write is one datagram and delivery is not guaranteed (SIP transport
    /// `UDP`): the SIP client then retransmits requests on RFC 3261's timers.
    fn datagram(&self) -> bool {
        false
    }

    /// A 0-RTT session's parameters once its handshake has completed (under the first
    /// request): the handshake kind is `resumed-0rtt` when the server accepted the early data.
    /// `None` while the handshake is still under way, and for streams that never send early
    /// data.
    fn negotiated_late(&self, keys: &mut PeerKeyCache) -> Option<Negotiated> {
        let _ = keys;
        None
    }
}

/// An open session's stream.
pub type Stream = Box<dyn SessionIo>;

/// How long opening a session may take, step by step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Transport connect.
    pub connect: Duration,
    /// TLS handshake.
    pub handshake: Duration,
    /// The source address to connect from (`None`: the kernel's choice).
    pub local: Option<std::net::IpAddr>,
}

/// Timings and parameters of an opened session.
#[derive(Debug, Clone)]
pub struct Established {
    /// Transport connect time.
    pub connect: Duration,
    /// TLS handshake time (zero without TLS).
    pub handshake: Duration,
    /// What the handshake negotiated (see [`cleartext`] without TLS).
    pub negotiated: Negotiated,
    /// Whether the session runs TLS.
    pub secure: bool,
    /// True for a resumed handshake.
    pub resumed: bool,
    /// 0-RTT: the handshake was still under way when the dialer returned, so that the first
    /// request could go as early data; `handshake` and `negotiated` are not known yet (see
    /// [`SessionIo::negotiated_late`]).
    pub early: bool,
}

impl Established {
    /// A session without TLS (TCP or UDP), opened in `connect`.
    pub fn cleartext(connect: Duration) -> Established {
        Established {
            connect,
            handshake: Duration::ZERO,
            negotiated: cleartext(),
            secure: false,
            resumed: false,
            early: false,
        }
    }

    /// A completed handshake's figures.
    pub fn handshaken(negotiated: Negotiated, connect: Duration, handshake: Duration) -> Established {
        Established {
            connect,
            handshake,
            resumed: negotiated.handshake.is_resumed(),
            negotiated,
            secure: true,
            early: false,
        }
    }
}

/// Opens sessions to a server: the transport connect, then the handshake if any.
pub trait Dialer: Send + Sync {
    /// Opens one session to `addr` within `limits`.
    fn dial<'a>(
        &'a self,
        addr: SocketAddr,
        limits: Limits,
        keys: &'a mut PeerKeyCache,
    ) -> BoxFuture<'a, Result<(Stream, Established), FailureKind>>;
}

/// A session accepted by a server, after its handshake.
pub struct Accepted {
    /// The stream.
    pub stream: Stream,
    /// Whether the handshake ran TLS.
    pub secure: bool,
    /// A resumed handshake.
    pub resumed: bool,
    /// A full handshake that needed a HelloRetryRequest (rustls only: OpenSSL does not say).
    pub hello_retry: bool,
    /// The client presented a certificate (or, resumed, the session carries its identity).
    pub peer_identified: bool,
    /// 0-RTT early data received with the handshake: the start of the SIP byte stream.
    pub early_data: Option<BytesMut>,
}

/// Runs the server side of a session's handshake on an accepted connection.
pub trait Acceptor: Send + Sync {
    /// Handshakes over `tcp`. Failures are classified (a refused client certificate is
    /// `certificate:<reason>`).
    fn accept(&self, tcp: TcpStream) -> BoxFuture<'_, Result<Accepted, FailureKind>>;
}

/// Classifies an I/O error from any session stream (or a plain socket) into a failure kind:
/// each TLS stack recognises its own errors; what neither claims is a transport error.
pub fn classify_io(err: &io::Error) -> FailureKind {
    if let Some(kind) = rustls_stack::classify_own(err) {
        return kind;
    }
    if let Some(kind) = ossl::classify_own(err) {
        return kind;
    }
    classify_transport(err)
}

/// Classifies an I/O error no TLS stack raised: resets and closes, or the error kind.
pub fn classify_transport(err: &io::Error) -> FailureKind {
    match err.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => FailureKind::Reset,
        kind => FailureKind::Io(kebab(&format!("{kind:?}"))),
    }
}

/// Remembers the description of the last peer certificate seen, so that the X.509 parse is done
/// once per distinct certificate rather than once per handshake.
#[derive(Debug, Default)]
pub struct PeerKeyCache {
    last: Option<(CertificateDer<'static>, String)>,
}

impl PeerKeyCache {
    /// Describes `cert`'s public key (e.g. `ECDSA P-256`).
    pub fn describe(&mut self, cert: &CertificateDer<'_>) -> &str {
        let hit = matches!(&self.last, Some((c, _)) if c.as_ref() == cert.as_ref());
        if !hit {
            let d = pki::cert_key_description(cert);
            self.last = Some((cert.clone().into_owned(), d));
        }
        &self.last.as_ref().expect("set above").1
    }
}

/// The negotiated tally entry for cleartext sessions.
pub fn cleartext() -> Negotiated {
    Negotiated {
        protocol: "none".into(),
        cipher_suite: "none".into(),
        kx_group: "none".into(),
        peer_key: "none".into(),
        handshake: HandshakeKind::None,
        resumed_by: crate::stats::ResumedBy::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_backend_has_a_stack_that_names_it() {
        for b in Backend::ALL {
            assert_eq!(b.stack().backend(), b);
            assert_eq!(b.rustls_provider().is_some(), b != Backend::OpenSsl);
        }
    }

    #[test]
    fn transport_errors_are_classified_without_a_stack() {
        assert_eq!(
            classify_io(&io::Error::from(io::ErrorKind::ConnectionReset)),
            FailureKind::Reset
        );
        assert_eq!(
            classify_io(&io::Error::from(io::ErrorKind::TimedOut)).to_string(),
            "io:timed-out"
        );
    }

    #[test]
    fn resumption_modes_tell_the_server_what_to_keep() {
        let life = Duration::from_secs(60);
        let s = Resumption::Tls13Tickets.server(10, life, EarlyData::Accept);
        assert!(s.stateless && s.max_early_data == 0 && s.ticket_lifetime == life);
        let s = Resumption::Tls12SessionId.server(10, life, EarlyData::Accept);
        assert!(!s.stateless && s.cache == 10);
        assert_eq!(
            Resumption::Tls13EarlyData
                .server(10, life, EarlyData::Accept)
                .max_early_data,
            16 * 1024
        );
        assert_eq!(
            Resumption::Tls13EarlyData
                .server(10, life, EarlyData::Reject)
                .max_early_data,
            0
        );
        assert_eq!(
            Resumption::Off.server(10, life, EarlyData::Accept),
            ServerResumption::default()
        );
    }
}
