//! The results file: a documented contract (`results/README.md`, `results/schema.json`).
//!
//! One JSON object per run, rewritten after every phase, so an interrupted run still leaves a
//! valid file holding the phases done so far (`"complete": false`).
//! Histograms are HdrHistogram V2 + DEFLATE, base64-encoded: the form HdrHistogram's
//! `HistogramLogReader` and [`crate::stats::decode_histogram`] read (values in microseconds).
//!
//! # Units
//!
//! One policy for every file sipbench writes (results, compare, merged, capacity, audit,
//! backends, `diff --json`), stated in `results/schema.json`'s description too:
//!
//! - a figure with a unit carries it in its name or its parent's: latencies are integer
//!   **microseconds** (`latency_us` and its summaries, `*_us`); other times `_ms` or `_s`
//!   (`_unix_s`: since the Unix epoch); sizes `_bytes` (and `bytes.in`/`out`); rates `_per_s`;
//!   throughput `mb_per_s` (MB = 10^6 bytes); `cpu_s_per_gb` (GB = 10^9 bytes);
//! - plan fields keep the profile's key names and the flags' units: `rate` and the shapes'
//!   rates are arrivals per second, `record_size` and `body_size` bytes, durations humantime
//!   strings (`"10s"`); `share`, `*_ratio` and `failure_rate` are fractions from 0 to 1;
//! - `diff --json` rows are the table's rows and carry their unit in a `unit` field.
//!
//! Views for people (the terminal summary and live view, the HTML report, the diff and
//! capacity tables, `.hgrm` files) show latency in milliseconds with the unit next to it;
//! `--hlog` interval logs are in nanoseconds, HdrHistogram's convention, so that its tools read
//! them with their default flags.
//!
//! # Versions
//!
//! `schema` is `sipbench-result/MAJOR`; a later `sipbench-result/MAJOR.MINOR` only adds
//! fields. The output structs here do not deny unknown fields, and [`RunResult::read`] (with
//! [`read_versioned`], which the compare and audit readers share) accepts any minor version of
//! its major one, so a newer file of the same major version loads; what people write (profiles,
//! topologies) stays strict, since an unknown key there is a typo.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::plan::PhasePlan;
use crate::server::ServerStats;
use crate::stats::Summary;
use crate::sys::Environment;

/// Schema identifier written in every file; bumped on incompatible changes.
pub const SCHEMA: &str = "sipbench-result/1";

/// Whether a file whose `schema` is `found` can be read as `expected` (`sipbench-KIND/MAJOR`):
/// the same kind and major version, with or without a minor version
/// (`sipbench-KIND/MAJOR.MINOR`). A later minor version only adds fields, and the readers
/// ignore fields they do not know; a new major version is another format.
pub fn readable_version(found: &str, expected: &str) -> bool {
    found == expected
        || found
            .strip_prefix(expected)
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|minor| !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()))
}

