//! Every numeric flag and profile field, driven through the binary with zero, negative, huge
//! and malformed values: each is a clean error that names the flag or field, exit status 2,
//! before anything starts, and never a panic.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs the binary, killing it if it has not exited after 30 s (a value that was wrongly
/// accepted would start a server or a run).
fn sipbench(args: &[String]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sipbench"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn assert_refused(args: &[String], names: &str) {
    let o = sipbench(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(names), "error for {args:?} does not name {names:?}: {err}");
}

const COUNT: &[&str] = &["0", "-1", "1000000000000", "99999999999999999999999", "many", ""];
const COUNT_ZERO_OK: &[&str] = &["-1", "1000000000000", "99999999999999999999999", "many", ""];
const TIMEOUT: &[&str] = &["0s", "-1s", "2days", "300000000000years", "soon", ""];
const RUN_TIME: &[&str] = &["-1s", "400days", "300000000000years", "soon", ""];
const RATE: &[&str] = &["0", "-1", "1e-300", "1e300", "nan", "inf", "fast", ""];

/// `(flag, bad values)` of a subcommand, each run as `--flag=value` after `prefix`.
fn drive(prefix: &[&str], flags: &[(&str, &[&str])]) {
    for (flag, values) in flags {
        for value in *values {
            let mut args: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
            args.push(format!("--{flag}={value}"));
            // An alias is refused under the flag's own name.
            let named = if *flag == "threads" { "workers" } else { flag };
            assert_refused(&args, &format!("--{named}"));
        }
    }
}

#[test]
fn run_flags_are_range_checked() {
    drive(
        &["run"],
        &[
            ("concurrency", COUNT),
            ("rate", RATE),
            ("connections", COUNT),
            (
                "sessions",
                &["0", "-1", "10000000000000", "99999999999999999999999", "x"],
            ),
            ("duration", &["0s", "-1s", "400days", "300000000000years", "soon"]),
            ("warmup", RUN_TIME),
            ("session-cache", COUNT),
            ("server-cache", COUNT),
            ("ticket-lifetime", &["0s", "-1s", "8days", "300000000000years", "soon"]),
            ("connect-timeout", TIMEOUT),
            ("handshake-timeout", TIMEOUT),
            ("sip-timeout", TIMEOUT),
            ("max-in-flight", COUNT),
            (
                "record-size",
                &["0", "-1", "31", "16385", "99999999999999999999999", "x"],
            ),
            ("body-size", &["-1", "60001", "99999999999999999999999", "x"]),
            ("window", &["0", "-1", "4097", "99999999999999999999999", "x"]),
            ("bad-cert-share", &["0", "-1", "1.5", "nan", "inf", "x"]),
            ("workers", &["0", "-1", "1025", "99999999999999999999999", "x"]),
            ("threads", &["0", "-1", "1025", "x"]),
        ],
    );
}

#[test]
fn the_tiny_rate_of_the_issue_is_refused() {
    assert_refused(&["run".into(), "--rate".into(), "1e-300".into()], "--rate");
}

#[test]
fn serve_flags_are_range_checked() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki").display().to_string();
    drive(
        &[
            "serve",
            "--pki",
            &pki,
            "--tls-addr",
            "127.0.0.1:0",
            "--mtls-addr",
            "127.0.0.1:0",
            "--tcp-addr",
            "127.0.0.1:0",
        ],
        &[
            ("workers", &["0", "-1", "1025", "99999999999999999999999", "x"]),
            ("threads", &["0", "x"]),
            ("max-connections", COUNT),
            ("handshake-timeout", TIMEOUT),
            ("idle-timeout", TIMEOUT),
            ("message-timeout", TIMEOUT),
            ("write-timeout", TIMEOUT),
            ("max-connections-per-address", COUNT_ZERO_OK),
            ("max-contacts", &["0", "-1", "99999999999999999999999", "x"]),
            ("max-records", &["0", "-1", "99999999999999999999999", "x"]),
            ("max-expires", &["0", "-1", "99999999999999999999999", "x"]),
            ("watch-interval", TIMEOUT),
            ("server-cache", COUNT),
            ("ticket-lifetime", &["0s", "-1s", "8days", "300000000000years", "soon"]),
            ("max-early-data", &["-1", "16777217", "99999999999999999999999", "x"]),
            (
                "max-message-size",
                &["0", "-1", "1023", "16777217", "99999999999999999999999", "x"],
            ),
        ],
    );
}

#[test]
fn compare_and_diff_flags_are_range_checked() {
    drive(
        &["compare"],
        &[
            ("rounds", &["0", "-1", "1001", "x"]),
            ("memory-sessions", COUNT_ZERO_OK),
        ],
    );
    drive(
        &["diff", "a.json", "b.json"],
        &[
            ("noise", &["-1", "nan", "inf", "1e300", "x"]),
            ("fail-on-regression", &["-1", "nan", "inf", "1e300", "x"]),
        ],
    );
}

#[test]
fn profile_fields_are_range_checked() {
    let dir = tempfile::tempdir().unwrap();
    let count = ["0", "-1", "1000000000000", "99999999999999999999999", "\"many\""];
    let timeout = [
        "\"0s\"",
        "\"-1s\"",
        "\"2days\"",
        "\"300000000000years\"",
        "\"soon\"",
        "5",
    ];
    let cases: Vec<(&str, &str, Vec<&str>)> = vec![
        ("concurrency", "", count.to_vec()),
        (
            "rate",
            "",
            vec!["0.0", "-1.0", "1e-300", "1e300", "nan", "inf", "\"fast\""],
        ),
        ("connections", "workload = \"kept\"\n", count.to_vec()),
        (
            "sessions",
            "",
            vec!["0", "-1", "10000000000000", "99999999999999999999999"],
        ),
        (
            "duration",
            "",
            vec!["\"0s\"", "\"400days\"", "\"300000000000years\"", "\"soon\""],
        ),
        ("warmup", "", vec!["\"400days\"", "\"300000000000years\"", "\"soon\""]),
        ("session_cache", "", count.to_vec()),
        ("server_cache", "", count.to_vec()),
        (
            "ticket_lifetime",
            "",
            vec!["\"0s\"", "\"8days\"", "\"300000000000years\""],
        ),
        ("connect_timeout", "", timeout.to_vec()),
        ("handshake_timeout", "", timeout.to_vec()),
        ("sip_timeout", "", timeout.to_vec()),
        ("max_in_flight", "", count.to_vec()),
        (
            "record_size",
            "",
            vec!["0", "-1", "31", "16385", "99999999999999999999999"],
        ),
        ("body_size", "", vec!["-1", "60001", "99999999999999999999999"]),
        ("window", "", vec!["0", "-1", "4097", "99999999999999999999999"]),
        (
            "bad_cert_share",
            "mode = \"mtls\"\nbad_cert = \"revoked\"\n",
            vec!["0.0", "-1.0", "1.5", "nan", "inf"],
        ),
    ];
    let mut i = 0;
    for (field, extra, values) in cases {
        for value in values {
            i += 1;
            let path = dir.path().join(format!("p{i}.toml"));
            std::fs::write(&path, format!("[[phase]]\nname = \"x\"\n{extra}{field} = {value}\n")).unwrap();
            assert_refused(&["run".into(), "--profile".into(), path.display().to_string()], field);
        }
    }
}
