//! One discrete update of GD, ℓ∞-SAM or ℓ2-SAM (spec B2), in the original or the rescaled clock.
//!
//! SAM (Foret et al.): g = ∇L(θ), θ̂ = θ + ε(g), θ ← θ − η ∇L(θ̂), with ε = ρ·sign0(g) (ℓ∞, sign0(0) = 0)
//! or ε = ρ g/‖g‖₂ with the norm over all L·d parameters jointly (ℓ2, ε = 0 when g = 0). ε depends only
//! on the direction of g, so it is computed from the rescaled β-gradient of [`sample_pass`], which never
//! underflows. USAM (unnormalised SAM, ε = ρ·∇L(θ)) carries the gradient's magnitude, so its perturbation uses
//! the true ∇L(θ) including the outer ℓ′ (see docs/usam.md). The rescaled clock replaces ∇L(θ̂) by ∇L(θ̂)/meanᵢ(−ℓ′(m̂ᵢ)) — for one example, the outer
//! ℓ′ by −1 — computed as −acc/Σq without ever dividing by an underflowed ℓ′.

use crate::dataset::Dataset;
use crate::error::NumericsError;
use crate::model::{SamplePass, beta_into, layer_gradients, sample_pass};

/// The update rule. ρ is the perturbation radius.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    Gd,
    SamLinf {
        rho: f64,
    },
    SamL2 {
        rho: f64,
    },
    /// Unnormalised SAM: ε = ρ·∇L(θ) (the true gradient, magnitude included).
    Usam {
        rho: f64,
    },
}

impl Optimizer {
    /// Checks ρ ≥ 0 and finite.
    pub fn validate(&self) -> Result<(), NumericsError> {
        match *self {
            Optimizer::Gd => Ok(()),
            Optimizer::SamLinf { rho } | Optimizer::SamL2 { rho } | Optimizer::Usam { rho } => {
                if rho.is_finite() && rho >= 0.0 {
                    Ok(())
                } else {
                    Err(NumericsError::invalid(
                        "rho",
                        format!("must be finite and ≥ 0, got {rho}"),
                    ))
                }
            }
        }
    }

    /// The radius ρ (0 for GD).
    pub fn rho(&self) -> f64 {
        match *self {
            Optimizer::Gd => 0.0,
            Optimizer::SamLinf { rho } | Optimizer::SamL2 { rho } | Optimizer::Usam { rho } => rho,
        }
    }

    /// The CLI/file name: `gd`, `sam-linf`, `sam-l2`, `usam`.
    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Gd => "gd",
            Optimizer::SamLinf { .. } => "sam-linf",
            Optimizer::SamL2 { .. } => "sam-l2",
            Optimizer::Usam { .. } => "usam",
        }
    }
}

/// Which clock the run advances: the plain gradient, or the loss-normalised (rescaled) one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    Original,
    Rescaled,
}

impl Clock {
    pub fn name(&self) -> &'static str {
        match self {
            Clock::Original => "original",
            Clock::Rescaled => "rescaled",
        }
    }
}

/// sign with sign0(0) = 0 (and NaN ↦ 0). `f64::signum(0.0)` is 1.0, which would perturb zero-gradient
/// coordinates and break the even-L sliding point of spec B4.1.
#[inline]
pub fn sign0(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Scratch buffers for one update, allocated once per run so the hot loop allocates nothing.
#[derive(Debug, Clone)]
pub struct StepWorkspace {
    pub(crate) beta: Vec<f64>,
    pub(crate) beta_hat: Vec<f64>,
    pub(crate) acc: Vec<f64>,
    pub(crate) grad: Vec<f64>,
    pub(crate) perturbed: Vec<f64>,
}

impl StepWorkspace {
    pub fn new(depth: usize, dim: usize) -> Self {
        Self {
            beta: vec![0.0; dim],
            beta_hat: vec![0.0; dim],
            acc: vec![0.0; dim],
            grad: vec![0.0; depth * dim],
            perturbed: vec![0.0; depth * dim],
        }
    }

    /// β(θ) at the start of the last update.
    pub fn beta(&self) -> &[f64] {
        &self.beta
    }

    /// The last computed update direction (∇L(θ̂), or its loss-normalised form), layer-major.
    pub fn direction(&self) -> &[f64] {
        &self.grad
    }
}

/// What one evaluation of the update direction saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DirectionInfo {
    /// The sample pass at θ̂ (its mean weight meanᵢ(−ℓ′(m̂ᵢ)) is dτ/dt).
    pub pass: SamplePass,
}

