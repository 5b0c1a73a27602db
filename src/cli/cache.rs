//! The shared remote cache on the command line: `run --cache URL --cache-push on|off`, the machine
//! settings file `.minorfirst/settings.toml` (its `[cache]` table), and the remote of `push` / `pull`.
//!
//! Settings file, beside the store and like it never committed (`.minorfirst/` is ignored by
//! git), in the directory of the pipeline file:
//!
//! ```toml
//! [cache]
//! url = "s3://bucket/prefix"   # or "file:///shared/dir"
//! push = false                 # upload what `run` executes (default false: a reader only pulls)
//! ```
//!
//! A flag wins over the file. Parameters never live here: `pipeline.toml` and its profiles decide
//! what is computed, this file only where results may be found.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pipeline::{CacheOptions, ObjectStoreCache};
use serde::Deserialize;

use super::exit::CliError;
use super::plan::PlanArgs;

/// Path of the machine settings file, relative to the pipeline file's directory.
pub const SETTINGS: &str = ".minorfirst/settings.toml";

/// `--cache` and `--cache-push`, shared by `run`.
#[derive(Debug, Clone, clap::Args)]
pub struct CacheArgs {
    /// A shared remote cache: file:///DIR or s3://BUCKET[/PREFIX] (S3 endpoint, region and
    /// credentials from the AWS_* environment variables). Default: `[cache] url` of
    /// .minorfirst/settings.toml, else none.
    #[arg(long = "cache", value_name = "URL")]
    pub url: Option<String>,
    /// Upload what this run executes to the remote cache (default: `[cache] push`, else off).
    #[arg(long = "cache-push", value_name = "on|off", value_parser = on_off)]
    pub push: Option<bool>,
}

fn on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("expected `on` or `off`, got `{other}`")),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default)]
    cache: CacheSettings,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheSettings {
    url: Option<String>,
    push: Option<bool>,
}

fn settings_path(pipeline_file: &Path) -> PathBuf {
    pipeline_file
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(SETTINGS)
}

fn load_settings(pipeline_file: &Path) -> Result<CacheSettings, CliError> {
    let path = settings_path(pipeline_file);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(CacheSettings::default());
        }
        Err(error) => {
            return Err(CliError::bad_input(format!(
                "cannot read {}: {error}",
                path.display()
            )));
        }
    };
    let settings: Settings = toml::from_str(&text).map_err(|error| {
        CliError::bad_input(format!(
            "{}: {} (expected a [cache] table with `url = \"…\"` and `push = true|false`)",
            path.display(),
            error.to_string().trim_end()
        ))
    })?;
    Ok(settings.cache)
}

fn open(url: &str) -> Result<Arc<ObjectStoreCache>, CliError> {
    ObjectStoreCache::open(url)
        .map(Arc::new)
        .map_err(|error| CliError::bad_input(error.to_string()))
}

/// The cache options of a `run`: flags over the settings file; `None` without a URL.
pub fn run_options(
    args: &CacheArgs,
    pipeline_file: &Path,
) -> Result<Option<CacheOptions>, CliError> {
    let settings = load_settings(pipeline_file)?;
    let Some(url) = args.url.clone().or(settings.url) else {
        if args.push == Some(true) {
            return Err(CliError::bad_input(
                "--cache-push on needs a remote: --cache URL or `[cache] url` in .minorfirst/settings.toml",
            ));
        }
        return Ok(None);
    };
    Ok(Some(CacheOptions {
        remote: open(&url)?,
        push: args.push.or(settings.push).unwrap_or(false),
    }))
}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Stages to transfer (with their dependencies); default: every stage.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// The remote cache (default: `[cache] url` of .minorfirst/settings.toml).
    #[arg(long = "cache", value_name = "URL")]
    pub url: Option<String>,
}

/// The remote of `pull`/`push`: `--cache`, else the settings file (bad input without either).
pub fn sync_remote(args: &SyncArgs, verb: &str) -> Result<Arc<ObjectStoreCache>, CliError> {
    let url = match &args.url {
        Some(url) => url.clone(),
        None => load_settings(&args.plan.pipeline)?.url.ok_or_else(|| {
            CliError::bad_input(format!(
                "{verb} needs a remote: --cache URL or `[cache] url` in {}",
                settings_path(&args.plan.pipeline).display()
            ))
        })?,
    };
    open(&url)
}
