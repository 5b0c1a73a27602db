//! The claims ledger: every claim of the paper (and of our extensions) with the measurement that tests
//! it, its tolerance, the measured value and a verdict. Stages write `claims.json`; the
//! `claims.ledger` kind gathers them into one table that `minorfirst verify` and the report read.

use std::path::Path;

use pipeline::stage::{ParamSchema, ParamSpec, ParamType, StageKind, TaskContext, TaskError};
use serde::{Deserialize, Serialize};

use crate::artifacts::{read_json, write_json};
use crate::error::AnalysisError;
use crate::table::{Columns, write_and_publish};

/// File name of a task's claims inside its object.
pub const CLAIMS_FILE: &str = "claims.json";
/// File name of the gathered ledger inside the ledger task's object.
pub const LEDGER_FILE: &str = "ledger.json";

/// What a row of the ledger is worth as evidence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClaimClass {
    /// A measurement that could have come out against the paper: its verdict is
    /// [`Verdict::Reproduced`], [`Verdict::Inconclusive`] or [`Verdict::Contradicted`].
    #[default]
    Evidence,
    /// True by construction of the experiment (a grid that brackets its own threshold, a quantity
    /// that is monotone by definition, ...): a consistency check of the code, not evidence for the
    /// paper. Its verdict is [`Verdict::Passed`] or [`Verdict::Failed`].
    Check,
}

/// The verdict of one row; which values apply depends on its [`ClaimClass`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Evidence: the measurement agrees with the paper within the stated tolerance.
    Reproduced,
    /// Evidence: the measurement can decide neither way (e.g. the run did not reach the regime).
    Inconclusive,
    /// Evidence: the measurement disagrees with the paper beyond the stated tolerance.
    Contradicted,
    /// Check: the consistency check holds.
    Passed,
    /// Check: the consistency check does not hold (a bug in the code, not a finding).
    Failed,
}

impl Verdict {
    /// Lower-case word shown in the ledger, e.g. `reproduced`.
    pub fn word(self) -> &'static str {
        match self {
            Self::Reproduced => "reproduced",
            Self::Inconclusive => "inconclusive",
            Self::Contradicted => "contradicted",
            Self::Passed => "passed",
            Self::Failed => "failed",
        }
    }
}

