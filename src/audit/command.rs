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
    /// PKI directory with the certificates to offer, in the layout `sipbench pki init` (or
    /// `scripts/openssl-pki.sh`) writes; --pki-file gives files of any other layout.
    /// [default: a throwaway PKI]
    #[arg(long, value_name = "DIR")]
    pub pki: Option<PathBuf>,
    /// A PKI file by role, in place of --pki DIR's file of that role, so that any layout loads
    /// (repeat; without --pki every required role): enterprise-ca, enterprise-ca-key,
    /// enterprise-crl, partner-ca, partner-ca-key, partner-crl, server, server-key, edge,
    /// edge-key, partner, partner-key, client, client-key (optional), topology,
    /// {enterprise,partner}-issuing-{ca,ca-key,crl} (optional), rogue-ca and bad-CASE,
    /// bad-CASE-key (the negative cases; else minted with --issuer-cert).
    #[arg(long = "pki-file", value_name = "ROLE=FILE", value_parser = parse_role_path)]
    pub pki_files: Vec<(String, PathBuf)>,
    /// A name to dial or expect, by role (repeat): server (the SIP service under test),
    /// edge (the Enterprise edge; the negative cases copy it), partner (the federated
    /// partner's edge), rogue (an Enterprise name that is no topology server), wrong-name.
    /// [default: the first DNS name of the role's certificate]
    #[arg(long = "name", value_name = "ROLE=NAME", value_parser = parse_role_name)]
    pub names: Vec<(String, String)>,
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
    /// A CA the target trusts for the edge's name (PEM, the CA first, then any intermediates
    /// above it; e.g. the deployment's test CA) to mint the cases from: the negative cases
    /// (expired, not-yet-valid, revoked, wrong-name, not-in-topology; untrusted-ca from a
    /// throwaway root) in place of the PKI's bad/ files, and, against a deployment, the
    /// attacks. Needs --issuer-key.
    #[arg(long, alias = "attack-ca", value_name = "FILE", requires = "issuer_key")]
    pub issuer_cert: Option<PathBuf>,
    /// The private key of --issuer-cert.
    #[arg(long, alias = "attack-ca-key", value_name = "FILE", requires = "issuer_cert")]
    pub issuer_key: Option<PathBuf>,
    /// A name the deployment accepts from --issuer-cert (a trusted server's FQDN): each attack
    /// certificate carries it. [default: the edge's name]
    #[arg(long, value_name = "NAME")]
    pub attack_name: Option<String>,
    /// A deployment's TLS listener to describe. Without it, the reference server runs in this
    /// process with the PKI.
    #[arg(long, alias = "target", value_name = "HOST:PORT")]
    pub tls_addr: Option<String>,
    /// The deployment's MTLS listener, offered each client certificate. [default: --tls-addr]
    #[arg(long, alias = "mtls-target", value_name = "HOST:PORT", requires = "tls_addr")]
    pub mtls_addr: Option<String>,
    /// Name the server under test's certificate must carry (as --name server=NAME).
    /// [default: the host of --tls-addr; embedded, the server certificate's name]
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

/// The `schema` of audit reports (results/schema-audit.json).
pub const SCHEMA: &str = "sipbench-audit/2";

impl AuditReport {
    /// Reads an audit report (`audit --json`): [`SCHEMA`] or a later minor version of it,
    /// whose fields this version does not know are ignored (its `schema` is then [`SCHEMA`]).
    pub fn read(path: &std::path::Path) -> Result<AuditReport> {
        let mut a: AuditReport = crate::results::read_versioned(path, SCHEMA)?;
        a.schema = SCHEMA.into();
        Ok(a)
    }
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
    /// The names dialed and expected.
    #[serde(default)]
    pub names: Option<super::Names>,
    /// Cases or cells left out, and why.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// `ROLE=VALUE` of `--pki-file` and `--name`.
fn split_role(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((role, value)) if !role.is_empty() && !value.is_empty() => Ok((role.to_owned(), value.to_owned())),
        _ => Err(format!("`{s}`: give ROLE=VALUE")),
    }
}

