//! The bare loop: what this machine does with plain tokio + tokio-rustls and nothing else, for
//! sipbench's figures to be held against (`run --efficiency`, `examples/calibrate.rs`).
//!
//! sipbench adds SIP, pooling, verification policy and measurement on top of tokio-rustls, and
//! should lose little to a bare TLS loop with the same crypto provider, TLS version, cipher
//! suite, key exchange group and key type. Only the certificates come from [`crate::pki`]; the
//! sockets, the TLS configuration and the loops are plain tokio / rustls (TLS 1.3 only, client
//! resumption disabled, server configuration otherwise default, the server's chain verified
//! against the enterprise root by webpki, no CRLs).
//!
//! Layout: one OS thread per worker, each with its own current-thread tokio runtime, its own
//! listener on 127.0.0.1:0 and its own share of the clients, which connect to that thread's
//! listener only (streams excepted, below), so both ends of a session run on the same thread.
//! TCP_NODELAY on both ends.
//!
//! - [`BareMode::Full`]: `sessions` in flight in total; each iteration is TCP connect, TLS 1.3
//!   handshake, a `size`-byte request, a `size`-byte echoed response, close_notify and close.
//! - [`BareMode::Mtls`]: the same, with the server requiring a client certificate verified
//!   against the enterprise root (`WebPkiClientVerifier`) and the client presenting the edge
//!   identity.
//! - [`BareMode::Kept`]: `sessions` established once, each then looping request/response, one
//!   outstanding.
//! - [`BareMode::Records`]: `sessions` established once, each then writing 64 KiB batches of
//!   `size`-byte records (the client's `max_fragment_size`) to a server that reads and discards
//!   them. Like sipbench's streaming sessions, a client connects to the next thread's listener,
//!   so the two ends of a stream run on different threads.
//!
//! Only completions between two counter snapshots (after the warm-up, `window` apart) count.
//! Also measured: the process CPU time over the window (getrusage) and the whole-machine busy
//! share from /proc/stat (loopback work partly runs in softirq context that getrusage may not
//! charge to the process).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::pki::Pki;

/// What the bare loop does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BareMode {
    /// Full sessions: connect, handshake, one exchange, close.
    Full,
    /// Full sessions with mutual TLS.
    Mtls,
    /// Request/response exchanges over kept sessions.
    Kept,
    /// One-way streams of records over kept sessions.
    Records,
}

impl BareMode {
    /// `full`, `mtls` or `kept`.
    pub fn as_str(self) -> &'static str {
        match self {
            BareMode::Full => "full",
            BareMode::Mtls => "mtls",
            BareMode::Kept => "kept",
            BareMode::Records => "records",
        }
    }
}

/// One measurement of the bare loop.
#[derive(Debug, Clone)]
pub struct BareSettings {
    /// What it does.
    pub mode: BareMode,
    /// Worker threads.
    pub threads: usize,
    /// Sessions in flight in total (full, mtls), or kept sessions in total (kept, records).
    pub sessions: usize,
    /// Request and response size (full, mtls, kept) or record size (records), bytes.
    pub size: usize,
    /// Discarded time before the window.
    pub warmup: Duration,
    /// The measured window.
    pub window: Duration,
    /// The crypto provider both ends use (already restricted to a suite or group, if any).
    pub provider: Arc<CryptoProvider>,
}

/// What one measurement of the bare loop made.
#[derive(Debug, Clone, PartialEq)]
pub struct BareFigures {
    /// Sessions (full, mtls), exchanges (kept) or written MB (records, 10^6 bytes) per second
    /// over the window.
    pub per_s: f64,
    /// Process CPU time per session, exchange or MB, microseconds.
    pub cpu_us: f64,
    /// Whole-machine busy share over the window, percent (`None` without /proc/stat).
    pub machine_busy_pct: Option<f64>,
    /// Version, cipher suite and key exchange group of the first session.
    pub negotiated: String,
    /// Failed sessions or exchanges (client and server side) in the window.
    pub errors: u64,
    /// The first error seen, if any.
    pub first_error: Option<String>,
}

