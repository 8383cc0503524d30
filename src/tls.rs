//! TLS configuration for both roles, and what a handshake tells us.
//!
//! The crypto provider is a value chosen once and passed to every config builder
//! (`builder_with_provider`); sipbench never installs or relies on a process-wide default
//! provider.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::ClientCertVerifier;
use rustls::{ClientConfig, CommonState, HandshakeKind, ServerConfig, SupportedProtocolVersion};
use rustls_pki_types::{CertificateDer, ServerName};
use serde::{Deserialize, Serialize};

use crate::failure::{FailureKind, kebab, variant_kebab};
use crate::pki::{self, Identity};
use crate::plan::{EarlyData, Resumption};
use crate::stats::Negotiated;

/// The crypto backends this binary has: each a rustls crypto provider.
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
    /// rustls with the graviola provider (`rustls-graviola`).
    Graviola,
    /// OpenSSL (the system libssl, through `openssl` and `tokio-openssl`) as a separate TLS
    /// stack (module `ossl`).
    #[value(name = "openssl")]
    #[serde(rename = "openssl")]
    OpenSsl,
}

impl Backend {
    /// Every backend of this binary.
    pub const ALL: [Backend; 4] = [Backend::AwsLcRs, Backend::Ring, Backend::Graviola, Backend::OpenSsl];

    /// Whether sessions run on OpenSSL rather than rustls.
    pub fn is_openssl(self) -> bool {
        self == Backend::OpenSsl
    }

    /// The rustls provider for this backend: its own default cipher suites and key exchange
    /// groups. For OpenSSL, whose sessions never use a rustls provider, the aws-lc-rs one, for
    /// the checks sipbench makes outside the TLS stack (audits, certificate probes).
    pub fn provider(self) -> Arc<CryptoProvider> {
        Arc::new(match self {
            Backend::AwsLcRs | Backend::OpenSsl => rustls::crypto::aws_lc_rs::default_provider(),
            Backend::Ring => rustls::crypto::ring::default_provider(),
            Backend::Graviola => rustls_graviola::default_provider(),
        })
    }

    /// Every key exchange group the backend implements (some are not offered by default).
    pub fn all_kx_groups(self) -> &'static [&'static dyn rustls::crypto::SupportedKxGroup] {
        match self {
            Backend::AwsLcRs | Backend::OpenSsl => rustls::crypto::aws_lc_rs::ALL_KX_GROUPS,
            Backend::Ring => rustls::crypto::ring::ALL_KX_GROUPS,
            Backend::Graviola => rustls_graviola::kx::ALL_KX_GROUPS,
        }
    }

    /// A stateless session ticketer from this backend.
    pub fn ticketer(self) -> Result<Arc<dyn rustls::server::ProducesTickets>, rustls::Error> {
        match self {
            Backend::AwsLcRs | Backend::OpenSsl => rustls::crypto::aws_lc_rs::Ticketer::new(),
            Backend::Ring => rustls::crypto::ring::Ticketer::new(),
            Backend::Graviola => rustls_graviola::Ticketer::new(),
        }
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

    /// The crate (and version) behind the provider.
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

/// Checks that `backend` can verify signatures of `key_type` certificates and, given a key,
/// sign with it; the error says which part it cannot do.
pub fn check_key_type(
    backend: Backend,
    provider: &CryptoProvider,
    key_type: crate::pki::KeyType,
    signing_key: Option<&rustls_pki_types::PrivateKeyDer<'_>>,
) -> Result<(), String> {
    use crate::pki::KeyType;
    use rustls::SignatureScheme as S;
    let wanted: &[S] = match key_type {
        KeyType::EcdsaP256 => &[S::ECDSA_NISTP256_SHA256],
        KeyType::EcdsaP384 => &[S::ECDSA_NISTP384_SHA384],
        KeyType::Rsa2048 | KeyType::Rsa3072 => &[S::RSA_PSS_SHA256, S::RSA_PKCS1_SHA256],
        KeyType::Ed25519 => &[S::ED25519],
    };
    let have = provider.signature_verification_algorithms.supported_schemes();
    if !wanted.iter().all(|w| have.contains(w)) {
        return Err(format!(
            "backend {} cannot verify {} signatures (key type {key_type})",
            backend.as_str(),
            key_type.describe()
        ));
    }
    if let Some(key) = signing_key
        && let Err(e) = provider.key_provider.load_private_key(key.clone_key())
    {
        return Err(format!(
            "backend {} cannot sign with {} keys (key type {key_type}): {e}",
            backend.as_str(),
            key_type.describe()
        ));
    }
    Ok(())
}

/// The provider restricted to one key exchange group, or an error naming the groups the
/// backend has. Groups are named as in results (`X25519`, `secp256r1`, `X25519MLKEM768`, ...).
pub fn with_kx_group(
    backend: Backend,
    provider: &Arc<CryptoProvider>,
    group: &str,
) -> Result<Arc<CryptoProvider>, String> {
    let name = |g: &&dyn rustls::crypto::SupportedKxGroup| g.name().as_str().unwrap_or("unknown").to_owned();
    let all = backend.all_kx_groups();
    let picked: Vec<_> = all
        .iter()
        .filter(|g| name(g).eq_ignore_ascii_case(group))
        .copied()
        .collect();
    if picked.is_empty() {
        let have: Vec<String> = all.iter().map(name).collect();
        return Err(format!(
            "{group} is not implemented by {} (it has {})",
            backend.as_str(),
            have.join(", ")
        ));
    }
    Ok(Arc::new(CryptoProvider {
        kx_groups: picked,
        ..(**provider).clone()
    }))
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

    /// The rustls version list.
    pub fn list(self) -> &'static [&'static SupportedProtocolVersion] {
        static TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
        static TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
        static ANY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];
        match self {
            Versions::Tls13 => TLS13,
            Versions::Tls12 => TLS12,
            Versions::Any => ANY,
        }
    }
}

