//! The reference SIP server: TLS (client to server), MTLS (server to server), cleartext TCP
//! and UDP ([`udp`]) listeners in front of a small registrar and UAS ([`uas`]).
//!
//! Start it as a library call with [`start`] on a [`Pool`] (tests bind port 0 and read the bound
//! addresses back), or with [`run`], which owns its pool and runs until the shutdown future
//! completes. Each transport has one listening socket that every pool thread accepts on, so a
//! port in use is an error; with [`ServerConfig::reuse_port`] each thread has its own
//! `SO_REUSEPORT` socket on the port instead, and the kernel spreads connections over them.
//!
//! Hostile peers are cut off and counted: a handshake that stalls past the handshake timeout, a
//! connection idle past the idle timeout, a request that does not arrive whole within the
//! message timeout (slowloris), a peer that does not read what it is sent within the write
//! timeout, bytes that do not frame as SIP, a message over the size limit, and connections
//! beyond the connection cap or the per-address cap.

pub mod auth;
pub mod command;
pub mod registrar;
pub mod uas;
pub mod udp;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::BytesMut;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tracing::{debug, info, warn};

use crate::connection::{ConnError, Connection};
use crate::failure::FailureKind;
use crate::pki::Identity;
use crate::pool::Pool;
use crate::sip::{Frame, Message, Role};
use crate::tls::tcp::Cleartext;
use crate::tls::{Acceptor, Backend, ServerResumption, Stack, Versions};
use crate::trust::Trust;
use registrar::Registrar;

/// Which listener a connection arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// SIP over TLS, client to server; no client certificate requested.
    Tls,
    /// SIP over mutual TLS, server to server; a client certificate is required.
    Mtls,
    /// Cleartext SIP over TCP (baseline).
    Tcp,
}

impl Transport {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tls => "tls",
            Transport::Mtls => "mtls",
            Transport::Tcp => "tcp",
        }
    }
}

/// Server configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address of the TLS listener (`None`: no TLS listener). Port 0 picks a free port.
    pub tls_addr: Option<SocketAddr>,
    /// Address of the MTLS listener.
    pub mtls_addr: Option<SocketAddr>,
    /// Address of the cleartext TCP listener.
    pub tcp_addr: Option<SocketAddr>,
    /// Address of the UDP listener (`None`: no UDP).
    pub udp_addr: Option<SocketAddr>,
    /// How the UDP listener reads: quinn-udp batches, or one `recvfrom` a datagram.
    pub udp_recv: udp::UdpRecv,
    /// The certificate chain and key the server presents.
    pub identity: Identity,
    /// What the MTLS listener accepts from clients: CAs (scoped to domains, with CRLs) and the
    /// topology of trusted servers; replaceable while running with [`RunningServer::reload`].
    pub trust: Trust,
    /// Crypto backend.
    pub backend: Backend,
    /// TLS versions offered.
    pub versions: Versions,
    /// Most connections open at once; more are accepted and closed at once, and counted.
    pub max_connections: usize,
    /// A TLS handshake not done by then is cut off.
    pub handshake_timeout: Duration,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// A request must arrive whole within this long of its first byte, else the connection is
    /// cut (`io:message-timeout`). Between messages the idle timeout applies.
    pub message_timeout: Duration,
    /// Every write to a peer (responses, bulk echo, trailer, close) must finish within this
    /// long, else the connection is cut (`io:write-timeout`).
    pub write_timeout: Duration,
    /// Most connections open at once from one source address; more are closed at once and
    /// counted (`over-address-cap`). 0: no per-address cap.
    pub max_connections_per_address: usize,
    /// Largest SIP message accepted; a larger one is answered 513 and the connection closed.
    pub max_message_size: usize,
    /// How TLS sessions are resumed (tickets or cache, 0-RTT); changeable while running with
    /// [`RunningServer::set_resumption`].
    pub resumption: ServerResumption,
    /// Each pool thread gets a listener on a port of its own (the addresses' port must be 0)
    /// instead of all threads sharing one socket (or one port, with [`Self::reuse_port`]). The
    /// embedded server uses this so that each generator worker talks to the server thread on
    /// its own core.
    pub per_thread_ports: bool,
    /// Most bindings per address of record; a REGISTER past it is answered 403.
    pub max_contacts: usize,
    /// Most addresses of record; a REGISTER adding one past it is answered 503 with Retry-After.
    pub max_records: usize,
    /// Longest binding granted, in seconds; a longer Expires is lowered (the 200 OK says so).
    pub max_expires: u32,
    /// Each pool thread binds its own socket on the listeners' ports with `SO_REUSEPORT`,
    /// instead of all threads accepting on one socket. Other processes with the option set
    /// can then bind the same ports and take part of the traffic; without it a port in use
    /// is an error.
    pub reuse_port: bool,
    /// Digest authentication (`serve --auth`): REGISTER challenged with 401, MESSAGE with 407.
    pub auth: Option<auth::AuthConfig>,
}

