//! `mnist.diag_train`: the theory's own model on real pixels — an L = 2 diagonal linear network trained
//! by GD, ℓ2-SAM or ℓ∞-SAM on the binary MNIST task, with β logged on a geometric step grid.
//!
//! Features: pixel j of image i becomes x'_ij = s_j (x_ij − c_j) with c_j the midpoint of the two class
//! means and s_j = sign(m₊_j − m₋_j) (+1 for a tie). Then y_i x'_ij averages to μ_j = |m₊_j − m₋_j|/2 ≥ 0
//! in each class: the data are the multi-sample analogue of the theory's single example (μ, +1) with
//! μ ≥ 0, and a balanced positive init (β = w ⊙ w ≥ 0 throughout) can use every pixel. μ_j is the pixel's
//! feature strength. Pixels that are zero in every training image get zero gradient forever and are
//! dropped (their β would stay α² and only dilute the shares).
//!
//! Files: `pixels.parquet` (pixel, strength μ_j, sign s_j, kept), `trace.parquet` (per logged step:
//! step, time, tau, loss, train and test accuracy), `beta.f32` (per logged step, 784 little-endian f32,
//! NaN for dropped pixels; `cos_l1mm` is the cosine of β with the non-negative ℓ1 max-margin solution on
//! the kept training pixels, Thm 4.2's limit), `run.parquet` (settings, the ℓ2 minor-phase threshold a_{d−1}, its own wall time is in reports/run.json).

use numerics::dataset::Dataset;
use numerics::maxmargin::l1_max_margin;
use numerics::model::Network;
use numerics::optim::{Clock, Optimizer};
use numerics::trajectory::{LogSchedule, TrainConfig, TrainParams, train};
use pipeline::stage::{ParamSchema, StageKind, TaskContext, TaskError, Work};
use serde::Deserialize;
use vision::mnist::PIXELS;
use vision::task::Examples;

use crate::error::AnalysisError;
use crate::mnist::common::{check_data, choice, float, int, load_mnist, string, write_f32};
use crate::runs::stop::{number, refuse_non_finite};
use crate::table::{Columns, write};

/// Kind name.
pub const KIND: &str = "mnist.diag_train";
/// β per logged step.
pub const BETA_FILE: &str = "beta.f32";

#[derive(Debug, Clone, Deserialize)]
struct Params {
    negative: u8,
    positive: u8,
    n_train: usize,
    n_test: usize,
    seed: u64,
    optimizer: String,
    rho: f64,
    alpha: f64,
    clock: String,
    lr: f64,
    steps: u64,
    per_decade: u32,
    data_dir: String,
}

/// Centred, sign-aligned pixel features of a task.
#[derive(Debug, Clone, PartialEq)]
pub struct PixelFeatures {
    /// μ_j = |m₊_j − m₋_j| / 2 for all 784 pixels.
    pub strength: Vec<f64>,
    /// s_j ∈ {−1, +1}.
    pub sign: Vec<f64>,
    /// c_j = (m₊_j + m₋_j) / 2.
    pub centre: Vec<f64>,
    /// Pixels that are non-zero in some training image.
    pub kept: Vec<usize>,
}

impl PixelFeatures {
    /// Features from the training examples (targets 0 = label −1, 1 = label +1).
    pub fn fit(train: &Examples) -> Result<Self, AnalysisError> {
        let mut sums = [vec![0.0f64; PIXELS], vec![0.0f64; PIXELS]];
        let mut counts = [0usize; 2];
        let mut nonzero = vec![false; PIXELS];
        for i in 0..train.len() {
            let class = train.targets[i].min(1);
            counts[class] += 1;
            for (j, &x) in train.image(i).iter().enumerate() {
                sums[class][j] += f64::from(x);
                nonzero[j] |= x != 0.0;
            }
        }
        if counts.contains(&0) {
            return Err(AnalysisError::invalid(
                "the diagonal network needs training images of both classes",
            ));
        }
        let mean = |class: usize, j: usize| sums[class][j] / counts[class] as f64;
        let diff: Vec<f64> = (0..PIXELS).map(|j| mean(1, j) - mean(0, j)).collect();
        Ok(Self {
            strength: diff.iter().map(|d| d.abs() / 2.0).collect(),
            sign: diff
                .iter()
                .map(|&d| if d < 0.0 { -1.0 } else { 1.0 })
                .collect(),
            centre: (0..PIXELS)
                .map(|j| (mean(0, j) + mean(1, j)) / 2.0)
                .collect(),
            kept: (0..PIXELS).filter(|&j| nonzero[j]).collect(),
        })
    }