/// One row of the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// Stable id, e.g. `thm3.2.regimes.L2`.
    pub id: String,
    /// Report section id, e.g. `linf`.
    pub section: String,
    /// The claim, in the paper's words or ours.
    pub statement: String,
    /// How it is tested.
    pub measurement: String,
    /// The tolerance, in words (and why).
    pub tolerance: String,
    /// The measured value, formatted.
    pub measured: String,
    pub pass: bool,
    /// Figure id (anchor in the report) that shows it.
    pub figure: Option<String>,
    /// A failure listed in the ledger stage's `known_failures`: still FAIL in the ledger and the
    /// report (never tuned away), but documented as a finding, so `verify` does not treat it as a
    /// regression. Set only by the ledger.
    #[serde(default)]
    pub known: bool,
    /// Evidence (the default) or a check true by construction; set with [`Claim::check`].
    #[serde(default)]
    pub class: ClaimClass,
    /// An evidence row whose measurement decides neither way (set with [`Claim::inconclusive`]);
    /// `pass` is then false, and the row counts neither as reproduced nor as contradicted.
    #[serde(default)]
    pub inconclusive: bool,
    /// The negative control of a "SAM does X unlike GD" claim: the same statistic measured on GD
    /// (or ρ = 0) through the same code, formatted; set with [`Claim::with_control`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<String>,
    /// The pre-registered rule that decides the row (`name = threshold: reason`, from its stage's
    /// `rules` table in pipeline.toml); set with [`Claim::with_rule`]. Every evidence row has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl Claim {
    /// A claim tested as |measured − expected| ≤ tol.
    #[allow(clippy::too_many_arguments)]
    pub fn within(
        id: &str,
        section: &str,
        statement: &str,
        measurement: &str,
        measured: f64,
        expected: f64,
        tolerance: f64,
        why: &str,
    ) -> Self {
        let pass = (measured - expected).abs() <= tolerance;
        Self {
            id: id.into(),
            section: section.into(),
            statement: statement.into(),
            measurement: measurement.into(),
            tolerance: format!("|measured − {expected:.6}| ≤ {tolerance:.1e} ({why})"),
            measured: format!("{measured:.6}"),
            pass,
            figure: None,
            known: false,
            class: ClaimClass::Evidence,
            inconclusive: false,
            control: None,
            rule: None,
        }
    }

    /// A claim whose verdict the caller decided (a boolean property, a count, a sequence).
    pub fn verdict(
        id: &str,
        section: &str,
        statement: &str,
        measurement: &str,
        tolerance: &str,
        measured: String,
        pass: bool,
    ) -> Self {
        Self {
            id: id.into(),
            section: section.into(),
            statement: statement.into(),
            measurement: measurement.into(),
            tolerance: tolerance.into(),
            measured,
            pass,
            figure: None,
            known: false,
            class: ClaimClass::Evidence,
            inconclusive: false,
            control: None,
            rule: None,
        }
    }

    pub fn with_figure(mut self, figure: &str) -> Self {
        self.figure = Some(figure.into());
        self
    }

    /// Records the pre-registered rule (from the stage's `rules` table) that decided this row.
    /// A row decided by two rules (e.g. a time and a relative error) calls this twice.
    pub fn with_rule(mut self, rule: crate::rules::RuleRef<'_>) -> Self {
        self.rule = Some(match self.rule.take() {
            Some(first) => format!("{first}; {}", rule.text()),
            None => rule.text(),
        });
        self
    }

    /// Marks the row a check: true by construction of the experiment, so it verifies the code and
    /// is not counted as evidence for the paper. The measurement and verdict are unchanged.
    pub fn check(mut self) -> Self {
        self.class = ClaimClass::Check;
        self
    }

    /// Marks an evidence row inconclusive: the measurement decides neither way. `pass` becomes
    /// false so that nothing reading only `pass` counts it as reproduced.
    pub fn inconclusive(mut self) -> Self {
        self.inconclusive = true;
        self.pass = false;
        self
    }

    /// Attaches the negative control of a "SAM does X unlike GD" claim: `measured` is the same
    /// statistic on the control run(s) (GD, or ρ = 0, through the same code), shown beside the SAM
    /// value in the ledger. `differs` says whether the control comes out differently from the
    /// paper's prediction for SAM. If it does not, the row is not evidence that SAM does X: a
    /// reproduced row becomes inconclusive, and the measured text says why.
    pub fn with_control(mut self, label: &str, measured: &str, differs: bool) -> Self {
        let control = format!("{label}: {measured}");
        self.measured = if differs {
            format!("{} · control {control}", self.measured)
        } else {
            format!(
                "{} · control {control} — the control meets the prediction too, so this does not \
                 single out SAM",
                self.measured
            )
        };
        self.control = Some(control);
        if !differs && self.class == ClaimClass::Evidence && self.pass {
            self = self.inconclusive();
        }
        self
    }

    /// The row's verdict, from its class, `pass` and `inconclusive`.
    pub fn outcome(&self) -> Verdict {
        match (self.class, self.pass, self.inconclusive) {
            (ClaimClass::Check, true, _) => Verdict::Passed,
            (ClaimClass::Check, false, _) => Verdict::Failed,
            (ClaimClass::Evidence, true, _) => Verdict::Reproduced,
            (ClaimClass::Evidence, false, true) => Verdict::Inconclusive,
            (ClaimClass::Evidence, false, false) => Verdict::Contradicted,
        }
    }
}

/// Counts of a ledger's verdicts, the two classes apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerdictCounts {
    pub reproduced: usize,
    pub inconclusive: usize,
    pub contradicted: usize,
    /// Non-passing rows listed in the ledger's `known_failures`.
    pub expected: usize,
    pub passed: usize,
    pub failed: usize,
}

impl VerdictCounts {
    pub fn of(claims: &[Claim]) -> Self {
        let mut counts = Self::default();
        for claim in claims {
            match claim.outcome() {
                Verdict::Reproduced => counts.reproduced += 1,
                Verdict::Inconclusive => counts.inconclusive += 1,
                Verdict::Contradicted => counts.contradicted += 1,
                Verdict::Passed => counts.passed += 1,
                Verdict::Failed => counts.failed += 1,
            }
            if !claim.pass && claim.known {
                counts.expected += 1;
            }
        }
        counts
    }
}

impl std::fmt::Display for VerdictCounts {
    /// `claims: evidence: 54 reproduced, 0 inconclusive, 2 contradicted (2 expected) · checks: 30
    /// passed, 0 failed` — the headline `run` prints and the report states.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "claims: evidence: {} reproduced, {} inconclusive, {} contradicted",
            self.reproduced, self.inconclusive, self.contradicted
        )?;
        if self.expected > 0 {
            write!(f, " ({} expected)", self.expected)?;
        }
        write!(
            f,
            " · checks: {} passed, {} failed",
            self.passed, self.failed
        )
    }
}

