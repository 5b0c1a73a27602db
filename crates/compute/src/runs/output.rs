//! What a training task writes (`trajectory.parquet` in long format, `summary.json`) and how
//! aggregators read it back.

use pipeline::stage::InputArtifact;
use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use crate::artifacts::{read_json, write_json};
use crate::error::AnalysisError;
use crate::table::{self, Columns};

/// File name of a run's summary.
pub const SUMMARY_FILE: &str = "summary.json";
/// Table name of a run's trajectory.
pub const TRAJECTORY: &str = "trajectory";

/// One logged state of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub step: u64,
    pub time: f64,
    pub tau: f64,
    pub loss: f64,
    pub beta: Vec<f64>,
}

/// ‖β‖₂.
pub fn norm(beta: &[f64]) -> f64 {
    beta.iter().map(|b| b * b).sum::<f64>().sqrt()
}

/// argmax_j |β_j| (the "dominant coordinate"; ties to the lower index; 0 for an empty vector).
pub fn dominant(beta: &[f64]) -> usize {
    let mut best = 0;
    for (j, b) in beta.iter().enumerate() {
        if b.abs() > beta[best].abs() {
            best = j;
        }
    }
    best
}

/// β/‖β‖₂ (zeros for β = 0).
pub fn direction(beta: &[f64]) -> Vec<f64> {
    let n = norm(beta);
    if n > 0.0 && n.is_finite() {
        beta.iter().map(|b| b / n).collect()
    } else {
        vec![0.0; beta.len()]
    }
}

pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The long-format trajectory table: step, time, tau, loss, beta_0 … beta_{d−1}, norm, dominant.
pub fn trajectory_frame(rows: &[Row]) -> Result<DataFrame, AnalysisError> {
    let d = rows.first().map_or(0, |row| row.beta.len());
    let mut columns = Columns::new()
        .i64("step", rows.iter().map(|r| r.step as i64).collect())
        .f64("time", rows.iter().map(|r| r.time).collect())
        .f64("tau", rows.iter().map(|r| r.tau).collect())
        .f64("loss", rows.iter().map(|r| r.loss).collect());
    for j in 0..d {
        columns = columns.f64(
            &format!("beta_{j}"),
            rows.iter().map(|r| r.beta[j]).collect(),
        );
    }
    columns
        .f64("norm", rows.iter().map(|r| norm(&r.beta)).collect())
        .i64(
            "dominant",
            rows.iter().map(|r| dominant(&r.beta) as i64).collect(),
        )
        .finish()
}

/// A run's summary (`summary.json`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunSummary {
    /// `train.discrete` or `train.flow`.
    pub kind: String,
    pub label: String,
    pub group: String,
    pub optimizer: String,
    pub clock: String,
    pub depth: usize,
    pub rho: f64,
    pub alpha: Vec<f64>,
    pub n: usize,
    pub d: usize,
    /// The example μ when the data is a single example with label +1 (for closed-form comparisons).
    #[serde(default)]
    pub mu: Option<Vec<f64>>,
    /// How the run ended: completed, beta_cap, non_finite (discrete) or completed, blow_up, max_steps (flow).
    pub stop: String,
    /// Steps done (discrete) or accepted ODE steps (flow).
    pub steps: u64,
    pub final_time: f64,
    pub final_tau: f64,
    pub final_loss: f64,
    pub final_beta: Vec<f64>,
    pub direction: Vec<f64>,
    pub argmax: usize,
    /// Unit direction of the ℓ2 max-margin classifier and cos(β, it).
    pub l2_mm: Option<Vec<f64>>,
    pub cos_l2_mm: Option<f64>,
    /// Unit (ℓ2-normalised) direction of the ℓ1 max-margin classifier and cos(β, it).
    pub l1_mm: Option<Vec<f64>>,
    pub cos_l1_mm: Option<f64>,
    /// Flow only: where the integrator detected a finite-time blow-up, in the run's clock.
    pub blowup_time: Option<f64>,
}

