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
