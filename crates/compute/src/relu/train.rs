//! `relu.train`: one seeded full-batch run of the two-layer ReLU network ([`numerics::relu`]) on Gaussian
//! clusters at ±mean. The seed draws both the data (`data.gaussian`'s generator with this seed) and the
//! init (the seed + 2³²), so a seed sweep is a sweep over data sets and inits together. Writes
//! `relu_run.json`: the settings, and at every logged step the loss and the effective input weight β_eff.

use numerics::generate::gaussian_clusters;
use numerics::relu::{ReluWorkspace, Shape, effective_weight, init, loss, step};
use pipeline::stage::{ParamSchema, ParamSpec, ParamType, StageKind, TaskContext, TaskError, Work};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::artifacts::{read_json, write_json};
use crate::error::AnalysisError;
use crate::params::{choice, float, float_vec, int, string};
use crate::runs::spec::{parse_clock, parse_optimizer};

/// File name of a run inside a `relu.train` object.
pub const RUN_FILE: &str = "relu_run.json";

/// The `relu.train` kind.
pub struct ReluTrain;

#[derive(Debug, Clone, Deserialize)]
struct Params {
    label: String,
    group: String,
    mean: Vec<f64>,
    sigma: f64,
    n_per_class: i64,
    width: i64,
    init_scale: f64,
    optimizer: String,
    rho: f64,
    lr: f64,
    clock: String,
    steps: i64,
    beta_cap: f64,
    log_every: i64,
    seed: i64,
}

/// One logged state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReluRow {
    pub step: u64,
    pub loss: f64,
    /// β_eff = meanᵢ ∇ₓ f(xᵢ).
    pub beta: Vec<f64>,
}

/// What a `relu.train` task stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReluRun {
    pub label: String,
    #[serde(default)]
    pub group: String,
    pub mean: Vec<f64>,
    pub optimizer: String,
    pub rho: f64,
    pub lr: f64,
    pub clock: String,
    /// `completed`, or `beta_cap` when the run stopped at ‖β_eff‖ > beta_cap.
    pub stop: String,
    pub width: usize,
    pub init_scale: f64,
    pub seed: u64,
    pub rows: Vec<ReluRow>,
}

impl ReluRun {
    pub fn read(input: &pipeline::stage::InputArtifact) -> Result<Self, AnalysisError> {
        read_json(&input.path(RUN_FILE))
    }
}

fn positive_int(name: &'static str, default: i64, doc: &'static str) -> ParamSpec {
    ParamSpec::new(
        name,
        ParamType::Int {
            min: Some(1),
            max: None,
        },
        doc,
    )
    .with_default(default)
}

impl StageKind for ReluTrain {
    fn name(&self) -> &'static str {
        "relu.train"
    }
    fn fingerprint(&self) -> &'static str {
        crate::fingerprint::FINGERPRINT
    }
    fn schema(&self) -> ParamSchema {
        ParamSchema::new(vec![
            string("label", "", "data set name used by the report (e.g. mu12)"),
            string(
                "group",
                "",
                "free group name (\"post-hoc\": added after results were seen)",
            ),
            float_vec("mean", vec![1.0, 2.0], "cluster centre: x ~ N(y·mean, σ²I)"),
            float("sigma", 0.3, "cluster standard deviation σ"),
            positive_int("n_per_class", 50, "points per label"),
            positive_int("width", 32, "hidden width m"),
            float("init_scale", 0.1, "every weight ~ N(0, init_scale²)"),
            choice(
                "optimizer",
                &["gd", "sam-linf", "sam-l2", "usam"],
                "gd",
                "update rule",
            )
            .sweepable(),
            float("rho", 0.0, "SAM radius ρ (ignored by gd)").sweepable(),
            float("lr", 0.01, "step size η").sweepable(),
            choice(
                "clock",
                &["original", "rescaled"],
                "original",
                "original time, or the descent gradient divided by meanᵢ(−ℓ′(m̂ᵢ))",
            ),
            positive_int("steps", 5000, "full-batch updates"),
            float(
                "beta_cap",
                1e100,
                "stop (logging the state) once ‖β_eff‖ exceeds this",
            ),
            positive_int("log_every", 10, "log every k-th step (and step 0)"),
            int("seed", 0, "data and init seed").sweepable(),
        ])
    }
    fn work(&self, params: &Value) -> Option<Work> {
        let p: Params = serde_json::from_value(params.clone()).ok()?;
        let per_step = 4.0 * (2 * p.n_per_class) as f64 * p.width as f64 * p.mean.len() as f64;
        Some(Work {
            units: p.steps as f64 * per_step,
            key: "steps",
            formula: "steps × 2 passes × 2 (SAM) × n × m × d",
        })
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        let p: Params = ctx.params()?;
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(AnalysisError::invalid(format!(
                    "{name} must be a finite number > 0, got {v}"
                )))
            }
        };
        positive("lr", p.lr)?;
        positive("init_scale", p.init_scale)?;
        let optimizer = parse_optimizer(&p.optimizer, p.rho)?;
        let clock = parse_clock(&p.clock)?;
        optimizer.validate().map_err(AnalysisError::from)?;
        let seed = u64::try_from(p.seed)
            .map_err(|_| AnalysisError::invalid(format!("seed must be ≥ 0, got {}", p.seed)))?;
        let data = gaussian_clusters(&p.mean, p.sigma, p.n_per_class as usize, seed)?;
        let shape = Shape {
            dim: p.mean.len(),
            width: p.width as usize,
        };
        let mut theta = init(shape, p.init_scale, seed.wrapping_add(1 << 32))?;
        let mut ws = ReluWorkspace::new(shape);
        let mut rows = Vec::new();
        let mut beta = vec![0.0; shape.dim];
        let steps = p.steps as u64;
        let every = p.log_every as u64;
        let mut stop = "completed";
        for k in 0..=steps {
            // The cap is checked at logged steps (every `log_every`), where β_eff is computed anyway.
            let logged = k % every == 0 || k == steps;
            let mut capped = false;
            if logged {
                effective_weight(shape, &theta, &data, &mut beta);
                capped = beta.iter().map(|b| b * b).sum::<f64>().sqrt() > p.beta_cap;
                rows.push(ReluRow {
                    step: k,
                    loss: loss(shape, &theta, &data),
                    beta: beta.clone(),
                });
            }
            if capped {
                stop = "beta_cap";
                break;
            }
            if k < steps {
                step(shape, &mut theta, &data, optimizer, clock, p.lr, &mut ws)
                    .map_err(|e| AnalysisError::invalid(format!("step {k}: {e}")))?;
            }
        }
        let run = ReluRun {
            label: p.label,
            group: p.group,
            mean: p.mean,
            optimizer: p.optimizer,
            rho: p.rho,
            lr: p.lr,
            clock: p.clock,
            stop: stop.into(),
            width: shape.width,
            init_scale: p.init_scale,
            seed,
            rows,
        };
        write_json(&ctx.out_dir.join(RUN_FILE), &run)?;
        Ok(())
    }
}
