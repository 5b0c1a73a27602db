//! The hand-kept `fingerprint!` lists must cover every file and domain crate the listing file can
//! reach: a file reached through `crate::…` paths (transitively) but missing from a kind's list means
//! an edit there reuses stale cached results (issue #12: `sec3/phase.rs` reached `runs/data.rs`
//! through `runs/spec.rs`; `sec4/initscale.rs` reached `runs/output.rs` through `sec4/common.rs`).
//!
//! Domain crates are not checked here: text matching sees doc comments and the crate root, which
//! gave false alarms; the derived fingerprints of issue #12 replace these lists altogether.
//! This checks the safe direction only (a list may be broader than needed, never narrower). It reads
//! the sources as text: `crate::a::b::item` resolves to the longest existing `src/a/b.rs`,
//! `src/a/b/mod.rs` or `src/a.rs`; code after `#[cfg(test)]` is not part of the kind.

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use analysis::fingerprint::COMMON;
const DOMAIN_CRATES: &[&str] = &["numerics", "figures", "report", "vision"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's code outside its test module.
fn non_test_code(path: &str) -> String {
    let text = std::fs::read_to_string(src().join(path)).expect("read source");
    match text.find("#[cfg(test)]") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Segments of every `crate::a::b::c` path in `code`, including `crate::a::{b, c}` groups (expanded
/// one level, which is all this crate uses).
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let preceded = rest[..at].chars().next_back().is_some_and(is_ident);
        rest = &rest[at + "crate::".len()..];
        if preceded {
            continue;
        }
        let mut segments = Vec::new();
        let mut tail = rest;
        loop {
            let len = tail.find(|c: char| !is_ident(c)).unwrap_or(tail.len());
            if len == 0 {
                break;
            }
            segments.push(tail[..len].to_string());
            tail = &tail[len..];
            if let Some(next) = tail.strip_prefix("::") {
                tail = next;
                if let Some(group) = tail.strip_prefix('{') {
                    let end = group.find('}').unwrap_or(group.len());
                    for item in group[..end].split(',') {
                        let name: String =
                            item.trim().chars().take_while(|c| is_ident(*c)).collect();
                        if !name.is_empty() && name != "self" {
                            let mut path = segments.clone();
                            path.push(name);
                            paths.push(path);
                        }
                    }
                    break;
                }
            } else {
                break;
            }
        }
        if !segments.is_empty() {
            paths.push(segments);
        }
    }
    paths
}

/// The source file a `crate::` path lands in (relative to `src/`).
fn resolve(segments: &[String]) -> Option<String> {
    for len in (1..=segments.len()).rev() {
        let module = segments[..len].join("/");
        for candidate in [format!("{module}.rs"), format!("{module}/mod.rs")] {
            if src().join(&candidate).is_file() {
                return Some(candidate);
            }
        }
    }
    // A path to an item of the crate root (`crate::fingerprint!` is `crate::fingerprint`).
    Some("lib.rs".to_string())
}

/// Every file reachable from `start` through `crate::` paths, and the domain crates they name.
fn reach(start: &str) -> (BTreeSet<String>, BTreeSet<&'static str>) {
    let mut files = BTreeSet::from([start.to_string()]);
    let mut crates = BTreeSet::new();
    let mut queue = VecDeque::from([start.to_string()]);
    while let Some(file) = queue.pop_front() {
        let code = non_test_code(&file);
        for name in DOMAIN_CRATES {
            if code.contains(&format!("{name}::")) || code.contains(&format!("use {name}")) {
                crates.insert(*name);
            }
        }
        for path in crate_paths(&code) {
            if let Some(target) = resolve(&path)
                && files.insert(target.clone())
            {
                queue.push_back(target);
            }
        }
    }
    (files, crates)
}

fn string_literals(list: &str) -> Vec<String> {
    list.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// (file, line, listed prefixes, listed crates) of every `fingerprint!` call.
fn fingerprint_calls() -> Vec<(String, usize, Vec<String>, Vec<String>)> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    let mut calls = Vec::new();
    for path in files {
        let relative = path
            .strip_prefix(src())
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        let code = non_test_code(&relative);
        let mut offset = 0;
        while let Some(at) = code[offset..].find("crate::fingerprint!(") {
            let start = offset + at + "crate::fingerprint!(".len();
            let line = code[..start].lines().count();
            let body = &code[start..];
            let first_open = body.find('[').expect("first list");
            let first_close = body.find(']').expect("first list end");
            let second = &body[first_close + 1..];
            let second_open = second.find('[').expect("second list");
            let second_close = second.find(']').expect("second list end");
            calls.push((
                relative.clone(),
                line,
                string_literals(&body[first_open..first_close]),
                string_literals(&second[second_open..second_close]),
            ));
            offset = start;
        }
    }
    calls
}

#[test]
fn every_fingerprint_list_covers_what_its_kind_can_reach() {
    let calls = fingerprint_calls();
    assert!(
        calls.len() >= 25,
        "found only {} fingerprint! calls; the scan is broken",
        calls.len()
    );
    let mut missing = Vec::new();
    for (file, line, prefixes, _crates) in &calls {
        let covered = |path: &str| {
            COMMON.contains(&path)
                || prefixes
                    .iter()
                    .any(|prefix| path.starts_with(prefix.as_str()))
        };
        // A kind with no prefixes (the claims ledger) covers only COMMON; its own file must be in it.
        let (reached, _) = reach(file);
        for path in &reached {
            if !covered(path) {
                missing.push(format!(
                    "{file}:{line}: reaches {path} but does not list it"
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "stale-cache risks:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_scan_resolves_nested_and_grouped_paths() {
    let paths =
        crate_paths("use crate::runs::{spec, output::Row};\nlet x = crate::sec4::common::int;");
    assert_eq!(
        paths,
        vec![
            vec!["runs".to_string(), "spec".to_string()],
            vec!["runs".to_string(), "output".to_string()],
            vec!["runs".to_string()],
            vec!["sec4".to_string(), "common".to_string(), "int".to_string()],
        ]
    );
    assert_eq!(resolve(&paths[3]).as_deref(), Some("sec4/common.rs"));
    assert_eq!(resolve(&paths[2]).as_deref(), Some("runs/mod.rs"));
    // The two gaps issue #12 found by reading are visible to the scan.
    assert!(reach("sec3/phase.rs").0.contains("runs/data.rs"));
    assert!(reach("sec4/initscale.rs").0.contains("runs/output.rs"));
}