impl ServerConfig {
    /// A configuration on loopback port 0 for all three transports, presenting `identity` and
    /// accepting MTLS clients that `trust` accepts.
    pub fn loopback(identity: Identity, trust: Trust) -> Self {
        let any: SocketAddr = "127.0.0.1:0".parse().expect("static address");
        ServerConfig {
            tls_addr: Some(any),
            mtls_addr: Some(any),
            tcp_addr: Some(any),
            udp_addr: Some(any),
            udp_recv: udp::UdpRecv::default(),
            identity,
            trust,
            backend: Backend::default(),
            versions: Versions::Any,
            max_connections: 50_000,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            message_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            // The built-in server of `sipbench run` takes every session of its generator from
            // 127.0.0.1: no per-address cap beyond the connection cap.
            max_connections_per_address: 0,
            max_message_size: crate::sip::DEFAULT_MAX_MESSAGE_SIZE,
            per_thread_ports: false,
            reuse_port: false,
            resumption: ServerResumption::default(),
            max_contacts: registrar::DEFAULT_MAX_CONTACTS,
            max_records: registrar::DEFAULT_MAX_RECORDS,
            max_expires: registrar::DEFAULT_MAX_EXPIRES,
            auth: None,
        }
    }
}

/// The addresses the server listens on: one per pool thread with per-thread ports, else one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerAddrs {
    /// TLS listeners.
    pub tls: Vec<SocketAddr>,
    /// MTLS listeners.
    pub mtls: Vec<SocketAddr>,
    /// Cleartext TCP listeners.
    pub tcp: Vec<SocketAddr>,
    /// UDP sockets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub udp: Vec<SocketAddr>,
}

/// A counter every server thread adds to once or twice per request: one slot per thread, each
/// on cache lines of its own, summed when read, so that the cores counting at once do not pass
/// one cache line back and forth on every request.
#[derive(Debug, Default)]
struct Striped([Stripe; STRIPES]);

/// One thread's slot of a [`Striped`] counter, alone on 128 bytes (adjacent-line prefetchers
/// fetch 64-byte lines in pairs).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe(AtomicU64);

/// Slots of a [`Striped`] counter: threads beyond this share them.
const STRIPES: usize = 8;

/// The next thread's slot in [`Striped`] counters.
static NEXT_STRIPE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

thread_local! {
    /// This thread's slot in [`Striped`] counters, given at its first count.
    static STRIPE: usize = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES;
}

impl Striped {
    fn add(&self, n: u64) {
        let i = STRIPE.with(|i| *i);
        if let Some(s) = self.0.get(i) {
            s.0.fetch_add(n, Ordering::Relaxed);
        }
    }

