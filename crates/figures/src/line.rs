//! Line charts (with bands and reference lines) and grids of them.

use std::path::Path;

use plotters::coord::Shift;
use plotters::element::{Circle, EmptyElement, PathElement, Polygon, Rectangle};
use plotters::prelude::{DashedLineSeries, DrawingArea, DrawingBackend, LineSeries};
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::{Color, ShapeStyle, TRANSPARENT};

use crate::axis::{Axis, Scale, extent, fixed_range, make_axis, padded, union};
use crate::error::{FigureError, draw_err};
use crate::frame::{
    LegendEntry, LegendIcon, LegendPosition, MARGIN, boxed_label, choose_corner, densify,
    draw_legend, draw_legend_rows, frame, plot_pixels, split_for_legend,
};
use crate::render::{Draw, Rendered, render};
use crate::style::{LEGEND_SIZE, PANEL_TITLE_SIZE, REF_GRAY, TITLE_SIZE, lighten, palette, text};

/// An optional (lo, hi) range in transformed axis space.
type Extent = Option<(f64, f64)>;

/// How one series is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct LineStyle {
    /// Palette slot ([`crate::palette`]); equal indices give equal colours across figures.
    pub color_index: usize,
    /// Dashed line, e.g. for predicted / closed-form overlays.
    pub dashed: bool,
    /// Draw a dot at every point.
    pub markers: bool,
    /// Line width in pixels; 0 draws markers only.
    pub width: u32,
}

impl Default for LineStyle {
    fn default() -> Self {
        Self {
            color_index: 0,
            dashed: false,
            markers: false,
            width: 3,
        }
    }
}

/// A named (x, y) series. Non-finite points (and points ≤ 0 on a log axis) are dropped and
/// break the line there.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Legend text; an empty name gives no legend entry.
    pub name: String,
    /// Data points in data units.
    pub points: Vec<(f64, f64)>,
    /// Appearance.
    pub style: LineStyle,
}

impl Series {
    /// A solid series in palette colour `color_index`.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>, color_index: usize) -> Self {
        Self {
            name: name.into(),
            points,
            style: LineStyle {
                color_index,
                ..LineStyle::default()
            },
        }
    }

    /// The same series drawn dashed (and slightly thinner), for predictions and closed forms.
    pub fn dashed(mut self) -> Self {
        self.style.dashed = true;
        self.style.width = 2;
        self
    }

    /// The same series with a marker at every point.
    pub fn with_markers(mut self) -> Self {
        self.style.markers = true;
        self
    }
}

/// A shaded band between `lo` and `hi` over `x` (e.g. mean ± spread across seeds).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Band {
    /// Legend text; empty gives no legend entry.
    pub name: String,
    /// Abscissae.
    pub x: Vec<f64>,
    /// Lower edge, same length as `x`.
    pub lo: Vec<f64>,
    /// Upper edge, same length as `x`.
    pub hi: Vec<f64>,
    /// Palette slot; use the slot of the mean line drawn over it.
    pub color_index: usize,
}

/// A labelled vertical or horizontal reference line (dashed).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RefLine {
    /// Position in data units.
    pub at: f64,
    /// Text drawn next to the line; may be empty.
    pub label: String,
    /// Palette slot, or `None` for neutral gray.
    pub color_index: Option<usize>,
}

impl RefLine {
    /// A gray reference line.
    pub fn new(at: f64, label: impl Into<String>) -> Self {
        Self {
            at,
            label: label.into(),
            color_index: None,
        }
    }
}

