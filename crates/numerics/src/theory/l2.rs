//! ℓ2-SAM at depth 2 on a single example with balanced init: the exact scalar C-ODE (B5.2), β(τ), the
//! dominance criterion and switch times (B5.3–B5.4), original time (B5.8), and the balanced depth-L reduced
//! ODE (B5.9). The same reduction with c_U = ρ·(−ℓ′(m)) is USAM's ([`Perturbation::Unnormalised`]).
//!
//! The C-ODE C'(τ) = ρ / (√2 (Σ_j μ_j² α_j² exp(2μ_jτ − 2μ_j²C))^{1/2}) is integrated by adaptive
//! Dormand–Prince 5(4) steps with a log-sum-exp inside the root, so it reaches large τ without overflow;
//! the dense solution is a cubic Hermite interpolant through the accepted steps (C' is known exactly
//! there). The step itself (tableau, FSAL, embedded error) is the crate-private `ode::dopri_step` on a
//! 1-element state; the step control here is deliberately not [`crate::ode::integrate`]'s: a scalar mixed
//! error scale, factors clamped to [0.2, 5], `max_step` bounding the Hermite error, a step shrunk by 4 when
//! a stage is not finite, and collapse and fate detection between steps.

use crate::error::NumericsError;
use crate::ode::dopri_step;

/// Which perturbation the reduction describes: the same 1-D C-ODE with a different c(τ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Perturbation {
    /// ℓ2-SAM, ε = ρ∇L/‖∇L‖₂ (joint norm): c = ρ/(√2‖μ ⊙ w‖) (B5.1).
    #[default]
    Normalised,
    /// USAM (unnormalised SAM), ε = ρ∇L with the true gradient: c_U = ρ·(−ℓ′(m)), m = Σ_j μ_j β_j.
    ///
    /// Derivation (depth 2, one example (μ, +1), balanced layers w⁽¹⁾ = w⁽²⁾ = w, as B5.1 for ℓ2-SAM):
    /// ∇_{w⁽ˡ⁾}L = ℓ′(m) μ ⊙ w⁽³⁻ˡ⁾ with m = Σ_j μ_j w⁽¹⁾_j w⁽²⁾_j, so the perturbed point is
    /// ŵ⁽ˡ⁾ = w + ρℓ′(m) μ ⊙ w = w ⊙ (1 − c_U μ) with c_U = ρ(−ℓ′(m)) = ρ/(1 + eᵐ), the same for both
    /// layers: balance is preserved. The rescaled flow (outer ℓ′(m̂) replaced by −1) is then
    /// dw_j/dτ = μ_j ŵ_j = μ_j (1 − c_U μ_j) w_j, which is B5.1 with c = ρ/(√2‖μ⊙w‖) replaced by c_U.
    /// Integrating coordinate-wise, w_j(τ) = α_j exp(μ_jτ − μ_j² C(τ)) with C(τ) = ∫₀^τ c_U, and c_U is a
    /// function of C through m = Σ_j μ_j α_j² exp(2μ_jτ − 2μ_j²C):
    ///   C′(τ) = ρ / (1 + exp(Σ_j μ_j α_j² exp(2μ_jτ − 2μ_j² C))),   C(0) = 0,
    /// and the dominance criterion (B5.3: k leads iff 1/(μ_k+μ_{k+1}) ≤ ĉ = C/τ ≤ 1/(μ_{k−1}+μ_k)) is
    /// unchanged, since it depends only on the form of β_j(τ, C). The difference from ℓ2-SAM is the size of
    /// c: c_U < ρ always (c_U ≤ ρ/2 while m ≥ 0) and c_U → 0 as the margin grows, whereas ℓ2-SAM's c grows
    /// without bound as the weights shrink. For ρ → 0 the USAM direction is ∇L(θ + ρ∇L) =
    /// ∇L + ρ∇²L∇L + O(ρ²) = ∇(L + (ρ/2)‖∇L‖²) + O(ρ²): a gradient flow on the gradient-norm-penalised
    /// loss, GD's flow as ρ → 0. The discrete USAM runs are tested against this C-ODE (both clocks,
    /// first order in η) in `tests/usam.rs`; the derivation is also in `docs/usam.md`.
    Unnormalised,
}

/// Validated inputs: μ_j > 0, α_j > 0, ρ > 0, all finite, equal lengths.
#[derive(Debug, Clone, PartialEq)]
pub struct L2Config {
    mu: Vec<f64>,
    alpha: Vec<f64>,
    rho: f64,
    perturbation: Perturbation,
}

impl L2Config {
    /// Validate a per-coordinate init α.
    pub fn new(mu: &[f64], alpha: &[f64], rho: f64) -> Result<Self, NumericsError> {
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
        if !(rho.is_finite() && rho > 0.0) {
            return Err(NumericsError::invalid(
                "rho",
                format!("{rho} is not a finite number > 0"),
            ));
        }
        Ok(Self {
            mu: mu.to_vec(),
            alpha: alpha.to_vec(),
            rho,
            perturbation: Perturbation::Normalised,
        })
    }

    /// The same inputs for USAM's C-ODE ([`Perturbation::Unnormalised`]).
    pub fn usam(mu: &[f64], alpha: &[f64], rho: f64) -> Result<Self, NumericsError> {
        Ok(Self {
            perturbation: Perturbation::Unnormalised,
            ..Self::new(mu, alpha, rho)?
        })
    }