fn parse_role_path(s: &str) -> Result<(String, PathBuf), String> {
    let (role, path) = split_role(s)?;
    if file_roles().iter().all(|(r, _)| *r != role) {
        let roles: Vec<String> = file_roles().into_iter().map(|(r, _)| r).collect();
        return Err(format!("no role `{role}` (have {})", roles.join(", ")));
    }
    Ok((role, PathBuf::from(path)))
}

fn parse_role_name(s: &str) -> Result<(String, String), String> {
    let (role, name) = split_role(s)?;
    super::Names::builtin().set(&role, &name)?;
    Ok((role, name))
}

/// The roles of `--pki-file`, with the name each file has in the directory layout.
fn file_roles() -> Vec<(String, String)> {
    use pki::files as f;
    let mut roles: Vec<(String, String)> = [
        ("enterprise-ca", f::ENTERPRISE_CA),
        ("enterprise-ca-key", f::ENTERPRISE_CA_KEY),
        ("enterprise-crl", f::ENTERPRISE_CRL),
        ("partner-ca", f::PARTNER_CA),
        ("partner-ca-key", f::PARTNER_CA_KEY),
        ("partner-crl", f::PARTNER_CRL),
        ("enterprise-issuing-ca", f::ENTERPRISE_ISSUING_CA),
        ("enterprise-issuing-ca-key", f::ENTERPRISE_ISSUING_CA_KEY),
        ("enterprise-issuing-crl", f::ENTERPRISE_ISSUING_CRL),
        ("partner-issuing-ca", f::PARTNER_ISSUING_CA),
        ("partner-issuing-ca-key", f::PARTNER_ISSUING_CA_KEY),
        ("partner-issuing-crl", f::PARTNER_ISSUING_CRL),
        ("server", f::SERVER),
        ("server-key", f::SERVER_KEY),
        ("edge", f::EDGE),
        ("edge-key", f::EDGE_KEY),
        ("partner", f::PARTNER),
        ("partner-key", f::PARTNER_KEY),
        ("client", f::CLIENT),
        ("client-key", f::CLIENT_KEY),
        ("topology", f::TOPOLOGY),
        ("rogue-ca", f::ROGUE_CA),
    ]
    .into_iter()
    .map(|(r, n)| (r.to_owned(), n.to_owned()))
    .collect();
    for b in pki::BadCert::ALL {
        roles.push((format!("bad-{}", b.as_str()), pki::files::bad_cert_file(b)));
        roles.push((format!("bad-{}-key", b.as_str()), pki::files::bad_key_file(b)));
    }
    roles
}

/// The PKI layout of `--pki` and `--pki-file`, with every file given by role checked to be
/// readable; `None` for the throwaway PKI.
fn layout(args: &AuditArgs) -> Result<Option<pki::Layout>> {
    if args.pki.is_none() && args.pki_files.is_empty() {
        return Ok(None);
    }
    if let Some(dir) = &args.pki
        && !dir.is_dir()
    {
        bail!("--pki {}: not a directory", dir.display());
    }
    let roles = file_roles();
    let mut layout = pki::Layout {
        dir: args.pki.clone(),
        ..pki::Layout::default()
    };
    for (role, path) in &args.pki_files {
        std::fs::File::open(path).with_context(|| format!("--pki-file {role}={}", path.display()))?;
        let (_, name) = roles.iter().find(|(r, _)| r == role).expect("checked when parsed");
        layout.files.insert(name.clone(), path.clone());
    }
    // The negative cases are read unless they are minted, and only when there are some.
    layout.with_bad = args.issuer_cert.is_none()
        && (layout.has(&pki::files::bad_cert_file(pki::BadCert::Expired))
            || args.pki_files.iter().any(|(r, _)| r.starts_with("bad-")));
    Ok(Some(layout))
}

