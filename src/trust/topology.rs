//! The topology file: the CAs a deployment trusts (with their CRLs and the domains each may vouch
//! for) and the servers it trusts for server-to-server MTLS.
//!
//! ```toml
//! revocation = "crl"      # or "off"
//! crl_expiry = "ignore"   # or "enforce"
//!
//! [[ca]]
//! name = "enterprise"
//! cert = "enterprise-ca.pem"   # paths are relative to the topology file; every certificate
//!                              # of the file is a CA of this entry (a root, its issuing CAs);
//!                              # "system": the operating system's roots (SSL_CERT_FILE or the
//!                              # distribution's bundle), for partners with public-CA
//!                              # certificates; such an entry takes no CRL (none is fetched)
//! crl = "enterprise-ca.crl"    # or a list; each CRL must be signed by a CA of the entry
//! domains = ["example.test"]   # empty or absent: any name
//! addresses = ["127.0.0.0/8"]  # IP names it may vouch for; a CA with domains and no
//!                              # addresses vouches for no IP name
//!
//! [[server]]
//! fqdn = "edge.example.test"
//! role = "edge"                # front-end, edge or partner-edge
//! ca = "enterprise"            # the CA that must have issued its certificate
//! ```
//!
//! Parsing is pure ([`TopologyFile::parse`]); [`TopologyFile::resolve`] reads the files it names.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Whether certificates are checked against CRLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevocationMode {
    /// Every CA must have a CRL; certificates are checked against it.
    #[default]
    Crl,
    /// No revocation checking.
    Off,
}

/// What happens when a CRL is past its `nextUpdate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CrlExpiry {
    /// The CRL is still used.
    #[default]
    Ignore,
    /// Verification fails (`expired-revocation-list`).
    Enforce,
}

/// A trusted server's role in the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerRole {
    /// A front-end (registrar/proxy) of this deployment.
    FrontEnd,
    /// An edge server of this deployment.
    Edge,
    /// A federated partner's edge.
    PartnerEdge,
}

impl ServerRole {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerRole::FrontEnd => "front-end",
            ServerRole::Edge => "edge",
            ServerRole::PartnerEdge => "partner-edge",
        }
    }
}

/// The `cert` of a `[[ca]]` entry that stands for the operating system's roots.
pub const SYSTEM: &str = "system";

/// One `[[ca]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaEntry {
    /// The name servers refer to.
    pub name: String,
    /// The CA certificates (PEM: a root, issuing CAs, or both), relative to the topology file.
    pub cert: PathBuf,
    /// Its CRLs (PEM or DER files, one path or a list); required when `revocation = "crl"`.
    #[serde(default, deserialize_with = "one_or_many")]
    pub crl: Vec<PathBuf>,
    /// The names this CA may vouch for: each domain and every name below it. Empty: any name.
    #[serde(default)]
    pub domains: Vec<String>,
    /// The IP addresses it may vouch for (`127.0.0.0/8`, `::1/128`, `192.0.2.7`). Empty: none
    /// when `domains` is set, any otherwise.
    #[serde(default)]
    pub addresses: Vec<String>,
}

impl CaEntry {
    /// Whether the entry is the operating system's roots (`cert = "system"`).
    pub fn is_system(&self) -> bool {
        self.cert.as_os_str() == SYSTEM
    }

    /// The address ranges (checked by [`TopologyFile::parse`]; unparseable ones are skipped).
    pub fn address_ranges(&self) -> Vec<IpRange> {
        self.addresses.iter().filter_map(|a| a.parse().ok()).collect()
    }
}

/// A path or a list of paths.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(PathBuf),
        Many(Vec<PathBuf>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(p) => vec![p],
        OneOrMany::Many(v) => v,
    })
}

/// An IP address range: an address and a prefix length (`10.0.0.0/8`, `::1/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    addr: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// Whether `ip` is inside the range (an IPv4 address is never inside an IPv6 range).
    pub fn contains(&self, ip: &IpAddr) -> bool {
        let bits = |a: &IpAddr| -> u128 {
            match a {
                IpAddr::V4(v4) => u128::from(u32::from(*v4)) << 96,
                IpAddr::V6(v6) => u128::from(*v6),
            }
        };
        if self.addr.is_ipv4() != ip.is_ipv4() {
            return false;
        }
        // Both families sit in the top bits, so a prefix counts from the top either way.
        let prefix = u32::from(self.prefix);
        let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - prefix) };
        bits(&self.addr) & mask == bits(ip) & mask
    }
}

impl std::fmt::Display for IpRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl std::str::FromStr for IpRange {
    type Err = String;

