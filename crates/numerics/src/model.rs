//! The L-layer linear diagonal network β = w⁽¹⁾ ⊙ … ⊙ w⁽ᴸ⁾, the mean logistic loss and its gradients.
//!
//! Weights are stored layer-major: `weights[l * d + j]` is w⁽ˡ⁺¹⁾_j. Per-layer gradients are
//! ∇_{w⁽ˡ⁾} L = g_β ⊙ Π_{k≠l} w⁽ᵏ⁾ with g_β = (1/n) Σᵢ ℓ′(mᵢ) yᵢ xᵢ (spec B1), computed with
//! prefix/suffix products so that exactly-zero weights need no division.

use crate::dataset::Dataset;
use crate::error::NumericsError;

/// ln(1 + eᵘ) without overflow.
#[inline]
pub fn log1p_exp(u: f64) -> f64 {
    u.max(0.0) + (-u.abs()).exp().ln_1p()
}

/// The logistic loss ℓ(u) = ln(1 + e⁻ᵘ).
#[inline]
pub fn logistic_loss(u: f64) -> f64 {
    log1p_exp(-u)
}

/// −ℓ′(u) = 1/(1 + eᵘ) = exp(−logaddexp(0, u)), computed without overflow and never through tanh
/// (a tanh form rounds to 0 for u ≳ 38, spec B2).
///
/// Evaluated with a single exponential of a non-positive number: e⁻ᵘ/(1 + e⁻ᵘ) for u ≥ 0 and
/// 1/(1 + eᵘ) for u < 0 — algebraically exp(−logaddexp(0, u)), with no overflow on either side.
#[inline]
pub fn neg_dloss(u: f64) -> f64 {
    if u >= 0.0 {
        let e = (-u).exp();
        e / (1.0 + e)
    } else {
        1.0 / (1.0 + u.exp())
    }
}

/// s(m)/s(r) with s = −ℓ′, for m ≥ r (so the ratio lies in (0, 1]); one exponential, no logarithm.
///
/// For r ≥ 0, s(u) = e⁻ᵘ/(1 + e⁻ᵘ), so the ratio is a(1 + b)/(1 + ab) with a = e^{r−m} ≤ 1 and
/// b = e⁻ʳ ≤ 1 (`exp_ref` = b). For r < 0 the ratio is (1 + eʳ)/(1 + eᵐ) (`exp_ref` = eʳ); eᵐ may
/// overflow to ∞, which correctly gives 0. These are the log-domain weights of spec B2
/// (qᵢ ∝ exp(−logaddexp(0, mᵢ) − max)) without evaluating a logarithm per sample.
#[inline]
fn weight_ratio(m: f64, r: f64, exp_ref: f64) -> f64 {
    if r >= 0.0 {
        let a = (r - m).exp();
        a * (1.0 + exp_ref) / (1.0 + a * exp_ref)
    } else {
        (1.0 + exp_ref) / (1.0 + m.exp())
    }
}

#[inline]
fn exp_ref_of(r: f64) -> f64 {
    if r >= 0.0 { (-r).exp() } else { r.exp() }
}

/// The result of one pass over the data at some β: the β-gradient *direction* and the scale that turns
/// it into the true gradient.
///
/// With the reference margin r = minᵢ mᵢ and qᵢ = s(mᵢ)/s(r) ∈ (0, 1] (s = −ℓ′), the pass leaves
/// `acc = Σᵢ qᵢ yᵢ xᵢ` in the caller's buffer, so g_β = −(s(r)/n)·acc, the mean sample weight is
/// meanᵢ s(mᵢ) = s(r)·`weight_sum`/n, and the loss-normalised gradient g_β / meanᵢ s(mᵢ) is
/// −acc/`weight_sum` — never a 0/0, whatever the margins.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplePass {
    /// The reference (smallest) margin r.
    pub ref_margin: f64,
    /// Σᵢ qᵢ ∈ [1, n].
    pub weight_sum: f64,
}

impl SamplePass {
    /// meanᵢ −ℓ′(mᵢ).
    #[inline]
    pub fn mean_weight(&self, n: usize) -> f64 {
        neg_dloss(self.ref_margin) * self.weight_sum / n as f64
    }
}

