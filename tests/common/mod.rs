//! Shared helpers: a reference server started as a library call on port 0, and the generator
//! options that point at it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use sipbench::generator::{RunConfig, RunReport, TargetConfig};
use sipbench::pki::{KeyType, Pki, files};
use sipbench::plan::{Mode, PhaseSpec, Txn};
use sipbench::pool::Pool;
use sipbench::results::PhaseResult;
use sipbench::server::{self, RunningServer, ServerConfig, ServerStats};

/// A running reference server with its PKI written to a temporary directory.
pub struct TestServer {
    pub pki: Pki,
    pub dir: tempfile::TempDir,
    pub server: Option<RunningServer>,
    pool: Option<Pool>,
}

impl TestServer {
    /// Starts the server on 127.0.0.1:0 (TLS, MTLS and TCP) with a fresh ECDSA P-256 PKI.
    pub fn start() -> TestServer {
        Self::start_with(|_| {})
    }

    /// As [`start`], letting the caller adjust the configuration first.
    pub fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> TestServer {
        Self::start_with_pki(Pki::generate(KeyType::EcdsaP256).expect("PKI"), adjust)
    }

    /// A second server of the same deployment: the PKI of `other` (read back from its
    /// directory), so one trust accepts both.
    pub fn start_beside(other: &TestServer) -> TestServer {
        Self::start_with_pki(Pki::load(other.dir.path()).expect("PKI reads back"), |_| {})
    }

