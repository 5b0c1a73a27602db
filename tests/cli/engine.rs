//! The pipeline engine through the real binary: caching, sweeps, kills, corruption, concurrency,
//! strict configuration errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::util::bin;

/// A temp project with a pipeline.toml; every run logs toy executions to `toy.log`.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(pipeline: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("pipeline.toml"), pipeline).expect("write pipeline.toml");
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
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

    /// Run and require exit 0; returns the run.json counts (executed, cached).
    fn ok(&self, args: &[&str]) -> (u64, u64) {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let json = self.run_json();
        (
            json["executed"].as_u64().unwrap(),
            json["cached"].as_u64().unwrap(),
        )
    }

    fn run_json(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.path().join("reports/run.json")).unwrap())
            .unwrap()
    }

    fn executions(&self) -> Vec<String> {
        std::fs::read_to_string(self.path().join("toy.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn object(&self, key: &str) -> PathBuf {
        self.path().join(".minorfirst/store/objects").join(key)
    }
}

fn sweep(values: impl Iterator<Item = i64>) -> String {
    format!(
        "[{}]",
        values.map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
    )
}

fn twenty_point_pipeline() -> String {
    format!(
        "[stage.g]\nkind = \"toy.gen\"\nn = {}\nscale = 0.5\n\n[stage.total]\nkind = \"toy.sum\"\ndeps = [\"g\"]\n",
        sweep(0..20)
    )
}

#[test]
fn cold_rerun_one_changed_sweep_value_and_revert() {
    let project = Project::new(&twenty_point_pipeline());
    let output = project.run(&["run"]);
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("tasks: 21 total, 21 executed, 0 cached, 0 failed"),
        "{stderr}"
    );
    // The aggregator saw every sweep point: 0.5 · (0 + … + 19) = 95, published to reports/.
    assert_eq!(
        std::fs::read_to_string(project.path().join("reports/total.txt"))
            .unwrap()
            .trim(),
        "95"
    );
    assert_eq!(project.executions().len(), 21);

    assert_eq!(project.ok(&["run"]), (0, 21));
    let changed = format!(
        "g.n={}",
        sweep((0..20).map(|n| if n == 7 { 70 } else { n }))
    );
    assert_eq!(project.ok(&["run", "--set", &changed]), (2, 19));
    assert_eq!(
        std::fs::read_to_string(project.path().join("reports/total.txt"))
            .unwrap()
            .trim(),
        "126.5"
    );
    let log = project.executions();
    assert_eq!(log.len(), 23);
    assert!(
        log[21].contains("\"n\":70") && log[22].starts_with("total "),
        "{log:?}"
    );
    // Reverting reuses the objects of the first run: nothing executes, and the report follows.
    assert_eq!(project.ok(&["run"]), (0, 21));
    assert_eq!(
        std::fs::read_to_string(project.path().join("reports/total.txt"))
            .unwrap()
            .trim(),
        "95"
    );
    // Spelling a float differently is the same task.
    assert_eq!(project.ok(&["run", "--set", "g.scale=0.50"]), (0, 21));
    let json = project.run_json();
    assert_eq!(json["tasks"].as_array().unwrap().len(), 21);
    assert_eq!(json["tasks"][3]["params"]["n"], 3);
    assert_eq!(json["tasks"][3]["status"], "cached");
}

#[test]
fn status_explains_why_tasks_would_run() {
    let project = Project::new(&twenty_point_pipeline());
    let output = project.run(&["status"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout
            .lines()
            .filter(|line| line.ends_with("would run: new"))
            .count(),
        21,
        "{stdout}"
    );
    project.ok(&["run", "--quiet"]);
    let changed = format!(
        "g.n={}",
        sweep((0..20).map(|n| if n == 3 { 33 } else { n }))
    );
    let output = project.run(&["status", "--set", &changed, "--set", "total.offset=1"]);
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 21);
    assert!(
        lines[3].starts_with("g[3]\t") && lines[3].ends_with("would run: param n 3 → 33"),
        "{stdout}"
    );
    assert!(lines[4].ends_with("\tcached"), "{stdout}");
    assert!(
        lines[20].ends_with("would run: param offset 0.0 → 1.0"),
        "{stdout}"
    );
    let output = project.run(&["status", "--set", &changed]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout
            .lines()
            .last()
            .unwrap()
            .ends_with("would run: input changed (g)"),
        "{stdout}"
    );
    // Nothing was run by status.
    assert_eq!(project.executions().len(), 21);
}

