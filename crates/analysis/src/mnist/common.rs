//! Helpers shared by the MNIST kinds: parameter specs, the data directory, series statistics.

use std::path::{Path, PathBuf};

pub use crate::params::{choice, float, int, int_vec, string};

use crate::error::AnalysisError;

/// Report section of every MNIST figure and claim.
pub const SECTION: &str = "mnist";

/// The MNIST directory: `dir` as given when it exists (relative to the working directory, which is
/// the repository root for the binary), else relative to the repository root of this build (so tests
/// run from the crate directory find `data/mnist` too).
pub fn data_dir(dir: &str) -> PathBuf {
    let given = PathBuf::from(dir);
    if given.is_absolute() || given.exists() {
        return given;
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(dir)
}

/// Mean, minimum and maximum of a non-empty list (NaN entries are skipped; all NaN → NaN).
pub fn spread(values: &[f64]) -> (f64, f64, f64) {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let mean = finite.iter().sum::<f64>() / finite.len() as f64;
    let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (mean, min, max)
}

/// Convert a figures error into the crate error (a figure is part of the task's result).
pub fn figure_error(error: figures::FigureError) -> AnalysisError {
    AnalysisError::invalid(format!("failed to render a figure: {error}"))
}

/// Writes `values` as little-endian f32 (compact storage of Grad-CAM maps and images).
pub fn write_f32(path: &Path, values: &[f32]) -> Result<(), AnalysisError> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).map_err(|source| AnalysisError::io(path, source))
}

/// Reads a file written by [`write_f32`].
pub fn read_f32(path: &Path) -> Result<Vec<f32>, AnalysisError> {
    let bytes = std::fs::read(path).map_err(|source| AnalysisError::io(path, source))?;
    if !bytes.len().is_multiple_of(4) {
        return Err(AnalysisError::invalid(format!(
            "{} has {} bytes, not a whole number of f32 values",
            path.display(),
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_skips_nan_and_f32_files_round_trip() {
        assert_eq!(spread(&[1.0, f64::NAN, 3.0]), (2.0, 1.0, 3.0));
        assert!(spread(&[f64::NAN]).0.is_nan());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.f32");
        let values = [0.0f32, -1.5, 3.25e-7, f32::MAX];
        write_f32(&path, &values).unwrap();
        assert_eq!(read_f32(&path).unwrap(), values);
        std::fs::write(&path, [0u8; 3]).unwrap();
        assert!(read_f32(&path).is_err());
    }
}
