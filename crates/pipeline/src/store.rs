//! The content-addressed store: one directory per task key, committed atomically, verified on read.
//!
//! Layout under the store root: `objects/<key>/` (the task's files plus [`MANIFEST`], written last),
//! `tmp/` (scratch directories of running tasks, renamed into `objects/` on success), `lock` (the OS
//! lock held by a running `run`), `stamps.json` (metadata of objects already verified) and
//! `state.json` (what each task identity last ran with, for `status`).

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Name of the manifest file inside each object; tasks may not write a file of this name.
pub const MANIFEST: &str = "MANIFEST.minorfirst.json";

/// Prefix of an object's files that a run mirrors into the reports directory.
pub const PUBLISH: &str = "publish/";

/// One file of an object as recorded in its manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestFile {
    pub path: String,
    pub size: u64,
    pub blake3: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub version: u32,
    pub key: String,
    pub files: Vec<ManifestFile>,
}

/// File metadata captured when an object was last fully verified: if any of it changes, the object
/// is re-hashed before it is trusted again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stamp {
    pub path: String,
    pub size: u64,
    pub mtime_ns: u64,
    pub inode: u64,
    /// When the stamp was taken. A file modified within [`RACY_NS`] before that could be modified
    /// again without its mtime changing (coarse filesystem clocks), so such a stamp is not trusted
    /// (git's "racy clean" rule): the object is re-hashed and re-stamped by the next run.
    pub checked_ns: u64,
}

impl PartialEq for Stamp {
    fn eq(&self, other: &Self) -> bool {
        (&self.path, self.size, self.mtime_ns, self.inode)
            == (&other.path, other.size, other.mtime_ns, other.inode)
    }
}

/// Window within which a stamp is considered racy (covers filesystems with 1 s timestamps).
pub const RACY_NS: u64 = 1_000_000_000;

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() as u64)
        .unwrap_or(0)
}

/// Stamps of verified objects, by key.
pub type Stamps = HashMap<String, Vec<Stamp>>;

/// A store rooted at a directory. Creating the value does no IO.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// Held while a run mutates the store; the OS releases it if the process dies.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

static SCRATCH_COUNTER: AtomicU64 = AtomicU64::new(0);

fn stamp_from(metadata: &std::fs::Metadata, relative: &str) -> std::io::Result<Stamp> {
    let mtime_ns = metadata
        .modified()?
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() as u64)
        .unwrap_or(0);
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(metadata);
    #[cfg(not(unix))]
    let inode = 0;
    Ok(Stamp {
        path: relative.to_string(),
        size: metadata.len(),
        mtime_ns,
        inode,
        checked_ns: now_ns(),
    })
}

fn stamp_of(path: &Path, relative: &str) -> std::io::Result<Stamp> {
    stamp_from(&std::fs::metadata(path)?, relative)
}

/// Hash a file through one handle, optionally fsync it, and stamp it from that handle's metadata
/// (size, mtime and inode survive the rename of the directory holding it, so a commit needs no
/// second `stat` per file).
fn hash_file(path: &Path, relative: &str, sync: bool) -> std::io::Result<(Stamp, String)> {
    let mut file = File::open(path)?;
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(&mut file)?;
    if sync {
        file.sync_all()?;
    }
    let stamp = stamp_from(&file.metadata()?, relative)?;
    Ok((stamp, hasher.finalize().to_hex().to_string()))
}

/// Re-hash one file of the object `key` (in `dir`) against its manifest entry; returns its stamp.
/// The stamp comes from the hashing handle after the read: a write racing the hash leaves an mtime
/// within the racy window of the stamp, which is then not trusted.
fn verify_file(dir: &Path, key: &str, file: &ManifestFile) -> Result<Stamp> {
    let (stamp, digest) =
        hash_file(&dir.join(&file.path), &file.path, false).map_err(|error| Error::Corrupt {
            key: key.into(),
            reason: format!("{}: {error}", file.path),
        })?;
    if stamp.size != file.size || digest != file.blake3 {
        return Err(Error::Corrupt {
            key: key.into(),
            reason: format!("{} does not match its hash", file.path),
        });
    }
    Ok(stamp)
}

fn list_files(dir: &Path, prefix: &str, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if entry.file_type()?.is_dir() {
            list_files(&entry.path(), &relative, out)?;
        } else {
            out.push(relative);
        }
    }
    Ok(())
}