/// The provider restricted to one cipher suite, or an error that lists the suites it has.
pub fn with_suite(provider: &Arc<CryptoProvider>, suite: &str) -> Result<Arc<CryptoProvider>, String> {
    let name = |s: &rustls::SupportedCipherSuite| s.suite().as_str().unwrap_or("unknown").to_owned();
    let picked: Vec<_> = provider
        .cipher_suites
        .iter()
        .filter(|s| name(s).eq_ignore_ascii_case(suite))
        .copied()
        .collect();
    if picked.is_empty() {
        let have: Vec<String> = provider.cipher_suites.iter().map(name).collect();
        return Err(format!(
            "{suite} is not offered by this backend (it has {})",
            have.join(", ")
        ));
    }
    Ok(Arc::new(CryptoProvider {
        cipher_suites: picked,
        ..(**provider).clone()
    }))
}

/// Client configuration: trust anchors, optional client identity (MTLS), versions, the
/// resumption mode with a session cache of `cache` entries, and optionally the TLS record size
/// (plaintext bytes per record; writes are cut into records of that size). The cache belongs to the returned
/// config: build one config per worker for per-worker caches.
pub fn client_config(
    provider: &Arc<CryptoProvider>,
    verifier: Arc<dyn ServerCertVerifier>,
    identity: Option<&Identity>,
    versions: Versions,
    resumption: Resumption,
    cache: usize,
    record_size: Option<usize>,
) -> Result<Arc<ClientConfig>> {
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions.list())
        .context("the crypto provider does not support the requested TLS versions")?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match identity {
        Some(id) => builder
            .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
            .context("client certificate and key do not match or are unsupported")?,
        None => builder.with_no_client_auth(),
    };
    use rustls::client::{Resumption as R, Tls12Resumption};
    let store = || R::store(Arc::new(SessionCache::new(cache)));
    config.resumption = match resumption {
        Resumption::Off => R::disabled(),
        Resumption::Tls13Tickets | Resumption::Tls13Stateful | Resumption::Tls13EarlyData => {
            store().tls12_resumption(Tls12Resumption::Disabled)
        }
        Resumption::Tls12SessionId => store().tls12_resumption(Tls12Resumption::SessionIdOnly),
        Resumption::Tls12Tickets => store().tls12_resumption(Tls12Resumption::SessionIdOrTickets),
    };
    config.enable_early_data = resumption == Resumption::Tls13EarlyData;
    // rustls's limit counts the 5-byte record header.
    config.max_fragment_size = record_size.map(|size| size + 5);
    Ok(Arc::new(config))
}

/// The client's session cache: per server name, a kx-group hint, one TLS 1.2 session and a
/// pool of up to `limit` TLS 1.3 tickets (newest used first, oldest dropped).
///
/// rustls's own `ClientSessionMemoryCache` keeps at most eight TLS 1.3 tickets per server. A
/// load generator's sessions to one server start in bursts, so with more than eight in flight
/// most of them found no ticket and did full handshakes; here the pool is as large as the
/// configured cache. Each generator worker has its own cache, so the lock is uncontended.
#[derive(Debug)]
pub struct SessionCache {
    limit: usize,
    servers: std::sync::Mutex<std::collections::HashMap<ServerName<'static>, ServerEntry>>,
}

