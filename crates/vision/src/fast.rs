//! Hand-shaped CPU kernels for exactly this network: loss, gradient and logits without burn.
//!
//! The training path. Per image, everything stays in small per-thread workspaces (L1/L2-sized):
//!
//! * conv₁ (1 input channel) is an explicit im2col (side² × 9) times a 9 × c₁ GEMM; bias, ReLU and
//!   the 2×2 max-pool are fused into one pass that stores the winner of each window (or "inactive"
//!   when the ReLU is off) and writes the pooled map into a zero-bordered channels-last buffer.
//! * conv₂ is an implicit GEMM on that padded buffer: with channels last and rows of width
//!   `side/2 + 2`, the 3 × c₁ inputs of tap row `dy` at output position p are the contiguous run
//!   starting at `(p + dy·(side/2 + 2))·c₁`, so three GEMMs with overlapping lhs rows (row stride
//!   c₁) compute the convolution with no im2col copy. The two padding columns of each output row
//!   are computed and ignored (12.5 % extra work at side 28).
//! * The backward pass mirrors it: the pooling winners scatter the gradient, ∂W₂ is Aᵀ·∂Z per tap
//!   row, and ∂(conv₂ input) is the same implicit GEMM on the zero-bordered ∂Z with the flipped
//!   kernel. conv₁ needs only ∂W₁ = im2colᵀ·∂Z₁.
//!
//! GEMMs are the `gemm` crate's (single-threaded here), through the bounds-checked safe wrapper
//! in `fast/matmul.rs` — the workspace's only `unsafe` code; its module comment says why `gemm`
//! rather than a safe GEMM. The batch is split into fixed chunks of
//! [`CHUNK`] images processed in parallel with rayon; each chunk sums its images' gradients in
//! order and the chunk sums are added in chunk order, so results are bit-identical for any number
//! of threads. Generic over f32 (training) and f64 (finite-difference and reference checks).

mod matmul;

use rayon::prelude::*;

use crate::cnn::CnnConfig;
use matmul::{Mat, matmul};

/// Images per parallel work item. Fixed (not derived from the thread count) so the summation
/// order, and hence every bit of the result, does not depend on how many threads run it.
pub const CHUNK: usize = 8;

mod sealed {
    /// Only f32 and f64 implement [`super::Real`] (the types `gemm` supports).
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// Floating-point type of the kernels: f32 or f64.
pub trait Real:
    sealed::Sealed
    + Copy
    + Send
    + Sync
    + Default
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::AddAssign
    + std::ops::Mul<Output = Self>
    + std::ops::Sub<Output = Self>
    + 'static
{
    /// Conversion from f64 (rounding).
    fn from_f64(x: f64) -> Self;
    /// Conversion to f64 (exact).
    fn to_f64(self) -> f64;
}

impl Real for f32 {
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Real for f64 {
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
}

/// Sizes derived from a [`CnnConfig`].
#[derive(Debug, Clone, Copy)]
struct Dims {
    side: usize,
    c1: usize,
    c2: usize,
    outputs: usize,
    /// conv₂ side (after the first pool).
    s1: usize,
    /// Head side (after the second pool).
    s2: usize,
    /// Padded width of the conv₂ input, s1 + 2.
    p: usize,
    /// Output rows of the conv₂ implicit GEMM: s1 · p.
    m: usize,
    /// Positions in a padded plane plus 2 of slack for the last row's padding columns.
    padded: usize,
    /// Features entering the linear layer: c₂ · s2².
    d_in: usize,
}

impl Dims {
    fn new(config: &CnnConfig) -> Self {
        let [c1, c2] = config.channels;
        let side = config.side;
        let s1 = side / 2;
        let s2 = side / 4;
        let p = s1 + 2;
        Self {
            side,
            c1,
            c2,
            outputs: config.outputs,
            s1,
            s2,
            p,
            m: s1 * p,
            padded: p * p + 2,
            d_in: c2 * s2 * s2,
        }
    }
}

/// Parameters in the kernels' layouts (see [`Packed::new`]); also the layout of gradient sums.
#[derive(Debug, Clone)]
struct Packed<T> {
    /// [tap (dy, dx)][c₁].
    w1: Vec<T>,
    b1: Vec<T>,
    /// [dy][(dx, c_in)][c_out]: three (3·c₁) × c₂ blocks.
    w2: Vec<T>,
    /// [ey][(ex, c_out)][c_in] with w2flip = w₂[.., 2−ey, 2−ex]: the transposed convolution.
    w2flip: Vec<T>,
    b2: Vec<T>,
    /// [(row, col, c₂)][outputs]: the linear weights in channels-last feature order.
    w3: Vec<T>,
    b3: Vec<T>,
}

impl<T: Real> Packed<T> {
    fn zeros(d: &Dims, with_flip: bool) -> Self {
        Self {
            w1: vec![T::default(); 9 * d.c1],
            b1: vec![T::default(); d.c1],
            w2: vec![T::default(); 9 * d.c1 * d.c2],
            w2flip: if with_flip {
                vec![T::default(); 9 * d.c1 * d.c2]
            } else {
                Vec::new()
            },
            b2: vec![T::default(); d.c2],
            w3: vec![T::default(); d.d_in * d.outputs],
            b3: vec![T::default(); d.outputs],
        }
    }

