//! `minorfirst run`: execute what changed, reuse everything else; then the ledgers' copies and
//! the run's record for `diff`, the claims line, and the exit code (3 if a task failed).

use pipeline::{Outcome, Store};

use crate::cli::exit::{self, CliError};
use crate::cli::plan::{PlanArgs, engine_error, load_plan, shifted};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Stages to bring up to date (with their dependencies); default: every stage.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Worker threads (default: all cores).
    #[arg(
        long,
        short = 'j',
        value_name = "N",
        allow_negative_numbers = true,
        value_parser = parse_jobs
    )]
    pub jobs: Option<u16>,
    /// Run this stage's tasks even if they are cached (repeatable).
    #[arg(long, value_name = "TARGET")]
    pub force: Vec<String>,
    /// No progress output; the summary line is still printed.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Re-hash every cached object instead of trusting unchanged file metadata.
    #[arg(long)]
    pub verify: bool,
    /// Run nothing: print what would run and why (the output of `status`) and exit 0.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Run every selected task (the targets and all their dependencies) even if cached.
    #[arg(long)]
    pub forceall: bool,
    /// After a task fails, keep running every task that does not depend on it (the default).
    #[arg(long, short = 'k', conflicts_with = "fail_fast")]
    pub keep_going: bool,
    /// After the first task failure, start no new task; tasks already running finish and are
    /// stored, the rest are reported as `not run`.
    #[arg(long)]
    pub fail_fast: bool,
    /// Where tasks run: in this process, or as Slurm job arrays (settings: `[executor.slurm]` in
    /// minorfirst.toml beside the pipeline file). Default: `[executor] default` there, else local.
    #[arg(long, value_enum, value_name = "EXECUTOR")]
    pub executor: Option<crate::cli::slurm::settings::ExecutorChoice>,
    #[command(flatten)]
    pub cache: crate::cli::cache::CacheArgs,
}

/// `--jobs`: a whole number from 1 to 65535. Negative values reach this parser (instead of being
/// taken for unknown flags) so that the message names the flag and the rule.
fn parse_jobs(text: &str) -> Result<u16, String> {
    match text.parse::<i64>() {
        Ok(jobs) if jobs >= 1 => {
            u16::try_from(jobs).map_err(|_| format!("must be at most {}, got {jobs}", u16::MAX))
        }
        Ok(jobs) => Err(format!("must be at least 1, got {jobs}")),
        Err(_) => Err(format!("must be a whole number ≥ 1, got '{text}'")),
    }
}

