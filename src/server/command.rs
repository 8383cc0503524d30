//! `sipbench serve`: the reference server as a standalone process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use rustls_pki_types::UnixTime;
use tracing::{info, warn};

use super::{RunningServer, ServerConfig, start};
use crate::exit;
use crate::pki::{self, Identity, KeyType, Pki};
use crate::pool::Pool;
use crate::tls::{Backend, ServerResumption, Versions};
use crate::trust::{TopologyFile, Trust};

/// Options of `sipbench serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address of the TLS listener to bind (client to server; port 0: any free port).
    #[arg(long, alias = "tls", value_name = "ADDR", default_value = "127.0.0.1:5061")]
    pub tls_addr: SocketAddr,
    /// Address of the MTLS listener to bind (server to server; client certificate required).
    #[arg(long, alias = "mtls", value_name = "ADDR", default_value = "127.0.0.1:5062")]
    pub mtls_addr: SocketAddr,
    /// Address of the cleartext TCP listener to bind (baseline).
    #[arg(long, alias = "tcp", value_name = "ADDR", default_value = "127.0.0.1:5060")]
    pub tcp_addr: SocketAddr,
    /// Address of the UDP listener to bind (SIP over UDP, e.g. 127.0.0.1:5060 beside TCP).
    /// [default: no UDP listener]
    #[arg(long, alias = "udp", value_name = "ADDR")]
    pub udp_addr: Option<SocketAddr>,
    /// How the UDP listener reads: `batched` (quinn-udp: recvmmsg, GRO where the kernel has
    /// it) or `plain` (one recvfrom a datagram, to measure what batching is worth).
    #[arg(long, value_enum, default_value_t = crate::server::udp::UdpRecv::Batched, requires = "udp_addr")]
    pub udp_recv: crate::server::udp::UdpRecv,
    /// PKI directory (from `sipbench pki init`); created with a throwaway PKI when missing.
    /// The server presents its `server.pem` and enforces its `topology.toml`.
    #[arg(long, value_name = "DIR", default_value = "pki", conflicts_with_all = ["cert", "key"])]
    pub pki: PathBuf,
    /// Topology file (trusted CAs with CRLs and domains, trusted servers) instead of the PKI
    /// directory's.
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,
    /// Evaluate certificate and CRL validity at this time instead of now (2027-01-31 or
    /// RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = crate::trust::parse_at)]
    pub at: Option<UnixTime>,
    /// Serve live OpenMetrics at http://ADDR/metrics (the server's counters at scrape time:
    /// connections, handshakes, requests, responses, failures, reloads, registrar, auth; port 0:
    /// any free port, shown in the ready line).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
    /// Reload certificates, CAs, CRLs and the topology when one of their files changes (as on
    /// SIGHUP). Established sessions are kept.
    #[arg(long)]
    pub watch: bool,
    /// How often --watch looks at the files.
    #[arg(long, value_parser = crate::limits::timeout, default_value = "1s")]
    pub watch_interval: Duration,
    /// Key type when the PKI directory is created.
    #[arg(long, value_enum, default_value_t = KeyType::EcdsaP256)]
    pub key_type: KeyType,
    /// Server certificate chain (PEM) instead of the PKI directory's (with --topology or
    /// --ca).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// CA bundle (PEM) MTLS client certificates must chain to (with --cert; any name, no
    /// revocation checks, no topology).
    #[arg(long, alias = "client-ca", value_name = "FILE", conflicts_with = "topology")]
    pub ca: Option<PathBuf>,
    /// Worker threads, each with its own runtime. [default: one per core]
    #[arg(short = 'w', long, alias = "threads", value_parser = crate::limits::workers)]
    pub workers: Option<usize>,
    /// TLS stack and crypto backend (`sipbench backends` lists them).
    #[arg(long, value_enum, default_value_t = Backend::AwsLcRs)]
    pub backend: Backend,
    /// TLS versions offered.
    #[arg(long, value_enum, default_value_t = Versions::Any)]
    pub tls_versions: Versions,
    /// Most connections open at once.
    #[arg(long, default_value_t = 50_000, value_parser = crate::limits::count)]
    pub max_connections: usize,
    /// TLS handshake timeout: the server cuts off handshakes not done after this long (the
    /// built-in server of `sipbench run` too; the generator's own, run --handshake-timeout,
    /// defaults to 5s).
    #[arg(long, value_parser = crate::limits::timeout, default_value = "10s")]
    pub handshake_timeout: Duration,
    /// Close connections idle this long (between messages).
    #[arg(long, value_parser = crate::limits::timeout, default_value = "5m")]
    pub idle_timeout: Duration,
    /// A request must arrive whole within this long of its first byte, else the connection is
    /// cut (counted as io:message-timeout; against slowloris peers).
    #[arg(long, value_parser = crate::limits::timeout, default_value = "10s")]
    pub message_timeout: Duration,
    /// Every write to a peer must finish within this long, else the connection is cut
    /// (counted as io:write-timeout; against peers that do not read).
    #[arg(long, value_parser = crate::limits::timeout, default_value = "10s")]
    pub write_timeout: Duration,
    /// Most connections open at once from one source address; more are closed at once and
    /// counted as over-address-cap (0: no per-address cap, only --max-connections).
    #[arg(long, default_value_t = 10_000, value_parser = |s: &str| crate::limits::ranged(s, 0..=crate::limits::MAX_COUNT))]
    pub max_connections_per_address: usize,
    /// Bind every listener once per worker thread with SO_REUSEPORT, so the kernel spreads
    /// connections over the threads; other processes with the option set can then share the
    /// ports too. Without it, a port in use is an error.
    #[arg(long)]
    pub reuse_port: bool,
    /// Resume sessions with stateless tickets (TLS 1.3 tickets, TLS 1.2 RFC 5077 tickets)
    /// instead of a server-side session cache.
    #[arg(long)]
    pub tickets: bool,
    /// Server session cache entries (stateful resumption).
    // The hidden old spelling --session-cache means this server cache here, unlike run's
    // --session-cache (the client's): kept for one release, documented in the README.
    #[arg(long, alias = "session-cache", default_value_t = 10_000, value_parser = crate::limits::count)]
    pub server_cache: usize,
    /// Advertised ticket lifetime.
    #[arg(long, value_parser = crate::limits::ticket_lifetime, default_value = "2h")]
    pub ticket_lifetime: Duration,
    /// Accept up to this many bytes of TLS 1.3 0-RTT early data (0: reject; needs the session
    /// cache, so not with --tickets).
    #[arg(long, default_value_t = 0, conflicts_with = "tickets", value_parser = crate::limits::early_data)]
    pub max_early_data: u32,
    /// Largest SIP message accepted, in bytes.
    #[arg(long, default_value_t = crate::sip::DEFAULT_MAX_MESSAGE_SIZE, value_parser = crate::limits::message_size)]
    pub max_message_size: usize,
    /// Most registrar bindings per address of record; a REGISTER past it is answered 403.
    #[arg(long, default_value_t = super::registrar::DEFAULT_MAX_CONTACTS,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_contacts: usize,
    /// Most addresses of record in the registrar; a REGISTER adding one past it is answered
    /// 503 with Retry-After.
    #[arg(long, default_value_t = super::registrar::DEFAULT_MAX_RECORDS,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_records: usize,
    /// Longest registration granted, in seconds (at most a year); a longer Expires is lowered
    /// to it.
    #[arg(long, default_value_t = super::registrar::DEFAULT_MAX_EXPIRES,
        value_parser = clap::value_parser!(u32).range(1..=31_536_000))]
    pub max_expires: u32,
    /// Digest authentication: the users file (CSV: user, password, auth user, ...; see
    /// `sipbench::users`). REGISTER is challenged with 401, MESSAGE with 407; OPTIONS, INVITE,
    /// ACK and BYE pass.
    #[arg(long, value_name = "FILE", help_heading = "Authentication")]
    pub auth: Option<PathBuf>,
    /// Realm of the challenges.
    #[arg(long, default_value = super::auth::DEFAULT_REALM, requires = "auth", help_heading = "Authentication")]
    pub realm: String,
    /// Digest algorithms offered, one challenge each, the preferred first: MD5, MD5-sess,
    /// SHA-256, SHA-256-sess, SHA-512-256, SHA-512-256-sess.
    #[arg(long, value_delimiter = ',', default_value = "SHA-256,MD5", value_parser = parse_algorithm,
        requires = "auth", help_heading = "Authentication")]
    pub auth_algorithms: Vec<crate::sip::digest::Algorithm>,
    /// How long a nonce is fresh; an older one is challenged again with stale=true.
    #[arg(long, value_parser = crate::limits::timeout, default_value = "5m", requires = "auth",
        help_heading = "Authentication")]
    pub nonce_lifetime: Duration,
}

