//! Shrinking plotters' SVG without changing what it draws: polylines decimated to the pixel grid,
//! runs of identical adjacent rectangles merged, and repeated presentation attributes shared
//! through CSS classes.
//!
//! plotters writes one element per line with every presentation attribute spelled out
//! (`fill="none" opacity="1" stroke="#0072B2" stroke-width="2"`) and every data point of a series,
//! even thousands per pixel column. Inlined into the report, that made a page of 14 MB. The
//! coordinates are already whole pixels (plotters' backend coordinates are integers), so the
//! drawing is kept to within half a pixel by [`decimate`] and exactly by the other two steps.

use std::fmt::Write as _;

/// Largest distance, in pixels, between a dropped vertex and the decimated polyline: half a pixel
/// is below what anti-aliasing can show at the figure's own size.
pub const MAX_DEVIATION_PX: f64 = 0.5;

/// Presentation attributes plotters writes, in the order rules spell them. All are CSS properties,
/// so a class rule can carry them; `dy`, `transform` and geometry are attributes only.
const STYLE_ATTRIBUTES: &[&str] = &[
    "fill",
    "stroke",
    "stroke-width",
    "opacity",
    "font-family",
    "font-size",
    "font-weight",
    "font-style",
    "text-anchor",
];

/// Elements whose presentation attributes may move into a class.
const STYLED_ELEMENTS: &[&str] = &["polyline", "polygon", "rect", "line", "circle", "text"];

/// A vertex in pixel coordinates.
type Point = (f64, f64);

/// Decimates a polyline with Ramer–Douglas–Peucker at tolerance `epsilon`, after dropping
/// consecutive duplicates. The result is a subsequence of `points` that keeps both endpoints and
/// the first vertex of each extreme x and y (so an axis range read off the drawing is unchanged),
/// and every dropped vertex lies within `epsilon` of the segment that replaces it. Since the
/// distance to a segment is convex, every point of the original polyline, not only its vertices,
/// is then within `epsilon` of the result.
pub fn decimate(points: &[(f64, f64)], epsilon: f64) -> Vec<(f64, f64)> {
    let mut unique: Vec<(f64, f64)> = Vec::with_capacity(points.len());
    for &point in points {
        if unique.last() != Some(&point) {
            unique.push(point);
        }
    }
    if unique.len() <= 2 {
        return unique;
    }
    let mut keep = vec![false; unique.len()];
    let mut anchors = vec![0, unique.len() - 1];
    let first_extreme = |better: fn(&Point, &Point) -> bool| {
        let mut best = 0;
        for (index, point) in unique.iter().enumerate() {
            if better(point, &unique[best]) {
                best = index;
            }
        }
        best
    };
    anchors.push(first_extreme(|a, b| a.0 < b.0));
    anchors.push(first_extreme(|a, b| a.0 > b.0));
    anchors.push(first_extreme(|a, b| a.1 < b.1));
    anchors.push(first_extreme(|a, b| a.1 > b.1));
    anchors.sort_unstable();
    anchors.dedup();
    for &anchor in &anchors {
        keep[anchor] = true;
    }
    // An explicit stack: a pathological series would recurse once per vertex.
    let mut stack: Vec<(usize, usize)> = anchors.windows(2).map(|w| (w[0], w[1])).collect();
    while let Some((start, end)) = stack.pop() {
        if end <= start + 1 {
            continue;
        }
        let (mut farthest, mut distance) = (start, -1.0);
        for (index, point) in unique.iter().enumerate().take(end).skip(start + 1) {
            let d = segment_distance(*point, unique[start], unique[end]);
            if d > distance {
                (farthest, distance) = (index, d);
            }
        }
        if distance > epsilon {
            keep[farthest] = true;
            stack.push((start, farthest));
            stack.push((farthest, end));
        }
    }
    unique
        .into_iter()
        .zip(keep)
        .filter_map(|(point, kept)| kept.then_some(point))
        .collect()
}

/// Euclidean distance from `p` to the segment `a`–`b`.
pub fn segment_distance(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let length_squared = dx * dx + dy * dy;
    let t = if length_squared == 0.0 {
        0.0
    } else {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / length_squared).clamp(0.0, 1.0)
    };
    let (cx, cy) = (a.0 + t * dx, a.1 + t * dy);
    ((p.0 - cx).powi(2) + (p.1 - cy).powi(2)).sqrt()
}

