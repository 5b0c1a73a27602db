//! §3 kinds that compute: the phase grid over (α, ρ) (`sec3.phase_grid`).

pub mod phase;
