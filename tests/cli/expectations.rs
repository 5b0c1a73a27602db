//! `expectations.toml`: `verify` exits 4 when any claim's verdict differs from the one expected
//! for the profile, in either direction, or when an expectation names no claim; the expected
//! non-passing claims are marked `(expected)` in the ledger.

use std::path::Path;
use std::process::Output;

use crate::util::run_in;

const PIPELINE: &str = r#"
[stage.a]
kind = "toy.gen"
n = 2

[stage.holds]
kind = "toy.claim"
deps = ["a"]
id = "toy.holds"
expected = 2.0
tol = 0.5

[stage.fails]
kind = "toy.claim"
deps = ["a"]
id = "toy.fails"
expected = 0.0
tol = 0.5

[stage.ledger]
kind = "claims.ledger"
deps = ["holds", "fails"]
"#;

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn expect(dir: &Path, table: &str) {
    std::fs::write(dir.join("expectations.toml"), table).unwrap();
}

/// `run` after an edit of expectations.toml: only the ledger task executes.
fn rerender(dir: &Path) {
    let run = run_in(dir, &["run", "--quiet"]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("tasks: 4 total, 1 executed, 3 cached"),
        "{}",
        stderr(&run)
    );
}

#[test]
fn verify_holds_every_verdict_to_its_expectation_in_both_directions() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pipeline.toml"), PIPELINE).unwrap();
    // No file: every claim is expected to pass, so the contradiction is unexpected.
    let run = run_in(dir.path(), &["run", "--quiet"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let verify = run_in(dir.path(), &["verify"]);
    assert_eq!(verify.status.code(), Some(4), "{}", stderr(&verify));
    assert!(
        stdout(&verify).contains("UNEXPECTED toy.fails: contradicted (expected reproduced"),
        "{}",
        stdout(&verify)
    );

    // Documented: verify passes, and the ledger and headline mark it expected.
    expect(
        dir.path(),
        "[profile.default]\n\"toy.fails\" = \"contradicted\"\n",
    );
    let run = run_in(dir.path(), &["run", "--quiet"]);
    assert!(
        stderr(&run).contains("1 contradicted (1 expected)"),
        "{}",
        stderr(&run)
    );
    let verify = run_in(dir.path(), &["verify"]);
    assert!(verify.status.success(), "{}", stdout(&verify));
    let table = std::fs::read_to_string(dir.path().join("reports/tables/claims.csv")).unwrap();
    assert!(table.contains("contradicted (expected)"), "{table}");

    // A documented contradiction that starts to reproduce is a change too. (The listed ids are a
    // parameter of the ledger, which marks them `(expected)`: after editing the file, `run`
    // re-renders the ledger and page, computing nothing else, and `verify` judges that.)
    expect(
        dir.path(),
        "[profile.default]\n\"toy.fails\" = \"contradicted\"\n\"toy.holds\" = \"contradicted\"\n",
    );
    rerender(dir.path());
    let verify = run_in(dir.path(), &["verify"]);
    assert_eq!(verify.status.code(), Some(4));
    assert!(
        stdout(&verify).contains("UNEXPECTED toy.holds: reproduced (expected contradicted"),
        "{}",
        stdout(&verify)
    );

    // A stale id is reported, and another profile's table does not apply.
    expect(
        dir.path(),
        "[profile.default]\n\"toy.fails\" = \"contradicted\"\n\"toy.renamed\" = \"contradicted\"\n\
         [profile.other]\n\"toy.holds\" = \"contradicted\"\n",
    );
    rerender(dir.path());
    let verify = run_in(dir.path(), &["verify"]);
    assert_eq!(verify.status.code(), Some(4));
    assert!(
        stdout(&verify).contains("UNKNOWN toy.renamed"),
        "{}",
        stdout(&verify)
    );
    assert!(
        !stdout(&verify).contains("UNEXPECTED"),
        "{}",
        stdout(&verify)
    );
}

#[test]
fn a_malformed_expectation_is_bad_input_naming_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pipeline.toml"), PIPELINE).unwrap();
    expect(dir.path(), "[profile.default]\n\"toy.fails\" = \"FAIL\"\n");
    for args in [&["run", "--quiet"][..], &["verify"], &["status"]] {
        let output = run_in(dir.path(), args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let message = stderr(&output);
        assert!(
            message.contains("expectations.toml")
                && message.contains("profile.default.\"toy.fails\""),
            "{args:?}: {message}"
        );
    }
    assert!(
        !dir.path().join(".minorfirst").exists(),
        "nothing was written"
    );
}
