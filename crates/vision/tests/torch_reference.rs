//! Our loss and gradient on a fixed batch against values computed once, independently, with
//! PyTorch (float64) — see `data/make_torch_reference.py` for how `data/torch_reference.txt` was
//! made.

use std::collections::HashMap;

use vision::cnn::{Cnn, CnnConfig, Precision};
use vision::fast::Kernels;

fn reference() -> HashMap<String, Vec<f64>> {
    let text = include_str!("data/torch_reference.txt");
    let mut lines = text.lines();
    let mut arrays = HashMap::new();
    while let Some(header) = lines.next() {
        let (name, count) = header.split_once(' ').expect("`name count` header");
        let values: Vec<f64> = lines
            .next()
            .expect("values line")
            .split_whitespace()
            .map(|v| v.parse().expect("number"))
            .collect();
        assert_eq!(values.len(), count.parse::<usize>().unwrap(), "{name}");
        arrays.insert(name.to_string(), values);
    }
    arrays
}

#[test]
fn loss_and_gradient_match_pytorch() {
    let r = reference();
    let config = CnnConfig::mnist(1, 1.0, 0);
    // The parameters were float32 when PyTorch used them (widened to float64 exactly); their
    // 9-digit decimals identify those float32 values but are not them, so round back to f32.
    let params: Vec<f64> = r["params"].iter().map(|&p| f64::from(p as f32)).collect();
    assert_eq!(params.len(), config.param_count());
    let images: Vec<f32> = r["images"].iter().map(|&x| x as f32).collect();
    let targets: Vec<usize> = r["targets"].iter().map(|&t| t as usize).collect();
    let (loss_ref, grad_ref) = (r["loss"][0], &r["grad"]);
    let kernels = Kernels::new(config);

    // f64 kernels on the same (f32-representable) inputs: the only difference from PyTorch's f64
    // is summation order, ≲ K·ε₆₄ ≈ 3e-13 relative for the longest sums (K ≈ 1568); 1e-10 keeps a
    // wide margin and still catches any wrong term, which would be O(|gradient|) ≈ 1e-3.
    let mut grad = vec![0.0f64; params.len()];
    let loss = kernels.loss_and_grad(&params, &images, &targets, &mut grad);
    assert!(
        (loss - loss_ref).abs() <= 1e-10 * loss_ref.abs(),
        "{loss} vs {loss_ref}"
    );
    for (j, (a, e)) in grad.iter().zip(grad_ref).enumerate() {
        assert!(
            (a - e).abs() <= 1e-10 * (1e-3 + e.abs()),
            "f64 component {j}: {a} vs {e}"
        );
    }

    // f32 kernels (the training path): worst-case rounding of a sum of K products is K·ε₃₂; the
    // longest gradient sums run over 196 positions × 6 images ≈ 1.2e3 terms (≈ 7e-5 relative to
    // the sum of magnitudes) after a forward pass with 1568-term sums of its own, so every
    // component must agree within 1e-3 of its tensor's largest |gradient| and the loss within 1e-5.
    let p32: Vec<f32> = params.iter().map(|&p| p as f32).collect();
    let mut g32 = vec![0.0f32; p32.len()];
    let loss32 = kernels.loss_and_grad(&p32, &images, &targets, &mut g32);
    assert!(
        (loss32 - loss_ref).abs() <= 1e-5 * loss_ref.abs(),
        "{loss32} vs {loss_ref}"
    );
    let mut offset = 0;
    for shape in config.shapes() {
        let count: usize = shape.iter().product();
        let expected = &grad_ref[offset..offset + count];
        let scale = expected.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        assert!(
            scale > 0.0,
            "tensor {shape:?} has a zero reference gradient"
        );
        for (a, e) in g32[offset..offset + count].iter().zip(expected) {
            assert!(
                (f64::from(*a) - e).abs() <= 1e-3 * scale,
                "f32 {shape:?}: {a} vs {e}"
            );
        }
        offset += count;
    }

    // burn (the reference path kept for Grad-CAM) agrees too, and the fast logits match PyTorch's.
    let cnn = Cnn { config, params };
    let (loss_burn, _) = cnn.loss_and_grad_at(&cnn.params, &images, &targets, Precision::F64);
    assert!((loss_burn - loss_ref).abs() <= 1e-10 * loss_ref.abs());
    for (a, e) in cnn.logits(&images).iter().zip(&r["logits"]) {
        assert!((a - e).abs() <= 1e-4 * (1.0 + e.abs()), "logit {a} vs {e}");
    }
}
