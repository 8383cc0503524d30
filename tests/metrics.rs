//! Live metrics (`serve --metrics`, `run --metrics`): scraped with a plain TCP GET and parsed as
//! OpenMetrics, then by Debian's real Prometheus, whose HTTP API must report what the run and
//! the server report themselves.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A plain HTTP/1.1 GET: status code, headers (lower-case names) and body.
fn get(addr: &str, path: &str) -> (u16, BTreeMap<String, String>, String) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a header block");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// Checks the OpenMetrics text (every sample under a `# TYPE`d family, `# EOF` last) and
/// returns the samples by `name{labels}`.
fn parse(text: &str) -> BTreeMap<String, f64> {
    assert!(text.ends_with("# EOF\n"), "no # EOF at the end:\n{text}");
    let mut families: Vec<(String, String)> = Vec::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            families.push((name.to_owned(), kind.to_owned()));
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (key, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("sample line {line:?}"));
        let name = key.split('{').next().unwrap();
        let (family, kind) = families.last().unwrap_or_else(|| panic!("{name} before any # TYPE"));
        let suffixes: &[&str] = match kind.as_str() {
            "counter" => &["_total", "_created"],
            "histogram" => &["_bucket", "_sum", "_count", "_created"],
            _ => &[""],
        };
        assert!(
            suffixes.iter().any(|s| name == format!("{family}{s}")),
            "{name} is not a sample of the {kind} {family}"
        );
        let v: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|e| panic!("{line:?}: {e}")),
        };
        samples.insert(key.to_owned(), v);
    }
    samples
}

/// Scrapes `addr`'s /metrics, checking the status and content type.
fn scrape(addr: &str) -> BTreeMap<String, f64> {
    let (status, headers, body) = get(addr, "/metrics");
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers.get("content-type").map(String::as_str), Some(CONTENT_TYPE));
    parse(&body)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `sipbench run` against a served PKI's TLS listener, with `extra` flags.
fn run_against(served: &common::Served, pki: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sipbench"));
    cmd.env("RUST_LOG", "error")
        .args([
            "run",
            "--tls-addr",
            &served.addrs["tls"],
            "--server-name",
            "sip.example.test",
        ])
        .arg("--ca")
        .arg(pki.join(sipbench::pki::files::ENTERPRISE_CA))
        .args([
            "--mode",
            "tls",
            "--sessions",
            "20",
            "--concurrency",
            "2",
            "--warmup",
            "0s",
        ])
        .args(["--transactions", "REGISTER,OPTIONS", "-q", "-o"])
        .arg(out)
        .args(extra);
    cmd
}

/// The standard error lines of a child, as they come.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stderr = BufReader::new(child.stderr.take().expect("stderr piped"));
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// Waits for the line containing `needle`.
fn wait_line(rx: &mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(e) => panic!("no line with {needle:?}: {e}"),
        }
    }
}

fn interrupt(child: &mut Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "an interrupt during the linger ends a finished run"
    );
}

