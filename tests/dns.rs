//! Targets found the way SIP finds them (RFC 3263), against a real DNS server: Debian's
//! dnsmasq, started by the test on loopback with NAPTR, SRV and A records for two reference
//! servers (SRV priority 10, weights 60 and 20) and a backup (priority 20). `run --tls-addr
//! example.test --dns-server ...` spreads its sessions 3:1 over the two and never touches the
//! backup; a domain without NAPTR goes straight to SRV; `--resolve` pins a name without DNS.
//!
//! `.ci/run` installs dnsmasq (root, apt). Elsewhere, without `dnsmasq` on the PATH, the test
//! prints why and passes without running.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{TestServer, run_one};
use sipbench::plan::Mode;

/// dnsmasq on 127.0.0.1, killed on drop.
struct Dnsmasq {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dnsmasq(records: &[String]) -> Dnsmasq {
    // Other tests bind ports all the time: a port is taken only once dnsmasq holds it on both
    // UDP and TCP and answers on TCP; if it exits (the port was taken), another port is tried.
    for _ in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut child = Command::new("dnsmasq")
            .args([
                "--keep-in-foreground",
                "--no-resolv",
                "--no-hosts",
                "--no-poll",
                "--bind-interfaces",
                "--listen-address=127.0.0.1",
                "--conf-file=/dev/null",
                "--log-facility=-",
                // Answer NXDOMAIN for other names under .test (no upstream servers to ask).
                "--local=/test/",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--pid-file={}", dir.path().join("pid").display()))
            .args(records)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dnsmasq starts");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        for _ in 0..100 {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return Dnsmasq { child, addr, _dir: dir };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("dnsmasq did not start on any of 10 ports");
}

/// A port free on 127.0.0.1 for both TCP and UDP when this returns.
fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn port(srv: &TestServer) -> u16 {
    srv.tls_addr().parse::<SocketAddr>().unwrap().port()
}

#[test]
fn naptr_srv_and_a_records_spread_sessions_by_weight() {
    if Command::new("dnsmasq").arg("--version").output().is_err() {
        eprintln!("SKIPPED: dnsmasq is not installed (.ci/run installs dnsmasq-base)");
        return;
    }
    let one = TestServer::start();
    let two = TestServer::start_beside(&one);
    // The backup's port has nothing listening: sessions sent there would fail.
    let backup = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dns = dnsmasq(&[
        "--naptr-record=example.test,10,50,s,SIPS+D2T,,_sips._tcp.example.test".into(),
        "--naptr-record=example.test,10,60,s,SIP+D2T,,_sip._tcp.example.test".into(),
        format!(
            "--srv-host=_sips._tcp.example.test,sip1.example.test,{},10,60",
            port(&one)
        ),
        format!(
            "--srv-host=_sips._tcp.example.test,sip2.example.test,{},10,20",
            port(&two)
        ),
        format!("--srv-host=_sips._tcp.example.test,sip3.example.test,{backup},20,100"),
        format!(
            "--srv-host=_sips._tcp.nonaptr.test,sip2.example.test,{},0,0",
            port(&two)
        ),
        "--host-record=sip1.example.test,127.0.0.1".into(),
        "--host-record=sip2.example.test,127.0.0.1".into(),
        "--host-record=sip3.example.test,127.0.0.1".into(),
    ]);

    let mut args = one.args(Mode::Tls, 40);
    args.target.tls_addr = Some("example.test".into());
    args.target.mtls_addr = None;
    args.target.tcp_addr = None;
    args.target.udp_addr = None;
    args.target.dns_server = Some(dns.addr);
    let (report, p) = run_one(&args);
    assert_eq!(p.sessions.ok, 40, "{:?}", p.failures);
    let servers = p.servers.expect("per-server counts");
    assert_eq!(servers.get(&one.tls_addr()), Some(&30), "{servers:?}");
    assert_eq!(servers.get(&two.tls_addr()), Some(&10), "{servers:?}");
    let resolved = &report.result.target.resolved;
    assert_eq!(resolved.len(), 3, "{resolved:?}");
    assert!(
        resolved.iter().all(|r| r.server.via == "naptr" && r.listener == "tls"),
        "{resolved:?}"
    );
    assert_eq!(resolved[2].server.priority, 20);
    assert_eq!(one.counters().handshakes_ok, 30);
    assert_eq!(two.counters().handshakes_ok, 10);

    // Without NAPTR: SRV _sips._tcp directly.
    let mut args = one.args(Mode::Tls, 5);
    args.target.tls_addr = Some("nonaptr.test".into());
    args.target.mtls_addr = None;
    args.target.tcp_addr = None;
    args.target.udp_addr = None;
    args.target.dns_server = Some(dns.addr);
    let (report, p) = run_one(&args);
    assert_eq!(p.sessions.ok, 5, "{:?}", p.failures);
    assert_eq!(report.result.target.resolved[0].server.via, "srv");
    assert_eq!(two.counters().handshakes_ok, 15);

    // A name pinned with --resolve, no DNS asked.
    let mut args = one.args(Mode::Tls, 5);
    args.target.tls_addr = Some(format!("sip.pinned.test:{}", port(&one)));
    args.target.resolve = vec![("sip.pinned.test".into(), "127.0.0.1".parse().unwrap())];
    args.target.server_name = Some("sip.example.test".into());
    args.target.mtls_addr = None;
    args.target.tcp_addr = None;
    args.target.udp_addr = None;
    let (report, p) = run_one(&args);
    assert_eq!(p.sessions.ok, 5, "{:?}", p.failures);
    assert_eq!(report.result.target.resolved[0].server.via, "pinned");

    // A domain DNS does not know: a configuration error naming the flag.
    let mut args = one.args(Mode::Tls, 1);
    args.target.tls_addr = Some("unknown.test".into());
    args.target.dns_server = Some(dns.addr);
    let e = sipbench::generator::run(&args).unwrap_err();
    assert!(format!("{e:#}").contains("--tls-addr unknown.test"), "{e:#}");
}
