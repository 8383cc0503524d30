//! The binary as a user drives it: the embedded default end to end, the results contract
//! (checked against results/schema.json), errors that name the field, interrupted runs.

mod common;
use common::sipbench;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use sipbench::results::RunResult;
use sipbench::stats::decode_histogram;

use common::{assert_valid, schema};

const MINI_PROFILE: &str = r#"
name = "mini"
[defaults]
warmup = "100ms"
duration = "400ms"
[[phase]]
name = "tls"
mode = "tls"
concurrency = 4
[[phase]]
name = "mtls"
mode = "mtls"
concurrency = 4
transactions = ["REGISTER", "MESSAGE", "INVITE"]
[[phase]]
name = "open"
mode = "tls"
rate = 200.0
[[phase]]
name = "kept"
mode = "tcp"
workload = "kept"
connections = 8
transactions = ["OPTIONS"]
[[phase]]
name = "hold"
mode = "mtls"
workload = "hold"
connections = 50
"#;

#[test]
fn embedded_run_writes_a_results_file_that_matches_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("mini.toml");
    std::fs::write(&profile, MINI_PROFILE).unwrap();
    let out = dir.path().join("r.json");
    let o = sipbench()
        .args(["run", "--profile"])
        .arg(&profile)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The summary says what was measured and on what.
    for needle in [
        "phase tls:",
        "phase mtls:",
        "TLSv1_3",
        "peer key ECDSA P-256",
        "handshake.full",
        "p99",
        "aws-lc-rs",
        "sessions held",
    ] {
        assert!(stdout.contains(needle), "summary lacks {needle:?}:\n{stdout}");
    }

    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_valid(&json);
    let r = RunResult::read(&out).unwrap();
    assert!(r.complete && !r.interrupted);
    assert_eq!(r.target.kind, "embedded");
    assert_eq!(r.phases.len(), 5);
    for p in &r.phases {
        assert!(p.sessions.ok > 0, "{}: {:?}", p.plan.name, p.sessions);
        assert!(p.failures.is_empty(), "{}: {:?}", p.plan.name, p.failures);
        for (metric, summary) in &p.latency_us {
            let h = decode_histogram(&p.histograms[metric]).unwrap();
            assert_eq!(h.len(), summary.count, "{}: {metric}", p.plan.name);
            assert_eq!(h.value_at_quantile(0.99), summary.p99);
        }
    }
    let open = &r.phases[2];
    assert!(open.latency_us.contains_key("session.uncorrected"));
    let hold = r.phases[4].memory.expect("hold reports memory");
    assert_eq!(hold.sessions_held, 50);
    assert!(hold.per_session_bytes > 0);
    let server = r.server.expect("embedded server counters");
    assert!(server.handshakes_ok > 0 && server.requests > 0);

    // The schema check can fail: a file missing a field or with an unknown one is refused.
    let mut broken = json.clone();
    broken["phases"][0].as_object_mut().unwrap().remove("rates");
    assert!(!schema().is_valid(&broken));
    let mut broken = json;
    broken["phases"][0]["failures"]["made-up-kind"] = 3.into();
    assert!(!schema().is_valid(&broken));
}

#[test]
fn bad_profile_fields_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[[phase]]\nname = \"a\"\nconcurency = 4\n", "concurency"),
        ("[[phase]]\nname = \"a\"\nmode = \"quic\"\n", "quic"),
        ("[[phase]]\nname = \"a\"\nrate = -5.0\n", "rate"),
        ("[[phase]]\nname = \"a\"\nrate = \"5..x\"\n", "rate"),
        ("[[phase]]\nname = \"a\"\nrate = [5, 10]\nramp = \"1s\"\n", "ramp"),
        (
            "[[phase]]\nname = \"a\"\nworkload = \"kept\"\nconnections = 0\n",
            "connections",
        ),
        ("[[phase]]\nname = \"a\"\nwarmup = \"a while\"\n", "warmup"),
    ];
    for (i, (text, field)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("p{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let o = sipbench().args(["run", "--profile"]).arg(&path).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{text}: {err}");
        assert!(err.contains(field), "error for {text:?} does not name {field:?}: {err}");
    }
}

