//! ℓ∞-SAM on a single example with balanced init: per-coordinate closed forms, blow-up and zero-hitting
//! times, the limit direction j* and the original-time frozen values (spec B4.2–B4.4).
//!
//! In rescaled time every coordinate with w_j > 0 follows dw_j/dτ = μ_j (w_j − ρ)^{L−1} independently of the
//! others (B4.1), so everything here is a per-coordinate formula in u_j = w_j − ρ. GD is the case ρ = 0.

use crate::error::NumericsError;

/// How one coordinate of the rescaled ℓ∞-SAM flow behaves (Thm 3.2 table, B4.2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CoordinateRegime {
    /// L = 1: the perturbed gradient is μ whatever w is, so w_j = α_j + μ_j τ grows linearly.
    Linear,
    /// α_j < ρ, L even: w_j reaches 0 at `zero_time` and stays there (β_j → 0).
    Vanishes { zero_time: f64 },
    /// α_j = ρ: the gradient at the perturbed point is 0, so β_j ≡ ρ^L.
    Stationary,
    /// α_j < ρ, L odd ≥ 3: w_j ↑ ρ without reaching it, so β_j ↑ ρ^L.
    ApproachesRho,
    /// α_j > ρ, L = 2: log β_j grows at the asymptotic rate 2μ_j.
    GrowsExponentially { rate: f64 },
    /// α_j > ρ, L ≥ 3: w_j → ∞ at the finite rescaled time `blowup_time`.
    BlowsUp { blowup_time: f64 },
}

/// The predicted rescaled-time limit of β (B4.3).
#[derive(Debug, Clone, PartialEq)]
pub enum LinfLimit {
    /// β/‖β‖ → e_index (0-based).
    Basis { index: usize },
    /// L = 1: β/‖β‖ → `direction` = μ/‖μ‖, the ℓ2 max-margin direction (B3).
    Direction { direction: Vec<f64> },
    /// No coordinate has α_j > ρ: β converges to this finite vector (entries 0 or ρ^L).
    Finite { beta: Vec<f64> },
}

/// Everything the theory predicts for one (μ, α, ρ, L) configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct LinfPrediction {
    /// One regime per coordinate, 0-based.
    pub regimes: Vec<CoordinateRegime>,
    /// The rescaled-time limit.
    pub limit: LinfLimit,
    /// L ≥ 3 with an active coordinate: τ* = min_j τ_j*, the end of the rescaled flow; the original flow
    /// covers exactly [0, τ*) (B2, B4.4).
    pub blowup_time: Option<f64>,
    /// L ≥ 3 with an active coordinate: β at τ*, i.e. the original-time limits of the losing coordinates
    /// (the winner's entry is +∞) (B4.4).
    pub frozen_beta: Option<Vec<f64>>,
}

/// Validated inputs of the ℓ∞ closed forms: μ_j > 0, α_j > 0, ρ ≥ 0, all finite, L ≥ 1, equal lengths.
#[derive(Debug, Clone, PartialEq)]
pub struct LinfConfig {
    mu: Vec<f64>,
    alpha: Vec<f64>,
    rho: f64,
    depth: usize,
}

impl LinfConfig {
    /// Validate a configuration (positive μ and α are the setting of B4; ρ = 0 gives GD).
    pub fn new(mu: &[f64], alpha: &[f64], rho: f64, depth: usize) -> Result<Self, NumericsError> {
        check_mu_alpha(mu, alpha)?;
        if !(rho.is_finite() && rho >= 0.0) {
            return Err(NumericsError::invalid(
                "rho",
                format!("{rho} is not a finite number ≥ 0"),
            ));
        }
        if depth == 0 {
            return Err(NumericsError::invalid("depth", "depth must be at least 1"));
        }
        Ok(Self {
            mu: mu.to_vec(),
            alpha: alpha.to_vec(),
            rho,
            depth,
        })
    }

    pub fn mu(&self) -> &[f64] {
        &self.mu
    }
    pub fn alpha(&self) -> &[f64] {
        &self.alpha
    }
    pub fn rho(&self) -> f64 {
        self.rho
    }
    pub fn depth(&self) -> usize {
        self.depth
    }
    pub fn dim(&self) -> usize {
        self.mu.len()
    }

    /// The common layer value w_j(τ) of coordinate j at rescaled time τ ≥ 0 (+∞ at and after blow-up).
    pub fn w(&self, j: usize, tau: f64) -> f64 {
        closed_form_w(self.mu[j], self.alpha[j], self.rho, self.depth, tau)
    }

