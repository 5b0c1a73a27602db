//! The L-layer linear diagonal network β = w⁽¹⁾ ⊙ … ⊙ w⁽ᴸ⁾, the mean logistic loss and its gradients.
//!
//! Weights are stored layer-major: `weights[l * d + j]` is w⁽ˡ⁺¹⁾_j. Per-layer gradients are
//! ∇_{w⁽ˡ⁾} L = g_β ⊙ Π_{k≠l} w⁽ᵏ⁾ with g_β = (1/n) Σᵢ ℓ′(mᵢ) yᵢ xᵢ (spec B1), computed with
//! prefix/suffix products so that exactly-zero weights need no division.

use crate::dataset::Dataset;
use crate::error::NumericsError;
use crate::fastexp::exp_nonpositive;

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

/// Rows per block of the fused pass: the block (16 rows, 12.8 kB at d = 100) is read from L2 once for
/// its margins and then stays in L1 for the accumulation, and its 16 sample weights are computed in
/// one vectorisable loop.
const BLOCK_ROWS: usize = 16;

/// Rows handled together by the dot and axpy kernels: four independent dot products share each load
/// of β and the axpy loads and stores `acc` once per four rows.
const GROUP_ROWS: usize = 4;

/// One fused pass over the rows: margins mᵢ = yᵢ⟨xᵢ, β⟩ and acc = Σ qᵢ yᵢ xᵢ, rescaling the accumulator
/// online whenever a block brings a smaller margin (the "online softmax" trick), so X is read once.
///
/// Per block of `BLOCK_ROWS` rows: the margins (in the same summation order as [`dot`]), the block's
/// smallest margin (rescaling `acc` if it is a new reference), the weights qᵢ with the vectorisable
/// [`exp_nonpositive`], then acc += Σ qᵢ yᵢ xᵢ in row order (the same rounding as row-by-row updates).
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
    let mut margin_buffer = [0.0; BLOCK_ROWS];
    let mut coefficient_buffer = [0.0; BLOCK_ROWS];
    for (rows, labels) in x.chunks(BLOCK_ROWS * d).zip(y.chunks(BLOCK_ROWS)) {
        let margins = &mut margin_buffer[..labels.len()];
        mat_vec(rows, d, beta, margins);
        for (m, &label) in margins.iter_mut().zip(labels) {
            *m *= label;
        }
        let block_min = margins.iter().copied().fold(f64::INFINITY, f64::min);
        if block_min < ref_margin {
            if ref_margin.is_finite() {
                let rescale = weight_ratio(ref_margin, block_min, exp_ref_of(block_min));
                acc.iter_mut().for_each(|a| *a *= rescale);
                weight_sum *= rescale;
            }
            ref_margin = block_min;
            exp_ref = exp_ref_of(block_min);
        }
        let coefficients = &mut coefficient_buffer[..labels.len()];
        block_weights(margins, ref_margin, exp_ref, coefficients);
        for (c, &label) in coefficients.iter_mut().zip(labels) {
            weight_sum += *c;
            *c *= label;
        }
        block_accumulate(rows, d, coefficients, acc);
    }
    SamplePass {
        ref_margin,
        weight_sum,
    }
}

/// `out[i] = qᵢ = s(mᵢ)/s(r)` for margins mᵢ ≥ r, the same ratio as [`weight_ratio`] but through
/// [`exp_nonpositive`] and branch-free in i (r is fixed for the block), so the loop vectorises.
/// For r < 0 the ratio (1 + eʳ)/(1 + eᵐ) is rewritten as (1 + eʳ)e⁻ᵐ/(1 + e⁻ᵐ) when m > 0, so the
/// exponential's argument is always −|m| ≤ 0.
#[inline]
fn block_weights(margins: &[f64], ref_margin: f64, exp_ref: f64, out: &mut [f64]) {
    let numerator = 1.0 + exp_ref;
    if ref_margin >= 0.0 {
        for (o, &m) in out.iter_mut().zip(margins) {
            let a = exp_nonpositive(ref_margin - m);
            *o = a * numerator / (1.0 + a * exp_ref);
        }
    } else {
        for (o, &m) in out.iter_mut().zip(margins) {
            let e = exp_nonpositive(-m.abs());
            let scaled = if m > 0.0 { numerator * e } else { numerator };
            *o = scaled / (1.0 + e);
        }
    }
}