#[test]
fn bad_flags_are_named() {
    for (args, field) in [
        (vec!["run", "--concurrency", "0", "-d", "1s"], "concurrency"),
        (vec!["run", "--rate", "10", "--concurrency", "3"], "--concurrency"),
        (vec!["run", "--mode", "sctp"], "--mode"),
        (vec!["run", "--duration", "forever"], "--duration"),
        (vec!["run", "--transactions", "OPTIONS,PING"], "PING"),
        (vec!["run", "--phase", "nope"], "nope"),
        (vec!["run", "--rate", "5..x"], "--rate"),
        (vec!["run", "--rate", "5..x"], "`x` is not a number"),
        (vec!["run", "--rate", "5,0.0001"], "--rate"),
        (vec!["run", "--rate", "5", "--ramp", "2s"], "ramp"),
        (vec!["run", "--rate", "5..50", "--step", "2s"], "step"),
        (vec!["run", "--cipher-suite", "TLS13_ROT13", "-d", "1s"], "cipher_suite"),
        (
            vec![
                "run",
                "--cipher-suite",
                "TLS13_AES_128_GCM_SHA256",
                "--tls-versions",
                "1.2",
            ],
            "cipher_suite",
        ),
        (
            vec!["run", "--tls-addr", "127.0.0.1:1", "--mode", "tls", "-n", "1"],
            "--ca",
        ),
    ] {
        let o = sipbench().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(field), "error for {args:?} does not name {field:?}: {err}");
    }
}

/// Step rates: the timeline carries the offered rate as it changes and the results file a
/// summary per step, both in the schema. Counts only, never speed.
#[test]
fn step_rates_show_in_the_timeline_and_per_step() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("steps.json");
    let o = sipbench()
        .args([
            "run",
            "--mode",
            "tcp",
            "--workload",
            "kept",
            "--connections",
            "2",
            "--transactions",
            "OPTIONS",
            "--rate",
            "10,30",
            "--step",
            "1s",
            "--warmup",
            "0s",
            "-w",
            "1",
            "-q",
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_valid(&json);
    let phase = &json["phases"][0];
    assert_eq!(phase["plan"]["shape"]["kind"], "steps");
    assert_eq!(phase["plan"]["duration"], "2s");
    let offered: Vec<f64> = phase["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["offered_per_s"].as_f64().unwrap())
        .collect();
    assert!(offered[0] < 11.0 && offered[1] > 29.0, "{offered:?}");
    let steps = phase["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(
        (steps[0]["rate"].as_f64(), steps[1]["rate"].as_f64()),
        (Some(10.0), Some(30.0))
    );
    let sent: u64 = steps
        .iter()
        .map(|s| s["transactions_ok"].as_u64().unwrap() + s["failures"].as_u64().unwrap())
        .sum();
    assert!(sent > 0);
}

#[test]
fn interrupted_run_keeps_valid_partial_results() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let mut child = sipbench()
        .args([
            "run", "--mode", "tls", "-c", "4", "--warmup", "100ms", "-d", "60s", "-q", "-o",
        ])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let t = Instant::now();
    let status = child.wait().unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "interrupt took {:?}",
        t.elapsed()
    );
    assert_eq!(status.code(), Some(130));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_valid(&json);
    let r = RunResult::read(&out).unwrap();
    assert!(r.interrupted && !r.complete);
    assert_eq!(r.phases.len(), 1);
    let p = &r.phases[0];
    assert!(p.interrupted);
    assert!(p.sessions.ok > 0);
    assert!(p.failures.is_empty(), "an interrupt is not a failure: {:?}", p.failures);
}