/// Write a task's claims.
pub fn write_claims(out_dir: &Path, claims: &[Claim]) -> Result<(), AnalysisError> {
    write_json(&out_dir.join(CLAIMS_FILE), &claims)
}

/// The `claims.ledger` kind: gathers `claims.json` from every input, rejects duplicate ids, and
/// writes `ledger.json` plus the `claims` table (published as CSV + Parquet).
pub struct Ledger;

impl StageKind for Ledger {
    fn name(&self) -> &'static str {
        "claims.ledger"
    }
    fn fingerprint(&self) -> &'static str {
        crate::fingerprint::FINGERPRINT
    }
    fn schema(&self) -> ParamSchema {
        ParamSchema::new(vec![
            ParamSpec::new(
                "table",
                ParamType::Str { choices: None },
                "name of the published table (reports/tables/<table>.csv): one per ledger stage",
            )
            .with_default(serde_json::Value::String("claims".into())),
            ParamSpec::new(
                "known_failures",
                ParamType::StrVec,
                "claim ids expected not to pass (filled in from expectations.toml by the binary): \
                 a documented finding of this reproduction, not a regression",
            )
            .with_default(serde_json::Value::Array(Vec::new())),
            ParamSpec::new(
                "require_rules",
                ParamType::Bool,
                "refuse an evidence row that names no pre-registered rule (stagekit::rules): its \
                 threshold would live only in code",
            )
            .with_default(true),
        ])
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        #[derive(serde::Deserialize)]
        struct Params {
            table: String,
            known_failures: Vec<String>,
            require_rules: bool,
        }
        let params: Params = ctx.params()?;
        if params.table.is_empty()
            || !params
                .table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(AnalysisError::invalid(format!(
                "ledger table name {:?} must be non-empty ASCII letters, digits, '_' or '-'",
                params.table
            ))
            .into());
        }
        let mut claims: Vec<Claim> = Vec::new();
        for input in ctx.inputs {
            let path = input.path(CLAIMS_FILE);
            if path.exists() {
                claims.extend(read_json::<Vec<Claim>>(&path)?);
            }
        }
        claims.sort_by(|a, b| a.id.cmp(&b.id));
        if let Some(pair) = claims.windows(2).find(|pair| pair[0].id == pair[1].id) {
            return Err(AnalysisError::invalid(format!(
                "claim id {:?} is produced twice",
                pair[0].id
            ))
            .into());
        }
        if params.require_rules {
            let unruled: Vec<&str> = claims
                .iter()
                .filter(|c| c.class == ClaimClass::Evidence && c.rule.is_none())
                .map(|c| c.id.as_str())
                .collect();
            if !unruled.is_empty() {
                return Err(AnalysisError::invalid(format!(
                    "{} evidence claim(s) name no pre-registered rule (a `rules` entry of their \
                     stage in pipeline.toml): {}",
                    unruled.len(),
                    unruled.join(", ")
                ))
                .into());
            }
        }
        for claim in &mut claims {
            claim.known = !claim.pass && params.known_failures.contains(&claim.id);
        }
        // Ids this ledger does not make are ignored: the binary gives every ledger stage the
        // whole list from expectations.toml, and `verify` reports ids that no ledger makes.
        write_json(&ctx.out_dir.join(LEDGER_FILE), &claims)?;
        let column = |f: fn(&Claim) -> String| claims.iter().map(f).collect::<Vec<_>>();
        let mut df = Columns::new()
            .str("id", column(|c| c.id.clone()))
            .str("section", column(|c| c.section.clone()))
            .str("statement", column(|c| c.statement.clone()))
            .str("measurement", column(|c| c.measurement.clone()))
            .str("tolerance", column(|c| c.tolerance.clone()))
            .str("measured", column(|c| c.measured.clone()))
            .str("verdict", column(|c| verdict_text(c).into()))
            .str("figure", column(|c| c.figure.clone().unwrap_or_default()))
            .str("rule", column(|c| c.rule.clone().unwrap_or_default()))
            .finish()?;
        write_and_publish(&mut df, ctx.out_dir, &params.table)?;
        Ok(())
    }
}

