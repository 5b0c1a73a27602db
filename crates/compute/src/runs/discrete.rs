//! `train.discrete`: one discrete GD / ℓ∞-SAM / ℓ2-SAM run, logged on a geometric step grid and/or
//! at explicit steps or times, in the original or the rescaled clock.

use numerics::trajectory::{LogSchedule, TrainConfig, TrainParams, train};
use pipeline::stage::{ParamSchema, ParamSpec, ParamType, StageKind, TaskContext, TaskError, Work};
use serde::Deserialize;
use serde_json::Value;

use crate::error::AnalysisError;
use crate::runs::output::Row;
use crate::runs::spec::{
    ModelParams, log_times_spec, model_specs, non_negative_float, per_decade_spec, task_dataset,
};
use crate::runs::stop::{number, refuse_non_finite};
use crate::runs::training::{RunEnd, write_training_run};

/// The `train.discrete` kind.
pub struct TrainDiscrete;

#[derive(Deserialize)]
struct DiscreteParams {
    #[serde(flatten)]
    model: ModelParams,
    lr: f64,
    steps: u64,
    t_end: f64,
    per_decade: u32,
    log_steps: Vec<u64>,
    log_times: Vec<f64>,
    beta_cap: f64,
}

impl DiscreteParams {
    /// The number of updates: round(t_end/η) when a horizon is given (saturating; η = 0 with a
    /// horizon is an infinite run), else `steps`.
    fn updates(&self) -> f64 {
        if self.t_end > 0.0 {
            (self.t_end / self.lr).round()
        } else {
            self.steps as f64
        }
    }
}

impl StageKind for TrainDiscrete {
    fn name(&self) -> &'static str {
        "train.discrete"
    }
    fn fingerprint(&self) -> &'static str {
        crate::fingerprint::FINGERPRINT
    }
    fn schema(&self) -> ParamSchema {
        let mut specs = model_specs();
        specs.extend([
            ParamSpec::new("lr", non_negative_float(), "step size η").sweepable(),
            ParamSpec::new(
                "steps",
                ParamType::Int {
                    min: Some(0),
                    max: None,
                },
                "number of updates (ignored when t_end > 0)",
            )
            .with_default(0)
            .sweepable(),
            ParamSpec::new(
                "t_end",
                non_negative_float(),
                "horizon in the run's clock: steps = round(t_end/η) (0: use steps)",
            )
            .with_default(0.0)
            .sweepable(),
            per_decade_spec("log k steps per decade (0: no geometric grid)"),
            ParamSpec::new(
                "log_steps",
                ParamType::IntVec {
                    min: Some(0),
                    max: None,
                },
                "extra steps to log",
            )
            .with_default(Vec::<u64>::new())
            .sweepable(),
            log_times_spec(
                "log_times",
                "extra times (in the run's clock) to log, rounded to steps t/η",
            ),
            ParamSpec::new(
                "beta_cap",
                non_negative_float(),
                "stop when ‖β‖₂ exceeds this (0: never)",
            )
            .with_default(0.0)
            .sweepable(),
        ]);
        ParamSchema::new(specs)
    }
    fn work(&self, params: &Value) -> Option<Work> {
        let p: DiscreteParams = serde_json::from_value(params.clone()).ok()?;
        // The data set of an input stage is not known when the plan is built; d comes from the
        // inline μ or α, and each example of an input data set multiplies this estimate.
        let d = p.model.mu.len().max(p.model.alpha.len()).max(1);
        Some(Work {
            units: p.updates() * (d * p.model.depth) as f64,
            key: if p.t_end > 0.0 { "t_end" } else { "steps" },
            formula: "steps × d × L",
        })
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        let p: DiscreteParams = ctx.params()?;
        let data = task_dataset(ctx, &p.model.mu)?;
        let network = p.model.network(data.d())?;
        let mut log_steps = p.log_steps.clone();
        log_steps.extend(p.log_times.iter().map(|t| (t / p.lr).round() as u64));
        let config = TrainConfig::new(TrainParams {
            optimizer: p.model.optimizer()?,
            clock: p.model.clock()?,
            lr: p.lr,
            steps: p.updates() as u64,
            log: LogSchedule {
                per_decade: (p.per_decade > 0).then_some(p.per_decade),
                steps: log_steps,
            },
            beta_cap: if p.beta_cap > 0.0 {
                p.beta_cap
            } else {
                f64::INFINITY
            },
        })
        .map_err(AnalysisError::from)?;
        let run = train(&data, network, &config).map_err(AnalysisError::from)?;
        refuse_non_finite(
            run.stop,
            &format!(
                "optimizer {}, rho {}, clock {}, lr {}, depth {}, alpha {}, alpha_scale {}",
                p.model.optimizer,
                number(p.model.rho),
                p.model.clock,
                number(p.lr),
                p.model.depth,
                serde_json::Value::from(p.model.alpha.clone()),
                number(p.model.alpha_scale)
            ),
        )?;
        let rows: Vec<Row> = run
            .records
            .iter()
            .map(|r| Row {
                step: r.step,
                time: r.time,
                tau: r.tau,
                loss: r.loss,
                beta: r.beta.clone(),
            })
            .collect();
        let end = RunEnd {
            stop: run.stop.name().into(),
            steps: run.final_record.step,
            blowup_time: None,
        };
        write_training_run(ctx.out_dir, self.name(), &p.model, &data, end, &rows)?;
        Ok(())
    }
}