#[test]
fn pki_init_writes_a_loadable_pki() {
    let dir = tempfile::tempdir().unwrap();
    let o = sipbench()
        .args(["pki", "init"])
        .arg(dir.path())
        .args(["--key-type", "ed25519"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pki = sipbench::pki::Pki::load(dir.path()).unwrap();
    assert_eq!(pki.key_type, sipbench::pki::KeyType::Ed25519);
    let o = sipbench()
        .args(["pki", "init"])
        .arg(dir.path())
        .args(["--key-type", "dsa"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--key-type"));
}

#[test]
fn serve_answers_the_generator_and_drains_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let pki_dir = dir.path().join("pki");
    let mut server = sipbench()
        .args([
            "serve",
            "--tls-addr",
            "127.0.0.1:0",
            "--mtls-addr",
            "127.0.0.1:0",
            "--tcp-addr",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--pki",
        ])
        .arg(&pki_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The ready line names the bound addresses: "sipbench serve: tls A · mtls B · tcp C · ...".
    let addrs = common::wait_ready(&mut server);
    let (tls, mtls) = (addrs["tls"].clone(), addrs["mtls"].clone());

    let out = dir.path().join("r.json");
    let o = sipbench()
        .args([
            "run",
            "--tls-addr",
            &tls,
            "--mtls-addr",
            &mtls,
            "--server-name",
            "sip.example.test",
            "--ca",
        ])
        .arg(pki_dir.join("enterprise-ca.pem"))
        .arg("--cert")
        .arg(pki_dir.join("edge.pem"))
        .arg("--key")
        .arg(pki_dir.join("edge.key"))
        .args(["--mode", "mtls", "-n", "20", "-c", "2", "--warmup", "0s", "-q", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = RunResult::read(&out).unwrap();
    assert_eq!(r.target.kind, "remote");
    assert_eq!(r.phases[0].sessions.ok, 20, "{:?}", r.phases[0].failures);

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let o = server.wait_with_output().unwrap();
    assert!(o.status.success());
    let stats: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(stats["handshakes_ok"].as_u64().unwrap() >= 20, "{stats}");
    assert_eq!(stats["requests"].as_u64().unwrap(), 40, "{stats}");
}

/// A supervisor (systemd, a test harness, scripts/attacks.py) may send SIGTERM the instant the
/// ready line appears: the handlers are in place before it is printed, so the server still
/// drains and prints its counters instead of dying of the signal's default action.
#[test]
fn serve_catches_sigterm_sent_as_soon_as_it_is_ready() {
    let dir = tempfile::tempdir().unwrap();
    let pki_dir = dir.path().join("pki");
    for round in 0..5 {
        let mut server = sipbench()
            .args(["serve", "--tls-addr", "127.0.0.1:0", "--mtls-addr", "127.0.0.1:0"])
            .args(["--tcp-addr", "127.0.0.1:0", "--workers", "1", "--pki"])
            .arg(&pki_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        common::wait_ready(&mut server);
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(server.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let o = server.wait_with_output().unwrap();
        assert!(o.status.success(), "round {round}: {:?}", o.status);
        let stats: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(stats["accepted"], 0, "round {round}: {stats}");
    }
}

#[test]
fn hlog_reads_back_into_the_same_histograms_and_the_timeline_adds_up() {
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let dir = tempfile::tempdir().unwrap();
    let (out, hlog) = (dir.path().join("r.json"), dir.path().join("r.hlog"));
    let o = sipbench()
        .args([
            "run", "--mode", "tls", "-c", "4", "--warmup", "100ms", "-d", "2500ms", "--json", "-o",
        ])
        .arg(&out)
        .arg("--hlog")
        .arg(&hlog)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // --json prints the results file itself on standard output.
    let printed: serde_json::Value = serde_json::from_slice(&o.stdout).expect("--json prints JSON");
    assert_valid(&printed);
    let r = RunResult::read(&out).unwrap();
    let p = &r.phases[0];

    // Every interval histogram, summed per tag, is the phase's histogram for that metric, in
    // nanoseconds (the untagged ones, under "", are the headline: session latency).
    let text = std::fs::read(&hlog).unwrap();
    let mut sums: std::collections::BTreeMap<String, hdrhistogram::Histogram<u64>> = Default::default();
    let mut deserializer = hdrhistogram::serialization::Deserializer::new();
    for entry in IntervalLogIterator::new(&text) {
        let LogEntry::Interval(h) = entry.expect("valid log entry") else {
            continue;
        };
        let tag = h.tag().map(|t| t.as_str().to_owned()).unwrap_or_default();
        let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, h.encoded_histogram()).unwrap();
        let hist: hdrhistogram::Histogram<u64> = deserializer.deserialize(&mut bytes.as_slice()).unwrap();
        sums.entry(tag)
            .or_insert_with(|| hdrhistogram::Histogram::new(3).unwrap())
            .add(&hist)
            .unwrap();
    }
    let head = String::from_utf8_lossy(&text);
    assert!(
        head.contains(&format!(
            "#[Phase {}: the untagged histograms are its session latency]",
            p.plan.name
        )),
        "{head}"
    );
    let expected =
        |metric: &str| sipbench::generator::observe::to_nanoseconds(&decode_histogram(&p.histograms[metric]).unwrap());
    for (metric, summary) in &p.latency_us {
        let tag = format!("{}/{metric}", p.plan.name);
        let sum = sums
            .get(&tag)
            .unwrap_or_else(|| panic!("no {tag} in the log: {:?}", sums.keys()));
        let whole = expected(metric);
        assert_eq!(sum.len(), summary.count, "{tag}");
        assert_eq!(sum.value_at_quantile(0.99), whole.value_at_quantile(0.99), "{tag}");
        assert_eq!(sum.max(), whole.max(), "{tag}");
        // Nanoseconds: the microsecond figure times 1,000, within the histogram's precision.
        let (ns, us) = (sum.value_at_quantile(0.99) as f64, summary.p99 as f64);
        assert!((ns / 1000.0 - us).abs() <= us / 500.0 + 1.0, "{tag}: {ns} ns, {us} us");
    }
    let untagged = &sums[""];
    assert_eq!(untagged.len(), p.latency_us["session"].count);
    assert_eq!(untagged.max(), expected("session").max());
    // The timeline: about one point a second, adding up to the phase's totals.
    assert!((2..=4).contains(&p.timeline.len()), "{:?}", p.timeline);
    assert_eq!(p.timeline.iter().map(|t| t.sessions_ok).sum::<u64>(), p.sessions.ok);
    assert!(p.timeline.iter().all(|t| t.metric == "session"));
}

#[test]
fn stored_results_still_validate_and_read() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.extension().is_none_or(|e| e != "json") || name.starts_with("schema") {
            continue;
        }
        if name.starts_with("compare-") {
            // `sipbench compare` files (sipbench-compare/1): every round is a full phase result.
            let c: sipbench::compare::CompareResult = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(c.schema, "sipbench-compare/1");
            assert_eq!(c.rounds.len() % c.variants.len(), 0, "{name}");
            assert!(c.summary.iter().all(|s| s.failures == 0), "{name}");
            continue;
        }
        if name.starts_with("audit") {
            // The audit's own report (sipbench-audit/2), not a run.
            let a: sipbench::audit::command::AuditReport =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!((a.schema.as_str(), a.failed), ("sipbench-audit/2", 0));
            continue;
        }
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_valid(&json);
        RunResult::read(&path).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        n += 1;
    }
    assert!(n >= 5, "stored runs found: {n}");
}

#[test]
fn backends_lists_every_backend_with_what_it_can_do() {
    let o = sipbench().args(["backends", "--json"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["schema"], "sipbench-backends/1");
    let list = &report["backends"];
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["aws-lc-rs", "ring", "graviola", "openssl"]);
    for b in list.as_array().unwrap() {
        let has = |field: &str, v: &str| b[field].as_array().unwrap().iter().any(|x| x == v);
        assert!(has("cipher_suites", "TLS13_AES_128_GCM_SHA256"), "{b}");
        assert!(has("kx_groups", "X25519") && has("key_types", "ecdsa-p256"), "{b}");
        assert!(b["library"].as_str().unwrap().contains('.'), "versions are given: {b}");
    }
    // ring and OpenSSL 3.0 have no post-quantum hybrid; aws-lc-rs and graviola do.
    let pq = |i: usize| {
        list[i]["kx_groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "X25519MLKEM768")
    };
    assert!(!pq(3) && pq(2));
    assert!(
        list[3]["library"].as_str().unwrap().starts_with("OpenSSL 3"),
        "{}",
        list[3]
    );
    assert!(
        !list[1]["kx_groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "X25519MLKEM768")
    );
    assert!(
        list[0]["kx_groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "X25519MLKEM768")
    );
    let o = sipbench().arg("backends").output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("graviola"));
    // An unknown backend names the flag and the choices.
    let o = sipbench().args(["run", "--backend", "boringssl"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--backend") && err.contains("graviola"), "{err}");
}

/// Every subcommand's help: no rustdoc syntax leaks into it, and the old spellings of renamed
/// flags are hidden.
#[test]
fn every_help_is_plain_text_without_old_spellings() {
    use clap::CommandFactory;
    fn paths(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
        out.push(prefix.to_vec());
        for sub in cmd.get_subcommands() {
            let mut path = prefix.to_vec();
            path.push(sub.get_name().to_owned());
            paths(sub, &path, out);
        }
    }
    let mut all = Vec::new();
    paths(&sipbench::cli::Cli::command(), &[], &mut all);
    assert!(all.len() >= 10, "{all:?}");
    for path in all {
        if path.last().is_some_and(|p| p == "help") {
            continue;
        }
        let o = sipbench().args(&path).arg("--help").output().unwrap();
        let help = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{path:?}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(
            !help.contains("[`"),
            "sipbench {path:?} --help shows rustdoc syntax:\n{help}"
        );
        for old in ["--target", "--mtls-target", "--tcp-target", "--threads", "--client-ca"] {
            assert!(!help.contains(&format!("{old} ")), "{path:?} --help shows {old}");
        }
        if path == ["serve"] || path == ["report"] {
            assert!(
                !help.contains("--session-cache") && !help.contains("-o,"),
                "{path:?}:\n{help}"
            );
        }
    }
}

/// The old spellings of renamed flags still parse, for one release, to the new flags.
#[test]
fn old_flag_spellings_still_parse() {
    use clap::Parser;
    use sipbench::cli::{Cli, Command};
    let parse = |args: &[&str]| Cli::try_parse_from(std::iter::once("sipbench").chain(args.iter().copied())).unwrap();
    let Some(Command::Run(run)) = parse(&[
        "run",
        "--target",
        "a:1",
        "--mtls-target",
        "b:2",
        "--tcp-target",
        "c:3",
        "--threads",
        "3",
    ])
    .command
    else {
        panic!("run")
    };
    let run = run.into_config();
    assert_eq!(
        (
            run.target.tls_addr.as_deref(),
            run.target.mtls_addr.as_deref(),
            run.target.tcp_addr.as_deref()
        ),
        (Some("a:1"), Some("b:2"), Some("c:3"))
    );
    assert_eq!(run.workers, Some(3));

    let Some(Command::Serve(serve)) = parse(&[
        "serve",
        "--tls",
        "127.0.0.1:1",
        "--mtls",
        "127.0.0.1:2",
        "--tcp",
        "127.0.0.1:3",
        "--threads",
        "2",
        "--session-cache",
        "7",
        "--cert",
        "c.pem",
        "--key",
        "k.pem",
        "--client-ca",
        "ca.pem",
    ])
    .command
    else {
        panic!("serve")
    };
    assert_eq!(
        (serve.tls_addr.port(), serve.mtls_addr.port(), serve.tcp_addr.port()),
        (1, 2, 3)
    );
    assert_eq!((serve.workers, serve.server_cache), (Some(2), 7));
    assert_eq!(serve.ca.as_deref(), Some(Path::new("ca.pem")));

    let Some(Command::Audit(audit)) = parse(&["audit", "--target", "a:1", "--mtls-target", "b:2"]).command else {
        panic!("audit")
    };
    assert_eq!(
        (audit.tls_addr.as_deref(), audit.mtls_addr.as_deref()),
        (Some("a:1"), Some("b:2"))
    );

    for old in [["--out", "d"], ["-o", "d"]] {
        let Some(Command::Report(report)) = parse(&["report", "r.json", old[0], old[1]]).command else {
            panic!("report")
        };
        assert_eq!(report.out_dir.as_deref(), Some(Path::new("d")));
    }

    let Some(Command::Compare(compare)) = parse(&["compare", "--backends", "ring", "--threads", "2"]).command else {
        panic!("compare")
    };
    assert_eq!(compare.run.workers, Some(2));
}

/// A results file that cannot be written is found only after the first phase ran: a runtime
/// error, exit status 3; a profile that cannot be read is a configuration error, 2.
#[test]
fn runtime_and_configuration_errors_have_their_own_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let o = sipbench()
        .args([
            "run", "--mode", "tcp", "-c", "1", "--warmup", "0s", "-d", "200ms", "-q", "-o",
        ])
        .arg(file.join("r.json"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("a-file"), "{err}");
    let o = sipbench()
        .args(["run", "--profile"])
        .arg(dir.path().join("missing.toml"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
}

/// A broken threshold exits 1, is printed and is stored with what was observed; a kept one and
/// the default `failures==0` pass; a bad expression is a usage error naming the flag.
#[test]
fn thresholds_decide_the_exit_status_and_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let o = sipbench()
        .args(["run", "--mode", "tcp", "-c", "2", "--warmup", "0s", "-d", "300ms", "-o"])
        .arg(&out)
        .args(["--threshold", "sessions_per_s>1e12", "--threshold", "session.p99<60s"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("THRESHOLD   sessions_per_s>1e12 broken"), "{stdout}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_valid(&json);
    let t = &json["phases"][0]["thresholds"];
    assert_eq!(t[0]["expression"], "failures==0");
    assert_eq!(t[0]["passed"], true);
    assert_eq!(
        (t[1]["expression"].as_str(), t[1]["passed"].as_bool()),
        (Some("sessions_per_s>1e12"), Some(false))
    );
    assert!(t[1]["observed"].as_f64().unwrap() > 0.0);
    assert_eq!(t[2]["passed"], true);

    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        "[[phase]]\nname = \"a\"\nmode = \"tcp\"\nconcurrency = 2\nwarmup = \"0s\"\nduration = \"300ms\"\nthresholds = [\"failure_rate<1%\", \"sessions_per_s>1\"]\n",
    )
    .unwrap();
    let o = sipbench()
        .args(["run", "-q", "--profile"])
        .arg(&profile)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let r = sipbench::results::RunResult::read(&out).unwrap();
    let t = r.phases[0].thresholds.as_ref().unwrap();
    assert_eq!(t.len(), 2, "{t:?}");
    assert!(t.iter().all(|t| t.passed), "{t:?}");

    let o = sipbench()
        .args(["run", "--threshold", "session.p98<5ms"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--threshold") && err.contains("p98"), "{err}");
}