    fn get(&self) -> u64 {
        self.0.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

/// Live counters, shared by every connection task.
#[derive(Debug, Default)]
pub struct ServerCounters {
    accepted: AtomicU64,
    rejected_over_cap: AtomicU64,
    accept_errors: AtomicU64,
    handshakes_ok: AtomicU64,
    handshakes_resumed: AtomicU64,
    handshakes_hrr: AtomicU64,
    early_data_accepted: AtomicU64,
    early_data_bytes: AtomicU64,
    mtls_resumed_with_identity: AtomicU64,
    bulk_bytes: AtomicU64,
    not_in_topology: AtomicU64,
    reloads: AtomicU64,
    requests: Striped,
    responses_2xx: Striped,
    responses_4xx: Striped,
    responses_5xx: Striped,
    malformed: AtomicU64,
    failures: Mutex<BTreeMap<String, u64>>,
    registrar: Arc<registrar::RegistrarCounters>,
    auth: Option<Arc<auth::Auth>>,
}

impl ServerCounters {
    fn fail(&self, kind: &FailureKind) {
        if *kind == FailureKind::NotInTopology {
            self.not_in_topology.fetch_add(1, Ordering::Relaxed);
        }
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        *f.entry(kind.to_string()).or_insert(0) += 1;
    }

    /// A consistent-enough copy of the counters.
    pub fn snapshot(&self) -> ServerStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ServerStats {
            accepted: get(&self.accepted),
            rejected_over_cap: get(&self.rejected_over_cap),
            accept_errors: get(&self.accept_errors),
            handshakes_ok: get(&self.handshakes_ok),
            handshakes_resumed: get(&self.handshakes_resumed),
            handshakes_hrr: get(&self.handshakes_hrr),
            early_data_accepted: get(&self.early_data_accepted),
            early_data_bytes: get(&self.early_data_bytes),
            mtls_resumed_with_identity: get(&self.mtls_resumed_with_identity),
            bulk_bytes: get(&self.bulk_bytes),
            not_in_topology: get(&self.not_in_topology),
            reloads: get(&self.reloads),
            requests: self.requests.get(),
            responses_2xx: self.responses_2xx.get(),
            responses_4xx: self.responses_4xx.get(),
            responses_5xx: self.responses_5xx.get(),
            malformed: get(&self.malformed),
            failures: self.failures.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            registrar_records: self.registrar.records() as u64,
            registrar_refused: self.registrar.refused(),
            auth: self.auth.as_ref().map(|a| a.counters()).unwrap_or_default(),
        }
    }
}

/// What the server saw, as reported in results.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections closed at once because the connection cap was reached.
    pub rejected_over_cap: u64,
    /// `accept` errors (e.g. out of file descriptors).
    pub accept_errors: u64,
    /// TLS handshakes completed (full and resumed).
    pub handshakes_ok: u64,
    /// Of those, resumed handshakes.
    pub handshakes_resumed: u64,
    /// Of those, full handshakes that needed a HelloRetryRequest.
    pub handshakes_hrr: u64,
    /// Connections whose 0-RTT early data was accepted.
    pub early_data_accepted: u64,
    /// Early data bytes received (and processed as SIP).
    pub early_data_bytes: u64,
    /// Resumed MTLS handshakes that carried the client's certificate identity (a resumed MTLS
    /// session without one is refused and counted as `mtls-resumed-without-identity`).
    pub mtls_resumed_with_identity: u64,
    /// Bytes received on connections in bulk mode.
    pub bulk_bytes: u64,
    /// MTLS peers with a valid certificate refused after the handshake because they are not a
    /// trusted server of the topology (also under `failures` as `not-in-topology`).
    #[serde(default)]
    pub not_in_topology: u64,
    /// Certificate and trust reloads done.
    #[serde(default)]
    pub reloads: u64,
    /// SIP requests parsed.
    pub requests: u64,
    /// 2xx final responses sent.
    pub responses_2xx: u64,
    /// 4xx responses sent (400 for malformed requests among them).
    pub responses_4xx: u64,
    /// 5xx responses sent (501, 505, 513).
    pub responses_5xx: u64,
    /// Messages that framed but did not parse.
    pub malformed: u64,
    /// Connections cut off, by failure kind: handshake timeouts, TLS errors, framing errors,
    /// `io:idle-timeout`, `io:message-timeout` (a request not whole in time),
    /// `io:write-timeout` (a peer that does not read), `over-address-cap` (refused: too many
    /// connections from its address), `reset` (reset or closed mid-message; a close between
    /// messages is not a failure).
    pub failures: BTreeMap<String, u64>,
    /// Addresses of record held by the registrar when the counters were read.
    #[serde(default)]
    pub registrar_records: u64,
    /// REGISTERs refused at the registrar's bounds, by kind (`too-many-contacts`: 403,
    /// `records-full`: 503); also counted in `responses_4xx`/`responses_5xx`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub registrar_refused: BTreeMap<String, u64>,
    /// With `--auth`: `challenges` (401/407 sent), of them `stale` (right credentials, an old
    /// nonce) and `rejected` (wrong credentials), and `accepted` (credentials that verified).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub auth: BTreeMap<String, u64>,
}

/// What the TLS listeners present and enforce; replaced as a whole on reload.
struct TlsState {
    identity: Identity,
    trust: Arc<Trust>,
    resumption: ServerResumption,
    /// The TLS listener's acceptor (no client certificate).
    tls: Arc<dyn Acceptor>,
    /// The MTLS listener's acceptor (a trusted client certificate required).
    mtls: Arc<dyn Acceptor>,
}

/// The TLS side of the server: rebuilt and swapped in when its configuration changes.
/// Connections hold the state they were accepted with, so a swap never touches them.
struct TlsSetup {
    stack: Arc<dyn Stack>,
    versions: Versions,
    state: RwLock<Arc<TlsState>>,
}

impl TlsSetup {
    fn new(config: &ServerConfig) -> Result<TlsSetup> {
        let stack = config.backend.stack();
        let state = Self::build(
            stack.as_ref(),
            config.identity.clone(),
            Arc::new(config.trust.clone()),
            config.versions,
            config.resumption,
        )?;
        Ok(TlsSetup {
            stack,
            versions: config.versions,
            state: RwLock::new(Arc::new(state)),
        })
    }

    fn build(
        stack: &dyn Stack,
        identity: Identity,
        trust: Arc<Trust>,
        versions: Versions,
        resumption: ServerResumption,
    ) -> Result<TlsState> {
        Ok(TlsState {
            tls: stack.acceptor(&identity, None, versions, resumption)?,
            mtls: stack.acceptor(&identity, Some(&trust), versions, resumption)?,
            identity,
            trust,
            resumption,
        })
    }

