//! What the training kinds do with a run that stopped on a non-finite value: fail the task, saying
//! where and with which settings.

use numerics::trajectory::StopReason;

use crate::error::AnalysisError;

/// `x` for messages, shortest round-trip form: `0.01`, `0`, and `1e300` / `1e-5` for the extremes
/// (plain `{}` would spell out all 301 digits of 1e300).
pub fn number(x: f64) -> String {
    if x != 0.0 && x.is_finite() && !(1e-4..1e6).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// A discrete run that stopped because a value overflowed is not a result: the task fails with the
/// step and the run's `settings` (the engine adds the stage), instead of storing a trajectory whose
/// consumers would read a silent stop or trip over a non-finite number.
pub fn refuse_non_finite(stop: StopReason, settings: &str) -> Result<(), AnalysisError> {
    match stop {
        StopReason::NonFinite { step } => Err(AnalysisError::invalid(format!(
            "training diverged at step {step}: a weight, β, τ or the loss is no longer finite \
             ({settings}); lower lr, or set beta_cap to stop such runs on purpose"
        ))),
        StopReason::Completed | StopReason::BetaCap { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_non_finite_stop_is_an_error_and_it_names_step_and_settings() {
        assert!(refuse_non_finite(StopReason::Completed, "x").is_ok());
        assert!(refuse_non_finite(StopReason::BetaCap { step: 3 }, "x").is_ok());
        let error = refuse_non_finite(StopReason::NonFinite { step: 7 }, "lr 1e300")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("step 7") && error.contains("lr 1e300"),
            "{error}"
        );
        assert_eq!(
            (number(1e300), number(0.01)),
            ("1e300".into(), "0.01".into())
        );
    }
}
