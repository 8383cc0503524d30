//! The trust matrix over real loopback sockets, on both TLS stacks: every good and bad
//! certificate of the PKI and every attack certificate, offered to the reference server as an
//! MTLS client certificate (direction `server`, on a rustls and an OpenSSL server) and
//! presented by a rogue server to sipbench's server-to-server client and to its TLS client
//! (directions `client` and `client-tls`, on rustls and OpenSSL clients), over TLS 1.2 and 1.3;
//! the load cells and the 0-RTT cell. Each cell must be accepted, or refused for the expected
//! reason. Run on a PKI of roots only and on one with issuing CAs (leaf, issuing CA, root).

use sipbench::audit::command::{AuditArgs, AuditReport, run};
use sipbench::audit::{Case, Direction, Expect, Stack};
use sipbench::pki::KeyType;
use sipbench::tls::Versions;

fn audit(intermediate: bool) -> AuditReport {
    let args = AuditArgs {
        pki: None,
        pki_files: Vec::new(),
        names: Vec::new(),
        key_type: KeyType::EcdsaP256,
        intermediate,
        tls_versions: vec![Versions::Tls12, Versions::Tls13],
        stacks: Stack::ALL.to_vec(),
        case: Vec::new(),
        issuer_cert: None,
        issuer_key: None,
        attack_name: None,
        tls_addr: None,
        mtls_addr: None,
        server_name: None,
        topology: None,
        at: None,
        json: false,
        out: None,
    };
    run(&args).expect("the audit runs")
}

fn check(r: &AuditReport) {
    let failed: Vec<_> = r.cells.iter().filter(|c| !c.pass).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(r.cells.iter().all(|c| c.reason_observable));
    // Every PKI case and attack, on every stack and version, in every direction it applies to.
    for case in Case::all()
        .into_iter()
        .chain(sipbench::audit::Attack::ALL.map(Case::Attack))
    {
        for direction in [Direction::Server, Direction::Client, Direction::ClientTls] {
            let n = r
                .cells
                .iter()
                .filter(|c| c.case == case && c.direction == direction)
                .count();
            let want = match case {
                Case::Attack(a) if a.at_load() => 0,
                Case::Attack(sipbench::audit::Attack::ZeroRttNotInTopology) => {
                    usize::from(direction == Direction::Client)
                }
                _ => 4,
            };
            assert_eq!(n, want, "{} {}", case.as_str(), direction.as_str());
        }
    }
    // Both stacks refuse every bad certificate for the same reason in each direction, but for
    // the entries OpenSSL will not decode (it refuses those before the trust model sees them).
    for c in &r.cells {
        let openssl_own = matches!(
            c.case,
            Case::Attack(
                sipbench::audit::Attack::UnparseableOtherName | sipbench::audit::Attack::UnparseableDirectoryName
            )
        ) && c.stack == Some(Stack::Openssl);
        if !openssl_own {
            assert_eq!(c.expected, c.case.expected(c.direction, None), "{c:?}");
        }
    }
}

#[test]
fn every_cell_passes_with_roots_issuing_leaves() {
    let r = audit(false);
    check(&r);
    assert_eq!(r.cells.len(), 315);
}

#[test]
fn every_cell_passes_with_issuing_cas_between_roots_and_leaves() {
    let r = audit(true);
    check(&r);
    // The good certificates travel with their issuing CA and are accepted on both stacks.
    let good = r
        .cells
        .iter()
        .filter(|c| matches!(c.case, Case::GoodEdge | Case::GoodPartner))
        .count();
    assert_eq!(good, 2 * 3 * 2 * 2);
    assert!(
        r.cells
            .iter()
            .any(|c| c.case == Case::Bad(sipbench::pki::BadCert::Revoked)
                && c.stack == Some(Stack::Openssl)
                && c.observed == Expect::Reject("revoked".into()))
    );
}