    fn current(&self) -> Arc<TlsState> {
        self.state.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn swap(&self, state: TlsState) {
        *self.state.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(state);
    }
}

struct Shared {
    tls: TlsSetup,
    registrar: Registrar,
    auth: Option<Arc<auth::Auth>>,
    counters: Arc<ServerCounters>,
    slots: Arc<Semaphore>,
    handshake_timeout: Duration,
    idle_timeout: Duration,
    message_timeout: Duration,
    write_timeout: Duration,
    per_address: Option<Arc<AddressTable>>,
    max_message_size: usize,
    tag_seq: AtomicU64,
    tag_base: u64,
}

/// A running server.
pub struct RunningServer {
    addrs: ServerAddrs,
    counters: Arc<ServerCounters>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    shared: Arc<Shared>,
    max_connections: usize,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addrs", &self.addrs)
            .finish_non_exhaustive()
    }
}

impl RunningServer {
    /// Bound addresses.
    pub fn addrs(&self) -> &ServerAddrs {
        &self.addrs
    }

    /// The live counters.
    pub fn counters(&self) -> &Arc<ServerCounters> {
        &self.counters
    }

    /// How many TCP, TLS and MTLS connections are open, read when called (the connection cap's
    /// slots in use): for a gauge that outlives a borrow of the server.
    pub fn open_connections(&self) -> impl Fn() -> u64 + Send + Sync + 'static {
        let (slots, max) = (self.shared.slots.clone(), self.max_connections);
        move || max.saturating_sub(slots.available_permits()) as u64
    }

    /// Changes how new connections resume TLS sessions. Established connections are not
    /// touched; session caches and ticket keys start afresh.
    pub fn set_resumption(&self, resumption: ServerResumption) -> Result<()> {
        let t = &self.shared.tls;
        let now = t.current();
        t.swap(TlsSetup::build(
            t.stack.as_ref(),
            now.identity.clone(),
            now.trust.clone(),
            t.versions,
            resumption,
        )?);
        Ok(())
    }

    /// Replaces the certificate the server presents and the trust it enforces (CAs, CRLs,
    /// topology). New connections use them at once; established connections keep going
    /// untouched. Session caches and ticket keys start afresh, so no session established
    /// under the old trust can be resumed under the new one. On error nothing changes.
    pub fn reload(&self, identity: Identity, trust: Trust) -> Result<()> {
        let t = &self.shared.tls;
        let resumption = t.current().resumption;
        t.swap(TlsSetup::build(
            t.stack.as_ref(),
            identity,
            Arc::new(trust),
            t.versions,
            resumption,
        )?);
        self.counters.reloads.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Stops accepting, tells every connection to close, waits up to `grace` for them, and
    /// returns the final counters.
    pub async fn shutdown(self, grace: Duration) -> ServerStats {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        let deadline = Instant::now() + grace;
        while self.shared.slots.available_permits() < self.max_connections && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.counters.snapshot()
    }
}

