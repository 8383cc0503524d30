//! Load profiles (TOML) and command-line flags, lowered into typed [`PhasePlan`]s.
//!
//! A profile is a list of `[[phase]]` tables plus optional `[defaults]` that apply to every
//! phase. Flags given on the command line override the same field in every phase. Every
//! problem is an error that names the field (`phase[2] "sip-kept": rate: must be > 0`).
//!
//! A phase setting is declared once, in [`PhaseSpec`]: its field is the profile key and the
//! flag (`sipbench run --help` lists them all), its doc both. [`lower`] merges the layers and
//! `resolve` (the one place built-in defaults are applied and values checked) turns each
//! phase into a [`PhasePlan`].
//!
//! ```toml
//! name = "example"
//! [defaults]
//! warmup = "1s"
//! [[phase]]
//! name = "tls-full-handshake"
//! mode = "tls"             # tls | mtls | tcp | udp
//! workload = "sessions"    # sessions | kept | hold
//! concurrency = 64         # closed loop; or rate = 5000 (open loop, per second)
//! duration = "5s"
//! transactions = ["REGISTER", "OPTIONS"]
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::limits;
pub use crate::shape::{RateShape, RateSpec};
use crate::tls::Versions;
pub use crate::tls::{EarlyData, Resumption};

/// The profile the generator runs when none is named: the embedded default.
pub const DEFAULT_PROFILE: &str = include_str!("../profiles/default.toml");

/// Which listener and credentials a phase uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// SIP over TLS, client to server: verifies the server's chain and name; no client certificate.
    Tls,
    /// SIP over mutual TLS, server to server: presents an edge certificate and verifies the peer.
    Mtls,
    /// Cleartext SIP over TCP (baseline).
    Tcp,
    /// Cleartext SIP over UDP, requests retransmitted on RFC 3261's timers (baseline; workloads
    /// `sessions`, `kept` and `hold`).
    Udp,
}

impl Mode {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Tls => "tls",
            Mode::Mtls => "mtls",
            Mode::Tcp => "tcp",
            Mode::Udp => "udp",
        }
    }

    /// Whether sessions run TLS.
    pub fn secure(self) -> bool {
        matches!(self, Mode::Tls | Mode::Mtls)
    }
}

/// What each session does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// Each session connects, handshakes, runs the transactions and closes: measures full handshakes.
    Sessions,
    /// `connections` sessions are opened once and kept; each runs the transactions in a loop,
    /// one outstanding at a time: measures SIP transactions over established sessions.
    Kept,
    /// `connections` sessions are opened (one REGISTER each) and held idle for the duration, then
    /// checked with an OPTIONS: measures how many sessions can be held and their memory.
    Hold,
    /// `connections` sessions are opened, switched to bulk streaming and stream records of
    /// `record_size` bytes for the duration: measures record throughput.
    Records,
    /// `connections` sessions are opened and kept; each sends SIP MESSAGE requests with
    /// `body_size`-byte bodies, up to `window` outstanding: measures message rate and volume.
    Messages,
    /// Reconnect storm: `connections` sessions are opened, then all cut at once when the window
    /// opens, and all reconnect (and REGISTER) at once: measures the time until every session
    /// is back and the handshake latency during the storm.
    Storm,
}

/// Which way bulk records flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Client to server; the server reads and discards.
    Up,
    /// Both ways: the server echoes every byte.
    Both,
}

impl Workload {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Workload::Sessions => "sessions",
            Workload::Kept => "kept",
            Workload::Hold => "hold",
            Workload::Records => "records",
            Workload::Messages => "messages",
            Workload::Storm => "storm",
        }
    }
}

/// A SIP transaction the generator can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Txn {
    /// REGISTER with a Contact and Expires: 3600.
    #[serde(rename = "REGISTER")]
    Register,
    /// OPTIONS.
    #[serde(rename = "OPTIONS")]
    Options,
    /// MESSAGE with a short text body.
    #[serde(rename = "MESSAGE")]
    Message,
    /// A call: INVITE (timed to the 200), ACK, then BYE (timed separately).
    #[serde(rename = "INVITE")]
    Invite,
}

impl Txn {
    /// The SIP method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Txn::Register => "REGISTER",
            Txn::Options => "OPTIONS",
            Txn::Message => "MESSAGE",
            Txn::Invite => "INVITE",
        }
    }

    /// The SIP method of its (first) request.
    pub fn method(self) -> crate::sip::Method {
        use crate::sip::Method;
        match self {
            Txn::Register => Method::Register,
            Txn::Options => Method::Options,
            Txn::Message => Method::Message,
            Txn::Invite => Method::Invite,
        }
    }
}

impl FromStr for Txn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "REGISTER" => Ok(Txn::Register),
            "OPTIONS" => Ok(Txn::Options),
            "MESSAGE" => Ok(Txn::Message),
            "INVITE" => Ok(Txn::Invite),
            other => Err(format!(
                "unknown transaction `{other}` (expected REGISTER, OPTIONS, MESSAGE or INVITE)"
            )),
        }
    }
}

