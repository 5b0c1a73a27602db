//! Axis scales, ranges and tick placement (computed here so every figure type ticks alike).

use crate::error::FigureError;

/// How an axis maps data values to positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scale {
    /// Plain linear axis.
    #[default]
    Linear,
    /// Base-10 logarithmic axis. Values ≤ 0 (and non-finite values) cannot be placed and are
    /// silently dropped from the drawing; ticks are powers of ten when the range spans a decade.
    Log10,
}

impl Scale {
    /// Maps a data value to axis space (log10 for log axes); `None` when it cannot be drawn.
    pub fn forward(self, value: f64) -> Option<f64> {
        match self {
            Scale::Linear if value.is_finite() => Some(value),
            Scale::Log10 if value.is_finite() && value > 0.0 => Some(value.log10()),
            _ => None,
        }
    }
}

/// A finished axis in transformed space: its extent and labelled ticks.
#[derive(Debug, Clone)]
pub(crate) struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub ticks: Vec<f64>,
    pub labels: Vec<String>,
}

impl Axis {
    /// The label for a tick position (plotters hands the key points back to the formatter).
    pub fn label_for(&self, value: f64) -> String {
        let tolerance = (self.hi - self.lo).abs() * 1e-9;
        self.ticks
            .iter()
            .position(|tick| (tick - value).abs() <= tolerance)
            .map(|index| self.labels[index].clone())
            .unwrap_or_default()
    }
}

/// Min and max of transformed values; `None` if there are none.
pub(crate) fn extent(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values.into_iter().fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// Union of two optional extents.
pub(crate) fn union(a: Option<(f64, f64)>, b: Option<(f64, f64)>) -> Option<(f64, f64)> {
    match (a, b) {
        (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Transforms a user-given fixed range into axis space, validating it.
pub(crate) fn fixed_range(
    what: &'static str,
    scale: Scale,
    range: (f64, f64),
) -> Result<(f64, f64), FigureError> {
    let invalid = FigureError::InvalidRange {
        what,
        lo: range.0,
        hi: range.1,
    };
    match (scale.forward(range.0), scale.forward(range.1)) {
        (Some(lo), Some(hi)) if lo < hi => Ok((lo, hi)),
        _ => Err(invalid),
    }
}

/// Pads a data extent (5 % each side, or a unit-ish window for a single value) so lines do
/// not sit on the frame.
pub(crate) fn padded(extent: Option<(f64, f64)>, pad_fraction: f64) -> (f64, f64) {
    match extent {
        None => (0.0, 1.0),
        Some((lo, hi)) if hi - lo <= f64::EPSILON * lo.abs().max(1.0) => {
            let half = if lo == 0.0 { 0.5 } else { lo.abs() * 0.1 };
            (lo - half, hi + half)
        }
        Some((lo, hi)) => {
            let pad = (hi - lo) * pad_fraction;
            (lo - pad, hi + pad)
        }
    }
}

/// Builds ticks and labels for the transformed range `[lo, hi]`.
pub(crate) fn make_axis(scale: Scale, lo: f64, hi: f64, target_ticks: usize) -> Axis {
    let (ticks, labels) = match scale {
        Scale::Log10 => log_ticks(lo, hi, target_ticks),
        Scale::Linear => {
            let ticks = linear_ticks(lo, hi, target_ticks);
            let step = if ticks.len() > 1 {
                ticks[1] - ticks[0]
            } else {
                hi - lo
            };
            let labels = ticks.iter().map(|&t| format_number(t, step)).collect();
            (ticks, labels)
        }
    };
    Axis {
        lo,
        hi,
        ticks,
        labels,
    }
}

/// "Nice" step (1, 2, 2.5 or 5 times a power of ten) giving about `target` intervals.
fn nice_step(span: f64, target: usize) -> f64 {
    let raw = span / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let normalized = raw / magnitude;
    let factor = if normalized <= 1.0 {
        1.0
    } else if normalized <= 2.0 {
        2.0
    } else if normalized <= 2.5 {
        2.5
    } else if normalized <= 5.0 {
        5.0
    } else {
        10.0
    };
    factor * magnitude
}

/// Evenly spaced nice ticks inside `[lo, hi]`, built as integer multiples of the step so that
/// repeated renders give bit-identical positions (no accumulated rounding).
pub(crate) fn linear_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if hi <= lo || !lo.is_finite() || !hi.is_finite() {
        return vec![lo];
    }
    let step = nice_step(hi - lo, target);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last)
        .map(|k| {
            let t = k as f64 * step;
            if t == 0.0 { 0.0 } else { t }
        })
        .collect()
}

/// Decade ticks labelled as powers of ten; below one decade falls back to nice data-space ticks.
fn log_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, Vec<String>) {
    let first = (lo - 1e-9).ceil() as i64;
    let last = (hi + 1e-9).floor() as i64;
    if last - first >= 1 {
        let count = (last - first + 1) as usize;
        let stride = count.div_ceil(target.max(2)).max(1) as i64;
        // Anchor the stride at multiples of itself so that 10⁰ is labelled whenever it is in range.
        let start = first + (stride - first.rem_euclid(stride)) % stride;
        let exponents: Vec<i64> = (start..=last).step_by(stride as usize).collect();
        let ticks = exponents.iter().map(|&k| k as f64).collect();
        let labels = exponents.iter().map(|&k| power_of_ten(k)).collect();
        (ticks, labels)
    } else {
        let (data_lo, data_hi) = (10f64.powf(lo), 10f64.powf(hi));
        let data_ticks: Vec<f64> = linear_ticks(data_lo, data_hi, target.min(4))
            .into_iter()
            .filter(|&t| t > 0.0)
            .collect();
        let step = if data_ticks.len() > 1 {
            data_ticks[1] - data_ticks[0]
        } else {
            data_hi - data_lo
        };
        let labels = data_ticks.iter().map(|&t| format_number(t, step)).collect();
        (data_ticks.iter().map(|t| t.log10()).collect(), labels)
    }
}

/// "10" followed by the exponent in Unicode superscripts (DejaVuSans has these glyphs).
pub(crate) fn power_of_ten(exponent: i64) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut label = String::from("10");
    if exponent < 0 {
        label.push('⁻');
    }
    for digit in exponent.unsigned_abs().to_string().bytes() {
        label.push(DIGITS[usize::from(digit - b'0')]);
    }
    label
}

