//! The ranges every numeric flag and profile field is checked against, and clap value
//! parsers that apply them, so no value from the command line or a profile can overflow a
//! clock or a counter (and no panic is reachable from either).
//!
//! | What                                      | Range                    |
//! |-------------------------------------------|--------------------------|
//! | timeouts, watch interval                  | more than 0, at most 1 day |
//! | run `duration`, `warmup` (warmup may be 0) | at most 365 days         |
//! | ticket lifetime                           | more than 0, at most 7 days (RFC 8446) |
//! | rate (per second)                         | 0.001 to 10,000,000      |
//! | concurrency, connections, in-flight cap   | 1 to 1,000,000           |
//! | session caches, connection cap            | 1 to 1,000,000           |
//! | session budget                            | 1 to 10^12               |
//! | workers / threads                         | 1 to 1024                |
//! | max message size                          | 1 KiB to 16 MiB          |
//! | max early data                            | 0 to 16 MiB              |

use std::time::Duration;

/// One day: the longest timeout or interval.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// 365 days: the longest run duration or warm-up.
pub const MAX_RUN: Duration = Duration::from_secs(365 * 24 * 3600);
/// Seven days: the longest ticket lifetime (RFC 8446, 4.6.1).
pub const MAX_TICKET_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// Lowest open-loop rate, per second.
pub const MIN_RATE: f64 = 0.001;
/// Highest open-loop rate, per second.
pub const MAX_RATE: f64 = 10_000_000.0;
/// Most sessions in flight, kept, or cached; most connections.
pub const MAX_COUNT: usize = 1_000_000;
/// Largest session budget.
pub const MAX_SESSIONS: u64 = 1_000_000_000_000;
/// Most worker threads.
pub const MAX_WORKERS: usize = 1024;
/// Smallest and largest SIP message size limit, bytes.
pub const MESSAGE_SIZE: std::ops::RangeInclusive<usize> = 1024..=16 * 1024 * 1024;
/// Most 0-RTT early data bytes.
pub const MAX_EARLY_DATA: u32 = 16 * 1024 * 1024;

/// Checks a duration against `(0, max]` (or `[0, max]` with `zero_ok`).
pub fn check_duration(d: Duration, zero_ok: bool, max: Duration) -> Result<Duration, String> {
    if d.is_zero() && !zero_ok {
        Err("must be > 0".into())
    } else if d > max {
        Err(format!("must be at most {}", humantime::format_duration(max)))
    } else {
        Ok(d)
    }
}

fn parse(s: &str, zero_ok: bool, max: Duration) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    check_duration(d, zero_ok, max)
}

/// Clap parser: a timeout or interval, more than 0 and at most [`MAX_TIMEOUT`].
pub fn timeout(s: &str) -> Result<Duration, String> {
    parse(s, false, MAX_TIMEOUT)
}

/// Clap parser: a ticket lifetime, more than 0 and at most [`MAX_TICKET_LIFETIME`].
pub fn ticket_lifetime(s: &str) -> Result<Duration, String> {
    parse(s, false, MAX_TICKET_LIFETIME)
}

/// Clap parser: a duration of at most [`MAX_RUN`] (phase flags are checked again, with the
/// profile's, in [`crate::plan`]).
pub fn run_duration(s: &str) -> Result<Duration, String> {
    parse(s, true, MAX_RUN)
}

/// Clap parser: a run duration, more than 0 and at most [`MAX_RUN`].
pub fn positive_run_duration(s: &str) -> Result<Duration, String> {
    parse(s, false, MAX_RUN)
}

/// Clap parser: a count from 1 to [`MAX_COUNT`].
pub fn count(s: &str) -> Result<usize, String> {
    ranged(s, 1..=MAX_COUNT)
}

/// Clap parser: a worker count from 1 to [`MAX_WORKERS`].
pub fn workers(s: &str) -> Result<usize, String> {
    ranged(s, 1..=MAX_WORKERS)
}

/// Clap parser: a SIP message size limit in [`MESSAGE_SIZE`].
pub fn message_size(s: &str) -> Result<usize, String> {
    ranged(s, MESSAGE_SIZE)
}

