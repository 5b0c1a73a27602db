//! `minorfirst completions SHELL`: a shell completion script for the whole command line.

use crate::cli::exit::{CliError, print_stdout};

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Print the completion script of `command` (the binary's whole clap tree).
pub fn run(args: CompletionsArgs, mut command: clap::Command) -> Result<(), CliError> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "minorfirst", &mut out);
    print_stdout(&String::from_utf8_lossy(&out))
}
