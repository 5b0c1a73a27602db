//! Implementation fingerprints derived from the crate graph, so a task key cannot go stale.
//!
//! A crate's fingerprint is a blake3 digest of
//! - every source file (`src/`, `templates/`, `assets/`, `Cargo.toml`, `build.rs`) of the crate and
//!   of every workspace crate it depends on transitively through normal dependencies (not
//!   dev-dependencies, not build-dependencies: those cannot reach the compiled code of a kind);
//! - the locked name, version, source and checksum of every registry crate in that closure (from
//!   `Cargo.lock`, every version of a crate present twice);
//! - `rustc -vV`, and the settings that can change floating-point results: `OPT_LEVEL`, `TARGET`,
//!   `CARGO_CFG_TARGET_FEATURE` and the `[profile.*]` tables of the workspace `Cargo.toml`.
//!
//! Nothing is listed by hand. A crate that defines stage kinds calls [`emit`] from its `build.rs`
//! (with this crate as a `[build-dependency]`) and includes the generated constants:
//!
//! ```ignore
//! // build.rs
//! fn main() {
//!     fingerprint::emit();
//! }
//! ```
//!
//! ```ignore
//! // src/lib.rs
//! pub mod fingerprint {
//!     include!(concat!(env!("OUT_DIR"), "/fingerprint.rs"));
//! }
//! // a kind: fn fingerprint(&self) -> &'static str { crate::fingerprint::FINGERPRINT }
//! ```
//!
//! The same computation is the library function [`of_tree`], so tests can apply it to a copy of
//! the source tree with one file edited and see which crates' fingerprints move, without
//! rebuilding anything.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Version of the digest layout; bump only if the way inputs are combined changes.
const LAYOUT: &str = "minorfirst-fingerprint-1";

/// Sub-directories of a crate whose files are part of its fingerprint (plus `Cargo.toml` and
/// `build.rs`).
pub const SOURCE_DIRS: &[&str] = &["src", "templates", "assets"];

/// What went wrong reading the tree (a build script panics with it).
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

fn error(message: impl Into<String>) -> Error {
    Error(message.into())
}

/// The compiler and the build settings that can change floating-point results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolchain {
    /// Output of `rustc -vV`.
    pub rustc: String,
    /// `OPT_LEVEL` of the build.
    pub opt_level: String,
    /// `TARGET` triple.
    pub target: String,
    /// `CARGO_CFG_TARGET_FEATURE` (enabled target features, comma-separated).
    pub target_features: String,
}

impl Toolchain {
    /// The toolchain of the running build script (reads the variables cargo sets for it).
    ///
    /// # Panics
    /// If `rustc -vV` cannot be run (failing the build, which is what a build script should do).
    pub fn from_build_env() -> Self {
        let var = |name: &str| std::env::var(name).unwrap_or_default();
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        let output = std::process::Command::new(&rustc)
            .arg("-vV")
            .output()
            .unwrap_or_else(|e| panic!("fingerprint: cannot run `{rustc} -vV`: {e}"));
        Self {
            rustc: String::from_utf8_lossy(&output.stdout).trim().to_string(),
            opt_level: var("OPT_LEVEL"),
            target: var("TARGET"),
            target_features: var("CARGO_CFG_TARGET_FEATURE"),
        }
    }

    /// The four fields in a fixed order (the layout of the generated `TOOLCHAIN` constant).
    pub fn fields(&self) -> [&str; 4] {
        [
            &self.rustc,
            &self.opt_level,
            &self.target,
            &self.target_features,
        ]
    }

    /// Inverse of [`Toolchain::fields`].
    pub fn from_fields(fields: [&str; 4]) -> Self {
        Self {
            rustc: fields[0].to_string(),
            opt_level: fields[1].to_string(),
            target: fields[2].to_string(),
            target_features: fields[3].to_string(),
        }
    }

    /// Short rustc version ("1.95.0 (…)"), for the report's provenance.
    pub fn rustc_release(&self) -> &str {
        self.rustc
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("rustc ")
    }
}

