//! The small CNN (conv–ReLU–pool ×2 → linear) on burn's flex CPU backend, with flat parameters.
//!
//! Parameters live in one flat `Vec<f64>` owned by [`Cnn`]; every evaluation builds burn leaf
//! tensors from it. This keeps the optimizers (GD, ℓ2-SAM, ℓ∞-SAM) plain arithmetic on a vector —
//! exactly the form in which the SAM step is defined and tested — while burn does the
//! convolutions and the backward pass. Copying ≈ 2·10⁴ numbers per step is negligible next to the
//! convolutions.

use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::module::{conv2d, linear, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{DType, Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Result, VisionError};

/// Floating-point precision of a forward/backward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// Single precision: training and Grad-CAM.
    F32,
    /// Double precision: finite-difference checks.
    F64,
}

impl Precision {
    fn dtype(self) -> DType {
        match self {
            Precision::F32 => DType::F32,
            Precision::F64 => DType::F64,
        }
    }
}

/// Architecture and initialisation of the CNN.
///
/// conv3×3(1→c₁, padding 1)–ReLU–maxpool2 → conv3×3(c₁→c₂, padding 1)–ReLU–maxpool2 →
/// linear(c₂·(side/4)² → outputs). Padding 1 keeps the border pixels (mostly weak background)
/// inside every receptive field, so Grad-CAM can attribute mass to them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CnnConfig {
    /// Output logits: 1 (binary, logistic loss) or the number of classes (cross-entropy).
    pub outputs: usize,
    /// s_init: every parameter of burn's default initialisation is multiplied by it.
    pub init_scale: f64,
    /// Seed of the initial weights.
    pub seed: u64,
    /// Channels of the two conv layers (16, 32 for MNIST).
    pub channels: [usize; 2],
    /// Image side length (28 for MNIST; must be divisible by 4).
    pub side: usize,
}

impl CnnConfig {
    /// The MNIST network: channels (16, 32), 28×28 inputs.
    pub fn mnist(outputs: usize, init_scale: f64, seed: u64) -> Self {
        Self {
            outputs,
            init_scale,
            seed,
            channels: [16, 32],
            side: 28,
        }
    }

    /// Shape of each parameter tensor, in flat order: w₁, b₁, w₂, b₂, w₃, b₃.
    ///
    /// w₃ is stored `[d_in, outputs]` (burn's row layout, `y = x w₃ + b₃`).
    pub fn shapes(&self) -> [Vec<usize>; 6] {
        let [c1, c2] = self.channels;
        let pooled = self.side / 4;
        [
            vec![c1, 1, 3, 3],
            vec![c1],
            vec![c2, c1, 3, 3],
            vec![c2],
            vec![c2 * pooled * pooled, self.outputs],
            vec![self.outputs],
        ]
    }

    /// Fan-in of each parameter tensor (a bias shares its layer's fan-in).
    fn fan_ins(&self) -> [usize; 6] {
        let [c1, c2] = self.channels;
        let pooled = self.side / 4;
        let d_in = c2 * pooled * pooled;
        [9, 9, c1 * 9, c1 * 9, d_in, d_in]
    }

    /// Total number of parameters.
    pub fn param_count(&self) -> usize {
        self.shapes()
            .iter()
            .map(|shape| shape.iter().product::<usize>())
            .sum()
    }

    fn validate(&self) -> Result<()> {
        let invalid = |reason: String| {
            Err(VisionError::InvalidConfig {
                what: "cnn",
                reason,
            })
        };
        if self.outputs == 0 || self.channels.contains(&0) {
            return invalid(format!(
                "outputs {} and channels {:?} must be positive",
                self.outputs, self.channels
            ));
        }
        if self.side == 0 || !self.side.is_multiple_of(4) {
            return invalid(format!(
                "side {} must be a positive multiple of 4",
                self.side
            ));
        }
        if !(self.init_scale.is_finite() && self.init_scale > 0.0) {
            return invalid(format!("init_scale {} must be positive", self.init_scale));
        }
        Ok(())
    }
}

/// A CNN: its configuration and its flat parameter vector (layout given by [`CnnConfig::shapes`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Cnn {
    /// Architecture and initialisation.
    pub config: CnnConfig,
    /// All parameters, tensor after tensor, each row-major.
    pub params: Vec<f64>,
}

