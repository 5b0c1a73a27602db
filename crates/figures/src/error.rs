//! The crate's single error type.

use std::path::PathBuf;

/// Everything that can go wrong while rendering a figure.
#[derive(Debug, thiserror::Error)]
pub enum FigureError {
    /// The embedded DejaVuSans font could not be parsed or registered.
    #[error("register the embedded font")]
    Font,
    /// Nothing drawable: every point was non-finite (or non-positive on a log axis).
    #[error("draw figure {figure:?}: no finite data points to draw")]
    NoData {
        /// Title of the offending figure or panel.
        figure: String,
    },
    /// A fixed axis or colour range is empty, reversed, non-finite, or not positive on a log scale.
    #[error(
        "use {what} range [{lo}, {hi}]: must be finite, increasing and positive on a log scale"
    )]
    InvalidRange {
        /// Which range (x axis, y axis, colour).
        what: &'static str,
        /// Lower end as given.
        lo: f64,
        /// Upper end as given.
        hi: f64,
    },
    /// Input arrays whose lengths disagree.
    #[error("match dimensions of {what}: expected {expected}, got {got}")]
    Dimension {
        /// Which input.
        what: String,
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// plotters reported a drawing error.
    #[error("draw with plotters: {message}")]
    Draw {
        /// The backend's message.
        message: String,
    },
    /// Creating, writing or renaming an output file failed.
    #[error("write {path}")]
    Io {
        /// The file being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Converts any plotters drawing error into [`FigureError::Draw`].
pub(crate) fn draw_err<E: std::fmt::Display>(error: E) -> FigureError {
    FigureError::Draw {
        message: error.to_string(),
    }
}