/// Client and server TLS configuration for one mode.
struct Tls {
    connector: TlsConnector,
    acceptor: TlsAcceptor,
    server_name: ServerName<'static>,
}

fn tls_config(
    pki: &Pki,
    mtls: bool,
    record_size: Option<usize>,
    provider: Arc<CryptoProvider>,
) -> Result<Tls, rustls::Error> {
    let roots: Arc<RootCertStore> = Arc::new(pki.enterprise_roots());
    let client = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots.clone());
    let mut client = if mtls {
        client.with_client_auth_cert(pki.edge.chain.clone(), pki.edge.key.clone_key())?
    } else {
        client.with_no_client_auth()
    };
    client.resumption = rustls::client::Resumption::disabled();
    // rustls's limit counts the 5-byte record header.
    client.max_fragment_size = record_size.map(|size| size + 5);

    let server =
        ServerConfig::builder_with_provider(provider.clone()).with_protocol_versions(&[&rustls::version::TLS13])?;
    let server = if mtls {
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        server.with_client_cert_verifier(verifier)
    } else {
        server.with_no_client_auth()
    };
    let server = server.with_single_cert(pki.server.chain.clone(), pki.server.key.clone_key())?;
    Ok(Tls {
        connector: TlsConnector::from(Arc::new(client)),
        acceptor: TlsAcceptor::from(Arc::new(server)),
        server_name: ServerName::try_from(crate::pki::SERVER_DNS).expect("valid DNS name"),
    })
}

