//! Thresholds: pass/fail expressions over a phase's results, as k6 has them
//! (`session.p99<50ms`, `failure_rate<0.1%`, `sessions_per_s>1000`).
//!
//! An expression is `METRIC OP VALUE`, with OP one of `<`, `<=`, `>`, `>=`, `==`:
//! - a latency statistic, `NAME.STAT`: NAME a latency metric of the results file (`session`,
//!   `connect`, `handshake.full`, `sip.OPTIONS`, ...), STAT one of `p50`, `p90`, `p99`,
//!   `p99_9`, `max`, `mean`; VALUE a duration with its unit (`us`, `ms`, `s`);
//! - `failure_rate`: unexpected failures over attempts (sessions started; in the other
//!   workloads sessions started plus transactions); VALUE a fraction or a percentage (`0.1%`);
//! - `failures`: unexpected failures, a count: every failure kind, and bad certificates
//!   accepted (refusals a `bad_cert` phase asked for are expected, not failures);
//! - `sessions_per_s`, `handshakes_per_s`, `transactions_per_s`: rates, a number.
//!
//! Every phase is held to [`DEFAULT`] (`failures==0`) unless it has a `failures` or
//! `failure_rate` threshold of its own. Parsing is pure; [`evaluate`] reads a [`PhaseResult`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::plan::Workload;
use crate::results::{PhaseResult, ThresholdResult};

/// The threshold every phase keeps unless it sets a `failures` or `failure_rate` one.
pub const DEFAULT: &str = "failures==0";

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
}

impl Op {
    /// Whether `observed OP limit` holds.
    pub fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Op::Lt => observed < limit,
            Op::Le => observed <= limit,
            Op::Gt => observed > limit,
            Op::Ge => observed >= limit,
            Op::Eq => observed == limit,
        }
    }
}

/// What a threshold reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// A statistic of a latency metric, in microseconds.
    Latency {
        /// The metric's name (`session`, `handshake.full`, `sip.OPTIONS`).
        name: String,
        /// `p50`, `p90`, `p99`, `p99_9`, `max` or `mean`.
        stat: String,
    },
    /// Unexpected failures over attempts, a fraction.
    FailureRate,
    /// Unexpected failures, a count.
    Failures,
    /// Sessions per second.
    SessionsPerS,
    /// Handshakes per second.
    HandshakesPerS,
    /// Transactions per second.
    TransactionsPerS,
}

/// A parsed threshold expression; it reads and writes as its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Threshold {
    /// The expression as written.
    pub text: String,
    /// What it reads.
    pub metric: Metric,
    /// The comparison.
    pub op: Op,
    /// The limit, in the metric's unit (microseconds, a fraction, a count or per second).
    pub limit: f64,
}

/// A threshold expression that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("threshold `{text}`: {problem}")]
pub struct ThresholdError {
    /// The expression.
    pub text: String,
    /// What is wrong.
    pub problem: String,
}

const STATS: [&str; 6] = ["p50", "p90", "p99", "p99_9", "max", "mean"];

