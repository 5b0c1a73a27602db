//! `mnist.cnn_report`: Grad-CAM grids, weak-pixel share curves (spread over seeds), share vs init
//! scale, loss and accuracy curves, summary tables and the `mnist.cnn.*` claims, from the runs of
//! `mnist.cnn_train`.

use std::collections::BTreeMap;

use figures::{
    Band, Colormap, ImageGrid, LegendPosition, LineChart, PanelGrid, RefLine, Scale, Series,
    render_image_grid, render_line_chart, render_panel_grid,
};
use pipeline::stage::{InputArtifact, ParamSchema, StageKind, TaskContext, TaskError};
use serde::Deserialize;

use crate::artifacts::write_figures;
use crate::claims::{Claim, write_claims};
use crate::error::AnalysisError;
use crate::mnist::cnn::{GRADCAM_FILE, KIND, PANEL_IMAGES_FILE};
use crate::mnist::common::{SECTION, float, int, read_f32, spread};
use crate::mnist::report_common::{
    OPTIMIZERS, PIXELS, load_training_runs, pixel_image, render_figure, widen,
};
use crate::table::{Columns, f64_column, read_input, str_column, write_and_publish};

const FIG_GRID: &str = "mnist_gradcam_grid";
const FIG_SHARE: &str = "mnist_weak_share";
const FIG_CURVES: &str = "mnist_loss_accuracy";
const FIG_INIT: &str = "mnist_share_vs_init";

#[derive(Debug, Clone, Deserialize)]
struct Params {
    early_step: i64,
    ref_init_scale: f64,
    grid_images: usize,
    min_test_acc: f64,
}

/// One loaded training run.
struct Run {
    optimizer: String,
    init_scale: f64,
    seed: i64,
    steps: Vec<i64>,
    train_loss: Vec<f64>,
    test_acc: Vec<f64>,
    weak_share: Vec<f64>,
    chance: f64,
    /// The digit of each panel image.
    targets: Vec<i64>,
    /// checkpoint-major, then panel image, 784 each.
    maps: Vec<f32>,
    images: Vec<f32>,
}

impl Run {
    fn load(input: &InputArtifact) -> Result<Self, AnalysisError> {
        let checkpoints = read_input(input, "checkpoints")?;
        let run = read_input(input, "run")?;
        let panel = read_input(input, "panel")?;
        let steps: Vec<i64> = f64_column(&checkpoints, "step")?
            .iter()
            .map(|&s| s as i64)
            .collect();
        let panel_steps = f64_column(&panel, "step")?;
        let first = panel_steps.first().copied().unwrap_or(0.0);
        let targets: Vec<i64> = f64_column(&panel, "digit")?
            .iter()
            .zip(&panel_steps)
            .filter(|(_, s)| **s == first)
            .map(|(t, _)| *t as i64)
            .collect();
        let chance = spread(&f64_column(&panel, "chance")?).0;
        Ok(Self {
            optimizer: str_column(&run, "optimizer")?[0].clone(),
            init_scale: f64_column(&run, "init_scale")?[0],
            seed: f64_column(&run, "seed")?[0] as i64,
            train_loss: f64_column(&checkpoints, "train_loss")?,
            test_acc: f64_column(&checkpoints, "test_acc")?,
            weak_share: f64_column(&checkpoints, "weak_share")?,
            steps,
            chance,
            targets,
            maps: read_f32(&input.path(GRADCAM_FILE))?,
            images: read_f32(&input.path(PANEL_IMAGES_FILE))?,
        })
    }

    fn at(&self, step: i64, values: &[f64]) -> f64 {
        self.steps
            .iter()
            .position(|&s| s == step)
            .map_or(f64::NAN, |i| values[i])
    }
}

/// Runs grouped by (optimizer, init scale bits), each group sorted by seed.
type Groups<'a> = BTreeMap<(String, u64), Vec<&'a Run>>;

fn groups(runs: &[Run]) -> Groups<'_> {
    let mut groups: Groups<'_> = BTreeMap::new();
    for run in runs {
        groups
            .entry((run.optimizer.clone(), run.init_scale.to_bits()))
            .or_default()
            .push(run);
    }
    for list in groups.values_mut() {
        list.sort_by_key(|r| r.seed);
    }
    groups
}

