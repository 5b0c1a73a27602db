//! `minorfirst clean`: delete the store and the recorded runs; reports are left alone.

use std::path::PathBuf;

use pipeline::{Config, Store};

use crate::cli::exit::CliError;
use crate::cli::plan::engine_error;

#[derive(Debug, clap::Args)]
pub struct CleanArgs {
    /// The pipeline file whose store to delete.
    #[arg(long, value_name = "FILE", default_value = "pipeline.toml")]
    pub pipeline: PathBuf,
}

pub fn run(args: CleanArgs) -> Result<(), CliError> {
    let config = Config::load(&args.pipeline).map_err(engine_error)?;
    let store = Store::new(&config.store);
    crate::cli::records::clean_runs(&store)?;
    if pipeline::clean(&store, &*crate::cli::progress::reporter(true)).map_err(engine_error)? {
        eprintln!("clean: removed the store at {}", store.root().display());
    } else {
        eprintln!("clean: no store at {}", store.root().display());
    }
    Ok(())
}
