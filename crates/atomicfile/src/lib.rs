//! Replacing a file atomically, the one way the workspace does it: the new contents go to a
//! hidden sibling temp file, which is (optionally) fsynced and renamed over the target, after
//! which the directory is (optionally) fsynced. A reader sees the old file or the new one, never
//! a torn one; a failed write leaves no temp file behind.
//!
//! How durable a replacement must be is the caller's decision ([`Durability`]): bookkeeping that
//! can be recomputed is renamed unsynced, files other processes or hosts trust are synced.
//!
//! Temp names are `.<name>.<host>.<pid>.<n>.tmp`: hidden, never ending in the target's extension
//! (a reader globbing `*.json` does not see a half-written file), unique per host, process and
//! call (two hosts sharing a filesystem, or two threads writing the same target, do not collide).
//! [`Replacement::keeping_extension`] appends the extension for writers that pick the format from
//! the file name (an image encoder).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// How much of a replacement must survive a power cut once the call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Atomic only: the rename happens, but neither the data nor the rename is flushed.
    None,
    /// The file's contents are fsynced before the rename (the rename itself is not flushed).
    File,
    /// The file is fsynced before the rename and its directory after it: the new file is on disk.
    FileAndDirectory,
}

/// A pending replacement of `target` through a temp file that the caller writes (for writers that
/// open the path themselves). Dropping it without [`Replacement::commit`] removes the temp file.
#[derive(Debug)]
pub struct Replacement {
    target: PathBuf,
    temp: PathBuf,
    committed: bool,
}

impl Replacement {
    /// A replacement of `target`, whose temp file ends in `.tmp`.
    pub fn new(target: &Path) -> Self {
        Self::named(target, None)
    }

    /// A replacement whose temp file ends in the target's own extension (`….tmp.png`), for
    /// writers that choose the format from the file name.
    pub fn keeping_extension(target: &Path) -> Self {
        let extension = target
            .extension()
            .map(|extension| extension.to_string_lossy().into_owned());
        Self::named(target, extension)
    }

