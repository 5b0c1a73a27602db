//! The common plot frame: a Cartesian chart in transformed axis space with our own ticks.

use plotters::chart::{ChartBuilder, ChartContext, SeriesLabelPosition};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::element::{Circle, EmptyElement, PathElement, Rectangle, Text};
use plotters::prelude::{Cartesian2d, DrawingArea, DrawingBackend, RGBColor};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{Color, ShapeStyle, TextStyle};

use crate::axis::Axis;
use crate::error::{FigureError, draw_err};
use crate::style::{AXIS_DESC_SIZE, GRID_GRAY, LEGEND_SIZE, TICK_SIZE, text};

/// One axis in transformed space whose key points (ticks and grid lines) are exactly ours.
#[derive(Debug, Clone)]
pub(crate) struct TickRange {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl TickRange {
    pub(crate) fn new(axis: &Axis) -> Self {
        Self {
            lo: axis.lo,
            hi: axis.hi,
            ticks: axis.ticks.clone(),
        }
    }
}

impl Ranged for TickRange {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        if span <= 0.0 || !value.is_finite() {
            return (limit.0 + limit.1) / 2;
        }
        let fraction = (value - self.lo) / span;
        // Clamp far-away points so a stray value cannot overflow the i32 pixel space.
        let fraction = fraction.clamp(-10.0, 11.0);
        limit.0 + (f64::from(limit.1 - limit.0) * fraction).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// Coordinate system shared by every figure type: both axes in transformed space (log10 for log
/// axes), with tick positions fixed by [`crate::axis`].
pub(crate) type Coords = Cartesian2d<TickRange, TickRange>;

/// Outer margin of a plot frame, in pixels.
pub(crate) const MARGIN: u32 = 14;
/// Height of the area under the plot holding x tick labels and the x description.
pub(crate) const X_LABEL_AREA: u32 = 66;
/// Width of the area left of the plot holding y tick labels and the y description.
pub(crate) const Y_LABEL_AREA: u32 = 96;

/// Where a legend goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LegendPosition {
    /// The inside corner that covers the fewest data points.
    #[default]
    Auto,
    /// Inside, top left.
    UpperLeft,
    /// Inside, top right.
    UpperRight,
    /// Inside, bottom left.
    LowerLeft,
    /// Inside, bottom right.
    LowerRight,
    /// Outside the plot, to the right (never covers data; narrows the plot).
    Right,
    /// No legend.
    Hidden,
}

/// Marker shapes for overlaid points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MarkerKind {
    /// Small filled dot.
    #[default]
    Dot,
    /// An "×".
    Cross,
    /// Hollow circle.
    Ring,
}

/// What a legend row shows left of its text.
#[derive(Debug, Clone)]
pub(crate) enum LegendIcon {
    /// A line sample: colour, dashed, markers, width.
    Line(RGBColor, bool, bool, u32),
    /// A filled square (bands, classes).
    Swatch(RGBColor),
    /// A marker shape in a colour.
    Marker(MarkerKind, RGBColor),
}

/// One legend row.
#[derive(Debug, Clone)]
pub(crate) struct LegendEntry {
    pub label: String,
    pub icon: LegendIcon,
}

const LEGEND_ROW: i32 = 28;
const LEGEND_ICON: i32 = 30;

/// Width in pixels needed by an outside legend with these entries (0 if there are none).
pub(crate) fn side_legend_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
) -> u32 {
    let style = text(LEGEND_SIZE);
    let widest = entries
        .iter()
        .map(|e| area.estimate_text_size(&e.label, &style).map_or(0, |s| s.0))
        .max();
    widest.map_or(0, |w| w + LEGEND_ICON as u32 + 40)
}