/// One piece of the document: a start or empty-element tag of a styled element, or verbatim
/// text (other tags, closing tags, character data).
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Tag {
        name: String,
        attributes: Vec<(String, String)>,
        /// `/>` rather than `>`.
        empty: bool,
    },
    Verbatim(String),
}

impl Piece {
    fn attribute(&self, key: &str) -> Option<&str> {
        match self {
            Piece::Tag { attributes, .. } => attributes
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value.as_str()),
            Piece::Verbatim(_) => None,
        }
    }
}

/// Splits `svg` into pieces; `None` if it is not shaped as plotters writes it (then it is left
/// alone: compaction is an optimisation, never a reason to fail a figure).
fn parse(svg: &str) -> Option<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut rest = svg;
    while let Some(open) = rest.find('<') {
        if open > 0 {
            pieces.push(Piece::Verbatim(rest[..open].to_owned()));
        }
        let close = open + rest[open..].find('>')?;
        let tag = &rest[open..=close];
        rest = &rest[close + 1..];
        let name_end = tag[1..]
            .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
            .map_or(tag.len(), |at| at + 1);
        let name = &tag[1..name_end];
        if !STYLED_ELEMENTS.contains(&name) {
            pieces.push(Piece::Verbatim(tag.to_owned()));
            continue;
        }
        let empty = tag.ends_with("/>");
        let body = &tag[name_end..tag.len() - if empty { 2 } else { 1 }];
        pieces.push(Piece::Tag {
            name: name.to_owned(),
            attributes: parse_attributes(body)?,
            empty,
        });
    }
    if !rest.is_empty() {
        pieces.push(Piece::Verbatim(rest.to_owned()));
    }
    Some(pieces)
}

/// `key="value"` pairs separated by whitespace (plotters always double-quotes and escapes `"`).
fn parse_attributes(mut body: &str) -> Option<Vec<(String, String)>> {
    let mut attributes = Vec::new();
    loop {
        body = body.trim_start();
        if body.is_empty() {
            return Some(attributes);
        }
        let equals = body.find("=\"")?;
        let key = body[..equals].trim();
        let value_start = equals + 2;
        let value_end = value_start + body[value_start..].find('"')?;
        attributes.push((key.to_owned(), body[value_start..value_end].to_owned()));
        body = &body[value_end + 1..];
    }
}

/// Decimates the `points` of a polyline or polygon in place; leaves them alone if any coordinate
/// is not a number.
fn decimate_points(attributes: &mut [(String, String)]) {
    let Some((_, points)) = attributes.iter_mut().find(|(name, _)| name == "points") else {
        return;
    };
    let parsed: Option<Vec<(f64, f64)>> = points
        .split_ascii_whitespace()
        .map(|pair| {
            let (x, y) = pair.split_once(',')?;
            Some((x.parse().ok()?, y.parse().ok()?))
        })
        .collect();
    let Some(parsed) = parsed else { return };
    let mut text = String::with_capacity(points.len() / 2);
    for (index, (x, y)) in decimate(&parsed, MAX_DEVIATION_PX).into_iter().enumerate() {
        if index > 0 {
            text.push(' ');
        }
        let _ = write!(text, "{x},{y}");
    }
    *points = text;
}

