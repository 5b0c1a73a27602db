//! Implementation fingerprints: a blake3 digest of the source that implements a stage kind.
//!
//! A crate implementing kinds computes its fingerprint at build time in `build.rs`:
//!
//! ```no_run
//! // build.rs (with `[build-dependencies] pipeline.workspace = true`)
//! pipeline::fingerprint::emit("MINORFIRST_FINGERPRINT", &["src", "Cargo.toml"]);
//! ```
//!
//! and returns it from [`crate::StageKind::fingerprint`] as `env!("MINORFIRST_FINGERPRINT")`.
//! Editing any hashed file changes the digest, which changes every task key of the crate's kinds
//! and therefore of their dependents; nobody has to remember to bump a version.

use std::path::{Path, PathBuf};

/// Digest of one source text (used for kinds whose implementation is a single file, such as the
/// toy kinds: `fingerprint::of_source(include_str!("toy.rs"))`).
pub fn of_source(text: &str) -> String {
    blake3::hash(text.as_bytes()).to_hex().to_string()
}

/// Digest of the files under `paths` (files or directories, relative to `root`), walked in sorted
/// order; each file contributes its relative path and its contents, so renames count as edits.
pub fn of_paths(root: &Path, paths: &[&str]) -> std::io::Result<String> {
    let mut files = Vec::new();
    for path in paths {
        collect(&root.join(path), &mut files)?;
    }
    files.sort();
    let mut hasher = blake3::Hasher::new();
    for file in &files {
        let relative = file.strip_prefix(root).unwrap_or(file);
        let name = relative.to_string_lossy().replace('\\', "/");
        hasher.update(&(name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        let contents = std::fs::read(file)?;
        hasher.update(&(contents.len() as u64).to_le_bytes());
        hasher.update(&contents);
    }
    Ok(hasher.finalize().to_hex().to_string())
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            collect(&entry?.path(), files)?;
        }
    } else if path.is_file() {
        files.push(path.to_path_buf());
    }
    Ok(())
}

/// For `build.rs`: hash `paths` (relative to the crate root), tell cargo to rebuild when they
/// change, and export the digest as the compile-time environment variable `var`.
///
/// # Panics
/// Panics (failing the build, which is what a build script should do) if a file cannot be read.
pub fn emit(var: &str, paths: &[&str]) {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run from build.rs"));
    let digest = of_paths(&root, paths).expect("hash the sources of the stage kinds");
    for path in paths {
        println!("cargo:rerun-if-changed={path}");
    }
    println!("cargo:rustc-env={var}={digest}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editing_or_renaming_a_file_changes_the_digest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/a.rs"), "fn a() {}").unwrap();
        let before = of_paths(dir.path(), &["src"]).unwrap();
        assert_eq!(before, of_paths(dir.path(), &["src"]).unwrap());
        std::fs::write(dir.path().join("src/a.rs"), "fn a() { }").unwrap();
        let edited = of_paths(dir.path(), &["src"]).unwrap();
        assert_ne!(before, edited);
        std::fs::rename(dir.path().join("src/a.rs"), dir.path().join("src/b.rs")).unwrap();
        assert_ne!(edited, of_paths(dir.path(), &["src"]).unwrap());
    }
}
