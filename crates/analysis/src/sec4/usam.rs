//! `sec4.usam`: the paper's mechanism tested by ablation (issue #13). The paper attributes sequential
//! feature amplification to the gradient normalisation in ℓ2-SAM's perturbation; USAM (ε = ρ∇L, no
//! normalisation) removes it. GD, USAM at several ρ (one matched so that ‖ε‖ equals ℓ2-SAM's at init) and
//! ℓ2-SAM run through the same discrete rescaled-clock code on the §4 setting μ = (1, …, 5), depth 2,
//! uniform α. Statistics (registered in `crates/numerics/docs/usam.md` before any run): the distinct
//! dominant indices visited after the first step, and the minor-phase length τ_major (the time of the last
//! switch onto the major index). Claims U1–U3 decide as registered there; GD is the negative control.

use figures::{LegendPosition, LineChart, PanelGrid, Series, render_panel_grid};
use numerics::Dataset;
use numerics::model::Network;
use numerics::optim::{Clock, Optimizer, StepWorkspace, update_direction};
use numerics::theory::l2::{COdeOptions, L2Config, solve_c_ode};
use pipeline::stage::{ParamSchema, StageKind, TaskContext, TaskError};
use serde::Deserialize;

use crate::artifacts::{FigureRecord, figure_stem, write_figures};
use crate::claims::{Claim, write_claims};
use crate::error::AnalysisError;
use crate::rules::{Rules, rules_spec};
use crate::runs::output::{LoadedRun, load_runs};
use crate::sec4::common::{
    dominant_series, figure_error, first_untied, float, measured_switches, predicted_sequence,
    run_sequence,
};
use crate::sec4::sequential::single_mu;
use crate::table::{Columns, write_and_publish};

const SECTION: &str = "mechanism";
const FIG: &str = "s4_usam_ablation";
/// Groups of the input runs (pipeline.toml).
const SMALL: &str = "usam-small-rho";
const PAPER: &str = "usam-paper-rho";
const MATCHED: &str = "usam-matched";
const CONTROL: &str = "usam-gd";

/// The `sec4.usam` kind. Inputs: `train.discrete` runs on D_μ, rescaled clock, in the groups above.
pub struct UsamAblation;

#[derive(Deserialize)]
struct Params {
    tau_end: f64,
    rho_l2: f64,
    rules: Rules,
}

/// What one run shows.
struct Measured<'a> {
    run: &'a LoadedRun,
    alpha: f64,
    /// Distinct dominant indices in order (0-based), from the first untied logged step.
    sequence: Vec<usize>,
    text: String,
    /// Number of distinct indices visited.
    visits: usize,
    /// Rescaled time of the last switch onto the major index (0 if it leads from the first step); `None`
    /// when the major index does not lead at the end.
    tau_major: Option<f64>,
    /// The run reached the horizon (a run stopped earlier cannot decide).
    complete: bool,
    /// The C-ODE's sequence for this run (USAM and ℓ2-SAM; empty for GD).
    predicted: String,
}

fn measure<'a>(
    run: &'a LoadedRun,
    mu: &[f64],
    tau_end: f64,
) -> Result<Measured<'a>, AnalysisError> {
    let d = mu.len();
    let switches = measured_switches(&run.rows);
    let first = run
        .rows
        .get(first_untied(&run.rows))
        .map(|row| crate::runs::output::dominant(&row.beta));
    let mut sequence: Vec<usize> = first.into_iter().collect();
    sequence.extend(switches.iter().map(|s| s.to));
    let mut distinct = sequence.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let tau_major = match sequence.last() {
        Some(&last) if last == d - 1 => Some(
            switches
                .iter()
                .rev()
                .find(|s| s.to == d - 1)
                .map_or(0.0, |s| s.tau),
        ),
        _ => None,
    };
    let s = &run.summary;
    let complete = s.stop == "completed" && s.final_tau >= tau_end * (1.0 - 1e-9);
    let predicted = match s.optimizer.as_str() {
        "usam" => {
            predicted_sequence(&solve_c_ode(
                &L2Config::usam(mu, &s.alpha, s.rho)?,
                &COdeOptions::until(tau_end),
            )?)
            .0
        }
        "sam-l2" => {
            predicted_sequence(&solve_c_ode(
                &L2Config::new(mu, &s.alpha, s.rho)?,
                &COdeOptions::until(tau_end),
            )?)
            .0
        }
        _ => String::new(),
    };
    Ok(Measured {
        run,
        alpha: s.alpha[0],
        text: run_sequence(&run.rows, &switches),
        visits: distinct.len(),
        sequence,
        tau_major,
        complete,
        predicted,
    })
}

