//! Validation of the model, the embedded templates, rendering and the atomic write.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::error::ReportError;
use crate::model::{ClaimsSummary, ReportModel, RunInfo};
use crate::sanitize::sanitize_svg;
use crate::summary::{LedgerGroup, ResultsSummary, ledger_groups, summarize_results};

/// Marker opening the block of non-deterministic facts.
pub const RUN_INFO_BEGIN: &str = "<!-- run-info:begin -->";
/// Marker closing the block of non-deterministic facts.
pub const RUN_INFO_END: &str = "<!-- run-info:end -->";

/// The templates, compiled into the binary so that rendering needs no files beside it. Names end
/// in `.html`, which is what switches tera's autoescaping on.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("results.html", include_str!("../templates/results.html")),
    ("ledger.html", include_str!("../templates/ledger.html")),
    ("changes.html", include_str!("../templates/changes.html")),
    ("reseed.html", include_str!("../templates/reseed.html")),
    ("section.html", include_str!("../templates/section.html")),
    (
        "provenance.html",
        include_str!("../templates/provenance.html"),
    ),
];

/// Ids the templates themselves give to elements.
const PAGE_IDS: &[&str] = &[
    "top",
    "contents",
    "results",
    "claims",
    "changes",
    "reseed",
    "provenance",
    "run-info",
];

/// The template context: the model with sanitised SVGs, plus values the templates cannot compute
/// without locale-dependent number formatting.
#[derive(Serialize)]
struct View<'a> {
    model: ReportModel,
    summary: ClaimsSummary,
    /// `summary` as the CLI prints it.
    summary_line: String,
    has_failures: bool,
    /// Ids of figures wide enough (panel rows) to get a full row instead of sharing one.
    wide_figures: Vec<String>,
    /// The first screen: one row per result of the paper.
    results: ResultsSummary,
    /// Thumbnail geometry of the figures the first screen shows, by figure id.
    thumbnails: BTreeMap<String, Thumbnail>,
    /// The ledger grouped by section.
    groups: Vec<LedgerGroup>,
    run_info: Option<RunInfoView<'a>>,
}

/// A first-screen thumbnail: a `<use>` of the figure's inline SVG (id `svg-<figure>`), drawn
/// again at thumbnail size from the same bytes, so the page carries no second copy.
#[derive(Serialize)]
struct Thumbnail {
    /// Formatted here: tera would print `640.0`.
    width: String,
    height: String,
}

#[derive(Serialize)]
struct RunInfoView<'a> {
    started_at: &'a str,
    total_wall: String,
    stages: Vec<StageTimeView<'a>>,
}

#[derive(Serialize)]
struct StageTimeView<'a> {
    stage: &'a str,
    wall: String,
    cached: bool,
}

/// Renders the page. The same model always gives the same bytes; [`strip_run_info`] removes the
/// only part that is allowed to differ between runs.
///
/// Fails when an id is malformed or used twice, a claim points at a missing section or figure, a
/// link is not a relative path inside the reports directory, a key table is ragged, or an SVG
/// fails [`sanitize_svg`].
pub fn render(model: &ReportModel) -> Result<String, ReportError> {
    validate(model)?;
    let mut safe_model = model.clone();
    safe_model.run_info = None;
    let thumbnailed: Vec<&str> = model
        .results
        .iter()
        .filter_map(|result| result.figure.as_deref())
        .collect();
    let mut wide_figures = Vec::new();
    let mut thumbnails = BTreeMap::new();
    for section in &mut safe_model.sections {
        for figure in &mut section.figures {
            figure.svg = sanitize_svg(&figure.id, &figure.svg)?;
            let size = svg_size(&figure.svg);
            if size.is_some_and(|(width, height)| width / height >= WIDE_ASPECT) {
                wide_figures.push(figure.id.clone());
            }
            if thumbnailed.contains(&figure.id.as_str()) {
                // Validated ids are plain ASCII, safe inside the attribute.
                figure.svg =
                    figure
                        .svg
                        .replacen("<svg", &format!("<svg id=\"svg-{}\"", figure.id), 1);
                let (width, height) = size.unwrap_or((4.0, 3.0));
                thumbnails.insert(
                    figure.id.clone(),
                    Thumbnail {
                        width: width.to_string(),
                        height: height.to_string(),
                    },
                );
            }
        }
    }
    let view = View {
        results: summarize_results(model),
        groups: ledger_groups(model),
        thumbnails,
        model: safe_model,
        summary: model.claims_summary(),
        summary_line: model.claims_summary().to_string(),
        has_failures: model.claims_summary().has_failures(),
        wide_figures,
        run_info: model.run_info.as_ref().map(run_info_view),
    };
    let mut tera = tera::Tera::new();
    tera.register_filter(
        "breakable_id",
        |id: &str, kwargs: tera::Kwargs, _: &tera::State| -> tera::TeraResult<tera::Value> {
            let after = kwargs.get::<&str>("after")?.unwrap_or(".");
            Ok(tera::Value::safe_string(&breakable_id(id, after)))
        },
    );
    tera.add_raw_templates(TEMPLATES.iter().copied())?;
    let context = tera::Context::from_serialize(&view)?;
    Ok(tera.render("base.html", &context)?)
}

