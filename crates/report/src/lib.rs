//! The reproducible HTML report: a plain serde [`ReportModel`] rendered through embedded tera
//! templates into one self-contained page (`reports/index.html`).
//!
//! The crate computes no science and knows no domain crate: a pipeline stage gathers claims,
//! figures (as SVG text), key numbers and provenance into the model, possibly via JSON, and calls
//! [`write()`]. The page opens with one row per result of the paper and its verdict, derived from
//! the evidence claims each result selects ([`summarize_results`]), then the claims ledger grouped
//! by section ([`ledger_groups`]), one section per part of the paper, what changed since a previous
//! run when the caller compared one, and provenance. It is offline (inline CSS and SVG, only relative links), autoescaped
//! (model text never becomes markup; SVGs pass [`sanitize_svg`] before they are inlined), and
//! deterministic: the same model renders the same bytes, except for the optional run-info block
//! between [`RUN_INFO_BEGIN`] and [`RUN_INFO_END`], which [`strip_run_info`] removes.
//!
//! ```
//! let model = report::sample::sample_model();
//! let html = report::render(&model)?;
//! let headline = "claims: evidence: 2 reproduced, 0 inconclusive, 1 contradicted · checks: 1 passed, 0 failed";
//! assert!(html.contains(headline));
//! assert_eq!(model.claims_summary().to_string(), headline);
//! # Ok::<(), report::ReportError>(())
//! ```

mod error;
mod model;
mod render;
pub mod sample;
mod sanitize;
mod summary;

pub use error::ReportError;
pub use model::{
    Claim, ClaimChange, ClaimsSummary, CrateVersion, Figure, KeyTable, Machine, PaperRef,
    PaperResult, Provenance, ReportModel, Reseed, RunChanges, RunInfo, Section, StageParams,
    StageTaskKeys, StageWallTime, TableDownload, Verdict,
};
pub use render::{RUN_INFO_BEGIN, RUN_INFO_END, render, strip_run_info, write};
pub use sanitize::sanitize_svg;
pub use summary::{
    LedgerGroup, ResultRow, ResultVerdict, ResultsSummary, ledger_groups, row_rank, selects,
    summarize_results,
};
