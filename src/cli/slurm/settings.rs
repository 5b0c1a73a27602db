//! The machine-settings file (`minorfirst.toml` beside `pipeline.toml`, optional): how this machine
//! runs tasks, kept apart from the parameter profiles so that it never changes a key. This module
//! reads `[executor]` and `[executor.slurm]` only; other sections (e.g. `[cache]`) belong to other
//! readers and are left alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::exit::CliError;

/// The settings file's name, looked up in the directory of the pipeline file.
pub const FILE: &str = "minorfirst.toml";

/// Where tasks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutorChoice {
    /// In this process, on a rayon pool (the default).
    Local,
    /// As Slurm job arrays on a filesystem shared with the compute nodes.
    Slurm,
}

/// `[executor]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecutorSection {
    /// The executor when `run` is not given `--executor`.
    default: Option<ExecutorChoice>,
    slurm: Option<SlurmSettings>,
}

/// Resources of one stage's jobs; unset fields fall back to the `[executor.slurm]` defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSettings {
    pub cpus: Option<u32>,
    pub mem: Option<String>,
    pub time: Option<String>,
    /// Run this stage's tasks on the coordinator instead of submitting them.
    pub local: Option<bool>,
}

/// `[executor.slurm]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlurmSettings {
    pub partition: Option<String>,
    pub account: Option<String>,
    /// CPUs per task (also the worker's rayon threads).
    pub cpus: u32,
    /// Memory per task, as sbatch's `--mem` takes it (`2G`); unset = the partition's default.
    pub mem: Option<String>,
    /// Time limit per task, as sbatch's `--time` takes it (`1:00:00`); unset = the partition's.
    pub time: Option<String>,
    /// At most this many tasks of one array run at once (`--array=0-N%M`).
    pub max_concurrent: u32,
    /// Further sbatch flags, verbatim (`["--qos=short", "--constraint=avx2"]`).
    pub extra_sbatch: Vec<String>,
    /// Seconds between two `squeue` polls (≥ 0.2).
    pub poll_interval_s: f64,
    /// Kinds whose tasks run on the coordinator (short ones: ledgers, the page).
    pub local_kinds: Vec<String>,
    /// Per-stage resources, `[executor.slurm.stage.NAME]`.
    pub stage: BTreeMap<String, StageSettings>,
}

impl Default for SlurmSettings {
    fn default() -> Self {
        Self {
            partition: None,
            account: None,
            cpus: 1,
            mem: None,
            time: None,
            max_concurrent: 64,
            extra_sbatch: Vec::new(),
            poll_interval_s: 1.0,
            local_kinds: vec!["claims.ledger".into(), "report.html".into()],
            stage: BTreeMap::new(),
        }
    }
}

impl SlurmSettings {
    /// Whether a task of `stage` (of `kind`) runs on the coordinator.
    pub fn is_local(&self, stage: &str, kind: &str) -> bool {
        self.stage
            .get(stage)
            .and_then(|settings| settings.local)
            .unwrap_or_else(|| self.local_kinds.iter().any(|local| local == kind))
    }

    /// (cpus, mem, time) for `stage`.
    pub fn resources(&self, stage: &str) -> (u32, Option<String>, Option<String>) {
        let own = self.stage.get(stage).cloned().unwrap_or_default();
        (
            own.cpus.unwrap_or(self.cpus),
            own.mem.or_else(|| self.mem.clone()),
            own.time.or_else(|| self.time.clone()),
        )
    }
}

/// The parsed settings file (defaults when it does not exist).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub path: PathBuf,
    pub default: Option<ExecutorChoice>,
    pub slurm: SlurmSettings,
}

/// Read the settings beside `pipeline` (bad file → exit 2 naming the file and key).
pub fn load(pipeline: &Path) -> Result<Settings, CliError> {
    let dir = pipeline
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let path = dir.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Settings {
                path,
                ..Settings::default()
            });
        }
        Err(error) => {
            return Err(CliError::bad_input(format!(
                "cannot read {}: {error}",
                path.display()
            )));
        }
    };
    parse(&path, &text)
}

fn parse(path: &Path, text: &str) -> Result<Settings, CliError> {
    let bad = |what: String| CliError::bad_input(format!("{}: {what}", path.display()));
    let table: toml::Table = toml::from_str(text).map_err(|error| bad(error.to_string()))?;
    let section: ExecutorSection = match table.get("executor") {
        None => ExecutorSection::default(),
        Some(value) => value
            .clone()
            .try_into()
            .map_err(|error: toml::de::Error| bad(format!("[executor]: {error}")))?,
    };
    let slurm = section.slurm.unwrap_or_default();
    if slurm.cpus == 0 || slurm.max_concurrent == 0 {
        return Err(bad(
            "[executor.slurm]: `cpus` and `max_concurrent` must be at least 1".into(),
        ));
    }
    if slurm.poll_interval_s.is_nan() || slurm.poll_interval_s < 0.2 {
        return Err(bad(format!(
            "[executor.slurm]: `poll_interval_s` must be at least 0.2 (seconds), got {}",
            slurm.poll_interval_s
        )));
    }
    if let Some((name, _)) = slurm.stage.iter().find(|(_, own)| own.cpus == Some(0)) {
        return Err(bad(format!(
            "[executor.slurm.stage.{name}]: `cpus` must be at least 1"
        )));
    }
    Ok(Settings {
        path: path.to_path_buf(),
        default: section.default,
        slurm,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_sections_and_leaves_other_sections_alone() {
        let settings = parse(
            Path::new("minorfirst.toml"),
            "[cache]\nurl = \"s3://x\"\n\n[executor]\ndefault = \"slurm\"\n\n[executor.slurm]\n\
             partition = \"debug\"\ncpus = 2\nmax_concurrent = 4\n\n[executor.slurm.stage.big]\n\
             mem = \"8G\"\nlocal = false\n",
        )
        .unwrap();
        assert_eq!(settings.default, Some(ExecutorChoice::Slurm));
        assert_eq!(settings.slurm.partition.as_deref(), Some("debug"));
        assert_eq!(
            settings.slurm.resources("big"),
            (2, Some("8G".into()), None)
        );
        assert!(settings.slurm.is_local("ledger", "claims.ledger"));
        assert!(!settings.slurm.is_local("big", "claims.ledger"));
    }

    #[test]
    fn an_unknown_key_is_named() {
        let error = parse(
            Path::new("minorfirst.toml"),
            "[executor.slurm]\npartiton = \"debug\"\n",
        )
        .unwrap_err();
        assert!(
            error.message.contains("minorfirst.toml"),
            "{}",
            error.message
        );
        assert!(error.message.contains("partiton"), "{}", error.message);
    }
}
