//! In-memory registrar binding store (RFC 3261 §10.3), sharded to keep lock hold times short.
//!
//! Pure: time is passed in as an [`Instant`], so tests drive expiry exactly.
//!
//! The store is bounded ([`Limits`]): at most `max_contacts` bindings per address of record, at
//! most `max_records` addresses of record, and no binding longer than `max_expires`. Within an
//! address of record the bindings are keyed by contact URI, so a REGISTER costs O(1) per
//! contact, and a 200 OK lists at most `max_contacts` bindings. Expired bindings are dropped
//! when their address of record is touched and by [`Registrar::sweep`], which the server runs
//! on a timer one shard at a time.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Default binding lifetime when the request names none (RFC 3261 §10.2.1.1 suggests 3600 s).
pub const DEFAULT_EXPIRES: u32 = 3600;
/// Default for [`Limits::max_expires`]: the generator registers with `Expires: 3600`.
pub const DEFAULT_MAX_EXPIRES: u32 = 3600;
/// Default for [`Limits::max_contacts`].
pub const DEFAULT_MAX_CONTACTS: usize = 16;
/// Default for [`Limits::max_records`]: well above the 15,000 sessions of the soak, each of
/// which registers its own user.
pub const DEFAULT_MAX_RECORDS: usize = 100_000;
/// The `Retry-After` of a 503 answered when the records cap is reached, in seconds.
pub const RETRY_AFTER_SECS: u32 = 60;
/// Shards of the store; [`Registrar::sweep`] visits one per call.
pub const SHARDS: usize = 16;
/// Requests with up to this many contacts look for repeated URIs pairwise.
const PAIRWISE: usize = 8;
/// How often the server sweeps one shard: every shard is swept once every
/// `SHARDS * SWEEP_INTERVAL` (8 s).
pub const SWEEP_INTERVAL: Duration = Duration::from_millis(500);

/// The registrar's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bindings one address of record may hold; a REGISTER that would leave more (or that
    /// lists more contacts than this) is refused with 403.
    pub max_contacts: usize,
    /// Most addresses of record with bindings; a REGISTER that would add another is refused
    /// with 503 and a `Retry-After`.
    pub max_records: usize,
    /// Longest binding granted, in seconds; a longer `Expires` is lowered to this and the
    /// 200 OK says so (RFC 3261 §10.3 step 7).
    pub max_expires: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_contacts: DEFAULT_MAX_CONTACTS,
            max_records: DEFAULT_MAX_RECORDS,
            max_expires: DEFAULT_MAX_EXPIRES,
        }
    }
}

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
    /// The request would leave the address of record with more than `max` bindings, or lists
    /// more than `max` contacts.
    #[error("more than {max} contacts for one address of record")]
    TooManyContacts {
        /// [`Limits::max_contacts`].
        max: usize,
    },
    /// The request would add an address of record beyond `max`.
    #[error("registrar full ({max} addresses of record)")]
    RecordsFull {
        /// [`Limits::max_records`].
        max: usize,
    },
}

impl RegisterError {
    /// The SIP status the refusal is answered with.
    ///
    /// RFC 3261 names no status for a registrar's bounds, so:
    /// - a bad wildcard is a malformed request: 400 Bad Request (§10.3 step 6);
    /// - too many contacts is 403 Forbidden: the request asks for more than policy allows and,
    ///   as §21.4.3 says of 403, should not be repeated as it is; authorization will not help.
    ///   (Kamailio answers 503 here, which invites the client to retry the same request, or
    ///   another server, and meet the same bound.)
    /// - a full registrar is 503 Service Unavailable with a `Retry-After`: the condition is the
    ///   server's and temporary, as bindings expire (§21.5.4).
    pub fn status(&self) -> u16 {
        match self {
            RegisterError::BadWildcard => 400,
            RegisterError::TooManyContacts { .. } => 403,
            RegisterError::RecordsFull { .. } => 503,
        }
    }

    /// Stable key of the refusal in [`RegistrarCounters::refused`], `None` for a malformed
    /// request.
    pub fn key(&self) -> Option<&'static str> {
        match self {
            RegisterError::BadWildcard => None,
            RegisterError::TooManyContacts { .. } => Some("too-many-contacts"),
            RegisterError::RecordsFull { .. } => Some("records-full"),
        }
    }
}