    /// Repacks flat parameters (layout of [`CnnConfig::shapes`]) into kernel layouts.
    fn new<P: Copy>(d: &Dims, params: &[P], convert: impl Fn(P) -> T) -> Self {
        let mut packed = Self::zeros(d, true);
        let (c1, c2, o) = (d.c1, d.c2, d.outputs);
        let mut offset = 0;
        for c in 0..c1 {
            for tap in 0..9 {
                packed.w1[tap * c1 + c] = convert(params[offset + c * 9 + tap]);
            }
        }
        offset += 9 * c1;
        for (b, &p) in packed.b1.iter_mut().zip(&params[offset..offset + c1]) {
            *b = convert(p);
        }
        offset += c1;
        for co in 0..c2 {
            for ci in 0..c1 {
                for dy in 0..3 {
                    for dx in 0..3 {
                        let w = convert(params[offset + ((co * c1 + ci) * 3 + dy) * 3 + dx]);
                        packed.w2[(dy * 3 + dx) * c1 * c2 + ci * c2 + co] = w;
                        let (ey, ex) = (2 - dy, 2 - dx);
                        packed.w2flip[(ey * 3 + ex) * c2 * c1 + co * c1 + ci] = w;
                    }
                }
            }
        }
        offset += 9 * c1 * c2;
        for (b, &p) in packed.b2.iter_mut().zip(&params[offset..offset + c2]) {
            *b = convert(p);
        }
        offset += c2;
        let plane = d.s2 * d.s2;
        for c in 0..c2 {
            for pos in 0..plane {
                for out in 0..o {
                    packed.w3[(pos * c2 + c) * o + out] =
                        convert(params[offset + (c * plane + pos) * o + out]);
                }
            }
        }
        offset += d.d_in * o;
        for (b, &p) in packed.b3.iter_mut().zip(&params[offset..offset + o]) {
            *b = convert(p);
        }
        packed
    }

    /// Writes these (gradient) values into a flat vector in the layout of [`CnnConfig::shapes`].
    fn unpack_into<P>(&self, d: &Dims, flat: &mut [P], convert: impl Fn(T) -> P) {
        let (c1, c2, o) = (d.c1, d.c2, d.outputs);
        let mut offset = 0;
        for c in 0..c1 {
            for tap in 0..9 {
                flat[offset + c * 9 + tap] = convert(self.w1[tap * c1 + c]);
            }
        }
        offset += 9 * c1;
        for (f, &b) in flat[offset..offset + c1].iter_mut().zip(&self.b1) {
            *f = convert(b);
        }
        offset += c1;
        for co in 0..c2 {
            for ci in 0..c1 {
                for tap in 0..9 {
                    flat[offset + (co * c1 + ci) * 9 + tap] =
                        convert(self.w2[tap * c1 * c2 + ci * c2 + co]);
                }
            }
        }
        offset += 9 * c1 * c2;
        for (f, &b) in flat[offset..offset + c2].iter_mut().zip(&self.b2) {
            *f = convert(b);
        }
        offset += c2;
        let plane = d.s2 * d.s2;
        for c in 0..c2 {
            for pos in 0..plane {
                for out in 0..o {
                    flat[offset + (c * plane + pos) * o + out] =
                        convert(self.w3[(pos * c2 + c) * o + out]);
                }
            }
        }
        offset += d.d_in * o;
        for (f, &b) in flat[offset..offset + o].iter_mut().zip(&self.b3) {
            *f = convert(b);
        }
    }

    /// self += other, component by component (the flip block is not part of a gradient).
    fn add(&mut self, other: &Self) {
        for (a, b) in [
            (&mut self.w1, &other.w1),
            (&mut self.b1, &other.b1),
            (&mut self.w2, &other.w2),
            (&mut self.b2, &other.b2),
            (&mut self.w3, &other.w3),
            (&mut self.b3, &other.b3),
        ] {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += *y);
        }
    }
}

/// "Window inactive" marker of the pooling winners: the ReLU after the max is off.
const INACTIVE: u8 = u8::MAX;

/// Per-thread buffers for one image, reused across images and calls.
struct Workspace<T> {
    /// The image with a zero border: [(side + 2)²].
    image: Vec<T>,
    /// im2col of the image: [side²][9], zero padding.
    col1: Vec<T>,
    /// conv₁ pre-activation [side²][c₁] (also reused for ∂Z₁).
    z1: Vec<T>,
    /// Winner in each 2×2 window of the first pool, [s1²][c₁].
    arg1: Vec<u8>,
    /// Pooled first layer, zero-bordered: [padded][c₁].
    h1: Vec<T>,
    /// conv₂ pre-activation (no bias), [m][c₂].
    z2: Vec<T>,
    arg2: Vec<u8>,
    /// Head input [s2²·c₂] (channels last).
    h2: Vec<T>,
    /// ∂ of the head input.
    dh2: Vec<T>,
    /// ∂Z₂, zero-bordered: [padded][c₂]; rows p of Z₂ sit at position p + p_width + 1.
    dz2: Vec<T>,
    /// ∂(conv₂ input) in Z₂ row layout: [m][c₁].
    dh1: Vec<T>,
    logits: Vec<f64>,
    /// ∂Z₁ channel-major, [c₁][side²] (the input gradient's layout).
    dz1_planar: Vec<T>,
    /// One tap's channel sums over the plane, [side²].
    tap_sum: Vec<f64>,
}

impl<T: Real> Workspace<T> {
    fn new(d: &Dims) -> Self {
        let zero = T::default();
        Self {
            image: vec![zero; (d.side + 2) * (d.side + 2)],
            col1: vec![zero; d.side * d.side * 9],
            z1: vec![zero; d.side * d.side * d.c1],
            arg1: vec![0; d.s1 * d.s1 * d.c1],
            h1: vec![zero; d.padded * d.c1],
            z2: vec![zero; d.m * d.c2],
            arg2: vec![0; d.s2 * d.s2 * d.c2],
            h2: vec![zero; d.d_in],
            dh2: vec![zero; d.d_in],
            dz2: vec![zero; d.padded * d.c2],
            dh1: vec![zero; d.m * d.c1],
            logits: vec![0.0; d.outputs],
            dz1_planar: vec![zero; d.side * d.side * d.c1],
            tap_sum: vec![0.0; d.side * d.side],
        }
    }

