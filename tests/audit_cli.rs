//! `sipbench audit` and the trust model as a user drives them: the matrix on the embedded
//! server (table, JSON, exit status), `--at` ahead of expiry, a PKI made by the openssl command
//! line, a real deployment (`sipbench serve`) as `--tls-addr`, and `serve` reloading a new CRL on
//! SIGHUP and with `--watch`.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sipbench::audit::{self, command::AuditReport};
use sipbench::pki::{self, BadCert, CaName, Pki, files};
use sipbench::tls::{Backend, Versions};
use sipbench::trust::Trust;

fn sipbench() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sipbench"));
    c.env("RUST_LOG", "error");
    c
}

fn audit_json(args: &[&str]) -> (Option<i32>, AuditReport) {
    let o = sipbench().arg("audit").args(args).arg("--json").output().unwrap();
    // Every report keeps to results/schema-audit.json.
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(&o.stdout) {
        common::assert_valid_against("schema-audit.json", &json);
    }
    let report: AuditReport =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    (o.status.code(), report)
}

#[test]
fn audit_runs_the_whole_matrix_and_describes_the_listeners() {
    let (code, r) = audit_json(&[]);
    assert_eq!(code, Some(0), "{r:?}");
    assert_eq!(r.schema, "sipbench-audit/2");
    // 9 PKI cases and 17 handshake attacks x 3 directions x 2 TLS versions x 2 stacks, two
    // load cells and the 0-RTT cell.
    assert_eq!((r.passed, r.failed), ((9 + 17) * 3 * 2 * 2 + 2 + 1, 0));
    assert!(r.cells.iter().all(|c| c.pass && c.reason_observable));
    for stack in [audit::Stack::Rustls, audit::Stack::Openssl] {
        let on = |dir: &str| {
            r.cells
                .iter()
                .filter(|c| c.stack == Some(stack) && c.direction.as_str() == dir)
                .count()
        };
        // The 0-RTT cell is a rustls client's (OpenSSL does no 0-RTT).
        let zero_rtt = usize::from(stack == audit::Stack::Rustls);
        assert_eq!(
            (on("server"), on("client"), on("client-tls")),
            (52, 52 + zero_rtt, 52),
            "{stack:?}"
        );
    }
    let loads: Vec<_> = r.cells.iter().filter(|c| c.direction.as_str() == "load").collect();
    assert!(
        loads
            .iter()
            .all(|c| c.detail.as_deref().is_some_and(|d| d.contains("CA `enterprise`"))),
        "{loads:#?}"
    );
    assert_eq!(r.deployment.len(), 2, "the TLS and MTLS listeners");
    let (tls, mtls) = (&r.deployment[0], &r.deployment[1]);
    assert!(!tls.requests_client_certificate && mtls.requests_client_certificate);
    // Both roots, and the issuing CAs the attack cells added to the embedded server's trust.
    assert_eq!(mtls.client_ca_hints.len(), 5, "{mtls:?}");
    assert!(
        mtls.client_ca_hints[..2].iter().all(|h| h.contains("Root CA")),
        "{mtls:?}"
    );
    assert!(tls.verdict.starts_with("trusted"), "{}", tls.verdict);
    let leaf = &tls.chain[0];
    assert_eq!(leaf.dns_names, ["sip.example.test"]);
    assert!(leaf.issuer.contains("Enterprise Root CA") && leaf.key == "ECDSA P-256");
    assert!((29..=30).contains(&leaf.days_left), "{leaf:?}");
    for v in ["TLSv1_3", "TLSv1_2"] {
        assert!(
            tls.versions.iter().any(|o| o.name == v && o.accepted),
            "{:?}",
            tls.versions
        );
    }
    // An ECDSA server cannot do the ECDHE_RSA suites.
    let rsa = tls.cipher_suites.iter().find(|o| o.name.contains("ECDHE_RSA")).unwrap();
    assert!(!rsa.accepted);

    // The table says the same; a bad --case names the field.
    let o = sipbench()
        .args(["audit", "--case", "revoked,good-edge"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(table.contains("revoked") && table.contains("reject (revoked)") && table.contains("24 passed, 0 failed"));
    let o = sipbench().args(["audit", "--case", "stolen"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--case: no case `stolen`"));
}

#[test]
fn audit_at_a_later_time_finds_what_will_have_expired() {
    // The throwaway certificates are valid for 30 days: in 40 days the good ones are expired,
    // the not-yet-valid one has become valid, and the audit says so with exit status 1.
    let later = time::OffsetDateTime::now_utc() + time::Duration::days(40);
    let at = format!("{:04}-{:02}-{:02}", later.year(), u8::from(later.month()), later.day());
    let (code, r) = audit_json(&["--at", &at, "--tls-versions", "1.3"]);
    assert_eq!(code, Some(1));
    assert_eq!(r.at.as_deref().map(|a| &a[..10]), Some(at.as_str()));
    let cell = |case: &str, dir: &str| {
        r.cells
            .iter()
            .find(|c| c.case.as_str() == case && c.direction.as_str() == dir)
            .unwrap()
    };
    for dir in ["server", "client", "client-tls"] {
        assert_eq!(cell("good-edge", dir).observed, audit::Expect::Reject("expired".into()));
        assert!(!cell("good-edge", dir).pass);
        assert_eq!(cell("not-yet-valid", dir).observed, audit::Expect::Accept);
    }
    assert!(r.deployment[0].chain[0].days_left < 0);
    let o = sipbench().args(["audit", "--at", "yesterday"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--at"));
}

#[test]
fn certificates_made_by_the_openssl_command_line_load_and_behave_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/openssl-pki.sh");
    // Roots issuing leaves (two key types), and roots issuing issuing CAs issuing leaves.
    for (key_type, intermediate) in [("ecdsa-p256", false), ("rsa2048", false), ("ecdsa-p256", true)] {
        let pki_dir = dir.path().join(format!("{key_type}-{intermediate}"));
        let mut cmd = Command::new("bash");
        cmd.arg(&script);
        if intermediate {
            cmd.arg("--intermediate");
        }
        let o = cmd.arg(&pki_dir).arg(key_type).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let pki = Pki::load(&pki_dir).expect("an openssl-made PKI loads");
        assert_eq!(pki.key_type.as_str(), key_type);
        assert_eq!(pki.enterprise_issuing.is_some(), intermediate);
        // The script writes the same topology as `pki init` (the text is kept in both places).
        let topology = if intermediate {
            sipbench::pki::INTERMEDIATE_TOPOLOGY
        } else {
            sipbench::pki::DEFAULT_TOPOLOGY
        };
        assert_eq!(pki.topology, topology);
        if intermediate {
            assert_eq!(pki.edge.chain.len(), 2, "the edge's file carries its issuing CA");
        }
        let (code, r) = audit_json(&["--pki", pki_dir.to_str().unwrap()]);
        let failed: Vec<_> = r.cells.iter().filter(|c| !c.pass).collect();
        assert_eq!(code, Some(0), "{failed:#?}");
        assert_eq!(r.passed, 315);
    }
}

struct Served {
    child: Child,
    tls: String,
    mtls: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(pki_dir: &Path, extra: &[&str]) -> Served {
    let mut args = vec!["--pki", pki_dir.to_str().unwrap()];
    args.extend(extra);
    serve_with(&args)
}

/// `sipbench serve` on free loopback ports with these arguments.
fn serve_with(args: &[&str]) -> Served {
    let mut child = sipbench()
        .args([
            "serve",
            "--tls-addr",
            "127.0.0.1:0",
            "--mtls-addr",
            "127.0.0.1:0",
            "--tcp-addr",
            "127.0.0.1:0",
        ])
        .args(["--workers", "1"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addrs = common::wait_ready(&mut child);
    let after = |key: &str| addrs[key].clone();
    Served {
        tls: after("tls"),
        mtls: after("mtls"),
        child,
    }
}

/// Whether the server at `mtls` accepts the edge certificate now.
fn edge_accepted(pki: &Pki, mtls: &str) -> bool {
    offer(pki, &pki.edge, mtls).is_ok()
}

/// Offers `identity` to the MTLS listener `mtls`: how it went.
fn offer(pki: &Pki, identity: &sipbench::pki::Identity, mtls: &str) -> Result<(), sipbench::failure::FailureKind> {
    let provider = Backend::default().rustls_provider().expect("a rustls backend");
    let trust = Trust::for_pki(pki).unwrap().without_topology();
    let connector = audit::connector(audit::Stack::Rustls, &provider, &trust, Some(identity), Versions::Tls13).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(audit::attempt(mtls.parse().unwrap(), connector, "sip.example.test"))
}

fn revoke_edge(pki: &Pki, dir: &Path) {
    let now = time::OffsetDateTime::now_utc();
    let crl = pki
        .crl(
            CaName::Enterprise,
            &[pki.bad(BadCert::Revoked).leaf().unwrap(), pki.edge.leaf().unwrap()],
            now - time::Duration::minutes(1),
            now + time::Duration::days(7),
            2,
        )
        .unwrap();
    pki::write_crl(&dir.join(files::ENTERPRISE_CRL), &crl).unwrap();
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn audit_of_a_deployment_and_serve_reloading_a_new_crl_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let pki_dir = dir.path().join("pki");
    let o = sipbench().args(["pki", "init"]).arg(&pki_dir).output().unwrap();
    assert!(o.status.success());
    let served = serve(&pki_dir, &[]);

    // The deployment's side of the matrix (reasons are the server's to know), and its listeners.
    let pki_arg = pki_dir.to_str().unwrap();
    let target = [
        "--tls-addr",
        &served.tls,
        "--mtls-addr",
        &served.mtls,
        "--server-name",
        "sip.example.test",
    ];
    let mut args = vec!["--pki", pki_arg, "--tls-versions", "1.3"];
    args.extend(target);
    let (code, r) = audit_json(&args);
    assert_eq!(
        code,
        Some(0),
        "{:#?}",
        r.cells.iter().filter(|c| !c.pass).collect::<Vec<_>>()
    );
    assert_eq!(r.target, served.tls);
    let server_cells: Vec<_> = r.cells.iter().filter(|c| c.direction.as_str() == "server").collect();
    assert_eq!(server_cells.len(), 9);
    assert!(server_cells.iter().all(|c| !c.reason_observable));
    assert!(r.deployment.iter().any(|d| d.requests_client_certificate));

    // Attack certificates issued from a CA the deployment trusts, each carrying a name it
    // accepts from that CA: all must be refused (the CA itself is trusted, as good-edge shows).
    let ca = pki_dir.join(files::ENTERPRISE_CA);
    let ca_key = pki_dir.join(files::ENTERPRISE_CA_KEY);
    let mut attack = args.clone();
    attack.extend([
        "--attack-ca",
        ca.to_str().unwrap(),
        "--attack-ca-key",
        ca_key.to_str().unwrap(),
        "--attack-name",
        "edge.example.test",
    ]);
    let (code, r) = audit_json(&attack);
    let attacks: Vec<_> = r
        .cells
        .iter()
        .filter(|c| matches!(c.case, audit::Case::Attack(_)))
        .collect();
    assert_eq!(code, Some(0), "{attacks:#?}");
    assert_eq!(attacks.len(), 11, "{attacks:#?}");
    assert!(attacks.iter().all(|c| c.direction.as_str() == "server" && c.pass));

    // Revoke the edge certificate; the server picks the new CRL up on SIGHUP only.
    let pki = Pki::load(&pki_dir).unwrap();
    assert!(edge_accepted(&pki, &served.mtls));
    revoke_edge(&pki, &pki_dir);
    std::thread::sleep(Duration::from_millis(300));
    assert!(edge_accepted(&pki, &served.mtls), "no reload without SIGHUP or --watch");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(served.child.id() as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    wait_until("the revoked edge is refused", || !edge_accepted(&pki, &served.mtls));
    args.extend(["--case", "good-edge"]);
    let (code, r) = audit_json(&args);
    assert_eq!(code, Some(1), "the audit now sees the good edge refused: {r:?}");
}

#[test]
fn serve_watch_reloads_when_a_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    let pki_dir = dir.path().join("pki");
    let pki = Pki::generate(pki::KeyType::EcdsaP256).unwrap();
    pki.write_to(&pki_dir).unwrap();
    // On the OpenSSL stack, so that its reload is covered too (the client is rustls).
    let served = serve(
        &pki_dir,
        &["--watch", "--watch-interval", "100ms", "--backend", "openssl"],
    );
    assert!(edge_accepted(&pki, &served.mtls));
    // A new file gets a new modification time even within the same second (its length differs).
    revoke_edge(&pki, &pki_dir);
    wait_until("--watch reloaded the CRL", || !edge_accepted(&pki, &served.mtls));

    // A broken topology is refused and the running configuration kept.
    let topology = std::fs::read_to_string(pki_dir.join(files::TOPOLOGY)).unwrap();
    std::fs::write(pki_dir.join(files::TOPOLOGY), "revocation = \"sometimes\"\n").unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        !edge_accepted(&pki, &served.mtls),
        "still the revoked-edge configuration"
    );

    // So is a CA file that holds a leaf: loaded, it would refuse the edge as from an unknown
    // CA; kept, the edge is still refused as revoked.
    std::fs::write(pki_dir.join(files::TOPOLOGY), topology).unwrap();
    std::fs::copy(pki_dir.join(files::EDGE), pki_dir.join(files::ENTERPRISE_CA)).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let revoked = Err(sipbench::failure::FailureKind::TlsAlertReceived(
        "certificate-revoked".into(),
    ));
    assert_eq!(
        offer(&pki, &pki.edge, &served.mtls),
        revoked,
        "the leaf as a CA was loaded"
    );
    assert!(offer(&pki, &pki.partner, &served.mtls).is_ok());
}

#[test]
fn an_intermediate_pki_carries_chains_through_serve_and_run_on_both_stacks() {
    // leaf -> issuing CA -> root, as AD CS deployments have it: `pki init --intermediate`,
    // `serve` presenting the chain and verifying clients' chains, `run` doing the same, each
    // side on each TLS stack.
    let dir = tempfile::tempdir().unwrap();
    let pki_dir = dir.path().join("pki");
    let o = sipbench()
        .args(["pki", "init", "--intermediate"])
        .arg(&pki_dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("issuing CAs"));
    // The embedded server can run such a PKI too.
    let out = dir.path().join("embedded.json");
    let o = sipbench()
        .args([
            "run",
            "--intermediate",
            "--mode",
            "mtls",
            "--sessions",
            "10",
            "--warmup",
            "0s",
        ])
        .args(["--transactions", "OPTIONS", "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(r["phases"][0]["sessions"]["ok"], 10, "{}", r["phases"][0]["failures"]);
    assert!(
        r["target"]["trust"].as_str().unwrap().contains("(2 issuing)"),
        "{}",
        r["target"]
    );
    for server_backend in ["aws-lc-rs", "openssl"] {
        let served = serve(&pki_dir, &["--backend", server_backend]);
        for backend in ["aws-lc-rs", "openssl"] {
            let out = dir.path().join(format!("{server_backend}-{backend}.json"));
            let o = sipbench()
                .args(["run", "--mode", "mtls", "--sessions", "20", "-c", "4", "--warmup", "0s"])
                .args(["--transactions", "OPTIONS", "--backend", backend])
                .args(["--mtls-addr", &served.mtls, "--tls-addr", &served.tls])
                .args(["--server-name", "sip.example.test", "--quiet", "--out"])
                .arg(&out)
                .arg("--topology")
                .arg(pki_dir.join(files::TOPOLOGY))
                .arg("--cert")
                .arg(pki_dir.join(files::EDGE))
                .arg("--key")
                .arg(pki_dir.join(files::EDGE_KEY))
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
            let phase = &r["phases"][0];
            assert_eq!(
                phase["sessions"]["ok"], 20,
                "{server_backend} server, {backend} client: {}",
                phase["failures"]
            );
        }
    }
}

/// The openssl command-line peers: `openssl s_client` as an MTLS client of `sipbench serve`,
/// and `openssl s_server` as a server sipbench's clients dial, on a PKI with issuing CAs made by
/// the openssl command line. Programs nobody here wrote meet the trust model: the client
/// certificate chain is verified and a trusted server gets a session ticket, a server-to-server
/// peer not in the topology is refused inside the handshake and gets none, and a certificate
/// OpenSSL itself finds valid (Partner CA, `IP:127.0.0.1`) is refused for its CA's scope.
#[test]
fn openssl_s_client_and_s_server_meet_the_trust_model() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("skipped: no openssl command (scripts/openssl-pki.sh installs it as root)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki_dir = dir.path().join("pki");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/openssl-pki.sh");
    let o = Command::new("bash")
        .arg(&script)
        .arg("--intermediate")
        .arg(&pki_dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let f = |name: &str| pki_dir.join(name).to_str().unwrap().to_owned();

    // s_client against sipbench serve's MTLS listener, on each server stack.
    let request = "OPTIONS sip:sip.example.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK1\r\n\
                   Max-Forwards: 70\r\nFrom: <sip:a@example.test>;tag=1\r\nTo: <sip:sip.example.test>\r\n\
                   Call-ID: 1@openssl\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    for backend in ["aws-lc-rs", "openssl"] {
        let served = serve(&pki_dir, &["--backend", backend]);
        for (who, trusted) in [("edge", true), ("bad/not-in-topology", false)] {
            let session = dir.path().join(format!("{backend}-{}.sess", who.replace('/', "-")));
            let mut child = Command::new("openssl")
                .args([
                    "s_client",
                    "-connect",
                    &served.mtls,
                    "-servername",
                    "sip.example.test",
                    "-tls1_3",
                ])
                .args(["-verify_return_error", "-CAfile", &f(files::ENTERPRISE_CA)])
                .args(["-cert", &f(&format!("{who}.pem")), "-key", &f(&format!("{who}.key"))])
                .args(["-cert_chain", &f(files::ENTERPRISE_ISSUING_CA), "-sess_out"])
                .arg(&session)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            std::io::Write::write_all(&mut stdin, request.as_bytes()).unwrap();
            // Give the answer time to come back before s_client sees the end of its input.
            std::thread::sleep(Duration::from_millis(700));
            drop(stdin);
            let o = child.wait_with_output().unwrap();
            let out = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            let what = format!("s_client as {who} against the {backend} server");
            assert!(out.contains("Verify return code: 0 (ok)"), "{what}: {out}");
            if trusted {
                assert!(out.contains("SIP/2.0 200 OK"), "{what}: {out}");
                assert!(session.exists(), "{what}: no session ticket");
            } else {
                assert!(!out.contains("SIP/2.0 200"), "{what}: {out}");
                assert!(out.contains("alert"), "{what}: {out}");
                assert!(!session.exists(), "{what}: a refused peer got a session ticket");
            }
        }
    }

    // s_server presenting a certificate the openssl CLI issues from the Partner issuing CA for
    // IP 127.0.0.1 only (valid as far as OpenSSL is concerned), then the enterprise server's.
    let run = |args: &[&str]| {
        let o = Command::new("openssl").args(args).output().unwrap();
        assert!(
            o.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let (ip_key, ip_csr, ip_pem, ext) = (f("ip.key"), f("ip.csr"), f("ip.pem"), f("ip.ext"));
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=serverAuth\nauthorityKeyIdentifier=keyid\n",
    )
    .unwrap();
    run(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        &ip_key,
    ]);
    run(&[
        "req",
        "-new",
        "-key",
        &ip_key,
        "-subj",
        "/CN=127.0.0.1/O=sipbench",
        "-out",
        &ip_csr,
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        &ip_csr,
        "-CA",
        &f(files::PARTNER_ISSUING_CA),
        "-CAkey",
        &f(files::PARTNER_ISSUING_CA_KEY),
        "-CAcreateserial",
        "-days",
        "30",
        "-extfile",
        &ext,
        "-out",
        &ip_pem,
    ]);
    let trust = Trust::load(&pki_dir.join(files::TOPOLOGY)).unwrap().without_topology();
    let provider = Backend::default().rustls_provider().expect("a rustls backend");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (cert, key, chain, expected) in [
        (
            ip_pem.clone(),
            ip_key.clone(),
            f(files::PARTNER_ISSUING_CA),
            Some("ca-not-trusted-for-address"),
        ),
        (
            f(files::SERVER),
            f(files::SERVER_KEY),
            f(files::ENTERPRISE_ISSUING_CA),
            None,
        ),
    ] {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut server = Command::new("openssl")
            .args([
                "s_server",
                "-accept",
                &addr,
                "-cert",
                &cert,
                "-key",
                &key,
                "-cert_chain",
                &chain,
            ])
            .args(["-www", "-quiet"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_until("s_server listens", || std::net::TcpStream::connect(&addr).is_ok());
        for stack in [audit::Stack::Rustls, audit::Stack::Openssl] {
            let connector = audit::connector(stack, &provider, &trust, None, Versions::Tls13).unwrap();
            let got = rt.block_on(async {
                let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
                match connector {
                    audit::Connector::Rustls(c) => c
                        .connect("127.0.0.1".try_into().unwrap(), tcp)
                        .await
                        .map(|_| ())
                        .map_err(|e| sipbench::tls::classify_io(&e)),
                    audit::Connector::Openssl(c) => c.connect("127.0.0.1", tcp).await.map(|_| ()),
                }
            });
            let what = format!("{cert} served by s_server, dialed by {stack:?}");
            match expected {
                Some(reason) => assert_eq!(
                    got,
                    Err(sipbench::failure::FailureKind::Certificate(reason.into())),
                    "{what}"
                ),
                None => assert_eq!(got, Ok(()), "{what}"),
            }
        }
        let _ = server.kill();
        let _ = server.wait();
    }
}

/// A PKI the openssl command line made for another domain (`acme.internal`), moved into a
/// layout of its own, without sipbench's negative cases: returns the directory and the
/// `--pki-file` arguments of every role.
fn foreign_pki(dir: &Path) -> Vec<String> {
    let made = dir.join("made");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/openssl-pki.sh");
    let o = Command::new("bash")
        .arg(&script)
        .arg(&made)
        .env("SIPBENCH_PKI_DOMAIN", "acme.internal")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let moves = [
        ("enterprise-ca", files::ENTERPRISE_CA, "roots/corp-root.crt"),
        ("enterprise-ca-key", files::ENTERPRISE_CA_KEY, "private/corp-root.key"),
        ("enterprise-crl", files::ENTERPRISE_CRL, "crl/corp-root.crl"),
        ("partner-ca", files::PARTNER_CA, "roots/federation.crt"),
        ("partner-ca-key", files::PARTNER_CA_KEY, "private/federation.key"),
        ("partner-crl", files::PARTNER_CRL, "crl/federation.crl"),
        ("server", files::SERVER, "certs/sbc.crt"),
        ("server-key", files::SERVER_KEY, "private/sbc.key"),
        ("edge", files::EDGE, "certs/gateway.crt"),
        ("edge-key", files::EDGE_KEY, "private/gateway.key"),
        ("partner", files::PARTNER, "certs/peer.crt"),
        ("partner-key", files::PARTNER_KEY, "private/peer.key"),
    ];
    let mut args = Vec::new();
    let mut topology = std::fs::read_to_string(made.join(files::TOPOLOGY)).unwrap();
    for (role, from, to) in moves {
        let to_path = dir.join(to);
        std::fs::create_dir_all(to_path.parent().unwrap()).unwrap();
        std::fs::rename(made.join(from), &to_path).unwrap();
        topology = topology.replace(&format!("\"{from}\""), &format!("\"../{to}\""));
        args.push(format!("--pki-file={role}={}", to_path.display()));
    }
    assert!(topology.contains("edge.acme.internal") && !topology.contains("example.test"));
    std::fs::create_dir_all(dir.join("conf")).unwrap();
    std::fs::write(dir.join("conf/trust.toml"), topology).unwrap();
    args.push(format!("--pki-file=topology={}", dir.join("conf/trust.toml").display()));
    std::fs::remove_dir_all(&made).unwrap();
    args
}

/// A PKI of another layout and other names audited file by file, its negative cases minted
/// from its Enterprise CA: embedded (every cell observable), and as a deployment run by
/// `sipbench serve` from the same files. No false failures; the minted cases are refused for
/// their defects.
#[test]
fn audit_of_a_pki_of_another_layout_and_names_with_cases_minted_from_its_ca() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("skipped: no openssl command");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let files = foreign_pki(dir.path());
    let at = |p: &str| dir.path().join(p).to_str().unwrap().to_owned();
    let mut args: Vec<String> = files.clone();
    args.extend(
        [
            "--name",
            "server=sip.acme.internal",
            "--name",
            "edge=edge.acme.internal",
            "--name",
            "partner=sip.partner.acme.internal",
            "--issuer-cert",
            &at("roots/corp-root.crt"),
            "--issuer-key",
            &at("private/corp-root.key"),
            "--tls-versions",
            "1.3",
        ]
        .map(String::from),
    );
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();

    // Embedded: the reference servers run with this PKI; every reason is observable.
    let (code, r) = audit_json(&argv);
    let failed: Vec<_> = r.cells.iter().filter(|c| !c.pass).collect();
    assert_eq!(code, Some(0), "{failed:#?}\nnotes: {:?}", r.notes);
    let names = r.names.clone().unwrap();
    assert_eq!(
        (names.edge.as_str(), names.rogue.as_str()),
        ("edge.acme.internal", "rogue.acme.internal")
    );
    assert!(r.cells.iter().all(|c| c.reason_observable));
    for case in BadCert::ALL {
        let cells: Vec<_> = r.cells.iter().filter(|c| c.case == audit::Case::Bad(case)).collect();
        assert_eq!(cells.len(), 3 * 2, "{case}: every direction and stack");
    }
    let expired = r
        .cells
        .iter()
        .find(|c| c.case == audit::Case::Bad(BadCert::Expired) && c.direction.as_str() == "server")
        .unwrap();
    assert_eq!(expired.observed, audit::Expect::Reject("expired".into()), "{expired:?}");
    let revoked = r
        .cells
        .iter()
        .find(|c| c.case == audit::Case::Bad(BadCert::Revoked) && c.direction.as_str() == "client")
        .unwrap();
    assert_eq!(revoked.observed, audit::Expect::Reject("revoked".into()), "{revoked:?}");
    assert!(r.cells.iter().any(|c| matches!(c.case, audit::Case::Attack(_))));
    assert!(r.notes.iter().any(|n| n.starts_with("crl-wrong-ca")), "{:?}", r.notes);

    // A deployment: `sipbench serve` from the same files, the same audit aimed at it.
    let served = serve_with(&[
        "--cert",
        &at("certs/sbc.crt"),
        "--key",
        &at("private/sbc.key"),
        "--topology",
        &at("conf/trust.toml"),
    ]);
    let mut deployment = argv.clone();
    deployment.extend(["--tls-addr", &served.tls, "--mtls-addr", &served.mtls]);
    let (code, r) = audit_json(&deployment);
    let failed: Vec<_> = r.cells.iter().filter(|c| !c.pass).collect();
    assert_eq!(code, Some(0), "{failed:#?}");
    let server = |case: BadCert| {
        r.cells
            .iter()
            .find(|c| c.case == audit::Case::Bad(case) && c.direction.as_str() == "server")
    };
    let expired = server(BadCert::Expired).unwrap();
    assert_eq!(expired.expected, audit::Expect::Reject("expired".into()));
    assert!(
        expired.pass && matches!(expired.observed, audit::Expect::Reject(_)),
        "{expired:?}"
    );
    assert!(
        server(BadCert::Revoked).is_none(),
        "the deployment's CRL cannot list a minted case"
    );
    assert!(r.notes.iter().any(|n| n.starts_with("revoked")), "{:?}", r.notes);
    let good = r
        .cells
        .iter()
        .find(|c| c.case == audit::Case::GoodEdge && c.direction.as_str() == "server")
        .unwrap();
    assert_eq!(good.observed, audit::Expect::Accept);
    assert_eq!(r.deployment[0].server_name, "sip.acme.internal");
}

/// A file given by role that is missing or unusable is a usage error naming the flag and path.
#[test]
fn audit_names_the_flag_of_a_missing_or_bad_pki_file() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("skipped: no openssl command");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let files = foreign_pki(dir.path());
    let run = |args: &[String]| {
        let o = sipbench()
            .arg("audit")
            .args(args)
            .args(["--case", "good-edge"])
            .output()
            .unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    // A file that is not there.
    let mut args = files.clone();
    args.push("--pki-file=edge=/nonexistent/gateway.crt".into());
    let (code, err) = run(&args);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--pki-file edge=/nonexistent/gateway.crt"), "{err}");
    // A role left out, with no directory to find it in.
    let args: Vec<String> = files
        .iter()
        .filter(|a| !a.starts_with("--pki-file=partner="))
        .cloned()
        .collect();
    let (code, err) = run(&args);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--pki-file partner=FILE"), "{err}");
    // A key that is not the certificate's.
    let mut args = files.clone();
    args.push(format!(
        "--pki-file=edge-key={}",
        dir.path().join("private/sbc.key").display()
    ));
    let (code, err) = run(&args);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--pki-file edge-key="), "{err}");
    assert!(!err.contains("server-key"), "{err}");
    // An unknown role is refused by the parser.
    let (code, err) = run(&["--pki-file=edges=/x".to_owned()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no role `edges`"), "{err}");
    // The issuer's key, missing.
    let mut args = files;
    args.extend([
        "--issuer-cert".into(),
        dir.path().join("roots/corp-root.crt").display().to_string(),
        "--issuer-key".into(),
        "/nonexistent/ca.key".into(),
    ]);
    let (code, err) = run(&args);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--issuer-key /nonexistent/ca.key"), "{err}");
}
