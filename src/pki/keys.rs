//! Key types: [`KeyType`], the one algorithm of every key of a PKI, and key generation.

use std::fmt;
use std::str::FromStr;

use rcgen::{KeyPair, RsaKeySize, SignatureAlgorithm};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::PkiError;
use super::describe::describe_spki;

/// Key algorithm of every key (CAs and leaves) of a generated PKI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyType {
    /// ECDSA on NIST P-256, signatures with SHA-256.
    #[default]
    #[value(name = "ecdsa-p256")]
    EcdsaP256,
    /// ECDSA on NIST P-384, signatures with SHA-384.
    #[value(name = "ecdsa-p384")]
    EcdsaP384,
    /// RSA 2048-bit, certificates signed with PKCS#1 v1.5 SHA-256.
    #[value(name = "rsa2048")]
    Rsa2048,
    /// RSA 3072-bit, certificates signed with PKCS#1 v1.5 SHA-256.
    #[value(name = "rsa3072")]
    Rsa3072,
    /// Ed25519.
    #[value(name = "ed25519")]
    Ed25519,
}

impl KeyType {
    /// Every key type, in CLI order.
    pub const ALL: [KeyType; 5] = [
        KeyType::EcdsaP256,
        KeyType::EcdsaP384,
        KeyType::Rsa2048,
        KeyType::Rsa3072,
        KeyType::Ed25519,
    ];

    /// The CLI/config name: `ecdsa-p256`, `ecdsa-p384`, `rsa2048`, `rsa3072` or `ed25519`.
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::EcdsaP384 => "ecdsa-p384",
            KeyType::Rsa2048 => "rsa2048",
            KeyType::Rsa3072 => "rsa3072",
            KeyType::Ed25519 => "ed25519",
        }
    }

    /// Human description, as in reports and [`cert_key_description`](super::cert_key_description):
    /// `ECDSA P-256`, `ECDSA P-384`, `RSA 2048`, `RSA 3072` or `Ed25519`.
    pub fn describe(&self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => "ECDSA P-256",
            KeyType::EcdsaP384 => "ECDSA P-384",
            KeyType::Rsa2048 => "RSA 2048",
            KeyType::Rsa3072 => "RSA 3072",
            KeyType::Ed25519 => "Ed25519",
        }
    }

    /// The key type of a certificate's public key, or `None` when it is none
    /// of the supported types (or the certificate cannot be parsed).
    pub fn of_certificate(cert: &CertificateDer<'_>) -> Option<KeyType> {
        let (_, x509) = X509Certificate::from_der(cert.as_ref()).ok()?;
        describe_spki(x509.public_key()).0
    }

    pub(super) fn signature_algorithm(&self) -> &'static SignatureAlgorithm {
        match self {
            KeyType::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyType::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            KeyType::Rsa2048 | KeyType::Rsa3072 => &rcgen::PKCS_RSA_SHA256,
            KeyType::Ed25519 => &rcgen::PKCS_ED25519,
        }
    }

    /// A fresh private key of this type (PKCS#8), e.g. to check what a crypto backend can sign
    /// with.
    pub fn sample_key(&self) -> Result<PrivateKeyDer<'static>, PkiError> {
        Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            self.generate_key()?.serialize_der(),
        )))
    }

    pub(crate) fn generate_key(&self) -> Result<KeyPair, rcgen::Error> {
        match self {
            KeyType::Rsa2048 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048),
            KeyType::Rsa3072 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_3072),
            other => KeyPair::generate_for(other.signature_algorithm()),
        }
    }

    pub(crate) fn is_rsa(&self) -> bool {
        matches!(self, KeyType::Rsa2048 | KeyType::Rsa3072)
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyType {
    type Err = PkiError;

    /// Parses a CLI/config name (case-insensitive); the error lists the valid names.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyType::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| PkiError::UnknownKeyType(s.to_owned()))
    }
}

/// Generates `N` keys, in parallel threads where possible.
pub(super) fn generate_keys<const N: usize>(key_type: KeyType) -> Result<[KeyPair; N], PkiError> {
    let results: Vec<Result<KeyPair, PkiError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..N)
            .map(|_| {
                std::thread::Builder::new()
                    .name("pki-keygen".to_owned())
                    .spawn_scoped(scope, move || key_type.generate_key())
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| match handle {
                Ok(h) => match h.join() {
                    Ok(result) => result.map_err(PkiError::from),
                    Err(_) => Err(PkiError::Generate(rcgen::Error::KeyGenerationUnavailable)),
                },
                // Could not spawn a thread: generate inline.
                Err(_) => key_type.generate_key().map_err(PkiError::from),
            })
            .collect()
    });
    let keys = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    keys.try_into()
        .map_err(|_| PkiError::Generate(rcgen::Error::KeyGenerationUnavailable))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_type_names() {
        use clap::ValueEnum as _;
        assert_eq!(KeyType::default(), KeyType::EcdsaP256);
        let expected = [
            ("ecdsa-p256", "ECDSA P-256"),
            ("ecdsa-p384", "ECDSA P-384"),
            ("rsa2048", "RSA 2048"),
            ("rsa3072", "RSA 3072"),
            ("ed25519", "Ed25519"),
        ];
        assert_eq!(KeyType::value_variants(), &KeyType::ALL);
        for (kt, (name, description)) in KeyType::ALL.into_iter().zip(expected) {
            assert_eq!(kt.as_str(), name);
            assert_eq!(kt.to_string(), name);
            assert_eq!(kt.describe(), description);
            assert_eq!(name.parse::<KeyType>().expect("parse"), kt);
            assert_eq!(name.to_uppercase().parse::<KeyType>().expect("parse"), kt);
            let value = kt.to_possible_value().expect("clap value");
            assert_eq!(value.get_name(), name);
            assert_eq!(<KeyType as clap::ValueEnum>::from_str(name, false).ok(), Some(kt));
        }
        let err = "rsa1024".parse::<KeyType>().expect_err("invalid").to_string();
        for (name, _) in expected {
            assert!(err.contains(name), "{err}");
        }
        assert!(err.contains("rsa1024"), "{err}");
    }
}
