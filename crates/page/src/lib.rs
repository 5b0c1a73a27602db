//! The `report.html` stage kind, which renders `reports/index.html` from the ledgers, figures and
//! tables of its inputs, and `rundiff`, the claim-by-claim comparison of two runs that the page and
//! `minorfirst diff` show. Its own crate, so a template edit re-keys this kind alone.
//!
//! ```no_run
//! assert!(page::kinds().iter().any(|kind| kind.name() == "report.html"));
//! ```

pub mod report_stage;
pub mod rundiff;

/// Implementation fingerprint of this crate's kinds, derived at build time (`fingerprint::emit`),
/// and the dependency versions shown as provenance.
pub mod fingerprint {
    include!(concat!(env!("OUT_DIR"), "/fingerprint.rs"));
    include!(concat!(env!("OUT_DIR"), "/versions.rs"));
}

// The plumbing under the paths the kind was written against (`crate::claims`, …).
pub use stagekit::{AnalysisError, artifacts, claims, error};

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
    vec![Box::new(report_stage::ReportHtml)]
}
