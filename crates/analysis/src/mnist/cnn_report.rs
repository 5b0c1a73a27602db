//! `mnist.cnn_report`: the pre-registered MNIST comparison of SAM against GD, from the runs of
//! `mnist.cnn_train`.
//!
//! Runs are grouped into cells (training mode, optimizer, ρ, init scale); a SAM cell is paired with
//! the GD cell of the same mode and init scale seed by seed (one seed = one data subset, one
//! initialisation, one batch order, shared by every optimizer). The primary statistic of a seed is
//! the mean over the early checkpoints (0 < step ≤ `early_fraction` × steps) of
//! weak-share(SAM) − weak-share(GD), the weak share taken over every test image with massless maps
//! counted as 0. Its bootstrap CI over seeds decides the verdict: reproduced when it excludes 0 on
//! the predicted (positive) side, contradicted on the other, inconclusive otherwise; the Wilcoxon
//! signed-rank p is reported beside it. Tables, figures and claims follow from those effects.

use std::collections::BTreeMap;

use figures::{
    Band, Colormap, ImageGrid, LegendPosition, LineChart, PanelGrid, RefLine, Scale, Series,
    render_image_grid, render_line_chart, render_panel_grid,
};
use numerics::stats::{Decision, Interval, bootstrap_mean_ci, signed_rank};
use pipeline::stage::{InputArtifact, ParamSchema, StageKind, TaskContext, TaskError};
use serde::Deserialize;

use crate::artifacts::{KeyTableRecord, write_figures, write_key_tables};
use crate::claims::{Claim, write_claims};
use crate::error::AnalysisError;
use crate::mnist::cnn::{GRADCAM_FILE, KIND, PANEL_IMAGES_FILE};
use crate::mnist::common::{SECTION, float, int, read_f32, spread, string};
use crate::mnist::report_common::{
    OPTIMIZERS, PIXELS, load_training_runs, pixel_image, render_figure, widen,
};
use crate::table::{Columns, f64_column, read_input, str_column, write_and_publish};

const FIG_GRID: &str = "mnist_gradcam_grid";
const FIG_SHARE: &str = "mnist_weak_share";
const FIG_CURVES: &str = "mnist_loss_accuracy";
const FIG_INIT: &str = "mnist_share_vs_init";
const FIG_RHO: &str = "mnist_effect_vs_rho";

/// Mini-batch and full-batch training, as labelled in tables.
const MINI: &str = "mini-batch";
const FULL: &str = "full-batch";

#[derive(Debug, Clone, Deserialize)]
struct Params {
    /// "" for the primary design (4 vs 9); otherwise the variant's name, which goes into its claim
    /// ids (`mnist.cnn.<variant>.…`), figure ids and table names so that several reports of this
    /// kind sit side by side in one ledger and one page.
    variant: String,
    early_fraction: f64,
    rho_l2: f64,
    rho_linf: f64,
    ref_init_scale: f64,
    level: f64,
    resamples: usize,
    bootstrap_seed: u64,
    control_margin: f64,
    grid_images: usize,
    min_test_acc: f64,
}

impl Params {
    /// Claim id `mnist.cnn.[<variant>.]<rest>`.
    fn claim_id(&self, rest: &str) -> String {
        if self.variant.is_empty() {
            format!("mnist.cnn.{rest}")
        } else {
            format!("mnist.cnn.{}.{rest}", self.variant)
        }
    }

    /// Figure id or table name `<base>[_<variant>]`.
    fn named(&self, base: &str) -> String {
        if self.variant.is_empty() {
            base.to_string()
        } else {
            format!("{base}_{}", self.variant)
        }
    }

    fn primary_rho(&self, optimizer: &str) -> f64 {
        if optimizer == "sam-l2" {
            self.rho_l2
        } else {
            self.rho_linf
        }
    }
}

/// The saliency methods whose weak share is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Method {
    GradCam,
    Gradient,
    GradientXInput,
    /// Diagnostic only (no claim): Grad-CAM's mean weak share over the maps that have mass, to
    /// show how much of a difference comes from the share of massless maps.
    GradCamWithMass,
}

impl Method {
    const ALL: [Method; 4] = [
        Method::GradCam,
        Method::Gradient,
        Method::GradientXInput,
        Method::GradCamWithMass,
    ];

    fn name(self) -> &'static str {
        match self {
            Method::GradCam => "gradcam",
            Method::Gradient => "gradient",
            Method::GradientXInput => "gradient_x_input",
            Method::GradCamWithMass => "gradcam_maps_with_mass",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Method::GradCam => "Grad-CAM",
            Method::Gradient => "|∇ₓ score|",
            Method::GradientXInput => "|x ⊙ ∇ₓ score|",
            Method::GradCamWithMass => "Grad-CAM, maps with mass only (diagnostic)",
        }
    }
}

