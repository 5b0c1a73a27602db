//! Cor 3.5's phase diagram over (α₀/ρ, α₁/ρ): `sec3.phase_grid` runs one grid of rescaled-clock
//! discrete runs (ℓ∞-SAM or GD, one depth) and classifies each cell's measured limit against the
//! predicted e_j* (or 0); `sec3.phase` (in `phase_plot.rs`) draws the diagrams and states the claims.
//!
//! A finite run cannot decide every cell: near a boundary the winner needs unbounded time to
//! dominate. Each cell is therefore decided by the closed form first — does the predicted winner
//! dominate by the factor K within the run's horizon (τ_end or the ‖β‖ cap)? — and cells that it
//! cannot decide are reported separately, not counted as right or wrong.

use numerics::Dataset;
use numerics::model::Network;
use numerics::sweep::{SweepJob, run_sweep};
use numerics::theory::linf;
use numerics::trajectory::{LogSchedule, TrainConfig, TrainParams};
use pipeline::stage::{ParamSchema, ParamSpec, ParamType, StageKind, TaskContext, TaskError, Work};
use serde::{Deserialize, Serialize};

use crate::artifacts::write_json;
use crate::error::AnalysisError;
use crate::runs::spec::{parse_clock, parse_optimizer};
use crate::runs::stop::{number, refuse_non_finite};
use crate::table::{self, Columns};

/// File with a grid's cells inside a `sec3.phase_grid` object.
pub const GRID_FILE: &str = "phase_grid.json";

/// The `sec3.phase_grid` kind.
pub struct PhaseGrid;

#[derive(Debug, Clone, Deserialize)]
struct GridParams {
    mu: Vec<f64>,
    depth: usize,
    optimizer: String,
    clock: String,
    rho: f64,
    alpha_unit: f64,
    ratios: Vec<f64>,
    lr: f64,
    tau_end: f64,
    beta_cap: f64,
    dominance: f64,
}

/// One cell: init α = (r₀, r₁)·alpha_unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub r0: f64,
    pub r1: f64,
    /// Predicted limit: −1 for 0 (no α_j > ρ), else j*.
    pub predicted: i64,
    /// Measured limit at the end of the run, same coding.
    pub measured: i64,
    /// Whether the closed form says the horizon suffices to see the predicted outcome.
    pub decidable: bool,
    pub final_tau: f64,
    pub final_beta: Vec<f64>,
}

/// A grid as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    pub depth: usize,
    pub optimizer: String,
    pub rho: f64,
    pub mu: Vec<f64>,
    pub ratios: Vec<f64>,
    pub tau_end: f64,
    pub dominance: f64,
    pub cells: Vec<Cell>,
    /// The runs' clock: `rescaled` (grids written before the field existed) or `original`.
    #[serde(default = "rescaled")]
    pub clock: String,
    /// The runs' step η (0 in grids written before the field existed).
    #[serde(default)]
    pub lr: f64,
}

fn rescaled() -> String {
    "rescaled".into()
}

/// The effective radius of the closed forms (GD is ℓ∞-SAM at ρ = 0).
fn theory_rho(optimizer: &str, rho: f64) -> f64 {
    if optimizer == "gd" { 0.0 } else { rho }
}

/// Predicted limit: −1 or j*.
pub fn predicted_limit(mu: &[f64], alpha: &[f64], rho: f64, depth: usize) -> i64 {
    linf::limit_index(mu, alpha, rho, depth).map_or(-1, |j| j as i64)
}

/// Measured limit from a final β: −1 ("0") when no |β_j| exceeds 1.5ρ^L, else argmax |β_j|.
pub fn measured_limit(beta: &[f64], rho: f64, depth: usize) -> i64 {
    let threshold = 1.5 * rho.powi(depth as i32);
    let (mut best, mut top) = (0, f64::NEG_INFINITY);
    for (j, b) in beta.iter().enumerate() {
        if b.abs() > top {
            best = j;
            top = b.abs();
        }
    }
    if top > threshold { best as i64 } else { -1 }
}

/// Whether the closed-form trajectory shows the predicted outcome within the horizon: scanning τ up
/// to τ_end (or until ‖β‖ reaches the cap, where the run stops), the predicted winner must exceed
/// both K·ρ^L·1.5 and K times every other |β_k|; a predicted 0 is always visible (every coordinate
/// stays ≤ ρ^L).
pub fn decidable(
    mu: &[f64],
    alpha: &[f64],
    rho: f64,
    depth: usize,
    tau_end: f64,
    cap: f64,
    dominance: f64,
) -> bool {
    let Some(winner) = linf::limit_index(mu, alpha, rho, depth) else {
        return true;
    };
    let Ok(config) = linf::LinfConfig::new(mu, alpha, rho, depth) else {
        return false;
    };
    let floor = 1.5 * rho.powi(depth as i32);
    const SCAN: usize = 4000;
    let mut last = config.beta(0.0);
    for i in 1..=SCAN {
        let tau = tau_end * i as f64 / SCAN as f64;
        let beta = config.beta(tau);
        let norm = beta.iter().map(|b| b * b).sum::<f64>().sqrt();
        if !norm.is_finite() || norm >= cap {
            break;
        }
        last = beta;
    }
    let top = last[winner].abs();
    let others = last
        .iter()
        .enumerate()
        .filter(|(k, _)| *k != winner)
        .fold(0.0_f64, |m, (_, b)| m.max(b.abs()));
    top >= dominance * others && top >= dominance * floor
}

