//! Discrete training runs with logging at a geometric step grid or explicit steps (never every step).

use crate::dataset::Dataset;
use crate::error::NumericsError;
use crate::model::{Network, check_dims, loss_of_beta};
use crate::optim::{Clock, Optimizer, StepWorkspace, single_example_step, step};

/// Which steps to record. Step 0 and the final step are always recorded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogSchedule {
    /// k points per decade: steps round(10^(i/k)), deduplicated (None: no grid).
    pub per_decade: Option<u32>,
    /// Extra steps to record.
    pub steps: Vec<u64>,
}

impl LogSchedule {
    /// A geometric grid with k points per decade.
    pub fn geometric(per_decade: u32) -> Self {
        Self {
            per_decade: Some(per_decade),
            steps: Vec::new(),
        }
    }
    /// Exactly these steps (plus 0 and the final one).
    pub fn explicit(steps: Vec<u64>) -> Self {
        Self {
            per_decade: None,
            steps,
        }
    }

    /// A cursor over the scheduled steps in increasing order; O(#explicit steps) memory.
    fn cursor(&self) -> LogCursor {
        let mut steps = self.steps.clone();
        steps.sort_unstable();
        steps.dedup();
        LogCursor {
            per_decade: self.per_decade,
            grid_index: 0,
            explicit: steps,
            explicit_index: 0,
        }
    }

    /// All scheduled steps in 0..=last (for tests and previews).
    pub fn steps_up_to(&self, last: u64) -> Vec<u64> {
        let mut cursor = self.cursor();
        let mut out = vec![0];
        let mut current = 0;
        while let Some(next) = cursor.next_after(current) {
            if next >= last {
                break;
            }
            out.push(next);
            current = next;
        }
        if last > 0 {
            out.push(last);
        }
        out
    }
}

#[derive(Debug, Clone)]
struct LogCursor {
    per_decade: Option<u32>,
    grid_index: u32,
    explicit: Vec<u64>,
    explicit_index: usize,
}

impl LogCursor {
    /// The smallest scheduled step strictly greater than `current`.
    fn next_after(&mut self, current: u64) -> Option<u64> {
        let mut best: Option<u64> = None;
        if let Some(k) = self.per_decade.filter(|&k| k > 0) {
            loop {
                let value = 10f64.powf(self.grid_index as f64 / k as f64).round();
                if value >= u64::MAX as f64 {
                    break;
                }
                let value = value as u64;
                if value > current {
                    best = Some(value);
                    break;
                }
                self.grid_index += 1;
            }
        }
        while self.explicit_index < self.explicit.len()
            && self.explicit[self.explicit_index] <= current
        {
            self.explicit_index += 1;
        }
        if let Some(&explicit) = self.explicit.get(self.explicit_index) {
            best = Some(best.map_or(explicit, |b| b.min(explicit)));
        }
        best
    }
}

/// Unchecked settings of a discrete run; [`TrainConfig::new`] validates them.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainParams {
    pub optimizer: Optimizer,
    pub clock: Clock,
    pub lr: f64,
    pub steps: u64,
    pub log: LogSchedule,
    /// Stop when ‖β‖₂ exceeds this (∞: never).
    pub beta_cap: f64,
}

/// A validated discrete-run configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    params: TrainParams,
}

impl TrainConfig {
    pub fn new(params: TrainParams) -> Result<Self, NumericsError> {
        params.optimizer.validate()?;
        if !(params.lr.is_finite() && params.lr > 0.0) {
            return Err(NumericsError::invalid(
                "lr",
                format!("must be finite and > 0, got {}", params.lr),
            ));
        }
        if params.beta_cap.is_nan() || params.beta_cap <= 0.0 {
            return Err(NumericsError::invalid("beta cap", "must be > 0"));
        }
        if params.log.per_decade == Some(0) {
            return Err(NumericsError::invalid(
                "log grid",
                "need at least 1 point per decade",
            ));
        }
        Ok(Self { params })
    }
    pub fn params(&self) -> &TrainParams {
        &self.params
    }
}

/// The state at one logged step. `time` is the run's own clock (η·steps); `tau` the accumulated rescaled
/// time Σ η·meanᵢ(−ℓ′(m̂ᵢ)) (equal to `time` in the rescaled clock).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub step: u64,
    pub time: f64,
    pub tau: f64,
    pub loss: f64,
    pub beta: Vec<f64>,
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StopReason {
    Completed,
    /// ‖β‖₂ exceeded the cap at this step (the final record is that state).
    BetaCap {
        step: u64,
    },
    /// A value stopped being finite at update `step`: a weight or β (then that update is not taken
    /// and the final record is the last finite state, step − 1), or the accumulated τ, the time or a
    /// logged loss (then the final record is the state at `step`, holding that value).
    NonFinite {
        step: u64,
    },
}

impl StopReason {
    pub fn name(&self) -> &'static str {
        match self {
            StopReason::Completed => "completed",
            StopReason::BetaCap { .. } => "beta_cap",
            StopReason::NonFinite { .. } => "non_finite",
        }
    }
}