impl FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(s: &str) -> Result<Threshold, ThresholdError> {
        let text: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        let bad = |problem: &str| ThresholdError {
            text: s.trim().to_owned(),
            problem: problem.to_owned(),
        };
        let at = text
            .find(['<', '>', '='])
            .ok_or_else(|| bad("needs a comparison: <, <=, >, >= or =="))?;
        let (metric, rest) = text.split_at(at);
        let (op, value) = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ]
        .iter()
        .find_map(|(sym, op)| rest.strip_prefix(sym).map(|v| (*op, v)))
        .ok_or_else(|| bad("needs a comparison: <, <=, >, >= or =="))?;
        if value.is_empty() {
            return Err(bad("needs a value after the comparison"));
        }
        let number = |v: &str| -> Result<f64, ThresholdError> {
            v.parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .ok_or_else(|| bad(&format!("`{v}` is not a number >= 0")))
        };
        let (metric, limit) = match metric {
            "" => return Err(bad("needs a metric before the comparison")),
            "failure_rate" => {
                let limit = match value.strip_suffix('%') {
                    Some(pct) => number(pct)? / 100.0,
                    None => number(value)?,
                };
                (Metric::FailureRate, limit)
            }
            "failures" => (Metric::Failures, number(value)?),
            "sessions_per_s" => (Metric::SessionsPerS, number(value)?),
            "handshakes_per_s" => (Metric::HandshakesPerS, number(value)?),
            "transactions_per_s" => (Metric::TransactionsPerS, number(value)?),
            latency => {
                let (name, stat) = latency.rsplit_once('.').ok_or_else(|| {
                    bad(&format!(
                        "unknown metric `{latency}` (expected NAME.STAT such as session.p99, failure_rate, failures, sessions_per_s, handshakes_per_s or transactions_per_s)"
                    ))
                })?;
                if name.is_empty() || !STATS.contains(&stat) {
                    return Err(bad(&format!(
                        "unknown statistic `{stat}` (expected one of {})",
                        STATS.join(", ")
                    )));
                }
                let split = value
                    .find(|c: char| c.is_ascii_alphabetic())
                    .ok_or_else(|| bad("a latency needs a unit: us, ms or s"))?;
                let (n, unit) = value.split_at(split);
                let scale = match unit {
                    "us" | "µs" => 1.0,
                    "ms" => 1e3,
                    "s" => 1e6,
                    other => return Err(bad(&format!("unknown unit `{other}` (expected us, ms or s)"))),
                };
                (
                    Metric::Latency {
                        name: name.to_owned(),
                        stat: stat.to_owned(),
                    },
                    number(n)? * scale,
                )
            }
        };
        Ok(Threshold {
            text,
            metric,
            op,
            limit,
        })
    }
}

impl TryFrom<String> for Threshold {
    type Error = ThresholdError;
    fn try_from(s: String) -> Result<Threshold, ThresholdError> {
        s.parse()
    }
}