    pub fn perturbation(&self) -> Perturbation {
        self.perturbation
    }

    /// Uniform init α_j = `alpha` for every coordinate.
    pub fn uniform(mu: &[f64], alpha: f64, rho: f64) -> Result<Self, NumericsError> {
        Self::new(mu, &vec![alpha; mu.len()], rho)
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
    pub fn dim(&self) -> usize {
        self.mu.len()
    }

    /// ln β_j = 2 ln α_j + 2μ_jτ − 2μ_j² C (B5.2).
    pub fn log_beta(&self, j: usize, tau: f64, big_c: f64) -> f64 {
        let mu = self.mu[j];
        2.0 * self.alpha[j].ln() + 2.0 * mu * tau - 2.0 * mu * mu * big_c
    }

    /// ln ‖μ ⊙ w‖ at (τ, C), by log-sum-exp so that neither huge nor tiny norms overflow.
    pub fn log_norm_mu_w(&self, tau: f64, big_c: f64) -> f64 {
        let terms = (0..self.dim()).map(|j| 2.0 * self.mu[j].ln() + self.log_beta(j, tau, big_c));
        0.5 * log_sum_exp(terms)
    }

    /// The right side C'(τ) = c(τ) = ρ / (√2 ‖μ ⊙ w‖) (ℓ2-SAM), or ρ·(−ℓ′(Σ_j μ_j β_j)) (USAM).
    pub fn rate(&self, tau: f64, big_c: f64) -> f64 {
        match self.perturbation {
            Perturbation::Normalised => {
                self.rho / std::f64::consts::SQRT_2 * (-self.log_norm_mu_w(tau, big_c)).exp()
            }
            Perturbation::Unnormalised => {
                let margin: f64 = (0..self.dim())
                    .map(|j| self.mu[j] * self.log_beta(j, tau, big_c).exp())
                    .sum();
                self.rho * crate::model::neg_dloss(margin)
            }
        }
    }

    /// c_0 = c(0), the perturbation coefficient at initialisation.
    pub fn c0(&self) -> f64 {
        self.rate(0.0, 0.0)
    }
}

fn log_sum_exp(terms: impl Iterator<Item = f64> + Clone) -> f64 {
    let max = terms.clone().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + terms.map(|t| (t - max).exp()).sum::<f64>().ln()
}

/// When to stop integrating the C-ODE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct COdeOptions {
    /// Integrate on [0, tau_end] unless the flow collapses (or is decided, see `stop_when_decided`) first.
    pub tau_end: f64,
    /// Relative and absolute local error tolerances of the Dormand–Prince steps.
    pub rtol: f64,
    pub atol: f64,
    /// Largest step; it also bounds the error of the cubic Hermite dense output (∝ h⁴).
    pub max_step: f64,
    /// Stop as soon as the fate is certain: growth once c μ_max < 1 and c < ĉ (all coordinates grow from
    /// then on, ĉ falls, so the dominant index of a uniform init can only climb), collapse once c μ_min > 1.
    pub stop_when_decided: bool,
    /// The flow is declared collapsed when ‖μ ⊙ w‖ < collapse_floor · ρ‖μ‖ (the remaining τ is then of
    /// the same order as the floor, so the reported end time is accurate to about that).
    pub collapse_floor: f64,
}

impl COdeOptions {
    /// Defaults accurate to ~1e−10 in C: rtol = atol = 1e−12, max_step = 5e−3.
    pub fn until(tau_end: f64) -> Self {
        Self {
            tau_end,
            rtol: 1e-12,
            atol: 1e-12,
            max_step: 5e-3,
            stop_when_decided: false,
            collapse_floor: 1e-10,
        }
    }

    /// As [`COdeOptions::until`] but stops once the fate is certain.
    pub fn until_decided(tau_max: f64) -> Self {
        Self {
            stop_when_decided: true,
            ..Self::until(tau_max)
        }
    }
}

/// Why the integration ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CEnd {
    /// Reached `tau_end`.
    Reached,
    /// ‖μ ⊙ w‖ fell below the collapse floor: the flow ends (0/0) at the last knot's τ (B5.6, regime 1).
    Collapsed,
    /// `stop_when_decided`: growth is certain from the last knot on.
    GrowthCertified,
    /// `stop_when_decided`: collapse is certain from the last knot on.
    CollapseCertified,
}

/// The long-run fate of ‖β‖.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// ‖β‖ → ∞, β/‖β‖ → the ℓ1 max-margin direction.
    Grows,
    /// ‖β‖ → 0 in finite τ.
    Collapses,
    /// Not yet certain at the end of the integration.
    Undecided,
}

/// A change of the dominant coordinate argmax_j β_j at rescaled time `tau` (0-based indices).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Switch {
    pub from: usize,
    pub to: usize,
    pub tau: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Knot {
    tau: f64,
    c: f64,
    dc: f64,
    /// ln of the original time t(τ) = ∫_0^τ (1 + e^{m̂}) dτ' (B5.8).
    log_t: f64,
}

/// The dense solution C(τ) on [0, tau_end()].
#[derive(Debug, Clone, PartialEq)]
pub struct CSolution {
    config: L2Config,
    knots: Vec<Knot>,
    end: CEnd,
}

