//! Runs the MNIST kinds through the engine's library API on a tiny configuration (few images, few
//! steps) in a temporary store, and checks table shapes, published figures and claim rows; also checks
//! that the real `pipeline.toml` plans under both profiles.

use std::path::{Path, PathBuf};

use analysis::artifacts::FigureRecord;
use analysis::claims::{Claim, LEDGER_FILE};
use pipeline::{Config, Overrides, Plan, Registry, RunOptions, Store};

fn registry() -> Registry {
    let mut registry = Registry::new();
    for kind in stagekit::kinds()
        .into_iter()
        .chain(compute::kinds())
        .chain(analysis::kinds())
        .chain(page::kinds())
    {
        registry.register_boxed(kind);
    }
    registry
}

const TINY: &str = r#"
[pipeline]
store = "store"
reports = "reports"

[stage.cnn_gd]
kind = "mnist.cnn_train"
optimizer = "gd"
n_train = 24
n_test = 40
batch = 8
seed = [0, 1]
init_scale = [0.5, 1.0]
steps = 3
checkpoints = [0, 1, 3]
panel_per_class = 1

[stage.cnn_l2]
kind = "mnist.cnn_train"
optimizer = "sam-l2"
rho = 0.05
n_train = 24
n_test = 40
batch = 8
seed = [0, 1]
init_scale = [0.5, 1.0]
steps = 3
checkpoints = [0, 1, 3]
panel_per_class = 1

[stage.cnn_rho]
kind = "mnist.cnn_train"
optimizer = "sam-l2"
rho = 0.0005
n_train = 24
n_test = 40
batch = 8
seed = [0, 1]
init_scale = 1.0
steps = 3
checkpoints = [0, 1, 3]
panel_per_class = 0

[stage.cnn_report]
kind = "mnist.cnn_report"
deps = ["cnn_gd", "cnn_l2", "cnn_rho"]
early_fraction = 0.5
resamples = 1000
min_test_acc = 0.0

[stage.cnn10_gd]
kind = "mnist.cnn_train"
task = "tenclass"
optimizer = "gd"
n_train = 30
n_test = 20
batch = 10
seed = [0, 1]
steps = 3
checkpoints = [0, 1, 3]
panel_per_class = 0

[stage.cnn10_l2]
kind = "mnist.cnn_train"
task = "tenclass"
optimizer = "sam-l2"
rho = 0.05
n_train = 30
n_test = 20
batch = 10
seed = [0, 1]
steps = 3
checkpoints = [0, 1, 3]
panel_per_class = 0

[stage.cnn10_report]
kind = "mnist.cnn_report"
variant = "tenclass"
deps = ["cnn10_gd", "cnn10_l2"]
early_fraction = 0.5
resamples = 1000
min_test_acc = 0.0

[stage.diag_gd]
kind = "mnist.diag_train"
optimizer = "gd"
n_train = 40
n_test = 40
steps = 300
per_decade = 5

[stage.diag_l2]
kind = "mnist.diag_train"
optimizer = "sam-l2"
n_train = 40
n_test = 40
steps = 300
per_decade = 5

[stage.diag_report]
kind = "mnist.diag_report"
deps = ["diag_gd", "diag_l2"]
map_columns = 3

[stage.ledger]
kind = "claims.ledger"
deps = ["cnn_report", "cnn10_report", "diag_report"]
require_rules = false
"#;

