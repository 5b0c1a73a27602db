//! What the first screen and the grouped ledger show, derived from the model alone: one verdict per
//! result of the paper from its evidence claims, and the ledger's rows grouped by section with
//! non-passing rows first.

use serde::Serialize;

use crate::model::{Claim, ClaimsSummary, PaperResult, ReportModel, Verdict};

/// The verdict of one result of the paper, from the evidence claims it selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResultVerdict {
    /// Every evidence claim reproduced.
    Reproduced,
    /// None contradicted, at least one inconclusive.
    Inconclusive,
    /// At least one evidence claim contradicted.
    Contradicted,
    /// No evidence claim selected: nothing on the page supports or refutes the result.
    NoEvidence,
}

impl ResultVerdict {
    pub fn word(self) -> &'static str {
        match self {
            Self::Reproduced => "reproduced",
            Self::Inconclusive => "inconclusive",
            Self::Contradicted => "contradicted",
            Self::NoEvidence => "no evidence",
        }
    }
}

/// One row of the first screen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultRow {
    pub result: PaperResult,
    pub verdict: ResultVerdict,
    /// Counts over the selected claims (evidence and checks apart).
    pub counts: ClaimsSummary,
    /// Every non-passing evidence row selected is listed in the ledger's known failures.
    pub all_expected: bool,
    /// Ids of the selected claims, in ledger order.
    pub claim_ids: Vec<String>,
    /// The claim to link the verdict to: the first non-passing evidence row, else the first row.
    pub first_claim: Option<String>,
    /// Patterns that selected nothing (shown on the row, never dropped silently).
    pub unmatched: Vec<String>,
    /// The counts behind the verdict in a few words, e.g. `5/6 claims · 1 check failed`.
    pub tally: String,
}

/// The first screen: one row per result, and the evidence no result claims.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultsSummary {
    pub rows: Vec<ResultRow>,
    /// Evidence claims selected by no result, in ledger order; shown as a row of their own.
    pub unmapped: Vec<String>,
    /// The verdict over `unmapped` (as if it were one more result).
    pub unmapped_verdict: ResultVerdict,
}

/// Whether `pattern` (an exact id, or a prefix ending in `*`) selects claim `id`.
pub fn selects(pattern: &str, id: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => id.starts_with(prefix),
        None => pattern == id,
    }
}

fn count(claims: &[&Claim]) -> ClaimsSummary {
    let mut summary = ClaimsSummary::default();
    for claim in claims {
        match (claim.check, claim.verdict) {
            (true, Verdict::Pass) => summary.passed += 1,
            (true, _) => summary.failed += 1,
            (false, Verdict::Pass) => summary.reproduced += 1,
            (false, Verdict::Inconclusive) => summary.inconclusive += 1,
            (false, Verdict::Fail) => summary.contradicted += 1,
        }
        if claim.expected && claim.verdict != Verdict::Pass {
            summary.expected += 1;
        }
    }
    summary
}

fn verdict_of(counts: &ClaimsSummary) -> ResultVerdict {
    if counts.contradicted > 0 {
        ResultVerdict::Contradicted
    } else if counts.inconclusive > 0 {
        ResultVerdict::Inconclusive
    } else if counts.reproduced > 0 {
        ResultVerdict::Reproduced
    } else {
        ResultVerdict::NoEvidence
    }
}

