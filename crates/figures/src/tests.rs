//! Rendering tests over every figure type: files, dimensions, text, determinism, edge cases.

use std::path::Path;

use plotters::prelude::{BitMapBackend, IntoDrawingArea, WHITE};

use crate::render::Draw;
use crate::*;

/// Width and height from a PNG's IHDR chunk (bytes 16..24, big-endian), after checking the
/// signature, so the test does not need a PNG decoder.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).expect("png readable");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "png signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let word = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    (word(16), word(20))
}

fn svg_text(rendered: &Rendered) -> String {
    let text = std::fs::read_to_string(&rendered.svg).expect("svg readable");
    assert!(text.starts_with("<svg"), "svg root element");
    assert!(text.trim_end().ends_with("</svg>"), "svg is closed");
    text
}

fn check_files(rendered: &Rendered, needles: &[&str]) {
    let svg = svg_text(rendered);
    for needle in needles {
        assert!(svg.contains(needle), "svg lacks {needle:?}");
    }
    // The family is a shared class rule once compacted, an attribute where only one text uses it.
    assert!(
        svg.contains(r#"font-family:"DejaVu Sans""#)
            || svg.contains(r#"font-family="DejaVu Sans""#)
    );
    assert_eq!(png_size(&rendered.png), (rendered.width, rendered.height));
    let leftovers: Vec<_> = std::fs::read_dir(rendered.svg.parent().unwrap())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left behind");
}

fn sample_chart() -> LineChart {
    LineChart {
        title: "coordinate ratios".into(),
        x_label: "rescaled time τ".into(),
        y_label: "β_j / ‖β‖".into(),
        x_scale: Scale::Log10,
        series: vec![
            Series::new(
                "measured",
                (1..50)
                    .map(|i| (f64::from(i), 1.0 / f64::from(i)))
                    .collect(),
                0,
            ),
            Series::new("closed form", vec![(1.0, 1.0), (49.0, 1.0 / 49.0)], 0).dashed(),
            Series::new("markers", vec![(2.0, 0.5), (4.0, 0.25)], 2).with_markers(),
        ],
        bands: vec![Band {
            name: "spread".into(),
            x: vec![1.0, 10.0, 40.0],
            lo: vec![0.8, 0.05, 0.01],
            hi: vec![1.1, 0.15, 0.04],
            color_index: 0,
        }],
        vlines: vec![RefLine::new(5.0, "τ₁ predicted")],
        hlines: vec![RefLine::new(0.3, "ĉ = 1/(μ₁+μ₂)")],
        ..LineChart::default()
    }
}

#[test]
fn line_chart_writes_svg_and_png_with_text() {
    let dir = tempfile::tempdir().unwrap();
    let rendered = render_line_chart(&sample_chart(), &dir.path().join("nested/line")).unwrap();
    assert_eq!((rendered.width, rendered.height), (1200, 800));
    check_files(
        &rendered,
        &[
            "coordinate ratios",
            "rescaled time τ",
            "β_j / ‖β‖",
            "measured",
            "closed form",
            "spread",
            "τ₁ predicted",
            "10⁰",
            "10¹",
        ],
    );
}

#[test]
fn rendering_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let a = render_line_chart(&sample_chart(), &dir.path().join("a")).unwrap();
    let b = render_line_chart(&sample_chart(), &dir.path().join("b")).unwrap();
    assert_eq!(
        std::fs::read(&a.svg).unwrap(),
        std::fs::read(&b.svg).unwrap()
    );
    assert_eq!(
        std::fs::read(&a.png).unwrap(),
        std::fs::read(&b.png).unwrap()
    );
}

#[test]
fn log_axes_drop_zeros_and_negatives_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let chart = LineChart {
        title: "log with zeros".into(),
        x_scale: Scale::Log10,
        y_scale: Scale::Log10,
        series: vec![Series::new(
            "s",
            vec![
                (0.0, 1.0),
                (1.0, 0.0),
                (2.0, -3.0),
                (3.0, 1e-3),
                (f64::NAN, 2.0),
                (10.0, f64::INFINITY),
                (100.0, 10.0),
            ],
            0,
        )],
        vlines: vec![RefLine::new(0.0, "dropped")],
        ..LineChart::default()
    };
    let rendered = render_line_chart(&chart, &dir.path().join("log")).unwrap();
    let svg = svg_text(&rendered);
    assert!(
        svg.contains("10⁻³") || svg.contains("10⁻²"),
        "decade labels on y"
    );
    assert!(
        !svg.contains("dropped"),
        "a vline at 0 cannot sit on a log axis"
    );
}

#[test]
fn nothing_drawable_is_a_no_data_error() {
    let dir = tempfile::tempdir().unwrap();
    let only_zeros = LineChart {
        title: "zeros".into(),
        y_scale: Scale::Log10,
        series: vec![Series::new("z", vec![(1.0, 0.0), (2.0, 0.0)], 0)],
        ..LineChart::default()
    };
    let error = render_line_chart(&only_zeros, &dir.path().join("z")).unwrap_err();
    assert!(matches!(error, FigureError::NoData { .. }), "{error}");
    let empty = LineChart::default();
    assert!(matches!(
        render_line_chart(&empty, &dir.path().join("e")),
        Err(FigureError::NoData { .. })
    ));
    assert!(
        !dir.path().join("z.svg").exists(),
        "no partial output on error"
    );
}

