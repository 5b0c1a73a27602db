//! `mnist.cnn_train`: one CNN trained with GD, ℓ2-SAM or ℓ∞-SAM on an MNIST task, logged per checkpoint.
//!
//! Files: `checkpoints.parquet` (one row per checkpoint: losses, accuracies, panel-mean weak share,
//! and over the whole test subset the weak shares of Grad-CAM, |∇ₓ score| and |x ⊙ ∇ₓ score| with
//! their massless-map counts),
//! `panel.parquet` (one row per checkpoint × panel image: its weak share and chance level),
//! `run.parquet` (the run's settings — task `binary` / `tenclass` and, binary, its digits `negative`
//! and `positive` (−1 for ten-class) among them; no timings), `gradcam.f32` (the Grad-CAM maps,
//! checkpoint-major then panel image, 784 little-endian f32 each) and `panel_images.f32` (the panel
//! digits, 784 f32 each).

use pipeline::stage::{ParamSchema, StageKind, TaskContext, TaskError, Work};
use serde::Deserialize;
use vision::cnn::CnnConfig;
use vision::mnist::Mnist;
use vision::task::{Task, TaskKind};
use vision::train::{Optimizer, TestSaliency, TrainConfig, TrainLog, train};
use vision::weak::ShareSummary;

use crate::error::AnalysisError;
use crate::mnist::common::{
    check_data, choice, cnn_forward_ops, float, int, int_vec, load_mnist, string, write_f32,
};
use crate::table::{Columns, write};

/// Kind name.
pub const KIND: &str = "mnist.cnn_train";
/// Grad-CAM maps file.
pub const GRADCAM_FILE: &str = "gradcam.f32";
/// Panel digits file.
pub const PANEL_IMAGES_FILE: &str = "panel_images.f32";

/// Parameters of one training run.
#[derive(Debug, Clone, Deserialize)]
pub struct Params {
    pub task: String,
    pub negative: u8,
    pub positive: u8,
    pub n_train: usize,
    pub n_test: usize,
    pub seed: u64,
    pub init_scale: f64,
    pub optimizer: String,
    pub rho: f64,
    pub lr: f64,
    pub steps: usize,
    /// 0 = full batch.
    pub batch: usize,
    pub checkpoints: Vec<usize>,
    pub panel_per_class: usize,
    pub train_eval: usize,
    pub data_dir: String,
}

impl Params {
    /// The vision optimizer.
    pub fn optimizer(&self) -> Result<Optimizer, AnalysisError> {
        match self.optimizer.as_str() {
            "gd" => Ok(Optimizer::Gd),
            "sam-l2" => Ok(Optimizer::SamL2 { rho: self.rho }),
            "sam-linf" => Ok(Optimizer::SamLinf { rho: self.rho }),
            other => Err(AnalysisError::invalid(format!(
                "unknown optimizer {other:?}"
            ))),
        }
    }
}

/// Builds the task of `params` from loaded MNIST.
pub fn build_task(mnist: &Mnist, params: &Params) -> Result<Task, TaskError> {
    Ok(match params.task.as_str() {
        "binary" => mnist.balanced_binary_task(
            params.negative,
            params.positive,
            params.n_train,
            params.n_test,
            params.seed,
        )?,
        _ => mnist.ten_class_task(Some(params.n_train), Some(params.n_test), params.seed)?,
    })
}

/// The `mnist.cnn_train` kind.
pub struct CnnTrain;

