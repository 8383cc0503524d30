//! PEM and certificate loading, as `sipbench` reads its files: `pki::certs_from` (a bundle of
//! `CERTIFICATE` blocks, each parsed as X.509) and `pki::crls_from` (PEM `X509 CRL` blocks, or
//! one DER CRL) on the same bytes; for each certificate `summarize`, `cert_key_description` and
//! `KeyType::of_certificate`, and `roots_from` on the bundle; the bytes as one DER certificate
//! too. When the input also holds a private key (PKCS#8, PKCS#1 or SEC1 PEM), the identity path:
//! `load_identity` on the input written to a file (the key checked against the leaf), and
//! `issuer_for` (the CA issuer rebuilt from a certificate and its key).
//!
//! Errors are expected; panics are not.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sipbench::pki::{self, KeyType};

fn describe(cert: &CertificateDer<'_>) {
    let _ = pki::summarize(cert);
    let _ = pki::cert_key_description(cert);
    let _ = KeyType::of_certificate(cert);
}

/// A file of this process's own for `load_identity`, which reads paths.
fn scratch() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| std::env::temp_dir().join(format!("sipbench-fuzz-pem_load-{}.pem", std::process::id())))
}

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.pem");
    let certs = pki::certs_from(data, path);
    if let Ok(certs) = &certs {
        for cert in certs {
            describe(cert);
        }
        let _ = pki::roots_from(certs);
    }
    let _ = pki::crls_from(data, path);
    describe(&CertificateDer::from(data));

    let (Ok(certs), Ok(key)) = (certs, PrivateKeyDer::from_pem_slice(data)) else {
        return;
    };
    if std::fs::write(scratch(), data).is_ok() {
        let _ = pki::load_identity(scratch(), scratch());
    }
    if let Some(key_type) = KeyType::of_certificate(&certs[0]) {
        let _ = pki::issuer_for(&certs[0], &key, key_type, "fuzz.pem");
    }
});