/// The verdict's word (`reproduced`, `inconclusive`, `contradicted`, `passed`, `failed`), with
/// ` (expected)` for a non-passing row listed in `known_failures`.
pub fn verdict_text(claim: &Claim) -> &'static str {
    match (claim.outcome(), claim.known) {
        (Verdict::Inconclusive, true) => "inconclusive (expected)",
        (Verdict::Contradicted, true) => "contradicted (expected)",
        (Verdict::Failed, true) => "failed (expected)",
        (verdict, _) => verdict.word(),
    }
}

/// A claim whose verdict differs when every seed is replaced by a disjoint one
/// (`minorfirst verify --reseed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedFlip {
    pub id: String,
    /// Verdict and measurement under the plan's seeds.
    pub original: Verdict,
    pub original_measured: String,
    /// Verdict and measurement under the disjoint seeds.
    pub reseeded: Verdict,
    pub reseeded_measured: String,
}

/// Compares a ledger with the same ledger recomputed under disjoint seeds: the number of claims
/// present in both, and those whose verdict differs (in id order).
pub fn seed_flips(original: &[Claim], reseeded: &[Claim]) -> (usize, Vec<SeedFlip>) {
    let mut compared = 0;
    let mut flips = Vec::new();
    let mut sorted: Vec<&Claim> = original.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    for claim in sorted {
        let Some(other) = reseeded.iter().find(|other| other.id == claim.id) else {
            continue;
        };
        compared += 1;
        if other.outcome() != claim.outcome() {
            flips.push(SeedFlip {
                id: claim.id.clone(),
                original: claim.outcome(),
                original_measured: claim.measured.clone(),
                reseeded: other.outcome(),
                reseeded_measured: other.measured.clone(),
            });
        }
    }
    (compared, flips)
}

/// Applies [`seed_flips`] to a ledger: a verdict that flips with the seeds is evidence neither way,
/// so an evidence row becomes inconclusive and a check fails (a check must not depend on seeds).
/// The statement says what the other seeds gave.
pub fn apply_seed_flips(claims: &mut [Claim], flips: &[SeedFlip], how: &str) {
    for claim in claims {
        let Some(flip) = flips.iter().find(|flip| flip.id == claim.id) else {
            continue;
        };
        match claim.class {
            ClaimClass::Evidence => {
                claim.inconclusive = true;
                claim.pass = false;
            }
            ClaimClass::Check => claim.pass = false,
        }
        claim.statement = format!(
            "{} [Flips with the seeds: {} here, {} with disjoint seeds ({how}; measured {}).]",
            claim.statement,
            flip.original.word(),
            flip.reseeded.word(),
            flip.reseeded_measured
        );
    }
}

