//! Stage kinds of §3: aggregators that read the generic runs, compare them with the closed forms and
//! max-margin solutions, and publish tables, figures and claims (ids `s3.…`).

pub mod common;
pub mod depth1;
pub mod flows;
pub mod freeze;
pub mod loss;
pub mod multisample;
/// The `sec3.phase_grid` kind and its grid file live in crate `compute` (they train).
pub use compute::sec3::phase;
pub mod phase_plot;
pub mod plane;
pub mod regimes;

use pipeline::stage::StageKind;

/// The kinds this module implements.
pub fn kinds() -> Vec<Box<dyn StageKind>> {
    vec![
        Box::new(plane::Plane),
        Box::new(regimes::Regimes),
        Box::new(freeze::Freeze),
        Box::new(phase_plot::Phase),
        Box::new(depth1::Depth1),
        Box::new(flows::Flows),
        Box::new(multisample::MultiSample),
        Box::new(loss::Loss),
    ]
}
