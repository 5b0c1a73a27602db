//! Heatmaps of a matrix on a grid: categorical classes with a class legend, or continuous values
//! with a colorbar; optional overlaid curves, reference lines and point markers.

use std::path::Path;

use plotters::chart::ChartBuilder;
use plotters::coord::Shift;
use plotters::element::{Rectangle, Text};
use plotters::prelude::{DashedLineSeries, DrawingArea, DrawingBackend, LineSeries};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{Color, RGBColor, ShapeStyle};

use crate::axis::{Axis, Scale, extent, fixed_range, make_axis};
use crate::error::{FigureError, draw_err};
use crate::frame::{
    LegendEntry, LegendIcon, MARGIN, MarkerKind, TickRange, X_LABEL_AREA, boxed_label,
    draw_legend_rows, draw_marker, frame, plot_pixels, side_legend_width,
};
use crate::line::{RefLine, Series};
use crate::render::{Draw, Rendered, render};
use crate::style::{
    AXIS_DESC_SIZE, Colormap, MISSING_GRAY, REF_GRAY, TICK_SIZE, TITLE_SIZE, lighten, palette, text,
};

/// One category of a categorical heatmap.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Class {
    /// The integer stored in the matrix (e.g. a dominant index, or −1 for "collapse").
    pub value: i64,
    /// Legend text.
    pub name: String,
    /// Palette slot (drawn lightened so overlays stay visible), or `None` for neutral gray.
    pub color_index: Option<usize>,
}

/// Cell contents. Matrices are indexed `[row][col]`, where row `r` sits at `y[r]` and column `c`
/// at `x[c]`.
#[derive(Debug, Clone, PartialEq)]
pub enum HeatmapCells {
    /// Integer classes; values not listed in `classes` are drawn white.
    Categorical {
        /// The matrix.
        values: Vec<Vec<i64>>,
        /// The classes, in legend order.
        classes: Vec<Class>,
    },
    /// Real values; non-finite values (and ≤ 0 on a log colour scale) are drawn gray.
    Continuous {
        /// The matrix.
        values: Vec<Vec<f64>>,
        /// Colour scale.
        scale: Scale,
        /// Fixed colour range in data units; `None` uses the finite data range.
        range: Option<(f64, f64)>,
        /// Colour map.
        colormap: Colormap,
        /// Colorbar caption, with units.
        label: String,
    },
}

/// Point markers overlaid on the grid, e.g. the predicted class where it disagrees.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MarkerSet {
    /// Legend text; empty gives no entry.
    pub name: String,
    /// Shape.
    pub kind: MarkerKind,
    /// Positions in data units.
    pub points: Vec<(f64, f64)>,
    /// Palette slot, or `None` for black.
    pub color_index: Option<usize>,
}

/// A heatmap. Cell boundaries are midway between neighbouring centres (in axis space), so
/// non-uniform and log-spaced grids work; coordinates must be strictly increasing.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    /// Title (empty for none).
    pub title: String,
    /// x axis description.
    pub x_label: String,
    /// y axis description.
    pub y_label: String,
    /// Column centres (length = number of columns).
    pub x: Vec<f64>,
    /// Row centres (length = number of rows).
    pub y: Vec<f64>,
    /// x axis scale.
    pub x_scale: Scale,
    /// y axis scale.
    pub y_scale: Scale,
    /// The matrix and how to colour it.
    pub cells: HeatmapCells,
    /// Overlaid curves (e.g. regime boundaries); palette slot 6 is black. Points on the outermost
    /// cell edges count as inside even when they round a few ulps past them (so a caller may place
    /// an end at "first centre − half a spacing"); points truly outside are clipped.
    pub curves: Vec<Series>,
    /// Vertical reference lines (e.g. α = α_c).
    pub vlines: Vec<RefLine>,
    /// Horizontal reference lines.
    pub hlines: Vec<RefLine>,
    /// Overlaid point markers.
    pub markers: Vec<MarkerSet>,
    /// Canvas size in pixels.
    pub size: (u32, u32),
}

