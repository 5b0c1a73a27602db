//! The shared remote cache: task objects looked up, downloaded and uploaded by key on a
//! `file:///dir` or `s3://bucket/prefix` remote through the `object_store` crate.
//!
//! # Layout on the remote
//!
//! - `blobs/<b3[..2]>/<b3>`: the bytes of one file, named by its blake3 (shared by every object
//!   holding the same bytes);
//! - `manifests/<key>.json`: the object's manifest, the same JSON as the local
//!   [`MANIFEST`] (path, size, blake3 per file).
//!
//! An upload writes every blob first and the manifest last, so a reader, who only ever asks for a
//! manifest, never sees half an object. Each PUT is atomic by itself: S3 makes an object visible
//! only complete, and `object_store`'s local backend writes a temporary file and renames it. Two CI
//! jobs uploading the same key write the same blob names with the same bytes and one manifest wins
//! whole; both manifests describe complete objects, so the race is harmless.
//!
//! A download verifies every file's size and blake3 against the manifest before writing it; an
//! object that does not verify is discarded, reported, recomputed locally and never uploaded by
//! that run. Any other failure (the remote down, slow past the timeouts, refusing credentials)
//! prints one warning line and turns the remote off for the rest of the process: the run computes
//! locally and never fails because of the cache. Look-ups and transfers run concurrently
//! ([`CONCURRENCY`] requests in flight) on a tokio runtime owned by the remote; its API is blocking.
//! Credentials come from the usual `AWS_*` environment variables and never appear in messages:
//! [`ObjectStoreCache::url`] is the URL as given, without any user-info part.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use object_store::path::Path as RemotePath;
use object_store::{GetOptions, ObjectStore, PutOptions, PutPayload};

use crate::error::{Error, Result};
use crate::store::{MANIFEST, Manifest, Store};

/// Requests in flight at once against the remote.
pub const CONCURRENCY: usize = 64;

/// Why a download did not produce an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The remote has no manifest for this key.
    Missing,
    /// The remote object does not verify (named file, reason); it must not be trusted.
    Corrupt(String),
    /// The remote could not be reached or refused the request; the cache is off from now on.
    Unavailable,
    /// The downloaded object could not be written into the local store (not the remote's fault).
    Local(String),
}

/// A remote cache of task objects. Blocking API; implementations may work concurrently inside.
pub trait RemoteCache: Send + Sync + fmt::Debug {
    /// The remote's URL, fit for messages (no credentials).
    fn url(&self) -> &str;

    /// Download each `(key, dir)`: the object's files written into the empty directory `dir`, each
    /// verified against the remote manifest, which is returned. Results in input order.
    fn fetch_many(
        &self,
        requests: &[(String, PathBuf)],
    ) -> Vec<std::result::Result<Manifest, FetchError>>;

    /// Upload each `(key, object dir, manifest)` (blobs first, manifest last). Returns how many
    /// were uploaded; a failure is reported once and stops further uploads.
    fn upload_many(&self, objects: &[(String, PathBuf, Manifest)]) -> usize;

    /// Which keys the remote has a manifest for (`None` for keys it could not answer).
    fn contains_many(&self, keys: &[String]) -> Vec<Option<bool>>;
}

/// The object_store implementation, for `file://` and `s3://` URLs.
pub struct ObjectStoreCache {
    url: String,
    prefix: String,
    store: Arc<dyn ObjectStore>,
    runtime: tokio::runtime::Runtime,
    /// Set on the first failure that is not "not found"; every later request is skipped.
    down: Arc<AtomicBool>,
    warned: Arc<AtomicBool>,
}

impl fmt::Debug for ObjectStoreCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStoreCache")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn bad_url(url: &str, reason: &str) -> Error {
    Error::Usage {
        reason: format!(
            "cache URL `{}`: {reason} (expected file:///DIR or s3://BUCKET[/PREFIX])",
            redact(url)
        ),
    }
}

/// The URL without a `user:password@` part, for messages.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_string(),
    }
}