    /// Forward pass of one image; leaves the logits in `self.logits`.
    fn forward(&mut self, d: &Dims, w: &Packed<T>, image: &[f32]) {
        let (side, c1, c2) = (d.side, d.c1, d.c2);
        // im2col of the 1-channel image (zero padding 1), from a zero-bordered copy: no branches.
        let wide = side + 2;
        for (dst, src) in self
            .image
            .chunks_exact_mut(wide)
            .skip(1)
            .zip(image.chunks_exact(side))
        {
            for (a, &b) in dst[1..=side].iter_mut().zip(src) {
                *a = T::from_f64(f64::from(b));
            }
        }
        for (y, rows) in self.col1.chunks_exact_mut(9 * side).enumerate() {
            let window = &self.image[y * wide..(y + 3) * wide];
            for (x, row) in rows.chunks_exact_mut(9).enumerate() {
                for (dy, taps) in row.chunks_exact_mut(3).enumerate() {
                    taps.copy_from_slice(&window[dy * wide + x..dy * wide + x + 3]);
                }
            }
        }
        // Z₁ (side² × c₁) = im2col (side² × 9) · W₁ (9 × c₁).
        matmul(
            side * side,
            c1,
            9,
            &mut self.z1,
            c1,
            false,
            Mat {
                data: &self.col1,
                rs: 9,
                cs: 1,
            },
            Mat {
                data: &w.w1,
                rs: c1,
                cs: 1,
            },
        );
        // Bias, 2×2 max-pool, ReLU (ReLU∘max = max∘ReLU) into the padded channels-last buffer.
        pool(
            &self.z1,
            side,
            side,
            c1,
            &w.b1,
            &mut self.arg1,
            |py, px| ((py + 1) * d.p + px + 1) * c1,
            &mut self.h1,
        );
        // conv₂ as three implicit GEMMs (one per kernel row) over the padded width.
        // Row q of tap row dy reads h1[(q + dy·p_w)·c1 ..][..3·c1]; the last, q = m − 1 at
        // dy = 2, ends at (p_w² + 2)·c1 = padded·c1, the length of h1.
        for dy in 0..3 {
            matmul(
                d.m,
                c2,
                3 * c1,
                &mut self.z2,
                c2,
                dy > 0,
                Mat {
                    data: &self.h1[dy * d.p * c1..],
                    rs: c1,
                    cs: 1,
                },
                Mat {
                    data: &w.w2[dy * 3 * c1 * c2..],
                    rs: c2,
                    cs: 1,
                },
            );
        }
        let s2 = d.s2;
        pool(
            &self.z2,
            d.s1,
            d.p,
            c2,
            &w.b2,
            &mut self.arg2,
            |py, px| (py * s2 + px) * c2,
            &mut self.h2,
        );
        let o = d.outputs;
        for (out, (logit, &bias)) in self.logits.iter_mut().zip(&w.b3).enumerate() {
            let mut z = bias;
            for (h, wk) in self.h2.iter().zip(w.w3[out..].iter().step_by(o)) {
                z += *h * *wk;
            }
            *logit = z.to_f64();
        }
    }