impl Default for Heatmap {
    fn default() -> Self {
        Self {
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            x: Vec::new(),
            y: Vec::new(),
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
            cells: HeatmapCells::Categorical {
                values: Vec::new(),
                classes: Vec::new(),
            },
            curves: Vec::new(),
            vlines: Vec::new(),
            hlines: Vec::new(),
            markers: Vec::new(),
            size: (1200, 900),
        }
    }
}

/// Cell edges (axis space) around strictly increasing centres.
fn edges(what: &'static str, centres: &[f64], scale: Scale) -> Result<Vec<f64>, FigureError> {
    let transformed: Option<Vec<f64>> = centres.iter().map(|&c| scale.forward(c)).collect();
    let bad = || FigureError::InvalidRange {
        what,
        lo: centres.first().copied().unwrap_or(f64::NAN),
        hi: centres.last().copied().unwrap_or(f64::NAN),
    };
    let t = transformed.ok_or_else(bad)?;
    if t.is_empty() || t.windows(2).any(|w| w[1] <= w[0]) {
        return Err(bad());
    }
    if t.len() == 1 {
        return Ok(vec![t[0] - 0.5, t[0] + 0.5]);
    }
    let mut out = Vec::with_capacity(t.len() + 1);
    out.push(t[0] - (t[1] - t[0]) / 2.0);
    out.extend(t.windows(2).map(|w| (w[0] + w[1]) / 2.0));
    out.push(t[t.len() - 1] + (t[t.len() - 1] - t[t.len() - 2]) / 2.0);
    Ok(out)
}

/// The plotted rectangle in axis space, from the outermost cell edges.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bounds {
    x: (f64, f64),
    y: (f64, f64),
}

impl Bounds {
    /// Slack for overlays computed by callers as "centre ± half a spacing": their float rounding
    /// differs from [`edges`] by a few ulps, and such a point must count as on the edge, not
    /// outside. A billionth of the span (plus a few ulps of the magnitude, for narrow axes far
    /// from zero) is far below a pixel yet far above rounding error.
    fn slack((lo, hi): (f64, f64)) -> f64 {
        1e-9 * (hi - lo) + 8.0 * f64::EPSILON * lo.abs().max(hi.abs())
    }

    /// The point clamped onto the rectangle if it lies inside or on its edge (within rounding);
    /// `None` if it is truly outside, so that overlays never draw over the axes.
    fn snap(&self, (a, b): (f64, f64)) -> Option<(f64, f64)> {
        let clamp = |v: f64, (lo, hi): (f64, f64)| {
            let slack = Self::slack((lo, hi));
            (v >= lo - slack && v <= hi + slack).then(|| v.clamp(lo, hi))
        };
        Some((clamp(a, self.x)?, clamp(b, self.y)?))
    }
}

/// A curve (data units) cut into the runs that lie inside `bounds`, in axis space; a point
/// outside the plot (or not placeable on a log axis) ends a run. Runs of one point are dropped.
fn curve_runs(
    points: &[(f64, f64)],
    x_scale: Scale,
    y_scale: Scale,
    bounds: Bounds,
) -> Vec<Vec<(f64, f64)>> {
    let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for &(px, py) in points {
        let placed = x_scale
            .forward(px)
            .zip(y_scale.forward(py))
            .and_then(|point| bounds.snap(point));
        match (placed, runs.last_mut()) {
            (Some(point), Some(run)) => run.push(point),
            _ => runs.push(Vec::new()),
        }
    }
    runs.retain(|run| run.len() >= 2);
    runs
}

fn class_color(class: &Class) -> RGBColor {
    class
        .color_index
        .map_or(MISSING_GRAY, |i| lighten(palette(i), 0.3))
}

