//! Stage implementations of the minorfirst pipeline: each stage kind runs the numerical core (or the
//! CNN), writes its results as polars tables (Parquet in the store, CSV + Parquet copies under
//! `reports/tables/`), renders figures through the `figures` crate, and records the paper's claims
//! with measured values and verdicts in the claims ledger.
//!
//! ```no_run
//! let kinds = analysis::kinds();
//! assert!(kinds.iter().any(|kind| kind.name() == "claims.ledger"));
//! ```

pub mod artifacts;
pub mod claims;
pub mod error;
pub mod fingerprint;
pub mod table;

pub use error::AnalysisError;

use pipeline::stage::StageKind;

/// Every stage kind this crate implements, for registration with the engine.
pub fn kinds() -> Vec<Box<dyn StageKind>> {
    vec![Box::new(claims::Ledger)]
}
