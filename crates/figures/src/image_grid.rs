//! Grids of small images (e.g. 28 × 28 Grad-CAM maps over digits) with row and column labels.

use std::path::Path;

use plotters::chart::ChartBuilder;
use plotters::coord::Shift;
use plotters::element::{Rectangle, Text};
use plotters::prelude::{DrawingArea, DrawingBackend};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{Color, RGBColor};

use crate::axis::{Axis, Scale, extent, fixed_range, make_axis};
use crate::error::{FigureError, draw_err};
use crate::frame::TickRange;
use crate::render::{Draw, Rendered, render};
use crate::style::{
    AXIS_DESC_SIZE, Colormap, LEGEND_SIZE, MISSING_GRAY, TICK_SIZE, TITLE_SIZE, text,
};

/// One image: `values` row-major, `height` rows of `width` pixels.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GridImage {
    /// Pixels per row.
    pub width: usize,
    /// Number of rows.
    pub height: usize,
    /// Row-major values mapped through the grid's colormap; non-finite pixels are drawn gray.
    pub values: Vec<f64>,
    /// Optional grayscale underlay in [0, 1] (e.g. the digit), same shape; the colour map is
    /// alpha-blended over it with the grid's `overlay_alpha`.
    pub underlay: Option<Vec<f64>>,
}

/// A rows × cols grid of images; `images` is row-major with rows = `row_labels.len()` and
/// cols = `col_labels.len()`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageGrid {
    /// Title (empty for none).
    pub title: String,
    /// One label per row (e.g. optimizer), drawn left of the row.
    pub row_labels: Vec<String>,
    /// One label per column (e.g. checkpoint), drawn above the column.
    pub col_labels: Vec<String>,
    /// The images, row-major.
    pub images: Vec<GridImage>,
    /// Colour map for the values.
    pub colormap: Colormap,
    /// Fixed value range; `None` uses the finite range over all images, so panels are comparable.
    pub value_range: Option<(f64, f64)>,
    /// Weight of the colour map over the underlay (1 = underlay invisible).
    pub overlay_alpha: f64,
    /// Colorbar caption; `None` draws no colorbar.
    pub colorbar: Option<String>,
    /// Width of the canvas in pixels; the height follows from the grid shape.
    pub width: u32,
}

impl Default for ImageGrid {
    fn default() -> Self {
        Self {
            title: String::new(),
            row_labels: Vec::new(),
            col_labels: Vec::new(),
            images: Vec::new(),
            colormap: Colormap::Inferno,
            value_range: None,
            overlay_alpha: 0.6,
            colorbar: None,
            width: 1200,
        }
    }
}

const TITLE_HEIGHT: u32 = 50;
const COL_LABEL_HEIGHT: u32 = 34;
const GAP: u32 = 8;
const COLORBAR_WIDTH: u32 = 150;

impl ImageGrid {
    fn row_label_width(&self) -> u32 {
        // Average DejaVu Sans glyph is about 0.62 em wide; this only sizes the left margin.
        let chars = self
            .row_labels
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0);
        (chars as f64 * LEGEND_SIZE * 0.62) as u32 + 20
    }

    fn cell_size(&self) -> u32 {
        let cols = self.col_labels.len().max(1) as u32;
        let colorbar = if self.colorbar.is_some() {
            COLORBAR_WIDTH
        } else {
            0
        };
        let available = self
            .width
            .saturating_sub(self.row_label_width() + colorbar + 2 * GAP);
        (available / cols).saturating_sub(GAP).clamp(20, 400)
    }

    fn range(&self) -> Option<(f64, f64)> {
        if let Some(r) = self.value_range {
            return fixed_range("image value", Scale::Linear, r).ok();
        }
        let (lo, hi) = extent(
            self.images
                .iter()
                .flat_map(|i| i.values.iter().copied())
                .filter(|v| v.is_finite()),
        )?;
        Some(if hi > lo {
            (lo, hi)
        } else {
            (lo - 0.5, hi + 0.5)
        })
    }

    fn pixel_color(&self, image: &GridImage, index: usize, (lo, hi): (f64, f64)) -> RGBColor {
        let value = image.values[index];
        if !value.is_finite() {
            return MISSING_GRAY;
        }
        let mapped = self.colormap.color((value - lo) / (hi - lo));
        match &image.underlay {
            None => mapped,
            Some(under) => {
                let gray = if under[index].is_finite() {
                    under[index].clamp(0.0, 1.0) * 255.0
                } else {
                    0.0
                };
                let alpha = self.overlay_alpha.clamp(0.0, 1.0);
                let mix = |c: u8| (alpha * f64::from(c) + (1.0 - alpha) * gray).round() as u8;
                RGBColor(mix(mapped.0), mix(mapped.1), mix(mapped.2))
            }
        }
    }
}

impl Draw for ImageGrid {
    fn size(&self) -> (u32, u32) {
        let rows = self.row_labels.len().max(1) as u32;
        let title = if self.title.is_empty() {
            0
        } else {
            TITLE_HEIGHT
        };
        let height = title + COL_LABEL_HEIGHT + rows * (self.cell_size() + GAP) + 2 * GAP;
        (self.width, height.max(260))
    }

