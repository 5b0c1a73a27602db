//! Parameters shared by the training kinds: the model (depth, init), the optimizer, the clock, the
//! data (a `data.*` input or an inline single example μ) and free labels for aggregators.

use numerics::model::Network;
use numerics::optim::{Clock, Optimizer};
use numerics::{Dataset, maxmargin};
use pipeline::stage::{ParamSpec, ParamType, TaskContext};
use serde::Deserialize;

use crate::error::AnalysisError;
use crate::runs::data::{DATASET_FILE, DatasetFile};

/// The model/optimizer part of a training task's parameters (the same names in every training kind).
#[derive(Debug, Clone, Deserialize)]
pub struct ModelParams {
    pub mu: Vec<f64>,
    pub depth: usize,
    pub optimizer: String,
    pub rho: f64,
    pub alpha: Vec<f64>,
    pub alpha_scale: f64,
    pub clock: String,
    pub label: String,
    pub group: String,
}

fn float(min: Option<f64>) -> ParamType {
    ParamType::Float { min, max: None }
}

/// A float ≥ 0 with no upper bound (step sizes, horizons, tolerances, caps).
pub fn non_negative_float() -> ParamType {
    float(Some(0.0))
}

/// `per_decade`: points per decade of the run's geometric logging grid (0: none), 20 by default.
pub fn per_decade_spec(doc: &'static str) -> ParamSpec {
    ParamSpec::new(
        "per_decade",
        ParamType::Int {
            min: Some(0),
            max: Some(10_000),
        },
        doc,
    )
    .with_default(20)
    .sweepable()
}

/// Explicit times ≥ 0 (in the run's clock) to log besides the geometric grid, none by default.
pub fn log_times_spec(name: &'static str, doc: &'static str) -> ParamSpec {
    ParamSpec::new(
        name,
        ParamType::FloatVec {
            len: None,
            min: Some(0.0),
            max: None,
        },
        doc,
    )
    .with_default(Vec::<f64>::new())
    .sweepable()
}

/// Schema entries of [`ModelParams`].
pub fn model_specs() -> Vec<ParamSpec> {
    let vector = ParamType::FloatVec {
        len: None,
        min: None,
        max: None,
    };
    vec![
        ParamSpec::new(
            "mu",
            vector.clone(),
            "inline single example μ (used when no data.* stage is an input)",
        )
        .with_default(Vec::<f64>::new())
        .sweepable(),
        ParamSpec::new(
            "depth",
            ParamType::Int {
                min: Some(1),
                max: Some(64),
            },
            "number of layers L",
        )
        .with_default(2)
        .sweepable(),
        ParamSpec::new(
            "optimizer",
            ParamType::Str {
                choices: Some(vec!["gd", "sam-linf", "sam-l2", "usam"]),
            },
            "update rule",
        )
        .with_default("gd")
        .sweepable(),
        ParamSpec::new("rho", float(Some(0.0)), "SAM radius ρ (ignored by gd)")
            .with_default(0.0)
            .sweepable(),
        ParamSpec::new(
            "alpha",
            vector,
            "balanced init per coordinate (empty: alpha_scale·1)",
        )
        .with_default(Vec::<f64>::new())
        .sweepable(),
        ParamSpec::new(
            "alpha_scale",
            float(None),
            "uniform init scale, used when alpha is empty",
        )
        .with_default(0.0)
        .sweepable(),
        ParamSpec::new(
            "clock",
            ParamType::Str {
                choices: Some(vec!["original", "rescaled"]),
            },
            "original time, or the rescaled (loss-normalised) clock",
        )
        .with_default("original")
        .sweepable(),
        ParamSpec::new(
            "label",
            ParamType::Str { choices: None },
            "free run label for aggregators",
        )
        .with_default("")
        .sweepable(),
        ParamSpec::new(
            "group",
            ParamType::Str { choices: None },
            "free group name for aggregators",
        )
        .with_default("")
        .sweepable(),
    ]
}

impl ModelParams {
    pub fn optimizer(&self) -> Result<Optimizer, AnalysisError> {
        parse_optimizer(&self.optimizer, self.rho)
    }

    pub fn clock(&self) -> Result<Clock, AnalysisError> {
        parse_clock(&self.clock)
    }

    /// The balanced init α for dimension d.
    pub fn alpha_for(&self, d: usize) -> Result<Vec<f64>, AnalysisError> {
        if self.alpha.is_empty() {
            if self.alpha_scale == 0.0 {
                return Err(AnalysisError::invalid(
                    "alpha is empty and alpha_scale is 0: give an init",
                ));
            }
            return Ok(vec![self.alpha_scale; d]);
        }
        if self.alpha.len() != d {
            return Err(AnalysisError::invalid(format!(
                "alpha has {} entries but the data has dimension {d}",
                self.alpha.len()
            )));
        }
        Ok(self.alpha.clone())
    }

    /// The balanced network for dimension d.
    pub fn network(&self, d: usize) -> Result<Network, AnalysisError> {
        Ok(Network::balanced(self.depth, &self.alpha_for(d)?)?)
    }
}

pub fn parse_optimizer(name: &str, rho: f64) -> Result<Optimizer, AnalysisError> {
    match name {
        "gd" => Ok(Optimizer::Gd),
        "sam-linf" => Ok(Optimizer::SamLinf { rho }),
        "sam-l2" => Ok(Optimizer::SamL2 { rho }),
        "usam" => Ok(Optimizer::Usam { rho }),
        other => Err(AnalysisError::invalid(format!(
            "unknown optimizer {other:?}"
        ))),
    }
}

pub fn parse_clock(name: &str) -> Result<Clock, AnalysisError> {
    match name {
        "original" => Ok(Clock::Original),
        "rescaled" => Ok(Clock::Rescaled),
        other => Err(AnalysisError::invalid(format!("unknown clock {other:?}"))),
    }
}

/// The task's dataset: the single `data.*` input if there is one, else the inline μ.
pub fn task_dataset(ctx: &TaskContext<'_>, mu: &[f64]) -> Result<Dataset, AnalysisError> {
    let mut found = ctx
        .inputs
        .iter()
        .filter(|input| input.kind.starts_with("data.") && input.path(DATASET_FILE).exists());
    match (found.next(), found.next()) {
        (Some(input), None) => DatasetFile::read(&input.dir)?.dataset(),
        (Some(_), Some(_)) => Err(AnalysisError::invalid(
            "more than one data.* input: a training stage takes one dataset",
        )),
        (None, _) if !mu.is_empty() => Ok(Dataset::single(mu)?),
        (None, _) => Err(AnalysisError::invalid(
            "no data.* input and no inline mu: give the stage a dataset",
        )),
    }
}

/// Unit ℓ2-norm directions of the ℓ2 and ℓ1 max-margin classifiers (`None` if the solver fails, e.g.
/// on non-separable data — then the summary simply has no cosines).
pub fn max_margin_directions(data: &Dataset) -> (Option<Vec<f64>>, Option<Vec<f64>>) {
    let l2 = maxmargin::l2_max_margin(data)
        .ok()
        .map(|mm| mm.direction_l2());
    let l1 = maxmargin::l1_max_margin(data, false)
        .ok()
        .map(|mm| mm.direction_l2());
    (l2, l1)
}

/// μ of a single-example dataset {(μ, +1)}, else `None`.
pub fn single_mu(data: &Dataset) -> Option<Vec<f64>> {
    (data.n() == 1 && data.y()[0] == 1.0).then(|| data.row(0).to_vec())
}
