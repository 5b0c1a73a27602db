//! An adaptive Dormand–Prince 5(4) integrator with dense output and finite-time blow-up detection.
//!
//! Written here rather than taken from `ode_solvers` 0.6: that crate has no event or blow-up detection
//! and its dense output stops at the last grid point ≤ t_end, while the SAM flows need output at
//! arbitrary requested times and must report a finite-time blow-up (ℓ∞-SAM/GD at L ≥ 3) as a result.
//! Step control follows Hairer–Nørsett–Wanner (DOPRI5): error of the embedded 4th-order solution in the
//! mixed rtol/atol RMS norm, factor 0.9·err^(−1/5) clamped to [0.2, 10]; output between steps uses the
//! 4th-order continuous extension of the same stages (no extra RHS calls).
//!
//! The Dormand–Prince tableau lives only here: the crate-private `dopri_step` takes one step on a slice
//! state and is also the step of the scalar ℓ2 C-ODE solver in [`crate::theory::l2`], which keeps its own
//! step control.

use crate::error::NumericsError;

/// Integrator settings. `Default`: rtol = 1e−9, atol = 1e−12, 10⁶ steps, norm cap 1e100.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OdeOptions {
    pub rtol: f64,
    pub atol: f64,
    /// Bound on accepted + rejected steps; reaching it ends the run with [`OdeStatus::MaxSteps`].
    pub max_steps: usize,
    /// First trial step (None: Hairer's heuristic).
    pub initial_step: Option<f64>,
    /// ‖y‖∞ above this is reported as [`OdeStatus::BlowUp`].
    pub norm_cap: f64,
}

impl Default for OdeOptions {
    fn default() -> Self {
        Self {
            rtol: 1e-9,
            atol: 1e-12,
            max_steps: 1_000_000,
            initial_step: None,
            norm_cap: 1e100,
        }
    }
}

/// How the integration ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OdeStatus {
    /// Reached the last requested time.
    Completed,
    /// ‖y‖∞ exceeded the cap, the state stopped being finite, or the step size collapsed to rounding
    /// level of t — all signs of a finite-time singularity at ≈ t.
    BlowUp { t: f64 },
    /// The step budget ran out at t.
    MaxSteps { t: f64 },
}

/// Output at the requested times reached before the integration ended.
#[derive(Debug, Clone, PartialEq)]
pub struct OdeSolution {
    pub times: Vec<f64>,
    pub states: Vec<Vec<f64>>,
    pub status: OdeStatus,
    /// The last time reached by an accepted step.
    pub t_reached: f64,
    pub accepted_steps: usize,
    pub rejected_steps: usize,
}

const C2: f64 = 1.0 / 5.0;
const C3: f64 = 3.0 / 10.0;
const C4: f64 = 4.0 / 5.0;
const C5: f64 = 8.0 / 9.0;
const A21: f64 = 1.0 / 5.0;
const A31: f64 = 3.0 / 40.0;
const A32: f64 = 9.0 / 40.0;
const A41: f64 = 44.0 / 45.0;
const A42: f64 = -56.0 / 15.0;
const A43: f64 = 32.0 / 9.0;
const A51: f64 = 19372.0 / 6561.0;
const A52: f64 = -25360.0 / 2187.0;
const A53: f64 = 64448.0 / 6561.0;
const A54: f64 = -212.0 / 729.0;
const A61: f64 = 9017.0 / 3168.0;
const A62: f64 = -355.0 / 33.0;
const A63: f64 = 46732.0 / 5247.0;
const A64: f64 = 49.0 / 176.0;
const A65: f64 = -5103.0 / 18656.0;
const A71: f64 = 35.0 / 384.0;
const A73: f64 = 500.0 / 1113.0;
const A74: f64 = 125.0 / 192.0;
const A75: f64 = -2187.0 / 6784.0;
const A76: f64 = 11.0 / 84.0;
const E1: f64 = 71.0 / 57600.0;
const E3: f64 = -71.0 / 16695.0;
const E4: f64 = 71.0 / 1920.0;
const E5: f64 = -17253.0 / 339200.0;
const E6: f64 = 22.0 / 525.0;
const E7: f64 = -1.0 / 40.0;
const D1: f64 = -12715105075.0 / 11282082432.0;
const D3: f64 = 87487479700.0 / 32700410799.0;
const D4: f64 = -10690763975.0 / 1880347072.0;
const D5: f64 = 701980252875.0 / 199316789632.0;
const D6: f64 = -1453857185.0 / 822651844.0;
const D7: f64 = 69997945.0 / 29380423.0;

