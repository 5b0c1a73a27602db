//! The numerical core of minorfirst: L-layer linear diagonal networks β = w⁽¹⁾ ⊙ … ⊙ w⁽ᴸ⁾ trained on
//! the mean logistic loss by GD, ℓ∞-SAM, ℓ2-SAM and USAM (discrete, and as flows), the closed forms of the
//! paper's theory, and ℓ1/ℓ2 max-margin solvers, and a two-layer ReLU network ([`relu`]). Pure: no IO, f64 throughout.
//! Conventions: ../../shared/paper/README.md (sign(0) = 0, joint ℓ2 norm, mean loss, rescaled clock).

pub mod dataset;
pub mod error;
pub mod fastexp;

pub use dataset::Dataset;
pub use error::NumericsError;
pub mod flow;
pub mod generate;
pub mod maxmargin;
pub mod model;
pub mod ode;
pub mod optim;
pub mod relu;
pub mod stats;
pub mod sweep;
pub mod theory;
pub mod trajectory;
