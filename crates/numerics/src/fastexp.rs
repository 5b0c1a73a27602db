//! A branch-free eˣ for x ≤ 0 that the compiler can vectorise, shared by the batched sweep and the
//! multi-sample pass (one exponential per sample per gradient).

/// Round-to-nearest shifter: adding 1.5·2⁵² to |t| < 2⁵¹ leaves round(t) in the low mantissa bits, so
/// both the rounded float and its integer come from plain adds (SSE2 has no vector `round` or
/// f64 → i64 conversion, so `f64::round` would be a library call per lane).
const SHIFTER: f64 = 6_755_399_441_055_744.0;

/// 2⁻⁶⁰: the scale 2ᵏ is built as 2ᵏ⁺⁶⁰ (always a normal number for k ≥ −1077) and then multiplied by
/// this, so results in the subnormal range are rounded once, like `f64::exp`, instead of being clamped.
const TWO_POW_MINUS_60: f64 = 8.673_617_379_884_035e-19;

/// eˣ for x ≤ 0 (x = −∞ and x < −746 give 0, as `f64::exp` does; NaN gives 0): x = k ln2 + r with
/// |r| ≤ ln2/2, eʳ by its Taylor polynomial to degree 13 (truncation < 1e−17), then 2ᵏ through the
/// exponent bits. Relative error ≤ 1e−15 against `f64::exp` whenever the result is a normal number;
/// in the subnormal range (x < −708.4) the error is at most one subnormal ulp (2⁻¹⁰⁷⁴).
#[inline(always)]
pub fn exp_nonpositive(x: f64) -> f64 {
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    // Below −746 the true value is under half the smallest subnormal, so it rounds to 0; clamping
    // there keeps k + 60 + 1023 positive for the exponent bits.
    let x = x.max(-746.0);
    let shifted = x * std::f64::consts::LOG2_E + SHIFTER;
    let k = shifted - SHIFTER;
    let k_int = (shifted.to_bits() as i64).wrapping_sub(SHIFTER.to_bits() as i64);
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let mut p = 1.0 / 6_227_020_800.0;
    for coefficient in [
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p * r + coefficient;
    }
    let scale = f64::from_bits(((k_int + 1023 + 60) as u64) << 52);
    p * scale * TWO_POW_MINUS_60
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_std_exp_over_the_whole_nonpositive_range() {
        // Normal results: the reduced Taylor polynomial is within a few ulps (≤ 1e−15 relative) of
        // `f64::exp`. The grid step 1/64 is not a multiple of ln2, so r sweeps its whole interval.
        let mut x = 0.0_f64;
        while x > -746.5 {
            let (ours, std) = (exp_nonpositive(x), x.exp());
            if std >= f64::MIN_POSITIVE {
                assert!(
                    (ours / std - 1.0).abs() <= 1e-15,
                    "x = {x}: {ours} vs {std}"
                );
            } else {
                // Subnormal results carry fewer significant bits; both round the same real number,
                // so they differ by at most one step of the subnormal grid.
                let subnormal_ulp = f64::from_bits(1);
                assert!(
                    (ours - std).abs() <= subnormal_ulp,
                    "x = {x}: {ours} vs {std}"
                );
            }
            x -= 1.0 / 64.0;
        }
        // Exact points and the underflow edge.
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(-0.0), 1.0);
        assert_eq!(exp_nonpositive(-746.0), 0.0);
        assert_eq!(exp_nonpositive(-1e6), 0.0);
        assert_eq!(exp_nonpositive(f64::NEG_INFINITY), 0.0);
        assert!(
            exp_nonpositive(-745.0) > 0.0,
            "e^-745 is a (subnormal) positive number"
        );
    }

    #[test]
    fn matches_std_exp_on_tiny_arguments() {
        // Near 0 the polynomial's leading terms dominate; relative error must stay at rounding level.
        for i in 1..200 {
            let x = -(2.0_f64).powi(-i / 4);
            let (ours, std) = (exp_nonpositive(x), x.exp());
            assert!(
                (ours / std - 1.0).abs() <= 1e-15,
                "x = {x}: {ours} vs {std}"
            );
        }
    }
}
