//! Subcommands of the `minorfirst` binary.

pub mod app;
pub mod cache;
pub mod cache_bench;
pub mod diff;
pub mod engine;
pub mod exit;
pub mod expectations;
pub mod habits;
pub mod ledger;
pub mod progress;
pub mod reseed;
pub mod slurm;
pub mod toy_claim;
pub mod train;
