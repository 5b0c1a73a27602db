//! A two-layer ReLU network f(x) = Σ_j a_j relu(w_j·x) (width m, no biases) on the mean logistic loss,
//! trained by full-batch GD, ℓ∞-SAM, ℓ2-SAM or USAM (the reviewers' non-linear variant, issue #13).
//!
//! Parameters are one flat vector θ = (w_1, …, w_m, a) with w_j ∈ ℝᵈ row after row, then a ∈ ℝᵐ; the SAM
//! perturbations use the same conventions as the diagonal network ([`crate::optim`]): ℓ∞ ε = ρ·sign0(g),
//! ℓ2 ε = ρ g/‖g‖₂ over all parameters jointly (0 when g = 0), USAM ε = ρ g. relu′(0) = 0.
//!
//! Gradients (n examples, margins mᵢ = yᵢ f(xᵢ), sᵢ = ℓ′(mᵢ) yᵢ / n):
//! ∂L/∂a_j = Σᵢ sᵢ relu(w_j·xᵢ), ∂L/∂w_j = a_j Σᵢ sᵢ 1[w_j·xᵢ > 0] xᵢ.
//! The rescaled clock (as for the diagonal network, spec B2) divides the descent gradient ∇L(θ̂) by
//! meanᵢ(−ℓ′(m̂ᵢ)): the per-example factors become qᵢ = s(mᵢ)/Σₖ s(mₖ) with s = −ℓ′, formed in the log
//! domain (ln s(m) = −ln(1 + eᵐ)) so that margins in the thousands do not turn it into 0/0. ℓ2/ℓ∞-SAM
//! perturb along the direction of that rescaled gradient (the same direction); USAM uses the true ∇L.
//! The statistic the analysis reads is the network's effective input weight, the input gradient averaged
//! over the data, β_eff = (1/n) Σᵢ ∇ₓ f(xᵢ) = (1/n) Σᵢ Σ_j a_j 1[w_j·xᵢ > 0] w_j — exactly β for a linear
//! (diagonal) network, and insensitive to the weights of neurons that are inactive on the data.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::dataset::Dataset;
use crate::error::NumericsError;
use crate::model::{log1p_exp, logistic_loss, neg_dloss};
use crate::optim::{Clock, Optimizer, sign0};

/// Shape of the network: input dimension d and width m.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub dim: usize,
    pub width: usize,
}