/// An error loading from `layout`, naming the flag and the file of the role at fault.
fn explain(e: impl std::fmt::Display, layout: &pki::Layout) -> anyhow::Error {
    let msg = e.to_string();
    let roles = file_roles();
    let shown = |name: &str| layout.path(name).display().to_string();
    let matching: Vec<&(String, String)> = roles.iter().filter(|(_, name)| msg.contains(&shown(name))).collect();
    // One file may serve several roles (a key given twice): the role whose certificate or key
    // the message names too is the one at fault.
    let sibling = |role: &str| {
        role.strip_suffix("-key")
            .map_or_else(|| format!("{role}-key"), str::to_owned)
    };
    let paired: Vec<_> = matching
        .iter()
        .filter(|(role, _)| matching.iter().any(|(r, _)| *r == sibling(role)))
        .copied()
        .collect();
    let at_fault = if paired.is_empty() { matching } else { paired };
    let Some((role, name)) = at_fault.first() else {
        return anyhow::anyhow!("{msg}");
    };
    if layout.files.contains_key(name) {
        let flags: Vec<String> = at_fault
            .iter()
            .filter(|(_, n)| layout.files.contains_key(n))
            .map(|(r, n)| format!("--pki-file {r}={}", shown(n)))
            .collect();
        anyhow::anyhow!("{}: {msg}", flags.join(", "))
    } else if let Some(dir) = &layout.dir {
        anyhow::anyhow!(
            "--pki {}: {msg} (or give it with --pki-file {role}=FILE)",
            dir.display()
        )
    } else {
        anyhow::anyhow!("--pki-file {role}=FILE is needed (no --pki DIR to find {name} in)")
    }
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

/// The CA of `--issuer-cert` and `--issuer-key`.
fn issuer(args: &AuditArgs) -> Result<Option<Authority>> {
    use x509_parser::prelude::FromDer as _;
    let (Some(ca), Some(key)) = (&args.issuer_cert, &args.issuer_key) else {
        return Ok(None);
    };
    let chain = pki::load_ca_bundle(ca).with_context(|| format!("--issuer-cert {}", ca.display()))?;
    let identity = pki::load_identity(ca, key).with_context(|| format!("--issuer-key {}", key.display()))?;
    let key_type = KeyType::of_certificate(&chain[0])
        .with_context(|| format!("--issuer-cert {}: a key type sipbench cannot issue with", ca.display()))?;
    let (_, x) = x509_parser::certificate::X509Certificate::from_der(chain[0].as_ref())
        .map_err(|e| anyhow::anyhow!("--issuer-cert {}: {e}", ca.display()))?;
    let root = x.subject().as_raw() == x.issuer().as_raw();
    let authority = Authority::existing(chain[0].clone(), identity.key, key_type, root, chain[1..].to_vec())
        .with_context(|| format!("--issuer-cert {}", ca.display()))?;
    Ok(Some(authority))
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
    let layout = layout(args)?;
    let issuer = issuer(args)?;
    let mut pki = match &layout {
        Some(layout) => Pki::load_layout(layout).map_err(|e| explain(e, layout))?,
        None => Pki::generate_with(args.key_type, args.intermediate)?,
    };
    let mut names = super::Names::of(&pki);
    for (role, name) in &args.names {
        names
            .set(role, name)
            .map_err(|e| anyhow::anyhow!("--name {role}={name}: {e}"))?;
    }
    if let Some(name) = &args.server_name {
        names.server.clone_from(name);
    }
    let mut base = match (&args.topology, &layout) {
        (Some(path), _) => Trust::load(path).with_context(|| format!("--topology {}", path.display()))?,
        (None, Some(layout)) => Trust::load(&layout.path(pki::files::TOPOLOGY)).map_err(|e| explain(e, layout))?,
        (None, None) => Trust::for_pki(&pki)?,
    };
    let mut notes = Vec::new();
    // Minted from --issuer-cert, the negative cases replace the PKI's; the issuer's CRL that
    // revokes the revoked case joins the trust.
    let minted = match &issuer {
        Some(issuer) => {
            let partner = super::attack::authority(&pki, pki::CaName::Partner, true).ok();
            if partner.is_none() {
                notes.push("partner-claims-enterprise: left out (needs the Partner CA key to mint it)".to_owned());
            }
            let minted = super::mint::mint(issuer, partner.as_ref(), &names).context("minting the negative cases")?;
            base = minted.trust(&base)?;
            pki.bad = minted.bad.clone();
            pki.rogue_ca = minted.rogue_ca.clone();
            Some(minted)
        }
        None => None,
    };
    if pki.bad.is_empty() && cases.iter().any(|c| matches!(c, Case::Bad(_))) {
        notes.push("negative cases: left out (the PKI has no bad/ files; mint them with --issuer-cert)".to_owned());
    }
    let embedded = args.tls_addr.is_none();
    let wants_attacks = cases.iter().any(|c| matches!(c, Case::Attack(_)));
    // Embedded, the attacks come from the PKI's own CAs, and the intermediates they issue join
    // the trust of both the server and the client; against a deployment, from --issuer-cert.
    let (arsenal, server_arsenal) = if embedded && wants_attacks {
        let a = Arsenal::build(&pki, &names).context(
            "building the attack certificates (they need the PKI's CA keys; choose cases with --case otherwise)",
        )?;
        (Some(a), None)
    } else if wants_attacks {
        let name = args.attack_name.as_deref().unwrap_or(&names.edge);
        (None, issuer.map(|ca| Arsenal::from_ca(ca, name)).transpose()?)
    } else {
        (None, None)
    };
    let trust = match &arsenal {
        Some(a) => a.trust(&base)?,
        None => base,
    }
    .at(args.at);
    // A deployment checks the revoked case against its own CRL, which does not list a minted one.
    let skip_revoked_on_deployment = !embedded && minted.is_some();
    if skip_revoked_on_deployment && cases.contains(&Case::Bad(pki::BadCert::Revoked)) {
        notes.push(
            "revoked, direction server: left out (the deployment's CRL does not list the minted certificate)"
                .to_owned(),
        );
    }
    // The load attacks rewrite sipbench's own topology; another layout has its own.
    let own_layout = args.pki_files.is_empty();
    if !own_layout && cases.iter().any(|c| matches!(c, Case::Attack(a) if a.at_load())) {
        notes.push("crl-wrong-ca, ca-file-holds-leaf: left out (they rewrite sipbench's own topology file)".to_owned());
    }
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
                let given = args
                    .server_name
                    .iter()
                    .chain(args.names.iter().filter(|(r, _)| r == "server").map(|(_, n)| n));
                let name = given.last().cloned().unwrap_or_else(|| host.to_owned());
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
                    name: names.server.clone(),
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
                    if skip_revoked_on_deployment && case == Case::Bad(pki::BadCert::Revoked) {
                        continue;
                    }
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
                            &names,
                        );
                        cells.push(cell.await?);
                    }
                }
            }
        }
        if let Some(arsenal) = &arsenal {
            for &case in &cases {
                match case {
                    Case::Attack(a) if a.at_load() && own_layout => cells.push(load_cell(&pki, a)?),
                    Case::Attack(Attack::ZeroRttNotInTopology)
                        if versions.contains(&Versions::Tls13) && args.stacks.contains(&Stack::Rustls) =>
                    {
                        let impostor = arsenal
                            .identity(Attack::ZeroRttNotInTopology)
                            .context("the 0-RTT impostor")?;
                        cells.push(zero_rtt_cell(&pki, &trust, impostor, &provider, &pool, &names).await?);
                    }
                    _ => {}
                }
            }
        }
        let name = deployment.as_ref().map_or(names.server.clone(), |d| d.1.clone());
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
            schema: SCHEMA.into(),
            failed: cells.len() - passed,
            passed,
            seconds: started.elapsed().as_secs_f64(),
            target,
            at: args.at.map(trust::format_time),
            cells,
            deployment: described,
            names: Some(names.clone()),
            notes,
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
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
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
