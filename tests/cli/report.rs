//! The HTML report through the real binary: a small §3 pipeline renders `reports/index.html` with
//! its claims ledger, every file the page references exists, `verify` accepts it, the same store
//! renders the same bytes, a re-run recomputes nothing, and a real headless browser opens the page
//! without console errors.
//!
//! The browser test needs Debian's `chromium` at `/usr/bin/chromium` (`.ci/run` installs it). Where
//! it cannot be installed, `MINORFIRST_SKIP_BROWSER=1` turns that one test into a printed notice.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::run_in;

/// β-plane runs for μ = (1, 2) at depths 1 and 2 (two optimizers, two inits, ρ = 0.1, rescaled
/// clock stopped at ‖β‖ = 1.2), the `sec3.plane` aggregator with its two claims (Thm 3.1
/// parallelism at depth 1, Cor 3.5 gating at depth 2), a ledger and the report: well under a
/// second of compute, yet every stage kind the page needs.
const SMALL_PIPELINE: &str = r#"
[pipeline]
store = ".minorfirst/store"
reports = "reports"

[stage.mu]
kind = "data.single"
mu = [1.0, 2.0]

[stage.runs]
kind = "train.discrete"
deps = ["mu"]
depth = [1, 2]
optimizer = ["gd", "sam-linf"]
rho = 0.1
alpha = [[0.3, 0.2], [0.15, 0.05]]
clock = "rescaled"
lr = 0.002
t_end = 6.0
per_decade = 50
beta_cap = 1.2

[stage.plane]
kind = "sec3.plane"
deps = ["runs"]
extent = 1.0

[stage.plane.rules]
single_parallel = { threshold = 1e-10, reason = "rounding only" }
gating = { reason = "exact agreement for every init" }
gd_closed_form = { reason = "the a-priori Euler bound" }
l2_c_ode_window = { threshold = 0.95, reason = "chatter near the origin" }
l2_c_ode_collapse = { threshold = 1e-2, reason = "B5.6's criterion" }

[stage.ledger]
kind = "claims.ledger"
deps = ["plane"]
table = "claims_small"

[stage.report]
kind = "report.html"
deps = ["ledger", "plane"]
"#;

const RUN_INFO_BEGIN: &str = "<!-- run-info:begin -->";
const RUN_INFO_END: &str = "<!-- run-info:end -->";

/// A temp project holding [`SMALL_PIPELINE`].
fn small_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("pipeline.toml"), SMALL_PIPELINE).expect("write pipeline.toml");
    dir
}

/// Runs `minorfirst args` in `dir`, requires exit 0 and returns stderr (where `run` reports).
fn ok(dir: &Path, args: &[&str]) -> String {
    let output = run_in(dir, args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "minorfirst {args:?} exited with {:?}:\n{stderr}",
        output.status.code()
    );
    stderr
}

/// The line of `text` starting with `prefix`.
fn line_starting<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{text}"))
}

/// The page without its one non-deterministic block (timings and timestamps); the markers are
/// those of `report::RUN_INFO_BEGIN`/`END`, repeated here because the binary's tests only see
/// the binary.
pub(crate) fn strip_run_info(html: &str) -> String {
    match html.find(RUN_INFO_BEGIN) {
        Some(begin) => {
            let end = html[begin..]
                .find(RUN_INFO_END)
                .map(|at| begin + at + RUN_INFO_END.len())
                .expect("run-info block is closed");
            format!("{}{}", &html[..begin], &html[end..])
        }
        None => html.to_owned(),
    }
}

/// Values of every `name="…"` attribute in `html`.
fn attribute_values<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let needle = format!(" {name}=\"");
    html.match_indices(&needle)
        .map(|(at, _)| {
            let rest = &html[at + needle.len()..];
            &rest[..rest.find('"').expect("attribute value is closed")]
        })
        .collect()
}

fn page(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("reports/index.html")).expect("reports/index.html exists")
}

