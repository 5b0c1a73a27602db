//! `sec3.regimes`: Thm 3.2's per-coordinate regimes of ℓ∞-SAM (α_j < ρ, = ρ, > ρ) at several depths,
//! simulated (rescaled clock) against the closed forms of spec B4.2, one coordinate per run.

use figures::{LegendPosition, LineChart, PanelGrid, RefLine, Scale, Series};
use numerics::theory::linf;
use pipeline::stage::{ParamSchema, StageKind, TaskContext, TaskError};
use serde::Deserialize;

use crate::artifacts::write_figures;
use crate::claims::{Claim, write_claims};
use crate::error::AnalysisError;
use crate::rules::{Rules, rules_spec};
use crate::runs::output::{LoadedRun, load_runs};
use crate::sec3::common::{figure_spec, publish_grid, slope};
use crate::table::{Columns, write_and_publish};

/// The `sec3.regimes` kind.
pub struct Regimes;

#[derive(Deserialize)]
struct RegimesParams {
    figure: String,
    rules: Rules,
}

/// One single-coordinate run with its parameters.
struct Case<'a> {
    run: &'a LoadedRun,
    mu: f64,
    alpha: f64,
    rho: f64,
    depth: usize,
    lr: f64,
}

impl Case<'_> {
    fn w_closed(&self, tau: f64) -> f64 {
        linf::closed_form_w(self.mu, self.alpha, self.rho, self.depth, tau)
    }
    fn rho_l(&self) -> f64 {
        self.rho.powi(self.depth as i32)
    }
    fn blowup(&self) -> Option<f64> {
        linf::blowup_time(self.mu, self.alpha, self.rho, self.depth)
    }
    fn regime(&self) -> &'static str {
        if self.alpha < self.rho {
            "α < ρ"
        } else if self.alpha > self.rho {
            "α > ρ"
        } else {
            "α = ρ"
        }
    }
    fn color(&self) -> usize {
        if self.alpha < self.rho {
            0
        } else if self.alpha > self.rho {
            1
        } else {
            2
        }
    }
    /// max over compared rows of |w_sim − w_cf| / max(|w_cf|, ρ), w_sim = |β|^{1/L}.
    fn max_error(&self, blowup_fraction: f64) -> f64 {
        let cutoff = self.blowup().map_or(f64::INFINITY, |t| blowup_fraction * t);
        self.run
            .rows
            .iter()
            .filter(|r| r.tau <= cutoff)
            .map(|r| {
                let w_sim = r.beta[0].abs().powf(1.0 / self.depth as f64);
                let w_cf = self.w_closed(r.tau);
                (w_sim - w_cf).abs() / w_cf.abs().max(self.rho)
            })
            .fold(0.0, f64::max)
    }
}

fn cases(runs: &[LoadedRun]) -> Result<Vec<Case<'_>>, AnalysisError> {
    runs.iter()
        .filter(|r| r.summary.d == 1 && r.summary.optimizer == "sam-linf")
        .map(|run| {
            let s = &run.summary;
            let mu =
                s.mu.as_ref()
                    .ok_or_else(|| AnalysisError::invalid("regime runs need a single example"))?[0];
            if s.clock != "rescaled" || s.steps == 0 {
                return Err(AnalysisError::invalid(
                    "regime runs must be rescaled-clock runs with at least one step",
                ));
            }
            Ok(Case {
                run,
                mu,
                alpha: s.alpha[0],
                rho: s.rho,
                depth: s.depth,
                lr: s.final_time / s.steps as f64,
            })
        })
        .collect()
}