#[derive(Debug, Default)]
struct ServerEntry {
    kx_hint: Option<rustls::NamedGroup>,
    tls12: Option<rustls::client::Tls12ClientSessionValue>,
    tls13: std::collections::VecDeque<rustls::client::Tls13ClientSessionValue>,
}

impl SessionCache {
    /// A cache holding up to `limit` TLS 1.3 tickets per server (at least one).
    pub fn new(limit: usize) -> SessionCache {
        SessionCache {
            limit: limit.max(1),
            servers: Default::default(),
        }
    }

    fn with<T>(&self, name: &ServerName<'_>, f: impl FnOnce(&mut ServerEntry) -> T) -> Option<T> {
        let mut servers = self.servers.lock().unwrap_or_else(|p| p.into_inner());
        servers.get_mut(&name.to_owned()).map(f)
    }

    fn entry<T>(&self, name: ServerName<'static>, f: impl FnOnce(&mut ServerEntry) -> T) -> T {
        let mut servers = self.servers.lock().unwrap_or_else(|p| p.into_inner());
        f(servers.entry(name).or_default())
    }
}

impl rustls::client::ClientSessionStore for SessionCache {
    fn set_kx_hint(&self, name: ServerName<'static>, group: rustls::NamedGroup) {
        self.entry(name, |e| e.kx_hint = Some(group));
    }
    fn kx_hint(&self, name: &ServerName<'_>) -> Option<rustls::NamedGroup> {
        self.with(name, |e| e.kx_hint).flatten()
    }
    fn set_tls12_session(&self, name: ServerName<'static>, value: rustls::client::Tls12ClientSessionValue) {
        self.entry(name, |e| e.tls12 = Some(value));
    }
    fn tls12_session(&self, name: &ServerName<'_>) -> Option<rustls::client::Tls12ClientSessionValue> {
        self.with(name, |e| e.tls12.clone()).flatten()
    }
    fn remove_tls12_session(&self, name: &ServerName<'static>) {
        self.with(name, |e| e.tls12 = None);
    }
    fn insert_tls13_ticket(&self, name: ServerName<'static>, value: rustls::client::Tls13ClientSessionValue) {
        let limit = self.limit;
        self.entry(name, |e| {
            e.tls13.push_back(value);
            while e.tls13.len() > limit {
                e.tls13.pop_front();
            }
        });
    }
    fn take_tls13_ticket(&self, name: &ServerName<'static>) -> Option<rustls::client::Tls13ClientSessionValue> {
        self.with(name, |e| e.tls13.pop_back()).flatten()
    }
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

impl ServerResumption {
    /// What the embedded server needs for a phase's resumption mode.
    pub fn for_phase(plan: &crate::plan::PhasePlan) -> ServerResumption {
        let base = ServerResumption {
            cache: plan.server_cache,
            ticket_lifetime: plan.ticket_lifetime,
            ..Default::default()
        };
        match plan.resumption {
            Resumption::Off => ServerResumption::default(),
            Resumption::Tls13Tickets | Resumption::Tls12Tickets => ServerResumption {
                stateless: true,
                ..base
            },
            Resumption::Tls13Stateful | Resumption::Tls12SessionId => base,
            Resumption::Tls13EarlyData => ServerResumption {
                max_early_data: if plan.early_data == EarlyData::Accept {
                    16 * 1024
                } else {
                    0
                },
                ..base
            },
        }
    }
}

/// Stateless tickets with a configurable advertised lifetime (aws-lc-rs's ticketer rotates its
/// keys every six hours and accepts tickets for twice that).
#[derive(Debug)]
struct TicketLifetime {
    inner: Arc<dyn rustls::server::ProducesTickets>,
    lifetime: u32,
}

impl rustls::server::ProducesTickets for TicketLifetime {
    fn enabled(&self) -> bool {
        self.inner.enabled()
    }
    fn lifetime(&self) -> u32 {
        self.lifetime
    }
    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.inner.encrypt(plain)
    }
    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        self.inner.decrypt(cipher)
    }
}

/// Server configuration. With a client verifier, a client certificate it accepts is required (MTLS).
pub fn server_config(
    backend: Backend,
    provider: &Arc<CryptoProvider>,
    identity: &Identity,
    client_verifier: Option<Arc<dyn ClientCertVerifier>>,
    versions: Versions,
    resumption: ServerResumption,
) -> Result<Arc<ServerConfig>> {
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions.list())
        .context("the crypto provider does not support the requested TLS versions")?;
    let builder = match client_verifier {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())
        .context("server certificate and key do not match or are unsupported")?;
    config.session_storage = rustls::server::ServerSessionMemoryCache::new(resumption.cache.max(1));
    if resumption.stateless {
        let inner = backend.ticketer().context("creating the session ticketer")?;
        let lifetime = resumption.ticket_lifetime.as_secs().clamp(1, u32::MAX.into()) as u32;
        config.ticketer = Arc::new(TicketLifetime { inner, lifetime });
    }
    config.max_early_data_size = resumption.max_early_data;
    Ok(Arc::new(config))
}

