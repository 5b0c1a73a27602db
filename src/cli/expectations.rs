//! `expectations.toml`: the verdict each claim is expected to have, per profile, kept in the
//! repository beside `pipeline.toml` (it replaces the ledger stages' hand-kept `known_failures`).
//!
//! A claim not listed is expected to be `reproduced` (evidence) or `passed` (a check). `verify`
//! exits 4 when any verdict differs from its expectation — in either direction: a contradiction
//! that starts to reproduce is a change to look at as much as a regression is — or when the file
//! names a claim that no ledger makes. The non-passing expectations reach the ledger stages as
//! their `known_failures` parameter, so the ledger and the page mark them `(expected)`.
//!
//! A profile's `reseeded` sub-table (`[profile.quick.reseeded]`) states the verdict a claim is
//! expected to have once its ledger has been recomputed with disjoint seeds (`verify --reseed`),
//! where that differs: a verdict that flips with the seeds is inconclusive (a check: failed), and
//! that is a finding to record, not a threshold to move. It applies whenever the shifted ledgers are
//! in the store; before that, the plain entry does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use stagekit::claims::{Claim, ClaimClass, Verdict};

use super::exit::CliError;

/// File name, looked up beside the pipeline file.
pub const FILE: &str = "expectations.toml";

/// The expectations of one profile.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// Where they were read from (`None`: no file, every claim is expected to pass).
    pub path: Option<PathBuf>,
    pub verdicts: BTreeMap<String, Verdict>,
    /// Verdicts expected once the disjoint-seed ledgers are in the store, where they differ.
    pub reseeded: BTreeMap<String, Verdict>,
}

/// One claim whose verdict is not the one expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub id: String,
    pub expected: Verdict,
    pub got: Verdict,
}

