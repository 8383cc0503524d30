//! Load shapes of an open-loop phase: a constant rate, a linear ramp or steps, and the arrival
//! schedule each one makes. Pure: no I/O, no clock (time is seconds passed in).
//!
//! - [`RateSpec`] is a rate as written, on the command line or in a profile: `100`, a ramp
//!   `100..5000`, or steps `100,200,400`.
//! - [`RateShape`] is a ramp or steps resolved with its times (`ramp`, `step`), as the plan and
//!   the results file carry it.
//! - [`RateCurve`] is the arrival rate over time, piecewise linear: the `k`-th arrival is
//!   intended at the time `t` where the integral of the rate from 0 to `t` reaches `k`. A ramp
//!   from `A` to `B` over `D` has `k` arrivals by `t` when `A·t + (B−A)·t²/(2·D) = k`. Latency
//!   is measured from these intended times, so the coordinated-omission correction holds for
//!   every shape.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::limits;

/// An open-loop rate as written: arrivals per second, constant, ramped or in steps.
#[derive(Debug, Clone, PartialEq)]
pub enum RateSpec {
    /// `100`: constant.
    Constant(f64),
    /// `100..5000`: rises linearly from the first to the second over `ramp`.
    Ramp(f64, f64),
    /// `100,200,400`: each held for `step`, in order.
    Steps(Vec<f64>),
}

impl RateSpec {
    /// The rate the phase starts at.
    pub fn first(&self) -> f64 {
        match self {
            RateSpec::Constant(r) | RateSpec::Ramp(r, _) => *r,
            RateSpec::Steps(rates) => rates[0],
        }
    }
}

impl From<f64> for RateSpec {
    fn from(rate: f64) -> RateSpec {
        RateSpec::Constant(rate)
    }
}

/// Most steps a phase can have.
pub const MAX_STEPS: usize = 1000;

fn number(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let r: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    limits::check_rate(r).map_err(|e| format!("`{s}`: {e}"))
}

impl FromStr for RateSpec {
    type Err = String;

    /// `N`, `A..B` or `A,B,...`; every rate from [`limits::MIN_RATE`] to [`limits::MAX_RATE`].
    fn from_str(s: &str) -> Result<RateSpec, String> {
        if let Some((a, b)) = s.split_once("..") {
            return Ok(RateSpec::Ramp(number(a)?, number(b)?));
        }
        if s.contains(',') {
            let rates = s.split(',').map(number).collect::<Result<Vec<f64>, String>>()?;
            if rates.len() > MAX_STEPS {
                return Err(format!("at most {MAX_STEPS} steps"));
            }
            return Ok(RateSpec::Steps(rates));
        }
        number(s).map(RateSpec::Constant)
    }
}

impl fmt::Display for RateSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateSpec::Constant(r) => write!(f, "{r}"),
            RateSpec::Ramp(a, b) => write!(f, "{a}..{b}"),
            RateSpec::Steps(rates) => {
                let list: Vec<String> = rates.iter().map(f64::to_string).collect();
                write!(f, "{}", list.join(","))
            }
        }
    }
}

impl RateSpec {
    /// Clap parser (`--rate`).
    pub fn parse(s: &str) -> Result<RateSpec, String> {
        s.parse()
    }
}

/// A profile writes a rate as a number (`rate = 100`), a string (`"100..5000"`,
/// `"100,200,400"`) or a list of numbers (`[100, 200, 400]`); it is written back as a number
/// or a string.
impl<'de> Deserialize<'de> for RateSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RateSpec, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Number(f64),
            Text(String),
            List(Vec<f64>),
        }
        let bad = |e: String| serde::de::Error::custom(format!("rate: {e}"));
        match Written::deserialize(d).map_err(|_| {
            serde::de::Error::custom("rate: expected a number, \"A..B\" (a ramp) or a list of numbers (steps)")
        })? {
            Written::Number(r) => limits::check_rate(r).map(RateSpec::Constant).map_err(bad),
            Written::Text(s) => s.parse().map_err(bad),
            Written::List(rates) if rates.is_empty() => Err(bad("needs at least one step".into())),
            Written::List(rates) if rates.len() == 1 => {
                limits::check_rate(rates[0]).map(RateSpec::Constant).map_err(bad)
            }
            Written::List(rates) => {
                let list: Vec<String> = rates.iter().map(f64::to_string).collect();
                list.join(",").parse().map_err(bad)
            }
        }
    }
}