/// Fill `ws.grad` with the vector the update subtracts: ∇L(θ̂) (original clock) or
/// ∇L(θ̂)/meanᵢ(−ℓ′(m̂ᵢ)) (rescaled clock); θ̂ = θ for GD. `ws.beta` holds β(θ) afterwards.
pub fn update_direction(
    weights: &[f64],
    depth: usize,
    data: &Dataset,
    optimizer: Optimizer,
    clock: Clock,
    ws: &mut StepWorkspace,
) -> DirectionInfo {
    update_direction_smoothed(weights, depth, data, optimizer, clock, 0.0, ws)
}

/// [`update_direction`] with the ℓ∞ sign regularised for flows: ε_{l,j} = ρ·sign0(g_β,j)·
/// clamp(Π_{k≠l} w⁽ᵏ⁾_j / (δ ρ^{L−1}), −1, 1) with δ = `linf_zone` (δ = 0: the exact sign0). The
/// regularised field is Lipschitz, so an adaptive integrator can sit on the even-L Filippov sliding
/// point w = 0 (spec B4.1) instead of chattering; it differs from sign0 only where |Π_{k≠l} w| < δρ^{L−1}.
#[allow(clippy::too_many_arguments)]
pub fn update_direction_smoothed(
    weights: &[f64],
    depth: usize,
    data: &Dataset,
    optimizer: Optimizer,
    clock: Clock,
    linf_zone: f64,
    ws: &mut StepWorkspace,
) -> DirectionInfo {
    beta_into(weights, depth, &mut ws.beta);
    let at_theta = sample_pass(data, &ws.beta, &mut ws.acc);
    let pass = match optimizer {
        Optimizer::Gd => at_theta,
        Optimizer::Usam { rho } => {
            // The true ∇L(θ): g_β = acc · (−(−ℓ′)(m_ref)/n), as in the original-clock descent below.
            let scale = -crate::model::neg_dloss(at_theta.ref_margin) / data.n() as f64;
            ws.acc.iter_mut().for_each(|a| *a *= scale);
            layer_gradients(weights, depth, &ws.acc, &mut ws.grad);
            for ((o, &w), &g) in ws.perturbed.iter_mut().zip(weights).zip(&ws.grad) {
                *o = w + rho * g;
            }
            beta_into(&ws.perturbed, depth, &mut ws.beta_hat);
            sample_pass(data, &ws.beta_hat, &mut ws.acc)
        }
        Optimizer::SamLinf { rho } | Optimizer::SamL2 { rho } => {
            // Direction of ∇L(θ): g_β ∝ −acc with a positive factor, which sign and normalisation ignore.
            ws.acc.iter_mut().for_each(|a| *a = -*a);
            layer_gradients(weights, depth, &ws.acc, &mut ws.grad);
            let zone = linf_zone * rho.powi(depth as i32 - 1);
            if zone > 0.0 && matches!(optimizer, Optimizer::SamLinf { .. }) {
                let d = ws.acc.len();
                for (i, (o, &w)) in ws.perturbed.iter_mut().zip(weights).enumerate() {
                    let g_beta = ws.acc[i % d];
                    let ratio = if g_beta == 0.0 {
                        0.0
                    } else {
                        ws.grad[i] / (zone * g_beta.abs())
                    };
                    *o = w + rho * ratio.clamp(-1.0, 1.0);
                }
            } else {
                perturb(weights, optimizer, rho, &ws.grad, &mut ws.perturbed);
            }
            beta_into(&ws.perturbed, depth, &mut ws.beta_hat);
            sample_pass(data, &ws.beta_hat, &mut ws.acc)
        }
    };
    let outer_scale = match clock {
        Clock::Original => -crate::model::neg_dloss(pass.ref_margin) / data.n() as f64,
        Clock::Rescaled => -1.0 / pass.weight_sum,
    };
    ws.acc.iter_mut().for_each(|a| *a *= outer_scale);
    let at = if matches!(optimizer, Optimizer::Gd) {
        weights
    } else {
        &ws.perturbed[..]
    };
    layer_gradients(at, depth, &ws.acc, &mut ws.grad);
    DirectionInfo { pass }
}

