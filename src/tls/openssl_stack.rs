//! The OpenSSL stack behind the [`Stack`] interface: dialers and acceptors over
//! [`OsslConnector`] and [`OsslAcceptor`] (see [`super::ossl`] for how OpenSSL is configured
//! and how its verdicts are read), and what it cannot do.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use anyhow::Result;
use rustls_pki_types::PrivateKeyDer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use super::ossl::{self, OsslAcceptor, OsslConnector};
use super::{
    Accepted, Acceptor, Backend, BackendInfo, BoxFuture, ClientSettings, Dialer, Established, Incapable, Limits,
    PeerKeyCache, Resumption, ServerResumption, SessionIo, Stack, Stream, Versions,
};
use crate::failure::FailureKind;
use crate::pki::{Identity, KeyType};
use crate::trust::Trust;

/// The system OpenSSL as a TLS stack.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpensslStack;

impl Stack for OpensslStack {
    fn backend(&self) -> Backend {
        Backend::OpenSsl
    }

    fn check(
        &self,
        settings: &ClientSettings,
        _key_type: Option<KeyType>,
        _signing_key: Option<&PrivateKeyDer<'_>>,
    ) -> Result<(), Incapable> {
        if settings.resumption == Resumption::Tls13EarlyData {
            return Err(Incapable {
                field: "resumption",
                problem: "tls13-0rtt is not supported by the openssl backend".into(),
            });
        }
        if settings.record_size.is_some_and(|size| size != 16 * 1024) {
            return Err(Incapable {
                field: "record_size",
                problem: "the openssl backend keeps OpenSSL's 16384-byte records; it cannot pin another size".into(),
            });
        }
        if let Some(suite) = &settings.cipher_suite {
            ossl::check_suite(suite).map_err(|e| Incapable {
                field: "cipher_suite",
                problem: e.to_string(),
            })?;
        }
        if let Some(group) = &settings.kx_group {
            ossl::check_group(group).map_err(|e| Incapable {
                field: "kx_group",
                problem: e.to_string(),
            })?;
        }
        // OpenSSL signs with and verifies every key type of the PKI.
        Ok(())
    }

    fn dialer(
        &self,
        trust: &Trust,
        identity: Option<&Identity>,
        server_name: &str,
        settings: &ClientSettings,
    ) -> Result<Arc<dyn Dialer>> {
        let connector = OsslConnector::new(
            trust,
            identity,
            settings.versions,
            settings.resumption,
            settings.cipher_suite.as_deref(),
            settings.kx_group.as_deref(),
        )?;
        Ok(dialer(connector, server_name))
    }

    fn acceptor(
        &self,
        identity: &Identity,
        client_trust: Option<&Trust>,
        versions: Versions,
        resumption: ServerResumption,
    ) -> Result<Arc<dyn Acceptor>> {
        let acceptor = OsslAcceptor::new(identity, client_trust, versions, resumption, None)?;
        Ok(Arc::new(OsslAccepting(acceptor)))
    }

    fn describe(&self, _keys: &[(KeyType, PrivateKeyDer<'static>)]) -> BackendInfo {
        BackendInfo {
            name: Backend::OpenSsl.as_str().into(),
            library: Backend::OpenSsl.library(),
            fips: false,
            cipher_suites: ossl::TLS13_SUITES
                .iter()
                .map(|s| s.replacen("TLS_", "TLS13_", 1))
                .chain(ossl::TLS12_SUITES.iter().map(|s| (*s).to_owned()))
                .collect(),
            kx_groups: ossl::DEFAULT_GROUPS.iter().map(|g| (*g).to_owned()).collect(),
            kx_groups_on_request: ossl::GROUPS
                .iter()
                .map(|(name, _, _)| (*name).to_owned())
                .filter(|g| !ossl::DEFAULT_GROUPS.contains(&g.as_str()))
                .collect(),
            key_types: KeyType::ALL.iter().map(|k| k.as_str().to_owned()).collect(),
            key_types_not_supported: Vec::new(),
        }
    }
}

/// A dialer over an OpenSSL connector built elsewhere (the audit builds its own), verifying
/// servers for `server_name`.
pub fn dialer(connector: OsslConnector, server_name: &str) -> Arc<dyn Dialer> {
    Arc::new(OsslDialer {
        connector,
        name: server_name.to_owned(),
    })
}

/// Opens TLS sessions with one OpenSSL client context (and so one session cache).
struct OsslDialer {
    connector: OsslConnector,
    name: String,
}

impl Dialer for OsslDialer {
    fn dial<'a>(
        &'a self,
        addr: SocketAddr,
        limits: Limits,
        _keys: &'a mut PeerKeyCache,
    ) -> BoxFuture<'a, Result<(Stream, Established), FailureKind>> {
        Box::pin(async move {
            let (tcp, connect) = super::tcp::connect(addr, limits.local, limits.connect).await?;
            let t1 = Instant::now();
            let stream = match tokio::time::timeout(limits.handshake, self.connector.connect(&self.name, tcp)).await {
                Err(_) => return Err(FailureKind::HandshakeTimeout),
                Ok(r) => r?,
            };
            let handshake = t1.elapsed();
            let est = Established::handshaken(ossl::negotiated(stream.ssl()), connect, handshake);
            Ok((Box::new(OsslStream(Box::pin(stream))) as Stream, est))
        })
    }
}

/// Runs OpenSSL server handshakes with one server context.
struct OsslAccepting(OsslAcceptor);

impl Acceptor for OsslAccepting {
    fn accept(&self, tcp: TcpStream) -> BoxFuture<'_, Result<Accepted, FailureKind>> {
        Box::pin(async move {
            let tls = self.0.accept(tcp).await?;
            let ssl = tls.ssl();
            Ok(Accepted {
                secure: true,
                resumed: ssl.session_reused(),
                hello_retry: false,
                peer_identified: ssl.peer_certificate().is_some(),
                early_data: None,
                stream: Box::new(OsslStream(Box::pin(tls))),
            })
        })
    }
}

/// An OpenSSL session's stream (pinned: `tokio-openssl` streams are driven through `Pin`).
struct OsslStream(Pin<Box<SslStream<TcpStream>>>);

impl AsyncRead for OsslStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.get_mut().0.as_mut().poll_read(cx, buf)
    }
}

impl AsyncWrite for OsslStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().0.as_mut().poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().0.as_mut().poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().0.as_mut().poll_shutdown(cx)
    }
}

impl SessionIo for OsslStream {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().local_addr()
    }

    fn secure(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_openssl_cannot_do_before_any_connection() {
        let s = OpensslStack;
        let early = ClientSettings {
            resumption: Resumption::Tls13EarlyData,
            ..Default::default()
        };
        assert_eq!(s.check(&early, None, None).unwrap_err().field, "resumption");
        let records = ClientSettings {
            record_size: Some(1024),
            ..Default::default()
        };
        assert_eq!(s.check(&records, None, None).unwrap_err().field, "record_size");
        let full_records = ClientSettings {
            record_size: Some(16 * 1024),
            ..Default::default()
        };
        assert!(s.check(&full_records, None, None).is_ok());
        let pq = ClientSettings {
            kx_group: Some("X25519MLKEM768".into()),
            ..Default::default()
        };
        let e = s.check(&pq, None, None).unwrap_err();
        assert_eq!(e.field, "kx_group");
        assert!(e.problem.contains("X25519MLKEM768"), "{e}");
        let suite = ClientSettings {
            cipher_suite: Some("TLS13_NOT_A_SUITE".into()),
            ..Default::default()
        };
        assert_eq!(s.check(&suite, None, None).unwrap_err().field, "cipher_suite");
    }
}
