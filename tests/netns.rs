//! Several hosts without a cluster: network namespaces made by this test (veth pairs on a bridge
//! that lives in a namespace of its own, so nothing touches the machine's own network), one
//! running `sipbench serve`, three running shards of one run against it over their own
//! addresses at one `--start-at` instant; then `sipbench merge`. The merged totals equal what
//! the server counted, and the server saw the three shards' source addresses.
//!
//! Needs root (CI runs as root); elsewhere it prints why and passes without running. Every
//! namespace it made is removed, whatever happens.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

const SHARDS: usize = 3;

/// The namespaces of one test run, deleted on drop (their veths and the bridge go with them).
struct Net {
    names: Vec<String>,
}

impl Drop for Net {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A hub namespace holding a bridge, and one namespace per node with its address on it.
fn make_net(prefix: &str, subnet: &str, nodes: &[(&str, u8)]) -> Net {
    let hub = format!("{prefix}hub");
    let mut net = Net {
        names: vec![hub.clone()],
    };
    ip(&["netns", "add", &hub]);
    ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"]);
    ip(&["-n", &hub, "link", "set", "br0", "up"]);
    for (i, (node, host)) in nodes.iter().enumerate() {
        let ns = format!("{prefix}{node}");
        ip(&["netns", "add", &ns]);
        net.names.push(ns.clone());
        let (a, b) = (format!("v{i}"), format!("v{i}p"));
        ip(&[
            "-n", &hub, "link", "add", &a, "type", "veth", "peer", "name", &b, "netns", &ns,
        ]);
        ip(&["-n", &hub, "link", "set", &a, "master", "br0", "up"]);
        ip(&["-n", &ns, "addr", "add", &format!("{subnet}.{host}/24"), "dev", &b]);
        ip(&["-n", &ns, "link", "set", &b, "up"]);
        ip(&["-n", &ns, "link", "set", "lo", "up"]);
    }
    net
}

fn sipbench_in(ns: &str) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_sipbench")])
        .env("RUST_LOG", "error");
    c
}

/// Whether this process runs as root (its effective uid, from /proc).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

#[test]
fn three_shards_in_their_own_namespaces_merge_to_what_the_server_counted() {
    if !is_root() {
        eprintln!("SKIPPED: network namespaces need root (CI runs this as root)");
        return;
    }
    if Command::new("ip").arg("-V").output().is_err() {
        eprintln!("SKIPPED: no `ip` command (iproute2)");
        return;
    }
    let pid = std::process::id();
    let prefix = format!("sb{}", pid % 100_000);
    let subnet = format!("10.{}.{}", 200 + pid % 50, (pid / 50) % 250);
    let mut nodes = vec![("srv", 1u8)];
    let shard_names: Vec<String> = (0..SHARDS).map(|i| format!("s{i}")).collect();
    for (i, s) in shard_names.iter().enumerate() {
        nodes.push((s.as_str(), 10 + i as u8));
    }
    let _net = make_net(&prefix, &subnet, &nodes);

    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let st = Command::new(env!("CARGO_BIN_EXE_sipbench"))
        .args(["pki", "init"])
        .arg(&pki)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let server_ip = format!("{subnet}.1");
    let mut serve = sipbench_in(&format!("{prefix}srv"))
        .args(["serve", "--tls-addr", &format!("{server_ip}:5061")])
        .args(["--mtls-addr", &format!("{server_ip}:5062")])
        .args(["--tcp-addr", &format!("{server_ip}:5060"), "--workers", "1", "--pki"])
        .arg(&pki)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addrs = common::wait_ready(&mut serve);
    assert_eq!(addrs["tls"], format!("{server_ip}:5061"));

    // Every shard starts its phase on one instant, two seconds from now.
    let start = time::OffsetDateTime::now_utc() + Duration::from_secs(2);
    let start = start.format(&time::format_description::well_known::Rfc3339).unwrap();
    let shards: Vec<_> = shard_names
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let out = dir.path().join(format!("shard-{i}.json"));
            let child = sipbench_in(&format!("{prefix}{s}"))
                .args(["run", "--tls-addr", &addrs["tls"], "--server-name", "sip.example.test"])
                .arg("--ca")
                .arg(pki.join("enterprise-ca.pem"))
                .args([
                    "--mode",
                    "tls",
                    "--sessions",
                    "60",
                    "--concurrency",
                    "6",
                    "--warmup",
                    "0s",
                ])
                .args([
                    "--shard",
                    &format!("{i}/{SHARDS}"),
                    "--start-at",
                    &start,
                    "-w",
                    "1",
                    "-q",
                    "-o",
                ])
                .arg(&out)
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (out, child)
        })
        .collect();
    let mut files = Vec::new();
    for (out, child) in shards {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        files.push(out);
    }
    // The server's own counters, printed on SIGTERM.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(serve.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let o = serve.wait_with_output().unwrap();
    let server: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();

    let merged = dir.path().join("merged.json");
    let o = Command::new(env!("CARGO_BIN_EXE_sipbench"))
        .arg("merge")
        .args(&files)
        .arg("-o")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    common::assert_valid(&m);
    assert_eq!(m["merged_from"], SHARDS);
    let p = &m["phases"][0];
    assert_eq!(p["sessions"]["ok"], 60, "{}", p["failures"]);
    // What the shards say they did is what the server saw: one connection and two requests
    // (REGISTER, OPTIONS) a session.
    // Each shard also opened one session for its clock probe (OPTIONS on their own).
    let probes: u64 = m["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["clock"]["probes"].as_u64().expect("each shard probed the clock"))
        .sum();
    assert_eq!(server["accepted"], 60 + SHARDS as u64, "{server}");
    assert_eq!(server["requests"], 120 + probes, "{server}");
    assert_eq!(p["latency_us"]["session"]["count"], 60);
    // Each shard connected from its own namespace's address.
    for (i, f) in files.iter().enumerate() {
        let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        assert_eq!(r["shard"]["index"], i, "{f:?}");
        assert_eq!(r["phases"][0]["sessions"]["ok"], 20, "{f:?}");
    }
}
