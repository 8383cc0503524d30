//! The trust matrix, one integration test per cell: each good and bad certificate, offered to
//! the reference server as an MTLS client certificate (direction `server`) and presented by a
//! rogue server to sipbench's server-to-server client (direction `client`) and to its TLS client
//! (direction `client-tls`), over TLS 1.2 and TLS 1.3, over real
//! loopback sockets. Each cell must be accepted, or refused for the expected reason.

use std::sync::OnceLock;
use std::time::Duration;

use sipbench::audit::{self, Case, Direction, Expect, ServerUnderTest};
use sipbench::pki::{self, BadCert, KeyType, Pki};
use sipbench::pool::Pool;
use sipbench::server::{self, ServerConfig};
use sipbench::tls::{Backend, Versions};
use sipbench::trust::Trust;

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| Pki::generate(KeyType::EcdsaP256).expect("PKI"))
}

fn cell(case: Case, direction: Direction, version: Versions) {
    let pki = pki();
    let trust = Trust::for_pki(pki).expect("trust");
    let provider = Backend::default().provider();
    let pool = Pool::new(1, "matrix").expect("pool");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cell = rt.block_on(async {
        let config = ServerConfig::loopback(pki.server.clone(), trust.clone());
        let server = server::start(&config, &pool).expect("server");
        let cell = match direction {
            Direction::Server => {
                let sut = ServerUnderTest {
                    addr: server.addrs().mtls[0],
                    name: pki::SERVER_DNS.into(),
                    trust: trust.clone(),
                    reference: Some(&server),
                };
                audit::server_cell(&sut, &provider, pki, case, version).await
            }
            client => audit::client_cell(&server, &provider, pki, &trust, &pki.edge, case, version, client).await,
        }
        .expect("cell runs");
        let stats = server.shutdown(Duration::from_secs(1)).await;
        if direction == Direction::Server && case.expected(direction) != Expect::Accept {
            // A refused peer never gets SIP through.
            assert_eq!(stats.requests, 0, "{stats:?}");
        }
        cell
    });
    drop(rt);
    drop(pool);
    assert_eq!(cell.observed, case.expected(direction), "{cell:?}");
    assert!(cell.pass && cell.reason_observable, "{cell:?}");
}

macro_rules! cells {
    ($($name:ident: $case:expr, $direction:expr, $version:expr;)*) => {
        $(
            #[test]
            fn $name() {
                cell($case, $direction, $version);
            }
        )*
    };
}

