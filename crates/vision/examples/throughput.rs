//! Training throughput (images/s) of GD, ℓ2-SAM and ℓ∞-SAM on the binary 4-vs-9 task, for
//! mini-batches of 64 and for a full batch of 1000. Run from the workspace root:
//! `cargo run --release -p vision --example throughput`.

use std::path::Path;

use mimalloc::MiMalloc;
use vision::cnn::CnnConfig;
use vision::mnist::Mnist;
use vision::train::{Optimizer, TrainConfig, train};

// glibc malloc thrashes on the large conv temporaries (2–3× slower, see deps.md).
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() -> Result<(), vision::VisionError> {
    let mnist = Mnist::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/mnist"
    )))?;
    let task = mnist.binary_task(4, 9, Some(1000), Some(200), 0)?;
    for (batch, steps) in [(Some(64), 30), (None, 4)] {
        for optimizer in [
            Optimizer::Gd,
            Optimizer::SamL2 { rho: 0.05 },
            Optimizer::SamLinf { rho: 0.01 },
        ] {
            let config = TrainConfig {
                optimizer,
                lr: 0.1,
                steps,
                batch_size: batch,
                checkpoints: vec![],
                seed: 0,
                panel_per_class: 1,
            };
            let log = train(&task, CnnConfig::mnist(1, 1.0, 0), &config)?;
            println!(
                "batch {:>4}  {:<8}  {:>8.0} images/s  ({:.1} ms/step)",
                batch.unwrap_or(1000),
                optimizer.name(),
                log.images_per_second,
                1e3 * log.train_seconds / steps as f64
            );
        }
    }
    Ok(())
}
