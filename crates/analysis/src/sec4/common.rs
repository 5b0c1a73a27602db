//! Pure helpers shared by the §4 kinds: picking runs by label, switch times measured from logged
//! trajectories, the running mean ĉ recovered from a discrete β, cosines, and small figure helpers.

use numerics::theory::l2::{COdeOptions, CSolution, L2Config, Switch, solve_c_ode};

use crate::error::AnalysisError;
pub use crate::params::{float, float_vec, int};
use crate::runs::output::{LoadedRun, Row, dominant, load_run};
use pipeline::stage::TaskContext;

/// A dominant-coordinate change measured on a logged trajectory (0-based indices).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeasuredSwitch {
    pub from: usize,
    pub to: usize,
    /// Rescaled time of the crossing β_from = β_to, by linear interpolation of ln(β_to/β_from) between
    /// the two logged states that bracket it (the log-ratio is smooth, so this is far finer than the
    /// logging grid).
    pub tau: f64,
    /// The same crossing in the run's own clock (original time for original-clock runs).
    pub time: f64,
    /// The step of the first logged state after the switch.
    pub step: u64,
    /// Index of the last logged row before the switch, and the interpolation fraction towards the next.
    pub row: usize,
    pub fraction: f64,
}

/// ln|β_j|, −∞ for a zero entry.
fn log_abs(value: f64) -> f64 {
    value.abs().ln()
}

/// Index of the first logged row whose largest |β_j| is unique: a uniform init ties every coordinate at
/// step 0, where "the dominant coordinate" is undefined (the theory's k_0 is the limit τ → 0+).
pub fn first_untied(rows: &[Row]) -> usize {
    rows.iter()
        .position(|row| {
            let top = row.beta.iter().fold(0.0f64, |m, b| m.max(b.abs()));
            row.beta.iter().filter(|b| b.abs() == top).count() == 1
        })
        .unwrap_or(rows.len())
}

/// Every change of argmax_j |β_j| along the logged rows (from the first untied one), with the crossing
/// time interpolated.
pub fn measured_switches(rows: &[Row]) -> Vec<MeasuredSwitch> {
    let mut switches = Vec::new();
    let start = first_untied(rows);
    for (offset, pair) in rows[start.min(rows.len())..].windows(2).enumerate() {
        let row = start + offset;
        let (before, after) = (&pair[0], &pair[1]);
        let from = dominant(&before.beta);
        let to = dominant(&after.beta);
        if from == to {
            continue;
        }
        let gap_before = log_abs(before.beta[to]) - log_abs(before.beta[from]);
        let gap_after = log_abs(after.beta[to]) - log_abs(after.beta[from]);
        let fraction = if gap_before.is_finite() && gap_after.is_finite() && gap_after > gap_before
        {
            (-gap_before / (gap_after - gap_before)).clamp(0.0, 1.0)
        } else {
            1.0
        };
        switches.push(MeasuredSwitch {
            from,
            to,
            tau: before.tau + fraction * (after.tau - before.tau),
            time: before.time + fraction * (after.time - before.time),
            step: after.step,
            row,
            fraction,
        });
    }
    switches
}

/// C(τ) recovered from a β that follows β_j = α_j² exp(2μ_jτ − 2μ_j²C) (B5.2): the least-squares C over
/// the coordinates, weighting coordinate j by μ_j² (the factor multiplying C), so the recovered value
/// uses every coordinate and is exact when the form holds.
pub fn recovered_big_c(beta: &[f64], mu: &[f64], alpha: &[f64], tau: f64) -> f64 {
    let mut numerator = 0.0;
    let mut denominator = 0.0;
    for ((b, m), a) in beta.iter().zip(mu).zip(alpha) {
        let residual = b.ln() - 2.0 * a.ln() - 2.0 * m * tau;
        let weight = m * m;
        numerator += weight * residual;
        denominator += weight * weight;
    }
    -numerator / (2.0 * denominator)
}

/// cos(a, b); NaN if either is zero.
pub fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// The run whose label is `label`.
pub fn run_labelled<'a>(
    runs: &'a [LoadedRun],
    label: &str,
) -> Result<&'a LoadedRun, AnalysisError> {
    runs.iter()
        .find(|run| run.summary.label == label)
        .ok_or_else(|| AnalysisError::invalid(format!("no input run labelled {label:?}")))
}

/// The runs of one group, in plan order.
pub fn runs_in_group<'a>(runs: &'a [LoadedRun], group: &str) -> Vec<&'a LoadedRun> {
    runs.iter()
        .filter(|run| run.summary.group == group)
        .collect()
}

/// The C-ODE solution of a uniform or per-coordinate init on [0, tau_end].
pub fn c_ode(
    mu: &[f64],
    alpha: &[f64],
    rho: f64,
    tau_end: f64,
) -> Result<CSolution, AnalysisError> {
    let config = L2Config::new(mu, alpha, rho)?;
    Ok(solve_c_ode(&config, &COdeOptions::until(tau_end))?)
}

/// `n` points of τ ↦ f(τ) on [0, tau_end] (for dashed theory overlays).
pub fn sample(tau_end: f64, n: usize, f: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
    (0..=n)
        .map(|i| {
            let tau = tau_end * i as f64 / n as f64;
            (tau, f(tau))
        })
        .collect()
}