#[test]
fn run_renders_the_ledger_every_referenced_file_exists_and_verify_passes() {
    let project = small_project();
    let stderr = ok(project.path(), &["run"]);
    assert_eq!(
        line_starting(&stderr, "report: "),
        "report: reports/index.html"
    );
    let summary = line_starting(&stderr, "claims: ");
    assert!(summary.ends_with(" passed, 0 failed"), "{summary}");
    assert_ne!(
        summary, "claims: 0 passed, 0 failed",
        "the pipeline has claims"
    );

    let html = page(project.path());
    assert!(html.contains("<section class=\"ledger\" id=\"claims\">"));
    assert!(html.contains("<table class=\"ledger\">"));
    // The page states the same summary as the command line.
    assert!(
        html.contains(&format!("<strong>{summary}</strong>")),
        "{summary}"
    );
    assert!(html.contains("id=\"claim-s3.depth1.single_parallel\""));
    assert!(html.contains("<svg"), "figures are inlined");

    // Every local reference resolves inside reports/; nothing is fetched from the network.
    let reports = project.path().join("reports");
    let mut files = 0;
    for reference in attribute_values(&html, "href")
        .into_iter()
        .chain(attribute_values(&html, "src"))
        .filter(|reference| !reference.starts_with('#'))
    {
        assert!(
            !reference.contains("://") && !reference.starts_with('/'),
            "non-local reference {reference}"
        );
        assert!(
            reports.join(reference).is_file(),
            "the page references {reference}, which does not exist"
        );
        files += 1;
    }
    for figure in ["figures/s3-plane-l1.png", "figures/s3-plane-l2.png"] {
        assert!(html.contains(&format!("href=\"{figure}\"")), "{figure}");
    }
    // Two PNGs plus the CSV and Parquet downloads of the runs table.
    for table in ["tables/plane_runs.csv", "tables/plane_runs.parquet"] {
        assert!(html.contains(&format!("href=\"{table}\"")), "{table}");
    }
    assert!(files >= 4, "only {files} local references");

    let verify = run_in(project.path(), &["verify"]);
    assert_eq!(
        verify.status.code(),
        Some(0),
        "verify: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
}

#[test]
fn the_same_store_renders_a_byte_identical_page() {
    let project = small_project();
    ok(project.path(), &["run"]);
    let first = strip_run_info(&page(project.path()));

    std::fs::remove_file(project.path().join("reports/index.html")).unwrap();
    ok(project.path(), &["run"]);
    assert!(
        first == strip_run_info(&page(project.path())),
        "the page changed when re-published from the same store"
    );

    // A fresh store recomputes every task and must still render the same bytes.
    let fresh = small_project();
    ok(fresh.path(), &["run"]);
    assert!(
        first == strip_run_info(&page(fresh.path())),
        "a recomputed store rendered a different page"
    );
}

#[test]
fn rerunning_an_unchanged_pipeline_recomputes_nothing() {
    let project = small_project();
    let cold = ok(project.path(), &["run"]);
    assert!(
        line_starting(&cold, "tasks: ").contains(" 0 cached"),
        "{cold}"
    );
    let warm = ok(project.path(), &["run"]);
    let tasks = line_starting(&warm, "tasks: ");
    assert!(tasks.contains(" 0 executed"), "{tasks}");
    assert!(tasks.ends_with(" 0 failed"), "{tasks}");
}

const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs headless chromium on `page` with `extra` arguments and a throwaway profile, in a window
/// 1280 px wide and 2000 px tall.
fn chromium(page: &Path, profile: &Path, extra: &[&str]) -> Output {
    chromium_sized(page, profile, "1280,2000", extra)
}

/// [`chromium`] in a window of `size` (`W,H`).
fn chromium_sized(page: &Path, profile: &Path, size: &str, extra: &[&str]) -> Output {
    Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--window-size={size}"))
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("spawn chromium")
}

/// Whether the browser tests can run: chromium is installed, or the skip is asked for explicitly
/// (then a notice is printed and the caller returns).
fn browser_available() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    if std::env::var_os("MINORFIRST_SKIP_BROWSER").is_some_and(|v| v == "1") {
        eprintln!("notice: {CHROMIUM} missing and MINORFIRST_SKIP_BROWSER=1: browser test skipped");
        return false;
    }
    panic!(
        "{CHROMIUM} is missing: install it (`apt-get install -y chromium`, as .ci/run does) \
         or set MINORFIRST_SKIP_BROWSER=1 to skip this test"
    );
}

/// The results of the paper the first screen must list, in order: the paper's theorems, its
/// experiments and each reviewer question (issue #17).
const PAPER_RESULTS: &[&str] = &[
    "depth1",
    "linf-regimes",
    "linf-limit",
    "l2limit",
    "sequential",
    "initscale",
    "flows",
    "multisample",
    "mnist-cnn",
    "mnist-diag",
    "rq-gd",
    "rq-loss",
    "rq-depth3",
    "rq-comparable",
    "rq-normalisation",
    "rq-time",
];

/// Measures, in a real browser, where each first-screen verdict lands: a copy of the page beside
/// it (so its relative links still resolve) gets a script that writes every result row's id, the
/// box of its verdict cell and the cell's text into the DOM, which `--dump-dom` prints. The page
/// itself has no script; only this probe does.
const LAYOUT_PROBE: &str = r#"<script>
(function () {
  var lines = ['viewport ' + window.innerWidth + ' ' + window.innerHeight];
  document.querySelectorAll('table.results tbody tr').forEach(function (row) {
    var cell = row.querySelector('td.verdict-col');
    var box = cell.getBoundingClientRect();
    lines.push([row.id, Math.ceil(box.bottom), Math.ceil(box.right), cell.textContent.trim()].join('|'));
  });
  var pre = document.createElement('pre');
  pre.id = 'layout-probe';
  pre.textContent = lines.join('\n');
  document.body.appendChild(pre);
})();
</script>"#;

