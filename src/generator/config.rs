//! What a run needs, as a plain library value: [`RunConfig`]. The command line's `sipbench run`
//! options convert into it (`RunArgs::into_config`); `sipbench compare`, library callers and the
//! tests build it directly and hand it to [`run`](crate::generator::run).

use std::path::PathBuf;

use anyhow::{Context, Result};
use rustls_pki_types::UnixTime;

use crate::pki::KeyType;
use crate::plan::{self, PhasePlan, PhaseSpec, Profile};
use crate::tls::Backend;

/// Where the phases come from.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ProfileSource {
    /// The embedded default profile ([`plan::DEFAULT_PROFILE`]). With phase overrides and no
    /// phase selected, a single phase named `cli` built from the overrides alone instead.
    #[default]
    Default,
    /// A profile file (TOML), or when no file has that path and it is a bare name, the
    /// embedded profile of that name ([`crate::profiles::resolve`]).
    File(PathBuf),
    /// A profile already parsed.
    Profile(Box<Profile>),
}

/// Everything one run of the generator needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunConfig {
    /// The profile.
    pub profile: ProfileSource,
    /// Phase settings that override every phase of the profile.
    pub phase: PhaseSpec,
    /// Run only the phases of these names (empty: all).
    pub phases: Vec<String>,
    /// Worker threads (`None`: one per core).
    pub workers: Option<usize>,
    /// Crypto backend of the generator.
    pub backend: Backend,
    /// Crypto backend of the embedded server (`None`: the generator's).
    pub server_backend: Option<Backend>,
    /// What the phases connect to, and with which credentials.
    pub target: TargetConfig,
    /// Results file (`None`: `results/<profile>-<time>.json`).
    pub out: Option<PathBuf>,
    /// Print nothing (no header, progress or summary); the results file is still written.
    pub quiet: bool,
    /// Also write an HdrHistogram interval log to this file as the run goes (nanoseconds; an
    /// untagged headline histogram and one tagged `phase/metric` per metric, every second).
    pub hlog: Option<PathBuf>,
    /// Serve live OpenMetrics at this address while the run goes ([`crate::metrics`]).
    pub metrics: Option<std::net::SocketAddr>,
    /// Keep the metrics endpoint up this long after the results file is written.
    pub metrics_linger: std::time::Duration,
    /// Run only this shard's part ([`crate::shard`]); `None`: the whole run.
    pub shard: Option<crate::shard::Shard>,
    /// Start the first phase at this wall-clock instant (every shard given the same one starts
    /// together); `None`: at once.
    pub start_at: Option<UnixTime>,
    /// Whether the run measures this host's clock against the target's.
    pub clock_probe: ClockProbe,
    /// After each phase that has one, run its bare-loop counterpart and store the ratio
    /// ([`crate::baseline::efficiency`]).
    pub efficiency: bool,
}

/// Whether a run measures this host's clock against the target's from the `Date` headers of
/// OPTIONS responses ([`crate::generator::offset`]): a few OPTIONS on one extra session, which
/// the target counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ClockProbe {
    /// For shards and runs with `--start-at` (whose hosts' clocks must agree).
    #[default]
    Auto,
    /// Always.
    On,
    /// Never.
    Off,
}

impl RunConfig {
    /// Whether this run probes the target's clock.
    pub fn probes_clock(&self) -> bool {
        match self.clock_probe {
            ClockProbe::Auto => self.shard.is_some() || self.start_at.is_some(),
            ClockProbe::On => true,
            ClockProbe::Off => false,
        }
    }
}

/// What the phases connect to: a real deployment when `tls_addr` is set, otherwise the
/// embedded server with a throwaway PKI.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetConfig {
    /// The deployment's TLS listener: host:port, or a SIP domain found through DNS (RFC 3263:
    /// NAPTR, SRV, A/AAAA); `None`: the embedded server.
    pub tls_addr: Option<String>,
    /// The deployment's MTLS listener (`None`: `tls_addr`).
    pub mtls_addr: Option<String>,
    /// The deployment's cleartext TCP listener (mode tcp).
    pub tcp_addr: Option<String>,
    /// The deployment's UDP listener (mode udp).
    pub udp_addr: Option<String>,
    /// DNS name (or IP address) the server certificate must carry (`None`: the host of
    /// `tls_addr`).
    pub server_name: Option<String>,
    /// CA bundle (PEM) the server certificate must chain to.
    pub ca: Option<PathBuf>,
    /// Topology file: the whole trust model, instead of `ca`.
    pub topology: Option<PathBuf>,
    /// Evaluate certificate and CRL validity at this time instead of now.
    pub at: Option<UnixTime>,
    /// Certificate chain (PEM) presented in mode mtls.
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of `cert`.
    pub key: Option<PathBuf>,
    /// PKI directory whose bad certificates phases with `bad_cert` present to a deployment.
    pub pki: Option<PathBuf>,
    /// Embedded server: no CRL checks on either side.
    pub no_revocation: bool,
    /// Key type of the embedded server's throwaway PKI.
    pub key_type: KeyType,
    /// Embedded server: the throwaway PKI has issuing CAs between its roots and the leaves.
    pub intermediate: bool,
    /// The DNS server targets are resolved with (`None`: the system's resolvers).
    pub dns_server: Option<std::net::SocketAddr>,
    /// Names pinned to addresses (`--resolve NAME:IP`), before any DNS.
    pub resolve: Vec<(String, std::net::IpAddr)>,
    /// Source addresses sessions connect from, in turn (`--local-addr`); empty: the kernel's.
    pub local_addrs: Vec<std::net::IpAddr>,
}

