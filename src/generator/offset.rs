//! How far this host's clock is from the target's, measured the way SIP allows: from the
//! `Date` header (RFC 3261 §20.17) of the target's OPTIONS responses.
//!
//! `Date` has a resolution of one second, but the instant its value changes does not: a
//! response stamped `D` left the server while the server's clock read `[D, D + 1)`, and it
//! left between the local instants `s` (request sent) and `r` (response read). With the offset
//! `θ = server − local`, every response bounds it: `D − r ≤ θ < D + 1 − s`. Intersecting the
//! bounds of several responses narrows them; a probe timed so that the server's clock should
//! cross a second boundary at the middle of the current bounds halves them each time (a
//! bisection over the second boundary), down to about the round-trip time. [`Estimate`] is the
//! pure arithmetic; [`probe`] sends the OPTIONS.
//!
//! Sharded runs ([`crate::shard`]) start on one wall-clock instant (`--start-at`) as far as the
//! hosts' clocks agree; each shard's estimate against the one target they share says how far
//! that is.

use std::time::{Duration, SystemTime};

use crate::generator::Stop;
use crate::generator::session::{Endpoint, establish};
use crate::results::ClockOffset;
use crate::tls::{Limits, PeerKeyCache};
use crate::uac::SipClient;

/// Most probes one run sends (each but the first waits for a second boundary).
pub const MAX_PROBES: u32 = 16;

/// The bounds on the offset (server − local, seconds) that the responses so far allow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The offset is at least this.
    pub low: f64,
    /// The offset is below this.
    pub high: f64,
    /// Responses with a `Date` seen.
    pub samples: u32,
    /// The shortest round trip seen, seconds.
    pub min_rtt: f64,
}

/// Why the bounds became empty: the responses disagree (the target's clock stepped, or its
/// `Date` is not its clock at the time of sending).
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("the target's Date headers disagree (its clock stepped by at least {gap:.3} s)")]
pub struct Inconsistent {
    /// How far apart the bounds were.
    pub gap: f64,
}

impl Estimate {
    /// The bounds one response gives: sent at `sent`, read at `received` (local Unix seconds),
    /// stamped `date` (the server's Unix seconds).
    pub fn first(sent: f64, received: f64, date: u64) -> Estimate {
        let d = date as f64;
        Estimate {
            low: d - received,
            high: d + 1.0 - sent,
            samples: 1,
            min_rtt: (received - sent).max(0.0),
        }
    }

    /// Narrows the bounds with one more response.
    pub fn observe(&mut self, sent: f64, received: f64, date: u64) -> Result<(), Inconsistent> {
        let next = Estimate::first(sent, received, date);
        let low = self.low.max(next.low);
        let high = self.high.min(next.high);
        if low >= high {
            return Err(Inconsistent { gap: low - high });
        }
        self.low = low;
        self.high = high;
        self.samples += 1;
        self.min_rtt = self.min_rtt.min(next.min_rtt);
        Ok(())
    }

    /// The width of the bounds, seconds.
    pub fn width(&self) -> f64 {
        self.high - self.low
    }

    /// The middle of the bounds: the offset to report.
    pub fn mid(&self) -> f64 {
        (self.low + self.high) / 2.0
    }

    /// When (local Unix seconds, after `now`) to send the next probe so that, were the offset
    /// the middle of the bounds, the server's clock would cross a whole second half a round
    /// trip after sending: the response then says on which side of the middle the offset is.
    pub fn next_send(&self, now: f64) -> f64 {
        let mid = self.mid();
        let half_rtt = self.min_rtt / 2.0;
        // The next whole server second that can still be reached from `now`.
        let boundary = (now + mid + half_rtt).floor() + 1.0;
        boundary - mid - half_rtt
    }

    /// Whether more probes cannot narrow the bounds much: within two round trips (plus 1 ms).
    pub fn settled(&self) -> bool {
        self.width() <= 2.0 * self.min_rtt + 0.001
    }

    /// As stored in a results file.
    pub fn record(&self, against: &str, probes: u32) -> ClockOffset {
        ClockOffset {
            against: against.to_owned(),
            offset_ms: self.mid() * 1e3,
            low_ms: self.low * 1e3,
            high_ms: self.high * 1e3,
            samples: self.samples,
            probes,
            note: None,
        }
    }
}