/// Per-thread counters, read by the main thread at the window edges.
#[derive(Default)]
struct Counters {
    /// Sessions, exchanges, or bytes written (records).
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
    /// Streams: the server reads and discards instead of echoing.
    sink: bool,
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
            let served = if shared.sink {
                sink(tcp, acceptor).await
            } else {
                echo(tcp, acceptor, shared.size).await
            };
            if let Err(e) = served {
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

/// Server side of a stream: accept, handshake, read and discard until the peer closes.
async fn sink(tcp: TcpStream, acceptor: TlsAcceptor) -> io::Result<()> {
    tcp.set_nodelay(true)?;
    let mut tls = acceptor.accept(tcp).await?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tls.read(&mut buf).await {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
    }
    let _ = tls.shutdown().await;
    Ok(())
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

/// Writes 64 KiB batches (whole records) until told to stop, counting the bytes written.
async fn stream_client(
    mut stream: tokio_rustls::client::TlsStream<TcpStream>,
    shared: Arc<Shared>,
    counters: Arc<Counters>,
) {
    let record = shared.size.max(1);
    let batch = vec![b'x'; (64 * 1024 / record).max(1) * record];
    while !shared.stop.load(Ordering::Relaxed) {
        if let Err(e) = stream.write_all(&batch).await {
            shared.note_error("stream client", &e);
            counters.client_errors.fetch_add(1, Ordering::Relaxed);
            return;
        }
        counters.completed.fetch_add(batch.len() as u64, Ordering::Relaxed);
    }
    let _ = stream.shutdown().await;
}

/// Body of one worker thread: own runtime, own listener (`listener`), own share of clients,
/// which connect to `addr` (this thread's listener, or the next thread's for streams).
#[allow(clippy::too_many_arguments)]
fn worker(
    mode: BareMode,
    clients: usize,
    listener: std::net::TcpListener,
    addr: SocketAddr,
    tls: Arc<Tls>,
    shared: Arc<Shared>,
    counters: Arc<Counters>,
    barrier: Arc<Barrier>,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let listener = {
        let _guard = rt.enter();
        TcpListener::from_std(listener).expect("register the listener")
    };
    rt.spawn(serve(listener, tls.acceptor.clone(), shared.clone(), counters.clone()));

    // Kept sessions and streams are established before the barrier, outside the warm-up and the
    // window.
    let kept = matches!(mode, BareMode::Kept | BareMode::Records);
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
    // Wait for the other threads while this runtime still serves: a stream's handshake with the
    // next thread's listener needs that thread's runtime running.
    rt.block_on(async {
        if let Err(e) = tokio::task::spawn_blocking(move || barrier.wait()).await {
            shared.note_error("barrier", &e);
        }
    });

    rt.block_on(async {
        let handles: Vec<_> = if mode == BareMode::Records {
            streams
                .into_iter()
                .map(|s| tokio::spawn(stream_client(s, shared.clone(), counters.clone())))
                .collect()
        } else if kept {
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
        // This thread's listener may serve another thread's streams: keep serving until the end.
        while !shared.stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(10)).await;
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

/// Runs the bare loop once with `settings` and the certificates of `pki` (blocking: it starts
/// its own threads and returns when they are done).
pub fn measure(pki: &Pki, settings: &BareSettings) -> Result<BareFigures, rustls::Error> {
    let mode = settings.mode;
    let records = mode == BareMode::Records;
    let threads = settings.threads.max(1);
    let record_size = records.then_some(settings.size.clamp(64, 16 * 1024));
    let tls = Arc::new(tls_config(
        pki,
        mode == BareMode::Mtls,
        record_size,
        settings.provider.clone(),
    )?);
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        negotiated: OnceLock::new(),
        first_error: Mutex::new(None),
        size: record_size.unwrap_or(settings.size),
        sink: records,
    });
    let listen = || -> io::Result<(std::net::TcpListener, SocketAddr)> {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.set_nonblocking(true)?;
        let addr = l.local_addr()?;
        Ok((l, addr))
    };
    let mut listeners = Vec::with_capacity(threads);
    for _ in 0..threads {
        listeners.push(listen().map_err(|e| rustls::Error::General(format!("bind 127.0.0.1:0: {e}")))?);
    }
    let addrs: Vec<SocketAddr> = listeners.iter().map(|(_, a)| *a).collect();
    let counters: Vec<Arc<Counters>> = (0..threads).map(|_| Arc::new(Counters::default())).collect();
    let barrier = Arc::new(Barrier::new(threads + 1));
    let total = settings.sessions;
    let workers: Vec<_> = listeners
        .into_iter()
        .enumerate()
        .map(|(i, (listener, _))| {
            let clients = total / threads + usize::from(i < total % threads);
            // A stream's two ends go on different threads, as sipbench's do.
            let addr = addrs[if records { (i + 1) % threads } else { i }];
            let (tls, shared, counters, barrier) = (tls.clone(), shared.clone(), counters[i].clone(), barrier.clone());
            thread::Builder::new()
                .name(format!("bare-{i}"))
                .spawn(move || worker(mode, clients, listener, addr, tls, shared, counters, barrier))
                .expect("spawn a bare-loop thread")
        })
        .collect();

    barrier.wait();
    thread::sleep(settings.warmup);
    let a = snapshot(&counters);
    thread::sleep(settings.window);
    let b = snapshot(&counters);
    shared.stop.store(true, Ordering::Relaxed);
    for w in workers {
        if w.join().is_err() {
            shared.note_error("worker", &"a bare-loop thread panicked");
        }
    }
    let secs = b.at.duration_since(a.at).as_secs_f64();
    // Streams count bytes; their figures are per MB (10^6 bytes).
    let done = b.completed - a.completed;
    let done = if records { done as f64 / 1e6 } else { done as f64 };
    let cpu = b.cpu - a.cpu;
    let machine_busy_pct = match (a.jiffies, b.jiffies) {
        (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => Some((b1 - b0) as f64 * 100.0 / (t1 - t0) as f64),
        _ => None,
    };
    Ok(BareFigures {
        per_s: done / secs,
        cpu_us: if done > 0.0 { cpu / done * 1e6 } else { f64::NAN },
        machine_busy_pct,
        negotiated: shared.negotiated.get().cloned().unwrap_or_else(|| "?".into()),
        errors: (b.client_errors - a.client_errors) + (b.server_errors - a.server_errors),
        first_error: shared.first_error.lock().ok().and_then(|e| e.clone()),
    })
}

/// Why a phase has no bare-loop counterpart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoCounterpart {
    /// The bare loop makes full TLS or MTLS sessions, OPTIONS-like exchanges on kept TLS
    /// sessions at its own pace (closed loop), or one-way TLS record streams.
    #[error(
        "only closed-loop sessions (tls, mtls), closed-loop kept tls and one-way tls records phases have a bare-loop counterpart"
    )]
    Workload,
    /// The bare loop is TLS 1.3 without resumption.
    #[error("the bare loop is TLS 1.3 without resumption")]
    Tls,
    /// The bare loop runs on a rustls crypto provider.
    #[error("backend {0} is not a rustls crypto provider")]
    Backend(&'static str),
    /// Its TLS configuration failed (a suite or group the provider lacks).
    #[error("{0}")]
    Config(String),
}

/// Runs the bare loop that matches `phase` (blocking) and holds `result`'s rate against it:
/// the phase's backend (a rustls provider), cipher suite, key exchange group and `key_type`,
/// `threads` worker threads, its concurrency (or kept connections), for the phase's measured
/// time (1 to 5 s) after a 1 s warm-up.
pub fn efficiency(
    phase: &crate::plan::PhasePlan,
    result: &crate::results::PhaseResult,
    backend: crate::tls::Backend,
    key_type: crate::pki::KeyType,
    threads: usize,
) -> Result<crate::results::Efficiency, NoCounterpart> {
    use crate::plan::{Load, Mode, Workload};
    let (mode, sessions) = match (phase.mode, phase.workload, phase.load) {
        (Mode::Tls, Workload::Sessions, Load::Closed { concurrency }) if phase.shape.is_none() => {
            (BareMode::Full, concurrency)
        }
        (Mode::Mtls, Workload::Sessions, Load::Closed { concurrency }) if phase.shape.is_none() => {
            (BareMode::Mtls, concurrency)
        }
        (Mode::Tls, Workload::Kept, Load::Closed { .. }) => (BareMode::Kept, phase.connections),
        (Mode::Tls, Workload::Records, _) if phase.direction == crate::plan::Direction::Up => {
            (BareMode::Records, phase.connections)
        }
        _ => return Err(NoCounterpart::Workload),
    };
    if phase.tls_versions == crate::tls::Versions::Tls12
        || (matches!(mode, BareMode::Full | BareMode::Mtls) && phase.resumption != crate::tls::Resumption::Off)
    {
        return Err(NoCounterpart::Tls);
    }
    let config = |e: String| NoCounterpart::Config(e);
    let mut provider = crate::tls::rustls_stack::provider(backend).ok_or(NoCounterpart::Backend(backend.as_str()))?;
    if let Some(suite) = &phase.cipher_suite {
        provider = crate::tls::rustls_stack::with_suite(&provider, suite).map_err(config)?;
    }
    if let Some(group) = &phase.kx_group {
        provider = crate::tls::rustls_stack::with_kx_group(backend, &provider, group).map_err(config)?;
    }
    let pki = Pki::generate(key_type).map_err(|e| config(format!("{e:#}")))?;
    let settings = BareSettings {
        mode,
        threads,
        sessions,
        size: if mode == BareMode::Records {
            phase.record_size
        } else {
            400
        },
        warmup: Duration::from_secs(1),
        window: Duration::from_secs_f64(result.measured_s.clamp(1.0, 5.0)),
        provider,
    };
    let bare = measure(&pki, &settings).map_err(|e| config(e.to_string()))?;
    let (per_s, cpu_us) = match mode {
        BareMode::Kept => (result.rates.transactions_per_s, result.cpu.per_transaction_us),
        // Written MB/s, and CPU microseconds per MB moved (one way here).
        BareMode::Records => result
            .bulk
            .map_or((0.0, 0.0), |b| (b.mb_per_s_out, b.cpu_s_per_gb * 1e3)),
        _ => (result.rates.sessions_per_s, result.cpu.per_session_us),
    };
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    Ok(crate::results::Efficiency {
        bare: mode.as_str().to_owned(),
        bare_per_s: round(bare.per_s),
        per_s,
        ratio: if bare.per_s > 0.0 {
            round(per_s / bare.per_s)
        } else {
            0.0
        },
        bare_cpu_us: if bare.cpu_us.is_finite() {
            round(bare.cpu_us)
        } else {
            0.0
        },
        cpu_us,
        negotiated: bare.negotiated,
        threads,
        sessions,
        window_s: settings.window.as_secs_f64(),
    })
}