    /// Backward pass of one image given ∂loss/∂logits `dlogits`; adds into `grad`. With
    /// `weights = false` the weight gradients of the two conv layers (the ∂W₂ and ∂W₁ GEMMs, a third
    /// of the pass) are skipped, for callers that need only ∂Z₁ (the input gradient): every other
    /// value, ∂Z₁ included, is computed by the same operations in the same order.
    fn backward(
        &mut self,
        d: &Dims,
        w: &Packed<T>,
        dlogits: &[T],
        grad: &mut Packed<T>,
        weights: bool,
    ) {
        let (side, c1, c2, o) = (d.side, d.c1, d.c2, d.outputs);
        // Linear layer.
        let rows = grad.w3.chunks_exact_mut(o).zip(w.w3.chunks_exact(o));
        for ((&h, dh), (grad_row, row)) in self.h2.iter().zip(self.dh2.iter_mut()).zip(rows) {
            let mut acc = T::default();
            for ((g, &wk), &dl) in grad_row.iter_mut().zip(row).zip(dlogits) {
                *g += h * dl;
                acc += wk * dl;
            }
            *dh = acc;
        }
        for (g, &dl) in grad.b3.iter_mut().zip(dlogits) {
            *g += dl;
        }
        // Second pool: route to the winners (zero-bordered ∂Z₂, row p at p + p_w + 1).
        let (s2, pw) = (d.s2, d.p);
        unpool(
            &self.dh2,
            |py, px| (py * s2 + px) * c2,
            &self.arg2,
            s2,
            c2,
            &mut self.dz2,
            |y, x| ((y + 1) * pw + x + 1) * c2,
            &mut grad.b2,
        );
        let dz2 = &self.dz2[(pw + 1) * c2..];
        // ∂W₂[dy] += A_dyᵀ · ∂Z₂ (garbage rows of ∂Z₂ are the zero border).
        // The lhs is the transpose of the forward's lhs view (the same elements).
        for dy in (0..3).filter(|_| weights) {
            matmul(
                3 * c1,
                c2,
                d.m,
                &mut grad.w2[dy * 3 * c1 * c2..],
                c2,
                true,
                Mat {
                    data: &self.h1[dy * pw * c1..],
                    rs: 1,
                    cs: c1,
                },
                Mat {
                    data: dz2,
                    rs: c2,
                    cs: 1,
                },
            );
        }
        // ∂(conv₂ input) = the implicit GEMM of the zero-bordered ∂Z₂ with the flipped kernel.
        for ey in 0..3 {
            matmul(
                d.m,
                c1,
                3 * c2,
                &mut self.dh1,
                c1,
                ey > 0,
                Mat {
                    data: &self.dz2[ey * pw * c2..],
                    rs: c2,
                    cs: 1,
                },
                Mat {
                    data: &w.w2flip[ey * 3 * c2 * c1..],
                    rs: c1,
                    cs: 1,
                },
            );
        }
        // First pool: route to the winners into a dense ∂Z₁ (reusing z1).
        unpool(
            &self.dh1,
            |py, px| (py * pw + px) * c1,
            &self.arg1,
            d.s1,
            c1,
            &mut self.z1,
            |y, x| (y * side + x) * c1,
            &mut grad.b1,
        );
        if !weights {
            return;
        }
        // ∂W₁ += im2colᵀ · ∂Z₁.
        matmul(
            9,
            c1,
            side * side,
            &mut grad.w1,
            c1,
            true,
            Mat {
                data: &self.col1,
                rs: 1,
                cs: 9,
            },
            Mat {
                data: &self.z1,
                rs: c1,
                cs: 1,
            },
        );
    }
}

impl<T: Real> Workspace<T> {
    /// Saliency of one image for its true class `target` (see [`Kernels::saliency`]); `scratch`
    /// receives the (unused) parameter gradient of the backward pass.
    fn saliency(
        &mut self,
        d: &Dims,
        w: &Packed<T>,
        image: &[f32],
        target: usize,
        scratch: &mut Packed<T>,
    ) -> Saliency {
        let (side, c1, c2, o) = (d.side, d.c1, d.c2, d.outputs);
        self.forward(d, w, image);
        let weights = score_weights(o, target);
        let score: f64 = self.logits.iter().zip(&weights).map(|(z, s)| z * s).sum();
        // Grad-CAM channel weights: the spatial mean over the s1 × s1 map A_k of ∂score/∂A_k. The
        // head is max-pool then linear, and a max-pool routes each window's whole gradient to its
        // entries (to one winner, or split at a tie), so the sum over a window is ∂score/∂P of the
        // pooled value P, whatever the tie rule: Σ_{y,x} ∂score/∂A_k = Σ_pos Σ_out s_out·w₃.
        let mut channel = vec![0.0f64; c2];
        for pos in 0..d.s2 * d.s2 {
            for (k, weight) in channel.iter_mut().enumerate() {
                let row = &w.w3[(pos * c2 + k) * o..][..o];
                *weight += row
                    .iter()
                    .zip(&weights)
                    .map(|(v, s)| v.to_f64() * s)
                    .sum::<f64>();
            }
        }
        let plane = (d.s1 * d.s1) as f64;
        channel.iter_mut().for_each(|v| *v /= plane);
        // A = ReLU(conv₂ + b₂) at every s1 × s1 position (row y of Z₂ starts at y·p); the map is
        // ReLU(Σ_k w_k A_k), the channel sum taken in f64 in channel order from the neutral
        // element of `Iterator::sum` (as `tests::gradcam_reference` does per position), here one
        // channel at a time over all positions so the additions do not wait on each other.
        let start: f64 = std::iter::empty::<f64>().sum();
        let s1 = d.s1;
        let mut gradcam = vec![start; s1 * s1];
        for (k, (&weight, &b)) in channel.iter().zip(&w.b2).enumerate() {
            for (y, row) in gradcam.chunks_exact_mut(s1).enumerate() {
                let z = &self.z2[y * d.p * c2..];
                for (x, value) in row.iter_mut().enumerate() {
                    *value += weight * (z[x * c2 + k] + b).to_f64().max(0.0);
                }
            }
        }
        gradcam.iter_mut().for_each(|v| *v = v.max(0.0));
        // ∂score/∂x: the backward pass leaves ∂score/∂Z₁ in z1; Z₁(y, x) reads pixel
        // (y + dy − 1, x + dx − 1) through tap (dy, dx), so pixel (i, j) collects tap (dy, dx) from
        // Z₁(i + 1 − dy, j + 1 − dx).
        let dlogits: Vec<T> = weights.iter().map(|&s| T::from_f64(s)).collect();
        self.backward(d, w, &dlogits, scratch, false);
        // ∂score/∂x(i, j) = Σ_taps Σ_c ∂Z₁(i + 1 − dy, j + 1 − dx)_c · W₁[dy, dx]_c: per tap (in
        // (dy, dx) order) the channel sum P_tap(y, x), rounded products (f32 for f32 kernels)
        // accumulated in f64 in channel order, then added into the pixel. Computed one tap at a
        // time over the whole plane with ∂Z₁ channel-major, so the channel loop runs across
        // positions and vectorises; each pixel sees the same additions in the same order as the
        // per-pixel loop it replaces (`tests::input_gradient_reference`), so every bit is equal.
        let plane = side * side;
        for (pos, dz) in self.z1.chunks_exact(c1).enumerate() {
            for (c, &g) in dz.iter().enumerate() {
                self.dz1_planar[c * plane + pos] = g;
            }
        }
        // The neutral element `Iterator::sum` starts from, so that P matches `sum::<f64>()`.
        let start: f64 = std::iter::empty::<f64>().sum();
        let mut input_gradient = vec![0.0f64; plane];
        for dy in 0..3 {
            for dx in 0..3 {
                let tap = &w.w1[(dy * 3 + dx) * c1..][..c1];
                let partial = &mut self.tap_sum;
                partial.fill(start);
                for (&v, dz) in tap.iter().zip(self.dz1_planar.chunks_exact(plane)) {
                    for (p, &g) in partial.iter_mut().zip(dz) {
                        *p += (g * v).to_f64();
                    }
                }
                for i in 0..side {
                    let Some(y) = (i + 1).checked_sub(dy).filter(|&y| y < side) else {
                        continue;
                    };
                    let row = &mut input_gradient[i * side..(i + 1) * side];
                    for (j, acc) in row.iter_mut().enumerate() {
                        if let Some(x) = (j + 1).checked_sub(dx).filter(|&x| x < side) {
                            *acc += partial[y * side + x];
                        }
                    }
                }
            }
        }
        Saliency {
            gradcam,
            input_gradient,
            score,
            logits: self.logits.clone(),
        }
    }
}

/// Weights s of the saliency score Σ_k s_k·logit_k: binary, the label ±1 (the logit signed toward
/// the true label); ten-class, the one-hot of the true class. The same convention as
/// [`crate::gradcam`].
fn score_weights(outputs: usize, target: usize) -> Vec<f64> {
    if outputs == 1 {
        vec![if target == 1 { 1.0 } else { -1.0 }]
    } else {
        (0..outputs)
            .map(|k| f64::from(u8::from(k == target)))
            .collect()
    }
}

/// Two saliency maps of one image for its true class, from the training kernels.
#[derive(Debug, Clone, PartialEq)]
pub struct Saliency {
    /// Raw Grad-CAM at the last conv layer, before its pool: ReLU(Σ_k w_k A_k) on the
    /// (side/2)² grid, w_k the spatial mean of ∂score/∂A_k (not upsampled, not normalised).
    pub gradcam: Vec<f64>,
    /// ∂score/∂x at every input pixel (side², row-major).
    pub input_gradient: Vec<f64>,
    /// The score: the logit signed toward the label (binary) or the true class's logit.
    pub score: f64,
    /// The logits of the forward pass: in f32 kernels, bit for bit those of
    /// [`Kernels::logits`] (the same forward on the same f32 parameters).
    pub logits: Vec<f64>,
}

/// 2×2 max-pool of `z` (rows of `width` positions, `height` × `height` valid, channels last) plus
/// `bias`, then ReLU; writes pooled values at `dst(py, px) + c` and the winner (2·row + col inside
/// the window, first maximum on ties) or [`INACTIVE`] into `arg`.
#[allow(clippy::too_many_arguments)]
fn pool<T: Real>(
    z: &[T],
    height: usize,
    width: usize,
    channels: usize,
    bias: &[T],
    arg: &mut [u8],
    dst: impl Fn(usize, usize) -> usize,
    out: &mut [T],
) {
    let half = height / 2;
    let zero = T::default();
    let bias = &bias[..channels];
    for py in 0..half {
        let top = &z[2 * py * width * channels..];
        let bottom = &z[(2 * py + 1) * width * channels..];
        for px in 0..half {
            let base = dst(py, px);
            let at = 2 * px * channels;
            // The four corners' channel vectors, in window order (0, 0), (0, 1), (1, 0), (1, 1).
            let c0 = &top[at..at + channels];
            let c1 = &top[at + channels..at + 2 * channels];
            let c2 = &bottom[at..at + channels];
            let c3 = &bottom[at + channels..at + 2 * channels];
            let slot = (py * half + px) * channels;
            let outs = out[base..base + channels].iter_mut();
            let args = arg[slot..slot + channels].iter_mut();
            let corners = c0.iter().zip(c1).zip(c2).zip(c3);
            for (((o, a), (((&v0, &v1), &v2), &v3)), &b) in outs.zip(args).zip(corners).zip(bias) {
                let (mut best, mut winner) = (v0, 0u8);
                if v1 > best {
                    (best, winner) = (v1, 1);
                }
                if v2 > best {
                    (best, winner) = (v2, 2);
                }
                if v3 > best {
                    (best, winner) = (v3, 3);
                }
                let v = best + b;
                let on = v > zero;
                *o = if on { v } else { zero };
                *a = if on { winner } else { INACTIVE };
            }
        }
    }
}

/// Backward of [`pool`]: routes the gradient `grad` of each pooled value (at `src(py, px) + c`) to
/// its window's winner and writes zero to the other three corners and to inactive windows, so every
/// window position of `dst` (corner (y, x) at `dst_at(y, x) + c`) is overwritten and nothing needs
/// clearing. Adds each active window's gradient into `bias_grad`.
#[allow(clippy::too_many_arguments)]
fn unpool<T: Real>(
    grad: &[T],
    src: impl Fn(usize, usize) -> usize,
    arg: &[u8],
    half: usize,
    channels: usize,
    dst: &mut [T],
    dst_at: impl Fn(usize, usize) -> usize,
    bias_grad: &mut [T],
) {
    let zero = T::default();
    let bias_grad = &mut bias_grad[..channels];
    for py in 0..half {
        for px in 0..half {
            let g = &grad[src(py, px)..][..channels];
            let slot = (py * half + px) * channels;
            let a = &arg[slot..slot + channels];
            for (row, corner) in [(0, 0u8), (1, 2u8)] {
                let at = dst_at(2 * py + row, 2 * px);
                let (left, right) = dst[at..at + 2 * channels].split_at_mut(channels);
                for (((l, r), &g), &a) in left.iter_mut().zip(right.iter_mut()).zip(g).zip(a) {
                    *l = if a == corner { g } else { zero };
                    *r = if a == corner + 1 { g } else { zero };
                }
            }
            for ((b, &g), &a) in bias_grad.iter_mut().zip(g).zip(a) {
                *b += if a == INACTIVE { zero } else { g };
            }
        }
    }
}

/// Mean loss of `logits` for `target` and, into `dlogits`, its derivative times `scale`.
fn loss_of<T: Real>(logits: &[f64], target: usize, scale: f64, dlogits: &mut [T]) -> f64 {
    if logits.len() == 1 {
        let y = if target == 1 { 1.0 } else { -1.0 };
        let margin = y * logits[0];
        // softplus(−m) and its derivative −y·σ(−m), both overflow-free.
        let loss = (-margin).max(0.0) + (-margin.abs()).exp().ln_1p();
        let sigma = if margin >= 0.0 {
            let e = (-margin).exp();
            e / (1.0 + e)
        } else {
            1.0 / (1.0 + margin.exp())
        };
        dlogits[0] = T::from_f64(-y * sigma * scale);
        loss
    } else {
        let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = logits.iter().map(|z| (z - max).exp()).sum();
        for (k, (g, z)) in dlogits.iter_mut().zip(logits).enumerate() {
            let p = (z - max).exp() / sum;
            *g = T::from_f64((p - f64::from(u8::from(k == target))) * scale);
        }
        max + sum.ln() - logits[target]
    }
}

/// The network's kernels for one configuration.
#[derive(Debug, Clone, Copy)]
pub struct Kernels {
    dims: Dims,
    config: CnnConfig,
}

impl Kernels {
    /// Kernels for `config` (validated by [`crate::cnn::Cnn::new`]).
    pub fn new(config: CnnConfig) -> Self {
        Self {
            dims: Dims::new(&config),
            config,
        }
    }

