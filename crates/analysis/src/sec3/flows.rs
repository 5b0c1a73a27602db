//! `sec3.flows`: discrete GD / SAM against the flow it discretises — the distance shrinks like η
//! (first order) for every optimizer, in the original and in the rescaled clock — and the two clocks
//! trace the same path.

use figures::{LegendPosition, LineChart, PanelGrid, Scale, Series};
use pipeline::stage::{ParamSchema, StageKind, TaskContext, TaskError};
use serde::Deserialize;

use crate::artifacts::write_figures;
use crate::claims::{Claim, write_claims};
use crate::error::AnalysisError;
use crate::rules::{Rules, rules_spec};
use crate::runs::output::{LoadedRun, load_runs, norm};
use crate::sec3::common::{figure_spec, optimizer_color, optimizer_name, publish_grid, slope};
use crate::table::{Columns, write_and_publish};

/// The `sec3.flows` kind.
pub struct Flows;

#[derive(Deserialize)]
struct FlowsParams {
    figure: String,
    rules: Rules,
}

/// max over the flow's output times that the discrete run also logged (|Δt| ≤ 1e−9) of
/// ‖β_discrete − β_flow‖ / ‖β_flow‖; `None` when no time is shared.
pub fn relative_distance(discrete: &LoadedRun, flow: &LoadedRun) -> Option<f64> {
    let mut worst: Option<f64> = None;
    for f in flow.rows.iter().filter(|r| r.time > 0.0) {
        if let Some(d) = discrete
            .rows
            .iter()
            .find(|d| (d.time - f.time).abs() <= 1e-9)
        {
            let diff: Vec<f64> = d.beta.iter().zip(&f.beta).map(|(a, b)| a - b).collect();
            let value = norm(&diff) / norm(&f.beta);
            worst = Some(worst.map_or(value, |w: f64| w.max(value)));
        }
    }
    worst
}

struct Convergence {
    optimizer: String,
    clock: String,
    points: Vec<(f64, f64)>,
    slope: f64,
}

