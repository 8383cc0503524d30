//! `sipbench run`: the command line's options, converted into a [`RunConfig`] and run by
//! [`run`](crate::generator::run). Nothing here but parsing and printing.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::exit;
use crate::failure::FailureKind;
use crate::generator::config::{ProfileSource, RunConfig, TargetConfig};
use crate::pki::KeyType;
use crate::plan::PhaseSpec;
use crate::tls::Backend;

pub use crate::generator::target::EMBEDDED_SERVER_NAME;

/// Options of `sipbench run` (and, flattened, of `sipbench compare`).
#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    /// Load profile: a TOML file, or the name of a shipped profile (`sipbench profiles` lists
    /// them; they are embedded, so `--profile smoke` works from any directory). Without it, the
    /// embedded default profile runs; with phase flags and neither a profile nor --phase, one
    /// phase is built from the flags alone.
    #[arg(long, value_name = "FILE|NAME", value_hint = clap::ValueHint::FilePath)]
    pub profile: Option<PathBuf>,
    /// Run only the named phase(s) of the profile.
    #[arg(long = "phase", value_name = "NAME")]
    pub phases: Vec<String>,
    /// Worker threads, each with its own runtime. [default: one per core]
    #[arg(short = 'w', long, alias = "threads", value_parser = crate::limits::workers)]
    pub workers: Option<usize>,
    /// Crypto backend of the generator (`sipbench backends` lists them).
    #[arg(long, value_enum, default_value_t = Backend::AwsLcRs)]
    pub backend: Backend,
    /// Crypto backend of the embedded server. [default: the generator's --backend]
    #[arg(long, value_enum)]
    pub server_backend: Option<Backend>,

    /// Phase settings; each overrides that field in every phase of the profile.
    #[command(flatten)]
    pub phase: PhaseSpec,

    /// A real deployment's TLS listener: HOST:PORT, or a SIP domain alone, found as SIP does
    /// (RFC 3263: NAPTR SIPS+D2T, SRV _sips._tcp, A/AAAA; sessions spread over the best SRV
    /// priority by weight). Without it, the built-in server runs in this process with a
    /// throwaway PKI.
    #[arg(long, alias = "target", value_name = "HOST:PORT|DOMAIN", help_heading = "Target")]
    pub tls_addr: Option<String>,
    /// DNS server for target lookups (IP:PORT). [default: the system's resolvers]
    #[arg(long, value_name = "IP:PORT", requires = "tls_addr", help_heading = "Target")]
    pub dns_server: Option<std::net::SocketAddr>,
    /// Pin a host name to an address before any DNS, as curl's --resolve (repeat for more).
    #[arg(long, value_name = "NAME:IP", value_parser = crate::dns::parse_pin, requires = "tls_addr",
        help_heading = "Target")]
    pub resolve: Vec<(String, std::net::IpAddr)>,
    /// Source addresses to connect from, taken in turn by the sessions: a comma-separated list
    /// of addresses and ranges, e.g. 127.0.0.2-127.0.0.20,::1 (each source address has its own
    /// ~28,000 ephemeral ports, so more addresses hold more connections). [default: the
    /// kernel's choice]
    #[arg(long, value_name = "LIST", value_parser = crate::limits::local_addrs, help_heading = "Target")]
    pub local_addrs: Vec<Vec<std::net::IpAddr>>,
    /// The deployment's MTLS (server-to-server) listener. [default: --tls-addr]
    #[arg(
        long,
        alias = "mtls-target",
        value_name = "HOST:PORT",
        requires = "tls_addr",
        help_heading = "Target"
    )]
    pub mtls_addr: Option<String>,
    /// The deployment's cleartext TCP listener (mode tcp).
    #[arg(
        long,
        alias = "tcp-target",
        value_name = "HOST:PORT",
        requires = "tls_addr",
        help_heading = "Target"
    )]
    pub tcp_addr: Option<String>,
    /// The deployment's UDP listener (mode udp): host:port, or a SIP domain (NAPTR `SIP+D2U`,
    /// SRV `_sip._udp`).
    #[arg(long, value_name = "HOST:PORT", requires = "tls_addr", help_heading = "Target")]
    pub udp_addr: Option<String>,
    /// DNS name the server certificate must carry. [default: the host of --tls-addr]
    #[arg(long, value_name = "NAME", help_heading = "Target")]
    pub server_name: Option<String>,
    /// CA bundle (PEM) the server certificate must chain to (any name, no revocation checks);
    /// `system`: the operating system's roots (SSL_CERT_FILE, else the distribution's bundle),
    /// as federation edges with public-CA certificates need.
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
    /// deployment.
    #[arg(long, value_name = "DIR", help_heading = "Target")]
    pub pki: Option<PathBuf>,
    /// Embedded server: no CRL checks on either side (to measure what revocation checking
    /// costs; the built-in topology checks CRLs by default).
    #[arg(long, help_heading = "Target", conflicts_with = "tls_addr")]
    pub no_revocation: bool,
    /// Key type of the embedded server's throwaway PKI.
    #[arg(long, value_enum, default_value_t = KeyType::EcdsaP256, help_heading = "Target")]
    pub key_type: KeyType,
    /// Embedded server: the throwaway PKI has issuing CAs between its roots and the leaves
    /// (as `pki init --intermediate`), so every handshake carries and verifies a longer chain.
    #[arg(long, help_heading = "Target", conflicts_with = "tls_addr")]
    pub intermediate: bool,

    /// Run shard I of N (numbered from 0): this process takes its part of the rate,
    /// concurrency, connections, session budget, users and source addresses, and numbers its
    /// sessions apart from the other shards'; `sipbench merge` adds the shards' results up.
    #[arg(long, value_name = "I/N", help_heading = "Scale out")]
    pub shard: Option<crate::shard::Shard>,
    /// Shards in the run, with this shard's index read from JOB_COMPLETION_INDEX (as a
    /// Kubernetes Indexed Job sets it): `--shards N` is `--shard $JOB_COMPLETION_INDEX/N`
    /// (--shard, when given, wins).
    #[arg(long, value_name = "N", env = "SIPBENCH_SHARDS", help_heading = "Scale out",
        value_parser = clap::value_parser!(u32).range(1..))]
    pub shards: Option<u32>,
    /// This shard's index with --shards (from 0); ignored without it.
    #[arg(long, env = "JOB_COMPLETION_INDEX", hide = true)]
    pub shard_index: Option<u32>,
    /// Start the first phase at this wall-clock instant (RFC 3339, e.g. 2026-11-30T03:00:00Z),
    /// so that every shard given the same one starts together; refused when more than a
    /// second in the past.
    #[arg(long, value_name = "TIME", value_parser = crate::trust::parse_at, help_heading = "Scale out")]
    pub start_at: Option<rustls_pki_types::UnixTime>,
    /// Measure this host's clock against the target's during the run (from the Date headers
    /// of a few OPTIONS on one extra session, which the target counts) and record it as
    /// `clock` in the results; `auto`: for shards and runs with --start-at.
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        default_value = "auto",
        help_heading = "Scale out"
    )]
    pub clock_probe: crate::generator::config::ClockProbe,

    /// After each phase, run the bare tokio-rustls loop that matches it (same crypto provider,
    /// cipher suite, key exchange group, key type and threads; full TLS/MTLS sessions closed
    /// loop, kept TLS sessions, or one-way TLS record streams) in this process, and store the phase's rate against it as
    /// `efficiency` (embedded server only; about 2 to 6 s a phase).
    #[arg(long, help_heading = "Output")]
    pub efficiency: bool,

    /// Results file. [default: results/PROFILE-TIME.json]
    #[arg(short = 'o', long, value_name = "FILE", help_heading = "Output")]
    pub out: Option<PathBuf>,
    /// Do not print progress or the per-phase summary: only `results written to PATH` on
    /// stderr (the results file is still written).
    #[arg(short = 'q', long, help_heading = "Output")]
    pub quiet: bool,
    /// Print the results file's JSON on standard output instead of the summary (no progress).
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    /// Also write an HdrHistogram interval log (v1.2) to this file as the run goes: values in
    /// nanoseconds, every second one untagged histogram (the phase's headline latency: what
    /// `HistogramLogProcessor -i FILE` reads, printing milliseconds) and one per metric tagged
    /// phase/metric (`-tag phase/metric`).
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub hlog: Option<PathBuf>,
    /// Serve live OpenMetrics at http://ADDR/metrics while the run goes (per phase: sessions,
    /// failures, transactions, handshakes, latency, updated once a second; with the embedded
    /// server, its counters too). Port 0: any free port, printed on standard error.
    #[arg(long, value_name = "ADDR", help_heading = "Output")]
    pub metrics: Option<std::net::SocketAddr>,
    /// Keep the metrics endpoint up this long after the run ends (after the results file is
    /// written), so that a scraper gets the last values.
    #[arg(long, value_name = "DURATION", value_parser = crate::limits::run_duration,
        default_value = "0s", requires = "metrics", help_heading = "Output")]
    pub metrics_linger: std::time::Duration,
}

