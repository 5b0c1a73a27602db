//! Stage plumbing shared by the crates that implement stage kinds: polars tables written to the
//! store and published under `reports/tables/` (`table`), the paper's claims and the
//! `claims.ledger` kind (`claims`), the figure and key-table indexes (`artifacts`), parameter-spec
//! constructors (`params`) and the error type of a stage task (`error`). No figures, no report.
//!
//! ```no_run
//! assert!(stagekit::kinds().iter().any(|kind| kind.name() == "claims.ledger"));
//! ```

pub mod artifacts;
pub mod claims;
pub mod error;
pub mod params;
pub mod rules;
pub mod table;

/// Implementation fingerprint of this crate's kinds, derived at build time (`fingerprint::emit`).
pub mod fingerprint {
    include!(concat!(env!("OUT_DIR"), "/fingerprint.rs"));
}

pub use error::AnalysisError;

use pipeline::stage::StageKind;

/// Every stage kind this crate implements, for registration with the engine.
pub fn kinds() -> Vec<Box<dyn StageKind>> {
    vec![Box::new(claims::Ledger)]
}
