//! Issue #18 ("Nothing silent"), items 4–7, through the real binary: unbounded work is refused
//! before anything runs, negative numbers are values, corrupt input data is bad input found before
//! any task runs, and a non-finite training value stops the run with a flagged, distinct outcome.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::util::bin;

/// A temp project with a pipeline.toml; toy executions are logged to `toy.log`.
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

    fn run(&self, args: &[&str]) -> Output {
        Command::new(bin())
            .args(args)
            .current_dir(self.path())
            .env("MINORFIRST_TOY_LOG", self.path().join("toy.log"))
            .output()
            .expect("spawn minorfirst")
    }

    fn toy_executions(&self) -> usize {
        std::fs::read_to_string(self.path().join("toy.log"))
            .unwrap_or_default()
            .lines()
            .count()
    }

    fn objects(&self) -> usize {
        std::fs::read_dir(self.path().join(".minorfirst/store/objects"))
            .map(|entries| entries.count())
            .unwrap_or(0)
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The `error:` lines of stderr (exactly one is expected for bad input).
fn error_lines(output: &Output) -> Vec<String> {
    stderr(output)
        .lines()
        .filter(|line| line.starts_with("error:"))
        .map(str::to_owned)
        .collect()
}

/// Require exit `code` with a single `error:` line containing every needle; returns that line.
fn assert_fails(output: &Output, code: i32, needles: &[&str]) -> String {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(code), "stderr: {text}");
    let errors = error_lines(output);
    assert_eq!(errors.len(), 1, "one error line expected: {text}");
    for needle in needles {
        assert!(errors[0].contains(needle), "missing {needle:?} in: {text}");
    }
    errors[0].clone()
}

fn train(args: &[&str]) -> Output {
    Command::new(bin())
        .arg("train")
        .args(args)
        .output()
        .expect("spawn minorfirst")
}

const TOY_AND_TRAINING: &str = r#"
[stage.gen]
kind = "toy.gen"
n = 3

[stage.big]
kind = "train.discrete"
mu = [1.0, 2.0]
optimizer = "gd"
alpha_scale = 0.5
lr = 0.01
steps = 9223372036854775807

[profile.huge]
"big.steps" = 9223372036854775807

[profile.small]
"big.steps" = 10
"#;