impl ObjectStoreCache {
    /// Open a remote from its URL. Does no network IO (a `file://` directory is created).
    pub fn open(url: &str) -> Result<Self> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad_url(url, "no scheme"))?;
        let (store, prefix): (Arc<dyn ObjectStore>, String) = match scheme {
            "file" => {
                if !rest.starts_with('/') {
                    return Err(bad_url(url, "a file:// URL needs an absolute path"));
                }
                let dir = Path::new(rest);
                std::fs::create_dir_all(dir).map_err(|error| Error::io(dir, error))?;
                let local = object_store::local::LocalFileSystem::new_with_prefix(dir)
                    .map_err(|error| bad_url(url, &error.to_string()))?;
                (Arc::new(local), String::new())
            }
            "s3" => {
                if rest.contains('@') {
                    return Err(bad_url(
                        url,
                        "credentials do not belong in the URL; use the AWS_* environment variables",
                    ));
                }
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(bad_url(url, "no bucket"));
                }
                use object_store::ClientConfigKey as Client;
                use object_store::aws::AmazonS3ConfigKey as Key;
                let mut builder = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_retry(object_store::RetryConfig {
                        backoff: object_store::BackoffConfig {
                            init_backoff: Duration::from_millis(100),
                            max_backoff: Duration::from_secs(1),
                            base: 2.0,
                        },
                        max_retries: 2,
                        retry_timeout: Duration::from_secs(10),
                    });
                // A slow or dead remote must cost seconds, not the defaults' minutes.
                if std::env::var_os("AWS_CONNECT_TIMEOUT").is_none() {
                    builder = builder.with_config(Key::Client(Client::ConnectTimeout), "3s");
                }
                if std::env::var_os("AWS_TIMEOUT").is_none() {
                    builder = builder.with_config(Key::Client(Client::Timeout), "20s");
                }
                let s3 = builder
                    .build()
                    .map_err(|error| bad_url(url, &error.to_string()))?;
                (Arc::new(s3), prefix.trim_matches('/').to_string())
            }
            other => return Err(bad_url(url, &format!("unknown scheme `{other}`"))),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("minorfirst-remote")
            .enable_all()
            .build()
            .map_err(|error| Error::Usage {
                reason: format!("cannot start the remote-cache runtime: {error}"),
            })?;
        Ok(Self {
            url: redact(url),
            prefix,
            store,
            runtime,
            down: Arc::new(AtomicBool::new(false)),
            warned: Arc::new(AtomicBool::new(false)),
        })
    }
}

fn location(prefix: &str, relative: &str) -> RemotePath {
    if prefix.is_empty() {
        RemotePath::from(relative)
    } else {
        RemotePath::from(format!("{prefix}/{relative}"))
    }
}

fn manifest_location(prefix: &str, key: &str) -> RemotePath {
    location(prefix, &format!("manifests/{key}.json"))
}

fn blob_location(prefix: &str, blake3: &str) -> RemotePath {
    location(
        prefix,
        &format!("blobs/{}/{blake3}", &blake3[..2.min(blake3.len())]),
    )
}

/// What a remote call failed with: not there, or the remote is unusable.
enum Failure {
    NotFound,
    Down,
}

/// Shared state of one batch of requests.
#[derive(Clone)]
struct Ctx {
    store: Arc<dyn ObjectStore>,
    prefix: Arc<str>,
    url: Arc<str>,
    down: Arc<AtomicBool>,
    warned: Arc<AtomicBool>,
    permits: Arc<tokio::sync::Semaphore>,
}

impl Ctx {
    /// One line, once per process, then the remote is off.
    fn fail(&self, what: &str, error: &str) -> Failure {
        self.down.store(true, Ordering::SeqCst);
        if !self.warned.swap(true, Ordering::SeqCst) {
            eprintln!(
                "warning: remote cache {} unavailable ({what}: {error}); computing locally",
                self.url
            );
        }
        Failure::Down
    }

    async fn get(&self, path: &RemotePath) -> std::result::Result<Vec<u8>, Failure> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Failure::Down);
        }
        let _permit = self.permits.acquire().await.expect("semaphore open");
        let result = match self.store.get_opts(path, GetOptions::default()).await {
            Ok(result) => result.bytes().await,
            Err(error) => Err(error),
        };
        match result {
            Ok(bytes) => Ok(bytes.to_vec()),
            Err(object_store::Error::NotFound { .. }) => Err(Failure::NotFound),
            Err(error) => Err(self.fail("download", &error.to_string())),
        }
    }

    async fn exists(&self, path: &RemotePath) -> std::result::Result<bool, Failure> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Failure::Down);
        }
        let _permit = self.permits.acquire().await.expect("semaphore open");
        let head = GetOptions {
            head: true,
            ..GetOptions::default()
        };
        match self.store.get_opts(path, head).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(self.fail("look-up", &error.to_string())),
        }
    }

    async fn put(&self, path: &RemotePath, bytes: Vec<u8>) -> std::result::Result<(), Failure> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Failure::Down);
        }
        let _permit = self.permits.acquire().await.expect("semaphore open");
        match self
            .store
            .put_opts(path, PutPayload::from(bytes), PutOptions::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(error) => Err(self.fail("upload", &error.to_string())),
        }
    }
}

