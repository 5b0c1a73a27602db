//! IDX reader for MNIST (gzip or raw) with SHA-256 and header verification.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};

use crate::error::{Result, VisionError};

/// Side length of an MNIST image.
pub const SIDE: usize = 28;
/// Pixels per MNIST image.
pub const PIXELS: usize = SIDE * SIDE;
/// IDX magic for an unsigned-byte rank-3 tensor (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// IDX magic for an unsigned-byte rank-1 tensor (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// File names of the four genuine MNIST files, as shipped in `data/mnist/`.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte.gz";
/// Training labels.
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte.gz";
/// Test images.
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte.gz";
/// Test labels.
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte.gz";
/// The checksum list shipped beside them (`sha256sum` format).
pub const CHECKSUMS: &str = "SHA256SUMS";

/// A `sha256sum`-style list: file name → lowercase hex digest.
#[derive(Debug, Clone)]
pub struct Checksums {
    path: PathBuf,
    digests: HashMap<String, String>,
}

impl Checksums {
    /// Parses a `sha256sum` output file (`<hex>  <name>` per line, `*` binary marker allowed).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| io_error(path, source))?;
        let mut digests = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let syntax = || VisionError::ChecksumSyntax {
                path: path.to_path_buf(),
                line: index + 1,
            };
            let (hex, name) = line.split_once(char::is_whitespace).ok_or_else(syntax)?;
            let name = name.trim_start().trim_start_matches('*');
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) || name.is_empty() {
                return Err(syntax());
            }
            digests.insert(name.to_string(), hex.to_ascii_lowercase());
        }
        Ok(Self {
            path: path.to_path_buf(),
            digests,
        })
    }

    /// Checks `bytes` (the file as stored, e.g. the `.gz`) against the digest listed for `path`'s name.
    pub fn verify(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let expected = self
            .digests
            .get(&name)
            .ok_or_else(|| VisionError::ChecksumNotListed {
                path: path.to_path_buf(),
                sums: self.path.clone(),
            })?;
        let found = sha256_hex(bytes);
        if &found != expected {
            return Err(VisionError::Checksum {
                path: path.to_path_buf(),
                expected: expected.clone(),
                found,
            });
        }
        Ok(())
    }
}

/// The four data files of [`Mnist::load`], in the order they are checked.
pub const FILES: [&str; 4] = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS];

/// Checks every file of [`FILES`] in `dir` against `dir/SHA256SUMS` without decoding anything: the
/// cheap test (one SHA-256 pass over 11 MB) that the data a run is about to use are the shipped
/// ones. The first missing or mismatching file is the error.
pub fn verify_checksums(dir: &Path) -> Result<()> {
    let sums_path = dir.join(CHECKSUMS);
    if !sums_path.exists() {
        return Err(VisionError::Missing {
            path: sums_path,
            expected: "a sha256sum list for the MNIST files".into(),
        });
    }
    let sums = Checksums::from_file(&sums_path)?;
    for name in FILES {
        let path = dir.join(name);
        let stored = std::fs::read(&path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                VisionError::Missing {
                    path: path.clone(),
                    expected: "a gzip-compressed IDX file".into(),
                }
            } else {
                io_error(&path, source)
            }
        })?;
        sums.verify(&path, &stored)?;
    }
    Ok(())
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Images of one IDX file: `count` row-major 28×28 images of raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// `count * 784` bytes, image after image, row-major.
    pub pixels: Vec<u8>,
}

/// Reads an IDX image file (gzip when the name ends in `.gz`, raw otherwise).
///
/// With `checksums`, the stored bytes are verified first, so a corrupt download is reported as a
/// checksum mismatch rather than as a confusing header error.
pub fn read_images(path: &Path, checksums: Option<&Checksums>) -> Result<IdxImages> {
    let bytes = read_idx_bytes(path, checksums, "an IDX image file (magic 0x803)")?;
    let (count, header) = parse_header(path, &bytes, IMAGES_MAGIC, 16)?;
    let rows = be_u32(&bytes[8..12]);
    let cols = be_u32(&bytes[12..16]);
    if rows as usize != SIDE || cols as usize != SIDE {
        return Err(VisionError::BadDims {
            path: path.to_path_buf(),
            rows,
            cols,
        });
    }
    check_length(path, bytes.len(), header + count * PIXELS)?;
    Ok(IdxImages {
        count,
        pixels: bytes[header..].to_vec(),
    })
}

