//! `sec3.phase`: the Cor 3.5 phase diagrams (one heatmap per `sec3.phase_grid` task) and the
//! agreement claims; kept apart from the grid computation so that editing a plot retrains nothing.

use figures::{Class, Heatmap, HeatmapCells, MarkerKind, MarkerSet, Series, render_heatmap};
use pipeline::stage::{ParamSchema, ParamSpec, ParamType, StageKind, TaskContext, TaskError};
use serde::Deserialize;

use crate::artifacts::{FigureRecord, figure_stem, read_json, write_figures};
use crate::claims::{Claim, write_claims};
use crate::error::AnalysisError;
use crate::rules::{Rules, rules_spec};
use crate::sec3::common::optimizer_name;
use crate::sec3::phase::{Agreement, GRID_FILE, Grid, agreement};
use crate::table::{self, Columns};

/// The `sec3.phase` kind: one heatmap per grid, the agreement claims and a summary table.
pub struct Phase;

#[derive(Deserialize)]
struct PhaseParams {
    figure_prefix: String,
    rules: Rules,
}

/// Predicted boundaries of the diagram (in ratio units), drawn dashed.
fn boundaries(grid: &Grid) -> Vec<Series> {
    // The boundaries run to the outermost cell edges (half a spacing beyond the first/last centre).
    let first = grid.ratios.first().copied().unwrap_or(0.0);
    let last = grid.ratios.last().copied().unwrap_or(1.0);
    let spacing = if grid.ratios.len() > 1 {
        (last - first) / (grid.ratios.len() - 1) as f64
    } else {
        1.0
    };
    let (lo, hi) = (first - 0.5 * spacing, last + 0.5 * spacing);
    let unit_rho = if grid.optimizer == "gd" { 0.0 } else { 1.0 };
    let mut curves = Vec::new();
    if unit_rho > 0.0 {
        // α₁ = ρ (for α₀ ≤ ρ, and everywhere at L = 2) and α₀ = ρ (for α₁ ≤ ρ).
        let right = if grid.depth == 2 { hi } else { 1.0 };
        curves.push(Series::new("predicted boundaries", vec![(lo, 1.0), (right, 1.0)], 6).dashed());
        curves.push(Series::new("", vec![(1.0, lo), (1.0, 1.0)], 6).dashed());
    }
    if grid.depth >= 3 {
        // μ₀(α₀ − ρ)^{L−2} = μ₁(α₁ − ρ)^{L−2}: α₁ = ρ + (μ₀/μ₁)^{1/(L−2)}(α₀ − ρ).
        let factor = (grid.mu[0] / grid.mu[1]).powf(1.0 / (grid.depth - 2) as f64);
        let line = |x: f64| (x, unit_rho + factor * (x - unit_rho));
        let start = if unit_rho > 0.0 {
            unit_rho
        } else {
            lo / factor
        };
        let points = vec![line(start), line(hi)];
        let name = if unit_rho > 0.0 {
            ""
        } else {
            "predicted boundary"
        };
        curves.push(Series::new(name, points, 6).dashed());
    }
    curves
}