/// Binds every configured listener and starts serving on `pool`. Two listeners on one address,
/// or a port in use (without [`ServerConfig::reuse_port`]), is an error naming it.
pub fn start(config: &ServerConfig, pool: &Pool) -> Result<RunningServer> {
    check_distinct(config)?;
    let tls_setup = TlsSetup::new(config)?;
    let registrar = Registrar::new(registrar::Limits {
        max_contacts: config.max_contacts,
        max_records: config.max_records,
        max_expires: config.max_expires,
    });
    let auth = config
        .auth
        .as_ref()
        .map(|a| Arc::new(auth::Auth::new(a, Instant::now())));
    let counters = Arc::new(ServerCounters {
        registrar: registrar.counters().clone(),
        auth: auth.clone(),
        ..ServerCounters::default()
    });
    let shared = Arc::new(Shared {
        tls: tls_setup,
        registrar,
        auth,
        counters: counters.clone(),
        slots: Arc::new(Semaphore::new(config.max_connections)),
        handshake_timeout: config.handshake_timeout,
        idle_timeout: config.idle_timeout,
        message_timeout: config.message_timeout,
        write_timeout: config.write_timeout,
        per_address: (config.max_connections_per_address > 0).then(|| {
            Arc::new(AddressTable {
                limit: config.max_connections_per_address,
                open: Mutex::new(HashMap::new()),
            })
        }),
        max_message_size: config.max_message_size,
        tag_seq: AtomicU64::new(0),
        tag_base: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    });
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut addrs = ServerAddrs::default();
    let mut tasks = Vec::new();
    let listeners = [
        (config.tls_addr, Transport::Tls),
        (config.mtls_addr, Transport::Mtls),
        (config.tcp_addr, Transport::Tcp),
    ];
    for (addr, transport) in listeners {
        let Some(addr) = addr else { continue };
        if config.per_thread_ports && addr.port() != 0 {
            anyhow::bail!(
                "per-thread ports need port 0 for the {} listener, not {addr}",
                transport.as_str()
            );
        }
        let binding = if config.per_thread_ports {
            Binding::PerThreadPorts
        } else if config.reuse_port {
            Binding::ReusePort
        } else {
            Binding::Shared
        };
        let sockets = bind_listeners(addr, pool.len(), binding).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
                " (another server there? --reuse-port shares a port on purpose)"
            } else {
                ""
            };
            anyhow::Error::new(e).context(format!(
                "binding the {} listener (--{}-addr) on {addr}{hint}",
                transport.as_str(),
                transport.as_str()
            ))
        })?;
        let mut bound = Vec::with_capacity(sockets.len());
        for s in &sockets {
            let a = s.local_addr()?;
            if !bound.contains(&a) {
                bound.push(a);
            }
        }
        info!(transport = transport.as_str(), addrs = ?bound, threads = pool.len(), "listening");
        match transport {
            Transport::Tls => addrs.tls = bound,
            Transport::Mtls => addrs.mtls = bound,
            Transport::Tcp => addrs.tcp = bound,
        }
        for (i, std_listener) in sockets.into_iter().enumerate() {
            let shared = shared.clone();
            let shutdown = shutdown_rx.clone();
            tasks.push(pool.spawn_on(i, async move {
                match TcpListener::from_std(std_listener) {
                    Ok(l) => accept_loop(l, transport, shared, shutdown).await,
                    Err(e) => warn!("registering listener: {e}"),
                }
            }));
        }
    }
    if let Some(addr) = config.udp_addr {
        let binding = if config.per_thread_ports {
            Binding::PerThreadPorts
        } else if config.reuse_port {
            Binding::ReusePort
        } else {
            Binding::Shared
        };
        let sockets = udp::bind(addr, pool.len(), binding)
            .with_context(|| format!("binding the UDP listener (--udp-addr) on {addr}"))?;
        for s in &sockets {
            let a = s.local_addr()?;
            if !addrs.udp.contains(&a) {
                addrs.udp.push(a);
            }
        }
        info!(transport = "udp", addrs = ?addrs.udp, threads = pool.len(), recv = ?config.udp_recv, "listening");
        for (i, socket) in sockets.into_iter().enumerate() {
            let shared = shared.clone();
            let shutdown = shutdown_rx.clone();
            let recv = config.udp_recv;
            tasks.push(pool.spawn_on(i, udp::serve(socket, shared, shutdown, recv)));
        }
    }
    // Expired bindings are swept on a timer, one shard a tick, not only when touched.
    let sweeper = shared.clone();
    let mut shutdown = shutdown_rx.clone();
    tasks.push(pool.spawn_on(0, async move {
        let mut tick = tokio::time::interval(registrar::SWEEP_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    sweeper.registrar.sweep(Instant::now());
                }
                _ = shutdown.changed() => break,
            }
        }
    }));
    Ok(RunningServer {
        addrs,
        counters,
        shutdown: shutdown_tx,
        tasks,
        shared,
        max_connections: config.max_connections,
    })
}

/// Runs the server on its own pool (`threads` runtime threads) until `shutdown` completes,
/// then drains connections for up to five seconds. `on_ready` is called with the bound
/// addresses once listening.
pub async fn run(
    config: ServerConfig,
    threads: usize,
    shutdown: impl Future<Output = ()>,
    on_ready: impl FnOnce(ServerAddrs),
) -> Result<ServerStats> {
    let pool = Pool::new(threads, "sipbench-server")?;
    let server = start(&config, &pool)?;
    on_ready(server.addrs().clone());
    shutdown.await;
    info!("shutting down");
    let stats = server.shutdown(Duration::from_secs(5)).await;
    // Joining the pool's threads blocks; do it off the async context.
    tokio::task::spawn_blocking(move || drop(pool))
        .await
        .context("stopping the server threads")?;
    Ok(stats)
}

/// Refuses two listeners on one address (the same port on the same or a wildcard address):
/// they would share it and split its connections between transports.
fn check_distinct(config: &ServerConfig) -> Result<()> {
    let listeners = [
        (config.tls_addr, Transport::Tls),
        (config.mtls_addr, Transport::Mtls),
        (config.tcp_addr, Transport::Tcp),
    ];
    for (i, (a, ta)) in listeners.iter().enumerate() {
        for (b, tb) in &listeners[i + 1..] {
            let (Some(a), Some(b)) = (a, b) else { continue };
            let overlap = a.port() == b.port()
                && a.port() != 0
                && a.is_ipv4() == b.is_ipv4()
                && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified());
            if overlap {
                anyhow::bail!(
                    "--{}-addr {a} and --{}-addr {b} overlap: each listener needs an address of its own",
                    ta.as_str(),
                    tb.as_str()
                );
            }
        }
    }
    Ok(())
}