cells! {
    server_tls12_good_edge: Case::GoodEdge, Direction::Server, Versions::Tls12;
    server_tls12_good_partner: Case::GoodPartner, Direction::Server, Versions::Tls12;
    server_tls12_expired: Case::Bad(BadCert::Expired), Direction::Server, Versions::Tls12;
    server_tls12_not_yet_valid: Case::Bad(BadCert::NotYetValid), Direction::Server, Versions::Tls12;
    server_tls12_revoked: Case::Bad(BadCert::Revoked), Direction::Server, Versions::Tls12;
    server_tls12_wrong_name: Case::Bad(BadCert::WrongName), Direction::Server, Versions::Tls12;
    server_tls12_untrusted_ca: Case::Bad(BadCert::UntrustedCa), Direction::Server, Versions::Tls12;
    server_tls12_not_in_topology: Case::Bad(BadCert::NotInTopology), Direction::Server, Versions::Tls12;
    server_tls12_partner_claims_enterprise: Case::Bad(BadCert::PartnerClaimsEnterprise), Direction::Server, Versions::Tls12;
    server_tls13_good_edge: Case::GoodEdge, Direction::Server, Versions::Tls13;
    server_tls13_good_partner: Case::GoodPartner, Direction::Server, Versions::Tls13;
    server_tls13_expired: Case::Bad(BadCert::Expired), Direction::Server, Versions::Tls13;
    server_tls13_not_yet_valid: Case::Bad(BadCert::NotYetValid), Direction::Server, Versions::Tls13;
    server_tls13_revoked: Case::Bad(BadCert::Revoked), Direction::Server, Versions::Tls13;
    server_tls13_wrong_name: Case::Bad(BadCert::WrongName), Direction::Server, Versions::Tls13;
    server_tls13_untrusted_ca: Case::Bad(BadCert::UntrustedCa), Direction::Server, Versions::Tls13;
    server_tls13_not_in_topology: Case::Bad(BadCert::NotInTopology), Direction::Server, Versions::Tls13;
    server_tls13_partner_claims_enterprise: Case::Bad(BadCert::PartnerClaimsEnterprise), Direction::Server, Versions::Tls13;
    client_tls12_good_edge: Case::GoodEdge, Direction::Client, Versions::Tls12;
    client_tls12_good_partner: Case::GoodPartner, Direction::Client, Versions::Tls12;
    client_tls12_expired: Case::Bad(BadCert::Expired), Direction::Client, Versions::Tls12;
    client_tls12_not_yet_valid: Case::Bad(BadCert::NotYetValid), Direction::Client, Versions::Tls12;
    client_tls12_revoked: Case::Bad(BadCert::Revoked), Direction::Client, Versions::Tls12;
    client_tls12_wrong_name: Case::Bad(BadCert::WrongName), Direction::Client, Versions::Tls12;
    client_tls12_untrusted_ca: Case::Bad(BadCert::UntrustedCa), Direction::Client, Versions::Tls12;
    client_tls12_not_in_topology: Case::Bad(BadCert::NotInTopology), Direction::Client, Versions::Tls12;
    client_tls12_partner_claims_enterprise: Case::Bad(BadCert::PartnerClaimsEnterprise), Direction::Client, Versions::Tls12;
    client_tls13_good_edge: Case::GoodEdge, Direction::Client, Versions::Tls13;
    client_tls13_good_partner: Case::GoodPartner, Direction::Client, Versions::Tls13;
    client_tls13_expired: Case::Bad(BadCert::Expired), Direction::Client, Versions::Tls13;
    client_tls13_not_yet_valid: Case::Bad(BadCert::NotYetValid), Direction::Client, Versions::Tls13;
    client_tls13_revoked: Case::Bad(BadCert::Revoked), Direction::Client, Versions::Tls13;
    client_tls13_wrong_name: Case::Bad(BadCert::WrongName), Direction::Client, Versions::Tls13;
    client_tls13_untrusted_ca: Case::Bad(BadCert::UntrustedCa), Direction::Client, Versions::Tls13;
    client_tls13_not_in_topology: Case::Bad(BadCert::NotInTopology), Direction::Client, Versions::Tls13;
    client_tls13_partner_claims_enterprise: Case::Bad(BadCert::PartnerClaimsEnterprise), Direction::Client, Versions::Tls13;
    client_tls_tls12_good_edge: Case::GoodEdge, Direction::ClientTls, Versions::Tls12;
    client_tls_tls12_good_partner: Case::GoodPartner, Direction::ClientTls, Versions::Tls12;
    client_tls_tls12_expired: Case::Bad(BadCert::Expired), Direction::ClientTls, Versions::Tls12;
    client_tls_tls12_not_yet_valid: Case::Bad(BadCert::NotYetValid), Direction::ClientTls, Versions::Tls12;
    client_tls_tls12_revoked: Case::Bad(BadCert::Revoked), Direction::ClientTls, Versions::Tls12;
    client_tls_tls12_wrong_name: Case::Bad(BadCert::WrongName), Direction::ClientTls, Versions::Tls12;
    client_tls_tls12_untrusted_ca: Case::Bad(BadCert::UntrustedCa), Direction::ClientTls, Versions::Tls12;
    client_tls_tls12_not_in_topology: Case::Bad(BadCert::NotInTopology), Direction::ClientTls, Versions::Tls12;
    client_tls_tls12_partner_claims_enterprise: Case::Bad(BadCert::PartnerClaimsEnterprise), Direction::ClientTls, Versions::Tls12;
    client_tls_tls13_good_edge: Case::GoodEdge, Direction::ClientTls, Versions::Tls13;
    client_tls_tls13_good_partner: Case::GoodPartner, Direction::ClientTls, Versions::Tls13;
    client_tls_tls13_expired: Case::Bad(BadCert::Expired), Direction::ClientTls, Versions::Tls13;
    client_tls_tls13_not_yet_valid: Case::Bad(BadCert::NotYetValid), Direction::ClientTls, Versions::Tls13;
    client_tls_tls13_revoked: Case::Bad(BadCert::Revoked), Direction::ClientTls, Versions::Tls13;
    client_tls_tls13_wrong_name: Case::Bad(BadCert::WrongName), Direction::ClientTls, Versions::Tls13;
    client_tls_tls13_untrusted_ca: Case::Bad(BadCert::UntrustedCa), Direction::ClientTls, Versions::Tls13;
    client_tls_tls13_not_in_topology: Case::Bad(BadCert::NotInTopology), Direction::ClientTls, Versions::Tls13;
    client_tls_tls13_partner_claims_enterprise: Case::Bad(BadCert::PartnerClaimsEnterprise), Direction::ClientTls, Versions::Tls13;
}

#[test]
fn every_case_has_a_cell_in_every_direction() {
    // 9 cases x 3 directions x 2 versions above; keep the list complete when cases are added.
    assert_eq!(Case::all().len(), 9);
}