impl StageKind for PhaseGrid {
    fn name(&self) -> &'static str {
        "sec3.phase_grid"
    }
    fn fingerprint(&self) -> &'static str {
        crate::fingerprint::FINGERPRINT
    }
    fn schema(&self) -> ParamSchema {
        let float = |min| ParamType::Float {
            min: Some(min),
            max: None,
        };
        ParamSchema::new(vec![
            ParamSpec::new(
                "mu",
                ParamType::FloatVec {
                    len: Some(2),
                    min: Some(0.0),
                    max: None,
                },
                "the single example μ",
            )
            .with_default(vec![1.0, 2.0]),
            ParamSpec::new(
                "depth",
                ParamType::Int {
                    min: Some(2),
                    max: Some(16),
                },
                "depth L",
            )
            .sweepable(),
            ParamSpec::new(
                "optimizer",
                ParamType::Str {
                    choices: Some(vec!["gd", "sam-linf"]),
                },
                "ℓ∞-SAM, or GD (the ρ = 0 case) for the baseline diagram",
            )
            .sweepable(),
            ParamSpec::new("rho", float(0.0), "SAM radius ρ").with_default(1.0),
            ParamSpec::new(
                "alpha_unit",
                float(0.0),
                "α = ratio · alpha_unit (also for GD, so the diagrams share axes)",
            )
            .with_default(1.0),
            ParamSpec::new(
                "ratios",
                ParamType::FloatVec {
                    len: None,
                    min: Some(0.0),
                    max: None,
                },
                "grid values of α_j / alpha_unit, for both coordinates",
            ),
            ParamSpec::new(
                "clock",
                ParamType::Str {
                    choices: Some(vec!["rescaled", "original"]),
                },
                "the runs' clock; in the original clock a cell is decided by the closed form up to the \
                 rescaled time τ the run actually accumulated",
            )
            .with_default("rescaled"),
            ParamSpec::new("lr", float(0.0), "step η in the runs' clock")
                .with_default(5e-3)
                .sweepable(),
            ParamSpec::new("tau_end", float(0.0), "horizon in the runs' clock").with_default(10.0),
            ParamSpec::new("beta_cap", float(0.0), "stop a run when ‖β‖ exceeds this")
                .with_default(1e8),
            ParamSpec::new(
                "dominance",
                float(1.0),
                "factor K by which the winner must dominate",
            )
            .with_default(10.0),
        ])
    }
    fn work(&self, params: &serde_json::Value) -> Option<Work> {
        let p: GridParams = serde_json::from_value(params.clone()).ok()?;
        let cells = (p.ratios.len() * p.ratios.len()) as f64;
        let steps = (p.tau_end / p.lr).round();
        Some(Work {
            units: cells * steps * (p.mu.len() * p.depth) as f64,
            key: if cells >= steps { "ratios" } else { "tau_end" },
            formula: "ratios² × (tau_end / lr) × d × L",
        })
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        let p: GridParams = ctx.params()?;
        let data = Dataset::single(&p.mu).map_err(AnalysisError::from)?;
        let rho = theory_rho(&p.optimizer, p.rho);
        let config = TrainConfig::new(TrainParams {
            optimizer: parse_optimizer(&p.optimizer, p.rho)?,
            clock: parse_clock(&p.clock)?,
            lr: p.lr,
            steps: (p.tau_end / p.lr).round() as u64,
            log: LogSchedule::explicit(Vec::new()),
            beta_cap: p.beta_cap,
        })
        .map_err(AnalysisError::from)?;
        let mut inits = Vec::new();
        for &r1 in &p.ratios {
            for &r0 in &p.ratios {
                inits.push((r0, r1));
            }
        }
        let jobs = inits
            .iter()
            .map(|&(r0, r1)| {
                Ok(SweepJob {
                    network: Network::balanced(p.depth, &[r0 * p.alpha_unit, r1 * p.alpha_unit])?,
                    config: config.clone(),
                })
            })
            .collect::<Result<Vec<_>, numerics::NumericsError>>()
            .map_err(AnalysisError::from)?;
        let results = run_sweep(&data, &jobs);
        let mut cells = Vec::with_capacity(inits.len());
        for (&(r0, r1), result) in inits.iter().zip(results) {
            let run = result.map_err(AnalysisError::from)?;
            refuse_non_finite(
                run.stop,
                &format!(
                    "cell α = ({}, {})·alpha_unit, optimizer {}, depth {}, lr {}; beta_cap {} did not stop it",
                    number(r0),
                    number(r1),
                    p.optimizer,
                    p.depth,
                    number(p.lr),
                    number(p.beta_cap)
                ),
            )?;
            let alpha = [r0 * p.alpha_unit, r1 * p.alpha_unit];
            let beta = run.final_record.beta.clone();
            cells.push(Cell {
                r0,
                r1,
                predicted: predicted_limit(&p.mu, &alpha, rho, p.depth),
                measured: measured_limit(&beta, rho, p.depth),
                decidable: decidable(
                    &p.mu,
                    &alpha,
                    rho,
                    p.depth,
                    if p.clock == "original" {
                        run.final_record.tau
                    } else {
                        p.tau_end
                    },
                    p.beta_cap,
                    p.dominance,
                ),
                final_tau: run.final_record.tau,
                final_beta: beta,
            });
        }
        let grid = Grid {
            depth: p.depth,
            optimizer: p.optimizer.clone(),
            rho: p.rho,
            mu: p.mu.clone(),
            ratios: p.ratios.clone(),
            tau_end: p.tau_end,
            dominance: p.dominance,
            cells,
            clock: p.clock.clone(),
            lr: p.lr,
        };
        write_json(&ctx.out_dir.join(GRID_FILE), &grid)?;
        let cells = &grid.cells;
        let mut df = Columns::new()
            .f64("alpha0_over_unit", cells.iter().map(|c| c.r0).collect())
            .f64("alpha1_over_unit", cells.iter().map(|c| c.r1).collect())
            .i64("predicted", cells.iter().map(|c| c.predicted).collect())
            .i64("measured", cells.iter().map(|c| c.measured).collect())
            .bool("decidable", cells.iter().map(|c| c.decidable).collect())
            .f64("final_tau", cells.iter().map(|c| c.final_tau).collect())
            .f64("beta_0", cells.iter().map(|c| c.final_beta[0]).collect())
            .f64("beta_1", cells.iter().map(|c| c.final_beta[1]).collect())
            .finish()?;
        table::write(&mut df, ctx.out_dir, "phase_grid")?;
        Ok(())
    }
}

