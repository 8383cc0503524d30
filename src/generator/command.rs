//! `sipbench run`: options, target set-up (embedded server or a real deployment), the phase
//! loop, output and the results file.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::generator::target::{embedded_target, remote_target};
use crate::generator::{Stop, run_phase};
use crate::pki::{KeyType, Pki};
use crate::plan::{self, EarlyData, Mode, PhasePlan, PhaseSpec, Profile, Resumption, Txn, Workload};
use crate::pool::{self, Pool};
use crate::results::{RunResult, SCHEMA, now_rfc3339};
use crate::server::{self, ServerConfig};
use crate::sys::{self, Environment};
use crate::tls::{self, Backend, ServerResumption, Versions};
use crate::trust::Trust;
use crate::{printer, signals};

pub use crate::generator::target::EMBEDDED_SERVER_NAME;

/// Options of `sipbench run`.
#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    /// Load profile (TOML). Without it, the embedded default profile runs; with phase flags
    /// and neither a profile nor --phase, one phase is built from the flags alone.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Run only the named phase(s) of the profile.
    #[arg(long = "phase", value_name = "NAME")]
    pub phases: Vec<String>,

    /// tls (client to server), mtls (server to server) or tcp (cleartext baseline).
    #[arg(long, value_enum, help_heading = "Phase (overrides every phase of a profile)")]
    pub mode: Option<Mode>,
    /// sessions (connect, handshake, transactions, close), kept or hold.
    #[arg(long, value_enum, help_heading = "Phase (overrides every phase of a profile)")]
    pub workload: Option<Workload>,
    /// Closed loop: sessions in flight.
    #[arg(
        short = 'c',
        long,
        conflicts_with = "rate",
        help_heading = "Phase (overrides every phase of a profile)"
    )]
    pub concurrency: Option<usize>,
    /// Open loop: session starts per second (workload kept: transactions per second).
    #[arg(short = 'r', long, help_heading = "Phase (overrides every phase of a profile)")]
    pub rate: Option<f64>,
    /// Sessions kept open (workloads kept and hold).
    #[arg(long, help_heading = "Phase (overrides every phase of a profile)")]
    pub connections: Option<usize>,
    /// Stop after this many measured sessions.
    #[arg(short = 'n', long, help_heading = "Phase (overrides every phase of a profile)")]
    pub sessions: Option<u64>,
    /// Measured time, e.g. 10s, 1m.
    #[arg(short = 'd', long, value_parser = humantime::parse_duration, help_heading = "Phase (overrides every phase of a profile)")]
    pub duration: Option<Duration>,
    /// Warm-up before measuring, e.g. 1s.
    #[arg(long, value_parser = humantime::parse_duration, help_heading = "Phase (overrides every phase of a profile)")]
    pub warmup: Option<Duration>,
    /// SIP transactions per session, comma-separated: REGISTER, OPTIONS, MESSAGE, INVITE.
    #[arg(
        long,
        value_delimiter = ',',
        help_heading = "Phase (overrides every phase of a profile)"
    )]
    pub transactions: Option<Vec<Txn>>,
    /// TLS versions the generator offers.
    #[arg(long, value_enum, help_heading = "Phase (overrides every phase of a profile)")]
    pub tls_versions: Option<Versions>,
    /// Let the client resume TLS sessions.
    #[arg(long, help_heading = "Phase (overrides every phase of a profile)")]
    pub resumption: Option<Resumption>,
    /// With --resumption tls13-0rtt: whether the embedded server accepts early data.
    #[arg(long, value_enum, help_heading = "Phase (overrides every phase of a profile)")]
    pub early_data: Option<EarlyData>,
    /// Client session cache entries per worker.
    #[arg(long, help_heading = "Phase (overrides every phase of a profile)")]
    pub session_cache: Option<usize>,
    /// Embedded server session cache entries.
    #[arg(long, help_heading = "Phase (overrides every phase of a profile)")]
    pub server_cache: Option<usize>,
    /// Ticket lifetime the embedded server advertises, e.g. 2h.
    #[arg(long, value_parser = humantime::parse_duration, help_heading = "Phase (overrides every phase of a profile)")]
    pub ticket_lifetime: Option<Duration>,
    /// Workload records: bytes per write (one TLS record up to 16 KiB).
    #[arg(long, help_heading = "Phase (overrides every phase of a profile)")]
    pub record_size: Option<usize>,
    /// Workload records: up (client to server) or both (echoed).
    #[arg(long, value_enum, help_heading = "Phase (overrides every phase of a profile)")]
    pub direction: Option<crate::plan::Direction>,
    /// Workload messages: MESSAGE body bytes.
    #[arg(long, help_heading = "Phase (overrides every phase of a profile)")]
    pub body_size: Option<usize>,
    /// Workload messages: requests outstanding per session.
    #[arg(long, help_heading = "Phase (overrides every phase of a profile)")]
    pub window: Option<usize>,
    /// Mode mtls, workload sessions: a share of sessions presents this bad certificate (e.g.
    /// revoked); each must be refused, and is reported apart from the good ones.
    #[arg(
        long,
        value_enum,
        value_name = "CASE",
        help_heading = "Phase (overrides every phase of a profile)"
    )]
    pub bad_cert: Option<crate::pki::BadCert>,
    /// Share of sessions presenting --bad-cert (default 0.2).
    #[arg(long, help_heading = "Phase (overrides every phase of a profile)")]
    pub bad_cert_share: Option<f64>,
    /// Offer only this cipher suite, e.g. TLS13_AES_128_GCM_SHA256.
    #[arg(long, help_heading = "Phase (overrides every phase of a profile)")]
    pub cipher_suite: Option<String>,
    /// Offer only this key exchange group: X25519, secp256r1, secp384r1, X25519MLKEM768 (where
    /// the backend has it; `sipbench backends` lists them).
    #[arg(long, help_heading = "Phase (overrides every phase of a profile)")]
    pub kx_group: Option<String>,
    /// TCP connect timeout.
    #[arg(long, value_parser = humantime::parse_duration, help_heading = "Phase (overrides every phase of a profile)")]
    pub connect_timeout: Option<Duration>,
    /// TLS handshake timeout.
    #[arg(long, value_parser = humantime::parse_duration, help_heading = "Phase (overrides every phase of a profile)")]
    pub handshake_timeout: Option<Duration>,
    /// SIP transaction timeout.
    #[arg(long, value_parser = humantime::parse_duration, help_heading = "Phase (overrides every phase of a profile)")]
    pub sip_timeout: Option<Duration>,

    /// Worker threads (default: all cores).
    #[arg(short = 'w', long)]
    pub workers: Option<usize>,
    /// Crypto backend of the generator (`sipbench backends` lists them).
    #[arg(long, value_enum, default_value_t = Backend::AwsLcRs)]
    pub backend: Backend,
    /// Crypto backend of the embedded server; default: the generator's --backend.
    #[arg(long, value_enum)]
    pub server_backend: Option<Backend>,

    /// A real deployment's TLS listener (host:port). Without it, the built-in server runs in
    /// this process with a throwaway PKI.
    #[arg(long, value_name = "HOST:PORT", help_heading = "Target")]
    pub target: Option<String>,
    /// The deployment's MTLS (server-to-server) listener; default: --target.
    #[arg(long, value_name = "HOST:PORT", help_heading = "Target")]
    pub mtls_target: Option<String>,
    /// The deployment's cleartext TCP listener (mode tcp).
    #[arg(long, value_name = "HOST:PORT", help_heading = "Target")]
    pub tcp_target: Option<String>,
    /// DNS name the server certificate must carry; default: the host of --target.
    #[arg(long, value_name = "NAME", help_heading = "Target")]
    pub server_name: Option<String>,
    /// CA bundle (PEM) the server certificate must chain to.
    #[arg(long, value_name = "FILE", help_heading = "Target")]
    pub ca: Option<PathBuf>,
    /// Topology file (see `sipbench pki init`): the trusted CAs with their CRLs and domains,
    /// and the servers trusted for MTLS. Instead of --ca.
    #[arg(long, value_name = "FILE", help_heading = "Target", conflicts_with = "ca")]
    pub topology: Option<PathBuf>,
    /// Evaluate certificate and CRL validity at this time instead of now (2027-01-31 or
    /// RFC 3339), e.g. to see what fails after an expiry.
    #[arg(long, value_name = "TIME", value_parser = crate::trust::parse_at, help_heading = "Target")]
    pub at: Option<rustls_pki_types::UnixTime>,
    /// Certificate chain (PEM) presented in mode mtls.
    #[arg(long, value_name = "FILE", requires = "key", help_heading = "Target")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of --cert.
    #[arg(long, value_name = "FILE", requires = "cert", help_heading = "Target")]
    pub key: Option<PathBuf>,
    /// PKI directory (`sipbench pki init`) whose bad/ certificates --bad-cert presents to a
    /// remote target.
    #[arg(long, value_name = "DIR", help_heading = "Target")]
    pub pki: Option<PathBuf>,
    /// Embedded server: no CRL checks on either side (to measure what revocation checking
    /// costs; the built-in topology checks CRLs by default).
    #[arg(long, help_heading = "Target", conflicts_with = "target")]
    pub no_revocation: bool,
    /// Key type of the embedded server's throwaway PKI.
    #[arg(long, value_enum, default_value_t = KeyType::EcdsaP256, help_heading = "Target")]
    pub key_type: KeyType,
    /// Embedded server: the throwaway PKI has issuing CAs between its roots and the leaves
    /// (as `pki init --intermediate`), so every handshake carries and verifies a longer chain.
    #[arg(long, help_heading = "Target", conflicts_with = "target")]
    pub intermediate: bool,

    /// Results file; default results/<profile>-<time>.json.
    #[arg(short = 'o', long, value_name = "FILE", help_heading = "Output")]
    pub out: Option<PathBuf>,
    /// Do not print progress or the per-phase summary (the results file is still written).
    #[arg(short = 'q', long, help_heading = "Output")]
    pub quiet: bool,
    /// Print the results file's JSON on standard output instead of the summary (no progress).
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    /// Also write HdrHistogram interval logs (v1.2, one histogram per metric and phase a
    /// second, tagged phase/metric) to this file as the run goes.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub hlog: Option<PathBuf>,
}