/// Declares [`PhaseSpec`] and, from the same field list, `PhaseSpec::fill`, which takes every
/// field `self` leaves unset from a lower layer: a phase setting is declared once.
macro_rules! phase_spec {
    (
        $(#[$attr:meta])*
        pub struct PhaseSpec {
            $( $(#[$fattr:meta])* pub $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[$attr])*
        pub struct PhaseSpec {
            $( $(#[$fattr])* pub $field: $ty, )*
        }

        impl PhaseSpec {
            /// Fills every unset field of `self` from `lower`, field by field.
            fn fill(&mut self, lower: &PhaseSpec) {
                $( if self.$field.is_none() { self.$field = lower.$field.clone(); } )*
            }
        }
    };
}

phase_spec! {
    /// One phase's settings: a `[[phase]]` or the `[defaults]` table of a profile, and the phase
    /// flags of `sipbench run` and `sipbench compare`. Declared once: a field's name is its
    /// profile key (its flag is the same name in kebab case) and its doc is both the profile
    /// documentation and the flag's help.
    ///
    /// Every field is optional, so layers can be merged (flags over phase over profile defaults
    /// over built-in defaults, see [`PhaseSpec::or`]); [`lower`] resolves and checks the result
    /// into a [`PhasePlan`], where the built-in defaults (the `[default: ...]` of each field)
    /// are applied.
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, clap::Args)]
    #[serde(deny_unknown_fields)]
    #[command(next_help_heading = "Phase (overrides every phase of a profile)")]
    pub struct PhaseSpec {
        /// Phase name (unique within a profile).
        #[arg(skip)]
        pub name: Option<String>,
        /// tls (client to server), mtls (server to server), tcp or udp (cleartext baselines).
        /// [default: tls]
        #[arg(long, value_enum)]
        pub mode: Option<Mode>,
        /// What each session does. [default: sessions]
        #[arg(long, value_enum)]
        pub workload: Option<Workload>,
        /// Closed loop: sessions in flight (workload sessions). [default: 64]
        #[arg(short = 'c', long, conflicts_with = "rate", value_parser = crate::limits::count)]
        pub concurrency: Option<usize>,
        /// Open loop: session starts per second (workload sessions) or transactions per second
        /// (workload kept): a number (100), a ramp (100..5000, see ramp) or steps
        /// (100,200,400, see step; in a profile also a list [100, 200, 400]).
        #[arg(short = 'r', long, value_name = "RATE|A..B|A,B,...", value_parser = crate::shape::RateSpec::parse)]
        pub rate: Option<crate::shape::RateSpec>,
        /// With a ramp rate A..B: how long the rate takes to go from A to B, e.g. 60s; B then
        /// holds for the rest of the phase. Without it the ramp spans the whole duration.
        #[serde(default, with = "humantime_serde")]
        #[arg(long, value_name = "DUR", value_parser = crate::limits::positive_run_duration)]
        pub ramp: Option<Duration>,
        /// With step rates A,B,...: how long each rate is held, e.g. 10s (the last holds for the
        /// rest of the phase). Without it the duration is shared evenly; without a duration,
        /// the duration is the steps times this.
        #[serde(default, with = "humantime_serde")]
        #[arg(long, value_name = "DUR", value_parser = crate::limits::positive_run_duration)]
        pub step: Option<Duration>,
        /// Sessions kept open (every workload but sessions; records: 1). [default: 256]
        #[arg(long, value_parser = crate::limits::count)]
        pub connections: Option<usize>,
        /// Stop after this many measured sessions (workload sessions).
        #[arg(short = 'n', long, value_parser = crate::limits::sessions)]
        pub sessions: Option<u64>,
        /// Measured time, e.g. 10s, 1m (with sessions and no duration: until they are done).
        /// [default: 10s]
        #[serde(default, with = "humantime_serde")]
        #[arg(short = 'd', long, value_parser = crate::limits::positive_run_duration)]
        pub duration: Option<Duration>,
        /// Time run before measuring, e.g. 1s; its results are discarded (its sessions are
        /// real: against a deployment they reach it). [default: 1s against the built-in
        /// server, 0s against a deployment (--tls-addr)]
        #[serde(default, with = "humantime_serde")]
        #[arg(long, value_parser = crate::limits::run_duration)]
        pub warmup: Option<Duration>,
        /// SIP transactions per session, in order (on the command line comma-separated):
        /// REGISTER, OPTIONS, MESSAGE, INVITE. [default: REGISTER,OPTIONS]
        #[arg(long, value_delimiter = ',')]
        pub transactions: Option<Vec<Txn>>,
        /// TLS versions the generator offers: 1.3, 1.2 or any (both, as SIP clients offer
        /// them). [default: any, or the version --resumption needs]
        #[arg(long, value_enum)]
        pub tls_versions: Option<Versions>,
        /// TLS session resumption. [default: off]
        #[arg(long, value_enum)]
        pub resumption: Option<Resumption>,
        /// With resumption tls13-0rtt: whether the embedded server accepts early data.
        /// [default: accept]
        #[arg(long, value_enum)]
        pub early_data: Option<EarlyData>,
        /// Client session cache entries, per worker (each worker's sessions share one cache).
        /// [default: 1024]
        #[arg(long, value_parser = crate::limits::count)]
        pub session_cache: Option<usize>,
        /// Embedded server session cache entries (stateful resumption). [default: 10000]
        #[arg(long, value_parser = crate::limits::count)]
        pub server_cache: Option<usize>,
        /// Ticket lifetime the embedded server advertises (ticket resumption), e.g. 2h.
        /// [default: 2h]
        #[serde(default, with = "humantime_serde")]
        #[arg(long, value_parser = crate::limits::ticket_lifetime)]
        pub ticket_lifetime: Option<Duration>,
        /// Offer only this cipher suite, e.g. TLS13_AES_128_GCM_SHA256. [default: the
        /// backend's list]
        #[arg(long, value_name = "SUITE")]
        pub cipher_suite: Option<String>,
        /// Offer only this key exchange group: X25519, secp256r1, secp384r1, X25519MLKEM768
        /// (where the backend has it; `sipbench backends` lists them). [default: the backend's
        /// list]
        #[arg(long, value_name = "GROUP")]
        pub kx_group: Option<String>,
        /// TCP connect timeout. [default: 5s]
        #[serde(default, with = "humantime_serde")]
        #[arg(long, value_parser = crate::limits::timeout)]
        pub connect_timeout: Option<Duration>,
        /// TLS handshake timeout: the generator gives up on a handshake after this long.
        /// [default: 5s]
        #[serde(default, with = "humantime_serde")]
        #[arg(long, value_parser = crate::limits::timeout)]
        pub handshake_timeout: Option<Duration>,
        /// SIP transaction timeout. [default: 5s]
        #[serde(default, with = "humantime_serde")]
        #[arg(long, value_parser = crate::limits::timeout)]
        pub sip_timeout: Option<Duration>,
        /// Open loop: most sessions in flight before arrivals wait (their wait is counted in
        /// the latency). [default: 5000]
        #[arg(long, value_parser = crate::limits::count)]
        pub max_in_flight: Option<usize>,
        /// Workload records: bytes per write, one TLS record's plaintext (32 to 16384).
        /// [default: 16384]
        #[arg(long, value_parser = |s: &str| crate::limits::ranged(s, 32..=16384))]
        pub record_size: Option<usize>,
        /// Workload records: up (client to server) or both (echoed back). [default: up]
        #[arg(long, value_enum)]
        pub direction: Option<Direction>,
        /// Workload messages: MESSAGE body bytes (at most 60000). [default: 1024]
        #[arg(long, value_parser = |s: &str| crate::limits::ranged(s, 0..=60_000))]
        pub body_size: Option<usize>,
        /// Workload messages: requests outstanding per session (pipelining depth, 1 to 4096).
        /// [default: 8]
        #[arg(long, value_parser = |s: &str| crate::limits::ranged(s, 1..=4096))]
        pub window: Option<usize>,
        /// Mode mtls, workload sessions: a share of sessions presents this bad certificate (a
        /// negative case of the PKI, e.g. revoked); each must be refused, and is reported apart
        /// from the good ones.
        #[arg(long, value_enum, value_name = "CASE")]
        pub bad_cert: Option<crate::pki::BadCert>,
        /// The share of sessions that present bad_cert (more than 0, at most 1). [default: 0.2]
        #[arg(long, value_name = "SHARE", value_parser = crate::limits::share)]
        pub bad_cert_share: Option<f64>,
        /// Pass/fail expressions the phase is held to (repeat the flag for more), e.g.
        /// session.p99<50ms, handshake.full.p50<=10ms, failure_rate<0.1%, sessions_per_s>1000,
        /// transactions_per_s>=5000; a broken one makes `run` exit 1. Every phase is also held
        /// to failures==0 (no failures but the refusals a bad_cert phase asks for) unless it
        /// sets a failures or failure_rate threshold of its own.
        #[arg(long = "threshold", value_name = "EXPR")]
        pub thresholds: Option<Vec<crate::threshold::Threshold>>,
        /// SIP domain of the Request-URI, From and To (a user's own domain in --users wins).
        /// [default: the server name]
        #[arg(long, value_name = "DOMAIN")]
        pub domain: Option<String>,
        /// Users file (CSV: user, password, auth user, domain, display name; see
        /// `sipbench::users`): sessions take users from it and answer digest challenges (401,
        /// 407) with their passwords. [default: users u0, u1, ... without passwords]
        #[arg(long, value_name = "FILE")]
        pub users: Option<std::path::PathBuf>,
        /// How sessions take users from --users: sequential (round robin) or random; a
        /// SEQUENTIAL or RANDOM first line in the file sets it too. [default: sequential]
        #[arg(long, value_enum)]
        pub user_order: Option<crate::users::UserOrder>,
        /// Calls (transaction INVITE): how long each call is held between its ACK and its BYE,
        /// as SIPp's -d (the session waits; the phase's last calls finish after its window).
        /// [default: 0s]
        #[serde(default, with = "humantime_serde")]
        #[arg(long, value_parser = crate::limits::run_duration)]
        pub call_hold: Option<Duration>,
        /// Extra header lines on requests (repeat the flag; a list in profiles): `NAME: value`
        /// on every request, `METHOD=NAME: value` on that method's only (e.g.
        /// `INVITE=P-Asserted-Identity: <sip:alice@example.test>`). Written before User-Agent,
        /// retried with the request after a challenge.
        #[arg(long = "header", value_name = "[METHOD=]NAME: VALUE")]
        pub headers: Option<Vec<String>>,
        /// Open loop: how each arrival waits for its intended time: `timer` (tokio's 1 ms
        /// timer: sends leave up to about 1 ms late) or `precise` (the timer until 1.2 ms
        /// before, then yielding: within microseconds, for some CPU). Either way the lateness
        /// is measured as `generator.lag`. [default: timer with the built-in server, which
        /// shares the cores; precise against a deployment (--tls-addr)]
        #[arg(long, value_enum)]
        pub pacing: Option<crate::generator::pace::Pacing>,
    }
}

impl PhaseSpec {
    /// Fills every unset field of `self` from `lower`. `concurrency` and `rate` are one choice
    /// (closed or open loop): a layer that sets either replaces both below it, and the
    /// `ramp` and `step` that shape the rate.
    pub fn or(mut self, lower: &PhaseSpec) -> PhaseSpec {
        // The rate's shape (ramp, step) goes with the rate it shapes.
        let load = (self.concurrency.is_some() || self.rate.is_some())
            .then(|| (self.concurrency, self.rate.clone(), self.ramp, self.step));
        self.fill(lower);
        if let Some((concurrency, rate, ramp, step)) = load {
            (self.concurrency, self.rate, self.ramp, self.step) = (concurrency, rate, ramp, step);
        }
        self
    }

    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        *self == PhaseSpec::default()
    }
}

/// A load profile file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Profile name.
    pub name: Option<String>,
    /// What it is for.
    pub description: Option<String>,
    /// Values for every phase that does not set them.
    #[serde(default)]
    pub defaults: PhaseSpec,
    /// The phases, run in order.
    #[serde(default, rename = "phase")]
    pub phases: Vec<PhaseSpec>,
}

impl Profile {
    /// Parses a profile; the error names the offending field and line.
    pub fn parse(text: &str) -> Result<Profile, PlanError> {
        toml::from_str(text).map_err(|e| PlanError::Profile(e.to_string()))
    }
}

/// The load model of a phase.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "kebab-case")]
pub enum Load {
    /// Closed loop: `concurrency` sessions in flight (workload `sessions`) or one outstanding
    /// transaction per kept session.
    Closed {
        /// Sessions in flight.
        concurrency: usize,
    },
    /// Open loop; latency is measured from each arrival's intended start time (corrected for
    /// coordinated omission), and the uncorrected histogram is kept too.
    Open {
        /// Arrivals per second; with a [`PhasePlan::shape`], the rate the phase starts at.
        rate: f64,
    },
}

/// One phase, resolved and validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhasePlan {
    /// Phase name.
    pub name: String,
    /// Transport and credentials.
    pub mode: Mode,
    /// What each session does.
    pub workload: Workload,
    /// Load model.
    pub load: Load,
    /// Open loop: a ramp or steps instead of a constant rate (absent: constant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<crate::shape::RateShape>,
    /// Kept or held sessions (workloads `kept` and `hold`; 0 for `sessions`).
    pub connections: usize,
    /// Measured-session budget.
    pub sessions: Option<u64>,
    /// Measured time (`None`: until the session budget is spent).
    #[serde(with = "humantime_serde")]
    pub duration: Option<Duration>,
    /// Discarded warm-up time.
    #[serde(with = "humantime_serde")]
    pub warmup: Duration,
    /// Transactions per session.
    pub transactions: Vec<Txn>,
    /// TLS versions offered.
    pub tls_versions: Versions,
    /// Session resumption mode.
    pub resumption: Resumption,
    /// 0-RTT: whether the embedded server accepts early data.
    pub early_data: EarlyData,
    /// Client session cache entries per worker.
    pub session_cache: usize,
    /// Embedded server session cache entries.
    pub server_cache: usize,
    /// Ticket lifetime the embedded server advertises.
    #[serde(with = "humantime_serde")]
    pub ticket_lifetime: Duration,
    /// The only cipher suite offered (`None`: the backend's default list).
    pub cipher_suite: Option<String>,
    /// The only key exchange group offered (`None`: the backend's default list).
    #[serde(default)]
    pub kx_group: Option<String>,
    /// Connect timeout.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Handshake timeout.
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
    /// SIP transaction timeout.
    #[serde(with = "humantime_serde")]
    pub sip_timeout: Duration,
    /// Open loop: in-flight cap.
    pub max_in_flight: usize,
    /// Workload `records`: bytes per write.
    pub record_size: usize,
    /// Workload `records`: direction.
    pub direction: Direction,
    /// Workload `messages`: MESSAGE body bytes.
    pub body_size: usize,
    /// Workload `messages`: requests outstanding per session.
    pub window: usize,
    /// Sessions presenting this bad certificate, which must be refused (mode `mtls`).
    #[serde(default)]
    pub bad_cert: Option<crate::pki::BadCert>,
    /// Their share of all sessions.
    #[serde(default)]
    pub bad_cert_share: f64,
    /// Thresholds of its own (the default `failures==0` is added when none reads failures).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<crate::threshold::Threshold>,
    /// SIP domain of requests (absent: the server name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Users file (absent: users u0, u1, ... without passwords).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<std::path::PathBuf>,
    /// How sessions take users from the users file (absent: the file's keyword, else
    /// sequential).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_order: Option<crate::users::UserOrder>,
    /// How long calls are held between ACK and BYE.
    #[serde(default, with = "humantime_serde")]
    pub call_hold: Duration,
    /// Extra header lines, each on every request or on one method's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<ExtraHeader>,
    /// How open-loop arrivals wait for their time.
    #[serde(default)]
    pub pacing: crate::generator::pace::Pacing,
}

/// An extra header line of a phase's requests (`headers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraHeader {
    /// The method whose requests carry it (absent: every request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The header line, `Name: value`, without CRLF.
    pub line: String,
}

