//! Many independent discrete runs in parallel (rayon), e.g. a grid over (α, ρ, η) on one dataset.
// Index loops over lanes are the shape LLVM vectorises across configurations; keep them explicit.
#![allow(clippy::needless_range_loop, clippy::manual_memcpy)]

use rayon::prelude::*;

use crate::dataset::Dataset;
use crate::error::NumericsError;
use crate::fastexp::exp_nonpositive;
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

/// Configurations processed together by [`sweep_single_example`]: 8 lanes let the compiler keep every
/// arithmetic operation in SIMD registers (AVX2 holds 4 f64, so two registers per operation).
pub const LANES: usize = 8;

/// The update rule of a batched sweep (each configuration brings its own ρ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Gd,
    SamLinf,
    SamL2,
}

/// One configuration of a batched single-example sweep: balanced init α, radius ρ ≥ 0, step η > 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchPoint<const D: usize> {
    pub alpha: [f64; D],
    pub rho: f64,
    pub lr: f64,
}

/// Final state of one configuration: weights (layer-major rows), accumulated τ, and the number of
/// updates done (fewer than requested iff an update would have left the finite range).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchResult<const L: usize, const D: usize> {
    pub weights: [[f64; D]; L],
    pub tau: f64,
    pub steps_done: u64,
}

/// Many single-example runs (example μ with label +1, depth L, d = D) in parallel: rayon over chunks of
/// [`LANES`] configurations, each chunk advanced in lock-step so that the per-configuration arithmetic
/// vectorises across configurations. Same algorithm as [`crate::optim::single_example_step`]; the only
/// difference is −ℓ′ through [`neg_dloss_vectorisable`], whose exponential
/// ([`crate::fastexp::exp_nonpositive`]) is a polynomial that the compiler can vectorise (relative
/// error ≤ 1e−15 while e^{−|m|} is a normal number; it underflows like `f64::exp` beyond).
pub fn sweep_single_example<const L: usize, const D: usize>(
    mu: [f64; D],
    rule: Rule,
    clock: crate::optim::Clock,
    steps: u64,
    points: &[BatchPoint<D>],
) -> Result<Vec<BatchResult<L, D>>, NumericsError> {
    if L == 0 || D == 0 {
        return Err(NumericsError::invalid(
            "sweep",
            "depth and dimension must be at least 1",
        ));
    }
    for (i, p) in points.iter().enumerate() {
        if !(p.rho.is_finite() && p.rho >= 0.0 && p.lr.is_finite() && p.lr > 0.0)
            || p.alpha.iter().any(|a| !a.is_finite())
        {
            return Err(NumericsError::invalid(
                "sweep point",
                format!("point {i} needs finite α, ρ ≥ 0 and η > 0"),
            ));
        }
    }
    if mu.iter().any(|m| !m.is_finite()) {
        return Err(NumericsError::invalid("sweep", "μ must be finite"));
    }
    let rescaled = matches!(clock, crate::optim::Clock::Rescaled);
    Ok(points
        .par_chunks(LANES)
        .flat_map_iter(|chunk| run_batch::<L, D>(&mu, rule, rescaled, steps, chunk))
        .collect())
}

fn run_batch<const L: usize, const D: usize>(
    mu: &[f64; D],
    rule: Rule,
    rescaled: bool,
    steps: u64,
    chunk: &[BatchPoint<D>],
) -> Vec<BatchResult<L, D>> {
    let point = |k: usize| chunk[k.min(chunk.len() - 1)];
    let mut w = [[[0.0; LANES]; D]; L];
    for l in 0..L {
        for j in 0..D {
            for k in 0..LANES {
                w[l][j][k] = point(k).alpha[j];
            }
        }
    }
    let rho: [f64; LANES] = std::array::from_fn(|k| point(k).rho);
    let lr: [f64; LANES] = std::array::from_fn(|k| point(k).lr);
    let mut tau = [0.0; LANES];
    let mut done = [0u64; LANES];
    let mut alive = [true; LANES];
    for _ in 0..steps {
        // Direction of ∇L(θ): −μ_j Π_{m≠l} w_m,j (the positive factor −ℓ′ is irrelevant).
        let g = products_except::<L, D>(&w, mu, -1.0);
        let mut hat = w;
        match rule {
            Rule::Gd => {}
            Rule::SamLinf => {
                for l in 0..L {
                    for j in 0..D {
                        for k in 0..LANES {
                            hat[l][j][k] += rho[k] * crate::optim::sign0(g[l][j][k]);
                        }
                    }
                }
            }
            Rule::SamL2 => {
                let mut norm_sq = [0.0; LANES];
                for row in &g {
                    for lanes in row {
                        for k in 0..LANES {
                            norm_sq[k] += lanes[k] * lanes[k];
                        }
                    }
                }
                let mut factor = [0.0; LANES];
                for k in 0..LANES {
                    let norm = norm_sq[k].sqrt();
                    factor[k] = if norm > 0.0 { rho[k] / norm } else { 0.0 };
                }
                for l in 0..L {
                    for j in 0..D {
                        for k in 0..LANES {
                            hat[l][j][k] += factor[k] * g[l][j][k];
                        }
                    }
                }
            }
        }
        let mut weight = [1.0; LANES];
        if !rescaled {
            let mut margin = [0.0; LANES];
            for j in 0..D {
                for k in 0..LANES {
                    let mut beta = mu[j];
                    for row in &hat {
                        beta *= row[j][k];
                    }
                    margin[k] += beta;
                }
            }
            for k in 0..LANES {
                weight[k] = neg_dloss_vectorisable(margin[k]);
            }
        }
        // Outer gradient ℓ′(m̂) μ_j Π_{m≠l} ŵ (ℓ′ → −1 in the rescaled clock).
        let outer = products_except::<L, D>(&hat, mu, 1.0);
        let mut next = w;
        let mut finite = alive;
        for l in 0..L {
            for j in 0..D {
                for k in 0..LANES {
                    next[l][j][k] += lr[k] * weight[k] * outer[l][j][k];
                    finite[k] &= next[l][j][k].is_finite();
                }
            }
        }
        for l in 0..L {
            for j in 0..D {
                for k in 0..LANES {
                    w[l][j][k] = if finite[k] { next[l][j][k] } else { w[l][j][k] };
                }
            }
        }
        for k in 0..LANES {
            alive[k] = finite[k];
            tau[k] += if finite[k] { lr[k] * weight[k] } else { 0.0 };
            done[k] += u64::from(finite[k]);
        }
    }
    (0..chunk.len())
        .map(|k| BatchResult {
            weights: std::array::from_fn(|l| std::array::from_fn(|j| w[l][j][k])),
            tau: tau[k],
            steps_done: done[k],
        })
        .collect()
}

