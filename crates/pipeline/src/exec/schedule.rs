//! Executing the tasks that must run: a rayon pool of `--jobs` threads, each task started as soon
//! as its inputs are done, dependents of a failure skipped, `--fail-fast` stopping new starts; a
//! task runs in this process ([`execute_one`]) or through a [`TaskRunner`].

use std::cell::RefCell;
use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::records::{Outcome, TaskRecord, filesystem_full, is_no_space};
use super::reporter::Reporter;
use super::{Executed, TaskRunner};
use crate::error::{Error, Result};
use crate::plan::{Plan, Task};
use crate::registry::Registry;
use crate::stage::{InputArtifact, TaskContext};
use crate::store::{Stamps, Store};

/// What executing returns: the records (by plan id), the tasks committed unsynced (to flush in
/// one batch) and every executed task (to upload), both by plan id.
pub(super) struct Executions {
    pub records: Vec<Option<TaskRecord>>,
    pub unsynced: Vec<usize>,
    pub executed: Vec<usize>,
}

/// Execute `execute` (plan ids whose inputs outside the set are stored and verified), adding
/// their records to `records` and inserting the stamps of every committed object into `stamps`.
#[allow(clippy::too_many_arguments)]
pub(super) fn execute(
    registry: &Registry,
    plan: &Plan,
    store: &Store,
    execute: &[usize],
    runner: Option<&dyn TaskRunner>,
    jobs: usize,
    fail_fast: bool,
    reporter: &dyn Reporter,
    stamps: &Mutex<Stamps>,
    records: Vec<Option<TaskRecord>>,
) -> Result<Executions> {
    let in_execute: HashSet<usize> = execute.iter().copied().collect();
    let mut dependents = vec![Vec::new(); plan.tasks().len()];
    let remaining: Vec<AtomicUsize> = (0..plan.tasks().len())
        .map(|_| AtomicUsize::new(0))
        .collect();
    for &id in execute {
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
        runner,
        blocked: (0..plan.tasks().len())
            .map(|_| AtomicBool::new(false))
            .collect(),
        remaining,
        dependents,
        records: Mutex::new(records),
        stamps,
        unsynced: Mutex::new(Vec::new()),
        executed: Mutex::new(Vec::new()),
        reporter,
        fail_fast,
        stop: AtomicBool::new(false),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|error| Error::Usage {
            reason: format!("cannot start {jobs} worker threads: {error}"),
        })?;
    reporter.start(plan, execute);
    pool.scope(|scope| {
        for &id in execute {
            if scheduler.remaining[id].load(Ordering::SeqCst) == 0 {
                scheduler.start(scope, id);
            }
        }
    });
    reporter.finish();
    Ok(Executions {
        records: scheduler.records.into_inner().expect("records lock"),
        unsynced: scheduler.unsynced.into_inner().expect("unsynced lock"),
        executed: scheduler.executed.into_inner().expect("executed lock"),
    })
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

/// Run one task in this process: its scratch directory, the kind, the commit (fsynced when the
/// task took long enough), and on failure whether it failed for lack of space.
fn execute_one(registry: &Registry, plan: &Plan, store: &Store, task: &Task) -> Executed {
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
    blocked: Vec<AtomicBool>,
    dependents: Vec<Vec<usize>>,
    records: Mutex<Vec<Option<TaskRecord>>>,
    stamps: &'a Mutex<Stamps>,
    /// Executed tasks committed without fsync, synced in one batch after the pool finishes.
    unsynced: Mutex<Vec<usize>>,
    /// Executed tasks, for the upload to the remote cache.
    executed: Mutex<Vec<usize>>,
    reporter: &'a dyn Reporter,
    /// `--fail-fast`: set by the first failure; tasks that have not started yet are not run.
    fail_fast: bool,
    stop: AtomicBool,
}

impl<'a> Scheduler<'a> {
    fn start<'s>(&'s self, scope: &rayon::Scope<'s>, id: usize) {
        scope.spawn(move |scope| {
            if self.stop.load(Ordering::SeqCst) {
                // Its dependents are released as well and find the same flag: all `not run`.
                let record = TaskRecord::not_executed(id, Outcome::NotRun);
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
        self.reporter
            .finished(self.plan, task, &record, log.as_deref());
        self.records.lock().expect("records lock")[id] = Some(record);
        for &next in &self.dependents[id] {
            if failed {
                self.blocked[next].store(true, Ordering::SeqCst);
            }
            if self.remaining[next].fetch_sub(1, Ordering::SeqCst) == 1 {
                if self.blocked[next].load(Ordering::SeqCst) {
                    let skipped = TaskRecord::not_executed(next, Outcome::Skipped);
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
