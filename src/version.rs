//! What this binary is: version, git revision and build profile, as `--version` prints them and
//! results files record them ([`crate::sys::Environment`]), so the two always agree.

use std::sync::LazyLock;

use crate::tls::Backend;

/// The crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git revision the binary was built from (`git describe --always --dirty`, so a `-dirty`
/// suffix marks uncommitted changes), or `unknown` when built outside a git checkout. Set by
/// `build.rs`.
pub const REVISION: &str = env!("SIPBENCH_GIT_REVISION");

/// The cargo profile kind: `debug` (debug assertions on) or `release`.
pub const BUILD_PROFILE: &str = if cfg!(debug_assertions) { "debug" } else { "release" };

/// `-V`: `0.1.0 (rev REV, PROFILE build)` (clap puts the name in front).
pub fn short() -> &'static str {
    static SHORT: LazyLock<String> = LazyLock::new(|| format!("{VERSION} (rev {REVISION}, {BUILD_PROFILE} build)"));
    &SHORT
}

/// `--version`: [`short`] and one line per crypto backend with its library and version, as
/// `sipbench backends` names them.
pub fn long() -> &'static str {
    static LONG: LazyLock<String> = LazyLock::new(|| {
        let mut s = short().to_owned();
        s.push_str("\ncrypto backends:");
        for b in Backend::ALL {
            s.push_str(&format!("\n  {:<10} {}", b.as_str(), b.library()));
        }
        s
    });
    &LONG
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_long_version_names_the_revision_and_every_backend() {
        let long = long();
        assert!(long.starts_with(short()), "{long}");
        assert!(short().contains(&format!("rev {REVISION}, ")), "{}", short());
        for b in Backend::ALL {
            assert!(long.contains(b.as_str()) && long.contains(&b.library()), "{long}");
        }
    }
}