impl Cnn {
    /// A freshly initialised network.
    ///
    /// The initialisation is burn's default for `Conv2d` and `Linear` — KaimingUniform with gain
    /// 1/√3, i.e. U(−1/√fan_in, 1/√fan_in) for weights and biases — drawn from a ChaCha8 stream
    /// seeded by `config.seed` and multiplied by `init_scale`. Drawing it here rather than with
    /// `device.seed` makes it independent of burn's process-global RNG, which concurrent tests
    /// (or pipeline tasks) would otherwise race on.
    pub fn new(config: CnnConfig) -> Result<Self> {
        config.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let mut params = Vec::with_capacity(config.param_count());
        for (shape, fan_in) in config.shapes().iter().zip(config.fan_ins()) {
            let bound = 1.0 / (fan_in as f64).sqrt();
            let count: usize = shape.iter().product();
            params.extend((0..count).map(|_| config.init_scale * rng.random_range(-bound..bound)));
        }
        Ok(Self { config, params })
    }

    /// Builds the six parameter tensors from `params` (tracked leaves when `track`).
    pub(crate) fn leaves(
        &self,
        params: &[f64],
        device: &Device,
        precision: Precision,
        track: bool,
    ) -> Leaves {
        let mut offset = 0;
        let mut take = |shape: &Vec<usize>| {
            let count: usize = shape.iter().product();
            let data = TensorData::new(params[offset..offset + count].to_vec(), shape.clone());
            offset += count;
            data
        };
        let shapes = self.config.shapes();
        let dtype = precision.dtype();
        Leaves {
            w1: leaf(take(&shapes[0]), device, dtype, track),
            b1: leaf(take(&shapes[1]), device, dtype, track),
            w2: leaf(take(&shapes[2]), device, dtype, track),
            b2: leaf(take(&shapes[3]), device, dtype, track),
            w3: leaf(take(&shapes[4]), device, dtype, track),
            b3: leaf(take(&shapes[5]), device, dtype, track),
        }
    }

    /// The last conv layer's activation A = ReLU(conv₂(pool(ReLU(conv₁ x)))), before its pooling:
    /// `[batch, c₂, side/2, side/2]`. This is the Grad-CAM layer.
    pub(crate) fn features(x: Tensor<4>, leaves: &Leaves) -> Tensor<4> {
        let same = ConvOptions {
            stride: [1, 1],
            padding: [(1, 1), (1, 1)],
            dilation: [1, 1],
            groups: 1,
        };
        let hidden = relu(conv2d(
            x,
            leaves.w1.clone(),
            Some(leaves.b1.clone()),
            same.clone(),
        ));
        let hidden = max_pool2d(hidden, pool2());
        relu(conv2d(
            hidden,
            leaves.w2.clone(),
            Some(leaves.b2.clone()),
            same,
        ))
    }

    /// The head on top of the Grad-CAM layer: maxpool2, flatten, linear → `[batch, outputs]`.
    pub(crate) fn head(features: Tensor<4>, leaves: &Leaves) -> Tensor<2> {
        let pooled: Tensor<2> = max_pool2d(features, pool2()).flatten(1, 3);
        linear(pooled, leaves.w3.clone(), Some(leaves.b3.clone()))
    }

    /// Input tensor `[n, 1, side, side]` from `n * side²` intensities.
    pub(crate) fn input(&self, images: &[f32], device: &Device, precision: Precision) -> Tensor<4> {
        let side = self.config.side;
        let n = images.len() / (side * side);
        Tensor::from_data(
            TensorData::new(images.to_vec(), [n, 1, side, side]),
            (device, precision.dtype()),
        )
    }

