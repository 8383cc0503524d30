//! `sipbench audit`: options, the run of the matrix, the table and the JSON report.

use std::fmt::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use rustls_pki_types::UnixTime;
use serde::{Deserialize, Serialize};

use super::{Case, Cell, Direction, ServerUnderTest, client_cell, probe, server_cell};
use crate::pki::{self, KeyType, Pki};
use crate::pool::Pool;
use crate::server::{self, ServerConfig};
use crate::tls::{Backend, Versions};
use crate::trust::{self, Trust};

/// Options of `sipbench audit`.
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// PKI directory with the certificates to offer (`sipbench pki init`, or
    /// `scripts/openssl-pki.sh`); default: a throwaway PKI.
    #[arg(long, value_name = "DIR")]
    pub pki: Option<PathBuf>,
    /// Key type of the throwaway PKI.
    #[arg(long, value_enum, default_value_t = KeyType::EcdsaP256)]
    pub key_type: KeyType,
    /// TLS versions to run the matrix over.
    #[arg(long, value_delimiter = ',', default_value = "1.2,1.3")]
    pub tls_versions: Vec<Versions>,
    /// Only these cases (e.g. revoked,expired); default: all.
    #[arg(long, value_delimiter = ',', value_name = "CASE")]
    pub case: Vec<String>,
    /// A deployment's TLS listener (HOST:PORT) to describe; without it the reference server
    /// runs in this process with the PKI.
    #[arg(long, value_name = "HOST:PORT")]
    pub target: Option<String>,
    /// The deployment's MTLS listener, offered each client certificate; default: --target.
    #[arg(long, value_name = "HOST:PORT")]
    pub mtls_target: Option<String>,
    /// Name the deployment's certificate must carry; default: the host of --target.
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
    /// Trust used to judge servers: a topology file; default: the PKI directory's
    /// `topology.toml` (or the throwaway PKI's).
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,
    /// Evaluate validity at this time instead of now (2027-01-31 or RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = trust::parse_at)]
    pub at: Option<UnixTime>,
    /// Print the JSON report on standard output instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON report to this file.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// The JSON report (`sipbench-audit/1`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditReport {
    /// `sipbench-audit/1`.
    pub schema: String,
    /// `embedded` or the deployment's address.
    pub target: String,
    /// The evaluation time when `--at` was given (RFC 3339).
    pub at: Option<String>,
    /// Every cell.
    pub cells: Vec<Cell>,
    /// Cells that passed.
    pub passed: usize,
    /// Cells that did not.
    pub failed: usize,
    /// What the server under test's listeners look like.
    pub deployment: Vec<probe::Report>,
}

fn resolve(what: &str, s: &str) -> Result<SocketAddr> {
    s.to_socket_addrs()
        .with_context(|| format!("{what} {s}: not a host:port that resolves"))?
        .next()
        .with_context(|| format!("{what} {s}: resolves to no address"))
}

fn cases(args: &AuditArgs) -> Result<Vec<Case>> {
    let all = Case::all();
    if args.case.is_empty() {
        return Ok(all);
    }
    args.case
        .iter()
        .map(|name| {
            all.iter().copied().find(|c| c.as_str() == name).with_context(|| {
                let names: Vec<&str> = all.iter().map(|c| c.as_str()).collect();
                format!("--case: no case `{name}` (have {})", names.join(", "))
            })
        })
        .collect()
}

