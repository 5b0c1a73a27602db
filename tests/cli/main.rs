//! The one integration-test binary: drives the real `minorfirst` binary in temp dirs.

mod engine;
mod habits;
mod report;
mod slurm;
mod train;
mod util;
