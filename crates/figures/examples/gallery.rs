//! Writes sample figures of every type to the directory given as the first argument or in
//! `FIGURES_GALLERY_DIR` (default `target/figures-gallery`), so the look can be checked by eye:
//! `cargo run -p figures --example gallery --release -- OUTDIR`.

use std::path::{Path, PathBuf};

use figures::{
    Band, FigureError, LineChart, PanelGrid, RefLine, Scale, Series, render_line_chart,
    render_panel_grid,
};

/// Softmax-like sequential amplification: coordinate j peaks around τ ≈ 2^j.
fn coordinate_curves(d: usize, shift: f64) -> Vec<Vec<(f64, f64)>> {
    let taus: Vec<f64> = (0..=200)
        .map(|i| 10f64.powf(-1.0 + 4.0 * f64::from(i) / 200.0))
        .collect();
    let mut curves = vec![Vec::new(); d];
    for &tau in &taus {
        let weights: Vec<f64> = (0..d)
            .map(|j| (-(tau.log2() - 2.0 * j as f64 - shift).powi(2) / 3.0).exp() + 1e-3)
            .collect();
        let norm = weights.iter().map(|w| w * w).sum::<f64>().sqrt();
        for (j, w) in weights.iter().enumerate() {
            curves[j].push((tau, w / norm));
        }
    }
    curves
}

fn sequential_chart(title: &str, shift: f64) -> LineChart {
    let curves = coordinate_curves(5, shift);
    let mut series = Vec::new();
    for (j, curve) in curves.iter().enumerate() {
        series.push(Series::new(format!("β{j}/‖β‖"), curve.clone(), j));
    }
    for (j, curve) in curves.iter().enumerate() {
        let predicted: Vec<(f64, f64)> = curve
            .iter()
            .step_by(10)
            .map(|&(t, v)| (t, v * 0.97))
            .collect();
        let mut s =
            Series::new(if j == 0 { "C-ODE prediction" } else { "" }, predicted, j).dashed();
        s.style.color_index = j;
        series.push(s);
    }
    LineChart {
        title: title.to_string(),
        x_label: "rescaled time τ".into(),
        y_label: "β_j / ‖β‖₂".into(),
        x_scale: Scale::Log10,
        series,
        vlines: (1..5)
            .map(|k| {
                RefLine::new(
                    2f64.powf(2.0 * k as f64 - 1.0 + shift),
                    format!("τ{k} pred."),
                )
            })
            .collect(),
        hlines: vec![RefLine::new(0.5, "ĉ = 1/(μ₁+μ₂)")],
        ..LineChart::default()
    }
}