/// Write `bytes` to `path` atomically: a sibling temp file renamed over the target. No fsync: this is
/// for bookkeeping files (stamps, state, run.json) whose loss after a power cut only costs a
/// re-hash or a less specific `status`; objects, which must be durable, go through [`Store::commit`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    atomicfile::write(path, bytes, atomicfile::Durability::None)
        .map_err(|error| Error::io(path, error))
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the store directory exists at all (nothing has run yet if not).
    pub fn exists(&self) -> bool {
        self.root.is_dir()
    }

    /// Directory of the object with this key (which may not exist).
    pub fn object_dir(&self, key: &str) -> PathBuf {
        self.root.join("objects").join(key)
    }

    /// Create the store directories.
    pub fn create(&self) -> Result<()> {
        for dir in ["objects", "tmp"] {
            let path = self.root.join(dir);
            std::fs::create_dir_all(&path).map_err(|error| Error::io(path, error))?;
        }
        Ok(())
    }

    /// Take the exclusive store lock, calling `on_wait` once if another process holds it.
    pub fn lock(&self, on_wait: impl FnOnce()) -> Result<StoreLock> {
        let path = self.root.join("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|error| Error::io(&path, error))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                on_wait();
                file.lock().map_err(|error| Error::io(&path, error))?;
            }
            Err(std::fs::TryLockError::Error(error)) => return Err(Error::io(&path, error)),
        }
        Ok(StoreLock { _file: file })
    }

    /// Remove scratch directories left by interrupted runs (call while holding the lock).
    pub fn clean_scratch(&self) -> Result<()> {
        let tmp = self.root.join("tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|error| Error::io(tmp, error))
    }

    /// A fresh empty scratch directory for a task about to run.
    pub fn scratch(&self, key: &str) -> Result<PathBuf> {
        let serial = SCRATCH_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = self.root.join("tmp").join(format!(
            "{}-{}-{serial}",
            &key[..16.min(key.len())],
            std::process::id()
        ));
        // `tmp/` exists and was emptied under the lock, and the name is unique to this process and
        // call, so one `mkdir` suffices; a leftover of the same name (a reused pid whose scratch
        // survived somehow) is removed and the `mkdir` retried.
        if let Err(error) = std::fs::create_dir(&path) {
            if error.kind() != std::io::ErrorKind::AlreadyExists {
                return Err(Error::io(&path, error));
            }
            std::fs::remove_dir_all(&path).map_err(|error| Error::io(&path, error))?;
            std::fs::create_dir(&path).map_err(|error| Error::io(&path, error))?;
        }
        Ok(path)
    }

    /// Commit a finished scratch directory as the object `key`: hash and fsync every file, write
    /// the manifest last, fsync the directory and rename it into place. Returns the stamps of the
    /// committed files (taken from the handles that hashed them) so the next run can trust them
    /// without re-hashing.
    ///
    /// With `sync = false` nothing is fsynced here: the caller must make the object durable with
    /// [`Store::sync_batch`] before recording its stamps. Until then a power cut can leave a
    /// renamed object with empty files, which the next run's full verification (no stamps yet)
    /// discards. This lets a run of many short tasks pay for one flush instead of three per task.
    pub fn commit(&self, scratch: &Path, key: &str, sync: bool) -> Result<Vec<Stamp>> {
        let io = |error| Error::io(scratch, error);
        let mut names = Vec::new();
        list_files(scratch, "", &mut names).map_err(io)?;
        names.sort();
        if names.iter().any(|name| name == MANIFEST) {
            return Err(Error::Corrupt {
                key: key.into(),
                reason: format!("a task may not write `{MANIFEST}`"),
            });
        }
        let mut files = Vec::with_capacity(names.len());
        let mut stamps = Vec::with_capacity(names.len().max(1));
        for name in names {
            let (stamp, digest) = hash_file(&scratch.join(&name), &name, sync).map_err(io)?;
            files.push(ManifestFile {
                size: stamp.size,
                path: name,
                blake3: digest,
            });
            stamps.push(stamp);
        }
        let manifest = Manifest {
            version: 1,
            key: key.into(),
            files,
        };
        let bytes = serde_json::to_vec(&manifest).expect("manifest serializes");
        let manifest_path = scratch.join(MANIFEST);
        let mut file = File::create(&manifest_path).map_err(io)?;
        file.write_all(&bytes).map_err(io)?;
        if sync {
            file.sync_all().map_err(io)?;
            File::open(scratch)
                .and_then(|dir| dir.sync_all())
                .map_err(io)?;
        }
        // The manifest is stamped too, as in [`Store::verify`]: an object whose manifest was
        // deleted must not pass the no-op path's `stat` check.
        stamps.push(
            file.metadata()
                .and_then(|metadata| stamp_from(&metadata, MANIFEST))
                .map_err(io)?,
        );
        drop(file);
        let target = self.object_dir(key);
        // Rename first; only an existing object of the same key (a forced rerun, or one found
        // corrupt and not yet removed) costs a removal and a second try.
        if let Err(error) = std::fs::rename(scratch, &target) {
            if !target.exists() {
                return Err(Error::io(&target, error));
            }
            std::fs::remove_dir_all(&target).map_err(|error| Error::io(&target, error))?;
            std::fs::rename(scratch, &target).map_err(|error| Error::io(&target, error))?;
        }
        Ok(stamps)
    }

    /// Read an object's manifest.
    pub fn manifest(&self, key: &str) -> Result<Manifest> {
        let path = self.object_dir(key).join(MANIFEST);
        let bytes = std::fs::read(&path).map_err(|error| Error::Corrupt {
            key: key.into(),
            reason: format!("no readable manifest ({error})"),
        })?;
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|error| Error::Corrupt {
                key: key.into(),
                reason: format!("unreadable manifest: {error}"),
            })?;
        if manifest.key != key {
            return Err(Error::Corrupt {
                key: key.into(),
                reason: "manifest names another key".into(),
            });
        }
        Ok(manifest)
    }

    /// Fully verify the object `key`: every file in its manifest exists with the recorded size and
    /// blake3. Returns fresh stamps on success.
    pub fn verify(&self, key: &str) -> Result<Vec<Stamp>> {
        let manifest = self.manifest(key)?;
        let dir = self.object_dir(key);
        let mut stamps = Vec::with_capacity(manifest.files.len().max(1));
        for file in &manifest.files {
            stamps.push(verify_file(&dir, key, file)?);
        }
        // The manifest is stamped as well: the no-op path trusts an object by `stat`-ing its
        // stamped files, and an object whose manifest was deleted (or replaced) must fail that
        // check and be re-verified, which then discards it. One more `stat` per object.
        let path = dir.join(MANIFEST);
        stamps.push(stamp_of(&path, MANIFEST).map_err(|error| Error::io(path, error))?);
        Ok(stamps)
    }

    /// Re-hash the object's published files (`publish/**`, mirrored into `reports/`) against its
    /// manifest. The no-op path trusts the other files by their stamps, but what is copied into
    /// `reports/` is what people read, and a same-size edit with its mtime restored passes a
    /// `stat`; these files are small, so they are hashed on every run that publishes them.
    pub fn verify_published(&self, key: &str, stamps: &[Stamp]) -> Result<()> {
        if !stamps.iter().any(|stamp| stamp.path.starts_with(PUBLISH)) {
            return Ok(());
        }
        let manifest = self.manifest(key)?;
        let dir = self.object_dir(key);
        for file in manifest
            .files
            .iter()
            .filter(|file| file.path.starts_with(PUBLISH))
        {
            verify_file(&dir, key, file)?;
        }
        Ok(())
    }

    /// Cheap check used on the no-op path: the object's files still have the metadata recorded
    /// when it was last fully verified (one `stat` per file, no reading).
    pub fn matches_stamps(&self, key: &str, stamps: &[Stamp]) -> bool {
        let dir = self.object_dir(key);
        stamps.iter().all(|stamp| {
            stamp.mtime_ns.saturating_add(RACY_NS) < stamp.checked_ns
                && stamp_of(&dir.join(&stamp.path), &stamp.path).is_ok_and(|now| now == *stamp)
        })
    }

    /// Where the full error of a task of the last run that failed is kept:
    /// `failures/<stage>.<index>.log` (the failure line shows only its first line).
    pub fn failure_log(&self, stage: &str, index: usize) -> PathBuf {
        self.root
            .join("failures")
            .join(format!("{stage}.{index}.log"))
    }

    /// Forget the failure logs of the previous run (called under the lock as a run starts).
    pub fn clean_failures(&self) -> Result<()> {
        let dir = self.root.join("failures");
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(Error::io(dir, error)),
        }
    }

    /// Remove an object (corrupt, or unreachable during gc).
    pub fn remove(&self, key: &str) -> Result<()> {
        let dir = self.object_dir(key);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(Error::io(dir, error)),
        }
    }

    /// Keys of every stored object.
    pub fn keys(&self) -> Result<Vec<String>> {
        let dir = self.root.join("objects");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(Error::io(dir, error)),
        };
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|error| Error::io(&dir, error))?;
            keys.push(entry.file_name().to_string_lossy().into_owned());
        }
        keys.sort();
        Ok(keys)
    }

    /// Total size in bytes of an object's files.
    pub fn size(&self, key: &str) -> u64 {
        let dir = self.object_dir(key);
        let mut names = Vec::new();
        let _ = list_files(&dir, "", &mut names);
        names
            .iter()
            .filter_map(|name| std::fs::metadata(dir.join(name)).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Stamps recorded by previous runs (empty if none or unreadable: then objects are re-hashed).
    pub fn load_stamps(&self) -> Stamps {
        std::fs::read(self.root.join("stamps.json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    pub fn save_stamps(&self, stamps: &Stamps) -> Result<()> {
        write_atomic(
            &self.root.join("stamps.json"),
            &serde_json::to_vec(stamps).expect("stamps serialize"),
        )
    }

    /// Fsync every file and the directory of one object committed with `sync = false`.
    pub fn sync(&self, key: &str) -> Result<()> {
        let dir = self.object_dir(key);
        let manifest = self.manifest(key)?;
        for name in manifest
            .files
            .iter()
            .map(|file| file.path.as_str())
            .chain([MANIFEST])
        {
            let path = dir.join(name);
            File::open(&path)
                .and_then(|file| file.sync_all())
                .map_err(|error| Error::io(path, error))?;
        }
        File::open(&dir)
            .and_then(|file| file.sync_all())
            .map_err(|error| Error::io(dir, error))
    }

    /// Make the objects committed with `sync = false` durable, and with them every rename into
    /// `objects/` of this run.
    ///
    /// From [`SYNCFS_MIN_OBJECTS`] objects on (Linux), one `syncfs(2)` of the store's filesystem
    /// writes back every dirty file and directory there in a single journal commit, where
    /// per-object fsyncs cost three flushes each (files, manifest, directory): that is most of the
    /// engine's overhead per short task. `syncfs` reports write-back errors since Linux 5.8. It
    /// also flushes other processes' dirty data on that filesystem, which can only make it slower,
    /// so a handful of objects keeps the per-file path.
    pub fn sync_batch(&self, keys: &[&str]) -> Result<()> {
        let objects = self.root.join("objects");
        #[cfg(target_os = "linux")]
        if keys.len() >= SYNCFS_MIN_OBJECTS {
            return File::open(&objects)
                .and_then(|dir| rustix::fs::syncfs(&dir).map_err(std::io::Error::from))
                .map_err(|error| Error::io(objects, error));
        }
        {
            use rayon::prelude::*;
            keys.par_iter().try_for_each(|key| self.sync(key))?;
        }
        File::open(&objects)
            .and_then(|dir| dir.sync_all())
            .map_err(|error| Error::io(objects, error))
    }
}

/// Objects from which [`Store::sync_batch`] flushes the whole filesystem at once instead of each
/// object's files (three fsyncs per object against one `syncfs`).
pub const SYNCFS_MIN_OBJECTS: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_verify_and_detect_a_flipped_byte() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        store.create().unwrap();
        let scratch = store.scratch("abc").unwrap();
        std::fs::create_dir_all(scratch.join("publish")).unwrap();
        std::fs::write(scratch.join("a.txt"), b"hello").unwrap();
        std::fs::write(scratch.join("publish/b.txt"), b"world").unwrap();
        let mut stamps = store.commit(&scratch, "abc", true).unwrap();
        assert_eq!(stamps.len(), 3, "two data files and the manifest");
        // Just written: racy, so not trusted without re-hashing.
        assert!(!store.matches_stamps("abc", &stamps));
        for stamp in &mut stamps {
            stamp.checked_ns = stamp.mtime_ns + RACY_NS + 1;
        }
        assert!(store.matches_stamps("abc", &stamps));
        assert_eq!(store.verify("abc").unwrap(), stamps);
        std::fs::write(store.object_dir("abc").join("a.txt"), b"hellp").unwrap();
        assert!(matches!(store.verify("abc"), Err(Error::Corrupt { .. })));
        std::fs::remove_file(store.object_dir("abc").join(MANIFEST)).unwrap();
        assert!(!store.matches_stamps("abc", &stamps));
        assert!(store.verify("abc").is_err());
    }

    /// Stamps as a later run sees them: taken well after the files' mtimes (not racy).
    fn settled(mut stamps: Vec<Stamp>) -> Vec<Stamp> {
        for stamp in &mut stamps {
            stamp.checked_ns = stamp.mtime_ns + RACY_NS + 1;
        }
        stamps
    }

    #[test]
    fn a_deleted_manifest_fails_the_stat_check_even_when_every_data_file_is_intact() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        store.create().unwrap();
        let stamps = settled(committed(&store, "k", b"payload", true));
        assert!(store.matches_stamps("k", &stamps));
        std::fs::remove_file(store.object_dir("k").join(MANIFEST)).unwrap();
        assert!(!store.matches_stamps("k", &stamps));
        assert!(matches!(store.verify("k"), Err(Error::Corrupt { .. })));
    }

    #[test]
    fn a_same_size_edit_of_a_published_file_with_its_mtime_restored_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        store.create().unwrap();
        let scratch = store.scratch("p").unwrap();
        std::fs::create_dir_all(scratch.join("publish")).unwrap();
        std::fs::write(scratch.join("publish/page.html"), b"<p>42</p>").unwrap();
        std::fs::write(scratch.join("big.bin"), b"not published").unwrap();
        let stamps = settled(store.commit(&scratch, "p", true).unwrap());
        assert!(store.verify_published("p", &stamps).is_ok());
        let page = store.object_dir("p").join("publish/page.html");
        let mtime = std::fs::metadata(&page).unwrap().modified().unwrap();
        std::fs::write(&page, b"<p>41</p>").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&page)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        // Same size, same mtime, same inode: the stat check cannot tell ...
        assert!(store.matches_stamps("p", &stamps));
        // ... the hash of what would be published can.
        assert!(matches!(
            store.verify_published("p", &stamps),
            Err(Error::Corrupt { .. })
        ));
    }

    fn committed(store: &Store, key: &str, contents: &[u8], sync: bool) -> Vec<Stamp> {
        let scratch = store.scratch(key).unwrap();
        std::fs::write(scratch.join("out.bin"), contents).unwrap();
        store.commit(&scratch, key, sync).unwrap()
    }

    #[test]
    fn commit_stamps_match_a_stat_after_the_rename() {
        // Stamps are taken from the hashing handle before the rename; they must equal what a
        // later run sees, or every object would be re-hashed once (or, worse, trusted wrongly).
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        store.create().unwrap();
        for sync in [false, true] {
            let key = format!("k{sync}");
            let stamps = committed(&store, &key, b"payload", sync);
            assert_eq!(stamps.len(), 2, "the data file and the manifest");
            let after = stamp_of(&store.object_dir(&key).join("out.bin"), "out.bin").unwrap();
            assert_eq!(stamps[0], after);
            assert_eq!(store.verify(&key).unwrap(), stamps);
        }
        // An object without data files is stamped by its manifest.
        let scratch = store.scratch("empty").unwrap();
        let stamps = store.commit(&scratch, "empty", false).unwrap();
        assert_eq!(stamps.len(), 1);
        assert_eq!(stamps[0].path, MANIFEST);
        assert_eq!(store.verify("empty").unwrap(), stamps);
    }

    #[test]
    fn commit_replaces_an_existing_object_of_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        store.create().unwrap();
        committed(&store, "same", b"first", false);
        committed(&store, "same", b"second, longer", false);
        let manifest = store.manifest("same").unwrap();
        assert_eq!(manifest.files.len(), 1);
        assert_eq!(manifest.files[0].size, 14);
        assert_eq!(
            std::fs::read(store.object_dir("same").join("out.bin")).unwrap(),
            b"second, longer"
        );
        assert!(store.verify("same").is_ok());
    }

    #[test]
    fn sync_batch_flushes_few_objects_one_by_one_and_many_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        store.create().unwrap();
        let keys: Vec<String> = (0..SYNCFS_MIN_OBJECTS + 2)
            .map(|n| format!("obj{n}"))
            .collect();
        for key in &keys {
            committed(&store, key, key.as_bytes(), false);
        }
        let all: Vec<&str> = keys.iter().map(String::as_str).collect();
        store.sync_batch(&all[..2]).unwrap();
        store.sync_batch(&all).unwrap();
        store.sync_batch(&[]).unwrap();
        // The per-object path reads each manifest, so a missing object is an error naming it.
        let error = store.sync_batch(&["missing"]).unwrap_err().to_string();
        assert!(error.contains("missing"), "{error}");
    }
}
