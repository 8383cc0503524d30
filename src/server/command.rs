//! `sipbench serve`: the reference server as a standalone process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use super::{ServerConfig, run};
use crate::pki::{self, KeyType, Pki};
use crate::tls::{Backend, ServerResumption, Versions};

/// Options of `sipbench serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// TLS listener (client to server).
    #[arg(long, default_value = "127.0.0.1:5061")]
    pub tls: SocketAddr,
    /// MTLS listener (server to server; client certificate required).
    #[arg(long, default_value = "127.0.0.1:5062")]
    pub mtls: SocketAddr,
    /// Cleartext TCP listener (baseline).
    #[arg(long, default_value = "127.0.0.1:5060")]
    pub tcp: SocketAddr,
    /// PKI directory (from `sipbench pki init`); created with a throwaway PKI when missing.
    #[arg(long, default_value = "pki", conflicts_with_all = ["cert", "key"])]
    pub pki: PathBuf,
    /// Key type when the PKI directory is created.
    #[arg(long, value_enum, default_value_t = KeyType::EcdsaP256)]
    pub key_type: KeyType,
    /// Server certificate chain (PEM) instead of the PKI directory's.
    #[arg(long, requires_all = ["key", "client_ca"])]
    pub cert: Option<PathBuf>,
    /// Server private key (PEM).
    #[arg(long, requires = "cert")]
    pub key: Option<PathBuf>,
    /// CA bundle (PEM) MTLS clients must chain to (with --cert).
    #[arg(long)]
    pub client_ca: Option<PathBuf>,
    /// Runtime threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// TLS versions offered.
    #[arg(long, value_enum, default_value_t = Versions::Any)]
    pub tls_versions: Versions,
    /// Most connections open at once.
    #[arg(long, default_value_t = 50_000)]
    pub max_connections: usize,
    /// Cut off handshakes not done by then.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    pub handshake_timeout: Duration,
    /// Close connections idle this long.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "5m")]
    pub idle_timeout: Duration,
    /// Resume sessions with stateless tickets (TLS 1.3 tickets, TLS 1.2 RFC 5077 tickets)
    /// instead of a server-side session cache.
    #[arg(long)]
    pub tickets: bool,
    /// Session cache entries (stateful resumption).
    #[arg(long, default_value_t = 10_000)]
    pub session_cache: usize,
    /// Advertised ticket lifetime.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "2h")]
    pub ticket_lifetime: Duration,
    /// Accept up to this many bytes of TLS 1.3 0-RTT early data (0: reject; needs the session
    /// cache, so not with --tickets).
    #[arg(long, default_value_t = 0, conflicts_with = "tickets")]
    pub max_early_data: u32,
    /// Largest SIP message accepted, in bytes.
    #[arg(long, default_value_t = crate::sip::DEFAULT_MAX_MESSAGE_SIZE)]
    pub max_message_size: usize,
}

/// Runs the server until Ctrl-C or SIGTERM, then drains and prints its counters.
pub fn main(args: &ServeArgs) -> Result<ExitCode> {
    let limit = crate::sys::raise_fd_limit();
    let (identity, client_cas) = match (&args.cert, &args.key, &args.client_ca) {
        (Some(c), Some(k), Some(ca)) => (pki::load_identity(c, k)?, pki::load_ca_bundle(ca)?),
        _ => {
            let pki = if args.pki.join(pki::files::SERVER).exists() {
                Pki::load(&args.pki).with_context(|| format!("loading the PKI in {}", args.pki.display()))?
            } else {
                let pki = Pki::generate(args.key_type)?;
                pki.write_to(&args.pki)?;
                eprintln!("wrote a throwaway {} PKI to {}", args.key_type, args.pki.display());
                pki
            };
            (
                pki.server.clone(),
                vec![pki.enterprise_ca.clone(), pki.partner_ca.clone()],
            )
        }
    };
    let config = ServerConfig {
        tls_addr: Some(args.tls),
        mtls_addr: Some(args.mtls),
        tcp_addr: Some(args.tcp),
        identity,
        client_cas,
        backend: Backend::default(),
        versions: args.tls_versions,
        max_connections: args.max_connections,
        handshake_timeout: args.handshake_timeout,
        idle_timeout: args.idle_timeout,
        max_message_size: args.max_message_size,
        per_thread_ports: false,
        resumption: ServerResumption {
            stateless: args.tickets,
            cache: args.session_cache,
            ticket_lifetime: args.ticket_lifetime,
            max_early_data: args.max_early_data,
        },
    };
    let threads = args.threads.unwrap_or_else(crate::pool::cores);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let stats = rt.block_on(run(config, threads, crate::signals::wait(), |addrs| {
        eprintln!(
            "sipbench serve: tls {} · mtls {} · tcp {} · {threads} threads · open-files limit {}",
            addrs.tls[0], addrs.mtls[0], addrs.tcp[0], limit.soft
        );
    }))?;
    println!("{}", serde_json::to_string_pretty(&stats)?);
    Ok(ExitCode::SUCCESS)
}
