//! One file per subcommand: its clap arguments and its `run`.

pub mod bench_engine;
pub mod bench_remote;
pub mod clean;
pub mod completions;
pub mod dag;
pub mod diff;
pub mod gc;
pub mod man;
pub mod pull;
pub mod push;
pub mod report;
pub mod run;
pub mod status;
pub mod train;
pub mod verify;
