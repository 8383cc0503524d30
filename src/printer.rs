//! The terminal summary of a run.

use std::fmt::Write as _;

use crate::plan::{Load, PhasePlan, Workload};
use crate::results::{PhaseResult, RunResult};

/// Renders the run header (what was measured, on what).
pub fn header(r: &RunResult) -> String {
    let e = &r.environment;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "sipbench {} (rev {}, {} build), profile {}",
        e.sipbench_version, e.git_revision, e.build_profile, r.profile
    );
    let _ = writeln!(
        s,
        "machine    {} · {} cores · {} · {}",
        e.cpu_model, e.cores, e.os, e.kernel
    );
    let _ = writeln!(
        s,
        "stack      rustls {} · {} · tokio {}",
        e.rustls_version, e.crypto_library, e.tokio_version
    );
    let target = match r.target.kind.as_str() {
        "embedded" => "built-in server in this process (shares the cores; CPU figures include it)".to_owned(),
        _ => format!(
            "remote, tls {} · mtls {}",
            r.target.tls.join(" "),
            r.target.mtls.join(" ")
        ),
    };
    let _ = writeln!(s, "target     {target}, server name {}", r.target.server_name);
    if !r.target.trust.is_empty() {
        let _ = writeln!(s, "trust      {}", r.target.trust);
    }
    if let Some(shard) = r.shard {
        let _ = writeln!(
            s,
            "shard      {} of {} (from 0): its part of the load, sessions, users and addresses{}",
            shard.index,
            shard.count,
            r.start_at
                .as_ref()
                .map(|at| format!(", starting at {at}"))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(
        s,
        "backend    generator {} · server {} · {} workers{}",
        e.backend,
        e.server_backend,
        r.workers,
        r.key_type
            .as_ref()
            .map(|k| format!(" · PKI key type {k}"))
            .unwrap_or_default()
    );
    if e.build_profile == "debug" {
        let _ = writeln!(
            s,
            "warning    debug build: figures are not benchmark figures; use --release"
        );
    }
    for w in &r.warnings {
        let _ = writeln!(s, "warning    {w}");
    }
    s
}

/// The clock line: this host's clock against the target's, or why it was not measured.
pub fn clock(c: &crate::results::ClockOffset) -> String {
    if c.samples == 0 {
        return format!(
            "clock against {}: not measured ({})",
            c.against,
            c.note.as_deref().unwrap_or("no answer")
        );
    }
    let mut line = format!(
        "clock against {}: target {:+.1} ms from this host (between {:+.1} and {:+.1} ms; {} probes)",
        c.against, c.offset_ms, c.low_ms, c.high_ms, c.probes
    );
    if let Some(note) = &c.note {
        line.push_str("; ");
        line.push_str(note);
    }
    line
}

/// Renders one phase.
pub fn phase(p: &PhaseResult) -> String {
    let mut s = String::new();
    let plan = &p.plan;
    let _ = writeln!(
        s,
        "\nphase {}: {} · {} · {} · {:.2} s measured{}",
        plan.name,
        plan.mode.as_str(),
        plan.workload.as_str(),
        describe_load(plan),
        p.measured_s,
        if p.interrupted { " · INTERRUPTED" } else { "" }
    );
    let (ok, failed, started) = (p.sessions.ok, p.sessions.failed, p.sessions.started);
    match plan.workload {
        Workload::Sessions => {
            let _ = writeln!(s, "  sessions    {ok} ok, {failed} failed (of {started} started)");
            let _ = writeln!(
                s,
                "  rate        {:.1} sessions/s · {:.1} handshakes/s · {:.1} transactions/s",
                p.rates.sessions_per_s, p.rates.handshakes_per_s, p.rates.transactions_per_s
            );
            if let Some(r) = &p.rejections {
                let reasons: Vec<String> = r.by_reason.iter().map(|(k, v)| format!("{k} {v}")).collect();
                let _ = writeln!(
                    s,
                    "  bad certs   {} sessions presented `{}` ({:.0}%): {} refused ({:.1}/s), {} ACCEPTED · {}",
                    r.sessions,
                    r.bad_cert,
                    r.share * 100.0,
                    r.rejected,
                    r.rejected_per_s,
                    r.accepted,
                    if reasons.is_empty() {
                        "-".into()
                    } else {
                        reasons.join(", ")
                    }
                );
            }
        }
        Workload::Kept => {
            let _ = writeln!(
                s,
                "  sessions    {ok} kept to the end, {failed} failed (of {started} opened)"
            );
            let _ = writeln!(s, "  rate        {:.1} transactions/s", p.rates.transactions_per_s);
        }
        Workload::Records => {
            let _ = writeln!(
                s,
                "  sessions    {ok} streamed and verified (byte count and CRC-32), {failed} failed (of {started} opened)"
            );
            if let Some(b) = &p.bulk {
                let _ = writeln!(
                    s,
                    "  throughput  {:.1} MB/s out · {:.1} MB/s in · {:.0} records/s · {:.1} MB/s per session · CPU {:.2} s per GB",
                    b.mb_per_s_out, b.mb_per_s_in, b.records_per_s, b.mb_per_s_per_session, b.cpu_s_per_gb
                );
            }
        }
        Workload::Messages => {
            let _ = writeln!(
                s,
                "  sessions    {ok} kept to the end, {failed} failed (of {started} opened)"
            );
            if let Some(m) = &p.messages {
                let _ = writeln!(
                    s,
                    "  rate        {:.1} messages/s · {:.1} MB/s of bodies ({} B bodies, window {})",
                    m.messages_per_s, m.body_mb_per_s, m.body_size, m.window
                );
            }
        }
        Workload::Storm => {
            let _ = writeln!(
                s,
                "  sessions    {ok} back after the cut, {failed} not (of {started} cut)"
            );
            if let Some(st) = &p.storm {
                let all = st
                    .all_back_ms
                    .map(|ms| format!("all back after {ms:.1} ms"))
                    .unwrap_or_else(|| "not all came back".into());
                let _ = writeln!(
                    s,
                    "  storm       {all} · reconnects {:.0}% resumed · `session` below is cut-to-back time",
                    p.handshakes.resumption_ratio * 100.0
                );
            }
        }
        Workload::Hold => {
            let _ = writeln!(
                s,
                "  sessions    {ok} held and answering at the end, {failed} failed (of {started} opened)"
            );
        }
    }
    if plan.workload != Workload::Sessions {
        let _ = writeln!(
            s,
            "  set-up      connect and handshake latencies below are of the set-up, before the window"
        );
    }
    let h = &p.handshakes;
    if plan.resumption != crate::plan::Resumption::Off {
        let _ = writeln!(
            s,
            "  resumption  {} · {:.1}% resumed ({} resumed, {} with 0-RTT accepted, {} full)",
            plan.resumption.as_str(),
            h.resumption_ratio * 100.0,
            h.resumed,
            h.resumed_0rtt,
            h.full + h.full_hrr
        );
        if !h.resumed_by.is_empty() {
            let by: Vec<String> = h.resumed_by.iter().map(|(k, v)| format!("{v} by {k}")).collect();
            let _ = writeln!(s, "  resumed by  {}", by.join(", "));
        }
    }
    for n in &p.negotiated {
        let _ = writeln!(
            s,
            "  negotiated  {} {} {} · peer key {} · {} × {}",
            n.protocol, n.cipher_suite, n.kx_group, n.peer_key, n.handshake, n.count
        );
    }
    if let Some(a) = &p.auth {
        let failed: u64 = p
            .failures
            .iter()
            .filter(|(k, _)| k.starts_with("auth:"))
            .map(|(_, v)| v)
            .sum();
        let _ = writeln!(
            s,
            "  auth        {} digest challenges (401/407) answered, their round trips inside the SIP latencies · {failed} auth failures",
            a.challenges
        );
    }
    if let Some(c) = &p.calls {
        let _ = writeln!(
            s,
            "  calls       {} completed, {} failed ({} attempted) · {:.1} calls/s · {} concurrent at most · held {}s",
            c.completed, c.failed, c.attempted, c.calls_per_s, c.concurrent_max, c.hold_s
        );
    }
    if let Some(u) = &p.udp {
        let _ = writeln!(
            s,
            "  udp         {} requests retransmitted (RFC 3261 timers A/E from T1 = 500 ms; latency runs from the first send)",
            u.retransmissions
        );
    }
    if !p.latency_us.is_empty() {
        // Shown in milliseconds, as every view for people is (the file keeps microseconds);
        // three decimals keep the microsecond resolution.
        let _ = writeln!(
            s,
            "  latency ms  {:<24} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "", "count", "p50", "p90", "p99", "p99.9", "max"
        );
        let ms = |us: u64| format!("{:.3}", us as f64 / 1000.0);
        for (name, l) in &p.latency_us {
            let _ = writeln!(
                s,
                "              {:<24} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                name,
                l.count,
                ms(l.p50),
                ms(l.p90),
                ms(l.p99),
                ms(l.p99_9),
                ms(l.max)
            );
        }
    }
    for (m, t) in &p.transactions {
        if t.failed > 0 {
            let _ = writeln!(s, "  {m:<11} {} ok, {} failed", t.ok, t.failed);
        }
    }
    if !p.failures.is_empty() {
        let list: Vec<String> = p.failures.iter().map(|(k, v)| format!("{k} × {v}")).collect();
        let _ = writeln!(s, "  failures    {}", list.join(", "));
    }
    let who = if p.cpu.includes_server {
        "generator + embedded server"
    } else {
        "generator"
    };
    let mut cpu = format!(
        "  cpu         {:.2} s user + {:.2} s system ({who})",
        p.cpu.user_s, p.cpu.system_s
    );
    if p.cpu.per_session_us > 0.0 && plan.workload == Workload::Sessions {
        let _ = write!(cpu, " · {:.0} us per session", p.cpu.per_session_us);
    } else if p.cpu.per_transaction_us > 0.0 {
        let _ = write!(cpu, " · {:.1} us per transaction", p.cpu.per_transaction_us);
    }
    let _ = writeln!(s, "{cpu}");
    if let Some(e) = &p.efficiency {
        let (unit, each) = match e.bare.as_str() {
            "kept" => ("transactions/s", "each"),
            "records" => ("MB/s", "per MB"),
            _ => ("sessions/s", "each"),
        };
        let _ = writeln!(
            s,
            "  efficiency  {:.2} of this machine's bare tokio-rustls loop ({:.0} vs {:.0} {unit}; {:.0} vs {:.0} us CPU {each}; bare {} {}, {} threads, {} sessions)",
            e.ratio, e.per_s, e.bare_per_s, e.cpu_us, e.bare_cpu_us, e.bare, e.negotiated, e.threads, e.sessions
        );
    }
    if let Some(m) = &p.memory {
        let _ = writeln!(
            s,
            "  memory      {} sessions held · RSS {:.1} MiB -> {:.1} MiB · {:.1} KiB per session{}",
            m.sessions_held,
            m.rss_before_bytes as f64 / 1048576.0,
            m.rss_held_bytes as f64 / 1048576.0,
            m.per_session_bytes as f64 / 1024.0,
            if p.cpu.includes_server {
                " (client and server ends)"
            } else {
                ""
            }
        );
    }
    for t in p.broken_thresholds() {
        let _ = writeln!(s, "  THRESHOLD   {} broken: observed {}", t.expression, observed(t));
    }
    s
}

/// A threshold's observed value as the expression reads it (latencies in microseconds).
fn observed(t: &crate::results::ThresholdResult) -> String {
    match t.observed {
        None => "nothing (the phase has no such metric)".into(),
        Some(v) if t.expression.starts_with("failure_rate") => format!("{:.3}%", v * 100.0),
        Some(v) if t.expression.contains(".p") || t.expression.contains(".m") => format!("{v:.0} us"),
        Some(v) => format!("{v}"),
    }
}

/// The load model in words, per workload.
pub fn describe_load(plan: &PhasePlan) -> String {
    if let Some(shape) = &plan.shape {
        let what = match plan.workload {
            Workload::Kept => format!("transactions over {} kept sessions", plan.connections),
            _ => "session starts".to_owned(),
        };
        return format!("open loop, {what}, {shape}");
    }
    match (plan.workload, plan.load) {
        (Workload::Sessions, load) => load.to_string(),
        (Workload::Kept, Load::Closed { .. }) => {
            format!(
                "closed loop, {} kept sessions, one transaction outstanding each",
                plan.connections
            )
        }
        (Workload::Kept, Load::Open { rate }) => {
            format!(
                "open loop, {rate} transactions/s over {} kept sessions",
                plan.connections
            )
        }
        (Workload::Hold, _) => format!("{} sessions held idle", plan.connections),
        (Workload::Storm, _) => format!("{} sessions cut at once, all reconnect", plan.connections),
        (Workload::Messages, _) => format!(
            "{} kept sessions sending {}-byte MESSAGEs, {} outstanding each",
            plan.connections, plan.body_size, plan.window
        ),
        (Workload::Records, _) => format!(
            "{} sessions streaming {}-byte records {}",
            plan.connections,
            plan.record_size,
            match plan.direction {
                crate::plan::Direction::Up => "to the server",
                crate::plan::Direction::Both => "both ways (echoed)",
            }
        ),
    }
}