/// ‖∇L(θ₀)‖₂ over all weights at the balanced uniform init α on the single example μ (original clock:
/// the true gradient), from the numerical core.
fn init_gradient_norm(mu: &[f64], alpha: f64) -> Result<f64, AnalysisError> {
    let data = Dataset::single(mu)?;
    let net = Network::balanced(2, &vec![alpha; mu.len()])?;
    let mut ws = StepWorkspace::new(2, mu.len());
    update_direction(
        net.weights(),
        2,
        &data,
        Optimizer::Gd,
        Clock::Original,
        &mut ws,
    );
    Ok(ws.direction().iter().map(|g| g * g).sum::<f64>().sqrt())
}

impl StageKind for UsamAblation {
    fn name(&self) -> &'static str {
        "sec4.usam"
    }
    fn fingerprint(&self) -> &'static str {
        crate::fingerprint::FINGERPRINT
    }
    fn schema(&self) -> ParamSchema {
        ParamSchema::new(vec![
            float(
                "tau_end",
                30.0,
                "rescaled horizon every run must reach (registered in docs/usam.md)",
            ),
            float(
                "rho_l2",
                1.0,
                "ℓ2-SAM radius the matched USAM runs are matched to: ρ_U = rho_l2/‖∇L(θ₀)‖",
            ),
            rules_spec(),
        ])
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        let params: Params = ctx.params()?;
        let runs = load_runs(ctx.inputs)?;
        let mu = single_mu(ctx)?;
        let measured: Vec<Measured<'_>> = runs
            .iter()
            .map(|run| measure(run, &mu, params.tau_end))
            .collect::<Result<_, _>>()?;
        let pick = |group: &str, optimizer: &str| -> Vec<&Measured<'_>> {
            measured
                .iter()
                .filter(|m| m.run.summary.group == group && m.run.summary.optimizer == optimizer)
                .collect()
        };
        let gd = pick(CONTROL, "gd");
        if gd.is_empty() {
            return Err(AnalysisError::invalid(format!(
                "sec4.usam needs GD control runs (group {CONTROL:?})"
            ))
            .into());
        }
        let mut claims = vec![gd_claim(&gd, mu.len())];
        for (group, id, rule) in [
            (SMALL, "s4.usam.small_rho", Rule::Small),
            (PAPER, "s4.usam.paper_rho", Rule::Paper),
        ] {
            let usam = pick(group, "usam");
            let l2 = pick(group, "sam-l2");
            claims.push(ablation_claim(id, rule, &usam, &l2, &gd)?);
        }
        let matched = pick(MATCHED, "usam");
        let l2_paper = pick(PAPER, "sam-l2");
        claims.push(ablation_claim(
            "s4.usam.matched_rho",
            Rule::Matched,
            &matched,
            &l2_paper,
            &gd,
        )?);
        claims.push(matched_setup_claim(&matched, &mu, params.rho_l2)?);
        claims.push(c_ode_claim(&measured));
        // The decision rules of U1–U3 and the control were registered in docs/usam.md before the
        // runs; the stage's `rules` table points each evidence row at its registration.
        let claims = claims
            .into_iter()
            .map(|claim| {
                let name = match claim.id.as_str() {
                    "s4.usam.gd_control" => "gd_control",
                    "s4.usam.small_rho" => "U1",
                    "s4.usam.paper_rho" => "U2",
                    "s4.usam.matched_rho" => "U3",
                    _ => return Ok(claim),
                };
                Ok(claim.with_rule(params.rules.get(name)?))
            })
            .collect::<Result<Vec<_>, AnalysisError>>()?;
        write_claims(ctx.out_dir, &claims)?;
        write_table(ctx, &measured)?;
        let figures = render(ctx, &measured, &params)?;
        write_figures(ctx.out_dir, &figures)?;
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Rule {
    /// U1: USAM visits only the major index, ℓ2-SAM ≥ 3 indices.
    Small,
    /// U2: USAM ≤ 2 indices and strictly fewer than ℓ2-SAM.
    Paper,
    /// U3: USAM fewer indices and a shorter minor phase than ℓ2-SAM.
    Matched,
}

fn fmt_tau(tau: Option<f64>) -> String {
    tau.map_or_else(|| "not reached".into(), |t| format!("{t:.3}"))
}

fn indices(n: usize) -> String {
    if n == 1 {
        "1 index".into()
    } else {
        format!("{n} indices")
    }
}

