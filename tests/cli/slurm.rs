//! `run --executor slurm` against a real Slurm cluster (the single-node one of
//! `.ci/slurm-single-node`): the same objects and reports as the local executor, one job array per
//! stage wave, failures and cancelled jobs named with their job ids and logs, Ctrl-C cancelling the
//! run's jobs, a SIGKILLed coordinator followed by a run that re-attaches to its jobs.
//!
//! Without a cluster (`sinfo` does not answer) each test prints one skip line and passes, unless
//! `MINORFIRST_REQUIRE_SLURM=1` (set by `.ci/run`): then it fails. The tests take turns on the
//! cluster (its node has as many CPUs as this machine), so their timings do not depend on each other.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::util::bin;

static CLUSTER: Mutex<()> = Mutex::new(());

/// The cluster, taken for this test; `None` (after one line on stderr) when there is none and it is
/// not required.
fn cluster(test: &str) -> Option<MutexGuard<'static, ()>> {
    let answers = Command::new("sinfo")
        .args(["-h", "-o", "%T"])
        .output()
        .is_ok_and(|output| output.status.success() && !output.stdout.trim_ascii().is_empty());
    if !answers {
        assert!(
            std::env::var("MINORFIRST_REQUIRE_SLURM").as_deref() != Ok("1"),
            "MINORFIRST_REQUIRE_SLURM=1 but no Slurm cluster answers `sinfo` \
             (start one with `bash .ci/slurm-single-node`)"
        );
        // Straight to the process's stderr: the test harness captures `eprintln!` of passing tests,
        // and this line must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: no Slurm cluster (`sinfo` does not answer); \
             set MINORFIRST_REQUIRE_SLURM=1 to make this a failure"
        );
        return None;
    }
    Some(CLUSTER.lock().unwrap_or_else(|poison| poison.into_inner()))
}

