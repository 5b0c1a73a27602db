//! Placeholder until `train` lands (replaced by the numerics work).
use super::exit::CliError;

#[derive(Debug, clap::Args)]
pub struct TrainArgs {}

pub fn run(_args: TrainArgs) -> Result<(), CliError> {
    Err(CliError::unexpected("train is not built yet"))
}
