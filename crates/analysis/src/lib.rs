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
pub mod mnist;
pub mod params;
pub mod relu;
pub mod report_stage;
pub mod rundiff;
pub mod runs;
pub mod sec3;
pub mod sec4;
pub mod table;

pub use error::AnalysisError;

/// Report section ids, in the order of the report. Claims and figures name one of these.
pub const SECTIONS: &[(&str, &str)] = &[
    (
        "depth1",
        "Depth 1: every optimizer finds the ℓ2 max-margin direction",
    ),
    (
        "linf",
        "ℓ∞-SAM at depth ≥ 2: per-coordinate gating and the limit e_j*",
    ),
    (
        "l2limit",
        "ℓ2-SAM at depth 2: the limit is the ℓ1 max-margin direction",
    ),
    ("sequential", "Sequential feature amplification in time"),
    (
        "initscale",
        "Sequential feature amplification in the initialization scale",
    ),
    (
        "flows",
        "Discrete SAM, the SAM flow and the rescaled flow; original vs rescaled time",
    ),
    (
        "multisample",
        "Multi-sample data: Gaussian clusters at ±(1, 2)",
    ),
    (
        "mechanism",
        "The mechanism by ablation: unnormalised SAM (USAM) against ℓ2-SAM and GD",
    ),
    (
        "relu",
        "A two-layer ReLU network: does minor-first survive the non-linearity?",
    ),
    (
        "mnist",
        "Real data: MNIST, a CNN, Grad-CAM and diagonal networks on pixels",
    ),
    ("reviewers", "What the reviewers asked"),
];

use pipeline::stage::StageKind;

/// Every stage kind this crate implements, for registration with the engine.
pub fn kinds() -> Vec<Box<dyn StageKind>> {
    let mut kinds: Vec<Box<dyn StageKind>> =
        vec![Box::new(claims::Ledger), Box::new(report_stage::ReportHtml)];
    kinds.extend(runs::kinds());
    kinds.extend(sec3::kinds());
    kinds.extend(sec4::kinds());
    kinds.extend(mnist::kinds());
    kinds.extend(relu::kinds());
    kinds
}