    /// Mean loss over `targets` and, into `grad` (flat layout of [`CnnConfig::shapes`]), its
    /// gradient at `params`. `images` holds `targets.len()` images of side² intensities.
    pub fn loss_and_grad<T: Real>(
        &self,
        params: &[T],
        images: &[f32],
        targets: &[usize],
        grad: &mut [T],
    ) -> f64 {
        let d = self.dims;
        assert_eq!(params.len(), self.config.param_count());
        assert_eq!(grad.len(), params.len());
        let n = targets.len();
        let per_image = d.side * d.side;
        assert_eq!(images.len(), n * per_image);
        let packed = Packed::new(&d, params, |x| x);
        let scale = 1.0 / n.max(1) as f64;
        let chunks: Vec<(f64, Packed<T>)> = images
            .par_chunks(CHUNK * per_image)
            .zip(targets.par_chunks(CHUNK))
            .map_init(
                || Workspace::new(&d),
                |ws, (images, targets)| {
                    let mut sum = Packed::zeros(&d, false);
                    let mut loss = 0.0;
                    let mut dlogits = vec![T::default(); d.outputs];
                    for (image, &target) in images.chunks_exact(per_image).zip(targets) {
                        ws.forward(&d, &packed, image);
                        loss += loss_of(&ws.logits, target, scale, &mut dlogits);
                        ws.backward(&d, &packed, &dlogits, &mut sum, true);
                    }
                    (loss, sum)
                },
            )
            .collect();
        let mut total = Packed::zeros(&d, false);
        let mut loss = 0.0;
        for (chunk_loss, chunk) in &chunks {
            loss += chunk_loss;
            total.add(chunk);
        }
        total.unpack_into(&d, grad, |x| x);
        loss * scale
    }

