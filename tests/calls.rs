//! Calls as SIPp makes them: INVITE with an SDP offer, 100/180/200, ACK, a hold time, BYE;
//! counted as calls per second and concurrent calls, over TLS against the reference server.
//! (tests/kamailio.rs runs calls against Kamailio; the uac unit tests check the extra headers
//! on the wire.)

mod common;

use std::time::Duration;

use common::TestServer;
use sipbench::plan::{Mode, Txn, Workload};

#[test]
fn held_calls_are_counted_as_sipp_counts_them() {
    let srv = TestServer::start();
    let mut args = srv.args(Mode::Tls, 0);
    args.phase.sessions = None;
    args.phase.concurrency = None;
    args.phase.workload = Some(Workload::Kept);
    args.phase.connections = Some(8);
    args.phase.duration = Some(Duration::from_secs(2));
    args.phase.transactions = Some(vec![Txn::Invite]);
    args.phase.call_hold = Some(Duration::from_millis(200));
    args.phase.headers = Some(vec!["X-Campaign: calls".into()]);
    let (_, p) = common::run_one(&args);
    assert!(p.failures.is_empty(), "{:?}", p.failures);
    let calls = p.calls.expect("call figures");
    assert_eq!(calls.hold_s, 0.2);
    assert_eq!(calls.failed, 0);
    assert!(calls.completed >= 8, "{calls:?}");
    // Each session holds its call 200 ms: 8 sessions complete at most 40 calls a second, and
    // spend most of their time in a call, so nearly all are in one at once.
    assert!(calls.calls_per_s <= 40.0 * 1.05, "{calls:?}");
    assert!((4..=8).contains(&calls.concurrent_max), "{calls:?}");
    assert_eq!(p.transactions["INVITE"].ok, calls.attempted);
    assert_eq!(p.transactions["BYE"].ok, calls.completed);

    // Without INVITE there are no call figures.
    let (_, p) = common::run_one(&srv.args(Mode::Tcp, 4));
    assert!(p.calls.is_none());
}