/// A manifest path is safe to write below a scratch directory: relative, no `..`, not the
/// manifest's own name.
fn safe_path(path: &str) -> bool {
    !path.is_empty()
        && path != MANIFEST
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

fn is_hex_digest(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn fetch_one(
    ctx: Ctx,
    key: String,
    dir: PathBuf,
) -> std::result::Result<Manifest, FetchError> {
    let bytes = match ctx.get(&manifest_location(&ctx.prefix, &key)).await {
        Ok(bytes) => bytes,
        Err(Failure::NotFound) => return Err(FetchError::Missing),
        Err(Failure::Down) => return Err(FetchError::Unavailable),
    };
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|error| FetchError::Corrupt(format!("unreadable manifest: {error}")))?;
    if manifest.key != key || manifest.version != 1 {
        return Err(FetchError::Corrupt(
            "manifest names another key or version".into(),
        ));
    }
    if let Some(file) = manifest
        .files
        .iter()
        .find(|file| !safe_path(&file.path) || !is_hex_digest(&file.blake3))
    {
        return Err(FetchError::Corrupt(format!(
            "manifest lists an invalid entry `{}`",
            file.path
        )));
    }
    let mut downloads = tokio::task::JoinSet::new();
    for (index, file) in manifest.files.iter().enumerate() {
        let ctx = ctx.clone();
        let location = blob_location(&ctx.prefix, &file.blake3);
        downloads.spawn(async move { (index, ctx.get(&location).await) });
    }
    let mut blobs: Vec<Option<Vec<u8>>> = vec![None; manifest.files.len()];
    while let Some(joined) = downloads.join_next().await {
        let (index, result) = joined.map_err(|_| FetchError::Unavailable)?;
        let file = &manifest.files[index];
        match result {
            Ok(bytes) => {
                let digest = blake3::hash(&bytes).to_hex().to_string();
                if bytes.len() as u64 != file.size || digest != file.blake3 {
                    return Err(FetchError::Corrupt(format!(
                        "{} does not match its hash",
                        file.path
                    )));
                }
                blobs[index] = Some(bytes);
            }
            Err(Failure::NotFound) => {
                return Err(FetchError::Corrupt(format!("{} is missing", file.path)));
            }
            Err(Failure::Down) => return Err(FetchError::Unavailable),
        }
    }
    for (file, bytes) in manifest.files.iter().zip(blobs) {
        let target = dir.join(&file.path);
        let write = || -> std::io::Result<()> {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&target, bytes.unwrap_or_default())
        };
        // A local write failure is not the remote's fault: treat the object as not fetched.
        write().map_err(|error| {
            FetchError::Local(format!("cannot write {}: {error}", target.display()))
        })?;
    }
    Ok(manifest)
}

async fn upload_one(ctx: Ctx, key: String, dir: PathBuf, manifest: Manifest) -> bool {
    let mut puts = tokio::task::JoinSet::new();
    let mut seen = HashSet::new();
    for file in &manifest.files {
        if !seen.insert(file.blake3.clone()) {
            continue;
        }
        let ctx = ctx.clone();
        let path = dir.join(&file.path);
        let location = blob_location(&ctx.prefix, &file.blake3);
        let expected = file.blake3.clone();
        puts.spawn(async move {
            let Ok(bytes) = std::fs::read(&path) else {
                return false;
            };
            // Never upload bytes that do not match the manifest the reader will check them against.
            if blake3::hash(&bytes).to_hex().as_str() != expected {
                return false;
            }
            ctx.put(&location, bytes).await.is_ok()
        });
    }
    let mut ok = true;
    while let Some(joined) = puts.join_next().await {
        ok &= joined.unwrap_or(false);
    }
    if !ok {
        return false;
    }
    let bytes = serde_json::to_vec(&manifest).expect("manifest serializes");
    ctx.put(&manifest_location(&ctx.prefix, &key), bytes)
        .await
        .is_ok()
}

