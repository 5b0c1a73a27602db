//! Placeholder until the engine lands (replaced by the pipeline work).
use super::exit::CliError;

#[derive(Debug, clap::Subcommand)]
pub enum EngineCommand {
    /// Run the pipeline.
    Run,
}

pub fn run(_command: EngineCommand) -> Result<(), CliError> {
    Err(CliError::unexpected("the pipeline engine is not built yet"))
}
