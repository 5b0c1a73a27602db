//! The shared remote cache through the real binary: machine A runs and pushes, a fresh machine B
//! with an empty store fetches everything (0 executed) and renders the same page; a changed
//! parameter executes only what it touches; a corrupted remote object is detected, recomputed and
//! not uploaded again; a dead remote costs one warning line, never the run. The same against a
//! real S3-protocol server on localhost (moto's server mode; `MINORFIRST_MOTO` names its
//! `moto_server`, which `.ci/run` installs in a throwaway venv; without it those tests FAIL).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::bin;

/// A machine: a project directory with its own store, and the environment its runs get.
struct Machine {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Machine {
    fn new(pipeline: &str, env: &[(String, String)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("pipeline.toml"), pipeline).expect("write pipeline.toml");
        Self {
            dir,
            env: env.to_vec(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The repository's expectations.toml, for `verify` on a copy of its pipeline.
    fn expect_as_the_repository(&self) {
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/expectations.toml"),
            self.path().join("expectations.toml"),
        )
        .expect("copy expectations.toml");
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(bin())
            .args(args)
            .current_dir(self.path())
            .env("MINORFIRST_TOY_LOG", self.path().join("toy.log"))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("spawn minorfirst")
    }

    /// Run, require exit 0, return stderr.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{args:?} failed:\n{stderr}");
        stderr
    }

    fn run_json(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.path().join("reports/run.json")).unwrap())
            .unwrap()
    }

    /// (executed, fetched, cached) of the last run.
    fn counts(&self) -> (u64, u64, u64) {
        let json = self.run_json();
        (
            json["executed"].as_u64().unwrap(),
            json["fetched"].as_u64().unwrap(),
            json["cached"].as_u64().unwrap(),
        )
    }

