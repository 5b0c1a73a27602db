//! The one integration-test binary: drives the real `minorfirst` binary in temp dirs.

mod durability;
mod engine;
mod habits;
mod remote;
mod report;
mod train;
mod util;