    /// The kept features of every example as rows, and the labels ±1.
    pub fn dataset(&self, examples: &Examples) -> Result<Dataset, AnalysisError> {
        let rows: Vec<Vec<f64>> = (0..examples.len())
            .map(|i| {
                let image = examples.image(i);
                self.kept
                    .iter()
                    .map(|&j| self.sign[j] * (f64::from(image[j]) - self.centre[j]))
                    .collect()
            })
            .collect();
        let labels: Vec<f64> = examples
            .targets
            .iter()
            .map(|&t| if t == 1 { 1.0 } else { -1.0 })
            .collect();
        Ok(Dataset::from_rows(&rows, &labels)?)
    }

    /// The ℓ2-SAM threshold above which a uniform init has no minor phase for the single example μ
    /// (spec B5.5): a_{d−1}/ρ = (μ_(d−1) + μ_(d)) / (√2 ‖μ‖), over the kept pixels.
    pub fn l2_threshold(&self) -> f64 {
        let mut mu: Vec<f64> = self.kept.iter().map(|&j| self.strength[j]).collect();
        mu.sort_by(f64::total_cmp);
        let norm = mu.iter().map(|m| m * m).sum::<f64>().sqrt();
        let top = mu.iter().rev().take(2).sum::<f64>();
        top / (std::f64::consts::SQRT_2 * norm)
    }
}

/// Accuracy of sign(⟨β, x⟩) on a dataset (a zero score counts as wrong).
fn accuracy(data: &Dataset, beta: &[f64]) -> f64 {
    let correct = (0..data.n())
        .filter(|&i| {
            let score: f64 = data.row(i).iter().zip(beta).map(|(x, b)| x * b).sum();
            score * data.y()[i] > 0.0
        })
        .count();
    correct as f64 / data.n() as f64
}

/// The `mnist.diag_train` kind.
pub struct DiagTrain;