/// The registrar's live counters, shared with the server's counters.
#[derive(Debug, Default)]
pub struct RegistrarCounters {
    records: AtomicUsize,
    too_many_contacts: AtomicU64,
    records_full: AtomicU64,
}

impl RegistrarCounters {
    /// Addresses of record now held (with bindings not yet swept).
    pub fn records(&self) -> usize {
        self.records.load(Ordering::Relaxed)
    }

    /// Refused REGISTERs by [`RegisterError::key`]; only kinds that happened appear.
    pub fn refused(&self) -> BTreeMap<String, u64> {
        [
            ("too-many-contacts", &self.too_many_contacts),
            ("records-full", &self.records_full),
        ]
        .into_iter()
        .map(|(k, a)| (k.to_owned(), a.load(Ordering::Relaxed)))
        .filter(|(_, n)| *n > 0)
        .collect()
    }

    fn refuse(&self, e: RegisterError) -> RegisterError {
        match e {
            RegisterError::TooManyContacts { .. } => &self.too_many_contacts,
            RegisterError::RecordsFull { .. } => &self.records_full,
            RegisterError::BadWildcard => return e,
        }
        .fetch_add(1, Ordering::Relaxed);
        e
    }
}

/// The bindings of one address of record, keyed by contact URI. With the registrar's own
/// random keys, so that contact URIs chosen to collide cannot slow a lookup.
type Record = HashMap<String, Instant, RandomState>;

/// The binding store.
#[derive(Debug)]
pub struct Registrar {
    shards: Vec<Mutex<HashMap<String, Record>>>,
    hasher: RandomState,
    limits: Limits,
    counters: Arc<RegistrarCounters>,
    sweep_next: AtomicUsize,
}

impl Default for Registrar {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl Registrar {
    /// An empty store with these bounds.
    pub fn new(limits: Limits) -> Self {
        Registrar {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
            limits,
            counters: Arc::default(),
            sweep_next: AtomicUsize::new(0),
        }
    }

    /// The bounds.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The live counters.
    pub fn counters(&self) -> &Arc<RegistrarCounters> {
        &self.counters
    }

    fn shard(&self, aor: &str) -> &Mutex<HashMap<String, Record>> {
        &self.shards[(self.hasher.hash_one(aor) as usize) % SHARDS]
    }

