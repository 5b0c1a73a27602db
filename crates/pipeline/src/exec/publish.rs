//! What a run leaves in the reports directory besides `run.json`: every successful task's
//! `publish/**` files, mirrored, and the `STALE` note while they may be older than the store.

use std::path::Path;

use super::records::{Outcome, RunReport, TaskRecord};
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::store::{Stamps, Store};

/// Name of the note left in the reports directory while its contents may be older than the store.
pub const STALE: &str = "STALE";

/// Write `reports/STALE` when this run left published files possibly out of date (a task failed,
/// was skipped or not run, or publishing failed); remove it after a clean run of the whole plan
/// (a clean run of some targets repairs only their part). Returns whether the note is present.
pub(super) fn mark_stale(
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
pub(super) fn publish(
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

/// Copy `source` over `target` unless it already holds the same bytes (unsynced: the published
/// files are copies of durable objects, and the next run re-publishes whatever a crash lost).
fn copy_if_different(source: &Path, target: &Path) -> std::io::Result<()> {
    let new = std::fs::read(source)?;
    atomicfile::write_if_different(target, &new, atomicfile::Durability::None).map(|_| ())
}