fn results(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

#[test]
fn serve_exposes_its_counters_as_openmetrics() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let served = common::Served::spawn(
        &[
            OsStr::new("--pki"),
            pki.as_os_str(),
            OsStr::new("--metrics"),
            OsStr::new("127.0.0.1:0"),
        ],
        &[],
    );
    let metrics = served.addrs["metrics"].clone();
    let before = scrape(&metrics);
    for family in [
        "sipbench_server_connections_accepted_total",
        "sipbench_server_open_connections",
        "sipbench_server_requests_total",
        "sipbench_server_reloads_total",
        "sipbench_server_registrar_records",
    ] {
        assert_eq!(before.get(family), Some(&0.0), "{family}: {before:?}");
    }
    assert_eq!(before["sipbench_server_handshakes_total{kind=\"full\"}"], 0.0);
    assert_eq!(before["sipbench_server_responses_total{class=\"2xx\"}"], 0.0);
    let (status, _, _) = get(&metrics, "/");
    assert_eq!(status, 404);
    let (status, _, _) = get(&metrics, "/metrics/x");
    assert_eq!(status, 404);

    let out = dir.path().join("r.json");
    let o = run_against(&served, &pki, &out, &[]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let after = scrape(&metrics);
    let stats = served.stop();
    assert_eq!(
        after["sipbench_server_requests_total"],
        stats["requests"].as_f64().unwrap()
    );
    assert_eq!(
        after["sipbench_server_requests_total"], 40.0,
        "20 sessions of REGISTER and OPTIONS"
    );
    assert_eq!(
        after["sipbench_server_responses_total{class=\"2xx\"}"],
        stats["responses_2xx"].as_f64().unwrap()
    );
    let handshakes: f64 = after
        .iter()
        .filter(|(k, _)| k.starts_with("sipbench_server_handshakes_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(handshakes, stats["handshakes_ok"].as_f64().unwrap());
    assert_eq!(
        after["sipbench_server_connections_accepted_total"],
        stats["accepted"].as_f64().unwrap()
    );
    assert_eq!(
        after["sipbench_server_registrar_records"],
        stats["registrar_records"].as_f64().unwrap()
    );
}

#[test]
fn run_exposes_its_phases_and_the_embedded_server_until_the_linger_ends() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sipbench"))
        .env("RUST_LOG", "error")
        .args([
            "run",
            "--mode",
            "tls",
            "--sessions",
            "30",
            "--concurrency",
            "2",
            "--warmup",
            "0s",
        ])
        .args(["--transactions", "REGISTER,OPTIONS", "-w", "2", "-q", "-o"])
        .arg(&out)
        .args(["--metrics", "127.0.0.1:0", "--metrics-linger", "60s"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines(&mut child);
    let line = wait_line(&rx, "sipbench run: metrics ");
    let addr: SocketAddr = line.rsplit(' ').next().unwrap().parse().unwrap();
    wait_line(&rx, "stay up");
    let m = scrape(&addr.to_string());
    let r = results(&out);
    let p = &r["phases"][0];
    let phase = p["plan"]["name"].as_str().unwrap();
    let at = |key: &str| {
        *m.get(key)
            .unwrap_or_else(|| panic!("no {key} in {:#?}", m.keys().collect::<Vec<_>>()))
    };
    let num = |v: &serde_json::Value| v.as_f64().unwrap_or(0.0);
    assert_eq!(
        at(&format!("sipbench_run_sessions_ok_total{{phase=\"{phase}\"}}")),
        30.0
    );
    assert_eq!(
        at(&format!("sipbench_run_sessions_started_total{{phase=\"{phase}\"}}")),
        num(&p["sessions"]["started"])
    );
    for method in ["REGISTER", "OPTIONS"] {
        assert_eq!(
            at(&format!(
                "sipbench_run_transactions_total{{phase=\"{phase}\",method=\"{method}\",outcome=\"ok\"}}"
            )),
            num(&p["transactions"][method]["ok"])
        );
        let count = at(&format!(
            "sipbench_run_latency_seconds_count{{phase=\"{phase}\",metric=\"sip.{method}\"}}"
        ));
        assert_eq!(count, 30.0);
        assert_eq!(
            at(&format!(
                "sipbench_run_latency_seconds_bucket{{le=\"+Inf\",phase=\"{phase}\",metric=\"sip.{method}\"}}"
            )),
            count
        );
        assert!(m.contains_key(&format!(
            "sipbench_run_latency_interval_seconds{{phase=\"{phase}\",metric=\"sip.{method}\",quantile=\"0.99\"}}"
        )));
    }
    let handshakes: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("sipbench_run_handshakes_total{{phase=\"{phase}\"")))
        .map(|(_, v)| v)
        .sum();
    let h = &p["handshakes"];
    assert_eq!(
        handshakes,
        num(&h["full"]) + num(&h["full_hrr"]) + num(&h["resumed"]) + num(&h["resumed_0rtt"]),
        "{h}"
    );
    // The embedded server's families, read from its counters.
    assert_eq!(at("sipbench_server_requests_total"), num(&r["server"]["requests"]));
    assert_eq!(at("sipbench_server_requests_total"), 60.0);
    assert_eq!(at("sipbench_server_open_connections"), 0.0);

    // Every series the Grafana dashboard asks for is exposed.
    let dashboard =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/grafana/sipbench.json")).unwrap();
    // (A family with no sample yet, such as failures, counts: its # TYPE line is there.)
    let text = get(&addr.to_string(), "/metrics").2;
    let asked: std::collections::BTreeSet<&str> = dashboard
        .split(|c: char| !(c.is_ascii_lowercase() || c == '_'))
        .filter(|w| w.starts_with("sipbench_") && w.len() > "sipbench_".len())
        .collect();
    assert!(asked.len() >= 10, "{asked:?}");
    for name in asked {
        let family = ["_total", "_bucket"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "the dashboard asks for {name}, not exposed"
        );
    }
    interrupt(&mut child);
}

/// Kills the child on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Percent-encodes a PromQL query for a URL.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One instant query to Prometheus's HTTP API: the first result's value, if any.
fn query(prometheus: &str, q: &str) -> Option<f64> {
    let (status, _, body) = get(prometheus, &format!("/api/v1/query?query={}", encode(q)));
    if status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

/// Polls `q` until `done` holds for its value (30 s at most); returns the value.
fn wait_for(prometheus: &str, q: &str, done: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = None;
    while Instant::now() < deadline {
        last = query(prometheus, q);
        if let Some(v) = last
            && done(v)
        {
            return v;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("Prometheus: {q} is {last:?} after 30 s");
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn prometheus_scrapes_what_serve_and_run_report() {
    if Command::new("prometheus").arg("--version").output().is_err() {
        eprintln!("skipped: no `prometheus` on PATH (Debian: apt-get install prometheus; .ci/run installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let served = common::Served::spawn(
        &[
            OsStr::new("--pki"),
            pki.as_os_str(),
            OsStr::new("--metrics"),
            OsStr::new("127.0.0.1:0"),
        ],
        &[],
    );
    let run_metrics = format!("127.0.0.1:{}", free_port());
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\n\
             scrape_configs:\n\
             \x20 - job_name: serve\n    static_configs:\n      - targets: ['{}']\n\
             \x20 - job_name: run\n    static_configs:\n      - targets: ['{run_metrics}']\n",
            served.addrs["metrics"]
        ),
    )
    .unwrap();
    let web = format!("127.0.0.1:{}", free_port());
    let _prometheus = Killed(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()))
            .arg(format!("--web.listen-address={web}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !TcpStream::connect(&web).is_ok_and(|_| get(&web, "/-/ready").0 == 200) {
        assert!(Instant::now() < deadline, "Prometheus not ready after 30 s");
        std::thread::sleep(Duration::from_millis(200));
    }

    // The run: its endpoint stays up until Prometheus has its last values.
    let out = dir.path().join("r.json");
    let mut run = run_against(
        &served,
        &pki,
        &out,
        &["--metrics", &run_metrics, "--metrics-linger", "60s"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let rx = lines(&mut run);
    wait_line(&rx, "stay up");
    let r = results(&out);
    let p = &r["phases"][0];
    let phase = p["plan"]["name"].as_str().unwrap();
    let ok = p["sessions"]["ok"].as_f64().unwrap();
    assert_eq!(ok, 20.0, "{}", p["failures"]);
    let q = format!("sipbench_run_sessions_ok_total{{job=\"run\",phase=\"{phase}\"}}");
    wait_for(&web, &q, |v| v == ok);
    let q =
        format!("sipbench_run_transactions_total{{job=\"run\",phase=\"{phase}\",method=\"OPTIONS\",outcome=\"ok\"}}");
    wait_for(&web, &q, |v| v == p["transactions"]["OPTIONS"]["ok"].as_f64().unwrap());
    let q = format!("sipbench_run_latency_seconds_count{{job=\"run\",phase=\"{phase}\",metric=\"sip.OPTIONS\"}}");
    wait_for(&web, &q, |v| v == ok);
    interrupt(&mut run);

    // The server: no traffic after the run, so a sample scraped after it is final.
    let after = unix_now();
    wait_for(&web, "timestamp(sipbench_server_requests_total{job=\"serve\"})", |t| {
        t > after
    });
    let requests = query(&web, "sipbench_server_requests_total{job=\"serve\"}").unwrap();
    let handshakes = query(&web, "sum(sipbench_server_handshakes_total{job=\"serve\"})").unwrap();
    let stats = served.stop();
    assert_eq!(requests, stats["requests"].as_f64().unwrap());
    assert_eq!(requests, 40.0);
    assert_eq!(handshakes, stats["handshakes_ok"].as_f64().unwrap());
}
