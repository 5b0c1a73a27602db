//! Helpers shared by the MNIST kinds: parameter specs, the data directory, series statistics.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use vision::error::VisionError;
use vision::mnist::Mnist;

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

/// The preflight of every MNIST kind: the data files in `dir` (as [`data_dir`] resolves it) match
/// their `SHA256SUMS`. Damaged input data are bad input, so this runs before any task and fails
/// with one line that names the file, the expected digest and where the canonical copy is. Each
/// directory is hashed once per process (a run checks it for every task it is about to execute).
pub fn check_data(dir: &str) -> Result<(), String> {
    static CHECKED: OnceLock<Mutex<BTreeMap<PathBuf, Result<(), String>>>> = OnceLock::new();
    let resolved = data_dir(dir);
    let mut checked = CHECKED
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    checked
        .entry(resolved.clone())
        .or_insert_with(|| {
            vision::mnist::verify_checksums(&resolved).map_err(|error| data_error(&error))
        })
        .clone()
}

/// MNIST from `dir` (as [`data_dir`] resolves it), decoded once per process and shared: a run
/// executes hundreds of MNIST tasks, and decoding the gzip IDX files (≈ 220 MB of f32) for each
/// would cost more than many of the tasks themselves. A failed load is not kept (the next call
/// retries and reports the error again).
pub fn load_mnist(dir: &str) -> Result<Arc<Mnist>, VisionError> {
    static LOADED: OnceLock<Mutex<BTreeMap<PathBuf, Arc<Mnist>>>> = OnceLock::new();
    let resolved = data_dir(dir);
    let mut loaded = LOADED
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(mnist) = loaded.get(&resolved) {
        return Ok(Arc::clone(mnist));
    }
    let mnist = Arc::new(Mnist::load(&resolved)?);
    loaded.insert(resolved, Arc::clone(&mnist));
    Ok(mnist)
}

/// One line for a data file that failed its check: what is wrong, and how to get the real file.
fn data_error(error: &VisionError) -> String {
    const RESTORE: &str = "restore the canonical copy, which ships with the repository in \
        data/mnist/ (`git checkout -- data/mnist`; its origin is in data/mnist/README.md)";
    match error {
        VisionError::Checksum {
            path,
            expected,
            found,
        } => format!(
            "MNIST file {} is damaged: expected sha256 {expected} (from SHA256SUMS beside it), \
             found {found}; {RESTORE}",
            path.display()
        ),
        VisionError::Missing { path, .. } => {
            format!("MNIST file {} is missing; {RESTORE}", path.display())
        }
        other => format!("MNIST data: failed to {other}; {RESTORE}"),
    }
}

/// Multiply-adds of one forward pass of the MNIST CNN on one image: conv₁ (3×3, 1 → c₁ at
/// side²), conv₂ (3×3, c₁ → c₂ at (side/2)²) and the linear head (c₂·(side/4)² → outputs).
pub fn cnn_forward_ops(outputs: usize) -> f64 {
    let config = vision::cnn::CnnConfig::mnist(outputs, 1.0, 0);
    let [c1, c2] = config.channels;
    let side = config.side;
    let conv1 = side * side * c1 * 9;
    let conv2 = (side / 2) * (side / 2) * c2 * c1 * 9;
    let head = c2 * (side / 4) * (side / 4) * outputs;
    (conv1 + conv2 + head) as f64
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
