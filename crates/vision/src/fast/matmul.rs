//! A safe, bounds-checked matrix product over the `gemm` crate: the only `unsafe` code in the
//! workspace (the workspace lint is `unsafe_code = "deny"`; this module alone allows it).
//!
//! Why `gemm` behind a checked wrapper rather than a safe GEMM:
//!
//! * `gemm` is already in the build (burn's flex backend uses it), so it costs no compile time,
//!   and it selects AVX2+FMA (or AVX-512) micro-kernels at run time. Safe Rust compiled for the
//!   default `x86-64` target autovectorises only to SSE2 without FMA — a quarter of the
//!   machine's f32 peak — unless the whole workspace is built with `-C target-cpu`, which would
//!   make the binaries non-portable; calling a `#[target_feature]` kernel from generic code is
//!   itself `unsafe`.
//! * faer's safe `matmul` would be a new heavy dependency (minutes of cold build here) and runs
//!   on the same kind of micro-kernels; its safety comes from the same checks made below.
//!
//! The wrapper takes slices, checks that every element each view can address lies inside its
//! slice, and only then hands raw pointers to `gemm::gemm`. Rust's borrow rules guarantee that the
//! `&mut` destination does not overlap the shared operands; the operands themselves may overlap
//! (the implicit-GEMM convolutions read overlapping rows), which is fine as they are only read.
#![allow(unsafe_code)]

use super::Real;

/// A read-only matrix view: element (i, j) is `data[i·rs + j·cs]`.
#[derive(Clone, Copy)]
pub(super) struct Mat<'a, T> {
    pub data: &'a [T],
    pub rs: usize,
    pub cs: usize,
}

/// Number of elements a `rows × cols` view with strides `rs`, `cs` spans from its first element
/// (0 for an empty view); `None` on overflow.
fn extent(rows: usize, cols: usize, rs: usize, cs: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(0);
    }
    (rows - 1)
        .checked_mul(rs)?
        .checked_add((cols - 1).checked_mul(cs)?)?
        .checked_add(1)
}

/// `dst` (m × n, row-major with row stride `dst_rs`) = [`dst` +] `lhs` (m × k) · `rhs` (k × n),
/// single-threaded (the callers parallelise across images).
///
/// # Panics
/// If a view addresses an element outside its slice, or `dst_rs < n` (rows would overlap).
#[allow(clippy::too_many_arguments)]
pub(super) fn matmul<T: Real>(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [T],
    dst_rs: usize,
    accumulate: bool,
    lhs: Mat<'_, T>,
    rhs: Mat<'_, T>,
) {
    assert!(n <= dst_rs || m <= 1, "matmul: dst rows overlap");
    let fits = |rows, cols, rs, cs, len| extent(rows, cols, rs, cs).is_some_and(|e| e <= len);
    assert!(fits(m, n, dst_rs, 1, dst.len()), "matmul: dst too short");
    assert!(
        fits(m, k, lhs.rs, lhs.cs, lhs.data.len()),
        "matmul: lhs too short"
    );
    assert!(
        fits(k, n, rhs.rs, rhs.cs, rhs.data.len()),
        "matmul: rhs too short"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for row in dst.chunks_mut(dst_rs).take(m) {
                row[..n].fill(T::default());
            }
        }
        return;
    }
    // Strides fit in isize: each is at most an extent that fits inside a slice, and slices never
    // exceed isize::MAX bytes.
    let stride = |s: usize| s as isize;
    let one = T::from_f64(1.0);
    // SAFETY: the asserts above prove that every (i, j) the three views address — dst (i < m,
    // j < n), lhs (i < m, j < k), rhs (i < k, j < n) — lies inside the corresponding slice, which
    // is live for the whole call; `dst` is a unique borrow, so it overlaps neither operand, and
    // `dst_rs ≥ n` makes its elements distinct. `T` is f32 or f64 (`Real` is sealed), types
    // `gemm` supports. gemm computes dst := 1·dst + 1·lhs·rhs (dst not read when !accumulate).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            stride(dst_rs),
            accumulate,
            lhs.data.as_ptr(),
            stride(lhs.cs),
            stride(lhs.rs),
            rhs.data.as_ptr(),
            stride(rhs.cs),
            stride(rhs.rs),
            one,
            one,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The naive triple loop, in f64.
    fn naive(m: usize, n: usize, k: usize, lhs: Mat<'_, f64>, rhs: Mat<'_, f64>) -> Vec<f64> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k)
                    .map(|l| lhs.data[i * lhs.rs + l * lhs.cs] * rhs.data[l * rhs.rs + j * rhs.cs])
                    .sum();
            }
        }
        out
    }

    #[test]
    fn matches_the_naive_product_for_strided_and_overlapping_views() {
        // Small integers: every product and sum is exact in f64, so equality is exact.
        let data: Vec<f64> = (0..400)
            .map(|i| f64::from((i * 7 % 11) as u8) - 5.0)
            .collect();
        // lhs rows overlap (row stride 3 < k = 9), rhs is read transposed (rs = 1, cs = 9).
        let (m, n, k) = (17, 5, 9);
        let lhs = Mat {
            data: &data[4..],
            rs: 3,
            cs: 1,
        };
        let rhs = Mat {
            data: &data[100..],
            rs: 1,
            cs: 9,
        };
        let expected = naive(m, n, k, lhs, rhs);
        let mut dst = vec![0.0; m * 8];
        matmul(m, n, k, &mut dst, 8, false, lhs, rhs);
        for i in 0..m {
            assert_eq!(&dst[i * 8..i * 8 + n], &expected[i * n..(i + 1) * n]);
        }
        matmul(m, n, k, &mut dst, 8, true, lhs, rhs);
        for i in 0..m {
            let doubled: Vec<f64> = expected[i * n..(i + 1) * n]
                .iter()
                .map(|x| 2.0 * x)
                .collect();
            assert_eq!(&dst[i * 8..i * 8 + n], &doubled[..]);
        }
    }

    #[test]
    #[should_panic(expected = "lhs too short")]
    fn refuses_a_view_past_its_slice() {
        let data = vec![1.0f32; 20];
        let mut dst = vec![0.0f32; 4];
        // 2 × 10 with row stride 10 needs 20 elements from offset 1: one too many.
        let lhs = Mat {
            data: &data[1..],
            rs: 10,
            cs: 1,
        };
        let rhs = Mat {
            data: &data,
            rs: 2,
            cs: 1,
        };
        matmul(2, 2, 10, &mut dst, 2, false, lhs, rhs);
    }
}