impl Shape {
    /// Number of parameters m·d + m.
    pub fn len(&self) -> usize {
        self.width * (self.dim + 1)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// i.i.d. N(0, scale²) entries for every parameter, from a ChaCha8 stream seeded by `seed` (the same seed
/// gives bit-identical weights on every platform).
pub fn init(shape: Shape, scale: f64, seed: u64) -> Result<Vec<f64>, NumericsError> {
    if shape.dim == 0 || shape.width == 0 {
        return Err(NumericsError::invalid(
            "relu shape",
            "dim and width must be ≥ 1",
        ));
    }
    if !(scale.is_finite() && scale > 0.0) {
        return Err(NumericsError::invalid(
            "init_scale",
            format!("{scale} is not a finite number > 0"),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Ok((0..shape.len())
        .map(|_| scale * rng.sample::<f64, _>(StandardNormal))
        .collect())
}

fn check(shape: Shape, theta: &[f64], data: &Dataset) -> Result<(), NumericsError> {
    if theta.len() != shape.len() {
        return Err(NumericsError::invalid(
            "relu parameters",
            format!("{} values for a shape with {}", theta.len(), shape.len()),
        ));
    }
    if data.d() != shape.dim {
        return Err(NumericsError::invalid(
            "relu data",
            format!("dimension {} but the network has {}", data.d(), shape.dim),
        ));
    }
    Ok(())
}

/// f(x) for one input row.
pub fn output(shape: Shape, theta: &[f64], x: &[f64]) -> f64 {
    let (w, a) = theta.split_at(shape.width * shape.dim);
    w.chunks_exact(shape.dim)
        .zip(a)
        .map(|(wj, aj)| aj * dot(wj, x).max(0.0))
        .sum()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The mean logistic loss (1/n) Σᵢ ℓ(yᵢ f(xᵢ)).
pub fn loss(shape: Shape, theta: &[f64], data: &Dataset) -> f64 {
    let d = shape.dim;
    data.x()
        .chunks_exact(d)
        .zip(data.y())
        .map(|(x, y)| logistic_loss(y * output(shape, theta, x)))
        .sum::<f64>()
        / data.n() as f64
}

/// ∇_θ L into `grad` (length m·d + m); returns the loss at θ.
pub fn gradient(shape: Shape, theta: &[f64], data: &Dataset, grad: &mut [f64]) -> f64 {
    gradient_in(shape, theta, data, Clock::Original, grad)
}

/// ∇_θ L (original clock) or ∇_θ L / meanᵢ(−ℓ′(mᵢ)) (rescaled) into `grad`; returns the loss at θ.
pub fn gradient_in(
    shape: Shape,
    theta: &[f64],
    data: &Dataset,
    clock: Clock,
    grad: &mut [f64],
) -> f64 {
    let (d, m) = (shape.dim, shape.width);
    let n = data.n() as f64;
    grad.fill(0.0);
    let (w, a) = theta.split_at(m * d);
    // Pre-activations of every (example, neuron), row after row: one pass over X for margins and gradient.
    let mut pre = Vec::with_capacity(data.n() * m);
    for x in data.x().chunks_exact(d) {
        pre.extend(w.chunks_exact(d).map(|wj| dot(wj, x)));
    }
    let margins: Vec<f64> = pre
        .chunks_exact(m)
        .zip(data.y())
        .map(|(p, y)| y * p.iter().zip(a).map(|(p, aj)| aj * p.max(0.0)).sum::<f64>())
        .collect();
    let total = margins.iter().map(|&u| logistic_loss(u)).sum::<f64>() / n;
    // Per-example factor multiplying −yᵢ ∂f(xᵢ)/∂θ.
    let factors: Vec<f64> = match clock {
        Clock::Original => margins.iter().map(|&u| neg_dloss(u) / n).collect(),
        Clock::Rescaled => {
            let logs: Vec<f64> = margins.iter().map(|&u| -log1p_exp(u)).collect();
            let top = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let q: Vec<f64> = logs.iter().map(|l| (l - top).exp()).collect();
            let sum: f64 = q.iter().sum();
            q.iter().map(|v| v / sum).collect()
        }
    };
    let (gw, ga) = grad.split_at_mut(m * d);
    for (((x, &y), &factor), pre) in data
        .x()
        .chunks_exact(d)
        .zip(data.y())
        .zip(&factors)
        .zip(pre.chunks_exact(m))
    {
        let s = -factor * y;
        for (j, &p) in pre.iter().enumerate() {
            if p > 0.0 {
                ga[j] += s * p;
                let coefficient = s * a[j];
                for (g, &xk) in gw[j * d..(j + 1) * d].iter_mut().zip(x) {
                    *g += coefficient * xk;
                }
            }
        }
    }
    total
}

/// β_eff = (1/n) Σᵢ ∇ₓ f(xᵢ) into `out` (length d).
pub fn effective_weight(shape: Shape, theta: &[f64], data: &Dataset, out: &mut [f64]) {
    let (d, m) = (shape.dim, shape.width);
    out.fill(0.0);
    let (w, a) = theta.split_at(m * d);
    let n = data.n() as f64;
    for x in data.x().chunks_exact(d) {
        for (wj, aj) in w.chunks_exact(d).zip(a) {
            if dot(wj, x) > 0.0 {
                for (o, &wk) in out.iter_mut().zip(wj) {
                    *o += aj * wk / n;
                }
            }
        }
    }
}

/// Scratch buffers for [`step`].
#[derive(Debug, Clone)]
pub struct ReluWorkspace {
    grad: Vec<f64>,
    perturbed: Vec<f64>,
}

impl ReluWorkspace {
    pub fn new(shape: Shape) -> Self {
        Self {
            grad: vec![0.0; shape.len()],
            perturbed: vec![0.0; shape.len()],
        }
    }
}

/// One full-batch update θ ← θ − η ∇L(θ + ε(∇L(θ))) (ε = 0 for GD), the descent gradient divided by
/// meanᵢ(−ℓ′(m̂ᵢ)) in the rescaled clock. Returns the loss at θ before the update, or an error (θ
/// untouched) when the new parameters would not be finite.
pub fn step(
    shape: Shape,
    theta: &mut [f64],
    data: &Dataset,
    optimizer: Optimizer,
    clock: Clock,
    lr: f64,
    ws: &mut ReluWorkspace,
) -> Result<f64, NumericsError> {
    check(shape, theta, data)?;
    optimizer.validate()?;
    // USAM's ε carries the gradient's magnitude: the true gradient. The others use only its direction.
    let perturbation_clock = if matches!(optimizer, Optimizer::Usam { .. }) {
        Clock::Original
    } else {
        clock
    };
    let loss = gradient_in(shape, theta, data, perturbation_clock, &mut ws.grad);
    match optimizer {
        Optimizer::Gd => {}
        Optimizer::SamLinf { rho } => {
            for ((p, &t), &g) in ws.perturbed.iter_mut().zip(theta.iter()).zip(&ws.grad) {
                *p = t + rho * sign0(g);
            }
        }
        Optimizer::SamL2 { rho } => {
            let norm = ws.grad.iter().map(|g| g * g).sum::<f64>().sqrt();
            let factor = if norm > 0.0 { rho / norm } else { 0.0 };
            for ((p, &t), &g) in ws.perturbed.iter_mut().zip(theta.iter()).zip(&ws.grad) {
                *p = t + factor * g;
            }
        }
        Optimizer::Usam { rho } => {
            for ((p, &t), &g) in ws.perturbed.iter_mut().zip(theta.iter()).zip(&ws.grad) {
                *p = t + rho * g;
            }
        }
    }
    if !matches!(optimizer, Optimizer::Gd) {
        gradient_in(shape, &ws.perturbed, data, clock, &mut ws.grad);
    }
    if theta
        .iter()
        .zip(&ws.grad)
        .any(|(t, g)| !(t - lr * g).is_finite())
    {
        return Err(NumericsError::invalid(
            "relu step",
            "the update is not finite (step size too large?)",
        ));
    }
    for (t, g) in theta.iter_mut().zip(&ws.grad) {
        *t -= lr * g;
    }
    Ok(loss)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::gaussian_clusters;

    fn setup() -> (Shape, Vec<f64>, Dataset) {
        let shape = Shape { dim: 3, width: 7 };
        let data = gaussian_clusters(&[1.0, 2.0, 3.0], 0.3, 6, 4).unwrap();
        // The first init seed whose pre-activations all lie ≥ 1e−3 from the ReLU kink, so that finite
        // differences with h = 1e−6 never cross one (a precondition of the tests, not a result).
        let d = shape.dim;
        let theta = (0..100)
            .map(|seed| init(shape, 0.5, seed).unwrap())
            .find(|theta| {
                let (w, _) = theta.split_at(shape.width * d);
                data.x()
                    .chunks_exact(d)
                    .all(|x| w.chunks_exact(d).all(|wj| dot(wj, x).abs() > 1e-3))
            })
            .expect("an init away from the kinks");
        (shape, theta, data)
    }

    #[test]
    fn gradient_matches_central_finite_differences() {
        // Central differences with h = 1e−6: truncation O(h²·|L‴|) ≈ 1e−12 and rounding ≈ ε_mach·L/h ≈
        // 1e−10 away from ReLU kinks (every pre-activation here is ≥ 1e−3 from 0, so h cannot cross one),
        // hence 1e−7 absolute (gradients are O(0.1–1)). Dropping the indicator or the 1/n breaks it by O(1).
        let (shape, theta, data) = setup();
        let d = shape.dim;
        let (w, _) = theta.split_at(shape.width * d);
        for x in data.x().chunks_exact(d) {
            for wj in w.chunks_exact(d) {
                assert!(dot(wj, x).abs() > 1e-3, "a pre-activation sits on a kink");
            }
        }
        let mut grad = vec![0.0; shape.len()];
        let value = gradient(shape, &theta, &data, &mut grad);
        assert!((value - loss(shape, &theta, &data)).abs() < 1e-15);
        let h = 1e-6;
        for i in 0..shape.len() {
            let mut plus = theta.clone();
            let mut minus = theta.clone();
            plus[i] += h;
            minus[i] -= h;
            let fd = (loss(shape, &plus, &data) - loss(shape, &minus, &data)) / (2.0 * h);
            assert!((fd - grad[i]).abs() < 1e-7, "θ[{i}]: {fd} vs {}", grad[i]);
        }
    }

    #[test]
    fn effective_weight_is_the_mean_input_gradient() {
        // ∇ₓ f by central differences in x at each example (same kink margin as above), averaged.
        let (shape, theta, data) = setup();
        let d = shape.dim;
        let mut beta = vec![0.0; d];
        effective_weight(shape, &theta, &data, &mut beta);
        let mut fd = vec![0.0; d];
        let h = 1e-6;
        for x in data.x().chunks_exact(d) {
            for k in 0..d {
                let mut plus = x.to_vec();
                let mut minus = x.to_vec();
                plus[k] += h;
                minus[k] -= h;
                fd[k] += (output(shape, &theta, &plus) - output(shape, &theta, &minus))
                    / (2.0 * h)
                    / data.n() as f64;
            }
        }
        for (a, b) in beta.iter().zip(&fd) {
            assert!((a - b).abs() < 1e-7, "{beta:?} vs {fd:?}");
        }
    }

    #[test]
    fn sam_steps_by_hand_and_rho_zero_is_gd() {
        // ℓ2-SAM: θ − η∇L(θ + ρ g/‖g‖) built here from `gradient`; ℓ∞: θ + ρ sign(g). ρ = 0 gives GD bit for
        // bit (ε = 0·g exactly).
        let (shape, theta, data) = setup();
        let mut g = vec![0.0; shape.len()];
        gradient(shape, &theta, &data, &mut g);
        let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
        for (optimizer, hat) in [
            (
                Optimizer::SamL2 { rho: 0.3 },
                theta
                    .iter()
                    .zip(&g)
                    .map(|(t, v)| t + 0.3 * v / norm)
                    .collect::<Vec<_>>(),
            ),
            (
                Optimizer::SamLinf { rho: 0.05 },
                theta
                    .iter()
                    .zip(&g)
                    .map(|(t, &v)| {
                        let sign = if v > 0.0 {
                            1.0
                        } else if v < 0.0 {
                            -1.0
                        } else {
                            0.0
                        };
                        t + 0.05 * sign
                    })
                    .collect(),
            ),
            (
                Optimizer::Usam { rho: 0.7 },
                theta.iter().zip(&g).map(|(t, v)| t + 0.7 * v).collect(),
            ),
        ] {
            let mut g_hat = vec![0.0; shape.len()];
            gradient(shape, &hat, &data, &mut g_hat);
            let expected: Vec<f64> = theta.iter().zip(&g_hat).map(|(t, v)| t - 0.1 * v).collect();
            let mut got = theta.clone();
            step(
                shape,
                &mut got,
                &data,
                optimizer,
                Clock::Original,
                0.1,
                &mut ReluWorkspace::new(shape),
            )
            .unwrap();
            assert_eq!(got, expected, "{optimizer:?}");
        }
        let mut gd = theta.clone();
        let mut l2 = theta.clone();
        let mut ws = ReluWorkspace::new(shape);
        step(
            shape,
            &mut gd,
            &data,
            Optimizer::Gd,
            Clock::Original,
            0.1,
            &mut ws,
        )
        .unwrap();
        step(
            shape,
            &mut l2,
            &data,
            Optimizer::SamL2 { rho: 0.0 },
            Clock::Original,
            0.1,
            &mut ws,
        )
        .unwrap();
        assert_eq!(gd, l2);
    }

    #[test]
    fn rescaled_gradient_is_the_gradient_over_the_mean_sample_weight() {
        // Moderate margins (init scale 0.5): the log-domain weights must equal ∇L / meanᵢ(−ℓ′(mᵢ)) computed
        // directly, to rounding (1e−13 relative). Then θ with f(x) = 400·μ·x (neurons ±20μ with a = ±20,
        // the rest 0): every margin is ≥ ~2000, −ℓ′ underflows to 0 and the original gradient is exactly
        // 0, while the rescaled one is Σᵢ qᵢ(−yᵢ ∂f(xᵢ)/∂θ) with qᵢ ∝ e^{−mᵢ} (the exact limit of
        // s(m) = 1/(1 + eᵐ) here), to 1e−12 relative.
        let (shape, theta, data) = setup();
        let mut g = vec![0.0; shape.len()];
        let mut r = vec![0.0; shape.len()];
        gradient(shape, &theta, &data, &mut g);
        gradient_in(shape, &theta, &data, Clock::Rescaled, &mut r);
        let d = shape.dim;
        let mean_weight = data
            .x()
            .chunks_exact(d)
            .zip(data.y())
            .map(|(x, y)| neg_dloss(y * output(shape, &theta, x)))
            .sum::<f64>()
            / data.n() as f64;
        for (a, b) in r.iter().zip(&g) {
            assert!((a - b / mean_weight).abs() <= 1e-13 * (b / mean_weight).abs().max(1e-300));
        }
        let mu = [1.0, 2.0, 3.0];
        let mut big = vec![0.0; shape.len()];
        for k in 0..d {
            big[k] = 20.0 * mu[k];
            big[d + k] = -20.0 * mu[k];
        }
        big[shape.width * d] = 20.0;
        big[shape.width * d + 1] = -20.0;
        gradient(shape, &big, &data, &mut g);
        assert!(g.iter().all(|v| *v == 0.0), "−ℓ′ should underflow");
        gradient_in(shape, &big, &data, Clock::Rescaled, &mut r);
        let margins: Vec<f64> = data
            .x()
            .chunks_exact(d)
            .zip(data.y())
            .map(|(x, y)| y * output(shape, &big, x))
            .collect();
        let m_min = margins.iter().copied().fold(f64::INFINITY, f64::min);
        assert!(m_min > 1000.0, "{m_min}");
        // s(m) = e^{−m}(1 + O(e^{−m})) for m > 1000, so qᵢ = e^{−(mᵢ − m_min)}/Σ exactly in f64.
        let q: Vec<f64> = margins.iter().map(|m| (m_min - m).exp()).collect();
        let q_sum: f64 = q.iter().sum();
        // ∂f/∂a_j = relu(w_j·x), ∂f/∂w_j = a_j 1[w_j·x > 0] x.
        let mut expected = vec![0.0; shape.len()];
        for ((x, y), qi) in data.x().chunks_exact(d).zip(data.y()).zip(&q) {
            for j in 0..2 {
                let pre = dot(&big[j * d..(j + 1) * d], x);
                if pre > 0.0 {
                    expected[shape.width * d + j] -= qi / q_sum * y * pre;
                    for k in 0..d {
                        expected[j * d + k] -= qi / q_sum * y * big[shape.width * d + j] * x[k];
                    }
                }
            }
        }
        for (a, b) in r.iter().zip(&expected) {
            assert!(
                (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                "{r:?} vs {expected:?}"
            );
        }
    }

    #[test]
    fn init_is_seeded_and_scaled() {
        let shape = Shape { dim: 2, width: 400 };
        let a = init(shape, 0.1, 3).unwrap();
        assert_eq!(a, init(shape, 0.1, 3).unwrap());
        assert_ne!(a, init(shape, 0.1, 4).unwrap());
        // 1200 draws: the sample sd is within 10 % of 0.1 with overwhelming probability (sd error ≈ 2 %).
        let sd = (a.iter().map(|v| v * v).sum::<f64>() / a.len() as f64).sqrt();
        assert!((sd / 0.1 - 1.0).abs() < 0.1, "{sd}");
        assert!(init(shape, 0.0, 1).is_err());
    }
}
