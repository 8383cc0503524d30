//! Baseline calibration: what this machine does with plain tokio + tokio-rustls and nothing else.
//!
//! sipbench adds SIP parsing, pooling and measurement on top of tokio-rustls, and should lose little
//! to a bare TLS loop. This example measures that bare loop so sipbench's figures have something to
//! be compared against. Only the certificates come from `sipbench::pki` (ECDSA P-256); the sockets,
//! the TLS configuration and the loops are plain tokio / rustls (aws-lc-rs provider, TLS 1.3 only,
//! default key-exchange groups, client resumption disabled, server configuration otherwise default).
//!
//! Layout: one OS thread per core (`--threads`), each with its own current-thread tokio runtime,
//! its own listener on 127.0.0.1:0 and its own share of the clients, which connect to that thread's
//! listener only, so both ends of a session run on the same thread. TCP_NODELAY on both ends.
//!
//! Measurements (`--mode`, default all three in sequence), each over `--seconds` after a warm-up:
//!
//! * `full`: 64 sessions in flight in total; each iteration is TCP connect, TLS 1.3 handshake,
//!   a 400-byte request, a 400-byte echoed response, close_notify (`shutdown()`) and close.
//! * `mtls`: the same, with the server requiring a client certificate verified against the
//!   enterprise root (`WebPkiClientVerifier`) and the client presenting the edge identity.
//! * `kept`: 256 sessions established once, each then looping request/response, one outstanding.
//!
//! Only completions between the two counter snapshots (after the warm-up, `--seconds` apart) are
//! counted. Also reported: the process CPU time over the window (getrusage), CPU per
//! session/exchange, and the whole-machine busy share from /proc/stat (loopback work partly runs in
//! softirq context that getrusage may not charge to the process).
//!
//! Run it with:
//!
//! ```text
//! cargo run --release --example calibrate -- --seconds 5
//! ```
//!
//! Optional: `--mode full|mtls|kept|all`, `--suite aes128|aes256|chacha` (restricts the provider's
//! TLS 1.3 cipher suites on both ends; default: provider default, negotiated suite is reported),
//! `--threads N`, `--sessions 64`, `--kept-sessions 256`, `--size 400`, `--warmup 1`.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use nix::sys::resource::{UsageWho, getrusage};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{CipherSuite, ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::ServerName;
use sipbench::pki::{KeyType, Pki};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Full sessions: connect, handshake, one exchange, close.
    Full,
    /// Full sessions with mutual TLS.
    Mtls,
    /// Request/response exchanges over kept sessions.
    Kept,
    /// All three in sequence.
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Suite {
    /// TLS13_AES_128_GCM_SHA256
    Aes128,
    /// TLS13_AES_256_GCM_SHA384
    Aes256,
    /// TLS13_CHACHA20_POLY1305_SHA256
    Chacha,
}

/// Plain tokio-rustls baseline (see the module documentation).
#[derive(Debug, Parser)]
#[command(about = "Plain tokio + tokio-rustls baseline for sipbench figures")]
struct Args {
    /// Which measurement to run.
    #[arg(long, value_enum, default_value = "all")]
    mode: Mode,
    /// Measured window, in seconds (after the warm-up).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Warm-up before the measured window, in seconds.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Worker threads (default: available cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Restrict the TLS 1.3 cipher suites (default: provider default).
    #[arg(long, value_enum)]
    suite: Option<Suite>,
    /// Sessions in flight in total for `full` and `mtls`.
    #[arg(long, default_value_t = 64)]
    sessions: usize,
    /// Kept sessions in total for `kept`.
    #[arg(long, default_value_t = 256)]
    kept_sessions: usize,
    /// Request and response size, in bytes.
    #[arg(long, default_value_t = 400)]
    size: usize,
}

/// Per-thread counters, read by the main thread at the window edges.
#[derive(Default)]
struct Counters {
    completed: AtomicU64,
    client_errors: AtomicU64,
    server_errors: AtomicU64,
}

/// State shared by every thread of one measurement.
struct Shared {
    stop: AtomicBool,
    negotiated: OnceLock<String>,
    first_error: Mutex<Option<String>>,
    size: usize,
}

