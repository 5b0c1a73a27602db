//! Helpers shared by the MNIST report kinds: optimizer display order, loading the training runs,
//! 28×28 grid images and rendering a figure together with its index record.

use std::path::Path;

use figures::{FigureError, GridImage};
use pipeline::stage::{InputArtifact, TaskContext};

use crate::artifacts::{FigureRecord, figure_stem};
use crate::error::AnalysisError;
use crate::mnist::common::SECTION;

/// Pixels of one MNIST image (28 × 28), the stride of the stored Grad-CAM maps, images and β rows.
pub const PIXELS: usize = 784;
/// Side of an MNIST image.
const SIDE: usize = 28;

/// Display order, label and colour index of the optimizers.
pub const OPTIMIZERS: [(&str, &str, usize); 3] = [
    ("gd", "GD", 0),
    ("sam-l2", "ℓ2-SAM", 1),
    ("sam-linf", "ℓ∞-SAM", 2),
];

/// Every input of kind `train_kind`, loaded with `load`, in plan order; an error naming both kinds
/// when there is none (a report of no runs is a wiring mistake in the pipeline).
pub fn load_training_runs<Run>(
    ctx: &TaskContext<'_>,
    report_kind: &str,
    train_kind: &str,
    load: impl Fn(&InputArtifact) -> Result<Run, AnalysisError>,
) -> Result<Vec<Run>, AnalysisError> {
    let runs: Vec<Run> = ctx
        .inputs
        .iter()
        .filter(|input| input.kind == train_kind)
        .map(load)
        .collect::<Result<_, _>>()?;
    if runs.is_empty() {
        return Err(AnalysisError::invalid(format!(
            "{report_kind} needs {train_kind} inputs"
        )));
    }
    Ok(runs)
}

/// Stored f32 values as the f64 the figures take.
pub fn widen(values: &[f32]) -> Vec<f64> {
    values.iter().map(|&v| f64::from(v)).collect()
}

/// One 28×28 cell of an image grid, optionally drawn over a grayscale `underlay` of the same size.
pub fn pixel_image(values: Vec<f64>, underlay: Option<Vec<f64>>) -> GridImage {
    GridImage {
        width: SIDE,
        height: SIDE,
        values,
        underlay,
    }
}

/// Renders figure `id` of the MNIST section with `render` (given the file stem under `out`) and
/// returns its record for the task's figure index.
pub fn render_figure<Rendered>(
    out: &Path,
    id: &str,
    caption: impl Into<String>,
    render: impl FnOnce(&Path) -> Result<Rendered, FigureError>,
) -> Result<FigureRecord, AnalysisError> {
    render(&figure_stem(out, id)?).map_err(figure_error)?;
    Ok(FigureRecord {
        id: id.into(),
        section: SECTION.into(),
        caption: caption.into(),
    })
}

/// Convert a figures error into the crate error (a figure is part of the task's result).
pub fn figure_error(error: figures::FigureError) -> AnalysisError {
    AnalysisError::invalid(format!("failed to render a figure: {error}"))
}
