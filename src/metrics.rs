//! Live metrics: an OpenMetrics endpoint (`GET /metrics`) for `serve --metrics ADDR` and
//! `run --metrics ADDR`, encoded by `prometheus-client` and served by hyper.
//!
//! Nothing is counted twice: the server's families are read from its live counters
//! ([`ServerCounters::snapshot`](crate::server::ServerCounters::snapshot)) at scrape time by
//! [`ServerMetrics`], and the generator's from the phase's closed one-second intervals (the
//! same ones the timeline and the interval logs get) by [`RunMetrics`].
//!
//! Latency is exported two ways, both from the workers' HdrHistograms:
//! - `sipbench_run_latency_seconds`: a Prometheus histogram with fixed buckets
//!   ([`LATENCY_BUCKETS`]), cumulative over the phase, for `histogram_quantile` and rates;
//!   each HdrHistogram value lands in the first bucket whose bound is at least its highest
//!   equivalent value (three significant figures, so within 0.1% of a bound either way).
//! - `sipbench_run_latency_interval_seconds`: the exact HdrHistogram percentiles (p50, p90,
//!   p99, p99.9 and max, as `quantile="0.5"` ... `quantile="1"`) of the last closed interval,
//!   as gauges: a summary of the last second, not of the phase.
//!
//! The endpoint answers `GET /metrics` with the OpenMetrics text format ([`CONTENT_TYPE`]), 405
//! to other methods there and 404 on any other path; it binds loopback or any address the operator gives (port 0 picks a
//! free one) and serves until dropped.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE as CONTENT_TYPE_HEADER};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use tokio::net::TcpListener;

use crate::generator::Interval;
use crate::plan::Load;
use crate::server::ServerCounters;
use crate::stats::PhaseStats;

/// The content type of a scrape: OpenMetrics text 1.0.0.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds (seconds) of `sipbench_run_latency_seconds`'s buckets, `+Inf` aside.
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The quantiles of `sipbench_run_latency_interval_seconds`.
const QUANTILES: [(f64, &str); 5] = [
    (50.0, "0.5"),
    (90.0, "0.9"),
    (99.0, "0.99"),
    (99.9, "0.999"),
    (100.0, "1"),
];

/// A running `/metrics` endpoint; stops accepting when dropped.
#[derive(Debug)]
pub struct Endpoint {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Endpoint {
    /// Binds `addr` and serves `registry` there, on the current tokio runtime.
    pub async fn bind(addr: SocketAddr, registry: Registry) -> std::io::Result<Endpoint> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let registry = Arc::new(registry);
        let task = tokio::spawn(async move {
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of descriptors, most likely: wait instead of spinning.
                        tracing::warn!("metrics endpoint: accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let registry = registry.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let response = respond(&req, &registry);
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(10))
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Endpoint { addr, task })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One scrape: the registry's families on `GET /metrics`, 404 elsewhere.
fn respond(req: &Request<Incoming>, registry: &Registry) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        r
    };
    if req.uri().path() != "/metrics" {
        return reply(StatusCode::NOT_FOUND, "not found: try /metrics\n".into());
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = reply(StatusCode::METHOD_NOT_ALLOWED, String::new());
        r.headers_mut()
            .insert(ALLOW, "GET, HEAD".parse().expect("static header"));
        return r;
    }
    let mut body = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut body, registry) {
        return reply(StatusCode::INTERNAL_SERVER_ERROR, format!("encoding failed: {e}\n"));
    }
    let mut r = reply(StatusCode::OK, body);
    r.headers_mut()
        .insert(CONTENT_TYPE_HEADER, CONTENT_TYPE.parse().expect("static header"));
    r
}

