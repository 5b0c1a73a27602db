//! `relu.report`: does minor-first survive the non-linearity? GD, ℓ2-SAM and ℓ∞-SAM on a two-layer ReLU
//! network, seeded, on Gaussian clusters with minor and major coordinates (issue #13, reviewers).
//!
//! Statistic (fixed before any run, also in pipeline.toml): the effective input weight β_eff(t) =
//! meanᵢ ∇ₓ f(xᵢ) — the network's own linear coefficient on the data (exactly β for the diagonal network of
//! the theory), which, unlike a weight-norm statistic, ignores neurons inactive on the data. From it the
//! minor advantage A(t) = (max_{k<d}|β_k| − |β_d|)/(max_{k<d}|β_k| + |β_d|) ∈ [−1, 1]: A > 0 iff a minor
//! coordinate leads. Steps count only once the learned signal dominates the random init,
//! ‖β_eff(t)‖ ≥ `learned_factor`·‖β_eff(0)‖. Per seed: the peak A over those steps and A at the last step.
//! Over seeds: the mean with a 95 % percentile bootstrap interval ([`numerics::stats`]); a claim is decided
//! by where the interval lies (above 0, below 0, or across it: inconclusive), and the SAM–GD difference
//! paired by seed is reported with its signed-rank p. GD through the same code is the negative control.

use figures::{LegendPosition, LineChart, PanelGrid, RefLine, Series, render_panel_grid};
use numerics::stats::{Decision, Interval, bootstrap_mean_ci, signed_rank};
use pipeline::stage::{ParamSchema, StageKind, TaskContext, TaskError};
use serde::Deserialize;

use crate::artifacts::{FigureRecord, figure_stem, write_figures};
use crate::claims::{Claim, write_claims};
use crate::error::AnalysisError;
use crate::rules::{Rules, rules_spec};
use crate::table::{Columns, write_and_publish};
use compute::relu::train::{ReluRow, ReluRun};

const SECTION: &str = "relu";

/// The `relu.report` kind. Inputs: `relu.train` tasks (any number of labels, optimizers and seeds).
pub struct ReluReport;

#[derive(Deserialize)]
struct Params {
    rules: Rules,
}

/// Resamples and stream seed of the bootstrap intervals (fixed: the same runs give the same interval).
const RESAMPLES: usize = 10_000;
const BOOTSTRAP_SEED: u64 = 0;

/// (mean, lo, hi) of the 95 % percentile bootstrap interval of the mean over seeds
/// ([`numerics::stats::bootstrap_mean_ci`]); `None` for fewer than 2 values or any non-finite value.
pub fn mean_ci(values: &[f64]) -> Option<(f64, f64, f64)> {
    if values.len() < 2 {
        return None;
    }
    bootstrap_mean_ci(values, 0.95, RESAMPLES, BOOTSTRAP_SEED)
        .ok()
        .map(|ci| (ci.estimate, ci.lo, ci.hi))
}