/// One row per result of `model.results`, each verdict derived from the evidence claims its
/// patterns select: contradicted if any is, else inconclusive if any is, else reproduced; with no
/// evidence claim at all the row says so. Checks are counted on the row but decide nothing.
pub fn summarize_results(model: &ReportModel) -> ResultsSummary {
    let mut rows = Vec::with_capacity(model.results.len());
    for result in &model.results {
        let selected: Vec<&Claim> = model
            .claims
            .iter()
            .filter(|claim| result.claims.iter().any(|p| selects(p, &claim.id)))
            .collect();
        let unmatched = result
            .claims
            .iter()
            .filter(|pattern| !model.claims.iter().any(|claim| selects(pattern, &claim.id)))
            .cloned()
            .collect();
        let counts = count(&selected);
        let verdict = verdict_of(&counts);
        let evidence = counts.reproduced + counts.inconclusive + counts.contradicted;
        let mut tally = Vec::new();
        if evidence > 0 {
            tally.push(format!("{}/{evidence} claims", counts.reproduced));
        }
        if counts.failed > 0 {
            tally.push(format!(
                "{} check{} failed",
                counts.failed,
                if counts.failed == 1 { "" } else { "s" }
            ));
        }
        let issues: Vec<&&Claim> = selected
            .iter()
            .filter(|claim| !claim.check && claim.verdict != Verdict::Pass)
            .collect();
        rows.push(ResultRow {
            result: result.clone(),
            verdict,
            counts,
            all_expected: !issues.is_empty() && issues.iter().all(|claim| claim.expected),
            claim_ids: selected.iter().map(|claim| claim.id.clone()).collect(),
            first_claim: issues
                .first()
                .map(|claim| claim.id.clone())
                .or_else(|| selected.first().map(|claim| claim.id.clone())),
            unmatched,
            tally: tally.join(" · "),
        });
    }
    let unmapped: Vec<&Claim> = model
        .claims
        .iter()
        .filter(|claim| {
            !claim.check
                && !model
                    .results
                    .iter()
                    .any(|result| result.claims.iter().any(|p| selects(p, &claim.id)))
        })
        .collect();
    ResultsSummary {
        rows,
        unmapped_verdict: verdict_of(&count(&unmapped)),
        unmapped: unmapped.iter().map(|claim| claim.id.clone()).collect(),
    }
}

/// The ledger rows of one section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerGroup {
    /// Section id; the group's anchor is `claims-<section>`.
    pub section: String,
    pub title: String,
    pub counts: ClaimsSummary,
    /// The group's counts in words, e.g. `12 claims: 10 reproduced, 1 contradicted (expected) ·
    /// 1 check passed`.
    pub line: String,
    /// Whether a row did not pass (expected or not).
    pub has_failures: bool,
    pub claims: Vec<Claim>,
}

/// Where a row goes within its group: unexpected contradicted or failed rows, then unexpected
/// inconclusive ones, then non-passing rows documented as expected, then passing rows.
pub fn row_rank(claim: &Claim) -> u8 {
    match (claim.verdict, claim.expected) {
        (Verdict::Fail, false) => 0,
        (Verdict::Inconclusive, false) => 1,
        (Verdict::Fail | Verdict::Inconclusive, true) => 2,
        (Verdict::Pass, _) => 3,
    }
}

/// The ledger grouped by section in page order (sections without claims have no group), rows
/// ordered by [`row_rank`] and otherwise as in the model.
pub fn ledger_groups(model: &ReportModel) -> Vec<LedgerGroup> {
    model
        .sections
        .iter()
        .filter_map(|section| {
            let mut claims: Vec<Claim> = model
                .claims
                .iter()
                .filter(|claim| claim.section == section.id)
                .cloned()
                .collect();
            if claims.is_empty() {
                return None;
            }
            claims.sort_by_key(row_rank);
            let counts = count(&claims.iter().collect::<Vec<_>>());
            Some(LedgerGroup {
                section: section.id.clone(),
                title: section.title.clone(),
                line: group_line(claims.len(), &counts),
                has_failures: counts.has_failures(),
                counts,
                claims,
            })
        })
        .collect()
}