/// Renders the page and writes it to `path` atomically (a temporary file in the same directory,
/// synced, then renamed), so a reader never sees half a page.
pub fn write(model: &ReportModel, path: &Path) -> Result<(), ReportError> {
    let html = render(model)?;
    let io_error = |source| ReportError::Io {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(io_error)?;
    if path.file_name().is_none() {
        return Err(io_error(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path has no file name",
        )));
    }
    atomicfile::write(path, html.as_bytes(), atomicfile::Durability::File).map_err(io_error)
}

/// Removes every run-info block (markers included), leaving what must be byte-identical between
/// two renders of the same store.
pub fn strip_run_info(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(begin) = rest.find(RUN_INFO_BEGIN) {
        out.push_str(&rest[..begin]);
        match rest[begin..].find(RUN_INFO_END) {
            Some(end) => rest = &rest[begin + end + RUN_INFO_END.len()..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Markup for an id that lets a narrow column wrap it only after one of the characters in
/// `after`, e.g. a claim id `mnist.cnn.weak_early.sam-linf` only after its dots: every segment
/// ending in such a character is an inline block, kept whole unless it alone is wider than the
/// column, with a `<wbr>` between segments. A plain `overflow-wrap: anywhere` split ids mid-token,
/// and even `break-word` splits them at hyphens. The text is escaped here because the filter's
/// output is marked safe; the page text (and so copy, paste and find) is the id unchanged.
fn breakable_id(id: &str, after: &str) -> String {
    let mut out = String::with_capacity(id.len() * 2 + 32);
    let mut segments = id.split_inclusive(|c| after.contains(c)).peekable();
    while let Some(segment) = segments.next() {
        out.push_str("<span class=\"seg\">");
        escape_html_into(segment, &mut out);
        out.push_str("</span>");
        if segments.peek().is_some() {
            out.push_str("<wbr>");
        }
    }
    out
}

/// The five characters HTML text and attribute values need escaped, as tera's autoescape does.
fn escape_html_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

/// Width over height from which a figure is laid out alone on its row: two such figures side by
/// side would shrink their panels below legibility on a laptop screen.
const WIDE_ASPECT: f64 = 1.8;

/// Width and height of a sanitised SVG, from the `width` and `height` attributes of its root.
fn svg_size(svg: &str) -> Option<(f64, f64)> {
    let root = &svg[..svg.find('>')?];
    let attribute = |name: &str| -> Option<f64> {
        let needle = format!(" {name}=\"");
        let start = root.find(&needle)? + needle.len();
        let value = &root[start..start + root[start..].find('"')?];
        value.trim_end_matches("px").parse().ok()
    };
    let (width, height) = (attribute("width")?, attribute("height")?);
    (width > 0.0 && height > 0.0).then_some((width, height))
}

fn run_info_view(info: &RunInfo) -> RunInfoView<'_> {
    RunInfoView {
        started_at: &info.started_at,
        total_wall: format!("{:.2} s", info.total_wall_seconds),
        stages: info
            .stage_wall_seconds
            .iter()
            .map(|stage| StageTimeView {
                stage: &stage.stage,
                wall: format!("{:.2} s", stage.seconds),
                cached: stage.cached,
            })
            .collect(),
    }
}

fn validate(model: &ReportModel) -> Result<(), ReportError> {
    let mut ids: BTreeMap<String, &'static str> = PAGE_IDS
        .iter()
        .map(|id| ((*id).to_owned(), "a page landmark"))
        .collect();
    let mut claim_id = |id: &str, what: &'static str| -> Result<(), ReportError> {
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
        {
            return Err(ReportError::InvalidId {
                what,
                id: id.to_owned(),
            });
        }
        if let Some(first) = ids.insert(id.to_owned(), what) {
            return Err(ReportError::DuplicateId {
                id: id.to_owned(),
                first,
                second: what,
            });
        }
        Ok(())
    };
    for section in &model.sections {
        claim_id(&section.id, "a section")?;
        for figure in &section.figures {
            claim_id(&figure.id, "a figure")?;
            check_relative(&format!("figure {}", figure.id), &figure.png)?;
        }
        for table in &section.tables {
            for (row, cells) in table.rows.iter().enumerate() {
                if cells.len() != table.columns.len() {
                    return Err(ReportError::RaggedTable {
                        caption: table.caption.clone(),
                        row,
                        cells: cells.len(),
                        columns: table.columns.len(),
                    });
                }
            }
        }
        for download in &section.downloads {
            let context = format!("table {}", download.name);
            check_relative(&context, &download.csv)?;
            check_relative(&context, &download.parquet)?;
        }
    }
    let sections: Vec<&str> = model.sections.iter().map(|s| s.id.as_str()).collect();
    let figures: Vec<&str> = model
        .sections
        .iter()
        .flat_map(|s| s.figures.iter().map(|f| f.id.as_str()))
        .collect();
    for result in &model.results {
        claim_id(&format!("result-{}", result.id), "a result")?;
        if let Some(section) = &result.section
            && !sections.contains(&section.as_str())
        {
            return Err(ReportError::DanglingResultReference {
                result: result.id.clone(),
                what: "section",
                target: section.clone(),
            });
        }
        if let Some(figure) = &result.figure
            && !figures.contains(&figure.as_str())
        {
            return Err(ReportError::DanglingResultReference {
                result: result.id.clone(),
                what: "figure",
                target: figure.clone(),
            });
        }
        if let Some(pattern) = result.claims.iter().find(|pattern| pattern.is_empty()) {
            return Err(ReportError::InvalidId {
                what: "a result's claim pattern",
                id: pattern.clone(),
            });
        }
    }
    // Two results may share a thumbnail; the figure's root carries the id once.
    let mut thumbnailed: Vec<&str> = model
        .results
        .iter()
        .filter_map(|result| result.figure.as_deref())
        .collect();
    thumbnailed.sort_unstable();
    thumbnailed.dedup();
    for figure in thumbnailed {
        claim_id(&format!("svg-{figure}"), "a figure's drawing")?;
    }
    if let Some(reseed) = &model.reseed {
        for flip in &reseed.flips {
            if !model.claims.iter().any(|claim| claim.id == flip.id) {
                return Err(ReportError::DanglingReference {
                    claim: flip.id.clone(),
                    what: "ledger row of a claim that flips with the seeds",
                    target: format!("claim-{}", flip.id),
                });
            }
        }
    }
    if let Some(changes) = &model.changes {
        // Everything but the removed claims links to its ledger row.
        let linked = changes
            .verdict_changed
            .iter()
            .chain(&changes.moved)
            .map(|change| &change.id)
            .chain(&changes.added)
            .chain(&changes.changed_within_tolerance);
        for id in linked {
            if !model.claims.iter().any(|claim| &claim.id == id) {
                return Err(ReportError::DanglingReference {
                    claim: id.clone(),
                    what: "ledger row of a changed claim",
                    target: format!("claim-{id}"),
                });
            }
        }
    }
    for section in &model.sections {
        if model.claims.iter().any(|claim| claim.section == section.id) {
            claim_id(&format!("claims-{}", section.id), "a ledger group")?;
        }
    }
    for claim in &model.claims {
        if claim.id.is_empty() {
            return Err(ReportError::InvalidId {
                what: "a claim",
                id: String::new(),
            });
        }
        claim_id(&format!("claim-{}", claim.id), "a claim")?;
        if !sections.contains(&claim.section.as_str()) {
            return Err(ReportError::DanglingReference {
                claim: claim.id.clone(),
                what: "section",
                target: claim.section.clone(),
            });
        }
        if let Some(figure) = &claim.figure
            && !figures.contains(&figure.as_str())
        {
            return Err(ReportError::DanglingReference {
                claim: claim.id.clone(),
                what: "figure",
                target: figure.clone(),
            });
        }
    }
    Ok(())
}

/// Links must stay inside the reports directory: no scheme, no absolute path, no `..`, no
/// characters that would end the attribute or start a query.
fn check_relative(context: &str, path: &str) -> Result<(), ReportError> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.starts_with('\\')
        || path.contains(':')
        || path.split(['/', '\\']).any(|part| part == "..")
        || path
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '?' | '#'));
    if bad {
        return Err(ReportError::NonRelativePath {
            context: context.to_owned(),
            path: path.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RunInfo, StageWallTime};
    use crate::sample::sample_model;

    /// Values of every `name="…"` attribute in the page, in order.
    fn attribute_values<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
        let needle = format!(" {name}=\"");
        html.match_indices(&needle)
            .map(|(at, _)| {
                let rest = &html[at + needle.len()..];
                &rest[..rest.find('"').expect("attribute value is closed")]
            })
            .collect()
    }

    #[test]
    fn ledger_comes_first_with_its_summary_and_one_row_per_claim() {
        let html = render(&sample_model()).unwrap();
        let ledger = html.find("<table class=\"ledger\">").unwrap();
        let claims = html.find("id=\"claims\"").unwrap();
        let first_section = html.find("<section class=\"paper-section\"").unwrap();
        assert!(claims < ledger && ledger < first_section);
        assert!(text_of(&html).contains(
            "claims: evidence: 2 reproduced, 0 inconclusive, 1 contradicted · checks: 1 passed, 0 failed"
        ));
        // The ledger alone (the first screen above it has verdicts of its own).
        let html = &html[claims..first_section];
        assert_eq!(html.matches("<tr id=\"claim-").count(), 4);
        assert_eq!(
            html.matches("class=\"verdict pass\">✓ reproduced").count(),
            2
        );
        assert_eq!(html.matches("class=\"verdict pass\">✓ passed").count(), 1);
        assert_eq!(
            html.matches("class=\"verdict fail\">✗ contradicted")
                .count(),
            1
        );
        assert!(html.contains("<tr id=\"claim-cor3.5.winner.L3\" class=\"fail\">"));
    }

    #[test]
    fn first_screen_lists_every_result_with_its_verdict_above_the_ledger() {
        let html = render(&sample_model()).unwrap();
        let results = html
            .find("<section class=\"results\" id=\"results\">")
            .unwrap();
        let ledger = html
            .find("<section class=\"ledger\" id=\"claims\">")
            .unwrap();
        assert!(results < ledger);
        let first_screen = &html[results..ledger];
        assert_eq!(first_screen.matches("<tr id=\"result-").count(), 4);
        let row = |id: &str| {
            let start = first_screen
                .find(&format!("<tr id=\"result-{id}\""))
                .unwrap_or_else(|| panic!("no row for {id}"));
            let rest = &first_screen[start..];
            &rest[..rest.find("</tr>").unwrap()]
        };
        assert!(row("depth1").contains("class=\"reproduced\""));
        assert!(row("depth1").contains("✓ reproduced"));
        assert!(row("depth1").contains("1/1 claims"));
        // One contradicted row of two decides; the verdict links to it.
        assert!(row("linf").contains("✗ contradicted"));
        assert!(row("linf").contains("href=\"#claim-cor3.5.winner.L3\""));
        assert!(row("linf").contains("1/2 claims"));
        // A check alone is no evidence; a pattern that matches nothing is shown, not dropped.
        assert!(row("flows").contains("– no evidence"));
        assert!(row("mnist").contains("– no evidence"));
        assert!(row("mnist").contains("title=\"No evidence claim matches mnist.*\""));
        assert!(
            !row("mnist").contains("<a href"),
            "no section on the page to link"
        );
        // Thumbnails reuse the inline figure instead of a second copy.
        assert!(row("depth1").contains(
            "<svg class=\"thumb\" viewBox=\"0 0 640 400\" role=\"img\" aria-hidden=\"true\">\
             <use href=\"#svg-fig-depth1-cos\" width=\"640\" height=\"400\"/></svg>"
        ));
        assert_eq!(html.matches("<svg id=\"svg-fig-depth1-cos\"").count(), 1);
        assert!(!row("flows").contains("<svg"));
        // A pattern that matches nothing beside ones that do is counted on the row, named in its
        // title.
        let mut model = sample_model();
        model.results[0].claims.push("thm9.*".into());
        let html = render(&model).unwrap();
        assert!(html.contains(
            "<span class=\"unmatched\" title=\"No claim matches thm9.*\">· 1 pattern unmatched</span>"
        ));
        // Every claim belongs to a result here, so there is no catch-all row.
        assert!(!first_screen.contains("result-unmapped"));
    }

    #[test]
    fn evidence_no_result_selects_gets_a_row_of_its_own() {
        let mut model = sample_model();
        model.results.retain(|result| result.id != "linf");
        let html = render(&model).unwrap();
        let start = html.find("<tr id=\"result-unmapped\"").unwrap();
        let row = &html[start..start + html[start..].find("</tr>").unwrap()];
        assert!(row.contains("✗ contradicted"), "{row}");
        assert!(row.contains("<a href=\"#claim-thm3.2.regimes.L2\">thm3.2.regimes.L2</a>"));
        assert!(row.contains("<a href=\"#claim-cor3.5.winner.L3\">cor3.5.winner.L3</a>"));
        // A page without results has no first screen at all.
        let mut bare = sample_model();
        bare.results.clear();
        let html = render(&bare).unwrap();
        assert!(!html.contains("id=\"results\""));
        assert!(!html.contains("href=\"#results\""));
    }

    #[test]
    fn results_must_point_at_sections_and_figures_on_the_page() {
        let mut model = sample_model();
        model.results[0].figure = Some("fig-missing".into());
        assert!(matches!(
            render(&model),
            Err(ReportError::DanglingResultReference { what: "figure", .. })
        ));
        let mut model = sample_model();
        model.results[0].section = Some("nowhere".into());
        assert!(matches!(
            render(&model),
            Err(ReportError::DanglingResultReference {
                what: "section",
                ..
            })
        ));
        let mut model = sample_model();
        model.results[1].id = "depth1".into();
        assert!(matches!(
            render(&model),
            Err(ReportError::DuplicateId { .. })
        ));
        let mut model = sample_model();
        model.results[0].claims.push(String::new());
        assert!(matches!(render(&model), Err(ReportError::InvalidId { .. })));
        // Two results may share one thumbnail.
        let mut model = sample_model();
        model.results[2].figure = Some("fig-depth1-cos".into());
        let html = render(&model).unwrap();
        assert_eq!(html.matches("<use href=\"#svg-fig-depth1-cos\"").count(), 2);
    }

    #[test]
    fn ledger_groups_fold_by_section_with_counts_and_failures_first() {
        let html = render(&sample_model()).unwrap();
        assert_eq!(html.matches("<details class=\"group").count(), 3);
        assert!(html.contains(
            "<details class=\"group has-failures\" id=\"claims-linf\">\n<summary><span class=\"group-title\">\
             ℓ∞-SAM at depth ≥ 2: gating</span> <span class=\"group-counts\">2 claims: 1 reproduced, 1 \
             contradicted</span></summary>"
        ));
        assert!(html.contains("<span class=\"group-counts\">1 claim · 1 check passed</span>"));
        // Folded: no group is open, and no script is needed to open one.
        assert!(!html.contains("<details class=\"group\" open"));
        assert!(!html.contains("<script"));
        // Within the ℓ∞ group the contradicted row comes before the reproduced one, although the
        // model lists it second.
        let failed = html.find("<tr id=\"claim-cor3.5.winner.L3\"").unwrap();
        let passed = html.find("<tr id=\"claim-thm3.2.regimes.L2\"").unwrap();
        assert!(failed < passed);
        // Ledger groups print open.
        let (_, print) = style_rules(&html);
        assert_eq!(property(&print, "details.group", "display"), Some("block"));
        assert_eq!(
            property(
                &print,
                "details.group::details-content",
                "content-visibility"
            ),
            Some("visible")
        );
    }

    #[test]
    fn claims_that_flip_with_the_seeds_get_a_section_linking_the_rows() {
        let mut model = sample_model();
        assert!(!render(&model).unwrap().contains("id=\"reseed\""));
        model.reseed = Some(crate::model::Reseed {
            how: "every seed s → s + 1000000".into(),
            compared: 5,
            flips: vec![crate::model::ClaimChange {
                id: "cor3.5.winner.L3".into(),
                old_verdict: "reproduced".into(),
                new_verdict: "contradicted".into(),
                old_measured: "0.991".into(),
                new_measured: "0.953".into(),
            }],
        });
        let html = render(&model).unwrap();
        let start = html
            .find("<section class=\"changes\" id=\"reseed\">")
            .unwrap();
        let section = &html[start..start + html[start..].find("</section>").unwrap()];
        assert!(
            section.contains("of 5 claims compared, 1 changed verdict."),
            "{section}"
        );
        assert!(section.contains("that row is counted as inconclusive above"));
        assert!(section.contains("<a href=\"#claim-cor3.5.winner.L3\">cor3.5.winner.L3</a>"));
        assert!(html.contains("<li><a href=\"#reseed\">"));
        model.reseed.as_mut().unwrap().flips[0].id = "nowhere".into();
        assert!(render(&model).is_err());
    }

    #[test]
    fn changes_since_a_previous_run_get_a_section_linking_the_rows() {
        let mut model = sample_model();
        let html = render(&model).unwrap();
        assert!(!html.contains("id=\"changes\""));
        model.changes = Some(crate::model::RunChanges {
            against: "commit 1a2b3c4 (profile quick)".into(),
            verdict_changed: vec![crate::model::ClaimChange {
                id: "cor3.5.winner.L3".into(),
                old_verdict: "reproduced".into(),
                new_verdict: "contradicted".into(),
                old_measured: "0.991".into(),
                new_measured: "0.953".into(),
            }],
            moved: Vec::new(),
            added: vec!["ext.flow.order1".into()],
            removed: vec!["thm9.gone".into()],
            changed_within_tolerance: Vec::new(),
            unchanged: 2,
        });
        let html = render(&model).unwrap();
        let start = html
            .find("<section class=\"changes\" id=\"changes\">")
            .unwrap();
        let section = &html[start..start + html[start..].find("</section>").unwrap()];
        assert!(section.contains(
            "Compared with commit 1a2b3c4 (profile quick): 1 verdict changed, 0 values moved beyond \
             their tolerance, 1 claim added, 1 removed, 0 changed within tolerance, 2 unchanged."
        ));
        assert!(section.contains("<a href=\"#claim-cor3.5.winner.L3\">cor3.5.winner.L3</a>"));
        assert!(section.contains("reproduced → contradicted"));
        assert!(section.contains("Removed: <code>thm9.gone</code>."));
        assert!(html.contains("<li><a href=\"#changes\">"));
        // A changed claim that is not in the ledger is a broken model.
        model
            .changes
            .as_mut()
            .unwrap()
            .added
            .push("thm9.gone".into());
        assert!(matches!(
            render(&model),
            Err(ReportError::DanglingReference { .. })
        ));
    }

    #[test]
    fn every_fragment_link_resolves_to_an_element_id() {
        let html = render(&sample_model()).unwrap();
        let ids = attribute_values(&html, "id");
        let hrefs = attribute_values(&html, "href");
        let fragments: Vec<&str> = hrefs.iter().filter_map(|h| h.strip_prefix('#')).collect();
        // First screen: two rows with a section, verdict, figure and thumbnail link each, one
        // with only its section; nav (first screen, ledger, 3 sections, provenance); 4 ledger rows;
        // 4 back links.
        assert_eq!(fragments.len(), 9 + 6 + 4 + 4, "{fragments:?}");
        for fragment in fragments {
            assert!(ids.contains(&fragment), "dangling link #{fragment}");
        }
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "duplicate ids in {ids:?}");
        // A claim with a figure links the figure; one without links its section.
        assert!(html.contains("<a href=\"#fig-linf-regimes\">"));
        assert!(html.contains("<a href=\"#flows\">§ <span class=\"seg\">flows</span></a>"));
    }

    #[test]
    fn model_text_is_escaped() {
        let html = render(&sample_model()).unwrap();
        assert!(html.contains("a statement with &lt;b&gt;&amp; markup."));
        assert!(!html.contains("<b>&"));
        assert!(html.contains("Escaping check: 1 &lt; 2 &amp; 3 &gt; 2."));
        let mut model = sample_model();
        model.title = "\"><script>alert(1)</script>".into();
        model.sections[0].stages[0].params = "</pre><script>x()</script>".into();
        let html = render(&model).unwrap();
        assert!(!html.contains("<script"));
        assert!(html.contains("<title>&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title>"));
        assert!(html.contains("<pre>&lt;/pre&gt;&lt;script&gt;x()&lt;/script&gt;</pre>"));
    }

    #[test]
    fn figures_are_inlined_with_a_png_link_and_stages_sit_in_details() {
        let html = render(&sample_model()).unwrap();
        assert_eq!(html.matches("<figure id=").count(), 2);
        // Both are thumbnails on the first screen, so their roots carry the id the thumbnails use.
        assert_eq!(html.matches("<svg id=\"svg-fig-").count(), 2);
        assert_eq!(html.matches(">PNG</a>").count(), 2);
        assert!(html.contains("<a class=\"png\" href=\"figures/fig-depth1-cos.png\">PNG</a>"));
        assert_eq!(html.matches("<details class=\"stages\">").count(), 3);
        assert!(html.contains("<a href=\"tables/linf_phase.parquet\">Parquet</a>"));
        assert_eq!(html.matches("<table class=\"keys\">").count(), 3);
    }

    #[test]
    fn wide_figures_get_a_row_of_their_own() {
        assert_eq!(
            svg_size("<svg width=\"1200\" height=\"400\">"),
            Some((1200.0, 400.0))
        );
        assert_eq!(
            svg_size("<svg class=\"f1\" height=\"400px\" width=\"600px\">"),
            Some((600.0, 400.0))
        );
        assert_eq!(svg_size("<svg viewBox=\"0 0 1 1\">"), None);
        let mut model = sample_model();
        model.sections[0].figures[0].svg =
            "<svg width=\"1200\" height=\"400\" xmlns=\"http://www.w3.org/2000/svg\"></svg>".into();
        let html = render(&model).unwrap();
        assert!(html.contains("<figure id=\"fig-depth1-cos\" class=\"wide\">"));
        assert!(html.contains("<figure id=\"fig-linf-regimes\">"));
    }

    #[test]
    fn unsafe_svg_is_rejected_naming_the_figure() {
        let mut model = sample_model();
        model.sections[1].figures[0].svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><rect onclick=\"steal()\"/></svg>".into();
        let error = render(&model).unwrap_err();
        assert!(matches!(
            &error,
            ReportError::UnsafeSvg { figure, .. } if figure == "fig-linf-regimes"
        ));
        model.sections[1].figures[0].svg = "<svg><script>steal()</script></svg>".into();
        assert!(matches!(render(&model), Err(ReportError::UnsafeSvg { .. })));
    }

    #[test]
    fn no_link_or_resource_leaves_the_reports_directory() {
        let html = render(&sample_model()).unwrap();
        for name in ["href", "src", "xlink:href", "action", "poster"] {
            for value in attribute_values(&html, name) {
                let relative = value.starts_with('#')
                    || !(value.contains(':') || value.starts_with('/') || value.contains(".."));
                assert!(relative, "{name}={value:?} is not local");
            }
        }
        for forbidden in ["<script", "<link", "<iframe", "@import", "url(", "<img"] {
            assert!(!html.contains(forbidden), "page contains {forbidden}");
        }
        // The only absolute URL allowed is the SVG namespace, which browsers never fetch.
        let without_namespace = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        assert!(!without_namespace.contains("http://"));
        assert!(!without_namespace.contains("https://"));
    }

    #[test]
    fn model_links_must_be_relative_paths_inside_the_reports_directory() {
        for bad in [
            "https://example.org/a.png",
            "/etc/passwd",
            "../outside.png",
            "figures/a.png\" onload=\"x",
            "",
        ] {
            let mut model = sample_model();
            model.sections[0].figures[0].png = bad.into();
            assert!(
                matches!(render(&model), Err(ReportError::NonRelativePath { .. })),
                "{bad:?} accepted"
            );
        }
        let mut model = sample_model();
        model.sections[1].downloads[0].csv = "file:tables/x.csv".into();
        assert!(matches!(
            render(&model),
            Err(ReportError::NonRelativePath { .. })
        ));
    }

    #[test]
    fn broken_references_and_ids_are_errors() {
        let mut model = sample_model();
        model.claims[0].figure = Some("fig-missing".into());
        assert!(matches!(
            render(&model),
            Err(ReportError::DanglingReference { what: "figure", .. })
        ));
        let mut model = sample_model();
        model.claims[0].section = "nowhere".into();
        assert!(matches!(
            render(&model),
            Err(ReportError::DanglingReference {
                what: "section",
                ..
            })
        ));
        let mut model = sample_model();
        model.sections[2].id = "depth1".into();
        assert!(matches!(
            render(&model),
            Err(ReportError::DuplicateId { .. })
        ));
        let mut model = sample_model();
        model.sections[2].id = "claims".into();
        assert!(matches!(
            render(&model),
            Err(ReportError::DuplicateId { .. })
        ));
        let mut model = sample_model();
        model.sections[2].id = "has space".into();
        assert!(matches!(render(&model), Err(ReportError::InvalidId { .. })));
        let mut model = sample_model();
        model.sections[0].tables[0].rows[1].pop();
        assert!(matches!(
            render(&model),
            Err(ReportError::RaggedTable {
                row: 1,
                cells: 2,
                columns: 3,
                ..
            })
        ));
    }

    #[test]
    fn same_model_same_bytes_and_run_info_is_strippable() {
        let model = sample_model();
        let first = render(&model).unwrap();
        assert_eq!(first, render(&model).unwrap());
        assert!(first.contains("Total wall time</dt><dd>41.25 s"));

        let mut other_run = model.clone();
        other_run.run_info = Some(RunInfo {
            started_at: "2026-11-29T10:00:00Z".into(),
            total_wall_seconds: 0.5,
            stage_wall_seconds: vec![StageWallTime {
                stage: "depth1_margin".into(),
                seconds: 0.02,
                cached: true,
            }],
        });
        let second = render(&other_run).unwrap();
        assert_ne!(first, second);
        assert_eq!(strip_run_info(&first), strip_run_info(&second));

        let mut no_run = model.clone();
        no_run.run_info = None;
        let third = render(&no_run).unwrap();
        assert_eq!(strip_run_info(&first), strip_run_info(&third));
        assert!(third.contains(RUN_INFO_BEGIN) && third.contains(RUN_INFO_END));

        let stripped = strip_run_info(&first);
        assert!(!stripped.contains("41.25") && !stripped.contains("<h3>Run info</h3>"));
        assert!(stripped.contains("id=\"provenance\""));

        // A science change still shows after stripping.
        let mut changed = model.clone();
        changed.claims[0].measured = "2.2e-4".into();
        assert_ne!(
            strip_run_info(&first),
            strip_run_info(&render(&changed).unwrap())
        );
    }

    #[test]
    fn strip_run_info_handles_text_without_or_with_unclosed_markers() {
        assert_eq!(strip_run_info("a b"), "a b");
        assert_eq!(
            strip_run_info(&format!(
                "a{RUN_INFO_BEGIN}x{RUN_INFO_END}b{RUN_INFO_BEGIN}y"
            )),
            "ab"
        );
    }

    #[test]
    fn model_round_trips_through_json() {
        let model = sample_model();
        let json = serde_json::to_string_pretty(&model).unwrap();
        assert!(json.contains("\"verdict\": \"FAIL\""));
        let back: ReportModel = serde_json::from_str(&json).unwrap();
        assert_eq!(back, model);
        assert_eq!(render(&back).unwrap(), render(&model).unwrap());
    }

    #[test]
    fn write_replaces_the_page_atomically_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reports").join("index.html");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "old page").unwrap();
        let model = sample_model();
        write(&model, &path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            render(&model).unwrap()
        );
        let entries: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(entries, vec![std::ffi::OsString::from("index.html")]);

        // A failed render leaves the old page in place.
        let mut broken = model.clone();
        broken.claims[0].section = "nowhere".into();
        assert!(write(&broken, &path).is_err());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            render(&model).unwrap()
        );
    }

    /// Text of `html` with its tags removed (entities left as written).
    fn text_of(html: &str) -> String {
        let mut out = String::new();
        let mut in_tag = false;
        for c in html.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                _ if !in_tag => out.push(c),
                _ => {}
            }
        }
        out
    }

    /// A CSS rule: its selector list and its declarations.
    type Rule = (String, String);

    /// The page's style sheet split into (selector list, declarations) rules: those outside any
    /// at-rule, and those inside `@media print`. Comments are dropped; `@page` counts as a rule.
    fn style_rules(html: &str) -> (Vec<Rule>, Vec<Rule>) {
        let start = html.find("<style>").expect("style") + "<style>".len();
        let mut css = html[start..html.find("</style>").expect("style end")].to_owned();
        while let Some(open) = css.find("/*") {
            let close = open + css[open..].find("*/").expect("comment closed") + 2;
            css.replace_range(open..close, "");
        }
        let (mut screen, mut print) = (Vec::new(), Vec::new());
        let mut media: Option<String> = None;
        let mut rest = css.as_str();
        while let Some(open) = rest.find('{') {
            let selector = rest[..open].trim().to_owned();
            if selector.starts_with("@media") {
                media = Some(selector);
                rest = &rest[open + 1..];
                continue;
            }
            let close = open + rest[open..].find('}').expect("rule closed");
            let rule = (selector, rest[open + 1..close].trim().to_owned());
            match media.as_deref() {
                None => screen.push(rule),
                Some("@media print") => print.push(rule),
                Some(_) => {}
            }
            rest = &rest[close + 1..];
            // A second `}` right after a rule closes the enclosing @media block.
            if let Some(after) = rest.trim_start().strip_prefix('}') {
                media = None;
                rest = after;
            }
        }
        (screen, print)
    }

    /// Declarations of every rule whose selector list contains `selector`, in order.
    fn declarations<'a>(rules: &'a [Rule], selector: &str) -> Vec<&'a str> {
        rules
            .iter()
            .filter(|(list, _)| list.split(',').any(|s| s.trim() == selector))
            .map(|(_, body)| body.as_str())
            .collect()
    }

    /// The last value a rule for `selector` gives `property` (later rules win, as in CSS).
    fn property<'a>(rules: &'a [Rule], selector: &str, property: &str) -> Option<&'a str> {
        declarations(rules, selector)
            .into_iter()
            .flat_map(|body| body.split(';'))
            .filter_map(|declaration| declaration.split_once(':'))
            .filter(|(name, _)| name.trim() == property)
            .map(|(_, value)| value.trim())
            .next_back()
    }

    #[test]
    fn style_rules_parse_screen_and_print() {
        let html = "<style>a { color: red; }\n/* x { } */@media print {\n  @page { margin: 1cm; }\n  a, b { color: blue; }\n}\n@media (max-width: 1px) { a { color: green; } }\nc { d: e; }</style>";
        let (screen, print) = style_rules(html);
        assert_eq!(property(&screen, "a", "color"), Some("red"));
        assert_eq!(property(&screen, "c", "d"), Some("e"));
        assert_eq!(property(&print, "b", "color"), Some("blue"));
        assert_eq!(property(&print, "@page", "margin"), Some("1cm"));
        assert_eq!(screen.len() + print.len(), 4, "{screen:?} {print:?}");
    }

    #[test]
    fn ids_wrap_only_after_their_separators_and_stay_escaped() {
        assert_eq!(
            breakable_id("mnist.cnn.weak_early.sam-linf", "."),
            "<span class=\"seg\">mnist.</span><wbr><span class=\"seg\">cnn.</span><wbr>\
             <span class=\"seg\">weak_early.</span><wbr><span class=\"seg\">sam-linf</span>"
        );
        assert_eq!(
            breakable_id("s4_flows-mu", "_-"),
            "<span class=\"seg\">s4_</span><wbr><span class=\"seg\">flows-</span><wbr>\
             <span class=\"seg\">mu</span>"
        );
        assert_eq!(
            breakable_id("plain", "."),
            "<span class=\"seg\">plain</span>"
        );
        // Validated ids cannot hold these, but the filter marks its output safe, so it escapes.
        assert_eq!(
            breakable_id("<b>.\"x'&", "."),
            "<span class=\"seg\">&lt;b&gt;.</span><wbr><span class=\"seg\">&quot;x&#39;&amp;</span>"
        );

        let model = sample_model();
        let html = render(&model).unwrap();
        assert!(html.contains(
            "<td class=\"id\"><span class=\"seg\">cor3.</span><wbr><span class=\"seg\">5.</span><wbr>\
             <span class=\"seg\">winner.</span><wbr><span class=\"seg\">L3</span></td>"
        ));
        assert!(html.contains(
            "↓ <span class=\"seg\">fig-</span><wbr><span class=\"seg\">linf-</span><wbr>\
             <span class=\"seg\">regimes</span></a>"
        ));
        // The visible text of each id cell is the id itself: copy, paste and find still work.
        let cells: Vec<String> = html
            .match_indices("<td class=\"id\">")
            .map(|(at, tag)| {
                let rest = &html[at + tag.len()..];
                text_of(&rest[..rest.find("</td>").unwrap()])
            })
            .collect();
        let groups = ledger_groups(&model);
        let ids: Vec<&str> = groups
            .iter()
            .flat_map(|group| group.claims.iter().map(|c| c.id.as_str()))
            .collect();
        assert_eq!(cells, ids);
        // Segments are kept whole by layout, not split anywhere by the old catch-all.
        let (screen, _) = style_rules(&html);
        assert_eq!(
            property(&screen, "table.ledger td.id .seg", "display"),
            Some("inline-block")
        );
        assert_eq!(
            property(&screen, "table.ledger td.link .seg", "display"),
            Some("inline-block")
        );
        assert_eq!(
            property(&screen, "table.ledger td.id", "overflow-wrap"),
            None
        );
    }

    #[test]
    fn ledger_column_widths_add_up_on_screen_and_in_print() {
        let html = render(&sample_model()).unwrap();
        let (screen, print) = style_rules(&html);
        let table = &html[html.find("<table class=\"ledger\">").unwrap()..];
        let head = &table[table.find("<thead>").unwrap()..table.find("</thead>").unwrap()];
        let columns: Vec<&str> = attribute_values(head, "class");
        assert_eq!(columns.len(), 6, "{columns:?}");
        for rules in [&screen, &print] {
            let total: f64 = columns
                .iter()
                .map(|column| {
                    let width = property(rules, &format!("table.ledger th.{column}"), "width")
                        .unwrap_or_else(|| panic!("no width for {column}"));
                    width.strip_suffix('%').unwrap().parse::<f64>().unwrap()
                })
                .sum();
            assert!((total - 100.0).abs() < 1e-9, "widths sum to {total}%");
        }
    }

    #[test]
    fn print_drops_interactive_parts_and_keeps_figures_rows_and_headings_together() {
        let (_, print) = style_rules(&render(&sample_model()).unwrap());
        // Collapsed <details> printed as a lone summary line (and once as a page of its own).
        for hidden in ["nav.toc", ".back", "details", "figcaption .png"] {
            assert_eq!(
                property(&print, hidden, "display"),
                Some("none"),
                "{hidden}"
            );
        }
        assert_eq!(property(&print, "figure", "break-inside"), Some("avoid"));
        assert_eq!(property(&print, "tr", "break-inside"), Some("avoid"));
        assert_eq!(property(&print, "h2", "break-after"), Some("avoid"));
        // A "Full tables:" line must not end a page with its list on the next.
        assert_eq!(
            property(&print, ".downloads", "break-inside"),
            Some("avoid")
        );
        assert_eq!(
            property(&print, "section.paper-section", "break-before"),
            Some("page")
        );
        // A figure taller than what is left under a section heading must shrink, not split.
        let cap = property(&print, "figure svg", "max-height").expect("figure height cap");
        let millimetres: f64 = cap.strip_suffix("mm").unwrap().parse().unwrap();
        // A Letter page is 279 mm tall; minus margins, a heading, the paper statement and a lede
        // about 190 mm remain, and the caption needs its lines too.
        assert!(millimetres <= 160.0, "{cap}");
    }

    #[test]
    fn print_never_relies_on_background_graphics() {
        // Print dialogs drop backgrounds by default, so white text on a coloured badge vanishes.
        let (screen, print) = style_rules(&render(&sample_model()).unwrap());
        let light = |value: &str| matches!(value, "#fff" | "#ffffff" | "white");
        let mut checked = 0;
        for (selectors, _) in &screen {
            for selector in selectors.split(',').map(str::trim) {
                if property(&screen, selector, "color").is_some_and(light) {
                    checked += 1;
                    let color = property(&print, selector, "color");
                    assert!(
                        color.is_some_and(|c| !light(c)),
                        "{selector} prints white text: {color:?}"
                    );
                }
            }
        }
        assert!(checked >= 1, "the FAIL badge is white on red on screen");
        // Failed rows are tinted on screen; on paper an ink rule marks them.
        assert!(property(&screen, "table.ledger tr.fail td", "background").is_some());
        let rule = property(&print, "table.ledger tr.fail td:first-child", "border-left");
        assert!(rule.is_some_and(|r| r.contains("solid")), "{rule:?}");
    }
}
