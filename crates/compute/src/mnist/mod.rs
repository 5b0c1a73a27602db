//! The MNIST training kinds: a CNN trained with GD / ℓ2-SAM / ℓ∞-SAM with Grad-CAM over training
//! (`mnist.cnn_train`), and the L = 2 diagonal linear network on the binary task's pixels
//! (`mnist.diag_train`).

pub mod cnn;
pub mod common;
pub mod diag;