/// Integrate y′ = f(t, y) from (t0, y0) and return y at each of `output_times` (sorted, ≥ t0); the
/// integration ends at the last output time. Singularities and exhausted budgets are statuses.
pub fn integrate<F>(
    mut f: F,
    t0: f64,
    y0: &[f64],
    output_times: &[f64],
    options: &OdeOptions,
) -> Result<OdeSolution, NumericsError>
where
    F: FnMut(f64, &[f64], &mut [f64]),
{
    validate(t0, y0, output_times, options)?;
    let n = y0.len();
    let mut solution = OdeSolution {
        times: Vec::with_capacity(output_times.len()),
        states: Vec::with_capacity(output_times.len()),
        status: OdeStatus::Completed,
        t_reached: t0,
        accepted_steps: 0,
        rejected_steps: 0,
    };
    let mut next_out = 0;
    while next_out < output_times.len() && output_times[next_out] <= t0 {
        solution.times.push(output_times[next_out]);
        solution.states.push(y0.to_vec());
        next_out += 1;
    }
    let Some(&t_end) = output_times.last() else {
        return Ok(solution);
    };
    if next_out == output_times.len() {
        return Ok(solution);
    }

    let mut y = y0.to_vec();
    let mut k = [(); 7].map(|_| vec![0.0; n]);
    let mut stage = vec![0.0; n];
    let mut y_new = vec![0.0; n];
    let mut err = vec![0.0; n];
    let mut cont = [(); 5].map(|_| vec![0.0; n]);
    let mut t = t0;
    f(t, &y, &mut k[0]);
    let mut h = match options.initial_step {
        Some(h) => h,
        None => initial_step(&mut f, t, &y, &k[0], options, &mut stage, &mut y_new),
    }
    .min(t_end - t0);
    let mut steps = 0usize;

    loop {
        if steps >= options.max_steps {
            solution.status = OdeStatus::MaxSteps { t };
            break;
        }
        // The step is judged collapsed once it cannot advance t by more than a few ulps.
        if h <= 16.0 * f64::EPSILON * t.abs().max(1.0) {
            solution.status = OdeStatus::BlowUp { t };
            break;
        }
        steps += 1;
        let last = t + h >= t_end;
        if last {
            h = t_end - t;
        }
        dopri_step(&mut f, t, h, &y, &mut k, &mut stage, &mut y_new, &mut err);
        let mut sum = 0.0;
        for i in 0..n {
            let scale = options.atol + options.rtol * y[i].abs().max(y_new[i].abs());
            sum += (err[i] / scale).powi(2);
        }
        let err_norm = (sum / n as f64).sqrt();
        if !err_norm.is_finite() {
            solution.rejected_steps += 1;
            h *= 0.2;
            continue;
        }
        if err_norm > 1.0 {
            solution.rejected_steps += 1;
            h *= (0.9 * err_norm.powf(-0.2)).clamp(0.2, 1.0);
            continue;
        }
        // Accepted: build the continuous extension before overwriting y.
        for i in 0..n {
            let ydiff = y_new[i] - y[i];
            let bspl = h * k[0][i] - ydiff;
            cont[0][i] = y[i];
            cont[1][i] = ydiff;
            cont[2][i] = bspl;
            cont[3][i] = ydiff - h * k[6][i] - bspl;
            cont[4][i] = h
                * (D1 * k[0][i]
                    + D3 * k[2][i]
                    + D4 * k[3][i]
                    + D5 * k[4][i]
                    + D6 * k[5][i]
                    + D7 * k[6][i]);
        }
        let t_new = if last { t_end } else { t + h };
        while next_out < output_times.len() && output_times[next_out] <= t_new {
            let theta = ((output_times[next_out] - t) / h).clamp(0.0, 1.0);
            let theta1 = 1.0 - theta;
            let state: Vec<f64> = (0..n)
                .map(|i| {
                    cont[0][i]
                        + theta
                            * (cont[1][i]
                                + theta1
                                    * (cont[2][i] + theta * (cont[3][i] + theta1 * cont[4][i])))
                })
                .collect();
            solution.times.push(output_times[next_out]);
            solution.states.push(state);
            next_out += 1;
        }
        t = t_new;
        std::mem::swap(&mut y, &mut y_new);
        // FSAL: the last stage is f at the new point.
        k.swap(0, 6);
        solution.accepted_steps += 1;
        solution.t_reached = t;
        if y.iter().fold(0.0_f64, |m, v| m.max(v.abs())) > options.norm_cap {
            solution.status = OdeStatus::BlowUp { t };
            break;
        }
        if next_out == output_times.len() {
            break;
        }
        let factor = if err_norm == 0.0 {
            10.0
        } else {
            (0.9 * err_norm.powf(-0.2)).clamp(0.2, 10.0)
        };
        h *= factor;
    }
    Ok(solution)
}

