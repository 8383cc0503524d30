//! Finding SIP servers the way SIP does (RFC 3263 §4), for `run --tls-addr DOMAIN`:
//! NAPTR for the domain (services `SIPS+D2T` for TLS, `SIP+D2T` for TCP, flag `s`), then the
//! SRV records the chosen NAPTR names (or, without NAPTR, `_sips._tcp.DOMAIN` /
//! `_sip._tcp.DOMAIN`), then A/AAAA for each SRV target; without SRV, A/AAAA of the domain on
//! port 5061 (TLS) or 5060 (TCP). An explicit `host:port` skips NAPTR and SRV. `--resolve
//! NAME:IP` pins a name's addresses, as curl's `--resolve` does.
//!
//! Sessions are spread over the servers of the best (lowest) SRV priority in proportion to
//! their weights ([`spread`]); the other priorities are listed in the results but only used
//! when the best group has no address. The lookups use hickory-resolver; the choices (which
//! NAPTR, which SRV group, how to spread) are pure functions, tested apart.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use anyhow::{Context, Result, bail};
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use serde::{Deserialize, Serialize};

/// The transport a target is resolved for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// SIP over TLS (`SIPS+D2T`, `_sips._tcp`, port 5061).
    Tls,
    /// SIP over TCP (`SIP+D2T`, `_sip._tcp`, port 5060).
    Tcp,
    /// SIP over UDP (`SIP+D2U`, `_sip._udp`, port 5060).
    Udp,
}

impl Transport {
    fn naptr_service(self) -> &'static str {
        match self {
            Transport::Tls => "SIPS+D2T",
            Transport::Tcp => "SIP+D2T",
            Transport::Udp => "SIP+D2U",
        }
    }

    fn srv_prefix(self) -> &'static str {
        match self {
            Transport::Tls => "_sips._tcp",
            Transport::Tcp => "_sip._tcp",
            Transport::Udp => "_sip._udp",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Transport::Tls => 5061,
            Transport::Tcp | Transport::Udp => 5060,
        }
    }
}

/// One server a target resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Server {
    /// Address and port.
    pub addr: SocketAddr,
    /// The host name it came from (the SRV target, or the target's host).
    pub host: String,
    /// SRV priority (0 without SRV).
    pub priority: u16,
    /// SRV weight (0 without SRV).
    pub weight: u16,
    /// How it was found: `literal` (an IP address), `pinned` (`--resolve`), `naptr` (NAPTR,
    /// SRV, A/AAAA), `srv` (SRV, A/AAAA), `a` (A/AAAA only).
    pub via: String,
}

/// A NAPTR record, as far as RFC 3263 needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naptr {
    /// Order (lowest first).
    pub order: u16,
    /// Preference within an order (lowest first).
    pub preference: u16,
    /// Flags (`s`: the replacement is an SRV name).
    pub flags: String,
    /// Service, e.g. `SIPS+D2T`.
    pub service: String,
    /// The SRV name.
    pub replacement: String,
}

/// The SRV name of the best NAPTR record for `transport` (RFC 3263 §4.1: the lowest order,
/// then the lowest preference, among records with flag `s` and the transport's service).
pub fn pick_naptr(records: &[Naptr], transport: Transport) -> Option<&str> {
    records
        .iter()
        .filter(|r| r.flags.eq_ignore_ascii_case("s") && r.service.eq_ignore_ascii_case(transport.naptr_service()))
        .min_by_key(|r| (r.order, r.preference))
        .map(|r| r.replacement.as_str())
}

