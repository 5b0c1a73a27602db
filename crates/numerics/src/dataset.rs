//! Labelled datasets: n samples in d dimensions with labels ±1, validated on construction.

use crate::error::NumericsError;

/// A validated dataset: `x` is row-major n×d, every entry finite, every label exactly ±1, n ≥ 1, d ≥ 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    x: Vec<f64>,
    y: Vec<f64>,
    n: usize,
    d: usize,
}

impl Dataset {
    /// Build from rows. Errors on zero samples, ragged rows, zero dimension, non-finite entries, or a
    /// label other than ±1 (the message names the offending row).
    pub fn from_rows(rows: &[Vec<f64>], labels: &[f64]) -> Result<Self, NumericsError> {
        if rows.is_empty() {
            return Err(NumericsError::invalid("dataset", "no samples"));
        }
        if rows.len() != labels.len() {
            return Err(NumericsError::invalid(
                "dataset",
                format!("{} rows of X but {} labels", rows.len(), labels.len()),
            ));
        }
        let d = rows[0].len();
        if d == 0 {
            return Err(NumericsError::invalid(
                "dataset",
                "samples have dimension 0",
            ));
        }
        let mut x = Vec::with_capacity(rows.len() * d);
        for (i, row) in rows.iter().enumerate() {
            if row.len() != d {
                return Err(NumericsError::invalid(
                    "dataset",
                    format!(
                        "row {i} has {} entries, row 0 has {d} (ragged X)",
                        row.len()
                    ),
                ));
            }
            if let Some(j) = row.iter().position(|v| !v.is_finite()) {
                return Err(NumericsError::invalid(
                    "dataset",
                    format!("X[{i}][{j}] = {} is not finite", row[j]),
                ));
            }
            x.extend_from_slice(row);
        }
        for (i, &label) in labels.iter().enumerate() {
            if label != 1.0 && label != -1.0 {
                return Err(NumericsError::invalid(
                    "dataset",
                    format!("label y[{i}] = {label} is not +1 or -1"),
                ));
            }
        }
        Ok(Self {
            x,
            y: labels.to_vec(),
            n: rows.len(),
            d,
        })
    }

    /// The single-example dataset D_μ = {(μ, +1)}.
    pub fn single(mu: &[f64]) -> Result<Self, NumericsError> {
        Self::from_rows(&[mu.to_vec()], &[1.0])
    }

    pub fn n(&self) -> usize {
        self.n
    }
    pub fn d(&self) -> usize {
        self.d
    }
    /// Row-major n×d features.
    pub fn x(&self) -> &[f64] {
        &self.x
    }
    /// Sample i's features.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.d..(i + 1) * self.d]
    }
    /// Labels, each ±1.
    pub fn y(&self) -> &[f64] {
        &self.y
    }
}