/// A single line chart.
///
/// Empty input policy: series or bands with no drawable point are skipped, but a chart with no
/// drawable point at all is an error ([`FigureError::NoData`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// Title above the plot (empty for none).
    pub title: String,
    /// x axis description, with units.
    pub x_label: String,
    /// y axis description, with units.
    pub y_label: String,
    /// x axis scale.
    pub x_scale: Scale,
    /// y axis scale.
    pub y_scale: Scale,
    /// Lines, drawn in order over the bands.
    pub series: Vec<Series>,
    /// Shaded bands, drawn first.
    pub bands: Vec<Band>,
    /// Vertical reference lines (e.g. predicted switch times), labelled at the top.
    pub vlines: Vec<RefLine>,
    /// Horizontal reference lines (e.g. ĉ thresholds), labelled at the right end.
    pub hlines: Vec<RefLine>,
    /// Fixed x range in data units; `None` fits the data.
    pub x_range: Option<(f64, f64)>,
    /// Fixed y range in data units; `None` fits the data.
    pub y_range: Option<(f64, f64)>,
    /// Legend placement.
    pub legend: LegendPosition,
    /// Canvas size in pixels (ignored inside a [`PanelGrid`]).
    pub size: (u32, u32),
}

impl Default for LineChart {
    fn default() -> Self {
        Self {
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
            series: Vec::new(),
            bands: Vec::new(),
            vlines: Vec::new(),
            hlines: Vec::new(),
            x_range: None,
            y_range: None,
            legend: LegendPosition::Auto,
            size: (1200, 800),
        }
    }
}

