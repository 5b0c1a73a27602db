//! `minorfirst man [SUBCOMMAND]`: the man page (roff) of the binary or of one subcommand.

use crate::cli::exit::{CliError, print_stdout};

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// A subcommand whose page to print (default: the top-level page, which lists them all).
    #[arg(value_name = "SUBCOMMAND")]
    pub subcommand: Option<String>,
}

/// Print the man page of `command` (the binary's whole clap tree) or of one of its subcommands.
pub fn run(args: ManArgs, mut command: clap::Command) -> Result<(), CliError> {
    command.build();
    let (page, title) = match &args.subcommand {
        None => (command, "minorfirst".to_string()),
        Some(name) => {
            let Some(sub) = command
                .find_subcommand(name)
                .filter(|sub| !sub.is_hide_set())
            else {
                let names: Vec<&str> = command
                    .get_subcommands()
                    .filter(|sub| !sub.is_hide_set())
                    .map(|sub| sub.get_name())
                    .collect();
                return Err(CliError::bad_input(format!(
                    "man {name}: no such subcommand (expected one of: {})",
                    names.join(", ")
                )));
            };
            (sub.clone(), format!("minorfirst-{}", sub.get_name()))
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .title(title)
        .render(&mut out)
        .map_err(|error| CliError::unexpected(format!("cannot render the man page: {error}")))?;
    print_stdout(&String::from_utf8_lossy(&out))
}