fn parse_algorithm(s: &str) -> Result<crate::sip::digest::Algorithm, String> {
    crate::sip::digest::Algorithm::parse(s.trim()).ok_or_else(|| {
        format!("unknown digest algorithm `{s}` (MD5, MD5-sess, SHA-256, SHA-256-sess, SHA-512-256, SHA-512-256-sess)")
    })
}

/// Where the server's certificate, key and trust come from; read again on every reload.
#[derive(Debug, Clone)]
struct Sources {
    cert: PathBuf,
    key: PathBuf,
    trust: TrustSource,
    at: Option<UnixTime>,
}

#[derive(Debug, Clone)]
enum TrustSource {
    /// A topology file (CAs with CRLs and domains, trusted servers).
    Topology(PathBuf),
    /// A plain CA bundle: any name, no revocation, no topology.
    Bundle(PathBuf),
}

impl Sources {
    fn from_args(args: &ServeArgs) -> Result<Sources> {
        if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
            let trust = match (&args.topology, &args.ca) {
                (Some(t), _) => TrustSource::Topology(t.clone()),
                (None, Some(ca)) => TrustSource::Bundle(ca.clone()),
                (None, None) => anyhow::bail!("--cert needs --topology or --ca"),
            };
            return Ok(Sources {
                cert: cert.clone(),
                key: key.clone(),
                trust,
                at: args.at,
            });
        }
        if !args.pki.join(pki::files::SERVER).exists() {
            let pki = Pki::generate(args.key_type)?;
            pki.write_to(&args.pki)?;
            eprintln!("wrote a throwaway {} PKI to {}", args.key_type, args.pki.display());
        }
        Ok(Sources {
            cert: args.pki.join(pki::files::SERVER),
            key: args.pki.join(pki::files::SERVER_KEY),
            trust: TrustSource::Topology(
                args.topology
                    .clone()
                    .unwrap_or_else(|| args.pki.join(pki::files::TOPOLOGY)),
            ),
            at: args.at,
        })
    }

    fn load(&self) -> Result<(Identity, Trust)> {
        let identity = pki::load_identity(&self.cert, &self.key)?;
        let trust = match &self.trust {
            TrustSource::Topology(path) => Trust::load(path)?,
            TrustSource::Bundle(path) => Trust::from_cas(&pki::load_ca_bundle(path)?)?,
        };
        Ok((identity, trust.at(self.at)))
    }

    /// Every file a reload reads, for `--watch`.
    fn files(&self) -> Vec<PathBuf> {
        let mut files = vec![self.cert.clone(), self.key.clone()];
        match &self.trust {
            TrustSource::Bundle(path) => files.push(path.clone()),
            TrustSource::Topology(path) => {
                files.push(path.clone());
                let base = path.parent().unwrap_or(std::path::Path::new("."));
                if let Ok(file) = std::fs::read_to_string(path)
                    .map_err(|e| e.to_string())
                    .and_then(|t| TopologyFile::parse(&t).map_err(|e| e.to_string()))
                {
                    for ca in file.resolve(base).ca {
                        files.push(ca.cert);
                        files.extend(ca.crl);
                    }
                }
            }
        }
        files
    }
}

