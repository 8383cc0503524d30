//! The run itself: set up the target (the embedded server or a real deployment), run the
//! phases in order on a worker pool, print progress and summaries, and write the results file
//! after every phase.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::generator::config::RunConfig;
use crate::generator::offset::unix_now;
use crate::generator::target::{Target, embedded_target, remote_target};
use crate::generator::{SessionIds, Stop, run_phase};
use crate::pki::Pki;
use crate::plan::{self, PhasePlan, Workload};
use crate::pool::{self, Pool};
use crate::results::{PhaseResult, RunResult, SCHEMA, now_rfc3339};
use crate::server::{self, RunningServer, ServerConfig};
use crate::sys::{self, Environment};
use crate::tls::{Backend, ClientSettings, Stack};
use crate::trust::Trust;
use crate::{exit, limits, printer, signals};

/// The summary of a finished (or interrupted) run.
#[derive(Debug)]
pub struct RunReport {
    /// What was written.
    pub result: RunResult,
    /// Where it was written.
    pub path: PathBuf,
}

/// Runs the phases of `config`; returns the report and writes the results file after every
/// phase (so an interrupted run keeps the phases done).
pub fn run(config: &RunConfig) -> Result<RunReport> {
    let fd_limit = sys::raise_fd_limit();
    let (profile, phases) = config.plan()?;
    let sharded;
    let config = match config.shard {
        Some(shard) => {
            // A shard connects from its share of the source addresses.
            let mut c = config.clone();
            c.target.local_addrs = shard
                .pick_all(&config.target.local_addrs, "--local-addr")
                .map_err(exit::config)?;
            sharded = c;
            &sharded
        }
        None => config,
    };
    if let Some(at) = config.start_at {
        let late = unix_now() - at.as_secs() as f64;
        if late > 1.0 {
            return Err(exit::config(anyhow::anyhow!(
                "--start-at: {} is {late:.1} s in the past",
                rfc3339(at)
            )));
        }
    }
    let Engine { pool, control, path } = Engine::new(config, &profile)?;
    let outcome = control.block_on(run_phases(config, &profile, &phases, &pool, fd_limit, &path));
    drop(control);
    // Joining the worker threads happens here, outside any runtime.
    drop(pool);
    let result = outcome?;
    Ok(RunReport { result, path })
}

/// What a command that runs phases sets up first: the worker pool, the control runtime that
/// drives it, and where the results go (`results/STEM-TIME.json` unless `--out`).
pub(crate) struct Engine {
    pub(crate) pool: Pool,
    pub(crate) control: tokio::runtime::Runtime,
    pub(crate) path: PathBuf,
}

impl Engine {
    /// Checks `--workers` and builds the pool and runtime (`run` and `capacity`).
    pub(crate) fn new(config: &RunConfig, stem: &str) -> Result<Engine> {
        let workers = config.workers.unwrap_or_else(pool::cores);
        if !(1..=limits::MAX_WORKERS).contains(&workers) {
            bail!("--workers: must be from 1 to {}", limits::MAX_WORKERS);
        }
        let path = config.out.clone().unwrap_or_else(|| {
            let stamp = now_rfc3339().replace([':', '-'], "");
            PathBuf::from("results").join(format!("{stem}-{stamp}.json"))
        });
        let pool = Pool::new(workers, "sipbench").map_err(exit::runtime)?;
        let control = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("building the control runtime")
            .map_err(exit::runtime)?;
        Ok(Engine { pool, control, path })
    }
}

/// An open-loop phase whose sends left later than this at the 99th percentile (microseconds)
/// fell behind its schedule: the run says so.
const LATE_P99_US: u64 = 5_000;

/// One phase run by [`Bench::run`].
pub(crate) struct PhaseRun {
    /// Its record, thresholds evaluated.
    pub(crate) result: PhaseResult,
    /// An interrupt cut it short.
    pub(crate) interrupted: bool,
    /// Generator tasks that panicked.
    pub(crate) panicked: u64,
    /// The merged stats behind the record.
    pub(crate) stats: crate::stats::PhaseStats,
}