/// Reads a sipbench JSON file of kind `expected` (its `schema`, see [`readable_version`]):
/// its text, after checking the version, so that a file of another kind or version is named as
/// such rather than failing on its first unknown or missing field.
pub fn read_versioned<T: serde::de::DeserializeOwned>(path: &Path, expected: &str) -> Result<T> {
    #[derive(Deserialize)]
    struct Head {
        schema: Option<serde_json::Value>,
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let head: Head = serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    match head.schema.as_ref().and_then(|s| s.as_str()) {
        Some(found) if readable_version(found, expected) => {}
        Some(found) => anyhow::bail!(
            "{}: schema {found:?}, expected {expected:?} (or a later {expected}.N){}",
            path.display(),
            if found.starts_with("sipbench-") && !found.starts_with(expected.split('/').next().unwrap_or(expected)) {
                ": another kind of sipbench file"
            } else {
                ""
            }
        ),
        None => anyhow::bail!(
            "{}: no \"schema\" field: not a sipbench file (expected {expected:?})",
            path.display()
        ),
    }
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// When this file was last written (RFC 3339, UTC).
    pub written_at: String,
    /// False while phases remain or when the run was interrupted.
    pub complete: bool,
    /// True when the run was interrupted (Ctrl-C, SIGTERM).
    pub interrupted: bool,
    /// The command line.
    pub command: Vec<String>,
    /// Profile name.
    pub profile: String,
    /// What was measured against.
    pub target: TargetInfo,
    /// Machine and build.
    pub environment: Environment,
    /// Certificate key type of the embedded PKI (`null` for a remote target).
    pub key_type: Option<String>,
    /// Worker threads of the generator.
    pub workers: usize,
    /// Phases done so far, in order.
    pub phases: Vec<PhaseResult>,
    /// The embedded server's counters at the end (`null` for a remote target).
    pub server: Option<ServerStats>,
    /// Limits that capped the run, in words (empty when none did).
    pub warnings: Vec<String>,
    /// `sipbench capacity`: the search, each step (each also a phase above) and the knee.
    /// Absent in files of other commands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<crate::capacity::CapacityResult>,
    /// A shard of a scaled-out run (`--shard I/N`): which one. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// The wall-clock instant (RFC 3339) the first phase waited for (`--start-at`). Absent
    /// when the run started at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
    /// A merged file (`sipbench merge`): how many results files it adds up. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_from: Option<usize>,
    /// A merged file: every input, with its own environment and command line, in the order
    /// given. Empty (and absent) otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<MergedInput>,
    /// A shard's clock against the target's, measured during the run from the `Date` headers
    /// of OPTIONS responses ([`crate::generator::offset`]). Absent when not measured (runs
    /// that are not shards, or `--clock-probe off`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockOffset>,
}

/// This host's clock against the target's: `offset_ms` (target minus local) is the middle of
/// the bounds `[low_ms, high_ms)` that every answered probe allows. The probes are OPTIONS on
/// one session of their own, outside the phases' figures (but counted by the target).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockOffset {
    /// The target's address the probes went to.
    pub against: String,
    /// Target clock minus local clock, milliseconds (the middle of the bounds).
    pub offset_ms: f64,
    /// The offset is at least this, milliseconds.
    pub low_ms: f64,
    /// The offset is below this, milliseconds.
    pub high_ms: f64,
    /// Responses that carried a `Date` (0: not measured, see `note`).
    pub samples: u32,
    /// OPTIONS requests the probe sent (each one request, on one extra session).
    pub probes: u32,
    /// Why the offset was not measured, or stopped being narrowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Which shard of a scaled-out run a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// 0-based index, below `count`.
    pub index: u32,
    /// Shards in the run.
    pub count: u32,
}

/// One input of a merged file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedInput {
    /// The file as named on the command line.
    pub path: String,
    /// When its run started (RFC 3339, UTC).
    pub started_at: String,
    /// Its command line.
    pub command: Vec<String>,
    /// Its machine and build.
    pub environment: Environment,
    /// Its shard, when it was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// Seconds its first measured window opened after the earliest input's (wall clock, as
    /// each host's clock read it); absent when the inputs do not record it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_s: Option<f64>,
    /// Its clock against the target's, when it measured it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockOffset>,
}

/// What the generator talked to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// `embedded` (built-in server in this process, sharing its cores) or `remote`.
    pub kind: String,
    /// TLS addresses (the embedded server has one per thread).
    pub tls: Vec<String>,
    /// MTLS addresses.
    pub mtls: Vec<String>,
    /// Cleartext TCP addresses.
    pub tcp: Vec<String>,
    /// Cleartext UDP addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub udp: Vec<String>,
    /// Name verified in the server certificate.
    pub server_name: String,
    /// How certificates were checked, e.g. `built-in topology, CRLs checked` (CRL checks cost
    /// handshakes measurably). Absent in files written before it existed.
    #[serde(default)]
    pub trust: String,
    /// A deployment found through DNS or pins: every server each listener resolved to, with
    /// how (`literal`, `pinned`, `naptr`, `srv`, `a`). Absent for the embedded server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved: Vec<ResolvedServer>,
}

/// A server a target resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedServer {
    /// `tls`, `mtls` or `tcp`.
    pub listener: String,
    /// The server.
    #[serde(flatten)]
    pub server: crate::dns::Server,
}

