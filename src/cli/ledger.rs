//! The claims side of the binary: provenance parameters for the report stage, the one-line claims
//! summary after `run`, and `verify`.

use std::path::Path;

use pipeline::{Plan, Store};
use stagekit::claims::{Claim, LEDGER_FILE, VerdictCounts, read_ledger, verdict_text};

use super::engine::{PlanArgs, load_plan};
use super::exit::{self, CliError};
use super::expectations::Expectations;

/// Kind name of the report stage whose provenance parameters `run` fills in.
pub const REPORT_KIND: &str = "report.html";
/// Kind name of the ledger stage.
pub const LEDGER_KIND: &str = "claims.ledger";

/// `--set` overrides giving every report stage the provenance the store cannot know: the commit,
/// whether the tree is dirty, the profile, the pipeline file, the machine, and the claims of the
/// recorded previous run it reports changes against ([`super::diff::previous_run_claims`]). Explicit `--set`s given
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
    let previous = super::diff::previous_run_claims(pipeline_file, profile, dirty);
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

/// Claims of every ledger task of the plan that is in the store (`None` if the plan has no ledger
/// or it has not been computed).
pub fn ledger_claims(plan: &Plan, store: &Store) -> Result<Option<Vec<Claim>>, CliError> {
    let mut found = false;
    let mut claims = Vec::new();
    for task in plan.tasks().iter().filter(|task| task.kind == LEDGER_KIND) {
        let path = store.object_dir(&task.key).join(LEDGER_FILE);
        if !path.exists() {
            return Ok(None);
        }
        found = true;
        claims.extend(read_ledger(&path).map_err(|error| {
            CliError::unexpected(format!(
                "failed to read the claims ledger {}: {error}",
                path.display()
            ))
        })?);
    }
    Ok(found.then_some(claims))
}

/// `claims: evidence: N reproduced, I inconclusive, C contradicted (K expected) · checks: P passed,
/// F failed` — evidence and checks (rows true by construction) counted apart.
pub fn summary_line(claims: &[Claim]) -> String {
    VerdictCounts::of(claims).to_string()
}

/// `verify`: recompute nothing; check that every task of the current plan is stored and verifies
/// against its recorded hashes, and that every claim of the ledger passes.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// First recompute the ledgers with every seed replaced by a disjoint one (each parameter named
    /// `seed`/`seeds` shifted by 1000000; unseeded tasks stay cached) and report every claim whose
    /// verdict changes; such a claim counts as inconclusive (a check as failed) here, in `run`'s
    /// claims line and on the page, which is re-rendered with a section on it.
    #[arg(long)]
    pub reseed: bool,
    /// Worker threads for `--reseed` (default: all cores).
    #[arg(long, short = 'j', value_name = "N", requires = "reseed")]
    pub jobs: Option<u16>,
}

pub fn verify(args: VerifyArgs) -> Result<(), CliError> {
    if args.reseed {
        let (config, plan) = load_plan(&args.plan)?;
        if ledger_claims(&plan, &Store::new(&config.store))?.is_none() {
            return Err(CliError::new(
                exit::CLAIM_FAILED,
                "the plan's ledgers are not in the store; run `minorfirst run` first",
            ));
        }
        super::reseed::recompute(&args.plan, args.jobs.map_or(0, usize::from))?;
    }
    let (config, plan) = load_plan(&args.plan)?;
    let store = Store::new(&config.store);
    let mut missing = 0usize;
    let mut corrupt = Vec::new();
    for task in plan.tasks() {
        if !store.object_dir(&task.key).exists() {
            missing += 1;
            continue;
        }
        if let Err(error) = store.verify(&task.key) {
            corrupt.push(format!("{}: {error}", plan.label(task)));
        }
    }
    if missing > 0 || !corrupt.is_empty() {
        for line in &corrupt {
            eprintln!("corrupt: {line}");
        }
        return Err(CliError::new(
            exit::CLAIM_FAILED,
            format!(
                "{missing} task(s) of the plan are not in the store and {} do not verify; run `minorfirst run` first",
                corrupt.len()
            ),
        ));
    }
    let Some(claims) = ledger_claims(&plan, &store)? else {
        return Err(CliError::bad_input(
            "the plan has no `claims.ledger` stage: nothing to verify",
        ));
    };
    let (claims, reseeded) = super::reseed::combined_claims(&args.plan, &config, &plan, claims)?;
    match &reseeded {
        Some((compared, flips)) => {
            for flip in flips {
                println!(
                    "RESEED {}: {} here, {} with disjoint seeds (measured {} → {})",
                    flip.id,
                    flip.original.word(),
                    flip.reseeded.word(),
                    flip.original_measured,
                    flip.reseeded_measured
                );
            }
            println!(
                "reseed: {compared} claims compared with {}: {} changed verdict (a claim that \
                 flips counts as inconclusive)",
                super::reseed::how(),
                flips.len()
            );
        }
        None if args.reseed => println!(
            "reseed: no parameter named seed or seeds reaches a ledger: nothing to compare"
        ),
        None => {}
    }
    for claim in claims.iter().filter(|claim| !claim.pass) {
        let label = verdict_text(claim).to_uppercase();
        println!(
            "{label} {}: {} (measured {}; {})",
            claim.id, claim.statement, claim.measured, claim.tolerance
        );
    }
    println!("artifacts: {} tasks verified", plan.tasks().len());
    println!("{}", summary_line(&claims));
    // Every verdict must be the one expectations.toml states for this profile (unlisted: passing).
    // A documented contradiction is a finding, not a regression; one that starts to reproduce is
    // a change to look at, and a listed id no ledger makes is a stale entry.
    let expectations = Expectations::load(&args.plan.pipeline, args.plan.profile.as_deref())?;
    let (mismatches, unknown) = expectations.compare(&claims, reseeded.is_some());
    let file = expectations.path.as_deref().map_or_else(
        || super::expectations::FILE.to_string(),
        |p| p.display().to_string(),
    );
    for mismatch in &mismatches {
        println!(
            "UNEXPECTED {}: {} (expected {} in {file})",
            mismatch.id,
            mismatch.got.word(),
            mismatch.expected.word()
        );
    }
    for id in &unknown {
        println!("UNKNOWN {id}: listed in {file}, but no ledger of this plan makes that claim");
    }
    if mismatches.is_empty() && unknown.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(
            exit::CLAIM_FAILED,
            format!(
                "{} verdict(s) differ from {file} and {} listed claim(s) are unknown",
                mismatches.len(),
                unknown.len()
            ),
        ))
    }
}
