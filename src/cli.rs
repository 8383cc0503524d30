//! The command line: one subcommand per role, each owning its options.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::audit::command::AuditArgs;
use crate::generator::command::RunArgs;
use crate::pki::{BadCert, KeyType, Pki, files};
use crate::report::{DiffArgs, ReportArgs};
use crate::server::command::ServeArgs;

/// Benchmark and load generator for SIP over TLS and mutual TLS.
#[derive(Debug, Parser)]
#[command(
    name = "sipbench",
    version = crate::version::short(),
    long_version = crate::version::long(),
    about,
    long_about = None
)]
pub struct Cli {
    /// What to do (default: `run` with the embedded default profile).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a load profile against the built-in server (default) or a real deployment.
    #[command(after_help = crate::exit::HELP)]
    Run(Box<RunArgs>),
    /// Find the highest open-loop rate at which the thresholds (p99, failure rate) still hold:
    /// short steps, probing upward then bisecting; prints each step, the knee and a plot.
    #[command(after_help = crate::capacity::command::HELP)]
    Capacity(Box<crate::capacity::command::CapacityArgs>),
    /// Run the reference SIP server (TLS, MTLS and TCP listeners).
    Serve(Box<ServeArgs>),
    /// Manage test PKIs.
    #[command(subcommand)]
    Pki(PkiCommand),
    /// Plots, .hgrm files and an HTML report from stored results files.
    Report(Box<ReportArgs>),
    /// Add up the results files of one run's shards (`run --shard I/N`) into one: histograms
    /// added losslessly, counters and rates summed, timelines aligned by wall clock.
    Merge(Box<crate::merge::MergeArgs>),
    /// Compare two results files metric by metric (exit status 1 on a regression with --fail-on-regression).
    Diff(Box<DiffArgs>),
    /// Run the trust matrix (each good and bad certificate, offered to the server and by a
    /// rogue server) and describe the server's listeners; exit status 1 on any mismatch.
    Audit(Box<AuditArgs>),
    /// List the crypto backends of this binary: versions, cipher suites, key exchange groups
    /// and key types each supports.
    Backends(crate::backends::BackendsArgs),
    /// Run one phase per backend (or key exchange group, or key type) in interleaved rounds and
    /// compare medians, spread, CPU per handshake and memory per idle session.
    Compare(Box<crate::compare::CompareArgs>),
    /// List the shipped load profiles (embedded: `run --profile NAME` works from any
    /// directory), or print one's TOML.
    Profiles(crate::profiles::ProfilesArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions(crate::manual::CompletionsArgs),
    /// Print the man page (roff) on stdout, or write one page per subcommand with --out-dir.
    Man(crate::manual::ManArgs),
}

/// `sipbench pki ...`
#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Write a throwaway PKI: enterprise and partner CAs with their CRLs, server, edge, partner
    /// and client certificates, the negative cases in bad/, and topology.toml.
    Init {
        /// Directory to write (created if missing).
        dir: PathBuf,
        /// Key type of every key in the PKI.
        #[arg(long, value_enum, default_value_t = KeyType::EcdsaP256)]
        key_type: KeyType,
        /// Each organisation's root issues an issuing CA that issues its leaves (AD CS style):
        /// leaf chains carry the issuing CA, which has a CRL of its own.
        #[arg(long)]
        intermediate: bool,
    },
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        None => crate::generator::command::main(RunArgs::default()),
        Some(Command::Run(args)) => crate::generator::command::main(*args),
        Some(Command::Serve(args)) => crate::server::command::main(&args),
        Some(Command::Report(args)) => crate::report::main(&args),
        Some(Command::Capacity(args)) => crate::capacity::command::main(*args),
        Some(Command::Merge(args)) => crate::merge::main(&args),
        Some(Command::Diff(args)) => crate::report::diff::main(&args),
        Some(Command::Audit(args)) => crate::audit::command::main(&args),
        Some(Command::Backends(args)) => crate::backends::main(&args),
        Some(Command::Compare(args)) => crate::compare::main(&args),
        Some(Command::Profiles(args)) => crate::profiles::main(&args),
        Some(Command::Completions(args)) => crate::manual::completions_main(&args),
        Some(Command::Man(args)) => crate::manual::man_main(&args),
        Some(Command::Pki(PkiCommand::Init {
            dir,
            key_type,
            intermediate,
        })) => {
            let pki = Pki::generate_with(key_type, intermediate)?;
            pki.write_to(&dir)?;
            println!(
                "wrote a {key_type} PKI{} to {}",
                if intermediate { " (roots and issuing CAs)" } else { "" },
                dir.display()
            );
            let bad: Vec<&str> = BadCert::ALL.iter().map(BadCert::as_str).collect();
            println!(
                "  with CRLs ({}, {}), {} and negative cases in {}/: {}",
                files::ENTERPRISE_CRL,
                files::PARTNER_CRL,
                files::TOPOLOGY,
                files::BAD_DIR,
                bad.join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