/// Splits points into maximal runs that are drawable on the given scales, in transformed space.
fn runs(points: &[(f64, f64)], x_scale: Scale, y_scale: Scale) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current = Vec::new();
    for &(x, y) in points {
        match (x_scale.forward(x), y_scale.forward(y)) {
            (Some(x), Some(y)) => current.push((x, y)),
            _ => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Band vertices (x, lo, hi) in transformed space, dropping undrawable samples.
fn band_points(band: &Band, x_scale: Scale, y_scale: Scale) -> Vec<(f64, f64, f64)> {
    band.x
        .iter()
        .zip(&band.lo)
        .zip(&band.hi)
        .filter_map(|((&x, &lo), &hi)| {
            Some((
                x_scale.forward(x)?,
                y_scale.forward(lo)?,
                y_scale.forward(hi)?,
            ))
        })
        .collect()
}

impl LineChart {
    fn validate_inputs(&self) -> Result<(), FigureError> {
        for band in &self.bands {
            for (what, len) in [("lo", band.lo.len()), ("hi", band.hi.len())] {
                if len != band.x.len() {
                    return Err(FigureError::Dimension {
                        what: format!("band {:?} {what}", band.name),
                        expected: band.x.len(),
                        got: len,
                    });
                }
            }
        }
        if let Some(range) = self.x_range {
            fixed_range("x axis", self.x_scale, range)?;
        }
        if let Some(range) = self.y_range {
            fixed_range("y axis", self.y_scale, range)?;
        }
        let (x, y) = self.data_extents();
        if x.is_none() || y.is_none() {
            return Err(FigureError::NoData {
                figure: self.title.clone(),
            });
        }
        Ok(())
    }

    /// Extents of the drawable data in transformed space (reference lines included, so that
    /// predicted markers are never cut off).
    fn data_extents(&self) -> (Extent, Extent) {
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for series in &self.series {
            for run in runs(&series.points, self.x_scale, self.y_scale) {
                xs.extend(run.iter().map(|p| p.0));
                ys.extend(run.iter().map(|p| p.1));
            }
        }
        for band in &self.bands {
            for (x, lo, hi) in band_points(band, self.x_scale, self.y_scale) {
                xs.push(x);
                ys.push(lo);
                ys.push(hi);
            }
        }
        let data_x = extent(xs);
        let data_y = extent(ys);
        if data_x.is_none() || data_y.is_none() {
            return (None, None);
        }
        let vx = extent(
            self.vlines
                .iter()
                .filter_map(|l| self.x_scale.forward(l.at)),
        );
        let hy = extent(
            self.hlines
                .iter()
                .filter_map(|l| self.y_scale.forward(l.at)),
        );
        (union(data_x, vx), union(data_y, hy))
    }

    /// The final extents before padding: a fixed range wins over the data.
    fn extents(&self) -> (Extent, Extent) {
        let (x, y) = self.data_extents();
        let fixed = |range: Option<(f64, f64)>, scale: Scale| {
            range.and_then(|r| fixed_range("axis", scale, r).ok())
        };
        (
            fixed(self.x_range, self.x_scale).or(x),
            fixed(self.y_range, self.y_scale).or(y),
        )
    }

    fn axes(
        &self,
        x_extent: Option<(f64, f64)>,
        y_extent: Option<(f64, f64)>,
        plot: (f64, f64),
    ) -> (Axis, Axis) {
        let x_fixed = self.x_range.is_some();
        let y_fixed = self.y_range.is_some();
        let (xlo, xhi) = if x_fixed {
            x_extent.unwrap_or((0.0, 1.0))
        } else {
            padded(x_extent, 0.02)
        };
        let (ylo, yhi) = if y_fixed {
            y_extent.unwrap_or((0.0, 1.0))
        } else {
            padded(y_extent, 0.05)
        };
        // Roughly one tick per 120 px horizontally and 80 px vertically keeps labels apart.
        // Decade labels are short, so log axes can afford denser ticks.
        let per_tick = |scale: Scale, linear: f64| match scale {
            Scale::Linear => linear,
            Scale::Log10 => 45.0,
        };
        let x_ticks = ((plot.0 / per_tick(self.x_scale, 120.0)) as usize).clamp(2, 10);
        let y_ticks = ((plot.1 / per_tick(self.y_scale, 80.0)) as usize).clamp(2, 10);
        (
            make_axis(self.x_scale, xlo, xhi, x_ticks),
            make_axis(self.y_scale, ylo, yhi, y_ticks),
        )
    }

    /// Draws this chart into `area`, optionally with externally fixed (shared) extents.
    pub(crate) fn draw_into<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        shared: (Extent, Extent),
        title_size: f64,
    ) -> Result<(), FigureError> {
        let area = if self.title.is_empty() {
            area.clone()
        } else {
            area.titled(&self.title, text(title_size))
                .map_err(draw_err)?
        };
        let (own_x, own_y) = self.extents();
        let extents = (shared.0.or(own_x), shared.1.or(own_y));
        let (x, y) = self.axes(extents.0, extents.1, plot_pixels(area.dim_in_pixel()));
        let occupied = self.occupied_points();
        let corner = choose_corner(self.legend, &x, &y, &occupied);
        let entries = self.legend_entries();
        let outside =
            corner.is_none() && matches!(self.legend, LegendPosition::Auto | LegendPosition::Right);
        let (area, legend_area) = split_for_legend(&area, &entries, outside);
        let (x, y) = self.axes(extents.0, extents.1, plot_pixels(area.dim_in_pixel()));
        let mut chart = frame(&area, &x, &y, &self.x_label, &self.y_label, true)?;
        let clip_y = |v: f64| v.clamp(y.lo, y.hi);
        let inside_labels = corner.is_some();

        for band in &self.bands {
            let vertices = band_points(band, self.x_scale, self.y_scale);
            if vertices.len() < 2 {
                continue;
            }
            let color = palette(band.color_index);
            let mut outline: Vec<(f64, f64)> =
                vertices.iter().map(|&(x, _, hi)| (x, clip_y(hi))).collect();
            outline.extend(vertices.iter().rev().map(|&(x, lo, _)| (x, clip_y(lo))));
            let fill = color.mix(0.22).filled();
            let drawn = chart
                .draw_series(std::iter::once(Polygon::new(outline, fill)))
                .map_err(draw_err)?;
            if inside_labels && !band.name.is_empty() {
                drawn.label(band.name.clone()).legend(move |(lx, ly)| {
                    Rectangle::new([(lx, ly - 6), (lx + 22, ly + 6)], fill)
                });
            }
        }

        for series in &self.series {
            let color = palette(series.style.color_index);
            let line_style = ShapeStyle::from(color).stroke_width(series.style.width.max(1));
            let segments = runs(&series.points, self.x_scale, self.y_scale);
            let mut labelled = series.name.is_empty() || !inside_labels;
            for segment in segments {
                let wants_label = !labelled;
                labelled = true;
                let style = series.style.clone();
                let icon = move |(lx, ly): (i32, i32)| {
                    let gap = if style.dashed { 6 } else { 0 };
                    let stroke = if style.width == 0 {
                        invisible()
                    } else {
                        ShapeStyle::from(color).stroke_width(style.width)
                    };
                    let dot = if style.markers {
                        color.filled()
                    } else {
                        invisible()
                    };
                    EmptyElement::at((lx, ly))
                        + PathElement::new(vec![(0, 0), (11 - gap / 2, 0)], stroke)
                        + PathElement::new(vec![(11 + gap / 2, 0), (24, 0)], stroke)
                        + Circle::new((12, 0), 4, dot)
                };
                if series.style.width > 0 {
                    let drawn = if series.style.dashed {
                        chart.draw_series(DashedLineSeries::new(segment.clone(), 12, 7, line_style))
                    } else {
                        chart.draw_series(LineSeries::new(segment.clone(), line_style))
                    }
                    .map_err(draw_err)?;
                    if wants_label {
                        drawn.label(series.name.clone()).legend(icon);
                    }
                }
                if series.style.markers {
                    let drawn = chart
                        .draw_series(segment.iter().map(|&p| Circle::new(p, 4, color.filled())))
                        .map_err(draw_err)?;
                    if wants_label && series.style.width == 0 {
                        drawn.label(series.name.clone()).legend(icon);
                    }
                }
            }
        }

        for line in &self.hlines {
            let Some(at) = self.y_scale.forward(line.at) else {
                continue;
            };
            if at < y.lo || at > y.hi {
                continue;
            }
            let color = line.color_index.map_or(REF_GRAY, palette);
            let style = ShapeStyle::from(color).stroke_width(2);
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(x.lo, at), (x.hi, at)],
                    8,
                    6,
                    style,
                ))
                .map_err(draw_err)?;
            if !line.label.is_empty() {
                boxed_label(
                    chart.plotting_area(),
                    (x.hi, at),
                    (-8, -5),
                    &line.label,
                    text(LEGEND_SIZE).color(&color),
                    HPos::Right,
                    VPos::Bottom,
                )?;
            }
        }

        for (index, line) in self.vlines.iter().enumerate() {
            let Some(at) = self.x_scale.forward(line.at) else {
                continue;
            };
            if at < x.lo || at > x.hi {
                continue;
            }
            let color = line.color_index.map_or(REF_GRAY, palette);
            let style = ShapeStyle::from(color).stroke_width(2);
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(at, y.lo), (at, y.hi)],
                    8,
                    6,
                    style,
                ))
                .map_err(draw_err)?;
            if !line.label.is_empty() {
                // Staggering consecutive labels over three rows keeps close markers readable.
                let row = (index % 3) as i32;
                let near_right = (at - x.lo) / (x.hi - x.lo) > 0.85;
                let (dx, anchor) = if near_right {
                    (-5, HPos::Right)
                } else {
                    (5, HPos::Left)
                };
                boxed_label(
                    chart.plotting_area(),
                    (at, y.hi),
                    (dx, 5 + 22 * row),
                    &line.label,
                    text(LEGEND_SIZE).color(&color),
                    anchor,
                    VPos::Top,
                )?;
            }
        }

        draw_legend(&mut chart, corner)?;
        if let Some(legend_area) = legend_area {
            draw_legend_rows(&legend_area, &entries, (10, MARGIN as i32 + 4))?;
        }
        Ok(())
    }

    /// Points (transformed space) the legend should avoid covering.
    fn occupied_points(&self) -> Vec<(f64, f64)> {
        let mut occupied = Vec::new();
        for band in &self.bands {
            for (x, lo, hi) in band_points(band, self.x_scale, self.y_scale) {
                occupied.push((x, lo));
                occupied.push((x, hi));
            }
        }
        for series in &self.series {
            for segment in runs(&series.points, self.x_scale, self.y_scale) {
                densify(&segment, &mut occupied);
            }
        }
        occupied
    }

    /// Legend rows in drawing order: bands, then series with a name.
    fn legend_entries(&self) -> Vec<LegendEntry> {
        let bands = self
            .bands
            .iter()
            .filter(|b| !b.name.is_empty())
            .map(|b| LegendEntry {
                label: b.name.clone(),
                icon: LegendIcon::Swatch(lighten(palette(b.color_index), 0.7)),
            });
        let series = self
            .series
            .iter()
            .filter(|s| !s.name.is_empty())
            .map(|s| LegendEntry {
                label: s.name.clone(),
                icon: LegendIcon::Line(
                    palette(s.style.color_index),
                    s.style.dashed,
                    s.style.markers,
                    s.style.width,
                ),
            });
        bands.chain(series).collect()
    }
}