impl Heatmap {
    fn rows(&self) -> Vec<usize> {
        match &self.cells {
            HeatmapCells::Categorical { values, .. } => values.iter().map(Vec::len).collect(),
            HeatmapCells::Continuous { values, .. } => values.iter().map(Vec::len).collect(),
        }
    }

    /// Colour range (transformed) of a continuous heatmap.
    fn color_range(&self) -> Option<(f64, f64)> {
        let HeatmapCells::Continuous {
            values,
            scale,
            range,
            ..
        } = &self.cells
        else {
            return None;
        };
        if let Some(r) = range {
            return fixed_range("colour", *scale, *r).ok();
        }
        let (lo, hi) = extent(values.iter().flatten().filter_map(|&v| scale.forward(v)))?;
        Some(if hi > lo {
            (lo, hi)
        } else {
            (lo - 0.5, hi + 0.5)
        })
    }

    fn entries(&self) -> Vec<LegendEntry> {
        let mut entries = Vec::new();
        if let HeatmapCells::Categorical { classes, .. } = &self.cells {
            entries.extend(classes.iter().map(|c| LegendEntry {
                label: c.name.clone(),
                icon: LegendIcon::Swatch(class_color(c)),
            }));
        }
        entries.extend(
            self.curves
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
                }),
        );
        entries.extend(
            self.markers
                .iter()
                .filter(|m| !m.name.is_empty())
                .map(|m| LegendEntry {
                    label: m.name.clone(),
                    icon: LegendIcon::Marker(
                        m.kind,
                        m.color_index.map_or(RGBColor(0, 0, 0), palette),
                    ),
                }),
        );
        entries
    }

    fn draw_colorbar<DB: DrawingBackend>(
        &self,
        side: &DrawingArea<DB, Shift>,
        top: u32,
    ) -> Result<(), FigureError> {
        let (
            Some((lo, hi)),
            HeatmapCells::Continuous {
                scale,
                colormap,
                label,
                ..
            },
        ) = (self.color_range(), &self.cells)
        else {
            return Ok(());
        };
        side.draw(&Text::new(
            label.clone(),
            (12, top as i32 + 10),
            text(AXIS_DESC_SIZE).pos(Pos::new(HPos::Left, VPos::Top)),
        ))
        .map_err(draw_err)?;
        let axis = make_axis(*scale, lo, hi, 6);
        let bar_axis = Axis {
            lo: 0.0,
            hi: 1.0,
            ticks: Vec::new(),
            labels: Vec::new(),
        };
        let mut chart = ChartBuilder::on(side)
            .margin_top(top + 44)
            .margin_bottom(MARGIN + X_LABEL_AREA)
            .margin_left(12)
            .margin_right(4)
            .right_y_label_area_size(side.dim_in_pixel().0.saturating_sub(60).max(40))
            .build_cartesian_2d(TickRange::new(&bar_axis), TickRange::new(&axis))
            .map_err(draw_err)?;
        let format = |v: &f64| format!("  {}", axis.label_for(*v));
        chart
            .configure_mesh()
            .disable_x_mesh()
            .disable_y_mesh()
            .disable_x_axis()
            // A tick mark right before a label reads like a minus sign; the label centre marks the value.
            .set_all_tick_mark_size(0)
            .y_label_formatter(&format)
            .label_style(text(TICK_SIZE))
            .draw()
            .map_err(draw_err)?;
        const STEPS: usize = 128;
        chart
            .draw_series((0..STEPS).map(|k| {
                let a = lo + (hi - lo) * k as f64 / STEPS as f64;
                let b = lo + (hi - lo) * (k + 1) as f64 / STEPS as f64;
                let t = (k as f64 + 0.5) / STEPS as f64;
                Rectangle::new([(0.0, a), (1.0, b)], colormap.color(t).filled())
            }))
            .map_err(draw_err)?;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, lo), (1.0, hi)],
                RGBColor(0x33, 0x33, 0x33).stroke_width(1),
            )))
            .map_err(draw_err)?;
        Ok(())
    }
}

