//! Robustness to reseeding: `minorfirst verify --reseed` recomputes the plan's ledgers with every
//! seed replaced by a disjoint one (each task parameter named `seed` or `seeds` shifted by
//! [`OFFSET`], see `pipeline::Overrides::reseed`; tasks without seeds keep their keys and stay
//! cached) and reports every claim whose verdict changes. A verdict that flips with the seeds is
//! evidence neither way: the page, `run`'s claims line and `verify` count such a row as
//! inconclusive (a check as failed) whenever the shifted ledgers are in the store.

use pipeline::{Config, Plan, Store};
use stagekit::claims::{Claim, SeedFlip, apply_seed_flips, seed_flips};

use super::claims::{LEDGER_KIND, REPORT_KIND, ledger_claims};
use super::exit::CliError;

/// The shift applied to every seed. Seeds of the pipeline are small integers, so `s + 10⁶` is
/// disjoint from every seed the plan uses.
pub const OFFSET: u64 = 1_000_000;

/// Claims compared with the shifted ledgers, and the claims whose verdict flipped.
pub type Comparison = (usize, Vec<SeedFlip>);

/// Names of the plan's stages of `kind`.
pub fn stages_of_kind(plan: &Plan, kind: &str) -> Vec<String> {
    plan.stages()
        .iter()
        .filter(|stage| stage.kind == kind)
        .map(|stage| stage.name.clone())
        .collect()
}

/// How the seeds were replaced, in words (shown on the page and by `verify`).
pub fn how() -> String {
    format!("every seed s → s + {OFFSET}")
}

/// The comparison of the plan's ledgers with the shifted plan's (built by `shifted` only when the
/// plan's own ledgers are stored), when both are in the store: the number of claims compared and
/// the flips.
pub fn flips(
    config: &Config,
    plan: &Plan,
    shifted: impl FnOnce() -> Result<Plan, CliError>,
) -> Result<Option<Comparison>, CliError> {
    let store = Store::new(&config.store);
    let Some(original) = ledger_claims(plan, &store)? else {
        return Ok(None);
    };
    let shifted = shifted()?;
    // A plan whose ledgers no seed reaches has nothing to compare: its "shifted" ledgers are its
    // own, in the store from the first run on, and the page must not change after that run.
    let ledger_keys = |plan: &Plan| -> Vec<String> {
        plan.tasks()
            .iter()
            .filter(|task| task.kind == LEDGER_KIND)
            .map(|task| task.key.clone())
            .collect()
    };
    if ledger_keys(plan) == ledger_keys(&shifted) {
        return Ok(None);
    }
    let Some(reseeded) = ledger_claims(&shifted, &store)? else {
        return Ok(None);
    };
    Ok(Some(seed_flips(&original, &reseeded)))
}

/// `--set`s giving every report stage the comparison, when it is in the store (else none: the page
/// then has no reseeding section).
pub fn report_sets(
    config: &Config,
    plan: &Plan,
    shifted: impl FnOnce() -> Result<Plan, CliError>,
) -> Result<Vec<String>, CliError> {
    let reports = stages_of_kind(plan, REPORT_KIND);
    if reports.is_empty() {
        return Ok(Vec::new());
    }
    let Some((compared, flips)) = flips(config, plan, shifted)? else {
        return Ok(Vec::new());
    };
    let quote = |value: &str| serde_json::to_string(value).expect("a string serialises");
    let flips = serde_json::to_string(&flips).expect("seed flips serialise");
    let mut sets = Vec::new();
    for stage in reports {
        sets.push(format!("{stage}.reseed_how={}", quote(&how())));
        sets.push(format!("{stage}.reseed_compared={compared}"));
        sets.push(format!("{stage}.reseed_flips={}", quote(&flips)));
    }
    Ok(sets)
}

/// The plan's claims with the flips applied (unchanged when the shifted ledgers are not stored).
pub fn combined_claims(
    config: &Config,
    plan: &Plan,
    mut claims: Vec<Claim>,
    shifted: impl FnOnce() -> Result<Plan, CliError>,
) -> Result<(Vec<Claim>, Option<Comparison>), CliError> {
    let comparison = flips(config, plan, shifted)?;
    if let Some((_, flips)) = &comparison {
        apply_seed_flips(&mut claims, flips, &how());
    }
    Ok((claims, comparison))
}