    fn from_str(s: &str) -> Result<IpRange, String> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{s}` is not an address range (write 10.0.0.0/8, ::1/128 or 192.0.2.7)"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}`: the prefix length must be 0 to {max}"))?,
        };
        Ok(IpRange { addr, prefix })
    }
}

/// One `[[server]]` entry: a trusted server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerEntry {
    /// Its fully qualified domain name, which its certificate must carry.
    pub fqdn: String,
    /// Its role.
    pub role: ServerRole,
    /// The `[[ca]]` that must have issued its certificate.
    pub ca: String,
}

/// The topology file as written.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyFile {
    /// Revocation checking.
    #[serde(default)]
    pub revocation: RevocationMode,
    /// CRL expiry policy.
    #[serde(default)]
    pub crl_expiry: CrlExpiry,
    /// Trusted CAs.
    #[serde(default)]
    pub ca: Vec<CaEntry>,
    /// Trusted servers.
    #[serde(default)]
    pub server: Vec<ServerEntry>,
}

/// A topology file that does not make sense; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TopologyError(pub String);

impl TopologyFile {
    /// Parses and checks a topology file's text.
    pub fn parse(text: &str) -> Result<TopologyFile, TopologyError> {
        let file: TopologyFile = toml::from_str(text).map_err(|e| TopologyError(e.to_string().trim().to_owned()))?;
        file.check()?;
        Ok(file)
    }

