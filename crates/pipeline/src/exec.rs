//! The executor: decide what is cached, run the rest in parallel in dependency order, publish,
//! record `run.json`; plus `status` and `gc`, which share its view of the store.

use std::cell::RefCell;
use std::collections::HashSet;
use std::io::IsTerminal;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::plan::{Plan, Task};
use crate::registry::Registry;
use crate::stage::{InputArtifact, TaskContext};
use crate::state::{self, Why};
use crate::store::{Stamps, Store};

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stage names to bring up to date (with their dependencies); empty = all.
    pub targets: Vec<String>,
    /// Stage names whose tasks run even if cached.
    pub force: Vec<String>,
    /// Worker threads; 0 = all cores.
    pub jobs: usize,
    /// No progress output (the summary line is still printed).
    pub quiet: bool,
    /// Re-hash every cached object instead of trusting unchanged file metadata.
    pub verify_all: bool,
    /// Stop starting tasks after the first failure; the tasks not started are reported as
    /// [`Outcome::NotRun`]. Off (the default) is keep-going: every task that does not depend on a
    /// failure still runs.
    pub fail_fast: bool,
    /// Runs tasks somewhere else (e.g. as Slurm jobs) instead of in this process; `None` = local.
    pub runner: Option<std::sync::Arc<dyn TaskRunner>>,
    /// A shared remote cache: fetch tasks from it before executing them, optionally push.
    pub cache: Option<crate::remote::CacheOptions>,
}

/// A committed task as an executor reports it: its record, and the stamps of its object with
/// whether the object is already durable (else it joins the end-of-run batch sync).
pub type Executed = (TaskRecord, Option<(Vec<crate::store::Stamp>, bool)>);

/// An executor that runs one task out of process and blocks until it is committed or failed.
/// The scheduler (dependency order, skipping dependents of failures, stamps, publishing) stays
/// the local one; only the in-process call of one task is replaced.
pub trait TaskRunner: Send + Sync + std::fmt::Debug {
    /// Run `task` (whose inputs are committed in `store`), or return `None` to run it in process.
    fn run(&self, plan: &Plan, store: &Store, task: &Task) -> Option<Executed>;
}

/// What happened to one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Executed,
    /// Downloaded from the remote cache and verified.
    Fetched,
    Cached,
    Failed,
    /// Not run because a task it depends on failed.
    Skipped,
    /// Not started because an earlier task failed under [`RunOptions::fail_fast`].
    #[serde(rename = "not_run")]
    NotRun,
}

impl Outcome {
    /// Executed, fetched or cached: the task's object is in the store.
    pub fn succeeded(self) -> bool {
        matches!(self, Outcome::Executed | Outcome::Fetched | Outcome::Cached)
    }
}

#[derive(Debug, Clone)]
pub struct TaskRecord {
    pub task: usize,
    pub outcome: Outcome,
    pub duration_s: f64,
    pub error: Option<String>,
    /// The task failed because the filesystem it wrote to was full (ENOSPC, or its error was
    /// reported by a library that loses the cause, e.g. parquet's "transport error", while the
    /// filesystem had no room left).
    pub no_space: bool,
}

/// Something that went wrong after the tasks ran (making objects durable, saving stamps,
/// publishing, writing run.json). The run's records stay valid and its summary is still printed.
#[derive(Debug, Clone)]
pub struct Problem {
    pub message: String,
    /// The path involved, when the problem is that its filesystem is full.
    pub no_space: Option<PathBuf>,
}

impl Problem {
    fn from_error(error: Error) -> Self {
        let no_space = match &error {
            Error::Io { path, source } if is_no_space(source) => Some(path.clone()),
            _ => None,
        };
        Self {
            message: error.to_string(),
            no_space,
        }
    }
}

/// Whether an IO error is "no space left on device" (or "disk quota exceeded").
pub fn is_no_space(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// Whether the filesystem holding `path` has (almost) no room left: less than [`LOW_SPACE`]
/// bytes available. Used to recognise failures whose error message lost the cause.
fn filesystem_full(path: &Path) -> bool {
    rustix::fs::statvfs(path)
        .is_ok_and(|stats| stats.f_bavail.saturating_mul(stats.f_frsize) < LOW_SPACE)
}

/// Below this much free space a failed task is taken to have failed for lack of room.
const LOW_SPACE: u64 = 1 << 20;

/// The result of a run: one record per selected task, in plan order.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub records: Vec<TaskRecord>,
    /// Failures after the tasks ran (see [`Problem`]); empty on a clean run.
    pub problems: Vec<Problem>,
    /// Whether `reports/STALE` is present after this run: some published file may be older than
    /// the store (a task failed or was not run, now or in an earlier run not yet repaired).
    pub stale: bool,
    /// Whether a remote cache was configured (the summary then counts `fetched`).
    pub remote: bool,
}

impl RunReport {
    pub fn count(&self, outcome: Outcome) -> usize {
        self.records
            .iter()
            .filter(|record| record.outcome == outcome)
            .count()
    }

