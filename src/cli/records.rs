//! What `run` leaves behind for `diff`: a copy of every stored ledger under `reports/ledgers/`,
//! and, after a complete successful run on a clean git work tree, a snapshot of `run.json` and the
//! ledgers under `<store>/runs/<commit>.<profile>/` (read back for the page's "previous run").

use std::path::{Path, PathBuf};

use page::rundiff::{LEDGER_KIND, LEDGERS_DIR, RUN_FILE, Snapshot, ledger_file_name};
use pipeline::{Config, Plan, RunReport, Store};

use super::exit::CliError;

/// Store subdirectory holding one snapshot per recorded (commit, profile).
pub const RUNS_DIR: &str = "runs";

fn io_error(path: &Path, error: std::io::Error) -> CliError {
    CliError::unexpected(format!("cannot write {}: {error}", path.display()))
}

/// Write `bytes` to `target` unless it already holds them (a no-op run touches nothing).
fn write_if_different(target: &Path, bytes: &[u8]) -> Result<(), CliError> {
    atomicfile::write_if_different(target, bytes, atomicfile::Durability::None)
        .map(|_| ())
        .map_err(|error| io_error(target, error))
}

/// The stored ledger tasks of a run: (stage, index, ledger.json in the store).
fn stored_ledgers(plan: &Plan, store: &Store, report: &RunReport) -> Vec<(String, usize, PathBuf)> {
    report
        .records
        .iter()
        .filter(|record| record.outcome.succeeded())
        .map(|record| &plan.tasks()[record.task])
        .filter(|task| task.kind == LEDGER_KIND)
        .map(|task| {
            (
                plan.stage_of(task).name.clone(),
                task.index,
                store
                    .object_dir(&task.key)
                    .join(stagekit::claims::LEDGER_FILE),
            )
        })
        .collect()
}

/// After a run: copy each stored ledger to `reports/ledgers/`, and record the run for its commit
/// when it was complete (no targets), succeeded and the work tree is clean.
pub fn after_run(
    plan: &Plan,
    store: &Store,
    config: &Config,
    report: &RunReport,
    complete: bool,
) -> Result<(), CliError> {
    let ledgers = stored_ledgers(plan, store, report);
    let target_dir = config.reports.join(LEDGERS_DIR);
    for (stage, index, source) in &ledgers {
        let bytes = std::fs::read(source).map_err(|error| {
            CliError::unexpected(format!("cannot read {}: {error}", source.display()))
        })?;
        write_if_different(&target_dir.join(ledger_file_name(stage, *index)), &bytes)?;
    }
    if !complete || !report.succeeded() {
        return Ok(());
    }
    let Some(commit) = clean_commit(&pipeline_dir(&config.file)) else {
        return Ok(());
    };
    let dir = store
        .root()
        .join(RUNS_DIR)
        .join(snapshot_name(&commit, plan.profile.as_deref()));
    let temp = store
        .root()
        .join(RUNS_DIR)
        .join(format!(".tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&temp);
    std::fs::create_dir_all(temp.join(LEDGERS_DIR)).map_err(|error| io_error(&temp, error))?;
    let run_json = config.reports.join(RUN_FILE);
    std::fs::copy(&run_json, temp.join(RUN_FILE)).map_err(|error| io_error(&run_json, error))?;
    for (stage, index, source) in &ledgers {
        let target = temp.join(LEDGERS_DIR).join(ledger_file_name(stage, *index));
        std::fs::copy(source, &target).map_err(|error| io_error(&target, error))?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&temp, &dir).map_err(|error| io_error(&dir, error))
}

/// The previous run the report compares its claims with, as (label, the claims as JSON): the
/// recorded run of the commit before the code being reported — HEAD's when tracked files have
/// uncommitted changes, HEAD's parent's when the work tree is clean (HEAD's own recording is then
/// this very run). `run` records only HEAD's snapshot and only on a clean tree, so the comparison
/// never shifts under the run that makes it, and `status`/`verify` right after a run plan the same
/// report task. `None` without such a recording (or outside git).
pub fn previous_run_claims(
    pipeline_file: &Path,
    profile: Option<&str>,
    dirty: bool,
) -> Option<(String, String)> {
    let config = Config::load(pipeline_file).ok()?;
    let store = Store::new(&config.store);
    let base = if dirty { "HEAD" } else { "HEAD~1" };
    let commit = git(
        &pipeline_dir(pipeline_file),
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{base}^{{commit}}"),
        ],
    )?;
    let dir = store
        .root()
        .join(RUNS_DIR)
        .join(snapshot_name(&commit, profile));
    if !dir.join(RUN_FILE).is_file() {
        return None;
    }
    let snapshot = Snapshot::load(&dir, Some(&store)).ok()?;
    let claims = serde_json::to_string(&snapshot.claims).ok()?;
    let label = format!(
        "the recorded run of {base} ({}, profile {})",
        &commit[..commit.len().min(12)],
        profile.unwrap_or("default")
    );
    Some((label, claims))
}

/// Remove the recorded runs (part of `clean`).
pub fn clean_runs(store: &Store) -> Result<(), CliError> {
    let dir = store.root().join(RUNS_DIR);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|error| io_error(&dir, error))?;
    }
    Ok(())
}

pub fn snapshot_name(commit: &str, profile: Option<&str>) -> String {
    let profile: String = profile
        .unwrap_or("default")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{commit}.{profile}")
}

pub fn pipeline_dir(file: &Path) -> PathBuf {
    file.parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

pub fn git(dir: &Path, args: &[&str]) -> Option<String> {
    std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// HEAD's commit when `dir` is in a git work tree without changes to tracked files.
fn clean_commit(dir: &Path) -> Option<String> {
    let commit = git(dir, &["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])?;
    git(dir, &["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|status| status.is_empty())
        .then_some(commit)
}