impl StageKind for Phase {
    fn name(&self) -> &'static str {
        "sec3.phase"
    }
    fn fingerprint(&self) -> &'static str {
        crate::fingerprint::FINGERPRINT
    }
    fn schema(&self) -> ParamSchema {
        ParamSchema::new(vec![
            ParamSpec::new(
                "figure_prefix",
                ParamType::Str { choices: None },
                "figure id prefix",
            )
            .with_default("s3-phase"),
            rules_spec(),
        ])
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        let p: PhaseParams = ctx.params()?;
        // The required fraction of decidable cells where measured = predicted.
        let min_agreement = p.rules.threshold("agreement")?;
        let agreement_rule = p.rules.get("agreement")?;
        let grids: Vec<Grid> = ctx
            .inputs
            .iter()
            .filter(|input| input.path(GRID_FILE).exists())
            .map(|input| read_json(&input.path(GRID_FILE)))
            .collect::<Result<_, _>>()?;
        if grids.is_empty() {
            return Err(AnalysisError::invalid("sec3.phase needs sec3.phase_grid inputs").into());
        }
        let mut records: Vec<FigureRecord> = Vec::new();
        let mut claims = Vec::new();
        let mut rows: Vec<(String, usize, Agreement)> = Vec::new();
        for grid in &grids {
            let original = grid.clock == "original";
            let id = if original {
                format!(
                    "{}-{}-l{}-eta{}",
                    p.figure_prefix, grid.optimizer, grid.depth, grid.lr
                )
            } else {
                format!("{}-{}-l{}", p.figure_prefix, grid.optimizer, grid.depth)
            };
            let a = agreement(&grid.cells);
            rows.push((grid.optimizer.clone(), grid.depth, a));
            render(grid, ctx.out_dir, &id)?;
            let name = optimizer_name(&grid.optimizer);
            records.push(FigureRecord {
                id: id.clone(),
                section: "linf".into(),
                caption: format!(
                    "Limit direction of {name} at depth L = {} for μ = (1, 2) over the init (α₀, α₁){}: cell colour = measured winner at the end of a \
                     rescaled-clock run (gray: the horizon cannot decide it by the closed form); dashed = predicted boundaries of Cor 3.5{}; × = measured ≠ predicted.",
                    grid.depth,
                    if grid.optimizer == "gd" { "" } else { " in units of ρ" },
                    if grid.optimizer == "gd" { " at ρ = 0" } else { "" },
                ),
            });
            let fraction = a.agree as f64 / a.decided.max(1) as f64;
            let mut statement = if grid.optimizer == "gd" {
                format!(
                    "GD baseline (Cor 3.5 at ρ = 0): at depth {} GD converges to e_j*, j* = argmax μ_j α_j^(L−2) — at L = 2 always the major coordinate.",
                    grid.depth
                )
            } else {
                format!(
                    "Cor 3.5: ℓ∞-SAM at depth {} converges to e_j*, j* = argmax over α_j > ρ of μ_j(α_j − ρ)^(L−2), or to 0 when no α_j > ρ.",
                    grid.depth
                )
            };
            if original {
                statement = format!(
                    "In original time at step η = {} (far from the flow): {statement}",
                    grid.lr
                );
            }
            let claim_id = if original {
                format!(
                    "s3.linf.phase_original.eta{}.{}.L{}",
                    grid.lr, grid.optimizer, grid.depth
                )
            } else {
                format!("s3.linf.phase.{}.L{}", grid.optimizer, grid.depth)
            };
            let mut claim = Claim::verdict(
                    &claim_id,
                    "linf",
                    &statement,
                    &format!(
                        "fraction of the {}×{} grid cells decidable at the horizon (closed-form winner ahead by K = {} before τ = {} or the ‖β‖ cap) where the measured winner equals the predicted one; undecidable cells reported separately",
                        grid.ratios.len(), grid.ratios.len(), grid.dominance, grid.tau_end
                    ),
                    &format!("≥ {} of decidable cells (Euler error can only flip cells at the edge of decidability)", min_agreement),
                    format!("{}/{} = {:.4} agree; {} undecidable", a.agree, a.decided, fraction, a.undecidable),
                    a.decided > 0 && fraction >= min_agreement,
                )
                .with_rule(agreement_rule)
                .with_figure(&id);
            // Control: GD's measured winners on the same cells (same depth, clock and step) against
            // ℓ∞-SAM's predicted ones; SAM's diagram is SAM-specific only where GD's differs.
            let control = grids.iter().find(|g| {
                g.optimizer == "gd"
                    && grid.optimizer != "gd"
                    && g.depth == grid.depth
                    && g.clock == grid.clock
                    && g.lr == grid.lr
                    && g.ratios == grid.ratios
            });
            if let Some(gd) = control {
                let (mut same, mut decided) = (0, 0);
                for (cell, gd_cell) in grid.cells.iter().zip(&gd.cells) {
                    if cell.decidable {
                        decided += 1;
                        same += usize::from(gd_cell.measured == cell.predicted);
                    }
                }
                let share = same as f64 / decided.max(1) as f64;
                claim = claim.with_control(
                    "GD, same cells",
                    &format!(
                        "its winner equals ℓ∞-SAM's prediction in {same}/{decided} = {share:.4}"
                    ),
                    share < min_agreement,
                );
            }
            claims.push(claim);
        }
        let mut df = Columns::new()
            .str("optimizer", rows.iter().map(|r| r.0.clone()).collect())
            .i64("depth", rows.iter().map(|r| r.1 as i64).collect())
            .i64("decided", rows.iter().map(|r| r.2.decided as i64).collect())
            .i64("agree", rows.iter().map(|r| r.2.agree as i64).collect())
            .i64(
                "undecidable",
                rows.iter().map(|r| r.2.undecidable as i64).collect(),
            )
            .finish()?;
        table::write_and_publish(&mut df, ctx.out_dir, &format!("{}_agreement", ctx.stage))?;
        write_figures(ctx.out_dir, &records)?;
        write_claims(ctx.out_dir, &claims)?;
        Ok(())
    }
}