    /// β(τ) = w(τ)^L for every coordinate.
    pub fn beta(&self, tau: f64) -> Vec<f64> {
        (0..self.dim())
            .map(|j| self.w(j, tau).powi(depth_i32(self.depth)))
            .collect()
    }

    /// The regime of coordinate j.
    pub fn regime(&self, j: usize) -> CoordinateRegime {
        regime(self.mu[j], self.alpha[j], self.rho, self.depth)
    }

    /// The full prediction: regimes, limit, blow-up time and frozen original-time values.
    pub fn predict(&self) -> LinfPrediction {
        let regimes: Vec<CoordinateRegime> = (0..self.dim()).map(|j| self.regime(j)).collect();
        if self.depth == 1 {
            let norm = self.mu.iter().map(|m| m * m).sum::<f64>().sqrt();
            let direction = self.mu.iter().map(|m| m / norm).collect();
            return LinfPrediction {
                regimes,
                limit: LinfLimit::Direction { direction },
                blowup_time: None,
                frozen_beta: None,
            };
        }
        let Some(index) = limit_index(&self.mu, &self.alpha, self.rho, self.depth) else {
            let rho_l = self.rho.powi(depth_i32(self.depth));
            let beta = regimes
                .iter()
                .map(|r| match r {
                    CoordinateRegime::Vanishes { .. } => 0.0,
                    _ => rho_l,
                })
                .collect();
            return LinfPrediction {
                regimes,
                limit: LinfLimit::Finite { beta },
                blowup_time: None,
                frozen_beta: None,
            };
        };
        let (blowup_time, frozen_beta) = if self.depth >= 3 {
            let tau_star = blowup_time(self.mu[index], self.alpha[index], self.rho, self.depth)
                .expect("the winner is active, so it blows up at depth ≥ 3");
            let mut frozen = self.beta(tau_star);
            frozen[index] = f64::INFINITY;
            (Some(tau_star), Some(frozen))
        } else {
            (None, None)
        };
        LinfPrediction {
            regimes,
            limit: LinfLimit::Basis { index },
            blowup_time,
            frozen_beta,
        }
    }
}

fn check_mu_alpha(mu: &[f64], alpha: &[f64]) -> Result<(), NumericsError> {
    if mu.is_empty() {
        return Err(NumericsError::invalid("mu", "empty vector"));
    }
    if mu.len() != alpha.len() {
        return Err(NumericsError::invalid(
            "alpha",
            format!("length {} but mu has length {}", alpha.len(), mu.len()),
        ));
    }
    if let Some(j) = mu.iter().position(|m| !(m.is_finite() && *m > 0.0)) {
        return Err(NumericsError::invalid(
            "mu",
            format!("mu[{j}] = {} is not finite and > 0", mu[j]),
        ));
    }
    if let Some(j) = alpha.iter().position(|a| !(a.is_finite() && *a > 0.0)) {
        return Err(NumericsError::invalid(
            "alpha",
            format!("alpha[{j}] = {} is not finite and > 0", alpha[j]),
        ));
    }
    Ok(())
}

fn depth_i32(depth: usize) -> i32 {
    i32::try_from(depth).expect("depth fits in i32")
}

/// The rescaled-time closed form w(τ) of one coordinate (B4.2): dw/dτ = μ (w − ρ)^{L−1} while w > 0, with
/// w ≡ 0 after an even-depth coordinate reaches 0 and w = +∞ from the blow-up time on.
/// Preconditions (checked by [`LinfConfig::new`]): μ > 0, α > 0, ρ ≥ 0, depth ≥ 1, τ ≥ 0.
pub fn closed_form_w(mu: f64, alpha: f64, rho: f64, depth: usize, tau: f64) -> f64 {
    if depth == 1 {
        return alpha + mu * tau;
    }
    let u0 = alpha - rho;
    if u0 == 0.0 {
        return rho;
    }
    if let Some(t0) = zero_time(mu, alpha, rho, depth)
        && tau >= t0
    {
        return 0.0;
    }
    if let Some(ts) = blowup_time(mu, alpha, rho, depth)
        && tau >= ts
    {
        return f64::INFINITY;
    }
    if depth == 2 {
        return rho + u0 * (mu * tau).exp();
    }
    // u' = μ u^{L−1} ⇒ d(u^{−(L−2)})/dτ = −(L−2) μ for u > 0; for u < 0 the sign of u^{L−1} depends on the
    // parity of L, which flips the sign of the τ term (B4.2).
    let p = (depth - 2) as f64;
    let magnitude = u0.abs().powf(-p);
    if u0 > 0.0 {
        rho + (magnitude - p * mu * tau).powf(-1.0 / p)
    } else if depth % 2 == 1 {
        rho - (magnitude + p * mu * tau).powf(-1.0 / p)
    } else {
        rho - (magnitude - p * mu * tau).powf(-1.0 / p)
    }
}

