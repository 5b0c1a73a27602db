//! Comparing two runs (`minorfirst diff`): which claims changed verdict, which measured values
//! moved by more than their tolerance, and which tasks changed key and why.
//!
//! A run is read from a *snapshot directory*: a `run.json` (as the engine writes it into
//! `reports/`) and, under [`LEDGERS_DIR`], a copy of the `ledger.json` of every ledger task the run
//! stored (the binary publishes them after each run). `reports/` is one such directory; the
//! binary also keeps one per recorded commit in the store. Ledgers missing from the directory are
//! looked up in the store by the task's key.
//!
//! The comparison is a pure function of the two snapshots ([`diff`]); [`RunDiff`] serializes to
//! JSON and displays as the short text a pull-request comment should show. Its order is stable:
//! claims by id, tasks in the new run's plan order.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::claims::{Claim, LEDGER_FILE, read_ledger, verdict_text};
use crate::error::AnalysisError;

/// Directory of a snapshot holding the ledgers' `ledger.json` copies.
pub const LEDGERS_DIR: &str = "ledgers";
/// The kind whose tasks hold a ledger.
pub const LEDGER_KIND: &str = "claims.ledger";
/// The engine's record of a run inside a snapshot directory.
pub const RUN_FILE: &str = pipeline::RUN_JSON;

/// A `run.json`, as the engine writes it.
pub use pipeline::RunJson as RunFile;
/// One task of a `run.json`: the engine's own type, so the reader sees every field it writes.
pub use pipeline::RunJsonTask as RunTask;

/// File name, under [`LEDGERS_DIR`], of the ledger of task `index` of ledger stage `stage`.
pub fn ledger_file_name(stage: &str, index: usize) -> String {
    if index == 0 {
        format!("{stage}.json")
    } else {
        format!("{stage}.{index}.json")
    }
}

/// One run: its tasks and the claims of its stored ledgers.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub run: RunFile,
    pub claims: Vec<Claim>,
}

impl Snapshot {
    /// Read `dir/run.json` and the ledgers of its stored ledger tasks: from `dir/ledgers/`, else
    /// from `store` by key. Errors name the file and what was expected.
    pub fn load(dir: &Path, store: Option<&pipeline::Store>) -> Result<Self, AnalysisError> {
        let path = dir.join(RUN_FILE);
        let bytes = std::fs::read(&path).map_err(|source| AnalysisError::io(&path, source))?;
        let run = RunFile::from_slice(&bytes).map_err(|error| {
            AnalysisError::invalid(format!(
                "{} is not a run.json written by `minorfirst run`: {error}",
                path.display()
            ))
        })?;
        let mut claims = Vec::new();
        for task in run
            .tasks
            .iter()
            .filter(|task| task.kind == LEDGER_KIND && task.stored())
        {
            let copy = dir
                .join(LEDGERS_DIR)
                .join(ledger_file_name(&task.stage, task.index));
            let candidates: Vec<PathBuf> = std::iter::once(copy)
                .chain(store.map(|store| store.object_dir(&task.key).join(LEDGER_FILE)))
                .collect();
            let Some(found) = candidates.iter().find(|path| path.exists()) else {
                return Err(AnalysisError::invalid(format!(
                    "the ledger of stage `{}` (key {}) is in neither {}",
                    task.stage,
                    &task.key[..task.key.len().min(12)],
                    candidates
                        .iter()
                        .map(|path| path.display().to_string())
                        .collect::<Vec<_>>()
                        .join(" nor ")
                )));
            };
            claims.extend(read_ledger(found).map_err(|error| {
                AnalysisError::invalid(format!(
                    "{} is not a claims ledger: {error}",
                    found.display()
                ))
            })?);
        }
        claims.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Self { run, claims })
    }
}

/// A claim whose verdict differs between the runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerdictChange {
    pub id: String,
    pub old: String,
    pub new: String,
    pub old_measured: String,
    pub new_measured: String,
}

/// A claim with the same verdict whose measured value moved by more than its tolerance band.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Moved {
    pub id: String,
    pub verdict: String,
    pub old_measured: String,
    pub new_measured: String,
    /// |new − old|.
    pub delta: f64,
    /// The half-width T of the claim's band `|measured − E| ≤ T`.
    pub tolerance: f64,
}