impl StageKind for CnnTrain {
    fn name(&self) -> &'static str {
        KIND
    }
    fn fingerprint(&self) -> &'static str {
        crate::fingerprint::FINGERPRINT
    }
    fn schema(&self) -> ParamSchema {
        ParamSchema::new(vec![
            choice(
                "task",
                &["binary", "tenclass"],
                "binary",
                "binary: two digits, labels ±1, logistic loss; tenclass: cross-entropy",
            ),
            int("negative", 4, "digit with label −1 (binary task)"),
            int("positive", 9, "digit with label +1 (binary task)"),
            int(
                "n_train",
                512,
                "training images (seeded subset; binary: half of each digit, even)",
            )
            .sweepable(),
            int(
                "n_test",
                500,
                "test images (seeded subset; binary: half of each digit, even): accuracy and the \
                 saliency statistics are taken over all of them",
            ),
            int(
                "seed",
                0,
                "seed of the subsets, the initial weights and the batch order",
            )
            .sweepable(),
            float(
                "init_scale",
                1.0,
                "s_init: factor on burn's default initialisation",
            )
            .sweepable(),
            choice(
                "optimizer",
                &["gd", "sam-l2", "sam-linf"],
                "gd",
                "update rule (SAM: joint ℓ2 norm, sign(0) = 0)",
            )
            .sweepable(),
            float("rho", 0.05, "SAM radius ρ (ignored by GD)").sweepable(),
            float("lr", 0.1, "learning rate η").sweepable(),
            int("steps", 100, "optimizer steps"),
            int("batch", 0, "mini-batch size; 0 = full batch"),
            int_vec(
                "checkpoints",
                vec![0, 10, 100],
                "steps at which loss, accuracy and Grad-CAM are logged",
            ),
            int(
                "panel_per_class",
                4,
                "Grad-CAM panel: test images per class",
            ),
            int(
                "train_eval",
                0,
                "training loss and accuracy at checkpoints on this many training images (0 = all)",
            ),
            string(
                "data_dir",
                "data/mnist",
                "directory of the MNIST IDX files and SHA256SUMS",
            ),
        ])
    }
    fn work(&self, params: &serde_json::Value) -> Option<Work> {
        let p: Params = serde_json::from_value(params.clone()).ok()?;
        let outputs = if p.task == "binary" { 1 } else { 10 };
        let batch = if p.batch > 0 { p.batch } else { p.n_train };
        // A gradient is a forward and a backward pass (about two more forwards); SAM takes two.
        let gradients = if p.optimizer == "gd" { 1.0 } else { 2.0 };
        Some(Work {
            units: p.steps as f64 * batch as f64 * 3.0 * gradients * cnn_forward_ops(outputs),
            key: if p.batch == 0 && p.n_train > p.steps {
                "n_train"
            } else {
                "steps"
            },
            formula: "steps × images per step × CNN forward and backward passes",
        })
    }
    fn preflight(&self, params: &serde_json::Value) -> Result<(), String> {
        check_data(params["data_dir"].as_str().unwrap_or("data/mnist"))
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        let params: Params = ctx.params()?;
        let optimizer = params.optimizer()?;
        let mnist = load_mnist(&params.data_dir)?;
        let task = build_task(&mnist, &params)?;
        let config = TrainConfig {
            optimizer,
            lr: params.lr,
            steps: params.steps,
            batch_size: (params.batch > 0).then_some(params.batch),
            checkpoints: params.checkpoints.clone(),
            seed: params.seed,
            panel_per_class: params.panel_per_class,
            train_eval: params.train_eval,
        };
        let cnn = CnnConfig::mnist(task.kind.outputs(), params.init_scale, params.seed);
        // Timings stay out of the object (a task is a function of its parameters and inputs);
        // the task's wall time is in reports/run.json, throughput in `minorfirst bench-cnn`.
        let log = train(&task, cnn, &config)?;
        write_outputs(ctx.out_dir, &params, &task, &log)?;
        Ok(())
    }
}