    /// `tasks: N total, K executed, M cached, F failed` (plus skipped, when any); with a remote
    /// cache, `tasks: N total, K executed, F fetched, M cached, 0 failed`.
    pub fn summary(&self) -> String {
        let fetched = if self.remote {
            format!(" {} fetched,", self.count(Outcome::Fetched))
        } else {
            String::new()
        };
        let mut line = format!(
            "tasks: {} total, {} executed,{fetched} {} cached, {} failed",
            self.records.len(),
            self.count(Outcome::Executed),
            self.count(Outcome::Cached),
            self.count(Outcome::Failed)
        );
        let skipped = self.count(Outcome::Skipped);
        if skipped > 0 {
            line.push_str(&format!(", {skipped} skipped"));
        }
        let not_run = self.count(Outcome::NotRun);
        if not_run > 0 {
            line.push_str(&format!(", {not_run} not run"));
        }
        line
    }

    pub fn succeeded(&self) -> bool {
        self.problems.is_empty() && self.records.iter().all(|record| record.outcome.succeeded())
    }

    /// Whether the run ran out of disk space (a task failed for lack of room, or a later step
    /// could not write), and where, if a later step said so.
    pub fn no_space(&self) -> Option<Option<&Path>> {
        if let Some(path) = self
            .problems
            .iter()
            .find_map(|problem| problem.no_space.as_deref())
        {
            return Some(Some(path));
        }
        self.records
            .iter()
            .any(|record| record.no_space)
            .then_some(None)
    }
}

#[derive(Serialize)]
struct RunJsonTask<'a> {
    stage: &'a str,
    kind: &'a str,
    index: usize,
    params: &'a serde_json::Value,
    key: &'a str,
    /// The kind's implementation fingerprint, a blake3 digest of the canonical parameters, and
    /// per dependency stage a digest of the input keys: what `minorfirst diff` needs to say why a
    /// task's key changed between two runs.
    fingerprint: &'a str,
    params_digest: String,
    inputs: std::collections::BTreeMap<String, String>,
    status: Outcome,
    duration_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct RunJson<'a> {
    version: u32,
    profile: Option<&'a str>,
    total: usize,
    executed: usize,
    fetched: usize,
    cached: usize,
    failed: usize,
    skipped: usize,
    not_run: usize,
    tasks: Vec<RunJsonTask<'a>>,
}

fn check_stages(plan: &Plan, names: &[String], role: &str) -> Result<()> {
    match names.iter().find(|name| plan.stage(name).is_none()) {
        Some(name) => Err(plan.unknown_stage(name, role)),
        None => Ok(()),
    }
}

enum Need {
    Cached,
    Execute,
}

/// A change to the recorded stamps found while classifying.
enum StampUpdate {
    Keep,
    Insert(Vec<crate::store::Stamp>),
    Remove,
}

/// Classify each selected task as cached or to execute. Cheap path: file metadata matches the stamps
/// of the last full verification. Otherwise the object is fully re-hashed; a corrupt or partial
/// object is removed so it is recomputed.
fn classify(
    plan: &Plan,
    store: &Store,
    selection: &[usize],
    known: &Stamps,
    forced: &HashSet<usize>,
    verify_all: bool,
) -> Vec<(usize, Need, StampUpdate)> {
    selection
        .par_iter()
        .map(|&id| {
            let key = plan.tasks()[id].key.as_str();
            if forced.contains(&id) {
                return (id, Need::Execute, StampUpdate::Keep);
            }
            // Published files are re-hashed even on the fast path: they are what people read.
            if !verify_all
                && known.get(key).is_some_and(|recorded| {
                    store.matches_stamps(key, recorded)
                        && store.verify_published(key, recorded).is_ok()
                })
            {
                return (id, Need::Cached, StampUpdate::Keep);
            }
            if !store.object_dir(key).exists() {
                return (id, Need::Execute, StampUpdate::Keep);
            }
            match store.verify(key) {
                Ok(fresh) => (id, Need::Cached, StampUpdate::Insert(fresh)),
                Err(_) => {
                    let _ = store.remove(key);
                    (id, Need::Execute, StampUpdate::Remove)
                }
            }
        })
        .collect()
}

struct Progress {
    bars: Option<(
        indicatif::MultiProgress,
        indicatif::ProgressBar,
        Vec<Option<indicatif::ProgressBar>>,
    )>,
    quiet: bool,
    done: AtomicUsize,
    total: usize,
}

