//! `minorfirst verify [--reseed]`: recompute nothing (or, with `--reseed`, only the ledgers with
//! disjoint seeds); check that every task of the plan is stored and verifies, and that every
//! verdict is the one `expectations.toml` states.

use pipeline::Store;
use stagekit::claims::verdict_text;

use crate::cli::claims::{LEDGER_KIND, REPORT_KIND, ledger_claims, summary_line};
use crate::cli::exit::{self, CliError};
use crate::cli::expectations::Expectations;
use crate::cli::plan::{PlanArgs, load_plan, load_plan_with, shifted};
use crate::cli::seeds;

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
        recompute(&args.plan, args.jobs.map_or(0, usize::from))?;
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
    let (claims, reseeded) =
        seeds::combined_claims(&config, &plan, claims, || shifted(&args.plan))?;
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
                seeds::how(),
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
        || crate::cli::expectations::FILE.to_string(),
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

/// Runs the shifted plan up to its ledgers (results into the store; its published files into
/// `.minorfirst/reseed/reports`, never into the plan's reports directory), then the plan's report
/// stages, so the page shows the comparison.
fn recompute(args: &PlanArgs, jobs: usize) -> Result<(), CliError> {
    let registry = crate::cli::kinds::registry();
    let (config, shifted) = load_plan_with(args, Some(seeds::OFFSET))?;
    let store = Store::new(&config.store);
    let ledgers = seeds::stages_of_kind(&shifted, LEDGER_KIND);
    if ledgers.is_empty() {
        return Err(CliError::bad_input(
            "the plan has no `claims.ledger` stage: nothing to reseed",
        ));
    }
    let scratch_reports = config
        .store
        .parent()
        .unwrap_or(&config.store)
        .join("reseed")
        .join("reports");
    eprintln!("reseed: recomputing the ledgers with {}", seeds::how());
    let options = pipeline::RunOptions {
        targets: ledgers,
        jobs,
        reporter: Some(crate::cli::progress::reporter(false)),
        ..pipeline::RunOptions::default()
    };
    let report = pipeline::run(&registry, &shifted, &store, &scratch_reports, &options)
        .map_err(|error| CliError::unexpected(error.to_string()))?;
    eprintln!("reseed: {}", report.summary());
    if !report.succeeded() {
        return Err(CliError::new(
            exit::TASK_FAILED,
            format!(
                "reseed: {} task(s) of the shifted plan failed (logs in {})",
                report.count(pipeline::Outcome::Failed),
                store.root().join("failures").display()
            ),
        ));
    }
    // The page again, now with the comparison among its parameters (everything else is cached).
    let (config, plan) = load_plan_with(args, None)?;
    let pages = seeds::stages_of_kind(&plan, REPORT_KIND);
    if !pages.is_empty() {
        let options = pipeline::RunOptions {
            targets: pages,
            jobs,
            quiet: true,
            reporter: Some(crate::cli::progress::reporter(true)),
            ..pipeline::RunOptions::default()
        };
        let report = pipeline::run(&registry, &plan, &store, &config.reports, &options)
            .map_err(|error| CliError::unexpected(error.to_string()))?;
        if !report.succeeded() {
            return Err(CliError::new(
                exit::TASK_FAILED,
                "reseed: the report could not be rendered with the comparison".to_string(),
            ));
        }
    }
    Ok(())
}
