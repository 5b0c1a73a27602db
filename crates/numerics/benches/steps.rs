//! Criterion benchmarks of single updates: ℓ2-SAM and GD at d = 2, L = 2 (one example), and a
//! multi-sample ℓ2-SAM step (n = 1000, d = 100, L = 2) against two dense mat-vecs of the same size
//! (row by row, and with the row-blocked kernels of the step itself).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use numerics::Dataset;
use numerics::model::{Network, dot, mat_t_vec, mat_vec};
use numerics::optim::{Clock, Optimizer, StepWorkspace, single_example_step, step};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn single_example(c: &mut Criterion) {
    // The JAX peer's setting (shared/bench/jax_sam_scan.py): μ = (1, 2), ρ = 0.1, η = 0.05, α = 0.3,
    // original clock; the fixed-size kernel is what `train` runs for one example.
    for (name, optimizer) in [
        ("sam_l2_step_d2_l2", Optimizer::SamL2 { rho: 0.1 }),
        ("gd_step_d2_l2", Optimizer::Gd),
    ] {
        let mut weights = [[0.3, 0.3]; 2];
        c.bench_function(name, |b| {
            b.iter(|| {
                let weight = single_example_step(
                    &mut weights,
                    black_box(&[1.0, 2.0]),
                    optimizer,
                    Clock::Original,
                    0.05,
                );
                // Keep the state bounded over millions of iterations so timings stay representative.
                if weights[0][0] > 1e3 {
                    weights = [[0.3, 0.3]; 2];
                }
                weight
            })
        });
    }
    let data = Dataset::single(&[1.0, 2.0]).unwrap();
    let mut network = Network::balanced(2, &[0.3, 0.3]).unwrap();
    let mut ws = StepWorkspace::new(2, 2);
    c.bench_function("sam_l2_step_d2_l2_dynamic_sizes", |b| {
        b.iter(|| {
            step(
                network.weights_mut(),
                2,
                black_box(&data),
                Optimizer::SamL2 { rho: 0.1 },
                Clock::Original,
                0.05,
                &mut ws,
            )
        })
    });
}

fn multi_sample(c: &mut Criterion) {
    let (n, d) = (1000, 100);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..d).map(|_| rng.random_range(-1.0..1.0)).collect())
        .collect();
    let labels: Vec<f64> = (0..n)
        .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let data = Dataset::from_rows(&rows, &labels).unwrap();
    let mut network = Network::balanced_scale(2, d, 0.1).unwrap();
    let mut ws = StepWorkspace::new(2, d);
    c.bench_function("sam_l2_step_n1000_d100_l2", |b| {
        b.iter(|| {
            step(
                network.weights_mut(),
                2,
                &data,
                Optimizer::SamL2 { rho: 0.1 },
                Clock::Original,
                1e-6,
                &mut ws,
            )
        })
    });
    // The reference: X·v then Xᵀ·u, written with the same vectorisable kernels.
    let v = vec![0.5; d];
    let mut u = vec![0.0; n];
    let mut out = vec![0.0; d];
    c.bench_function("two_matvecs_n1000_d100", |b| {
        b.iter(|| {
            for (ui, row) in u.iter_mut().zip(data.x().chunks_exact(d)) {
                *ui = dot(row, black_box(&v));
            }
            out.fill(0.0);
            for (&ui, row) in u.iter().zip(data.x().chunks_exact(d)) {
                for (o, &x) in out.iter_mut().zip(row) {
                    *o += ui * x;
                }
            }
            black_box(&out);
        })
    });
    // The same two products with the row-blocked kernels the SAM step's pass uses (four rows per
    // sweep): the stricter reference, so the ratio is not flattered by a weaker mat-vec.
    c.bench_function("two_matvecs_blocked_n1000_d100", |b| {
        b.iter(|| {
            mat_vec(data.x(), d, black_box(&v), &mut u);
            mat_t_vec(data.x(), d, &u, &mut out);
            black_box(&out);
        })
    });
}

criterion_group!(benches, single_example, multi_sample);
criterion_main!(benches);