fn gd_at(gd: &[&Measured<'_>], alpha: f64) -> Option<String> {
    gd.iter().find(|m| m.alpha == alpha).map(|m| m.text.clone())
}

/// One ablation claim: pair each USAM run with the ℓ2-SAM run of the same α (and show GD's of the same α).
fn ablation_claim(
    id: &str,
    rule: Rule,
    usam: &[&Measured<'_>],
    l2: &[&Measured<'_>],
    gd: &[&Measured<'_>],
) -> Result<Claim, AnalysisError> {
    if usam.is_empty() {
        return Err(AnalysisError::invalid(format!("{id}: no USAM runs")));
    }
    let mut parts = Vec::new();
    let (mut all_hold, mut any_contradicts, mut undecidable) = (true, false, false);
    for u in usam {
        let Some(l) = l2.iter().find(|l| l.alpha == u.alpha) else {
            return Err(AnalysisError::invalid(format!(
                "{id}: no ℓ2-SAM run with α = {}",
                u.alpha
            )));
        };
        let gd_text = gd_at(gd, u.alpha).unwrap_or_else(|| "missing".into());
        // The negative control: GD from the same init must lead with the major index only.
        let major = u.run.summary.d - 1;
        let control_ok = gd
            .iter()
            .any(|g| g.alpha == u.alpha && g.sequence == [major] && g.complete);
        undecidable |= !(u.complete && l.complete && control_ok);
        let (holds, contradicts) = match rule {
            Rule::Small => (u.visits == 1 && l.visits >= 3, u.visits > 1),
            Rule::Paper => {
                let holds = u.visits <= 2 && u.visits < l.visits;
                (holds, !holds)
            }
            Rule::Matched => {
                let fewer = u.visits < l.visits;
                let shorter = match (u.tau_major, l.tau_major) {
                    (Some(a), Some(b)) => Some(a < b),
                    _ => None,
                };
                undecidable |= shorter.is_none();
                (
                    fewer && shorter == Some(true),
                    !fewer && shorter == Some(false),
                )
            }
        };
        all_hold &= holds;
        any_contradicts |= contradicts;
        let rho_name = if matches!(rule, Rule::Matched) {
            "ρ_U"
        } else {
            "ρ"
        };
        parts.push(format!(
            "α = {}, {rho_name} = {:.5}: USAM {} ({}, τ_major {}), ℓ2-SAM {} ({}, τ_major {}), GD {}",
            u.alpha,
            u.run.summary.rho,
            u.text,
            indices(u.visits),
            fmt_tau(u.tau_major),
            l.text,
            indices(l.visits),
            fmt_tau(l.tau_major),
            gd_text
        ));
    }
    let (statement, tolerance) = match rule {
        Rule::Small => (
            "U1 (small ρ = 0.1, α scaled by 0.1): without the normalisation the minor phase is gone — USAM \
             leads with the major index only, while ℓ2-SAM at the same points visits ≥ 3 indices (the paper \
             attributes sequential amplification to the normalisation)",
            "reproduced iff at every α USAM visits 1 index and ℓ2-SAM ≥ 3; contradicted if USAM visits > 1 at \
             any α; inconclusive if a run stops before τ = 30, GD does not lead with index 5 only, or only \
             the ℓ2-SAM half fails",
        ),
        Rule::Paper => (
            "U2 (the paper's ρ = 1): USAM visits at most 2 indices and strictly fewer than ℓ2-SAM at every α \
             (USAM's relative perturbation c_U = ρσ(−m) < ρ is bounded, ℓ2-SAM's is not)",
            "reproduced iff USAM ≤ 2 indices and < ℓ2-SAM's at every α; contradicted otherwise; inconclusive \
             if a run stops before τ = 30 or the GD control fails",
        ),
        Rule::Matched => (
            "U3 (USAM with ρ_U = ρ/‖∇L(θ₀)‖, the same ‖ε‖ as ℓ2-SAM at init): the normalisation, not the \
             perturbation's initial size, produces the amplification — USAM visits fewer indices and has a \
             shorter minor phase than ℓ2-SAM at every α",
            "reproduced iff fewer indices and shorter τ_major at every α; contradicted iff at some α neither \
             (as many indices or more and a minor phase at least as long); inconclusive otherwise (mixed, the \
             major index not reached, a run stopped early, or the GD control fails)",
        ),
    };
    let claim = Claim::verdict(
        id,
        SECTION,
        statement,
        "distinct argmax_j β_j visited after the first step, and τ_major = the rescaled time of the last \
         switch onto index 5, on discrete rescaled-clock runs (η = 1e−3, τ ≤ 30) of GD, USAM and ℓ2-SAM \
         from the same uniform init, μ = (1, …, 5)",
        tolerance,
        parts.join("; "),
        all_hold && !undecidable,
    )
    .with_figure(FIG);
    // Registered order: an undecidable measurement is inconclusive whatever the rest says; otherwise a
    // rule that neither holds nor contradicts (U1 with a failed ℓ2-SAM half, U3 mixed) is inconclusive.
    Ok(if undecidable || (!all_hold && !any_contradicts) {
        claim.inconclusive()
    } else {
        claim
    })
}

fn gd_claim(gd: &[&Measured<'_>], d: usize) -> Claim {
    let off: Vec<String> = gd
        .iter()
        .filter(|m| m.sequence != [d - 1] || !m.complete)
        .map(|m| format!("α = {}: {}", m.alpha, m.text))
        .collect();
    let alphas: Vec<String> = gd.iter().map(|m| m.alpha.to_string()).collect();
    Claim::verdict(
        "s4.usam.gd_control",
        SECTION,
        "Negative control: GD from every init of the ablation leads with the major index 5 from the first \
         step to τ = 30 (no minor phase), through the same code as USAM and ℓ2-SAM",
        "argmax_j β_j at every logged step of the discrete GD runs",
        "index 5 only, every run to τ = 30",
        if off.is_empty() {
            format!("index 5 throughout at α = {}", alphas.join(", "))
        } else {
            format!("other leaders: {}", off.join("; "))
        },
        off.is_empty(),
    )
    .with_figure(FIG)
}

/// The matched runs' ρ_U equals ρ/‖∇L(θ₀)‖ computed by the numerical core (pipeline.toml spells the
/// numbers out, this checks them).
fn matched_setup_claim(
    matched: &[&Measured<'_>],
    mu: &[f64],
    rho_l2: f64,
) -> Result<Claim, AnalysisError> {
    let mut worst = 0.0f64;
    let mut parts = Vec::new();
    for m in matched {
        let target = rho_l2 / init_gradient_norm(mu, m.alpha)?;
        worst = worst.max((m.run.summary.rho / target - 1.0).abs());
        parts.push(format!(
            "α = {}: ρ_U = {} vs ρ/‖∇L(θ₀)‖ = {target:.12}",
            m.alpha, m.run.summary.rho
        ));
    }
    Ok(Claim::verdict(
        "s4.usam.matched_rho.setup",
        SECTION,
        "The matched USAM runs perturb by exactly ℓ2-SAM's ‖ε‖ = ρ at init",
        "ρ_U of each matched run against ρ/‖∇L(θ₀)‖ from the numerical core's gradient",
        "relative difference ≤ 1e−9 (pipeline.toml gives ρ_U to 15 digits)",
        format!("max relative difference {worst:.1e} ({})", parts.join("; ")),
        !matched.is_empty() && worst <= 1e-9,
    )
    .check())
}

/// Our discrete USAM / ℓ2-SAM runs against our C-ODE derivation: a consistency check, not evidence.
fn c_ode_claim(measured: &[Measured<'_>]) -> Claim {
    let sam: Vec<&Measured<'_>> = measured
        .iter()
        .filter(|m| !m.predicted.is_empty())
        .collect();
    let off: Vec<String> = sam
        .iter()
        .filter(|m| m.text != m.predicted)
        .map(|m| {
            format!(
                "{} ρ = {} α = {}: {} vs {}",
                m.run.summary.optimizer, m.run.summary.rho, m.alpha, m.text, m.predicted
            )
        })
        .collect();
    Claim::verdict(
        "s4.usam.c_ode_sequence",
        SECTION,
        "Every discrete USAM and ℓ2-SAM run of the ablation visits the dominant sequence of its C-ODE \
         (USAM: c_U = ρσ(−m), derived in numerics::theory::l2::Perturbation)",
        "measured sequence against the C-ODE's on [0, τ_end]",
        "exact match for every run",
        if off.is_empty() {
            format!("{} of {} runs match", sam.len(), sam.len())
        } else {
            format!("mismatches: {}", off.join("; "))
        },
        off.is_empty() && !sam.is_empty(),
    )
    .check()
    .with_figure(FIG)
}

fn write_table(ctx: &TaskContext<'_>, measured: &[Measured<'_>]) -> Result<(), AnalysisError> {
    let col = |f: &dyn Fn(&Measured<'_>) -> String| measured.iter().map(f).collect::<Vec<_>>();
    let mut df = Columns::new()
        .str("group", col(&|m| m.run.summary.group.clone()))
        .str("optimizer", col(&|m| m.run.summary.optimizer.clone()))
        .f64("rho", measured.iter().map(|m| m.run.summary.rho).collect())
        .f64("alpha", measured.iter().map(|m| m.alpha).collect())
        .str("sequence", col(&|m| m.text.clone()))
        .str("c_ode_sequence", col(&|m| m.predicted.clone()))
        .i64("visits", measured.iter().map(|m| m.visits as i64).collect())
        .opt_f64("tau_major", measured.iter().map(|m| m.tau_major).collect())
        .str("stop", col(&|m| m.run.summary.stop.clone()))
        .finish()?;
    write_and_publish(&mut df, ctx.out_dir, "s4_usam_ablation")
}

fn render(
    ctx: &TaskContext<'_>,
    measured: &[Measured<'_>],
    params: &Params,
) -> Result<Vec<FigureRecord>, AnalysisError> {
    let mut alphas: Vec<f64> = measured.iter().map(|m| m.alpha).collect();
    alphas.sort_by(f64::total_cmp);
    alphas.dedup();
    let d = measured.first().map_or(5, |m| m.run.summary.d).max(1);
    let mut panels = Vec::new();
    for &alpha in &alphas {
        let mut series = Vec::new();
        for (i, m) in measured.iter().filter(|m| m.alpha == alpha).enumerate() {
            let s = &m.run.summary;
            let name = match s.optimizer.as_str() {
                "gd" => "GD".to_string(),
                "usam" if s.group == MATCHED => format!("USAM matched ρ = {:.3}", s.rho),
                "usam" => format!("USAM ρ = {}", s.rho),
                _ => format!("ℓ2-SAM ρ = {}", s.rho),
            };
            let points: Vec<(f64, f64)> = dominant_series(&m.run.rows)
                .into_iter()
                .filter(|(tau, _)| *tau > 0.0)
                .collect();
            let series_item = Series::new(name, points, i);
            series.push(if s.optimizer == "gd" {
                series_item.dashed()
            } else {
                series_item
            });
        }
        panels.push(LineChart {
            title: format!("α = {alpha}"),
            x_label: "τ (rescaled time)".into(),
            y_label: "dominant index argmax β_j".into(),
            series,
            x_range: Some((0.0, params.tau_end)),
            y_range: Some((0.5, d as f64 + 0.5)),
            legend: LegendPosition::LowerRight,
            ..LineChart::default()
        });
    }
    let cols = 3;
    let rows = panels.len().div_ceil(cols).max(1);
    let stem = figure_stem(ctx.out_dir, FIG)?;
    render_panel_grid(
        &PanelGrid {
            title: "Mechanism ablation, μ = (1, …, 5): the dominant coordinate under GD, USAM (no \
                    normalisation) and ℓ2-SAM from the same init"
                .into(),
            rows,
            cols,
            panels,
            share_x: true,
            share_y: true,
            size: Some((2100, 520 * rows as u32 + 60)),
        },
        &stem,
    )
    .map_err(figure_error)?;
    Ok(vec![FigureRecord {
        id: FIG.into(),
        section: SECTION.into(),
        caption: "The dominant index argmax_j β_j against rescaled time τ for GD (dashed), USAM at the \
                  same ρ as ℓ2-SAM, USAM with ρ matched to ℓ2-SAM's ‖ε‖ at init, and ℓ2-SAM, one panel per \
                  uniform init α (top row ρ = 0.1, bottom row ρ = 1). Discrete rescaled-clock runs, η = 1e−3."
            .into(),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_gradient_norm_matches_the_closed_form() {
        // ∇_{w⁽ˡ⁾}L = ℓ′(m) μ⊙α at a uniform balanced init: ‖∇L‖ = σ(−m)·√2·α‖μ‖ with m = α²Σμ.
        let mu = [1.0, 2.0, 3.0, 4.0, 5.0];
        let alpha: f64 = 0.36;
        let m = 15.0 * alpha * alpha;
        let expected = 1.0 / (1.0 + m.exp()) * 2f64.sqrt() * alpha * 55f64.sqrt();
        let got = init_gradient_norm(&mu, alpha).unwrap();
        assert!((got / expected - 1.0).abs() < 1e-14, "{got} vs {expected}");
    }
}
