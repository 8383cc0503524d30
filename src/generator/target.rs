//! What the phases connect to: the embedded server or a real deployment, with the
//! credentials, names and trust of each, and the connectors a phase builds from them.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use rustls_pki_types::ServerName;

use crate::dns::{SipResolver, Transport};
use crate::generator::config::TargetConfig;
use crate::generator::session::Endpoint;
use crate::pki::{self, Identity, KeyType, Pki};
use crate::plan::{Mode, PhasePlan, Workload};
use crate::results::{ResolvedServer, TargetInfo};
use crate::server;
use crate::tls::tcp::Cleartext;
use crate::tls::{ClientSettings, Stack};
use crate::trust::Trust;

/// Credentials and addresses the phases connect with.
pub(crate) struct Target {
    pub(crate) info: TargetInfo,
    pub(crate) tls: Vec<SocketAddr>,
    pub(crate) mtls: Vec<SocketAddr>,
    pub(crate) tcp: Vec<SocketAddr>,
    pub(crate) udp: Vec<SocketAddr>,
    pub(crate) server_name: ServerName<'static>,
    pub(crate) domain: Arc<str>,
    pub(crate) trust: Option<Trust>,
    pub(crate) identity: Option<Identity>,
    /// The negative-case certificates, for phases with `bad_cert`.
    pub(crate) bad: std::collections::BTreeMap<crate::pki::BadCert, Identity>,
    /// Key type of the certificates (the embedded PKI's; `None` for a remote target, whose
    /// certificate is described as negotiated).
    pub(crate) key_type: Option<KeyType>,
    /// Source addresses sessions connect from, in turn (`--local-addr`).
    pub(crate) local: Vec<std::net::IpAddr>,
}

impl Target {
    /// The addresses of the listener a phase connects to.
    fn addrs(&self, phase: &PhasePlan) -> Result<&[SocketAddr]> {
        let (addrs, flag) = match phase.mode {
            Mode::Tls => (&self.tls, "--tls-addr"),
            Mode::Mtls => (&self.mtls, "--mtls-addr"),
            Mode::Tcp => (&self.tcp, "--tcp-addr"),
            Mode::Udp => (&self.udp, "--udp-addr"),
        };
        if addrs.is_empty() {
            bail!("phase {}: mode {} needs {flag}", phase.name, phase.mode.as_str());
        }
        Ok(addrs)
    }

    /// The certificate the phase presents (mode `mtls`).
    fn identity(&self, phase: &PhasePlan) -> Result<Option<&Identity>> {
        match phase.mode {
            Mode::Mtls => Ok(Some(self.identity.as_ref().with_context(|| {
                format!(
                    "phase {}: mode mtls needs a client certificate (--cert and --key)",
                    phase.name
                )
            })?)),
            _ => Ok(None),
        }
    }

    /// Checks, before any phase runs, that `stack` can run `phase` against this target: the
    /// listener and credentials it needs are there, and the stack can offer what it pins and
    /// handshake with the target's key type.
    pub(crate) fn check(&self, phase: &PhasePlan, stack: &dyn Stack) -> Result<()> {
        self.addrs(phase)?;
        self.identity_of(phase)?;
        if !phase.mode.secure() {
            return Ok(());
        }
        let identity = self.identity(phase)?;
        stack
            .check(&client_settings(phase), self.key_type, identity.map(|i| &i.key))
            .map_err(|e| anyhow::anyhow!("phase \"{}\": {e}", phase.name))
    }