/// One loaded training run.
struct Run {
    /// The task as captions name it: "4 vs 9" (binary: label −1 vs +1) or "ten-class".
    task: String,
    optimizer: String,
    rho: f64,
    mode: &'static str,
    init_scale: f64,
    seed: i64,
    total_steps: i64,
    steps: Vec<i64>,
    train_loss: Vec<f64>,
    test_acc: Vec<f64>,
    /// Test-set weak shares per checkpoint, by [`Method`] order.
    weak: [Vec<f64>; 4],
    /// Massless maps per checkpoint, by [`Method`] order.
    massless: [Vec<f64>; 4],
    n_test: f64,
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
        let optimizer = str_column(&run, "optimizer")?[0].clone();
        let batch = f64_column(&run, "batch")?[0];
        let column = |name: &str| f64_column(&checkpoints, name);
        let n_test = f64_column(&run, "n_test")?[0];
        let gradcam = column("gradcam_weak")?;
        let gradcam_massless = column("gradcam_massless")?;
        // The mean over all maps counts a massless map as 0, so the mean over the maps with mass
        // is mean · n / (n − massless).
        let with_mass = gradcam
            .iter()
            .zip(&gradcam_massless)
            .map(|(w, m)| {
                if *m < n_test {
                    w * n_test / (n_test - m)
                } else {
                    f64::NAN
                }
            })
            .collect();
        let task = if str_column(&run, "task")?[0] == "tenclass" {
            "ten-class".to_string()
        } else {
            format!(
                "{} vs {}",
                f64_column(&run, "negative")?[0],
                f64_column(&run, "positive")?[0]
            )
        };
        Ok(Self {
            task,
            rho: if optimizer == "gd" {
                0.0
            } else {
                f64_column(&run, "rho")?[0]
            },
            optimizer,
            mode: if batch == 0.0 { FULL } else { MINI },
            init_scale: f64_column(&run, "init_scale")?[0],
            seed: f64_column(&run, "seed")?[0] as i64,
            total_steps: f64_column(&run, "steps")?[0] as i64,
            train_loss: column("train_loss")?,
            test_acc: column("test_acc")?,
            weak: [
                gradcam,
                column("gradient_weak")?,
                column("gxi_weak")?,
                with_mass,
            ],
            massless: [
                gradcam_massless.clone(),
                column("gradient_massless")?,
                column("gxi_massless")?,
                gradcam_massless,
            ],
            n_test,
            chance: spread(&column("test_chance")?).0,
            steps,
            targets,
            maps: read_f32(&input.path(GRADCAM_FILE))?,
            images: read_f32(&input.path(PANEL_IMAGES_FILE))?,
        })
    }

    /// Indices of the early checkpoints: 0 < step ≤ `fraction` × steps (step 0 is excluded: every
    /// optimizer starts from the same network there, so its difference is 0 by construction).
    fn early(&self, fraction: f64) -> Vec<usize> {
        let limit = fraction * self.total_steps as f64;
        (0..self.steps.len())
            .filter(|&i| self.steps[i] > 0 && self.steps[i] as f64 <= limit)
            .collect()
    }

    /// Mean of `values` over the early checkpoints.
    fn early_mean(&self, values: &[f64], fraction: f64) -> f64 {
        let early = self.early(fraction);
        if early.is_empty() {
            return f64::NAN;
        }
        early.iter().map(|&i| values[i]).sum::<f64>() / early.len() as f64
    }
}

/// A cell of the design: (mode, optimizer, ρ bits, init scale bits); GD's ρ is 0.
type Cell = (&'static str, String, u64, u64);

/// Runs grouped by cell, each group sorted by seed.
type Groups<'a> = BTreeMap<Cell, Vec<&'a Run>>;

fn groups(runs: &[Run]) -> Groups<'_> {
    let mut groups: Groups<'_> = BTreeMap::new();
    for run in runs {
        groups
            .entry((
                run.mode,
                run.optimizer.clone(),
                run.rho.to_bits(),
                run.init_scale.to_bits(),
            ))
            .or_default()
            .push(run);
    }
    for list in groups.values_mut() {
        list.sort_by_key(|r| r.seed);
    }
    groups
}

/// The paired difference SAM − GD per seed, for seeds present in both (sorted by seed).
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

/// The per-seed primary statistic of `sam` against `gd` for `method`.
fn seed_effects(sam: &[&Run], gd: &[&Run], method: Method, fraction: f64) -> Vec<(i64, f64)> {
    let per_seed = |runs: &[&Run]| -> Vec<(i64, f64)> {
        runs.iter()
            .map(|r| (r.seed, r.early_mean(&r.weak[method as usize], fraction)))
            .collect()
    };
    let gd_seeds = per_seed(gd);
    per_seed(sam)
        .into_iter()
        .filter_map(|(seed, s)| {
            let g = gd_seeds.iter().find(|(g, _)| *g == seed)?.1;
            (s - g).is_finite().then_some((seed, s - g))
        })
        .collect()
}

/// A paired effect over seeds: mean, bootstrap CI, signed-rank p and the three-valued decision
/// against a predicted positive sign.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Effect {
    seeds: usize,
    interval: Interval,
    /// `None` when every difference is exactly 0 (nothing to rank).
    p: Option<f64>,
    decision: Decision,
}

impl Effect {
    fn of(diffs: &[f64], params: &Params) -> Result<Option<Self>, AnalysisError> {
        Self::with(diffs, params.level, params.resamples, params.bootstrap_seed)
    }

    /// The effect of paired differences `diffs` at CI coverage `level` from `resamples` bootstrap
    /// resamples of the stream `seed`; `None` for no differences.
    pub(crate) fn with(
        diffs: &[f64],
        level: f64,
        resamples: usize,
        seed: u64,
    ) -> Result<Option<Self>, AnalysisError> {
        if diffs.is_empty() {
            return Ok(None);
        }
        let interval = bootstrap_mean_ci(diffs, level, resamples, seed)?;
        let p = signed_rank(diffs).ok().map(|r| r.p_two_sided);
        Ok(Some(Self {
            seeds: diffs.len(),
            interval,
            p,
            decision: Decision::from_interval(interval, 1.0),
        }))
    }