/// Two-sided p of the Wilcoxon signed-rank test on SAM − GD paired by seed (for the claim text).
fn paired_p(
    sam: &[&SeedStats<'_>],
    gd: &[&SeedStats<'_>],
    f: impl Fn(&SeedStats<'_>) -> f64,
) -> String {
    let diffs: Vec<f64> = sam
        .iter()
        .filter_map(|s| {
            gd.iter()
                .find(|g| g.run.seed == s.run.seed)
                .map(|g| f(s) - f(g))
        })
        .collect();
    signed_rank(&diffs).map_or_else(
        |_| "signed-rank test n/a".into(),
        |t| {
            format!(
                "paired signed-rank p = {:.3} over {} seeds",
                t.p_two_sided, t.n
            )
        },
    )
}

/// A(β) = (max_{k<d}|β_k| − |β_d|)/(max_{k<d}|β_k| + |β_d|) (0 for β = 0).
pub fn minor_advantage(beta: &[f64]) -> f64 {
    let Some((major, minors)) = beta.split_last() else {
        return 0.0;
    };
    let minor = minors.iter().fold(0.0f64, |m, b| m.max(b.abs()));
    let total = minor + major.abs();
    if total > 0.0 {
        (minor - major.abs()) / total
    } else {
        0.0
    }
}

fn norm(beta: &[f64]) -> f64 {
    beta.iter().map(|b| b * b).sum::<f64>().sqrt()
}

/// What one seed shows.
struct SeedStats<'a> {
    run: &'a ReluRun,
    /// Peak A over learned steps (NaN when no step is learned).
    peak: f64,
    /// A at the last logged step, NaN when that step is not learned.
    end: f64,
    /// First learned step (NaN-free when `peak` is finite).
    first_learned: Option<u64>,
    final_loss: f64,
}

fn seed_stats(run: &ReluRun, factor: f64) -> SeedStats<'_> {
    let start = run.rows.first().map_or(0.0, |r| norm(&r.beta));
    let learned: Vec<&ReluRow> = run
        .rows
        .iter()
        .filter(|r| norm(&r.beta) >= factor * start)
        .collect();
    let peak = learned
        .iter()
        .map(|r| minor_advantage(&r.beta))
        .fold(f64::NAN, f64::max);
    let last = run.rows.last();
    SeedStats {
        run,
        peak,
        // Only learned steps count (the registered rule): a seed whose last step is not learned has no
        // final A, which makes the claim undecidable rather than letting noise around 0 decide it.
        end: last
            .filter(|r| norm(&r.beta) >= factor * start)
            .map_or(f64::NAN, |r| minor_advantage(&r.beta)),
        first_learned: learned.first().map(|r| r.step),
        final_loss: last.map_or(f64::NAN, |r| r.loss),
    }
}

fn fmt_ci(ci: Option<(f64, f64, f64)>) -> String {
    ci.map_or_else(
        || "undecidable (fewer than 2 seeds, or a seed never learned)".into(),
        |(m, lo, hi)| format!("{m:+.3} [{lo:+.3}, {hi:+.3}]"),
    )
}

fn per_seed(stats: &[&SeedStats<'_>], f: impl Fn(&SeedStats<'_>) -> f64) -> String {
    stats
        .iter()
        .map(|s| format!("{:+.2}", f(s)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn optimizer_name(name: &str) -> &str {
    match name {
        "gd" => "GD",
        "sam-l2" => "ℓ2-SAM",
        "sam-linf" => "ℓ∞-SAM",
        "usam" => "USAM",
        other => other,
    }
}

/// Above 0 → Some(true), below 0 → Some(false), across 0 or undecidable → None
/// ([`Decision::from_interval`] against a positive prediction).
fn side(ci: Option<(f64, f64, f64)>) -> Option<bool> {
    let (estimate, lo, hi) = ci?;
    let interval = Interval {
        estimate,
        lo,
        hi,
        level: 0.95,
    };
    match Decision::from_interval(interval, 1.0) {
        Decision::Supports => Some(true),
        Decision::Opposes => Some(false),
        Decision::Undecided => None,
    }
}

impl StageKind for ReluReport {
    fn name(&self) -> &'static str {
        "relu.report"
    }
    fn fingerprint(&self) -> &'static str {
        crate::fingerprint::FINGERPRINT
    }
    fn schema(&self) -> ParamSchema {
        ParamSchema::new(vec![rules_spec()])
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        let params: Params = ctx.params()?;
        // A logged step counts once ‖β_eff(t)‖ ≥ learned_factor × ‖β_eff(0)‖.
        let learned_factor = params.rules.threshold("learned_factor")?;
        let runs: Vec<ReluRun> = ctx
            .inputs
            .iter()
            .filter(|i| i.kind == "relu.train")
            .map(ReluRun::read)
            .collect::<Result<_, _>>()?;
        if runs.is_empty() {
            return Err(AnalysisError::invalid("relu.report needs relu.train inputs").into());
        }
        let stats: Vec<SeedStats<'_>> =
            runs.iter().map(|r| seed_stats(r, learned_factor)).collect();
        let mut labels: Vec<&str> = Vec::new();
        for run in &runs {
            if !labels.contains(&run.label.as_str()) {
                labels.push(&run.label);
            }
        }
        let mut claims = Vec::new();
        let mut figures = Vec::new();
        for label in &labels {
            let of = |optimizer: &str| -> Vec<&SeedStats<'_>> {
                stats
                    .iter()
                    .filter(|s| s.run.label == *label && s.run.optimizer == optimizer)
                    .collect()
            };
            let gd = of("gd");
            if gd.is_empty() {
                return Err(AnalysisError::invalid(format!(
                    "relu.report: data set {label:?} has no GD control runs"
                ))
                .into());
            }
            let mean = &gd[0].run.mean;
            let gd_peak = mean_ci(&gd.iter().map(|s| s.peak).collect::<Vec<_>>());
            claims.push(gd_claim(label, mean, &gd, gd_peak));
            for optimizer in ["sam-l2", "sam-linf"] {
                let all = of(optimizer);
                let mut rhos: Vec<f64> = Vec::new();
                for s in &all {
                    if !rhos.contains(&s.run.rho) {
                        rhos.push(s.run.rho);
                    }
                }
                for rho in rhos {
                    let sam: Vec<&SeedStats<'_>> =
                        all.iter().copied().filter(|s| s.run.rho == rho).collect();
                    claims.push(minor_first_claim(
                        label, mean, optimizer, &sam, &gd, gd_peak,
                    ));
                    claims.push(major_last_claim(label, mean, optimizer, &sam));
                }
            }
            figures.push(render(ctx, label, mean, &stats)?);
        }
        let learned = params.rules.get("learned_factor")?;
        let decision = params.rules.get("interval")?;
        let claims: Vec<Claim> = claims
            .into_iter()
            .map(|claim| claim.with_rule(learned).with_rule(decision))
            .collect();
        write_claims(ctx.out_dir, &claims)?;
        write_table(ctx, &stats)?;
        write_figures(ctx.out_dir, &figures)?;
        Ok(())
    }
}

/// `relu.<label>.<what>.<optimizer>.rho<ρ>`.
fn claim_id(label: &str, what: &str, sam: &[&SeedStats<'_>]) -> String {
    format!(
        "relu.{label}.{what}.{}.rho{}",
        sam[0].run.optimizer, sam[0].run.rho
    )
}

/// The statement's suffix for runs added after the registered ones were seen (`group = "post-hoc"`).
fn provenance(sam: &[&SeedStats<'_>]) -> &'static str {
    if sam[0].run.group == "post-hoc" {
        " [ρ added after the registered ρ = 1 was seen to collapse every seed: post hoc]"
    } else {
        ""
    }
}

fn fig_id(label: &str) -> String {
    format!("relu_{label}_minor_advantage")
}

const MEASUREMENT: &str = "A = (max_{k<d}|β_eff,k| − |β_eff,d|)/(max_{k<d}|β_eff,k| + |β_eff,d|) with β_eff = meanᵢ ∇ₓf(xᵢ), \
    over logged steps with ‖β_eff‖ ≥ k‖β_eff(0)‖ (k = learned_factor); mean over seeds with a 95 % bootstrap interval";

fn gd_claim(
    label: &str,
    mean: &[f64],
    gd: &[&SeedStats<'_>],
    ci: Option<(f64, f64, f64)>,
) -> Claim {
    let claim = Claim::verdict(
        &format!("relu.{label}.gd_major_throughout"),
        SECTION,
        &format!(
            "Negative control: GD on the two-layer ReLU network, clusters at ±{mean:?}, leads with the major \
             coordinate at every learned step (no minor phase)"
        ),
        &format!("peak of {MEASUREMENT}"),
        "reproduced iff the interval of the peak lies below 0; contradicted iff above 0; else inconclusive",
        format!(
            "GD peak A {} over {} seeds (per seed {})",
            fmt_ci(ci),
            gd.len(),
            per_seed(gd, |s| s.peak)
        ),
        side(ci) == Some(false),
    )
    .with_figure(&fig_id(label));
    if side(ci).is_none() {
        claim.inconclusive()
    } else {
        claim
    }
}

fn minor_first_claim(
    label: &str,
    mean: &[f64],
    optimizer: &str,
    sam: &[&SeedStats<'_>],
    gd: &[&SeedStats<'_>],
    gd_ci: Option<(f64, f64, f64)>,
) -> Claim {
    let ci = mean_ci(&sam.iter().map(|s| s.peak).collect::<Vec<_>>());
    let (sam_side, gd_side) = (side(ci), side(gd_ci));
    let reproduced = sam_side == Some(true) && gd_side == Some(false);
    let contradicted = sam_side == Some(false) || gd_side == Some(true);
    let name = optimizer_name(optimizer);
    let claim = Claim::verdict(
        &claim_id(label, "minor_first", sam),
        SECTION,
        &format!(
            "Minor-first survives the non-linearity: {name} on a two-layer ReLU network (clusters at ±{mean:?}) \
             leads with a minor coordinate at some learned step, GD from the same seeds does not{}",
            provenance(sam)
        ),
        &format!("peak of {MEASUREMENT}"),
        "reproduced iff the SAM interval lies above 0 and GD's below 0; contradicted iff SAM's lies below 0 \
         or GD's above 0; else inconclusive",
        format!(
            "{name} (ρ = {}) peak A {} over {} seeds (per seed {}); GD {} over {} seeds; {}",
            sam[0].run.rho,
            fmt_ci(ci),
            sam.len(),
            per_seed(sam, |s| s.peak),
            fmt_ci(gd_ci),
            gd.len(),
            paired_p(sam, gd, |s| s.peak)
        ),
        reproduced,
    )
    .with_figure(&fig_id(label));
    if !reproduced && !contradicted {
        claim.inconclusive()
    } else {
        claim
    }
}

fn major_last_claim(label: &str, mean: &[f64], optimizer: &str, sam: &[&SeedStats<'_>]) -> Claim {
    let ci = mean_ci(&sam.iter().map(|s| s.end).collect::<Vec<_>>());
    let name = optimizer_name(optimizer);
    let claim = Claim::verdict(
        &claim_id(label, "major_last", sam),
        SECTION,
        &format!(
            "Major last: at the end of training {name} on the ReLU network (clusters at ±{mean:?}) leads with \
             the major coordinate{}",
            provenance(sam)
        ),
        &format!("A at the last logged step (a seed whose last step is not learned is undecidable); {MEASUREMENT}"),
        "reproduced iff the interval lies below 0; contradicted iff above 0; else inconclusive",
        format!(
            "final A {} over {} seeds (per seed {}; final loss {})",
            fmt_ci(ci),
            sam.len(),
            per_seed(sam, |s| s.end),
            per_seed(sam, |s| s.final_loss)
        ),
        side(ci) == Some(false),
    )
    .with_figure(&fig_id(label));
    if side(ci).is_none() {
        claim.inconclusive()
    } else {
        claim
    }
}

fn write_table(ctx: &TaskContext<'_>, stats: &[SeedStats<'_>]) -> Result<(), AnalysisError> {
    let mut df = Columns::new()
        .str("data", stats.iter().map(|s| s.run.label.clone()).collect())
        .str(
            "optimizer",
            stats.iter().map(|s| s.run.optimizer.clone()).collect(),
        )
        .f64("rho", stats.iter().map(|s| s.run.rho).collect())
        .u64("seed", stats.iter().map(|s| s.run.seed).collect())
        .f64(
            "peak_minor_advantage",
            stats.iter().map(|s| s.peak).collect(),
        )
        .f64(
            "final_minor_advantage",
            stats.iter().map(|s| s.end).collect(),
        )
        .opt_f64(
            "first_learned_step",
            stats
                .iter()
                .map(|s| s.first_learned.map(|k| k as f64))
                .collect(),
        )
        .f64("final_loss", stats.iter().map(|s| s.final_loss).collect())
        .finish()?;
    write_and_publish(&mut df, ctx.out_dir, "relu_seeds")
}

fn render(
    ctx: &TaskContext<'_>,
    label: &str,
    mean: &[f64],
    stats: &[SeedStats<'_>],
) -> Result<FigureRecord, AnalysisError> {
    // One panel per (optimizer, ρ): GD, then ℓ2-SAM and ℓ∞-SAM at each ρ in plan order.
    let mut groups: Vec<(&str, f64)> = Vec::new();
    for optimizer in ["gd", "sam-l2", "sam-linf"] {
        for s in stats
            .iter()
            .filter(|s| s.run.label == label && s.run.optimizer == optimizer)
        {
            if !groups.contains(&(optimizer, s.run.rho)) {
                groups.push((optimizer, s.run.rho));
            }
        }
    }
    let mut panels = Vec::new();
    for (optimizer, rho) in groups {
        let runs: Vec<&SeedStats<'_>> = stats
            .iter()
            .filter(|s| s.run.label == label && s.run.optimizer == optimizer && s.run.rho == rho)
            .collect();
        let series = runs
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let points = s
                    .run
                    .rows
                    .iter()
                    .map(|r| (r.step as f64 * s.run.lr, minor_advantage(&r.beta)))
                    .collect();
                let name = if i == 0 { "one line per seed" } else { "" };
                Series::new(name, points, i)
            })
            .collect();
        let post_hoc = if runs[0].run.group == "post-hoc" {
            ", post hoc"
        } else {
            ""
        };
        panels.push(LineChart {
            title: format!("{} (ρ = {rho:.4}{post_hoc})", optimizer_name(optimizer)),
            x_label: "t = step × η".into(),
            y_label: "minor advantage A(t)".into(),
            series,
            hlines: vec![RefLine::new(0.0, "")],
            y_range: Some((-1.05, 1.05)),
            legend: LegendPosition::LowerRight,
            ..LineChart::default()
        });
    }
    let id = fig_id(label);
    let stem = figure_stem(ctx.out_dir, &id)?;
    let cols = panels.len().clamp(1, 3);
    let rows = panels.len().div_ceil(cols).max(1);
    render_panel_grid(
        &PanelGrid {
            title: format!(
                "Two-layer ReLU network on clusters at ±{mean:?}: minor advantage A(t) of β_eff, one line per seed"
            ),
            rows,
            cols,
            panels,
            share_x: true,
            share_y: true,
            size: Some((2100, 520 * rows as u32 + 60)),
        },
        &stem,
    )
    .map_err(|e| AnalysisError::invalid(format!("failed to render a figure: {e}")))?;
    Ok(FigureRecord {
        id,
        section: SECTION.into(),
        caption: format!(
            "A(t) = (max minor |β_eff,k| − |β_eff,major|)/(sum) for the effective input weight β_eff = meanᵢ \
             ∇ₓf(xᵢ) of a width-{} two-layer ReLU network (init N(0, {}²)) on Gaussian clusters at ±{mean:?}, \
             one line per seed; A > 0 while a minor coordinate leads. GD, ℓ2-SAM (the registered ρ = 1, which collapses \
             the network, and ρ = 0.1, 0.3 added post hoc) and ℓ∞-SAM from the same seeds.",
            stats.first().map_or(0, |s| s.run.width),
            stats.first().map_or(0.0, |s| s.run.init_scale),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_and_minor_advantage_by_hand() {
        // The bootstrap interval of 1, 2, 3 lies inside [1, 3] and around the mean 2.
        let (m, lo, hi) = mean_ci(&[1.0, 2.0, 3.0]).unwrap();
        assert!((m - 2.0).abs() < 1e-15 && (1.0..2.0).contains(&lo) && hi > 2.0 && hi <= 3.0);
        assert!(mean_ci(&[1.0]).is_none() && mean_ci(&[1.0, f64::NAN]).is_none());
        assert_eq!(minor_advantage(&[1.0, 3.0]), -0.5);
        assert_eq!(minor_advantage(&[2.0, -1.0, 1.0]), 1.0 / 3.0);
        assert_eq!(side(Some((0.5, 0.1, 0.9))), Some(true));
        assert_eq!(side(Some((0.0, -0.1, 0.1))), None);
    }
}