    /// The endpoint of `phase` on `stack`: its addresses and one dialer per worker.
    pub(crate) fn endpoint(&self, phase: &PhasePlan, stack: &dyn Stack, workers: usize) -> Result<Endpoint> {
        let addrs = self.addrs(phase)?.to_vec();
        let mode = phase.mode;
        let (domain, users, user_order) = self.identity_of(phase)?;
        // A deployment: every session takes the next server (weighted), whatever its worker.
        let spread = (self.info.kind == "remote").then(|| Arc::new(crate::generator::session::Spread::new(&addrs)));
        if !mode.secure() {
            let dialer: Arc<dyn crate::tls::Dialer> = match mode {
                Mode::Udp => Arc::new(crate::tls::udp::Datagram),
                _ => Arc::new(Cleartext),
            };
            return Ok(Endpoint {
                addrs,
                dialers: vec![dialer],
                bad: Vec::new(),
                domain,
                users,
                user_order,
                spread,
                local: Arc::new(crate::generator::session::LocalAddrs::new(self.local.clone())),
            });
        }
        self.check(phase, stack)?;
        let trust = self
            .trust
            .as_ref()
            .with_context(|| format!("phase {}: mode {} needs --ca or --topology", phase.name, mode.as_str()))?;
        let identity = self.identity(phase)?;
        let bad = match phase.bad_cert {
            None => None,
            Some(which) => Some(self.bad.get(&which).with_context(|| {
                format!(
                    "phase {}: bad_cert {which} needs the PKI's negative cases (give --pki DIR with a remote target)",
                    phase.name
                )
            })?),
        };
        // Server to server, the peer must be in the topology (checked inside the handshake); a
        // TLS client checks chain, validity, revocation, name and CA scope only.
        let trust = match mode {
            Mode::Mtls => trust.clone(),
            _ => trust.without_topology(),
        };
        let settings = client_settings(phase);
        let name = self.domain_name();
        // One dialer per worker: each worker's sessions share one session cache.
        let dialers_for = |identity: Option<&Identity>| {
            (0..workers)
                .map(|_| stack.dialer(&trust, identity, &name, &settings))
                .collect::<Result<Vec<_>>>()
                .map_err(|e| anyhow::anyhow!("phase \"{}\": {e:#}", phase.name))
        };
        Ok(Endpoint {
            addrs,
            dialers: dialers_for(identity)?,
            bad: match bad {
                Some(b) => dialers_for(Some(b))?,
                None => Vec::new(),
            },
            domain,
            users,
            user_order,
            spread,
            local: Arc::new(crate::generator::session::LocalAddrs::new(self.local.clone())),
        })
    }

    /// The domain, users and user order of `phase`'s sessions; a users file that does not load
    /// is a configuration error naming the field.
    fn identity_of(
        &self,
        phase: &PhasePlan,
    ) -> Result<(Arc<str>, Option<Arc<crate::users::Users>>, crate::users::UserOrder)> {
        let domain = phase.domain.as_deref().map_or_else(|| self.domain.clone(), Arc::from);
        let users = match &phase.users {
            None => None,
            Some(path) => Some(Arc::new(crate::users::Users::load(path).map_err(|e| {
                crate::exit::config(anyhow::anyhow!("phase {}: users {}: {e}", phase.name, path.display()))
            })?)),
        };
        let order = phase
            .user_order
            .or_else(|| users.as_ref().and_then(|u| u.order))
            .unwrap_or_default();
        Ok((domain, users, order))
    }

    /// The name the server certificate must carry, as text.
    fn domain_name(&self) -> String {
        match &self.server_name {
            ServerName::DnsName(n) => n.as_ref().to_owned(),
            ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
            other => format!("{other:?}"),
        }
    }
}

/// The servers a listener flag resolves to (RFC 3263 for a bare domain), in the order
/// sessions take them.
async fn resolve(
    resolver: &SipResolver,
    what: &str,
    s: &str,
    transport: Transport,
    listener: &str,
    found: &mut Vec<ResolvedServer>,
) -> Result<Vec<SocketAddr>> {
    let servers = resolver
        .servers(s, transport)
        .await
        .with_context(|| format!("{what} {s}"))?;
    let addrs = crate::dns::spread(&servers);
    if addrs.is_empty() {
        bail!("{what} {s}: resolves to no address");
    }
    found.extend(servers.into_iter().map(|server| ResolvedServer {
        listener: listener.into(),
        server,
    }));
    Ok(addrs)
}