    /// Image side length.
    pub fn side(&self) -> usize {
        self.dims.side
    }

    /// Number of network outputs (logits per image).
    pub fn outputs(&self) -> usize {
        self.dims.outputs
    }

    /// Grad-CAM and the input gradient of every image for its true class at `params` (flat layout),
    /// computed in precision `T`, images in parallel (each image is independent, so the result does
    /// not depend on the thread count).
    pub fn saliency<T: Real>(
        &self,
        params: &[f64],
        images: &[f32],
        targets: &[usize],
    ) -> Vec<Saliency> {
        let d = self.dims;
        let per_image = d.side * d.side;
        assert_eq!(images.len(), targets.len() * per_image);
        let packed = Packed::<T>::new(&d, params, T::from_f64);
        let chunks: Vec<Vec<Saliency>> = images
            .par_chunks(CHUNK * per_image)
            .zip(targets.par_chunks(CHUNK))
            .map_init(
                || (Workspace::<T>::new(&d), Packed::<T>::zeros(&d, false)),
                |(ws, scratch), (images, targets)| {
                    images
                        .chunks_exact(per_image)
                        .zip(targets)
                        .map(|(image, &target)| ws.saliency(&d, &packed, image, target, scratch))
                        .collect()
                },
            )
            .collect();
        chunks.concat()
    }

    /// Logits `[n · outputs]` at `params` (f32 kernels), images in parallel.
    pub fn logits(&self, params: &[f64], images: &[f32]) -> Vec<f64> {
        let d = self.dims;
        let per_image = d.side * d.side;
        let packed = Packed::<f32>::new(&d, params, |x| x as f32);
        let chunks: Vec<Vec<f64>> = images
            .par_chunks(CHUNK * per_image)
            .map_init(
                || Workspace::<f32>::new(&d),
                |ws, images| {
                    let mut out = Vec::with_capacity(images.len() / per_image * d.outputs);
                    for image in images.chunks_exact(per_image) {
                        ws.forward(&d, &packed, image);
                        out.extend_from_slice(&ws.logits);
                    }
                    out
                },
            )
            .collect();
        chunks.concat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cnn::tests::{assert_close, central_differences, tiny};
    use crate::cnn::{Cnn, Precision};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn grad64(cnn: &Cnn, images: &[f32], targets: &[usize]) -> (f64, Vec<f64>) {
        let mut g = vec![0.0; cnn.params.len()];
        let loss = Kernels::new(cnn.config).loss_and_grad(&cnn.params, images, targets, &mut g);
        (loss, g)
    }

    #[test]
    fn fast_gradient_matches_finite_differences() {
        // 10 outputs: the ten-class task's cross-entropy head.
        for outputs in [1, 3, 10] {
            let (cnn, images, targets) = tiny(outputs);
            let (_, grad) = grad64(&cnn, &images, &targets);
            let fd = central_differences(
                |p| cnn.loss_at(p, &images, &targets, Precision::F64),
                &cnn.params,
                1e-6,
            );
            // Tolerance: see `assert_close` (f64, h = 1e-6).
            assert_close(&grad, &fd, 1e-7);
            assert!(grad.iter().any(|g| g.abs() > 1e-3));
        }
    }

    #[test]
    fn fast_path_matches_burn_on_random_mnist_sized_batches() {
        // f64 on both sides: the two differ only in summation order, ≈ K·ε₆₄ ≈ 1e-13 relative for
        // sums of K ≤ 1568 terms; 1e-10 leaves three orders of margin and catches any wrong term.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for (outputs, n) in [(1, 5), (10, 3)] {
            let cnn = Cnn::new(CnnConfig::mnist(outputs, 1.0, 4)).unwrap();
            let images: Vec<f32> = (0..n * 784).map(|_| rng.random_range(0.01..1.0)).collect();
            let targets: Vec<usize> = (0..n)
                .map(|_| rng.random_range(0..outputs.max(2)))
                .collect();
            let (loss, grad) = grad64(&cnn, &images, &targets);
            let (ref_loss, ref_grad) =
                cnn.loss_and_grad_at(&cnn.params, &images, &targets, Precision::F64);
            assert!((loss - ref_loss).abs() < 1e-10 * (1.0 + ref_loss.abs()));
            if outputs == 1 {
                assert_close(&grad, &ref_grad, 1e-10);
            } else {
                // burn's f64 cross-entropy gradient is not fully f64: against ours (and the
                // binary case agrees to 1e-15) every component differs by the same factor
                // 1 ± 2.98e-8 = 2⁻²⁵, the f32 rounding of the 1/n of its `div_scalar` at n = 3.
                // So this case is compared at 2e-7 of the largest component: the measured
                // 3e-8 with margin, still four orders below a wrong term.
                let scale = ref_grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
                for (j, (a, e)) in grad.iter().zip(&ref_grad).enumerate() {
                    assert!((a - e).abs() <= 2e-7 * scale, "component {j}: {a} vs {e}");
                }
            }
            // f32 kernels against the f64 reference: each component is a sum of ≤ 196·n products
            // of O(1) factors through three layers; worst-case rounding K·ε₃₂ ≈ 1e-4 relative to
            // the largest component, so compare at 1e-3 of the tensor's scale.
            let p32: Vec<f32> = cnn.params.iter().map(|&p| p as f32).collect();
            let mut g32 = vec![0.0f32; p32.len()];
            let l32 = Kernels::new(cnn.config).loss_and_grad(&p32, &images, &targets, &mut g32);
            assert!((l32 - ref_loss).abs() < 1e-4 * (1.0 + ref_loss.abs()));
            let scale = ref_grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
            for (a, e) in g32.iter().zip(&ref_grad) {
                assert!((f64::from(*a) - e).abs() <= 1e-3 * scale, "{a} vs {e}");
            }
            let logits = cnn.logits(&images);
            let burn = cnn.logits_burn(&images);
            assert_close(&logits, &burn, 1e-4);
        }
    }

