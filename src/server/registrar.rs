//! In-memory registrar binding store (RFC 3261 §10.3), sharded to keep lock hold times short.
//!
//! Pure: time is passed in as an [`Instant`], so tests drive expiry exactly.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Default binding lifetime when the request names none (RFC 3261 §10.2.1.1 suggests 3600 s).
pub const DEFAULT_EXPIRES: u32 = 3600;
/// Largest lifetime granted.
pub const MAX_EXPIRES: u32 = 86_400;

const SHARDS: usize = 16;

/// One contact bound to an address of record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The contact URI.
    pub contact: String,
    /// When the binding lapses.
    pub expires_at: Instant,
}

/// A contact in a REGISTER request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactSpec {
    /// `Contact: *` (only valid with `Expires: 0`): remove all bindings.
    Wildcard,
    /// A contact URI with its optional `expires` parameter.
    Uri {
        /// The URI, without angle brackets.
        uri: String,
        /// The contact's `expires` parameter.
        expires: Option<u32>,
    },
}

/// Why a REGISTER was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// `Contact: *` with a non-zero expiry, or mixed with other contacts.
    #[error("wildcard contact must stand alone with Expires: 0")]
    BadWildcard,
}

/// The binding store.
#[derive(Debug)]
pub struct Registrar {
    shards: Vec<Mutex<HashMap<String, Vec<Binding>>>>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for Registrar {
    fn default() -> Self {
        Self::new()
    }
}

impl Registrar {
    /// An empty store.
    pub fn new() -> Self {
        Registrar {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: Default::default(),
        }
    }

    fn shard(&self, aor: &str) -> &Mutex<HashMap<String, Vec<Binding>>> {
        &self.shards[(self.hasher.hash_one(aor) as usize) % SHARDS]
    }

    /// Applies a REGISTER for `aor` and returns the bindings now in force with their remaining
    /// seconds. With no contacts this is a query.
    pub fn register(
        &self,
        aor: &str,
        contacts: &[ContactSpec],
        expires_header: Option<u32>,
        now: Instant,
    ) -> Result<Vec<(String, u32)>, RegisterError> {
        let wildcard = contacts.iter().any(|c| matches!(c, ContactSpec::Wildcard));
        if wildcard && (contacts.len() != 1 || expires_header != Some(0)) {
            return Err(RegisterError::BadWildcard);
        }
        let mut map = self.shard(aor).lock().unwrap_or_else(|p| p.into_inner());
        let bindings = map.entry(aor.to_owned()).or_default();
        bindings.retain(|b| b.expires_at > now);
        if wildcard {
            bindings.clear();
        }
        for c in contacts {
            if let ContactSpec::Uri { uri, expires } = c {
                let secs = expires.or(expires_header).unwrap_or(DEFAULT_EXPIRES).min(MAX_EXPIRES);
                bindings.retain(|b| &b.contact != uri);
                if secs > 0 {
                    bindings.push(Binding {
                        contact: uri.clone(),
                        expires_at: now + Duration::from_secs(secs.into()),
                    });
                }
            }
        }
        let current = bindings
            .iter()
            .map(|b| {
                (
                    b.contact.clone(),
                    b.expires_at.saturating_duration_since(now).as_secs() as u32,
                )
            })
            .collect();
        if bindings.is_empty() {
            map.remove(aor);
        }
        Ok(current)
    }

    /// The live bindings of `aor` at `now`.
    pub fn lookup(&self, aor: &str, now: Instant) -> Vec<Binding> {
        let map = self.shard(aor).lock().unwrap_or_else(|p| p.into_inner());
        map.get(aor)
            .map(|v| v.iter().filter(|b| b.expires_at > now).cloned().collect())
            .unwrap_or_default()
    }