impl FromStr for ExtraHeader {
    type Err = String;

    /// Parses `NAME: value` or `METHOD=NAME: value`. The name must be a token, the value must
    /// not break the line (no CR, LF or other control characters), and the headers that
    /// sipbench writes itself (Via, From, To, Call-ID, CSeq, Content-Length...) cannot be
    /// added again.
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, value) = s.split_once(':').ok_or_else(|| format!("{s:?}: not NAME: value"))?;
        let (method, name) = match name.split_once('=') {
            Some((m, n)) => (Some(m.trim()), n.trim()),
            None => (None, name.trim()),
        };
        let token = |t: &str| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
        };
        if let Some(m) = method
            && !(token(m) && m.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(format!("{s:?}: {m:?} is not a SIP method (INVITE, REGISTER, ...)"));
        }
        if !token(name) {
            return Err(format!("{s:?}: {name:?} is not a header name"));
        }
        const OWN: [&str; 12] = [
            "via",
            "from",
            "to",
            "call-id",
            "cseq",
            "content-length",
            "max-forwards",
            "contact",
            "content-type",
            "authorization",
            "proxy-authorization",
            "user-agent",
        ];
        if OWN.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(format!("{s:?}: sipbench writes {name} itself"));
        }
        let value = value.trim();
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(format!(
                "{s:?}: the value must be one line (no CR, LF or control characters)"
            ));
        }
        Ok(ExtraHeader {
            method: method.map(str::to_owned),
            line: format!("{name}: {value}"),
        })
    }
}