/// How a transport's listening sockets are laid out over the pool threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Binding {
    /// One socket, shared by every thread (each accepts on a clone of it).
    Shared,
    /// One socket per thread on one port through `SO_REUSEPORT`.
    ReusePort,
    /// One socket per thread, each on a port of its own.
    PerThreadPorts,
}

/// One listening socket (or clone of one) per thread, laid out as `binding` says.
fn bind_listeners(addr: SocketAddr, n: usize, binding: Binding) -> std::io::Result<Vec<std::net::TcpListener>> {
    use socket2::{Domain, Protocol, Socket, Type};
    let n = n.max(1);
    let mut out = Vec::with_capacity(n);
    let mut next = addr;
    for _ in 0..n {
        if binding == Binding::Shared
            && let Some(first) = out.first()
        {
            // Every thread's runtime registers a descriptor of the one socket; accepting on a
            // shared socket is safe, and whichever thread is woken first takes the connection.
            let clone = std::net::TcpListener::try_clone(first)?;
            out.push(clone);
            continue;
        }
        let s = Socket::new(Domain::for_address(next), Type::STREAM, Some(Protocol::TCP))?;
        s.set_reuse_address(true)?;
        s.set_reuse_port(binding == Binding::ReusePort)?;
        s.set_nonblocking(true)?;
        s.bind(&next.into())?;
        s.listen(4096)?;
        let l: std::net::TcpListener = s.into();
        if binding == Binding::ReusePort {
            // Later sockets join the port the first one got (port 0 picks one).
            next = l.local_addr()?;
        }
        out.push(l);
    }
    Ok(out)
}

/// Connections open per source address, for the per-address cap.
#[derive(Debug)]
struct AddressTable {
    limit: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl AddressTable {
    /// A slot for one more connection from `ip`, or `None` when it has `limit` open.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= self.limit {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            table: self.clone(),
            ip,
        })
    }
}

