//! The operating system's roots inside a topology (`cert = "system"` in a `[[ca]]`), as a
//! federation edge uses them for partners with public-CA certificates: a partner whose chain
//! (leaf, then an issuing CA the trust does not hold) ends at a root of the system's bundle is
//! accepted within the entry's domains, refused outside them, and refused when the bundle lacks
//! its root; the other entries keep their CRL checks.
//!
//! The "public" CA is made with the openssl CLI (scripts/openssl-pki.sh --intermediate) and
//! added to a copy of the distribution's bundle, given to the generator as SSL_CERT_FILE (the
//! variable OpenSSL and sipbench read); the server is `sipbench serve` in its own process.

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

fn openssl_pki(dir: &Path) {
    let status = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/openssl-pki.sh"))
        .arg("--intermediate")
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "openssl-pki.sh");
}

/// The distribution's bundle (when there is one) plus `extra`, as a file.
fn bundle(dir: &Path, name: &str, extra: Option<&Path>) -> PathBuf {
    let mut text = sipbench::pki::SYSTEM_BUNDLES
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    if let Some(extra) = extra {
        text.push_str(&std::fs::read_to_string(extra).unwrap());
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn topology(dir: &Path, own: &Path, domains: &str) -> PathBuf {
    // The openssl-made server certificate also names 127.0.0.1 and ::1, which the entry must cover.
    let path = dir.join(format!("topology-{}.toml", domains.replace(['"', ',', ' '], "")));
    std::fs::write(
        &path,
        format!(
            "revocation = \"crl\"\n\n[[ca]]\nname = \"own\"\ncert = \"{ca}\"\ncrl = \"{crl}\"\ndomains = [\"partner.example.test\"]\n\n\
             [[ca]]\nname = \"public\"\ncert = \"system\"\ndomains = [{domains}]\n\
             addresses = [\"127.0.0.0/8\", \"::1/128\"]\n",
            ca = own.join("partner-ca.pem").display(),
            crl = own.join("partner-ca.crl").display(),
        ),
    )
    .unwrap();
    path
}

/// `sipbench run` of 4 TLS sessions to `tls` with `topology`, the system's roots read from
/// `roots`; the results file's first phase and the trust description.
fn run(dir: &Path, tls: &str, topology: &Path, roots: &Path) -> (serde_json::Value, String) {
    let out = dir.join("r.json");
    let _ = std::fs::remove_file(&out);
    let o = Command::new(env!("CARGO_BIN_EXE_sipbench"))
        .env("RUST_LOG", "error")
        .env("SSL_CERT_FILE", roots)
        .args([
            "run",
            "--tls-addr",
            tls,
            "--server-name",
            "sip.example.test",
            "--topology",
        ])
        .arg(topology)
        .args([
            "--mode",
            "tls",
            "--sessions",
            "4",
            "--concurrency",
            "2",
            "--warmup",
            "0s",
            "-q",
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let trust = r["target"]["trust"].as_str().unwrap().to_owned();
    (r["phases"][0].clone(), trust)
}

#[test]
fn system_roots_in_a_topology_accept_a_public_chain_within_their_domains_only() {
    let dir = tempfile::tempdir().unwrap();
    let public = dir.path().join("public");
    let own = dir.path().join("own");
    openssl_pki(&public);
    openssl_pki(&own);
    let served = common::Served::spawn(&[OsStr::new("--pki"), public.as_os_str()], &[]);
    let tls = &served.addrs["tls"];
    let roots = bundle(dir.path(), "roots.pem", Some(&public.join("enterprise-ca.pem")));

    let (p, trust) = run(dir.path(), tls, &topology(dir.path(), &own, "\"example.test\""), &roots);
    assert_eq!(p["sessions"]["ok"], 4, "{}", p["failures"]);
    assert!(
        trust.contains("`public`: the system's") && trust.contains("CRLs checked"),
        "{trust}"
    );

    // Outside the entry's domains: refused, whatever the bundle says.
    let (p, _) = run(dir.path(), tls, &topology(dir.path(), &own, "\"other.test\""), &roots);
    assert_eq!(p["sessions"]["ok"], 0, "{}", p["failures"]);
    assert!(p["failures"].to_string().contains("certificate:"), "{}", p["failures"]);

    // A bundle without the root: unknown issuer.
    let plain = bundle(dir.path(), "plain.pem", None);
    if std::fs::metadata(&plain).unwrap().len() > 0 {
        let (p, _) = run(dir.path(), tls, &topology(dir.path(), &own, "\"example.test\""), &plain);
        assert_eq!(p["failures"]["certificate:unknown-issuer"], 4, "{}", p["failures"]);
    }
}

#[test]
fn a_system_entry_takes_no_crl() {
    let e = sipbench::trust::TopologyFile::parse("[[ca]]\nname = \"public\"\ncert = \"system\"\ncrl = \"x.crl\"\n")
        .unwrap_err();
    assert!(e.to_string().contains("take no CRL"), "{e}");
}