impl Shared {
    fn note_error(&self, what: &str, err: &dyn std::fmt::Display) {
        if let Ok(mut slot) = self.first_error.lock()
            && slot.is_none()
        {
            *slot = Some(format!("{what}: {err}"));
        }
    }
}

/// Client and server TLS configuration for one mode.
struct Tls {
    connector: TlsConnector,
    acceptor: TlsAcceptor,
    server_name: ServerName<'static>,
}

fn provider(suite: Option<Suite>) -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    if let Some(suite) = suite {
        let wanted = match suite {
            Suite::Aes128 => CipherSuite::TLS13_AES_128_GCM_SHA256,
            Suite::Aes256 => CipherSuite::TLS13_AES_256_GCM_SHA384,
            Suite::Chacha => CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        };
        provider.cipher_suites.retain(|s| s.suite() == wanted);
        assert!(!provider.cipher_suites.is_empty(), "provider lacks {wanted:?}");
    }
    Arc::new(provider)
}

fn tls_config(pki: &Pki, mtls: bool, suite: Option<Suite>) -> Tls {
    let provider = provider(suite);
    let roots: Arc<RootCertStore> = Arc::new(pki.enterprise_roots());

    let client = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("provider supports TLS 1.3")
        .with_root_certificates(roots.clone());
    let mut client = if mtls {
        client
            .with_client_auth_cert(pki.edge.chain.clone(), pki.edge.key.clone_key())
            .expect("edge identity is usable as a client certificate")
    } else {
        client.with_no_client_auth()
    };
    client.resumption = rustls::client::Resumption::disabled();

    let server = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("provider supports TLS 1.3");
    let server = if mtls {
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider)
            .build()
            .expect("client verifier from enterprise roots");
        server.with_client_cert_verifier(verifier)
    } else {
        server.with_no_client_auth()
    };
    let server = server
        .with_single_cert(pki.server.chain.clone(), pki.server.key.clone_key())
        .expect("server identity is usable");

    Tls {
        connector: TlsConnector::from(Arc::new(client)),
        acceptor: TlsAcceptor::from(Arc::new(server)),
        server_name: ServerName::try_from(sipbench::pki::SERVER_DNS).expect("valid DNS name"),
    }
}

/// Server side: accept, handshake, echo `size`-byte messages until the peer closes.
async fn serve(listener: TcpListener, acceptor: TlsAcceptor, shared: Arc<Shared>, counters: Arc<Counters>) {
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                counters.server_errors.fetch_add(1, Ordering::Relaxed);
                shared.note_error("accept", &e);
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let shared = shared.clone();
        let counters = counters.clone();
        tokio::spawn(async move {
            if let Err(e) = echo(tcp, acceptor, shared.size).await {
                counters.server_errors.fetch_add(1, Ordering::Relaxed);
                shared.note_error("server", &e);
            }
        });
    }
}

async fn echo(tcp: TcpStream, acceptor: TlsAcceptor, size: usize) -> io::Result<()> {
    tcp.set_nodelay(true)?;
    let mut tls = acceptor.accept(tcp).await?;
    let mut buf = vec![0u8; size];
    loop {
        match tls.read_exact(&mut buf).await {
            Ok(_) => {}
            // The client sent close_notify (or closed) between messages: answer in kind, ignoring
            // failures, since the client may already be gone.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                let _ = tls.shutdown().await;
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        tls.write_all(&buf).await?;
        tls.flush().await?;
    }
}

async fn connect(
    addr: SocketAddr,
    tls: &Tls,
    shared: &Shared,
) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let stream = tls.connector.connect(tls.server_name.clone(), tcp).await?;
    if shared.negotiated.get().is_none() {
        let (_, conn) = stream.get_ref();
        let version = conn
            .protocol_version()
            .map_or_else(|| "?".to_owned(), |v| format!("{v:?}"));
        let suite = conn
            .negotiated_cipher_suite()
            .map_or_else(|| "?".to_owned(), |s| format!("{:?}", s.suite()));
        let group = conn
            .negotiated_key_exchange_group()
            .map_or_else(|| "?".to_owned(), |g| format!("{:?}", g.name()));
        let _ = shared.negotiated.set(format!("{version} {suite} {group}"));
    }
    Ok(stream)
}