    #[test]
    fn gradcam_matches_burns_autograd_grad_cam() {
        // Burn differentiates the score with respect to the detached feature map A and averages it
        // (`gradcam::raw_maps`); the kernels take the channel weights from the head in closed form.
        // Both f64: they differ in summation order only (≈ 1e-13 relative), so 1e-9. The real
        // digits have all-zero pooling windows (exact ties of A), where the two tie rules differ
        // per entry but not in the window sums the weights use.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist");
        let mnist = crate::mnist::Mnist::load(&dir).unwrap();
        let real = mnist.binary_task(4, 9, Some(6), Some(6), 2).unwrap().test;
        let mut cases = vec![tiny(1), tiny(3)];
        for outputs in [1, 10] {
            let cnn = Cnn::new(CnnConfig::mnist(outputs, 1.0, 3)).unwrap();
            let targets = if outputs == 1 {
                real.targets.clone()
            } else {
                vec![4, 9, 4, 9, 4, 9]
            };
            cases.push((cnn, real.images.clone(), targets));
        }
        for (cnn, images, targets) in cases {
            let fg = crate::gradcam::feature_gradient(
                &cnn,
                &cnn.params,
                &images,
                &targets,
                Precision::F64,
            );
            let reference = crate::gradcam::raw_maps(&fg);
            let ours = Kernels::new(cnn.config).saliency::<f64>(&cnn.params, &images, &targets);
            assert_eq!(ours.len(), reference.len());
            for (a, b) in ours.iter().zip(&reference) {
                let scale = b.iter().fold(1e-12f64, |m, v| m.max(v.abs()));
                for (x, y) in a.gradcam.iter().zip(b) {
                    assert!((x - y).abs() <= 1e-9 * scale, "{x} vs {y}");
                }
            }
            assert!(reference.iter().flatten().any(|&v| v > 0.0));
            for (a, s) in ours.iter().zip(&fg.scores) {
                assert!((a.score - s).abs() <= 1e-10 * (1.0 + s.abs()));
            }
        }
    }

    #[test]
    fn input_gradient_matches_finite_differences_of_the_score() {
        for outputs in [1, 3, 10] {
            let (cnn, images, targets) = tiny(outputs);
            let kernels = Kernels::new(cnn.config);
            let ours = kernels.saliency::<f64>(&cnn.params, &images, &targets);
            for (i, saliency) in ours.iter().enumerate() {
                let mut image = images[i * 64..(i + 1) * 64].to_vec();
                let score =
                    |x: &[f32]| kernels.saliency::<f64>(&cnn.params, x, &targets[i..=i])[0].score;
                // Images are f32, so each probe moves pixel j by the f32-representable
                // (x_j + h) − (x_j − h), and the difference quotient divides by that exact step.
                // h = 1e-4: truncation h²|f'''|/6 ≈ 1e-9 on O(1) scores, f64 rounding
                // ε|f|/h ≈ 1e-12; 1e-6 relative leaves two orders and catches any wrong term.
                // No pre-activation lies within 1e-4 of a kink for these fixed seeds.
                let fd: Vec<f64> = (0..64)
                    .map(|j| {
                        let x = image[j];
                        let (up, down) = (x + 1e-4, x - 1e-4);
                        image[j] = up;
                        let s_up = score(&image);
                        image[j] = down;
                        let s_down = score(&image);
                        image[j] = x;
                        (s_up - s_down) / (f64::from(up) - f64::from(down))
                    })
                    .collect();
                assert_close(&saliency.input_gradient, &fd, 1e-6);
                assert!(saliency.input_gradient.iter().any(|g| g.abs() > 1e-3));
            }
        }
    }

    /// The per-pixel input-gradient loop the saliency pass used before it was vectorised over
    /// positions: the reference its result must equal bit for bit.
    fn input_gradient_reference<T: Real>(d: &Dims, w: &Packed<T>, dz1: &[T]) -> Vec<f64> {
        let (side, c1) = (d.side, d.c1);
        let mut input_gradient = vec![0.0f64; side * side];
        for i in 0..side {
            for j in 0..side {
                let mut acc = 0.0;
                for dy in 0..3 {
                    let Some(y) = (i + 1).checked_sub(dy).filter(|&y| y < side) else {
                        continue;
                    };
                    for dx in 0..3 {
                        let Some(x) = (j + 1).checked_sub(dx).filter(|&x| x < side) else {
                            continue;
                        };
                        let dz = &dz1[(y * side + x) * c1..][..c1];
                        let tap = &w.w1[(dy * 3 + dx) * c1..][..c1];
                        acc += dz
                            .iter()
                            .zip(tap)
                            .map(|(&g, &v)| (g * v).to_f64())
                            .sum::<f64>();
                    }
                }
                input_gradient[i * side + j] = acc;
            }
        }
        input_gradient
    }

