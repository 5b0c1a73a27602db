//! Timed (not sampled) whole runs: the 10⁴ × 10⁴ ℓ2-SAM sweep and a 10⁶-step logged run. Prints seconds
//! (best of 3) so the figures can be set beside the JAX peer's.

use std::time::Instant;

use numerics::Dataset;
use numerics::model::Network;
use numerics::optim::{Clock, Optimizer};
use numerics::sweep::{BatchPoint, Rule, SweepJob, run_sweep, sweep_single_example};
use numerics::trajectory::{LogSchedule, TrainConfig, TrainParams, train};

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> f64 {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn params(steps: u64, log: LogSchedule) -> TrainParams {
    TrainParams {
        optimizer: Optimizer::SamL2 { rho: 0.1 },
        clock: Clock::Original,
        lr: 0.05,
        steps,
        log,
        beta_cap: f64::INFINITY,
    }
}

fn main() {
    // Same setting as shared/bench/jax_sam_scan.py.
    let data = Dataset::single(&[1.0, 2.0]).unwrap();
    let long = TrainConfig::new(params(1_000_000, LogSchedule::geometric(10))).unwrap();
    let seconds = best_of(3, || {
        train(&data, Network::balanced(2, &[0.3, 0.3]).unwrap(), &long).unwrap()
    });
    println!(
        "run: 1e6 l2-SAM steps with a geometric:10 log grid: {seconds:.4} s ({:.1} ns/step)",
        seconds * 1e3
    );

    let (configs, steps) = (10_000, 10_000u64);
    let config = TrainConfig::new(params(steps, LogSchedule::default())).unwrap();
    let jobs: Vec<SweepJob> = (0..configs)
        .map(|i| {
            let alpha = 0.15 + 0.3 * i as f64 / (configs - 1) as f64;
            SweepJob {
                network: Network::balanced(2, &[alpha, alpha]).unwrap(),
                config: config.clone(),
            }
        })
        .collect();
    let seconds = best_of(3, || run_sweep(&data, &jobs));
    println!(
        "sweep: {configs} configs x {steps} l2-SAM steps: {seconds:.3} s ({:.1} ns/config-step)",
        seconds * 1e9 / (configs as f64 * steps as f64)
    );

    let points: Vec<BatchPoint<2>> = (0..configs)
        .map(|i| {
            let alpha = 0.15 + 0.3 * i as f64 / (configs - 1) as f64;
            BatchPoint {
                alpha: [alpha, alpha],
                rho: 0.1,
                lr: 0.05,
            }
        })
        .collect();
    let seconds = best_of(3, || {
        sweep_single_example::<2, 2>([1.0, 2.0], Rule::SamL2, Clock::Original, steps, &points)
            .unwrap()
    });
    println!(
        "batched sweep: {configs} configs x {steps} l2-SAM steps: {seconds:.3} s ({:.1} ns/config-step)",
        seconds * 1e9 / (configs as f64 * steps as f64)
    );
}
