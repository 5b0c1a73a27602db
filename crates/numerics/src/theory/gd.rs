//! Gradient descent on a single example with balanced init: the rescaled-time closed form (spec B6, E14).
//!
//! GD is ℓ∞-SAM with ρ = 0, so the depth-L closed form is [`crate::theory::linf::closed_form_w`] at ρ = 0;
//! at depth 2 it reads β_j(τ) = α_j² e^{2μ_jτ}.

use crate::error::NumericsError;
use crate::theory::linf::{self, LinfConfig};

/// β(τ) of the rescaled GD flow at depth L ≥ 1 (entries +∞ after a depth-≥ 3 blow-up).
pub fn beta(mu: &[f64], alpha: &[f64], depth: usize, tau: f64) -> Result<Vec<f64>, NumericsError> {
    Ok(LinfConfig::new(mu, alpha, 0.0, depth)?.beta(tau))
}

/// ln β_j(τ) = 2 ln α_j + 2μ_jτ at depth 2, finite for any τ.
pub fn log_beta_depth2(mu: &[f64], alpha: &[f64], tau: f64) -> Vec<f64> {
    mu.iter()
        .zip(alpha)
        .map(|(m, a)| 2.0 * a.ln() + 2.0 * m * tau)
        .collect()
}

/// argmax_j β_j(τ) at depth 2; ties go to the larger μ_j (the faster-growing coordinate), so with uniform
/// init this is argmax μ for every τ ≥ 0 (E14).
pub fn dominant_depth2(mu: &[f64], alpha: &[f64], tau: f64) -> usize {
    let log_beta = log_beta_depth2(mu, alpha, tau);
    (0..mu.len())
        .max_by(|&a, &b| {
            (log_beta[a], mu[a])
                .partial_cmp(&(log_beta[b], mu[b]))
                .expect("finite")
        })
        .expect("dim ≥ 1")
}

/// The time at which coordinate j overtakes coordinate k at depth 2 (μ_j > μ_k, α_j < α_k):
/// α_j² e^{2μ_jτ} = α_k² e^{2μ_kτ} ⇒ τ = ln(α_k/α_j)/(μ_j − μ_k) (B6, "GD can also lead with the minor
/// coordinate for a while"). `None` if j never overtakes or already leads.
pub fn overtake_time_depth2(mu: &[f64], alpha: &[f64], j: usize, k: usize) -> Option<f64> {
    let tau = (alpha[k] / alpha[j]).ln() / (mu[j] - mu[k]);
    (mu[j] > mu[k] && alpha[j] < alpha[k] && tau.is_finite()).then_some(tau)
}

/// The depth-L GD limit direction index: argmax μ_j α_j^{L−2} (Cor 3.5 at ρ = 0).
pub fn limit_index(mu: &[f64], alpha: &[f64], depth: usize) -> Option<usize> {
    linf::limit_index(mu, alpha, 0.0, depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e14_uniform_init_major_leads_at_every_time() {
        let mu = [0.5, 3.0, 1.0, 2.0];
        for tau in [0.0, 1e-6, 0.1, 1.0, 50.0] {
            assert_eq!(dominant_depth2(&mu, &[0.3; 4], tau), 1);
        }
        assert_eq!(limit_index(&mu, &[0.3; 4], 2), Some(1));
    }

    #[test]
    fn depth_two_closed_form_is_exponential() {
        // Same formula reached through the ℓ∞ closed form at ρ = 0: equal to rounding (1e−12 relative).
        let got = beta(&[1.0, 2.0], &[1.5, 0.8], 2, 0.7).unwrap();
        let expected = [1.5f64.powi(2) * 1.4f64.exp(), 0.64 * 2.8f64.exp()];
        for (a, b) in got.iter().zip(expected) {
            assert!((a / b - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn unequal_init_minor_leads_until_overtake() {
        // B6: α = (1.5, 0.8), μ = (1, 2): coordinate 0 leads until τ = ln(1.5/0.8).
        let mu = [1.0, 2.0];
        let alpha = [1.5, 0.8];
        let tau = overtake_time_depth2(&mu, &alpha, 1, 0).unwrap();
        assert!((tau - (1.5f64 / 0.8).ln()).abs() < 1e-15);
        assert_eq!(dominant_depth2(&mu, &alpha, tau - 1e-6), 0);
        assert_eq!(dominant_depth2(&mu, &alpha, tau + 1e-6), 1);
    }
}