/// A target set up for phases: the embedded server started with its throwaway PKI, or a
/// deployment resolved. `run` and `capacity` set it up once and run their phases against it.
pub(crate) struct Bench {
    pub(crate) target: Target,
    pub(crate) server: Option<RunningServer>,
    /// Key type of the embedded PKI (`None` for a deployment).
    pub(crate) key_type: Option<String>,
    pub(crate) embedded: bool,
    pub(crate) server_backend: Backend,
    stack: Arc<dyn Stack>,
    /// This process's shard of the run (a whole run: shard 0 of 1).
    shard: Option<crate::shard::Shard>,
}

impl Bench {
    /// Sets up the target of `config` on `pool` (configuration errors: nothing has run).
    pub(crate) async fn start(config: &RunConfig, pool: &Pool) -> Result<Bench> {
        let args = &config.target;
        let embedded = args.is_embedded();
        let server_backend = config.server_backend.unwrap_or(config.backend);
        let (target, server, key_type) = if let Some(t) = &args.tls_addr {
            (remote_target(args, t).await?, None, None)
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
            let mut server_config = ServerConfig::loopback(pki.server.clone(), trust.clone());
            server_config.per_thread_ports = true;
            server_config.backend = server_backend;
            server_backend
                .stack()
                .check(&ClientSettings::default(), Some(key_type), Some(&pki.server.key))
                .map_err(|e| anyhow::anyhow!("--server-backend: {}", e.problem))?;
            let running = server::start(&server_config, pool)?;
            (
                embedded_target(&pki, trust, running.addrs()),
                Some(running),
                Some(key_type.as_str().to_owned()),
            )
        };
        Ok(Bench {
            target,
            server,
            key_type,
            embedded,
            server_backend,
            stack: config.backend.stack(),
            shard: config.shard,
        })
    }

    /// Checks that the target and the generator's stack can run `phase`.
    pub(crate) fn check(&self, phase: &PhasePlan) -> Result<()> {
        self.target.check(phase, self.stack.as_ref())
    }