pub(crate) async fn remote_target(args: &TargetConfig, target: &str) -> Result<Target> {
    let resolver = SipResolver::new(args.dns_server, &args.resolve)?;
    let mut found = Vec::new();
    let tls = resolve(&resolver, "--tls-addr", target, Transport::Tls, "tls", &mut found).await?;
    let mtls = match args.mtls_addr.as_deref() {
        Some(t) => resolve(&resolver, "--mtls-addr", t, Transport::Tls, "mtls", &mut found).await?,
        None => tls.clone(),
    };
    let tcp = match args.tcp_addr.as_deref() {
        Some(t) => resolve(&resolver, "--tcp-addr", t, Transport::Tcp, "tcp", &mut found).await?,
        None => Vec::new(),
    };
    let udp = match args.udp_addr.as_deref() {
        Some(t) => resolve(&resolver, "--udp-addr", t, Transport::Udp, "udp", &mut found).await?,
        None => Vec::new(),
    };
    // The name to verify: the host of host:port, or the SIP domain itself (RFC 5922 §4: the
    // certificate carries the domain, not the SRV target).
    let host = match target.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => h,
        _ => target,
    }
    .trim_matches(['[', ']'])
    .trim_end_matches('.');
    let name = args.server_name.clone().unwrap_or_else(|| host.to_owned());
    let server_name = ServerName::try_from(name.clone())
        .with_context(|| format!("--server-name {name}: not a DNS name or IP address"))?;
    let trust = match (&args.topology, &args.ca) {
        (Some(path), _) => Some(Trust::load(path)?),
        (None, Some(path)) if path.as_os_str() == "system" => {
            let bundle = system_roots()?;
            Some(
                Trust::from_cas(&pki::load_ca_bundle(&bundle)?)
                    .with_context(|| format!("--ca system ({})", bundle.display()))?,
            )
        }
        (None, Some(path)) => Some(Trust::from_cas(&pki::load_ca_bundle(path)?)?),
        (None, None) => None,
    }
    .map(|t| t.at(args.at));
    let identity = match (&args.cert, &args.key) {
        (Some(c), Some(k)) => Some(pki::load_identity(c, k)?),
        _ => None,
    };
    Ok(Target {
        info: TargetInfo {
            kind: "remote".into(),
            tls: distinct(&tls),
            mtls: distinct(&mtls),
            tcp: distinct(&tcp),
            udp: distinct(&udp),
            server_name: name.clone(),
            trust: trust
                .as_ref()
                .map_or_else(|| "none (no --ca or --topology)".into(), Trust::describe),
            resolved: found,
        },
        tls,
        mtls,
        tcp,
        udp,
        server_name,
        domain: name.into(),
        trust,
        identity,
        bad: match &args.pki {
            Some(dir) => Pki::load(dir)
                .with_context(|| format!("--pki {}", dir.display()))?
                .bad
                .clone(),
            None => Default::default(),
        },
        key_type: None,
        local: args.local_addrs.clone(),
    })
}

/// The operating system's CA bundle (`--ca system`).
fn system_roots() -> Result<std::path::PathBuf> {
    pki::system_roots_file().with_context(|| {
        format!(
            "--ca system: no CA bundle at {} (set SSL_CERT_FILE)",
            pki::SYSTEM_BUNDLES.join(", ")
        )
    })
}

/// Each address once, in first-seen order.
fn distinct(addrs: &[SocketAddr]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in addrs {
        let a = a.to_string();
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// The embedded server's name (in the throwaway PKI's server certificate).
pub const EMBEDDED_SERVER_NAME: &str = "sip.example.test";

pub(crate) fn embedded_target(pki: &Pki, trust: Trust, addrs: &server::ServerAddrs) -> Target {
    let list = |a: &[SocketAddr]| a.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    Target {
        info: TargetInfo {
            kind: "embedded".into(),
            tls: list(&addrs.tls),
            mtls: list(&addrs.mtls),
            tcp: list(&addrs.tcp),
            udp: list(&addrs.udp),
            server_name: EMBEDDED_SERVER_NAME.into(),
            trust: format!("built-in topology, {}", trust.describe()),
            resolved: Vec::new(),
        },
        tls: addrs.tls.clone(),
        mtls: addrs.mtls.clone(),
        tcp: addrs.tcp.clone(),
        udp: addrs.udp.clone(),
        server_name: ServerName::try_from(EMBEDDED_SERVER_NAME).expect("static name"),
        domain: EMBEDDED_SERVER_NAME.into(),
        trust: Some(trust),
        identity: Some(pki.edge.clone()),
        bad: pki.bad.clone(),
        key_type: Some(pki.key_type),
        local: Vec::new(),
    }
}

/// What a phase's client offers and keeps.
pub(crate) fn client_settings(phase: &PhasePlan) -> ClientSettings {
    ClientSettings {
        versions: phase.tls_versions,
        resumption: phase.resumption,
        session_cache: phase.session_cache,
        record_size: (phase.workload == Workload::Records).then_some(phase.record_size),
        cipher_suite: phase.cipher_suite.clone(),
        kx_group: phase.kx_group.clone(),
    }
}
