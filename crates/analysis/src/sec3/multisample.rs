//! `sec3.multisample`: Gaussian clusters at ±(1, 2) (spec B7) — GD, ℓ2-SAM and ℓ∞-SAM on multi-sample
//! data: the dominant coordinate over time, and ℓ∞-SAM's gating surviving (every y_i x_ij > 0, so the
//! sign pattern is the single example's).

use figures::{LegendPosition, LineChart, PanelGrid, RefLine, Scale, Series};
use numerics::theory::linf;
use pipeline::stage::{ParamSchema, StageKind, TaskContext, TaskError};
use serde::Deserialize;

use crate::artifacts::write_figures;
use crate::claims::{Claim, write_claims};
use crate::error::AnalysisError;
use crate::rules::{Rules, rules_spec};
use crate::runs::data::DatasetFile;
use crate::runs::output::{LoadedRun, direction, dominant, load_runs};
use crate::sec3::common::{figure_spec, optimizer_name, publish_grid, show};
use crate::table::{Columns, write_and_publish};

/// The `sec3.multisample` kind.
pub struct MultiSample;

#[derive(Deserialize)]
struct MultiParams {
    figure: String,
    rules: Rules,
}

/// The dominant coordinate at every logged step ≥ 1, as (step, index).
pub fn dominance_sequence(run: &LoadedRun) -> Vec<(u64, usize)> {
    run.rows
        .iter()
        .filter(|r| r.step >= 1)
        .map(|r| (r.step, dominant(&r.beta)))
        .collect()
}

/// The distinct dominant indices in order of appearance (e.g. [0, 1] for "minor first").
pub fn dominance_order(sequence: &[(u64, usize)]) -> Vec<usize> {
    let mut order: Vec<usize> = Vec::new();
    for &(_, j) in sequence {
        if order.last() != Some(&j) {
            order.push(j);
        }
    }
    order
}

/// Position (in a block of runs) of the GD run from the same init as a SAM run: its negative control.
fn control_index(runs: &[LoadedRun], alpha: &[f64]) -> Option<usize> {
    runs.iter()
        .position(|r| r.summary.optimizer == "gd" && r.summary.alpha == alpha)
}

/// The +1 class average of a dataset (the ℓ∞ theory's μ for cluster data).
fn positive_mean(file: &DatasetFile) -> Vec<f64> {
    let d = file.x[0].len();
    let positives: Vec<&Vec<f64>> = file
        .x
        .iter()
        .zip(&file.y)
        .filter(|(_, y)| **y > 0.0)
        .map(|(x, _)| x)
        .collect();
    (0..d)
        .map(|j| positives.iter().map(|x| x[j]).sum::<f64>() / positives.len() as f64)
        .collect()
}

/// The predicted limit coordinate of a run: Cor 3.5 (cluster mean) for ℓ∞-SAM, the ℓ1 max-margin
/// direction's dominant coordinate otherwise.
fn predicted_limit(run: &LoadedRun, mean: &[f64]) -> Option<usize> {
    let s = &run.summary;
    if s.optimizer == "sam-linf" {
        linf::limit_index(mean, &s.alpha, s.rho, s.depth)
    } else {
        s.l1_mm.as_ref().map(|mm| dominant(mm))
    }
}

/// ln(|β_j| / max_{k≠j} |β_k|): > 0 when coordinate j leads.
fn lead_of(beta: &[f64], j: usize) -> f64 {
    let others = beta
        .iter()
        .enumerate()
        .filter(|(k, _)| *k != j)
        .fold(0.0_f64, |m, (_, b)| m.max(b.abs()));
    (beta[j].abs() / others).ln()
}

/// Bootstrap settings of every seeded claim here (fixed, not tuned); the confidence level is the
/// stage's `ci_level` rule.
const RESAMPLES: usize = 10_000;
const BOOTSTRAP_SEED: u64 = 0;

