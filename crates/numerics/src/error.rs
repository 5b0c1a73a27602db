//! The crate's one error type. Non-convergence and blow-up are results, not errors; these are
//! invalid inputs and solver failures.

/// Errors of the numerical core. Messages are lowercase fragments that fit `failed to …: <msg>`.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum NumericsError {
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    #[error("dataset is not linearly separable{detail}")]
    NotSeparable { detail: String },
    #[error("solver failed: {0}")]
    Solver(String),
}

impl NumericsError {
    /// Shorthand for an invalid-argument error.
    pub fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            what,
            reason: reason.into(),
        }
    }
}
