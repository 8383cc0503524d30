//! Load profiles (TOML) and command-line flags, lowered into one typed [`Plan`].
//!
//! A profile is a list of `[[phase]]` tables plus optional `[defaults]` that apply to every
//! phase. Flags given on the command line override the same field in every phase. Every
//! problem is an error that names the field (`phase[2] "sip-kept": rate: must be > 0`).
//!
//! ```toml
//! name = "example"
//! [defaults]
//! warmup = "1s"
//! [[phase]]
//! name = "tls-full-handshake"
//! mode = "tls"             # tls | mtls | tcp
//! workload = "sessions"    # sessions | kept | hold
//! concurrency = 64         # closed loop; or rate = 5000 (open loop, per second)
//! duration = "5s"
//! transactions = ["REGISTER", "OPTIONS"]
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

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
}

impl Mode {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Tls => "tls",
            Mode::Mtls => "mtls",
            Mode::Tcp => "tcp",
        }
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
    /// `connections` sessions are opened, switched to bulk streaming (see [`crate::bulk`]) and
    /// stream records of `record_size` bytes for the duration: measures record throughput.
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

/// One phase as written in a profile or given by flags: every field optional, so layers can be
/// merged (flags over phase over profile defaults over built-in defaults).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseSpec {
    /// Phase name (unique within a profile).
    pub name: Option<String>,
    /// tls, mtls or tcp.
    pub mode: Option<Mode>,
    /// sessions, kept or hold.
    pub workload: Option<Workload>,
    /// Closed loop: sessions in flight (workload `sessions`).
    pub concurrency: Option<usize>,
    /// Open loop: session starts per second (`sessions`) or transactions per second (`kept`).
    pub rate: Option<f64>,
    /// Sessions kept open (workloads `kept` and `hold`).
    pub connections: Option<usize>,
    /// Stop after this many measured sessions (workload `sessions`).
    pub sessions: Option<u64>,
    /// Measured time.
    #[serde(default, with = "humantime_serde")]
    pub duration: Option<Duration>,
    /// Time run before measuring; its results are discarded.
    #[serde(default, with = "humantime_serde")]
    pub warmup: Option<Duration>,
    /// SIP transactions per session, in order.
    pub transactions: Option<Vec<Txn>>,
    /// TLS versions offered by the generator: "1.3", "1.2" or "any".
    pub tls_versions: Option<Versions>,
    /// TLS session resumption: `off` (every handshake full), `tls13-tickets` (stateless),
    /// `tls13-stateful` (server session cache), `tls12-session-id`, `tls12-tickets`, or
    /// `tls13-0rtt` (resumption with the first SIP request sent as early data).
    pub resumption: Option<Resumption>,
    /// With `tls13-0rtt`: whether the embedded server accepts early data (`accept`) or not (`reject`).
    pub early_data: Option<EarlyData>,
    /// Client session cache entries, per worker (each worker's sessions share one cache).
    pub session_cache: Option<usize>,
    /// Embedded server session cache entries (stateful modes).
    pub server_cache: Option<usize>,
    /// Ticket lifetime the embedded server advertises (ticket modes).
    #[serde(default, with = "humantime_serde")]
    pub ticket_lifetime: Option<Duration>,
    /// Offer only this cipher suite (rustls name, e.g. `TLS13_AES_128_GCM_SHA256`).
    pub cipher_suite: Option<String>,
    /// Offer only this key exchange group (e.g. `X25519`, `secp256r1`, `secp384r1`,
    /// `X25519MLKEM768`); the backend must implement it.
    pub kx_group: Option<String>,
    /// TCP connect timeout.
    #[serde(default, with = "humantime_serde")]
    pub connect_timeout: Option<Duration>,
    /// TLS handshake timeout.
    #[serde(default, with = "humantime_serde")]
    pub handshake_timeout: Option<Duration>,
    /// Timeout for one SIP transaction.
    #[serde(default, with = "humantime_serde")]
    pub sip_timeout: Option<Duration>,
    /// Open loop: most sessions in flight per run before arrivals wait (and their wait is counted).
    pub max_in_flight: Option<usize>,
    /// Workload `records`: TLS record size in plaintext bytes (32 to 16384).
    pub record_size: Option<usize>,
    /// Workload `records`: `up` (client to server) or `both` (echoed back).
    pub direction: Option<Direction>,
    /// Workload `messages`: MESSAGE body bytes.
    pub body_size: Option<usize>,
    /// Workload `messages`: requests outstanding per session (pipelining depth).
    pub window: Option<usize>,
    /// Mode `mtls`, workload `sessions`: a share of sessions presents this bad certificate
    /// (a negative case of the PKI, e.g. `revoked`); each must be refused.
    pub bad_cert: Option<crate::pki::BadCert>,
    /// The share of sessions that present `bad_cert` (0 to 1; default 0.2).
    pub bad_cert_share: Option<f64>,
}