impl StageKind for DiagTrain {
    fn name(&self) -> &'static str {
        KIND
    }
    fn fingerprint(&self) -> &'static str {
        crate::fingerprint::FINGERPRINT
    }
    fn schema(&self) -> ParamSchema {
        ParamSchema::new(vec![
            int("negative", 4, "digit with label −1"),
            int("positive", 9, "digit with label +1"),
            int("n_train", 200, "training images (seeded subset)"),
            int("n_test", 500, "test images (seeded subset)"),
            int("seed", 0, "seed of the subsets").sweepable(),
            choice(
                "optimizer",
                &["gd", "sam-l2", "sam-linf"],
                "gd",
                "update rule (joint ℓ2 norm, sign(0) = 0)",
            )
            .sweepable(),
            float("rho", 1.0, "SAM radius ρ (ignored by GD)").sweepable(),
            float("alpha", 0.1, "balanced uniform init w⁽¹⁾ = w⁽²⁾ = α·1").sweepable(),
            choice(
                "clock",
                &["rescaled", "original"],
                "rescaled",
                "rescaled: the update divided by meanᵢ(−ℓ′(m̂ᵢ)) (loss-normalised), reaching late times",
            ),
            float("lr", 0.05, "step size η").sweepable(),
            int("steps", 4000, "optimizer steps"),
            int("per_decade", 20, "logged steps per decade (geometric grid)"),
            string(
                "data_dir",
                "data/mnist",
                "directory of the MNIST IDX files and SHA256SUMS",
            ),
        ])
    }
    fn work(&self, params: &serde_json::Value) -> Option<Work> {
        let p: Params = serde_json::from_value(params.clone()).ok()?;
        // L = 2 layers over at most every pixel; SAM evaluates two gradients per step.
        let gradients = if p.optimizer == "gd" { 1.0 } else { 2.0 };
        Some(Work {
            units: p.steps as f64 * p.n_train as f64 * (PIXELS * 2) as f64 * gradients,
            key: if p.n_train as u64 > p.steps {
                "n_train"
            } else {
                "steps"
            },
            formula: "steps × n_train × 784 pixels × L",
        })
    }
    fn preflight(&self, params: &serde_json::Value) -> Result<(), String> {
        check_data(params["data_dir"].as_str().unwrap_or("data/mnist"))
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        let p: Params = ctx.params()?;
        let optimizer = match p.optimizer.as_str() {
            "gd" => Optimizer::Gd,
            "sam-l2" => Optimizer::SamL2 { rho: p.rho },
            _ => Optimizer::SamLinf { rho: p.rho },
        };
        let clock = if p.clock == "original" {
            Clock::Original
        } else {
            Clock::Rescaled
        };
        let mnist = load_mnist(&p.data_dir)?;
        let task = mnist.binary_task(
            p.negative,
            p.positive,
            Some(p.n_train),
            Some(p.n_test),
            p.seed,
        )?;
        let features = PixelFeatures::fit(&task.train)?;
        let train_data = features.dataset(&task.train)?;
        let test_data = features.dataset(&task.test)?;
        let network = Network::balanced_scale(2, features.kept.len(), p.alpha)?;
        let config = TrainConfig::new(TrainParams {
            optimizer,
            clock,
            lr: p.lr,
            steps: p.steps,
            log: LogSchedule::geometric(p.per_decade),
            beta_cap: f64::INFINITY,
        })?;
        // No wall-clock time is stored: the object is a function of its parameters and inputs
        // (the task's wall time is in reports/run.json).
        let trajectory = train(&train_data, network, &config)?;
        // Thm 4.2's predicted limit on these pixels: the ℓ1 max-margin solution with β ≥ 0 (the
        // balanced positive init keeps β = w ⊙ w ≥ 0). `None` when the LP has no solution (the
        // subsample is not separable with β ≥ 0); the cosine column is then NaN.
        let l1 = l1_max_margin(&train_data, true).ok();
        let cosine = |beta: &[f64]| {
            l1.as_ref().map_or(f64::NAN, |mm| {
                let w = mm.direction_l2();
                let dot: f64 = beta.iter().zip(&w).map(|(b, v)| b * v).sum();
                let norm = beta.iter().map(|b| b * b).sum::<f64>().sqrt();
                if norm > 0.0 { dot / norm } else { f64::NAN }
            })
        };
        refuse_non_finite(
            trajectory.stop,
            &format!(
                "optimizer {}, rho {}, clock {}, lr {}, alpha {}, n_train {}, seed {}",
                p.optimizer,
                number(p.rho),
                p.clock,
                number(p.lr),
                number(p.alpha),
                p.n_train,
                p.seed
            ),
        )?;

        let out = ctx.out_dir;
        let mut pixels = Columns::new()
            .i64("pixel", (0..PIXELS as i64).collect())
            .f64("strength", features.strength.clone())
            .f64("sign", features.sign.clone())
            .bool(
                "kept",
                (0..PIXELS)
                    .map(|j| features.kept.binary_search(&j).is_ok())
                    .collect(),
            )
            .finish()?;
        write(&mut pixels, out, "pixels")?;
        let records = &trajectory.records;
        let mut betas = Vec::with_capacity(records.len() * PIXELS);
        for record in records {
            let mut full = vec![f32::NAN; PIXELS];
            for (&j, &b) in features.kept.iter().zip(&record.beta) {
                full[j] = b as f32;
            }
            betas.extend(full);
        }
        write_f32(&out.join(BETA_FILE), &betas)?;
        let mut trace = Columns::new()
            .i64("step", records.iter().map(|r| r.step as i64).collect())
            .f64("time", records.iter().map(|r| r.time).collect())
            .f64("tau", records.iter().map(|r| r.tau).collect())
            .f64("loss", records.iter().map(|r| r.loss).collect())
            .f64(
                "train_acc",
                records
                    .iter()
                    .map(|r| accuracy(&train_data, &r.beta))
                    .collect(),
            )
            .f64(
                "test_acc",
                records
                    .iter()
                    .map(|r| accuracy(&test_data, &r.beta))
                    .collect(),
            )
            .f64(
                "cos_l1mm",
                records.iter().map(|r| cosine(&r.beta)).collect(),
            )
            .finish()?;
        write(&mut trace, out, "trace")?;
        let steps_done = trajectory.final_record.step;
        let mut run = Columns::new()
            .str("optimizer", vec![p.optimizer.clone()])
            .f64("rho", vec![p.rho])
            .f64("alpha", vec![p.alpha])
            .i64("seed", vec![p.seed as i64])
            .str("clock", vec![p.clock.clone()])
            .f64("lr", vec![p.lr])
            .i64("steps", vec![steps_done as i64])
            .str("stop", vec![trajectory.stop.name().to_string()])
            .i64("n_train", vec![train_data.n() as i64])
            .i64("pixels_kept", vec![features.kept.len() as i64])
            .f64("l2_threshold_over_rho", vec![features.l2_threshold()])
            .f64(
                "l1mm_margin",
                vec![l1.as_ref().map_or(f64::NAN, |mm| mm.margin)],
            )
            .finish()?;
        write(&mut run, out, "run")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_centre_and_align_signs() {
        // Two pixels that matter and one always-zero pixel: class +1 is brighter on pixel 0, class −1
        // on pixel 1. After the transform y·x' must average to μ_j = |Δ_j|/2 in each class.
        let mut images = vec![0.0f32; 4 * PIXELS];
        let values = [(0.8, 0.1), (0.6, 0.3), (0.2, 0.9), (0.0, 0.5)];
        for (i, (a, b)) in values.iter().enumerate() {
            images[i * PIXELS] = *a;
            images[i * PIXELS + 1] = *b;
        }
        let train = Examples {
            images,
            targets: vec![1, 1, 0, 0],
            source_index: vec![0, 1, 2, 3],
        };
        let features = PixelFeatures::fit(&train).unwrap();
        assert_eq!(features.kept, vec![0, 1]);
        // m₊ = (0.7, 0.2), m₋ = (0.1, 0.7): Δ = (0.6, −0.5).
        assert!((features.strength[0] - 0.3).abs() < 1e-6);
        assert!((features.strength[1] - 0.25).abs() < 1e-6);
        assert_eq!(&features.sign[..2], &[1.0, -1.0]);
        let data = features.dataset(&train).unwrap();
        for (j, mu) in [0.3, 0.25].iter().enumerate() {
            for class in [[0usize, 1], [2, 3]] {
                let mean: f64 = class
                    .iter()
                    .map(|&i| data.y()[i] * data.row(i)[j])
                    .sum::<f64>()
                    / 2.0;
                assert!((mean - mu).abs() < 1e-6, "pixel {j}: {mean}");
            }
        }
        // μ = (0.3, 0.25): a_{d−1}/ρ = 0.55 / (√2 · √0.1525).
        let expected = 0.55 / (2f64.sqrt() * 0.1525f64.sqrt());
        assert!((features.l2_threshold() - expected).abs() < 1e-6);
    }
}