    fn executions(&self) -> Vec<String> {
        std::fs::read_to_string(self.path().join("toy.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Key of task `index` of `stage` in the last run.
    fn key(&self, stage: &str, index: u64) -> String {
        self.run_json()["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|task| task["stage"] == stage && task["index"] == index)
            .and_then(|task| task["key"].as_str())
            .expect("task in run.json")
            .to_string()
    }
}

fn sweep(values: impl Iterator<Item = i64>) -> String {
    format!(
        "[{}]",
        values.map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
    )
}

/// 20 generator tasks and their sum: 21 tasks.
fn toy_pipeline() -> String {
    format!(
        "[stage.g]\nkind = \"toy.gen\"\nn = {}\nscale = 0.5\n\n[stage.total]\nkind = \"toy.sum\"\ndeps = [\"g\"]\n",
        sweep(0..20)
    )
}

/// Every file under `dir`, relative path → bytes.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.push((path.strip_prefix(root).unwrap().to_path_buf(), bytes));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The page without its run-info block (timings), which is all that may differ between machines.
fn page(machine: &Machine) -> String {
    let html = std::fs::read_to_string(machine.path().join("reports/index.html")).unwrap();
    let begin = html
        .find("<!-- run-info:begin -->")
        .expect("run-info block");
    let end = html.find("<!-- run-info:end -->").expect("run-info end");
    format!("{}{}", &html[..begin], &html[end..])
}

/// The blob path (relative to the remote root) of `file` in the remote manifest of `key`.
fn blob_of(manifest: &[u8], file: &str) -> String {
    let manifest: Value = serde_json::from_slice(manifest).unwrap();
    let digest = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["path"] == file)
        .and_then(|entry| entry["blake3"].as_str())
        .expect("file in manifest")
        .to_string();
    format!("blobs/{}/{digest}", &digest[..2])
}

#[test]
fn file_remote_quick_profile_round_trip_fetches_everything_and_renders_the_same_page() {
    let remote = tempfile::tempdir().unwrap();
    let url = format!("file://{}", remote.path().display());
    let pipeline =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/pipeline.toml")).unwrap();
    let a = Machine::new(&pipeline, &[]);
    a.expect_as_the_repository();
    let quick: [&str; 6] = ["run", "--profile", "quick", "--quiet", "--cache", &url];
    let stderr = a.ok(&[&quick[..], &["--cache-push", "on"]].concat());
    let (executed, fetched, cached) = a.counts();
    let total = a.run_json()["total"].as_u64().unwrap();
    assert_eq!((executed, fetched, cached), (total, 0, 0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "tasks: {total} total, {total} executed, 0 fetched, 0 cached, 0 failed"
        )),
        "{stderr}"
    );
    // One manifest per distinct key reached the remote.
    let mut keys: Vec<&str> = Vec::new();
    let json = a.run_json();
    for task in json["tasks"].as_array().unwrap() {
        keys.push(task["key"].as_str().unwrap());
    }
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(
        std::fs::read_dir(remote.path().join("manifests"))
            .unwrap()
            .count(),
        keys.len()
    );

    let b = Machine::new(&pipeline, &[]);
    b.expect_as_the_repository();
    let stderr = b.ok(&quick);
    assert_eq!(b.counts(), (0, total, 0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "tasks: {total} total, 0 executed, {total} fetched, 0 cached, 0 failed"
        )),
        "{stderr}"
    );
    assert_eq!(page(&a), page(&b), "the fetched store renders another page");
    // Every published table and figure is byte-identical too.
    let published = |machine: &Machine| {
        tree(&machine.path().join("reports"))
            .into_iter()
            .filter(|(path, _)| !path.ends_with("run.json") && !path.ends_with("index.html"))
            .collect::<Vec<_>>()
    };
    assert_eq!(published(&a), published(&b));
    // B's store now holds verified objects: `verify` accepts it, and a rerun is all cached.
    b.ok(&["verify", "--profile", "quick"]);
    b.ok(&quick);
    assert_eq!(b.counts(), (0, 0, total));
}

#[test]
fn file_remote_changed_parameter_executes_only_the_affected_tasks() {
    let remote = tempfile::tempdir().unwrap();
    let url = format!("file://{}", remote.path().display());
    let a = Machine::new(&toy_pipeline(), &[]);
    a.ok(&["run", "--cache", &url, "--cache-push", "on"]);
    assert_eq!(a.counts(), (21, 0, 0));
    let before = tree(remote.path());

    let b = Machine::new(&toy_pipeline(), &[]);
    let changed = format!(
        "g.n={}",
        sweep((0..20).map(|n| if n == 7 { 70 } else { n }))
    );
    let stderr = b.ok(&["run", "--cache", &url, "--set", &changed]);
    // g[7] and the sum over g are new; the other 19 generators come from the remote.
    assert_eq!(b.counts(), (2, 19, 0), "{stderr}");
    let executions = b.executions();
    assert_eq!(executions.len(), 2, "{executions:?}");
    assert!(
        executions.iter().any(|line| line.contains("\"n\":70")),
        "{executions:?}"
    );
    assert_eq!(
        std::fs::read_to_string(b.path().join("reports/total.txt"))
            .unwrap()
            .trim(),
        "126.5" // 0.5 · (0 + … + 19 − 7 + 70)
    );
    // Push is off by default: B wrote nothing to the remote.
    assert_eq!(tree(remote.path()), before);
    // `push` uploads the two new objects, then finds nothing left to do.
    let stderr = b.ok(&["push", "--cache", &url, "--set", &changed]);
    assert!(
        stderr.contains("push: 21 tasks, 2 uploaded, 19 already on the remote"),
        "{stderr}"
    );
    let stderr = b.ok(&["push", "--cache", &url, "--set", &changed]);
    assert!(
        stderr.contains("0 uploaded, 21 already on the remote"),
        "{stderr}"
    );
}

#[test]
fn file_remote_corrupt_object_is_detected_recomputed_and_not_uploaded_again() {
    let remote = tempfile::tempdir().unwrap();
    let url = format!("file://{}", remote.path().display());
    let a = Machine::new(&toy_pipeline(), &[]);
    a.ok(&["run", "--cache", &url, "--cache-push", "on"]);
    let key = a.key("g", 7);
    let manifest = std::fs::read(remote.path().join(format!("manifests/{key}.json"))).unwrap();
    let blob = remote.path().join(blob_of(&manifest, "value.json"));
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&blob, &bytes).unwrap();
    let before = tree(remote.path());

