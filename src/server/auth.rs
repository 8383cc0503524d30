//! The reference server's digest authentication (`serve --auth FILE`): REGISTER is challenged
//! with 401 (`WWW-Authenticate`), MESSAGE with 407 (`Proxy-Authenticate`), as a registrar and
//! a proxy do; OPTIONS, INVITE, ACK and BYE pass unchallenged. Pure: the caller gives the time.
//!
//! Nonces are stateless ([`NonceIssuer`]): fresh for [`AuthConfig::nonce_lifetime`], then
//! answered with a new challenge carrying `stale=true` (the client's credentials were right and
//! it retries without asking its user). Credentials that are wrong (an unknown user, a wrong
//! response, another realm, a nonce not made here) get a new challenge without `stale`, and
//! are counted as `rejected`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::sip::digest::{Algorithm, Challenge, Credentials, NonceCheck, NonceIssuer};
use crate::sip::{Message, Method, Request};
use crate::users::Users;

/// What `serve --auth` is given.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The users and their passwords.
    pub users: Users,
    /// The realm of the challenges.
    pub realm: String,
    /// The algorithms offered, one challenge header each, the preferred first (RFC 8760 §2.4).
    pub algorithms: Vec<Algorithm>,
    /// How long a nonce is fresh.
    pub nonce_lifetime: Duration,
}

/// Default realm of `serve --auth`.
pub const DEFAULT_REALM: &str = "sipbench";

/// The server's authenticator.
pub struct Auth {
    realm: String,
    algorithms: Vec<Algorithm>,
    passwords: HashMap<String, String>,
    nonces: NonceIssuer,
    epoch: Instant,
    counters: AuthCounters,
}

/// What the authenticator did, for the server's counters.
#[derive(Debug, Default)]
pub struct AuthCounters {
    challenges: AtomicU64,
    stale: AtomicU64,
    rejected: AtomicU64,
    accepted: AtomicU64,
}

/// The verdict on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not challenged, or credentials that verify.
    Pass,
    /// Answer with this status (401 or 407) and these challenge headers (name, value).
    Challenge {
        /// 401 or 407.
        status: u16,
        /// `WWW-Authenticate` or `Proxy-Authenticate`, one per algorithm offered.
        headers: Vec<(&'static str, String)>,
    },
}

impl std::fmt::Debug for Auth {
    // The nonce key stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("realm", &self.realm)
            .field("algorithms", &self.algorithms)
            .field("users", &self.passwords.len())
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// An authenticator for `config`, its nonces' clock starting at `now`.
    pub fn new(config: &AuthConfig, now: Instant) -> Auth {
        Auth {
            realm: config.realm.clone(),
            algorithms: if config.algorithms.is_empty() {
                vec![Algorithm::Md5]
            } else {
                config.algorithms.clone()
            },
            passwords: config.users.passwords(),
            nonces: NonceIssuer::new(config.nonce_lifetime),
            epoch: now,
            counters: AuthCounters::default(),
        }
    }

    /// Decides on `req` at `now`.
    pub fn check(&self, msg: &Message<'_>, req: &Request<'_>, now: Instant) -> Verdict {
        let (status, challenge_name, credentials_name) = match req.method {
            Method::Register => (401, "WWW-Authenticate", "Authorization"),
            Method::Message => (407, "Proxy-Authenticate", "Proxy-Authorization"),
            _ => return Verdict::Pass,
        };
        let at = now.saturating_duration_since(self.epoch);
        let mut stale = false;
        let mut offered = false;
        for value in msg.header_values(credentials_name) {
            offered = true;
            let Ok(c) = Credentials::parse(value) else { continue };
            if c.realm != self.realm || !self.algorithms.contains(&c.algorithm) {
                continue;
            }
            let uri_matches = c.uri == req.uri;
            let Some(password) = self.passwords.get(&c.username) else {
                continue;
            };
            match self.nonces.check(&c.nonce, &self.realm, at) {
                NonceCheck::Forged => continue,
                NonceCheck::Stale => {
                    if uri_matches && c.verify(password, req.method.as_str()) {
                        stale = true;
                    }
                    continue;
                }
                NonceCheck::Fresh => {}
            }
            if uri_matches && c.verify(password, req.method.as_str()) {
                self.counters.accepted.fetch_add(1, Ordering::Relaxed);
                return Verdict::Pass;
            }
        }
        self.counters.challenges.fetch_add(1, Ordering::Relaxed);
        if stale {
            self.counters.stale.fetch_add(1, Ordering::Relaxed);
        } else if offered {
            self.counters.rejected.fetch_add(1, Ordering::Relaxed);
        }
        let nonce = self.nonces.issue(&self.realm, at);
        let headers = self
            .algorithms
            .iter()
            .map(|&algorithm| {
                let ch = Challenge {
                    realm: self.realm.clone(),
                    nonce: nonce.clone(),
                    opaque: None,
                    algorithm,
                    qop_auth: true,
                    stale,
                };
                (challenge_name, ch.to_header())
            })
            .collect();
        Verdict::Challenge { status, headers }
    }

