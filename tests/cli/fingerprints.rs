//! Derived fingerprints through the real binary on `--profile quick` (issue #12).
//!
//! Rebuilding the binary per edit is too slow for a test, so the binary's test hook
//! `MINORFIRST_FINGERPRINT_TREE` recomputes every kind's fingerprint over an edited copy of the
//! source tree with the library function the build scripts use (`fingerprint::Workspace`, checked
//! against the compiled-in values by the binary's unit tests). What this exercises: the derived
//! keys, the plan, the store and the executor's cache decisions on the real quick pipeline. What it
//! does not: cargo re-running a build script after an edit (its `rerun-if-changed` paths are the
//! digested files, by construction in `fingerprint::Workspace::fingerprint`), and the edited code
//! itself (the binary runs its own code under the edited keys).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::util::{bin, quick_project};

const TREE_VAR: &str = "MINORFIRST_FINGERPRINT_TREE";

/// Kinds that compute (crate `compute`): none may run after a figure or template edit.
fn computes(kind: &str) -> bool {
    kind.starts_with("train.")
        || kind.starts_with("data.")
        || matches!(
            kind,
            "mnist.cnn_train" | "mnist.diag_train" | "sec3.phase_grid" | "sec4.dominant_column"
        )
}

/// `minorfirst <args> --profile quick` in `project` with the hook pointing at `tree`.
fn minorfirst(project: &Path, tree: &Path, args: &[&str]) -> std::process::Output {
    let output = Command::new(bin())
        .args(args)
        .args(["--profile", "quick"])
        .env(TREE_VAR, tree)
        .current_dir(project)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "minorfirst {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Stage → kind, from the project's pipeline.toml.
fn kinds(project: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(project.join("pipeline.toml")).unwrap();
    let table: toml::Table = text.parse().unwrap();
    table["stage"]
        .as_table()
        .unwrap()
        .iter()
        .map(|(stage, body)| (stage.clone(), body["kind"].as_str().unwrap().to_string()))
        .collect()
}

/// (task label, kind) of every task `status` says would run.
fn would_run(project: &Path, tree: &Path) -> BTreeSet<(String, String)> {
    let kinds = kinds(project);
    let output = minorfirst(project, tree, &["status", "--json"]);
    let status: Value = serde_json::from_slice(&output.stdout).unwrap();
    status["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|task| task["cached"] == false)
        .map(|task| {
            let stage = task["stage"].as_str().unwrap();
            (
                task["task"].as_str().unwrap().to_string(),
                kinds[stage].clone(),
            )
        })
        .collect()
}

fn append(tree: &Path, file: &str, comment: &str) -> Vec<u8> {
    let path = tree.join(file);
    let original = std::fs::read(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut edited = original.clone();
    edited.extend_from_slice(comment.as_bytes());
    std::fs::write(&path, edited).unwrap();
    original
}

#[test]
fn quick_profile_reruns_exactly_what_an_edit_reaches() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let project = quick_project();
    let project = project.path();
    let tree_dir = tempfile::tempdir().unwrap();
    let tree = tree_dir.path();
    fingerprint::copy_inputs(repo, tree).unwrap();

    // The copy keys every task as the compiled-in fingerprints do.
    let plain: Value = serde_json::from_slice(
        &Command::new(bin())
            .args(["status", "--json", "--profile", "quick"])
            .current_dir(project)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let hooked: Value =
        serde_json::from_slice(&minorfirst(project, tree, &["status", "--json"]).stdout).unwrap();
    let keys = |status: &Value| -> Vec<String> {
        status["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["key"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(keys(&plain), keys(&hooked));

    minorfirst(project, tree, &["run", "--quiet"]);
    assert!(
        would_run(project, tree).is_empty(),
        "a second run is a no-op"
    );

    // A comment in a report template: the page alone, executed by a real run.
    let original = append(
        tree,
        "crates/report/templates/base.html",
        "{# an appended comment #}\n",
    );
    let pending = would_run(project, tree);
    let pending_kinds: BTreeSet<&str> = pending.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(
        pending_kinds,
        BTreeSet::from(["report.html"]),
        "{pending:?}"
    );
    minorfirst(project, tree, &["run", "--quiet"]);
    let run = pipeline::RunJson::read(&project.join("reports/run.json")).unwrap();
    let executed: Vec<&str> = run
        .tasks
        .iter()
        .filter(|t| t.status == pipeline::Outcome::Executed)
        .map(|t| t.kind.as_str())
        .collect();
    assert_eq!(
        executed,
        ["report.html"],
        "template edit executed {executed:?}"
    );
    std::fs::write(tree.join("crates/report/templates/base.html"), original).unwrap();

    // A comment in a figures source: figures, ledgers and the page, no computing kind.
    let original = append(
        tree,
        "crates/figures/src/line.rs",
        "// an appended comment\n",
    );
    let pending = would_run(project, tree);
    let computing: Vec<_> = pending.iter().filter(|(_, k)| computes(k)).collect();
    assert!(computing.is_empty(), "figures edit re-runs {computing:?}");
    assert!(pending.iter().any(|(_, k)| k == "sec4.initscale"));
    assert!(pending.iter().any(|(_, k)| k == "report.html"));
    std::fs::write(tree.join("crates/figures/src/line.rs"), original).unwrap();

    // A comment in the optimizers: every training task (and everything downstream).
    append(
        tree,
        "crates/numerics/src/optim.rs",
        "// an appended comment\n",
    );
    let pending = would_run(project, tree);
    let training: BTreeSet<String> = kinds(project)
        .into_iter()
        .filter(|(_, kind)| kind.starts_with("train.") || kind.ends_with("_train"))
        .map(|(stage, _)| stage)
        .collect();
    assert!(training.len() >= 3, "the quick plan trains: {training:?}");
    let status: Value =
        serde_json::from_slice(&minorfirst(project, tree, &["status", "--json"]).stdout).unwrap();
    for task in status["tasks"].as_array().unwrap() {
        if training.contains(task["stage"].as_str().unwrap()) {
            assert_eq!(task["cached"], false, "{} stays cached", task["task"]);
        }
    }
    assert!(pending.iter().any(|(_, k)| k == "train.discrete"));
}
