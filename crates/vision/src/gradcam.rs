//! Grad-CAM at the last conv layer (after its ReLU, before its max-pool), upsampled and normalised.
//!
//! burn keeps gradients only for leaves, so the graph is split at the Grad-CAM layer: the
//! activation A is computed, detached into a new tracked leaf, the head (pool → linear) is run on
//! that leaf, and the leaf's gradient after `backward` is ∂score/∂A.

use burn::tensor::{Device, Tensor, TensorData};

use crate::cnn::{Cnn, Precision, to_f64};

/// Activation A of the Grad-CAM layer and ∂score/∂A for a batch of images.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureGradient {
    /// `[n, channels, height, width]`.
    pub shape: [usize; 4],
    /// A, row-major in `shape`.
    pub features: Vec<f64>,
    /// ∂score_i/∂A_i, row-major in `shape` (images are independent, so one backward of Σ_i score_i
    /// gives every image's own gradient).
    pub gradient: Vec<f64>,
    /// score_i for each image.
    pub scores: Vec<f64>,
}

/// Per-image score weights: score_i = Σ_k logit_ik · s_ik.
///
/// Ten-class: s_i is the one-hot of the true class (score = the true class's logit). Binary: s_i is
/// the label y_i = ±1 (score = the logit signed toward the true label, y_i f(x_i)).
fn score_weights(outputs: usize, targets: &[usize]) -> Vec<f64> {
    let mut weights = vec![0.0; targets.len() * outputs];
    for (row, &target) in targets.iter().enumerate() {
        if outputs == 1 {
            weights[row] = if target == 1 { 1.0 } else { -1.0 };
        } else {
            weights[row * outputs + target] = 1.0;
        }
    }
    weights
}

/// A and ∂score/∂A at parameters `params` for `images` and their true classes `targets`.
pub fn feature_gradient(
    cnn: &Cnn,
    params: &[f64],
    images: &[f32],
    targets: &[usize],
    precision: Precision,
) -> FeatureGradient {
    let device = Device::flex().autodiff();
    // The parameters are constants here: only the detached feature leaf is tracked.
    let leaves = cnn.leaves(params, &device, precision, false);
    let x = cnn.input(images, &device, precision);
    let features = Cnn::features(x, &leaves).detach().require_grad();
    let logits = Cnn::head(features.clone(), &leaves);
    let n = targets.len();
    let outputs = cnn.config.outputs;
    let weights = Tensor::<2>::from_data(
        TensorData::new(score_weights(outputs, targets), [n, outputs]),
        (&device, logits.dtype()),
    );
    let scores = logits.mul(weights).sum_dim(1);
    let grads = scores.clone().sum().backward();
    let dims = features.dims();
    let gradient = features.grad(&grads).map_or_else(
        || vec![0.0; dims.iter().product()],
        |g| to_f64(g.into_data()),
    );
    FeatureGradient {
        shape: dims,
        features: to_f64(features.into_data()),
        gradient,
        scores: to_f64(scores.into_data()),
    }
}

/// score_i of the head applied to given features A (shape `[n, c, h, w]`); the function whose
/// gradient [`feature_gradient`] returns, exposed for finite-difference checks.
pub fn head_scores(
    cnn: &Cnn,
    params: &[f64],
    features: &[f64],
    shape: [usize; 4],
    targets: &[usize],
    precision: Precision,
) -> Vec<f64> {
    let device = Device::flex();
    let leaves = cnn.leaves(params, &device, precision, false);
    let dtype = leaves.w1.dtype();
    let features =
        Tensor::<4>::from_data(TensorData::new(features.to_vec(), shape), (&device, dtype));
    let logits = Cnn::head(features, &leaves);
    let n = targets.len();
    let outputs = cnn.config.outputs;
    let weights = Tensor::<2>::from_data(
        TensorData::new(score_weights(outputs, targets), [n, outputs]),
        (&device, dtype),
    );
    to_f64(logits.mul(weights).sum_dim(1).into_data())
}

