//! The `--set`s that give a plan what its store cannot know: the report stage's provenance (commit,
//! dirty tree, profile, pipeline file, machine, the previous recorded run's claims) and every
//! ledger stage's expected failures (`expectations.toml`).

use std::path::Path;

use pipeline::Plan;

use super::claims::{LEDGER_KIND, REPORT_KIND};
use super::expectations::Expectations;

/// `--set` overrides giving every report stage the provenance the store cannot know: the commit,
/// whether the tree is dirty, the profile, the pipeline file, the machine, and the claims of the
/// recorded previous run it reports changes against ([`super::records::previous_run_claims`]). Explicit `--set`s given
/// by the user come later and win.
pub fn provenance_sets(plan: &Plan, pipeline_file: &Path, profile: Option<&str>) -> Vec<String> {
    let report_stages: Vec<&str> = plan
        .stages()
        .iter()
        .filter(|stage| stage.kind == REPORT_KIND)
        .map(|stage| stage.name.as_str())
        .collect();
    if report_stages.is_empty() {
        return Vec::new();
    }
    let dir = pipeline_file
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    let text = std::fs::read_to_string(pipeline_file).unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let os = format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
    // JSON string syntax is valid TOML basic-string syntax for everything serde_json emits.
    let quote = |value: &str| serde_json::to_string(value).expect("a string serialises");
    let previous = super::records::previous_run_claims(pipeline_file, profile, dirty);
    let mut sets = Vec::new();
    for stage in report_stages {
        if let Some((label, claims)) = &previous {
            sets.push(format!("{stage}.previous_label={}", quote(label)));
            sets.push(format!("{stage}.previous_claims={}", quote(claims)));
        }
        sets.push(format!("{stage}.git_commit={}", quote(&commit)));
        sets.push(format!("{stage}.git_dirty={dirty}"));
        sets.push(format!(
            "{stage}.profile={}",
            quote(profile.unwrap_or("default"))
        ));
        sets.push(format!("{stage}.pipeline_text={}", quote(&text)));
        sets.push(format!("{stage}.cores={cores}"));
        sets.push(format!("{stage}.os={}", quote(&os)));
    }
    sets
}

/// `--set <ledger>.known_failures=[…]` for every ledger stage: the ids `expectations.toml` expects
/// not to pass under this profile, so the ledger and the page mark them `(expected)`.
pub fn known_failure_sets(plan: &Plan, expectations: &Expectations) -> Vec<String> {
    let ids = expectations.known_failures();
    if expectations.path.is_none() {
        return Vec::new();
    }
    let list = serde_json::to_string(&ids).expect("a list of strings serialises");
    plan.stages()
        .iter()
        .filter(|stage| stage.kind == LEDGER_KIND)
        .map(|stage| format!("{}.known_failures={list}", stage.name))
        .collect()
}
