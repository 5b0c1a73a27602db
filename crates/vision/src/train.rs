//! Full-batch or mini-batch GD, ℓ2-SAM and ℓ∞-SAM on the CNN's flat parameters, with checkpoints.

use std::time::Instant;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::cnn::{Cnn, CnnConfig, Evaluation};
use crate::error::{Result, VisionError};
use crate::fast::Kernels;
use crate::gradcam::{bilinear_upsample, gradcam};
use crate::task::{Examples, Task};
use crate::weak::{ShareSummary, WEAK_THRESHOLD, share_summary, weak_share};

/// The update rule. Every SAM variant follows Foret et al.: θ̂ = θ + ε(θ), θ ← θ − η ∇L(θ̂).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    /// θ ← θ − η ∇L(θ).
    Gd,
    /// ε = ρ g/‖g‖₂, the norm taken over ALL parameters jointly; ε = 0 when g = 0.
    SamL2 {
        /// Radius ρ.
        rho: f64,
    },
    /// ε = ρ sign(g) entrywise, with sign(0) = 0.
    SamLinf {
        /// Radius ρ.
        rho: f64,
    },
}

impl Optimizer {
    /// Gradient evaluations per step: 1 for GD, 2 for SAM.
    pub fn gradients_per_step(self) -> usize {
        match self {
            Optimizer::Gd => 1,
            Optimizer::SamL2 { .. } | Optimizer::SamLinf { .. } => 2,
        }
    }

    /// Short name for tables: `gd`, `sam-l2`, `sam-linf`.
    pub fn name(self) -> &'static str {
        match self {
            Optimizer::Gd => "gd",
            Optimizer::SamL2 { .. } => "sam-l2",
            Optimizer::SamLinf { .. } => "sam-linf",
        }
    }
}

/// sign with sign(0) = 0 (`f64::signum(0.0)` is 1, which would perturb parameters with no gradient).
pub fn sign0(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// The SAM perturbation ε for gradient `grad`; `None` for GD.
pub fn perturbation(optimizer: Optimizer, grad: &[f64]) -> Option<Vec<f64>> {
    match optimizer {
        Optimizer::Gd => None,
        Optimizer::SamL2 { rho } => {
            let norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
            Some(if norm > 0.0 {
                grad.iter().map(|g| rho * g / norm).collect()
            } else {
                vec![0.0; grad.len()]
            })
        }
        Optimizer::SamLinf { rho } => Some(grad.iter().map(|&g| rho * sign0(g)).collect()),
    }
}

/// One optimizer step on `params` with learning rate `lr`; `loss_and_grad(θ)` returns L(θ), ∇L(θ).
///
/// Returns L at the parameters before the step.
pub fn step<F>(optimizer: Optimizer, lr: f64, params: &mut [f64], mut loss_and_grad: F) -> f64
where
    F: FnMut(&[f64]) -> (f64, Vec<f64>),
{
    let (loss, grad) = loss_and_grad(params);
    let descent = match perturbation(optimizer, &grad) {
        None => grad,
        Some(epsilon) => {
            let perturbed: Vec<f64> = params.iter().zip(&epsilon).map(|(p, e)| p + e).collect();
            loss_and_grad(&perturbed).1
        }
    };
    for (p, d) in params.iter_mut().zip(&descent) {
        *p -= lr * d;
    }
    loss
}

/// [`step`] in single precision on caller-owned buffers, the form [`train`] uses with the fast
/// kernels: `loss_and_grad(θ, g)` writes ∇L(θ) into `g` and returns L(θ).
///
/// The SAM conventions are those of [`perturbation`]: the ℓ2 norm is taken jointly over all
/// parameters (accumulated in f64), ε = 0 when g = 0, and sign(0) = 0 for ℓ∞. ε and the update are
/// formed in f64 and rounded once to f32. Returns L at the parameters before the step.
pub fn step_f32<F>(
    optimizer: Optimizer,
    lr: f64,
    params: &mut [f32],
    grad: &mut [f32],
    perturbed: &mut [f32],
    mut loss_and_grad: F,
) -> f64
where
    F: FnMut(&[f32], &mut [f32]) -> f64,
{
    let loss = loss_and_grad(params, grad);
    let scale = match optimizer {
        Optimizer::Gd => None,
        Optimizer::SamL2 { rho } => {
            let norm = grad
                .iter()
                .map(|&g| f64::from(g).powi(2))
                .sum::<f64>()
                .sqrt();
            Some(if norm > 0.0 { rho / norm } else { 0.0 })
        }
        Optimizer::SamLinf { .. } => Some(0.0),
    };
    if let Some(scale) = scale {
        for ((q, &p), &g) in perturbed.iter_mut().zip(params.iter()).zip(grad.iter()) {
            let epsilon = match optimizer {
                Optimizer::SamLinf { rho } => rho * sign0(f64::from(g)),
                _ => scale * f64::from(g),
            };
            *q = (f64::from(p) + epsilon) as f32;
        }
        loss_and_grad(perturbed, grad);
    }
    for (p, &g) in params.iter_mut().zip(grad.iter()) {
        *p = (f64::from(*p) - lr * f64::from(g)) as f32;
    }
    loss
}

/// A training run.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Update rule.
    pub optimizer: Optimizer,
    /// Learning rate η.
    pub lr: f64,
    /// Number of steps.
    pub steps: usize,
    /// Mini-batch size (batches drawn without replacement, reshuffled every epoch); `None` = full batch.
    pub batch_size: Option<usize>,
    /// Steps after which to log (0 = at initialisation); each ≤ `steps`.
    pub checkpoints: Vec<usize>,
    /// Seed of the mini-batch order.
    pub seed: u64,
    /// Grad-CAM panel: this many test examples per class (see [`Task::panel`]).
    pub panel_per_class: usize,
    /// Training loss and accuracy at checkpoints on the first `train_eval` training examples (the
    /// training subset is already in seeded random order); 0 = all of them.
    pub train_eval: usize,
}

