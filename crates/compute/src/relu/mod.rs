//! The reviewers' non-linear variant: one seeded run of a two-layer ReLU network per task
//! (`relu.train`); `analysis::relu` aggregates the seeds into claims.

pub mod train;
