//! Runs the §4 stages of `pipeline.toml` (quick profile) through the engine's library API in a
//! temporary store, and checks the claim verdicts, the figure index and the published files.

mod common;
use common::unexpected;

use std::path::{Path, PathBuf};

use analysis::artifacts::FigureRecord;
use analysis::claims::{Claim, LEDGER_FILE};
use pipeline::{Config, Overrides, Plan, Registry, RunOptions, Store};

fn pipeline_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipeline.toml")
}

struct Outcome {
    claims: Vec<Claim>,
    reports: PathBuf,
    figures: Vec<FigureRecord>,
    _dir: tempfile::TempDir,
}

fn run_profile(profile: &str) -> Outcome {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut registry = Registry::new();
    for kind in stagekit::kinds()
        .into_iter()
        .chain(compute::kinds())
        .chain(analysis::kinds())
        .chain(page::kinds())
    {
        registry.register_boxed(kind);
    }
    let mut config = Config::load(&pipeline_file()).expect("pipeline.toml parses");
    config.store = dir.path().join("store");
    config.reports = dir.path().join("reports");
    let overrides = Overrides {
        profile: Some(profile.into()),
        ..Overrides::default()
    };
    let plan = Plan::build(&registry, &config, &overrides).expect("plan builds");
    let store = Store::new(&config.store);
    let start = std::time::Instant::now();
    let report = pipeline::run(
        &registry,
        &plan,
        &store,
        &config.reports,
        &RunOptions {
            targets: vec!["s4_ledger".into()],
            quiet: true,
            ..RunOptions::default()
        },
    )
    .expect("pipeline runs");
    eprintln!("{profile}: {} in {:.2?}", report.summary(), start.elapsed());
    for record in &report.records {
        if let Some(error) = &record.error {
            eprintln!("task {}: {error}", plan.label(&plan.tasks()[record.task]));
        }
    }
    assert!(report.succeeded(), "{}", report.summary());
    let mut claims = Vec::new();
    let mut figures = Vec::new();
    let section = plan
        .select(&["s4_ledger".to_string()])
        .expect("s4_ledger exists");
    for task in section.iter().map(|&id| &plan.tasks()[id]) {
        let object = store.object_dir(&task.key);
        if object.join(LEDGER_FILE).exists() {
            claims = analysis::claims::read_ledger(&object.join(LEDGER_FILE)).expect("ledger");
        }
        let index = object.join(analysis::artifacts::FIGURES_FILE);
        if index.exists() {
            figures.extend(
                analysis::artifacts::read_json::<Vec<FigureRecord>>(&index).expect("figure index"),
            );
        }
    }
    for claim in &claims {
        eprintln!(
            "{} {}: {}",
            if claim.pass { "PASS" } else { "FAIL" },
            claim.id,
            claim.measured
        );
    }
    Outcome {
        claims,
        reports: config.reports.clone(),
        figures,
        _dir: dir,
    }
}

#[test]
fn quick_profile_claims_pass_and_figures_are_published() {
    let outcome = run_profile("quick");
    assert!(!outcome.claims.is_empty());
    for claim in &outcome.claims {
        assert!(claim.id.starts_with("s4."), "{}", claim.id);
    }
    let off = unexpected(&outcome.claims);
    assert!(off.is_empty(), "claims off their expectation: {off:#?}");
    let sections: Vec<&str> = page::SECTIONS.iter().map(|(id, _)| *id).collect();
    assert!(!outcome.figures.is_empty());
    for figure in &outcome.figures {
        assert!(
            sections.contains(&figure.section.as_str()),
            "{}",
            figure.section
        );
        for file in [figure.svg(), figure.png()] {
            let path = outcome.reports.join(&file);
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            assert!(size > 1000, "{} missing or empty", path.display());
        }
    }
    let expected = [
        "s4.thm4.4.sequence.a0.4",
        "s4.thm4.4.switch_times.a0.4",
        "s4.thm4.5.discrete_map",
        "s4.thm4.5.monotone_in_alpha.discrete",
        "s4.reviewers.comparable.discrete",
        "s4.gd.major_throughout.a0.6",
    ];
    for id in expected {
        assert!(
            outcome.claims.iter().any(|c| c.id == id),
            "missing claim {id}"
        );
    }
}
