//! The stage kinds this binary knows: one line per crate that implements kinds.
//!
//! A kind's implementation fingerprint is its crate's fingerprint, derived at build time by the
//! `fingerprint` crate from the crate graph (see that crate). Tests check the derivation against
//! `cargo metadata` below, and `tests/cli/fingerprints.rs` drives the binary through the hook
//! [`TREE_VAR`].

use pipeline::Registry;
use pipeline::stage::{ParamSchema, StageKind, TaskContext, TaskError, Work};
use serde_json::Value;

/// Test hook: when set to a directory holding a copy of the source tree, every kind's fingerprint
/// is recomputed over that tree by the library function the build scripts use
/// ([`fingerprint::Workspace::fingerprint`]) with the toolchain this binary was built with. The
/// kinds' code is still this binary's: the hook shows which task keys an edit changes (and so which
/// tasks a run executes) without rebuilding. Used only by tests.
pub const TREE_VAR: &str = "MINORFIRST_FINGERPRINT_TREE";

/// The crates that implement kinds, by package name (as `Cargo.toml` and `cargo metadata` name
/// them), each with its kinds.
pub fn kind_crates() -> Vec<(&'static str, Vec<Box<dyn StageKind>>)> {
    vec![
        // Always present: tiny kinds that the integration tests and `bench-engine` drive.
        ("pipeline", pipeline::toy::kinds()),
        (
            "minorfirst",
            vec![Box::new(crate::cli::toy_claim::ToyClaim)],
        ),
        ("stagekit", stagekit::kinds()),
        ("compute", compute::kinds()),
        ("analysis", analysis::kinds()),
        ("page", page::kinds()),
    ]
}

/// Every kind `pipeline.toml` may name. Add a crate's kinds with one line in [`kind_crates`].
pub fn registry() -> Registry {
    let tree = std::env::var_os(TREE_VAR).map(std::path::PathBuf::from);
    let workspace = tree.map(|tree| {
        fingerprint::Workspace::load(&tree).unwrap_or_else(|error| {
            eprintln!("minorfirst: {TREE_VAR}={}: {error}", tree.display());
            std::process::exit(i32::from(super::exit::BAD_INPUT));
        })
    });
    let toolchain = fingerprint::Toolchain::from_fields(crate::fingerprint::TOOLCHAIN);
    let mut registry = Registry::new();
    for (name, kinds) in kind_crates() {
        let Some(workspace) = &workspace else {
            for kind in kinds {
                registry.register_boxed(kind);
            }
            continue;
        };
        let digest = workspace
            .fingerprint(name, &toolchain)
            .unwrap_or_else(|error| {
                eprintln!("minorfirst: {TREE_VAR}: {error}");
                std::process::exit(i32::from(super::exit::BAD_INPUT));
            })
            .digest;
        // One leak per kind crate and process, in a test-only path.
        let digest: &'static str = Box::leak(digest.into_boxed_str());
        for kind in kinds {
            registry.register(Rekeyed { kind, digest });
        }
    }
    registry
}

/// A kind under another fingerprint (the [`TREE_VAR`] hook); everything else forwards.
struct Rekeyed {
    kind: Box<dyn StageKind>,
    digest: &'static str,
}

impl StageKind for Rekeyed {
    fn name(&self) -> &'static str {
        self.kind.name()
    }
    fn fingerprint(&self) -> &'static str {
        self.digest
    }
    fn schema(&self) -> ParamSchema {
        self.kind.schema()
    }
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError> {
        self.kind.run(ctx)
    }
    fn work(&self, params: &Value) -> Option<Work> {
        self.kind.work(params)
    }
    fn preflight(&self, params: &Value) -> Result<(), String> {
        self.kind.preflight(params)
    }
}

#[cfg(test)]
mod tests {
    //! The derived fingerprints against the crate graph as `cargo metadata` sees it: for every
    //! registered kind, which workspace crates and registry crates its fingerprint covers, and that
    //! an edit to a file it can reach moves it while an edit to one it cannot reach does not.

    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    use fingerprint::{Toolchain, Workspace, of_tree};

    use super::*;

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    fn toolchain() -> Toolchain {
        Toolchain::from_fields(crate::fingerprint::TOOLCHAIN)
    }