impl StageKind for Regimes {
    fn name(&self) -> &'static str {
        "sec3.regimes"
    }
    fn fingerprint(&self) -> &'static str {
        crate::fingerprint::FINGERPRINT
    }
    fn schema(&self) -> ParamSchema {
        ParamSchema::new(vec![figure_spec("figure", "s3-linf-regimes"), rules_spec()])
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        let p: RegimesParams = ctx.params()?;
        let runs = load_runs(ctx.inputs)?;
        let cases = cases(&runs)?;
        let mut depths: Vec<usize> = cases.iter().map(|c| c.depth).collect();
        depths.sort_unstable();
        depths.dedup();
        if depths.is_empty() {
            return Err(
                AnalysisError::invalid("sec3.regimes needs single-coordinate ℓ∞-SAM runs").into(),
            );
        }
        let mut claims = Vec::new();
        let mut panels = Vec::new();
        let closed_form = p.rules.get("closed_form")?;
        let tol = p.rules.threshold("closed_form")?;
        let blowup_fraction = p.rules.threshold("closed_form_blowup_window")?;
        for &depth in &depths {
            let at: Vec<&Case> = cases.iter().filter(|c| c.depth == depth).collect();
            panels.push(panel(&at, depth));
            let worst = at
                .iter()
                .map(|c| c.max_error(blowup_fraction))
                .fold(0.0, f64::max);
            claims.push(
                Claim::within(
                    &format!("s3.linf.regimes.closed_form.L{depth}"),
                    "linf",
                    &format!("Thm 3.2 / spec B4.2: at depth {depth} each coordinate of ℓ∞-SAM follows its decoupled closed form in rescaled time, in all three regimes α < ρ, α = ρ, α > ρ."),
                    &format!("max over the regime runs and logged τ of |w_sim − w_closed| / max(|w_closed|, ρ), w = |β|^(1/L); blow-ups compared up to {blowup_fraction} τ*"),
                    worst,
                    0.0,
                    tol,
                    &format!("explicit Euler in the rescaled clock has global error O(η·τ) relative; η = 1e−3 and τ ≲ 10 before the cap, plus the (τ* − τ)⁻² growth up to {blowup_fraction} τ*"),
                )
                .with_rule(closed_form)
                .with_rule(p.rules.get("closed_form_blowup_window")?)
                .with_figure(&p.figure),
            );
        }
        let controls: Vec<&LoadedRun> = runs
            .iter()
            .filter(|r| r.summary.d == 1 && r.summary.optimizer == "gd")
            .collect();
        claims.extend(qualitative_claims(&cases, &controls, &p.figure, &p.rules)?);
        write_table(ctx, &cases, blowup_fraction)?;
        let grid = PanelGrid {
            title: "ℓ∞-SAM per-coordinate regimes (Thm 3.2), μ = 1, rescaled time: simulated (solid) vs closed form (dashed)".into(),
            rows: 1,
            cols: panels.len(),
            panels,
            share_x: false,
            share_y: true,
            size: Some((600 * depths.len().max(2) as u32, 620)),
        };
        let record = publish_grid(
            ctx.out_dir,
            &p.figure,
            "linf",
            "β_j(τ) of one coordinate under ℓ∞-SAM for α_j < ρ, α_j = ρ and α_j > ρ at each depth (log–log). \
             α < ρ dies at even L (vertical line: predicted zero time τ⁰) and rises towards ρ^L at odd L; \
             α = ρ stays at ρ^L; α > ρ grows exponentially at L = 2 and blows up at τ* (vertical line) at L ≥ 3.",
            &grid,
        )?;
        write_figures(ctx.out_dir, &[record])?;
        write_claims(ctx.out_dir, &claims)?;
        Ok(())
    }
}