/// Read a ledger written by [`Ledger`].
pub fn read_ledger(path: &Path) -> Result<Vec<Claim>, AnalysisError> {
    read_json(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, pass: bool) -> Claim {
        Claim::verdict(id, "s", "st", "m", "t", "x".into(), pass)
    }

    #[test]
    fn verdicts_follow_class_and_defaults_keep_todays_meaning() {
        assert_eq!(row("a", true).outcome(), Verdict::Reproduced);
        assert_eq!(row("a", false).outcome(), Verdict::Contradicted);
        assert_eq!(row("a", true).check().outcome(), Verdict::Passed);
        assert_eq!(row("a", false).check().outcome(), Verdict::Failed);
        let unsure = row("a", true).inconclusive();
        assert!(!unsure.pass);
        assert_eq!(unsure.outcome(), Verdict::Inconclusive);
        // A ledger written before classes existed reads as evidence.
        let old = r#"{"id":"a","section":"s","statement":"st","measurement":"m","tolerance":"t",
            "measured":"x","pass":true,"figure":null}"#;
        let claim: Claim = serde_json::from_str(old).unwrap();
        assert_eq!(claim.class, ClaimClass::Evidence);
        assert_eq!(claim.outcome(), Verdict::Reproduced);
    }

    #[test]
    fn a_control_that_does_it_too_makes_the_row_inconclusive() {
        let distinct = row("a", true).with_control("GD", "major throughout", true);
        assert_eq!(distinct.outcome(), Verdict::Reproduced);
        assert_eq!(distinct.control.as_deref(), Some("GD: major throughout"));
        assert!(
            distinct
                .measured
                .ends_with("· control GD: major throughout")
        );
        let same = row("b", true).with_control("GD", "minor first", false);
        assert_eq!(same.outcome(), Verdict::Inconclusive);
        assert!(same.measured.contains("does not single out SAM"));
        // A contradicted row stays contradicted: the control cannot rescue a failed prediction.
        let failed = row("c", false).with_control("GD", "x", false);
        assert_eq!(failed.outcome(), Verdict::Contradicted);
    }

    #[test]
    fn verdicts_that_flip_with_the_seeds_become_inconclusive() {
        let original = vec![
            row("a", true),
            row("b", true),
            row("c", false),
            row("d", true).check(),
        ];
        let mut reseeded = vec![
            row("a", true),
            row("b", false),
            row("c", true),
            row("d", false).check(),
        ];
        reseeded.push(row("e", true));
        let (compared, flips) = seed_flips(&original, &reseeded);
        assert_eq!(compared, 4);
        let ids: Vec<&str> = flips.iter().map(|flip| flip.id.as_str()).collect();
        assert_eq!(ids, ["b", "c", "d"]);
        assert_eq!(flips[0].reseeded, Verdict::Contradicted);
        let mut combined = original.clone();
        apply_seed_flips(&mut combined, &flips, "s → s + 1");
        let outcomes: Vec<Verdict> = combined.iter().map(Claim::outcome).collect();
        assert_eq!(
            outcomes,
            [
                Verdict::Reproduced,
                Verdict::Inconclusive,
                Verdict::Inconclusive,
                Verdict::Failed
            ]
        );
        assert!(
            combined[1]
                .statement
                .contains("reproduced here, contradicted with disjoint seeds")
        );
    }

    #[test]
    fn headline_counts_the_two_classes_apart() {
        let mut known = row("c", false);
        known.known = true;
        let claims = vec![
            row("a", true),
            row("b", true).check(),
            known,
            row("d", true).inconclusive(),
            row("e", true).check(),
        ];
        assert_eq!(
            VerdictCounts::of(&claims).to_string(),
            "claims: evidence: 1 reproduced, 1 inconclusive, 1 contradicted (1 expected) · checks: 2 passed, 0 failed"
        );
        assert_eq!(verdict_text(&claims[2]), "contradicted (expected)");
        assert_eq!(verdict_text(&claims[1]), "passed");
    }

    /// Runs the ledger kind over one input holding `claims`, with `require_rules`.
    fn ledger_over(claims: &[Claim], require_rules: bool) -> Result<Vec<Claim>, String> {
        let input = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        write_claims(input.path(), claims).unwrap();
        let inputs = vec![pipeline::stage::InputArtifact {
            stage: "producer".into(),
            kind: "test.producer".into(),
            params: serde_json::json!({}),
            key: "0".repeat(64),
            dir: input.path().to_path_buf(),
        }];
        let params = serde_json::json!({
            "table": "claims",
            "known_failures": [],
            "require_rules": require_rules,
        });
        let ctx = TaskContext {
            stage: "ledger",
            params: &params,
            inputs: &inputs,
            out_dir: out.path(),
        };
        Ledger.run(&ctx).map_err(|e| e.to_string())?;
        Ok(read_ledger(&out.path().join(LEDGER_FILE)).unwrap())
    }

    #[test]
    fn the_ledger_refuses_evidence_without_a_pre_registered_rule_and_keeps_the_rule() {
        let rules: crate::rules::Rules = serde_json::from_value(serde_json::json!({
            "tol": { "threshold": 0.5, "reason": "fixed before the run" },
        }))
        .unwrap();
        let ruled = row("a", true).with_rule(rules.get("tol").unwrap());
        let check = row("b", true).check();
        let bare = row("c", false);
        let message = ledger_over(&[ruled.clone(), check.clone(), bare.clone()], true).unwrap_err();
        assert!(
            message.contains("1 evidence claim(s) name no pre-registered rule")
                && message.contains(": c"),
            "{message}"
        );
        // Checks need no rule; a ruled evidence row keeps its rule text into the ledger.
        let ledger = ledger_over(&[ruled, check], true).unwrap();
        assert_eq!(
            ledger[0].rule.as_deref(),
            Some("tol = 0.5: fixed before the run")
        );
        // A ledger that opts out (stated in pipeline.toml) accepts the bare row.
        assert_eq!(ledger_over(&[bare], false).unwrap().len(), 1);
    }

    #[test]
    fn a_row_decided_by_two_rules_shows_both() {
        let rules: crate::rules::Rules = serde_json::from_value(serde_json::json!({
            "t": { "threshold": 0.02, "reason": "time" },
            "exact": { "reason": "discrete" },
        }))
        .unwrap();
        let claim = row("a", true)
            .with_rule(rules.get("t").unwrap())
            .with_rule(rules.get("exact").unwrap());
        assert_eq!(
            claim.rule.as_deref(),
            Some("t = 0.02: time; exact: discrete")
        );
    }
}