impl Progress {
    fn new(plan: &Plan, execute: &[usize], quiet: bool) -> Self {
        let total = execute.len();
        let bars = (!quiet && total > 0 && std::io::stderr().is_terminal()).then(|| {
            let multi = indicatif::MultiProgress::new();
            let style = indicatif::ProgressStyle::with_template(
                "{prefix:>16} [{bar:30}] {pos}/{len} {elapsed}",
            )
            .expect("valid template")
            .progress_chars("=> ");
            let overall = multi.add(
                indicatif::ProgressBar::new(total as u64)
                    .with_style(style.clone())
                    .with_prefix("all"),
            );
            let mut per_stage = vec![0usize; plan.stages().len()];
            for id in execute {
                per_stage[plan.tasks()[*id].stage] += 1;
            }
            let stage_bars = per_stage
                .iter()
                .enumerate()
                .map(|(stage, count)| {
                    (*count > 0).then(|| {
                        multi.add(
                            indicatif::ProgressBar::new(*count as u64)
                                .with_style(style.clone())
                                .with_prefix(plan.stages()[stage].name.clone()),
                        )
                    })
                })
                .collect();
            (multi, overall, stage_bars)
        });
        Self {
            bars,
            quiet,
            done: AtomicUsize::new(0),
            total,
        }
    }

    fn finished(&self, plan: &Plan, task: &Task, record: &TaskRecord, log: Option<&Path>) {
        let log = log.map_or_else(String::new, |path| format!(" (log: {})", path.display()));
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some((multi, overall, stages)) = &self.bars {
            overall.inc(1);
            if let Some(bar) = &stages[task.stage] {
                bar.inc(1);
            }
            if let Some(error) = &record.error {
                let _ = multi.println(format!(
                    "failed {}: {}{log}",
                    plan.label(task),
                    short_error(error)
                ));
            }
        } else if !self.quiet {
            let label = plan.label(task);
            match record.outcome {
                Outcome::Failed => eprintln!(
                    "[{done}/{}] failed {label}: {}{log}",
                    self.total,
                    short_error(record.error.as_deref().unwrap_or(""))
                ),
                Outcome::Skipped => {
                    eprintln!("[{done}/{}] skipped {label} (an input failed)", self.total)
                }
                Outcome::NotRun => {
                    eprintln!("[{done}/{}] not run {label} (--fail-fast)", self.total)
                }
                _ => eprintln!(
                    "[{done}/{}] ran {label} in {:.3} s",
                    self.total, record.duration_s
                ),
            }
        }
    }

    fn finish(&self) {
        if let Some((multi, overall, stages)) = &self.bars {
            overall.finish();
            for bar in stages.iter().flatten() {
                bar.finish();
            }
            let _ = multi.clear();
        }
    }
}

/// Tasks that take longer than this are fsynced as soon as they finish.
const DURABLE_AT_ONCE: std::time::Duration = std::time::Duration::from_millis(200);

thread_local! {
    /// One entry per task running on this thread, innermost last: the wall time this thread spent
    /// inside it on other tasks.
    static NESTED: RefCell<Vec<Duration>> = const { RefCell::new(Vec::new()) };
}

/// A task's own wall time. Tasks run on the pool that also serves their internal rayon work, so a
/// task waiting in `join`/`par_iter` may steal and run a whole other task on its own stack (seen
/// on the real pipeline: a 0.1 s figure task recorded as 85 s). That nested task's time is its
/// own, not the enclosing task's, and is subtracted here.
struct OwnClock {
    start: Instant,
}

impl OwnClock {
    fn start() -> Self {
        NESTED.with(|frames| frames.borrow_mut().push(Duration::ZERO));
        Self {
            start: Instant::now(),
        }
    }

    fn elapsed(&self) -> Duration {
        let nested = NESTED.with(|frames| frames.borrow().last().copied().unwrap_or_default());
        self.start.elapsed().saturating_sub(nested)
    }
}

impl Drop for OwnClock {
    fn drop(&mut self) {
        let total = self.start.elapsed();
        NESTED.with(|frames| {
            let mut frames = frames.borrow_mut();
            frames.pop();
            if let Some(enclosing) = frames.last_mut() {
                *enclosing += total;
            }
        });
    }
}