impl RunArgs {
    fn phase_flags(&self) -> PhaseSpec {
        PhaseSpec {
            name: None,
            mode: self.mode,
            workload: self.workload,
            concurrency: self.concurrency,
            rate: self.rate,
            connections: self.connections,
            sessions: self.sessions,
            duration: self.duration,
            warmup: self.warmup,
            transactions: self.transactions.clone(),
            tls_versions: self.tls_versions,
            resumption: self.resumption,
            early_data: self.early_data,
            session_cache: self.session_cache,
            server_cache: self.server_cache,
            ticket_lifetime: self.ticket_lifetime,
            cipher_suite: self.cipher_suite.clone(),
            kx_group: self.kx_group.clone(),
            connect_timeout: self.connect_timeout,
            handshake_timeout: self.handshake_timeout,
            sip_timeout: self.sip_timeout,
            max_in_flight: None,
            record_size: self.record_size,
            direction: self.direction,
            body_size: self.body_size,
            window: self.window,
            bad_cert: self.bad_cert,
            bad_cert_share: self.bad_cert_share,
        }
    }

    /// The profile to run and the resolved phases.
    pub fn plan(&self) -> Result<(String, Vec<PhasePlan>)> {
        let flags = self.phase_flags();
        let profile = match &self.profile {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).with_context(|| format!("reading profile {}", path.display()))?;
                Profile::parse(&text).with_context(|| format!("profile {}", path.display()))?
            }
            // Phase flags without a profile (and without --phase, which selects from the
            // default profile) describe a single phase of their own.
            None if !flags.is_empty() && self.phases.is_empty() => Profile {
                name: Some("cli".into()),
                phases: vec![PhaseSpec {
                    name: Some("cli".into()),
                    ..Default::default()
                }],
                ..Default::default()
            },
            None => Profile::parse(plan::DEFAULT_PROFILE).context("the embedded default profile")?,
        };
        let phases = plan::lower(&profile, &flags, &self.phases)?;
        Ok((profile.name.clone().unwrap_or_else(|| "unnamed".into()), phases))
    }
}