    pub(crate) fn verdict_word(&self) -> &'static str {
        match self.decision {
            Decision::Supports => "reproduced",
            Decision::Undecided => "inconclusive",
            Decision::Opposes => "contradicted",
        }
    }

    pub(crate) fn describe(&self) -> String {
        let p = self
            .p
            .map_or("n/a (all differences 0)".into(), |p| format!("{p:.3}"));
        format!(
            "Δ = {:+.4}, {:.0} % CI [{:+.4}, {:+.4}], signed-rank p = {p}, {} seeds",
            self.interval.estimate,
            100.0 * self.interval.level,
            self.interval.lo,
            self.interval.hi,
            self.seeds
        )
    }

    /// An evidence claim whose verdict is this effect's decision.
    pub(crate) fn claim(
        &self,
        id: &str,
        statement: &str,
        measurement: &str,
        measured: String,
    ) -> Claim {
        let claim = Claim::verdict(
            id,
            SECTION,
            statement,
            measurement,
            "reproduced iff the CI of the mean excludes 0 on the positive side, contradicted iff \
             it excludes 0 on the negative side, inconclusive otherwise",
            measured,
            self.decision == Decision::Supports,
        );
        if self.decision == Decision::Undecided {
            claim.inconclusive()
        } else {
            claim
        }
    }
}

/// One row of the effects table: a SAM cell against GD for one saliency method.
struct EffectRow {
    mode: &'static str,
    optimizer: String,
    rho: f64,
    init_scale: f64,
    method: Method,
    effect: Effect,
    /// Fraction of massless maps over the early checkpoints, SAM and GD.
    massless: (f64, f64),
}

fn massless_fraction(runs: &[&Run], method: Method, fraction: f64) -> f64 {
    let values: Vec<f64> = runs
        .iter()
        .map(|r| r.early_mean(&r.massless[method as usize], fraction) / r.n_test)
        .collect();
    spread(&values).0
}

fn effect_rows(groups: &Groups<'_>, params: &Params) -> Result<Vec<EffectRow>, AnalysisError> {
    let mut rows = Vec::new();
    for ((mode, optimizer, rho, scale), sam) in groups {
        if optimizer == "gd" {
            continue;
        }
        let Some(gd) = groups.get(&(*mode, "gd".to_string(), 0f64.to_bits(), *scale)) else {
            continue;
        };
        for method in Method::ALL {
            let diffs: Vec<f64> = seed_effects(sam, gd, method, params.early_fraction)
                .into_iter()
                .map(|(_, d)| d)
                .collect();
            if let Some(effect) = Effect::of(&diffs, params)? {
                rows.push(EffectRow {
                    mode,
                    optimizer: optimizer.clone(),
                    rho: f64::from_bits(*rho),
                    init_scale: f64::from_bits(*scale),
                    method,
                    effect,
                    massless: (
                        massless_fraction(sam, method, params.early_fraction),
                        massless_fraction(gd, method, params.early_fraction),
                    ),
                });
            }
        }
    }
    Ok(rows)
}

