//! Certificate-name extraction: `parse_san` on a subjectAltName extension value and
//! `CertNames::parse` on a whole certificate, both fed the same bytes (the seeds hold real
//! certificates and real extension bodies, so each sees both well-formed and foreign input).
//!
//! Neither may panic, and whatever names they return must be names the trust model can match:
//! every DNS name valid by `valid_dns_name` and in lower case (IP addresses are valid by type).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipbench::trust::names::{CertNames, parse_san, valid_dns_name};

fn check(names: &CertNames, what: &str, data: &[u8]) {
    for name in &names.dns {
        assert!(
            valid_dns_name(name),
            "{what} returned {name:?}, not a valid DNS name (input {} bytes)",
            data.len()
        );
        assert!(
            !name.bytes().any(|b| b.is_ascii_uppercase()),
            "{what} returned {name:?}, not in lower case"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(names) = parse_san(data) {
        check(&names, "parse_san", data);
    }
    if let Ok(names) = CertNames::parse(data) {
        check(&names, "CertNames::parse", data);
    }
});
