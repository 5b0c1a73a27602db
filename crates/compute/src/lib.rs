//! The stage kinds that compute: datasets (`data.*`), training runs (`train.discrete`,
//! `train.flow`), the MNIST trainings (`mnist.cnn_train`, `mnist.diag_train`), the §3 phase grid
//! (`sec3.phase_grid`), the §4 C-ODE columns (`sec4.dominant_column`) and the ReLU runs (`relu.train`). This crate depends on
//! the science (`numerics`, `vision`), the engine and the plumbing only, so its kinds' derived
//! fingerprints never cover figure or report code: editing a plot never retrains anything.
//!
//! ```no_run
//! assert!(compute::kinds().iter().any(|kind| kind.name() == "train.discrete"));
//! ```

pub mod mnist;
pub mod relu;
pub mod runs;
pub mod sec3;
pub mod sec4;

/// Implementation fingerprint of this crate's kinds, derived at build time (`fingerprint::emit`).
pub mod fingerprint {
    include!(concat!(env!("OUT_DIR"), "/fingerprint.rs"));
}

// The plumbing under the paths the kinds were written against (`crate::table`, …).
pub use stagekit::{AnalysisError, artifacts, error, params, table};

use pipeline::stage::StageKind;

/// Every stage kind this crate implements, for registration with the engine.
pub fn kinds() -> Vec<Box<dyn StageKind>> {
    let mut kinds = runs::kinds();
    kinds.push(Box::new(sec3::phase::PhaseGrid));
    kinds.push(Box::new(sec4::dominant_column::DominantColumnKind));
    kinds.push(Box::new(mnist::cnn::CnnTrain));
    kinds.push(Box::new(mnist::diag::DiagTrain));
    kinds.push(Box::new(relu::train::ReluTrain));
    kinds
}