#[test]
fn issue_18_unbounded_steps_in_pipeline_toml_are_refused_before_anything_runs() {
    let project = Project::new(TOY_AND_TRAINING);
    // `status` first: where the bound is missing, it answers at once instead of `run` running on.
    let planned = project.run(&["status"]);
    assert_fails(&planned, 2, &["stage `big`", "key `steps`", "1e13"]);
    let output = project.run(&["run"]);
    let line = assert_fails(
        &output,
        2,
        &[
            "pipeline.toml:12:",
            "stage `big`",
            "key `steps`",
            "steps × d × L",
            "1e13",
            "--allow-large-work",
        ],
    );
    assert!(line.len() < 300, "{} characters: {line}", line.len());
    assert_eq!(project.toy_executions(), 0, "nothing may run");
    assert_eq!(project.objects(), 0, "nothing may be stored");

    // The same value from a profile or from --set is located there instead.
    let small = ["run", "--profile", "small"];
    let from_profile = project.run(&["status", "--profile", "huge"]);
    assert_fails(&from_profile, 2, &["profile `huge`", "key `steps`", "1e13"]);
    let set = "big.steps=18446744073709551615";
    let from_set = project.run(&["run", "--profile", "small", "--set", "big.t_end=1e300"]);
    assert_fails(
        &from_set,
        2,
        &[
            "invalid --set `big.t_end=1e300`",
            "1e13",
            "--allow-large-work",
        ],
    );
    // (u64::MAX is not a TOML integer: that one is refused by the schema, also with exit 2.)
    assert_eq!(project.run(&["run", "--set", set]).status.code(), Some(2));
    assert_eq!(project.toy_executions(), 0);

    // Bounded work runs; the override accepts the plan (shown by a dry run, which runs nothing).
    let ran = project.run(&small);
    assert!(ran.status.success(), "{}", stderr(&ran));
    let dry = project.run(&["run", "-n", "--allow-large-work"]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(stderr(&dry).contains("1 would run"), "{}", stderr(&dry));
}

#[test]
fn issue_18_every_stage_of_the_real_pipeline_passes_the_work_bound_in_every_profile() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let file = root.join("pipeline.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut profiles: Vec<Option<String>> = vec![None];
    profiles.extend(text.lines().filter_map(|line| {
        line.trim()
            .strip_prefix("[profile.")
            .and_then(|rest| rest.strip_suffix(']'))
            .map(|name| Some(name.to_owned()))
    }));
    assert!(profiles.len() >= 3, "default, quick and full at least");
    for profile in &profiles {
        let mut args = vec!["dag", "--pipeline", file.to_str().unwrap()];
        if let Some(name) = profile {
            args.extend(["--profile", name.as_str()]);
        }
        let output = Command::new(bin())
            .args(&args)
            .current_dir(&root)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "profile {profile:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn issue_18_train_refuses_unbounded_steps_unless_allowed() {
    let common = [
        "--mu",
        "1,2",
        "--depth",
        "2",
        "--optimizer",
        "gd",
        "--alpha-scale",
        "0.5",
        "--steps",
        "18446744073709551615",
    ];
    // With the override the run starts; η = 1e300 makes it diverge at once, so it ends (exit 5).
    // (Checked first: where the bound is missing, the refusal below would run until killed.)
    let allowed = train(&[&common[..], &["--lr", "1e300", "--allow-large-work"]].concat());
    assert_eq!(allowed.status.code(), Some(5), "{}", stderr(&allowed));
    let output = train(&[&common[..], &["--lr", "0.01"]].concat());
    assert_fails(
        &output,
        2,
        &[
            "--steps 18446744073709551615",
            "steps × n × d × L",
            "1e13",
            "--allow-large-work",
        ],
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn issue_18_negative_numbers_are_values_validated_with_the_flag_named() {
    let project = Project::new("[stage.gen]\nkind = \"toy.gen\"\n");
    for jobs in [["run", "--jobs", "-1"], ["run", "-j", "-1"]] {
        let output = project.run(&jobs);
        let line = assert_fails(&output, 2, &["--jobs", "-1", "at least 1"]);
        assert!(!line.contains("unexpected argument"), "{line}");
    }
    assert_eq!(project.toy_executions(), 0);

    let base = ["--mu", "1,2", "--depth", "2", "--alpha-scale", "0.5"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> { [&base[..], extra].concat() };
    let rho = train(&with(&[
        "--optimizer",
        "sam-l2",
        "--rho",
        "-0.1",
        "--lr",
        "0.1",
        "--steps",
        "5",
    ]));
    assert_fails(&rho, 2, &["--rho must be finite and ≥ 0, got -0.1"]);
    let lr = train(&with(&["--optimizer", "gd", "--lr", "-1", "--steps", "5"]));
    assert_fails(&lr, 2, &["--lr must be finite and > 0, got -1"]);
    let steps = train(&with(&[
        "--optimizer",
        "gd",
        "--lr",
        "0.1",
        "--steps",
        "-5",
    ]));
    assert_fails(&steps, 2, &["--steps", "-5", "whole number"]);
    // A negative first entry of a list is a value too (a single example μ may be negative).
    let negative_mu = train(&[
        "--mu",
        "-1,2",
        "--depth",
        "2",
        "--alpha-scale",
        "0.5",
        "--optimizer",
        "gd",
        "--lr",
        "0.1",
        "--steps",
        "5",
    ]);
    assert!(negative_mu.status.success(), "{}", stderr(&negative_mu));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn issue_18_corrupt_mnist_is_bad_input_found_before_any_task_runs() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    let scratch = tempfile::tempdir().unwrap();
    let copy = scratch.path().join("mnist");
    copy_dir(&shipped, &copy);
    let labels = copy.join("train-labels-idx1-ubyte.gz");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&labels)
        .unwrap()
        .set_len(14428)
        .unwrap();
    let project = Project::new(&format!(
        "[stage.gen]\nkind = \"toy.gen\"\nn = [1, 2, 3]\n\n\
         [stage.diag]\nkind = \"mnist.diag_train\"\ndata_dir = \"{}\"\n\
         n_train = 20\nn_test = 20\nsteps = 5\nper_decade = 1\n",
        copy.display()
    ));
    let output = project.run(&["run", "--jobs", "1"]);
    let expected = "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203";
    let line = assert_fails(
        &output,
        2,
        &[
            "stage `diag`",
            labels.to_str().unwrap(),
            &format!("expected sha256 {expected}"),
            "git checkout -- data/mnist",
        ],
    );
    assert!(line.len() < 500, "{} characters: {line}", line.len());
    assert_eq!(
        project.toy_executions(),
        0,
        "no task may run before the check"
    );

    // With the canonical file back the same plan runs; a later corruption does not matter to a
    // run that executes nothing (the check is for tasks about to execute, not cached ones).
    std::fs::copy(shipped.join("train-labels-idx1-ubyte.gz"), &labels).unwrap();
    let ran = project.run(&["run", "--jobs", "1"]);
    assert!(ran.status.success(), "{}", stderr(&ran));
    assert_eq!(project.toy_executions(), 3);
    std::fs::write(&labels, b"not gzip").unwrap();
    let cached = project.run(&["run", "--jobs", "1"]);
    assert!(cached.status.success(), "{}", stderr(&cached));
    assert!(
        stderr(&cached).contains("0 executed"),
        "{}",
        stderr(&cached)
    );
}

#[test]
fn issue_18_a_non_finite_value_stops_train_with_status_and_exit_5() {
    let args = [
        "--mu",
        "1,2",
        "--depth",
        "2",
        "--optimizer",
        "gd",
        "--alpha-scale",
        "0.5",
        "--lr",
        "1e300",
        "--steps",
        "100",
    ];
    let output = train(&args);
    assert_fails(&output, 5, &["step 1", "non-finite"]);
    let value: Value = serde_json::from_slice(&output.stdout).expect("json is still written");
    let last = &value["final"];
    assert_eq!(last["stop_reason"], "non_finite");
    assert_eq!(last["stop_step"], 1);
    assert_eq!(last["step"], 0, "the final state is the last finite one");
    let rows = value["checkpoints"].as_array().unwrap();
    assert!(rows.iter().all(|row| {
        row["loss"].is_f64() && row["beta"].as_array().unwrap().iter().all(Value::is_f64)
    }));
    assert_eq!(rows.last().unwrap()["status"], "non_finite");

    let csv = train(&[&args[..], &["--format", "csv"]].concat());
    assert_eq!(csv.status.code(), Some(5));
    let text = String::from_utf8(csv.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "step,time,tau,loss,beta0,beta1,status");
    assert!(lines.last().unwrap().ends_with(",non_finite"), "{text}");
    assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");

    // A healthy run is flagged as completed on its last row and exits 0.
    let fine = train(
        &[
            &args[..8],
            &["--lr", "0.01", "--steps", "100", "--format", "csv"],
        ]
        .concat(),
    );
    assert!(fine.status.success(), "{}", stderr(&fine));
    let text = String::from_utf8(fine.stdout).unwrap();
    assert!(
        text.lines().last().unwrap().ends_with(",completed"),
        "{text}"
    );
}

#[test]
fn issue_18_a_non_finite_pipeline_run_fails_naming_stage_parameters_and_step() {
    let project = Project::new(
        "[stage.gen]\nkind = \"toy.gen\"\n\n\
         [stage.s3_loss_runs]\nkind = \"train.discrete\"\nmu = [1.0, 2.0]\noptimizer = \"gd\"\n\
         clock = \"original\"\nalpha_scale = 0.7\nlr = 1e300\nsteps = 1000\n",
    );
    let output = project.run(&["run", "--jobs", "1"]);
    let line = assert_fails(
        &output,
        3,
        &["s3_loss_runs", "lr 1e300", "step 1", "optimizer gd"],
    );
    assert!(!line.contains("json error"), "{line}");
    assert_eq!(project.toy_executions(), 1, "independent tasks still run");
}