/// Clap parser: 0-RTT early data bytes, at most [`MAX_EARLY_DATA`].
pub fn early_data(s: &str) -> Result<u32, String> {
    ranged(s, 0..=MAX_EARLY_DATA as usize).map(|n| n as u32)
}

/// Clap parser: a percentage, a finite number from 0 to 10000.
pub fn percent(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("`{s}` is not a number"))?;
    if v.is_finite() && (0.0..=10_000.0).contains(&v) {
        Ok(v)
    } else {
        Err("must be a number from 0 to 10000".into())
    }
}

/// Checks an open-loop rate: finite, from [`MIN_RATE`] to [`MAX_RATE`].
pub fn check_rate(r: f64) -> Result<f64, String> {
    if r.is_finite() && (MIN_RATE..=MAX_RATE).contains(&r) {
        Ok(r)
    } else {
        Err(format!("must be a number from {MIN_RATE} to {MAX_RATE}"))
    }
}

/// Clap parser: an open-loop rate (see [`check_rate`]).
pub fn rate(s: &str) -> Result<f64, String> {
    let r: f64 = s.trim().parse().map_err(|_| format!("`{s}` is not a number"))?;
    check_rate(r)
}

/// Clap parser: a share, more than 0 and at most 1.
pub fn share(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("`{s}` is not a number"))?;
    if v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err("must be more than 0 and at most 1".into())
    }
}

/// Clap parser: a session budget from 1 to [`MAX_SESSIONS`].
pub fn sessions(s: &str) -> Result<u64, String> {
    let v: u64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number from 1 to {MAX_SESSIONS}"))?;
    if (1..=MAX_SESSIONS).contains(&v) {
        Ok(v)
    } else {
        Err(format!("must be from 1 to {MAX_SESSIONS}"))
    }
}

/// Parses an unsigned integer in `range`.
pub fn ranged(s: &str, range: std::ops::RangeInclusive<usize>) -> Result<usize, String> {
    let v: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number from {} to {}", range.start(), range.end()))?;
    if range.contains(&v) {
        Ok(v)
    } else {
        Err(format!("must be from {} to {}", range.start(), range.end()))
    }
}

/// Most source addresses `--local-addr` may list.
pub const MAX_LOCAL_ADDRS: usize = 65_536;

/// `--local-addr`: addresses and ranges (`A-B`, both ends included, same family), comma
/// separated.
pub fn local_addrs(s: &str) -> Result<Vec<std::net::IpAddr>, String> {
    use std::net::IpAddr;
    let mut out = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let parse = |a: &str| {
            a.trim()
                .parse::<IpAddr>()
                .map_err(|_| format!("`{a}` is not an IP address"))
        };
        let (first, last) = match item.split_once('-') {
            Some((a, b)) => (parse(a)?, parse(b)?),
            None => (parse(item)?, parse(item)?),
        };
        let (lo, hi) = match (first, last) {
            (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b))),
            (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b)),
            _ => return Err(format!("`{item}`: a range needs two addresses of one family")),
        };
        if lo > hi {
            return Err(format!("`{item}`: the range ends before it starts"));
        }
        if hi - lo >= (MAX_LOCAL_ADDRS - out.len()) as u128 {
            return Err(format!("more than {MAX_LOCAL_ADDRS} addresses"));
        }
        for v in lo..=hi {
            out.push(match first {
                IpAddr::V4(_) => IpAddr::V4((v as u32).into()),
                IpAddr::V6(_) => IpAddr::V6(v.into()),
            });
        }
    }
    if out.is_empty() {
        return Err("no address given".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_hold() {
        assert!(timeout("0s").is_err());
        assert!(timeout("2d").is_err());
        assert_eq!(timeout("1d"), Ok(MAX_TIMEOUT));
        assert!(timeout("300000000000years").is_err());
        assert!(timeout("soon").is_err());
        assert_eq!(run_duration("0s"), Ok(Duration::ZERO));
        assert!(count("0").is_err() && count("-1").is_err() && count("1000001").is_err());
        assert_eq!(count("7"), Ok(7));
        assert!(workers("0").is_err() && workers("1025").is_err());
        assert!(message_size("0").is_err());
        assert!(percent("nan").is_err() && percent("-1").is_err());
        assert_eq!(early_data("0"), Ok(0));
    }
}
