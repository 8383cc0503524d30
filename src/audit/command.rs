//! `sipbench audit`: options, the run of the matrix, the table and the JSON report.

use std::fmt::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use rustls_pki_types::UnixTime;
use serde::{Deserialize, Serialize};

use super::{
    Arsenal, Attack, Case, Cell, Direction, ServerUnderTest, Stack, client_cell, load_cell, probe, server_cell,
    zero_rtt_cell,
};
use crate::forge::Authority;
use crate::pki::{self, KeyType, Pki};
use crate::pool::Pool;
use crate::server::{self, ServerConfig};
use crate::tls::{Backend, Versions};
use crate::trust::{self, Trust};

/// Options of `sipbench audit`.
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// PKI directory with the certificates to offer (`sipbench pki init`, or
    /// `scripts/openssl-pki.sh`). [default: a throwaway PKI]
    #[arg(long, value_name = "DIR")]
    pub pki: Option<PathBuf>,
    /// Key type of the throwaway PKI.
    #[arg(long, value_enum, default_value_t = KeyType::EcdsaP256)]
    pub key_type: KeyType,
    /// The throwaway PKI has issuing CAs below its roots (as `pki init --intermediate`).
    #[arg(long)]
    pub intermediate: bool,
    /// TLS versions to run the matrix over.
    #[arg(long, value_delimiter = ',', default_value = "1.2,1.3")]
    pub tls_versions: Vec<Versions>,
    /// TLS stacks to run the matrix on: the reference server's in direction `server`,
    /// sipbench's client's in the client directions.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "rustls,openssl")]
    pub stacks: Vec<Stack>,
    /// Only these cases (e.g. revoked,expired,ip-only). [default: all, attacks included]
    #[arg(long, value_delimiter = ',', value_name = "CASE", value_parser = CaseParser)]
    pub case: Vec<Case>,
    /// Against a deployment: a CA it trusts (PEM, the CA first, then any intermediates above
    /// it) to issue the attack certificates from; needs --attack-ca-key and --attack-name.
    #[arg(long, value_name = "FILE", requires_all = ["attack_ca_key", "attack_name"])]
    pub attack_ca: Option<PathBuf>,
    /// The private key of --attack-ca.
    #[arg(long, value_name = "FILE")]
    pub attack_ca_key: Option<PathBuf>,
    /// A name the deployment accepts from --attack-ca (a trusted server's FQDN): each attack
    /// certificate carries it.
    #[arg(long, value_name = "NAME")]
    pub attack_name: Option<String>,
    /// A deployment's TLS listener to describe. Without it, the reference server runs in this
    /// process with the PKI.
    #[arg(long, alias = "target", value_name = "HOST:PORT")]
    pub tls_addr: Option<String>,
    /// The deployment's MTLS listener, offered each client certificate. [default: --tls-addr]
    #[arg(long, alias = "mtls-target", value_name = "HOST:PORT", requires = "tls_addr")]
    pub mtls_addr: Option<String>,
    /// Name the deployment's certificate must carry. [default: the host of --tls-addr]
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
    /// Trust used to judge servers: a topology file. [default: the PKI directory's
    /// topology.toml, or the throwaway PKI's]
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

/// The JSON report (`sipbench-audit/2`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditReport {
    /// `sipbench-audit/2`.
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
    /// How long the matrix took, in seconds.
    pub seconds: f64,
    /// What the server under test's listeners look like.
    pub deployment: Vec<probe::Report>,
}

fn resolve(what: &str, s: &str) -> Result<SocketAddr> {
    s.to_socket_addrs()
        .with_context(|| format!("{what} {s}: not a host:port that resolves"))?
        .next()
        .with_context(|| format!("{what} {s}: resolves to no address"))
}

fn cases(args: &AuditArgs) -> Vec<Case> {
    if args.case.is_empty() {
        Case::every()
    } else {
        args.case.clone()
    }
}

/// Parses `--case` names into cases; an unknown name is an error that lists the cases.
#[derive(Debug, Clone, Copy)]
struct CaseParser;

impl clap::builder::TypedValueParser for CaseParser {
    type Value = Case;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Case, clap::Error> {
        value
            .to_string_lossy()
            .parse()
            .map_err(|e| clap::Error::raw(clap::error::ErrorKind::InvalidValue, format!("--case: {e}\n")))
    }
}

