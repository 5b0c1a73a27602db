//! `minorfirst pull`: download every task of the plan that the local store lacks.

use pipeline::Store;

use crate::cli::cache::{SyncArgs, sync_remote};
use crate::cli::exit::{self, CliError};
use crate::cli::plan::{engine_error, load_plan};

/// `minorfirst pull [TARGET…]`: download every task of the plan the local store lacks.
pub fn run(args: SyncArgs) -> Result<(), CliError> {
    let remote = sync_remote(&args, "pull")?;
    let (config, plan) = load_plan(&args.plan)?;
    let store = Store::new(&config.store);
    let report = pipeline::remote::pull(&plan, &store, remote.as_ref(), &args.targets)
        .map_err(engine_error)?;
    eprintln!(
        "pull: {} tasks, {} fetched, {} already stored, {} not on the remote, {} failed",
        report.total, report.transferred, report.present, report.absent, report.failed
    );
    if report.failed > 0 {
        // An explicit transfer that did not happen is an error (unlike `run --cache`, which
        // computes what it cannot fetch): a CI step that pulls must notice.
        return Err(CliError::new(
            exit::TASK_FAILED,
            format!(
                "{} remote object(s) did not verify or could not be read and were not pulled \
                 (discarded; `run` computes them)",
                report.failed
            ),
        ));
    }
    Ok(())
}