/// u = X·v for row-major X (n × d, `x.len() = n·d`) into `out` (length n), four rows at a time with
/// 16 independent accumulators; each entry is bit-for-bit [`dot`] of its row.
pub fn mat_vec(x: &[f64], d: usize, v: &[f64], out: &mut [f64]) {
    let groups = x.chunks_exact(GROUP_ROWS * d);
    let rest = groups.remainder();
    let mut out_groups = out.chunks_exact_mut(GROUP_ROWS);
    for (group, o) in groups.zip(&mut out_groups) {
        o.copy_from_slice(&dot4(group, d, v));
    }
    for (o, row) in out_groups
        .into_remainder()
        .iter_mut()
        .zip(rest.chunks_exact(d))
    {
        *o = dot(row, v);
    }
}

/// out = Xᵀ·u for row-major X (n × d) and u of length n (`out` has length d): the accumulation kernel
/// of [`sample_pass`], four rows per sweep over `out`.
pub fn mat_t_vec(x: &[f64], d: usize, u: &[f64], out: &mut [f64]) {
    out.fill(0.0);
    block_accumulate(x, d, u, out);
}

/// `acc += Σᵢ coefficients[i] · rowᵢ`, four rows per sweep over `acc`. The sum for each coordinate is
/// formed left to right, (((acc + c₀x₀) + c₁x₁) + c₂x₂) + c₃x₃, i.e. bit-for-bit the row-by-row update.
#[inline]
fn block_accumulate(rows: &[f64], d: usize, coefficients: &[f64], acc: &mut [f64]) {
    let groups = rows.chunks_exact(GROUP_ROWS * d);
    let rest = groups.remainder();
    let mut coefficient_groups = coefficients.chunks_exact(GROUP_ROWS);
    for (group, c) in groups.zip(&mut coefficient_groups) {
        let (r0, tail) = group.split_at(d);
        let (r1, tail) = tail.split_at(d);
        let (r2, r3) = tail.split_at(d);
        let (c0, c1, c2, c3) = (c[0], c[1], c[2], c[3]);
        for ((((a, &x0), &x1), &x2), &x3) in acc.iter_mut().zip(r0).zip(r1).zip(r2).zip(r3) {
            *a = *a + c0 * x0 + c1 * x1 + c2 * x2 + c3 * x3;
        }
    }
    for (&c, row) in coefficient_groups
        .remainder()
        .iter()
        .zip(rest.chunks_exact(d))
    {
        for (a, &xv) in acc.iter_mut().zip(row) {
            *a += c * xv;
        }
    }
}

