//! `sipbench backends`: what this binary's crypto backends can do.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::pki::KeyType;
use crate::tls::Backend;
pub use crate::tls::BackendInfo;

/// Options of `sipbench backends`.
#[derive(Debug, Clone, Args)]
pub struct BackendsArgs {
    /// Print JSON instead of the table (`{"schema": "sipbench-backends/1", "backends": [...]}`,
    /// results/schema-backends.json).
    #[arg(long)]
    pub json: bool,
}

/// Describes `backend`; `keys` are sample keys of every key type.
pub fn describe(backend: Backend, keys: &[(KeyType, rustls_pki_types::PrivateKeyDer<'static>)]) -> BackendInfo {
    backend.stack().describe(keys)
}

/// Every backend of this binary, described.
pub fn all() -> Result<Vec<BackendInfo>> {
    let keys = KeyType::ALL
        .iter()
        .map(|k| Ok((*k, k.sample_key()?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Backend::ALL.iter().map(|b| describe(*b, &keys)).collect())
}

/// The `schema` of `backends --json` (results/schema-backends.json).
pub const SCHEMA: &str = "sipbench-backends/1";

/// What `backends --json` prints: the version, then every backend.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackendsReport {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// Every backend of this binary, in `--backend`'s order.
    pub backends: Vec<BackendInfo>,
}

/// Entry point.
pub fn main(args: &BackendsArgs) -> Result<ExitCode> {
    let infos = all()?;
    if args.json {
        let report = BackendsReport {
            schema: SCHEMA,
            backends: infos,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
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
