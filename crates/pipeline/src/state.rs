//! What each task identity (stage + position in its sweep) last ran with, so `status` can explain
//! why a task would run: new, parameter old → new, code changed, or input changed.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Result;
use crate::exec::TaskRecord;
use crate::plan::{Plan, Task};
use crate::store::{Store, write_atomic};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Memory {
    pub key: String,
    pub fingerprint: String,
    pub params: Value,
    /// Per dependency stage, a digest of the keys of the inputs taken from it.
    pub inputs: BTreeMap<String, String>,
}

/// Stage name → task index → memory.
pub type State = HashMap<String, HashMap<usize, Memory>>;

pub(crate) fn input_digests(plan: &Plan, task: &Task) -> BTreeMap<String, String> {
    let mut hashers: BTreeMap<String, blake3::Hasher> = BTreeMap::new();
    for dep in &task.deps {
        let input = &plan.tasks()[*dep];
        hashers
            .entry(plan.stage_of(input).name.clone())
            .or_default()
            .update(input.key.as_bytes());
    }
    hashers
        .into_iter()
        .map(|(stage, hasher)| (stage, hasher.finalize().to_hex().to_string()))
        .collect()
}

pub(crate) fn memory_of(plan: &Plan, task: &Task) -> Memory {
    Memory {
        key: task.key.clone(),
        fingerprint: task.fingerprint.to_string(),
        params: task.params.clone(),
        inputs: input_digests(plan, task),
    }
}

pub(crate) fn load(store: &Store) -> State {
    std::fs::read(store.root().join("state.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

pub(crate) fn save(store: &Store, state: &State) -> Result<()> {
    write_atomic(
        &store.root().join("state.json"),
        &serde_json::to_vec(state).expect("state serializes"),
    )
}

/// Remember what each successful task identity ran with (for [`crate::status`]'s "why"), unless
/// the stored state already says exactly this.
pub(crate) fn remember(plan: &Plan, store: &Store, records: &[TaskRecord]) -> Result<()> {
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
    let mut memory = load(store);
    let mut changed = false;
    for record in records.iter().filter(|record| record.outcome.succeeded()) {
        let task = &plan.tasks()[record.task];
        let stage = &plan.stage_of(task).name;
        let slot = memory.entry(stage.clone()).or_default();
        if slot
            .get(&task.index)
            .is_none_or(|known| known.key != task.key)
        {
            slot.insert(task.index, memory_of(plan, task));
            changed = true;
        }
    }
    if changed {
        save(store, &memory)
    } else {
        Ok(())
    }
}

/// Why a task would run (or that it would not). Serialized (for `status --json`) as
/// `{"reason": "cached" | "new" | "params" | "code" | "inputs" | "missing", "detail": …}`: `params`
/// carries `[[name, old, new], …]`, `code` `{"old", "new"}`, `inputs` the changed stages.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", content = "detail", rename_all = "snake_case")]
pub enum Why {
    /// Stored and verified: nothing to do.
    Cached,
    /// This task identity never ran.
    New,
    /// Parameters differ from the last run: (name, old, new).
    Params(Vec<(String, Value, Value)>),
    /// The kind's implementation fingerprint changed.
    Code { old: String, new: String },
    /// An input changed: the dependency stages whose keys differ.
    Inputs(Vec<String>),
    /// Same key as last time but the object is missing or does not verify.
    Missing,
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Cached => f.write_str("cached"),
            Why::New => f.write_str("would run: new"),
            Why::Params(changes) => {
                f.write_str("would run: param ")?;
                for (position, (name, old, new)) in changes.iter().enumerate() {
                    if position > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{name} {old} → {new}")?;
                }
                Ok(())
            }
            Why::Code { old, new } => write!(
                f,
                "would run: code changed ({} → {})",
                &old[..old.len().min(12)],
                &new[..new.len().min(12)]
            ),
            Why::Inputs(stages) => write!(f, "would run: input changed ({})", stages.join(", ")),
            Why::Missing => f.write_str("would run: object missing or corrupt"),
        }
    }
}

/// Explain a task that is not cached, given what its identity last ran with.
pub(crate) fn explain(plan: &Plan, task: &Task, memory: Option<&Memory>) -> Why {
    let Some(memory) = memory else {
        return Why::New;
    };
    if memory.key == task.key {
        return Why::Missing;
    }
    let (Value::Object(old), Value::Object(new)) = (&memory.params, &task.params) else {
        return Why::New;
    };
    let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
    names.sort();
    names.dedup();
    let changes: Vec<(String, Value, Value)> = names
        .into_iter()
        .filter_map(|name| {
            let (before, after) = (
                old.get(name).cloned().unwrap_or(Value::Null),
                new.get(name).cloned().unwrap_or(Value::Null),
            );
            (before != after).then(|| (name.clone(), before, after))
        })
        .collect();
    if !changes.is_empty() {
        return Why::Params(changes);
    }
    if memory.fingerprint != task.fingerprint {
        return Why::Code {
            old: memory.fingerprint.clone(),
            new: task.fingerprint.to_string(),
        };
    }
    let now = input_digests(plan, task);
    let mut stages: Vec<String> = now
        .iter()
        .filter(|(stage, digest)| memory.inputs.get(*stage) != Some(digest))
        .map(|(stage, _)| stage.clone())
        .collect();
    stages.extend(
        memory
            .inputs
            .keys()
            .filter(|stage| !now.contains_key(*stage))
            .cloned(),
    );
    Why::Inputs(stages)
}