/// Integrate the C-ODE (B5.2). Collapse is a result (`CEnd::Collapsed`), not an error; an error means the
/// step size underflowed without a certified collapse, or invalid options.
pub fn solve_c_ode(config: &L2Config, options: &COdeOptions) -> Result<CSolution, NumericsError> {
    if !(options.tau_end.is_finite() && options.tau_end > 0.0) {
        return Err(NumericsError::invalid(
            "tau_end",
            format!("{} is not finite and > 0", options.tau_end),
        ));
    }
    if !(options.rtol > 0.0
        && options.atol > 0.0
        && options.max_step > 0.0
        && options.collapse_floor > 0.0)
    {
        return Err(NumericsError::invalid(
            "c-ode options",
            "tolerances and max_step must be > 0",
        ));
    }
    let mu_max = config.mu.iter().copied().fold(f64::MIN, f64::max);
    let mu_min = config.mu.iter().copied().fold(f64::MAX, f64::min);
    let norm_mu = config.mu.iter().map(|m| m * m).sum::<f64>().sqrt();
    let log_floor = (options.collapse_floor * config.rho * norm_mu).ln();
    let mut f = |tau: f64, big_c: &[f64], dc: &mut [f64]| dc[0] = config.rate(tau, big_c[0]);

    let dc0 = config.rate(0.0, 0.0);
    let mut knots = vec![Knot {
        tau: 0.0,
        c: 0.0,
        dc: dc0,
        log_t: f64::NEG_INFINITY,
    }];
    let mut tau = 0.0;
    let mut big_c = 0.0;
    // The stages k_1..k_7 of the current step; k_1 = C'(τ, C) (FSAL: k_7 of the last accepted step).
    let mut k = [[0.0]; 7];
    k[0][0] = dc0;
    let (mut stage, mut c_next, mut c_error) = ([0.0], [0.0], [0.0]);
    let mut h = options.max_step.min(1e-3);
    let end = loop {
        if tau >= options.tau_end {
            break CEnd::Reached;
        }
        let k1 = k[0][0];
        if options.stop_when_decided {
            let c_hat = if tau > 0.0 { big_c / tau } else { k1 };
            if k1 * mu_max < 1.0 && k1 < c_hat {
                break CEnd::GrowthCertified;
            }
            if k1 * mu_min > 1.0 {
                break CEnd::CollapseCertified;
            }
        }
        h = h.min(options.max_step).min(options.tau_end - tau);
        if h < 1e-15 * tau.max(1.0) {
            if k1 * mu_min > 1.0 {
                break CEnd::Collapsed;
            }
            return Err(NumericsError::Solver(format!(
                "c-ode step size underflow at tau = {tau}"
            )));
        }
        dopri_step(
            &mut f,
            tau,
            h,
            &[big_c],
            &mut k,
            &mut stage,
            &mut c_next,
            &mut c_error,
        );
        // A non-finite stage means the trial step overshot into the collapse singularity.
        if !k[1..]
            .iter()
            .map(|v| v[0])
            .chain([c_next[0], c_error[0]])
            .all(f64::is_finite)
        {
            h *= 0.25;
            continue;
        }
        let (c_new, err) = (c_next[0], c_error[0]);
        let scale = options.atol + options.rtol * big_c.abs().max(c_new.abs());
        let ratio = (err / scale).abs();
        if ratio <= 1.0 {
            let tau_new = tau + h;
            let mut knot = Knot {
                tau: tau_new,
                c: c_new,
                dc: k[6][0],
                log_t: 0.0,
            };
            knot.log_t = accumulate_log_t(config, knots.last().expect("initial knot"), &knot);
            knots.push(knot);
            tau = tau_new;
            big_c = c_new;
            k[0] = k[6];
            if config.log_norm_mu_w(tau, big_c) < log_floor {
                break CEnd::Collapsed;
            }
        }
        let factor = if ratio == 0.0 {
            5.0
        } else {
            (0.9 * ratio.powf(-0.2)).clamp(0.2, 5.0)
        };
        h *= factor;
    };
    Ok(CSolution {
        config: config.clone(),
        knots,
        end,
    })
}

/// ln(1 + e^x) without overflow.
fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// ln ∫_0^h exp(f0 + (f1 − f0) s/h) ds: exact for exponential integrands, second order otherwise, and it
/// stays finite for integrands far beyond f64 range.
fn log_integral_exp_linear(f0: f64, f1: f64, h: f64) -> f64 {
    let delta = f1 - f0;
    if delta.abs() < 1e-8 {
        return h.ln() + 0.5 * (f0 + f1);
    }
    if delta > 0.0 {
        h.ln() + f1 + (-(-delta).exp_m1() / delta).ln()
    } else {
        h.ln() + f0 + ((delta).exp_m1() / delta).ln()
    }
}

fn log_add_exp(a: f64, b: f64) -> f64 {
    let max = a.max(b);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + ((a - max).exp() + (b - max).exp()).ln()
}

/// ln(1 + e^{m̂}) at a knot, m̂ = Σ_j μ_j β_j (1 − c μ_j)² the perturbed margin (B5.1).
fn log_speed(config: &L2Config, tau: f64, big_c: f64, rate: f64) -> f64 {
    let terms = (0..config.dim()).map(|j| {
        let mu = config.mu[j];
        mu.ln() + config.log_beta(j, tau, big_c) + 2.0 * (1.0 - rate * mu).abs().ln()
    });
    softplus(log_sum_exp(terms).exp())
}