    fn named(target: &Path, extension: Option<String>) -> Self {
        let name = target
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut temp_name = format!(
            ".{name}.{}.{}.{}.tmp",
            host(),
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        if let Some(extension) = extension {
            temp_name.push('.');
            temp_name.push_str(&extension);
        }
        Self {
            target: target.to_path_buf(),
            temp: target.with_file_name(temp_name),
            committed: false,
        }
    }

    /// The temp file to write.
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// The file this replaces.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Make the temp file the target, with the requested durability. On failure the temp file is
    /// removed and the target is untouched (or, for a failed directory fsync, already replaced).
    pub fn commit(self, durability: Durability) -> std::io::Result<()> {
        if durability != Durability::None {
            File::open(&self.temp)?.sync_all()?;
        }
        self.rename(durability)
    }

    /// The rename and the directory fsync; the file itself is already as durable as asked.
    fn rename(mut self, durability: Durability) -> std::io::Result<()> {
        std::fs::rename(&self.temp, &self.target)?;
        self.committed = true;
        if durability == Durability::FileAndDirectory {
            sync_directory(parent(&self.target))?;
        }
        Ok(())
    }
}

impl Drop for Replacement {
    fn drop(&mut self) {
        if !self.committed {
            // The temp file is ours alone; leaving it would litter the target's directory.
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Replace `path` with `bytes` atomically (see the crate docs). The directory must exist.
pub fn write(path: &Path, bytes: &[u8], durability: Durability) -> std::io::Result<()> {
    let replacement = Replacement::new(path);
    let mut file = File::create(replacement.path())?;
    file.write_all(bytes)?;
    if durability != Durability::None {
        // Through the writing handle: the same flush as `commit`'s, without reopening.
        file.sync_all()?;
    }
    drop(file);
    replacement.rename(durability)
}

/// [`write()`], unless `path` already holds exactly `bytes` (then nothing is touched, so a no-op
/// run leaves mtimes alone); creates missing parent directories. Returns whether it wrote.
pub fn write_if_different(
    path: &Path,
    bytes: &[u8],
    durability: Durability,
) -> std::io::Result<bool> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    std::fs::create_dir_all(parent(path))?;
    write(path, bytes, durability)?;
    Ok(true)
}

/// fsync a directory, making the renames and creations inside it durable.
pub fn sync_directory(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The directory holding `path` (`.` for a bare file name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// This machine's host name, reduced to `[A-Za-z0-9-]` (so it cannot add a path separator or an
/// extension to a temp name).
fn host() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|name| name.trim().to_string())
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_default();
        let clean: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if clean.is_empty() {
            "host".into()
        } else {
            clean
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn write_replaces_and_leaves_only_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        for durability in [
            Durability::None,
            Durability::File,
            Durability::FileAndDirectory,
        ] {
            write(&path, format!("{durability:?}").as_bytes(), durability).unwrap();
            assert_eq!(
                std::fs::read_to_string(&path).unwrap(),
                format!("{durability:?}")
            );
        }
        assert_eq!(names(dir.path()), ["run.json"]);
    }

    #[test]
    fn a_failed_write_leaves_no_temp_file_and_the_old_target() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("table.csv");
        write(&path, b"old", Durability::None).unwrap();
        // A directory in the target's place: the temp file is written, the rename fails.
        let blocked = dir.path().join("blocked");
        std::fs::create_dir_all(blocked.join("inner")).unwrap();
        assert!(write(&blocked, b"new", Durability::File).is_err());
        assert_eq!(names(dir.path()), ["blocked", "table.csv"]);
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        // A missing directory: nothing is created.
        assert!(write(&dir.path().join("missing/x"), b"x", Durability::None).is_err());
        assert_eq!(names(dir.path()), ["blocked", "table.csv"]);
    }

    #[test]
    fn write_if_different_touches_nothing_when_equal_and_creates_parents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/fig.svg");
        assert!(write_if_different(&path, b"<svg/>", Durability::None).unwrap());
        let before = std::fs::metadata(&path).unwrap();
        assert!(!write_if_different(&path, b"<svg/>", Durability::None).unwrap());
        let after = std::fs::metadata(&path).unwrap();
        assert_eq!(before.modified().unwrap(), after.modified().unwrap());
        #[cfg(unix)]
        assert_eq!(
            std::os::unix::fs::MetadataExt::ino(&before),
            std::os::unix::fs::MetadataExt::ino(&after)
        );
        assert!(write_if_different(&path, b"<svg></svg>", Durability::None).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"<svg></svg>");
    }

    #[test]
    fn temp_names_are_hidden_unique_and_keep_the_extension_only_on_request() {
        let target = Path::new("out/fig.v1.png");
        let plain = Replacement::new(target);
        let other = Replacement::new(target);
        let kept = Replacement::keeping_extension(target);
        assert_ne!(plain.path(), other.path());
        for temp in [plain.path(), other.path(), kept.path()] {
            assert_eq!(temp.parent(), target.parent());
            let name = temp.file_name().unwrap().to_string_lossy().into_owned();
            assert!(name.starts_with(".fig.v1.png."), "{name}");
            assert!(
                name.contains(&format!(".{}.", std::process::id())),
                "{name}"
            );
        }
        assert!(plain.path().to_string_lossy().ends_with(".tmp"));
        assert!(kept.path().to_string_lossy().ends_with(".tmp.png"));
    }

    #[test]
    fn an_uncommitted_replacement_removes_its_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("fig.png");
        {
            let replacement = Replacement::keeping_extension(&target);
            std::fs::write(replacement.path(), b"partial").unwrap();
        }
        assert!(names(dir.path()).is_empty());
        let replacement = Replacement::keeping_extension(&target);
        std::fs::write(replacement.path(), b"png").unwrap();
        replacement.commit(Durability::FileAndDirectory).unwrap();
        assert_eq!(names(dir.path()), ["fig.png"]);
    }
}
