//! The rustls certificate verifier of the trust model, for both roles.
//!
//! It drives webpki directly rather than through rustls's `WebPki*Verifier`s, because the trust
//! model needs the verified path itself: which root (and which issuing CAs) actually verified
//! the chain. On each candidate path webpki proposes, [`Trust`] checks the root's validity and
//! the revocation of every certificate against the CRL of the CA certificate (by subject and
//! key) that issued it; a candidate that fails lets webpki try the next one, so two roots with
//! one subject name each verify their own certificates. On the path that verified, the server
//! name is matched and [`Trust::authorize`] applies names, CA scope and topology.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertRevocationListError, CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, SignatureScheme,
};
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};

use super::{Refusal, ServerEntry, Trust, der_contents};

/// The certificate verifier of the trust model, for servers (checking clients) and clients
/// (checking servers). See the [module docs](super) for the checks.
pub struct TrustVerifier {
    trust: Trust,
    /// The roots as webpki trust anchors, and their index in the trust's CA certificates.
    anchors: Vec<TrustAnchor<'static>>,
    anchor_index: Vec<usize>,
    /// The issuing CAs of the trust, offered to path building beside what the peer sends.
    intermediates: Vec<CertificateDer<'static>>,
    hints: Vec<DistinguishedName>,
    algorithms: WebPkiSupportedAlgorithms,
    /// Peers refused for the topology, for rate-limited logging.
    refused: AtomicU64,
}

impl fmt::Debug for TrustVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustVerifier").field("trust", &self.trust).finish()
    }
}

impl TrustVerifier {
    pub(super) fn new(trust: &Trust, provider: &Arc<CryptoProvider>) -> TrustVerifier {
        let mut anchors = Vec::new();
        let mut anchor_index = Vec::new();
        let mut intermediates = Vec::new();
        let mut hints = Vec::new();
        for (i, c) in trust.index.iter().enumerate() {
            hints.push(DistinguishedName::in_sequence(&c.subject));
            if c.root {
                anchors.push(c.anchor.clone());
                anchor_index.push(i);
            } else {
                intermediates.push(c.der.clone());
            }
        }
        TrustVerifier {
            trust: trust.clone(),
            anchors,
            anchor_index,
            intermediates,
            hints,
            algorithms: provider.signature_verification_algorithms,
            refused: AtomicU64::new(0),
        }
    }

    /// The trust this verifier enforces.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    /// Verifies a server's chain for `server_name` at `now` (or the trust's evaluation time):
    /// the whole trust model, with the topology when the trust has one. `Ok(Some(entry))` names
    /// the trusted server.
    pub fn verify_server(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<Option<&ServerEntry>, rustls::Error> {
        self.verify(
            end_entity,
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            Some(server_name),
        )
    }

    fn verify(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
        usage: webpki::KeyUsage,
        server_name: Option<&ServerName<'_>>,
    ) -> Result<Option<&ServerEntry>, rustls::Error> {
        let trust = &self.trust;
        let time = trust.at.unwrap_or(now);
        let cert = webpki::EndEntityCert::try_from(end_entity).map_err(pki_error)?;
        let mut offered: Vec<CertificateDer<'_>> = intermediates.iter().map(|c| c.as_ref().into()).collect();
        offered.extend(self.intermediates.iter().map(|c| CertificateDer::from(c.as_ref())));
        let found = std::cell::RefCell::new(Vec::new());
        let check = |path: &webpki::VerifiedPath<'_>| -> Result<(), webpki::Error> {
            let cas = self.path(path);
            if let Some(Some(anchor)) = cas.last() {
                trust.check_validity(*anchor, time)?;
            }
            // Each certificate against the CRL of the certificate above it, unless the chain is
            // anchored in an entry without CRLs (the system's roots: their issuing CAs, sent by
            // the peer, are unknown to the trust and have no CRL here).
            let checked = match cas.last() {
                Some(Some(anchor)) => trust.index[*anchor].revocation_checked,
                _ => true,
            };
            let serials =
                std::iter::once(path.end_entity().serial()).chain(path.intermediate_certificates().map(|c| c.serial()));
            for (k, serial) in serials.enumerate().filter(|_| checked) {
                trust.check_revocation(serial, cas[k], time)?;
            }
            *found.borrow_mut() = cas;
            Ok(())
        };
        cert.verify_for_usage(
            self.algorithms.all,
            &self.anchors,
            &offered,
            time,
            usage,
            None,
            Some(&check),
        )
        .map_err(pki_error)?;
        if let Some(name) = server_name {
            cert.verify_is_valid_for_subject_name(name).map_err(pki_error)?;
        }
        let path: Vec<usize> = found.into_inner().into_iter().flatten().collect();
        trust.authorize_path(end_entity, &path).map_err(|refusal| {
            if let Refusal::NotInTopology { .. } = refusal {
                let n = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    tracing::info!("refused a server-to-server peer: {refusal} ({n} so far)");
                }
            }
            refusal.into_rustls()
        })
    }

    /// The CA certificates of a candidate path, issuer of the leaf first, anchor last: indices
    /// into the trust's CA certificates (`None` for an intermediate the trust does not know).
    fn path(&self, path: &webpki::VerifiedPath<'_>) -> Vec<Option<usize>> {
        let mut out: Vec<Option<usize>> = path
            .intermediate_certificates()
            .map(|c| {
                let spki = c.subject_public_key_info();
                der_contents(spki.as_ref()).and_then(|spki| self.trust.find(c.subject(), spki))
            })
            .collect();
        let anchor = path.anchor();
        let i = self
            .anchors
            .iter()
            .position(|a| {
                a.subject.as_ref() == anchor.subject.as_ref()
                    && a.subject_public_key_info.as_ref() == anchor.subject_public_key_info.as_ref()
            })
            .map(|k| self.anchor_index[k]);
        out.push(i);
        out
    }
}

