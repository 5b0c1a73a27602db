//! The crate's single error type.

use std::path::PathBuf;

/// Everything that can go wrong while reading MNIST or configuring a run.
///
/// Messages are lowercase fragments that read naturally after "failed to …".
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    /// A data file (or the checksum list) does not exist.
    #[error("find {path}: the file is missing (expected {expected})")]
    Missing {
        /// The path that was looked up.
        path: PathBuf,
        /// What the file should have contained.
        expected: String,
    },
    /// Any other I/O failure while reading a file.
    #[error("read {path}")]
    Io {
        /// The file being read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The gzip stream ended early or is corrupt.
    #[error("decompress {path}: the gzip stream is truncated or corrupt")]
    Gzip {
        /// The file being decompressed.
        path: PathBuf,
        /// The underlying decoder error.
        #[source]
        source: std::io::Error,
    },
    /// The file's SHA-256 differs from the checksum list.
    #[error("verify {path}: expected sha256 {expected}, found {found}")]
    Checksum {
        /// The file whose digest was computed.
        path: PathBuf,
        /// The digest listed in the checksum file.
        expected: String,
        /// The digest of the bytes on disk.
        found: String,
    },
    /// The checksum list has no line for a file.
    #[error("verify {path}: no checksum for it in {sums}")]
    ChecksumNotListed {
        /// The file that should have been listed.
        path: PathBuf,
        /// The checksum list.
        sums: PathBuf,
    },
    /// The checksum list has a malformed line.
    #[error("parse {path} line {line}: expected '<64 hex digits>  <file name>'")]
    ChecksumSyntax {
        /// The checksum list.
        path: PathBuf,
        /// One-based line number.
        line: usize,
    },
    /// The IDX magic number is not the one for this kind of file.
    #[error("parse {path}: bad magic {found:#010x}, expected {expected:#010x}")]
    BadMagic {
        /// The IDX file.
        path: PathBuf,
        /// 0x00000803 for images, 0x00000801 for labels.
        expected: u32,
        /// The first four bytes as a big-endian integer.
        found: u32,
    },
    /// The image dimensions in the header are not 28×28.
    #[error("parse {path}: images are {rows}x{cols}, expected 28x28")]
    BadDims {
        /// The IDX file.
        path: PathBuf,
        /// Rows in the header.
        rows: u32,
        /// Columns in the header.
        cols: u32,
    },
    /// The (decompressed) file is shorter than its header says.
    #[error("parse {path}: truncated, expected {expected} bytes, found {found}")]
    Truncated {
        /// The IDX file.
        path: PathBuf,
        /// Header length plus payload length implied by the header.
        expected: usize,
        /// Bytes actually present.
        found: usize,
    },
    /// The (decompressed) file is longer than its header says.
    #[error("parse {path}: trailing data, expected exactly {expected} bytes, found {found}")]
    TrailingData {
        /// The IDX file.
        path: PathBuf,
        /// Header length plus payload length implied by the header.
        expected: usize,
        /// Bytes actually present.
        found: usize,
    },
    /// A label byte is not a digit.
    #[error("parse {path}: label {label} at index {index}, expected 0..=9")]
    BadLabel {
        /// The IDX label file.
        path: PathBuf,
        /// Position of the offending label.
        index: usize,
        /// The offending byte.
        label: u8,
    },
    /// The image and label files disagree on the number of examples.
    #[error("pair {images} with {labels}: {n_images} images but {n_labels} labels")]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// The label file.
        labels: PathBuf,
        /// Count in the image header.
        n_images: usize,
        /// Count in the label header.
        n_labels: usize,
    },
    /// A task or training configuration is invalid.
    #[error("configure {what}: {reason}")]
    InvalidConfig {
        /// The configuration item.
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },
}

/// Result alias for this crate.
pub type Result<T, E = VisionError> = std::result::Result<T, E>;