/// `out[l][j][k] = sign·μ_j·Π_{m≠l} w[m][j][k]` by prefix/suffix products.
#[inline(always)]
fn products_except<const L: usize, const D: usize>(
    w: &[[[f64; LANES]; D]; L],
    mu: &[f64; D],
    sign: f64,
) -> [[[f64; LANES]; D]; L] {
    let mut out = [[[0.0; LANES]; D]; L];
    for j in 0..D {
        let mut prefix = [sign * mu[j]; LANES];
        for l in 0..L {
            for k in 0..LANES {
                out[l][j][k] = prefix[k];
                prefix[k] *= w[l][j][k];
            }
        }
        let mut suffix = [1.0; LANES];
        for l in (0..L).rev() {
            for k in 0..LANES {
                out[l][j][k] *= suffix[k];
                suffix[k] *= w[l][j][k];
            }
        }
    }
    out
}

/// −ℓ′(u) = e^{−|u|}/(1 + e^{−|u|}) (u ≥ 0) or 1/(1 + e^{u}) (u < 0) with a branch-free polynomial
/// exponential, so that a loop over lanes vectorises.
#[inline(always)]
pub fn neg_dloss_vectorisable(u: f64) -> f64 {
    let e = exp_nonpositive(-u.abs());
    if u >= 0.0 {
        e / (1.0 + e)
    } else {
        1.0 / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Clock, Optimizer};
    use crate::trajectory::{LogSchedule, TrainParams};

    #[test]
    fn batched_sweep_matches_train() {
        // The batch kernel and `train` run the same arithmetic up to the exponential (a few ulps per
        // step), so after 2000 steps the weights agree to 1e-11 relative.
        let points: Vec<BatchPoint<2>> = (0..11)
            .map(|i| BatchPoint {
                alpha: [0.3 + 0.05 * i as f64, 0.4],
                rho: 0.1 * (i % 3) as f64,
                lr: 0.05,
            })
            .collect();
        let data = Dataset::single(&[1.0, 2.0]).unwrap();
        for (rule, clock) in [
            (Rule::SamL2, Clock::Original),
            (Rule::SamLinf, Clock::Rescaled),
            (Rule::Gd, Clock::Original),
        ] {
            let results =
                sweep_single_example::<2, 2>([1.0, 2.0], rule, clock, 2000, &points).unwrap();
            assert_eq!(results.len(), points.len());
            for (point, result) in points.iter().zip(&results) {
                let optimizer = match rule {
                    Rule::Gd => Optimizer::Gd,
                    Rule::SamLinf => Optimizer::SamLinf { rho: point.rho },
                    Rule::SamL2 => Optimizer::SamL2 { rho: point.rho },
                };
                let params = TrainParams {
                    optimizer,
                    clock,
                    lr: point.lr,
                    steps: 2000,
                    log: LogSchedule::default(),
                    beta_cap: f64::INFINITY,
                };
                let reference = train(
                    &data,
                    Network::balanced(2, &point.alpha).unwrap(),
                    &TrainConfig::new(params).unwrap(),
                )
                .unwrap();
                assert_eq!(result.steps_done, 2000);
                for (l, row) in result.weights.iter().enumerate() {
                    for (j, &value) in row.iter().enumerate() {
                        let expected = reference.final_weights[l * 2 + j];
                        assert!(
                            (value / expected - 1.0).abs() < 1e-11,
                            "{rule:?}: {value} vs {expected}"
                        );
                    }
                }
                assert!((result.tau / reference.final_record.tau - 1.0).abs() < 1e-11);
            }
        }
    }
}
