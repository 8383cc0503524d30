//! OpenSSL as a second TLS stack, for the generator (client) and the reference server.
//!
//! The system libssl (3.0) is driven through the `openssl` and `tokio-openssl` crates. Everything
//! the rustls stack reports is reported here in the same vocabulary, so that results of both
//! stacks can be compared line by line:
//!
//! - [`negotiated`] names protocols, cipher suites and key exchange groups as rustls does
//!   (`TLSv1_3`, `TLS13_AES_256_GCM_SHA384`, `TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256`,
//!   `X25519`, `secp256r1`);
//! - [`classify`] turns OpenSSL errors into the [`FailureKind`]s of [`super::classify_io`]
//!   (`certificate:revoked`, `tls-alert-received:unknown-ca`, `reset`, ...).
//!
//! # Trust
//!
//! Only the [`Trust`]'s CAs are trusted (the system trust store is never loaded): its roots as
//! trust anchors and its issuing CAs for path building, with their CRLs
//! (`X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL`, as the rustls stack checks the whole
//! chain) and at [`Trust::evaluation_time`] when set. OpenSSL validates the path itself
//! (`X509_verify_cert`): signatures, validity, basic and name constraints, revocation, and the
//! dialed name, matched against DNS (or IP) subject alternative names only, never the subject
//! common name, and without partial wildcards. As in the rustls stack:
//!
//! - a certificate issued by a CA whose entry has no CRLs is not checked for revocation;
//! - a CRL past its nextUpdate is still used unless the trust enforces CRL expiry, and a CRL's
//!   thisUpdate is not checked.
//!
//! Then, once OpenSSL's whole verification has passed (`SSL_CTX_set_cert_verify_callback`),
//! the trust model's own checks run on the chain OpenSSL verified ([`Trust::authorize`]): names
//! read strictly, the scope of every CA on the path, and for server-to-server peers the
//! topology, on both sides and inside the handshake. A refusal fails the handshake with
//! `X509_V_ERR_APPLICATION_VERIFICATION` (OpenSSL sends a `handshake_failure` alert where
//! rustls sends `certificate_unknown`) and is reported as the rustls stack reports it
//! (`certificate:ca-not-trusted-for-name`, `not-in-topology`, ...).
//!
//! # Differences from the rustls stack
//!
//! - 0-RTT (early data) is not supported: [`ServerResumption::max_early_data`] is ignored and
//!   the client never sends early data.
//! - Handshakes with a HelloRetryRequest are reported as `full` (OpenSSL does not say).
//! - A wildcard certificate name does not match a dialed label with `_` (`*.example.test` for
//!   `x_y.example.test`); webpki matches it. Such labels are not valid host names.
//! - Post-quantum groups (`X25519MLKEM768`) are not in OpenSSL 3.0.
//! - The client keeps one session per server name (the newest), offered to every connection
//!   to that server until a newer one arrives; rustls keeps a pool of single-use tickets. The
//!   cache holds copies, so a connection dropped without close_notify does not spoil it.
//! - On the server, OpenSSL removes a connection's session from the stateful cache when the
//!   connection is freed without having sent close_notify: shut streams down (`shutdown()`) for
//!   stateful resumption to work as with rustls.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context, Result, bail};
use openssl::error::ErrorStack;
use openssl::ex_data::Index;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{
    self, ErrorCode, Ssl, SslContext, SslContextBuilder, SslMethod, SslMode, SslOptions, SslRef, SslSession,
    SslSessionCacheMode, SslVerifyMode, SslVersion,
};
use openssl::stack::Stack;
use openssl::x509::verify::{X509CheckFlags, X509VerifyFlags};
use openssl::x509::{X509, X509Crl, X509Name, X509StoreContext, X509StoreContextRef, X509VerifyResult};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use super::{PeerKeyCache, Resumption, ServerResumption, Versions};
use crate::failure::{FailureKind, kebab, variant_kebab};
use crate::pki::Identity;
use crate::stats::{HandshakeKind, Negotiated, ResumedBy};
use crate::trust::{CrlExpiry, Refusal, Trust};

/// The OpenSSL names of the TLS 1.3 cipher suites OpenSSL 3.0 implements.
pub(crate) const TLS13_SUITES: [&str; 5] = [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_CCM_SHA256",
    "TLS_AES_128_CCM_8_SHA256",
];

/// The TLS 1.2 cipher suites OpenSSL 3.0 offers by default with ECDSA and RSA keys, by their
/// rustls/IANA names, in its order.
pub(crate) const TLS12_SUITES: [&str; 6] = [
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
];

/// OpenSSL 3.0's default key exchange group list, in its order (the rest of [`GROUPS`] can be
/// pinned).
pub(crate) const DEFAULT_GROUPS: [&str; 5] = ["X25519", "secp256r1", "X448", "secp521r1", "secp384r1"];

/// Key exchange groups accepted as pins: (rustls name, other accepted spellings, OpenSSL name).
pub(crate) const GROUPS: [(&str, &[&str], &str); 8] = [
    ("X25519", &[], "X25519"),
    ("secp256r1", &["P-256", "prime256v1"], "P-256"),
    ("secp384r1", &["P-384"], "P-384"),
    ("secp521r1", &["P-521"], "P-521"),
    ("X448", &[], "X448"),
    ("FFDHE2048", &[], "ffdhe2048"),
    ("FFDHE3072", &[], "ffdhe3072"),
    ("FFDHE4096", &[], "ffdhe4096"),
];

/// Server side of the OpenSSL stack: one per listener kind, rebuilt on reload. Cloning is cheap
/// (the context is reference counted).
#[derive(Clone)]
pub struct OsslAcceptor {
    ctx: SslContext,
}

impl std::fmt::Debug for OsslAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OsslAcceptor").finish_non_exhaustive()
    }
}

impl OsslAcceptor {
    /// An acceptor presenting `identity`.
    ///
    /// `client_trust`: `Some` for MTLS (a client certificate is required and verified against the
    /// trust's CAs and CRLs, at its evaluation time, with the CA scope rule; the CA names are
    /// sent as the acceptable client CA list); `None` for TLS. `versions` and `cipher_suite` (a
    /// rustls or IANA suite name) restrict what is negotiated; a TLS 1.3 suite pins TLS 1.3 and a
    /// TLS 1.2 suite pins TLS 1.2. `resumption`: stateless tickets (OpenSSL's own ticket keys) or,
    /// when not `stateless`, no tickets (TLS 1.3 tickets are then cache ids); either way a session
    /// cache of `resumption.cache` entries (TLS 1.2 session ids), as the rustls server keeps, and
    /// `resumption.ticket_lifetime` as the session and ticket lifetime (`SSL_CTX_set_timeout`).
    /// Early data is not supported (`max_early_data` is ignored).
    pub fn new(
        identity: &Identity,
        client_trust: Option<&Trust>,
        versions: Versions,
        resumption: ServerResumption,
        cipher_suite: Option<&str>,
    ) -> Result<OsslAcceptor> {
        let mut b = SslContext::builder(SslMethod::tls_server()).context("creating the OpenSSL context")?;
        common_options(&mut b);
        b.set_options(SslOptions::CIPHER_SERVER_PREFERENCE | SslOptions::NO_RENEGOTIATION);
        restrict(&mut b, versions, cipher_suite)?;
        use_identity(&mut b, identity).context("loading the server certificate")?;
        match client_trust {
            Some(trust) => {
                let cas = configure_trust(&mut b, trust, SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT)?;
                let mut names = Stack::<X509Name>::new()?;
                for ca in &cas {
                    names.push(ca.subject_name().to_owned()?)?;
                }
                b.set_client_ca_list(names);
            }
            None => b.set_verify(SslVerifyMode::NONE),
        }
        // Needed for resumption whenever client certificates are verified; harmless otherwise.
        b.set_session_id_context(b"sipbench")?;
        b.set_session_cache_mode(SslSessionCacheMode::SERVER);
        b.set_session_cache_size(resumption.cache.clamp(1, i32::MAX as usize) as i32);
        if !resumption.stateless {
            b.set_options(SslOptions::NO_TICKET);
        }
        let lifetime = resumption.ticket_lifetime.as_secs().clamp(1, i32::MAX as u64) as i64;
        ffi::set_session_timeout(&mut b, lifetime);
        Ok(OsslAcceptor { ctx: b.build() })
    }

    /// Runs the server handshake on an accepted connection. Failures are classified with
    /// [`classify`] (a refused client certificate is `certificate:<reason>`).
    pub async fn accept(&self, tcp: TcpStream) -> Result<SslStream<TcpStream>, FailureKind> {
        let mut ssl = Ssl::new(&self.ctx).map_err(setup_failure)?;
        ssl.set_ex_data(refusal_index().map_err(setup_failure)?, RefusalSlot::new(0));
        let mut stream = SslStream::new(ssl, tcp).map_err(setup_failure)?;
        match Pin::new(&mut stream).accept().await {
            Ok(()) => Ok(stream),
            Err(e) => Err(classify(&e, Some(stream.ssl()))),
        }
    }
}

