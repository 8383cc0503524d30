//! The rustls stack: configurations for both roles with the crypto provider of a
//! [`Backend`], its dialer and acceptor, and what a handshake tells us.
//!
//! The crypto provider is a value chosen once and passed to every config builder
//! (`builder_with_provider`); sipbench never installs or relies on a process-wide default
//! provider.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use bytes::BytesMut;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::ClientCertVerifier;
use rustls::{ClientConfig, CommonState, HandshakeKind, ServerConfig, SupportedProtocolVersion};
use rustls_pki_types::{PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::{
    Accepted, Acceptor, Backend, BackendInfo, BoxFuture, ClientSettings, Dialer, Established, Incapable, Limits,
    PeerKeyCache, Resumption, ServerResumption, SessionIo, Stack, Stream, Versions,
};
use crate::failure::{FailureKind, variant_kebab};
use crate::pki::{Identity, KeyType};
use crate::stats::{Negotiated, ResumedBy};
use crate::trust::Trust;

/// The rustls provider of a rustls backend; `None` for OpenSSL.
pub fn provider(backend: Backend) -> Option<Arc<CryptoProvider>> {
    Some(Arc::new(match backend {
        Backend::AwsLcRs => rustls::crypto::aws_lc_rs::default_provider(),
        Backend::Ring => rustls::crypto::ring::default_provider(),
        Backend::Graviola => rustls_graviola::default_provider(),
        Backend::OpenSsl => return None,
    }))
}

/// Every key exchange group a rustls backend implements (some are not offered by default).
fn all_kx_groups(backend: Backend) -> &'static [&'static dyn rustls::crypto::SupportedKxGroup] {
    match backend {
        Backend::AwsLcRs | Backend::OpenSsl => rustls::crypto::aws_lc_rs::ALL_KX_GROUPS,
        Backend::Ring => rustls::crypto::ring::ALL_KX_GROUPS,
        Backend::Graviola => rustls_graviola::kx::ALL_KX_GROUPS,
    }
}

/// A stateless session ticketer from the backend's provider.
pub fn ticketer(backend: Backend) -> Result<Arc<dyn rustls::server::ProducesTickets>, rustls::Error> {
    match backend {
        Backend::AwsLcRs | Backend::OpenSsl => rustls::crypto::aws_lc_rs::Ticketer::new(),
        Backend::Ring => rustls::crypto::ring::Ticketer::new(),
        Backend::Graviola => rustls_graviola::Ticketer::new(),
    }
}

/// The rustls protocol version list.
pub fn version_list(versions: Versions) -> &'static [&'static SupportedProtocolVersion] {
    static TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
    static TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
    static ANY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];
    match versions {
        Versions::Tls13 => TLS13,
        Versions::Tls12 => TLS12,
        Versions::Any => ANY,
    }
}

/// rustls with one backend's crypto provider.
#[derive(Debug)]
pub struct RustlsStack {
    backend: Backend,
    provider: Arc<CryptoProvider>,
}

impl RustlsStack {
    /// The stack of a rustls backend.
    ///
    /// # Panics
    /// For [`Backend::OpenSsl`], which is not a rustls backend ([`Backend::stack`] never asks).
    pub fn new(backend: Backend) -> RustlsStack {
        let provider = provider(backend).expect("a rustls backend");
        RustlsStack { backend, provider }
    }

    /// The provider narrowed to the settings' cipher suite and key exchange group pins.
    fn pinned(&self, settings: &ClientSettings) -> Result<Arc<CryptoProvider>, Incapable> {
        let mut provider = self.provider.clone();
        if let Some(suite) = &settings.cipher_suite {
            provider = with_suite(&provider, suite).map_err(|problem| Incapable {
                field: "cipher_suite",
                problem,
            })?;
        }
        if let Some(group) = &settings.kx_group {
            provider = with_kx_group(self.backend, &provider, group).map_err(|problem| Incapable {
                field: "kx_group",
                problem,
            })?;
        }
        Ok(provider)
    }
}

impl Stack for RustlsStack {
    fn backend(&self) -> Backend {
        self.backend
    }

    fn check(
        &self,
        settings: &ClientSettings,
        key_type: Option<KeyType>,
        signing_key: Option<&PrivateKeyDer<'_>>,
    ) -> Result<(), Incapable> {
        let provider = self.pinned(settings)?;
        if let Some(key_type) = key_type {
            check_key_type(self.backend, &provider, key_type, signing_key).map_err(|problem| Incapable {
                field: "key_type",
                problem,
            })?;
        }
        Ok(())
    }