/// A logged run: records at the scheduled steps (the final one included) and the final state.
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    pub records: Vec<Record>,
    pub final_record: Record,
    pub stop: StopReason,
    /// All final weights, layer-major.
    pub final_weights: Vec<f64>,
}

/// Run the configured optimizer from `network` on `data`. Single-example runs with L ≤ 4 and d ≤ 5 use
/// the fixed-size kernel [`single_example_step`] (same arithmetic, sizes known to the compiler).
pub fn train(
    data: &Dataset,
    network: Network,
    config: &TrainConfig,
) -> Result<Trajectory, NumericsError> {
    check_dims(&network, data)?;
    let params = &config.params;
    macro_rules! fixed_sizes {
        ($(($l:literal, $d:literal)),*) => {
            match (network.depth(), network.dim()) {
                $(($l, $d) if data.n() == 1 => {
                    let mut stepper = FixedStepper::<$l, $d>::new(&network, data, params);
                    return Ok(run_loop(data, network, params, &mut stepper));
                })*
                _ => {}
            }
        };
    }
    fixed_sizes!(
        (1, 1),
        (1, 2),
        (1, 3),
        (1, 4),
        (1, 5),
        (2, 1),
        (2, 2),
        (2, 3),
        (2, 4),
        (2, 5),
        (3, 1),
        (3, 2),
        (3, 3),
        (3, 4),
        (3, 5),
        (4, 1),
        (4, 2),
        (4, 3),
        (4, 4),
        (4, 5)
    );
    let mut stepper = DynamicStepper {
        weights: network.weights().to_vec(),
        depth: network.depth(),
        data,
        ws: StepWorkspace::new(network.depth(), network.dim()),
        params,
    };
    Ok(run_loop(data, network, params, &mut stepper))
}

/// One update at a time; the weights live in the stepper between log points.
trait Stepper {
    /// One update. Returns meanᵢ(−ℓ′(m̂ᵢ)) (only meaningful in the original clock), or `None` when the
    /// update would not be finite (state untouched).
    fn advance(&mut self) -> Option<f64>;
    /// Copy the current weights (layer-major).
    fn write_weights(&self, out: &mut [f64]);
}

struct DynamicStepper<'a> {
    weights: Vec<f64>,
    depth: usize,
    data: &'a Dataset,
    ws: StepWorkspace,
    params: &'a TrainParams,
}

impl Stepper for DynamicStepper<'_> {
    #[inline]
    fn advance(&mut self) -> Option<f64> {
        let p = self.params;
        let info = step(
            &mut self.weights,
            self.depth,
            self.data,
            p.optimizer,
            p.clock,
            p.lr,
            &mut self.ws,
        )?;
        Some(match p.clock {
            Clock::Rescaled => 1.0,
            Clock::Original => info.pass.mean_weight(self.data.n()),
        })
    }
    fn write_weights(&self, out: &mut [f64]) {
        out.copy_from_slice(&self.weights);
    }
}

struct FixedStepper<const L: usize, const D: usize> {
    weights: [[f64; D]; L],
    signed_x: [f64; D],
    optimizer: Optimizer,
    clock: Clock,
    lr: f64,
}

impl<const L: usize, const D: usize> FixedStepper<L, D> {
    fn new(network: &Network, data: &Dataset, params: &TrainParams) -> Self {
        let mut weights = [[0.0; D]; L];
        for (l, row) in weights.iter_mut().enumerate() {
            row.copy_from_slice(network.layer(l));
        }
        let label = data.y()[0];
        let signed_x = std::array::from_fn(|j| label * data.row(0)[j]);
        Self {
            weights,
            signed_x,
            optimizer: params.optimizer,
            clock: params.clock,
            lr: params.lr,
        }
    }
}

impl<const L: usize, const D: usize> Stepper for FixedStepper<L, D> {
    #[inline]
    fn advance(&mut self) -> Option<f64> {
        single_example_step(
            &mut self.weights,
            &self.signed_x,
            self.optimizer,
            self.clock,
            self.lr,
        )
    }
    fn write_weights(&self, out: &mut [f64]) {
        for (chunk, row) in out.chunks_exact_mut(D).zip(&self.weights) {
            chunk.copy_from_slice(row);
        }
    }
}

