//! `train.flow`: the GD / SAM flow (original or rescaled clock) integrated by DOPRI5, output on a
//! geometric time grid or at explicit times; a finite-time blow-up is recorded, not an error.

use numerics::flow::{FlowConfig, FlowParams, FlowStatus, integrate_flow};
use pipeline::stage::{ParamSchema, ParamSpec, StageKind, TaskContext, TaskError};
use serde::Deserialize;

use crate::error::AnalysisError;
use crate::runs::output::Row;
use crate::runs::spec::{
    ModelParams, log_times_spec, model_specs, non_negative_float, per_decade_spec, task_dataset,
};
use crate::runs::training::{RunEnd, write_training_run};

/// The `train.flow` kind.
pub struct TrainFlow;

#[derive(Deserialize)]
struct FlowTaskParams {
    #[serde(flatten)]
    model: ModelParams,
    t_end: f64,
    t_first: f64,
    per_decade: u32,
    times: Vec<f64>,
    rtol: f64,
    atol: f64,
}

/// Output times: 0, a geometric grid from `t_first` to `t_end` with `per_decade` points per decade
/// (when `per_decade` > 0), the explicit `times`, and `t_end`; sorted and deduplicated.
pub fn output_times(t_end: f64, t_first: f64, per_decade: u32, times: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0, t_end];
    if per_decade > 0 && t_first > 0.0 && t_first < t_end {
        let decades = (t_end / t_first).log10();
        let count = (decades * f64::from(per_decade)).ceil() as u32;
        for i in 0..count {
            out.push(t_first * 10f64.powf(f64::from(i) / f64::from(per_decade)));
        }
    }
    out.extend(times.iter().copied().filter(|t| *t <= t_end));
    out.sort_by(f64::total_cmp);
    out.dedup();
    out
}

impl StageKind for TrainFlow {
    fn name(&self) -> &'static str {
        "train.flow"
    }
    fn fingerprint(&self) -> &'static str {
        crate::fingerprint::FINGERPRINT
    }
    fn schema(&self) -> ParamSchema {
        let positive = non_negative_float();
        let mut specs = model_specs();
        specs.extend([
            ParamSpec::new("t_end", positive.clone(), "end time in the run's clock").sweepable(),
            ParamSpec::new(
                "t_first",
                positive.clone(),
                "first time of the geometric grid",
            )
            .with_default(1e-2)
            .sweepable(),
            per_decade_spec("geometric output points per decade (0: only explicit times)"),
            log_times_spec("times", "explicit output times"),
            ParamSpec::new("rtol", positive.clone(), "DOPRI5 relative tolerance")
                .with_default(1e-9)
                .sweepable(),
            ParamSpec::new("atol", positive, "DOPRI5 absolute tolerance")
                .with_default(1e-12)
                .sweepable(),
        ]);
        ParamSchema::new(specs)
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        let p: FlowTaskParams = ctx.params()?;
        let data = task_dataset(ctx, &p.model.mu)?;
        let network = p.model.network(data.d())?;
        let mut params = FlowParams::new(
            p.model.optimizer()?,
            p.model.clock()?,
            output_times(p.t_end, p.t_first, p.per_decade, &p.times),
        );
        params.ode.rtol = p.rtol;
        params.ode.atol = p.atol;
        let config = FlowConfig::new(params).map_err(AnalysisError::from)?;
        let result = integrate_flow(&data, network, &config).map_err(AnalysisError::from)?;
        let rows: Vec<Row> = result
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| Row {
                step: i as u64,
                time: r.time,
                tau: r.tau,
                loss: r.loss,
                beta: r.beta.clone(),
            })
            .collect();
        let (stop, blowup_time) = match result.status {
            FlowStatus::Completed => ("completed", None),
            FlowStatus::BlowUp { t } => ("blow_up", Some(t)),
            FlowStatus::MaxSteps { .. } => ("max_steps", None),
        };
        let end = RunEnd {
            stop: stop.into(),
            steps: result.accepted_steps as u64,
            blowup_time,
        };
        write_training_run(ctx.out_dir, self.name(), &p.model, &data, end, &rows)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_grid_is_sorted_unique_and_spans_the_horizon() {
        // Two decades at 2 per decade: 0.01, 0.0316, 0.1, 0.316 plus 0, the explicit 0.5 and t_end 1.
        let times = output_times(1.0, 0.01, 2, &[0.5, 0.1, 3.0]);
        assert_eq!(times.len(), 7, "{times:?}");
        assert_eq!(times[0], 0.0);
        assert_eq!(*times.last().unwrap(), 1.0);
        assert!(times.windows(2).all(|w| w[0] < w[1]));
        assert!(times.contains(&0.5));
    }
}