/// One Dormand–Prince 5(4) step of y′ = f(t, y) from (t, y) with `k[0]` = f(t, y) already known: fills
/// `k[1..7]` with the stages, `k[6]` = f(t + h, y_new) (first same as last: the next step's `k[0]`),
/// `y_new` with the 5th-order solution and `err` with h Σ_i e_i k_i (5th minus embedded 4th order);
/// `stage` is work space. All slices have the state's length. This is the only copy of the tableau:
/// [`integrate`] (stages in `Vec`s) and the scalar C-ODE of [`crate::theory::l2`] (stages in `[f64; 1]`,
/// so the loops fold to scalar code) both step through it and keep their own step control. Nothing is
/// checked here; a non-finite stage propagates to `y_new` and `err` for the caller to judge.
#[allow(clippy::too_many_arguments)]
pub(crate) fn dopri_step<F, S>(
    f: &mut F,
    t: f64,
    h: f64,
    y: &[f64],
    k: &mut [S; 7],
    stage: &mut [f64],
    y_new: &mut [f64],
    err: &mut [f64],
) where
    F: FnMut(f64, &[f64], &mut [f64]),
    S: AsRef<[f64]> + AsMut<[f64]>,
{
    let n = y.len();
    for i in 0..n {
        stage[i] = y[i] + h * A21 * k[0].as_ref()[i];
    }
    f(t + C2 * h, stage, k[1].as_mut());
    for i in 0..n {
        stage[i] = y[i] + h * (A31 * k[0].as_ref()[i] + A32 * k[1].as_ref()[i]);
    }
    f(t + C3 * h, stage, k[2].as_mut());
    for i in 0..n {
        stage[i] =
            y[i] + h * (A41 * k[0].as_ref()[i] + A42 * k[1].as_ref()[i] + A43 * k[2].as_ref()[i]);
    }
    f(t + C4 * h, stage, k[3].as_mut());
    for i in 0..n {
        stage[i] = y[i]
            + h * (A51 * k[0].as_ref()[i]
                + A52 * k[1].as_ref()[i]
                + A53 * k[2].as_ref()[i]
                + A54 * k[3].as_ref()[i]);
    }
    f(t + C5 * h, stage, k[4].as_mut());
    for i in 0..n {
        stage[i] = y[i]
            + h * (A61 * k[0].as_ref()[i]
                + A62 * k[1].as_ref()[i]
                + A63 * k[2].as_ref()[i]
                + A64 * k[3].as_ref()[i]
                + A65 * k[4].as_ref()[i]);
    }
    f(t + h, stage, k[5].as_mut());
    for i in 0..n {
        y_new[i] = y[i]
            + h * (A71 * k[0].as_ref()[i]
                + A73 * k[2].as_ref()[i]
                + A74 * k[3].as_ref()[i]
                + A75 * k[4].as_ref()[i]
                + A76 * k[5].as_ref()[i]);
    }
    f(t + h, y_new, k[6].as_mut());
    for (i, err) in err.iter_mut().enumerate() {
        *err = h
            * (E1 * k[0].as_ref()[i]
                + E3 * k[2].as_ref()[i]
                + E4 * k[3].as_ref()[i]
                + E5 * k[4].as_ref()[i]
                + E6 * k[5].as_ref()[i]
                + E7 * k[6].as_ref()[i]);
    }
}

