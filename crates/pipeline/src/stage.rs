//! The extension point: a stage kind is a Rust type implementing [`StageKind`].
//!
//! The engine knows no domain code. A kind declares its parameter schema (used to validate
//! `pipeline.toml`, to expand sweeps and to build canonical task keys), a fingerprint of the source
//! that implements it (so editing the code invalidates exactly its tasks and their dependents), and
//! `run`, which turns one task's parameters and its input artifacts into files in the store.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The type of one declared parameter. A list given in `pipeline.toml` where a scalar of this type
/// is expected is a sweep (one task per value); for vector types a list of lists is a sweep.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamType {
    Bool,
    Int {
        min: Option<i64>,
        max: Option<i64>,
    },
    Float {
        min: Option<f64>,
        max: Option<f64>,
    },
    Str {
        choices: Option<Vec<&'static str>>,
    },
    /// A vector of floats, optionally with a fixed length and element bounds.
    FloatVec {
        len: Option<usize>,
        min: Option<f64>,
        max: Option<f64>,
    },
    IntVec {
        min: Option<i64>,
        max: Option<i64>,
    },
    StrVec,
    /// Any TOML value, passed through as JSON (for nested tables such as log grids). Never swept.
    Any,
}

/// One declared parameter of a kind.
#[derive(Debug, Clone)]
pub struct ParamSpec {
    pub name: &'static str,
    pub ty: ParamType,
    /// `None` means required.
    pub default: Option<Value>,
    /// Whether a list-valued setting may expand into a sweep.
    pub sweepable: bool,
    pub doc: &'static str,
}

/// The parameters a kind accepts. Unknown keys in `pipeline.toml` are an error.
#[derive(Debug, Clone, Default)]
pub struct ParamSchema {
    pub params: Vec<ParamSpec>,
}

/// An artifact produced by a task the current task depends on, already verified against its
/// recorded blake3 hashes before `run` is called.
#[derive(Debug, Clone)]
pub struct InputArtifact {
    /// Name of the stage that produced it.
    pub stage: String,
    /// The kind of that stage.
    pub kind: String,
    /// The resolved parameters of the producing task (canonical JSON object).
    pub params: Value,
    /// The producing task's content key (hex).
    pub key: String,
    /// Directory holding the artifact's files (read-only).
    pub dir: PathBuf,
}

impl InputArtifact {
    /// Path of one file of this artifact.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }
}

/// What `run` sees of its task.
pub struct TaskContext<'a> {
    /// Stage name from `pipeline.toml`.
    pub stage: &'a str,
    /// Resolved parameters of this task (sweep point, profile and `--set` applied, defaults filled):
    /// a JSON object with one entry per declared parameter.
    pub params: &'a Value,
    /// Artifacts of every task of every stage this stage depends on, in plan order.
    pub inputs: &'a [InputArtifact],
    /// Empty directory to write this task's files into; the engine hashes, records and commits it
    /// atomically after `run` returns `Ok`. Files under `out_dir/publish/` are additionally mirrored
    /// into the reports directory (e.g. `publish/figures/x.svg` → `reports/figures/x.svg`).
    pub out_dir: &'a Path,
}

impl TaskContext<'_> {
    /// Deserialize this task's parameters into a typed struct.
    pub fn params<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(self.params.clone())
    }

    /// The artifacts produced by the tasks of one named dependency stage.
    pub fn inputs_of<'s>(&'s self, stage: &'s str) -> impl Iterator<Item = &'s InputArtifact> + 's {
        self.inputs.iter().filter(move |a| a.stage == stage)
    }
}

/// The error a task returns; the engine records it, keeps going with independent tasks, and ends the
/// run non-zero.
pub type TaskError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The most work one task may ask for without `--allow-large-work`, in the units of [`Work`]:
/// 10¹³ elementary multiply-adds, hours of one core. The largest task of the shipped
/// `pipeline.toml` (an ℓ2-SAM CNN run on MNIST, ≈ 7·10¹⁰) stays two orders of magnitude below it
/// in every profile; a typo or an overflowing value (`steps = 9223372036854775807`) does not.
pub const WORK_BOUND: f64 = 1e13;

/// A kind's estimate of how much computation one task asks for, so that a plan can refuse an
/// unbounded request before anything runs (see [`WORK_BOUND`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Work {
    /// Elementary operations (about one multiply-add of the model each); may be `inf`.
    pub units: f64,
    /// The parameter that sets the scale, named in the error (e.g. `steps`).
    pub key: &'static str,
    /// How `units` is formed, for the error (e.g. `steps × n × d × L`).
    pub formula: &'static str,
}

/// A stage kind, registered with the engine under [`StageKind::name`].
pub trait StageKind: Send + Sync + 'static {
    /// Unique kind name as written in `pipeline.toml` (`kind = "..."`).
    fn name(&self) -> &'static str;
    /// Hex digest of the source implementing this kind (computed at build time by the implementing
    /// crate's build script). Part of every task key of this kind.
    fn fingerprint(&self) -> &'static str;
    /// Declared parameters.
    fn schema(&self) -> ParamSchema;
    /// Run one task. Must be deterministic in (params, inputs): the result is cached by content key.
    fn run(&self, ctx: &TaskContext<'_>) -> Result<(), TaskError>;
    /// How much work a task with these (resolved) parameters asks for; `None` (the default) for
    /// kinds whose cost is bounded by their inputs. [`crate::Plan::build`] refuses a task above
    /// [`WORK_BOUND`] unless the caller allows large work.
    fn work(&self, params: &Value) -> Option<Work> {
        let _ = params;
        None
    }
    /// A cheap check of the task's external inputs (files outside the store, e.g. a data set and its
    /// checksums), called by the executor for every task it is about to execute, before any of them
    /// runs. An `Err` is bad input: the run stops with exit 2 and this one-line message. The default
    /// accepts everything.
    fn preflight(&self, params: &Value) -> Result<(), String> {
        let _ = params;
        Ok(())
    }
}

impl ParamSpec {
    /// A required, non-sweepable parameter; chain [`ParamSpec::with_default`] and
    /// [`ParamSpec::sweepable`] to refine it.
    pub fn new(name: &'static str, ty: ParamType, doc: &'static str) -> Self {
        Self {
            name,
            ty,
            default: None,
            sweepable: false,
            doc,
        }
    }

    /// Make the parameter optional with this default (validated like a value from the file).
    pub fn with_default(mut self, default: impl Into<Value>) -> Self {
        self.default = Some(default.into());
        self
    }

    /// Allow a list-valued setting to expand into a sweep.
    pub fn sweepable(mut self) -> Self {
        self.sweepable = true;
        self
    }
}

impl ParamSchema {
    pub fn new(params: Vec<ParamSpec>) -> Self {
        Self { params }
    }

    /// The declared parameter called `name`.
    pub fn get(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|spec| spec.name == name)
    }
}
