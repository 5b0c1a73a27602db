//! The plain serde model a report is rendered from: stages write it as JSON, `render` reads it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Everything the page shows. Ordered collections only (no maps), so the same model always renders
/// the same bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportModel {
    /// Page title, e.g. "Minor First, Major Last — reproduction".
    pub title: String,
    /// The paper being reproduced.
    pub paper: PaperRef,
    /// The results of the paper the first screen lists, each with the claims that are its
    /// evidence; empty for a page without that summary.
    #[serde(default)]
    pub results: Vec<PaperResult>,
    /// The claims ledger, grouped by section on the page; within a group non-passing rows come
    /// first, otherwise this order is kept.
    pub claims: Vec<Claim>,
    /// Sections in page order.
    pub sections: Vec<Section>,
    pub provenance: Provenance,
    /// What changed since a previous run, when the caller compared one; a section of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<RunChanges>,
    /// The seeded evidence recomputed with disjoint seeds (`minorfirst verify --reseed`), when it
    /// is in the store; a section of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reseed: Option<Reseed>,
    /// Non-deterministic facts (timings, timestamps), rendered inside the run-info markers so that
    /// [`crate::strip_run_info`] can drop them before comparing two pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_info: Option<RunInfo>,
}

/// Bibliographic reference, shown as text (never as a link: the page stays offline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperRef {
    pub title: String,
    pub authors: String,
    /// Venue and year, e.g. "ICLR 2026".
    pub venue: String,
}

/// Whether a claim held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    #[serde(rename = "PASS")]
    Pass,
    #[serde(rename = "FAIL")]
    Fail,
    /// Evidence whose measurement decides neither way.
    #[serde(rename = "INCONCLUSIVE")]
    Inconclusive,
}

impl Verdict {
    pub fn from_pass(pass: bool) -> Self {
        if pass { Self::Pass } else { Self::Fail }
    }
}

/// One row of the claims ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// Stable id, e.g. `thm3.2.regimes.L2`; the row's anchor is `claim-<id>`.
    pub id: String,
    /// Id of the section that discusses the claim.
    pub section: String,
    pub statement: String,
    /// How the claim is tested.
    pub measurement: String,
    /// The tolerance, in words (and why).
    pub tolerance: String,
    /// The measured value, already formatted.
    pub measured: String,
    pub verdict: Verdict,
    /// Id of the figure that shows the claim; the row links to the section when absent.
    #[serde(default)]
    pub figure: Option<String>,
    /// A check true by construction (verdict shown as passed/failed), not evidence for the paper
    /// (reproduced/contradicted).
    #[serde(default)]
    pub check: bool,
    /// A non-passing verdict documented as a finding of the reproduction: shown "(expected)".
    #[serde(default)]
    pub expected: bool,
    /// The pre-registered rule that decided the row, as declared in pipeline.toml
    /// (`name = threshold: reason`).
    #[serde(default)]
    pub rule: Option<String>,
}

/// One result of the paper as the first screen lists it. Its verdict is derived from the evidence
/// claims its patterns select (see [`crate::summarize_results`]); checks never decide it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperResult {
    /// Anchor id; the row's anchor is `result-<id>`.
    pub id: String,
    /// Short name, e.g. "Depth 1 → ℓ2 max-margin".
    pub title: String,
    /// One sentence on what was measured.
    pub measured: String,
    /// Section that shows the result, when it is on the page.
    #[serde(default)]
    pub section: Option<String>,
    /// Figure shown as the row's thumbnail, when it is on the page.
    #[serde(default)]
    pub figure: Option<String>,
    /// Claim ids that are the result's evidence: an exact id, or a prefix ending in `*`
    /// (`s3.linf.regimes.*`). A pattern that selects no claim is shown on the row.
    pub claims: Vec<String>,
}

/// A claim whose verdict or measured value differs from the previous run's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimChange {
    pub id: String,
    pub old_verdict: String,
    pub new_verdict: String,
    pub old_measured: String,
    pub new_measured: String,
}

/// The ledger recomputed with every seed replaced by a disjoint one: the claims whose verdict
/// changed. Those rows are inconclusive on the page (a verdict that flips with the seeds is not
/// evidence either way).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reseed {
    /// How the seeds were replaced, e.g. "every seed s → s + 1000000".
    pub how: String,
    /// Claims compared (present in both ledgers).
    pub compared: usize,
    /// Claims whose verdict differs: `old_*` under this page's seeds, `new_*` under the others.
    pub flips: Vec<ClaimChange>,
}

/// The comparison of this page's claims with a previous run's, as text the caller formatted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunChanges {
    /// What the page is compared with, e.g. "commit 1a2b3c4 (profile quick)".
    pub against: String,
    /// Claims whose verdict changed.
    #[serde(default)]
    pub verdict_changed: Vec<ClaimChange>,
    /// Claims with the same verdict whose value moved by more than their tolerance band.
    #[serde(default)]
    pub moved: Vec<ClaimChange>,
    /// Claim ids new in this run.
    #[serde(default)]
    pub added: Vec<String>,
    /// Claim ids of the previous run that this one lacks.
    #[serde(default)]
    pub removed: Vec<String>,
    /// Claims with the same verdict whose value changed within its band (or has no numeric band).
    #[serde(default)]
    pub changed_within_tolerance: Vec<String>,
    /// Claims whose verdict and measured value did not change.
    #[serde(default)]
    pub unchanged: usize,
}