/// One session per server name (the newest one received).
type SessionCache = Arc<Mutex<HashMap<String, SslSession>>>;

/// Client side of the OpenSSL stack: one per generator worker (it owns that worker's session
/// cache). Clones share the context and the cache.
#[derive(Clone)]
pub struct OsslConnector {
    ctx: SslContext,
    sessions: Option<SessionCache>,
}

impl std::fmt::Debug for OsslConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OsslConnector")
            .field("resume", &self.sessions.is_some())
            .finish_non_exhaustive()
    }
}

impl OsslConnector {
    /// A connector verifying servers against `trust` (CAs, CRLs, evaluation time, the dialed
    /// name, the CA scope rule), presenting `identity` when given (MTLS).
    ///
    /// `resumption`: with any mode but `off`, keep the newest session of each server name and
    /// offer it. The mode is configured exactly: `tls12-session-id` caps the protocol at TLS 1.2
    /// and sends no SessionTicket extension (`SSL_OP_NO_TICKET`), so the server can only resume
    /// by session id; `tls12-tickets` caps at TLS 1.2 and offers tickets (RFC 5077); the TLS 1.3
    /// modes cap at TLS 1.3 (`off`: nothing kept, no tickets asked for). Versions that
    /// contradict the mode are an error. `cipher_suite` (rustls or IANA name) and `kx_group`
    /// (`X25519`, `secp256r1`/`P-256`, `secp384r1`/`P-384`, ...) pin what is offered; an unknown
    /// or unsupported name is an error naming it.
    pub fn new(
        trust: &Trust,
        identity: Option<&Identity>,
        versions: Versions,
        resumption: Resumption,
        cipher_suite: Option<&str>,
        kx_group: Option<&str>,
    ) -> Result<OsslConnector> {
        let versions = match (resumption.version(), versions) {
            (Some(needed), Versions::Any) => needed,
            (Some(needed), given) if given != needed => bail!(
                "resumption {} needs TLS {}, but only TLS {} is enabled",
                resumption.as_str(),
                needed.as_str(),
                given.as_str()
            ),
            _ => versions,
        };
        let mut b = SslContext::builder(SslMethod::tls_client()).context("creating the OpenSSL context")?;
        common_options(&mut b);
        restrict(&mut b, versions, cipher_suite)?;
        if let Some(group) = kx_group {
            let name = openssl_group(group)?;
            b.set_groups_list(name)
                .with_context(|| format!("OpenSSL refused key exchange group {group}"))?;
        }
        if let Some(identity) = identity {
            use_identity(&mut b, identity).context("loading the client certificate")?;
        }
        configure_trust(&mut b, trust, SslVerifyMode::PEER)?;
        let resume = resumption != Resumption::Off;
        if matches!(resumption, Resumption::Off | Resumption::Tls12SessionId) {
            // No SessionTicket extension in the ClientHello: no ticket is asked for or offered.
            b.set_options(SslOptions::NO_TICKET);
        }
        let sessions = if resume {
            let cache = SessionCache::default();
            let index = session_key_index()?;
            let store = cache.clone();
            b.set_session_cache_mode(SslSessionCacheMode::CLIENT | SslSessionCacheMode::NO_INTERNAL);
            b.set_new_session_callback(move |ssl, session| {
                // Keep a copy: OpenSSL marks a connection's own session object not resumable when
                // the connection is freed without having sent close_notify, which would poison the
                // cache whenever a benchmark session ends abruptly.
                let copy = session.to_der().and_then(|der| SslSession::from_der(&der));
                if let (Some(key), Ok(copy)) = (ssl.ex_data(index), copy) {
                    let mut map = store.lock().unwrap_or_else(|p| p.into_inner());
                    map.insert(key.clone(), copy);
                }
            });
            Some(cache)
        } else {
            b.set_session_cache_mode(SslSessionCacheMode::OFF);
            None
        };
        Ok(OsslConnector {
            ctx: b.build(),
            sessions,
        })
    }

    /// Runs the client handshake to `server_name` (a DNS name, sent as SNI, or an IP address)
    /// over a connected socket. Failures are classified with [`classify`].
    pub async fn connect(&self, server_name: &str, tcp: TcpStream) -> Result<SslStream<TcpStream>, FailureKind> {
        // An absolute name (`sip.example.test.`) is the same name: SNI never carries the dot,
        // and `X509_check_host` would compare it as given (webpki does not).
        let server_name = server_name.strip_suffix('.').unwrap_or(server_name);
        let mut ssl = Ssl::new(&self.ctx).map_err(setup_failure)?;
        ssl.set_connect_state();
        ssl.set_ex_data(refusal_index().map_err(setup_failure)?, RefusalSlot::new(0));
        let bad_name = |_| FailureKind::InvalidServerName;
        match server_name.parse::<IpAddr>() {
            Ok(ip) => ssl.param_mut().set_ip(ip).map_err(bad_name)?,
            Err(_) => {
                ssl.set_hostname(server_name).map_err(bad_name)?;
                ssl.param_mut().set_host(server_name).map_err(bad_name)?;
            }
        }
        ssl.param_mut()
            .set_hostflags(X509CheckFlags::NEVER_CHECK_SUBJECT | X509CheckFlags::NO_PARTIAL_WILDCARDS);
        if let Some(cache) = &self.sessions {
            ssl.set_ex_data(session_key_index().map_err(setup_failure)?, server_name.to_owned());
            let cached = cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(server_name)
                .cloned();
            if let Some(session) = cached {
                ffi::offer_session(&mut ssl, &session).map_err(setup_failure)?;
            }
        }
        let mut stream = SslStream::new(ssl, tcp).map_err(setup_failure)?;
        match Pin::new(&mut stream).connect().await {
            Ok(()) => Ok(stream),
            Err(e) => Err(classify(&e, Some(stream.ssl()))),
        }
    }
}

/// What a finished handshake negotiated, in the vocabulary of [`crate::tls::negotiated`]:
/// protocol (`TLSv1_3`, `TLSv1_2`), cipher suite by its rustls/IANA name, key exchange group
/// (`X25519`, `secp256r1`, `secp384r1`, ...; after a resumption the group of the original
/// handshake; `unknown` when OpenSSL does not say), the peer's certificate key as [`crate::pki::cert_key_description`]
/// gives it (`none` without a peer certificate), `full` or `resumed`, and, seen from the client,
/// how a resumed handshake resumed: TLS 1.3 by PSK, TLS 1.2 by ticket when the resumed session
/// carries one the server issued (`SSL_SESSION_has_ticket`), else by session id.
pub fn negotiated(ssl: &SslRef) -> Negotiated {
    let protocol = match ssl.version2() {
        Some(SslVersion::TLS1_3) => "TLSv1_3".to_owned(),
        Some(SslVersion::TLS1_2) => "TLSv1_2".to_owned(),
        Some(_) => ssl.version_str().replace('.', "_"),
        None => "unknown".to_owned(),
    };
    let cipher_suite = ssl
        .current_cipher()
        .map(|c| match c.standard_name() {
            Some(std) => rustls_suite_name(std, c.version() == "TLSv1.3"),
            None => c.name().to_owned(),
        })
        .unwrap_or_else(|| "unknown".into());
    let kx_group = group_name(ffi::negotiated_group(ssl));
    let peer_key = match ssl.peer_certificate().and_then(|c| c.to_der().ok()) {
        Some(der) => {
            thread_local! {
                static PEER_KEYS: RefCell<PeerKeyCache> = RefCell::default();
            }
            PEER_KEYS.with(|cache| cache.borrow_mut().describe(&CertificateDer::from(der)).to_owned())
        }
        None => "none".into(),
    };
    Negotiated {
        protocol,
        cipher_suite,
        kx_group,
        peer_key,
        handshake: if ssl.session_reused() {
            HandshakeKind::Resumed
        } else {
            HandshakeKind::Full
        },
        resumed_by: resumed_by(ssl),
    }
}

/// How a finished handshake resumed (client side), from the handshake: [`ResumedBy::None`]
/// when it did not.
pub fn resumed_by(ssl: &SslRef) -> ResumedBy {
    if !ssl.session_reused() {
        return ResumedBy::None;
    }
    match (ssl.version2(), ssl.session()) {
        (Some(SslVersion::TLS1_3), _) => ResumedBy::Tls13Psk,
        (Some(SslVersion::TLS1_2), Some(session)) if ffi::session_has_ticket(session) => ResumedBy::Ticket,
        (Some(SslVersion::TLS1_2), Some(_)) => ResumedBy::SessionId,
        _ => ResumedBy::Unknown,
    }
}