fn optimizer_label(name: &str) -> &'static str {
    OPTIMIZERS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map_or("?", |(_, label, _)| label)
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
            string(
                "variant",
                "",
                "\"\" for the primary design; else the variant's name, put into its claim ids \
                 (mnist.cnn.<variant>.…), figure ids and table names",
            ),
            float(
                "early_fraction",
                0.25,
                "primary window: checkpoints with 0 < step ≤ early_fraction × steps",
            ),
            float(
                "rho_l2",
                0.05,
                "the primary ℓ2-SAM radius (its cells carry the primary claims)",
            ),
            float("rho_linf", 0.001, "the primary ℓ∞-SAM radius"),
            float(
                "ref_init_scale",
                1.0,
                "init scale of the second-saliency claims, the grids and the curves",
            ),
            float(
                "level",
                0.95,
                "coverage of the bootstrap confidence intervals",
            ),
            int("resamples", 10_000, "bootstrap resamples"),
            int(
                "bootstrap_seed",
                20_260_303,
                "seed of the bootstrap stream (fixed: not a seed of the experiment)",
            ),
            float(
                "control_margin",
                0.01,
                "negative control: at the smallest ρ both CI ends must lie within ±margin of 0",
            ),
            int(
                "grid_images",
                2,
                "panel digits per optimizer in the Grad-CAM grid",
            ),
            float(
                "min_test_acc",
                0.9,
                "final test accuracy the mean over seeds of every cell must reach",
            ),
        ])
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        let params: Params = ctx.params()?;
        if !(params.early_fraction > 0.0 && params.early_fraction <= 1.0) {
            return Err(AnalysisError::invalid(format!(
                "early_fraction = {} must be in (0, 1]",
                params.early_fraction
            ))
            .into());
        }
        let runs = load_training_runs(ctx, self.name(), KIND, Run::load)?;
        if let Some(other) = runs.iter().find(|r| r.task != runs[0].task) {
            return Err(AnalysisError::invalid(format!(
                "mnist.cnn_report (variant {:?}) got runs of two tasks, {} and {}: one report per \
                 task (give each task its own report stage with its own `variant`)",
                params.variant, runs[0].task, other.task
            ))
            .into());
        }
        let groups = groups(&runs);
        let rows = effect_rows(&groups, &params)?;
        let out = ctx.out_dir;
        write_tables(out, &groups, &rows, &params)?;
        let mut figures = Vec::new();
        let reference = closest_scale(&runs, params.ref_init_scale);
        let primary = |optimizer: &str| {
            let rho = if optimizer == "gd" {
                0.0
            } else {
                params.primary_rho(optimizer)
            };
            groups.get(&(
                MINI,
                optimizer.to_string(),
                rho.to_bits(),
                reference.to_bits(),
            ))
        };

        // Grad-CAM grid: the first seed at the reference scale.
        let mut grid = ImageGrid {
            title: format!(
                "Grad-CAM over training ({}, mini-batch, init scale {reference}, seed {})",
                runs[0].task,
                runs.iter().map(|r| r.seed).min().unwrap_or(0)
            ),
            colormap: Colormap::Inferno,
            value_range: Some((0.0, 1.0)),
            overlay_alpha: 0.65,
            colorbar: Some("Grad-CAM".into()),
            ..ImageGrid::default()
        };
        for (name, label, _) in OPTIMIZERS {
            let Some(list) = primary(name) else { continue };
            let run = list[0];
            let panel = run.targets.len();
            if panel == 0 {
                continue;
            }
            if grid.col_labels.is_empty() {
                grid.col_labels = run.steps.iter().map(|s| format!("step {s}")).collect();
            }
            for image in 0..params.grid_images.min(panel) {
                grid.row_labels
                    .push(format!("{label}, digit {}", run.targets[image]));
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
        if !grid.images.is_empty() {
            grid.width = (180 * grid.col_labels.len() as u32 + 420).max(900);
            figures.push(render_figure(
                out,
                &params.named(FIG_GRID),
                "Grad-CAM maps (inferno, normalised to their peak) over the test digit, for the \
                 same panel digits at each checkpoint, trained with GD, ℓ2-SAM and ℓ∞-SAM.",
                |stem| render_image_grid(&grid, stem),
            )?);
        }

        // Test-set weak share over training, and loss / accuracy, with the min–max over seeds.
        let chance = spread(&runs.iter().map(|r| r.chance).collect::<Vec<_>>()).0;
        let mut share_chart = LineChart {
            title: format!(
                "Grad-CAM mass on weak pixels (intensity < 0.1), all test images, {}, init scale \
                 {reference}",
                runs[0].task
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
            let Some(list) = primary(name) else { continue };
            let seeds = list.len();
            for (chart, values) in [
                (&mut share_chart, band(list, |r| &r.weak[0])),
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
        if !share_chart.series.is_empty() {
            figures.push(render_figure(
                out,
                &params.named(FIG_SHARE),
                "Share of Grad-CAM mass on weak pixels over training, mean over all test images \
                 (massless maps count 0); line = mean over seeds, band = min–max; dashed: a \
                 uniform map. Secondary: the verdicts use the paired statistic in the tables.",
                |stem| render_line_chart(&share_chart, stem),
            )?);
            let curves = PanelGrid {
                title: format!(
                    "CNN on MNIST, {}, mini-batch, init scale {reference}",
                    runs[0].task
                ),
                rows: 1,
                cols: 2,
                panels: vec![loss_chart, acc_chart],
                ..PanelGrid::default()
            };
            figures.push(render_figure(
                out,
                &params.named(FIG_CURVES),
                "Training loss and test accuracy (mean over seeds, band min–max).",
                |stem| render_panel_grid(&curves, stem),
            )?);
        }

        // The primary effect against the init scale and against ρ, with its CI.
        let effect_chart =
            |title: String, x_label: &str, pick: &dyn Fn(&EffectRow) -> Option<f64>| {
                let mut chart = LineChart {
                    title,
                    x_label: x_label.into(),
                    y_label: "Δ weak share (SAM − GD), early mean".into(),
                    x_scale: Scale::Log10,
                    hlines: vec![RefLine::new(0.0, "no effect (GD)")],
                    ..LineChart::default()
                };
                for (name, label, color) in &OPTIMIZERS[1..] {
                    let mut points: Vec<(f64, &EffectRow)> = rows
                        .iter()
                        .filter(|r| r.optimizer == *name && r.method == Method::GradCam)
                        .filter_map(|r| pick(r).map(|x| (x, r)))
                        .collect();
                    points.sort_by(|a, b| a.0.total_cmp(&b.0));
                    if points.len() < 2 {
                        continue;
                    }
                    chart.bands.push(Band {
                        name: format!("{label} {:.0} % CI", 100.0 * params.level),
                        x: points.iter().map(|p| p.0).collect(),
                        lo: points.iter().map(|p| p.1.effect.interval.lo).collect(),
                        hi: points.iter().map(|p| p.1.effect.interval.hi).collect(),
                        color_index: *color,
                    });
                    chart.series.push(
                        Series::new(
                            *label,
                            points
                                .iter()
                                .map(|p| (p.0, p.1.effect.interval.estimate))
                                .collect(),
                            *color,
                        )
                        .with_markers(),
                    );
                }
                chart
            };
        let by_scale = effect_chart(
            "Δ weak share against the init scale (mini-batch, primary ρ)".into(),
            "init scale s_init",
            &|r| {
                (r.mode == MINI && r.rho == params.primary_rho(&r.optimizer))
                    .then_some(r.init_scale)
            },
        );
        if !by_scale.series.is_empty() {
            figures.push(render_figure(
                out,
                &params.named(FIG_INIT),
                "Primary statistic (per seed: mean over the early checkpoints of the Grad-CAM \
                 weak share under SAM minus under GD) against the init scale; band = bootstrap \
                 CI over seeds.",
                |stem| render_line_chart(&by_scale, stem),
            )?);
        }
        let by_rho = effect_chart(
            format!("Δ weak share against ρ (mini-batch, init scale {reference})"),
            "SAM radius ρ",
            &|r| (r.mode == MINI && r.init_scale == reference).then_some(r.rho),
        );
        if !by_rho.series.is_empty() {
            figures.push(render_figure(
                out,
                &params.named(FIG_RHO),
                "Primary statistic against ρ: as ρ → 0 SAM becomes GD and the effect must vanish \
                 (the negative control); band = bootstrap CI over seeds.",
                |stem| render_line_chart(&by_rho, stem),
            )?);
        }
        write_figures(out, &figures)?;
        write_key_tables(out, &key_tables(&runs, &groups, &rows, &params, reference))?;
        write_claims(
            out,
            &claims(&params, &runs[0].task, &groups, &rows, reference)?,
        )?;
        Ok(())
    }
}

fn closest_scale(runs: &[Run], target: f64) -> f64 {
    runs.iter()
        .map(|r| r.init_scale)
        .min_by(|a, b| (a - target).abs().total_cmp(&(b - target).abs()))
        .unwrap_or(target)
}

/// Mean, min, max over the runs of their final test accuracy.
fn final_test_accuracy(runs: &[&Run]) -> (f64, f64, f64) {
    spread(
        &runs
            .iter()
            .map(|r| r.test_acc.last().copied().unwrap_or(f64::NAN))
            .collect::<Vec<_>>(),
    )
}

/// Mean, min, max over the runs of `values(run)` at each checkpoint of the first run.
fn band(runs: &[&Run], values: impl Fn(&Run) -> &Vec<f64>) -> Vec<(i64, f64, f64, f64)> {
    runs[0]
        .steps
        .iter()
        .map(|&step| {
            let at: Vec<f64> = runs
                .iter()
                .map(|r| {
                    r.steps
                        .iter()
                        .position(|&s| s == step)
                        .map_or(f64::NAN, |i| values(r)[i])
                })
                .collect();
            let (mean, lo, hi) = spread(&at);
            (step, mean, lo, hi)
        })
        .collect()
}

fn write_tables(
    out: &std::path::Path,
    groups: &Groups<'_>,
    rows: &[EffectRow],
    params: &Params,
) -> Result<(), AnalysisError> {
    let mut effects = Columns::new()
        .str("mode", rows.iter().map(|r| r.mode.to_string()).collect())
        .str(
            "optimizer",
            rows.iter().map(|r| r.optimizer.clone()).collect(),
        )
        .f64("rho", rows.iter().map(|r| r.rho).collect())
        .f64("init_scale", rows.iter().map(|r| r.init_scale).collect())
        .str(
            "saliency",
            rows.iter().map(|r| r.method.name().to_string()).collect(),
        )
        .i64(
            "seeds",
            rows.iter().map(|r| r.effect.seeds as i64).collect(),
        )
        .f64(
            "delta_mean",
            rows.iter().map(|r| r.effect.interval.estimate).collect(),
        )
        .f64("ci_lo", rows.iter().map(|r| r.effect.interval.lo).collect())
        .f64("ci_hi", rows.iter().map(|r| r.effect.interval.hi).collect())
        .opt_f64("signed_rank_p", rows.iter().map(|r| r.effect.p).collect())
        .str(
            "decision",
            rows.iter()
                .map(|r| r.effect.verdict_word().to_string())
                .collect(),
        )
        .f64("massless_sam", rows.iter().map(|r| r.massless.0).collect())
        .f64("massless_gd", rows.iter().map(|r| r.massless.1).collect())
        .finish()?;
    write_and_publish(&mut effects, out, &params.named("mnist_cnn_effects"))?;

    let mut cells = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let (mut acc_min, mut acc_max, mut loss, mut early_share) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((mode, optimizer, rho, scale), list) in groups {
        let (mean, lo, hi) = final_test_accuracy(list);
        cells.0.push(mode.to_string());
        cells.1.push(optimizer.clone());
        cells.2.push(f64::from_bits(*rho));
        cells.3.push(f64::from_bits(*scale));
        cells.4.push(list.len() as i64);
        cells.5.push(mean);
        acc_min.push(lo);
        acc_max.push(hi);
        loss.push(
            spread(
                &list
                    .iter()
                    .map(|r| r.train_loss.last().copied().unwrap_or(f64::NAN))
                    .collect::<Vec<_>>(),
            )
            .0,
        );
        early_share.push(
            spread(
                &list
                    .iter()
                    .map(|r| r.early_mean(&r.weak[0], params.early_fraction))
                    .collect::<Vec<_>>(),
            )
            .0,
        );
    }
    let mut accuracy = Columns::new()
        .str("mode", cells.0)
        .str("optimizer", cells.1)
        .f64("rho", cells.2)
        .f64("init_scale", cells.3)
        .i64("seeds", cells.4)
        .f64("final_test_acc_mean", cells.5)
        .f64("final_test_acc_min", acc_min)
        .f64("final_test_acc_max", acc_max)
        .f64("final_train_loss_mean", loss)
        .f64("early_gradcam_weak_mean", early_share)
        .finish()?;
    write_and_publish(&mut accuracy, out, &params.named("mnist_cnn_cells"))?;
    Ok(())
}

fn key_tables(
    runs: &[Run],
    groups: &Groups<'_>,
    rows: &[EffectRow],
    params: &Params,
    reference: f64,
) -> Vec<KeyTableRecord> {
    let distinct = |values: Vec<f64>| {
        let mut v = values;
        v.sort_by(f64::total_cmp);
        v.dedup();
        v.iter()
            .map(|x| format!("{x}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut protocol = Vec::new();
    for mode in [MINI, FULL] {
        let of_mode: Vec<&Run> = runs.iter().filter(|r| r.mode == mode).collect();
        let Some(first) = of_mode.first() else {
            continue;
        };
        let mut seeds: Vec<i64> = of_mode.iter().map(|r| r.seed).collect();
        seeds.sort_unstable();
        seeds.dedup();
        let early: Vec<String> = first
            .early(params.early_fraction)
            .iter()
            .map(|&i| first.steps[i].to_string())
            .collect();
        protocol.push(vec![
            mode.to_string(),
            format!("{} steps", first.total_steps),
            format!("{} test images", first.n_test),
            format!(
                "{} seeds ({}–{})",
                seeds.len(),
                seeds.first().unwrap_or(&0),
                seeds.last().unwrap_or(&0)
            ),
            distinct(of_mode.iter().map(|r| r.init_scale).collect()),
            distinct(
                of_mode
                    .iter()
                    .filter(|r| r.optimizer == "sam-l2")
                    .map(|r| r.rho)
                    .collect(),
            ),
            distinct(
                of_mode
                    .iter()
                    .filter(|r| r.optimizer == "sam-linf")
                    .map(|r| r.rho)
                    .collect(),
            ),
            format!("steps {} of {:?}", early.join(", "), first.steps),
        ]);
    }
    let ci = |e: &Effect| {
        format!(
            "{:+.4} [{:+.4}, {:+.4}]",
            e.interval.estimate, e.interval.lo, e.interval.hi
        )
    };
    let p = |e: &Effect| e.p.map_or("–".into(), |p| format!("{p:.3}"));
    let primary: Vec<Vec<String>> = rows
        .iter()
        .filter(|r| r.method == Method::GradCam && r.rho == params.primary_rho(&r.optimizer))
        .map(|r| {
            vec![
                r.mode.to_string(),
                optimizer_label(&r.optimizer).to_string(),
                format!("{}", r.rho),
                format!("{}", r.init_scale),
                r.effect.seeds.to_string(),
                ci(&r.effect),
                p(&r.effect),
                format!("{:.3} / {:.3}", r.massless.0, r.massless.1),
                r.effect.verdict_word().to_string(),
            ]
        })
        .collect();
    let rho_rows: Vec<Vec<String>> = rows
        .iter()
        .filter(|r| r.method == Method::GradCam && r.mode == MINI && r.init_scale == reference)
        .map(|r| {
            vec![
                optimizer_label(&r.optimizer).to_string(),
                format!("{}", r.rho),
                r.effect.seeds.to_string(),
                ci(&r.effect),
                p(&r.effect),
            ]
        })
        .collect();
    let saliency_rows: Vec<Vec<String>> = rows
        .iter()
        .filter(|r| {
            r.mode == MINI && r.init_scale == reference && r.rho == params.primary_rho(&r.optimizer)
        })
        .map(|r| {
            vec![
                optimizer_label(&r.optimizer).to_string(),
                r.method.label().to_string(),
                r.effect.seeds.to_string(),
                ci(&r.effect),
                p(&r.effect),
                format!("{:.3} / {:.3}", r.massless.0, r.massless.1),
                r.effect.verdict_word().to_string(),
            ]
        })
        .collect();
    let accuracy: Vec<Vec<String>> = groups
        .iter()
        .map(|((mode, optimizer, rho, scale), list)| {
            let (mean, lo, hi) = final_test_accuracy(list);
            vec![
                mode.to_string(),
                optimizer_label(optimizer).to_string(),
                format!("{}", f64::from_bits(*rho)),
                format!("{}", f64::from_bits(*scale)),
                list.len().to_string(),
                format!("{mean:.4} [{lo:.4}, {hi:.4}]"),
            ]
        })
        .collect();
    let level = format!("{:.0} %", 100.0 * params.level);
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let task = match runs.first() {
        Some(run) if run.task == "ten-class" => {
            "ten-class, softmax cross-entropy, seeded random subsets, saliency for the true class"
                .to_string()
        }
        Some(run) => format!("{}, labels ±1, logistic loss, balanced subsets", run.task),
        None => String::new(),
    };
    // A variant's tables say which task they are about.
    let prefix = match runs.first() {
        Some(run) if !params.variant.is_empty() => format!("{}: ", run.task),
        _ => String::new(),
    };
    let mut tables = vec![
        KeyTableRecord {
            section: SECTION.into(),
            caption: format!(
                "CNN protocol as run (fixed in pipeline.toml before the runs): {task}; the primary \
                 statistic of a seed is the mean over \
                 the early checkpoints of weak-share(SAM) − weak-share(GD) over all test images \
                 (a massless map counts as share 0); verdict from its {level} bootstrap CI over \
                 seeds"
            ),
            columns: strings(&[
                "training",
                "budget",
                "saliency set",
                "seeds (paired)",
                "init scales",
                "ℓ2-SAM ρ",
                "ℓ∞-SAM ρ",
                "early window",
            ]),
            rows: protocol,
        },
        KeyTableRecord {
            section: SECTION.into(),
            caption: format!(
                "Primary result: Grad-CAM weak share, SAM − GD (early mean, paired by seed), \
                 {level} bootstrap CI, Wilcoxon signed-rank p; massless-map fraction SAM / GD"
            ),
            columns: strings(&[
                "training",
                "optimizer",
                "ρ",
                "init scale",
                "seeds",
                "Δ [CI]",
                "p",
                "massless",
                "verdict",
            ]),
            rows: primary,
        },
        KeyTableRecord {
            section: SECTION.into(),
            caption: format!(
                "Negative control: the primary statistic as ρ → 0 (mini-batch, init scale \
                 {reference}); it must vanish into GD"
            ),
            columns: strings(&["optimizer", "ρ", "seeds", "Δ [CI]", "p"]),
            rows: rho_rows,
        },
        KeyTableRecord {
            section: SECTION.into(),
            caption: format!(
                "Saliency methods on the same images (mini-batch, init scale {reference}, primary \
                 ρ): Grad-CAM (14×14, upsampled; the primary), |∇ₓ score| (the second method), \
                 |x ⊙ ∇ₓ score| (0 wherever x = 0, i.e. on the background: tabled only) and \
                 Grad-CAM over the maps with mass only (a diagnostic of the massless-map share)"
            ),
            columns: strings(&[
                "optimizer",
                "saliency",
                "seeds",
                "Δ [CI]",
                "p",
                "massless",
                "verdict",
            ]),
            rows: saliency_rows,
        },
        KeyTableRecord {
            section: SECTION.into(),
            caption: "Final test accuracy of every cell (mean [min, max] over seeds)".into(),
            columns: strings(&[
                "training",
                "optimizer",
                "ρ",
                "init scale",
                "seeds",
                "test accuracy",
            ]),
            rows: accuracy,
        },
    ];
    for table in tables.iter_mut().skip(1) {
        table.caption = format!("{prefix}{}", table.caption);
    }
    tables
}

fn claims(
    params: &Params,
    task: &str,
    groups: &Groups<'_>,
    rows: &[EffectRow],
    reference: f64,
) -> Result<Vec<Claim>, AnalysisError> {
    let mut claims = Vec::new();
    // A variant's statements open with its task.
    let on = if params.variant.is_empty() {
        String::new()
    } else {
        format!("{task}: ")
    };
    let window = format!(
        "mean over the checkpoints with 0 < step ≤ {} × steps",
        params.early_fraction
    );
    // Primary: every (optimizer, init scale) of the mini-batch design at the primary ρ, and every
    // full-batch SAM cell at the primary ρ.
    for row in rows
        .iter()
        .filter(|r| r.method == Method::GradCam && r.rho == params.primary_rho(&r.optimizer))
    {
        let label = optimizer_label(&row.optimizer);
        let mode = if row.mode == MINI { "" } else { "fullbatch." };
        claims.push(
            row.effect
                .claim(
                    &params.claim_id(&format!(
                        "{mode}weak_early.{}.s{}",
                        row.optimizer, row.init_scale
                    )),
                    &format!(
                        "{on}{label} puts a larger share of Grad-CAM mass on weak pixels than GD \
                         early in training ({}, init scale {})",
                        row.mode, row.init_scale
                    ),
                    &format!(
                        "per seed, {window} of weak-share({label}) − weak-share(GD) over all \
                         test images, ρ = {}; GD and {label} share data, init and batch order",
                        row.rho
                    ),
                    format!(
                        "{}; massless maps {:.3} ({label}) / {:.3} (GD)",
                        row.effect.describe(),
                        row.massless.0,
                        row.massless.1
                    ),
                )
                .with_figure(&params.named(FIG_INIT)),
        );
    }
    // The second saliency method at the reference scale: the input gradient (defined on every
    // pixel, no upsampling). Gradient × input is 0 wherever x = 0, i.e. on nearly every weak pixel,
    // so its weak share is near 0 by construction and it is tabled, not claimed.
    for row in rows.iter().filter(|r| {
        r.method == Method::Gradient
            && r.mode == MINI
            && r.init_scale == reference
            && r.rho == params.primary_rho(&r.optimizer)
    }) {
        let label = optimizer_label(&row.optimizer);
        claims.push(row.effect.claim(
            &params.claim_id(&format!(
                "{}.weak_early.{}",
                row.method.name(),
                row.optimizer
            )),
            &format!(
                "{on}{label} puts a larger share of {} saliency on weak pixels than GD early in \
                 training (second saliency method, init scale {reference})",
                row.method.label()
            ),
            &format!(
                "as the primary statistic, with {} in place of Grad-CAM, same images",
                row.method.label()
            ),
            format!(
                "{}; massless maps {:.3} / {:.3}",
                row.effect.describe(),
                row.massless.0,
                row.massless.1
            ),
        ));
    }
    // Init-scale dependence: per seed, Δ at the smallest scale minus Δ at the largest.
    for (name, label, _) in &OPTIMIZERS[1..] {
        let rho = params.primary_rho(name).to_bits();
        let mut scales: Vec<u64> = groups
            .keys()
            .filter(|(mode, o, r, _)| *mode == MINI && o == name && *r == rho)
            .map(|k| k.3)
            .collect();
        scales.sort_by(|a, b| f64::from_bits(*a).total_cmp(&f64::from_bits(*b)));
        let (Some(&small), Some(&large)) = (scales.first(), scales.last()) else {
            continue;
        };
        if small == large {
            continue;
        }
        let at = |scale: u64| -> Option<Vec<(i64, f64)>> {
            let sam = groups.get(&(MINI, name.to_string(), rho, scale))?;
            let gd = groups.get(&(MINI, "gd".to_string(), 0f64.to_bits(), scale))?;
            Some(seed_effects(
                sam,
                gd,
                Method::GradCam,
                params.early_fraction,
            ))
        };
        let (Some(d_small), Some(d_large)) = (at(small), at(large)) else {
            continue;
        };
        let diffs = paired_differences(&d_small, &d_large);
        let Some(effect) = Effect::of(&diffs, params)? else {
            continue;
        };
        let (s_small, s_large) = (f64::from_bits(small), f64::from_bits(large));
        claims.push(
            effect
                .claim(
                    &params.claim_id(&format!("init_scale.{name}")),
                    &format!(
                        "{on}{label}'s extra Grad-CAM weak share over GD is larger at small init \
                         scale than at large (small init lengthens the minor phase)"
                    ),
                    &format!(
                        "per seed, primary Δ at s = {s_small} minus primary Δ at s = {s_large} \
                         (the same seed's network, rescaled)"
                    ),
                    effect.describe(),
                )
                .with_figure(&params.named(FIG_INIT)),
        );
    }
    // Negative control: the smallest ρ run of each SAM optimizer (mini-batch, reference scale).
    for (name, label, _) in &OPTIMIZERS[1..] {
        let smallest = rows
            .iter()
            .filter(|r| {
                r.optimizer == *name
                    && r.method == Method::GradCam
                    && r.mode == MINI
                    && r.init_scale == reference
            })
            .min_by(|a, b| a.rho.total_cmp(&b.rho));
        let Some(row) = smallest else { continue };
        if row.rho >= params.primary_rho(name) {
            continue;
        }
        let m = params.control_margin;
        let interval = row.effect.interval;
        claims.push(
            Claim::verdict(
                &params.claim_id(&format!("control.rho_to_0.{name}")),
                SECTION,
                &format!(
                    "{on}negative control: at ρ → 0 {label} is GD, so the primary statistic \
                     vanishes"
                ),
                &format!(
                    "the primary statistic at the smallest ρ run, ρ = {} (init scale {reference})",
                    row.rho
                ),
                &format!("passes iff both CI ends lie within ±{m} of 0"),
                row.effect.describe(),
                interval.lo >= -m && interval.hi <= m,
            )
            .check()
            .with_figure(&params.named(FIG_RHO)),
        );
    }
    // Every cell learns the task.
    let mut worst: Option<(f64, String)> = None;
    for ((mode, optimizer, rho, scale), list) in groups {
        let mean = final_test_accuracy(list).0;
        let cell = format!(
            "{mode} {} ρ = {} s = {}",
            optimizer_label(optimizer),
            f64::from_bits(*rho),
            f64::from_bits(*scale)
        );
        if worst
            .as_ref()
            .is_none_or(|(w, _)| mean < *w || mean.is_nan())
        {
            worst = Some((mean, cell));
        }
    }
    if let Some((mean, cell)) = worst {
        claims.push(
            Claim::verdict(
                &params.claim_id("test_accuracy"),
                SECTION,
                &format!(
                    "{on}the CNN learns the task in every cell (final test accuracies in the table)"
                ),
                "mean over seeds of the final test accuracy, per (training, optimizer, ρ, init \
                 scale) cell",
                &format!("passes iff every cell's mean ≥ {}", params.min_test_acc),
                format!("lowest cell: {cell}, {mean:.4}"),
                mean >= params.min_test_acc,
            )
            .check()
            .with_figure(&params.named(FIG_CURVES)),
        );
    }
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

    fn run(optimizer: &str, seed: i64, weak: Vec<f64>) -> Run {
        Run {
            task: "4 vs 9".into(),
            optimizer: optimizer.into(),
            rho: if optimizer == "gd" { 0.0 } else { 0.05 },
            mode: MINI,
            init_scale: 1.0,
            seed,
            total_steps: 40,
            steps: vec![0, 5, 10, 20, 40],
            train_loss: vec![0.7; 5],
            test_acc: vec![0.5, 0.8, 0.9, 0.95, 0.97],
            weak: [weak.clone(), weak.clone(), weak.clone(), weak],
            massless: [vec![0.0; 5], vec![0.0; 5], vec![0.0; 5], vec![0.0; 5]],
            n_test: 10.0,
            chance: 0.8,
            targets: Vec::new(),
            maps: Vec::new(),
            images: Vec::new(),
        }
    }

    #[test]
    fn the_primary_statistic_is_the_early_mean_of_the_paired_difference() {
        // early_fraction 0.25 of 40 steps: checkpoints 5 and 10 (step 0 excluded, 20 > 10).
        let gd = [
            run("gd", 0, vec![0.5, 0.4, 0.3, 0.2, 0.1]),
            run("gd", 1, vec![0.5, 0.5, 0.5, 0.5, 0.5]),
        ];
        let sam = [
            run("sam-l2", 1, vec![0.5, 0.6, 0.7, 0.0, 0.0]),
            run("sam-l2", 0, vec![0.5, 0.5, 0.5, 0.9, 0.9]),
        ];
        assert_eq!(gd[0].early(0.25), vec![1, 2]);
        let effects = seed_effects(
            &sam.iter().collect::<Vec<_>>(),
            &gd.iter().collect::<Vec<_>>(),
            Method::GradCam,
            0.25,
        );
        // Seed 1: (0.6 + 0.7)/2 − 0.5 = 0.15; seed 0: 0.5 − (0.4 + 0.3)/2 = 0.15.
        assert_eq!(effects.len(), 2);
        for (seed, d) in effects {
            assert!((d - 0.15).abs() < 1e-12, "seed {seed}: {d}");
        }
    }

    fn params() -> Params {
        Params {
            variant: String::new(),
            early_fraction: 0.25,
            rho_l2: 0.05,
            rho_linf: 0.001,
            ref_init_scale: 1.0,
            level: 0.95,
            resamples: 2000,
            bootstrap_seed: 1,
            control_margin: 0.01,
            grid_images: 0,
            min_test_acc: 0.9,
        }
    }

    #[test]
    fn effects_decide_three_ways() {
        let p = params();
        let up = Effect::of(&[0.02, 0.03, 0.01, 0.04, 0.02, 0.03], &p)
            .unwrap()
            .unwrap();
        assert_eq!(up.verdict_word(), "reproduced");
        // All six of one sign: exact two-sided signed-rank p = 2 / 2⁶.
        assert!((up.p.unwrap() - 2.0 / 64.0).abs() < 1e-12);
        let down = Effect::of(&[-0.02, -0.03, -0.01, -0.04], &p)
            .unwrap()
            .unwrap();
        assert_eq!(down.verdict_word(), "contradicted");
        let noise = Effect::of(&[0.05, -0.04, 0.03, -0.05, 0.01, -0.02], &p)
            .unwrap()
            .unwrap();
        assert_eq!(noise.verdict_word(), "inconclusive");
        let claim = noise.claim("x", "s", "m", noise.describe());
        assert_eq!(claim.outcome(), crate::claims::Verdict::Inconclusive);
        // Identical optimizers: every difference 0, the CI is the point 0, no signed-rank p.
        let zero = Effect::of(&[0.0; 5], &p).unwrap().unwrap();
        assert_eq!(
            (zero.interval.lo, zero.interval.hi, zero.p),
            (0.0, 0.0, None)
        );
        assert_eq!(zero.verdict_word(), "inconclusive");
        assert!(Effect::of(&[], &p).unwrap().is_none());
    }
}
