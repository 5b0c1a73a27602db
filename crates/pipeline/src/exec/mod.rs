//! The executor: decide what is cached, run the rest in parallel in dependency order, publish,
//! record `run.json`; plus `status`, `gc` and `clean`, which share its view of the store.
//!
//! [`run`] is the sequence; each step is a module with one job: `classify` (cached, fetched
//! or to execute, inputs re-hashed), `schedule` (the parallel execution), `sync` (upload,
//! durability before stamps), `publish` (the reports directory and its `STALE` note),
//! `run_json` (the run's record), with `crate::state::remember` for `status`'s memory. The
//! engine prints nothing itself: progress goes to a [`Reporter`].

mod classify;
mod maintenance;
mod publish;
mod records;
mod reporter;
mod run_json;
mod schedule;
mod sync;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

pub use maintenance::{GcReport, clean, gc, status};
pub use publish::STALE;
pub use records::{Outcome, Problem, RunReport, SHORT_ERROR, TaskRecord, is_no_space, short_error};
pub use reporter::{Lines, Quiet, Reporter, log_suffix, waiting_line};
pub use run_json::{RUN_JSON, RUN_JSON_VERSION, RunJson, RunJsonTask};

use crate::error::Result;
use crate::plan::{Plan, Task};
use crate::registry::Registry;
use crate::store::{Stamp, Store};

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stage names to bring up to date (with their dependencies); empty = all.
    pub targets: Vec<String>,
    /// Stage names whose tasks run even if cached.
    pub force: Vec<String>,
    /// Worker threads; 0 = all cores.
    pub jobs: usize,
    /// Without a [`RunOptions::reporter`]: say nothing ([`Quiet`]) instead of one line per
    /// finished task on stderr ([`Lines`]).
    pub quiet: bool,
    /// Where the run's progress goes (the binary's progress bars); `None`: [`Lines`], or
    /// [`Quiet`] with [`RunOptions::quiet`].
    pub reporter: Option<Arc<dyn Reporter>>,
    /// Re-hash every cached object instead of trusting unchanged file metadata.
    pub verify_all: bool,
    /// Stop starting tasks after the first failure; the tasks not started are reported as
    /// [`Outcome::NotRun`]. Off (the default) is keep-going: every task that does not depend on a
    /// failure still runs.
    pub fail_fast: bool,
    /// Runs tasks somewhere else (e.g. as Slurm jobs) instead of in this process; `None` = local.
    pub runner: Option<Arc<dyn TaskRunner>>,
    /// A shared remote cache: fetch tasks from it before executing them, optionally push.
    pub cache: Option<crate::remote::CacheOptions>,
}

/// A committed task as an executor reports it: its record, and the stamps of its object with
/// whether the object is already durable (else it joins the end-of-run batch sync).
pub type Executed = (TaskRecord, Option<(Vec<Stamp>, bool)>);

/// An executor that runs one task out of process and blocks until it is committed or failed.
/// The scheduler (dependency order, skipping dependents of failures, stamps, publishing) stays
/// the local one; only the in-process call of one task is replaced.
pub trait TaskRunner: Send + Sync + std::fmt::Debug {
    /// Run `task` (whose inputs are committed in `store`), or return `None` to run it in process.
    fn run(&self, plan: &Plan, store: &Store, task: &Task) -> Option<Executed>;
}

/// Run the plan (or the targets' part of it) against the store, writing `reports/run.json` and the
/// published files. Validates targets and forced stages before writing anything. Waits for the
/// store lock if another run holds it.
pub fn run(
    registry: &Registry,
    plan: &Plan,
    store: &Store,
    reports: &Path,
    options: &RunOptions,
) -> Result<RunReport> {
    let selection = plan.select(&options.targets)?;
    check_stages(plan, &options.force, "--force")?;
    let reporter: Arc<dyn Reporter> = match &options.reporter {
        Some(reporter) => reporter.clone(),
        None if options.quiet => Arc::new(Quiet),
        None => Arc::new(Lines::new()),
    };
    store.create()?;
    let _lock = store.lock(|| reporter.waiting_for_lock(store.root()))?;
    store.clean_scratch()?;
    store.clean_failures()?;
    let forced: HashSet<usize> = options
        .force
        .iter()
        .filter_map(|name| plan.stage(name))
        .flat_map(|stage| stage.tasks.clone())
        .collect();
    let (decision, stamps) = classify::decide(
        plan,
        store,
        &selection,
        store.load_stamps(),
        &forced,
        options.verify_all,
        options.cache.as_ref(),
    );
    let execute = decision.to_execute(&selection);
    // Bad external input (e.g. a data file failing its checksum) stops the run before any task.
    plan.preflight(registry, &execute)?;
    let mut records: Vec<Option<TaskRecord>> = vec![None; plan.tasks().len()];
    for &id in &selection {
        if decision.need[id] == Some(false) {
            let outcome = if decision.fetched.contains(&id) {
                Outcome::Fetched
            } else {
                Outcome::Cached
            };
            records[id] = Some(TaskRecord::not_executed(id, outcome));
        }
    }
    let mut problems = Vec::new();
    if !execute.is_empty() {
        let executions = schedule::execute(
            registry,
            plan,
            store,
            &execute,
            options.runner.as_deref(),
            options.jobs,
            options.fail_fast,
            reporter.as_ref(),
            &stamps,
            records,
        )?;
        records = executions.records;
        if let Some(cache) = options.cache.as_ref().filter(|cache| cache.push) {
            sync::upload(plan, store, cache, &executions.executed, &decision.no_push);
        }
        problems.extend(sync::flush(plan, store, &executions.unsynced, &stamps));
    }
    if !decision.fetched.is_empty() {
        // Fetched objects were committed unsynced, like short tasks: durable before their stamps.
        let mut ids: Vec<usize> = decision.fetched.iter().copied().collect();
        ids.sort_unstable();
        problems.extend(sync::flush(plan, store, &ids, &stamps));
    }
    let stamps = stamps.into_inner().expect("stamps lock");
    if (decision.stamps_dirty || !execute.is_empty())
        && let Err(error) = store.save_stamps(&stamps)
    {
        problems.push(Problem::from_error(error));
    }
    let records: Vec<TaskRecord> = selection
        .iter()
        .map(|id| {
            records[*id]
                .clone()
                .expect("every selected task has a record")
        })
        .collect();
    // Each remaining step is tried even if an earlier one failed (a full disk fails them all): the
    // records are valid either way, and the caller prints the summary and the problems.
    let complete = records.iter().all(|record| record.outcome.succeeded());
    if let Err(error) = publish::publish(plan, store, &stamps, reports, &records) {
        problems.push(Problem::from_error(error));
    }
    if let Err(error) = crate::state::remember(plan, store, &records) {
        problems.push(Problem::from_error(error));
    }
    let mut report = RunReport {
        records,
        problems,
        stale: false,
        remote: options.cache.is_some(),
    };
    if let Err(error) = RunJson::of(plan, &report).write(reports) {
        report.problems.push(Problem::from_error(error));
    }
    let whole_plan = selection.len() == plan.tasks().len();
    report.stale = publish::mark_stale(plan, reports, &report, complete, whole_plan);
    Ok(report)
}

fn check_stages(plan: &Plan, names: &[String], role: &str) -> Result<()> {
    match names.iter().find(|name| plan.stage(name).is_none()) {
        Some(name) => Err(plan.unknown_stage(name, role)),
        None => Ok(()),
    }
}