impl RunArgs {
    /// The run these options describe.
    pub fn into_config(self) -> RunConfig {
        // An index at or past the count is dropped here; `main` refuses it first.
        let shard = self
            .shard
            .or_else(|| crate::shard::Shard::new(self.shard_index?, self.shards?).ok());
        RunConfig {
            shard,
            start_at: self.start_at,
            clock_probe: self.clock_probe,
            efficiency: self.efficiency,
            profile: self.profile.map_or(ProfileSource::Default, ProfileSource::File),
            phase: self.phase,
            phases: self.phases,
            workers: self.workers,
            backend: self.backend,
            server_backend: self.server_backend,
            target: TargetConfig {
                tls_addr: self.tls_addr,
                mtls_addr: self.mtls_addr,
                tcp_addr: self.tcp_addr,
                udp_addr: self.udp_addr,
                server_name: self.server_name,
                ca: self.ca,
                topology: self.topology,
                at: self.at,
                cert: self.cert,
                key: self.key,
                pki: self.pki,
                no_revocation: self.no_revocation,
                key_type: self.key_type,
                intermediate: self.intermediate,
                dns_server: self.dns_server,
                resolve: self.resolve,
                local_addrs: self.local_addrs.into_iter().flatten().collect(),
            },
            out: self.out,
            // --json prints the results file instead of the summary, so prints nothing else.
            quiet: self.quiet || self.json,
            hlog: self.hlog,
            metrics: self.metrics,
            metrics_linger: self.metrics_linger,
        }
    }
}