/// Runs the audit; the report lists every cell.
pub fn run(args: &AuditArgs) -> Result<AuditReport> {
    let cases = cases(args)?;
    let versions: Vec<Versions> = args.tls_versions.clone();
    if versions.contains(&Versions::Any) {
        bail!("--tls-versions: give 1.2 and/or 1.3, not any");
    }
    let pki = match &args.pki {
        Some(dir) => Pki::load(dir).with_context(|| format!("--pki {}", dir.display()))?,
        None => Pki::generate(args.key_type)?,
    };
    let trust = match (&args.topology, &args.pki) {
        (Some(path), _) => Trust::load(path)?,
        (None, Some(dir)) => Trust::load(&dir.join(pki::files::TOPOLOGY))?,
        (None, None) => Trust::for_pki(&pki)?,
    }
    .at(args.at);
    let provider = Backend::default().provider();
    let pool = Pool::new(1, "sipbench-audit")?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let report = rt.block_on(async {
        let mut reference_config = ServerConfig::loopback(pki.server.clone(), trust.clone());
        reference_config.tcp_addr = None;
        let rogue_config = reference_config.clone();
        let rogue = server::start(&rogue_config, &pool)?;
        let (reference, sut, target, probe_addrs) = match &args.target {
            None => {
                let reference = server::start(&reference_config, &pool)?;
                let addrs = reference.addrs().clone();
                let sut = (addrs.mtls[0], pki::SERVER_DNS.to_owned());
                (
                    Some(reference),
                    sut,
                    "embedded".to_owned(),
                    vec![addrs.tls[0], addrs.mtls[0]],
                )
            }
            Some(t) => {
                let tls = resolve("--target", t)?;
                let mtls = match &args.mtls_target {
                    Some(m) => resolve("--mtls-target", m)?,
                    None => tls,
                };
                let host = t
                    .rsplit_once(':')
                    .map_or(t.as_str(), |(h, _)| h)
                    .trim_matches(['[', ']']);
                let name = args.server_name.clone().unwrap_or_else(|| host.to_owned());
                let mut probes = vec![tls];
                if mtls != tls {
                    probes.push(mtls);
                }
                (None, (mtls, name), t.clone(), probes)
            }
        };
        let sut = ServerUnderTest {
            addr: sut.0,
            name: sut.1,
            trust: trust.clone(),
            reference: reference.as_ref(),
        };
        let mut cells = Vec::new();
        for &version in &versions {
            for &case in &cases {
                cells.push(server_cell(&sut, &provider, &pki, case, version).await?);
            }
            for direction in [Direction::Client, Direction::ClientTls] {
                for &case in &cases {
                    let cell = client_cell(&rogue, &provider, &pki, &trust, &pki.edge, case, version, direction);
                    cells.push(cell.await?);
                }
            }
        }
        let mut deployment = Vec::new();
        for addr in probe_addrs {
            deployment.push(probe::probe(addr, &sut.name, &trust, &provider).await?);
        }
        if let Some(r) = reference {
            r.shutdown(std::time::Duration::from_secs(1)).await;
        }
        rogue.shutdown(std::time::Duration::from_secs(1)).await;
        let passed = cells.iter().filter(|c| c.pass).count();
        anyhow::Ok(AuditReport {
            schema: "sipbench-audit/1".into(),
            failed: cells.len() - passed,
            passed,
            target,
            at: args.at.map(trust::format_time),
            cells,
            deployment,
        })
    })?;
    drop(rt);
    drop(pool);
    Ok(report)
}

/// The report as a terminal table.
pub fn table(report: &AuditReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "trust audit of {}{}",
        report.target,
        report.at.as_ref().map(|a| format!(" at {a}")).unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "{:<26} {:<10} {:<4} {:<34} {:<34} result",
        "case", "direction", "tls", "expected", "observed"
    );
    for c in &report.cells {
        let observed = if c.reason_observable {
            c.observed.to_string()
        } else {
            format!("{} (reason not observable)", c.observed)
        };
        let _ = writeln!(
            out,
            "{:<26} {:<10} {:<4} {:<34} {:<34} {}",
            c.case.as_str(),
            c.direction.as_str(),
            c.tls.as_str(),
            c.expected.to_string(),
            observed,
            if c.pass { "pass" } else { "FAIL" }
        );
    }
    let _ = writeln!(out, "{} passed, {} failed", report.passed, report.failed);
    for d in &report.deployment {
        let _ = writeln!(out, "\nlistener {} as {}: {}", d.addr, d.server_name, d.verdict);
        for (i, c) in d.chain.iter().enumerate() {
            let _ = writeln!(
                out,
                "  [{i}] {} · issuer {} · SAN {} · {} · valid {} to {} ({} days left)",
                c.subject,
                c.issuer,
                c.dns_names
                    .iter()
                    .chain(&c.ip_addresses)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                c.key,
                c.not_before,
                c.not_after,
                c.days_left
            );
        }
        let list = |o: &[probe::Offer]| {
            o.iter()
                .map(|o| format!("{}{}", o.name, if o.accepted { "" } else { " (refused)" }))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(out, "  versions: {}", list(&d.versions));
        let _ = writeln!(out, "  cipher suites: {}", list(&d.cipher_suites));
        let _ = writeln!(out, "  key exchange: {}", d.kx_group.as_deref().unwrap_or("unknown"));
        let _ = writeln!(
            out,
            "  client certificate: {}",
            if d.requests_client_certificate {
                format!("requested (acceptable CAs: {})", d.client_ca_hints.join("; "))
            } else {
                "not requested".into()
            }
        );
    }
    out
}

/// Entry point: 0 when every cell passed, 1 otherwise.
pub fn main(args: &AuditArgs) -> Result<ExitCode> {
    let report = run(args)?;
    let json = serde_json::to_string_pretty(&report)?;
    if let Some(path) = &args.out {
        std::fs::write(path, &json).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{json}");
    } else {
        print!("{}", table(&report));
    }
    Ok(if report.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
