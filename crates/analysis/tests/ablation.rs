//! The mechanism ablation (`sec4.usam`) and the ReLU variant (`relu.report`) of `pipeline.toml` at its
//! quick profile, through the engine's library API in a temporary store: every claim exists with a
//! three-valued verdict, every check passes, the seeded claims are computed over ≥ 5 seeds, and the
//! figures are published. (Which evidence verdict each claim has is `expectations.toml`'s business,
//! judged by `minorfirst verify`.)

use std::path::{Path, PathBuf};

use analysis::artifacts::FigureRecord;
use analysis::claims::{Claim, ClaimClass, LEDGER_FILE, Verdict};
use pipeline::{Config, Overrides, Plan, Registry, RunOptions, Store};

fn pipeline_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipeline.toml")
}

#[test]
fn quick_profile_ablation_and_relu_claims_and_figures() {
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
        profile: Some("quick".into()),
        ..Overrides::default()
    };
    let plan = Plan::build(&registry, &config, &overrides).expect("plan builds");
    let store = Store::new(&config.store);
    let ledgers = ["mechanism_ledger".to_string(), "relu_ledger".to_string()];
    let start = std::time::Instant::now();
    let report = pipeline::run(
        &registry,
        &plan,
        &store,
        &config.reports,
        &RunOptions {
            targets: ledgers.to_vec(),
            quiet: true,
            ..RunOptions::default()
        },
    )
    .expect("pipeline runs");
    eprintln!("{} in {:.2?}", report.summary(), start.elapsed());
    for record in &report.records {
        if let Some(error) = &record.error {
            eprintln!("task {}: {error}", plan.label(&plan.tasks()[record.task]));
        }
    }
    assert!(report.succeeded(), "{}", report.summary());
    let mut claims: Vec<Claim> = Vec::new();
    let mut figures: Vec<FigureRecord> = Vec::new();
    let selected = plan.select(&ledgers).expect("ledgers exist");
    for task in selected.iter().map(|&id| &plan.tasks()[id]) {
        let object = store.object_dir(&task.key);
        if object.join(LEDGER_FILE).exists() {
            claims
                .extend(analysis::claims::read_ledger(&object.join(LEDGER_FILE)).expect("ledger"));
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
            claim.outcome().word(),
            claim.id,
            claim.measured
        );
    }
    for id in [
        "s4.usam.small_rho",
        "s4.usam.paper_rho",
        "s4.usam.matched_rho",
        "s4.usam.gd_control",
        "s4.usam.matched_rho.setup",
        "s4.usam.c_ode_sequence",
        "relu.mu12.gd_major_throughout",
        "relu.mu12.minor_first.sam-l2.rho1",
        "relu.mu12.minor_first.sam-l2.rho0.3",
        "relu.mu12.minor_first.sam-linf.rho0.10206207261596577",
        "relu.mu12.major_last.sam-l2.rho1",
        "relu.mu1to5.minor_first.sam-l2.rho0.1",
        "relu.mu1to5.major_last.sam-linf.rho0.07216878364870323",
    ] {
        assert!(claims.iter().any(|c| c.id == id), "missing claim {id}");
    }
    for claim in &claims {
        match claim.class {
            ClaimClass::Check => assert_eq!(
                claim.outcome(),
                Verdict::Passed,
                "{}: {}",
                claim.id,
                claim.measured
            ),
            ClaimClass::Evidence => assert!(matches!(
                claim.outcome(),
                Verdict::Reproduced | Verdict::Inconclusive | Verdict::Contradicted
            )),
        }
        if claim.id.starts_with("relu.") {
            assert!(
                claim.measured.contains("over 5 seeds"),
                "{}: {}",
                claim.id,
                claim.measured
            );
        }
    }
    let sections: Vec<&str> = page::SECTIONS.iter().map(|(id, _)| *id).collect();
    assert_eq!(figures.len(), 3, "{figures:?}");
    for figure in &figures {
        assert!(
            sections.contains(&figure.section.as_str()),
            "{}",
            figure.section
        );
        for file in [figure.svg(), figure.png()] {
            let path = config.reports.join(&file);
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            assert!(size > 1000, "{} missing or empty", path.display());
        }
    }
    for table in ["s4_usam_ablation", "relu_seeds"] {
        assert!(
            config
                .reports
                .join("tables")
                .join(format!("{table}.csv"))
                .exists(),
            "table {table}"
        );
    }
}