    /// Applies a REGISTER for `aor` and returns the bindings now in force with their remaining
    /// seconds (at most [`Limits::max_contacts`] of them). With no contacts this is a query.
    /// The request is applied whole or not at all: a refused one changes nothing.
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
        let max_contacts = self.limits.max_contacts;
        // No state of the record holds more than `max_contacts` bindings, so a request listing
        // more is refused before it costs anything.
        if contacts.len() > max_contacts {
            return Err(self
                .counters
                .refuse(RegisterError::TooManyContacts { max: max_contacts }));
        }
        let grant = |expires: Option<u32>| {
            expires
                .or(expires_header)
                .unwrap_or(DEFAULT_EXPIRES)
                .min(self.limits.max_expires)
        };
        let mut map = self.shard(aor).lock().unwrap_or_else(|p| p.into_inner());
        let mut record = map.get_mut(aor);
        let live = match record.as_deref_mut() {
            Some(r) => {
                r.retain(|_, at| *at > now);
                r.len()
            }
            None => 0,
        };
        // The bindings the request leaves; for a URI listed twice the last one counts. A few
        // contacts (the usual one) are compared pairwise, without allocating; more go through
        // a map of each URI's last position, so the check stays O(1) a contact.
        let last: Option<HashMap<&str, usize>> = (contacts.len() > PAIRWISE).then(|| {
            contacts
                .iter()
                .enumerate()
                .filter_map(|(i, c)| match c {
                    ContactSpec::Uri { uri, .. } => Some((uri.as_str(), i)),
                    ContactSpec::Wildcard => None,
                })
                .collect()
        });
        let mut after = if wildcard { 0 } else { live };
        for (i, c) in contacts.iter().enumerate() {
            let ContactSpec::Uri { uri, expires } = c else { continue };
            let later = match &last {
                Some(last) => last.get(uri.as_str()).is_some_and(|&j| j > i),
                None => contacts[i + 1..]
                    .iter()
                    .any(|d| matches!(d, ContactSpec::Uri { uri: u, .. } if u == uri)),
            };
            if later {
                continue;
            }
            let present = record.as_deref().is_some_and(|r| r.contains_key(uri));
            match (present, grant(*expires) > 0) {
                (false, true) => after += 1,
                (true, false) => after -= 1,
                _ => {}
            }
        }
        if after > max_contacts && after > live {
            return Err(self
                .counters
                .refuse(RegisterError::TooManyContacts { max: max_contacts }));
        }
        let record = match record {
            Some(r) => r,
            None if after == 0 => return Ok(Vec::new()),
            None => {
                let max = self.limits.max_records;
                if self.counters.records.fetch_add(1, Ordering::Relaxed) >= max {
                    self.counters.records.fetch_sub(1, Ordering::Relaxed);
                    return Err(self.counters.refuse(RegisterError::RecordsFull { max }));
                }
                map.entry(aor.to_owned())
                    .or_insert_with(|| HashMap::with_capacity_and_hasher(1, self.hasher.clone()))
            }
        };
        if wildcard {
            record.clear();
        }
        for c in contacts {
            if let ContactSpec::Uri { uri, expires } = c {
                let secs = grant(*expires);
                if secs == 0 {
                    record.remove(uri);
                } else {
                    let at = now + Duration::from_secs(secs.into());
                    match record.get_mut(uri) {
                        Some(t) => *t = at,
                        None => {
                            record.insert(uri.clone(), at);
                        }
                    }
                }
            }
        }
        let current = record
            .iter()
            .map(|(contact, at)| (contact.clone(), at.saturating_duration_since(now).as_secs() as u32))
            .collect();
        if record.is_empty() {
            map.remove(aor);
            self.counters.records.fetch_sub(1, Ordering::Relaxed);
        }
        Ok(current)
    }

