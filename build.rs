//! Records the git revision and the versions of the TLS stack in the binary, for results files.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    // HEAD, the branch it points to and the index: a commit or a checkout changes the revision.
    // In a worktree `.git` is a file, so the paths come from git itself.
    for path in git_paths() {
        println!("cargo:rerun-if-changed={path}");
    }
    // Any source change can make the tree dirty; cargo scans these directories for changes.
    for path in ["src", "benches", "examples", "profiles", "Cargo.toml", "build.rs"] {
        println!("cargo:rerun-if-changed={path}");
    }
    // `describe --dirty` refreshes the index, which fails while another git process holds its
    // lock: then the commit alone, marked as not checked for changes.
    let rev = git(&["describe", "--always", "--dirty", "--abbrev=12"])
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]).map(|r| format!("{r}-unchecked")))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=SIPBENCH_GIT_REVISION={rev}");
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    for (krate, var) in [
        ("rustls", "SIPBENCH_RUSTLS_VERSION"),
        ("aws-lc-rs", "SIPBENCH_AWS_LC_RS_VERSION"),
        ("aws-lc-sys", "SIPBENCH_AWS_LC_SYS_VERSION"),
        ("aws-lc-fips-sys", "SIPBENCH_AWS_LC_FIPS_SYS_VERSION"),
        ("tokio", "SIPBENCH_TOKIO_VERSION"),
        ("ring", "SIPBENCH_RING_VERSION"),
        ("graviola", "SIPBENCH_GRAVIOLA_VERSION"),
        ("rustls-graviola", "SIPBENCH_RUSTLS_GRAVIOLA_VERSION"),
        ("openssl", "SIPBENCH_OPENSSL_CRATE_VERSION"),
    ] {
        println!("cargo:rustc-env={var}={}", locked_version(&lock, krate));
    }
}

/// The files whose changes change the revision: HEAD, the ref HEAD names (loose or packed) and
/// the index; none outside a git checkout.
fn git_paths() -> Vec<String> {
    let Some(dir) = git(&["rev-parse", "--git-dir"]) else {
        return Vec::new();
    };
    let common = git(&["rev-parse", "--git-common-dir"]).unwrap_or_else(|| dir.clone());
    let mut paths = vec![format!("{dir}/HEAD"), format!("{dir}/index")];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        paths.push(format!("{common}/{branch}"));
    }
    paths.push(format!("{common}/packed-refs"));
    // A path that does not exist would rerun the script on every build.
    paths.retain(|p| std::path::Path::new(p).exists());
    paths
}

/// What `git ARGS` prints, trimmed; `None` when git fails or prints nothing.
fn git(args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// The version of `krate` in Cargo.lock (the highest, if several are locked).
fn locked_version(lock: &str, krate: &str) -> String {
    let mut best: Option<String> = None;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{krate}\"") {
            if let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \""))
                .and_then(|v| v.strip_suffix('"'))
            {
                if best.as_deref().is_none_or(|b| b < v) {
                    best = Some(v.to_owned());
                }
            }
        }
    }
    best.unwrap_or_else(|| "unknown".into())
}