/// Hairer's starting-step heuristic (HNW I, II.4): balance ‖y‖ against ‖f‖ and a second derivative.
fn initial_step<F: FnMut(f64, &[f64], &mut [f64])>(
    f: &mut F,
    t: f64,
    y: &[f64],
    f0: &[f64],
    options: &OdeOptions,
    y1: &mut [f64],
    f1: &mut [f64],
) -> f64 {
    let n = y.len() as f64;
    let scale = |i: usize| options.atol + options.rtol * y[i].abs();
    let d0 = (y
        .iter()
        .enumerate()
        .map(|(i, v)| (v / scale(i)).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    let d1 = (f0
        .iter()
        .enumerate()
        .map(|(i, v)| (v / scale(i)).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    let h0 = if d0 < 1e-5 || d1 < 1e-5 {
        1e-6
    } else {
        0.01 * d0 / d1
    };
    for i in 0..y.len() {
        y1[i] = y[i] + h0 * f0[i];
    }
    f(t + h0, y1, f1);
    let d2 = (f1
        .iter()
        .zip(f0)
        .enumerate()
        .map(|(i, (a, b))| ((a - b) / scale(i)).powi(2))
        .sum::<f64>()
        / n)
        .sqrt()
        / h0;
    let h1 = if d1.max(d2) <= 1e-15 {
        (h0 * 1e-3).max(1e-6)
    } else {
        (0.01 / d1.max(d2)).powf(0.2)
    };
    let h = (100.0 * h0).min(h1);
    if h.is_finite() && h > 0.0 { h } else { 1e-6 }
}

fn validate(
    t0: f64,
    y0: &[f64],
    output_times: &[f64],
    options: &OdeOptions,
) -> Result<(), NumericsError> {
    if !t0.is_finite() || y0.iter().any(|v| !v.is_finite()) {
        return Err(NumericsError::invalid(
            "ode initial value",
            "t0 and y0 must be finite",
        ));
    }
    if output_times.iter().any(|t| !t.is_finite()) || output_times.windows(2).any(|w| w[1] < w[0]) {
        return Err(NumericsError::invalid(
            "output times",
            "must be finite and sorted ascending",
        ));
    }
    if !(options.rtol > 0.0 && options.atol >= 0.0 && options.norm_cap > 0.0) {
        return Err(NumericsError::invalid(
            "ode options",
            "need rtol > 0, atol ≥ 0, norm_cap > 0",
        ));
    }
    if let Some(h) = options.initial_step
        && !(h.is_finite() && h > 0.0)
    {
        return Err(NumericsError::invalid(
            "ode options",
            "initial step must be positive",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_matches_closed_form() {
        // y' = -2y, y(0) = 1. With rtol 1e-10 the global error of DOPRI5 stays within a small multiple
        // of rtol per unit time; 1e-9 relative at t ≤ 3 leaves a 10× margin.
        let times = [0.0, 0.37, 1.0, 2.2, 3.0];
        let options = OdeOptions {
            rtol: 1e-10,
            atol: 1e-14,
            ..Default::default()
        };
        let sol = integrate(
            |_, y, dy| dy[0] = -2.0 * y[0],
            0.0,
            &[1.0],
            &times,
            &options,
        )
        .unwrap();
        assert_eq!(sol.status, OdeStatus::Completed);
        assert_eq!(sol.times, times);
        for (t, y) in sol.times.iter().zip(&sol.states) {
            let exact = (-2.0 * t).exp();
            assert!(
                (y[0] / exact - 1.0).abs() < 1e-9,
                "t = {t}: {} vs {exact}",
                y[0]
            );
        }
    }

    #[test]
    fn harmonic_oscillator_dense_output() {
        // y'' = -y: dense output at many interior points (4th-order interpolant, local error well below
        // the step tolerance) must match cos/sin to 1e-8 with rtol = atol = 1e-10 over 2 periods.
        let times: Vec<f64> = (0..=100).map(|i| 0.1257 * i as f64).collect();
        let options = OdeOptions {
            rtol: 1e-10,
            atol: 1e-10,
            ..Default::default()
        };
        let sol = integrate(
            |_, y, dy| {
                dy[0] = y[1];
                dy[1] = -y[0];
            },
            0.0,
            &[1.0, 0.0],
            &times,
            &options,
        )
        .unwrap();
        assert_eq!(sol.states.len(), times.len());
        for (t, y) in sol.times.iter().zip(&sol.states) {
            assert!(
                (y[0] - t.cos()).abs() < 1e-8 && (y[1] + t.sin()).abs() < 1e-8,
                "t = {t}"
            );
        }
        assert!(
            sol.accepted_steps < 2000,
            "dense output must not force tiny steps"
        );
    }

    #[test]
    fn quadratic_blow_up_is_reported_near_one_over_y0() {
        // y' = y², y(0) = 2 blows up at t* = 1/2. With the cap 1e12, y = 1/(t* − t) crosses it at
        // t* − 1e-12, so the reported time must be within 1e-6 of t* (allowing the last step's overshoot).
        let options = OdeOptions {
            norm_cap: 1e12,
            ..Default::default()
        };
        let sol = integrate(
            |_, y, dy| dy[0] = y[0] * y[0],
            0.0,
            &[2.0],
            &[0.25, 5.0],
            &options,
        )
        .unwrap();
        let OdeStatus::BlowUp { t } = sol.status else {
            panic!("expected blow-up, got {:?}", sol.status)
        };
        assert!((t - 0.5).abs() < 1e-6, "blow-up at {t}");
        assert_eq!(sol.times, vec![0.25]);
        assert!((sol.states[0][0] - 4.0).abs() < 1e-7);
        // Without a cap the step-size collapse reports it instead.
        let uncapped = OdeOptions {
            norm_cap: f64::INFINITY,
            ..Default::default()
        };
        let sol = integrate(
            |_, y, dy| dy[0] = y[0] * y[0],
            0.0,
            &[2.0],
            &[5.0],
            &uncapped,
        )
        .unwrap();
        let OdeStatus::BlowUp { t } = sol.status else {
            panic!("expected blow-up, got {:?}", sol.status)
        };
        assert!((t - 0.5).abs() < 1e-6, "blow-up at {t}");
    }

    #[test]
    fn dopri_step_matches_quadrature_and_the_stability_polynomial() {
        // For y′ = f(t) a step is a quadrature rule. Independent derivation: the 5th-order weights integrate
        // polynomials of degree ≤ 4 exactly and the embedded 4th-order ones degree ≤ 3, so for f = t³ − 2t
        // the error estimate vanishes, and for f = t⁴ it is h⁵ Σ_i e_i c_i⁴ = h⁵ · 71/270000 (exact
        // rational arithmetic on the tableau). Values are O(1), so 1e−14 bounds the rounding.
        let (t, h) = (0.3, 0.5);
        let rhs = |s: f64, _: &[f64], dy: &mut [f64]| {
            // Products rather than powi, whose rounding may differ between folded and run-time calls.
            dy[0] = s * s * s * s;
            dy[1] = s * s * s - 2.0 * s;
        };
        let y = [1.0, -0.5];
        let mut k = [(); 7].map(|_| vec![0.0; 2]);
        let mut f = rhs;
        f(t, &y, &mut k[0]);
        let (mut stage, mut y_new, mut err) = ([0.0; 2], [0.0; 2], [0.0; 2]);
        dopri_step(&mut f, t, h, &y, &mut k, &mut stage, &mut y_new, &mut err);
        let quartic = ((t + h).powi(5) - t.powi(5)) / 5.0;
        let cubic = |s: f64| s.powi(4) / 4.0 - s * s;
        assert!((y_new[0] - (y[0] + quartic)).abs() < 1e-14, "{y_new:?}");
        assert!((y_new[1] - (y[1] + cubic(t + h) - cubic(t))).abs() < 1e-14);
        assert!(
            (err[0] - h.powi(5) * 71.0 / 270000.0).abs() < 1e-14,
            "{err:?}"
        );
        assert!(err[1].abs() < 1e-14, "{err:?}");
        // FSAL: the last stage is f at the new point.
        let mut end = [0.0; 2];
        f(t + h, &y_new, &mut end);
        assert_eq!(k[6], end);
        // The scalar storage of the C-ODE takes the same operations: identical bits.
        let mut k_scalar = [[0.0]; 7];
        let mut f_scalar = |s: f64, _: &[f64], dy: &mut [f64]| dy[0] = s * s * s * s;
        f_scalar(t, &y[..1], &mut k_scalar[0]);
        let (mut stage, mut y_scalar, mut err_scalar) = ([0.0], [0.0], [0.0]);
        dopri_step(
            &mut f_scalar,
            t,
            h,
            &y[..1],
            &mut k_scalar,
            &mut stage,
            &mut y_scalar,
            &mut err_scalar,
        );
        assert_eq!((y_scalar[0], err_scalar[0]), (y_new[0], err[0]));
        // The coupling coefficients a_ij: on y′ = y a step multiplies y by the method's stability
        // polynomial, 1 + h + … + h⁵/120 + h⁶/600 for DOPRI5 (order 5, and the h⁶ coefficient b_6 a_65 a_54
        // a_43 a_32 a_21 = 1/600 by exact rational arithmetic).
        let mut linear = |_: f64, y: &[f64], dy: &mut [f64]| dy[0] = y[0];
        let mut k = [[1.0]; 7];
        let (mut stage, mut y_lin, mut err_lin) = ([0.0], [0.0], [0.0]);
        dopri_step(
            &mut linear,
            0.0,
            h,
            &[1.0],
            &mut k,
            &mut stage,
            &mut y_lin,
            &mut err_lin,
        );
        let polynomial =
            1.0 + h + h * h / 2.0 + h.powi(3) / 6.0 + h.powi(4) / 24.0 + h.powi(5) / 120.0;
        assert!(
            (y_lin[0] - (polynomial + h.powi(6) / 600.0)).abs() < 1e-14,
            "{y_lin:?}"
        );
    }

    #[test]
    fn step_budget_is_a_status() {
        let options = OdeOptions {
            max_steps: 5,
            ..Default::default()
        };
        let sol = integrate(|_, y, dy| dy[0] = y[0], 0.0, &[1.0], &[100.0], &options).unwrap();
        assert!(matches!(sol.status, OdeStatus::MaxSteps { .. }));
    }

    #[test]
    fn rejects_unsorted_times() {
        let err = integrate(
            |_, _, _| {},
            0.0,
            &[1.0],
            &[2.0, 1.0],
            &OdeOptions::default(),
        );
        assert!(err.is_err());
    }
}