/// One fused pass over the rows: margins mᵢ = yᵢ⟨xᵢ, β⟩ and acc = Σ qᵢ yᵢ xᵢ, rescaling the accumulator
/// online whenever a smaller margin appears (the "online softmax" trick), so X is read once.
pub fn sample_pass(data: &Dataset, beta: &[f64], acc: &mut [f64]) -> SamplePass {
    let d = data.d();
    let x = data.x();
    let y = data.y();
    if data.n() == 1 {
        let row = &x[..d];
        let label = y[0];
        let mut margin = 0.0;
        for j in 0..d {
            margin += row[j] * beta[j];
            acc[j] = label * row[j];
        }
        return SamplePass {
            ref_margin: label * margin,
            weight_sum: 1.0,
        };
    }
    acc.fill(0.0);
    let mut ref_margin = f64::INFINITY;
    let mut exp_ref = 0.0;
    let mut weight_sum = 0.0;
    for (row, &label) in x.chunks_exact(d).zip(y) {
        let margin = label * dot(row, beta);
        if margin < ref_margin {
            if ref_margin.is_finite() {
                let rescale = weight_ratio(ref_margin, margin, exp_ref_of(margin));
                acc.iter_mut().for_each(|a| *a *= rescale);
                weight_sum *= rescale;
            }
            ref_margin = margin;
            exp_ref = exp_ref_of(margin);
        }
        let weight = weight_ratio(margin, ref_margin, exp_ref);
        let signed = weight * label;
        for (a, &xv) in acc.iter_mut().zip(row) {
            *a += signed * xv;
        }
        weight_sum += weight;
    }
    SamplePass {
        ref_margin,
        weight_sum,
    }
}

/// A dot product with four independent accumulators so that it vectorises.
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let chunks_a = a.chunks_exact(4);
    let chunks_b = b.chunks_exact(4);
    let (rest_a, rest_b) = (chunks_a.remainder(), chunks_b.remainder());
    for (ca, cb) in chunks_a.zip(chunks_b) {
        for k in 0..4 {
            acc[k] += ca[k] * cb[k];
        }
    }
    let mut total = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (u, v) in rest_a.iter().zip(rest_b) {
        total += u * v;
    }
    total
}

/// β = ⊙ₗ w⁽ˡ⁾ into `beta` (length d).
#[inline]
pub fn beta_into(weights: &[f64], depth: usize, beta: &mut [f64]) {
    let d = beta.len();
    beta.copy_from_slice(&weights[..d]);
    for l in 1..depth {
        for (b, &w) in beta.iter_mut().zip(&weights[l * d..(l + 1) * d]) {
            *b *= w;
        }
    }
}

/// Per-layer gradients `out[l·d + j] = g_beta[j] · Π_{k≠l} w⁽ᵏ⁾_j` by prefix/suffix products (no
/// division, so exact zeros are fine).
#[inline]
pub fn layer_gradients(weights: &[f64], depth: usize, g_beta: &[f64], out: &mut [f64]) {
    let d = g_beta.len();
    // Forward: out[l] holds the prefix product Π_{k<l} w⁽ᵏ⁾ (times g_β, folded in at l = 0).
    out[..d].copy_from_slice(g_beta);
    for l in 1..depth {
        let (done, rest) = out.split_at_mut(l * d);
        let prev = &done[(l - 1) * d..];
        let w_prev = &weights[(l - 1) * d..l * d];
        for j in 0..d {
            rest[j] = prev[j] * w_prev[j];
        }
    }
    // Backward: multiply by the running suffix product Π_{k>l} w⁽ᵏ⁾.
    if depth >= 2 {
        for j in 0..d {
            let mut suffix = weights[(depth - 1) * d + j];
            for l in (0..depth - 1).rev() {
                out[l * d + j] *= suffix;
                suffix *= weights[l * d + j];
            }
        }
    }
}

/// Mean logistic loss of β on the data.
pub fn loss_of_beta(data: &Dataset, beta: &[f64]) -> f64 {
    let d = data.d();
    let total: f64 = data
        .x()
        .chunks_exact(d)
        .zip(data.y())
        .map(|(row, &label)| logistic_loss(label * dot(row, beta)))
        .sum();
    total / data.n() as f64
}

/// An L-layer diagonal linear network with d coordinates per layer (θ has L·d entries).
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    depth: usize,
    dim: usize,
    weights: Vec<f64>,
}

impl Network {
    /// Balanced initialisation w⁽ˡ⁾ = α for every layer (α per coordinate).
    pub fn balanced(depth: usize, alpha: &[f64]) -> Result<Self, NumericsError> {
        if depth == 0 {
            return Err(NumericsError::invalid("depth", "must be at least 1"));
        }
        if alpha.is_empty() {
            return Err(NumericsError::invalid(
                "alpha",
                "must have at least one coordinate",
            ));
        }
        if let Some(j) = alpha.iter().position(|a| !a.is_finite()) {
            return Err(NumericsError::invalid(
                "alpha",
                format!("alpha[{j}] is not finite"),
            ));
        }
        Ok(Self {
            depth,
            dim: alpha.len(),
            weights: alpha.repeat(depth),
        })
    }