/// Local Unix time, seconds.
/// Wall-clock now, seconds since the Unix epoch (0 before it).
pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Measures the offset against the target of `endpoint` over one session (session id `id`)
/// until the bounds settle, [`MAX_PROBES`] probes were sent, or `stop` is set. The result says
/// what was measured, or (in `note`) why nothing was.
pub async fn probe(
    endpoint: Endpoint,
    id: u64,
    limits: Limits,
    timeout: Duration,
    stop: std::sync::Arc<Stop>,
) -> ClockOffset {
    let against = endpoint.addrs.first().map(|a| a.to_string()).unwrap_or_default();
    let unmeasured = |probes: u32, note: String| ClockOffset {
        against: against.clone(),
        offset_ms: 0.0,
        low_ms: 0.0,
        high_ms: 0.0,
        samples: 0,
        probes,
        note: Some(note),
    };
    let mut keys = PeerKeyCache::default();
    let stream = tokio::select! {
        r = establish(&endpoint, 0, false, limits, &mut keys) => r,
        _ = stop.wait() => return unmeasured(0, "the run ended before the probe's session opened".into()),
    };
    let stream = match stream {
        Ok((stream, _)) => stream,
        Err(kind) => return unmeasured(0, format!("the probe's session failed: {}", kind)),
    };
    let mut client = SipClient::new(stream, endpoint.domain.clone(), id);
    let mut estimate: Option<Estimate> = None;
    let mut probes = 0;
    let note = loop {
        if probes >= MAX_PROBES {
            break None;
        }
        if let Some(e) = &estimate {
            if e.settled() {
                break None;
            }
            let now = unix_now();
            let wait = e.next_send(now) - now;
            if wait > 0.0 {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs_f64(wait)) => {}
                    _ = stop.wait() => break None,
                }
            }
        }
        probes += 1;
        let sent = unix_now();
        let date = match client.options_date(timeout).await {
            Ok(Some(date)) => date,
            Ok(None) => break Some("the target's OPTIONS responses carry no Date header".to_owned()),
            Err(kind) => break Some(format!("a probe failed: {kind}")),
        };
        let received = unix_now();
        match &mut estimate {
            None => estimate = Some(Estimate::first(sent, received, date)),
            Some(e) => {
                if let Err(e) = e.observe(sent, received, date) {
                    break Some(e.to_string());
                }
            }
        }
    };
    client.close().await;
    match (estimate, note) {
        (Some(e), note) => ClockOffset {
            note,
            ..e.record(&against, probes)
        },
        (None, note) => unmeasured(probes, note.unwrap_or_else(|| "no probe was answered".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server whose clock is `offset` ahead, answering after `delay` of a `rtt`.
    fn answer(offset: f64, sent: f64, rtt: f64, delay: f64) -> (f64, f64, u64) {
        let at_server = sent + delay + offset;
        (sent, sent + rtt, at_server.floor() as u64)
    }

    #[test]
    fn one_response_bounds_the_offset_within_a_second_and_the_round_trip() {
        let (s, r, d) = answer(0.25, 1000.1, 0.002, 0.001);
        let e = Estimate::first(s, r, d);
        assert!(e.low <= 0.25 && 0.25 < e.high, "{e:?}");
        assert!((e.width() - 1.002).abs() < 1e-9, "{e:?}");
    }

    #[test]
    fn bisection_over_second_boundaries_converges_to_the_round_trip() {
        for offset in [-3.7, -0.0004, 0.0, 0.25, 0.9999, 12.5] {
            let rtt = 0.0004;
            let (s, r, d) = answer(offset, 5000.0, rtt, rtt / 2.0);
            let mut e = Estimate::first(s, r, d);
            let mut now = r;
            let mut probes = 1;
            while !e.settled() {
                let sent = e.next_send(now);
                assert!(sent >= now, "never in the past");
                let (s, r, d) = answer(offset, sent, rtt, rtt / 2.0);
                e.observe(s, r, d).expect("consistent");
                now = r;
                probes += 1;
                assert!(probes <= MAX_PROBES, "offset {offset}: {e:?}");
            }
            assert!(e.low <= offset && offset < e.high, "offset {offset}: {e:?}");
            assert!(e.width() <= 2.0 * rtt + 0.001, "{e:?}");
        }
    }

    #[test]
    fn a_clock_that_steps_is_inconsistent() {
        let mut e = Estimate::first(100.0, 100.001, 100);
        assert!(e.observe(200.0, 200.001, 205).is_err());
    }
}