impl From<Threshold> for String {
    fn from(t: Threshold) -> String {
        t.text
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Threshold {
    /// What this threshold reads in `p`: `None` when the phase has no such metric.
    pub fn observe(&self, p: &PhaseResult) -> Option<f64> {
        Some(match &self.metric {
            Metric::Latency { name, stat } => {
                let s = p.latency_us.get(name)?;
                if s.count == 0 {
                    return None;
                }
                match stat.as_str() {
                    "p50" => s.p50 as f64,
                    "p90" => s.p90 as f64,
                    "p99" => s.p99 as f64,
                    "p99_9" => s.p99_9 as f64,
                    "max" => s.max as f64,
                    _ => s.mean,
                }
            }
            Metric::Failures => unexpected_failures(p) as f64,
            Metric::FailureRate => {
                let mut attempts = p.sessions.started;
                if p.plan.workload != Workload::Sessions {
                    attempts += p.transactions.values().map(|t| t.ok + t.failed).sum::<u64>();
                }
                unexpected_failures(p) as f64 / attempts.max(1) as f64
            }
            Metric::SessionsPerS => p.rates.sessions_per_s,
            Metric::HandshakesPerS => p.rates.handshakes_per_s,
            Metric::TransactionsPerS => p.rates.transactions_per_s,
        })
    }
}

/// Failures other than the refusals a `bad_cert` phase asked for: every failure kind counted,
/// and bad certificates accepted.
pub fn unexpected_failures(p: &PhaseResult) -> u64 {
    let failures: u64 = p.failures.values().sum();
    let accepted_in_failures = p.failures.get("bad-cert-accepted").copied().unwrap_or(0);
    let accepted = p.rejections.as_ref().map_or(0, |r| r.accepted);
    failures + accepted.saturating_sub(accepted_in_failures)
}

/// Evaluates `thresholds` (and [`DEFAULT`] unless one of them reads failures) against `p`.
/// A threshold whose metric the phase does not have is broken (observed `None`).
pub fn evaluate(thresholds: &[Threshold], p: &PhaseResult) -> Vec<ThresholdResult> {
    let own_failures = thresholds
        .iter()
        .any(|t| matches!(t.metric, Metric::Failures | Metric::FailureRate));
    let default = (!own_failures).then(|| DEFAULT.parse::<Threshold>().expect("the default parses"));
    default
        .iter()
        .chain(thresholds)
        .map(|t| {
            let observed = t.observe(p);
            ThresholdResult {
                expression: t.text.clone(),
                observed,
                passed: observed.is_some_and(|o| t.op.holds(o, t.limit)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Threshold {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn expressions_parse_with_units() {
        let t = parse("session.p99<50ms");
        assert_eq!(
            t.metric,
            Metric::Latency {
                name: "session".into(),
                stat: "p99".into()
            }
        );
        assert_eq!((t.op, t.limit), (Op::Lt, 50_000.0));
        let t = parse("handshake.full.p50 <= 10ms");
        assert_eq!(
            t.metric,
            Metric::Latency {
                name: "handshake.full".into(),
                stat: "p50".into()
            }
        );
        assert_eq!(
            (t.op, t.limit, t.text.as_str()),
            (Op::Le, 10_000.0, "handshake.full.p50<=10ms")
        );
        assert_eq!(parse("sip.OPTIONS.p99_9<2s").limit, 2e6);
        assert_eq!(parse("connect.max<250us").limit, 250.0);
        let t = parse("failure_rate<0.1%");
        assert_eq!((t.metric, t.op), (Metric::FailureRate, Op::Lt));
        assert!((t.limit - 0.001).abs() < 1e-12);
        assert_eq!(parse("failure_rate<0.02").limit, 0.02);
        assert_eq!(parse("sessions_per_s>1000").metric, Metric::SessionsPerS);
        let t = parse("transactions_per_s>=5000");
        assert_eq!((t.metric, t.op, t.limit), (Metric::TransactionsPerS, Op::Ge, 5000.0));
        assert_eq!(parse("handshakes_per_s>1").op, Op::Gt);
        assert_eq!(parse(DEFAULT), parse("failures == 0"));
    }

    #[test]
    fn bad_expressions_say_why() {
        for (bad, says) in [
            ("session.p99", "comparison"),
            ("session.p99<", "value"),
            ("<5ms", "metric"),
            ("session.p98<5ms", "statistic"),
            ("session.p99<5", "unit"),
            ("session.p99<5min", "unit"),
            ("latency<5ms", "unknown metric"),
            ("sessions_per_s>fast", "not a number"),
            ("sessions_per_s>-1", "not a number"),
            ("failure_rate<nan%", "not a number"),
            ("sessions_per_s=>5", "comparison"),
        ] {
            let e = bad.parse::<Threshold>().unwrap_err().to_string();
            assert!(e.contains(says) && e.contains(bad.trim()), "{bad}: {e}");
        }
    }

    #[test]
    fn ops_compare() {
        assert!(Op::Lt.holds(1.0, 2.0) && !Op::Lt.holds(2.0, 2.0));
        assert!(Op::Le.holds(2.0, 2.0) && Op::Ge.holds(2.0, 2.0) && Op::Eq.holds(0.0, 0.0));
        assert!(Op::Gt.holds(3.0, 2.0) && !Op::Gt.holds(2.0, 2.0));
    }

    #[test]
    fn serde_reads_and_writes_the_text() {
        let t: Vec<Threshold> = serde_json::from_str(r#"["session.p99<50ms"]"#).unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), r#"["session.p99<50ms"]"#);
        assert!(serde_json::from_str::<Vec<Threshold>>(r#"["p99<"]"#).is_err());
    }
}