    /// Number of addresses of record with at least one binding (expired ones may linger until touched).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    /// True when no address of record is bound.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Extracts the URI from a name-addr or addr-spec header value (`"Bob" <sip:bob@x>;tag=1` gives
/// `sip:bob@x`), and the header parameters after it.
pub fn split_name_addr(value: &str) -> (&str, &str) {
    let v = value.trim();
    if let Some(open) = find_unquoted(v, '<') {
        if let Some(close_rel) = v[open + 1..].find('>') {
            let close = open + 1 + close_rel;
            return (&v[open + 1..close], &v[close + 1..]);
        }
        return (&v[open + 1..], "");
    }
    match v.find(';') {
        Some(i) => (&v[..i], &v[i..]),
        None => (v, ""),
    }
}

fn find_unquoted(s: &str, needle: char) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == needle && !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// Reads a `name=value` parameter from a `;a=b;c=d` parameter string (name case-insensitive).
pub fn param<'a>(params: &'a str, name: &str) -> Option<&'a str> {
    params.split(';').map(str::trim).find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Parses one Contact header value into a [`ContactSpec`].
pub fn parse_contact(value: &str) -> ContactSpec {
    if value.trim() == "*" {
        return ContactSpec::Wildcard;
    }
    let (uri, params) = split_name_addr(value);
    ContactSpec::Uri {
        uri: uri.to_owned(),
        expires: param(params, "expires").and_then(|e| e.parse().ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(u: &str, e: Option<u32>) -> ContactSpec {
        ContactSpec::Uri {
            uri: u.into(),
            expires: e,
        }
    }

    #[test]
    fn binds_refreshes_and_expires() {
        let r = Registrar::new();
        let t0 = Instant::now();
        let got = r
            .register(
                "sip:alice@example.test",
                &[uri("sip:alice@10.0.0.1", None)],
                Some(60),
                t0,
            )
            .unwrap();
        assert_eq!(got, vec![("sip:alice@10.0.0.1".into(), 60)]);
        // A second contact with its own expires parameter.
        let got = r
            .register(
                "sip:alice@example.test",
                &[uri("sip:alice@10.0.0.2", Some(10))],
                Some(60),
                t0,
            )
            .unwrap();
        assert_eq!(got.len(), 2);
        // After 11 s the second has lapsed.
        assert_eq!(
            r.lookup("sip:alice@example.test", t0 + Duration::from_secs(11)).len(),
            1
        );
        // After 61 s nothing remains; a query returns nothing.
        let got = r
            .register("sip:alice@example.test", &[], None, t0 + Duration::from_secs(61))
            .unwrap();
        assert!(got.is_empty());
        assert!(r.is_empty());
    }

    #[test]
    fn expires_zero_and_wildcard_remove() {
        let r = Registrar::new();
        let t0 = Instant::now();
        r.register("sip:bob@x", &[uri("sip:b1@h", None), uri("sip:b2@h", None)], None, t0)
            .unwrap();
        let got = r.register("sip:bob@x", &[uri("sip:b1@h", Some(0))], None, t0).unwrap();
        assert_eq!(got, vec![("sip:b2@h".into(), DEFAULT_EXPIRES)]);
        assert_eq!(
            r.register("sip:bob@x", &[ContactSpec::Wildcard], Some(3600), t0),
            Err(RegisterError::BadWildcard)
        );
        assert!(
            r.register("sip:bob@x", &[ContactSpec::Wildcard], Some(0), t0)
                .unwrap()
                .is_empty()
        );
        assert!(r.lookup("sip:bob@x", t0).is_empty());
    }

    #[test]
    fn parses_name_addr_and_contact() {
        assert_eq!(split_name_addr("\"A <b>\" <sip:a@x>;tag=1"), ("sip:a@x", ";tag=1"));
        assert_eq!(split_name_addr("sip:a@x;tag=1"), ("sip:a@x", ";tag=1"));
        assert_eq!(
            parse_contact("<sip:c@h:5061;transport=tls>;expires=30"),
            uri("sip:c@h:5061;transport=tls", Some(30))
        );
        assert_eq!(parse_contact(" * "), ContactSpec::Wildcard);
        assert_eq!(param(";tag=abc;Expires=5", "expires"), Some("5"));
    }
}