    let b = Machine::new(&toy_pipeline(), &[]);
    let stderr = b.ok(&["run", "--cache", &url, "--cache-push", "on"]);
    assert!(
        stderr.contains(&format!("object {key} is corrupt")),
        "{stderr}"
    );
    // Only g[7] ran; its recomputed bytes are the true ones, and the sum is right.
    assert_eq!(b.counts(), (1, 20, 0), "{stderr}");
    assert_eq!(b.executions().len(), 1);
    assert_eq!(
        std::fs::read_to_string(b.path().join("reports/total.txt"))
            .unwrap()
            .trim(),
        "95"
    );
    // Not uploaded again: the remote is exactly as it was, damaged blob included.
    assert_eq!(tree(remote.path()), before);
}

#[test]
fn pull_then_run_and_settings_file() {
    let remote = tempfile::tempdir().unwrap();
    let url = format!("file://{}", remote.path().display());
    // A configures the cache in its machine settings file, pushing.
    let a = Machine::new(&toy_pipeline(), &[]);
    std::fs::create_dir_all(a.path().join(".minorfirst")).unwrap();
    std::fs::write(
        a.path().join(".minorfirst/settings.toml"),
        format!("[cache]\nurl = \"{url}\"\npush = true\n"),
    )
    .unwrap();
    let stderr = a.ok(&["run"]);
    assert!(stderr.contains("21 executed, 0 fetched"), "{stderr}");
    assert_eq!(
        std::fs::read_dir(remote.path().join("manifests"))
            .unwrap()
            .count(),
        21
    );

    let b = Machine::new(&toy_pipeline(), &[]);
    let stderr = b.ok(&["pull", "--cache", &url, "total"]);
    assert!(
        stderr.contains("pull: 21 tasks, 21 fetched, 0 already stored"),
        "{stderr}"
    );
    b.ok(&["run"]);
    assert_eq!(b.counts(), (0, 0, 21));
    assert!(b.executions().is_empty());

    // An object that does not verify is not pulled, and an explicit pull says so with exit 3.
    let key = a.key("g", 7);
    let manifest = std::fs::read(remote.path().join(format!("manifests/{key}.json"))).unwrap();
    let blob = remote.path().join(blob_of(&manifest, "value.json"));
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&blob, &bytes).unwrap();
    let c = Machine::new(&toy_pipeline(), &[]);
    let output = c.run(&["pull", "--cache", &url]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("20 fetched") && stderr.contains("1 failed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: 1 remote object(s) did not verify"),
        "{stderr}"
    );
    assert!(
        !c.path()
            .join(".minorfirst/store/objects")
            .join(&key)
            .exists()
    );

    // Bad settings are bad input naming the file and the key; nothing runs.
    std::fs::create_dir_all(b.path().join(".minorfirst")).unwrap();
    std::fs::write(
        b.path().join(".minorfirst/settings.toml"),
        "[cache]\nurl = \"x\"\npsuh = true\n",
    )
    .unwrap();
    let output = b.run(&["run"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("settings.toml") && stderr.contains("psuh"),
        "{stderr}"
    );
    // A URL of an unknown kind is bad input too.
    std::fs::remove_file(b.path().join(".minorfirst/settings.toml")).unwrap();
    let output = b.run(&["run", "--cache", "ftp://host/dir"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("expected file:///DIR"));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const SECRET: &str = "s3cr3t-never-printed-0123456789";

fn aws_env(port: u16) -> Vec<(String, String)> {
    [
        ("AWS_ACCESS_KEY_ID", "minorfirst-test"),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ALLOW_HTTP", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .chain([(
        "AWS_ENDPOINT_URL".to_string(),
        format!("http://127.0.0.1:{port}"),
    )])
    .collect()
}

#[test]
fn a_dead_remote_costs_one_warning_line_and_never_the_run() {
    let port = free_port(); // nothing listens there
    let a = Machine::new(&toy_pipeline(), &aws_env(port));
    let output = a.run(&["run", "--cache", "s3://bucket/ci", "--cache-push", "on"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(a.counts(), (21, 0, 0));
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("remote cache"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("s3://bucket/ci") && warnings[0].contains("computing locally"));
    for (_, bytes) in tree(a.path()) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(SECRET),
            "a credential was written"
        );
    }
    assert!(!stderr.contains(SECRET));
}