#[test]
fn the_first_screen_shows_every_paper_result_with_a_verdict_in_a_1280_by_800_window() {
    if !browser_available() {
        return;
    }
    let project = small_project();
    ok(project.path(), &["run"]);
    let html = page(project.path());
    let probe = project.path().join("reports/layout-probe.html");
    std::fs::write(
        &probe,
        html.replacen("</body>", &format!("{LAYOUT_PROBE}\n</body>"), 1),
    )
    .unwrap();
    let profile = tempfile::tempdir().expect("profile dir");
    let dump = chromium_sized(&probe, profile.path(), "1280,800", &["--dump-dom"]);
    assert!(
        dump.status.success(),
        "chromium --dump-dom failed: {dump:?}"
    );
    let dom = String::from_utf8_lossy(&dump.stdout);
    let marker = "<pre id=\"layout-probe\">";
    let start = dom.find(marker).expect("the probe ran") + marker.len();
    let report = &dom[start..start + dom[start..].find("</pre>").unwrap()];
    let mut lines = report.lines();
    let viewport: Vec<f64> = lines
        .next()
        .and_then(|line| line.strip_prefix("viewport "))
        .expect("viewport line")
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect();
    // Headless chromium's --dump-dom window keeps room for browser chrome (657 px of 800 were
    // left for the page here), so the height is checked against 800 px below instead: nothing
    // on the first screen depends on the viewport's height, only on its width.
    assert_eq!(viewport[0], 1280.0, "the viewport width the test asks for");
    let rows: Vec<Vec<&str>> = lines.map(|line| line.splitn(4, '|').collect()).collect();
    let ids: Vec<&str> = rows.iter().map(|row| row[0]).collect();
    let expected: Vec<String> = PAPER_RESULTS
        .iter()
        .map(|id| format!("result-{id}"))
        .collect();
    // This small pipeline claims only §3 plane results: every other evidence is absent, which the
    // page must say rather than hide, so every result still has a row.
    assert_eq!(ids, expected, "one row per result of the paper, in order");
    for row in &rows {
        let (bottom, right): (f64, f64) = (row[1].parse().unwrap(), row[2].parse().unwrap());
        assert!(
            bottom <= 800.0 && right <= 1280.0,
            "the verdict of {} ends at ({right}, {bottom}), outside the 1280×800 window",
            row[0]
        );
        let verdict = row[3];
        assert!(
            [
                "✓ reproduced",
                "? inconclusive",
                "✗ contradicted",
                "– no evidence"
            ]
            .iter()
            .any(|word| verdict.starts_with(word)),
            "{}: no verdict in {verdict:?}",
            row[0]
        );
    }
    // The plane claims decide these two; results without claims here say so.
    let verdict_of = |id: &str| rows.iter().find(|row| row[0] == id).unwrap()[3];
    assert!(verdict_of("result-depth1").starts_with("✓ reproduced"));
    assert!(verdict_of("result-linf-limit").starts_with("✓ reproduced"));
    assert!(verdict_of("result-mnist-cnn").starts_with("– no evidence"));
}

#[test]
fn a_headless_browser_opens_the_page_without_console_errors() {
    if !browser_available() {
        return;
    }
    let project = small_project();
    ok(project.path(), &["run"]);
    let index: PathBuf = project.path().join("reports/index.html");
    let profile = tempfile::tempdir().expect("profile dir");

    let dump = chromium(
        &index,
        profile.path(),
        &["--enable-logging=stderr", "--v=0", "--dump-dom"],
    );
    assert!(
        dump.status.success(),
        "chromium --dump-dom failed: {dump:?}"
    );
    let dom = String::from_utf8_lossy(&dump.stdout);
    assert!(dom.contains("id=\"claims\""), "no ledger in the DOM");
    assert!(
        dom.contains("<table class=\"ledger\">"),
        "no ledger table in the DOM"
    );
    assert!(dom.contains("claim-s3.depth1.single_parallel"));
    // Chromium logs console messages and uncaught exceptions as INFO:CONSOLE lines; the rest of
    // its stderr is D-Bus noise from the sandboxed container.
    let log = String::from_utf8_lossy(&dump.stderr);
    let console: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("CONSOLE") || line.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "console output: {console:#?}");

    let screenshot = profile.path().join("report.png");
    let shot = chromium(
        &index,
        profile.path(),
        &[&format!("--screenshot={}", screenshot.display())],
    );
    assert!(
        shot.status.success(),
        "chromium --screenshot failed: {shot:?}"
    );
    let png = std::fs::read(&screenshot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    // A blank 1280×2000 PNG compresses to a few kB; the rendered ledger and figures do not.
    assert!(
        png.len() > 20_000,
        "suspiciously small screenshot: {} bytes",
        png.len()
    );
}