/// A style that draws nothing, so every legend icon has the same element type.
fn invisible() -> ShapeStyle {
    ShapeStyle {
        color: TRANSPARENT,
        filled: true,
        stroke_width: 0,
    }
}

impl Draw for LineChart {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn validate(&self) -> Result<(), FigureError> {
        self.validate_inputs()
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), FigureError> {
        self.draw_into(area, (None, None), TITLE_SIZE)
    }
}

/// Renders a line chart to `stem.svg` and `stem.png`.
pub fn render_line_chart(chart: &LineChart, stem: &Path) -> Result<Rendered, FigureError> {
    render(chart, stem)
}

/// A rows × cols grid of line charts, filled row by row, under one optional title.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PanelGrid {
    /// Figure title (empty for none); each panel keeps its own title.
    pub title: String,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Panels in row-major order; fewer than rows × cols leaves blank cells.
    pub panels: Vec<LineChart>,
    /// Give every panel the union x range (panels' scales must agree to be useful).
    pub share_x: bool,
    /// Give every panel the union y range.
    pub share_y: bool,
    /// Canvas size; `None` picks about 600 × 520 px per panel (at least 1200 px wide).
    pub size: Option<(u32, u32)>,
}

impl Draw for PanelGrid {
    fn size(&self) -> (u32, u32) {
        self.size.unwrap_or_else(|| {
            let cols = self.cols.max(1) as u32;
            let rows = self.rows.max(1) as u32;
            let title = if self.title.is_empty() { 0 } else { 50 };
            ((600 * cols).clamp(1200, 2400), 520 * rows + title)
        })
    }