/// The summary of a finished (or interrupted) run.
#[derive(Debug)]
pub struct RunReport {
    /// What was written.
    pub result: RunResult,
    /// Where it was written.
    pub path: PathBuf,
}

/// Runs `sipbench run`; returns the report and writes the results file after every phase.
pub fn run(args: &RunArgs) -> Result<RunReport> {
    let fd_limit = sys::raise_fd_limit();
    let (profile, phases) = args.plan()?;
    let workers = args.workers.unwrap_or_else(pool::cores);
    if workers == 0 {
        bail!("--workers: must be > 0");
    }
    let path = args.out.clone().unwrap_or_else(|| {
        let stamp = now_rfc3339().replace([':', '-'], "");
        PathBuf::from("results").join(format!("{profile}-{stamp}.json"))
    });
    let pool = Pool::new(workers, "sipbench")?;
    let control = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the control runtime")?;
    let outcome = control.block_on(run_phases(args, &profile, &phases, &pool, fd_limit, &path));
    drop(control);
    // Joining the worker threads happens here, outside any runtime.
    drop(pool);
    let result = outcome?;
    Ok(RunReport { result, path })
}

async fn run_phases(
    args: &RunArgs,
    profile: &str,
    phases: &[PhasePlan],
    pool: &Pool,
    fd_limit: sys::FdLimit,
    path: &std::path::Path,
) -> Result<RunResult> {
    let interrupt = Arc::new(Stop::new());
    let signal_task = tokio::spawn(signals::on_interrupt({
        let interrupt = interrupt.clone();
        move || interrupt.set()
    }));
    let embedded = args.target.is_none();
    let server_backend = args.server_backend.unwrap_or(args.backend);
    let (target, server, key_type) = if let Some(t) = &args.target {
        (remote_target(args, t)?, None, None)
    } else {
        let (key_type, intermediate) = (args.key_type, args.intermediate);
        let pki = tokio::task::spawn_blocking(move || Pki::generate_with(key_type, intermediate))
            .await
            .context("generating the PKI")??;
        let revocation = if args.no_revocation {
            crate::trust::RevocationMode::Off
        } else {
            crate::trust::RevocationMode::Crl
        };
        let trust = Trust::for_pki_with(&pki, revocation)?.at(args.at);
        let mut config = ServerConfig::loopback(pki.server.clone(), trust.clone());
        config.per_thread_ports = true;
        config.backend = server_backend;
        tls::check_key_type(
            server_backend,
            &server_backend.provider(),
            key_type,
            Some(&pki.server.key),
        )
        .map_err(|e| anyhow::anyhow!("--server-backend: {e}"))?;
        let running = server::start(&config, pool)?;
        (
            embedded_target(&pki, trust, running.addrs()),
            Some(running),
            Some(key_type.as_str().to_owned()),
        )
    };
    let mut warnings = Vec::new();
    let per_session_fds = if embedded { 2 } else { 1 };
    let peak = phases
        .iter()
        .map(|p| peak_sessions(p) * per_session_fds + 64)
        .max()
        .unwrap_or(0) as u64;
    if peak > fd_limit.soft {
        warnings.push(format!(
            "open-files limit {} (hard {}) is below the ~{peak} descriptors the largest phase needs; sessions beyond it fail as connect errors",
            fd_limit.soft, fd_limit.hard
        ));
    } else if fd_limit.soft > fd_limit.soft_before {
        tracing::info!(
            "raised the open-files soft limit from {} to {}",
            fd_limit.soft_before,
            fd_limit.soft
        );
    }
    let mut result = RunResult {
        schema: SCHEMA.into(),
        started_at: now_rfc3339(),
        written_at: now_rfc3339(),
        complete: false,
        interrupted: false,
        command: std::env::args().collect(),
        profile: profile.to_owned(),
        target: target.info.clone(),
        environment: Environment::capture(args.backend, embedded.then_some(server_backend), fd_limit),
        key_type,
        workers: pool.len(),
        phases: Vec::new(),
        server: None,
        warnings,
    };
    if !(args.quiet || args.json) {
        print!("{}", printer::header(&result));
    }
    let ids = Arc::new(AtomicU64::new(0));
    let quiet = args.quiet || args.json;
    let mut progress = crate::generator::observe::Progress::default();
    let mut hlog = args
        .hlog
        .as_deref()
        .map(crate::generator::observe::HlogWriter::create)
        .transpose()?;
    for phase in phases {
        if interrupt.is_set() {
            break;
        }
        let endpoint = target.endpoint(phase, args.backend, pool.len())?;
        if let Some(s) = &server {
            // The embedded server follows the phase's resumption mode.
            s.set_resumption(ServerResumption::for_phase(phase))?;
        }
        if !(args.quiet || args.json) {
            eprintln!(
                "running phase {} ({} {}, {})...",
                phase.name,
                phase.mode.as_str(),
                phase.workload.as_str(),
                printer::describe_load(phase)
            );
        }
        let mut hlog_error = None;
        let mut observe = |i: &crate::generator::Interval<'_>| {
            if let Some(h) = hlog.as_mut()
                && let Err(e) = h.write(i)
            {
                hlog_error.get_or_insert(e);
            }
            if !quiet {
                progress.show(i);
            }
        };
        let outcome = run_phase(phase, endpoint, pool, &interrupt, ids.clone(), &mut observe).await;
        progress.finish();
        if let Some(e) = hlog_error {
            return Err(e);
        }
        let pr = outcome.result(phase, embedded);
        if !(args.quiet || args.json) {
            print!("{}", printer::phase(&pr));
        }
        result.phases.push(pr);
        result.interrupted |= outcome.interrupted;
        result.written_at = now_rfc3339();
        if let Some(s) = &server {
            result.server = Some(s.counters().snapshot());
        }
        result.write(path)?;
    }
    if let Some(s) = server {
        result.server = Some(s.shutdown(Duration::from_secs(2)).await);
    }
    result.interrupted |= interrupt.is_set();
    result.complete = !result.interrupted;
    result.written_at = now_rfc3339();
    result.write(path)?;
    signal_task.abort();
    Ok(result)
}