fn main() -> Result<(), FigureError> {
    // The first argument wins, then FIGURES_GALLERY_DIR, then a default under target/.
    let out: PathBuf = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("FIGURES_GALLERY_DIR").ok())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/figures-gallery"));
    let stem = |name: &str| -> PathBuf { out.join(name) };

    render_line_chart(
        &sequential_chart("Sequential feature amplification, ℓ2-SAM, μ = 1…5", 0.0),
        &stem("1_line_sequential"),
    )?;

    let gd = LineChart {
        title: "GD".into(),
        x_label: "rescaled time τ".into(),
        y_label: "β_j / ‖β‖₂".into(),
        x_scale: Scale::Log10,
        series: (0..5)
            .map(|j| {
                let pts = (0..=100)
                    .map(|i| {
                        let t = 10f64.powf(-1.0 + 4.0 * f64::from(i) / 100.0);
                        (t, (j as f64 + 1.0) / 7.416 * (1.0 - (-t).exp()) + 0.01)
                    })
                    .collect();
                Series::new(format!("β{j}/‖β‖"), pts, j)
            })
            .collect(),
        ..LineChart::default()
    };
    let grid = PanelGrid {
        title: "GD vs ℓ2-SAM (L = 2, α = 0.4, ρ = 1)".into(),
        rows: 1,
        cols: 2,
        panels: vec![gd, sequential_chart("ℓ2-SAM", 0.0)],
        share_y: true,
        ..PanelGrid::default()
    };
    render_panel_grid(&grid, &stem("2_panel_gd_sam"))?;

    // Depth comparison: ℓ∞-SAM coordinates at L = 2, 3, 4 on a log y axis with ρ^L references.
    let depth_panels = (2..=4)
        .map(|depth| {
            let rho: f64 = 0.1;
            let series = [(0.05, "α < ρ", 0), (0.1, "α = ρ", 1), (0.2, "α > ρ", 2)]
                .iter()
                .map(|&(alpha, name, color)| {
                    let points = (0..=200)
                        .map(|i| {
                            let t = 50.0 * f64::from(i) / 200.0;
                            let beta: f64 = (alpha - rho) * (-0.05 * t * f64::from(depth)).exp()
                                + rho.powi(depth) * (1.0 + t).ln();
                            (t, beta.abs())
                        })
                        .collect();
                    Series::new(name, points, color)
                })
                .collect();
            LineChart {
                title: format!("L = {depth}"),
                x_label: "rescaled time τ".into(),
                y_label: "|β_j|".into(),
                y_scale: Scale::Log10,
                series,
                hlines: vec![RefLine::new(0.1f64.powi(depth), format!("ρ^{depth}"))],
                ..LineChart::default()
            }
        })
        .collect();
    let depth_grid = PanelGrid {
        title: "ℓ∞-SAM per-coordinate regimes, ρ = 0.1".into(),
        rows: 1,
        cols: 3,
        panels: depth_panels,
        share_y: true,
        ..PanelGrid::default()
    };
    render_panel_grid(&depth_grid, &stem("2b_panel_depths"))?;

    let x: Vec<f64> = (0..60).map(|i| f64::from(i) * 50.0).collect();
    let band_chart = LineChart {
        title: "Grad-CAM mass on weak pixels (mean ± sd over 3 seeds)".into(),
        x_label: "training step".into(),
        y_label: "weak-pixel share".into(),
        bands: vec![
            Band {
                name: "SAM ± sd".into(),
                x: x.clone(),
                lo: x
                    .iter()
                    .map(|t| 0.5 - 0.2 * (-t / 800.0).exp() - 0.04)
                    .collect(),
                hi: x
                    .iter()
                    .map(|t| 0.5 - 0.2 * (-t / 800.0).exp() + 0.04)
                    .collect(),
                color_index: 1,
            },
            Band {
                name: "GD ± sd".into(),
                x: x.clone(),
                lo: x
                    .iter()
                    .map(|t| 0.3 - 0.1 * (-t / 500.0).exp() - 0.03)
                    .collect(),
                hi: x
                    .iter()
                    .map(|t| 0.3 - 0.1 * (-t / 500.0).exp() + 0.03)
                    .collect(),
                color_index: 0,
            },
        ],
        series: vec![
            Series::new(
                "SAM mean",
                x.iter()
                    .map(|&t| (t, 0.5 - 0.2 * (-t / 800.0).exp()))
                    .collect(),
                1,
            ),
            Series::new(
                "GD mean",
                x.iter()
                    .map(|&t| (t, 0.3 - 0.1 * (-t / 500.0).exp()))
                    .collect(),
                0,
            ),
        ],
        y_range: Some((0.0, 0.7)),
        ..LineChart::default()
    };
    render_line_chart(&band_chart, &stem("6_band"))?;
    more(&out)?;
    report(&out);
    Ok(())
}

fn report(out: &Path) {
    println!("gallery written to {}", out.display());
}