/// Draws legend rows top-down starting at pixel `(x, y)` of `area`.
pub(crate) fn draw_legend_rows<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    (x, y): (i32, i32),
) -> Result<(), FigureError> {
    for (row, entry) in entries.iter().enumerate() {
        let cy = y + LEGEND_ROW * row as i32 + LEGEND_ROW / 2;
        match entry.icon {
            LegendIcon::Line(color, dashed, markers, width) => {
                let stroke = ShapeStyle::from(color).stroke_width(width.max(1));
                if width > 0 {
                    if dashed {
                        area.draw(&PathElement::new(vec![(x, cy), (x + 10, cy)], stroke))
                            .map_err(draw_err)?;
                        area.draw(&PathElement::new(vec![(x + 16, cy), (x + 26, cy)], stroke))
                            .map_err(draw_err)?;
                    } else {
                        area.draw(&PathElement::new(vec![(x, cy), (x + 26, cy)], stroke))
                            .map_err(draw_err)?;
                    }
                }
                if markers {
                    area.draw(&Circle::new((x + 13, cy), 4, color.filled()))
                        .map_err(draw_err)?;
                }
            }
            LegendIcon::Swatch(color) => {
                area.draw(&Rectangle::new(
                    [(x + 2, cy - 9), (x + 24, cy + 9)],
                    color.filled(),
                ))
                .map_err(draw_err)?;
                area.draw(&Rectangle::new(
                    [(x + 2, cy - 9), (x + 24, cy + 9)],
                    RGBColor(0x66, 0x66, 0x66).stroke_width(1),
                ))
                .map_err(draw_err)?;
            }
            LegendIcon::Marker(kind, color) => draw_marker(area, (x + 13, cy), kind, color)?,
        }
        area.draw(&Text::new(
            entry.label.clone(),
            (x + LEGEND_ICON + 4, cy),
            text(LEGEND_SIZE).pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(draw_err)?;
    }
    Ok(())
}

/// Draws one marker centred at pixel `at`.
pub(crate) fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    kind: MarkerKind,
    color: RGBColor,
) -> Result<(), FigureError> {
    match kind {
        MarkerKind::Dot => area.draw(&Circle::new((x, y), 4, color.filled())),
        MarkerKind::Ring => area.draw(&Circle::new((x, y), 5, color.stroke_width(2))),
        MarkerKind::Cross => {
            let stroke = color.stroke_width(2);
            area.draw(&PathElement::new(
                vec![(x - 5, y - 5), (x + 5, y + 5)],
                stroke,
            ))
            .and_then(|()| {
                area.draw(&PathElement::new(
                    vec![(x - 5, y + 5), (x + 5, y - 5)],
                    stroke,
                ))
            })
        }
    }
    .map_err(draw_err)
}

/// Splits off an outside legend column on the right of `area` if `position` asks for it
/// (or `Auto` finds every inside corner crowded); returns the plot area and the legend area.
pub(crate) fn split_for_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    outside: bool,
) -> (DrawingArea<DB, Shift>, Option<DrawingArea<DB, Shift>>) {
    let width = side_legend_width(area, entries);
    if !outside || width == 0 {
        return (area.clone(), None);
    }
    let (plot, legend) =
        area.split_horizontally(area.dim_in_pixel().0.saturating_sub(width) as i32);
    (plot, Some(legend))
}

/// Builds the frame and draws grid, ticks and axis descriptions.
pub(crate) fn frame<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    x: &Axis,
    y: &Axis,
    x_desc: &str,
    y_desc: &str,
    grid: bool,
) -> Result<ChartContext<'a, DB, Coords>, FigureError> {
    let mut chart = ChartBuilder::on(area)
        .margin(MARGIN)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(TickRange::new(x), TickRange::new(y))
        .map_err(draw_err)?;
    let x_format = |v: &f64| x.label_for(*v);
    let y_format = |v: &f64| y.label_for(*v);
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&x_format)
        .y_label_formatter(&y_format)
        .label_style(text(TICK_SIZE))
        .axis_desc_style(text(AXIS_DESC_SIZE))
        .bold_line_style(GRID_GRAY.stroke_width(1))
        .axis_style(RGBColor(0x33, 0x33, 0x33).stroke_width(1));
    if !grid {
        mesh.disable_mesh();
    }
    mesh.draw().map_err(draw_err)?;
    Ok(chart)
}

/// Plot-area pixel size for an area of `size`, given the fixed layout above.
pub(crate) fn plot_pixels(size: (u32, u32)) -> (f64, f64) {
    (
        f64::from(size.0.saturating_sub(2 * MARGIN + Y_LABEL_AREA).max(1)),
        f64::from(size.1.saturating_sub(2 * MARGIN + X_LABEL_AREA).max(1)),
    )
}