#[test]
fn a_failed_task_skips_its_dependents_only_and_exits_3() {
    let project = Project::new(&format!(
        "[stage.f]\nkind = \"toy.fail\"\nn = {}\nfail_on = 2\n\n[stage.after]\nkind = \"toy.sum\"\ndeps = [\"f\"]\n\n\
         [stage.other]\nkind = \"toy.gen\"\nn = [1, 2]\n",
        sweep(0..4)
    ));
    let output = project.run(&["run"]);
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("tasks: 7 total, 5 executed, 0 cached, 1 failed, 1 skipped"),
        "{stderr}"
    );
    assert!(
        stderr.contains("f[2] (toy failure at n = 2; log: .minorfirst/store/failures/f.2.log)"),
        "{stderr}"
    );
    // The log keeps the whole error with the task's identity; a later clean run forgets it.
    let log = std::fs::read_to_string(project.path().join(".minorfirst/store/failures/f.2.log"))
        .expect("failure log");
    assert!(
        log.contains("task: f[2]") && log.contains("toy failure at n = 2"),
        "{log}"
    );
    assert!(log.contains("\"fail_on\": 2"), "{log}");
    let json = project.run_json();
    assert_eq!(json["failed"], 1);
    assert_eq!(json["skipped"], 1);
    // `fail_on` is a parameter of every `f` task, so changing it reruns the stage and its
    // dependent; the independent stage stays cached.
    assert_eq!(project.ok(&["run", "--set", "f.fail_on=-5"]), (5, 2));
    assert!(
        !project
            .path()
            .join(".minorfirst/store/failures/f.2.log")
            .exists()
    );
}

