//! What a certificate is, for reports and audits: [`summarize`], [`cert_key_description`], and
//! the [`KeyType`] of a public key.

use std::net::IpAddr;

use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521, OID_PKCS1_RSAENCRYPTION,
    OID_PKCS1_RSASSAPSS, OID_SIG_ED448, OID_SIG_ED25519,
};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::{KeyType, PkiError};

/// Describes a certificate's public key for reports: `ECDSA P-256`,
/// `ECDSA P-384`, `ECDSA P-521`, `RSA 2048`, `RSA 3072` (any RSA size),
/// `RSA-PSS <bits>`, `Ed25519`, `Ed448`, or `unknown (<oid>)` (for an EC key
/// on another curve the curve OID). An unparseable certificate gives
/// `unknown (unparseable certificate)`.
pub fn cert_key_description(cert: &CertificateDer<'_>) -> String {
    match X509Certificate::from_der(cert.as_ref()) {
        Ok((_, x509)) => describe_spki(x509.public_key()).1,
        Err(_) => "unknown (unparseable certificate)".to_owned(),
    }
}

/// What reports and audits need to know about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    /// Subject name, RFC 4514 style (`CN=..., O=...`).
    pub subject: String,
    /// Issuer name, RFC 4514 style.
    pub issuer: String,
    /// subjectAltName DNS entries.
    pub dns_names: Vec<String>,
    /// subjectAltName IP address entries.
    pub ip_addresses: Vec<IpAddr>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// Public key, as given by [`cert_key_description`].
    pub key: String,
}

/// Summarizes a certificate (subject, issuer, SANs, validity, key).
pub fn summarize(cert: &CertificateDer<'_>) -> Result<CertSummary, PkiError> {
    let x509 = parse_cert(cert, "certificate")?;
    let mut dns_names = Vec::new();
    let mut ip_addresses = Vec::new();
    let san = x509.subject_alternative_name().map_err(|e| PkiError::Parse {
        what: "certificate".to_owned(),
        reason: format!("subjectAltName: {e}"),
    })?;
    if let Some(san) = san {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(dns) => dns_names.push((*dns).to_owned()),
                GeneralName::IPAddress(bytes) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                        ip_addresses.push(IpAddr::from(v4));
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                        ip_addresses.push(IpAddr::from(v6));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(CertSummary {
        subject: x509.subject().to_string(),
        issuer: x509.issuer().to_string(),
        dns_names,
        ip_addresses,
        not_before: x509.validity().not_before.to_datetime(),
        not_after: x509.validity().not_after.to_datetime(),
        key: describe_spki(x509.public_key()).1,
    })
}

pub(super) fn parse_cert<'a>(cert: &'a CertificateDer<'_>, what: &str) -> Result<X509Certificate<'a>, PkiError> {
    X509Certificate::from_der(cert.as_ref())
        .map(|(_, x509)| x509)
        .map_err(|e| PkiError::Parse {
            what: what.to_owned(),
            reason: e.to_string(),
        })
}

/// Returns the supported key type (if any) and the report description.
pub(super) fn describe_spki(spki: &SubjectPublicKeyInfo<'_>) -> (Option<KeyType>, String) {
    let alg = &spki.algorithm.algorithm;
    if *alg == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok());
        return match curve {
            Some(c) if c == OID_EC_P256 => (Some(KeyType::EcdsaP256), "ECDSA P-256".to_owned()),
            Some(c) if c == OID_NIST_EC_P384 => (Some(KeyType::EcdsaP384), "ECDSA P-384".to_owned()),
            Some(c) if c == OID_NIST_EC_P521 => (None, "ECDSA P-521".to_owned()),
            Some(c) => (None, format!("unknown ({c})")),
            None => (None, format!("unknown ({alg})")),
        };
    }
    if *alg == OID_PKCS1_RSAENCRYPTION || *alg == OID_PKCS1_RSASSAPSS {
        let modulus = match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => Some(rsa.modulus),
            // x509-parser only parses rsaEncryption keys; RSASSA-PSS keys have the same body.
            _ => x509_parser::public_key::RSAPublicKey::from_der(&spki.subject_public_key.data)
                .ok()
                .map(|(_, rsa)| rsa.modulus),
        };
        let Some(bits) = modulus.map(modulus_bits) else {
            return (None, format!("unknown ({alg})"));
        };
        if *alg == OID_PKCS1_RSASSAPSS {
            return (None, format!("RSA-PSS {bits}"));
        }
        let key_type = match bits {
            2048 => Some(KeyType::Rsa2048),
            3072 => Some(KeyType::Rsa3072),
            _ => None,
        };
        return (key_type, format!("RSA {bits}"));
    }
    if *alg == OID_SIG_ED25519 {
        return (Some(KeyType::Ed25519), "Ed25519".to_owned());
    }
    if *alg == OID_SIG_ED448 {
        return (None, "Ed448".to_owned());
    }
    (None, format!("unknown ({alg})"))
}

fn modulus_bits(modulus: &[u8]) -> usize {
    let trimmed = match modulus.iter().position(|b| *b != 0) {
        Some(i) => &modulus[i..],
        None => return 0,
    };
    trimmed.len() * 8 - trimmed[0].leading_zeros() as usize
}

pub(super) fn subject_or_placeholder(cert: &CertificateDer<'_>) -> String {
    match X509Certificate::from_der(cert.as_ref()) {
        Ok((_, x509)) => x509.subject().to_string(),
        Err(_) => "<unparseable>".to_owned(),
    }
}

pub(super) fn key_format_name(key: &PrivateKeyDer<'_>) -> &'static str {
    match key {
        PrivateKeyDer::Pkcs1(_) => "PKCS#1 RSA key",
        PrivateKeyDer::Sec1(_) => "SEC1 EC key",
        PrivateKeyDer::Pkcs8(_) => "PKCS#8 key",
        _ => "private key",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulus_bit_counting() {
        assert_eq!(modulus_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(modulus_bits(&[0x01, 0xff]), 9);
        assert_eq!(modulus_bits(&[0x00, 0x00]), 0);
        assert_eq!(modulus_bits(&[]), 0);
    }
}
