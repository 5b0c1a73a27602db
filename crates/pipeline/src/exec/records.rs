//! What a run reports: one [`TaskRecord`] per selected task, the [`Problem`]s after the tasks, and
//! the [`RunReport`] that sums them up.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// What happened to one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Executed,
    /// Downloaded from the remote cache and verified.
    Fetched,
    Cached,
    Failed,
    /// Not run because a task it depends on failed.
    Skipped,
    /// Not started because an earlier task failed under [`RunOptions::fail_fast`](crate::exec::RunOptions::fail_fast).
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

impl TaskRecord {
    /// A task that did not run here (cached, fetched, skipped or not run): no time, no error.
    pub fn not_executed(task: usize, outcome: Outcome) -> Self {
        Self {
            task,
            outcome,
            duration_s: 0.0,
            error: None,
            no_space: false,
        }
    }
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
    pub(crate) fn from_error(error: Error) -> Self {
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
pub(crate) fn filesystem_full(path: &Path) -> bool {
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