/// `N claims: R reproduced, I inconclusive, C contradicted (K expected) · M checks: P passed, F
/// failed` (`M checks passed` when none failed), leaving out the zero counts.
fn group_line(total: usize, counts: &ClaimsSummary) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut evidence = Vec::new();
    for (n, word) in [
        (counts.reproduced, "reproduced"),
        (counts.inconclusive, "inconclusive"),
        (counts.contradicted, "contradicted"),
    ] {
        if n > 0 {
            evidence.push(format!("{n} {word}"));
        }
    }
    let mut line = plural(total, "claim");
    if !evidence.is_empty() {
        line.push_str(": ");
        line.push_str(&evidence.join(", "));
    }
    if counts.expected > 0 {
        line.push_str(&format!(" ({} expected)", counts.expected));
    }
    let checks = counts.passed + counts.failed;
    if checks > 0 {
        line.push_str(" · ");
        line.push_str(&plural(checks, "check"));
        if counts.failed == 0 {
            line.push_str(" passed");
        } else {
            line.push_str(&format!(
                ": {} passed, {} failed",
                counts.passed, counts.failed
            ));
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::sample_model;

    fn claim(id: &str, verdict: Verdict) -> Claim {
        Claim {
            id: id.into(),
            section: "s".into(),
            statement: String::new(),
            measurement: String::new(),
            tolerance: String::new(),
            measured: String::new(),
            verdict,
            figure: None,
            check: false,
            expected: false,
            rule: None,
        }
    }

    fn result(id: &str, patterns: &[&str]) -> PaperResult {
        PaperResult {
            id: id.into(),
            title: id.into(),
            measured: String::new(),
            section: None,
            figure: None,
            claims: patterns.iter().map(|p| (*p).into()).collect(),
        }
    }

    #[test]
    fn patterns_are_exact_ids_or_star_prefixes() {
        assert!(selects("s3.linf.regimes.*", "s3.linf.regimes.blowup"));
        assert!(!selects("s3.linf.regimes.*", "s3.linf.phase.gd.L2"));
        assert!(selects("s3.depth1.not_l1mm", "s3.depth1.not_l1mm"));
        assert!(!selects("s3.depth1", "s3.depth1.not_l1mm"));
        assert!(selects("*", "anything"));
    }

    #[test]
    fn a_result_is_contradicted_by_one_row_and_checks_decide_nothing() {
        let mut model = sample_model();
        let mut failed_check = claim("c.check", Verdict::Fail);
        failed_check.check = true;
        let mut expected = claim("b.known", Verdict::Fail);
        expected.expected = true;
        model.claims = vec![
            claim("a.one", Verdict::Pass),
            claim("a.two", Verdict::Inconclusive),
            expected,
            failed_check,
            claim("d.one", Verdict::Pass),
            claim("e.loose", Verdict::Fail),
        ];
        model.results = vec![
            result("mixed", &["a.*", "b.*"]),
            result("unsure", &["a.*"]),
            result("checks-only", &["c.*"]),
            result("clean", &["d.one", "d.missing"]),
            result("nothing", &["z.*"]),
        ];
        let summary = summarize_results(&model);
        let verdicts: Vec<ResultVerdict> = summary.rows.iter().map(|row| row.verdict).collect();
        assert_eq!(
            verdicts,
            [
                ResultVerdict::Contradicted,
                ResultVerdict::Inconclusive,
                ResultVerdict::NoEvidence,
                ResultVerdict::Reproduced,
                ResultVerdict::NoEvidence,
            ]
        );
        let mixed = &summary.rows[0];
        assert_eq!(mixed.claim_ids, ["a.one", "a.two", "b.known"]);
        assert_eq!(mixed.first_claim.as_deref(), Some("a.two"));
        assert!(
            !mixed.all_expected,
            "a.two is inconclusive and not expected"
        );
        assert_eq!(mixed.tally, "1/3 claims");
        assert_eq!(summary.rows[2].counts.failed, 1);
        assert_eq!(summary.rows[2].tally, "1 check failed");
        assert_eq!(summary.rows[3].unmatched, ["d.missing"]);
        assert_eq!(summary.rows[4].unmatched, ["z.*"]);
        assert_eq!(summary.rows[4].first_claim, None);
        // Evidence no result selects is reported, checks are not.
        assert_eq!(summary.unmapped, ["e.loose"]);
        assert_eq!(summary.unmapped_verdict, ResultVerdict::Contradicted);
    }

    #[test]
    fn groups_follow_section_order_with_failures_first_and_count_their_rows() {
        let mut model = sample_model();
        let section = |claim: Claim, id: &str| Claim {
            section: id.into(),
            ..claim
        };
        let mut expected = claim("linf.c", Verdict::Fail);
        expected.expected = true;
        let mut check = claim("linf.e", Verdict::Pass);
        check.check = true;
        model.claims = vec![
            section(claim("linf.a", Verdict::Pass), "linf"),
            section(expected, "linf"),
            section(check, "linf"),
            section(claim("linf.d", Verdict::Inconclusive), "linf"),
            section(claim("linf.f", Verdict::Fail), "linf"),
            section(claim("depth1.a", Verdict::Pass), "depth1"),
        ];
        let groups = ledger_groups(&model);
        let sections: Vec<&str> = groups.iter().map(|g| g.section.as_str()).collect();
        // Page order, not claim order; `flows` has no claim left, so no group.
        assert_eq!(sections, ["depth1", "linf"]);
        let order: Vec<&str> = groups[1].claims.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(order, ["linf.f", "linf.d", "linf.c", "linf.a", "linf.e"]);
        assert_eq!(
            groups[1].line,
            "5 claims: 1 reproduced, 1 inconclusive, 2 contradicted (1 expected) · 1 check passed"
        );
        assert!(groups[1].has_failures && !groups[0].has_failures);
        assert_eq!(groups[0].line, "1 claim: 1 reproduced");
    }
}
