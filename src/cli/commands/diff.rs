//! `minorfirst diff [OLD] [NEW]`: compare two runs read from snapshot directories (a reports
//! directory, or a commit's recorded run, see [`crate::cli::records`]). The comparison itself is
//! [`page::rundiff`], so the report stage can render it too.

use std::path::{Path, PathBuf};

use page::rundiff::{RUN_FILE, Snapshot, diff_text};
use pipeline::{Config, Store};

use crate::cli::exit::{self, CliError, print_stdout};
use crate::cli::records::{RUNS_DIR, git, pipeline_dir, snapshot_name};

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

/// A directory argument: itself if it holds a run.json, else its `reports/`.
fn snapshot_dir(path: &Path) -> Option<PathBuf> {
    [path.to_path_buf(), path.join("reports")]
        .into_iter()
        .find(|dir| dir.join(RUN_FILE).is_file())
}

fn load(dir: &Path, store: &Store) -> Result<Snapshot, CliError> {
    Snapshot::load(dir, Some(store)).map_err(|error| CliError::bad_input(error.to_string()))
}

pub fn run(args: DiffArgs) -> Result<(), CliError> {
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
    print_stdout(&output)?;
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
