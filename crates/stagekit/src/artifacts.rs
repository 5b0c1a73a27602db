//! Conventions for the files stage tasks exchange: JSON helpers and the figure index that the
//! report stage reads (`figures.json`: which figures a task published, for which section).

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::AnalysisError;

/// File name of a task's figure index inside its object.
pub const FIGURES_FILE: &str = "figures.json";

/// One published figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FigureRecord {
    /// Anchor id, also the file stem: `reports/figures/<id>.svg` and `.png`.
    pub id: String,
    /// Report section id.
    pub section: String,
    pub caption: String,
}

impl FigureRecord {
    /// Path of the SVG relative to the reports directory.
    pub fn svg(&self) -> String {
        format!("figures/{}.svg", self.id)
    }
    /// Path of the PNG relative to the reports directory.
    pub fn png(&self) -> String {
        format!("figures/{}.png", self.id)
    }
}

/// The stem (path without extension) a figure with this id must be rendered to inside a task's
/// output so that the engine publishes it as `reports/figures/<id>.{svg,png}`.
pub fn figure_stem(out_dir: &Path, id: &str) -> Result<PathBuf, AnalysisError> {
    let dir = out_dir.join("publish").join("figures");
    std::fs::create_dir_all(&dir).map_err(|source| AnalysisError::io(&dir, source))?;
    Ok(dir.join(id))
}

/// Write a task's figure index.
pub fn write_figures(out_dir: &Path, figures: &[FigureRecord]) -> Result<(), AnalysisError> {
    write_json(&out_dir.join(FIGURES_FILE), &figures)
}

/// Pretty JSON with a trailing newline (stable bytes for the same value).
pub fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<(), AnalysisError> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    std::fs::write(path, text).map_err(|source| AnalysisError::io(path, source))
}

pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, AnalysisError> {
    let text = std::fs::read_to_string(path).map_err(|source| AnalysisError::io(path, source))?;
    Ok(serde_json::from_str(&text)?)
}

/// File name of a task's key-number tables inside its object.
pub const KEY_TABLES_FILE: &str = "keytables.json";

/// A small table of key numbers shown in a report section (strings, already formatted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyTableRecord {
    /// Report section id.
    pub section: String,
    pub caption: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Write a task's key-number tables.
pub fn write_key_tables(out_dir: &Path, tables: &[KeyTableRecord]) -> Result<(), AnalysisError> {
    write_json(&out_dir.join(KEY_TABLES_FILE), &tables)
}
