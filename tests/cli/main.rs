//! The one integration-test binary: drives the real `minorfirst` binary in temp dirs.

mod durability;
mod engine;
mod expectations;
mod faults;
mod fingerprints;
mod habits;
mod remote;
mod report;
mod reseed;
mod slurm;
mod train;
mod util;