fn execute_one(
    registry: &Registry,
    plan: &Plan,
    store: &Store,
    task: &Task,
) -> (TaskRecord, Option<(Vec<crate::store::Stamp>, bool)>) {
    let clock = OwnClock::start();
    let stage = plan.stage_of(task);
    let kind = registry.get(task.kind).expect("plan kinds are registered");
    let inputs: Vec<InputArtifact> = task
        .deps
        .iter()
        .map(|dep| {
            let input = &plan.tasks()[*dep];
            InputArtifact {
                stage: plan.stage_of(input).name.clone(),
                kind: input.kind.to_string(),
                params: input.params.clone(),
                key: input.key.clone(),
                dir: store.object_dir(&input.key),
            }
        })
        .collect();
    let outcome = store
        .scratch(&task.key)
        .map_err(|error| {
            let no_space = matches!(&error, Error::Io { source, .. } if is_no_space(source));
            (error.to_string(), no_space)
        })
        .and_then(|scratch| {
            let context = TaskContext {
                stage: &stage.name,
                params: &task.params,
                inputs: &inputs,
                out_dir: &scratch,
            };
            let result = match std::panic::catch_unwind(AssertUnwindSafe(|| kind.run(&context))) {
                // A task whose work dwarfs an fsync is made durable at once; short ones are
                // synced in one batch at the end of the run (see `Store::commit`).
                Ok(Ok(())) => {
                    let sync = clock.elapsed() > DURABLE_AT_ONCE;
                    store
                        .commit(&scratch, &task.key, sync)
                        .map(|stamps| (stamps, sync))
                        .map_err(|error| error.to_string())
                }
                Ok(Err(error)) => Err(error.to_string()),
                Err(panic) => Err(panic
                    .downcast_ref::<&str>()
                    .map(|text| text.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .map_or_else(
                        || "the task panicked".to_string(),
                        |text| format!("the task panicked: {text}"),
                    )),
            };
            // Judged before the scratch directory is removed (which frees the space again).
            let result = result.map_err(|error| {
                let no_space = error.contains("No space left on device")
                    || error.contains("os error 28")
                    || filesystem_full(&scratch);
                (error, no_space)
            });
            if result.is_err() {
                let _ = std::fs::remove_dir_all(&scratch);
            }
            result
        });
    let duration_s = clock.elapsed().as_secs_f64();
    match outcome {
        Ok(stamps) => (
            TaskRecord {
                task: task.id,
                outcome: Outcome::Executed,
                duration_s,
                error: None,
                no_space: false,
            },
            Some(stamps),
        ),
        Err((error, no_space)) => (
            TaskRecord {
                task: task.id,
                outcome: Outcome::Failed,
                duration_s,
                error: Some(if no_space {
                    format!("no space left on device ({error})")
                } else {
                    error
                }),
                no_space,
            },
            None,
        ),
    }
}

struct Scheduler<'a> {
    registry: &'a Registry,
    plan: &'a Plan,
    store: &'a Store,
    runner: Option<&'a dyn TaskRunner>,
    remaining: Vec<AtomicUsize>,
    blocked: Vec<std::sync::atomic::AtomicBool>,
    dependents: Vec<Vec<usize>>,
    records: Mutex<Vec<Option<TaskRecord>>>,
    stamps: &'a Mutex<Stamps>,
    /// Executed tasks committed without fsync, synced in one batch after the pool finishes.
    unsynced: Mutex<Vec<usize>>,
    /// Executed tasks, for the upload to the remote cache.
    executed: Mutex<Vec<usize>>,
    progress: Progress,
    /// `--fail-fast`: set by the first failure; tasks that have not started yet are not run.
    fail_fast: bool,
    stop: std::sync::atomic::AtomicBool,
}

impl<'a> Scheduler<'a> {
    fn start<'s>(&'s self, scope: &rayon::Scope<'s>, id: usize) {
        scope.spawn(move |scope| {
            if self.stop.load(Ordering::SeqCst) {
                // Its dependents are released as well and find the same flag: all `not run`.
                let record = TaskRecord {
                    task: id,
                    outcome: Outcome::NotRun,
                    duration_s: 0.0,
                    error: None,
                    no_space: false,
                };
                self.complete(scope, id, record, false);
                return;
            }
            let task = &self.plan.tasks()[id];
            let remote = self
                .runner
                .and_then(|runner| runner.run(self.plan, self.store, task));
            let (record, stamps) =
                remote.unwrap_or_else(|| execute_one(self.registry, self.plan, self.store, task));
            if self.fail_fast && record.outcome == Outcome::Failed {
                self.stop.store(true, Ordering::SeqCst);
            }
            if let Some((stamps, synced)) = stamps {
                if !synced {
                    self.unsynced.lock().expect("unsynced lock").push(id);
                }
                self.stamps
                    .lock()
                    .expect("stamps lock")
                    .insert(task.key.clone(), stamps);
                self.executed.lock().expect("executed lock").push(id);
            }
            let failed = record.outcome != Outcome::Executed;
            self.complete(scope, id, record, failed);
        });
    }

    /// Record a finished (or skipped) task and release its dependents; dependents of a failure are
    /// skipped transitively without running.
    fn complete<'s>(
        &'s self,
        scope: &rayon::Scope<'s>,
        id: usize,
        record: TaskRecord,
        failed: bool,
    ) {
        let task = &self.plan.tasks()[id];
        let log = (record.outcome == Outcome::Failed).then(|| {
            write_failure_log(self.plan, self.store, task, &record);
            self.store
                .failure_log(&self.plan.stage_of(task).name, task.index)
        });
        self.progress
            .finished(self.plan, task, &record, log.as_deref());
        self.records.lock().expect("records lock")[id] = Some(record);
        for &next in &self.dependents[id] {
            if failed {
                self.blocked[next].store(true, Ordering::SeqCst);
            }
            if self.remaining[next].fetch_sub(1, Ordering::SeqCst) == 1 {
                if self.blocked[next].load(Ordering::SeqCst) {
                    let skipped = TaskRecord {
                        task: next,
                        outcome: Outcome::Skipped,
                        duration_s: 0.0,
                        error: None,
                        no_space: false,
                    };
                    self.complete(scope, next, skipped, true);
                } else {
                    self.start(scope, next);
                }
            }
        }
    }
}