#[test]
fn invalid_fixed_range_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut chart = sample_chart();
    chart.x_range = Some((0.0, 10.0));
    let error = render_line_chart(&chart, &dir.path().join("r")).unwrap_err();
    assert!(
        matches!(error, FigureError::InvalidRange { what: "x axis", .. }),
        "{error}"
    );
}

/// Counts non-white pixels in the top `rows` rows of a PNG-style RGB render.
fn dark_pixels_on_top(figure: &impl Draw, rows: usize) -> usize {
    crate::style::ensure_font().unwrap();
    let (width, height) = figure.size();
    let mut buffer = vec![0u8; (width * height * 3) as usize];
    {
        let area = BitMapBackend::with_buffer(&mut buffer, (width, height)).into_drawing_area();
        area.fill(&WHITE).unwrap();
        figure.draw(&area).unwrap();
        area.present().unwrap();
    }
    buffer[..rows * width as usize * 3]
        .chunks(3)
        .filter(|px| px.iter().any(|&c| c < 128))
        .count()
}

#[test]
fn embedded_font_draws_glyphs_in_the_bitmap() {
    let with_title = sample_chart();
    let mut without = sample_chart();
    without.title.clear();
    // The title band is the top ~35 px; without a title it holds only the plot frame's edge,
    // so glyph pixels must make a clear difference (a title has hundreds of inked pixels).
    let inked = dark_pixels_on_top(&with_title, 35);
    let blank = dark_pixels_on_top(&without, 12);
    assert!(inked > 300, "title glyphs drawn: {inked}");
    assert!(blank < 50, "no title, almost nothing on top: {blank}");
}

#[test]
fn panel_grid_shares_axes_and_names_panels() {
    let dir = tempfile::tempdir().unwrap();
    let mut left = sample_chart();
    left.title = "GD".into();
    let mut right = sample_chart();
    right.title = "ℓ2-SAM".into();
    right.series[0].points.push((1000.0, 1e-3));
    let grid = PanelGrid {
        title: "GD vs SAM".into(),
        rows: 1,
        cols: 2,
        panels: vec![left, right],
        share_x: true,
        ..PanelGrid::default()
    };
    let rendered = render_panel_grid(&grid, &dir.path().join("grid")).unwrap();
    let svg = svg_text(&rendered);
    for needle in ["GD vs SAM", "\nGD\n", "ℓ2-SAM"] {
        assert!(svg.contains(needle), "{needle}");
    }
    // Shared x: both panels reach 10³, so the label appears twice.
    assert_eq!(svg.matches("10³").count(), 2);
    check_files(&rendered, &[]);
    let too_many = PanelGrid {
        rows: 1,
        cols: 1,
        ..grid
    };
    assert!(matches!(
        render_panel_grid(&too_many, &dir.path().join("x")),
        Err(FigureError::Dimension { .. })
    ));
}

#[test]
fn trajectories_render_paths_and_rays() {
    let dir = tempfile::tempdir().unwrap();
    let figure = Trajectories {
        title: "β plane".into(),
        x_label: "β₀".into(),
        y_label: "β₁".into(),
        paths: vec![
            TrajectoryPath {
                name: "GD".into(),
                points: vec![(0.1, 0.1), (0.5, 1.0), (1.0, 2.0)],
                color_index: 0,
                dashed: false,
            },
            TrajectoryPath {
                name: "stuck".into(),
                points: vec![(0.2, 0.2)],
                color_index: 1,
                dashed: true,
            },
            TrajectoryPath {
                name: "empty".into(),
                points: vec![(f64::NAN, 1.0)],
                color_index: 2,
                dashed: false,
            },
        ],
        rays: vec![Ray {
            label: "ℓ2 max-margin".into(),
            origin: (0.0, 0.0),
            direction: (1.0, 2.0),
        }],
        equal_aspect: true,
        ..Trajectories::default()
    };
    let rendered = render_trajectories(&figure, &dir.path().join("traj")).unwrap();
    check_files(
        &rendered,
        &["β plane", "β₀", "β₁", "GD", "stuck", "ℓ2 max-margin"],
    );
}

fn phase_diagram() -> Heatmap {
    let axis: Vec<f64> = (0..25).map(|i| 0.1 + 0.1 * f64::from(i)).collect();
    Heatmap {
        title: "phase diagram".into(),
        x_label: "α₀ / ρ".into(),
        y_label: "α₁ / ρ".into(),
        x: axis.clone(),
        y: axis.clone(),
        cells: HeatmapCells::Categorical {
            values: (0..25)
                .map(|r| {
                    (0..25)
                        .map(|c| if r + c < 10 { -1 } else { (r > c) as i64 })
                        .collect()
                })
                .collect(),
            classes: vec![
                Class {
                    value: -1,
                    name: "collapse".into(),
                    color_index: None,
                },
                Class {
                    value: 0,
                    name: "e₀".into(),
                    color_index: Some(0),
                },
                Class {
                    value: 1,
                    name: "e₁".into(),
                    color_index: Some(1),
                },
            ],
        },
        curves: vec![Series::new("boundary", vec![(0.1, 0.1), (2.5, 2.5)], 6)],
        vlines: vec![RefLine::new(1.0, "α_c")],
        markers: vec![MarkerSet {
            name: "disagrees".into(),
            kind: MarkerKind::Cross,
            points: vec![(1.0, 1.0)],
            color_index: None,
        }],
        ..Heatmap::default()
    }
}

