//! Shared by the §3 and §4 integration tests: the verdicts expectations.toml expects.

/// The verdict expectations.toml expects for each claim on the quick profile (`[profile.quick]`);
/// a claim not listed is expected to be `reproduced` (evidence) or `passed` (a check).
pub fn expected_quick() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../expectations.toml"
    ))
    .expect("expectations.toml");
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == "[profile.quick]";
        } else if inside && line.starts_with('"') {
            let mut parts = line
                .split('"')
                .filter(|p| !p.trim().is_empty() && p.trim() != "=");
            if let (Some(id), Some(verdict)) = (parts.next(), parts.next()) {
                out.push((id.to_string(), verdict.to_string()));
            }
        }
    }
    out
}

/// Claims whose verdict differs from its expectation on the quick profile, with what was measured.
pub fn unexpected(claims: &[analysis::claims::Claim]) -> Vec<String> {
    let expected = expected_quick();
    claims
        .iter()
        .filter_map(|c| {
            let want = expected
                .iter()
                .find(|(id, _)| *id == c.id)
                .map(|(_, v)| v.as_str())
                .unwrap_or(match c.class {
                    analysis::claims::ClaimClass::Evidence => "reproduced",
                    analysis::claims::ClaimClass::Check => "passed",
                });
            let got = c.outcome().word();
            (got != want).then(|| format!("{}: {got} (expected {want}): {}", c.id, c.measured))
        })
        .collect()
}