/// One connection's place in the per-address count, given back when it closes.
#[derive(Debug)]
struct AddressSlot {
    table: Arc<AddressTable>,
    ip: IpAddr,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    transport: Transport,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                shared.counters.accept_errors.fetch_add(1, Ordering::Relaxed);
                debug!("accept: {e}");
                // Out of descriptors or similar: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        shared.counters.accepted.fetch_add(1, Ordering::Relaxed);
        let Ok(permit) = shared.slots.clone().try_acquire_owned() else {
            shared.counters.rejected_over_cap.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        let address_slot = match &shared.per_address {
            None => None,
            Some(table) => match table.admit(peer.ip()) {
                Some(slot) => Some(slot),
                None => {
                    shared.counters.fail(&FailureKind::OverAddressCap);
                    drop(stream);
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let acceptor: Arc<dyn Acceptor> = match transport {
            Transport::Tls => shared.tls.current().tls.clone(),
            Transport::Mtls => shared.tls.current().mtls.clone(),
            Transport::Tcp => Arc::new(Cleartext),
        };
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _address_slot = address_slot;
            let result = serve(stream, acceptor.as_ref(), transport, &shared, shutdown).await;
            if let Err(kind) = result {
                debug!(%peer, transport = transport.as_str(), "connection ended: {kind}");
                shared.counters.fail(&kind);
            }
        });
    }
}

/// Runs the connection's handshake (none for TCP), admits it, and serves it.
async fn serve(
    stream: TcpStream,
    acceptor: &dyn Acceptor,
    transport: Transport,
    shared: &Shared,
    shutdown: watch::Receiver<bool>,
) -> Result<(), FailureKind> {
    let accepted = match tokio::time::timeout(shared.handshake_timeout, acceptor.accept(stream)).await {
        Err(_) => return Err(FailureKind::HandshakeTimeout),
        Ok(r) => r?,
    };
    let c = &shared.counters;
    if accepted.secure {
        admit(transport, c, accepted.peer_identified, accepted.resumed)?;
        if accepted.hello_retry {
            c.handshakes_hrr.fetch_add(1, Ordering::Relaxed);
        }
    }
    let mut early = BytesMut::new();
    if let Some(data) = accepted.early_data {
        c.early_data_accepted.fetch_add(1, Ordering::Relaxed);
        c.early_data_bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        early = data;
    }
    serve_conn(accepted.stream, shared, shutdown, early).await
}

/// What every stack does once a handshake is done (the trust model, topology included, ran
/// inside it): a resumed MTLS session must still carry the client's identity. Counts the
/// handshake. The caller closes the connection on an error.
fn admit(transport: Transport, c: &ServerCounters, peer_identified: bool, resumed: bool) -> Result<(), FailureKind> {
    c.handshakes_ok.fetch_add(1, Ordering::Relaxed);
    if resumed {
        c.handshakes_resumed.fetch_add(1, Ordering::Relaxed);
        if transport == Transport::Mtls {
            if !peer_identified {
                return Err(FailureKind::MtlsResumedWithoutIdentity);
            }
            c.mtls_resumed_with_identity.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Reads SIP off one connection and answers it until the peer closes, the connection idles
/// out, a request takes longer than the message timeout to arrive, a write takes longer than
/// the write timeout, the framing breaks, or the server shuts down. `early` (0-RTT data) is the
/// start of the stream.
///
/// A peer that closes or resets the connection between messages ends it normally; in the middle
/// of a message that is a `reset` failure.
async fn serve_conn<S>(
    io: S,
    shared: &Shared,
    mut shutdown: watch::Receiver<bool>,
    early: BytesMut,
) -> Result<(), FailureKind>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut conn = Connection::new(io, Role::Server, shared.max_message_size).with_buffered(&early);
    let tag = new_tag(shared);
    let c = &shared.counters;
    // One shutdown waiter and one idle timer per connection, re-armed rather than re-created
    // on every read: the shutdown channel is shared by every thread.
    let shutdown = shutdown.changed();
    tokio::pin!(shutdown);
    let idle = tokio::time::sleep(shared.idle_timeout);
    tokio::pin!(idle);
    // The whole-message deadline, armed when a message's first bytes are buffered.
    let message = tokio::time::sleep(shared.message_timeout);
    tokio::pin!(message);
    let mut message_started = false;
    // The write deadline, armed only when a flush has to wait for the peer.
    let write = tokio::time::sleep(shared.write_timeout);
    tokio::pin!(write);
    let mut bulk = None;
    loop {
        // Answer every frame already read, then send the answers with one write.
        let mut fatal = None;
        let mut decoded = false;
        loop {
            let frame = conn.decode_buffered();
            decoded |= matches!(frame, Ok(Some(_)));
            match frame {
                Ok(Some(Frame::Message(bytes))) => match Message::parse(&bytes) {
                    Ok(msg) => {
                        if matches!(msg, Message::Request(_)) {
                            c.requests.add(1);
                        }
                        let outcome = with_date(|date| {
                            uas::handle_request(
                                &msg,
                                &shared.registrar,
                                shared.auth.as_deref(),
                                &tag,
                                (Instant::now(), date),
                                conn.out(),
                            )
                        });
                        if let uas::Outcome::Answered(status) = outcome {
                            count_status(c, status);
                            // An answered bulk request switches the connection to streaming.
                            if status == 200 {
                                bulk = msg.header(crate::bulk::HEADER).and_then(crate::bulk::BulkMode::parse);
                            }
                        }
                        if bulk.is_some() {
                            break;
                        }
                    }
                    Err(e) => {
                        c.malformed.fetch_add(1, Ordering::Relaxed);
                        if let Some(status) = uas::answer_malformed(&bytes, &e, conn.out()) {
                            count_status(c, status);
                        }
                    }
                },
                Ok(Some(Frame::Ping)) => crate::sip::encode_pong(conn.out()),
                Ok(Some(Frame::Pong)) => {}
                Ok(None) => break,
                Err(e) => {
                    if matches!(e, crate::sip::FrameError::TooLarge { .. }) {
                        conn.out()
                            .extend_from_slice(b"SIP/2.0 513 Message Too Large\r\nContent-Length: 0\r\n\r\n");
                        count_status(c, 513);
                    }
                    fatal = Some(failure(e));
                    break;
                }
            }
        }
        flush_within(&mut conn, write.as_mut(), shared.write_timeout).await?;
        if let Some(kind) = fatal {
            close(&mut conn, shared).await;
            return Err(kind);
        }
        if let Some(mode) = bulk {
            return serve_bulk(conn, mode, shared).await;
        }
        // The message deadline runs from the first byte of a message: (re-)armed when a
        // message has started arriving and the previous one (if any) was just cut out.
        if conn.buffered() == 0 {
            message_started = false;
        } else if !message_started || decoded {
            message_started = true;
            message.as_mut().reset(after(shared.message_timeout));
        }
        // One read, whatever it brings: any bytes re-arm the idle timer.
        let read = tokio::select! {
            biased;
            r = conn.read_more() => r,
            _ = &mut idle => {
                close(&mut conn, shared).await;
                return Err(FailureKind::IdleTimeout);
            }
            _ = &mut message, if message_started => {
                close(&mut conn, shared).await;
                return Err(FailureKind::MessageTimeout);
            }
            _ = &mut shutdown => {
                close(&mut conn, shared).await;
                return Ok(());
            }
        };
        match read {
            Ok(0) if conn.buffered() == 0 => {
                close(&mut conn, shared).await;
                return Ok(());
            }
            Ok(0) => {
                return Err(failure(ConnError::Truncated {
                    buffered: conn.buffered(),
                }));
            }
            Ok(_) => idle.as_mut().reset(after(shared.idle_timeout)),
            Err(e) => {
                let kind = failure(e);
                // A peer that resets (or drops without a TLS close) between messages has
                // simply gone: SIPp and many clients close that way.
                if kind == FailureKind::Reset && conn.buffered() == 0 {
                    return Ok(());
                }
                return Err(kind);
            }
        }
    }
}

/// Calls `f` with the current time as an RFC 1123 date (the SIP `Date` header's form), formatted
/// once a second per thread.
pub(crate) fn with_date<R>(f: impl FnOnce(&str) -> R) -> R {
    thread_local! {
        static DATE: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((u64::MAX, String::new())) };
    }
    let now = std::time::SystemTime::now();
    let secs = now
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DATE.with_borrow_mut(|(at, text)| {
        if *at != secs {
            *at = secs;
            text.clear();
            text.push_str(&httpdate::fmt_http_date(now));
        }
        f(text)
    })
}

/// A To tag unique to one connection (or one UDP socket) of this server process.
fn new_tag(shared: &Shared) -> String {
    format!(
        "{:x}",
        shared.tag_base
            ^ shared
                .tag_seq
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
    )
}

/// The instant `d` from now; a timeout too long to add to the clock is as good as never.
fn after(d: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400))
}