/// Classifies an I/O error from a TLS stream (or a plain socket) into a failure kind.
pub fn classify_io(err: &io::Error) -> FailureKind {
    if let Some(tls) = err.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
        return classify_tls(tls);
    }
    if err.get_ref().is_some_and(|e| e.is::<openssl::ssl::Error>()) {
        return crate::ossl::classify_io(err, None);
    }
    match err.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => FailureKind::Reset,
        kind => FailureKind::Io(kebab(&format!("{kind:?}"))),
    }
}

/// Classifies a rustls error.
pub fn classify_tls(err: &rustls::Error) -> FailureKind {
    match err {
        rustls::Error::AlertReceived(alert) => FailureKind::TlsAlertReceived(variant_kebab(&format!("{alert:?}"))),
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => {
            if let Some(refusal) = other.0.downcast_ref::<crate::trust::Refusal>() {
                return match refusal {
                    crate::trust::Refusal::NotInTopology { .. } => FailureKind::NotInTopology,
                    r => FailureKind::Certificate(r.reason().into()),
                };
            }
            match other.0.downcast_ref::<webpki::Error>() {
                // Path validation errors rustls has no variant for: `end-entity-used-as-ca`,
                // `name-constraint-violation`, `path-len-constraint-violated`, ...
                Some(e) => FailureKind::Certificate(webpki_reason(e)),
                None => FailureKind::Certificate("other".into()),
            }
        }
        rustls::Error::InvalidCertificate(cert) => FailureKind::Certificate(variant_kebab(&format!("{cert:?}"))),
        other => FailureKind::Tls(variant_kebab(&format!("{other:?}"))),
    }
}

/// The reason name of a webpki error: its variant in kebab-case, without context.
fn webpki_reason(e: &webpki::Error) -> String {
    variant_kebab(&format!("{e:?}"))
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

/// Reads what a completed handshake negotiated.
pub fn negotiated(conn: &CommonState, cache: &mut PeerKeyCache) -> Negotiated {
    let protocol = conn
        .protocol_version()
        .map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| format!("{v:?}")))
        .unwrap_or_else(|| "unknown".into());
    let cipher_suite = conn
        .negotiated_cipher_suite()
        .map(|s| {
            let s = s.suite();
            s.as_str().map(str::to_owned).unwrap_or_else(|| format!("{s:?}"))
        })
        .unwrap_or_else(|| "unknown".into());
    let kx_group = conn
        .negotiated_key_exchange_group()
        .map(|g| {
            let n = g.name();
            n.as_str().map(str::to_owned).unwrap_or_else(|| format!("{n:?}"))
        })
        .unwrap_or_else(|| "unknown".into());
    let peer_key = match conn.peer_certificates().and_then(|c| c.first()) {
        Some(cert) => cache.describe(cert).to_owned(),
        None => "none".into(),
    };
    Negotiated {
        protocol,
        cipher_suite,
        kx_group,
        peer_key,
        handshake: handshake_kind(conn).into(),
    }
}

/// `full`, `full-hrr`, `resumed` or `unknown`.
pub fn handshake_kind(conn: &CommonState) -> &'static str {
    match conn.handshake_kind() {
        Some(HandshakeKind::Full) => "full",
        Some(HandshakeKind::FullWithHelloRetryRequest) => "full-hrr",
        Some(HandshakeKind::Resumed) => "resumed",
        None => "unknown",
    }
}

/// The negotiated tally entry for cleartext TCP sessions.
pub fn cleartext() -> Negotiated {
    Negotiated {
        protocol: "none".into(),
        cipher_suite: "none".into(),
        kx_group: "none".into(),
        peer_key: "none".into(),
        handshake: "none".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_rustls_errors() {
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert_eq!(classify_io(&e).to_string(), "certificate:unknown-issuer");
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::BadCertificate),
        );
        assert_eq!(classify_io(&e).to_string(), "tls-alert-received:bad-certificate");
        let e = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(classify_io(&e), FailureKind::Reset);
        assert_eq!(
            variant_kebab("NotValidForNameContext { expected: .. }"),
            "not-valid-for-name"
        );
    }
}
