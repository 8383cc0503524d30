//! TLS configuration for both roles, and what a handshake tells us.
//!
//! The crypto provider is a value chosen once and passed to every config builder
//! (`builder_with_provider`); sipbench never installs or relies on a process-wide default
//! provider.

use std::io;
use std::sync::Arc;

use anyhow::{Context, Result};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, CommonState, HandshakeKind, RootCertStore, ServerConfig, SupportedProtocolVersion};
use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Serialize};

use crate::pki::{self, Identity};
use crate::stats::{FailureKind, Negotiated, kebab, variant_kebab};

/// The crypto backends this binary has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// rustls with the aws-lc-rs provider.
    #[default]
    AwsLcRs,
}

impl Backend {
    /// The provider for this backend.
    pub fn provider(self) -> Arc<CryptoProvider> {
        match self {
            Backend::AwsLcRs => Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        }
    }

    /// Stable name, as used on the command line and in results.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::AwsLcRs => "aws-lc-rs",
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

/// Client configuration: trust anchors, optional client identity (MTLS), versions, resumption.
pub fn client_config(
    provider: &Arc<CryptoProvider>,
    roots: RootCertStore,
    identity: Option<&Identity>,
    versions: Versions,
    resumption: bool,
) -> Result<Arc<ClientConfig>> {
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .context("building the server certificate verifier")?;
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions.list())
        .context("the crypto provider does not support the requested TLS versions")?
        .with_webpki_verifier(verifier);
    let mut config = match identity {
        Some(id) => builder
            .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
            .context("client certificate and key do not match or are unsupported")?,
        None => builder.with_no_client_auth(),
    };
    if !resumption {
        config.resumption = rustls::client::Resumption::disabled();
    }
    Ok(Arc::new(config))
}

/// Server configuration. With `client_roots`, a client certificate chaining to them is required (MTLS).
pub fn server_config(
    provider: &Arc<CryptoProvider>,
    identity: &Identity,
    client_roots: Option<RootCertStore>,
    versions: Versions,
) -> Result<Arc<ServerConfig>> {
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions.list())
        .context("the crypto provider does not support the requested TLS versions")?;
    let builder = match client_roots {
        Some(roots) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .context("building the client certificate verifier")?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())
        .context("server certificate and key do not match or are unsupported")?;
    Ok(Arc::new(config))
}

/// Classifies an I/O error from a TLS stream (or a plain socket) into a failure kind.
pub fn classify_io(err: &io::Error) -> FailureKind {
    if let Some(tls) = err.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
        return classify_tls(tls);
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
        rustls::Error::InvalidCertificate(cert) => FailureKind::Certificate(variant_kebab(&format!("{cert:?}"))),
        other => FailureKind::Tls(variant_kebab(&format!("{other:?}"))),
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