impl Serialize for RateSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RateSpec::Constant(r) => s.serialize_f64(*r),
            other => s.serialize_str(&other.to_string()),
        }
    }
}

/// A rate that changes over the measured window, resolved with its times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RateShape {
    /// The rate rises (or falls) linearly from `from` to `to` over `ramp`, then holds `to`.
    Ramp {
        /// Arrivals per second at the start of the measured window (and in the warm-up).
        from: f64,
        /// Arrivals per second at the end of the ramp and after.
        to: f64,
        /// How long the ramp takes.
        #[serde(with = "humantime_serde")]
        ramp: Duration,
    },
    /// Each rate is held for `step`, in order, from the start of the measured window (the
    /// warm-up runs at the first); the last holds until the phase ends.
    Steps {
        /// Arrivals per second of each step.
        rates: Vec<f64>,
        /// How long each is held.
        #[serde(with = "humantime_serde")]
        step: Duration,
    },
}

impl RateShape {
    /// The rate the phase starts at.
    pub fn first(&self) -> f64 {
        match self {
            RateShape::Ramp { from, .. } => *from,
            RateShape::Steps { rates, .. } => rates[0],
        }
    }

    /// The arrival curve from the start of the warm-up (`warmup` long, at the first rate).
    pub fn curve(&self, warmup: Duration) -> RateCurve {
        let first = self.first();
        let mut pieces = vec![Piece {
            length: warmup.as_secs_f64(),
            from: first,
            to: first,
        }];
        match self {
            RateShape::Ramp { from, to, ramp } => pieces.push(Piece {
                length: ramp.as_secs_f64(),
                from: *from,
                to: *to,
            }),
            RateShape::Steps { rates, step } => pieces.extend(rates.iter().map(|&r| Piece {
                length: step.as_secs_f64(),
                from: r,
                to: r,
            })),
        }
        RateCurve::new(&pieces)
    }

    /// Steps: the rate of each step with its start and length, seconds from the start of the
    /// measured window (the last runs until `duration`); empty for a ramp.
    pub fn steps(&self, duration: Duration) -> Vec<(f64, f64, f64)> {
        let RateShape::Steps { rates, step } = self else {
            return Vec::new();
        };
        let (step, end) = (step.as_secs_f64(), duration.as_secs_f64());
        rates
            .iter()
            .enumerate()
            .map(|(i, &r)| {
                let start = i as f64 * step;
                let length = if i + 1 == rates.len() {
                    end - start
                } else {
                    step.min(end - start)
                };
                (r, start, length.max(0.0))
            })
            .filter(|&(_, start, _)| start < end)
            .collect()
    }
}

impl fmt::Display for RateShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateShape::Ramp { from, to, ramp } => {
                write!(f, "ramp {from}/s to {to}/s over {}", humantime::format_duration(*ramp))
            }
            RateShape::Steps { rates, step } => {
                let list: Vec<String> = rates.iter().map(f64::to_string).collect();
                write!(
                    f,
                    "steps {}/s, {} each",
                    list.join(", "),
                    humantime::format_duration(*step)
                )
            }
        }
    }
}

/// A stretch of a [`RateCurve`]: the rate goes linearly from `from` to `to` over `length`
/// seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Piece {
    /// Seconds.
    pub length: f64,
    /// Arrivals per second at its start.
    pub from: f64,
    /// Arrivals per second at its end.
    pub to: f64,
}

/// Arrival rate over time, piecewise linear, held at its last rate after the last piece.
#[derive(Debug, Clone, PartialEq)]
pub struct RateCurve {
    /// The pieces with their start time and the arrivals before them; the last is open-ended.
    pieces: Vec<(f64, f64, Piece)>,
}

impl Piece {
    /// Arrivals in the first `t` seconds of the piece.
    fn count(&self, t: f64) -> f64 {
        let slope = if self.length > 0.0 {
            (self.to - self.from) / self.length
        } else {
            0.0
        };
        self.from * t + slope * t * t / 2.0
    }