/// A bad profile or flag.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// The profile file did not parse (the message names field and line).
    #[error("profile: {0}")]
    Profile(String),
    /// A field has a bad value.
    #[error("{phase}: {field}: {problem}")]
    Field {
        /// Which phase (`phase[1] "name"`, or `flags`).
        phase: String,
        /// Field name.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The profile has no phases, or a phase filter matched none.
    #[error("{0}")]
    NoPhases(String),
}

/// Lowers a profile plus flag overrides into resolved phases. `only` keeps the named phases.
pub fn lower(profile: &Profile, flags: &PhaseSpec, only: &[String]) -> Result<Vec<PhasePlan>, PlanError> {
    if profile.phases.is_empty() {
        return Err(PlanError::NoPhases(
            "profile: phase: at least one [[phase]] is required".into(),
        ));
    }
    let mut out = Vec::new();
    for (i, phase) in profile.phases.iter().enumerate() {
        let label = format!("phase[{}] \"{}\"", i + 1, phase.name.as_deref().unwrap_or("?"));
        if phase.name.is_none() {
            return Err(PlanError::Field {
                phase: label,
                field: "name",
                problem: "is required".into(),
            });
        }
        if profile.phases[..i].iter().any(|p| p.name == phase.name) {
            return Err(PlanError::Field {
                phase: label,
                field: "name",
                problem: "is used by an earlier phase".into(),
            });
        }
        let spec = flags.clone().or(&phase.clone().or(&profile.defaults));
        let plan = resolve(&spec, &label)?;
        if only.is_empty() || only.contains(&plan.name) {
            out.push(plan);
        }
    }
    if out.is_empty() {
        return Err(PlanError::NoPhases(format!(
            "--phase {}: no phase of that name in the profile",
            only.join(",")
        )));
    }
    Ok(out)
}

