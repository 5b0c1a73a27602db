//! `minorfirst diff [OLD] [NEW]`, and what `run` leaves behind for it: a copy of every stored
//! ledger under `reports/ledgers/`, and, after a complete successful run on a clean git work tree,
//! a snapshot of `run.json` and the ledgers under `<store>/runs/<commit>.<profile>/`.
//!
//! The comparison itself is [`page::rundiff`], so the report stage can render it too.

use std::path::{Path, PathBuf};

use page::rundiff::{LEDGER_KIND, LEDGERS_DIR, RUN_FILE, Snapshot, diff_text, ledger_file_name};
use pipeline::{Config, Plan, RunReport, Store};

use super::exit::{self, CliError};

/// Store subdirectory holding one snapshot per recorded (commit, profile).
const RUNS_DIR: &str = "runs";

/// Compare two runs: claims that changed verdict, measured values that moved by more than their
/// tolerance, tasks whose key changed and why.
///
/// OLD is a directory holding a run.json (another run's `reports/`, or its parent), or a git
/// revision whose complete run on a clean work tree was recorded in the store (default: HEAD).
/// NEW defaults to this pipeline's reports directory. Exit 0 when compared (with --exit-code: 1
/// if anything differs), 2 if OLD or NEW cannot be found or read.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// A reports directory, or a git revision recorded in the store (default: HEAD).
    #[arg(value_name = "OLD")]
    pub old: Option<String>,
    /// A reports directory (default: the pipeline's reports directory, i.e. the last run).
    #[arg(value_name = "NEW")]
    pub new: Option<PathBuf>,
    /// The pipeline file: where the store, the reports and the git work tree are.
    #[arg(long, value_name = "FILE", default_value = "pipeline.toml")]
    pub pipeline: PathBuf,
    /// Print the comparison as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when anything differs (0 when the runs agree).
    #[arg(long)]
    pub exit_code: bool,
}

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

fn snapshot_name(commit: &str, profile: Option<&str>) -> String {
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

fn pipeline_dir(file: &Path) -> PathBuf {
    file.parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
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

/// A directory argument: itself if it holds a run.json, else its `reports/`.
fn snapshot_dir(path: &Path) -> Option<PathBuf> {
    [path.to_path_buf(), path.join("reports")]
        .into_iter()
        .find(|dir| dir.join(RUN_FILE).is_file())
}

fn load(dir: &Path, store: &Store) -> Result<Snapshot, CliError> {
    Snapshot::load(dir, Some(store)).map_err(|error| CliError::bad_input(error.to_string()))
}

pub fn diff(args: DiffArgs) -> Result<(), CliError> {
    let config = Config::load(&args.pipeline)
        .map_err(|error| CliError::new(exit::BAD_INPUT, error.to_string()))?;
    let store = Store::new(&config.store);
    let new_dir = match &args.new {
        Some(path) => snapshot_dir(path).ok_or_else(|| {
            CliError::bad_input(format!(
                "NEW {}: no run.json in it or in its reports/",
                path.display()
            ))
        })?,
        None => {
            if !config.reports.join(RUN_FILE).is_file() {
                return Err(CliError::bad_input(format!(
                    "no {} yet: run `minorfirst run` first",
                    config.reports.join(RUN_FILE).display()
                )));
            }
            config.reports.clone()
        }
    };
    let new = load(&new_dir, &store)?;
    let old_arg = args.old.clone().unwrap_or_else(|| "HEAD".into());
    let (old_dir, old_label) = resolve_old(&old_arg, &config, &store, new.run.profile.as_deref())?;
    let old = load(&old_dir, &store)?;
    let (result, text) = diff_text(&old, &new);
    let output = if args.json {
        let mut json = serde_json::to_string_pretty(&result).expect("the diff serializes");
        json.push('\n');
        json
    } else {
        format!("diff: {old_label} → {}\n{text}", new_dir.display())
    };
    super::engine::print_stdout(&output)?;
    if args.exit_code && result.has_differences() {
        return Err(CliError::silent(exit::DIFFERENT));
    }
    Ok(())
}

/// OLD as a snapshot directory and a label for the header.
fn resolve_old(
    old: &str,
    config: &Config,
    store: &Store,
    profile: Option<&str>,
) -> Result<(PathBuf, String), CliError> {
    let path = Path::new(old);
    if path.is_dir() {
        let dir = snapshot_dir(path).ok_or_else(|| {
            CliError::bad_input(format!(
                "OLD {old}: a directory without a run.json (in it or in its reports/)"
            ))
        })?;
        return Ok((dir.clone(), dir.display().to_string()));
    }
    let repo = pipeline_dir(&config.file);
    let Some(commit) = git(
        &repo,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{old}^{{commit}}"),
        ],
    ) else {
        return Err(CliError::bad_input(format!(
            "OLD {old}: neither a directory with a run.json nor a git revision of {}",
            repo.display()
        )));
    };
    let name = snapshot_name(&commit, profile);
    let dir = store.root().join(RUNS_DIR).join(&name);
    if dir.join(RUN_FILE).is_file() {
        let short = &commit[..commit.len().min(12)];
        return Ok((
            dir,
            format!("{old} ({short}, profile {})", profile.unwrap_or("default")),
        ));
    }
    let mut others: Vec<String> = std::fs::read_dir(store.root().join(RUNS_DIR))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let file = entry.file_name().to_string_lossy().into_owned();
            file.strip_prefix(&format!("{commit}."))
                .map(|profile| profile.to_string())
        })
        .collect();
    others.sort();
    let hint = if others.is_empty() {
        "a run is recorded after a complete, successful `minorfirst run` on a clean work tree"
            .into()
    } else {
        format!("recorded profiles for it: {}", others.join(", "))
    };
    Err(CliError::bad_input(format!(
        "OLD {old}: no run of commit {} with profile {} is recorded in {} ({hint})",
        &commit[..commit.len().min(12)],
        profile.unwrap_or("default"),
        store.root().join(RUNS_DIR).display()
    )))
}