    fn dialer(
        &self,
        trust: &Trust,
        identity: Option<&Identity>,
        server_name: &str,
        settings: &ClientSettings,
    ) -> Result<Arc<dyn Dialer>> {
        let provider = self.pinned(settings)?;
        let verifier = trust.verifier(&provider)?;
        let config = client_config(
            &provider,
            verifier,
            identity,
            settings.versions,
            settings.resumption,
            settings.session_cache,
            settings.record_size,
        )?;
        let name = ServerName::try_from(server_name.to_owned())
            .with_context(|| format!("{server_name}: not a DNS name or IP address"))?;
        let connector = TlsConnector::from(config).early_data(settings.resumption == Resumption::Tls13EarlyData);
        // rustls does not say which TLS 1.2 mechanism resumed; with session ids only it sends no
        // SessionTicket extension, so the server can have resumed by session id alone.
        let tls12 = if settings.resumption == Resumption::Tls12SessionId {
            ResumedBy::SessionId
        } else {
            ResumedBy::Unknown
        };
        Ok(Arc::new(RustlsDialer { connector, name, tls12 }))
    }

    fn acceptor(
        &self,
        identity: &Identity,
        client_trust: Option<&Trust>,
        versions: Versions,
        resumption: ServerResumption,
    ) -> Result<Arc<dyn Acceptor>> {
        let verifier = client_trust
            .map(|t| t.verifier(&self.provider).map(|v| v as Arc<dyn ClientCertVerifier>))
            .transpose()
            .context("building the MTLS client verifier")?;
        let config = server_config(self.backend, &self.provider, identity, verifier, versions, resumption)?;
        Ok(Arc::new(RustlsAcceptor(TlsAcceptor::from(config))))
    }

    fn describe(&self, keys: &[(KeyType, PrivateKeyDer<'static>)]) -> BackendInfo {
        let provider = &self.provider;
        let group = |g: &&dyn rustls::crypto::SupportedKxGroup| g.name().as_str().unwrap_or("unknown").to_owned();
        let kx_groups: Vec<String> = provider.kx_groups.iter().map(group).collect();
        let mut info = BackendInfo {
            name: self.backend.as_str().into(),
            library: self.backend.library(),
            fips: provider.fips(),
            cipher_suites: provider
                .cipher_suites
                .iter()
                .map(|s| s.suite().as_str().unwrap_or("unknown").to_owned())
                .collect(),
            kx_groups_on_request: all_kx_groups(self.backend)
                .iter()
                .map(group)
                .filter(|g| !kx_groups.contains(g))
                .collect(),
            kx_groups,
            key_types: Vec::new(),
            key_types_not_supported: Vec::new(),
        };
        for (key_type, key) in keys {
            match check_key_type(self.backend, provider, *key_type, Some(key)) {
                Ok(()) => info.key_types.push(key_type.as_str().into()),
                Err(e) => info.key_types_not_supported.push(format!("{key_type}: {e}")),
            }
        }
        info
    }
}

/// A dialer over a rustls connector built elsewhere (the audit builds its own), verifying
/// servers for `name`.
pub fn dialer(connector: TlsConnector, name: ServerName<'static>) -> Arc<dyn Dialer> {
    Arc::new(RustlsDialer {
        connector,
        name,
        tls12: ResumedBy::Unknown,
    })
}

/// Opens TLS sessions with one rustls client config (and so one session cache).
struct RustlsDialer {
    connector: TlsConnector,
    name: ServerName<'static>,
    /// How a resumed TLS 1.2 handshake resumed (rustls does not report it).
    tls12: ResumedBy,
}

impl Dialer for RustlsDialer {
    fn dial<'a>(
        &'a self,
        addr: SocketAddr,
        limits: Limits,
        keys: &'a mut PeerKeyCache,
    ) -> BoxFuture<'a, Result<(Stream, Established), FailureKind>> {
        Box::pin(async move {
            let (tcp, connect) = super::tcp::connect(addr, limits.local, limits.connect).await?;
            let t1 = Instant::now();
            let stream =
                match tokio::time::timeout(limits.handshake, self.connector.connect(self.name.clone(), tcp)).await {
                    Err(_) => return Err(FailureKind::HandshakeTimeout),
                    Ok(Err(e)) => return Err(super::classify_io(&e)),
                    Ok(Ok(s)) => s,
                };
            let handshake = t1.elapsed();
            let (_, conn) = stream.get_ref();
            let est = if conn.is_handshaking() {
                // 0-RTT: the first write goes as early data; the handshake completes under it.
                Established {
                    connect,
                    handshake,
                    negotiated: super::cleartext(),
                    secure: true,
                    resumed: true,
                    early: true,
                }
            } else {
                let mut n = negotiated(conn, keys);
                if n.resumed_by == ResumedBy::Unknown && n.protocol == "TLSv1_2" {
                    n.resumed_by = self.tls12;
                }
                Established::handshaken(n, connect, handshake)
            };
            Ok((Box::new(stream) as Stream, est))
        })
    }
}

impl SessionIo for tokio_rustls::client::TlsStream<TcpStream> {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.get_ref().0.local_addr()
    }

    fn secure(&self) -> bool {
        true
    }

    fn negotiated_late(&self, keys: &mut PeerKeyCache) -> Option<Negotiated> {
        let (_, conn) = self.get_ref();
        if conn.is_handshaking() {
            return None;
        }
        let mut n = negotiated(conn, keys);
        if conn.is_early_data_accepted() {
            n.handshake = crate::stats::HandshakeKind::Resumed0Rtt;
        }
        Some(n)
    }
}

