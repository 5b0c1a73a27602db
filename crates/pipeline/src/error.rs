//! The one error type of the engine.

use std::path::PathBuf;

/// Everything that can go wrong in the engine. Configuration errors (`Config`, `Set`, `Kind`) are the
/// caller's bad input; the rest are IO or store problems.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A problem in `pipeline.toml` (or a profile), located as precisely as the source allows.
    #[error("{}", config_message(file, *line, stage.as_deref(), key.as_deref(), reason))]
    Config {
        file: PathBuf,
        line: Option<usize>,
        stage: Option<String>,
        key: Option<String>,
        reason: String,
    },
    /// A malformed or invalid `--set stage.key=value` argument.
    #[error("invalid --set `{arg}`: {reason}")]
    Set { arg: String, reason: String },
    /// An unknown target or `--force` stage, or another bad command-line choice.
    #[error("{reason}")]
    Usage { reason: String },
    /// A task's external input (a data file outside the store) failed its kind's preflight check.
    #[error("stage `{stage}`: {reason}")]
    Input { stage: String, reason: String },
    /// Reading or writing a file failed.
    #[error("failed to access {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A stored object is missing or does not match its manifest.
    #[error("object {key} does not verify: {reason}")]
    Corrupt { key: String, reason: String },
}

impl Error {
    /// Whether the error is bad input from the user (exit code 2) rather than an unexpected failure.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Error::Config { .. } | Error::Set { .. } | Error::Usage { .. } | Error::Input { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

fn config_message(
    file: &std::path::Path,
    line: Option<usize>,
    stage: Option<&str>,
    key: Option<&str>,
    reason: &str,
) -> String {
    let mut message = file.display().to_string();
    if let Some(line) = line {
        message.push_str(&format!(":{line}"));
    }
    message.push_str(": ");
    if let Some(stage) = stage {
        message.push_str(&format!("stage `{stage}`"));
        if let Some(key) = key {
            message.push_str(&format!(", key `{key}`"));
        }
        message.push_str(": ");
    } else if let Some(key) = key {
        message.push_str(&format!("key `{key}`: "));
    }
    message.push_str(reason);
    message
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
