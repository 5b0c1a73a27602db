//! `verify --reseed`: the ledgers recomputed with every seed shifted by 10⁶; only seeded tasks
//! execute, a claim whose verdict flips is reported and counted as inconclusive (in `verify`, in
//! `run`'s claims line), and expectations.toml judges the combined verdicts.

use std::process::Output;

use crate::util::run_in;

/// `toy.seeded` measures 2 + (seed mod 7): seed 0 gives 2 (within 0.5 of 2: reproduced), seed
/// 10⁶ gives 3 (10⁶ = 7 · 142857 + 1: contradicted). `toy.fixed` has the kind's default seed 0 but
/// weight 0 (its task is recomputed, its verdict cannot move); `toy.gen` takes no seed at all.
const PIPELINE: &str = r#"
[stage.a]
kind = "toy.gen"
n = 2

[stage.seeded]
kind = "toy.claim"
deps = ["a"]
id = "toy.seeded"
expected = 2.0
tol = 0.5
seed = 0
seed_weight = 1.0

[stage.fixed]
kind = "toy.claim"
deps = ["a"]
id = "toy.fixed"
expected = 2.0
tol = 0.5

[stage.ledger]
kind = "claims.ledger"
deps = ["seeded", "fixed"]
"#;

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_verdict_that_flips_with_the_seeds_is_reported_and_counted_inconclusive() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pipeline.toml"), PIPELINE).unwrap();
    // Before a run there is nothing to compare against.
    let early = run_in(dir.path(), &["verify", "--reseed"]);
    assert_eq!(early.status.code(), Some(4), "{}", text(&early));
    assert!(
        text(&early).contains("run `minorfirst run` first"),
        "{}",
        text(&early)
    );

    let run = run_in(dir.path(), &["run", "--quiet"]);
    assert!(run.status.success(), "{}", text(&run));
    assert!(
        text(&run).contains("2 reproduced, 0 inconclusive"),
        "{}",
        text(&run)
    );
    assert!(run_in(dir.path(), &["verify"]).status.success());

    let reseed = run_in(dir.path(), &["verify", "--reseed"]);
    let out = text(&reseed);
    // The generator takes no seed and keeps its key; both claims (a defaulted seed is a seed too)
    // and the ledger are new tasks.
    assert!(
        out.contains("reseed: tasks: 4 total, 3 executed, 1 cached"),
        "{out}"
    );
    assert!(
        out.contains("RESEED toy.seeded: reproduced here, contradicted with disjoint seeds (measured 2.000000 → 3.000000)"),
        "{out}"
    );
    assert!(!out.contains("RESEED toy.fixed"), "{out}");
    assert!(out.contains("reseed: 2 claims compared"), "{out}");
    assert!(
        out.contains("1 reproduced, 1 inconclusive, 0 contradicted"),
        "{out}"
    );
    // Unlisted, the claim is expected to reproduce: the flip is a difference, exit 4.
    assert_eq!(reseed.status.code(), Some(4), "{out}");
    assert!(
        out.contains("UNEXPECTED toy.seeded: inconclusive (expected reproduced"),
        "{out}"
    );
    // The plan's own reports are untouched by the shifted run, and a plain run now counts the
    // flip too (the shifted ledgers are in the store).
    let ledger = std::fs::read_to_string(dir.path().join("reports/tables/claims.csv")).unwrap();
    assert!(ledger.contains("2.000000"), "{ledger}");
    assert!(!ledger.contains("3.000000"), "{ledger}");
    let again = run_in(dir.path(), &["run", "--quiet"]);
    assert!(
        text(&again).contains("tasks: 4 total, 0 executed"),
        "{}",
        text(&again)
    );
    assert!(
        text(&again).contains("1 reproduced, 1 inconclusive"),
        "{}",
        text(&again)
    );

    // Documented as inconclusive, verify accepts it (the expectations are a parameter of the
    // ledgers, so `run` re-renders the plan's ledger first).
    std::fs::write(
        dir.path().join("expectations.toml"),
        "[profile.default]\n\"toy.seeded\" = \"inconclusive\"\n",
    )
    .unwrap();
    assert!(run_in(dir.path(), &["run", "--quiet"]).status.success());
    let documented = run_in(dir.path(), &["verify", "--reseed"]);
    assert!(documented.status.success(), "{}", text(&documented));
}