    fn check(&self) -> Result<(), TopologyError> {
        let err = |s: String| Err(TopologyError(s));
        if self.ca.is_empty() {
            return err("ca: at least one [[ca]] is needed".into());
        }
        for (i, ca) in self.ca.iter().enumerate() {
            if ca.name.trim().is_empty() {
                return err(format!("ca[{i}].name: must not be empty"));
            }
            if self.ca[..i].iter().any(|c| c.name == ca.name) {
                return err(format!("ca[{i}].name: `{}` is listed twice", ca.name));
            }
            if ca.is_system() && !ca.crl.is_empty() {
                return err(format!(
                    "ca[{i}].crl: CA `{}` is the system's roots (cert = \"system\"), which take no CRL",
                    ca.name
                ));
            }
            if self.revocation == RevocationMode::Crl && ca.crl.is_empty() && !ca.is_system() {
                return err(format!(
                    "ca[{i}].crl: CA `{}` has no CRL but revocation = \"crl\" (give its CRL, or set revocation = \"off\")",
                    ca.name
                ));
            }
            for (j, d) in ca.domains.iter().enumerate() {
                if normalize(d).is_empty() || d.contains(['*', ' ']) {
                    return err(format!(
                        "ca[{i}].domains[{j}]: `{d}` is not a domain (write `example.test`, not `*.example.test`)"
                    ));
                }
            }
            for (j, a) in ca.addresses.iter().enumerate() {
                if let Err(e) = a.parse::<IpRange>() {
                    return err(format!("ca[{i}].addresses[{j}]: {e}"));
                }
            }
        }
        for (i, s) in self.server.iter().enumerate() {
            if normalize(&s.fqdn).is_empty() {
                return err(format!("server[{i}].fqdn: must not be empty"));
            }
            if self.server[..i]
                .iter()
                .any(|o| normalize(&o.fqdn) == normalize(&s.fqdn))
            {
                return err(format!("server[{i}].fqdn: `{}` is listed twice", s.fqdn));
            }
            let Some(ca) = self.ca.iter().find(|c| c.name == s.ca) else {
                let have: Vec<&str> = self.ca.iter().map(|c| c.name.as_str()).collect();
                return err(format!(
                    "server[{i}].ca: no [[ca]] named `{}` (have {})",
                    s.ca,
                    have.join(", ")
                ));
            };
            if !in_domains(&s.fqdn, &ca.domains) {
                return err(format!(
                    "server[{i}].fqdn: `{}` is outside the domains of CA `{}` ({})",
                    s.fqdn,
                    ca.name,
                    ca.domains.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The file's CA paths made absolute against `base` (the topology file's directory).
    pub fn resolve(mut self, base: &Path) -> TopologyFile {
        for ca in &mut self.ca {
            if ca.is_system() {
                continue;
            }
            ca.cert = base.join(&ca.cert);
            ca.crl = ca.crl.iter().map(|p| base.join(p)).collect();
        }
        self
    }

    /// The trusted server named `name` that `ca` may have issued, if any.
    pub fn server(&self, name: &str, ca: &str) -> Option<&ServerEntry> {
        let name = normalize(name);
        self.server.iter().find(|s| normalize(&s.fqdn) == name && s.ca == ca)
    }
}

/// Lower case, without a trailing dot.
pub fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Whether `name` is one of `domains` or below one of them (always, when `domains` is empty).
pub fn in_domains(name: &str, domains: &[String]) -> bool {
    if domains.is_empty() {
        return true;
    }
    let name = normalize(name);
    domains.iter().any(|d| {
        let d = normalize(d);
        name == d || name.strip_suffix(d.as_str()).is_some_and(|head| head.ends_with('.'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
revocation = "crl"
[[ca]]
name = "enterprise"
cert = "e.pem"
crl = "e.crl"
domains = ["example.test"]
[[ca]]
name = "partner"
cert = "p.pem"
crl = "p.crl"
domains = ["partner.example.test"]
[[server]]
fqdn = "edge.example.test"
role = "edge"
ca = "enterprise"
[[server]]
fqdn = "sip.partner.example.test."
role = "partner-edge"
ca = "partner"
"#;

    #[test]
    fn parses_and_looks_up_servers() {
        let t = TopologyFile::parse(GOOD).unwrap();
        assert_eq!(
            t.server("EDGE.example.test", "enterprise").unwrap().role,
            ServerRole::Edge
        );
        assert!(t.server("edge.example.test", "partner").is_none());
        assert!(t.server("sip.partner.example.test", "partner").is_some());
        assert!(t.server("rogue.example.test", "enterprise").is_none());
        let r = t.resolve(Path::new("/pki"));
        assert_eq!(r.ca[0].cert, Path::new("/pki/e.pem"));
    }

    #[test]
    fn domains_match_the_name_and_below() {
        let d = vec!["partner.example.test".to_owned()];
        assert!(in_domains("partner.example.test", &d));
        assert!(in_domains("sip.Partner.example.test.", &d));
        assert!(!in_domains("edge.example.test", &d));
        assert!(!in_domains("evilpartner.example.test", &d));
        assert!(in_domains("anything", &[]));
    }

    #[test]
    fn errors_name_the_field() {
        let e = |t: &str| TopologyFile::parse(t).unwrap_err().0;
        assert!(e(&GOOD.replace("crl = \"p.crl\"\n", "")).starts_with("ca[1].crl:"));
        assert!(
            TopologyFile::parse(
                &GOOD
                    .replace("revocation = \"crl\"", "revocation = \"off\"")
                    .replace("crl = \"p.crl\"\n", "")
            )
            .is_ok()
        );
        assert!(
            e(&GOOD.replace("ca = \"partner\"", "ca = \"nobody\""))
                .starts_with("server[1].ca: no [[ca]] named `nobody`")
        );
        assert!(e(&GOOD.replace("role = \"edge\"", "role = \"boss\"")).contains("role"));
        assert!(
            e(&GOOD.replace("fqdn = \"edge.example.test\"", "fqdn = \"edge.other.test\""))
                .starts_with("server[0].fqdn:")
        );
        assert!(e(&GOOD.replace("[\"example.test\"]", "[\"*.example.test\"]")).starts_with("ca[0].domains[0]:"));
        assert!(e(&format!("{GOOD}\nsurprise = 1\n")).contains("surprise"));
        assert!(e("revocation = \"crl\"").starts_with("ca:"));
        assert!(
            e(&GOOD.replace(
                "domains = [\"example.test\"]",
                "domains = [\"example.test\"]\naddresses = [\"10.0.0.0/33\"]"
            ))
            .starts_with("ca[0].addresses[0]:")
        );
    }

    #[test]
    fn crls_are_one_path_or_a_list_and_addresses_ranges() {
        let t = TopologyFile::parse(&GOOD.replace(
            "crl = \"e.crl\"",
            "crl = [\"root.crl\", \"issuing.crl\"]\naddresses = [\"127.0.0.0/8\", \"::1\"]",
        ))
        .unwrap();
        assert_eq!(t.ca[0].crl, [Path::new("root.crl"), Path::new("issuing.crl")]);
        assert_eq!(t.ca[1].crl, [Path::new("p.crl")]);
        let r = t.ca[0].address_ranges();
        assert!(r[0].contains(&"127.1.2.3".parse().unwrap()));
        assert!(!r[0].contains(&"128.0.0.1".parse().unwrap()));
        assert!(!r[0].contains(&"::1".parse().unwrap()));
        assert!(r[1].contains(&"::1".parse().unwrap()));
        assert!(!r[1].contains(&"::2".parse().unwrap()));
        assert!(
            "0.0.0.0/0"
                .parse::<IpRange>()
                .unwrap()
                .contains(&"192.0.2.1".parse().unwrap())
        );
    }
}