async fn exchange<S: AsyncReadExt + AsyncWriteExt + Unpin>(
    stream: &mut S,
    req: &[u8],
    resp: &mut [u8],
) -> io::Result<()> {
    stream.write_all(req).await?;
    stream.flush().await?;
    stream.read_exact(resp).await?;
    Ok(())
}

/// One full session: connect, handshake, one exchange, close_notify, close.
async fn full_session(addr: SocketAddr, tls: &Tls, shared: &Shared, req: &[u8], resp: &mut [u8]) -> io::Result<()> {
    let mut stream = connect(addr, tls, shared).await?;
    exchange(&mut stream, req, resp).await?;
    stream.shutdown().await?;
    Ok(())
}

async fn full_client(addr: SocketAddr, tls: Arc<Tls>, shared: Arc<Shared>, counters: Arc<Counters>) {
    let req = vec![b'x'; shared.size];
    let mut resp = vec![0u8; shared.size];
    while !shared.stop.load(Ordering::Relaxed) {
        match full_session(addr, &tls, &shared, &req, &mut resp).await {
            Ok(()) => counters.completed.fetch_add(1, Ordering::Relaxed),
            Err(e) => {
                shared.note_error("client", &e);
                counters.client_errors.fetch_add(1, Ordering::Relaxed)
            }
        };
    }
}

