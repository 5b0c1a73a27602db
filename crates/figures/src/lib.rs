//! Figures for the "Minor First, Major Last" reproduction: plotters renderers that turn plain
//! data (series of points, matrices, labels) into an SVG and a PNG each.
//!
//! The crate computes no science. Every figure type is a plain struct; a `render_*` function
//! writes `stem.svg` and `stem.png` atomically (temp file + rename) and returns a [`Rendered`].
//! Output is deterministic: the same input gives byte-identical SVG. The SVG is compacted for
//! inlining ([`compact_svg`]): polylines decimated to within half a pixel, same-colour cells of a
//! row merged, repeated styles shared through classes scoped to the figure. Text uses the embedded
//! DejaVu Sans (registered with plotters' `ab_glyph` font table), so no system fonts are needed.
//!
//! Conventions shared by all figure types:
//! - colours come from a fixed Okabe–Ito palette indexed by `color_index` ([`palette`]);
//! - non-finite values are dropped (never a panic); on a [`Scale::Log10`] axis values ≤ 0 are
//!   dropped too; a figure with nothing drawable at all is a [`FigureError::NoData`] error;
//! - log axes are ticked at powers of ten (labelled 10⁻³, 10⁰, …).
//!
//! Figure types and their renderers:
//! - [`LineChart`] ([`render_line_chart`]): named [`Series`] (solid or dashed, optional markers),
//!   shaded [`Band`]s, labelled vertical/horizontal [`RefLine`]s, linear or log axes, fixed ranges;
//! - [`PanelGrid`] ([`render_panel_grid`]): rows × cols line charts with optional shared axes;
//! - [`Trajectories`] ([`render_trajectories`]): paths in a plane with start ring and end arrow,
//!   reference [`Ray`]s, optional equal aspect;
//! - [`Heatmap`] ([`render_heatmap`]): categorical classes with a class legend or continuous values
//!   with a (log) colorbar, overlaid curves, reference lines and [`MarkerSet`]s;
//! - [`ImageGrid`] ([`render_image_grid`]): small images (optionally blended over a grayscale
//!   underlay) with row and column labels and an optional colorbar.
//!
//! Legends default to [`LegendPosition::Auto`]: the emptiest inside corner, or a column outside
//! on the right when every corner holds data. The `gallery` example renders one of each.
//!
//! ```no_run
//! use figures::{LineChart, Scale, Series, RefLine, render_line_chart};
//! let chart = LineChart {
//!     title: "β_j / ‖β‖ vs rescaled time".into(),
//!     x_label: "τ (rescaled time)".into(),
//!     y_label: "β_j / ‖β‖".into(),
//!     x_scale: Scale::Log10,
//!     series: vec![
//!         Series::new("j = 0", vec![(0.1, 0.2), (1.0, 0.9), (10.0, 0.1)], 0),
//!         Series::new("j = 0 (C-ODE)", vec![(0.1, 0.21), (10.0, 0.1)], 0).dashed(),
//!     ],
//!     vlines: vec![RefLine::new(1.0, "τ₁ predicted")],
//!     ..LineChart::default()
//! };
//! let rendered = render_line_chart(&chart, std::path::Path::new("out/fig1"))?;
//! assert!(rendered.png.ends_with("fig1.png"));
//! # Ok::<(), figures::FigureError>(())
//! ```

mod axis;
mod compact;
mod error;
mod frame;
mod heatmap;
mod image_grid;
mod line;
mod render;
mod style;
#[cfg(test)]
mod tests;
mod trajectory;

pub use axis::Scale;
pub use compact::{MAX_DEVIATION_PX, compact_svg, decimate};
pub use error::FigureError;
pub use frame::{LegendPosition, MarkerKind};
pub use heatmap::{Class, Heatmap, HeatmapCells, MarkerSet, render_heatmap};
pub use image_grid::{GridImage, ImageGrid, render_image_grid};
pub use line::{
    Band, LineChart, LineStyle, PanelGrid, RefLine, Series, render_line_chart, render_panel_grid,
};
pub use render::Rendered;
pub use style::{Colormap, FONT_FAMILY, PALETTE, palette};
pub use trajectory::{Ray, Trajectories, TrajectoryPath, render_trajectories};
