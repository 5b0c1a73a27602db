//! Measures a rendered report as a reader's browser meets it: the page's size, its inline figures,
//! and — in headless Chromium — the time from navigation start to first contentful paint and to the
//! end of the load event, read from Chromium's own trace (`firstContentfulPaint`, `loadEventEnd`).
//!
//! `cargo run --release -p report --example page_bench -- [--runs N] PAGE.html [PAGE.html …]`
//! (default `reports/index.html`, 5 runs). Prints figures; asserts nothing. Needs `/usr/bin/chromium`
//! (or `CHROMIUM=path`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use serde_json::Value;

fn main() -> ExitCode {
    let mut runs = 5usize;
    let mut pages: Vec<PathBuf> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--runs" {
            match args.next().and_then(|n| n.parse().ok()) {
                Some(n) if n > 0 => runs = n,
                _ => {
                    eprintln!("error: --runs takes a positive integer");
                    return ExitCode::from(2);
                }
            }
        } else {
            pages.push(PathBuf::from(arg));
        }
    }
    if pages.is_empty() {
        pages.push(PathBuf::from("reports/index.html"));
    }
    let chromium = std::env::var_os("CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    for page in &pages {
        if let Err(error) = bench(&chromium, page, runs) {
            eprintln!("error: {}: {error}", page.display());
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

fn bench(chromium: &Path, page: &Path, runs: usize) -> Result<(), String> {
    let html = std::fs::read_to_string(page).map_err(|e| format!("cannot read: {e}"))?;
    let svgs = inline_svg_sizes(&html);
    let svg_bytes: usize = svgs.iter().sum();
    println!("page {}", page.display());
    println!(
        "  size                 {:>10} bytes ({:.2} MB)",
        html.len(),
        html.len() as f64 / 1e6
    );
    println!(
        "  inline figures       {:>10} ({} bytes, {:.0}% of the page; largest {} bytes)",
        svgs.len(),
        svg_bytes,
        100.0 * svg_bytes as f64 / html.len().max(1) as f64,
        svgs.iter().max().copied().unwrap_or(0)
    );
    println!(
        "  svg elements         {:>10} (polyline {}, rect {}, text {}, line {})",
        html.matches("<polyline").count()
            + html.matches("<rect").count()
            + html.matches("<text").count()
            + html.matches("<line").count()
            + html.matches("<circle").count()
            + html.matches("<polygon").count(),
        html.matches("<polyline").count(),
        html.matches("<rect").count(),
        html.matches("<text").count(),
        html.matches("<line").count()
    );
    let url = format!(
        "file://{}",
        std::fs::canonicalize(page)
            .map_err(|e| format!("cannot resolve: {e}"))?
            .display()
    );
    let mut paints = Vec::new();
    let mut loads = Vec::new();
    for _ in 0..runs {
        let (paint, load) = one_run(chromium, &url)?;
        paints.push(paint);
        loads.push(load);
    }
    println!(
        "  first contentful paint {:>8.1} ms median ({} runs: {})",
        median(&mut paints.clone()),
        runs,
        list(&paints)
    );
    println!(
        "  load event end       {:>8.1} ms median ({})",
        median(&mut loads.clone()),
        list(&loads)
    );
    Ok(())
}

/// Byte lengths of the page's top-level `<svg>…</svg>` elements, leaving out the first screen's
/// thumbnails (a `<use>` of a figure each, not figures of their own).
fn inline_svg_sizes(html: &str) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<svg") {
        let Some(end) = rest[start..].find("</svg>") else {
            break;
        };
        if !rest[start..].starts_with("<svg class=\"thumb\"") {
            sizes.push(end + "</svg>".len());
        }
        rest = &rest[start + end + "</svg>".len()..];
    }
    sizes
}

/// One cold headless load at 1280×800 with a fresh profile: milliseconds from navigation start to
/// first contentful paint and to the end of the load event.
fn one_run(chromium: &Path, url: &str) -> Result<(f64, f64), String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let trace = dir.path().join("trace.json");
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,800",
            "--trace-startup=loading,blink.user_timing",
            "--trace-startup-format=json",
            "--trace-startup-duration=8",
        ])
        .arg(format!("--trace-startup-file={}", trace.display()))
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!(
            "--screenshot={}",
            dir.path().join("shot.png").display()
        ))
        .arg(url)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", chromium.display()))?;
    if !output.status.success() {
        return Err(format!(
            "chromium failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let text = std::fs::read_to_string(&trace).map_err(|e| format!("no trace: {e}"))?;
    let json: Value = serde_json::from_str(&text).map_err(|e| format!("trace is not JSON: {e}"))?;
    let events = json
        .get("traceEvents")
        .and_then(Value::as_array)
        .or_else(|| json.as_array())
        .ok_or("trace has no events")?;
    let name = |event: &Value| {
        event
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let ts = |event: &Value| event.get("ts").and_then(Value::as_f64);
    let navigation_id = |event: &Value| {
        event
            .pointer("/args/data/navigationId")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let start = events
        .iter()
        .find(|event| {
            name(event) == "navigationStart"
                && event
                    .pointer("/args/data/documentLoaderURL")
                    .and_then(Value::as_str)
                    == Some(url)
        })
        .ok_or("no navigationStart for the page in the trace")?;
    let (start_ts, id) = (
        ts(start).ok_or("navigationStart without ts")?,
        navigation_id(start).ok_or("navigationStart without id")?,
    );
    let frame = start.pointer("/args/frame").and_then(Value::as_str);
    let paint = events
        .iter()
        .filter(|event| {
            name(event) == "firstContentfulPaint" && navigation_id(event).as_deref() == Some(&id)
        })
        .filter_map(ts)
        .fold(f64::INFINITY, f64::min);
    let load = events
        .iter()
        .filter(|event| {
            name(event) == "loadEventEnd"
                && event.pointer("/args/frame").and_then(Value::as_str) == frame
                && ts(event).is_some_and(|t| t >= start_ts)
        })
        .filter_map(ts)
        .fold(f64::INFINITY, f64::min);
    if !paint.is_finite() {
        return Err("no firstContentfulPaint for the page in the trace".into());
    }
    Ok(((paint - start_ts) / 1000.0, (load - start_ts) / 1000.0))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn list(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| format!("{v:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}
