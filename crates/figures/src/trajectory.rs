//! Paths in a plane (e.g. β-plane trajectories) with start/end markers and reference rays.

use std::path::Path;

use plotters::coord::Shift;
use plotters::element::{Circle, EmptyElement, Polygon};
use plotters::prelude::{DashedLineSeries, DrawingArea, DrawingBackend, LineSeries};
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::{Color, ShapeStyle};

use crate::axis::{Axis, Scale, extent, fixed_range, make_axis, padded};
use crate::error::{FigureError, draw_err};
use crate::frame::{
    LegendEntry, LegendIcon, LegendPosition, MARGIN, boxed_label, choose_corner, densify,
    draw_legend, draw_legend_rows, frame, plot_pixels, split_for_legend,
};
use crate::render::{Draw, Rendered, render};
use crate::style::{LEGEND_SIZE, REF_GRAY, TITLE_SIZE, palette, text};

/// One path in the plane, drawn from its first to its last finite point.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrajectoryPath {
    /// Legend text; empty gives no entry.
    pub name: String,
    /// (x, y) points in order; non-finite points are dropped.
    pub points: Vec<(f64, f64)>,
    /// Palette slot.
    pub color_index: usize,
    /// Dashed (e.g. a flow solution beside the discrete run).
    pub dashed: bool,
}

/// A labelled ray from `origin` along `direction`, clipped to the plot (e.g. a max-margin direction).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ray {
    /// Label drawn near where the ray leaves the plot.
    pub label: String,
    /// Starting point.
    pub origin: (f64, f64),
    /// Direction (need not be normalised; a zero direction is skipped).
    pub direction: (f64, f64),
}

/// Trajectories in a plane: each path gets a hollow circle at its start and an arrowhead at its end.
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectories {
    /// Title (empty for none).
    pub title: String,
    /// x axis description.
    pub x_label: String,
    /// y axis description.
    pub y_label: String,
    /// The paths.
    pub paths: Vec<TrajectoryPath>,
    /// Reference rays (gray, dashed).
    pub rays: Vec<Ray>,
    /// Make one data unit the same length on both axes (ranges are widened to achieve it).
    pub equal_aspect: bool,
    /// Fixed x range.
    pub x_range: Option<(f64, f64)>,
    /// Fixed y range.
    pub y_range: Option<(f64, f64)>,
    /// Legend placement.
    pub legend: LegendPosition,
    /// Canvas size in pixels.
    pub size: (u32, u32),
}

impl Default for Trajectories {
    fn default() -> Self {
        Self {
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            paths: Vec::new(),
            rays: Vec::new(),
            equal_aspect: false,
            x_range: None,
            y_range: None,
            legend: LegendPosition::Auto,
            size: (1200, 900),
        }
    }
}

fn finite(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect()
}

/// Parameter where the ray leaves the box, or `None` if it never enters it going forward.
fn ray_exit(origin: (f64, f64), direction: (f64, f64), x: &Axis, y: &Axis) -> Option<f64> {
    let mut t_max = f64::INFINITY;
    for (o, d, lo, hi) in [
        (origin.0, direction.0, x.lo, x.hi),
        (origin.1, direction.1, y.lo, y.hi),
    ] {
        if d > 0.0 {
            t_max = t_max.min((hi - o) / d);
        } else if d < 0.0 {
            t_max = t_max.min((lo - o) / d);
        }
    }
    (t_max.is_finite() && t_max > 0.0).then_some(t_max)
}

impl Trajectories {
    fn axes(&self, plot: (f64, f64)) -> (Axis, Axis) {
        let all: Vec<(f64, f64)> = self.paths.iter().flat_map(|p| finite(&p.points)).collect();
        let fixed =
            |r: Option<(f64, f64)>| r.and_then(|r| fixed_range("axis", Scale::Linear, r).ok());
        let (mut xlo, mut xhi) =
            fixed(self.x_range).unwrap_or_else(|| padded(extent(all.iter().map(|p| p.0)), 0.06));
        let (mut ylo, mut yhi) =
            fixed(self.y_range).unwrap_or_else(|| padded(extent(all.iter().map(|p| p.1)), 0.06));
        if self.equal_aspect {
            // Widen the tighter axis so one data unit spans the same number of pixels on both.
            let per_pixel = ((xhi - xlo) / plot.0).max((yhi - ylo) / plot.1);
            let (cx, cy) = ((xlo + xhi) / 2.0, (ylo + yhi) / 2.0);
            xlo = cx - per_pixel * plot.0 / 2.0;
            xhi = cx + per_pixel * plot.0 / 2.0;
            ylo = cy - per_pixel * plot.1 / 2.0;
            yhi = cy + per_pixel * plot.1 / 2.0;
        }
        (
            make_axis(
                Scale::Linear,
                xlo,
                xhi,
                ((plot.0 / 120.0) as usize).clamp(2, 10),
            ),
            make_axis(
                Scale::Linear,
                ylo,
                yhi,
                ((plot.1 / 80.0) as usize).clamp(2, 10),
            ),
        )
    }

    fn entries(&self) -> Vec<LegendEntry> {
        self.paths
            .iter()
            .filter(|p| !p.name.is_empty())
            .map(|p| LegendEntry {
                label: p.name.clone(),
                icon: LegendIcon::Line(palette(p.color_index), p.dashed, false, 3),
            })
            .collect()
    }
}