/// A claim present in one run only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimBrief {
    pub id: String,
    pub verdict: String,
    pub measured: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClaimsDiff {
    pub verdict_changed: Vec<VerdictChange>,
    pub moved: Vec<Moved>,
    pub added: Vec<ClaimBrief>,
    pub removed: Vec<ClaimBrief>,
    /// Same verdict, measured text changed, but within the band or without a numeric band.
    pub measured_changed: Vec<String>,
    pub unchanged: usize,
}

/// One parameter (or element of one) that differs: `path` is `name`, `name[3]` or `name.key`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamChange {
    pub path: String,
    pub old: Value,
    pub new: Value,
}

/// Why a task's key differs between the runs (every reason that applies is listed).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    Params {
        changes: Vec<ParamChange>,
        /// How many more differing entries were left out of `changes`.
        more: usize,
    },
    Kind {
        old: String,
        new: String,
    },
    Code {
        old: String,
        new: String,
    },
    Inputs {
        stages: Vec<String>,
    },
    /// The old `run.json` does not record fingerprints and input digests, or only the engine's
    /// key format changed.
    Unexplained,
}

/// A task identity (stage, index) whose key changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskChange {
    pub stage: String,
    pub index: usize,
    pub old_key: String,
    pub new_key: String,
    pub reasons: Vec<Reason>,
}

/// A task present in one run only (by identity and key).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskRef {
    pub stage: String,
    pub index: usize,
    pub key: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TasksDiff {
    pub changed: Vec<TaskChange>,
    pub added: Vec<TaskRef>,
    pub removed: Vec<TaskRef>,
    /// Tasks of the new run whose object it did not store (failed, skipped, not run).
    pub not_stored: Vec<TaskRef>,
    pub unchanged: usize,
}

/// The comparison of two runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDiff {
    pub old_profile: Option<String>,
    pub new_profile: Option<String>,
    pub claims: ClaimsDiff,
    pub tasks: TasksDiff,
}

impl RunDiff {
    /// Whether anything differs (what `diff --exit-code` reports).
    pub fn has_differences(&self) -> bool {
        let claims = &self.claims;
        let tasks = &self.tasks;
        !(claims.verdict_changed.is_empty()
            && claims.moved.is_empty()
            && claims.added.is_empty()
            && claims.removed.is_empty()
            && claims.measured_changed.is_empty()
            && tasks.changed.is_empty()
            && tasks.added.is_empty()
            && tasks.removed.is_empty()
            && tasks.not_stored.is_empty())
    }
}

/// The half-width `T` of a tolerance written as a band, `|… − …| ≤ T (why)` (what
/// [`Claim::within`] writes). Thresholds (`≥ 3`, `< τ*`) and relative bounds are not bands.
pub fn band(tolerance: &str) -> Option<f64> {
    let text = tolerance.trim_start();
    if !text.starts_with('|') {
        return None;
    }
    let (_, rest) = text[1..].split_once("| ≤ ")?;
    let number: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        .collect();
    let value: f64 = number.parse().ok()?;
    let after = rest[number.len()..].trim_start();
    // `≤ 1e-6 · max |β|` is relative to something else: not an absolute band.
    (value.is_finite() && value >= 0.0 && (after.is_empty() || after.starts_with('(')))
        .then_some(value)
}