fn accumulate_log_t(config: &L2Config, left: &Knot, right: &Knot) -> f64 {
    let f0 = log_speed(config, left.tau, left.c, left.dc);
    let f1 = log_speed(config, right.tau, right.c, right.dc);
    log_add_exp(
        left.log_t,
        log_integral_exp_linear(f0, f1, right.tau - left.tau),
    )
}

impl CSolution {
    pub fn config(&self) -> &L2Config {
        &self.config
    }

    /// Why the integration stopped.
    pub fn end(&self) -> CEnd {
        self.end
    }

    /// The last rescaled time covered by the solution.
    pub fn tau_end(&self) -> f64 {
        self.knots.last().expect("at least the initial knot").tau
    }

    /// The (numerical) end of the flow when it collapsed.
    pub fn collapse_time(&self) -> Option<f64> {
        (self.end == CEnd::Collapsed).then(|| self.tau_end())
    }

    /// The fate certified by the final state: growth once c μ_max < 1, collapse once c μ_min > 1.
    pub fn fate(&self) -> Fate {
        let last = self.knots.last().expect("initial knot");
        let mu_max = self.config.mu.iter().copied().fold(f64::MIN, f64::max);
        let mu_min = self.config.mu.iter().copied().fold(f64::MAX, f64::min);
        if matches!(self.end, CEnd::Collapsed | CEnd::CollapseCertified) || last.dc * mu_min > 1.0 {
            Fate::Collapses
        } else if last.dc * mu_max < 1.0 {
            Fate::Grows
        } else {
            Fate::Undecided
        }
    }

    fn interval(&self, tau: f64) -> usize {
        let idx = self.knots.partition_point(|k| k.tau <= tau);
        idx.clamp(1, self.knots.len() - 1) - 1
    }

    /// C(τ) by cubic Hermite interpolation (τ is clamped to [0, tau_end()]).
    pub fn c_at(&self, tau: f64) -> f64 {
        if self.knots.len() == 1 {
            return 0.0;
        }
        let tau = tau.clamp(0.0, self.tau_end());
        let i = self.interval(tau);
        let (a, b) = (&self.knots[i], &self.knots[i + 1]);
        let h = b.tau - a.tau;
        let s = (tau - a.tau) / h;
        let h00 = (1.0 + 2.0 * s) * (1.0 - s) * (1.0 - s);
        let h10 = s * (1.0 - s) * (1.0 - s);
        let h01 = s * s * (3.0 - 2.0 * s);
        let h11 = s * s * (s - 1.0);
        h00 * a.c + h10 * h * a.dc + h01 * b.c + h11 * h * b.dc
    }

    /// c(τ) = C'(τ), evaluated exactly from the interpolated C.
    pub fn rate_at(&self, tau: f64) -> f64 {
        self.config.rate(tau, self.c_at(tau))
    }

    /// ĉ(τ) = C(τ)/τ, the running mean of c (B5.3); c_0 at τ = 0.
    pub fn c_hat_at(&self, tau: f64) -> f64 {
        if tau <= 0.0 {
            self.knots[0].dc
        } else {
            self.c_at(tau) / tau
        }
    }

    /// ln β_j(τ) for every coordinate (finite far beyond the range of β itself).
    pub fn log_beta_at(&self, tau: f64) -> Vec<f64> {
        let big_c = self.c_at(tau);
        (0..self.config.dim())
            .map(|j| self.config.log_beta(j, tau, big_c))
            .collect()
    }

    /// β(τ) = α² exp(2μτ − 2μ²C(τ)) (B5.2).
    pub fn beta_at(&self, tau: f64) -> Vec<f64> {
        self.log_beta_at(tau).into_iter().map(f64::exp).collect()
    }

    /// w(τ) = α exp(μτ − μ²C(τ)), the common layer value.
    pub fn w_at(&self, tau: f64) -> Vec<f64> {
        self.log_beta_at(tau)
            .into_iter()
            .map(|l| (0.5 * l).exp())
            .collect()
    }

    /// argmax_j β_j(τ); ties (e.g. uniform init at τ = 0) go to the larger growth rate 2μ_j(1 − cμ_j), so
    /// at τ = 0 this is the initial dominant index k_0 of B5.5.
    pub fn dominant_at(&self, tau: f64) -> usize {
        let log_beta = self.log_beta_at(tau);
        let rate = self.rate_at(tau);
        let key = |j: usize| {
            let mu = self.config.mu[j];
            (log_beta[j], mu * (1.0 - rate * mu))
        };
        (0..log_beta.len())
            .max_by(|&a, &b| key(a).partial_cmp(&key(b)).expect("finite log β"))
            .expect("dim ≥ 1")
    }

