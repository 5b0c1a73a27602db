//! The `minorfirst` binary's modules. Layers, each importing only the ones above it:
//!
//! - `exit` (exit codes, `CliError`, stdout), `expectations`, `kinds` (the registry) with
//!   `toy_claim`, `progress` (the terminal `Reporter`), `claims` (stored ledgers);
//! - `records` (run snapshots for `diff`), `provenance` and `seeds` (the `--set`s the binary derives);
//! - `plan` (`PlanArgs`, `load_plan`), `cache` (remote cache flags and settings), `slurm`;
//! - `commands/` (one file per subcommand) and `app` (the clap tree and the dispatch).

pub mod app;
pub mod cache;
pub mod claims;
pub mod commands;
pub mod exit;
pub mod expectations;
pub mod kinds;
pub mod plan;
pub mod progress;
pub mod provenance;
pub mod records;
pub mod seeds;
pub mod slurm;
pub mod toy_claim;