/// The peer's certificate chain as DER, leaf first, as the peer sent it (for the topology
/// check). Empty when the peer presented no certificate.
pub fn peer_chain(ssl: &SslRef) -> Vec<CertificateDer<'static>> {
    let Some(leaf) = ssl.peer_certificate().and_then(|c| c.to_der().ok()) else {
        return Vec::new();
    };
    let mut chain = Vec::new();
    // A client's stack starts with the server's leaf; a server's holds only the intermediates.
    if let Some(stack) = ssl.peer_cert_chain() {
        chain.extend(
            stack
                .iter()
                .filter_map(|c| c.to_der().ok())
                .filter(|der| *der != leaf)
                .map(CertificateDer::from),
        );
    }
    chain.insert(0, CertificateDer::from(leaf));
    chain
}

/// Classifies an OpenSSL handshake (or I/O) error in the vocabulary of
/// [`super::classify_io`]:
///
/// - an alert received from the peer: `tls-alert-received:<alert>` (`certificate-revoked`,
///   `unknown-ca`, `bad-certificate`, `certificate-expired`, `certificate-required`, ...);
/// - the peer's certificate refused locally (from `ssl`'s X.509 verify result):
///   `certificate:<reason>` (`expired`, `not-valid-yet`, `revoked`, `unknown-issuer`,
///   `not-valid-for-name`, `ca-not-trusted-for-name`, ...);
/// - resets and I/O errors as `classify_io` does; a missing client certificate is
///   `tls:no-certificates-presented`; other OpenSSL errors `tls:<reason>` (kebab-case).
pub fn classify(err: &ssl::Error, ssl: Option<&SslRef>) -> FailureKind {
    if let Some(io) = err.io_error() {
        return super::classify_transport(io);
    }
    if let Some(stack) = err.ssl_error() {
        let ssl_reasons = || {
            stack
                .errors()
                .iter()
                .filter(|e| e.library_code() == ERR_LIB_SSL)
                .map(|e| e.reason_code())
        };
        if let Some(alert) = ssl_reasons().find_map(|r| {
            (SSL_AD_REASON_OFFSET..SSL_AD_REASON_OFFSET + 256)
                .contains(&r)
                .then(|| (r - SSL_AD_REASON_OFFSET) as u8)
        }) {
            return FailureKind::TlsAlertReceived(alert_name(alert));
        }
        if let Some(ssl) = ssl
            && let Some(refusal) = policy_refusal(ssl)
        {
            return refusal;
        }
        if let Some(result) = ssl.map(SslRef::verify_result).filter(|r| *r != X509VerifyResult::OK) {
            return FailureKind::Certificate(verify_reason(result));
        }
        if let Some(reason) = ssl_reasons().next() {
            return match reason {
                SSL_R_CERTIFICATE_VERIFY_FAILED => FailureKind::Certificate("other".into()),
                SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE => FailureKind::Tls("no-certificates-presented".into()),
                SSL_R_UNEXPECTED_EOF_WHILE_READING => FailureKind::Reset,
                _ => FailureKind::Tls(stack_reason(stack)),
            };
        }
        if !stack.errors().is_empty() {
            return FailureKind::Tls(stack_reason(stack));
        }
    }
    match err.code() {
        ErrorCode::ZERO_RETURN | ErrorCode::SYSCALL => FailureKind::Reset,
        code => FailureKind::Tls(format!("openssl-error-{}", code.as_raw())),
    }
}

/// Classifies an I/O error from an OpenSSL stream after the handshake (an alert the peer sent
/// late, as a TLS 1.3 server refusing a client certificate does, arrives on the first read): as
/// [`classify`] when it wraps an OpenSSL error, otherwise as [`super::classify_io`].
pub fn classify_io(err: &io::Error, ssl: Option<&SslRef>) -> FailureKind {
    match err.get_ref().and_then(|e| e.downcast_ref::<ssl::Error>()) {
        Some(e) => classify(e, ssl),
        None => super::classify_transport(err),
    }
}

/// An OpenSSL error inside an I/O error, classified; `None` when it is not one.
pub(crate) fn classify_own(err: &io::Error) -> Option<FailureKind> {
    err.get_ref()
        .and_then(|e| e.downcast_ref::<ssl::Error>())
        .map(|e| classify(e, None))
}

// OpenSSL constants the `openssl` crate does not export (`openssl/err.h`, `ssl.h`, `sslerr.h`).
const ERR_LIB_SSL: i32 = 20;
const SSL_AD_REASON_OFFSET: i32 = 1000;
const SSL_R_CERTIFICATE_VERIFY_FAILED: i32 = 134;
const SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE: i32 = 199;
const SSL_R_UNEXPECTED_EOF_WHILE_READING: i32 = 294;

// X.509 verify results (`openssl/x509_vfy.h`).
const V_ERR_UNABLE_TO_GET_ISSUER_CERT: i32 = 2;
const V_ERR_UNABLE_TO_GET_CRL: i32 = 3;
const V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE: i32 = 4;
const V_ERR_CERT_SIGNATURE_FAILURE: i32 = 7;
const V_ERR_CERT_NOT_YET_VALID: i32 = 9;
const V_ERR_CERT_HAS_EXPIRED: i32 = 10;
const V_ERR_CRL_NOT_YET_VALID: i32 = 11;
const V_ERR_CRL_SIGNATURE_FAILURE: i32 = 8;
const V_ERR_CRL_HAS_EXPIRED: i32 = 12;
const V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: i32 = 18;
const V_ERR_SELF_SIGNED_CERT_IN_CHAIN: i32 = 19;
const V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY: i32 = 20;
const V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: i32 = 21;
const V_ERR_CERT_REVOKED: i32 = 23;
const V_ERR_INVALID_CA: i32 = 79;
const V_ERR_PATH_LENGTH_EXCEEDED: i32 = 25;
const V_ERR_INVALID_PURPOSE: i32 = 26;
const V_ERR_CERT_UNTRUSTED: i32 = 27;
const V_ERR_UNHANDLED_CRITICAL_EXTENSION: i32 = 34;
const V_ERR_KEYUSAGE_NO_CERTSIGN: i32 = 32;
const V_ERR_PERMITTED_VIOLATION: i32 = 47;
const V_ERR_EXCLUDED_VIOLATION: i32 = 48;
const V_ERR_HOSTNAME_MISMATCH: i32 = 62;
const V_ERR_EMAIL_MISMATCH: i32 = 63;
const V_ERR_IP_ADDRESS_MISMATCH: i32 = 64;

/// The rustls `CertificateError` name (kebab-case) for an X.509 verify result; results rustls
/// has no counterpart for are OpenSSL's description in kebab-case.
fn verify_reason(result: X509VerifyResult) -> String {
    match result.as_raw() {
        V_ERR_CERT_HAS_EXPIRED => "expired".into(),
        V_ERR_CERT_NOT_YET_VALID => "not-valid-yet".into(),
        V_ERR_CERT_REVOKED => "revoked".into(),
        V_ERR_UNABLE_TO_GET_ISSUER_CERT
        | V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        | V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
        | V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
        | V_ERR_SELF_SIGNED_CERT_IN_CHAIN
        | V_ERR_CERT_UNTRUSTED => "unknown-issuer".into(),
        V_ERR_HOSTNAME_MISMATCH | V_ERR_IP_ADDRESS_MISMATCH | V_ERR_EMAIL_MISMATCH => "not-valid-for-name".into(),
        V_ERR_CERT_SIGNATURE_FAILURE | V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE => "bad-signature".into(),
        V_ERR_INVALID_PURPOSE => "invalid-purpose".into(),
        V_ERR_UNHANDLED_CRITICAL_EXTENSION => "unhandled-critical-extension".into(),
        V_ERR_CRL_HAS_EXPIRED => "expired-revocation-list".into(),
        V_ERR_UNABLE_TO_GET_CRL => "unknown-revocation-status".into(),
        V_ERR_INVALID_CA => "end-entity-used-as-ca".into(),
        V_ERR_PATH_LENGTH_EXCEEDED => "path-len-constraint-violated".into(),
        V_ERR_PERMITTED_VIOLATION | V_ERR_EXCLUDED_VIOLATION => "name-constraint-violation".into(),
        V_ERR_CRL_SIGNATURE_FAILURE => "crl-signature-failure".into(),
        V_ERR_KEYUSAGE_NO_CERTSIGN => "end-entity-used-as-ca".into(),
        _ => kebab(result.error_string()),
    }
}

/// An alert's name as rustls spells it (kebab-case of `AlertDescription`).
fn alert_name(alert: u8) -> String {
    variant_kebab(&format!("{:?}", rustls::AlertDescription::from(alert)))
}

/// The first reason of an error stack, kebab-case (`no shared cipher` gives `no-shared-cipher`).
fn stack_reason(stack: &ErrorStack) -> String {
    stack
        .errors()
        .first()
        .and_then(|e| e.reason())
        .map(kebab)
        .unwrap_or_else(|| "unknown".into())
}

/// A failure to set up a connection object (out of memory, in practice).
fn setup_failure(err: ErrorStack) -> FailureKind {
    FailureKind::Tls(format!("openssl-setup-{}", stack_reason(&err)))
}

