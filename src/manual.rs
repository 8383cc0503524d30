//! `sipbench completions SHELL` and `sipbench man`: shell completions (clap_complete) and roff
//! man pages (clap_mangen), both generated from the command line's own definition.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, CommandFactory};

use crate::cli::Cli;

/// Options of `sipbench completions`.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell, e.g. `sipbench completions bash > /etc/bash_completion.d/sipbench`, or
    /// `source <(sipbench completions bash)`.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Options of `sipbench man`.
#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// Write one page per command and subcommand (sipbench.1, sipbench-run.1, ...) into this
    /// directory (created if missing) instead of sipbench.1 on stdout.
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub out_dir: Option<PathBuf>,
}

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "sipbench", &mut out);
    out
}

/// The man page of `sipbench` itself (roff), its SUBCOMMANDS section naming each subcommand.
pub fn man_page() -> Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .context("rendering the man page")?;
    Ok(out)
}

/// Entry point of `sipbench completions`.
pub fn completions_main(args: &CompletionsArgs) -> Result<ExitCode> {
    std::io::stdout()
        .write_all(&completions(args.shell))
        .context("writing the completions")?;
    Ok(ExitCode::SUCCESS)
}

/// Entry point of `sipbench man`.
pub fn man_main(args: &ManArgs) -> Result<ExitCode> {
    match &args.out_dir {
        None => std::io::stdout()
            .write_all(&man_page()?)
            .context("writing the man page")?,
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("--out-dir: creating {}", dir.display()))?;
            clap_mangen::generate_to(Cli::command(), dir)
                .with_context(|| format!("writing man pages to {}", dir.display()))?;
            println!("man pages written to {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