    /// Mean training loss of logits `[n, outputs]` for class targets: logistic loss
    /// log(1 + e^{−y f}) with y = ±1 when `outputs == 1`, softmax cross-entropy otherwise.
    pub(crate) fn loss(
        &self,
        logits: Tensor<2>,
        targets: &[usize],
        precision: Precision,
    ) -> Tensor<1> {
        let device = logits.device();
        let n = targets.len();
        let options = (&device, precision.dtype());
        if self.config.outputs == 1 {
            let signs: Vec<f64> = targets
                .iter()
                .map(|&t| if t == 1 { 1.0 } else { -1.0 })
                .collect();
            let y = Tensor::<2>::from_data(TensorData::new(signs, [n, 1]), options);
            // softplus(−m) = relu(−m) + log1p(e^{−|m|}) never overflows, whatever the margin m.
            let margin = logits.mul(y);
            let loss = relu(margin.clone().neg()).add(margin.abs().neg().exp().log1p());
            loss.mean()
        } else {
            let classes = self.config.outputs;
            let mut onehot = vec![0.0f64; n * classes];
            for (row, &t) in targets.iter().enumerate() {
                onehot[row * classes + t] = 1.0;
            }
            let onehot = Tensor::<2>::from_data(TensorData::new(onehot, [n, classes]), options);
            log_softmax(logits, 1)
                .mul(onehot)
                .sum()
                .neg()
                .div_scalar(n as f64)
        }
    }

    /// Mean loss and its gradient with respect to the flat parameters `params` (same layout as
    /// `self.params`) on the examples `images` / `targets`.
    pub fn loss_and_grad_at(
        &self,
        params: &[f64],
        images: &[f32],
        targets: &[usize],
        precision: Precision,
    ) -> (f64, Vec<f64>) {
        let device = Device::flex().autodiff();
        let leaves = self.leaves(params, &device, precision, true);
        let x = self.input(images, &device, precision);
        let logits = Self::head(Self::features(x, &leaves), &leaves);
        let loss = self.loss(logits, targets, precision);
        let grads = loss.backward();
        let loss_value = to_f64(loss.into_data())[0];
        let mut gradient = Vec::with_capacity(params.len());
        gradient.extend(grad_or_zero(
            leaves.w1.grad(&grads),
            leaves.w1.shape().num_elements(),
        ));
        gradient.extend(grad_or_zero(
            leaves.b1.grad(&grads),
            leaves.b1.shape().num_elements(),
        ));
        gradient.extend(grad_or_zero(
            leaves.w2.grad(&grads),
            leaves.w2.shape().num_elements(),
        ));
        gradient.extend(grad_or_zero(
            leaves.b2.grad(&grads),
            leaves.b2.shape().num_elements(),
        ));
        gradient.extend(grad_or_zero(
            leaves.w3.grad(&grads),
            leaves.w3.shape().num_elements(),
        ));
        gradient.extend(grad_or_zero(
            leaves.b3.grad(&grads),
            leaves.b3.shape().num_elements(),
        ));
        (loss_value, gradient)
    }

    /// Mean loss at `params` without gradients (for finite differences and evaluation).
    pub fn loss_at(
        &self,
        params: &[f64],
        images: &[f32],
        targets: &[usize],
        precision: Precision,
    ) -> f64 {
        let device = Device::flex();
        let leaves = self.leaves(params, &device, precision, false);
        let x = self.input(images, &device, precision);
        let logits = Self::head(Self::features(x, &leaves), &leaves);
        to_f64(self.loss(logits, targets, precision).into_data())[0]
    }

    /// Logits `[n * outputs]` (row-major) of the current parameters, in f32, on the fast kernels
    /// ([`crate::fast`]).
    pub fn logits(&self, images: &[f32]) -> Vec<f64> {
        crate::fast::Kernels::new(self.config).logits(&self.params, images)
    }

    /// Logits on burn (the reference forward pass), f32, in chunks of 1000.
    pub fn logits_burn(&self, images: &[f32]) -> Vec<f64> {
        let device = Device::flex();
        let leaves = self.leaves(&self.params, &device, Precision::F32, false);
        let per_image = self.config.side * self.config.side;
        let mut out = Vec::new();
        for chunk in images.chunks(1000 * per_image) {
            let x = self.input(chunk, &device, Precision::F32);
            out.extend(to_f64(
                Self::head(Self::features(x, &leaves), &leaves).into_data(),
            ));
        }
        out
    }

