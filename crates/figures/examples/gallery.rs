//! Writes sample figures of every type to the directory given as the first argument
//! (default `target/figures-gallery`), so the look can be checked by eye.

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
    let out: PathBuf = std::env::args()
        .nth(1)
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
    report(&out);
    Ok(())
}

fn report(out: &Path) {
    println!("gallery written to {}", out.display());
}
