//! `reports/run.json`: the record of one run, written by the executor and read by `minorfirst
//! diff` (through `page::rundiff`), `gc --keep` and the tests. One type for both directions, so a
//! field added by the writer is a field the readers see.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::records::{Outcome, RunReport};
use crate::error::{Error, Result};
use crate::plan::Plan;

/// File name of the run record inside a reports directory (or a recorded run's snapshot).
pub const RUN_JSON: &str = "run.json";

/// The format version the executor writes.
pub const RUN_JSON_VERSION: u32 = 1;

/// The whole of `run.json`. Counts default to 0 on reading, so that a record that lacks them
/// (written by hand, or by an older engine) still reads; `tasks` is required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunJson {
    #[serde(default)]
    pub version: u32,
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default)]
    pub total: usize,
    #[serde(default)]
    pub executed: usize,
    #[serde(default)]
    pub fetched: usize,
    #[serde(default)]
    pub cached: usize,
    #[serde(default)]
    pub failed: usize,
    #[serde(default)]
    pub skipped: usize,
    #[serde(default)]
    pub not_run: usize,
    pub tasks: Vec<RunJsonTask>,
}

/// One selected task of a run, in plan order. The fields the engine added later
/// (`fingerprint`, `params_digest`, `inputs`) are optional on reading, so an older `run.json`
/// still compares (with less detail on why a key changed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunJsonTask {
    pub stage: String,
    pub kind: String,
    pub index: usize,
    #[serde(default)]
    pub params: Value,
    pub key: String,
    /// The kind's implementation fingerprint, a blake3 digest of the canonical parameters, and
    /// per dependency stage a digest of the input keys: what `minorfirst diff` needs to say why a
    /// task's key changed between two runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<BTreeMap<String, String>>,
    pub status: Outcome,
    #[serde(default)]
    pub duration_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RunJsonTask {
    /// Whether the run stored this task's object (executed, fetched or cached).
    pub fn stored(&self) -> bool {
        self.status.succeeded()
    }
}

impl RunJson {
    /// The record of `report`, a run of `plan`.
    pub fn of(plan: &Plan, report: &RunReport) -> Self {
        let tasks = report
            .records
            .iter()
            .map(|record| {
                let task = &plan.tasks()[record.task];
                let mut canonical = Vec::with_capacity(128);
                crate::params::canonical(&task.params, &mut canonical);
                RunJsonTask {
                    stage: plan.stage_of(task).name.clone(),
                    kind: task.kind.to_string(),
                    index: task.index,
                    params: task.params.clone(),
                    key: task.key.clone(),
                    fingerprint: Some(task.fingerprint.to_string()),
                    params_digest: Some(blake3::hash(&canonical).to_hex().to_string()),
                    inputs: Some(crate::state::input_digests(plan, task)),
                    status: record.outcome,
                    duration_s: record.duration_s,
                    error: record.error.clone(),
                }
            })
            .collect();
        Self {
            version: RUN_JSON_VERSION,
            profile: plan.profile.clone(),
            total: report.records.len(),
            executed: report.count(Outcome::Executed),
            fetched: report.count(Outcome::Fetched),
            cached: report.count(Outcome::Cached),
            failed: report.count(Outcome::Failed),
            skipped: report.count(Outcome::Skipped),
            not_run: report.count(Outcome::NotRun),
            tasks,
        }
    }

    /// Parse a run record; the error says what was expected.
    pub fn from_slice(bytes: &[u8]) -> std::result::Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Read `path`. Errors name the file: unreadable, or not a `run.json` written by
    /// `minorfirst run` (with serde's reason).
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|error| Error::io(path, error))?;
        Self::from_slice(&bytes).map_err(|error| Error::Usage {
            reason: format!(
                "{} is not a run.json written by `minorfirst run`: {error}",
                path.display()
            ),
        })
    }

    /// Write `dir/run.json` atomically (unsynced: losing it to a power cut only loses the record
    /// of one run), creating `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|error| Error::io(dir, error))?;
        crate::store::write_atomic(
            &dir.join(RUN_JSON),
            &serde_json::to_vec(self).expect("run.json serializes"),
        )
    }

    /// The keys of every task, in plan order (what `gc --keep run.json` keeps).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.tasks.iter().map(|task| task.key.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_record_reads_back_equal_and_keeps_its_bytes() {
        let text = r#"{"version":1,"profile":"quick","total":2,"executed":1,"fetched":0,"cached":0,"failed":1,"skipped":0,"not_run":0,"tasks":[{"stage":"gen","kind":"toy.gen","index":0,"params":{"n":1},"key":"ab","fingerprint":"f","params_digest":"p","inputs":{},"status":"executed","duration_s":0.5},{"stage":"sum","kind":"toy.sum","index":0,"params":{},"key":"cd","fingerprint":"f","params_digest":"q","inputs":{"gen":"d"},"status":"failed","duration_s":0.25,"error":"boom"}]}"#;
        let record = RunJson::from_slice(text.as_bytes()).unwrap();
        assert_eq!(record.tasks[1].status, Outcome::Failed);
        assert_eq!(record.tasks[1].error.as_deref(), Some("boom"));
        assert!(record.tasks[0].stored() && !record.tasks[1].stored());
        // The writer's field order and omissions: byte for byte what the engine wrote before.
        assert_eq!(serde_json::to_string(&record).unwrap(), text);
        let dir = tempfile::tempdir().unwrap();
        record.write(dir.path()).unwrap();
        assert_eq!(RunJson::read(&dir.path().join(RUN_JSON)).unwrap(), record);
    }

    #[test]
    fn an_older_record_reads_with_defaults_and_bad_ones_name_the_file() {
        let old = r#"{"tasks":[{"stage":"gen","kind":"toy.gen","index":0,"key":"ab","status":"not_run"}]}"#;
        let record = RunJson::from_slice(old.as_bytes()).unwrap();
        assert_eq!(record.tasks[0].status, Outcome::NotRun);
        assert_eq!(record.tasks[0].fingerprint, None);
        assert_eq!(record.keys().collect::<Vec<_>>(), ["ab"]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RUN_JSON);
        std::fs::write(&path, r#"{"tasks":[{"status":"exploded"}]}"#).unwrap();
        let error = RunJson::read(&path).unwrap_err().to_string();
        assert!(error.contains(&path.display().to_string()), "{error}");
        assert!(error.contains("not a run.json"), "{error}");
    }
}