/// Formats a tick value with just enough decimals for the step; scientific for extreme magnitudes.
pub(crate) fn format_number(value: f64, step: f64) -> String {
    if value == 0.0 {
        return "0".to_string();
    }
    let magnitude = value.abs();
    if !(1e-3..1e5).contains(&magnitude) {
        let text = format!("{value:.1e}");
        return text.replace(".0e", "e");
    }
    let decimals = if step > 0.0 && step.is_finite() {
        (-(step.log10() + 1e-9).floor()).max(0.0) as usize
    } else {
        2
    };
    // Steps like 2.5 × 10^k need one decimal more than their power of ten suggests.
    let decimals = if ((step * 10f64.powi(decimals as i32)).round()
        - step * 10f64.powi(decimals as i32))
    .abs()
        > 1e-6
    {
        decimals + 1
    } else {
        decimals
    };
    let text = format!("{value:.decimals$}");
    if text
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        "0".to_string()
    } else {
        // A typographic minus (U+2212) is as wide as a digit and reads better than a hyphen.
        text.replacen('-', "\u{2212}", 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axis_labels_are_powers_of_ten() {
        let axis = make_axis(Scale::Log10, -3.2, 2.1, 6);
        assert_eq!(
            axis.labels,
            vec!["10⁻³", "10⁻²", "10⁻¹", "10⁰", "10¹", "10²"]
        );
        assert_eq!(axis.ticks, vec![-3.0, -2.0, -1.0, 0.0, 1.0, 2.0]);
    }

    #[test]
    fn many_decades_are_thinned_and_keep_one() {
        let axis = make_axis(Scale::Log10, -12.0, 4.0, 6);
        assert!(axis.ticks.len() <= 7, "{:?}", axis.ticks);
        assert!(axis.ticks.contains(&0.0));
    }

    #[test]
    fn linear_ticks_are_nice_and_inside() {
        let ticks = linear_ticks(0.03, 0.97, 5);
        assert_eq!(ticks, vec![0.2, 0.4, 0.6000000000000001, 0.8]);
        let axis = make_axis(Scale::Linear, -1.0, 1.0, 4);
        assert_eq!(axis.labels, vec!["−1.0", "−0.5", "0", "0.5", "1.0"]);
    }

    #[test]
    fn log_forward_drops_non_positive() {
        assert_eq!(Scale::Log10.forward(0.0), None);
        assert_eq!(Scale::Log10.forward(-1.0), None);
        assert_eq!(Scale::Linear.forward(f64::NAN), None);
        assert_eq!(Scale::Log10.forward(100.0), Some(2.0));
    }

    #[test]
    fn fixed_range_rejects_bad_input() {
        assert!(fixed_range("x axis", Scale::Log10, (0.0, 1.0)).is_err());
        assert!(fixed_range("x axis", Scale::Linear, (1.0, 1.0)).is_err());
        assert_eq!(
            fixed_range("x axis", Scale::Log10, (1.0, 100.0)).unwrap(),
            (0.0, 2.0)
        );
    }
}
