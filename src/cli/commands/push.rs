//! `minorfirst push`: upload every stored task of the plan that the remote cache lacks.

use pipeline::Store;

use crate::cli::cache::{SyncArgs, sync_remote};
use crate::cli::exit::{self, CliError};
use crate::cli::plan::{engine_error, load_plan};

/// `minorfirst push [TARGET…]`: upload every stored task of the plan the remote lacks.
pub fn run(args: SyncArgs) -> Result<(), CliError> {
    let remote = sync_remote(&args, "push")?;
    let (config, plan) = load_plan(&args.plan)?;
    let store = Store::new(&config.store);
    let report = pipeline::remote::push(&plan, &store, remote.as_ref(), &args.targets)
        .map_err(engine_error)?;
    eprintln!(
        "push: {} tasks, {} uploaded, {} already on the remote, {} not stored locally, {} failed",
        report.total, report.transferred, report.present, report.absent, report.failed
    );
    if report.failed > 0 {
        return Err(CliError::new(
            exit::TASK_FAILED,
            format!("{} upload(s) to the remote cache failed", report.failed),
        ));
    }
    Ok(())
}