async fn kept_client(
    mut stream: tokio_rustls::client::TlsStream<TcpStream>,
    shared: Arc<Shared>,
    counters: Arc<Counters>,
) {
    let req = vec![b'x'; shared.size];
    let mut resp = vec![0u8; shared.size];
    while !shared.stop.load(Ordering::Relaxed) {
        match exchange(&mut stream, &req, &mut resp).await {
            Ok(()) => {
                counters.completed.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                // A broken kept session cannot continue; count it and retire this client.
                shared.note_error("kept client", &e);
                counters.client_errors.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    }
    let _ = stream.shutdown().await;
}

/// Body of one worker thread: own runtime, own listener, own share of clients.
fn worker(
    kept: bool,
    clients: usize,
    tls: Arc<Tls>,
    shared: Arc<Shared>,
    counters: Arc<Counters>,
    barrier: Arc<Barrier>,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("listener address");
    rt.spawn(serve(listener, tls.acceptor.clone(), shared.clone(), counters.clone()));

    // Kept sessions are established before the barrier, outside the warm-up and the window.
    let mut streams = Vec::new();
    if kept {
        rt.block_on(async {
            for _ in 0..clients {
                match connect(addr, &tls, &shared).await {
                    Ok(s) => streams.push(s),
                    Err(e) => {
                        shared.note_error("kept setup", &e);
                        counters.client_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    barrier.wait();

    rt.block_on(async {
        let handles: Vec<_> = if kept {
            streams
                .into_iter()
                .map(|s| tokio::spawn(kept_client(s, shared.clone(), counters.clone())))
                .collect()
        } else {
            (0..clients)
                .map(|_| tokio::spawn(full_client(addr, tls.clone(), shared.clone(), counters.clone())))
                .collect()
        };
        for h in handles {
            if let Err(e) = h.await {
                shared.note_error("client task", &e);
            }
        }
    });
    // Dropping the runtime cancels the accept loop and any server task still running.
}

/// Process CPU time (user + system), in seconds.
fn process_cpu() -> f64 {
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(u) => {
            let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 * 1e-6;
            t(u.user_time()) + t(u.system_time())
        }
        Err(_) => f64::NAN,
    }
}

/// Whole-machine (busy, total) jiffies from the first line of /proc/stat.
fn machine_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|x| x.parse().ok())
        .collect();
    if f.len() < 8 {
        return None;
    }
    // user nice system idle iowait irq softirq steal (guest time is already included in user).
    let busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
    let total: u64 = f.iter().sum();
    Some((busy, total))
}

struct Snapshot {
    at: Instant,
    completed: u64,
    client_errors: u64,
    server_errors: u64,
    cpu: f64,
    jiffies: Option<(u64, u64)>,
}

fn snapshot(counters: &[Arc<Counters>]) -> Snapshot {
    let sum = |f: fn(&Counters) -> &AtomicU64| counters.iter().map(|c| f(c).load(Ordering::Relaxed)).sum();
    Snapshot {
        at: Instant::now(),
        completed: sum(|c| &c.completed),
        client_errors: sum(|c| &c.client_errors),
        server_errors: sum(|c| &c.server_errors),
        cpu: process_cpu(),
        jiffies: machine_jiffies(),
    }
}

fn run(pki: &Pki, args: &Args, threads: usize, mode: Mode) {
    let (mtls, kept, total, unit) = match mode {
        Mode::Full => (false, false, args.sessions, "sessions/s"),
        Mode::Mtls => (true, false, args.sessions, "sessions/s"),
        Mode::Kept => (false, true, args.kept_sessions, "exchanges/s"),
        Mode::All => unreachable!("expanded by main"),
    };
    let tls = Arc::new(tls_config(pki, mtls, args.suite));
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        negotiated: OnceLock::new(),
        first_error: Mutex::new(None),
        size: args.size,
    });
    let counters: Vec<Arc<Counters>> = (0..threads).map(|_| Arc::new(Counters::default())).collect();
    let barrier = Arc::new(Barrier::new(threads + 1));

    let workers: Vec<_> = (0..threads)
        .map(|i| {
            let clients = total / threads + usize::from(i < total % threads);
            let (tls, shared, counters, barrier) = (tls.clone(), shared.clone(), counters[i].clone(), barrier.clone());
            thread::Builder::new()
                .name(format!("calib-{i}"))
                .spawn(move || worker(kept, clients, tls, shared, counters, barrier))
                .expect("spawn worker thread")
        })
        .collect();

    barrier.wait();
    thread::sleep(Duration::from_secs_f64(args.warmup));
    let a = snapshot(&counters);
    thread::sleep(Duration::from_secs_f64(args.seconds));
    let b = snapshot(&counters);
    shared.stop.store(true, Ordering::Relaxed);
    for w in workers {
        if w.join().is_err() {
            eprintln!("a worker thread panicked");
        }
    }

    let secs = b.at.duration_since(a.at).as_secs_f64();
    let done = b.completed - a.completed;
    let rate = done as f64 / secs;
    let cpu = b.cpu - a.cpu;
    let per = if done > 0 { cpu / done as f64 * 1e6 } else { f64::NAN };
    let per_unit = if kept { "exchange" } else { "session" };
    let busy = match (a.jiffies, b.jiffies) {
        (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => format!("{:.0}%", (b1 - b0) as f64 * 100.0 / (t1 - t0) as f64),
        _ => "?".to_owned(),
    };
    let name = match mode {
        Mode::Full => "full",
        Mode::Mtls => "mtls",
        Mode::Kept => "kept",
        Mode::All => "all",
    };
    let negotiated = shared.negotiated.get().map_or("?", String::as_str);
    let mut line = format!(
        "{name:<6} {negotiated}: {rate:.1} {unit} · cpu {cpu:.2} s ({per:.0} us/{per_unit}) · machine busy {busy}"
    );
    let (ce, se) = (b.client_errors - a.client_errors, b.server_errors - a.server_errors);
    if ce + se > 0 {
        line.push_str(&format!(" · errors {ce} client / {se} server"));
    }
    println!("{line}");
    if let Ok(slot) = shared.first_error.lock()
        && let Some(e) = slot.as_ref()
    {
        eprintln!("       first error ({name}): {e}");
    }
}

fn main() {
    let args = Args::parse();
    let threads = args
        .threads
        .unwrap_or_else(|| thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let pki = Pki::generate(KeyType::EcdsaP256).expect("generate ECDSA P-256 PKI");
    println!(
        "calibrate: {threads} threads, {} s window after {} s warm-up, {} B messages, suite {}",
        args.seconds,
        args.warmup,
        args.size,
        args.suite
            .map_or("provider default".to_owned(), |s| format!("{s:?}").to_lowercase()),
    );
    let modes = match args.mode {
        Mode::All => vec![Mode::Full, Mode::Mtls, Mode::Kept],
        m => vec![m],
    };
    for mode in modes {
        run(&pki, &args, threads, mode);
    }
}
