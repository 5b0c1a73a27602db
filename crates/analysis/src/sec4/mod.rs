//! Stage kinds of §4: ℓ2-SAM's ℓ1 max-margin limit and sequential feature amplification (in time, in
//! the init scale, in original vs rescaled time), the collapse regime, and the reviewers' questions.

pub mod common;
pub mod initscale;
pub mod limit;
pub mod reviewers;
pub mod sequential;
pub mod thresholds;
pub mod timescale;
pub mod usam;

use pipeline::stage::StageKind;

/// The kinds this module implements.
pub fn kinds() -> Vec<Box<dyn StageKind>> {
    vec![
        Box::new(sequential::Sequential),
        Box::new(initscale::InitScale),
        Box::new(limit::Limit),
        Box::new(thresholds::Thresholds),
        Box::new(timescale::Timescale),
        Box::new(reviewers::Comparable),
        Box::new(reviewers::Depth3),
        Box::new(reviewers::Normalisation),
        Box::new(usam::UsamAblation),
    ]
}
