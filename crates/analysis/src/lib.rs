//! The aggregating stage kinds of §3, §4 and MNIST: each reads the runs of crate `compute`,
//! compares them with the closed forms and max-margin solutions, writes its results as polars
//! tables (Parquet in the store, CSV + Parquet copies under `reports/tables/`), renders figures
//! through the `figures` crate, and records the paper's claims with measured values and verdicts.
//!
//! ```no_run
//! assert!(analysis::kinds().iter().any(|kind| kind.name() == "sec4.initscale"));
//! ```

pub mod mnist;
pub mod relu;
pub mod sec3;
pub mod sec4;

/// Implementation fingerprint of this crate's kinds, derived at build time (`fingerprint::emit`).
pub mod fingerprint {
    include!(concat!(env!("OUT_DIR"), "/fingerprint.rs"));
}

// The plumbing and the runs under the paths the kinds were written against (`crate::table`, …).
pub use compute::runs;
pub use stagekit::{AnalysisError, artifacts, claims, error, params, rules, table};

use pipeline::stage::StageKind;

/// Every stage kind this crate implements, for registration with the engine.
pub fn kinds() -> Vec<Box<dyn StageKind>> {
    let mut kinds = sec3::kinds();
    kinds.extend(sec4::kinds());
    kinds.extend(mnist::kinds());
    kinds.extend(relu::kinds());
    kinds
}
