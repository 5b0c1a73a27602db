//! `minorfirst gc`: remove stored objects the current plan does not reach.

use pipeline::Store;

use crate::cli::exit::{CliError, print_stdout};
use crate::cli::plan::{PlanArgs, engine_error, load_plan};

#[derive(Debug, clap::Args)]
pub struct GcArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// List what would be removed without removing it.
    #[arg(long)]
    pub dry_run: bool,
    /// Also keep these objects: a key (or key prefix), or a run.json whose tasks to keep.
    #[arg(long, value_name = "KEY|RUN.JSON")]
    pub keep: Vec<String>,
}

pub fn run(args: GcArgs) -> Result<(), CliError> {
    let (config, plan) = load_plan(&args.plan)?;
    let mut keep = Vec::new();
    for item in &args.keep {
        let path = std::path::Path::new(item);
        if path.is_file() {
            let bytes = std::fs::read(path).map_err(|error| {
                CliError::bad_input(format!("cannot read --keep {item}: {error}"))
            })?;
            let record = pipeline::RunJson::from_slice(&bytes).map_err(|error| {
                CliError::bad_input(format!("--keep {item} is not a run.json: {error}"))
            })?;
            keep.extend(record.keys().map(str::to_owned));
        } else if item.len() >= 4 && item.chars().all(|c| c.is_ascii_hexdigit()) {
            keep.push(item.to_ascii_lowercase());
        } else {
            return Err(CliError::bad_input(format!(
                "--keep {item}: neither a key prefix (hex) nor a run.json file"
            )));
        }
    }
    let store = Store::new(&config.store);
    let report = pipeline::gc(
        &plan,
        &store,
        &keep,
        args.dry_run,
        &*crate::cli::progress::reporter(true),
    )
    .map_err(engine_error)?;
    let mut out = String::new();
    let mut bytes = 0;
    for (key, size) in &report.removed {
        bytes += size;
        out.push_str(&format!(
            "{} {key} ({size} bytes)\n",
            if args.dry_run {
                "would remove"
            } else {
                "removed"
            }
        ));
    }
    print_stdout(&out)?;
    eprintln!(
        "gc: {} object(s) {}, {bytes} bytes; {} kept",
        report.removed.len(),
        if args.dry_run {
            "would be removed"
        } else {
            "removed"
        },
        report.kept
    );
    Ok(())
}