    fn validate(&self) -> Result<(), FigureError> {
        let expected = self.row_labels.len() * self.col_labels.len();
        if self.images.len() != expected || expected == 0 {
            return Err(FigureError::Dimension {
                what: "images of the grid (rows × cols)".into(),
                expected,
                got: self.images.len(),
            });
        }
        for (index, image) in self.images.iter().enumerate() {
            let pixels = image.width * image.height;
            if image.values.len() != pixels || pixels == 0 {
                return Err(FigureError::Dimension {
                    what: format!("pixels of image {index}"),
                    expected: pixels,
                    got: image.values.len(),
                });
            }
            if let Some(under) = &image.underlay
                && under.len() != pixels
            {
                return Err(FigureError::Dimension {
                    what: format!("underlay pixels of image {index}"),
                    expected: pixels,
                    got: under.len(),
                });
            }
        }
        if let Some(r) = self.value_range {
            fixed_range("image value", Scale::Linear, r)?;
        }
        if self.range().is_none() {
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
        let Some(range) = self.range() else {
            return Ok(());
        };
        let cell = self.cell_size() as i32;
        let left = self.row_label_width() as i32 + GAP as i32;
        let top = COL_LABEL_HEIGHT as i32;
        let step = cell + GAP as i32;
        let cols = self.col_labels.len();
        for (c, label) in self.col_labels.iter().enumerate() {
            let cx = left + c as i32 * step + cell / 2;
            area.draw(&Text::new(
                label.clone(),
                (cx, top - 8),
                text(LEGEND_SIZE).pos(Pos::new(HPos::Center, VPos::Bottom)),
            ))
            .map_err(draw_err)?;
        }
        for (r, label) in self.row_labels.iter().enumerate() {
            let cy = top + r as i32 * step + cell / 2;
            area.draw(&Text::new(
                label.clone(),
                (left - 10, cy),
                text(LEGEND_SIZE).pos(Pos::new(HPos::Right, VPos::Center)),
            ))
            .map_err(draw_err)?;
        }
        for (index, image) in self.images.iter().enumerate() {
            let (r, c) = (index / cols, index % cols);
            let x0 = left + c as i32 * step;
            let y0 = top + r as i32 * step;
            // Integer pixel edges (floor of the scaled position) keep neighbouring pixels seamless.
            let edge = |i: usize, n: usize| (i as i64 * i64::from(cell) / n as i64) as i32;
            let mut pixels = Vec::with_capacity(image.width * image.height);
            for py in 0..image.height {
                // Runs of equal colour become one rectangle, which keeps the SVG small.
                let mut start = 0;
                while start < image.width {
                    let color = self.pixel_color(image, py * image.width + start, range);
                    let mut end = start + 1;
                    while end < image.width
                        && self.pixel_color(image, py * image.width + end, range) == color
                    {
                        end += 1;
                    }
                    pixels.push(Rectangle::new(
                        [
                            (x0 + edge(start, image.width), y0 + edge(py, image.height)),
                            (x0 + edge(end, image.width), y0 + edge(py + 1, image.height)),
                        ],
                        color.filled(),
                    ));
                    start = end;
                }
            }
            for pixel in &pixels {
                area.draw(pixel).map_err(draw_err)?;
            }
            area.draw(&Rectangle::new(
                [(x0, y0), (x0 + cell, y0 + cell)],
                RGBColor(0x88, 0x88, 0x88).stroke_width(1),
            ))
            .map_err(draw_err)?;
        }
        if let Some(label) = &self.colorbar {
            let rows = self.row_labels.len() as i32;
            let bar_left = left + cols as i32 * step + 10;
            let bar_height = (rows * step - GAP as i32).max(120);
            let (_, column) = area.split_horizontally(bar_left);
            let column = column.shrink((0, 0), (COLORBAR_WIDTH, (top + bar_height + 40) as u32));
            column
                .draw(&Text::new(
                    label.clone(),
                    (0, top - 8),
                    text(AXIS_DESC_SIZE).pos(Pos::new(HPos::Left, VPos::Bottom)),
                ))
                .map_err(draw_err)?;
            let axis = make_axis(Scale::Linear, range.0, range.1, 5);
            let bar_axis = Axis {
                lo: 0.0,
                hi: 1.0,
                ticks: Vec::new(),
                labels: Vec::new(),
            };
            let mut chart = ChartBuilder::on(&column)
                .margin_top(top as u32 + 14)
                .margin_bottom(40)
                .right_y_label_area_size(COLORBAR_WIDTH - 40)
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
            let (lo, hi) = range;
            chart
                .draw_series((0..STEPS).map(|k| {
                    let a = lo + (hi - lo) * k as f64 / STEPS as f64;
                    let b = lo + (hi - lo) * (k + 1) as f64 / STEPS as f64;
                    let t = (k as f64 + 0.5) / STEPS as f64;
                    Rectangle::new([(0.0, a), (1.0, b)], self.colormap.color(t).filled())
                }))
                .map_err(draw_err)?;
        }
        Ok(())
    }
}

/// Renders an image grid to `stem.svg` and `stem.png`.
pub fn render_image_grid(figure: &ImageGrid, stem: &Path) -> Result<Rendered, FigureError> {
    render(figure, stem)
}
