//! Stage kinds of §3: aggregators that read the generic runs, compare them with the closed forms and
//! max-margin solutions, and publish tables, figures and claims (ids `s3.…`).

pub mod common;
pub mod plane;

use pipeline::stage::StageKind;

/// The kinds this module implements.
pub fn kinds() -> Vec<Box<dyn StageKind>> {
    vec![Box::new(plane::Plane)]
}
