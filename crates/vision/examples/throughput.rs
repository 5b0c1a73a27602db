//! Training throughput (images/s) of GD, ℓ2-SAM and ℓ∞-SAM on the binary 4-vs-9 task, for a
//! mini-batch of 64 and a full batch of 1000: the optimizer step of [`vision::train::train`] on a
//! fixed batch, warm-up excluded, best of 3 timed loops (as the peers in `../shared/bench`).
//!
//! Build with the workspace (`cargo build --workspace --release --examples`), then run
//! `target/release/examples/throughput` from anywhere; `RAYON_NUM_THREADS=1` for one core,
//! `--burn` to add the reference step on burn (the training path before the fast kernels) for a
//! before/after comparison in the same run. `crates/vision/bench/compare_torch.sh` interleaves it
//! with the PyTorch peer.

use std::path::Path;
use std::time::Instant;

use mimalloc::MiMalloc;
use vision::cnn::{Cnn, CnnConfig, Precision};
use vision::fast::Kernels;
use vision::mnist::Mnist;
use vision::train::{Optimizer, step, step_f32};

// glibc malloc thrashes on the large conv temporaries of the burn path (2–3× slower, see deps.md).
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// Best of 3 timed loops of `steps` calls after one warm-up call; returns seconds per loop.
fn best_of_3(steps: usize, mut one_step: impl FnMut()) -> f64 {
    one_step();
    (0..3)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..steps {
                one_step();
            }
            started.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() -> Result<(), vision::VisionError> {
    let burn = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--burn") => true,
        Some(other) => {
            eprintln!("throughput: unknown argument {other:?} (the only option is --burn)");
            std::process::exit(2);
        }
    };
    let mnist = Mnist::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/mnist"
    )))?;
    let task = mnist.binary_task(4, 9, Some(1000), Some(200), 0)?;
    let config = CnnConfig::mnist(1, 1.0, 0);
    let cnn = Cnn::new(config)?;
    let kernels = Kernels::new(config);
    let lr = 0.1;
    for (batch, steps) in [(64, 40), (1000, 6)] {
        let examples = task.train.select(&(0..batch).collect::<Vec<_>>());
        let (images, targets) = (&examples.images, &examples.targets);
        for optimizer in [
            Optimizer::Gd,
            Optimizer::SamL2 { rho: 0.05 },
            Optimizer::SamLinf { rho: 0.01 },
        ] {
            let report = |seconds: f64, steps: usize, label: &str| {
                println!(
                    "batch {batch:>4}  {:<8}  {:>8.0} images/s  ({:.1} ms/step){label}",
                    optimizer.name(),
                    (steps * batch) as f64 / seconds,
                    1e3 * seconds / steps as f64
                );
            };
            let mut params: Vec<f32> = cnn.params.iter().map(|&p| p as f32).collect();
            let mut grad = vec![0.0; params.len()];
            let mut perturbed = vec![0.0; params.len()];
            let seconds = best_of_3(steps, || {
                step_f32(
                    optimizer,
                    lr,
                    &mut params,
                    &mut grad,
                    &mut perturbed,
                    |p, g| kernels.loss_and_grad(p, images, targets, g),
                );
            });
            report(seconds, steps, "");
            if burn {
                let steps = steps.div_ceil(4);
                let mut params = cnn.params.clone();
                let seconds = best_of_3(steps, || {
                    step(optimizer, lr, &mut params, |p| {
                        cnn.loss_and_grad_at(p, images, targets, Precision::F32)
                    });
                });
                report(seconds, steps, "  [burn]");
            }
        }
    }
    Ok(())
}
