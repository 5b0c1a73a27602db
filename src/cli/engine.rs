//! The pipeline subcommands: `run`, `status`, `dag`, `gc`, `clean` (and the hidden `bench-engine`).

#[path = "engine_bench.rs"]
mod bench;
#[path = "engine_kinds.rs"]
pub mod kinds;

use std::path::PathBuf;

use pipeline::{Config, Outcome, Overrides, Plan, Store};

use super::exit::{self, CliError};

/// Options shared by every subcommand that builds the plan.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanArgs {
    /// The pipeline file; the store and reports paths in it are relative to its directory.
    #[arg(long, value_name = "FILE", default_value = "pipeline.toml")]
    pub pipeline: PathBuf,
    /// Apply the overrides of a `[profile.NAME]` table.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Override one parameter: `stage.key=value` (value in TOML syntax; a bare word is a string).
    #[arg(long = "set", value_name = "STAGE.KEY=VALUE")]
    pub sets: Vec<String>,
    /// Accept tasks whose estimated work exceeds the bound of 10¹³ operations (README, "Work
    /// bounds"); without it such a plan is refused with exit 2 before anything runs.
    #[arg(long)]
    pub allow_large_work: bool,
}

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
    pub executor: Option<super::slurm::settings::ExecutorChoice>,
    #[command(flatten)]
    pub cache: super::cache::CacheArgs,
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

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Stages to report on (with their dependencies); default: every stage.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Print JSON instead of text: `{"total", "cached", "would_run", "tasks": [{"task", "stage",
    /// "index", "key", "cached", "why": {"reason", "detail"}, "text"}]}`.
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when any task would run, 0 when everything is up to date (for CI).
    #[arg(long)]
    pub exit_code: bool,
}

#[derive(Debug, clap::Args)]
pub struct DagArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Print Graphviz dot instead of text.
    #[arg(long)]
    pub dot: bool,
}

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