/// The servers sessions go to, in the order they take them: the best priority's servers,
/// each repeated in proportion to its weight (weights divided by their greatest common
/// divisor, at most 100 entries; all weights 0 means equal shares). Without servers, none.
pub fn spread(servers: &[Server]) -> Vec<SocketAddr> {
    let Some(best) = servers.iter().map(|s| s.priority).min() else {
        return Vec::new();
    };
    let group: Vec<&Server> = servers.iter().filter(|s| s.priority == best).collect();
    let weights: Vec<u64> = if group.iter().all(|s| s.weight == 0) {
        vec![1; group.len()]
    } else {
        group.iter().map(|s| u64::from(s.weight)).collect()
    };
    let g = weights.iter().copied().filter(|&w| w > 0).fold(0, gcd).max(1);
    let mut shares: Vec<u64> = weights.iter().map(|w| w / g).collect();
    let total: u64 = shares.iter().sum();
    if total > 100 {
        // Scale down, keeping every server with a weight at least once.
        shares = weights
            .iter()
            .map(|&w| if w == 0 { 0 } else { (w * 100 / total.max(1) / g).max(1) })
            .collect();
    }
    // Interleave (a smooth weighted round robin) rather than blocks of one server.
    let mut out = Vec::new();
    let mut credit = vec![0i64; group.len()];
    let sum: i64 = shares.iter().map(|&s| s as i64).sum();
    for _ in 0..sum {
        for (c, &s) in credit.iter_mut().zip(&shares) {
            *c += s as i64;
        }
        let (i, _) = credit
            .iter()
            .enumerate()
            .max_by_key(|&(i, c)| (*c, std::cmp::Reverse(i)))
            .expect("a non-empty group");
        credit[i] -= sum;
        out.push(group[i].addr);
    }
    out
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Resolves targets for one run.
pub struct SipResolver {
    dns: TokioResolver,
    pins: HashMap<String, Vec<IpAddr>>,
}

impl SipResolver {
    /// A resolver asking `server` (the system's resolvers when `None`), with `pins`
    /// (`--resolve NAME:IP`, names without a trailing dot, any case).
    pub fn new(server: Option<SocketAddr>, pins: &[(String, IpAddr)]) -> Result<SipResolver> {
        let dns = match server {
            Some(s) => TokioResolver::builder_with_config(
                ResolverConfig::from_parts(
                    None,
                    vec![],
                    NameServerConfigGroup::from_ips_clear(&[s.ip()], s.port(), true),
                ),
                TokioConnectionProvider::default(),
            )
            .build(),
            None => TokioResolver::builder_tokio()
                .context("reading the system's resolver configuration (give --dns-server)")?
                .build(),
        };
        let mut map: HashMap<String, Vec<IpAddr>> = HashMap::new();
        for (name, ip) in pins {
            map.entry(name.trim_end_matches('.').to_ascii_lowercase())
                .or_default()
                .push(*ip);
        }
        Ok(SipResolver { dns, pins: map })
    }

    /// The servers of `target` for `transport`: an IP address with a port as is, a host with a
    /// port through A/AAAA, a bare domain through RFC 3263.
    pub async fn servers(&self, target: &str, transport: Transport) -> Result<Vec<Server>> {
        if let Ok(addr) = target.parse::<SocketAddr>() {
            return Ok(vec![server(addr, &addr.ip().to_string(), 0, 0, "literal")]);
        }
        if let Some((host, port)) = target.rsplit_once(':')
            && let Ok(port) = port.parse::<u16>()
        {
            let (ips, via) = self.addresses(host).await?;
            return Ok(ips
                .into_iter()
                .map(|ip| server(SocketAddr::new(ip, port), host, 0, 0, via))
                .collect());
        }
        let domain = target.trim_end_matches('.');
        if domain.is_empty() || domain.contains(['/', ' ', '@']) {
            bail!("{target}: not a host:port or a SIP domain");
        }
        if self.pins.contains_key(&domain.to_ascii_lowercase()) {
            let (ips, via) = self.addresses(domain).await?;
            let port = transport.default_port();
            return Ok(ips
                .into_iter()
                .map(|ip| server(SocketAddr::new(ip, port), domain, 0, 0, via))
                .collect());
        }
        // NAPTR, then SRV.
        let naptrs = self.naptr(domain).await?;
        let (srv_name, via) = match pick_naptr(&naptrs, transport) {
            Some(name) => (name.trim_end_matches('.').to_owned(), "naptr"),
            None => (format!("{}.{domain}", transport.srv_prefix()), "srv"),
        };
        let srvs = self.srv(&srv_name).await?;
        if srvs.is_empty() {
            if via == "naptr" {
                bail!("{domain}: NAPTR names {srv_name}, which has no SRV records");
            }
            let (ips, via) = self.addresses(domain).await?;
            let port = transport.default_port();
            return Ok(ips
                .into_iter()
                .map(|ip| {
                    server(
                        SocketAddr::new(ip, port),
                        domain,
                        0,
                        0,
                        if via == "pinned" { via } else { "a" },
                    )
                })
                .collect());
        }
        let mut out = Vec::new();
        for (priority, weight, port, host) in srvs {
            let (ips, _) = self
                .addresses(&host)
                .await
                .with_context(|| format!("{domain}: SRV {srv_name} names {host}"))?;
            out.extend(
                ips.into_iter()
                    .map(|ip| server(SocketAddr::new(ip, port), &host, priority, weight, via)),
            );
        }
        out.sort_by_key(|s| (s.priority, std::cmp::Reverse(s.weight)));
        Ok(out)
    }

    async fn naptr(&self, domain: &str) -> Result<Vec<Naptr>> {
        match self.dns.lookup(format!("{domain}."), RecordType::NAPTR).await {
            Ok(l) => Ok(l
                .iter()
                .filter_map(|r| match r {
                    RData::NAPTR(n) => Some(Naptr {
                        order: n.order(),
                        preference: n.preference(),
                        flags: String::from_utf8_lossy(n.flags()).into_owned(),
                        service: String::from_utf8_lossy(n.services()).into_owned(),
                        replacement: n.replacement().to_ascii(),
                    }),
                    _ => None,
                })
                .collect()),
            Err(e) if e.is_no_records_found() => Ok(Vec::new()),
            // RFC 3263 §4.1: no usable NAPTR answer means SRV next; a server that refuses NAPTR
            // queries is treated like one without NAPTR records.
            Err(e) => {
                tracing::debug!(%domain, error = %e, "NAPTR lookup failed; trying SRV");
                Ok(Vec::new())
            }
        }
    }

    /// (priority, weight, port, target) of each SRV record of `name`.
    async fn srv(&self, name: &str) -> Result<Vec<(u16, u16, u16, String)>> {
        match self.dns.srv_lookup(format!("{name}.")).await {
            Ok(l) => Ok(l
                .iter()
                .map(|s| {
                    (
                        s.priority(),
                        s.weight(),
                        s.port(),
                        s.target().to_ascii().trim_end_matches('.').to_owned(),
                    )
                })
                .collect()),
            Err(e) if e.is_no_records_found() => Ok(Vec::new()),
            // As for NAPTR: no usable SRV answer means A/AAAA next.
            Err(e) => {
                tracing::debug!(%name, error = %e, "SRV lookup failed; trying A/AAAA");
                Ok(Vec::new())
            }
        }
    }

    /// A host's addresses: pinned, an IP literal, or A/AAAA.
    async fn addresses(&self, host: &str) -> Result<(Vec<IpAddr>, &'static str)> {
        let host = host.trim_matches(['[', ']']);
        if let Some(ips) = self.pins.get(&host.trim_end_matches('.').to_ascii_lowercase()) {
            return Ok((ips.clone(), "pinned"));
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok((vec![ip], "literal"));
        }
        let name = if host.ends_with('.') {
            host.to_owned()
        } else {
            format!("{host}.")
        };
        let ips: Vec<IpAddr> = self
            .dns
            .lookup_ip(name)
            .await
            .with_context(|| format!("{host}: A/AAAA lookup"))?
            .iter()
            .collect();
        if ips.is_empty() {
            bail!("{host}: no A or AAAA records");
        }
        Ok((ips, "a"))
    }
}

fn server(addr: SocketAddr, host: &str, priority: u16, weight: u16, via: &str) -> Server {
    Server {
        addr,
        host: host.trim_end_matches('.').to_owned(),
        priority,
        weight,
        via: via.to_owned(),
    }
}

/// Parses `--resolve NAME:IP` (an IPv6 address may be bracketed).
pub fn parse_pin(s: &str) -> Result<(String, IpAddr), String> {
    let (name, ip) = s
        .split_once(':')
        .ok_or_else(|| format!("`{s}`: expected NAME:IP, e.g. sip.example.test:127.0.0.1"))?;
    let ip: IpAddr = ip
        .trim_matches(['[', ']'])
        .parse()
        .map_err(|_| format!("`{s}`: `{ip}` is not an IP address"))?;
    if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '/') {
        return Err(format!("`{s}`: `{name}` is not a host name"));
    }
    Ok((name.to_owned(), ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naptr(order: u16, pref: u16, service: &str, repl: &str) -> Naptr {
        Naptr {
            order,
            preference: pref,
            flags: "s".into(),
            service: service.into(),
            replacement: repl.into(),
        }
    }

    #[test]
    fn naptr_choice_follows_order_then_preference_and_the_transport() {
        let records = [
            naptr(20, 10, "SIPS+D2T", "_sips._tcp.b.test."),
            naptr(10, 50, "SIPS+D2T", "_sips._tcp.a.test."),
            naptr(10, 10, "SIP+D2U", "_sip._udp.a.test."),
            naptr(10, 20, "SIP+D2T", "_sip._tcp.a.test."),
        ];
        assert_eq!(pick_naptr(&records, Transport::Tls), Some("_sips._tcp.a.test."));
        assert_eq!(pick_naptr(&records, Transport::Tcp), Some("_sip._tcp.a.test."));
        let mut a = naptr(1, 1, "SIPS+D2T", "x.");
        a.flags = "a".into();
        assert_eq!(pick_naptr(&[a], Transport::Tls), None);
    }

    fn srv(port: u16, priority: u16, weight: u16) -> Server {
        server(SocketAddr::from(([127, 0, 0, 1], port)), "h", priority, weight, "srv")
    }

    #[test]
    fn spread_follows_the_best_priority_and_the_weights() {
        let s = spread(&[srv(1, 10, 60), srv(2, 10, 20), srv(3, 20, 100)]);
        assert_eq!(s.len(), 4);
        assert_eq!(s.iter().filter(|a| a.port() == 1).count(), 3);
        assert_eq!(s.iter().filter(|a| a.port() == 3).count(), 0);
        // Interleaved, not in blocks.
        assert_ne!(s[..3].iter().map(|a| a.port()).collect::<Vec<_>>(), [1, 1, 1]);
        // Zero weights share equally; a zero weight beside others gets nothing.
        assert_eq!(spread(&[srv(1, 0, 0), srv(2, 0, 0)]).len(), 2);
        let z = spread(&[srv(1, 0, 0), srv(2, 0, 5)]);
        assert!(z.iter().all(|a| a.port() == 2), "{z:?}");
        // Big co-prime weights stay within 100 entries, each server present.
        let big = spread(&[srv(1, 0, 997), srv(2, 0, 991), srv(3, 0, 1)]);
        assert!(big.len() <= 102, "{}", big.len());
        assert!((1..=3).all(|p| big.iter().any(|a| a.port() == p)));
        assert!(spread(&[]).is_empty());
    }

    #[test]
    fn pins_parse() {
        assert_eq!(
            parse_pin("sip.example.test:127.0.0.2").unwrap(),
            ("sip.example.test".into(), "127.0.0.2".parse().unwrap())
        );
        assert_eq!(parse_pin("h:[::1]").unwrap().1, "::1".parse::<IpAddr>().unwrap());
        assert!(parse_pin("nocolon").is_err());
        assert!(parse_pin("h:notanip").is_err());
    }
}