    /// The time into the piece by which `n` arrivals have come: solves
    /// `from·t + slope·t²/2 = n` for its smallest root `t >= 0`.
    fn time_of(&self, n: f64) -> f64 {
        let slope = if self.length > 0.0 {
            (self.to - self.from) / self.length
        } else {
            0.0
        };
        if slope == 0.0 {
            return n / self.from;
        }
        // 2n / (from + sqrt(from² + 2·slope·n)): the root of the quadratic without the
        // cancellation of the textbook form (and exact for a falling rate too).
        let disc = (self.from * self.from + 2.0 * slope * n).max(0.0);
        2.0 * n / (self.from + disc.sqrt())
    }
}

impl RateCurve {
    /// The curve of `pieces` in order (pieces of zero length are dropped); after them the last
    /// rate holds. At least one piece must have a rate: an empty list is a constant 1/s.
    pub fn new(pieces: &[Piece]) -> RateCurve {
        let mut out = Vec::with_capacity(pieces.len() + 1);
        let (mut start, mut before) = (0.0, 0.0);
        for p in pieces.iter().filter(|p| p.length > 0.0) {
            out.push((start, before, *p));
            start += p.length;
            before += p.count(p.length);
        }
        let last = pieces.last().map_or(1.0, |p| p.to);
        out.push((
            start,
            before,
            Piece {
                length: f64::INFINITY,
                from: last,
                to: last,
            },
        ));
        RateCurve { pieces: out }
    }

    /// A constant rate.
    pub fn constant(rate: f64) -> RateCurve {
        RateCurve::new(&[Piece {
            length: 0.0,
            from: rate,
            to: rate,
        }])
    }

    /// Arrivals per second at `t` seconds.
    pub fn rate_at(&self, t: f64) -> f64 {
        let (start, _, p) = self.piece_at(|&(start, _, _)| start <= t);
        if p.length.is_infinite() {
            p.from
        } else {
            p.from + (p.to - p.from) * (t - start) / p.length
        }
    }

    /// Arrivals intended in the first `t` seconds (the integral of the rate).
    pub fn count(&self, t: f64) -> f64 {
        let (start, before, p) = self.piece_at(|&(start, _, _)| start <= t);
        before + p.count(t - start)
    }

    /// The time (seconds) by which `n` arrivals are intended: the `k`-th arrival (from 0) is at
    /// `time_of(k)`.
    pub fn time_of(&self, n: f64) -> f64 {
        let (start, before, p) = self.piece_at(|&(_, before, _)| before <= n);
        start + p.time_of(n - before)
    }