/// Sends the connection's queued output under the write timeout, on the connection's own
/// timer: it is re-armed only when the flush cannot finish at once, so a peer that reads costs
/// no timer work.
async fn flush_within<S>(
    conn: &mut Connection<S>,
    mut timer: std::pin::Pin<&mut tokio::time::Sleep>,
    limit: Duration,
) -> Result<(), FailureKind>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let flush = conn.flush_out();
    tokio::pin!(flush);
    let mut armed = false;
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(r) = flush.as_mut().poll(cx) {
            return std::task::Poll::Ready(r.map(drop).map_err(failure));
        }
        if !armed {
            armed = true;
            timer.as_mut().reset(after(limit));
        }
        timer.as_mut().poll(cx).map(|()| Err(FailureKind::WriteTimeout))
    })
    .await
}

/// Runs a write (or flush, or close) under the write timeout: a peer that does not read is
/// cut off (`io:write-timeout`). The timer is only registered if the write has to wait.
async fn write_within<T>(limit: Duration, write: impl Future<Output = std::io::Result<T>>) -> Result<T, FailureKind> {
    match tokio::time::timeout(limit, write).await {
        Err(_) => Err(FailureKind::WriteTimeout),
        Ok(r) => r.map_err(failure),
    }
}

/// Closes the writing side (TLS close_notify, then FIN), giving up after the write timeout.
async fn close<S>(conn: &mut Connection<S>, shared: &Shared)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _ = write_within(shared.write_timeout, conn.shutdown()).await;
}

/// Bulk mode (see [`crate::bulk`]): SIP framing ends; reads until the client closes its side,
/// echoing every byte in echo mode, then sends the trailer with the byte count and CRC-32 of
/// what arrived (counting the bytes the connection had read past the switching request).
async fn serve_bulk<S>(conn: Connection<S>, mode: crate::bulk::BulkMode, shared: &Shared) -> Result<(), FailureKind>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut io, pending) = conn.into_parts();
    let mut crc = crc32fast::Hasher::new();
    let mut total = pending.len() as u64;
    crc.update(&pending);
    let limit = shared.write_timeout;
    if mode == crate::bulk::BulkMode::Echo && !pending.is_empty() {
        write_within(limit, io.write_all(&pending)).await?;
    }
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match tokio::time::timeout(shared.idle_timeout, io.read(&mut buf)).await {
            Err(_) => return Err(FailureKind::IdleTimeout),
            Ok(r) => r.map_err(failure)?,
        };
        if n == 0 {
            break;
        }
        crc.update(&buf[..n]);
        total += n as u64;
        if mode == crate::bulk::BulkMode::Echo {
            write_within(limit, io.write_all(&buf[..n])).await?;
        }
    }
    shared.counters.bulk_bytes.fetch_add(total, Ordering::Relaxed);
    write_within(
        limit,
        io.write_all(crate::bulk::trailer(total, crc.finalize()).as_bytes()),
    )
    .await?;
    write_within(limit, io.flush()).await?;
    let _ = write_within(limit, io.shutdown()).await;
    Ok(())
}

/// What a connection error means for the server: the one place its SIP connections' I/O and
/// framing errors are classified.
fn failure(e: impl Into<ConnError>) -> FailureKind {
    FailureKind::from(e.into())
}

fn count_status(c: &ServerCounters, status: u16) {
    let counter = match status {
        200..=299 => &c.responses_2xx,
        400..=499 => &c.responses_4xx,
        500..=599 => &c.responses_5xx,
        _ => return,
    };
    counter.add(1);
}
