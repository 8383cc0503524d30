//! # sipbench
//!
//! A benchmark and load generator for SIP over TLS and mutual TLS (MTLS), with a built-in
//! reference SIP server. It measures what enterprise UC operators care about: full TLS and MTLS
//! handshake latency and rate, SIP transaction latency over established sessions, and how many
//! sessions a server holds, per crypto backend.
//!
//! ## Map
//! - [`sip`]: the SIP codec and stream framer. Pure: no I/O, no clocks.
//! - [`connection`]: one SIP connection (socket, read buffer and framer, output buffer), read
//!   by the client ([`uac`]), the server and the audit alike.
//! - [`pki`]: throwaway PKIs (enterprise CA, partner CA, server, edge and client certificates)
//!   and loading of user-supplied PEM; [`forge`]: certificates made to attack the trust model.
//! - [`tls`]: the TLS stacks (rustls with a crypto provider per backend; OpenSSL) and the
//!   cleartext transport behind one interface: dialers, acceptors, streams, what a handshake
//!   negotiated and how failures are classified.
//! - [`trust`]: the enterprise trust model (CAs identified by key and scoped to domains and
//!   addresses, CRLs, the topology of trusted servers, names read by one strict parser), as one
//!   rustls verifier for both roles and the policy [`tls::ossl`] applies after OpenSSL's own
//!   verification; [`audit`]: the trust matrix with its attack cells, on both stacks.
//! - [`server`]: the reference server (TLS, MTLS and TCP listeners; registrar and UAS), a
//!   library call that tests start on port 0.
//! - [`generator`]: the load generator, [`generator::run`] with a [`generator::RunConfig`]:
//!   a phase runner that never asks which workload runs, the workloads (one type each, behind
//!   one trait), one recorder per worker, the phase clock, and the targets.
//! - [`plan`]: load profiles and flags, lowered into one typed plan: a phase setting is
//!   declared once ([`plan::PhaseSpec`], both the profile's table and the flags);
//!   [`shape`]: open-loop load shapes (ramps, steps) and their arrival schedule. Pure.
//! - [`capacity`]: `sipbench capacity`, a binary search over short open-loop steps for the
//!   highest rate that keeps the thresholds (the search itself is pure).
//! - [`stats`]: per-worker histograms and failure counts, merged at the end; [`failure`]:
//!   the failure vocabulary. Both pure.
//! - [`results`]: the results file, a documented contract; [`printer`]: the terminal summary;
//!   [`threshold`]: pass/fail expressions over a phase's results.
//! - [`report`]: reports from stored results files: plots, `.hgrm` files, HTML, and `diff`;
//!   [`merge`]: the results files of a run's shards added up into one, losslessly; [`shard`]:
//!   how a run splits over several processes (`run --shard I/N`).
//! - [`metrics`]: live OpenMetrics (`serve --metrics`, `run --metrics`): the server's
//!   counters read at scrape time, the generator's closed intervals, one small HTTP endpoint.
//! - [`pool`]: one current-thread tokio runtime per core; [`sys`]: process and machine facts.
//! - [`limits`]: the range of every numeric flag and profile field; [`exit`]: exit statuses
//!   and the error kinds (configuration, runtime) that choose them.
//! - [`cli`]: the command line; [`profiles`]: the shipped profiles, embedded; [`version`]:
//!   version, git revision and backends for `--version` and results files; [`manual`]: shell
//!   completions and man pages.
//!
//! sipbench does no work at import time and installs no process-wide crypto provider.

pub mod audit;
pub mod backends;
pub mod baseline;
pub mod bulk;
pub mod capacity;
pub mod cli;
pub mod compare;
pub mod connection;
pub mod dns;
pub mod exit;
pub mod failure;
pub mod forge;
pub mod generator;
pub mod limits;
pub mod manual;
pub mod merge;
pub mod metrics;
pub mod pki;
pub mod plan;
pub mod pool;
pub mod printer;
pub mod profiles;
pub mod report;
pub mod results;
pub mod server;
pub mod shape;
pub mod shard;
pub mod signals;
pub mod sip;
pub mod stats;
pub mod sys;
pub mod threshold;
pub mod tls;
pub mod trust;
pub mod uac;
pub mod users;
pub mod version;
