//! The `report.html` kind: gathers the claims ledger, every published figure, key-number tables and
//! table downloads of its inputs into a `report::ReportModel` and renders `reports/index.html`.
//! Rendering is its own stage, so editing a template re-renders the page without recomputing science.

use std::collections::BTreeMap;

use pipeline::stage::{
    InputArtifact, ParamSchema, ParamSpec, ParamType, StageKind, TaskContext, TaskError,
};
use serde::Deserialize;
use serde_json::Value;

use crate::artifacts::{FIGURES_FILE, FigureRecord, KEY_TABLES_FILE, KeyTableRecord, read_json};
use crate::claims::{Claim, LEDGER_FILE};
use crate::error::AnalysisError;

/// The paper's statement and our two-or-three-sentence reading of what each section shows.
const SECTION_TEXT: &[(&str, &str, &str)] = &[
    (
        "depth1",
        "Theorem 3.1: at depth L = 1, GD, ℓ∞-SAM and ℓ2-SAM all converge in direction to the ℓ2 max-margin classifier.",
        "On a single example every optimizer moves w − w₀ exactly along μ; on separable multi-sample data the \
         direction approaches the ℓ2 max-margin solution at the slow 1/log t rate known for GD. Depth 1 shows no \
         SAM-specific bias.",
    ),
    (
        "linf",
        "Theorem 3.2 and Corollary 3.5: for ℓ∞-SAM at depth L ≥ 2 each coordinate's fate is gated by α_j against ρ; \
         the limit direction is e_j* with j* = argmax_{α_j>ρ} μ_j(α_j − ρ)^{L−2}, or 0 — any basis vector can win.",
        "Simulated coordinates follow the closed forms in rescaled time: below ρ they die (even L) or rise to ρ^L \
         (odd L), at ρ they stay at ρ^L, above ρ they grow. The phase diagram compares the measured winner with j* \
         over a grid of initializations, with GD beside it.",
    ),
    (
        "l2limit",
        "Theorem 4.2: for ℓ2-SAM at depth 2 the limit direction is the ℓ1 max-margin solution, as for GD.",
        "The cosine to the ℓ1 max-margin direction tends to one while the cosine to the ℓ2 max-margin direction \
         stays away from it, on single examples and on multi-sample data.",
    ),
    (
        "sequential",
        "Theorem 4.4: ℓ2-SAM first relies on minor coordinates and shifts to major ones as training proceeds \
         (sequential feature amplification).",
        "Normalised coordinates of discrete ℓ2-SAM runs in rescaled time, with switch times predicted by the exact \
         one-dimensional C-ODE reduction; switches happen where ĉ(τ) = C(τ)/τ crosses 1/(μ_k + μ_{k+1}). GD, beside \
         it, leads with the major coordinate from the start.",
    ),
    (
        "initscale",
        "Theorem 4.5: the same minor-to-major shift happens as the initialization scale grows.",
        "The dominant index over a grid of α/ρ and τ, with the collapse threshold α_c and the thresholds a_k \
         overlaid; at every fixed τ the dominant index is non-decreasing in α.",
    ),
    (
        "flows",
        "Discrete SAM tracks the SAM flow; the rescaled flow is the same path on a new clock.",
        "Distances between discrete runs and the integrated flow shrink linearly with the step size (first order) \
         for every optimizer; in original time only the first switches are reachable for μ of order one.",
    ),
    (
        "multisample",
        "The gating of ℓ∞-SAM and the minor-first phase of ℓ2-SAM survive on multi-sample data (Gaussian clusters \
         at ±(1, 2)).",
        "Trajectories and the dominant coordinate over time on Gaussian clusters, with loss-normalised steps.",
    ),
    (
        "mechanism",
        "Section 4 attributes sequential feature amplification to the gradient normalisation in ℓ2-SAM's \
         perturbation ε = ρ∇L/‖∇L‖.",
        "An ablation registered before running (crates/numerics/docs/usam.md): USAM, ε = ρ∇L without the \
         normalisation, at the paper's ρ, at a small ρ, and at a ρ matched to ℓ2-SAM's ‖ε‖ at init, against \
         ℓ2-SAM and GD from the same inits through the same code. The prediction: without the normalisation \
         the minor-first phase is lost (USAM ≈ GD at small ρ). Each verdict is reported as measured.",
    ),
    (
        "relu",
        "Reviewers: does minor-first survive a non-linear network? (The theory covers linear diagonal networks \
         only.)",
        "A two-layer ReLU network f(x) = Σ_j a_j relu(w_j·x) trained by GD, ℓ2-SAM and ℓ∞-SAM from small seeded \
         inits on Gaussian clusters at ±(1, 2) and ±(1, …, 5). The statistic, fixed before running, is the \
         effective input weight β_eff = meanᵢ ∇ₓf(xᵢ) (β itself for the diagonal network): does a minor \
         coordinate lead at some point under SAM but not under GD? Decided by 95 % intervals over seeds.",
    ),
    (
        "mnist",
        "Appendix: on MNIST, Grad-CAM maps of a CNN trained with SAM emphasise background / weak pixels while GD \
         focuses on the digit.",
        "Protocol, fixed in pipeline.toml before any run (the first table lists every value as run): a CNN on 4 vs 9 \
         (labels ±1, logistic loss, 2048 balanced training images) trained with GD, ℓ2-SAM and ℓ∞-SAM, a seed fixing \
         the data, the initialisation and the batch order for all three (paired); mini-batch training (batch 128, 3 \
         epochs) with 20 seeds at init scales 0.25, 0.5, 1 and 2, a ρ sweep towards 0 (the negative control) and \
         full-batch training. One primary statistic per optimizer and init scale, chosen before the runs: per seed, \
         the mean over the first quarter of training of the share of Grad-CAM mass on weak pixels (intensity < 0.1) \
         under SAM minus under GD, over all 512 test images, a map with no mass counting as share 0. Its 95 % \
         bootstrap CI over seeds decides: reproduced if it excludes 0 on the positive side, contradicted on the \
         negative side, inconclusive otherwise (Wilcoxon p beside it). The input gradient on the same images checks \
         that Grad-CAM's 14×14 upsampling is not the cause; the theory's own model, a depth-2 diagonal network on \
         pixels, is trained beside it. Two variants run the same protocol through the same statistic and decision \
         (claims mnist.cnn.pair2.* and mnist.cnn.tenclass.*): a second digit pair chosen in advance, 3 vs 5 (the \
         other most confused pair, sharing no digit with 4 vs 9), at init scales 1 and 2 with 10 seeds, and the \
         ten-class task (softmax cross-entropy, saliency for the true class), GD against ℓ2-SAM at init scale 1 \
         with 10 seeds; `--profile extended` runs both with 20 seeds (the pair at all four scales).",
    ),
    (
        "reviewers",
        "What the reviewers asked for that the paper did not show.",
        "GD baselines, loss curves, ℓ2-SAM at depth 3, comparable-magnitude coordinates, the ℓ2 normalisation \
         convention, and original versus rescaled time.",
    ),
];