fn write_outputs(
    out_dir: &std::path::Path,
    params: &Params,
    task: &Task,
    log: &TrainLog,
) -> Result<(), AnalysisError> {
    let n = log.checkpoints.len();
    let per = |f: &dyn Fn(&vision::train::Checkpoint) -> f64| {
        log.checkpoints.iter().map(f).collect::<Vec<f64>>()
    };
    let massless = |f: &dyn Fn(&TestSaliency) -> ShareSummary| {
        log.checkpoints
            .iter()
            .map(|c| f(&c.test_saliency).massless as i64)
            .collect::<Vec<i64>>()
    };
    let mut checkpoints = Columns::new()
        .str("optimizer", vec![params.optimizer.clone(); n])
        .f64("init_scale", vec![params.init_scale; n])
        .i64("seed", vec![params.seed as i64; n])
        .i64(
            "step",
            log.checkpoints.iter().map(|c| c.step as i64).collect(),
        )
        .f64("train_loss", per(&|c| c.train_loss))
        .f64("train_acc", per(&|c| c.train_acc))
        .f64("test_loss", per(&|c| c.test_loss))
        .f64("test_acc", per(&|c| c.test_acc))
        .opt_f64(
            "weak_share",
            log.checkpoints.iter().map(|c| c.weak_share).collect(),
        )
        .f64("gradcam_weak", per(&|c| c.test_saliency.gradcam.mean))
        .i64("gradcam_massless", massless(&|s| s.gradcam))
        .f64("gradient_weak", per(&|c| c.test_saliency.gradient.mean))
        .i64("gradient_massless", massless(&|s| s.gradient))
        .f64("gxi_weak", per(&|c| c.test_saliency.gradient_x_input.mean))
        .i64("gxi_massless", massless(&|s| s.gradient_x_input))
        .f64("test_chance", per(&|c| c.test_saliency.chance))
        .finish()?;
    write(&mut checkpoints, out_dir, "checkpoints")?;

    let panel = log.panel.len();
    let mut step = Vec::new();
    let mut index = Vec::new();
    let mut target = Vec::new();
    let mut digit = Vec::new();
    let mut share = Vec::new();
    let mut chance = Vec::new();
    let mut maps = Vec::with_capacity(n * panel * 784);
    for checkpoint in &log.checkpoints {
        for (i, &test_index) in log.panel.iter().enumerate() {
            step.push(checkpoint.step as i64);
            index.push(i as i64);
            let t = task.test.targets[test_index];
            target.push(t as i64);
            digit.push(match task.kind {
                TaskKind::Binary { negative, positive } => {
                    i64::from(if t == 1 { positive } else { negative })
                }
                TaskKind::TenClass => t as i64,
            });
            share.push(checkpoint.weak_shares[i]);
            chance.push(log.panel_weak_pixels[i]);
            maps.extend_from_slice(&checkpoint.gradcam[i]);
        }
    }
    let mut panel_table = Columns::new()
        .i64("step", step)
        .i64("panel", index)
        .i64("target", target)
        .i64("digit", digit)
        .opt_f64("weak_share", share)
        .f64("chance", chance)
        .finish()?;
    write(&mut panel_table, out_dir, "panel")?;
    write_f32(&out_dir.join(GRADCAM_FILE), &maps)?;
    let images: Vec<f32> = log
        .panel
        .iter()
        .flat_map(|&i| task.test.image(i).iter().copied())
        .collect();
    write_f32(&out_dir.join(PANEL_IMAGES_FILE), &images)?;

    let (task_name, negative, positive) = match task.kind {
        TaskKind::Binary { negative, positive } => {
            ("binary", i64::from(negative), i64::from(positive))
        }
        TaskKind::TenClass => ("tenclass", -1, -1),
    };
    let mut run = Columns::new()
        .str("task", vec![task_name.to_string()])
        .i64("negative", vec![negative])
        .i64("positive", vec![positive])
        .str("optimizer", vec![params.optimizer.clone()])
        .f64("rho", vec![params.rho])
        .f64("init_scale", vec![params.init_scale])
        .i64("seed", vec![params.seed as i64])
        .f64("lr", vec![params.lr])
        .i64("steps", vec![params.steps as i64])
        .i64("batch", vec![params.batch as i64])
        .i64("n_train", vec![task.train.len() as i64])
        .i64("n_test", vec![task.test.len() as i64])
        .i64("panel", vec![panel as i64])
        .finish()?;
    write(&mut run, out_dir, "run")?;
    Ok(())
}