#[test]
fn tiny_pipeline_writes_tables_figures_and_claims() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("mnist.toml");
    std::fs::write(&file, TINY).unwrap();
    let registry = registry();
    let config = Config::load(&file).expect("tiny pipeline parses");
    let plan = Plan::build(&registry, &config, &Overrides::default()).expect("plan builds");
    let store = Store::new(&config.store);
    let report = pipeline::run(
        &registry,
        &plan,
        &store,
        &config.reports,
        &RunOptions {
            quiet: true,
            ..RunOptions::default()
        },
    )
    .expect("pipeline runs");
    for record in &report.records {
        if let Some(error) = &record.error {
            eprintln!("task {}: {error}", plan.label(&plan.tasks()[record.task]));
        }
    }
    assert!(report.succeeded(), "{}", report.summary());
    // 4 + 4 + 2 binary and 2 + 2 ten-class CNN runs, 2 diagonal runs, 3 reports, 1 ledger.
    assert_eq!(report.records.len(), 20);

    let mut claims: Vec<Claim> = Vec::new();
    let mut figures: Vec<FigureRecord> = Vec::new();
    for task in plan.tasks() {
        let object = store.object_dir(&task.key);
        if object.join(LEDGER_FILE).exists() {
            claims = analysis::claims::read_ledger(&object.join(LEDGER_FILE)).unwrap();
        }
        let index = object.join(analysis::artifacts::FIGURES_FILE);
        if index.exists() {
            figures.extend(analysis::artifacts::read_json::<Vec<FigureRecord>>(&index).unwrap());
        }
        if object.join("gradcam.f32").exists() {
            // 3 checkpoints × 2 panel digits (1 per class) × 784 f32, or no panel at all.
            let bytes = std::fs::metadata(object.join("gradcam.f32")).unwrap().len();
            let panel = analysis::table::read(&object.join("panel.parquet")).unwrap();
            assert!(
                (bytes, panel.height()) == (3 * 2 * 784 * 4, 6)
                    || (bytes, panel.height()) == (0, 0),
                "{bytes} bytes, {} panel rows",
                panel.height()
            );
            let checkpoints = analysis::table::read(&object.join("checkpoints.parquet")).unwrap();
            assert_eq!(checkpoints.height(), 3);
            // The saliency statistics cover every test image, massless maps counted.
            for column in ["gradcam_weak", "gradient_weak", "gxi_weak"] {
                let values = analysis::table::f64_column(&checkpoints, column).unwrap();
                assert!(
                    values.iter().all(|v| (0.0..=1.0).contains(v)),
                    "{column}: {values:?}"
                );
            }
            let massless = analysis::table::f64_column(&checkpoints, "gradcam_massless").unwrap();
            assert!(massless.iter().all(|&m| (0.0..=40.0).contains(&m)));
            let run = analysis::table::read(&object.join("run.parquet")).unwrap();
            let task = analysis::table::str_column(&run, "task").unwrap();
            assert!(task[0] == "binary" || task[0] == "tenclass", "{task:?}");
        }
        if object.join("beta.f32").exists() {
            let trace = analysis::table::read(&object.join("trace.parquet")).unwrap();
            let bytes = std::fs::metadata(object.join("beta.f32")).unwrap().len() as usize;
            assert_eq!(bytes, trace.height() * 784 * 4);
            let pixels = analysis::table::read(&object.join("pixels.parquet")).unwrap();
            assert_eq!(pixels.height(), 784);
        }
    }
    let reports = config.reports.clone();
    let ids: Vec<&str> = figures.iter().map(|f| f.id.as_str()).collect();
    for id in [
        "mnist_gradcam_grid",
        "mnist_weak_share",
        "mnist_loss_accuracy",
        "mnist_share_vs_init",
        "mnist_effect_vs_rho",
        "mnist_diag_shares",
        "mnist_diag_beta_maps",
        "mnist_weak_share_tenclass",
        "mnist_loss_accuracy_tenclass",
    ] {
        assert!(ids.contains(&id), "figure {id} missing from {ids:?}");
    }
    for figure in &figures {
        assert_eq!(figure.section, "mnist");
        for file in [figure.svg(), figure.png()] {
            let size = std::fs::metadata(reports.join(&file))
                .map(|m| m.len())
                .unwrap_or(0);
            assert!(size > 1000, "{file} missing or empty");
        }
    }
    for table in [
        "mnist_cnn_effects",
        "mnist_cnn_cells",
        "mnist_diag_shares",
        "mnist_cnn_effects_tenclass",
        "mnist_cnn_cells_tenclass",
    ] {
        let path = reports.join(format!("tables/{table}.csv"));
        assert!(path.exists(), "{} missing", path.display());
    }
    let effects = analysis::table::read(&reports.join("tables/mnist_cnn_effects.parquet")).unwrap();
    // SAM cells (ρ 0.05 at s 0.5 and 1, ρ 0.0005 at s 1) × 4 saliency rows.
    assert_eq!(effects.height(), 12);
    let seeds = analysis::table::f64_column(&effects, "seeds").unwrap();
    assert!(seeds.iter().all(|&s| s == 2.0), "paired seeds: {seeds:?}");
    let cells = analysis::table::read(&reports.join("tables/mnist_cnn_cells.parquet")).unwrap();
    assert_eq!(cells.height(), 5);
    for id in [
        "mnist.cnn.weak_early.sam-l2.s0.5",
        "mnist.cnn.weak_early.sam-l2.s1",
        "mnist.cnn.gradient.weak_early.sam-l2",
        "mnist.cnn.init_scale.sam-l2",
        "mnist.cnn.control.rho_to_0.sam-l2",
        "mnist.cnn.test_accuracy",
        "mnist.diag.l2.minor_first.seed0",
        "mnist.diag.l2.major_last.seed0",
        "mnist.diag.gd.major_throughout.seed0",
        // The ten-class variant: its own ids, through the same statistic and decision.
        "mnist.cnn.tenclass.weak_early.sam-l2.s1",
        "mnist.cnn.tenclass.gradient.weak_early.sam-l2",
        "mnist.cnn.tenclass.test_accuracy",
    ] {
        let claim = claims.iter().find(|c| c.id == id);
        let claim = claim.unwrap_or_else(|| panic!("claim {id} missing"));
        assert_eq!(claim.section, "mnist");
        assert!(!claim.measured.is_empty());
    }
    // Two seeds cannot give a 95 % CI that excludes 0 with percentile bootstrap unless both
    // differences have one sign; whatever they are, a primary claim is evidence with a CI.
    let primary = claims
        .iter()
        .find(|c| c.id == "mnist.cnn.weak_early.sam-l2.s1")
        .unwrap();
    assert!(primary.measured.contains("CI"), "{}", primary.measured);
    // min_test_acc = 0 makes the accuracy check a pure report: it must pass.
    assert!(
        claims
            .iter()
            .any(|c| c.id == "mnist.cnn.test_accuracy" && c.pass)
    );
    assert!(claims.iter().all(|c| c.id.starts_with("mnist.")));
    let ten = claims
        .iter()
        .find(|c| c.id == "mnist.cnn.tenclass.weak_early.sam-l2.s1")
        .unwrap();
    assert!(
        ten.statement.starts_with("ten-class: "),
        "{}",
        ten.statement
    );
    let effects =
        analysis::table::read(&reports.join("tables/mnist_cnn_effects_tenclass.parquet")).unwrap();
    // One SAM cell × 4 saliency rows, 2 paired seeds.
    assert_eq!(effects.height(), 4);
}

fn pipeline_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipeline.toml")
}

#[test]
fn pipeline_file_plans_under_both_profiles() {
    let registry = registry();
    let config = Config::load(&pipeline_file()).expect("pipeline.toml parses");
    for profile in ["quick", "full"] {
        let overrides = Overrides {
            profile: Some(profile.into()),
            ..Overrides::default()
        };
        let plan = Plan::build(&registry, &config, &overrides).expect("plan builds");
        assert!(
            plan.tasks().len() >= 9,
            "{profile}: {} tasks",
            plan.tasks().len()
        );
    }
}