/// One section of the page, mirroring a part of the paper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// Anchor id, e.g. `linf`.
    pub id: String,
    pub title: String,
    /// What the paper states (quoted or paraphrased).
    pub paper_statement: String,
    /// Two or three sentences on what the section shows.
    pub summary: String,
    #[serde(default)]
    pub figures: Vec<Figure>,
    /// Small tables of key numbers.
    #[serde(default)]
    pub tables: Vec<KeyTable>,
    /// The pipeline stages (and their parameters) that produced the section.
    #[serde(default)]
    pub stages: Vec<StageParams>,
    /// Full tables, downloadable beside the page.
    #[serde(default)]
    pub downloads: Vec<TableDownload>,
}

/// A figure: inline SVG plus a PNG beside the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// Anchor id (also the file stem in `reports/figures/`).
    pub id: String,
    pub caption: String,
    /// The SVG document, inlined after sanitisation (see [`crate::sanitize_svg`]).
    pub svg: String,
    /// Path of the PNG relative to the page, e.g. `figures/<id>.png`.
    pub png: String,
}

/// A small table of key numbers, all cells preformatted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyTable {
    pub caption: String,
    pub columns: Vec<String>,
    /// Each row has one cell per column.
    pub rows: Vec<Vec<String>>,
}

/// A pipeline stage that produced a section, with its parameters as text (pretty JSON or
/// `key = value` lines, as the caller prefers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageParams {
    /// Stage name in pipeline.toml.
    pub name: String,
    /// Stage kind, e.g. `train.sweep`.
    pub kind: String,
    pub params: String,
}

/// Links to one table's CSV and Parquet copies, relative to the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableDownload {
    pub name: String,
    pub csv: String,
    pub parquet: String,
}

/// How the page was made: everything needed to make it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub git_commit: String,
    /// Whether the work tree had uncommitted changes.
    pub git_dirty: bool,
    /// Pipeline profile, e.g. `quick` or `full`.
    pub profile: String,
    /// Every parameter: the pipeline.toml text or the resolved parameters as JSON.
    pub parameters: String,
    pub task_keys: Vec<StageTaskKeys>,
    pub crate_versions: Vec<CrateVersion>,
    pub machine: Machine,
}

/// The content keys of one stage's tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageTaskKeys {
    pub stage: String,
    pub keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrateVersion {
    pub name: String,
    pub version: String,
}

/// The machine the store was computed on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cores: usize,
    /// Operating system and architecture, e.g. `linux x86_64`.
    pub os: String,
}

/// Non-deterministic facts about one run; never compared between runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// When the run started, as the caller formats it (e.g. RFC 3339 UTC).
    pub started_at: String,
    pub total_wall_seconds: f64,
    pub stage_wall_seconds: Vec<StageWallTime>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageWallTime {
    pub stage: String,
    pub seconds: f64,
    /// Whether the stage's tasks all came from the store.
    #[serde(default)]
    pub cached: bool,
}

/// Counts of the ledger's verdicts, evidence and checks apart; displays as the CLI's one-line
/// summary, `claims: evidence: R reproduced, I inconclusive, C contradicted (K expected) · checks:
/// P passed, F failed`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ClaimsSummary {
    pub reproduced: usize,
    pub inconclusive: usize,
    pub contradicted: usize,
    /// Non-passing rows marked expected.
    pub expected: usize,
    pub passed: usize,
    pub failed: usize,
}

impl ClaimsSummary {
    /// Whether any row did not pass (expected or not).
    pub fn has_failures(&self) -> bool {
        self.inconclusive + self.contradicted + self.failed > 0
    }
}

impl fmt::Display for ClaimsSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "claims: evidence: {} reproduced, {} inconclusive, {} contradicted",
            self.reproduced, self.inconclusive, self.contradicted
        )?;
        if self.expected > 0 {
            write!(f, " ({} expected)", self.expected)?;
        }
        write!(
            f,
            " · checks: {} passed, {} failed",
            self.passed, self.failed
        )
    }
}

impl ReportModel {
    /// Counts the claims' verdicts, evidence and checks apart.
    pub fn claims_summary(&self) -> ClaimsSummary {
        let mut summary = ClaimsSummary::default();
        for claim in &self.claims {
            match (claim.check, claim.verdict) {
                (true, Verdict::Pass) => summary.passed += 1,
                (true, _) => summary.failed += 1,
                (false, Verdict::Pass) => summary.reproduced += 1,
                (false, Verdict::Inconclusive) => summary.inconclusive += 1,
                (false, Verdict::Fail) => summary.contradicted += 1,
            }
            if claim.expected && claim.verdict != Verdict::Pass {
                summary.expected += 1;
            }
        }
        summary
    }
}