/// The raw Grad-CAM map of each image at the feature resolution `h × w`:
/// ReLU(Σ_k w_k A_k) with w_k = spatial mean of ∂score/∂A_k.
pub fn raw_maps(fg: &FeatureGradient) -> Vec<Vec<f64>> {
    let [n, channels, h, w] = fg.shape;
    let plane = h * w;
    (0..n)
        .map(|i| {
            let mut map = vec![0.0; plane];
            for k in 0..channels {
                let start = (i * channels + k) * plane;
                let a = &fg.features[start..start + plane];
                let g = &fg.gradient[start..start + plane];
                let weight = g.iter().sum::<f64>() / plane as f64;
                for (m, &activation) in map.iter_mut().zip(a) {
                    *m += weight * activation;
                }
            }
            map.iter_mut().for_each(|m| *m = m.max(0.0));
            map
        })
        .collect()
}

/// Grad-CAM maps of the network's current parameters for `images` (true classes `targets`):
/// raw map, bilinearly upsampled to the image size, divided by its maximum (so 0 stays 0 and the
/// peak is 1; an all-zero map stays all zero). Each map is `side²` values, row-major.
pub fn gradcam(cnn: &Cnn, images: &[f32], targets: &[usize]) -> Vec<Vec<f32>> {
    let fg = feature_gradient(cnn, &cnn.params, images, targets, Precision::F32);
    let [_, _, h, w] = fg.shape;
    let side = cnn.config.side;
    raw_maps(&fg)
        .iter()
        .map(|map| normalise(&bilinear_upsample(map, h, w, side, side)))
        .collect()
}

/// Bilinear resize of an `h × w` map to `out_h × out_w` with half-pixel centres
/// (PyTorch `align_corners = false`, OpenCV `INTER_LINEAR`): output pixel i samples the input at
/// (i + ½)·h/out_h − ½, clamped to the border.
pub fn bilinear_upsample(map: &[f64], h: usize, w: usize, out_h: usize, out_w: usize) -> Vec<f32> {
    let axis = |i: usize, inp: usize, out: usize| {
        let x = ((i as f64 + 0.5) * inp as f64 / out as f64 - 0.5).clamp(0.0, (inp - 1) as f64);
        let lo = x.floor() as usize;
        let hi = (lo + 1).min(inp - 1);
        (lo, hi, x - lo as f64)
    };
    let mut out = Vec::with_capacity(out_h * out_w);
    for r in 0..out_h {
        let (r0, r1, fr) = axis(r, h, out_h);
        for c in 0..out_w {
            let (c0, c1, fc) = axis(c, w, out_w);
            let top = map[r0 * w + c0] * (1.0 - fc) + map[r0 * w + c1] * fc;
            let bottom = map[r1 * w + c0] * (1.0 - fc) + map[r1 * w + c1] * fc;
            out.push((top * (1.0 - fr) + bottom * fr) as f32);
        }
    }
    out
}

