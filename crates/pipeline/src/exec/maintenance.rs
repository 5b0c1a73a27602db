//! The store's maintenance, sharing the executor's view of what is cached: `status` (cached, or
//! why a task would run), `gc` (remove unreachable objects) and `clean` (delete the store).

use std::collections::HashSet;

use rayon::prelude::*;

use super::reporter::Reporter;
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::state::{self, Why};
use crate::store::Store;

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
pub fn gc(
    plan: &Plan,
    store: &Store,
    keep: &[String],
    dry_run: bool,
    reporter: &dyn Reporter,
) -> Result<GcReport> {
    if !store.exists() {
        return Ok(GcReport::default());
    }
    let _lock = if dry_run {
        None
    } else {
        Some(store.lock(|| reporter.waiting_for_lock(store.root()))?)
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
pub fn clean(store: &Store, reporter: &dyn Reporter) -> Result<bool> {
    if !store.exists() {
        return Ok(false);
    }
    let lock = store.lock(|| reporter.waiting_for_lock(store.root()))?;
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