fn render(grid: &Grid, out_dir: &std::path::Path, id: &str) -> Result<(), AnalysisError> {
    const UNDECIDABLE: i64 = 9;
    let n = grid.ratios.len();
    let mut values = vec![vec![0_i64; n]; n];
    let mut wrong = Vec::new();
    for (index, cell) in grid.cells.iter().enumerate() {
        let (row, col) = (index / n, index % n);
        values[row][col] = if cell.decidable {
            cell.measured
        } else {
            UNDECIDABLE
        };
        if cell.decidable && cell.measured != cell.predicted {
            wrong.push((cell.r0, cell.r1));
        }
    }
    let unit = if grid.optimizer == "gd" {
        "α"
    } else {
        "α/ρ"
    };
    let figure = Heatmap {
        title: format!(
            "{}, L = {}: measured limit direction (μ = (1, 2){})",
            optimizer_name(&grid.optimizer),
            grid.depth,
            if grid.optimizer == "gd" {
                String::new()
            } else {
                format!(", ρ = {}", grid.rho)
            }
        ),
        x_label: format!("{unit} of coordinate 0 (minor, μ₀ = 1)"),
        y_label: format!("{unit} of coordinate 1 (major, μ₁ = 2)"),
        x: grid.ratios.clone(),
        y: grid.ratios.clone(),
        cells: HeatmapCells::Categorical {
            values,
            classes: vec![
                Class {
                    value: 0,
                    name: "e₀ (minor wins)".into(),
                    color_index: Some(1),
                },
                Class {
                    value: 1,
                    name: "e₁ (major wins)".into(),
                    color_index: Some(0),
                },
                Class {
                    value: -1,
                    name: "0 (no coordinate grows)".into(),
                    color_index: Some(4),
                },
                Class {
                    value: UNDECIDABLE,
                    name: "undecidable at this horizon".into(),
                    color_index: None,
                },
            ],
        },
        curves: boundaries(grid),
        markers: vec![MarkerSet {
            name: if wrong.is_empty() {
                String::new()
            } else {
                "measured ≠ predicted".into()
            },
            kind: MarkerKind::Cross,
            points: wrong,
            color_index: None,
        }],
        size: (1200, 900),
        ..Heatmap::default()
    };
    render_heatmap(&figure, &figure_stem(out_dir, id)?)
        .map_err(|error| AnalysisError::invalid(format!("failed to render a figure: {error}")))?;
    Ok(())
}