/// Applies the built-in defaults to a merged phase and checks every field: the one place a
/// [`PhaseSpec`] becomes a [`PhasePlan`].
fn resolve(s: &PhaseSpec, label: &str) -> Result<PhasePlan, PlanError> {
    let err = |field: &'static str, problem: &str| PlanError::Field {
        phase: label.to_owned(),
        field,
        problem: problem.to_owned(),
    };
    let too_many = format!("must be at most {}", limits::MAX_COUNT);
    let workload = s.workload.unwrap_or(Workload::Sessions);
    let load = match (s.concurrency, &s.rate) {
        (Some(_), Some(_)) => {
            return Err(err(
                "rate",
                "`concurrency` (closed loop) and `rate` (open loop) exclude each other",
            ));
        }
        (_, Some(rate)) => Load::Open {
            rate: limits::check_rate(rate.first()).map_err(|e| err("rate", &e))?,
        },
        (Some(0), None) => return Err(err("concurrency", "must be > 0")),
        (Some(n), None) if n > limits::MAX_COUNT => return Err(err("concurrency", &too_many)),
        (Some(concurrency), None) => Load::Closed { concurrency },
        (None, None) => Load::Closed { concurrency: 64 },
    };
    let connections = match workload {
        Workload::Sessions => {
            if s.connections.is_some() {
                return Err(err(
                    "connections",
                    "applies to workloads `kept` and `hold`; use `concurrency` for `sessions`",
                ));
            }
            0
        }
        Workload::Kept | Workload::Hold | Workload::Records | Workload::Messages | Workload::Storm => {
            if s.concurrency.is_some() {
                return Err(err(
                    "concurrency",
                    "applies to workload `sessions`; use `connections` for `kept` and `hold`",
                ));
            }
            match s.connections {
                Some(0) => return Err(err("connections", "must be > 0")),
                Some(n) if n > limits::MAX_COUNT => return Err(err("connections", &too_many)),
                Some(n) => n,
                None if workload == Workload::Records => 1,
                None => 256,
            }
        }
    };
    // Kept and held sessions run one transaction at a time each: their closed-loop
    // concurrency is the number of sessions.
    let load = match (workload, load) {
        (
            Workload::Kept | Workload::Hold | Workload::Records | Workload::Messages | Workload::Storm,
            Load::Closed { .. },
        ) => Load::Closed {
            concurrency: connections,
        },
        (_, load) => load,
    };
    if !matches!(workload, Workload::Sessions | Workload::Kept) && matches!(load, Load::Open { .. }) {
        return Err(err("rate", "applies to workloads `sessions` and `kept` only"));
    }
    let body_size = s.body_size.unwrap_or(1024);
    if body_size > 60_000 {
        return Err(err(
            "body_size",
            "must be at most 60000 bytes (the server's message limit is 64 KiB)",
        ));
    }
    let window = s.window.unwrap_or(8);
    if !(1..=4096).contains(&window) {
        return Err(err("window", "must be 1 to 4096"));
    }
    let record_size = s.record_size.unwrap_or(16 * 1024);
    if !(32..=16384).contains(&record_size) {
        return Err(err(
            "record_size",
            "must be 32 to 16384 bytes (a TLS record's plaintext)",
        ));
    }
    if s.sessions == Some(0) {
        return Err(err("sessions", "must be > 0"));
    }
    if s.sessions.is_some_and(|n| n > limits::MAX_SESSIONS) {
        return Err(err("sessions", &format!("must be at most {}", limits::MAX_SESSIONS)));
    }
    if s.sessions.is_some() && workload != Workload::Sessions {
        return Err(err("sessions", "applies to workload `sessions` only"));
    }
    let steps = match &s.rate {
        Some(RateSpec::Steps(rates)) => rates.len() as u32,
        _ => 1,
    };
    if let Some(step) = s.step {
        limits::check_duration(step, false, limits::MAX_RUN).map_err(|e| err("step", &e))?;
    }
    let duration = match (s.duration, s.sessions, s.step) {
        (Some(d), _, _) => Some(limits::check_duration(d, false, limits::MAX_RUN).map_err(|e| err("duration", &e))?),
        (None, Some(_), _) => None,
        // Steps without a duration run each step once.
        (None, None, Some(step)) if steps > 1 => {
            let total = step.checked_mul(steps).unwrap_or(Duration::MAX);
            Some(
                limits::check_duration(total, false, limits::MAX_RUN)
                    .map_err(|e| err("step", &format!("times the {steps} steps: {e}")))?,
            )
        }
        (None, None, _) => Some(Duration::from_secs(10)),
    };
    let shape = match (&s.rate, s.ramp, s.step) {
        (_, Some(_), Some(_)) => return Err(err("step", "applies to step rates (A,B,...), `ramp` to a ramp (A..B)")),
        (Some(RateSpec::Ramp(from, to)), ramp, None) => {
            let ramp = ramp
                .or(duration)
                .ok_or_else(|| err("ramp", "is required when the phase has no duration"))?;
            Some(RateShape::Ramp {
                from: *from,
                to: *to,
                ramp: limits::check_duration(ramp, false, limits::MAX_RUN).map_err(|e| err("ramp", &e))?,
            })
        }
        (Some(RateSpec::Steps(rates)), None, step) => {
            let step = step
                .or(duration.map(|d| d / steps))
                .ok_or_else(|| err("step", "is required when the phase has no duration"))?;
            if step.is_zero() {
                return Err(err("step", "must be > 0"));
            }
            Some(RateShape::Steps {
                rates: rates.clone(),
                step,
            })
        }
        (_, Some(_), _) => return Err(err("ramp", "applies to a ramp rate (rate = \"A..B\")")),
        (_, _, Some(_)) => return Err(err("step", "applies to step rates (rate = [A, B, ...])")),
        (_, None, None) => None,
    };
    let transactions = s
        .transactions
        .clone()
        .unwrap_or_else(|| vec![Txn::Register, Txn::Options]);
    if transactions.is_empty() && workload == Workload::Kept {
        return Err(err("transactions", "workload `kept` needs at least one transaction"));
    }
    // Timeouts: more than 0, at most a day.
    let positive = |d: Option<Duration>, default: Duration, field: &'static str| -> Result<Duration, PlanError> {
        limits::check_duration(d.unwrap_or(default), false, limits::MAX_TIMEOUT).map_err(|e| err(field, &e))
    };
    let warmup = limits::check_duration(s.warmup.unwrap_or(Duration::from_secs(1)), true, limits::MAX_RUN)
        .map_err(|e| err("warmup", &e))?;
    let ticket_lifetime = limits::check_duration(
        s.ticket_lifetime.unwrap_or(Duration::from_secs(2 * 3600)),
        false,
        limits::MAX_TICKET_LIFETIME,
    )
    .map_err(|e| err("ticket_lifetime", &e))?;
    let mode = s.mode.unwrap_or(Mode::Tls);
    if !mode.secure() && s.cipher_suite.is_some() {
        return Err(err("cipher_suite", "needs mode tls or mtls"));
    }
    if mode == Mode::Udp && !matches!(workload, Workload::Sessions | Workload::Kept | Workload::Hold) {
        return Err(err(
            "workload",
            &format!(
                "mode udp runs workloads sessions, kept and hold, not {} (it streams over one connection)",
                workload.as_str()
            ),
        ));
    }
    if !mode.secure() && s.kx_group.is_some() {
        return Err(err("kx_group", "needs mode tls or mtls"));
    }
    let resumption = s.resumption.unwrap_or(Resumption::Off);
    // A resumption mode implies its protocol version unless the versions are given.
    let tls_versions = match (s.tls_versions, resumption.version()) {
        (None, Some(v)) => v,
        // Both, as SIP clients offer them; a TLS 1.3 server negotiates 1.3.
        (None, None) => Versions::Any,
        (Some(v), Some(needed)) if v != needed => {
            return Err(err(
                "resumption",
                &format!("{} needs tls_versions {}", resumption.as_str(), needed.as_str()),
            ));
        }
        (Some(v), _) => v,
    };
    if !mode.secure() && resumption != Resumption::Off {
        return Err(err("resumption", "needs mode tls or mtls"));
    }
    if s.early_data.is_some() && resumption != Resumption::Tls13EarlyData {
        return Err(err("early_data", "applies to resumption `tls13-0rtt` only"));
    }
    for (field, value) in [("session_cache", s.session_cache), ("server_cache", s.server_cache)] {
        match value {
            Some(0) => return Err(err(field, "must be > 0")),
            Some(n) if n > limits::MAX_COUNT => return Err(err(field, &too_many)),
            _ => {}
        }
    }
    if let Some(suite) = &s.cipher_suite {
        let v = tls_versions;
        let tls13 = suite.starts_with("TLS13_");
        if (tls13 && v == Versions::Tls12) || (!tls13 && v == Versions::Tls13) {
            return Err(err(
                "cipher_suite",
                &format!("{suite} cannot be negotiated with tls_versions {v:?}"),
            ));
        }
    }
    let max_in_flight = s.max_in_flight.unwrap_or(5_000);
    if max_in_flight == 0 {
        return Err(err("max_in_flight", "must be > 0"));
    }
    if max_in_flight > limits::MAX_COUNT {
        return Err(err("max_in_flight", &too_many));
    }
    let bad_cert_share = match (s.bad_cert, s.bad_cert_share) {
        (None, Some(_)) => return Err(err("bad_cert_share", "needs bad_cert")),
        (None, None) => 0.0,
        (Some(_), share) => {
            let share = share.unwrap_or(0.2);
            if !(share > 0.0 && share <= 1.0) {
                return Err(err("bad_cert_share", "must be more than 0 and at most 1"));
            }
            if mode != Mode::Mtls || workload != Workload::Sessions {
                return Err(err("bad_cert", "applies to mode `mtls` with workload `sessions` only"));
            }
            share
        }
    };
    Ok(PhasePlan {
        name: s.name.clone().unwrap_or_else(|| "run".into()),
        mode,
        workload,
        load,
        shape,
        connections,
        sessions: s.sessions,
        duration,
        warmup,
        transactions,
        tls_versions,
        resumption,
        early_data: s.early_data.unwrap_or(EarlyData::Accept),
        session_cache: s.session_cache.unwrap_or(1024),
        server_cache: s.server_cache.unwrap_or(10_000),
        ticket_lifetime,
        cipher_suite: s.cipher_suite.clone(),
        kx_group: s.kx_group.clone(),
        connect_timeout: positive(s.connect_timeout, Duration::from_secs(5), "connect_timeout")?,
        handshake_timeout: positive(s.handshake_timeout, Duration::from_secs(5), "handshake_timeout")?,
        sip_timeout: positive(s.sip_timeout, Duration::from_secs(5), "sip_timeout")?,
        max_in_flight,
        record_size,
        direction: s.direction.unwrap_or(Direction::Up),
        body_size,
        window,
        bad_cert: s.bad_cert,
        bad_cert_share,
        thresholds: s.thresholds.clone().unwrap_or_default(),
        domain: match &s.domain {
            Some(d)
                if d.is_empty()
                    || d.contains(|c: char| c.is_whitespace() || c.is_control() || "<>\"@;,".contains(c)) =>
            {
                return Err(err("domain", "must be a SIP host name (no spaces, <>\"@;,)"));
            }
            d => d.clone(),
        },
        users: s.users.clone(),
        user_order: s.user_order,
        call_hold: match s.call_hold {
            Some(d) if !d.is_zero() && !s.transactions.as_ref().is_some_and(|t| t.contains(&Txn::Invite)) => {
                return Err(err("call_hold", "needs transaction INVITE (a call) in transactions"));
            }
            d => d.unwrap_or_default(),
        },
        headers: s
            .headers
            .iter()
            .flatten()
            .map(|h| h.parse())
            .collect::<Result<Vec<ExtraHeader>, String>>()
            .map_err(|e| err("headers", &e))?,
        pacing: s.pacing.unwrap_or_default(),
    })
}

