//! The reviewers' non-linear variant: the seeded claims on whether minor-first survives in a two-layer
//! ReLU network (`relu.report`), from the `relu.train` runs of `compute::relu`.

pub mod report;

use pipeline::stage::StageKind;

/// The kinds this module implements.
pub fn kinds() -> Vec<Box<dyn StageKind>> {
    vec![Box::new(report::ReluReport)]
}
