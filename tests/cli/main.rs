//! The one integration-test binary: drives the real `minorfirst` binary in temp dirs.

mod util;
mod train;
mod engine;
mod report;