    /// The last piece for which `starts_before` holds (the first when none does).
    fn piece_at(&self, starts_before: impl Fn(&(f64, f64, Piece)) -> bool) -> (f64, f64, Piece) {
        let i = self.pieces.partition_point(starts_before);
        self.pieces[i.saturating_sub(1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn rates_parse_as_written_and_name_the_bad_part() {
        assert_eq!("100".parse(), Ok(RateSpec::Constant(100.0)));
        assert_eq!("100..5000".parse(), Ok(RateSpec::Ramp(100.0, 5000.0)));
        assert_eq!(" 5 .. 1 ".parse(), Ok(RateSpec::Ramp(5.0, 1.0)));
        assert_eq!("100,200,400".parse(), Ok(RateSpec::Steps(vec![100.0, 200.0, 400.0])));
        let e = "5..x".parse::<RateSpec>().unwrap_err();
        assert!(e.contains("`x` is not a number"), "{e}");
        assert!("100,,200".parse::<RateSpec>().is_err());
        assert!("0..10".parse::<RateSpec>().unwrap_err().contains("`0`"));
        for spec in ["100", "1.5..20", "1,2,3"] {
            assert_eq!(spec.parse::<RateSpec>().unwrap().to_string(), spec);
        }
    }

    #[test]
    fn profiles_write_rates_as_numbers_strings_or_lists() {
        #[derive(Deserialize)]
        struct T {
            rate: RateSpec,
        }
        let t = |s: &str| toml::from_str::<T>(s).map(|t| t.rate).map_err(|e| e.to_string());
        assert_eq!(t("rate = 50"), Ok(RateSpec::Constant(50.0)));
        assert_eq!(t("rate = 50.5"), Ok(RateSpec::Constant(50.5)));
        assert_eq!(t("rate = \"1..9\""), Ok(RateSpec::Ramp(1.0, 9.0)));
        assert_eq!(t("rate = [1, 2.5, 4]"), Ok(RateSpec::Steps(vec![1.0, 2.5, 4.0])));
        assert_eq!(t("rate = \"1,2\""), Ok(RateSpec::Steps(vec![1.0, 2.0])));
        for bad in ["rate = \"5..x\"", "rate = -5", "rate = []", "rate = true"] {
            let e = t(bad).unwrap_err();
            assert!(e.contains("rate"), "{bad}: {e}");
        }
        assert_eq!(serde_json::to_string(&RateSpec::Ramp(1.0, 2.0)).unwrap(), "\"1..2\"");
        assert_eq!(serde_json::to_string(&RateSpec::Constant(7.0)).unwrap(), "7.0");
    }

    /// The k-th arrival of a ramp solves A·t + (B−A)·t²/(2·D) = k.
    #[test]
    fn a_ramp_follows_the_integrated_rate() {
        let (a, b, d) = (100.0, 5000.0, 60.0);
        let c = RateShape::Ramp {
            from: a,
            to: b,
            ramp: secs(60),
        }
        .curve(Duration::ZERO);
        for k in [0.0, 1.0, 10.0, 1000.0, 50_000.0, 152_999.0] {
            let t = c.time_of(k);
            let integral = a * t + (b - a) * t * t / (2.0 * d);
            assert!(
                (integral - k).abs() < 1e-6 * k.max(1.0),
                "k {k}: t {t}, integral {integral}"
            );
        }
        // The whole ramp holds (A + B) / 2 · D arrivals, then B a second.
        assert!((c.count(60.0) - 153_000.0).abs() < 1e-6);
        assert!((c.count(61.0) - 158_000.0).abs() < 1e-6);
        assert_eq!(c.rate_at(30.0), 2550.0);
        assert_eq!(c.rate_at(600.0), 5000.0);
    }

    /// Arrivals per second, counted from the schedule, match the integral of the rate, and the
    /// times only go forward.
    #[test]
    fn arrivals_per_second_match_the_integral_and_times_are_monotone() {
        let shapes = [
            RateShape::Ramp {
                from: 10.0,
                to: 1000.0,
                ramp: secs(10),
            },
            RateShape::Ramp {
                from: 500.0,
                to: 20.0,
                ramp: secs(5),
            },
            RateShape::Steps {
                rates: vec![100.0, 300.0, 50.0],
                step: secs(3),
            },
        ];
        for shape in shapes {
            let c = shape.curve(secs(2));
            let mut per_second = [0u64; 14];
            let mut last = -1.0;
            let mut k = 0.0;
            loop {
                let t = c.time_of(k);
                assert!(t > last, "{shape}: arrival {k} at {t} after {last}");
                last = t;
                if t >= 14.0 {
                    break;
                }
                per_second[t as usize] += 1;
                k += 1.0;
            }
            for (s, &n) in per_second.iter().enumerate() {
                let expected = c.count(s as f64 + 1.0) - c.count(s as f64);
                assert!(
                    (n as f64 - expected).abs() <= 1.0,
                    "{shape}: second {s}: {n} arrivals, integral {expected}"
                );
            }
            // The warm-up runs at the first rate.
            assert_eq!(c.rate_at(1.0), shape.first());
        }
    }

    #[test]
    fn steps_hold_each_rate_and_the_last_until_the_end() {
        let s = RateShape::Steps {
            rates: vec![100.0, 200.0, 400.0],
            step: secs(10),
        };
        let c = s.curve(secs(1));
        assert_eq!(c.rate_at(0.5), 100.0);
        assert_eq!(c.rate_at(10.9), 100.0);
        assert_eq!(c.rate_at(11.0), 200.0);
        assert_eq!(c.rate_at(25.0), 400.0);
        assert_eq!(c.rate_at(1e6), 400.0);
        assert!((c.count(31.0) - (100.0 * 11.0 + 2000.0 + 4000.0)).abs() < 1e-9);
        assert_eq!(
            s.steps(secs(35)),
            vec![(100.0, 0.0, 10.0), (200.0, 10.0, 10.0), (400.0, 20.0, 15.0)]
        );
        assert_eq!(s.steps(secs(15)), vec![(100.0, 0.0, 10.0), (200.0, 10.0, 5.0)]);
    }

    #[test]
    fn a_constant_curve_is_evenly_spaced() {
        let c = RateCurve::constant(200.0);
        for k in 0..1000 {
            assert!((c.time_of(k as f64) - k as f64 / 200.0).abs() < 1e-12);
        }
    }
}
