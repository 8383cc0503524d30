//! The `sipbench` binary: parse, set up logging, run, map errors to an exit status
//! ([`sipbench::exit`] lists them).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = sipbench::cli::Cli::parse();
    use sipbench::cli::Command;
    if matches!(
        cli.command,
        Some(
            Command::Backends(_) | Command::Profiles(_) | Command::Completions(_) | Command::Man(_) | Command::Diff(_)
        )
    ) {
        // Commands that only print end quietly when their reader goes away (`| head`), as
        // Unix tools do, instead of panicking on the broken pipe; the others keep Rust's
        // default (SIGPIPE ignored) so a run or a server never dies of a closed pipe.
        // SAFETY: no other thread exists yet, and SIG_DFL installs no handler code.
        #[allow(unsafe_code)]
        let _ = unsafe {
            nix::sys::signal::signal(nix::sys::signal::Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl)
        };
    }
    // The server logs what it does by default; the generator keeps its terminal for the summary.
    let default = if matches!(cli.command, Some(sipbench::cli::Command::Serve(_))) {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal, never into files and pipes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match sipbench::cli::run(cli) {
        Ok(code) => code,
        Err(e) => sipbench::exit::report(&e),
    }
}