fn run_loop<S: Stepper>(
    data: &Dataset,
    mut network: Network,
    params: &TrainParams,
    stepper: &mut S,
) -> Trajectory {
    let mut cursor = params.log.cursor();
    let mut next_log = cursor.next_after(0);
    let record = |network: &Network, step: u64, tau: f64| {
        let beta = network.beta();
        Record {
            step,
            time: step as f64 * params.lr,
            tau,
            loss: loss_of_beta(data, &beta),
            beta,
        }
    };
    let mut records = vec![record(&network, 0, 0.0)];
    let mut stop = StopReason::Completed;
    let mut tau = 0.0;
    let mut done = 0u64;
    let cap_sq = params.beta_cap * params.beta_cap;
    let check_cap = params.beta_cap.is_finite();
    let mut beta = vec![0.0; network.dim()];
    for current in 1..=params.steps {
        let Some(weight) = stepper.advance() else {
            stop = StopReason::NonFinite { step: current };
            break;
        };
        done = current;
        tau += params.lr * weight;
        if !(tau.is_finite() && (current as f64 * params.lr).is_finite()) {
            stop = StopReason::NonFinite { step: current };
            break;
        }
        if check_cap {
            stepper.write_weights(network.weights_mut());
            crate::model::beta_into(network.weights(), network.depth(), &mut beta);
            let norm_sq: f64 = beta.iter().map(|b| b * b).sum();
            if norm_sq.is_nan() || norm_sq > cap_sq {
                stop = StopReason::BetaCap { step: current };
                break;
            }
        }
        if next_log == Some(current) && current < params.steps {
            stepper.write_weights(network.weights_mut());
            let logged = record(&network, current, tau);
            // β is finite here, but ⟨x, β⟩ can still overflow into an infinite loss.
            let finite = logged.loss.is_finite();
            records.push(logged);
            next_log = cursor.next_after(current);
            if !finite {
                stop = StopReason::NonFinite { step: current };
                break;
            }
        }
    }
    stepper.write_weights(network.weights_mut());
    let final_record = record(&network, done, tau);
    if stop == StopReason::Completed && !final_record.loss.is_finite() {
        stop = StopReason::NonFinite { step: done };
    }
    if records.last().map(|r| r.step) != Some(done) {
        records.push(final_record.clone());
    }
    Trajectory {
        records,
        final_record,
        stop,
        final_weights: network.weights().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometric_grid_dedups_and_ends_at_last() {
        // k = 2: 10^(i/2) rounds to 1, 3, 10, 32, 100, ...; k = 10 gives repeated 1s which must dedup.
        assert_eq!(
            LogSchedule::geometric(2).steps_up_to(100),
            vec![0, 1, 3, 10, 32, 100]
        );
        let dense = LogSchedule::geometric(10).steps_up_to(20);
        assert_eq!(dense, vec![0, 1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20]);
        let both = LogSchedule {
            per_decade: Some(1),
            steps: vec![7, 5, 7],
        };
        assert_eq!(both.steps_up_to(50), vec![0, 1, 5, 7, 10, 50]);
    }

    #[test]
    fn an_overflowing_beta_stops_the_run_at_the_step_it_appears() {
        // Original-clock GD with η = 1e300 from α = 0.5: the first update moves every weight to
        // about −1e299 (finite), so β = Π_l w⁽ˡ⁾ ≈ 1e598 overflows at step 1. Depth 2 takes the
        // fixed-size kernel, depth 5 the dynamic stepper; both must refuse that update and keep
        // the last finite state (step 0) as the final record.
        let data = Dataset::single(&[1.0, 2.0]).unwrap();
        for depth in [2, 5] {
            let net = Network::balanced(depth, &[0.5, 0.5]).unwrap();
            let config = TrainConfig::new(TrainParams {
                optimizer: Optimizer::Gd,
                clock: Clock::Original,
                lr: 1e300,
                steps: 10,
                log: LogSchedule::geometric(10),
                beta_cap: f64::INFINITY,
            })
            .unwrap();
            let run = train(&data, net, &config).unwrap();
            assert_eq!(run.stop, StopReason::NonFinite { step: 1 }, "depth {depth}");
            assert_eq!(run.final_record.step, 0, "depth {depth}");
            for record in &run.records {
                assert!(
                    record.loss.is_finite() && record.beta.iter().all(|b| b.is_finite()),
                    "depth {depth}: {record:?}"
                );
            }
            assert!(run.final_weights.iter().all(|w| w.is_finite()));
        }
    }

    #[test]
    fn records_match_schedule_and_cap_stops() {
        let data = Dataset::single(&[1.0, 2.0]).unwrap();
        let net = Network::balanced(3, &[1.0, 1.0]).unwrap();
        let params = TrainParams {
            optimizer: Optimizer::Gd,
            clock: Clock::Rescaled,
            lr: 0.01,
            steps: 1000,
            log: LogSchedule::geometric(1),
            beta_cap: f64::INFINITY,
        };
        let config = TrainConfig::new(params.clone()).unwrap();
        // Rescaled GD at L = 3 blows up in finite τ (w₂' = 2w₂², τ* = 1/2 for w = 1): step 1000 is
        // τ = 10, so a cap of 1e6 must stop the run near step 50.
        let capped = TrainConfig::new(TrainParams {
            beta_cap: 1e6,
            ..params
        })
        .unwrap();
        let run = train(&data, net.clone(), &capped).unwrap();
        let StopReason::BetaCap { step } = run.stop else {
            panic!("{:?}", run.stop)
        };
        assert!((45..=60).contains(&step), "stopped at {step}");
        let short = TrainConfig::new(TrainParams {
            steps: 20,
            ..config.params().clone()
        })
        .unwrap();
        let run = train(&data, net, &short).unwrap();
        let steps: Vec<u64> = run.records.iter().map(|r| r.step).collect();
        assert_eq!(steps, vec![0, 1, 10, 20]);
        assert_eq!(run.final_record.step, 20);
        assert!((run.final_record.time - 0.2).abs() < 1e-15);
    }
}