fn peak_sessions(p: &PhasePlan) -> usize {
    match (p.workload, p.load) {
        (Workload::Sessions, plan::Load::Closed { concurrency }) => concurrency,
        (Workload::Sessions, plan::Load::Open { .. }) => p.max_in_flight,
        _ => p.connections,
    }
}

/// Entry point for the binary: runs and maps the outcome to an exit status
/// (0 done, 130 interrupted; errors are returned).
pub fn main(args: &RunArgs) -> Result<ExitCode> {
    let report = run(args)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.result)?);
    } else if !args.quiet {
        println!("\nresults written to {}", report.path.display());
    }
    Ok(if report.result.interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_alone_make_one_phase_and_phase_selects_from_the_default_profile() {
        let args = RunArgs {
            concurrency: Some(3),
            ..Default::default()
        };
        let (profile, phases) = args.plan().unwrap();
        assert_eq!((profile.as_str(), phases.len()), ("cli", 1));

        let args = RunArgs {
            cipher_suite: Some("TLS13_AES_128_GCM_SHA256".into()),
            phases: vec!["mtls-full-handshake".into()],
            ..Default::default()
        };
        let (profile, phases) = args.plan().unwrap();
        assert_eq!(profile, "default");
        assert_eq!(phases.len(), 1);
        assert_eq!(phases[0].mode, Mode::Mtls);
        assert_eq!(phases[0].cipher_suite.as_deref(), Some("TLS13_AES_128_GCM_SHA256"));

        let (profile, phases) = RunArgs::default().plan().unwrap();
        assert_eq!((profile.as_str(), phases.len()), ("default", 3));
    }
}
