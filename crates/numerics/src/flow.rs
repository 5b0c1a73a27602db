//! The SAM flows dθ/dt = −∇L(θ + ε(θ)) (GD: ε = 0) in the original or rescaled clock, integrated by
//! [`crate::ode::integrate`] with output at requested times; finite-time blow-up is a status.
//!
//! The state is θ (L·d weights, layer-major) followed by the accumulated rescaled time τ, with
//! dτ/dt = meanᵢ(−ℓ′(m̂ᵢ)) in the original clock and dτ/dt = 1 in the rescaled one, so original-time
//! flows can be compared with rescaled closed forms (spec B4.4).

use crate::dataset::Dataset;
use crate::error::NumericsError;
use crate::model::{Network, check_dims, loss_of_beta};
use crate::ode::{OdeOptions, OdeStatus, integrate};
use crate::optim::{Clock, Optimizer, StepWorkspace, update_direction_smoothed};

/// How a flow integration ended (Completed, BlowUp { t }, MaxSteps { t }).
pub type FlowStatus = OdeStatus;

/// Unchecked flow settings; [`FlowConfig::new`] validates them.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowParams {
    pub optimizer: Optimizer,
    pub clock: Clock,
    /// Output times in the run's clock, sorted, ≥ 0; the integration ends at the last one.
    pub times: Vec<f64>,
    pub ode: OdeOptions,
    /// Width δ of the ℓ∞ sign regularisation, relative to ρ^{L−1} (see
    /// [`crate::optim::update_direction_smoothed`]); 1e−3 keeps the sliding point stable while
    /// changing nothing where |Π_{k≠l} w| > 10⁻³ρ^{L−1}.
    pub linf_zone: f64,
}

impl FlowParams {
    /// Defaults: rtol 1e−9, atol 1e−12, 2·10⁶ steps, ℓ∞ zone 1e−3.
    pub fn new(optimizer: Optimizer, clock: Clock, times: Vec<f64>) -> Self {
        Self {
            optimizer,
            clock,
            times,
            ode: OdeOptions {
                max_steps: 2_000_000,
                ..OdeOptions::default()
            },
            linf_zone: 1e-3,
        }
    }
}

/// A validated flow configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowConfig {
    params: FlowParams,
}

impl FlowConfig {
    pub fn new(params: FlowParams) -> Result<Self, NumericsError> {
        params.optimizer.validate()?;
        if params.times.is_empty() {
            return Err(NumericsError::invalid(
                "flow times",
                "need at least one output time",
            ));
        }
        if params.times.iter().any(|t| !(t.is_finite() && *t >= 0.0))
            || params.times.windows(2).any(|w| w[1] < w[0])
        {
            return Err(NumericsError::invalid(
                "flow times",
                "must be finite, ≥ 0 and ascending",
            ));
        }
        if !(params.linf_zone >= 0.0 && params.linf_zone < 1.0) {
            return Err(NumericsError::invalid("linf zone", "must lie in [0, 1)"));
        }
        Ok(Self { params })
    }
    pub fn params(&self) -> &FlowParams {
        &self.params
    }
}

/// The flow state at one requested time.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRecord {
    pub time: f64,
    pub tau: f64,
    pub loss: f64,
    pub beta: Vec<f64>,
    /// All weights, layer-major.
    pub weights: Vec<f64>,
}

/// Records at the requested times reached, and how the integration ended.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowResult {
    pub records: Vec<FlowRecord>,
    pub status: FlowStatus,
    pub accepted_steps: usize,
}

/// Integrate the configured flow from `network`.
pub fn integrate_flow(
    data: &Dataset,
    network: Network,
    config: &FlowConfig,
) -> Result<FlowResult, NumericsError> {
    check_dims(&network, data)?;
    let params = &config.params;
    let depth = network.depth();
    let dim = network.dim();
    let len = depth * dim;
    let mut ws = StepWorkspace::new(depth, dim);
    let mut y0 = network.weights().to_vec();
    y0.push(0.0);
    let n = data.n() as f64;
    let rhs = |_t: f64, y: &[f64], dy: &mut [f64]| {
        let info = update_direction_smoothed(
            &y[..len],
            depth,
            data,
            params.optimizer,
            params.clock,
            params.linf_zone,
            &mut ws,
        );
        for (out, g) in dy[..len].iter_mut().zip(ws.direction()) {
            *out = -g;
        }
        dy[len] = match params.clock {
            Clock::Rescaled => 1.0,
            Clock::Original => {
                crate::model::neg_dloss(info.pass.ref_margin) * info.pass.weight_sum / n
            }
        };
    };
    let solution = integrate(rhs, 0.0, &y0, &params.times, &params.ode)?;
    let records = solution
        .times
        .iter()
        .zip(&solution.states)
        .map(|(&time, state)| {
            let weights = state[..len].to_vec();
            let net = Network::from_weights(depth, dim, weights.clone());
            let beta = match net {
                Ok(net) => net.beta(),
                Err(_) => vec![f64::NAN; dim],
            };
            FlowRecord {
                time,
                tau: state[len],
                loss: loss_of_beta(data, &beta),
                beta,
                weights,
            }
        })
        .collect();
    Ok(FlowResult {
        records,
        status: solution.status,
        accepted_steps: solution.accepted_steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescaled_gd_depth_two_is_exponential() {
        // Rescaled GD at L = 2 (spec B6): β_j(τ) = α_j² e^{2μ_j τ}. rtol 1e-9 → relative 1e-7 is ample.
        let data = Dataset::single(&[1.0, 2.0]).unwrap();
        let net = Network::balanced(2, &[0.3, 0.2]).unwrap();
        let config = FlowConfig::new(FlowParams::new(
            Optimizer::Gd,
            Clock::Rescaled,
            vec![0.5, 1.5],
        ))
        .unwrap();
        let result = integrate_flow(&data, net, &config).unwrap();
        assert_eq!(result.status, OdeStatus::Completed);
        for record in &result.records {
            for (j, (mu, alpha)) in [(1.0_f64, 0.3_f64), (2.0, 0.2)].into_iter().enumerate() {
                let exact = alpha * alpha * (2.0 * mu * record.time).exp();
                assert!((record.beta[j] / exact - 1.0).abs() < 1e-7);
            }
            assert!(
                (record.tau - record.time).abs() < 1e-12,
                "τ = t up to rounding in the rescaled clock"
            );
        }
    }

    #[test]
    fn linf_depth_three_blow_up_is_a_status() {
        // E3 setting: τ₁* = 1 / ((L−2) μ₁ (α₁ − ρ)) = 1.
        let data = Dataset::single(&[1.0, 2.0]).unwrap();
        let net = Network::balanced(3, &[2.0, 1.4]).unwrap();
        let params = FlowParams::new(
            Optimizer::SamLinf { rho: 1.0 },
            Clock::Rescaled,
            vec![0.8, 2.0],
        );
        let result = integrate_flow(&data, net, &FlowConfig::new(params).unwrap()).unwrap();
        let OdeStatus::BlowUp { t } = result.status else {
            panic!("{:?}", result.status)
        };
        assert!((t - 1.0).abs() < 1e-6, "blow-up at {t}");
        // u₁(0.8) = [1 − 0.8]⁻¹ = 5 ⇒ w₁ = 6; u₂ = [1/0.4 − 2·0.8]^{-1} = 1/0.9 ⇒ w₂ = 2.1111…
        let w = &result.records[0].weights;
        assert!(
            (w[0] - 6.0).abs() < 1e-6 && (w[1] - (1.0 + 1.0 / 0.9)).abs() < 1e-6,
            "{w:?}"
        );
    }
}