/// Polls every 0.2 s (the floor) so that the tests spend their time in Slurm, not asleep.
const SETTINGS: &str = "[executor.slurm]\npoll_interval_s = 0.2\ncpus = 1\n";

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(pipeline: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("pipeline.toml"), pipeline).expect("write pipeline.toml");
        std::fs::write(dir.path().join("minorfirst.toml"), SETTINGS).expect("write settings");
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn store(&self) -> PathBuf {
        self.path().join(".minorfirst/store")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(bin());
        command
            .args(args)
            .current_dir(self.path())
            .env("MINORFIRST_TOY_LOG", self.path().join("toy.log"));
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("spawn minorfirst")
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn minorfirst")
    }

    fn run_json(&self) -> pipeline::RunJson {
        pipeline::RunJson::read(&self.path().join("reports/run.json")).unwrap()
    }

    /// `stage[index]` → (status, key) from run.json.
    fn statuses(&self) -> BTreeMap<String, (String, String)> {
        self.run_json()
            .tasks
            .into_iter()
            .map(|task| {
                (
                    format!("{}[{}]", task.stage, task.index),
                    (
                        serde_json::to_value(task.status)
                            .unwrap()
                            .as_str()
                            .unwrap()
                            .to_string(),
                        task.key,
                    ),
                )
            })
            .collect()
    }

    fn executions(&self) -> Vec<String> {
        std::fs::read_to_string(self.path().join("toy.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The submission log's lines as field maps (`stage`, `job`, `name`, `tasks`, …).
    fn submissions(&self) -> Vec<BTreeMap<String, String>> {
        std::fs::read_to_string(self.store().join("slurm/submissions.log"))
            .unwrap_or_default()
            .lines()
            .map(|line| {
                line.split_whitespace()
                    .filter_map(|field| field.split_once('='))
                    .map(|(name, value)| (name.to_string(), value.to_string()))
                    .collect()
            })
            .collect()
    }

    /// Wait until a submission of `stage` is logged; its fields.
    fn await_submission(&self, stage: &str) -> BTreeMap<String, String> {
        wait_for(
            Duration::from_secs(30),
            &format!("a submission of {stage}"),
            || {
                self.submissions()
                    .into_iter()
                    .find(|line| line.get("stage").map(String::as_str) == Some(stage))
            },
        )
    }
}

fn wait_for<T>(limit: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(start.elapsed() < limit, "no {what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// States of the job's elements as `squeue` (all states) lists them.
fn element_states(job: &str) -> Vec<String> {
    let output = Command::new("squeue")
        .args(["-h", "-r", "--states=all", "-o", "%T", "-j", job])
        .output()
        .expect("squeue");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn await_running(job: &str) {
    wait_for(
        Duration::from_secs(30),
        &format!("running element of Slurm job {job}"),
        || {
            element_states(job)
                .iter()
                .any(|state| state == "RUNNING")
                .then_some(())
        },
    );
}

/// Jobs of these names that `squeue` still lists (pending, running, completing…).
fn listed(names: &[&str]) -> String {
    let output = Command::new("squeue")
        .args(["-h", "-o", "%i %j %T"])
        .arg(format!("--name={}", names.join(",")))
        .output()
        .expect("squeue");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Wait (bounded) for a child; its exit code and stderr.
fn finish(mut child: Child, limit: Duration) -> (Option<i32>, String) {
    let start = Instant::now();
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let output = child.wait_with_output().expect("wait");
            panic!(
                "minorfirst did not finish within {limit:?} (a hang): {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().expect("wait");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Every file under `root`, by relative path, with its bytes.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let relative = path.strip_prefix(root).unwrap().display().to_string();
                files.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(root, root, &mut files);
    files
}

const SWEEP: &str = "[stage.g]\nkind = \"toy.gen\"\nn = [0, 1, 2, 3]\nscale = 0.5\npublish = true\n\n\
                     [stage.total]\nkind = \"toy.sum\"\ndeps = [\"g\"]\n";

#[test]
fn same_objects_and_reports_as_local_with_one_array_per_stage_wave() {
    let Some(_cluster) = cluster("same_objects_and_reports_as_local") else {
        return;
    };
    let local = Project::new(SWEEP);
    let output = local.run(&["run", "--executor", "local"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        local.submissions().is_empty(),
        "the local executor submitted jobs"
    );

    let slurm = Project::new(SWEEP);
    let output = slurm.run(&["run", "--executor", "slurm"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("tasks: 5 total, 5 executed, 0 cached, 0 failed"),
        "{stderr}"
    );
    // One array for the four sweep points, then one for the aggregate they release.
    let submissions = slurm.submissions();
    let waves: Vec<(&str, &str)> = submissions
        .iter()
        .map(|line| (line["stage"].as_str(), line["tasks"].as_str()))
        .collect();
    assert_eq!(waves, [("g", "4"), ("total", "1")], "{submissions:?}");
    assert!(
        submissions[0]["array"].starts_with("0-3%"),
        "{submissions:?}"
    );
    assert_eq!(slurm.executions().len(), 5);

    // Byte-identical objects (manifests included) and published reports, the same keys and
    // statuses in run.json.
    assert_eq!(
        tree(&local.store().join("objects")),
        tree(&slurm.store().join("objects"))
    );
    let reports = |project: &Project| {
        let mut files = tree(&project.path().join("reports"));
        files.remove("run.json");
        files
    };
    assert_eq!(reports(&local), reports(&slurm));
    assert_eq!(
        std::fs::read_to_string(slurm.path().join("reports/total.txt")).unwrap(),
        "3\n"
    );
    assert_eq!(local.statuses(), slurm.statuses());
    // The worker's log is where the submission log says.
    let log = PathBuf::from(&submissions[0]["dir"]).join("0.log");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("minorfirst worker: g[0]") && text.contains("committed"),
        "{text}"
    );

    // A second run through Slurm finds everything cached and submits nothing.
    let output = slurm.run(&["run", "--executor", "slurm"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("0 executed, 5 cached"), "{stderr}");
    assert_eq!(slurm.submissions().len(), 2);
}

#[test]
fn a_failing_task_is_named_with_its_job_and_log_while_independent_tasks_finish() {
    let Some(_cluster) = cluster("a_failing_task_is_named") else {
        return;
    };
    let project = Project::new(
        "[stage.f]\nkind = \"toy.fail\"\nn = [0, 1, 2]\nfail_on = 1\n\n\
         [stage.other]\nkind = \"toy.gen\"\nn = 5\n\n\
         [stage.total]\nkind = \"toy.sum\"\ndeps = [\"f\"]\n",
    );
    let output = project.run(&["run", "--executor", "slurm"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    let submission = project.await_submission("f");
    let job = &submission["job"];
    let dir = PathBuf::from(&submission["dir"]);
    let log = dir.join("1.log");
    let named = format!("Slurm job {job}_1");
    let line = stderr
        .lines()
        .find(|line| line.contains("f[1]") && line.contains("toy failure at n = 1"))
        .unwrap_or_else(|| panic!("no failure line for f[1]: {stderr}"));
    assert!(line.contains(&named), "{line}");
    assert!(line.contains(&log.display().to_string()), "{line}");
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("toy failure at n = 1"),
        "the log names the error"
    );
    let statuses = project.statuses();
    let status = |label: &str| statuses[label].0.as_str();
    assert_eq!(status("f[0]"), "executed");
    assert_eq!(status("f[1]"), "failed");
    assert_eq!(status("f[2]"), "executed");
    assert_eq!(status("other[0]"), "executed");
    assert_eq!(status("total[0]"), "skipped");
    // Nothing of the failed task is in the store.
    assert!(
        !project
            .store()
            .join("objects")
            .join(&statuses["f[1]"].1)
            .exists()
    );
}

#[test]
fn a_cancelled_job_is_a_task_failure_and_its_leftovers_are_not_trusted() {
    let Some(_cluster) = cluster("a_cancelled_job_is_a_task_failure") else {
        return;
    };
    let project = Project::new(
        "[stage.slow]\nkind = \"toy.work\"\nn = 7\nsleep_ms = 6000\n\n\
         [stage.quick]\nkind = \"toy.gen\"\nn = [1, 2]\n",
    );
    let child = project.spawn(&["run", "--executor", "slurm"]);
    let job = project.await_submission("slow")["job"].clone();
    await_running(&job);
    // The worker has made its scratch directory (named after its job element) before the task
    // starts sleeping.
    let scratch = project.store().join("tmp-workers");
    let element = format!(".{job}_0.");
    let of_slow = || {
        std::fs::read_dir(&scratch).ok().and_then(|entries| {
            entries
                .flatten()
                .find(|entry| entry.file_name().to_string_lossy().contains(&element))
                .map(|entry| entry.path())
        })
    };
    let leftover = wait_for(Duration::from_secs(20), "the worker's scratch", of_slow);
    let status = Command::new("scancel").arg(&job).status().expect("scancel");
    assert!(status.success());
    let (code, stderr) = finish(child, Duration::from_secs(60));
    assert_eq!(code, Some(3), "{stderr}");
    let line = stderr
        .lines()
        .find(|line| line.contains("failed slow"))
        .unwrap_or_else(|| panic!("no failure line for slow: {stderr}"));
    assert!(
        line.contains(&format!("Slurm job {job}_0 ended CANCELLED")),
        "{line}"
    );
    assert!(line.contains("0.log"), "{line}");
    let statuses = project.statuses();
    assert_eq!(statuses["slow[0]"].0, "failed");
    assert_eq!(statuses["quick[0]"].0, "executed");
    assert_eq!(statuses["quick[1]"].0, "executed");
    let key = statuses["slow[0]"].1.clone();
    assert!(!project.store().join("objects").join(&key).exists());
    assert!(leftover.is_dir(), "the killed worker's scratch is left");

    // The rerun executes the task again (nothing of the killed one is used) and removes the
    // killed worker's scratch, whose job is no longer alive.
    let output = project.run(&["run", "--executor", "slurm"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("1 executed, 2 cached"), "{stderr}");
    assert!(
        !leftover.exists(),
        "the killed worker's scratch survived the rerun"
    );
    assert!(std::fs::read_dir(&scratch).unwrap().next().is_none());
    let slow_runs = project
        .executions()
        .iter()
        .filter(|line| line.starts_with("slow "))
        .count();
    assert_eq!(slow_runs, 2, "started once, cancelled, executed once more");
    assert!(project.store().join("objects").join(&key).is_dir());
}

#[test]
fn a_job_past_its_time_limit_is_a_task_failure_named_with_its_job_and_log() {
    let Some(_cluster) = cluster("a_job_past_its_time_limit") else {
        return;
    };
    // Slurm's smallest limit is one minute; the task would sleep for four. The job ends TIMEOUT
    // after ≈ 60 s (plus the controller's check interval), well before the task would finish.
    let project = Project::new(
        "[stage.slow]\nkind = \"toy.work\"\nn = 3\nsleep_ms = 240000\n\n\
         [stage.quick]\nkind = \"toy.gen\"\nn = [1, 2]\n",
    );
    std::fs::write(
        project.path().join("minorfirst.toml"),
        format!("{SETTINGS}\n[executor.slurm.stage.slow]\ntime = \"1\"\n"),
    )
    .expect("write settings");
    let child = project.spawn(&["run", "--executor", "slurm"]);
    let job = project.await_submission("slow")["job"].clone();
    let (code, stderr) = finish(child, Duration::from_secs(200));
    assert_eq!(code, Some(3), "{stderr}");
    let line = stderr
        .lines()
        .find(|line| line.contains("failed slow"))
        .unwrap_or_else(|| panic!("no failure line for slow: {stderr}"));
    assert!(
        line.contains(&format!("Slurm job {job}_0 ended TIMEOUT")),
        "{line}"
    );
    assert!(line.contains("0.log"), "{line}");
    let statuses = project.statuses();
    assert_eq!(statuses["slow[0]"].0, "failed");
    assert_eq!(statuses["quick[0]"].0, "executed");
    assert_eq!(statuses["quick[1]"].0, "executed");
    assert!(
        !project
            .store()
            .join("objects")
            .join(&statuses["slow[0]"].1)
            .exists()
    );
}

#[test]
fn interrupt_cancels_the_runs_jobs() {
    let Some(_cluster) = cluster("interrupt_cancels_the_runs_jobs") else {
        return;
    };
    let project = Project::new("[stage.w]\nkind = \"toy.work\"\nn = [0, 1, 2]\nsleep_ms = 60000\n");
    let child = project.spawn(&["run", "--executor", "slurm"]);
    let submission = project.await_submission("w");
    await_running(&submission["job"]);
    let pid = child.id().to_string();
    let status = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let (code, stderr) = finish(child, Duration::from_secs(45));
    assert_eq!(code, Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted: cancelled 1 Slurm job(s)"),
        "{stderr}"
    );
    assert_eq!(
        listed(&[&submission["name"]]),
        "",
        "jobs left after the interrupt"
    );
    let objects = project.store().join("objects");
    assert!(
        !std::fs::read_dir(&objects).is_ok_and(|mut entries| entries.next().is_some()),
        "an interrupted task committed an object"
    );
}

#[test]
fn a_killed_coordinator_is_followed_by_a_run_that_reattaches_and_runs_nothing_twice() {
    let Some(_cluster) = cluster("a_killed_coordinator_is_followed_by_a_run_that_reattaches")
    else {
        return;
    };
    let project = Project::new(
        "[stage.w]\nkind = \"toy.work\"\nn = [0, 1, 2]\nsleep_ms = 3000\n\n\
         [stage.total]\nkind = \"toy.sum\"\ndeps = [\"w\"]\n",
    );
    let mut child = project.spawn(&["run", "--executor", "slurm"]);
    let submission = project.await_submission("w");
    await_running(&submission["job"]);
    child.kill().expect("SIGKILL the coordinator");
    child.wait().expect("reap");
    assert!(
        !listed(&[&submission["name"]]).is_empty(),
        "the jobs outlive their coordinator"
    );

    let output = project.run(&["run", "--executor", "slurm"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("re-attached w["), "{stderr}");
    let mut executions = project.executions();
    executions.sort();
    let stages: Vec<&str> = executions
        .iter()
        .map(|line| line.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(stages, ["total", "w", "w", "w"], "{executions:?}");
    assert_eq!(
        std::fs::read_to_string(project.path().join("reports/total.txt")).unwrap(),
        "3\n"
    );
    // Every object verifies: a local run finds all of them cached after a full re-hash.
    let output = project.run(&["run", "--executor", "local", "--verify"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("0 executed, 4 cached"), "{stderr}");
}
