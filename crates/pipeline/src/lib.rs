//! The domain-agnostic pipeline engine: `pipeline.toml` → a DAG of content-keyed tasks → a
//! verified, content-addressed store, executed in parallel.
//!
//! ```no_run
//! use pipeline::{Config, Overrides, Plan, Registry, RunOptions, Store};
//!
//! let mut registry = Registry::new();
//! pipeline::toy::register(&mut registry); // a binary registers its real kinds the same way
//! let config = Config::load(std::path::Path::new("pipeline.toml"))?;
//! let plan = Plan::build(&registry, &config, &Overrides::default())?;
//! let store = Store::new(&config.store);
//! let report = pipeline::run(&registry, &plan, &store, &config.reports, &RunOptions::default())?;
//! eprintln!("{}", report.summary());
//! # Ok::<(), pipeline::Error>(())
//! ```
//!
//! # Design choices
//!
//! - **Kinds plug in through [`StageKind`]** and a [`Registry`]; this crate depends on no domain
//!   crate. The toy kinds in [`toy`] are always compiled and registered under the `toy.` prefix so
//!   the integration tests and the benchmark drive the real binary (no cargo feature to forget).
//! - **`pipeline.toml`**: `[pipeline]` (`store`, `reports`, relative to the file), `[profile.NAME]`
//!   tables of `"stage.key" = value`, `[stage.NAME]` tables with `kind`, `deps = [...]`, optional
//!   `foreach = "dep"` (one task per task of that dependency instead of depending on all of them),
//!   `sweep = "grid" | "zip"`, optional `tasks = [{...}, ...]`, and parameters. A task depends on
//!   every task of each dependency stage. Precedence: defaults < file < task entry < profile <
//!   `--set`. Parsing is strict; errors name file, line, stage and key, and nothing is written.
//! - **Sweeps**: a list where the schema expects a scalar (a list of lists for a vector) is an axis;
//!   axes are combined as a cartesian product with keys in sorted order (the first varies slowest),
//!   or zipped. A task's identity for `status` is (stage, position in that order).
//! - **Keys** ([`task_key`]): blake3 over [`KEY_FORMAT`], kind, fingerprint, canonical parameters
//!   (sorted keys, type-tagged, floats by bit pattern: `0.10` ≡ `0.1`, `1` ≡ `1.0` for float
//!   parameters) and, for each input in plan order, its stage name and key. The stage's own name is
//!   not part of the key, so identical work under two names is stored once.
//! - **Store** ([`Store`]): `objects/<key>/` committed by renaming a fully written, fsynced scratch
//!   directory whose manifest (path, size, blake3 per file) is written last; an object without a
//!   valid manifest is partial and is discarded. Tasks shorter than 200 ms are committed without
//!   fsync and synced in one batch at the end of the run, before their stamps are recorded (so an
//!   unsynced object is always fully re-verified after a crash); longer tasks are fsynced at once. Verification trade-off: after a full verification
//!   the (size, mtime, inode) of each file is recorded in `stamps.json`; a later run trusts an object
//!   whose files all still have that metadata (one `stat` per file — this keeps a no-op run over
//!   10 000 tasks in tens of milliseconds) and fully re-hashes any other object, and every cached
//!   input of a task that is about to execute. Any ordinary write changes mtime, so a flipped byte
//!   is caught on the next run; `run --verify` re-hashes everything regardless. Stamps taken within
//!   one second of a file's mtime are "racy" (a coarse clock could hide a later write) and are not
//!   trusted, as in git: the run after a cold run re-hashes once, later ones only `stat`.
//! - **Concurrency**: a run holds an exclusive OS lock (`std::fs::File::lock`) on `store/lock` for
//!   its whole duration; a second run waits, then finds everything cached. The OS drops the lock
//!   when a process dies, so there is no stale lock and never a manual unlock. Scratch directories
//!   of a killed run are deleted by the next run under the lock.
//! - **Executor** ([`run`]): rayon pool of `--jobs` threads; a task starts as soon as its inputs are
//!   done; a failure skips its dependents only. Objects are never deleted on parameter change, so
//!   reverting is instant; [`gc`] removes unreachable ones.
//! - **Status memory**: `store/state.json` records, per task identity, the last key, parameters,
//!   fingerprint and per-dependency-stage input digest, which lets [`status`] say *why* a task
//!   would run.
//!
//! # For `verify`-style consumers
//!
//! Build the plan with [`Plan::build`], iterate [`Plan::tasks`], and for each task call
//! [`Store::verify`] (full re-hash) and read files under [`Store::object_dir`].

pub mod config;
pub mod error;
pub mod exec;
/// Implementation fingerprint of this crate's (toy) kinds, derived at build time by the
/// `fingerprint` crate from every source file and locked registry crate `pipeline` can reach.
pub mod fingerprint {
    include!(concat!(env!("OUT_DIR"), "/fingerprint.rs"));
}
pub mod params;
pub mod plan;
pub mod registry;
pub mod remote;
pub mod stage;
pub mod state;
pub mod store;
pub mod toy;

pub use config::Config;
pub use error::{Error, Result};
pub use exec::{
    Executed, GcReport, Lines, Outcome, Problem, Quiet, RUN_JSON, Reporter, RunJson, RunJsonTask,
    RunOptions, RunReport, STALE, TaskRecord, TaskRunner, clean, gc, is_no_space, run, short_error,
    status,
};
pub use plan::{KEY_FORMAT, Overrides, Plan, StagePlan, Task, task_key};
pub use registry::Registry;
pub use remote::{CacheOptions, ObjectStoreCache, RemoteCache};
pub use stage::{
    InputArtifact, ParamSchema, ParamSpec, ParamType, StageKind, TaskContext, TaskError,
    WORK_BOUND, Work,
};
pub use state::Why;
pub use store::{MANIFEST, Manifest, Store};