/// A webpki error as rustls reports it (as rustls's own verifiers map them).
fn pki_error(error: webpki::Error) -> rustls::Error {
    use webpki::Error::*;
    let e: rustls::Error = match error {
        BadDer | BadDerTime | TrailingData(_) => CertificateError::BadEncoding.into(),
        CertNotValidYet { time, not_before } => CertificateError::NotValidYetContext { time, not_before }.into(),
        CertExpired { time, not_after } => CertificateError::ExpiredContext { time, not_after }.into(),
        InvalidCertValidity => CertificateError::Expired.into(),
        UnknownIssuer => CertificateError::UnknownIssuer.into(),
        CertNotValidForName(ctx) => CertificateError::NotValidForNameContext {
            expected: ctx.expected,
            presented: ctx.presented,
        }
        .into(),
        CertRevoked => CertificateError::Revoked.into(),
        UnknownRevocationStatus => CertificateError::UnknownRevocationStatus.into(),
        CrlExpired { time, next_update } => CertificateError::ExpiredRevocationListContext { time, next_update }.into(),
        IssuerNotCrlSigner => CertRevocationListError::IssuerInvalidForCrl.into(),
        InvalidSignatureForPublicKey => CertificateError::BadSignature.into(),
        #[allow(deprecated)]
        UnsupportedSignatureAlgorithm | UnsupportedSignatureAlgorithmForPublicKey =>
        {
            #[allow(deprecated)]
            CertificateError::UnsupportedSignatureAlgorithm.into()
        }
        UnsupportedSignatureAlgorithmContext(cx) => CertificateError::UnsupportedSignatureAlgorithmContext {
            signature_algorithm_id: cx.signature_algorithm_id,
            supported_algorithms: cx.supported_algorithms,
        }
        .into(),
        UnsupportedSignatureAlgorithmForPublicKeyContext(cx) => {
            CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext {
                signature_algorithm_id: cx.signature_algorithm_id,
                public_key_algorithm_id: cx.public_key_algorithm_id,
            }
            .into()
        }
        #[allow(deprecated)]
        RequiredEkuNotFound => CertificateError::InvalidPurpose.into(),
        RequiredEkuNotFoundContext(_) => CertificateError::InvalidPurpose.into(),
        other => CertificateError::Other(OtherError(Arc::new(other))).into(),
    };
    e
}

impl ServerCertVerifier for TrustVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verify_server(end_entity, intermediates, server_name, now)
            .map(|_| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl ClientCertVerifier for TrustVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.verify(end_entity, intermediates, now, webpki::KeyUsage::client_auth(), None)
            .map(|_| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
