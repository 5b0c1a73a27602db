//! The training step on the fast f32 kernels ([`vision::train::step_f32`] over
//! [`vision::fast::Kernels`]) against the reference step ([`vision::train::step`] in f64 over
//! burn's f32 loss and gradient), on the same parameters and the same batch of 64 real digits —
//! with their exact-zero backgrounds, so max-pool windows hold exact ties and the two must also
//! route the gradient to the same (first) winner.
//!
//! Tolerances, fixed before running: both sides are f32 forward/backward passes that differ only
//! in summation order. The longest sums have K ≤ 1568 terms (the head) or 196·64 (a conv weight
//! gradient over a batch, summed per image then across images); with rounding that behaves like a
//! random walk the relative error is ≈ √K·ε₃₂ ≈ 40 · 6e-8 ≈ 2.4e-6 of the sum of magnitudes, and
//! the worst-case bound K·ε₃₂ is ≈ 1e-4 for the per-image sums. So: loss within 1e-5 relative
//! (it is a mean of 64 logistic losses of O(1) with no cancellation), and the update direction
//! (θ − θ′)/lr within 1e-4 of its norm. For SAM the second gradient is taken at a perturbation
//! that differs by the first gradient's error — ρ·1e-5 in norm — whose effect on the gradient is
//! of that order times the curvature, far below 1e-4. ℓ∞-SAM is discontinuous where a gradient
//! component is 0; the test first checks that the two sign patterns agree (they must unless a
//! component lies within rounding of 0, which would be reported, not hidden).

use std::path::Path;

use vision::cnn::{Cnn, CnnConfig, Precision};
use vision::fast::Kernels;
use vision::mnist::Mnist;
use vision::train::{Optimizer, sign0, step, step_f32};

fn norm(v: impl Iterator<Item = f64>) -> f64 {
    v.map(|x| x * x).sum::<f64>().sqrt()
}

#[test]
fn fast_f32_step_matches_the_burn_reference_step_on_real_digits() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist");
    let task = Mnist::load(&dir)
        .unwrap()
        .binary_task(4, 9, Some(64), Some(1), 5)
        .unwrap();
    let (images, targets) = (&task.train.images, &task.train.targets);
    assert_eq!(targets.len(), 64);
    assert!(
        images.iter().filter(|&&x| x == 0.0).count() > images.len() / 2,
        "the batch should have exact-zero backgrounds (ties in the pools)"
    );
    let config = CnnConfig::mnist(1, 1.0, 3);
    let cnn = Cnn::new(config).unwrap();
    // The f32 parameters both sides start from (burn's leaves round f64 to f32 anyway).
    let theta: Vec<f64> = cnn.params.iter().map(|&p| f64::from(p as f32)).collect();
    let kernels = Kernels::new(config);
    let lr = 0.1;

    // The first gradients agree, and so do their signs (ℓ∞-SAM's perturbation).
    let (loss_ref, g_ref) = cnn.loss_and_grad_at(&theta, images, targets, Precision::F32);
    let p32: Vec<f32> = theta.iter().map(|&t| t as f32).collect();
    let mut g32 = vec![0.0f32; p32.len()];
    let loss = kernels.loss_and_grad(&p32, images, targets, &mut g32);
    assert!(
        (loss - loss_ref).abs() <= 1e-5 * loss_ref,
        "loss {loss} vs burn {loss_ref}"
    );
    let g_norm = norm(g_ref.iter().copied());
    let diff = norm(g32.iter().zip(&g_ref).map(|(&a, &e)| f64::from(a) - e));
    assert!(diff <= 1e-4 * g_norm, "‖Δ∇L‖ = {diff} vs ‖∇L‖ = {g_norm}");
    let flips: Vec<(usize, f32, f64)> = g32
        .iter()
        .zip(&g_ref)
        .enumerate()
        .filter(|(_, (a, e))| sign0(f64::from(**a)) != sign0(**e))
        .map(|(j, (a, e))| (j, *a, *e))
        .collect();
    assert!(flips.is_empty(), "gradient signs differ at {flips:?}");

    for optimizer in [
        Optimizer::Gd,
        Optimizer::SamL2 { rho: 0.05 },
        Optimizer::SamLinf { rho: 0.01 },
    ] {
        let mut reference = theta.clone();
        let loss_ref = step(optimizer, lr, &mut reference, |p| {
            cnn.loss_and_grad_at(p, images, targets, Precision::F32)
        });
        let direction_ref: Vec<f64> = theta
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b) / lr)
            .collect();

        let mut params = p32.clone();
        let (mut grad, mut perturbed) = (vec![0.0f32; p32.len()], vec![0.0f32; p32.len()]);
        let loss = step_f32(
            optimizer,
            lr,
            &mut params,
            &mut grad,
            &mut perturbed,
            |p, g| kernels.loss_and_grad(p, images, targets, g),
        );
        // `grad` holds the direction the step moved along: ∇L at θ (GD) or at θ + ε (SAM).
        let name = optimizer.name();
        assert!(
            (loss - loss_ref).abs() <= 1e-5 * loss_ref,
            "{name}: loss {loss} vs {loss_ref}"
        );
        let reference_norm = norm(direction_ref.iter().copied());
        let diff = norm(
            grad.iter()
                .zip(&direction_ref)
                .map(|(&a, &e)| f64::from(a) - e),
        );
        assert!(
            diff <= 1e-4 * reference_norm,
            "{name}: ‖Δ direction‖ = {diff} vs ‖direction‖ = {reference_norm}"
        );
        // The parameters moved by lr·grad, rounded once to f32.
        for ((&after, &before), &g) in params.iter().zip(&p32).zip(&grad) {
            let exact = f64::from(before) - lr * f64::from(g);
            assert_eq!(after, exact as f32, "{name}");
        }
        if !matches!(optimizer, Optimizer::Gd) {
            // SAM moved along a different direction than GD would have.
            let gd_diff = norm(direction_ref.iter().zip(&g_ref).map(|(a, b)| a - b));
            assert!(
                gd_diff > 1e-2 * reference_norm,
                "{name}: no perturbation effect"
            );
        }
    }
}
