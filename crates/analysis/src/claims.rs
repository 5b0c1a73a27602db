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
        }
    }

    pub fn with_figure(mut self, figure: &str) -> Self {
        self.figure = Some(figure.into());
        self
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
        crate::fingerprint!([], [])
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
                "claim ids whose FAIL is a documented finding of this reproduction, not a regression",
            )
            .with_default(serde_json::Value::Array(Vec::new())),
        ])
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        #[derive(serde::Deserialize)]
        struct Params {
            table: String,
            known_failures: Vec<String>,
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
        for claim in &mut claims {
            claim.known = !claim.pass && params.known_failures.contains(&claim.id);
        }
        if let Some(unknown) = params
            .known_failures
            .iter()
            .find(|id| !claims.iter().any(|claim| &claim.id == *id))
        {
            return Err(AnalysisError::invalid(format!(
                "known_failures names {unknown:?}, which no input task claims"
            ))
            .into());
        }
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
            .finish()?;
        write_and_publish(&mut df, ctx.out_dir, &params.table)?;
        Ok(())
    }
}

/// `PASS`, `FAIL`, or `FAIL (known)` for a documented finding.
pub fn verdict_text(claim: &Claim) -> &'static str {
    match (claim.pass, claim.known) {
        (true, _) => "PASS",
        (false, false) => "FAIL",
        (false, true) => "FAIL (known)",
    }
}

/// Read a ledger written by [`Ledger`].
pub fn read_ledger(path: &Path) -> Result<Vec<Claim>, AnalysisError> {
    read_json(path)
}