    /// The per-position Grad-CAM loop the saliency pass used before it ran channel by channel,
    /// from the forward pass's Z₂ and the channel weights `channel`.
    fn gradcam_reference<T: Real>(d: &Dims, w: &Packed<T>, z2: &[T], channel: &[f64]) -> Vec<f64> {
        let c2 = d.c2;
        let mut gradcam = Vec::with_capacity(d.s1 * d.s1);
        for y in 0..d.s1 {
            for x in 0..d.s1 {
                let z = &z2[(y * d.p + x) * c2..][..c2];
                let value: f64 = z
                    .iter()
                    .zip(&w.b2)
                    .zip(channel)
                    .map(|((&z, &b), &weight)| weight * (z + b).to_f64().max(0.0))
                    .sum();
                gradcam.push(value.max(0.0));
            }
        }
        gradcam
    }

    #[test]
    fn saliency_pass_reuses_the_forward_and_skips_only_weight_gradients() {
        // The saliency pass skips the conv weight gradients and its logits stand in for a second
        // forward pass: both must leave every bit unchanged (f32, real digits with pooling ties).
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist");
        let mnist = crate::mnist::Mnist::load(&dir).unwrap();
        for outputs in [1, 10] {
            let cnn = Cnn::new(CnnConfig::mnist(outputs, 1.0, 5)).unwrap();
            let task = if outputs == 1 {
                mnist.binary_task(4, 9, Some(4), Some(12), 5).unwrap()
            } else {
                mnist.ten_class_task(Some(4), Some(12), 5).unwrap()
            };
            let (images, targets) = (&task.test.images, &task.test.targets);
            let kernels = Kernels::new(cnn.config);
            let saliency = kernels.saliency::<f32>(&cnn.params, images, targets);
            let logits: Vec<u64> = saliency
                .iter()
                .flat_map(|s| s.logits.iter().map(|z| z.to_bits()))
                .collect();
            let forward: Vec<u64> = kernels
                .logits(&cnn.params, images)
                .iter()
                .map(|z| z.to_bits())
                .collect();
            assert_eq!(logits, forward);
            let d = kernels.dims;
            let packed = Packed::<f32>::new(&d, &cnn.params, |x| x as f32);
            let mut ws = Workspace::<f32>::new(&d);
            for (i, &target) in targets.iter().enumerate() {
                let image = &images[i * 784..(i + 1) * 784];
                let dlogits: Vec<f32> = score_weights(outputs, target)
                    .iter()
                    .map(|&s| s as f32)
                    .collect();
                let mut full = Packed::zeros(&d, false);
                ws.forward(&d, &packed, image);
                // Grad-CAM channel weights as the saliency pass forms them (spatial mean of
                // ∂score/∂A_k = Σ_pos Σ_out s_out·w₃ / s1²).
                let s = score_weights(outputs, target);
                let channel: Vec<f64> = (0..d.c2)
                    .map(|k| {
                        let mut weight = 0.0;
                        for pos in 0..d.s2 * d.s2 {
                            let row = &packed.w3[(pos * d.c2 + k) * outputs..][..outputs];
                            weight += row.iter().zip(&s).map(|(v, s)| v.to_f64() * s).sum::<f64>();
                        }
                        weight / (d.s1 * d.s1) as f64
                    })
                    .collect();
                let reference: Vec<u64> = gradcam_reference(&d, &packed, &ws.z2, &channel)
                    .iter()
                    .map(|v| v.to_bits())
                    .collect();
                let ours: Vec<u64> = saliency[i].gradcam.iter().map(|v| v.to_bits()).collect();
                assert_eq!(ours, reference, "Grad-CAM of image {i}");
                assert!(saliency[i].gradcam.iter().any(|&v| v > 0.0) || outputs == 10);
                ws.backward(&d, &packed, &dlogits, &mut full, true);
                let with_weights: Vec<u32> = ws.z1.iter().map(|v| v.to_bits()).collect();
                ws.forward(&d, &packed, image);
                ws.backward(&d, &packed, &dlogits, &mut Packed::zeros(&d, false), false);
                let without: Vec<u32> = ws.z1.iter().map(|v| v.to_bits()).collect();
                assert_eq!(with_weights, without, "∂Z₁ of image {i}");
                assert!(full.w2.iter().any(|&g| g != 0.0));
                // The vectorised input gradient adds the same terms in the same order.
                let reference: Vec<u64> = input_gradient_reference(&d, &packed, &ws.z1)
                    .iter()
                    .map(|g| g.to_bits())
                    .collect();
                let ours: Vec<u64> = saliency[i]
                    .input_gradient
                    .iter()
                    .map(|g| g.to_bits())
                    .collect();
                assert_eq!(ours, reference, "input gradient of image {i}");
                assert!(saliency[i].input_gradient.iter().any(|&g| g != 0.0));
            }
        }
    }

    #[test]
    fn results_are_bit_identical_across_thread_counts() {
        let cnn = Cnn::new(CnnConfig::mnist(1, 1.0, 1)).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let n = 37;
        let images: Vec<f32> = (0..n * 784).map(|_| rng.random_range(0.0..1.0)).collect();
        let targets: Vec<usize> = (0..n).map(|_| rng.random_range(0..2)).collect();
        let p32: Vec<f32> = cnn.params.iter().map(|&p| p as f32).collect();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut g = vec![0.0f32; p32.len()];
                let l = Kernels::new(cnn.config).loss_and_grad(&p32, &images, &targets, &mut g);
                (
                    l.to_bits(),
                    g.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                )
            })
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }
}