/// Mean, min, max over the runs of `values(run)` at each step of the first run.
fn band(runs: &[&Run], values: impl Fn(&Run) -> &Vec<f64>) -> Vec<(i64, f64, f64, f64)> {
    runs[0]
        .steps
        .iter()
        .map(|&step| {
            let at: Vec<f64> = runs.iter().map(|r| r.at(step, values(r))).collect();
            let (mean, lo, hi) = spread(&at);
            (step, mean, lo, hi)
        })
        .collect()
}

/// The paired difference share(SAM) − share(GD) per seed at `step`, seeds present in both.
pub fn paired_differences(sam: &[(i64, f64)], gd: &[(i64, f64)]) -> Vec<f64> {
    sam.iter()
        .filter_map(|(seed, s)| {
            gd.iter()
                .find(|(g_seed, _)| g_seed == seed)
                .map(|(_, g)| s - g)
        })
        .filter(|d| d.is_finite())
        .collect()
}

/// The `mnist.cnn_report` kind.
pub struct CnnReport;

impl StageKind for CnnReport {
    fn name(&self) -> &'static str {
        "mnist.cnn_report"
    }
    fn fingerprint(&self) -> &'static str {
        crate::fingerprint::FINGERPRINT
    }
    fn schema(&self) -> ParamSchema {
        ParamSchema::new(vec![
            int(
                "early_step",
                10,
                "the 'early in training' checkpoint of the weak-share claims",
            ),
            float(
                "ref_init_scale",
                1.0,
                "init scale of the grids and curves (the closest one run)",
            ),
            int(
                "grid_images",
                2,
                "panel digits per optimizer in the Grad-CAM grid",
            ),
            float(
                "min_test_acc",
                0.9,
                "final test accuracy every optimizer must reach (the CNN learns the task)",
            ),
        ])
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        let params: Params = ctx.params()?;
        let runs = load_training_runs(ctx, self.name(), KIND, Run::load)?;
        let reference = runs
            .iter()
            .map(|r| r.init_scale)
            .min_by(|a, b| {
                (a - params.ref_init_scale)
                    .abs()
                    .total_cmp(&(b - params.ref_init_scale).abs())
            })
            .unwrap_or(1.0);
        let groups = groups(&runs);
        let at_ref = |optimizer: &str| groups.get(&(optimizer.to_string(), reference.to_bits()));
        let out = ctx.out_dir;
        let mut figures = Vec::new();
        write_tables(out, &groups)?;

        // Grad-CAM grid: the first seed at the reference scale.
        let mut grid = ImageGrid {
            title: format!(
                "Grad-CAM over training (last conv layer; init scale {reference}, seed {})",
                runs.iter().map(|r| r.seed).min().unwrap_or(0)
            ),
            colormap: Colormap::Inferno,
            value_range: Some((0.0, 1.0)),
            overlay_alpha: 0.65,
            colorbar: Some("Grad-CAM".into()),
            ..ImageGrid::default()
        };
        for (name, label, _) in OPTIMIZERS {
            let Some(list) = at_ref(name) else { continue };
            let run = list[0];
            if grid.col_labels.is_empty() {
                grid.col_labels = run.steps.iter().map(|s| format!("step {s}")).collect();
            }
            let panel = run.targets.len();
            for image in 0..params.grid_images.min(panel) {
                grid.row_labels
                    .push(format!("{label}, digit {}", digit_label(run, image)));
                let underlay = widen(&run.images[image * PIXELS..(image + 1) * PIXELS]);
                for c in 0..grid.col_labels.len() {
                    let start = (c * panel + image) * PIXELS;
                    grid.images.push(pixel_image(
                        widen(&run.maps[start..start + PIXELS]),
                        Some(underlay.clone()),
                    ));
                }
            }
        }
        grid.width = (180 * grid.col_labels.len() as u32 + 420).max(900);
        figures.push(render_figure(
            out,
            FIG_GRID,
            "Grad-CAM maps (inferno, normalised to their peak) over the test digit, for the same \
             panel digits at each checkpoint, trained with GD, ℓ2-SAM and ℓ∞-SAM.",
            |stem| render_image_grid(&grid, stem),
        )?);

        // Weak share over training with spread over seeds.
        let chance = spread(&runs.iter().map(|r| r.chance).collect::<Vec<_>>()).0;
        let mut share_chart = LineChart {
            title: format!(
                "Grad-CAM mass on weak pixels (intensity < 0.1), init scale {reference}"
            ),
            x_label: "training step".into(),
            y_label: "weak-pixel share of Grad-CAM mass".into(),
            hlines: vec![RefLine::new(chance, "uniform map (chance)")],
            legend: LegendPosition::LowerLeft,
            ..LineChart::default()
        };
        let mut loss_chart = LineChart {
            title: "training loss".into(),
            x_label: "training step".into(),
            y_label: "mean train loss".into(),
            y_scale: Scale::Log10,
            ..LineChart::default()
        };
        let mut acc_chart = LineChart {
            title: "test accuracy".into(),
            x_label: "training step".into(),
            y_label: "test accuracy".into(),
            ..LineChart::default()
        };
        for (name, label, color) in OPTIMIZERS {
            let Some(list) = at_ref(name) else { continue };
            let seeds = list.len();
            for (chart, values) in [
                (&mut share_chart, band(list, |r| &r.weak_share)),
                (&mut loss_chart, band(list, |r| &r.train_loss)),
                (&mut acc_chart, band(list, |r| &r.test_acc)),
            ] {
                chart.series.push(
                    Series::new(
                        format!("{label} (mean of {seeds} seeds)"),
                        values.iter().map(|v| (v.0 as f64, v.1)).collect(),
                        color,
                    )
                    .with_markers(),
                );
                chart.bands.push(Band {
                    name: format!("{label} min–max"),
                    x: values.iter().map(|v| v.0 as f64).collect(),
                    lo: values.iter().map(|v| v.2).collect(),
                    hi: values.iter().map(|v| v.3).collect(),
                    color_index: color,
                });
            }
        }
        figures.push(render_figure(
            out,
            FIG_SHARE,
            "Share of Grad-CAM mass on weak pixels over training (panel mean; line = mean over \
             seeds, band = min–max); dashed: a uniform map.",
            |stem| render_line_chart(&share_chart, stem),
        )?);
        let curves = PanelGrid {
            title: format!("CNN on MNIST, init scale {reference}"),
            rows: 1,
            cols: 2,
            panels: vec![loss_chart, acc_chart],
            ..PanelGrid::default()
        };
        figures.push(render_figure(
            out,
            FIG_CURVES,
            "Training loss and test accuracy (mean over seeds, band min–max).",
            |stem| render_panel_grid(&curves, stem),
        )?);

        // Share vs init scale (only when several scales were run).
        let scales: Vec<f64> = {
            let mut s: Vec<f64> = runs.iter().map(|r| r.init_scale).collect();
            s.sort_by(f64::total_cmp);
            s.dedup();
            s
        };
        if scales.len() > 1 {
            let mut chart = LineChart {
                title: format!(
                    "weak-pixel share at step {} vs init scale",
                    params.early_step
                ),
                x_label: "init scale s_init".into(),
                y_label: "weak-pixel share of Grad-CAM mass".into(),
                x_scale: Scale::Log10,
                hlines: vec![RefLine::new(chance, "chance")],
                ..LineChart::default()
            };
            for (name, label, color) in OPTIMIZERS {
                let mut points = Vec::new();
                let (mut lo, mut hi) = (Vec::new(), Vec::new());
                for &scale in &scales {
                    if let Some(list) = groups.get(&(name.to_string(), scale.to_bits())) {
                        let at: Vec<f64> = list
                            .iter()
                            .map(|r| r.at(params.early_step, &r.weak_share))
                            .collect();
                        let (mean, min, max) = spread(&at);
                        points.push((scale, mean));
                        lo.push(min);
                        hi.push(max);
                    }
                }
                if points.is_empty() {
                    continue;
                }
                chart.bands.push(Band {
                    name: format!("{label} min–max"),
                    x: points.iter().map(|p| p.0).collect(),
                    lo,
                    hi,
                    color_index: color,
                });
                chart
                    .series
                    .push(Series::new(label, points, color).with_markers());
            }
            figures.push(render_figure(
                out,
                FIG_INIT,
                format!(
                    "Weak-pixel share of Grad-CAM mass at step {} against the init scale (mean over \
                     seeds, band min–max).",
                    params.early_step
                ),
                |stem| render_line_chart(&chart, stem),
            )?);
        }
        write_figures(out, &figures)?;
        write_claims(out, &claims(&params, &groups, reference)?)?;
        Ok(())
    }
}