/// What `--watch` compares: each file's modification time and length.
fn fingerprint(files: &[PathBuf]) -> Vec<Option<(std::time::SystemTime, u64)>> {
    files
        .iter()
        .map(|f| {
            std::fs::metadata(f)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        })
        .collect()
}

/// Reloads, logging the outcome; a failed reload keeps the running configuration.
fn reload(server: &RunningServer, sources: &Sources, why: &str) {
    match sources
        .load()
        .and_then(|(identity, trust)| server.reload(identity, trust))
    {
        Ok(()) => info!("reloaded certificates, CAs, CRLs and topology ({why})"),
        Err(e) => warn!("reload ({why}) failed, keeping the running configuration: {e:#}"),
    }
}

/// Runs the server until Ctrl-C or SIGTERM, reloading on SIGHUP (and on file changes with
/// `--watch`), then drains and prints its counters. Errors before the listeners are up are
/// configuration errors (exit status 2), after it runtime errors (3).
pub fn main(args: &ServeArgs) -> Result<ExitCode> {
    let limit = crate::sys::raise_fd_limit();
    let sources = Sources::from_args(args)?;
    let (identity, trust) = sources.load().context("loading the server's certificate and trust")?;
    let auth = match &args.auth {
        None => None,
        Some(path) => Some(super::auth::AuthConfig {
            users: crate::users::Users::load(path)
                .with_context(|| format!("--auth {}", path.display()))
                .map_err(exit::config)?,
            realm: args.realm.clone(),
            algorithms: args.auth_algorithms.clone(),
            nonce_lifetime: args.nonce_lifetime,
        }),
    };
    let config = ServerConfig {
        auth,
        tls_addr: Some(args.tls_addr),
        mtls_addr: Some(args.mtls_addr),
        tcp_addr: Some(args.tcp_addr),
        udp_addr: args.udp_addr,
        udp_recv: args.udp_recv,
        identity,
        trust,
        backend: args.backend,
        versions: args.tls_versions,
        max_connections: args.max_connections,
        handshake_timeout: args.handshake_timeout,
        idle_timeout: args.idle_timeout,
        message_timeout: args.message_timeout,
        write_timeout: args.write_timeout,
        max_connections_per_address: args.max_connections_per_address,
        max_message_size: args.max_message_size,
        per_thread_ports: false,
        max_contacts: args.max_contacts,
        max_records: args.max_records,
        max_expires: args.max_expires,
        reuse_port: args.reuse_port,
        resumption: ServerResumption {
            stateless: args.tickets,
            cache: args.server_cache,
            ticket_lifetime: args.ticket_lifetime,
            max_early_data: args.max_early_data,
        },
    };
    let threads = args.workers.unwrap_or_else(crate::pool::cores);
    let pool = Pool::new(threads, "sipbench-server").map_err(exit::runtime)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(exit::runtime)?;
    let stats = rt.block_on(async {
        // Handlers first: a supervisor may send SIGTERM as soon as it sees the banner.
        let shutdown = crate::signals::wait();
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("installing the SIGHUP handler")
            .map_err(exit::runtime)?;
        let server = start(&config, &pool)?;
        let metrics = match args.metrics {
            None => None,
            Some(addr) => {
                let mut registry = prometheus_client::registry::Registry::default();
                crate::metrics::ServerMetrics::new(server.counters().clone(), server.open_connections())
                    .register(&mut registry);
                let endpoint = crate::metrics::Endpoint::bind(addr, registry)
                    .await
                    .with_context(|| format!("--metrics {addr}"))
                    .map_err(exit::config)?;
                Some(endpoint)
            }
        };
        let addrs = server.addrs();
        eprintln!(
            "sipbench serve: tls {} · mtls {} · tcp {}{}{} · {threads} threads · backend {} · open-files limit {}{}",
            addrs.tls[0],
            addrs.mtls[0],
            addrs.tcp[0],
            addrs.udp.first().map(|a| format!(" · udp {a}")).unwrap_or_default(),
            metrics
                .as_ref()
                .map(|m| format!(" · metrics {}", m.addr()))
                .unwrap_or_default(),
            args.backend.as_str(),
            limit.soft,
            if args.watch {
                " · watching certificate files"
            } else {
                ""
            }
        );
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(args.watch_interval);
        let mut seen = fingerprint(&sources.files());
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = hangup.recv() => reload(&server, &sources, "SIGHUP"),
                _ = tick.tick(), if args.watch => {
                    let files = sources.files();
                    let now = fingerprint(&files);
                    if now != seen {
                        seen = now;
                        reload(&server, &sources, "a watched file changed");
                    }
                }
            }
        }
        info!("shutting down");
        let stats = server.shutdown(Duration::from_secs(5)).await;
        drop(metrics);
        anyhow::Ok(stats)
    })?;
    drop(rt);
    drop(pool);
    println!("{}", serde_json::to_string_pretty(&stats).map_err(exit::runtime)?);
    Ok(ExitCode::SUCCESS)
}