/// β(τ) = w(τ)^L for one coordinate.
pub fn beta(mu: f64, alpha: f64, rho: f64, depth: usize, tau: f64) -> f64 {
    closed_form_w(mu, alpha, rho, depth, tau).powi(depth_i32(depth))
}

/// The rescaled time at which an even-depth coordinate with α < ρ reaches 0 (B4.2):
/// L = 2: ln(ρ/(ρ − α))/μ; L ≥ 4 even: ((ρ − α)^{−(L−2)} − ρ^{−(L−2)})/((L−2)μ). `None` otherwise.
pub fn zero_time(mu: f64, alpha: f64, rho: f64, depth: usize) -> Option<f64> {
    if depth < 2 || depth % 2 == 1 || alpha >= rho {
        return None;
    }
    if depth == 2 {
        return Some((rho / (rho - alpha)).ln() / mu);
    }
    let p = (depth - 2) as f64;
    Some(((rho - alpha).powf(-p) - rho.powf(-p)) / (p * mu))
}

/// The finite blow-up time τ* = 1/((L−2) μ (α − ρ)^{L−2}) of an active coordinate (α > ρ) at depth L ≥ 3
/// (B4.2). `None` when the coordinate does not blow up.
pub fn blowup_time(mu: f64, alpha: f64, rho: f64, depth: usize) -> Option<f64> {
    if depth < 3 || alpha <= rho {
        return None;
    }
    let p = (depth - 2) as f64;
    Some(1.0 / (p * mu * (alpha - rho).powf(p)))
}

/// The regime of one coordinate (Thm 3.2).
pub fn regime(mu: f64, alpha: f64, rho: f64, depth: usize) -> CoordinateRegime {
    if depth == 1 {
        return CoordinateRegime::Linear;
    }
    if alpha == rho {
        return CoordinateRegime::Stationary;
    }
    if alpha < rho {
        return match zero_time(mu, alpha, rho, depth) {
            Some(zero_time) => CoordinateRegime::Vanishes { zero_time },
            None => CoordinateRegime::ApproachesRho,
        };
    }
    match blowup_time(mu, alpha, rho, depth) {
        Some(blowup_time) => CoordinateRegime::BlowsUp { blowup_time },
        None => CoordinateRegime::GrowsExponentially { rate: 2.0 * mu },
    }
}