/// One result of the paper as the report's first screen lists it.
struct PaperResult {
    /// Anchor id (`result-<id>`).
    id: &'static str,
    title: &'static str,
    /// The section that shows it (linked when it is on the page).
    section: &'static str,
    /// One sentence on what was measured.
    measured: &'static str,
    /// The claims that are its evidence: exact ids or prefixes ending in `*`. A pattern that
    /// selects nothing is shown on the row ("no claim matches …"), a result whose patterns select
    /// no evidence shows "no evidence", and an evidence claim no result selects gets a row of its
    /// own: nothing is dropped silently.
    claims: &'static [&'static str],
}

/// Every result of the paper and every reviewer question, in the order of the paper: the one
/// place that says which claims decide which result. The thumbnail is the figure most of the
/// selected claims point at.
const RESULTS: &[PaperResult] = &[
    PaperResult {
        id: "depth1",
        title: "Depth 1 → ℓ2 max-margin",
        section: "depth1",
        measured: "Direction of w − w₀ against μ on single examples and the cosine to the ℓ2 max-margin \
                   solution on separable data, for GD and both SAMs (Thm 3.1).",
        claims: &["s3.depth1.*"],
    },
    PaperResult {
        id: "linf-regimes",
        title: "ℓ∞-SAM: per-coordinate regimes",
        section: "linf",
        measured: "Each coordinate against its closed form in rescaled time for α_j below, at and above \
                   ρ, at even and odd depth (Thm 3.2).",
        claims: &["s3.linf.regimes.*", "s3.linf.freeze.*"],
    },
    PaperResult {
        id: "linf-limit",
        title: "ℓ∞-SAM: limit e_j*",
        section: "linf",
        measured: "Measured winning coordinate against j* = argmax μ_j(α_j − ρ)^(L−2) over grids of \
                   initializations and in the β plane (Cor 3.5).",
        claims: &["s3.linf.phase.sam-linf.*", "s3.linf.plane_gating.*"],
    },
    PaperResult {
        id: "l2limit",
        title: "ℓ2-SAM → ℓ1 max-margin",
        section: "l2limit",
        measured: "Cosine of the depth-2 ℓ2-SAM direction to the ℓ1 and to the ℓ2 max-margin \
                   solutions, on single examples and multi-sample data (Thm 4.2).",
        claims: &["s4.thm4.2.*"],
    },
    PaperResult {
        id: "sequential",
        title: "Sequential amplification in time",
        section: "sequential",
        measured: "Order and times of the coordinate switches of discrete ℓ2-SAM against the exact \
                   C-ODE reduction and the criterion of Prop 4.7 (Thm 4.4); USAM ablation.",
        claims: &[
            "s4.thm4.4.sequence.*",
            "s4.thm4.4.switch_times.*",
            "s4.prop4.7.*",
            "s3.plane.l2_c_ode.*",
            "s4.usam.*",
        ],
    },
    PaperResult {
        id: "initscale",
        title: "Sequential amplification in the init scale",
        section: "initscale",
        measured: "Dominant index over a grid of α/ρ and τ against the thresholds α_c and a_k, and its \
                   monotonicity in α (Thm 4.5).",
        claims: &["s4.thm4.5.*", "s4.regime.*", "s4.b5.6.collapse.*"],
    },
    PaperResult {
        id: "flows",
        title: "Discrete SAM vs the SAM flow",
        section: "flows",
        measured: "Distance between discrete runs and the integrated flow as the step size shrinks, \
                   for every optimizer and both clocks (first order in η).",
        claims: &["s3.flows.*", "s4.thm4.4.euler_order.*"],
    },
    PaperResult {
        id: "multisample",
        title: "Multi-sample data",
        section: "multisample",
        measured: "Limit direction, ℓ∞-SAM gating and the minor-first phase of ℓ2-SAM on Gaussian \
                   clusters at ±(1, 2); a ReLU net on clusters.",
        claims: &["s3.multisample.*", "relu.*"],
    },
    PaperResult {
        id: "mnist-cnn",
        title: "MNIST: CNN saliency",
        section: "mnist",
        measured: "20 paired seeds: SAM − GD share of Grad-CAM and input-gradient mass on weak pixels \
                   early in training, with its bootstrap CI, per optimizer and init scale; ρ → 0 \
                   control.",
        claims: &["mnist.cnn.*"],
    },
    PaperResult {
        id: "mnist-diag",
        title: "MNIST: diagonal net on pixels",
        section: "mnist",
        measured: "Whether a depth-2 diagonal net on pixels leans on weak pixels first and strong ones \
                   last under ℓ2-SAM, and on strong ones throughout under GD.",
        claims: &["mnist.diag.*"],
    },
    PaperResult {
        id: "rq-gd",
        title: "Reviewers: GD baselines",
        section: "reviewers",
        measured: "GD from the same initializations: which coordinate leads at every τ, and the GD \
                   phase diagram beside ℓ∞-SAM's.",
        claims: &[
            "s4.gd.*",
            "s4.b5.8.mu_shrink.gd",
            "s3.linf.phase.gd.*",
            "s3.plane.gd_closed_form.*",
        ],
    },
    PaperResult {
        id: "rq-loss",
        title: "Reviewers: loss curves",
        section: "reviewers",
        measured: "Training loss of SAM against GD from the same initialization (B8 predicts SAM's is \
                   lower).",
        claims: &["s3.reviewers.loss.*"],
    },
    PaperResult {
        id: "rq-depth3",
        title: "Reviewers: ℓ2-SAM at depth 3",
        section: "reviewers",
        measured: "Whether sequential amplification survives at depth 3 and ends on the major \
                   coordinate.",
        claims: &["s4.b5.9.*"],
    },
    PaperResult {
        id: "rq-comparable",
        title: "Reviewers: comparable coordinates",
        section: "reviewers",
        measured: "The minor phase for μ = (1, 1+δ) as δ shrinks, and how strong a minor phase is away \
                   from α_c.",
        claims: &["s4.reviewers.comparable.*", "s4.b5.8.peak_minor_dominance"],
    },
    PaperResult {
        id: "rq-normalisation",
        title: "Reviewers: ℓ2 normalisation",
        section: "reviewers",
        measured: "Per-layer against joint normalisation of the ℓ2 perturbation at balanced depth 2.",
        claims: &["s4.b2.normalisation"],
    },
    PaperResult {
        id: "rq-time",
        title: "Reviewers: original vs rescaled time",
        section: "flows",
        measured: "Reachable switches in original time; plain discrete ℓ2-SAM, and ℓ∞-SAM's limits \
                   at η up to 0.5, against the flow.",
        claims: &[
            "s3.linf.phase_original.*",
            "s4.b5.8.unreachable_in_original_time",
            "s4.b5.8.original_time_switch.*",
            "s4.b5.8.mu_shrink.eta*",
            "s4.b5.6.collapse_original.*",
        ],
    },
];