fn number(measured: &str) -> Option<f64> {
    measured
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

/// Compare two runs' claims (each sorted by id): verdict changes, values moved beyond their band,
/// claims added and removed. Also what the report's "changes since the previous run" shows.
pub fn diff_claims(old: &[Claim], new: &[Claim]) -> ClaimsDiff {
    let before: HashMap<&str, &Claim> =
        old.iter().map(|claim| (claim.id.as_str(), claim)).collect();
    let after: HashSet<&str> = new.iter().map(|claim| claim.id.as_str()).collect();
    let mut out = ClaimsDiff::default();
    for claim in new {
        let verdict = verdict_text(claim).to_string();
        let Some(previous) = before.get(claim.id.as_str()) else {
            out.added.push(ClaimBrief {
                id: claim.id.clone(),
                verdict,
                measured: claim.measured.clone(),
            });
            continue;
        };
        let was = verdict_text(previous).to_string();
        if was != verdict {
            out.verdict_changed.push(VerdictChange {
                id: claim.id.clone(),
                old: was,
                new: verdict,
                old_measured: previous.measured.clone(),
                new_measured: claim.measured.clone(),
            });
            continue;
        }
        if previous.measured == claim.measured {
            out.unchanged += 1;
            continue;
        }
        let moved = match (
            number(&previous.measured),
            number(&claim.measured),
            band(&claim.tolerance).or_else(|| band(&previous.tolerance)),
        ) {
            (Some(a), Some(b), Some(tolerance)) if (b - a).abs() > tolerance => Some(Moved {
                id: claim.id.clone(),
                verdict,
                old_measured: previous.measured.clone(),
                new_measured: claim.measured.clone(),
                delta: (b - a).abs(),
                tolerance,
            }),
            _ => None,
        };
        match moved {
            Some(moved) => out.moved.push(moved),
            None => out.measured_changed.push(claim.id.clone()),
        }
    }
    for claim in old
        .iter()
        .filter(|claim| !after.contains(claim.id.as_str()))
    {
        out.removed.push(ClaimBrief {
            id: claim.id.clone(),
            verdict: verdict_text(claim).to_string(),
            measured: claim.measured.clone(),
        });
    }
    out
}

/// At most this many differing entries are listed per parameter change reason.
const MAX_PARAM_CHANGES: usize = 4;

fn param_changes(path: String, old: &Value, new: &Value, out: &mut Vec<ParamChange>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (position, (x, y)) in a.iter().zip(b).enumerate() {
                param_changes(format!("{path}[{position}]"), x, y, out);
            }
        }
        (Value::Object(a), Value::Object(b)) => {
            let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
            names.sort();
            names.dedup();
            for name in names {
                let (x, y) = (
                    a.get(name).unwrap_or(&Value::Null),
                    b.get(name).unwrap_or(&Value::Null),
                );
                let child = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                param_changes(child, x, y, out);
            }
        }
        _ => out.push(ParamChange {
            path,
            old: old.clone(),
            new: new.clone(),
        }),
    }
}

fn reasons(old: &RunTask, new: &RunTask) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if old.kind != new.kind {
        reasons.push(Reason::Kind {
            old: old.kind.clone(),
            new: new.kind.clone(),
        });
    }
    let params_differ = match (&old.params_digest, &new.params_digest) {
        (Some(a), Some(b)) => a != b,
        _ => old.params != new.params,
    };
    if params_differ {
        let mut changes = Vec::new();
        param_changes(String::new(), &old.params, &new.params, &mut changes);
        if changes.is_empty() {
            // Equal as JSON but not canonically (an integer became a float): say so.
            changes.push(ParamChange {
                path: "(encoding)".into(),
                old: old.params.clone(),
                new: new.params.clone(),
            });
        }
        let more = changes.len().saturating_sub(MAX_PARAM_CHANGES);
        changes.truncate(MAX_PARAM_CHANGES);
        reasons.push(Reason::Params { changes, more });
    }
    if let (Some(a), Some(b)) = (&old.fingerprint, &new.fingerprint)
        && a != b
    {
        reasons.push(Reason::Code {
            old: a.clone(),
            new: b.clone(),
        });
    }
    if let (Some(a), Some(b)) = (&old.inputs, &new.inputs) {
        let mut stages: Vec<String> = a
            .keys()
            .chain(b.keys())
            .filter(|stage| a.get(*stage) != b.get(*stage))
            .cloned()
            .collect();
        stages.sort();
        stages.dedup();
        if !stages.is_empty() {
            reasons.push(Reason::Inputs { stages });
        }
    }
    if reasons.is_empty() {
        reasons.push(Reason::Unexplained);
    }
    reasons
}

fn task_ref(task: &RunTask) -> TaskRef {
    TaskRef {
        stage: task.stage.clone(),
        index: task.index,
        key: task.key.clone(),
    }
}

fn diff_tasks(old: &[RunTask], new: &[RunTask]) -> TasksDiff {
    let old_keys: HashSet<&str> = old.iter().map(|task| task.key.as_str()).collect();
    let new_keys: HashSet<&str> = new.iter().map(|task| task.key.as_str()).collect();
    let by_identity: HashMap<(&str, usize), &RunTask> = old
        .iter()
        .map(|task| ((task.stage.as_str(), task.index), task))
        .collect();
    let mut out = TasksDiff::default();
    let mut matched: HashSet<&str> = HashSet::new();
    for task in new {
        if !task.stored() {
            out.not_stored.push(task_ref(task));
        }
        // The same work, wherever it sits in the plan, is unchanged.
        if old_keys.contains(task.key.as_str()) {
            out.unchanged += 1;
            continue;
        }
        match by_identity
            .get(&(task.stage.as_str(), task.index))
            .filter(|previous| !new_keys.contains(previous.key.as_str()))
        {
            Some(previous) => {
                matched.insert(previous.key.as_str());
                out.changed.push(TaskChange {
                    stage: task.stage.clone(),
                    index: task.index,
                    old_key: previous.key.clone(),
                    new_key: task.key.clone(),
                    reasons: reasons(previous, task),
                });
            }
            None => out.added.push(task_ref(task)),
        }
    }
    out.removed = old
        .iter()
        .filter(|task| {
            !new_keys.contains(task.key.as_str()) && !matched.contains(task.key.as_str())
        })
        .map(task_ref)
        .collect();
    out
}