/// Format a dominant sequence 1-based as in the paper: "2→3→4→5".
pub fn sequence_text(first: usize, switches: impl IntoIterator<Item = usize>) -> String {
    let mut text = (first + 1).to_string();
    for to in switches {
        text.push('→');
        text.push_str(&(to + 1).to_string());
    }
    text
}

/// The predicted dominant sequence of a C-ODE solution (1-based text) and its switches.
pub fn predicted_sequence(solution: &CSolution) -> (String, Vec<Switch>) {
    let (first, switches) = solution.dominant_sequence();
    (
        sequence_text(first, switches.iter().map(|s| s.to)),
        switches,
    )
}

/// The measured dominant sequence of a logged run (1-based text).
pub fn run_sequence(rows: &[Row], switches: &[MeasuredSwitch]) -> String {
    let first = rows
        .get(first_untied(rows))
        .map_or(0, |row| dominant(&row.beta));
    sequence_text(first, switches.iter().map(|s| s.to))
}

/// The negative control of a dominant-sequence claim: the control run's measured sequence (1-based
/// text) and whether it differs from the sequence predicted for SAM.
pub fn sequence_control(control: &LoadedRun, predicted_text: &str) -> (String, bool) {
    let text = run_sequence(&control.rows, &measured_switches(&control.rows));
    let differs = text != predicted_text;
    (format!("sequence {text}"), differs)
}

/// Every training input with the inline μ it trained on (empty when it used a `data.*` input).
pub fn load_runs_with_mu(
    ctx: &TaskContext<'_>,
) -> Result<Vec<(LoadedRun, Vec<f64>)>, AnalysisError> {
    ctx.inputs
        .iter()
        .filter(|input| input.kind.starts_with("train."))
        .map(|input| {
            let mu = input
                .params
                .get("mu")
                .and_then(|mu| serde_json::from_value::<Vec<f64>>(mu.clone()).ok())
                .unwrap_or_default();
            Ok((load_run(input)?, mu))
        })
        .collect()
}

/// An optional number for claim texts: the value with `digits` decimals, or "none".
pub fn fmt_opt(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "none".to_string(), |v| format!("{v:.digits$}"))
}

/// β_j/‖β‖ points of coordinate j against τ.
pub fn direction_series(rows: &[Row], j: usize) -> Vec<(f64, f64)> {
    rows.iter()
        .map(|row| {
            let norm = row.beta.iter().map(|b| b * b).sum::<f64>().sqrt();
            (row.tau, row.beta[j] / norm)
        })
        .collect()
}

/// Dominant index (1-based, as a float for plotting) against τ.
pub fn dominant_series(rows: &[Row]) -> Vec<(f64, f64)> {
    rows.iter()
        .map(|row| (row.tau, (dominant(&row.beta) + 1) as f64))
        .collect()
}

/// Convert a figures error into the crate error (figures are part of the task's result).
pub fn figure_error(error: figures::FigureError) -> AnalysisError {
    AnalysisError::invalid(format!("failed to render a figure: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(tau: f64, beta: Vec<f64>) -> Row {
        Row {
            step: (tau * 1000.0) as u64,
            time: tau,
            tau,
            loss: 0.0,
            beta,
        }
    }

    #[test]
    fn switch_is_interpolated_in_log_ratio() {
        // ln(β_1/β_0) goes from −1 to +1 linearly in τ between τ = 1 and τ = 2: crossing at 1.5 exactly.
        // A tied first row (uniform init at step 0) has no dominant coordinate and is skipped.
        let rows = vec![
            row(0.0, vec![1.0, 1.0]),
            row(1.0, vec![1.0, (-1.0f64).exp()]),
            row(2.0, vec![1.0, 1.0f64.exp()]),
        ];
        let switches = measured_switches(&rows);
        assert_eq!(switches.len(), 1);
        assert_eq!((switches[0].from, switches[0].to), (0, 1));
        assert!((switches[0].tau - 1.5).abs() < 1e-15);
        assert_eq!(run_sequence(&rows, &switches), "1→2");
    }

    #[test]
    fn big_c_is_recovered_exactly_from_the_closed_form() {
        // β built from the B5.2 closed form with C = 0.37 must give back 0.37 to rounding (1e−12).
        let mu: [f64; 3] = [1.0, 2.0, 3.0];
        let alpha: [f64; 3] = [0.5, 0.4, 0.3];
        let (tau, big_c): (f64, f64) = (1.3, 0.37);
        let beta: Vec<f64> = (0..3)
            .map(|j| alpha[j] * alpha[j] * (2.0 * mu[j] * tau - 2.0 * mu[j] * mu[j] * big_c).exp())
            .collect();
        assert!((recovered_big_c(&beta, &mu, &alpha, tau) - big_c).abs() < 1e-12);
    }

    #[test]
    fn cosine_and_sequence_text() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 1.0]) - 0.5f64.sqrt()).abs() < 1e-15);
        assert_eq!(sequence_text(1, [2, 3, 4]), "2→3→4→5");
    }
}
