//! Stage kinds of the MNIST section: a CNN trained with GD / ℓ2-SAM / ℓ∞-SAM with Grad-CAM over
//! training, and the L = 2 diagonal linear network on the binary task's pixels.

/// The training kinds (`mnist.cnn_train`, `mnist.diag_train`) and their helpers live in crate
/// `compute`.
pub use compute::mnist::{cnn, common, diag};

pub mod cnn_report;
pub mod diag_report;
pub mod report_common;

use pipeline::stage::StageKind;

/// The kinds this module implements.
pub fn kinds() -> Vec<Box<dyn StageKind>> {
    vec![
        Box::new(cnn_report::CnnReport),
        Box::new(diag_report::DiagReport),
    ]
}