fn panel(cases: &[&Case], depth: usize) -> LineChart {
    let mut series = Vec::new();
    let mut vlines = Vec::new();
    let mut rho_l = 1.0;
    for case in cases {
        rho_l = case.rho_l();
        let measured: Vec<(f64, f64)> = case.run.rows.iter().map(|r| (r.tau, r.beta[0])).collect();
        let closed: Vec<(f64, f64)> = case
            .run
            .rows
            .iter()
            .map(|r| (r.tau, case.w_closed(r.tau).powi(depth as i32)))
            .collect();
        series.push(Series::new(
            format!("{} (α = {})", case.regime(), case.alpha),
            measured,
            case.color(),
        ));
        series.push(Series::new("", closed, 6).dashed());
        if let Some(t) = linf::zero_time(case.mu, case.alpha, case.rho, depth) {
            vlines.push(RefLine {
                at: t,
                label: "τ⁰".into(),
                color_index: Some(case.color()),
            });
        }
        if let Some(t) = case.blowup() {
            vlines.push(RefLine {
                at: t,
                label: "τ*".into(),
                color_index: Some(case.color()),
            });
        }
    }
    if let Some(first) = series.get_mut(1) {
        first.name = "closed form".into();
    }
    LineChart {
        title: format!("L = {depth}"),
        x_label: "rescaled time τ".into(),
        y_label: "β_j(τ)".into(),
        x_scale: Scale::Log10,
        y_scale: Scale::Log10,
        series,
        vlines,
        hlines: vec![RefLine::new(rho_l, "ρ^L")],
        y_range: Some((1e-4, 1e4)),
        legend: LegendPosition::LowerLeft,
        ..LineChart::default()
    }
}

/// GD runs (the ρ = 0 control) below ρ at depths of the given parity, as (depth, run).
fn gd_below_rho<'a>(
    controls: &[&'a LoadedRun],
    rho: f64,
    even: bool,
) -> Vec<(usize, &'a LoadedRun)> {
    controls
        .iter()
        .filter(|r| r.summary.alpha[0] < rho && (r.summary.depth % 2 == 0) == even)
        .map(|r| (r.summary.depth, *r))
        .collect()
}

