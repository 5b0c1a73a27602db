//! After the tasks: objects to the remote cache (`--push`), and the objects committed unsynced
//! made durable before the stamps that let later runs trust them without hashing.

use std::collections::HashSet;
use std::sync::Mutex;

use super::records::Problem;
use crate::plan::Plan;
use crate::remote::CacheOptions;
use crate::store::{Stamps, Store};

/// Upload the executed tasks, except those the remote served corrupt: that key is left for a
/// person to see, never re-uploaded.
pub(super) fn upload(
    plan: &Plan,
    store: &Store,
    cache: &CacheOptions,
    executed: &[usize],
    no_push: &HashSet<usize>,
) {
    let keys: Vec<&str> = executed
        .iter()
        .filter(|id| !no_push.contains(id))
        .map(|id| plan.tasks()[*id].key.as_str())
        .collect();
    crate::remote::upload_from(cache.remote.as_ref(), store, &keys);
}

/// Flush the objects of `ids` (committed unsynced: short tasks, fetched objects) in one batch.
/// When that fails they are not known to be durable: their stamps are dropped, so the next run
/// re-hashes them (and discards any that a crash tore) instead of trusting them.
pub(super) fn flush(
    plan: &Plan,
    store: &Store,
    ids: &[usize],
    stamps: &Mutex<Stamps>,
) -> Option<Problem> {
    let keys: Vec<&str> = ids
        .iter()
        .map(|id| plan.tasks()[*id].key.as_str())
        .collect();
    let error = store.sync_batch(&keys).err()?;
    let mut stamps = stamps.lock().expect("stamps lock");
    for key in &keys {
        stamps.remove(*key);
    }
    Some(Problem::from_error(error))
}
