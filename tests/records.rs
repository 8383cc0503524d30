//! Bulk record throughput phases move real bytes intact: the byte count and CRC-32 the server
//! computes over what it received match what the generator sent, and in echo mode what came
//! back matches too.

use std::time::Duration;

use sipbench::generator::{RunConfig, TargetConfig, run};
use sipbench::plan::{Direction, Mode, PhaseSpec, Workload};
use sipbench::results::PhaseResult;

/// A `records` phase of `phase` (its workload set here) on `workers` workers, quiet, its
/// results file in `dir`.
fn config(dir: &tempfile::TempDir, phase: PhaseSpec, workers: usize) -> RunConfig {
    RunConfig {
        phase: PhaseSpec {
            workload: Some(Workload::Records),
            ..phase
        },
        workers: Some(workers),
        out: Some(dir.path().join("r.json")),
        quiet: true,
        ..Default::default()
    }
}

fn records(mode: Mode, direction: Direction, record_size: usize, connections: usize) -> (PhaseResult, u64) {
    let dir = tempfile::tempdir().unwrap();
    let phase = PhaseSpec {
        mode: Some(mode),
        direction: Some(direction),
        record_size: Some(record_size),
        connections: Some(connections),
        warmup: Some(Duration::from_millis(100)),
        duration: Some(Duration::from_millis(400)),
        ..Default::default()
    };
    let args = config(&dir, phase, 2);
    let report = run(&args).expect("run");
    let server = report.result.server.expect("embedded server").bulk_bytes;
    (report.result.phases[0].clone(), server)
}

#[test]
fn streamed_bytes_arrive_intact_one_way() {
    for (mode, size) in [(Mode::Tls, 16384), (Mode::Mtls, 1024), (Mode::Tcp, 4096)] {
        let (p, server_bytes) = records(mode, Direction::Up, size, 2);
        assert_eq!(p.sessions.ok, 2, "{mode:?}: {:?}", p.failures);
        assert!(p.failures.is_empty(), "{mode:?}: {:?}", p.failures);
        let b = p.bulk.expect("bulk figures");
        assert_eq!(b.record_size, size);
        assert!(b.bytes_out > 1_000_000, "{mode:?}: {b:?}");
        assert_eq!(b.bytes_out, b.records * size as u64);
        assert!(b.mb_per_s_out > 1.0);
        // The server counted at least the measured bytes (it also got the warm-up's).
        assert!(
            server_bytes >= b.bytes_out,
            "{mode:?}: server {server_bytes} < sent {}",
            b.bytes_out
        );
    }
}

#[test]
fn echoed_bytes_come_back_intact() {
    let (p, _) = records(Mode::Tls, Direction::Both, 8192, 2);
    assert_eq!(p.sessions.ok, 2, "{:?}", p.failures);
    let b = p.bulk.unwrap();
    assert!(b.bytes_in > 1_000_000, "{b:?}");
    assert!(b.mb_per_s_in > 1.0);
}

#[test]
fn record_size_outside_a_tls_record_is_refused() {
    let args = RunConfig {
        phase: PhaseSpec {
            workload: Some(Workload::Records),
            record_size: Some(20_000),
            ..Default::default()
        },
        ..Default::default()
    };
    let e = args.plan().unwrap_err().to_string();
    assert!(e.contains("record_size"), "{e}");
}

/// A peer that accepts the bulk switch, swallows the stream, then reports a wrong byte count
/// and CRC: the generator must count the session as failed, not as throughput.
#[test]
fn a_peer_that_loses_bytes_is_caught() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if s.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let mut resp = String::from("SIP/2.0 200 OK\r\n");
                for line in text.lines().filter(|l| {
                    ["Via:", "From:", "To:", "Call-ID:", "CSeq:"]
                        .iter()
                        .any(|h| l.starts_with(h))
                }) {
                    resp.push_str(line);
                    resp.push_str("\r\n");
                }
                resp.push_str("Content-Length: 0\r\n\r\n");
                s.write_all(resp.as_bytes()).await.unwrap();
                let mut sink = vec![0u8; 65536];
                while s.read(&mut sink).await.unwrap_or(0) > 0 {}
                let _ = s.write_all(sipbench::bulk::trailer(5, 0).as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let phase = PhaseSpec {
        mode: Some(Mode::Tcp),
        connections: Some(1),
        warmup: Some(Duration::ZERO),
        duration: Some(Duration::from_millis(200)),
        ..Default::default()
    };
    let args = RunConfig {
        target: TargetConfig {
            tls_addr: Some(addr.to_string()),
            tcp_addr: Some(addr.to_string()),
            ..Default::default()
        },
        ..config(&dir, phase, 1)
    };
    let report = run(&args).expect("run");
    let p = &report.result.phases[0];
    assert_eq!(p.sessions.ok, 0);
    assert_eq!(
        p.failures.get("sip-protocol:bulk-checksum-mismatch"),
        Some(&1),
        "{:?}",
        p.failures
    );
}

/// Bytes are counted as they flow, not at the session's end: every second of the timeline
/// shows some, and together they are the phase's bytes.
#[test]
fn the_timeline_shows_bytes_as_they_flow() {
    let dir = tempfile::tempdir().unwrap();
    let phase = PhaseSpec {
        mode: Some(Mode::Tcp),
        record_size: Some(4096),
        connections: Some(2),
        warmup: Some(Duration::from_millis(100)),
        duration: Some(Duration::from_millis(2500)),
        ..Default::default()
    };
    let args = config(&dir, phase, 2);
    let p = run(&args).expect("run").result.phases[0].clone();
    assert!(p.timeline.len() >= 3, "{:?}", p.timeline);
    for point in &p.timeline[..2] {
        assert!(point.bytes_out > 0, "{:?}", p.timeline);
    }
    let total: u64 = p.timeline.iter().map(|t| t.bytes_out).sum();
    assert_eq!(total, p.bulk.unwrap().bytes_out, "{:?}", p.timeline);
}

/// A one-way stream hears nothing back until the server's trailer: a stream longer than the
/// reader's timeout (5 s at least) still ends verified, not as a timeout.
#[test]
fn a_one_way_stream_longer_than_the_read_timeout_is_not_a_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let phase = PhaseSpec {
        mode: Some(Mode::Tcp),
        direction: Some(Direction::Up),
        record_size: Some(16384),
        connections: Some(1),
        warmup: Some(Duration::ZERO),
        duration: Some(Duration::from_millis(5600)),
        sip_timeout: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    let args = config(&dir, phase, 1);
    let report = run(&args).expect("run");
    let p = &report.result.phases[0];
    assert_eq!((p.sessions.ok, p.sessions.failed), (1, 0), "{:?}", p.failures);
}