impl Draw for Heatmap {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn validate(&self) -> Result<(), FigureError> {
        let rows = self.rows();
        if rows.len() != self.y.len() {
            return Err(FigureError::Dimension {
                what: "heatmap rows (y coordinates)".into(),
                expected: self.y.len(),
                got: rows.len(),
            });
        }
        if let Some(&bad) = rows.iter().find(|&&n| n != self.x.len()) {
            return Err(FigureError::Dimension {
                what: "heatmap columns (x coordinates)".into(),
                expected: self.x.len(),
                got: bad,
            });
        }
        edges("heatmap x coordinates", &self.x, self.x_scale)?;
        edges("heatmap y coordinates", &self.y, self.y_scale)?;
        if let HeatmapCells::Continuous {
            scale,
            range: Some(r),
            ..
        } = &self.cells
        {
            fixed_range("colour", *scale, *r)?;
        }
        if matches!(self.cells, HeatmapCells::Continuous { .. }) && self.color_range().is_none() {
            return Err(FigureError::NoData {
                figure: self.title.clone(),
            });
        }
        Ok(())
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), FigureError> {
        let area = if self.title.is_empty() {
            area.clone()
        } else {
            area.titled(&self.title, text(TITLE_SIZE))
                .map_err(draw_err)?
        };
        let entries = self.entries();
        let continuous = matches!(self.cells, HeatmapCells::Continuous { .. });
        let mut side_width = side_legend_width(&area, &entries);
        if let HeatmapCells::Continuous { label, .. } = &self.cells {
            let label_width = area
                .estimate_text_size(label, &text(AXIS_DESC_SIZE))
                .map_or(0, |s| s.0);
            side_width = side_width.max(label_width + 24).max(150);
        }
        let (plot_area, side) =
            area.split_horizontally(area.dim_in_pixel().0.saturating_sub(side_width) as i32);
        let x_edges = edges("heatmap x coordinates", &self.x, self.x_scale)?;
        let y_edges = edges("heatmap y coordinates", &self.y, self.y_scale)?;
        let (xlo, xhi) = (x_edges[0], x_edges[x_edges.len() - 1]);
        let (ylo, yhi) = (y_edges[0], y_edges[y_edges.len() - 1]);
        let plot = plot_pixels(plot_area.dim_in_pixel());
        let ticks = |scale: Scale, px: f64, per: f64| match scale {
            Scale::Linear => ((px / per) as usize).clamp(2, 10),
            Scale::Log10 => ((px / 45.0) as usize).clamp(2, 10),
        };
        let x = make_axis(self.x_scale, xlo, xhi, ticks(self.x_scale, plot.0, 110.0));
        let y = make_axis(self.y_scale, ylo, yhi, ticks(self.y_scale, plot.1, 80.0));
        let mut chart = frame(&plot_area, &x, &y, &self.x_label, &self.y_label, false)?;

        let color_range = self.color_range();
        let mut cells = Vec::with_capacity(self.x.len() * self.y.len());
        for row in 0..self.y.len() {
            for col in 0..self.x.len() {
                let color = match &self.cells {
                    HeatmapCells::Categorical { values, classes } => classes
                        .iter()
                        .find(|c| c.value == values[row][col])
                        .map_or(RGBColor(255, 255, 255), class_color),
                    HeatmapCells::Continuous {
                        values,
                        scale,
                        colormap,
                        ..
                    } => match (scale.forward(values[row][col]), color_range) {
                        (Some(v), Some((lo, hi))) => colormap.color((v - lo) / (hi - lo)),
                        _ => MISSING_GRAY,
                    },
                };
                cells.push(Rectangle::new(
                    [
                        (x_edges[col], y_edges[row]),
                        (x_edges[col + 1], y_edges[row + 1]),
                    ],
                    color.filled(),
                ));
            }
        }
        chart.draw_series(cells).map_err(draw_err)?;

        let bounds = Bounds {
            x: (xlo, xhi),
            y: (ylo, yhi),
        };
        for curve in &self.curves {
            let color = palette(curve.style.color_index);
            let style = ShapeStyle::from(color).stroke_width(curve.style.width.max(1));
            for run in curve_runs(&curve.points, self.x_scale, self.y_scale, bounds) {
                if curve.style.dashed {
                    chart.draw_series(DashedLineSeries::new(run, 12, 7, style))
                } else {
                    chart.draw_series(LineSeries::new(run, style))
                }
                .map_err(draw_err)?;
            }
        }
        for (lines, vertical) in [(&self.vlines, true), (&self.hlines, false)] {
            for line in lines {
                let scale = if vertical { self.x_scale } else { self.y_scale };
                let Some(at) = scale.forward(line.at) else {
                    continue;
                };
                let (from, to) = if vertical {
                    ((at, ylo), (at, yhi))
                } else {
                    ((xlo, at), (xhi, at))
                };
                let (Some(from), Some(to)) = (bounds.snap(from), bounds.snap(to)) else {
                    continue;
                };
                let color = line.color_index.map_or(REF_GRAY, palette);
                let style = ShapeStyle::from(color).stroke_width(2);
                chart
                    .draw_series(DashedLineSeries::new(vec![from, to], 8, 6, style))
                    .map_err(draw_err)?;
                if !line.label.is_empty() {
                    let (offset, h, v) = if vertical {
                        ((5, 5), HPos::Left, VPos::Top)
                    } else {
                        ((-5, -5), HPos::Right, VPos::Bottom)
                    };
                    boxed_label(
                        chart.plotting_area(),
                        to,
                        offset,
                        &line.label,
                        text(crate::style::LEGEND_SIZE).color(&color),
                        h,
                        v,
                    )?;
                }
            }
        }
        let base = plot_area.get_base_pixel();
        for set in &self.markers {
            let color = set.color_index.map_or(RGBColor(0, 0, 0), palette);
            for &(px, py) in &set.points {
                let Some((a, b)) = self
                    .x_scale
                    .forward(px)
                    .zip(self.y_scale.forward(py))
                    .and_then(|point| bounds.snap(point))
                else {
                    continue;
                };
                let abs = chart.backend_coord(&(a, b));
                draw_marker(
                    &plot_area,
                    (abs.0 - base.0, abs.1 - base.1),
                    set.kind,
                    color,
                )?;
            }
        }

        let legend_top = MARGIN as i32 + 4;
        draw_legend_rows(&side, &entries, (10, legend_top))?;
        if continuous {
            let top = legend_top as u32 + 28 * entries.len() as u32;
            self.draw_colorbar(&side, top)?;
        }
        Ok(())
    }
}

