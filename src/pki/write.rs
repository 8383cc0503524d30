//! Writing a PKI directory ([`Pki::write_to`]) as PEM files (private keys with mode 0600 on
//! Unix), and the PEM encoding of certificates, keys and CRLs.

use std::fs;
use std::path::Path;

use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::crl::write_crl;
use super::{Identity, Pki, PkiError, bad_cert_file, bad_key_file, files};

impl Pki {
    /// Writes every file of [`files`] into `dir` (created if needed): PEM
    /// certificates, keys and CRLs, the topology file, and the `bad/`
    /// directory with a certificate and key per [`BadCert`](super::BadCert) and the rogue CA
    /// certificate (its key is not written).
    ///
    /// Private keys are written with mode 0600 on Unix. CA key files are
    /// written only when the CA keys are available (always for a generated
    /// PKI). Existing files are overwritten.
    pub fn write_to(&self, dir: &Path) -> Result<(), PkiError> {
        fs::create_dir_all(dir).map_err(|source| PkiError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let certs_pem = |certs: &[CertificateDer<'_>]| -> String {
            certs.iter().map(|c| pem_encode("CERTIFICATE", c.as_ref())).collect()
        };
        let write = |name: &str, contents: &str, secret: bool| write_file(&dir.join(name), contents.as_bytes(), secret);

        write(
            files::ENTERPRISE_CA,
            &certs_pem(std::slice::from_ref(&self.enterprise_ca)),
            false,
        )?;
        write(
            files::PARTNER_CA,
            &certs_pem(std::slice::from_ref(&self.partner_ca)),
            false,
        )?;
        write(
            files::CA_BUNDLE,
            &certs_pem(&[self.enterprise_ca.clone(), self.partner_ca.clone()]),
            false,
        )?;
        if let Some(issuer) = &self.enterprise_issuer {
            write(files::ENTERPRISE_CA_KEY, &issuer.key().serialize_pem(), true)?;
        }
        if let Some(issuer) = &self.partner_issuer {
            write(files::PARTNER_CA_KEY, &issuer.key().serialize_pem(), true)?;
        }
        for (identity, cert_name, key_name) in self.identities() {
            write(cert_name, &certs_pem(&identity.chain), false)?;
            write(key_name, &key_pem(&identity.key), true)?;
        }
        write_crl(&dir.join(files::ENTERPRISE_CRL), &self.enterprise_crl)?;
        write_crl(&dir.join(files::PARTNER_CRL), &self.partner_crl)?;
        for (issuing, cert, key, crl) in [
            (
                &self.enterprise_issuing,
                files::ENTERPRISE_ISSUING_CA,
                files::ENTERPRISE_ISSUING_CA_KEY,
                files::ENTERPRISE_ISSUING_CRL,
            ),
            (
                &self.partner_issuing,
                files::PARTNER_ISSUING_CA,
                files::PARTNER_ISSUING_CA_KEY,
                files::PARTNER_ISSUING_CRL,
            ),
        ] {
            if let Some(i) = issuing {
                write(cert, &certs_pem(std::slice::from_ref(&i.cert)), false)?;
                if let Some(issuer) = &i.issuer {
                    write(key, &issuer.key().serialize_pem(), true)?;
                }
                write_crl(&dir.join(crl), &i.crl)?;
            }
        }
        write(files::TOPOLOGY, &self.topology, false)?;

        let bad_dir = dir.join(files::BAD_DIR);
        fs::create_dir_all(&bad_dir).map_err(|source| PkiError::Io { path: bad_dir, source })?;
        write(files::ROGUE_CA, &certs_pem(std::slice::from_ref(&self.rogue_ca)), false)?;
        for (which, identity) in &self.bad {
            write(&bad_cert_file(*which), &certs_pem(&identity.chain), false)?;
            write(&bad_key_file(*which), &key_pem(&identity.key), true)?;
        }
        Ok(())
    }

    fn identities(&self) -> [(&Identity, &'static str, &'static str); 4] {
        [
            (&self.server, files::SERVER, files::SERVER_KEY),
            (&self.edge, files::EDGE, files::EDGE_KEY),
            (&self.partner, files::PARTNER, files::PARTNER_KEY),
            (&self.client, files::CLIENT, files::CLIENT_KEY),
        ]
    }
}

pub(super) fn key_pem(key: &PrivateKeyDer<'_>) -> String {
    let label = match key {
        PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
        PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
        _ => "PRIVATE KEY",
    };
    pem_encode(label, key.secret_der())
}

pub(super) fn pem_encode(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = Vec::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]);
            } else {
                b64.push(b'=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.chunks(64) {
        // The alphabet is ASCII, so this never fails.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

pub(super) fn write_file(path: &Path, contents: &[u8], secret: bool) -> Result<(), PkiError> {
    use std::io::Write as _;
    let err = |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(err)?;
    #[cfg(unix)]
    if secret {
        // `mode` only applies when the file is created: tighten existing files too.
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    file.write_all(contents).map_err(err)?;
    file.sync_all().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::pem::PemObject;

    #[test]
    fn pem_encoding_round_trips() {
        for len in 0..70usize {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 % 256) as u8).collect();
            let pem = pem_encode("CERTIFICATE", &data);
            if len == 0 {
                continue;
            }
            let back = CertificateDer::from_pem_slice(pem.as_bytes()).expect("decode");
            assert_eq!(back.as_ref(), &data[..], "len {len}");
        }
    }
}