/// The attack arsenal against a deployment, from `--attack-ca`.
fn deployment_arsenal(args: &AuditArgs) -> Result<Option<Arsenal>> {
    use x509_parser::prelude::FromDer as _;
    let (Some(ca), Some(key), Some(name)) = (&args.attack_ca, &args.attack_ca_key, &args.attack_name) else {
        return Ok(None);
    };
    let chain = pki::load_ca_bundle(ca).with_context(|| format!("--attack-ca {}", ca.display()))?;
    let identity = pki::load_identity(ca, key).with_context(|| format!("--attack-ca-key {}", key.display()))?;
    let key_type = KeyType::of_certificate(&chain[0])
        .with_context(|| format!("--attack-ca {}: a key type sipbench cannot issue with", ca.display()))?;
    let (_, x) = x509_parser::certificate::X509Certificate::from_der(chain[0].as_ref())
        .map_err(|e| anyhow::anyhow!("--attack-ca {}: {e}", ca.display()))?;
    let root = x.subject().as_raw() == x.issuer().as_raw();
    let authority = Authority::existing(chain[0].clone(), identity.key, key_type, root, chain[1..].to_vec())
        .with_context(|| format!("--attack-ca {}", ca.display()))?;
    Ok(Some(Arsenal::from_ca(authority, name)?))
}

