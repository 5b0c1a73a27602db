//! Closed forms and exact reductions of the paper's theory (spec B4–B6), used as test oracles and predictions.

pub mod gd;
pub mod l2;
pub mod linf;
pub mod regimes;