/// A cipher suite's rustls name from its IANA name (`TLS_AES_256_GCM_SHA384` for TLS 1.3 is
/// `TLS13_AES_256_GCM_SHA384`; TLS 1.2 names are the same).
fn rustls_suite_name(standard: &str, tls13: bool) -> String {
    match standard.strip_prefix("TLS_") {
        Some(rest) if tls13 => format!("TLS13_{rest}"),
        _ => standard.to_owned(),
    }
}

/// A key exchange group's rustls name from the NID `SSL_get_negotiated_group` returns.
fn group_name(nid: i32) -> String {
    // Groups OpenSSL has no NID for come back as TLSEXT_nid_unknown | code point.
    const TLSEXT_NID_UNKNOWN: i32 = 0x0100_0000;
    if nid <= 0 {
        return "unknown".into();
    }
    if nid & TLSEXT_NID_UNKNOWN != 0 {
        return format!("Unknown(0x{:04x})", nid & 0xffff);
    }
    // NIDs from `openssl/obj_mac.h` (the crate has no constants for the X curves).
    const NID_X25519: i32 = 1034;
    const NID_X448: i32 = 1035;
    match nid {
        NID_X25519 => "X25519".into(),
        NID_X448 => "X448".into(),
        n if n == Nid::X9_62_PRIME256V1.as_raw() => "secp256r1".into(),
        n if n == Nid::SECP384R1.as_raw() => "secp384r1".into(),
        n if n == Nid::SECP521R1.as_raw() => "secp521r1".into(),
        n => Nid::from_raw(n)
            .short_name()
            .map(|s| s.to_ascii_uppercase())
            .unwrap_or_else(|_| format!("nid-{n}")),
    }
}

/// A pinned cipher suite, by protocol version, with its OpenSSL name.
enum SuitePin {
    Tls13(String),
    Tls12(String),
}

/// Checks a cipher suite pin (`cipher_suite`) before any connection is made.
pub(crate) fn check_suite(suite: &str) -> Result<()> {
    suite_pin(suite).map(|_| ())
}

/// Checks a key exchange group pin (`kx_group`) before any connection is made.
pub(crate) fn check_group(group: &str) -> Result<()> {
    openssl_group(group).map(|_| ())
}

/// Parses a cipher suite pin given by its rustls (`TLS13_AES_128_GCM_SHA256`) or IANA name.
fn suite_pin(suite: &str) -> Result<SuitePin> {
    let upper = suite.trim().to_ascii_uppercase();
    let tls13 = match upper.strip_prefix("TLS13_") {
        Some(rest) => Some(format!("TLS_{rest}")),
        None => TLS13_SUITES.contains(&upper.as_str()).then(|| upper.clone()),
    };
    if let Some(name) = tls13 {
        if !TLS13_SUITES.contains(&name.as_str()) {
            bail!(
                "{suite} is not a TLS 1.3 cipher suite of OpenSSL (it has {})",
                TLS13_SUITES.map(|s| rustls_suite_name(s, true)).join(", ")
            );
        }
        return Ok(SuitePin::Tls13(name));
    }
    match ssl::cipher_name(&upper) {
        "(NONE)" => bail!("{suite} is not a cipher suite OpenSSL knows (give its IANA or rustls name)"),
        name => Ok(SuitePin::Tls12(name.to_owned())),
    }
}

/// The OpenSSL name of a key exchange group pin.
fn openssl_group(group: &str) -> Result<&'static str> {
    let g = group.trim();
    if let Some((_, _, name)) = GROUPS
        .iter()
        .find(|(rustls, others, _)| rustls.eq_ignore_ascii_case(g) || others.iter().any(|o| o.eq_ignore_ascii_case(g)))
    {
        return Ok(*name);
    }
    let have: Vec<&str> = GROUPS.iter().map(|(rustls, _, _)| *rustls).collect();
    let lower = g.to_ascii_lowercase();
    if lower.contains("mlkem") || lower.contains("kyber") {
        bail!(
            "{group} is not implemented by OpenSSL {} (post-quantum key exchange needs OpenSSL 3.5; it has {})",
            openssl::version::version(),
            have.join(", ")
        );
    }
    bail!(
        "{group} is not a key exchange group of OpenSSL (it has {})",
        have.join(", ")
    );
}

/// Options and modes both roles use. The modes are what `tokio-openssl` needs: a write retried
/// with a moved buffer, and partial writes.
fn common_options(b: &mut SslContextBuilder) {
    b.set_options(SslOptions::NO_COMPRESSION);
    // NO_AUTO_CHAIN: send the identity's chain as given (as rustls does), not one completed from
    // the trust store (which would add the root).
    b.set_mode(
        SslMode::AUTO_RETRY
            | SslMode::ACCEPT_MOVING_WRITE_BUFFER
            | SslMode::ENABLE_PARTIAL_WRITE
            | SslMode::NO_AUTO_CHAIN,
    );
}

/// Restricts protocol versions and, when pinned, the cipher suite (which also pins its version).
fn restrict(b: &mut SslContextBuilder, versions: Versions, cipher_suite: Option<&str>) -> Result<()> {
    let (mut min, mut max) = match versions {
        Versions::Tls13 => (SslVersion::TLS1_3, SslVersion::TLS1_3),
        Versions::Tls12 => (SslVersion::TLS1_2, SslVersion::TLS1_2),
        Versions::Any => (SslVersion::TLS1_2, SslVersion::TLS1_3),
    };
    if let Some(suite) = cipher_suite {
        match suite_pin(suite)? {
            SuitePin::Tls13(name) => {
                if max != SslVersion::TLS1_3 {
                    bail!("{suite} is a TLS 1.3 cipher suite, but only TLS 1.2 is enabled");
                }
                min = SslVersion::TLS1_3;
                b.set_ciphersuites(&name)
                    .with_context(|| format!("OpenSSL refused cipher suite {suite}"))?;
            }
            SuitePin::Tls12(name) => {
                if min != SslVersion::TLS1_2 {
                    bail!("{suite} is a TLS 1.2 cipher suite, but only TLS 1.3 is enabled");
                }
                max = SslVersion::TLS1_2;
                b.set_cipher_list(&name)
                    .with_context(|| format!("OpenSSL refused cipher suite {suite} ({name})"))?;
            }
        }
    }
    b.set_min_proto_version(Some(min))?;
    b.set_max_proto_version(Some(max))?;
    Ok(())
}

/// Installs a certificate chain (leaf first) and its key.
fn use_identity(b: &mut SslContextBuilder, identity: &Identity) -> Result<()> {
    let mut certs = identity.chain.iter();
    let leaf = certs.next().context("the identity has no certificate")?;
    let leaf = X509::from_der(leaf.as_ref())?;
    b.set_certificate(&leaf)?;
    for cert in certs {
        b.add_extra_chain_cert(X509::from_der(cert.as_ref())?)?;
    }
    let key = private_key(&identity.key)?;
    b.set_private_key(&key)?;
    b.check_private_key()
        .context("the certificate and the private key do not match")?;
    Ok(())
}

fn private_key(key: &PrivateKeyDer<'_>) -> Result<PKey<Private>> {
    let loaded = match key {
        PrivateKeyDer::Pkcs8(k) => PKey::private_key_from_pkcs8(k.secret_pkcs8_der()),
        other => PKey::private_key_from_der(other.secret_der()),
    };
    match (loaded, key) {
        (Ok(k), _) => Ok(k),
        // OpenSSL 3.0 refuses the PKCS#8 v2 (RFC 5958, with the public key) encoding that
        // aws-lc writes for Ed25519 keys; the key itself is the 32-byte seed, read from it.
        (Err(e), PrivateKeyDer::Pkcs8(k)) => match ed25519_seed(k.secret_pkcs8_der()) {
            Some(seed) => PKey::private_key_from_raw_bytes(seed, openssl::pkey::Id::ED25519)
                .context("OpenSSL cannot read the Ed25519 private key"),
            None => Err(e).context("OpenSSL cannot read the private key"),
        },
        (Err(e), _) => Err(e).context("OpenSSL cannot read the private key"),
    }
}

/// The seed of an Ed25519 PKCS#8 key: the algorithm is id-Ed25519 (OID 1.3.101.112) and the
/// private key is an OCTET STRING holding the 32-byte CurvePrivateKey OCTET STRING (RFC 8410).
fn ed25519_seed(pkcs8: &[u8]) -> Option<&[u8]> {
    const ED25519_OID: [u8; 5] = [0x06, 0x03, 0x2b, 0x65, 0x70];
    const SEED: [u8; 4] = [0x04, 0x22, 0x04, 0x20];
    let oid = pkcs8.windows(ED25519_OID.len()).position(|w| w == ED25519_OID)?;
    let at = oid + pkcs8[oid..].windows(SEED.len()).position(|w| w == SEED)? + SEED.len();
    pkcs8.get(at..at + 32)
}