#[inline]
fn perturb(weights: &[f64], optimizer: Optimizer, rho: f64, grad: &[f64], out: &mut [f64]) {
    match optimizer {
        Optimizer::SamLinf { .. } => {
            for ((o, &w), &g) in out.iter_mut().zip(weights).zip(grad) {
                *o = w + rho * sign0(g);
            }
        }
        Optimizer::SamL2 { .. } => {
            let norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
            let factor = if norm > 0.0 { rho / norm } else { 0.0 };
            for ((o, &w), &g) in out.iter_mut().zip(weights).zip(grad) {
                *o = w + factor * g;
            }
        }
        Optimizer::Gd | Optimizer::Usam { .. } => out.copy_from_slice(weights),
    }
}

/// One update θ ← θ − η·direction. Returns the direction info, or `None` (leaving θ untouched) when the
/// new weights or their β = Π_l w⁽ˡ⁾ would not be finite.
#[inline]
pub fn step(
    weights: &mut [f64],
    depth: usize,
    data: &Dataset,
    optimizer: Optimizer,
    clock: Clock,
    lr: f64,
    ws: &mut StepWorkspace,
) -> Option<DirectionInfo> {
    let info = update_direction(weights, depth, data, optimizer, clock, ws);
    let mut finite = true;
    for (&w, &g) in weights.iter().zip(&ws.grad) {
        finite &= (w - lr * g).is_finite();
    }
    // Finite weights can still multiply out to an infinite β (|w| ~ 1e200 at L = 2).
    let dim = ws.beta.len();
    for j in 0..dim {
        let mut beta = 1.0;
        for l in 0..depth {
            beta *= weights[l * dim + j] - lr * ws.grad[l * dim + j];
        }
        finite &= beta.is_finite();
    }
    if !finite {
        return None;
    }
    for (w, &g) in weights.iter_mut().zip(&ws.grad) {
        *w -= lr * g;
    }
    Some(info)
}

/// Per-layer gradients for fixed sizes: `out[l][j] = g_beta[j] · Π_{k≠l} w[k][j]` (prefix/suffix).
#[inline(always)]
fn layer_gradients_fixed<const L: usize, const D: usize>(
    w: &[[f64; D]; L],
    g_beta: &[f64; D],
) -> [[f64; D]; L] {
    let mut out = [[0.0; D]; L];
    for j in 0..D {
        let mut prefix = g_beta[j];
        for l in 0..L {
            out[l][j] = prefix;
            prefix *= w[l][j];
        }
        let mut suffix = 1.0;
        for l in (0..L).rev() {
            out[l][j] *= suffix;
            suffix *= w[l][j];
        }
    }
    out
}

