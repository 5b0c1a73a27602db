//! The claims side of the binary: which kinds hold ledgers and pages, the stored ledgers' claims,
//! and the one-line claims summary after `run` and `verify`.

use pipeline::{Plan, Store};
use stagekit::claims::{Claim, LEDGER_FILE, VerdictCounts, read_ledger};

use super::exit::CliError;

/// Kind name of the report stage whose provenance parameters `run` fills in.
pub const REPORT_KIND: &str = "report.html";
/// Kind name of the ledger stage.
pub const LEDGER_KIND: &str = "claims.ledger";

/// Claims of every ledger task of the plan that is in the store (`None` if the plan has no ledger
/// or it has not been computed).
pub fn ledger_claims(plan: &Plan, store: &Store) -> Result<Option<Vec<Claim>>, CliError> {
    let mut found = false;
    let mut claims = Vec::new();
    for task in plan.tasks().iter().filter(|task| task.kind == LEDGER_KIND) {
        let path = store.object_dir(&task.key).join(LEDGER_FILE);
        if !path.exists() {
            return Ok(None);
        }
        found = true;
        claims.extend(read_ledger(&path).map_err(|error| {
            CliError::unexpected(format!(
                "failed to read the claims ledger {}: {error}",
                path.display()
            ))
        })?);
    }
    Ok(found.then_some(claims))
}

/// `claims: evidence: N reproduced, I inconclusive, C contradicted (K expected) · checks: P passed,
/// F failed` — evidence and checks (rows true by construction) counted apart.
pub fn summary_line(claims: &[Claim]) -> String {
    VerdictCounts::of(claims).to_string()
}
