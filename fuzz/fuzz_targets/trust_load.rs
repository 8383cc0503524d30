//! Loading a trust: a topology file, the CA certificates and CRLs it names, and the checks made
//! when they are loaded (`Trust::new`), all from memory.
//!
//! The input is a multi-file archive (`sipbench_fuzz::split_files`): the first file is the
//! topology text, fed to `TopologyFile::parse`; the others are the files it names, looked up by
//! the exact path written in `cert` and `crl` (as `Trust::load` would read them, minus the
//! directory), with the readers `Trust::load` uses: `pki::certs_from` for a CA file (PEM
//! `CERTIFICATE` blocks) and `pki::crls_from` for a CRL file (PEM `X509 CRL` blocks or one DER
//! CRL). A name the topology does not use is a peer's chain (PEM, leaf first), given to
//! `Trust::authorize` once the trust is built. Everything must return, never panic.
//!
//! With `FUZZ_VERBOSE=1` in the environment the target says how far each input got (run the
//! binary on files to see why a seed stops early).
#![no_main]

use std::path::Path;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sipbench::pki;
use sipbench::trust::{RevocationMode, TopologyFile, Trust, TrustedCa};
use sipbench_fuzz::{File, split_files};

static VERBOSE: LazyLock<bool> = LazyLock::new(|| std::env::var_os("FUZZ_VERBOSE").is_some_and(|v| v != "0"));

macro_rules! say {
    ($($arg:tt)*) => {
        if *VERBOSE {
            eprintln!("trust_load: {}", format_args!($($arg)*));
        }
    };
}

fn lookup<'a>(files: &'a [File<'a>], path: &Path) -> Option<&'a [u8]> {
    files.iter().find(|f| Path::new(f.name) == path).map(|f| f.content)
}

fuzz_target!(|data: &[u8]| {
    let files = split_files(data);
    let Some((topology, files)) = files.split_first() else {
        say!("no file");
        return;
    };
    let Ok(text) = std::str::from_utf8(topology.content) else {
        say!("the topology is not UTF-8");
        return;
    };
    let file = match TopologyFile::parse(text) {
        Ok(file) => file,
        Err(e) => {
            say!("topology: {e}");
            return;
        }
    };
    let mut cas = Vec::new();
    for entry in &file.ca {
        let certs = match lookup(files, &entry.cert).map(|c| pki::certs_from(c, &entry.cert)) {
            Some(Ok(certs)) => certs,
            other => {
                say!("ca `{}`: {:?}", entry.name, other.map(|r| r.map(|_| ())));
                return;
            }
        };
        let mut crls = Vec::new();
        if file.revocation == RevocationMode::Crl {
            for path in &entry.crl {
                match lookup(files, path).map(|c| pki::crls_from(c, path)) {
                    Some(Ok(more)) => crls.extend(more),
                    other => {
                        say!("ca `{}`: {:?}", entry.name, other.map(|r| r.map(|_| ())));
                        return;
                    }
                }
            }
        }
        cas.push(
            TrustedCa::new(entry.name.clone(), certs, crls, entry.domains.clone())
                .with_addresses(entry.address_ranges()),
        );
    }
    let trust = match Trust::new(&file, cas) {
        Ok(trust) => trust,
        Err(e) => {
            say!("Trust::new: {e}");
            return;
        }
    };
    // What a loaded trust is used for without a handshake.
    say!("loaded: {}", trust.describe());
    let _ = trust.ca_certificates().count() + trust.crls().count();
    for f in files {
        let used = file
            .ca
            .iter()
            .any(|c| Path::new(f.name) == c.cert || c.crl.iter().any(|p| Path::new(f.name) == p));
        if used {
            continue;
        }
        if let Ok(chain) = pki::certs_from(f.content, Path::new(f.name)) {
            let outcome = trust.authorize(&chain);
            say!("{}: authorize: {outcome:?}", f.name);
        }
    }
});