    /// Mean loss and accuracy of the current parameters on `images` / `targets` (chunked, f32).
    ///
    /// Binary prediction is class 1 iff the logit is > 0; ten-class prediction is the arg-max.
    pub fn evaluate(&self, images: &[f32], targets: &[usize]) -> Evaluation {
        Evaluation::of_logits(&self.logits(images), self.config.outputs, targets)
    }
}

impl Evaluation {
    /// Mean loss and accuracy of `logits` (`[n · outputs]`, row-major) for `targets`, as
    /// [`Cnn::evaluate`] computes them from its logits.
    pub fn of_logits(logits: &[f64], outputs: usize, targets: &[usize]) -> Self {
        let mut loss = 0.0;
        let mut correct = 0usize;
        for (row, &target) in logits.chunks(outputs).zip(targets) {
            if outputs == 1 {
                let y = if target == 1 { 1.0 } else { -1.0 };
                let margin = y * row[0];
                loss += (-margin).max(0.0) + (-margin.abs()).exp().ln_1p();
                correct += usize::from((row[0] > 0.0) == (target == 1));
            } else {
                let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let log_sum = max + row.iter().map(|z| (z - max).exp()).sum::<f64>().ln();
                loss += log_sum - row[target];
                let argmax = row
                    .iter()
                    .enumerate()
                    .fold((0, f64::NEG_INFINITY), |best, (k, &z)| {
                        if z > best.1 { (k, z) } else { best }
                    })
                    .0;
                correct += usize::from(argmax == target);
            }
        }
        let n = targets.len().max(1) as f64;
        Evaluation {
            loss: loss / n,
            accuracy: correct as f64 / n,
        }
    }
}

/// Mean loss and accuracy on a set of examples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// Mean loss (logistic or cross-entropy).
    pub loss: f64,
    /// Fraction classified correctly.
    pub accuracy: f64,
}

/// The six parameter tensors of one evaluation.
pub(crate) struct Leaves {
    pub(crate) w1: Tensor<4>,
    pub(crate) b1: Tensor<1>,
    pub(crate) w2: Tensor<4>,
    pub(crate) b2: Tensor<1>,
    pub(crate) w3: Tensor<2>,
    pub(crate) b3: Tensor<1>,
}

/// A parameter tensor on `device`; a tracked leaf (its gradient is retained) when `track`.
fn leaf<const D: usize>(data: TensorData, device: &Device, dtype: DType, track: bool) -> Tensor<D> {
    let tensor = Tensor::from_data(data, (device, dtype));
    if track { tensor.require_grad() } else { tensor }
}

fn pool2() -> MaxPoolOptions<2> {
    MaxPoolOptions {
        kernel_size: [2, 2],
        stride: [2, 2],
        padding: [(0, 0), (0, 0)],
        dilation: [1, 1],
        ceil_mode: false,
    }
}

/// Tensor data of any float dtype as `f64`.
pub(crate) fn to_f64(data: TensorData) -> Vec<f64> {
    data.try_into_vec_as::<f64>()
        .expect("flex float tensors convert to f64")
}