impl ObjectStoreCache {
    fn ctx(&self) -> Ctx {
        Ctx {
            store: self.store.clone(),
            prefix: self.prefix.as_str().into(),
            url: self.url.as_str().into(),
            down: self.down.clone(),
            warned: self.warned.clone(),
            permits: Arc::new(tokio::sync::Semaphore::new(CONCURRENCY)),
        }
    }
}

impl RemoteCache for ObjectStoreCache {
    fn url(&self) -> &str {
        &self.url
    }

    fn fetch_many(
        &self,
        requests: &[(String, PathBuf)],
    ) -> Vec<std::result::Result<Manifest, FetchError>> {
        let ctx = self.ctx();
        self.runtime.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for (index, (key, dir)) in requests.iter().enumerate() {
                let ctx = ctx.clone();
                let (key, dir) = (key.clone(), dir.clone());
                set.spawn(async move { (index, fetch_one(ctx, key, dir).await) });
            }
            let mut results = vec![Err(FetchError::Unavailable); requests.len()];
            while let Some(joined) = set.join_next().await {
                if let Ok((index, result)) = joined {
                    results[index] = result;
                }
            }
            results
        })
    }

    fn upload_many(&self, objects: &[(String, PathBuf, Manifest)]) -> usize {
        let ctx = self.ctx();
        let uploaded = AtomicUsize::new(0);
        self.runtime.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for (key, dir, manifest) in objects {
                let ctx = ctx.clone();
                set.spawn(upload_one(ctx, key.clone(), dir.clone(), manifest.clone()));
            }
            while let Some(joined) = set.join_next().await {
                if joined.unwrap_or(false) {
                    uploaded.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        uploaded.into_inner()
    }

    fn contains_many(&self, keys: &[String]) -> Vec<Option<bool>> {
        let ctx = self.ctx();
        self.runtime.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for (index, key) in keys.iter().enumerate() {
                let ctx = ctx.clone();
                let location = manifest_location(&ctx.prefix, key);
                set.spawn(async move { (index, ctx.exists(&location).await.ok()) });
            }
            let mut results = vec![None; keys.len()];
            while let Some(joined) = set.join_next().await {
                if let Ok((index, found)) = joined {
                    results[index] = found;
                }
            }
            results
        })
    }
}

/// How the executor uses a remote.
#[derive(Clone)]
pub struct CacheOptions {
    pub remote: Arc<dyn RemoteCache>,
    /// Upload what this run executes.
    pub push: bool,
}

impl fmt::Debug for CacheOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheOptions")
            .field("url", &self.remote.url())
            .field("push", &self.push)
            .finish()
    }
}

/// The result of fetching one key into the store.
#[derive(Debug, Clone)]
pub enum Fetched {
    /// Downloaded, verified, committed (unsynced); these are its stamps.
    Stored(Vec<crate::store::Stamp>),
    Missing,
    /// The remote object did not verify; it was discarded and reported.
    Corrupt,
    /// The remote is off, or the object could not be written locally (reported); compute it.
    Unavailable,
}