/// Trusts `trust`'s CAs (and only them: its roots as trust anchors, its issuing CAs for path
/// building) with their CRLs, at its evaluation time, and installs the verify callback of the
/// trust model. Returns the CA certificates.
fn configure_trust(b: &mut SslContextBuilder, trust: &Trust, mode: SslVerifyMode) -> Result<Vec<X509>> {
    let mut cas = Vec::new();
    for (der, _) in trust.ca_certificates() {
        let cert = X509::from_der(der.as_ref()).context("a CA certificate")?;
        b.cert_store_mut()
            .add_cert(cert.clone())
            .context("adding a CA certificate")?;
        cas.push(cert);
    }
    for crl in trust.crls() {
        let crl = X509Crl::from_der(crl.as_ref()).context("a CRL")?;
        ffi::add_crl(b.cert_store_mut(), &crl).context("adding a CRL")?;
    }
    if cas.is_empty() {
        bail!("the trust holds no CA");
    }
    let param = b.verify_param_mut();
    if trust.revocation_checked() {
        param.set_flags(X509VerifyFlags::CRL_CHECK | X509VerifyFlags::CRL_CHECK_ALL)?;
    }
    if let Some(at) = trust.evaluation_time() {
        param.set_time(at.as_secs().try_into().context("evaluation time out of range")?);
    }
    param.set_hostflags(X509CheckFlags::NEVER_CHECK_SUBJECT | X509CheckFlags::NO_PARTIAL_WILDCARDS);
    let policy = Arc::new(Policy {
        ignore_expired_crls: trust.crl_expiry() == CrlExpiry::Ignore,
        trust: trust.clone(),
    });
    // OpenSSL's per-certificate callback overrides the CRL errors the trust model accepts;
    // the trust model's own checks run once OpenSSL's whole verification has passed.
    let overrides = policy.clone();
    b.set_verify_callback(mode, move |ok, ctx| overrides.per_certificate(ok, ctx));
    b.set_ex_data(policy_index()?, policy);
    ffi::set_cert_verify_callback(b);
    Ok(cas)
}

/// The parts of the trust model OpenSSL's own verification does not do.
struct Policy {
    trust: Trust,
    /// A CRL past its nextUpdate is still used.
    ignore_expired_crls: bool,
}

impl Policy {
    /// OpenSSL's per-certificate verify callback: called with OpenSSL's verdict for each
    /// certificate (and each error); accepts the CRL errors the trust model tolerates.
    fn per_certificate(&self, ok: bool, ctx: &mut X509StoreContextRef) -> bool {
        if ok {
            return true;
        }
        let accept = match ctx.error().as_raw() {
            V_ERR_CRL_HAS_EXPIRED => self.ignore_expired_crls,
            V_ERR_CRL_NOT_YET_VALID => true,
            V_ERR_UNABLE_TO_GET_CRL => self.issuer_unchecked(ctx),
            _ => false,
        };
        if accept {
            // Keep the overridden error out of the connection's verify result.
            ctx.set_error(X509VerifyResult::OK);
        }
        accept
    }

    /// The trust model's checks on the chain OpenSSL verified (names, CA scope, topology).
    fn authorize(&self, ctx: &mut X509StoreContextRef) -> bool {
        let Some(chain) = ctx.chain() else {
            return false;
        };
        let chain: Vec<CertificateDer<'static>> = chain
            .iter()
            .filter_map(|c| c.to_der().ok())
            .map(CertificateDer::from)
            .collect();
        match self.trust.authorize(&chain) {
            Ok(_) => true,
            Err(refusal) => {
                let slot = X509StoreContext::ssl_idx()
                    .ok()
                    .and_then(|i| ctx.ex_data(i))
                    .and_then(|ssl| ssl.ex_data(refusal_index().ok()?));
                if let Some(slot) = slot {
                    let code = Refusal::REASONS
                        .iter()
                        .position(|r| *r == refusal.reason())
                        .map_or(0, |i| i + 1);
                    slot.store(code as u8, std::sync::atomic::Ordering::Relaxed);
                }
                if let Refusal::NotInTopology { .. } = refusal {
                    tracing::info!("refused a server-to-server peer: {refusal}");
                }
                ctx.set_error(X509VerifyResult::APPLICATION_VERIFICATION);
                false
            }
        }
    }

    /// Whether the certificate that has no CRL was issued by a CA of the trust whose entry has
    /// no CRLs (its issued certificates are not checked for revocation). OpenSSL asks this of
    /// the root too, which issued itself.
    fn issuer_unchecked(&self, ctx: &X509StoreContextRef) -> bool {
        let depth = ctx.error_depth() as usize;
        let issuer = ctx
            .chain()
            .and_then(|c| c.iter().nth(depth + 1).or_else(|| c.iter().nth(depth)))
            .and_then(|c| c.to_der().ok());
        issuer.is_some_and(|der| self.trust.unchecked_issuer(&CertificateDer::from(der)))
    }
}

/// The context ex-data slot of the [`Policy`].
fn policy_index() -> Result<Index<SslContext, Arc<Policy>>, ErrorStack> {
    static INDEX: OnceLock<Index<SslContext, Arc<Policy>>> = OnceLock::new();
    if let Some(index) = INDEX.get() {
        return Ok(*index);
    }
    let index = SslContext::new_ex_index::<Arc<Policy>>()?;
    Ok(*INDEX.get_or_init(|| index))
}

/// The certificate verification of a connection (`SSL_CTX_set_cert_verify_callback`): all of
/// OpenSSL's own (`X509_verify_cert`, with the per-certificate callback), then the trust
/// model's on the verified chain, so that its refusals come after every check OpenSSL makes
/// (name constraints included) as they do on the rustls stack.
fn verify_then_authorize(ctx: &mut X509StoreContextRef) -> bool {
    if !matches!(ctx.verify_cert(), Ok(true)) {
        return false;
    }
    let policy = X509StoreContext::ssl_idx()
        .ok()
        .and_then(|i| ctx.ex_data(i))
        .and_then(|ssl| ssl.ssl_context().ex_data(policy_index().ok()?))
        .cloned();
    match policy {
        Some(policy) => policy.authorize(ctx),
        // Every context this module verifies with has its policy; refuse rather than assume.
        None => {
            ctx.set_error(X509VerifyResult::APPLICATION_VERIFICATION);
            false
        }
    }
}

/// Which trust model refusal the verify callback made on a connection: 0 for none, else one
/// plus the index in [`Refusal::REASONS`].
type RefusalSlot = std::sync::atomic::AtomicU8;

/// The connection ex-data slot of the [`RefusalSlot`].
fn refusal_index() -> Result<Index<Ssl, RefusalSlot>, ErrorStack> {
    static INDEX: OnceLock<Index<Ssl, RefusalSlot>> = OnceLock::new();
    if let Some(index) = INDEX.get() {
        return Ok(*index);
    }
    let index = Ssl::new_ex_index::<RefusalSlot>()?;
    Ok(*INDEX.get_or_init(|| index))
}

/// The trust model's refusal recorded on `ssl`, as a failure kind.
fn policy_refusal(ssl: &SslRef) -> Option<FailureKind> {
    let code = ssl
        .ex_data(refusal_index().ok()?)?
        .load(std::sync::atomic::Ordering::Relaxed);
    let reason = *Refusal::REASONS.get(usize::from(code).checked_sub(1)?)?;
    Some(if reason == "not-in-topology" {
        FailureKind::NotInTopology
    } else {
        FailureKind::Certificate(reason.into())
    })
}

/// The connection ex-data slot holding the session cache key (the server name).
fn session_key_index() -> Result<Index<Ssl, String>, ErrorStack> {
    static INDEX: OnceLock<Index<Ssl, String>> = OnceLock::new();
    if let Some(index) = INDEX.get() {
        return Ok(*index);
    }
    let index = Ssl::new_ex_index::<String>()?;
    // A racing thread may have won; its index is as good (this one is merely unused).
    Ok(*INDEX.get_or_init(|| index))
}

/// The few libssl calls the `openssl` crate does not wrap. All `unsafe` of this module is here.
#[allow(unsafe_code)]
mod ffi {
    use std::ffi::{c_int, c_long, c_void};

    use openssl::error::ErrorStack;
    use openssl::ssl::{SslContextBuilder, SslRef, SslSessionRef};
    use openssl::x509::X509CrlRef;
    use openssl::x509::store::X509StoreBuilderRef;

    // These symbols are in the libssl and libcrypto that `openssl-sys` links.
    unsafe extern "C" {
        fn SSL_CTX_set_cert_verify_callback(
            ctx: *mut c_void,
            cb: Option<unsafe extern "C" fn(*mut c_void, *mut c_void) -> c_int>,
            arg: *mut c_void,
        );
        fn SSL_ctrl(ssl: *mut c_void, cmd: c_int, larg: c_long, parg: *mut c_void) -> c_long;
        fn SSL_CTX_set_timeout(ctx: *mut c_void, t: c_long) -> c_long;
        fn X509_STORE_add_crl(store: *mut c_void, crl: *mut c_void) -> c_int;
        fn SSL_SESSION_has_ticket(s: *const c_void) -> c_int;
    }