/// Compare two runs.
pub fn diff(old: &Snapshot, new: &Snapshot) -> RunDiff {
    RunDiff {
        old_profile: old.run.profile.clone(),
        new_profile: new.run.profile.clone(),
        claims: diff_claims(&old.claims, &new.claims),
        tasks: diff_tasks(&old.run.tasks, &new.run.tasks),
    }
}

/// A parameter value on one line: long or multi-line strings by their length, long JSON cut.
fn short(value: &Value) -> String {
    const MAX: usize = 48;
    match value {
        Value::String(text) if text.contains('\n') || text.chars().count() > MAX => {
            format!("<{} chars>", text.chars().count())
        }
        _ => {
            let text = value.to_string();
            if text.chars().count() > MAX {
                format!("{}…", text.chars().take(MAX).collect::<String>())
            } else {
                text
            }
        }
    }
}

fn reason_text(reason: &Reason) -> String {
    match reason {
        Reason::Params { changes, more } => {
            let mut text = String::from("param ");
            for (position, change) in changes.iter().enumerate() {
                if position > 0 {
                    text.push_str(", ");
                }
                let _ = write!(
                    text,
                    "{} {} → {}",
                    change.path,
                    short(&change.old),
                    short(&change.new)
                );
            }
            if *more > 0 {
                let _ = write!(text, " (and {more} more)");
            }
            text
        }
        Reason::Kind { old, new } => format!("kind {old} → {new}"),
        Reason::Code { old, new } => format!(
            "code changed ({} → {})",
            &old[..old.len().min(12)],
            &new[..new.len().min(12)]
        ),
        Reason::Inputs { stages } => format!("input changed ({})", stages.join(", ")),
        Reason::Unexplained => {
            "key changed (code, inputs or key format; the old run.json does not say)".into()
        }
    }
}