fn digit_label(run: &Run, image: usize) -> String {
    run.targets[image].to_string()
}

fn write_tables(out: &std::path::Path, groups: &Groups<'_>) -> Result<(), AnalysisError> {
    let mut optimizer = Vec::new();
    let mut scale = Vec::new();
    let mut step = Vec::new();
    let mut seeds = Vec::new();
    let (mut share, mut share_lo, mut share_hi) = (Vec::new(), Vec::new(), Vec::new());
    let (mut loss, mut acc) = (Vec::new(), Vec::new());
    for ((name, bits), list) in groups {
        let s = f64::from_bits(*bits);
        let shares = band(list, |r| &r.weak_share);
        let losses = band(list, |r| &r.train_loss);
        let accs = band(list, |r| &r.test_acc);
        for i in 0..shares.len() {
            optimizer.push(name.clone());
            scale.push(s);
            step.push(shares[i].0);
            seeds.push(list.len() as i64);
            share.push(shares[i].1);
            share_lo.push(shares[i].2);
            share_hi.push(shares[i].3);
            loss.push(losses[i].1);
            acc.push(accs[i].1);
        }
    }
    let mut summary = Columns::new()
        .str("optimizer", optimizer)
        .f64("init_scale", scale)
        .i64("step", step)
        .i64("seeds", seeds)
        .f64("weak_share_mean", share)
        .f64("weak_share_min", share_lo)
        .f64("weak_share_max", share_hi)
        .f64("train_loss_mean", loss)
        .f64("test_acc_mean", acc)
        .finish()?;
    write_and_publish(&mut summary, out, "mnist_cnn_summary")?;
    Ok(())
}