/// The single-example update with sizes known at compile time (the d = 2, L = 2 case of the paper runs
/// ~10⁸ of these). `signed_x` = y·x. Same algorithm as [`update_direction`] + [`step`] for n = 1: the
/// perturbation direction is −y x ⊙ Π (no margin needed), the outer factor is ℓ′(m̂) or −1. Returns
/// −ℓ′(m̂) (the dτ/dt of the original clock; 1 in the rescaled clock), or `None` with `w` untouched
/// when the new weights or their β would not be finite.
#[inline(always)]
pub fn single_example_step<const L: usize, const D: usize>(
    w: &mut [[f64; D]; L],
    signed_x: &[f64; D],
    optimizer: Optimizer,
    clock: Clock,
    lr: f64,
) -> Option<f64> {
    let mut hat = *w;
    match optimizer {
        Optimizer::Gd => {}
        Optimizer::SamLinf { rho } => {
            let minus_x = signed_x.map(|v| -v);
            let g = layer_gradients_fixed(w, &minus_x);
            for l in 0..L {
                for j in 0..D {
                    hat[l][j] += rho * sign0(g[l][j]);
                }
            }
        }
        Optimizer::Usam { rho } => {
            // ∇L(w) = ℓ′(m) x ⊙ Π = −(−ℓ′(m)) x ⊙ Π.
            let mut margin = 0.0;
            for j in 0..D {
                let mut beta = signed_x[j];
                for row in w.iter() {
                    beta *= row[j];
                }
                margin += beta;
            }
            let s = crate::model::neg_dloss(margin);
            let minus_sx = signed_x.map(|v| -s * v);
            let g = layer_gradients_fixed(w, &minus_sx);
            for l in 0..L {
                for j in 0..D {
                    hat[l][j] += rho * g[l][j];
                }
            }
        }
        Optimizer::SamL2 { rho } => {
            let minus_x = signed_x.map(|v| -v);
            let g = layer_gradients_fixed(w, &minus_x);
            let mut norm_sq = 0.0;
            for row in &g {
                for v in row {
                    norm_sq += v * v;
                }
            }
            let norm = norm_sq.sqrt();
            let factor = if norm > 0.0 { rho / norm } else { 0.0 };
            for l in 0..L {
                for j in 0..D {
                    hat[l][j] += factor * g[l][j];
                }
            }
        }
    }
    let weight = match clock {
        Clock::Rescaled => 1.0,
        Clock::Original => {
            let mut margin = 0.0;
            for j in 0..D {
                let mut beta = signed_x[j];
                for row in &hat {
                    beta *= row[j];
                }
                margin += beta;
            }
            crate::model::neg_dloss(margin)
        }
    };
    let g_beta = signed_x.map(|v| -weight * v);
    let g = layer_gradients_fixed(&hat, &g_beta);
    let mut next = *w;
    let mut finite = true;
    for l in 0..L {
        for j in 0..D {
            next[l][j] -= lr * g[l][j];
            finite &= next[l][j].is_finite();
        }
    }
    // Finite weights can still multiply out to an infinite β.
    for j in 0..D {
        let mut beta = 1.0;
        for row in &next {
            beta *= row[j];
        }
        finite &= beta.is_finite();
    }
    if !finite {
        return None;
    }
    *w = next;
    Some(weight)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Network, neg_dloss};

    #[test]
    fn sign0_of_zero_is_zero() {
        assert_eq!(sign0(0.0), 0.0);
        assert_eq!(sign0(-0.0), 0.0);
        assert_eq!(sign0(-2.0), -1.0);
        assert_eq!(sign0(f64::NAN), 0.0);
    }

    #[test]
    fn rescaled_single_example_replaces_outer_dloss_by_minus_one() {
        // L = 2, μ = (1, 2), w = (0.5, 0.4) both layers, ρ = 0.3, ℓ2-SAM, by hand:
        // g ∝ −μ⊙w per layer (joint norm over both layers = √2‖μ⊙w‖), ŵ = w − ρ μ⊙w/(√2‖μ⊙w‖),
        // rescaled direction = −μ⊙ŵ per layer.
        let data = Dataset::single(&[1.0, 2.0]).unwrap();
        let net = Network::balanced(2, &[0.5, 0.4]).unwrap();
        let mut ws = StepWorkspace::new(2, 2);
        update_direction(
            net.weights(),
            2,
            &data,
            Optimizer::SamL2 { rho: 0.3 },
            Clock::Rescaled,
            &mut ws,
        );
        let mw: [f64; 2] = [0.5, 0.8];
        let norm = (2.0 * (mw[0] * mw[0] + mw[1] * mw[1])).sqrt();
        let w_hat = [0.5 - 0.3 * mw[0] / norm, 0.4 - 0.3 * mw[1] / norm];
        let expected = [-w_hat[0], -2.0 * w_hat[1], -w_hat[0], -2.0 * w_hat[1]];
        for (a, b) in ws.direction().iter().zip(expected) {
            assert!((a - b).abs() < 1e-15, "{a} vs {b}");
        }
        // Original clock: the same vector times −ℓ′(m̂).
        let m_hat = w_hat[0] * w_hat[0] + 2.0 * w_hat[1] * w_hat[1];
        update_direction(
            net.weights(),
            2,
            &data,
            Optimizer::SamL2 { rho: 0.3 },
            Clock::Original,
            &mut ws,
        );
        for (a, b) in ws.direction().iter().zip(expected) {
            assert!((a - b * neg_dloss(m_hat)).abs() < 1e-15);
        }
    }

    /// One multi-sample update with the row-by-row pass (the implementation before the blocked one):
    /// the same steps as [`update_direction`] + [`step`] for ℓ2-SAM.
    fn reference_sam_l2_step(
        weights: &[f64],
        depth: usize,
        data: &Dataset,
        rho: f64,
        clock: Clock,
        lr: f64,
    ) -> Vec<f64> {
        use crate::model::sample_pass_row_by_row;
        let d = data.d();
        let mut beta = vec![0.0; d];
        let mut acc = vec![0.0; d];
        let mut grad = vec![0.0; weights.len()];
        beta_into(weights, depth, &mut beta);
        sample_pass_row_by_row(data, &beta, &mut acc);
        acc.iter_mut().for_each(|a| *a = -*a);
        layer_gradients(weights, depth, &acc, &mut grad);
        let norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
        let factor = if norm > 0.0 { rho / norm } else { 0.0 };
        let perturbed: Vec<f64> = weights
            .iter()
            .zip(&grad)
            .map(|(w, g)| w + factor * g)
            .collect();
        beta_into(&perturbed, depth, &mut beta);
        let pass = sample_pass_row_by_row(data, &beta, &mut acc);
        let scale = match clock {
            Clock::Original => -neg_dloss(pass.ref_margin) / data.n() as f64,
            Clock::Rescaled => -1.0 / pass.weight_sum,
        };
        acc.iter_mut().for_each(|a| *a *= scale);
        layer_gradients(&perturbed, depth, &acc, &mut grad);
        weights.iter().zip(&grad).map(|(w, g)| w - lr * g).collect()
    }

    #[test]
    fn multi_sample_sam_l2_step_matches_previous_implementation() {
        // Random data of the benchmark's shape plus an odd shape, weight scales from small margins to
        // margins in the hundreds (−ℓ′ far below 1e−100), both clocks. The blocked pass differs from the
        // row-by-row one by ≤ 1e−13 relative in its accumulator (see model's test), and a step adds
        // η·direction to θ, so the new weights agree to 1e−13 relative.
        use crate::model::random_dataset;
        for (n, d, depth, seed) in [(1000, 100, 2, 11), (203, 7, 3, 12)] {
            let data = random_dataset(n, d, seed);
            for scale in [0.1, 1.0, 6.0] {
                let mut weights: Vec<f64> = (0..depth * d)
                    .map(|i| scale * (0.7 + 0.5 * (i as f64).cos()))
                    .collect();
                for clock in [Clock::Original, Clock::Rescaled] {
                    let reference = reference_sam_l2_step(&weights, depth, &data, 0.2, clock, 0.3);
                    let mut ws = StepWorkspace::new(depth, d);
                    let optimizer = Optimizer::SamL2 { rho: 0.2 };
                    step(&mut weights, depth, &data, optimizer, clock, 0.3, &mut ws).unwrap();
                    for (a, b) in weights.iter().zip(&reference) {
                        assert!(
                            (a - b).abs() <= 1e-13 * b.abs(),
                            "{clock:?} {scale}: {a} vs {b}"
                        );
                    }
                }
            }
        }
    }
}