fn qualitative_claims(
    cases: &[Case],
    controls: &[&LoadedRun],
    figure: &str,
    rules: &Rules,
) -> Result<Vec<Claim>, AnalysisError> {
    let rho = cases.first().map_or(1.0, |c| c.rho);
    let mut claims = Vec::new();
    let stationary: Vec<f64> = cases
        .iter()
        .filter(|c| c.alpha == c.rho)
        .map(|c| {
            c.run
                .rows
                .iter()
                .map(|r| (r.beta[0] - c.rho_l()).abs() / c.rho_l())
                .fold(0.0, f64::max)
        })
        .collect();
    if !stationary.is_empty() {
        let worst = stationary.iter().copied().fold(0.0, f64::max);
        claims.push(
            Claim::within(
                "s3.linf.regimes.stationary",
                "linf",
                "Thm 3.2: α_j = ρ ⇒ β_j(t) ≡ ρ^L (the perturbed weight is 0, so the gradient vanishes).",
                "max over depths and logged steps of |β − ρ^L| / ρ^L",
                worst,
                0.0,
                1e-12,
                "the update is exactly zero; only the rounding of ρ^L itself remains",
            )
            .check()
            .with_figure(figure),
        );
    }
    let dies: Vec<(usize, f64, f64)> = cases
        .iter()
        .filter(|c| c.alpha < c.rho && c.depth % 2 == 0)
        .map(|c| {
            let last = c.run.rows.last().map_or(f64::NAN, |r| r.beta[0].abs());
            let w = last.powf(1.0 / c.depth as f64);
            let bound = c.lr * c.mu * c.rho.powi(c.depth as i32 - 1);
            (c.depth, w, bound)
        })
        .collect();
    if !dies.is_empty() {
        let pass = dies.iter().all(|(_, w, bound)| *w <= *bound * (1.0 + 1e-9));
        let measured = dies
            .iter()
            .map(|(l, w, b)| format!("L={l}: |w| = {w:.2e} (bound {b:.2e})"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut claim = Claim::verdict(
                "s3.linf.regimes.even_dies",
                "linf",
                "Thm 3.2: at even depth, α_j < ρ ⇒ β_j → 0 (w_j reaches the sliding point 0 and stays).",
                "final |w_j| of each even-depth α < ρ run against the discrete chatter bound η μ_j ρ^(L−1) (spec B4.1)",
                "|w_j| ≤ η μ_j ρ^(L−1)",
                measured,
                pass,
            )
            .with_rule(rules.get("even_dies")?)
            .with_figure(figure);
        let gd = gd_below_rho(controls, rho, true);
        if !gd.is_empty() {
            let finals: Vec<(usize, f64, f64)> = gd
                .iter()
                .map(|(l, run)| {
                    let last = run.rows.last().map_or(f64::NAN, |r| r.beta[0].abs());
                    let step = run.summary.final_time / run.summary.steps.max(1) as f64;
                    (
                        *l,
                        last.powf(1.0 / *l as f64),
                        step * run.summary.mu.as_ref().map_or(1.0, |m| m[0])
                            * rho.powi(*l as i32 - 1),
                    )
                })
                .collect();
            claim = claim.with_control(
                "GD (ρ = 0), same α and η",
                &finals
                    .iter()
                    .map(|(l, w, b)| format!("L={l}: |w| = {w:.2e} (bound {b:.2e})"))
                    .collect::<Vec<_>>()
                    .join("; "),
                finals.iter().any(|(_, w, b)| *w > *b * (1.0 + 1e-9)),
            );
        }
        claims.push(claim);
    }
    let rises: Vec<(usize, bool, f64)> = cases
        .iter()
        .filter(|c| c.alpha < c.rho && c.depth % 2 == 1)
        .map(|c| {
            let betas: Vec<f64> = c.run.rows.iter().map(|r| r.beta[0]).collect();
            let monotone = betas.windows(2).all(|w| w[1] >= w[0]);
            let last = betas.last().copied().unwrap_or(f64::NAN);
            (c.depth, monotone && last < c.rho_l(), last / c.rho_l())
        })
        .collect();
    if !rises.is_empty() {
        let pass = rises.iter().all(|(_, ok, _)| *ok);
        let measured = rises
            .iter()
            .map(|(l, ok, ratio)| {
                format!("L={l}: β/ρ^L = {ratio:.4} at the end, monotone below ρ^L: {ok}")
            })
            .collect::<Vec<_>>()
            .join("; ");
        let mut claim = Claim::verdict(
                "s3.linf.regimes.odd_rises",
                "linf",
                "Thm 3.2: at odd depth, α_j < ρ ⇒ β_j rises monotonically towards ρ^L without reaching it.",
                "β_j of each odd-depth α < ρ run: non-decreasing over the logged τ and below ρ^L at the end (its value there is checked against the closed form by the closed_form claim)",
                "monotone and < ρ^L",
                measured,
                pass,
            )
            .with_rule(rules.get("odd_rises")?)
            .with_figure(figure);
        let gd = gd_below_rho(controls, rho, false);
        if !gd.is_empty() {
            let outcomes: Vec<(usize, bool, f64)> = gd
                .iter()
                .map(|(l, run)| {
                    let betas: Vec<f64> = run.rows.iter().map(|r| r.beta[0]).collect();
                    let last = betas.last().copied().unwrap_or(f64::NAN);
                    let rho_l = rho.powi(*l as i32);
                    (
                        *l,
                        betas.windows(2).all(|w| w[1] >= w[0]) && last < rho_l,
                        last / rho_l,
                    )
                })
                .collect();
            claim = claim.with_control(
                "GD (ρ = 0), same α and η",
                &outcomes
                    .iter()
                    .map(|(l, ok, ratio)| {
                        format!("L={l}: β/ρ^L = {ratio:.3e} at the end, monotone below ρ^L: {ok}")
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                outcomes.iter().any(|(_, ok, _)| !ok),
            );
        }
        claims.push(claim);
    }
    let window = rules.threshold("exponential_L2_window")?;
    let growth: Vec<f64> = cases
        .iter()
        .filter(|c| c.alpha > c.rho && c.depth == 2)
        .map(|c| {
            let tau_end = c.run.summary.final_tau;
            let points: Vec<(f64, f64)> = c
                .run
                .rows
                .iter()
                .filter(|r| r.tau >= (1.0 - window) * tau_end)
                .map(|r| (r.tau, r.beta[0].ln() / (2.0 * c.mu)))
                .collect();
            slope(&points)
        })
        .collect();
    if !growth.is_empty() {
        let worst = growth.iter().copied().fold(f64::NAN, |a, b| {
            if (b - 1.0).abs() > (a - 1.0).abs() || a.is_nan() {
                b
            } else {
                a
            }
        });
        claims.push(
            Claim::within(
                "s3.linf.regimes.exponential_L2",
                "linf",
                "Thm 3.2: at L = 2, α_j > ρ ⇒ β_j diverges exponentially, ln β_j growing at rate 2μ_j.",
                &format!("least-squares slope of ln β_j / (2μ_j) against τ over the last {} % of the run in τ", window * 100.0),
                worst,
                1.0,
                rules.threshold("exponential_L2")?,
                "β = (ρ + (α−ρ)e^{μτ})² has log-slope 2μ·u/(ρ+u), within 2 % of 2μ once u ≥ 50ρ, plus Euler's O(η) rate error",
            )
            .with_rule(rules.get("exponential_L2")?)
            .with_rule(rules.get("exponential_L2_window")?)
            .with_figure(figure),
        );
    }
    let blowups: Vec<(usize, f64, f64)> = cases
        .iter()
        .filter(|c| c.alpha > c.rho && c.depth >= 3 && c.run.summary.stop == "beta_cap")
        .map(|c| {
            let cap_beta = c.run.summary.final_beta[0].abs();
            // Closed-form τ at which β reaches the value the run stopped at.
            let p = (c.depth - 2) as f64;
            let u = cap_beta.powf(1.0 / c.depth as f64) - c.rho;
            let tau_cf = ((c.alpha - c.rho).powf(-p) - u.powf(-p)) / (p * c.mu);
            (c.depth, c.run.summary.final_tau, tau_cf)
        })
        .collect();
    if !blowups.is_empty() {
        let blowup_tol = rules.threshold("blowup")?;
        let worst = blowups
            .iter()
            .map(|(_, t, cf)| (t - cf).abs() / cf)
            .fold(0.0, f64::max);
        let detail = blowups
            .iter()
            .map(|(l, t, cf)| format!("L={l}: τ = {t:.4} vs {cf:.4}"))
            .collect::<Vec<_>>()
            .join("; ");
        claims.push(
            Claim::verdict(
                "s3.linf.regimes.blowup",
                "linf",
                "Thm 3.2: at L ≥ 3, α_j > ρ ⇒ β_j blows up in finite rescaled time τ* = 1/((L−2)μ_j(α_j−ρ)^(L−2)).",
                "τ at which the run's β hit the cap, against the closed-form τ at which β reaches that value (just below τ*)",
                &format!("relative difference ≤ {blowup_tol:e} (Euler, η = 1e−3, error amplified near the singularity)"),
                format!("max rel. diff {worst:.2e} ({detail})"),
                worst <= blowup_tol,
            )
            .with_rule(rules.get("blowup")?)
            .with_figure(figure),
        );
    }
    Ok(claims)
}

fn write_table(
    ctx: &TaskContext<'_>,
    cases: &[Case],
    blowup_fraction: f64,
) -> Result<(), AnalysisError> {
    let mut df = Columns::new()
        .i64("depth", cases.iter().map(|c| c.depth as i64).collect())
        .f64("mu", cases.iter().map(|c| c.mu).collect())
        .f64("alpha", cases.iter().map(|c| c.alpha).collect())
        .f64("rho", cases.iter().map(|c| c.rho).collect())
        .str(
            "regime",
            cases.iter().map(|c| c.regime().to_string()).collect(),
        )
        .opt_f64(
            "zero_time",
            cases
                .iter()
                .map(|c| linf::zero_time(c.mu, c.alpha, c.rho, c.depth))
                .collect(),
        )
        .opt_f64("blowup_time", cases.iter().map(Case::blowup).collect())
        .f64(
            "final_tau",
            cases.iter().map(|c| c.run.summary.final_tau).collect(),
        )
        .f64(
            "final_beta",
            cases.iter().map(|c| c.run.summary.final_beta[0]).collect(),
        )
        .f64(
            "max_rel_error_w",
            cases.iter().map(|c| c.max_error(blowup_fraction)).collect(),
        )
        .finish()?;
    write_and_publish(&mut df, ctx.out_dir, &format!("{}_regimes", ctx.stage))
}