/// What is logged after a checkpoint step.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Steps taken so far.
    pub step: usize,
    /// Mean loss on the training subset (its first [`TrainConfig::train_eval`] examples).
    pub train_loss: f64,
    /// Accuracy on the same training examples.
    pub train_acc: f64,
    /// Mean loss on the test subset.
    pub test_loss: f64,
    /// Accuracy on the test subset.
    pub test_acc: f64,
    /// Grad-CAM map of each panel image (28×28 row-major, in [0, 1]).
    pub gradcam: Vec<Vec<f32>>,
    /// Weak-pixel share of each panel map (`None` for a massless map).
    pub weak_shares: Vec<Option<f64>>,
    /// Mean of the defined `weak_shares` (`None` if none is defined).
    pub weak_share: Option<f64>,
    /// Weak shares of three saliency maps over the whole test subset.
    pub test_saliency: TestSaliency,
}

/// Weak-pixel shares of the saliency of every test image for its true class (fast kernels, f32),
/// a massless map counted as share 0 (see [`ShareSummary`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestSaliency {
    /// Grad-CAM at the last conv layer, bilinearly upsampled to the image.
    pub gradcam: ShareSummary,
    /// |∂score/∂x| (vanilla gradient saliency: no upsampling, defined on every pixel).
    pub gradient: ShareSummary,
    /// |x ⊙ ∂score/∂x| (gradient × input: zero wherever x = 0, i.e. on the background).
    pub gradient_x_input: ShareSummary,
    /// Mean over the test images of the fraction of weak pixels (a uniform map's share).
    pub chance: f64,
}

/// [`TestSaliency`] of the network `params` on `examples`.
pub fn test_saliency(kernels: &Kernels, params: &[f64], examples: &Examples) -> TestSaliency {
    test_saliency_and_evaluation(kernels, params, examples).0
}

