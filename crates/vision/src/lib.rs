//! MNIST, a small CNN, GD / SAM training and Grad-CAM for the "minor first" real-data experiment.
//!
//! * [`mnist`] reads the genuine IDX files (gzip or raw), verifying their SHA-256 and headers.
//! * [`task`] builds the binary (±1, logistic) and ten-class (cross-entropy) tasks on seeded subsets.
//! * [`cnn`] is the conv–ReLU–pool ×2 → linear network on burn's flex CPU backend, with flat
//!   parameters and an init-scale factor.
//! * [`fast`] is the same network as hand-shaped f32/f64 CPU kernels (im2col and implicit-GEMM
//!   convolutions over `gemm`, rayon across images): the training path and the logits; burn stays
//!   the reference and computes Grad-CAM.
//! * [`train`] runs GD, ℓ2-SAM or ℓ∞-SAM and logs loss, accuracy and Grad-CAM per checkpoint.
//! * [`gradcam`] computes Grad-CAM at the last conv layer; [`weak`] measures the share of a
//!   saliency map on weak (near-background) pixels — the "minor first" statistic.
//!
//! ```no_run
//! use vision::{cnn::CnnConfig, mnist::Mnist, train::{Optimizer, TrainConfig, train}};
//! let mnist = Mnist::load(std::path::Path::new("data/mnist"))?;
//! let task = mnist.binary_task(4, 9, Some(1000), Some(500), 0)?;
//! let config = TrainConfig {
//!     optimizer: Optimizer::SamL2 { rho: 0.05 },
//!     lr: 0.1,
//!     steps: 100,
//!     batch_size: None,
//!     checkpoints: vec![0, 10, 100],
//!     seed: 0,
//!     panel_per_class: 4,
//!     train_eval: 0,
//! };
//! let log = train(&task, CnnConfig::mnist(1, 1.0, 0), &config)?;
//! println!("weak share after 10 steps: {:?}", log.checkpoints[1].weak_share);
//! # Ok::<(), vision::VisionError>(())
//! ```
pub mod cnn;
pub mod error;
pub mod fast;
pub mod gradcam;
pub mod mnist;
pub mod task;
pub mod train;
pub mod weak;

pub use error::{Result, VisionError};
