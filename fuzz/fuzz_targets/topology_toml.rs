//! Topology files: `TopologyFile::parse` (the pure text parser and its checks) on arbitrary text,
//! then what the trust model asks of a parsed file: each CA's address ranges and whether they
//! hold a few addresses, the server lookup by name and CA, and `resolve` against a directory.
//! (`trust_load` goes on to load the certificates and CRLs a topology names.)
//!
//! Must hold: no panic; a range parsed from a CA's `addresses` contains the address it was
//! written with, when it is written without a prefix.
#![no_main]

use std::net::IpAddr;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sipbench::trust::topology::TopologyFile;

const ADDRESSES: &[&str] = &[
    "127.0.0.1",
    "10.1.2.3",
    "192.0.2.7",
    "::1",
    "2001:db8::7",
    "::ffff:127.0.0.1",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(file) = TopologyFile::parse(text) else { return };
    let probes: Vec<IpAddr> = ADDRESSES.iter().map(|a| a.parse().unwrap()).collect();
    for ca in &file.ca {
        let ranges = ca.address_ranges();
        for range in &ranges {
            for ip in &probes {
                let _ = range.contains(ip);
            }
        }
        for written in &ca.addresses {
            if let Ok(ip) = written.parse::<IpAddr>() {
                assert!(
                    ranges.iter().any(|r| r.contains(&ip)),
                    "CA {:?}: address {written:?} is in none of its ranges",
                    ca.name
                );
            }
        }
        for server in &file.server {
            let _ = file.server(&server.fqdn, &ca.name);
            let _ = file.server(&server.fqdn.to_uppercase(), &server.ca);
        }
        let _ = file.server("sip.example.test", &ca.name);
    }
    let resolved = file.clone().resolve(Path::new("/etc/sipbench"));
    assert_eq!(resolved.ca.len(), file.ca.len());
});