impl TargetConfig {
    /// True when the phases run against the embedded server.
    pub fn is_embedded(&self) -> bool {
        self.tls_addr.is_none()
    }
}

impl RunConfig {
    /// The profile's name and its phases, resolved with the overrides and filtered by
    /// `phases`.
    pub fn plan(&self) -> Result<(String, Vec<PhasePlan>)> {
        let profile = match &self.profile {
            ProfileSource::File(path) => match crate::profiles::resolve(path)? {
                crate::profiles::Resolved::File(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading profile {}", path.display()))?;
                    Profile::parse(&text).with_context(|| format!("profile {}", path.display()))?
                }
                crate::profiles::Resolved::Embedded(e) => e.profile()?,
            },
            ProfileSource::Profile(profile) => (**profile).clone(),
            // Phase settings without a profile (and without a phase selection, which selects
            // from the default profile) describe a single phase of their own.
            ProfileSource::Default if !self.phase.is_empty() && self.phases.is_empty() => Profile {
                name: Some("cli".into()),
                phases: vec![PhaseSpec {
                    name: Some("cli".into()),
                    ..Default::default()
                }],
                ..Default::default()
            },
            ProfileSource::Default => Profile::parse(plan::DEFAULT_PROFILE).context("the embedded default profile")?,
        };
        let mut profile = profile;
        if !self.target.is_embedded() && profile.defaults.warmup.is_none() {
            // Against a deployment nothing is sent that was not asked for: `-n 4` is 4
            // sessions. A profile or flag that sets a warm-up still gets it.
            profile.defaults.warmup = Some(std::time::Duration::ZERO);
        }
        if !self.target.is_embedded() && profile.defaults.pacing.is_none() {
            // The server has its own cores (or host): the generator may spend one waiting
            // precisely, so the corrected latency is not inflated by timer lag.
            profile.defaults.pacing = Some(crate::generator::pace::Pacing::Precise);
        }
        let mut phases = plan::lower(&profile, &self.phase, &self.phases)?;
        if let Some(shard) = self.shard {
            phases = phases
                .iter()
                .map(|p| shard.plan(p))
                .collect::<Result<_, _>>()
                .with_context(|| format!("--shard {shard}"))?;
        }
        Ok((profile.name.clone().unwrap_or_else(|| "unnamed".into()), phases))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Mode;

    #[test]
    fn overrides_alone_make_one_phase_and_a_selection_picks_from_the_default_profile() {
        let config = RunConfig {
            phase: PhaseSpec {
                concurrency: Some(3),
                ..Default::default()
            },
            ..Default::default()
        };
        let (profile, phases) = config.plan().unwrap();
        assert_eq!((profile.as_str(), phases.len()), ("cli", 1));

        let config = RunConfig {
            phase: PhaseSpec {
                cipher_suite: Some("TLS13_AES_128_GCM_SHA256".into()),
                ..Default::default()
            },
            phases: vec!["mtls-full-handshake".into()],
            ..Default::default()
        };
        let (profile, phases) = config.plan().unwrap();
        assert_eq!(profile, "default");
        assert_eq!(phases.len(), 1);
        assert_eq!(phases[0].mode, Mode::Mtls);
        assert_eq!(phases[0].cipher_suite.as_deref(), Some("TLS13_AES_128_GCM_SHA256"));

        let (profile, phases) = RunConfig::default().plan().unwrap();
        assert_eq!((profile.as_str(), phases.len()), ("default", 3));

        let config = RunConfig {
            profile: ProfileSource::Profile(Box::new(
                Profile::parse("name = \"p\"\n[[phase]]\nname = \"a\"\n").unwrap(),
            )),
            ..Default::default()
        };
        let (profile, phases) = config.plan().unwrap();
        assert_eq!((profile.as_str(), phases[0].name.as_str()), ("p", "a"));
    }
}
