//! A realistic demonstration model (four results of the paper, three sections, four claims with
//! one failure, two figures),
//! used by the tests, the `sample` example and the docs to exercise every part of the page.

use std::fmt::Write as _;

use crate::model::{
    Claim, CrateVersion, Figure, KeyTable, Machine, PaperRef, PaperResult, Provenance, ReportModel,
    RunInfo, Section, StageParams, StageTaskKeys, StageWallTime, TableDownload, Verdict,
};

/// The sample model. The numbers in it are illustrative, not results.
pub fn sample_model() -> ReportModel {
    ReportModel {
        title: "Minor First, Major Last — a reproduction".into(),
        paper: PaperRef {
            title: "Minor First, Major Last: SAM on diagonal linear networks".into(),
            authors: "Anonymous authors".into(),
            venue: "ICLR 2026".into(),
        },
        claims: vec![
            claim(
                "thm3.1.depth1",
                "depth1",
                "At depth 1, SAM converges in direction to the ℓ2 max-margin separator.",
                "1 − cos(β(T), β_ℓ2-MM) at the end of the run",
                "≤ 1e-3 (O(1/log t) convergence over 1e5 steps)",
                "2.1e-4",
                Verdict::Pass,
                Some("fig-depth1-cos"),
            ),
            claim(
                "thm3.2.regimes.L2",
                "linf",
                "ℓ∞-SAM at L = 2: coordinates with α_j < ρ die, those with α_j > ρ grow.",
                "sign of dβ_j/dτ for each regime, simulated vs closed form",
                "exact agreement of signs",
                "3 / 3 regimes agree",
                Verdict::Pass,
                Some("fig-linf-regimes"),
            ),
            claim(
                "cor3.5.winner.L3",
                "linf",
                "At L = 3 the limit direction is e_{j*} with j* the predicted winner.",
                "fraction of a 25 × 25 (α₁/ρ, α₂/ρ) grid where the measured winner equals j*",
                "≥ 0.98 (cells on the boundary may tie)",
                "0.953",
                Verdict::Fail,
                Some("fig-linf-regimes"),
            ),
            // A check, so the sample shows both classes.
            Claim {
                check: true,
                ..claim(
                "ext.flow.order1",
                "flows",
                "Discrete SAM approaches its flow at first order in η; a statement with <b>& markup.",
                "slope of log distance vs log η",
                "|slope − 1| ≤ 0.1",
                "0.98",
                Verdict::Pass,
                None,
            )
            },
        ],
        results: vec![
            result(
                "depth1",
                "Depth 1 → ℓ2 max-margin",
                "1 − cos to the ℓ2 max-margin separator at the end of the run.",
                Some("depth1"),
                Some("fig-depth1-cos"),
                &["thm3.1.*"],
            ),
            result(
                "linf",
                "ℓ∞-SAM: regimes and the limit e_j*",
                "Signs of dβ_j/dτ per regime and the winner over a grid of initializations.",
                Some("linf"),
                Some("fig-linf-regimes"),
                &["thm3.2.*", "cor3.5.*"],
            ),
            // Only a check selects it: no evidence, shown as such.
            result(
                "flows",
                "Discrete SAM vs the SAM flow",
                "Slope of the distance to the flow against the step size.",
                Some("flows"),
                None,
                &["ext.flow.*"],
            ),
            // Nothing selects it: the row says which pattern matched nothing.
            result(
                "mnist",
                "MNIST: saliency on weak pixels",
                "Share of Grad-CAM mass on weak pixels.",
                None,
                None,
                &["mnist.*"],
            ),
        ],
        sections: vec![
            Section {
                id: "depth1".into(),
                title: "Depth 1: ℓ2 max margin".into(),
                paper_statement:
                    "Theorem 3.1: for L = 1, GD, ℓ∞-SAM and ℓ2-SAM all converge in direction to the ℓ2 max-margin solution."
                        .into(),
                summary:
                    "On seeded separable data every optimizer's direction approaches the ℓ2 max-margin separator, and none approaches the ℓ1 one. The gap closes logarithmically in time, as the theory predicts."
                        .into(),
                figures: vec![Figure {
                    id: "fig-depth1-cos".into(),
                    caption: "1 − cos(β, β_ℓ2-MM) against steps for GD and both SAM variants (log–log)."
                        .into(),
                    svg: line_chart(
                        "steps",
                        "1 − cos",
                        &[
                            ("GD", "#1f77b4", &|x: f64| 0.5 / (1.0 + 3.0 * x)),
                            ("ℓ∞-SAM", "#d62728", &|x: f64| 0.45 / (1.0 + 2.5 * x)),
                            ("ℓ2-SAM", "#2ca02c", &|x: f64| 0.4 / (1.0 + 2.0 * x)),
                        ],
                    ),
                    png: "figures/fig-depth1-cos.png".into(),
                }],
                tables: vec![KeyTable {
                    caption: "Final alignment after 10⁵ steps".into(),
                    columns: vec!["optimizer".into(), "1 − cos to ℓ2-MM".into(), "cos to ℓ1-MM".into()],
                    rows: vec![
                        vec!["GD".into(), "1.9e-4".into(), "0.912".into()],
                        vec!["ℓ∞-SAM".into(), "2.1e-4".into(), "0.907".into()],
                        vec!["ℓ2-SAM".into(), "2.4e-4".into(), "0.905".into()],
                    ],
                }],
                stages: vec![StageParams {
                    name: "depth1_margin".into(),
                    kind: "train.sweep".into(),
                    params: "depth = 1\noptimizer = [\"gd\", \"sam-linf\", \"sam-l2\"]\nrho = 0.1\nlr = 0.5\nsteps = 100000".into(),
                }],
                downloads: vec![TableDownload {
                    name: "depth1_margin".into(),
                    csv: "tables/depth1_margin.csv".into(),
                    parquet: "tables/depth1_margin.parquet".into(),
                }],
            },
            Section {
                id: "linf".into(),
                title: "ℓ∞-SAM at depth ≥ 2: gating".into(),
                paper_statement:
                    "Theorem 3.2 and Corollary 3.5: under ℓ∞-SAM each coordinate's fate is decided by α_j against ρ; the minor coordinate can win."
                        .into(),
                summary:
                    "Coordinates initialised below ρ shrink and those above grow, exactly as the closed form predicts. The phase diagram of limit directions matches the predicted winner except near the boundary, where the measured fraction falls short of the tolerance."
                        .into(),
                figures: vec![Figure {
                    id: "fig-linf-regimes".into(),
                    caption: "β_j(τ) for α_j < ρ, = ρ and > ρ at L = 2; simulation (solid) and closed form (dashed).".into(),
                    svg: line_chart(
                        "rescaled time τ",
                        "β_j",
                        &[
                            ("α < ρ", "#1f77b4", &|x: f64| 0.4 * (-2.0 * x).exp()),
                            ("α = ρ", "#ff7f0e", &|_| 0.4),
                            ("α > ρ", "#d62728", &|x: f64| (0.4 * (1.5 * x).exp()).min(0.95)),
                        ],
                    ),
                    png: "figures/fig-linf-regimes.png".into(),
                }],
                tables: vec![KeyTable {
                    caption: "Winner agreement on the 25 × 25 grid".into(),
                    columns: vec!["depth".into(), "cells".into(), "agree".into(), "fraction".into()],
                    rows: vec![
                        vec!["2".into(), "625".into(), "619".into(), "0.990".into()],
                        vec!["3".into(), "625".into(), "596".into(), "0.953".into()],
                    ],
                }],
                stages: vec![
                    StageParams {
                        name: "linf_gating".into(),
                        kind: "train.sweep".into(),
                        params: "{\n  \"depth\": [2, 3],\n  \"optimizer\": [\"gd\", \"sam-linf\"],\n  \"rho\": 0.1\n}".into(),
                    },
                    StageParams {
                        name: "linf_phase".into(),
                        kind: "analysis.phase".into(),
                        params: "grid = 25\nrange = [0.0, 3.0]".into(),
                    },
                ],
                downloads: vec![TableDownload {
                    name: "linf_phase".into(),
                    csv: "tables/linf_phase.csv".into(),
                    parquet: "tables/linf_phase.parquet".into(),
                }],
            },
            Section {
                id: "flows".into(),
                title: "Flows and clocks".into(),
                paper_statement: "The discrete dynamics follow the SAM flow; rescaled time makes the regimes visible.".into(),
                summary:
                    "The distance between discrete runs and the ODE solution halves when η halves. Escaping check: 1 < 2 & 3 > 2."
                        .into(),
                figures: Vec::new(),
                tables: vec![KeyTable {
                    caption: "Distance to the flow at τ = 1".into(),
                    columns: vec!["η".into(), "distance".into()],
                    rows: vec![
                        vec!["0.1".into(), "4.1e-3".into()],
                        vec!["0.05".into(), "2.1e-3".into()],
                        vec!["0.025".into(), "1.0e-3".into()],
                    ],
                }],
                stages: vec![StageParams {
                    name: "flow_compare".into(),
                    kind: "flow.compare".into(),
                    params: "eta = [0.1, 0.05, 0.025]".into(),
                }],
                downloads: Vec::new(),
            },
        ],
        provenance: Provenance {
            git_commit: "334a1f5c0ffee1234567890abcdef0123456789a".into(),
            git_dirty: false,
            profile: "quick".into(),
            parameters: "[stage.linf_gating]\nkind = \"train.sweep\"\ndepth = [2, 3]\nrho = 0.1\n".into(),
            task_keys: vec![
                StageTaskKeys {
                    stage: "depth1_margin".into(),
                    keys: vec!["9f2c1a7e5b3d".into(), "41d0e8c2aa17".into()],
                },
                StageTaskKeys {
                    stage: "linf_gating".into(),
                    keys: vec!["c0ffee123456".into()],
                },
            ],
            crate_versions: vec![
                CrateVersion {
                    name: "report".into(),
                    version: "0.0.0".into(),
                },
                CrateVersion {
                    name: "tera".into(),
                    version: "2.4.0".into(),
                },
            ],
            machine: Machine {
                cores: 2,
                os: "linux x86_64".into(),
            },
        },
        changes: None,
        reseed: None,
        run_info: Some(RunInfo {
            started_at: "2026-11-28T03:00:00Z".into(),
            total_wall_seconds: 41.25,
            stage_wall_seconds: vec![
                StageWallTime {
                    stage: "depth1_margin".into(),
                    seconds: 12.5,
                    cached: false,
                },
                StageWallTime {
                    stage: "linf_gating".into(),
                    seconds: 0.01,
                    cached: true,
                },
            ],
        }),
    }
}