#[test]
fn categorical_heatmap_has_class_legend() {
    let dir = tempfile::tempdir().unwrap();
    let rendered = render_heatmap(&phase_diagram(), &dir.path().join("phase")).unwrap();
    check_files(
        &rendered,
        &[
            "phase diagram",
            "α₀ / ρ",
            "collapse",
            "e₀",
            "e₁",
            "boundary",
            "disagrees",
            "α_c",
        ],
    );
}

#[test]
fn continuous_log_heatmap_has_colorbar_and_tolerates_bad_cells() {
    let dir = tempfile::tempdir().unwrap();
    let figure = Heatmap {
        title: "magnitude".into(),
        x: vec![1.0, 2.0, 3.0],
        y: vec![0.1, 1.0, 10.0, 100.0],
        y_scale: Scale::Log10,
        cells: HeatmapCells::Continuous {
            values: vec![
                vec![1e-4, 1e-3, 0.0],
                vec![1e-2, f64::NAN, 1.0],
                vec![1e-1, 1.0, -1.0],
                vec![1.0, 10.0, 100.0],
            ],
            scale: Scale::Log10,
            range: None,
            colormap: Colormap::Viridis,
            label: "|β| (log)".into(),
        },
        ..Heatmap::default()
    };
    let rendered = render_heatmap(&figure, &dir.path().join("cont")).unwrap();
    check_files(&rendered, &["magnitude", "|β| (log)", "10⁻⁴", "10²"]);
}

#[test]
fn heatmap_dimension_mismatch_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut figure = phase_diagram();
    figure.x.pop();
    let error = render_heatmap(&figure, &dir.path().join("bad")).unwrap_err();
    assert!(
        matches!(
            error,
            FigureError::Dimension {
                expected: 24,
                got: 25,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn image_grid_renders_labels_and_checks_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let image = |shift: f64| GridImage {
        width: 28,
        height: 28,
        values: (0..784).map(|i| f64::from(i % 28) + shift).collect(),
        underlay: Some((0..784).map(|i| f64::from(i / 28) / 27.0).collect()),
    };
    let mut grid = ImageGrid {
        title: "Grad-CAM".into(),
        row_labels: vec!["GD".into(), "SAM".into(), "ℓ∞-SAM".into()],
        col_labels: (0..4).map(|c| format!("step {c}")).collect(),
        images: (0..12).map(|k| image(f64::from(k))).collect(),
        colorbar: Some("saliency".into()),
        ..ImageGrid::default()
    };
    let rendered = render_image_grid(&grid, &dir.path().join("cams")).unwrap();
    assert_eq!(rendered.width, 1200);
    check_files(
        &rendered,
        &["Grad-CAM", "GD", "ℓ∞-SAM", "step 3", "saliency"],
    );
    grid.images[3].values.pop();
    let error = render_image_grid(&grid, &dir.path().join("bad")).unwrap_err();
    assert!(matches!(error, FigureError::Dimension { .. }), "{error}");
}

#[test]
fn heatmap_draws_a_boundary_on_the_outer_cell_edge() {
    // The §3 phase grid: 41 ratios from 0.05 in steps of 0.0725, as decimal literals.
    let ratios: Vec<f64> = (0..41)
        .map(|k| {
            format!("{:.4}", 0.05 + 0.0725 * f64::from(k))
                .parse()
                .unwrap()
        })
        .collect();
    let spacing = (ratios[40] - ratios[0]) / 40.0;
    let (lo, hi) = (ratios[0] - 0.5 * spacing, ratios[40] + 0.5 * spacing);
    let mut figure = phase_diagram();
    figure.x.clone_from(&ratios);
    figure.y.clone_from(&ratios);
    figure.cells = HeatmapCells::Categorical {
        values: vec![vec![0; 41]; 41],
        classes: Vec::new(),
    };
    figure.vlines.clear();
    figure.markers.clear();
    // A solid curve in a colour nothing else in this figure uses, unnamed so no legend swatch
    // (itself a polyline) can stand in for it.
    let color = palette(2);
    figure.curves = vec![Series::new("", vec![(lo, 1.0), (hi, 1.0)], 2)];
    let dir = tempfile::tempdir().unwrap();
    let rendered = render_heatmap(&figure, &dir.path().join("edge")).unwrap();
    let stroke = format!("stroke=\"#{:02X}{:02X}{:02X}\"", color.0, color.1, color.2);
    let svg = svg_text(&rendered);
    assert!(
        svg.lines()
            .any(|line| line.contains("<polyline") && line.contains(&stroke)),
        "no {stroke} polyline in the svg"
    );
}