/// Runs the audit; the report lists every cell.
pub fn run(args: &AuditArgs) -> Result<AuditReport> {
    let started = std::time::Instant::now();
    let cases = cases(args);
    let versions: Vec<Versions> = args.tls_versions.clone();
    if versions.contains(&Versions::Any) {
        bail!("--tls-versions: give 1.2 and/or 1.3, not any");
    }
    if args.stacks.is_empty() {
        bail!("--stacks: give rustls and/or openssl");
    }
    let pki = match &args.pki {
        Some(dir) => Pki::load(dir).with_context(|| format!("--pki {}", dir.display()))?,
        None => Pki::generate_with(args.key_type, args.intermediate)?,
    };
    let base = match (&args.topology, &args.pki) {
        (Some(path), _) => Trust::load(path)?,
        (None, Some(dir)) => Trust::load(&dir.join(pki::files::TOPOLOGY))?,
        (None, None) => Trust::for_pki(&pki)?,
    };
    let embedded = args.tls_addr.is_none();
    let wants_attacks = cases.iter().any(|c| matches!(c, Case::Attack(_)));
    // Embedded, the attacks come from the PKI's own CAs, and the intermediates they issue join
    // the trust of both the server and the client; against a deployment, from --attack-ca.
    let (arsenal, server_arsenal) = if embedded && wants_attacks {
        let a = Arsenal::build(&pki).context(
            "building the attack certificates (they need the PKI's CA keys; choose cases with --case otherwise)",
        )?;
        (Some(a), None)
    } else if wants_attacks {
        (None, deployment_arsenal(args)?)
    } else {
        (None, None)
    };
    let trust = match &arsenal {
        Some(a) => a.trust(&base)?,
        None => base,
    }
    .at(args.at);
    let provider = Backend::default()
        .rustls_provider()
        .context("the default backend is a rustls one")?;
    let pool = Pool::new(1, "sipbench-audit")?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let report = rt.block_on(async {
        let mut reference_config = ServerConfig::loopback(pki.server.clone(), trust.clone());
        reference_config.tcp_addr = None;
        let rogue = server::start(&reference_config, &pool)?;
        let mut references = Vec::new();
        let (target, probe_addrs, deployment) = match &args.tls_addr {
            None => {
                for &stack in &args.stacks {
                    let mut config = reference_config.clone();
                    config.backend = stack.backend();
                    references.push((stack, server::start(&config, &pool)?));
                }
                let addrs = references[0].1.addrs().clone();
                ("embedded".to_owned(), vec![addrs.tls[0], addrs.mtls[0]], None)
            }
            Some(t) => {
                let tls = resolve("--tls-addr", t)?;
                let mtls = match &args.mtls_addr {
                    Some(m) => resolve("--mtls-addr", m)?,
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
                (t.clone(), probes, Some((mtls, name)))
            }
        };
        let suts: Vec<ServerUnderTest<'_>> = match &deployment {
            None => references
                .iter()
                .map(|(stack, server)| ServerUnderTest {
                    addr: server.addrs().mtls[0],
                    name: pki::SERVER_DNS.to_owned(),
                    trust: trust.clone(),
                    reference: Some(server),
                    stack: Some(*stack),
                })
                .collect(),
            Some((addr, name)) => vec![ServerUnderTest {
                addr: *addr,
                name: name.clone(),
                trust: trust.clone(),
                reference: None,
                stack: None,
            }],
        };
        let mut cells = Vec::new();
        for &version in &versions {
            for sut in &suts {
                let arsenal = arsenal.as_ref().or(server_arsenal.as_ref());
                for &case in cases.iter().filter(|c| c.applies(Direction::Server)) {
                    let Some(identity) = case.identity(&pki, arsenal) else {
                        continue;
                    };
                    cells.push(server_cell(sut, &provider, case, identity, version).await?);
                }
            }
            for &stack in &args.stacks {
                for direction in [Direction::Client, Direction::ClientTls] {
                    for &case in cases.iter().filter(|c| c.applies(direction)) {
                        if case == Case::Attack(Attack::ZeroRttNotInTopology) {
                            continue;
                        }
                        let Some(identity) = case.identity(&pki, arsenal.as_ref()) else {
                            continue;
                        };
                        let cell = client_cell(
                            &rogue, &provider, &pki, &trust, &pki.edge, case, identity, version, direction, stack,
                        );
                        cells.push(cell.await?);
                    }
                }
            }
        }
        if let Some(arsenal) = &arsenal {
            for &case in &cases {
                match case {
                    Case::Attack(a) if a.at_load() => cells.push(load_cell(&pki, a)?),
                    Case::Attack(Attack::ZeroRttNotInTopology)
                        if versions.contains(&Versions::Tls13) && args.stacks.contains(&Stack::Rustls) =>
                    {
                        let impostor = arsenal
                            .identity(Attack::ZeroRttNotInTopology)
                            .context("the 0-RTT impostor")?;
                        cells.push(zero_rtt_cell(&pki, &trust, impostor, &provider, &pool).await?);
                    }
                    _ => {}
                }
            }
        }
        let name = deployment.as_ref().map_or(pki::SERVER_DNS.to_owned(), |d| d.1.clone());
        let mut described = Vec::new();
        for addr in probe_addrs {
            described.push(probe::probe(addr, &name, &trust, &provider).await?);
        }
        for (_, r) in references {
            r.shutdown(std::time::Duration::from_secs(1)).await;
        }
        rogue.shutdown(std::time::Duration::from_secs(1)).await;
        let passed = cells.iter().filter(|c| c.pass).count();
        anyhow::Ok(AuditReport {
            schema: "sipbench-audit/2".into(),
            failed: cells.len() - passed,
            passed,
            seconds: started.elapsed().as_secs_f64(),
            target,
            at: args.at.map(trust::format_time),
            cells,
            deployment: described,
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
        "{:<33} {:<10} {:<4} {:<8} {:<36} {:<36} result",
        "case", "direction", "tls", "stack", "expected", "observed"
    );
    for c in &report.cells {
        let observed = if c.reason_observable {
            c.observed.to_string()
        } else {
            format!("{} (reason not observable)", c.observed)
        };
        let _ = writeln!(
            out,
            "{:<33} {:<10} {:<4} {:<8} {:<36} {:<36} {}",
            c.case.as_str(),
            c.direction.as_str(),
            c.tls.map_or("-", |v| v.as_str()),
            c.stack.map_or("-", |s| s.as_str()),
            c.expected.to_string(),
            observed,
            if c.pass { "pass" } else { "FAIL" }
        );
        if !c.pass {
            let _ = writeln!(out, "    why: {}", c.why);
            if let Some(d) = &c.detail {
                let _ = writeln!(out, "    saw: {d}");
            }
        }
    }
    let _ = writeln!(
        out,
        "{} passed, {} failed in {:.1} s",
        report.passed, report.failed, report.seconds
    );
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