    /// The counters: `challenges` (every 401/407 sent), of them `stale` (right credentials, old
    /// nonce) and `rejected` (wrong credentials), and `accepted` (requests whose credentials
    /// verified).
    pub fn counters(&self) -> BTreeMap<String, u64> {
        let c = &self.counters;
        [
            ("challenges", &c.challenges),
            ("stale", &c.stale),
            ("rejected", &c.rejected),
            ("accepted", &c.accepted),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.load(Ordering::Relaxed)))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(lifetime: u64) -> Auth {
        Auth::new(
            &AuthConfig {
                users: Users::parse("alice,secret\nbob,pw-b,bob-auth\n").unwrap(),
                realm: "example.test".into(),
                algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
                nonce_lifetime: Duration::from_secs(lifetime),
            },
            Instant::now(),
        )
    }

    fn request(method: &str, extra: &str) -> Vec<u8> {
        format!(
            "{method} sip:example.test SIP/2.0\r\nVia: SIP/2.0/TLS h;branch=z9hG4bK1\r\nFrom: <sip:alice@example.test>;tag=1\r\nTo: <sip:alice@example.test>\r\nCall-ID: c\r\nCSeq: 1 {method}\r\n{extra}Content-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    fn verdict(a: &Auth, bytes: &[u8], now: Instant) -> Verdict {
        let msg = Message::parse(bytes).unwrap();
        let Message::Request(req) = &msg else { panic!() };
        a.check(&msg, req, now)
    }

    #[test]
    fn challenges_then_accepts_the_right_answer_and_marks_old_nonces_stale() {
        let a = auth(30);
        let t0 = Instant::now();
        assert_eq!(verdict(&a, &request("OPTIONS", ""), t0), Verdict::Pass);
        let Verdict::Challenge { status, headers } = verdict(&a, &request("REGISTER", ""), t0) else {
            panic!()
        };
        assert_eq!(status, 401);
        assert_eq!(headers.len(), 2);
        assert_eq!(headers[0].0, "WWW-Authenticate");
        let ch = Challenge::pick(headers.iter().map(|h| h.1.as_str())).unwrap();
        assert_eq!(ch.algorithm, Algorithm::Sha256);
        let answer = |user: &str, pw: &str, method: &str, name: &str| {
            format!(
                "{name}: {}\r\n",
                ch.answer(user, pw, method, "sip:example.test", 1, "cn")
            )
        };
        let ok = request("REGISTER", &answer("alice", "secret", "REGISTER", "Authorization"));
        assert_eq!(verdict(&a, &ok, t0), Verdict::Pass);
        // bob authenticates as bob-auth.
        assert_eq!(
            verdict(
                &a,
                &request("REGISTER", &answer("bob-auth", "pw-b", "REGISTER", "Authorization")),
                t0
            ),
            Verdict::Pass
        );
        // Wrong password, unknown user, credentials for another method: challenged again, not stale.
        for bad in [
            answer("alice", "wrong", "REGISTER", "Authorization"),
            answer("mallory", "secret", "REGISTER", "Authorization"),
            answer("alice", "secret", "INVITE", "Authorization"),
        ] {
            let Verdict::Challenge { headers, .. } = verdict(&a, &request("REGISTER", &bad), t0) else {
                panic!()
            };
            assert!(!Challenge::parse(&headers[0].1).unwrap().stale);
        }
        // The same right answer after the nonce's lifetime: stale.
        let Verdict::Challenge { headers, .. } = verdict(&a, &ok, t0 + Duration::from_secs(31)) else {
            panic!()
        };
        assert!(Challenge::parse(&headers[0].1).unwrap().stale);
        // MESSAGE is challenged by 407 and answered in Proxy-Authorization.
        let Verdict::Challenge { status, headers } = verdict(&a, &request("MESSAGE", ""), t0) else {
            panic!()
        };
        assert_eq!((status, headers[0].0), (407, "Proxy-Authenticate"));
        let c = a.counters();
        assert_eq!(
            (c["challenges"], c["stale"], c["rejected"], c["accepted"]),
            (6, 1, 3, 2)
        );
    }
}
