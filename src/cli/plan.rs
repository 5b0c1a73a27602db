//! Building the plan the way every subcommand does: `PlanArgs` (`--pipeline`, `--profile`,
//! `--set`, `--allow-large-work`) and [`load_plan`], which adds the `--set`s the binary derives
//! (the report stage's provenance, the expected failures of `expectations.toml`, the comparison
//! with the reseeded ledgers). A leaf for the subcommands: it imports none of them.

use std::path::PathBuf;

use pipeline::{Config, Overrides, Plan};

use super::exit::{self, CliError};
use super::expectations::Expectations;
use super::{provenance, seeds};

/// Options shared by every subcommand that builds the plan.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanArgs {
    /// The pipeline file; the store and reports paths in it are relative to its directory.
    #[arg(long, value_name = "FILE", default_value = "pipeline.toml")]
    pub pipeline: PathBuf,
    /// Apply the overrides of a `[profile.NAME]` table.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Override one parameter: `stage.key=value`, the value read by the parameter's type (a number,
    /// true/false, plain text for a string, comma-separated values for a list; several values where
    /// one is expected are a sweep). TOML syntax also works: "quoted text", [1, 2].
    #[arg(long = "set", value_name = "STAGE.KEY=VALUE")]
    pub sets: Vec<String>,
    /// Accept tasks whose estimated work exceeds the bound of 10¹³ operations (README, "Work
    /// bounds"); without it such a plan is refused with exit 2 before anything runs.
    #[arg(long)]
    pub allow_large_work: bool,
}

/// An engine error as the binary reports it: bad input → exit 2, anything else → exit 1.
pub fn engine_error(error: pipeline::Error) -> CliError {
    let code = if error.is_bad_input() {
        exit::BAD_INPUT
    } else {
        exit::UNEXPECTED
    };
    CliError::new(code, error.to_string())
}

/// Parse the pipeline file and build the plan with the binary's registry (bad input → exit 2).
pub fn load_plan(args: &PlanArgs) -> Result<(Config, Plan), CliError> {
    load_plan_with(args, None)
}

/// [`load_plan`], with every seed shifted by `reseed` when given (`verify --reseed`). The plan
/// without a shift also carries, in its report stage, the comparison with the shifted plan's
/// ledgers when those are in the store ([`seeds::report_sets`]).
pub fn load_plan_with(args: &PlanArgs, reseed: Option<u64>) -> Result<(Config, Plan), CliError> {
    let registry = super::kinds::registry();
    let config = Config::load(&args.pipeline).map_err(engine_error)?;
    let mut overrides = Overrides {
        profile: args.profile.clone(),
        sets: args.sets.clone(),
        allow_large_work: args.allow_large_work,
        reseed,
    };
    let plan = Plan::build(&registry, &config, &overrides).map_err(engine_error)?;
    // The report stage's provenance (commit, machine, …) is not a function of the store; it enters
    // as parameters so that a cached page is never stale. User `--set`s still win.
    // (A shifted plan is only run up to its ledgers: its page, which would need them, never is.)
    let mut provenance = if reseed.is_none() {
        provenance::provenance_sets(&plan, &args.pipeline, args.profile.as_deref())
    } else {
        Vec::new()
    };
    // The claims expected not to pass (expectations.toml) reach every ledger stage.
    let expectations = Expectations::load(&args.pipeline, args.profile.as_deref())?;
    let ledger_sets = provenance::known_failure_sets(&plan, &expectations);
    if reseed.is_none() && !provenance.is_empty() {
        // The comparison with the shifted ledgers needs the ledgers' final keys (they depend on
        // the expectations, not on the page's provenance).
        let ledger_plan = if ledger_sets.is_empty() {
            plan.clone()
        } else {
            let with_ledgers = Overrides {
                sets: ledger_sets.iter().chain(&args.sets).cloned().collect(),
                ..overrides.clone()
            };
            Plan::build(&registry, &config, &with_ledgers).map_err(engine_error)?
        };
        provenance.extend(seeds::report_sets(&config, &ledger_plan, || shifted(args))?);
    }
    provenance.extend(ledger_sets);
    if provenance.is_empty() {
        return Ok((config, plan));
    }
    overrides.sets = provenance
        .into_iter()
        .chain(args.sets.iter().cloned())
        .collect();
    let plan = Plan::build(&registry, &config, &overrides).map_err(engine_error)?;
    Ok((config, plan))
}

/// The plan with every seed shifted by [`seeds::OFFSET`] (what `verify --reseed` recomputes).
pub fn shifted(args: &PlanArgs) -> Result<Plan, CliError> {
    load_plan_with(args, Some(seeds::OFFSET)).map(|(_, plan)| plan)
}