    /// Every change of the dominant coordinate on [0, tau_end()], in order, with its time located by
    /// bisection on the dense solution to ~1e−13 (B5.3–B5.4; includes early downward moves).
    pub fn switches(&self) -> Vec<Switch> {
        let mut current = self.dominant_at(0.0);
        let mut switches = Vec::new();
        let gap = |j: usize, cur: usize, tau: f64| {
            let big_c = self.c_at(tau);
            self.config.log_beta(j, tau, big_c) - self.config.log_beta(cur, tau, big_c)
        };
        for window in self.knots.windows(2) {
            let mut lo = window[0].tau;
            let hi = window[1].tau;
            // Several coordinates may overtake within one step: take the earliest crossing, move the lower
            // end there and look again.
            loop {
                let mut earliest: Option<(usize, f64)> = None;
                for j in 0..self.config.dim() {
                    if j == current || gap(j, current, hi) <= 0.0 {
                        continue;
                    }
                    let (mut a, mut b) = (lo, hi);
                    for _ in 0..200 {
                        let mid = 0.5 * (a + b);
                        if mid <= a || mid >= b {
                            break;
                        }
                        if gap(j, current, mid) > 0.0 {
                            b = mid
                        } else {
                            a = mid
                        }
                    }
                    if earliest.is_none_or(|(_, t)| b < t) {
                        earliest = Some((j, b));
                    }
                }
                let Some((to, tau)) = earliest else { break };
                switches.push(Switch {
                    from: current,
                    to,
                    tau,
                });
                current = to;
                lo = tau;
            }
        }
        switches
    }

    /// Every switch with log10 of the original time t at which it happens (B5.8: with μ of order 1 only
    /// the first switch or two are reachable in original time).
    pub fn switches_with_log10_time(&self) -> Vec<(Switch, f64)> {
        self.switches()
            .into_iter()
            .map(|s| (s, self.log10_original_time_at(s.tau)))
            .collect()
    }

    /// The dominant index at τ = 0+ followed by every switch.
    pub fn dominant_sequence(&self) -> (usize, Vec<Switch>) {
        (self.dominant_at(0.0), self.switches())
    }

    /// C_∞ = lim C(τ) when growth is certified: C(τ_end) plus the tail ∫ c ≈ c(τ_end)/μ_max (c decays like
    /// exp(−μ_max τ) once the major coordinate dominates). `None` unless the fate is `Grows`.
    pub fn c_infinity(&self) -> Option<f64> {
        if self.fate() != Fate::Grows {
            return None;
        }
        let last = self.knots.last().expect("initial knot");
        let mu_max = self.config.mu.iter().copied().fold(f64::MIN, f64::max);
        Some(last.c + last.dc / mu_max)
    }

    /// The late-time approximation τ_{k→k+1} ≈ C_∞ (μ_k + μ_{k+1}) (B5.4).
    pub fn asymptotic_switch_time(&self, k: usize) -> Option<f64> {
        let next = self.config.mu.get(k + 1)?;
        self.c_infinity()
            .map(|c_inf| c_inf * (self.config.mu[k] + next))
    }

    /// max over τ ∈ [0, tau_end()] of ln(β_i/β_j), with its location: knot maximum refined by golden-section
    /// search on the neighbouring intervals (B5.8 "peak minor dominance" is exp of this for (0, 1)).
    pub fn peak_log_ratio(&self, i: usize, j: usize) -> (f64, f64) {
        let g = |tau: f64| {
            let big_c = self.c_at(tau);
            self.config.log_beta(i, tau, big_c) - self.config.log_beta(j, tau, big_c)
        };
        let best = (0..self.knots.len())
            .max_by(|&a, &b| g(self.knots[a].tau).total_cmp(&g(self.knots[b].tau)))
            .expect("initial knot");
        let lo = self.knots[best.saturating_sub(1)].tau;
        let hi = self.knots[(best + 1).min(self.knots.len() - 1)].tau;
        let (mut a, mut b) = (lo, hi);
        let golden = 0.5 * (5f64.sqrt() - 1.0);
        for _ in 0..100 {
            let x1 = b - golden * (b - a);
            let x2 = a + golden * (b - a);
            if g(x1) < g(x2) { a = x1 } else { b = x2 }
        }
        let tau = 0.5 * (a + b);
        let knot_tau = self.knots[best].tau;
        if g(knot_tau) >= g(tau) {
            (knot_tau, g(knot_tau))
        } else {
            (tau, g(tau))
        }
    }

    /// ln t(τ), t(τ) = ∫_0^τ (1 + e^{m̂}) dτ' the original time of the rescaled point τ (B5.8), accumulated
    /// in log space so that t ≈ 10^13458 is representable.
    pub fn ln_original_time_at(&self, tau: f64) -> f64 {
        if tau <= 0.0 || self.knots.len() == 1 {
            return f64::NEG_INFINITY;
        }
        let tau = tau.min(self.tau_end());
        let i = self.interval(tau);
        let left = &self.knots[i];
        let big_c = self.c_at(tau);
        let right = Knot {
            tau,
            c: big_c,
            dc: self.config.rate(tau, big_c),
            log_t: 0.0,
        };
        if tau == left.tau {
            return left.log_t;
        }
        accumulate_log_t(&self.config, left, &right)
    }

    /// log10 t(τ).
    pub fn log10_original_time_at(&self, tau: f64) -> f64 {
        self.ln_original_time_at(tau) / std::f64::consts::LN_10
    }
}

/// For balanced init, per-layer normalisation of the ℓ2-SAM perturbation with radius ρ equals joint
/// normalisation (the project's convention) with radius √L·ρ (B2): every layer's gradient has the same norm.
pub fn joint_rho_for_per_layer(rho_per_layer: f64, depth: usize) -> f64 {
    rho_per_layer * (depth as f64).sqrt()
}

