//! The reviewers' non-linear variant: a two-layer ReLU network trained by GD, ℓ2-SAM and ℓ∞-SAM on data
//! with minor and major coordinates (`relu.train`, one seeded run per task), and the seeded claims on
//! whether minor-first survives (`relu.report`).

pub mod report;
pub mod train;

use pipeline::stage::StageKind;

/// The kinds this module implements.
pub fn kinds() -> Vec<Box<dyn StageKind>> {
    vec![Box::new(train::ReluTrain), Box::new(report::ReluReport)]
}