/// A locked registry (or git) crate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Locked {
    pub name: String,
    pub version: String,
    pub source: String,
    pub checksum: String,
}

/// What a crate's fingerprint covers, and the digest.
#[derive(Debug, Clone)]
pub struct Fingerprint {
    /// blake3 hex digest.
    pub digest: String,
    /// Workspace crates of the closure (the crate itself included), by package name.
    pub crates: BTreeSet<String>,
    /// Files digested, relative to the workspace root with `/` separators.
    pub files: Vec<String>,
    /// Registry crates of the closure.
    pub registry: BTreeSet<Locked>,
    /// Paths (absolute) whose change must re-run the build script.
    pub watch: Vec<PathBuf>,
}

/// One workspace member.
#[derive(Debug, Clone)]
struct Member {
    /// Directory relative to the root ("" for the root package).
    dir: PathBuf,
    /// Normal dependencies on workspace crates (package names).
    workspace_deps: BTreeSet<String>,
    /// Normal dependencies on registry crates (package names).
    registry_deps: BTreeSet<String>,
}

/// The parsed workspace: members, the lock and the profile settings.
#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
    members: BTreeMap<String, Member>,
    /// `[[package]]` entries of Cargo.lock: (name, version) → (source, checksum, dependency strings).
    lock: BTreeMap<(String, String), (String, String, Vec<String>)>,
    /// Canonical text of the workspace `[profile]` table.
    profiles: String,
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| error(format!("read {}: {e}", path.display())))
}

fn parse(path: &Path) -> Result<toml::Table, Error> {
    read(path)?
        .parse::<toml::Table>()
        .map_err(|e| error(format!("parse {}: {e}", path.display())))
}

