//! `run --shard I/N` against one server: three shards (two in threads, one a process reading
//! its index from JOB_COMPLETION_INDEX), started on one wall-clock instant, then merged: the
//! merged session count is the sum of the shards' and what the server counted, and no two
//! shards used one user.

mod common;

use std::time::{Duration, UNIX_EPOCH};

use common::{TestServer, assert_valid};
use sipbench::pki::files;
use sipbench::plan::Mode;
use sipbench::results::{RunResult, ShardInfo};
use sipbench::shard::Shard;

#[test]
fn three_shards_merge_into_what_the_server_counted() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    // Whole seconds: two to three seconds from now, time enough for every shard to be ready.
    let start = UNIX_EPOCH.elapsed().unwrap().as_secs() + 3;
    let start_at = rustls_pki_types::UnixTime::since_unix_epoch(Duration::from_secs(start));
    let total_sessions = 61;

    let threads: Vec<_> = (0..2)
        .map(|i| {
            let mut config = server.args(Mode::Tls, total_sessions);
            config.phase.concurrency = Some(5);
            config.shard = Some(Shard::new(i, 3).unwrap());
            config.start_at = Some(start_at);
            config.out = Some(dir.path().join(format!("shard-{i}.json")));
            std::thread::spawn(move || sipbench::generator::run(&config).expect("shard runs").path)
        })
        .collect();
    let stamp = time::OffsetDateTime::from_unix_timestamp(start as i64).unwrap();
    let stamp = stamp.format(&time::format_description::well_known::Rfc3339).unwrap();
    let third = dir.path().join("shard-2.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sipbench"))
        .env("RUST_LOG", "warn")
        .env("JOB_COMPLETION_INDEX", "2")
        .args([
            "run",
            "--mode",
            "tls",
            "-n",
            &total_sessions.to_string(),
            "-c",
            "5",
            "--warmup",
            "0s",
        ])
        .args([
            "--transactions",
            "REGISTER,OPTIONS",
            "--workers",
            "2",
            "--shards",
            "3",
            "--start-at",
            &stamp,
        ])
        .args([
            "--tls-addr",
            &server.tls_addr(),
            "--server-name",
            "sip.example.test",
            "-q",
        ])
        .arg("--ca")
        .arg(server.file(files::ENTERPRISE_CA))
        .arg("-o")
        .arg(&third)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut paths: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    paths.push(third);

    let shards: Vec<RunResult> = paths.iter().map(|p| RunResult::read(p).unwrap()).collect();
    for (i, s) in shards.iter().enumerate() {
        assert_eq!(
            s.shard,
            Some(ShardInfo {
                index: i as u32,
                count: 3
            })
        );
        assert!(s.start_at.is_some());
        let opened = s.phases[0].window_start_unix_s.unwrap();
        assert!(
            opened >= start as f64 - 0.01,
            "shard {i} opened at {opened}, before {start}"
        );
    }
    let budgets: Vec<u64> = shards.iter().map(|s| s.phases[0].plan.sessions.unwrap()).collect();
    assert_eq!(budgets, [21, 20, 20]);

    let all = dir.path().join("all.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sipbench"))
        .arg("merge")
        .args(&paths)
        .arg("-o")
        .arg(&all)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_valid(&serde_json::from_str(&std::fs::read_to_string(&all).unwrap()).unwrap());
    let merged = RunResult::read(&all).unwrap();
    assert!(merged.warnings.is_empty(), "{:?}", merged.warnings);
    let m = &merged.phases[0];
    let sum: u64 = shards.iter().map(|s| s.phases[0].sessions.started).sum();
    assert_eq!(m.sessions.started, sum);
    assert_eq!(m.sessions.ok, total_sessions);
    assert_eq!(m.plan.sessions, Some(total_sessions));
    assert_eq!(m.plan.load, sipbench::plan::Load::Closed { concurrency: 5 });
    let offsets: Vec<f64> = merged.shards.iter().map(|s| s.offset_s.unwrap()).collect();
    assert!(offsets.iter().all(|o| *o < 1.0), "{offsets:?}");

    // Each shard read the target's clock (the same as its own here): the bounds hold 0.
    let mut probe_sessions = 0;
    let mut probes = 0;
    for (i, s) in merged.shards.iter().enumerate() {
        let c = s.clock.as_ref().expect("shards probe the clock");
        assert!(c.samples >= 1, "shard {i}: {c:?}");
        assert!(c.low_ms <= 0.0 && 0.0 < c.high_ms, "shard {i}: {c:?}");
        assert!(c.low_ms <= c.offset_ms && c.offset_ms < c.high_ms, "shard {i}: {c:?}");
        probe_sessions += 1;
        probes += u64::from(c.probes);
    }

    // The server counted the phases' sessions and requests, and the probes'.
    let counted = server.counters();
    assert_eq!(counted.accepted, m.sessions.started + probe_sessions);
    let txns: u64 = m.transactions.values().map(|t| t.ok + t.failed).sum();
    assert_eq!(counted.requests, txns + probes);
    // Every session registered a user of its own: no two shards shared a session id.
    assert_eq!(counted.registrar_records, total_sessions);
}

#[test]
fn a_shard_index_past_the_count_is_refused() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sipbench"))
        .env("JOB_COMPLETION_INDEX", "3")
        .args(["run", "--shards", "3", "-n", "1", "-q"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("JOB_COMPLETION_INDEX"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sipbench"))
        .env_remove("JOB_COMPLETION_INDEX")
        .args(["run", "--shards", "3", "-n", "1", "-q"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("JOB_COMPLETION_INDEX"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sipbench"))
        .args(["run", "--shard", "3/3", "-n", "1", "-q"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("3/3"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sipbench"))
        .args(["run", "-n", "1", "-q", "--start-at", "2020-01-01T00:00:00Z"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--start-at"));
}

#[test]
fn shards_take_users_of_their_own() {
    let server = TestServer::start();
    let users = server.dir.path().join("users.csv");
    std::fs::write(&users, "SEQUENTIAL\nu-a\nu-b\nu-c\nu-d\nu-e\nu-f\n").unwrap();
    let threads: Vec<_> = (0..3)
        .map(|i| {
            let mut config = server.args(Mode::Tls, 12);
            config.phase.concurrency = Some(3);
            config.phase.users = Some(users.clone());
            config.shard = Some(Shard::new(i, 3).unwrap());
            config.out = Some(server.dir.path().join(format!("users-{i}.json")));
            std::thread::spawn(move || sipbench::generator::run(&config).expect("shard runs").result)
        })
        .collect();
    for t in threads {
        let r = t.join().unwrap();
        assert_eq!(r.phases[0].sessions.ok, 4);
    }
    // Each shard's four sessions took its two users (u-a and u-d for shard 0, ...): all six
    // registered. Shards taking the first users of the file each would have left two out.
    assert_eq!(server.counters().registrar_records, 6);
}