    /// `SSL_SESSION_has_ticket`: whether the session carries a ticket the server issued.
    pub(super) fn session_has_ticket(session: &SslSessionRef) -> bool {
        // SAFETY: a `&SslSessionRef` is the `SSL_SESSION *` itself (a `foreign-types` opaque
        // reference, see `negotiated_group`), valid for the borrow; the function only reads it.
        unsafe { SSL_SESSION_has_ticket(std::ptr::from_ref(session).cast()) == 1 }
    }

    /// `SSL_CTRL_GET_NEGOTIATED_GROUP` (`openssl/ssl.h`, OpenSSL 3.0).
    const SSL_CTRL_GET_NEGOTIATED_GROUP: c_int = 134;

    /// `SSL_get_negotiated_group`: the NID of the negotiated group (0 when none).
    pub(super) fn negotiated_group(ssl: &SslRef) -> i32 {
        // SAFETY: the `openssl` crate's reference types are `foreign-types` opaque references: a
        // `&SslRef` is the `SSL *` itself (that is how `ForeignTypeRef::as_ptr` is implemented), so
        // the cast yields a valid `SSL *` for the duration of the borrow. This control only reads
        // the connection's state and takes no pointer argument.
        let nid = unsafe {
            SSL_ctrl(
                std::ptr::from_ref(ssl).cast_mut().cast(),
                SSL_CTRL_GET_NEGOTIATED_GROUP,
                0,
                std::ptr::null_mut(),
            )
        };
        i32::try_from(nid).unwrap_or(0)
    }

    /// `SSL_CTX_set_cert_verify_callback`: certificate verification goes through
    /// [`super::verify_then_authorize`].
    pub(super) fn set_cert_verify_callback(b: &mut SslContextBuilder) {
        // SAFETY: `as_ptr` is the builder's live `SSL_CTX *`, borrowed mutably for the call; the
        // callback is a plain function with no state (`arg` is null), valid for the program's
        // life.
        unsafe { SSL_CTX_set_cert_verify_callback(b.as_ptr().cast(), Some(cert_verify), std::ptr::null_mut()) }
    }

    /// The C side of [`set_cert_verify_callback`].
    unsafe extern "C" fn cert_verify(ctx: *mut c_void, _arg: *mut c_void) -> c_int {
        // SAFETY: OpenSSL calls this with the live `X509_STORE_CTX *` of the verification in
        // progress, which it owns for the duration of the call and no one else touches.
        // A `&mut X509StoreContextRef` is that pointer itself (`foreign-types` opaque reference
        // types, as `ForeignTypeRef::from_ptr_mut` builds them).
        let ctx = unsafe { &mut *ctx.cast::<openssl::x509::X509StoreContextRef>() };
        // A panic must not unwind into C: treat it as a refusal.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| super::verify_then_authorize(ctx)))
            .map_or(0, c_int::from)
    }

    /// `SSL_CTX_set_timeout`: the session lifetime (also the advertised ticket lifetime).
    pub(super) fn set_session_timeout(b: &mut SslContextBuilder, secs: i64) {
        // SAFETY: `as_ptr` returns the builder's live `SSL_CTX *`, which we borrow mutably for the
        // call; the function only stores the number.
        unsafe {
            SSL_CTX_set_timeout(b.as_ptr().cast(), secs as c_long);
        }
    }

    /// `X509_STORE_add_crl`: adds a CRL to a certificate store (which takes its own reference).
    pub(super) fn add_crl(store: &mut X509StoreBuilderRef, crl: &X509CrlRef) -> Result<(), ErrorStack> {
        // SAFETY: both references are `foreign-types` opaque references, i.e. the `X509_STORE *`
        // and `X509_CRL *` themselves (see `negotiated_group`), valid for the call. The store is
        // borrowed mutably, as the function modifies it; it increments the CRL's reference count
        // rather than taking ours, so `crl` stays owned by the caller.
        let ok = unsafe {
            X509_STORE_add_crl(
                std::ptr::from_mut(store).cast(),
                std::ptr::from_ref(crl).cast_mut().cast(),
            )
        };
        if ok == 1 { Ok(()) } else { Err(ErrorStack::get()) }
    }

    /// `SSL_set_session`: offers a cached session for resumption.
    pub(super) fn offer_session(ssl: &mut SslRef, session: &SslSessionRef) -> Result<(), ErrorStack> {
        // SAFETY: `set_session` requires that the session not belong to another `SslContext`
        // (a session's context-bound state, such as the cache it sits in, must match `ssl`'s).
        // The sessions offered here are deserialized copies (`SslSession::from_der`) made by the
        // new-session callback of the connector's own context: they belong to no context's cache
        // and carry no context pointer, and are only offered to connections of that connector.
        unsafe { ssl.set_session(session) }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::pki::{BadCert, KeyType, Pki};
    use crate::tls::Backend;

    const SERVER_NAME: &str = "sip.example.test";

    fn setup() -> (Pki, Trust) {
        let pki = Pki::generate(KeyType::EcdsaP256).unwrap();
        let trust = Trust::for_pki(&pki).unwrap();
        (pki, trust)
    }

    /// Echoes 4 bytes, then closes.
    async fn echo_server<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> io::Result<()> {
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).await?;
        stream.write_all(&buf).await?;
        stream.shutdown().await
    }