impl StageKind for Flows {
    fn name(&self) -> &'static str {
        "sec3.flows"
    }
    fn fingerprint(&self) -> &'static str {
        crate::fingerprint::FINGERPRINT
    }
    fn schema(&self) -> ParamSchema {
        ParamSchema::new(vec![
            figure_spec("figure", "s3-flows-convergence"),
            rules_spec(),
        ])
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        let p: FlowsParams = ctx.params()?;
        let runs = load_runs(ctx.inputs)?;
        let flows: Vec<&LoadedRun> = runs
            .iter()
            .filter(|r| r.summary.kind == "train.flow")
            .collect();
        let mut results: Vec<Convergence> = Vec::new();
        for flow in &flows {
            let fs = &flow.summary;
            let mut points = Vec::new();
            for run in runs.iter().filter(|r| {
                r.summary.kind == "train.discrete"
                    && r.summary.optimizer == fs.optimizer
                    && r.summary.clock == fs.clock
                    && r.summary.alpha == fs.alpha
                    && r.summary.depth == fs.depth
            }) {
                let lr = run.summary.final_time / run.summary.steps.max(1) as f64;
                if let Some(distance) = relative_distance(run, flow) {
                    points.push((lr, distance));
                }
            }
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            if points.len() < 2 {
                return Err(AnalysisError::invalid(format!(
                    "flow {} ({}) has fewer than two discrete runs at shared times",
                    fs.optimizer, fs.clock
                ))
                .into());
            }
            let logs: Vec<(f64, f64)> = points.iter().map(|(x, y)| (x.ln(), y.ln())).collect();
            results.push(Convergence {
                optimizer: fs.optimizer.clone(),
                clock: fs.clock.clone(),
                slope: slope(&logs),
                points,
            });
        }
        if results.is_empty() {
            return Err(AnalysisError::invalid("sec3.flows needs train.flow inputs").into());
        }
        let mut optimizers: Vec<String> = results.iter().map(|c| c.optimizer.clone()).collect();
        optimizers.sort();
        optimizers.dedup();
        let mut claims = Vec::new();
        for optimizer in &optimizers {
            let mine: Vec<&Convergence> = results
                .iter()
                .filter(|c| &c.optimizer == optimizer)
                .collect();
            let tol = p.rules.threshold("first_order")?;
            let pass = mine.iter().all(|c| (c.slope - 1.0).abs() <= tol);
            claims.push(
                Claim::verdict(
                    &format!("s3.flows.first_order.{optimizer}"),
                    "flows",
                    &format!("Discrete {} is a first-order discretisation of its flow: the distance to the flow shrinks like η, in the original and in the rescaled clock.", optimizer_name(optimizer)),
                    "least-squares slope of ln(max_t ‖β_η(t) − β_flow(t)‖/‖β_flow(t)‖) against ln η over the η grid, per clock (flow by DOPRI5 at rtol 1e−10)",
                    &format!("|slope − 1| ≤ {tol} (Euler's global error is C·η + O(η²); the O(η²) part bends the line at the largest η)"),
                    mine.iter().map(|c| format!("{} clock: {:.3}", c.clock, c.slope)).collect::<Vec<_>>().join("; "),
                    pass,
                )
                .with_rule(p.rules.get("first_order")?)
                .with_figure(&p.figure),
            );
        }
        let mut series = Vec::new();
        for c in &results {
            let mut s = Series::new(
                format!(
                    "{}, {} clock{}",
                    optimizer_name(&c.optimizer),
                    c.clock,
                    if c.clock == "original" {
                        " (dashed)"
                    } else {
                        ""
                    }
                ),
                c.points.clone(),
                optimizer_color(&c.optimizer),
            )
            .with_markers();
            if c.clock == "original" {
                s = s.dashed();
                s.style.markers = true;
            }
            series.push(s);
        }
        // A slope-1 guide through the geometric middle of all measurements.
        let all: Vec<(f64, f64)> = results.iter().flat_map(|c| c.points.clone()).collect();
        let (lo, hi) = all.iter().fold((f64::INFINITY, 0.0_f64), |(l, h), p| {
            (l.min(p.0), h.max(p.0))
        });
        let mid_y = (all.iter().map(|p| p.1.ln()).sum::<f64>() / all.len() as f64).exp();
        let mid_x = (lo * hi).sqrt();
        series.push(
            Series::new(
                "slope 1 (first order)",
                vec![(lo, mid_y * lo / mid_x), (hi, mid_y * hi / mid_x)],
                5,
            )
            .dashed(),
        );
        let left = LineChart {
            title: "discrete run vs its flow".into(),
            x_label: "step size η".into(),
            y_label: "max_t ‖β_η(t) − β_flow(t)‖ / ‖β_flow(t)‖".into(),
            x_scale: Scale::Log10,
            y_scale: Scale::Log10,
            series,
            legend: LegendPosition::Right,
            ..LineChart::default()
        };
        // Same path in both clocks: β_j against the accumulated rescaled time τ for each flow.
        let mut path_series = Vec::new();
        for flow in &flows {
            let s = &flow.summary;
            if s.optimizer != "sam-l2" {
                continue;
            }
            for j in 0..s.d {
                let mut line = Series::new(
                    format!("β_{j}, {} clock", s.clock),
                    flow.rows
                        .iter()
                        .filter(|r| r.tau > 0.0)
                        .map(|r| (r.tau, r.beta[j]))
                        .collect(),
                    j,
                );
                if s.clock == "original" {
                    line = line.dashed();
                    line.style.color_index = 6;
                    if j > 0 {
                        line.name = String::new();
                    }
                }
                path_series.push(line);
            }
        }
        // Dashed original-clock lines on top, so that both are visible where they coincide.
        path_series.sort_by_key(|line| line.style.dashed);
        let right = LineChart {
            title: "ℓ2-SAM flow: original vs rescaled clock".into(),
            x_label: "accumulated rescaled time τ".into(),
            y_label: "β_j".into(),
            x_scale: Scale::Log10,
            y_scale: Scale::Log10,
            series: path_series,
            legend: LegendPosition::UpperLeft,
            ..LineChart::default()
        };
        let grid = PanelGrid {
            title: "Discrete runs → their flow at first order; the rescaled flow is the same path"
                .into(),
            rows: 1,
            cols: 2,
            panels: vec![left, right],
            ..PanelGrid::default()
        };
        let record = publish_grid(
            ctx.out_dir,
            &p.figure,
            "flows",
            "Left: the largest relative distance between discrete runs at step size η and the DOPRI5 solution of the same flow (μ = (1, 2), L = 2), \
             for GD, ℓ∞-SAM and ℓ2-SAM, solid in the rescaled clock and dashed in the original one — every line has slope ≈ 1. \
             Right: the original-clock ℓ2-SAM flow plotted against its accumulated τ (dashed) lies on the rescaled-clock flow (solid).",
            &grid,
        )?;
        let mut rows = Vec::new();
        for c in &results {
            for (lr, distance) in &c.points {
                rows.push((
                    c.optimizer.clone(),
                    c.clock.clone(),
                    *lr,
                    *distance,
                    c.slope,
                ));
            }
        }
        let mut df = Columns::new()
            .str("optimizer", rows.iter().map(|r| r.0.clone()).collect())
            .str("clock", rows.iter().map(|r| r.1.clone()).collect())
            .f64("lr", rows.iter().map(|r| r.2).collect())
            .f64("max_rel_distance", rows.iter().map(|r| r.3).collect())
            .f64("slope", rows.iter().map(|r| r.4).collect())
            .finish()?;
        write_and_publish(&mut df, ctx.out_dir, &format!("{}_convergence", ctx.stage))?;
        write_figures(ctx.out_dir, &[record])?;
        write_claims(ctx.out_dir, &claims)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::output::{Row, RunSummary};

    fn run(points: &[(f64, f64)]) -> LoadedRun {
        LoadedRun {
            summary: RunSummary::default(),
            rows: points
                .iter()
                .map(|&(time, b)| Row {
                    step: 0,
                    time,
                    tau: time,
                    loss: 0.0,
                    beta: vec![b, 0.0],
                })
                .collect(),
        }
    }

    #[test]
    fn distance_uses_shared_times_only() {
        // Shared t = 1 (rel. error 0.1) and t = 2 (0.05); t = 1.5 exists only in the flow.
        let flow = run(&[(0.0, 1.0), (1.0, 1.0), (1.5, 7.0), (2.0, 2.0)]);
        let discrete = run(&[(0.0, 1.0), (1.0, 1.1), (2.0, 2.1)]);
        let distance = relative_distance(&discrete, &flow).unwrap();
        assert!((distance - 0.1).abs() < 1e-12, "{distance}");
        assert!(relative_distance(&run(&[(0.5, 1.0)]), &flow).is_none());
    }
}