impl Draw for Trajectories {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn validate(&self) -> Result<(), FigureError> {
        if let Some(r) = self.x_range {
            fixed_range("x axis", Scale::Linear, r)?;
        }
        if let Some(r) = self.y_range {
            fixed_range("y axis", Scale::Linear, r)?;
        }
        if self.paths.iter().all(|p| finite(&p.points).is_empty()) {
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
        let mut occupied = Vec::new();
        for path in &self.paths {
            densify(&finite(&path.points), &mut occupied);
        }
        let (x, y) = self.axes(plot_pixels(area.dim_in_pixel()));
        let corner = choose_corner(self.legend, &x, &y, &occupied);
        let entries = self.entries();
        let outside = corner.is_none() && !matches!(self.legend, LegendPosition::Hidden);
        let (area, legend_area) = split_for_legend(&area, &entries, outside);
        let (x, y) = self.axes(plot_pixels(area.dim_in_pixel()));
        let mut chart = frame(&area, &x, &y, &self.x_label, &self.y_label, true)?;

        for ray in &self.rays {
            let Some(t) = ray_exit(ray.origin, ray.direction, &x, &y) else {
                continue;
            };
            let end = (
                ray.origin.0 + t * ray.direction.0,
                ray.origin.1 + t * ray.direction.1,
            );
            let style = ShapeStyle::from(REF_GRAY).stroke_width(2);
            chart
                .draw_series(DashedLineSeries::new(vec![ray.origin, end], 10, 6, style))
                .map_err(draw_err)?;
            if !ray.label.is_empty() {
                // Place the label just inside the plot where the ray exits, on the side facing inwards.
                let right = end.0 > (x.lo + x.hi) / 2.0;
                let top = end.1 > (y.lo + y.hi) / 2.0;
                let (anchor, dx) = if right {
                    (HPos::Right, -8)
                } else {
                    (HPos::Left, 8)
                };
                let (vertical, dy) = if top {
                    (VPos::Top, 6)
                } else {
                    (VPos::Bottom, -6)
                };
                boxed_label(
                    chart.plotting_area(),
                    end,
                    (dx, dy),
                    &ray.label,
                    text(LEGEND_SIZE).color(&REF_GRAY),
                    anchor,
                    vertical,
                )?;
            }
        }

        for path in &self.paths {
            let points = finite(&path.points);
            if points.is_empty() {
                continue;
            }
            let color = palette(path.color_index);
            let style = ShapeStyle::from(color).stroke_width(3);
            let drawn = if path.dashed {
                chart.draw_series(DashedLineSeries::new(points.clone(), 12, 7, style))
            } else {
                chart.draw_series(LineSeries::new(points.clone(), style))
            }
            .map_err(draw_err)?;
            if corner.is_some() && !path.name.is_empty() {
                let dashed = path.dashed;
                drawn.label(path.name.clone()).legend(move |(lx, ly)| {
                    let gap = if dashed { 6 } else { 0 };
                    EmptyElement::at((lx, ly))
                        + plotters::element::PathElement::new(
                            vec![(0, 0), (11 - gap / 2, 0)],
                            style,
                        )
                        + plotters::element::PathElement::new(
                            vec![(11 + gap / 2, 0), (24, 0)],
                            style,
                        )
                });
            }
            let start = points[0];
            chart
                .draw_series(std::iter::once(Circle::new(
                    start,
                    7,
                    color.stroke_width(3),
                )))
                .map_err(draw_err)?;
            let end = points[points.len() - 1];
            // Direction of travel in pixels, from the last point that is visibly apart from the end.
            let end_px = chart.backend_coord(&end);
            let before = points
                .iter()
                .rev()
                .map(|p| chart.backend_coord(p))
                .find(|p| (p.0 - end_px.0).abs() + (p.1 - end_px.1).abs() >= 3);
            match before {
                Some(before) => {
                    let (dx, dy) = (
                        f64::from(end_px.0 - before.0),
                        f64::from(end_px.1 - before.1),
                    );
                    let norm = dx.hypot(dy);
                    let (ux, uy) = (dx / norm, dy / norm);
                    let tip = (ux * 8.0, uy * 8.0);
                    let back = (-ux * 10.0, -uy * 10.0);
                    let side = (-uy * 8.0, ux * 8.0);
                    let px = |v: (f64, f64)| (v.0.round() as i32, v.1.round() as i32);
                    let head = vec![
                        px(tip),
                        px((back.0 + side.0, back.1 + side.1)),
                        px((back.0 - side.0, back.1 - side.1)),
                    ];
                    chart
                        .plotting_area()
                        .draw(&(EmptyElement::at(end) + Polygon::new(head, color.filled())))
                        .map_err(draw_err)?;
                }
                None => {
                    chart
                        .draw_series(std::iter::once(Circle::new(end, 6, color.filled())))
                        .map_err(draw_err)?;
                }
            }
        }
        draw_legend(&mut chart, corner)?;
        if let Some(legend_area) = legend_area {
            draw_legend_rows(&legend_area, &entries, (10, MARGIN as i32 + 4))?;
        }
        Ok(())
    }
}

/// Renders trajectories to `stem.svg` and `stem.png`.
pub fn render_trajectories(figure: &Trajectories, stem: &Path) -> Result<Rendered, FigureError> {
    render(figure, stem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ray_exit_hits_the_nearest_wall() {
        let x = make_axis(Scale::Linear, -1.0, 2.0, 4);
        let y = make_axis(Scale::Linear, -1.0, 1.0, 4);
        // From the origin along (1, 1) the top wall y = 1 comes first, at t = 1.
        assert_eq!(ray_exit((0.0, 0.0), (1.0, 1.0), &x, &y), Some(1.0));
        assert_eq!(ray_exit((0.0, 0.0), (0.0, 0.0), &x, &y), None);
    }
}
