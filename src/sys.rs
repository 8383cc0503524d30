//! What the process and the machine look like: CPU time, resident memory, the file-descriptor
//! limit, and the environment recorded with every result; and temporary names for atomic writes.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A temporary name beside `path` for an atomic write (write it, then rename it over `path`):
/// hidden, and unique to this process and this call, so two writers of the same file, in two
/// processes or two threads, never rename each other's temporary file away.
pub fn temp_sibling(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_else(|| "unnamed".as_ref()));
    name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    path.with_file_name(name)
}

/// User and system CPU time used by this process so far.
pub fn cpu_times() -> (Duration, Duration) {
    use nix::sys::resource::{UsageWho, getrusage};
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(u) => (tv(u.user_time()), tv(u.system_time())),
        Err(_) => (Duration::ZERO, Duration::ZERO),
    }
}

fn tv(t: nix::sys::time::TimeVal) -> Duration {
    Duration::from_secs(t.tv_sec().max(0) as u64) + Duration::from_micros(t.tv_usec().max(0) as u64)
}

/// Resident set size of this process in bytes (Linux `/proc/self/statm`), if readable.
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096) as u64;
    Some(pages * page)
}

/// Returns the allocator's free memory to the kernel (glibc `malloc_trim`), so that a
/// resident-memory reading that follows counts memory in use, not pages freed earlier (by an
/// earlier phase, say) and kept for reuse: without it, sessions opened after a busy phase land
/// in those pages and seem to cost nothing. Does nothing on other C libraries.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: malloc_trim(0) takes no pointer and hands only free heap pages back to the kernel
    // (madvise on free chunks, shrinking the top of each arena); it locks each arena while it
    // works, so it is safe to call while other threads allocate.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The open-files limit before and after sipbench raised the soft limit to the hard one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdLimit {
    /// Soft limit found at start.
    pub soft_before: u64,
    /// Soft limit now.
    pub soft: u64,
    /// Hard limit (the ceiling).
    pub hard: u64,
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit.
pub fn raise_fd_limit() -> FdLimit {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return FdLimit {
            soft_before: 0,
            soft: 0,
            hard: 0,
        };
    };
    let raised = if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        hard
    } else {
        soft
    };
    FdLimit {
        soft_before: soft,
        soft: raised,
        hard,
    }
}

/// The machine and build a result was measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// CPU model name.
    pub cpu_model: String,
    /// Cores this process may use.
    pub cores: usize,
    /// Kernel release.
    pub kernel: String,
    /// Operating system and architecture.
    pub os: String,
    /// Total memory in bytes.
    pub memory_bytes: Option<u64>,
    /// sipbench version.
    pub sipbench_version: String,
    /// Git revision sipbench was built from (`unknown` outside a checkout; `-dirty` when modified).
    pub git_revision: String,
    /// Build profile (`release` or `debug`): debug figures are not benchmark figures.
    pub build_profile: String,
    /// rustls version.
    pub rustls_version: String,
    /// Crypto library of the generator's backend, with versions (e.g. `aws-lc-rs 1.19.0
    /// (aws-lc-sys 0.47.0)`); the embedded server's follows after ` · server ` when it differs.
    pub crypto_library: String,
    /// tokio version.
    pub tokio_version: String,
    /// Crypto backend of the generator.
    pub backend: String,
    /// Crypto backend of the embedded server (`none` for a remote target).
    pub server_backend: String,
    /// Open-files limit.
    pub fd_limit: FdLimit,
}

impl Environment {
    /// Reads the environment. `fd_limit` comes from [`raise_fd_limit`].
    pub fn capture(
        backend: crate::tls::Backend,
        server_backend: Option<crate::tls::Backend>,
        fd_limit: FdLimit,
    ) -> Environment {
        let library = |b: crate::tls::Backend| match b {
            #[cfg(not(feature = "fips"))]
            crate::tls::Backend::AwsLcRs => {
                format!("{} (aws-lc-sys {})", b.library(), env!("SIPBENCH_AWS_LC_SYS_VERSION"))
            }
            #[cfg(feature = "fips")]
            crate::tls::Backend::AwsLcRs => format!(
                "{} (aws-lc-fips-sys {}, FIPS mode)",
                b.library(),
                env!("SIPBENCH_AWS_LC_FIPS_SYS_VERSION")
            ),
            other => other.library(),
        };
        let mut crypto_library = library(backend);
        if let Some(s) = server_backend.filter(|s| *s != backend) {
            crypto_library = format!("{crypto_library} · server {}", library(s));
        }
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        let kernel = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_else(|_| "unknown".into());
        let memory_bytes = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
            let kb: u64 = m
                .lines()
                .find(|l| l.starts_with("MemTotal:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some(kb * 1024)
        });
        Environment {
            cpu_model,
            cores: crate::pool::cores(),
            kernel,
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            memory_bytes,
            sipbench_version: crate::version::VERSION.into(),
            git_revision: crate::version::REVISION.into(),
            build_profile: crate::version::BUILD_PROFILE.into(),
            rustls_version: env!("SIPBENCH_RUSTLS_VERSION").into(),
            crypto_library,
            tokio_version: env!("SIPBENCH_TOKIO_VERSION").into(),
            backend: backend.as_str().into(),
            server_backend: server_backend.map_or("none", |b| b.as_str()).into(),
            fd_limit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_process_figures() {
        let rss = rss_bytes().expect("linux has /proc/self/statm");
        assert!(rss > 1024 * 1024, "rss {rss}");
        let limit = raise_fd_limit();
        assert!(limit.soft >= limit.soft_before);
        assert!(limit.soft <= limit.hard);
        let env = Environment::capture(crate::tls::Backend::AwsLcRs, Some(crate::tls::Backend::Ring), limit);
        assert!(env.crypto_library.contains("aws-lc-rs") && env.crypto_library.contains("server ring"));
        assert!(env.cores >= 1);
        assert!(env.rustls_version.starts_with("0.23"), "{}", env.rustls_version);
    }
}
