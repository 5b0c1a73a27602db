//! Deciding what a run must execute: each selected task is cached (its stamps still match, or a
//! full re-hash passes), to be fetched from the remote cache, or to execute; and every stored
//! input of a task about to execute is fully re-hashed first, which may add tasks to execute.

use std::collections::HashSet;
use std::sync::Mutex;

use rayon::prelude::*;

use crate::plan::Plan;
use crate::remote::{CacheOptions, Fetched};
use crate::store::{Stamps, Store};

/// What a run decided before executing anything, by plan id.
pub(super) struct Decision {
    /// `Some(true)`: execute; `Some(false)`: stored (cached or fetched); `None`: not selected.
    pub need: Vec<Option<bool>>,
    /// Fully re-hashed (or fetched and verified) by this run.
    verified: Vec<bool>,
    /// Downloaded from the remote cache and verified.
    pub fetched: HashSet<usize>,
    /// Served corrupt by the remote: computed locally and never uploaded by this run.
    pub no_push: HashSet<usize>,
    /// Whether the stamps changed (and must be saved even if nothing executes).
    pub stamps_dirty: bool,
}

impl Decision {
    /// The selected tasks to execute, in selection order.
    pub fn to_execute(&self, selection: &[usize]) -> Vec<usize> {
        selection
            .iter()
            .copied()
            .filter(|id| self.need[*id] == Some(true))
            .collect()
    }
}

/// Classify the selection against the stamps `known` (updated in place), then fetch what the
/// remote cache has and re-hash the inputs of what must execute, until nothing changes.
pub(super) fn decide(
    plan: &Plan,
    store: &Store,
    selection: &[usize],
    known: Stamps,
    forced: &HashSet<usize>,
    verify_all: bool,
    cache: Option<&CacheOptions>,
) -> (Decision, Mutex<Stamps>) {
    let mut known = known;
    let mut decision = Decision {
        need: vec![None; plan.tasks().len()],
        verified: vec![false; plan.tasks().len()],
        fetched: HashSet::new(),
        no_push: HashSet::new(),
        stamps_dirty: false,
    };
    for (id, need, update) in classify_selection(plan, store, selection, &known, forced, verify_all)
    {
        decision.need[id] = Some(matches!(need, Need::Execute));
        let key = &plan.tasks()[id].key;
        match update {
            StampUpdate::Keep => {}
            StampUpdate::Insert(fresh) => {
                decision.verified[id] = true;
                decision.stamps_dirty = true;
                known.insert(key.clone(), fresh);
            }
            StampUpdate::Remove => {
                decision.stamps_dirty = true;
                known.remove(key);
            }
        }
    }
    let stamps = Mutex::new(known);
    let mut looked_up = vec![false; plan.tasks().len()];
    // Inputs consumed by executing tasks are fully re-hashed first; a corrupt one joins the
    // execute set, which may expose more inputs (and more tasks to look up), hence the fixpoint.
    loop {
        if let Some(cache) = cache {
            fetch(
                plan,
                store,
                selection,
                forced,
                cache,
                &mut looked_up,
                &mut decision,
                &stamps,
            );
        }
        if !verify_inputs(plan, store, selection, &mut decision, &stamps) {
            break;
        }
    }
    (decision, stamps)
}

/// The remote cache: the tasks about to execute (not forced, not looked up yet) are looked up and
/// downloaded, all at once (the remote works on them concurrently).
#[allow(clippy::too_many_arguments)]
fn fetch(
    plan: &Plan,
    store: &Store,
    selection: &[usize],
    forced: &HashSet<usize>,
    cache: &CacheOptions,
    looked_up: &mut [bool],
    decision: &mut Decision,
    stamps: &Mutex<Stamps>,
) {
    let wanted: Vec<usize> = selection
        .iter()
        .copied()
        .filter(|id| decision.need[*id] == Some(true) && !forced.contains(id) && !looked_up[*id])
        .collect();
    let keys: Vec<&str> = wanted
        .iter()
        .map(|id| plan.tasks()[*id].key.as_str())
        .collect();
    let results = crate::remote::fetch_into(cache.remote.as_ref(), store, &keys);
    for (&id, result) in wanted.iter().zip(results) {
        looked_up[id] = true;
        match result {
            Fetched::Stored(fresh) => {
                decision.need[id] = Some(false);
                decision.verified[id] = true;
                decision.stamps_dirty = true;
                stamps
                    .lock()
                    .expect("stamps lock")
                    .insert(plan.tasks()[id].key.clone(), fresh);
                decision.fetched.insert(id);
            }
            Fetched::Corrupt => {
                decision.no_push.insert(id);
            }
            Fetched::Missing | Fetched::Unavailable => {}
        }
    }
}

/// Fully re-hash every stored, not yet verified input of a task to execute; a corrupt one is
/// removed and joins the execute set. Returns whether there was anything to check.
fn verify_inputs(
    plan: &Plan,
    store: &Store,
    selection: &[usize],
    decision: &mut Decision,
    stamps: &Mutex<Stamps>,
) -> bool {
    let mut check: Vec<usize> = selection
        .iter()
        .filter(|id| decision.need[**id] == Some(true))
        .flat_map(|id| plan.tasks()[*id].deps.iter().copied())
        .filter(|dep| decision.need[*dep] == Some(false) && !decision.verified[*dep])
        .collect();
    check.sort_unstable();
    check.dedup();
    if check.is_empty() {
        return false;
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
        decision.verified[id] = true;
        if !ok {
            decision.need[id] = Some(true);
            decision.stamps_dirty = true;
        }
    }
    true
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
fn classify_selection(
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