/// β-plane trajectories, a categorical phase diagram and a Grad-CAM-like image grid.
fn more(out: &Path) -> Result<(), FigureError> {
    use figures::{
        Class, GridImage, Heatmap, HeatmapCells, ImageGrid, MarkerKind, MarkerSet, Ray,
        Trajectories, TrajectoryPath, render_heatmap, render_image_grid, render_trajectories,
    };
    let spiral = |a: f64, b: f64, k: f64| -> Vec<(f64, f64)> {
        (0..=300)
            .map(|i| {
                let t = f64::from(i) / 300.0;
                (a + (1.0 - a) * t.powf(k) * 0.8, b + (2.0 - b) * t * 0.9)
            })
            .collect()
    };
    let traj = Trajectories {
        title: "β-plane trajectories, μ = (1, 2), L = 2".into(),
        x_label: "β₀".into(),
        y_label: "β₁".into(),
        paths: vec![
            TrajectoryPath {
                name: "GD".into(),
                points: spiral(0.15, 0.05, 1.0),
                color_index: 0,
                dashed: false,
            },
            TrajectoryPath {
                name: "ℓ∞-SAM".into(),
                points: spiral(0.15, 0.05, 3.0),
                color_index: 1,
                dashed: false,
            },
            TrajectoryPath {
                name: "ℓ2-SAM".into(),
                points: spiral(0.3, 0.2, 0.5),
                color_index: 2,
                dashed: false,
            },
            TrajectoryPath {
                name: "ℓ2-SAM flow".into(),
                points: spiral(0.3, 0.21, 0.5),
                color_index: 2,
                dashed: true,
            },
        ],
        rays: vec![
            Ray {
                label: "ℓ2 max-margin".into(),
                origin: (0.0, 0.0),
                direction: (1.0, 2.0),
            },
            Ray {
                label: "ℓ1 max-margin".into(),
                origin: (0.0, 0.0),
                direction: (0.0, 1.0),
            },
        ],
        equal_aspect: true,
        ..Trajectories::default()
    };
    render_trajectories(&traj, &out.join("3_trajectories"))?;

    let n = 25;
    let axis: Vec<f64> = (0..n)
        .map(|i| 0.1 + 2.9 * f64::from(i) / f64::from(n - 1))
        .collect();
    let values: Vec<Vec<i64>> = axis
        .iter()
        .map(|&a2| {
            axis.iter()
                .map(|&a1| {
                    if a1 <= 1.0 && a2 <= 1.0 {
                        -1
                    } else if (a1 - 1.0).max(0.0) > 2.0 * (a2 - 1.0).max(0.0) {
                        0
                    } else {
                        1
                    }
                })
                .collect()
        })
        .collect();
    let boundary: Vec<(f64, f64)> = (0..50)
        .map(|i| {
            let a1 = 1.0 + 2.0 * f64::from(i) / 49.0;
            (a1, 1.0 + (a1 - 1.0) / 2.0)
        })
        .collect();
    let disagreements: Vec<(f64, f64)> = (0..n as usize)
        .filter(|i| i % 6 == 0)
        .map(|i| (axis[i], axis[(i + 3) % n as usize]))
        .collect();
    let heat = Heatmap {
        title: "Limit direction, ℓ∞-SAM, L = 2, μ = (1, 2)".into(),
        x_label: "α₀ / ρ".into(),
        y_label: "α₁ / ρ".into(),
        x: axis.clone(),
        y: axis.clone(),
        cells: HeatmapCells::Categorical {
            values,
            classes: vec![
                Class {
                    value: -1,
                    name: "collapse (β → 0)".into(),
                    color_index: None,
                },
                Class {
                    value: 0,
                    name: "e₀ wins".into(),
                    color_index: Some(0),
                },
                Class {
                    value: 1,
                    name: "e₁ wins".into(),
                    color_index: Some(1),
                },
            ],
        },
        curves: vec![Series::new("predicted boundary", boundary, 6)],
        vlines: vec![RefLine::new(1.0, "α₀ = ρ")],
        hlines: vec![RefLine::new(1.0, "α₁ = ρ")],
        markers: vec![MarkerSet {
            name: "prediction disagrees".into(),
            kind: MarkerKind::Cross,
            points: disagreements,
            color_index: None,
        }],
        ..Heatmap::default()
    };
    render_heatmap(&heat, &out.join("4_heatmap_categorical"))?;

    let continuous = Heatmap {
        title: "|β₄| over (α/ρ, τ)".into(),
        x_label: "α / ρ".into(),
        y_label: "rescaled time τ".into(),
        x: axis.clone(),
        y: (0..30)
            .map(|i| 10f64.powf(-1.0 + 4.0 * f64::from(i) / 29.0))
            .collect(),
        y_scale: Scale::Log10,
        cells: HeatmapCells::Continuous {
            values: (0..30)
                .map(|i| {
                    axis.iter()
                        .map(|a| (a * f64::from(i + 1)).powf(1.5) * 1e-3)
                        .collect()
                })
                .collect(),
            scale: Scale::Log10,
            range: None,
            colormap: figures::Colormap::Viridis,
            label: "|β₄|".into(),
        },
        curves: vec![Series::new("a₄", vec![(1.0, 0.1), (1.5, 10.0), (2.5, 1000.0)], 6).dashed()],
        ..Heatmap::default()
    };
    render_heatmap(&continuous, &out.join("4b_heatmap_continuous"))?;

    let digit: Vec<f64> = (0..784)
        .map(|i| {
            let (r, c) = ((i / 28) as f64 - 13.5, (i % 28) as f64 - 13.5);
            let ring = (r.hypot(c) - 8.0).abs();
            if ring < 2.0 { 1.0 } else { 0.0 }
        })
        .collect();
    let mut images = Vec::new();
    for row in 0..3 {
        for col in 0..4 {
            let values = (0..784)
                .map(|i| {
                    let (r, c) = ((i / 28) as f64, (i % 28) as f64);
                    let cx = 6.0 + 5.0 * f64::from(col) + 2.0 * f64::from(row);
                    (-((r - 14.0).powi(2) + (c - cx).powi(2)) / 30.0).exp()
                })
                .collect();
            images.push(GridImage {
                width: 28,
                height: 28,
                values,
                underlay: Some(digit.clone()),
            });
        }
    }
    let grid = ImageGrid {
        title: "Grad-CAM over training (digit 0)".into(),
        row_labels: vec!["GD".into(), "ℓ2-SAM".into(), "ℓ∞-SAM".into()],
        col_labels: vec![
            "step 0".into(),
            "step 100".into(),
            "step 1000".into(),
            "final".into(),
        ],
        images,
        colorbar: Some("Grad-CAM".into()),
        ..ImageGrid::default()
    };
    render_image_grid(&grid, &out.join("5_image_grid"))?;
    Ok(())
}
