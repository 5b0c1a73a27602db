//! Helpers shared by the §3 aggregators: display names and colours of optimizers, figure publishing,
//! and the small statistics the claims use.

use std::path::Path;

use figures::{LineChart, PanelGrid, Trajectories, render_line_chart, render_panel_grid};
use pipeline::stage::{ParamSpec, ParamType};

use crate::artifacts::{FigureRecord, figure_stem};
use crate::error::AnalysisError;

/// Legend name of an optimizer.
pub fn optimizer_name(optimizer: &str) -> &'static str {
    match optimizer {
        "gd" => "GD",
        "sam-linf" => "ℓ∞-SAM",
        "sam-l2" => "ℓ2-SAM",
        _ => "?",
    }
}

/// Palette slot of an optimizer, the same in every §3 figure: GD black, ℓ∞-SAM vermillion, ℓ2-SAM blue.
pub fn optimizer_color(optimizer: &str) -> usize {
    match optimizer {
        "gd" => 6,
        "sam-linf" => 1,
        "sam-l2" => 0,
        _ => 3,
    }
}

/// A `figure` parameter: the published figure id.
pub fn figure_spec(name: &'static str, default: &'static str) -> ParamSpec {
    ParamSpec::new(
        name,
        ParamType::Str { choices: None },
        "figure id (file stem under reports/figures/)",
    )
    .with_default(default)
}

fn figure_error(error: figures::FigureError) -> AnalysisError {
    AnalysisError::invalid(format!("failed to render a figure: {error}"))
}

/// Render a line chart as figure `id` and return its index record.
pub fn publish_chart(
    out_dir: &Path,
    id: &str,
    section: &str,
    caption: &str,
    chart: &LineChart,
) -> Result<FigureRecord, AnalysisError> {
    render_line_chart(chart, &figure_stem(out_dir, id)?).map_err(figure_error)?;
    Ok(record(id, section, caption))
}

/// Render a panel grid as figure `id`.
pub fn publish_grid(
    out_dir: &Path,
    id: &str,
    section: &str,
    caption: &str,
    grid: &PanelGrid,
) -> Result<FigureRecord, AnalysisError> {
    render_panel_grid(grid, &figure_stem(out_dir, id)?).map_err(figure_error)?;
    Ok(record(id, section, caption))
}

/// Render a β-plane figure as figure `id`.
pub fn publish_plane(
    out_dir: &Path,
    id: &str,
    section: &str,
    caption: &str,
    figure: &Trajectories,
) -> Result<FigureRecord, AnalysisError> {
    figures::render_trajectories(figure, &figure_stem(out_dir, id)?).map_err(figure_error)?;
    Ok(record(id, section, caption))
}

fn record(id: &str, section: &str, caption: &str) -> FigureRecord {
    FigureRecord {
        id: id.into(),
        section: section.into(),
        caption: caption.into(),
    }
}

/// Least-squares slope of y on x.
pub fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let cov: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let var: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    cov / var
}

/// A short display of a vector, e.g. `(0.15, 0.05)`.
pub fn show(values: &[f64]) -> String {
    let parts: Vec<String> = values.iter().map(|v| format!("{v}")).collect();
    format!("({})", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_recovers_a_line() {
        // y = 1 − 2x exactly: least squares returns the slope to rounding.
        let points: Vec<(f64, f64)> = (0..5)
            .map(|i| (f64::from(i), 1.0 - 2.0 * f64::from(i)))
            .collect();
        assert!((slope(&points) + 2.0).abs() < 1e-12);
    }
}