fn grad_or_zero<const D: usize>(grad: Option<Tensor<D>>, count: usize) -> Vec<f64> {
    // A parameter the loss does not reach has no gradient entry; its derivative is zero.
    grad.map_or_else(|| vec![0.0; count], |g| to_f64(g.into_data()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tiny network (8×8 inputs, 2 and 3 channels) and three random images.
    pub(crate) fn tiny(outputs: usize) -> (Cnn, Vec<f32>, Vec<usize>) {
        let config = CnnConfig {
            outputs,
            init_scale: 1.0,
            seed: 11,
            channels: [2, 3],
            side: 8,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        // No exact zeros: on an all-zero patch every conv output equals ReLU(bias), the max-pool
        // windows there hold exact ties, and at a tie the max is not differentiable (a central
        // difference sees half the subgradient burn routes to one winner).
        let images = (0..3 * 64).map(|_| rng.random_range(0.05..1.0)).collect();
        let targets = if outputs == 1 {
            vec![1, 0, 1]
        } else {
            vec![2, 0, 1]
        };
        (Cnn::new(config).unwrap(), images, targets)
    }

    /// Central finite differences of `f` at `x` with step `h`.
    pub(crate) fn central_differences(f: impl Fn(&[f64]) -> f64, x: &[f64], h: f64) -> Vec<f64> {
        let mut probe = x.to_vec();
        (0..x.len())
            .map(|j| {
                probe[j] = x[j] + h;
                let up = f(&probe);
                probe[j] = x[j] - h;
                let down = f(&probe);
                probe[j] = x[j];
                (up - down) / (2.0 * h)
            })
            .collect()
    }

    /// Finite-difference tolerance in f64 with h = 1e-6: truncation h²|f'''|/6 ≈ 1e-13 and
    /// rounding ε_mach|f|/h ≈ 1e-10, so 1e-7 relative leaves three orders of margin while still
    /// catching any wrong term (which would be O(|gradient|)). ReLU and max-pool kinks are not
    /// crossed: with random inputs no pre-activation lies within 1e-6 of zero (the seeds are fixed,
    /// so this holds deterministically).
    pub(crate) fn assert_close(actual: &[f64], expected: &[f64], tolerance: f64) {
        assert_eq!(actual.len(), expected.len());
        for (j, (a, e)) in actual.iter().zip(expected).enumerate() {
            assert!(
                (a - e).abs() <= tolerance * (1.0 + e.abs()),
                "component {j}: {a} vs {e}"
            );
        }
    }

    #[test]
    fn init_is_seeded_scaled_and_within_burns_default_bounds() {
        let a = Cnn::new(CnnConfig::mnist(1, 1.0, 7)).unwrap();
        let b = Cnn::new(CnnConfig::mnist(1, 1.0, 7)).unwrap();
        let c = Cnn::new(CnnConfig::mnist(1, 1.0, 8)).unwrap();
        let doubled = Cnn::new(CnnConfig::mnist(1, 2.0, 7)).unwrap();
        assert_eq!(a.params, b.params);
        assert_ne!(a.params, c.params);
        // 16·9 + 16 + 32·16·9 + 32 + 1568·1 + 1.
        assert_eq!(a.params.len(), 144 + 16 + 4608 + 32 + 1568 + 1);
        for (x, y) in a.params.iter().zip(&doubled.params) {
            assert_eq!(2.0 * x, *y);
        }
        // conv1 weights are U(−1/3, 1/3) (fan-in 9); the linear layer's are U(−1/√1568, 1/√1568).
        assert!(a.params[..144].iter().all(|w| w.abs() < 1.0 / 3.0));
        assert!(a.params[..144].iter().any(|w| w.abs() > 0.25));
        let linear = &a.params[144 + 16 + 4608 + 32..];
        assert!(linear.iter().all(|w| w.abs() < 1.0 / 1568f64.sqrt()));
        assert!(Cnn::new(CnnConfig::mnist(1, 0.0, 7)).is_err());
    }

    #[test]
    fn parameter_gradients_match_finite_differences() {
        for outputs in [1, 3] {
            let (cnn, images, targets) = tiny(outputs);
            let (loss, grad) = cnn.loss_and_grad_at(&cnn.params, &images, &targets, Precision::F64);
            let fd = central_differences(
                |p| cnn.loss_at(p, &images, &targets, Precision::F64),
                &cnn.params,
                1e-6,
            );
            assert_close(&grad, &fd, 1e-7);
            assert!(
                grad.iter().any(|g| g.abs() > 1e-3),
                "gradient is not trivially zero"
            );
            // The loss itself against the independent CPU formula in `evaluate` (f32 forward there,
            // so agreement is to f32 rounding of O(1) logits: 1e-5).
            let cpu = cnn.evaluate(&images, &targets);
            assert!((cpu.loss - loss).abs() < 1e-5, "{} vs {loss}", cpu.loss);
        }
    }

    #[test]
    fn single_precision_gradient_agrees_with_double() {
        let (cnn, images, targets) = tiny(3);
        let (_, g64) = cnn.loss_and_grad_at(&cnn.params, &images, &targets, Precision::F64);
        let (_, g32) = cnn.loss_and_grad_at(&cnn.params, &images, &targets, Precision::F32);
        // f32 carries ~7 digits; sums over ≤ 64 terms lose at most two more.
        assert_close(&g32, &g64, 1e-4);
    }
}