#[allow(clippy::too_many_arguments)]
fn claim(
    id: &str,
    section: &str,
    statement: &str,
    measurement: &str,
    tolerance: &str,
    measured: &str,
    verdict: Verdict,
    figure: Option<&str>,
) -> Claim {
    Claim {
        id: id.into(),
        section: section.into(),
        statement: statement.into(),
        measurement: measurement.into(),
        tolerance: tolerance.into(),
        measured: measured.into(),
        verdict,
        figure: figure.map(Into::into),
        check: false,
        expected: false,
        rule: None,
    }
}

fn result(
    id: &str,
    title: &str,
    measured: &str,
    section: Option<&str>,
    figure: Option<&str>,
    claims: &[&str],
) -> PaperResult {
    PaperResult {
        id: id.into(),
        title: title.into(),
        measured: measured.into(),
        section: section.map(Into::into),
        figure: figure.map(Into::into),
        claims: claims.iter().map(|c| (*c).into()).collect(),
    }
}

type Curve<'a> = (&'a str, &'a str, &'a dyn Fn(f64) -> f64);

/// A small SVG line chart in the shape plotters writes (prolog-free, fixed size with a viewBox),
/// curves sampled on x ∈ [0, 1] with y ∈ [0, 1].
fn line_chart(x_label: &str, y_label: &str, curves: &[Curve<'_>]) -> String {
    let (x_label, y_label) = (xml_escape(x_label), xml_escape(y_label));
    let (width, height) = (640.0, 400.0);
    let (left, right, top, bottom) = (60.0, 20.0, 20.0, 50.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let mut svg = format!(
        "<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\">\n<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"#FFFFFF\"/>\n"
    );
    for tick in 0..=4 {
        let fraction = f64::from(tick) / 4.0;
        let x = left + fraction * plot_w;
        let y = top + plot_h - fraction * plot_h;
        let _ = writeln!(
            svg,
            "<line x1=\"{x}\" y1=\"{top}\" x2=\"{x}\" y2=\"{}\" stroke=\"#E6E6E6\"/><line x1=\"{left}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#E6E6E6\"/>",
            top + plot_h,
            left + plot_w
        );
        let _ = writeln!(
            svg,
            "<text x=\"{x}\" y=\"{}\" font-size=\"12\" font-family=\"sans-serif\" text-anchor=\"middle\">{fraction:.2}</text><text x=\"{}\" y=\"{}\" font-size=\"12\" font-family=\"sans-serif\" text-anchor=\"end\">{fraction:.2}</text>",
            top + plot_h + 18.0,
            left - 6.0,
            y + 4.0
        );
    }
    let _ = writeln!(
        svg,
        "<rect x=\"{left}\" y=\"{top}\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"none\" stroke=\"#000000\"/>"
    );
    for (index, (name, color, curve)) in curves.iter().enumerate() {
        let points: Vec<String> = (0..=100)
            .map(|step| {
                let x = f64::from(step) / 100.0;
                let y = curve(x).clamp(0.0, 1.0);
                format!("{:.1},{:.1}", left + x * plot_w, top + plot_h - y * plot_h)
            })
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
            points.join(" ")
        );
        let name = xml_escape(name);
        let legend_y = top + 18.0 + 18.0 * index as f64;
        let _ = writeln!(
            svg,
            "<line x1=\"{}\" y1=\"{legend_y}\" x2=\"{}\" y2=\"{legend_y}\" stroke=\"{color}\" stroke-width=\"2\"/><text x=\"{}\" y=\"{}\" font-size=\"13\" font-family=\"sans-serif\">{name}</text>",
            left + plot_w - 120.0,
            left + plot_w - 96.0,
            left + plot_w - 90.0,
            legend_y + 4.0
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"{}\" font-size=\"14\" font-family=\"sans-serif\" text-anchor=\"middle\">{x_label}</text>\n<text x=\"16\" y=\"{}\" font-size=\"14\" font-family=\"sans-serif\" text-anchor=\"middle\" transform=\"rotate(-90 16 {})\">{y_label}</text>\n</svg>\n",
        left + plot_w / 2.0,
        height - 10.0,
        top + plot_h / 2.0,
        top + plot_h / 2.0
    );
    svg
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
