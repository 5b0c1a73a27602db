//! The crate's error type: what can go wrong inside a stage task.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("table operation failed: {0}")]
    Polars(#[from] polars::prelude::PolarsError),
    #[error("io error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("json error: {0}")]
    Json(#[from] serde_json::Error),
    #[error("numerics: {0}")]
    Numerics(#[from] numerics::NumericsError),
    #[error("{0}")]
    Invalid(String),
}

impl AnalysisError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }
}