/// The balanced perturbed point ŵ_j = w_j (1 − c_L μ_j w_j^{L−2}), c_L = ρ/(√L ‖μ ⊙ w^{L−1}‖) of ℓ2-SAM at
/// depth L on a single example (B5.9); ŵ = w when the gradient vanishes.
pub fn balanced_perturbed(mu: &[f64], rho: f64, depth: usize, w: &[f64]) -> Vec<f64> {
    let exponent = i32::try_from(depth).expect("depth fits in i32") - 1;
    let norm = mu
        .iter()
        .zip(w)
        .map(|(m, x)| (m * x.powi(exponent)).powi(2))
        .sum::<f64>()
        .sqrt();
    if norm == 0.0 {
        return w.to_vec();
    }
    let c_l = rho / ((depth as f64).sqrt() * norm);
    mu.iter()
        .zip(w)
        .map(|(m, x)| x * (1.0 - c_l * m * x.powi(exponent - 1)))
        .collect()
}

/// The balanced rescaled ℓ2-SAM flow at depth L ≥ 1 (B5.9): dw_j/dτ = μ_j ŵ_j^{L−1}. Writes into `dw`.
/// At L = 2 this is the reduced ODE of B5.1, dw_j/dτ = μ_j (1 − c μ_j) w_j.
pub fn balanced_rhs(mu: &[f64], rho: f64, depth: usize, w: &[f64], dw: &mut [f64]) {
    let exponent = i32::try_from(depth).expect("depth fits in i32") - 1;
    let w_hat = balanced_perturbed(mu, rho, depth, w);
    for ((out, m), x) in dw.iter_mut().zip(mu).zip(&w_hat) {
        *out = m * x.powi(exponent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uniform(mu: &[f64], alpha: f64, tau_end: f64) -> CSolution {
        solve_c_ode(
            &L2Config::uniform(mu, alpha, 1.0).unwrap(),
            &COdeOptions::until(tau_end),
        )
        .unwrap()
    }

    const MU5: [f64; 5] = [1.0, 2.0, 3.0, 4.0, 5.0];

    /// Fixed-step RK4 of the reduced d-dimensional ODE (B5.1), a second method for the C-ODE.
    fn rk4_reduced(
        mu: &[f64],
        alpha: &[f64],
        rho: f64,
        depth: usize,
        tau: f64,
        h: f64,
    ) -> Vec<f64> {
        let d = mu.len();
        let mut w = alpha.to_vec();
        let steps = (tau / h).round() as usize;
        let f = |w: &[f64]| {
            let mut out = vec![0.0; d];
            balanced_rhs(mu, rho, depth, w, &mut out);
            out
        };
        for _ in 0..steps {
            let k1 = f(&w);
            let w2: Vec<f64> = (0..d).map(|j| w[j] + 0.5 * h * k1[j]).collect();
            let k2 = f(&w2);
            let w3: Vec<f64> = (0..d).map(|j| w[j] + 0.5 * h * k2[j]).collect();
            let k3 = f(&w3);
            let w4: Vec<f64> = (0..d).map(|j| w[j] + h * k3[j]).collect();
            let k4 = f(&w4);
            for j in 0..d {
                w[j] += h / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j]);
            }
        }
        w
    }

    #[test]
    fn c_ode_matches_reduced_ode_e9() {
        // E9: μ = (1,2,3), ρ = 1, α = (0.5,0.4,0.3), τ = 1.5, spec value w ≈ (0.4947, 0.01908, 3.36e−5).
        // RK4 with h = 1e−3 on the d-dim ODE has error ~h⁴·|w⁽⁵⁾| ≲ 1e−10; the C-ODE ~1e−10: 1e−8 relative.
        let config = L2Config::new(&[1.0, 2.0, 3.0], &[0.5, 0.4, 0.3], 1.0).unwrap();
        let solution = solve_c_ode(&config, &COdeOptions::until(1.5)).unwrap();
        let w = solution.w_at(1.5);
        let reference = rk4_reduced(&[1.0, 2.0, 3.0], &[0.5, 0.4, 0.3], 1.0, 2, 1.5, 1e-3);
        for (a, b) in w.iter().zip(&reference) {
            assert!((a - b).abs() <= 1e-8 * b.abs(), "{w:?} vs {reference:?}");
        }
        // The spec quotes 4 significant digits.
        assert!((w[0] - 0.4947).abs() < 1e-4 && (w[1] - 0.01908).abs() < 1e-5);
        assert!((w[2] - 3.36e-5).abs() < 1e-7);
    }

    #[test]
    fn e10_switch_times() {
        // Spec values are rounded to 3 decimals (2 for α = 0.53) from an RK4 dt = 1e−3 run; the spec's
        // tolerance is ±2·dt = 2e−3 (1e−2 for the 2-decimal value).
        for (alpha, expected, tol) in [
            (0.53, 10.54, 1e-2),
            (0.55, 6.81, 1e-2),
            (0.6, 3.16, 1e-2),
            (0.7, 1.294, 2e-3),
            (0.8, 0.598, 2e-3),
            (0.9, 0.165, 2e-3),
        ] {
            let solution = uniform(&[1.0, 2.0], alpha, 30.0);
            let (first, switches) = solution.dominant_sequence();
            assert_eq!(first, 0, "alpha {alpha}");
            assert_eq!(switches.len(), 1, "alpha {alpha}: {switches:?}");
            assert_eq!((switches[0].from, switches[0].to), (0, 1));
            assert!(
                (switches[0].tau - expected).abs() < tol,
                "alpha {alpha}: {switches:?}"
            );
            // B5.3: the switch happens exactly where C(τ) = τ/(μ_1 + μ_2), i.e. ĉ = 1/3.
            assert!((solution.c_hat_at(switches[0].tau) - 1.0 / 3.0).abs() < 1e-9);
        }
        // α ≥ 0.948683: coordinate 2 from the start, no switch.
        let major = uniform(&[1.0, 2.0], 0.95, 30.0);
        assert_eq!(major.dominant_sequence(), (1, vec![]));
        // α < α_c collapses in finite τ.
        let collapse = uniform(&[1.0, 2.0], 0.5, 200.0);
        assert_eq!(collapse.end(), CEnd::Collapsed);
        assert_eq!(collapse.fate(), Fate::Collapses);
        assert!(collapse.collapse_time().unwrap() < 200.0);
    }

    #[test]
    fn e12_sequences() {
        // Spec: switch times to 3 decimals from RK4 dt = 1e−3; tolerance ±2·dt = 2e−3 (spec section E).
        let check = |alpha: f64, first: usize, expected: &[(usize, usize, f64)]| {
            let solution = uniform(&MU5, alpha, 20.0);
            let (start, switches) = solution.dominant_sequence();
            assert_eq!(start, first, "alpha {alpha}");
            assert_eq!(
                switches.len(),
                expected.len(),
                "alpha {alpha}: {switches:?}"
            );
            for (s, &(from, to, tau)) in switches.iter().zip(expected) {
                assert_eq!((s.from, s.to), (from, to), "alpha {alpha}: {switches:?}");
                assert!((s.tau - tau).abs() < 2e-3, "alpha {alpha}: {switches:?}");
            }
        };
        // Paper indices are 1-based: α = 0.36 runs 2→1→2→3→4→5, α = 0.40 runs 2→3→4→5, α = 0.60 3→4→5.
        check(
            0.36,
            1,
            &[
                (1, 0, 0.633),
                (0, 1, 2.706),
                (1, 2, 4.923),
                (2, 3, 6.896),
                (3, 4, 8.866),
            ],
        );
        check(0.40, 1, &[(1, 2, 1.044), (2, 3, 1.701), (3, 4, 2.219)]);
        check(0.60, 2, &[(2, 3, 0.150), (3, 4, 0.427)]);
        check(1.0, 4, &[]);
    }

    #[test]
    fn c_infinity_and_asymptotic_switches() {
        // B5.4 quotes C_∞ to 3–4 digits: 0.985 (α = 0.36) and 0.2469 (α = 0.4).
        // The predicted times 4.925, 6.895, 8.865 are 0.985·(μ_k + μ_{k+1}) with C_∞ rounded to ±5e−4,
        // i.e. defined only to ±4.5e−3: hence 5e−3.
        let s36 = uniform(&MU5, 0.36, 40.0);
        assert!((s36.c_infinity().unwrap() - 0.985).abs() < 1e-3);
        for (k, predicted) in [(1, 4.925), (2, 6.895), (3, 8.865)] {
            assert!((s36.asymptotic_switch_time(k).unwrap() - predicted).abs() < 5e-3);
        }
        let s40 = uniform(&MU5, 0.4, 40.0);
        assert!((s40.c_infinity().unwrap() - 0.2469).abs() < 1e-4);
        // Collapsing flows have no C_∞.
        assert_eq!(uniform(&[1.0, 2.0], 0.5, 200.0).c_infinity(), None);
    }

    #[test]
    fn reaches_large_tau_without_overflow() {
        // ln β_5 ≈ 2·5·300 = 3000 ≫ 709: β itself would overflow, the log-space solution must not.
        let solution = uniform(&MU5, 1.0, 300.0);
        assert_eq!(solution.end(), CEnd::Reached);
        let log_beta = solution.log_beta_at(300.0);
        assert!(log_beta.iter().all(|l| l.is_finite()) && log_beta[4] > 2000.0);
        assert!(solution.rate_at(300.0) >= 0.0);
    }

    #[test]
    fn peak_minor_dominance_b58() {
        // B5.8 quotes the peaks to 2–3 significant digits.
        for (alpha, expected, rel) in [
            (0.53, 1.6e4, 0.05),
            (0.55, 136.0, 0.01),
            (0.6, 3.8, 0.02),
            (0.7, 1.30, 0.01),
            (0.8, 1.06, 0.005),
            (0.9, 1.005, 0.001),
        ] {
            let (_, log_ratio) = uniform(&[1.0, 2.0], alpha, 40.0).peak_log_ratio(0, 1);
            let ratio = log_ratio.exp();
            assert!(
                (ratio / expected - 1.0).abs() < rel,
                "alpha {alpha}: {ratio}"
            );
        }
    }

    #[test]
    fn original_time_at_switches_b58() {
        // B5.8 quotes t ≈ 8 and ≈ 1.9 (discrete η = 0.01 gave 8.27 and about 1.9) and log10 t ≈ 1.6, 201,
        // 13458: "roughly", so 10 % on t and 1 % on log10 t.
        let s = uniform(&[1.0, 2.0], 0.7, 5.0);
        let t = s.ln_original_time_at(s.switches()[0].tau).exp();
        assert!((t / 8.2 - 1.0).abs() < 0.1, "{t}");
        let s = uniform(&[1.0, 2.0], 0.8, 5.0);
        let t = s.ln_original_time_at(s.switches()[0].tau).exp();
        assert!((t / 1.9 - 1.0).abs() < 0.1, "{t}");
        let s = uniform(&MU5, 0.4, 5.0);
        let logs: Vec<f64> = s.switches_with_log10_time().iter().map(|p| p.1).collect();
        for (got, want) in logs.iter().zip([1.6, 201.0, 13458.0]) {
            assert!((got / want - 1.0).abs() < 0.05, "{logs:?}");
        }
        // Without the perturbed margin t(τ) ≥ τ, and it is increasing.
        assert!(s.ln_original_time_at(1.0) < s.ln_original_time_at(2.0));
        assert!(s.ln_original_time_at(0.5).exp() >= 0.5);
    }

    #[test]
    fn original_time_matches_direct_quadrature() {
        // Second method: RK4 (h = 1e−4) of the reduced ODE with t accumulated by the trapezoid rule on
        // 1 + e^{m̂}, m̂ = Σ μ_j w_j² (1 − cμ_j)² from w directly (O(h²) ≈ 1e−8 relative). The solution's
        // exponential-linear quadrature over knots ≤ 5e−3 apart is second order, error ~ (5e−3)²·|f''|/12
        // with f = ln(1 + e^{m̂}), |f''| ≲ 50 here: 1e−4 relative covers it.
        let (mu, alpha, tau_end, h): ([f64; 2], [f64; 2], f64, f64) =
            ([1.0, 2.0], [0.7, 0.7], 1.3, 1e-4);
        let speed = |w: &[f64]| {
            let c =
                1.0 / (2f64.sqrt() * (0..2).map(|j| (mu[j] * w[j]).powi(2)).sum::<f64>().sqrt());
            let margin: f64 = (0..2)
                .map(|j| mu[j] * w[j] * w[j] * (1.0 - c * mu[j]).powi(2))
                .sum();
            1.0 + margin.exp()
        };
        let mut w = alpha.to_vec();
        let mut t = 0.0;
        let steps = (tau_end / h).round() as usize;
        for _ in 0..steps {
            let before = speed(&w);
            w = rk4_reduced(&mu, &w, 1.0, 2, h, h);
            t += 0.5 * h * (before + speed(&w));
        }
        let solution = solve_c_ode(
            &L2Config::new(&mu, &alpha, 1.0).unwrap(),
            &COdeOptions::until(2.0),
        )
        .unwrap();
        let ours = solution.ln_original_time_at(tau_end).exp();
        assert!((ours / t - 1.0).abs() < 1e-4, "{ours} vs {t}");
    }

    #[test]
    fn per_layer_normalisation_equals_joint_with_sqrt_l_rho() {
        // Direct computation on a balanced L = 2 state: per-layer ε_l = ρ g_l/‖g_l‖ equals joint
        // ε_l = ρ' g_l/‖(g_1, g_2)‖ with ρ' = √2 ρ. Equal up to rounding (1e−14).
        let mu = [1.0, 2.0, 0.5];
        let w = [0.3, 0.7, 1.1];
        let rho = 0.4;
        let g: Vec<f64> = mu.iter().zip(&w).map(|(m, x)| m * x).collect();
        let layer_norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
        let joint_norm = (2.0 * layer_norm * layer_norm).sqrt();
        let rho_joint = joint_rho_for_per_layer(rho, 2);
        for v in &g {
            assert!((rho * v / layer_norm - rho_joint * v / joint_norm).abs() < 1e-14);
        }
    }

    #[test]
    fn balanced_perturbation_matches_generic_gradient() {
        // Build the L × d gradient of the single-example margin from scratch (G_l = μ ⊙ Π_{k≠l} w^(k)) and
        // take the joint-normalised ascent step ε = −ρ G/‖G‖ (ℓ′ < 0); equal to the balanced formula up to
        // rounding.
        let mu = [1.0, 2.0, 3.0];
        let w = [0.6, 0.5, 0.4];
        let rho = 0.7;
        for depth in 1..=4usize {
            let layers = vec![w.to_vec(); depth];
            let grad: Vec<Vec<f64>> = (0..depth)
                .map(|l| {
                    (0..3)
                        .map(|j| {
                            mu[j]
                                * (0..depth)
                                    .filter(|&k| k != l)
                                    .map(|k| layers[k][j])
                                    .product::<f64>()
                        })
                        .collect()
                })
                .collect();
            let norm = grad.iter().flatten().map(|v| v * v).sum::<f64>().sqrt();
            let expected: Vec<f64> = (0..3).map(|j| w[j] - rho * grad[0][j] / norm).collect();
            let got = balanced_perturbed(&mu, rho, depth, &w);
            for (a, b) in got.iter().zip(&expected) {
                assert!((a - b).abs() < 1e-14, "L {depth}: {got:?} vs {expected:?}");
            }
        }
    }

    #[test]
    fn depth_two_balanced_rhs_is_the_reduced_ode() {
        // Same formula evaluated two ways: equal up to a few ulps (1e−15 absolute on O(1) values).
        let mu = [1.0, 2.0];
        let w = [0.8, 0.3];
        let mut dw = [0.0; 2];
        balanced_rhs(&mu, 1.0, 2, &w, &mut dw);
        let c = 1.0 / (2f64.sqrt() * (0.8f64.powi(2) + (2.0 * 0.3f64).powi(2)).sqrt());
        for j in 0..2 {
            assert!((dw[j] - mu[j] * (1.0 - c * mu[j]) * w[j]).abs() < 1e-15);
        }
    }
}