    /// The live bindings of `aor` at `now`.
    pub fn lookup(&self, aor: &str, now: Instant) -> Vec<Binding> {
        let map = self.shard(aor).lock().unwrap_or_else(|p| p.into_inner());
        map.get(aor)
            .map(|r| {
                r.iter()
                    .filter(|(_, at)| **at > now)
                    .map(|(contact, at)| Binding {
                        contact: contact.clone(),
                        expires_at: *at,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// When the binding of `contact` to `aor` lapses, if it is live at `now`: a keyed lookup.
    pub fn binding(&self, aor: &str, contact: &str, now: Instant) -> Option<Instant> {
        let map = self.shard(aor).lock().unwrap_or_else(|p| p.into_inner());
        map.get(aor)?.get(contact).copied().filter(|at| *at > now)
    }

    /// Drops the bindings expired at `now` from the next shard in turn, and the addresses of
    /// record left without one; returns how many bindings went. Bounded work: one shard,
    /// about `1/SHARDS` of the records, under that shard's lock only. [`SHARDS`] calls sweep
    /// the whole store.
    pub fn sweep(&self, now: Instant) -> usize {
        let i = self.sweep_next.fetch_add(1, Ordering::Relaxed) % SHARDS;
        let mut map = self.shards[i].lock().unwrap_or_else(|p| p.into_inner());
        let mut removed = 0;
        let before = map.len();
        map.retain(|_, r| {
            let n = r.len();
            r.retain(|_, at| *at > now);
            removed += n - r.len();
            !r.is_empty()
        });
        self.counters.records.fetch_sub(before - map.len(), Ordering::Relaxed);
        removed
    }

    /// Number of addresses of record held (expired ones may linger until touched or swept).
    pub fn len(&self) -> usize {
        self.counters.records()
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
        let r = Registrar::default();
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
        let r = Registrar::default();
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

    fn limits(max_contacts: usize, max_records: usize, max_expires: u32) -> Limits {
        Limits {
            max_contacts,
            max_records,
            max_expires,
        }
    }

    fn contacts(n: usize, prefix: &str) -> Vec<ContactSpec> {
        (0..n).map(|i| uri(&format!("sip:{prefix}{i}@h"), None)).collect()
    }

    #[test]
    fn max_contacts_enforced_and_refusal_changes_nothing() {
        let r = Registrar::new(limits(4, 100, 3600));
        let t0 = Instant::now();
        assert_eq!(r.register("sip:a@x", &contacts(3, "c"), None, t0).unwrap().len(), 3);
        // One more fits; two more would make five.
        assert_eq!(
            r.register("sip:a@x", &contacts(2, "d"), None, t0),
            Err(RegisterError::TooManyContacts { max: 4 })
        );
        assert_eq!(r.lookup("sip:a@x", t0).len(), 3, "a refused request changes nothing");
        assert_eq!(r.register("sip:a@x", &contacts(1, "d"), None, t0).unwrap().len(), 4);
        // Refreshing bound contacts, or swapping one for another, stays within the bound.
        assert_eq!(r.register("sip:a@x", &contacts(3, "c"), None, t0).unwrap().len(), 4);
        let swap = [uri("sip:c0@h", Some(0)), uri("sip:e0@h", None)];
        let got = r.register("sip:a@x", &swap, None, t0).unwrap();
        assert_eq!(got.len(), 4);
        assert!(got.iter().any(|(c, _)| c == "sip:e0@h") && !got.iter().any(|(c, _)| c == "sip:c0@h"));
        // A request listing more contacts than the bound is refused outright.
        let e = r.register("sip:b@x", &contacts(1500, "f"), None, t0).unwrap_err();
        assert_eq!(e, RegisterError::TooManyContacts { max: 4 });
        assert_eq!(e.status(), 403);
        // Expired bindings make room.
        let later = t0 + Duration::from_secs(3601);
        assert_eq!(r.register("sip:a@x", &contacts(4, "g"), None, later).unwrap().len(), 4);
        assert_eq!(r.counters().refused().get("too-many-contacts"), Some(&2));
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn records_cap_refuses_new_addresses_only() {
        let r = Registrar::new(limits(4, 3, 3600));
        let t0 = Instant::now();
        for i in 0..3 {
            r.register(&format!("sip:u{i}@x"), &contacts(1, "c"), None, t0).unwrap();
        }
        let e = r.register("sip:u3@x", &contacts(1, "c"), None, t0).unwrap_err();
        assert_eq!(e, RegisterError::RecordsFull { max: 3 });
        assert_eq!(e.status(), 503);
        assert_eq!(r.len(), 3);
        // Known addresses still refresh and add contacts; a query of an unknown one is no record.
        assert_eq!(r.register("sip:u0@x", &contacts(2, "c"), None, t0).unwrap().len(), 2);
        assert!(r.register("sip:u9@x", &[], None, t0).unwrap().is_empty());
        // Unregistering frees a record.
        r.register("sip:u1@x", &[ContactSpec::Wildcard], Some(0), t0).unwrap();
        assert_eq!(r.len(), 2);
        r.register("sip:u3@x", &contacts(1, "c"), None, t0).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r.counters().refused(), BTreeMap::from([("records-full".to_owned(), 1)]));
    }

    #[test]
    fn expires_capped_and_reported() {
        let r = Registrar::new(limits(4, 10, 600));
        let t0 = Instant::now();
        let got = r
            .register("sip:a@x", &[uri("sip:a@h", None)], Some(86_400), t0)
            .unwrap();
        assert_eq!(got, vec![("sip:a@h".into(), 600)]);
        let got = r
            .register("sip:a@x", &[uri("sip:a@h", Some(7200))], Some(30), t0)
            .unwrap();
        assert_eq!(got, vec![("sip:a@h".into(), 600)]);
        // No Expires at all: the default, capped too.
        let got = r.register("sip:b@x", &[uri("sip:b@h", None)], None, t0).unwrap();
        assert_eq!(got, vec![("sip:b@h".into(), 600)]);
        // A shorter one is kept as asked.
        let got = r.register("sip:a@x", &[uri("sip:a@h", Some(20))], None, t0).unwrap();
        assert_eq!(got, vec![("sip:a@h".into(), 20)]);
    }

    #[test]
    fn sweep_removes_expired_bindings_and_records() {
        let r = Registrar::default();
        let t0 = Instant::now();
        for i in 0..100 {
            let e = if i % 2 == 0 { 10 } else { 100 };
            r.register(&format!("sip:u{i}@x"), &[uri("sip:c@h", Some(e))], None, t0)
                .unwrap();
        }
        r.register("sip:u1@x", &[uri("sip:d@h", Some(10))], None, t0).unwrap();
        assert_eq!(r.len(), 100);
        let later = t0 + Duration::from_secs(11);
        let removed: usize = (0..SHARDS).map(|_| r.sweep(later)).sum();
        assert_eq!(removed, 51);
        assert_eq!(
            r.len(),
            50,
            "records with no binding left are gone without being touched"
        );
        assert_eq!(r.lookup("sip:u1@x", later).len(), 1);
        let removed: usize = (0..SHARDS).map(|_| r.sweep(t0 + Duration::from_secs(101))).sum();
        assert_eq!(removed, 50);
        assert!(r.is_empty());
    }

    #[test]
    fn reregister_replaces_and_lookup_is_keyed() {
        let r = Registrar::default();
        let t0 = Instant::now();
        r.register("sip:a@x", &[uri("sip:a@h", Some(60))], None, t0).unwrap();
        let t1 = t0 + Duration::from_secs(30);
        let got = r.register("sip:a@x", &[uri("sip:a@h", Some(60))], None, t1).unwrap();
        assert_eq!(got, vec![("sip:a@h".into(), 60)], "replaced, not duplicated");
        assert_eq!(r.binding("sip:a@x", "sip:a@h", t1), Some(t1 + Duration::from_secs(60)));
        assert_eq!(r.binding("sip:a@x", "sip:b@h", t1), None);
        assert_eq!(r.binding("sip:b@x", "sip:a@h", t1), None);
        // The same URI twice in one request binds once, the last one counting.
        let twice = [uri("sip:b@h", Some(10)), uri("sip:b@h", Some(0))];
        assert_eq!(r.register("sip:a@x", &twice, None, t1).unwrap().len(), 1);
        assert_eq!(r.binding("sip:a@x", "sip:b@h", t1), None);
        // Expires: 0 on the header removes the contact and then the record.
        assert!(
            r.register("sip:a@x", &[uri("sip:a@h", None)], Some(0), t1)
                .unwrap()
                .is_empty()
        );
        assert!(r.is_empty());
    }

    #[test]
    fn repeated_uris_count_once_in_large_requests() {
        let r = Registrar::new(limits(12, 10, 3600));
        let t0 = Instant::now();
        // Twelve entries naming six URIs: six bindings, the last entry of each counting.
        let mut cs = contacts(6, "c");
        cs.extend(contacts(6, "c"));
        assert_eq!(r.register("sip:a@x", &cs, None, t0).unwrap().len(), 6);
        cs[11] = uri("sip:c5@h", Some(0));
        assert_eq!(r.register("sip:a@x", &cs, None, t0).unwrap().len(), 5);
        // Seven new URIs in twelve entries: twelve bindings, within the bound.
        let mut cs = contacts(7, "d");
        cs.extend(contacts(5, "d"));
        assert_eq!(r.register("sip:a@x", &cs, None, t0).unwrap().len(), 12);
        // One more new URI, listed nine times: refused.
        let cs = vec![uri("sip:e@h", None); 9];
        assert_eq!(
            r.register("sip:a@x", &cs, None, t0),
            Err(RegisterError::TooManyContacts { max: 12 })
        );
        assert_eq!(r.lookup("sip:a@x", t0).len(), 12);
    }

    #[test]
    fn wildcard_removes_all_and_frees_the_record() {
        let r = Registrar::new(limits(16, 1, 3600));
        let t0 = Instant::now();
        r.register("sip:a@x", &contacts(16, "c"), None, t0).unwrap();
        assert_eq!(r.lookup("sip:a@x", t0).len(), 16);
        assert!(
            r.register("sip:a@x", &[ContactSpec::Wildcard], Some(0), t0)
                .unwrap()
                .is_empty()
        );
        assert!(r.is_empty());
        r.register("sip:b@x", &contacts(1, "c"), None, t0).unwrap();
        assert_eq!(r.len(), 1);
    }
}