    /// Balanced initialisation w⁽ˡ⁾ = s·(1, …, 1) in d coordinates.
    pub fn balanced_scale(depth: usize, dim: usize, scale: f64) -> Result<Self, NumericsError> {
        Self::balanced(depth, &vec![scale; dim])
    }

    /// Arbitrary (possibly unbalanced) weights, layer-major (`weights[l·d + j]`).
    pub fn from_weights(
        depth: usize,
        dim: usize,
        weights: Vec<f64>,
    ) -> Result<Self, NumericsError> {
        if depth == 0 || dim == 0 {
            return Err(NumericsError::invalid(
                "network",
                "depth and dimension must be at least 1",
            ));
        }
        if weights.len() != depth * dim {
            return Err(NumericsError::invalid(
                "network",
                format!(
                    "expected {} weights (depth {depth} × dim {dim}), got {}",
                    depth * dim,
                    weights.len()
                ),
            ));
        }
        if weights.iter().any(|w| !w.is_finite()) {
            return Err(NumericsError::invalid("network", "weights must be finite"));
        }
        Ok(Self {
            depth,
            dim,
            weights,
        })
    }

    pub fn depth(&self) -> usize {
        self.depth
    }
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// All L·d weights, layer-major.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
    pub fn weights_mut(&mut self) -> &mut [f64] {
        &mut self.weights
    }
    /// Layer l (0-based).
    pub fn layer(&self, l: usize) -> &[f64] {
        &self.weights[l * self.dim..(l + 1) * self.dim]
    }

    /// β = ⊙ₗ w⁽ˡ⁾.
    pub fn beta(&self) -> Vec<f64> {
        let mut beta = vec![0.0; self.dim];
        beta_into(&self.weights, self.depth, &mut beta);
        beta
    }

    /// Mean logistic loss (1/n) Σᵢ ln(1 + exp(−yᵢ⟨xᵢ, β⟩)).
    pub fn loss(&self, data: &Dataset) -> Result<f64, NumericsError> {
        check_dims(self, data)?;
        Ok(loss_of_beta(data, &self.beta()))
    }

    /// ∇_θ L, layer-major (L·d entries).
    pub fn gradient(&self, data: &Dataset) -> Result<Vec<f64>, NumericsError> {
        check_dims(self, data)?;
        let beta = self.beta();
        let mut acc = vec![0.0; self.dim];
        let pass = sample_pass(data, &beta, &mut acc);
        let scale = -neg_dloss(pass.ref_margin) / data.n() as f64;
        acc.iter_mut().for_each(|a| *a *= scale);
        let mut grad = vec![0.0; self.weights.len()];
        layer_gradients(&self.weights, self.depth, &acc, &mut grad);
        Ok(grad)
    }
}

/// The network's dimension must match the data's.
pub(crate) fn check_dims(network: &Network, data: &Dataset) -> Result<(), NumericsError> {
    if network.dim() != data.d() {
        return Err(NumericsError::invalid(
            "network",
            format!(
                "network has {} coordinates but the data has dimension {}",
                network.dim(),
                data.d()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neg_dloss_is_stable_at_extremes() {
        // 1/(1+e^u) evaluated directly is exact enough at moderate u; at u = 800 the true value
        // e^-800 underflows to 0 and at u = -800 it is 1.
        for u in [-3.0_f64, 0.0, 2.5] {
            assert!((neg_dloss(u) - 1.0 / (1.0 + u.exp())).abs() < 1e-15);
        }
        assert_eq!(neg_dloss(-800.0), 1.0);
        assert!(neg_dloss(40.0) > 0.0, "tanh form would give 0 here");
        assert!((neg_dloss(40.0) / (-40.0_f64).exp() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn sample_weights_survive_underflow() {
        // Margins ~1000 make every −ℓ′ underflow; the ratio weights must still be exp(−Δm).
        let data = Dataset::from_rows(&[vec![1.0], vec![1.001]], &[1.0, 1.0]).unwrap();
        let mut acc = [0.0];
        let pass = sample_pass(&data, &[1000.0], &mut acc);
        assert_eq!(pass.ref_margin, 1000.0);
        let expected_q = (-1.0_f64).exp();
        // acc = 1·1 + e^{-1}·1.001; relative error at rounding level.
        assert!((acc[0] - (1.0 + expected_q * 1.001)).abs() < 1e-12);
        assert!((pass.weight_sum - (1.0 + expected_q)).abs() < 1e-12);
    }

    #[test]
    fn layer_gradients_handle_zero_weights() {
        // L = 3, one coordinate, weights (2, 0, 3): Π_{k≠0} = 0, Π_{k≠1} = 6, Π_{k≠2} = 0.
        let mut out = [0.0; 3];
        layer_gradients(&[2.0, 0.0, 3.0], 3, &[1.0], &mut out);
        assert_eq!(out, [0.0, 6.0, 0.0]);
    }
}