/// [`TestSaliency`] of the network `params` on `examples`, and the loss and accuracy there from the
/// same forward passes: equal, bit for bit, to [`Cnn::evaluate`] at these parameters (its logits
/// are those of the same f32 kernels), without a second forward pass over the images.
pub fn test_saliency_and_evaluation(
    kernels: &Kernels,
    params: &[f64],
    examples: &Examples,
) -> (TestSaliency, Evaluation) {
    let side = kernels.side();
    let saliency = kernels.saliency::<f32>(params, &examples.images, &examples.targets);
    let logits: Vec<f64> = saliency
        .iter()
        .flat_map(|s| s.logits.iter().copied())
        .collect();
    let evaluation = Evaluation::of_logits(&logits, kernels.outputs(), &examples.targets);
    let mut cams = Vec::with_capacity(saliency.len());
    let mut gradients = Vec::with_capacity(saliency.len());
    let mut products = Vec::with_capacity(saliency.len());
    let mut chance = 0.0;
    for (i, s) in saliency.iter().enumerate() {
        let image = examples.image(i);
        cams.push(bilinear_upsample(
            &s.gradcam,
            side / 2,
            side / 2,
            side,
            side,
        ));
        gradients.push(
            s.input_gradient
                .iter()
                .map(|g| g.abs() as f32)
                .collect::<Vec<f32>>(),
        );
        products.push(
            s.input_gradient
                .iter()
                .zip(image)
                .map(|(g, &x)| (g * f64::from(x)).abs() as f32)
                .collect::<Vec<f32>>(),
        );
        chance += image.iter().filter(|&&x| x < WEAK_THRESHOLD).count() as f64 / image.len() as f64;
    }
    let summary = |maps: &[Vec<f32>]| {
        share_summary(
            maps.iter()
                .enumerate()
                .map(|(i, m)| (m.as_slice(), examples.image(i))),
            WEAK_THRESHOLD,
        )
    };
    let summaries = TestSaliency {
        gradcam: summary(&cams),
        gradient: summary(&gradients),
        gradient_x_input: summary(&products),
        chance: chance / saliency.len().max(1) as f64,
    };
    (summaries, evaluation)
}

/// The record of a training run.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainLog {
    /// Indices into `task.test` of the Grad-CAM panel.
    pub panel: Vec<usize>,
    /// Chance level of each panel image: the fraction of its pixels that are weak.
    pub panel_weak_pixels: Vec<f64>,
    /// One entry per requested checkpoint, in step order.
    pub checkpoints: Vec<Checkpoint>,
    /// The trained network.
    pub cnn: Cnn,
    /// Wall-clock seconds spent in optimizer steps (checkpoints excluded).
    pub train_seconds: f64,
    /// Training images processed per second (each SAM step counts its batch once).
    pub images_per_second: f64,
}

/// Trains a CNN built from `cnn_config` on `task` and logs the checkpoints.
pub fn train(task: &Task, cnn_config: CnnConfig, config: &TrainConfig) -> Result<TrainLog> {
    let invalid = |reason: String| {
        Err(VisionError::InvalidConfig {
            what: "training",
            reason,
        })
    };
    if cnn_config.outputs != task.kind.outputs() {
        return invalid(format!(
            "the network has {} outputs but the task needs {}",
            cnn_config.outputs,
            task.kind.outputs()
        ));
    }
    if !(config.lr.is_finite() && config.lr > 0.0) {
        return invalid(format!("learning rate {} must be positive", config.lr));
    }
    if let Some(&late) = config.checkpoints.iter().find(|&&c| c > config.steps) {
        return invalid(format!(
            "checkpoint {late} is after the last step {}",
            config.steps
        ));
    }
    if config.batch_size == Some(0) {
        return invalid("batch size must be positive".into());
    }
    let mut cnn = Cnn::new(cnn_config)?;
    // Training keeps the parameters in f32 between steps and runs the fast kernels.
    let kernels = Kernels::new(cnn_config);
    let mut params: Vec<f32> = cnn.params.iter().map(|&p| p as f32).collect();
    let mut grad = vec![0.0f32; params.len()];
    let mut perturbed = vec![0.0f32; params.len()];
    let panel = task.panel(config.panel_per_class);
    let panel_set = task.test.select(&panel);
    let panel_weak_pixels = (0..panel_set.len())
        .map(|i| {
            let image = panel_set.image(i);
            image.iter().filter(|&&x| x < WEAK_THRESHOLD).count() as f64 / image.len() as f64
        })
        .collect();
    let train_eval = match config.train_eval {
        0 => task.train.clone(),
        n => task
            .train
            .select(&(0..n.min(task.train.len())).collect::<Vec<_>>()),
    };
    let mut checkpoints_due = config.checkpoints.clone();
    checkpoints_due.sort_unstable();
    checkpoints_due.dedup();

    let n_train = task.train.len();
    let batch = config.batch_size.unwrap_or(n_train).min(n_train);
    let mut order: Vec<usize> = (0..n_train).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut cursor = n_train; // forces a shuffle before the first mini-batch
    let full_batch = batch == n_train;

    let mut checkpoints = Vec::with_capacity(checkpoints_due.len());
    let mut train_seconds = 0.0;
    let mut due = checkpoints_due.iter().peekable();
    for step_index in 0..=config.steps {
        if due.peek() == Some(&&step_index) {
            due.next();
            sync(&mut cnn, &params);
            checkpoints.push(checkpoint(
                &cnn,
                &kernels,
                task,
                &train_eval,
                &panel_set,
                step_index,
            ));
        }
        if step_index == config.steps {
            break;
        }
        let started = Instant::now();
        let selection = if full_batch {
            None
        } else {
            if cursor + batch > n_train {
                order.shuffle(&mut rng);
                cursor = 0;
            }
            cursor += batch;
            Some(task.train.select(&order[cursor - batch..cursor]))
        };
        let examples = selection.as_ref().unwrap_or(&task.train);
        step_f32(
            config.optimizer,
            config.lr,
            &mut params,
            &mut grad,
            &mut perturbed,
            |theta, g| kernels.loss_and_grad(theta, &examples.images, &examples.targets, g),
        );
        train_seconds += started.elapsed().as_secs_f64();
    }
    sync(&mut cnn, &params);
    let images = (config.steps * batch) as f64;
    Ok(TrainLog {
        panel,
        panel_weak_pixels,
        checkpoints,
        cnn,
        train_seconds,
        images_per_second: if train_seconds > 0.0 {
            images / train_seconds
        } else {
            0.0
        },
    })
}