/// `0-3,5,7-8`: sorted indices with runs collapsed.
fn ranges(indices: &[usize]) -> String {
    let mut sorted = indices.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut position = 0;
    while position < sorted.len() {
        let start = sorted[position];
        let mut end = start;
        while position + 1 < sorted.len() && sorted[position + 1] == end + 1 {
            position += 1;
            end += 1;
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        position += 1;
    }
    parts.join(",")
}

/// The lines of one task list: per stage, one line per distinct reason text, indices collapsed
/// (`stage[0-3,7]`), in first-appearance order. `multi` says which stages have several tasks.
fn task_lines(
    items: impl Iterator<Item = (String, usize, String)>,
    multi: &HashSet<String>,
) -> Vec<String> {
    let mut groups: Vec<((String, String), Vec<usize>)> = Vec::new();
    for (stage, index, text) in items {
        match groups
            .iter_mut()
            .find(|((s, t), _)| *s == stage && *t == text)
        {
            Some((_, indices)) => indices.push(index),
            None => groups.push(((stage, text), vec![index])),
        }
    }
    groups
        .into_iter()
        .map(|((stage, text), indices)| {
            let label = if multi.contains(&stage) {
                format!("{stage}[{}]", ranges(&indices))
            } else {
                stage
            };
            if text.is_empty() {
                format!("  {label}")
            } else {
                format!("  {label}: {text}")
            }
        })
        .collect()
}

/// Render the comparison with `multi`: the stages that have more than one task in either run
/// (their tasks are labelled `stage[i]`).
fn render(diff: &RunDiff, multi: &HashSet<String>) -> String {
    let mut out = String::new();
    if diff.old_profile != diff.new_profile {
        let name = |profile: &Option<String>| profile.clone().unwrap_or_else(|| "default".into());
        let _ = writeln!(
            out,
            "note: the runs used different profiles ({} → {})",
            name(&diff.old_profile),
            name(&diff.new_profile)
        );
    }
    let claims = &diff.claims;
    let _ = writeln!(
        out,
        "claims: {} changed verdict, {} moved beyond tolerance, {} new, {} removed, {} other measured changes, {} unchanged",
        claims.verdict_changed.len(),
        claims.moved.len(),
        claims.added.len(),
        claims.removed.len(),
        claims.measured_changed.len(),
        claims.unchanged
    );
    for change in &claims.verdict_changed {
        let _ = writeln!(
            out,
            "  verdict {}: {} → {} (measured {} → {})",
            change.id, change.old, change.new, change.old_measured, change.new_measured
        );
    }
    for moved in &claims.moved {
        let _ = writeln!(
            out,
            "  moved   {}: {} → {} (|Δ| = {:.1e} > tolerance {:.1e}; still {})",
            moved.id,
            moved.old_measured,
            moved.new_measured,
            moved.delta,
            moved.tolerance,
            moved.verdict
        );
    }
    for claim in &claims.added {
        let _ = writeln!(
            out,
            "  new     {}: {} (measured {})",
            claim.id, claim.verdict, claim.measured
        );
    }
    for claim in &claims.removed {
        let _ = writeln!(
            out,
            "  removed {}: was {} (measured {})",
            claim.id, claim.verdict, claim.measured
        );
    }
    if !claims.measured_changed.is_empty() {
        let _ = writeln!(
            out,
            "  measured changed within tolerance or without a numeric band: {}",
            claims.measured_changed.join(", ")
        );
    }
    let tasks = &diff.tasks;
    let _ = writeln!(
        out,
        "tasks: {} changed key, {} new, {} removed, {} unchanged",
        tasks.changed.len(),
        tasks.added.len(),
        tasks.removed.len(),
        tasks.unchanged
    );
    let changed = tasks.changed.iter().map(|change| {
        let text = change
            .reasons
            .iter()
            .map(reason_text)
            .collect::<Vec<_>>()
            .join("; ");
        (change.stage.clone(), change.index, text)
    });
    for line in task_lines(changed, multi) {
        let _ = writeln!(out, "{line}");
    }
    for (list, what) in [(&tasks.added, "new"), (&tasks.removed, "removed")] {
        let items = list
            .iter()
            .map(|task| (task.stage.clone(), task.index, what.to_string()));
        for line in task_lines(items, multi) {
            let _ = writeln!(out, "{line}");
        }
    }
    if !tasks.not_stored.is_empty() {
        let items = tasks.not_stored.iter().map(|task| {
            (
                task.stage.clone(),
                task.index,
                "not stored by the new run (failed or not run)".to_string(),
            )
        });
        for line in task_lines(items, multi) {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

/// Stages with more than one task in either run.
fn multi_task_stages(old: &Snapshot, new: &Snapshot) -> HashSet<String> {
    let mut counts: HashMap<(&str, bool), usize> = HashMap::new();
    for (side, snapshot) in [(false, old), (true, new)] {
        for task in &snapshot.run.tasks {
            *counts.entry((task.stage.as_str(), side)).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .filter(|(_, count)| *count > 1)
        .map(|((stage, _), _)| stage.to_string())
        .collect()
}

/// Compare two runs and render the text of `minorfirst diff` (everything after its header line).
pub fn diff_text(old: &Snapshot, new: &Snapshot) -> (RunDiff, String) {
    let result = diff(old, new);
    let text = render(&result, &multi_task_stages(old, new));
    (result, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(id: &str, measured: &str, tolerance: &str, pass: bool) -> Claim {
        Claim::verdict(id, "toy", "s", "m", tolerance, measured.into(), pass)
    }

    fn task(
        stage: &str,
        index: usize,
        key: &str,
        params: Value,
        inputs: &[(&str, &str)],
    ) -> RunTask {
        RunTask {
            stage: stage.into(),
            kind: "toy.gen".into(),
            index,
            params: params.clone(),
            key: key.into(),
            fingerprint: Some("f".into()),
            params_digest: Some(params.to_string()),
            inputs: Some(
                inputs
                    .iter()
                    .map(|(s, d)| (s.to_string(), d.to_string()))
                    .collect(),
            ),
            status: pipeline::Outcome::Executed,
            duration_s: 0.0,
            error: None,
        }
    }

    fn snapshot(tasks: Vec<RunTask>, claims: Vec<Claim>) -> Snapshot {
        Snapshot {
            run: RunFile {
                version: pipeline::exec::RUN_JSON_VERSION,
                profile: None,
                total: tasks.len(),
                executed: tasks.len(),
                fetched: 0,
                cached: 0,
                failed: 0,
                skipped: 0,
                not_run: 0,
                tasks,
            },
            claims,
        }
    }

    #[test]
    fn band_reads_absolute_bands_only() {
        assert_eq!(
            band("|measured − 2.000000| ≤ 5.0e-1 (toy tolerance)"),
            Some(0.5)
        );
        assert_eq!(band("|slope − 1| ≤ 0.15 (Euler)"), Some(0.15));
        assert_eq!(band("≥ 3 (clearly closer)"), None);
        assert_eq!(band("≤ 1e-6 · max |β| (chatter)"), None);
        assert_eq!(band("|x| ≤ 1e-6 · max |β|"), None);
    }

    #[test]
    fn claims_are_sorted_into_verdict_moved_and_other_changes() {
        let band = "|measured − 5.000000| ≤ 5.0e-1 (t)";
        let old = vec![
            claim("a", "5.0", band, true),
            claim("b", "9.0", band, false),
            claim("c", "5.1", band, true),
            claim("d", "x", "≥ 3", true),
            claim("gone", "1", "≥ 3", true),
            claim("same", "1", "≥ 3", true),
        ];
        let new = vec![
            claim("a", "6.0", band, false),
            claim("b", "10.0", band, false),
            claim("c", "5.3", band, true),
            claim("d", "y", "≥ 3", true),
            claim("fresh", "2", "≥ 3", true),
            claim("same", "1", "≥ 3", true),
        ];
        let result = diff_claims(&old, &new);
        assert_eq!(result.verdict_changed.len(), 1);
        assert_eq!(result.verdict_changed[0].id, "a");
        assert_eq!(
            (
                result.verdict_changed[0].old.as_str(),
                result.verdict_changed[0].new.as_str()
            ),
            ("reproduced", "contradicted")
        );
        assert_eq!(result.moved.len(), 1);
        assert_eq!(result.moved[0].id, "b");
        assert!((result.moved[0].delta - 1.0).abs() < 1e-12);
        assert_eq!(result.measured_changed, vec!["c", "d"]);
        assert_eq!(result.added[0].id, "fresh");
        assert_eq!(result.removed[0].id, "gone");
        assert_eq!(result.unchanged, 1);
    }

    #[test]
    fn tasks_explain_params_code_and_inputs() {
        let old = snapshot(
            vec![
                task(
                    "g",
                    0,
                    "k0",
                    serde_json::json!({"n": 0, "v": [1, 2, 3]}),
                    &[],
                ),
                task("g", 1, "k1", serde_json::json!({"n": 1}), &[]),
                task("sum", 0, "s", serde_json::json!({}), &[("g", "d1")]),
                task("old", 0, "o", serde_json::json!({}), &[]),
            ],
            vec![],
        );
        let mut code = task("g", 1, "k1b", serde_json::json!({"n": 1}), &[]);
        code.fingerprint = Some("f2".into());
        let new = snapshot(
            vec![
                task(
                    "g",
                    0,
                    "k0b",
                    serde_json::json!({"n": 0, "v": [1, 7, 3]}),
                    &[],
                ),
                code,
                task("sum", 0, "s2", serde_json::json!({}), &[("g", "d2")]),
                task("extra", 0, "e", serde_json::json!({}), &[]),
            ],
            vec![],
        );
        let (result, text) = diff_text(&old, &new);
        assert_eq!(result.tasks.changed.len(), 3);
        assert_eq!(result.tasks.added[0].stage, "extra");
        assert_eq!(result.tasks.removed[0].stage, "old");
        assert_eq!(result.tasks.unchanged, 0);
        assert!(text.contains("  g[0]: param v[1] 2 → 7\n"), "{text}");
        assert!(text.contains("  g[1]: code changed (f → f2)\n"), "{text}");
        assert!(text.contains("  sum: input changed (g)\n"), "{text}");
        assert!(
            text.contains("  extra: new\n") && text.contains("  old: removed\n"),
            "{text}"
        );
        assert!(result.has_differences());
        let (same, _) = diff_text(&new, &new);
        assert!(!same.has_differences());
        assert_eq!(same.tasks.unchanged, 4);
    }

    #[test]
    fn ranges_collapse_runs() {
        assert_eq!(ranges(&[7, 0, 1, 2, 3, 5, 8]), "0-3,5,7-8");
        assert_eq!(ranges(&[4]), "4");
    }
}
