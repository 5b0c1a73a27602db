//! Where the CPU time of one `mnist.cnn_train` task goes, and a digest of its results.
//!
//! Runs the default profile's mini-batch task (4 vs 9, 2048 balanced training / 512 test images,
//! batch 128, lr 0.1, 48 steps, checkpoints 0 3 6 9 12 24 36 48, training loss on 512 training
//! images, a 2-per-class Grad-CAM panel) for GD and ℓ2-SAM (ρ 0.05), and prints:
//!
//! * the whole `train` call: wall seconds, process CPU seconds (user + system, from
//!   `/proc/self/stat`), and the optimizer steps' share (`TrainLog::train_seconds`);
//! * the pieces of one checkpoint, each timed alone on the trained network (best of 3): the
//!   training-subset and test-set evaluations, the burn Grad-CAM panel and the whole-test-set
//!   saliency (`train::test_saliency`);
//! * a SHA-256 of the `Debug` text of every checkpoint and the final parameters (Rust prints every
//!   f64 exactly, so equal digests mean bit-identical results): run it before and after a speed
//!   change to show the results did not move.
//!
//! `cargo build --workspace --release --examples`, then `target/release/examples/task_profile`
//! (`--steps-only` skips the piece timings). The load average is printed first.

use std::path::Path;
use std::time::Instant;

use mimalloc::MiMalloc;
use sha2::{Digest, Sha256};
use vision::cnn::CnnConfig;
use vision::fast::Kernels;
use vision::gradcam::gradcam;
use vision::mnist::Mnist;
use vision::train::{Optimizer, TrainConfig, test_saliency, train};

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// Process CPU seconds (user + system) from /proc/self/stat, in clock ticks of 1/100 s.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the state field.
    (tick(11) + tick(12)) / 100.0
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn best_of_3(mut f: impl FnMut()) -> f64 {
    f();
    (0..3)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() -> Result<(), vision::VisionError> {
    let steps_only = std::env::args().any(|a| a == "--steps-only");
    println!(
        "load average {}  threads {}",
        load(),
        rayon::current_num_threads()
    );
    let mnist = Mnist::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/mnist"
    )))?;
    let seed = 3;
    let task = mnist.balanced_binary_task(4, 9, 2048, 512, seed)?;
    let mut total_digest = Sha256::new();
    for optimizer in [Optimizer::Gd, Optimizer::SamL2 { rho: 0.05 }] {
        let config = TrainConfig {
            optimizer,
            lr: 0.1,
            steps: 48,
            batch_size: Some(128),
            checkpoints: vec![0, 3, 6, 9, 12, 24, 36, 48],
            seed,
            panel_per_class: 2,
            train_eval: 512,
        };
        let cnn_config = CnnConfig::mnist(1, 1.0, seed);
        let (wall0, cpu0) = (Instant::now(), cpu_seconds());
        let log = train(&task, cnn_config, &config)?;
        let (wall, cpu) = (wall0.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
        let digest = Sha256::digest(format!("{:?}{:?}", log.checkpoints, log.cnn.params));
        total_digest.update(digest);
        println!(
            "{:<8} train(): {wall:.3} s wall, {cpu:.2} s CPU; optimizer steps {:.3} s wall \
             ({:.0} %), checkpoints {:.3} s wall; digest {}",
            optimizer.name(),
            log.train_seconds,
            100.0 * log.train_seconds / wall,
            wall - log.train_seconds,
            &format!("{digest:x}")[..16]
        );
        if steps_only {
            continue;
        }
        let cnn = &log.cnn;
        let kernels = Kernels::new(cnn.config);
        let train_eval = task.train.select(&(0..512).collect::<Vec<_>>());
        let panel = task.test.select(&task.panel(2));
        // (what is timed, images per call, the call)
        type Piece<'a> = (&'static str, usize, Box<dyn Fn() + 'a>);
        let pieces: [Piece<'_>; 4] = [
            (
                "evaluate 512 training images",
                512,
                Box::new(|| {
                    std::hint::black_box(cnn.evaluate(&train_eval.images, &train_eval.targets));
                }),
            ),
            (
                "evaluate 512 test images",
                512,
                Box::new(|| {
                    std::hint::black_box(cnn.evaluate(&task.test.images, &task.test.targets));
                }),
            ),
            (
                "burn Grad-CAM panel (4 images)",
                4,
                Box::new(|| {
                    std::hint::black_box(gradcam(cnn, &panel.images, &panel.targets));
                }),
            ),
            (
                "test_saliency 512 test images",
                512,
                Box::new(|| {
                    std::hint::black_box(test_saliency(&kernels, &cnn.params, &task.test));
                }),
            ),
        ];
        for (name, images, piece) in &pieces {
            let seconds = best_of_3(piece);
            println!(
                "         {name:<32} {:>8.2} ms  {:>8.0} images/s",
                1e3 * seconds,
                *images as f64 / seconds
            );
        }
    }
    println!(
        "digest of both runs {}",
        &format!("{:x}", total_digest.finalize())[..16]
    );
    Ok(())
}
