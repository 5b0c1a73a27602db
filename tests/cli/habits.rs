//! CLI habits from Snakemake and DVC, through the real binary on toy pipelines: `run -n`,
//! `--forceall`, `--fail-fast` vs `--keep-going`, `status --json` / `--exit-code`, shell
//! completions, the man page, `report [--open]`, and `diff` between two runs that differ in one
//! parameter (by directory and by git revision).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::util::bin;

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
            .env("MINORFIRST_TOY_LOG", self.path().join("toy.log"))
            .env_remove("BROWSER");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("spawn minorfirst")
    }

    /// Run, require exit `code`, return (stdout, stderr).
    fn expect(&self, code: i32, args: &[&str]) -> (String, String) {
        let output = self.run(args);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(
            output.status.code(),
            Some(code),
            "minorfirst {args:?}:\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        (stdout, stderr)
    }

    fn executions(&self) -> usize {
        std::fs::read_to_string(self.path().join("toy.log"))
            .unwrap_or_default()
            .lines()
            .count()
    }

    fn run_json(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.path().join("reports/run.json")).unwrap())
            .unwrap()
    }

    fn statuses(&self) -> Vec<(String, String)> {
        self.run_json()["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|task| {
                (
                    task["stage"].as_str().unwrap().to_string(),
                    task["status"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

/// Three sweep points, their sum, and an unrelated stage.
const SMALL: &str = r#"
[stage.g]
kind = "toy.gen"
n = [0, 1, 2]

[stage.total]
kind = "toy.sum"
deps = ["g"]

[stage.other]
kind = "toy.gen"
n = 9
"#;

#[test]
fn dry_run_prints_status_and_runs_nothing() {
    let project = Project::new(SMALL);
    for flag in ["-n", "--dry-run"] {
        let (stdout, stderr) = project.expect(0, &["run", flag]);
        assert_eq!(stdout.lines().count(), 5, "{stdout}");
        assert!(
            stdout
                .lines()
                .all(|line| line.ends_with("\twould run: new")),
            "{stdout}"
        );
        assert!(
            stderr.contains("status: 5 tasks, 0 cached, 5 would run"),
            "{stderr}"
        );
    }
    assert_eq!(project.executions(), 0);
    assert!(!project.path().join("reports/run.json").exists());
    assert!(!project.path().join(".minorfirst").exists());

    project.expect(0, &["run"]);
    let (stdout, _) = project.expect(0, &["run", "-n"]);
    assert!(
        stdout.lines().all(|line| line.ends_with("\tcached")),
        "{stdout}"
    );
    // -n reflects --force / --forceall: what `run` with those flags would execute.
    let (stdout, stderr) = project.expect(0, &["run", "-n", "--force", "total"]);
    let forced: Vec<&str> = stdout
        .lines()
        .filter(|line| line.ends_with("\twould run: forced"))
        .collect();
    assert_eq!(forced.len(), 1, "{stdout}");
    assert!(forced[0].starts_with("total\t"), "{stdout}");
    assert!(
        stderr.contains("status: 5 tasks, 4 cached, 1 would run"),
        "{stderr}"
    );
    let (_, stderr) = project.expect(0, &["run", "-n", "--forceall", "total"]);
    assert!(
        stderr.contains("status: 4 tasks, 0 cached, 4 would run"),
        "{stderr}"
    );
    assert_eq!(project.executions(), 5, "a dry run executed something");
    let (_, stderr) = project.expect(2, &["run", "-n", "--force", "nope"]);
    assert!(stderr.contains("unknown --force stage `nope`"), "{stderr}");
}

#[test]
fn forceall_reruns_the_targets_and_their_dependencies_only() {
    let project = Project::new(SMALL);
    project.expect(0, &["run"]);
    let (_, stderr) = project.expect(0, &["run", "--forceall", "total"]);
    assert!(
        stderr.contains("tasks: 4 total, 4 executed, 0 cached, 0 failed"),
        "{stderr}"
    );
    let (_, stderr) = project.expect(0, &["run", "--forceall"]);
    assert!(
        stderr.contains("tasks: 5 total, 5 executed, 0 cached, 0 failed"),
        "{stderr}"
    );
    assert_eq!(project.executions(), 5 + 4 + 5);
}

/// `slow` (1 s) → `after`; independently `prep` (0.2 s) → `bad` (fails) → `below`. With two
/// threads `slow` and `prep` start together, so `bad` fails while `slow` is still running: under
/// --fail-fast `slow` finishes and is stored, `after` is never started; under keep-going it runs.
const FAILING: &str = r#"
[stage.slow]
kind = "toy.work"
sleep_ms = 1000

[stage.after]
kind = "toy.gen"
deps = ["slow"]
n = 1

[stage.prep]
kind = "toy.work"
sleep_ms = 200

[stage.bad]
kind = "toy.fail"
deps = ["prep"]
fail_on = 0

[stage.below]
kind = "toy.gen"
deps = ["bad"]
"#;

#[test]
fn fail_fast_stops_starting_tasks_keep_going_is_the_default() {
    let project = Project::new(FAILING);
    let (_, stderr) = project.expect(3, &["run", "-j", "2", "--fail-fast"]);
    let statuses = project.statuses();
    let status_of = |stage: &str| {
        statuses
            .iter()
            .find(|(name, _)| name == stage)
            .map(|(_, status)| status.clone())
            .unwrap()
    };
    assert_eq!(status_of("slow"), "executed", "{stderr}");
    assert_eq!(status_of("prep"), "executed");
    assert_eq!(status_of("bad"), "failed");
    assert_eq!(status_of("below"), "skipped");
    assert_eq!(status_of("after"), "not_run", "{stderr}");
    assert!(
        stderr.contains("tasks: 5 total, 2 executed, 0 cached, 1 failed, 1 skipped, 1 not run"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 task(s) not run (--fail-fast)"),
        "{stderr}"
    );
    assert_eq!(project.run_json()["not_run"], 1);

    // The default and --keep-going: everything independent of the failure runs.
    for args in [&["run", "-j", "2"][..], &["run", "-j", "2", "--keep-going"]] {
        let (_, stderr) = project.expect(3, args);
        let statuses = project.statuses();
        assert!(
            statuses.contains(&("after".into(), "executed".into()))
                || statuses.contains(&("after".into(), "cached".into())),
            "{args:?}: {statuses:?}\n{stderr}"
        );
        assert!(!stderr.contains("not run"), "{stderr}");
    }
    let (_, stderr) = project.expect(2, &["run", "--fail-fast", "--keep-going"]);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

#[test]
fn status_json_and_exit_code() {
    let project = Project::new(SMALL);
    let (_, stderr) = project.expect(1, &["status", "--exit-code"]);
    assert!(!stderr.contains("error"), "{stderr}");
    let (stdout, _) = project.expect(0, &["status", "--json"]);
    let json: Value = serde_json::from_str(&stdout).expect("status --json is JSON");
    assert_eq!(json["total"], 5);
    assert_eq!(json["would_run"], 5);
    assert_eq!(json["tasks"][0]["why"]["reason"], "new");
    assert_eq!(json["tasks"][0]["cached"], false);

    project.expect(0, &["run"]);
    project.expect(0, &["status", "--exit-code"]);
    let (stdout, _) = project.expect(
        1,
        &["status", "--json", "--exit-code", "--set", "g.n=[0, 7, 2]"],
    );
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["cached"], 3);
    let changed: Vec<&Value> = json["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|task| task["cached"] == false)
        .collect();
    assert_eq!(changed.len(), 2);
    assert_eq!(changed[0]["task"], "g[1]");
    assert_eq!(changed[0]["why"]["reason"], "params");
    assert_eq!(
        changed[0]["why"]["detail"],
        serde_json::json!([["n", 1, 7]])
    );
    assert_eq!(changed[0]["text"], "would run: param n 1 → 7");
    assert_eq!(changed[1]["task"], "total");
    assert_eq!(changed[1]["why"]["reason"], "inputs");
    assert_eq!(changed[1]["why"]["detail"], serde_json::json!(["g"]));
}

#[test]
fn completions_load_in_their_shells() {
    let project = Project::new(SMALL);
    let (bash, _) = project.expect(0, &["completions", "bash"]);
    let script = project.path().join("minorfirst.bash");
    std::fs::write(&script, &bash).unwrap();
    let output = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p minorfirst",
            script.display()
        ))
        .output()
        .expect("bash");
    assert!(
        output.status.success() && String::from_utf8_lossy(&output.stdout).contains("minorfirst"),
        "bash did not register the completion: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    for sub in ["run", "status", "diff", "completions", "man", "report"] {
        assert!(bash.contains(sub), "bash completion lacks {sub}");
    }
    assert!(bash.contains("--fail-fast") && bash.contains("--dry-run"));
    let (zsh, _) = project.expect(0, &["completions", "zsh"]);
    assert!(
        zsh.starts_with("#compdef minorfirst"),
        "{}",
        &zsh[..80.min(zsh.len())]
    );
    let (fish, _) = project.expect(0, &["completions", "fish"]);
    assert!(fish.contains("complete -c minorfirst") && fish.contains("diff"));
    let (_, stderr) = project.expect(2, &["completions", "tcsh"]);
    assert!(stderr.contains("tcsh"), "{stderr}");
}

#[test]
fn man_pages_for_the_binary_and_a_subcommand() {
    let project = Project::new(SMALL);
    let (page, _) = project.expect(0, &["man"]);
    assert!(
        page.contains(".TH minorfirst 1"),
        "{}",
        &page[..200.min(page.len())]
    );
    assert!(page.contains(".SH NAME") && page.contains("completions"));
    let (run, _) = project.expect(0, &["man", "run"]);
    assert!(
        run.contains(".TH minorfirst\\-run 1") || run.contains(".TH minorfirst-run 1"),
        "{run}"
    );
    assert!(run.contains("fail\\-fast"), "{run}");
    let (_, stderr) = project.expect(2, &["man", "nope"]);
    assert!(stderr.contains("no such subcommand"), "{stderr}");
}

#[test]
fn report_prints_and_opens_the_file_url() {
    let project = Project::new(SMALL);
    let (_, stderr) = project.expect(2, &["report"]);
    assert!(stderr.contains("no report at"), "{stderr}");
    std::fs::create_dir_all(project.path().join("reports")).unwrap();
    std::fs::write(project.path().join("reports/index.html"), "<p>hi</p>").unwrap();
    let root = project.path().canonicalize().unwrap();
    let expected = format!("file://{}/reports/index.html", root.display());
    let (stdout, _) = project.expect(0, &["report"]);
    // The temp dir may sit behind a symlink: compare the canonical path of what the URL names.
    let url = stdout.trim();
    let named = Path::new(url.strip_prefix("file://").unwrap())
        .canonicalize()
        .unwrap();
    assert_eq!(
        named,
        root.join("reports/index.html"),
        "{url} vs {expected}"
    );

    let opener = project.path().join("opener.sh");
    let seen = project.path().join("opened.txt");
    std::fs::write(
        &opener,
        format!("#!/bin/sh\nprintf '%s' \"$1\" > '{}'\n", seen.display()),
    )
    .unwrap();
    let mut command = project.command(&["report", "--open"]);
    command.env("BROWSER", format!("sh {}", opener.display()));
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(std::fs::read_to_string(&seen).unwrap(), url);

    let mut command = project.command(&["report", "--open"]);
    command.env("BROWSER", "/nonexistent/browser");
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("set $BROWSER"));
}

/// Two generators, four claims on them, a ledger. Changing `b.n` from 5 to 6 flips `toy.b`
/// (band 0.5 around 5) to FAIL, moves `toy.b.fail` (band 0.5 around 0, already FAIL) by 1 > 0.5,
/// moves `toy.b.loose` (band 100) within its band, and leaves `toy.a` alone.
const CLAIMS: &str = r#"
[stage.a]
kind = "toy.gen"
n = 2

[stage.b]
kind = "toy.gen"
n = 5

[stage.ca]
kind = "toy.claim"
deps = ["a"]
id = "toy.a"
expected = 2.0
tol = 0.5

[stage.cb]
kind = "toy.claim"
deps = ["b"]
id = "toy.b"
expected = 5.0
tol = 0.5

[stage.cloose]
kind = "toy.claim"
deps = ["b"]
id = "toy.b.loose"
expected = 5.0
tol = 100.0

[stage.cfail]
kind = "toy.claim"
deps = ["b"]
id = "toy.b.fail"
expected = 0.0
tol = 0.5

[stage.ledger]
kind = "claims.ledger"
deps = ["ca", "cb", "cloose", "cfail"]
"#;

/// The body of `diff` after changing `b.n` 5 → 6, as a set of lines (the header names paths).
fn expected_diff_body() -> BTreeSet<String> {
    [
        "claims: 1 changed verdict, 1 moved beyond tolerance, 0 new, 0 removed, 1 other measured changes, 1 unchanged",
        "  verdict toy.b: reproduced → contradicted (measured 5.000000 → 6.000000)",
        "  moved   toy.b.fail: 5.000000 → 6.000000 (|Δ| = 1.0e0 > tolerance 5.0e-1; still contradicted)",
        "  measured changed within tolerance or without a numeric band: toy.b.loose",
        "tasks: 5 changed key, 0 new, 0 removed, 2 unchanged",
        "  b: param n 5 → 6",
        "  cb: input changed (b)",
        "  cloose: input changed (b)",
        "  cfail: input changed (b)",
        "  ledger: input changed (cb, cfail, cloose)",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

fn body(stdout: &str) -> BTreeSet<String> {
    let mut lines = stdout.lines();
    assert!(
        lines
            .next()
            .is_some_and(|header| header.starts_with("diff: ")),
        "{stdout}"
    );
    lines.map(str::to_owned).collect()
}

#[test]
fn diff_against_a_copied_reports_directory_lists_exactly_what_one_parameter_changed() {
    let project = Project::new(CLAIMS);
    let (_, stderr) = project.expect(0, &["run"]);
    assert!(
        stderr.contains("claims: evidence: 3 reproduced, 0 inconclusive, 1 contradicted"),
        "{stderr}"
    );
    assert!(project.path().join("reports/ledgers/ledger.json").is_file());
    // The old run, as another machine's reports/ would arrive: run.json and the ledgers only.
    let old = project.path().join("old");
    std::fs::create_dir_all(old.join("ledgers")).unwrap();
    std::fs::copy(
        project.path().join("reports/run.json"),
        old.join("run.json"),
    )
    .unwrap();
    std::fs::copy(
        project.path().join("reports/ledgers/ledger.json"),
        old.join("ledgers/ledger.json"),
    )
    .unwrap();

    let (_, stderr) = project.expect(0, &["run", "--set", "b.n=6"]);
    assert!(
        stderr.contains("claims: evidence: 2 reproduced, 0 inconclusive, 2 contradicted"),
        "{stderr}"
    );
    let (stdout, _) = project.expect(0, &["diff", "old"]);
    assert_eq!(body(&stdout), expected_diff_body(), "{stdout}");
    assert_eq!(
        stdout.lines().count(),
        1 + expected_diff_body().len(),
        "{stdout}"
    );
    project.expect(1, &["diff", "old", "--exit-code"]);

    let (json, _) = project.expect(0, &["diff", "old", "--json"]);
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["claims"]["verdict_changed"][0]["id"], "toy.b");
    assert_eq!(
        json["tasks"]["changed"][0]["reasons"][0]["reason"],
        "params"
    );

    // A run compared with itself: nothing differs.
    let (stdout, _) = project.expect(0, &["diff", "reports", "--exit-code"]);
    assert!(
        stdout.contains("claims: 0 changed verdict, 0 moved beyond tolerance"),
        "{stdout}"
    );
    assert!(
        stdout.contains("tasks: 0 changed key, 0 new, 0 removed, 7 unchanged"),
        "{stdout}"
    );

    let (_, stderr) = project.expect(2, &["diff", "no/such/dir"]);
    assert!(
        stderr.contains("neither a directory with a run.json nor a git revision"),
        "{stderr}"
    );
}

fn git(dir: &Path, args: &[&str]) {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn diff_against_a_git_revision_uses_the_run_recorded_for_it() {
    let project = Project::new(CLAIMS);
    std::fs::write(
        project.path().join(".gitignore"),
        "/reports/\n/.minorfirst/\ntoy.log\n",
    )
    .unwrap();
    git(project.path(), &["init", "-q"]);
    git(project.path(), &["add", "pipeline.toml", ".gitignore"]);
    git(project.path(), &["commit", "-q", "-m", "b.n = 5"]);
    project.expect(0, &["run"]);
    // An uncommitted change: the run is not recorded under the commit (the tree is dirty).
    let changed = CLAIMS.replace("n = 5", "n = 6");
    std::fs::write(project.path().join("pipeline.toml"), changed).unwrap();
    project.expect(0, &["run"]);
    for args in [&["diff"][..], &["diff", "HEAD"]] {
        let (stdout, _) = project.expect(0, args);
        assert!(stdout.starts_with("diff: HEAD ("), "{stdout}");
        assert_eq!(body(&stdout), expected_diff_body(), "{stdout}");
    }
    // Committing the change and running records a second commit; HEAD~1 is the first.
    git(project.path(), &["commit", "-q", "-am", "b.n = 6"]);
    project.expect(0, &["run"]);
    let (stdout, _) = project.expect(0, &["diff", "HEAD~1"]);
    assert_eq!(body(&stdout), expected_diff_body(), "{stdout}");
    let (stdout, _) = project.expect(0, &["diff", "HEAD", "--exit-code"]);
    assert!(stdout.contains("tasks: 0 changed key"), "{stdout}");
    // Not a revision at all.
    let (_, stderr) = project.expect(2, &["diff", "nosuchrev"]);
    assert!(stderr.contains("nosuchrev"), "{stderr}");
}