/// Parameters injected by the binary (`minorfirst run` fills them from git and the machine).
#[derive(Debug, Deserialize)]
struct ReportParams {
    title: String,
    profile: String,
    git_commit: String,
    git_dirty: bool,
    pipeline_text: String,
    cores: i64,
    os: String,
    previous_label: String,
    previous_claims: String,
    reseed_how: String,
    reseed_compared: i64,
    reseed_flips: String,
}

pub struct ReportHtml;

impl StageKind for ReportHtml {
    fn name(&self) -> &'static str {
        "report.html"
    }
    fn fingerprint(&self) -> &'static str {
        crate::fingerprint::FINGERPRINT
    }
    fn schema(&self) -> ParamSchema {
        let text = |name, default: &str, doc| ParamSpec {
            name,
            ty: ParamType::Str { choices: None },
            default: Some(Value::String(default.into())),
            sweepable: false,
            doc,
        };
        ParamSchema {
            params: vec![
                text(
                    "title",
                    "Minor First, Major Last — a reproduction",
                    "page title",
                ),
                text(
                    "profile",
                    "default",
                    "profile the plan was built with (set by `run`)",
                ),
                text("git_commit", "unknown", "commit of the code (set by `run`)"),
                ParamSpec {
                    name: "git_dirty",
                    ty: ParamType::Bool,
                    default: Some(Value::Bool(false)),
                    sweepable: false,
                    doc: "whether the work tree had uncommitted changes (set by `run`)",
                },
                text(
                    "pipeline_text",
                    "",
                    "the pipeline.toml the plan was built from (set by `run`)",
                ),
                ParamSpec {
                    name: "cores",
                    ty: ParamType::Int {
                        min: Some(0),
                        max: None,
                    },
                    default: Some(Value::from(0)),
                    sweepable: false,
                    doc: "cores of the machine (set by `run`)",
                },
                text("os", "", "operating system (set by `run`)"),
                text(
                    "previous_label",
                    "",
                    "what `previous_claims` comes from, e.g. the previous run's commit (set by `run`)",
                ),
                text(
                    "previous_claims",
                    "",
                    "the previous run's claims as JSON (its ledgers' rows, one array); when set, the \
                     page gets a section of what changed since (set by `run`)",
                ),
                text(
                    "reseed_how",
                    "",
                    "how the seeds of `reseed_flips` were replaced; empty when the ledger has not been \
                     recomputed with disjoint seeds (set by `run` from `verify --reseed`'s results)",
                ),
                ParamSpec {
                    name: "reseed_compared",
                    ty: ParamType::Int {
                        min: Some(0),
                        max: None,
                    },
                    default: Some(Value::from(0)),
                    sweepable: false,
                    doc: "claims compared with their disjoint-seed recomputation (set by `run`)",
                },
                text(
                    "reseed_flips",
                    "[]",
                    "claims whose verdict differs under disjoint seeds, as JSON (`SeedFlip` rows); \
                     they are inconclusive on the page (set by `run`)",
                ),
            ],
        }
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        let params: ReportParams = ctx.params()?;
        let model = build_model(&params, ctx.inputs)?;
        let out = ctx.out_dir.join("publish").join("index.html");
        report::write(&model, &out)?;
        Ok(())
    }
}