/// Download `keys` from the remote into the store (each through a scratch directory, committed
/// without fsync: the caller syncs them in a batch). Corrupt objects are reported, one line each.
/// A key listed twice (identical work under two stage names) is fetched once. Results are in the
/// order of `keys`. Call while holding the store lock.
pub fn fetch_into(remote: &dyn RemoteCache, store: &Store, keys: &[&str]) -> Vec<Fetched> {
    let mut unique: Vec<&str> = keys.to_vec();
    unique.sort_unstable();
    unique.dedup();
    let mut requests = Vec::with_capacity(unique.len());
    let mut outcomes: std::collections::HashMap<String, Fetched> = std::collections::HashMap::new();
    for key in &unique {
        match store.scratch(key) {
            Ok(dir) => requests.push((key.to_string(), dir)),
            Err(error) => {
                eprintln!(
                    "warning: remote cache {}: cannot fetch {key} ({error}); computing it locally",
                    remote.url()
                );
                outcomes.insert(key.to_string(), Fetched::Unavailable);
            }
        }
    }
    let results = if requests.is_empty() {
        Vec::new()
    } else {
        remote.fetch_many(&requests)
    };
    for ((key, dir), result) in requests.iter().zip(results) {
        let outcome = match result {
            Ok(manifest) => match store.commit(dir, key, false) {
                // The local commit re-hashes every file: it must describe the same bytes.
                Ok(stamps)
                    if store
                        .manifest(key)
                        .is_ok_and(|local| local.files == manifest.files) =>
                {
                    Ok(stamps)
                }
                Ok(_) => {
                    let _ = store.remove(key);
                    Err(FetchError::Corrupt(
                        "the committed files differ from the manifest".into(),
                    ))
                }
                Err(error) => Err(FetchError::Local(error.to_string())),
            },
            Err(error) => Err(error),
        };
        let fetched = match outcome {
            Ok(stamps) => Fetched::Stored(stamps),
            Err(error) => {
                let _ = std::fs::remove_dir_all(dir);
                match error {
                    FetchError::Missing => Fetched::Missing,
                    FetchError::Corrupt(reason) => {
                        eprintln!(
                            "warning: remote cache {}: object {key} is corrupt ({reason}); discarded, computing it locally",
                            remote.url()
                        );
                        Fetched::Corrupt
                    }
                    FetchError::Local(reason) => {
                        eprintln!(
                            "warning: remote cache {}: cannot store {key} locally ({reason}); computing it locally",
                            remote.url()
                        );
                        Fetched::Unavailable
                    }
                    FetchError::Unavailable => Fetched::Unavailable,
                }
            }
        };
        outcomes.insert(key.clone(), fetched);
    }
    keys.iter()
        .map(|key| outcomes.get(*key).cloned().unwrap_or(Fetched::Unavailable))
        .collect()
}

/// Upload the stored objects `keys` (each fully verified locally first, so a damaged local file is
/// never published). Returns how many were uploaded.
pub fn upload_from(remote: &dyn RemoteCache, store: &Store, keys: &[&str]) -> usize {
    let objects: Vec<(String, PathBuf, Manifest)> = keys
        .iter()
        .filter_map(|key| {
            store.verify(key).ok()?;
            let manifest = store.manifest(key).ok()?;
            Some((key.to_string(), store.object_dir(key), manifest))
        })
        .collect();
    if objects.is_empty() {
        return 0;
    }
    remote.upload_many(&objects)
}

/// What [`pull`] or [`push`] did, in tasks of the selection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub total: usize,
    /// Pulled from / pushed to the remote.
    pub transferred: usize,
    /// Already on the receiving side.
    pub present: usize,
    /// Not on the sending side (pull: not on the remote; push: not in the local store).
    pub absent: usize,
    /// Pull: remote objects that did not verify (discarded). Push: uploads that failed.
    pub failed: usize,
}

fn selected_keys<'p>(plan: &'p crate::plan::Plan, targets: &[String]) -> Result<Vec<&'p str>> {
    let mut keys: Vec<&str> = plan
        .select(targets)?
        .into_iter()
        .map(|id| plan.tasks()[id].key.as_str())
        .collect();
    // Identical work under two stage names has one key and one object.
    keys.sort_unstable();
    keys.dedup();
    Ok(keys)
}

/// Bring every task of the selection that the local store lacks (or holds damaged) down from the
/// remote, verified, and record the stamps. Takes the store lock.
pub fn pull(
    plan: &crate::plan::Plan,
    store: &Store,
    remote: &dyn RemoteCache,
    targets: &[String],
) -> Result<SyncReport> {
    let keys = selected_keys(plan, targets)?;
    store.create()?;
    let _lock = store.lock(|| eprintln!("waiting for another minorfirst run…"))?;
    store.clean_scratch()?;
    let mut stamps = store.load_stamps();
    let missing: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|key| {
            let trusted = stamps
                .get(*key)
                .is_some_and(|recorded| store.matches_stamps(key, recorded))
                || (store.object_dir(key).exists() && store.verify(key).is_ok());
            if !trusted {
                let _ = store.remove(key);
            }
            !trusted
        })
        .collect();
    let mut report = SyncReport {
        total: keys.len(),
        present: keys.len() - missing.len(),
        ..SyncReport::default()
    };
    let mut stored = Vec::new();
    for (key, result) in missing.iter().zip(fetch_into(remote, store, &missing)) {
        match result {
            Fetched::Stored(fresh) => {
                stamps.insert(key.to_string(), fresh);
                stored.push(*key);
            }
            Fetched::Missing => report.absent += 1,
            Fetched::Corrupt | Fetched::Unavailable => report.failed += 1,
        }
    }
    report.transferred = stored.len();
    if !stored.is_empty() {
        store.sync_batch(&stored)?;
        store.save_stamps(&stamps)?;
    }
    Ok(report)
}

