//! What both training kinds write once they have their logged rows: the run summary (the model and
//! data it ran on, how it ended, its final state against the max-margin directions) and the run.

use std::path::Path;

use numerics::Dataset;

use crate::error::AnalysisError;
use crate::runs::output::{Row, RunSummary, write_run};
use crate::runs::spec::{ModelParams, max_margin_directions, single_mu};

/// How a run ended, in its kind's own terms.
pub struct RunEnd {
    /// `completed`, `beta_cap`, `non_finite` (discrete) or `completed`, `blow_up`, `max_steps` (flow).
    pub stop: String,
    /// Steps done (discrete) or accepted ODE steps (flow).
    pub steps: u64,
    /// Flow only: the time of a detected finite-time blow-up.
    pub blowup_time: Option<f64>,
}

/// Writes the trajectory of `rows` and the summary of a run of `kind` on `data` into `out_dir`.
pub fn write_training_run(
    out_dir: &Path,
    kind: &str,
    model: &ModelParams,
    data: &Dataset,
    end: RunEnd,
    rows: &[Row],
) -> Result<(), AnalysisError> {
    let last = rows
        .last()
        .ok_or_else(|| AnalysisError::invalid(format!("the {kind} run logged no state")))?;
    let mut summary = RunSummary {
        kind: kind.into(),
        label: model.label.clone(),
        group: model.group.clone(),
        optimizer: model.optimizer.clone(),
        clock: model.clock.clone(),
        depth: model.depth,
        rho: model.rho,
        alpha: model.alpha_for(data.d())?,
        n: data.n(),
        d: data.d(),
        mu: single_mu(data),
        stop: end.stop,
        steps: end.steps,
        blowup_time: end.blowup_time,
        // The final-state fields are filled from the last row by `finish`.
        ..RunSummary::default()
    };
    let (l2, l1) = max_margin_directions(data);
    summary.finish(last, l2, l1);
    write_run(out_dir, rows, &summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::read_json;
    use crate::runs::output::SUMMARY_FILE;

    fn model() -> ModelParams {
        ModelParams {
            mu: Vec::new(),
            depth: 2,
            optimizer: "sam-l2".into(),
            rho: 0.1,
            alpha: Vec::new(),
            alpha_scale: 0.3,
            clock: "rescaled".into(),
            label: "a".into(),
            group: "g".into(),
        }
    }

    #[test]
    fn summary_carries_the_model_data_end_and_final_state() {
        let dir = tempfile::tempdir().unwrap();
        let data = Dataset::single(&[3.0, 4.0]).unwrap();
        let row = |step: u64, beta: Vec<f64>| Row {
            step,
            time: step as f64,
            tau: 0.5 * step as f64,
            loss: 1.0 / (1.0 + step as f64),
            beta,
        };
        let rows = [row(0, vec![0.0, 0.0]), row(7, vec![0.6, 0.8])];
        let end = RunEnd {
            stop: "beta_cap".into(),
            steps: 7,
            blowup_time: None,
        };
        write_training_run(dir.path(), "train.discrete", &model(), &data, end, &rows).unwrap();
        let summary: RunSummary = read_json(&dir.path().join(SUMMARY_FILE)).unwrap();
        assert_eq!(
            (
                summary.kind.as_str(),
                summary.label.as_str(),
                summary.stop.as_str()
            ),
            ("train.discrete", "a", "beta_cap")
        );
        assert_eq!((summary.n, summary.d, summary.steps), (1, 2, 7));
        // alpha_scale fills the empty alpha; the single example (μ, +1) is recorded as μ.
        assert_eq!(summary.alpha, vec![0.3, 0.3]);
        assert_eq!(summary.mu, Some(vec![3.0, 4.0]));
        // The final state is the last row; β = (0.6, 0.8) is already a unit vector with |β_1| largest.
        assert_eq!((summary.final_time, summary.final_tau), (7.0, 3.5));
        assert_eq!(summary.final_beta, vec![0.6, 0.8]);
        assert_eq!(summary.argmax, 1);
        // For one example the ℓ2 max-margin direction is μ/‖μ‖ = (0.6, 0.8), parallel to β; the QP
        // solver's accuracy (~1e-8 relative) bounds the deviation of the cosine from 1.
        let cos = summary.cos_l2_mm.expect("a single example is separable");
        assert!((cos - 1.0).abs() < 1e-6, "cos = {cos}");
    }

    #[test]
    fn a_run_without_rows_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let data = Dataset::single(&[1.0]).unwrap();
        let end = RunEnd {
            stop: "completed".into(),
            steps: 0,
            blowup_time: None,
        };
        let result = write_training_run(dir.path(), "train.flow", &model(), &data, end, &[]);
        assert!(result.is_err());
        assert!(!dir.path().join(SUMMARY_FILE).exists());
    }
}