fn build_model(
    params: &ReportParams,
    inputs: &[InputArtifact],
) -> Result<report::ReportModel, AnalysisError> {
    let mut claims: Vec<Claim> = Vec::new();
    let mut figures: Vec<(FigureRecord, String)> = Vec::new();
    let mut key_tables: Vec<KeyTableRecord> = Vec::new();
    // Section → (stage → (kind, param → distinct values)).
    let mut stage_params: BTreeMap<String, BTreeMap<String, StageSummary>> = BTreeMap::new();
    let mut downloads: BTreeMap<String, Vec<report::TableDownload>> = BTreeMap::new();
    let mut task_keys: Vec<report::StageTaskKeys> = Vec::new();
    for input in inputs {
        match task_keys.last_mut() {
            Some(last) if last.stage == input.stage => last.keys.push(input.key.clone()),
            _ => task_keys.push(report::StageTaskKeys {
                stage: input.stage.clone(),
                keys: vec![input.key.clone()],
            }),
        }
        let ledger = input.path(LEDGER_FILE);
        if ledger.exists() {
            claims.extend(read_json::<Vec<Claim>>(&ledger)?);
        }
        let mut sections_of_task: Vec<String> = Vec::new();
        let figure_index = input.path(FIGURES_FILE);
        if figure_index.exists() {
            for record in read_json::<Vec<FigureRecord>>(&figure_index)? {
                let svg_path = input.path("publish").join(record.svg());
                let svg = std::fs::read_to_string(&svg_path)
                    .map_err(|source| AnalysisError::io(&svg_path, source))?;
                sections_of_task.push(record.section.clone());
                figures.push((record, svg));
            }
        }
        let tables_file = input.path(KEY_TABLES_FILE);
        if tables_file.exists() {
            for table in read_json::<Vec<KeyTableRecord>>(&tables_file)? {
                sections_of_task.push(table.section.clone());
                key_tables.push(table);
            }
        }
        sections_of_task.dedup();
        for section in &sections_of_task {
            let entry = stage_params
                .entry(section.clone())
                .or_default()
                .entry(input.stage.clone())
                .or_insert_with(|| (input.kind.clone(), BTreeMap::new()));
            if let Value::Object(map) = &input.params {
                for (key, value) in map {
                    let text = value.to_string();
                    let values = entry.1.entry(key.clone()).or_default();
                    if !values.contains(&text) {
                        values.push(text);
                    }
                }
            }
        }
        let tables_dir = input.path("publish").join("tables");
        if let (Some(section), Ok(entries)) =
            (sections_of_task.first(), std::fs::read_dir(&tables_dir))
        {
            let mut names: Vec<String> = entries
                .flatten()
                .filter_map(|entry| {
                    entry
                        .file_name()
                        .to_str()
                        .and_then(|n| n.strip_suffix(".csv"))
                        .map(String::from)
                })
                .collect();
            names.sort();
            for name in names {
                downloads
                    .entry(section.clone())
                    .or_default()
                    .push(report::TableDownload {
                        csv: format!("tables/{name}.csv"),
                        parquet: format!("tables/{name}.parquet"),
                        name,
                    });
            }
        }
    }
    let figure_ids: Vec<&str> = figures
        .iter()
        .map(|(record, _)| record.id.as_str())
        .collect();
    let mut sections = Vec::new();
    for (id, title) in crate::SECTIONS {
        let section_figures: Vec<report::Figure> = figures
            .iter()
            .filter(|(record, _)| record.section == *id)
            .map(|(record, svg)| report::Figure {
                id: record.id.clone(),
                caption: record.caption.clone(),
                svg: svg.clone(),
                png: record.png(),
            })
            .collect();
        let section_claims: Vec<&Claim> =
            claims.iter().filter(|claim| claim.section == *id).collect();
        if section_figures.is_empty() && section_claims.is_empty() {
            continue;
        }
        let (_, paper, summary) = SECTION_TEXT
            .iter()
            .find(|(s, _, _)| s == id)
            .copied()
            .unwrap_or((id, "", ""));
        let mut tables: Vec<report::KeyTable> = key_tables
            .iter()
            .filter(|table| table.section == *id)
            .map(|table| report::KeyTable {
                caption: table.caption.clone(),
                columns: table.columns.clone(),
                rows: table.rows.clone(),
            })
            .collect();
        if !section_claims.is_empty() {
            tables.push(report::KeyTable {
                caption: "Measured values of this section's claims".into(),
                columns: vec!["claim".into(), "measured".into(), "verdict".into()],
                rows: section_claims
                    .iter()
                    .map(|claim| {
                        vec![
                            claim.id.clone(),
                            claim.measured.clone(),
                            crate::claims::verdict_text(claim).into(),
                        ]
                    })
                    .collect(),
            });
        }
        let stages = stage_params
            .get(*id)
            .map(|stages| {
                stages
                    .iter()
                    .map(|(name, (kind, params))| report::StageParams {
                        name: name.clone(),
                        kind: kind.clone(),
                        params: params
                            .iter()
                            .map(|(key, values)| format!("{key} = {}", values.join(" | ")))
                            .collect::<Vec<_>>()
                            .join("\n"),
                    })
                    .collect()
            })
            .unwrap_or_default();
        sections.push(report::Section {
            id: (*id).into(),
            title: (*title).into(),
            paper_statement: paper.into(),
            summary: summary.into(),
            figures: section_figures,
            tables,
            stages,
            downloads: downloads.remove(*id).unwrap_or_default(),
        });
    }
    let present: Vec<&str> = sections.iter().map(|section| section.id.as_str()).collect();
    let reseed = if params.reseed_how.is_empty() {
        None
    } else {
        let flips: Vec<crate::claims::SeedFlip> = serde_json::from_str(&params.reseed_flips)
            .map_err(|error| {
                AnalysisError::invalid(format!(
                    "parameter reseed_flips is not a JSON array of seed flips: {error}"
                ))
            })?;
        crate::claims::apply_seed_flips(&mut claims, &flips, &params.reseed_how);
        Some(report::Reseed {
            how: params.reseed_how.clone(),
            compared: usize::try_from(params.reseed_compared).unwrap_or(0),
            flips: flips
                .iter()
                .map(|flip| report::ClaimChange {
                    id: flip.id.clone(),
                    old_verdict: flip.original.word().into(),
                    new_verdict: flip.reseeded.word().into(),
                    old_measured: flip.original_measured.clone(),
                    new_measured: flip.reseeded_measured.clone(),
                })
                .collect(),
        })
    };
    let changes = previous_changes(params, &claims)?;
    let claims = claims
        .into_iter()
        .map(|claim| {
            let verdict = match claim.outcome() {
                crate::claims::Verdict::Reproduced | crate::claims::Verdict::Passed => {
                    report::Verdict::Pass
                }
                crate::claims::Verdict::Inconclusive => report::Verdict::Inconclusive,
                crate::claims::Verdict::Contradicted | crate::claims::Verdict::Failed => {
                    report::Verdict::Fail
                }
            };
            let check = claim.class == crate::claims::ClaimClass::Check;
            // A claim may only link to a figure that is on the page.
            let figure = claim
                .figure
                .filter(|figure| figure_ids.contains(&figure.as_str()));
            if !present.contains(&claim.section.as_str()) {
                return Err(AnalysisError::invalid(format!(
                    "claim {:?} names unknown section {:?}",
                    claim.id, claim.section
                )));
            }
            Ok(report::Claim {
                id: claim.id,
                section: claim.section,
                statement: if claim.known {
                    format!(
                        "{} [Expected: this verdict is a documented finding of the reproduction, \
                         listed in the ledger's known_failures in pipeline.toml.]",
                        claim.statement
                    )
                } else {
                    claim.statement
                },
                measurement: claim.measurement,
                tolerance: claim.tolerance,
                measured: claim.measured,
                verdict,
                figure,
                check,
                expected: claim.known,
                rule: claim.rule,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let results = paper_results(&claims, &present, &figure_ids);
    let crate_versions = std::iter::once(report::CrateVersion {
        name: "minorfirst".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
    .chain(
        crate::fingerprint::VERSIONS
            .iter()
            .map(|(name, version)| report::CrateVersion {
                name: (*name).into(),
                version: (*version).into(),
            }),
    )
    .collect();
    Ok(report::ReportModel {
        title: params.title.clone(),
        paper: report::PaperRef {
            title: "Minor First, Major Last: A Depth-Induced Implicit Bias of Sharpness-Aware Minimization".into(),
            authors: "Chaewon Moon, Dongkuk Si, Chulhee Yun".into(),
            venue: "ICLR 2026 (arXiv 2603.08290)".into(),
        },
        results,
        claims,
        sections,
        provenance: report::Provenance {
            git_commit: params.git_commit.clone(),
            git_dirty: params.git_dirty,
            profile: params.profile.clone(),
            parameters: params.pipeline_text.clone(),
            task_keys,
            crate_versions,
            machine: report::Machine { cores: usize::try_from(params.cores).unwrap_or(0), os: params.os.clone() },
        },
        changes,
        reseed,
        run_info: None,
    })
}

/// The first screen's rows: [`RESULTS`] with the section linked when it is on the page and, as
/// thumbnail, the figure most of the result's claims point at (the first such on ties).
fn paper_results(
    claims: &[report::Claim],
    present_sections: &[&str],
    figure_ids: &[&str],
) -> Vec<report::PaperResult> {
    RESULTS
        .iter()
        .map(|result| {
            let mut votes: Vec<(&str, usize)> = Vec::new();
            for claim in claims.iter().filter(|claim| {
                result
                    .claims
                    .iter()
                    .any(|pattern| report::selects(pattern, &claim.id))
            }) {
                let Some(figure) = claim.figure.as_deref() else {
                    continue;
                };
                if !figure_ids.contains(&figure) {
                    continue;
                }
                match votes.iter_mut().find(|(known, _)| *known == figure) {
                    Some((_, count)) => *count += 1,
                    None => votes.push((figure, 1)),
                }
            }
            // The first figure with the most votes (max_by_key would keep the last).
            let figure = votes
                .iter()
                .fold(None::<(&str, usize)>, |best, &(figure, count)| match best {
                    Some((_, most)) if most >= count => best,
                    _ => Some((figure, count)),
                })
                .map(|(figure, _)| figure.to_owned());
            report::PaperResult {
                id: result.id.into(),
                title: result.title.into(),
                measured: result.measured.into(),
                section: present_sections
                    .contains(&result.section)
                    .then_some(result.section.to_owned()),
                figure,
                claims: result.claims.iter().map(|p| (*p).to_owned()).collect(),
            }
        })
        .collect()
}

/// The "changes since the previous run" section, when `run` passed the previous run's claims: the
/// same comparison `minorfirst diff` makes of the claims, of a parameter against this task's own
/// inputs, so the page stays a function of its parameters and inputs.
fn previous_changes(
    params: &ReportParams,
    claims: &[Claim],
) -> Result<Option<report::RunChanges>, AnalysisError> {
    if params.previous_claims.trim().is_empty() {
        return Ok(None);
    }
    let mut previous: Vec<Claim> =
        serde_json::from_str(&params.previous_claims).map_err(|error| {
            AnalysisError::invalid(format!(
                "parameter previous_claims is not a JSON array of ledger rows: {error}"
            ))
        })?;
    previous.sort_by(|a, b| a.id.cmp(&b.id));
    let mut current = claims.to_vec();
    current.sort_by(|a, b| a.id.cmp(&b.id));
    let diff = crate::rundiff::diff_claims(&previous, &current);
    let change = |id: &str, old: &str, new: &str, old_measured: &str, new_measured: &str| {
        report::ClaimChange {
            id: id.into(),
            old_verdict: old.into(),
            new_verdict: new.into(),
            old_measured: old_measured.into(),
            new_measured: new_measured.into(),
        }
    };
    Ok(Some(report::RunChanges {
        against: if params.previous_label.is_empty() {
            "the previous run".into()
        } else {
            params.previous_label.clone()
        },
        verdict_changed: diff
            .verdict_changed
            .iter()
            .map(|c| change(&c.id, &c.old, &c.new, &c.old_measured, &c.new_measured))
            .collect(),
        moved: diff
            .moved
            .iter()
            .map(|m| {
                change(
                    &m.id,
                    &m.verdict,
                    &m.verdict,
                    &m.old_measured,
                    &m.new_measured,
                )
            })
            .collect(),
        added: diff.added.iter().map(|c| c.id.clone()).collect(),
        removed: diff.removed.iter().map(|c| c.id.clone()).collect(),
        changed_within_tolerance: diff.measured_changed,
        unchanged: diff.unchanged,
    }))
}

/// A stage's kind and, per parameter, the distinct values its tasks used (JSON text).
type StageSummary = (String, BTreeMap<String, Vec<String>>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_result_names_a_section_of_the_page_and_claim_patterns() {
        let mut ids: Vec<&str> = RESULTS.iter().map(|result| result.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RESULTS.len(), "result ids are unique");
        for result in RESULTS {
            assert!(
                crate::SECTIONS.iter().any(|(id, _)| *id == result.section),
                "{}: unknown section {}",
                result.id,
                result.section
            );
            assert!(!result.claims.is_empty(), "{} selects no claims", result.id);
            for pattern in result.claims {
                // Only a trailing `*` is a wildcard; one elsewhere would silently match nothing.
                let body = pattern.strip_suffix('*').unwrap_or(pattern);
                assert!(
                    !body.is_empty() && !body.contains('*'),
                    "{}: malformed pattern {pattern:?}",
                    result.id
                );
            }
            // Two lines of the first screen's "what was measured" column at 1280 px.
            assert!(
                result.measured.chars().count() <= 170,
                "{}: {} characters of 'measured' would not fit two lines",
                result.id,
                result.measured.chars().count()
            );
        }
    }

    fn claim(id: &str, figure: Option<&str>) -> report::Claim {
        report::Claim {
            id: id.into(),
            section: "linf".into(),
            statement: String::new(),
            measurement: String::new(),
            tolerance: String::new(),
            measured: String::new(),
            verdict: report::Verdict::Pass,
            figure: figure.map(Into::into),
            check: false,
            expected: false,
            rule: None,
        }
    }

    #[test]
    fn a_result_shows_the_figure_most_of_its_claims_point_at() {
        let claims = vec![
            claim("s3.linf.regimes.stationary", Some("fig-a")),
            claim("s3.linf.regimes.even_dies", Some("fig-b")),
            claim("s3.linf.regimes.odd_rises", Some("fig-b")),
            claim("s3.linf.freeze.loser_closed_form", Some("fig-gone")),
            claim("s3.depth1.not_l1mm", Some("fig-a")),
        ];
        let results = paper_results(&claims, &["linf"], &["fig-a", "fig-b"]);
        let regimes = results.iter().find(|r| r.id == "linf-regimes").unwrap();
        assert_eq!(regimes.figure.as_deref(), Some("fig-b"));
        assert_eq!(regimes.section.as_deref(), Some("linf"));
        // A section that is not on the page is not linked.
        let depth1 = results.iter().find(|r| r.id == "depth1").unwrap();
        assert_eq!(depth1.figure.as_deref(), Some("fig-a"));
        assert_eq!(depth1.section, None);
        let mnist = results.iter().find(|r| r.id == "mnist-cnn").unwrap();
        assert_eq!(mnist.figure, None);
    }
}