/// Keep a failed task's whole error with what identifies it, in [`Store::failure_log`]; the
/// failure lines show only [`short_error`] and the log's path. Best effort (the disk may be full).
fn write_failure_log(plan: &Plan, store: &Store, task: &Task, record: &TaskRecord) {
    let stage = plan.stage_of(task);
    let path = store.failure_log(&stage.name, task.index);
    let params = serde_json::to_string_pretty(&task.params).unwrap_or_default();
    let text = format!(
        "task: {}\nkind: {}\nkey: {}\nwall time: {:.3} s\nparameters: {params}\n\nerror:\n{}\n",
        plan.label(task),
        task.kind,
        task.key,
        record.duration_s,
        record.error.as_deref().unwrap_or("failed")
    );
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let _ = crate::store::write_atomic(&path, text.as_bytes());
}

/// The first line of a task's error, at most [`SHORT_ERROR`] characters (the whole error is in
/// the task's failure log).
pub fn short_error(error: &str) -> String {
    let line = error.lines().next().unwrap_or("");
    if line.chars().count() <= SHORT_ERROR && !error.contains('\n') {
        return line.to_string();
    }
    let mut short: String = line.chars().take(SHORT_ERROR).collect();
    short.push('…');
    short
}

/// Longest error text a failure line shows.
pub const SHORT_ERROR: usize = 240;