impl SessionIo for tokio_rustls::server::TlsStream<TcpStream> {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.get_ref().0.local_addr()
    }

    fn secure(&self) -> bool {
        true
    }
}

/// Runs rustls server handshakes with one server config.
struct RustlsAcceptor(TlsAcceptor);

impl Acceptor for RustlsAcceptor {
    fn accept(&self, tcp: TcpStream) -> BoxFuture<'_, Result<Accepted, FailureKind>> {
        Box::pin(async move {
            let mut tls = self.0.accept(tcp).await.map_err(|e| super::classify_io(&e))?;
            let (_, conn) = tls.get_mut();
            let kind = conn.handshake_kind();
            let peer_identified = conn.peer_certificates().is_some_and(|c| !c.is_empty());
            // 0-RTT data is held by rustls apart from the ordinary stream: it is the start of
            // the SIP byte stream, so it goes first into the connection's buffer.
            let early_data = conn.early_data().map(|mut data| {
                let mut early = BytesMut::new();
                let mut chunk = [0u8; 4096];
                loop {
                    match std::io::Read::read(&mut data, &mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => early.extend_from_slice(&chunk[..n]),
                    }
                }
                early
            });
            Ok(Accepted {
                stream: Box::new(tls),
                secure: true,
                resumed: kind == Some(HandshakeKind::Resumed),
                hello_retry: kind == Some(HandshakeKind::FullWithHelloRetryRequest),
                peer_identified,
                early_data,
            })
        })
    }
}

/// A rustls error inside an I/O error, classified; `None` when it is not one.
pub(crate) fn classify_own(err: &io::Error) -> Option<FailureKind> {
    err.get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
        .map(classify_tls)
}

/// Checks that `backend` can verify signatures of `key_type` certificates and, given a key,
/// sign with it; the error says which part it cannot do.
pub fn check_key_type(
    backend: Backend,
    provider: &CryptoProvider,
    key_type: KeyType,
    signing_key: Option<&PrivateKeyDer<'_>>,
) -> Result<(), String> {
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
    let all = all_kx_groups(backend);
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
        .with_protocol_versions(version_list(versions))
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
        .with_protocol_versions(version_list(versions))
        .context("the crypto provider does not support the requested TLS versions")?;
    let builder = match client_verifier {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())
        .context("server certificate and key do not match or are unsupported")?;
    config.session_storage = Arc::new(super::session_store::ServerSessionStore::new(resumption.cache.max(1)));
    if resumption.stateless {
        let inner = ticketer(backend).context("creating the session ticketer")?;
        let lifetime = resumption.ticket_lifetime.as_secs().clamp(1, u32::MAX.into()) as u32;
        config.ticketer = Arc::new(TicketLifetime { inner, lifetime });
    }
    config.max_early_data_size = resumption.max_early_data;
    Ok(Arc::new(config))
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
        handshake: handshake_kind(conn),
        resumed_by: match (conn.handshake_kind(), conn.protocol_version()) {
            (Some(HandshakeKind::Resumed), Some(rustls::ProtocolVersion::TLSv1_3)) => ResumedBy::Tls13Psk,
            (Some(HandshakeKind::Resumed), _) => ResumedBy::Unknown,
            _ => ResumedBy::None,
        },
    }
}

/// The kind of a completed handshake.
pub fn handshake_kind(conn: &CommonState) -> crate::stats::HandshakeKind {
    use crate::stats::HandshakeKind as K;
    match conn.handshake_kind() {
        Some(HandshakeKind::Full) => K::Full,
        Some(HandshakeKind::FullWithHelloRetryRequest) => K::FullHrr,
        Some(HandshakeKind::Resumed) => K::Resumed,
        None => K::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::classify_io;

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

    #[test]
    fn refuses_pins_a_provider_cannot_honour_before_any_connection() {
        let pq = ClientSettings {
            kx_group: Some("X25519MLKEM768".into()),
            ..Default::default()
        };
        assert!(RustlsStack::new(Backend::AwsLcRs).check(&pq, None, None).is_ok());
        let e = RustlsStack::new(Backend::Ring).check(&pq, None, None).unwrap_err();
        assert_eq!(e.field, "kx_group");
        assert!(e.problem.contains("ring"), "{e}");
        let suite = ClientSettings {
            cipher_suite: Some("TLS13_NOT_A_SUITE".into()),
            ..Default::default()
        };
        assert_eq!(
            RustlsStack::new(Backend::AwsLcRs)
                .check(&suite, None, None)
                .unwrap_err()
                .field,
            "cipher_suite"
        );
        for key_type in KeyType::ALL {
            let key = key_type.sample_key().unwrap();
            let r = RustlsStack::new(Backend::AwsLcRs).check(&ClientSettings::default(), Some(key_type), Some(&key));
            assert!(r.is_ok(), "{key_type}: {r:?}");
        }
    }
}