impl RunSummary {
    /// Fill the final-state fields from the last row and the max-margin directions.
    pub fn finish(&mut self, last: &Row, l2_mm: Option<Vec<f64>>, l1_mm: Option<Vec<f64>>) {
        self.final_time = last.time;
        self.final_tau = last.tau;
        self.final_loss = last.loss;
        self.final_beta = last.beta.clone();
        self.direction = direction(&last.beta);
        self.argmax = dominant(&last.beta);
        self.cos_l2_mm = l2_mm.as_ref().map(|mm| dot(&self.direction, mm));
        self.cos_l1_mm = l1_mm.as_ref().map(|mm| dot(&self.direction, mm));
        self.l2_mm = l2_mm;
        self.l1_mm = l1_mm;
    }
}

/// Write a run's table and summary.
pub fn write_run(
    out_dir: &std::path::Path,
    rows: &[Row],
    summary: &RunSummary,
) -> Result<(), AnalysisError> {
    let mut df = trajectory_frame(rows)?;
    table::write(&mut df, out_dir, TRAJECTORY)?;
    write_json(&out_dir.join(SUMMARY_FILE), summary)
}

/// A run read back by an aggregator.
#[derive(Debug, Clone)]
pub struct LoadedRun {
    pub summary: RunSummary,
    pub rows: Vec<Row>,
}

impl LoadedRun {
    /// (x, β_j) points with x taken from `x_of(row)`.
    pub fn series(&self, j: usize, x_of: impl Fn(&Row) -> f64) -> Vec<(f64, f64)> {
        self.rows.iter().map(|r| (x_of(r), r.beta[j])).collect()
    }
}

/// Read a training run (from `train.discrete` or `train.flow`).
pub fn load_run(input: &InputArtifact) -> Result<LoadedRun, AnalysisError> {
    let summary: RunSummary = read_json(&input.path(SUMMARY_FILE))?;
    let df = table::read_input(input, TRAJECTORY)?;
    let steps = table::f64_column(&df, "step")?;
    let time = table::f64_column(&df, "time")?;
    let tau = table::f64_column(&df, "tau")?;
    let loss = table::f64_column(&df, "loss")?;
    let betas = (0..summary.d)
        .map(|j| table::f64_column(&df, &format!("beta_{j}")))
        .collect::<Result<Vec<_>, _>>()?;
    let rows = (0..df.height())
        .map(|i| Row {
            step: steps[i] as u64,
            time: time[i],
            tau: tau[i],
            loss: loss[i],
            beta: betas.iter().map(|column| column[i]).collect(),
        })
        .collect();
    Ok(LoadedRun { summary, rows })
}

/// Every training run among a task's inputs (inputs of other kinds are skipped), in plan order.
pub fn load_runs(inputs: &[InputArtifact]) -> Result<Vec<LoadedRun>, AnalysisError> {
    inputs
        .iter()
        .filter(|input| input.path(SUMMARY_FILE).exists() && input.kind.starts_with("train."))
        .map(load_run)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dominant_and_direction_conventions() {
        // argmax |β_j| (ties to the lower index), β/‖β‖ with ‖(3, −4)‖ = 5.
        assert_eq!(dominant(&[0.5, -2.0, 2.0]), 1);
        assert_eq!(direction(&[3.0, -4.0]), vec![0.6, -0.8]);
        assert_eq!(direction(&[0.0, 0.0]), vec![0.0, 0.0]);
        let df = trajectory_frame(&[Row {
            step: 3,
            time: 0.3,
            tau: 0.2,
            loss: 0.1,
            beta: vec![3.0, -4.0],
        }])
        .unwrap();
        assert_eq!(df.width(), 8);
        assert_eq!(crate::table::f64_column(&df, "norm").unwrap(), vec![5.0]);
    }
}
