//! Writing one figure to both SVG and PNG, atomically (temp file + rename).

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::{
    BitMapBackend, DrawingArea, DrawingBackend, IntoDrawingArea, SVGBackend, WHITE,
};

use crate::error::{FigureError, draw_err};
use crate::style::ensure_font;

/// Paths and pixel size of a rendered figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The written `.svg` file.
    pub svg: PathBuf,
    /// The written `.png` file.
    pub png: PathBuf,
    /// Width in pixels (PNG) / user units (SVG).
    pub width: u32,
    /// Height in pixels (PNG) / user units (SVG).
    pub height: u32,
}

/// A figure that can draw itself on any plotters backend.
pub(crate) trait Draw {
    /// Canvas size in pixels.
    fn size(&self) -> (u32, u32);
    /// Checks inputs before any file is touched, so a bad figure leaves no partial output.
    fn validate(&self) -> Result<(), FigureError>;
    /// Draws onto a white canvas of [`Draw::size`].
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), FigureError>;
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> FigureError + '_ {
    move |source| FigureError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Output path `stem.ext`, keeping any dots already in the stem's file name.
fn with_extension(stem: &Path, extension: &str) -> PathBuf {
    let mut name = stem.as_os_str().to_owned();
    name.push(".");
    name.push(extension);
    PathBuf::from(name)
}

/// Renders `figure` to `stem.svg` and `stem.png`, creating the parent directory if needed.
pub(crate) fn render<F: Draw>(figure: &F, stem: &Path) -> Result<Rendered, FigureError> {
    ensure_font()?;
    figure.validate()?;
    let (width, height) = figure.size();
    if let Some(parent) = stem.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    let svg = with_extension(stem, "svg");
    let png = with_extension(stem, "png");

    let mut svg_text = String::new();
    {
        let area = SVGBackend::with_string(&mut svg_text, (width, height)).into_drawing_area();
        area.fill(&WHITE).map_err(draw_err)?;
        figure.draw(&area)?;
        area.present().map_err(draw_err)?;
    }
    let svg_text = crate::compact::compact_svg(&svg_text);
    atomicfile::write(&svg, svg_text.as_bytes(), atomicfile::Durability::None)
        .map_err(io_error(&svg))?;

    // The PNG encoder picks the format from the file name: the temp file keeps the extension.
    let png_temp = atomicfile::Replacement::keeping_extension(&png);
    {
        let area = BitMapBackend::new(png_temp.path(), (width, height)).into_drawing_area();
        area.fill(&WHITE).map_err(draw_err)?;
        figure.draw(&area)?;
        area.present().map_err(draw_err)?;
    }
    png_temp
        .commit(atomicfile::Durability::None)
        .map_err(io_error(&png))?;
    Ok(Rendered {
        svg,
        png,
        width,
        height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_keeps_dots_in_stem() {
        let path = with_extension(Path::new("out/fig.v1"), "svg");
        assert_eq!(path, PathBuf::from("out/fig.v1.svg"));
    }
}
