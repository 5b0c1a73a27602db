//! Defensive checks on SVG text before it is inlined into the page as trusted markup.
//!
//! Our figures crate produces the SVGs, so nothing here should ever fire; the checks exist because
//! inline SVG runs with the page's privileges and a stray script or remote reference would break
//! the promise that the report is inert and offline. Suspicious input is rejected, not repaired:
//! a rejected figure points at a bug upstream, while silent repair would hide it.

use crate::error::ReportError;

/// Elements that can run code, load remote content or escape the SVG into HTML.
const DENIED_ELEMENTS: &[&str] = &[
    "script",
    "foreignobject",
    "iframe",
    "object",
    "embed",
    "link",
    "meta",
    "base",
    "animate",
    "set",
    "handler",
    "listener",
];

/// Validates `svg` for figure `figure` and returns the `<svg …>…</svg>` element alone, without an
/// XML prolog, doctype or surrounding whitespace (neither belongs inside an HTML document).
///
/// Rejected: elements that run code or embed other documents (`<script>`, `<foreignObject>`, …),
/// event-handler attributes (`on…=`), `href`/`src` values other than `#fragment` or
/// `data:image/…` (and plotters' `data:png;base64,…`), `url(…)` or `@import` pointing anywhere but `#fragment`, `javascript:`,
/// numeric character references inside attribute values (they could spell any of the above),
/// and markup declarations other than comments.
pub fn sanitize_svg(figure: &str, svg: &str) -> Result<String, ReportError> {
    check(svg).map_err(|reason| ReportError::UnsafeSvg {
        figure: figure.to_owned(),
        reason,
    })
}

fn check(svg: &str) -> Result<String, String> {
    let body = strip_preamble(svg.trim())?;
    let lower = body.to_ascii_lowercase();
    let starts_with_svg = lower.starts_with("<svg")
        && lower[4..]
            .chars()
            .next()
            .is_some_and(|c| c == '>' || c.is_ascii_whitespace());
    if !starts_with_svg {
        return Err("the document does not start with an <svg> element".into());
    }
    if !lower.ends_with("</svg>") {
        return Err("the document does not end with </svg>".into());
    }
    scan(&lower)?;
    Ok(body.to_owned())
}

/// Drops a leading XML declaration, doctype and comments.
fn strip_preamble(mut text: &str) -> Result<&str, String> {
    loop {
        let (open, close) = if text.starts_with("<?xml") {
            ("<?xml", "?>")
        } else if text.starts_with("<!--") {
            ("<!--", "-->")
        } else if text.len() >= 9 && text[..9].eq_ignore_ascii_case("<!doctype") {
            ("<!doctype", ">")
        } else {
            return Ok(text);
        };
        let end = text[open.len()..]
            .find(close)
            .ok_or_else(|| format!("unterminated {open}"))?;
        text = text[open.len() + end + close.len()..].trim_start();
    }
}

/// Walks tags and text of the lower-cased document.
fn scan(doc: &str) -> Result<(), String> {
    let bytes = doc.as_bytes();
    let mut pos = 0;
    while pos < bytes.len() {
        let Some(offset) = doc[pos..].find('<') else {
            check_text(&doc[pos..])?;
            break;
        };
        check_text(&doc[pos..pos + offset])?;
        pos += offset;
        let rest = &doc[pos..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            let end = comment.find("-->").ok_or("unterminated comment")?;
            pos += 4 + end + 3;
        } else if rest.starts_with("<!") || rest.starts_with("<?") {
            return Err("markup declarations and processing instructions are not allowed".into());
        } else {
            pos = scan_tag(doc, pos)?;
        }
    }
    Ok(())
}

/// Checks one tag starting at `start` (a `<`) and returns the position after its `>`.
fn scan_tag(doc: &str, start: usize) -> Result<usize, String> {
    let bytes = doc.as_bytes();
    let mut pos = start + 1;
    if bytes.get(pos) == Some(&b'/') {
        pos += 1;
    }
    let name_start = pos;
    while pos < bytes.len() && is_name_byte(bytes[pos]) {
        pos += 1;
    }
    let name = &doc[name_start..pos];
    if name.is_empty() {
        return Err("a '<' that does not open a tag".into());
    }
    let local = name.rsplit(':').next().unwrap_or(name);
    if DENIED_ELEMENTS.contains(&local) {
        return Err(format!("element <{name}> is not allowed"));
    }
    loop {
        while pos < bytes.len() && (bytes[pos].is_ascii_whitespace() || bytes[pos] == b'/') {
            pos += 1;
        }
        match bytes.get(pos) {
            None => return Err(format!("unterminated tag <{name}>")),
            Some(b'>') => return Ok(pos + 1),
            Some(_) => {}
        }
        let attr_start = pos;
        while pos < bytes.len()
            && !bytes[pos].is_ascii_whitespace()
            && !matches!(bytes[pos], b'=' | b'>' | b'/')
        {
            pos += 1;
        }
        let attr = &doc[attr_start..pos];
        if attr.starts_with("on") {
            return Err(format!("event-handler attribute {attr:?} on <{name}>"));
        }
        while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if bytes.get(pos) != Some(&b'=') {
            continue;
        }
        pos += 1;
        while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let value = match bytes.get(pos) {
            Some(&quote @ (b'"' | b'\'')) => {
                let end = doc[pos + 1..]
                    .find(quote as char)
                    .ok_or_else(|| format!("unterminated value of {attr:?} on <{name}>"))?;
                let value = &doc[pos + 1..pos + 1 + end];
                pos += end + 2;
                value
            }
            _ => {
                let value_start = pos;
                while pos < bytes.len() && !bytes[pos].is_ascii_whitespace() && bytes[pos] != b'>' {
                    pos += 1;
                }
                &doc[value_start..pos]
            }
        };
        check_attribute(name, attr, value)?;
    }
}

fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b':' | b'_' | b'-' | b'.')
}

fn check_attribute(element: &str, attr: &str, value: &str) -> Result<(), String> {
    if value.contains("&#") {
        return Err(format!(
            "character reference in {attr:?} on <{element}> (it could hide a URL)"
        ));
    }
    let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.contains("javascript:") {
        return Err(format!("javascript: URL in {attr:?} on <{element}>"));
    }
    let is_link = attr == "href" || attr == "src" || attr.ends_with(":href");
    // plotters' SVG backend embeds bitmaps as `data:png;base64,…` (no `image/`), so that
    // spelling is accepted beside the standard one; both only ever decode to pixels.
    // SVG data URIs are refused as well: they are documents, not pixels.
    let inert_data = (compact.starts_with("data:image/") && !compact.starts_with("data:image/svg"))
        || compact.starts_with("data:png;base64,");
    if is_link && !(compact.starts_with('#') || inert_data) {
        return Err(format!(
            "external reference {value:?} in {attr:?} on <{element}>"
        ));
    }
    check_css_urls(&compact).map_err(|reason| format!("{reason} in {attr:?} on <{element}>"))
}

/// Text content matters only inside `<style>`, but checking all text is simpler and costs nothing:
/// figure labels never contain CSS.
fn check_text(text: &str) -> Result<(), String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.contains("@import") {
        return Err("css @import".into());
    }
    check_css_urls(&compact)
}

/// Every `url(` must point at a fragment of the document itself.
fn check_css_urls(compact: &str) -> Result<(), String> {
    let mut rest = compact;
    while let Some(found) = rest.find("url(") {
        rest = &rest[found + 4..];
        let target = rest.trim_start_matches(['"', '\'']);
        if !target.starts_with('#') {
            return Err("css url() pointing outside the document".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: &str = r##"<svg width="10" height="10" viewBox="0 0 10 10" xmlns="http://www.w3.org/2000/svg">
<defs><clipPath id="c"><rect x="0" y="0" width="10" height="10"/></clipPath></defs>
<g clip-path="url(#c)"><polyline fill="none" stroke="#1f77b4" points="0,0 5,5 10,2"/></g>
<text x="5" y="9" font-family="sans-serif">β₁ &lt; ρ</text>
<image href="data:image/png;base64,AAAA" width="1" height="1"/>
<image x="0" y="0" width="1" height="1" href="data:png;base64,AAAA"/>
<text x="1" y="1">it&apos;s &quot;quoted&quot;</text>
</svg>"##;

    fn reason(svg: &str) -> String {
        match check(svg) {
            Ok(_) => panic!("accepted unsafe svg: {svg}"),
            Err(reason) => reason,
        }
    }

    #[test]
    fn accepts_plotters_like_output_and_strips_the_prolog() {
        let with_prolog = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE svg>\n<!-- made by us -->\n{PLAIN}\n"
        );
        assert_eq!(check(&with_prolog).unwrap(), PLAIN);
        assert_eq!(check(PLAIN).unwrap(), PLAIN);
    }

    #[test]
    fn rejects_script_elements_in_any_case_or_namespace() {
        for svg in [
            "<svg><script>alert(1)</script></svg>",
            "<svg><SCRIPT >alert(1)</SCRIPT></svg>",
            "<svg><svg:script>alert(1)</svg:script></svg>",
            "<svg><foreignObject><div/></foreignObject></svg>",
            "<svg><set attributeName=\"href\" to=\"x\"/></svg>",
        ] {
            assert!(reason(svg).contains("is not allowed"), "{svg}");
        }
    }

    #[test]
    fn rejects_event_handlers_however_spelled() {
        for svg in [
            "<svg onload=\"alert(1)\"></svg>",
            "<svg><rect ONCLICK='x()'/></svg>",
            "<svg><rect width=\"1\"\nonmouseover=x()/></svg>",
            "<svg><g><rect x=\"1\" onfocus /></g></svg>",
        ] {
            assert!(reason(svg).contains("event-handler"), "{svg}");
        }
    }

    #[test]
    fn rejects_remote_and_script_urls() {
        for svg in [
            "<svg><image href=\"https://example.org/a.png\"/></svg>",
            "<svg><image href=\"data:text/html;base64,PHNjcmlwdD4=\"/></svg>",
            "<svg><image href=\"data:image/svg+xml;base64,PHN2Zz4=\"/></svg>",
            "<svg><use xlink:href=\"//example.org/a.svg#x\"/></svg>",
            "<svg><a href=\"javascript:alert(1)\"><text>x</text></a></svg>",
            "<svg><a href=\"&#106;avascript:alert(1)\"><text>x</text></a></svg>",
            "<svg><rect style=\"fill: url( 'http://example.org/p.svg#g' )\"/></svg>",
            "<svg><style>@import 'http://example.org/a.css';</style></svg>",
        ] {
            let why = reason(svg);
            assert!(
                why.contains("reference")
                    || why.contains("url")
                    || why.contains("@import")
                    || why.contains("javascript"),
                "{svg}: {why}"
            );
        }
    }

    #[test]
    fn rejects_documents_that_are_not_one_svg_element() {
        assert!(reason("<div>hi</div>").contains("does not start"));
        assert!(reason("<svg></svg><p>after</p>").contains("does not end"));
        assert!(reason("<svg><![CDATA[x]]></svg>").contains("markup declarations"));
        assert!(reason("<svg><rect x=\"1></svg>").contains("unterminated"));
        assert!(reason("<svg> 1 < 2 </svg>").contains("does not open a tag"));
    }
}