/// Copies the f32 training parameters into the network (exactly: every f32 is an f64).
fn sync(cnn: &mut Cnn, params: &[f32]) {
    cnn.params
        .iter_mut()
        .zip(params)
        .for_each(|(p, &q)| *p = f64::from(q));
}

fn checkpoint(
    cnn: &Cnn,
    kernels: &Kernels,
    task: &Task,
    train_eval: &Examples,
    panel: &Examples,
    step: usize,
) -> Checkpoint {
    let train = cnn.evaluate(&train_eval.images, &train_eval.targets);
    // The test loss and accuracy come from the saliency pass's forward (the same logits).
    let (test_saliency, test) = test_saliency_and_evaluation(kernels, &cnn.params, &task.test);
    let maps = if panel.is_empty() {
        Vec::new()
    } else {
        gradcam(cnn, &panel.images, &panel.targets)
    };
    let weak_shares: Vec<Option<f64>> = maps
        .iter()
        .enumerate()
        .map(|(i, map)| weak_share(map, panel.image(i), WEAK_THRESHOLD).map(|s| s.weak))
        .collect();
    let defined: Vec<f64> = weak_shares.iter().flatten().copied().collect();
    Checkpoint {
        step,
        train_loss: train.loss,
        train_acc: train.accuracy,
        test_loss: test.loss,
        test_acc: test.accuracy,
        gradcam: maps,
        weak_shares,
        weak_share: (!defined.is_empty())
            .then(|| defined.iter().sum::<f64>() / defined.len() as f64),
        test_saliency,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cnn::Precision;
    use crate::cnn::tests::{assert_close, central_differences, tiny};

    #[test]
    fn sign0_and_perturbations_handle_zero_gradients() {
        assert_eq!(
            [sign0(0.0), sign0(-0.0), sign0(2.0), sign0(-3.0)],
            [0.0, 0.0, 1.0, -1.0]
        );
        let linf = perturbation(Optimizer::SamLinf { rho: 0.5 }, &[0.0, -2.0, 3.0]).unwrap();
        assert_eq!(linf, vec![0.0, -0.5, 0.5]);
        let l2 = perturbation(Optimizer::SamL2 { rho: 1.0 }, &[3.0, 0.0, -4.0]).unwrap();
        assert_eq!(l2, vec![0.6, 0.0, -0.8]);
        assert_eq!(
            perturbation(Optimizer::SamL2 { rho: 1.0 }, &[0.0; 3]),
            Some(vec![0.0; 3])
        );
        assert_eq!(perturbation(Optimizer::Gd, &[1.0]), None);
    }

    #[test]
    fn sam_steps_on_a_tiny_cnn_match_hand_computed_steps() {
        let (cnn, images, targets) = tiny(3);
        let theta = cnn.params.clone();
        let lr = 0.3;
        let rho = 0.02;
        let loss = |p: &[f64]| cnn.loss_at(p, &images, &targets, Precision::F64);
        let (_, g) = cnn.loss_and_grad_at(&theta, &images, &targets, Precision::F64);
        // The model's own gradient agrees with an independent one (tolerance: see `assert_close`).
        assert_close(&g, &central_differences(loss, &theta, 1e-6), 1e-7);
        let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
        let hats = [
            theta
                .iter()
                .zip(&g)
                .map(|(t, x)| t + rho * x / norm)
                .collect::<Vec<_>>(),
            theta
                .iter()
                .zip(&g)
                .map(|(t, x)| t + rho * x.signum() * f64::from(*x != 0.0))
                .collect(),
        ];
        for (optimizer, hat) in [Optimizer::SamL2 { rho }, Optimizer::SamLinf { rho }]
            .into_iter()
            .zip(hats)
        {
            let descent = central_differences(loss, &hat, 1e-6);
            let expected: Vec<f64> = theta
                .iter()
                .zip(&descent)
                .map(|(t, d)| t - lr * d)
                .collect();
            let mut params = theta.clone();
            let mut calls = 0;
            step(optimizer, lr, &mut params, |p| {
                calls += 1;
                cnn.loss_and_grad_at(p, &images, &targets, Precision::F64)
            });
            assert_eq!(calls, 2);
            // Parameters are O(0.3) and the step moves them by lr·|∇L| ≈ 0.1; FD error ≤ 1e-10.
            assert_close(&params, &expected, 1e-8);
            // The f32 training step on the fast kernels: the same step up to f32 rounding of the
            // O(0.3) parameters and of the gradients (≈ 1e-6 relative each), so 1e-5.
            let kernels = Kernels::new(cnn.config);
            let mut p32: Vec<f32> = theta.iter().map(|&t| t as f32).collect();
            let (mut g32, mut q32) = (vec![0.0f32; p32.len()], vec![0.0f32; p32.len()]);
            let mut calls = 0;
            step_f32(optimizer, lr, &mut p32, &mut g32, &mut q32, |p, g| {
                calls += 1;
                kernels.loss_and_grad(p, &images, &targets, g)
            });
            assert_eq!(calls, 2);
            let p32: Vec<f64> = p32.iter().map(|&p| f64::from(p)).collect();
            assert_close(&p32, &expected, 1e-5);
            // And the step differs from GD's (the perturbation matters at this ρ).
            let gd: Vec<f64> = theta.iter().zip(&g).map(|(t, x)| t - lr * x).collect();
            assert!(params.iter().zip(&gd).any(|(a, b)| (a - b).abs() > 1e-5));
        }
    }

    fn real_task() -> Task {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist");
        crate::mnist::Mnist::load(&dir)
            .unwrap()
            .binary_task(4, 9, Some(256), Some(200), 1)
            .unwrap()
    }

    #[test]
    fn training_on_real_digits_learns_and_is_deterministic() {
        let task = real_task();
        let config = TrainConfig {
            optimizer: Optimizer::SamL2 { rho: 0.05 },
            lr: 0.1,
            steps: 40,
            batch_size: Some(64),
            checkpoints: vec![0, 40],
            seed: 3,
            panel_per_class: 2,
            train_eval: 0,
        };
        let cnn = CnnConfig::mnist(1, 1.0, 2);
        let log = train(&task, cnn, &config).unwrap();
        let again = train(&task, cnn, &config).unwrap();
        assert_eq!(log.checkpoints, again.checkpoints);
        assert_eq!(log.cnn.params, again.cnn.params);
        let [first, last] = [&log.checkpoints[0], &log.checkpoints[1]];
        assert_eq!((first.step, last.step), (0, 40));
        assert!(
            last.train_loss < first.train_loss,
            "{} → {}",
            first.train_loss,
            last.train_loss
        );
        // 4 vs 9 is balanced (≈ 50 % chance); 40 SAM steps reach well above it.
        assert!(last.test_acc > 0.8, "test accuracy {}", last.test_acc);
        assert_eq!(log.panel.len(), 4);
        assert_eq!(last.gradcam.len(), 4);
        assert!(last.gradcam.iter().all(|m| m.len() == 784));
        let share = last.weak_share.unwrap();
        assert!((0.0..=1.0).contains(&share));
        assert!(log.panel_weak_pixels.iter().all(|&f| f > 0.5 && f < 1.0));
        // The whole-test-set statistics: every image counted.
        let all = last.test_saliency;
        for summary in [all.gradcam, all.gradient, all.gradient_x_input] {
            assert_eq!(summary.count, task.test.len());
            assert!((0.0..=1.0).contains(&summary.mean));
        }
        assert!(all.chance > 0.5 && all.chance < 1.0);
        // The test loss and accuracy, taken from the saliency pass's forward, are those of a
        // separate evaluation, bit for bit.
        let kernels = Kernels::new(log.cnn.config);
        let (_, from_saliency) =
            test_saliency_and_evaluation(&kernels, &log.cnn.params, &task.test);
        let evaluated = log.cnn.evaluate(&task.test.images, &task.test.targets);
        assert_eq!(from_saliency.loss.to_bits(), evaluated.loss.to_bits());
        assert_eq!(
            from_saliency.accuracy.to_bits(),
            evaluated.accuracy.to_bits()
        );
        assert_eq!(last.test_loss.to_bits(), evaluated.loss.to_bits());
        // The fast Grad-CAM, upsampled, gives the panel the weak shares of burn's Grad-CAM (f32
        // on both sides; the share is a ratio of sums of ≤ 784 terms, so 1e-4).
        let panel = task.test.select(&log.panel);
        let fast = Kernels::new(log.cnn.config).saliency::<f32>(
            &log.cnn.params,
            &panel.images,
            &panel.targets,
        );
        for (i, s) in fast.iter().enumerate() {
            let up = bilinear_upsample(&s.gradcam, 14, 14, 28, 28);
            let ours = weak_share(&up, panel.image(i), WEAK_THRESHOLD).map(|w| w.weak);
            match (ours, last.weak_shares[i]) {
                (Some(a), Some(b)) => assert!((a - b).abs() < 1e-4, "{a} vs {b}"),
                (a, b) => assert_eq!(a.is_some(), b.is_some()),
            }
        }
    }

    #[test]
    fn ten_class_training_on_real_digits_learns_with_true_class_saliency() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist");
        let task = crate::mnist::Mnist::load(&dir)
            .unwrap()
            .ten_class_task(Some(256), Some(200), 1)
            .unwrap();
        let config = TrainConfig {
            optimizer: Optimizer::SamL2 { rho: 0.05 },
            lr: 0.1,
            steps: 40,
            batch_size: Some(64),
            checkpoints: vec![0, 40],
            seed: 3,
            panel_per_class: 0,
            train_eval: 0,
        };
        let cnn = CnnConfig::mnist(10, 1.0, 2);
        let log = train(&task, cnn, &config).unwrap();
        assert_eq!(
            log.checkpoints,
            train(&task, cnn, &config).unwrap().checkpoints
        );
        let [first, last] = [&log.checkpoints[0], &log.checkpoints[1]];
        assert!(last.train_loss < first.train_loss);
        // Chance is 0.1; 40 steps of 64 reach far above it unless the cross-entropy gradient is
        // wrong, so 0.3 (three times chance) separates learning from not learning.
        assert!(last.test_acc > 0.3, "test accuracy {}", last.test_acc);
        let all = last.test_saliency;
        for summary in [all.gradcam, all.gradient, all.gradient_x_input] {
            assert_eq!(summary.count, task.test.len());
            assert!((0.0..=1.0).contains(&summary.mean));
        }
        // The saliency score is the true class's logit.
        let kernels = Kernels::new(log.cnn.config);
        let saliency =
            kernels.saliency::<f32>(&log.cnn.params, &task.test.images, &task.test.targets);
        for (s, &t) in saliency.iter().zip(&task.test.targets) {
            assert_eq!(s.logits.len(), 10);
            assert!((s.score - s.logits[t]).abs() <= 1e-6 * (1.0 + s.score.abs()));
        }
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let task = Task {
            kind: crate::task::TaskKind::TenClass,
            train: Default::default(),
            test: Default::default(),
        };
        let config = TrainConfig {
            optimizer: Optimizer::Gd,
            lr: 0.1,
            steps: 5,
            batch_size: None,
            checkpoints: vec![6],
            seed: 0,
            panel_per_class: 1,
            train_eval: 0,
        };
        assert!(train(&task, CnnConfig::mnist(1, 1.0, 0), &config).is_err());
        let err = train(&task, CnnConfig::mnist(10, 1.0, 0), &config).unwrap_err();
        assert!(err.to_string().contains("checkpoint 6"), "{err}");
    }
}
