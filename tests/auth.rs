//! Digest authentication end to end: the generator's sessions, as users of a users file,
//! against the reference server started with `auth` (REGISTER challenged with 401, MESSAGE
//! with 407), over TLS. Right passwords get through with one challenge per challenged method
//! (the nonce is then reused), wrong ones fail as `auth:rejected`, sessions without a password
//! as `auth:no-credentials`, and stale nonces are answered again without a failure.
//! Kamailio's challenges are in tests/kamailio.rs.

mod common;

use std::time::Duration;

use common::{TestServer, run_one};
use sipbench::plan::{Mode, Txn, Workload};
use sipbench::server::auth::AuthConfig;
use sipbench::sip::digest::Algorithm;
use sipbench::users::Users;

const USERS: &str = "SEQUENTIAL\nalice,secret-a,,,Alice\nbob,secret-b,bob-auth\ncarol,secret-c\n";

fn server(algorithms: Vec<Algorithm>, nonce_lifetime: Duration) -> TestServer {
    TestServer::start_with(|c| {
        c.auth = Some(AuthConfig {
            users: Users::parse(USERS).unwrap(),
            realm: "example.test".into(),
            algorithms,
            nonce_lifetime,
        })
    })
}

fn users_file(srv: &TestServer, name: &str, text: &str) -> std::path::PathBuf {
    let path = srv.file(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn right_passwords_pass_with_one_challenge_per_method_and_wrong_ones_are_rejected() {
    for algorithms in [
        vec![Algorithm::Sha256, Algorithm::Md5],
        vec![Algorithm::Md5Sess],
        vec![Algorithm::Sha512_256],
    ] {
        let srv = server(algorithms.clone(), Duration::from_secs(300));
        let mut args = srv.args(Mode::Tls, 30);
        args.phase.transactions = Some(vec![Txn::Register, Txn::Options, Txn::Message, Txn::Register]);
        args.phase.users = Some(users_file(&srv, "users.csv", USERS));
        args.phase.domain = Some("example.test".into());
        let (_, p) = run_one(&args);
        assert_eq!(p.sessions.ok, 30, "{algorithms:?}: {:?}", p.failures);
        // Per session: the first REGISTER and the MESSAGE are challenged; the second REGISTER
        // reuses the nonce (nonce count 2) and is not.
        assert_eq!(p.auth.map(|a| a.challenges), Some(60), "{algorithms:?}");
        let c = srv.stop();
        assert_eq!(c.auth["challenges"], 60, "{:?}", c.auth);
        assert_eq!(c.auth["accepted"], 90, "{:?}", c.auth);
        assert_eq!(c.auth["rejected"], 0, "{:?}", c.auth);
    }

    let srv = server(vec![Algorithm::Sha256], Duration::from_secs(300));
    // Wrong passwords for two users of three.
    let wrong = "alice,secret-a\nbob,nope,bob-auth\ncarol,nope\n";
    let mut args = srv.args(Mode::Tls, 30);
    args.phase.users = Some(users_file(&srv, "wrong.csv", wrong));
    let (_, p) = run_one(&args);
    assert_eq!(p.sessions.ok, 10, "{:?}", p.failures);
    assert_eq!(p.failures.get("auth:rejected"), Some(&20), "{:?}", p.failures);
    // Users without passwords (the default u0, u1, ...): challenged, nothing to answer with.
    let mut args = srv.args(Mode::Tls, 5);
    args.out = Some(srv.file("none.json"));
    let (_, p) = run_one(&args);
    assert_eq!(p.failures.get("auth:no-credentials"), Some(&5), "{:?}", p.failures);
    let c = srv.stop();
    assert_eq!(c.auth["rejected"], 20, "{:?}", c.auth);
}

/// Kept sessions re-register for 3 s with a nonce fresh for 1 s: the server answers the old
/// nonce with `stale=true` and the client answers again, without a failure.
#[test]
fn stale_nonces_are_answered_again() {
    let srv = server(vec![Algorithm::Md5], Duration::from_secs(1));
    let mut args = srv.args(Mode::Tls, 0);
    args.phase.sessions = None;
    args.phase.concurrency = None;
    args.phase.workload = Some(Workload::Kept);
    args.phase.connections = Some(3);
    args.phase.rate = Some(30.0.into());
    args.phase.duration = Some(Duration::from_secs(3));
    args.phase.transactions = Some(vec![Txn::Register]);
    args.phase.users = Some(users_file(&srv, "users.csv", USERS));
    let (_, p) = run_one(&args);
    assert!(p.failures.is_empty(), "{:?}", p.failures);
    let c = srv.stop();
    assert!(c.auth["stale"] >= 3, "{:?}", c.auth);
    assert_eq!(c.auth["rejected"], 0, "{:?}", c.auth);
}

#[test]
fn a_bad_users_file_is_a_configuration_error_naming_the_line() {
    let srv = TestServer::start();
    let mut args = srv.args(Mode::Tls, 1);
    args.phase.users = Some(users_file(&srv, "bad.csv", "alice,pw\n,pw\n"));
    let e = sipbench::generator::run(&args).unwrap_err();
    let text = format!("{e:#}");
    assert!(text.contains("bad.csv: line 2: the user"), "{text}");
    assert_eq!(sipbench::exit::status(&e), 2);
}