#[derive(Debug, clap::Args)]
pub struct CleanArgs {
    /// The pipeline file whose store to delete.
    #[arg(long, value_name = "FILE", default_value = "pipeline.toml")]
    pub pipeline: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
pub enum EngineCommand {
    /// Run the pipeline: execute what changed, reuse everything else (exit 3 if a task failed).
    Run(RunArgs),
    /// Per task: cached, or why it would run (new, param old → new, code or input changed).
    Status(StatusArgs),
    /// Print the stage graph (text, or Graphviz with --dot).
    Dag(DagArgs),
    /// Remove stored objects that the current plan does not reach.
    Gc(GcArgs),
    /// Delete the store (all cached results); reports are left alone.
    Clean(CleanArgs),
    /// Check the current plan without recomputing: every artifact verifies against its hash and
    /// every claim of the ledger passes (exit 4 otherwise).
    Verify(super::ledger::VerifyArgs),
    /// Compare two runs: claims that changed verdict or moved beyond their tolerance, and tasks
    /// whose key changed and why (exit 0; with --exit-code 1 if they differ; 2 if a run is missing).
    Diff(super::diff::DiffArgs),
    /// Measure the engine on toy pipelines (no-op run/status on 10 000 tasks, overhead, speedup).
    #[command(hide = true)]
    BenchEngine(bench::BenchArgs),
}

fn engine_error(error: pipeline::Error) -> CliError {
    let code = if error.is_bad_input() {
        exit::BAD_INPUT
    } else {
        exit::UNEXPECTED
    };
    CliError::new(code, error.to_string())
}

/// Parse the pipeline file and build the plan with the binary's registry (bad input → exit 2).
pub fn load_plan(args: &PlanArgs) -> Result<(Config, Plan), CliError> {
    load_plan_with(args, None)
}

/// [`load_plan`], with every seed shifted by `reseed` when given (`verify --reseed`). The plan
/// without a shift also carries, in its report stage, the comparison with the shifted plan's
/// ledgers when those are in the store ([`super::reseed::report_sets`]).
pub fn load_plan_with(args: &PlanArgs, reseed: Option<u64>) -> Result<(Config, Plan), CliError> {
    let registry = kinds::registry();
    let config = Config::load(&args.pipeline).map_err(engine_error)?;
    let mut overrides = Overrides {
        profile: args.profile.clone(),
        sets: args.sets.clone(),
        allow_large_work: args.allow_large_work,
        reseed,
    };
    let plan = Plan::build(&registry, &config, &overrides).map_err(engine_error)?;
    // The report stage's provenance (commit, machine, …) is not a function of the store; it enters
    // as parameters so that a cached page is never stale. User `--set`s still win.
    // (A shifted plan is only run up to its ledgers: its page, which would need them, never is.)
    let mut provenance = if reseed.is_none() {
        super::ledger::provenance_sets(&plan, &args.pipeline, args.profile.as_deref())
    } else {
        Vec::new()
    };
    // The claims expected not to pass (expectations.toml) reach every ledger stage.
    let expectations =
        super::expectations::Expectations::load(&args.pipeline, args.profile.as_deref())?;
    let ledger_sets = super::ledger::known_failure_sets(&plan, &expectations);
    if reseed.is_none() && !provenance.is_empty() {
        // The comparison with the shifted ledgers needs the ledgers' final keys (they depend on
        // the expectations, not on the page's provenance).
        let ledger_plan = if ledger_sets.is_empty() {
            plan.clone()
        } else {
            let with_ledgers = Overrides {
                sets: ledger_sets.iter().chain(&args.sets).cloned().collect(),
                ..overrides.clone()
            };
            Plan::build(&registry, &config, &with_ledgers).map_err(engine_error)?
        };
        provenance.extend(super::reseed::report_sets(args, &config, &ledger_plan)?);
    }
    provenance.extend(ledger_sets);
    if provenance.is_empty() {
        return Ok((config, plan));
    }
    overrides.sets = provenance
        .into_iter()
        .chain(args.sets.iter().cloned())
        .collect();
    let plan = Plan::build(&registry, &config, &overrides).map_err(engine_error)?;
    Ok((config, plan))
}

pub fn run(command: EngineCommand) -> Result<(), CliError> {
    match command {
        EngineCommand::Run(args) => run_pipeline(args),
        EngineCommand::Status(args) => status(args),
        EngineCommand::Dag(args) => dag(args),
        EngineCommand::Gc(args) => gc(args),
        EngineCommand::Clean(args) => clean(args),
        EngineCommand::Verify(args) => super::ledger::verify(args),
        EngineCommand::Diff(args) => super::diff::diff(args),
        EngineCommand::BenchEngine(args) => bench::run(args),
    }
}

fn run_pipeline(args: RunArgs) -> Result<(), CliError> {
    let registry = kinds::registry();
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
        return print_status(&plan, &store, &args.targets, &force, false).map(|_| ());
    }
    // Only a run of the whole plan as committed (no targets, no `--set`) stands for its commit in
    // `diff`: a run with a changed parameter must not overwrite the commit's record.
    let complete = args.targets.is_empty() && args.plan.sets.is_empty();
    let mut options = pipeline::RunOptions {
        targets: args.targets,
        force,
        jobs: args.jobs.map_or(0, usize::from),
        quiet: args.quiet,
        reporter: Some(super::progress::reporter(args.quiet)),
        verify_all: args.verify,
        fail_fast: args.fail_fast && !args.keep_going,
        runner: None,
        cache: super::cache::run_options(&args.cache, &args.plan.pipeline)?,
    };
    let store = Store::new(&config.store);
    super::slurm::executor::choose(
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
    if let Err(error) = super::diff::after_run(&plan, &store, &config, &report, complete) {
        later.push(error);
    }
    match super::ledger::ledger_claims(&plan, &store).and_then(|claims| {
        claims
            .map(|claims| super::reseed::combined_claims(&args.plan, &config, &plan, claims))
            .transpose()
    }) {
        Ok(Some((claims, _))) => {
            let index = config.reports.join("index.html");
            if index.exists() {
                eprintln!("report: {}", index.display());
                eprintln!("open: {}", super::habits::page_url(&index));
            }
            eprintln!("{}", super::ledger::summary_line(&claims));
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

fn status(args: StatusArgs) -> Result<(), CliError> {
    let (config, plan) = load_plan(&args.plan)?;
    let store = Store::new(&config.store);
    let pending = print_status(&plan, &store, &args.targets, &[], args.json)?;
    if args.exit_code && pending > 0 {
        return Err(CliError::silent(exit::PENDING));
    }
    Ok(())
}

/// Print per task whether it is cached or why it would run (text, or JSON), with the
/// `status:` summary on stderr; tasks of `forced` stages would run even if cached. Returns how
/// many tasks would run.
fn print_status(
    plan: &Plan,
    store: &Store,
    targets: &[String],
    forced: &[String],
    json: bool,
) -> Result<usize, CliError> {
    let lines = pipeline::status(plan, store, targets).map_err(engine_error)?;
    if let Some(name) = forced.iter().find(|name| plan.stage(name).is_none()) {
        return Err(CliError::bad_input(format!(
            "unknown --force stage `{name}` (see `minorfirst dag`)"
        )));
    }
    let mut out = String::with_capacity(lines.len() * 64);
    let mut rows = Vec::new();
    let mut cached = 0;
    for (id, why) in &lines {
        let task = &plan.tasks()[*id];
        let stage = &plan.stage_of(task).name;
        let is_forced = forced.contains(stage);
        let is_cached = *why == pipeline::Why::Cached && !is_forced;
        cached += usize::from(is_cached);
        let text = if *why == pipeline::Why::Cached && is_forced {
            "would run: forced".to_string()
        } else {
            why.to_string()
        };
        if json {
            let why_json = if *why == pipeline::Why::Cached && is_forced {
                serde_json::json!({ "reason": "forced" })
            } else {
                serde_json::to_value(why).expect("Why serializes")
            };
            rows.push(serde_json::json!({
                "task": plan.label(task),
                "stage": stage,
                "index": task.index,
                "key": task.key,
                "cached": is_cached,
                "why": why_json,
                "text": text,
            }));
        } else {
            out.push_str(&format!(
                "{}\t{}\t{text}\n",
                plan.label(task),
                &task.key[..12]
            ));
        }
    }
    if json {
        let document = serde_json::json!({
            "total": lines.len(),
            "cached": cached,
            "would_run": lines.len() - cached,
            "tasks": rows,
        });
        out = serde_json::to_string_pretty(&document).expect("status serializes");
        out.push('\n');
    }
    print_stdout(&out)?;
    eprintln!(
        "status: {} tasks, {cached} cached, {} would run",
        lines.len(),
        lines.len() - cached
    );
    Ok(lines.len() - cached)
}

fn dag(args: DagArgs) -> Result<(), CliError> {
    let (_, plan) = load_plan(&args.plan)?;
    let mut out = String::new();
    if args.dot {
        out.push_str("digraph pipeline {\n  rankdir=LR;\n");
        for stage in plan.stages() {
            out.push_str(&format!(
                "  \"{}\" [label=\"{}\\n{} · {} task(s)\"];\n",
                stage.name,
                stage.name,
                stage.kind,
                stage.tasks.len()
            ));
            for dep in &stage.deps {
                out.push_str(&format!("  \"{dep}\" -> \"{}\";\n", stage.name));
            }
        }
        out.push_str("}\n");
    } else {
        for stage in plan.stages() {
            let deps = if stage.deps.is_empty() {
                String::new()
            } else {
                format!(" ← {}", stage.deps.join(", "))
            };
            out.push_str(&format!(
                "{} ({}, {} task(s)){deps}\n",
                stage.name,
                stage.kind,
                stage.tasks.len()
            ));
        }
    }
    print_stdout(&out)
}

fn gc(args: GcArgs) -> Result<(), CliError> {
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
    let report = pipeline::gc(&plan, &store, &keep, args.dry_run, &*super::progress::reporter(true)).map_err(engine_error)?;
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

fn clean(args: CleanArgs) -> Result<(), CliError> {
    let config = Config::load(&args.pipeline).map_err(engine_error)?;
    let store = Store::new(&config.store);
    super::diff::clean_runs(&store)?;
    if pipeline::clean(&store, &*super::progress::reporter(true)).map_err(engine_error)? {
        eprintln!("clean: removed the store at {}", store.root().display());
    } else {
        eprintln!("clean: no store at {}", store.root().display());
    }
    Ok(())
}

pub fn print_stdout(text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        // A closed pipe (`minorfirst status | head`) is not an error worth reporting.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(CliError::unexpected(format!(
            "failed to write to stdout: {error}"
        ))),
    }
}