/// Reads an IDX label file (gzip when the name ends in `.gz`, raw otherwise); every label must be a digit.
pub fn read_labels(path: &Path, checksums: Option<&Checksums>) -> Result<Vec<u8>> {
    let bytes = read_idx_bytes(path, checksums, "an IDX label file (magic 0x801)")?;
    let (count, header) = parse_header(path, &bytes, LABELS_MAGIC, 8)?;
    check_length(path, bytes.len(), header + count)?;
    let labels = bytes[header..].to_vec();
    if let Some((index, &label)) = labels.iter().enumerate().find(|(_, l)| **l > 9) {
        return Err(VisionError::BadLabel {
            path: path.to_path_buf(),
            index,
            label,
        });
    }
    Ok(labels)
}

/// One split (train or test): images in [0, 1] and digit labels.
#[derive(Debug, Clone)]
pub struct MnistSplit {
    /// `len * 784` intensities in [0, 1] (byte / 255), image after image.
    pub images: Vec<f32>,
    /// Digit labels 0..=9.
    pub labels: Vec<u8>,
}

impl MnistSplit {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The 784 intensities of example `index`.
    pub fn image(&self, index: usize) -> &[f32] {
        &self.images[index * PIXELS..(index + 1) * PIXELS]
    }

    /// Reads an image file and a label file and checks that their counts agree.
    pub fn read(images: &Path, labels: &Path, checksums: Option<&Checksums>) -> Result<Self> {
        let idx_images = read_images(images, checksums)?;
        let idx_labels = read_labels(labels, checksums)?;
        if idx_images.count != idx_labels.len() {
            return Err(VisionError::CountMismatch {
                images: images.to_path_buf(),
                labels: labels.to_path_buf(),
                n_images: idx_images.count,
                n_labels: idx_labels.len(),
            });
        }
        Ok(Self {
            images: idx_images
                .pixels
                .iter()
                .map(|&b| f32::from(b) / 255.0)
                .collect(),
            labels: idx_labels,
        })
    }
}

/// Genuine MNIST: 60 000 training and 10 000 test images.
#[derive(Debug, Clone)]
pub struct Mnist {
    /// The training split.
    pub train: MnistSplit,
    /// The test split.
    pub test: MnistSplit,
}

impl Mnist {
    /// Loads the four standard `.gz` files from `dir`, verifying each against `dir/SHA256SUMS`
    /// (which must exist: the data ship with their checksums).
    pub fn load(dir: &Path) -> Result<Self> {
        let sums_path = dir.join(CHECKSUMS);
        if !sums_path.exists() {
            return Err(VisionError::Missing {
                path: sums_path,
                expected: "a sha256sum list for the MNIST files".into(),
            });
        }
        let sums = Checksums::from_file(&sums_path)?;
        Ok(Self {
            train: MnistSplit::read(
                &dir.join(TRAIN_IMAGES),
                &dir.join(TRAIN_LABELS),
                Some(&sums),
            )?,
            test: MnistSplit::read(&dir.join(TEST_IMAGES), &dir.join(TEST_LABELS), Some(&sums))?,
        })
    }
}