impl fmt::Display for Load {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Load::Closed { concurrency } => write!(f, "closed loop, {concurrency} in flight"),
            Load::Open { rate } => write!(f, "open loop, {rate}/s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Result<Vec<PhasePlan>, PlanError> {
        lower(&Profile::parse(text)?, &PhaseSpec::default(), &[])
    }

    #[test]
    fn shipped_profiles_lower() {
        let p = lower(&Profile::parse(DEFAULT_PROFILE).unwrap(), &PhaseSpec::default(), &[]).unwrap();
        assert!(p.len() >= 3);
        assert!(p.iter().any(|p| p.mode == Mode::Mtls));
        assert!(p.iter().any(|p| p.workload == Workload::Kept));
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let profile = Profile::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            lower(&profile, &PhaseSpec::default(), &[]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }

    #[test]
    fn calls_and_extra_headers_lower_and_bad_ones_name_the_field() {
        let text = "[[phase]]\nname = \"calls\"\ntransactions = [\"INVITE\"]\ncall_hold = \"2s\"\n\
                    headers = [\"X-Campaign: q4\", \"INVITE=P-Asserted-Identity: <sip:alice@example.test>\"]\n";
        let p = one(text).unwrap();
        assert_eq!(p[0].call_hold, Duration::from_secs(2));
        assert_eq!(
            p[0].headers,
            [
                ExtraHeader {
                    method: None,
                    line: "X-Campaign: q4".into()
                },
                ExtraHeader {
                    method: Some("INVITE".into()),
                    line: "P-Asserted-Identity: <sip:alice@example.test>".into()
                }
            ]
        );
        let bad = |line: &str| {
            let text = format!("[[phase]]\nname = \"h\"\nheaders = [{line:?}]\n");
            one(&text).unwrap_err().to_string()
        };
        for (line, why) in [
            ("X-A: one\r\nVia: SIP/2.0/UDP evil", "one line"),
            ("no colon here", "not NAME: value"),
            ("Bad Name: x", "not a header name"),
            ("invite=X-A: 1", "not a SIP method"),
            ("Call-ID: mine", "writes Call-ID itself"),
        ] {
            let e = bad(line);
            assert!(e.contains("headers") && e.contains(why), "{line:?}: {e}");
        }
        let e = one("[[phase]]\nname = \"h\"\ncall_hold = \"1s\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("call_hold") && e.contains("INVITE"), "{e}");
    }

    #[test]
    fn layers_merge_in_order() {
        let text = "[defaults]\nwarmup = \"2s\"\nrate = 100.0\n[[phase]]\nname = \"a\"\nconcurrency = 8\n[[phase]]\nname = \"b\"\n";
        let p = one(text).unwrap();
        assert_eq!(p[0].load, Load::Closed { concurrency: 8 });
        assert_eq!(p[1].load, Load::Open { rate: 100.0 });
        assert_eq!(p[0].warmup, Duration::from_secs(2));
        assert_eq!(p[0].transactions, vec![Txn::Register, Txn::Options]);
        let flags = PhaseSpec {
            concurrency: Some(3),
            duration: Some(Duration::from_secs(1)),
            ..Default::default()
        };
        let p = lower(&Profile::parse(text).unwrap(), &flags, &["b".into()]).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].load, Load::Closed { concurrency: 3 });
        assert_eq!(p[0].duration, Some(Duration::from_secs(1)));
    }