type Labels = Vec<(&'static str, String)>;

/// Samples of one family.
type Samples = Vec<(Labels, u64)>;

/// Writes one counter family (`name` without `_total`).
fn counters(
    enc: &mut DescriptorEncoder<'_>,
    name: &'static str,
    help: &str,
    samples: impl IntoIterator<Item = (Labels, u64)>,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in samples {
        ConstCounter::new(v).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Writes one gauge family.
fn gauges<V: prometheus_client::encoding::EncodeGaugeValue>(
    enc: &mut DescriptorEncoder<'_>,
    name: &'static str,
    help: &str,
    unit: Option<&Unit>,
    samples: impl IntoIterator<Item = (Labels, V)>,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    for (labels, v) in samples {
        ConstGauge::new(v).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

fn one(v: u64) -> [(Labels, u64); 1] {
    [(Vec::new(), v)]
}

fn by(label: &'static str, map: &BTreeMap<String, u64>) -> Samples {
    map.iter().map(|(k, v)| (vec![(label, k.clone())], *v)).collect()
}

/// The reference server's families (`sipbench_server_*`), read from its live counters at
/// every scrape.
pub struct ServerMetrics {
    counters: Arc<ServerCounters>,
    open: Box<dyn Fn() -> u64 + Send + Sync>,
}

impl fmt::Debug for ServerMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerMetrics").finish_non_exhaustive()
    }
}

impl ServerMetrics {
    /// Reads `counters`; `open` says how many connections are open now.
    pub fn new(counters: Arc<ServerCounters>, open: impl Fn() -> u64 + Send + Sync + 'static) -> ServerMetrics {
        ServerMetrics {
            counters,
            open: Box::new(open),
        }
    }

    /// Registers the families in `registry`.
    pub fn register(self, registry: &mut Registry) {
        registry.register_collector(Box::new(self));
    }
}

impl Collector for ServerMetrics {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> fmt::Result {
        let s = self.counters.snapshot();
        let e = &mut enc;
        counters(
            e,
            "sipbench_server_connections_accepted",
            "Connections accepted (TCP, TLS and MTLS listeners).",
            one(s.accepted),
        )?;
        let mut rejected = vec![(vec![("reason", "over-cap".to_owned())], s.rejected_over_cap)];
        rejected.push((
            vec![("reason", "over-address-cap".to_owned())],
            s.failures.get("over-address-cap").copied().unwrap_or(0),
        ));
        counters(
            e,
            "sipbench_server_connections_rejected",
            "Connections closed at once: over the connection cap, or over the per-address cap.",
            rejected,
        )?;
        counters(
            e,
            "sipbench_server_accept_errors",
            "accept() errors (e.g. out of file descriptors).",
            one(s.accept_errors),
        )?;
        gauges(
            e,
            "sipbench_server_open_connections",
            "Connections open now (TCP, TLS and MTLS; the connection cap's slots in use).",
            None,
            [(Vec::new(), (self.open)() as i64)],
        )?;
        let full = s.handshakes_ok - (s.handshakes_resumed + s.handshakes_hrr).min(s.handshakes_ok);
        counters(
            e,
            "sipbench_server_handshakes",
            "TLS handshakes completed, by kind: full, full-hrr (after a HelloRetryRequest), resumed.",
            [
                (vec![("kind", "full".to_owned())], full),
                (vec![("kind", "full-hrr".to_owned())], s.handshakes_hrr),
                (vec![("kind", "resumed".to_owned())], s.handshakes_resumed),
            ],
        )?;
        counters(
            e,
            "sipbench_server_early_data_accepted",
            "Connections whose TLS 1.3 0-RTT early data was accepted.",
            one(s.early_data_accepted),
        )?;
        counters(e, "sipbench_server_requests", "SIP requests parsed.", one(s.requests))?;
        counters(
            e,
            "sipbench_server_responses",
            "SIP responses sent, by class (2xx, 4xx, 5xx).",
            [
                (vec![("class", "2xx".to_owned())], s.responses_2xx),
                (vec![("class", "4xx".to_owned())], s.responses_4xx),
                (vec![("class", "5xx".to_owned())], s.responses_5xx),
            ],
        )?;
        counters(
            e,
            "sipbench_server_malformed",
            "SIP messages that framed but did not parse.",
            one(s.malformed),
        )?;
        counters(
            e,
            "sipbench_server_failures",
            "Connections cut off, by failure kind (as in the server's stats).",
            by("kind", &s.failures),
        )?;
        counters(
            e,
            "sipbench_server_reloads",
            "Certificate and trust reloads done.",
            one(s.reloads),
        )?;
        counters(
            e,
            "sipbench_server_bulk_bytes",
            "Bytes received on connections in bulk (records) mode.",
            one(s.bulk_bytes),
        )?;
        gauges(
            e,
            "sipbench_server_registrar_records",
            "Addresses of record held by the registrar.",
            None,
            [(Vec::new(), s.registrar_records as i64)],
        )?;
        counters(
            e,
            "sipbench_server_registrar_refused",
            "REGISTERs refused at the registrar's bounds, by kind.",
            by("kind", &s.registrar_refused),
        )?;
        counters(
            e,
            "sipbench_server_auth",
            "Digest authentication (serve --auth), by event: challenges, stale, rejected, accepted.",
            by("event", &s.auth),
        )?;
        Ok(())
    }
}

/// One phase as the endpoint shows it.
#[derive(Debug)]
struct PhaseTotals {
    name: String,
    open_loop: bool,
    /// Every closed interval so far, merged.
    total: PhaseStats,
    /// The last closed interval's percentiles (microseconds) by metric.
    last: BTreeMap<String, [u64; QUANTILES.len()]>,
}

/// The generator's families (`sipbench_run_*`, label `phase`), fed once a second from the
/// phases' closed intervals ([`RunMetrics::observe`]).
#[derive(Debug, Default)]
pub struct RunMetrics {
    phases: Mutex<Vec<PhaseTotals>>,
}

impl RunMetrics {
    /// No phase yet.
    pub fn new() -> Arc<RunMetrics> {
        Arc::new(RunMetrics::default())
    }

    /// Registers the families in `registry`.
    pub fn register(self: &Arc<Self>, registry: &mut Registry) {
        registry.register_collector(Box::new(self.clone()));
    }

    /// Adds a closed interval to its phase's totals (intervals still open are ignored).
    pub fn observe(&self, i: &Interval<'_>) {
        if !i.complete {
            return;
        }
        let open_loop = matches!(i.plan.load, Load::Open { .. });
        let last = i
            .stats
            .metrics(open_loop)
            .into_iter()
            .map(|(m, h)| (m, QUANTILES.map(|(q, _)| h.value_at_percentile(q))))
            .collect();
        let mut phases = self.phases.lock().unwrap_or_else(|p| p.into_inner());
        // Phase names are unique within a run (the plan checks).
        let at = match phases.iter().position(|p| p.name == i.plan.name) {
            Some(at) => at,
            None => {
                phases.push(PhaseTotals {
                    name: i.plan.name.clone(),
                    open_loop,
                    total: PhaseStats::new(),
                    last: BTreeMap::new(),
                });
                phases.len() - 1
            }
        };
        let p = &mut phases[at];
        p.total.merge(i.stats);
        p.last = last;
    }

    /// Sets the phase's totals to its final stats once it has ended: what the intervals did not
    /// carry (tasks that panicked, counted after the last interval) is then shown too, and the
    /// families equal the results file.
    pub fn finish(&self, plan: &crate::plan::PhasePlan, stats: &PhaseStats) {
        let mut phases = self.phases.lock().unwrap_or_else(|p| p.into_inner());
        match phases.iter_mut().find(|p| p.name == plan.name) {
            Some(p) => p.total = stats.clone(),
            None => phases.push(PhaseTotals {
                name: plan.name.clone(),
                open_loop: matches!(plan.load, Load::Open { .. }),
                total: stats.clone(),
                last: BTreeMap::new(),
            }),
        }
    }
}

impl Collector for RunMetrics {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> fmt::Result {
        let phases = self.phases.lock().unwrap_or_else(|p| p.into_inner());
        let e = &mut enc;
        let each = |f: &dyn Fn(&PhaseTotals, &mut Samples)| {
            let mut out = Vec::new();
            for p in phases.iter() {
                f(p, &mut out);
            }
            out
        };
        let phase = |p: &PhaseTotals| ("phase", p.name.clone());
        counters(
            e,
            "sipbench_run_sessions_started",
            "Sessions started inside the measured window.",
            each(&|p, out| out.push((vec![phase(p)], p.total.sessions_started))),
        )?;
        counters(
            e,
            "sipbench_run_sessions_ok",
            "Sessions that completed every step.",
            each(&|p, out| out.push((vec![phase(p)], p.total.sessions_ok))),
        )?;
        counters(
            e,
            "sipbench_run_failures",
            "Failed sessions and transactions, by failure kind.",
            each(&|p, out| {
                for (k, v) in &p.total.failures {
                    out.push((vec![phase(p), ("kind", k.to_string())], *v));
                }
            }),
        )?;
        counters(
            e,
            "sipbench_run_transactions",
            "SIP transactions, by method and outcome (ok: a final response below 400).",
            each(&|p, out| {
                for (m, t) in &p.total.sip {
                    for (outcome, v) in [("ok", t.ok), ("failed", t.failed)] {
                        out.push((
                            vec![phase(p), ("method", m.clone()), ("outcome", outcome.to_owned())],
                            v,
                        ));
                    }
                }
            }),
        )?;
        counters(
            e,
            "sipbench_run_handshakes",
            "Handshakes, by kind (full, full-hrr, resumed, resumed-0rtt, none for cleartext).",
            each(&|p, out| {
                let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
                for (n, c) in &p.total.negotiated {
                    *kinds.entry(n.handshake.as_str()).or_default() += c;
                }
                for (k, v) in kinds {
                    out.push((vec![phase(p), ("kind", k.to_owned())], v));
                }
            }),
        )?;
        counters(
            e,
            "sipbench_run_rejections",
            "Bad-certificate sessions refused as they must be, by how (phases with bad_cert).",
            each(&|p, out| {
                for (k, v) in &p.total.rejections {
                    out.push((vec![phase(p), ("kind", k.to_string())], *v));
                }
            }),
        )?;
        counters(
            e,
            "sipbench_run_bytes",
            "Application bytes (SIP payload, not TLS overhead), by direction.",
            each(&|p, out| {
                out.push((vec![phase(p), ("direction", "out".to_owned())], p.total.bytes_out));
                out.push((vec![phase(p), ("direction", "in".to_owned())], p.total.bytes_in));
            }),
        )?;
        {
            let unit = Unit::Seconds;
            let mut m = e.encode_descriptor(
                "sipbench_run_latency",
                "Latency over the phase by metric (connect, handshake.full, handshake.resumed, session, sip.METHOD, ...), from the HdrHistograms into fixed buckets.",
                Some(&unit),
                MetricType::Histogram,
            )?;
            for p in phases.iter() {
                for (metric, h) in p.total.metrics(p.open_loop) {
                    let (sum, count, buckets) = buckets(h);
                    let labels: Labels = vec![phase(p), ("metric", metric)];
                    m.encode_family(&labels)?
                        .encode_histogram::<Labels>(sum, count, &buckets, None)?;
                }
            }
        }
        let unit = Unit::Seconds;
        let mut quantiles = Vec::new();
        for p in phases.iter() {
            for (metric, values) in &p.last {
                for ((_, q), v) in QUANTILES.iter().zip(values) {
                    let labels: Labels = vec![phase(p), ("metric", metric.clone()), ("quantile", (*q).to_owned())];
                    quantiles.push((labels, *v as f64 / 1e6));
                }
            }
        }
        gauges(
            e,
            "sipbench_run_latency_interval",
            "Exact HdrHistogram percentiles of the last closed one-second interval, by metric.",
            Some(&unit),
            quantiles,
        )?;
        Ok(())
    }
}

/// An HdrHistogram (microseconds) as a Prometheus histogram: sum (seconds), count and the
/// per-bucket counts (not cumulative; the encoder adds them up), `+Inf` last.
fn buckets(h: &hdrhistogram::Histogram<u64>) -> (f64, u64, Vec<(f64, u64)>) {
    let mut counts = [0u64; LATENCY_BUCKETS.len() + 1];
    for v in h.iter_recorded() {
        let secs = v.value_iterated_to() as f64 / 1e6;
        let at = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        counts[at] += v.count_at_value();
    }
    let bounds = LATENCY_BUCKETS.iter().copied().chain([f64::INFINITY]);
    let sum = h.mean() * h.len() as f64 / 1e6;
    (sum, h.len(), bounds.zip(counts).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(registry: &Registry) -> String {
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, registry).unwrap();
        s
    }

    #[test]
    fn server_families_read_the_counters_at_scrape_time() {
        let counters = Arc::new(ServerCounters::default());
        let mut registry = Registry::default();
        ServerMetrics::new(counters.clone(), || 3).register(&mut registry);
        let text = encode(&registry);
        assert!(text.ends_with("# EOF\n"), "{text}");
        for line in [
            "sipbench_server_requests_total 0",
            "sipbench_server_open_connections 3",
            "sipbench_server_handshakes_total{kind=\"full\"} 0",
            "sipbench_server_responses_total{class=\"2xx\"} 0",
            "# TYPE sipbench_server_failures counter",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }

    #[test]
    fn run_families_add_up_the_closed_intervals() {
        let plan = crate::plan::lower(
            &crate::plan::Profile::parse(crate::plan::DEFAULT_PROFILE).unwrap(),
            &crate::plan::PhaseSpec::default(),
            &[],
        )
        .unwrap()
        .remove(0);
        let mut stats = PhaseStats::new();
        stats.sessions_started = 5;
        stats.sessions_ok = 4;
        stats.fail(crate::failure::FailureKind::Reset);
        stats.txn("OPTIONS").ok = 4;
        for us in [300, 800, 2_000, 40_000_000] {
            stats.txn("OPTIONS").latency.record(us).unwrap();
        }
        let metrics = RunMetrics::new();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        for complete in [true, false, true] {
            metrics.observe(&Interval {
                plan: &plan,
                start: Duration::ZERO,
                length: Duration::from_secs(1),
                stats: &stats,
                complete,
            });
        }
        let text = encode(&registry);
        let phase = &plan.name;
        assert!(!text.contains("kind=\"panic\""), "{text}");
        for line in [
            format!("sipbench_run_sessions_ok_total{{phase=\"{phase}\"}} 8"),
            format!("sipbench_run_transactions_total{{phase=\"{phase}\",method=\"OPTIONS\",outcome=\"ok\"}} 8"),
            format!("sipbench_run_failures_total{{phase=\"{phase}\",kind=\"reset\"}} 2"),
            format!("sipbench_run_latency_seconds_count{{phase=\"{phase}\",metric=\"sip.OPTIONS\"}} 8"),
            format!("sipbench_run_latency_seconds_bucket{{le=\"0.00025\",phase=\"{phase}\",metric=\"sip.OPTIONS\"}} 0"),
            format!("sipbench_run_latency_seconds_bucket{{le=\"0.001\",phase=\"{phase}\",metric=\"sip.OPTIONS\"}} 4"),
            format!("sipbench_run_latency_seconds_bucket{{le=\"30.0\",phase=\"{phase}\",metric=\"sip.OPTIONS\"}} 6"),
            format!("sipbench_run_latency_seconds_bucket{{le=\"+Inf\",phase=\"{phase}\",metric=\"sip.OPTIONS\"}} 8"),
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        assert!(
            text.contains(&format!(
                "sipbench_run_latency_interval_seconds{{phase=\"{phase}\",metric=\"sip.OPTIONS\",quantile=\"0.5\"}} 0.0008"
            )),
            "{text}"
        );
        // At the end the phase's own totals win (a panicked task is counted after the last
        // interval).
        let mut end = stats.clone();
        end.merge(&stats);
        end.fail(crate::failure::FailureKind::Panic);
        metrics.finish(&plan, &end);
        let text = encode(&registry);
        let line = format!("sipbench_run_failures_total{{phase=\"{phase}\",kind=\"panic\"}} 1");
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
}
