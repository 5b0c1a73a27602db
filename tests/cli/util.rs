//! Shared helpers for driving the real binary.

use std::path::Path;
use std::process::{Command, Output};

/// Path of the `minorfirst` binary built for these tests.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_minorfirst")
}

/// Run `minorfirst` with `args` in `dir` and capture its output.
#[allow(dead_code)]
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("spawn minorfirst")
}

/// A temp copy of the repository's pipeline (`pipeline.toml`, `expectations.toml`, a link to `data/`).
pub fn quick_project() -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    for file in ["pipeline.toml", "expectations.toml"] {
        std::fs::copy(root.join(file), dir.path().join(file)).unwrap();
    }
    std::os::unix::fs::symlink(root.join("data"), dir.path().join("data")).unwrap();
    dir
}
