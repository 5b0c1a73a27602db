//! Subcommands of the `minorfirst` binary.

pub mod app;
pub mod engine;
pub mod exit;
pub mod ledger;
pub mod train;