/// Copy `source` over `target` unless it already holds the same bytes (unsynced: the published
/// files are copies of durable objects, and the next run re-publishes whatever a crash lost).
fn copy_if_different(source: &Path, target: &Path) -> std::io::Result<()> {
    let new = std::fs::read(source)?;
    atomicfile::write_if_different(target, &new, atomicfile::Durability::None).map(|_| ())
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
    store.create()?;
    let quiet = options.quiet;
    let _lock = store.lock(|| {
        eprintln!(
            "waiting for another minorfirst run on {}…",
            store.root().display()
        );
    })?;
    store.clean_scratch()?;
    store.clean_failures()?;
    let mut known = store.load_stamps();
    let forced: HashSet<usize> = options
        .force
        .iter()
        .filter_map(|name| plan.stage(name))
        .flat_map(|stage| stage.tasks.clone())
        .collect();
    let mut need = vec![None; plan.tasks().len()];
    let mut verified = vec![false; plan.tasks().len()];
    let mut stamps_dirty = false;
    for (id, decision, update) in
        classify(plan, store, &selection, &known, &forced, options.verify_all)
    {
        need[id] = Some(matches!(decision, Need::Execute));
        let key = &plan.tasks()[id].key;
        match update {
            StampUpdate::Keep => {}
            StampUpdate::Insert(fresh) => {
                verified[id] = true;
                stamps_dirty = true;
                known.insert(key.clone(), fresh);
            }
            StampUpdate::Remove => {
                stamps_dirty = true;
                known.remove(key);
            }
        }
    }
    let stamps = Mutex::new(known);
    // The remote cache: tasks about to execute (not forced) are looked up and downloaded first,
    // all at once (the remote works on them concurrently).
    let mut fetched: HashSet<usize> = HashSet::new();
    // Tasks the remote served corrupt: computed locally and never uploaded by this run.
    let mut no_push: HashSet<usize> = HashSet::new();
    let mut looked_up = vec![false; plan.tasks().len()];
    // Inputs consumed by executing tasks are fully re-hashed first; a corrupt one joins the
    // execute set, which may expose more inputs (and more tasks to look up), hence the fixpoint.
    loop {
        if let Some(cache) = &options.cache {
            let wanted: Vec<usize> = selection
                .iter()
                .copied()
                .filter(|id| need[*id] == Some(true) && !forced.contains(id) && !looked_up[*id])
                .collect();
            let keys: Vec<&str> = wanted
                .iter()
                .map(|id| plan.tasks()[*id].key.as_str())
                .collect();
            let results = crate::remote::fetch_into(cache.remote.as_ref(), store, &keys);
            for (&id, result) in wanted.iter().zip(results) {
                looked_up[id] = true;
                match result {
                    crate::remote::Fetched::Stored(fresh) => {
                        need[id] = Some(false);
                        verified[id] = true;
                        stamps_dirty = true;
                        stamps
                            .lock()
                            .expect("stamps lock")
                            .insert(plan.tasks()[id].key.clone(), fresh);
                        fetched.insert(id);
                    }
                    crate::remote::Fetched::Corrupt => {
                        no_push.insert(id);
                    }
                    crate::remote::Fetched::Missing | crate::remote::Fetched::Unavailable => {}
                }
            }
        }
        let mut check: Vec<usize> = selection
            .iter()
            .filter(|id| need[**id] == Some(true))
            .flat_map(|id| plan.tasks()[*id].deps.iter().copied())
            .filter(|dep| need[*dep] == Some(false) && !verified[*dep])
            .collect();
        check.sort_unstable();
        check.dedup();
        if check.is_empty() {
            break;
        }
        let results: Vec<(usize, bool)> = check
            .par_iter()
            .map(|&id| {
                let key = &plan.tasks()[id].key;
                match store.verify(key) {
                    Ok(fresh) => {
                        stamps
                            .lock()
                            .expect("stamps lock")
                            .insert(key.clone(), fresh);
                        (id, true)
                    }
                    Err(_) => {
                        let _ = store.remove(key);
                        stamps.lock().expect("stamps lock").remove(key);
                        (id, false)
                    }
                }
            })
            .collect();
        for (id, ok) in results {
            verified[id] = true;
            if !ok {
                need[id] = Some(true);
                stamps_dirty = true;
            }
        }
    }
    let execute: Vec<usize> = selection
        .iter()
        .copied()
        .filter(|id| need[*id] == Some(true))
        .collect();
    // Bad external input (e.g. a data file failing its checksum) stops the run before any task.
    plan.preflight(registry, &execute)?;
    let mut records: Vec<Option<TaskRecord>> = vec![None; plan.tasks().len()];
    let mut problems = Vec::new();
    for &id in &selection {
        if need[id] == Some(false) {
            records[id] = Some(TaskRecord {
                task: id,
                outcome: if fetched.contains(&id) {
                    Outcome::Fetched
                } else {
                    Outcome::Cached
                },
                duration_s: 0.0,
                error: None,
                no_space: false,
            });
        }
    }
    if !execute.is_empty() {
        let in_execute: HashSet<usize> = execute.iter().copied().collect();
        let mut dependents = vec![Vec::new(); plan.tasks().len()];
        let remaining: Vec<AtomicUsize> = (0..plan.tasks().len())
            .map(|_| AtomicUsize::new(0))
            .collect();
        for &id in &execute {
            for &dep in &plan.tasks()[id].deps {
                if in_execute.contains(&dep) {
                    dependents[dep].push(id);
                    remaining[id].fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let scheduler = Scheduler {
            registry,
            plan,
            store,
            runner: options.runner.as_deref(),
            blocked: (0..plan.tasks().len())
                .map(|_| std::sync::atomic::AtomicBool::new(false))
                .collect(),
            remaining,
            dependents,
            records: Mutex::new(records),
            stamps: &stamps,
            unsynced: Mutex::new(Vec::new()),
            executed: Mutex::new(Vec::new()),
            progress: Progress::new(plan, &execute, quiet),
            fail_fast: options.fail_fast,
            stop: std::sync::atomic::AtomicBool::new(false),
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(options.jobs)
            .build()
            .map_err(|error| Error::Usage {
                reason: format!("cannot start {} worker threads: {error}", options.jobs),
            })?;
        pool.scope(|scope| {
            for &id in &execute {
                if scheduler.remaining[id].load(Ordering::SeqCst) == 0 {
                    scheduler.start(scope, id);
                }
            }
        });
        scheduler.progress.finish();
        records = scheduler.records.into_inner().expect("records lock");
        if let Some(cache) = options.cache.as_ref().filter(|cache| cache.push) {
            // Never re-upload what the remote served corrupt: that key is left for a person to see.
            let executed = scheduler.executed.into_inner().expect("executed lock");
            let keys: Vec<&str> = executed
                .iter()
                .filter(|id| !no_push.contains(id))
                .map(|id| plan.tasks()[*id].key.as_str())
                .collect();
            crate::remote::upload_from(cache.remote.as_ref(), store, &keys);
        }
        // Durability before the stamps that let later runs trust these objects without hashing.
        let unsynced = scheduler.unsynced.into_inner().expect("unsynced lock");
        let keys: Vec<&str> = unsynced
            .iter()
            .map(|id| plan.tasks()[*id].key.as_str())
            .collect();
        if let Err(error) = store.sync_batch(&keys) {
            // Not known to be durable: without stamps the next run re-hashes them (and discards
            // any that a crash tore) instead of trusting them.
            let mut stamps = stamps.lock().expect("stamps lock");
            for key in &keys {
                stamps.remove(*key);
            }
            problems.push(Problem::from_error(error));
        }
    }
    if !fetched.is_empty() {
        // Fetched objects were committed unsynced, like short tasks: durable before their stamps.
        let mut ids: Vec<usize> = fetched.iter().copied().collect();
        ids.sort_unstable();
        let keys: Vec<&str> = ids
            .iter()
            .map(|id| plan.tasks()[*id].key.as_str())
            .collect();
        if let Err(error) = store.sync_batch(&keys) {
            let mut stamps = stamps.lock().expect("stamps lock");
            for key in &keys {
                stamps.remove(*key);
            }
            problems.push(Problem::from_error(error));
        }
    }
    let stamps = stamps.into_inner().expect("stamps lock");
    if (stamps_dirty || !execute.is_empty())
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
    if let Err(error) = publish(plan, store, &stamps, reports, &records) {
        problems.push(Problem::from_error(error));
    }
    if let Err(error) = remember(plan, store, &records) {
        problems.push(Problem::from_error(error));
    }
    let mut report = RunReport {
        records,
        problems,
        stale: false,
        remote: options.cache.is_some(),
    };
    if let Err(error) = write_run_json(plan, reports, &report) {
        report.problems.push(Problem::from_error(error));
    }
    let whole_plan = selection.len() == plan.tasks().len();
    report.stale = mark_stale(plan, reports, &report, complete, whole_plan);
    Ok(report)
}

/// Name of the note left in the reports directory while its contents may be older than the store.
pub const STALE: &str = "STALE";

/// Write `reports/STALE` when this run left published files possibly out of date (a task failed,
/// was skipped or not run, or publishing failed); remove it after a clean run of the whole plan
/// (a clean run of some targets repairs only their part). Returns whether the note is present.
fn mark_stale(
    plan: &Plan,
    reports: &Path,
    report: &RunReport,
    complete: bool,
    whole_plan: bool,
) -> bool {
    let path = reports.join(STALE);
    if complete && report.problems.is_empty() {
        if whole_plan {
            let _ = std::fs::remove_file(&path);
        }
        return path.exists();
    }
    let mut note = String::from(
        "The last `minorfirst run` did not complete, so files in this directory (the page, \
         figures, tables) may be older than the store and must not be read as current.\n\
         This note is removed by the next run that completes the whole pipeline.\n\n",
    );
    for record in &report.records {
        let label = plan.label(&plan.tasks()[record.task]);
        match record.outcome {
            Outcome::Failed => note.push_str(&format!("failed: {label}\n")),
            Outcome::Skipped => note.push_str(&format!("skipped (an input failed): {label}\n")),
            Outcome::NotRun => note.push_str(&format!("not run (--fail-fast): {label}\n")),
            Outcome::Executed | Outcome::Fetched | Outcome::Cached => {}
        }
    }
    for problem in &report.problems {
        note.push_str(&format!("after the tasks: {}\n", problem.message));
    }
    // On a full disk this may fail too; the caller still says so on stderr.
    let _ = std::fs::create_dir_all(reports);
    let _ = crate::store::write_atomic(&path, note.as_bytes());
    true
}

/// Mirror every successful task's `publish/**` files into the reports directory, copying only
/// files whose contents differ (so a no-op run touches nothing). Later tasks in plan order win.
fn publish(
    plan: &Plan,
    store: &Store,
    stamps: &Stamps,
    reports: &Path,
    records: &[TaskRecord],
) -> Result<()> {
    for record in records.iter().filter(|record| record.outcome.succeeded()) {
        let key = &plan.tasks()[record.task].key;
        let Some(files) = stamps.get(key) else {
            continue;
        };
        for stamp in files {
            if let Some(relative) = stamp.path.strip_prefix("publish/") {
                let target = reports.join(relative);
                copy_if_different(&store.object_dir(key).join(&stamp.path), &target)
                    .map_err(|error| Error::io(&target, error))?;
            }
        }
    }
    Ok(())
}

fn remember(plan: &Plan, store: &Store, records: &[TaskRecord]) -> Result<()> {
    // A digest of (stage, index, key) of the successful tasks: when it equals the one stored with
    // the state, the state already says all this and the (large) file is neither read nor written.
    let mut hasher = blake3::Hasher::new();
    for record in records.iter().filter(|record| record.outcome.succeeded()) {
        let task = &plan.tasks()[record.task];
        hasher.update(plan.stage_of(task).name.as_bytes());
        hasher.update(&(task.index as u64).to_le_bytes());
        hasher.update(task.key.as_bytes());
    }
    let tag = hasher.finalize().to_hex().to_string();
    let tag_path = store.root().join("state.tag");
    if std::fs::read_to_string(&tag_path).is_ok_and(|stored| stored == tag) {
        return Ok(());
    }
    let mut memory = state::load(store);
    let mut changed = false;
    for record in records.iter().filter(|record| record.outcome.succeeded()) {
        let task = &plan.tasks()[record.task];
        let stage = &plan.stage_of(task).name;
        let slot = memory.entry(stage.clone()).or_default();
        if slot
            .get(&task.index)
            .is_none_or(|known| known.key != task.key)
        {
            slot.insert(task.index, state::memory_of(plan, task));
            changed = true;
        }
    }
    if changed {
        state::save(store, &memory)
    } else {
        Ok(())
    }
}

fn write_run_json(plan: &Plan, reports: &Path, report: &RunReport) -> Result<()> {
    std::fs::create_dir_all(reports).map_err(|error| Error::io(reports, error))?;
    let tasks = report
        .records
        .iter()
        .map(|record| {
            let task = &plan.tasks()[record.task];
            RunJsonTask {
                stage: &plan.stage_of(task).name,
                kind: task.kind,
                index: task.index,
                params: &task.params,
                key: &task.key,
                fingerprint: task.fingerprint,
                params_digest: {
                    let mut bytes = Vec::with_capacity(128);
                    crate::params::canonical(&task.params, &mut bytes);
                    blake3::hash(&bytes).to_hex().to_string()
                },
                inputs: state::input_digests(plan, task),
                status: record.outcome,
                duration_s: record.duration_s,
                error: record.error.as_deref(),
            }
        })
        .collect();
    let json = RunJson {
        version: 1,
        profile: plan.profile.as_deref(),
        total: report.records.len(),
        executed: report.count(Outcome::Executed),
        fetched: report.count(Outcome::Fetched),
        cached: report.count(Outcome::Cached),
        failed: report.count(Outcome::Failed),
        skipped: report.count(Outcome::Skipped),
        not_run: report.count(Outcome::NotRun),
        tasks,
    };
    crate::store::write_atomic(
        &reports.join("run.json"),
        &serde_json::to_vec(&json).expect("run.json serializes"),
    )
}

/// Per selected task, whether it is cached or why it would run. Read-only: takes no lock and
/// writes nothing (objects without recorded stamps are re-hashed in memory).
pub fn status(plan: &Plan, store: &Store, targets: &[String]) -> Result<Vec<(usize, Why)>> {
    let selection = plan.select(targets)?;
    let stamps = store.load_stamps();
    let memory = state::load(store);
    Ok(selection
        .par_iter()
        .map(|&id| {
            let task = &plan.tasks()[id];
            let key = task.key.as_str();
            let cached = stamps.get(key).is_some_and(|recorded| {
                store.matches_stamps(key, recorded) && store.verify_published(key, recorded).is_ok()
            }) || (store.object_dir(key).exists() && store.verify(key).is_ok());
            if cached {
                return (id, Why::Cached);
            }
            let stage = &plan.stage_of(task).name;
            (
                id,
                state::explain(
                    plan,
                    task,
                    memory.get(stage).and_then(|slot| slot.get(&task.index)),
                ),
            )
        })
        .collect())
}

/// What `gc` removed (or would remove): (key, bytes).
#[derive(Debug, Clone, Default)]
pub struct GcReport {
    pub removed: Vec<(String, u64)>,
    pub kept: usize,
}

/// Remove objects not reachable from `plan` and not listed in `keep` (keys or key prefixes).
pub fn gc(plan: &Plan, store: &Store, keep: &[String], dry_run: bool) -> Result<GcReport> {
    if !store.exists() {
        return Ok(GcReport::default());
    }
    let _lock = if dry_run {
        None
    } else {
        Some(store.lock(|| eprintln!("waiting for another minorfirst run…"))?)
    };
    let reachable: HashSet<&str> = plan.tasks().iter().map(|task| task.key.as_str()).collect();
    let mut report = GcReport::default();
    for key in store.keys()? {
        if reachable.contains(key.as_str())
            || keep.iter().any(|pinned| key.starts_with(pinned.as_str()))
        {
            report.kept += 1;
            continue;
        }
        let size = store.size(&key);
        if !dry_run {
            store.remove(&key)?;
        }
        report.removed.push((key, size));
    }
    if !dry_run && !report.removed.is_empty() {
        let mut stamps = store.load_stamps();
        for (key, _) in &report.removed {
            stamps.remove(key);
        }
        store.save_stamps(&stamps)?;
    }
    Ok(report)
}

/// Delete the whole store (waiting for any run holding it). Reports are left alone.
pub fn clean(store: &Store) -> Result<bool> {
    if !store.exists() {
        return Ok(false);
    }
    let lock = store.lock(|| eprintln!("waiting for another minorfirst run…"))?;
    let objects = store.root().join("objects");
    for dir in [objects, store.root().join("tmp")] {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|error| Error::io(dir, error))?;
        }
    }
    for file in ["stamps.json", "state.json", "state.tag"] {
        let _ = std::fs::remove_file(store.root().join(file));
    }
    // The lock file stays: a run waiting on it must keep locking the same inode.
    drop(lock);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_clock_leaves_out_tasks_run_nested_on_the_same_thread() {
        // What a work-stealing wait does: the outer task's frame is open while this thread runs
        // another task to completion. Sleeps are lower bounds; the margins are 10×.
        let outer = OwnClock::start();
        std::thread::sleep(Duration::from_millis(20));
        let nested = {
            let inner = OwnClock::start();
            {
                let innermost = OwnClock::start();
                std::thread::sleep(Duration::from_millis(100));
                assert!(innermost.elapsed() >= Duration::from_millis(100));
            }
            std::thread::sleep(Duration::from_millis(100));
            let own = inner.elapsed();
            assert!(own >= Duration::from_millis(100), "{own:?}");
            assert!(own < Duration::from_millis(200), "{own:?}");
            inner.start.elapsed()
        };
        assert!(nested >= Duration::from_millis(200));
        let own = outer.elapsed();
        assert!(own >= Duration::from_millis(20), "{own:?}");
        assert!(own < Duration::from_millis(200), "{own:?}");
        drop(outer);
        NESTED.with(|frames| assert!(frames.borrow().is_empty()));
    }
}