/// A threshold a phase was held to, and whether it kept it ([`crate::threshold`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// The expression, e.g. `session.p99<50ms`.
    pub expression: String,
    /// What was observed, in the metric's unit (microseconds, a fraction, a count or per
    /// second); `None` when the phase has no such metric (the threshold is then broken).
    pub observed: Option<f64>,
    /// The phase kept it.
    pub passed: bool,
}

impl PhaseResult {
    /// The thresholds the phase broke.
    pub fn broken_thresholds(&self) -> impl Iterator<Item = &ThresholdResult> {
        self.thresholds.iter().flatten().filter(|t| !t.passed)
    }
}

/// One phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseResult {
    /// The resolved phase plan.
    pub plan: PhasePlan,
    /// The phase was cut short.
    pub interrupted: bool,
    /// Seconds from the start of the measured window to the last counted completion.
    pub measured_s: f64,
    /// Session counts.
    pub sessions: SessionCounts,
    /// Failures by kind (sessions and kept-session transactions).
    pub failures: BTreeMap<String, u64>,
    /// Transactions per SIP method.
    pub transactions: BTreeMap<String, TxnCounts>,
    /// Rates over `measured_s`.
    pub rates: Rates,
    /// Latency summaries in microseconds, by metric (see results/README.md for the names).
    pub latency_us: BTreeMap<String, Summary>,
    /// Handshakes by negotiated parameters.
    pub negotiated: Vec<NegotiatedCount>,
    /// Handshakes by kind, and the resumption ratio.
    pub handshakes: HandshakeCounts,
    /// Process CPU time over the measured window and the drain after it.
    pub cpu: Cpu,
    /// Memory figures (workload `hold`).
    pub memory: Option<Memory>,
    /// Bulk throughput (workload `records`).
    pub bulk: Option<Bulk>,
    /// Message rate and volume (workload `messages`).
    pub messages: Option<MessageFigures>,
    /// Reconnect storm figures (workload `storm`).
    pub storm: Option<StormFigures>,
    /// Sessions that presented a bad certificate (phase `bad_cert`). Absent in files written
    /// before it existed.
    #[serde(default)]
    pub rejections: Option<RejectionFigures>,
    /// Every threshold the phase was held to (its own and the default `failures==0`), with
    /// what was observed. Absent in files written before thresholds existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Vec<ThresholdResult>>,
    /// Digest authentication, when the server challenged: how many 401/407 challenges the
    /// sessions received (auth failures are under `failures` as `auth:*`). Absent when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthFigures>,
    /// Phases with calls (transaction INVITE), as SIPp reports them. Absent without calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls: Option<CallFigures>,
    /// Against this machine's bare loop (`run --efficiency`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub efficiency: Option<Efficiency>,
    /// Mode udp: how many requests were sent again because no response came within the
    /// retransmission interval (RFC 3261 timers A/E, from T1 = 500 ms). Absent in other modes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udp: Option<UdpFigures>,
    /// A deployment of several servers: connect attempts per server address (sessions are
    /// spread over them by SRV weight). Absent with one server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers: Option<BTreeMap<String, u64>>,
    /// One point a second over the measured window (the last one may be shorter). Absent in
    /// files written before it existed.
    #[serde(default)]
    pub timeline: Vec<TimelinePoint>,
    /// Step rates (`rate = [A, B, ...]`): each step's figures, from the timeline's seconds
    /// inside it. Absent for other phases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepFigures>>,
    /// Wall-clock time the measured window opened, seconds since the Unix epoch (millisecond
    /// precision, this host's clock): what `merge` aligns timelines by. Absent in files
    /// written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_start_unix_s: Option<f64>,
    /// Application bytes (SIP payload) written and read.
    pub bytes: Bytes,
    /// The histograms behind `latency_us`, HdrHistogram V2 + DEFLATE, base64.
    pub histograms: BTreeMap<String, String>,
}