impl From<RunArgs> for RunConfig {
    fn from(args: RunArgs) -> RunConfig {
        args.into_config()
    }
}

/// Entry point for the binary: runs and maps the outcome to an exit status (0 done, 1 a
/// threshold broken, 3 a task panicked, 130 interrupted; errors are returned and mapped by
/// [`crate::exit`]).
pub fn main(args: RunArgs) -> Result<ExitCode> {
    let (json, quiet) = (args.json, args.quiet);
    match (args.shard, args.shard_index, args.shards) {
        (None, Some(index), Some(count)) => {
            crate::shard::Shard::new(index, count).map_err(|_| {
                exit::config(anyhow::anyhow!(
                    "JOB_COMPLETION_INDEX {index}: must be below --shards {count}"
                ))
            })?;
        }
        (None, None, Some(count)) => {
            return Err(exit::config(anyhow::anyhow!(
                "--shards {count}: the shard's index comes from JOB_COMPLETION_INDEX, which is not set (or give --shard I/N)"
            )));
        }
        _ => {}
    }
    let report = crate::generator::run(&args.into_config())?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.result).map_err(exit::runtime)?
        );
    } else if quiet {
        // Quiet still says where the results went, on stderr: scripts need the path.
        eprintln!("results written to {}", report.path.display());
    } else {
        println!("\nresults written to {}", report.path.display());
    }
    let panicked: u64 = report
        .result
        .phases
        .iter()
        .filter_map(|p| p.failures.get(&FailureKind::Panic.to_string()))
        .sum();
    let broken: Vec<String> = report
        .result
        .phases
        .iter()
        .flat_map(|p| {
            p.broken_thresholds()
                .map(move |t| format!("{}: {}", p.plan.name, t.expression))
        })
        .collect();
    Ok(ExitCode::from(if report.result.interrupted {
        exit::INTERRUPTED
    } else if panicked > 0 {
        eprintln!("error: {panicked} generator task(s) panicked (see the results file's warnings)");
        exit::RUNTIME
    } else if !broken.is_empty() {
        eprintln!("thresholds broken: {}", broken.join(", "));
        exit::THRESHOLD
    } else {
        exit::SUCCESS
    }))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Run {
        #[command(flatten)]
        args: RunArgs,
    }

    fn parse(args: &[&str]) -> RunConfig {
        Run::try_parse_from(std::iter::once("run").chain(args.iter().copied()))
            .unwrap()
            .args
            .into_config()
    }

    #[test]
    fn no_flags_is_the_default_config_and_phase_flags_fill_the_overrides() {
        assert_eq!(parse(&[]), RunConfig::default());
        assert_eq!(RunArgs::default().into_config(), RunConfig::default());
        let config = parse(&["-c", "3", "--max-in-flight", "9", "--handshake-timeout", "2s"]);
        assert_eq!(
            config.phase,
            PhaseSpec {
                concurrency: Some(3),
                max_in_flight: Some(9),
                handshake_timeout: Some(std::time::Duration::from_secs(2)),
                ..Default::default()
            }
        );
    }

    #[test]
    fn a_shard_is_i_of_n_from_zero() {
        let config = parse(&["--shard", "1/3", "--start-at", "2030-01-01T00:00:00Z"]);
        assert_eq!(config.shard, Some(crate::shard::Shard::new(1, 3).unwrap()));
        assert!(config.start_at.is_some());
        assert!(Run::try_parse_from(["run", "--shard", "3/3"]).is_err());
        let config = parse(&["--shard", "0/2", "--shards", "3", "--shard-index", "1"]);
        assert_eq!(config.shard, Some(crate::shard::Shard::new(0, 2).unwrap()));
        let config = parse(&["--shards", "3", "--shard-index", "1"]);
        assert_eq!(config.shard, Some(crate::shard::Shard::new(1, 3).unwrap()));
    }

    #[test]
    fn old_spellings_are_hidden_aliases() {
        let config = parse(&[
            "--target",
            "a:1",
            "--mtls-target",
            "b:2",
            "--tcp-target",
            "c:3",
            "--threads",
            "2",
        ]);
        assert_eq!(config.target.tls_addr.as_deref(), Some("a:1"));
        assert_eq!(config.target.mtls_addr.as_deref(), Some("b:2"));
        assert_eq!(config.target.tcp_addr.as_deref(), Some("c:3"));
        assert_eq!(config.workers, Some(2));
        // A deployment's other listeners without its TLS listener would be ignored: refused.
        assert!(Run::try_parse_from(["run", "--mtls-addr", "b:2"]).is_err());
    }
}