    /// Runs one phase and returns its record, thresholds evaluated, and how many generator
    /// tasks panicked. An error is a configuration error when the target cannot serve the
    /// phase, a runtime error otherwise.
    pub(crate) async fn run(
        &self,
        phase: &PhasePlan,
        pool: &Pool,
        interrupt: &Stop,
        ids: Arc<SessionIds>,
        observe: &mut (dyn FnMut(&crate::generator::Interval<'_>) + Send),
    ) -> Result<PhaseRun> {
        // A target that cannot serve a phase is a configuration error.
        let mut endpoint = self.target.endpoint(phase, self.stack.as_ref(), pool.len())?;
        if let Some(users) = &endpoint.users
            && let Some(shard) = self.shard
        {
            // A shard's sessions take its share of the users file.
            let mine = shard.pick_all(&users.users, "--users").map_err(exit::config)?;
            endpoint.users = Some(Arc::new(crate::users::Users {
                users: mine,
                order: users.order,
            }));
        }
        if let Some(s) = &self.server {
            // The embedded server follows the phase's resumption mode.
            s.set_resumption(
                phase
                    .resumption
                    .server(phase.server_cache, phase.ticket_lifetime, phase.early_data),
            )
            .map_err(exit::runtime)?;
        }
        let spread = endpoint.spread.clone();
        let outcome = run_phase(phase, endpoint, pool, interrupt, ids, observe).await;
        let mut pr = outcome.result(phase, self.embedded);
        pr.servers = spread.map(|s| s.counts()).filter(|c| c.len() > 1);
        pr.thresholds = Some(crate::threshold::evaluate(&phase.thresholds, &pr));
        Ok(PhaseRun {
            result: pr,
            interrupted: outcome.interrupted,
            panicked: outcome.panicked,
            stats: outcome.stats,
        })
    }

    /// Stops the embedded server, if any, and returns its counters.
    pub(crate) async fn shutdown(self) -> Option<crate::server::ServerStats> {
        match self.server {
            Some(s) => Some(s.shutdown(Duration::from_secs(2)).await),
            None => None,
        }
    }
}

/// The phase's bare-loop counterpart, run on blocking threads of its own (the workers are idle
/// between phases), and its rate against it.
async fn efficiency(
    config: &RunConfig,
    bench: &Bench,
    phase: &PhasePlan,
    pr: &PhaseResult,
    threads: usize,
) -> Result<crate::results::Efficiency, String> {
    if !bench.embedded {
        return Err(
            "the bare loop is held against the embedded server only (generator and server in one process)".into(),
        );
    }
    let (phase, pr) = (phase.clone(), pr.clone());
    let (backend, key_type) = (config.backend, config.target.key_type);
    tokio::task::spawn_blocking(move || crate::baseline::efficiency(&phase, &pr, backend, key_type, threads))
        .await
        .map_err(|e| format!("the bare loop failed: {e}"))?
        .map_err(|e| e.to_string())
}

/// The open-files limit against what the largest phase needs, as a warning.
pub(crate) fn fd_warning(phases: &[PhasePlan], embedded: bool, fd_limit: sys::FdLimit) -> Option<String> {
    let per_session_fds = if embedded { 2 } else { 1 };
    let peak = phases
        .iter()
        .map(|p| peak_sessions(p) * per_session_fds + 64)
        .max()
        .unwrap_or(0) as u64;
    if peak > fd_limit.soft {
        return Some(format!(
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
    None
}

async fn run_phases(
    config: &RunConfig,
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
    let bench = Bench::start(config, pool).await?;
    let metrics = match config.metrics {
        None => None,
        Some(addr) => {
            let mut registry = prometheus_client::registry::Registry::default();
            let run = crate::metrics::RunMetrics::new();
            run.register(&mut registry);
            if let Some(s) = &bench.server {
                crate::metrics::ServerMetrics::new(s.counters().clone(), s.open_connections()).register(&mut registry);
            }
            let endpoint = crate::metrics::Endpoint::bind(addr, registry)
                .await
                .with_context(|| format!("--metrics {addr}"))
                .map_err(exit::config)?;
            eprintln!("sipbench run: metrics {}", endpoint.addr());
            Some((run, endpoint))
        }
    };
    // Every phase is checked against the stack before the first one runs.
    for phase in phases {
        bench.check(phase)?;
    }
    let warnings = fd_warning(phases, bench.embedded, fd_limit).into_iter().collect();
    let mut result = RunResult {
        schema: SCHEMA.into(),
        started_at: now_rfc3339(),
        written_at: now_rfc3339(),
        complete: false,
        interrupted: false,
        command: std::env::args().collect(),
        profile: profile.to_owned(),
        target: bench.target.info.clone(),
        environment: Environment::capture(config.backend, bench.embedded.then_some(bench.server_backend), fd_limit),
        key_type: bench.key_type.clone(),
        workers: pool.len(),
        phases: Vec::new(),
        server: None,
        warnings,
        capacity: None,
        shard: config.shard.map(|s| s.info()),
        start_at: config.start_at.map(rfc3339),
        merged_from: None,
        shards: Vec::new(),
        clock: None,
    };
    let quiet = config.quiet;
    if !quiet {
        print!("{}", printer::header(&result));
    }
    let shard = config.shard.unwrap_or_default();
    let ids = Arc::new(SessionIds::new(shard));
    // The clock probe runs beside the phases (through the --start-at wait too), on its own
    // session to the first phase's target.
    let probe_stop = Arc::new(Stop::new());
    let probe = match phases.first().filter(|_| config.probes_clock()) {
        None => None,
        Some(first) => {
            let endpoint = bench
                .target
                .endpoint(first, bench.stack.as_ref(), 1)
                .map_err(exit::config)?;
            let limits = crate::tls::Limits {
                connect: first.connect_timeout,
                handshake: first.handshake_timeout,
                local: None,
            };
            Some(tokio::spawn(crate::generator::offset::probe(
                endpoint,
                ids.probe(),
                limits,
                first.sip_timeout,
                probe_stop.clone(),
            )))
        }
    };
    if let Some(at) = config.start_at {
        // Every shard given the same instant opens its first phase on it (as far as the hosts'
        // clocks agree).
        let wait = at.as_secs() as f64 - unix_now();
        if wait > 0.0 {
            if !quiet {
                eprintln!("waiting {wait:.1} s for --start-at {}...", rfc3339(at));
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs_f64(wait)) => {}
                _ = interrupt.wait() => {}
            }
        }
    }
    let mut progress = crate::generator::observe::Progress::default();
    let mut hlog = config
        .hlog
        .as_deref()
        .map(crate::generator::observe::HlogWriter::create)
        .transpose()?;
    // From here on the run has started: an error is a runtime error (exit status 3).
    for phase in phases {
        if interrupt.is_set() {
            break;
        }
        if !quiet {
            eprintln!(
                "running phase {} ({} {}, {}, warm-up {})...",
                phase.name,
                phase.mode.as_str(),
                phase.workload.as_str(),
                printer::describe_load(phase),
                humantime::format_duration(phase.warmup)
            );
            progress.start(phase);
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
            if let Some((m, _)) = &metrics {
                m.observe(i);
            }
        };
        let outcome = bench.run(phase, pool, &interrupt, ids.clone(), &mut observe).await;
        progress.finish();
        let PhaseRun {
            result: pr,
            interrupted,
            panicked,
            stats,
        } = outcome?;
        if let Some(e) = hlog_error {
            return Err(exit::runtime(e));
        }
        if let Some((m, _)) = &metrics {
            m.finish(phase, &stats);
        }
        if panicked > 0 {
            let warning = format!(
                "phase {}: {} generator task(s) panicked (counted as `panic` failures; a bug in sipbench, see stderr)",
                phase.name, panicked
            );
            eprintln!("warning: {warning}");
            result.warnings.push(warning);
        }
        if let Some(lag) = pr.latency_us.get("generator.lag")
            && lag.p99 > LATE_P99_US
        {
            let warning = format!(
                "phase {}: the generator sent late (generator.lag p99 {:.1} ms, max {:.1} ms): it fell behind its schedule (the rate, or too few sessions or slots for it), and the corrected latencies include that delay",
                phase.name,
                lag.p99 as f64 / 1000.0,
                lag.max as f64 / 1000.0
            );
            eprintln!("warning: {warning}");
            result.warnings.push(warning);
        }
        let mut pr = pr;
        if config.efficiency && !interrupt.is_set() {
            match efficiency(config, &bench, phase, &pr, pool.len()).await {
                Ok(e) => pr.efficiency = Some(e),
                Err(why) => {
                    if !quiet {
                        eprintln!("phase {}: no efficiency figure: {why}", phase.name);
                    }
                }
            }
        }
        if !quiet {
            print!("{}", printer::phase(&pr));
        }
        result.phases.push(pr);
        result.interrupted |= interrupted;
        result.written_at = now_rfc3339();
        if let Some(s) = &bench.server {
            result.server = Some(s.counters().snapshot());
        }
        result.write(path).map_err(exit::runtime)?;
    }
    if let Some(probe) = probe {
        probe_stop.set();
        result.clock = match tokio::time::timeout(Duration::from_secs(5), probe).await {
            Ok(Ok(clock)) => Some(clock),
            _ => None,
        };
        if let Some(c) = &result.clock
            && !quiet
        {
            eprintln!("{}", printer::clock(c));
        }
    }
    result.server = bench.shutdown().await.or(result.server);
    result.interrupted |= interrupt.is_set();
    result.complete = !result.interrupted;
    result.written_at = now_rfc3339();
    result.write(path).map_err(exit::runtime)?;
    if let Some((_, endpoint)) = &metrics
        && !config.metrics_linger.is_zero()
    {
        eprintln!(
            "sipbench run: done; metrics {} stay up {} (an interrupt ends it)",
            endpoint.addr(),
            humantime::format_duration(config.metrics_linger)
        );
        tokio::select! {
            _ = tokio::time::sleep(config.metrics_linger) => {}
            _ = interrupt.wait() => {}
        }
    }
    signal_task.abort();
    Ok(result)
}

/// `at` as RFC 3339 UTC.
fn rfc3339(at: rustls_pki_types::UnixTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(at.as_secs() as i64)
        .ok()
        .and_then(|t| t.format(&f).ok())
        .unwrap_or_else(|| at.as_secs().to_string())
}

fn peak_sessions(p: &PhasePlan) -> usize {
    match (p.workload, p.load) {
        (Workload::Sessions, plan::Load::Closed { concurrency }) => concurrency,
        (Workload::Sessions, plan::Load::Open { .. }) => p.max_in_flight,
        _ => p.connections,
    }
}