    #[test]
    fn errors_name_the_field() {
        let e = one("[[phase]]\nname = \"x\"\nconcurency = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("concurency"), "{e}");
        let e = one("[[phase]]\nname = \"x\"\nconcurrency = 3\nrate = 5.0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("phase[1] \"x\": rate"), "{e}");
        let e = one("[[phase]]\nname = \"x\"\nmode = \"quic\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("mode") || e.contains("quic"), "{e}");
        let e = one("[[phase]]\nname = \"x\"\nduration = \"soon\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("duration"), "{e}");
        let e = one("[[phase]]\nname = \"x\"\ntransactions = [\"FOO\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("FOO") || e.contains("transactions"), "{e}");
        let e = one("[[phase]]\nname = \"x\"\nworkload = \"kept\"\nconcurrency = 4\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("concurrency"), "{e}");
        let e = one("[[phase]]\nname = \"x\"\n[[phase]]\nname = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("phase[2] \"x\": name"), "{e}");
        assert!(matches!(one("name = \"empty\"\n"), Err(PlanError::NoPhases(_))));
        let e = lower(
            &Profile::parse("[[phase]]\nname = \"x\"\n").unwrap(),
            &PhaseSpec::default(),
            &["y".into()],
        )
        .unwrap_err();
        assert!(e.to_string().contains("--phase y"));
    }

    #[test]
    fn resumption_modes_imply_versions_and_fields_propagate() {
        let p = one("[defaults]\ncipher_suite = \"TLS13_AES_128_GCM_SHA256\"\n[[phase]]\nname = \"a\"\nresumption = \"tls13-0rtt\"\nearly_data = \"reject\"\n[[phase]]\nname = \"b\"\nresumption = \"tls12-session-id\"\ncipher_suite = \"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\"\n").unwrap();
        assert_eq!(p[0].resumption, Resumption::Tls13EarlyData);
        assert_eq!(p[0].early_data, EarlyData::Reject);
        assert_eq!(p[0].tls_versions, Versions::Tls13);
        assert_eq!(p[0].cipher_suite.as_deref(), Some("TLS13_AES_128_GCM_SHA256"));
        assert_eq!(p[1].tls_versions, Versions::Tls12);
        assert_eq!(
            p[1].cipher_suite.as_deref(),
            Some("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
        );
        let e = one("[[phase]]\nname = \"x\"\nresumption = \"tls12-tickets\"\ntls_versions = \"1.3\"\n").unwrap_err();
        assert!(e.to_string().contains("resumption"), "{e}");
        let e = one("[[phase]]\nname = \"x\"\nearly_data = \"accept\"\n").unwrap_err();
        assert!(e.to_string().contains("early_data"), "{e}");
        let e = one("[[phase]]\nname = \"x\"\nresumption = \"sometimes\"\n").unwrap_err();
        assert!(e.to_string().contains("sometimes"), "{e}");
    }

    /// Every `[default: X]` a field's doc (its flag help) states is what `resolve` applies.
    #[test]
    fn stated_defaults_are_the_applied_ones() {
        use clap::Args as _;
        // Some defaults only show in the context they apply to.
        let plan = |extra: &str| {
            let text = format!("[[phase]]\nname = \"x\"\n{extra}");
            serde_json::to_value(&one(&text).unwrap()[0]).unwrap()
        };
        let bare = plan("");
        let kept = plan("workload = \"kept\"\n");
        let bad = plan("mode = \"mtls\"\nbad_cert = \"revoked\"\n");
        let mut checked = Vec::new();
        for arg in PhaseSpec::augment_args(clap::Command::new("t")).get_arguments() {
            let id = arg.get_id().as_str();
            let help = arg.get_long_help().or(arg.get_help()).unwrap().to_string();
            let Some(stated) = help.split("[default: ").nth(1).map(|s| s.split(']').next().unwrap()) else {
                continue;
            };
            let value = match id {
                "concurrency" => &bare["load"]["concurrency"],
                "connections" => &kept[id],
                "bad_cert_share" => &bad[id],
                // Depend on other fields or on the target.
                "tls_versions" | "cipher_suite" | "kx_group" | "domain" | "users" | "user_order" | "warmup"
                | "pacing" => {
                    continue;
                }
                _ => &bare[id],
            };
            let applied = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(a) => a.iter().map(|v| v.as_str().unwrap()).collect::<Vec<_>>().join(","),
                other => other.to_string(),
            };
            assert_eq!(stated, applied, "--{id}");
            checked.push(id.to_owned());
        }
        assert!(checked.len() >= 20, "{checked:?}");
        assert_eq!(bare["tls_versions"], "any");
    }

    #[test]
    fn a_layer_setting_concurrency_or_rate_replaces_both_below() {
        let upper = PhaseSpec {
            rate: Some(5.0.into()),
            ..Default::default()
        };
        let lower = PhaseSpec {
            concurrency: Some(3),
            warmup: Some(Duration::from_secs(2)),
            ..Default::default()
        };
        let merged = upper.clone().or(&lower);
        assert_eq!((merged.concurrency, merged.rate), (None, Some(5.0.into())));
        assert_eq!(merged.warmup, Some(Duration::from_secs(2)));
        assert_eq!(PhaseSpec::default().or(&lower), lower);
        assert!(PhaseSpec::default().is_empty() && !upper.is_empty());
    }

    #[test]
    fn ramps_and_steps_resolve_with_their_times_and_name_bad_fields() {
        let p = one("[[phase]]\nname = \"r\"\nrate = \"100..5000\"\nramp = \"60s\"\nduration = \"90s\"\n").unwrap();
        assert_eq!(p[0].load, Load::Open { rate: 100.0 });
        assert_eq!(
            p[0].shape,
            Some(RateShape::Ramp {
                from: 100.0,
                to: 5000.0,
                ramp: Duration::from_secs(60)
            })
        );
        // Without a ramp time the ramp spans the duration.
        let p = one("[[phase]]\nname = \"r\"\nrate = \"1..2\"\nduration = \"7s\"\n").unwrap();
        assert!(matches!(p[0].shape, Some(RateShape::Ramp { ramp, .. }) if ramp == Duration::from_secs(7)));
        // Steps: the step time makes the duration, or the duration is shared.
        let p = one("[[phase]]\nname = \"s\"\nworkload = \"kept\"\nrate = [100, 200, 400]\nstep = \"10s\"\n").unwrap();
        assert_eq!(p[0].duration, Some(Duration::from_secs(30)));
        assert_eq!(
            p[0].shape,
            Some(RateShape::Steps {
                rates: vec![100.0, 200.0, 400.0],
                step: Duration::from_secs(10)
            })
        );
        // A shaped plan reads back from the JSON of the results file.
        let json = serde_json::to_string(&p[0]).unwrap();
        assert_eq!(serde_json::from_str::<PhasePlan>(&json).unwrap(), p[0]);
        let p = one("[[phase]]\nname = \"s\"\nrate = \"1,2\"\nduration = \"8s\"\n").unwrap();
        assert!(matches!(&p[0].shape, Some(RateShape::Steps { step, .. }) if *step == Duration::from_secs(4)));
        // A constant rate has no shape; the plan serializes as before.
        let p = one("[[phase]]\nname = \"c\"\nrate = 5\n").unwrap();
        assert_eq!(p[0].shape, None);
        assert!(serde_json::to_value(&p[0]).unwrap().get("shape").is_none());
        for (text, field) in [
            ("rate = 5\nramp = \"1s\"\n", "ramp"),
            ("rate = [1, 2]\nramp = \"1s\"\n", "ramp"),
            ("rate = \"1..2\"\nstep = \"1s\"\n", "step"),
            ("concurrency = 3\nstep = \"1s\"\n", "step"),
            ("rate = \"5..x\"\n", "rate"),
            ("rate = \"1..2\"\nsessions = 10\n", "ramp"),
            ("rate = \"1..2\"\nworkload = \"hold\"\n", "rate"),
            ("rate = [1, 2]\nstep = \"400days\"\n", "step"),
            ("rate = [1, 2, 3]\nstep = \"200days\"\n", "step"),
            ("rate = \"1..2\"\nramp = \"400days\"\n", "ramp"),
        ] {
            let e = one(&format!("[[phase]]\nname = \"x\"\n{text}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(field), "{text}: {e}");
        }
        // A layer that sets the rate takes the ramp and step below it away.
        let flags = PhaseSpec {
            rate: Some(RateSpec::Constant(9.0)),
            ..Default::default()
        };
        let profile = Profile::parse("[[phase]]\nname = \"a\"\nrate = \"1..2\"\nramp = \"3s\"\n").unwrap();
        let p = lower(&profile, &flags, &[]).unwrap();
        assert_eq!((p[0].load, p[0].shape.clone()), (Load::Open { rate: 9.0 }, None));
    }

    #[test]
    fn sessions_budget_without_duration_runs_until_spent() {
        let p = one("[[phase]]\nname = \"x\"\nsessions = 100\n").unwrap();
        assert_eq!(p[0].duration, None);
        assert_eq!(p[0].sessions, Some(100));
        let p = one("[[phase]]\nname = \"x\"\n").unwrap();
        assert_eq!(p[0].duration, Some(Duration::from_secs(10)));
    }
}