/// Picks the inside corner with the fewest points (given in transformed axis space);
/// ties prefer upper right, then upper left, lower right, lower left. `None` for `Auto` means
/// every corner holds more than 2 % of the points and the legend should go outside.
pub(crate) fn choose_corner(
    position: LegendPosition,
    x: &Axis,
    y: &Axis,
    points: &[(f64, f64)],
) -> Option<SeriesLabelPosition> {
    match position {
        LegendPosition::Hidden | LegendPosition::Right => None,
        LegendPosition::UpperLeft => Some(SeriesLabelPosition::UpperLeft),
        LegendPosition::UpperRight => Some(SeriesLabelPosition::UpperRight),
        LegendPosition::LowerLeft => Some(SeriesLabelPosition::LowerLeft),
        LegendPosition::LowerRight => Some(SeriesLabelPosition::LowerRight),
        LegendPosition::Auto => {
            let mut counts = [0usize; 4];
            for &(px, py) in points {
                let u = (px - x.lo) / (x.hi - x.lo);
                let v = (py - y.lo) / (y.hi - y.lo);
                let left = u <= 0.45;
                let right = u >= 0.55;
                let top = v >= 0.6;
                let bottom = v <= 0.4;
                counts[0] += usize::from(top && right);
                counts[1] += usize::from(top && left);
                counts[2] += usize::from(bottom && right);
                counts[3] += usize::from(bottom && left);
            }
            let best = (0..4).min_by_key(|&i| counts[i]).unwrap_or(0);
            if counts[best] * 50 > points.len() {
                return None;
            }
            Some(match best {
                0 => SeriesLabelPosition::UpperRight,
                1 => SeriesLabelPosition::UpperLeft,
                2 => SeriesLabelPosition::LowerRight,
                _ => SeriesLabelPosition::LowerLeft,
            })
        }
    }
}

/// Draws the collected series labels as a legend box at `corner`.
pub(crate) fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Coords>,
    corner: Option<SeriesLabelPosition>,
) -> Result<(), FigureError> {
    if let Some(corner) = corner {
        chart
            .configure_series_labels()
            .position(corner)
            .margin(10)
            .legend_area_size(34)
            .label_font(text(LEGEND_SIZE))
            .background_style(RGBColor(255, 255, 255).mix(0.88))
            .border_style(RGBColor(0x99, 0x99, 0x99))
            .draw()
            .map_err(draw_err)?;
    }
    Ok(())
}

/// Samples points along a polyline (in transformed space) so that sparse lines still count
/// when choosing a legend corner.
pub(crate) fn densify(points: &[(f64, f64)], out: &mut Vec<(f64, f64)>) {
    for pair in points.windows(2) {
        for k in 0..8 {
            let t = f64::from(k) / 8.0;
            out.push((
                pair[0].0 + (pair[1].0 - pair[0].0) * t,
                pair[0].1 + (pair[1].1 - pair[0].1) * t,
            ));
        }
    }
    if let Some(&last) = points.last() {
        out.push(last);
    }
}

/// Draws `label` at data point `at` shifted by `offset` pixels, anchored by `(h, v)`, over a
/// translucent white box so reference-line labels stay readable where they cross data.
#[allow(clippy::too_many_arguments)]
pub(crate) fn boxed_label<DB: DrawingBackend>(
    plotting_area: &DrawingArea<DB, Coords>,
    at: (f64, f64),
    offset: (i32, i32),
    label: &str,
    style: TextStyle<'_>,
    h: HPos,
    v: VPos,
) -> Result<(), FigureError> {
    let (w, ht) = plotting_area
        .estimate_text_size(label, &style)
        .map_err(draw_err)?;
    let (w, ht) = (w as i32, ht as i32);
    let (dx, dy) = offset;
    let (x0, x1) = match h {
        HPos::Left => (dx - 3, dx + w + 3),
        HPos::Right => (dx - w - 3, dx + 3),
        HPos::Center => (dx - w / 2 - 3, dx + w / 2 + 3),
    };
    let (y0, y1) = match v {
        VPos::Top => (dy - 2, dy + ht + 3),
        VPos::Bottom => (dy - ht - 3, dy + 2),
        VPos::Center => (dy - ht / 2 - 2, dy + ht / 2 + 2),
    };
    plotting_area
        .draw(
            &(EmptyElement::at(at)
                + Rectangle::new(
                    [(x0, y0), (x1, y1)],
                    RGBColor(255, 255, 255).mix(0.8).filled(),
                )
                + Text::new(label.to_string(), offset, style.pos(Pos::new(h, v)))),
        )
        .map_err(draw_err)
}
