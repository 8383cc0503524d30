//! `sipbench backends`: what this binary's crypto backends can do.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use crate::pki::KeyType;
use crate::tls::{self, Backend};

/// Options of `sipbench backends`.
#[derive(Debug, Clone, Args)]
pub struct BackendsArgs {
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// One backend's capabilities.
#[derive(Debug, Clone, Serialize)]
pub struct BackendInfo {
    /// Name, as given to `--backend`.
    pub name: String,
    /// Library and version.
    pub library: String,
    /// Whether the provider runs in FIPS mode.
    pub fips: bool,
    /// Cipher suites offered by default, in preference order.
    pub cipher_suites: Vec<String>,
    /// Key exchange groups offered by default, in preference order.
    pub kx_groups: Vec<String>,
    /// Other groups it implements, which `--kx-group` can pin.
    pub kx_groups_on_request: Vec<String>,
    /// Certificate key types it can sign with and verify.
    pub key_types: Vec<String>,
    /// Key types it cannot use, with the reason.
    pub key_types_not_supported: Vec<String>,
}

/// Describes `backend`; `keys` are sample keys of every key type.
pub fn describe(backend: Backend, keys: &[(KeyType, rustls_pki_types::PrivateKeyDer<'static>)]) -> BackendInfo {
    if backend.is_openssl() {
        return openssl();
    }
    let provider = backend.provider();
    let group = |g: &&dyn rustls::crypto::SupportedKxGroup| g.name().as_str().unwrap_or("unknown").to_owned();
    let kx_groups: Vec<String> = provider.kx_groups.iter().map(group).collect();
    let mut info = BackendInfo {
        name: backend.as_str().into(),
        library: backend.library(),
        fips: provider.fips(),
        cipher_suites: provider
            .cipher_suites
            .iter()
            .map(|s| s.suite().as_str().unwrap_or("unknown").to_owned())
            .collect(),
        kx_groups_on_request: backend
            .all_kx_groups()
            .iter()
            .map(group)
            .filter(|g| !kx_groups.contains(g))
            .collect(),
        kx_groups,
        key_types: Vec::new(),
        key_types_not_supported: Vec::new(),
    };
    for (key_type, key) in keys {
        match tls::check_key_type(backend, &provider, *key_type, Some(key)) {
            Ok(()) => info.key_types.push(key_type.as_str().into()),
            Err(e) => info.key_types_not_supported.push(format!("{key_type}: {e}")),
        }
    }
    info
}

/// The OpenSSL stack: what [`crate::ossl`] offers and can pin (its tests and the backend
/// integration tests exercise each).
fn openssl() -> BackendInfo {
    let tls12 = [
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    ];
    // OpenSSL 3.0's default group list, in its order; the rest of the pinnable groups.
    let default_groups = ["X25519", "secp256r1", "X448", "secp521r1", "secp384r1"];
    BackendInfo {
        name: Backend::OpenSsl.as_str().into(),
        library: Backend::OpenSsl.library(),
        fips: false,
        cipher_suites: crate::ossl::TLS13_SUITES
            .iter()
            .map(|s| s.replacen("TLS_", "TLS13_", 1))
            .chain(tls12.iter().map(|s| (*s).to_owned()))
            .collect(),
        kx_groups: default_groups.iter().map(|g| (*g).to_owned()).collect(),
        kx_groups_on_request: crate::ossl::GROUPS
            .iter()
            .map(|(name, _, _)| (*name).to_owned())
            .filter(|g| !default_groups.contains(&g.as_str()))
            .collect(),
        key_types: KeyType::ALL.iter().map(|k| k.as_str().to_owned()).collect(),
        key_types_not_supported: Vec::new(),
    }
}

/// Every backend of this binary, described.
pub fn all() -> Result<Vec<BackendInfo>> {
    let keys = KeyType::ALL
        .iter()
        .map(|k| Ok((*k, k.sample_key()?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Backend::ALL.iter().map(|b| describe(*b, &keys)).collect())
}

/// Entry point.
pub fn main(args: &BackendsArgs) -> Result<ExitCode> {
    let infos = all()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&infos)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    for i in &infos {
        let _ = writeln!(out, "{}{} · {}", i.name, if i.fips { " (FIPS)" } else { "" }, i.library);
        let _ = writeln!(out, "  cipher suites  {}", i.cipher_suites.join(", "));
        let _ = writeln!(out, "  kx groups      {}", i.kx_groups.join(", "));
        if !i.kx_groups_on_request.is_empty() {
            let _ = writeln!(
                out,
                "  on request     {} (--kx-group)",
                i.kx_groups_on_request.join(", ")
            );
        }
        let _ = writeln!(out, "  key types      {}", i.key_types.join(", "));
        for n in &i.key_types_not_supported {
            let _ = writeln!(out, "  not supported  {n}");
        }
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}
