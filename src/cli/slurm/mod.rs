//! Running the pipeline's tasks as Slurm job arrays on a store shared with the compute nodes.
//!
//! The coordinator (`minorfirst run --executor slurm`) builds the plan, holds the store lock and
//! runs the local scheduler; each task it would have called in process is instead described in a
//! task manifest and submitted, together with the other ready tasks of its stage, as one
//! `sbatch --array=0-N%M` job whose elements run `minorfirst worker --manifest …`. A worker commits
//! its object into the store (fsynced before it reports success) and writes a result record; the
//! coordinator polls for result records and `squeue` (no accounting database needed), re-hashes
//! the committed object and releases dependents as the local scheduler does.
//!
//! Files under the store root: `slurm/<batch>/` per submitted array (`keys.json`, written durably
//! before `sbatch`; `job_id`; per element `<i>.json` manifest, `<i>.log`, `<i>.result.json`) and
//! `tmp-workers/` (workers' scratch directories, named `<key>.<job>_<element>.<host>.<pid>`, which
//! the coordinator's own scratch cleanup never touches). A coordinator that was SIGKILLed leaves
//! its jobs running; the next run re-attaches to every element still pending or running (found by
//! the batch's job name with `squeue`) and waits for its result instead of resubmitting it, so no
//! task runs twice: re-attaching is as cheap as waiting for the commit and, unlike waiting on the
//! object alone, also notices when the job fails. An element that finished in between has either
//! committed (then its task is cached) or failed (then it is resubmitted); a resubmitted task whose
//! object a late worker committed meanwhile is not executed again by the new worker. A SIGINT or
//! SIGTERM to the coordinator cancels every job of its run (`scancel`) and waits until `squeue` no
//! longer lists them before exiting with 130.
//!
//! `slurm/submissions.log` gets one line per `sbatch` (time, stage, job id, number of tasks).
//!
//! Requirements on the shared filesystem: atomic `rename` within the store and close-to-open
//! consistency (NFS, Lustre, GPFS provide both); the store lock is taken by the coordinator only,
//! so `flock` need only work on the coordinator's host.

pub mod executor;
pub mod settings;
pub mod worker;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Workers' scratch directories, under the store root.
pub const WORKER_SCRATCH: &str = "tmp-workers";
/// Submitted arrays, under the store root.
pub const BATCHES: &str = "slurm";

/// An input of a task: what the kind sees as an [`pipeline::InputArtifact`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputRef {
    pub stage: String,
    pub kind: String,
    pub params: Value,
    pub key: String,
}

/// Everything a worker needs to execute one task without building the plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskManifest {
    pub version: u32,
    /// `stage[index]`, for messages.
    pub label: String,
    pub stage: String,
    pub kind: String,
    /// The coordinator's fingerprint of the kind: a worker running another build refuses.
    pub fingerprint: String,
    pub params: Value,
    pub key: String,
    pub inputs: Vec<InputRef>,
    /// Absolute path of the store root.
    pub store: PathBuf,
    /// Where the worker writes its [`ResultRecord`].
    pub result: PathBuf,
    /// The job's log (stdout and stderr), as passed to `sbatch --output`.
    pub log: PathBuf,
    /// The worker's rayon threads (the job's CPUs).
    pub threads: usize,
    /// `run --force` named this task's stage: execute even if the object is already committed.
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Executed,
    /// The object was already committed (a resubmitted task); nothing was executed.
    Cached,
    Failed,
}

/// What a worker reports, written durably after the commit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultRecord {
    pub outcome: Outcome,
    /// The worker's own wall time, from start to durable result.
    pub wall_s: f64,
    pub error: Option<String>,
    pub log: PathBuf,
    pub host: String,
}