/// Agreement counts of one grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agreement {
    pub decided: usize,
    pub agree: usize,
    pub undecidable: usize,
}

pub fn agreement(cells: &[Cell]) -> Agreement {
    let decided: Vec<&Cell> = cells.iter().filter(|c| c.decidable).collect();
    Agreement {
        decided: decided.len(),
        agree: decided.iter().filter(|c| c.measured == c.predicted).count(),
        undecidable: cells.len() - decided.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_cor_3_5() {
        let mu = [1.0, 2.0];
        // L = 2: any α₁ > ρ wins; α₁ ≤ ρ < α₀ gives the minor e₀; nothing active gives 0.
        assert_eq!(predicted_limit(&mu, &[3.0, 1.1], 1.0, 2), 1);
        assert_eq!(predicted_limit(&mu, &[3.0, 0.9], 1.0, 2), 0);
        assert_eq!(predicted_limit(&mu, &[0.9, 0.9], 1.0, 2), -1);
        // L = 3: μ₀(α₀ − ρ) = 2 > μ₁(α₁ − ρ) = 0.4 ⇒ e₀.
        assert_eq!(predicted_limit(&mu, &[3.0, 1.2], 1.0, 3), 0);
        assert_eq!(measured_limit(&[0.2, 0.9], 1.0, 2), -1);
        assert_eq!(measured_limit(&[0.2, 9.0], 1.0, 2), 1);
    }

    #[test]
    fn decidability_excludes_cells_near_the_boundary() {
        let mu = [1.0, 2.0];
        // Far from every boundary: e₁ dominates within τ = 10.
        assert!(decidable(&mu, &[0.5, 2.0], 1.0, 2, 10.0, 1e8, 10.0));
        // α₁ − ρ = 1e−6: β₁ = (1 + 1e−6 e^{2τ})² needs τ ≈ 8 to leave ρ², while β₀ = (1 + 2e^τ)² hits
        // the cap first, so the run cannot show e₁.
        assert!(!decidable(&mu, &[3.0, 1.000001], 1.0, 2, 10.0, 1e8, 10.0));
        // Predicted 0 is always visible.
        assert!(decidable(&mu, &[0.5, 0.99], 1.0, 2, 10.0, 1e8, 10.0));
    }

    #[test]
    fn agreement_ignores_undecidable_cells() {
        let cell = |measured, decidable| Cell {
            r0: 0.0,
            r1: 0.0,
            predicted: 1,
            measured,
            decidable,
            final_tau: 0.0,
            final_beta: vec![0.0, 0.0],
        };
        let a = agreement(&[cell(1, true), cell(0, true), cell(0, false)]);
        assert_eq!(
            a,
            Agreement {
                decided: 2,
                agree: 1,
                undecidable: 1
            }
        );
    }
}