/// Call figures of a phase: INVITE, 100/180/200, ACK, the hold time, BYE.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CallFigures {
    /// Calls started (INVITEs sent, answered or failed) in the measured window.
    pub attempted: u64,
    /// Calls completed: their BYE answered 2xx.
    pub completed: u64,
    /// Calls whose INVITE or BYE failed.
    pub failed: u64,
    /// Completed calls per second over the measured time.
    pub calls_per_s: f64,
    /// The most calls in progress at once, from INVITE sent to BYE answered (warm-up included).
    pub concurrent_max: u64,
    /// Each call's hold time between ACK and BYE, in seconds.
    pub hold_s: f64,
}

/// SIP over UDP figures of a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UdpFigures {
    /// Requests retransmitted (each a datagram sent again; the transaction's latency runs
    /// from the first send).
    pub retransmissions: u64,
}

/// Digest authentication figures of a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthFigures {
    /// 401 and 407 challenges received (each answered challenge costs one round trip, inside
    /// the transaction's latency).
    pub challenges: u64,
}

/// Session counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionCounts {
    /// Started in the measured window (kept/hold: opened).
    pub started: u64,
    /// Completed every step.
    pub ok: u64,
    /// Failed.
    pub failed: u64,
}

/// Transaction counts of one method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnCounts {
    /// Final response < 400.
    pub ok: u64,
    /// Failed.
    pub failed: u64,
}

/// Rates per second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    /// Successful sessions per second.
    pub sessions_per_s: f64,
    /// Completed TLS handshakes (full and resumed) per second.
    pub handshakes_per_s: f64,
    /// Successful SIP transactions per second, all methods.
    pub transactions_per_s: f64,
}

/// A negotiated-parameters tally entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NegotiatedCount {
    /// Protocol version (`TLSv1_3`, `TLSv1_2`, `none`).
    pub protocol: String,
    /// Cipher suite.
    pub cipher_suite: String,
    /// Key exchange group.
    pub kx_group: String,
    /// Peer certificate key type.
    pub peer_key: String,
    /// `full`, `full-hrr`, `resumed` or `none`.
    pub handshake: String,
    /// How resumed handshakes resumed, as the handshake showed it: `session-id`, `ticket`
    /// (TLS 1.2), `tls13-psk`, `unknown` (the stack does not say); `none` when not resumed
    /// (and in files written before it was recorded).
    #[serde(default = "not_resumed")]
    pub resumed_by: String,
    /// Handshakes with these parameters.
    pub count: u64,
}

/// Handshakes by kind (client side).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandshakeCounts {
    /// Full handshakes.
    pub full: u64,
    /// Full handshakes with a HelloRetryRequest round trip.
    pub full_hrr: u64,
    /// Resumed handshakes (without accepted early data).
    pub resumed: u64,
    /// Resumed handshakes whose 0-RTT early data the server accepted.
    pub resumed_0rtt: u64,
    /// (resumed + resumed_0rtt) / all handshakes; 0 when there were none.
    pub resumption_ratio: f64,
    /// Resumed handshakes (with or without early data) by the mechanism the handshake used
    /// (`session-id`, `ticket`, `tls13-psk`, `unknown`); empty when none resumed.
    #[serde(default)]
    pub resumed_by: BTreeMap<String, u64>,
}

/// What [`NegotiatedCount::resumed_by`] reads as when absent.
fn not_resumed() -> String {
    "none".into()
}

/// CPU time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cpu {
    /// User seconds.
    pub user_s: f64,
    /// System seconds.
    pub system_s: f64,
    /// Whether the figure includes the embedded server (same process).
    pub includes_server: bool,
    /// CPU microseconds per successful session (0 when none).
    pub per_session_us: f64,
    /// CPU microseconds per successful transaction (0 when none).
    pub per_transaction_us: f64,
}

