//! `minorfirst worker --manifest FILE`: execute one task described by the coordinator, commit it
//! into the shared store durably, and write its result record. The worker never builds the plan:
//! everything that enters the key was decided by the coordinator and is in the manifest.

use std::path::{Path, PathBuf};
use std::time::Instant;

use pipeline::{InputArtifact, Store, TaskContext};

use super::{Outcome, ResultRecord, TaskManifest};
use crate::cli::exit::{self, CliError};
use crate::cli::kinds;

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// The task manifest (JSON) written by the coordinator.
    #[arg(long, value_name = "FILE")]
    pub manifest: PathBuf,
}

/// Where this worker's scratch directory goes: unique across hosts and array elements, outside
/// the coordinator's `tmp/` (which a coordinator empties under its lock while workers may run).
pub fn scratch_name(key: &str) -> String {
    let job = std::env::var("SLURM_ARRAY_JOB_ID")
        .or_else(|_| std::env::var("SLURM_JOB_ID"))
        .unwrap_or_else(|_| "nojob".into());
    let element = std::env::var("SLURM_ARRAY_TASK_ID").unwrap_or_else(|_| "0".into());
    format!(
        "{}.{job}_{element}.{}.{}",
        &key[..16.min(key.len())],
        host(),
        std::process::id()
    )
}

pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown-host".into())
}

/// Write `bytes` to `path` durably: temp file, fsync, rename, fsync of the directory (the
/// coordinator on another host trusts what it reads).
pub fn write_durable(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    atomicfile::write(path, bytes, atomicfile::Durability::FileAndDirectory)
}

pub fn run(args: WorkerArgs) -> Result<(), CliError> {
    let start = Instant::now();
    let text = std::fs::read(&args.manifest).map_err(|error| {
        CliError::bad_input(format!(
            "cannot read task manifest {}: {error}",
            args.manifest.display()
        ))
    })?;
    let manifest: TaskManifest = serde_json::from_slice(&text).map_err(|error| {
        CliError::bad_input(format!(
            "{} is not a minorfirst task manifest: {error}",
            args.manifest.display()
        ))
    })?;
    println!(
        "minorfirst worker: {} ({}, key {}) on {}",
        manifest.label,
        manifest.kind,
        manifest.key,
        host()
    );
    let (outcome, error) = match execute(&manifest) {
        Ok(outcome) => (outcome, None),
        Err(error) => (Outcome::Failed, Some(error)),
    };
    let record = ResultRecord {
        outcome,
        wall_s: start.elapsed().as_secs_f64(),
        error: error.clone(),
        log: manifest.log.clone(),
        host: host(),
    };
    write_durable(
        &manifest.result,
        &serde_json::to_vec(&record).expect("result record serializes"),
    )
    .map_err(|io| {
        CliError::unexpected(format!(
            "cannot write the result record {}: {io}",
            manifest.result.display()
        ))
    })?;
    match error {
        None => {
            println!(
                "minorfirst worker: {} {} in {:.3} s",
                manifest.label,
                if outcome == Outcome::Cached {
                    "was already committed"
                } else {
                    "committed"
                },
                record.wall_s
            );
            Ok(())
        }
        Some(error) => Err(CliError::new(
            exit::TASK_FAILED,
            format!("task {} failed: {error}", manifest.label),
        )),
    }
}

fn execute(manifest: &TaskManifest) -> Result<Outcome, String> {
    let registry = kinds::registry();
    let kind = registry
        .get(&manifest.kind)
        .ok_or_else(|| format!("this binary has no stage kind `{}`", manifest.kind))?;
    if kind.fingerprint() != manifest.fingerprint {
        return Err(format!(
            "this binary's `{}` differs from the coordinator's (fingerprint {} ≠ {}): \
             compute nodes must run the same build",
            manifest.kind,
            kind.fingerprint(),
            manifest.fingerprint
        ));
    }
    let store = Store::new(&manifest.store);
    // A resubmitted task whose object a previous worker already committed is not executed again
    // (unless `--force` asked for exactly that).
    if !manifest.force && store.verify(&manifest.key).is_ok() {
        return Ok(Outcome::Cached);
    }
    for input in &manifest.inputs {
        store
            .verify(&input.key)
            .map_err(|error| format!("input {} does not verify: {error}", input.stage))?;
    }
    if manifest.threads > 0 {
        // Only the first build succeeds; the worker is a fresh process, so this is it.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(manifest.threads)
            .build_global();
    }
    let scratch_root = manifest.store.join(super::WORKER_SCRATCH);
    std::fs::create_dir_all(&scratch_root)
        .map_err(|error| format!("cannot create {}: {error}", scratch_root.display()))?;
    let scratch = scratch_root.join(scratch_name(&manifest.key));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir(&scratch)
        .map_err(|error| format!("cannot create {}: {error}", scratch.display()))?;
    let inputs: Vec<InputArtifact> = manifest
        .inputs
        .iter()
        .map(|input| InputArtifact {
            stage: input.stage.clone(),
            kind: input.kind.clone(),
            params: input.params.clone(),
            key: input.key.clone(),
            dir: store.object_dir(&input.key),
        })
        .collect();
    let context = TaskContext {
        stage: &manifest.stage,
        params: &manifest.params,
        inputs: &inputs,
        out_dir: &scratch,
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| kind.run(&context)));
    let outcome = match result {
        Ok(Ok(())) => store
            .commit(&scratch, &manifest.key, true)
            .map_err(|error| error.to_string())
            .and_then(|_| {
                // The rename is durable only once the directory holding it is.
                atomicfile::sync_directory(&manifest.store.join("objects"))
                    .map_err(|error| error.to_string())
            })
            .map(|()| Outcome::Executed),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("the task panicked (see the log)".to_string()),
    };
    if outcome.is_err() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    outcome
}
