//! `sec3.loss`: training-loss curves of GD and SAM from the same init (spec B8, reviewer 2): does GD
//! lower the loss faster? Measured honestly, step by step.

use figures::{LegendPosition, LineChart, Scale, Series};
use pipeline::stage::{ParamSchema, ParamSpec, ParamType, StageKind, TaskContext, TaskError};
use serde::Deserialize;

use crate::artifacts::write_figures;
use crate::claims::{Claim, write_claims};
use crate::error::AnalysisError;
use crate::runs::output::{LoadedRun, load_runs};
use crate::sec3::common::{figure_spec, optimizer_color, optimizer_name, publish_chart, show};
use crate::table::{Columns, write_and_publish};

/// The `sec3.loss` kind.
pub struct Loss;

#[derive(Deserialize)]
struct LossParams {
    figure: String,
    from_step: u64,
}

/// Compare a SAM run with the GD run of the same init at every step both logged from `from_step` on:
/// (steps compared, steps where SAM's loss is lower, SAM/GD loss ratio at the last shared step).
pub fn compare(sam: &LoadedRun, gd: &LoadedRun, from_step: u64) -> (usize, usize, f64) {
    let mut compared = 0;
    let mut lower = 0;
    let mut last_ratio = f64::NAN;
    for row in sam.rows.iter().filter(|r| r.step >= from_step) {
        if let Some(g) = gd.rows.iter().find(|g| g.step == row.step) {
            compared += 1;
            if row.loss < g.loss {
                lower += 1;
            }
            last_ratio = row.loss / g.loss;
        }
    }
    (compared, lower, last_ratio)
}

impl StageKind for Loss {
    fn name(&self) -> &'static str {
        "sec3.loss"
    }
    fn fingerprint(&self) -> &'static str {
        crate::fingerprint::FINGERPRINT
    }
    fn schema(&self) -> ParamSchema {
        ParamSchema::new(vec![
            figure_spec("figure", "s3-loss-curves"),
            ParamSpec::new(
                "from_step",
                ParamType::Int {
                    min: Some(0),
                    max: None,
                },
                "compare the losses from this step on",
            )
            .with_default(100),
        ])
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        let p: LossParams = ctx.params()?;
        let runs = load_runs(ctx.inputs)?;
        let mut claims = Vec::new();
        let mut rows = Vec::new();
        let mut inits: Vec<Vec<f64>> = Vec::new();
        for run in &runs {
            if !inits.contains(&run.summary.alpha) {
                inits.push(run.summary.alpha.clone());
            }
        }
        let mut series = Vec::new();
        for run in &runs {
            let s = &run.summary;
            let init_index = inits.iter().position(|a| *a == s.alpha).unwrap_or(0);
            let rho = if s.optimizer == "gd" {
                String::new()
            } else {
                format!(", ρ = {}", s.rho)
            };
            let mut line = Series::new(
                format!(
                    "{} α = {}{rho}",
                    optimizer_name(&s.optimizer),
                    show(&s.alpha)
                ),
                run.rows
                    .iter()
                    .filter(|r| r.step >= 1)
                    .map(|r| (r.step as f64, r.loss))
                    .collect(),
                optimizer_color(&s.optimizer),
            );
            if init_index > 0 {
                line = line.dashed();
            }
            series.push(line);
            if s.optimizer == "gd" {
                continue;
            }
            let gd = runs
                .iter()
                .find(|g| g.summary.optimizer == "gd" && g.summary.alpha == s.alpha)
                .ok_or_else(|| {
                    AnalysisError::invalid(format!("no GD run with α = {}", show(&s.alpha)))
                })?;
            let (compared, lower, ratio) = compare(run, gd, p.from_step);
            rows.push((
                optimizer_name(&s.optimizer).to_string(),
                show(&s.alpha),
                compared as i64,
                lower as i64,
                ratio,
            ));
            claims.push(
                Claim::verdict(
                    &format!("s3.reviewers.loss.{}.{}", s.optimizer, init_index),
                    "reviewers",
                    &format!("Reviewer 2 expected GD to lower the training loss faster than SAM; B8 derives the opposite: {} from α = {} has a LOWER loss than GD from the same init.", optimizer_name(&s.optimizer), show(&s.alpha)),
                    &format!("logged steps ≥ {} (original time, η as in the runs) where SAM's loss < GD's, and SAM/GD at the last step", p.from_step),
                    "at every compared step",
                    format!("{lower}/{compared} steps; final loss ratio SAM/GD = {ratio:.2e}"),
                    compared > 0 && lower == compared,
                )
                .with_figure(&p.figure),
            );
        }
        let chart = LineChart {
            title: "Training loss, μ = (1, 2), depth 2: GD (black) vs SAM".into(),
            x_label: "step (original time, η = 0.1)".into(),
            y_label: "training loss".into(),
            x_scale: Scale::Log10,
            y_scale: Scale::Log10,
            series,
            legend: LegendPosition::LowerLeft,
            ..LineChart::default()
        };
        let record = publish_chart(
            ctx.out_dir,
            &p.figure,
            "reviewers",
            "Training-loss curves in original time for GD and SAM from the same inits (solid: first init, dashed: second). \
             After the first few steps SAM's loss is far below GD's: its outer gradient is taken at the smaller perturbed margin, where −ℓ′ is larger.",
            &chart,
        )?;
        let mut df = Columns::new()
            .str("optimizer", rows.iter().map(|r| r.0.clone()).collect())
            .str("alpha", rows.iter().map(|r| r.1.clone()).collect())
            .i64("steps_compared", rows.iter().map(|r| r.2).collect())
            .i64("steps_sam_lower", rows.iter().map(|r| r.3).collect())
            .f64(
                "final_loss_ratio_sam_over_gd",
                rows.iter().map(|r| r.4).collect(),
            )
            .finish()?;
        write_and_publish(&mut df, ctx.out_dir, &format!("{}_comparison", ctx.stage))?;
        write_figures(ctx.out_dir, &[record])?;
        write_claims(ctx.out_dir, &claims)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::output::{Row, RunSummary};

    fn run(losses: &[(u64, f64)]) -> LoadedRun {
        LoadedRun {
            summary: RunSummary::default(),
            rows: losses
                .iter()
                .map(|&(step, loss)| Row {
                    step,
                    time: 0.0,
                    tau: 0.0,
                    loss,
                    beta: vec![],
                })
                .collect(),
        }
    }

    #[test]
    fn compare_counts_shared_steps_from_the_threshold() {
        let sam = run(&[(10, 0.5), (100, 0.1), (1000, 0.01)]);
        let gd = run(&[(10, 0.4), (100, 0.2), (1000, 0.02)]);
        let (compared, lower, ratio) = compare(&sam, &gd, 100);
        assert_eq!((compared, lower), (2, 2));
        assert!((ratio - 0.5).abs() < 1e-12);
        assert_eq!(compare(&sam, &gd, 0).1, 2, "step 10 has SAM above GD");
    }
}