fn io_error(path: &Path, source: std::io::Error) -> VisionError {
    VisionError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn read_idx_bytes(path: &Path, checksums: Option<&Checksums>, expected: &str) -> Result<Vec<u8>> {
    let stored = std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            VisionError::Missing {
                path: path.to_path_buf(),
                expected: expected.to_string(),
            }
        } else {
            io_error(path, source)
        }
    })?;
    if let Some(sums) = checksums {
        sums.verify(path, &stored)?;
    }
    if path.extension().is_some_and(|e| e == "gz") {
        let mut raw = Vec::with_capacity(stored.len() * 8);
        GzDecoder::new(stored.as_slice())
            .read_to_end(&mut raw)
            .map_err(|source| VisionError::Gzip {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(raw)
    } else {
        Ok(stored)
    }
}

fn be_u32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Checks the magic and returns (count, header length); `header` is the full header size.
fn parse_header(path: &Path, bytes: &[u8], magic: u32, header: usize) -> Result<(usize, usize)> {
    if bytes.len() < 4 {
        return Err(VisionError::Truncated {
            path: path.to_path_buf(),
            expected: header,
            found: bytes.len(),
        });
    }
    let found = be_u32(&bytes[0..4]);
    if found != magic {
        return Err(VisionError::BadMagic {
            path: path.to_path_buf(),
            expected: magic,
            found,
        });
    }
    if bytes.len() < header {
        return Err(VisionError::Truncated {
            path: path.to_path_buf(),
            expected: header,
            found: bytes.len(),
        });
    }
    Ok((be_u32(&bytes[4..8]) as usize, header))
}

fn check_length(path: &Path, found: usize, expected: usize) -> Result<()> {
    match found.cmp(&expected) {
        std::cmp::Ordering::Less => Err(VisionError::Truncated {
            path: path.to_path_buf(),
            expected,
            found,
        }),
        std::cmp::Ordering::Greater => Err(VisionError::TrailingData {
            path: path.to_path_buf(),
            expected,
            found,
        }),
        std::cmp::Ordering::Equal => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn idx_images(count: u32, rows: u32, cols: u32, magic: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        for word in [magic, count, rows, cols] {
            bytes.extend_from_slice(&word.to_be_bytes());
        }
        bytes.extend((0..count as usize * rows as usize * cols as usize).map(|i| (i % 251) as u8));
        bytes
    }

    fn idx_labels(labels: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
        bytes.extend_from_slice(&(labels.len() as u32).to_be_bytes());
        bytes.extend_from_slice(labels);
        bytes
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn reads_gzip_and_raw_pairs_and_verifies_checksums() {
        let dir = tempfile::tempdir().unwrap();
        let images = idx_images(3, 28, 28, IMAGES_MAGIC);
        let labels = idx_labels(&[7, 0, 9]);
        let gz_images = write(dir.path(), "img.gz", &gzip(&images));
        let gz_labels = write(dir.path(), "lab.gz", &gzip(&labels));
        // Digests are of the files as stored (the .gz bytes), exactly like data/mnist/SHA256SUMS.
        let sums = format!(
            "{}  img.gz\n{} *lab.gz\n",
            sha256_hex(&std::fs::read(&gz_images).unwrap()),
            sha256_hex(&std::fs::read(&gz_labels).unwrap())
        );
        let sums_path = write(dir.path(), "SHA256SUMS", sums.as_bytes());
        let checksums = Checksums::from_file(&sums_path).unwrap();
        let split = MnistSplit::read(&gz_images, &gz_labels, Some(&checksums)).unwrap();
        assert_eq!(split.labels, vec![7, 0, 9]);
        assert_eq!(split.len(), 3);
        // Pixel k of the payload is k mod 251, scaled by 1/255.
        assert_eq!(split.image(1)[0], (784 % 251) as f32 / 255.0);
        let raw_images = write(dir.path(), "img.idx", &images);
        let raw_labels = write(dir.path(), "lab.idx", &labels);
        let raw = MnistSplit::read(&raw_images, &raw_labels, None).unwrap();
        assert_eq!(raw.images, split.images);
    }

    #[test]
    fn missing_file_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.gz");
        let err = read_labels(&path, None).unwrap_err();
        assert!(matches!(err, VisionError::Missing { .. }), "{err:?}");
        assert!(err.to_string().contains("absent.gz"), "{err}");
        let err = Mnist::load(dir.path()).unwrap_err();
        assert!(err.to_string().contains(CHECKSUMS), "{err}");
    }

    #[test]
    fn truncated_raw_and_gzip_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let images = idx_images(2, 28, 28, IMAGES_MAGIC);
        let short = write(dir.path(), "short.idx", &images[..images.len() - 1]);
        match read_images(&short, None).unwrap_err() {
            VisionError::Truncated {
                path,
                expected,
                found,
            } => {
                assert_eq!(path, short);
                assert_eq!((expected, found), (16 + 2 * 784, 16 + 2 * 784 - 1));
            }
            other => panic!("expected Truncated, got {other:?}"),
        }
        let header_only = write(dir.path(), "hdr.idx", &images[..10]);
        assert!(matches!(
            read_images(&header_only, None).unwrap_err(),
            VisionError::Truncated {
                expected: 16,
                found: 10,
                ..
            }
        ));
        let gz = gzip(&images);
        let cut = write(dir.path(), "cut.gz", &gz[..gz.len() / 2]);
        let err = read_images(&cut, None).unwrap_err();
        assert!(matches!(err, VisionError::Gzip { .. }), "{err:?}");
        assert!(err.to_string().contains("cut.gz"), "{err}");
        let long = write(dir.path(), "long.idx", &[images.as_slice(), &[0]].concat());
        assert!(matches!(
            read_images(&long, None).unwrap_err(),
            VisionError::TrailingData { .. }
        ));
    }

    #[test]
    fn bad_magic_dims_labels_and_counts_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let swapped = write(dir.path(), "swapped.idx", &idx_labels(&[1, 2]));
        let err = read_images(&swapped, None).unwrap_err();
        assert!(
            matches!(
                err,
                VisionError::BadMagic {
                    expected: IMAGES_MAGIC,
                    found: LABELS_MAGIC,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("0x00000803"), "{err}");
        let wide = write(dir.path(), "wide.idx", &idx_images(1, 28, 27, IMAGES_MAGIC));
        assert!(matches!(
            read_images(&wide, None).unwrap_err(),
            VisionError::BadDims {
                rows: 28,
                cols: 27,
                ..
            }
        ));
        let bad_label = write(dir.path(), "bad.idx", &idx_labels(&[1, 10]));
        assert!(matches!(
            read_labels(&bad_label, None).unwrap_err(),
            VisionError::BadLabel {
                index: 1,
                label: 10,
                ..
            }
        ));
        let images = write(dir.path(), "i.idx", &idx_images(2, 28, 28, IMAGES_MAGIC));
        let labels = write(dir.path(), "l.idx", &idx_labels(&[1, 2, 3]));
        assert!(matches!(
            MnistSplit::read(&images, &labels, None).unwrap_err(),
            VisionError::CountMismatch {
                n_images: 2,
                n_labels: 3,
                ..
            }
        ));
    }

    #[test]
    fn checksum_mismatch_and_unlisted_file_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let labels = write(dir.path(), "lab.idx", &idx_labels(&[1, 2]));
        let other = write(dir.path(), "other.idx", &idx_labels(&[3]));
        let wrong = "0".repeat(64);
        let sums_path = write(dir.path(), "SUMS", format!("{wrong}  lab.idx\n").as_bytes());
        let sums = Checksums::from_file(&sums_path).unwrap();
        match read_labels(&labels, Some(&sums)).unwrap_err() {
            VisionError::Checksum {
                path,
                expected,
                found,
            } => {
                assert_eq!(path, labels);
                assert_eq!(expected, wrong);
                assert_eq!(found, sha256_hex(&std::fs::read(&labels).unwrap()));
            }
            other => panic!("expected Checksum, got {other:?}"),
        }
        assert!(matches!(
            read_labels(&other, Some(&sums)).unwrap_err(),
            VisionError::ChecksumNotListed { .. }
        ));
        let garbled = write(dir.path(), "GARBLED", b"abc lab.idx\n");
        assert!(matches!(
            Checksums::from_file(&garbled).unwrap_err(),
            VisionError::ChecksumSyntax { line: 1, .. }
        ));
    }

    #[test]
    fn sha256_matches_the_standard_test_vector() {
        // FIPS 180-2 test vector for "abc".
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn real_test_labels_verify_and_sum_to_ten_thousand() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist");
        let sums = Checksums::from_file(&dir.join(CHECKSUMS)).unwrap();
        let labels = read_labels(&dir.join(TEST_LABELS), Some(&sums)).unwrap();
        let mut histogram = [0usize; 10];
        for &label in &labels {
            histogram[label as usize] += 1;
        }
        assert_eq!(histogram.iter().sum::<usize>(), 10_000);
        // The published t10k class counts (LeCun's MNIST page): every digit is present.
        assert_eq!(
            histogram,
            [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
        );
    }
}
