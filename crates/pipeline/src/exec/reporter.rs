//! Where a run's terminal output goes. The engine never prints: it tells a [`Reporter`], which
//! the binary implements (progress bars on a terminal); [`Lines`] (one line per finished task on
//! stderr) and [`Quiet`] are here for tests and library users.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::records::{Outcome, TaskRecord, short_error};
use crate::plan::{Plan, Task};

/// Receives what a run, `gc` or `clean` has to say while it works. Called from the executor's
/// worker threads, hence `Sync`; every method has a do-nothing default.
pub trait Reporter: Send + Sync + std::fmt::Debug {
    /// Another process holds the store's lock (at `store`); this one waits for it.
    fn waiting_for_lock(&self, store: &Path) {
        let _ = store;
    }
    /// The tasks about to execute (plan ids, in plan order), before the first one starts; not
    /// called when everything is cached.
    fn start(&self, plan: &Plan, execute: &[usize]) {
        let _ = (plan, execute);
    }
    /// A task finished: executed, failed (its whole error is in the failure log `log`), skipped
    /// because an input failed, or not run after a failure under `--fail-fast`.
    fn finished(&self, plan: &Plan, task: &Task, record: &TaskRecord, log: Option<&Path>) {
        let _ = (plan, task, record, log);
    }
    /// Every task that [`Reporter::start`] announced has finished.
    fn finish(&self) {}
}

/// Says nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl Reporter for Quiet {}

/// One line on stderr per finished task (`[3/10] ran stage[2] in 0.120 s`, `[4/10] failed
/// stage: error (log: …)`, …) and the wait for the lock: what the binary shows when stderr is not
/// a terminal.
#[derive(Debug, Default)]
pub struct Lines {
    done: AtomicUsize,
    total: AtomicUsize,
}

impl Lines {
    pub fn new() -> Self {
        Self::default()
    }

    /// The line for one finished task, `done` of `total` (without the newline).
    pub fn line(
        plan: &Plan,
        task: &Task,
        record: &TaskRecord,
        log: Option<&Path>,
        done: usize,
        total: usize,
    ) -> String {
        let label = plan.label(task);
        match record.outcome {
            Outcome::Failed => format!(
                "[{done}/{total}] failed {label}: {}{}",
                short_error(record.error.as_deref().unwrap_or("")),
                log_suffix(log)
            ),
            Outcome::Skipped => format!("[{done}/{total}] skipped {label} (an input failed)"),
            Outcome::NotRun => format!("[{done}/{total}] not run {label} (--fail-fast)"),
            _ => format!("[{done}/{total}] ran {label} in {:.3} s", record.duration_s),
        }
    }
}

/// ` (log: PATH)`, or nothing without a log.
pub fn log_suffix(log: Option<&Path>) -> String {
    log.map_or_else(String::new, |path| format!(" (log: {})", path.display()))
}

/// The line printed while waiting for another run's lock.
pub fn waiting_line(store: &Path) -> String {
    format!("waiting for another minorfirst run on {}…", store.display())
}

impl Reporter for Lines {
    fn waiting_for_lock(&self, store: &Path) {
        eprintln!("{}", waiting_line(store));
    }

    fn start(&self, _plan: &Plan, execute: &[usize]) {
        self.done.store(0, Ordering::Relaxed);
        self.total.store(execute.len(), Ordering::Relaxed);
    }

    fn finished(&self, plan: &Plan, task: &Task, record: &TaskRecord, log: Option<&Path>) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let total = self.total.load(Ordering::Relaxed);
        eprintln!("{}", Self::line(plan, task, record, log, done, total));
    }
}