/// j* = argmax_{j: α_j > ρ} μ_j (α_j − ρ)^{L−2} (Cor 3.5, B4.3), 0-based; `None` when no α_j > ρ (the
/// active set is empty) or depth < 2. Ties go to the lowest index (measure zero, untested in the paper).
pub fn limit_index(mu: &[f64], alpha: &[f64], rho: f64, depth: usize) -> Option<usize> {
    if depth < 2 {
        return None;
    }
    let p = depth_i32(depth - 2);
    let mut best: Option<(usize, f64)> = None;
    for (j, (&m, &a)) in mu.iter().zip(alpha).enumerate() {
        if a > rho {
            let score = m * (a - rho).powi(p);
            if best.is_none_or(|(_, s)| score > s) {
                best = Some((j, score));
            }
        }
    }
    best.map(|(j, _)| j)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Classic RK4 of dw/dτ = μ (w − ρ)^{L−1}, an independent second method for the closed forms.
    fn rk4(mu: f64, alpha: f64, rho: f64, depth: usize, tau: f64, steps: usize) -> f64 {
        let f = |w: f64| mu * (w - rho).powi(depth_i32(depth) - 1);
        let h = tau / steps as f64;
        let mut w = alpha;
        for _ in 0..steps {
            let k1 = f(w);
            let k2 = f(w + 0.5 * h * k1);
            let k3 = f(w + 0.5 * h * k2);
            let k4 = f(w + h * k3);
            w += h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4);
        }
        w
    }

    #[test]
    fn closed_forms_match_rk4_in_every_regime() {
        // RK4 with h = 1e−4 has global error O(h⁴) ≈ 1e−16 times derivative bounds of order ≤ 1e2 on these
        // smooth stretches (stopped before any zero or blow-up), so 1e−8 relative is a safe, still sharp bound.
        let cases = [
            (1.0, 1.5, 1.0, 2, 1.0),
            (2.0, 0.5, 1.0, 2, 0.3),
            (1.0, 2.0, 1.0, 3, 0.8),
            (2.0, 1.4, 1.0, 3, 0.8),
            (1.0, 0.5, 1.0, 3, 0.8),
            (2.0, 0.3, 1.0, 3, 5.0),
            (1.0, 1.3, 1.0, 4, 2.0),
            (1.5, 0.9, 1.0, 4, 0.05),
            (1.0, 1.2, 0.5, 5, 0.2),
            (1.0, 0.2, 0.5, 5, 3.0),
            (1.0, 0.7, 0.0, 3, 1.0),
        ];
        for (mu, alpha, rho, depth, tau) in cases {
            let exact = closed_form_w(mu, alpha, rho, depth, tau);
            let numeric = rk4(mu, alpha, rho, depth, tau, (tau / 1e-4).ceil() as usize);
            assert!(
                (exact - numeric).abs() <= 1e-8 * exact.abs().max(1.0),
                "mu {mu} alpha {alpha} rho {rho} L {depth} tau {tau}: {exact} vs {numeric}"
            );
        }
    }

    #[test]
    fn spec_e2_e3_e4_values() {
        // The spec quotes the closed-form values to 5–6 significant digits, so 1e−5 covers its rounding.
        let e2 = LinfConfig::new(&[1.0, 2.0], &[1.5, 1.2], 1.0, 2).unwrap();
        assert!((e2.w(0, 1.0) - (1.0 + 0.5 * 1f64.exp())).abs() < 1e-12);
        assert!((e2.w(1, 1.0) - 2.47781).abs() < 1e-5);
        let e3 = LinfConfig::new(&[1.0, 2.0], &[2.0, 1.4], 1.0, 3).unwrap();
        assert!((e3.w(0, 0.8) - 6.0).abs() < 1e-12);
        assert!((e3.w(1, 0.8) - 2.11111).abs() < 1e-5);
        assert_eq!(blowup_time(1.0, 2.0, 1.0, 3), Some(1.0));
        assert!((blowup_time(2.0, 1.4, 1.0, 3).unwrap() - 1.25).abs() < 1e-12);
        let prediction = e3.predict();
        assert_eq!(prediction.limit, LinfLimit::Basis { index: 0 });
        assert_eq!(prediction.blowup_time, Some(1.0));
        let e4 = LinfConfig::new(&[1.0, 2.0], &[0.5, 1.5], 1.0, 3).unwrap();
        assert!((e4.w(0, 0.8) - 0.642857).abs() < 1e-6);
        assert!((e4.w(1, 0.8) - 3.5).abs() < 1e-12);
    }

    #[test]
    fn spec_e5_limits_at_depth_two() {
        let check = |alpha: [f64; 2], expected: LinfLimit| {
            let prediction = LinfConfig::new(&[1.0, 2.0], &alpha, 1.0, 2)
                .unwrap()
                .predict();
            assert_eq!(prediction.limit, expected, "alpha {alpha:?}");
        };
        check([1.5, 1.5], LinfLimit::Basis { index: 1 });
        check([1.5, 0.8], LinfLimit::Basis { index: 0 });
        check(
            [0.8, 0.8],
            LinfLimit::Finite {
                beta: vec![0.0, 0.0],
            },
        );
        check(
            [1.0, 0.5],
            LinfLimit::Finite {
                beta: vec![1.0, 0.0],
            },
        );
        check([0.5, 1.2], LinfLimit::Basis { index: 1 });
        check([1.2, 1.01], LinfLimit::Basis { index: 1 });
        // E5: zero-hitting times ln 5 and ln 5 / 2 for α = 0.8 (exact closed form, so only rounding).
        assert!((zero_time(1.0, 0.8, 1.0, 2).unwrap() - 5f64.ln()).abs() < 1e-12);
        assert!((zero_time(2.0, 0.8, 1.0, 2).unwrap() - 0.5 * 5f64.ln()).abs() < 1e-12);
        // E5: with α = (1.2, 1.01), β_2 overtakes β_1 near τ = ln 20 ≈ 3.0.
        let cfg = LinfConfig::new(&[1.0, 2.0], &[1.2, 1.01], 1.0, 2).unwrap();
        let before = cfg.beta(2.9);
        let after = cfg.beta(3.1);
        assert!(before[0] > before[1] && after[1] > after[0]);
    }

    #[test]
    fn odd_and_even_small_init_limits() {
        let rho: f64 = 0.5;
        let odd = LinfConfig::new(&[1.0, 2.0], &[0.2, 0.5], rho, 3)
            .unwrap()
            .predict();
        assert_eq!(
            odd.limit,
            LinfLimit::Finite {
                beta: vec![rho.powi(3), rho.powi(3)]
            }
        );
        assert_eq!(odd.regimes[0], CoordinateRegime::ApproachesRho);
        assert_eq!(odd.regimes[1], CoordinateRegime::Stationary);
        let even = LinfConfig::new(&[1.0, 2.0], &[0.2, 0.5], rho, 4)
            .unwrap()
            .predict();
        assert_eq!(
            even.limit,
            LinfLimit::Finite {
                beta: vec![0.0, rho.powi(4)]
            }
        );
        // Rescaled time: the odd-depth coordinate creeps up to ρ^L from below without reaching it; at
        // τ = 1e6 the closed form gives ρ − w = 1/((ρ − α)^{-1} + μτ) ≈ 1e−6, so 1e−3 is loose on purpose.
        let late = closed_form_w(1.0, 0.2, rho, 3, 1e6);
        assert!(late < rho && rho - late < 1e-3);
        // Even depth ≥ 4 reaches 0 at the quoted τ⁰ (continuity of the closed form there): 1e−9 relative
        // before τ⁰, |w| ≈ |w'|·1e−9·τ⁰ ≪ 1e−6.
        let t0 = zero_time(1.0, 0.2, rho, 4).unwrap();
        assert!(closed_form_w(1.0, 0.2, rho, 4, t0 * (1.0 - 1e-9)).abs() < 1e-6);
    }

    #[test]
    fn depth_three_minor_winner_and_frozen_values() {
        // B4.3: at L = 3 the minor coordinate wins when μ_1(α_1 − ρ) > μ_2(α_2 − ρ).
        let cfg = LinfConfig::new(&[1.0, 2.0], &[0.2, 0.14], 0.1, 3).unwrap();
        let prediction = cfg.predict();
        assert_eq!(prediction.limit, LinfLimit::Basis { index: 0 });
        let tau_star = prediction.blowup_time.unwrap();
        assert!((tau_star - 10.0).abs() < 1e-12);
        let frozen = prediction.frozen_beta.unwrap();
        assert!(frozen[0].is_infinite());
        // B4.4: the loser's frozen value is the closed form at τ* = 10: u = (0.04^{-1} − 20)^{-1} = 0.2.
        assert!((frozen[1] - 0.3f64.powi(3)).abs() < 1e-12);
        // Spec check at accumulated τ = 9.5669: w_2 = 0.270467. The quoted τ is rounded to ±5e−5 and
        // dw/dτ = μ u² ≈ 0.06 there, so the value is only defined to ~3e−6 (plus 5e−7 display rounding).
        assert!((cfg.w(1, 9.5669) - 0.270467).abs() < 5e-6);
    }

    #[test]
    fn rejects_invalid_inputs() {
        assert!(LinfConfig::new(&[1.0], &[0.0], 1.0, 2).is_err());
        assert!(LinfConfig::new(&[1.0, 2.0], &[1.0], 1.0, 2).is_err());
        assert!(LinfConfig::new(&[1.0], &[1.0], -1.0, 2).is_err());
        assert!(LinfConfig::new(&[1.0], &[1.0], 1.0, 0).is_err());
        assert!(LinfConfig::new(&[-1.0], &[1.0], 1.0, 2).is_err());
    }

    #[test]
    fn depth_one_is_linear_towards_mu() {
        let prediction = LinfConfig::new(&[3.0, 4.0], &[1.0, 1.0], 0.7, 1)
            .unwrap()
            .predict();
        assert_eq!(
            prediction.limit,
            LinfLimit::Direction {
                direction: vec![0.6, 0.8]
            }
        );
        assert_eq!(closed_form_w(3.0, 1.0, 0.7, 1, 2.0), 7.0);
    }
}
