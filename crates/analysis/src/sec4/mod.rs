//! Stage kinds of §4: ℓ2-SAM's ℓ1 max-margin limit and sequential feature amplification (in time, in
//! the init scale, in original vs rescaled time), the collapse regime, and the reviewers' questions.

pub mod common;
pub mod initscale;
pub mod sequential;

use pipeline::stage::StageKind;

/// The kinds this module implements.
pub fn kinds() -> Vec<Box<dyn StageKind>> {
    vec![
        Box::new(sequential::Sequential),
        Box::new(initscale::DominantColumnKind),
        Box::new(initscale::InitScale),
    ]
}
