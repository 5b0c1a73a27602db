//! Computes implementation fingerprints at build time: a blake3 digest of every source file of this
//! crate and of each domain crate it builds on, so a task key changes exactly when the code that
//! produces it changes (no version numbers to remember to bump).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Digest of a set of files, keyed by their path relative to `root` (sorted, so it is stable).
fn digest(root: &Path, files: &[PathBuf]) -> String {
    let mut hasher = blake3::Hasher::new();
    let mut files = files.to_vec();
    files.sort();
    for file in &files {
        let relative = file
            .strip_prefix(root)
            .unwrap_or(file)
            .to_string_lossy()
            .replace('\\', "/");
        let bytes = std::fs::read(file).unwrap_or_default();
        hasher.update(relative.as_bytes());
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    hasher.finalize().to_hex().to_string()
}

fn main() {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let crates = manifest.parent().expect("crates/ directory").to_path_buf();
    let mut code = String::from(
        "/// Per-file digests of this crate's `src/` (path relative to `src/`, blake3 hex).\n",
    );
    code.push_str("pub const FILES: &[(&str, &str)] = &[\n");
    let src = manifest.join("src");
    let mut files = Vec::new();
    collect(&src, &mut files);
    files.sort();
    for file in &files {
        let relative = file
            .strip_prefix(&src)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        writeln!(
            code,
            "    ({relative:?}, {:?}),",
            digest(&src, std::slice::from_ref(file))
        )
        .expect("write to string");
    }
    code.push_str("];\n/// Digests of the domain crates stages build on (src/, assets/, templates/ and Cargo.toml).\n");
    code.push_str("pub const CRATES: &[(&str, &str)] = &[\n");
    println!("cargo::rerun-if-changed=src");
    for name in ["numerics", "figures", "report", "vision"] {
        let root = crates.join(name);
        let mut files = vec![root.join("Cargo.toml")];
        for sub in ["src", "assets", "templates"] {
            collect(&root.join(sub), &mut files);
            // A rerun-if-changed on a missing path makes cargo rerun this script on every build.
            if root.join(sub).exists() {
                println!("cargo::rerun-if-changed={}", root.join(sub).display());
            }
        }
        println!(
            "cargo::rerun-if-changed={}",
            root.join("Cargo.toml").display()
        );
        writeln!(code, "    ({name:?}, {:?}),", digest(&root, &files)).expect("write to string");
    }
    code.push_str("];\n");
    // Versions of the toolchain and key dependencies, for the report's provenance.
    code.push_str("/// (name, version) of rustc and of the main dependencies, from Cargo.lock.\n");
    code.push_str("pub const VERSIONS: &[(&str, &str)] = &[\n");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .unwrap_or_default();
    writeln!(
        code,
        "    (\"rustc\", {:?}),",
        rustc_version.trim().trim_start_matches("rustc ")
    )
    .expect("write to string");
    let lock_path = crates.parent().expect("workspace root").join("Cargo.lock");
    println!("cargo::rerun-if-changed={}", lock_path.display());
    let lock = std::fs::read_to_string(&lock_path).unwrap_or_default();
    for wanted in [
        "polars",
        "plotters",
        "tera",
        "burn",
        "clarabel",
        "rayon",
        "blake3",
        "indicatif",
    ] {
        let mut lines = lock.lines();
        while let Some(line) = lines.next() {
            if line == format!("name = \"{wanted}\"") {
                if let Some(version) = lines.next().and_then(|v| v.strip_prefix("version = ")) {
                    writeln!(code, "    ({wanted:?}, {version}),").expect("write to string");
                }
                break;
            }
        }
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("fingerprints.rs");
    std::fs::write(out, code).expect("write fingerprints.rs");
}
