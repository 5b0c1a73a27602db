//! Shared look: the embedded font, the colour-blind-safe palette, colormaps and text sizes.

use std::sync::OnceLock;

use plotters::style::{FontStyle, RGBColor, TextStyle, register_font};

use crate::error::FigureError;

/// Family name used for the registered font, and therefore also in SVG `font-family` attributes.
pub const FONT_FAMILY: &str = "DejaVu Sans";

static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Registers the embedded font with plotters' ab_glyph font table exactly once.
///
/// plotters' `ab_glyph` feature ships no fonts, so text (in PNG rasterisation and in SVG layout
/// estimates) would otherwise fail; registering our own file keeps output independent of the system.
pub fn ensure_font() -> Result<(), FigureError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        register_font(FONT_FAMILY, FontStyle::Normal, FONT_BYTES).is_ok()
            && register_font(FONT_FAMILY, FontStyle::Bold, FONT_BYTES).is_ok()
    });
    if ok { Ok(()) } else { Err(FigureError::Font) }
}

/// Okabe–Ito palette, reordered so that the first colours are the most distinct on white
/// (yellow, which is nearly invisible as a thin line, comes last).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
    RGBColor(0x00, 0x00, 0x00), // black
    RGBColor(0xF0, 0xE4, 0x42), // yellow
];

/// Colour for a series index; indices wrap around the palette so any index is valid.
pub fn palette(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// Neutral colour for reference lines and annotations.
pub const REF_GRAY: RGBColor = RGBColor(0x55, 0x55, 0x55);
/// Grid line colour.
pub const GRID_GRAY: RGBColor = RGBColor(0xDD, 0xDD, 0xDD);
/// Fill for missing / collapsed cells.
pub const MISSING_GRAY: RGBColor = RGBColor(0xC8, 0xC8, 0xC8);

/// Font sizes in pixels as plotters takes them: the PNG glyph height is this size and the SVG
/// `font-size` is this size / 1.24 (plotters' convention), so 18 gives ≥ 14 px in both.
pub const TITLE_SIZE: f64 = 27.0;
/// Panel titles inside a grid.
pub const PANEL_TITLE_SIZE: f64 = 22.0;
/// Axis descriptions.
pub const AXIS_DESC_SIZE: f64 = 21.0;
/// Tick labels.
pub const TICK_SIZE: f64 = 18.0;
/// Legend and annotation text.
pub const LEGEND_SIZE: f64 = 18.0;

/// A black text style of the given size in the embedded family.
pub fn text(size: f64) -> TextStyle<'static> {
    TextStyle::from((FONT_FAMILY, size)).color(&RGBColor(0, 0, 0))
}

/// Mixes `color` towards white; `amount` = 0 keeps the colour, 1 gives white.
pub fn lighten(color: RGBColor, amount: f64) -> RGBColor {
    let mix = |c: u8| (f64::from(c) + (255.0 - f64::from(c)) * amount).round() as u8;
    RGBColor(mix(color.0), mix(color.1), mix(color.2))
}

/// Continuous colour scales for heatmaps and image grids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Colormap {
    /// Perceptually uniform dark-blue → yellow (matplotlib's default); safe for colour-blind readers.
    #[default]
    Viridis,
    /// Black → red → pale yellow; good for saliency maps such as Grad-CAM.
    Inferno,
    /// Black → white.
    Gray,
}

const VIRIDIS: [(u8, u8, u8); 11] = [
    (68, 1, 84),
    (72, 36, 117),
    (65, 68, 135),
    (53, 95, 141),
    (42, 120, 142),
    (33, 145, 140),
    (34, 168, 132),
    (68, 191, 112),
    (122, 209, 81),
    (189, 223, 38),
    (253, 231, 37),
];

const INFERNO: [(u8, u8, u8); 11] = [
    (0, 0, 4),
    (22, 11, 57),
    (66, 10, 104),
    (106, 23, 110),
    (147, 38, 103),
    (188, 55, 84),
    (221, 81, 58),
    (243, 120, 25),
    (252, 165, 10),
    (246, 215, 70),
    (252, 255, 164),
];

impl Colormap {
    /// Colour at `t` ∈ [0, 1] (clamped; NaN maps to 0), linearly interpolated between anchors.
    pub fn color(self, t: f64) -> RGBColor {
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let table = match self {
            Colormap::Viridis => &VIRIDIS,
            Colormap::Inferno => &INFERNO,
            Colormap::Gray => {
                let v = (t * 255.0).round() as u8;
                return RGBColor(v, v, v);
            }
        };
        let scaled = t * (table.len() - 1) as f64;
        let index = (scaled.floor() as usize).min(table.len() - 2);
        let frac = scaled - index as f64;
        let lerp =
            |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * frac).round() as u8;
        let (a, b) = (table[index], table[index + 1]);
        RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colormap_endpoints_match_tables() {
        assert_eq!(Colormap::Viridis.color(0.0), RGBColor(68, 1, 84));
        assert_eq!(Colormap::Viridis.color(1.0), RGBColor(253, 231, 37));
        assert_eq!(Colormap::Inferno.color(2.0), RGBColor(252, 255, 164));
        assert_eq!(Colormap::Gray.color(0.5), RGBColor(128, 128, 128));
        assert_eq!(Colormap::Gray.color(f64::NAN), RGBColor(0, 0, 0));
    }

    #[test]
    fn palette_wraps() {
        assert_eq!(palette(0), palette(PALETTE.len()));
        assert_ne!(palette(0), palette(1));
    }

    #[test]
    fn font_registers() {
        ensure_font().expect("embedded font parses");
    }
}