/// Deterministic text of a TOML value (keys sorted at every level, whatever map the `toml` crate
/// was built with).
fn canonical(value: &toml::Value, out: &mut String) {
    match value {
        toml::Value::Table(table) => {
            let sorted: BTreeMap<&String, &toml::Value> = table.iter().collect();
            out.push('{');
            for (key, value) in sorted {
                let _ = write!(out, "{key:?}=");
                canonical(value, out);
                out.push(',');
            }
            out.push('}');
        }
        toml::Value::Array(items) => {
            out.push('[');
            for item in items {
                canonical(item, out);
                out.push(',');
            }
            out.push(']');
        }
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// The workspace root above `dir` (the first `Cargo.toml` with a `[workspace]` table).
pub fn workspace_root(dir: &Path) -> Result<PathBuf, Error> {
    let mut at = Some(dir);
    while let Some(candidate) = at {
        let manifest = candidate.join("Cargo.toml");
        if manifest.is_file() && parse(&manifest)?.contains_key("workspace") {
            return Ok(candidate.to_path_buf());
        }
        at = candidate.parent();
    }
    Err(error(format!(
        "no workspace Cargo.toml above {}",
        dir.display()
    )))
}

/// (workspace crates, registry crates) named by a `[dependencies]`-like table.
fn dependencies(
    table: Option<&toml::Value>,
    workspace_deps: &toml::Table,
    member_dir: &Path,
    root: &Path,
    out: &mut (BTreeSet<PathBuf>, BTreeSet<String>),
) {
    let Some(table) = table.and_then(toml::Value::as_table) else {
        return;
    };
    for (key, spec) in table {
        let mut spec = spec.clone();
        let mut base = member_dir.to_path_buf();
        if spec.get("workspace").and_then(toml::Value::as_bool) == Some(true) {
            spec = workspace_deps
                .get(key)
                .cloned()
                .unwrap_or(toml::Value::Table(toml::Table::new()));
            base = root.to_path_buf();
        }
        let package = spec
            .get("package")
            .and_then(toml::Value::as_str)
            .unwrap_or(key)
            .to_string();
        match spec.get("path").and_then(toml::Value::as_str) {
            Some(path) => {
                out.0.insert(base.join(path));
            }
            None => {
                out.1.insert(package);
            }
        }
    }
}

fn member_dirs(root: &Path, manifest: &toml::Table) -> Result<Vec<PathBuf>, Error> {
    let mut dirs = Vec::new();
    if manifest.contains_key("package") {
        dirs.push(PathBuf::new());
    }
    let members = manifest
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(toml::Value::as_array)
        .cloned()
        .unwrap_or_default();
    for member in members.iter().filter_map(toml::Value::as_str) {
        if let Some(parent) = member.strip_suffix("/*") {
            let mut found: Vec<PathBuf> = std::fs::read_dir(root.join(parent))
                .map_err(|e| error(format!("read {}: {e}", root.join(parent).display())))?
                .flatten()
                .map(|entry| Path::new(parent).join(entry.file_name()))
                .filter(|dir| root.join(dir).join("Cargo.toml").is_file())
                .collect();
            found.sort();
            dirs.extend(found);
        } else {
            dirs.push(PathBuf::from(member));
        }
    }
    Ok(dirs)
}

impl Workspace {
    /// Read the workspace at `root`: member manifests, `Cargo.lock`, the profile tables.
    pub fn load(root: &Path) -> Result<Self, Error> {
        let manifest = parse(&root.join("Cargo.toml"))?;
        let workspace_deps = manifest
            .get("workspace")
            .and_then(|w| w.get("dependencies"))
            .and_then(toml::Value::as_table)
            .cloned()
            .unwrap_or_default();
        let mut profiles = String::new();
        if let Some(profile) = manifest.get("profile") {
            canonical(profile, &mut profiles);
        }
        let mut by_dir = BTreeMap::new();
        let mut members = BTreeMap::new();
        for dir in member_dirs(root, &manifest)? {
            let member_manifest = if dir.as_os_str().is_empty() {
                manifest.clone()
            } else {
                parse(&root.join(&dir).join("Cargo.toml"))?
            };
            let name = member_manifest
                .get("package")
                .and_then(|p| p.get("name"))
                .and_then(toml::Value::as_str)
                .ok_or_else(|| error(format!("{}/Cargo.toml has no package.name", dir.display())))?
                .to_string();
            let mut deps = (BTreeSet::new(), BTreeSet::new());
            let member_dir = root.join(&dir);
            dependencies(
                member_manifest.get("dependencies"),
                &workspace_deps,
                &member_dir,
                root,
                &mut deps,
            );
            if let Some(targets) = member_manifest
                .get("target")
                .and_then(toml::Value::as_table)
            {
                for target in targets.values() {
                    dependencies(
                        target.get("dependencies"),
                        &workspace_deps,
                        &member_dir,
                        root,
                        &mut deps,
                    );
                }
            }
            by_dir.insert(normalize(&member_dir), name.clone());
            members.insert(name, (dir, deps));
        }
        let members = members
            .into_iter()
            .map(|(name, (dir, (paths, registry_deps)))| {
                let workspace_deps = paths
                    .iter()
                    .map(|path| {
                        by_dir.get(&normalize(path)).cloned().ok_or_else(|| {
                            error(format!(
                                "{name}: path dependency {} is not a workspace member",
                                path.display()
                            ))
                        })
                    })
                    .collect::<Result<_, _>>()?;
                Ok((
                    name,
                    Member {
                        dir,
                        workspace_deps,
                        registry_deps,
                    },
                ))
            })
            .collect::<Result<_, Error>>()?;
        let lock_file = parse(&root.join("Cargo.lock"))?;
        let mut lock = BTreeMap::new();
        for package in lock_file
            .get("package")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
        {
            let field = |key: &str| {
                package
                    .get(key)
                    .and_then(toml::Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let deps = package
                .get("dependencies")
                .and_then(toml::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(toml::Value::as_str)
                .map(str::to_string)
                .collect();
            lock.insert(
                (field("name"), field("version")),
                (field("source"), field("checksum"), deps),
            );
        }
        Ok(Self {
            root: root.to_path_buf(),
            members,
            lock,
            profiles,
        })
    }

    /// Package names of the workspace members.
    pub fn members(&self) -> impl Iterator<Item = &str> {
        self.members.keys().map(String::as_str)
    }

    /// The locked packages a lock dependency string ("name", "name version" or
    /// "name version (source)") denotes.
    fn resolve(&self, dependency: &str) -> Vec<(String, String)> {
        let mut parts = dependency.split_whitespace();
        let name = parts.next().unwrap_or_default();
        let version = parts.next();
        self.lock
            .keys()
            .filter(|(n, v)| n == name && version.is_none_or(|want| want == v))
            .cloned()
            .collect()
    }

    /// Workspace crates reachable from `package` through normal dependencies (itself included).
    pub fn closure(&self, package: &str) -> Result<BTreeSet<String>, Error> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![package.to_string()];
        while let Some(name) = stack.pop() {
            let member = self
                .members
                .get(&name)
                .ok_or_else(|| error(format!("{name} is not a workspace member")))?;
            if seen.insert(name.clone()) {
                stack.extend(member.workspace_deps.iter().cloned());
            }
        }
        Ok(seen)
    }

    /// Registry crates reachable from the workspace crates `crates`: their normal registry
    /// dependencies as locked, then everything those depend on in `Cargo.lock`.
    fn registry_closure(&self, crates: &BTreeSet<String>) -> BTreeSet<Locked> {
        let mut stack: Vec<(String, String)> = Vec::new();
        for name in crates {
            let member = &self.members[name];
            // The member's own lock entry says which version each dependency resolved to.
            let locked: Vec<&String> = self
                .lock
                .iter()
                .filter(|((n, _), (source, _, _))| n == name && source.is_empty())
                .flat_map(|(_, (_, _, deps))| deps)
                .collect();
            for dep in &member.registry_deps {
                for string in &locked {
                    if string.split_whitespace().next() == Some(dep.as_str()) {
                        stack.extend(self.resolve(string));
                    }
                }
            }
        }
        let mut seen = BTreeSet::new();
        let mut out = BTreeSet::new();
        while let Some(id) = stack.pop() {
            if !seen.insert(id.clone()) {
                continue;
            }
            let Some((source, checksum, deps)) = self.lock.get(&id) else {
                continue;
            };
            if source.is_empty() {
                continue; // a workspace member: covered by its files, never by a registry crate
            }
            out.insert(Locked {
                name: id.0.clone(),
                version: id.1.clone(),
                source: source.clone(),
                checksum: checksum.clone(),
            });
            for dep in deps {
                stack.extend(self.resolve(dep));
            }
        }
        out
    }

    /// The fingerprint of workspace crate `package` built with `toolchain`.
    pub fn fingerprint(&self, package: &str, toolchain: &Toolchain) -> Result<Fingerprint, Error> {
        let crates = self.closure(package)?;
        let mut files = Vec::new();
        let mut watch = vec![self.root.join("Cargo.toml"), self.root.join("Cargo.lock")];
        for name in &crates {
            let dir = self.root.join(&self.members[name].dir);
            for sub in SOURCE_DIRS {
                let path = dir.join(sub);
                // A rerun-if-changed on a missing path makes cargo rerun the script on every build.
                if path.is_dir() {
                    collect(&path, &mut files)?;
                    watch.push(path);
                }
            }
            for file in ["Cargo.toml", "build.rs"] {
                let path = dir.join(file);
                if path.is_file() {
                    files.push(path.clone());
                    watch.push(path);
                }
            }
        }
        let mut named: Vec<(String, PathBuf)> = files
            .into_iter()
            .map(|file| {
                let relative = file
                    .strip_prefix(&self.root)
                    .unwrap_or(&file)
                    .to_string_lossy()
                    .replace('\\', "/");
                (relative, file)
            })
            .collect();
        named.sort();
        named.dedup();
        let registry = self.registry_closure(&crates);
        let mut hasher = blake3::Hasher::new();
        let mut field = |bytes: &[u8]| {
            hasher.update(&(bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        };
        field(LAYOUT.as_bytes());
        for (relative, file) in &named {
            let contents =
                std::fs::read(file).map_err(|e| error(format!("read {}: {e}", file.display())))?;
            field(relative.as_bytes());
            field(&contents);
        }
        for locked in &registry {
            let line = format!(
                "{} {} {} {}",
                locked.name, locked.version, locked.source, locked.checksum
            );
            field(line.as_bytes());
        }
        for value in toolchain.fields() {
            field(value.as_bytes());
        }
        field(self.profiles.as_bytes());
        Ok(Fingerprint {
            digest: hasher.finalize().to_hex().to_string(),
            crates,
            files: named.into_iter().map(|(relative, _)| relative).collect(),
            registry,
            watch,
        })
    }

    /// Every locked version of the registry crates `names`, in lock order (for provenance).
    pub fn versions(&self, names: &[&str]) -> Vec<(String, String)> {
        names
            .iter()
            .flat_map(|name| {
                self.lock
                    .iter()
                    .filter(move |((n, _), (source, _, _))| n == name && !source.is_empty())
                    .map(|((n, v), _)| (n.clone(), v.clone()))
            })
            .collect()
    }
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| error(format!("read {}: {e}", dir.display())))?;
    for entry in entries {
        let path = entry
            .map_err(|e| error(format!("read {}: {e}", dir.display())))?
            .path();
        if path.is_dir() {
            collect(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// The fingerprint of workspace crate `package` in the source tree at `root`.
pub fn of_tree(root: &Path, package: &str, toolchain: &Toolchain) -> Result<Fingerprint, Error> {
    Workspace::load(root)?.fingerprint(package, toolchain)
}

/// Copy every fingerprint input of the tree at `from` to `to`: the workspace `Cargo.toml` and
/// `Cargo.lock`, and each member's `Cargo.toml`, `build.rs` and source directories. A fingerprint of
/// the copy equals the original's; tests edit the copy.
pub fn copy_inputs(from: &Path, to: &Path) -> Result<(), Error> {
    fn copy_file(from: &Path, to: &Path) -> Result<(), Error> {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| error(format!("create {}: {e}", parent.display())))?;
        }
        std::fs::copy(from, to)
            .map(drop)
            .map_err(|e| error(format!("copy {}: {e}", from.display())))
    }
    let workspace = Workspace::load(from)?;
    for file in ["Cargo.toml", "Cargo.lock"] {
        copy_file(&from.join(file), &to.join(file))?;
    }
    for member in workspace.members.values() {
        let dir = from.join(&member.dir);
        let mut files = Vec::new();
        for sub in SOURCE_DIRS {
            if dir.join(sub).is_dir() {
                collect(&dir.join(sub), &mut files)?;
            }
        }
        files.extend(
            ["Cargo.toml", "build.rs"]
                .iter()
                .map(|f| dir.join(f))
                .filter(|f| f.is_file()),
        );
        for file in files {
            let relative = file.strip_prefix(from).unwrap_or(&file);
            copy_file(&file, &to.join(relative))?;
        }
    }
    Ok(())
}

fn build_context() -> (PathBuf, String, PathBuf) {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("run from build.rs"));
    let package = std::env::var("CARGO_PKG_NAME").expect("run from build.rs");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("run from build.rs"));
    let root = workspace_root(&manifest).unwrap_or_else(|e| panic!("fingerprint: {e}"));
    (root, package, out)
}

/// For `build.rs`: compute this crate's fingerprint, tell cargo to re-run when any input changes,
/// and write `$OUT_DIR/fingerprint.rs` with `FINGERPRINT` (the digest) and `TOOLCHAIN` (the
/// [`Toolchain::fields`] it was computed with, so the same value can be recomputed at run time
/// over another tree with [`of_tree`]).
///
/// # Panics
/// If the tree cannot be read (failing the build).
pub fn emit() {
    let (root, package, out) = build_context();
    let toolchain = Toolchain::from_build_env();
    let fingerprint =
        of_tree(&root, &package, &toolchain).unwrap_or_else(|e| panic!("fingerprint: {e}"));
    for path in &fingerprint.watch {
        println!("cargo::rerun-if-changed={}", path.display());
    }
    let mut code = String::new();
    let _ = writeln!(
        code,
        "/// Implementation fingerprint of `{package}`: its sources and those of every workspace \
         crate it depends on ({}), {} locked registry crates, rustc and the float-relevant build \
         settings.",
        fingerprint
            .crates
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        fingerprint.registry.len()
    );
    let _ = writeln!(
        code,
        "pub const FINGERPRINT: &str = {:?};",
        fingerprint.digest
    );
    let _ = writeln!(
        code,
        "/// The build settings `FINGERPRINT` was computed with (`fingerprint::Toolchain::fields`)."
    );
    let _ = writeln!(
        code,
        "pub const TOOLCHAIN: [&str; 4] = {:?};",
        toolchain.fields()
    );
    std::fs::write(out.join("fingerprint.rs"), code).expect("write fingerprint.rs");
}

/// For `build.rs`: write `$OUT_DIR/versions.rs` with `VERSIONS`, the (name, version) of rustc and of
/// every locked version of the registry crates `names` (the report's provenance).
///
/// # Panics
/// If the tree cannot be read (failing the build).
pub fn emit_versions(names: &[&str]) {
    let (root, _, out) = build_context();
    let workspace = Workspace::load(&root).unwrap_or_else(|e| panic!("fingerprint: {e}"));
    println!(
        "cargo::rerun-if-changed={}",
        root.join("Cargo.lock").display()
    );
    let toolchain = Toolchain::from_build_env();
    let mut code = String::from(
        "/// (name, version) of rustc and of the main dependencies, from Cargo.lock.\n\
         pub const VERSIONS: &[(&str, &str)] = &[\n",
    );
    let _ = writeln!(code, "    (\"rustc\", {:?}),", toolchain.rustc_release());
    for (name, version) in workspace.versions(names) {
        let _ = writeln!(code, "    ({name:?}, {version:?}),");
    }
    code.push_str("];\n");
    std::fs::write(out.join("versions.rs"), code).expect("write versions.rs");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn package(name: &str, version: &str, checksum: &str, deps: &[&str]) -> String {
        let mut text = format!(
            "[[package]]\nname = \"{name}\"\nversion = \"{version}\"\n\
             source = \"registry+https://github.com/rust-lang/crates.io-index\"\n\
             checksum = \"{checksum}\"\n"
        );
        if !deps.is_empty() {
            let list: Vec<String> = deps.iter().map(|d| format!("\"{d}\"")).collect();
            text.push_str(&format!("dependencies = [{}]\n", list.join(", ")));
        }
        text + "\n"
    }

    /// `a` → `b` (workspace) and `x` (registry, → `z 1.0.0`); `b` → `y`; `c` → `z 2.0.0` and has
    /// `a` as a dev-dependency only; `d` uses `b` through a relative path.
    fn workspace() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "Cargo.toml",
            "[workspace]\nmembers = [\"crates/*\"]\n\n[workspace.dependencies]\n\
             b = { path = \"crates/b\" }\nx = \"1\"\n\n[profile.release]\nopt-level = 3\n",
        );
        write(
            root,
            "crates/a/Cargo.toml",
            "[package]\nname = \"a\"\n\n[dependencies]\nb.workspace = true\nx.workspace = true\n",
        );
        write(root, "crates/a/src/lib.rs", "pub fn a() {}\n");
        write(
            root,
            "crates/b/Cargo.toml",
            "[package]\nname = \"b\"\n\n[dependencies]\ny = \"1\"\n",
        );
        write(root, "crates/b/src/lib.rs", "pub fn b() {}\n");
        write(root, "crates/b/templates/page.html", "<p>\n");
        write(
            root,
            "crates/c/Cargo.toml",
            "[package]\nname = \"c\"\n\n[dependencies]\nz = \"2\"\n\n\
             [dev-dependencies]\na = { path = \"../a\" }\n",
        );
        write(root, "crates/c/src/lib.rs", "pub fn c() {}\n");
        write(
            root,
            "crates/d/Cargo.toml",
            "[package]\nname = \"d\"\n\n[dependencies]\nb = { path = \"../b\" }\n",
        );
        write(root, "crates/d/src/lib.rs", "pub fn d() {}\n");
        let mut lock = String::from("version = 4\n\n");
        lock += "[[package]]\nname = \"a\"\nversion = \"0.0.0\"\ndependencies = [\"b\", \"x\"]\n\n";
        lock += "[[package]]\nname = \"b\"\nversion = \"0.0.0\"\ndependencies = [\"y\"]\n\n";
        lock += "[[package]]\nname = \"c\"\nversion = \"0.0.0\"\ndependencies = [\"a\", \"z 2.0.0\"]\n\n";
        lock += "[[package]]\nname = \"d\"\nversion = \"0.0.0\"\ndependencies = [\"b\"]\n\n";
        lock += &package("x", "1.0.0", "aa", &["z 1.0.0"]);
        lock += &package("y", "1.0.0", "bb", &[]);
        lock += &package("z", "1.0.0", "cc", &[]);
        lock += &package("z", "2.0.0", "dd", &[]);
        write(root, "Cargo.lock", &lock);
        dir
    }

    fn toolchain() -> Toolchain {
        Toolchain::from_fields([
            "rustc 1.95.0\nhost: x",
            "3",
            "x86_64-unknown-linux-gnu",
            "sse2",
        ])
    }

    fn digests(root: &Path, toolchain: &Toolchain) -> BTreeMap<&'static str, String> {
        ["a", "b", "c", "d"]
            .into_iter()
            .map(|name| (name, of_tree(root, name, toolchain).unwrap().digest))
            .collect()
    }

    /// Which crates' digests differ between two maps.
    fn moved(
        before: &BTreeMap<&'static str, String>,
        after: &BTreeMap<&'static str, String>,
    ) -> Vec<&'static str> {
        before
            .iter()
            .filter(|(name, digest)| after[*name] != **digest)
            .map(|(name, _)| *name)
            .collect()
    }

    #[test]
    fn the_closure_follows_normal_dependencies_and_every_locked_version() {
        let dir = workspace();
        let ws = Workspace::load(dir.path()).unwrap();
        let a = ws.fingerprint("a", &toolchain()).unwrap();
        assert_eq!(a.crates, BTreeSet::from(["a".into(), "b".into()]));
        let registry: Vec<String> = a
            .registry
            .iter()
            .map(|l| format!("{} {}", l.name, l.version))
            .collect();
        assert_eq!(registry, ["x 1.0.0", "y 1.0.0", "z 1.0.0"]);
        assert_eq!(
            a.files,
            [
                "crates/a/Cargo.toml",
                "crates/a/src/lib.rs",
                "crates/b/Cargo.toml",
                "crates/b/src/lib.rs",
                "crates/b/templates/page.html",
            ]
        );
        // A dev-dependency is not reached; the crate's own `z` is the other locked version.
        let c = ws.fingerprint("c", &toolchain()).unwrap();
        assert_eq!(c.crates, BTreeSet::from(["c".into()]));
        assert_eq!(
            c.registry.iter().map(|l| &l.version).collect::<Vec<_>>(),
            ["2.0.0"]
        );
        // A relative path dependency resolves to the same member.
        let d = ws.fingerprint("d", &toolchain()).unwrap();
        assert_eq!(d.crates, BTreeSet::from(["b".into(), "d".into()]));
        assert!(ws.fingerprint("nope", &toolchain()).is_err());
    }

    #[test]
    fn an_edit_moves_exactly_the_crates_that_reach_it() {
        let dir = workspace();
        let root = dir.path();
        let base = digests(root, &toolchain());
        assert_eq!(base, digests(root, &toolchain()), "stable");
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "crates/b/templates/page.html",
                "<p>\n<!-- -->\n",
                &["a", "b", "d"],
            ),
            ("crates/a/src/lib.rs", "pub fn a() {} // edited\n", &["a"]),
            ("crates/c/src/new.rs", "\n", &["c"]),
        ];
        for (path, text, expected) in cases {
            let dir = workspace();
            write(dir.path(), path, text);
            assert_eq!(
                moved(&base, &digests(dir.path(), &toolchain())),
                *expected,
                "{path}"
            );
        }
        // A file outside the source directories reaches nothing.
        let dir = workspace();
        write(dir.path(), "crates/a/README.md", "notes\n");
        assert!(moved(&base, &digests(dir.path(), &toolchain())).is_empty());
    }

    #[test]
    fn a_locked_version_moves_exactly_the_crates_whose_closure_holds_it() {
        let base = digests(workspace().path(), &toolchain());
        let edit = |from: &str, to: &str| {
            let dir = workspace();
            let lock = std::fs::read_to_string(dir.path().join("Cargo.lock")).unwrap();
            assert!(lock.contains(from));
            write(dir.path(), "Cargo.lock", &lock.replacen(from, to, 1));
            moved(&base, &digests(dir.path(), &toolchain()))
        };
        // z 1.0.0 is reached by a (through x); z 2.0.0 by c.
        assert_eq!(edit("checksum = \"cc\"", "checksum = \"ce\""), ["a"]);
        assert_eq!(edit("checksum = \"dd\"", "checksum = \"de\""), ["c"]);
        assert_eq!(
            edit("checksum = \"bb\"", "checksum = \"be\""),
            ["a", "b", "d"]
        );
    }

    #[test]
    fn the_toolchain_and_profiles_move_everything() {
        let dir = workspace();
        let base = digests(dir.path(), &toolchain());
        let mut other = toolchain();
        other.opt_level = "2".into();
        assert_eq!(
            moved(&base, &digests(dir.path(), &other)),
            ["a", "b", "c", "d"]
        );
        let mut other = toolchain();
        other.target_features = "sse2,fma".into();
        assert_eq!(
            moved(&base, &digests(dir.path(), &other)),
            ["a", "b", "c", "d"]
        );
        let manifest = std::fs::read_to_string(dir.path().join("Cargo.toml")).unwrap();
        write(
            dir.path(),
            "Cargo.toml",
            &manifest.replace("opt-level = 3", "opt-level = 3\ncodegen-units = 1"),
        );
        assert_eq!(
            moved(&base, &digests(dir.path(), &toolchain())),
            ["a", "b", "c", "d"]
        );
    }

    #[test]
    fn a_copy_of_the_inputs_has_the_same_fingerprints() {
        let dir = workspace();
        write(dir.path(), "crates/a/tests/t.rs", "#[test]\nfn t() {}\n");
        let copy = tempfile::tempdir().unwrap();
        copy_inputs(dir.path(), copy.path()).unwrap();
        assert!(!copy.path().join("crates/a/tests").exists());
        assert_eq!(
            digests(dir.path(), &toolchain()),
            digests(copy.path(), &toolchain())
        );
    }

    #[test]
    fn provenance_lists_every_locked_version() {
        let ws = Workspace::load(workspace().path()).unwrap();
        assert_eq!(
            ws.versions(&["z", "y"]),
            [
                ("z".to_string(), "1.0.0".to_string()),
                ("z".into(), "2.0.0".into()),
                ("y".into(), "1.0.0".into()),
            ]
        );
    }
}