/// A phase's rate against the bare loop's on this machine ([`crate::baseline`], `run
/// --efficiency`): the same provider, TLS 1.3, cipher suite, key exchange group, key type and
/// worker threads, measured right after the phase in the same process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Efficiency {
    /// What the bare loop did: `full`, `mtls` (sessions), `kept` (exchanges) or `records`
    /// (one-way streams, MB = 10^6 bytes).
    pub bare: String,
    /// Its rate: sessions, exchanges or written MB per second.
    pub bare_per_s: f64,
    /// The phase's own rate: sessions per second (`full`, `mtls`), transactions per second
    /// (`kept`) or written MB per second (`records`).
    pub per_s: f64,
    /// `per_s / bare_per_s`: 1 is the bare loop's rate.
    pub ratio: f64,
    /// The bare loop's process CPU per session, exchange or MB, microseconds.
    pub bare_cpu_us: f64,
    /// The phase's process CPU per session, transaction or MB (generator and embedded server),
    /// microseconds.
    pub cpu_us: f64,
    /// What the bare loop negotiated (version, cipher suite, group).
    pub negotiated: String,
    /// Its worker threads.
    pub threads: usize,
    /// Its sessions in flight (`full`, `mtls`), kept sessions (`kept`) or streams (`records`).
    pub sessions: usize,
    /// Its measured window, seconds.
    pub window_s: f64,
}

/// Bulk record throughput over the measured window (1 MB = 10^6 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bulk {
    /// Record size in bytes (application data per write).
    pub record_size: usize,
    /// Records written.
    pub records: u64,
    /// Application bytes written.
    pub bytes_out: u64,
    /// Application bytes read (echo mode).
    pub bytes_in: u64,
    /// Written MB/s, all sessions.
    pub mb_per_s_out: f64,
    /// Read MB/s, all sessions.
    pub mb_per_s_in: f64,
    /// Records written per second.
    pub records_per_s: f64,
    /// Written MB/s per session.
    pub mb_per_s_per_session: f64,
    /// Process CPU seconds per GB moved (out + in).
    pub cpu_s_per_gb: f64,
}

/// SIP MESSAGE rate and volume over the measured window (1 MB = 10^6 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MessageFigures {
    /// Body bytes per MESSAGE.
    pub body_size: usize,
    /// Requests outstanding per session.
    pub window: usize,
    /// Successful MESSAGE transactions per second.
    pub messages_per_s: f64,
    /// Body megabytes per second.
    pub body_mb_per_s: f64,
}

/// A reconnect storm: sessions cut at once at the start of the window, all reconnecting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StormFigures {
    /// Sessions cut.
    pub sessions: u64,
    /// Sessions back (reconnected and registered) before the window closed.
    pub back: u64,
    /// Milliseconds from the cut until the last session was back; `null` when not all came back.
    pub all_back_ms: Option<f64>,
}

/// Sessions that presented a bad certificate: every one must be refused. Their latency is the
/// `rejection` metric (start of the session until the refusal is seen), reported beside the
/// good sessions' `session`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectionFigures {
    /// The negative case presented (e.g. `revoked`).
    pub bad_cert: String,
    /// Its share of sessions, as planned.
    pub share: f64,
    /// Bad sessions started in the measured window.
    pub sessions: u64,
    /// Refused, as they must be.
    pub rejected: u64,
    /// Accepted: each one is also a `bad-cert-accepted` failure. Must be 0.
    pub accepted: u64,
    /// Refusals per second.
    pub rejected_per_s: f64,
    /// How they were refused, as the generator saw it (e.g. `tls-alert-received:certificate-revoked`).
    pub by_reason: BTreeMap<String, u64>,
}

/// One interval of a phase's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Start, seconds from the start of the measured window.
    pub t_s: f64,
    /// Length in seconds.
    pub length_s: f64,
    /// Sessions completed successfully in the interval.
    pub sessions_ok: u64,
    /// SIP transactions completed successfully.
    pub transactions_ok: u64,
    /// Failures of any kind.
    pub failures: u64,
    /// Application bytes written (workload `records`).
    pub bytes_out: u64,
    /// The latency metric summarised (`session`, or `sip.<METHOD>` for kept sessions; empty when
    /// the workload has none).
    pub metric: String,
    /// Its median in the interval, microseconds (0 when no samples).
    pub p50_us: u64,
    /// Its 99th percentile in the interval, microseconds.
    pub p99_us: u64,
    /// Open loop: arrivals per second the schedule intended in the interval (a ramp's or
    /// steps' rate as it changes). Absent for a closed loop and in files written before it
    /// existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offered_per_s: Option<f64>,
}