    /// `cargo metadata` for the target this binary was built for (offline; the graph is local, and
    /// crates of other platforms are not downloaded).
    fn metadata() -> Value {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let output = std::process::Command::new(cargo)
            .args(["metadata", "--offline", "--format-version", "1"])
            .args(["--filter-platform", &toolchain().target])
            .current_dir(root())
            .output()
            .expect("run cargo metadata");
        assert!(
            output.status.success(),
            "cargo metadata: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("metadata JSON")
    }

    /// Per workspace package: (workspace packages reachable through normal dependencies, registry
    /// packages "name version" reachable from those through normal and build dependencies), and
    /// each workspace package's directory.
    struct Graph {
        closures: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>,
        dirs: BTreeMap<String, PathBuf>,
    }

    fn graph() -> Graph {
        let metadata = metadata();
        let packages: BTreeMap<&str, &Value> = metadata["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["id"].as_str().unwrap(), p))
            .collect();
        let nodes: BTreeMap<&str, &Value> = metadata["resolve"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| (n["id"].as_str().unwrap(), n))
            .collect();
        let is_workspace = |id: &str| packages[id]["source"].is_null();
        let mut closures = BTreeMap::new();
        let mut dirs = BTreeMap::new();
        for member in metadata["workspace_members"].as_array().unwrap() {
            let member = member.as_str().unwrap();
            let name = packages[member]["name"].as_str().unwrap().to_string();
            let manifest = PathBuf::from(packages[member]["manifest_path"].as_str().unwrap());
            dirs.insert(name.clone(), manifest.parent().unwrap().to_path_buf());
            let (mut crates, mut registry) = (BTreeSet::new(), BTreeSet::new());
            let mut seen = BTreeSet::new();
            let mut stack = vec![member];
            while let Some(id) = stack.pop() {
                if !seen.insert(id) {
                    continue;
                }
                let package = packages[id];
                let label = package["name"].as_str().unwrap().to_string();
                let workspace = is_workspace(id);
                if workspace {
                    crates.insert(label);
                } else {
                    registry.insert(format!("{label} {}", package["version"].as_str().unwrap()));
                }
                for dep in nodes[id]["deps"].as_array().unwrap() {
                    let follows = dep["dep_kinds"].as_array().unwrap().iter().any(|k| {
                        // Normal dependencies always; a registry crate's build script also
                        // shapes the code it compiles.
                        k["kind"].is_null() || (!workspace && k["kind"] == "build")
                    });
                    if follows {
                        stack.push(dep["pkg"].as_str().unwrap());
                    }
                }
            }
            closures.insert(name, (crates, registry));
        }

        Graph { closures, dirs }
    }

    #[test]
    fn every_kind_carries_its_crates_derived_fingerprint() {
        let mut kinds = 0;
        for (name, crate_kinds) in kind_crates() {
            let derived = of_tree(root(), name, &toolchain()).unwrap().digest;
            for kind in crate_kinds {
                assert_eq!(
                    kind.fingerprint(),
                    derived,
                    "{}: the build-time fingerprint is not `{name}`'s derived one",
                    kind.name()
                );
                kinds += 1;
            }
        }
        assert_eq!(
            kinds,
            registry().names().len(),
            "every registered kind checked"
        );
    }

    #[test]
    fn fingerprints_cover_the_crate_graph_of_cargo_metadata() {
        let graph = graph();
        let workspace = Workspace::load(root()).unwrap();
        for (name, _) in kind_crates() {
            let fingerprint = workspace.fingerprint(name, &toolchain()).unwrap();
            let (crates, registry) = &graph.closures[name];
            assert_eq!(&fingerprint.crates, crates, "{name}: workspace crates");
            let covered: BTreeSet<String> = fingerprint
                .registry
                .iter()
                .map(|l| format!("{} {}", l.name, l.version))
                .collect();
            let missing: Vec<&String> = registry.difference(&covered).collect();
            assert!(
                missing.is_empty(),
                "{name}: registry crates not covered: {missing:?}"
            );
            // Cargo.lock does not say for which platform a dependency edge is (windows-sys,
            // wasm-bindgen, web-time, …), so the fingerprint may also cover registry crates that
            // this target's graph does not reach from the crate: broader, never stale. The
            // converse is what must hold, and does above.
            // Every file of every reachable crate's source directories is digested.
            for krate in crates {
                let dir = &graph.dirs[krate];
                let relative = dir
                    .strip_prefix(root())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let prefix = if relative.is_empty() {
                    String::new()
                } else {
                    format!("{relative}/")
                };
                assert!(
                    fingerprint.files.contains(&format!("{prefix}Cargo.toml")),
                    "{name}: {krate}'s Cargo.toml"
                );
                assert!(
                    fingerprint
                        .files
                        .iter()
                        .any(|f| f.starts_with(&format!("{prefix}src/"))),
                    "{name}: {krate}'s sources"
                );
            }
        }
        // The boundaries the split is for.
        let compute = &graph.closures["compute"];
        for absent in ["figures", "report", "analysis", "page"] {
            assert!(!compute.0.contains(absent), "compute reaches {absent}");
        }
        assert!(
            !compute
                .1
                .iter()
                .any(|r| r.starts_with("plotters ") || r.starts_with("tera "))
        );
        assert!(!graph.closures["analysis"].0.contains("report"));
        assert!(!graph.closures["page"].0.contains("figures"));
    }

    fn digests(tree: &Path) -> BTreeMap<&'static str, String> {
        let workspace = Workspace::load(tree).unwrap();
        kind_crates()
            .into_iter()
            .map(|(name, _)| {
                (
                    name,
                    workspace.fingerprint(name, &toolchain()).unwrap().digest,
                )
            })
            .collect()
    }

    fn moved(base: &BTreeMap<&str, String>, tree: &Path) -> BTreeSet<String> {
        digests(tree)
            .into_iter()
            .filter(|(name, digest)| base[name] != *digest)
            .map(|(name, _)| name.to_string())
            .collect()
    }

    /// The kind crates whose metadata closure satisfies `reaches`.
    fn expected(
        graph: &Graph,
        reaches: impl Fn(&(BTreeSet<String>, BTreeSet<String>)) -> bool,
    ) -> BTreeSet<String> {
        kind_crates()
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| reaches(&graph.closures[*name]))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn an_edit_moves_the_fingerprints_of_exactly_the_kinds_that_reach_it() {
        let graph = graph();
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path();
        fingerprint::copy_inputs(root(), tree).unwrap();
        let base = digests(tree);
        assert_eq!(base, digests(root()), "the copy holds every input");
        // One file in every workspace crate (comment appended, then restored).
        for (krate, dir) in &graph.dirs {
            let relative = dir.strip_prefix(root()).unwrap();
            let src = tree.join(relative).join("src");
            let file = ["lib.rs", "main.rs"]
                .iter()
                .map(|f| src.join(f))
                .find(|f| f.is_file())
                .unwrap();
            let original = std::fs::read(&file).unwrap();
            let mut edited = original.clone();
            edited.extend_from_slice(b"\n// an appended comment\n");
            std::fs::write(&file, &edited).unwrap();
            assert_eq!(
                moved(&base, tree),
                expected(&graph, |(crates, _)| crates.contains(krate)),
                "edit in {krate}"
            );
            std::fs::write(&file, original).unwrap();
        }
        // Files outside the source directories reach no kind.
        std::fs::write(tree.join("crates/vision/README.md"), "edited").unwrap();
        assert!(moved(&base, tree).is_empty());
        // A registry crate's locked checksum: exactly the kinds whose closure holds it.
        let lock = std::fs::read_to_string(tree.join("Cargo.lock")).unwrap();
        for registry in [
            "clarabel",
            "burn",
            "plotters",
            "tera",
            "polars",
            "indicatif",
        ] {
            let marker = format!("name = \"{registry}\"\nversion = \"");
            let at = lock
                .find(&marker)
                .unwrap_or_else(|| panic!("{registry} locked"));
            let version: String = lock[at + marker.len()..]
                .chars()
                .take_while(|c| *c != '"')
                .collect();
            let checksum_at =
                at + lock[at..].find("checksum = \"").unwrap() + "checksum = \"".len();
            let mut edited = lock.clone();
            let flipped = if &lock[checksum_at..=checksum_at] == "0" {
                "1"
            } else {
                "0"
            };
            edited.replace_range(checksum_at..=checksum_at, flipped);
            std::fs::write(tree.join("Cargo.lock"), &edited).unwrap();
            let label = format!("{registry} {version}");
            let want = expected(&graph, |(_, registry)| registry.contains(&label));
            assert!(!want.is_empty(), "{label} reaches some kind");
            assert_eq!(moved(&base, tree), want, "lock edit of {label}");
        }
        std::fs::write(tree.join("Cargo.lock"), lock).unwrap();
        assert!(moved(&base, tree).is_empty());
    }
}