/// Upload every task of the selection that is in the local store (verified) and not yet on the
/// remote. Takes the store lock (so `gc` cannot remove an object mid-upload).
pub fn push(
    plan: &crate::plan::Plan,
    store: &Store,
    remote: &dyn RemoteCache,
    targets: &[String],
) -> Result<SyncReport> {
    let keys = selected_keys(plan, targets)?;
    let mut report = SyncReport {
        total: keys.len(),
        ..SyncReport::default()
    };
    if !store.exists() {
        report.absent = keys.len();
        return Ok(report);
    }
    let _lock = store.lock(|| eprintln!("waiting for another minorfirst run…"))?;
    let local: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|key| store.object_dir(key).join(MANIFEST).exists())
        .collect();
    report.absent = keys.len() - local.len();
    let owned: Vec<String> = local.iter().map(|key| key.to_string()).collect();
    let on_remote = remote.contains_many(&owned);
    let mut upload = Vec::new();
    for (key, found) in local.iter().zip(on_remote) {
        match found {
            Some(true) => report.present += 1,
            Some(false) => upload.push(*key),
            None => report.failed += 1,
        }
    }
    report.transferred = upload_from(remote, store, &upload);
    report.failed += upload.len() - report.transferred;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_parsed_strictly_and_credentials_redacted() {
        assert_eq!(redact("s3://id:secret@bucket/p"), "s3://bucket/p");
        assert_eq!(redact("file:///x/y"), "file:///x/y");
        for bad in [
            "bucket/prefix",
            "http://x/y",
            "file://relative",
            "s3://",
            "s3://a:b@bucket",
        ] {
            let error = ObjectStoreCache::open(bad).unwrap_err().to_string();
            assert!(error.contains("expected file:///DIR"), "{bad}: {error}");
            assert!(
                !error.contains("secret") && !error.contains(":b@"),
                "{error}"
            );
        }
    }

    #[test]
    fn manifest_paths_cannot_escape_the_scratch_directory() {
        assert!(safe_path("a/b.txt"));
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", MANIFEST] {
            assert!(!safe_path(bad), "{bad}");
        }
    }

    fn object(store: &Store, key: &str, files: &[(&str, &[u8])]) {
        let scratch = store.scratch(key).unwrap();
        for (name, bytes) in files {
            let path = scratch.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        store.commit(&scratch, key, false).unwrap();
    }

    #[test]
    fn file_remote_round_trip_detects_corruption_and_missing_keys() {
        let dir = tempfile::tempdir().unwrap();
        let remote_dir = dir.path().join("remote");
        let url = format!("file://{}", remote_dir.display());
        let remote = ObjectStoreCache::open(&url).unwrap();
        let a = Store::new(dir.path().join("a"));
        a.create().unwrap();
        object(&a, "k1", &[("x.txt", b"one"), ("publish/y.txt", b"two")]);
        object(&a, "k2", &[("x.txt", b"one")]);
        assert_eq!(upload_from(&remote, &a, &["k1", "k2"]), 2);
        assert_eq!(
            remote.contains_many(&["k1".into(), "k3".into()]),
            vec![Some(true), Some(false)]
        );
        let b = Store::new(dir.path().join("b"));
        b.create().unwrap();
        let results = fetch_into(&remote, &b, &["k1", "k3"]);
        assert!(matches!(results[0], Fetched::Stored(_)));
        assert!(matches!(results[1], Fetched::Missing));
        assert_eq!(
            std::fs::read(b.object_dir("k1").join("publish/y.txt")).unwrap(),
            b"two"
        );
        assert!(b.verify("k1").is_ok());
        // Flip the blob of "one" (shared by k1 and k2): k2 no longer verifies and is not stored.
        let digest = blake3::hash(b"one").to_hex().to_string();
        let blob = remote_dir.join("blobs").join(&digest[..2]).join(&digest);
        std::fs::write(&blob, b"ONE").unwrap();
        let results = fetch_into(&remote, &b, &["k2"]);
        assert!(matches!(results[0], Fetched::Corrupt));
        assert!(!b.object_dir("k2").exists());
    }
}