/// One step of a phase with step rates, summed over the timeline's seconds inside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepFigures {
    /// The rate asked, arrivals per second.
    pub rate: f64,
    /// Start, seconds from the start of the measured window.
    pub t_s: f64,
    /// Length in seconds (the last step runs until the phase ends).
    pub length_s: f64,
    /// Sessions completed successfully in the step.
    pub sessions_ok: u64,
    /// SIP transactions completed successfully in the step.
    pub transactions_ok: u64,
    /// Failures of any kind in the step.
    pub failures: u64,
    /// Completions (successful, and failures) per second: sessions for workload `sessions`,
    /// transactions for `kept`; well below `rate` when the rate was not kept up.
    pub achieved_per_s: f64,
    /// The timeline's latency metric (`session`, `sip.METHOD`).
    pub metric: String,
    /// The highest of the step's one-second p99s, microseconds (a step's own p99 needs a
    /// phase per step, as `sipbench capacity` runs).
    pub worst_p99_us: u64,
}

/// Memory.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    /// Resident bytes before the sessions were opened.
    pub rss_before_bytes: u64,
    /// Resident bytes with every session open.
    pub rss_held_bytes: u64,
    /// Sessions open at once.
    pub sessions_held: u64,
    /// (held - before) / sessions: both ends' share when the server is embedded.
    pub per_session_bytes: u64,
}

/// Application byte counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bytes {
    /// Written by the generator.
    pub out: u64,
    /// Read by the generator.
    pub r#in: u64,
}

impl RunResult {
    /// Writes the file atomically (temporary file, then rename), creating its directory.
    pub fn write(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let tmp = crate::sys::temp_sibling(path);
        let text = serde_json::to_string_pretty(self).context("serializing results")?;
        let written = std::fs::write(&tmp, text + "\n")
            .with_context(|| format!("writing {}", tmp.display()))
            .and_then(|()| {
                std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
            });
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    /// Reads and checks a results file (or a merged one): [`SCHEMA`] or a later minor version
    /// of it, whose fields this version does not know are ignored. What is read is this
    /// version's content, so its `schema` is [`SCHEMA`].
    pub fn read(path: &Path) -> Result<RunResult> {
        let mut r: RunResult = read_versioned(path, SCHEMA)?;
        r.schema = SCHEMA.into();
        Ok(r)
    }
}

/// RFC 3339 UTC timestamp with second precision.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    now.format(&f).unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_minor_version_is_readable_another_major_or_kind_is_not() {
        for ok in ["sipbench-result/1", "sipbench-result/1.1", "sipbench-result/1.12"] {
            assert!(readable_version(ok, SCHEMA), "{ok}");
        }
        for bad in [
            "sipbench-result/2",
            "sipbench-result/10",
            "sipbench-result/1.",
            "sipbench-result/1.x",
            "sipbench-result/11",
            "sipbench-compare/1",
            "",
        ] {
            assert!(!readable_version(bad, SCHEMA), "{bad}");
        }
    }

    #[test]
    fn another_kind_of_file_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        std::fs::write(&path, r#"{"schema": "sipbench-compare/1", "dimension": "backend"}"#).unwrap();
        let e = format!("{:#}", RunResult::read(&path).unwrap_err());
        assert!(
            e.contains("\"sipbench-compare/1\"") && e.contains("another kind of sipbench file"),
            "{e}"
        );
        std::fs::write(&path, r#"{"accepted": 1}"#).unwrap();
        let e = format!("{:#}", RunResult::read(&path).unwrap_err());
        assert!(e.contains("no \"schema\" field"), "{e}");
    }

    /// Writers of one results file, here threads of one process (two tests writing the same
    /// file did this in CI), each get their own temporary file: all writes succeed, the file is
    /// whole, and no temporary file is left. With one shared `.json.tmp` name, a writer could
    /// find its temporary file already renamed away by another.
    #[test]
    fn concurrent_writers_of_one_file_do_not_collide() {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/default-20261129T091709Z.json");
        let result = RunResult::read(&fixture).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("same.json");
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..50 {
                        result.write(&path).unwrap();
                    }
                });
            }
        });
        assert_eq!(RunResult::read(&path).unwrap().phases.len(), result.phases.len());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["same.json"]);
    }
}