    fn validate(&self) -> Result<(), FigureError> {
        let cells = self.rows * self.cols;
        if self.panels.is_empty() || self.panels.len() > cells {
            return Err(FigureError::Dimension {
                what: format!("panels of a {}x{} grid", self.rows, self.cols),
                expected: cells,
                got: self.panels.len(),
            });
        }
        self.panels.iter().try_for_each(LineChart::validate_inputs)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), FigureError> {
        let area = if self.title.is_empty() {
            area.clone()
        } else {
            area.titled(&self.title, text(TITLE_SIZE))
                .map_err(draw_err)?
        };
        let (mut shared_x, mut shared_y) = (None, None);
        for panel in &self.panels {
            let (x, y) = panel.extents();
            if self.share_x {
                shared_x = union(shared_x, x);
            }
            if self.share_y {
                shared_y = union(shared_y, y);
            }
        }
        let cells = area.split_evenly((self.rows, self.cols));
        for (panel, cell) in self.panels.iter().zip(&cells) {
            panel.draw_into(cell, (shared_x, shared_y), PANEL_TITLE_SIZE)?;
        }
        Ok(())
    }
}

/// Renders a grid of line charts to `stem.svg` and `stem.png`.
pub fn render_panel_grid(grid: &PanelGrid, stem: &Path) -> Result<Rendered, FigureError> {
    render(grid, stem)
}