/// Merges `next` into `last` when both are filled rectangles of the same style that share a full
/// edge (heatmap cells and image pixels of one colour, drawn row by row or column by column). The
/// union of two such rectangles is a rectangle and covers exactly their pixels, so the drawing is
/// unchanged (minus the anti-aliased seam between them).
fn merge_rects(last: &mut Piece, next: &Piece) -> bool {
    let (Piece::Tag { name: a, .. }, Piece::Tag { name: b, .. }) = (&*last, next) else {
        return false;
    };
    if a != "rect" || b != "rect" {
        return false;
    }
    let number = |piece: &Piece, key: &str| piece.attribute(key)?.parse::<i64>().ok();
    let geometry = |piece: &Piece| {
        Some((
            number(piece, "x")?,
            number(piece, "y")?,
            number(piece, "width")?,
            number(piece, "height")?,
        ))
    };
    let (Some((x1, y1, w1, h1)), Some((x2, y2, w2, h2))) = (geometry(last), geometry(next)) else {
        return false;
    };
    let style = |piece: &Piece| -> Vec<(String, String)> {
        match piece {
            Piece::Tag { attributes, .. } => attributes
                .iter()
                .filter(|(name, _)| !matches!(name.as_str(), "x" | "y" | "width" | "height"))
                .cloned()
                .collect(),
            Piece::Verbatim(_) => Vec::new(),
        }
    };
    // A stroked outline would draw the seam; only fills merge.
    if style(last) != style(next) || next.attribute("stroke").is_some_and(|s| s != "none") {
        return false;
    }
    let union = if y1 == y2 && h1 == h2 && (x1 + w1 == x2 || x2 + w2 == x1) {
        (x1.min(x2), y1, w1 + w2, h1)
    } else if x1 == x2 && w1 == w2 && (y1 + h1 == y2 || y2 + h2 == y1) {
        (x1, y1.min(y2), w1, h1 + h2)
    } else {
        return false;
    };
    if let Piece::Tag { attributes, .. } = last {
        for (name, value) in attributes.iter_mut() {
            let updated = match name.as_str() {
                "x" => union.0,
                "y" => union.1,
                "width" => union.2,
                "height" => union.3,
                _ => continue,
            };
            *value = updated.to_string();
        }
    }
    true
}

/// CSS text of one presentation attribute; `None` when the value is not plain enough to move
/// into a style sheet safely.
fn css_declaration(name: &str, value: &str) -> Option<String> {
    let plain = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '#' | '.' | '-' | ' ' | ','));
    if !plain {
        return None;
    }
    Some(match name {
        "font-family" => format!("font-family:\"{value}\""),
        "font-size" | "stroke-width" => format!("{name}:{}px", value.parse::<f64>().ok()?),
        _ => format!("{name}:{value}"),
    })
}

/// Rounds a font size to hundredths of a pixel (plotters writes size / 1.24 to 16 digits).
fn round_font_size(value: &str) -> String {
    value.parse::<f64>().map_or_else(
        |_| value.to_owned(),
        |size| format!("{}", (size * 100.0).round() / 100.0),
    )
}

/// Short class names in order of first use: `a` … `z`, `A` … `Z`, then `a0` …
fn class_name(index: usize) -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let letter = char::from(LETTERS[index % LETTERS.len()]);
    match index / LETTERS.len() {
        0 => letter.to_string(),
        round => format!("{letter}{}", round - 1),
    }
}