fn claims(
    params: &Params,
    groups: &Groups<'_>,
    reference: f64,
) -> Result<Vec<Claim>, AnalysisError> {
    let mut claims = Vec::new();
    let key = |name: &str| (name.to_string(), reference.to_bits());
    let per_seed = |list: &[&Run], step: i64| -> Vec<(i64, f64)> {
        list.iter()
            .map(|r| (r.seed, r.at(step, &r.weak_share)))
            .collect()
    };
    let early = params.early_step;
    let Some(gd) = groups.get(&key("gd")) else {
        return Ok(claims);
    };
    for (name, label, _) in &OPTIMIZERS[1..] {
        let Some(sam) = groups.get(&key(name)) else {
            continue;
        };
        let diffs = paired_differences(&per_seed(sam, early), &per_seed(gd, early));
        let (mean, min, max) = spread(&diffs);
        // The difference at every checkpoint, so the choice of "early" can be judged.
        let course = sam[0]
            .steps
            .iter()
            .map(|&step| {
                let d = spread(&paired_differences(
                    &per_seed(sam, step),
                    &per_seed(gd, step),
                ))
                .0;
                format!("{step}: {d:+.3}")
            })
            .collect::<Vec<_>>()
            .join(", ");
        claims.push(
            Claim::verdict(
                &format!("mnist.cnn.weak_early.{name}"),
                SECTION,
                &format!(
                    "{label} puts a larger share of Grad-CAM mass on weak pixels than GD early in \
                     training"
                ),
                &format!(
                    "paired by seed: share({label}) − share(GD) of the panel-mean Grad-CAM mass on \
                     pixels < 0.1, at step {early}, init scale {reference}"
                ),
                "PASS iff the difference is > 0 in every seed",
                format!(
                    "mean Δ = {mean:+.4} (min {min:+.4}, max {max:+.4}) over {} seeds; mean Δ by \
                     step: {course}",
                    diffs.len()
                ),
                !diffs.is_empty() && diffs.iter().all(|d| *d > 0.0),
            )
            .with_figure(FIG_SHARE),
        );
        let last = sam[0].steps.last().copied().unwrap_or(0);
        let decays: Vec<f64> = sam
            .iter()
            .map(|r| r.at(last, &r.weak_share) - r.at(early, &r.weak_share))
            .filter(|d| d.is_finite())
            .collect();
        let (mean, min, max) = spread(&decays);
        claims.push(
            Claim::verdict(
                &format!("mnist.cnn.weak_decays.{name}"),
                SECTION,
                &format!(
                    "under {label} the weak-pixel share decays later in training (minor first, major \
                     last)"
                ),
                &format!("share at step {last} − share at step {early}, per seed"),
                "PASS iff the change is < 0 in every seed",
                format!(
                    "mean change {mean:+.4} (min {min:+.4}, max {max:+.4}) over {} seeds",
                    decays.len()
                ),
                !decays.is_empty() && decays.iter().all(|d| *d < 0.0),
            )
            .with_figure(FIG_SHARE),
        );
    }
    // Theory (spec C): SAM's weak-pixel emphasis is strongest at small init. Compare the paired
    // SAM − GD difference at the smallest and the largest init scale run.
    let mut scales: Vec<u64> = groups.keys().map(|(_, bits)| *bits).collect();
    scales.sort_by(|a, b| f64::from_bits(*a).total_cmp(&f64::from_bits(*b)));
    scales.dedup();
    if let (Some(&small), Some(&large)) = (scales.first(), scales.last())
        && small != large
    {
        for (name, label, _) in &OPTIMIZERS[1..] {
            let diff_at = |bits: u64| {
                let sam = groups.get(&(name.to_string(), bits))?;
                let gd = groups.get(&("gd".to_string(), bits))?;
                Some(
                    spread(&paired_differences(
                        &per_seed(sam, early),
                        &per_seed(gd, early),
                    ))
                    .0,
                )
            };
            let (Some(d_small), Some(d_large)) = (diff_at(small), diff_at(large)) else {
                continue;
            };
            let (s_small, s_large) = (f64::from_bits(small), f64::from_bits(large));
            claims.push(
                Claim::verdict(
                    &format!("mnist.cnn.init_scale.{name}"),
                    SECTION,
                    &format!(
                        "{label}'s extra weak-pixel share over GD is larger at small init scale \
                         than at large"
                    ),
                    &format!(
                        "mean over seeds of share({label}) − share(GD) at step {early}, init scale \
                         {s_small} vs {s_large}"
                    ),
                    "PASS iff Δ(small) > Δ(large)",
                    format!("Δ(s = {s_small}) = {d_small:+.4}, Δ(s = {s_large}) = {d_large:+.4}"),
                    d_small > d_large,
                )
                .with_figure(FIG_INIT),
            );
        }
    }
    let mut accuracies = Vec::new();
    for (name, label, _) in OPTIMIZERS {
        if let Some(list) = groups.get(&key(name)) {
            let finals: Vec<f64> = list
                .iter()
                .map(|r| r.test_acc.last().copied().unwrap_or(f64::NAN))
                .collect();
            accuracies.push((label, spread(&finals)));
        }
    }
    let worst = accuracies
        .iter()
        .map(|(_, (mean, _, _))| *mean)
        .fold(f64::INFINITY, f64::min);
    claims.push(
        Claim::verdict(
            "mnist.cnn.test_accuracy",
            SECTION,
            "the CNN learns the task under every optimizer (final test accuracy reported)",
            "mean over seeds of the final test accuracy, per optimizer",
            &format!("PASS iff every mean ≥ {}", params.min_test_acc),
            accuracies
                .iter()
                .map(|(label, (mean, min, max))| format!("{label} {mean:.4} [{min:.4}, {max:.4}]"))
                .collect::<Vec<_>>()
                .join("; "),
            worst >= params.min_test_acc,
        )
        .with_figure(FIG_CURVES),
    );
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_differences_match_seeds() {
        let sam = [(0, 0.5), (1, 0.4), (2, 0.9)];
        let gd = [(1, 0.1), (0, 0.2)];
        let diffs = paired_differences(&sam, &gd);
        assert_eq!(diffs.len(), 2);
        assert!((diffs[0] - 0.3).abs() < 1e-12 && (diffs[1] - 0.3).abs() < 1e-12);
    }
}
