//! Many independent discrete runs in parallel (rayon), e.g. a grid over (α, ρ, η) on one dataset.

use rayon::prelude::*;

use crate::dataset::Dataset;
use crate::error::NumericsError;
use crate::model::Network;
use crate::trajectory::{TrainConfig, Trajectory, train};

/// One configuration of a sweep: its initial network and its run settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepJob {
    pub network: Network,
    pub config: TrainConfig,
}

/// Run every job on `data` in parallel; results keep the jobs' order. Each job allocates its workspace
/// once, so the per-step work is the allocation-free [`crate::optim::step`].
pub fn run_sweep(data: &Dataset, jobs: &[SweepJob]) -> Vec<Result<Trajectory, NumericsError>> {
    jobs.par_iter()
        .map(|job| train(data, job.network.clone(), &job.config))
        .collect()
}