/// FNV-1a, 64 bits: a stable name for a figure's class scope without a hashing dependency.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The compacted document. Styles used by more than one element become classes scoped to this
/// figure (`.f<hash> .a { … }`, the hash being of the compacted drawing), so that figures inlined
/// into one page never share or override each other's rules; a style used once stays inline.
/// `opacity="1"` and a rectangle's `stroke="none"` are dropped as the defaults they are.
pub fn compact_svg(svg: &str) -> String {
    let Some(pieces) = parse(svg) else {
        return svg.to_owned();
    };
    // Decimate, drop defaults, round font sizes, merge rectangles.
    let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
    // After a merge, the newline that followed the absorbed rectangle is dropped too.
    let mut merged_last = false;
    for mut piece in pieces {
        if let Piece::Tag {
            name, attributes, ..
        } = &mut piece
        {
            if name == "polyline" || name == "polygon" {
                decimate_points(attributes);
            }
            let is_rect = name == "rect";
            attributes.retain(|(key, value)| {
                !((key == "opacity" && value == "1")
                    || (is_rect && key == "stroke" && value == "none"))
            });
            for (key, value) in attributes.iter_mut() {
                if key == "font-size" {
                    *value = round_font_size(value);
                }
            }
        }
        let is_blank = matches!(&piece, Piece::Verbatim(text) if text.trim().is_empty());
        if std::mem::take(&mut merged_last) && is_blank {
            continue;
        }
        // `[…, rect, "\n"]` followed by a rect that continues it.
        let len = out.len();
        if len >= 2
            && matches!(&out[len - 1], Piece::Verbatim(text) if text.trim().is_empty())
            && merge_rects(&mut out[len - 2], &piece)
        {
            merged_last = true;
            continue;
        }
        out.push(piece);
    }
    // Count each style (the ordered list of presentation declarations of an element).
    let style_of = |attributes: &[(String, String)]| -> Option<String> {
        let mut declarations = Vec::new();
        for key in STYLE_ATTRIBUTES {
            if let Some((_, value)) = attributes.iter().find(|(name, _)| name == key) {
                declarations.push(css_declaration(key, value)?);
            }
        }
        (!declarations.is_empty()).then(|| declarations.join(";"))
    };
    let mut styles: Vec<(String, usize)> = Vec::new();
    for piece in &out {
        if let Piece::Tag { attributes, .. } = piece
            && let Some(style) = style_of(attributes)
        {
            match styles.iter_mut().find(|(known, _)| *known == style) {
                Some((_, count)) => *count += 1,
                None => styles.push((style, 1)),
            }
        }
    }
    let shared: Vec<&str> = styles
        .iter()
        .filter(|(_, count)| *count > 1)
        .map(|(style, _)| style.as_str())
        .collect();
    let mut body = String::with_capacity(svg.len() / 2);
    let mut root: Option<String> = None;
    for piece in &out {
        match piece {
            Piece::Verbatim(text) => {
                if root.is_none() && text.starts_with("<svg") {
                    root = Some(text.clone());
                } else {
                    body.push_str(text);
                }
            }
            Piece::Tag {
                name,
                attributes,
                empty,
            } => {
                let class = style_of(attributes)
                    .and_then(|style| shared.iter().position(|known| *known == style));
                body.push('<');
                body.push_str(name);
                for (key, value) in attributes {
                    if class.is_some() && STYLE_ATTRIBUTES.contains(&key.as_str()) {
                        continue;
                    }
                    let _ = write!(body, " {key}=\"{value}\"");
                }
                if let Some(index) = class {
                    let _ = write!(body, " class=\"{}\"", class_name(index));
                }
                body.push_str(if *empty { "/>" } else { ">" });
            }
        }
    }
    let Some(root) = root else {
        return svg.to_owned();
    };
    if shared.is_empty() {
        return format!("{root}{body}");
    }
    let scope = format!("f{:016x}", fnv1a(&body));
    let mut css = String::new();
    for (index, style) in shared.iter().enumerate() {
        let _ = writeln!(css, ".{scope} .{}{{{style}}}", class_name(index));
    }
    let root = root.replacen("<svg ", &format!("<svg class=\"{scope}\" "), 1);
    format!("{root}<style>\n{css}</style>{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seeded linear congruential generator: tests stay hermetic without a `rand` dependency.
    struct Lcg(u64);
    impl Lcg {
        fn next_unit(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// Distance from `p` to the polyline `line`.
    fn polyline_distance(p: (f64, f64), line: &[(f64, f64)]) -> f64 {
        if line.len() == 1 {
            return segment_distance(p, line[0], line[0]);
        }
        line.windows(2)
            .map(|w| segment_distance(p, w[0], w[1]))
            .fold(f64::INFINITY, f64::min)
    }

    /// The properties the report relies on, for any input.
    fn check_decimation(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
        let simplified = decimate(points, MAX_DEVIATION_PX);
        assert_eq!(simplified.first(), points.first(), "first point kept");
        assert_eq!(simplified.last(), points.last(), "last point kept");
        // A subsequence of the original.
        let mut rest = points.iter();
        for point in &simplified {
            assert!(
                rest.any(|p| p == point),
                "{point:?} is not an original vertex"
            );
        }
        // Within half a pixel: every original vertex, and (by convexity) every point between.
        for &point in points {
            let distance = polyline_distance(point, &simplified);
            assert!(
                distance <= MAX_DEVIATION_PX,
                "{point:?} is {distance} px off"
            );
        }
        // Extremes of both coordinates survive exactly.
        let extreme = |line: &[(f64, f64)], pick: fn(&(f64, f64)) -> f64| {
            let values: Vec<f64> = line.iter().map(pick).collect();
            (
                values.iter().copied().fold(f64::INFINITY, f64::min),
                values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            )
        };
        assert_eq!(extreme(&simplified, |p| p.0), extreme(points, |p| p.0));
        assert_eq!(extreme(&simplified, |p| p.1), extreme(points, |p| p.1));
        simplified
    }

    #[test]
    fn decimation_keeps_endpoints_extrema_and_half_a_pixel_on_random_walks() {
        let mut rng = Lcg(17);
        for walk in 0..40 {
            let n = 50 + walk * 97;
            let mut y = 400.0;
            let points: Vec<(f64, f64)> = (0..n)
                .map(|i| {
                    y += (rng.next_unit() - 0.5) * 6.0;
                    // Many samples per pixel column, as a dense time series has.
                    ((i as f64 / 7.0).round(), y.round())
                })
                .collect();
            check_decimation(&points);
        }
    }

    #[test]
    fn decimation_of_a_dense_smooth_curve_drops_most_vertices() {
        // 10 000 samples of a sine across 1000 pixels: ten per column, rounded to the pixel (the
        // staircase rounding makes keeps about one vertex per column where the curve is steep).
        let points: Vec<(f64, f64)> = (0..10_000)
            .map(|i| {
                let x = f64::from(i) / 10.0;
                (x.round(), (300.0 + 200.0 * (x / 80.0).sin()).round())
            })
            .collect();
        let simplified = check_decimation(&points);
        assert!(
            simplified.len() < points.len() / 5,
            "{} of {} vertices kept",
            simplified.len(),
            points.len()
        );
    }

    #[test]
    fn decimation_keeps_a_narrow_spike_and_short_or_degenerate_lines() {
        // A one-pixel-wide spike to the maximum is an extremum and must survive.
        let mut points: Vec<(f64, f64)> = (0..100).map(|i| (f64::from(i), 50.0)).collect();
        points[60] = (60.0, 49.0);
        points.push((100.0, 50.0));
        let simplified = check_decimation(&points);
        assert!(simplified.contains(&(60.0, 49.0)));
        assert_eq!(decimate(&[(1.0, 1.0)], 0.5), vec![(1.0, 1.0)]);
        assert_eq!(decimate(&[(1.0, 1.0), (1.0, 1.0)], 0.5), vec![(1.0, 1.0)]);
        assert!(decimate(&[], 0.5).is_empty());
        // A closed loop (first = last) keeps its far side.
        let square = [
            (0.0, 0.0),
            (10.0, 0.0),
            (10.0, 10.0),
            (0.0, 10.0),
            (0.0, 0.0),
        ];
        assert_eq!(check_decimation(&square).len(), 5);
    }

    const PLOTTERS_LIKE: &str = "<svg width=\"40\" height=\"20\" viewBox=\"0 0 40 20\" xmlns=\"http://www.w3.org/2000/svg\">\n\
<rect x=\"0\" y=\"0\" width=\"40\" height=\"20\" opacity=\"1\" fill=\"#FFFFFF\" stroke=\"none\"/>\n\
<rect x=\"0\" y=\"5\" width=\"2\" height=\"2\" opacity=\"1\" fill=\"#440154\" stroke=\"none\"/>\n\
<rect x=\"2\" y=\"5\" width=\"2\" height=\"2\" opacity=\"1\" fill=\"#440154\" stroke=\"none\"/>\n\
<rect x=\"4\" y=\"5\" width=\"2\" height=\"2\" opacity=\"1\" fill=\"#FDE725\" stroke=\"none\"/>\n\
<rect x=\"6\" y=\"5\" width=\"2\" height=\"2\" opacity=\"1\" fill=\"#440154\" stroke=\"none\"/>\n\
<rect x=\"0\" y=\"0\" width=\"4\" height=\"4\" opacity=\"1\" fill=\"none\" stroke=\"#000000\"/>\n\
<rect x=\"4\" y=\"0\" width=\"4\" height=\"4\" opacity=\"1\" fill=\"none\" stroke=\"#000000\"/>\n\
<polyline fill=\"none\" opacity=\"1\" stroke=\"#0072B2\" stroke-width=\"2\" points=\"0,10 1,10 2,10 3,10 4,10 5,11 \"/>\n\
<polyline fill=\"none\" opacity=\"1\" stroke=\"#0072B2\" stroke-width=\"2\" points=\"0,12 9,12 \"/>\n\
<text x=\"1\" y=\"2\" dy=\"0.76em\" text-anchor=\"start\" font-family=\"DejaVu Sans\" font-size=\"14.516129032258064\" opacity=\"1\" fill=\"#000000\">\n\
β &lt; ρ\n\
</text>\n\
<text x=\"1\" y=\"9\" dy=\"0.76em\" text-anchor=\"start\" font-family=\"DejaVu Sans\" font-size=\"14.516129032258064\" opacity=\"1\" fill=\"#000000\">\n\
t\n\
</text>\n\
</svg>\n";

    #[test]
    fn compaction_merges_cells_shares_styles_and_keeps_text() {
        let compact = compact_svg(PLOTTERS_LIKE);
        assert!(compact.len() < PLOTTERS_LIKE.len());
        assert!(compact.starts_with("<svg class=\"f"), "{compact}");
        assert!(compact.trim_end().ends_with("</svg>"));
        // The two same-colour cells became one; the other colour breaks the run.
        assert!(
            compact.contains("<rect x=\"0\" y=\"5\" width=\"4\" height=\"2\""),
            "{compact}"
        );
        assert!(
            compact.contains("<rect x=\"4\" y=\"5\" width=\"2\" height=\"2\" fill=\"#FDE725\"/>")
        );
        assert!(compact.contains("<rect x=\"6\" y=\"5\" width=\"2\" height=\"2\""));
        // Outlines are not merged (the seam is drawn).
        assert_eq!(compact.matches("width=\"4\" height=\"4\"").count(), 2);
        // Collinear pixels dropped, endpoints kept.
        assert!(compact.contains("points=\"0,10 4,10 5,11\""), "{compact}");
        // Shared styles live in classes with units CSS requires; defaults are gone.
        assert!(compact.contains("font-family:\"DejaVu Sans\""));
        assert!(compact.contains("font-size:14.52px"));
        assert!(compact.contains("stroke-width:2px"));
        assert!(!compact.contains("font-family=\""));
        assert!(!compact.contains("opacity=\"1\""));
        assert!(compact.contains("β &lt; ρ"));
        assert_eq!(compact.matches("<text ").count(), 2);
        assert_eq!(compact.matches("</text>").count(), 2);
        // Every class used has a rule in this figure's scope.
        let scope = &compact[12..compact[12..].find('"').unwrap() + 12];
        for (at, _) in compact.match_indices(" class=\"") {
            let rest = &compact[at + 8..];
            let class = &rest[..rest.find('"').unwrap()];
            if class != scope {
                assert!(compact.contains(&format!(".{scope} .{class}{{")), "{class}");
            }
        }
        // Deterministic, and idempotent in what it draws.
        assert_eq!(compact, compact_svg(PLOTTERS_LIKE));
    }

    #[test]
    fn cells_drawn_column_by_column_merge_upwards_too() {
        let column = "<svg width=\"4\" height=\"9\" viewBox=\"0 0 4 9\" xmlns=\"http://www.w3.org/2000/svg\">\n\
<rect x=\"0\" y=\"6\" width=\"2\" height=\"3\" opacity=\"1\" fill=\"#440154\" stroke=\"none\"/>\n\
<rect x=\"0\" y=\"3\" width=\"2\" height=\"3\" opacity=\"1\" fill=\"#440154\" stroke=\"none\"/>\n\
<rect x=\"0\" y=\"0\" width=\"2\" height=\"3\" opacity=\"1\" fill=\"#440154\" stroke=\"none\"/>\n\
<rect x=\"2\" y=\"0\" width=\"2\" height=\"3\" opacity=\"1\" fill=\"#FDE725\" stroke=\"none\"/>\n\
</svg>\n";
        let compact = compact_svg(column);
        assert!(
            compact.contains("<rect x=\"0\" y=\"0\" width=\"2\" height=\"9\" fill=\"#440154\"/>"),
            "{compact}"
        );
        assert_eq!(compact.matches("<rect").count(), 2, "{compact}");
    }

    #[test]
    fn compaction_leaves_unexpected_input_alone() {
        for odd in ["not svg at all", "<svg><rect x=\"1></svg>", ""] {
            assert_eq!(compact_svg(odd), odd);
        }
    }

    #[test]
    fn class_names_are_short_and_distinct() {
        let names: Vec<String> = (0..200).map(class_name).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        assert_eq!(names[0], "a");
        assert_eq!(names[52], "a0");
    }
}