/// Renders a heatmap to `stem.svg` and `stem.png`.
pub fn render_heatmap(figure: &Heatmap, stem: &Path) -> Result<Rendered, FigureError> {
    render(figure, stem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_are_midpoints_with_half_cells_outside() {
        let e = edges("x", &[0.0, 1.0, 3.0], Scale::Linear).unwrap();
        assert_eq!(e, vec![-0.5, 0.5, 2.0, 4.0]);
        let e = edges("x", &[1.0, 10.0, 100.0], Scale::Log10).unwrap();
        assert_eq!(e, vec![-0.5, 0.5, 1.5, 2.5]);
        assert!(edges("x", &[1.0, 1.0], Scale::Linear).is_err());
        assert!(edges("x", &[0.0, 1.0], Scale::Log10).is_err());
    }

    /// The full-profile §3 phase grid: 41 ratios from 0.05 in steps of 0.0725, as written in
    /// pipeline.toml (decimal literals, so the spacings differ in the last bits).
    fn phase_ratios() -> Vec<f64> {
        (0..41)
            .map(|k| {
                format!("{:.4}", 0.05 + 0.0725 * f64::from(k))
                    .parse()
                    .unwrap()
            })
            .collect()
    }

    fn bounds_of(x: &[f64], y: &[f64], x_scale: Scale, y_scale: Scale) -> Bounds {
        let x_edges = edges("x", x, x_scale).unwrap();
        let y_edges = edges("y", y, y_scale).unwrap();
        Bounds {
            x: (x_edges[0], x_edges[x_edges.len() - 1]),
            y: (y_edges[0], y_edges[y_edges.len() - 1]),
        }
    }

    #[test]
    fn curve_on_the_outer_cell_edge_is_drawn() {
        let ratios = phase_ratios();
        let bounds = bounds_of(&ratios, &ratios, Scale::Linear, Scale::Linear);
        // A caller's own "first/last centre ∓ half the mean spacing": the same edge in exact
        // arithmetic, but the left one rounds below `edges`' value.
        let spacing = (ratios[40] - ratios[0]) / 40.0;
        let (lo, hi) = (ratios[0] - 0.5 * spacing, ratios[40] + 0.5 * spacing);
        assert!(lo < bounds.x.0, "the rounding this test is about");
        let runs = curve_runs(
            &[(lo, 1.0), (hi, 1.0)],
            Scale::Linear,
            Scale::Linear,
            bounds,
        );
        assert_eq!(
            runs,
            vec![vec![(bounds.x.0, 1.0), (hi.min(bounds.x.1), 1.0)]]
        );
        // Along the bottom and top edges, corner to corner.
        let corners = [(lo, lo), (hi, lo), (hi, hi), (lo, hi)];
        let runs = curve_runs(&corners, Scale::Linear, Scale::Linear, bounds);
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].len(), 4);
    }

    #[test]
    fn curve_on_a_log_edge_is_drawn_but_points_outside_are_clipped() {
        // Doubling step sizes across, decades up; the outer edges in data units as a caller
        // would place them (the geometric half-step c₀/√(c₁/c₀)) round just outside `edges`'
        // values on the left and at the top.
        let (x, y) = ([0.5, 1.0, 2.0, 4.0], [2e-3, 2e-2, 2e-1]);
        let bounds = bounds_of(&x, &y, Scale::Log10, Scale::Log10);
        let (left, right) = (x[0] / (x[1] / x[0]).sqrt(), x[3] * (x[3] / x[2]).sqrt());
        let (bottom, top) = (y[0] / (y[1] / y[0]).sqrt(), y[2] * (y[2] / y[1]).sqrt());
        assert!(left.log10() < bounds.x.0 || top.log10() > bounds.y.1);
        let runs = curve_runs(
            &[(left, bottom), (right, top)],
            Scale::Log10,
            Scale::Log10,
            bounds,
        );
        assert_eq!(runs.len(), 1, "{runs:?}");
        let expected = [(bounds.x.0, bounds.y.0), (bounds.x.1, bounds.y.1)];
        for (got, want) in runs[0].iter().zip(expected) {
            // Snapped onto the edge, so within the slack of the exact edge value.
            assert!((got.0 - want.0).abs() < 1e-12 && (got.1 - want.1).abs() < 1e-12);
        }
        // One part in a million of the span outside is a real miss, not rounding: it ends the run.
        let outside = 10f64.powf(bounds.x.1 + 4e-6);
        let runs = curve_runs(
            &[
                (1.0, 0.02),
                (2.0, 0.02),
                (outside, 0.02),
                (2.0, 0.2),
                (1.0, 0.2),
            ],
            Scale::Log10,
            Scale::Log10,
            bounds,
        );
        assert_eq!(runs.len(), 2, "{runs:?}");
        assert_eq!(runs.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2]);
        assert_eq!(bounds.snap((bounds.x.1 + 4e-6, -1.0)), None);
        assert_eq!(bounds.snap((0.0, bounds.y.0 - 4e-6)), None);
    }
}