impl Expectations {
    /// Read the `[profile.<name>]` table (`default` when no profile is given) of the
    /// `expectations.toml` beside `pipeline_file`. A missing file means "every claim passes"; a
    /// malformed one is bad input naming the file and the key.
    pub fn load(pipeline_file: &Path, profile: Option<&str>) -> Result<Self, CliError> {
        let dir = pipeline_file
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let path = dir.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self::default());
            }
            Err(error) => {
                return Err(CliError::bad_input(format!(
                    "cannot read {}: {error}",
                    path.display()
                )));
            }
        };
        let profile = profile.unwrap_or("default");
        Self::parse(&text, profile, &path)
    }

    fn parse(text: &str, profile: &str, path: &Path) -> Result<Self, CliError> {
        let bad = |reason: String| CliError::bad_input(format!("{}: {reason}", path.display()));
        let table: toml::Table = toml::from_str(text).map_err(|error| bad(error.to_string()))?;
        for key in table.keys() {
            if key != "profile" {
                return Err(bad(format!(
                    "unknown top-level key `{key}` (expected only [profile.<name>] tables)"
                )));
            }
        }
        let mut verdicts = BTreeMap::new();
        let mut reseeded = BTreeMap::new();
        let section = table
            .get("profile")
            .and_then(|profiles| profiles.get(profile));
        if let Some(section) = section {
            let section = section
                .as_table()
                .ok_or_else(|| bad(format!("`profile.{profile}` must be a table")))?;
            let verdict_of = |id: &str, value: &toml::Value, table: &str| {
                value.as_str().and_then(parse_verdict).ok_or_else(|| {
                    bad(format!(
                        "`{table}.\"{id}\"`: expected one of \"reproduced\", \"inconclusive\", \
                         \"contradicted\", \"passed\", \"failed\", got {value}"
                    ))
                })
            };
            for (id, value) in section {
                if id == "reseeded"
                    && let Some(table) = value.as_table()
                {
                    for (id, value) in table {
                        let verdict =
                            verdict_of(id, value, &format!("profile.{profile}.reseeded"))?;
                        reseeded.insert(id.clone(), verdict);
                    }
                    continue;
                }
                let verdict = verdict_of(id, value, &format!("profile.{profile}"))?;
                verdicts.insert(id.clone(), verdict);
            }
        }
        Ok(Self {
            path: Some(path.to_path_buf()),
            verdicts,
            reseeded,
        })
    }

    /// The verdict expected of `claim`: as listed (under `reseeded` first when the disjoint-seed
    /// ledgers were compared), else the passing verdict of its class.
    pub fn expected(&self, claim: &Claim, with_reseed: bool) -> Verdict {
        with_reseed
            .then(|| self.reseeded.get(&claim.id))
            .flatten()
            .or_else(|| self.verdicts.get(&claim.id))
            .copied()
            .unwrap_or(match claim.class {
                ClaimClass::Evidence => Verdict::Reproduced,
                ClaimClass::Check => Verdict::Passed,
            })
    }

    /// Ids expected not to pass: the ledgers' `known_failures`.
    pub fn known_failures(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self
            .verdicts
            .iter()
            .chain(&self.reseeded)
            .filter(|(_, verdict)| !matches!(verdict, Verdict::Reproduced | Verdict::Passed))
            .map(|(id, _)| id.as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Every claim whose verdict differs from its expectation, and every listed id that no claim
    /// has (a typo, or a claim that was renamed or removed).
    pub fn compare(&self, claims: &[Claim], with_reseed: bool) -> (Vec<Mismatch>, Vec<String>) {
        let mismatches = claims
            .iter()
            .filter_map(|claim| {
                let expected = self.expected(claim, with_reseed);
                let got = claim.outcome();
                (expected != got).then(|| Mismatch {
                    id: claim.id.clone(),
                    expected,
                    got,
                })
            })
            .collect();
        let mut unknown: Vec<String> = self
            .verdicts
            .keys()
            .chain(self.reseeded.keys())
            .filter(|id| !claims.iter().any(|claim| &claim.id == *id))
            .cloned()
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        (mismatches, unknown)
    }
}

fn parse_verdict(word: &str) -> Option<Verdict> {
    [
        Verdict::Reproduced,
        Verdict::Inconclusive,
        Verdict::Contradicted,
        Verdict::Passed,
        Verdict::Failed,
    ]
    .into_iter()
    .find(|verdict| verdict.word() == word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(id: &str, pass: bool) -> Claim {
        Claim::within(
            id,
            "s",
            "statement",
            "m",
            1.0,
            if pass { 1.0 } else { 2.0 },
            0.1,
            "why",
        )
    }

    #[test]
    fn unlisted_claims_are_expected_to_pass_and_flips_both_ways_are_mismatches() {
        let text = "[profile.quick]\n\"a\" = \"contradicted\"\n\"gone\" = \"contradicted\"\n";
        let expectations = Expectations::parse(text, "quick", Path::new("e.toml")).unwrap();
        assert_eq!(expectations.known_failures(), ["a", "gone"]);
        // `a` was expected to be contradicted but reproduces; `b` regressed; `c` is as expected.
        let claims = [claim("a", true), claim("b", false), claim("c", true)];
        let (mismatches, unknown) = expectations.compare(&claims, false);
        assert_eq!(
            mismatches,
            [
                Mismatch {
                    id: "a".into(),
                    expected: Verdict::Contradicted,
                    got: Verdict::Reproduced
                },
                Mismatch {
                    id: "b".into(),
                    expected: Verdict::Reproduced,
                    got: Verdict::Contradicted
                },
            ]
        );
        assert_eq!(unknown, ["gone"]);
        // Another profile's table does not apply.
        let other = Expectations::parse(text, "default", Path::new("e.toml")).unwrap();
        assert!(other.verdicts.is_empty());
    }

    #[test]
    fn reseeded_expectations_apply_only_once_the_reseed_was_compared() {
        let text = "[profile.quick]\n\"a\" = \"contradicted\"\n\
                    [profile.quick.reseeded]\n\"a\" = \"inconclusive\"\n\"b\" = \"failed\"\n";
        let expectations = Expectations::parse(text, "quick", Path::new("e.toml")).unwrap();
        assert_eq!(expectations.known_failures(), ["a", "b"]);
        let a = claim("a", false);
        let b = claim("b", true).check();
        assert_eq!(expectations.expected(&a, false), Verdict::Contradicted);
        assert_eq!(expectations.expected(&a, true), Verdict::Inconclusive);
        assert_eq!(expectations.expected(&b, false), Verdict::Passed);
        assert_eq!(expectations.expected(&b, true), Verdict::Failed);
        let (mismatches, unknown) = expectations.compare(&[a.clone(), b], false);
        assert!(
            mismatches.is_empty() && unknown.is_empty(),
            "{mismatches:?}"
        );
        let (_, unknown) = expectations.compare(&[a], true);
        assert_eq!(unknown, ["b"]);
        let error = Expectations::parse(
            "[profile.quick.reseeded]\n\"a\" = \"PASS\"\n",
            "quick",
            Path::new("e.toml"),
        )
        .unwrap_err();
        assert!(
            error.message.contains("profile.quick.reseeded.\"a\""),
            "{}",
            error.message
        );
    }

    #[test]
    fn a_bad_verdict_or_key_names_the_file_and_the_key() {
        let error = Expectations::parse(
            "[profile.quick]\n\"a\" = \"PASS\"\n",
            "quick",
            Path::new("e.toml"),
        )
        .unwrap_err();
        assert!(error.message.contains("e.toml"), "{}", error.message);
        assert!(
            error.message.contains("profile.quick.\"a\""),
            "{}",
            error.message
        );
        let error = Expectations::parse("known = 1\n", "quick", Path::new("e.toml")).unwrap_err();
        assert!(error.message.contains("`known`"), "{}", error.message);
    }
}
