//! Pre-registered decision rules: the threshold of every evidence claim, declared in
//! `pipeline.toml` with a reason that does not depend on the outcome, before the run.
//!
//! An aggregator stage declares a `rules` table; each entry names one family of claims:
//!
//! ```toml
//! [stage.s4_sequential.rules]
//! switch_times = { threshold = 0.02, reason = "the O(η) Euler bias at η = 1e-3 is ≈ 0.01 in τ" }
//! sequence = { reason = "the order of argmax is discrete: any mismatch contradicts" }
//! ```
//!
//! A kind reads its thresholds from there ([`Rules::threshold`]) and stamps the rule on every claim
//! it decides with it ([`crate::claims::Claim::with_rule`]); the ledger refuses an evidence row
//! without a rule ([`crate::claims::Ledger`]), so a threshold cannot live only in code. A rule named
//! in code but missing from the table is an error naming the stage's `rules` table.
//!
//! ```
//! use stagekit::rules::Rules;
//! let rules: Rules = serde_json::from_value(serde_json::json!({
//!     "switch_times": { "threshold": 0.02, "reason": "Euler bias" },
//! }))
//! .unwrap();
//! assert_eq!(rules.threshold("switch_times").unwrap(), 0.02);
//! assert!(rules.get("sequence").is_err());
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::AnalysisError;
use pipeline::stage::{ParamSpec, ParamType};

/// One pre-registered rule: an optional numeric threshold and the reason it was chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The number the claim's statistic is compared with (a tolerance, a bound, a fraction); absent
    /// for rules that are exact (a discrete sequence, a sign, a count that must be 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Why this rule, in one line, independent of the outcome.
    pub reason: String,
}

/// The `rules` table of one stage: rule name → rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Rules(BTreeMap<String, Rule>);

/// A rule looked up by name, ready to be stamped on a claim.
#[derive(Debug, Clone, Copy)]
pub struct RuleRef<'r> {
    pub name: &'r str,
    pub rule: &'r Rule,
}

impl RuleRef<'_> {
    /// The rule as the ledger shows it: `name (≤ threshold): reason`.
    pub fn text(&self) -> String {
        match self.rule.threshold {
            // `{t}` is the shortest round-trip form, as written in pipeline.toml.
            Some(t) => format!("{} = {t}: {}", self.name, self.rule.reason),
            None => format!("{}: {}", self.name, self.rule.reason),
        }
    }
}

impl Rules {
    /// The rule called `name`, or an error naming the table it is missing from.
    pub fn get<'r>(&'r self, name: &str) -> Result<RuleRef<'r>, AnalysisError> {
        let (name, rule) = self.0.get_key_value(name).ok_or_else(|| {
            AnalysisError::invalid(format!(
                "no pre-registered rule `{name}` in this stage's `rules` table of pipeline.toml \
                 (declared: {}); every evidence claim's threshold is declared there with its reason",
                if self.0.is_empty() {
                    "none".to_string()
                } else {
                    self.0.keys().cloned().collect::<Vec<_>>().join(", ")
                }
            ))
        })?;
        if rule.reason.trim().is_empty() {
            return Err(AnalysisError::invalid(format!(
                "rule `{name}` in this stage's `rules` table of pipeline.toml has an empty reason"
            )));
        }
        Ok(RuleRef { name, rule })
    }

    /// The numeric threshold of the rule called `name`; an error if the rule is missing or has none.
    pub fn threshold(&self, name: &str) -> Result<f64, AnalysisError> {
        let rule = self.get(name)?;
        let value = rule.rule.threshold.ok_or_else(|| {
            AnalysisError::invalid(format!(
                "rule `{name}` in this stage's `rules` table of pipeline.toml needs a `threshold`"
            ))
        })?;
        if !value.is_finite() {
            return Err(AnalysisError::invalid(format!(
                "rule `{name}`: threshold {value} is not a finite number"
            )));
        }
        Ok(value)
    }
}

/// The `rules` parameter every aggregator with evidence claims declares (required: a stage
/// without its rules is refused when the plan is built).
pub fn rules_spec() -> ParamSpec {
    ParamSpec::new(
        "rules",
        ParamType::Any,
        "pre-registered decision rules: name → { threshold = x, reason = \"…\" }, fixed before the \
         run; every evidence claim of this stage is decided by one of them",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(value: serde_json::Value) -> Result<Rules, serde_json::Error> {
        serde_json::from_value(value)
    }

    #[test]
    fn a_missing_rule_is_an_error_that_names_the_table_and_what_is_declared() {
        let r = rules(serde_json::json!({ "a": { "threshold": 1.0, "reason": "r" } })).unwrap();
        let message = r.get("b").unwrap_err().to_string();
        assert!(
            message.contains("`b`") && message.contains("rules") && message.contains("declared: a")
        );
        assert_eq!(r.get("a").unwrap().text(), "a = 1: r");
    }

    #[test]
    fn a_rule_needs_a_reason_and_a_threshold_where_one_is_asked_for() {
        let r = rules(
            serde_json::json!({ "exact": { "reason": "discrete" }, "blank": { "reason": " " } }),
        )
        .unwrap();
        assert_eq!(r.get("exact").unwrap().text(), "exact: discrete");
        assert!(
            r.threshold("exact")
                .unwrap_err()
                .to_string()
                .contains("needs a `threshold`")
        );
        assert!(
            r.get("blank")
                .unwrap_err()
                .to_string()
                .contains("empty reason")
        );
        assert!(rules(serde_json::json!({ "x": { "threshold": 1.0 } })).is_err());
        assert!(rules(serde_json::json!({ "x": { "reason": "r", "tol": 1.0 } })).is_err());
    }
}