#[test]
fn sigkill_mid_run_then_the_next_run_completes_and_verifies() {
    let project = Project::new(&format!(
        "[stage.w]\nkind = \"toy.work\"\nn = {}\nsleep_ms = 60\n",
        sweep(0..24)
    ));
    let mut child = project
        .command(&["run", "--jobs", "2", "--quiet"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while project.executions().len() < 6 && start.elapsed().as_secs() < 15 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on Unix: no chance to clean up or unlock.
    child.wait().unwrap();
    let executed_before = project.executions().len();
    assert!(
        executed_before < 24,
        "the run finished before it was killed"
    );
    let (executed, cached) = project.ok(&["run", "--quiet"]);
    assert_eq!(executed + cached, 24);
    assert!(
        executed >= 24 - executed_before as u64,
        "{executed} {executed_before}"
    );
    // Every object re-hashes cleanly, no scratch is left, and nothing reruns.
    assert_eq!(project.ok(&["run", "--verify", "--quiet"]), (0, 24));
    let scratch = std::fs::read_dir(project.path().join(".minorfirst/store/tmp"))
        .unwrap()
        .count();
    assert_eq!(scratch, 0);
}

#[test]
fn a_flipped_byte_recomputes_that_task_only() {
    let project = Project::new(&twenty_point_pipeline());
    project.ok(&["run", "--quiet"]);
    let key = project.run_json()["tasks"][5]["key"]
        .as_str()
        .unwrap()
        .to_string();
    let file = project.object(&key).join("value.json");
    let mut bytes = std::fs::read(&file).unwrap();
    let position = bytes.iter().position(|byte| byte.is_ascii_digit()).unwrap();
    bytes[position] = if bytes[position] == b'9' {
        b'8'
    } else {
        bytes[position] + 1
    };
    std::fs::write(&file, &bytes).unwrap();
    let output = project.run(&["run", "--quiet"]);
    assert!(output.status.success());
    let json = project.run_json();
    assert_eq!(
        (json["executed"].as_u64(), json["cached"].as_u64()),
        (Some(1), Some(20))
    );
    assert_eq!(json["tasks"][5]["status"], "executed");
    assert_eq!(project.executions().len(), 22);
    assert_ne!(std::fs::read(&file).unwrap(), bytes);
}

#[test]
fn two_concurrent_runs_share_the_store_without_duplicate_work() {
    let project = Project::new(&format!(
        "[stage.w]\nkind = \"toy.work\"\nn = {}\nsleep_ms = 30\n",
        sweep(0..12)
    ));
    let first = project
        .command(&["run", "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let second = project
        .command(&["run", "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let outputs = [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ];
    let mut executed = 0;
    for output in &outputs {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        let summary = stderr
            .lines()
            .find(|line| line.starts_with("tasks: "))
            .unwrap();
        executed += summary
            .split(", ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse::<usize>()
            .unwrap();
    }
    assert_eq!(executed, 12);
    assert_eq!(project.executions().len(), 12);
}

#[test]
fn gc_drops_unreachable_objects_and_dag_prints_the_graph() {
    let project = Project::new(&twenty_point_pipeline());
    project.ok(&["run", "--quiet"]);
    project.ok(&["run", "--quiet", "--set", "total.offset=2"]);
    let output = project.run(&["gc", "--dry-run"]);
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 1);
    let output = project.run(&["gc"]);
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 1);
    // gc kept what the current plan (offset 0) reaches and dropped the offset-2 aggregate.
    assert_eq!(project.ok(&["run", "--quiet"]), (0, 21));
    assert_eq!(
        project.ok(&["run", "--quiet", "--set", "total.offset=2"]),
        (1, 20)
    );
    let output = project.run(&["dag", "--dot"]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("\"g\" -> \"total\";"));
    let output = project.run(&["run", "--quiet", "g"]);
    assert!(output.status.success());
    assert_eq!(project.run_json()["total"], 20);
    assert!(project.run(&["clean"]).status.success());
    assert!(!project.path().join(".minorfirst/store/objects").exists());
}

/// Each malformed input gives exit 2, its own message, and writes nothing at all.
#[test]
fn malformed_pipelines_and_flags_exit_2_and_write_nothing() {
    let base = "[stage.g]\nkind = \"toy.gen\"\nn = [1, 2]\n";
    let cases: Vec<(String, Vec<&str>, &str)> = vec![
        ("[stage.g\nkind = \"toy.gen\"\n".into(), vec![], "pipeline.toml:1: invalid TOML"),
        ("[pipelin]\n".into(), vec![], "key `pipelin`: unknown top-level key"),
        ("[pipeline]\nstor = \"x\"\n".into(), vec![], "pipeline.toml:2: key `stor`: unknown key in [pipeline]"),
        (format!("{base}m = 1\n"), vec![], "pipeline.toml:4: stage `g`, key `m`: unknown parameter of kind `toy.gen`"),
        ("[stage.g]\nkind = \"toy.gen\"\nn = \"three\"\n".into(), vec![], "pipeline.toml:3: stage `g`, key `n`: expected an integer, found a string"),
        ("[stage.g]\nkind = \"toy.gen\"\nn = -1\n".into(), vec![], "stage `g`, key `n`: value -1 is out of range (minimum 0)"),
        ("[stage.g]\nkind = \"toy.gen\"\nn = [1, 2000000]\n".into(), vec![], "sweep value 1: value 2000000 is out of range"),
        ("[stage.g]\nkind = \"toy.nope\"\n".into(), vec![], "pipeline.toml:2: stage `g`, key `kind`: unknown kind `toy.nope`"),
        ("[stage.g]\nn = 1\n".into(), vec![], "pipeline.toml:1: stage `g`: missing `kind`"),
        (format!("{base}deps = [\"nope\"]\n"), vec![], "stage `g`, key `deps`: unknown stage `nope`"),
        (
            "[stage.a]\nkind = \"toy.sum\"\ndeps = [\"b\"]\n[stage.b]\nkind = \"toy.sum\"\ndeps = [\"a\"]\n".into(),
            vec![],
            "pipeline.toml:3: stage `a`, key `deps`: dependency cycle: a → b → a",
        ),
        (format!("{base}publish = [true, false]\n"), vec![], "key `publish`: expected a boolean, found an array; this parameter cannot be swept"),
        (format!("{base}sweep = \"zip\"\nscale = [1.0]\n"), vec![], "zip sweep needs equal lengths"),
        (format!("{base}sweep = \"diagonal\"\n"), vec![], "key `sweep`: expected \"grid\" or \"zip\""),
        (format!("{base}v = [\"a\"]\n"), vec![], "key `v`: expected an array of numbers, found a string"),
        (format!("{base}[stage.g]\nkind = \"toy.gen\"\n"), vec![], "pipeline.toml:4: invalid TOML"),
        (format!("[profile.q]\n\"nope.n\" = 1\n{base}"), vec![], "pipeline.toml:2: stage `nope`, key `n`: profile `q`: unknown stage `nope`"),
        (format!("[profile.q]\n\"g.n\" = 1.5\n{base}"), vec!["--profile", "q"], "profile `q`: expected an integer, found a float"),
        (base.into(), vec!["--set", "gn=1"], "invalid --set `gn=1`: expected stage.key=value"),
        (base.into(), vec!["--set", "x.n=1"], "invalid --set `x.n=1`: unknown stage `x`"),
        (base.into(), vec!["--set", "g.n=1.5"], "invalid --set `g.n=1.5`: expected an integer, found a float"),
        (base.into(), vec!["--set", "g.n=[1,"], "invalid --set `g.n=[1,`: value is not valid TOML"),
        (base.into(), vec!["--set", "g.kind=1"], "`kind` is not a parameter and cannot be overridden"),
        (base.into(), vec!["--profile", "nope"], "unknown profile `nope` (defined: none)"),
        (base.into(), vec!["nope"], "unknown target stage `nope` (stages: g)"),
        (base.into(), vec!["--force", "nope"], "unknown --force stage `nope`"),
        (base.into(), vec!["--jobs", "0"], "--jobs"),
    ];
    assert!(cases.len() >= 15);
    for (pipeline, args, expected) in cases {
        let project = Project::new(&pipeline);
        let mut all = vec!["run"];
        all.extend(&args);
        let output = project.run(&all);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{pipeline:?} {args:?}: {stderr}"
        );
        assert!(
            stderr.contains(expected),
            "{pipeline:?} {args:?}: expected {expected:?} in {stderr}"
        );
        let entries: Vec<_> = std::fs::read_dir(project.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            entries,
            vec![std::ffi::OsString::from("pipeline.toml")],
            "{pipeline:?} {args:?} wrote files"
        );
    }
}

/// The keys `status --json` plans, in plan order.
fn planned_keys(project: &Project, args: &[&str]) -> Vec<String> {
    let mut all = vec!["status", "--json"];
    all.extend_from_slice(args);
    let output = project.run(&all);
    assert!(
        output.status.success(),
        "{all:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    json["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["key"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn set_values_are_read_by_the_parameter_type_and_the_toml_form_still_works() {
    let project = Project::new(
        "[stage.g]\nkind = \"toy.gen\"\nn = 1\n\n[stage.total]\nkind = \"toy.sum\"\ndeps = [\"g\"]\n\n\
         [stage.c]\nkind = \"toy.claim\"\ndeps = [\"g\"]\nid = \"toy.c\"\nexpected = 1.0\ntol = 0.5\n",
    );
    let total = || {
        std::fs::read_to_string(project.path().join("reports/total.txt"))
            .unwrap()
            .trim()
            .to_string()
    };
    // A vector without TOML brackets: value = n · scale + Σ v = 1 + 3.
    project.ok(&["run", "--set", "g.v=1,2"]);
    assert_eq!(total(), "4");
    // The same value in TOML syntax is the same task.
    assert_eq!(project.ok(&["run", "--set", "g.v=[1, 2]"]), (0, 3));
    // Comma-separated values where one integer is expected are a sweep, as `[1, 2]` is.
    assert_eq!(project.ok(&["run", "--set", "g.n=1,2"]), (4, 0));
    assert_eq!(total(), "3");
    assert_eq!(
        planned_keys(&project, &["--set", "g.n=1,2"]),
        planned_keys(&project, &["--set", "g.n=[1, 2]"])
    );
    // Plain text for a string parameter (TOML would need quotes); the quoted form means the same.
    let plain = planned_keys(&project, &["--set", "c.id=toy c, spelled out"]);
    assert_eq!(
        plain,
        planned_keys(&project, &["--set", "c.id=\"toy c, spelled out\""])
    );
    assert_ne!(plain, planned_keys(&project, &[]));
    // A boolean, and a number for a float parameter.
    planned_keys(
        &project,
        &["--set", "g.publish=true", "--set", "g.scale=.5"],
    );
    // What does not read as the type is still refused, naming the --set.
    for (set, message) in [
        (
            "g.n=x",
            "invalid --set `g.n=x`: expected an integer, found a string",
        ),
        ("g.publish=maybe", "invalid --set `g.publish=maybe`"),
        ("g.v=1,x", "invalid --set `g.v=1,x`"),
    ] {
        let output = project.run(&["status", "--set", set]);
        assert_eq!(output.status.code(), Some(2), "{set}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{set}: {stderr}");
    }
}

#[test]
fn run_json_reads_back_as_the_engine_type_byte_for_byte() {
    let project = Project::new(&twenty_point_pipeline());
    project.ok(&["run", "--quiet"]);
    let bytes = std::fs::read(project.path().join("reports/run.json")).unwrap();
    let record = pipeline::RunJson::from_slice(&bytes).expect("run.json parses as RunJson");
    assert_eq!(record.total, 21);
    assert_eq!(record.tasks.len(), 21);
    assert!(record.tasks.iter().all(|task| task.stored()));
    assert_eq!(record.tasks[20].stage, "total");
    assert_eq!(serde_json::to_vec(&record).unwrap(), bytes);
    // `gc --keep` reads it through the same type: every task of the record is kept.
    let output = project.run(&["gc", "--dry-run", "--keep", "reports/run.json"]);
    assert!(output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("gc: 0 object(s) would be removed"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
