//! Seeded dataset generators: the single example, Gaussian clusters at ±m (spec B7), and random linearly
//! separable data with a guaranteed margin. Same seed ⇒ bit-identical data (ChaCha8, platform independent).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::dataset::Dataset;
use crate::error::NumericsError;

/// The single-example dataset D_μ = {(μ, +1)}.
pub fn single_example(mu: &[f64]) -> Result<Dataset, NumericsError> {
    Dataset::single(mu)
}

/// `n_per_class` points x ~ N(y·mean, σ² I) for each label y = +1 then y = −1 (B7 recipe with our RNG;
/// numpy's default_rng draws differ, so only seed-independent properties of B7 carry over).
pub fn gaussian_clusters(
    mean: &[f64],
    sigma: f64,
    n_per_class: usize,
    seed: u64,
) -> Result<Dataset, NumericsError> {
    if !(sigma.is_finite() && sigma >= 0.0) {
        return Err(NumericsError::invalid(
            "sigma",
            format!("{sigma} is not a finite number ≥ 0"),
        ));
    }
    if n_per_class == 0 {
        return Err(NumericsError::invalid("n_per_class", "must be at least 1"));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows = Vec::with_capacity(2 * n_per_class);
    let mut labels = Vec::with_capacity(2 * n_per_class);
    for label in [1.0, -1.0] {
        for _ in 0..n_per_class {
            let row = mean
                .iter()
                .map(|m| label * m + sigma * rng.sample::<f64, _>(StandardNormal))
                .collect();
            rows.push(row);
            labels.push(label);
        }
    }
    Dataset::from_rows(&rows, &labels)
}

/// `n` standard Gaussian points in d = w_star.len() dimensions labelled y = sign(⟨x, w*⟩) (0 ↦ +1), each then
/// pushed away from the separating hyperplane by `margin` along y·w*/‖w*‖, so every point has geometric
/// margin ≥ `margin` with respect to w* (spec B3's "margin added").
pub fn separable(
    n: usize,
    w_star: &[f64],
    margin: f64,
    seed: u64,
) -> Result<Dataset, NumericsError> {
    if n == 0 {
        return Err(NumericsError::invalid("n", "must be at least 1"));
    }
    let norm = w_star.iter().map(|v| v * v).sum::<f64>().sqrt();
    if !(norm.is_finite() && norm > 0.0) {
        return Err(NumericsError::invalid(
            "w_star",
            "must be finite and nonzero",
        ));
    }
    if !(margin.is_finite() && margin >= 0.0) {
        return Err(NumericsError::invalid(
            "margin",
            format!("{margin} is not a finite number ≥ 0"),
        ));
    }
    let unit: Vec<f64> = w_star.iter().map(|v| v / norm).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows = Vec::with_capacity(n);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let x: Vec<f64> = (0..unit.len())
            .map(|_| rng.sample::<f64, _>(StandardNormal))
            .collect();
        let projection: f64 = x.iter().zip(&unit).map(|(a, b)| a * b).sum();
        let label = if projection >= 0.0 { 1.0 } else { -1.0 };
        rows.push(
            x.iter()
                .zip(&unit)
                .map(|(a, u)| a + label * margin * u)
                .collect(),
        );
        labels.push(label);
    }
    Dataset::from_rows(&rows, &labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_for_a_seed_and_different_across_seeds() {
        assert_eq!(
            gaussian_clusters(&[1.0, 2.0], 0.3, 20, 0),
            gaussian_clusters(&[1.0, 2.0], 0.3, 20, 0)
        );
        assert_ne!(
            gaussian_clusters(&[1.0, 2.0], 0.3, 20, 0),
            gaussian_clusters(&[1.0, 2.0], 0.3, 20, 1)
        );
        assert_eq!(
            separable(12, &[1.0, -2.0, 0.5], 0.1, 3),
            separable(12, &[1.0, -2.0, 0.5], 0.1, 3)
        );
        assert_ne!(
            separable(12, &[1.0, -2.0, 0.5], 0.1, 3),
            separable(12, &[1.0, -2.0, 0.5], 0.1, 4)
        );
    }

    #[test]
    fn clusters_have_the_requested_shape_and_spread() {
        let data = gaussian_clusters(&[1.0, 2.0], 0.3, 500, 7).unwrap();
        assert_eq!((data.n(), data.d()), (1000, 2));
        assert_eq!(data.y().iter().filter(|&&y| y > 0.0).count(), 500);
        // Sample mean of y·x over 1000 draws: standard error 0.3/√1000 ≈ 0.0095, so 0.05 is > 5 sigma.
        for (j, m) in [1.0, 2.0].iter().enumerate() {
            let mean = (0..data.n())
                .map(|i| data.y()[i] * data.row(i)[j])
                .sum::<f64>()
                / 1000.0;
            assert!((mean - m).abs() < 0.05, "coordinate {j}: {mean}");
        }
        // Zero spread reproduces the cluster centres exactly.
        let exact = gaussian_clusters(&[1.0, 2.0], 0.0, 2, 1).unwrap();
        assert_eq!(exact.row(0), &[1.0, 2.0]);
        assert_eq!(exact.row(3), &[-1.0, -2.0]);
    }

    #[test]
    fn separable_data_respect_the_margin() {
        let w_star = [1.0, -2.0, 0.5];
        let norm = w_star.iter().map(|v: &f64| v * v).sum::<f64>().sqrt();
        let data = separable(200, &w_star, 0.25, 11).unwrap();
        for i in 0..data.n() {
            let geometric: f64 = data.y()[i]
                * data
                    .row(i)
                    .iter()
                    .zip(&w_star)
                    .map(|(a, b)| a * b)
                    .sum::<f64>()
                / norm;
            // Rounding only: the push makes the margin ≥ 0.25 exactly in real arithmetic.
            assert!(geometric >= 0.25 - 1e-12, "row {i}: {geometric}");
        }
        assert!(separable(5, &[0.0, 0.0], 0.1, 0).is_err());
    }
}