/// Divides a non-negative map by its maximum; an all-zero map is returned unchanged.
pub fn normalise(map: &[f32]) -> Vec<f32> {
    let max = map.iter().cloned().fold(0.0f32, f32::max);
    if max > 0.0 {
        map.iter().map(|m| m / max).collect()
    } else {
        map.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_two_by_two_to_four_by_four_matches_hand_computation() {
        // Source coordinates for out 4 from in 2: (i + ½)/2 − ½ = −¼ → 0, ¼, ¾, 1¼ → 1.
        // So each axis interpolates with fractions 0, ¼, ¾, 1 between the two samples.
        let map = [0.0, 1.0, 2.0, 3.0];
        let up = bilinear_upsample(&map, 2, 2, 4, 4);
        let axis = [0.0, 0.25, 0.75, 1.0];
        for r in 0..4 {
            for c in 0..4 {
                // f(row, col) = 2·row + col is bilinear, so the interpolant is exact.
                let expected = 2.0 * axis[r] + axis[c];
                assert!(
                    (up[r * 4 + c] - expected).abs() < 1e-6,
                    "{r},{c}: {}",
                    up[r * 4 + c]
                );
            }
        }
    }

    #[test]
    fn bilinear_preserves_constants_and_identity() {
        let constant = vec![0.7; 14 * 14];
        assert!(
            bilinear_upsample(&constant, 14, 14, 28, 28)
                .iter()
                .all(|v| (v - 0.7).abs() < 1e-6)
        );
        let ramp: Vec<f64> = (0..9).map(f64::from).collect();
        let same = bilinear_upsample(&ramp, 3, 3, 3, 3);
        assert_eq!(same, (0..9).map(|v| v as f32).collect::<Vec<_>>());
    }

    #[test]
    fn normalise_scales_peak_to_one_and_keeps_zero_maps() {
        assert_eq!(normalise(&[0.0, 2.0, 1.0]), vec![0.0, 1.0, 0.5]);
        assert_eq!(normalise(&[0.0, 0.0]), vec![0.0, 0.0]);
    }

    #[test]
    fn raw_map_is_relu_of_gradient_weighted_channels() {
        // Two channels on a 1×2 plane: weights are mean gradients 1.0 and −0.5.
        let fg = FeatureGradient {
            shape: [1, 2, 1, 2],
            features: vec![1.0, 3.0, 4.0, 2.0],
            gradient: vec![0.5, 1.5, -1.0, 0.0],
            scores: vec![0.0],
        };
        // Pixel 0: 1·1 − 0.5·4 = −1 → 0; pixel 1: 1·3 − 0.5·2 = 2.
        assert_eq!(raw_maps(&fg), vec![vec![0.0, 2.0]]);
    }
}

#[cfg(test)]
mod fd_tests {
    use super::*;
    use crate::cnn::tests::{assert_close, tiny};

    #[test]
    fn feature_gradient_matches_finite_differences_of_the_head() {
        for outputs in [1, 3] {
            let (cnn, images, targets) = tiny(outputs);
            let fg = feature_gradient(&cnn, &cnn.params, &images, &targets, Precision::F64);
            assert_eq!(fg.shape, [3, 3, 4, 4]);
            let total = |a: &[f64]| {
                head_scores(&cnn, &cnn.params, a, fg.shape, &targets, Precision::F64)
                    .iter()
                    .sum::<f64>()
            };
            // A is post-ReLU, so its 2×2 max-pool windows often hold exact ties (several zeros).
            // At a tie the max is not differentiable coordinate-wise, but it is along the direction
            // that moves every tied entry together; burn routes that derivative to one winner.
            // So, per window, group equal entries and compare the directional central difference
            // along each group's indicator with the sum of the autograd gradient over the group.
            // Each image's score depends only on its own features, so the summed score's gradient
            // is every image's own gradient. Tolerance: see `assert_close`.
            let [n, channels, h, w] = fg.shape;
            let step = 1e-6;
            let (mut autograd, mut finite) = (Vec::new(), Vec::new());
            for plane in 0..n * channels {
                for (wr, wc) in [(0, 0), (0, 2), (2, 0), (2, 2)] {
                    let window: Vec<usize> = [(0, 0), (0, 1), (1, 0), (1, 1)]
                        .iter()
                        .map(|(r, c)| plane * h * w + (wr + r) * w + wc + c)
                        .collect();
                    let mut grouped = [false; 4];
                    for first in 0..4 {
                        if grouped[first] {
                            continue;
                        }
                        let group: Vec<usize> = (first..4)
                            .filter(|&k| fg.features[window[k]] == fg.features[window[first]])
                            .inspect(|&k| grouped[k] = true)
                            .map(|k| window[k])
                            .collect();
                        let shifted = |delta: f64| {
                            let mut a = fg.features.clone();
                            group.iter().for_each(|&j| a[j] += delta);
                            total(&a)
                        };
                        finite.push((shifted(step) - shifted(-step)) / (2.0 * step));
                        autograd.push(group.iter().map(|&j| fg.gradient[j]).sum::<f64>());
                    }
                }
            }
            assert_close(&autograd, &finite, 1e-7);
            assert!(autograd.iter().any(|g| g.abs() > 1e-3));
            let direct = head_scores(
                &cnn,
                &cnn.params,
                &fg.features,
                fg.shape,
                &targets,
                Precision::F64,
            );
            assert_close(&fg.scores, &direct, 1e-12);
        }
    }

    #[test]
    fn binary_score_is_the_logit_signed_toward_the_label() {
        let (cnn, images, targets) = tiny(1);
        let logits = cnn.logits(&images);
        let fg = feature_gradient(&cnn, &cnn.params, &images, &targets, Precision::F32);
        for ((score, logit), target) in fg.scores.iter().zip(&logits).zip(&targets) {
            let signed = if *target == 1 { *logit } else { -logit };
            assert!((score - signed).abs() < 1e-6);
        }
        let maps = gradcam(&cnn, &images, &targets);
        assert_eq!(maps.len(), 3);
        for map in maps {
            assert_eq!(map.len(), 64);
            let max = map.iter().cloned().fold(0.0, f32::max);
            assert!(map.iter().all(|&m| m >= 0.0) && (max == 1.0 || max == 0.0));
        }
    }
}