/// A moto S3 server on a free localhost port, stopped on drop.
struct Moto {
    child: Child,
    port: u16,
    /// moto's request log (one line per request, on its stderr).
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Moto {
    fn start() -> Self {
        let program = std::env::var("MINORFIRST_MOTO").unwrap_or_else(|_| {
            panic!(
                "MINORFIRST_MOTO is not set: it must name moto's `moto_server` \
                 (.ci/run installs it: python3 -m venv V && V/bin/pip install 'moto[server]')"
            )
        });
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("moto.log");
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {program}: {error}"));
        let moto = Self {
            child,
            port,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "{program} did not listen on port {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// One unsigned HTTP request (moto accepts them); returns the status code.
    fn request(&self, method: &str, path: &str, body: &[u8]) -> u16 {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.port,
            body.len()
        )
        .unwrap();
        stream.write_all(body).unwrap();
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0)
    }

    /// A signed PUT through boto3 (installed with moto, in the same venv as `moto_server`).
    fn put_signed(&self, bucket: &str, key: &str, body: &str) {
        let program = std::env::var("MINORFIRST_MOTO").expect("MINORFIRST_MOTO");
        let python = Path::new(&program).with_file_name("python");
        let script = format!(
            "import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:{}', \
             region_name='us-east-1', aws_access_key_id='minorfirst-test', \
             aws_secret_access_key='x').put_object(Bucket={bucket:?}, Key={key:?}, Body={body:?})",
            self.port
        );
        let status = Command::new(&python)
            .args(["-c", &script])
            .status()
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", python.display()));
        assert!(status.success(), "boto3 put_object failed");
    }

    /// The request lines logged so far.
    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|line| line.contains("HTTP/1.1"))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn s3_remote_round_trip_change_and_corruption_against_moto() {
    let moto = Moto::start();
    assert_eq!(moto.request("PUT", "/cache", b""), 200, "bucket creation");
    let env = aws_env(moto.port);
    let url = "s3://cache/ci/main";
    let a = Machine::new(&toy_pipeline(), &env);
    let stderr = a.ok(&["run", "--cache", url, "--cache-push", "on"]);
    assert_eq!(a.counts(), (21, 0, 0), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");

    let b = Machine::new(&toy_pipeline(), &env);
    let stderr = b.ok(&["run", "--cache", url]);
    assert_eq!(b.counts(), (0, 21, 0), "{stderr}");
    assert!(b.executions().is_empty());
    assert_eq!(
        std::fs::read(a.path().join("reports/total.txt")).unwrap(),
        std::fs::read(b.path().join("reports/total.txt")).unwrap()
    );

    let c = Machine::new(&toy_pipeline(), &env);
    let changed = format!(
        "g.n={}",
        sweep((0..20).map(|n| if n == 3 { 30 } else { n }))
    );
    c.ok(&["run", "--cache", url, "--set", &changed]);
    assert_eq!(c.counts(), (2, 19, 0));

    // Damage the blob of g[5] on the server; a fresh machine detects it, recomputes that task
    // and does not upload it again although it pushes.
    // The remote manifest is the local one. moto refuses unsigned requests to objects, so the
    // damage is done with boto3 from moto's own venv (a signed PUT, as another client would).
    let key = a.key("g", 5);
    let manifest = std::fs::read(
        a.path()
            .join(".minorfirst/store/objects")
            .join(&key)
            .join("MANIFEST.minorfirst.json"),
    )
    .unwrap();
    let blob = format!("ci/main/{}", blob_of(&manifest, "value.json"));
    moto.put_signed("cache", &blob, "{\"value\": 99}");
    let seen = moto.requests().len();
    let d = Machine::new(&toy_pipeline(), &env);
    let stderr = d.ok(&["run", "--cache", url, "--cache-push", "on"]);
    assert!(
        stderr.contains(&format!("object {key} is corrupt")),
        "{stderr}"
    );
    assert_eq!(d.counts(), (1, 20, 0), "{stderr}");
    // D downloaded (GET) but uploaded nothing: no PUT at all after the damage.
    // (moto logs a request after answering it: give the last line a moment to land.)
    std::thread::sleep(Duration::from_millis(500));
    let after = moto.requests()[seen..].to_vec();
    assert!(
        after
            .iter()
            .any(|line| line.contains("GET /cache/ci/main/manifests/")),
        "{after:?}"
    );
    assert!(
        !after.iter().any(|line| line.contains("PUT /")),
        "{after:?}"
    );
    assert!(!stderr.contains(SECRET));
}
