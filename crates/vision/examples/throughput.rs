//! Training throughput (images/s) of GD, ℓ2-SAM and ℓ∞-SAM on the binary 4-vs-9 task, for a
//! mini-batch of 64 and a full batch of 1000: the optimizer step of [`vision::train::train`] on a
//! fixed batch, warm-up excluded, best of 3 timed loops (as the peers in `../shared/bench`).
//! Run from the workspace root: `cargo run --release -p vision --example throughput`
//! (`RAYON_NUM_THREADS=1` for one core).

use std::path::Path;
use std::time::Instant;

use mimalloc::MiMalloc;
use vision::cnn::{Cnn, CnnConfig};
use vision::fast::Kernels;
use vision::mnist::Mnist;
use vision::train::{Optimizer, step_f32};

// glibc malloc thrashes on the large conv temporaries of the burn path (2–3× slower, see deps.md).
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() -> Result<(), vision::VisionError> {
    let mnist = Mnist::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/mnist"
    )))?;
    let task = mnist.binary_task(4, 9, Some(1000), Some(200), 0)?;
    let config = CnnConfig::mnist(1, 1.0, 0);
    let kernels = Kernels::new(config);
    for (batch, steps) in [(64, 40), (1000, 6)] {
        let examples = task.train.select(&(0..batch).collect::<Vec<_>>());
        for optimizer in [
            Optimizer::Gd,
            Optimizer::SamL2 { rho: 0.05 },
            Optimizer::SamLinf { rho: 0.01 },
        ] {
            let mut params: Vec<f32> = Cnn::new(config)?.params.iter().map(|&p| p as f32).collect();
            let mut grad = vec![0.0; params.len()];
            let mut perturbed = vec![0.0; params.len()];
            let mut run = |count: usize| {
                let started = Instant::now();
                for _ in 0..count {
                    step_f32(
                        optimizer,
                        0.1,
                        &mut params,
                        &mut grad,
                        &mut perturbed,
                        |p, g| kernels.loss_and_grad(p, &examples.images, &examples.targets, g),
                    );
                }
                started.elapsed().as_secs_f64()
            };
            run(1);
            let best = (0..3).map(|_| run(steps)).fold(f64::INFINITY, f64::min);
            println!(
                "batch {batch:>4}  {:<8}  {:>8.0} images/s  ({:.1} ms/step)",
                optimizer.name(),
                (steps * batch) as f64 / best,
                1e3 * best / steps as f64
            );
        }
    }
    Ok(())
}