    /// Sends `ping` and expects it back.
    async fn echo_client<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> io::Result<()> {
        stream.write_all(b"ping").await?;
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"ping");
        Ok(())
    }

    /// One OpenSSL server connection: what the server negotiated, or how it failed.
    async fn serve_once(acceptor: OsslAcceptor) -> (std::net::SocketAddr, tokio::task::JoinHandle<Outcome>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = acceptor.accept(tcp).await?;
            let n = negotiated(tls.ssl());
            echo_server(&mut tls)
                .await
                .map_err(|e| classify_io(&e, Some(tls.ssl())))?;
            Ok(n)
        });
        (addr, task)
    }

    type Outcome = Result<Negotiated, FailureKind>;

    /// One OpenSSL client connection with an echo.
    async fn dial(connector: &OsslConnector, addr: std::net::SocketAddr, name: &str) -> Outcome {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut tls = connector.connect(name, tcp).await?;
        let n = negotiated(tls.ssl());
        echo_client(&mut tls)
            .await
            .map_err(|e| classify_io(&e, Some(tls.ssl())))?;
        Ok(n)
    }

    /// OpenSSL client against OpenSSL server: (client outcome, server outcome).
    async fn pair(acceptor: OsslAcceptor, connector: &OsslConnector, name: &str) -> (Outcome, Outcome) {
        let (addr, server) = serve_once(acceptor).await;
        let client = dial(connector, addr, name).await;
        (client, server.await.unwrap())
    }

    fn tls_acceptor(identity: &Identity, versions: Versions) -> OsslAcceptor {
        OsslAcceptor::new(identity, None, versions, ServerResumption::default(), None).unwrap()
    }

    fn mtls_acceptor(pki: &Pki, trust: &Trust) -> OsslAcceptor {
        OsslAcceptor::new(
            &pki.server,
            Some(trust),
            Versions::Any,
            ServerResumption::default(),
            None,
        )
        .unwrap()
    }

    fn connector(trust: &Trust, identity: Option<&Identity>, versions: Versions) -> OsslConnector {
        OsslConnector::new(trust, identity, versions, Resumption::Off, None, None).unwrap()
    }

    fn reason(outcome: &Outcome) -> String {
        match outcome {
            Ok(_) => "accepted".into(),
            Err(e) => e.to_string(),
        }
    }

    #[tokio::test]
    async fn tls13_and_tls12_handshakes_report_rustls_names() {
        let (pki, trust) = setup();
        let client = connector(&trust, None, Versions::Tls13);
        let (c, s) = pair(tls_acceptor(&pki.server, Versions::Any), &client, SERVER_NAME).await;
        let c = c.unwrap();
        assert_eq!(
            c,
            Negotiated {
                protocol: "TLSv1_3".into(),
                cipher_suite: "TLS13_AES_256_GCM_SHA384".into(),
                kx_group: "X25519".into(),
                peer_key: "ECDSA P-256".into(),
                handshake: HandshakeKind::Full,
                resumed_by: ResumedBy::None,
            }
        );
        let s = s.unwrap();
        assert_eq!(s.peer_key, "none");
        assert_eq!((s.protocol.as_str(), s.kx_group.as_str()), ("TLSv1_3", "X25519"));
        assert_eq!(s.cipher_suite, c.cipher_suite);

        let client = connector(&trust, None, Versions::Tls12);
        let (c, s) = pair(tls_acceptor(&pki.server, Versions::Any), &client, SERVER_NAME).await;
        let c = c.unwrap();
        assert_eq!(
            c,
            Negotiated {
                protocol: "TLSv1_2".into(),
                cipher_suite: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384".into(),
                kx_group: "X25519".into(),
                peer_key: "ECDSA P-256".into(),
                handshake: HandshakeKind::Full,
                resumed_by: ResumedBy::None,
            }
        );
        let s = s.unwrap();
        assert_eq!((s.protocol.as_str(), s.kx_group.as_str()), ("TLSv1_2", "X25519"));
    }

    #[tokio::test]
    async fn pinned_suites_and_groups_are_negotiated_and_unknown_ones_refused() {
        let (pki, trust) = setup();
        let client = OsslConnector::new(
            &trust,
            None,
            Versions::Any,
            Resumption::Off,
            Some("TLS13_CHACHA20_POLY1305_SHA256"),
            Some("P-384"),
        )
        .unwrap();
        let (c, _) = pair(tls_acceptor(&pki.server, Versions::Any), &client, SERVER_NAME).await;
        let c = c.unwrap();
        assert_eq!(
            (c.protocol.as_str(), c.cipher_suite.as_str(), c.kx_group.as_str()),
            ("TLSv1_3", "TLS13_CHACHA20_POLY1305_SHA256", "secp384r1")
        );

        let client = OsslConnector::new(
            &trust,
            None,
            Versions::Any,
            Resumption::Off,
            Some("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
            Some("secp256r1"),
        )
        .unwrap();
        let (c, _) = pair(tls_acceptor(&pki.server, Versions::Any), &client, SERVER_NAME).await;
        let c = c.unwrap();
        assert_eq!(
            (c.protocol.as_str(), c.cipher_suite.as_str(), c.kx_group.as_str()),
            ("TLSv1_2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "secp256r1")
        );

        // A server pinned to a suite the client does not offer.
        let server = OsslAcceptor::new(
            &pki.server,
            None,
            Versions::Tls13,
            ServerResumption::default(),
            Some("TLS13_AES_128_GCM_SHA256"),
        )
        .unwrap();
        let client = OsslConnector::new(
            &trust,
            None,
            Versions::Tls13,
            Resumption::Off,
            Some("TLS13_AES_256_GCM_SHA384"),
            None,
        )
        .unwrap();
        let (c, s) = pair(server, &client, SERVER_NAME).await;
        assert_eq!(reason(&c), "tls-alert-received:handshake-failure");
        assert_eq!(reason(&s), "tls:no-shared-cipher");

        let err = |suite: Option<&str>, group: Option<&str>, versions| {
            OsslConnector::new(&trust, None, versions, Resumption::Off, suite, group)
                .unwrap_err()
                .to_string()
        };
        assert!(err(Some("TLS13_AES_512_GCM"), None, Versions::Any).contains("TLS13_AES_512_GCM"));
        assert!(err(Some("TLS_NOPE"), None, Versions::Any).contains("TLS_NOPE"));
        assert!(err(Some("TLS13_AES_128_GCM_SHA256"), None, Versions::Tls12).contains("only TLS 1.2"));
        assert!(err(Some("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"), None, Versions::Tls13).contains("only TLS 1.3"));
        let pq = err(None, Some("X25519MLKEM768"), Versions::Tls13);
        assert!(pq.contains("X25519MLKEM768") && pq.contains("OpenSSL 3.5"), "{pq}");
        assert!(err(None, Some("brainpool"), Versions::Tls13).contains("brainpool"));
    }

    #[tokio::test]
    async fn mtls_accepts_the_edge_and_refuses_bad_client_certificates() {
        let (pki, trust) = setup();
        for versions in [Versions::Tls13, Versions::Tls12] {
            let client = connector(&trust, Some(&pki.edge), versions);
            let (c, s) = pair(mtls_acceptor(&pki, &trust), &client, SERVER_NAME).await;
            c.unwrap();
            let s = s.unwrap();
            assert_eq!(s.peer_key, "ECDSA P-256");

            for (bad, server_reason, client_reason) in [
                (
                    BadCert::Revoked,
                    "certificate:revoked",
                    "tls-alert-received:certificate-revoked",
                ),
                (
                    BadCert::Expired,
                    "certificate:expired",
                    "tls-alert-received:certificate-expired",
                ),
                (
                    BadCert::UntrustedCa,
                    "certificate:unknown-issuer",
                    "tls-alert-received:unknown-ca",
                ),
                (
                    BadCert::PartnerClaimsEnterprise,
                    "certificate:ca-not-trusted-for-name",
                    "tls-alert-received:handshake-failure",
                ),
            ] {
                let client = connector(&trust, Some(pki.bad(bad)), versions);
                let (c, s) = pair(mtls_acceptor(&pki, &trust), &client, SERVER_NAME).await;
                assert_eq!(
                    (reason(&s).as_str(), reason(&c).as_str()),
                    (server_reason, client_reason),
                    "{bad} over {versions:?}"
                );
            }
        }
        // No client certificate at all.
        let client = connector(&trust, None, Versions::Tls13);
        let (c, s) = pair(mtls_acceptor(&pki, &trust), &client, SERVER_NAME).await;
        assert_eq!(reason(&s), "tls:no-certificates-presented");
        assert_eq!(reason(&c), "tls-alert-received:certificate-required");
    }

    #[tokio::test]
    async fn the_client_refuses_bad_server_certificates() {
        let (pki, trust) = setup();
        for (bad, name, client_reason, server_reason) in [
            (
                BadCert::WrongName,
                SERVER_NAME,
                "certificate:not-valid-for-name",
                "tls-alert-received:bad-certificate",
            ),
            (
                BadCert::UntrustedCa,
                "edge.example.test",
                "certificate:unknown-issuer",
                "tls-alert-received:unknown-ca",
            ),
            (
                BadCert::Expired,
                "edge.example.test",
                "certificate:expired",
                "tls-alert-received:certificate-expired",
            ),
            (
                BadCert::Revoked,
                "edge.example.test",
                "certificate:revoked",
                "tls-alert-received:certificate-revoked",
            ),
            (
                BadCert::PartnerClaimsEnterprise,
                "edge.example.test",
                "certificate:ca-not-trusted-for-name",
                "tls-alert-received:handshake-failure",
            ),
        ] {
            let client = connector(&trust, None, Versions::Tls13);
            let (c, s) = pair(tls_acceptor(pki.bad(bad), Versions::Any), &client, name).await;
            assert_eq!(
                (reason(&c).as_str(), reason(&s).as_str()),
                (client_reason, server_reason),
                "{bad}"
            );
        }
        // The good edge certificate passes for its own name, and the evaluation time applies.
        let client = connector(&trust, None, Versions::Tls13);
        let (c, _) = pair(tls_acceptor(&pki.edge, Versions::Any), &client, "edge.example.test").await;
        c.unwrap();
        let later = crate::trust::parse_at("2200-01-01").unwrap();
        let client = connector(&trust.clone().at(Some(later)), None, Versions::Tls13);
        let (c, _) = pair(tls_acceptor(&pki.server, Versions::Any), &client, SERVER_NAME).await;
        assert_eq!(reason(&c), "certificate:expired");
        // Without revocation checking (no CRLs) the revoked certificate passes, as with rustls.
        let off = Trust::for_pki_with(&pki, crate::trust::RevocationMode::Off).unwrap();
        let client = connector(&off, None, Versions::Tls13);
        let (c, _) = pair(
            tls_acceptor(pki.bad(BadCert::Revoked), Versions::Any),
            &client,
            "edge.example.test",
        )
        .await;
        c.unwrap();
        // Plain CA trust (no CRLs, no domains) accepts the partner's certificate for an enterprise name.
        let plain = Trust::from_cas(&[pki.enterprise_ca.clone(), pki.partner_ca.clone()]).unwrap();
        let client = connector(&plain, None, Versions::Tls13);
        let server = tls_acceptor(pki.bad(BadCert::PartnerClaimsEnterprise), Versions::Any);
        let (c, _) = pair(server, &client, "edge.example.test").await;
        c.unwrap();
        // A CA without CRLs next to one with: its chains are not checked for revocation, the other's are.
        let file = crate::trust::TopologyFile::parse(crate::pki::DEFAULT_TOPOLOGY).unwrap();
        let mixed = Trust::new(
            &file,
            vec![
                crate::trust::TrustedCa::new(
                    "enterprise",
                    vec![pki.enterprise_ca.clone()],
                    vec![pki.enterprise_crl.clone()],
                    vec!["example.test".into()],
                ),
                crate::trust::TrustedCa::new(
                    "partner",
                    vec![pki.partner_ca.clone()],
                    Vec::new(),
                    vec!["partner.example.test".into()],
                ),
            ],
        )
        .unwrap();
        let client = connector(&mixed, None, Versions::Tls13);
        let (c, _) = pair(
            tls_acceptor(&pki.partner, Versions::Any),
            &client,
            "sip.partner.example.test",
        )
        .await;
        c.unwrap();
        let (c, _) = pair(
            tls_acceptor(pki.bad(BadCert::Revoked), Versions::Any),
            &client,
            "edge.example.test",
        )
        .await;
        assert_eq!(reason(&c), "certificate:revoked");
        // An IP address is matched against IP names only.
        let client = connector(&trust, None, Versions::Tls13);
        let (c, _) = pair(tls_acceptor(&pki.server, Versions::Any), &client, "127.0.0.1").await;
        c.unwrap();
        let (c, _) = pair(tls_acceptor(&pki.server, Versions::Any), &client, "127.0.0.2").await;
        assert_eq!(reason(&c), "certificate:not-valid-for-name");
    }

    #[tokio::test]
    async fn sessions_resume_with_tickets_and_session_ids() {
        let (pki, trust) = setup();
        let stateless = ServerResumption {
            stateless: true,
            ..ServerResumption::default()
        };
        for versions in [Versions::Tls13, Versions::Tls12] {
            for resumption in [stateless, ServerResumption::default()] {
                for mtls in [false, true] {
                    let server =
                        OsslAcceptor::new(&pki.server, mtls.then_some(&trust), Versions::Any, resumption, None)
                            .unwrap();
                    let mode = if versions == Versions::Tls13 {
                        Resumption::Tls13Tickets
                    } else {
                        Resumption::Tls12Tickets
                    };
                    let client =
                        OsslConnector::new(&trust, mtls.then_some(&pki.edge), versions, mode, None, None).unwrap();
                    let what = format!("{versions:?}, stateless: {}", resumption.stateless);
                    let (c, s) = pair(server.clone(), &client, SERVER_NAME).await;
                    assert_eq!(c.unwrap().handshake, HandshakeKind::Full, "{what}");
                    assert_eq!(s.unwrap().handshake, HandshakeKind::Full, "{what}");
                    let (c, s) = pair(server.clone(), &client, SERVER_NAME).await;
                    let (c, s) = (c.unwrap(), s.unwrap());
                    assert_eq!(
                        (c.handshake.as_str(), s.handshake.as_str()),
                        ("resumed", "resumed"),
                        "{what}"
                    );
                    assert_eq!(c.peer_key, "ECDSA P-256", "{what}");
                    // Tickets when the server issues them, else its cache by session id.
                    let by = match (versions, resumption.stateless) {
                        (Versions::Tls13, _) => ResumedBy::Tls13Psk,
                        (_, true) => ResumedBy::Ticket,
                        (_, false) => ResumedBy::SessionId,
                    };
                    assert_eq!(c.resumed_by, by, "{what}");
                }
            }
        }
        // Without `resume` nothing is offered.
        let server = OsslAcceptor::new(&pki.server, None, Versions::Any, stateless, None).unwrap();
        let client = connector(&trust, None, Versions::Tls13);
        for _ in 0..2 {
            let (c, _) = pair(server.clone(), &client, SERVER_NAME).await;
            assert_eq!(c.unwrap().handshake, HandshakeKind::Full);
        }
    }

    #[tokio::test]
    async fn openssl_client_interoperates_with_a_rustls_server() {
        let (pki, trust) = setup();
        let provider = Backend::AwsLcRs.rustls_provider().expect("a rustls backend");
        let verifier: Arc<dyn rustls::server::danger::ClientCertVerifier> = trust.verifier(&provider).unwrap();
        let config = crate::tls::server_config(
            Backend::AwsLcRs,
            &provider,
            &pki.server,
            Some(verifier),
            Versions::Any,
            ServerResumption::default(),
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        for versions in [Versions::Tls13, Versions::Tls12] {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let acceptor = acceptor.clone();
            let server = tokio::spawn(async move {
                let (tcp, _) = listener.accept().await.unwrap();
                let mut tls = acceptor.accept(tcp).await.map_err(|e| crate::tls::classify_io(&e))?;
                let n = crate::tls::negotiated(tls.get_ref().1, &mut PeerKeyCache::default());
                echo_server(&mut tls).await.map_err(|e| crate::tls::classify_io(&e))?;
                Ok::<_, FailureKind>(n)
            });
            let client = connector(&trust, Some(&pki.edge), versions);
            let c = dial(&client, addr, SERVER_NAME).await.unwrap();
            let s = server.await.unwrap().unwrap();
            assert_eq!(s.peer_key, "ECDSA P-256");
            assert_eq!(c.peer_key, "ECDSA P-256");
            assert_eq!(
                (c.protocol.as_str(), c.cipher_suite.as_str(), c.kx_group.as_str()),
                (s.protocol.as_str(), s.cipher_suite.as_str(), s.kx_group.as_str()),
                "{versions:?}"
            );
        }
        // rustls refuses a revoked OpenSSL client.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            acceptor
                .accept(tcp)
                .await
                .map(|_| ())
                .map_err(|e| crate::tls::classify_io(&e))
        });
        let client = connector(&trust, Some(pki.bad(BadCert::Revoked)), Versions::Tls13);
        let c = dial(&client, addr, SERVER_NAME).await;
        assert_eq!(reason(&c), "tls-alert-received:certificate-revoked");
        assert_eq!(server.await.unwrap(), Err(FailureKind::Certificate("revoked".into())));
    }

    #[tokio::test]
    async fn rustls_client_interoperates_with_an_openssl_server() {
        let (pki, trust) = setup();
        let provider = Backend::AwsLcRs.rustls_provider().expect("a rustls backend");
        for versions in [Versions::Tls13, Versions::Tls12] {
            let config = crate::tls::client_config(
                &provider,
                trust.verifier(&provider).unwrap(),
                Some(&pki.edge),
                versions,
                crate::tls::Resumption::Off,
                1,
                None,
            )
            .unwrap();
            let (addr, server) = serve_once(mtls_acceptor(&pki, &trust)).await;
            let tcp = TcpStream::connect(addr).await.unwrap();
            let name = rustls_pki_types::ServerName::try_from(SERVER_NAME).unwrap();
            let mut tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .unwrap();
            let c = crate::tls::negotiated(tls.get_ref().1, &mut PeerKeyCache::default());
            echo_client(&mut tls).await.unwrap();
            let s = server.await.unwrap().unwrap();
            assert_eq!(s.peer_key, "ECDSA P-256");
            assert_eq!(
                (c.protocol.as_str(), c.cipher_suite.as_str(), c.kx_group.as_str()),
                (s.protocol.as_str(), s.cipher_suite.as_str(), s.kx_group.as_str()),
                "{versions:?}"
            );
        }
        // The OpenSSL server refuses a revoked rustls client; rustls sees the alert.
        let config = crate::tls::client_config(
            &provider,
            trust.verifier(&provider).unwrap(),
            Some(pki.bad(BadCert::Revoked)),
            Versions::Tls12,
            crate::tls::Resumption::Off,
            1,
            None,
        )
        .unwrap();
        let (addr, server) = serve_once(mtls_acceptor(&pki, &trust)).await;
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from(SERVER_NAME).unwrap();
        let c = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await;
        assert_eq!(
            crate::tls::classify_io(&c.map(|_| ()).unwrap_err()).to_string(),
            "tls-alert-received:certificate-revoked"
        );
        assert_eq!(reason(&server.await.unwrap()), "certificate:revoked");
    }

    #[tokio::test]
    async fn peer_chain_is_leaf_first_on_both_sides() {
        let (pki, trust) = setup();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = mtls_acceptor(&pki, &trust);
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = acceptor.accept(tcp).await.unwrap();
            let chain = peer_chain(tls.ssl());
            echo_server(&mut tls).await.unwrap();
            chain
        });
        let client = connector(&trust, Some(&pki.edge), Versions::Tls13);
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut tls = client.connect(SERVER_NAME, tcp).await.unwrap();
        let chain = peer_chain(tls.ssl());
        echo_client(&mut tls).await.unwrap();
        assert_eq!(chain, pki.server.chain);
        let server_chain = server.await.unwrap();
        assert_eq!(server_chain, pki.edge.chain);
        // The edge is a trusted server of the topology.
        let mut verified = server_chain.clone();
        verified.push(pki.enterprise_ca.clone());
        assert!(trust.authorize(&verified).unwrap().is_some());
    }

    #[test]
    fn names_map_to_the_rustls_vocabulary() {
        assert_eq!(
            rustls_suite_name("TLS_AES_256_GCM_SHA384", true),
            "TLS13_AES_256_GCM_SHA384"
        );
        assert_eq!(
            rustls_suite_name("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", false),
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
        );
        assert_eq!(alert_name(42), "bad-certificate");
        assert_eq!(alert_name(48), "unknown-ca");
        assert_eq!(alert_name(116), "certificate-required");
        assert_eq!(group_name(Nid::X9_62_PRIME256V1.as_raw()), "secp256r1");
        assert_eq!(group_name(0), "unknown");
        assert!(
            matches!(suite_pin("tls13_aes_128_gcm_sha256"), Ok(SuitePin::Tls13(n)) if n == "TLS_AES_128_GCM_SHA256")
        );
        assert!(
            matches!(suite_pin("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), Ok(SuitePin::Tls12(n)) if n == "ECDHE-RSA-AES128-GCM-SHA256")
        );
        assert_eq!(openssl_group("secp384r1").unwrap(), "P-384");
    }
}