pub fn run(args: RunArgs) -> Result<(), CliError> {
    let registry = crate::cli::kinds::registry();
    let (config, plan) = load_plan(&args.plan)?;
    let mut force = args.force;
    if args.forceall {
        // Forcing every stage forces exactly the selected tasks: only those run.
        force = plan
            .stages()
            .iter()
            .map(|stage| stage.name.clone())
            .collect();
    }
    if args.dry_run {
        let store = Store::new(&config.store);
        return super::status::print_status(&plan, &store, &args.targets, &force, false)
            .map(|_| ());
    }
    // Only a run of the whole plan as committed (no targets, no `--set`) stands for its commit in
    // `diff`: a run with a changed parameter must not overwrite the commit's record.
    let complete = args.targets.is_empty() && args.plan.sets.is_empty();
    let mut options = pipeline::RunOptions {
        targets: args.targets,
        force,
        jobs: args.jobs.map_or(0, usize::from),
        quiet: args.quiet,
        reporter: Some(crate::cli::progress::reporter(args.quiet)),
        verify_all: args.verify,
        fail_fast: args.fail_fast && !args.keep_going,
        runner: None,
        cache: crate::cli::cache::run_options(&args.cache, &args.plan.pipeline)?,
    };
    let store = Store::new(&config.store);
    crate::cli::slurm::executor::choose(
        &args.plan.pipeline,
        args.executor,
        &plan,
        &store,
        &mut options,
    )?;
    let report =
        pipeline::run(&registry, &plan, &store, &config.reports, &options).map_err(|error| {
            match &error {
                pipeline::Error::Io { path, source } if pipeline::is_no_space(source) => {
                    no_space_error(path, 0)
                }
                _ => engine_error(error),
            }
        })?;
    eprintln!("{}", report.summary());
    // Steps after the summary; on a full disk they fail too, and that is said once below.
    let mut later: Vec<CliError> = Vec::new();
    if let Err(error) = crate::cli::records::after_run(&plan, &store, &config, &report, complete) {
        later.push(error);
    }
    match crate::cli::claims::ledger_claims(&plan, &store).and_then(|claims| {
        claims
            .map(|claims| {
                crate::cli::seeds::combined_claims(&config, &plan, claims, || shifted(&args.plan))
            })
            .transpose()
    }) {
        Ok(Some((claims, _))) => {
            let index = config.reports.join("index.html");
            if index.exists() {
                eprintln!("report: {}", index.display());
                eprintln!("open: {}", super::report::page_url(&index));
            }
            eprintln!("{}", crate::cli::claims::summary_line(&claims));
        }
        Ok(None) => {}
        Err(error) => later.push(error),
    }
    if report.stale {
        eprintln!(
            "warning: {} may be stale: a run did not complete since its files were published \
             (see {})",
            config.reports.display(),
            config.reports.join(pipeline::STALE).display()
        );
    }
    let failed_for_space = report
        .records
        .iter()
        .filter(|record| record.no_space)
        .count();
    let later_no_space = later
        .iter()
        .any(|error| error.message.contains("No space left on device"));
    if let Some(path) = report.no_space() {
        return Err(no_space_error(
            path.unwrap_or(store.root()),
            failed_for_space,
        ));
    }
    if later_no_space {
        return Err(no_space_error(store.root(), failed_for_space));
    }
    if let Some(error) = later.into_iter().next() {
        return Err(error);
    }
    if report.succeeded() {
        return Ok(());
    }
    let failures: Vec<String> = report
        .records
        .iter()
        .filter(|record| record.outcome == Outcome::Failed)
        .map(|record| {
            let task = &plan.tasks()[record.task];
            let log = store.failure_log(&plan.stage_of(task).name, task.index);
            format!(
                "{} ({}; log: {})",
                plan.label(task),
                pipeline::short_error(record.error.as_deref().unwrap_or("failed")),
                log.display()
            )
        })
        .collect();
    if failures.is_empty() {
        // Every task ran, but a step after them did not (making objects durable, saving stamps,
        // publishing, run.json): not a task failure, and nothing it wrote is trusted later.
        let problems: Vec<&str> = report
            .problems
            .iter()
            .map(|problem| problem.message.as_str())
            .collect();
        return Err(CliError::unexpected(problems.join("; ")));
    }
    let skipped = report.count(Outcome::Skipped);
    let not_run = report.count(Outcome::NotRun);
    let not_run = if not_run > 0 {
        format!("; {not_run} task(s) not run (--fail-fast)")
    } else {
        String::new()
    };
    Err(CliError::new(
        exit::TASK_FAILED,
        format!(
            "{} task(s) failed: {}; {skipped} dependent task(s) skipped{not_run}",
            failures.len(),
            failures.join("; ")
        ),
    ))
}

/// The one line a full disk gets (exit 3, as a failed run: what did run is stored and trusted).
fn no_space_error(path: &std::path::Path, tasks: usize) -> CliError {
    let tasks = if tasks > 0 {
        format!(" ({tasks} task(s) failed for lack of space)")
    } else {
        String::new()
    };
    CliError::new(
        exit::TASK_FAILED,
        format!(
            "no space left on device: {}{tasks}; free some space and rerun (finished tasks are \
             kept)",
            path.display()
        ),
    )
}