    /// As [`start_with`], with a given PKI.
    pub fn start_with_pki(pki: Pki, adjust: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        pki.write_to(dir.path()).expect("write PKI");
        let trust = sipbench::trust::Trust::for_pki(&pki).expect("trust");
        let mut config = ServerConfig::loopback(pki.server.clone(), trust);
        adjust(&mut config);
        let pool = Pool::new(2, "test-server").expect("pool");
        let server = server::start(&config, &pool).expect("server starts");
        TestServer {
            pki,
            dir,
            server: Some(server),
            pool: Some(pool),
        }
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn running(&self) -> &RunningServer {
        self.server.as_ref().expect("running")
    }

    pub fn tls_addr(&self) -> String {
        self.running().addrs().tls[0].to_string()
    }

    pub fn mtls_addr(&self) -> String {
        self.running().addrs().mtls[0].to_string()
    }

    pub fn tcp_addr(&self) -> String {
        self.running().addrs().tcp[0].to_string()
    }

    pub fn udp_addr(&self) -> String {
        self.running().addrs().udp[0].to_string()
    }

    pub fn counters(&self) -> ServerStats {
        self.running().counters().snapshot()
    }

    /// Generator options for a bounded run of `sessions` sessions in `mode` against this server,
    /// trusting the enterprise CA, verifying `sip.example.test`, presenting the edge certificate
    /// in MTLS mode. Results go to a file in the temporary directory.
    pub fn args(&self, mode: Mode, sessions: u64) -> RunConfig {
        RunConfig {
            phase: PhaseSpec {
                mode: Some(mode),
                sessions: Some(sessions),
                concurrency: Some(4),
                warmup: Some(Duration::ZERO),
                transactions: Some(vec![Txn::Register, Txn::Options]),
                ..Default::default()
            },
            target: TargetConfig {
                tls_addr: Some(self.tls_addr()),
                mtls_addr: Some(self.mtls_addr()),
                tcp_addr: Some(self.tcp_addr()),
                udp_addr: Some(self.udp_addr()),
                server_name: Some("sip.example.test".into()),
                ca: Some(self.file(files::ENTERPRISE_CA)),
                cert: Some(self.file(files::EDGE)),
                key: Some(self.file(files::EDGE_KEY)),
                ..Default::default()
            },
            workers: Some(2),
            out: Some(self.dir.path().join(format!("result-{}.json", mode.as_str()))),
            quiet: true,
            ..Default::default()
        }
    }

    /// Stops the server and returns its final counters.
    pub fn stop(mut self) -> ServerStats {
        let server = self.server.take().expect("running");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let stats = rt.block_on(server.shutdown(Duration::from_secs(2)));
        drop(self.pool.take());
        stats
    }
}

/// Runs the generator and returns its only phase.
pub fn run_one(args: &RunConfig) -> (RunReport, PhaseResult) {
    let report = sipbench::generator::run(args).expect("run completes");
    assert_eq!(report.result.phases.len(), 1);
    let phase = report.result.phases[0].clone();
    (report, phase)
}

/// `sipbench serve` in its own process on loopback port 0 (TLS, MTLS, TCP), killed on drop.
pub struct Served {
    pub child: std::process::Child,
    /// The bound addresses by transport (`tls`, `mtls`, `tcp`, `udp`) and of the metrics
    /// endpoint (`metrics`, with `--metrics`), from the ready line.
    pub addrs: std::collections::BTreeMap<String, String>,
}

impl Served {
    /// Starts `sipbench serve --tls-addr 127.0.0.1:0 --mtls-addr 127.0.0.1:0 --tcp-addr
    /// 127.0.0.1:0` with `args` and `envs`, and waits for its ready line ("sipbench serve: tls A
    /// · mtls B · tcp C · ...").
    pub fn spawn(args: &[&std::ffi::OsStr], envs: &[(&str, &std::ffi::OsStr)]) -> Served {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sipbench"));
        cmd.env("RUST_LOG", "error")
            .args(["serve", "--tls-addr", "127.0.0.1:0", "--mtls-addr", "127.0.0.1:0"])
            .args(["--tcp-addr", "127.0.0.1:0"])
            .args(args)
            // Its counters, printed on exit: read by `stop`.
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("sipbench serve starts");
        let addrs = wait_ready(&mut child);
        Served { child, addrs }
    }
}

impl Served {
    /// Stops the server with SIGTERM and returns the counters it prints on exit.
    pub fn stop(mut self) -> serde_json::Value {
        use std::io::Read;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .expect("SIGTERM");
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .expect("stdout piped")
            .read_to_string(&mut out)
            .expect("stdout reads");
        let status = self.child.wait().expect("serve exits");
        assert!(status.success(), "serve exited with {status}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("serve's counters: {e}: {out}"))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for the ready line of a `sipbench serve` child whose stderr is piped ("sipbench serve:
/// tls A · mtls B · tcp C · ..."), then drains its log so that it never blocks on a full pipe;
/// returns the bound addresses by transport (and `metrics`).
pub fn wait_ready(child: &mut std::process::Child) -> std::collections::BTreeMap<String, String> {
    use std::io::{BufRead, BufReader};
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr piped"));
    let mut line = String::new();
    while !line.starts_with("sipbench serve:") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "server exited before listening"
        );
    }
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let words: Vec<&str> = line.split_whitespace().collect();
    words
        .windows(2)
        .filter(|w| ["tls", "mtls", "tcp", "udp", "metrics"].contains(&w[0]))
        .map(|w| (w[0].to_owned(), w[1].to_owned()))
        .collect()
}

/// The results file's schema, results/schema.json, compiled.
pub fn schema() -> jsonschema::Validator {
    validator("schema.json")
}

/// The schema files under results/ (`schema.json`, `schema-*.json`), parsed.
pub fn schema_files() -> Vec<(String, serde_json::Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    let mut out: Vec<(String, serde_json::Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("schema") && n.ends_with(".json"))
        .map(|n| {
            let text = std::fs::read_to_string(dir.join(&n)).unwrap();
            let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{n}: {e}"));
            (n, json)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// results/NAME compiled, with every other schema file there known by its `$id` (a
/// `"$ref": "sipbench-result/1#/$defs/phase"` in schema-compare.json is schema.json's phase).
pub fn validator(name: &str) -> jsonschema::Validator {
    // The `$id`s are relative (`sipbench-result/1`): each is made absolute under one base, so
    // that the references between the files resolve as they would for any loader given a base.
    let files: Vec<(String, serde_json::Value)> = schema_files()
        .into_iter()
        .map(|(n, mut json)| {
            let id = json["$id"]
                .as_str()
                .unwrap_or_else(|| panic!("{n} has no $id"))
                .to_owned();
            json["$id"] = format!("https://sipbench.invalid/{id}").into();
            (n, json)
        })
        .collect();
    let main = files
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no results/{name}"))
        .1
        .clone();
    let mut options = jsonschema::options();
    for (_, json) in files.into_iter().filter(|(n, _)| n != name) {
        let id = json["$id"].as_str().unwrap().to_owned();
        options = options.with_resource(id, jsonschema::Resource::from_contents(json));
    }
    options
        .build(&main)
        .unwrap_or_else(|e| panic!("results/{name} compiles: {e}"))
}

/// Fails, listing every problem, when `json` breaks results/NAME.
pub fn assert_valid_against(name: &str, json: &serde_json::Value) {
    let errors: Vec<String> = validator(name)
        .iter_errors(json)
        .take(20)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "breaks results/{name}:\n{}", errors.join("\n"));
}

/// Fails, listing every problem, when `json` breaks results/schema.json.
pub fn assert_valid(json: &serde_json::Value) {
    let errors: Vec<String> = schema()
        .iter_errors(json)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "results file breaks results/schema.json:\n{}",
        errors.join("\n")
    );
}

/// The sipbench binary of this build, logging warnings only.
pub fn sipbench() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sipbench"));
    c.env("RUST_LOG", "warn");
    c
}

/// Runs `cmd` and requires it to succeed, showing its output if it did not.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("sipbench runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
