//! Baseline calibration: what this machine does with plain tokio + tokio-rustls and nothing else
//! (the loop itself is [`sipbench::baseline`], which `sipbench run --efficiency` also runs).
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
//! * `records` (not in `all`): `--streams` sessions (default 1) each writing 64 KiB batches of
//!   `--record-size` records to a server that discards them, the two ends on different threads;
//!   MB/s written and CPU per MB.
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
//! Optional: `--mode full|mtls|kept|records|all`, `--record-size 16384`, `--streams 1`, `--suite aes128|aes256|chacha` (restricts the provider's
//! TLS 1.3 cipher suites on both ends; default: provider default, negotiated suite is reported),
//! `--threads N`, `--sessions 64`, `--kept-sessions 256`, `--size 400`, `--warmup 1`.

use std::thread;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use sipbench::baseline::{BareMode, BareSettings, measure};
use sipbench::pki::{KeyType, Pki};
use sipbench::tls::Backend;
use sipbench::tls::rustls_stack::{provider, with_suite};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Full sessions: connect, handshake, one exchange, close.
    Full,
    /// Full sessions with mutual TLS.
    Mtls,
    /// Request/response exchanges over kept sessions.
    Kept,
    /// One-way record streams.
    Records,
    /// Full, mtls and kept in sequence.
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
    /// Record size for `records`, in bytes.
    #[arg(long, default_value_t = 16384)]
    record_size: usize,
    /// Streams for `records`.
    #[arg(long, default_value_t = 1)]
    streams: usize,
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
    let mut provider = provider(Backend::AwsLcRs).expect("aws-lc-rs is a rustls provider");
    if let Some(suite) = args.suite {
        let name = match suite {
            Suite::Aes128 => "TLS13_AES_128_GCM_SHA256",
            Suite::Aes256 => "TLS13_AES_256_GCM_SHA384",
            Suite::Chacha => "TLS13_CHACHA20_POLY1305_SHA256",
        };
        provider = with_suite(&provider, name).expect("aws-lc-rs has the TLS 1.3 suites");
    }
    let modes = match args.mode {
        Mode::All => vec![BareMode::Full, BareMode::Mtls, BareMode::Kept],
        Mode::Full => vec![BareMode::Full],
        Mode::Mtls => vec![BareMode::Mtls],
        Mode::Kept => vec![BareMode::Kept],
        Mode::Records => vec![BareMode::Records],
    };
    for mode in modes {
        let settings = BareSettings {
            mode,
            threads,
            sessions: match mode {
                BareMode::Kept => args.kept_sessions,
                BareMode::Records => args.streams,
                _ => args.sessions,
            },
            size: if mode == BareMode::Records {
                args.record_size
            } else {
                args.size
            },
            warmup: Duration::from_secs_f64(args.warmup),
            window: Duration::from_secs_f64(args.seconds),
            provider: provider.clone(),
        };
        let f = measure(&pki, &settings).expect("the bare loop's TLS configuration");
        let (unit, per) = match mode {
            BareMode::Kept => ("exchanges/s", "exchange"),
            BareMode::Records => ("MB/s", "MB"),
            _ => ("sessions/s", "session"),
        };
        let busy = f.machine_busy_pct.map_or("?".to_owned(), |b| format!("{b:.0}%"));
        let mut line = format!(
            "{:<6} {}: {:.1} {unit} · {:.0} us cpu/{per} · machine busy {busy}",
            mode.as_str(),
            f.negotiated,
            f.per_s,
            f.cpu_us
        );
        if f.errors > 0 {
            line.push_str(&format!(" · errors {}", f.errors));
        }
        println!("{line}");
        if let Some(e) = f.first_error {
            eprintln!("       first error ({}): {e}", mode.as_str());
        }
    }
}