/// "mean m, 95% CI [lo, hi] (values …)" and the three-valued decision against the predicted sign.
/// Infinite values (a coordinate exactly 0) are clamped to ±1e3 so the interval stays finite.
fn seeded_summary(
    values: &[f64],
    predicted: f64,
    level: f64,
) -> (String, numerics::stats::Decision) {
    let clamped: Vec<f64> = values.iter().map(|v| v.clamp(-1e3, 1e3)).collect();
    match numerics::stats::bootstrap_mean_ci(&clamped, level, RESAMPLES, BOOTSTRAP_SEED) {
        Ok(ci) => (
            format!(
                "mean {:.3}, {:.0}% CI [{:.3}, {:.3}] (per seed {})",
                ci.estimate,
                100.0 * level,
                ci.lo,
                ci.hi,
                clamped
                    .iter()
                    .map(|v| format!("{v:.3}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            numerics::stats::Decision::from_interval(ci, predicted),
        ),
        Err(error) => (
            format!("no interval: {error}"),
            numerics::stats::Decision::Undecided,
        ),
    }
}

/// A seeded claim decided by the bootstrap CI of the per-seed values against the predicted sign:
/// reproduced (excludes 0 on the predicted side), inconclusive (contains 0), contradicted.
fn seeded_claim(
    id: &str,
    statement: &str,
    measurement: &str,
    values: &[f64],
    predicted: f64,
    level: f64,
) -> Claim {
    use numerics::stats::Decision;
    let (text, decision) = seeded_summary(values, predicted, level);
    let claim = Claim::verdict(
        id,
        "multisample",
        statement,
        measurement,
        &format!(
            "the {:.0}% bootstrap CI over seeds excludes 0 on the predicted side ({}); inconclusive if it contains 0",
            100.0 * level,
            if predicted > 0.0 { "> 0" } else { "< 0" }
        ),
        text,
        decision == Decision::Supports,
    );
    if decision == Decision::Undecided {
        claim.inconclusive()
    } else {
        claim
    }
}

fn run_name(run: &LoadedRun) -> String {
    let s = &run.summary;
    let rho = if s.optimizer == "gd" {
        String::new()
    } else {
        format!(", ρ = {}", s.rho)
    };
    format!(
        "{} α = {}{rho}",
        optimizer_name(&s.optimizer),
        show(&s.alpha)
    )
}

impl StageKind for MultiSample {
    fn name(&self) -> &'static str {
        "sec3.multisample"
    }
    fn fingerprint(&self) -> &'static str {
        crate::fingerprint::FINGERPRINT
    }
    fn schema(&self) -> ParamSchema {
        ParamSchema::new(vec![figure_spec("figure", "s3-multisample"), rules_spec()])
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        let p: MultiParams = ctx.params()?;
        let level = p.rules.threshold("ci_level")?;
        // The gated share is compared in log10 units: log10(max |β_gated| / max |β|) − gate < 0.
        let gate = p.rules.threshold("gating_log10_share")?;
        let all_runs = load_runs(ctx.inputs)?;
        let datasets: Vec<&pipeline::stage::InputArtifact> = ctx
            .inputs
            .iter()
            .filter(|input| input.kind == "data.gaussian")
            .collect();
        if datasets.is_empty() {
            return Err(
                AnalysisError::invalid("sec3.multisample needs the data.gaussian input").into(),
            );
        }
        // The runs come in plan order: one block per dataset (the runs stage has `foreach` over the
        // datasets), each block the same task list. Every run's recorded ℓ1 max-margin direction is
        // checked against its block's dataset (the same solver on the same data: bit-identical).
        let per = all_runs.len() / datasets.len();
        if per == 0 || all_runs.len() % datasets.len() != 0 {
            return Err(AnalysisError::invalid(format!(
                "sec3.multisample: {} runs for {} datasets (expected the same task list per dataset)",
                all_runs.len(),
                datasets.len()
            ))
            .into());
        }
        let mut files = Vec::new();
        let mut seeds = Vec::new();
        for (block, input) in datasets.iter().enumerate() {
            let file = DatasetFile::read(&input.dir)?;
            let (_, l1) = crate::runs::spec::max_margin_directions(&file.dataset()?);
            for run in &all_runs[block * per..(block + 1) * per] {
                if run.summary.l1_mm != l1 {
                    return Err(AnalysisError::invalid(format!(
                        "sec3.multisample: run {} of block {block} did not train on that block's dataset",
                        run_name(run)
                    ))
                    .into());
                }
            }
            seeds.push(
                input
                    .params
                    .get("seed")
                    .and_then(|v| v.as_i64())
                    .unwrap_or(block as i64),
            );
            files.push(file);
        }
        let mut claims = Vec::new();
        let mut table = Vec::new();
        for (block, file) in files.iter().enumerate() {
            let mean = positive_mean(file);
            for run in &all_runs[block * per..(block + 1) * per] {
                let s = &run.summary;
                let order = dominance_order(&dominance_sequence(run));
                let predicted = predicted_limit(run, &mean);
                let switch_step = dominance_sequence(run)
                    .windows(2)
                    .find(|w| w[0].1 != w[1].1)
                    .map(|w| w[1].0);
                table.push((
                    format!("seed {}: {}", seeds[block], run_name(run)),
                    s.argmax,
                    predicted,
                    order,
                    switch_step,
                    s.cos_l1_mm.unwrap_or(f64::NAN),
                ));
            }
        }
        let all_positive = files.iter().all(|file| {
            file.x
                .iter()
                .zip(&file.y)
                .all(|(x, y)| x.iter().all(|v| y * v > 0.0))
        });
        let block = |b: usize| &all_runs[b * per..(b + 1) * per];
        let seed_text = format!(
            "{} seeds ({})",
            seeds.len(),
            seeds
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        for index in 0..per {
            let first = &block(0)[index];
            let s = &first.summary;
            let same_task = |b: usize| &block(b)[index];
            // Limit: ln(|β_pred| / max_{j≠pred} |β_j|) at the end, predicted > 0 in every seed's data.
            let mut margins = Vec::new();
            for (b, file) in files.iter().enumerate() {
                let run = same_task(b);
                margins.push(match predicted_limit(run, &positive_mean(file)) {
                    Some(j) => lead_of(&run.summary.final_beta, j),
                    None => f64::NEG_INFINITY,
                });
            }
            let basis = if s.optimizer == "sam-linf" {
                "Cor 3.5 with μ = the cluster mean (the sign pattern of every gradient equals the single example's)"
            } else {
                "the ℓ1 max-margin direction of the data (GD at depth 2; Thm 4.2 for ℓ2-SAM)"
            };
            claims.push(
                seeded_claim(
                    &format!("s3.multisample.limit.{index}"),
                    &format!("Multi-sample Gaussian clusters (B7): {} ends dominated by the coordinate predicted by {basis}.", run_name(first)),
                    &format!("ln(|β_pred| / max other |β_j|) at the end of the run, per seed; {seed_text}"),
                    &margins,
                    1.0,
                    level,
                )
                .with_figure(&p.figure),
            );
            if s.optimizer == "sam-linf" {
                let gated: Vec<usize> = (0..s.d).filter(|&j| s.alpha[j] < s.rho).collect();
                if !gated.is_empty() {
                    // log10(max |β_gated| / max |β|) − gate: predicted < 0 (gated share below 10^gate).
                    let share = |run: &LoadedRun| {
                        let f = &run.summary.final_beta;
                        let top = f.iter().fold(0.0_f64, |m, b| m.max(b.abs()));
                        (gated.iter().map(|&j| f[j].abs()).fold(0.0, f64::max) / top).log10() - gate
                    };
                    let values: Vec<f64> = (0..files.len()).map(|b| share(same_task(b))).collect();
                    let mut claim = seeded_claim(
                        &format!("s3.multisample.gating.{index}"),
                        "ℓ∞-SAM gating survives on multi-sample data: at L = 2 a coordinate with α_j < ρ goes to 0 whatever the sample weights, so the limit can differ from the ℓ1 max-margin direction.",
                        &format!("log10(max |β_gated| / max |β|) + {} at the end (gated coordinates {gated:?}; < 0 means below 1e{gate} · max |β|, the chatter level ηρμ_j being far below the winner), per seed; every y_i x_ij > 0: {all_positive}; {seed_text}", -gate),
                        &values,
                        -1.0,
                        level,
                    )
                    .with_figure(&p.figure);
                    if let Some(control) = control_index(block(0), &s.alpha) {
                        let gd: Vec<f64> = (0..files.len())
                            .map(|b| share(&block(b)[control]))
                            .collect();
                        let (text, decision) = seeded_summary(&gd, -1.0, level);
                        claim = claim.with_control(
                            "GD, same init",
                            &text,
                            decision != numerics::stats::Decision::Supports,
                        );
                    }
                    claims.push(claim);
                }
            }
            if s.optimizer == "sam-l2" {
                // Minor first: max over logged steps ≥ 1 of ln(|β₀|/|β₁|) > 0; major last: the final
                // ln(|β₁|/|β₀|) > 0. Both are decided over seeds.
                let peak = |run: &LoadedRun| {
                    run.rows
                        .iter()
                        .filter(|r| r.step >= 1)
                        .map(|r| (r.beta[0].abs() / r.beta[1].abs()).ln())
                        .fold(f64::NEG_INFINITY, f64::max)
                };
                let last = |run: &LoadedRun| {
                    let f = &run.summary.final_beta;
                    (f[1].abs() / f[0].abs()).ln()
                };
                let peaks: Vec<f64> = (0..files.len()).map(|b| peak(same_task(b))).collect();
                let lasts: Vec<f64> = (0..files.len()).map(|b| last(same_task(b))).collect();
                let (peak_text, peak_decision) = seeded_summary(&peaks, 1.0, level);
                let (last_text, last_decision) = seeded_summary(&lasts, 1.0, level);
                use numerics::stats::Decision;
                let both = [peak_decision, last_decision];
                let mut claim = Claim::verdict(
                    &format!("s3.multisample.minor_first.{index}"),
                    "multisample",
                    "B7: ℓ2-SAM from a uniform init of moderate scale leads with the minor coordinate first and then switches to the major one on the Gaussian data too.",
                    &format!("per seed: the peak over logged steps ≥ 1 of ln(|β₀|/|β₁|) (minor first: > 0) and the final ln(|β₁|/|β₀|) (major last: > 0); {seed_text}"),
                    &format!("the {:.0}% bootstrap CI over seeds of both excludes 0 on the predicted side (inconclusive if either contains 0)", 100.0 * level),
                    format!("peak: {peak_text}; final: {last_text}"),
                    both.iter().all(|d| *d == Decision::Supports),
                )
                .with_figure(&p.figure);
                if both.contains(&Decision::Undecided) && !both.contains(&Decision::Opposes) {
                    claim = claim.inconclusive();
                }
                if let Some(control) = control_index(block(0), &s.alpha) {
                    let gd: Vec<f64> = (0..files.len()).map(|b| peak(&block(b)[control])).collect();
                    let (text, decision) = seeded_summary(&gd, 1.0, level);
                    claim = claim.with_control(
                        "GD, same init (peak ln(|β₀|/|β₁|))",
                        &text,
                        decision != Decision::Supports,
                    );
                }
                claims.push(claim);
            }
        }
        // The figure shows the first dataset's runs.
        let runs: Vec<LoadedRun> = block(0).to_vec();
        let data = datasets[0];
        let dataset = &files[0];
        let colors = [6, 0, 1, 3, 2, 4, 5];
        let mut direction_series = Vec::new();
        let mut ratio_series = Vec::new();
        for (index, run) in runs.iter().enumerate() {
            let color = colors[index % colors.len()];
            let mut line = Series::new(
                run_name(run),
                run.rows
                    .iter()
                    .filter(|r| r.step >= 1)
                    .map(|r| (r.step as f64, direction(&r.beta)[0]))
                    .collect(),
                color,
            );
            let mut ratio = Series::new(
                run_name(run),
                run.rows
                    .iter()
                    .filter(|r| r.step >= 1)
                    .map(|r| (r.step as f64, (r.beta[1].abs() / r.beta[0].abs()).log10()))
                    .filter(|p| p.1.is_finite())
                    .collect(),
                color,
            );
            if run.summary.optimizer == "gd" {
                line = line.dashed();
                ratio = ratio.dashed();
            }
            direction_series.push(line);
            ratio_series.push(ratio);
        }
        let l2_component = runs
            .first()
            .and_then(|r| r.summary.l2_mm.as_ref().map(|v| v[0].abs()));
        let mut hlines = vec![RefLine::new(0.0, "ℓ1 max-margin (e1)")];
        if let Some(c) = l2_component {
            hlines.push(RefLine::new(c, "ℓ2 max-margin"));
        }
        let left = LineChart {
            title: "direction: minor component".into(),
            x_label: "step (loss-normalised, η = 0.01)".into(),
            y_label: "β₀ / ‖β‖".into(),
            x_scale: Scale::Log10,
            series: direction_series,
            hlines,
            legend: LegendPosition::Hidden,
            y_range: Some((-0.05, 1.05)),
            ..LineChart::default()
        };
        let right = LineChart {
            title: "dominance: > 0 major (e1) leads, < 0 minor (e0) leads".into(),
            x_label: "step (loss-normalised, η = 0.01)".into(),
            y_label: "log10 |β₁| / |β₀|".into(),
            x_scale: Scale::Log10,
            series: ratio_series,
            hlines: vec![RefLine::new(0.0, "switch")],
            legend: LegendPosition::Right,
            y_range: Some((-12.0, 12.0)),
            ..LineChart::default()
        };
        let grid = PanelGrid {
            title: format!(
                "Gaussian clusters at ±{} (σ = {}, {} points): dominant coordinate over time",
                data.params["mean"],
                data.params["sigma"],
                dataset.y.len()
            ),
            rows: 1,
            cols: 2,
            panels: vec![left, right],
            size: Some((1900, 620)),
            ..PanelGrid::default()
        };
        let record = publish_grid(
            ctx.out_dir,
            &p.figure,
            "multisample",
            "Depth-2 runs on two Gaussian clusters (B7) with loss-normalised steps: GD (dashed) and ℓ2-SAM end on the major coordinate (the ℓ1 max-margin \
             direction), ℓ2-SAM after a minor-first phase; ℓ∞-SAM with α₁ < ρ kills the major coordinate and converges to the minor one — gating survives multi-sample data.",
            &grid,
        )?;
        let mut df = Columns::new()
            .str("run", table.iter().map(|r| r.0.clone()).collect())
            .i64("final_dominant", table.iter().map(|r| r.1 as i64).collect())
            .i64(
                "predicted",
                table.iter().map(|r| r.2.map_or(-1, |j| j as i64)).collect(),
            )
            .str(
                "dominance_order",
                table.iter().map(|r| format!("{:?}", r.3)).collect(),
            )
            .opt_f64(
                "first_switch_step",
                table.iter().map(|r| r.4.map(|s| s as f64)).collect(),
            )
            .f64("cos_l1_mm", table.iter().map(|r| r.5).collect())
            .finish()?;
        write_and_publish(&mut df, ctx.out_dir, &format!("{}_runs", ctx.stage))?;
        write_figures(ctx.out_dir, &[record])?;
        let ci = p.rules.get("ci_level")?;
        let gating = p.rules.get("gating_log10_share")?;
        let claims: Vec<Claim> = claims
            .into_iter()
            .map(|claim| {
                let claim = claim.with_rule(ci);
                if claim.id.starts_with("s3.multisample.gating.") {
                    claim.with_rule(gating)
                } else {
                    claim
                }
            })
            .collect();
        write_claims(ctx.out_dir, &claims)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dominance_order_collapses_repeats() {
        let sequence = [(1, 0), (2, 0), (5, 1), (9, 1), (20, 0)];
        assert_eq!(dominance_order(&sequence), vec![0, 1, 0]);
        assert!(dominance_order(&[]).is_empty());
    }
}
