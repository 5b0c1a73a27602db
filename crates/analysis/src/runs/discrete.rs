//! `train.discrete`: one discrete GD / ℓ∞-SAM / ℓ2-SAM run, logged on a geometric step grid and/or
//! at explicit steps or times, in the original or the rescaled clock.

use numerics::trajectory::{LogSchedule, TrainConfig, TrainParams, train};
use pipeline::stage::{ParamSchema, ParamSpec, ParamType, StageKind, TaskContext, TaskError};
use serde::Deserialize;

use crate::error::AnalysisError;
use crate::runs::output::{Row, RunSummary, write_run};
use crate::runs::spec::{ModelParams, max_margin_directions, model_specs, single_mu, task_dataset};

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

impl StageKind for TrainDiscrete {
    fn name(&self) -> &'static str {
        "train.discrete"
    }
    fn fingerprint(&self) -> &'static str {
        crate::fingerprint!(
            [
                "runs/discrete.rs",
                "runs/spec.rs",
                "runs/output.rs",
                "runs/data.rs"
            ],
            ["numerics"]
        )
    }
    fn schema(&self) -> ParamSchema {
        let mut specs = model_specs();
        specs.extend([
            ParamSpec::new(
                "lr",
                ParamType::Float {
                    min: Some(0.0),
                    max: None,
                },
                "step size η",
            )
            .sweepable(),
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
                ParamType::Float {
                    min: Some(0.0),
                    max: None,
                },
                "horizon in the run's clock: steps = round(t_end/η) (0: use steps)",
            )
            .with_default(0.0)
            .sweepable(),
            ParamSpec::new(
                "per_decade",
                ParamType::Int {
                    min: Some(0),
                    max: Some(10_000),
                },
                "log k steps per decade (0: no geometric grid)",
            )
            .with_default(20)
            .sweepable(),
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
            ParamSpec::new(
                "log_times",
                ParamType::FloatVec {
                    len: None,
                    min: Some(0.0),
                    max: None,
                },
                "extra times (in the run's clock) to log, rounded to steps t/η",
            )
            .with_default(Vec::<f64>::new())
            .sweepable(),
            ParamSpec::new(
                "beta_cap",
                ParamType::Float {
                    min: Some(0.0),
                    max: None,
                },
                "stop when ‖β‖₂ exceeds this (0: never)",
            )
            .with_default(0.0)
            .sweepable(),
        ]);
        ParamSchema::new(specs)
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
            steps: if p.t_end > 0.0 {
                (p.t_end / p.lr).round() as u64
            } else {
                p.steps
            },
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
        let alpha = p.model.alpha_for(data.d())?;
        let run = train(&data, network, &config).map_err(AnalysisError::from)?;
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
        let mut summary = RunSummary {
            kind: self.name().into(),
            label: p.model.label.clone(),
            group: p.model.group.clone(),
            optimizer: p.model.optimizer.clone(),
            clock: p.model.clock.clone(),
            depth: p.model.depth,
            rho: p.model.rho,
            alpha,
            n: data.n(),
            d: data.d(),
            mu: single_mu(&data),
            stop: run.stop.name().into(),
            steps: run.final_record.step,
            final_time: 0.0,
            final_tau: 0.0,
            final_loss: 0.0,
            final_beta: Vec::new(),
            direction: Vec::new(),
            argmax: 0,
            l2_mm: None,
            cos_l2_mm: None,
            l1_mm: None,
            cos_l1_mm: None,
            blowup_time: None,
        };
        let (l2, l1) = max_margin_directions(&data);
        let last = rows.last().expect("step 0 is always logged");
        summary.finish(last, l2, l1);
        write_run(ctx.out_dir, &rows, &summary)?;
        Ok(())
    }
}