/// Four dot products ⟨rowₖ, v⟩ of consecutive rows at once (16 independent accumulators), each summed
/// in exactly the order of [`dot`] so the margins are bit-for-bit those of the row-by-row pass.
#[inline]
fn dot4(group: &[f64], d: usize, v: &[f64]) -> [f64; 4] {
    let (r0, tail) = group.split_at(d);
    let (r1, tail) = tail.split_at(d);
    let (r2, r3) = tail.split_at(d);
    let (v4, v_rest) = v[..d].as_chunks::<4>();
    let (a4, a_rest) = r0.as_chunks::<4>();
    let (b4, b_rest) = r1.as_chunks::<4>();
    let (c4, c_rest) = r2.as_chunks::<4>();
    let (e4, e_rest) = r3.as_chunks::<4>();
    let mut acc = [[0.0; 4]; 4];
    for ((((vc, a), b), c), e) in v4.iter().zip(a4).zip(b4).zip(c4).zip(e4) {
        for k in 0..4 {
            acc[0][k] += a[k] * vc[k];
            acc[1][k] += b[k] * vc[k];
            acc[2][k] += c[k] * vc[k];
            acc[3][k] += e[k] * vc[k];
        }
    }
    let mut totals = acc.map(|s| (s[0] + s[1]) + (s[2] + s[3]));
    for (k, rest) in [a_rest, b_rest, c_rest, e_rest].into_iter().enumerate() {
        for (u, w) in rest.iter().zip(v_rest) {
            totals[k] += u * w;
        }
    }
    totals
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

/// The row-by-row pass this module used before the blocked one (one `f64::exp` per sample, `acc`
/// rescaled at every new smallest margin): the second method the blocked pass is tested against.
#[cfg(test)]
pub(crate) fn sample_pass_row_by_row(data: &Dataset, beta: &[f64], acc: &mut [f64]) -> SamplePass {
    let d = data.d();
    acc.fill(0.0);
    let mut ref_margin = f64::INFINITY;
    let mut exp_ref = 0.0;
    let mut weight_sum = 0.0;
    for (row, &label) in data.x().chunks_exact(d).zip(data.y()) {
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

/// Random ±1-labelled data with uniform entries in (−1, 1), for comparing passes and steps.
#[cfg(test)]
pub(crate) fn random_dataset(n: usize, d: usize, seed: u64) -> Dataset {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..d).map(|_| rng.random_range(-1.0..1.0)).collect())
        .collect();
    let labels: Vec<f64> = (0..n)
        .map(|_| if rng.random_bool(0.5) { 1.0 } else { -1.0 })
        .collect();
    Dataset::from_rows(&rows, &labels).unwrap()
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

    #[test]
    fn block_weights_match_the_std_exp_ratio() {
        // The fast weights against `weight_ratio` (std exp) for references on both sides of 0 and margins
        // up to 1500 above them. Bound: exp_nonpositive is within 1e−15 relative and the ratio adds at
        // most four roundings with sensitivity ≤ 1 to the exponential, so 2e−15 relative while the
        // weight is a normal number; beyond, both are below 1e−307 next to the reference weight 1.
        for ref_margin in [-900.0, -30.0, -1.5, 0.0, 0.7, 45.0, 800.0] {
            let exp_ref = exp_ref_of(ref_margin);
            let margins: Vec<f64> = (0..3000).map(|i| ref_margin + 0.5 * i as f64).collect();
            let mut fast = vec![0.0; margins.len()];
            block_weights(&margins, ref_margin, exp_ref, &mut fast);
            for (&m, &ours) in margins.iter().zip(&fast) {
                let exact = weight_ratio(m, ref_margin, exp_ref);
                if exact >= f64::MIN_POSITIVE {
                    assert!(
                        (ours / exact - 1.0).abs() <= 2e-15,
                        "r = {ref_margin}, m = {m}"
                    );
                } else {
                    assert!(
                        ours < 1e-307,
                        "r = {ref_margin}, m = {m}: {ours} vs {exact}"
                    );
                }
            }
        }
    }

    #[test]
    fn blocked_pass_matches_row_by_row_pass() {
        // Sizes that leave remainders in every kernel (n mod 16, n mod 4, d mod 4 ≠ 0) and the bench's
        // size; β scales from small margins to margins of ±1000 where every −ℓ′ underflows. The
        // margins are bit-identical, the accumulation differs only through the weights (≤ 2e−15
        // relative each) and fewer rescalings, so 1e−13 relative to ‖acc‖∞ leaves ample room.
        for (n, d, seed) in [(203, 7, 1), (1000, 100, 2), (37, 1, 3), (2, 5, 4)] {
            let data = random_dataset(n, d, seed);
            for scale in [0.0, 0.01, 1.0, 30.0, 1000.0] {
                let beta: Vec<f64> = (0..d)
                    .map(|j| scale * (1.0 - 0.3 * j as f64).sin())
                    .collect();
                let (mut fast, mut reference) = (vec![0.0; d], vec![0.0; d]);
                let ours = sample_pass(&data, &beta, &mut fast);
                let theirs = sample_pass_row_by_row(&data, &beta, &mut reference);
                assert_eq!(ours.ref_margin, theirs.ref_margin);
                assert!((ours.weight_sum / theirs.weight_sum - 1.0).abs() < 1e-13);
                let norm = reference.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
                for (a, b) in fast.iter().zip(&reference) {
                    assert!(
                        (a - b).abs() <= 1e-13 * norm,
                        "n {n} d {d} scale {scale}: {a} vs {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn blocked_mat_vecs_equal_row_by_row_products() {
        // Same operations in the same order as the plain loops, so equality is exact; n and d leave
        // remainders in the four-row groups and the four-wide chunks.
        let (n, d) = (23, 9);
        let data = random_dataset(n, d, 5);
        let v: Vec<f64> = (0..d).map(|j| (j as f64).sin()).collect();
        let mut u = vec![0.0; n];
        mat_vec(data.x(), d, &v, &mut u);
        for (ui, row) in u.iter().zip(data.x().chunks_exact(d)) {
            assert_eq!(*ui, dot(row, &v));
        }
        let mut out = vec![1.0; d];
        mat_t_vec(data.x(), d, &u, &mut out);
        let mut expected = vec![0.0; d];
        for (&ui, row) in u.iter().zip(data.x().chunks_exact(d)) {
            for (e, &x) in expected.iter_mut().zip(row) {
                *e += ui * x;
            }
        }
        assert_eq!(out, expected);
    }
}