impl PhaseSpec {
    /// Fills every unset field of `self` from `lower`.
    pub fn or(mut self, lower: &PhaseSpec) -> PhaseSpec {
        macro_rules! fill {
            ($($f:ident),*) => { $( if self.$f.is_none() { self.$f = lower.$f.clone(); } )* };
        }
        // concurrency and rate are one choice: a layer that sets either replaces both below it.
        if self.concurrency.is_none() && self.rate.is_none() {
            self.concurrency = lower.concurrency;
            self.rate = lower.rate;
        }
        fill!(
            name,
            mode,
            workload,
            connections,
            sessions,
            duration,
            warmup,
            transactions,
            tls_versions,
            resumption,
            early_data,
            session_cache,
            server_cache,
            ticket_lifetime,
            cipher_suite,
            kx_group,
            connect_timeout,
            handshake_timeout,
            sip_timeout,
            max_in_flight,
            record_size,
            direction,
            body_size,
            window,
            bad_cert,
            bad_cert_share
        );
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
    /// Open loop at a constant rate; latency is measured from each arrival's intended start time
    /// (corrected for coordinated omission), and the uncorrected histogram is kept too.
    Open {
        /// Arrivals per second.
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

/// Built-in values for fields no layer sets.
pub fn builtin_defaults() -> PhaseSpec {
    PhaseSpec {
        name: None,
        mode: Some(Mode::Tls),
        workload: Some(Workload::Sessions),
        concurrency: None,
        rate: None,
        connections: None,
        sessions: None,
        duration: None,
        warmup: Some(Duration::from_secs(1)),
        transactions: Some(vec![Txn::Register, Txn::Options]),
        tls_versions: None,
        resumption: Some(Resumption::Off),
        early_data: None,
        session_cache: Some(1024),
        server_cache: Some(10_000),
        ticket_lifetime: Some(Duration::from_secs(2 * 3600)),
        cipher_suite: None,
        kx_group: None,
        connect_timeout: Some(Duration::from_secs(5)),
        handshake_timeout: Some(Duration::from_secs(5)),
        sip_timeout: Some(Duration::from_secs(5)),
        max_in_flight: Some(5_000),
        record_size: Some(16 * 1024),
        direction: Some(Direction::Up),
        body_size: Some(1024),
        window: Some(8),
        bad_cert: None,
        bad_cert_share: None,
    }
}

/// Lowers a profile plus flag overrides into resolved phases. `only` keeps the named phases.
pub fn lower(profile: &Profile, flags: &PhaseSpec, only: &[String]) -> Result<Vec<PhasePlan>, PlanError> {
    if profile.phases.is_empty() {
        return Err(PlanError::NoPhases(
            "profile: phase: at least one [[phase]] is required".into(),
        ));
    }
    let builtin = builtin_defaults();
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
        let spec = flags.clone().or(&phase.clone().or(&profile.defaults)).or(&builtin);
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

fn resolve(s: &PhaseSpec, label: &str) -> Result<PhasePlan, PlanError> {
    let err = |field: &'static str, problem: &str| PlanError::Field {
        phase: label.to_owned(),
        field,
        problem: problem.to_owned(),
    };
    let workload = s.workload.expect("built-in default");
    let load = match (s.concurrency, s.rate) {
        (Some(_), Some(_)) => {
            return Err(err(
                "rate",
                "`concurrency` (closed loop) and `rate` (open loop) exclude each other",
            ));
        }
        (_, Some(r)) if !(r.is_finite() && r > 0.0) => return Err(err("rate", "must be a number > 0")),
        (_, Some(rate)) => Load::Open { rate },
        (Some(0), None) => return Err(err("concurrency", "must be > 0")),
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
    let body_size = s.body_size.expect("built-in default");
    if body_size > 60_000 {
        return Err(err(
            "body_size",
            "must be at most 60000 bytes (the server's message limit is 64 KiB)",
        ));
    }
    let window = s.window.expect("built-in default");
    if !(1..=4096).contains(&window) {
        return Err(err("window", "must be 1 to 4096"));
    }
    let record_size = s.record_size.expect("built-in default");
    if !(32..=16384).contains(&record_size) {
        return Err(err(
            "record_size",
            "must be 32 to 16384 bytes (a TLS record's plaintext)",
        ));
    }
    if s.sessions == Some(0) {
        return Err(err("sessions", "must be > 0"));
    }
    if s.sessions.is_some() && workload != Workload::Sessions {
        return Err(err("sessions", "applies to workload `sessions` only"));
    }
    let duration = match (s.duration, s.sessions) {
        (Some(d), _) if d.is_zero() => return Err(err("duration", "must be > 0")),
        (Some(d), _) => Some(d),
        (None, Some(_)) => None,
        (None, None) => Some(Duration::from_secs(10)),
    };
    let transactions = s.transactions.clone().expect("built-in default");
    if transactions.is_empty() && workload == Workload::Kept {
        return Err(err("transactions", "workload `kept` needs at least one transaction"));
    }
    let positive = |d: Option<Duration>, field: &'static str| -> Result<Duration, PlanError> {
        let d = d.expect("built-in default");
        if d.is_zero() {
            Err(err(field, "must be > 0"))
        } else {
            Ok(d)
        }
    };
    let mode = s.mode.expect("built-in default");
    if mode == Mode::Tcp && s.cipher_suite.is_some() {
        return Err(err("cipher_suite", "needs mode tls or mtls"));
    }
    if mode == Mode::Tcp && s.kx_group.is_some() {
        return Err(err("kx_group", "needs mode tls or mtls"));
    }
    let resumption = s.resumption.expect("built-in default");
    // A resumption mode implies its protocol version unless the versions are given.
    let tls_versions = match (s.tls_versions, resumption.version()) {
        (None, Some(v)) => v,
        (None, None) => Versions::Tls13,
        (Some(v), Some(needed)) if v != needed => {
            return Err(err(
                "resumption",
                &format!("{} needs tls_versions {}", resumption.as_str(), needed.as_str()),
            ));
        }
        (Some(v), _) => v,
    };
    if mode == Mode::Tcp && resumption != Resumption::Off {
        return Err(err("resumption", "needs mode tls or mtls"));
    }
    if s.early_data.is_some() && resumption != Resumption::Tls13EarlyData {
        return Err(err("early_data", "applies to resumption `tls13-0rtt` only"));
    }
    if s.session_cache == Some(0) {
        return Err(err("session_cache", "must be > 0"));
    }
    if s.server_cache == Some(0) {
        return Err(err("server_cache", "must be > 0"));
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
    let max_in_flight = s.max_in_flight.expect("built-in default");
    if max_in_flight == 0 {
        return Err(err("max_in_flight", "must be > 0"));
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
        connections,
        sessions: s.sessions,
        duration,
        warmup: s.warmup.expect("built-in default"),
        transactions,
        tls_versions,
        resumption,
        early_data: s.early_data.unwrap_or(EarlyData::Accept),
        session_cache: s.session_cache.expect("built-in default"),
        server_cache: s.server_cache.expect("built-in default"),
        ticket_lifetime: positive(s.ticket_lifetime, "ticket_lifetime")?,
        cipher_suite: s.cipher_suite.clone(),
        kx_group: s.kx_group.clone(),
        connect_timeout: positive(s.connect_timeout, "connect_timeout")?,
        handshake_timeout: positive(s.handshake_timeout, "handshake_timeout")?,
        sip_timeout: positive(s.sip_timeout, "sip_timeout")?,
        max_in_flight,
        record_size,
        direction: s.direction.expect("built-in default"),
        body_size,
        window,
        bad_cert: s.bad_cert,
        bad_cert_share,
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
        let smoke = include_str!("../profiles/smoke.toml");
        lower(&Profile::parse(smoke).unwrap(), &PhaseSpec::default(), &[]).unwrap();
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

    #[test]
    fn sessions_budget_without_duration_runs_until_spent() {
        let p = one("[[phase]]\nname = \"x\"\nsessions = 100\n").unwrap();
        assert_eq!(p[0].duration, None);
        assert_eq!(p[0].sessions, Some(100));
        let p = one("[[phase]]\nname = \"x\"\n").unwrap();
        assert_eq!(p[0].duration, Some(Duration::from_secs(10)));
    }
}
